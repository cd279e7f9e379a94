/* tools/call of Smithy targets: endpoint choice, signing scope, results with AWS error types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/smithy_target.h"
#include "unit/leaks.h"

static json_t *s_call(const char *sn, const char *prefix)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "protocol", "restJson1",
                          "signingName", sn, "endpointPrefix", prefix, "targetPrefix", "Svc",
                          "operation", "ListFunctions", "method", "GET", "uri",
                          "/2015-03-31/functions/", "bindings");
    assert_non_null(c);
    return c;
}

static void test_smithy_endpoint(void **state)
{
    (void)state;
    struct mg_env env = {.region = "us-east-1", .public_url = "http://127.0.0.1:4777/"};
    char out[256], msg[256];
    json_t *c = s_call("lambda", "lambda");
    assert_int_equal(mg_mcp_smithy_endpoint(&env, "us-east-1", c, out, sizeof(out), msg,
                                            sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(out, "http://127.0.0.1:4777");
    json_decref(c);

    c = s_call("dynamodb", "dynamodb");
    assert_int_equal(mg_mcp_smithy_endpoint(&env, "eu-west-1", c, out, sizeof(out), msg,
                                            sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(out, "https://dynamodb.eu-west-1.amazonaws.com");
    json_decref(c);

    /* the override, by signing name */
    setenv("MCPGATE_SMITHY_ENDPOINT_EXAMPLE_SVC", "http://127.0.0.1:9/", 1);
    c = s_call("example-svc", "example");
    assert_int_equal(mg_mcp_smithy_endpoint(&env, "us-east-1", c, out, sizeof(out), msg,
                                            sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(out, "http://127.0.0.1:9");
    unsetenv("MCPGATE_SMITHY_ENDPOINT_EXAMPLE_SVC");
    json_decref(c);

    /* a prefix that cannot be a host name */
    c = s_call("x", "a/b");
    assert_int_equal(mg_mcp_smithy_endpoint(&env, "us-east-1", c, out, sizeof(out), msg,
                                            sizeof(msg)),
                     MG_E_INVALID);
    json_decref(c);
}

static void test_smithy_build_scope(void **state)
{
    (void)state;
    struct mg_env env = {.region = "us-east-1", .public_url = "http://127.0.0.1:4777"};
    json_t *c = s_call("lambda", "lambda");
    struct mg_vault_cred cred = {.type = MG_CRED_GATEWAY_IAM_ROLE};
    struct mg_target_req req;
    mg_target_req_init(&req);
    char msg[256];
    json_t *args = json_object();
    enum mg_err e = mg_mcp_smithy_build(&env, c, args, "us-west-2", &cred, &req, msg, sizeof(msg));
    if (e != MG_E_OK)
        fprintf(stderr, "%s\n", msg);
    assert_int_equal(e, MG_E_OK);
    assert_string_equal(cred.service, "lambda");
    assert_string_equal(cred.region, "us-west-2");
    assert_string_equal(mg_buf_cstr(&req.url), "http://127.0.0.1:4777/2015-03-31/functions/");
    assert_string_equal(req.method, "GET");
    mg_target_req_cleanup(&req);
    json_decref(args);
    json_decref(c);
}

static json_t *s_result(long status, const char *headers, const char *body)
{
    struct mg_http_out_resp r = {.status = status};
    mg_buf_init(&r.headers, 4096);
    mg_buf_init(&r.body, 4096);
    assert_int_equal(mg_buf_append_cstr(&r.headers, headers), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&r.body, body), MG_E_OK);
    json_t *out = mg_mcp_smithy_result(NULL, &r);
    mg_buf_cleanup(&r.headers);
    mg_buf_cleanup(&r.body);
    assert_non_null(out);
    return out;
}

static const char *s_text(const json_t *r)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(r, "content"), 0), "text"));
}

static void test_smithy_result_header(void **state)
{
    (void)state;
    json_t *r = s_result(403,
                         "content-type: application/json\r\n"
                         "x-amzn-errortype: AccessDeniedException:http://internal\r\n",
                         "{\"Message\":\"not authorized\"}");
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_string_equal(s_text(r), "AccessDeniedException: not authorized");
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(r, "structuredContent"), "type")),
                        "AccessDeniedException");
    json_decref(r);
    /* the body's type wins */
    r = s_result(400, "x-amzn-errortype: Other\r\n",
                 "{\"__type\":\"ValidationException\",\"message\":\"m\"}");
    assert_string_equal(s_text(r), "ValidationException: m");
    json_decref(r);
    r = s_result(200, "x-amzn-errortype: Other\r\n", "{\"a\":1}");
    assert_null(json_object_get(r, "isError"));
    assert_string_equal(s_text(r), "{\"a\":1}");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smithy_endpoint),
        cmocka_unit_test(test_smithy_build_scope),
        cmocka_unit_test(test_smithy_result_header),
    };
    return MG_RUN_TESTS(tests);
}
