/* tests/unit/oidc_test.c: the OpenID key cache (src/oidc/) against a small HTTP/1.1 server on a
 * loopback port, run by this test in its own threads (plain sockets, as http_client_test.c):
 * first fetch, bad documents and their reasons, limits, the unknown-kid rate limit, coalescing,
 * stale keys of an unreachable issuer and their expiry, rotation, the probe, LRU eviction,
 * teardown with fetches in flight; and the pure parts (mg_oidc_url_ok, the discovery parser).
 * Time is pinned (mg_time_pin) where a rule depends on it. Tokens are signed here (ES256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/util.h"
#include "http/client.h"
#include "jwt/jwt.h"
#include "oidc/internal.h"
#include "oidc/oidc.h"
#include "unit/leaks.h"

#define T0 1800000000LL

static EVP_PKEY *s_k1, *s_k2;

/* --- the test server --------------------------------------------------------------------- */

#define MAX_ROUTES 32

struct route {
    char path[128];
    int status;
    char *body; /* malloc'd */
    int delay_ms;
    atomic_int hits;
};

struct srv {
    int lfd;
    int port;
    pthread_t acceptor;
    atomic_int stop;
    atomic_int down; /* close connections without an answer */
    atomic_int active;
    pthread_mutex_t mu;
    struct route routes[MAX_ROUTES];
    size_t n_routes;
};

static struct srv s_srv;

static void s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static bool s_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

static bool s_reply(int fd, int status, const void *body, size_t n)
{
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\n\r\n",
                      status, n);
    return s_send_all(fd, head, (size_t)hn) && s_send_all(fd, body, n);
}

/* Sets (or replaces) what path answers; body is copied. */
static void route_set(const char *path, int status, const char *body, int delay_ms)
{
    pthread_mutex_lock(&s_srv.mu);
    struct route *r = NULL;
    for (size_t i = 0; i < s_srv.n_routes; i++)
        if (strcmp(s_srv.routes[i].path, path) == 0)
            r = &s_srv.routes[i];
    if (r == NULL) {
        assert_true(s_srv.n_routes < MAX_ROUTES);
        r = &s_srv.routes[s_srv.n_routes++];
        snprintf(r->path, sizeof(r->path), "%s", path);
        atomic_init(&r->hits, 0);
    }
    free(r->body);
    r->body = strdup(body);
    r->status = status;
    r->delay_ms = delay_ms;
    pthread_mutex_unlock(&s_srv.mu);
}

static int route_hits(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&s_srv.mu);
    for (size_t i = 0; i < s_srv.n_routes; i++)
        if (strcmp(s_srv.routes[i].path, path) == 0)
            n = atomic_load(&s_srv.routes[i].hits);
    pthread_mutex_unlock(&s_srv.mu);
    return n;
}

static bool s_route(int fd, const char *req)
{
    char path[256] = "";
    const char *sp = strchr(req, ' ');
    if (sp) {
        size_t i = 0;
        for (sp++; *sp && *sp != ' ' && i + 1 < sizeof(path); sp++)
            path[i++] = *sp;
        path[i] = '\0';
    }
    pthread_mutex_lock(&s_srv.mu);
    struct route *r = NULL;
    for (size_t i = 0; i < s_srv.n_routes; i++)
        if (strcmp(s_srv.routes[i].path, path) == 0)
            r = &s_srv.routes[i];
    int status = 404, delay = 0;
    char *body = NULL;
    if (r) {
        atomic_fetch_add(&r->hits, 1);
        status = r->status;
        delay = r->delay_ms;
        body = strdup(r->body);
    }
    pthread_mutex_unlock(&s_srv.mu);
    for (int i = 0; i < delay && !atomic_load(&s_srv.stop); i += 10)
        s_sleep_ms(10);
    bool ok = s_reply(fd, status, body ? body : "{}", body ? strlen(body) : 2);
    free(body);
    return ok;
}

static void *s_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap + 1);
    while (buf && !atomic_load(&s_srv.stop) && !atomic_load(&s_srv.down)) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t used = (size_t)(end + 4 - buf);
            if (!s_route(fd, buf))
                break;
            memmove(buf, buf + used, len - used);
            len -= used;
            continue;
        }
        if (len == cap)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    free(buf);
    close(fd);
    atomic_fetch_sub(&s_srv.active, 1);
    return NULL;
}

static void *s_acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_srv.stop)) {
        struct pollfd p = {s_srv.lfd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        int fd = accept(s_srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (atomic_load(&s_srv.down)) {
            close(fd);
            continue;
        }
        atomic_fetch_add(&s_srv.active, 1);
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, s_conn, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&s_srv.active, 1);
        }
        pthread_attr_destroy(&a);
    }
    return NULL;
}

static int s_srv_start(void **state)
{
    (void)state;
    memset(&s_srv, 0, sizeof(s_srv));
    pthread_mutex_init(&s_srv.mu, NULL);
    s_srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s_srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (s_srv.lfd < 0 || bind(s_srv.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s_srv.lfd, 512) != 0 || getsockname(s_srv.lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s_srv.port = ntohs(a.sin_port);
    if (pthread_create(&s_srv.acceptor, NULL, s_acceptor, NULL) != 0)
        return -1;
    return 0;
}

static int s_srv_stop(void **state)
{
    (void)state;
    atomic_store(&s_srv.stop, 1);
    pthread_join(s_srv.acceptor, NULL);
    for (int i = 0; i < 500 && atomic_load(&s_srv.active) > 0; i++)
        s_sleep_ms(10);
    close(s_srv.lfd);
    for (size_t i = 0; i < s_srv.n_routes; i++)
        free(s_srv.routes[i].body);
    pthread_mutex_destroy(&s_srv.mu);
    mg_time_pin(0);
    return 0;
}

/* --- keys and tokens ---------------------------------------------------------------------- */

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

static char *bn_b64(const BIGNUM *bn, int pad)
{
    uint8_t b[64];
    assert_int_equal(BN_bn2binpad(bn, b, pad), pad);
    return b64url(b, (size_t)pad);
}

/* {"keys":[<the P-256 public key k as a JWK with kid>]} into out */
static void jwks_doc(EVP_PKEY *k, const char *kid, char *out, size_t cap)
{
    BIGNUM *x = NULL, *y = NULL;
    assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &x));
    assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &y));
    char *xs = bn_b64(x, 32), *ys = bn_b64(y, 32);
    snprintf(out, cap,
             "{\"keys\":[{\"kid\":\"%s\",\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"sig\","
             "\"x\":\"%s\",\"y\":\"%s\"}]}",
             kid, xs, ys);
    free(xs);
    free(ys);
    BN_free(x);
    BN_free(y);
}

/* An ES256 token with kid, signed by k (malloc'd). */
static char *token(EVP_PKEY *k, const char *kid)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    const char *payload = "{\"iss\":\"https://idp.test\",\"sub\":\"u1\",\"exp\":1800000600}";
    char *h = b64url((const uint8_t *)hdr, strlen(hdr));
    char *p = b64url((const uint8_t *)payload, strlen(payload));
    char input[1024];
    snprintf(input, sizeof(input), "%s.%s", h, p);
    uint8_t sig[128];
    size_t sl = sizeof(sig);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit_ex(m, NULL, "SHA256", NULL, NULL, k, NULL), 1);
    assert_int_equal(EVP_DigestSign(m, sig, &sl, (const uint8_t *)input, strlen(input)), 1);
    EVP_MD_CTX_free(m);
    const uint8_t *d = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &d, (long)sl);
    assert_non_null(es);
    uint8_t raw[64];
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
    ECDSA_SIG_free(es);
    char *s = b64url(raw, 64);
    size_t tl = strlen(input) + 1 + strlen(s) + 1;
    char *tok = malloc(tl);
    snprintf(tok, tl, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    return tok;
}

static enum mg_jwt_status verify(const struct mg_oidc_keys *k, EVP_PKEY *key, const char *kid)
{
    char *t = token(key, kid);
    struct mg_jwt_claims c;
    enum mg_jwt_status st = mg_jwt_verify(k->jwks, mg_slice_cstr(t), &c);
    mg_jwt_claims_cleanup(&c);
    free(t);
    return st;
}

/* --- helpers ------------------------------------------------------------------------------ */

static const char *url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", s_srv.port, path);
    return out;
}

/* Serves a discovery document at dpath whose jwks_uri is jpath on this server, and at jpath the
 * JWKS of key k1 (kid "k1"). */
static void serve_issuer(const char *dpath, const char *jpath)
{
    char doc[1024], u[256], j[1024];
    snprintf(doc, sizeof(doc),
             "{\"issuer\":\"https://idp.test\",\"jwks_uri\":\"%s\",\"token_endpoint\":"
             "\"https://idp.test/token\",\"response_types_supported\":[\"code\"]}",
             url(u, sizeof(u), jpath));
    route_set(dpath, 200, doc, 0);
    jwks_doc(s_k1, "k1", j, sizeof(j));
    route_set(jpath, 200, j, 0);
}

struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int with_keys;
    struct mg_oidc_keys *keys; /* the last keys given, with a reference */
    char error[256];           /* the last error, "" for none */
    pthread_t thread;          /* the thread of the last call */
};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void rec_cleanup(struct rec *r)
{
    mg_oidc_keys_unref(r->keys);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

static void on_done(void *arg, const struct mg_oidc_keys *keys, const char *error)
{
    struct rec *r = arg;
    struct mg_oidc_keys *k = mg_oidc_keys_ref(keys);
    pthread_mutex_lock(&r->mu);
    mg_oidc_keys_unref(r->keys);
    r->keys = k;
    r->calls++;
    r->with_keys += keys != NULL;
    snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
    r->thread = pthread_self();
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static bool rec_wait(struct rec *r, int n, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000 + 1;
    pthread_mutex_lock(&r->mu);
    while (r->calls < n)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    bool ok = r->calls >= n;
    pthread_mutex_unlock(&r->mu);
    return ok;
}

/* One fetch, waited for; the error ("" for none) into err, the keys (with a reference) out. */
static struct mg_oidc_keys *fetch_wait(struct mg_oidc *o, const char *u, enum mg_oidc_why why,
                                       char *err, size_t cap)
{
    struct rec r;
    rec_init(&r);
    mg_oidc_fetch(o, u, why, on_done, &r);
    assert_true(rec_wait(&r, 1, 10000));
    snprintf(err, cap, "%s", r.error);
    struct mg_oidc_keys *k = r.keys;
    r.keys = NULL;
    rec_cleanup(&r);
    return k;
}

static struct mg_http_client *s_client(void)
{
    struct mg_http_client *c = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_http_client_new(&c, &ei), MG_E_OK);
    return c;
}

static struct mg_oidc *s_oidc(struct mg_http_client *c)
{
    struct mg_oidc *o = NULL;
    assert_int_equal(mg_oidc_new(c, &o), MG_E_OK);
    return o;
}

/* stderr (where the log goes) into a temporary file until log_end, which returns what was
 * written (malloc'd). */
static int s_saved_fd = -1;
static FILE *s_log_file;

static void log_begin(void)
{
    fflush(stderr);
    s_log_file = tmpfile();
    assert_non_null(s_log_file);
    s_saved_fd = dup(STDERR_FILENO);
    dup2(fileno(s_log_file), STDERR_FILENO);
}

static char *log_end(void)
{
    fflush(stderr);
    dup2(s_saved_fd, STDERR_FILENO);
    close(s_saved_fd);
    long n = ftell(s_log_file);
    char *out = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(s_log_file);
    size_t got = n > 0 ? fread(out, 1, (size_t)n, s_log_file) : 0;
    out[got] = '\0';
    fclose(s_log_file);
    return out;
}

/* --- pure parts --------------------------------------------------------------------------- */

static void test_oidc_url_ok_table(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        bool ok;
        const char *why; /* a part of the reason */
    } cases[] = {
        {"https://idp.example.com/.well-known/openid-configuration", true, NULL},
        {"HTTPS://IDP.example.com:8443/x?y=1", true, NULL},
        {"https://[2001:db8::1]/x", true, NULL},
        {"http://localhost:8080/.well-known/openid-configuration", true, NULL},
        {"http://LocalHost/x", true, NULL},
        {"http://127.0.0.1:9/x", true, NULL},
        {"http://127.1.2.3/x", true, NULL},
        {"http://[::1]:8080/x", true, NULL},
        {"https://idp.example.com", true, NULL},
        {"http://idp.example.com/x", false, "must use https"},
        {"http://10.0.0.1/x", false, "must use https"},
        {"http://[::2]/x", false, "must use https"},
        {"http://localhost.evil.com/x", false, "must use https"},
        {"ftp://idp.example.com/x", false, "must start with https://"},
        {"idp.example.com/x", false, "must start with https://"},
        {"", false, "empty"},
        {"https://", false, "no host"},
        {"https:///x", false, "no host"},
        {"https://user:pw@idp.example.com/x", false, "user information"},
        {"http://a@127.0.0.1/x", false, "user information"},
        {"https://idp.example.com/x#frag", false, "fragment"},
        {"https://idp.example.com/a b", false, "space"},
        {"https://idp.example.com/\x01", false, "control"},
        {"https://idp.example.com:0/x", false, "port"},
        {"https://idp.example.com:65536/x", false, "port"},
        {"https://idp.example.com:/x", false, "port"},
        {"https://idp.example.com:8a/x", false, "port"},
        {"https://[::1/x", false, "host"},
        {"https://idp%2eexample.com/x", false, "host"},
        {"https://idp\\example.com/x", false, "host"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char why[160] = "unset";
        bool ok = mg_oidc_url_ok(cases[i].url, why, sizeof(why));
        if (ok != cases[i].ok)
            fail_msg("%s: expected %d (%s)", cases[i].url, cases[i].ok, why);
        if (ok)
            assert_string_equal(why, "");
        else if (strstr(why, cases[i].why) == NULL)
            fail_msg("%s: reason \"%s\" does not say \"%s\"", cases[i].url, why, cases[i].why);
    }
    char why[64];
    assert_false(mg_oidc_url_ok(NULL, why, sizeof(why)));
    assert_false(mg_oidc_url_ok("http://x.test/", NULL, 0));
    char *long_url = malloc(MG_OIDC_MAX_URL + 2);
    memcpy(long_url, "https://a.test/", 15);
    memset(long_url + 15, 'a', MG_OIDC_MAX_URL + 1 - 15);
    long_url[MG_OIDC_MAX_URL + 1] = '\0';
    assert_false(mg_oidc_url_ok(long_url, why, sizeof(why)));
    assert_non_null(strstr(why, "longer"));
    long_url[MG_OIDC_MAX_URL] = '\0';
    assert_true(mg_oidc_url_ok(long_url, why, sizeof(why)));
    free(long_url);
}

static void test_oidc_discovery_parse(void **state)
{
    (void)state;
    struct mg_oidc_discovery d;
    struct mg_errinfo ei = {0};
    const char *good = "{\"issuer\":\"https://idp.test\",\"jwks_uri\":\"https://idp.test/jwks\","
                       "\"authorization_endpoint\":\"https://idp.test/auth\",\"x\":[1,{}]}";
    enum mg_err e = mg_oidc_discovery_parse(mg_slice_cstr(good), &d, &ei);
    if (e == MG_E_NOMEM)
        return;
    assert_int_equal(e, MG_E_OK);
    assert_string_equal(d.issuer, "https://idp.test");
    assert_string_equal(d.jwks_uri, "https://idp.test/jwks");
    assert_string_equal(d.authorization_endpoint, "https://idp.test/auth");
    assert_null(d.token_endpoint);
    mg_oidc_discovery_cleanup(&d);
    assert_null(d.issuer);

    static const struct {
        const char *doc;
        enum mg_err err;
        const char *why;
    } bad[] = {
        {"", MG_E_PARSE, "not JSON"},
        {"{", MG_E_PARSE, "not JSON"},
        {"[]", MG_E_PARSE, "not a JSON object"},
        {"\"s\"", MG_E_PARSE, "not JSON"},
        {"{\"issuer\":\"i\",\"issuer\":\"j\",\"jwks_uri\":\"https://a/\"}", MG_E_PARSE, "not JSON"},
        {"{\"jwks_uri\":\"https://a/\"}", MG_E_INVALID, "has no issuer"},
        {"{\"issuer\":\"\",\"jwks_uri\":\"https://a/\"}", MG_E_INVALID, "issuer is empty"},
        {"{\"issuer\":5,\"jwks_uri\":\"https://a/\"}", MG_E_INVALID, "issuer is not a string"},
        {"{\"issuer\":\"i\"}", MG_E_INVALID, "has no jwks_uri"},
        {"{\"issuer\":\"i\",\"jwks_uri\":null}", MG_E_INVALID, "has no jwks_uri"},
        {"{\"issuer\":\"i\",\"jwks_uri\":[]}", MG_E_INVALID, "jwks_uri is not a string"},
        {"{\"issuer\":\"i\",\"jwks_uri\":\"http://evil.test/jwks\"}", MG_E_INVALID,
         "jwks_uri is refused: the URL must use https"},
        {"{\"issuer\":\"i\",\"jwks_uri\":\"https://a/\",\"token_endpoint\":1}", MG_E_INVALID,
         "token_endpoint is not a string"},
        {"{\"issuer\":\"i\",\"jwks_uri\":\"https://a/\",\"authorization_endpoint\":{}}",
         MG_E_INVALID, "authorization_endpoint is not a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ei = (struct mg_errinfo){0};
        e = mg_oidc_discovery_parse(mg_slice_cstr(bad[i].doc), &d, &ei);
        if (e == MG_E_NOMEM)
            continue;
        if (e != bad[i].err || strstr(ei.msg, bad[i].why) == NULL)
            fail_msg("%s: got %d \"%s\", expected %d \"%s\"", bad[i].doc, e, ei.msg, bad[i].err,
                     bad[i].why);
        assert_null(d.issuer);
        assert_null(d.jwks_uri);
    }
    /* a NUL inside a string is refused by the parser itself */
    static const char nul[] = "{\"issuer\":\"a\\u0000b\",\"jwks_uri\":\"https://a/\"}";
    assert_int_not_equal(mg_oidc_discovery_parse(mg_slice_cstr(nul), &d, &ei), MG_E_OK);
    /* size limit */
    size_t n = MG_OIDC_MAX_DOC + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    e = mg_oidc_discovery_parse(mg_slice_make(big, n), &d, &ei);
    assert_int_equal(e, MG_E_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "larger than 262144 bytes"));
    free(big);
}

/* --- fetching ----------------------------------------------------------------------------- */

static void test_oidc_first_fetch_ok(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], ju[256], err[256];
    url(u, sizeof(u), "/d");
    url(ju, sizeof(ju), "/j");
    int64_t now = mg_now();
    assert_null(mg_oidc_get(o, u, now));
    struct rec r;
    rec_init(&r);
    mg_oidc_fetch(o, u, MG_OIDC_FIRST, on_done, &r);
    assert_true(rec_wait(&r, 1, 10000));
    assert_string_equal(r.error, "");
    assert_non_null(r.keys);
    assert_false(pthread_equal(r.thread, pthread_self())); /* on the client's thread */
    rec_cleanup(&r);

    struct mg_oidc_keys *k = mg_oidc_get(o, u, now);
    assert_non_null(k);
    assert_string_equal(k->discovery_url, u);
    assert_string_equal(k->issuer, "https://idp.test");
    assert_string_equal(k->jwks_uri, ju);
    assert_string_equal(k->token_endpoint, "https://idp.test/token");
    assert_null(k->authorization_endpoint);
    assert_int_equal(mg_jwks_count(k->jwks), 1);
    assert_true(k->fetched_at >= now && k->fetched_at <= now + 5);
    assert_int_equal(verify(k, s_k1, "k1"), MG_JWT_OK);
    assert_int_equal(verify(k, s_k2, "k1"), MG_JWT_BAD_SIGNATURE);
    assert_int_equal(verify(k, s_k1, "other"), MG_JWT_UNKNOWN_KID);
    mg_oidc_keys_unref(k);

    /* FIRST with keys held: answered at once, on this thread, no request */
    rec_init(&r);
    mg_oidc_fetch(o, u, MG_OIDC_FIRST, on_done, &r);
    assert_int_equal(r.calls, 1);
    assert_true(pthread_equal(r.thread, pthread_self()));
    assert_non_null(r.keys);
    assert_string_equal(r.error, "");
    rec_cleanup(&r);
    assert_int_equal(route_hits("/d"), 1);
    assert_int_equal(route_hits("/j"), 1);

    /* fresh keys: get starts no refresh */
    k = mg_oidc_get(o, u, now + MG_OIDC_REFRESH_S - 10);
    assert_non_null(k);
    mg_oidc_keys_unref(k);
    s_sleep_ms(100);
    assert_int_equal(route_hits("/d"), 1);

    /* a refused URL is answered at once */
    struct mg_oidc_keys *bad = fetch_wait(o, "http://idp.example.com/x", MG_OIDC_FIRST, err, 256);
    assert_null(bad);
    assert_non_null(strstr(err, "must use https"));

    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

struct bad_case {
    const char *dpath;
    int dstatus;
    const char *doc; /* NULL: a good document pointing at jpath */
    const char *jpath;
    int jstatus;
    const char *jwks; /* NULL: the JWKS of k1 */
    const char *why;
};

static void test_oidc_bad_answers(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    char *big_doc = malloc(MG_OIDC_MAX_DOC + 100);
    snprintf(big_doc, 100, "{\"issuer\":\"i\",\"jwks_uri\":\"https://a/\",\"pad\":\"");
    size_t l = strlen(big_doc);
    memset(big_doc + l, 'x', MG_OIDC_MAX_DOC);
    snprintf(big_doc + l + MG_OIDC_MAX_DOC, 10, "\"}");
    char *big_jwks = malloc(MG_JWKS_MAX_BYTES + 100);
    snprintf(big_jwks, 100, "{\"keys\":[],\"pad\":\"");
    l = strlen(big_jwks);
    memset(big_jwks + l, 'x', MG_JWKS_MAX_BYTES);
    snprintf(big_jwks + l + MG_JWKS_MAX_BYTES, 10, "\"}");
    const struct bad_case cases[] = {
        {"/d1", 200, "{\"issuer\":\"https://idp.test\"}", NULL, 0, NULL,
         "the discovery document has no jwks_uri"},
        {"/d2", 200, "{\"issuer\":\"i\",\"jwks_uri\":\"http://idp.example.com/jwks\"}", NULL, 0,
         NULL, "jwks_uri is refused: the URL must use https"},
        {"/d3", 404, "{}", NULL, 0, NULL, "the discovery URL answered HTTP 404"},
        {"/d4", 200, "<html>", NULL, 0, NULL, "the discovery document is not JSON"},
        {"/d5", 200, "[1]", NULL, 0, NULL, "the discovery document is not a JSON object"},
        {"/d6", 200, big_doc, NULL, 0, NULL, "the discovery document is larger than 262144 bytes"},
        {"/d7", 200, NULL, "/j7", 500, "{}", "the jwks_uri answered HTTP 500"},
        {"/d8", 200, NULL, "/j8", 200, "nope", "the JWKS is not valid"},
        {"/d9", 200, NULL, "/j9", 200, big_jwks, "the JWKS is larger than 65536 bytes"},
        {"/d10", 200, NULL, "/j10", 200, "{\"keys\":{}}", "the JWKS is not valid"},
        {"/d11", 302, "{}", NULL, 0, NULL, "the discovery URL answered HTTP 302"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        char doc[512], ju[256];
        const char *d = cases[i].doc;
        if (d == NULL) {
            snprintf(doc, sizeof(doc), "{\"issuer\":\"i\",\"jwks_uri\":\"%s\"}",
                     url(ju, sizeof(ju), cases[i].jpath));
            d = doc;
            route_set(cases[i].jpath, cases[i].jstatus, cases[i].jwks, 0);
        }
        route_set(cases[i].dpath, cases[i].dstatus, d, 0);
    }
    for (size_t i = 0; i < n; i++) {
        char u[256], err[256];
        url(u, sizeof(u), cases[i].dpath);
        struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
        assert_null(k);
        if (strstr(err, cases[i].why) == NULL)
            fail_msg("%s: \"%s\" does not say \"%s\"", cases[i].dpath, err, cases[i].why);
        assert_null(mg_oidc_get(o, u, mg_now()));
        /* asked again at once: the same reason, no new request (MG_OIDC_RETRY_S) */
        char err2[256];
        k = fetch_wait(o, u, MG_OIDC_FIRST, err2, sizeof(err2));
        assert_null(k);
        assert_string_equal(err, err2);
        assert_int_equal(route_hits(cases[i].dpath), 1);
    }
    /* connection refused */
    char err[256];
    struct mg_oidc_keys *k = fetch_wait(o, "http://127.0.0.1:1/.well-known/openid-configuration",
                                        MG_OIDC_FIRST, err, sizeof(err));
    assert_null(k);
    assert_true(err[0] != '\0');
    free(big_doc);
    free(big_jwks);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_unknown_kid_rate_limit(void **state)
{
    (void)state;
    mg_time_pin(T0);
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], err[256];
    url(u, sizeof(u), "/d");
    struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_non_null(k);
    mg_oidc_keys_unref(k);
    assert_int_equal(route_hits("/j"), 1);

    /* 20 askers within the window: one refetch */
    struct rec r;
    rec_init(&r);
    for (int i = 0; i < 20; i++)
        mg_oidc_fetch(o, u, MG_OIDC_UNKNOWN_KID, on_done, &r);
    assert_true(rec_wait(&r, 20, 10000));
    assert_int_equal(r.with_keys, 20);
    assert_string_equal(r.error, "");
    rec_cleanup(&r);
    assert_int_equal(route_hits("/j"), 2);
    assert_int_equal(route_hits("/d"), 2);

    /* later within the window: answered at once with the keys held */
    mg_time_pin(T0 + MG_OIDC_KID_REFETCH_S - 1);
    rec_init(&r);
    for (int i = 0; i < 5; i++)
        mg_oidc_fetch(o, u, MG_OIDC_UNKNOWN_KID, on_done, &r);
    assert_int_equal(r.calls, 5);
    assert_int_equal(r.with_keys, 5);
    rec_cleanup(&r);
    s_sleep_ms(100);
    assert_int_equal(route_hits("/j"), 2);

    /* after the window: one more */
    mg_time_pin(T0 + MG_OIDC_KID_REFETCH_S);
    rec_init(&r);
    for (int i = 0; i < 5; i++)
        mg_oidc_fetch(o, u, MG_OIDC_UNKNOWN_KID, on_done, &r);
    assert_true(rec_wait(&r, 5, 10000));
    rec_cleanup(&r);
    assert_int_equal(route_hits("/j"), 3);

    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_coalescing(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char j[1024];
    jwks_doc(s_k1, "k1", j, sizeof(j));
    route_set("/j", 200, j, 400); /* slow JWKS: every asker arrives while it runs */
    char u[256];
    url(u, sizeof(u), "/d");
    struct rec r;
    rec_init(&r);
    for (int i = 0; i < 10; i++)
        mg_oidc_fetch(o, u, i % 2 ? MG_OIDC_UNKNOWN_KID : MG_OIDC_FIRST, on_done, &r);
    assert_true(r.calls < 10);
    assert_true(rec_wait(&r, 10, 10000));
    assert_int_equal(r.calls, 10);
    assert_int_equal(r.with_keys, 10);
    rec_cleanup(&r);
    assert_int_equal(route_hits("/d"), 1);
    assert_int_equal(route_hits("/j"), 1);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_stale_then_expired(void **state)
{
    (void)state;
    mg_time_pin(T0);
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], err[256];
    url(u, sizeof(u), "/d");
    struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(k->fetched_at, T0);
    mg_oidc_keys_unref(k);

    /* the issuer goes away; keys due for a refresh are still served */
    atomic_store(&s_srv.down, 1);
    s_sleep_ms(100); /* kept-alive connections closed too */
    mg_time_pin(T0 + MG_OIDC_REFRESH_S);
    k = mg_oidc_get(o, u, T0 + MG_OIDC_REFRESH_S);
    assert_non_null(k);
    assert_int_equal(k->fetched_at, T0);
    mg_oidc_keys_unref(k);
    /* an unknown kid joins (or follows) that refresh: it fails, the old keys come with why;
     * the failure is in the log as a warning naming the URL */
    log_begin();
    k = fetch_wait(o, u, MG_OIDC_UNKNOWN_KID, err, sizeof(err));
    char *logged = log_end();
    assert_non_null(k);
    assert_int_equal(k->fetched_at, T0);
    assert_true(err[0] != '\0');
    mg_oidc_keys_unref(k);
    char want[512];
    snprintf(want, sizeof(want),
             "\"level\":\"warn\",\"sub\":\"oidc\",\"msg\":\"signing keys of %s "
             "could not be refreshed: ",
             u);
    bool warned = strstr(logged, want) != NULL &&
                  strstr(logged, "serving the keys fetched") != NULL;
    free(logged);
    assert_true(warned);
    assert_int_equal(route_hits("/d"), 1);

    /* still served until MG_OIDC_MAX_STALE_S after the fetch, then gone */
    mg_time_pin(T0 + MG_OIDC_MAX_STALE_S - 1);
    k = mg_oidc_get(o, u, T0 + MG_OIDC_MAX_STALE_S - 1);
    assert_non_null(k);
    mg_oidc_keys_unref(k);
    k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err)); /* held: answered at once */
    assert_non_null(k);
    assert_string_equal(err, "");
    mg_oidc_keys_unref(k);
    mg_time_pin(T0 + MG_OIDC_MAX_STALE_S);
    assert_null(mg_oidc_get(o, u, T0 + MG_OIDC_MAX_STALE_S));
    k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_null(k);
    assert_true(err[0] != '\0');

    /* back again: the next fetch after MG_OIDC_RETRY_S brings keys */
    s_sleep_ms(300); /* background refreshes started above have failed by now */
    atomic_store(&s_srv.down, 0);
    k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err)); /* within the retry pause */
    assert_null(k);
    mg_time_pin(T0 + MG_OIDC_MAX_STALE_S + MG_OIDC_RETRY_S + 1);
    k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_non_null(k);
    assert_string_equal(err, "");
    assert_int_equal(k->fetched_at, T0 + MG_OIDC_MAX_STALE_S + MG_OIDC_RETRY_S + 1);
    mg_oidc_keys_unref(k);
    assert_int_equal(route_hits("/d"), 2);

    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_background_refresh(void **state)
{
    (void)state;
    mg_time_pin(T0);
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], err[256];
    url(u, sizeof(u), "/d");
    struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_non_null(k);
    mg_oidc_keys_unref(k);
    /* the JWKS now holds k2 only; a get past MG_OIDC_REFRESH_S refreshes in the background */
    char j[1024];
    jwks_doc(s_k2, "k2", j, sizeof(j));
    route_set("/j", 200, j, 0);
    int64_t t = T0 + MG_OIDC_REFRESH_S;
    mg_time_pin(t);
    k = mg_oidc_get(o, u, t);
    assert_non_null(k);
    assert_int_equal(k->fetched_at, T0); /* the caller goes on with the old keys */
    mg_oidc_keys_unref(k);
    for (int i = 0; i < 500; i++) {
        k = mg_oidc_get(o, u, t);
        bool fresh = k && k->fetched_at == t;
        if (fresh)
            break;
        mg_oidc_keys_unref(k);
        k = NULL;
        s_sleep_ms(10);
    }
    assert_non_null(k);
    assert_int_equal(verify(k, s_k2, "k2"), MG_JWT_OK);
    assert_int_equal(verify(k, s_k1, "k1"), MG_JWT_UNKNOWN_KID);
    mg_oidc_keys_unref(k);
    assert_int_equal(route_hits("/j"), 2);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_rotation(void **state)
{
    (void)state;
    mg_time_pin(T0);
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], err[256];
    url(u, sizeof(u), "/d");
    struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(verify(k, s_k2, "k2"), MG_JWT_UNKNOWN_KID);
    /* the issuer rotates to k2 */
    char j[1024];
    jwks_doc(s_k2, "k2", j, sizeof(j));
    route_set("/j", 200, j, 0);
    struct mg_oidc_keys *k2 = fetch_wait(o, u, MG_OIDC_UNKNOWN_KID, err, sizeof(err));
    assert_non_null(k2);
    assert_string_equal(err, "");
    assert_int_equal(verify(k2, s_k2, "k2"), MG_JWT_OK);
    assert_int_equal(verify(k2, s_k1, "k1"), MG_JWT_UNKNOWN_KID);
    /* the old keys stay valid for whoever holds them */
    assert_int_equal(verify(k, s_k1, "k1"), MG_JWT_OK);
    mg_oidc_keys_unref(k);
    k = mg_oidc_get(o, u, T0);
    assert_ptr_equal(k, k2);
    mg_oidc_keys_unref(k);
    mg_oidc_keys_unref(k2);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_probe(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    route_set("/nojwks", 200, "{\"issuer\":\"i\"}", 0);
    route_set("/e500", 503, "{}", 0);
    char u[256];
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_oidc_probe(o, url(u, sizeof(u), "/d"), &ei), MG_E_OK);
    struct mg_oidc_keys *k = mg_oidc_get(o, u, mg_now());
    assert_non_null(k);
    assert_int_equal(verify(k, s_k1, "k1"), MG_JWT_OK);
    mg_oidc_keys_unref(k);
    /* the rate limit does not apply: a second probe fetches again */
    assert_int_equal(mg_oidc_probe(o, u, &ei), MG_E_OK);
    assert_int_equal(route_hits("/d"), 2);

    char want[512];
    assert_int_equal(mg_oidc_probe(o, url(u, sizeof(u), "/nojwks"), &ei), MG_E_INVALID);
    snprintf(want, sizeof(want),
             "Unable to fetch the OpenID configuration from %s: the discovery document has no "
             "jwks_uri",
             u);
    assert_string_equal(ei.msg, want);
    assert_int_equal(mg_oidc_probe(o, url(u, sizeof(u), "/e500"), &ei), MG_E_UPSTREAM);
    snprintf(want, sizeof(want),
             "Unable to fetch the OpenID configuration from %s: the discovery URL answered HTTP "
             "503",
             u);
    assert_string_equal(ei.msg, want);
    assert_int_equal(mg_oidc_probe(o, "http://idp.example.com/x", &ei), MG_E_INVALID);
    assert_string_equal(ei.msg, "Unable to fetch the OpenID configuration from "
                                "http://idp.example.com/x: the URL must use https (http is "
                                "allowed only to localhost, 127.0.0.0/8 or [::1])");
    const char *refused = "http://127.0.0.1:1/.well-known/openid-configuration";
    assert_int_equal(mg_oidc_probe(o, refused, &ei), MG_E_UPSTREAM);
    assert_non_null(strstr(ei.msg, "Unable to fetch the OpenID configuration from "
                                   "http://127.0.0.1:1/.well-known/openid-configuration: "));
    assert_true(strlen(ei.msg) >
                strlen("Unable to fetch the OpenID configuration from ") + strlen(refused) + 2);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_no_http(void **state)
{
    (void)state;
    struct mg_oidc *o = s_oidc(NULL);
    char err[256];
    const char *u = "https://idp.example.com/.well-known/openid-configuration";
    struct mg_oidc_keys *k = fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err));
    assert_null(k);
    assert_string_equal(err, "outbound HTTP is not available");
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_oidc_probe(o, u, &ei), MG_E_UPSTREAM);
    assert_string_equal(ei.msg, "Unable to fetch the OpenID configuration from "
                                "https://idp.example.com/.well-known/openid-configuration: "
                                "outbound HTTP is not available");
    assert_null(mg_oidc_get(o, u, mg_now()));
    assert_null(mg_oidc_get(NULL, u, 0));
    mg_oidc_keys_unref(NULL);
    assert_null(mg_oidc_keys_ref(NULL));
    mg_oidc_free(o);
    mg_oidc_free(NULL);
}

static void test_oidc_lru(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    mg_oidc_set_max_entries_for_tests(o, 2);
    serve_issuer("/a", "/ja");
    serve_issuer("/b", "/jb");
    serve_issuer("/c", "/jc");
    char ua[256], ub[256], uc[256], err[256];
    url(ua, sizeof(ua), "/a");
    url(ub, sizeof(ub), "/b");
    url(uc, sizeof(uc), "/c");
    mg_oidc_keys_unref(fetch_wait(o, ua, MG_OIDC_FIRST, err, sizeof(err)));
    mg_oidc_keys_unref(fetch_wait(o, ub, MG_OIDC_FIRST, err, sizeof(err)));
    struct mg_oidc_keys *ka = mg_oidc_get(o, ua, mg_now()); /* a is now more recent than b */
    assert_non_null(ka);
    mg_oidc_keys_unref(fetch_wait(o, uc, MG_OIDC_FIRST, err, sizeof(err)));
    assert_int_equal(mg_oidc_count(o), 2);
    assert_null(mg_oidc_get(o, ub, mg_now()));
    struct mg_oidc_keys *k = mg_oidc_get(o, ua, mg_now());
    assert_ptr_equal(k, ka);
    mg_oidc_keys_unref(k);
    k = mg_oidc_get(o, uc, mg_now());
    assert_non_null(k);
    mg_oidc_keys_unref(k);

    /* an entry a fetch runs for is never evicted */
    mg_oidc_set_max_entries_for_tests(o, 1);
    char j[1024];
    jwks_doc(s_k1, "k1", j, sizeof(j));
    route_set("/js", 200, j, 400);
    char doc[512], ju[256], us[256];
    snprintf(doc, sizeof(doc), "{\"issuer\":\"i\",\"jwks_uri\":\"%s\"}",
             url(ju, sizeof(ju), "/js"));
    route_set("/s", 200, doc, 0);
    url(us, sizeof(us), "/s");
    struct rec r;
    rec_init(&r);
    mg_oidc_fetch(o, us, MG_OIDC_FIRST, on_done, &r); /* evicts a and c (LRU), then runs */
    assert_int_equal(mg_oidc_count(o), 1);
    k = fetch_wait(o, ub, MG_OIDC_FIRST, err, sizeof(err));
    assert_null(k);
    assert_string_equal(err, "too many discovery URLs are being fetched");
    assert_true(rec_wait(&r, 1, 10000));
    assert_non_null(r.keys);
    rec_cleanup(&r);
    /* the keys a caller held outlive their entry */
    assert_int_equal(verify(ka, s_k1, "k1"), MG_JWT_OK);
    mg_oidc_keys_unref(ka);
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
}

static void test_oidc_free_in_flight(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char j[1024];
    jwks_doc(s_k1, "k1", j, sizeof(j));
    route_set("/j", 200, j, 300);
    char u[256];
    url(u, sizeof(u), "/d");
    struct rec r;
    rec_init(&r);
    mg_oidc_fetch(o, u, MG_OIDC_FIRST, on_done, &r);
    mg_oidc_fetch(o, u, MG_OIDC_FIRST, on_done, &r);
    s_sleep_ms(50);
    /* freed with the fetch in flight on a live client: the waiters are answered now */
    mg_oidc_free(o);
    assert_int_equal(r.calls, 2);
    assert_null(r.keys);
    assert_string_equal(r.error, "the key cache is shutting down");
    s_sleep_ms(500); /* the fetch ends on the client's thread and frees the cache */
    mg_http_client_free(c);
    assert_int_equal(r.calls, 2);
    rec_cleanup(&r);

    /* the same with the client stopped first: the discovery request was still in flight */
    c = s_client();
    o = s_oidc(c);
    route_set("/d", 200, "{}", 300);
    rec_init(&r);
    mg_oidc_fetch(o, u, MG_OIDC_FIRST, on_done, &r);
    mg_http_client_shutdown(c);
    assert_int_equal(r.calls, 1);
    assert_null(r.keys);
    mg_oidc_free(o);
    mg_http_client_free(c);
    rec_cleanup(&r);
}

struct stress {
    struct mg_oidc *o;
    const char *url;
    atomic_int *stop;
    int gets, fetches;
};

static atomic_int s_answered;

static void on_done_quiet(void *arg, const struct mg_oidc_keys *keys, const char *error)
{
    (void)arg;
    (void)keys;
    (void)error;
    atomic_fetch_add(&s_answered, 1);
}

static void *stress_thread(void *arg)
{
    struct stress *st = arg;
    while (!atomic_load(st->stop)) {
        struct mg_oidc_keys *k = mg_oidc_get(st->o, st->url, mg_now());
        if (k) {
            st->gets++;
            if (mg_jwks_count(k->jwks) != 1 || strcmp(k->issuer, "https://idp.test") != 0)
                st->gets = -1000000;
            mg_oidc_keys_unref(k);
        }
        mg_oidc_fetch(st->o, st->url, MG_OIDC_UNKNOWN_KID, on_done_quiet, NULL);
        st->fetches++;
    }
    return NULL;
}

/* Threads reading and asking while the keys rotate and get refreshed: no race, no leak (run it
 * under build/asan). */
static void test_oidc_threads(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct mg_oidc *o = s_oidc(c);
    serve_issuer("/d", "/j");
    char u[256], err[256], j1[1024], j2[1024];
    url(u, sizeof(u), "/d");
    jwks_doc(s_k1, "k1", j1, sizeof(j1));
    jwks_doc(s_k2, "k2", j2, sizeof(j2));
    mg_oidc_keys_unref(fetch_wait(o, u, MG_OIDC_FIRST, err, sizeof(err)));
    atomic_int stop;
    atomic_init(&stop, 0);
    atomic_store(&s_answered, 0);
    struct stress st[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        st[i] = (struct stress){.o = o, .url = u, .stop = &stop};
        assert_int_equal(pthread_create(&t[i], NULL, stress_thread, &st[i]), 0);
    }
    for (int i = 0; i < 6; i++) { /* rotate; each pinned step passes the kid window */
        route_set("/j", 200, i % 2 ? j1 : j2, 0);
        mg_time_pin(T0 + (int64_t)i * (MG_OIDC_KID_REFETCH_S + 1));
        s_sleep_ms(60);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* fetches still running end before the cache goes */
    mg_http_client_shutdown(c);
    mg_oidc_free(o);
    mg_http_client_free(c);
    int gets = 0, fetches = 0;
    for (int i = 0; i < 4; i++) {
        assert_true(st[i].gets >= 0);
        gets += st[i].gets;
        fetches += st[i].fetches;
    }
    assert_true(gets > 0);
    assert_true(fetches > 0);
    assert_int_equal(atomic_load(&s_answered), fetches); /* every ask answered, once */
    /* at most one unknown-kid refetch per window (6 windows) plus the first fetch */
    assert_true(route_hits("/j") <= 7);
}

int main(void)
{
    s_k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    s_k2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!s_k1 || !s_k2)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oidc_url_ok_table),
        cmocka_unit_test(test_oidc_discovery_parse),
        cmocka_unit_test_setup_teardown(test_oidc_first_fetch_ok, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_bad_answers, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_unknown_kid_rate_limit, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_coalescing, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_stale_then_expired, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_background_refresh, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_rotation, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_probe, s_srv_start, s_srv_stop),
        cmocka_unit_test(test_oidc_no_http),
        cmocka_unit_test_setup_teardown(test_oidc_lru, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_free_in_flight, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_oidc_threads, s_srv_start, s_srv_stop),
    };
    int rc = MG_RUN_TESTS(tests);
    EVP_PKEY_free(s_k1);
    EVP_PKEY_free(s_k2);
    return rc;
}
