/* AgentCore control plane: id formats, the model's patterns and the service's own rules as a
 * request meets them, resource policy rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agentcore/internal.h"
#include "unit/leaks.h"

static json_t *s_json(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    assert_non_null(j);
    return j;
}

static void test_ids(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        char id[64], tid[11];
        mg_ac_new_gateway_id("TestGWforLambda", id);
        assert_int_equal(strlen(id), strlen("testgwforlambda-") + 10);
        assert_memory_equal(id, "testgwforlambda-", 16);
        assert_true(mg_ac_match_gateway_id(id));
        mg_ac_new_target_id(tid);
        assert_int_equal(strlen(tid), 10);
        for (int k = 0; k < 10; k++)
            assert_true((tid[k] >= 'A' && tid[k] <= 'Z') || (tid[k] >= '0' && tid[k] <= '9'));
        assert_true(mg_ac_match_target_id(tid));
    }
    char id[64];
    mg_ac_new_gateway_id("a-", id); /* trailing hyphen in the name still gives a valid id */
    assert_true(mg_ac_match_gateway_id(id));
}

/* What a request meets on its way to a handler: the model's validator (the dialect of
 * mg_agentcore_api), then for CreateGatewayTarget the $ref rule that runs before it, then the
 * service's own rules. The message of the first that fails, or "" when all pass. */
static void s_check(const char *op_name, json_t *b, char *msg, size_t cap)
{
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL,
                                                mg_slice_cstr(op_name));
    assert_non_null(op);
    bool target = strstr(op_name, "Target") != NULL;
    msg[0] = 0;
    struct mg_ac_verr v = {0};
    if (target) {
        mg_ac_check_schema_refs(b, &v);
        if (mg_ac_verr_any(&v)) {
            mg_ac_verr_message(&v, msg, cap);
            return;
        }
    }
    struct mg_aws_verrors *ve = test_malloc(sizeof(*ve));
    memset(ve, 0, sizeof(*ve));
    if (!mg_aws_validate_with(op, b, MG_AWS_V_LIST_INDEX, ve)) {
        mg_aws_verrors_message(ve, msg, cap);
        test_free(ve);
        return;
    }
    test_free(ve);
    if (target)
        mg_ac_validate_target(b, mg_ac_quotas(NULL), &v);
    else
        mg_ac_validate_gateway(b, false, &v);
    if (mg_ac_verr_any(&v))
        mg_ac_verr_message(&v, msg, cap);
}

static void s_expect(const char *body, bool target, const char *needle)
{
    json_t *b = s_json(body);
    if (target)
        json_object_set_new(b, "gatewayIdentifier", json_string("gw-abcdefghij"));
    char msg[4096];
    s_check(target ? "CreateGatewayTarget" : "CreateGateway", b, msg, sizeof(msg));
    if (needle == NULL) {
        if (msg[0])
            fail_msg("unexpected validation error: %s", msg);
    } else if (strstr(msg, needle) == NULL) {
        fail_msg("expected '%s' in '%s'", needle, msg);
    }
    json_decref(b);
}

#define ROLE "\"roleArn\":\"arn:aws:iam::111122223333:role/gw\""
#define CREDS                                                                                      \
    "\"credentialProviderConfigurations\":[{\"credentialProviderType\":\"GATEWAY_IAM_ROLE\"}]"
#define LAMBDA(tools)                                                                              \
    "{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"                 \
    "\"arn:aws:lambda:us-east-1:111122223333:function:f\",\"toolSchema\":{"                        \
    "\"inlinePayload\":" tools "}}}}," CREDS "}"
#define TOOL(n) "{\"name\":\"" n "\",\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"}}"

/* Ids in the model's patterns, and the model's patterns met by requests. */
static void test_patterns(void **state)
{
    (void)state;
    assert_false(mg_ac_match_gateway_id("Upper-abcdefghij"));
    assert_false(mg_ac_match_gateway_id("abc-abcdefghi"));
    assert_false(mg_ac_match_gateway_id(NULL));
    assert_true(mg_ac_match_gateway_id("a--abcdefghij"));
    assert_true(mg_ac_match_target_id("ABCDEFGHIJ"));
    assert_false(mg_ac_match_target_id("ABCDEFGHI"));
    assert_true(mg_ac_match_tool_name("get.order-v2_Tool"));
    assert_false(mg_ac_match_tool_name("a b"));
    assert_false(mg_ac_match_tool_name(""));
    static const char pat[] = "Member must satisfy regular expression pattern";
    s_expect("{\"name\":\"TestGW-1\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false, NULL);
    s_expect("{\"name\":\"-a\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false, pat);
    s_expect("{\"name\":\"a--b\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false, pat);
    s_expect("{\"name\":\"a_b\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false, pat);
    s_expect("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"," ROLE
             ",\"authorizerType\":\"AWS_IAM\"}",
             false, pat); /* 49 characters */
    s_expect("{\"name\":\"gw\",\"roleArn\":\"arn:aws:iam::111122223333:user/gw\","
             "\"authorizerType\":\"AWS_IAM\"}",
             false, "'roleArn'");
    s_expect("{\"name\":\"gw\",\"roleArn\":\"arn:aws:iam::111122223333:role/path/gw\","
             "\"authorizerType\":\"AWS_IAM\",\"clientToken\":"
             "\"12345678-1234-1234-1234-123456789012\",\"kmsKeyArn\":\"arn:aws:kms:us-east-1:"
             "111122223333:key/12345678-1234-1234-1234-123456789012\",\"tags\":"
             "{\"cost center:a/b=c+d@e.f-g_h\":\"v\"}}",
             false, NULL);
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"clientToken\":\"-abc"
             "defghijklmnopqrstuvwxyz0123456789\"}",
             false, "'clientToken'");
    s_expect("{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"
             "\"arn:aws:lambda:us-gov-west-1:111122223333:function:f:prod\",\"toolSchema\":"
             "{\"inlinePayload\":[" TOOL("a") "]}}}}," CREDS "}",
             true, NULL);
    s_expect("{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"
             "\"arn:aws:lambda:us-east-1:1111:function:f\",\"toolSchema\":"
             "{\"inlinePayload\":[" TOOL("a") "]}}}}," CREDS "}",
             true, "targetConfiguration.mcp.lambda.lambdaArn");
}

static void test_gateway_validation(void **state)
{
    (void)state;
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false, NULL);
    s_expect(
        "{\"name\":\"gw\"," ROLE "}", false,
        "Value null at 'authorizerType' failed to satisfy constraint: Member must not be null");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"OIDC\"}", false,
             "Member must satisfy enum value set: [CUSTOM_JWT, AWS_IAM, NONE, AUTHENTICATE_ONLY]");
    s_expect("{\"name\":\"bad name\"," ROLE ",\"authorizerType\":\"AWS_IAM\"}", false,
             "Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular "
             "expression pattern: ([0-9a-zA-Z][-]?){1,48}");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"CUSTOM_JWT\"}", false,
             "AuthorizerConfiguration is required for CUSTOM_JWT authorizer type");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AUTHENTICATE_ONLY\"}", false, NULL);
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"authorizerConfiguration\":"
             "{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://a/.well-known/"
             "openid-configuration\"}}}",
             false, "AuthorizerConfiguration should be null for AWS_IAM AuthorizerType");
    s_expect("{\"name\":\"gw\"," ROLE
             ",\"authorizerType\":\"CUSTOM_JWT\",\"authorizerConfiguration\":"
             "{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://a/jwks\"}}}",
             false, "authorizerConfiguration.customJWTAuthorizer.discoveryUrl");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{\"supportedVersions\":[\"2024-11-05\"]}}}",
             false, "Unsupported MCP Version(s) are provided in request");
    /* 2026-07-28 is AgentCore's, but mcpgate does not serve it: alone it is refused */
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{\"supportedVersions\":[\"2026-07-28\"]}}}",
             false,
             "Unsupported MCP Version(s) are provided in request. mcpgate does not serve "
             "2026-07-28 yet");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{\"supportedVersions\":[\"2026-07-28\",\"2025-11-25\"]}}}",
             false, NULL);
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{\"supportedVersions\":[\"2025-03-26\"]}}}",
             false, NULL);
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{}}",
             false,
             "'protocolConfiguration' failed to satisfy constraint: Union must "
             "have exactly one member set (0 set)");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{},\"other\":{}}}",
             false, "Union must have exactly one member set (2 set)");
    s_expect("{\"name\":\"t\",\"targetConfiguration\":{\"http\":{},\"mcp\":{}}}", true,
             "'targetConfiguration' failed to satisfy constraint: Union must have exactly one "
             "member set (2 set)");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"protocolConfiguration\":"
             "{\"mcp\":{\"sessionConfiguration\":{\"sessionTimeoutInSeconds\":10}}}}",
             false,
             "'protocolConfiguration.mcp.sessionConfiguration.sessionTimeoutInSeconds' failed "
             "to satisfy constraint: Member must have value greater than or equal to 900");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"description\":\"\"}",
             false, "Member must have length greater than or equal to 1");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"clientToken\":\"short\"}",
             false, "'clientToken'");
    s_expect("{\"name\":\"gw\"," ROLE ",\"authorizerType\":\"AWS_IAM\",\"tags\":{\"a*\":\"b\"}}",
             false,
             "Value 'a*' at 'tags.key' failed to satisfy constraint: Member must satisfy "
             "regular expression pattern: [a-zA-Z0-9\\s._:/=+@-]*");
    s_expect("{\"name\":\"gw\"," ROLE
             ",\"authorizerType\":\"AWS_IAM\",\"interceptorConfigurations\":["
             "{\"interceptor\":{\"lambda\":{\"arn\":\"arn:aws:lambda:us-east-1:111122223333:"
             "function:a\"}},"
             "\"interceptionPoints\":[\"REQUEST\",\"RESPONSE\"]},"
             "{\"interceptor\":{\"lambda\":{\"arn\":\"arn:aws:lambda:us-east-1:111122223333:"
             "function:b\"}},"
             "\"interceptionPoints\":[\"RESPONSE\"]}]}",
             false, "Only one interceptor configuration per interception point can be defined");
    /* several failures are counted */
    json_t *b = s_json("{\"name\":\"x y\",\"roleArn\":\"r\",\"authorizerType\":\"AWS_IAM\"}");
    char msg[4096];
    s_check("CreateGateway", b, msg, sizeof(msg));
    assert_memory_equal(msg, "2 validation errors detected: Value 'x y' at 'name' ", 50);
    assert_non_null(strstr(msg, "; Value 'r' at 'roleArn' "));
    json_decref(b);
    /* a rule of the service counts as one message */
    struct mg_ac_verr v = {0};
    mg_ac_verr_rule(&v, "first %d", 1);
    mg_ac_verr_rule(&v, "second");
    assert_true(mg_ac_verr_any(&v));
    mg_ac_verr_message(&v, msg, sizeof(msg));
    assert_string_equal(msg, "first 1");
}

static void test_target_validation(void **state)
{
    (void)state;
    s_expect(LAMBDA("[" TOOL("a") "," TOOL("b") "]"), true, NULL);
    s_expect(LAMBDA("[]"), true, "No Lambda tool schema found in target configuration");
    /* tool names stay in MCP's alphabet [A-Za-z0-9_.-]; the name itself is not echoed */
    s_expect(LAMBDA("[" TOOL("get.order-v2_Tool") "]"), true, NULL);
    s_expect(LAMBDA("[" TOOL("a") "," TOOL("my tool!") "]"), true,
             "1 validation error detected: Value at "
             "'targetConfiguration.mcp.lambda.toolSchema.inlinePayload.2.name' failed to satisfy "
             "constraint: Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+");
    s_expect(LAMBDA("[" TOOL("a/b") "]"), true, "regular expression pattern: [A-Za-z0-9_.-]+");
    s_expect(LAMBDA("[" TOOL("caf\u00e9") "]"), true, "regular expression pattern");
    s_expect(LAMBDA("[" TOOL("a\\nb") "]"), true, "regular expression pattern");
    {
        json_t *bad = s_json(LAMBDA("[" TOOL("my tool!") "]"));
        struct mg_ac_verr bv = {0};
        mg_ac_validate_target(bad, mg_ac_quotas(NULL), &bv); /* Update: the same rules */
        char bm[1024];
        mg_ac_verr_message(&bv, bm, sizeof(bm));
        assert_null(strstr(bm, "my tool!"));
        assert_non_null(strstr(bm, "[A-Za-z0-9_.-]+"));
        json_decref(bad);
    }
    s_expect(
        "{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"
        "\"arn:aws:lambda:us-east-1:111122223333:function:f\",\"toolSchema\":{\"inlinePayload\":"
        "[" TOOL("a") "]}}}},\"credentialProviderConfigurations\":[{\"credentialProviderType\":"
                      "\"API_KEY\",\"credentialProvider\":{\"apiKeyCredentialProvider\":{"
                      "\"providerArn\":"
                      "\"arn:aws:x:us-east-1:111122223333:p\"}}}]}",
        true, "Lambda target only supports GATEWAY_IAM_ROLE credential provider type");
    s_expect(
        "{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"
        "\"arn:aws:lambda:us-east-1:111122223333:function:f\",\"toolSchema\":{\"inlinePayload\":"
        "[" TOOL("a") "]}}}}}",
        true, "Lambda target only supports GATEWAY_IAM_ROLE");
    s_expect(LAMBDA("[{\"name\":\"a\",\"description\":\"d\",\"inputSchema\":{\"type\":\"object\","
                    "\"properties\":{\"p\":{\"$ref\":\"#/defs/x\"}}}}]"),
             true, "$ref is not supported");
    s_expect(LAMBDA("[{\"name\":\"a\",\"description\":\"d\",\"inputSchema\":{\"type\":\"map\"}}]"),
             true, "inlinePayload.1.inputSchema.type");
    s_expect(
        LAMBDA("[{\"name\":\"a\",\"description\":\"d\"}]"), true,
        "Value null at 'targetConfiguration.mcp.lambda.toolSchema.inlinePayload.1.inputSchema'");
    s_expect(
        "{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"openApiSchema\":{\"inlinePayload\":"
        "\"{}\"}}},\"credentialProviderConfigurations\":[{\"credentialProviderType\":\"GATEWAY_IAM_"
        "ROLE\"}]}",
        true,
        "IamCredentialProvider is required for openApiSchema targets using IAM authentication");
    s_expect(
        "{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"apiGateway\":{\"restApiId\":"
        "\"a1\",\"stage\":\"s\",\"apiGatewayToolConfiguration\":{\"toolFilters\":[]}}}},"
        "\"credentialProviderConfigurations\":[{\"credentialProviderType\":\"API_KEY\","
        "\"credentialProvider\":{\"apiKeyCredentialProvider\":{\"providerArn\":\"arn:aws:bedrock-"
        "agentcore:us-east-1:111122223333:token-vault/default/apikeycredentialprovider/k\"}}}]}",
        true,
        "API Gateway targets (targetConfiguration.mcp.apiGateway) are not supported by mcpgate");
    s_expect("{\"name\":\"t\",\"targetConfiguration\":{\"mcp\":{\"lambda\":{\"lambdaArn\":"
             "\"arn:aws:lambda:us-east-1:111122223333:function:f\",\"toolSchema\":{\"s3\":{\"uri\":"
             "\"s3://b/k\"}}}}}," CREDS "}",
             true, "S3 tool schemas");
    s_expect("{\"name\":\"t\",\"targetConfiguration\":{\"http\":{\"passthrough\":{\"endpoint\":"
             "\"https://x.example.com\",\"protocolType\":\"MCP\"}}}}",
             true,
             "HTTP passthrough targets (targetConfiguration.http.passthrough) are not supported");
    s_expect("{\"name\":\"t\"}", true, "Value null at 'targetConfiguration'");
    {
        /* the tool-name length is mcpgate's own limit, from the module's quotas */
        struct mg_ac_quotas q = MG_AC_QUOTAS_DEFAULT;
        q.tool_name_len = 3;
        json_t *b = s_json(LAMBDA("[" TOOL("abc") "," TOOL("abcd") "]"));
        struct mg_ac_verr v = {0};
        mg_ac_validate_target(b, &q, &v);
        char m[1024];
        mg_ac_verr_message(&v, m, sizeof(m));
        assert_string_equal(m, "1 validation error detected: Value at "
                               "'targetConfiguration.mcp.lambda.toolSchema.inlinePayload.2.name' "
                               "failed to satisfy constraint: Member must have length between 1 "
                               "and 3");
        json_decref(b);
    }
    char buf[128];
    json_t *tools = s_json("[" TOOL("a") "," TOOL("a") "]");
    assert_non_null(mg_ac_check_tools(tools, buf, sizeof(buf)));
    assert_string_equal(buf, "Duplicate tool found in target configuration");
    json_decref(tools);
    tools = s_json("[" TOOL("a") "," TOOL("b") "]");
    assert_null(mg_ac_check_tools(tools, buf, sizeof(buf)));
    json_decref(tools);
    /* a target stored before names were checked fails when it is synchronized */
    char big[256];
    tools = s_json("[" TOOL("a") "," TOOL("my tool!") "]");
    assert_non_null(mg_ac_check_tools(tools, big, sizeof(big)));
    assert_string_equal(big, "Invalid tool name found in target configuration: tool names must "
                             "match [A-Za-z0-9_.-]+");
    json_decref(tools);
}

static void test_resource_policy_rules(void **state)
{
    (void)state;
    const char *arn = "arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/gw-abcdefghij";
    char buf[1200];
    char doc[1024];
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Principal\":{\"AWS\":\"arn:aws:iam::444455556666:root\"},\"Action\":"
             "\"bedrock-agentcore:InvokeGateway\",\"Resource\":\"%s\"}]}",
             arn);
    assert_null(mg_ac_check_resource_policy(doc, arn, buf, sizeof(buf)));
    snprintf(
        doc, sizeof(doc),
        "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
        "\"Principal\":\"*\",\"Action\":\"bedrock-agentcore:InvokeGateway\",\"Resource\":\"*\"}}");
    assert_non_null(mg_ac_check_resource_policy(doc, arn, buf, sizeof(buf)));
    assert_non_null(strstr(buf, "Resource"));
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Principal\":\"*\",\"Action\":[\"bedrock-agentcore:InvokeGateway\","
             "\"bedrock-agentcore:DeleteGateway\"],\"Resource\":\"%s\"}]}",
             arn);
    assert_non_null(mg_ac_check_resource_policy(doc, arn, buf, sizeof(buf)));
    assert_non_null(strstr(buf, "DeleteGateway"));
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
             "\"Action\":\"bedrock-agentcore:InvokeGateway\",\"Resource\":\"%s\"}]}",
             arn);
    assert_non_null(mg_ac_check_resource_policy(doc, arn, buf, sizeof(buf)));
    assert_non_null(mg_ac_check_resource_policy("{nope", arn, buf, sizeof(buf)));
}

static void s_mcp_rule(const char *body, const char *needle)
{
    json_t *b = s_json(body);
    struct mg_ac_verr v = {0};
    mg_ac_validate_target(b, mg_ac_quotas(NULL), &v);
    char msg[2048] = "";
    if (mg_ac_verr_any(&v))
        mg_ac_verr_message(&v, msg, sizeof(msg));
    if (needle == NULL && msg[0])
        fail_msg("unexpected validation error: %s", msg);
    if (needle && strstr(msg, needle) == NULL)
        fail_msg("expected '%s' in '%s'", needle, msg);
    json_decref(b);
}

#define MCPS(ep, extra, creds)                                                                     \
    "{\"name\":\"m\",\"targetConfiguration\":{\"mcp\":{\"mcpServer\":{\"endpoint\":\"" ep          \
    "\"" extra "}}}" creds "}"

static void test_mcp_server_target_rules(void **state)
{
    (void)state;
    assert_true(mg_ac_loopback_http("http://127.0.0.1:8080/mcp"));
    assert_true(mg_ac_loopback_http("http://127.9.9.9/mcp"));
    assert_true(mg_ac_loopback_http("http://localhost:1"));
    assert_true(mg_ac_loopback_http("http://[::1]:9000/mcp"));
    assert_false(mg_ac_loopback_http("https://127.0.0.1/mcp"));
    assert_false(mg_ac_loopback_http("http://example.com/mcp"));
    assert_false(mg_ac_loopback_http("http://127.0.0.1.example.com/mcp"));
    assert_false(mg_ac_loopback_http("http://user:pw@127.0.0.1/mcp"));
    assert_false(mg_ac_loopback_http("http://[::1/mcp"));
    assert_false(mg_ac_loopback_http("http://[::2]/mcp"));
    assert_false(mg_ac_loopback_http("http:///mcp"));
    assert_false(mg_ac_loopback_http(NULL));

    s_mcp_rule(MCPS("https://x.example.com/mcp", "", ""), NULL);
    s_mcp_rule(MCPS("http://127.0.0.1:1/mcp", ",\"listingMode\":\"DYNAMIC\"", ""), NULL);
    s_mcp_rule(MCPS("http://example.com/mcp", "", ""), "must use https://");
    s_mcp_rule(MCPS("https://x/mcp", ",\"mcpToolSchema\":{\"inlinePayload\":\"{}\"}", ""),
               "supported only when the credential provider is configured with an "
               "authorization code grant type");
#define OAUTH(grant)                                                                               \
    ",\"credentialProviderConfigurations\":[{\"credentialProviderType\":\"OAUTH\","                \
    "\"credentialProvider\":{\"oauthCredentialProvider\":{\"providerArn\":\"arn:aws:x:us-east-1:"  \
    "111122223333:p\",\"scopes\":[],\"grantType\":\"" grant "\"}}}]"
    s_mcp_rule(MCPS("https://x/mcp", ",\"mcpToolSchema\":{\"inlinePayload\":\"{}\"}",
                    OAUTH("AUTHORIZATION_CODE")),
               "three-legged OAuth");
    s_mcp_rule(MCPS("https://x/mcp", "", OAUTH("AUTHORIZATION_CODE")), "three-legged OAuth");
    s_mcp_rule(MCPS("https://x/mcp", "", OAUTH("CLIENT_CREDENTIALS")), NULL);
    s_mcp_rule(MCPS("https://x/mcp", "",
                    ",\"credentialProviderConfigurations\":[{\"credentialProviderType\":"
                    "\"GATEWAY_IAM_ROLE\"}]"),
               "IamCredentialProvider is required for mcpServer targets");
    s_mcp_rule(MCPS("https://x/mcp", "",
                    ",\"credentialProviderConfigurations\":[{\"credentialProviderType\":"
                    "\"GATEWAY_IAM_ROLE\",\"credentialProvider\":{\"iamCredentialProvider\":{"
                    "\"service\":\"execute-api\"}}}]"),
               NULL);
    s_mcp_rule(MCPS("https://x/mcp", "",
                    ",\"credentialProviderConfigurations\":[{\"credentialProviderType\":"
                    "\"JWT_PASSTHROUGH\"}]"),
               "do not support the JWT_PASSTHROUGH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_gateway_validation),
        cmocka_unit_test(test_target_validation),
        cmocka_unit_test(test_resource_policy_rules),
        cmocka_unit_test(test_mcp_server_target_rules),
    };
    return MG_RUN_TESTS(tests);
}
