#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "base/util.h"
#include "unit/leaks.h"

static void test_base_buf_limits(void **state)
{
    (void)state;
    struct mg_buf b;
    mg_buf_init(&b, 8);
    assert_int_equal(mg_buf_append_cstr(&b, "12345678"), MG_E_OK);
    assert_int_equal(mg_buf_append_cstr(&b, "9"), MG_E_TOO_LARGE);
    assert_string_equal(mg_buf_cstr(&b), "12345678");
    mg_buf_cleanup(&b);
}

static void test_base_time_roundtrip(void **state)
{
    (void)state;
    int64_t t;
    assert_true(mg_time_parse_amz(MG_SLICE_LIT("20150830T123600Z"), &t));
    assert_int_equal(t, 1440938160);
    char out[21];
    mg_time_iso8601(t, out);
    assert_string_equal(out, "2015-08-30T12:36:00Z");
    assert_false(mg_time_parse_amz(MG_SLICE_LIT("20150230T123600Z"), &t));
    assert_true(mg_time_parse_iso8601(MG_SLICE_LIT("2015-08-30T14:36:00+02:00"), &t));
    assert_int_equal(t, 1440938160);
}

static void test_base_base64(void **state)
{
    (void)state;
    struct mg_buf b, d;
    mg_buf_init(&b, 100);
    mg_buf_init(&d, 100);
    assert_int_equal(mg_base64_encode(&b, MG_SLICE_LIT("hello!?")), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "aGVsbG8hPw==");
    assert_int_equal(mg_base64_decode(&d, mg_buf_slice(&b)), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&d), "hello!?");
    mg_buf_reset(&d);
    assert_int_equal(mg_base64_decode(&d, MG_SLICE_LIT("a$==")), MG_E_PARSE);
    mg_buf_cleanup(&b);
    mg_buf_cleanup(&d);
}

static void test_base_ct_equal_and_utf8(void **state)
{
    (void)state;
    assert_true(mg_ct_equal(MG_SLICE_LIT("abc"), MG_SLICE_LIT("abc")));
    assert_false(mg_ct_equal(MG_SLICE_LIT("abc"), MG_SLICE_LIT("abd")));
    assert_false(mg_ct_equal(MG_SLICE_LIT("abc"), MG_SLICE_LIT("ab")));
    assert_true(mg_utf8_valid(MG_SLICE_LIT("\xe1\x88\xb4")));
    assert_false(mg_utf8_valid(MG_SLICE_LIT("\xc0\xaf")));
    assert_false(mg_utf8_valid(MG_SLICE_LIT("\xed\xa0\x80")));
}

/* The JSON string escaper: runs of plain ASCII are copied as they are, everything else escaped
 * at its place; invalid UTF-8 becomes U+FFFD, valid sequences stay. */
static void s_json_str_is(const char *in, size_t n, const char *want)
{
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    assert_int_equal(mg_buf_append_json_str(&b, mg_slice_make(in, n)), MG_E_OK);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    mg_buf_cleanup(&b);
}

static void test_base_json_str(void **state)
{
    (void)state;
    s_json_str_is("", 0, "");
    s_json_str_is("POST /gateways/gw-1/mcp 200 0.123ms", 35, "POST /gateways/gw-1/mcp 200 0.123ms");
    s_json_str_is("a\"b\\c", 5, "a\\\"b\\\\c");
    s_json_str_is("\"", 1, "\\\"");
    s_json_str_is("x\ny\rz\t", 6, "x\\ny\\rz\\t");
    s_json_str_is("\x01\x1f\x7f~ ", 5, "\\u0001\\u001f\\u007f~ ");
    s_json_str_is("a\0b", 3, "a\\u0000b");
    s_json_str_is("caf\xc3\xa9!", 6, "caf\xc3\xa9!");
    s_json_str_is("\xe1\x88\xb4", 3, "\xe1\x88\xb4");
    s_json_str_is("x\xc0\xafy", 4, "x\xef\xbf\xbd\xef\xbf\xbdy");
    s_json_str_is("end\xe1\x88", 5, "end\xef\xbf\xbd\xef\xbf\xbd");
    /* a limit that the escaped text exceeds */
    struct mg_buf b;
    mg_buf_init(&b, 4);
    assert_int_equal(mg_buf_append_json_str(&b, MG_SLICE_LIT("ab\"c")), MG_E_TOO_LARGE);
    mg_buf_cleanup(&b);
}

/* jansson allocates through the counting allocator: a JSON value left live shows in the count,
 * and failure injection reaches it. */
static void test_base_json_uses_counting_allocator(void **state)
{
    (void)state;
    long live = mg_alloc_live();
    json_t *o = json_pack("{s:s}", "k", "v");
    assert_non_null(o);
    assert_true(mg_alloc_live() > live);
    char *text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);
    assert_string_equal(text, "{\"k\":\"v\"}");
    mg_free(text);
    json_decref(o);
    assert_int_equal(mg_alloc_live(), live);
    mg_alloc_fail_after(1);
    assert_null(json_object());
    mg_alloc_fail_after(0);
    assert_int_equal(mg_alloc_live(), live);
}

static void test_base_fmt_fails_instead_of_truncating(void **state)
{
    (void)state;
    char out[8];
    assert_true(mg_fmt(out, sizeof(out), "%s/%s", "ab", "cd"));
    assert_string_equal(out, "ab/cd");
    assert_true(mg_fmt(out, sizeof(out), "%s", "1234567"));
    assert_false(mg_fmt(out, sizeof(out), "%s", "12345678"));
    assert_string_equal(out, "");
    assert_false(mg_fmt(out, 0, "x"));
}

/* mg_read_long: whitespace-separated decimal numbers; a word that is not one ends the read. */
static void test_base_read_long(void **state)
{
    (void)state;
    static const char text[] = "  12\n-3\t99999999999999999999999 7 x1";
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
    assert_non_null(f);
    long v = 0;
    assert_true(mg_read_long(f, &v));
    assert_int_equal(v, 12);
    assert_true(mg_read_long(f, &v));
    assert_int_equal(v, -3);
    assert_false(mg_read_long(f, &v)); /* too long for a long */
    assert_true(mg_read_long(f, &v));
    assert_int_equal(v, 7);
    assert_false(mg_read_long(f, &v)); /* not a number */
    assert_false(mg_read_long(f, &v)); /* the end */
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_buf_limits),
        cmocka_unit_test(test_base_time_roundtrip),
        cmocka_unit_test(test_base_base64),
        cmocka_unit_test(test_base_json_str),
        cmocka_unit_test(test_base_ct_equal_and_utf8),
        cmocka_unit_test(test_base_json_uses_counting_allocator),
        cmocka_unit_test(test_base_fmt_fails_instead_of_truncating),
        cmocka_unit_test(test_base_read_long),
    };
    return MG_RUN_TESTS(tests);
}
