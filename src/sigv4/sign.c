/* src/sigv4/sign.c: outbound signing, Authorization-header form. Every header of the request is
 * signed except hop-by-hop and tracing headers that proxies and libcurl may change. */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/util.h"
#include "sigv4/sigv4_internal.h"

static const char *const s_unsigned[] = {
    "authorization",
    "user-agent",
    "expect",
    "x-amzn-trace-id",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
};

static bool s_skip(struct mg_slice name)
{
    for (size_t i = 0; i < sizeof(s_unsigned) / sizeof(s_unsigned[0]); i++)
        if (mg_slice_eq_cstr(name, s_unsigned[i]))
            return true;
    return false;
}

static int s_slice_cmp(const void *a, const void *b)
{
    return mg_slice_cmp(*(const struct mg_slice *)a, *(const struct mg_slice *)b);
}

enum mg_err mg_sigv4_sign(const struct mg_sigv4_signer *s, const struct mg_sigv4_request *req,
                          char amz_date[17], struct mg_buf *auth_out)
{
    struct mg_kv hdrs[MG_LIMIT_HEADERS + 1];
    struct mg_slice names[MG_LIMIT_HEADERS + 1];
    size_t nh = 0, nn = 0;
    bool have_host = false, have_token = false;
    enum mg_err err = MG_E_OK;
    struct mg_buf sh, creq, sts;
    mg_buf_init(&sh, MG_LIMIT_HEADER_BYTES);
    mg_buf_init(&creq, MG_LIMIT_CANONICAL_REQUEST);
    mg_buf_init(&sts, MG_LIMIT_HEADER_BYTES);

    if (req->n_headers > MG_LIMIT_HEADERS)
        return MG_E_TOO_LARGE;
    mg_time_amz(s->now, amz_date);
    for (size_t i = 0; i < req->n_headers; i++) {
        struct mg_slice n = req->headers[i].name;
        for (size_t k = 0; k < n.len; k++)
            if (n.ptr[k] >= 'A' && n.ptr[k] <= 'Z')
                return MG_E_INVALID; /* names must be lower case */
        if (n.len == 0 || mg_slice_eq_cstr(n, "x-amz-date") || mg_slice_eq_cstr(n, "authorization"))
            return MG_E_INVALID;
        if (s_skip(n))
            continue;
        have_host = have_host || mg_slice_eq_cstr(n, "host");
        have_token = have_token || mg_slice_eq_cstr(n, "x-amz-security-token");
        hdrs[nh++] = req->headers[i];
        bool seen = false;
        for (size_t k = 0; k < nn && !seen; k++)
            seen = mg_slice_eq(names[k], n);
        if (!seen)
            names[nn++] = n;
    }
    if (!have_host || (s->session_token.len && !have_token))
        return MG_E_INVALID;
    hdrs[nh++] = (struct mg_kv){MG_SLICE_LIT("x-amz-date"), mg_slice_make(amz_date, 16)};
    names[nn++] = MG_SLICE_LIT("x-amz-date");
    qsort(names, nn, sizeof(names[0]), s_slice_cmp);
    for (size_t k = 0; k < nn && !err; k++) {
        if (k)
            err = mg_buf_append_byte(&sh, ';');
        if (!err)
            err = mg_buf_append_slice(&sh, names[k]);
    }
    if (err)
        goto out;

    struct mg_sigv4_request r = *req;
    r.headers = hdrs;
    r.n_headers = nh;
    struct mg_sigv4_auth a = {
        .access_key_id = s->access_key_id,
        .scope_date = mg_slice_make(amz_date, 8),
        .region = s->region,
        .service = s->service,
        .terminator = MG_SLICE_LIT("aws4_request"),
        .signed_headers = mg_buf_slice(&sh),
        .amz_date = mg_slice_make(amz_date, 16),
        .request_time = s->now,
    };
    err = mg_sigv4_canonical_request(&r, &a, &creq);
    if (err)
        goto out;
    err = mg_sigv4_string_to_sign(&a, mg_buf_slice(&creq), &sts);
    if (err)
        goto out;
    uint8_t key[32], mac[32];
    char hex[65];
    mg_sigv4_signing_key(s->secret, a.scope_date, a.region, a.service, key);
    bool ok = mg_sigv4_hmac(key, 32, mg_buf_slice(&sts), mac);
    mg_memzero(key, sizeof(key));
    if (!ok) {
        err = MG_E_NOMEM;
        goto out;
    }
    mg_sigv4_hex32(mac, hex);
    hex[64] = 0;
    err = mg_buf_printf(auth_out,
                        MG_SIGV4_ALGORITHM
                        " Credential=" MG_SLICE_FMT "/%.8s/" MG_SLICE_FMT "/" MG_SLICE_FMT
                        "/aws4_request, SignedHeaders=" MG_SLICE_FMT ", Signature=%s",
                        MG_SLICE_ARG(s->access_key_id), amz_date, MG_SLICE_ARG(s->region),
                        MG_SLICE_ARG(s->service), MG_SLICE_ARG(mg_buf_slice(&sh)), hex);
out:
    mg_buf_cleanup(&sh);
    mg_buf_cleanup(&creq);
    mg_buf_cleanup(&sts);
    return err;
}
