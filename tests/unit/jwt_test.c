/* tests/unit/jwt_test.c: JWS verification against JWKS built from keys made here, signed here by
 * hand (base64url, EVP_DigestSign, ECDSA DER to raw), and the claim rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "jwt/jwt.h"
#include "unit/leaks.h"

static EVP_PKEY *s_rsa, *s_rsa2, *s_rsa_small, *s_p256, *s_p384;

#define NOW 1800000000LL

/* ---- test-side encoding (libc only) ---- */

static char *b64url(const uint8_t *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
    }
    out[o] = 0;
    return out;
}

static char *b64s(const char *s)
{
    return b64url((const uint8_t *)s, strlen(s));
}

static char *bn_b64(const BIGNUM *bn, int pad)
{
    int n = pad ? pad : BN_num_bytes(bn);
    uint8_t *b = malloc((size_t)n);
    assert_int_equal(BN_bn2binpad(bn, b, n), n);
    char *r = b64url(b, (size_t)n);
    free(b);
    return r;
}

/* One JWK object (text) for a public key. */
static char *jwk(EVP_PKEY *k, const char *kid, const char *extra)
{
    char *out = malloc(4096);
    char kidm[300] = "";
    if (kid)
        snprintf(kidm, sizeof(kidm), "\"kid\":\"%s\",", kid);
    if (EVP_PKEY_is_a(k, "RSA")) {
        BIGNUM *n = NULL, *e = NULL;
        assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n));
        assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
        char *ns = bn_b64(n, 0), *es = bn_b64(e, 0);
        snprintf(out, 4096, "{%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s}", kidm, ns, es,
                 extra ? extra : "");
        free(ns);
        free(es);
        BN_free(n);
        BN_free(e);
    } else {
        BIGNUM *x = NULL, *y = NULL;
        assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x));
        assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y));
        int bits = EVP_PKEY_get_bits(k);
        int cl = (bits + 7) / 8;
        char *xs = bn_b64(x, cl), *ys = bn_b64(y, cl);
        snprintf(out, 4096, "{%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kidm,
                 bits == 256 ? "P-256" : "P-384", xs, ys, extra ? extra : "");
        free(xs);
        free(ys);
        BN_free(x);
        BN_free(y);
    }
    return out;
}

static struct mg_jwks *jwks_of(const char *keys_json)
{
    char doc[16384];
    snprintf(doc, sizeof(doc), "{\"keys\":[%s]}", keys_json);
    struct mg_jwks *j = NULL;
    struct mg_errinfo ei;
    assert_int_equal(mg_jwks_parse(mg_slice_cstr(doc), &j, &ei), MG_E_OK);
    return j;
}

static struct mg_jwks *jwks1(EVP_PKEY *k, const char *kid, const char *extra)
{
    char *j = jwk(k, kid, extra);
    struct mg_jwks *r = jwks_of(j);
    free(j);
    return r;
}

static const char *md_of(const char *alg)
{
    const char *h = alg + 2;
    return strcmp(h, "256") == 0 ? "SHA256" : strcmp(h, "384") == 0 ? "SHA384" : "SHA512";
}

/* Signs header.payload with alg; header is JSON text. */
static char *sign(EVP_PKEY *k, const char *alg, const char *header, const char *payload)
{
    char *h = b64s(header), *p = b64s(payload);
    size_t il = strlen(h) + 1 + strlen(p);
    char *input = malloc(il + 1);
    snprintf(input, il + 1, "%s.%s", h, p);
    uint8_t sig[1024];
    size_t sl = sizeof(sig);
    if (alg[0] == 'H') { /* HS*: k is unused, the secret is the PEM of s_rsa's public key */
        BIO *bio = BIO_new(BIO_s_mem());
        assert_true(PEM_write_bio_PUBKEY(bio, s_rsa));
        char *pem;
        long pl = BIO_get_mem_data(bio, &pem);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, md_of(alg), NULL, pem, (size_t)pl,
                                  (const uint8_t *)input, il, sig, sizeof(sig), &sl));
        BIO_free(bio);
    } else {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pc = NULL;
        assert_int_equal(EVP_DigestSignInit_ex(m, &pc, md_of(alg), NULL, NULL, k, NULL), 1);
        if (alg[0] == 'P') {
            assert_true(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
            assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) > 0);
        }
        assert_int_equal(EVP_DigestSign(m, sig, &sl, (const uint8_t *)input, il), 1);
        EVP_MD_CTX_free(m);
        if (alg[0] == 'E') { /* DER to JOSE r||s */
            const uint8_t *d = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)sl);
            assert_non_null(es);
            int cl = strcmp(alg, "ES256") == 0 ? 32 : 48;
            uint8_t raw[96];
            assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, cl), cl);
            assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + cl, cl), cl);
            ECDSA_SIG_free(es);
            memcpy(sig, raw, (size_t)(2 * cl));
            sl = (size_t)(2 * cl);
        }
    }
    char *s = b64url(sig, sl);
    size_t tl = il + 1 + strlen(s);
    char *tok = malloc(tl + 1);
    snprintf(tok, tl + 1, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return tok;
}

static char *sign_kid(EVP_PKEY *k, const char *alg, const char *kid, const char *payload)
{
    char hdr[512];
    if (kid)
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", alg, kid);
    else
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"typ\":\"JWT\"}", alg);
    return sign(k, alg, hdr, payload);
}

static const char *PAYLOAD =
    "{\"iss\":\"https://idp.example.com\",\"sub\":\"u1\",\"aud\":\"api\",\"exp\":1800000600,"
    "\"iat\":1800000000,\"scope\":\"read write\"}";

static enum mg_jwt_status verify(const struct mg_jwks *j, const char *tok)
{
    struct mg_jwt_claims c;
    enum mg_jwt_status st = mg_jwt_verify(j, mg_slice_cstr(tok), &c);
    if (st == MG_JWT_OK) {
        assert_non_null(c.payload);
        assert_string_equal(c.sub, "u1");
    } else {
        assert_null(c.payload);
    }
    mg_jwt_claims_cleanup(&c);
    return st;
}

/* ---- tests ---- */

static void test_jwt_each_alg_verifies(void **state)
{
    (void)state;
    static const char *rsa_algs[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
    struct mg_jwks *j = jwks1(s_rsa, "r1", NULL);
    assert_int_equal(mg_jwks_count(j), 1);
    for (size_t i = 0; i < 6; i++) {
        char *t = sign_kid(s_rsa, rsa_algs[i], "r1", PAYLOAD);
        assert_int_equal(verify(j, t), MG_JWT_OK);
        /* a flipped bit in the signature, the payload, the header */
        char *dot = strrchr(t, '.');
        dot[5] = dot[5] == 'A' ? 'B' : 'A';
        assert_int_equal(verify(j, t), MG_JWT_BAD_SIGNATURE);
        dot[5] = dot[5] == 'A' ? 'B' : 'A';
        char *p = strchr(t, '.') + 3;
        *p = *p == 'A' ? 'B' : 'A';
        assert_int_not_equal(verify(j, t), MG_JWT_OK);
        free(t);
    }
    mg_jwks_unref(j);

    struct mg_jwks *e = jwks1(s_p256, "e1", NULL);
    char *t = sign_kid(s_p256, "ES256", "e1", PAYLOAD);
    assert_int_equal(verify(e, t), MG_JWT_OK);
    char *dot = strrchr(t, '.');
    dot[10] = dot[10] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(e, t), MG_JWT_BAD_SIGNATURE);
    free(t);
    mg_jwks_unref(e);

    struct mg_jwks *e3 = jwks1(s_p384, "e3", NULL);
    t = sign_kid(s_p384, "ES384", "e3", PAYLOAD);
    assert_int_equal(verify(e3, t), MG_JWT_OK);
    free(t);
    mg_jwks_unref(e3);
}

static void test_jwt_refused_algs_and_headers(void **state)
{
    (void)state;
    struct mg_jwks *j = jwks1(s_rsa, "r1", NULL);
    /* alg none, with and without a signature part */
    char *h = b64s("{\"alg\":\"none\",\"kid\":\"r1\"}"), *p = b64s(PAYLOAD);
    char tok[4096];
    snprintf(tok, sizeof(tok), "%s.%s.", h, p);
    assert_int_equal(verify(j, tok), MG_JWT_MALFORMED);
    snprintf(tok, sizeof(tok), "%s.%s.AAAA", h, p);
    assert_int_equal(verify(j, tok), MG_JWT_UNSUPPORTED_ALG);
    free(h);
    /* HS256 keyed with the RSA public key (algorithm confusion) */
    static const char *hs[] = {"HS256", "HS384", "HS512"};
    for (size_t i = 0; i < 3; i++) {
        char *t = sign_kid(NULL, hs[i], "r1", PAYLOAD);
        assert_int_equal(verify(j, t), MG_JWT_UNSUPPORTED_ALG);
        free(t);
    }
    /* unknown alg, crit, keys carried by the token */
    static const char *hdrs[] = {
        "{\"alg\":\"RS1\",\"kid\":\"r1\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"r1\"}",
        "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"RS256\",\"kid\":\"r1\",\"jku\":\"https://evil.example/jwks\"}",
        "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x5u\":\"https://evil.example/x\"}",
        "{\"alg\":\"RS256\",\"kid\":\"r1\",\"jwk\":{\"kty\":\"RSA\"}}",
        "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x5c\":[\"AAAA\"]}",
    };
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        char *t = sign(s_rsa, "RS256", hdrs[i], PAYLOAD);
        assert_int_equal(verify(j, t), MG_JWT_UNSUPPORTED_ALG);
        free(t);
    }
    free(p);
    mg_jwks_unref(j);
}

static void test_jwt_key_type_and_kid(void **state)
{
    (void)state;
    char *kr = jwk(s_rsa, "k", NULL), *k256 = jwk(s_p256, "k", NULL),
         *k384 = jwk(s_p384, "k", NULL);
    struct mg_jwks *rsa = jwks_of(kr), *p384 = jwks_of(k384), *p256 = jwks_of(k256);
    /* RS256 token vs an EC key; ES256 token vs an RSA key and a P-384 key */
    char *t = sign_kid(s_rsa, "RS256", "k", PAYLOAD);
    assert_int_equal(verify(p256, t), MG_JWT_UNKNOWN_KID);
    free(t);
    t = sign_kid(s_p256, "ES256", "k", PAYLOAD);
    assert_int_equal(verify(rsa, t), MG_JWT_UNKNOWN_KID);
    assert_int_equal(verify(p384, t), MG_JWT_UNKNOWN_KID);
    assert_int_equal(verify(p256, t), MG_JWT_OK);
    free(t);
    /* ES384 signature under an ES256 header: wrong length */
    char *h = b64s("{\"alg\":\"ES256\",\"kid\":\"k\"}");
    char *t384 = sign_kid(s_p384, "ES384", "k", PAYLOAD);
    char tok[4096];
    snprintf(tok, sizeof(tok), "%s%s", h, strchr(t384, '.'));
    assert_int_equal(verify(p256, tok), MG_JWT_BAD_SIGNATURE);
    free(h);
    free(t384);
    mg_jwks_unref(rsa);
    mg_jwks_unref(p256);
    mg_jwks_unref(p384);

    /* unknown kid; kid mismatch (the right key under another kid); no kid in the token */
    char keys[12000];
    char *a = jwk(s_rsa, "a", NULL), *b = jwk(s_rsa2, "b", NULL);
    snprintf(keys, sizeof(keys), "%s,%s,%s", a, b, k256);
    struct mg_jwks *j = jwks_of(keys);
    assert_int_equal(mg_jwks_count(j), 3);
    t = sign_kid(s_rsa, "RS256", "zzz", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_UNKNOWN_KID);
    free(t);
    t = sign_kid(s_rsa, "RS256", "b", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_BAD_SIGNATURE);
    free(t);
    t = sign_kid(s_rsa2, "RS256", "b", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_OK);
    free(t);
    t = sign_kid(s_rsa2, "PS384", NULL, PAYLOAD); /* no kid: every RSA key is tried */
    assert_int_equal(verify(j, t), MG_JWT_OK);
    free(t);
    mg_jwks_unref(j);

    /* JWKS keys without kid: only a token without kid finds them */
    char *nk = jwk(s_rsa, NULL, NULL);
    j = jwks_of(nk);
    t = sign_kid(s_rsa, "RS256", NULL, PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_OK);
    free(t);
    t = sign_kid(s_rsa, "RS256", "x", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_UNKNOWN_KID);
    free(t);
    mg_jwks_unref(j);
    free(nk);

    /* a token without kid is tried against at most MG_JWT_MAX_KEYS_TRIED keys of its type */
    {
        char *wrong = jwk(s_rsa, NULL, NULL), *right = jwk(s_rsa2, NULL, NULL);
        char many[40000] = "";
        for (int i = 0; i < MG_JWT_MAX_KEYS_TRIED; i++)
            snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s,", wrong);
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s", right);
        j = jwks_of(many);
        assert_int_equal(mg_jwks_count(j), MG_JWT_MAX_KEYS_TRIED + 1);
        t = sign_kid(s_rsa2, "RS256", NULL, PAYLOAD);
        assert_int_not_equal(verify(j, t), MG_JWT_OK); /* the right key comes too late */
        free(t);
        t = sign_kid(s_rsa, "RS256", NULL, PAYLOAD);
        assert_int_equal(verify(j, t), MG_JWT_OK);
        free(t);
        mg_jwks_unref(j);
        free(wrong);
        free(right);
    }

    /* a JWK's alg must match the token's */
    j = jwks1(s_rsa, "a", ",\"alg\":\"RS512\"");
    t = sign_kid(s_rsa, "RS256", "a", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_UNKNOWN_KID);
    free(t);
    t = sign_kid(s_rsa, "RS512", "a", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_OK);
    free(t);
    mg_jwks_unref(j);
    free(a);
    free(b);
    free(kr);
    free(k256);
    free(k384);
}

static void test_jwks_parse_rules(void **state)
{
    (void)state;
    struct mg_jwks *j = NULL;
    struct mg_errinfo ei;
    static const char *bad[] = {"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":[}", "nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mg_err e = mg_jwks_parse(mg_slice_cstr(bad[i]), &j, &ei);
        assert_true(e == MG_E_PARSE || e == MG_E_NOMEM);
        assert_null(j);
    }
    /* skipped: use enc, short RSA, HS key, unknown crv, junk; kept: the good one */
    char *enc = jwk(s_rsa, "enc", ",\"use\":\"enc\""), *small = jwk(s_rsa_small, "small", NULL);
    char *sig = jwk(s_p256, "sig", ",\"use\":\"sig\",\"alg\":\"ES256\"");
    char *ecalg = jwk(s_p256, "ecrs", ",\"alg\":\"RS256\"");
    char keys[16000];
    snprintf(keys, sizeof(keys),
             "%s,%s,%s,%s,{\"kty\":\"oct\",\"k\":\"AAAA\"},{\"kty\":\"EC\",\"crv\":\"P-521\","
             "\"x\":\"AA\",\"y\":\"AA\"},{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"},"
             "{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"},1,{\"kty\":\"RSA\",\"alg\":\"HS256\"}",
             enc, small, sig, ecalg);
    j = jwks_of(keys);
    assert_int_equal(mg_jwks_count(j), 1);
    char *t = sign_kid(s_rsa, "RS256", "enc", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_UNKNOWN_KID);
    free(t);
    t = sign_kid(s_rsa_small, "RS256", "small", PAYLOAD);
    assert_int_equal(verify(j, t), MG_JWT_UNKNOWN_KID);
    free(t);
    t = sign_kid(s_p256, "ES256", "sig", PAYLOAD);
    assert_int_equal(verify(mg_jwks_ref(j), t), MG_JWT_OK);
    mg_jwks_unref(j);
    free(t);
    mg_jwks_unref(j);
    mg_jwks_unref(NULL);
    free(enc);
    free(small);
    free(sig);
    free(ecalg);
    /* an EC point not on the curve */
    j = jwks_of(
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
        "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    assert_int_equal(mg_jwks_count(j), 0);
    mg_jwks_unref(j);
    /* limits: 101 keys, too large */
    char *many = malloc(2000);
    size_t o = snprintf(many, 2000, "{\"keys\":[");
    for (int i = 0; i < 101; i++)
        o += (size_t)snprintf(many + o, 2000 - o, "%s{}", i ? "," : "");
    snprintf(many + o, 2000 - o, "]}");
    assert_int_not_equal(mg_jwks_parse(mg_slice_cstr(many), &j, &ei), MG_E_OK);
    free(many);
    char *big = calloc(1, MG_JWKS_MAX_BYTES + 2);
    memset(big, ' ', MG_JWKS_MAX_BYTES + 1);
    assert_int_equal(mg_jwks_parse(mg_slice_cstr(big), &j, &ei), MG_E_TOO_LARGE);
    free(big);
}

static void test_jwt_malformed(void **state)
{
    (void)state;
    struct mg_jwks *j = jwks1(s_p256, "k", NULL);
    char *good = sign_kid(s_p256, "ES256", "k", PAYLOAD);
    assert_int_equal(verify(j, good), MG_JWT_OK);
    char tok[20000];
    static const char *forms[] = {"", ".", "..", "a.b", "a.b.c.d", "%s.", "%s.x", ".%s"};
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        snprintf(tok, sizeof(tok), forms[i], good);
        assert_int_equal(verify(j, tok), MG_JWT_MALFORMED);
    }
    /* bad base64 (padding, bad character, non-canonical tail) */
    snprintf(tok, sizeof(tok), "%s=", good);
    assert_int_equal(verify(j, tok), MG_JWT_MALFORMED);
    snprintf(tok, sizeof(tok), "*%s", good);
    assert_int_equal(verify(j, tok), MG_JWT_MALFORMED);
    /* bad JSON in the header / payload, header not an object, bad claim types */
    static const char *hp[][2] = {
        {"{\"alg\":\"ES256\"", "{}"},
        {"[\"ES256\"]", "{}"},
        {"{\"alg\":5}", "{}"},
        {"{\"alg\":\"ES256\",\"kid\":7}", "{}"},
        {"{\"alg\":\"ES256\",\"alg\":\"ES256\"}", "{}"},
        {"{\"alg\":\"ES256\"}", "{\"exp\":"},
        {"{\"alg\":\"ES256\"}", "[1]"},
        {"{\"alg\":\"ES256\"}", "{\"exp\":\"soon\"}"},
        {"{\"alg\":\"ES256\"}", "{\"iss\":1}"},
        {"{\"alg\":\"ES256\"}", "{\"aud\":{}}"},
        {"{\"alg\":\"ES256\"}", "{\"scope\":[\"a\"]}"},
    };
    for (size_t i = 0; i < sizeof(hp) / sizeof(hp[0]); i++) {
        char *t = sign(s_p256, "ES256", hp[i][0], hp[i][1]);
        assert_int_equal(verify(j, t), MG_JWT_MALFORMED);
        free(t);
    }
    /* too deep */
    char deep[200] = "{\"sub\":\"u1\",\"x\":";
    for (int i = 0; i < 17; i++)
        strcat(deep, "[");
    for (int i = 0; i < 17; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    char *t = sign(s_p256, "ES256", "{\"alg\":\"ES256\"}", deep);
    assert_int_equal(verify(j, t), MG_JWT_MALFORMED);
    free(t);
    /* too long */
    char *longp = malloc(MG_JWT_MAX_TOKEN + 100);
    snprintf(longp, MG_JWT_MAX_TOKEN + 100, "{\"sub\":\"u1\",\"pad\":\"%0*d\"}", MG_JWT_MAX_TOKEN,
             0);
    t = sign(s_p256, "ES256", "{\"alg\":\"ES256\"}", longp);
    assert_int_equal(verify(j, t), MG_JWT_MALFORMED);
    free(t);
    free(longp);
    free(good);
    mg_jwks_unref(j);
}

/* Verifies an ES256 token of payload and validates it with r. */
static enum mg_jwt_status check(const char *payload, const struct mg_jwt_rules *r)
{
    struct mg_jwks *j = jwks1(s_p256, "k", NULL);
    char *t = sign_kid(s_p256, "ES256", "k", payload);
    struct mg_jwt_claims c;
    enum mg_jwt_status st = mg_jwt_verify(j, mg_slice_cstr(t), &c);
    if (st == MG_JWT_OK)
        st = mg_jwt_validate(&c, r);
    mg_jwt_claims_cleanup(&c);
    free(t);
    mg_jwks_unref(j);
    return st;
}

static void test_jwt_time_and_issuer(void **state)
{
    (void)state;
    struct mg_jwt_rules r = {.issuer = "https://idp.example.com", .now = NOW, .skew = -1};
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_OK);
    r.now = NOW + 600 + 59; /* within the default 60 s skew */
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_OK);
    r.now = NOW + 600 + 60;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_EXPIRED);
    r.skew = 0;
    r.now = NOW + 600;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_EXPIRED);
    r.now = NOW + 599;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_OK);
    /* no exp: refused */
    assert_int_equal(check("{\"sub\":\"u1\",\"iss\":\"https://idp.example.com\"}", &r),
                     MG_JWT_EXPIRED);
    /* nbf and iat in the future, with and without skew */
    const char *nbf = "{\"sub\":\"u1\",\"iss\":\"https://idp.example.com\",\"exp\":1800000600,"
                      "\"nbf\":1800000030}";
    const char *iat = "{\"sub\":\"u1\",\"iss\":\"https://idp.example.com\",\"exp\":1800000600,"
                      "\"iat\":1800000030.5}";
    r.now = NOW;
    assert_int_equal(check(nbf, &r), MG_JWT_NOT_YET_VALID);
    assert_int_equal(check(iat, &r), MG_JWT_ISSUED_IN_FUTURE);
    r.skew = -1;
    assert_int_equal(check(nbf, &r), MG_JWT_OK);
    assert_int_equal(check(iat, &r), MG_JWT_OK);
    r.skew = 10;
    assert_int_equal(check(nbf, &r), MG_JWT_NOT_YET_VALID);
    /* a huge skew is clamped to MG_JWT_MAX_SKEW */
    r.skew = INT64_MAX;
    r.now = NOW + 600 + MG_JWT_MAX_SKEW;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_EXPIRED);
    r.now = NOW + 600 + MG_JWT_MAX_SKEW - 1;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_OK);
    r.skew = -1;
    r.now = NOW;
    /* issuer: exact */
    r.issuer = "https://idp.example.com/";
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_WRONG_ISSUER);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600}", &r), MG_JWT_WRONG_ISSUER);
}

static void test_jwt_audience_clients_scopes(void **state)
{
    (void)state;
    const char *aud[] = {"other", "api"}, *bad_aud[] = {"nope"};
    struct mg_jwt_rules r = {.now = NOW, .skew = -1, .audiences = aud, .n_audiences = 2};
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_OK);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"aud\":[\"x\",\"api\"]}", &r),
                     MG_JWT_OK);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"aud\":[\"x\",7]}", &r),
                     MG_JWT_WRONG_AUDIENCE);
    r.audiences = bad_aud;
    r.n_audiences = 1;
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_WRONG_AUDIENCE);

    /* Cognito access token: client_id, no aud */
    const char *cognito = "{\"sub\":\"u1\",\"exp\":1800000600,\"client_id\":\"c1\","
                          "\"scope\":\"mcp/read mcp/write\",\"token_use\":\"access\"}";
    const char *clients[] = {"c0", "c1"}, *scopes[] = {"mcp/write"}, *scopes2[] = {"admin"};
    assert_int_equal(check(cognito, &r), MG_JWT_WRONG_AUDIENCE); /* allowedAudience set */
    r = (struct mg_jwt_rules){.now = NOW, .skew = -1, .clients = clients, .n_clients = 2};
    assert_int_equal(check(cognito, &r), MG_JWT_OK);
    assert_int_equal(check(PAYLOAD, &r), MG_JWT_CLIENT_NOT_ALLOWED);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"azp\":\"c0\"}", &r), MG_JWT_OK);
    r.n_clients = 1;
    assert_int_equal(check(cognito, &r), MG_JWT_CLIENT_NOT_ALLOWED);
    r.n_clients = 2;
    r.scopes = scopes;
    r.n_scopes = 1;
    assert_int_equal(check(cognito, &r), MG_JWT_OK);
    r.scopes = scopes2;
    assert_int_equal(check(cognito, &r), MG_JWT_MISSING_SCOPE);
    assert_true(mg_jwt_status_is_forbidden(MG_JWT_MISSING_SCOPE));
    assert_false(mg_jwt_status_is_forbidden(MG_JWT_BAD_SIGNATURE));
    /* scp forms (Entra): string and array; a token without scopes */
    r = (struct mg_jwt_rules){.now = NOW, .skew = -1, .scopes = scopes, .n_scopes = 1};
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"scp\":\"a mcp/write\"}", &r),
                     MG_JWT_OK);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"scp\":[\"a\",\"mcp/write\"]}", &r),
                     MG_JWT_OK);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"scp\":[\"mcp/write x\"]}", &r),
                     MG_JWT_MISSING_SCOPE);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600}", &r), MG_JWT_MISSING_SCOPE);
    assert_int_equal(check("{\"sub\":\"u1\",\"exp\":1800000600,\"scope\":\"mcp/writer\"}", &r),
                     MG_JWT_MISSING_SCOPE);
    for (int s = MG_JWT_OK; s <= MG_JWT_NOMEM; s++)
        assert_non_null(mg_jwt_status_str((enum mg_jwt_status)s));
}

static void test_jwt_custom_claims(void **state)
{
    (void)state;
    json_error_t je;
    json_t *p = json_loads("{\"azp\":\"app-1\",\"groups\":[\"a\",\"b\",3],\"n\":5}", 0, &je);
    if (!p)
        return; /* an injected allocation failure */
    const char *any[] = {"x", "b"}, *none[] = {"x", "y"};
    struct mg_jwt_custom_claim eq = {"azp", MG_CLAIM_STRING, MG_CLAIM_EQUALS, "app-1", NULL, 0};
    assert_true(mg_jwt_custom_claim_match(p, &eq));
    eq.value = "app-2";
    assert_false(mg_jwt_custom_claim_match(p, &eq));
    eq.name = "n";
    eq.value = "5";
    assert_false(mg_jwt_custom_claim_match(p, &eq)); /* not a string */
    eq.name = "missing";
    assert_false(mg_jwt_custom_claim_match(p, &eq));
    struct mg_jwt_custom_claim ct = {"groups", MG_CLAIM_STRING_ARRAY, MG_CLAIM_CONTAINS, "b", NULL,
                                     0};
    assert_true(mg_jwt_custom_claim_match(p, &ct));
    ct.value = "c";
    assert_false(mg_jwt_custom_claim_match(p, &ct));
    ct.name = "azp"; /* a string is not an array */
    ct.value = "app-1";
    assert_false(mg_jwt_custom_claim_match(p, &ct));
    struct mg_jwt_custom_claim ca = {
        "groups", MG_CLAIM_STRING_ARRAY, MG_CLAIM_CONTAINS_ANY, NULL, any, 2};
    assert_true(mg_jwt_custom_claim_match(p, &ca));
    ca.values = none;
    assert_false(mg_jwt_custom_claim_match(p, &ca));
    json_decref(p);

    /* through mg_jwt_validate: every rule must hold */
    struct mg_jwt_custom_claim rules[2] = {
        {"azp", MG_CLAIM_STRING, MG_CLAIM_EQUALS, "app-1", NULL, 0},
        {"groups", MG_CLAIM_STRING_ARRAY, MG_CLAIM_CONTAINS, "a", NULL, 0},
    };
    struct mg_jwt_rules r = {.now = NOW, .skew = -1, .claims = rules, .n_claims = 2};
    const char *tok = "{\"sub\":\"u1\",\"exp\":1800000600,\"azp\":\"app-1\",\"groups\":[\"a\"]}";
    assert_int_equal(check(tok, &r), MG_JWT_OK);
    rules[1].value = "z";
    assert_int_equal(check(tok, &r), MG_JWT_CLAIM_MISMATCH);
}

/* Tokens signed by another implementation (Python cryptography), with its JWKS. */
static const char *INTEROP_JWKS =
    "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"r\", \"use\": \"sig\", \"n\": \"umdaAn6S5EGGUPjc"
    "mAwMe0TiWSyzDJ5Rk_G8NL6oWts-wTpRNZhkXWSb6YwRiykVUNSXANaOvu5yw_4TBL-UlKySGxj6HoSZ8EOj5jcIqa"
    "2tjCNvUvaYXmkBh2E9mw77z_qr9gSwLo2yi60OX8S4UumTBUvypnH9dtvbMquQ9aUBw-Ge68Gi7Wrz4bMhc59jD3oE"
    "CcMpJxPuX9cLYhX7QZU5zJvYP3okHp8tD2SY7pF41IyrvEkDkHUdwtoCj28dg8BHQFQgPURdx_ZFDYhVBNO4spaULd"
    "msbzVmikvVgs-Q6wJov5HI6GSLAOzFIajzJb7mY3dvcE6xkIAYS9q9Tw\", \"e\": \"AQAB\"}, {\"kty\": "
    "\"EC\", \"kid\": \"e2\", \"crv\": \"P-256\", \"x\": "
    "\"37G01BnOoPbcoyrbt3Dxkz_tiUrqPLuP-oyjLrV2kEs\", \"y\": "
    "\"JX5FjSG5c3OXDZDeovvNRinzdek8halGrFcTW0u4sRI\"}, {\"kty\": \"EC\", \"kid\": \"e3\", "
    "\"crv\": \"P-384\", \"x\": "
    "\"k1aKQvBAKSerqKjsk-BMrB6PLqJvovzS5zeEF_Hif1ye-x0Low25Kox8paYVTY2G\", \"y\": "
    "\"03MpUSo1Wo0l8f7n-ut6LKmG5nn8hVcFuARg0nBcVKOpsEtdB9mNjiS1v_beDHXi\"}]}";
static const char *const INTEROP_TOKENS[] = {
    "eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCIsICJraWQiOiAiciJ9.eyJpc3MiOiAiaXNzIiwgInN1YiI6ICJ1I"
    "iwgImF1ZCI6IFsiYXBpIl0sICJjbGllbnRfaWQiOiAiYzEiLCAiYXpwIjogImFwcCIsICJzY29wZSI6ICJyZWFkIHd"
    "yaXRlIiwgImdyb3VwcyI6IFsiZyIsICJhIl0sICJleHAiOiAxODAwMDAwNjAwLCAiaWF0IjogMTgwMDAwMDAwMCwgI"
    "m5iZiI6IDE3OTk5OTk5OTl9.dG7I0EoOJuvoSV_2yhk_-XyTbas_vIrcpNcBMraaVK2CB8n9Kq5eM_LABawPtLy8h9"
    "8IzLDRlBWvGoGWToA9fM3nkdpw1w_JF8sJhnfTF329LL2dY-sSPMziVUnF3_PN-k5Am5HFlRvv4QbTaXfNid0qyQYC"
    "vHlhZg-eiWK6myo4C0gXfuOf7qlmEGQ-aH42pZ0sPVbvVvfml2-xy--OtWXHLh6-JBqvLqPip__j3-BkyPA3vMQ1Ko"
    "QuJr4Cr-cy8uN4rKoLA5x93L3K-OnZeK-4XGSdyl81Wndf94i3oxi1eCLFQ4qTrE1_rjMzoTzPcUdBKoeVXDnlWyK0"
    "_c-xMQ",
    "eyJhbGciOiAiUFMyNTYiLCAidHlwIjogIkpXVCIsICJraWQiOiAiciJ9.eyJpc3MiOiAiaXNzIiwgInN1YiI6ICJ1I"
    "iwgImF1ZCI6IFsiYXBpIl0sICJjbGllbnRfaWQiOiAiYzEiLCAiYXpwIjogImFwcCIsICJzY29wZSI6ICJyZWFkIHd"
    "yaXRlIiwgImdyb3VwcyI6IFsiZyIsICJhIl0sICJleHAiOiAxODAwMDAwNjAwLCAiaWF0IjogMTgwMDAwMDAwMCwgI"
    "m5iZiI6IDE3OTk5OTk5OTl9.W2wGNyMXDHRzUHR57nA_0cRedziiI4NpHCbtgo_uQoj482j9vWhgft_exXa_wHYjJU"
    "N-Svz5rdu_jrAchFIfdw_M26JoQ_oqyvvu2ZCvTmA5sa1Bq0actspXs2X7V4MzQV3JQPLVLsGavhuacZlsb5PzzOsu"
    "zPtk6gHacWpDsaVp325k8OU2cR0fHY1Y2uXI7_HAmHyjsGdc2KCZSDE2x5ri0FkegkDVRFgOZ9FMsUYitBjpK_-ECj"
    "OAroV7mxXIr_--wCXn0pqs1pg-NfvNuOQuqtXoAkmSCtY0YTdyF_dKVB9sAohHfQOzrgz3v8Wmn79vH2xI0ZkHbFdu"
    "rmZSqw",
    "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogIkpXVCIsICJraWQiOiAiZTIifQ.eyJpc3MiOiAiaXNzIiwgInN1YiI6ICJ"
    "1IiwgImF1ZCI6IFsiYXBpIl0sICJjbGllbnRfaWQiOiAiYzEiLCAiYXpwIjogImFwcCIsICJzY29wZSI6ICJyZWFkI"
    "HdyaXRlIiwgImdyb3VwcyI6IFsiZyIsICJhIl0sICJleHAiOiAxODAwMDAwNjAwLCAiaWF0IjogMTgwMDAwMDAwMCw"
    "gIm5iZiI6IDE3OTk5OTk5OTl9.d-0qqFbCsIAUVL3_TqVpLsDehmMiO_fLqJdMADQNZ4ym3d-10qT-O_VdrAgZM0ql"
    "_pCDAOoDuZEwlkY4xxB_qA",
    "eyJhbGciOiAiRVMzODQiLCAidHlwIjogIkpXVCIsICJraWQiOiAiZTMifQ.eyJpc3MiOiAiaXNzIiwgInN1YiI6ICJ"
    "1IiwgImF1ZCI6IFsiYXBpIl0sICJjbGllbnRfaWQiOiAiYzEiLCAiYXpwIjogImFwcCIsICJzY29wZSI6ICJyZWFkI"
    "HdyaXRlIiwgImdyb3VwcyI6IFsiZyIsICJhIl0sICJleHAiOiAxODAwMDAwNjAwLCAiaWF0IjogMTgwMDAwMDAwMCw"
    "gIm5iZiI6IDE3OTk5OTk5OTl9.T72zeS4p2R_1yhovFTc3wClIwCGaP_vLnn-uFitidM1rpUWIuev41W88JvjJ0yju"
    "vgyrKmgoXmhdjdkmmrzpRVbuUZawkT7Sx8w17_viiD1dght3OkDZ9ltM3-sxVcZS",
};

static void test_jwt_interop_vectors(void **state)
{
    (void)state;
    struct mg_jwks *j = NULL;
    struct mg_errinfo ei;
    enum mg_err e = mg_jwks_parse(mg_slice_cstr(INTEROP_JWKS), &j, &ei);
    if (e == MG_E_NOMEM)
        return;
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(mg_jwks_count(j), 3);
    const char *aud[] = {"api"}, *clients[] = {"c1"}, *scopes[] = {"write"};
    struct mg_jwt_rules r = {.issuer = "iss",
                             .now = NOW,
                             .skew = -1,
                             .audiences = aud,
                             .n_audiences = 1,
                             .clients = clients,
                             .n_clients = 1,
                             .scopes = scopes,
                             .n_scopes = 1};
    for (size_t i = 0; i < sizeof(INTEROP_TOKENS) / sizeof(INTEROP_TOKENS[0]); i++) {
        struct mg_jwt_claims c;
        enum mg_jwt_status st = mg_jwt_verify(j, mg_slice_cstr(INTEROP_TOKENS[i]), &c);
        if (st == MG_JWT_NOMEM)
            break;
        assert_int_equal(st, MG_JWT_OK);
        assert_int_equal(mg_jwt_validate(&c, &r), MG_JWT_OK);
        assert_string_equal(c.sub, "u");
        mg_jwt_claims_cleanup(&c);
    }
    mg_jwks_unref(j);
}

int main(void)
{
    s_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    s_rsa2 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    s_rsa_small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    s_p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    s_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    if (!s_rsa || !s_rsa2 || !s_rsa_small || !s_p256 || !s_p384)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_each_alg_verifies),
        cmocka_unit_test(test_jwt_refused_algs_and_headers),
        cmocka_unit_test(test_jwt_key_type_and_kid),
        cmocka_unit_test(test_jwks_parse_rules),
        cmocka_unit_test(test_jwt_malformed),
        cmocka_unit_test(test_jwt_time_and_issuer),
        cmocka_unit_test(test_jwt_audience_clients_scopes),
        cmocka_unit_test(test_jwt_custom_claims),
        cmocka_unit_test(test_jwt_interop_vectors),
    };
    return MG_RUN_TESTS(tests);
}
