/* fuzz/fuzz_jsonrpc.c: the MCP data plane's request handling below the transport: parse the input
 * as a POST body, classify every message, write the envelopes the server would send, check
 * tools/call arguments against a fixed input schema and the input's own "schema" member, open
 * cursors and session ids found in it, and rank a search over a small catalog with its query.
 * Must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "mcp/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t s_key[32] = {9};

static const char s_schema_text[] =
    "{\"type\":\"object\",\"required\":[\"message\"],\"additionalProperties\":false,"
    "\"properties\":{\"message\":{\"type\":\"string\",\"maxLength\":64},\"count\":{\"type\":"
    "\"integer\",\"minimum\":0},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]}},"
    "\"nested\":{\"type\":[\"object\",\"null\"],\"properties\":{\"x\":{\"const\":1}}}}}";

static void s_one(const struct mg_jsonrpc_msg *m, const json_t *schema,
                  const struct mg_tool_catalog *cat)
{
    struct mg_buf out;
    mg_buf_init(&out, 1u << 20);
    if (m->kind == MG_JSONRPC_INVALID) {
        if (mg_jsonrpc_error(&out, m->id, m->err_code, m->err_msg, NULL) != MG_E_OK)
            mg_buf_reset(&out);
    } else if (m->kind == MG_JSONRPC_REQUEST) {
        if (mg_jsonrpc_result_open(&out, m->id) != MG_E_OK)
            mg_buf_reset(&out);
        if (mg_mcp_tool_failure(&out, m->id, true, m->method) != MG_E_OK)
            mg_buf_reset(&out);
    }
    const json_t *params = m->params;
    if (params) {
        char msg[256];
        const json_t *args = json_object_get(params, "arguments");
        if (args)
            (void)mg_mcp_schema_check(schema, args, msg, sizeof(msg));
        const json_t *own = json_object_get(params, "schema");
        if (own && args)
            (void)mg_mcp_schema_check(own, args, msg, sizeof(msg));
        const json_t *cur = json_object_get(params, "cursor");
        uint32_t page;
        if (json_is_string(cur))
            (void)mg_mcp_cursor_parse(s_key, "gw-fuzz", 1,
                                      mg_slice_make(json_string_value(cur),
                                                    json_string_length(cur)),
                                      &page);
        const json_t *sid = json_object_get(params, "session");
        struct mg_mcp_session s;
        if (json_is_string(sid))
            (void)mg_mcp_session_check(s_key,
                                       mg_slice_make(json_string_value(sid),
                                                     json_string_length(sid)),
                                       "gw-fuzz", "anonymous", 0, &s);
        const json_t *q = json_object_get(params, "query");
        size_t hits[4];
        if (json_is_string(q))
            (void)mg_mcp_search(cat, json_string_value(q), hits, 4);
    }
    mg_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *schema;
    static struct mg_tool tools[2];
    static struct mg_tool_catalog cat;
    if (schema == NULL) {
        schema = json_loads(s_schema_text, 0, NULL);
        tools[0] = (struct mg_tool){.full_name = "t___getWeather",
                                    .full_name_len = 14,
                                    .description = "weather for a city",
                                    .input_schema_json = mg_slice_make(s_schema_text,
                                                                       strlen(s_schema_text))};
        tools[1] = (struct mg_tool){.full_name = "t___send_email",
                                    .full_name_len = 14,
                                    .description = "send mail",
                                    .input_schema_json = mg_slice_make(s_schema_text,
                                                                       strlen(s_schema_text))};
        cat.tools = tools;
        cat.n_tools = 2;
    }
    struct mg_jsonrpc_body body;
    if (mg_jsonrpc_parse(mg_slice_make(data, size), &body, NULL) != MG_E_OK)
        return 0;
    for (size_t i = 0; i < body.n; i++)
        s_one(&body.msgs[i], schema, &cat);
    mg_jsonrpc_body_cleanup(&body);
    return 0;
}
