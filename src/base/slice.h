/* src/base/slice.h: borrowed byte views and bounded owned buffers. */
#ifndef MG_SLICE_H
#define MG_SLICE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"

struct mg_slice {
    const uint8_t *ptr;
    size_t len;
};

/* A header or query parameter: name and value borrowed from the request bytes. */
struct mg_kv {
    struct mg_slice name, value;
};

struct mg_buf {
    uint8_t *ptr;
    size_t len, cap, max;
};

#define MG_SLICE_LIT(s) ((struct mg_slice){(const uint8_t *)(s), sizeof(s) - 1})
#define MG_SLICE_FMT "%.*s"
#define MG_SLICE_ARG(s) (int)((s).len > INT_MAX ? INT_MAX : (s).len), (const char *)(s).ptr

/* The short helpers below are inline: their callers mostly pass literals, whose length the
 * compiler then knows (no strlen call per request), and small fixed-size copies become moves. */
static inline struct mg_slice mg_slice_cstr(const char *s)
{
    return (struct mg_slice){(const uint8_t *)s, s ? strlen(s) : 0};
}
static inline struct mg_slice mg_slice_make(const void *p, size_t n)
{
    return (struct mg_slice){(const uint8_t *)p, n};
}
bool mg_slice_eq(struct mg_slice a, struct mg_slice b);
bool mg_slice_eq_cstr(struct mg_slice a, const char *s);
bool mg_slice_ieq_cstr(struct mg_slice a, const char *s); /* ASCII case-insensitive */
static inline bool mg_slice_starts_with(struct mg_slice a, const char *prefix)
{
    size_t n = strlen(prefix);
    return a.len >= n && (n == 0 || memcmp(a.ptr, prefix, n) == 0);
}
int mg_slice_cmp(struct mg_slice a, struct mg_slice b); /* bytewise, shorter first on tie */
/* false, in untouched, if n > len */
bool mg_slice_take(struct mg_slice *in, size_t n, struct mg_slice *out);
/* Splits at the first sep: out gets the part before, rest the part after. Without sep, out gets
 * everything and rest becomes empty; returns false only when rest was already empty. */
bool mg_slice_split(struct mg_slice *rest, uint8_t sep, struct mg_slice *out);
struct mg_slice mg_slice_trim(struct mg_slice s); /* spaces and tabs */
/* Index of c in s, or -1. */
long mg_slice_find(struct mg_slice s, uint8_t c);
struct mg_slice mg_slice_sub(struct mg_slice s, size_t off, size_t len);
/* Parses a non-negative decimal that fits in *out; false on anything else. */
bool mg_slice_to_u64(struct mg_slice s, uint64_t *out);

/* Constant-time: signatures, tokens, MACs. Length is not secret. */
bool mg_ct_equal(struct mg_slice a, struct mg_slice b);

void mg_buf_init(struct mg_buf *b, size_t max);
void mg_buf_cleanup(struct mg_buf *b);
void mg_buf_reset(struct mg_buf *b);
MG_MUST_USE enum mg_err mg_buf_reserve(struct mg_buf *b, size_t extra);
MG_MUST_USE enum mg_err mg_buf_append(struct mg_buf *b, const void *p, size_t n);
MG_MUST_USE enum mg_err mg_buf_append_slice(struct mg_buf *b, struct mg_slice s);
MG_MUST_USE static inline enum mg_err mg_buf_append_cstr(struct mg_buf *b, const char *s)
{
    return mg_buf_append(b, s, strlen(s));
}
MG_MUST_USE enum mg_err mg_buf_append_byte(struct mg_buf *b, uint8_t c);
MG_MUST_USE enum mg_err mg_buf_printf(struct mg_buf *b, const char *fmt, ...) MG_PRINTF(2, 3);
/* Decimal text of v, without printf. */
MG_MUST_USE enum mg_err mg_buf_append_i64(struct mg_buf *b, int64_t v);
/* XML text escaping (&, <, >, ", '). */
MG_MUST_USE enum mg_err mg_buf_append_xml(struct mg_buf *b, struct mg_slice s);
/* JSON string body escaping, without the quotes. Invalid UTF-8 becomes U+FFFD. */
MG_MUST_USE enum mg_err mg_buf_append_json_str(struct mg_buf *b, struct mg_slice s);
/* NUL-terminated view of the contents (reserves the byte; NULL on failure). */
const char *mg_buf_cstr(struct mg_buf *b);
static inline struct mg_slice mg_buf_slice(const struct mg_buf *b)
{
    return (struct mg_slice){b->ptr, b->len};
}
/* Moves the storage out; b is left empty. Caller frees with mg_free. */
uint8_t *mg_buf_take(struct mg_buf *b, size_t *len);

/* Duplicates as a NUL-terminated heap string (mg_free). NULL on failure. */
char *mg_slice_dup(struct mg_slice s);
char *mg_strdup(const char *s);

/* Lower-case hex of n bytes into out (2n bytes, not terminated). */
void mg_hex_encode(const uint8_t *in, size_t n, char *out);
bool mg_utf8_valid(struct mg_slice s);
/* Value of one hex digit (either case), or -1. */
static inline int mg_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* snprintf for names, paths, ARNs and keys: false, and out empty, when the result does not fit
 * in cap (or cap is 0), so that a caller answers "too large" instead of using a truncated one. */
MG_MUST_USE bool mg_fmt(char *out, size_t cap, const char *fmt, ...) MG_PRINTF(3, 4);

/* Raw memory helpers: the only place that calls memcpy/memmove/memcmp (scripts/check-source). */
static inline void mg_memcpy(void *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}
void mg_memmove(void *dst, const void *src, size_t n); /* regions may overlap */
static inline int mg_memcmp(const void *a, const void *b, size_t n)
{
    return n ? memcmp(a, b, n) : 0;
}
void mg_memzero(void *p, size_t n); /* not optimised away: for secrets */

#endif
