/* The IAM API: not served yet. */
#include <stdio.h>

#include "app/app.h"

void mg_iam_handle(struct mg_call *c, const struct mg_aws_params *params)
{
    const struct mg_slice *action = mg_aws_param(params, "Action");
    char msg[256];
    snprintf(msg, sizeof(msg), "Could not find operation " MG_SLICE_FMT " for version 2010-05-08",
             MG_SLICE_ARG(*action));
    mg_aws_send_error(c->x, MG_AWS_QUERY_IAM, 400, "InvalidAction", msg);
}
