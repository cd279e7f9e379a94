/* The authorization context: every tag family at AWS's maximum is evaluated in full, and one past
 * it (or a builder that ran out of room) denies instead of deciding on a partial context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "call/authz.h"
#include "iam/iam.h"
#include "base/alloc.h"
#include "unit/leaks.h"

/* n tags "k1".."kN" = "v", with the last one's key and value given. */
static json_t *s_tag_object(size_t n, const char *last_key, const char *last_value)
{
    json_t *o = json_object();
    for (size_t i = 1; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "k%zu", i);
        json_object_set_new(o, k, json_string("v"));
    }
    if (n)
        json_object_set_new(o, last_key, json_string(last_value));
    return o;
}

/* The same as IAM stores them: [{"Key","Value"}]. */
static json_t *s_tag_array(size_t n, const char *prefix, const char *last_key,
                           const char *last_value)
{
    json_t *a = json_array();
    for (size_t i = 1; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), "%s%zu", prefix, i);
        json_array_append_new(a, json_pack("{s:s, s:s}", "Key", k, "Value", "v"));
    }
    if (n)
        json_array_append_new(a, json_pack("{s:s, s:s}", "Key", last_key, "Value", last_value));
    return a;
}

static void s_role_session(struct mg_principal *p, json_t *session_tags, const json_t *role_doc)
{
    memset(p, 0, sizeof(*p));
    p->type = MG_PRINCIPAL_ASSUMED_ROLE;
    strcpy(p->account, "111122223333");
    strcpy(p->arn, "arn:aws:sts::111122223333:assumed-role/r/s");
    strcpy(p->role_arn, "arn:aws:iam::111122223333:role/r");
    strcpy(p->user_id, "AROAEXAMPLEEXAMPLE1:s");
    strcpy(p->name, "r");
    p->session_tags = session_tags;
    p->user = role_doc;
}

static const char *s_value(const struct mg_policy_request *req, const char *key)
{
    const struct mg_policy_ctx_entry *e = mg_policy_ctx_find(req, mg_slice_cstr(key));
    return e ? (const char *)e->value.ptr : NULL;
}

static void test_authz_principal_tags_at_the_maximum(void **state)
{
    (void)state;
    json_t *role = json_pack("{s:o}", "Tags", s_tag_array(MG_AUTHZ_MAX_TAGS, "r", "team", "ops"));
    struct mg_principal p;
    s_role_session(&p, s_tag_object(MG_AUTHZ_MAX_TAGS, "project", "blue"), role);
    struct mg_policy_request req;
    struct mg_policy_ctx_entry ctx[MG_AUTHZ_MAX_CONTEXT];
    struct mg_authz_storage st;
    size_t n = 0;
    mg_authz_fill_request(&p, NULL, "us-east-1", &req, ctx, &n, &st);
    assert_null(st.overflow);
    assert_true(n >= 2 * MG_AUTHZ_MAX_TAGS);
    /* the last tag of each family is there */
    assert_string_equal(s_value(&req, "aws:PrincipalTag/project"), "blue");
    assert_string_equal(s_value(&req, "aws:PrincipalTag/team"), "ops");
    assert_string_equal(s_value(&req, "aws:PrincipalTag/r49"), "v");
    assert_string_equal(s_value(&req, "aws:RequestedRegion"), "us-east-1");
    json_decref(p.session_tags);
    json_decref(role);
}

static void test_authz_principal_tags_over_the_maximum(void **state)
{
    (void)state;
    struct mg_policy_request req;
    struct mg_policy_ctx_entry ctx[MG_AUTHZ_MAX_CONTEXT];
    struct mg_authz_storage st;
    size_t n = 0;
    struct mg_principal p;
    /* 51 session tags */
    s_role_session(&p, s_tag_object(MG_AUTHZ_MAX_TAGS + 1, "project", "blue"), NULL);
    mg_authz_fill_request(&p, NULL, NULL, &req, ctx, &n, &st);
    assert_non_null(st.overflow);
    json_decref(p.session_tags);
    /* 51 tags on the role */
    json_t *role = json_pack("{s:o}", "Tags",
                             s_tag_array(MG_AUTHZ_MAX_TAGS + 1, "r", "team", "ops"));
    s_role_session(&p, NULL, role);
    mg_authz_fill_request(&p, NULL, NULL, &req, ctx, &n, &st);
    assert_non_null(st.overflow);
    json_decref(role);
    /* a tag key longer than a name can hold is not cut short */
    char longkey[MG_AUTHZ_TAG_NAME_CAP + 64];
    memset(longkey, 'a', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = 0;
    s_role_session(&p, s_tag_object(1, longkey, "x"), NULL);
    mg_authz_fill_request(&p, NULL, NULL, &req, ctx, &n, &st);
    assert_non_null(st.overflow);
    json_decref(p.session_tags);
    /* and a fresh request starts clean */
    s_role_session(&p, s_tag_object(3, "a", "b"), NULL);
    mg_authz_fill_request(&p, NULL, NULL, &req, ctx, &n, &st);
    assert_null(st.overflow);
    json_decref(p.session_tags);
}

/* ---- decisions: the account root, in its own account, is allowed all but explicit denies -- */

static const struct mg_env s_env = {.region = "us-east-1", .identity = &mg_iam_identity};

static void s_root_call(struct mg_call *c)
{
    memset(c, 0, sizeof(*c));
    c->env = &s_env;
    c->principal.type = MG_PRINCIPAL_ROOT;
    strcpy(c->principal.account, "111122223333");
    strcpy(c->principal.arn, "arn:aws:iam::111122223333:root");
    strcpy(c->principal.user_id, "111122223333");
}

static struct mg_policy *s_resource_policy(const char *condition)
{
    char doc[2048];
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"D\",\"Effect\":\"Deny\","
             "\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":%s}]}",
             condition);
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, 0, "test resource policy"};
    struct mg_policy *p = NULL;
    assert_int_equal(mg_policy_parse(mg_slice_cstr(doc), &o, &p, NULL), MG_E_OK);
    return p;
}

static const char s_gw[] = "arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/gw-1";

static void test_authz_resource_tags_at_and_over_the_maximum(void **state)
{
    (void)state;
    struct mg_policy *deny = s_resource_policy(
        "{\"StringEquals\":{\"aws:ResourceTag/env\":\"prod\"}}");
    struct mg_call c;
    s_root_call(&c);
    struct mg_policy_explain ex;
    char msg[512];

    /* 50 tags, env=prod the last: the deny applies */
    json_t *tags = s_tag_object(MG_AUTHZ_MAX_TAGS, "env", "prod");
    struct mg_authz_resource res = {.arn = s_gw, .policy = deny, .tags = tags};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:GetGateway", &res, NULL, &ex, msg,
                                     sizeof(msg)),
                     MG_POLICY_EXPLICIT_DENY);
    assert_ptr_equal(ex.deny.policy, deny);
    json_decref(tags);

    /* the same with env=dev: allowed, so the test above can fail */
    tags = s_tag_object(MG_AUTHZ_MAX_TAGS, "env", "dev");
    res.tags = tags;
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:GetGateway", &res, NULL, &ex, msg,
                                     sizeof(msg)),
                     MG_POLICY_ALLOW);
    json_decref(tags);

    /* 51 tags (as an array too): denied without deciding, whatever the tags say */
    tags = s_tag_object(MG_AUTHZ_MAX_TAGS + 1, "env", "dev");
    res.tags = tags;
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:GetGateway", &res, NULL, &ex, msg,
                                     sizeof(msg)),
                     MG_POLICY_EXPLICIT_DENY);
    assert_null(ex.deny.policy);
    assert_non_null(strstr(msg, "is not authorized to perform"));
    json_decref(tags);
    tags = s_tag_array(MG_AUTHZ_MAX_TAGS + 1, "k", "env", "dev");
    res.tags = tags;
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:GetGateway", &res, NULL, &ex, NULL, 0),
                     MG_POLICY_EXPLICIT_DENY);
    json_decref(tags);
    mg_policy_unref(deny);
}

/* n aws:RequestTag entries "k1".."k(n-1)" = "v" and last_key = last_value, plus aws:TagKeys. */
struct s_request_tags {
    char names[MG_AUTHZ_MAX_TAGS + 1][MG_AUTHZ_TAG_NAME_CAP];
    char keys_text[MG_AUTHZ_MAX_TAGS + 1][32];
    struct mg_slice keys[MG_AUTHZ_MAX_TAGS + 1];
    struct mg_policy_ctx_entry e[MG_AUTHZ_MAX_TAGS + 2];
    size_t n;
};

static void s_request_tags(struct s_request_tags *r, size_t n, const char *last_key,
                           const char *last_value)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        bool last = i + 1 == n;
        if (last)
            snprintf(r->keys_text[i], sizeof(r->keys_text[i]), "%s", last_key);
        else
            snprintf(r->keys_text[i], sizeof(r->keys_text[i]), "k%zu", i + 1);
        snprintf(r->names[i], sizeof(r->names[i]), "aws:RequestTag/%s", r->keys_text[i]);
        r->e[r->n++] = (struct mg_policy_ctx_entry){.key = mg_slice_cstr(r->names[i]),
                                                    .value = mg_slice_cstr(last ? last_value
                                                                                : "v")};
        r->keys[i] = mg_slice_cstr(r->keys_text[i]);
    }
    r->e[r->n++] = (struct mg_policy_ctx_entry){.key = MG_SLICE_LIT("aws:TagKeys"),
                                                .values = r->keys,
                                                .n_values = n};
}

static void test_authz_request_tags_at_the_maximum(void **state)
{
    (void)state;
    struct mg_call c;
    s_root_call(&c);
    struct mg_policy_explain ex;
    static struct s_request_tags r;

    /* a Deny on aws:RequestTag/protected=true, protected the 50th tag */
    struct mg_policy *deny = s_resource_policy(
        "{\"StringEquals\":{\"aws:RequestTag/protected\":\"true\"}}");
    struct mg_authz_resource res = {.arn = s_gw, .policy = deny, .tags = NULL};
    json_t *rtags = s_tag_object(MG_AUTHZ_MAX_TAGS, "env", "prod");
    res.tags = rtags; /* resource tags at their maximum too */
    s_request_tags(&r, MG_AUTHZ_MAX_TAGS, "protected", "true");
    struct mg_authz_extra extra = {r.e, r.n, NULL};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:TagResource", &res, &extra, &ex, NULL,
                                     0),
                     MG_POLICY_EXPLICIT_DENY);
    assert_ptr_equal(ex.deny.policy, deny);
    s_request_tags(&r, MG_AUTHZ_MAX_TAGS, "protected", "false");
    extra = (struct mg_authz_extra){r.e, r.n, NULL};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:TagResource", &res, &extra, &ex, NULL,
                                     0),
                     MG_POLICY_ALLOW);
    mg_policy_unref(deny);

    /* aws:TagKeys holds all 50 keys: a Deny on any key but Project sees the 50th */
    char cond[1024] = "{\"ForAnyValue:StringNotEquals\":{\"aws:TagKeys\":[\"Project\"";
    for (size_t i = 1; i < MG_AUTHZ_MAX_TAGS; i++) {
        size_t l = strlen(cond);
        snprintf(cond + l, sizeof(cond) - l, ",\"k%zu\"", i);
    }
    strcat(cond, "]}}");
    deny = s_resource_policy(cond);
    res.policy = deny;
    s_request_tags(&r, 3, "Project", "x");
    extra = (struct mg_authz_extra){r.e, r.n, NULL};
    assert_int_equal(mg_authz_decide(&c, "iam:TagUser", &res, &extra, &ex, NULL, 0),
                     MG_POLICY_ALLOW);
    s_request_tags(&r, MG_AUTHZ_MAX_TAGS, "team", "admins");
    extra = (struct mg_authz_extra){r.e, r.n, NULL};
    assert_int_equal(mg_authz_decide(&c, "iam:TagUser", &res, &extra, &ex, NULL, 0),
                     MG_POLICY_EXPLICIT_DENY);
    assert_ptr_equal(ex.deny.policy, deny);
    mg_policy_unref(deny);
    json_decref(rtags);
}

static void test_authz_extra_overflow_denies(void **state)
{
    (void)state;
    struct mg_call c;
    s_root_call(&c);
    struct mg_policy_explain ex;
    struct mg_authz_resource res = {.arn = s_gw};
    /* a builder that ran out of room */
    struct mg_authz_extra extra = {NULL, 0, "more request tags than AWS allows"};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:TagResource", &res, &extra, &ex, NULL,
                                     0),
                     MG_POLICY_EXPLICIT_DENY);
    /* more entries than the context holds */
    static struct mg_policy_ctx_entry many[MG_AUTHZ_MAX_CONTEXT];
    for (size_t i = 0; i < MG_AUTHZ_MAX_CONTEXT; i++)
        many[i] = (struct mg_policy_ctx_entry){.key = MG_SLICE_LIT("svc:Key"),
                                               .value = MG_SLICE_LIT("v")};
    extra = (struct mg_authz_extra){many, MG_AUTHZ_MAX_CONTEXT, NULL};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:TagResource", &res, &extra, &ex, NULL,
                                     0),
                     MG_POLICY_EXPLICIT_DENY);
    assert_null(ex.deny.policy);
    /* and without either, the root is allowed */
    extra = (struct mg_authz_extra){many, 8, NULL};
    assert_int_equal(mg_authz_decide(&c, "bedrock-agentcore:TagResource", &res, &extra, &ex, NULL,
                                     0),
                     MG_POLICY_ALLOW);
}

/* ---- the memory of allowed decisions: the same answers as deciding every time --------------- */

/* An identity provider whose principals have the policies of s_id_policies, counting lookups. */
static const struct mg_policy *s_id_policies[2];
static size_t s_n_id_policies, s_policy_lookups;

static void s_stub_policies_of(const struct mg_snapshot *snap, const struct mg_principal *p,
                               struct mg_policy_set *set)
{
    (void)snap;
    s_policy_lookups++;
    if (p->type == MG_PRINCIPAL_ROOT)
        return;
    set->identity = s_id_policies;
    set->n_identity = s_n_id_policies;
}

static const struct mg_identity s_stub_identity = {.policies_of = s_stub_policies_of};
static const struct mg_env s_stub_env = {.region = "us-east-1", .identity = &s_stub_identity};

static struct mg_policy *s_policy(enum mg_policy_kind kind, const char *doc)
{
    struct mg_policy_parse_opts o = {kind, 0, "test policy"};
    struct mg_policy *p = NULL;
    assert_int_equal(mg_policy_parse(mg_slice_cstr(doc), &o, &p, NULL), MG_E_OK);
    return p;
}

static void s_user_call(struct mg_call *c, const char *account, const char *name)
{
    memset(c, 0, sizeof(*c));
    c->env = &s_stub_env;
    c->principal.type = MG_PRINCIPAL_USER;
    snprintf(c->principal.account, sizeof(c->principal.account), "%s", account);
    snprintf(c->principal.arn, sizeof(c->principal.arn), "arn:aws:iam::%s:user/%s", account, name);
    snprintf(c->principal.user_id, sizeof(c->principal.user_id), "AIDA%s", name);
    snprintf(c->principal.name, sizeof(c->principal.name), "%s", name);
    snprintf(c->principal.access_key_id, sizeof(c->principal.access_key_id), "AKIA%s", name);
}

static const char s_gw_b[] = "arn:aws:bedrock-agentcore:us-east-1:444455556666:gateway/gw-2";

static void test_authz_memo_same_answers(void **state)
{
    (void)state;
    struct mg_policy *allow_all = s_policy(
        MG_POLICY_KIND_IDENTITY,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\"}]}");
    struct mg_policy *deny_get =
        s_policy(MG_POLICY_KIND_IDENTITY,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                 "\"Action\":\"bedrock-agentcore:GetGateway\",\"Resource\":\"*\"}]}");
    struct mg_policy *allow_from_ip = s_policy(
        MG_POLICY_KIND_IDENTITY,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/24\"},"
        "\"Bool\":{\"aws:SecureTransport\":\"true\"}}}]}");
    struct mg_policy *allow_until_past = s_policy(
        MG_POLICY_KIND_IDENTITY,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":"
        "\"2020-01-01T00:00:00Z\"}}}]}");
    struct mg_policy *deny_prod = s_resource_policy(
        "{\"StringEquals\":{\"aws:ResourceTag/env\":\"prod\"}}");
    struct mg_policy *deny_user_b = s_resource_policy(
        "{\"StringEquals\":{\"aws:PrincipalArn\":\"arn:aws:iam::111122223333:user/b\"}}");
    struct mg_policy *cross =
        s_policy(MG_POLICY_KIND_RESOURCE,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{"
                 "\"AWS\":\"arn:aws:iam::111122223333:user/a\"},\"Action\":\"bedrock-agentcore:*\","
                 "\"Resource\":\"*\"}]}");
    json_t *prod = s_tag_object(2, "env", "prod"), *dev = s_tag_object(2, "env", "dev");

    const struct mg_policy *identity_sets[][2] = {
        {allow_all, NULL},        {allow_all, deny_get}, {allow_from_ip, NULL},
        {allow_until_past, NULL}, {NULL, NULL},
    };
    const struct mg_policy *resource_policies[] = {NULL, deny_prod, deny_user_b, cross};
    const json_t *tag_sets[] = {NULL, prod, dev};
    const char *arns[] = {s_gw, s_gw_b, "*"};
    const char *actions[] = {"bedrock-agentcore:GetGateway", "bedrock-agentcore:ListGateways"};
    const char *users[] = {"a", "b"};
    const char *ips[] = {"10.0.0.7", "192.0.2.1"};

    struct mg_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    snap.generation = 7;
    struct mg_http_req req;
    memset(&req, 0, sizeof(req));
    size_t allowed = 0, denied = 0, cases = 0;
    /* every combination, twice over: the second round finds the first round's decisions */
    const size_t n_is = sizeof(identity_sets) / sizeof(identity_sets[0]);
    const size_t per_round = n_is * 4 * 3 * 3 * 2 * 3 * 4;
    for (size_t n = 0; n < 2 * per_round; n++) {
        size_t x = n % per_round;
        size_t ip = x % 4, u = x / 4 % 3, ac = x / 12 % 2, a = x / 24 % 3, t = x / 72 % 3,
               rp = x / 216 % 4, is = x / 864;
        /* identity policies are the snapshot's: other policies, another snapshot */
        snap.generation = 100 + is;
        s_id_policies[0] = identity_sets[is][0];
        s_id_policies[1] = identity_sets[is][1];
        s_n_id_policies = identity_sets[is][1] ? 2 : identity_sets[is][0] ? 1 : 0;
        struct mg_call c;
        if (u < 2) {
            s_user_call(&c, "111122223333", users[u]);
        } else {
            s_root_call(&c);
            c.env = &s_stub_env;
        }
        snprintf(req.remote_ip, sizeof(req.remote_ip), "%s", ips[ip % 2]);
        req.secure = ip >= 2;
        c.req = &req;
        c.snap = &snap;
        struct mg_authz_resource res = {.arn = arns[a],
                                        .account = a == 2 ? c.principal.account : NULL,
                                        .policy = resource_policies[rp],
                                        .tags = tag_sets[t]};
        struct mg_policy_explain ex;
        enum mg_policy_decision want = mg_authz_decide(&c, actions[ac], &res, NULL, &ex, NULL, 0);
        for (int k = 0; k < 2; k++)
            assert_int_equal(mg_authz_decide_cached(&c, actions[ac], &res, &ex, NULL, 0), want);
        cases++;
        if (want == MG_POLICY_ALLOW)
            allowed++;
        else
            denied++;
    }
    /* the matrix decides both ways, and the memory was used */
    assert_true(allowed > cases / 8);
    assert_true(denied > cases / 8);
    assert_true(mg_authz_memo_stats().hits > 0);

    json_decref(prod);
    json_decref(dev);
    mg_policy_unref(allow_all);
    mg_policy_unref(deny_get);
    mg_policy_unref(allow_from_ip);
    mg_policy_unref(allow_until_past);
    mg_policy_unref(deny_prod);
    mg_policy_unref(deny_user_b);
    mg_policy_unref(cross);
    mg_authz_thread_cleanup();
}

/* An allow holds for its snapshot only; denials and principals with inputs of their own are never
 * remembered. */
static void test_authz_memo_snapshot_and_exclusions(void **state)
{
    (void)state;
    struct mg_policy *allow_all = s_policy(
        MG_POLICY_KIND_IDENTITY,
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\"}]}");
    struct mg_policy *deny_all =
        s_policy(MG_POLICY_KIND_IDENTITY,
                 "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\","
                 "\"Resource\":\"*\"}]}");
    struct mg_snapshot snap;
    memset(&snap, 0, sizeof(snap));
    snap.generation = 1;
    struct mg_http_req req;
    memset(&req, 0, sizeof(req));
    snprintf(req.remote_ip, sizeof(req.remote_ip), "127.0.0.1");
    struct mg_call c;
    s_user_call(&c, "111122223333", "a");
    c.req = &req;
    c.snap = &snap;
    struct mg_authz_resource res = {.arn = s_gw};
    struct mg_policy_explain ex;
    const char *act = "bedrock-agentcore:GetGateway";

    s_id_policies[0] = allow_all;
    s_n_id_policies = 1;
    /* allowed, and then remembered: no policy lookup (a second boundary may cost one more) */
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    size_t lookups = s_policy_lookups;
    uint64_t hits = mg_authz_memo_stats().hits;
    for (int i = 0; i < 3; i++)
        assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    assert_true(mg_authz_memo_stats().hits >= hits + 2);
    assert_true(s_policy_lookups <= lookups + 1);

    /* the same snapshot still answers from memory (the policies are the snapshot's: they cannot
     * change under it); a new snapshot decides again and sees the deny */
    s_id_policies[0] = deny_all;
    snap.generation = 2;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_EXPLICIT_DENY);
    assert_ptr_equal(ex.deny.policy, deny_all);
    /* a denial is never remembered: evaluated each time */
    lookups = s_policy_lookups;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_EXPLICIT_DENY);
    assert_int_equal(s_policy_lookups, lookups + 1);
    /* back to allow on generation 3; another principal, ip or action is its own decision */
    s_id_policies[0] = allow_all;
    snap.generation = 3;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    s_id_policies[0] = deny_all; /* what a new decision would see */
    struct mg_call other;
    s_user_call(&other, "111122223333", "b");
    other.req = &req;
    other.snap = &snap;
    assert_int_equal(mg_authz_decide_cached(&other, act, &res, &ex, NULL, 0),
                     MG_POLICY_EXPLICIT_DENY);
    assert_int_equal(mg_authz_decide_cached(&c, "bedrock-agentcore:DeleteGateway", &res, &ex, NULL,
                                            0),
                     MG_POLICY_EXPLICIT_DENY);
    snprintf(req.remote_ip, sizeof(req.remote_ip), "127.0.0.2");
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_EXPLICIT_DENY);

    /* session policies or tags: decided every time */
    s_id_policies[0] = allow_all;
    struct mg_authz_memo_stats before = mg_authz_memo_stats();
    c.principal.session_tags = json_object();
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    json_decref(c.principal.session_tags);
    c.principal.session_tags = NULL;
    c.principal.session_policies[0] = deny_all;
    c.principal.n_session_policies = 1;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_EXPLICIT_DENY);
    c.principal.n_session_policies = 0;
    /* nor without a snapshot or a request */
    c.snap = NULL;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    c.snap = &snap;
    c.req = NULL;
    assert_int_equal(mg_authz_decide_cached(&c, act, &res, &ex, NULL, 0), MG_POLICY_ALLOW);
    struct mg_authz_memo_stats after = mg_authz_memo_stats();
    assert_true(after.hits == before.hits && after.misses == before.misses);

    mg_policy_unref(allow_all);
    mg_policy_unref(deny_all);
    mg_authz_thread_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authz_principal_tags_at_the_maximum),
        cmocka_unit_test(test_authz_principal_tags_over_the_maximum),
        cmocka_unit_test(test_authz_resource_tags_at_and_over_the_maximum),
        cmocka_unit_test(test_authz_request_tags_at_the_maximum),
        cmocka_unit_test(test_authz_extra_overflow_denies),
        cmocka_unit_test(test_authz_memo_same_answers),
        cmocka_unit_test(test_authz_memo_snapshot_and_exclusions),
    };
    mg_torture_release = mg_authz_thread_cleanup;
    return MG_RUN_TESTS(tests);
}
