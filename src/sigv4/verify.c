/* src/sigv4/verify.c: step 3 of inbound verification (iam-sigv4 A.8 steps 6 and 7): check the
 * SignedHeaders list, rebuild the canonical request in the thread's scratch buffer, derive or look
 * up the signing key and compare signatures in constant time. */
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

static bool s_name_char(uint8_t c)
{
    /* RFC 7230 tchar, lower case only, and no '%' (the presigned separator is "%3B") */
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '!' || c == '#' || c == '$' || c == '&' || c == '\'' || c == '*' || c == '+' ||
           c == '^' || c == '`' || c == '|' || c == '~';
}

enum mg_sigv4_status mg_sigv4_check_signed_headers(const struct mg_sigv4_request *req,
                                                   const struct mg_sigv4_auth *auth,
                                                   struct mg_errinfo *ei)
{
    struct mg_slice sh = auth->signed_headers.ptr ? auth->signed_headers : MG_SLICE_LIT("");
    struct mg_slice rest = sh, name, prev = {0};
    bool have_host = false, have_date = false;
    size_t n = 0;
    const char *date_name = auth->date_from_date_header ? "date" : "x-amz-date";
    while (mg_sigv4_next_signed_header(&rest, &name)) {
        bool ok = name.len > 0;
        for (size_t i = 0; ok && i < name.len; i++)
            ok = s_name_char(name.ptr[i]);
        if (!ok)
            return s_incomplete(ei, MG_E_PARSE,
                                "SignedHeaders must be a ';'-separated list of lower-case header "
                                "names, got '%.*s'",
                                MG_SLICE_ARG(mg_slice_sub(sh, 0, 200)));
        if (n && mg_slice_cmp(prev, name) >= 0)
            return s_incomplete(ei, MG_E_PARSE,
                                "SignedHeaders must be sorted and must not repeat a name: '%.*s' "
                                "comes after '%.*s'",
                                MG_SLICE_ARG(mg_slice_sub(name, 0, 100)),
                                MG_SLICE_ARG(mg_slice_sub(prev, 0, 100)));
        if (++n > MG_LIMIT_SIGNED_HEADERS)
            return s_incomplete(ei, MG_E_TOO_LARGE, "SignedHeaders names more than %d headers",
                                MG_LIMIT_SIGNED_HEADERS);
        bool present = false;
        for (size_t i = 0; i < req->n_headers && !present; i++)
            present = mg_sigv4_name_ieq(req->headers[i].name, name);
        if (!present)
            return s_incomplete(
                ei, MG_E_PARSE,
                "The header '%.*s' is named in SignedHeaders but is absent from the "
                "request",
                MG_SLICE_ARG(mg_slice_sub(name, 0, 100)));
        have_host = have_host || mg_slice_eq_cstr(name, "host");
        have_date = have_date || mg_slice_eq_cstr(name, date_name);
        prev = name;
    }
    if (!have_host)
        return s_incomplete(ei, MG_E_PARSE,
                            "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                            "Authorization.");
    if (!auth->presigned && !have_date)
        return s_incomplete(ei, MG_E_PARSE,
                            "'%s' must be a 'SignedHeader' in the AWS Authorization.",
                            auth->date_from_date_header ? "Date" : "X-Amz-Date");
    return MG_SIGV4_OK;
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

/* Builds canonical request and string to sign in the thread's buffers and computes the
 * signature's hex. */
static enum mg_err s_signature(const struct mg_sigv4_request *req, const struct mg_sigv4_auth *auth,
                               struct mg_slice payload_hash, unsigned flags, const uint8_t key[32],
                               char sig_hex[64])
{
    struct mg_sigv4_tls *tls = mg_sigv4_tls_get();
    if (!tls)
        return MG_E_NOMEM;
    mg_buf_reset(&tls->creq);
    MG_TRY(mg_sigv4_canonical_request_ex(req, auth, payload_hash, flags, &tls->creq));
    uint8_t h[32];
    char hex[64];
    if (!mg_sigv4_sha256(mg_buf_slice(&tls->creq), h))
        return MG_E_NOMEM;
    mg_hex_encode(h, 32, hex);
    mg_buf_reset(&tls->scratch);
    MG_TRY(mg_sigv4_sts_from_hash(auth, hex, &tls->scratch));
    if (!mg_sigv4_hmac_signing(key, mg_buf_slice(&tls->scratch), h))
        return MG_E_NOMEM;
    mg_hex_encode(h, 32, sig_hex);
    return MG_E_OK;
}

enum mg_sigv4_status mg_sigv4_verify(const struct mg_sigv4_request *req,
                                     const struct mg_sigv4_auth *auth, struct mg_slice secret,
                                     struct mg_sigv4_key_cache *cache, struct mg_errinfo *ei)
{
    enum mg_sigv4_status st = mg_sigv4_check_signed_headers(req, auth, ei);
    if (st != MG_SIGV4_OK)
        return st;

    /* Payload hash: the body's SHA-256. Every service served here (sts, iam, lambda,
     * bedrock-agentcore) hashes the body; only S3, not served, honours UNSIGNED-PAYLOAD or the
     * streaming markers. An x-amz-content-sha256 header, when present, goes into the canonical
     * request as sent and must name that hash: any other value (UNSIGNED-PAYLOAD included) means
     * the signature does not cover this body, a signature mismatch. */
    char body_hex[64];
    struct mg_slice payload_hash = {0}, v;
    bool have_hdr = mg_sigv4_header(req, "x-amz-content-sha256", &v);
    if (have_hdr)
        payload_hash = mg_slice_trim(v);
    uint8_t bh[32];
    if (!mg_sigv4_sha256(req->body, bh))
        return s_incomplete(ei, MG_E_NOMEM, "out of memory");
    mg_hex_encode(bh, 32, body_hex);
    if (!have_hdr) {
        payload_hash = mg_slice_make(body_hex, 64);
    } else if (!s_hex_ieq(payload_hash, body_hex)) {
        if (ei) {
            ei->code = MG_E_AUTH;
            snprintf(ei->msg, sizeof(ei->msg), "%s", s_mismatch_msg);
        }
        return MG_SIGV4_MISMATCH;
    }

    uint8_t key[32];
    if (!mg_sigv4_derive_key(cache, auth, secret, key))
        return s_incomplete(ei, MG_E_NOMEM, "out of memory");
    char sig[64];
    enum mg_err err = s_signature(req, auth, payload_hash, 0, key, sig);
    bool match = err == MG_E_OK && mg_ct_equal(auth->signature, mg_slice_make(sig, 64));
    /* Presigned URLs of some clients (AWS IoT's WebSocket recipe) append the session token after
     * signing: accept that form too. The token is still checked by the caller. */
    if (err == MG_E_OK && !match && auth->presigned && auth->token_in_query) {
        err = s_signature(req, auth, payload_hash, MG_SIGV4_CANON_OMIT_QUERY_TOKEN, key, sig);
        match = err == MG_E_OK && mg_ct_equal(auth->signature, mg_slice_make(sig, 64));
    }
    mg_memzero(key, sizeof(key));
    if (err == MG_E_TOO_LARGE)
        return s_incomplete(ei, err, "The request is too large to verify its signature");
    if (err != MG_E_OK)
        return s_incomplete(ei, err, "The request signature could not be computed");
    if (!match) {
        if (ei) {
            ei->code = MG_E_AUTH;
            snprintf(ei->msg, sizeof(ei->msg), "%s", s_mismatch_msg);
        }
        return MG_SIGV4_MISMATCH;
    }
    return MG_SIGV4_OK;
}
