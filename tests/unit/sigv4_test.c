/* tests/unit/sigv4_test.c: SigV4 against AWS's signing test suite (via MG_SHARED_DIR), our own
 * round trips and negative cases, the key cache, and vectors captured from curl --aws-sigv4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "base/util.h"
#include "sigv4/sigv4.h"
#include "sigv4/sigv4_internal.h"
#include "unit/leaks.h"

/* ------------------------------------------------------------------------------------------ */
/* helpers */

static char *s_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct mg_buf b;
    mg_buf_init(&b, 1u << 24);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        assert_int_equal(mg_buf_append(&b, tmp, n), MG_E_OK);
    fclose(f);
    assert_non_null(mg_buf_cstr(&b));
    if (len)
        *len = b.len;
    return (char *)mg_buf_take(&b, NULL);
}

/* An HTTP/1.1 request as written in the test suite's files. */
struct treq {
    char *raw;
    struct mg_kv h[64];
    struct mg_sigv4_request req;
};

static void s_parse_http(struct treq *t, char *raw, size_t len)
{
    memset(t, 0, sizeof(*t));
    t->raw = raw;
    char *end = raw + len;
    char *eol = memchr(raw, '\n', len);
    char *line_end = eol ? eol : end;
    char *sp = memchr(raw, ' ', (size_t)(line_end - raw));
    assert_non_null(sp);
    t->req.method = mg_slice_make(raw, (size_t)(sp - raw));
    char *target = sp + 1;
    char *tend = line_end;
    static const char proto[] = " HTTP/1.1";
    assert_true((size_t)(tend - target) >= sizeof(proto) - 1);
    tend -= sizeof(proto) - 1;
    assert_memory_equal(tend, proto, sizeof(proto) - 1);
    char *q = memchr(target, '?', (size_t)(tend - target));
    if (q) {
        t->req.path = mg_slice_make(target, (size_t)(q - target));
        t->req.query = mg_slice_make(q + 1, (size_t)(tend - q - 1));
    } else {
        t->req.path = mg_slice_make(target, (size_t)(tend - target));
    }
    char *p = eol ? eol + 1 : end;
    size_t n = 0;
    while (p < end && *p != '\n') {
        char *le = memchr(p, '\n', (size_t)(end - p));
        if (!le)
            le = end;
        if ((*p == ' ' || *p == '\t') && n > 0) {
            /* obsolete line folding: the value runs on to the end of this line */
            t->h[n - 1].value.len = (size_t)(le - (const char *)t->h[n - 1].value.ptr);
        } else {
            char *colon = memchr(p, ':', (size_t)(le - p));
            assert_non_null(colon);
            for (char *c = p; c < colon; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c + 32);
            assert_true(n < 64);
            t->h[n].name = mg_slice_make(p, (size_t)(colon - p));
            t->h[n].value = mg_slice_make(colon + 1, (size_t)(le - colon - 1));
            n++;
        }
        p = le < end ? le + 1 : end;
    }
    if (p < end && *p == '\n')
        p++;
    t->req.body = mg_slice_make(p, (size_t)(end - p));
    t->req.headers = t->h;
    t->req.n_headers = n;
}

static bool s_load_http(struct treq *t, const char *path)
{
    size_t len;
    char *raw = s_read_file(path, &len);
    if (!raw)
        return false;
    s_parse_http(t, raw, len);
    return true;
}

static void s_treq_free(struct treq *t)
{
    mg_free(t->raw);
    t->raw = NULL;
}

static void s_assert_slice_eq(struct mg_slice got, const char *want, size_t want_len,
                              const char *what)
{
    if (got.len != want_len || memcmp(got.ptr, want, want_len) != 0) {
        print_error("%s differs:\n--- got\n%.*s\n--- want\n%.*s\n", what, MG_SLICE_ARG(got),
                    (int)want_len, want);
        fail();
    }
}

/* Canonical request, string to sign and signature of a parsed request, by the building blocks. */
static void s_compute(const struct mg_sigv4_request *req, const struct mg_sigv4_auth *auth,
                      struct mg_slice secret, unsigned flags, struct mg_buf *creq,
                      struct mg_buf *sts, char sig[65])
{
    assert_int_equal(mg_sigv4_canonical_request_ex(req, auth, mg_slice_make(NULL, 0), flags, creq),
                     MG_E_OK);
    assert_int_equal(mg_sigv4_string_to_sign(auth, mg_buf_slice(creq), sts), MG_E_OK);
    uint8_t key[32], mac[32];
    mg_sigv4_signing_key(secret, auth->scope_date, auth->region, auth->service, key);
    assert_true(mg_sigv4_hmac(key, 32, mg_buf_slice(sts), mac));
    mg_hex_encode(mac, 32, sig);
    sig[64] = 0;
}

/* The verifier's one-pass canonical request (mg_sigv4_canonical_verify) must agree with the
 * building blocks: same verdict and message as mg_sigv4_check_signed_headers(), same bytes as
 * mg_sigv4_canonical_request_ex() (or the same error) when the list is good. */
static void s_assert_one_pass(const struct mg_sigv4_request *req, const struct mg_sigv4_auth *auth)
{
    struct mg_errinfo e1 = {0}, e2 = {0};
    struct mg_buf a, b;
    mg_buf_init(&a, 1u << 20);
    mg_buf_init(&b, 1u << 20);
    char hex[64];
    struct mg_slice payload = {0}, v;
    if (mg_sigv4_header(req, "x-amz-content-sha256", &v)) {
        payload = mg_slice_trim(v);
    } else {
        uint8_t h[32];
        assert_true(mg_sigv4_sha256(req->body, h));
        mg_hex_encode(h, 32, hex);
        payload = mg_slice_make(hex, 64);
    }
    enum mg_err ea = mg_sigv4_canonical_request_ex(req, auth, payload, 0, &a), eb = MG_E_INTERNAL;
    enum mg_sigv4_status s1 = mg_sigv4_check_signed_headers(req, auth, &e1);
    enum mg_sigv4_status s2 = mg_sigv4_canonical_verify(req, auth, payload, &b, &eb, &e2);
    assert_int_equal(s1, s2);
    if (s1 != MG_SIGV4_OK) {
        assert_int_equal(e1.code, e2.code);
        assert_string_equal(e1.msg, e2.msg);
    } else {
        assert_int_equal(ea, eb);
        if (ea == MG_E_OK)
            s_assert_slice_eq(mg_buf_slice(&b), (const char *)a.ptr, a.len, "one-pass creq");
    }
    mg_buf_cleanup(&a);
    mg_buf_cleanup(&b);
}

static const char *s_shared_dir(void)
{
    const char *d = getenv("MG_SHARED_DIR");
    return d && *d ? d : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* 1. AWS's test suite */

struct vctx {
    const char *akid, *secret, *token, *region, *service;
    int64_t ts, expires;
    bool normalize, sign_body, omit_token;
};

static void s_load_ctx(json_t *j, struct vctx *c)
{
    json_t *cred = json_object_get(j, "credentials");
    c->akid = json_string_value(json_object_get(cred, "access_key_id"));
    c->secret = json_string_value(json_object_get(cred, "secret_access_key"));
    c->token = json_string_value(json_object_get(cred, "token"));
    c->region = json_string_value(json_object_get(j, "region"));
    c->service = json_string_value(json_object_get(j, "service"));
    const char *ts = json_string_value(json_object_get(j, "timestamp"));
    assert_non_null(ts);
    assert_true(mg_time_parse_iso8601(mg_slice_cstr(ts), &c->ts));
    c->expires = json_integer_value(json_object_get(j, "expiration_in_seconds"));
    c->normalize = json_is_true(json_object_get(j, "normalize"));
    c->sign_body = json_is_true(json_object_get(j, "sign_body"));
    c->omit_token = json_is_true(json_object_get(j, "omit_session_token"));
    assert_non_null(c->akid);
    assert_non_null(c->secret);
}

static void s_vector_form(const char *dir, const char *name, const struct vctx *c, bool query,
                          struct mg_sigv4_key_cache *cache)
{
    const char *form = query ? "query" : "header";
    char path[2048];
    struct treq t;
    snprintf(path, sizeof(path), "%s/%s-signed-request.txt", dir, form);
    assert_true(s_load_http(&t, path));
    size_t creq_len, sts_len, sig_len;
    snprintf(path, sizeof(path), "%s/%s-canonical-request.txt", dir, form);
    char *want_creq = s_read_file(path, &creq_len);
    snprintf(path, sizeof(path), "%s/%s-string-to-sign.txt", dir, form);
    char *want_sts = s_read_file(path, &sts_len);
    snprintf(path, sizeof(path), "%s/%s-signature.txt", dir, form);
    char *want_sig = s_read_file(path, &sig_len);
    assert_non_null(want_creq);
    assert_non_null(want_sts);
    assert_non_null(want_sig);

    struct mg_sigv4_auth auth;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_sigv4_parse(&t.req, &auth, &ei), MG_SIGV4_OK);
    assert_int_equal(auth.presigned, query);
    assert_true(mg_slice_eq_cstr(auth.access_key_id, c->akid));
    assert_true(mg_slice_eq_cstr(auth.region, c->region));
    if (query)
        assert_int_equal(auth.expires, c->expires);
    const char *regions[] = {c->region};
    assert_int_equal(mg_sigv4_check(&auth, regions, 1, c->service, c->ts, 900, &ei), MG_SIGV4_OK);

    /* A normalising verifier accepts every `normalize: true` case; of the S3-style
     * `normalize: false` ones only get-space-unnormalized keeps its path under normalisation. */
    bool expect_ok = c->normalize || strcmp(name, "get-space-unnormalized") == 0;
    unsigned flags = query && c->omit_token ? MG_SIGV4_CANON_OMIT_QUERY_TOKEN : 0;
    struct mg_buf creq, sts;
    mg_buf_init(&creq, 1u << 20);
    mg_buf_init(&sts, 1u << 20);
    char sig[65];
    s_compute(&t.req, &auth, mg_slice_cstr(c->secret), flags, &creq, &sts, sig);
    s_assert_one_pass(&t.req, &auth);
    if (expect_ok) {
        s_assert_slice_eq(mg_buf_slice(&creq), want_creq, creq_len, "canonical request");
        s_assert_slice_eq(mg_buf_slice(&sts), want_sts, sts_len, "string to sign");
        s_assert_slice_eq(mg_slice_make(sig, 64), want_sig, sig_len, "signature");
    } else {
        assert_false(creq.len == creq_len && memcmp(creq.ptr, want_creq, creq_len) == 0);
    }
    s_assert_slice_eq(auth.signature, want_sig, sig_len, "signature in the request");

    enum mg_sigv4_status want = expect_ok ? MG_SIGV4_OK : MG_SIGV4_MISMATCH;
    ei.msg[0] = 0;
    assert_int_equal(mg_sigv4_verify(&t.req, &auth, mg_slice_cstr(c->secret), NULL, &ei), want);
    assert_int_equal(mg_sigv4_verify(&t.req, &auth, mg_slice_cstr(c->secret), cache, &ei), want);
    assert_int_equal(mg_sigv4_verify(&t.req, &auth, mg_slice_cstr(c->secret), cache, &ei), want);
    assert_int_equal(mg_sigv4_verify(&t.req, &auth, MG_SLICE_LIT("wrong"), cache, &ei),
                     MG_SIGV4_MISMATCH);
    if (c->token) {
        struct mg_buf tok;
        mg_buf_init(&tok, 1u << 16);
        assert_int_equal(mg_sigv4_token(&auth, &tok), MG_E_OK);
        s_assert_slice_eq(mg_buf_slice(&tok), c->token, strlen(c->token), "session token");
        mg_buf_cleanup(&tok);
    }
    /* Negative: the clock, and a body that differs from a signed x-amz-content-sha256. */
    assert_int_equal(mg_sigv4_check(&auth, regions, 1, c->service,
                                    c->ts + (query ? c->expires : 900) + 1, 900, &ei),
                     MG_SIGV4_SKEW);
    assert_int_equal(mg_sigv4_check(&auth, regions, 1, c->service, c->ts - 901, 900, &ei),
                     MG_SIGV4_SKEW);
    if (t.req.body.len && expect_ok) {
        struct mg_sigv4_request r = t.req;
        char *b = mg_slice_dup(r.body);
        b[0] ^= 1;
        r.body = mg_slice_make(b, r.body.len);
        enum mg_sigv4_status st = mg_sigv4_verify(&r, &auth, mg_slice_cstr(c->secret), NULL, &ei);
        assert_true(st == MG_SIGV4_MISMATCH || st == MG_SIGV4_INCOMPLETE);
        mg_free(b);
    }
    mg_buf_cleanup(&creq);
    mg_buf_cleanup(&sts);
    mg_free(want_creq);
    mg_free(want_sts);
    mg_free(want_sig);
    s_treq_free(&t);
}

/* The outbound signer, from request.txt, must produce the suite's Authorization header. */
static void s_vector_signer(const char *dir, const struct vctx *c)
{
    char path[2048];
    struct treq t, s;
    snprintf(path, sizeof(path), "%s/request.txt", dir);
    assert_true(s_load_http(&t, path));
    snprintf(path, sizeof(path), "%s/header-signed-request.txt", dir);
    assert_true(s_load_http(&s, path));
    struct mg_kv h[70];
    size_t n = t.req.n_headers;
    memcpy(h, t.h, n * sizeof(h[0]));
    char body_hex[65];
    if (c->sign_body) {
        uint8_t d[32];
        assert_true(mg_sigv4_sha256(t.req.body, d));
        mg_hex_encode(d, 32, body_hex);
        h[n++] = (struct mg_kv){MG_SLICE_LIT("x-amz-content-sha256"), mg_slice_make(body_hex, 64)};
    }
    if (c->token && !c->omit_token)
        h[n++] = (struct mg_kv){MG_SLICE_LIT("x-amz-security-token"), mg_slice_cstr(c->token)};
    struct mg_sigv4_request r = t.req;
    r.headers = h;
    r.n_headers = n;
    struct mg_sigv4_signer signer = {
        .access_key_id = mg_slice_cstr(c->akid),
        .secret = mg_slice_cstr(c->secret),
        .session_token = c->token && !c->omit_token ? mg_slice_cstr(c->token)
                                                    : mg_slice_make(NULL, 0),
        .region = mg_slice_cstr(c->region),
        .service = mg_slice_cstr(c->service),
        .now = c->ts,
    };
    char date[17];
    struct mg_buf out;
    mg_buf_init(&out, 4096);
    assert_int_equal(mg_sigv4_sign(&signer, &r, date, &out), MG_E_OK);
    struct mg_slice want = {0}, want_date = {0};
    for (size_t i = 0; i < s.req.n_headers; i++) {
        if (mg_slice_eq_cstr(s.h[i].name, "authorization"))
            want = s.h[i].value;
        if (mg_slice_eq_cstr(s.h[i].name, "x-amz-date"))
            want_date = s.h[i].value;
    }
    s_assert_slice_eq(mg_buf_slice(&out), (const char *)want.ptr, want.len, "Authorization");
    s_assert_slice_eq(want_date, date, 16, "X-Amz-Date");
    mg_buf_cleanup(&out);
    s_treq_free(&t);
    s_treq_free(&s);
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_sigv4_aws_suite(void **state)
{
    (void)state;
    const char *shared = s_shared_dir();
    char root[1024];
    snprintf(root, sizeof(root), "%s/testdata/sigv4/v4", shared ? shared : "");
    DIR *d = shared ? opendir(root) : NULL;
    if (!d) {
        print_message("skipping AWS SigV4 suite: %s not found (set MG_SHARED_DIR)\n", root);
        skip();
    }
    char *names[128];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 128)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(names[0]), s_name_cmp);
    struct mg_sigv4_key_cache *cache = mg_sigv4_key_cache_new(8);
    assert_non_null(cache);
    size_t forms = 0, signed_ok = 0;
    for (size_t i = 0; i < n; i++) {
        char dir[1400], path[1500];
        snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
        snprintf(path, sizeof(path), "%s/context.json", dir);
        json_error_t jerr;
        json_t *j = json_load_file(path, 0, &jerr);
        assert_non_null(j);
        struct vctx c;
        s_load_ctx(j, &c);
        s_vector_form(dir, names[i], &c, false, cache);
        s_vector_form(dir, names[i], &c, true, cache);
        forms += 2;
        if (c.normalize || strcmp(names[i], "get-space-unnormalized") == 0) {
            s_vector_signer(dir, &c);
            signed_ok++;
        }
        json_decref(j);
        free(names[i]);
    }
    mg_sigv4_key_cache_free(cache);
    print_message("AWS SigV4 suite: %zu cases, %zu vectors verified, %zu signed\n", n, forms,
                  signed_ok);
    assert_int_equal(n, 38);
}

/* ------------------------------------------------------------------------------------------ */
/* 2. own vectors */

#define AKID "AKIAMCPGATEEXAMPLE01"
#define SECRET "mcpgate/secret/EXAMPLEKEY+0123456789abcd"
#define REGION "us-west-2"
#define SERVICE "bedrock-agentcore"
#define T0 1798761600 /* 2027-01-01T00:00:00Z */

/* A signed request that the tests then mutate. */
struct own {
    char method[16], path[256], query[512], host[64], ctype[64], token[64], date[17];
    char body[1100];
    char authz[600];
    struct mg_kv h[16];
    size_t n;
    struct mg_sigv4_request req;
};

static void s_own_headers(struct own *o, bool with_auth)
{
    o->n = 0;
    o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("host"), mg_slice_cstr(o->host)};
    o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("content-type"), mg_slice_cstr(o->ctype)};
    o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("x-amz-security-token"), mg_slice_cstr(o->token)};
    o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("user-agent"), MG_SLICE_LIT("tests/1.0")};
    if (with_auth) {
        o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("x-amz-date"), mg_slice_cstr(o->date)};
        o->h[o->n++] = (struct mg_kv){MG_SLICE_LIT("authorization"), mg_slice_cstr(o->authz)};
    }
    o->req = (struct mg_sigv4_request){
        .method = mg_slice_cstr(o->method),
        .path = mg_slice_cstr(o->path),
        .query = mg_slice_cstr(o->query),
        .headers = o->h,
        .n_headers = o->n,
        .body = mg_slice_cstr(o->body),
    };
}

static void s_own_make(struct own *o, const char *region, int64_t now)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->method, sizeof(o->method), "%s", "POST");
    snprintf(o->path, sizeof(o->path), "%s", "/gateways/gw-1%3Aabc/mcp/./x/../");
    snprintf(o->query, sizeof(o->query), "%s", "b=2&a=%7e1&a=0&flag");
    snprintf(o->host, sizeof(o->host), "%s",
             "gw-1.gateway.bedrock-agentcore.us-west-2.amazonaws.com:8443");
    snprintf(o->ctype, sizeof(o->ctype), "%s", "application/json");
    snprintf(o->token, sizeof(o->token), "%s", "FwoGZXIvYXdzEXAMPLETOKEN/+=");
    memset(o->body, 'x', 1024);
    memcpy(o->body, "{\"jsonrpc\":\"2.0\",", 17);
    s_own_headers(o, false);
    struct mg_sigv4_signer s = {
        .access_key_id = MG_SLICE_LIT(AKID),
        .secret = MG_SLICE_LIT(SECRET),
        .session_token = mg_slice_cstr(o->token),
        .region = mg_slice_cstr(region),
        .service = MG_SLICE_LIT(SERVICE),
        .now = now,
    };
    struct mg_buf b;
    mg_buf_init(&b, sizeof(o->authz) - 1);
    assert_int_equal(mg_sigv4_sign(&s, &o->req, o->date, &b), MG_E_OK);
    memcpy(o->authz, b.ptr, b.len);
    o->authz[b.len] = 0;
    mg_buf_cleanup(&b);
    s_own_headers(o, true);
}

/* parse + check + verify, with the first failing status returned. */
static enum mg_sigv4_status s_run(const struct mg_sigv4_request *req, const char *secret,
                                  int64_t now, struct mg_sigv4_key_cache *cache,
                                  struct mg_errinfo *ei)
{
    struct mg_sigv4_auth a;
    const char *regions[] = {"us-east-1", REGION};
    enum mg_sigv4_status st = mg_sigv4_parse(req, &a, ei);
    if (st == MG_SIGV4_OK)
        s_assert_one_pass(req, &a);
    if (st == MG_SIGV4_OK)
        st = mg_sigv4_check(&a, regions, 2, SERVICE, now, 900, ei);
    if (st == MG_SIGV4_OK)
        st = mg_sigv4_verify(req, &a, mg_slice_cstr(secret), cache, ei);
    return st;
}

/* Runs o (its header slices re-pointed after edits of its strings) and checks the outcome. */
#define s_expect(o, now, want, msg) s_expect_at(__LINE__, o, now, want, msg)
static void s_expect_at(int line, struct own *o, int64_t now, enum mg_sigv4_status want,
                        const char *msg)
{
    struct mg_errinfo ei = {0};
    s_own_headers(o, true);
    enum mg_sigv4_status st = s_run(&o->req, SECRET, now, NULL, &ei);
    if (st != want || (msg && strcmp(ei.msg, msg) != 0)) {
        print_error("line %d: status %d (want %d), message: %s\nwanted: %s\n", line, st, want,
                    ei.msg, msg ? msg : "(any)");
        fail();
    }
}

static void test_sigv4_roundtrip(void **state)
{
    (void)state;
    struct own o;
    struct mg_errinfo ei = {0};
    s_own_make(&o, REGION, T0);
    assert_string_equal(o.date, "20270101T000000Z");
    assert_non_null(strstr(o.authz, "SignedHeaders=content-type;host;x-amz-date;"
                                    "x-amz-security-token, Signature="));
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&o.req, SECRET, T0 + 900, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&o.req, SECRET, T0 - 900, NULL, &ei), MG_SIGV4_OK);
    /* unsigned headers may change */
    o.h[3].value = MG_SLICE_LIT("other-agent");
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    /* the signer normalises the path too: an equivalent path verifies */
    snprintf(o.path, sizeof(o.path), "%s", "/gateways//gw-1%3Aabc/mcp/");
    s_expect(&o, T0, MG_SIGV4_OK, NULL);
    /* equivalent query encodings verify; the order of parameters does not matter */
    snprintf(o.query, sizeof(o.query), "%s", "a=0&flag=&a=~1&b=%32");
    s_expect(&o, T0, MG_SIGV4_OK, NULL);
    struct mg_buf tok;
    mg_buf_init(&tok, 100);
    struct mg_sigv4_auth a;
    assert_int_equal(mg_sigv4_parse(&o.req, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_sigv4_token(&a, &tok), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&tok), "FwoGZXIvYXdzEXAMPLETOKEN/+=");
    mg_buf_cleanup(&tok);
}

static const char s_mismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details.";

static void test_sigv4_tampering_refused(void **state)
{
    (void)state;
    struct own o, orig;
    s_own_make(&orig, REGION, T0);
    /* every signed header value */
    const char *fields[] = {"host", "content-type", "x-amz-security-token"};
    for (size_t f = 0; f < 3; f++) {
        o = orig;
        s_own_headers(&o, true);
        char *v = f == 0 ? o.host : f == 1 ? o.ctype : o.token;
        v[strlen(v) - 1] ^= 1;
        print_message("tampered %s\n", fields[f]);
        s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    }
    o = orig;
    s_own_headers(&o, true);
    snprintf(o.date, sizeof(o.date), "%s", "20270101T000001Z");
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    /* body, method, path, query */
    o = orig;
    s_own_headers(&o, true);
    o.body[500] = 'y';
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    o.body[500] = 'x';
    s_expect(&o, T0, MG_SIGV4_OK, NULL);
    snprintf(o.method, sizeof(o.method), "%s", "PUT");
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    snprintf(o.method, sizeof(o.method), "%s", "POST");
    snprintf(o.path, sizeof(o.path), "%s", "/gateways/gw-1%3Aabd/mcp/");
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    snprintf(o.path, sizeof(o.path), "%s",
             "/gateways/gw-1:abc/mcp/"); /* decoded form differs from what was signed */
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    snprintf(o.path, sizeof(o.path), "%s",
             "/gateways/gw-1%3Aabc/mcp/x"); /* trailing slash matters */
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    o = orig;
    s_own_headers(&o, true);
    snprintf(o.query, sizeof(o.query), "%s", "b=2&a=%7e1&a=1&flag");
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    snprintf(o.query, sizeof(o.query), "%s", "b=2&a=%7e1&a=0");
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    snprintf(o.query, sizeof(o.query), "%s",
             "b=2&a=+1&a=0&flag"); /* '+' is not a space and not '~' */
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    /* every character of the signature */
    o = orig;
    s_own_headers(&o, true);
    char *sig = strstr(o.authz, "Signature=") + 10;
    assert_int_equal(strlen(sig), 64);
    for (size_t i = 0; i < 64; i++) {
        char saved = sig[i];
        sig[i] = saved == '0' ? '1' : '0';
        s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
        sig[i] = saved;
    }
    s_expect(&o, T0, MG_SIGV4_OK, NULL);
    sig[63] = 0; /* too short */
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    /* wrong secret */
    struct mg_errinfo ei;
    assert_int_equal(s_run(&orig.req, SECRET "x", T0, NULL, &ei), MG_SIGV4_MISMATCH);
    assert_int_equal(s_run(&orig.req, "", T0, NULL, &ei), MG_SIGV4_MISMATCH);
}

static void s_replace(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    assert_non_null(p);
    char tail[1024];
    snprintf(tail, sizeof(tail), "%s", p + strlen(from));
    size_t room = strlen(s) - (size_t)(p - s) + strlen(to) + 1;
    snprintf(p, room, "%s%s", to, tail);
}

static void test_sigv4_scope_and_clock(void **state)
{
    (void)state;
    struct own o, orig;
    s_own_make(&orig, REGION, T0);
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/20270101/", "/20261231/");
    s_expect(&o, T0, MG_SIGV4_BAD_SCOPE,
             "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
             "HTTP: '20261231' != '20270101', from '20270101T000000Z'.");
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/us-west-2/", "/eu-west-1/");
    s_expect(&o, T0, MG_SIGV4_BAD_SCOPE,
             "Credential should be scoped to a valid region, not 'eu-west-1'. This server serves "
             "us-east-1; this service also accepts us-west-2.");
    {
        /* AWS's wording first, then the region to sign for */
        struct mg_sigv4_auth a;
        struct mg_errinfo ei = {0};
        const char *one[] = {"us-east-1"}, *same[] = {"us-east-1", "us-east-1"};
        assert_int_equal(mg_sigv4_parse(&o.req, &a, &ei), MG_SIGV4_OK);
        assert_int_equal(mg_sigv4_check(&a, one, 1, SERVICE, T0, 900, &ei), MG_SIGV4_BAD_SCOPE);
        assert_string_equal(ei.msg, "Credential should be scoped to a valid region, not "
                                    "'eu-west-1'. This server serves us-east-1.");
        assert_int_equal(mg_sigv4_check(&a, same, 2, SERVICE, T0, 900, &ei), MG_SIGV4_BAD_SCOPE);
        assert_string_equal(ei.msg, "Credential should be scoped to a valid region, not "
                                    "'eu-west-1'. This server serves us-east-1.");
    }
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/us-west-2/", "/us-east-1/"); /* served, but not what was signed */
    s_expect(&o, T0, MG_SIGV4_MISMATCH, s_mismatch);
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/bedrock-agentcore/", "/execute-api/");
    s_expect(&o, T0, MG_SIGV4_BAD_SCOPE,
             "Credential should be scoped to correct service: 'bedrock-agentcore'. ");
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/aws4_request", "/aws4_requesT");
    s_expect(&o, T0, MG_SIGV4_BAD_SCOPE,
             "Credential should be scoped with a valid terminator: 'aws4_request', not "
             "'aws4_requesT'. ");
    /* with no region or service constraint the scope still feeds the signature */
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "/bedrock-agentcore/", "/bedrock-agentcorf/");
    struct mg_sigv4_auth a;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_sigv4_parse(&o.req, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_sigv4_check(&a, NULL, 0, NULL, T0, 900, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_sigv4_verify(&o.req, &a, MG_SLICE_LIT(SECRET), NULL, &ei),
                     MG_SIGV4_MISMATCH);

    /* clock */
    s_expect(&orig, T0 + 901, MG_SIGV4_SKEW,
             "Signature expired: 20270101T000000Z is now earlier than 20270101T000001Z "
             "(20270101T001501Z - 15 min.)");
    s_expect(&orig, T0 - 901, MG_SIGV4_SKEW,
             "Signature not yet current: 20270101T000000Z is still later than 20261231T235959Z "
             "(20261231T234459Z + 15 min.)");
    assert_int_equal(mg_sigv4_parse(&orig.req, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_sigv4_check(&a, NULL, 0, NULL, T0 + 301, 300, &ei), MG_SIGV4_SKEW);
    assert_string_equal(ei.msg, "Signature expired: 20270101T000000Z is now earlier than "
                                "20270101T000001Z (20270101T000501Z - 5 min.)");
    assert_int_equal(mg_sigv4_check(&a, NULL, 0, NULL, T0 + 300, 300, &ei), MG_SIGV4_OK);
}

static void test_sigv4_malformed_authorization(void **state)
{
    (void)state;
    struct own o, orig;
    s_own_make(&orig, REGION, T0);
    struct {
        const char *authz;
        enum mg_sigv4_status st;
        const char *msg;
    } cases[] = {
        {"AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=00", MG_SIGV4_INCOMPLETE,
         "Authorization header requires 'Credential' parameter. Authorization=AWS4-HMAC-SHA256 "
         "SignedHeaders=host;x-amz-date, Signature=00"},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/20270101/us-west-2/bedrock-agentcore/aws4_request",
         MG_SIGV4_INCOMPLETE,
         "Authorization header requires 'Signature' parameter. Authorization header requires "
         "'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" AKID
         "/20270101/us-west-2/bedrock-agentcore/aws4_request"},
        {"AWS4-HMAC-SHA256 Credential=" AKID
         "/20270101/us-west-2/bedrock-agentcore/aws4_request, SignedHeaders, Signature=00",
         MG_SIGV4_INCOMPLETE,
         "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization "
         "header: 'AWS4-HMAC-SHA256 Credential=" AKID
         "/20270101/us-west-2/bedrock-agentcore/aws4_request, SignedHeaders, Signature=00'."},
        {"AWS4-HMAC-SHA256 Credential= " AKID "/20270101/us-west-2/bedrock-agentcore/aws4_request, "
         "SignedHeaders=host, Signature=00",
         MG_SIGV4_INCOMPLETE,
         "'" AKID "/20270101/us-west-2/bedrock-agentcore/aws4_request' not a valid key=value pair "
         "(missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential= " AKID
         "/20270101/us-west-2/bedrock-agentcore/aws4_request, SignedHeaders=host, Signature=00'."},
        {"garbage", MG_SIGV4_INCOMPLETE,
         "Authorization header requires 'Credential' parameter. Authorization header requires "
         "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
         "Authorization=garbage"},
        {"", MG_SIGV4_INCOMPLETE,
         "Authorization header requires 'Credential' parameter. Authorization header requires "
         "'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
         "Authorization="},
        {"AWS4-HMAC-SHA256 Credential=" AKID
         "/20270101/us-west-2/aws4_request, SignedHeaders=host, "
         "Signature=00",
         MG_SIGV4_INCOMPLETE,
         "Credential must have exactly 5 slash-delimited elements, e.g. "
         "keyid/date/region/service/term, got '" AKID "/20270101/us-west-2/aws4_request'"},
        {"AWS4-ECDSA-P256-SHA256 Credential=" AKID "/20270101/bedrock-agentcore/aws4_request, "
         "SignedHeaders=host;x-amz-date;x-amz-region-set, Signature=3045",
         MG_SIGV4_UNSUPPORTED, NULL},
        {"AWS4-HMAC-SHA256 Credential=" AKID "/20270101/us-west-2/bedrock-agentcore/aws4_request, "
         "Credential=X/20270101/us-west-2/bedrock-agentcore/aws4_request, SignedHeaders=host, "
         "Signature=00",
         MG_SIGV4_INCOMPLETE, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o = orig;
        s_own_headers(&o, true);
        snprintf(o.authz, sizeof(o.authz), "%s", cases[i].authz);
        s_expect(&o, T0, cases[i].st, cases[i].msg);
    }
    /* no date at all */
    o = orig;
    s_own_headers(&o, true);
    o.h[4].name = MG_SLICE_LIT("x-not-a-date");
    struct mg_errinfo ei;
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
    assert_non_null(strstr(ei.msg, "Authorization header requires existence of either a "
                                   "'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC"));
    /* a malformed date */
    o = orig;
    s_own_headers(&o, true);
    snprintf(o.date, sizeof(o.date), "%s", "2027-01-01T00:00");
    s_expect(&o, T0, MG_SIGV4_INCOMPLETE,
             "Date must be in ISO-8601 'basic format'. Got '2027-01-01T00:00'. See "
             "http://en.wikipedia.org/wiki/ISO_8601");
    /* nothing at all */
    o = orig;
    s_own_headers(&o, false);
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_MISSING);
    assert_string_equal(ei.msg, "Missing Authentication Token");
    /* both mechanisms */
    o = orig;
    s_own_headers(&o, true);
    snprintf(o.query, sizeof(o.query), "%s", "X-Amz-Algorithm=AWS4-HMAC-SHA256");
    s_expect(&o, T0, MG_SIGV4_INCOMPLETE,
             "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
             "query string parameter or the Authorization header should be specified");
    snprintf(o.query, sizeof(o.query), "%s", "X-Amz-Signature=00");
    s_expect(&o, T0, MG_SIGV4_INCOMPLETE, NULL);
    /* two Authorization headers */
    o = orig;
    s_own_headers(&o, true);
    o.h[3] = o.h[5];
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
}

static void test_sigv4_signed_headers_rules(void **state)
{
    (void)state;
    struct own o, orig;
    s_own_make(&orig, REGION, T0);
    const char *bad[] = {
        "host;content-type;x-amz-date;x-amz-security-token",           /* unsorted */
        "content-type;Host;x-amz-date;x-amz-security-token",           /* upper case */
        "content-type;host;host;x-amz-date;x-amz-security-token",      /* duplicate */
        "content-type;x-amz-date;x-amz-security-token",                /* host not signed */
        "content-type;host;x-amz-security-token",                      /* x-amz-date not signed */
        "content-type;host;x-amz-date;x-amz-security-token;x-missing", /* absent header */
        "content-type;;host;x-amz-date",                               /* empty name */
        "content-type;host;x-amz-date;",                               /* trailing separator */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        o = orig;
        s_own_headers(&o, true);
        char *p = strstr(o.authz, "SignedHeaders=") + 14;
        char *e = strstr(p, ", Signature=");
        char tail[200];
        snprintf(tail, sizeof(tail), "%s", e);
        snprintf(p, sizeof(o.authz) - (size_t)(p - o.authz), "%s%s", bad[i], tail);
        print_message("SignedHeaders=%s\n", bad[i]);
        s_expect(&o, T0, MG_SIGV4_INCOMPLETE, NULL);
    }
    o = orig;
    s_own_headers(&o, true);
    s_replace(o.authz, "SignedHeaders=content-type;host;", "SignedHeaders=content-type;");
    s_expect(&o, T0, MG_SIGV4_INCOMPLETE,
             "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
}

/* Signs r (headers h[0..n-1], room for two more) as the outbound signer does and adds
 * x-amz-date and authorization; returns the new header count. */
static size_t s_sign_into(struct mg_sigv4_request *r, struct mg_kv *h, size_t n, char *authz,
                          size_t cap, char date[17])
{
    struct mg_sigv4_signer s = {.access_key_id = MG_SLICE_LIT(AKID),
                                .secret = MG_SLICE_LIT(SECRET),
                                .region = MG_SLICE_LIT(REGION),
                                .service = MG_SLICE_LIT(SERVICE),
                                .now = T0};
    r->headers = h;
    r->n_headers = n;
    struct mg_buf b;
    mg_buf_init(&b, cap - 1);
    assert_int_equal(mg_sigv4_sign(&s, r, date, &b), MG_E_OK);
    snprintf(authz, cap, "%s", mg_buf_cstr(&b));
    mg_buf_cleanup(&b);
    h[n++] = (struct mg_kv){MG_SLICE_LIT("x-amz-date"), mg_slice_make(date, 16)};
    h[n++] = (struct mg_kv){MG_SLICE_LIT("authorization"), mg_slice_cstr(authz)};
    r->n_headers = n;
    return n;
}

static void test_sigv4_payload_header(void **state)
{
    (void)state;
    /* x-amz-content-sha256: its value is signed as sent, and it must name the body's hash */
    struct own o;
    s_own_make(&o, REGION, T0);
    struct mg_kv h[8];
    char authz[600], date[17];
    struct mg_sigv4_request r = {
        .method = MG_SLICE_LIT("PUT"),
        .path = MG_SLICE_LIT("/"),
        .body = MG_SLICE_LIT("hello"),
    };
    h[0] = (struct mg_kv){MG_SLICE_LIT("host"), MG_SLICE_LIT("example.com")};
    h[1] = (struct mg_kv){MG_SLICE_LIT("x-amz-content-sha256"),
                          MG_SLICE_LIT(
                              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")};
    s_sign_into(&r, h, 2, authz, sizeof(authz), date);
    struct mg_errinfo ei;
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    /* a body that disagrees with the signed hash is a signature mismatch, before any key work */
    r.body = MG_SLICE_LIT("hellO");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
    assert_string_equal(ei.msg, "The request signature we calculated does not match the "
                                "signature you provided. Check your AWS Secret Access Key and "
                                "signing method. Consult the service documentation for details.");
}

/* UNSIGNED-PAYLOAD is S3's: every service here hashes the body, so a request that claims an
 * unsigned payload is refused, with the body it was signed with or with any other. */
static void test_sigv4_rejects_unsigned_payload(void **state)
{
    (void)state;
    static const char *const markers[] = {"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"};
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
        struct mg_kv h[8];
        char authz[600], date[17];
        struct mg_sigv4_request r = {
            .method = MG_SLICE_LIT("POST"),
            .path = MG_SLICE_LIT("/"),
            .body = MG_SLICE_LIT("Action=GetCallerIdentity&Version=2011-06-15"),
        };
        h[0] = (struct mg_kv){MG_SLICE_LIT("host"), MG_SLICE_LIT("example.com")};
        h[1] = (struct mg_kv){MG_SLICE_LIT("x-amz-content-sha256"), mg_slice_cstr(markers[i])};
        s_sign_into(&r, h, 2, authz, sizeof(authz), date);
        struct mg_errinfo ei;
        assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
        r.body = MG_SLICE_LIT("Action=AssumeRole&Version=2011-06-15");
        assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
        r.body = MG_SLICE_LIT("");
        assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
    }
}

/* Fills a 64-zero placeholder signature in buf (query or header) with the right value. */
static void s_fill_signature(const struct mg_sigv4_request *req, char *placeholder_at)
{
    struct mg_sigv4_auth a;
    struct mg_errinfo ei;
    assert_int_equal(mg_sigv4_parse(req, &a, &ei), MG_SIGV4_OK);
    struct mg_buf creq, sts;
    mg_buf_init(&creq, 1u << 20);
    mg_buf_init(&sts, 1u << 20);
    char sig[65];
    s_compute(req, &a, MG_SLICE_LIT(SECRET), 0, &creq, &sts, sig);
    memcpy(placeholder_at, sig, 64);
    mg_buf_cleanup(&creq);
    mg_buf_cleanup(&sts);
}

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

static void s_presigned(char *query, size_t qcap, const char *expires, struct mg_kv *h,
                        struct mg_sigv4_request *r)
{
    snprintf(query, qcap,
             "Action=List&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AKID
             "%%2F20270101%%2F" REGION "%%2F" SERVICE "%%2Faws4_request&X-Amz-Date=20270101T000000Z"
             "&X-Amz-Expires=%s&X-Amz-SignedHeaders=host%%3Bx-extra&X-Amz-Security-Token=a%%2Fb%%3D"
             "&X-Amz-Signature=" ZERO64,
             expires);
    h[0] = (struct mg_kv){MG_SLICE_LIT("host"), MG_SLICE_LIT("example.com")};
    h[1] = (struct mg_kv){MG_SLICE_LIT("x-extra"), MG_SLICE_LIT(" two  words ")};
    *r = (struct mg_sigv4_request){.method = MG_SLICE_LIT("GET"),
                                   .path = MG_SLICE_LIT("/mcp"),
                                   .query = mg_slice_cstr(query),
                                   .headers = h,
                                   .n_headers = 2};
}

static void test_sigv4_presigned(void **state)
{
    (void)state;
    char query[600];
    struct mg_kv h[4];
    struct mg_sigv4_request r;
    struct mg_errinfo ei;
    s_presigned(query, sizeof(query), "300", h, &r);
    s_fill_signature(&r, strstr(query, ZERO64));
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&r, SECRET, T0 + 300, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&r, SECRET, T0 - 900, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&r, SECRET, T0 - 901, NULL, &ei), MG_SIGV4_SKEW);
    assert_non_null(strstr(ei.msg, "Signature not yet current"));
    assert_int_equal(s_run(&r, SECRET, T0 + 301, NULL, &ei), MG_SIGV4_SKEW);
    assert_string_equal(ei.msg, "Request has expired: it was valid until 20270101T000500Z "
                                "(X-Amz-Date 20270101T000000Z + X-Amz-Expires 300 s) and it is "
                                "now 20270101T000501Z.");
    struct mg_sigv4_auth a;
    assert_int_equal(mg_sigv4_parse(&r, &a, &ei), MG_SIGV4_OK);
    assert_true(a.presigned);
    assert_true(mg_slice_eq_cstr(a.access_key_id, AKID));
    assert_true(mg_slice_eq_cstr(a.service, SERVICE));
    struct mg_buf tok;
    mg_buf_init(&tok, 100);
    assert_int_equal(mg_sigv4_token(&a, &tok), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&tok), "a/b=");
    mg_buf_cleanup(&tok);
    /* tampering */
    query[strlen("Action=Lis")] = 'T';
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
    query[strlen("Action=Lis")] = 't';
    h[1].value = MG_SLICE_LIT("two words!");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
    h[1].value = MG_SLICE_LIT("two words");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    s_replace(query, "a%2Fb%3D", "a%2Fb%3E"); /* the token is signed */
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);

    /* X-Amz-Expires */
    const char *bad[][2] = {
        {"0", "X-Amz-Expires must be at least 1 second"},
        {"604801", "X-Amz-Expires must be less than a week (in seconds) that is 604800"},
        {"abc", "X-Amz-Expires should be a number"},
        {"-5", "X-Amz-Expires should be a number"},
        {"", "X-Amz-Expires should be a number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s_presigned(query, sizeof(query), bad[i][0], h, &r);
        assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
        assert_string_equal(ei.msg, bad[i][1]);
    }
    s_presigned(query, sizeof(query), "604800", h, &r);
    s_fill_signature(&r, strstr(query, ZERO64));
    assert_int_equal(s_run(&r, SECRET, T0 + 604800, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(s_run(&r, SECRET, T0 + 604801, NULL, &ei), MG_SIGV4_SKEW);
    /* a missing parameter, SigV4a, a duplicate */
    s_presigned(query, sizeof(query), "60", h, &r);
    s_replace(query, "&X-Amz-Date=20270101T000000Z", "");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
    assert_string_equal(ei.msg, "Query-string authentication version 4 requires the "
                                "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                                "X-Amz-SignedHeaders, and X-Amz-Expires parameters.");
    s_presigned(query, sizeof(query), "60", h, &r);
    s_replace(query, "Algorithm=AWS4-HMAC-SHA256", "Algorithm=AWS4-ECDSA-P256-SHA256");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_UNSUPPORTED);
    s_presigned(query, sizeof(query), "60", h, &r);
    s_replace(query, "Action=List", "X-Amz-Expires=5");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
    /* host must be signed in the query form too */
    s_presigned(query, sizeof(query), "60", h, &r);
    s_replace(query, "SignedHeaders=host%3Bx-extra", "SignedHeaders=x-extra");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
}

static void test_sigv4_date_header(void **state)
{
    (void)state;
    /* Only a Date header (RFC 7231), signed as `date`. */
    char authz[400];
    snprintf(authz, sizeof(authz),
             "AWS4-HMAC-SHA256 Credential=" AKID "/20270101/" REGION "/" SERVICE
             "/aws4_request, SignedHeaders=date;host, Signature=" ZERO64);
    struct mg_kv h[3] = {
        {MG_SLICE_LIT("host"), MG_SLICE_LIT("example.com")},
        {MG_SLICE_LIT("date"), MG_SLICE_LIT("Fri, 01 Jan 2027 00:00:00 GMT")},
        {MG_SLICE_LIT("authorization"), mg_slice_cstr(authz)},
    };
    struct mg_sigv4_request r = {.method = MG_SLICE_LIT("GET"),
                                 .path = MG_SLICE_LIT("/"),
                                 .headers = h,
                                 .n_headers = 3};
    s_fill_signature(&r, strstr(authz, ZERO64));
    struct mg_errinfo ei;
    struct mg_sigv4_auth a;
    assert_int_equal(mg_sigv4_parse(&r, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(a.request_time, T0);
    struct mg_buf creq, sts;
    mg_buf_init(&creq, 4096);
    mg_buf_init(&sts, 4096);
    char sig[65];
    s_compute(&r, &a, MG_SLICE_LIT(SECRET), 0, &creq, &sts, sig);
    assert_non_null(strstr(mg_buf_cstr(&sts), "AWS4-HMAC-SHA256\n20270101T000000Z\n"));
    mg_buf_cleanup(&creq);
    mg_buf_cleanup(&sts);
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    h[1].value = MG_SLICE_LIT("Fri, 01 Jan 2027 00:00:01 GMT");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_MISMATCH);
    h[1].value = MG_SLICE_LIT("Fri, 32 Jan 2027 00:00:01 GMT");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
    /* the Date header must be signed when it dates the request */
    h[1].value = MG_SLICE_LIT("Fri, 01 Jan 2027 00:00:00 GMT");
    s_replace(authz, "SignedHeaders=date;host", "SignedHeaders=host");
    assert_int_equal(s_run(&r, SECRET, T0, NULL, &ei), MG_SIGV4_INCOMPLETE);
}

static void test_sigv4_canonical_details(void **state)
{
    (void)state;
    struct {
        const char *path, *query, *want_uri, *want_query;
    } cases[] = {
        {"", "", "/", ""},
        {"/", "", "/", ""},
        {"/a/b/../c/./d/", "", "/a/c/d/", ""},
        {"/a/b/..", "", "/a/", ""},
        {"/../../a", "", "/a", ""},
        {"//a///b", "", "/a/b", ""},
        {"/a%2Fb/c d", "", "/a%252Fb/c%20d", ""},
        {"/~-_.!", "", "/~-_.%21", ""},
        {"/", "b&a=&c=%zz&d=+", "/", "a=&b=&c=%25zz&d=%2B"},
        {"/", "x=%7E&x=%41&y=%e1%88%b4&&", "/", "x=A&x=~&y=%E1%88%B4"},
        {"/", "Z=1&a=1&%41=2", "/", "A=2&Z=1&a=1"},
    };
    struct mg_kv h[1] = {{MG_SLICE_LIT("host"), MG_SLICE_LIT("h")}};
    struct mg_sigv4_auth a = {.signed_headers = MG_SLICE_LIT("host")};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mg_sigv4_request r = {.method = MG_SLICE_LIT("GET"),
                                     .path = mg_slice_cstr(cases[i].path),
                                     .query = mg_slice_cstr(cases[i].query),
                                     .headers = h,
                                     .n_headers = 1};
        struct mg_buf b;
        mg_buf_init(&b, 4096);
        assert_int_equal(mg_sigv4_canonical_request(&r, &a, &b), MG_E_OK);
        char want[512];
        snprintf(want, sizeof(want), "GET\n%s\n%s\nhost:h\n\nhost\n" MG_SIGV4_EMPTY_SHA256,
                 cases[i].want_uri, cases[i].want_query);
        assert_string_equal(mg_buf_cstr(&b), want);
        mg_buf_cleanup(&b);
    }
    /* header values: trimmed, runs collapsed, folded lines joined, repeats joined with ',' */
    struct mg_kv hh[4] = {
        {MG_SLICE_LIT("host"), MG_SLICE_LIT("  h  ")},
        {MG_SLICE_LIT("x-a"), MG_SLICE_LIT(" 1\r\n   2\t 3 ")},
        {MG_SLICE_LIT("X-A"), MG_SLICE_LIT("")},
        {MG_SLICE_LIT("x-a"), MG_SLICE_LIT("\"q  q\"")},
    };
    struct mg_sigv4_request r = {.method = MG_SLICE_LIT("GET"),
                                 .path = MG_SLICE_LIT("/"),
                                 .headers = hh,
                                 .n_headers = 4};
    a.signed_headers = MG_SLICE_LIT("host;x-a");
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    assert_int_equal(mg_sigv4_canonical_request(&r, &a, &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b),
                        "GET\n/\n\nhost:h\nx-a:1 2 3,,\"q q\"\n\nhost;x-a\n" MG_SIGV4_EMPTY_SHA256);
    /* limits: a canonical request never exceeds the output's max */
    struct mg_buf small;
    mg_buf_init(&small, 20);
    assert_int_equal(mg_sigv4_canonical_request(&r, &a, &small), MG_E_TOO_LARGE);
    mg_buf_cleanup(&small);
    mg_buf_cleanup(&b);
}

/* ------------------------------------------------------------------------------------------ */
/* 3. key cache */

static void test_sigv4_key_cache(void **state)
{
    (void)state;
    struct mg_sigv4_key_cache *one = mg_sigv4_key_cache_new(1), *many = mg_sigv4_key_cache_new(64);
    assert_non_null(one);
    assert_non_null(many);
    assert_null(mg_sigv4_key_cache_new(0));
    struct own a, b, c;
    s_own_make(&a, REGION, T0);
    s_own_make(&b, "us-east-1", T0);
    s_own_make(&c, REGION, T0 + 86400);
    struct mg_errinfo ei;
    for (int round = 0; round < 3; round++) {
        struct mg_sigv4_key_cache *caches[3] = {NULL, one, many};
        for (size_t k = 0; k < 3; k++) {
            assert_int_equal(s_run(&a.req, SECRET, T0, caches[k], &ei), MG_SIGV4_OK);
            assert_int_equal(s_run(&b.req, SECRET, T0, caches[k], &ei), MG_SIGV4_OK);
            assert_int_equal(s_run(&c.req, SECRET, T0 + 86400, caches[k], &ei), MG_SIGV4_OK);
            /* a rotated secret under the same access key must not reuse the cached key */
            assert_int_equal(s_run(&a.req, SECRET "2", T0, caches[k], &ei), MG_SIGV4_MISMATCH);
            assert_int_equal(s_run(&a.req, SECRET, T0, caches[k], &ei), MG_SIGV4_OK);
        }
    }
    /* the cached key equals the derived key */
    struct mg_sigv4_auth au;
    assert_int_equal(mg_sigv4_parse(&a.req, &au, &ei), MG_SIGV4_OK);
    uint8_t raw[32];
    struct mg_sigv4_hmac_key k1, k2;
    assert_true(mg_sigv4_key_cache_get(many, &au, MG_SLICE_LIT(SECRET), &k1));
    mg_sigv4_signing_key(MG_SLICE_LIT(SECRET), au.scope_date, au.region, au.service, raw);
    mg_sigv4_hmac_key_init(&k2, raw, sizeof(raw));
    assert_memory_equal(&k1, &k2, sizeof(k1));
    assert_false(mg_sigv4_key_cache_get(many, &au, MG_SLICE_LIT("other"), &k1));
    /* ids up to 128 bytes ("akid/date/region/service") are cached, longer ones bypass the cache */
    char akid[200];
    memset(akid, 'A', sizeof(akid));
    for (size_t len = 80; len < 200; len++) {
        struct mg_sigv4_auth la = au;
        la.access_key_id = mg_slice_make(akid, len);
        mg_sigv4_key_cache_put(many, &la, MG_SLICE_LIT(SECRET), &k2);
        bool hit = mg_sigv4_key_cache_get(many, &la, MG_SLICE_LIT(SECRET), &k1);
        assert_int_equal(hit, len + 1 + 8 + 1 + 9 + 1 + 17 <= 128);
    }
    mg_sigv4_key_cache_free(one);
    mg_sigv4_key_cache_free(many);
    mg_sigv4_key_cache_free(NULL);
}

struct s_thread_arg {
    struct mg_sigv4_key_cache *cache;
    struct own *reqs;
    int failures;
};

static void *s_thread_main(void *p)
{
    struct s_thread_arg *t = p;
    struct mg_errinfo ei;
    for (int i = 0; i < 2000; i++) {
        struct own *o = &t->reqs[i % 3];
        int64_t now = i % 3 == 2 ? T0 + 86400 : T0;
        if (s_run(&o->req, SECRET, now, t->cache, &ei) != MG_SIGV4_OK)
            t->failures++;
        if (i % 7 == 0 && s_run(&o->req, "bad", now, t->cache, &ei) != MG_SIGV4_MISMATCH)
            t->failures++;
    }
    mg_sigv4_thread_cleanup();
    return NULL;
}

static void test_sigv4_key_cache_threads(void **state)
{
    (void)state;
    struct mg_sigv4_key_cache *cache = mg_sigv4_key_cache_new(2);
    struct own reqs[3];
    s_own_make(&reqs[0], REGION, T0);
    s_own_make(&reqs[1], "us-east-1", T0);
    s_own_make(&reqs[2], REGION, T0 + 86400);
    pthread_t th[4];
    struct s_thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct s_thread_arg){cache, reqs, 0};
        assert_int_equal(pthread_create(&th[i], NULL, s_thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    mg_sigv4_key_cache_free(cache);
}

/* ------------------------------------------------------------------------------------------ */
/* 4. requests captured from curl --aws-sigv4 (tests/vectors/sigv4/<case>/) */

static void test_sigv4_curl_vectors(void **state)
{
    (void)state;
    const char *root = "tests/vectors/sigv4";
    DIR *d = opendir(root);
    if (!d) {
        print_message("skipping curl vectors: %s not found (run from the project root)\n", root);
        skip();
    }
    struct dirent *e;
    size_t n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/context.json", root, e->d_name);
        json_error_t jerr;
        json_t *j = json_load_file(path, 0, &jerr);
        if (!j)
            continue;
        const char *secret = json_string_value(json_object_get(j, "secret_access_key"));
        const char *region = json_string_value(json_object_get(j, "region"));
        const char *service = json_string_value(json_object_get(j, "service"));
        const char *expect = json_string_value(json_object_get(j, "expect"));
        int64_t now = json_integer_value(json_object_get(j, "now"));
        assert_non_null(secret);
        assert_non_null(expect);
        struct treq t;
        snprintf(path, sizeof(path), "%s/%s/request.txt", root, e->d_name);
        assert_true(s_load_http(&t, path));
        struct mg_sigv4_auth a;
        struct mg_errinfo ei = {0};
        const char *regions[] = {region};
        enum mg_sigv4_status st = mg_sigv4_parse(&t.req, &a, &ei);
        if (st == MG_SIGV4_OK)
            st = mg_sigv4_check(&a, regions, 1, service, now, 900, &ei);
        if (st == MG_SIGV4_OK)
            st = mg_sigv4_verify(&t.req, &a, mg_slice_cstr(secret), NULL, &ei);
        const char *got = st == MG_SIGV4_OK         ? "ok"
                          : st == MG_SIGV4_MISMATCH ? "mismatch"
                          : st == MG_SIGV4_SKEW     ? "skew"
                                                    : "other";
        if (strcmp(got, expect) != 0) {
            print_error("curl vector %s: got %s (%s), want %s\n", e->d_name, got, ei.msg, expect);
            fail();
        }
        s_treq_free(&t);
        json_decref(j);
        n++;
    }
    closedir(d);
    print_message("curl vectors: %zu\n", n);
}

static void test_sigv4_no_leaks(void **state)
{
    (void)state;
    mg_sigv4_thread_cleanup();
    long live = mg_alloc_live();
    struct own o;
    s_own_make(&o, REGION, T0);
    struct mg_errinfo ei;
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    mg_sigv4_thread_cleanup();
    assert_int_equal(mg_alloc_live(), live);
    /* a warm thread verifies without allocating */
    assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    long warm = mg_alloc_live();
    for (int i = 0; i < 10; i++)
        assert_int_equal(s_run(&o.req, SECRET, T0, NULL, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_alloc_live(), warm);
    mg_sigv4_thread_cleanup();
}

/* ------------------------------------------------------------------------------------------ */
/* 4. the hashing primitives against OpenSSL's EVP interface */

static uint64_t s_rng = 0x243f6a8885a308d3ull;

static uint8_t s_rand_byte(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (uint8_t)(s_rng >> 24);
}

static void s_rand_fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = s_rand_byte();
}

static void test_sigv4_sha256_matches_evp(void **state)
{
    (void)state;
    uint8_t in[301], got[32], want[32];
    for (size_t len = 0; len <= 300; len++) {
        s_rand_fill(in, len);
        unsigned int n = 0;
        assert_int_equal(EVP_Digest(in, len, want, &n, EVP_sha256(), NULL), 1);
        assert_int_equal(n, 32);
        assert_true(mg_sigv4_sha256(mg_slice_make(len ? in : NULL, len), got));
        assert_memory_equal(got, want, 32);
    }
    char hex[64], want_hex[64];
    for (int i = 0; i < 100; i++) {
        s_rand_fill(got, 32);
        mg_sigv4_hex32(got, hex);
        mg_hex_encode(got, 32, want_hex);
        assert_memory_equal(hex, want_hex, 64);
    }
}

static void test_sigv4_hmac_pads_match_hmac(void **state)
{
    (void)state;
    uint8_t key[200], msg[301], got[32], want[32];
    for (int round = 0; round < 600; round++) {
        /* key lengths around the block size (64) and past it (hashed first), every message
         * length 0..300 */
        size_t klen = (size_t)round % 131, mlen = (size_t)(round * 7) % 301;
        if (round % 50 == 0)
            klen = 32 + (size_t)round % 168;
        s_rand_fill(key, klen);
        s_rand_fill(msg, mlen);
        unsigned int n = 0;
        assert_non_null(HMAC(EVP_sha256(), key, (int)klen, msg, mlen, want, &n));
        assert_int_equal(n, 32);
        assert_true(mg_sigv4_hmac(key, klen, mg_slice_make(mlen ? msg : NULL, mlen), got));
        assert_memory_equal(got, want, 32);
        /* precomputed pads, the message in up to four random parts */
        struct mg_sigv4_hmac_key k;
        mg_sigv4_hmac_key_init(&k, key, klen);
        struct mg_slice parts[4];
        size_t at = 0, np = 1 + s_rand_byte() % 4;
        for (size_t i = 0; i < np; i++) {
            size_t take = i + 1 == np ? mlen - at : (mlen - at) * s_rand_byte() / 255;
            parts[i] = mg_slice_make(msg + at, take);
            at += take;
        }
        memset(got, 0, sizeof(got));
        mg_sigv4_hmac_parts(&k, parts, np, got);
        assert_memory_equal(got, want, 32);
        /* the same key state used twice gives the same answer (it is not consumed) */
        mg_sigv4_hmac_parts(&k, parts, np, got);
        assert_memory_equal(got, want, 32);
    }
}

/* A string to sign longer than the verifier's stack buffer (long region and service) takes the
 * hash-in-parts path and still verifies; one changed byte still fails. */
static void test_sigv4_long_scope(void **state)
{
    (void)state;
    char region[301], service[201];
    memset(region, 'r', sizeof(region) - 1);
    region[sizeof(region) - 1] = 0;
    memset(service, 's', sizeof(service) - 1);
    service[sizeof(service) - 1] = 0;
    struct mg_kv h[4] = {
        {MG_SLICE_LIT("host"), MG_SLICE_LIT("example.com")},
        {MG_SLICE_LIT("content-type"), MG_SLICE_LIT("application/json")},
    };
    struct mg_sigv4_request req = {.method = MG_SLICE_LIT("POST"),
                                   .path = MG_SLICE_LIT("/"),
                                   .query = MG_SLICE_LIT(""),
                                   .headers = h,
                                   .n_headers = 2,
                                   .body = MG_SLICE_LIT("{}")};
    struct mg_sigv4_signer s = {.access_key_id = MG_SLICE_LIT(AKID),
                                .secret = MG_SLICE_LIT(SECRET),
                                .region = mg_slice_cstr(region),
                                .service = mg_slice_cstr(service),
                                .now = T0};
    char date[17];
    struct mg_buf authz;
    mg_buf_init(&authz, 4096);
    assert_int_equal(mg_sigv4_sign(&s, &req, date, &authz), MG_E_OK);
    h[2] = (struct mg_kv){MG_SLICE_LIT("x-amz-date"), mg_slice_make(date, 16)};
    h[3] = (struct mg_kv){MG_SLICE_LIT("authorization"), mg_buf_slice(&authz)};
    req.n_headers = 4;
    struct mg_sigv4_auth a;
    struct mg_errinfo ei;
    assert_int_equal(mg_sigv4_parse(&req, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(a.region.len, 300);
    for (int i = 0; i < 2; i++)
        assert_int_equal(mg_sigv4_verify(&req, &a, MG_SLICE_LIT(SECRET), NULL, &ei), MG_SIGV4_OK);
    ((uint8_t *)authz.ptr)[authz.len - 1] ^= 1; /* last hex digit of the signature */
    assert_int_equal(mg_sigv4_parse(&req, &a, &ei), MG_SIGV4_OK);
    assert_int_equal(mg_sigv4_verify(&req, &a, MG_SLICE_LIT(SECRET), NULL, &ei), MG_SIGV4_MISMATCH);
    mg_buf_cleanup(&authz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigv4_aws_suite),
        cmocka_unit_test(test_sigv4_roundtrip),
        cmocka_unit_test(test_sigv4_tampering_refused),
        cmocka_unit_test(test_sigv4_scope_and_clock),
        cmocka_unit_test(test_sigv4_malformed_authorization),
        cmocka_unit_test(test_sigv4_signed_headers_rules),
        cmocka_unit_test(test_sigv4_payload_header),
        cmocka_unit_test(test_sigv4_rejects_unsigned_payload),
        cmocka_unit_test(test_sigv4_presigned),
        cmocka_unit_test(test_sigv4_date_header),
        cmocka_unit_test(test_sigv4_canonical_details),
        cmocka_unit_test(test_sigv4_key_cache),
        cmocka_unit_test(test_sigv4_key_cache_threads),
        cmocka_unit_test(test_sigv4_curl_vectors),
        cmocka_unit_test(test_sigv4_sha256_matches_evp),
        cmocka_unit_test(test_sigv4_hmac_pads_match_hmac),
        cmocka_unit_test(test_sigv4_long_scope),
        cmocka_unit_test(test_sigv4_no_leaks),
    };
    mg_torture_release = mg_sigv4_thread_cleanup;
    return MG_RUN_TESTS(tests);
}
