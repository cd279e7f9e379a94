/* The JSON Schema subset that checks tools/call arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "mcp/internal.h"
#include "unit/leaks.h"

static bool s_ok(const char *schema, const char *value, char *msg)
{
    json_t *s = json_loads(schema, JSON_DECODE_ANY, NULL);
    json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
    assert_non_null(s);
    assert_non_null(v);
    bool ok = mg_mcp_schema_check(s, v, msg, 256);
    json_decref(s);
    json_decref(v);
    return ok;
}

static void test_mcp_schema_types(void **state)
{
    (void)state;
    char m[256];
    const char *sch =
        "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},"
        "\"i\":{\"type\":\"integer\"},\"n\":{\"type\":\"number\"},"
        "\"b\":{\"type\":\"boolean\"},\"a\":{\"type\":\"array\",\"items\":"
        "{\"type\":\"string\"}},\"o\":{\"type\":\"object\"},\"z\":{\"type\":\"null\"},"
        "\"u\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"s\"]}";
    assert_true(s_ok(sch,
                     "{\"s\":\"x\",\"i\":3,\"n\":1.5,\"b\":false,\"a\":[\"p\"],\"o\":{},"
                     "\"z\":null,\"u\":null,\"extra\":1}",
                     m));
    assert_true(s_ok(sch, "{\"s\":\"x\",\"i\":3.0}", m)); /* 3.0 is an integer */
    assert_false(s_ok(sch, "{}", m));
    assert_string_equal(m, "arguments: missing required property \"s\"");
    assert_false(s_ok(sch, "{\"s\":1}", m));
    assert_string_equal(m, "arguments.s: expected string");
    assert_false(s_ok(sch, "{\"s\":\"x\",\"i\":1.5}", m));
    assert_false(s_ok(sch, "{\"s\":\"x\",\"n\":\"1\"}", m));
    assert_false(s_ok(sch, "{\"s\":\"x\",\"b\":0}", m));
    assert_false(s_ok(sch, "{\"s\":\"x\",\"a\":[\"p\",2]}", m));
    assert_string_equal(m, "arguments.a[1]: expected string");
    assert_false(s_ok(sch, "{\"s\":\"x\",\"o\":[]}", m));
    assert_false(s_ok(sch, "{\"s\":\"x\",\"u\":5}", m));
    assert_false(s_ok(sch, "[]", m));
}

static void test_mcp_schema_keywords(void **state)
{
    (void)state;
    char m[256];
    assert_true(s_ok("{\"enum\":[\"a\",1]}", "1", m));
    assert_false(s_ok("{\"enum\":[\"a\",1]}", "\"b\"", m));
    assert_false(s_ok("{\"const\":3}", "4", m));
    assert_false(s_ok("{\"minimum\":2}", "1", m));
    assert_false(s_ok("{\"maximum\":2}", "3", m));
    assert_true(s_ok("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"", m)); /* code points */
    assert_false(s_ok("{\"minLength\":3}", "\"ab\"", m));
    assert_false(s_ok("{\"maxItems\":1}", "[1,2]", m));
    assert_false(s_ok("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":"
                      "{\"a\":{}}}",
                      "{\"a\":1,\"b\":2}", m));
    assert_string_equal(m, "arguments.b: is not an allowed property");
    assert_false(s_ok("{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"b\":\"x\"}", m));
    /* nested required */
    assert_false(s_ok("{\"properties\":{\"p\":{\"type\":\"object\",\"required\":[\"q\"]}}}",
                      "{\"p\":{}}", m));
    assert_string_equal(m, "arguments.p: missing required property \"q\"");
    /* unknown keywords and types pass; true/false schemas */
    assert_true(s_ok("{\"format\":\"email\",\"pattern\":\"^x$\"}", "\"y\"", m));
    assert_true(s_ok("true", "{}", m));
    assert_false(s_ok("false", "{}", m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_schema_types),
        cmocka_unit_test(test_mcp_schema_keywords),
    };
    return MG_RUN_TESTS(tests);
}
