/* IAM and STS on the operation layer: the handler tables against src/aws/served.txt, the
 * parameter helpers reading the validated input, answers filled into the reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "iam/api_internal.h"
#include "unit/leaks.h"

/* Every IAM and STS operation served.txt lists has a handler, and every handler is listed and is
 * an operation of its model. */
static void test_iam_tables_match_served(void **state)
{
    (void)state;
    const struct {
        const char *id;
        const struct mg_call_api *api;
        enum mg_aws_service svc;
    } apis[] = {{"iam", &mg_iam_api, MG_AWS_SVC_IAM}, {"sts", &mg_sts_api, MG_AWS_SVC_STS}};
    size_t listed[2] = {0, 0};
    FILE *f = fopen("src/aws/served.txt", "r");
    assert_non_null(f);
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char svc[64], op[128];
        if (line[0] == '#' || sscanf(line, "%63s %127s", svc, op) != 2)
            continue;
        for (size_t a = 0; a < 2; a++) {
            if (strcmp(svc, apis[a].id) != 0)
                continue;
            const struct mg_aws_op *mop = mg_aws_op_find(apis[a].svc, mg_slice_cstr(op));
            assert_non_null(mop);
            if (mg_call_op_find(apis[a].api->ops, apis[a].api->n_ops, mop) == NULL)
                fail_msg("served.txt lists %s %s, which has no handler", svc, op);
            listed[a]++;
        }
    }
    fclose(f);
    for (size_t a = 0; a < 2; a++) {
        const struct mg_call_api *api = apis[a].api;
        assert_int_equal(api->n_svcs, 1);
        assert_int_equal(api->svcs[0], apis[a].svc);
        /* each handler names a distinct model operation: as many handlers as listed lines */
        assert_int_equal(api->n_ops, listed[a]);
        for (size_t i = 0; i < api->n_ops; i++) {
            assert_non_null(mg_aws_op_find(apis[a].svc, mg_slice_cstr(api->ops[i].name)));
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(api->ops[i].name, api->ops[j].name);
        }
    }
    assert_true(listed[0] > 40);
    assert_int_equal(listed[1], 2);
}

/* A call whose input is `json`, answering into rep. */
static void s_call(struct mg_call *c, struct mg_aws_reply *rep, json_t *input)
{
    memset(c, 0, sizeof(*c));
    c->protocol = MG_AWS_QUERY_IAM;
    c->input = input;
    c->reply = rep;
    mg_aws_reply_init(rep);
}

static void test_iam_params_from_input(void **state)
{
    (void)state;
    struct mg_call c;
    struct mg_aws_reply rep;
    json_t *in = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}], s:i, s:b, s:[s, s]}",
                           "RoleName", "r1", "Tags", "Key", "a", "Value", "1", "Key", "b", "Value",
                           "2", "Key", "a", "Value", "3", "MaxItems", 7, "SetAsDefault", 1,
                           "TagKeys", "a", "b");
    assert_non_null(in);
    s_call(&c, &rep, in);

    char name[MG_IAM_NAME_CAP], path[MG_IAM_PATH_CAP], desc[16];
    bool present = false;
    assert_true(mg_iam_name_param(&c, "RoleName", "roleName", 64, true, name, &present));
    assert_true(present);
    assert_string_equal(name, "r1");
    assert_true(mg_iam_path_param(&c, "Path", "path", path));
    assert_string_equal(path, "/");
    assert_true(mg_iam_str_param(&c, "Description", "description", 10, false, desc, sizeof(desc)));
    assert_string_equal(desc, "");
    assert_false(mg_iam_has(&c, "Description"));

    /* a key given twice: the last value, once */
    json_t *tags = mg_iam_tags_param(&c, "Tags");
    assert_non_null(tags);
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 1), "Value")), "3");
    json_decref(tags);
    json_t *keys = mg_iam_list_param(&c, "TagKeys", "tagKeys", 50);
    assert_int_equal(json_array_size(keys), 2);
    json_decref(keys);

    struct mg_iam_page pg;
    assert_true(mg_iam_page_params(&c, &pg));
    assert_int_equal(pg.max_items, 7);
    assert_string_equal(pg.marker, "");
    bool b = false;
    assert_true(mg_iam_bool_param(&c, "SetAsDefault", false, &b));
    assert_true(b);
    assert_int_equal(rep.status, 0); /* nothing answered yet */

    /* a Marker mcpgate did not write: IAM's own rule, in the reply */
    json_object_set_new(in, "Marker", json_string("not-a-marker"));
    assert_false(mg_iam_page_params(&c, &pg));
    assert_int_equal(rep.status, 400);
    assert_string_equal(rep.code, "ValidationError");
    assert_string_equal(rep.message, "Invalid Marker.");
    mg_aws_reply_cleanup(&rep);

    /* a required member missing, in AWS's words */
    mg_aws_reply_init(&rep);
    assert_false(mg_iam_name_param(&c, "UserName", "userName", 64, true, name, NULL));
    assert_string_equal(rep.message, "1 validation error detected: Value null at 'userName' "
                                     "failed to satisfy constraint: Member must not be null");
    mg_aws_reply_cleanup(&rep);

    /* what does not fit a buffer fails closed */
    mg_aws_reply_init(&rep);
    json_object_set_new(in, "Description", json_string("0123456789abcdefghij"));
    assert_false(
        mg_iam_str_param(&c, "Description", "description", 1000, false, desc, sizeof(desc)));
    assert_int_equal(rep.status, 400);
    mg_aws_reply_cleanup(&rep);

    /* a type the model would not have let through */
    mg_aws_reply_init(&rep);
    json_object_set_new(in, "MaxItems", json_string("7"));
    assert_false(mg_iam_page_params(&c, &pg));
    assert_int_equal(rep.status, 400);
    mg_aws_reply_cleanup(&rep);
    json_decref(in);
}

/* Errors and results go into c->reply (c->x is NULL here: a send would crash). */
static void test_iam_answers_into_reply(void **state)
{
    (void)state;
    struct mg_call c;
    struct mg_aws_reply rep;
    s_call(&c, &rep, NULL);
    assert_false(mg_iam_no_entity(&c, "role", "r9"));
    assert_int_equal(rep.status, 404);
    assert_string_equal(rep.code, "NoSuchEntity");
    assert_string_equal(rep.message, "The role with name r9 cannot be found.");
    mg_aws_reply_cleanup(&rep);

    mg_aws_reply_init(&rep);
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_iam_xml(&b, 4, "RoleName", "a<b"), MG_E_OK);
    mg_iam_send(&c, "GetRole", &b);
    assert_int_equal(rep.status, 200);
    assert_string_equal(rep.action, "GetRole");
    assert_true(rep.has_result);
    assert_non_null(strstr(mg_buf_cstr(&rep.xml), "<RoleName>a&lt;b</RoleName>"));
    mg_buf_cleanup(&b);
    mg_aws_reply_cleanup(&rep);
}

/* STS RoleSessionName: the model's pattern and minimum, in AWS's words. */
static void test_sts_session_name_by_model(void **state)
{
    (void)state;
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_STS, MG_SLICE_LIT("AssumeRole"));
    assert_non_null(op);
    assert_int_equal(op->flags & MG_AWS_OP_UNSIGNED, 0);
    const struct mg_aws_op *web = mg_aws_op_find(MG_AWS_SVC_STS,
                                                 MG_SLICE_LIT("AssumeRoleWithWebIdentity"));
    assert_non_null(web);
    assert_true(web->flags & MG_AWS_OP_UNSIGNED);
    struct mg_aws_verrors *v = test_malloc(sizeof(*v));
    json_t *in = json_pack("{s:s, s:s}", "RoleArn", "arn:aws:iam::123456789012:role/r",
                           "RoleSessionName", "a");
    assert_false(mg_aws_validate(op, in, v));
    assert_int_equal(v->n, 1);
    assert_string_equal(v->e[0].msg, "Value 'a' at 'roleSessionName' failed to satisfy "
                                     "constraint: Member must have length greater than or "
                                     "equal to 2");
    json_object_set_new(in, "RoleSessionName", json_string("bad name!"));
    assert_false(mg_aws_validate(op, in, v));
    assert_non_null(strstr(v->e[0].msg, "pattern: [\\w+=,.@-]*"));
    json_object_set_new(in, "RoleSessionName", json_string("ok@name"));
    assert_true(mg_aws_validate(op, in, v));
    json_decref(in);
    test_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iam_tables_match_served),
        cmocka_unit_test(test_iam_params_from_input),
        cmocka_unit_test(test_iam_answers_into_reply),
        cmocka_unit_test(test_sts_session_name_by_model),
    };
    return MG_RUN_TESTS(tests);
}
