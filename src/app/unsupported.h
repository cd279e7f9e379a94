/* src/app/unsupported.h: one answer for every operation mcpgate does not serve, in each
 * service's wire format. An operation of the service's AWS model answers HTTP 501 (query:
 * NotImplemented in an XML ErrorResponse; rest-json: NotImplementedException) with a message that
 * names the service and the operation and says mcpgate does not implement it; a name or path that
 * no model has keeps AWS's answer for an unknown operation (query: 400 InvalidAction; rest-json:
 * 404 UnknownOperationException). Both point to docs/api-coverage.md. The operations come from
 * the model tables (src/aws/model.h). */
#ifndef MG_APP_UNSUPPORTED_H
#define MG_APP_UNSUPPORTED_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

struct mg_call;

enum mg_app_service {
    MG_APP_SVC_IAM = 0,
    MG_APP_SVC_STS,
    MG_APP_SVC_LAMBDA,
    MG_APP_SVC_AGENTCORE_CONTROL, /* bedrock-agentcore-control, and the data plane's model too */
};

/* Query protocol (IAM, STS): the Action the server does not serve. */
void mg_app_unsupported_action(struct mg_call *c, enum mg_app_service svc, struct mg_slice action);
/* rest-json (Lambda, AgentCore): the request's method and path are not served. feature (may be
 * NULL) names the AWS feature the path belongs to, e.g. "AgentCore Runtime". */
void mg_app_unsupported_rest(struct mg_call *c, enum mg_app_service svc, const char *feature);

/* Whether `action` is an operation of the service's AWS model (query services). */
bool mg_app_model_has_action(enum mg_app_service svc, struct mg_slice action);
/* The model operation that `method path` is, or NULL (rest-json services; the path without its
 * query string). A literal path segment beats a {label}. */
const char *mg_app_model_rest_op(enum mg_app_service svc, struct mg_slice method,
                                 struct mg_slice path);

#endif
