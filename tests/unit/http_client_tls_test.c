/* The outbound HTTP client's TLS verification (src/http/client.c) against a TLS server on a
 * loopback port, run by this test in its own thread with a throw-away CA and server certificate
 * made here with the OpenSSL API: the system store alone refuses the server, the operator's CA
 * bundle for the host or for every host lets it through, a host's bundle is not used for another
 * host name, a host name the certificate does not carry fails even with the CA, a request's own
 * ca_file replaces the store, and bad bundles stop the client from starting with a clear reason.
 *
 * As in http_client_test.c, results are checked after the client and the server are stopped, so
 * that a result an injected allocation failure changed (torture mode) fails an assertion with no
 * thread left running. */
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
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "base/alloc.h"
#include "http/client.h"
#include "unit/leaks.h"

/* --- certificates ------------------------------------------------------------------------- */

static bool s_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return false;
    bool ok = X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for key, named cn: a self-signed CA when issuer is NULL, else a server
 * certificate for the names in san ("DNS:localhost,IP:127.0.0.1") signed by issuer. */
static X509 *s_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                    const char *san)
{
    static long serial = 1;
    X509 *x = X509_new();
    if (x == NULL)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    bool ok = X509_set_version(x, 2) == 1 &&
              ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) == 1 &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
              X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL &&
              X509_set_pubkey(x, key) == 1 &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                         -1, 0) == 1 &&
              X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
    if (ok && issuer == NULL)
        ok = s_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") &&
             s_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             s_ext(x, x, NID_subject_key_identifier, "hash");
    else if (ok)
        ok = s_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             s_ext(x, issuer, NID_key_usage, "critical,digitalSignature") &&
             s_ext(x, issuer, NID_ext_key_usage, "serverAuth") &&
             s_ext(x, issuer, NID_subject_alt_name, san);
    if (ok)
        ok = X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static bool s_write_cert(const char *path, X509 *x)
{
    BIO *b = BIO_new_file(path, "w");
    if (b == NULL)
        return false;
    bool ok = PEM_write_bio_X509(b, x) == 1;
    BIO_free(b);
    return ok;
}

static bool s_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* --- the TLS server ----------------------------------------------------------------------- */

struct tls_srv {
    char dir[64];          /* temporary folder of the PEM files */
    char ca[128];          /* the CA that signed the server's certificate */
    char other_ca[128];    /* an unrelated CA */
    char empty[128];       /* a file with no certificate */
    char bad[128];         /* a PEM certificate block that is not one */
    SSL_CTX *ctx;          /* serves the certificate for "localhost" and 127.0.0.1 */
    SSL_CTX *ctx_mismatch; /* serves one for "other.example" only, from the same CA */
    int lfd, port;
    pthread_t thread;
    bool running;
    atomic_int stop;
    atomic_int mismatch;   /* serve ctx_mismatch */
    atomic_int served;     /* requests answered */
    atomic_int handshakes; /* handshakes that failed */
};

static struct tls_srv s_t;

static SSL_CTX *s_server_ctx(X509 *cert, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return NULL;
    if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void s_serve_one(int fd)
{
    struct timeval tv = {3, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(atomic_load(&s_t.mismatch) ? s_t.ctx_mismatch : s_t.ctx);
    if (ssl == NULL)
        return;
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1) {
        atomic_fetch_add(&s_t.handshakes, 1);
        SSL_free(ssl);
        ERR_clear_error();
        return;
    }
    char req[8192];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        int r = SSL_read(ssl, req + n, (int)(sizeof(req) - 1 - n));
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = 0;
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    static const char resp[] =
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    if (SSL_write(ssl, resp, (int)strlen(resp)) > 0)
        atomic_fetch_add(&s_t.served, 1);
    (void)SSL_shutdown(ssl);
    SSL_free(ssl);
    ERR_clear_error();
}

static void *s_server(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_t.stop)) {
        struct pollfd p = {.fd = s_t.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s_t.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        s_serve_one(fd);
        close(fd);
    }
    return NULL;
}

static void s_tls_cleanup(void)
{
    if (s_t.running) {
        atomic_store(&s_t.stop, 1);
        pthread_join(s_t.thread, NULL);
    }
    if (s_t.lfd > 0)
        close(s_t.lfd);
    SSL_CTX_free(s_t.ctx);
    SSL_CTX_free(s_t.ctx_mismatch);
    if (s_t.dir[0]) {
        const char *files[] = {s_t.ca, s_t.other_ca, s_t.empty, s_t.bad};
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            if (files[i][0])
                (void)unlink(files[i]);
        (void)rmdir(s_t.dir);
    }
    memset(&s_t, 0, sizeof(s_t));
}

static int s_tls_start(void **state)
{
    memset(&s_t, 0, sizeof(s_t));
    snprintf(s_t.dir, sizeof(s_t.dir), "/tmp/mg-tls-XXXXXX");
    if (mkdtemp(s_t.dir) == NULL) {
        s_t.dir[0] = 0;
        return -1;
    }
    snprintf(s_t.ca, sizeof(s_t.ca), "%s/ca.pem", s_t.dir);
    snprintf(s_t.other_ca, sizeof(s_t.other_ca), "%s/other-ca.pem", s_t.dir);
    snprintf(s_t.empty, sizeof(s_t.empty), "%s/empty.pem", s_t.dir);
    snprintf(s_t.bad, sizeof(s_t.bad), "%s/bad.pem", s_t.dir);
    EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256");
    X509 *ca = NULL, *other = NULL, *srv = NULL, *srv_mismatch = NULL;
    bool ok = ca_key && other_key && srv_key;
    if (ok) {
        ca = s_cert(ca_key, "mcpgate test CA", NULL, NULL, NULL);
        other = s_cert(other_key, "mcpgate other CA", NULL, NULL, NULL);
    }
    if (ca) {
        srv = s_cert(srv_key, "localhost", ca, ca_key, "DNS:localhost,IP:127.0.0.1");
        srv_mismatch = s_cert(srv_key, "other.example", ca, ca_key, "DNS:other.example");
    }
    ok = ok && ca && other && srv && srv_mismatch && s_write_cert(s_t.ca, ca) &&
         s_write_cert(s_t.other_ca, other) && s_write_text(s_t.empty, "no certificate here\n") &&
         s_write_text(s_t.bad, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                               "-----END CERTIFICATE-----\n");
    if (ok) {
        s_t.ctx = s_server_ctx(srv, srv_key);
        s_t.ctx_mismatch = s_server_ctx(srv_mismatch, srv_key);
        ok = s_t.ctx && s_t.ctx_mismatch;
    }
    X509_free(ca);
    X509_free(other);
    X509_free(srv);
    X509_free(srv_mismatch);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
    if (ok) {
        s_t.lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        ok = s_t.lfd > 0 && bind(s_t.lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
             listen(s_t.lfd, 64) == 0 && getsockname(s_t.lfd, (struct sockaddr *)&a, &al) == 0;
        s_t.port = ntohs(a.sin_port);
    }
    if (ok) {
        ok = pthread_create(&s_t.thread, NULL, s_server, NULL) == 0;
        s_t.running = ok;
    }
    if (!ok) {
        fprintf(stderr, "cannot set up the TLS test server\n");
        s_tls_cleanup();
        return -1;
    }
    return mg_leaks_setup(state);
}

static int s_tls_stop(void **state)
{
    (void)state;
    s_tls_cleanup();
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------ */

struct result {
    enum mg_err err;
    long status;
    bool body_ok;
    bool timed_out;
    char msg[256];
};

/* GET https://HOST:port/ through c (NULL gives MG_E_INTERNAL), with ca_file when not NULL. */
static struct result s_get(struct mg_http_client *c, const char *host, const char *ca_file)
{
    char url[128];
    snprintf(url, sizeof(url), "https://%s:%d/", host, s_t.port);
    struct mg_http_out_req req = {.url = url, .ca_file = ca_file, .timeout_ms = 5000};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    struct result res = {.err = r.err, .status = r.status, .timed_out = r.timed_out};
    res.body_ok = r.body.len == 2 && memcmp(r.body.ptr, "ok", 2) == 0;
    snprintf(res.msg, sizeof(res.msg), "%s", r.msg);
    mg_http_out_resp_cleanup(&r);
    return res;
}

static struct mg_http_client *s_client(const struct mg_http_ca *cas, size_t n)
{
    struct mg_http_client *c = NULL;
    struct mg_errinfo ei = {0};
    struct mg_http_client_config cfg = {.cas = cas, .n_cas = n};
    if (mg_http_client_new_with(&c, &cfg, &ei) != MG_E_OK)
        return NULL;
    return c;
}

static void s_assert_ok(const struct result *r)
{
    if (r->err != MG_E_OK)
        fprintf(stderr, "unexpected failure: %s\n", r->msg);
    assert_int_equal(r->err, MG_E_OK);
    assert_int_equal(r->status, 200);
    assert_true(r->body_ok);
}

/* A verification failure: a target failure (not a time-out) whose reason names the certificate. */
static void s_assert_cert_failure(const struct result *r)
{
    assert_int_equal(r->err, MG_E_UPSTREAM);
    assert_false(r->timed_out);
    if (strstr(r->msg, "certificate") == NULL)
        fprintf(stderr, "reason without 'certificate': %s\n", r->msg);
    assert_non_null(strstr(r->msg, "certificate"));
}

/* --- tests -------------------------------------------------------------------------------- */

/* the system store alone does not know the test CA */
static void test_tls_system_store_refuses(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client(NULL, 0);
    struct result r = s_get(c, "localhost", NULL);
    mg_http_client_free(c);
    s_assert_cert_failure(&r);
}

/* a bundle for "localhost" is used for https://localhost and for nothing else */
static void test_tls_host_bundle(void **state)
{
    (void)state;
    struct mg_http_ca cas[] = {{.host = "LocalHost", .file = s_t.ca}};
    struct mg_http_client *c = s_client(cas, 1);
    struct result local = s_get(c, "localhost", NULL);
    struct result ip = s_get(c, "127.0.0.1", NULL); /* in the certificate, not the bundle's host */
    mg_http_client_free(c);
    s_assert_ok(&local);
    s_assert_cert_failure(&ip);
}

/* a bundle for an IPv4 literal host, beside one for another host */
static void test_tls_host_bundle_ip(void **state)
{
    (void)state;
    struct mg_http_ca cas[] = {{.host = "api.example.com", .file = s_t.other_ca},
                               {.host = "127.0.0.1", .file = s_t.ca}};
    struct mg_http_client *c = s_client(cas, 2);
    struct result ip = s_get(c, "127.0.0.1", NULL);
    struct result local = s_get(c, "localhost", NULL);
    mg_http_client_free(c);
    s_assert_ok(&ip);
    s_assert_cert_failure(&local);
}

/* a bundle for every host, added to the system store; another host's bundle does not replace it */
static void test_tls_every_host_bundle(void **state)
{
    (void)state;
    struct mg_http_ca cas[] = {{.host = NULL, .file = s_t.ca},
                               {.host = "localhost", .file = s_t.other_ca}};
    struct mg_http_client *c = s_client(cas, 2);
    struct result local = s_get(c, "localhost", NULL);
    struct result ip = s_get(c, "127.0.0.1", NULL);
    mg_http_client_free(c);
    s_assert_ok(&local);
    s_assert_ok(&ip);
}

/* the host name is checked even when the CA is trusted */
static void test_tls_hostname_mismatch(void **state)
{
    (void)state;
    struct mg_http_ca cas[] = {{.host = NULL, .file = s_t.ca}};
    struct mg_http_client *c = s_client(cas, 1);
    atomic_store(&s_t.mismatch, 1); /* the certificate names other.example only */
    struct result local = s_get(c, "localhost", NULL);
    struct result ip = s_get(c, "127.0.0.1", NULL);
    mg_http_client_free(c);
    s_assert_cert_failure(&local);
    s_assert_cert_failure(&ip);
}

/* a request's own ca_file replaces the store: it wins over the operator's bundles both ways */
static void test_tls_request_ca_file_wins(void **state)
{
    (void)state;
    struct mg_http_ca cas[] = {{.host = "localhost", .file = s_t.ca}};
    struct mg_http_client *c = s_client(cas, 1);
    struct result other = s_get(c, "localhost", s_t.other_ca);
    struct result own = s_get(c, "127.0.0.1", s_t.ca);
    struct result plain = s_get(c, "localhost", NULL); /* the bundle again, after both */
    mg_http_client_free(c);
    s_assert_cert_failure(&other);
    s_assert_ok(&own);
    s_assert_ok(&plain);
}

/* bad bundles and hosts: the client does not start, and says why */
static void test_tls_bad_bundles(void **state)
{
    (void)state;
    struct {
        const char *host, *file, *why;
    } cases[] = {
        {NULL, "/nonexistent/ca.pem", "cannot read it"},
        {NULL, s_t.dir, "not a regular file"},
        {NULL, s_t.empty, "no PEM certificate in it"},
        {"localhost", s_t.bad, "certificate 1 is malformed"},
        {"a b", s_t.ca, "not a host name"},
        {"[not-ipv6]", s_t.ca, "not a host name"},
        {NULL, "", "no file named"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mg_http_ca ca = {.host = cases[i].host, .file = cases[i].file};
        struct mg_http_client_config cfg = {.cas = &ca, .n_cas = 1};
        struct mg_http_client *c = NULL;
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_http_client_new_with(&c, &cfg, &ei);
        mg_http_client_free(c);
        if (e == MG_E_NOMEM)
            continue; /* torture mode */
        if (strstr(ei.msg, cases[i].why) == NULL)
            fprintf(stderr, "case %zu: '%s'\n", i, ei.msg);
        assert_int_equal(e, MG_E_INVALID);
        assert_null(c);
        assert_non_null(strstr(ei.msg, cases[i].why));
        if (cases[i].file[0])
            assert_non_null(strstr(ei.msg, cases[i].file)); /* the message names the file */
    }
    struct mg_http_ca many[MG_HTTP_CLIENT_MAX_CAS + 1];
    for (size_t i = 0; i < MG_HTTP_CLIENT_MAX_CAS + 1; i++)
        many[i] = (struct mg_http_ca){.host = NULL, .file = s_t.ca};
    struct mg_http_client_config cfg = {.cas = many, .n_cas = MG_HTTP_CLIENT_MAX_CAS + 1};
    struct mg_http_client *c = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_http_client_new_with(&c, &cfg, &ei);
    assert_int_equal(e, MG_E_INVALID);
    assert_null(c);
}

/* a peer that never completes the TCP handshake: a listening socket whose backlog is full */
static void test_tls_connect_timeout(void **state)
{
    (void)state;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    assert_true(lfd > 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                listen(lfd, 0) == 0 && getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
    /* fill the accept queue (never accepted) */
    int fillers[4], n_fill = 0;
    for (int i = 0; i < 4; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (fd < 0)
            break;
        (void)connect(fd, (struct sockaddr *)&a, sizeof(a));
        fillers[n_fill++] = fd;
    }
    usleep(100 * 1000);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/", ntohs(a.sin_port));
    struct mg_http_out_req req = {.url = url, .connect_timeout_ms = 300, .timeout_ms = 5000};
    struct mg_http_client *c = s_client(NULL, 0);
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    mg_http_client_free(c);
    for (int i = 0; i < n_fill; i++)
        close(fillers[i]);
    close(lfd);
    enum mg_err e = r.err;
    bool to = r.timed_out;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", r.msg);
    mg_http_out_resp_cleanup(&r);
    if (e != MG_E_UPSTREAM || !to)
        fprintf(stderr, "connect time-out: err %d, '%s'\n", (int)e, msg);
    assert_int_equal(e, MG_E_UPSTREAM);
    assert_true(to);
    assert_string_equal(msg, "connect timed out after 300 ms");
}

int main(void)
{
    /* the test server writes to clients that may have given up on the handshake */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls_system_store_refuses, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_host_bundle, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_host_bundle_ip, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_every_host_bundle, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_hostname_mismatch, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_request_ca_file_wins, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_bad_bundles, s_tls_start, s_tls_stop),
        cmocka_unit_test_setup_teardown(test_tls_connect_timeout, s_tls_start, s_tls_stop),
    };
    return MG_RUN_TESTS(tests);
}
