/* src/sigv4/sigv4_internal.h: what the sigv4 files share, and what its tests may reach. */
#ifndef MG_SIGV4_INTERNAL_H
#define MG_SIGV4_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "sigv4/sigv4.h"

#define MG_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define MG_SIGV4A_ALGORITHM "AWS4-ECDSA-P256-SHA256"
#define MG_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Per-thread scratch: the canonical request is built here on the verification path, so that
 * verification does not touch the allocator once the thread has warmed up. */
struct mg_sigv4_tls {
    struct mg_buf creq;
    struct mg_buf scratch;
};
/* The calling thread's scratch and crypto contexts (created on first use); NULL on OOM. */
struct mg_sigv4_tls *mg_sigv4_tls_get(void);

/* HMAC-SHA256 (on OpenSSL's low-level SHA-256, see crypto.c; mg_sigv4_sha256 is in sigv4.h).
 * Never fails: the bool is kept for callers that check it. */
MG_MUST_USE bool mg_sigv4_hmac(const uint8_t *key, size_t key_len, struct mg_slice msg,
                               uint8_t out[32]);

/* An HMAC-SHA256 key in its precomputed form: the SHA-256 chaining states after the one padded key
 * block (key ^ ipad, key ^ opad). As secret as the key itself. */
struct mg_sigv4_hmac_key {
    uint32_t inner[8], outer[8];
};
void mg_sigv4_hmac_key_init(struct mg_sigv4_hmac_key *k, const uint8_t *key, size_t key_len);

/* HMAC-SHA256 of the concatenation of parts: the message blocks plus one outer block. */
void mg_sigv4_hmac_parts(const struct mg_sigv4_hmac_key *k, const struct mg_slice *parts,
                         size_t n_parts, uint8_t out[32]);

/* Lower-case hex of a SHA-256 (table driven). */
void mg_sigv4_hex32(const uint8_t in[32], char out[64]);

/* Iterates over a SignedHeaders list, whose separator is ';' or, in a presigned query, "%3B".
 * Returns false at the end. */
bool mg_sigv4_next_signed_header(struct mg_slice *rest, struct mg_slice *name);

/* Flags for mg_sigv4_canonical_request_ex(). */
#define MG_SIGV4_CANON_OMIT_QUERY_TOKEN 1u /* presigned: X-Amz-Security-Token added after signing */

/* As mg_sigv4_canonical_request(); payload_hash (64 hex or a marker) may be given to skip
 * hashing the body. */
MG_MUST_USE enum mg_err mg_sigv4_canonical_request_ex(const struct mg_sigv4_request *req,
                                                      const struct mg_sigv4_auth *auth,
                                                      struct mg_slice payload_hash, unsigned flags,
                                                      struct mg_buf *out);

/* The verifier's canonical request, in one pass over SignedHeaders: appends to out what
 * mg_sigv4_canonical_request_ex(req, auth, payload_hash, 0, out) appends, while checking the list
 * as mg_sigv4_check_signed_headers() does. Returns INCOMPLETE (message in ei) for a bad list,
 * whatever else is wrong; else OK, with *err MG_E_OK or the error that stopped the build (limits:
 * TOO_LARGE, allocation: NOMEM), which the caller reports after its own earlier checks. */
enum mg_sigv4_status mg_sigv4_canonical_verify(const struct mg_sigv4_request *req,
                                               const struct mg_sigv4_auth *auth,
                                               struct mg_slice payload_hash, struct mg_buf *out,
                                               enum mg_err *err, struct mg_errinfo *ei);

/* Validates a SignedHeaders list: non-empty, lower case, sorted, no duplicates, host included,
 * every name present in the request. Returns OK or INCOMPLETE with a message in ei. */
enum mg_sigv4_status mg_sigv4_check_signed_headers(const struct mg_sigv4_request *req,
                                                   const struct mg_sigv4_auth *auth,
                                                   struct mg_errinfo *ei);

/* Looks a header up (ASCII case-insensitive); the first occurrence. */
bool mg_sigv4_header(const struct mg_sigv4_request *req, const char *name, struct mg_slice *value);

/* ASCII case-insensitive equality of two header names. */
bool mg_sigv4_name_ieq(struct mg_slice a, struct mg_slice b);

/* The string-to-sign's date line: X-Amz-Date as sent, or the Date header's time re-formatted. */
void mg_sigv4_amz_date(const struct mg_sigv4_auth *auth, char out[17]);

/* The string to sign, given the hex SHA-256 of the canonical request. */
MG_MUST_USE enum mg_err mg_sigv4_sts_from_hash(const struct mg_sigv4_auth *auth, const char hex[64],
                                               struct mg_buf *out);

/* Key cache lookup / insert of a signing key in its HMAC form; the secret is only fingerprinted,
 * never stored. */
bool mg_sigv4_key_cache_get(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                            struct mg_slice secret, struct mg_sigv4_hmac_key *key);
void mg_sigv4_key_cache_put(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                            struct mg_slice secret, const struct mg_sigv4_hmac_key *key);

/* The signing key for auth's scope, in its HMAC form: from the cache (may be NULL), else derived
 * and cached. False only when memory runs out (a secret longer than 256 bytes). */
MG_MUST_USE bool mg_sigv4_derive_key(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                                     struct mg_slice secret, struct mg_sigv4_hmac_key *key);

#endif
