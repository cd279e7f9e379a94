/* src/http/http.h: the HTTP server (h2o evloop, one loop per thread, one shared listener) and the
 * request/response view that the rest of mcpgate works with. Nothing outside src/http/ sees h2o. */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "base/slice.h"

#define MG_HTTP_MAX_HEADERS 100

struct mg_http_config {
    char listen_host[256];
    uint16_t listen_port;
    int threads;                /* event loops; 0 = number of cores */
    uint32_t max_connections;   /* open client connections; 0 = MG_LIMIT_CONNECTIONS_DEFAULT */
    size_t max_body;            /* request body limit in bytes */
    size_t max_header_bytes;    /* one header value */
    uint64_t req_timeout_ms;    /* time to receive a whole request */
    uint64_t idle_timeout_ms;   /* keep-alive idle */
    bool access_log_off;        /* --access-log off: no line per request */
    uint32_t access_log_sample; /* log one request in N (per event loop); 0 or 1 = every one */
    const char *tls_cert;       /* PEM files; both or neither */
    const char *tls_key;
};

/* One request as received. Every slice borrows from the connection's memory and lives until the
 * response is sent. */
struct mg_http_req {
    struct mg_slice method;
    struct mg_slice target;      /* raw request-target: path and query */
    struct mg_slice path;        /* raw path, no query */
    struct mg_slice query;       /* raw query without '?', empty if none */
    struct mg_slice host;        /* Host header as sent (empty if absent) */
    const struct mg_kv *headers; /* lower-case names, in order received */
    size_t n_headers;
    size_t n_host_headers; /* how many Host headers arrived */
    struct mg_slice body;
    char remote_ip[64];
    bool secure; /* arrived over TLS */
    char request_id[37];
    int loop; /* index of the event loop handling it */
};

struct mg_http_exchange; /* a request and its response under construction */

const struct mg_http_req *mg_http_request(struct mg_http_exchange *x);
/* First value of a header (name lower-case), or NULL. */
const struct mg_slice *mg_http_header_n(const struct mg_http_req *r, const char *lname, size_t n);
static inline const struct mg_slice *mg_http_header(const struct mg_http_req *r, const char *lname)
{
    return mg_http_header_n(r, lname, strlen(lname)); /* a literal's length is known */
}
size_t mg_http_header_count(const struct mg_http_req *r, const char *lname);

/* Response building: status, headers, body (owned buffer the handler appends to). A header's
 * value is copied; its name must be a lowercase string literal (kept by reference). */
void mg_http_set_status(struct mg_http_exchange *x, int status);
void mg_http_add_header(struct mg_http_exchange *x, const char *name, struct mg_slice value);
struct mg_buf *mg_http_body(struct mg_http_exchange *x);
/* Sends the response. Call exactly once, on the exchange's event loop thread, either inside the
 * handler or later (after returning from the handler without sending). */
void mg_http_send(struct mg_http_exchange *x);
/* Sends from any thread: the response is handed to the exchange's loop. */
void mg_http_send_from_thread(struct mg_http_exchange *x);
/* Hands the exchange back to its loop from any thread (or from the loop itself): fn(arg, x) runs
 * there, later, as if the handler were called again; it must send (or hand off) the exchange as
 * a handler does. When mg_http_gone(x), fn must not read the request: it sends at once. */
typedef void (*mg_http_resume_fn)(void *arg, struct mg_http_exchange *x);
void mg_http_resume_from_thread(struct mg_http_exchange *x, mg_http_resume_fn fn, void *arg);
/* True when the client went away (the response will be dropped). */
bool mg_http_gone(const struct mg_http_exchange *x);

/* Server-sent events: start a streaming response (status 200, text/event-stream), then send
 * events; mg_http_stream_end closes it. Loop thread only. */
void mg_http_stream_start(struct mg_http_exchange *x);
void mg_http_stream_write(struct mg_http_exchange *x, struct mg_slice data);
void mg_http_stream_end(struct mg_http_exchange *x);

/* Called on a loop thread for each request. `user` is the pointer given to mg_http_start. */
typedef void (*mg_http_handler_fn)(void *user, struct mg_http_exchange *x);
/* Called once per loop thread when it starts / stops (may be NULL). */
typedef void (*mg_http_loop_fn)(void *user, int loop);

struct mg_http_server;

MG_MUST_USE enum mg_err mg_http_start(const struct mg_http_config *cfg, mg_http_handler_fn fn,
                                      mg_http_loop_fn on_loop_start, mg_http_loop_fn on_loop_stop,
                                      void *user, struct mg_http_server **out,
                                      struct mg_errinfo *ei);
/* Stops accepting, lets in-flight requests finish (up to grace_ms), then stops the loops. */
void mg_http_stop(struct mg_http_server *s, uint64_t grace_ms);
/* Waits for the loops to end and frees the server. */
void mg_http_free(struct mg_http_server *s);
/* The port actually bound (useful with port 0). */
uint16_t mg_http_port(const struct mg_http_server *s);

#endif
