/* Access tokens: what a client may have (scopes, audiences) and the ES256 JWS itself. */
#include <string.h>

#include <jansson.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/util.h"
#include "issuer/issuer_internal.h"

bool mg_issuer_url(const char *public_url, char *out, size_t cap)
{
    size_t n = strlen(public_url);
    while (n > 0 && public_url[n - 1] == '/')
        n--;
    return mg_fmt(out, cap, "%.*s%s", (int)n, public_url, MG_ISSUER_PATH);
}

static bool s_has(const char *const *list, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && mg_memcmp(list[i], s, len) == 0)
            return true;
    return false;
}

enum mg_err mg_issuer_resolve(const struct mg_issuer_client *cl, const char *scope,
                              const char *audience, const char *resource,
                              struct mg_issuer_resolved *out, const char **oauth_error,
                              struct mg_errinfo *ei)
{
    mg_memzero(out, sizeof(*out));
    *oauth_error = NULL;
    const char *const *allowed = (const char *const *)cl->scopes;
    if (scope == NULL || scope[0] == 0) {
        for (size_t i = 0; i < cl->n_scopes; i++)
            out->scopes[out->n_scopes++] = cl->scopes[i];
    } else {
        const char *p = scope;
        while (*p) {
            while (*p == ' ')
                p++;
            const char *start = p;
            while (*p && *p != ' ')
                p++;
            size_t len = (size_t)(p - start);
            if (len == 0)
                continue;
            size_t k = 0;
            while (k < cl->n_scopes &&
                   !(strlen(allowed[k]) == len && mg_memcmp(allowed[k], start, len) == 0))
                k++;
            if (k == cl->n_scopes) {
                *oauth_error = "invalid_scope";
                return mg_errinfo_set(ei, MG_E_INVALID,
                                      "scope \"%.*s\" is not granted to this client",
                                      (int)(len > 100 ? 100 : len), start);
            }
            if (!s_has(out->scopes, out->n_scopes, start, len)) {
                if (out->n_scopes >= MG_ISSUER_MAX_SCOPES) {
                    *oauth_error = "invalid_scope";
                    return mg_errinfo_set(ei, MG_E_INVALID, "too many scopes");
                }
                out->scopes[out->n_scopes++] = allowed[k];
            }
        }
    }

    const char *asked[2] = {audience, resource};
    size_t n_asked = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *a = asked[i];
        if (a == NULL || a[0] == 0 || s_has(out->audiences, out->n_audiences, a, strlen(a)))
            continue;
        size_t len = strlen(a);
        bool uri = len <= MG_ISSUER_MAX_AUDIENCE && strchr(a, ':') != NULL &&
                   strchr(a, '#') == NULL;
        for (size_t j = 0; uri && j < len; j++)
            uri = (unsigned char)a[j] > 0x20 && (unsigned char)a[j] < 0x7f;
        if (!uri) {
            *oauth_error = "invalid_target";
            return mg_errinfo_set(ei, MG_E_INVALID, "%s must be an absolute URI without a fragment",
                                  i == 0 ? "audience" : "resource");
        }
        if (cl->has_audiences &&
            !s_has((const char *const *)cl->audiences, cl->n_audiences, a, len)) {
            *oauth_error = "invalid_target";
            return mg_errinfo_set(ei, MG_E_INVALID, "%s \"%.200s\" is not allowed for this client",
                                  i == 0 ? "audience" : "resource", a);
        }
        out->audiences[out->n_audiences++] = a;
        n_asked++;
    }
    if (n_asked == 0 && cl->has_audiences) /* none asked for: all the client may have */
        for (size_t i = 0; i < cl->n_audiences; i++)
            out->audiences[out->n_audiences++] = cl->audiences[i];
    return MG_E_OK;
}

/* base64url of a JSON object's compact text, appended to out. */
static enum mg_err s_append_json_b64(struct mg_buf *out, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_base64url_encode(out, mg_slice_cstr(text));
    mg_free(text);
    return e;
}

/* ES256 signature of data: the raw r||s of RFC 7518 3.4. */
static enum mg_err s_sign(EVP_PKEY *pkey, struct mg_slice data, uint8_t raw[64])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t der_len = sizeof(der);
    enum mg_err e = MG_E_INTERNAL;
    ECDSA_SIG *sig = NULL;
    if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
        EVP_DigestSign(ctx, der, &der_len, data.ptr, data.len) == 1) {
        const unsigned char *p = der;
        sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        const BIGNUM *r = NULL, *s = NULL;
        if (sig)
            ECDSA_SIG_get0(sig, &r, &s);
        if (r && s && BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32)
            e = MG_E_OK;
    }
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return e;
}

enum mg_err mg_issuer_sign(const struct mg_issuer_keys *k, const struct mg_issuer_grant *g,
                           struct mg_buf *out, struct mg_errinfo *ei)
{
    const char *kid = NULL;
    EVP_PKEY *pkey = mg_issuer_keys_current(k, &kid);
    if (pkey == NULL)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "no signing key");
    uint8_t rnd[16];
    char jti[40];
    mg_random_bytes(rnd, sizeof(rnd));
    mg_hex_encode(rnd, sizeof(rnd), jti);
    jti[32] = 0;

    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", "at+jwt", "kid", kid);
    json_t *p = json_object();
    bool ok = hdr && p;
    ok = ok && mg_json_set(p, "iss", json_string(g->issuer));
    ok = ok && mg_json_set(p, "sub", json_string(g->client_id));
    ok = ok && mg_json_set(p, "client_id", json_string(g->client_id));
    if (ok && g->n_audiences == 1) {
        ok = mg_json_set(p, "aud", json_string(g->audiences[0]));
    } else if (ok && g->n_audiences > 1) {
        json_t *a = json_array();
        ok = a && mg_json_set_ref(p, "aud", a);
        for (size_t i = 0; ok && i < g->n_audiences; i++)
            ok = mg_json_append(a, json_string(g->audiences[i]));
        json_decref(a);
    }
    if (ok && g->n_scopes > 0) {
        struct mg_buf s;
        mg_buf_init(&s, 64 * 1024);
        for (size_t i = 0; ok && i < g->n_scopes; i++)
            ok = (i == 0 || mg_buf_append_byte(&s, ' ') == MG_E_OK) &&
                 mg_buf_append_cstr(&s, g->scopes[i]) == MG_E_OK;
        const char *sc = ok ? mg_buf_cstr(&s) : NULL;
        ok = sc && mg_json_set(p, "scope", json_string(sc));
        mg_buf_cleanup(&s);
    }
    ok = ok && mg_json_set(p, "iat", json_integer(g->now));
    ok = ok && mg_json_set(p, "nbf", json_integer(g->now));
    ok = ok && mg_json_set(p, "exp", json_integer(g->now + g->ttl));
    ok = ok && mg_json_set(p, "jti", json_string(jti));

    enum mg_err e = ok ? MG_E_OK : MG_E_NOMEM;
    size_t start = out->len;
    if (!e)
        e = s_append_json_b64(out, hdr);
    if (!e)
        e = mg_buf_append_byte(out, '.');
    if (!e)
        e = s_append_json_b64(out, p);
    uint8_t sig[64];
    if (!e)
        e = s_sign(pkey, mg_slice_make(out->ptr + start, out->len - start), sig);
    if (!e)
        e = mg_buf_append_byte(out, '.');
    if (!e)
        e = mg_base64url_encode(out, mg_slice_make(sig, sizeof(sig)));
    json_decref(hdr);
    json_decref(p);
    if (e) {
        out->len = start;
        return mg_errinfo_set(ei, e, e == MG_E_INTERNAL ? "cannot sign the token" : "%s",
                              mg_err_str(e));
    }
    return MG_E_OK;
}
