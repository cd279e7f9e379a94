/* The Lambda API's handler table (src/lambda/api.c) against the model and src/aws/served.txt,
 * and the validation answers that come from the Lambda model. */
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

#define S(lit) mg_slice_cstr(lit)

/* Whether src/aws/served.txt lists "lambda <op>". */
static bool s_served(const char *op)
{
    FILE *f = fopen("src/aws/served.txt", "r");
    assert_non_null(f);
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char svc[64], name[128];
        if (line[0] != '#' && sscanf(line, "%63s %127s", svc, name) == 2)
            found = strcmp(svc, "lambda") == 0 && strcmp(name, op) == 0;
    }
    fclose(f);
    return found;
}

/* Every handler serves an operation of the Lambda model, once, and served.txt lists it. */
static void test_lambda_api_table_matches_served(void **state)
{
    (void)state;
    assert_int_equal(mg_lambda_api.n_svcs, 1);
    assert_int_equal(mg_lambda_api.svcs[0], MG_AWS_SVC_LAMBDA);
    assert_int_equal(mg_lambda_api.n_ops, 11);
    for (size_t i = 0; i < mg_lambda_api.n_ops; i++) {
        const char *name = mg_lambda_api.ops[i].name;
        const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_LAMBDA, S(name));
        if (op == NULL)
            fail_msg("%s is no operation of the Lambda model", name);
        assert_non_null(mg_lambda_api.ops[i].fn);
        assert_ptr_equal(mg_call_op_find(mg_lambda_api.ops, mg_lambda_api.n_ops, op),
                         mg_lambda_api.ops[i].fn);
        if (!s_served(name))
            fail_msg("src/aws/served.txt does not list lambda %s", name);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(mg_lambda_api.ops[j].name, name);
    }
    /* and the other way round: what served.txt lists has a handler */
    FILE *f = fopen("src/aws/served.txt", "r");
    assert_non_null(f);
    char line[256];
    size_t listed = 0;
    while (fgets(line, sizeof(line), f)) {
        char svc[64], name[128];
        if (line[0] == '#' || sscanf(line, "%63s %127s", svc, name) != 2 ||
            strcmp(svc, "lambda") != 0)
            continue;
        listed++;
        const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_LAMBDA, S(name));
        assert_non_null(op);
        if (mg_call_op_find(mg_lambda_api.ops, mg_lambda_api.n_ops, op) == NULL)
            fail_msg("served.txt lists lambda %s, which has no handler", name);
    }
    fclose(f);
    assert_int_equal(listed, mg_lambda_api.n_ops);
    /* an operation of the model without a handler is answered 501 by mg_call_serve */
    assert_null(mg_call_op_find(mg_lambda_api.ops, mg_lambda_api.n_ops,
                                mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("ListAliases"))));
}

/* The members Lambda checks itself are members of their operations' input. */
static void test_lambda_api_own_members_exist(void **state)
{
    (void)state;
    size_t n = 0;
    for (const char *const *p = mg_lambda_api.own_members; p && *p; p++, n++) {
        const char *dot = strchr(*p, '.');
        assert_non_null(dot);
        const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_LAMBDA,
                                                    mg_slice_make((const uint8_t *)*p,
                                                                  (size_t)(dot - *p)));
        assert_non_null(op);
        const struct mg_aws_shape *in = mg_aws_shape(op->input);
        bool found = false;
        for (size_t i = 0; in && i < in->count; i++)
            found |= strcmp(mg_aws_str(mg_aws_member(in, i)->name), dot + 1) == 0;
        if (!found)
            fail_msg("%s: no such member", *p);
    }
    assert_int_equal(n, 2);
}

/* Lambda's validation answers: ValidationException, lower-camel member names, the model's
 * patterns and ranges. */
static void test_lambda_api_validation_wording(void **state)
{
    (void)state;
    struct mg_aws_verrors *v = mg_malloc(sizeof(*v));
    assert_non_null(v);
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    const struct mg_aws_op *get = mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("GetFunction"));
    json_t *in = json_pack("{s:s}", "FunctionName", "bad name!");
    assert_false(mg_aws_validate(get, in, v));
    mg_aws_reply_validation(&rep, get, v);
    assert_int_equal(rep.status, 400);
    assert_string_equal(rep.code, "ValidationException");
    assert_null(rep.fields);
    assert_non_null(strstr(rep.message, "1 validation error detected: Value 'bad name!' at "
                                        "'functionName' failed to satisfy constraint: Member "
                                        "must satisfy regular expression pattern: (arn:"));
    json_decref(in);
    const struct mg_aws_op *create = mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("CreateFunction"));
    in = json_pack("{s:s, s:s, s:{s:s}, s:i}", "FunctionName", "fn", "Role",
                   "arn:aws:iam::111122223333:role/missing", "Code", "ZipFile", "UEsF", "Timeout",
                   0);
    assert_false(mg_aws_validate(create, in, v));
    assert_int_equal(v->n, 1);
    assert_string_equal(v->e[0].msg, "Value '0' at 'timeout' failed to satisfy constraint: "
                                     "Member must have value greater than or equal to 1");
    json_decref(in);
    mg_aws_reply_cleanup(&rep);
    mg_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambda_api_table_matches_served),
        cmocka_unit_test(test_lambda_api_own_members_exist),
        cmocka_unit_test(test_lambda_api_validation_wording),
    };
    return MG_RUN_TESTS(tests);
}
