/* base/jscan.h: the strict JSON reader, checked against a corpus and, for every entry, against
 * jansson with the flags of mg_jsonrpc_parse (the reader must accept exactly what jansson does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jscan.h"
#include "unit/leaks.h"

#define S_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)
#define S_DEPTH 64

/* Reads len bytes of doc; asserts the result and that jansson agrees (depth within S_DEPTH). */
static void s_check_n(const char *doc, size_t len, enum mg_jscan_result want)
{
    struct mg_jscan_value top;
    enum mg_jscan_result r = mg_jscan(mg_slice_make(doc, len), S_DEPTH, NULL, 0, &top, NULL);
    if (r != want)
        fail_msg("jscan gives %d, not %d, for: %.*s", (int)r, (int)want, (int)len, doc);
    if (want == MG_JSCAN_UNSURE)
        return;
    json_error_t err;
    json_t *j = json_loadb(doc, len, S_FLAGS, &err);
    bool deep = false;
    int d = 0;
    for (size_t i = 0; i < len; i++) /* valid documents only: strings hold no brackets here */
        if (doc[i] == '[' || doc[i] == '{')
            deep = deep || ++d > S_DEPTH;
        else if (doc[i] == ']' || doc[i] == '}')
            d--;
    bool jansson_ok = j != NULL && !deep;
    json_decref(j);
    if (jansson_ok != (want == MG_JSCAN_OK))
        fail_msg("jansson %s: %.*s (%s)", jansson_ok ? "accepts" : "refuses", (int)len, doc,
                 j ? "" : err.text);
}

static void s_check(const char *doc, enum mg_jscan_result want)
{
    s_check_n(doc, strlen(doc), want);
}

#define S_OK(doc) s_check(doc, MG_JSCAN_OK)
#define S_BAD(doc) s_check(doc, MG_JSCAN_INVALID)

static void test_jscan_valid(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "{}",
        "[]",
        " \t\r\n{} \n",
        "0",
        "-0",
        "1",
        "-1",
        "-0.0",
        "0.5",
        "1e5",
        "1E+5",
        "1e-5",
        "1e-400",
        "1.5e308",
        "1.7976931348623157e308",
        "-1.7976931348623157e308",
        "9223372036854775807",
        "-9223372036854775808",
        "\"\"",
        "\"a\"",
        "true",
        "false",
        "null",
        "{\"a\":[1,2,{\"b\":null}],\"c\":{\"d\":\"e\"}}",
        "[1,-2.5e-3,\"x\",true,false,null,[],{}]",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\ud83d\\ude00\\uFFFF\"",
        "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
        "\"\x7f\"",
        "\"\\u0000\"",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":1,\"b\":1,\"A\":1}",
        "{\"a\":1,\"\\u0061b\":1}",
        "{\"\\u00e9\":1,\"\xc3\xa8\":2}",
        "[0,-0,0e0,0.0e-0]",
        "{\"\":1,\"\\u0020\":2}",
        "[1e-99999999999999999999]",
        "0.000000000000000000000000000000000000001e-5",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        S_OK(docs[i]);
}

static void test_jscan_invalid(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:2}",
        "{a:1}",
        "[1 2]",
        "{} {}",
        "{}x",
        "{}]",
        "'a'",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "+1",
        "1e",
        "1e+",
        "1E-",
        "-",
        "-a",
        "1.e5",
        "0x10",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e309",
        "2e308",
        "1.8e308",
        "9223372036854775808",
        "-9223372036854775809",
        "12345678901234567890",
        "100000000000000000000000",
        "tru",
        "truex",
        "nul",
        "True",
        "NULL",
        "[true1]",
        "[1true]",
        "[1-2]",
        "1.5e3.",
        "\"abc",
        "\"\x01\"",
        "\"a\nb\"",
        "\"\t\"",
        "\"\\x\"",
        "\"\\u12g4\"",
        "\"\\u123\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"\\ud800x\"",
        "\"\\ud800\\\"",
        "\"\\ud800\\ud800\"",
        "\"\xc0\x80\"",
        "\"\xc1\xbf\"",
        "\"\xe0\x80\x80\"",
        "\"\xed\xa0\x80\"",
        "\"\xed\xbf\xbf\"",
        "\"\xf0\x80\x80\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xf5\x80\x80\x80\"",
        "\"\xff\"",
        "\"\xfe\"",
        "\"\x80\"",
        "\"\xc3\"",
        "\"\xe2\x82\"",
        "\"\xc3\x28\"",
        "\xef\xbb\xbf{}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"\\u00e9\":1,\"\xc3\xa9\":2}",
        "[{\"x\":{\"y\":1,\"y\":2}}]",
        "{\"\\u0000\":1}",
        "{\"a\\u0000b\":1}",
        "\xc3\xa9",
        "[\"a\"\"b\"]",
        "/* */{}",
        "{}//",
        "[1,2",
        "[\"\\u00\"]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
        S_BAD(docs[i]);
}

/* jansson loses one NUL byte right after a number or a literal. */
static void test_jscan_nul_bytes(void **state)
{
    (void)state;
    s_check_n("[1\0]", 4, MG_JSCAN_OK);
    s_check_n("1\0", 2, MG_JSCAN_OK);
    s_check_n("{\"a\":true\0}", 11, MG_JSCAN_OK);
    s_check_n("[null\0,2.5\0]", 12, MG_JSCAN_OK);
    s_check_n("[1\0\0]", 5, MG_JSCAN_INVALID);
    s_check_n("[\"a\"\0]", 6, MG_JSCAN_INVALID);
    s_check_n("\0{}", 3, MG_JSCAN_INVALID);
    s_check_n("{}\0", 3, MG_JSCAN_INVALID);
    s_check_n("[1,\0 2]", 7, MG_JSCAN_INVALID);
    s_check_n("\"a\0b\"", 5, MG_JSCAN_INVALID);
    s_check_n("[-\0]", 4, MG_JSCAN_INVALID);
}

static void s_nest(char *buf, int depth, bool objects)
{
    size_t k = 0;
    for (int i = 0; i < depth; i++) {
        if (objects) {
            memcpy(buf + k, "{\"a\":", 5);
            k += 5;
        } else {
            buf[k++] = '[';
        }
    }
    buf[k++] = '1';
    for (int i = 0; i < depth; i++)
        buf[k++] = objects ? '}' : ']';
    buf[k] = 0;
}

static void test_jscan_depth(void **state)
{
    (void)state;
    char buf[8192];
    s_nest(buf, S_DEPTH, false);
    S_OK(buf);
    s_nest(buf, S_DEPTH + 1, false);
    S_BAD(buf);
    s_nest(buf, S_DEPTH, true);
    S_OK(buf);
    s_nest(buf, S_DEPTH + 1, true);
    S_BAD(buf);
    s_nest(buf, 1000, false);
    S_BAD(buf);
    struct mg_jscan_value top;
    s_nest(buf, 200, false);
    assert_int_equal(mg_jscan(mg_slice_cstr(buf), 200, NULL, 0, &top, NULL), MG_JSCAN_OK);
    assert_int_equal(mg_jscan(mg_slice_cstr(buf), 199, NULL, 0, &top, NULL), MG_JSCAN_INVALID);
}

/* 2^1024 - 2^970: the smallest decimal strtod rounds to infinity. */
static const char s_limit[] =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797"
    "75872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548"
    "45817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
    "559699508093042880177904174497792";

static bool s_strtod_overflows(const char *s)
{
    errno = 0;
    double d = strtod(s, NULL);
    return errno == ERANGE && isinf(d);
}

static void test_jscan_real_limit(void **state)
{
    (void)state;
    char buf[1024];
    /* the limit itself, as a real: overflows */
    snprintf(buf, sizeof(buf), "%s.0", s_limit);
    assert_true(s_strtod_overflows(buf));
    S_BAD(buf);
    /* one less: DBL_MAX */
    snprintf(buf, sizeof(buf), "%s.0", s_limit);
    buf[strlen(s_limit) - 1] = '1';
    assert_false(s_strtod_overflows(buf));
    S_OK(buf);
    /* one less and a fraction that does not reach it */
    snprintf(buf, sizeof(buf), "%.*s1.999999e0", (int)strlen(s_limit) - 1, s_limit);
    S_OK(buf);
    /* the limit and a tiny fraction */
    snprintf(buf, sizeof(buf), "%s.0000001", s_limit);
    S_BAD(buf);
    /* scaled: 0.LIMIT e309 and 0.00LIMIT e311, and one digit less */
    snprintf(buf, sizeof(buf), "0.%se309", s_limit);
    S_BAD(buf);
    snprintf(buf, sizeof(buf), "-0.00%sE+311", s_limit);
    S_BAD(buf);
    snprintf(buf, sizeof(buf), "0.%.*se309", (int)strlen(s_limit) - 1, s_limit);
    S_OK(buf);
    snprintf(buf, sizeof(buf), "%.20se288", s_limit);
    S_OK(buf); /* 17976931348623158079e288: below the limit */
    snprintf(buf, sizeof(buf), "%.17se292", s_limit);
    S_OK(buf); /* 17976931348623158e292: still below */
    assert_false(s_strtod_overflows(buf));
    snprintf(buf, sizeof(buf), "%.16s9e292", s_limit);
    S_BAD(buf); /* 17976931348623159e292: past it */
    assert_true(s_strtod_overflows(buf));
    snprintf(buf, sizeof(buf), "000000000000000000000000000000000000000000000000%s", ".5e309");
    S_BAD(buf); /* leading zeros: not JSON */
}

static void test_jscan_keys(void **state)
{
    (void)state;
    /* more keys open at once than the reader compares: it cannot tell */
    char buf[8192];
    size_t k = 0;
    buf[k++] = '{';
    for (int i = 0; i < MG_JSCAN_KEYS + 10; i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf[k++] = '}';
    buf[k] = 0;
    s_check(buf, MG_JSCAN_UNSURE);
    /* many keys in sibling objects are fine (each object's keys are dropped when it closes) */
    k = 0;
    buf[k++] = '[';
    for (int i = 0; i < 100; i++)
        k += (size_t)snprintf(buf + k, sizeof(buf) - k, "%s{\"a\":1,\"b\":2,\"c\":3}",
                              i ? "," : "");
    buf[k++] = ']';
    buf[k] = 0;
    S_OK(buf);
    /* an invalid document is invalid even past that many keys */
    buf[k - 1] = ',';
    S_BAD(buf);
}

static void test_jscan_members(void **state)
{
    (void)state;
    static const char *const names[] = {"jsonrpc", "method", "id", "params"};
    struct mg_jscan_value top, v[4];
    const char *doc = "{\"params\":{\"cursor\":\"c\",\"x\":[1]},\"\\u006Dethod\":\"tools\\/list\","
                      "\"jsonrpc\":\"2.0\",\"id\":-42,\"other\":{\"id\":7}}";
    assert_int_equal(mg_jscan(mg_slice_cstr(doc), S_DEPTH, names, 4, &top, v), MG_JSCAN_OK);
    assert_int_equal(top.type, MG_JSCAN_OBJECT);
    assert_int_equal(top.raw.len, strlen(doc));
    assert_true(mg_jscan_string_eq(&v[0], "2.0"));
    assert_false(v[0].escaped);
    assert_true(mg_jscan_string_eq(&v[1], "tools/list"));
    assert_true(v[1].escaped);
    assert_false(mg_jscan_string_eq(&v[1], "tools\\/list"));
    assert_int_equal(v[2].type, MG_JSCAN_INTEGER);
    assert_int_equal(v[2].integer, -42);
    assert_int_equal(v[3].type, MG_JSCAN_OBJECT);
    assert_true(mg_slice_eq_cstr(v[3].raw, "{\"cursor\":\"c\",\"x\":[1]}"));

    /* absent members; a top-level array reports none */
    assert_int_equal(mg_jscan(mg_slice_cstr("{\"id\":\"x\"}"), S_DEPTH, names, 4, &top, v),
                     MG_JSCAN_OK);
    assert_int_equal(v[0].type, MG_JSCAN_ABSENT);
    assert_int_equal(v[2].type, MG_JSCAN_STRING);
    assert_int_equal(mg_jscan(mg_slice_cstr("[{\"id\":1}]"), S_DEPTH, names, 4, &top, v),
                     MG_JSCAN_OK);
    assert_int_equal(top.type, MG_JSCAN_ARRAY);
    assert_int_equal(v[2].type, MG_JSCAN_ABSENT);

    /* ids of every type */
    static const struct {
        const char *doc;
        enum mg_jscan_type t;
    } ids[] = {
        {"{\"id\":null}", MG_JSCAN_NULL},
        {"{\"id\":true}", MG_JSCAN_TRUE},
        {"{\"id\":false}", MG_JSCAN_FALSE},
        {"{\"id\":1.5}", MG_JSCAN_REAL},
        {"{\"id\":{\"a\":1}}", MG_JSCAN_OBJECT},
        {"{\"id\":[1]}", MG_JSCAN_ARRAY},
        {"{\"id\":\"\"}", MG_JSCAN_STRING},
        {"{\"id\":-9223372036854775808}", MG_JSCAN_INTEGER},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        assert_int_equal(mg_jscan(mg_slice_cstr(ids[i].doc), S_DEPTH, names, 4, &top, v),
                         MG_JSCAN_OK);
        assert_int_equal(v[2].type, ids[i].t);
    }
    assert_int_equal(v[2].integer, INT64_MIN);
}

static void test_jscan_strings(void **state)
{
    (void)state;
    static const char *const names[] = {"s"};
    struct mg_jscan_value top, v[1];
    const char *doc = "{\"s\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000z\"}";
    assert_int_equal(mg_jscan(mg_slice_cstr(doc), S_DEPTH, names, 1, &top, v), MG_JSCAN_OK);
    const char want[] = "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\0z";
    assert_int_equal(v[0].len, sizeof(want) - 1);
    char out[64];
    assert_true(mg_jscan_string(&v[0], out, sizeof(out)));
    assert_memory_equal(out, want, sizeof(want) - 1);
    assert_false(mg_jscan_string(&v[0], out, sizeof(want) - 2)); /* too small */
    /* the same against jansson */
    json_t *j = json_loads(doc, S_FLAGS, NULL);
    assert_non_null(j);
    assert_int_equal(json_string_length(json_object_get(j, "s")), v[0].len);
    assert_memory_equal(json_string_value(json_object_get(j, "s")), want, v[0].len);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jscan_valid),      cmocka_unit_test(test_jscan_invalid),
        cmocka_unit_test(test_jscan_nul_bytes),  cmocka_unit_test(test_jscan_depth),
        cmocka_unit_test(test_jscan_real_limit), cmocka_unit_test(test_jscan_keys),
        cmocka_unit_test(test_jscan_members),    cmocka_unit_test(test_jscan_strings),
    };
    return MG_RUN_TESTS(tests);
}
