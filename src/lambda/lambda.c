/* Lambda: not served yet. */
#include "app/app.h"

enum mg_err mg_lambda_start(struct mg_app *app, struct mg_errinfo *ei)
{
    (void)app;
    (void)ei;
    return MG_E_OK;
}

void mg_lambda_stop(struct mg_app *app)
{
    (void)app;
}

void mg_lambda_handle(struct mg_call *c)
{
    mg_aws_send_error(c->x, MG_AWS_REST_JSON, 404, "UnknownOperationException",
                      "The Lambda API is not served yet.");
}
