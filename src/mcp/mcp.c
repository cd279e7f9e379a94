/* The MCP data plane: not served yet. */
#include "app/app.h"

enum mg_err mg_mcp_start(struct mg_app *app, struct mg_errinfo *ei)
{
    (void)app;
    (void)ei;
    return MG_E_OK;
}

void mg_mcp_stop(struct mg_app *app)
{
    (void)app;
}

void mg_mcp_handle(struct mg_app *app, struct mg_http_exchange *x, struct mg_slice gateway_id)
{
    (void)app;
    (void)gateway_id;
    mg_http_set_status(x, 404);
    mg_http_send(x);
}
