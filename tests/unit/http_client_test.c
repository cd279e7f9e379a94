/* The outbound HTTP client (src/http/client.c) against a small HTTP/1.1 server on a loopback
 * port, run by this test in its own threads (plain sockets): answers, limits, timeouts, the
 * loopback-only rule, redirects as answers, concurrency, the blocking variant and shutdown, and
 * the outbound address policy (metadata always refused, --outbound-deny-local, allow rules).
 *
 * Each test checks its results after the client and the server are stopped, so that a result an
 * injected allocation failure changed (torture mode) fails an assertion with no thread left
 * running. */
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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "http/client.h"
#include "unit/leaks.h"

/* --- the test server --------------------------------------------------------------------- */

struct srv {
    int lfd;
    int port;
    pthread_t acceptor;
    atomic_int stop;
    atomic_int active;   /* connection threads running */
    atomic_int accepted; /* connections accepted */
    atomic_int hanging;  /* requests of /hang being held */
};

static struct srv s_srv;

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

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

static bool s_reply(int fd, const char *status, const char *extra, const void *body, size_t n)
{
    char head[512];
    int hn = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status,
                      extra, n);
    return s_send_all(fd, head, (size_t)hn) && s_send_all(fd, body, n);
}

/* Sleeps ms in small steps; false when the server is stopping. */
static bool s_wait_ms(int ms)
{
    for (int i = 0; i < ms; i += 10) {
        if (atomic_load(&s_srv.stop))
            return false;
        s_sleep_ms(10);
    }
    return true;
}

/* Answers one request; false to close the connection. */
static bool s_route(int fd, const char *req, size_t head_len, const char *body, size_t body_len)
{
    char path[256] = "";
    const char *sp = strchr(req, ' ');
    if (sp) {
        size_t i = 0;
        for (sp++; *sp && *sp != ' ' && i + 1 < sizeof(path); sp++)
            path[i++] = *sp;
        path[i] = '\0';
    }
    if (strcmp(path, "/hello") == 0)
        return s_reply(fd, "200 OK", "X-Test: Value One \r\nContent-Type: text/plain\r\n", "hello",
                       5);
    if (strcmp(path, "/echo") == 0) {
        size_t n = head_len + body_len;
        char *all = malloc(n ? n : 1);
        if (all == NULL)
            return false;
        memcpy(all, req, head_len);
        memcpy(all + head_len, body, body_len);
        bool ok = s_reply(fd, "200 OK", "", all, n);
        free(all);
        return ok;
    }
    if (strcmp(path, "/missing") == 0)
        return s_reply(fd, "404 Not Found", "", "nope", 4);
    if (strcmp(path, "/redirect") == 0)
        return s_reply(fd, "302 Found", "Location: http://127.0.0.1:9/elsewhere\r\n", "", 0);
    if (strcmp(path, "/early") == 0) {
        const char *r = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                        "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok";
        return s_send_all(fd, r, strlen(r));
    }
    if (strcmp(path, "/big") == 0 || strcmp(path, "/bigchunked") == 0) {
        static char chunk[10000];
        memset(chunk, 'x', sizeof(chunk));
        bool chunked = strcmp(path, "/bigchunked") == 0;
        const char *h = chunked ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                : "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        if (!s_send_all(fd, h, strlen(h)))
            return false;
        for (int i = 0; i < 10; i++) {
            if (chunked && !s_send_all(fd, "2710\r\n", 6))
                return false;
            if (!s_send_all(fd, chunk, sizeof(chunk)))
                return false;
            if (chunked && !s_send_all(fd, "\r\n", 2))
                return false;
        }
        return !chunked || s_send_all(fd, "0\r\n\r\n", 5);
    }
    if (strcmp(path, "/hang") == 0) {
        atomic_fetch_add(&s_srv.hanging, 1);
        for (;;) { /* until the client goes away or the server stops */
            struct pollfd p = {fd, POLLIN, 0};
            int r = poll(&p, 1, 10);
            if (atomic_load(&s_srv.stop))
                break;
            char b[64];
            if (r > 0 && recv(fd, b, sizeof(b), 0) <= 0)
                break;
        }
        atomic_fetch_sub(&s_srv.hanging, 1);
        return false;
    }
    if (strcmp(path, "/slow") == 0)
        return s_wait_ms(700) && s_reply(fd, "200 OK", "", "slow", 4);
    if (strcmp(path, "/fast") == 0)
        return s_reply(fd, "200 OK", "", "fast", 4);
    return s_reply(fd, "400 Bad Request", "", "", 0);
}

static size_t s_content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return (size_t)strtoul(p + 15, NULL, 10);
    }
    return 0;
}

static void *s_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    while (buf && !atomic_load(&s_srv.stop)) {
        buf[len] = '\0';
        if (len > 0 && (buf[0] < 'A' || buf[0] > 'Z')) { /* not HTTP (a TLS hello) */
            s_reply(fd, "400 Bad Request", "Connection: close\r\n", "", 0);
            break;
        }
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t head_len = (size_t)(end + 4 - buf);
            size_t body_len = s_content_length(buf);
            if (body_len > cap - head_len)
                break;
            if (len >= head_len + body_len) {
                bool keep = s_route(fd, buf, head_len, buf + head_len, body_len);
                if (!keep)
                    break;
                size_t used = head_len + body_len;
                memmove(buf, buf + used, len - used);
                len -= used;
                continue;
            }
        }
        if (len == cap)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
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
        atomic_fetch_add(&s_srv.accepted, 1);
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
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------ */

static const char *s_url(char *out, size_t cap, const char *path)
{
    snprintf(out, cap, "http://127.0.0.1:%d%s", s_srv.port, path);
    return out;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

struct slot {
    struct waiter *w;
    struct mg_http_client *c; /* for the callback that tries a blocking fetch */
    struct mg_http_out_resp resp;
    struct mg_http_out_resp inner; /* what that blocking fetch answered */
    double at;
    bool done;
};

static void s_waiter_init(struct waiter *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
}

static void s_waiter_cleanup(struct waiter *w)
{
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static void s_on_done(void *arg, struct mg_http_out_resp *r)
{
    struct slot *s = arg;
    if (s->c) {
        struct mg_http_out_req req = {.method = "GET", .url = "http://127.0.0.1:9/"};
        mg_http_fetch_sync(s->c, &req, &s->inner);
    }
    pthread_mutex_lock(&s->w->mu);
    s->resp = *r;
    s->at = s_now_ms();
    s->done = true;
    s->w->done++;
    pthread_cond_broadcast(&s->w->cv);
    pthread_mutex_unlock(&s->w->mu);
}

/* Waits until n callbacks ran, at most ms; false on time-out. */
static bool s_wait_done(struct waiter *w, int n, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (w->done < n)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    bool ok = w->done >= n;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

static bool s_body_is(const struct mg_http_out_resp *r, const char *s)
{
    return r->body.len == strlen(s) && memcmp(r->body.ptr, s, r->body.len) == 0;
}

static bool s_body_has(const struct mg_http_out_resp *r, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= r->body.len; i++)
        if (memcmp(r->body.ptr + i, s, n) == 0)
            return true;
    return false;
}

static struct mg_http_client *s_client(void)
{
    struct mg_http_client *c = NULL;
    struct mg_errinfo ei = {0};
    if (mg_http_client_new(&c, &ei) != MG_E_OK)
        return NULL;
    return c;
}

/* --- tests -------------------------------------------------------------------------------- */

static void test_http_get_headers_status_body(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    const char *hdrs[] = {"X-Custom: abc", "Accept: text/plain"};
    struct mg_http_out_req req = {.method = "GET",
                                  .url = s_url(url, sizeof(url), "/hello"),
                                  .headers = hdrs,
                                  .n_headers = 2};
    struct mg_http_out_resp r, echo, early;
    mg_http_fetch_sync(c, &req, &r);
    req.url = s_url(url, sizeof(url), "/echo");
    mg_http_fetch_sync(c, &req, &echo);
    req.url = s_url(url, sizeof(url), "/early");
    mg_http_fetch_sync(c, &req, &early);
    mg_http_client_free(c);

    struct mg_slice v;
    bool got = mg_http_out_header(&r, "x-test", &v);
    bool got_upper = false, got_ct = false, got_none = true;
    struct mg_slice v2, v3, v4;
    got_upper = mg_http_out_header(&r, "X-TEST", &v2);
    got_ct = mg_http_out_header(&r, "content-type", &v3);
    got_none = mg_http_out_header(&r, "x-absent", &v4);
    bool lowered = r.headers.len > 0 &&
                   s_body_has(&(struct mg_http_out_resp){.body = r.headers}, "x-test: Value One");
    struct mg_slice fin, link;
    bool has_final = mg_http_out_header(&early, "x-final", &fin);
    bool has_link = mg_http_out_header(&early, "link", &link);
    enum mg_err e1 = r.err, e2 = echo.err, e3 = early.err;
    long st = r.status;
    bool body_ok = s_body_is(&r, "hello");
    bool sent = s_body_has(&echo, "X-Custom: abc\r\n") && s_body_has(&echo, "GET /echo HTTP/1.1");
    bool early_ok = s_body_is(&early, "ok") && early.status == 200;
    bool v_ok = got && mg_slice_eq_cstr(v, "Value One") && got_upper && mg_slice_eq(v, v2) &&
                got_ct && mg_slice_eq_cstr(v3, "text/plain") && !got_none && v4.len == 0;
    bool fin_ok = has_final && mg_slice_eq_cstr(fin, "yes");
    mg_http_out_resp_cleanup(&r);
    mg_http_out_resp_cleanup(&echo);
    mg_http_out_resp_cleanup(&early);

    assert_int_equal(e1, MG_E_OK);
    assert_int_equal(e2, MG_E_OK);
    assert_int_equal(e3, MG_E_OK);
    assert_int_equal(st, 200);
    assert_true(body_ok);
    assert_true(v_ok);
    assert_true(lowered);
    assert_true(sent);
    assert_true(early_ok);
    assert_true(fin_ok);
    assert_false(has_link); /* the 103's headers are not the final response's */
}

static void test_http_post_body_intact(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    uint8_t body[3000];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7);
    char url[128];
    const char *hdrs[] = {"Content-Type: application/octet-stream"};
    struct mg_http_out_req req = {.method = "POST",
                                  .url = s_url(url, sizeof(url), "/echo"),
                                  .headers = hdrs,
                                  .n_headers = 1,
                                  .body = mg_slice_make(body, sizeof(body))};
    struct mg_http_out_resp r, put;
    mg_http_fetch_sync(c, &req, &r);
    req.method = "PUT";
    req.headers = NULL;
    req.n_headers = 0;
    req.body = mg_slice_make("{}", 2);
    mg_http_fetch_sync(c, &req, &put);
    mg_http_client_free(c);

    bool intact = r.body.len > sizeof(body) &&
                  memcmp(r.body.ptr + r.body.len - sizeof(body), body, sizeof(body)) == 0;
    bool head_ok = s_body_has(&r, "POST /echo HTTP/1.1") &&
                   s_body_has(&r, "Content-Length: 3000") && !s_body_has(&r, "Expect:");
    bool put_ok = s_body_has(&put, "PUT /echo HTTP/1.1") && s_body_has(&put, "\r\n\r\n{}") &&
                  !s_body_has(&put, "Content-Type:");
    enum mg_err e = r.err, e2 = put.err;
    mg_http_out_resp_cleanup(&r);
    mg_http_out_resp_cleanup(&put);
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(e2, MG_E_OK);
    assert_true(intact);
    assert_true(head_ok);
    assert_true(put_ok);
}

static void test_http_404_is_an_answer(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/missing")};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    mg_http_client_free(c);
    enum mg_err e = r.err;
    long st = r.status;
    bool body_ok = s_body_is(&r, "nope");
    mg_http_out_resp_cleanup(&r);
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(st, 404);
    assert_true(body_ok);
}

static void test_http_response_over_limit(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/big"), .max_response = 1000};
    struct mg_http_out_resp r, rc, fits;
    mg_http_fetch_sync(c, &req, &r);
    req.url = s_url(url, sizeof(url), "/bigchunked");
    mg_http_fetch_sync(c, &req, &rc);
    req.max_response = 100000; /* exactly the body: fits */
    mg_http_fetch_sync(c, &req, &fits);
    mg_http_client_free(c);
    enum mg_err e = r.err, ec = rc.err, ef = fits.err;
    size_t n = r.body.len, nc = rc.body.len, nf = fits.body.len;
    mg_http_out_resp_cleanup(&r);
    mg_http_out_resp_cleanup(&rc);
    mg_http_out_resp_cleanup(&fits);
    assert_int_equal(e, MG_E_TOO_LARGE);
    assert_int_equal(ec, MG_E_TOO_LARGE);
    assert_int_equal(n, 0); /* nothing truncated is handed over */
    assert_int_equal(nc, 0);
    assert_int_equal(ef, MG_E_OK);
    assert_int_equal(nf, 100000);
}

static void test_http_timeout(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/hang"), .timeout_ms = 300};
    struct mg_http_out_resp r;
    double t0 = s_now_ms();
    mg_http_fetch_sync(c, &req, &r);
    double took = s_now_ms() - t0;
    mg_http_client_free(c);
    enum mg_err e = r.err;
    bool to = r.timed_out;
    bool msg_ok = strstr(r.msg, "timed out after 300 ms") != NULL;
    mg_http_out_resp_cleanup(&r);
    assert_int_equal(e, MG_E_UPSTREAM);
    assert_true(to);
    assert_true(msg_ok);
    assert_true(took >= 250 && took < 2000);
}

static void test_http_connection_refused(void **state)
{
    (void)state;
    /* a port that was just free: nothing listens there */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x?key=secret", ntohs(a.sin_port));
    struct mg_http_client *c = s_client();
    struct mg_http_out_req req = {.url = url};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    mg_http_client_free(c);
    enum mg_err e = r.err;
    bool to = r.timed_out;
    bool msg_ok = strcmp(r.msg, "connection refused") == 0;
    mg_http_out_resp_cleanup(&r);
    assert_int_equal(e, MG_E_UPSTREAM);
    assert_false(to);
    assert_true(msg_ok);
}

static void test_http_refused_before_sending(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char urls[8][160];
    int p = s_srv.port;
    snprintf(urls[0], 160, "http://example.com/");
    snprintf(urls[1], 160, "ftp://127.0.0.1:%d/", p);
    snprintf(urls[2], 160, "http://user:pw@127.0.0.1:%d/hello", p);
    snprintf(urls[3], 160, "https://user@127.0.0.1:%d/hello", p);
    snprintf(urls[4], 160, "http://10.0.0.1:%d/hello", p);
    snprintf(urls[5], 160, "not a url");
    snprintf(urls[6], 160, "file:///etc/passwd");
    snprintf(urls[7], 160, "http://127.0.0.1.example.com:%d/", p);
    enum mg_err errs[8 + 3];
    struct mg_http_out_resp r;
    for (int i = 0; i < 8; i++) {
        struct mg_http_out_req req = {.url = urls[i]};
        mg_http_fetch_sync(c, &req, &r);
        errs[i] = r.err;
        mg_http_out_resp_cleanup(&r);
    }
    /* header lines that would smuggle a header, or override what the client sets */
    char ok_url[128];
    const char *bad[3] = {"X-A: b\r\nX-B: c", "Host: elsewhere", "No colon"};
    for (int i = 0; i < 3; i++) {
        struct mg_http_out_req req = {.url = s_url(ok_url, sizeof(ok_url), "/hello"),
                                      .headers = &bad[i],
                                      .n_headers = 1};
        mg_http_fetch_sync(c, &req, &r);
        errs[8 + i] = r.err;
        mg_http_out_resp_cleanup(&r);
    }
    mg_http_client_free(c);
    int accepted = atomic_load(&s_srv.accepted);
    for (int i = 0; i < 11; i++)
        assert_int_equal(errs[i], MG_E_INVALID);
    assert_int_equal(accepted, 0); /* no connection was made */
}

static void test_http_redirect_not_followed(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/redirect")};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    mg_http_client_free(c);
    struct mg_slice loc;
    bool has = mg_http_out_header(&r, "location", &loc);
    bool loc_ok = has && mg_slice_eq_cstr(loc, "http://127.0.0.1:9/elsewhere");
    enum mg_err e = r.err;
    long st = r.status;
    mg_http_out_resp_cleanup(&r);
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(st, 302);
    assert_true(loc_ok);
}

#define S_N 200

static void test_http_concurrent(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    static struct slot slots[S_N];
    memset(slots, 0, sizeof(slots));
    struct waiter w;
    s_waiter_init(&w);
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/fast")};
    int issued = 0;
    for (int i = 0; i < S_N; i++) {
        slots[i].w = &w;
        if (mg_http_fetch(c, &req, s_on_done, &slots[i]) == MG_E_OK)
            issued++;
    }
    bool all = s_wait_done(&w, issued, 8000);
    mg_http_client_free(c);
    int ok = 0;
    for (int i = 0; i < S_N; i++) {
        if (slots[i].done && slots[i].resp.err == MG_E_OK && slots[i].resp.status == 200 &&
            s_body_is(&slots[i].resp, "fast"))
            ok++;
        mg_http_out_resp_cleanup(&slots[i].resp);
    }
    s_waiter_cleanup(&w);
    int accepted = atomic_load(&s_srv.accepted);
    assert_true(all);
    assert_int_equal(issued, S_N);
    assert_int_equal(ok, S_N);
    assert_true(accepted < S_N); /* connections were reused */
}

static void test_http_sync_refused_on_own_thread(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct waiter w;
    s_waiter_init(&w);
    struct slot s = {.w = &w, .c = c};
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/fast")};
    bool issued = mg_http_fetch(c, &req, s_on_done, &s) == MG_E_OK;
    bool done = issued && s_wait_done(&w, 1, 5000);
    mg_http_client_free(c);
    s_waiter_cleanup(&w);
    enum mg_err outer = s.resp.err, inner = s.inner.err;
    mg_http_out_resp_cleanup(&s.resp);
    mg_http_out_resp_cleanup(&s.inner);
    /* no client at all */
    struct mg_http_out_resp none;
    mg_http_fetch_sync(NULL, &req, &none);
    enum mg_err enone = none.err;
    mg_http_out_resp_cleanup(&none);
    assert_true(done);
    assert_int_equal(outer, MG_E_OK);
    assert_int_equal(inner, MG_E_INTERNAL);
    assert_int_equal(enone, MG_E_INTERNAL);
    assert_int_not_equal(mg_http_fetch(NULL, &req, s_on_done, &s), MG_E_OK);
}

static void test_http_free_completes_in_flight(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct slot slots[4];
    memset(slots, 0, sizeof(slots));
    struct waiter w;
    s_waiter_init(&w);
    char url[128];
    struct mg_http_out_req req = {.url = s_url(url, sizeof(url), "/hang"), .timeout_ms = 20000};
    int issued = 0;
    for (int i = 0; i < 4; i++) {
        slots[i].w = &w;
        if (mg_http_fetch(c, &req, s_on_done, &slots[i]) == MG_E_OK)
            issued++;
    }
    for (int i = 0; i < 300 && atomic_load(&s_srv.hanging) < issued; i++)
        s_sleep_ms(10);
    int held = atomic_load(&s_srv.hanging);
    double t0 = s_now_ms();
    mg_http_client_free(c);
    double took = s_now_ms() - t0;
    int down = 0;
    for (int i = 0; i < 4; i++) {
        if (slots[i].done && slots[i].resp.err == MG_E_UPSTREAM &&
            strcmp(slots[i].resp.msg, "shutting down") == 0)
            down++;
        mg_http_out_resp_cleanup(&slots[i].resp);
    }
    int ndone = w.done;
    s_waiter_cleanup(&w);
    assert_int_equal(issued, 4);
    assert_int_equal(held, 4);
    assert_int_equal(ndone, 4);
    assert_int_equal(down, 4);
    assert_true(took < 2000);
}

static void test_http_slow_does_not_delay_fast(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    struct slot slow = {0}, fast = {0};
    struct waiter w;
    s_waiter_init(&w);
    slow.w = fast.w = &w;
    char u1[128], u2[128];
    struct mg_http_out_req rs = {.url = s_url(u1, sizeof(u1), "/slow")};
    struct mg_http_out_req rf = {.url = s_url(u2, sizeof(u2), "/fast")};
    double t0 = s_now_ms();
    int issued = (mg_http_fetch(c, &rs, s_on_done, &slow) == MG_E_OK) +
                 (mg_http_fetch(c, &rf, s_on_done, &fast) == MG_E_OK);
    bool all = s_wait_done(&w, issued, 5000);
    mg_http_client_free(c);
    s_waiter_cleanup(&w);
    bool ok = slow.resp.err == MG_E_OK && fast.resp.err == MG_E_OK &&
              s_body_is(&slow.resp, "slow") && s_body_is(&fast.resp, "fast");
    double fast_ms = fast.at - t0, slow_ms = slow.at - t0;
    mg_http_out_resp_cleanup(&slow.resp);
    mg_http_out_resp_cleanup(&fast.resp);
    assert_int_equal(issued, 2);
    assert_true(all);
    assert_true(ok);
    assert_true(slow_ms >= 650);
    assert_true(fast_ms < 300);
    assert_true(fast_ms + 400 < slow_ms);
}

/* https to a server that speaks plain HTTP: the TLS handshake fails, as a target failure */
static void test_http_tls_failure(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/hello", s_srv.port);
    struct mg_http_out_req req = {.url = url, .timeout_ms = 3000};
    struct mg_http_out_resp r, bundle;
    mg_http_fetch_sync(c, &req, &r);
    req.ca_file = "/nonexistent/ca.pem";
    mg_http_fetch_sync(c, &req, &bundle);
    mg_http_client_free(c);
    enum mg_err e = r.err, eb = bundle.err;
    bool to = r.timed_out;
    mg_http_out_resp_cleanup(&r);
    mg_http_out_resp_cleanup(&bundle);
    assert_int_equal(e, MG_E_UPSTREAM);
    assert_false(to);
    assert_int_equal(eb, MG_E_UPSTREAM);
}

static void test_http_localhost_and_head(void **state)
{
    (void)state;
    struct mg_http_client *c = s_client();
    char url[128];
    snprintf(url, sizeof(url), "http://localhost:%d/hello", s_srv.port);
    struct mg_http_out_req req = {.method = "HEAD", .url = url};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    mg_http_client_free(c);
    enum mg_err e = r.err;
    long st = r.status;
    size_t n = r.body.len;
    struct mg_slice v;
    bool has = mg_http_out_header(&r, "x-test", &v);
    mg_http_out_resp_cleanup(&r);
    /* localhost resolves to ::1 and 127.0.0.1; the server listens on the second */
    assert_int_equal(e, MG_E_OK);
    assert_int_equal(st, 200);
    assert_int_equal(n, 0);
    assert_true(has);
}

/* --- the outbound address policy ----------------------------------------------------------- */

static struct mg_http_client *s_client_policy(bool deny_local, const char *const *allow,
                                              size_t n_allow)
{
    struct mg_http_client *c = NULL;
    struct mg_errinfo ei = {0};
    struct mg_http_client_config cfg = {.deny_local = deny_local,
                                        .allow = allow,
                                        .n_allow = n_allow};
    if (mg_http_client_new_with(&c, &cfg, &ei) != MG_E_OK)
        return NULL;
    return c;
}

/* One GET; its error, status and message. */
static void s_get(struct mg_http_client *c, const char *url, enum mg_err *e, long *status,
                  char *msg, size_t cap)
{
    struct mg_http_out_req req = {.url = url, .connect_timeout_ms = 2000, .timeout_ms = 3000};
    struct mg_http_out_resp r;
    mg_http_fetch_sync(c, &req, &r);
    *e = r.err;
    *status = r.status;
    snprintf(msg, cap, "%s", r.msg);
    mg_http_out_resp_cleanup(&r);
}

static void test_http_policy_metadata_refused(void **state)
{
    (void)state;
    /* the default policy: link-local (instance metadata) and the like, in every spelling */
    struct mg_http_client *c = s_client_policy(false, NULL, 0);
    const char *urls[] = {"https://169.254.169.254/latest/meta-data/",
                          "https://[::ffff:169.254.169.254]/latest/meta-data/",
                          "https://[::ffff:a9fe:a9fe]:8443/",
                          "https://[fe80::1]/",
                          "https://0.0.0.0/",
                          "https://[::]/",
                          "https://224.0.0.1/"};
    const char *want[] = {"169.254.169.254",
                          "::ffff:169.254.169.254",
                          "::ffff:169.254.169.254",
                          "fe80::1",
                          "0.0.0.0",
                          "::",
                          "224.0.0.1"};
    enum { N = sizeof(urls) / sizeof(urls[0]) };
    enum mg_err e[N];
    long st[N];
    char msg[N][256];
    double t0 = s_now_ms();
    for (size_t i = 0; i < N; i++)
        s_get(c, urls[i], &e[i], &st[i], msg[i], sizeof(msg[i]));
    double took = s_now_ms() - t0;
    mg_http_client_free(c);
    for (size_t i = 0; i < N; i++) {
        char expect[160];
        snprintf(expect, sizeof(expect), "the address %s is not allowed for outbound requests",
                 want[i]);
        assert_int_equal(e[i], MG_E_UPSTREAM);
        assert_int_equal(st[i], 0);
        assert_string_equal(msg[i], expect);
    }
    assert_true(took < 1500); /* refused before connecting: no connect timeout ran */
}

static void test_http_policy_deny_local(void **state)
{
    (void)state;
    char u_ip[128], u_name[128], u_v6[128];
    snprintf(u_ip, sizeof(u_ip), "http://127.0.0.1:%d/hello", s_srv.port);
    snprintf(u_name, sizeof(u_name), "http://localhost:%d/hello", s_srv.port);
    snprintf(u_v6, sizeof(u_v6), "http://[::ffff:127.0.0.1]:%d/hello", s_srv.port);
    /* the default policy lets loopback through (local development) */
    struct mg_http_client *c = s_client_policy(false, NULL, 0);
    enum mg_err e0;
    long st0;
    char m0[256];
    s_get(c, u_ip, &e0, &st0, m0, sizeof(m0));
    mg_http_client_free(c);
    int accepted0 = atomic_load(&s_srv.accepted);
    /* deny_local refuses it, by literal, by name (localhost: ::1 and 127.0.0.1) and mapped */
    c = s_client_policy(true, NULL, 0);
    enum mg_err e[3];
    long st[3];
    char m[3][256];
    s_get(c, u_ip, &e[0], &st[0], m[0], sizeof(m[0]));
    s_get(c, u_name, &e[1], &st[1], m[1], sizeof(m[1]));
    s_get(c, u_v6, &e[2], &st[2], m[2], sizeof(m[2]));
    mg_http_client_free(c);
    int accepted1 = atomic_load(&s_srv.accepted);
    assert_int_equal(e0, MG_E_OK);
    assert_int_equal(st0, 200);
    assert_int_equal(accepted0, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(e[i], MG_E_UPSTREAM);
    assert_string_equal(m[0], "the address 127.0.0.1 is not allowed for outbound requests");
    assert_true(strcmp(m[1], "the address 127.0.0.1 is not allowed for outbound requests") == 0 ||
                strcmp(m[1], "the address ::1 is not allowed for outbound requests") == 0);
    assert_string_equal(m[2], "the address ::ffff:127.0.0.1 is not allowed for outbound requests");
    assert_int_equal(accepted1, 1); /* no connection was made */
}

static void test_http_policy_allow_rules(void **state)
{
    (void)state;
    char rule_addr[64], rule_name[64], u_ip[128], u_name[128];
    snprintf(rule_addr, sizeof(rule_addr), "127.0.0.1:%d", s_srv.port);
    snprintf(rule_name, sizeof(rule_name), "LocalHost:%d", s_srv.port);
    snprintf(u_ip, sizeof(u_ip), "http://127.0.0.1:%d/hello", s_srv.port);
    snprintf(u_name, sizeof(u_name), "http://localhost:%d/hello", s_srv.port);
    const char *by_addr[] = {"10.0.0.0/8", rule_addr};
    const char *by_name[] = {rule_name};
    const char *other_port[] = {"127.0.0.1:1", "127.0.0.0/8:80"};
    enum mg_err e[4];
    long st[4];
    char m[4][256];
    struct mg_http_client *c = s_client_policy(true, by_addr, 2);
    s_get(c, u_ip, &e[0], &st[0], m[0], sizeof(m[0]));
    s_get(c, u_name, &e[1], &st[1], m[1], sizeof(m[1])); /* the rule names the address */
    mg_http_client_free(c);
    c = s_client_policy(true, by_name, 1);
    s_get(c, u_name, &e[2], &st[2], m[2], sizeof(m[2]));
    s_get(c, u_ip, &e[3], &st[3], m[3], sizeof(m[3])); /* the rule names the host */
    mg_http_client_free(c);
    /* a malformed rule stops the client from starting, with the rule named */
    struct mg_http_client *bad = NULL;
    struct mg_errinfo ei = {0};
    struct mg_http_client_config cfg = {.deny_local = true, .allow = other_port, .n_allow = 2};
    enum mg_err eb = mg_http_client_new_with(&bad, &cfg, &ei);
    mg_http_client_free(bad);
    assert_int_equal(e[0], MG_E_OK);
    assert_int_equal(st[0], 200);
    assert_int_equal(e[1], MG_E_OK); /* ::1 refused, 127.0.0.1 allowed */
    assert_int_equal(st[1], 200);
    assert_int_equal(e[2], MG_E_OK);
    assert_int_equal(st[2], 200);
    assert_int_equal(e[3], MG_E_UPSTREAM);
    assert_string_equal(m[3], "the address 127.0.0.1 is not allowed for outbound requests");
    assert_int_equal(eb, MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "outbound allow rule '127.0.0.0/8:80'"));
}

/* The pre-request check runs on reused connections too: they still are reused, and pass. */
static void test_http_policy_reuse(void **state)
{
    (void)state;
    char rule[64], url[128];
    snprintf(rule, sizeof(rule), "127.0.0.1:%d", s_srv.port);
    const char *allow[] = {rule};
    struct mg_http_client *c = s_client_policy(true, allow, 1);
    enum mg_err e[3];
    long st[3];
    char m[3][256];
    for (int i = 0; i < 3; i++)
        s_get(c, s_url(url, sizeof(url), "/hello"), &e[i], &st[i], m[i], sizeof(m[i]));
    mg_http_client_free(c);
    int accepted = atomic_load(&s_srv.accepted);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(e[i], MG_E_OK);
        assert_int_equal(st[i], 200);
    }
    assert_int_equal(accepted, 1); /* one connection, reused twice */
}

/* The threads of this process (/proc/self/task). */
static int s_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Threads:", 8) == 0)
            n = (int)strtol(line + 8, NULL, 10);
    if (f)
        fclose(f);
    return n;
}

/* A client starts its I/O thread (and loads libcurl) at its first request, not at creation; one
 * that never sent anything stops and frees without one. */
static void test_http_client_starts_on_first_request(void **state)
{
    (void)state;
    int t0 = s_threads();
    struct mg_http_client *c = s_client();
    assert_non_null(c);
    int t_created = s_threads();
    char url[128];
    struct mg_http_out_req req = {.method = "GET", .url = s_url(url, sizeof(url), "/hello")};
    struct mg_http_out_resp r, again;
    mg_http_fetch_sync(c, &req, &r);
    int t_used = s_threads();
    mg_http_fetch_sync(c, &req, &again);
    int t_again = s_threads();
    bool ok = r.err == MG_E_OK && r.status == 200 && s_body_is(&r, "hello") &&
              again.err == MG_E_OK && s_body_is(&again, "hello");
    mg_http_out_resp_cleanup(&r);
    mg_http_out_resp_cleanup(&again);
    mg_http_client_free(c);
    int t_freed = s_threads();

    /* never used: shut down, then refused */
    struct mg_http_client *idle = s_client();
    assert_non_null(idle);
    mg_http_client_shutdown(idle);
    bool stopped = mg_http_client_stopped(idle);
    struct mg_http_out_resp late;
    mg_http_fetch_sync(idle, &req, &late);
    enum mg_err late_err = late.err;
    mg_http_out_resp_cleanup(&late);
    mg_http_client_free(idle);
    struct mg_http_client *unused = s_client();
    mg_http_client_free(unused); /* no request, no shutdown: nothing to join */

    assert_true(t0 > 0);
    assert_int_equal(t_created, t0);
    assert_true(ok);
    /* the I/O thread (the test server may run one of its own per connection) */
    assert_true(t_used >= t0 + 1);
    assert_true(t_again == t_used);
    assert_true(t_freed < t_used);
    assert_true(stopped);
    assert_int_equal(late_err, MG_E_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http_get_headers_status_body, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_post_body_intact, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_404_is_an_answer, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_response_over_limit, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_timeout, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_connection_refused, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_refused_before_sending, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_redirect_not_followed, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_concurrent, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_sync_refused_on_own_thread, s_srv_start,
                                        s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_free_completes_in_flight, s_srv_start,
                                        s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_slow_does_not_delay_fast, s_srv_start,
                                        s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_tls_failure, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_localhost_and_head, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_policy_metadata_refused, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_policy_deny_local, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_policy_allow_rules, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_policy_reuse, s_srv_start, s_srv_stop),
        cmocka_unit_test_setup_teardown(test_http_client_starts_on_first_request, s_srv_start,
                                        s_srv_stop),
    };
    return MG_RUN_TESTS(tests);
}
