/* The pure parts of the MCP client of MCP-server targets: requests, JSON and SSE answers, tools
 * in the "_tools" shape, limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "targets/mcp_client.h"
#include "unit/leaks.h"

#define JSON_CT MG_SLICE_LIT("application/json")
#define SSE_CT MG_SLICE_LIT("text/event-stream")

static json_t *s_load(struct mg_buf *b)
{
    json_t *v = json_loadb((const char *)b->ptr, b->len, 0, NULL);
    assert_non_null(v);
    return v;
}

static void test_mcp_client_requests(void **state)
{
    (void)state;
    struct mg_buf b;
    mg_buf_init(&b, 1 << 16);
    assert_int_equal(mg_mcp_client_initialize(&b, 1), MG_E_OK);
    json_t *v = s_load(&b);
    assert_string_equal(json_string_value(json_object_get(v, "method")), "initialize");
    assert_int_equal(json_integer_value(json_object_get(v, "id")), 1);
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(v, "params"), "protocolVersion")),
                        "2025-11-25");
    assert_true(json_is_object(json_object_get(json_object_get(v, "params"), "clientInfo")));
    json_decref(v);

    mg_buf_reset(&b);
    assert_int_equal(mg_mcp_client_initialized(&b), MG_E_OK);
    v = s_load(&b);
    assert_null(json_object_get(v, "id"));
    assert_string_equal(json_string_value(json_object_get(v, "method")),
                        "notifications/initialized");
    json_decref(v);

    mg_buf_reset(&b);
    assert_int_equal(mg_mcp_client_list(&b, 7, NULL), MG_E_OK);
    v = s_load(&b);
    assert_null(json_object_get(json_object_get(v, "params"), "cursor"));
    json_decref(v);
    mg_buf_reset(&b);
    assert_int_equal(mg_mcp_client_list(&b, 8, "c\"2"), MG_E_OK);
    v = s_load(&b);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "params"), "cursor")),
                        "c\"2");
    json_decref(v);

    mg_buf_reset(&b);
    json_t *args = json_pack("{s:i}", "a", 3);
    assert_int_equal(mg_mcp_client_call(&b, 9, "add", args), MG_E_OK);
    json_decref(args);
    v = s_load(&b);
    json_t *p = json_object_get(v, "params");
    assert_string_equal(json_string_value(json_object_get(p, "name")), "add");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "arguments"), "a")), 3);
    json_decref(v);
    mg_buf_reset(&b);
    assert_int_equal(mg_mcp_client_call(&b, 10, "x", NULL), MG_E_OK);
    v = s_load(&b);
    assert_true(json_is_object(json_object_get(json_object_get(v, "params"), "arguments")));
    json_decref(v);
    mg_buf_cleanup(&b);

    assert_true(mg_mcp_client_version_ok(MG_SLICE_LIT("2025-03-26")));
    assert_true(mg_mcp_client_version_ok(MG_SLICE_LIT("2025-06-18")));
    assert_true(mg_mcp_client_version_ok(MG_SLICE_LIT("2025-11-25")));
    assert_false(mg_mcp_client_version_ok(MG_SLICE_LIT("2024-11-05")));
    assert_false(mg_mcp_client_version_ok(MG_SLICE_LIT("")));
}

static void test_mcp_client_post_headers(void **state)
{
    (void)state;
    struct mg_target_req r;
    mg_target_req_init(&r);
    assert_int_equal(mg_mcp_client_post(&r, "http://127.0.0.1:1/mcp", MG_SLICE_LIT("{}"), "abc-1",
                                        "2025-06-18"),
                     MG_E_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(mg_buf_cstr(&r.url), "http://127.0.0.1:1/mcp");
    assert_string_equal(mg_target_req_header_value(&r, "accept"),
                        "application/json, text/event-stream");
    assert_string_equal(mg_target_req_header_value(&r, "content-type"), "application/json");
    assert_string_equal(mg_target_req_header_value(&r, "mcp-session-id"), "abc-1");
    assert_string_equal(mg_target_req_header_value(&r, "mcp-protocol-version"), "2025-06-18");
    assert_int_equal(r.body.len, 2);
    mg_target_req_cleanup(&r);

    /* before initialize: neither header */
    mg_target_req_init(&r);
    assert_int_equal(mg_mcp_client_post(&r, "https://x/mcp", MG_SLICE_LIT("{}"), NULL, NULL),
                     MG_E_OK);
    assert_null(mg_target_req_header_value(&r, "mcp-session-id"));
    assert_null(mg_target_req_header_value(&r, "mcp-protocol-version"));
    mg_target_req_cleanup(&r);

    /* a session id outside visible ASCII (header injection) is refused */
    mg_target_req_init(&r);
    assert_int_equal(mg_mcp_client_post(&r, "https://x/mcp", MG_SLICE_LIT("{}"), "a b", NULL),
                     MG_E_INVALID);
    mg_target_req_cleanup(&r);
    mg_target_req_init(&r);
    assert_int_equal(mg_mcp_client_post(&r, "https://x/mcp", MG_SLICE_LIT("{}"), "a\r\nX: y", NULL),
                     MG_E_INVALID);
    mg_target_req_cleanup(&r);
}

static enum mg_err s_answer(struct mg_slice ct, const char *body, int64_t id, json_t **resp)
{
    char msg[160];
    return mg_mcp_client_answer(ct, mg_slice_cstr(body), id, resp, msg, sizeof(msg));
}

static void test_mcp_client_json_answer(void **state)
{
    (void)state;
    json_t *r = NULL;
    assert_int_equal(s_answer(MG_SLICE_LIT("application/json; charset=utf-8"),
                              "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"x\":1}}", 3, &r),
                     MG_E_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"), "x")), 1);
    json_decref(r);
    /* an error response is a response */
    assert_int_equal(s_answer(JSON_CT,
                              "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32602,"
                              "\"message\":\"bad\"}}",
                              3, &r),
                     MG_E_OK);
    assert_non_null(json_object_get(r, "error"));
    json_decref(r);
    /* another id, a string id, a request carrying our id: not ours */
    assert_int_equal(s_answer(JSON_CT, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}", 3, &r),
                     MG_E_NOT_FOUND);
    assert_null(r);
    assert_int_equal(s_answer(JSON_CT, "{\"jsonrpc\":\"2.0\",\"id\":\"3\",\"result\":{}}", 3, &r),
                     MG_E_NOT_FOUND);
    assert_int_equal(s_answer(JSON_CT,
                              "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\",\"result\":{}}", 3,
                              &r),
                     MG_E_NOT_FOUND);
    /* a batch holding it */
    assert_int_equal(s_answer(JSON_CT,
                              "[{\"jsonrpc\":\"2.0\",\"method\":\"x\"},"
                              "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"ok\":true}}]",
                              3, &r),
                     MG_E_OK);
    json_decref(r);
    /* garbage, wrong content types */
    assert_int_equal(s_answer(JSON_CT, "{\"jsonrpc\":", 3, &r), MG_E_PARSE);
    assert_int_equal(s_answer(JSON_CT, "", 3, &r), MG_E_PARSE);
    assert_int_equal(s_answer(MG_SLICE_LIT("text/html"), "<html>", 3, &r), MG_E_PARSE);
    assert_int_equal(s_answer(MG_SLICE_LIT(""), "{}", 3, &r), MG_E_PARSE);
    assert_null(r);
}

static void test_mcp_client_sse_answer(void **state)
{
    (void)state;
    json_t *r = NULL;
    /* the SDK's shape: a priming event, a notification, a server request, then the response */
    const char *sse = "id: 0\ndata: \n\n"
                      ": a comment\n\n"
                      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":"
                      "\"notifications/progress\",\"params\":{}}\n\n"
                      "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
                      "\"sampling/createMessage\",\"params\":{}}\n\n"
                      "event: message\nid: 9\ndata: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":"
                      "{\"content\":[]}}\n\n";
    assert_int_equal(s_answer(SSE_CT, sse, 3, &r), MG_E_OK);
    assert_true(json_is_array(json_object_get(json_object_get(r, "result"), "content")));
    json_decref(r);
    /* data split over several lines, CRLF endings, no space after the colon, no final blank */
    const char *multi = "event: message\r\ndata:{\"jsonrpc\":\"2.0\",\r\ndata: \"id\":5,\r\n"
                        "data: \"result\":{\"n\":2}}";
    assert_int_equal(s_answer(MG_SLICE_LIT("text/event-stream; charset=utf-8"), multi, 5, &r),
                     MG_E_OK);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "result"), "n")), 2);
    json_decref(r);
    /* CR-only line endings */
    assert_int_equal(s_answer(SSE_CT, "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\r", 1,
                              &r),
                     MG_E_OK);
    json_decref(r);
    /* a malformed event before the response does not hide it */
    assert_int_equal(
        s_answer(SSE_CT, "data: {nope\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n", 1,
                 &r),
        MG_E_OK);
    json_decref(r);
    /* no response: only notifications, only garbage, empty */
    assert_int_equal(s_answer(SSE_CT, "data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n", 1, &r),
                     MG_E_NOT_FOUND);
    assert_null(r);
    assert_int_equal(s_answer(SSE_CT, "data: {nope\n\n", 1, &r), MG_E_PARSE);
    assert_int_equal(s_answer(SSE_CT, "", 1, &r), MG_E_NOT_FOUND);
    assert_int_equal(s_answer(SSE_CT, "\n\n\n", 1, &r), MG_E_NOT_FOUND);
    assert_null(r);
}

static void test_mcp_client_answer_limits(void **state)
{
    (void)state;
    json_t *r = NULL;
    /* too many events before the response */
    struct mg_buf b;
    mg_buf_init(&b, 1 << 20);
    for (int i = 0; i < MG_MCP_CLIENT_MAX_EVENTS + 1; i++)
        assert_int_equal(mg_buf_append_cstr(&b, "data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"),
                         MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&b,
                                        "data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"),
                     MG_E_OK);
    char msg[160];
    assert_int_equal(mg_mcp_client_answer(SSE_CT, mg_buf_slice(&b), 1, &r, msg, sizeof(msg)),
                     MG_E_TOO_LARGE);
    assert_null(r);
    assert_non_null(strstr(msg, "events"));
    /* nesting beyond the limit, as JSON and as SSE */
    mg_buf_reset(&b);
    assert_int_equal(mg_buf_append_cstr(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"), MG_E_OK);
    for (int i = 0; i < MG_MCP_CLIENT_MAX_DEPTH + 1; i++)
        assert_int_equal(mg_buf_append_byte(&b, '['), MG_E_OK);
    for (int i = 0; i < MG_MCP_CLIENT_MAX_DEPTH + 1; i++)
        assert_int_equal(mg_buf_append_byte(&b, ']'), MG_E_OK);
    assert_int_equal(mg_buf_append_byte(&b, '}'), MG_E_OK);
    assert_int_equal(mg_mcp_client_answer(JSON_CT, mg_buf_slice(&b), 1, &r, msg, sizeof(msg)),
                     MG_E_PARSE);
    assert_null(r);
    /* brackets inside strings do not count */
    mg_buf_reset(&b);
    assert_int_equal(mg_buf_append_cstr(&b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"s\":\""),
                     MG_E_OK);
    for (int i = 0; i < 200; i++)
        assert_int_equal(mg_buf_append_cstr(&b, "[{\\\""), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&b, "\"}}"), MG_E_OK);
    assert_int_equal(mg_mcp_client_answer(JSON_CT, mg_buf_slice(&b), 1, &r, msg, sizeof(msg)),
                     MG_E_OK);
    json_decref(r);
    mg_buf_cleanup(&b);
}

static void test_mcp_client_tools(void **state)
{
    (void)state;
    struct mg_target_limits lim = {.max_tools = 3, .max_name = 20, .target_name_len = 4};
    json_t *tools = json_array();
    char *cursor = NULL;
    char msg[512];
    json_t *page = json_loads("{\"tools\":[{\"name\":\"add\",\"description\":\"Adds\","
                              "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":"
                              "{\"type\":\"number\"}}},\"outputSchema\":{\"type\":\"object\"},"
                              "\"annotations\":{\"readOnlyHint\":true}},{\"name\":\"b.c-d_e\"}],"
                              "\"nextCursor\":\"p2\"}",
                              0, NULL);
    assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                     MG_E_OK);
    json_decref(page);
    assert_string_equal(cursor, "p2");
    mg_free(cursor);
    assert_int_equal(json_array_size(tools), 2);
    json_t *t0 = json_array_get(tools, 0);
    assert_string_equal(json_string_value(json_object_get(t0, "name")), "add");
    assert_string_equal(json_string_value(json_object_get(t0, "description")), "Adds");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t0, "_call"), "tool")),
                        "add");
    assert_true(json_is_object(json_object_get(t0, "outputSchema")));
    assert_true(json_is_object(json_object_get(t0, "annotations")));
    json_t *t1 = json_array_get(tools, 1);
    assert_string_equal(json_string_value(json_object_get(t1, "description")), "");
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(t1, "inputSchema"), "type")),
                        "object");

    /* the last page: no cursor */
    page = json_loads("{\"tools\":[{\"name\":\"z\"}],\"nextCursor\":null}", 0, NULL);
    assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                     MG_E_OK);
    json_decref(page);
    assert_null(cursor);
    /* quota: a fourth tool */
    page = json_loads("{\"tools\":[{\"name\":\"w\"}]}", 0, NULL);
    assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                     MG_E_INVALID);
    json_decref(page);
    assert_non_null(strstr(msg, "more than 3 tools"));
    lim.max_tools = 100;
    /* duplicate */
    page = json_loads("{\"tools\":[{\"name\":\"add\"}]}", 0, NULL);
    assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                     MG_E_INVALID);
    json_decref(page);
    assert_non_null(strstr(msg, "Duplicate tool"));
    /* names outside the alphabet, too long with the prefix (4 + 3 + 14 > 20), missing */
    const char *bad[] = {"{\"tools\":[{\"name\":\"a b\"}]}",
                         "{\"tools\":[{\"name\":\"\"}]}",
                         "{\"tools\":[{\"name\":\"x/y\"}]}",
                         "{\"tools\":[{\"name\":\"abcdefghijklmn\"}]}",
                         "{\"tools\":[{\"description\":\"x\"}]}",
                         "{\"tools\":[7]}",
                         "{\"tools\":{}}",
                         "{}",
                         "{\"tools\":[],\"nextCursor\":5}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        page = json_loads(bad[i], 0, NULL);
        assert_non_null(page);
        assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                         MG_E_INVALID);
        assert_null(cursor);
        assert_true(msg[0] != 0);
        json_decref(page);
    }
    page = json_loads("{\"tools\":[{\"name\":\"abcdefghijklm\"}]}", 0, NULL); /* exactly 20 */
    assert_int_equal(mg_mcp_client_add_tools(tools, page, &lim, &cursor, msg, sizeof(msg)),
                     MG_E_OK);
    json_decref(page);
    assert_int_equal(json_array_size(tools), 4);
    json_decref(tools);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_client_requests),
        cmocka_unit_test(test_mcp_client_post_headers),
        cmocka_unit_test(test_mcp_client_json_answer),
        cmocka_unit_test(test_mcp_client_sse_answer),
        cmocka_unit_test(test_mcp_client_answer_limits),
        cmocka_unit_test(test_mcp_client_tools),
    };
    return MG_RUN_TESTS(tests);
}
