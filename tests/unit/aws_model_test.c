/* The AWS operation layer (src/aws/model.h): tables, routers, input assembly, validator,
 * replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "aws/model.h"
#include "unit/leaks.h"

#define S(lit) MG_SLICE_LIT(lit)
#define EMPTY mg_slice_make("", 0)

static const enum mg_aws_service s_ac[] = {MG_AWS_SVC_AGENTCORE_CONTROL, MG_AWS_SVC_AGENTCORE};
static const enum mg_aws_service s_lambda[] = {MG_AWS_SVC_LAMBDA};

static const char *s_route(const enum mg_aws_service *svcs, size_t n, const char *method,
                           const char *path, const char *query, struct mg_aws_route *rt)
{
    if (!mg_aws_route_rest(svcs, n, mg_slice_cstr(method), mg_slice_cstr(path),
                           mg_slice_cstr(query), rt))
        return NULL;
    return mg_aws_op_name(rt->op);
}

static void test_tables(void **state)
{
    (void)state;
    assert_int_equal(mg_aws_model.n_services, MG_AWS_SVC_COUNT);
    assert_string_equal(mg_aws_service(MG_AWS_SVC_IAM)->id, "iam");
    assert_string_equal(mg_aws_service(MG_AWS_SVC_AGENTCORE)->id, "bedrock-agentcore");
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_IAM, S("CreateRole"));
    assert_non_null(op);
    assert_string_equal(mg_aws_op_action(op), "iam:CreateRole");
    assert_int_equal(mg_aws_op_wire(op), MG_AWS_WIRE_QUERY);
    assert_null(mg_aws_op_find(MG_AWS_SVC_IAM, S("CreateRol")));
    op = mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("Invoke"));
    assert_string_equal(mg_aws_op_action(op), "lambda:InvokeFunction");
    op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("UpdateGateway"));
    assert_int_equal(op->status, 202);
    assert_int_equal(op->method, MG_AWS_PUT);
    assert_true(op->n_errors > 0);
    assert_true(mg_aws_shape(mg_aws_model.errors[op->errors])->flags & MG_AWS_S_ERROR);
    /* the ops of a service are sorted, so the binary search finds every one */
    for (size_t i = 0; i < mg_aws_model.n_ops; i++) {
        const struct mg_aws_op *o = &mg_aws_model.ops[i];
        assert_ptr_equal(mg_aws_op_find((enum mg_aws_service)o->service,
                                        mg_slice_cstr(mg_aws_op_name(o))),
                         o);
    }
}

/* Every operation src/aws/served.txt names (the coverage table's "served") is in the tables. */
static void test_served_list(void **state)
{
    (void)state;
    FILE *f = fopen("src/aws/served.txt", "r");
    assert_non_null(f);
    char line[256];
    int n = 0;
    while (fgets(line, sizeof(line), f)) {
        char svc[64], op[128];
        if (line[0] == '#' || sscanf(line, "%63s %127s", svc, op) != 2)
            continue;
        bool found = false;
        for (size_t s = 0; s < MG_AWS_SVC_COUNT; s++)
            if (strcmp(mg_aws_service((enum mg_aws_service)s)->id, svc) == 0)
                found = mg_aws_op_find((enum mg_aws_service)s, mg_slice_cstr(op)) != NULL;
        if (!found)
            fail_msg("src/aws/served.txt: %s %s is no operation of the tables", svc, op);
        n++;
    }
    fclose(f);
    assert_true(n > 50);
}

static void test_patterns_compile(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t i = 0; i < mg_aws_model.n_shapes; i++) {
        const struct mg_aws_shape *s = &mg_aws_model.shapes[i];
        if (!s->pattern)
            continue;
        if (!mg_aws_pattern_ok(s->pattern))
            fail_msg("pattern of %s does not compile: %s", mg_aws_str(s->name),
                     mg_aws_str(s->pattern));
        n++;
    }
    assert_true(n > 400);
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_IAM, S("CreateRole"));
    const struct mg_aws_shape *in = mg_aws_shape(op->input);
    const struct mg_aws_shape *rn = NULL;
    for (size_t i = 0; i < in->count; i++)
        if (strcmp(mg_aws_str(mg_aws_member(in, i)->name), "RoleName") == 0)
            rn = mg_aws_shape(mg_aws_member(in, i)->target);
    assert_non_null(rn);
    assert_true(mg_aws_pattern_match(rn->pattern, S("my-role+=,.@_")));
    assert_false(mg_aws_pattern_match(rn->pattern, S("my role")));
    assert_false(mg_aws_pattern_match(rn->pattern, S("role\n"))); /* the whole value */
}

static void test_route_rest(void **state)
{
    (void)state;
    struct mg_aws_route rt;
    assert_string_equal(s_route(s_ac, 2, "GET", "/gateways/", "", &rt), "ListGateways");
    assert_int_equal(rt.n_labels, 0);
    assert_string_equal(s_route(s_ac, 2, "GET", "/gateways/gw-1", "", &rt), "GetGateway");
    assert_int_equal(rt.n_labels, 1);
    assert_true(mg_slice_eq_cstr(rt.labels[0].name, "gatewayIdentifier"));
    assert_true(mg_slice_eq_cstr(rt.labels[0].raw, "gw-1"));
    /* literal segments beat labels: /gateways/{id}/targets/ vs deeper label paths */
    assert_string_equal(s_route(s_ac, 2, "GET", "/gateways/gw-1/targets/", "", &rt),
                        "ListGatewayTargets");
    assert_string_equal(s_route(s_ac, 2, "GET", "/gateways/gw-1/targets/T1", "", &rt),
                        "GetGatewayTarget");
    assert_int_equal(rt.n_labels, 2);
    /* method mismatch: no operation */
    assert_null(s_route(s_ac, 2, "PATCH", "/gateways/", "", &rt));
    assert_null(s_route(s_ac, 2, "GET", "/no/such/thing", "", &rt));
    /* the data plane's model under the same signing name */
    assert_string_equal(s_route(s_ac, 2, "POST", "/runtimes/rt-1/invocations", "", &rt),
                        "InvokeAgentRuntime");
    assert_int_equal(rt.op->service, MG_AWS_SVC_AGENTCORE);
    /* a literal query part wins when present, and is required */
    assert_string_equal(s_route(s_lambda, 1, "GET",
                                "/2019-09-30/functions/f/provisioned-concurrency", "Qualifier=1",
                                &rt),
                        "GetProvisionedConcurrencyConfig");
    assert_string_equal(s_route(s_lambda, 1, "GET",
                                "/2019-09-30/functions/f/provisioned-concurrency",
                                "Marker=x&List=ALL", &rt),
                        "ListProvisionedConcurrencyConfigs");
    assert_string_equal(s_route(s_lambda, 1, "GET", "/2018-10-31/layers", "find=LayerVersion&Arn=a",
                                &rt),
                        "GetLayerVersionByArn");
    assert_string_equal(s_route(s_lambda, 1, "GET", "/2018-10-31/layers", "", &rt), "ListLayers");
    /* a label is one segment: more segments do not match a shorter template */
    assert_null(s_route(s_lambda, 1, "GET", "/2015-03-31/functions/a/b/c/d/e", "", &rt));
    /* query services have no rest routes */
    static const enum mg_aws_service iam[] = {MG_AWS_SVC_IAM};
    assert_null(s_route(iam, 1, "POST", "/", "", &rt));
}

/* Every rest operation's own path (labels filled in, a greedy one with two segments) finds an
 * operation: itself, or one whose template matches that path with as many literal segments. */
static void test_route_every_template(void **state)
{
    (void)state;
    size_t tried = 0;
    for (size_t k = 0; k < mg_aws_model.n_services; k++) {
        const struct mg_aws_service_info *s = &mg_aws_model.services[k];
        if (s->wire == MG_AWS_WIRE_QUERY)
            continue;
        enum mg_aws_service svc = (enum mg_aws_service)k;
        for (size_t i = s->first_op; i < (size_t)s->first_op + s->n_ops; i++) {
            const struct mg_aws_op *op = &mg_aws_model.ops[i];
            const char *u = mg_aws_str(op->uri);
            char path[1024];
            size_t o = 0;
            for (const char *c = u; *c && o + 8 < sizeof(path);) {
                if (*c == '{') {
                    const char *end = strchr(c, '}');
                    assert_non_null(end);
                    bool greedy = end[-1] == '+';
                    const char *fill = greedy ? "a/b" : "x1";
                    mg_memcpy(path + o, fill, strlen(fill));
                    o += strlen(fill);
                    c = end + 1;
                } else {
                    path[o++] = *c++;
                }
            }
            path[o] = 0;
            struct mg_aws_route rt;
            const char *method = mg_aws_method_name((enum mg_aws_method)op->method);
            assert_true(mg_aws_route_rest(&svc, 1, mg_slice_cstr(method), mg_slice_cstr(path),
                                          mg_slice_cstr(mg_aws_str(op->query)), &rt));
            if (rt.op != op) {
                struct mg_aws_route a, b;
                int mine = mg_aws_route_template(u, mg_slice_cstr(path), &a);
                int found = mg_aws_route_template(mg_aws_str(rt.op->uri), mg_slice_cstr(path), &b);
                assert_true(found >= 0);
                assert_true(found >= mine);
                assert_int_equal(rt.op->method, op->method);
            }
            tried++;
        }
    }
    assert_true(tried > 100);
}

static void test_route_template(void **state)
{
    (void)state;
    struct mg_aws_route rt;
    /* a greedy label takes the rest of the path, slashes included, trailing slashes out */
    assert_int_equal(mg_aws_route_template("/tags/{arn+}", S("/tags/arn:aws:x/y/z/"), &rt), 1);
    assert_int_equal(rt.n_labels, 1);
    assert_true(mg_slice_eq_cstr(rt.labels[0].name, "arn"));
    assert_true(mg_slice_eq_cstr(rt.labels[0].raw, "arn:aws:x/y/z"));
    assert_int_equal(mg_aws_route_template("/tags/{arn+}", S("/tags/"), &rt), -1);
    /* a plain label is one segment */
    assert_int_equal(mg_aws_route_template("/tags/{arn}", S("/tags/a/b"), &rt), -1);
    assert_int_equal(mg_aws_route_template("/a/{x}/b/{y}", S("//a/1//b/2/"), &rt), 2);
    assert_true(mg_slice_eq_cstr(rt.labels[1].raw, "2"));
    assert_int_equal(mg_aws_route_template("/a/{x}/b", S("/a/1/c"), &rt), -1);
    assert_int_equal(mg_aws_route_template("/", S("/"), &rt), 0);
    assert_int_equal(mg_aws_route_template("/", S("/x"), &rt), -1);
    /* too many labels fail closed */
    assert_int_equal(mg_aws_route_template("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
                                           S("/1/2/3/4/5/6/7/8/9"), &rt),
                     -1);
}

static void test_route_query(void **state)
{
    (void)state;
    assert_non_null(mg_aws_route_query(MG_AWS_SVC_IAM, S("CreateGroup")));
    assert_non_null(mg_aws_route_query(MG_AWS_SVC_STS, S("GetSessionToken")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_STS, S("CreateGroup")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_IAM, S("")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_LAMBDA, S("Invoke"))); /* not a query service */
}

/* rest-json assembly of one request; returns the object or NULL (rep holds the error). */
static json_t *s_rest(const enum mg_aws_service *svcs, size_t n, const char *method,
                      const char *path, const char *query, const char *body,
                      const struct mg_kv *headers, size_t n_headers, struct mg_aws_reply *rep)
{
    struct mg_aws_route rt;
    assert_true(mg_aws_route_rest(svcs, n, mg_slice_cstr(method), mg_slice_cstr(path),
                                  mg_slice_cstr(query), &rt));
    struct mg_aws_request req = {mg_slice_cstr(path), mg_slice_cstr(query), mg_slice_cstr(body),
                                 headers, n_headers};
    json_t *out = NULL;
    enum mg_err e = mg_aws_input_rest(rt.op, &rt, &req, &out, rep);
    assert_true(e == MG_E_OK ? out != NULL : out == NULL);
    return out;
}

static void test_input_rest(void **state)
{
    (void)state;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    /* the uri label wins over a body member of the same name; labels are URL-decoded */
    json_t *in = s_rest(s_ac, 2, "PUT", "/gateways/gw%2D1%20x/", "",
                        "{\"name\":\"n\",\"gatewayIdentifier\":\"evil\"}", NULL, 0, &rep);
    assert_string_equal(json_string_value(json_object_get(in, "gatewayIdentifier")), "gw-1 x");
    assert_string_equal(json_string_value(json_object_get(in, "name")), "n");
    json_decref(in);
    /* querystring members typed */
    in = s_rest(s_ac, 2, "GET", "/gateways/", "maxResults=5&nextToken=a%2Bb", "", NULL, 0, &rep);
    assert_int_equal(json_integer_value(json_object_get(in, "maxResults")), 5);
    assert_string_equal(json_string_value(json_object_get(in, "nextToken")), "a+b");
    json_decref(in);
    /* a malformed number: AWS's error, no object */
    assert_null(s_rest(s_ac, 2, "GET", "/gateways/", "maxResults=5x", "", NULL, 0, &rep));
    assert_int_equal(rep.status, 400);
    assert_string_equal(rep.code, "SerializationException");
    assert_non_null(strstr(rep.message, "maxResults"));
    /* a body that is not a JSON object */
    assert_null(s_rest(s_ac, 2, "POST", "/gateways/", "", "[1]", NULL, 0, &rep));
    assert_string_equal(rep.code, "SerializationException");
    assert_null(s_rest(s_ac, 2, "POST", "/gateways/", "", "{\"a\":1,\"a\":2}", NULL, 0, &rep));
    /* headers; the blob payload stays out of the object */
    struct mg_kv h[] = {{S("x-amz-invocation-type"), S("Event")}, {S("x-amz-log-type"), S("Tail")}};
    in = s_rest(s_lambda, 1, "POST", "/2015-03-31/functions/f/invocations", "Qualifier=%24LATEST",
                "\x01\x02 not json", h, 2, &rep);
    assert_string_equal(json_string_value(json_object_get(in, "InvocationType")), "Event");
    assert_string_equal(json_string_value(json_object_get(in, "LogType")), "Tail");
    assert_string_equal(json_string_value(json_object_get(in, "Qualifier")), "$LATEST");
    assert_string_equal(json_string_value(json_object_get(in, "FunctionName")), "f");
    assert_null(json_object_get(in, "Payload"));
    json_decref(in);
    /* a label that is not UTF-8 after decoding */
    assert_null(s_rest(s_ac, 2, "GET", "/gateways/%FF", "", "", NULL, 0, &rep));
    assert_int_equal(rep.status, 400);
    mg_aws_reply_cleanup(&rep);
}

static json_t *s_query(const char *action, const char *form, struct mg_aws_reply *rep)
{
    struct mg_kv h[] = {{S("content-type"), S("application/x-www-form-urlencoded")}};
    struct mg_http_req r = {0};
    r.body = mg_slice_cstr(form);
    r.headers = h;
    r.n_headers = 1;
    struct mg_aws_params p;
    assert_int_equal(mg_aws_params_parse(&p, &r), MG_E_OK);
    const struct mg_aws_op *op = mg_aws_route_query(MG_AWS_SVC_IAM, mg_slice_cstr(action));
    assert_non_null(op);
    json_t *out = NULL;
    enum mg_err e = mg_aws_input_query(op, &p, &out, rep);
    mg_aws_params_cleanup(&p);
    assert_true(e == MG_E_OK ? out != NULL : out == NULL);
    return out;
}

static void test_input_query(void **state)
{
    (void)state;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    json_t *in = s_query("CreateRole",
                         "Action=CreateRole&RoleName=r&MaxSessionDuration=3600&"
                         "Tags.member.1.Key=k1&Tags.member.1.Value=v1&Tags.member.2.Key=k2&"
                         "Tags.member.2.Value=v2&AssumeRolePolicyDocument=%7B%7D",
                         &rep);
    assert_string_equal(json_string_value(json_object_get(in, "RoleName")), "r");
    assert_int_equal(json_integer_value(json_object_get(in, "MaxSessionDuration")), 3600);
    json_t *tags = json_object_get(in, "Tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 1), "Value")), "v2");
    assert_string_equal(json_string_value(json_object_get(in, "AssumeRolePolicyDocument")), "{}");
    json_decref(in);
    /* an empty list */
    in = s_query("TagRole", "RoleName=r&Tags=", &rep);
    assert_int_equal(json_array_size(json_object_get(in, "Tags")), 0);
    json_decref(in);
    /* a list stops at its first gap */
    in = s_query("UntagRole", "RoleName=r&TagKeys.member.1=a&TagKeys.member.3=c", &rep);
    assert_int_equal(json_array_size(json_object_get(in, "TagKeys")), 1);
    json_decref(in);
    /* typed values: a malformed integer or boolean */
    assert_null(s_query("CreateRole", "RoleName=r&MaxSessionDuration=12x", &rep));
    assert_string_equal(rep.code, "ValidationError");
    assert_null(s_query("ListRoles", "MaxItems=99999999999", &rep));
    assert_null(
        s_query("CreateLoginProfile", "UserName=u&Password=p&PasswordResetRequired=yes", &rep));
    in = s_query("CreateLoginProfile", "UserName=u&Password=p&PasswordResetRequired=true", &rep);
    assert_true(json_is_true(json_object_get(in, "PasswordResetRequired")));
    json_decref(in);
    mg_aws_reply_cleanup(&rep);
}

static void s_expect(const char *action, const char *form, const char *message)
{
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    json_t *in = s_query(action, form, &rep);
    assert_non_null(in);
    struct mg_aws_verrors v;
    bool ok = mg_aws_validate(mg_aws_route_query(MG_AWS_SVC_IAM, mg_slice_cstr(action)), in, &v);
    json_decref(in);
    char msg[4096];
    mg_aws_verrors_message(&v, msg, sizeof(msg));
    if (message == NULL) {
        if (!ok)
            fail_msg("unexpected: %s", msg);
    } else {
        assert_false(ok);
        assert_string_equal(msg, message);
    }
    mg_aws_reply_cleanup(&rep);
}

static void test_validate_query(void **state)
{
    (void)state;
    s_expect("GetRole", "RoleName=ok", NULL);
    s_expect("GetRole", "",
             "1 validation error detected: Value null at 'roleName' failed to satisfy "
             "constraint: Member must not be null");
    s_expect("GetRole", "RoleName=a%20b",
             "1 validation error detected: Value 'a b' at 'roleName' failed to satisfy "
             "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+");
    s_expect("GetRole",
             "RoleName="
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "1 validation error detected: Value "
             "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' at 'roleName' "
             "failed to satisfy constraint: Member must have length less than or equal to 64");
    s_expect("GetRole", "RoleName=",
             "2 validation errors detected: Value '' at 'roleName' failed to satisfy constraint: "
             "Member must have length greater than or equal to 1; Value '' at 'roleName' failed "
             "to satisfy constraint: Member must satisfy regular expression pattern: "
             "[\\w+=,.@-]+");
    /* nested list paths as IAM writes them */
    s_expect("TagRole",
             "RoleName=r&Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Value=v",
             "1 validation error detected: Value null at 'tags.2.member.key' failed to satisfy "
             "constraint: Member must not be null");
    /* ranges */
    s_expect("ListRoles", "MaxItems=0",
             "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: "
             "Member must have value greater than or equal to 1");
    /* enums */
    s_expect(
        "GetAccountAuthorizationDetails", "Filter.member.1=Bogus",
        "1 validation error detected: Value 'Bogus' at 'filter.1.member' failed to satisfy "
        "constraint: Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, "
        "AWSManagedPolicy]");
    /* sensitive values are not echoed */
    char form[400] = "UserName=u&Password=";
    size_t at = strlen(form);
    memset(form + at, 's', 130);
    form[at + 130] = 0;
    s_expect("CreateLoginProfile", form,
             "1 validation error detected: Value at 'password' failed to satisfy constraint: "
             "Member must have length less than or equal to 128");
}

static void test_validate_rest(void **state)
{
    (void)state;
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("CreateGateway"));
    json_t *in = json_loads("{\"name\":\"gw\",\"roleArn\":\"arn:aws:iam::123456789012:role/r\","
                            "\"authorizerType\":\"AWS_IAM\",\"protocolType\":\"MCP\"}",
                            0, NULL);
    struct mg_aws_verrors v;
    char msg[4096];
    assert_true(mg_aws_validate(op, in, &v));
    json_object_set_new(in, "protocolType", json_string("HTTP"));
    json_object_set_new(in, "authorizerType", json_integer(1));
    json_object_del(in, "name");
    assert_false(mg_aws_validate(op, in, &v));
    mg_aws_verrors_message(&v, msg, sizeof(msg));
    assert_string_equal(msg, "3 validation errors detected: Value null at 'name' failed to "
                             "satisfy constraint: Member must not be null; Value 'HTTP' at "
                             "'protocolType' failed to satisfy constraint: Member must satisfy "
                             "enum value set: [MCP]; Value at 'authorizerType' failed to satisfy "
                             "constraint: Member must be a string");
    assert_string_equal(v.e[0].path, "name");
    json_decref(in);
    /* nested rest-json paths */
    op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("CreateGatewayTarget"));
    in = json_loads("{\"gatewayIdentifier\":\"g\",\"name\":\"t\",\"targetConfiguration\":{\"mcp\":"
                    "{\"lambda\":{\"lambdaArn\":\"x\",\"toolSchema\":{\"inlinePayload\":[]}}}}}",
                    0, NULL);
    assert_false(mg_aws_validate(op, in, &v));
    mg_aws_verrors_message(&v, msg, sizeof(msg));
    if (!strstr(msg, "at 'targetConfiguration.mcp.lambda.lambdaArn' failed to satisfy constraint: "
                     "Member must satisfy regular expression pattern: arn:"))
        fail_msg("%s", msg);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.e[1].path, "targetConfiguration.mcp.lambda.lambdaArn");
    json_decref(in);
    /* the dialect knobs: list items by index, no values shown */
    in = json_loads("{\"gatewayIdentifier\":\"g\",\"name\":\"t\",\"targetConfiguration\":{\"mcp\":"
                    "{\"lambda\":{\"lambdaArn\":\"x\",\"toolSchema\":{\"inlinePayload\":[{\"name\":"
                    "\"a\",\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"}},{"
                    "\"description\":\"d\",\"inputSchema\":{\"type\":\"object\"}}]}}}}}",
                    0, NULL);
    assert_non_null(in);
    assert_false(mg_aws_validate_with(op, in, MG_AWS_V_LIST_INDEX | MG_AWS_V_NO_VALUES, &v));
    assert_int_equal(v.n, 3);
    assert_string_equal(v.e[0].msg, "Value at 'gatewayIdentifier' failed to satisfy constraint: "
                                    "Member must satisfy regular expression pattern: "
                                    "([0-9a-z][-]?){1,100}-[0-9a-z]{10}");
    assert_string_equal(v.e[2].path,
                        "targetConfiguration.mcp.lambda.toolSchema.inlinePayload.2.name");
    assert_false(mg_aws_validate(op, in, &v));
    assert_string_equal(v.e[2].path,
                        "targetConfiguration.mcp.lambda.toolSchema.inlinePayload.member.name");
    json_decref(in);
    /* ranges on typed query members */
    op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("ListGateways"));
    in = json_pack("{s:i}", "maxResults", 1001);
    assert_false(mg_aws_validate(op, in, &v));
    assert_string_equal(v.e[0].msg, "Value '1001' at 'maxResults' failed to satisfy constraint: "
                                    "Member must have value less than or equal to 1000");
    json_decref(in);
    /* NULL input counts as {} */
    assert_true(mg_aws_validate(op, NULL, &v));
    /* a long value is shown capped, never whole */
    op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("GetGateway"));
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    in = json_pack("{s:s}", "gatewayIdentifier", big);
    assert_false(mg_aws_validate(op, in, &v));
    assert_true(strlen(v.e[0].msg) < 700);
    assert_non_null(
        strstr(v.e[0].msg, "regular expression pattern: ([0-9a-z][-]?){1,100}-[0-9a-z]{10}"));
    assert_non_null(strstr(v.e[0].msg, "...'"));
    json_decref(in);
    /* many errors: counted, the first kept */
    op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("CreateGateway"));
    in = json_object();
    json_t *tags = json_object();
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof(k), "bad*%d", i);
        json_object_set_new(tags, k, json_string("v"));
    }
    json_object_set_new(in, "tags", tags);
    assert_false(mg_aws_validate(op, in, &v));
    assert_true(v.n > MG_AWS_VERR_KEPT);
    mg_aws_verrors_message(&v, msg, sizeof(msg));
    assert_non_null(strstr(msg, "more"));
    json_decref(in);
}

static void test_replies(void **state)
{
    (void)state;
    struct mg_aws_reply rep;
    struct mg_buf b;
    mg_aws_reply_init(&rep);
    mg_buf_init(&b, 1 << 20);
    mg_aws_reply_not_implemented(&rep, mg_aws_op_find(MG_AWS_SVC_STS, S("GetSessionToken")), NULL);
    assert_int_equal(rep.status, 501);
    assert_string_equal(rep.code, "NotImplemented");
    assert_string_equal(rep.message, "GetSessionToken is an STS operation that mcpgate does not "
                                     "implement (see docs/api-coverage.md).");
    assert_int_equal(mg_aws_reply_error_body(&rep, MG_AWS_QUERY_STS, "rid", &b), MG_E_OK);
    assert_non_null(
        strstr(mg_buf_cstr(&b), "<Type>Receiver</Type>\n    <Code>NotImplemented</Code>"));
    assert_non_null(strstr(mg_buf_cstr(&b), "<RequestId>rid</RequestId>"));
    mg_aws_reply_not_implemented(&rep, mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("ListAliases")), NULL);
    assert_string_equal(rep.code, "NotImplementedException");
    assert_string_equal(rep.message, "ListAliases is a Lambda operation that mcpgate does not "
                                     "implement (see docs/api-coverage.md).");
    mg_aws_reply_unknown_action(&rep, MG_AWS_SVC_IAM, S("Frob\x01"));
    assert_int_equal(rep.status, 400);
    assert_string_equal(rep.message, "Could not find operation Frob? for version 2010-05-08: IAM "
                                     "has no operation of this name (the operations mcpgate "
                                     "supports are listed in docs/api-coverage.md).");
    mg_aws_reply_unknown_rest(&rep, MG_AWS_SVC_LAMBDA, NULL, S("GET"), S("/x"));
    assert_int_equal(rep.status, 404);
    assert_string_equal(rep.code, "UnknownOperationException");
    /* AgentCore's validation error carries reason and fieldList */
    struct mg_aws_verrors v;
    const struct mg_aws_op *op = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, S("GetGateway"));
    assert_false(mg_aws_validate(op, NULL, &v));
    mg_aws_reply_validation(&rep, op, &v);
    assert_string_equal(rep.code, "ValidationException");
    mg_buf_reset(&b);
    assert_int_equal(mg_aws_reply_error_body(&rep, MG_AWS_REST_JSON, "rid", &b), MG_E_OK);
    json_t *body = json_loads(mg_buf_cstr(&b), 0, NULL);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "reason")),
                        "FieldValidationFailed");
    assert_string_equal(json_string_value(json_object_get(body, "__type")), "ValidationException");
    json_t *f = json_array_get(json_object_get(body, "fieldList"), 0);
    assert_string_equal(json_string_value(json_object_get(f, "name")), "gatewayIdentifier");
    assert_string_equal(json_string_value(json_object_get(body, "message")),
                        "1 validation error detected: Value null at 'gatewayIdentifier' failed to "
                        "satisfy constraint: Member must not be null");
    json_decref(body);
    /* IAM: ValidationError; Lambda: ValidationException without reason and fieldList */
    mg_aws_reply_validation(&rep, mg_aws_op_find(MG_AWS_SVC_IAM, S("GetRole")), &v);
    assert_string_equal(rep.code, "ValidationError");
    assert_null(rep.fields);
    mg_aws_reply_validation(&rep, mg_aws_op_find(MG_AWS_SVC_LAMBDA, S("GetFunction")), &v);
    assert_string_equal(rep.code, "ValidationException");
    assert_null(rep.fields);
    /* a message that is not UTF-8 still gives a JSON body */
    mg_aws_reply_error(&rep, 400, "ValidationException", "bad \xff value");
    mg_buf_reset(&b);
    assert_int_equal(mg_aws_reply_error_body(&rep, MG_AWS_REST_JSON, "rid", &b), MG_E_OK);
    body = json_loads(mg_buf_cstr(&b), 0, NULL);
    assert_non_null(body);
    assert_null(json_object_get(body, "fieldList"));
    json_decref(body);
    /* a success body replaces an error */
    mg_aws_reply_json(&rep, 200, json_pack("{s:s}", "a", "b"));
    assert_int_equal(rep.code[0], 0);
    assert_non_null(rep.json);
    mg_buf_cleanup(&b);
    mg_aws_reply_cleanup(&rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_served_list),
        cmocka_unit_test(test_patterns_compile),
        cmocka_unit_test(test_route_rest),
        cmocka_unit_test(test_route_every_template),
        cmocka_unit_test(test_route_template),
        cmocka_unit_test(test_route_query),
        cmocka_unit_test(test_input_rest),
        cmocka_unit_test(test_input_query),
        cmocka_unit_test(test_validate_query),
        cmocka_unit_test(test_validate_rest),
        cmocka_unit_test(test_replies),
    };
    return MG_RUN_TESTS(tests);
}
