/* Smithy model targets: tools from a JSON AST, requests by protocol, results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/json.h"
#include "targets/targets.h"
#include "unit/leaks.h"

static const struct mg_target_limits s_lim = {.max_tools = 1000,
                                              .max_name = 256,
                                              .target_name_len = 8};

/* A restJson1 slice of Lambda, with a resource, a recursive shape, a streaming operation, a
 * jsonName, headers, a payload and documentation with HTML. */
static const char *s_rest =
    "{\"smithy\":\"2.0\",\"shapes\":{"
    "\"com.amazonaws.lambda#AWSGirApiService\":{\"type\":\"service\",\"version\":\"2015-03-31\","
    " \"operations\":[{\"target\":\"com.amazonaws.lambda#ListFunctions\"},"
    "  {\"target\":\"com.amazonaws.lambda#GetFunction\"},{\"target\":\"com.amazonaws.lambda#Put\"},"
    "  {\"target\":\"com.amazonaws.lambda#Stream\"}],"
    " \"resources\":[{\"target\":\"com.amazonaws.lambda#Layer\"}],"
    " \"traits\":{\"aws.protocols#restJson1\":{},\"aws.auth#sigv4\":{\"name\":\"lambda\"},"
    "  \"aws.api#service\":{\"sdkId\":\"Lambda\",\"endpointPrefix\":\"lambda\"}}},"
    "\"com.amazonaws.lambda#Layer\":{\"type\":\"resource\","
    " \"read\":{\"target\":\"com.amazonaws.lambda#GetLayer\"},"
    " \"resources\":[{\"target\":\"com.amazonaws.lambda#Layer2\"}]},"
    "\"com.amazonaws.lambda#Layer2\":{\"type\":\"resource\","
    " \"operations\":[{\"target\":\"com.amazonaws.lambda#GetLayer\"}]},"
    "\"com.amazonaws.lambda#GetLayer\":{\"type\":\"operation\","
    " \"traits\":{\"smithy.api#http\":{\"method\":\"GET\",\"uri\":\"/layers/{Key+}?x-id=Get\"}},"
    " \"input\":{\"target\":\"com.amazonaws.lambda#GetLayerIn\"}},"
    "\"com.amazonaws.lambda#GetLayerIn\":{\"type\":\"structure\",\"members\":{"
    " \"Key\":{\"target\":\"smithy.api#String\",\"traits\":{\"smithy.api#httpLabel\":{},"
    "  \"smithy.api#required\":{}}}}},"
    "\"com.amazonaws.lambda#ListFunctions\":{\"type\":\"operation\","
    " \"input\":{\"target\":\"com.amazonaws.lambda#ListFunctionsRequest\"},"
    " \"traits\":{\"smithy.api#http\":{\"method\":\"GET\",\"uri\":\"/2015-03-31/functions\","
    "  \"code\":200},\"smithy.api#documentation\":\"<p>Returns a list of <b>Lambda</b> "
    "functions &amp; more.</p>\\n <p>Paged.</p>\"}},"
    "\"com.amazonaws.lambda#ListFunctionsRequest\":{\"type\":\"structure\",\"members\":{"
    " \"Marker\":{\"target\":\"smithy.api#String\",\"traits\":{\"smithy.api#httpQuery\":"
    "  \"Marker\",\"smithy.api#documentation\":\"The pagination token.\"}},"
    " \"MaxItems\":{\"target\":\"com.amazonaws.lambda#MaxListItems\",\"traits\":{"
    "  \"smithy.api#httpQuery\":\"MaxItems\"}},"
    " \"Tags\":{\"target\":\"com.amazonaws.lambda#TagList\",\"traits\":{"
    "  \"smithy.api#httpQuery\":\"tag\"}},"
    " \"Version\":{\"target\":\"com.amazonaws.lambda#Ver\",\"traits\":{"
    "  \"smithy.api#httpHeader\":\"X-Version\"}}}},"
    "\"com.amazonaws.lambda#MaxListItems\":{\"type\":\"integer\"},"
    "\"com.amazonaws.lambda#Ver\":{\"type\":\"enum\",\"members\":{"
    " \"ALL\":{\"target\":\"smithy.api#Unit\",\"traits\":{\"smithy.api#enumValue\":\"ALL\"}}}},"
    "\"com.amazonaws.lambda#TagList\":{\"type\":\"list\",\"member\":{\"target\":"
    " \"smithy.api#String\"}},"
    "\"com.amazonaws.lambda#GetFunction\":{\"type\":\"operation\","
    " \"input\":{\"target\":\"com.amazonaws.lambda#GetFunctionRequest\"},"
    " \"traits\":{\"smithy.api#http\":{\"method\":\"GET\","
    "  \"uri\":\"/2015-03-31/functions/{FunctionName}\"}}},"
    "\"com.amazonaws.lambda#GetFunctionRequest\":{\"type\":\"structure\",\"members\":{"
    " \"FunctionName\":{\"target\":\"smithy.api#String\",\"traits\":{"
    "  \"smithy.api#httpLabel\":{},\"smithy.api#required\":{}}},"
    " \"Qualifier\":{\"target\":\"smithy.api#String\",\"traits\":{"
    "  \"smithy.api#httpQuery\":\"Qualifier\"}}}},"
    "\"com.amazonaws.lambda#Put\":{\"type\":\"operation\","
    " \"input\":{\"target\":\"com.amazonaws.lambda#PutIn\"},"
    " \"traits\":{\"smithy.api#http\":{\"method\":\"PUT\",\"uri\":\"/things/{Id}\"}}},"
    "\"com.amazonaws.lambda#PutIn\":{\"type\":\"structure\",\"members\":{"
    " \"Id\":{\"target\":\"smithy.api#Integer\",\"traits\":{\"smithy.api#httpLabel\":{},"
    "  \"smithy.api#required\":{}}},"
    " \"Name\":{\"target\":\"smithy.api#String\",\"traits\":{\"smithy.api#jsonName\":\"name\"}},"
    " \"When\":{\"target\":\"smithy.api#Timestamp\"},"
    " \"Data\":{\"target\":\"smithy.api#Blob\"},"
    " \"Node\":{\"target\":\"com.amazonaws.lambda#Node\"},"
    " \"Meta\":{\"target\":\"com.amazonaws.lambda#Meta\",\"traits\":{"
    "  \"smithy.api#httpPrefixHeaders\":\"x-meta-\"}}}},"
    "\"com.amazonaws.lambda#Meta\":{\"type\":\"map\",\"key\":{\"target\":\"smithy.api#String\"},"
    " \"value\":{\"target\":\"smithy.api#String\"}},"
    "\"com.amazonaws.lambda#Node\":{\"type\":\"structure\",\"members\":{"
    " \"Value\":{\"target\":\"smithy.api#Double\",\"traits\":{\"smithy.api#jsonName\":\"v\"}},"
    " \"Next\":{\"target\":\"com.amazonaws.lambda#Node\"}}},"
    "\"com.amazonaws.lambda#Stream\":{\"type\":\"operation\","
    " \"input\":{\"target\":\"com.amazonaws.lambda#StreamIn\"},"
    " \"traits\":{\"smithy.api#http\":{\"method\":\"POST\",\"uri\":\"/s\"}}},"
    "\"com.amazonaws.lambda#StreamIn\":{\"type\":\"structure\",\"members\":{"
    " \"Body\":{\"target\":\"com.amazonaws.lambda#Bytes\",\"traits\":{"
    "  \"smithy.api#httpPayload\":{}}}}},"
    "\"com.amazonaws.lambda#Bytes\":{\"type\":\"blob\",\"traits\":{\"smithy.api#streaming\":{}}}"
    "}}";

static json_t *s_tools(const char *model, enum mg_err want, char *msg)
{
    json_t *tools = NULL;
    enum mg_err e = mg_smithy_tools(mg_slice_cstr(model), &s_lim, &tools, msg, 512);
    assert_int_equal(e, want);
    if (want == MG_E_OK)
        assert_non_null(tools);
    else
        assert_null(tools);
    return tools;
}

static const json_t *s_find(const json_t *tools, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach((json_t *)tools, i,
                       t) if (strcmp(json_string_value(json_object_get(t, "name")), name) ==
                              0) return t;
    return NULL;
}

static void s_assert_json(const json_t *v, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal((json_t *)v, w)) {
        char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        fprintf(stderr, "got  %s\nwant %s\n", got, want);
        mg_free(got);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

static void test_smithy_rest_tools(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_rest, MG_E_OK, msg);
    /* the streaming operation is skipped; the resource's operation once */
    assert_int_equal(json_array_size(tools), 4);
    const json_t *lf = s_find(tools, "ListFunctions");
    assert_non_null(lf);
    assert_string_equal(json_string_value(json_object_get(lf, "description")),
                        "Returns a list of Lambda functions & more. Paged.");
    s_assert_json(json_object_get(lf, "inputSchema"),
                  "{\"type\":\"object\",\"properties\":{"
                  "\"Marker\":{\"type\":\"string\",\"description\":\"The pagination token.\"},"
                  "\"MaxItems\":{\"type\":\"integer\"},"
                  "\"Tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                  "\"Version\":{\"type\":\"string\",\"enum\":[\"ALL\"]}}}");
    const json_t *call = json_object_get(lf, "_call");
    assert_string_equal(json_string_value(json_object_get(call, "protocol")), "restJson1");
    assert_string_equal(json_string_value(json_object_get(call, "signingName")), "lambda");
    assert_string_equal(json_string_value(json_object_get(call, "endpointPrefix")), "lambda");
    assert_string_equal(json_string_value(json_object_get(call, "targetPrefix")),
                        "AWSGirApiService");
    assert_string_equal(json_string_value(json_object_get(call, "method")), "GET");
    assert_null(s_find(tools, "Stream"));
    assert_non_null(s_find(tools, "GetLayer"));

    const json_t *put = s_find(tools, "Put");
    assert_non_null(put);
    assert_string_equal(json_string_value(json_object_get(put, "description")), "Put");
    const json_t *ps = json_object_get(put, "inputSchema");
    s_assert_json(json_object_get(ps, "required"), "[\"Id\"]");
    const json_t *props = json_object_get(ps, "properties");
    s_assert_json(json_object_get(props, "When"), "{\"type\":\"number\"}");
    s_assert_json(json_object_get(props, "Data"),
                  "{\"type\":\"string\",\"contentEncoding\":\"base64\"}");
    /* a recursive structure ends in a permissive object; nested members use their jsonName */
    s_assert_json(json_object_get(props, "Node"),
                  "{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"number\"},"
                  "\"Next\":{\"type\":\"object\"}}}");
    s_assert_json(json_object_get(props, "Meta"),
                  "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}");
    json_decref(tools);
}

static json_t *s_call_of(const json_t *tools, const char *name)
{
    const json_t *t = s_find(tools, name);
    assert_non_null(t);
    return json_object_get(t, "_call");
}

static void s_request(const json_t *call, const char *args, struct mg_target_req *req,
                      enum mg_err want, char *msg)
{
    json_t *a = json_loads(args, 0, NULL);
    assert_non_null(a);
    mg_target_req_init(req);
    enum mg_err e = mg_smithy_request(call, a, "http://127.0.0.1:9000/", req, msg, 512);
    json_decref(a);
    if (e != want)
        fprintf(stderr, "error %d: %s\n", e, msg);
    assert_int_equal(e, want);
}

static void test_smithy_rest_request(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_rest, MG_E_OK, msg);
    struct mg_target_req req;

    s_request(s_call_of(tools, "ListFunctions"),
              "{\"Marker\":\"a b/c\",\"MaxItems\":5,\"Tags\":[\"x\",\"y\"],\"Version\":\"ALL\"}",
              &req, MG_E_OK, msg);
    assert_string_equal(req.method, "GET");
    assert_string_equal(mg_buf_cstr(&req.url), "http://127.0.0.1:9000/2015-03-31/functions"
                                               "?Marker=a%20b%2Fc&MaxItems=5&tag=x&tag=y");
    assert_string_equal(mg_target_req_header_value(&req, "x-version"), "ALL");
    assert_int_equal(req.body.len, 0);
    assert_null(mg_target_req_header_value(&req, "Content-Type"));
    mg_target_req_cleanup(&req);

    s_request(s_call_of(tools, "GetFunction"), "{\"FunctionName\":\"my fn/1\"}", &req, MG_E_OK,
              msg);
    assert_string_equal(mg_buf_cstr(&req.url),
                        "http://127.0.0.1:9000/2015-03-31/functions/my%20fn%2F1");
    mg_target_req_cleanup(&req);
    s_request(s_call_of(tools, "GetFunction"), "{\"Qualifier\":\"1\"}", &req, MG_E_INVALID, msg);
    assert_string_equal(msg, "missing required argument FunctionName");
    mg_target_req_cleanup(&req);
    s_request(s_call_of(tools, "GetFunction"), "{\"FunctionName\":\"\"}", &req, MG_E_INVALID, msg);
    mg_target_req_cleanup(&req);

    /* greedy labels keep '/'; the pattern's literal query comes first */
    s_request(s_call_of(tools, "GetLayer"), "{\"Key\":\"a/b c\"}", &req, MG_E_OK, msg);
    assert_string_equal(mg_buf_cstr(&req.url), "http://127.0.0.1:9000/layers/a/b%20c?x-id=Get");
    mg_target_req_cleanup(&req);

    /* body: the members no binding takes, with their jsonName; prefix headers */
    s_request(s_call_of(tools, "Put"),
              "{\"Id\":7,\"Name\":\"n\",\"When\":1700000000,\"Meta\":{\"k\":\"v\"},"
              "\"Node\":{\"v\":1.5}}",
              &req, MG_E_OK, msg);
    assert_string_equal(req.method, "PUT");
    assert_string_equal(mg_buf_cstr(&req.url), "http://127.0.0.1:9000/things/7");
    assert_string_equal(mg_target_req_header_value(&req, "Content-Type"), "application/json");
    assert_string_equal(mg_target_req_header_value(&req, "x-meta-k"), "v");
    json_t *body = json_loadb((const char *)req.body.ptr, req.body.len, 0, NULL);
    s_assert_json(body, "{\"name\":\"n\",\"When\":1700000000,\"Node\":{\"v\":1.5}}");
    json_decref(body);
    mg_target_req_cleanup(&req);

    /* an operation with body members sends {} when none is given */
    s_request(s_call_of(tools, "Put"), "{\"Id\":1}", &req, MG_E_OK, msg);
    assert_int_equal(req.body.len, 2);
    mg_target_req_cleanup(&req);

    /* header values that cannot be sent */
    s_request(s_call_of(tools, "ListFunctions"), "{\"Version\":\"a\\r\\nX: y\"}", &req,
              MG_E_INVALID, msg);
    mg_target_req_cleanup(&req);
    s_request(s_call_of(tools, "ListFunctions"), "{\"Marker\":{\"a\":1}}", &req, MG_E_INVALID, msg);
    mg_target_req_cleanup(&req);
    json_decref(tools);
}

static const char *s_json10 =
    "{\"smithy\":\"2.0\",\"shapes\":{"
    "\"com.amazonaws.dynamodb#DynamoDB_20120810\":{\"type\":\"service\","
    " \"operations\":[{\"target\":\"com.amazonaws.dynamodb#ListTables\"}],"
    " \"traits\":{\"aws.protocols#awsJson1_0\":{},\"aws.auth#sigv4\":{\"name\":\"dynamodb\"},"
    "  \"aws.api#service\":{\"sdkId\":\"DynamoDB\",\"endpointPrefix\":\"dynamodb\"}}},"
    "\"com.amazonaws.dynamodb#ListTables\":{\"type\":\"operation\","
    " \"input\":{\"target\":\"com.amazonaws.dynamodb#ListTablesInput\"}},"
    "\"com.amazonaws.dynamodb#ListTablesInput\":{\"type\":\"structure\",\"members\":{"
    " \"Limit\":{\"target\":\"smithy.api#Integer\"},"
    " \"Token\":{\"target\":\"smithy.api#String\",\"traits\":{\"smithy.api#idempotencyToken\":{}}},"
    " \"Exclusive\":{\"target\":\"smithy.api#String\",\"traits\":{\"smithy.api#required\":{}}}}}"
    "}}";

static void test_smithy_aws_json(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_json10, MG_E_OK, msg);
    assert_int_equal(json_array_size(tools), 1);
    const json_t *t = s_find(tools, "ListTables");
    s_assert_json(json_object_get(t, "inputSchema"),
                  "{\"type\":\"object\",\"properties\":{\"Limit\":{\"type\":\"integer\"},"
                  "\"Token\":{\"type\":\"string\"},"
                  "\"Exclusive\":{\"type\":\"string\"}},\"required\":[\"Exclusive\"]}");
    struct mg_target_req req;
    s_request(s_call_of(tools, "ListTables"), "{\"Limit\":3,\"Token\":\"t\"}", &req, MG_E_OK, msg);
    assert_string_equal(req.method, "POST");
    assert_string_equal(mg_buf_cstr(&req.url), "http://127.0.0.1:9000/");
    assert_string_equal(mg_target_req_header_value(&req, "X-Amz-Target"),
                        "DynamoDB_20120810.ListTables");
    assert_string_equal(mg_target_req_header_value(&req, "content-type"),
                        "application/x-amz-json-1.0");
    assert_string_equal(mg_buf_cstr(&req.body), "{\"Limit\":3,\"Token\":\"t\"}");
    mg_target_req_cleanup(&req);
    json_decref(tools);

    /* awsJson1_1, the signing name from aws.api#service when there is no sigv4 trait */
    char *m11 = mg_strdup(s_json10);
    assert_non_null(m11);
    char *p = strstr(m11, "awsJson1_0");
    p[9] = '1';
    p = strstr(m11, "aws.auth#sigv4");
    p[0] = 'x';
    tools = s_tools(m11, MG_E_OK, msg);
    const json_t *call = s_call_of(tools, "ListTables");
    assert_string_equal(json_string_value(json_object_get(call, "signingName")), "dynamodb");
    s_request(call, "{}", &req, MG_E_OK, msg);
    assert_string_equal(mg_target_req_header_value(&req, "content-type"),
                        "application/x-amz-json-1.1");
    /* the idempotency token is filled when not given */
    json_t *sent = json_loads(mg_buf_cstr(&req.body), 0, NULL);
    assert_int_equal(json_object_size(sent), 1);
    assert_int_equal(json_string_length(json_object_get(sent, "Token")), 36);
    json_decref(sent);
    mg_target_req_cleanup(&req);
    json_decref(tools);
    mg_free(m11);
}

static void test_smithy_refusals(void **state)
{
    (void)state;
    char msg[512];
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"traits\":{"
            "\"aws.protocols#awsQuery\":{}}}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "Only RestJson, AwsJson1_0 and AwsJson1_1 protocols are "
                                "supported"));
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{}}", MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "exactly one service shape; it defines 0"));
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\"},"
            "\"a#T\":{\"type\":\"service\"}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "it defines 2"));
    s_tools("not json", MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "not a valid JSON AST"));
    s_tools("{\"openapi\":\"3.0.0\"}", MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "Smithy JSON AST"));
    /* restJson1 without an http trait */
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"operations\":["
            "{\"target\":\"a#Op\"}],\"traits\":{\"aws.protocols#restJson1\":{},"
            "\"aws.auth#sigv4\":{\"name\":\"x\"}}},\"a#Op\":{\"type\":\"operation\"}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "smithy.api#http"));
    /* a label the URI does not name */
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"operations\":["
            "{\"target\":\"a#Op\"}],\"traits\":{\"aws.protocols#restJson1\":{},"
            "\"aws.auth#sigv4\":{\"name\":\"x\"}}},\"a#Op\":{\"type\":\"operation\",\"input\":"
            "{\"target\":\"a#In\"},\"traits\":{\"smithy.api#http\":{\"method\":\"GET\",\"uri\":"
            "\"/x\"}}},\"a#In\":{\"type\":\"structure\",\"members\":{\"L\":{\"target\":"
            "\"smithy.api#String\",\"traits\":{\"smithy.api#httpLabel\":{}}}}}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "label L"));
    /* a URI label that is no httpLabel member */
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"operations\":["
            "{\"target\":\"a#Op\"}],\"traits\":{\"aws.protocols#restJson1\":{},"
            "\"aws.auth#sigv4\":{\"name\":\"x\"}}},\"a#Op\":{\"type\":\"operation\",\"traits\":"
            "{\"smithy.api#http\":{\"method\":\"GET\",\"uri\":\"/x/{Other}\"}}}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "no httpLabel member"));
    /* no signing name */
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"traits\":{"
            "\"aws.protocols#awsJson1_0\":{}}}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "signing name"));
    /* an operation that is not in the model */
    s_tools("{\"smithy\":\"2.0\",\"shapes\":{\"a#S\":{\"type\":\"service\",\"operations\":["
            "{\"target\":\"a#Nope\"}],\"traits\":{\"aws.protocols#awsJson1_0\":{},"
            "\"aws.auth#sigv4\":{\"name\":\"x\"}}}}}",
            MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "a#Nope is not an operation"));
    /* too deep */
    char deep[300];
    memset(deep, '[', 200);
    memset(deep + 200, ']', 99);
    deep[299] = 0;
    s_tools(deep, MG_E_INVALID, msg);
    assert_non_null(strstr(msg, "deeper"));
    /* too many tools */
    struct mg_target_limits one = s_lim;
    one.max_tools = 2;
    json_t *tools = NULL;
    assert_int_equal(mg_smithy_tools(mg_slice_cstr(s_rest), &one, &tools, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_null(tools);
    assert_non_null(strstr(msg, "at most 2 tools"));
    /* name too long with the target's */
    one = s_lim;
    one.max_name = 20;
    assert_int_equal(mg_smithy_tools(mg_slice_cstr(s_rest), &one, &tools, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "longer than 20"));
}

/* A model that would be huge if expanded naively: resources bound 40 times at each of 12
 * levels, and structures whose 40 members each hold the next structure, 12 deep. */
static void test_smithy_bounded_expansion(void **state)
{
    (void)state;
    json_t *shapes = json_object();
    assert_non_null(shapes);
    char id[64], next[64];
    for (int lvl = 0; lvl < 12; lvl++) {
        json_t *refs = json_array(), *members = json_object();
        snprintf(next, sizeof(next), "a#R%d", lvl + 1);
        for (int i = 0; i < 40 && lvl < 11; i++)
            assert_true(mg_json_append(refs, json_pack("{s:s}", "target", next)));
        snprintf(id, sizeof(id), "a#R%d", lvl);
        assert_true(mg_json_set(shapes, id,
                                json_pack("{s:s, s:o, s:[{s:s}]}", "type", "resource", "resources",
                                          refs, "operations", "target", "a#Op")));
        snprintf(next, sizeof(next), "a#S%d", lvl + 1);
        for (int i = 0; i < 40; i++) {
            char mn[16];
            snprintf(mn, sizeof(mn), "m%d", i);
            assert_true(
                mg_json_set(members, mn,
                            json_pack("{s:s}", "target", lvl < 11 ? next : "smithy.api#String")));
        }
        snprintf(id, sizeof(id), "a#S%d", lvl);
        assert_true(mg_json_set(shapes, id,
                                json_pack("{s:s, s:o}", "type", "structure", "members", members)));
    }
    assert_true(
        mg_json_set(shapes, "a#Op",
                    json_pack("{s:s, s:{s:s}}", "type", "operation", "input", "target", "a#S0")));
    assert_true(mg_json_set(shapes, "a#Svc",
                            json_pack("{s:s, s:[{s:s}], s:{s:{}, s:{s:s}}}", "type", "service",
                                      "resources", "target", "a#R0", "traits",
                                      "aws.protocols#awsJson1_0", "aws.auth#sigv4", "name", "x")));
    json_t *model = json_pack("{s:s, s:o}", "smithy", "2.0", "shapes", shapes);
    char *text = json_dumps(model, JSON_COMPACT);
    assert_non_null(text);
    json_decref(model);
    char msg[512];
    json_t *tools = s_tools(text, MG_E_OK, msg);
    mg_free(text);
    assert_int_equal(json_array_size(tools), 1);
    char *schema = json_dumps(json_object_get(json_array_get(tools, 0), "inputSchema"), 0);
    assert_non_null(schema);
    assert_true(strlen(schema) < 2u * 1024 * 1024);
    mg_free(schema);
    json_decref(tools);
}

static json_t *s_result(long status, const char *body)
{
    json_t *r = mg_smithy_result(NULL, status, MG_SLICE_LIT("application/json"),
                                 mg_slice_cstr(body));
    assert_non_null(r);
    return r;
}

static void test_smithy_result(void **state)
{
    (void)state;
    json_t *r = s_result(200, "{\"Functions\":[]}");
    s_assert_json(r, "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"Functions\\\":[]}\"}],"
                     "\"structuredContent\":{\"Functions\":[]}}");
    json_decref(r);
    r = s_result(204, "");
    s_assert_json(r, "{\"content\":[{\"type\":\"text\",\"text\":\"\"}],\"structuredContent\":{}}");
    json_decref(r);
    r = s_result(403, "{\"__type\":\"com.amazon#AccessDeniedException:http://x\","
                      "\"message\":\"User is not authorized\"}");
    s_assert_json(r, "{\"content\":[{\"type\":\"text\",\"text\":\"AccessDeniedException: User "
                     "is not authorized\"}],\"isError\":true,\"structuredContent\":{\"status\":"
                     "403,\"type\":\"AccessDeniedException\",\"message\":\"User is not "
                     "authorized\"}}");
    json_decref(r);
    r = s_result(400, "{\"code\":\"ValidationException\",\"Message\":\"bad\"}");
    assert_string_equal(json_string_value(
                            json_object_get(json_array_get(json_object_get(r, "content"), 0),
                                            "text")),
                        "ValidationException: bad");
    json_decref(r);
    r = s_result(502, "oops");
    assert_string_equal(json_string_value(
                            json_object_get(json_array_get(json_object_get(r, "content"), 0),
                                            "text")),
                        "HTTP status 502: oops");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_smithy_rest_tools), cmocka_unit_test(test_smithy_rest_request),
        cmocka_unit_test(test_smithy_aws_json),   cmocka_unit_test(test_smithy_refusals),
        cmocka_unit_test(test_smithy_result),     cmocka_unit_test(test_smithy_bounded_expansion),
    };
    return MG_RUN_TESTS(tests);
}
