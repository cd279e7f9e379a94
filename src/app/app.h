/* src/app/app.h: the running server: configuration, state, and the request pipeline
 * (route -> authenticate -> authorize -> handler). */
#ifndef MG_APP_H
#define MG_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "http/http.h"
#include "iam/iam.h"
#include "sigv4/sigv4.h"
#include "state/snapshot.h"

#define MG_DEFAULT_PORT 4777
#define MG_MAX_LOOPS 64

struct mg_app_config {
    struct mg_http_config http;
    char data_dir[1024];
    const char *identities;  /* file, or NULL */
    char region[64];
    int64_t clock_skew;      /* seconds */
    char public_url[512];    /* how clients reach us, e.g. http://127.0.0.1:4777 */
    /* gatewayUrl of AgentCore gateways: "" for PUBLIC_URL/gateways/{id}/mcp, else a template
     * where "{id}" stands for the gateway id, e.g. https://{id}.gateway.example.com/mcp */
    char gateway_url_template[512];
    size_t tools_page_size;  /* tools per MCP tools/list page; 0 = the default (100) */
    /* Lambda (src/lambda/) */
    char runtimes_dir[1024]; /* bootstraps; "" = next to the executable, then ./runtimes */
    int lambda_concurrency;  /* runtime processes per function; 0 = 10 */
    int lambda_idle_seconds; /* idle runtime processes are stopped after this; 0 = 300 */
    int lambda_queue;        /* invocations waiting per function before 429; 0 = 100 */
    uint64_t lambda_code_storage; /* code bytes per account (zips + unpacked); 0 = env/default */
    int lambda_isolation;    /* enum mg_lambda_isolation: 0 auto, 1 sandbox, 2 none */
};

struct mg_app {
    struct mg_app_config cfg;
    struct mg_store *store;
    struct mg_state state;
    struct mg_sigv4_key_cache *key_cache;
    struct mg_state_reader readers[MG_MAX_LOOPS];
    struct mg_http_server *http;
    /* module-private state */
    void *agentcore;
    void *lambda;
    void *mcp;
    uint8_t token_key[32]; /* STS session tokens and MCP session ids: AEAD key */
};

/* One authenticated API call on its way to a handler. */
struct mg_call {
    struct mg_app *app;
    struct mg_http_exchange *x;
    const struct mg_http_req *req;
    struct mg_snapshot *snap;
    struct mg_principal principal;
    struct mg_sigv4_auth auth;
    enum mg_aws_protocol protocol;
};

MG_MUST_USE enum mg_err mg_app_open(struct mg_app *app, const struct mg_app_config *cfg,
                                    struct mg_errinfo *ei);
MG_MUST_USE enum mg_err mg_app_serve(struct mg_app *app, struct mg_errinfo *ei);
void mg_app_stop(struct mg_app *app);
void mg_app_close(struct mg_app *app);

/* The HTTP entry point. */
void mg_app_handle(void *user, struct mg_http_exchange *x);

/* Service handlers. */
void mg_sts_handle(struct mg_call *c, const struct mg_aws_params *params);
void mg_iam_handle(struct mg_call *c, const struct mg_aws_params *params);
void mg_agentcore_handle(struct mg_call *c); /* bedrock-agentcore-control (rest-json) */
void mg_lambda_handle(struct mg_call *c);    /* Lambda API (rest-json) */
/* The MCP data plane: a request to a gateway URL, before any authentication (the gateway's
 * authorizer decides how to authenticate). */
void mg_mcp_handle(struct mg_app *app, struct mg_http_exchange *x, struct mg_slice gateway_id);

/* Module lifecycles, called by mg_app_open (start, after the state is loaded) and mg_app_close
 * (stop, after the HTTP server stopped). */
MG_MUST_USE enum mg_err mg_agentcore_start(struct mg_app *app, struct mg_errinfo *ei);
void mg_agentcore_stop(struct mg_app *app);
MG_MUST_USE enum mg_err mg_lambda_start(struct mg_app *app, struct mg_errinfo *ei);
void mg_lambda_stop(struct mg_app *app);
MG_MUST_USE enum mg_err mg_mcp_start(struct mg_app *app, struct mg_errinfo *ei);
void mg_mcp_stop(struct mg_app *app);

/* Loads (or creates) the server's token key from the store meta. */
MG_MUST_USE enum mg_err mg_app_load_token_key(struct mg_app *app, struct mg_errinfo *ei);

#endif
