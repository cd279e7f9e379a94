/* fuzz/fuzz_mcp_client.c: what an upstream MCP server sends back: the answer to a POST as JSON
 * or as an SSE stream (the first byte picks the content type), then, from the response found,
 * the tools of a tools/list result as the synchronization adds them. Must never crash, leak or
 * read out of bounds, whatever the server sends. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "targets/mcp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const char *const types[] = {"application/json", "text/event-stream",
                                        "text/event-stream; charset=utf-8", "text/html"};
    struct mg_slice ct = mg_slice_cstr(types[data[0] % 4]);
    int64_t id = data[1] % 4;
    struct mg_slice body = mg_slice_make(data + 2, size - 2);
    json_t *resp = NULL;
    char msg[256];
    if (mg_mcp_client_answer(ct, body, id, &resp, msg, sizeof(msg)) != MG_E_OK)
        return 0;
    json_t *tools = json_array();
    const struct mg_target_limits lim = {.max_tools = 64, .max_name = 64, .target_name_len = 4};
    char *next = NULL;
    if (tools && mg_mcp_client_add_tools(tools, json_object_get(resp, "result"), &lim, &next, msg,
                                         sizeof(msg)) == MG_E_OK)
        mg_free(next);
    json_decref(tools);
    json_decref(resp);
    return 0;
}
