/* src/sigv4/sigv4.h: verify AWS Signature Version 4 on inbound requests, sign outbound ones.
 * Pure functions over borrowed request bytes. Never logs secrets or signatures. */
#ifndef MG_SIGV4_H
#define MG_SIGV4_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

/* What the verifier reads of a request. All bytes are as received on the wire. */
struct mg_sigv4_request {
    struct mg_slice method;
    struct mg_slice path;        /* raw path, without '?query' */
    struct mg_slice query;       /* raw query, without '?', may be empty */
    const struct mg_kv *headers; /* names lower-case; repeated names appear repeatedly */
    size_t n_headers;
    struct mg_slice body;
};

/* Why a request is refused. Zero is "not checked yet", never success by accident. */
enum mg_sigv4_status {
    MG_SIGV4_UNCHECKED = 0,
    MG_SIGV4_OK,
    MG_SIGV4_MISSING, /* no Authorization header and no X-Amz-Algorithm: MissingAuthenticationToken */
    MG_SIGV4_INCOMPLETE, /* malformed header / params / date: IncompleteSignature */
    MG_SIGV4_BAD_SCOPE, /* scope date, region, service, terminator: SignatureDoesNotMatch / InvalidSignatureException */
    MG_SIGV4_SKEW,          /* outside the clock window, or presigned URL expired */
    MG_SIGV4_MISMATCH,      /* signature differs */
    MG_SIGV4_UNKNOWN_KEY,   /* set by the caller's key lookup, not by this module */
    MG_SIGV4_EXPIRED_TOKEN, /* set by the caller's key lookup, not by this module */
    MG_SIGV4_UNSUPPORTED,   /* another algorithm (SigV4a) */
};

/* Parsed authentication data. Every slice borrows from the request. */
struct mg_sigv4_auth {
    bool presigned;
    struct mg_slice access_key_id;
    struct mg_slice scope_date; /* yyyymmdd */
    struct mg_slice region;
    struct mg_slice service;
    struct mg_slice terminator;     /* must be aws4_request */
    struct mg_slice signed_headers; /* "host;x-amz-date" */
    struct mg_slice signature;      /* 64 lower-case hex */
    struct mg_slice amz_date;       /* X-Amz-Date (or Date) as sent */
    int64_t request_time;           /* amz_date parsed, epoch seconds */
    int64_t expires;                /* presigned X-Amz-Expires, else 0 */
    struct mg_slice security_token; /* X-Amz-Security-Token header or query, may be empty; may be
                                     * percent-encoded when it came from the query: use
                                     * mg_sigv4_token() to get the decoded value */
    bool token_in_query;            /* security_token came from the presigned query */
    bool date_from_date_header;     /* header form dated by `Date` (then `date` must be signed) */
    bool amz_date_basic; /* amz_date is a valid basic-format time (set by mg_sigv4_parse) */
};

/* Step 1: find and parse the authentication data (header or presigned query).
 * Returns OK, MISSING, INCOMPLETE or UNSUPPORTED; ei gets AWS's message text. Like AWS's, some
 * messages echo the Authorization header: send them to the client, never log them above DEBUG.
 * Both mechanisms at once, two Authorization headers, a repeated X-Amz-* parameter: INCOMPLETE.
 * The date is X-Amz-Date, else the Date header (basic ISO 8601 or RFC 7231 IMF-fixdate). */
enum mg_sigv4_status mg_sigv4_parse(const struct mg_sigv4_request *req, struct mg_sigv4_auth *out,
                                    struct mg_errinfo *ei);

/* Step 2: scope (date matches X-Amz-Date, region in the served set, expected service, terminator)
 * and clock (|now - t| <= skew for the header form; t - skew <= now <= t + expires for presigned).
 * n_regions == 0 accepts any region; expected_service may be NULL to accept any service. Scope
 * failures are BAD_SCOPE, clock failures SKEW (the message names the window in minutes). */
enum mg_sigv4_status mg_sigv4_check(const struct mg_sigv4_auth *auth, const char *const *regions,
                                    size_t n_regions, const char *expected_service, int64_t now,
                                    int64_t skew_seconds, struct mg_errinfo *ei);

/* Frees the calling thread's scratch buffers (they are created on first use and otherwise freed at
 * thread exit). */
void mg_sigv4_thread_cleanup(void);

/* SHA-256 on OpenSSL's low-level functions (see src/sigv4/crypto.c): no context, no allocation.
 * Never fails; the bool stays for the callers that check it. */
MG_MUST_USE bool mg_sigv4_sha256(struct mg_slice in, uint8_t out[32]);

/* Decoded session token into out (cleared first). */
MG_MUST_USE enum mg_err mg_sigv4_token(const struct mg_sigv4_auth *auth, struct mg_buf *out);

/* Signing-key cache per (access key, date, region, service). Thread-safe, lock-free reads (a
 * seqlock per slot, direct-mapped), a fixed number of slots. Entries also carry a fingerprint of
 * the secret, so a new secret for the same access key misses. Keys are only valid for their date
 * (the date is part of the cache key). Returns NULL for 0 or more than 2^20 slots. */
struct mg_sigv4_key_cache;
struct mg_sigv4_key_cache *mg_sigv4_key_cache_new(size_t slots);
void mg_sigv4_key_cache_free(struct mg_sigv4_key_cache *c);

/* Step 3: rebuild the canonical request and compare signatures in constant time.
 * cache may be NULL. Returns OK, MISMATCH or INCOMPLETE (a signed header is absent,
 * host not signed, x-amz-date (or date) not signed in the header form, SignedHeaders not
 * sorted/lower-case/unique; ei->code MG_E_TOO_LARGE / MG_E_NOMEM for limits and allocation
 * failures). The payload hash is always the body's SHA-256 (the services served are not S3): an
 * x-amz-content-sha256 that names anything else, UNSIGNED-PAYLOAD included, is a MISMATCH.
 * On MISMATCH ei gets AWS's message (without the canonical request). A presigned URL whose
 * X-Amz-Security-Token was appended after signing also verifies (the caller checks the token).
 * Once the thread is warm (first call), it does not allocate. */
enum mg_sigv4_status mg_sigv4_verify(const struct mg_sigv4_request *req,
                                     const struct mg_sigv4_auth *auth, struct mg_slice secret,
                                     struct mg_sigv4_key_cache *cache, struct mg_errinfo *ei);

/* Building blocks, exposed for tests and the outbound signer. Output is appended to out. */
MG_MUST_USE enum mg_err mg_sigv4_canonical_request(const struct mg_sigv4_request *req,
                                                   const struct mg_sigv4_auth *auth,
                                                   struct mg_buf *out);
MG_MUST_USE enum mg_err mg_sigv4_string_to_sign(const struct mg_sigv4_auth *auth,
                                                struct mg_slice canonical_request,
                                                struct mg_buf *out);
void mg_sigv4_signing_key(struct mg_slice secret, struct mg_slice date, struct mg_slice region,
                          struct mg_slice service, uint8_t out[32]);

/* Outbound: sign a request with the Authorization header form. Writes the values of the
 * headers the caller must add: x-amz-date (17 bytes incl. NUL), authorization (into auth_out).
 * The request's headers must already include host (and x-amz-security-token when token given),
 * have lower-case names, and not yet hold x-amz-date or authorization (else MG_E_INVALID).
 * Every header is signed except user-agent, expect, x-amzn-trace-id and hop-by-hop headers.
 * The payload hash is x-amz-content-sha256 when the caller added it, else SHA-256 of the body. */
struct mg_sigv4_signer {
    struct mg_slice access_key_id, secret, session_token, region, service;
    int64_t now;
};
MG_MUST_USE enum mg_err mg_sigv4_sign(const struct mg_sigv4_signer *s,
                                      const struct mg_sigv4_request *req, char amz_date[17],
                                      struct mg_buf *auth_out);

#endif
