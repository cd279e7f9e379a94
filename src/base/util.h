/* src/base/util.h: time, randomness, ids, encoding helpers. */
#ifndef MG_UTIL_H
#define MG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "base/err.h"
#include "base/slice.h"

/* Wall clock in seconds / milliseconds since the epoch. A test may pin it. */
int64_t mg_now(void);
int64_t mg_now_ms(void);
void mg_time_pin(int64_t epoch_seconds); /* 0 unpins */
/* Monotonic nanoseconds. */
uint64_t mg_mono_ns(void);

/* "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL). */
void mg_time_iso8601(int64_t t, char out[21]);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (25 bytes with NUL). */
void mg_time_iso8601_ms(int64_t t_ms, char out[25]);
/* "YYYYMMDDTHHMMSSZ" (17 bytes with NUL). */
void mg_time_amz(int64_t t, char out[17]);
/* Parses "YYYYMMDDTHHMMSSZ". */
bool mg_time_parse_amz(struct mg_slice s, int64_t *out);
/* Parses ISO 8601 / RFC 3339 ("2026-11-27T12:00:00Z", fractional seconds and offsets allowed,
 * also a bare date "2026-11-27"). */
bool mg_time_parse_iso8601(struct mg_slice s, int64_t *out);
/* Civil date to epoch seconds (UTC), no libc timezone. */
int64_t mg_time_from_civil(int y, int mon, int d, int h, int mi, int s);

/* Cryptographically secure random bytes; aborts if the kernel refuses. */
void mg_random_bytes(void *out, size_t n);
/* n random characters from alphabet (NUL-terminated by caller's buffer of n+1). */
void mg_random_chars(char *out, size_t n, const char *alphabet);
#define MG_ALPHA_LOWER_NUM "abcdefghijklmnopqrstuvwxyz0123456789"
#define MG_ALPHA_UPPER_NUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/* A request id like AWS's: 8-4-4-4-12 lower-case hex (37 bytes with NUL). */
void mg_request_id(char out[37]);

/* Base64 (standard alphabet with padding). Decoding ignores nothing: any bad byte fails. */
MG_MUST_USE enum mg_err mg_base64_encode(struct mg_buf *out, struct mg_slice in);
MG_MUST_USE enum mg_err mg_base64_decode(struct mg_buf *out, struct mg_slice in);
/* base64url without padding */
MG_MUST_USE enum mg_err mg_base64url_encode(struct mg_buf *out, struct mg_slice in);
MG_MUST_USE enum mg_err mg_base64url_decode(struct mg_buf *out, struct mg_slice in);

/* Percent-decoding (%XX only, '+' stays '+' unless plus_is_space). */
MG_MUST_USE enum mg_err mg_url_decode(struct mg_buf *out, struct mg_slice in, bool plus_is_space);
/* Percent-encoding of everything but A-Z a-z 0-9 - _ . ~ (upper-case hex); keeps '/' if keep_slash. */
MG_MUST_USE enum mg_err mg_url_encode(struct mg_buf *out, struct mg_slice in, bool keep_slash);

/* True when host (an address as given to --listen, IPv6 optionally in brackets, or
 * "localhost") is a loopback address: 127.0.0.0/8, ::1 or localhost. */
bool mg_host_is_loopback(const char *host);

/* Reads the next whitespace-separated decimal integer (an optional '-' and digits) of f into
 * *out: false at the end of f, and on a word that is not such a number or does not fit a long
 * (that word is consumed). For /proc and cgroup files, without scanf's unchecked conversions. */
bool mg_read_long(FILE *f, long *out);

#endif
