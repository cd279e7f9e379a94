/* src/sigv4/verify.c: step 3 of inbound verification (iam-sigv4 A.8 steps 6 and 7): check the
 * SignedHeaders list while the canonical request is rebuilt in the thread's buffer (one pass), derive
 * or look up the signing key (kept in its HMAC form) and compare signatures in constant time. */
#include <stdio.h>

#include "base/limits.h"
#include "sigv4/sigv4_internal.h"

static const char s_mismatch_msg[] =
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.";

static enum mg_sigv4_status s_incomplete(struct mg_errinfo *ei, enum mg_err code, const char *fmt,
                                         ...) MG_PRINTF(3, 4);
static enum mg_sigv4_status s_incomplete(struct mg_errinfo *ei, enum mg_err code, const char *fmt,
                                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_errinfo_vset(ei, code, fmt, ap);
    va_end(ap);
    return MG_SIGV4_INCOMPLETE;
}

static bool s_hex_ieq(struct mg_slice a, const char *hex64)
{
    if (a.len != 64)
        return false;
    uint8_t diff = 0;
    for (size_t i = 0; i < 64; i++) {
        uint8_t c = a.ptr[i];
        if (c >= 'A' && c <= 'F')
            c = (uint8_t)(c + 32);
        diff |= (uint8_t)(c ^ (uint8_t)hex64[i]);
    }
    return diff == 0;
}

static enum mg_sigv4_status s_mismatch(struct mg_errinfo *ei)
{
    if (ei) {
        ei->code = MG_E_AUTH;
        snprintf(ei->msg, sizeof(ei->msg), "%s", s_mismatch_msg);
    }
    return MG_SIGV4_MISMATCH;
}

/* The signature's hex: HMAC of the string to sign (assembled on the stack when it fits, else
 * hashed in parts) with the signing key in its HMAC form. */
static void s_sign(const struct mg_sigv4_hmac_key *key, const struct mg_sigv4_auth *auth,
                   const uint8_t creq_hash[32], char sig_hex[64])
{
    char date[17], hex[64];
    mg_sigv4_amz_date(auth, date);
    mg_sigv4_hex32(creq_hash, hex);
    const struct mg_slice parts[] = {
        MG_SLICE_LIT(MG_SIGV4_ALGORITHM "\n"),
        mg_slice_make(date, 16),
        MG_SLICE_LIT("\n"),
        auth->scope_date,
        MG_SLICE_LIT("/"),
        auth->region,
        MG_SLICE_LIT("/"),
        auth->service,
        MG_SLICE_LIT("/"),
        auth->terminator,
        MG_SLICE_LIT("\n"),
        mg_slice_make(hex, 64),
    };
    size_t n = sizeof(parts) / sizeof(parts[0]), total = 0;
    for (size_t i = 0; i < n; i++)
        total += parts[i].len;
    uint8_t sts[256], mac[32];
    if (total <= sizeof(sts)) {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            mg_memcpy(sts + at, parts[i].ptr, parts[i].len);
            at += parts[i].len;
        }
        struct mg_slice one = mg_slice_make(sts, at);
        mg_sigv4_hmac_parts(key, &one, 1, mac);
    } else {
        mg_sigv4_hmac_parts(key, parts, n, mac);
    }
    mg_sigv4_hex32(mac, sig_hex);
}

/* The general path (presigned URL whose token was appended after signing): canonical request
 * built by mg_sigv4_canonical_request_ex() with flags. */
static enum mg_err s_signature_ex(const struct mg_sigv4_request *req,
                                  const struct mg_sigv4_auth *auth, struct mg_slice payload_hash,
                                  unsigned flags, const struct mg_sigv4_hmac_key *key,
                                  char sig_hex[64])
{
    struct mg_sigv4_tls *tls = mg_sigv4_tls_get();
    if (!tls)
        return MG_E_NOMEM;
    mg_buf_reset(&tls->creq);
    MG_TRY(mg_sigv4_canonical_request_ex(req, auth, payload_hash, flags, &tls->creq));
    uint8_t h[32];
    if (!mg_sigv4_sha256(mg_buf_slice(&tls->creq), h))
        return MG_E_NOMEM;
    s_sign(key, auth, h, sig_hex);
    return MG_E_OK;
}

enum mg_sigv4_status mg_sigv4_verify(const struct mg_sigv4_request *req,
                                     const struct mg_sigv4_auth *auth, struct mg_slice secret,
                                     struct mg_sigv4_key_cache *cache, struct mg_errinfo *ei)
{
    /* Payload hash: the body's SHA-256. Every service served here (sts, iam, lambda,
     * bedrock-agentcore) hashes the body; only S3, not served, honours UNSIGNED-PAYLOAD or the
     * streaming markers. An x-amz-content-sha256 header, when present, goes into the canonical
     * request as sent and must name that hash: any other value (UNSIGNED-PAYLOAD included) means
     * the signature does not cover this body, a signature mismatch (reported after the checks of
     * SignedHeaders). */
    char body_hex[64];
    struct mg_slice payload_hash = {0}, v;
    bool have_hdr = mg_sigv4_header(req, "x-amz-content-sha256", &v);
    uint8_t bh[32];
    if (!mg_sigv4_sha256(req->body, bh))
        return s_incomplete(ei, MG_E_NOMEM, "out of memory");
    mg_sigv4_hex32(bh, body_hex);
    payload_hash = have_hdr ? mg_slice_trim(v) : mg_slice_make(body_hex, 64);

    /* SignedHeaders checked while the canonical request is built, in the thread's buffer */
    struct mg_sigv4_tls *tls = mg_sigv4_tls_get();
    enum mg_err err = MG_E_NOMEM;
    enum mg_sigv4_status st;
    if (tls) {
        mg_buf_reset(&tls->creq);
        st = mg_sigv4_canonical_verify(req, auth, payload_hash, &tls->creq, &err, ei);
    } else {
        st = mg_sigv4_check_signed_headers(req, auth, ei);
    }
    if (st != MG_SIGV4_OK)
        return st;
    if (have_hdr && !s_hex_ieq(payload_hash, body_hex))
        return s_mismatch(ei);

    struct mg_sigv4_hmac_key key;
    if (!mg_sigv4_derive_key(cache, auth, secret, &key))
        return s_incomplete(ei, MG_E_NOMEM, "out of memory");
    char sig[64];
    bool match = false;
    if (err == MG_E_OK) {
        uint8_t h[32];
        if (mg_sigv4_sha256(mg_buf_slice(&tls->creq), h)) {
            s_sign(&key, auth, h, sig);
            match = mg_ct_equal(auth->signature, mg_slice_make(sig, 64));
        } else {
            err = MG_E_NOMEM;
        }
    }
    /* Presigned URLs of some clients (AWS IoT's WebSocket recipe) append the session token after
     * signing: accept that form too. The token is still checked by the caller. */
    if (err == MG_E_OK && !match && auth->presigned && auth->token_in_query) {
        err = s_signature_ex(req, auth, payload_hash, MG_SIGV4_CANON_OMIT_QUERY_TOKEN, &key, sig);
        match = err == MG_E_OK && mg_ct_equal(auth->signature, mg_slice_make(sig, 64));
    }
    mg_memzero(&key, sizeof(key));
    if (err == MG_E_TOO_LARGE)
        return s_incomplete(ei, err, "The request is too large to verify its signature");
    if (err != MG_E_OK)
        return s_incomplete(ei, err, "The request signature could not be computed");
    if (!match)
        return s_mismatch(ei);
    return MG_SIGV4_OK;
}
