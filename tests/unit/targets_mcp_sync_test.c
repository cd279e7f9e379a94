/* tests/unit/targets_mcp_sync_test.c: the synchronization of an MCP-server target
 * (src/targets/mcp_client_sync.c) through the real outbound client against a small MCP server on
 * 127.0.0.1 that the test runs, with credentials that the server refuses (401): the credentials
 * are fetched anew exactly once, for the retry, and the requests after it reuse the fresh ones
 * (asking anew on every later request would fetch an OAuth token per request). */
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
#include "targets/mcp_client.h"
#include "unit/leaks.h"

/* ---- an MCP server ------------------------------------------------------------------------- */

#define S_MAX_REQ 16384
#define S_MAX_SEEN 32

struct upstream {
    int lfd, port;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock;
    char refused[32]; /* an Authorization value answered with 401 ("" refuses none) */
    bool refuse_all;  /* 401 for every request */
    int n_seen;
    char seen[S_MAX_SEEN][64]; /* "METHOD authorization" of each request, in order */
};
static struct upstream s_up;

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

static void s_answer(int fd, int status, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "%sConnection: close\r\n\r\n",
                     status, strlen(body), extra);
    s_send_all(fd, head, (size_t)n);
    s_send_all(fd, body, strlen(body));
}

static void s_serve(int fd)
{
    char buf[S_MAX_REQ + 1];
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
    *end = 0;
    const char *body = end + 4;
    char auth[32] = "";
    const char *a = strcasestr(buf, "\nauthorization: ");
    if (a) {
        a += 16;
        size_t n = strcspn(a, "\r\n");
        snprintf(auth, sizeof(auth), "%.*s", (int)(n < sizeof(auth) - 1 ? n : sizeof(auth) - 1), a);
    }
    bool del = strncmp(buf, "DELETE ", 7) == 0;
    pthread_mutex_lock(&s_up.lock);
    if (s_up.n_seen < S_MAX_SEEN)
        snprintf(s_up.seen[s_up.n_seen++], sizeof(s_up.seen[0]), "%s %s", del ? "DELETE" : "POST",
                 auth);
    bool refuse = s_up.refuse_all || (s_up.refused[0] && strcmp(auth, s_up.refused) == 0);
    pthread_mutex_unlock(&s_up.lock);
    if (refuse) {
        s_answer(fd, 401, "", "{\"error\":\"invalid_token\"}");
        return;
    }
    if (del) {
        s_answer(fd, 200, "", "");
        return;
    }
    json_t *req = json_loads(body, 0, NULL);
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *id = json_object_get(req, "id");
    char idb[64] = "";
    size_t idn = id ? json_dumpb(id, idb, sizeof(idb) - 1, JSON_ENCODE_ANY) : 0;
    const char *ids = idn > 0 && idn < sizeof(idb) ? idb : NULL;
    char out[1024];
    if (method && strcmp(method, "initialize") == 0 && ids) {
        snprintf(
            out, sizeof(out),
            "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"protocolVersion\":\"2025-06-18\","
            "\"capabilities\":{\"tools\":{}},\"serverInfo\":{\"name\":\"u\",\"version\":\"1\"}}}",
            ids);
        s_answer(fd, 200, "Mcp-Session-Id: sess-1\r\n", out);
    } else if (method && strcmp(method, "tools/list") == 0 && ids) {
        snprintf(out, sizeof(out),
                 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"tools\":[{\"name\":\"ping\","
                 "\"inputSchema\":{\"type\":\"object\"}}]}}",
                 ids);
        s_answer(fd, 200, "", out);
    } else if (method && ids == NULL) {
        s_answer(fd, 202, "", "");
    } else {
        s_answer(fd, 400, "", "{}");
    }
    json_decref(req);
}

static void *s_acceptor(void *arg)
{
    (void)arg;
    while (!atomic_load(&s_up.stop)) {
        struct pollfd p = {s_up.lfd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            continue;
        int fd = accept(s_up.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        s_serve(fd);
        close(fd);
    }
    return NULL;
}

static int s_up_start(void **state)
{
    (void)state;
    memset(&s_up, 0, sizeof(s_up));
    pthread_mutex_init(&s_up.lock, NULL);
    s_up.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s_up.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (s_up.lfd < 0 || bind(s_up.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s_up.lfd, 64) != 0 || getsockname(s_up.lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    s_up.port = ntohs(a.sin_port);
    return pthread_create(&s_up.thread, NULL, s_acceptor, NULL) == 0 ? 0 : -1;
}

static int s_up_stop(void **state)
{
    (void)state;
    atomic_store(&s_up.stop, 1);
    pthread_join(s_up.thread, NULL);
    close(s_up.lfd);
    pthread_mutex_destroy(&s_up.lock);
    return 0;
}

/* ---- credentials: "tok-N", N counting the refreshes ---------------------------------------- */

struct creds {
    int token;     /* the current token's number */
    int calls;     /* requests that asked for credentials */
    int refreshes; /* of which with refresh */
};

static enum mg_err s_cred(void *arg, bool refresh, struct mg_target_req *req, char *msg, size_t cap)
{
    (void)msg;
    (void)cap;
    struct creds *c = arg;
    c->calls++;
    if (refresh) {
        c->refreshes++;
        c->token++;
    }
    char v[32];
    snprintf(v, sizeof(v), "tok-%d", c->token);
    return mg_target_req_header(req, "Authorization", mg_slice_cstr(v));
}

static enum mg_err s_sync(struct creds *c, json_t **tools, char *reason, size_t cap)
{
    struct mg_http_client *http = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_http_client_new(&http, &ei), MG_E_OK);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/mcp", s_up.port);
    struct mg_mcp_client_sync s = {
        .http = http,
        .endpoint = endpoint,
        .cred = s_cred,
        .cred_arg = c,
        .lim = {.max_tools = 1000, .max_name = 256, .target_name_len = 4},
        .total_ms = 10000,
        .step_ms = 5000,
    };
    enum mg_err e = mg_mcp_client_sync_tools(&s, tools, reason, cap);
    mg_http_client_free(http);
    return e;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_sync_refreshes_credentials_once(void **state)
{
    (void)state;
    snprintf(s_up.refused, sizeof(s_up.refused), "tok-1"); /* revoked upstream */
    struct creds c = {.token = 1};
    json_t *tools = NULL;
    char reason[1024] = "";
    assert_int_equal(s_sync(&c, &tools, reason, sizeof(reason)), MG_E_OK);
    assert_non_null(tools);
    assert_int_equal(json_array_size(tools), 1);
    json_decref(tools);
    assert_int_equal(c.refreshes, 1);
    assert_int_equal(c.token, 2);
    /* initialize refused, initialize again, notifications/initialized, tools/list, DELETE */
    assert_int_equal(s_up.n_seen, 5);
    assert_string_equal(s_up.seen[0], "POST tok-1");
    for (int i = 1; i < 4; i++)
        assert_string_equal(s_up.seen[i], "POST tok-2");
    assert_string_equal(s_up.seen[4], "DELETE tok-2");
    assert_int_equal(c.calls, 5);
}

static void test_sync_credentials_refused_twice(void **state)
{
    (void)state;
    s_up.refuse_all = true;
    struct creds c = {.token = 1};
    json_t *tools = NULL;
    char reason[1024] = "";
    assert_int_not_equal(s_sync(&c, &tools, reason, sizeof(reason)), MG_E_OK);
    assert_null(tools);
    assert_non_null(strstr(reason, "answered initialize with HTTP status 401"));
    assert_int_equal(c.refreshes, 1); /* one retry with fresh credentials, no more */
    assert_int_equal(s_up.n_seen, 2);
    assert_string_equal(s_up.seen[0], "POST tok-1");
    assert_string_equal(s_up.seen[1], "POST tok-2");
}

static void test_sync_accepted_credentials_never_refreshed(void **state)
{
    (void)state;
    struct creds c = {.token = 7};
    json_t *tools = NULL;
    char reason[1024] = "";
    assert_int_equal(s_sync(&c, &tools, reason, sizeof(reason)), MG_E_OK);
    json_decref(tools);
    assert_int_equal(c.refreshes, 0);
    assert_int_equal(s_up.n_seen, 4);
    for (int i = 0; i < 4; i++)
        assert_non_null(strstr(s_up.seen[i], " tok-7"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_refreshes_credentials_once, s_up_start,
                                        s_up_stop),
        cmocka_unit_test_setup_teardown(test_sync_credentials_refused_twice, s_up_start, s_up_stop),
        cmocka_unit_test_setup_teardown(test_sync_accepted_credentials_never_refreshed, s_up_start,
                                        s_up_stop),
    };
    return MG_RUN_TESTS(tests);
}
