/* Smithy targets. */
#include <stdio.h>

#include "targets/targets.h"

enum mg_err mg_smithy_tools(struct mg_slice payload, const struct mg_target_limits *lim,
                            json_t **tools, char *msg, size_t cap)
{
    (void)payload;
    (void)lim;
    *tools = NULL;
    snprintf(msg, cap,
             "Smithy targets (targetConfiguration.mcp.smithyModel) are not "
             "supported by mcpgate yet; only lambda targets are");
    return MG_E_INVALID;
}

enum mg_err mg_smithy_request(const json_t *call, const json_t *args, const char *endpoint,
                              struct mg_target_req *req, char *msg, size_t cap)
{
    (void)endpoint;
    (void)call;
    (void)args;
    (void)req;
    snprintf(msg, cap, "Smithy targets are not supported by mcpgate yet");
    return MG_E_INVALID;
}

json_t *mg_smithy_result(const json_t *call, long status, struct mg_slice content_type,
                         struct mg_slice body)
{
    (void)call;
    (void)status;
    (void)content_type;
    (void)body;
    return NULL;
}
