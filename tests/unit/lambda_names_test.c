/* Lambda function names and ARNs, and the log ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "lambda/internal.h"
#include "unit/leaks.h"

static void test_lambda_names_parse(void **state)
{
    (void)state;
    struct mg_lambda_name n;
    assert_true(mg_lambda_parse_name("my-fn_1", &n));
    assert_string_equal(n.name, "my-fn_1");
    assert_string_equal(n.account, "");
    assert_string_equal(n.qualifier, "");
    assert_true(mg_lambda_parse_name("my-fn:$LATEST", &n));
    assert_string_equal(n.qualifier, "$LATEST");
    assert_true(mg_lambda_parse_name("111122223333:function:fn", &n));
    assert_string_equal(n.account, "111122223333");
    assert_string_equal(n.name, "fn");
    assert_true(mg_lambda_parse_name("arn:aws:lambda:us-east-1:111122223333:function:fn", &n));
    assert_string_equal(n.region, "us-east-1");
    assert_string_equal(n.account, "111122223333");
    assert_string_equal(n.name, "fn");
    assert_true(mg_lambda_parse_name("arn:aws:lambda:us-east-1:111122223333:function:fn:prod", &n));
    assert_string_equal(n.qualifier, "prod");

    const char *bad[] = {"",
                         "a b",
                         "fn:",
                         ":fn",
                         "arn:aws:lambda:us-east-1:1111:function:fn",
                         "arn:aws:s3:us-east-1:111122223333:function:fn",
                         "arn:aws:lambda:us-east-1:111122223333:layer:fn",
                         "a:b:c",
                         "11112222333x:function:fn",
                         "fn:$LATEST:x",
                         "0123456789012345678901234567890123456789012345678901234567890123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(mg_lambda_parse_name(bad[i], &n));
    assert_false(mg_lambda_parse_name(NULL, &n));

    /* Lambda's region and partition patterns */
    assert_true(
        mg_lambda_parse_name("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:f", &n));
    assert_string_equal(n.region, "us-gov-west-1");
    assert_true(
        mg_lambda_parse_name("arn:aws-iso-b:lambda:us-isob-east-1:111122223333:function:f", &n));
    const char *bad_arn[] = {
        "arn:aws:lambda:us-east-1\r\nX: y:111122223333:function:f",
        "arn:aws:lambda:US-EAST-1:111122223333:function:f",
        "arn:aws:lambda:us-east-12:111122223333:function:f",
        "arn:aws:lambda:useast-1:111122223333:function:f",
        "arn:aws:lambda:us-east-:111122223333:function:f",
        "arn:aws:lambda:us-east-1 :111122223333:function:f",
        "arn:awsx\n:lambda:us-east-1:111122223333:function:f",
        "arn:gcp:lambda:us-east-1:111122223333:function:f",
        "arn:aws:lambda:us-east-1::function:f",
    };
    for (size_t i = 0; i < sizeof(bad_arn) / sizeof(bad_arn[0]); i++)
        assert_false(mg_lambda_parse_name(bad_arn[i], &n));
}

/* Bytes from a URL path: "fn1%00" decodes to "fn1\0", which must not become "fn1". */
static void test_lambda_names_refuse_nul(void **state)
{
    (void)state;
    struct mg_lambda_name n;
    assert_true(mg_lambda_parse_name_bytes(MG_SLICE_LIT("fn1"), &n));
    assert_string_equal(n.name, "fn1");
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT("fn1\0"), &n));
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT("fn1\0x"), &n));
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT("\0fn1"), &n));
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT("111122223333:function:fn1\0:prod"), &n));
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT("fn1\r\n"), &n));
    assert_false(mg_lambda_parse_name_bytes(MG_SLICE_LIT(""), &n));
    char big[300];
    memset(big, 'a', sizeof(big));
    assert_false(mg_lambda_parse_name_bytes(mg_slice_make(big, sizeof(big)), &n));

    char arn[256];
    mg_lambda_function_arn("eu-west-1", "111122223333", "fn", arn, sizeof(arn));
    assert_string_equal(arn, "arn:aws:lambda:eu-west-1:111122223333:function:fn");
    assert_true(mg_lambda_valid_name("a"));
    assert_false(mg_lambda_valid_name("a.b"));
}

/* Only names, partial ARNs, and ARNs of partition aws in the server's region are local; any
 * other ARN gets Lambda's not-found message and never resolves to the local namesake. */
static void test_lambda_names_region(void **state)
{
    (void)state;
    struct mg_lambda_name n;
    char why[400];
    static const char *const local[] = {"fn", "fn:$LATEST", "111122223333:function:fn",
                                        "arn:aws:lambda:us-east-1:111122223333:function:fn"};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        assert_true(mg_lambda_parse_name(local[i], &n));
        assert_true(mg_lambda_name_is_local(&n, local[i], "us-east-1", why, sizeof(why)));
    }
    assert_true(mg_lambda_parse_name("arn:aws:lambda:eu-west-1:111122223333:function:fn", &n));
    assert_string_equal(n.partition, "aws");
    assert_false(mg_lambda_name_is_local(&n, "x", "us-east-1", why, sizeof(why)));
    assert_string_equal(why, "Functions from 'eu-west-1' are not reachable in this region "
                             "('us-east-1')");
    assert_true(mg_lambda_name_is_local(&n, "x", "eu-west-1", why, sizeof(why)));
    const char *cn = "arn:aws-cn:lambda:us-east-1:111122223333:function:fn";
    assert_true(mg_lambda_parse_name(cn, &n));
    assert_string_equal(n.partition, "aws-cn");
    assert_false(mg_lambda_name_is_local(&n, cn, "us-east-1", why, sizeof(why)));
    assert_string_equal(why, "Function not found: arn:aws-cn:lambda:us-east-1:111122223333:"
                             "function:fn");
    /* a partition too long to be one is not a name at all */
    assert_false(mg_lambda_parse_name("arn:aws-0123456789012345678901234567890:lambda:us-east-1:"
                                      "111122223333:function:fn",
                                      &n));
}

static void test_lambda_names_runtimes(void **state)
{
    (void)state;
    enum mg_lambda_runtime_kind k;
    assert_true(mg_lambda_runtime_known("python3.12", &k));
    assert_int_equal(k, MG_RT_PYTHON);
    assert_true(mg_lambda_runtime_known("nodejs20.x", &k));
    assert_int_equal(k, MG_RT_NODE);
    assert_true(mg_lambda_runtime_known("provided.al2023", &k));
    assert_int_equal(k, MG_RT_PROVIDED);
    assert_false(mg_lambda_runtime_known("python2.7", &k));
    assert_false(mg_lambda_runtime_known("java21", &k));
    char hex[65];
    /* base64 of 32 zero bytes */
    assert_true(mg_lambda_sha_hex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", hex));
    assert_string_equal(hex, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_false(mg_lambda_sha_hex("AAAA", hex));
}

static void test_lambda_names_ring(void **state)
{
    (void)state;
    struct mg_lambda_ring r;
    assert_int_equal(mg_lambda_ring_init(&r, 8), MG_E_OK);
    struct mg_buf out;
    mg_buf_init(&out, 64);
    assert_int_equal(mg_lambda_ring_tail(&r, 4, &out), MG_E_OK);
    assert_int_equal(out.len, 0);
    mg_lambda_ring_append(&r, MG_SLICE_LIT("abc"));
    assert_int_equal(mg_lambda_ring_tail(&r, 100, &out), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "abc");
    mg_lambda_ring_append(&r, MG_SLICE_LIT("defgh"));
    mg_lambda_ring_append(&r, MG_SLICE_LIT("ij"));
    mg_buf_reset(&out);
    assert_int_equal(mg_lambda_ring_tail(&r, 100, &out), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "cdefghij");
    mg_buf_reset(&out);
    assert_int_equal(mg_lambda_ring_tail(&r, 3, &out), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "hij");
    mg_lambda_ring_append(&r, MG_SLICE_LIT("0123456789XYZ"));
    mg_buf_reset(&out);
    assert_int_equal(mg_lambda_ring_tail(&r, 8, &out), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "56789XYZ");
    /* many small appends wrap correctly */
    for (int i = 0; i < 100; i++)
        mg_lambda_ring_append(&r, mg_slice_make(&"0123456789"[i % 10], 1));
    mg_buf_reset(&out);
    assert_int_equal(mg_lambda_ring_tail(&r, 8, &out), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&out), "23456789");
    mg_buf_cleanup(&out);
    mg_lambda_ring_cleanup(&r);
}

/* A data directory so long that DATA/lambda/ACCOUNT/NAME does not fit: no truncated path (which
 * could name another function's code), but a failure. */
static void test_lambda_code_dir_too_long(void **state)
{
    (void)state;
    static char data_dir[1024];
    memset(data_dir, 'd', sizeof(data_dir) - 1);
    char dir[1024];
    assert_false(mg_lambda_code_dir(data_dir, "123456789012", "fn", dir, sizeof(dir)));
    assert_string_equal(dir, "");
    snprintf(data_dir, sizeof(data_dir), "/var/lib/mcpgate");
    assert_true(mg_lambda_code_dir(data_dir, "123456789012", "fn", dir, sizeof(dir)));
    assert_string_equal(dir, "/var/lib/mcpgate/lambda/123456789012/fn");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_code_dir_too_long),
        cmocka_unit_test(test_lambda_names_parse),
        cmocka_unit_test(test_lambda_names_region),
        cmocka_unit_test(test_lambda_names_refuse_nul),
        cmocka_unit_test(test_lambda_names_runtimes),
        cmocka_unit_test(test_lambda_names_ring),
    };
    return MG_RUN_TESTS(tests);
}
