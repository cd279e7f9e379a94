/* AgentCore snapshot extension: gateways, targets, the tool catalog (order, pages, lookup) and
 * compiled resource policies, built from store documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "unit/leaks.h"

struct s_fx {
    char dir[64];
    struct mg_store *store;
    struct mg_state st;
};

static int s_setup(void **state)
{
    struct s_fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/mg-ac-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    struct mg_errinfo ei = {0};
    mg_agentcore_init();
    mg_agentcore_set_page_size(2);
    if (mg_store_open(f->dir, &f->store, &ei) != MG_E_OK ||
        mg_state_init(&f->st, f->store, &ei) != MG_E_OK)
        return -1;
    *state = f;
    return 0;
}

static int s_teardown(void **state)
{
    struct s_fx *f = *state;
    mg_state_cleanup(&f->st);
    mg_store_close(f->store);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    mg_agentcore_set_page_size(0);
    return 0;
}

static void s_put(struct s_fx *f, const char *kind, const char *key, const char *doc)
{
    assert_int_equal(mg_store_put(f->store, kind, "111122223333", key, mg_slice_cstr(doc)),
                     MG_E_OK);
}

#define GW_ARN "arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/gw-abcdefghij"
#define TARGET(name, status, tools)                                                                \
    "{\"targetId\":\"x\",\"name\":\"" name "\",\"status\":\"" status "\",\"targetConfiguration\":" \
    "{\"mcp\":{\"lambda\":{\"lambdaArn\":\"arn:aws:lambda:us-east-1:111122223333:function:f\","    \
    "\"toolSchema\":{\"inlinePayload\":" tools "}}}},\"credentialProviderConfigurations\":"        \
    "[{\"credentialProviderType\":\"GATEWAY_IAM_ROLE\"}]}"
#define TOOL(n)                                                                                    \
    "{\"name\":\"" n "\",\"description\":\"d " n "\",\"inputSchema\":{\"type\":\"object\"}}"

static void test_catalog(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    s_put(f, MG_AC_KIND_GATEWAY, "gw-abcdefghij",
          "{\"gatewayId\":\"gw-abcdefghij\",\"gatewayArn\":\"" GW_ARN "\",\"name\":\"gw\","
          "\"status\":\"READY\",\"authorizerType\":\"CUSTOM_JWT\",\"authorizerConfiguration\":"
          "{\"customJWTAuthorizer\":{\"discoveryUrl\":\"https://i/.well-known/"
          "openid-configuration\"}},"
          "\"roleArn\":\"arn:aws:iam::111122223333:role/r\",\"exceptionLevel\":\"DEBUG\","
          "\"protocolConfiguration\":{\"mcp\":{\"supportedVersions\":[\"2025-06-18\"],"
          "\"searchType\":\"SEMANTIC\",\"instructions\":\"hi\",\"sessionConfiguration\":{}}},"
          "\"_tags\":{\"env\":\"t\"},\"_region\":\"us-east-1\"}");
    s_put(f, MG_AC_KIND_GATEWAY, "gw-abcdefghij-zzzzzzzzzz",
          "{\"gatewayId\":\"gw-abcdefghij-zzzzzzzzzz\",\"name\":\"gw-abcdefghij\",\"status\":"
          "\"DELETING\"}");
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/BBBBBBBBBB",
          TARGET("zeta", "READY", "[" TOOL("b") "," TOOL("a") "," TOOL("bad tool!") "]"));
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/AAAAAAAAAA",
          TARGET("alpha", "READY", "[" TOOL("c") "]"));
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/CCCCCCCCCC",
          TARGET("creating", "CREATING", "[" TOOL("q") "]"));
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/DDDDDDDDDD",
          TARGET("gone", "DELETING", "[" TOOL("q") "]"));
    s_put(f, MG_AC_KIND_POLICY, GW_ARN,
          "{\"resourceArn\":\"" GW_ARN "\",\"policy\":\"{\\\"Version\\\":\\\"2012-10-17\\\","
          "\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":\\\"*\\\","
          "\\\"Action\\\":\\\"bedrock-agentcore:InvokeGateway\\\",\\\"Resource\\\":\\\"" GW_ARN
          "\\\"}]}\"}");
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);

    struct mg_snapshot *snap = mg_state_acquire(&f->st);
    const struct mg_gateway *g = mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij"));
    assert_non_null(g);
    assert_null(mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij-zzzzzzzzzz")));
    assert_string_equal(g->arn, GW_ARN);
    assert_string_equal(g->account, "111122223333");
    assert_int_equal(g->status, MG_AGENTCORE_READY);
    assert_int_equal(g->authorizer, MG_GATEWAY_AUTH_CUSTOM_JWT);
    assert_non_null(g->jwt_authorizer);
    assert_int_equal(g->n_supported_versions, 1);
    assert_string_equal(g->supported_versions[0], "2025-06-18");
    assert_true(g->search_semantic);
    assert_true(g->exception_debug);
    assert_true(g->has_session_config);
    assert_int_equal(g->session_timeout_s, 3600);
    assert_string_equal(g->instructions, "hi");
    assert_string_equal(json_string_value(json_object_get(g->tags, "env")), "t");
    assert_non_null(g->resource_policy);
    assert_ptr_equal(mg_agentcore_resource_policy(snap, MG_SLICE_LIT(GW_ARN)), g->resource_policy);
    assert_string_equal(g->url, "http://127.0.0.1:4777/gateways/gw-abcdefghij/mcp");
    assert_int_equal(g->n_targets, 3); /* DELETING left out */
    assert_string_equal(g->targets[0].id, "AAAAAAAAAA");
    assert_int_equal(g->targets[0].kind, MG_TARGET_LAMBDA);
    assert_int_equal(g->targets[0].credential_type, MG_CRED_GATEWAY_IAM_ROLE);
    assert_string_equal(g->targets[0].lambda_arn,
                        "arn:aws:lambda:us-east-1:111122223333:function:f");

    const struct mg_tool_catalog *cat = &g->catalog;
    assert_int_equal(cat->n_tools, 3); /* READY targets only; "bad tool!" is not served */
    assert_string_equal(cat->tools[0].full_name, "alpha___c");
    assert_string_equal(cat->tools[1].full_name, "zeta___a");
    assert_string_equal(cat->tools[2].full_name, "zeta___b");
    assert_string_equal(cat->tools[1].name, "a");
    assert_string_equal(cat->tools[1].target->name, "zeta");
    assert_int_equal(cat->page_size, 2);
    assert_int_equal(cat->n_pages, 2);
    json_t *p0 = json_loads(cat->page_json[0], 0, NULL);
    assert_int_equal(json_array_size(p0), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(p0, 1), "name")),
                        "zeta___a");
    assert_non_null(json_object_get(json_array_get(p0, 0), "inputSchema"));
    json_decref(p0);
    assert_int_equal(strlen(cat->page_json[1]), cat->page_json_len[1]);
    const struct mg_tool *t = mg_agentcore_find_tool(g, MG_SLICE_LIT("zeta___b"));
    assert_non_null(t);
    assert_string_equal(t->description, "d b");
    assert_null(mg_agentcore_find_tool(g, MG_SLICE_LIT("zeta___x")));
    assert_null(mg_agentcore_find_tool(g, MG_SLICE_LIT("zeta")));
    uint64_t v1 = cat->version;
    size_t n;
    mg_agentcore_gateways(snap, &n);
    assert_int_equal(n, 1);
    mg_snapshot_unref(snap);

    /* the version moves when the tools change, and stays when they do not */
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/CCCCCCCCCC",
          TARGET("creating", "READY", "[" TOOL("q") "]"));
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);
    snap = mg_state_acquire(&f->st);
    g = mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij"));
    assert_int_equal(g->catalog.n_tools, 4);
    assert_true(g->catalog.version != v1);
    uint64_t v2 = g->catalog.version;
    mg_snapshot_unref(snap);
    assert_int_equal(mg_state_rebuild(&f->st, &ei), MG_E_OK);
    snap = mg_state_acquire(&f->st);
    g = mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij"));
    assert_int_equal(g->catalog.version, v2);
    mg_snapshot_unref(snap);
}

#define OA_TOOL(n)                                                                                 \
    "{\"name\":\"" n "\",\"description\":\"say \\\"" n "\\\"\",\"inputSchema\":{\"type\":"         \
    "\"object\",\"properties\":{\"x\":{\"type\":\"string\"}},\"required\":[\"x\"]},"               \
    "\"outputSchema\":{\"type\":\"object\"},\"_call\":{\"method\":\"GET\",\"pathTemplate\":\"/" n  \
    "\"}}"

/* The catalog of a target whose tools the control plane derived ("_tools"): the snapshot keeps
 * them as text, the catalog's tool JSON is what json_dumps writes, and the schemas and the call
 * description parse back to what was stored; extend and rederive share the documents. */
static void test_tools_as_text(void **state)
{
    struct s_fx *f = *state;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->st), MG_E_OK);
    s_put(f, MG_AC_KIND_GATEWAY, "gw-abcdefghij",
          "{\"gatewayId\":\"gw-abcdefghij\",\"gatewayArn\":\"" GW_ARN "\",\"name\":\"gw\","
          "\"status\":\"READY\",\"authorizerType\":\"AWS_IAM\"}");
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/AAAAAAAAAA",
          "{\"targetId\":\"AAAAAAAAAA\",\"name\":\"api\",\"status\":\"READY\","
          "\"targetConfiguration\":{\"mcp\":{\"openApiSchema\":{\"inlinePayload\":\"{}\"}}},"
          "\"_tools\":[" OA_TOOL("get") "," OA_TOOL("echo") "]}");
    s_put(f, MG_AC_KIND_TARGET, "gw-abcdefghij/BBBBBBBBBB",
          TARGET("fn", "READY", "[" TOOL("l") "]"));
    assert_int_equal(mg_state_write_commit(&f->st, &ei), MG_E_OK);

    for (int round = 0; round < 3; round++) {
        if (round == 1)
            assert_int_equal(mg_state_rebuild(&f->st, &ei), MG_E_OK); /* read from the store */
        struct mg_snapshot *snap = mg_state_acquire(&f->st);
        const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_AC_KIND_TARGET, "111122223333",
                                                          "gw-abcdefghij/AAAAAAAAAA");
        assert_non_null(d);
        assert_true(json_is_string(json_object_get(d->doc, "_tools")));
        json_t *defs = mg_ac_tool_defs(d->doc);
        assert_non_null(defs);
        assert_int_equal(json_array_size(defs), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 1), "name")),
                            "echo");
        json_decref(defs);

        const struct mg_gateway *g = mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij"));
        assert_non_null(g);
        assert_int_equal(g->catalog.n_tools, 3);
        const struct mg_tool *t = mg_agentcore_find_tool(g, MG_SLICE_LIT("api___echo"));
        assert_non_null(t);
        assert_string_equal(t->name, "echo");
        assert_string_equal(t->description, "say \"echo\"");
        json_t *in = mg_tool_input_schema(t);
        assert_non_null(in);
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_object_get(in, "properties"), "x"), "type")),
                            "string");
        json_t *want = json_pack("{s:s, s:s, s:O, s:{s:s}}", "name", "api___echo", "description",
                                 "say \"echo\"", "inputSchema", in, "outputSchema", "type",
                                 "object");
        assert_non_null(want);
        char *text = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_non_null(text);
        assert_int_equal(t->json_len, strlen(text));
        assert_memory_equal(t->json, text, t->json_len);
        mg_free(text);
        json_decref(want);
        json_decref(in);
        assert_int_equal(t->output_schema_json.len, strlen("{\"type\":\"object\"}"));
        assert_memory_equal(t->output_schema_json.ptr, "{\"type\":\"object\"}",
                            t->output_schema_json.len);
        json_t *call = mg_tool_call(t);
        assert_non_null(call);
        assert_string_equal(json_string_value(json_object_get(call, "pathTemplate")), "/echo");
        json_decref(call);
        const struct mg_tool *l = mg_agentcore_find_tool(g, MG_SLICE_LIT("fn___l"));
        assert_non_null(l);
        assert_null(mg_tool_call(l));
        assert_int_equal(l->output_schema_json.len, 0);
        /* the tools of a page are the tools' own JSON */
        json_t *page = json_loads(g->catalog.page_json[0], 0, NULL);
        assert_non_null(page);
        assert_int_equal(json_array_size(page), 2);
        json_decref(page);
        const struct mg_tool *first = &g->catalog.tools[0];
        assert_memory_equal(g->catalog.page_json[0] + 1, first->json, first->json_len);
        const struct mg_gateway *shared = g;
        uint64_t version = g->catalog.version;
        mg_snapshot_unref(snap);

        if (round == 2) {
            /* extend: nothing new registered, everything shared */
            assert_int_equal(mg_state_extend(&f->st, &ei), MG_E_OK);
            snap = mg_state_acquire(&f->st);
            assert_ptr_equal(mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij")), shared);
            mg_snapshot_unref(snap);
        } else {
            /* rederive: the same documents, the extensions built again */
            assert_int_equal(mg_state_rederive(&f->st, &ei), MG_E_OK);
            snap = mg_state_acquire(&f->st);
            g = mg_agentcore_gateway(snap, MG_SLICE_LIT("gw-abcdefghij"));
            assert_int_equal(g->catalog.version, version);
            assert_true(json_is_string(json_object_get(
                mg_snapshot_get(snap, MG_AC_KIND_TARGET, "111122223333", "gw-abcdefghij/AAAAAAAAAA")
                    ->doc,
                "_tools")));
            mg_snapshot_unref(snap);
        }
    }
}

/* An OpenAPI document is kept deflated in a snapshot's target and comes back as it was: in the
 * public form (GetGatewayTarget) and in what a write stores; a short one stays text. */
static void test_schema_deflated(void **state)
{
    (void)state;
    char spec[4096];
    int len = snprintf(spec, sizeof(spec), "{\"openapi\":\"3.0.3\",\"paths\":{");
    for (int i = 0; i < 40; i++)
        len += snprintf(spec + len, sizeof(spec) - (size_t)len,
                        "%s\"/op%d\":{\"get\":{\"operationId\":\"op%d\"}}", i ? "," : "", i, i);
    snprintf(spec + len, sizeof(spec) - (size_t)len, "}}");
    json_t *doc = json_pack("{s:s, s:s, s:{s:{s:{s:s}}}, s:[{s:s}]}", "targetId", "T1", "name", "t",
                            "targetConfiguration", "mcp", "openApiSchema", "inlinePayload", spec,
                            "_tools", "name", "op0");
    assert_non_null(doc);
    json_t *orig = json_deep_copy(doc);
    mg_ac_compact_target(orig); /* what the store holds */
    mg_ac_compact_target_snapshot(doc);
    const json_t *schema = json_object_get(
        json_object_get(json_object_get(doc, "targetConfiguration"), "mcp"), "openApiSchema");
    assert_null(json_object_get(schema, "inlinePayload"));
    assert_non_null(json_object_get(doc, "_inlinePayloadZ"));
    assert_true(json_string_length(json_object_get(doc, "_inlinePayloadZ")) < strlen(spec) / 2);
    assert_true(json_is_string(json_object_get(doc, "_tools")));

    json_t *full = mg_ac_target_expanded(doc);
    assert_non_null(full);
    assert_true(json_equal(full, orig));
    /* the snapshot's document is left as it was */
    assert_null(json_object_get(schema, "inlinePayload"));
    json_decref(full);

    json_t *pub = mg_ac_public_target(doc);
    assert_non_null(pub);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_object_get(pub, "targetConfiguration"), "mcp"),
                            "openApiSchema"),
            "inlinePayload")),
        spec);
    assert_null(json_object_get(pub, "_inlinePayloadZ"));
    json_decref(pub);

    /* a short document, and a target without one, are kept as they are */
    json_t *small = json_pack("{s:{s:{s:{s:s}}}}", "targetConfiguration", "mcp", "openApiSchema",
                              "inlinePayload", "{}");
    json_t *small_orig = json_deep_copy(small);
    mg_ac_compact_target_snapshot(small);
    assert_true(json_equal(small, small_orig));
    full = mg_ac_target_expanded(small);
    assert_ptr_equal(full, small);
    json_decref(full);

    /* a corrupt deflated member gives NULL, not a document without its schema */
    assert_int_equal(json_object_set_new(small, "_inlinePayloadZ", json_string("0123456789")), 0);
    assert_null(mg_ac_target_expanded(small));
    json_decref(small_orig);
    json_decref(small);
    json_decref(orig);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_catalog, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tools_as_text, s_setup, s_teardown),
        cmocka_unit_test(test_schema_deflated),
    };
    return MG_RUN_TESTS(tests);
}
