/* src/http/server.c: h2o glue. One h2o context and evloop per thread, all accepting from one
 * listening socket (each loop holds a dup of it); requests are handed to the application as
 * mg_http_exchange. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "http/http.h"

struct s_loop {
    struct mg_http_server *srv;
    int index;
    pthread_t thread;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    int listen_fd;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver; /* responses finished on other threads */
    atomic_long inflight;
    /* Accepting paused: at --max-connections, or out of descriptors. A close on this loop or
     * the timer (S_PAUSE_MS) looks again. This loop's thread only. */
    bool accept_paused;
    h2o_timeout_t pause_timeout;
    h2o_timeout_entry_t pause_entry;
    uint32_t access_n; /* requests seen, for --access-log-sample (this loop's thread only) */
    bool started;
    /* Answer buffers of S_BODY_CAP bytes given back by finished requests, for the next ones
     * (this loop's thread only): glibc serves blocks this size outside its per-thread cache. */
    uint8_t *spare[16];
    int n_spare;
};

#define S_BODY_CAP 4096 /* most answers fit: no regrowth */

struct s_handler {
    h2o_handler_t super;
    struct mg_http_server *srv;
};

struct mg_http_server {
    struct mg_http_config cfg;
    h2o_globalconf_t globalconf;
    SSL_CTX *ssl;
    struct s_loop *loops;
    int n_loops;
    mg_http_handler_fn fn;
    mg_http_loop_fn on_start, on_stop;
    void *user;
    atomic_int stopping;
    atomic_int exit_now;
    atomic_uint conns;  /* open client connections, all loops */
    unsigned max_conns; /* --max-connections, after the descriptor limit */
    uint16_t port;
};

#define S_PAUSE_MS 10     /* how often a paused listener looks again */
#define S_FD_RESERVE 256u /* descriptors kept for the store, Lambda and outbound calls */

/* Lives in the request's pool; tells a deferred exchange that the request went away. */
struct s_guard {
    struct mg_http_exchange *x;
};

struct mg_http_exchange {
    h2o_multithread_message_t msg; /* first: cross-thread hand-off */
    h2o_req_t *req;                /* NULL once the client went away */
    struct s_loop *loop;
    struct s_guard *guard;
    struct mg_http_req view;
    struct mg_kv *headers;
    int status;
    struct mg_buf body;
    bool sent;
    /* streaming */
    h2o_generator_t generator;
    bool streaming, stream_busy, stream_ended;
    struct mg_buf stream_pending, stream_inflight;
    uint64_t start_ns;
    /* mg_http_resume_from_thread: run on the loop instead of sending */
    mg_http_resume_fn resume;
    void *resume_arg;
};

const struct mg_http_req *mg_http_request(struct mg_http_exchange *x)
{
    return &x->view;
}

const struct mg_slice *mg_http_header_n(const struct mg_http_req *r, const char *lname, size_t n)
{
    for (size_t i = 0; i < r->n_headers; i++)
        if (r->headers[i].name.len == n && mg_memcmp(r->headers[i].name.ptr, lname, n) == 0)
            return &r->headers[i].value;
    return NULL;
}

size_t mg_http_header_count(const struct mg_http_req *r, const char *lname)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_headers; i++)
        if (mg_slice_eq_cstr(r->headers[i].name, lname))
            n++;
    return n;
}

void mg_http_set_status(struct mg_http_exchange *x, int status)
{
    x->status = status;
}

void mg_http_add_header(struct mg_http_exchange *x, const char *name, struct mg_slice value)
{
    if (x->req == NULL)
        return;
    h2o_iovec_t v = h2o_strdup(&x->req->pool, (const char *)value.ptr, value.len);
    /* the name is a literal (http.h): no copy; a name h2o knows goes in by its token */
    size_t nl = strlen(name);
    const h2o_token_t *t = h2o_lookup_token(name, nl);
    if (t != NULL)
        h2o_add_header(&x->req->pool, &x->req->res.headers, t, NULL, v.base, v.len);
    else
        h2o_add_header_by_str(&x->req->pool, &x->req->res.headers, name, nl, 0, NULL, v.base,
                              v.len);
}

struct mg_buf *mg_http_body(struct mg_http_exchange *x)
{
    return &x->body;
}

bool mg_http_gone(const struct mg_http_exchange *x)
{
    return x->req == NULL;
}

static void s_exchange_free(struct mg_http_exchange *x)
{
    if (x->guard)
        x->guard->x = NULL;
    atomic_fetch_sub(&x->loop->inflight, 1);
    mg_buf_cleanup(&x->body);
    mg_buf_cleanup(&x->stream_pending);
    mg_buf_cleanup(&x->stream_inflight);
    mg_free(x);
}

static void s_guard_dispose(void *p)
{
    struct s_guard *g = p;
    if (g->x) {
        g->x->req = NULL;
        g->x->guard = NULL;
        /* A streaming response owns nothing more once the request is gone. */
        if (g->x->streaming)
            s_exchange_free(g->x);
    }
}

static const char *s_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* Writes v in decimal at p, returns the end. */
static char *s_put_u64(char *p, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = d[--n];
    return p;
}

/* "12.345ms": the duration rounded to the microsecond, as "%.3fms" would print it. */
static char *s_put_ms(char *p, uint64_t ns)
{
    uint64_t us = (ns + 500) / 1000;
    p = s_put_u64(p, us / 1000);
    *p++ = '.';
    unsigned frac = (unsigned)(us % 1000);
    *p++ = (char)('0' + frac / 100);
    *p++ = (char)('0' + frac / 10 % 10);
    *p++ = (char)('0' + frac % 10);
    *p++ = 'm';
    *p++ = 's';
    return p;
}

/* One line a request (or one in access_log_sample), handed to the log writer: no system call,
 * no printf. */
static void s_access_log(struct mg_http_exchange *x, int status)
{
    if (MG_LOG_INFO < g_mg_log_level)
        return;
    const struct mg_http_config *cfg = &x->loop->srv->cfg;
    if (cfg->access_log_off)
        return;
    if (cfg->access_log_sample > 1 && x->loop->access_n++ % cfg->access_log_sample != 0)
        return;
    /* The path only: presigned URLs carry signatures in the query. Once the client went away,
     * the request's memory (method, path) is gone with it: only the id is logged. */
    const struct mg_http_req *v = &x->view;
    uint64_t ns = mg_mono_ns() - x->start_ns;
    char msg[16 + 1 + 512 + 1 + 20 + 1 + 32 + 16];
    char *p = msg;
    if (x->req != NULL) {
        size_t ml = v->method.len > 16 ? 16 : v->method.len;
        size_t pl = v->path.len > 512 ? 512 : v->path.len;
        mg_memcpy(p, v->method.ptr, ml);
        p += ml;
        *p++ = ' ';
        mg_memcpy(p, v->path.ptr, pl);
        p += pl;
        *p++ = ' ';
    }
    p = s_put_u64(p, status < 0 ? 0 : (uint64_t)status);
    *p++ = ' ';
    p = s_put_ms(p, ns);
    if (x->req == NULL) {
        static const char gone[] = " (client gone)";
        mg_memcpy(p, gone, sizeof(gone) - 1);
        p += sizeof(gone) - 1;
    }
    mg_log_text(MG_LOG_INFO, MG_SUB_HTTP, v->request_id, mg_slice_make(msg, (size_t)(p - msg)));
}

/* A response body owned by the request's pool. */
struct s_owned {
    uint8_t *ptr;
    size_t cap;
    struct s_loop *loop;
};

/* Runs on the loop's thread when the request's pool goes. */
static void s_owned_dispose(void *p)
{
    struct s_owned *o = p;
    struct s_loop *l = o->loop;
    if (o->cap == S_BODY_CAP && l->n_spare < (int)(sizeof(l->spare) / sizeof(l->spare[0])))
        l->spare[l->n_spare++] = o->ptr;
    else
        mg_free(o->ptr);
}

/* "server: mcpgate" as an ordinary header: h2o formats its own server_name with sprintf for
 * every response (globalconf.server_name is left empty). */
static void s_add_server_header(h2o_req_t *req)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SERVER, NULL, H2O_STRLIT("mcpgate"));
}

void mg_http_send(struct mg_http_exchange *x)
{
    if (x->sent)
        return;
    x->sent = true;
    s_access_log(x, x->status ? x->status : 200);
    if (x->req) {
        h2o_req_t *req = x->req;
        req->res.status = x->status ? x->status : 200;
        req->res.reason = s_reason(req->res.status);
        s_add_server_header(req);
        if (req->res.status == 204 || req->res.status == 304) {
            static h2o_generator_t gen = {NULL, NULL};
            h2o_start_response(req, &gen);
            h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        } else {
            /* The body is handed to h2o as it is (no copy) and freed with the request's pool;
             * a known length means a Content-Length answer instead of chunked framing. */
            static h2o_generator_t gen = {NULL, NULL};
            size_t len = 0, cap = x->body.cap;
            uint8_t *body = mg_buf_take(&x->body, &len);
            h2o_iovec_t iov = h2o_iovec_init(body ? (char *)body : "", len);
            if (body) {
                struct s_owned *o = h2o_mem_alloc_shared(&req->pool, sizeof(*o), s_owned_dispose);
                o->ptr = body;
                o->cap = cap;
                o->loop = x->loop;
            }
            req->res.content_length = len;
            h2o_start_response(req, &gen);
            if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
                h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
            else
                h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
        }
    }
    s_exchange_free(x);
}

static void s_on_thread_message(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    (void)r;
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link,
                                                              messages->next);
        h2o_linklist_unlink(&m->link);
        struct mg_http_exchange *x = (struct mg_http_exchange *)m;
        mg_http_resume_fn fn = x->resume;
        if (fn) {
            x->resume = NULL;
            fn(x->resume_arg, x);
        } else {
            mg_http_send(x);
        }
    }
}

void mg_http_resume_from_thread(struct mg_http_exchange *x, mg_http_resume_fn fn, void *arg)
{
    x->resume = fn;
    x->resume_arg = arg;
    h2o_multithread_send_message(&x->loop->receiver, &x->msg);
}

void mg_http_send_from_thread(struct mg_http_exchange *x)
{
    h2o_multithread_send_message(&x->loop->receiver, &x->msg);
}

/* --- streaming (SSE) ---------------------------------------------------------------------- */

static void s_stream_flush(struct mg_http_exchange *x)
{
    if (x->req == NULL || x->stream_busy)
        return;
    if (x->stream_pending.len == 0 && !x->stream_ended)
        return;
    struct mg_buf t = x->stream_inflight;
    x->stream_inflight = x->stream_pending;
    x->stream_pending = t;
    mg_buf_reset(&x->stream_pending);
    h2o_iovec_t iov = h2o_iovec_init(x->stream_inflight.ptr ? (char *)x->stream_inflight.ptr : "",
                                     x->stream_inflight.len);
    bool final = x->stream_ended;
    x->stream_busy = true;
    h2o_req_t *req = x->req;
    if (final) {
        /* h2o disposes the pool (and maybe the guard) after the final send: detach first. */
        x->sent = true;
        if (x->guard)
            x->guard->x = NULL;
        x->guard = NULL;
        x->req = NULL;
        /* the bytes must outlive this call: copy into the request pool */
        h2o_iovec_t c = h2o_strdup(&req->pool, iov.base, iov.len);
        s_exchange_free(x);
        h2o_send(req, &c, c.len ? 1 : 0, H2O_SEND_STATE_FINAL);
        return;
    }
    h2o_send(req, &iov, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void s_stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    struct mg_http_exchange *x = H2O_STRUCT_FROM_MEMBER(struct mg_http_exchange, generator, g);
    x->stream_busy = false;
    mg_buf_reset(&x->stream_inflight);
    s_stream_flush(x);
}

static void s_stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g;
    (void)req; /* the guard's dispose frees the exchange */
}

void mg_http_stream_start(struct mg_http_exchange *x)
{
    if (x->req == NULL || x->streaming)
        return;
    x->streaming = true;
    s_access_log(x, x->status ? x->status : 200);
    mg_buf_init(&x->stream_pending, 16u * 1024 * 1024);
    mg_buf_init(&x->stream_inflight, 16u * 1024 * 1024);
    h2o_req_t *req = x->req;
    req->res.status = x->status ? x->status : 200;
    req->res.reason = s_reason(req->res.status);
    s_add_server_header(req);
    x->generator.proceed = s_stream_proceed;
    x->generator.stop = s_stream_stop;
    h2o_start_response(req, &x->generator);
    /* flush the headers at once */
    x->stream_busy = true;
    h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
}

void mg_http_stream_write(struct mg_http_exchange *x, struct mg_slice data)
{
    if (!x->streaming || x->stream_ended || x->req == NULL)
        return;
    if (mg_buf_append_slice(&x->stream_pending, data) != MG_E_OK)
        return; /* a client that reads nothing cannot grow us without limit */
    s_stream_flush(x);
}

void mg_http_stream_end(struct mg_http_exchange *x)
{
    if (!x->streaming) {
        mg_http_send(x);
        return;
    }
    if (x->req == NULL) {
        if (!x->stream_ended)
            x->stream_ended = true;
        return; /* freed by the guard's dispose */
    }
    x->stream_ended = true;
    s_stream_flush(x);
}

/* --- request entry -------------------------------------------------------------------------- */

/* True when the request carried no Host header and h2o filled one in. */
static bool s_authority_defaulted(h2o_req_t *req)
{
    /* h2o substitutes the default host's own authority string: compare the pointer. */
    h2o_hostconf_t *def = req->conn->ctx->globalconf->hosts[0];
    return def != NULL && req->input.authority.base == def->authority.hostport.base;
}

/* The peer's address as text. IPv4 (nearly every request) without printf: h2o's and libc's
 * formatters both go through sprintf, which showed in the request path's profile. */
static bool s_peer_text(struct sockaddr_storage *ss, socklen_t sl, char out[64])
{
    if (ss->ss_family == AF_INET && sl >= (socklen_t)sizeof(struct sockaddr_in)) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
        char *p = out;
        for (int i = 0; i < 4; i++) {
            if (i)
                *p++ = '.';
            p = s_put_u64(p, a[i]);
        }
        *p = 0;
        return true;
    }
    return h2o_socket_getnumerichost((struct sockaddr *)ss, sl, out) != SIZE_MAX;
}

static int s_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct s_handler *h = (struct s_handler *)self;
    struct mg_http_server *srv = h->srv;
    struct s_loop *loop = NULL;
    for (int i = 0; i < srv->n_loops; i++)
        if (&srv->loops[i].ctx == req->conn->ctx)
            loop = &srv->loops[i];
    if (loop == NULL)
        return -1;

    struct mg_http_exchange *x = mg_calloc(1, sizeof(*x));
    if (x == NULL) {
        h2o_send_error_generic(req, 503, "Service Unavailable", "out of memory\n", 0);
        return 0;
    }
    atomic_fetch_add(&loop->inflight, 1);
    x->req = req;
    x->loop = loop;
    x->start_ns = mg_mono_ns();
    mg_buf_init(&x->body, MG_LIMIT_RESPONSE);
    if (loop->n_spare > 0) {
        x->body.ptr = loop->spare[--loop->n_spare];
        x->body.cap = S_BODY_CAP;
    } else if (mg_buf_reserve(&x->body, S_BODY_CAP) != MG_E_OK) {
        /* the first append will retry */
    }
    x->guard = h2o_mem_alloc_shared(&req->pool, sizeof(*x->guard), s_guard_dispose);
    x->guard->x = x;

    struct mg_http_req *v = &x->view;
    v->method = mg_slice_make(req->method.base, req->method.len);
    v->target = mg_slice_make(req->path.base, req->path.len);
    if (req->query_at != SIZE_MAX && req->query_at < req->path.len) {
        v->path = mg_slice_make(req->path.base, req->query_at);
        v->query = mg_slice_make(req->path.base + req->query_at + 1,
                                 req->path.len - req->query_at - 1);
    } else {
        v->path = v->target;
        v->query = mg_slice_make("", 0);
    }
    v->secure = req->scheme == &H2O_URL_SCHEME_HTTPS;
    v->loop = loop->index;
    mg_request_id(v->request_id);

    struct sockaddr_storage ss;
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl == 0 || !s_peer_text(&ss, sl, v->remote_ip))
        v->remote_ip[0] = 0;

    size_t n = req->headers.size;
    bool too_big = false;
    if (n > MG_HTTP_MAX_HEADERS) {
        n = MG_HTTP_MAX_HEADERS;
        too_big = true;
    }
    /* h2o keeps the Host header out of req->headers (it becomes the authority): put it back at
     * the front so that SigV4 sees the headers as they were sent. */
    x->headers = h2o_mem_alloc_pool(&req->pool, (n + 2) * sizeof(*x->headers));
    if (x->headers == NULL) {
        mg_http_set_status(x, 503);
        mg_http_send(x);
        return 0;
    }
    size_t o = 0;
    if (req->input.authority.base != NULL && !s_authority_defaulted(req)) {
        x->headers[o].name = MG_SLICE_LIT("host");
        x->headers[o].value = mg_slice_make(req->input.authority.base, req->input.authority.len);
        v->host = x->headers[o].value;
        v->n_host_headers = 1;
        o++;
    }
    /* ... and Content-Length, which it keeps in req->content_length. */
    char *clen = NULL;
    bool chunked = false;
    for (size_t i = 0; i < n; i++)
        if (req->headers.entries[i].name == &H2O_TOKEN_TRANSFER_ENCODING->buf)
            chunked = true;
    if (req->entity.base != NULL && !chunked) {
        clen = h2o_mem_alloc_pool(&req->pool, 24);
        char digits[24];
        size_t nd = 0, left = req->entity.len;
        do {
            digits[nd++] = (char)('0' + left % 10);
            left /= 10;
        } while (left);
        for (size_t k = 0; k < nd; k++)
            clen[k] = digits[nd - 1 - k];
        x->headers[o].name = MG_SLICE_LIT("content-length");
        x->headers[o].value = mg_slice_make(clen, nd);
        o++;
    }
    for (size_t i = 0; i < n; i++) {
        h2o_header_t *hd = &req->headers.entries[i];
        /* h2o lower-cases the names it parses (HTTP/1 in place, HTTP/2 requires it), and its
         * tokens (host, authorization, content-type...) are lower-case by definition: a name is
         * used as it is unless it holds an upper-case letter after all */
        const char *name = hd->name->base;
        bool token = h2o_iovec_is_token(hd->name), upper = false;
        for (size_t k = 0; !token && k < hd->name->len && !upper; k++)
            upper = name[k] >= 'A' && name[k] <= 'Z';
        if (upper) {
            char *low = h2o_mem_alloc_pool(&req->pool, hd->name->len + 1);
            for (size_t k = 0; k < hd->name->len; k++) {
                char c = hd->name->base[k];
                low[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
            }
            low[hd->name->len] = 0;
            name = low;
        }
        x->headers[o].name = mg_slice_make(name, hd->name->len);
        x->headers[o].value = mg_slice_make(hd->value.base, hd->value.len);
        if (hd->value.len > srv->cfg.max_header_bytes)
            too_big = true;
        if (token ? hd->name == &H2O_TOKEN_HOST->buf
                  : mg_slice_eq_cstr(x->headers[o].name, "host")) {
            if (v->n_host_headers == 0)
                v->host = x->headers[o].value;
            v->n_host_headers++;
        }
        o++;
    }
    v->headers = x->headers;
    v->n_headers = o;
    if (req->entity.base)
        v->body = mg_slice_make(req->entity.base, req->entity.len);
    else
        v->body = mg_slice_make("", 0);

    if (too_big) {
        mg_http_set_status(x, 431);
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("text/plain"));
        if (mg_buf_append_cstr(&x->body, "request header fields too large\n") != MG_E_OK) {
            /* nothing to add */
        }
        mg_http_send(x);
        return 0;
    }
    srv->fn(srv->user, x);
    return 0;
}

/* --- listeners and loops ------------------------------------------------------------------- */

static void s_on_accept(h2o_socket_t *listener, const char *err);

static void s_pause_accept(struct s_loop *l)
{
    if (l->accept_paused || l->listener == NULL)
        return;
    h2o_socket_read_stop(l->listener);
    l->accept_paused = true;
    h2o_timeout_link(l->ctx.loop, &l->pause_timeout, &l->pause_entry);
}

static void s_resume_accept(struct s_loop *l)
{
    if (!l->accept_paused || atomic_load(&l->srv->conns) >= l->srv->max_conns)
        return;
    l->accept_paused = false;
    if (h2o_timeout_is_linked(&l->pause_entry))
        h2o_timeout_unlink(&l->pause_entry);
    if (l->listener != NULL)
        h2o_socket_read_start(l->listener, s_on_accept);
}

static void s_on_pause_timeout(h2o_timeout_entry_t *e)
{
    struct s_loop *l = H2O_STRUCT_FROM_MEMBER(struct s_loop, pause_entry, e);
    s_resume_accept(l);
    if (l->accept_paused && l->listener != NULL)
        h2o_timeout_link(l->ctx.loop, &l->pause_timeout, &l->pause_entry);
}

/* A client connection of this loop closed (h2o calls it on the loop's thread). */
static void s_on_conn_close(void *data)
{
    struct s_loop *l = data;
    atomic_fetch_sub(&l->srv->conns, 1);
    s_resume_accept(l);
}

static void s_on_accept(h2o_socket_t *listener, const char *err)
{
    struct s_loop *l = listener->data;
    struct mg_http_server *srv = l->srv;
    if (err != NULL)
        return;
    for (int i = 0; i < 16; i++) {
        /* At the limit, new connections wait in the kernel's backlog (and are refused by it when
         * that is full): the limit holds without a busy loop over a socket that stays readable.
         * The place is taken before the accept, so that loops accepting at once never pass it. */
        if (atomic_fetch_add(&srv->conns, 1) >= srv->max_conns) {
            atomic_fetch_sub(&srv->conns, 1);
            s_pause_accept(l);
            return;
        }
        errno = 0;
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            int e = errno;
            atomic_fetch_sub(&srv->conns, 1);
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM)
                s_pause_accept(l); /* out of descriptors: look again later, do not spin */
            return;
        }
        if (atomic_load(&srv->stopping)) {
            atomic_fetch_sub(&srv->conns, 1);
            h2o_socket_close(sock);
            continue;
        }
        sock->on_close.cb = s_on_conn_close;
        sock->on_close.data = l;
        h2o_accept(&l->accept_ctx, sock);
    }
}

/* The connection limit the descriptor limit allows: the soft RLIMIT_NOFILE is raised toward
 * the hard one so that `want` connections fit beside S_FD_RESERVE other descriptors; when the
 * hard limit is lower, the connection limit is lowered (and says so). */
static unsigned s_max_connections(unsigned want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    rlim_t need = (rlim_t)want + S_FD_RESERVE;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t to = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
        struct rlimit raised = {.rlim_cur = to, .rlim_max = rl.rlim_max};
        if (to > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = to;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return want;
    unsigned fit = rl.rlim_cur > 2 * S_FD_RESERVE ? (unsigned)(rl.rlim_cur - S_FD_RESERVE)
                                                  : (unsigned)(rl.rlim_cur / 2);
    MG_LOG(MG_LOG_WARN, MG_SUB_HTTP,
           "at most %u client connections (wanted %u): the descriptor limit is %llu (ulimit -n)",
           fit, want, (unsigned long long)rl.rlim_cur);
    return fit;
}

static int s_listen_fd(const struct mg_http_config *cfg, uint16_t port, struct mg_errinfo *ei)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char ports[8];
    snprintf(ports, sizeof(ports), "%u", (unsigned)port);
    const char *host = cfg->listen_host;
    if (host[0] == '[') {
        static char tmp[256];
        size_t n = strlen(host);
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(n >= 2 ? n - 2 : 0), host + 1);
        host = tmp;
    }
    int rc = getaddrinfo(host, ports, &hints, &res);
    if (rc != 0) {
        mg_errinfo_set(ei, MG_E_INVALID, "cannot resolve listen address '%s': %s", cfg->listen_host,
                       gai_strerror(rc));
        return -1;
    }
    /* No SO_REUSEPORT: with it, a second server (same user) could bind the same address and
     * silently take part of the traffic. The loops share this one socket instead. SO_REUSEADDR
     * only lets a restart bind while old connections sit in TIME_WAIT. */
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        if (errno == EADDRINUSE)
            mg_errinfo_set(ei, MG_E_IO,
                           "cannot listen on %s:%u: address already in use (another server is "
                           "listening there: stop it or choose another --listen)",
                           cfg->listen_host, (unsigned)port);
        else
            mg_errinfo_set(ei, MG_E_IO, "cannot listen on %s:%u: %s", cfg->listen_host,
                           (unsigned)port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    return fd;
}

static void *s_loop_main(void *arg)
{
    struct s_loop *l = arg;
    struct mg_http_server *srv = l->srv;
    h2o_context_init(&l->ctx, h2o_evloop_create(), &srv->globalconf);
    l->queue = h2o_multithread_create_queue(l->ctx.loop);
    h2o_multithread_register_receiver(l->queue, &l->receiver, s_on_thread_message);
    l->accept_ctx.ctx = &l->ctx;
    l->accept_ctx.hosts = srv->globalconf.hosts;
    l->accept_ctx.ssl_ctx = srv->ssl;
    l->listener = h2o_evloop_socket_create(l->ctx.loop, l->listen_fd, H2O_SOCKET_FLAG_DONT_READ);
    l->listener->data = l;
    h2o_timeout_init(l->ctx.loop, &l->pause_timeout, S_PAUSE_MS);
    l->pause_entry.cb = s_on_pause_timeout;
    h2o_socket_read_start(l->listener, s_on_accept);
    if (srv->on_start)
        srv->on_start(srv->user, l->index);

    bool closed = false;
    while (!atomic_load(&srv->exit_now)) {
        h2o_evloop_run(l->ctx.loop, 100);
        if (atomic_load(&srv->stopping) && !closed) {
            if (!l->accept_paused)
                h2o_socket_read_stop(l->listener);
            h2o_socket_close(l->listener);
            l->listener = NULL;
            closed = true;
        }
    }
    if (h2o_timeout_is_linked(&l->pause_entry))
        h2o_timeout_unlink(&l->pause_entry);
    if (srv->on_stop)
        srv->on_stop(srv->user, l->index);
    while (l->n_spare > 0)
        mg_free(l->spare[--l->n_spare]);
    return NULL;
}

static SSL_CTX *s_ssl_ctx(const struct mg_http_config *cfg, struct mg_errinfo *ei)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        mg_errinfo_set(ei, MG_E_INTERNAL, "cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        mg_errinfo_set(ei, MG_E_INVALID, "cannot load TLS certificate '%s'", cfg->tls_cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        mg_errinfo_set(ei, MG_E_INVALID, "cannot load TLS key '%s' (or it does not match)",
                       cfg->tls_key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

enum mg_err mg_http_start(const struct mg_http_config *cfg, mg_http_handler_fn fn,
                          mg_http_loop_fn on_loop_start, mg_http_loop_fn on_loop_stop, void *user,
                          struct mg_http_server **out, struct mg_errinfo *ei)
{
    struct mg_http_server *s = mg_calloc(1, sizeof(*s));
    if (s == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->fn = fn;
    s->on_start = on_loop_start;
    s->on_stop = on_loop_stop;
    s->user = user;
    s->n_loops = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->n_loops < 1)
        s->n_loops = 1;
    if (s->n_loops > 64)
        s->n_loops = 64;
    s->max_conns = s_max_connections(cfg->max_connections ? cfg->max_connections
                                                          : MG_LIMIT_CONNECTIONS_DEFAULT);

    if (cfg->tls_cert && cfg->tls_key) {
        s->ssl = s_ssl_ctx(cfg, ei);
        if (s->ssl == NULL) {
            mg_free(s);
            return ei ? ei->code : MG_E_INVALID;
        }
    }

    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("")); /* s_add_server_header */
    s->globalconf.max_request_entity_size = cfg->max_body;
    s->globalconf.http1.req_timeout = cfg->req_timeout_ms;
    s->globalconf.http2.idle_timeout = cfg->idle_timeout_ms;
    s->globalconf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host(&s->globalconf,
                                                    h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    struct s_handler *h = (struct s_handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = s_on_req;
    h->srv = s;

    s->loops = mg_calloc((size_t)s->n_loops, sizeof(*s->loops));
    if (s->loops == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    uint16_t port = cfg->listen_port;
    for (int i = 0; i < s->n_loops; i++) {
        s->loops[i].srv = s;
        s->loops[i].index = i;
        /* each loop gets its own descriptor of the one socket (h2o closes it with the loop) */
        s->loops[i].listen_fd = i == 0 ? s_listen_fd(cfg, port, ei)
                                       : fcntl(s->loops[0].listen_fd, F_DUPFD_CLOEXEC, 0);
        if (s->loops[i].listen_fd < 0) {
            if (i > 0)
                mg_errinfo_set(ei, MG_E_IO, "cannot share the listening socket: %s",
                               strerror(errno));
            for (int k = 0; k < i; k++)
                close(s->loops[k].listen_fd);
            mg_free(s->loops);
            if (s->ssl)
                SSL_CTX_free(s->ssl);
            mg_free(s);
            return ei ? ei->code : MG_E_IO;
        }
        if (i == 0 && port == 0) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            getsockname(s->loops[0].listen_fd, (struct sockaddr *)&ss, &sl);
            port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    s->port = port;
    for (int i = 0; i < s->n_loops; i++) {
        if (pthread_create(&s->loops[i].thread, NULL, s_loop_main, &s->loops[i]) != 0)
            return mg_errinfo_set(ei, MG_E_INTERNAL, "cannot start event loop threads");
        s->loops[i].started = true;
    }
    *out = s;
    return MG_E_OK;
}

uint16_t mg_http_port(const struct mg_http_server *s)
{
    return s->port;
}

void mg_http_stop(struct mg_http_server *s, uint64_t grace_ms)
{
    atomic_store(&s->stopping, 1);
    uint64_t deadline = mg_mono_ns() + grace_ms * 1000000ull;
    for (;;) {
        long busy = 0;
        for (int i = 0; i < s->n_loops; i++)
            busy += atomic_load(&s->loops[i].inflight);
        if (busy == 0 || mg_mono_ns() > deadline)
            break;
        usleep(20 * 1000);
    }
    atomic_store(&s->exit_now, 1);
}

void mg_http_free(struct mg_http_server *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < s->n_loops; i++)
        if (s->loops[i].started)
            pthread_join(s->loops[i].thread, NULL);
    /* Contexts are not disposed: live keep-alive connections still point at them, and the
     * process is about to exit. */
    if (s->ssl)
        SSL_CTX_free(s->ssl);
    mg_free(s->loops);
    mg_free(s);
}
