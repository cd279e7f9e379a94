/* tests/unit/issuer_test.c: the built-in OAuth issuer: its configuration file's errors, the
 * tokens it signs (verified with src/jwt against its own JWKS), key rotation, what a client may
 * have, and the token endpoint's answers without HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/slice.h"
#include "base/util.h"
#include "issuer/issuer.h"
#include "issuer/issuer_internal.h"
#include "jwt/jwt.h"
#include "state/store.h"
#include "unit/leaks.h"

#define SECRET "0123456789abcdef-secret"
#define GOOD_CONFIG                                                                                \
    "{\"clients\":[{\"clientId\":\"agent\",\"clientSecret\":\"" SECRET "\","                       \
    "\"scopes\":[\"mcp/invoke\",\"mcp/read\"]},"                                                   \
    "{\"clientId\":\"bound\",\"clientSecret\":\"another-secret-0123\",\"scopes\":[\"a\"],"         \
    "\"audiences\":[\"https://gw.example/mcp\",\"https://other.example\"]}],"                      \
    "\"tokenLifetimeSeconds\":600}"

struct s_dirs {
    char data[64];
    char file[96];
};

static int s_setup(void **state)
{
    struct s_dirs *d = calloc(1, sizeof(*d));
    snprintf(d->data, sizeof(d->data), "/tmp/mg_issuer_test_XXXXXX");
    if (mkdtemp(d->data) == NULL)
        return -1;
    snprintf(d->file, sizeof(d->file), "%s/issuer.json", d->data);
    *state = d;
    return 0;
}

static int s_teardown(void **state)
{
    struct s_dirs *d = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->data);
    if (system(cmd) != 0)
        return -1;
    free(d);
    return 0;
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The SQLite store in dir (NULL when out of memory: the caller returns). */
static struct mg_store *s_store(const char *dir)
{
    struct mg_store *st = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_store_open(dir, &st, &ei);
    if (e != MG_E_OK && e != MG_E_NOMEM && e != MG_E_STORE)
        fail_msg("cannot open the store in %s: %s", dir, ei.msg);
    return e == MG_E_OK ? st : NULL;
}

/* ---- configuration ---- */

static void test_issuer_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"[]", "the document must be a JSON object"},
        {"{\"clients\":[], \"x\":1}", "unknown field \"x\""},
        {"{}", "missing required field \"clients\""},
        {"{\"clients\":[]}", "clients: must be a non-empty array"},
        {"{\"clients\":[1]}", "clients[0]: must be an object"},
        {"{\"clients\":[{\"clientSecret\":\"" SECRET "\"}]}",
         "clients[0]: missing required field \"clientId\""},
        {"{\"clients\":[{\"clientId\":\"a b\",\"clientSecret\":\"" SECRET "\"}]}",
         "clients[0].clientId: must be 1 to 128 letters"},
        {"{\"clients\":[{\"clientId\":\"a\"}]}",
         "clients[0]: missing required field \"clientSecret\""},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"short-secret\"}]}",
         "clients[0].clientSecret: must be at least 16 characters"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":7}]}",
         "clients[0].clientSecret: must be a string"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"0123456789 abcdefgh\"}]}",
         "clients[0].clientSecret: only visible ASCII"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET "\"},"
         "{\"clientId\":\"a\",\"clientSecret\":\"" SECRET "\"}]}",
         "clients[1].clientId: \"a\" is already the id of clients[0]"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET "\",\"scopes\":\"x\"}]}",
         "clients[0].scopes: must be an array of strings"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET
         "\",\"scopes\":[\"a b\"]}]}",
         "clients[0].scopes[0]: must be 1 to 256 visible ASCII"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET
         "\",\"scopes\":[\"x\",\"x\"]}]}",
         "clients[0].scopes[1]: \"x\" is listed twice"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET
         "\",\"audiences\":[\"\"]}]}",
         "clients[0].audiences[0]: must be 1 to 1024"},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET "\",\"extra\":1}]}",
         "clients[0]: unknown field \"extra\""},
        {"{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"" SECRET
         "\"}],\"tokenLifetimeSeconds\":5}",
         "tokenLifetimeSeconds: must be an integer from 60 to 86400"},
        {"{\"clients\":[], \"clients\":[]}", "duplicate object key"},
        {"{", "1:1:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mg_issuer_config *c = (void *)1;
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_issuer_config_parse(mg_slice_cstr(cases[i].doc), &c, &ei);
        if (e == MG_E_NOMEM)
            return;
        assert_int_not_equal(e, MG_E_OK);
        assert_null(c);
        if (strstr(ei.msg, cases[i].msg) == NULL)
            fail_msg("case %zu: '%s' does not contain '%s'", i, ei.msg, cases[i].msg);
        assert_null(strstr(ei.msg, SECRET)); /* never the secret */
    }
    /* limits on counts */
    char *big = malloc(200000);
    size_t o = (size_t)snprintf(big, 200000, "{\"clients\":[");
    for (int i = 0; i <= MG_ISSUER_MAX_CLIENTS; i++)
        o += (size_t)snprintf(big + o, 200000 - o,
                              "%s{\"clientId\":\"c%d\",\"clientSecret\":\"" SECRET "\"}",
                              i ? "," : "", i);
    snprintf(big + o, 200000 - o, "]}");
    struct mg_issuer_config *c = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_issuer_config_parse(mg_slice_cstr(big), &c, &ei);
    free(big);
    if (e == MG_E_NOMEM)
        return;
    assert_int_equal(e, MG_E_INVALID);
    assert_string_equal(ei.msg, "clients: at most 100 clients");
}

static void test_issuer_config_ok_and_path(void **state)
{
    struct s_dirs *d = *state;
    struct mg_issuer_config *c = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_issuer_config_parse(mg_slice_cstr(GOOD_CONFIG), &c, &ei);
    if (e == MG_E_NOMEM)
        return;
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(c->n_clients, 2);
    assert_int_equal(c->token_lifetime, 600);
    const struct mg_issuer_client *cl = mg_issuer_config_client(c, mg_slice_cstr("agent"));
    assert_non_null(cl);
    assert_int_equal(cl->n_scopes, 2);
    assert_false(cl->has_audiences);
    assert_true(mg_issuer_client_secret_ok(cl, mg_slice_cstr(SECRET)));
    /* same length, a prefix, a longer one, empty: all refused (digests compared in constant
     * time, so neither content nor length shows in the timing) */
    assert_false(mg_issuer_client_secret_ok(cl, mg_slice_cstr("0123456789abcdef-secreT")));
    assert_false(mg_issuer_client_secret_ok(cl, mg_slice_cstr("0123456789abcdef")));
    assert_false(mg_issuer_client_secret_ok(cl, mg_slice_cstr(SECRET "x")));
    assert_false(mg_issuer_client_secret_ok(cl, mg_slice_cstr("")));
    assert_null(mg_issuer_config_client(c, mg_slice_cstr("agen")));
    cl = mg_issuer_config_client(c, mg_slice_cstr("bound"));
    assert_true(cl->has_audiences);
    assert_int_equal(cl->n_audiences, 2);
    mg_issuer_config_free(c);

    /* from a file: errors start with the path */
    s_write(d->file, "{\"clients\":[{\"clientId\":\"a\",\"clientSecret\":\"tooshort\"}]}");
    c = NULL;
    e = mg_issuer_config_load(d->file, &c, &ei);
    if (e == MG_E_NOMEM)
        return;
    assert_int_equal(e, MG_E_INVALID);
    char want[256];
    snprintf(want, sizeof(want), "%s: clients[0].clientSecret: must be at least 16 characters",
             d->file);
    assert_string_equal(ei.msg, want);
    assert_null(strstr(ei.msg, "tooshort"));
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/nope.json", d->data);
    e = mg_issuer_config_load(missing, &c, &ei);
    assert_int_equal(e, MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "nope.json: cannot read the OAuth issuer file"));
}

/* ---- tokens against the issuer's own JWKS ---- */

static enum mg_jwt_status s_verify(const struct mg_issuer_keys *k, const char *token,
                                   const struct mg_jwt_rules *r, struct mg_jwt_claims *claims,
                                   bool *nomem)
{
    struct mg_jwks *jwks = NULL;
    struct mg_errinfo ei = {0};
    *nomem = false;
    if (mg_jwks_parse(mg_issuer_keys_jwks(k), &jwks, &ei) != MG_E_OK) {
        *nomem = true;
        return MG_JWT_NOMEM;
    }
    enum mg_jwt_status st = mg_jwt_verify(jwks, mg_slice_cstr(token), claims);
    if (st == MG_JWT_OK)
        st = mg_jwt_validate(claims, r);
    if (st == MG_JWT_NOMEM)
        *nomem = true;
    mg_jwks_unref(jwks);
    return st;
}

/* The header of a compact JWS, decoded. */
static json_t *s_header(const char *token)
{
    const char *dot = strchr(token, '.');
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    json_t *h = NULL;
    if (mg_base64url_decode(&b, mg_slice_make(token, (size_t)(dot - token))) == MG_E_OK)
        h = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    return h;
}

static void test_issuer_token_claims_verify(void **state)
{
    struct s_dirs *d = *state;
    struct mg_issuer_keys *k = NULL;
    struct mg_errinfo ei = {0};
    struct mg_store *st = s_store(d->data);
    if (st == NULL)
        return;
    enum mg_err e = mg_issuer_keys_open(st, d->data, true, &k, &ei);
    mg_store_close(st);
    if (e == MG_E_NOMEM || e == MG_E_STORE)
        return;
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(mg_issuer_keys_count(k), 1);
    assert_int_equal(strlen(mg_issuer_keys_kid(k, 0)), MG_ISSUER_KID_LEN);
    /* in the store, not in the data directory */
    char path[160];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/issuer", d->data);
    assert_int_not_equal(stat(path, &sb), 0);

    const char *scopes[] = {"mcp/invoke", "mcp/read"};
    const char *auds[] = {"https://gw.example/mcp"};
    int64_t now = mg_now();
    struct mg_issuer_grant g = {.issuer = "http://127.0.0.1:4777/_mcpgate/issuer",
                                .client_id = "agent",
                                .scopes = scopes,
                                .n_scopes = 2,
                                .audiences = auds,
                                .n_audiences = 1,
                                .now = now,
                                .ttl = 600};
    struct mg_buf tok;
    mg_buf_init(&tok, 65536);
    e = mg_issuer_sign(k, &g, &tok, &ei);
    if (e == MG_E_NOMEM || (e == MG_E_OK && mg_buf_cstr(&tok) == NULL)) {
        mg_buf_cleanup(&tok);
        mg_issuer_keys_unref(k);
        return;
    }
    assert_int_equal(e, MG_E_OK);
    const char *token = mg_buf_cstr(&tok);

    json_t *h = s_header(token);
    if (h) {
        assert_string_equal(json_string_value(json_object_get(h, "alg")), "ES256");
        assert_string_equal(json_string_value(json_object_get(h, "typ")), "at+jwt");
        assert_string_equal(json_string_value(json_object_get(h, "kid")), mg_issuer_keys_kid(k, 0));
        json_decref(h);
    }

    const char *want_scope[] = {"mcp/read"};
    const char *want_client[] = {"agent"};
    struct mg_jwt_rules r = {.issuer = g.issuer,
                             .now = now,
                             .skew = 0,
                             .audiences = auds,
                             .n_audiences = 1,
                             .clients = want_client,
                             .n_clients = 1,
                             .scopes = want_scope,
                             .n_scopes = 1};
    struct mg_jwt_claims c;
    memset(&c, 0, sizeof(c));
    bool nomem;
    enum mg_jwt_status js = s_verify(k, token, &r, &c, &nomem);
    if (!nomem) {
        assert_int_equal(js, MG_JWT_OK);
        assert_string_equal(c.alg, "ES256");
        assert_string_equal(c.kid, mg_issuer_keys_kid(k, 0));
        assert_string_equal(c.iss, g.issuer);
        assert_string_equal(c.sub, "agent");
        assert_string_equal(c.client_id, "agent");
        assert_string_equal(json_string_value(c.aud), "https://gw.example/mcp");
        assert_string_equal(json_string_value(c.scope), "mcp/invoke mcp/read");
        assert_int_equal(c.iat, now);
        assert_int_equal(c.nbf, now);
        assert_int_equal(c.exp, now + 600);
        const char *jti = json_string_value(json_object_get(c.payload, "jti"));
        assert_non_null(jti);
        assert_int_equal(strlen(jti), 32);
    }
    mg_jwt_claims_cleanup(&c);

    /* the rules bite: another issuer, after exp */
    r.issuer = "http://127.0.0.1:1/_mcpgate/issuer";
    js = s_verify(k, token, &r, &c, &nomem);
    if (!nomem)
        assert_int_equal(js, MG_JWT_WRONG_ISSUER);
    mg_jwt_claims_cleanup(&c);
    r.issuer = g.issuer;
    r.now = now + 601;
    js = s_verify(k, token, &r, &c, &nomem);
    if (!nomem)
        assert_int_equal(js, MG_JWT_EXPIRED);
    mg_jwt_claims_cleanup(&c);

    /* two audiences: an array; no scope: no claim */
    const char *auds2[] = {"https://a.example", "https://b.example"};
    g.audiences = auds2;
    g.n_audiences = 2;
    g.n_scopes = 0;
    mg_buf_reset(&tok);
    if (mg_issuer_sign(k, &g, &tok, &ei) == MG_E_OK && mg_buf_cstr(&tok)) {
        struct mg_jwt_rules r2 = {.issuer = g.issuer, .now = now, .skew = -1};
        js = s_verify(k, mg_buf_cstr(&tok), &r2, &c, &nomem);
        if (!nomem) {
            assert_int_equal(js, MG_JWT_OK);
            assert_true(json_is_array(c.aud));
            assert_int_equal(json_array_size(c.aud), 2);
            assert_null(c.scope);
        }
        mg_jwt_claims_cleanup(&c);
    }
    mg_buf_cleanup(&tok);
    mg_issuer_keys_unref(k);
}

static void test_issuer_rotation_keeps_old_kid(void **state)
{
    struct s_dirs *d = *state;
    struct mg_issuer_keys *k1 = NULL, *k = NULL;
    struct mg_errinfo ei = {0};
    struct mg_store *st = s_store(d->data);
    if (st == NULL)
        return;
    if (mg_issuer_keys_open(st, NULL, true, &k1, &ei) != MG_E_OK) {
        mg_store_close(st);
        return; /* only out of memory can fail here */
    }
    char kid1[MG_ISSUER_KID_LEN + 1];
    snprintf(kid1, sizeof(kid1), "%s", mg_issuer_keys_kid(k1, 0));
    struct mg_issuer_grant g = {.issuer = "http://i/_mcpgate/issuer",
                                .client_id = "agent",
                                .now = mg_now(),
                                .ttl = 600};
    struct mg_buf old;
    mg_buf_init(&old, 65536);
    enum mg_err e = mg_issuer_sign(k1, &g, &old, &ei);
    mg_issuer_keys_unref(k1);
    if (e || !mg_buf_cstr(&old)) {
        mg_buf_cleanup(&old);
        mg_store_close(st);
        return;
    }

    char kid2[MG_ISSUER_KID_LEN + 1];
    e = mg_issuer_keys_rotate(st, NULL, kid2, sizeof(kid2), &ei);
    if (e == MG_E_NOMEM || e == MG_E_STORE) {
        mg_buf_cleanup(&old);
        mg_store_close(st);
        return;
    }
    assert_int_equal(e, MG_E_OK);
    assert_string_not_equal(kid1, kid2);
    e = mg_issuer_keys_open(st, NULL, false, &k, &ei);
    if (e == MG_E_OK) {
        assert_int_equal(mg_issuer_keys_count(k), 2);
        assert_string_equal(mg_issuer_keys_kid(k, 0), kid2);
        assert_string_equal(mg_issuer_keys_kid(k, 1), kid1);
        /* the token of the previous key still verifies against the new JWKS */
        struct mg_jwt_rules r = {.issuer = g.issuer, .now = g.now, .skew = -1};
        struct mg_jwt_claims c;
        memset(&c, 0, sizeof(c));
        bool nomem;
        enum mg_jwt_status js = s_verify(k, mg_buf_cstr(&old), &r, &c, &nomem);
        if (!nomem) {
            assert_int_equal(js, MG_JWT_OK);
            assert_string_equal(c.kid, kid1);
        }
        mg_jwt_claims_cleanup(&c);
        /* new tokens carry the new kid */
        struct mg_buf tok;
        mg_buf_init(&tok, 65536);
        if (mg_issuer_sign(k, &g, &tok, &ei) == MG_E_OK && mg_buf_cstr(&tok)) {
            json_t *h = s_header(mg_buf_cstr(&tok));
            if (h)
                assert_string_equal(json_string_value(json_object_get(h, "kid")), kid2);
            json_decref(h);
        }
        mg_buf_cleanup(&tok);
        mg_issuer_keys_unref(k);
        k = NULL;
    } else {
        assert_true(e == MG_E_NOMEM || e == MG_E_STORE);
    }

    /* two more rotations: at most three keys, the oldest goes */
    char kid3[MG_ISSUER_KID_LEN + 1], kid4[MG_ISSUER_KID_LEN + 1];
    if (mg_issuer_keys_rotate(st, NULL, kid3, sizeof(kid3), &ei) != MG_E_OK ||
        mg_issuer_keys_rotate(st, NULL, kid4, sizeof(kid4), &ei) != MG_E_OK ||
        mg_issuer_keys_open(st, NULL, false, &k, &ei) != MG_E_OK) {
        mg_buf_cleanup(&old);
        mg_store_close(st);
        return;
    }
    assert_int_equal(mg_issuer_keys_count(k), MG_ISSUER_MAX_KEYS);
    assert_string_equal(mg_issuer_keys_kid(k, 0), kid4);
    assert_string_equal(mg_issuer_keys_kid(k, 1), kid3);
    assert_string_equal(mg_issuer_keys_kid(k, 2), kid2);
    struct mg_jwt_rules r = {.issuer = g.issuer, .now = g.now, .skew = -1};
    struct mg_jwt_claims c;
    memset(&c, 0, sizeof(c));
    bool nomem;
    enum mg_jwt_status js = s_verify(k, mg_buf_cstr(&old), &r, &c, &nomem);
    if (!nomem)
        assert_int_equal(js, MG_JWT_UNKNOWN_KID);
    mg_jwt_claims_cleanup(&c);
    mg_issuer_keys_unref(k);
    mg_buf_cleanup(&old);

    /* a damaged stored value is refused, never replaced */
    static const char bad[] = "{\"keys\":[{\"kid\":\"x\",\"created\":1,\"privateKey\":\"nope\"}]}";
    k = NULL;
    if (mg_store_meta_put(st, "issuer_keys", mg_slice_cstr(bad)) == MG_E_OK) {
        e = mg_issuer_keys_open(st, NULL, true, &k, &ei);
        if (e != MG_E_NOMEM && e != MG_E_STORE) {
            assert_int_equal(e, MG_E_INVALID);
            assert_non_null(strstr(ei.msg, "the issuer keys in the store (meta issuer_keys): "
                                           "keys[0].privateKey: not a P-256 private key"));
        }
        assert_null(k);
        e = mg_issuer_keys_rotate(st, NULL, kid3, sizeof(kid3), &ei);
        assert_int_not_equal(e, MG_E_OK);
    }
    mg_store_close(st);
}

/* Two handles on one store (two nodes): the key made by the first is the second's; a rotation
 * through the second reaches the first by mg_issuer_keys_reload; an older data directory's
 * keys.json is moved into a store without keys, and renamed. */
static void test_issuer_keys_shared_and_migrated(void **state)
{
    struct s_dirs *d = *state;
    struct mg_errinfo ei = {0};
    struct mg_store *a = s_store(d->data), *b = a ? s_store(d->data) : NULL;
    struct mg_issuer_keys *ka = NULL, *kb = NULL, *re = NULL;
    char kid[MG_ISSUER_KID_LEN + 1];
    if (a == NULL || b == NULL)
        goto out;
    if (mg_issuer_keys_open(a, NULL, true, &ka, &ei) != MG_E_OK ||
        mg_issuer_keys_open(b, NULL, true, &kb, &ei) != MG_E_OK)
        goto out;
    assert_string_equal(mg_issuer_keys_kid(ka, 0), mg_issuer_keys_kid(kb, 0));
    /* unchanged: nothing to reload */
    if (mg_issuer_keys_reload(a, ka, &re, &ei) != MG_E_OK)
        goto out;
    assert_null(re);
    if (mg_issuer_keys_rotate(b, NULL, kid, sizeof(kid), &ei) != MG_E_OK ||
        mg_issuer_keys_reload(a, ka, &re, &ei) != MG_E_OK)
        goto out;
    assert_non_null(re);
    assert_string_equal(mg_issuer_keys_kid(re, 0), kid);
    assert_string_equal(mg_issuer_keys_kid(re, 1), mg_issuer_keys_kid(ka, 0));

    /* a legacy keys.json next to a new store: its keys become the store's */
    char legacy[128], store2[128], path[200], text[8192];
    snprintf(legacy, sizeof(legacy), "%s/old", d->data);
    snprintf(store2, sizeof(store2), "%s/new", d->data);
    snprintf(path, sizeof(path), "%s/issuer", legacy);
    if (mkdir(legacy, 0700) != 0 || mkdir(path, 0700) != 0)
        fail_msg("mkdir %s", path);
    struct mg_buf v;
    mg_buf_init(&v, sizeof(text) - 1);
    enum mg_err e = mg_store_meta_get(a, "issuer_keys", &v);
    if (e == MG_E_OK) {
        snprintf(text, sizeof(text), "%.*s", (int)v.len, (const char *)v.ptr);
        snprintf(path, sizeof(path), "%s/issuer/keys.json", legacy);
        s_write(path, text);
    }
    mg_buf_cleanup(&v);
    if (e)
        goto out;
    mg_store_close(b);
    b = s_store(store2);
    mg_issuer_keys_unref(kb);
    kb = NULL;
    if (b == NULL || mg_issuer_keys_open(b, legacy, false, &kb, &ei) != MG_E_OK)
        goto out;
    assert_int_equal(mg_issuer_keys_count(kb), 2);
    assert_string_equal(mg_issuer_keys_kid(kb, 0), kid);
    struct stat sb;
    assert_int_not_equal(stat(path, &sb), 0); /* renamed */
    snprintf(path, sizeof(path), "%s/issuer/keys.json.imported", legacy);
    assert_int_equal(stat(path, &sb), 0);
out:
    mg_issuer_keys_unref(re);
    mg_issuer_keys_unref(ka);
    mg_issuer_keys_unref(kb);
    mg_store_close(b);
    mg_store_close(a);
}

/* ---- what a client may have ---- */

static void test_issuer_resolve_scopes_audiences(void **state)
{
    (void)state;
    struct mg_issuer_config *c = NULL;
    struct mg_errinfo ei = {0};
    if (mg_issuer_config_parse(mg_slice_cstr(GOOD_CONFIG), &c, &ei) != MG_E_OK)
        return;
    const struct mg_issuer_client *agent = mg_issuer_config_client(c, mg_slice_cstr("agent"));
    const struct mg_issuer_client *bound = mg_issuer_config_client(c, mg_slice_cstr("bound"));
    struct mg_issuer_resolved res;
    const char *err = NULL;

    /* absent scope: all of them; no audiences list: aud = resource */
    assert_int_equal(mg_issuer_resolve(agent, NULL, NULL, "http://h/gateways/g/mcp", &res, &err,
                                       &ei),
                     MG_E_OK);
    assert_int_equal(res.n_scopes, 2);
    assert_int_equal(res.n_audiences, 1);
    assert_string_equal(res.audiences[0], "http://h/gateways/g/mcp");
    /* a subset, repeated tokens once, extra spaces */
    assert_int_equal(mg_issuer_resolve(agent, "  mcp/read mcp/read ", NULL, NULL, &res, &err, &ei),
                     MG_E_OK);
    assert_int_equal(res.n_scopes, 1);
    assert_string_equal(res.scopes[0], "mcp/read");
    assert_int_equal(res.n_audiences, 0);
    /* not granted */
    assert_int_equal(mg_issuer_resolve(agent, "mcp/read admin", NULL, NULL, &res, &err, &ei),
                     MG_E_INVALID);
    assert_string_equal(err, "invalid_scope");
    assert_string_equal(ei.msg, "scope \"admin\" is not granted to this client");
    /* audience and resource both */
    assert_int_equal(mg_issuer_resolve(agent, NULL, "urn:x", "https://r.example", &res, &err, &ei),
                     MG_E_OK);
    assert_int_equal(res.n_audiences, 2);
    assert_int_equal(mg_issuer_resolve(agent, NULL, NULL, "not a uri", &res, &err, &ei),
                     MG_E_INVALID);
    assert_string_equal(err, "invalid_target");
    /* an audiences list: only those; none asked: all of them */
    assert_int_equal(mg_issuer_resolve(bound, NULL, NULL, NULL, &res, &err, &ei), MG_E_OK);
    assert_int_equal(res.n_audiences, 2);
    assert_int_equal(mg_issuer_resolve(bound, NULL, NULL, "https://gw.example/mcp", &res, &err,
                                       &ei),
                     MG_E_OK);
    assert_int_equal(res.n_audiences, 1);
    assert_int_equal(mg_issuer_resolve(bound, NULL, "https://evil.example", NULL, &res, &err, &ei),
                     MG_E_INVALID);
    assert_string_equal(err, "invalid_target");
    assert_string_equal(ei.msg, "audience \"https://evil.example\" is not allowed for this client");

    char url[128];
    assert_true(mg_issuer_url("http://127.0.0.1:4777/", url, sizeof(url)));
    assert_string_equal(url, "http://127.0.0.1:4777/_mcpgate/issuer");
    mg_issuer_config_free(c);
}

/* ---- the token endpoint ---- */

struct s_answer {
    int status;
    bool www;
    json_t *doc;
};

static bool s_ask(struct mg_issuer *is, const char *auth, const char *ct, const char *body,
                  struct s_answer *a)
{
    struct mg_issuer_reply r;
    mg_buf_init(&r.body, 1 << 17);
    mg_issuer_token_request(is, mg_slice_cstr(auth), mg_slice_cstr(ct), mg_slice_cstr(body), &r);
    a->status = r.status;
    a->www = r.www_basic;
    a->doc = r.body.len ? json_loadb((const char *)r.body.ptr, r.body.len, 0, NULL) : NULL;
    mg_buf_cleanup(&r.body);
    if (a->status == 500 || a->doc == NULL) { /* out of memory somewhere */
        json_decref(a->doc);
        a->doc = NULL;
        return false;
    }
    return true;
}

static void s_expect_error(struct mg_issuer *is, const char *auth, const char *ct, const char *body,
                           int status, const char *error)
{
    struct s_answer a;
    if (!s_ask(is, auth, ct, body, &a))
        return;
    if (a.status != status ||
        strcmp(json_string_value(json_object_get(a.doc, "error")), error) != 0)
        fail_msg("body '%s': got %d %s, want %d %s", body, a.status,
                 json_string_value(json_object_get(a.doc, "error")), status, error);
    assert_non_null(json_string_value(json_object_get(a.doc, "error_description")));
    assert_int_equal(a.www, status == 401);
    json_decref(a.doc);
}

#define FORM "application/x-www-form-urlencoded"
/* "agent:0123456789abcdef-secret" */
#define BASIC "Basic YWdlbnQ6MDEyMzQ1Njc4OWFiY2RlZi1zZWNyZXQ="

static void test_issuer_token_endpoint(void **state)
{
    struct s_dirs *d = *state;
    s_write(d->file, GOOD_CONFIG);
    static const char public_url[] = "http://127.0.0.1:4777";
    struct mg_issuer *is = NULL;
    struct mg_errinfo ei = {0};
    struct mg_store *st = s_store(d->data);
    if (st == NULL)
        return;
    if (mg_issuer_new(d->file, st, d->data, public_url, &is, &ei) != MG_E_OK) {
        mg_store_close(st);
        return;
    }

    /* client_secret_basic */
    struct s_answer a;
    if (s_ask(is, BASIC, FORM "; charset=utf-8",
              "grant_type=client_credentials&scope=mcp%2Fread&resource=https%3A%2F%2Fgw.example%2F"
              "mcp",
              &a)) {
        assert_int_equal(a.status, 200);
        assert_string_equal(json_string_value(json_object_get(a.doc, "token_type")), "Bearer");
        assert_int_equal(json_integer_value(json_object_get(a.doc, "expires_in")), 600);
        assert_string_equal(json_string_value(json_object_get(a.doc, "scope")), "mcp/read");
        const char *token = json_string_value(json_object_get(a.doc, "access_token"));
        struct mg_issuer_keys *k = mg_issuer_current_keys(is);
        const char *aud[] = {"https://gw.example/mcp"};
        struct mg_jwt_rules r = {.issuer = "http://127.0.0.1:4777/_mcpgate/issuer",
                                 .now = mg_now(),
                                 .skew = -1,
                                 .audiences = aud,
                                 .n_audiences = 1};
        struct mg_jwt_claims c;
        memset(&c, 0, sizeof(c));
        bool nomem;
        enum mg_jwt_status js = s_verify(k, token, &r, &c, &nomem);
        if (!nomem) {
            assert_int_equal(js, MG_JWT_OK);
            assert_string_equal(c.client_id, "agent");
        }
        mg_jwt_claims_cleanup(&c);
        mg_issuer_keys_unref(k);
        json_decref(a.doc);
    }
    /* client_secret_post, all scopes */
    if (s_ask(is, "", FORM, "grant_type=client_credentials&client_id=agent&client_secret=" SECRET,
              &a)) {
        assert_int_equal(a.status, 200);
        assert_string_equal(json_string_value(json_object_get(a.doc, "scope")),
                            "mcp/invoke mcp/read");
        json_decref(a.doc);
    }

    /* the error answers */
    s_expect_error(is, BASIC, FORM, "", 400, "invalid_request");
    s_expect_error(is, BASIC, "application/json", "{}", 400, "invalid_request");
    s_expect_error(is, BASIC, FORM, "grant_type=password", 400, "unsupported_grant_type");
    s_expect_error(is, BASIC, FORM, "grant_type=client_credentials&grant_type=client_credentials",
                   400, "invalid_request");
    s_expect_error(is, BASIC, FORM, "grant_type=client_credentials&scope=admin", 400,
                   "invalid_scope");
    s_expect_error(is, BASIC, FORM,
                   "grant_type=client_credentials&client_id=agent&client_secret=" SECRET, 400,
                   "invalid_request");
    s_expect_error(is, "", FORM, "grant_type=client_credentials", 401, "invalid_client");
    s_expect_error(is, "", FORM,
                   "grant_type=client_credentials&client_id=agent&client_secret=wrong-secret-000",
                   401, "invalid_client");
    s_expect_error(is, "", FORM,
                   "grant_type=client_credentials&client_id=nobody&client_secret=" SECRET, 401,
                   "invalid_client");
    s_expect_error(is, "Basic !!!", FORM, "grant_type=client_credentials", 401, "invalid_client");
    s_expect_error(is, "Bearer abc", FORM, "grant_type=client_credentials", 401, "invalid_client");
    /* "bound:another-secret-0123" with a resource it may not have */
    s_expect_error(is, "Basic Ym91bmQ6YW5vdGhlci1zZWNyZXQtMDEyMw==", FORM,
                   "grant_type=client_credentials&resource=https%3A%2F%2Fevil.example", 400,
                   "invalid_target");
    char *big = malloc(MG_ISSUER_MAX_BODY + 64);
    memset(big, 'a', MG_ISSUER_MAX_BODY + 63);
    big[MG_ISSUER_MAX_BODY + 63] = 0;
    s_expect_error(is, BASIC, FORM, big, 400, "invalid_request");
    free(big);
    mg_issuer_free(is);
    mg_store_close(st);
}

int main(void)
{
    g_mg_log_level = MG_LOG_WARN;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issuer_config_errors),
        cmocka_unit_test_setup_teardown(test_issuer_config_ok_and_path, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_issuer_token_claims_verify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_issuer_rotation_keeps_old_kid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_issuer_keys_shared_and_migrated, s_setup, s_teardown),
        cmocka_unit_test(test_issuer_resolve_scopes_audiences),
        cmocka_unit_test_setup_teardown(test_issuer_token_endpoint, s_setup, s_teardown),
    };
    return MG_RUN_TESTS(tests);
}
