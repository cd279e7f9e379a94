/* AgentCore control plane: the operations mg_agentcore_api serves against src/aws/served.txt,
 * the feature names of its 501s, and its prepare step (gateway ARNs, $ref in tool schemas). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agentcore/internal.h"
#include "unit/leaks.h"

static bool s_in_api(const struct mg_call_api *api, const struct mg_aws_op *op)
{
    for (size_t i = 0; i < api->n_svcs; i++)
        if (api->svcs[i] == (enum mg_aws_service)op->service)
            return true;
    return false;
}

/* Every handler is an operation of the API's models listed in served.txt, and every AgentCore
 * operation served.txt lists has a handler. */
static void test_served(void **state)
{
    (void)state;
    const struct mg_call_api *api = &mg_agentcore_api;
    assert_int_equal(api->n_svcs, 2);
    assert_int_equal(api->svcs[0], MG_AWS_SVC_AGENTCORE_CONTROL);
    assert_int_equal(api->vflags, MG_AWS_V_LIST_INDEX);
    bool listed[128] = {false};
    assert_true(api->n_ops <= 128);
    FILE *f = fopen("src/aws/served.txt", "r");
    assert_non_null(f);
    char line[256];
    size_t n = 0;
    while (fgets(line, sizeof(line), f)) {
        char svc[64], name[128];
        if (line[0] == '#' || sscanf(line, "%63s %127s", svc, name) != 2)
            continue;
        enum mg_aws_service s;
        if (strcmp(svc, "bedrock-agentcore-control") == 0)
            s = MG_AWS_SVC_AGENTCORE_CONTROL;
        else if (strcmp(svc, "bedrock-agentcore") == 0)
            s = MG_AWS_SVC_AGENTCORE;
        else
            continue;
        const struct mg_aws_op *op = mg_aws_op_find(s, mg_slice_cstr(name));
        assert_non_null(op);
        if (mg_call_op_find(api->ops, api->n_ops, op) == NULL)
            fail_msg("served.txt lists %s %s, which mg_agentcore_api has no handler for", svc,
                     name);
        for (size_t i = 0; i < api->n_ops; i++)
            if (strcmp(api->ops[i].name, name) == 0)
                listed[i] = true;
        n++;
    }
    fclose(f);
    assert_int_equal(n, api->n_ops);
    for (size_t i = 0; i < api->n_ops; i++) {
        const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL,
                                                    mg_slice_cstr(api->ops[i].name));
        if (op == NULL) /* the identity data plane */
            op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE, mg_slice_cstr(api->ops[i].name));
        assert_non_null(op);
        assert_true(s_in_api(api, op));
        if (!listed[i])
            fail_msg("%s has a handler but is not in src/aws/served.txt", api->ops[i].name);
    }
}

static const char *s_feature(enum mg_aws_service svc, const char *name)
{
    const struct mg_aws_op *op = mg_aws_op_find(svc, mg_slice_cstr(name));
    assert_non_null(op);
    assert_null(mg_call_op_find(mg_agentcore_api.ops, mg_agentcore_api.n_ops, op));
    return mg_agentcore_api.feature(op);
}

static void test_feature_names(void **state)
{
    (void)state;
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE_CONTROL, "ListAgentRuntimes"),
                        "AgentCore Runtime");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE, "InvokeAgentRuntime"), "AgentCore Runtime");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE, "GetEvent"), "AgentCore Memory");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE_CONTROL, "CreateGatewayRule"),
                        "Gateway rules");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE_CONTROL, "CreateGatewayRateLimit"),
                        "Gateway rate limits");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE, "CompleteResourceTokenAuth"),
                        "AgentCore Identity (payment credentials, user federation)");
    assert_string_equal(s_feature(MG_AWS_SVC_AGENTCORE_CONTROL, "CreatePaymentCredentialProvider"),
                        "AgentCore Identity (payment credentials, user federation)");
}

struct s_fixture {
    struct mg_env env;
    struct mg_call c;
    struct mg_aws_reply rep;
};

static bool s_prepare(struct s_fixture *f, const char *op_name, json_t *input)
{
    memset(f, 0, sizeof(*f));
    f->env.region = "us-east-1";
    f->c.env = &f->env;
    snprintf(f->c.principal.account, sizeof(f->c.principal.account), "111122223333");
    f->c.op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, mg_slice_cstr(op_name));
    assert_non_null(f->c.op);
    mg_aws_reply_init(&f->rep);
    f->c.reply = &f->rep;
    return mg_agentcore_api.prepare(&f->c, input);
}

static void test_prepare(void **state)
{
    (void)state;
    struct s_fixture *f = test_malloc(sizeof(*f));
    /* a gateway ARN of this region: the id goes to validation, the account to the handler */
    json_t *in =
        json_pack("{s:s}", "gatewayIdentifier",
                  "arn:aws:bedrock-agentcore:us-east-1:444455556666:gateway/gw-abcdefghij");
    assert_true(s_prepare(f, "GetGateway", in));
    assert_string_equal(json_string_value(json_object_get(in, "gatewayIdentifier")),
                        "gw-abcdefghij");
    f->c.input = in;
    char account[13], id[128];
    assert_true(mg_ac_gateway_ident(&f->c, "gw-abcdefghij", account, id));
    assert_string_equal(account, "444455556666");
    assert_string_equal(id, "gw-abcdefghij");
    assert_int_equal(f->rep.status, 0);
    mg_aws_reply_cleanup(&f->rep);
    json_decref(in);
    /* an id resolves in the caller's account */
    in = json_pack("{s:s}", "gatewayIdentifier", "gw-abcdefghij");
    assert_true(s_prepare(f, "GetGateway", in));
    f->c.input = in;
    assert_true(mg_ac_gateway_ident(&f->c, "gw-abcdefghij", account, id));
    assert_string_equal(account, "111122223333");
    mg_aws_reply_cleanup(&f->rep);
    json_decref(in);
    /* a client cannot name the account itself: a body member "_gatewayAccount" is dropped */
    in = json_pack("{s:s, s:s}", "gatewayIdentifier", "gw-abcdefghij", "_gatewayAccount",
                   "444455556666");
    assert_true(s_prepare(f, "UpdateGateway", in));
    assert_null(json_object_get(in, "_gatewayAccount"));
    f->c.input = in;
    assert_true(mg_ac_gateway_ident(&f->c, "gw-abcdefghij", account, id));
    assert_string_equal(account, "111122223333");
    mg_aws_reply_cleanup(&f->rep);
    json_decref(in);
    /* an id in the model's pattern but longer than any mcpgate makes: no such gateway */
    char longid[160];
    memset(longid, 'a', 140);
    memcpy(longid + 140, "-abcdefghij", 12);
    assert_false(mg_ac_gateway_ident(&f->c, longid, account, id));
    assert_int_equal(f->rep.status, 404);
    assert_string_equal(f->rep.code, "ResourceNotFoundException");
    mg_aws_reply_cleanup(&f->rep);
    /* another region, another service, another resource: left for the validator to refuse */
    static const char *const others[] = {
        "arn:aws:bedrock-agentcore:eu-west-1:444455556666:gateway/gw-abcdefghij",
        "arn:aws:lambda:us-east-1:444455556666:gateway/gw-abcdefghij",
        "arn:aws:bedrock-agentcore:us-east-1:444455556666:runtime/gw-abcdefghij",
        "arn:aws:bedrock-agentcore:us-east-1:444455556666:gateway/GW_bad",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        in = json_pack("{s:s}", "gatewayIdentifier", others[i]);
        assert_true(s_prepare(f, "DeleteGateway", in));
        assert_string_equal(json_string_value(json_object_get(in, "gatewayIdentifier")), others[i]);
        assert_int_equal(json_object_size(in), 1);
        mg_aws_reply_cleanup(&f->rep);
        json_decref(in);
    }
    /* $ref in a tool schema is answered before the model's validation */
    in = json_loads("{\"gatewayIdentifier\":\"gw-abcdefghij\",\"targetConfiguration\":{\"mcp\":"
                    "{\"lambda\":{\"toolSchema\":{\"inlinePayload\":[{\"name\":\"a\","
                    "\"inputSchema\":{\"properties\":{\"p\":{\"$ref\":\"#/x\"}}}}]}}}}}",
                    0, NULL);
    assert_non_null(in);
    assert_false(s_prepare(f, "CreateGatewayTarget", in));
    assert_int_equal(f->rep.status, 400);
    assert_string_equal(f->rep.code, "ValidationException");
    assert_non_null(strstr(f->rep.message, "'targetConfiguration.mcp.lambda.toolSchema."
                                           "inlinePayload.1.inputSchema.properties.p' failed to "
                                           "satisfy constraint: $ref is not supported"));
    mg_aws_reply_cleanup(&f->rep);
    json_decref(in);
    test_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_served),
        cmocka_unit_test(test_feature_names),
        cmocka_unit_test(test_prepare),
    };
    return MG_RUN_TESTS(tests);
}
