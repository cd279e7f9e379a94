/* Answers for operations mcpgate does not serve (see unsupported.h), from the model tables of
 * src/aws/model.h. */
#include "app/unsupported.h"

#include "call/call.h"
#include "aws/model.h"

static enum mg_aws_service s_svc(enum mg_app_service svc)
{
    switch (svc) {
    case MG_APP_SVC_IAM: return MG_AWS_SVC_IAM;
    case MG_APP_SVC_STS: return MG_AWS_SVC_STS;
    case MG_APP_SVC_LAMBDA: return MG_AWS_SVC_LAMBDA;
    case MG_APP_SVC_AGENTCORE_CONTROL: return MG_AWS_SVC_AGENTCORE_CONTROL;
    }
    return MG_AWS_SVC_IAM;
}

bool mg_app_model_has_action(enum mg_app_service svc, struct mg_slice action)
{
    return mg_aws_route_query(s_svc(svc), action) != NULL;
}

/* The model operation of method + path: AgentCore's signing name covers both of its models. */
static const struct mg_aws_op *s_rest_op(enum mg_app_service svc, struct mg_slice method,
                                         struct mg_slice path, struct mg_slice query)
{
    static const enum mg_aws_service agentcore[] = {MG_AWS_SVC_AGENTCORE_CONTROL,
                                                    MG_AWS_SVC_AGENTCORE};
    enum mg_aws_service one = s_svc(svc);
    struct mg_aws_route rt;
    bool ac = svc == MG_APP_SVC_AGENTCORE_CONTROL;
    if (!mg_aws_route_rest(ac ? agentcore : &one, ac ? 2 : 1, method, path, query, &rt))
        return NULL;
    return rt.op;
}

const char *mg_app_model_rest_op(enum mg_app_service svc, struct mg_slice method,
                                 struct mg_slice path)
{
    const struct mg_aws_op *op = s_rest_op(svc, method, path, mg_slice_make("", 0));
    return op ? mg_aws_op_name(op) : NULL;
}

void mg_app_unsupported_action(struct mg_call *c, enum mg_app_service svc, struct mg_slice action)
{
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    const struct mg_aws_op *op = mg_aws_route_query(s_svc(svc), action);
    if (op)
        mg_aws_reply_not_implemented(&rep, op, NULL);
    else
        mg_aws_reply_unknown_action(&rep, s_svc(svc), action);
    mg_aws_reply_send(c->x, c->protocol, c->req->request_id, &rep);
    mg_aws_reply_cleanup(&rep);
}

void mg_app_unsupported_rest(struct mg_call *c, enum mg_app_service svc, const char *feature)
{
    const struct mg_http_req *r = c->req;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    const struct mg_aws_op *op = s_rest_op(svc, r->method, r->path, r->query);
    if (op)
        mg_aws_reply_not_implemented(&rep, op, feature);
    else
        mg_aws_reply_unknown_rest(&rep, s_svc(svc), feature, r->method, r->path);
    mg_aws_reply_send(c->x, MG_AWS_REST_JSON, r->request_id, &rep);
    mg_aws_reply_cleanup(&rep);
}
