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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authz_principal_tags_at_the_maximum),
        cmocka_unit_test(test_authz_principal_tags_over_the_maximum),
        cmocka_unit_test(test_authz_resource_tags_at_and_over_the_maximum),
        cmocka_unit_test(test_authz_request_tags_at_the_maximum),
        cmocka_unit_test(test_authz_extra_overflow_denies),
    };
    return MG_RUN_TESTS(tests);
}
