/* bedrock-agentcore-control: not served yet. */
#include "app/app.h"

enum mg_err mg_agentcore_start(struct mg_app *app, struct mg_errinfo *ei)
{
    (void)app;
    (void)ei;
    return MG_E_OK;
}

void mg_agentcore_stop(struct mg_app *app)
{
    (void)app;
}

void mg_agentcore_handle(struct mg_call *c)
{
    mg_aws_send_error(c->x, MG_AWS_REST_JSON, 404, "UnknownOperationException",
                      "bedrock-agentcore-control is not served yet.");
}
