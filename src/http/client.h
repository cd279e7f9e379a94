/* src/http/client.h: outbound HTTP (OpenAPI, Smithy and MCP-server targets, OAuth2 token and
 * discovery endpoints), libcurl's multi interface on the client's own I/O thread. No call ever
 * blocks an event loop: mg_http_fetch returns at once and its callback runs on the I/O thread;
 * mg_http_fetch_sync is for threads that may block (the control plane's background worker).
 *
 * Rules every request gets: http and https only; plain http only to a loopback address (127/8,
 * ::1, "localhost"); every connection only to an address the outbound address policy allows
 * (http/egress.h: never link-local/metadata, multicast, unspecified; with deny_local, no
 * loopback or private address but the operator's exceptions); redirects are never followed (a 3xx is an answer like any other, so a
 * credential never travels to a host it was not meant for); TLS peers verified against the
 * system store plus the operator's CA bundles (struct mg_http_client_config), or against the
 * request's own CA bundle alone; connect and total timeouts; a response
 * larger than its limit fails the request (never truncated). Connections are reused per
 * upstream (curl's connection cache). Secrets in headers or URLs are never logged. */
#ifndef MG_HTTP_CLIENT_H
#define MG_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/slice.h"
#include "http/egress.h"

#define MG_HTTP_CLIENT_CONNECT_MS 5000                 /* default connect timeout */
#define MG_HTTP_CLIENT_TOTAL_MS 30000                  /* default total timeout */
#define MG_HTTP_CLIENT_MAX_RESPONSE (6u * 1024 * 1024) /* default response body limit */
#define MG_HTTP_CLIENT_MAX_HEADERS 64                  /* headers of one request */
#define MG_HTTP_CLIENT_MAX_IN_FLIGHT 4096 /* requests queued or in flight, per client */
#define MG_HTTP_CLIENT_MAX_CAS 64         /* operator CA bundles (struct mg_http_client_config) */
#define MG_HTTP_CLIENT_MAX_CA_HOST 253    /* bytes of a CA bundle's host name */

struct mg_http_client;

/* One request. Everything is copied by mg_http_fetch: the caller may free it on return. */
struct mg_http_out_req {
    const char *method; /* "GET", "POST", ... */
    const char *url;    /* absolute http:// or https:// URL, query included */
    /* "Name: value" lines, at most MG_HTTP_CLIENT_MAX_HEADERS. No Host (from the URL), no
     * Content-Length (from the body). */
    const char *const *headers;
    size_t n_headers;
    /* sent when body.len > 0; an empty one (Content-Length: 0) for methods other than GET,
     * HEAD, DELETE and OPTIONS */
    struct mg_slice body;
    /* PEM bundle to verify the peer against, alone (it replaces the system store and the
     * operator's bundles), or NULL: the system store plus the operator's bundles for the host */
    const char *ca_file;
    long connect_timeout_ms; /* 0: MG_HTTP_CLIENT_CONNECT_MS */
    long timeout_ms;         /* 0: MG_HTTP_CLIENT_TOTAL_MS */
    size_t max_response;     /* body bytes; 0: MG_HTTP_CLIENT_MAX_RESPONSE */
};

/* What came back. err is MG_E_OK when an HTTP answer arrived (whatever its status); otherwise
 * MG_E_INVALID (the request was refused before sending: bad URL, scheme, http to a non-loopback
 * host, too many headers), MG_E_UPSTREAM (connect, TLS, protocol failure or timeout: timed_out
 * tells; an address the policy refuses: "the address 169.254.169.254 is not allowed for
 * outbound requests", before any connection to it is made), MG_E_TOO_LARGE (response over its limit) or MG_E_NOMEM, with a short reason in msg
 * that names no secret (e.g. "connection refused", "timed out after 30000 ms"). */
struct mg_http_out_resp {
    enum mg_err err;
    bool timed_out;
    char msg[256];
    long status;
    /* response headers as received, "name: value\r\n" lines of the final response, names
     * lower-cased; use mg_http_out_header */
    struct mg_buf headers;
    struct mg_buf body;
};

/* The value of a response header (name lower-case), trimmed, or an empty slice with false. */
bool mg_http_out_header(const struct mg_http_out_resp *r, const char *lname, struct mg_slice *v);
void mg_http_out_resp_cleanup(struct mg_http_out_resp *r);

/* Called once per request, on the client's I/O thread, never from inside mg_http_fetch. The
 * response's buffers are the callee's: it must call mg_http_out_resp_cleanup, or keep them by
 * copying the struct (*mine = *resp); the struct itself is valid only during the call. The
 * callback must not block (other requests wait for it) and must not call mg_http_fetch_sync;
 * it may call mg_http_fetch. */
typedef void (*mg_http_out_cb)(void *arg, struct mg_http_out_resp *resp);

/* A PEM CA bundle the operator trusts for outbound TLS (mcpgate serve --outbound-ca), in
 * addition to the system store: for every upstream (host NULL) or only for URLs whose host is
 * host (compared without case, whatever the port; an IPv6 literal in brackets, "[::1]"). */
struct mg_http_ca {
    const char *host;
    const char *file;
};

/* What a client is created with; the client keeps nothing of it (the bundles are read and their
 * certificates kept at creation). */
struct mg_http_client_config {
    const struct mg_http_ca *cas; /* at most MG_HTTP_CLIENT_MAX_CAS */
    size_t n_cas;
    /* The outbound address policy (http/egress.h). Link-local (cloud metadata), unspecified,
     * multicast and broadcast addresses are always refused; deny_local refuses loopback and
     * private addresses too, except those an allow rule grants ("CIDR", "ADDR[:PORT]",
     * "HOST[:PORT]", at most MG_HTTP_EGRESS_MAX_ALLOW). */
    bool deny_local;
    const char *const *allow;
    size_t n_allow;
};

/* Creates a client. libcurl is loaded and the I/O thread started by the first mg_http_fetch
 * (or here, when cfg names CA bundles: MG_E_INVALID when libcurl cannot be loaded). cfg NULL: no
 * operator CA bundles. Each bundle is read here: a file that
 * cannot be read, holds no certificate or a malformed one, or a host that is not a host name,
 * fails with MG_E_INVALID and a message naming it ("outbound CA bundle FILE: ..."). Otherwise
 * MG_E_NOMEM / MG_E_INTERNAL with the reason in ei. */
MG_MUST_USE enum mg_err mg_http_client_new_with(struct mg_http_client **out,
                                                const struct mg_http_client_config *cfg,
                                                struct mg_errinfo *ei);
/* mg_http_client_new_with(out, NULL, ei) */
MG_MUST_USE enum mg_err mg_http_client_new(struct mg_http_client **out, struct mg_errinfo *ei);
/* Stops the thread: requests still in flight complete with err MG_E_UPSTREAM ("shutting down").
 * NULL is fine. */
void mg_http_client_free(struct mg_http_client *c);
/* Ends the I/O thread early, as mg_http_client_free does, but keeps the client: every request in
 * flight completes with MG_E_UPSTREAM "shutting down" before this returns, and later
 * mg_http_fetch calls fail at once. The server calls it when it stops serving, so that no
 * upstream holds up a shutdown and no callback outlives the event loops. Idempotent. */
void mg_http_client_shutdown(struct mg_http_client *c);
/* Whether the client is stopping (or NULL): an answer that failed then says nothing about the
 * upstream. */
bool mg_http_client_stopped(struct mg_http_client *c);

/* Starts a request. On MG_E_OK, cb will run exactly once (a request refused by the rules above
 * completes with err MG_E_INVALID); on any other return, cb never runs: MG_E_NOMEM (out of
 * memory), MG_E_UPSTREAM (too many requests queued or in flight, MG_HTTP_CLIENT_MAX_IN_FLIGHT;
 * or libcurl cannot be loaded: logged once, with the package to install), MG_E_INTERNAL (c, req
 * or cb NULL, or the client is stopping). Never blocks, but the first request loads libcurl. */
MG_MUST_USE enum mg_err mg_http_fetch(struct mg_http_client *c, const struct mg_http_out_req *req,
                                      mg_http_out_cb cb, void *arg);
/* Sends a request and waits for its answer (resp filled as for the callback; clean it up).
 * Only on threads that may block; never on an event loop. On the client's own thread (inside a
 * callback) it refuses at once with err MG_E_INTERNAL; c NULL is MG_E_INTERNAL too, and a
 * request mg_http_fetch could not start gets its error. */
void mg_http_fetch_sync(struct mg_http_client *c, const struct mg_http_out_req *req,
                        struct mg_http_out_resp *resp);

#endif
