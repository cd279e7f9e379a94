/* src/jwt/jwt.c: compact JWS parsing, JWKS keys, signature verification (OpenSSL 3 EVP) and
 * the claim rules of a customJWTAuthorizer. See jwt.h and docs/jwt.md. */
#include "jwt/jwt.h"

#include <stdatomic.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "base/alloc.h"
#include "base/util.h"

enum mg_jwt_kty { MG_KTY_RSA, MG_KTY_EC256, MG_KTY_EC384 };

struct mg_jwk {
    EVP_PKEY *pkey;
    enum mg_jwt_kty kty;
    char kid[MG_JWT_MAX_KID + 1];
    bool has_kid;
    char alg[8]; /* "" when the JWK names none */
};

struct mg_jwks {
    atomic_long refs;
    size_t n;
    struct mg_jwk keys[];
};

/* ---- messages ---- */

const char *mg_jwt_status_str(enum mg_jwt_status s)
{
    switch (s) {
    case MG_JWT_OK: return "ok";
    case MG_JWT_MALFORMED: return "malformed token";
    case MG_JWT_UNSUPPORTED_ALG: return "unsupported token algorithm or header";
    case MG_JWT_UNKNOWN_KID: return "no matching signing key";
    case MG_JWT_BAD_SIGNATURE: return "invalid token signature";
    case MG_JWT_EXPIRED: return "token expired";
    case MG_JWT_NOT_YET_VALID: return "token not yet valid";
    case MG_JWT_ISSUED_IN_FUTURE: return "token issued in the future";
    case MG_JWT_WRONG_ISSUER: return "invalid token issuer";
    case MG_JWT_WRONG_AUDIENCE: return "invalid token audience";
    case MG_JWT_CLIENT_NOT_ALLOWED: return "client not allowed";
    case MG_JWT_MISSING_SCOPE: return "insufficient scope";
    case MG_JWT_CLAIM_MISMATCH: return "token claims not allowed";
    case MG_JWT_NOMEM: return "out of memory";
    }
    return "invalid token";
}

bool mg_jwt_status_is_forbidden(enum mg_jwt_status s)
{
    return s == MG_JWT_MISSING_SCOPE;
}

/* ---- helpers ---- */

static int s_b64url_val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* base64url without padding, canonical only (unused trailing bits must be zero): a token has
 * one spelling, so a changed character never decodes to the same bytes. */
static enum mg_err s_b64url(struct mg_buf *out, struct mg_slice in)
{
    MG_TRY(mg_base64url_decode(out, in));
    if (in.len % 4 == 2 && (s_b64url_val(in.ptr[in.len - 1]) & 0x0f))
        return MG_E_PARSE;
    if (in.len % 4 == 3 && (s_b64url_val(in.ptr[in.len - 1]) & 0x03))
        return MG_E_PARSE;
    return MG_E_OK;
}

/* Nesting depth of JSON text, counted outside strings, before jansson sees it. */
static bool s_depth_ok(struct mg_slice s, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

/* Parses an object; *nomem tells an allocation failure from bad JSON. */
static json_t *s_load_object(struct mg_slice s, bool *nomem)
{
    *nomem = false;
    if (!s_depth_ok(s, MG_JWT_MAX_DEPTH))
        return NULL;
    long fails = mg_alloc_failures();
    json_error_t je;
    json_t *j = json_loadb((const char *)s.ptr, s.len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        *nomem = mg_alloc_failures() != fails;
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

struct mg_alg {
    const char *name;
    enum mg_jwt_kty kty; /* MG_KTY_RSA for RS and PS */
    bool pss;
    const char *md;
    size_t sig_len; /* ECDSA: raw r||s length */
};

static const struct mg_alg s_algs[] = {
    {"RS256", MG_KTY_RSA, false, "SHA256", 0},    {"RS384", MG_KTY_RSA, false, "SHA384", 0},
    {"RS512", MG_KTY_RSA, false, "SHA512", 0},    {"PS256", MG_KTY_RSA, true, "SHA256", 0},
    {"PS384", MG_KTY_RSA, true, "SHA384", 0},     {"PS512", MG_KTY_RSA, true, "SHA512", 0},
    {"ES256", MG_KTY_EC256, false, "SHA256", 64}, {"ES384", MG_KTY_EC384, false, "SHA384", 96},
};

static const struct mg_alg *s_alg_find(const char *name)
{
    for (size_t i = 0; i < sizeof(s_algs) / sizeof(s_algs[0]); i++)
        if (strcmp(s_algs[i].name, name) == 0)
            return &s_algs[i];
    return NULL;
}

/* ---- JWKS ---- */

static enum mg_err s_b64_member(const json_t *o, const char *name, struct mg_buf *out)
{
    const char *s = json_string_value(json_object_get(o, name));
    mg_buf_init(out, 2048);
    if (!s)
        return MG_E_PARSE;
    return s_b64url(out, mg_slice_cstr(s));
}

static EVP_PKEY *s_rsa_key(const json_t *k)
{
    struct mg_buf n, e;
    EVP_PKEY *pkey = NULL;
    enum mg_err rn = s_b64_member(k, "n", &n), re = s_b64_member(k, "e", &e);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (rn != MG_E_OK || re != MG_E_OK || n.len == 0 || e.len == 0 || e.len > 8)
        goto done;
    bn = BN_bin2bn(n.ptr, (int)n.len, NULL);
    be = BN_bin2bn(e.ptr, (int)e.len, NULL);
    if (!bn || !be || BN_num_bits(bn) < MG_JWT_MIN_RSA_BITS ||
        BN_num_bits(bn) > MG_JWT_MAX_RSA_BITS || !BN_is_odd(be) || BN_is_one(be))
        goto done;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    mg_buf_cleanup(&n);
    mg_buf_cleanup(&e);
    return pkey;
}

static EVP_PKEY *s_ec_key(const json_t *k, enum mg_jwt_kty *kty)
{
    const char *crv = json_string_value(json_object_get(k, "crv"));
    const char *group;
    size_t clen;
    if (crv && strcmp(crv, "P-256") == 0) {
        group = "prime256v1";
        clen = 32;
        *kty = MG_KTY_EC256;
    } else if (crv && strcmp(crv, "P-384") == 0) {
        group = "secp384r1";
        clen = 48;
        *kty = MG_KTY_EC384;
    } else {
        return NULL;
    }
    struct mg_buf x, y;
    EVP_PKEY *pkey = NULL;
    enum mg_err rx = s_b64_member(k, "x", &x), ry = s_b64_member(k, "y", &y);
    uint8_t pt[1 + 2 * 48];
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL;
    if (rx != MG_E_OK || ry != MG_E_OK || x.len != clen || y.len != clen)
        goto done;
    pt[0] = 0x04;
    mg_memcpy(pt + 1, x.ptr, clen);
    mg_memcpy(pt + 1 + clen, y.ptr, clen);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * clen);
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = NULL;
        goto done;
    }
    /* the point must be on the curve */
    EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!chk || EVP_PKEY_public_check(chk) != 1) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(chk);
done:
    EVP_PKEY_CTX_free(ctx);
    mg_buf_cleanup(&x);
    mg_buf_cleanup(&y);
    return pkey;
}

static void s_jwks_free(struct mg_jwks *j)
{
    for (size_t i = 0; i < j->n; i++)
        EVP_PKEY_free(j->keys[i].pkey);
    mg_free(j);
}

enum mg_err mg_jwks_parse(struct mg_slice doc, struct mg_jwks **out, struct mg_errinfo *ei)
{
    *out = NULL;
    if (doc.len > MG_JWKS_MAX_BYTES)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "JWKS larger than %d bytes", MG_JWKS_MAX_BYTES);
    bool nomem;
    json_t *root = s_load_object(doc, &nomem);
    if (!root)
        return nomem ? mg_errinfo_set(ei, MG_E_NOMEM, "out of memory")
                     : mg_errinfo_set(ei, MG_E_PARSE, "JWKS is not a JSON object");
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        json_decref(root);
        return mg_errinfo_set(ei, MG_E_PARSE, "JWKS has no keys array");
    }
    size_t nk = json_array_size(keys);
    if (nk > MG_JWKS_MAX_KEYS) {
        json_decref(root);
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "JWKS has more than %d keys", MG_JWKS_MAX_KEYS);
    }
    struct mg_jwks *j = mg_calloc(1, sizeof(*j) + nk * sizeof(struct mg_jwk));
    if (!j) {
        json_decref(root);
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    atomic_init(&j->refs, 1);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        if (!json_is_object(k))
            continue;
        const char *use = json_string_value(json_object_get(k, "use"));
        if (json_object_get(k, "use") && (!use || strcmp(use, "sig") != 0))
            continue;
        const char *kty = json_string_value(json_object_get(k, "kty"));
        const char *kid = json_string_value(json_object_get(k, "kid"));
        const char *alg = json_string_value(json_object_get(k, "alg"));
        if (!kty || (json_object_get(k, "kid") && (!kid || strlen(kid) > MG_JWT_MAX_KID)))
            continue;
        if (json_object_get(k, "alg") && (!alg || !s_alg_find(alg)))
            continue; /* a key for an algorithm not accepted here (HS256, RSA-OAEP, ...) */
        struct mg_jwk *d = &j->keys[j->n];
        if (strcmp(kty, "RSA") == 0) {
            d->kty = MG_KTY_RSA;
            d->pkey = s_rsa_key(k);
        } else if (strcmp(kty, "EC") == 0) {
            d->pkey = s_ec_key(k, &d->kty);
        }
        if (!d->pkey)
            continue;
        if (alg && s_alg_find(alg)->kty != d->kty) {
            EVP_PKEY_free(d->pkey);
            d->pkey = NULL;
            continue;
        }
        if (kid) {
            d->has_kid = true;
            mg_memcpy(d->kid, kid, strlen(kid) + 1);
        }
        if (alg)
            mg_memcpy(d->alg, alg, strlen(alg) + 1);
        j->n++;
    }
    json_decref(root);
    *out = j;
    return MG_E_OK;
}

size_t mg_jwks_count(const struct mg_jwks *j)
{
    return j ? j->n : 0;
}

struct mg_jwks *mg_jwks_ref(struct mg_jwks *j)
{
    if (j)
        atomic_fetch_add(&j->refs, 1);
    return j;
}

void mg_jwks_unref(struct mg_jwks *j)
{
    if (j && atomic_fetch_sub(&j->refs, 1) == 1)
        s_jwks_free(j);
}

/* ---- verification ---- */

/* JOSE r||s to DER for OpenSSL. */
static bool s_ecdsa_der(struct mg_slice raw, uint8_t **der, int *der_len)
{
    size_t h = raw.len / 2;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw.ptr, (int)h, NULL), *s = BN_bin2bn(raw.ptr + h, (int)h, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return false;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return *der_len > 0;
}

static enum mg_jwt_status s_verify_one(const struct mg_jwk *k, const struct mg_alg *a,
                                       struct mg_slice input, struct mg_slice sig)
{
    uint8_t *der = NULL;
    int der_len = 0;
    if (a->sig_len) {
        if (sig.len != a->sig_len)
            return MG_JWT_BAD_SIGNATURE;
        if (!s_ecdsa_der(sig, &der, &der_len))
            return MG_JWT_NOMEM;
        sig = mg_slice_make(der, (size_t)der_len);
    } else if (sig.len != (size_t)EVP_PKEY_get_size(k->pkey)) {
        return MG_JWT_BAD_SIGNATURE;
    }
    enum mg_jwt_status st = MG_JWT_NOMEM;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (!mctx || EVP_DigestVerifyInit_ex(mctx, &pctx, a->md, NULL, NULL, k->pkey, NULL) <= 0)
        goto done;
    if (a->pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
                   EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, a->md, NULL) <= 0))
        goto done;
    st = EVP_DigestVerify(mctx, sig.ptr, sig.len, input.ptr, input.len) == 1 ? MG_JWT_OK
                                                                             : MG_JWT_BAD_SIGNATURE;
done:
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    return st;
}

/* The header: alg accepted, no crit, no key carried in the token, kid within limits. */
static enum mg_jwt_status s_header(const json_t *h, const struct mg_alg **alg,
                                   struct mg_jwt_claims *c)
{
    const json_t *a = json_object_get(h, "alg");
    if (!json_is_string(a))
        return MG_JWT_MALFORMED;
    static const char *const refused[] = {"crit", "jku", "x5u", "jwk", "x5c"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (json_object_get(h, refused[i]))
            return MG_JWT_UNSUPPORTED_ALG;
    *alg = s_alg_find(json_string_value(a));
    if (!*alg)
        return MG_JWT_UNSUPPORTED_ALG; /* none, HS256/384/512, anything unknown */
    const json_t *typ = json_object_get(h, "typ");
    if (typ && !json_is_string(typ))
        return MG_JWT_MALFORMED;
    const json_t *kid = json_object_get(h, "kid");
    if (kid && (!json_is_string(kid) || json_string_length(kid) > MG_JWT_MAX_KID ||
                strlen(json_string_value(kid)) != json_string_length(kid)))
        return MG_JWT_MALFORMED;
    mg_memcpy(c->alg, (*alg)->name, strlen((*alg)->name) + 1);
    if (kid)
        mg_memcpy(c->kid, json_string_value(kid), json_string_length(kid) + 1);
    return MG_JWT_OK;
}

static bool s_time_claim(const json_t *p, const char *name, bool *has, int64_t *out)
{
    const json_t *v = json_object_get(p, name);
    *has = v != NULL;
    if (!v)
        return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d > -9.0e15 && d < 9.0e15))
            return false;
        *out = (int64_t)d;
        return true;
    }
    return false;
}

static const char *s_str_claim(const json_t *p, const char *name, bool *bad)
{
    const json_t *v = json_object_get(p, name);
    if (v && !json_is_string(v))
        *bad = true;
    return json_string_value(v);
}

static enum mg_jwt_status s_claims(json_t *p, struct mg_jwt_claims *c)
{
    bool bad = false;
    c->iss = s_str_claim(p, "iss", &bad);
    c->sub = s_str_claim(p, "sub", &bad);
    c->client_id = s_str_claim(p, "client_id", &bad);
    c->azp = s_str_claim(p, "azp", &bad);
    c->aud = json_object_get(p, "aud");
    if (c->aud && !json_is_string(c->aud) && !json_is_array(c->aud))
        bad = true;
    c->scope = json_object_get(p, "scope");
    if (c->scope && !json_is_string(c->scope))
        bad = true;
    if (!c->scope) {
        c->scope = json_object_get(p, "scp");
        if (c->scope && !json_is_string(c->scope) && !json_is_array(c->scope))
            bad = true;
    }
    if (bad || !s_time_claim(p, "exp", &c->has_exp, &c->exp) ||
        !s_time_claim(p, "nbf", &c->has_nbf, &c->nbf) ||
        !s_time_claim(p, "iat", &c->has_iat, &c->iat))
        return MG_JWT_MALFORMED;
    return MG_JWT_OK;
}

enum mg_jwt_status mg_jwt_verify(const struct mg_jwks *jwks, struct mg_slice token,
                                 struct mg_jwt_claims *claims)
{
    mg_memzero(claims, sizeof(*claims));
    if (token.len == 0 || token.len > MG_JWT_MAX_TOKEN)
        return MG_JWT_MALFORMED;
    struct mg_slice rest = token, hs, ps, ss;
    mg_slice_split(&rest, '.', &hs);
    if (!mg_slice_split(&rest, '.', &ps) || rest.len == 0 || mg_slice_find(rest, '.') >= 0)
        return MG_JWT_MALFORMED; /* exactly three parts, each non-empty */
    ss = rest;
    if (hs.len == 0 || ps.len == 0 || ss.len == 0)
        return MG_JWT_MALFORMED;
    struct mg_buf hb, pb, sb;
    mg_buf_init(&hb, MG_JWT_MAX_TOKEN);
    mg_buf_init(&pb, MG_JWT_MAX_TOKEN);
    mg_buf_init(&sb, MG_JWT_MAX_TOKEN);
    json_t *h = NULL, *p = NULL;
    enum mg_jwt_status st = MG_JWT_MALFORMED;
    enum mg_err e1 = s_b64url(&hb, hs), e2 = MG_E_OK, e3 = MG_E_OK;
    if (e1 == MG_E_OK)
        e2 = s_b64url(&pb, ps);
    if (e1 == MG_E_OK && e2 == MG_E_OK)
        e3 = s_b64url(&sb, ss);
    if (e1 == MG_E_NOMEM || e2 == MG_E_NOMEM || e3 == MG_E_NOMEM) {
        st = MG_JWT_NOMEM;
        goto done;
    }
    if (e1 != MG_E_OK || e2 != MG_E_OK || e3 != MG_E_OK)
        goto done;
    bool nomem;
    h = s_load_object(mg_buf_slice(&hb), &nomem);
    if (!h) {
        st = nomem ? MG_JWT_NOMEM : MG_JWT_MALFORMED;
        goto done;
    }
    const struct mg_alg *alg = NULL;
    st = s_header(h, &alg, claims);
    if (st != MG_JWT_OK)
        goto done;
    bool has_kid = json_object_get(h, "kid") != NULL;
    struct mg_slice input = mg_slice_make(token.ptr, hs.len + 1 + ps.len);
    st = MG_JWT_UNKNOWN_KID;
    size_t tried = 0;
    for (size_t i = 0; jwks && i < jwks->n && tried < MG_JWT_MAX_KEYS_TRIED; i++) {
        const struct mg_jwk *k = &jwks->keys[i];
        if (k->kty != alg->kty)
            continue; /* an RSA key never checks an ES token, nor a P-384 key an ES256 one */
        if (k->alg[0] && strcmp(k->alg, alg->name) != 0)
            continue;
        if (has_kid && (!k->has_kid || strcmp(k->kid, claims->kid) != 0))
            continue;
        tried++;
        st = s_verify_one(k, alg, input, mg_buf_slice(&sb));
        if (st == MG_JWT_OK || st == MG_JWT_NOMEM)
            break;
    }
    if (st != MG_JWT_OK)
        goto done;
    /* the payload is parsed only once its signature holds */
    p = s_load_object(mg_buf_slice(&pb), &nomem);
    if (!p) {
        st = nomem ? MG_JWT_NOMEM : MG_JWT_MALFORMED;
        goto done;
    }
    st = s_claims(p, claims);
    if (st == MG_JWT_OK) {
        claims->payload = p;
        p = NULL;
    }
done:
    json_decref(h);
    json_decref(p);
    mg_buf_cleanup(&hb);
    mg_buf_cleanup(&pb);
    mg_buf_cleanup(&sb);
    if (st != MG_JWT_OK)
        mg_memzero(claims, sizeof(*claims));
    return st;
}

void mg_jwt_claims_cleanup(struct mg_jwt_claims *c)
{
    if (!c)
        return;
    json_decref(c->payload);
    mg_memzero(c, sizeof(*c));
}

/* ---- rules ---- */

static bool s_in_list(const char *v, const char *const *list, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (list[i] && strcmp(v, list[i]) == 0)
            return true;
    return false;
}

/* Whether one space-separated word of s is in list. */
static bool s_word_in_list(const char *s, const char *const *list, size_t n)
{
    struct mg_slice rest = mg_slice_cstr(s), w;
    while (rest.len) {
        mg_slice_split(&rest, ' ', &w);
        for (size_t i = 0; w.len && i < n; i++)
            if (list[i] && mg_slice_eq_cstr(w, list[i]))
                return true;
    }
    return false;
}

bool mg_jwt_custom_claim_match(const json_t *payload, const struct mg_jwt_custom_claim *cc)
{
    const json_t *v = json_object_get(payload, cc->name);
    if (!v)
        return false;
    switch (cc->op) {
    case MG_CLAIM_EQUALS:
        /* STRING + EQUALS + matchValueString: the claim is that exact string */
        return cc->type == MG_CLAIM_STRING && json_is_string(v) && cc->value &&
               strcmp(json_string_value(v), cc->value) == 0;
    case MG_CLAIM_CONTAINS: {
        /* STRING_ARRAY + CONTAINS + matchValueString: the array holds that string */
        if (cc->type != MG_CLAIM_STRING_ARRAY || !json_is_array(v) || !cc->value)
            return false;
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) if (json_is_string(e) &&
                                        strcmp(json_string_value(e), cc->value) == 0) return true;
        return false;
    }
    case MG_CLAIM_CONTAINS_ANY: {
        /* STRING_ARRAY + CONTAINS_ANY + matchValueStringList: the array holds any of them */
        if (cc->type != MG_CLAIM_STRING_ARRAY || !json_is_array(v))
            return false;
        size_t i;
        const json_t *e;
        json_array_foreach(v, i,
                           e) if (json_is_string(e) && s_in_list(json_string_value(e), cc->values,
                                                                 cc->n_values)) return true;
        return false;
    }
    }
    return false;
}

enum mg_jwt_status mg_jwt_validate(const struct mg_jwt_claims *c, const struct mg_jwt_rules *r)
{
    int64_t skew = r->skew < 0 ? MG_JWT_DEFAULT_SKEW : r->skew;
    if (skew > MG_JWT_MAX_SKEW)
        skew = MG_JWT_MAX_SKEW; /* and now +- skew cannot overflow */
    if (r->now < 0 || r->now > INT64_MAX / 2)
        return MG_JWT_EXPIRED; /* no sane clock */
    /* exp is required: a token that never expires is not accepted */
    if (!c->has_exp || r->now - skew >= c->exp)
        return MG_JWT_EXPIRED;
    if (c->has_nbf && r->now + skew < c->nbf)
        return MG_JWT_NOT_YET_VALID;
    if (c->has_iat && r->now + skew < c->iat)
        return MG_JWT_ISSUED_IN_FUTURE;
    if (r->issuer && (!c->iss || strcmp(c->iss, r->issuer) != 0))
        return MG_JWT_WRONG_ISSUER;
    /* agentcore-gateway-features.md §3.1-3.2: allowedAudience is matched against aud,
     * allowedClients against client_id (Cognito access tokens carry client_id and no aud; we
     * also accept azp, the OIDC authorized party); every configured list is checked ("if more
     * than one is used, the authorizer will verify them all"), and a token lacking the claim a
     * configured list checks fails that check. */
    if (r->n_audiences) {
        bool ok = false;
        if (json_is_string(c->aud)) {
            ok = s_in_list(json_string_value(c->aud), r->audiences, r->n_audiences);
        } else if (json_is_array(c->aud)) {
            size_t i;
            const json_t *e;
            json_array_foreach(c->aud, i, e) if (!ok && json_is_string(e))
                ok = s_in_list(json_string_value(e), r->audiences, r->n_audiences);
        }
        if (!ok)
            return MG_JWT_WRONG_AUDIENCE;
    }
    if (r->n_clients && !s_in_list(c->client_id, r->clients, r->n_clients) &&
        !s_in_list(c->azp, r->clients, r->n_clients))
        return MG_JWT_CLIENT_NOT_ALLOWED;
    /* §3.2: allowedScopes is any-of: one scope of the token (scope, space-separated, or scp,
     * string or array) must be configured; otherwise 403 insufficient_scope (§3.3). */
    if (r->n_scopes) {
        bool ok = false;
        if (json_is_string(c->scope)) {
            ok = s_word_in_list(json_string_value(c->scope), r->scopes, r->n_scopes);
        } else if (json_is_array(c->scope)) {
            size_t i;
            const json_t *e;
            json_array_foreach(c->scope, i, e) if (!ok && json_is_string(e))
                ok = s_in_list(json_string_value(e), r->scopes, r->n_scopes);
        }
        if (!ok)
            return MG_JWT_MISSING_SCOPE;
    }
    for (size_t i = 0; i < r->n_claims; i++)
        if (!mg_jwt_custom_claim_match(c->payload, &r->claims[i]))
            return MG_JWT_CLAIM_MISMATCH;
    return MG_JWT_OK;
}
