/* src/mcp/mcp.h: the MCP data plane (Streamable HTTP, JSON-RPC, sessions, tools/list,
 * tools/call) at the gateways' URLs, as the composition root sees it. A request reaches it before
 * any authentication: the gateway's authorizer decides how to authenticate. */
#ifndef MG_MCP_H
#define MG_MCP_H

struct mg_lambda;

/* The data plane's settings: what start() of mg_mcp_service takes. */
struct mg_mcp_config {
    struct mg_lambda *lambda; /* Lambda targets are invoked here (lambda/lambda.h); NULL: none */
};

/* The MCP data plane, for the composition root (struct mg_service in call/call.h): handle() reads
 * c->x and c->gateway_id, and authenticates and authorizes the caller itself. */
struct mg_service;
extern const struct mg_service mg_mcp_service;

/* The event loops are stopping (the process ends): DELETEs still waiting for their end to be
 * stored are no longer answered. Any thread; service_state is the service's state. */
void mg_mcp_loops_stopped(void *service_state);

#endif
