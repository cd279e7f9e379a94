/* IAM API helpers and data: URL-encoded documents, XML, names, the AWS managed policies, and
 * validation of the identities file with the policy parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/model.h"
#include "base/util.h"
#include "sigv4/sigv4.h"
#include "iam/api_internal.h"
#include "unit/leaks.h"

static void test_iam_document_url_encoding(void **state)
{
    (void)state;
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    const char *doc = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                      "\"Action\":\"s3:Get*\",\"Resource\":\"arn:aws:s3:::b/a b~c\"}]}";
    assert_int_equal(mg_iam_xml_doc(&b, 4, "PolicyDocument", doc), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b),
                        "    <PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22"
                        "%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2A%22%2C"
                        "%22Resource%22%3A%22arn%3Aaws%3As3%3A%3A%3Ab%2Fa%20b~c%22%7D%5D%7D"
                        "</PolicyDocument>\n");
    /* and back: percent-decoding gives the text the client sent */
    struct mg_buf d;
    mg_buf_init(&d, 4096);
    const char *s = strchr(mg_buf_cstr(&b), '>') + 1;
    const char *e = strstr(s, "</");
    assert_int_equal(mg_url_decode(&d, mg_slice_make(s, (size_t)(e - s)), false), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&d), doc);
    mg_buf_cleanup(&b);
    mg_buf_cleanup(&d);
}

static void test_iam_xml_escapes(void **state)
{
    (void)state;
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    assert_int_equal(mg_iam_xml(&b, 2, "Description", "a<b & \"c\""), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b),
                        "  <Description>a&lt;b &amp; &quot;c&quot;</Description>\n");
    mg_buf_reset(&b);
    json_t *tags = json_pack("[{s:s, s:s}]", "Key", "team", "Value", "a&b");
    assert_int_equal(mg_iam_xml_tags(&b, 0, tags), MG_E_OK);
    assert_non_null(strstr(mg_buf_cstr(&b), "<Key>team</Key>"));
    assert_non_null(strstr(mg_buf_cstr(&b), "<Value>a&amp;b</Value>"));
    json_decref(tags);
    mg_buf_reset(&b);
    assert_int_equal(mg_iam_xml_tags(&b, 0, NULL), MG_E_OK);
    assert_int_equal(b.len, 0);
    mg_buf_cleanup(&b);
}

static void test_iam_names(void **state)
{
    (void)state;
    assert_true(mg_iam_valid_name(MG_SLICE_LIT("Agent_Role+=,.@-1"), 64));
    assert_false(mg_iam_valid_name(MG_SLICE_LIT(""), 64));
    assert_false(mg_iam_valid_name(MG_SLICE_LIT("a/b"), 64));
    assert_false(mg_iam_valid_name(MG_SLICE_LIT("a b"), 64));
    assert_false(mg_iam_valid_name(MG_SLICE_LIT("abc"), 2));
}

static void test_iam_aws_managed_policies(void **state)
{
    (void)state;
    size_t n;
    const struct mg_iam_aws_policy *all = mg_iam_aws_policies(&n);
    assert_true(n >= 7);
    static const char *const want[] = {
        "arn:aws:iam::aws:policy/AdministratorAccess",
        "arn:aws:iam::aws:policy/PowerUserAccess",
        "arn:aws:iam::aws:policy/IAMFullAccess",
        "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaRole",
        "arn:aws:iam::aws:policy/BedrockAgentCoreFullAccess",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_non_null(mg_iam_aws_policy_find(want[i]));
    for (size_t i = 0; i < n; i++) {
        const struct mg_iam_aws_policy *p = &all[i];
        char arn[300];
        snprintf(arn, sizeof(arn), "arn:aws:iam::aws:policy%s%s", p->path, p->name);
        assert_string_equal(arn, p->arn);
        assert_int_equal(strlen(p->id), 21);
        assert_memory_equal(p->id, "ANPA", 4);
        assert_int_equal(p->version[0], 'v');
        /* every document compiles, and is the JSON object it claims to be */
        struct mg_policy_parse_opts o = {MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_RAW, p->arn};
        struct mg_policy *pol = NULL;
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_policy_parse(mg_slice_cstr(p->document), &o, &pol, &ei);
        assert_int_equal(e, MG_E_OK);
        assert_true(mg_policy_statement_count(pol) >= 1);
        mg_policy_unref(pol);
        assert_ptr_equal(mg_iam_aws_managed_policy(p->arn), p->document);
    }
    assert_null(mg_iam_aws_policy_find("arn:aws:iam::aws:policy/NoSuchPolicy"));
    /* AdministratorAccess is exactly what AWS publishes */
    assert_string_equal(mg_iam_aws_managed_policy("arn:aws:iam::aws:policy/AdministratorAccess"),
                        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                        "\"Action\":\"*\",\"Resource\":\"*\"}]}");
}

/* The identities file: a malformed inline or trust policy is refused at start, naming the place. */
static enum mg_err s_apply(const char *json, struct mg_errinfo *ei)
{
    char dir[] = "/tmp/mg-iam-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/identities.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    struct mg_store *store = NULL;
    struct mg_state st;
    char data[128];
    snprintf(data, sizeof(data), "%s/data", dir);
    assert_int_equal(mg_store_open(data, &store, ei), MG_E_OK);
    assert_int_equal(mg_state_init(&st, store, ei), MG_E_OK);
    enum mg_err e = mg_iam_apply_identities(&st, path, ei);
    mg_state_cleanup(&st);
    mg_store_close(store);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return e;
}

static void test_iam_identities_policies_validated(void **state)
{
    (void)state;
    mg_iam_init();
    struct mg_errinfo ei = {0};
    assert_int_equal(
        s_apply("{\"accounts\":[{\"id\":\"111122223333\",\"users\":[{\"name\":\"dev\","
                "\"inlinePolicies\":{\"ok\":{\"Version\":\"2012-10-17\",\"Statement\":[{"
                "\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}}}]}]}",
                &ei),
        MG_E_OK);
    ei = (struct mg_errinfo){0};
    assert_int_not_equal(
        s_apply("{\"accounts\":[{\"id\":\"111122223333\",\"users\":[{\"name\":\"dev\"},{\"name\":"
                "\"ops\",\"inlinePolicies\":{\"bad\":{\"Version\":\"2012-10-17\",\"Statement\":[{"
                "\"Effect\":\"Perhaps\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}}}]}]}",
                &ei),
        MG_E_OK);
    assert_non_null(strstr(ei.msg, "accounts[0].users[1].inlinePolicies.bad"));
    assert_non_null(strstr(ei.msg, "MalformedPolicyDocument"));
    ei = (struct mg_errinfo){0};
    assert_int_not_equal(
        s_apply("{\"accounts\":[{\"id\":\"111122223333\",\"roles\":[{\"name\":\"r\","
                "\"assumeRolePolicyDocument\":{\"Version\":\"2012-10-17\",\"Statement\":[{"
                "\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\"}]}}]}]}",
                &ei),
        MG_E_OK);
    assert_non_null(strstr(ei.msg, "accounts[0].roles[0].assumeRolePolicyDocument"));
}

static void test_iam_assume_role_as_service(void **state)
{
    (void)state;
    mg_iam_init();
    char dir[] = "/tmp/mg-iam-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], data[128];
    snprintf(path, sizeof(path), "%s/identities.json", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"accounts\":[{\"id\":\"111122223333\",\"roles\":[{\"name\":\"GatewayRole\","
          "\"path\":\"/svc/\",\"maxSessionDuration\":7200,"
          "\"assumeRolePolicyDocument\":{\"Version\":\"2012-10-17\",\"Statement\":[{"
          "\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"bedrock-agentcore.amazonaws.com\"},"
          "\"Action\":\"sts:AssumeRole\"}]},\"inlinePolicies\":{\"invoke\":{\"Version\":"
          "\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
          "\"lambda:InvokeFunction\",\"Resource\":\"*\"}]}}}]}]}",
          f);
    fclose(f);
    static struct {
        struct mg_store *store;
        struct mg_state state;
        uint8_t token_key[32];
        struct mg_env env;
    } app;
    struct mg_errinfo ei = {0};
    mg_random_bytes(app.token_key, sizeof(app.token_key));
    assert_int_equal(mg_store_open(data, &app.store, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&app.state, app.store, &ei), MG_E_OK);
    assert_int_equal(mg_iam_apply_identities(&app.state, path, &ei), MG_E_OK);
    app.env = (struct mg_env){.region = "",
                              .store = app.store,
                              .state = &app.state,
                              .token_key = app.token_key};
    struct mg_snapshot *snap = mg_state_acquire(&app.state);
    const char *role = "arn:aws:iam::111122223333:role/svc/GatewayRole";

    /* IAM names resolve whatever their letter case, within their account */
    const struct mg_snapshot_doc *named = mg_iam_find_name(snap, "role", "111122223333",
                                                           "GATEWAYROLE");
    assert_non_null(named);
    assert_string_equal(named->key, "GatewayRole");
    assert_ptr_equal(mg_iam_find_name(snap, "role", "111122223333", "GatewayRole"), named);
    assert_null(mg_iam_find_name(snap, "role", "111122223333", "GatewayRol"));
    assert_null(mg_iam_find_name(snap, "role", "444455556666", "gatewayrole"));
    assert_null(mg_iam_find_name(snap, "user", "111122223333", "gatewayrole"));

    struct mg_principal p;
    char akid[21], secret[41];
    struct mg_buf tok;
    mg_buf_init(&tok, 16384);
    int64_t expires = 0;
    assert_int_equal(mg_sts_assume_role_as_service(&app.env, snap, role,
                                                   "bedrock-agentcore.amazonaws.com", "gw-1", 0, &p,
                                                   akid, secret, &tok, &expires, &ei),
                     MG_E_OK);
    assert_int_equal(p.type, MG_PRINCIPAL_ASSUMED_ROLE);
    assert_string_equal(p.arn, "arn:aws:sts::111122223333:assumed-role/GatewayRole/gw-1");
    assert_string_equal(p.role_arn, role);
    assert_non_null(p.user);
    assert_int_equal(p.n_session_policies, 0);
    assert_memory_equal(akid, "ASIA", 4);
    assert_int_equal(strlen(secret), 40);
    assert_int_equal(expires - mg_now() <= 3600 && expires - mg_now() > 3500, 1);
    mg_principal_cleanup(&p);

    /* the credentials work as a session of the role */
    char sec2[129];
    assert_int_equal(mg_sts_session_resolve(app.token_key, snap, mg_slice_cstr(akid),
                                            mg_buf_slice(&tok), &p, sec2, sizeof(sec2)),
                     MG_SIGV4_OK);
    assert_string_equal(sec2, secret);
    assert_non_null(mg_iam_policies_of(snap, &p));
    mg_principal_cleanup(&p);

    /* another service, or an unknown role: denied with AWS's wording */
    ei = (struct mg_errinfo){0};
    assert_int_equal(mg_sts_assume_role_as_service(&app.env, snap, role, "lambda.amazonaws.com",
                                                   "x1", 0, NULL, akid, secret, NULL, NULL, &ei),
                     MG_E_DENIED);
    assert_non_null(strstr(ei.msg, "is not authorized to perform: sts:AssumeRole on resource: "
                                   "arn:aws:iam::111122223333:role/svc/GatewayRole"));
    assert_int_equal(mg_sts_assume_role_as_service(&app.env, snap,
                                                   "arn:aws:iam::111122223333:role/GatewayRole",
                                                   "bedrock-agentcore.amazonaws.com", "x1", 0, NULL,
                                                   akid, secret, NULL, NULL, &ei),
                     MG_E_DENIED);
    /* a longer duration is capped by MaxSessionDuration */
    assert_int_equal(mg_sts_assume_role_as_service(&app.env, snap, role,
                                                   "bedrock-agentcore.amazonaws.com", NULL, 99999,
                                                   NULL, akid, secret, NULL, &expires, &ei),
                     MG_E_OK);
    assert_true(expires - mg_now() <= 7200 && expires - mg_now() > 7100);

    mg_buf_cleanup(&tok);
    mg_snapshot_unref(snap);
    mg_state_cleanup(&app.state);
    mg_store_close(app.store);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Operations of the models: the compiled-in tables tell a real operation from garbage, the way
 * the services route them (query Action; rest-json method and path over the signing name's
 * models). */
static void test_iam_unsupported_operations_model(void **state)
{
    (void)state;
    assert_non_null(mg_aws_route_query(MG_AWS_SVC_STS, MG_SLICE_LIT("GetSessionToken")));
    assert_non_null(mg_aws_route_query(MG_AWS_SVC_IAM, MG_SLICE_LIT("CreateGroup")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_STS, MG_SLICE_LIT("CreateGroup")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_IAM, MG_SLICE_LIT("creategroup")));
    assert_null(mg_aws_route_query(MG_AWS_SVC_IAM, MG_SLICE_LIT("")));
    static const enum mg_aws_service lambda[] = {MG_AWS_SVC_LAMBDA};
    static const enum mg_aws_service agentcore[] = {MG_AWS_SVC_AGENTCORE_CONTROL,
                                                    MG_AWS_SVC_AGENTCORE};
    static const enum mg_aws_service iam[] = {MG_AWS_SVC_IAM};
    struct {
        const enum mg_aws_service *svcs;
        size_t n;
        const char *method, *path, *op; /* op NULL: no operation */
    } cases[] = {
        {lambda, 1, "GET", "/2015-03-31/functions/f/aliases", "ListAliases"},
        {lambda, 1, "GET", "/2015-03-31/functions/f/aliases/", "ListAliases"},
        {lambda, 1, "POST", "/2015-03-31/functions/f/aliases", "CreateAlias"},
        {lambda, 1, "GET", "/2015-03-31/functions/f/aliases/live", "GetAlias"},
        {lambda, 1, "GET", "/2015-03-31/functions/f", "GetFunction"},
        {lambda, 1, "GET", "/2015-03-31/functions/f/versions", "ListVersionsByFunction"},
        {lambda, 1, "GET", "/2015-03-31/nothing", NULL},
        {lambda, 1, "PATCH", "/2015-03-31/functions/f", NULL},
        {lambda, 1, "GET", "/", NULL},
        {agentcore, 2, "PUT", "/runtimes/", "CreateAgentRuntime"},
        {agentcore, 2, "POST", "/runtimes/", "ListAgentRuntimes"},
        {agentcore, 2, "POST", "/runtimes/arn/invocations", "InvokeAgentRuntime"},
        {agentcore, 2, "DELETE", "/no/such/thing", NULL},
        {iam, 1, "GET", "/", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mg_aws_route rt;
        bool found = mg_aws_route_rest(cases[i].svcs, cases[i].n, mg_slice_cstr(cases[i].method),
                                       mg_slice_cstr(cases[i].path), MG_SLICE_LIT(""), &rt);
        if (cases[i].op == NULL)
            assert_false(found);
        else {
            assert_true(found);
            assert_string_equal(mg_aws_op_name(rt.op), cases[i].op);
        }
    }
}

/* The identities file is the source of truth for what came from it. */
static void s_write_file(const char *path, const char *json)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
}

static bool s_has(struct mg_state *st, const char *kind, const char *account, const char *key)
{
    struct mg_snapshot *snap = mg_state_acquire(st);
    bool found = mg_snapshot_get(snap, kind, account, key) != NULL;
    mg_snapshot_unref(snap);
    return found;
}

static bool s_key_works(struct mg_state *st, const char *akid)
{
    struct mg_snapshot *snap = mg_state_acquire(st);
    const struct mg_iam_key *k = mg_iam_find_key(snap, mg_slice_cstr(akid));
    bool ok = k && k->active;
    mg_snapshot_unref(snap);
    return ok;
}

#define S_TRUST                                                                                    \
    "\"assumeRolePolicyDocument\":{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"         \
    "\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":"             \
    "\"sts:AssumeRole\"}]}"

static void test_iam_identities_removed_at_start(void **state)
{
    (void)state;
    mg_iam_init();
    char dir[] = "/tmp/mg-iam-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], data[128];
    snprintf(path, sizeof(path), "%s/identities.json", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    struct mg_store *store = NULL;
    struct mg_state st;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(data, &store, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&st, store, &ei), MG_E_OK);
    const char *A = "111122223333";

    /* no file: the loopback-only test key */
    assert_int_equal(mg_iam_apply_default_identities(&st, &ei), MG_E_OK);
    struct mg_snapshot *snap = mg_state_acquire(&st);
    const struct mg_iam_key *tk = mg_iam_find_key(snap, MG_SLICE_LIT("test"));
    assert_non_null(tk);
    assert_true(tk->loopback_only);
    mg_snapshot_unref(snap);

    /* the file: root key, user u with a key, roles r and r2 */
    s_write_file(path, "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                       "\"accessKeyId\":\"AKIAROOT1\",\"secretAccessKey\":\"s\"}],"
                       "\"users\":[{\"name\":\"u\",\"accessKeys\":[{\"accessKeyId\":\"AKIAUSER1\","
                       "\"secretAccessKey\":\"s\"}]}],"
                       "\"roles\":[{\"name\":\"r\"," S_TRUST "},{\"name\":\"r2\"," S_TRUST "}]}]}");
    assert_int_equal(mg_iam_apply_identities(&st, path, &ei), MG_E_OK);
    assert_false(s_key_works(&st, "test"));
    assert_true(s_key_works(&st, "AKIAROOT1"));
    assert_true(s_key_works(&st, "AKIAUSER1"));
    snap = mg_state_acquire(&st);
    assert_false(mg_iam_find_key(snap, MG_SLICE_LIT("AKIAROOT1"))->loopback_only);
    mg_snapshot_unref(snap);

    /* through the API: a key of u, a user of its own; r2 deleted and created again */
    assert_int_equal(mg_state_write_begin(&st), MG_E_OK);
    assert_int_equal(mg_store_put(store, "access_key", A, "AKIAAPIKEYOFU",
                                  MG_SLICE_LIT("{\"accessKeyId\":\"AKIAAPIKEYOFU\","
                                               "\"secretAccessKey\":\"s\",\"status\":\"Active\","
                                               "\"userName\":\"u\"}")),
                     MG_E_OK);
    assert_int_equal(mg_store_put(store, "user", A, "api",
                                  MG_SLICE_LIT("{\"UserName\":\"api\",\"UserId\":\"AIDAAPI\","
                                               "\"Arn\":\"arn:aws:iam::111122223333:user/api\"}")),
                     MG_E_OK);
    assert_int_equal(mg_store_put(store, "role", A, "r2",
                                  MG_SLICE_LIT("{\"RoleName\":\"r2\",\"RoleId\":\"AROANEW\"}")),
                     MG_E_OK);
    assert_int_equal(mg_state_write_commit(&st, &ei), MG_E_OK);
    assert_true(s_key_works(&st, "AKIAAPIKEYOFU"));

    /* a start without the file keeps what the file made */
    assert_int_equal(mg_iam_apply_default_identities(&st, &ei), MG_E_OK);
    assert_true(s_key_works(&st, "test"));
    assert_true(s_key_works(&st, "AKIAROOT1"));

    /* the file again, with the root key rotated and u, r, r2 gone */
    s_write_file(path, "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                       "\"accessKeyId\":\"AKIAROOT2\",\"secretAccessKey\":\"s\"}]}]}");
    assert_int_equal(mg_iam_apply_identities(&st, path, &ei), MG_E_OK);
    assert_false(s_key_works(&st, "test"));
    assert_false(s_key_works(&st, "AKIAROOT1"));
    assert_true(s_key_works(&st, "AKIAROOT2"));
    assert_false(s_key_works(&st, "AKIAUSER1"));
    assert_false(s_has(&st, "user", A, "u"));
    assert_false(s_has(&st, "access_key", A, "AKIAAPIKEYOFU")); /* u's keys go with u */
    assert_false(s_has(&st, "role", A, "r"));
    assert_true(s_has(&st, "role", A, "r2")); /* not the role the file made */
    assert_true(s_has(&st, "user", A, "api"));
    assert_true(s_has(&st, "account", A, A));

    /* applying the same file again changes nothing */
    assert_int_equal(mg_iam_apply_identities(&st, path, &ei), MG_E_OK);
    assert_true(s_key_works(&st, "AKIAROOT2"));

    mg_state_cleanup(&st);
    mg_store_close(store);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* The content hash: layout and field order do not count, values do; an invalid document has
 * none. */
static void test_iam_identities_hash(void **state)
{
    (void)state;
    struct mg_errinfo ei = {0};
    char a[65], b[65], c[65];
    assert_int_equal(
        mg_iam_identities_hash(MG_SLICE_LIT(
                                   "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":"
                                   "[{\"accessKeyId\":\"AKIAX1\",\"secretAccessKey\":\"s\"}]}]}"),
                               a, &ei),
        MG_E_OK);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(mg_iam_identities_hash(MG_SLICE_LIT(
                                                "{ \"accounts\" : [ { \"rootAccessKeys\" : [ {\n"
                                                "  \"secretAccessKey\": \"s\", \"accessKeyId\": "
                                                "\"AKIAX1\" } ], \"id\": \"111122223333\" } ] }\n"),
                                            b, &ei),
                     MG_E_OK);
    assert_string_equal(a, b);
    assert_int_equal(
        mg_iam_identities_hash(MG_SLICE_LIT(
                                   "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":"
                                   "[{\"accessKeyId\":\"AKIAX1\",\"secretAccessKey\":\"t\"}]}]}"),
                               c, &ei),
        MG_E_OK);
    assert_string_not_equal(a, c); /* another secret is another content */
    assert_int_equal(mg_iam_identities_hash(MG_SLICE_LIT("{\"accounts\":3}"), c, &ei),
                     MG_E_INVALID);
    assert_string_equal(c, "");
    assert_int_equal(mg_iam_identities_hash(MG_SLICE_LIT("{"), c, &ei), MG_E_PARSE);
}

/* One node of a shared store after another: the first applies, the same file is a no-op, another
 * file is refused with what differs, the update flag applies it, no file uses the store's. */
static enum mg_err s_start(struct mg_state *st, const char *path, bool update,
                           enum mg_iam_identities_outcome *outcome, struct mg_errinfo *ei)
{
    struct mg_iam_identities_start o = {.path = path, .shared = true, .update = update};
    memset(ei, 0, sizeof(*ei));
    enum mg_err e = mg_iam_start_identities(st, &o, ei);
    *outcome = o.outcome;
    return e;
}

static void test_iam_identities_shared_store(void **state)
{
    (void)state;
    mg_iam_init();
    char dir[] = "/tmp/mg-iam-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char one[128], two[128], data[128];
    snprintf(one, sizeof(one), "%s/one.json", dir);
    snprintf(two, sizeof(two), "%s/two.json", dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    struct mg_store *store = NULL;
    struct mg_state st;
    struct mg_errinfo ei = {0};
    enum mg_iam_identities_outcome out;
    assert_int_equal(mg_store_open(data, &store, &ei), MG_E_OK);
    assert_int_equal(mg_state_init(&st, store, &ei), MG_E_OK);
    s_write_file(one, "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                      "\"accessKeyId\":\"AKIAROOT1\",\"secretAccessKey\":\"s\"}],"
                      "\"users\":[{\"name\":\"u\",\"accessKeys\":[{\"accessKeyId\":\"AKIAUSER1\","
                      "\"secretAccessKey\":\"s\"}]}]}]}");
    /* the same content in another layout */
    s_write_file(two,
                 "{\"accounts\": [ {\"users\":[{\"accessKeys\":[{\"secretAccessKey\":\"s\","
                 "\"accessKeyId\":\"AKIAUSER1\"}], \"name\":\"u\"}], \"id\":\"111122223333\","
                 "\"rootAccessKeys\":[{\"accessKeyId\":\"AKIAROOT1\",\"secretAccessKey\":\"s\"}]"
                 "} ]}\n");

    /* a node without a file on an empty store: the test key */
    assert_int_equal(s_start(&st, NULL, false, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_APPLIED);
    assert_true(s_key_works(&st, "test"));
    /* the first file replaces the built-in default */
    assert_int_equal(s_start(&st, one, false, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_APPLIED);
    assert_false(s_key_works(&st, "test"));
    assert_true(s_key_works(&st, "AKIAUSER1"));
    /* the same content: nothing written */
    uint64_t gen = mg_store_generation(store);
    assert_int_equal(s_start(&st, two, false, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_SAME);
    assert_int_equal(mg_store_generation(store), gen);
    /* no file: the store's */
    assert_int_equal(s_start(&st, NULL, false, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_FROM_STORE);
    assert_false(s_key_works(&st, "test"));
    assert_int_equal(mg_store_generation(store), gen);

    /* another file: refused, saying what differs and the way out */
    s_write_file(two, "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                      "\"accessKeyId\":\"AKIAROOT1\",\"secretAccessKey\":\"s\"}],"
                      "\"users\":[{\"name\":\"v\"}]}]}");
    assert_int_equal(s_start(&st, two, false, &out, &ei), MG_E_CONFLICT);
    assert_non_null(strstr(ei.msg, two));
    assert_non_null(strstr(ei.msg, "differs from the identities the shared store holds"));
    assert_non_null(strstr(ei.msg, "): it adds 1 user (111122223333/v); it lacks 1 user "
                                   "(111122223333/u), 1 access key (111122223333/AKIAUSER1). "));
    assert_non_null(strstr(ei.msg, "--identities-update"));
    assert_null(strstr(ei.msg, "\"s\"")); /* no secret */
    assert_true(s_key_works(&st, "AKIAUSER1"));
    assert_int_equal(mg_store_generation(store), gen);
    /* the same names, another secret */
    s_write_file(two, "{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                      "\"accessKeyId\":\"AKIAROOT1\",\"secretAccessKey\":\"s2\"}],"
                      "\"users\":[{\"name\":\"u\",\"accessKeys\":[{\"accessKeyId\":\"AKIAUSER1\","
                      "\"secretAccessKey\":\"s\"}]}]}]}");
    assert_int_equal(s_start(&st, two, false, &out, &ei), MG_E_CONFLICT);
    assert_non_null(strstr(ei.msg, "it lists the same users, roles and access keys, with other "
                                   "settings"));
    /* with the update flag it is applied */
    assert_int_equal(s_start(&st, two, true, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_APPLIED);
    /* and is then the store's: the first file is refused now */
    assert_int_equal(s_start(&st, two, false, &out, &ei), MG_E_OK);
    assert_int_equal(out, MG_IAM_IDENTITIES_SAME);
    assert_int_equal(s_start(&st, one, false, &out, &ei), MG_E_CONFLICT);

    mg_state_cleanup(&st);
    mg_store_close(store);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_iam_identities_tags_limited(void **state)
{
    (void)state;
    struct mg_errinfo ei = {0};
    char doc[8192];
    int n =
        snprintf(doc, sizeof(doc),
                 "{\"accounts\":[{\"id\":\"111122223333\",\"users\":[{\"name\":\"u\",\"tags\":{");
    for (int i = 0; i < 51; i++)
        n += snprintf(doc + n, sizeof(doc) - (size_t)n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(doc + n, sizeof(doc) - (size_t)n, "}}]}]}");
    assert_int_equal(s_apply(doc, &ei), MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "at most 50 tags"));
    char key[200];
    memset(key, 'a', 129);
    key[129] = 0;
    snprintf(doc, sizeof(doc),
             "{\"accounts\":[{\"id\":\"111122223333\",\"users\":[{\"name\":\"u\",\"tags\":{"
             "\"%s\":\"v\"}}]}]}",
             key);
    assert_int_equal(s_apply(doc, &ei), MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "1 to 128"));
    assert_int_equal(s_apply("{\"accounts\":[{\"id\":\"111122223333\",\"rootAccessKeys\":[{"
                             "\"accessKeyId\":\"test\",\"secretAccessKey\":\"test\"}]}]}",
                             &ei),
                     MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "well-known"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iam_document_url_encoding),
        cmocka_unit_test(test_iam_xml_escapes),
        cmocka_unit_test(test_iam_names),
        cmocka_unit_test(test_iam_aws_managed_policies),
        cmocka_unit_test(test_iam_identities_policies_validated),
        cmocka_unit_test(test_iam_assume_role_as_service),
        cmocka_unit_test(test_iam_unsupported_operations_model),
        cmocka_unit_test(test_iam_identities_removed_at_start),
        cmocka_unit_test(test_iam_identities_tags_limited),
        cmocka_unit_test(test_iam_identities_hash),
        cmocka_unit_test(test_iam_identities_shared_store),
    };
    mg_torture_release = mg_iam_policy_cache_clear; /* a process-wide cache, not a leak */
    return MG_RUN_TESTS(tests);
}
