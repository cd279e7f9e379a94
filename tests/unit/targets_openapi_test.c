/* OpenAPI targets (src/targets/openapi.c) and the YAML reader (src/targets/yaml.c): documents
 * to tools, refusals, $ref, requests and results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/alloc.h"
#include "targets/targets.h"
#include "unit/leaks.h"

static const struct mg_target_limits s_lim = {.max_tools = 1000,
                                              .max_name = 64,
                                              .target_name_len = 6};

static const struct mg_yaml_limits s_ylim = {.max_bytes = 1 << 20,
                                             .max_depth = 32,
                                             .max_nodes = 10000,
                                             .max_aliases = 100};

static json_t *s_yaml(const char *text, enum mg_err want, char *msg, size_t cap)
{
    json_t *out = NULL;
    enum mg_err e = mg_yaml_to_json(mg_slice_cstr(text), &s_ylim, &out, msg, cap);
    assert_int_equal(e, want);
    return out;
}

static void test_yaml_scalars(void **state)
{
    (void)state;
    char msg[300];
    json_t *v = s_yaml("a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: ~\ng: null\nh:\n"
                       "i: '12'\nj: \"true\"\nk: 0x1F\nl: 0o17\nm: 1e3\nn: .inf\no: hello\n"
                       "200: ok\np: !!str 42\nq: |\n  7\nr: [1, two, 3.0]\n",
                       MG_E_OK, msg, sizeof(msg));
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "b")), -2);
    assert_true(json_real_value(json_object_get(v, "c")) == 1.5);
    assert_true(json_is_true(json_object_get(v, "d")));
    assert_true(json_is_false(json_object_get(v, "e")));
    assert_true(json_is_null(json_object_get(v, "f")));
    assert_true(json_is_null(json_object_get(v, "g")));
    assert_true(json_is_null(json_object_get(v, "h")));
    assert_string_equal(json_string_value(json_object_get(v, "i")), "12");
    assert_string_equal(json_string_value(json_object_get(v, "j")), "true");
    assert_int_equal(json_integer_value(json_object_get(v, "k")), 31);
    assert_int_equal(json_integer_value(json_object_get(v, "l")), 15);
    assert_true(json_real_value(json_object_get(v, "m")) == 1000.0);
    assert_string_equal(json_string_value(json_object_get(v, "n")), ".inf");
    assert_string_equal(json_string_value(json_object_get(v, "o")), "hello");
    assert_string_equal(json_string_value(json_object_get(v, "200")), "ok");
    assert_string_equal(json_string_value(json_object_get(v, "p")), "42");
    assert_string_equal(json_string_value(json_object_get(v, "q")), "7\n");
    json_t *r = json_object_get(v, "r");
    assert_int_equal(json_array_size(r), 3);
    assert_string_equal(json_string_value(json_array_get(r, 1)), "two");
    json_decref(v);
}

static void test_yaml_refusals(void **state)
{
    (void)state;
    char msg[300];
    /* anchors and aliases share values */
    json_t *v = s_yaml("a: &x {k: 1}\nb: *x\n", MG_E_OK, msg, sizeof(msg));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "b"), "k")), 1);
    json_decref(v);
    /* billion laughs: each level multiplies by 10 */
    const char *laughs = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                         "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                         "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n";
    assert_null(s_yaml(laughs, MG_E_TOO_LARGE, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "nodes"));
    /* an alias inside its own anchor */
    assert_null(s_yaml("a: &x [1, *x]\n", MG_E_INVALID, msg, sizeof(msg)));
    assert_null(s_yaml("a: 1\na: 2\n", MG_E_INVALID, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "duplicate key"));
    assert_null(s_yaml("? [1, 2]\n: x\n", MG_E_INVALID, msg, sizeof(msg)));
    assert_null(s_yaml("a: 1\n---\nb: 2\n", MG_E_INVALID, msg, sizeof(msg)));
    assert_null(s_yaml("a: [1, 2\n", MG_E_PARSE, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "line"));
    assert_null(s_yaml("", MG_E_INVALID, msg, sizeof(msg)));
    char deep[200] = {0};
    for (int i = 0; i < 40; i++)
        deep[i] = '[';
    assert_null(s_yaml(deep, MG_E_TOO_LARGE, msg, sizeof(msg)));
    struct mg_buf b;
    mg_buf_init(&b, 1 << 20);
    for (int i = 0; i < 101; i++)
        assert_int_equal(mg_buf_printf(&b, "%sk%d: *a\n", i == 0 ? "a: &a 1\n" : "", i), MG_E_OK);
    assert_null(s_yaml(mg_buf_cstr(&b), MG_E_TOO_LARGE, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "aliases"));
    mg_buf_cleanup(&b);
}

/* ---- documents ------------------------------------------------------------------------------ */

static const char *s_pets_yaml =
    "openapi: 3.0.3\n"
    "info: {title: Pets, version: '1'}\n"
    "servers:\n"
    "  - url: https://{host}/v1/\n"
    "    variables:\n"
    "      host: {default: api.example.com}\n"
    "paths:\n"
    "  /pets/{petId}:\n"
    "    parameters:\n"
    "      - {name: petId, in: path, required: true, schema: {type: string},"
    " description: The pet}\n"
    "    get:\n"
    "      operationId: getPet\n"
    "      summary: One pet\n"
    "      parameters:\n"
    "        - {name: verbose, in: query, schema: {type: boolean}}\n"
    "        - {name: X-Trace, in: header, required: true, schema: {type: string}}\n"
    "      responses:\n"
    "        200:\n"
    "          description: ok\n"
    "          content:\n"
    "            application/json:\n"
    "              schema: {$ref: '#/components/schemas/Pet'}\n"
    "    delete:\n"
    "      summary: no operationId, no tool\n"
    "      responses: {204: {description: gone}}\n"
    "  /pets:\n"
    "    post:\n"
    "      operationId: addPet\n"
    "      description: Adds a pet\n"
    "      summary: ignored when there is a description\n"
    "      requestBody:\n"
    "        required: true\n"
    "        content:\n"
    "          application/json:\n"
    "            schema: {$ref: '#/components/schemas/Pet'}\n"
    "      responses: {201: {description: made}}\n"
    "components:\n"
    "  schemas:\n"
    "    Pet:\n"
    "      type: object\n"
    "      required: [name]\n"
    "      properties:\n"
    "        name: {type: string, example: Rex}\n"
    "        tag: {type: string, nullable: true}\n"
    "        owner: {$ref: '#/components/schemas/Owner'}\n"
    "    Owner:\n"
    "      type: object\n"
    "      properties: {email: {type: string}}\n";

static json_t *s_tools(const char *doc, enum mg_err want, char *msg, size_t cap)
{
    json_t *tools = NULL;
    msg[0] = 0;
    enum mg_err e = mg_openapi_tools(mg_slice_cstr(doc), &s_lim, &tools, msg, cap);
    if (e != want)
        print_error("got %d (%s), want %d\n", e, msg, want);
    assert_int_equal(e, want);
    if (want != MG_E_OK)
        assert_null(tools);
    return tools;
}

static json_t *s_tool(json_t *tools, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

static void test_openapi_30_yaml(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_pets_yaml, MG_E_OK, msg, sizeof(msg));
    assert_int_equal(json_array_size(tools), 2);
    json_t *get = s_tool(tools, "getPet");
    assert_non_null(get);
    assert_string_equal(json_string_value(json_object_get(get, "description")), "One pet");
    json_t *in = json_object_get(get, "inputSchema");
    assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
    json_t *props = json_object_get(in, "properties");
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(props, "petId"), "description")),
                        "The pet");
    assert_non_null(json_object_get(props, "verbose"));
    assert_non_null(json_object_get(props, "X-Trace"));
    char *req = json_dumps(json_object_get(in, "required"), JSON_COMPACT);
    assert_string_equal(req, "[\"X-Trace\",\"petId\"]");
    mg_free(req);
    json_t *call = json_object_get(get, "_call");
    assert_string_equal(json_string_value(json_object_get(call, "method")), "GET");
    assert_string_equal(json_string_value(json_object_get(call, "serverUrl")),
                        "https://api.example.com/v1");
    assert_string_equal(json_string_value(json_object_get(call, "pathTemplate")), "/pets/{petId}");
    assert_string_equal(json_string_value(json_object_get(call, "bodyMode")), "none");

    json_t *add = s_tool(tools, "addPet");
    assert_string_equal(json_string_value(json_object_get(add, "description")), "Adds a pet");
    in = json_object_get(add, "inputSchema");
    props = json_object_get(in, "properties");
    /* the body's properties merged, $refs expanded, OpenAPI-only keywords dropped */
    assert_non_null(json_object_get(props, "name"));
    assert_null(json_object_get(json_object_get(props, "name"), "example"));
    json_t *tag_type = json_object_get(json_object_get(props, "tag"), "type");
    assert_true(json_is_array(tag_type));
    assert_string_equal(json_string_value(json_array_get(tag_type, 1)), "null");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(json_object_get(props, "owner"),
                                                            "properties"),
                                            "email"),
                            "type")),
                        "string");
    req = json_dumps(json_object_get(in, "required"), JSON_COMPACT);
    assert_string_equal(req, "[\"name\"]");
    mg_free(req);
    call = json_object_get(add, "_call");
    assert_string_equal(json_string_value(json_object_get(call, "bodyMode")), "merge");
    assert_string_equal(json_string_value(json_object_get(call, "contentType")),
                        "application/json");
    json_decref(tools);
}

static const char *s_json_31 =
    "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"t\",\"version\":\"1\"},"
    "\"servers\":[{\"url\":\"http://127.0.0.1:8080\"}],"
    "\"paths\":{\"/items\":{\"put\":{\"operationId\":\"putItems\","
    "\"parameters\":[{\"name\":\"mode\",\"in\":\"query\",\"required\":true,"
    "\"schema\":{\"type\":\"string\"}}],"
    "\"requestBody\":{\"content\":{\"application/json\":{\"schema\":{\"type\":\"array\","
    "\"items\":{\"type\":\"integer\"}}}}}},"
    "\"patch\":{\"operationId\":\"patch.items\",\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":"
    "{\"mode\":{\"type\":\"string\"}}}}}},"
    "\"parameters\":[{\"name\":\"mode\",\"in\":\"header\"}]},"
    "\"post\":{\"operationId\":\"formItems\",\"requestBody\":{\"content\":"
    "{\"application/x-www-form-urlencoded\":{\"schema\":{\"type\":\"object\",\"properties\":"
    "{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}}}}}}"
    "}}}";

static void test_openapi_31_json(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_json_31, MG_E_OK, msg, sizeof(msg));
    assert_int_equal(json_array_size(tools), 3);
    json_t *put = s_tool(tools, "putItems");
    json_t *props = json_object_get(json_object_get(put, "inputSchema"), "properties");
    assert_string_equal(json_string_value(json_object_get(json_object_get(props, "body"), "type")),
                        "array");
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(put, "_call"), "bodyMode")),
                        "body");
    /* a body property clashing with a parameter: the body goes under "body" */
    json_t *patch = s_tool(tools, "patch.items");
    json_t *in = json_object_get(patch, "inputSchema");
    assert_non_null(json_object_get(json_object_get(in, "properties"), "body"));
    char *req = json_dumps(json_object_get(in, "required"), JSON_COMPACT);
    assert_string_equal(req, "[\"body\"]");
    mg_free(req);
    json_decref(tools);
}

/* 3.1 as YAML (JSON Schema type lists, a path item $ref) and 3.0 as JSON */
static void test_openapi_other_forms(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools("openapi: \"3.1.1\"\n"
                            "info: {title: t, version: '1'}\n"
                            "servers: [{url: 'https://api.example.com'}]\n"
                            "paths:\n"
                            "  /things/{id}: {$ref: '#/components/pathItems/Thing'}\n"
                            "components:\n"
                            "  pathItems:\n"
                            "    Thing:\n"
                            "      delete:\n"
                            "        operationId: dropThing\n"
                            "        parameters:\n"
                            "          - {name: id, in: path, required: true, schema: {type: "
                            "[integer, 'null']}}\n",
                            MG_E_OK, msg, sizeof(msg));
    json_t *t = s_tool(tools, "dropThing");
    assert_non_null(t);
    json_t *type = json_object_get(
        json_object_get(json_object_get(json_object_get(t, "inputSchema"), "properties"), "id"),
        "type");
    assert_int_equal(json_array_size(type), 2);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "_call"), "method")),
                        "DELETE");
    struct mg_target_req r;
    mg_target_req_init(&r);
    json_t *args = json_pack("{s:i}", "id", 42);
    assert_int_equal(mg_openapi_request(json_object_get(t, "_call"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.url), "https://api.example.com/things/42");
    mg_target_req_cleanup(&r);
    json_decref(args);
    json_decref(tools);

    tools = s_tools("{\"openapi\":\"3.0.2\",\"info\":{\"title\":\"t\",\"version\":\"1\"},"
                    "\"servers\":[{\"url\":\"https://a.example/base\"}],\"paths\":{\"/x\":{"
                    "\"servers\":[{\"url\":\"https://b.example\"}],\"get\":{\"operationId\":"
                    "\"getX\",\"summary\":\"X\"}},\"/y\":{\"post\":{\"operationId\":\"postY\","
                    "\"requestBody\":{\"content\":{\"text/plain\":{}}}}}}}",
                    MG_E_OK, msg, sizeof(msg));
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(s_tool(tools, "getX"), "_call"),
                                            "serverUrl")),
                        "https://b.example");
    json_t *post = json_object_get(s_tool(tools, "postY"), "_call");
    assert_string_equal(json_string_value(json_object_get(post, "serverUrl")),
                        "https://a.example/base");
    mg_target_req_init(&r);
    args = json_pack("{s:s}", "body", "plain words");
    assert_int_equal(mg_openapi_request(post, args, &r, msg, sizeof(msg)), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.body), "plain words");
    assert_string_equal(mg_target_req_header_value(&r, "content-type"), "text/plain");
    mg_target_req_cleanup(&r);
    json_decref(args);
    json_decref(tools);
}

struct s_refusal {
    const char *doc;
    const char *words;
};

#define S_HEAD                                                                                     \
    "openapi: 3.0.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://x.example'}]\n"
#define S_OP(extra) "paths:\n  /a:\n    get:\n      operationId: op\n" extra

static void test_openapi_refusals(void **state)
{
    (void)state;
    static const struct s_refusal cases[] = {
        {"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "Swagger 2.0"},
        {"{\"swagger\":\"2.0\"}", "attribute openapi is missing"},
        {"openapi: 2.5.0\n", "version 2.5.0"},
        {"openapi: 3.0.0\ninfo: {title: t, version: '1'}\n" S_OP(""), "servers[0].url"},
        {"openapi: 3.0.0\nservers: [{url: /v1}]\n" S_OP(""), "absolute"},
        {"openapi: 3.0.0\nservers: [{url: 'https://{h}/'}]\n" S_OP(""), "no default"},
        {S_HEAD S_OP("      parameters: [{name: q, in: query, schema: {oneOf: [{type: string}, "
                     "{type: integer}]}}]\n"),
         "oneOf"},
        {S_HEAD "components: {schemas: {A: {allOf: [{type: object}]}}}\n" S_OP(""), "allOf"},
        {S_HEAD S_OP("      parameters: [{name: q, in: query, schema: {type: array, items: "
                     "{type: string}}}]\n"),
         "array or object"},
        {S_HEAD S_OP("      parameters: [{name: q, in: header, schema: {type: object}}]\n"),
         "array or object"},
        {S_HEAD S_OP("      parameters: [{name: c, in: cookie, schema: {type: string}}]\n"),
         "cookie"},
        {S_HEAD S_OP("      parameters: [{name: q, in: query, style: deepObject, schema: "
                     "{type: string}}]\n"),
         "serialization"},
        {S_HEAD "paths:\n  /a{;id*}:\n    get: {operationId: op}\n", "template"},
        {S_HEAD S_OP("      callbacks: {cb: {'{$url}': {post: {responses: {}}}}}\n"), "callbacks"},
        {S_HEAD "webhooks: {w: {post: {responses: {}}}}\n" S_OP(""), "webhooks"},
        {S_HEAD S_OP("      responses: {200: {description: d, links: {l: {operationId: op}}}}\n"),
         "links"},
        {S_HEAD S_OP("      parameters: [{$ref: 'other.yaml#/p'}]\n"), "external reference"},
        {S_HEAD S_OP("      parameters: [{$ref: '#/components/parameters/none'}]\n"),
         "does not resolve"},
        {S_HEAD "paths:\n  /a:\n    get: {operationId: 'bad name'}\n", "not a valid tool name"},
        {S_HEAD "paths:\n  /a:\n    get: {operationId: "
                "aVeryLongOperationIdThatMakesTheToolNameLongerThanSixtyFourBytes}\n",
         "longer than 64"},
        {S_HEAD "paths:\n  /a:\n    get: {operationId: x}\n  /b:\n    get: {operationId: x}\n",
         "Duplicate tool found in target configuration"},
        {S_HEAD "paths:\n  /a:\n    get: {summary: s}\n", "no operation has an operationId"},
        {S_HEAD "paths:\n  /a/{id}:\n    get: {operationId: op}\n", "not declared"},
        {S_HEAD S_OP("      requestBody: {content: {multipart/form-data: {schema: {type: "
                     "object}}}}\n"),
         "multipart/form-data"},
        {S_HEAD "components:\n  schemas:\n    T: {type: object, properties: {next: {$ref: "
                "'#/components/schemas/T'}}}\n" S_OP(
                    "      requestBody: {content: {application/json: {schema: {$ref: "
                    "'#/components/schemas/T'}}}}\n"),
         "recursive"},
        {"{\"openapi\": \"3.0.0\", \"openapi\": \"3.1.0\"}", "not valid JSON"},
        {"openapi: [1\n", "not valid JSON or YAML"},
    };
    char msg[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_tools(cases[i].doc, MG_E_INVALID, msg, sizeof(msg));
        if (strstr(msg, cases[i].words) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, cases[i].words);
    }
    /* more tools than max_tools */
    struct mg_target_limits one = s_lim;
    one.max_tools = 1;
    json_t *tools = NULL;
    assert_int_equal(mg_openapi_tools(mg_slice_cstr(s_pets_yaml), &one, &tools, msg, sizeof(msg)),
                     MG_E_INVALID);
    assert_non_null(strstr(msg, "more than 1 operations"));
    /* over 1 MB */
    size_t big = MG_OPENAPI_MAX_BYTES + 1;
    char *huge = mg_malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = 0;
    s_tools(huge, MG_E_INVALID, msg, sizeof(msg));
    assert_non_null(strstr(msg, "bytes"));
    mg_free(huge);
    /* refused keywords inside examples and property names are data, not features */
    tools = s_tools(
        S_HEAD S_OP(
            "      parameters: [{name: q, in: query, schema: {type: string}, "
            "example: {oneOf: 1}}]\n") "components:\n  schemas:\n    A:\n"
                                       "      properties: {links: {type: string}, allOf: {type: "
                                       "string}}\n",
        MG_E_OK, msg, sizeof(msg));
    json_decref(tools);
}

/* ---- requests and results ------------------------------------------------------------------- */

static json_t *s_call(json_t *tools, const char *name)
{
    return json_object_get(s_tool(tools, name), "_call");
}

static void test_openapi_request(void **state)
{
    (void)state;
    char msg[512];
    json_t *tools = s_tools(s_pets_yaml, MG_E_OK, msg, sizeof(msg));
    struct mg_target_req r;
    mg_target_req_init(&r);
    json_t *args = json_pack("{s:s,s:b,s:s}", "petId", "a b/c?", "verbose", 1, "X-Trace", "t-1");
    assert_int_equal(mg_openapi_request(s_call(tools, "getPet"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(r.method, "GET");
    assert_string_equal(mg_buf_cstr(&r.url),
                        "https://api.example.com/v1/pets/a%20b%2Fc%3F?verbose=true");
    assert_string_equal(mg_target_req_header_value(&r, "x-trace"), "t-1");
    assert_int_equal(r.body.len, 0);
    mg_target_req_cleanup(&r);
    json_decref(args);

    /* a missing required header, a missing path parameter, a header with a line break */
    const char *bad[] = {"{\"petId\": \"1\"}", "{\"X-Trace\": \"1\"}",
                         "{\"petId\": \"1\", \"X-Trace\": \"a\\r\\nb\"}"};
    const char *words[] = {"missing required parameter: X-Trace",
                           "missing required path parameter: petId", "X-Trace"};
    for (int i = 0; i < 3; i++) {
        args = json_loads(bad[i], 0, NULL);
        mg_target_req_init(&r);
        assert_int_equal(mg_openapi_request(s_call(tools, "getPet"), args, &r, msg, sizeof(msg)),
                         MG_E_INVALID);
        assert_non_null(strstr(msg, words[i]));
        mg_target_req_cleanup(&r);
        json_decref(args);
    }

    /* merged JSON body */
    args = json_loads("{\"name\": \"Rex\", \"owner\": {\"email\": \"e@x\"}, \"stray\": 1}", 0,
                      NULL);
    mg_target_req_init(&r);
    assert_int_equal(mg_openapi_request(s_call(tools, "addPet"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(r.method, "POST");
    assert_string_equal(mg_buf_cstr(&r.url), "https://api.example.com/v1/pets");
    assert_string_equal(mg_buf_cstr(&r.body), "{\"name\":\"Rex\",\"owner\":{\"email\":\"e@x\"}}");
    assert_string_equal(mg_target_req_header_value(&r, "Content-Type"), "application/json");
    mg_target_req_cleanup(&r);
    json_decref(args);
    json_decref(tools);

    tools = s_tools(s_json_31, MG_E_OK, msg, sizeof(msg));
    args = json_loads("{\"mode\": \"a&b=c\", \"body\": [1, 2]}", 0, NULL);
    mg_target_req_init(&r);
    assert_int_equal(mg_openapi_request(s_call(tools, "putItems"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.url), "http://127.0.0.1:8080/items?mode=a%26b%3Dc");
    assert_string_equal(mg_buf_cstr(&r.body), "[1,2]");
    mg_target_req_cleanup(&r);
    json_decref(args);
    /* an optional merged body of which nothing was given is not sent */
    args = json_loads("{}", 0, NULL);
    mg_target_req_init(&r);
    assert_int_equal(mg_openapi_request(s_call(tools, "formItems"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_int_equal(r.body.len, 0);
    assert_null(mg_target_req_header_value(&r, "content-type"));
    mg_target_req_cleanup(&r);
    json_decref(args);
    args = json_loads("{\"a\": \"x y&\", \"b\": [1, 2]}", 0, NULL);
    mg_target_req_init(&r);
    assert_int_equal(mg_openapi_request(s_call(tools, "formItems"), args, &r, msg, sizeof(msg)),
                     MG_E_OK);
    assert_string_equal(mg_buf_cstr(&r.body), "a=x%20y%26&b=1&b=2");
    assert_string_equal(mg_target_req_header_value(&r, "content-type"),
                        "application/x-www-form-urlencoded");
    mg_target_req_cleanup(&r);
    json_decref(args);
    json_decref(tools);
}

static void test_openapi_result(void **state)
{
    (void)state;
    const char *body = "{\"id\": 7}";
    json_t *r = mg_openapi_result(NULL, 200, MG_SLICE_LIT("application/json"), mg_slice_cstr(body));
    assert_non_null(r);
    assert_true(json_is_false(json_object_get(r, "isError")));
    json_t *c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(c0, "text")), body);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(r, "structuredContent"), "id")),
                     7);
    json_decref(r);
    /* an array is no structuredContent; text stays */
    r = mg_openapi_result(NULL, 201, MG_SLICE_LIT("application/json"), MG_SLICE_LIT("[1]"));
    assert_null(json_object_get(r, "structuredContent"));
    json_decref(r);
    r = mg_openapi_result(NULL, 404, MG_SLICE_LIT("text/plain"), MG_SLICE_LIT("no such pet"));
    assert_true(json_is_true(json_object_get(r, "isError")));
    c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "HTTP 404: no such pet");
    assert_null(json_object_get(r, "structuredContent"));
    json_decref(r);
    r = mg_openapi_result(NULL, 500, MG_SLICE_LIT(""), MG_SLICE_LIT(""));
    c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "HTTP 500");
    json_decref(r);
    /* bytes that are not UTF-8 */
    r = mg_openapi_result(NULL, 200, MG_SLICE_LIT("application/octet-stream"),
                          MG_SLICE_LIT("a\xff"
                                       "b"));
    c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "a\xef\xbf\xbd"
                                                                        "b");
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_scalars),        cmocka_unit_test(test_yaml_refusals),
        cmocka_unit_test(test_openapi_30_yaml),     cmocka_unit_test(test_openapi_31_json),
        cmocka_unit_test(test_openapi_other_forms), cmocka_unit_test(test_openapi_refusals),
        cmocka_unit_test(test_openapi_request),     cmocka_unit_test(test_openapi_result),
    };
    return MG_RUN_TESTS(tests);
}
