/* OpenAPI targets. */
#include <stdio.h>

#include "targets/targets.h"

enum mg_err mg_openapi_tools(struct mg_slice payload, const struct mg_target_limits *lim,
                             json_t **tools, char *msg, size_t cap)
{
    (void)payload;
    (void)lim;
    *tools = NULL;
    snprintf(msg, cap,
             "OpenAPI targets (targetConfiguration.mcp.openApiSchema) are not "
             "supported by mcpgate yet; only lambda targets are");
    return MG_E_INVALID;
}

enum mg_err mg_openapi_request(const json_t *call, const json_t *args, struct mg_target_req *req,
                               char *msg, size_t cap)
{
    (void)call;
    (void)args;
    (void)req;
    snprintf(msg, cap, "OpenAPI targets are not supported by mcpgate yet");
    return MG_E_INVALID;
}

json_t *mg_openapi_result(const json_t *call, long status, struct mg_slice content_type,
                          struct mg_slice body)
{
    (void)call;
    (void)status;
    (void)content_type;
    (void)body;
    return NULL;
}
