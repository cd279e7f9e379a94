/* src/http/client.c: outbound HTTP on libcurl's multi interface, one I/O thread per client.
 *
 * libcurl is loaded (curl_load.h) and the I/O thread started by the first request, under the
 * client's mutex (s_start_io), so that a server that never calls an upstream maps neither; after
 * that, a request pays one flag test for it.
 *
 * mg_http_fetch copies the request into one block and queues it under the client's mutex, then
 * wakes the I/O thread (curl_multi_wakeup). The thread takes the queue, checks each request
 * (URL, scheme, loopback rule, headers), builds its easy handle and adds it to the one multi
 * handle, whose connection cache is shared by every request. A finished transfer (or one refused
 * before sending) completes on the I/O thread: its callback runs there, outside the mutex.
 *
 * Plain http is allowed only when the URL's host is a loopback literal (127.0.0.0/8, [::1]) or
 * "localhost" (which libcurl itself resolves to loopback, never through DNS); and, whatever the
 * name resolved to, an open-socket callback refuses to connect a plain-http transfer to an
 * address that is not loopback. Proxies from the environment are not used.
 *
 * The outbound address policy (http/egress.h) is enforced in the same open-socket callback, on
 * the address libcurl is about to connect to (after resolution: every address of a name and every
 * happy-eyeballs attempt passes there), and again in the pre-request callback, which runs for a
 * new connection and for one reused from the cache alike. The policy is the client's, fixed at
 * creation, and depends only on the address, its port and the URL's host, which libcurl's reuse
 * key includes: a cached connection passed the same check the new request would get.
 *
 * Operator CA bundles (struct mg_http_client_config) are read at creation into OpenSSL
 * X509_STOREs: one with the system store (libcurl's default CA file and path) plus the bundles
 * for every host, and one per host named by a bundle with those plus the host's own. A transfer
 * to https whose request names no ca_file gets the store for its URL's host (or the every-host
 * one) through CURLOPT_SSL_CTX_FUNCTION, which puts it on the connection's SSL_CTX in place of
 * the one libcurl loaded (which may be libcurl's shared CA cache: it is never changed). The
 * stores are immutable once built and shared by reference. The choice depends on the host name
 * alone, so a connection or TLS session libcurl reuses for a host was verified with the same
 * store; a request with its own ca_file differs in libcurl's CA file setting, which libcurl
 * compares before reusing either. */
#include "http/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/curl_load.h"
#include "http/egress.h"

#define S_MAX_URL 8192                     /* bytes of a URL */
#define S_MAX_METHOD 32                    /* bytes of a method name */
#define S_MAX_HEADER_LINE (16u * 1024)     /* one "Name: value" request line */
#define S_MAX_REQ_BODY (64u * 1024 * 1024) /* request body bytes */
#define S_MAX_RESP_HEADERS (64u * 1024)    /* response header bytes (final response) */
#define S_MAX_HOST_CONNECTIONS 32          /* per upstream host */
#define S_MAX_TOTAL_CONNECTIONS 512        /* all upstreams */
#define S_MAX_CACHED_CONNECTIONS 128       /* idle connections kept for reuse */
#define S_MAX_CA_FILE (16u * 1024 * 1024)  /* bytes of an operator CA bundle */
#define S_MAX_CA_CERTS 10000               /* certificates in one bundle */

struct s_xfer {
    struct s_xfer *next, *prev; /* the queue, then the in-flight list */
    struct mg_http_client *c;
    mg_http_out_cb cb;
    void *arg;
    /* the request's copy: strings live in the same block, after the struct */
    const char *method, *url, *ca_file;
    const char *headers; /* n_headers NUL-terminated lines, one after another */
    size_t n_headers;
    const uint8_t *body;
    size_t body_len;
    bool send_body;
    long connect_ms, timeout_ms;
    size_t max_response;
    /* the transfer */
    CURL *easy;
    CURLU *cu;
    struct curl_slist *slist;
    X509_STORE *ca_store; /* the operator's store for the URL's host (the client's), or NULL */
    char *host;           /* the URL's host (curl's string), for the address policy */
    bool plain_http;      /* the open-socket callback only connects to loopback */
    bool refused_peer;    /* ... and it refused one */
    char denied[INET6_ADDRSTRLEN + 8]; /* an address the policy refused, or "" */
    enum mg_err fail; /* set by a callback that stopped the transfer (TOO_LARGE, NOMEM) */
    struct mg_http_out_resp resp;
    char errbuf[CURL_ERROR_SIZE];
};

struct mg_http_client {
    CURLM *multi;     /* NULL until the first request (s_start_io) */
    pthread_t thread; /* valid once started */
    pthread_mutex_t mu;
    /* under mu */
    struct s_xfer *q_head, *q_tail;
    size_t n_total; /* queued + in flight + completing */
    bool stopping;
    bool joined;  /* the I/O thread has ended (mg_http_client_shutdown) */
    bool started; /* libcurl loaded, multi and thread created (at the first request) */
    bool failed;  /* ... and that failed for good (libcurl cannot be loaded) */
    /* the I/O thread's own */
    struct s_xfer *active; /* added to the multi handle */
    /* operator CA stores, immutable after creation */
    X509_STORE *ca_all; /* system + every-host bundles; NULL without any */
    struct s_ca_host *ca_hosts;
    size_t n_ca_hosts;
    struct mg_http_egress egress; /* the address policy, immutable after creation */
};

struct s_ca_host {
    char host[MG_HTTP_CLIENT_MAX_CA_HOST + 1];
    X509_STORE *store; /* system + every-host bundles + this host's */
};

/* --- the response ------------------------------------------------------------------------- */

static void s_resp_init(struct mg_http_out_resp *r, size_t max_response)
{
    memset(r, 0, sizeof(*r));
    mg_buf_init(&r->headers, S_MAX_RESP_HEADERS);
    mg_buf_init(&r->body, max_response);
}

static void s_resp_fail(struct mg_http_out_resp *r, enum mg_err err, const char *msg)
{
    r->err = err;
    if (!mg_fmt(r->msg, sizeof(r->msg), "%s", msg))
        r->msg[0] = '\0';
}

void mg_http_out_resp_cleanup(struct mg_http_out_resp *r)
{
    if (r == NULL)
        return;
    mg_buf_cleanup(&r->headers);
    mg_buf_cleanup(&r->body);
}

bool mg_http_out_header(const struct mg_http_out_resp *r, const char *lname, struct mg_slice *v)
{
    *v = mg_slice_make("", 0);
    if (r == NULL || lname == NULL)
        return false;
    struct mg_slice rest = mg_buf_slice(&r->headers), line;
    while (mg_slice_split(&rest, '\n', &line)) {
        if (line.len > 0 && line.ptr[line.len - 1] == '\r')
            line.len--;
        long colon = mg_slice_find(line, ':');
        if (colon <= 0)
            continue;
        if (mg_slice_ieq_cstr(mg_slice_make(line.ptr, (size_t)colon), lname)) {
            *v = mg_slice_trim(mg_slice_sub(line, (size_t)colon + 1, line.len - (size_t)colon - 1));
            return true;
        }
    }
    return false;
}

/* --- curl callbacks (on the I/O thread) ---------------------------------------------------- */

static size_t s_on_body(char *data, size_t size, size_t n, void *user)
{
    struct s_xfer *x = user;
    size_t len = size * n;
    enum mg_err e = mg_buf_append(&x->resp.body, data, len);
    if (e) {
        x->fail = e; /* TOO_LARGE past max_response, or NOMEM: the transfer stops */
        return 0;
    }
    return len;
}

/* One header line of any response (1xx, the final one, trailers). A status line starts the
 * response's set anew, so only the final response's headers remain. */
static size_t s_on_header(char *data, size_t size, size_t n, void *user)
{
    struct s_xfer *x = user;
    size_t len = size * n;
    struct mg_slice line = mg_slice_make(data, len);
    if (mg_slice_starts_with(line, "HTTP/")) {
        mg_buf_reset(&x->resp.headers);
        return len;
    }
    while (line.len > 0 && (line.ptr[line.len - 1] == '\n' || line.ptr[line.len - 1] == '\r'))
        line.len--;
    long colon = mg_slice_find(line, ':');
    if (colon <= 0 || line.ptr[0] == ' ' || line.ptr[0] == '\t')
        return len; /* the blank line ending the block, a folded continuation, junk */
    struct mg_buf *h = &x->resp.headers;
    size_t start = h->len;
    enum mg_err e = mg_buf_append_slice(h, line);
    if (!e)
        e = mg_buf_append(h, "\r\n", 2);
    if (e) {
        x->fail = e;
        return 0;
    }
    for (size_t i = start; i < start + (size_t)colon; i++)
        if (h->ptr[i] >= 'A' && h->ptr[i] <= 'Z')
            h->ptr[i] = (uint8_t)(h->ptr[i] - 'A' + 'a');
    return len;
}

static bool s_addr_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

/* Notes an address the policy refused (the first one: the one the caller is told about). */
static void s_deny(struct s_xfer *x, const char *text)
{
    MG_LOG(MG_LOG_DEBUG, MG_SUB_HTTP,
           "outbound: refused a connection to %s (the outbound address policy)", text);
    if (x->denied[0] == '\0' && !mg_fmt(x->denied, sizeof(x->denied), "%s", text))
        x->denied[0] = '\0';
}

/* Every socket libcurl opens for a transfer (each address of a name, each happy-eyeballs
 * attempt) passes here first, with the address it is about to connect to. */
static curl_socket_t s_open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct s_xfer *x = user;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    if (!mg_http_egress_permits(&x->c->egress, &a->addr, x->host)) {
        char text[INET6_ADDRSTRLEN] = "an address of another family";
        const void *ip = NULL;
        if (a->addr.sa_family == AF_INET)
            ip = &((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
        else if (a->addr.sa_family == AF_INET6)
            ip = &((const struct sockaddr_in6 *)(const void *)&a->addr)->sin6_addr;
        if (ip && inet_ntop(a->addr.sa_family, ip, text, sizeof(text)) == NULL)
            mg_memcpy(text, "?", 2);
        s_deny(x, text);
        return CURL_SOCKET_BAD;
    }
    if (x->plain_http && !s_addr_loopback(&a->addr)) {
        x->refused_peer = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* Before each request is sent on a connection, new or reused: the peer is checked again, so no
 * path to a connection (libcurl's connection cache included) skips the policy. */
static int s_prereq(void *user, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
    (void)local_ip;
    (void)local_port;
    struct s_xfer *x = user;
    if (!mg_http_egress_permits_text(&x->c->egress, peer_ip, peer_port, x->host)) {
        s_deny(x, peer_ip ? peer_ip : "?");
        return CURL_PREREQFUNC_ABORT;
    }
    if (x->plain_http) {
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
        bool ok = false;
        if (inet_pton(AF_INET, peer_ip, &s4.sin_addr) == 1)
            ok = s_addr_loopback((const struct sockaddr *)&s4);
        else if (inet_pton(AF_INET6, peer_ip, &s6.sin6_addr) == 1)
            ok = s_addr_loopback((const struct sockaddr *)&s6);
        if (!ok) {
            x->refused_peer = true;
            return CURL_PREREQFUNC_ABORT;
        }
    }
    return CURL_PREREQFUNC_OK;
}

/* --- checks and set-up (on the I/O thread) ------------------------------------------------- */

static bool s_host_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    size_t n = strlen(host);
    if (n < 3 || n > 64 || host[0] != '[' || host[n - 1] != ']')
        return false;
    char inner[64];
    mg_memcpy(inner, host + 1, n - 2);
    inner[n - 2] = '\0';
    struct in6_addr a6;
    if (inet_pton(AF_INET6, inner, &a6) != 1)
        return false;
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

/* The operator's store for a URL host, or NULL: the system store. */
static X509_STORE *s_ca_for_host(const struct mg_http_client *c, const char *host)
{
    for (size_t i = 0; i < c->n_ca_hosts; i++)
        if (strcasecmp(c->ca_hosts[i].host, host) == 0)
            return c->ca_hosts[i].store;
    return c->ca_all;
}

/* CURLOPT_SSL_CTX_FUNCTION: the connection verifies its peer against the operator's store. */
static CURLcode s_ssl_ctx(CURL *easy, void *ssl_ctx, void *user)
{
    (void)easy;
    X509_STORE *store = user;
    if (!X509_STORE_up_ref(store))
        return CURLE_OUT_OF_MEMORY;
    SSL_CTX_set_cert_store(ssl_ctx, store); /* drops the SSL_CTX's reference to the old one */
    return CURLE_OK;
}

/* Parses and checks the URL into x->cu; on refusal, resp gets MG_E_INVALID. */
static enum mg_err s_check_url(struct s_xfer *x)
{
    struct mg_http_out_resp *r = &x->resp;
    x->cu = g_mg_curl.url();
    if (x->cu == NULL)
        return MG_E_NOMEM;
    CURLUcode uc = g_mg_curl.url_set(x->cu, CURLUPART_URL, x->url, 0);
    if (uc == CURLUE_OUT_OF_MEMORY)
        return MG_E_NOMEM;
    if (uc != CURLUE_OK) {
        s_resp_fail(r, MG_E_INVALID, "malformed URL");
        return MG_E_INVALID;
    }
    char *part = NULL;
    if (g_mg_curl.url_get(x->cu, CURLUPART_USER, &part, 0) == CURLUE_OK ||
        g_mg_curl.url_get(x->cu, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK ||
        g_mg_curl.url_get(x->cu, CURLUPART_OPTIONS, &part, 0) == CURLUE_OK) {
        g_mg_curl.free(part);
        s_resp_fail(r, MG_E_INVALID, "URLs with user information are refused");
        return MG_E_INVALID;
    }
    if (g_mg_curl.url_get(x->cu, CURLUPART_SCHEME, &part, 0) != CURLUE_OK) {
        s_resp_fail(r, MG_E_INVALID, "URL without a scheme");
        return MG_E_INVALID;
    }
    bool https = strcasecmp(part, "https") == 0, http = strcasecmp(part, "http") == 0;
    g_mg_curl.free(part);
    if (!https && !http) {
        s_resp_fail(r, MG_E_INVALID, "only http and https URLs are allowed");
        return MG_E_INVALID;
    }
    if (g_mg_curl.url_get(x->cu, CURLUPART_HOST, &part, 0) != CURLUE_OK) {
        s_resp_fail(r, MG_E_INVALID, "URL without a host");
        return MG_E_INVALID;
    }
    bool loopback = s_host_loopback(part);
    x->ca_store = s_ca_for_host(x->c, part);
    x->host = part; /* freed with the transfer */
    if (http && !loopback) {
        s_resp_fail(r, MG_E_INVALID, "plain http is allowed only to a loopback address; use https");
        return MG_E_INVALID;
    }
    x->plain_http = http;
    return MG_E_OK;
}

static bool s_token(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (n >= max || ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return n > 0;
}

/* A header line is "Name: value" with a token name and no control characters (no CR/LF that
 * would smuggle another header); Host and Content-Length come from the URL and the body. */
static enum mg_err s_check_header(const char *line, bool *has_ctype, bool *has_expect)
{
    const char *colon = strchr(line, ':');
    size_t n = strlen(line);
    if (colon == NULL || colon == line || n > S_MAX_HEADER_LINE)
        return MG_E_INVALID;
    for (const char *p = line; p < colon; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return MG_E_INVALID;
    }
    for (const char *p = colon + 1; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return MG_E_INVALID;
    }
    struct mg_slice name = mg_slice_make(line, (size_t)(colon - line));
    if (mg_slice_ieq_cstr(name, "host") || mg_slice_ieq_cstr(name, "content-length") ||
        mg_slice_ieq_cstr(name, "transfer-encoding"))
        return MG_E_INVALID;
    if (mg_slice_ieq_cstr(name, "content-type"))
        *has_ctype = true;
    if (mg_slice_ieq_cstr(name, "expect"))
        *has_expect = true;
    return MG_E_OK;
}

static enum mg_err s_append_slist(struct s_xfer *x, const char *line)
{
    struct curl_slist *s = g_mg_curl.slist_append(x->slist, line);
    if (s == NULL)
        return MG_E_NOMEM;
    x->slist = s;
    return MG_E_OK;
}

static enum mg_err s_build_headers(struct s_xfer *x)
{
    bool has_ctype = false, has_expect = false;
    const char *h = x->headers;
    for (size_t i = 0; i < x->n_headers; i++) {
        if (s_check_header(h, &has_ctype, &has_expect)) {
            s_resp_fail(&x->resp, MG_E_INVALID, "a request header is malformed or not allowed");
            return MG_E_INVALID;
        }
        MG_TRY(s_append_slist(x, h));
        h += strlen(h) + 1;
    }
    /* no "Expect: 100-continue" wait before a body; no form content type curl would invent */
    if (!has_expect)
        MG_TRY(s_append_slist(x, "Expect:"));
    if (x->send_body && !has_ctype)
        MG_TRY(s_append_slist(x, "Content-Type:"));
    return MG_E_OK;
}

/* libcurl's options are variadic: the argument must have the type the option's number range
 * says (curl.h's CURLOPTTYPE_*), a long, an object or function pointer, or a curl_off_t. curl.h
 * checks that under GCC through its curl_easy_setopt macro, which a call through g_mg_curl does
 * not pass: the same check, at compile time, for the easy and multi options set here. */
#define S_OPT_TYPE_OK(opt, val)                                                                    \
    ((opt) < CURLOPTTYPE_OBJECTPOINT     ? _Generic((val), long : 1, default : 0)                  \
     : (opt) < CURLOPTTYPE_OFF_T         ? __builtin_classify_type(val) == 5 /* a pointer */       \
     : (opt) < CURLOPTTYPE_OFF_T + 10000 ? _Generic((val), curl_off_t : 1, default : 0)            \
                                         : 0)

#define S_SET(opt, val)                                                                            \
    do {                                                                                           \
        _Static_assert(S_OPT_TYPE_OK(opt, val), "wrong argument type for " #opt);                  \
        if (g_mg_curl.easy_setopt(x->easy, (opt), (val)) != CURLE_OK)                              \
            return MG_E_INTERNAL;                                                                  \
    } while (0)

static enum mg_err s_build_easy(struct s_xfer *x)
{
    x->easy = g_mg_curl.easy_init();
    if (x->easy == NULL)
        return MG_E_NOMEM;
    S_SET(CURLOPT_PRIVATE, (void *)x);
    S_SET(CURLOPT_CURLU, x->cu);
    S_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    S_SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    S_SET(CURLOPT_FOLLOWLOCATION, 0L);
    S_SET(CURLOPT_NOSIGNAL, 1L);
    S_SET(CURLOPT_PROXY, ""); /* no proxy from the environment */
    S_SET(CURLOPT_CONNECTTIMEOUT_MS, x->connect_ms);
    S_SET(CURLOPT_TIMEOUT_MS, x->timeout_ms);
    S_SET(CURLOPT_SSL_VERIFYPEER, 1L);
    S_SET(CURLOPT_SSL_VERIFYHOST, 2L);
    if (x->ca_file) {
        S_SET(CURLOPT_CAINFO, x->ca_file);
    } else if (x->ca_store && !x->plain_http) {
        S_SET(CURLOPT_SSL_CTX_FUNCTION, s_ssl_ctx);
        S_SET(CURLOPT_SSL_CTX_DATA, (void *)x->ca_store);
    }
    S_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_response);
    S_SET(CURLOPT_WRITEFUNCTION, s_on_body);
    S_SET(CURLOPT_WRITEDATA, (void *)x);
    S_SET(CURLOPT_HEADERFUNCTION, s_on_header);
    S_SET(CURLOPT_HEADERDATA, (void *)x);
    S_SET(CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    S_SET(CURLOPT_OPENSOCKETDATA, (void *)x);
    S_SET(CURLOPT_PREREQFUNCTION, s_prereq);
    S_SET(CURLOPT_PREREQDATA, (void *)x);
    S_SET(CURLOPT_ERRORBUFFER, x->errbuf);
    S_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    S_SET(CURLOPT_HTTPHEADER, x->slist);
    if (strcmp(x->method, "HEAD") == 0) {
        S_SET(CURLOPT_NOBODY, 1L);
    } else if (x->send_body) {
        S_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        S_SET(CURLOPT_POSTFIELDS, x->body_len ? (const char *)x->body : "");
        if (strcmp(x->method, "POST") != 0)
            S_SET(CURLOPT_CUSTOMREQUEST, x->method);
    } else if (strcmp(x->method, "GET") == 0) {
        S_SET(CURLOPT_HTTPGET, 1L);
    } else {
        S_SET(CURLOPT_CUSTOMREQUEST, x->method);
    }
    return MG_E_OK;
}

#undef S_SET

/* --- completion (on the I/O thread) -------------------------------------------------------- */

static void s_list_remove(struct mg_http_client *c, struct s_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->active = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->next = x->prev = NULL;
}

/* Runs the callback, frees the transfer and gives its place back. */
static void s_complete(struct mg_http_client *c, struct s_xfer *x)
{
    if (x->easy) {
        g_mg_curl.easy_cleanup(x->easy);
        x->easy = NULL;
    }
    g_mg_curl.slist_free_all(x->slist);
    g_mg_curl.url_cleanup(x->cu);
    g_mg_curl.free(x->host);
    struct mg_http_out_resp resp = x->resp; /* moved: the callee owns the buffers */
    mg_http_out_cb cb = x->cb;
    void *arg = x->arg;
    mg_free(x);
    cb(arg, &resp);
    pthread_mutex_lock(&c->mu);
    c->n_total--;
    pthread_mutex_unlock(&c->mu);
}

static void s_fill_result(struct s_xfer *x, CURLcode rc)
{
    struct mg_http_out_resp *r = &x->resp;
    long status = 0;
    (void)g_mg_curl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK) {
        r->err = MG_E_OK;
        r->status = status;
        return;
    }
    /* a failed transfer hands over no partial answer */
    mg_buf_cleanup(&r->body);
    mg_buf_cleanup(&r->headers);
    r->status = 0;
    if (x->fail == MG_E_TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED) {
        if (!mg_fmt(r->msg, sizeof(r->msg),
                    "the response is over its limit (%zu body bytes, %u header bytes)",
                    x->max_response, S_MAX_RESP_HEADERS))
            r->msg[0] = '\0';
        r->err = MG_E_TOO_LARGE;
        return;
    }
    if (x->fail == MG_E_NOMEM || rc == CURLE_OUT_OF_MEMORY) {
        s_resp_fail(r, MG_E_NOMEM, "out of memory");
        return;
    }
    r->err = MG_E_UPSTREAM;
    if (x->denied[0]) {
        if (!mg_fmt(r->msg, sizeof(r->msg), "the address %s is not allowed for outbound requests",
                    x->denied))
            r->msg[0] = '\0';
        return;
    }
    if (x->refused_peer) {
        s_resp_fail(r, MG_E_INVALID, "plain http resolved to an address that is not loopback");
        return;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        r->timed_out = true;
        curl_off_t connected = 0;
        (void)g_mg_curl.easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &connected);
        bool connecting = connected == 0 && x->connect_ms < x->timeout_ms;
        if (!mg_fmt(r->msg, sizeof(r->msg), "%s after %ld ms",
                    connecting ? "connect timed out" : "timed out",
                    connecting ? x->connect_ms : x->timeout_ms))
            r->msg[0] = '\0';
        return;
    }
    long oserr = 0;
    (void)g_mg_curl.easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &oserr);
    if (rc == CURLE_COULDNT_CONNECT && oserr == ECONNREFUSED) {
        s_resp_fail(r, MG_E_UPSTREAM, "connection refused");
        return;
    }
    const char *what = g_mg_curl.easy_strerror(rc);
    bool tls = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
               rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM;
    /* curl's own detail names hosts, never queries; only TLS failures need it */
    if (!tls || x->errbuf[0] == '\0' || !mg_fmt(r->msg, sizeof(r->msg), "%s: %s", what, x->errbuf))
        s_resp_fail(r, MG_E_UPSTREAM, what);
}

static void s_start(struct mg_http_client *c, struct s_xfer *x)
{
    enum mg_err e = x->resp.err;
    if (!e)
        e = s_check_url(x);
    if (!e)
        e = s_build_headers(x);
    if (!e)
        e = s_build_easy(x);
    if (!e && g_mg_curl.multi_add_handle(c->multi, x->easy) != CURLM_OK)
        e = MG_E_INTERNAL;
    if (e) {
        if (x->resp.err == MG_E_OK)
            s_resp_fail(&x->resp, e,
                        e == MG_E_NOMEM ? "out of memory" : "cannot set up the transfer");
        s_complete(c, x);
        return;
    }
    x->prev = NULL;
    x->next = c->active;
    if (c->active)
        c->active->prev = x;
    c->active = x;
}

static void s_read_done(struct mg_http_client *c)
{
    CURLMsg *m;
    int left = 0;
    while ((m = g_mg_curl.multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct s_xfer *x = NULL;
        (void)g_mg_curl.easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result; /* m is invalid after remove_handle */
        (void)g_mg_curl.multi_remove_handle(c->multi, x->easy);
        s_list_remove(c, x);
        s_fill_result(x, rc);
        s_complete(c, x);
    }
}

static void *s_thread(void *arg)
{
    struct mg_http_client *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        struct s_xfer *q = c->q_head;
        c->q_head = c->q_tail = NULL;
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        while (q) {
            struct s_xfer *x = q;
            q = q->next;
            x->next = NULL;
            if (stopping) {
                s_resp_fail(&x->resp, MG_E_UPSTREAM, "shutting down");
                s_complete(c, x);
            } else {
                s_start(c, x);
            }
        }
        if (stopping)
            break;
        int running = 0;
        CURLMcode mc = g_mg_curl.multi_perform(c->multi, &running);
        s_read_done(c);
        if (mc == CURLM_OK)
            mc = g_mg_curl.multi_poll(c->multi, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK)
            MG_LOG(MG_LOG_ERROR, MG_SUB_HTTP, "outbound http: %s", g_mg_curl.multi_strerror(mc));
    }
    while (c->active) {
        struct s_xfer *x = c->active;
        (void)g_mg_curl.multi_remove_handle(c->multi, x->easy);
        s_list_remove(c, x);
        mg_buf_cleanup(&x->resp.body);
        mg_buf_cleanup(&x->resp.headers);
        x->resp.status = 0;
        s_resp_fail(&x->resp, MG_E_UPSTREAM, "shutting down");
        s_complete(c, x);
    }
    return NULL;
}

/* --- operator CA bundles ------------------------------------------------------------------ */

/* The reason of OpenSSL's last error, and the queue emptied. */
static const char *s_ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (!mg_fmt(buf, cap, "%s", r ? r : "unknown error"))
        buf[0] = '\0';
    ERR_clear_error();
    return buf;
}

/* Adds the certificates of one PEM bundle to store (or only checks the file when store is
 * NULL). MG_E_INVALID naming the file when it cannot be read, holds no certificate, or holds a
 * malformed one. */
static enum mg_err s_ca_load(X509_STORE *store, const char *file, struct mg_errinfo *ei)
{
    struct stat st;
    if (stat(file, &st) != 0)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: cannot read it: %s", file,
                              strerror(errno));
    if (!S_ISREG(st.st_mode))
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: not a regular file", file);
    if ((uint64_t)st.st_size > S_MAX_CA_FILE)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: larger than %u bytes", file,
                              S_MAX_CA_FILE);
    ERR_clear_error();
    BIO *bio = BIO_new_file(file, "r");
    if (bio == NULL) {
        int en = errno;
        ERR_clear_error();
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: cannot read it: %s", file,
                              en ? strerror(en) : "cannot open");
    }
    enum mg_err e = MG_E_OK;
    size_t n = 0;
    char why[160];
    for (;;) {
        X509 *cert = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
        if (cert == NULL) {
            unsigned long err = ERR_peek_last_error();
            if (ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE) {
                ERR_clear_error(); /* the end of the file */
                if (n == 0)
                    e = mg_errinfo_set(ei, MG_E_INVALID,
                                       "outbound CA bundle %s: no PEM certificate in it", file);
            } else if (ERR_GET_REASON(err) == ERR_R_MALLOC_FAILURE) {
                ERR_clear_error();
                e = mg_errinfo_set(ei, MG_E_NOMEM, "outbound CA bundle %s: out of memory", file);
            } else {
                e = mg_errinfo_set(ei, MG_E_INVALID,
                                   "outbound CA bundle %s: certificate %zu is malformed (%s)", file,
                                   n + 1, s_ssl_reason(why, sizeof(why)));
            }
            break;
        }
        n++;
        int ok = n > S_MAX_CA_CERTS ? -1 : store ? X509_STORE_add_cert(store, cert) : 1;
        X509_free(cert);
        if (ok == -1) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: more than %u certificates",
                               file, S_MAX_CA_CERTS);
            break;
        }
        if (ok != 1) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle %s: certificate %zu: %s", file,
                               n, s_ssl_reason(why, sizeof(why)));
            break;
        }
    }
    BIO_free(bio);
    return e;
}

/* A store with the system's CAs (where libcurl finds them by default) and, for host NULL, the
 * every-host bundles of cfg, else those and the host's own. */
static enum mg_err s_ca_store(const struct mg_http_client_config *cfg, const char *host,
                              X509_STORE **out, struct mg_errinfo *ei)
{
    *out = NULL;
    X509_STORE *store = X509_STORE_new();
    if (store == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "outbound CA bundles: out of memory");
    /* libcurl's own defaults: partial chains (a trusted intermediate is an anchor), trusted
     * certificates first */
    (void)X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST);
    const curl_version_info_data *v = g_mg_curl.version_info(CURLVERSION_NOW);
    const char *cainfo = v->age >= CURLVERSION_SEVENTH ? v->cainfo : NULL;
    const char *capath = v->age >= CURLVERSION_SEVENTH ? v->capath : NULL;
    const char *bad = NULL;
    if (cainfo == NULL && capath == NULL && X509_STORE_set_default_paths(store) != 1)
        bad = "OpenSSL's default paths";
    if (cainfo && X509_STORE_load_locations(store, cainfo, NULL) != 1)
        bad = cainfo;
    if (capath && X509_STORE_load_locations(store, NULL, capath) != 1)
        bad = capath;
    if (bad) {
        char why[160];
        MG_LOG(MG_LOG_WARN, MG_SUB_HTTP,
               "outbound TLS: cannot load the system CA store from %s: %s", bad,
               s_ssl_reason(why, sizeof(why)));
    }
    int n_system = sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; !e && i < cfg->n_cas; i++) {
        const char *h = cfg->cas[i].host;
        if (h == NULL || (host && strcasecmp(h, host) == 0))
            e = s_ca_load(store, cfg->cas[i].file, ei);
    }
    if (e) {
        X509_STORE_free(store);
        return e;
    }
    int n_all = sk_X509_OBJECT_num(X509_STORE_get0_objects(store));
    MG_LOG(MG_LOG_INFO, MG_SUB_HTTP,
           "outbound TLS for %s: the system store (%d CA certificates) and %d from the "
           "operator's bundles",
           host ? host : "every host", n_system, n_all - n_system);
    *out = store;
    return MG_E_OK;
}

/* A URL host as libcurl gives it: a name (letters, digits, '-', '.', '_'), an IPv4 literal, or
 * an IPv6 literal in brackets. */
static bool s_ca_host_ok(const char *h)
{
    size_t n = strnlen(h, MG_HTTP_CLIENT_MAX_CA_HOST + 1);
    if (n == 0 || n > MG_HTTP_CLIENT_MAX_CA_HOST)
        return false;
    if (h[0] == '[') {
        if (n < 4 || n > 64 || h[n - 1] != ']')
            return false;
        char inner[64];
        mg_memcpy(inner, h + 1, n - 2);
        inner[n - 2] = '\0';
        struct in6_addr a6;
        return inet_pton(AF_INET6, inner, &a6) == 1;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

static void s_ca_free(struct mg_http_client *c)
{
    for (size_t i = 0; i < c->n_ca_hosts; i++)
        X509_STORE_free(c->ca_hosts[i].store);
    mg_free(c->ca_hosts);
    c->ca_hosts = NULL;
    c->n_ca_hosts = 0;
    X509_STORE_free(c->ca_all);
    c->ca_all = NULL;
}

/* Reads cfg's bundles into c's stores. */
static enum mg_err s_ca_init(struct mg_http_client *c, const struct mg_http_client_config *cfg,
                             struct mg_errinfo *ei)
{
    if (cfg == NULL || cfg->n_cas == 0)
        return MG_E_OK;
    if (cfg->n_cas > MG_HTTP_CLIENT_MAX_CAS || cfg->cas == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "more than %d outbound CA bundles",
                              MG_HTTP_CLIENT_MAX_CAS);
    /* the system store is where libcurl looks for it (s_ca_store): load libcurl now */
    struct mg_errinfo lei;
    if (mg_curl_load(&lei) != MG_E_OK)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundles need libcurl: %s", lei.msg);
    size_t n_hosts = 0;
    for (size_t i = 0; i < cfg->n_cas; i++) {
        const struct mg_http_ca *ca = &cfg->cas[i];
        if (ca->file == NULL || ca->file[0] == '\0')
            return mg_errinfo_set(ei, MG_E_INVALID, "outbound CA bundle: no file named");
        if (ca->host && !s_ca_host_ok(ca->host))
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "outbound CA bundle %s: '%.64s' is not a host name (a name, an "
                                  "IPv4 address or an IPv6 address in brackets)",
                                  ca->file, ca->host);
        MG_TRY(s_ca_load(NULL, ca->file, ei)); /* each file checked once, by its own name */
        bool seen = false;
        for (size_t j = 0; ca->host && j < i; j++)
            seen = seen || (cfg->cas[j].host && strcasecmp(cfg->cas[j].host, ca->host) == 0);
        if (ca->host && !seen)
            n_hosts++;
    }
    if (n_hosts) {
        c->ca_hosts = mg_calloc(n_hosts, sizeof(*c->ca_hosts));
        if (c->ca_hosts == NULL)
            return mg_errinfo_set(ei, MG_E_NOMEM, "outbound CA bundles: out of memory");
    }
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; !e && i < cfg->n_cas; i++) {
        const char *h = cfg->cas[i].host;
        if (h == NULL || s_ca_for_host(c, h) != NULL)
            continue; /* every-host (built below, c->ca_all is still NULL), or a host built */
        struct s_ca_host *ch = &c->ca_hosts[c->n_ca_hosts];
        if (!mg_fmt(ch->host, sizeof(ch->host), "%s", h))
            e = mg_errinfo_set(ei, MG_E_INTERNAL, "outbound CA bundles: host too long");
        if (!e)
            e = s_ca_store(cfg, h, &ch->store, ei);
        if (!e)
            c->n_ca_hosts++;
    }
    bool every = false;
    for (size_t i = 0; i < cfg->n_cas; i++)
        every = every || cfg->cas[i].host == NULL;
    if (!e && every)
        e = s_ca_store(cfg, NULL, &c->ca_all, ei);
    if (e)
        s_ca_free(c);
    return e;
}

/* --- the API ------------------------------------------------------------------------------- */

enum mg_err mg_http_client_new(struct mg_http_client **out, struct mg_errinfo *ei)
{
    return mg_http_client_new_with(out, NULL, ei);
}

enum mg_err mg_http_client_new_with(struct mg_http_client **out,
                                    const struct mg_http_client_config *cfg, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_http_client *c = mg_calloc(1, sizeof(*c));
    if (c == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM,
                              "cannot start the outbound HTTP client: out of memory");
    enum mg_err e = s_ca_init(c, cfg, ei);
    if (!e && cfg) {
        c->egress.deny_local = cfg->deny_local;
        if (cfg->n_allow > 0 && cfg->allow == NULL)
            e = mg_errinfo_set(ei, MG_E_INVALID, "outbound allow rules: none given");
        for (size_t i = 0; !e && i < cfg->n_allow; i++)
            e = mg_http_egress_allow(&c->egress, cfg->allow[i], ei);
        if (e)
            s_ca_free(c);
        else if (cfg->n_allow > 0 && !cfg->deny_local)
            MG_LOG(MG_LOG_WARN, MG_SUB_HTTP,
                   "--outbound-allow has no effect without --outbound-deny-local (loopback and "
                   "private addresses are allowed already)");
    }
    if (!e)
        MG_LOG(MG_LOG_INFO, MG_SUB_HTTP,
               "outbound address policy: link-local (instance metadata), unspecified, multicast "
               "and broadcast addresses refused; loopback and private addresses %s (%zu "
               "exceptions)",
               c->egress.deny_local ? "refused" : "allowed", c->egress.n_allow);
    if (e) {
        mg_free(c);
        return e;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return MG_E_OK;
}

/* Under c->mu, at the first request: loads libcurl (once per process), creates the multi handle
 * and starts the I/O thread. A failure is remembered (c->failed): every later request is refused
 * at once, and the reason was logged once (curl_load.h). */
static enum mg_err s_start_io(struct mg_http_client *c)
{
    if (c->started)
        return MG_E_OK;
    if (c->failed)
        return MG_E_UPSTREAM;
    struct mg_errinfo ei;
    enum mg_err e = mg_curl_load(&ei);
    if (!e) {
        c->multi = g_mg_curl.multi_init();
        if (c->multi == NULL)
            e = MG_E_NOMEM;
    }
    if (!e) {
#define S_MSET(opt, val)                                                                           \
    do {                                                                                           \
        _Static_assert(S_OPT_TYPE_OK(opt, val), "wrong argument type for " #opt);                  \
        (void)g_mg_curl.multi_setopt(c->multi, (opt), (val));                                      \
    } while (0)
        S_MSET(CURLMOPT_MAX_HOST_CONNECTIONS, (long)S_MAX_HOST_CONNECTIONS);
        S_MSET(CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)S_MAX_TOTAL_CONNECTIONS);
        S_MSET(CURLMOPT_MAXCONNECTS, (long)S_MAX_CACHED_CONNECTIONS);
#undef S_MSET
        int rc = pthread_create(&c->thread, NULL, s_thread, c);
        if (rc != 0) {
            MG_LOG(MG_LOG_ERROR, MG_SUB_HTTP, "cannot start the outbound HTTP thread: %s",
                   strerror(rc));
            g_mg_curl.multi_cleanup(c->multi);
            c->multi = NULL;
            return MG_E_NOMEM; /* a later request tries again */
        }
        c->started = true;
        return MG_E_OK;
    }
    if (e == MG_E_NOMEM)
        return e; /* a later request tries again */
    c->failed = true;
    return MG_E_UPSTREAM;
}

void mg_http_client_shutdown(struct mg_http_client *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    bool joined = c->joined || !c->started; /* no request ever started the thread */
    c->stopping = true;
    c->joined = true;
    pthread_mutex_unlock(&c->mu);
    if (joined)
        return;
    (void)g_mg_curl.multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
}

bool mg_http_client_stopped(struct mg_http_client *c)
{
    if (c == NULL)
        return true;
    pthread_mutex_lock(&c->mu);
    bool stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    return stopping;
}

void mg_http_client_free(struct mg_http_client *c)
{
    if (c == NULL)
        return;
    mg_http_client_shutdown(c);
    if (c->multi != NULL)
        g_mg_curl.multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->mu);
    s_ca_free(c);
    mg_free(c);
}

/* Bytes of s with its NUL, added to *total; false past max. */
static bool s_add_len(size_t *total, const char *s, size_t max)
{
    if (s == NULL)
        return true;
    size_t n = strnlen(s, max + 1);
    if (n > max)
        return false;
    *total += n + 1;
    return true;
}

static char *s_put(char **at, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *dst = *at;
    mg_memcpy(dst, s, n);
    *at += n;
    return dst;
}

enum mg_err mg_http_fetch(struct mg_http_client *c, const struct mg_http_out_req *req,
                          mg_http_out_cb cb, void *arg)
{
    if (c == NULL || req == NULL || cb == NULL)
        return MG_E_INTERNAL;
    /* What cannot even be copied is refused through the callback like any other bad request,
     * so every caller has one error path; the copy is what the limits allow. */
    const char *why = NULL;
    size_t extra = 0;
    const char *method = req->method ? req->method : "GET";
    if (req->url == NULL || !s_add_len(&extra, req->url, S_MAX_URL))
        why = "the URL is missing or too long";
    else if (!s_token(method, S_MAX_METHOD) || !s_add_len(&extra, method, S_MAX_METHOD))
        why = "bad method";
    else if (!s_add_len(&extra, req->ca_file, 4096))
        why = "the CA bundle path is too long";
    else if (req->n_headers > MG_HTTP_CLIENT_MAX_HEADERS ||
             (req->n_headers > 0 && req->headers == NULL))
        why = "too many request headers";
    else if (req->body.len > S_MAX_REQ_BODY || (req->body.len > 0 && req->body.ptr == NULL))
        why = "the request body is too large";
    for (size_t i = 0; why == NULL && i < req->n_headers; i++)
        if (req->headers[i] == NULL || !s_add_len(&extra, req->headers[i], S_MAX_HEADER_LINE))
            why = "a request header is missing or too long";
    if (why)
        extra = 0;
    else
        extra += req->body.len;
    struct s_xfer *x = mg_malloc(sizeof(*x) + extra);
    if (x == NULL)
        return MG_E_NOMEM;
    memset(x, 0, sizeof(*x));
    x->c = c;
    x->cb = cb;
    x->arg = arg;
    x->max_response = req->max_response ? req->max_response : MG_HTTP_CLIENT_MAX_RESPONSE;
    x->connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                : MG_HTTP_CLIENT_CONNECT_MS;
    x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : MG_HTTP_CLIENT_TOTAL_MS;
    s_resp_init(&x->resp, x->max_response);
    if (why) {
        s_resp_fail(&x->resp, MG_E_INVALID, why);
    } else {
        char *at = (char *)(x + 1);
        x->url = s_put(&at, req->url);
        x->method = s_put(&at, method);
        x->ca_file = s_put(&at, req->ca_file);
        x->headers = at;
        for (size_t i = 0; i < req->n_headers; i++)
            (void)s_put(&at, req->headers[i]);
        x->n_headers = req->n_headers;
        if (req->body.len)
            mg_memcpy(at, req->body.ptr, req->body.len);
        x->body = (const uint8_t *)at;
        x->body_len = req->body.len;
        x->send_body = req->body.len > 0 ||
                       (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
                        strcmp(method, "DELETE") != 0 && strcmp(method, "OPTIONS") != 0);
    }
    pthread_mutex_lock(&c->mu);
    enum mg_err e = MG_E_OK;
    if (c->stopping)
        e = MG_E_INTERNAL;
    else if (c->n_total >= MG_HTTP_CLIENT_MAX_IN_FLIGHT)
        e = MG_E_UPSTREAM;
    else
        e = s_start_io(c); /* a flag test once started */
    if (!e) {
        c->n_total++;
        if (c->q_tail)
            c->q_tail->next = x;
        else
            c->q_head = x;
        c->q_tail = x;
    }
    pthread_mutex_unlock(&c->mu);
    if (e) {
        mg_free(x);
        return e;
    }
    (void)g_mg_curl.multi_wakeup(c->multi);
    return MG_E_OK;
}

struct s_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    struct mg_http_out_resp *resp;
};

static void s_on_sync(void *arg, struct mg_http_out_resp *resp)
{
    struct s_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    *w->resp = *resp;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu); /* w may be gone from here on */
}

void mg_http_fetch_sync(struct mg_http_client *c, const struct mg_http_out_req *req,
                        struct mg_http_out_resp *resp)
{
    s_resp_init(resp, 0);
    if (c == NULL) {
        s_resp_fail(resp, MG_E_INTERNAL, "no outbound HTTP client");
        return;
    }
    pthread_mutex_lock(&c->mu);
    bool own = c->started && pthread_equal(pthread_self(), c->thread);
    pthread_mutex_unlock(&c->mu);
    if (own) {
        s_resp_fail(resp, MG_E_INTERNAL, "a blocking fetch on the client's own thread");
        return;
    }
    struct s_wait w = {.done = false, .resp = resp};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    enum mg_err e = mg_http_fetch(c, req, s_on_sync, &w);
    if (e) {
        struct mg_errinfo lei;
        bool nolib = e == MG_E_UPSTREAM && mg_curl_load(&lei) != MG_E_OK;
        s_resp_fail(resp, e,
                    e == MG_E_NOMEM      ? "out of memory"
                    : nolib              ? lei.msg
                    : e == MG_E_UPSTREAM ? "too many outbound requests in flight"
                                         : "the outbound HTTP client is stopping");
    } else {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}
