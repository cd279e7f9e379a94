/* tests/unit/vault_cred_test.c: outbound credentials of targets (src/vault/cred.c) and the
 * OAuth2 token cache (src/vault/oauth.c): API-key formatting, header / query / SigV4 on a
 * request (SigV4 checked by mg_sigv4_verify and against AWS's suite when it is at hand), the
 * role-session and token caches with explicit clocks, and the failures that need no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "base/util.h"
#include "sigv4/sigv4.h"
#include "targets/targets.h"
#include "unit/leaks.h"
#include "vault/internal.h"

#define AKID "ASIAMCPGATEEXAMPLE01"
#define SECRET "mcpgate/secret/EXAMPLEKEY+0123456789abcd"
#define TOKEN "FwoGZXIvYXdzEXAMPLETOKEN/+="
#define T0 1798761600 /* 2027-01-01T00:00:00Z */

static json_t *s_json(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

/* ---- API keys ------------------------------------------------------------------------------ */

static void s_key_case(const char *akp_text, const char *key, const char *want_name,
                       const char *want_value, bool query)
{
    json_t *akp = s_json(akp_text);
    struct mg_vault_cred c = {0};
    char msg[256] = "";
    assert_int_equal(mg_vault_api_key_cred(akp, key, &c, msg, sizeof(msg)), MG_E_OK);
    assert_int_equal(c.type, MG_CRED_API_KEY);
    if (query) {
        assert_null(c.header_name);
        assert_string_equal(c.query_name, want_name);
        assert_string_equal(c.query_value, want_value);
    } else {
        assert_null(c.query_name);
        assert_string_equal(c.header_name, want_name);
        assert_string_equal(c.header_value, want_value);
    }
    mg_vault_cred_cleanup(&c);
    json_decref(akp);
}

static void test_vault_api_key_formatting(void **state)
{
    (void)state;
    s_key_case("{}", "k-123", "Authorization", "k-123", false);
    s_key_case("{\"credentialPrefix\": \"Bearer\"}", "k-123", "Authorization", "Bearer k-123",
               false);
    /* a prefix that already ends with a space gets no second one */
    s_key_case("{\"credentialPrefix\": \"Bearer \"}", "k-123", "Authorization", "Bearer k-123",
               false);
    s_key_case("{\"credentialLocation\": \"HEADER\", \"credentialParameterName\": \"X-API-Key\"}",
               "k-123", "X-API-Key", "k-123", false);
    s_key_case("{\"credentialLocation\": \"QUERY_PARAMETER\"}", "k 1/2", "api_key", "k 1/2", true);
    s_key_case("{\"credentialLocation\": \"QUERY_PARAMETER\", \"credentialParameterName\": "
               "\"key\", \"credentialPrefix\": \"Token\"}",
               "abc", "key", "Token abc", true);
}

static void test_vault_api_key_refusals(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"credentialLocation\": \"COOKIE\"}", "k"},
        {"{}", ""},
        {"{}", NULL},
        {"{}", "line1\r\nX-Injected: yes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *akp = s_json(cases[i][0]);
        struct mg_vault_cred c = {0};
        char msg[256] = "";
        assert_int_not_equal(mg_vault_api_key_cred(akp, cases[i][1], &c, msg, sizeof(msg)),
                             MG_E_OK);
        assert_true(msg[0] != 0);
        /* the message never repeats the key */
        if (cases[i][1] && cases[i][1][0])
            assert_null(strstr(msg, cases[i][1]));
        assert_null(c.header_value);
        assert_null(c.query_value);
        json_decref(akp);
    }
}

/* ---- apply: header and query --------------------------------------------------------------- */

static void s_req(struct mg_target_req *r, const char *method, const char *url, const char *body)
{
    mg_target_req_init(r);
    snprintf(r->method, sizeof(r->method), "%s", method);
    assert_int_equal(mg_buf_append_cstr(&r->url, url), MG_E_OK);
    if (body)
        assert_int_equal(mg_buf_append_cstr(&r->body, body), MG_E_OK);
}

static void test_vault_apply_header_and_query(void **state)
{
    (void)state;
    struct mg_target_req r;
    s_req(&r, "GET", "https://api.example.com/v1/items", NULL);
    struct mg_vault_cred h = {.type = MG_CRED_API_KEY,
                              .header_name = mg_strdup("X-API-Key"),
                              .header_value = mg_strdup("Token k/1")};
    assert_int_equal(mg_vault_cred_apply(&h, &r, T0), MG_E_OK);
    assert_string_equal(mg_target_req_header_value(&r, "x-api-key"), "Token k/1");
    mg_vault_cred_cleanup(&h);
    mg_target_req_cleanup(&r);

    s_req(&r, "GET", "https://api.example.com/v1/items?limit=2", NULL);
    struct mg_vault_cred q = {.type = MG_CRED_API_KEY,
                              .query_name = mg_strdup("api_key"),
                              .query_value = mg_strdup("k 1/2&x=y")};
    assert_int_equal(mg_vault_cred_apply(&q, &r, T0), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.url),
                        "https://api.example.com/v1/items?limit=2&api_key=k%201%2F2%26x%3Dy");
    assert_int_equal(r.n_headers, 0);
    mg_vault_cred_cleanup(&q);
    mg_target_req_cleanup(&r);

    s_req(&r, "POST", "https://auth.example.com/x", NULL);
    struct mg_vault_cred o = {.type = MG_CRED_OAUTH,
                              .header_name = mg_strdup("Authorization"),
                              .header_value = mg_strdup("Bearer abc.def")};
    assert_int_equal(mg_vault_cred_apply(&o, &r, T0), MG_E_OK);
    assert_string_equal(mg_target_req_header_value(&r, "Authorization"), "Bearer abc.def");
    mg_vault_cred_cleanup(&o);

    struct mg_vault_cred none = {0};
    size_t before = r.n_headers;
    assert_int_equal(mg_vault_cred_apply(&none, &r, T0), MG_E_OK);
    assert_int_equal(r.n_headers, before);
    struct mg_vault_cred empty = {.type = MG_CRED_API_KEY};
    assert_int_equal(mg_vault_cred_apply(&empty, &r, T0), MG_E_INVALID);
    mg_target_req_cleanup(&r);
}

/* ---- apply: SigV4 -------------------------------------------------------------------------- */

static struct mg_vault_cred s_iam(const char *akid, const char *secret, const char *token,
                                  const char *service, const char *region)
{
    struct mg_vault_cred c = {.type = MG_CRED_GATEWAY_IAM_ROLE};
    snprintf(c.access_key_id, sizeof(c.access_key_id), "%s", akid);
    snprintf(c.secret, sizeof(c.secret), "%s", secret);
    c.session_token = token ? mg_strdup(token) : NULL;
    snprintf(c.service, sizeof(c.service), "%s", service);
    snprintf(c.region, sizeof(c.region), "%s", region);
    return c;
}

/* The request as a server receives it, for mg_sigv4_verify. */
struct s_wire {
    struct mg_kv h[MG_HTTP_CLIENT_MAX_HEADERS + 1];
    char names[MG_HTTP_CLIENT_MAX_HEADERS][64];
    struct mg_sigv4_request req;
};

static void s_wire(const struct mg_target_req *r, const char *host, const char *path,
                   const char *query, struct s_wire *w)
{
    size_t n = 0;
    w->h[n++] = (struct mg_kv){MG_SLICE_LIT("host"), mg_slice_cstr(host)};
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *colon = strchr(r->headers[i], ':');
        assert_non_null(colon);
        size_t nl = (size_t)(colon - r->headers[i]);
        assert_true(nl < 64);
        for (size_t k = 0; k < nl; k++) {
            char ch = r->headers[i][k];
            w->names[i][k] = ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
        }
        w->names[i][nl] = 0;
        w->h[n++] = (struct mg_kv){mg_slice_make(w->names[i], nl), mg_slice_cstr(colon + 2)};
    }
    w->req = (struct mg_sigv4_request){
        .method = mg_slice_cstr(r->method),
        .path = mg_slice_cstr(path),
        .query = mg_slice_cstr(query),
        .headers = w->h,
        .n_headers = n,
        .body = mg_buf_slice(&r->body),
    };
}

static enum mg_sigv4_status s_verify(const struct s_wire *w, const char *secret,
                                     const char *service, int64_t now)
{
    struct mg_sigv4_auth a;
    struct mg_errinfo ei = {0};
    enum mg_sigv4_status st = mg_sigv4_parse(&w->req, &a, &ei);
    if (st != MG_SIGV4_OK)
        return st;
    const char *regions[] = {"us-west-2"};
    st = mg_sigv4_check(&a, regions, 1, service, now, 300, &ei);
    if (st != MG_SIGV4_OK)
        return st;
    return mg_sigv4_verify(&w->req, &a, mg_slice_cstr(secret), NULL, &ei);
}

static void test_vault_apply_sigv4_verifies(void **state)
{
    (void)state;
    struct mg_target_req r;
    s_req(&r, "POST", "http://127.0.0.1:8080/a%20b/./c/?x=1&y=a%2Fb#frag", "{\"q\":1}");
    assert_int_equal(mg_target_req_header(&r, "Content-Type", MG_SLICE_LIT("application/json")),
                     MG_E_OK);
    struct mg_vault_cred c = s_iam(AKID, SECRET, TOKEN, "execute-api", "us-west-2");
    assert_int_equal(mg_vault_cred_apply(&c, &r, T0), MG_E_OK);
    assert_string_equal(mg_target_req_header_value(&r, "x-amz-security-token"), TOKEN);
    assert_string_equal(mg_target_req_header_value(&r, "x-amz-date"), "20270101T000000Z");
    const char *auth = mg_target_req_header_value(&r, "authorization");
    assert_non_null(auth);
    assert_non_null(
        strstr(auth, "Credential=" AKID "/20270101/us-west-2/execute-api/aws4_request"));
    assert_non_null(
        strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"));
    assert_null(strstr(auth, SECRET));

    struct s_wire w;
    s_wire(&r, "127.0.0.1:8080", "/a%20b/./c/", "x=1&y=a%2Fb", &w);
    assert_int_equal(s_verify(&w, SECRET, "execute-api", T0), MG_SIGV4_OK);
    /* another secret, another body, another host: refused */
    assert_int_equal(s_verify(&w, "another-secret", "execute-api", T0), MG_SIGV4_MISMATCH);
    w.req.body = MG_SLICE_LIT("{\"q\":2}");
    assert_int_equal(s_verify(&w, SECRET, "execute-api", T0), MG_SIGV4_MISMATCH);
    s_wire(&r, "127.0.0.1:8081", "/a%20b/./c/", "x=1&y=a%2Fb", &w);
    assert_int_equal(s_verify(&w, SECRET, "execute-api", T0), MG_SIGV4_MISMATCH);
    /* signing twice is refused (x-amz-date and authorization are already there) */
    assert_int_equal(mg_vault_cred_apply(&c, &r, T0), MG_E_INVALID);
    mg_vault_cred_cleanup(&c);
    mg_target_req_cleanup(&r);

    /* https with its default port: the host is signed without it; no token, no path */
    s_req(&r, "GET", "https://api.example.com:443?b=2&a=1", NULL);
    c = s_iam("AKIAMCPGATEEXAMPLE02", SECRET, NULL, "lambda", "us-west-2");
    assert_int_equal(mg_vault_cred_apply(&c, &r, T0), MG_E_OK);
    assert_null(mg_target_req_header_value(&r, "x-amz-security-token"));
    s_wire(&r, "api.example.com", "/", "b=2&a=1", &w);
    assert_int_equal(s_verify(&w, SECRET, "lambda", T0), MG_SIGV4_OK);
    mg_vault_cred_cleanup(&c);
    mg_target_req_cleanup(&r);

    /* no service (a Smithy target whose caller forgot to fill it), a bad URL: refused */
    s_req(&r, "GET", "https://api.example.com/", NULL);
    c = s_iam(AKID, SECRET, TOKEN, "", "us-west-2");
    assert_int_equal(mg_vault_cred_apply(&c, &r, T0), MG_E_INVALID);
    mg_vault_cred_cleanup(&c);
    mg_target_req_cleanup(&r);
    s_req(&r, "GET", "ftp://api.example.com/", NULL);
    c = s_iam(AKID, SECRET, NULL, "s3", "us-west-2");
    assert_int_equal(mg_vault_cred_apply(&c, &r, T0), MG_E_INVALID);
    mg_vault_cred_cleanup(&c);
    mg_target_req_cleanup(&r);
    mg_sigv4_thread_cleanup();
}

/* AWS's SigV4 suite (../shared/testdata/sigv4/v4): each normalized case whose request a target
 * could send is rebuilt as a target request, signed by mg_vault_cred_apply, and its
 * Authorization header compared with the suite's. */
static char *s_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Signs one case; false when the case is not one a target request can express. */
static bool s_suite_case(const char *dir, const char *name)
{
    static const char *const skip[] = {
        "post-sts-header-after",      /* the token is added after signing */
        "get-header-value-multiline", /* folded header lines */
        "get-space-normalized",       /* a raw space in the request target */
    };
    for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
        if (strcmp(name, skip[i]) == 0)
            return false;
    char path[1400];
    snprintf(path, sizeof(path), "%s/context.json", dir);
    json_t *ctx = json_load_file(path, 0, NULL);
    assert_non_null(ctx);
    bool normalize = json_is_true(json_object_get(ctx, "normalize"));
    const json_t *cr = json_object_get(ctx, "credentials");
    const char *token = json_string_value(json_object_get(cr, "token"));
    int64_t ts = 0;
    assert_true(
        mg_time_parse_iso8601(mg_slice_cstr(json_string_value(json_object_get(ctx, "timestamp"))),
                              &ts));
    snprintf(path, sizeof(path), "%s/request.txt", dir);
    char *req = s_read(path);
    snprintf(path, sizeof(path), "%s/header-signed-request.txt", dir);
    char *signed_req = s_read(path);
    bool used = false;
    /* sign_body cases add x-amz-content-sha256 (an S3 habit the services here do not have) */
    if (!normalize || json_is_true(json_object_get(ctx, "sign_body")) || req == NULL ||
        signed_req == NULL)
        goto out;
    /* request line, headers, body */
    char *body = strstr(req, "\n\n");
    if (body)
        *body = 0, body += 2;
    char *line = req, *next = strchr(line, '\n');
    if (next)
        *next++ = 0;
    char method[16], target[2048];
    char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
    if (!sp1 || sp2 == sp1 || (size_t)(sp1 - line) >= sizeof(method))
        goto out;
    snprintf(method, sizeof(method), "%.*s", (int)(sp1 - line), line);
    snprintf(target, sizeof(target), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    struct mg_target_req r;
    mg_target_req_init(&r);
    snprintf(r.method, sizeof(r.method), "%.7s", method);
    char host[256] = "";
    bool ok = true;
    for (line = next; ok && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        char *colon = strchr(line, ':');
        if (!colon || line[0] == ' ' || line[0] == '\t') {
            ok = false;
            break;
        }
        *colon = 0;
        if (strcasecmp(line, "host") == 0)
            snprintf(host, sizeof(host), "%s", colon + 1);
        else if (strcasecmp(line, "x-amz-date") == 0)
            ok = false; /* the signer dates the request itself */
        else
            ok = mg_target_req_header(&r, line, mg_slice_cstr(colon + 1)) == MG_E_OK;
    }
    ok = ok && host[0] && mg_buf_printf(&r.url, "https://%s%s", host, target) == MG_E_OK &&
         (!body || mg_buf_append_cstr(&r.body, body) == MG_E_OK);
    if (ok) {
        struct mg_vault_cred c = s_iam(json_string_value(json_object_get(cr, "access_key_id")),
                                       json_string_value(json_object_get(cr, "secret_access_key")),
                                       token, json_string_value(json_object_get(ctx, "service")),
                                       json_string_value(json_object_get(ctx, "region")));
        assert_int_equal(mg_vault_cred_apply(&c, &r, ts), MG_E_OK);
        const char *got = mg_target_req_header_value(&r, "authorization");
        const char *want = strstr(signed_req, "\nAuthorization:");
        assert_non_null(got);
        assert_non_null(want);
        want += strlen("\nAuthorization:");
        size_t wl = strcspn(want, "\n");
        if (strlen(got) != wl || strncmp(got, want, wl) != 0)
            fail_msg("%s: Authorization %s, want %.*s", name, got, (int)wl, want);
        mg_vault_cred_cleanup(&c);
        used = true;
    }
    mg_target_req_cleanup(&r);
out:
    free(req);
    free(signed_req);
    json_decref(ctx);
    return used;
}

static void test_vault_apply_sigv4_aws_suite(void **state)
{
    (void)state;
    const char *shared = getenv("MG_SHARED_DIR");
    char root[1024];
    snprintf(root, sizeof(root), "%s/testdata/sigv4/v4", shared && *shared ? shared : "../shared");
    DIR *d = opendir(root);
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
    size_t signed_ok = 0;
    for (size_t i = 0; i < n; i++) {
        char dir[1200];
        snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
        signed_ok += s_suite_case(dir, names[i]);
        free(names[i]);
    }
    print_message("AWS SigV4 suite: %zu cases signed through mg_vault_cred_apply\n", signed_ok);
    assert_true(signed_ok >= 15);
    mg_sigv4_thread_cleanup();
}

/* ---- the caches ---------------------------------------------------------------------------- */

static void test_vault_role_cache_expiry(void **state)
{
    (void)state;
    mg_vault_role_cache_clear();
    struct mg_vault_cred c = s_iam(AKID, SECRET, TOKEN, "execute-api", "us-west-2");
    const char *role = "arn:aws:iam::123456789012:role/gw";
    const char *gw = "arn:aws:bedrock-agentcore:us-west-2:123456789012:gateway/g-1";
    mg_vault_role_cache_put(role, gw, 7, T0 + 300, &c);
    mg_vault_cred_cleanup(&c);

    struct mg_vault_cred got = {0};
    assert_true(mg_vault_role_cache_get(role, gw, 7, T0 + 299, &got));
    assert_string_equal(got.access_key_id, AKID);
    assert_string_equal(got.secret, SECRET);
    assert_string_equal(got.session_token, TOKEN);
    mg_vault_cred_cleanup(&got);
    /* another snapshot generation, another gateway sharing the role: misses */
    assert_false(mg_vault_role_cache_get(role, gw, 8, T0, &got));
    assert_false(mg_vault_role_cache_get(role,
                                         "arn:aws:bedrock-agentcore:us-west-2:"
                                         "123456789012:gateway/g-2",
                                         7, T0, &got));
    /* expired: a miss, and gone */
    assert_false(mg_vault_role_cache_get(role, gw, 7, T0 + 300, &got));
    assert_false(mg_vault_role_cache_get(role, gw, 7, T0, &got));
    assert_null(got.session_token);

    /* bounded: the entry that expires first makes room */
    for (int i = 0; i <= MG_VAULT_ROLE_CACHE; i++) {
        char g[128];
        snprintf(g, sizeof(g), "%s-%d", gw, i);
        struct mg_vault_cred k = s_iam(AKID, SECRET, TOKEN, "s", "r");
        mg_vault_role_cache_put(role, g, 1, T0 + 1000 + i, &k);
        mg_vault_cred_cleanup(&k);
    }
    char first[128], last[128];
    snprintf(first, sizeof(first), "%s-0", gw);
    snprintf(last, sizeof(last), "%s-%d", gw, MG_VAULT_ROLE_CACHE);
    assert_false(mg_vault_role_cache_get(role, first, 1, T0, &got));
    assert_true(mg_vault_role_cache_get(role, last, 1, T0, &got));
    mg_vault_cred_cleanup(&got);
    mg_vault_role_cache_clear();
}

static void test_vault_token_key(void **state)
{
    (void)state;
    json_t *s1 = s_json("[\"read\", \"write\"]"), *s2 = s_json("[\"write\", \"read\"]");
    json_t *p1 = s_json("{\"audience\": \"a\", \"resource\": \"r\"}");
    json_t *p2 = s_json("{\"resource\": \"r\", \"audience\": \"a\"}");
    char *a = mg_vault_token_key("arn:p", "client", "https://idp/token", s1, p1);
    char *b = mg_vault_token_key("arn:p", "client", "https://idp/token", s1, p2);
    char *c = mg_vault_token_key("arn:p", "client", "https://idp/token", s2, p1);
    char *d = mg_vault_token_key("arn:p", "client2", "https://idp/token", s1, p1);
    char *e = mg_vault_token_key("arn:p", "client", "https://idp/token", NULL, NULL);
    char *f = mg_vault_token_key("arn:p", "client", "https://other/token", s1, p1);
    if (!a || !b || !c || !d || !e || !f)
        fail_msg("out of memory");
    assert_string_equal(a, b);     /* parameters: order does not matter */
    assert_string_not_equal(a, c); /* scopes are sent in order: another request */
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e);
    assert_string_not_equal(a, f); /* another identity provider */
    mg_free(f);
    mg_free(a);
    mg_free(b);
    mg_free(c);
    mg_free(d);
    mg_free(e);
    json_decref(s1);
    json_decref(s2);
    json_decref(p1);
    json_decref(p2);
}

static void test_vault_token_cache_expiry_and_bound(void **state)
{
    (void)state;
    mg_vault_token_cache_clear();
    char *tok = NULL;
    int64_t exp = 0;
    mg_vault_token_cache_put("k1", "tok-1", T0 + 100);
    assert_true(mg_vault_token_cache_get("k1", T0, &tok, &exp));
    assert_string_equal(tok, "tok-1");
    assert_int_equal(exp, T0 + 100);
    mg_free(tok);
    tok = NULL;
    /* a minute before expiry it is no longer used */
    assert_true(mg_vault_token_cache_get("k1", T0 + 100 - MG_VAULT_TOKEN_MARGIN - 1, &tok, &exp));
    mg_free(tok);
    tok = NULL;
    assert_false(mg_vault_token_cache_get("k1", T0 + 100 - MG_VAULT_TOKEN_MARGIN, &tok, &exp));
    assert_null(tok);
    assert_int_equal(mg_vault_token_cache_count(), 0);
    /* a put replaces the entry of its key */
    mg_vault_token_cache_put("k1", "tok-a", T0 + 3600);
    mg_vault_token_cache_put("k1", "tok-b", T0 + 3600);
    assert_int_equal(mg_vault_token_cache_count(), 1);
    assert_true(mg_vault_token_cache_get("k1", T0, &tok, &exp));
    assert_string_equal(tok, "tok-b");
    mg_free(tok);
    tok = NULL;
    /* bounded; the least recently used goes first ("k1" was just read) */
    for (int i = 0; i < MG_VAULT_TOKEN_CACHE; i++) {
        char k[32];
        snprintf(k, sizeof(k), "key-%d", i);
        mg_vault_token_cache_put(k, "t", T0 + 3600);
        if (i == 0) /* keep k1 recent */
            assert_true(mg_vault_token_cache_get("k1", T0, &tok, &exp)), mg_free(tok), tok = NULL;
    }
    assert_int_equal(mg_vault_token_cache_count(), MG_VAULT_TOKEN_CACHE);
    assert_true(mg_vault_token_cache_get("k1", T0, &tok, &exp));
    mg_free(tok);
    tok = NULL;
    assert_false(mg_vault_token_cache_get("key-0", T0, &tok, &exp));
    assert_true(mg_vault_token_cache_get("key-1", T0, &tok, &exp));
    mg_free(tok);
    mg_vault_token_cache_clear();
    assert_int_equal(mg_vault_token_cache_count(), 0);
}

/* ---- mg_vault_oauth_token without a network ---------------------------------------------- */

struct s_got {
    int calls;
    enum mg_err e;
    char token[64];
    int64_t exp;
    char msg[512];
};

static void s_got_cb(void *arg, enum mg_err e, const char *access_token, int64_t expires_at,
                     const char *msg)
{
    struct s_got *g = arg;
    g->calls++;
    g->e = e;
    g->exp = expires_at;
    snprintf(g->token, sizeof(g->token), "%s", access_token ? access_token : "");
    snprintf(g->msg, sizeof(g->msg), "%s", msg ? msg : "");
}

static void test_vault_oauth_token_offline(void **state)
{
    (void)state;
    mg_vault_token_cache_clear();
    struct mg_env env = {.region = "us-west-2"}; /* no outbound client */
    struct mg_vault_provider p = {
        .name = "idp",
        .arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
               "oauth2credentialprovider/idp",
        .client_id = "client-1",
        .client_secret = "s3cr3t-value",
        .token_endpoint = "https://idp.example.com/oauth2/token",
    };
    json_t *scopes = s_json("[\"api/read\"]");
    char *key = mg_vault_token_key(p.arn, p.client_id, p.token_endpoint, scopes, NULL);
    mg_vault_token_cache_put(key, "cached-token", mg_now() + 3600);
    /* from the cache, before return */
    struct s_got g = {0};
    mg_vault_oauth_token(&env, &p, scopes, NULL, false, s_got_cb, &g);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.token, "cached-token");
    /* refresh bypasses it: the fetch is tried (and fails here, without a client) */
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &p, scopes, NULL, true, s_got_cb, &g);
    assert_int_equal(g.calls, 1);
    assert_int_not_equal(g.e, MG_E_OK);
    assert_null(strstr(g.msg, "s3cr3t"));
    /* other scopes: another key, a miss */
    json_t *other = s_json("[\"api/write\"]");
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &p, other, NULL, false, s_got_cb, &g);
    assert_int_equal(g.calls, 1);
    assert_int_not_equal(g.e, MG_E_OK);
    /* endpoints a secret must not travel to; a provider without an endpoint or client id */
    const char *bad[] = {"http://idp.example.com/token", "ftp://127.0.0.1/token",
                         "http://127.0.0.1.example.com/token"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mg_vault_provider q = p;
        q.token_endpoint = (char *)bad[i];
        memset(&g, 0, sizeof(g));
        mg_vault_oauth_token(&env, &q, other, NULL, false, s_got_cb, &g);
        assert_int_equal(g.calls, 1);
        assert_int_equal(g.e, MG_E_INVALID);
    }
    struct mg_vault_provider q = p;
    q.token_endpoint = NULL;
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &q, other, NULL, false, s_got_cb, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    assert_non_null(strstr(g.msg, "neither a token endpoint nor a discovery URL"));
    q.discovery_url = "http://idp.example.com/.well-known/openid-configuration";
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &q, other, NULL, false, s_got_cb, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    q = p;
    q.client_id = NULL;
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &q, other, NULL, false, s_got_cb, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    /* scopes and parameters must be strings */
    json_t *bad_params = s_json("{\"audience\": 3}");
    memset(&g, 0, sizeof(g));
    mg_vault_oauth_token(&env, &p, scopes, bad_params, false, s_got_cb, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    json_decref(bad_params);
    json_decref(other);
    json_decref(scopes);
    mg_free(key);
    mg_vault_token_cache_clear();
    mg_vault_discovery_cache_clear();
}

/* ---- mg_vault_target_cred for types that need no provider --------------------------------- */

struct s_cred_got {
    int calls;
    enum mg_err e;
    struct mg_vault_cred *cred;
    char msg[512];
};

static void s_cred_cb(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg)
{
    struct s_cred_got *g = arg;
    g->calls++;
    g->e = e;
    g->cred = cred;
    snprintf(g->msg, sizeof(g->msg), "%s", msg ? msg : "");
}

static void s_target_case(const char *cfg_text, struct s_cred_got *g)
{
    struct mg_env env = {.region = "us-west-2"};
    struct mg_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    json_t *cfg = cfg_text ? s_json(cfg_text) : NULL;
    struct mg_vault_target t = {
        .account = "123456789012",
        .gateway_id = "gw-1234567890",
        .gateway_arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:gateway/gw-1234567890",
        .role_arn = "arn:aws:iam::123456789012:role/none",
        .config = cfg,
    };
    memset(g, 0, sizeof(*g));
    mg_vault_target_cred(&env, &snap, &t, false, s_cred_cb, g);
    json_decref(cfg);
    assert_int_equal(g->calls, 1);
}

static void test_vault_target_cred_types(void **state)
{
    (void)state;
    struct s_cred_got g;
    s_target_case(NULL, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(g.cred->type, MG_CRED_NONE);
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);

    s_target_case("{\"credentialProviderType\": \"CALLER_IAM_CREDENTIALS\"}", &g);
    assert_int_equal(g.e, MG_E_INVALID);
    assert_null(g.cred);
    assert_non_null(strstr(g.msg, "CALLER_IAM_CREDENTIALS is not implemented"));

    s_target_case("{\"credentialProviderType\": \"JWT_PASSTHROUGH\"}", &g);
    assert_non_null(strstr(g.msg, "JWT_PASSTHROUGH is not implemented"));

    s_target_case("{\"credentialProviderType\": "
                  "\"OAUTH\", \"credentialProvider\": {\"oauthCredentialProvider\": "
                  "{\"providerArn\": \"arn:aws:bedrock-agentcore:us-west-2:123456789012:"
                  "token-vault/default/oauth2credentialprovider/p\", \"scopes\": [], "
                  "\"grantType\": \"AUTHORIZATION_CODE\"}}}",
                  &g);
    assert_int_equal(g.e, MG_E_INVALID);
    assert_non_null(strstr(g.msg, "AUTHORIZATION_CODE is not implemented by mcpgate"));

    /* the role cannot be assumed without an identity provider: the reason, no credentials */
    mg_vault_role_cache_clear();
    s_target_case("{\"credentialProviderType\": "
                  "\"GATEWAY_IAM_ROLE\", \"credentialProvider\": {\"iamCredentialProvider\": "
                  "{\"service\": \"execute-api\"}}}",
                  &g);
    assert_int_not_equal(g.e, MG_E_OK);
    s_target_case("{\"credentialProviderType\": \"SOMETHING_ELSE\"}", &g);
    assert_int_not_equal(g.e, MG_E_OK);
    assert_null(g.cred);
    assert_true(g.msg[0] != 0);
}

/* ---- API_KEY through mg_vault_target_cred, with a provider made here ----------------------- */

static int s_find_calls;

static enum mg_err s_fake_find(const struct mg_env *env, const struct mg_snapshot *snap,
                               const char *account, const char *ref, bool api_key,
                               struct mg_vault_provider *out, struct mg_errinfo *ei)
{
    (void)env;
    (void)snap;
    s_find_calls++;
    memset(out, 0, sizeof(*out));
    if (strcmp(account, "123456789012") != 0 || !api_key || ref == NULL ||
        strcmp(ref, "arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
                    "apikeycredentialprovider/k1") != 0)
        return mg_errinfo_set(ei, MG_E_NOT_FOUND, "Credential provider %s not found",
                              ref ? ref : "");
    out->name = mg_strdup("k1");
    out->api_key = mg_strdup("key-123");
    return out->name && out->api_key ? MG_E_OK : mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
}

static void test_vault_target_cred_api_key(void **state)
{
    (void)state;
    mg_vault_cred_set_provider_find(s_fake_find);
    s_find_calls = 0;
    struct s_cred_got g;
    s_target_case("{\"credentialProviderType\": \"API_KEY\", \"credentialProvider\": "
                  "{\"apiKeyCredentialProvider\": {\"providerArn\": "
                  "\"arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
                  "apikeycredentialprovider/k1\", \"credentialParameterName\": \"X-Key\", "
                  "\"credentialPrefix\": \"Token\"}}}",
                  &g);
    assert_int_equal(s_find_calls, 1);
    if (g.e == MG_E_NOMEM)
        fail_msg("out of memory");
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(g.cred->type, MG_CRED_API_KEY);
    struct mg_target_req r;
    s_req(&r, "GET", "https://api.example.com/x", NULL);
    assert_int_equal(mg_vault_cred_apply(g.cred, &r, T0), MG_E_OK);
    assert_string_equal(mg_target_req_header_value(&r, "X-Key"), "Token key-123");
    mg_target_req_cleanup(&r);
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);

    s_target_case("{\"credentialProviderType\": \"API_KEY\", \"credentialProvider\": "
                  "{\"apiKeyCredentialProvider\": {\"providerArn\": "
                  "\"arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
                  "apikeycredentialprovider/k1\", \"credentialLocation\": "
                  "\"QUERY_PARAMETER\"}}}",
                  &g);
    if (g.e == MG_E_NOMEM)
        fail_msg("out of memory");
    assert_int_equal(g.e, MG_E_OK);
    s_req(&r, "GET", "https://api.example.com/x", NULL);
    assert_int_equal(mg_vault_cred_apply(g.cred, &r, T0), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.url), "https://api.example.com/x?api_key=key-123");
    mg_target_req_cleanup(&r);
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);

    /* another provider: not found, said without any key */
    s_target_case("{\"credentialProviderType\": \"API_KEY\", \"credentialProvider\": "
                  "{\"apiKeyCredentialProvider\": {\"providerArn\": "
                  "\"arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
                  "apikeycredentialprovider/nope\"}}}",
                  &g);
    assert_int_equal(g.e, MG_E_NOT_FOUND);
    assert_null(g.cred);
    assert_non_null(strstr(g.msg, "apikeycredentialprovider/nope not found"));
    mg_vault_cred_set_provider_find(NULL);
}

/* ---- GATEWAY_IAM_ROLE through mg_vault_target_cred, with an identity provider made here ----- */

static int s_assumes;
static char s_assumed_session[80], s_assumed_service[80], s_assumed_role[200];

static enum mg_err s_fake_assume(const struct mg_env *env, const struct mg_snapshot *snap,
                                 const char *role_arn, const char *service,
                                 const char *session_name, int64_t duration,
                                 struct mg_principal *out_principal, char *akid_out,
                                 char *secret_out, struct mg_buf *token_out, int64_t *expires_out,
                                 struct mg_errinfo *ei)
{
    (void)env;
    (void)snap;
    (void)out_principal;
    s_assumes++;
    snprintf(s_assumed_role, sizeof(s_assumed_role), "%s", role_arn);
    snprintf(s_assumed_service, sizeof(s_assumed_service), "%s", service);
    snprintf(s_assumed_session, sizeof(s_assumed_session), "%s", session_name);
    if (duration != 900)
        return mg_errinfo_set(ei, MG_E_INVALID, "unexpected duration");
    if (strstr(role_arn, "untrusted"))
        return mg_errinfo_set(ei, MG_E_DENIED,
                              "Gateway service is not authorized to perform AssumeRole");
    snprintf(akid_out, 21, "%s", AKID);
    snprintf(secret_out, 41, "%s", SECRET);
    if (token_out && mg_buf_append_cstr(token_out, TOKEN) != MG_E_OK)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    if (expires_out)
        *expires_out = mg_now() + 900;
    return MG_E_OK;
}

static void s_role_case(const char *role, uint64_t generation, const char *cfg_text,
                        struct s_cred_got *g)
{
    static const struct mg_identity id = {.assume_role_as_service = s_fake_assume};
    struct mg_env env = {.region = "us-west-2", .identity = &id};
    struct mg_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    snap.generation = generation;
    json_t *cfg = s_json(cfg_text);
    struct mg_vault_target t = {
        .account = "123456789012",
        .gateway_id = "gw-1234567890",
        .gateway_arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:gateway/gw-1234567890",
        .role_arn = role,
        .config = cfg,
    };
    memset(g, 0, sizeof(*g));
    mg_vault_target_cred(&env, &snap, &t, false, s_cred_cb, g);
    json_decref(cfg);
    assert_int_equal(g->calls, 1);
}

static void test_vault_target_cred_gateway_role(void **state)
{
    (void)state;
    mg_vault_role_cache_clear();
    s_assumes = 0;
    const char *role = "arn:aws:iam::123456789012:role/gw-role";
    struct s_cred_got g;
    s_role_case(role, 5,
                "{\"credentialProviderType\": \"GATEWAY_IAM_ROLE\", \"credentialProvider\": "
                "{\"iamCredentialProvider\": {\"service\": \"execute-api\"}}}",
                &g);
    if (g.e == MG_E_NOMEM)
        fail_msg("out of memory");
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(s_assumes, 1);
    assert_string_equal(s_assumed_role, role);
    assert_string_equal(s_assumed_service, "bedrock-agentcore.amazonaws.com");
    assert_string_equal(s_assumed_session, "gw-1234567890");
    assert_int_equal(g.cred->type, MG_CRED_GATEWAY_IAM_ROLE);
    assert_string_equal(g.cred->access_key_id, AKID);
    assert_string_equal(g.cred->session_token, TOKEN);
    assert_string_equal(g.cred->service, "execute-api");
    assert_string_equal(g.cred->region, "us-west-2"); /* the server's, by default */
    /* the request it signs verifies */
    struct mg_target_req r;
    s_req(&r, "GET", "http://127.0.0.1:9000/items?x=1", NULL);
    assert_int_equal(mg_vault_cred_apply(g.cred, &r, T0), MG_E_OK);
    struct s_wire w;
    s_wire(&r, "127.0.0.1:9000", "/items", "x=1", &w);
    assert_int_equal(s_verify(&w, SECRET, "execute-api", T0), MG_SIGV4_OK);
    mg_target_req_cleanup(&r);
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);

    /* the session is reused for the same snapshot generation; a new generation assumes again;
     * a Smithy target names no service (the caller fills it); a region may be given */
    s_role_case(role, 5,
                "{\"credentialProviderType\": \"GATEWAY_IAM_ROLE\", \"credentialProvider\": "
                "{\"iamCredentialProvider\": {\"service\": \"lambda\", \"region\": "
                "\"eu-west-1\"}}}",
                &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(s_assumes, 1);
    assert_string_equal(g.cred->service, "lambda");
    assert_string_equal(g.cred->region, "eu-west-1");
    assert_string_equal(g.cred->session_token, TOKEN);
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);
    s_role_case(role, 6, "{\"credentialProviderType\": \"GATEWAY_IAM_ROLE\"}", &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(s_assumes, 2);
    assert_string_equal(g.cred->service, "");
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);

    /* a role whose trust policy does not admit the service: the reason, nothing cached */
    s_role_case("arn:aws:iam::123456789012:role/untrusted", 6,
                "{\"credentialProviderType\": \"GATEWAY_IAM_ROLE\"}", &g);
    assert_int_equal(g.e, MG_E_DENIED);
    assert_null(g.cred);
    assert_non_null(strstr(g.msg, "not authorized to perform AssumeRole"));
    s_role_case("arn:aws:iam::123456789012:role/untrusted", 6,
                "{\"credentialProviderType\": \"GATEWAY_IAM_ROLE\"}", &g);
    assert_int_equal(s_assumes, 4);
    mg_vault_role_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vault_api_key_formatting),
        cmocka_unit_test(test_vault_api_key_refusals),
        cmocka_unit_test(test_vault_apply_header_and_query),
        cmocka_unit_test(test_vault_apply_sigv4_verifies),
        cmocka_unit_test(test_vault_apply_sigv4_aws_suite),
        cmocka_unit_test(test_vault_role_cache_expiry),
        cmocka_unit_test(test_vault_token_key),
        cmocka_unit_test(test_vault_token_cache_expiry_and_bound),
        cmocka_unit_test(test_vault_oauth_token_offline),
        cmocka_unit_test(test_vault_target_cred_types),
        cmocka_unit_test(test_vault_target_cred_api_key),
        cmocka_unit_test(test_vault_target_cred_gateway_role),
    };
    mg_torture_release = mg_sigv4_thread_cleanup;
    return MG_RUN_TESTS(tests);
}
