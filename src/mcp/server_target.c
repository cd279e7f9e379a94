/* tools/call of MCP-server targets. */
#include "mcp/internal.h"

void mg_mcp_server_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments)
{
    (void)tool;
    (void)arguments;
    if (mg_mcp_tool_failure(&c->reply->slots[c->slot], m->id, c->gw->exception_debug,
                            "This target type cannot be called yet.") != MG_E_OK)
        mg_buf_reset(&c->reply->slots[c->slot]);
}
