/* The AWS query protocol's parameter parser (src/aws/wire.c, mg_aws_params_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/aws.h"
#include "unit/leaks.h"

static struct mg_http_req s_req(const char *query, const char *body)
{
    return (struct mg_http_req){.method = MG_SLICE_LIT("POST"),
                                .path = MG_SLICE_LIT("/"),
                                .query = mg_slice_cstr(query),
                                .body = mg_slice_cstr(body)};
}

static void test_aws_params_parse(void **state)
{
    (void)state;
    struct mg_http_req r = s_req("Version=2011-06-15",
                                 "Action=A%2Bb&Tags.member.1.Key=k+v&&x&Action=B");
    struct mg_aws_params p;
    assert_int_equal(mg_aws_params_parse(&p, &r), MG_E_OK);
    assert_int_equal(p.n, 5);
    assert_true(mg_slice_eq_cstr(*mg_aws_param(&p, "Version"), "2011-06-15"));
    assert_true(mg_slice_eq_cstr(*mg_aws_param(&p, "Action"), "A+b")); /* the first one */
    assert_true(mg_slice_eq_cstr(*mg_aws_param(&p, "Tags.member.1.Key"), "k v"));
    assert_true(mg_slice_eq_cstr(*mg_aws_param(&p, "x"), ""));
    assert_null(mg_aws_param(&p, "Missing"));
    mg_aws_params_cleanup(&p);
}

/* Found by fuzz/fuzz_query.c: when every name and value decodes empty the storage is never
 * allocated, and the slices were made by adding offsets to a NULL pointer (undefined behaviour,
 * fatal under UBSan). */
static void test_aws_params_all_empty(void **state)
{
    (void)state;
    struct mg_http_req r = s_req("=", "&=&");
    struct mg_aws_params p;
    assert_int_equal(mg_aws_params_parse(&p, &r), MG_E_OK);
    assert_int_equal(p.n, 2);
    for (size_t i = 0; i < p.n; i++) {
        assert_non_null(p.items[i].name.ptr);
        assert_int_equal(p.items[i].name.len, 0);
        assert_non_null(p.items[i].value.ptr);
        assert_int_equal(p.items[i].value.len, 0);
    }
    assert_non_null(mg_aws_param(&p, ""));
    mg_aws_params_cleanup(&p);
}

static void test_aws_params_too_many(void **state)
{
    (void)state;
    static char q[4 * (MG_AWS_MAX_PARAMS + 1) + 1];
    for (size_t i = 0; i <= MG_AWS_MAX_PARAMS; i++) {
        q[4 * i] = 'a', q[4 * i + 1] = '=', q[4 * i + 2] = '1', q[4 * i + 3] = '&';
    }
    struct mg_http_req r = s_req(q, "");
    struct mg_aws_params p;
    assert_int_equal(mg_aws_params_parse(&p, &r), MG_E_TOO_LARGE);
    mg_aws_params_cleanup(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_params_parse),
        cmocka_unit_test(test_aws_params_all_empty),
        cmocka_unit_test(test_aws_params_too_many),
    };
    return MG_RUN_TESTS(tests);
}
