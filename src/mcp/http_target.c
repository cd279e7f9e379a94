/* tools/call of OpenAPI and Smithy targets. */
#include "mcp/internal.h"
#include "mcp/smithy_target.h"

void mg_mcp_http_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                      const struct mg_tool *tool, const json_t *arguments)
{
    if (tool->target && tool->target->kind == MG_TARGET_SMITHY) {
        mg_mcp_smithy_call(c, m, tool, arguments); /* interim: see smithy_call.c */
        return;
    }
    if (mg_mcp_tool_failure(&c->reply->slots[c->slot], m->id, c->gw->exception_debug,
                            "This target type cannot be called yet.") != MG_E_OK)
        mg_buf_reset(&c->reply->slots[c->slot]);
}
