/* src/app/app.h: the composition root: the running server's configuration and state, the
 * services it starts (a table of descriptors, struct mg_service in call/call.h) and the request
 * pipeline (route -> authenticate -> service, src/app/dispatch.c). No service includes it. */
#ifndef MG_APP_H
#define MG_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "call/call.h"
#include "http/client.h"
#include "http/http.h"
#include "lambda/lambda.h"
#include "mcp/mcp.h"
#include "sigv4/sigv4.h"
#include "state/snapshot.h"

#define MG_DEFAULT_PORT 4777
/* The services the server starts, in start order (stopped in reverse). */
#define MG_APP_SERVICES 5

struct mg_issuer; /* issuer/issuer.h */

struct mg_app_config {
    struct mg_http_config http;
    char data_dir[1024];
    /* --store / MCPGATE_STORE: a postgresql:// URI or an SQLite directory; NULL: data_dir */
    const char *store;
    const char *identities; /* file, or NULL */
    /* --identities-update: on a store shared by several nodes, apply the file even when the
     * store holds another file's identities (iam.h mg_iam_start_identities) */
    bool identities_update;
    /* --oauth-issuer: the built-in issuer's clients (file), or NULL */
    const char *oauth_issuer;
    char region[64];
    int64_t clock_skew;   /* seconds */
    char public_url[512]; /* how clients reach us, e.g. http://127.0.0.1:4777 */
    /* gatewayUrl of AgentCore gateways: "" for PUBLIC_URL/gateways/{id}/mcp, else a template
     * where "{id}" stands for the gateway id, e.g. https://{id}.gateway.example.com/mcp */
    char gateway_url_template[512];
    size_t tools_page_size;         /* tools per MCP tools/list page; 0 = the default (100) */
    struct mg_lambda_config lambda; /* src/lambda/ */
    /* --outbound-ca: operator CA bundles for outbound TLS, added to the system store (strings
     * owned by the caller, read when the outbound client is created) */
    struct mg_http_ca outbound_ca[MG_HTTP_CLIENT_MAX_CAS];
    size_t n_outbound_ca;
    /* --outbound-deny-local and --outbound-allow: the outbound address policy (http/egress.h;
     * strings owned by the caller, parsed when the outbound client is created) */
    bool outbound_deny_local;
    const char *outbound_allow[MG_HTTP_EGRESS_MAX_ALLOW];
    size_t n_outbound_allow;
};

struct mg_app {
    struct mg_app_config cfg;
    struct mg_store *store;
    struct mg_state state;
    struct mg_sigv4_key_cache *key_cache;
    struct mg_state_reader readers[MG_MAX_LOOPS];
    struct mg_http_server *http;
    struct mg_http_client *http_client; /* outbound HTTP (http/client.h), env.http */
    struct mg_issuer *issuer;           /* the built-in OAuth issuer (issuer/issuer.h), or NULL */
    struct mg_state_feed *feed;         /* other nodes' changes (state/feed.h), or NULL */
    uint8_t token_key[32];              /* STS session tokens and MCP session ids: AEAD key */
    struct mg_env env;                  /* what services see of all this */
    struct mg_mcp_config mcp_cfg;
    /* the services, in start order, and the state each start returned */
    const struct mg_service *services[MG_APP_SERVICES];
    void *service_state[MG_APP_SERVICES];
    size_t n_started;
};

MG_MUST_USE enum mg_err mg_app_open(struct mg_app *app, const struct mg_app_config *cfg,
                                    struct mg_errinfo *ei);
MG_MUST_USE enum mg_err mg_app_serve(struct mg_app *app, struct mg_errinfo *ei);
void mg_app_stop(struct mg_app *app);
void mg_app_close(struct mg_app *app);

/* The HTTP entry point. */
void mg_app_handle(void *user, struct mg_http_exchange *x);

/* Starts the n services of table in order (start(&app->env, config, &state, ei)), keeping each
 * one's state; when one fails, stops the started ones in reverse order and returns its error.
 * mg_app_open starts the server's own table. */
MG_MUST_USE enum mg_err mg_app_start_services(struct mg_app *app,
                                              const struct mg_service *const *table, size_t n,
                                              struct mg_errinfo *ei);
/* Stops the started services in reverse order (mg_app_close does). */
void mg_app_stop_services(struct mg_app *app);

/* The service of a SigV4 signing name or of the MCP data plane ("mcp"), with its state in
 * *state; NULL when the server does not serve it. */
const struct mg_service *mg_app_service(const struct mg_app *app, struct mg_slice name,
                                        void **state);

/* Loads (or creates) the server's token key from the store meta. */
MG_MUST_USE enum mg_err mg_app_load_token_key(struct mg_app *app, struct mg_errinfo *ei);

#endif
