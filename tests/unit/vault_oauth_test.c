/* tests/unit/vault_oauth_test.c: OAuth2 client-credentials tokens (src/vault/oauth.c) through
 * the real outbound client against a token endpoint on 127.0.0.1 that the test runs: the form
 * and client authentication sent, the answer read, the cache and refresh, discovery, and the
 * failures (a refused client named by its error code, never by its secret). */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/util.h"
#include "http/client.h"
#include "unit/leaks.h"
#include "vault/internal.h"

/* ---- a token endpoint ---------------------------------------------------------------------- */

#define S_MAX_REQ 16384

struct idp {
    int lfd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    int token_requests, discovery_requests;
    char last_head[S_MAX_REQ], last_body[S_MAX_REQ];
    /* the answers: status and body of the token endpoint and of the discovery document */
    int token_status;
    char token_body[2048];
    int disc_status;
    char disc_body[2048];
};
static struct idp s_idp;

static void s_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void s_serve(int fd)
{
    char buf[S_MAX_REQ * 2 + 1];
    size_t len = 0;
    char *end = NULL;
    size_t want = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            return;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return;
        len += (size_t)r;
        buf[len] = 0;
        if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\ncontent-length:");
            want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (end && len >= want)
            break;
        if (len == sizeof(buf) - 1)
            return;
    }
    size_t head_len = (size_t)(end + 4 - buf);
    bool token = strncmp(buf, "POST /token ", 12) == 0;
    bool disc = strncmp(buf, "GET /.well-known/openid-configuration ", 38) == 0;
    pthread_mutex_lock(&s_idp.lock);
    snprintf(s_idp.last_head, sizeof(s_idp.last_head), "%.*s", (int)head_len, buf);
    snprintf(s_idp.last_body, sizeof(s_idp.last_body), "%s", buf + head_len);
    int status = 404;
    char body[2048] = "{}";
    if (token) {
        s_idp.token_requests++;
        status = s_idp.token_status;
        snprintf(body, sizeof(body), "%s", s_idp.token_body);
    } else if (disc) {
        s_idp.discovery_requests++;
        status = s_idp.disc_status;
        snprintf(body, sizeof(body), "%s", s_idp.disc_body);
    }
    pthread_mutex_unlock(&s_idp.lock);
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
    s_send_all(fd, head, (size_t)n);
    s_send_all(fd, body, strlen(body));
}

static void *s_acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_idp.stop)) {
        struct pollfd p = {s_idp.lfd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        int fd = accept(s_idp.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        s_serve(fd);
        close(fd);
    }
    return NULL;
}

static int s_idp_start(void **state)
{
    (void)state;
    memset(&s_idp, 0, sizeof(s_idp));
    pthread_mutex_init(&s_idp.lock, NULL);
    s_idp.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s_idp.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (s_idp.lfd < 0 || bind(s_idp.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s_idp.lfd, 64) != 0 || getsockname(s_idp.lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s_idp.port = ntohs(a.sin_port);
    s_idp.token_status = 200;
    snprintf(s_idp.token_body, sizeof(s_idp.token_body), "%s",
             "{\"access_token\":\"T1\",\"token_type\":\"Bearer\",\"expires_in\":120}");
    s_idp.disc_status = 200;
    snprintf(
        s_idp.disc_body, sizeof(s_idp.disc_body),
        "{\"issuer\":\"http://127.0.0.1:%d\",\"token_endpoint\":\"http://127.0.0.1:%d/token\"}",
        s_idp.port, s_idp.port);
    mg_vault_token_cache_clear();
    mg_vault_discovery_cache_clear();
    return pthread_create(&s_idp.thread, NULL, s_acceptor, NULL) == 0 ? 0 : -1;
}

static int s_idp_stop(void **state)
{
    (void)state;
    atomic_store(&s_idp.stop, 1);
    pthread_join(s_idp.thread, NULL);
    close(s_idp.lfd);
    pthread_mutex_destroy(&s_idp.lock);
    mg_vault_token_cache_clear();
    mg_vault_discovery_cache_clear();
    return 0;
}

static void s_answer(int status, const char *body)
{
    pthread_mutex_lock(&s_idp.lock);
    s_idp.token_status = status;
    snprintf(s_idp.token_body, sizeof(s_idp.token_body), "%s", body);
    pthread_mutex_unlock(&s_idp.lock);
}

static int s_token_requests(void)
{
    pthread_mutex_lock(&s_idp.lock);
    int n = s_idp.token_requests;
    pthread_mutex_unlock(&s_idp.lock);
    return n;
}

/* ---- one token call, waited for ------------------------------------------------------------ */

struct got {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    enum mg_err e;
    char token[256];
    int64_t exp;
    char msg[512];
};

static void s_cb(void *arg, enum mg_err e, const char *access_token, int64_t expires_at,
                 const char *msg)
{
    struct got *g = arg;
    pthread_mutex_lock(&g->lock);
    g->e = e;
    g->exp = expires_at;
    snprintf(g->token, sizeof(g->token), "%s", access_token ? access_token : "");
    snprintf(g->msg, sizeof(g->msg), "%s", msg ? msg : "");
    g->done = true;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void s_call(const struct mg_env *env, const struct mg_vault_provider *p, const char *scopes,
                   const char *params, bool refresh, struct got *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    json_t *s = scopes ? json_loads(scopes, 0, NULL) : NULL;
    json_t *c = params ? json_loads(params, 0, NULL) : NULL;
    mg_vault_oauth_token(env, p, s, c, refresh, s_cb, g);
    json_decref(s);
    json_decref(c);
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < 100 && !g->done; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    }
    bool done = g->done;
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    assert_true(done);
}

struct fixture {
    struct mg_http_client *http;
    struct mg_env env;
    char endpoint[128];
    struct mg_vault_provider p;
};

static void s_fixture(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_http_client_new(&f->http, &ei), MG_E_OK);
    f->env.region = "us-west-2";
    f->env.http = f->http;
    snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d/token", s_idp.port);
    f->p = (struct mg_vault_provider){
        .name = "idp",
        .arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
               "oauth2credentialprovider/idp",
        .client_id = "client-1",
        .client_secret = "s3cr/t+value",
        .token_endpoint = f->endpoint,
    };
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_oauth_client_credentials_request_and_cache(void **state)
{
    (void)state;
    struct fixture f;
    s_fixture(&f);
    struct got g;
    int64_t t0 = mg_now();
    s_call(&f.env, &f.p, "[\"api/read\", \"api/write\"]",
           "{\"resource\": \"r 1\", \"audience\": \"a\"}", false, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.token, "T1");
    assert_true(g.exp >= t0 + 120 && g.exp <= mg_now() + 120);
    pthread_mutex_lock(&s_idp.lock);
    /* the form: grant type, scopes joined, custom parameters (sorted); Basic client auth */
    assert_string_equal(s_idp.last_body,
                        "grant_type=client_credentials&scope=api%2Fread%20api%2Fwrite"
                        "&audience=a&resource=r%201");
    assert_non_null(
        strcasestr(s_idp.last_head, "\ncontent-type: application/x-www-form-urlencoded"));
    /* base64("client-1:s3cr%2Ft%2Bvalue") */
    assert_non_null(strstr(s_idp.last_head, "Basic Y2xpZW50LTE6czNjciUyRnQlMkJ2YWx1ZQ=="));
    pthread_mutex_unlock(&s_idp.lock);
    assert_int_equal(s_token_requests(), 1);

    /* the same request: the cache (parameters in another order are the same request) */
    s_answer(200, "{\"access_token\":\"T2\",\"expires_in\":120}");
    s_call(&f.env, &f.p, "[\"api/read\", \"api/write\"]",
           "{\"audience\": \"a\", \"resource\": \"r 1\"}", false, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.token, "T1");
    assert_int_equal(s_token_requests(), 1);
    /* refresh: fetched again, and the new token replaces the cached one */
    s_call(&f.env, &f.p, "[\"api/read\", \"api/write\"]",
           "{\"audience\": \"a\", \"resource\": \"r 1\"}", true, &g);
    assert_string_equal(g.token, "T2");
    assert_int_equal(s_token_requests(), 2);
    s_answer(200, "{\"access_token\":\"T3\",\"expires_in\":120}");
    s_call(&f.env, &f.p, "[\"api/read\", \"api/write\"]",
           "{\"audience\": \"a\", \"resource\": \"r 1\"}", false, &g);
    assert_string_equal(g.token, "T2");
    assert_int_equal(s_token_requests(), 2);
    /* a token that expires within the minute is never reused; no expires_in means an hour */
    s_answer(200, "{\"access_token\":\"T4\",\"expires_in\":30}");
    s_call(&f.env, &f.p, "[\"short\"]", NULL, false, &g);
    assert_string_equal(g.token, "T4");
    s_call(&f.env, &f.p, "[\"short\"]", NULL, false, &g);
    assert_int_equal(s_token_requests(), 4);
    s_answer(200, "{\"access_token\":\"T5\"}");
    s_call(&f.env, &f.p, NULL, NULL, false, &g);
    assert_string_equal(g.token, "T5");
    assert_true(g.exp >= t0 + 3600);
    pthread_mutex_lock(&s_idp.lock);
    assert_string_equal(s_idp.last_body, "grant_type=client_credentials");
    pthread_mutex_unlock(&s_idp.lock);
    mg_http_client_free(f.http);
}

static void test_oauth_client_secret_post(void **state)
{
    (void)state;
    struct fixture f;
    s_fixture(&f);
    f.p.auth_post = true;
    struct got g;
    s_call(&f.env, &f.p, "[\"x\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_OK);
    pthread_mutex_lock(&s_idp.lock);
    assert_string_equal(s_idp.last_body, "grant_type=client_credentials&scope=x&client_id=client-1"
                                         "&client_secret=s3cr%2Ft%2Bvalue");
    assert_null(strcasestr(s_idp.last_head, "\nauthorization:"));
    pthread_mutex_unlock(&s_idp.lock);
    mg_http_client_free(f.http);
}

static void test_oauth_refusals_name_no_secret(void **state)
{
    (void)state;
    struct fixture f;
    s_fixture(&f);
    struct got g;
    s_answer(401,
             "{\"error\":\"invalid_client\",\"error_description\":\"bad secret s3cr/t+value\"}");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_DENIED);
    assert_non_null(strstr(g.msg, "invalid_client"));
    assert_non_null(strstr(g.msg, "HTTP 401"));
    assert_null(strstr(g.msg, "s3cr"));
    /* an error code that carries the secret is left out */
    s_answer(400, "{\"error\":\"s3cr/t+value\"}");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_DENIED);
    assert_null(strstr(g.msg, "s3cr"));
    /* a failure is not cached */
    assert_int_equal(mg_vault_token_cache_count(), 0);
    s_answer(500, "oops");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    assert_non_null(strstr(g.msg, "HTTP 500"));
    s_answer(200, "{\"token_type\":\"Bearer\"}");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    s_answer(200, "{\"access_token\":\"a b\"}");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    s_answer(200, "not json");
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    /* nobody listening */
    char closed[128];
    snprintf(closed, sizeof(closed), "http://127.0.0.1:1/token");
    f.p.token_endpoint = closed;
    s_call(&f.env, &f.p, "[\"a\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    assert_null(strstr(g.msg, "s3cr"));
    mg_http_client_free(f.http);
}

static void test_oauth_discovery(void **state)
{
    (void)state;
    struct fixture f;
    s_fixture(&f);
    char disc[128];
    snprintf(disc, sizeof(disc), "http://127.0.0.1:%d/.well-known/openid-configuration",
             s_idp.port);
    f.p.token_endpoint = NULL;
    f.p.discovery_url = disc;
    struct got g;
    s_call(&f.env, &f.p, "[\"d1\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.token, "T1");
    s_call(&f.env, &f.p, "[\"d2\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_OK);
    pthread_mutex_lock(&s_idp.lock);
    assert_int_equal(s_idp.discovery_requests, 1); /* the endpoint found is kept */
    assert_int_equal(s_idp.token_requests, 2);
    pthread_mutex_unlock(&s_idp.lock);

    /* a document whose token endpoint a secret must not travel to */
    mg_vault_discovery_cache_clear();
    pthread_mutex_lock(&s_idp.lock);
    snprintf(s_idp.disc_body, sizeof(s_idp.disc_body), "%s",
             "{\"token_endpoint\":\"http://idp.example.com/token\"}");
    pthread_mutex_unlock(&s_idp.lock);
    s_call(&f.env, &f.p, "[\"d3\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    assert_non_null(strstr(g.msg, "token_endpoint"));
    pthread_mutex_lock(&s_idp.lock);
    snprintf(s_idp.disc_body, sizeof(s_idp.disc_body), "%s", "[1, 2]");
    pthread_mutex_unlock(&s_idp.lock);
    s_call(&f.env, &f.p, "[\"d3\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    pthread_mutex_lock(&s_idp.lock);
    s_idp.disc_status = 404;
    pthread_mutex_unlock(&s_idp.lock);
    s_call(&f.env, &f.p, "[\"d3\"]", NULL, false, &g);
    assert_int_equal(g.e, MG_E_UPSTREAM);
    assert_non_null(strstr(g.msg, "HTTP 404"));
    pthread_mutex_lock(&s_idp.lock);
    assert_int_equal(s_idp.token_requests, 2);
    pthread_mutex_unlock(&s_idp.lock);
    mg_http_client_free(f.http);
}

/* ---- OAUTH through mg_vault_target_cred, with a provider made here -------------------------- */

static char s_endpoint[128];

static enum mg_err s_fake_find(const struct mg_env *env, const struct mg_snapshot *snap,
                               const char *account, const char *ref, bool api_key,
                               struct mg_vault_provider *out, struct mg_errinfo *ei)
{
    (void)env;
    (void)snap;
    memset(out, 0, sizeof(*out));
    if (strcmp(account, "123456789012") != 0 || api_key || ref == NULL ||
        strstr(ref, "/oauth2credentialprovider/idp") == NULL)
        return mg_errinfo_set(ei, MG_E_NOT_FOUND, "Credential provider %s not found",
                              ref ? ref : "");
    out->name = mg_strdup("idp");
    out->arn = mg_strdup(ref);
    out->client_id = mg_strdup("client-1");
    out->client_secret = mg_strdup("s3cr/t+value");
    out->token_endpoint = mg_strdup(s_endpoint);
    if (!out->name || !out->arn || !out->client_id || !out->client_secret || !out->token_endpoint)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    return MG_E_OK;
}

struct cred_got {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    enum mg_err e;
    struct mg_vault_cred *cred;
    char msg[512];
};

static void s_cred_cb(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg)
{
    struct cred_got *g = arg;
    pthread_mutex_lock(&g->lock);
    g->e = e;
    g->cred = cred;
    snprintf(g->msg, sizeof(g->msg), "%s", msg ? msg : "");
    g->done = true;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->lock);
}

static void s_target(const struct mg_env *env, const char *grant, bool refresh, struct cred_got *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->cond, NULL);
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"credentialProviderType\": \"OAUTH\", \"credentialProvider\": "
             "{\"oauthCredentialProvider\": {\"providerArn\": "
             "\"arn:aws:bedrock-agentcore:us-west-2:123456789012:token-vault/default/"
             "oauth2credentialprovider/idp\", \"scopes\": [\"read\"], \"customParameters\": "
             "{\"audience\": \"aud-1\"}%s%s%s}}}",
             grant ? ", \"grantType\": \"" : "", grant ? grant : "", grant ? "\"" : "");
    json_t *cfg = json_loads(text, 0, NULL);
    assert_non_null(cfg);
    struct mg_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    struct mg_vault_target t = {.account = "123456789012",
                                .gateway_id = "gw-1234567890",
                                .gateway_arn = "arn:aws:bedrock-agentcore:us-west-2:123456789012:"
                                               "gateway/gw-1234567890",
                                .role_arn = "arn:aws:iam::123456789012:role/r",
                                .config = cfg};
    mg_vault_target_cred(env, &snap, &t, refresh, s_cred_cb, g);
    json_decref(cfg);
    pthread_mutex_lock(&g->lock);
    for (int i = 0; i < 100 && !g->done; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    }
    bool done = g->done;
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->cond);
    assert_true(done);
}

static void test_oauth_target_cred(void **state)
{
    (void)state;
    struct fixture f;
    s_fixture(&f);
    snprintf(s_endpoint, sizeof(s_endpoint), "%s", f.endpoint);
    mg_vault_cred_set_provider_find(s_fake_find);
    struct cred_got g;
    s_target(&f.env, "CLIENT_CREDENTIALS", false, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_int_equal(g.cred->type, MG_CRED_OAUTH);
    assert_string_equal(g.cred->header_name, "Authorization");
    assert_string_equal(g.cred->header_value, "Bearer T1");
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);
    pthread_mutex_lock(&s_idp.lock);
    assert_string_equal(s_idp.last_body, "grant_type=client_credentials&scope=read&audience=aud-1");
    pthread_mutex_unlock(&s_idp.lock);
    /* cached; then refresh (the target answered 401 with it) fetches a new one */
    s_answer(200, "{\"access_token\":\"T2\",\"expires_in\":120}");
    s_target(&f.env, NULL, false, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.cred->header_value, "Bearer T1");
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);
    s_target(&f.env, NULL, true, &g);
    assert_int_equal(g.e, MG_E_OK);
    assert_string_equal(g.cred->header_value, "Bearer T2");
    mg_vault_cred_cleanup(g.cred);
    mg_free(g.cred);
    assert_int_equal(s_token_requests(), 2);
    /* a refused client, a grant mcpgate does not implement */
    s_answer(401, "{\"error\":\"invalid_client\"}");
    s_target(&f.env, NULL, true, &g);
    assert_int_equal(g.e, MG_E_DENIED);
    assert_null(g.cred);
    assert_non_null(strstr(g.msg, "invalid_client"));
    assert_null(strstr(g.msg, "s3cr"));
    s_target(&f.env, "TOKEN_EXCHANGE", false, &g);
    assert_int_equal(g.e, MG_E_INVALID);
    assert_non_null(strstr(g.msg, "TOKEN_EXCHANGE is not implemented by mcpgate"));
    mg_vault_cred_set_provider_find(NULL);
    mg_http_client_free(f.http);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_oauth_client_credentials_request_and_cache,
                                        s_idp_start, s_idp_stop),
        cmocka_unit_test_setup_teardown(test_oauth_client_secret_post, s_idp_start, s_idp_stop),
        cmocka_unit_test_setup_teardown(test_oauth_refusals_name_no_secret, s_idp_start,
                                        s_idp_stop),
        cmocka_unit_test_setup_teardown(test_oauth_discovery, s_idp_start, s_idp_stop),
        cmocka_unit_test_setup_teardown(test_oauth_target_cred, s_idp_start, s_idp_stop),
    };
    return MG_RUN_TESTS(tests);
}
