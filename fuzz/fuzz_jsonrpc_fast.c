/* fuzz/fuzz_jsonrpc_fast.c: differential. base/jscan.h must accept exactly what jansson accepts
 * with the flags of mg_jsonrpc_parse (within MG_MCP_MAX_DEPTH) and report the same top-level
 * members; and mg_jsonrpc_parse (fast path first) must give the same outcome, the same messages
 * and the same answers as mg_jsonrpc_parse_tree (jansson only) for the same body. Any difference
 * aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/jscan.h"
#include "base/slice.h"
#include "mcp/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

static void s_fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_jsonrpc_fast: %s for %zu bytes: ", what, size);
    fwrite(data, 1, size < 400 ? size : 400, stderr);
    fputc('\n', stderr);
    abort();
}

static enum mg_jscan_type s_type(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return MG_JSCAN_OBJECT;
    case JSON_ARRAY: return MG_JSCAN_ARRAY;
    case JSON_STRING: return MG_JSCAN_STRING;
    case JSON_INTEGER: return MG_JSCAN_INTEGER;
    case JSON_REAL: return MG_JSCAN_REAL;
    case JSON_TRUE: return MG_JSCAN_TRUE;
    case JSON_FALSE: return MG_JSCAN_FALSE;
    case JSON_NULL: return MG_JSCAN_NULL;
    }
    return MG_JSCAN_ABSENT;
}

/* The scanner's view of a member against jansson's. */
static bool s_same_value(const struct mg_jscan_value *v, const json_t *j)
{
    if (j == NULL)
        return v->type == MG_JSCAN_ABSENT;
    if (v->type != s_type(j))
        return false;
    if (v->type == MG_JSCAN_INTEGER)
        return v->integer == (int64_t)json_integer_value(j);
    if (v->type == MG_JSCAN_STRING) {
        static char buf[1 << 16];
        if (v->len != json_string_length(j))
            return false;
        if (v->len > sizeof(buf))
            return true;
        return mg_jscan_string(v, buf, sizeof(buf)) &&
               memcmp(buf, json_string_value(j), v->len) == 0;
    }
    return true;
}

static void s_acceptance(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"jsonrpc", "method", "id", "params"};
    struct mg_jscan_value top, v[4];
    enum mg_jscan_result r = mg_jscan(mg_slice_make(data, size), MG_MCP_MAX_DEPTH, names, 4, &top,
                                      v);
    json_t *j = NULL;
    if (mg_jsonrpc_depth_ok(mg_slice_make(data, size), MG_MCP_MAX_DEPTH))
        j = json_loadb((const char *)data, size, S_FLAGS, NULL);
    if (r == MG_JSCAN_OK && j == NULL)
        s_fail("jscan accepts what jansson refuses", data, size);
    if (r == MG_JSCAN_INVALID && j != NULL)
        s_fail("jscan refuses what jansson accepts", data, size);
    if (r == MG_JSCAN_OK) {
        if (top.type != s_type(j))
            s_fail("top-level type differs", data, size);
        for (int i = 0; i < 4 && json_is_object(j); i++)
            if (!s_same_value(&v[i], json_object_get(j, names[i])))
                s_fail("a member differs", data, size);
    }
    json_decref(j);
}

/* ---- the answers ---------------------------------------------------------------------------- */

static const uint8_t s_key[32] = {7};
static const char *const s_pages[] = {"[{\"name\":\"t___a\"},{\"name\":\"t___b\"}]",
                                      "[{\"name\":\"t___c\"}]"};
static const size_t s_page_lens[] = {sizeof("[{\"name\":\"t___a\"},{\"name\":\"t___b\"}]") - 1,
                                     sizeof("[{\"name\":\"t___c\"}]") - 1};

static bool s_legacy(const struct mg_jsonrpc_msg *m)
{
    const json_t *meta = m->params ? json_object_get(m->params, "_meta") : NULL;
    return json_object_get(meta, "io.modelcontextprotocol/protocolVersion") != NULL;
}

/* What the server answers for one message (requests run the handlers of tools.c, except
 * tools/call, which reaches targets: its envelope only). */
static void s_answer(const struct mg_jsonrpc_msg *m, bool batch, struct mg_buf *out)
{
    static struct mg_env env;
    static struct mg_gateway gw;
    env.token_key = s_key;
    gw.id = "gw-fuzz-0123456789";
    gw.search_semantic = true;
    gw.catalog.n_tools = 3;
    gw.catalog.page_size = 2;
    gw.catalog.n_pages = 2;
    gw.catalog.page_json = s_pages;
    gw.catalog.page_json_len = s_page_lens;
    gw.catalog.version = 5;

    if (mg_buf_printf(out, "kind=%d code=%d legacy=%d method=%s msg=%s id=", (int)m->kind,
                      m->err_code, (int)s_legacy(m), m->method ? m->method : "-",
                      m->err_msg ? m->err_msg : "-") ||
        mg_jsonrpc_append_id(out, m->id) || mg_buf_append_byte(out, '\n'))
        abort();
    if (m->kind == MG_JSONRPC_INVALID) {
        if (mg_jsonrpc_error(out, m->id, m->err_code, m->err_msg, NULL))
            abort();
        return;
    }
    if (m->kind != MG_JSONRPC_REQUEST || strcmp(m->method, "tools/call") == 0) {
        if (m->kind == MG_JSONRPC_REQUEST && mg_jsonrpc_result_open(out, m->id))
            abort();
        return;
    }
    struct mg_buf slot;
    mg_buf_init(&slot, 1u << 20);
    struct mg_mcp_reply reply;
    memset(&reply, 0, sizeof(reply));
    reply.batch = batch;
    reply.n_slots = 1;
    reply.slots = &slot;
    struct mg_mcp_ctx c;
    memset(&c, 0, sizeof(c));
    c.env = &env;
    c.gw = &gw;
    c.caller = "anonymous";
    c.version = MG_MCP_V_2025_06_18;
    c.reply = &reply;
    mg_mcp_tools_request(&c, m);
    if (mg_buf_append_slice(out, mg_buf_slice(&slot)))
        abort();
    mg_buf_cleanup(&slot);
}

static void s_body_answer(const struct mg_jsonrpc_body *b, struct mg_buf *out)
{
    if (mg_buf_printf(out, "batch=%d n=%zu\n", (int)b->batch, b->n))
        abort();
    for (size_t i = 0; i < b->n; i++)
        s_answer(&b->msgs[i], b->batch, out);
}

static void s_differential(const uint8_t *data, size_t size)
{
    struct mg_jsonrpc_body fast, tree;
    struct mg_errinfo ef = {0}, et = {0};
    enum mg_err e1 = mg_jsonrpc_parse(mg_slice_make(data, size), &fast, &ef);
    enum mg_err e2 = mg_jsonrpc_parse_tree(mg_slice_make(data, size), &tree, &et);
    if (e1 != e2 || strcmp(ef.msg, et.msg) != 0)
        s_fail("the outcomes differ", data, size);
    if (e1 == MG_E_OK) {
        struct mg_buf a, b;
        mg_buf_init(&a, 4u << 20);
        mg_buf_init(&b, 4u << 20);
        s_body_answer(&fast, &a);
        s_body_answer(&tree, &b);
        if (!mg_slice_eq(mg_buf_slice(&a), mg_buf_slice(&b))) {
            fprintf(stderr, "fast:\n%.*s\ntree:\n%.*s\n", (int)a.len, (const char *)a.ptr,
                    (int)b.len, (const char *)b.ptr);
            s_fail("the answers differ", data, size);
        }
        mg_buf_cleanup(&a);
        mg_buf_cleanup(&b);
    }
    mg_jsonrpc_body_cleanup(&fast);
    mg_jsonrpc_body_cleanup(&tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_acceptance(data, size);
    s_differential(data, size);
    return 0;
}
