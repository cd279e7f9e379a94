/* The identities file's validation held in memory (mg_iam_check_identities, the fuzzer's entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "iam/iam.h"
#include "unit/leaks.h"

static enum mg_err s_check(const char *text, struct mg_errinfo *ei)
{
    memset(ei, 0, sizeof(*ei));
    return mg_iam_check_identities(mg_slice_cstr(text), ei);
}

static void test_iam_identities_check(void **state)
{
    (void)state;
    mg_iam_init();
    struct mg_errinfo ei;
    assert_int_equal(s_check("{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":"
                             "[{\"accessKeyId\":\"AKIAEXAMPLEROOTKEY01\","
                             "\"secretAccessKey\":\"s\"}]}]}",
                             &ei),
                     MG_E_OK);
    /* duplicate members are refused by the JSON parser */
    assert_int_equal(s_check("{\"accounts\":[],\"accounts\":[]}", &ei), MG_E_PARSE);
    assert_true(ei.msg[0] != 0);
    assert_int_equal(s_check("{\"accounts\":[{\"id\":\"1111\"}]}", &ei), MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "accounts[0].id"));
    assert_int_equal(s_check("{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":"
                             "[{\"accessKeyId\":\"K1\",\"secretAccessKey\":\"a\"}]},"
                             "{\"id\":\"444455556666\",\"rootAccessKeys\":"
                             "[{\"accessKeyId\":\"K1\",\"secretAccessKey\":\"b\"}]}]}",
                             &ei),
                     MG_E_INVALID);
    assert_int_equal(s_check("", &ei), MG_E_PARSE);
    assert_int_equal(s_check("[]", &ei), MG_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iam_identities_check),
    };
    return MG_RUN_TESTS(tests);
}
