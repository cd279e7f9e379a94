/* JSON-RPC parsing, classification, limits and error envelopes of the MCP data plane. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/alloc.h"
#include "mcp/internal.h"
#include "unit/leaks.h"

static enum mg_err s_parse(const char *text, struct mg_jsonrpc_body *b)
{
    return mg_jsonrpc_parse(mg_slice_cstr(text), b, NULL);
}

static void test_mcp_jsonrpc_kinds(void **state)
{
    (void)state;
    struct mg_jsonrpc_body b;
    assert_int_equal(s_parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &b), MG_E_OK);
    assert_false(b.batch);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.msgs[0].kind, MG_JSONRPC_REQUEST);
    assert_string_equal(b.msgs[0].method, "ping");
    mg_jsonrpc_body_cleanup(&b);

    assert_int_equal(s_parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &b),
                     MG_E_OK);
    assert_int_equal(b.msgs[0].kind, MG_JSONRPC_NOTIFICATION);
    mg_jsonrpc_body_cleanup(&b);

    assert_int_equal(s_parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &b), MG_E_OK);
    assert_int_equal(b.msgs[0].kind, MG_JSONRPC_RESPONSE);
    mg_jsonrpc_body_cleanup(&b);

    assert_int_equal(s_parse("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
                             "{\"jsonrpc\":\"2.0\",\"method\":\"x\"},7]",
                             &b),
                     MG_E_OK);
    assert_true(b.batch);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.msgs[1].kind, MG_JSONRPC_NOTIFICATION);
    assert_int_equal(b.msgs[2].kind, MG_JSONRPC_INVALID);
    assert_int_equal(b.msgs[2].err_code, MG_JSONRPC_INVALID_REQUEST);
    mg_jsonrpc_body_cleanup(&b);
}

static void test_mcp_jsonrpc_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":3}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":5}",
        "{\"jsonrpc\":\"2.0\",\"id\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mg_jsonrpc_body b;
        assert_int_equal(s_parse(bad[i], &b), MG_E_OK);
        assert_int_equal(b.msgs[0].kind, MG_JSONRPC_INVALID);
        assert_int_equal(b.msgs[0].err_code, MG_JSONRPC_INVALID_REQUEST);
        mg_jsonrpc_body_cleanup(&b);
    }
    /* array params: -32602 for a request */
    struct mg_jsonrpc_body b;
    assert_int_equal(s_parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}",
                             &b),
                     MG_E_OK);
    assert_int_equal(b.msgs[0].err_code, MG_JSONRPC_INVALID_PARAMS);
    assert_non_null(b.msgs[0].id);
    mg_jsonrpc_body_cleanup(&b);
}

static void test_mcp_jsonrpc_limits(void **state)
{
    (void)state;
    struct mg_jsonrpc_body b;
    assert_int_equal(s_parse("{\"jsonrpc\":", &b), MG_E_PARSE);
    assert_int_equal(s_parse("", &b), MG_E_PARSE);
    assert_int_equal(s_parse("[]", &b), MG_E_INVALID);
    assert_int_equal(s_parse("42", &b), MG_E_INVALID);
    assert_int_equal(s_parse("\"\xff\"", &b), MG_E_PARSE);
    /* depth */
    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    assert_false(mg_jsonrpc_depth_ok(mg_slice_cstr(deep), 64));
    assert_int_equal(s_parse(deep, &b), MG_E_PARSE);
    deep[64] = ']';
    deep[128] = 0;
    assert_true(mg_jsonrpc_depth_ok(mg_slice_make(deep, 64), 64));
    /* brackets inside strings do not count */
    assert_true(mg_jsonrpc_depth_ok(mg_slice_cstr("{\"a\":\"[[[[[[[[[[[[\\\"[[[[\"}"), 2));
    /* batch length */
    struct mg_buf big;
    mg_buf_init(&big, 1 << 20);
    assert_int_equal(mg_buf_append_byte(&big, '['), MG_E_OK);
    for (int i = 0; i < MG_MCP_MAX_BATCH + 1; i++)
        assert_int_equal(mg_buf_printf(&big,
                                       "%s{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}",
                                       i ? "," : "", i),
                         MG_E_OK);
    assert_int_equal(mg_buf_append_byte(&big, ']'), MG_E_OK);
    assert_int_equal(mg_jsonrpc_parse(mg_buf_slice(&big), &b, NULL), MG_E_INVALID);
    mg_buf_cleanup(&big);
    /* id size */
    char idmsg[MG_MCP_MAX_ID + 100];
    int n = snprintf(idmsg, sizeof(idmsg),
                     "{\"jsonrpc\":\"2.0\",\"id\":\"%0*d\",\"method\":\"ping\"}", MG_MCP_MAX_ID + 1,
                     0);
    assert_true(n > 0);
    assert_int_equal(s_parse(idmsg, &b), MG_E_OK);
    assert_int_equal(b.msgs[0].kind, MG_JSONRPC_INVALID);
    assert_null(b.msgs[0].id);
    mg_jsonrpc_body_cleanup(&b);
}

static void test_mcp_jsonrpc_envelopes(void **state)
{
    (void)state;
    struct mg_buf out;
    mg_buf_init(&out, 4096);
    json_t *id = json_string("a\"b");
    assert_int_equal(mg_jsonrpc_error(&out, id, -32601, "Method not found: x", NULL), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out),
                        "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"error\":"
                        "{\"code\":-32601,\"message\":\"Method not found: x\"}}");
    mg_buf_reset(&out);
    assert_int_equal(mg_jsonrpc_error(&out, NULL, -32700, "Parse error", NULL), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
                                           "{\"code\":-32700,\"message\":\"Parse error\"}}");
    mg_buf_reset(&out);
    json_t *num = json_integer(-42);
    assert_int_equal(mg_jsonrpc_result_open(&out, num), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&out, "{}}"), MG_E_OK);
    json_t *back = json_loads(mg_buf_cstr(&out), 0, NULL);
    assert_non_null(back);
    assert_int_equal(json_integer_value(json_object_get(back, "id")), -42);
    json_decref(back);
    mg_buf_reset(&out);
    assert_int_equal(mg_mcp_tool_failure(&out, num, false, "secret detail"), MG_E_OK);
    assert_null(strstr(mg_buf_cstr(&out), "secret detail"));
    assert_non_null(strstr(mg_buf_cstr(&out), MG_MCP_GENERIC_ERROR));
    mg_buf_reset(&out);
    assert_int_equal(mg_mcp_tool_failure(&out, num, true, "secret detail"), MG_E_OK);
    back = json_loads(mg_buf_cstr(&out), 0, NULL);
    json_t *res = json_object_get(back, "result");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(json_object_get(res, "_meta"), "debug"),
                                            "text")),
                        "secret detail");
    json_decref(back);
    json_decref(num);
    json_decref(id);
    mg_buf_cleanup(&out);
}

/* ---- the fast path ---------------------------------------------------------------------------- */

static const uint8_t s_key[32] = {3};
static const char *const s_pages[] = {"[{\"name\":\"t___a\"},{\"name\":\"t___b\"}]",
                                      "[{\"name\":\"t___c\"}]"};
static const size_t s_page_lens[] = {sizeof("[{\"name\":\"t___a\"},{\"name\":\"t___b\"}]") - 1,
                                     sizeof("[{\"name\":\"t___c\"}]") - 1};

/* What the server answers for a body: the outcome, then each message's classification and, for
 * requests other than tools/call, what the handler writes. */
static void s_answer(struct mg_slice body, bool fast_path, struct mg_buf *out, bool *fast)
{
    static struct mg_env env;
    static struct mg_gateway gw;
    env.token_key = s_key;
    gw.id = "gw-test-0123456789";
    gw.catalog = (struct mg_tool_catalog){.n_tools = 3,
                                          .page_size = 2,
                                          .n_pages = 2,
                                          .page_json = s_pages,
                                          .page_json_len = s_page_lens,
                                          .version = 5};
    struct mg_jsonrpc_body b;
    struct mg_errinfo ei = {0};
    enum mg_err e = fast_path ? mg_jsonrpc_parse(body, &b, &ei)
                              : mg_jsonrpc_parse_tree(body, &b, &ei);
    assert_int_equal(mg_buf_printf(out, "%d %s\n", (int)e, ei.msg), MG_E_OK);
    *fast = e == MG_E_OK && b.n == 1 && b.msgs[0].fast;
    for (size_t i = 0; e == MG_E_OK && i < b.n; i++) {
        const struct mg_jsonrpc_msg *m = &b.msgs[i];
        assert_int_equal(mg_buf_printf(out, "%d %d %s %s ", (int)m->kind, m->err_code,
                                       m->method ? m->method : "-", m->err_msg ? m->err_msg : "-"),
                         MG_E_OK);
        assert_int_equal(mg_jsonrpc_append_id(out, m->id), MG_E_OK);
        if (m->kind != MG_JSONRPC_REQUEST || strcmp(m->method, "tools/call") == 0)
            continue;
        struct mg_buf slot;
        mg_buf_init(&slot, 1 << 20);
        struct mg_mcp_reply reply;
        memset(&reply, 0, sizeof(reply));
        reply.n_slots = 1;
        reply.slots = &slot;
        reply.batch = b.batch;
        struct mg_mcp_ctx c;
        memset(&c, 0, sizeof(c));
        c.env = &env;
        c.gw = &gw;
        c.caller = "anonymous";
        c.reply = &reply;
        mg_mcp_tools_request(&c, m);
        assert_int_equal(mg_buf_append_slice(out, mg_buf_slice(&slot)), MG_E_OK);
        mg_buf_cleanup(&slot);
    }
    if (e == MG_E_OK)
        mg_jsonrpc_body_cleanup(&b);
}

/* Asserts that body takes the fast path (or not) and that its answers equal the tree path's. */
static void s_same(struct mg_slice body, bool want_fast, const char *want_answer)
{
    struct mg_buf a, t;
    mg_buf_init(&a, 1 << 20);
    mg_buf_init(&t, 1 << 20);
    bool fast = false, tree_fast = true;
    s_answer(body, true, &a, &fast);
    s_answer(body, false, &t, &tree_fast);
    if (fast != want_fast)
        fail_msg("fast path %s for %.*s", fast ? "taken" : "not taken", (int)body.len,
                 (const char *)body.ptr);
    assert_false(tree_fast);
    assert_string_equal(mg_buf_cstr(&a), mg_buf_cstr(&t));
    if (want_answer && strstr(mg_buf_cstr(&a), want_answer) == NULL)
        fail_msg("%s lacks %s", mg_buf_cstr(&a), want_answer);
    mg_buf_cleanup(&a);
    mg_buf_cleanup(&t);
}

#define S_FAST(text, want) s_same(mg_slice_cstr(text), true, want)
#define S_TREE(text, want) s_same(mg_slice_cstr(text), false, want)

static void test_mcp_jsonrpc_fast(void **state)
{
    (void)state;
    S_FAST("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}",
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"t___a\"},"
           "{\"name\":\"t___b\"}],\"nextCursor\":\"");
    S_FAST("{\"method\":\"tools/list\",\"jsonrpc\":\"2.0\",\"id\":-0}", "\"id\":0,\"result\"");
    S_FAST(" {\"jsonrpc\" : \"2.0\" , \"id\" : \"a\\\"b\\u00e9\\ud83d\\ude00\\u0001\x7f\" ,"
           "\"method\":\"ping\"} ",
           "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\xc3\xa9\xf0\x9f\x98\x80\\u0001\\u007f\","
           "\"result\":{}}");
    S_FAST("{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":\"ping\"}",
           "\"id\":-9223372036854775808");
    S_FAST("{\"jsonrpc\":\"2.0\",\"id\":9223372036854775807,\"method\":\"ping\",\"params\":"
           "{\"x\":[1,{\"y\":null}]}}",
           "\"id\":9223372036854775807");
    S_FAST(
        "{\"jsonrpc\":\"2.0\",\"id\":\"\",\"method\":\"tools/list\",\"params\":{\"cursor\":null}}",
        "\"id\":\"\",\"result\":{\"tools\":[");
    S_FAST(
        "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{\"cursor\":\"nope\"}}",
        "{\"code\":-32602,\"message\":\"Invalid cursor\"}");
    S_FAST("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{\"cursor\":\"\"}}",
           "Invalid cursor");
    S_FAST("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL);
    S_FAST("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"a\":1}}",
           NULL);
    S_FAST("{\"jsonrpc\":\"\\u0032.0\",\"id\":1,\"\\u006dethod\":\"tools/list\"}",
           "\"id\":1,\"result\":{\"tools\"");
    /* an escaped method name is not looked for: the tree path answers it, the same way */
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools\\/list\"}",
           "\"id\":1,\"result\":{\"tools\"");
    /* an id as long as allowed, decoded */
    char doc[1024];
    int n = snprintf(doc, sizeof(doc),
                     "{\"jsonrpc\":\"2.0\",\"id\":\"\\u00e9%0*d\",\"method\":"
                     "\"ping\"}",
                     MG_MCP_MAX_ID - 2, 0);
    assert_true(n > 0);
    S_FAST(doc, "\"result\":{}");
    /* a valid cursor: the second page */
    struct mg_buf cur;
    mg_buf_init(&cur, 1024);
    assert_int_equal(mg_mcp_cursor_make(s_key, "gw-test-0123456789", 5, 1, &cur), MG_E_OK);
    n = snprintf(doc, sizeof(doc),
                 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"cursor\":"
                 "\"%s\",\"other\":{}}}",
                 mg_buf_cstr(&cur));
    assert_true(n > 0);
    S_FAST(doc, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"t___c\"}]}}");
    mg_buf_cleanup(&cur);

    /* the tree path: everything else, with the same answers */
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
           NULL);
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
           "{\"protocolVersion\":\"2025-06-18\"}}",
           "\"protocolVersion\":\"2025-06-18\"");
    S_TREE("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", "\"result\":{}");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}", "Method not found: nope");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", "id must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", "id must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1.0,\"method\":\"ping\"}", "id must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", "id must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":[],\"method\":\"ping\"}", "id must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}", "params must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":3}", "params must be");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":4}}",
           "Invalid cursor");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"cursor\":"
           "\"\\u0041\"}}",
           "Invalid cursor");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
           "{\"io.modelcontextprotocol/protocolVersion\":\"x\"}}}",
           NULL);
    S_TREE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":"
           "{\"requestId\":1}}",
           NULL);
    S_TREE("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/\\u0069nitialized\"}", NULL);
    S_TREE("{\"jsonrpc\":\"2.0\",\"method\":\"tools/list\"}", NULL); /* a notification */
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", NULL);
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"id\":2}", "duplicate object key");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"", "Parse error");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1e400,\"method\":\"ping\"}", "real number overflow");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"method\":\"ping\"}",
           "too big integer");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":\"\\ud800\",\"method\":\"ping\"}", "invalid Unicode");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":\"\xed\xa0\x80\",\"method\":\"ping\"}",
           "unable to decode byte");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":\"a\nb\",\"method\":\"ping\"}", "unexpected newline");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} x", "end of file expected");
    S_TREE("{\"jsonrpc\":\"2.0\",\"id\":01,\"method\":\"ping\"}", "Parse error");
    S_TREE(
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":"
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "nested deeper than 64");
    S_TREE("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", "jsonrpc must be");
    n = snprintf(doc, sizeof(doc), "{\"jsonrpc\":\"2.0\",\"id\":\"%0*d\",\"method\":\"ping\"}",
                 MG_MCP_MAX_ID + 1, 0);
    assert_true(n > 0);
    S_TREE(doc, "id is too long");
    /* a NUL byte jansson skips after a number: the same answer either way */
    s_same(MG_SLICE_LIT("{\"jsonrpc\":\"2.0\",\"id\":5\0,\"method\":\"ping\"}"), true,
           "\"id\":5,\"result\":{}");
    /* larger than the fast path reads */
    struct mg_buf big;
    mg_buf_init(&big, 1 << 20);
    assert_int_equal(mg_buf_append_cstr(&big, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
                                              "\"params\":{\"pad\":\""),
                     MG_E_OK);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(mg_buf_append_byte(&big, 'x'), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&big, "\"}}"), MG_E_OK);
    s_same(mg_buf_slice(&big), false, "\"result\":{}");
    mg_buf_cleanup(&big);
}

static void test_mcp_versions(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_version_parse(MG_SLICE_LIT("2025-06-18")), MG_MCP_V_2025_06_18);
    assert_int_equal(mg_mcp_version_parse(MG_SLICE_LIT("2026-07-28")), MG_MCP_V_NONE);
    const char *only[] = {"2025-03-26", "2026-07-28"};
    struct mg_gateway gw;
    memset(&gw, 0, sizeof(gw));
    assert_true(mg_mcp_gateway_supports(&gw, MG_MCP_V_2025_11_25));
    gw.supported_versions = only;
    gw.n_supported_versions = 2;
    assert_false(mg_mcp_gateway_supports(&gw, MG_MCP_V_2025_11_25));
    assert_int_equal(mg_mcp_gateway_latest(&gw), MG_MCP_V_2025_03_26);
    char list[64];
    mg_mcp_gateway_versions_text(&gw, list, sizeof(list));
    assert_string_equal(list, "2025-03-26");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_jsonrpc_kinds),  cmocka_unit_test(test_mcp_jsonrpc_invalid),
        cmocka_unit_test(test_mcp_jsonrpc_limits), cmocka_unit_test(test_mcp_jsonrpc_envelopes),
        cmocka_unit_test(test_mcp_versions),       cmocka_unit_test(test_mcp_jsonrpc_fast),
    };
    return MG_RUN_TESTS(tests);
}
