/* STS: GetCallerIdentity (AssumeRole arrives with the IAM work). */
#include <stdio.h>

#include "app/app.h"
#include "base/log.h"

static void s_get_caller_identity(struct mg_call *c)
{
    struct mg_buf b;
    mg_buf_init(&b, 8192);
    enum mg_err e = mg_buf_append_cstr(&b, "    <Arn>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.arn));
    if (!e)
        e = mg_buf_append_cstr(&b, "</Arn>\n    <UserId>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.user_id));
    if (!e)
        e = mg_buf_append_cstr(&b, "</UserId>\n    <Account>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.account));
    if (!e)
        e = mg_buf_append_cstr(&b, "</Account>\n");
    if (e)
        mg_aws_send_error(c->x, c->protocol, 500, "InternalFailure", "out of memory");
    else
        mg_aws_send_xml(c->x, MG_AWS_QUERY_STS, "GetCallerIdentity", mg_buf_slice(&b), true);
    mg_buf_cleanup(&b);
}

void mg_sts_handle(struct mg_call *c, const struct mg_aws_params *params)
{
    const struct mg_slice *action = mg_aws_param(params, "Action");
    if (mg_slice_eq_cstr(*action, "GetCallerIdentity")) {
        s_get_caller_identity(c);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof(msg), "Could not find operation " MG_SLICE_FMT " for version 2011-06-15",
             MG_SLICE_ARG(*action));
    mg_aws_send_error(c->x, MG_AWS_QUERY_STS, 400, "InvalidAction", msg);
}
