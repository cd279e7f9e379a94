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
        cmocka_unit_test(test_mcp_versions),
    };
    return MG_RUN_TESTS(tests);
}
