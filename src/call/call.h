/* src/call/call.h: one request's context below every service, and the narrow environment that
 * services may use.
 *
 * The layers, top to bottom: app (the composition root) -> services (iam, lambda, agentcore, mcp)
 * -> call (this module: the request context, authentication in authn.h, authorization in
 * authz.h) -> aws, sigv4, policy, state. A service sees the environment and its own state, never
 * the HTTP server, the application or another service's state. */
#ifndef MG_CALL_H
#define MG_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "http/http.h"
#include "iam/iam.h"
#include "sigv4/sigv4.h"
#include "state/snapshot.h"

/* Event loops the server runs at most (one state reader each). */
#define MG_MAX_LOOPS 64

/* What services may use of the running server. Filled by app before any service starts; the
 * strings and objects it points to outlive every service. Read-only for services, except the
 * state and store they write through their own API. */
struct mg_env {
    const char *region;
    const char *public_url;           /* how clients reach us, e.g. http://127.0.0.1:4777 */
    const char *gateway_url_template; /* "" or a template with "{id}" (docs/configuration.md) */
    const char *listen_host;          /* the address the server listens on */
    const char *data_dir;
    int64_t clock_skew;               /* seconds */
    size_t tools_page_size;           /* tools per MCP tools/list page; 0 = the default */
    struct mg_store *store;
    struct mg_state *state;
    struct mg_state_reader *readers;  /* one per event loop, MG_MAX_LOOPS */
    struct mg_sigv4_key_cache *key_cache;
    const uint8_t *token_key;         /* 32 bytes: STS session tokens and MCP session ids */
};

/* One API call on its way to a service. */
struct mg_call {
    const struct mg_env *env;
    void *service;                          /* the state of the service handling the call */
    struct mg_http_exchange *x;
    const struct mg_http_req *req;
    struct mg_snapshot *snap;
    struct mg_principal principal;
    struct mg_sigv4_auth auth;
    enum mg_aws_protocol protocol;
    const struct mg_aws_params *params;     /* query protocol: the parsed parameters, else NULL */
    struct mg_slice gateway_id;             /* the MCP data plane: the gateway of the URL */
};

/* How a service is reached. */
enum mg_service_protocol {
    MG_SERVICE_QUERY = 0, /* AWS query protocol (form in, XML out), authenticated by SigV4 */
    MG_SERVICE_REST_JSON, /* AWS rest-json, authenticated by SigV4 */
    MG_SERVICE_MCP,       /* the MCP data plane: a gateway URL, authenticated by the service */
};

/* A service as the composition root sees it; each service exports its descriptors from its own
 * header. start() gets the environment and the service's own configuration (or NULL) and returns
 * the service's state in *state; stop() releases it (also after a partial start, and with NULL).
 * handle() answers one call (c->service is the state start returned). */
struct mg_service {
    const char *name; /* the SigV4 signing name ("iam", "lambda", ...), or "mcp" */
    enum mg_service_protocol protocol;
    void (*handle)(struct mg_call *c);
    MG_MUST_USE enum mg_err (*start)(const struct mg_env *env, const void *config, void **state,
                                     struct mg_errinfo *ei);
    void (*stop)(void *state);
};

#endif
