#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"
#include "unit/leaks.h"

#define A1 "111122223333"
#define A2 "444455556666"
#define GW "arn:aws:bedrock-agentcore:us-east-1:" A1 ":gateway/gw-abcdefghij"
#define ACT "bedrock-agentcore:InvokeGateway"
#define SESS "arn:aws:sts::" A1 ":assumed-role/AgentRole/s1"
#define ROLE "arn:aws:iam::" A1 ":role/AgentRole"

/* ---- helpers ------------------------------------------------------------------------------ */

static struct mg_policy *s_parse_kind(const char *doc, enum mg_policy_kind kind)
{
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    struct mg_policy_parse_opts o = {.kind = kind, .label = "test"};
    enum mg_err e = mg_policy_parse(mg_slice_cstr(doc), &o, &p, &ei);
    if (e != MG_E_OK)
        fail_msg("parse failed: %s for %s", ei.msg, doc);
    return p;
}

static struct mg_policy *s_parse(const char *doc)
{
    return s_parse_kind(doc, MG_POLICY_KIND_IDENTITY);
}

static struct mg_policy_request s_req(void)
{
    struct mg_policy_request r = {0};
    r.principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE;
    r.principal_arn = MG_SLICE_LIT(SESS);
    r.principal_account = MG_SLICE_LIT(A1);
    r.role_arn = MG_SLICE_LIT(ROLE);
    r.action = MG_SLICE_LIT(ACT);
    r.resource = MG_SLICE_LIT(GW);
    r.resource_account = MG_SLICE_LIT(A1);
    return r;
}

static enum mg_policy_decision s_eval1(const struct mg_policy *p, const struct mg_policy_request *r)
{
    struct mg_policy_set set = {.identity = &p, .n_identity = 1};
    return mg_policy_evaluate(&set, r, NULL);
}

/* Evaluates one identity policy with one condition block against one context key/value. */
static enum mg_policy_decision s_cond(const char *cond, const char *key, const char *value)
{
    char doc[1024];
    snprintf(doc, sizeof(doc),
             "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
             "\"Resource\":\"*\",\"Condition\":%s}}",
             cond);
    struct mg_policy *p = s_parse(doc);
    struct mg_policy_request r = s_req();
    struct mg_policy_ctx_entry e = {.key = mg_slice_cstr(key ? key : ""),
                                    .value = mg_slice_cstr(value ? value : "")};
    if (key) {
        r.context = &e;
        r.n_context = 1;
    }
    enum mg_policy_decision d = s_eval1(p, &r);
    mg_policy_unref(p);
    return d;
}

/* ---- matching ----------------------------------------------------------------------------- */

static bool s_glob(const char *pat, const char *s, bool ic)
{
    return mg_policy_glob(pat, strlen(pat), (const uint8_t *)s, strlen(s), ic);
}

static bool s_arn(const char *pat, const char *arn)
{
    return mg_policy_arn_match(pat, strlen(pat), mg_slice_cstr(arn));
}

static void test_policy_glob(void **state)
{
    (void)state;
    assert_true(s_glob("*", "", false));
    assert_true(s_glob("a*c", "abbbc", false));
    assert_true(s_glob("a?c", "abc", false));
    assert_false(s_glob("a?c", "ac", false));
    assert_true(s_glob("*a*b*c*", "xxaxxbxxcxx", false));
    assert_false(s_glob("*a*b*c*", "xxaxxcxxbxx", false));
    assert_true(s_glob("S3:Get*", "s3:getobject", true));
    assert_false(s_glob("S3:Get*", "s3:getobject", false));
    assert_true(s_glob("a\x01*", "a*", false));
    assert_false(s_glob("a\x01*", "ab", false));
    /* pathological backtracking stays fast */
    char pat[200], subj[4000];
    memset(pat, 0, sizeof(pat));
    memset(subj, 'a', sizeof(subj) - 1);
    subj[sizeof(subj) - 1] = 0;
    for (int i = 0; i < 50; i++) {
        pat[2 * i] = '*';
        pat[2 * i + 1] = 'a';
    }
    pat[100] = 'b';
    assert_false(s_glob(pat, subj, false));
}

static void test_policy_arn_match(void **state)
{
    (void)state;
    assert_true(s_arn("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b/c"));
    assert_true(s_arn("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket:with:colons"));
    assert_true(s_arn("arn:aws:iam::*:role/R", "arn:aws:iam::123456789012:role/R"));
    /* a '*' inside one segment cannot swallow the colon into the next segment */
    assert_false(s_arn("arn:aws:bedrock-agentcore:us-*:gateway/x:y:z",
                       "arn:aws:bedrock-agentcore:us-east-1:1111:gateway/x"));
    assert_false(s_arn("arn:aws:iam::1*:role/R", "arn:aws:iam::2:role/1:role/R"));
    assert_true(s_arn("*", "anything"));
    assert_false(s_arn("arn:aws:iam::1:role/R", "arn:aws:iam::1:role/r"));
}

static void test_policy_expand_variables(void **state)
{
    (void)state;
    struct mg_policy_request r = s_req();
    struct mg_policy_ctx_entry ctx[] = {
        {.key = MG_SLICE_LIT("aws:username"), .value = MG_SLICE_LIT("al*ce")},
    };
    r.context = ctx;
    r.n_context = 1;
    char out[64];
    struct mg_policy_pat p = {.s = "x/${AWS:USERNAME}/${*}${?}${$}", .len = 30};
    long n = mg_policy_expand(&p, &r, false, out, sizeof(out));
    assert_int_equal(n, 11);
    assert_memory_equal(out, "x/al*ce/*?$", 11);
    n = mg_policy_expand(&p, &r, true, out, sizeof(out));
    assert_int_equal(n, 14); /* escapes before the three wildcard characters */
    struct mg_policy_pat q = {.s = "${aws:PrincipalTag/t, 'dflt'}", .len = 29};
    n = mg_policy_expand(&q, &r, false, out, sizeof(out));
    assert_int_equal(n, 4);
    assert_memory_equal(out, "dflt", 4);
    struct mg_policy_pat m = {.s = "${aws:PrincipalTag/t}", .len = 21};
    assert_int_equal(mg_policy_expand(&m, &r, false, out, sizeof(out)), -1);
    assert_int_equal(mg_policy_expand(&p, &r, false, out, 5), -2);
}

/* ---- parse errors: IAM's MalformedPolicyDocument wording ------------------------------------ */

struct s_err_case {
    enum mg_policy_kind kind;
    const char *doc;
    const char *want; /* substring of ei.msg */
};

#define ID MG_POLICY_KIND_IDENTITY
#define RS MG_POLICY_KIND_RESOURCE
#define TR MG_POLICY_KIND_TRUST
#define ST(x) "{\"Version\":\"2012-10-17\",\"Statement\":[" x "]}"
#define OK_ST "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}"

static const struct s_err_case s_err_cases[] = {
    {ID, "{", "Syntax errors in policy."},
    {ID, "[]", "Syntax errors in policy."},
    /* JSON errors: AWS's message, then the line, column and jansson's reason */
    {ID, "{\"Version\":\"2012-10-17\"",
     "Syntax errors in policy. (line 1, column 23: '}' expected near end of file)"},
    {ID, "{\"Version\":\"2012-10-17\",\n \"Statement\": x}",
     "Syntax errors in policy. (line 2, column 15: invalid token near 'x')"},
    {RS, "{\"a\":\"\x01\"}",
     "Syntax errors in policy. (line 1, column 6: control character 0x1 near '\"')"},
    {ID, "", "Syntax errors in policy. (the document is empty)"},
    {ID, "{\"Version\":\"2012-10-17\"}", "Missing required field Statement"},
    {ID, "{\"Version\":\"2012-10-18\",\"Statement\":" OK_ST "}",
     "The policy failed legacy parsing"},
    {ID, "{\"Version\":\"2012-10-17\",\"Statement\":" OK_ST ",\"Extra\":1}", "Unknown field Extra"},
    {ID, "{\"Version\":\"2012-10-17\",\"Version\":\"2012-10-17\",\"Statement\":" OK_ST "}",
     "Syntax errors in policy."},
    {ID, ST("{\"Effect\":\"Allow\",\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Syntax errors in policy."},
    {ID, ST("{\"Action\":\"s3:*\",\"Resource\":\"*\"}"), "Missing required field Effect"},
    {ID, ST("{\"Effect\":\"allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Invalid effect: allow"},
    {ID, ST("{\"Effect\":\"Allow\",\"Resource\":\"*\"}"), "Policy statement must contain actions."},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}"),
     "Policy statement must contain resources."},
    {ID, ST("{\"Sid\":\"S1\",\"Effect\":\"Allow\",\"Action\":\"s3:*\"}"),
     "Policy statement must contain resources. (statement \"S1\")"},
    {ID,
     ST(OK_ST ","
              "{\"Effect\":\"Allow\",\"Action\":\"s3:*\"}"),
     "(statement #1)"},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3\",\"Resource\":\"*\"}"),
     "Actions/Conditions must be prefaced by a vendor"},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:a:b\",\"Resource\":\"*\"}"),
     "Actions/Condition can contain only one colon."},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"NotAction\":\"s3:x\",\"Resource\":\"*\"}"),
     "Syntax errors in policy."},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"bucket\"}"),
     "Resource bucket must be in ARN format or \"*\"."},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:*::::x\"}"),
     "Resource vendor must be fully qualified and cannot contain regexes."},
    {ID, ST("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Policy document should not specify a principal."},
    {ID, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Foo\":1}"),
     "Unknown field Foo"},
    {ID, ST("{\"Sid\":\"a-b\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Statement IDs (SID) must be alpha-numeric."},
    {ID,
     ST("{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
        "{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Statement IDs (SID) in a single policy must be unique."},
    {ID,
     ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":"
        "{\"StringEqualz\":{\"aws:x\":\"1\"}}}"),
     "Invalid Condition type : StringEqualz"},
    {ID,
     ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":"
        "{\"NumericLessThan\":{\"s3:max-keys\":\"ten\"}}}"),
     "Invalid value for condition operator NumericLessThan"},
    {ID,
     ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":"
        "{\"IpAddress\":{\"aws:SourceIp\":\"300.1.1.1/8\"}}}"),
     "Invalid value for condition operator IpAddress"},
    {ID,
     ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\",\"Condition\":"
        "{\"NullIfExists\":{\"aws:x\":\"true\"}}}"),
     "Invalid Condition type : NullIfExists"},
    {RS, ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Missing required field Principal"},
    {RS,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::1234:root\"},"
        "\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Invalid principal in policy: \"AWS\":\"arn:aws:iam::1234:root\""},
    {RS,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:role/A*\"},"
        "\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Invalid principal in policy"},
    {RS,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:sts::111122223333:assumed-role/"
        "R\"},"
        "\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Invalid principal in policy"},
    {RS,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"Users\":\"x\"},\"Action\":\"s3:*\",\"Resource\":\"*"
        "\"}"),
     "Invalid principal in policy: \"Users\":\"x\""},
    {RS, ST("{\"Effect\":\"Allow\",\"Principal\":\"me\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"),
     "Invalid principal in policy"},
    {TR,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},"
        "\"Action\":\"s3:GetObject\"}"),
     "AssumeRole policy may only specify STS AssumeRole actions."},
    {TR,
     ST("{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},"
        "\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\"}"),
     "Has prohibited field Resource"},
    {TR, ST("{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\"}"),
     "Missing required field Principal"},
};

static void test_policy_parse_errors(void **state)
{
    (void)state;
    long live = mg_alloc_live();
    for (size_t i = 0; i < sizeof(s_err_cases) / sizeof(s_err_cases[0]); i++) {
        const struct s_err_case *c = &s_err_cases[i];
        struct mg_policy *p = (struct mg_policy *)1;
        struct mg_errinfo ei = {0};
        struct mg_policy_parse_opts o = {.kind = c->kind};
        enum mg_err e = mg_policy_parse(mg_slice_cstr(c->doc), &o, &p, &ei);
        if (e != MG_E_PARSE || strstr(ei.msg, c->want) == NULL)
            fail_msg("case %zu: err %d msg '%s', want '%s'", i, (int)e, ei.msg, c->want);
        assert_null(p);
    }
    assert_int_equal(mg_alloc_live(), live);
}

/* IAM accepts condition keys with colons after the vendor prefix (AWS's own managed policies
 * use kms:EncryptionContext:aws:... keys); actions keep their single colon. */
static void test_policy_condition_key_colons(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":"
        "\"kms:Decrypt\",\"Resource\":\"*\",\"Condition\":{\"StringLike\":"
        "{\"kms:EncryptionContext:aws:bedrock-agentcore-gateway:arn\":\"arn:aws:*\"}}}]}";
    struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY};
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_policy_parse(MG_SLICE_LIT(doc), &o, &p, &ei), MG_E_OK);
    mg_policy_unref(p);
}

static void test_policy_size_limits(void **state)
{
    (void)state;
    /* whitespace does not count */
    char doc[16384];
    int n = snprintf(doc, sizeof(doc),
                     "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\","
                     "\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}");
    memset(doc + n, ' ', 9000);
    doc[n + 9000] = 0;
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY, .max_chars = 2048};
    assert_int_equal(mg_policy_parse(mg_slice_cstr(doc), &o, &p, &ei), MG_E_OK);
    mg_policy_unref(p);
    o.max_chars = 50;
    assert_int_equal(mg_policy_parse(mg_slice_cstr(doc), &o, &p, &ei), MG_E_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "PolicySize: 50"));
    o.kind = MG_POLICY_KIND_TRUST;
    o.max_chars = 0;
    char big[4000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(mg_policy_parse(mg_slice_cstr(big), &o, &p, &ei), MG_E_TOO_LARGE);
    assert_non_null(strstr(ei.msg, "ACLSizePerRole: 2048"));
    assert_int_equal(mg_policy_default_limit(MG_POLICY_KIND_RESOURCE), 20480);
    assert_int_equal(mg_policy_count_chars(MG_SLICE_LIT(" a\tb\n\xc3\xa9 ")), 3);
}

static void test_policy_valid_forms(void **state)
{
    (void)state;
    struct mg_policy *p = s_parse_kind(
        "{\"Id\":\"x\",\"Statement\":[{\"Sid\":\"One\",\"Effect\":\"Allow\",\"Principal\":"
        "{\"AWS\":[\"111122223333\",\"arn:aws:iam::111122223333:user/a/b\","
        "\"arn:aws:sts::111122223333:assumed-role/R/s\",\"arn:aws:sts::111122223333:federated-user/"
        "f\"],"
        "\"Service\":\"lambda.amazonaws.com\",\"Federated\":\"accounts.google.com\","
        "\"CanonicalUser\":\"abc\"},\"Action\":[\"s3:*\"],\"Condition\":{\"Bool\":{\"aws:x\":true},"
        "\"NumericLessThan\":{\"s3:n\":5}}},{\"Effect\":\"Deny\",\"Principal\":\"*\",\"NotAction\":"
        "\"s3:Get*\",\"NotResource\":\"arn:aws:s3:::b/*\"}]}",
        MG_POLICY_KIND_RESOURCE);
    assert_int_equal(mg_policy_statement_count(p), 2);
    assert_string_equal(mg_policy_statement_sid(p, 0), "One");
    assert_null(mg_policy_statement_sid(p, 1));
    char name[16];
    mg_policy_statement_name(p, 1, name, sizeof(name));
    assert_string_equal(name, "#1");
    assert_string_equal(mg_policy_label(p), "test");
    assert_int_equal(mg_policy_kind_of(p), MG_POLICY_KIND_RESOURCE);
    mg_policy_unref(p);
}

static void s_count_warn(void *user, const char *msg)
{
    (void)msg;
    (*(int *)user)++;
}

static void test_policy_lint(void **state)
{
    (void)state;
    struct mg_policy *p = s_parse_kind(
        ST("{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotAction\":\"s3:x\",\"NotResource\":"
           "\"arn:aws:s3:::b\"},{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:x\","
           "\"Resource\":\"*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"true\"}}}"),
        MG_POLICY_KIND_RESOURCE);
    int n = 0;
    mg_policy_lint(p, s_count_warn, &n);
    assert_int_equal(n, 3);
    mg_policy_unref(p);
}

/* ---- operators through the C API ---------------------------------------------------------- */

static void test_policy_operators(void **state)
{
    (void)state;
    enum mg_policy_decision A = MG_POLICY_ALLOW, N = MG_POLICY_IMPLICIT_DENY;
    assert_int_equal(s_cond("{\"StringEquals\":{\"aws:k\":\"v\"}}", "AWS:K", "v"), A);
    assert_int_equal(s_cond("{\"StringEquals\":{\"aws:k\":\"v\"}}", "aws:k", "V"), N);
    assert_int_equal(s_cond("{\"StringEquals\":{\"aws:k\":\"v\"}}", NULL, NULL), N);
    assert_int_equal(s_cond("{\"StringNotEquals\":{\"aws:k\":\"v\"}}", NULL, NULL), A);
    assert_int_equal(s_cond("{\"StringNotEquals\":{\"aws:k\":\"v\"}}", "aws:k", "v"), N);
    assert_int_equal(s_cond("{\"StringEqualsIgnoreCase\":{\"aws:k\":\"v\"}}", "aws:k", "V"), A);
    assert_int_equal(s_cond("{\"StringNotEqualsIgnoreCase\":{\"aws:k\":\"v\"}}", "aws:k", "V"), N);
    assert_int_equal(s_cond("{\"StringLike\":{\"aws:k\":\"a*z\"}}", "aws:k", "abcz"), A);
    assert_int_equal(s_cond("{\"StringNotLike\":{\"aws:k\":\"a*z\"}}", "aws:k", "abcz"), N);
    assert_int_equal(s_cond("{\"NumericEquals\":{\"aws:k\":\"1.5\"}}", "aws:k", "1.50"), A);
    assert_int_equal(s_cond("{\"NumericNotEquals\":{\"aws:k\":\"1\"}}", "aws:k", "2"), A);
    assert_int_equal(s_cond("{\"NumericLessThan\":{\"aws:k\":\"1\"}}", "aws:k", "0"), A);
    assert_int_equal(s_cond("{\"NumericLessThanEquals\":{\"aws:k\":\"1\"}}", "aws:k", "1"), A);
    assert_int_equal(s_cond("{\"NumericGreaterThan\":{\"aws:k\":\"1\"}}", "aws:k", "1"), N);
    assert_int_equal(s_cond("{\"NumericGreaterThanEquals\":{\"aws:k\":\"1\"}}", "aws:k", "1"), A);
    assert_int_equal(s_cond("{\"NumericLessThan\":{\"aws:k\":\"1\"}}", "aws:k", "abc"), N);
    assert_int_equal(s_cond("{\"DateEquals\":{\"aws:k\":\"2026-01-01T00:00:00Z\"}}", "aws:k",
                            "1767225600"),
                     A);
    assert_int_equal(s_cond("{\"DateNotEquals\":{\"aws:k\":\"2026-01-01\"}}", "aws:k",
                            "2026-01-01T00:00:00Z"),
                     N);
    assert_int_equal(s_cond("{\"DateLessThan\":{\"aws:k\":\"2026-01-01\"}}", "aws:k", "2025-12-31"),
                     A);
    assert_int_equal(s_cond("{\"DateLessThanEquals\":{\"aws:k\":\"2026-01-01\"}}", "aws:k",
                            "2026-01-01"),
                     A);
    assert_int_equal(s_cond("{\"DateGreaterThan\":{\"aws:k\":\"2026-01-01\"}}", "aws:k",
                            "2025-12-31"),
                     N);
    assert_int_equal(s_cond("{\"DateGreaterThanEquals\":{\"aws:k\":\"2026-01-01\"}}", "aws:k",
                            "2026-01-02"),
                     A);
    assert_int_equal(s_cond("{\"Bool\":{\"aws:k\":\"true\"}}", "aws:k", "TRUE"), A);
    assert_int_equal(s_cond("{\"Bool\":{\"aws:k\":\"true\"}}", "aws:k", "yes"), N);
    assert_int_equal(s_cond("{\"BinaryEquals\":{\"aws:k\":\"AQID\"}}", "aws:k", "AQID"), A);
    assert_int_equal(s_cond("{\"IpAddress\":{\"aws:k\":\"10.0.0.0/8\"}}", "aws:k", "10.1.2.3"), A);
    assert_int_equal(s_cond("{\"IpAddress\":{\"aws:k\":\"10.0.0.0/8\"}}", "aws:k", "not-an-ip"), N);
    assert_int_equal(s_cond("{\"NotIpAddress\":{\"aws:k\":\"10.0.0.0/8\"}}", "aws:k", "11.0.0.1"),
                     A);
    assert_int_equal(s_cond("{\"IpAddress\":{\"aws:k\":\"::/0\"}}", "aws:k", "2001:db8::1"), A);
    assert_int_equal(s_cond("{\"IpAddress\":{\"aws:k\":\"2001:db8::1/128\"}}", "aws:k",
                            "2001:db8::2"),
                     N);
    assert_int_equal(s_cond("{\"ArnEquals\":{\"aws:k\":\"arn:aws:s3:::b\"}}", "aws:k",
                            "arn:aws:s3:::b"),
                     A);
    assert_int_equal(s_cond("{\"ArnLike\":{\"aws:k\":\"arn:aws:s3:::*\"}}", "aws:k",
                            "arn:aws:s3:::b/c"),
                     A);
    assert_int_equal(s_cond("{\"ArnNotEquals\":{\"aws:k\":\"arn:aws:s3:::b\"}}", "aws:k",
                            "arn:aws:s3:::b"),
                     N);
    assert_int_equal(s_cond("{\"ArnNotLike\":{\"aws:k\":\"arn:aws:s3:::*\"}}", NULL, NULL), A);
    assert_int_equal(s_cond("{\"Null\":{\"aws:k\":\"true\"}}", NULL, NULL), A);
    assert_int_equal(s_cond("{\"Null\":{\"aws:k\":\"false\"}}", "aws:k", "x"), A);
    assert_int_equal(s_cond("{\"StringEqualsIfExists\":{\"aws:k\":\"v\"}}", NULL, NULL), A);
    assert_int_equal(s_cond("{\"StringEqualsIfExists\":{\"aws:k\":\"v\"}}", "aws:k", "w"), N);
    assert_int_equal(s_cond("{\"ForAllValues:StringEquals\":{\"aws:k\":\"v\"}}", NULL, NULL), A);
    assert_int_equal(s_cond("{\"ForAnyValue:StringEquals\":{\"aws:k\":\"v\"}}", NULL, NULL), N);
    assert_int_equal(s_cond("{\"ForAnyValue:StringEquals\":{\"aws:k\":\"v\"}}", "aws:k", "v"), A);
}

static void test_policy_multivalued_context(void **state)
{
    (void)state;
    struct mg_policy *p = s_parse(
        ST("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":"
           "{\"ForAllValues:StringLike\":{\"aws:TagKeys\":[\"env\",\"team-*\"]}}}"));
    struct mg_policy_request r = s_req();
    struct mg_slice vals[] = {MG_SLICE_LIT("env"), MG_SLICE_LIT("team-a")};
    struct mg_policy_ctx_entry e = {.key = MG_SLICE_LIT("aws:tagkeys"),
                                    .values = vals,
                                    .n_values = 2};
    r.context = &e;
    r.n_context = 1;
    assert_int_equal(s_eval1(p, &r), MG_POLICY_ALLOW);
    vals[1] = MG_SLICE_LIT("owner");
    assert_int_equal(s_eval1(p, &r), MG_POLICY_IMPLICIT_DENY);
    e.n_values = 0;
    assert_int_equal(s_eval1(p, &r), MG_POLICY_ALLOW);
    mg_policy_unref(p);
}

/* ---- decisions, explanations and messages -------------------------------------------------- */

static void test_policy_messages(void **state)
{
    (void)state;
    struct mg_policy *allow = s_parse(
        ST("{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}"));
    struct mg_policy *deny = s_parse(
        ST("{\"Sid\":\"NoGw\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}"));
    struct mg_policy *s3 = s_parse(
        ST("{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}"));
    struct mg_policy_request r = s_req();
    struct mg_policy_explain ex;
    char msg[512];
    const char *head = "User: " SESS " is not authorized to perform: " ACT " on resource: " GW;

    struct mg_policy_set set = {0};
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_IMPLICIT_DENY);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    char want[600];
    snprintf(want, sizeof(want), "%s because no identity-based policy allows the " ACT " action",
             head);
    assert_string_equal(msg, want);

    const struct mg_policy *ids[] = {allow, deny};
    set.identity = ids;
    set.n_identity = 2;
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_EXPLICIT_DENY);
    assert_ptr_equal(ex.deny.policy, deny);
    assert_int_equal(ex.n_hits, 2);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    snprintf(want, sizeof(want), "%s with an explicit deny in an identity-based policy", head);
    assert_string_equal(msg, want);

    set.n_identity = 1;
    const struct mg_policy *b[] = {s3};
    set.boundary = b;
    set.n_boundary = 1;
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_IMPLICIT_DENY);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    snprintf(want, sizeof(want), "%s because no permissions boundary allows the " ACT " action",
             head);
    assert_string_equal(msg, want);

    set.n_boundary = 0;
    set.session = b;
    set.n_session = 1;
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_IMPLICIT_DENY);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    snprintf(want, sizeof(want), "%s because no session policy allows the " ACT " action", head);
    assert_string_equal(msg, want);

    set.n_session = 0;
    r.resource_account = MG_SLICE_LIT(A2);
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_IMPLICIT_DENY);
    assert_true(ex.cross_account);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    snprintf(want, sizeof(want), "%s because no resource-based policy allows the " ACT " action",
             head);
    assert_string_equal(msg, want);

    struct mg_policy *rdeny = s_parse_kind(
        ST("{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}"),
        MG_POLICY_KIND_RESOURCE);
    set.resource = rdeny;
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_EXPLICIT_DENY);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    snprintf(want, sizeof(want), "%s with an explicit deny in a resource-based policy", head);
    assert_string_equal(msg, want);
    /* truncation is safe and reports the full length */
    size_t need = mg_policy_denied_message(&ex, &r, msg, 10);
    assert_int_equal(need, strlen(want));
    assert_int_equal(strlen(msg), 9);

    mg_policy_unref(allow);
    mg_policy_unref(deny);
    mg_policy_unref(s3);
    mg_policy_unref(rdeny);
}

static void test_policy_evaluate_allocates_nothing(void **state)
{
    (void)state;
    struct mg_policy *p = s_parse(
        ST("{\"Effect\":\"Allow\",\"Action\":\"bedrock-agentcore:*\",\"Resource\":"
           "\"arn:aws:bedrock-agentcore:*:${aws:PrincipalAccount}:gateway/*\",\"Condition\":"
           "{\"StringLike\":{\"aws:userid\":\"${aws:userid}*\"},\"IpAddress\":{\"aws:SourceIp\":"
           "\"10.0.0.0/8\"}}}"));
    struct mg_policy_request r = s_req();
    struct mg_policy_ctx_entry ctx[] = {
        {.key = MG_SLICE_LIT("aws:PrincipalAccount"), .value = MG_SLICE_LIT(A1)},
        {.key = MG_SLICE_LIT("aws:userid"), .value = MG_SLICE_LIT("AROAX:s1")},
        {.key = MG_SLICE_LIT("aws:SourceIp"), .value = MG_SLICE_LIT("10.2.3.4")},
    };
    r.context = ctx;
    r.n_context = 3;
    struct mg_policy_explain ex;
    struct mg_policy_set set = {.identity = (const struct mg_policy *const *)&p, .n_identity = 1};
    mg_alloc_fail_after(1); /* the next allocation fails: if evaluate allocated, it would be its */
    assert_int_equal(mg_policy_evaluate(&set, &r, &ex), MG_POLICY_ALLOW);
    void *probe = mg_malloc(1);
    mg_alloc_fail_after(0);
    assert_null(probe);
    mg_free(probe);
    mg_policy_unref(p);
}

struct s_thread_arg {
    struct mg_policy *p;
    int allowed;
};

static void *s_thread(void *arg)
{
    struct s_thread_arg *a = arg;
    struct mg_policy_request r = s_req();
    for (int i = 0; i < 20000; i++) {
        struct mg_policy *mine = mg_policy_ref(a->p);
        struct mg_policy_set set = {.identity = (const struct mg_policy *const *)&mine,
                                    .n_identity = 1};
        if (mg_policy_evaluate(&set, &r, NULL) == MG_POLICY_ALLOW)
            a->allowed++;
        mg_policy_unref(mine);
    }
    return NULL;
}

static void test_policy_shared_across_threads(void **state)
{
    (void)state;
    long live = mg_alloc_live();
    struct mg_policy *p = s_parse(
        ST("{\"Effect\":\"Allow\",\"Action\":\"bedrock-agentcore:Invoke*\","
           "\"Resource\":\"*\"}"));
    pthread_t t[4];
    struct s_thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct s_thread_arg){p, 0};
        assert_int_equal(pthread_create(&t[i], NULL, s_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].allowed, 20000);
    }
    mg_policy_unref(p);
    assert_int_equal(mg_alloc_live(), live);
}

static void test_policy_parse_oom_no_leak(void **state)
{
    (void)state;
    const char *doc = ST(
        "{\"Sid\":\"A\",\"Effect\":\"Allow\",\"Action\":[\"s3:*\",\"ec2:*\"],"
        "\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"aws:k\":[\"a\",\"b\"]}}}");
    long live = mg_alloc_live();
    bool succeeded = false;
    for (long n = 1; n < 500 && !succeeded; n++) {
        struct mg_policy *p = NULL;
        mg_alloc_fail_after(n);
        struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY};
        enum mg_err e = mg_policy_parse(mg_slice_cstr(doc), &o, &p, NULL);
        mg_alloc_fail_after(0);
        if (e == MG_E_OK) {
            succeeded = true;
            mg_policy_unref(p);
        } else {
            assert_int_equal(e, MG_E_NOMEM);
            assert_null(p);
        }
        assert_int_equal(mg_alloc_live(), live);
    }
    assert_true(succeeded);
}

/* ---- the documented decision vectors ------------------------------------------------------ */

static int s_run_vector_file(const char *path, int *failed)
{
    json_error_t jerr;
    json_t *arr = json_load_file(path, 0, &jerr);
    if (!json_is_array(arr))
        fail_msg("%s: %s", path, jerr.text);
    int n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *expect = json_string_value(json_object_get(c, "expect"));
        const char *reason = json_string_value(json_object_get(c, "expectReason"));
        assert_non_null(name);
        assert_non_null(expect);
        assert_non_null(json_string_value(json_object_get(c, "source")));
        size_t need = json_dumpb(c, NULL, 0, 0);
        char *text = mg_malloc(need);
        assert_non_null(text);
        json_dumpb(c, text, need, 0);
        struct mg_buf out;
        mg_buf_init(&out, 1u << 20);
        enum mg_policy_decision d;
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_policy_simulate_json(mg_slice_make(text, need), &out, &d, &ei);
        mg_free(text);
        if (e != MG_E_OK) {
            printf("FAIL %s: %s\n", name, ei.msg);
            (*failed)++;
        } else {
            json_t *o = json_loadb((const char *)out.ptr, out.len, 0, &jerr);
            const char *got = json_string_value(json_object_get(o, "decision"));
            const char *got_reason = json_string_value(
                json_object_get(json_object_get(o, "explanation"), "reason"));
            if (!got || strcmp(got, expect) != 0 || strcmp(got, mg_policy_decision_str(d)) != 0 ||
                (reason && (!got_reason || strcmp(reason, got_reason) != 0))) {
                printf("FAIL %s: expected %s/%s, got %.*s\n", name, expect, reason ? reason : "-",
                       (int)out.len, (const char *)out.ptr);
                (*failed)++;
            }
            json_decref(o);
        }
        mg_buf_cleanup(&out);
        n++;
    }
    json_decref(arr);
    return n;
}

static void test_policy_vectors(void **state)
{
    (void)state;
    long live = mg_alloc_live();
    DIR *d = opendir("tests/vectors/iam");
    if (!d)
        fail_msg("tests/vectors/iam not found: run from the project root (ctest does)");
    struct dirent *de;
    int total = 0, failed = 0;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "tests/vectors/iam/%s", de->d_name);
        total += s_run_vector_file(path, &failed);
    }
    closedir(d);
    printf("iam vectors: %d cases, %d failed\n", total, failed);
    assert_true(total >= 200);
    assert_int_equal(failed, 0);
    assert_int_equal(mg_alloc_live(), live);
}

static void test_policy_simulate_invalid_input(void **state)
{
    (void)state;
    const char *bad[] = {
        "not json",
        "[]",
        "{}",
        "{\"request\":{\"principal\":\"arn:aws:iam::1:user/a\"}}",
        "{\"identityPolicies\":[{\"Statement\":[]}],\"request\":{\"action\":\"a:b\",\"resource\":"
        "\"*\"}}",
        "{\"identityPolicies\":[5],\"request\":{\"action\":\"a:b\",\"resource\":\"*\"}}",
        "{\"request\":{\"action\":\"a:b\",\"resource\":\"*\",\"context\":{\"k\":{}}}}",
        /* sts:AssumeRole on a role without the role's trust policy */
        "{\"identityPolicies\":[{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\","
        "\"Resource\":\"*\"}}],\"request\":{\"principal\":\"arn:aws:iam::111122223333:user/a\","
        "\"action\":\"sts:AssumeRole\",\"resource\":\"arn:aws:iam::111122223333:role/R\"}}",
        /* aws:PrincipalArn that is not the session's role */
        "{\"request\":{\"principal\":\"arn:aws:sts::111122223333:assumed-role/R/s\","
        "\"action\":\"a:b\",\"resource\":\"*\",\"context\":{\"aws:PrincipalArn\":"
        "\"arn:aws:iam::111122223333:role/p/OtherR\"}}}",
        "{\"request\":{\"principal\":\"arn:aws:sts::111122223333:assumed-role/R/s\","
        "\"action\":\"a:b\",\"resource\":\"*\",\"context\":{\"aws:PrincipalArn\":"
        "\"arn:aws:iam::444455556666:role/p/R\"}}}",
    };
    long live = mg_alloc_live();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mg_buf out;
        mg_buf_init(&out, 4096);
        struct mg_errinfo ei = {0};
        enum mg_policy_decision d = MG_POLICY_ALLOW;
        enum mg_err e = mg_policy_simulate_json(mg_slice_cstr(bad[i]), &out, &d, &ei);
        assert_int_not_equal(e, MG_E_OK);
        assert_int_equal(d, MG_POLICY_IMPLICIT_DENY);
        assert_true(ei.msg[0] != 0);
        mg_buf_cleanup(&out);
    }
    assert_int_equal(mg_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_glob),
        cmocka_unit_test(test_policy_arn_match),
        cmocka_unit_test(test_policy_expand_variables),
        cmocka_unit_test(test_policy_parse_errors),
        cmocka_unit_test(test_policy_condition_key_colons),
        cmocka_unit_test(test_policy_size_limits),
        cmocka_unit_test(test_policy_valid_forms),
        cmocka_unit_test(test_policy_lint),
        cmocka_unit_test(test_policy_operators),
        cmocka_unit_test(test_policy_multivalued_context),
        cmocka_unit_test(test_policy_messages),
        cmocka_unit_test(test_policy_evaluate_allocates_nothing),
        cmocka_unit_test(test_policy_shared_across_threads),
        cmocka_unit_test(test_policy_parse_oom_no_leak),
        cmocka_unit_test(test_policy_vectors),
        cmocka_unit_test(test_policy_simulate_invalid_input),
    };
    return MG_RUN_TESTS(tests);
}
