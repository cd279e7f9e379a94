/* bench/bench_policy.c: IAM decisions per second for a typical role (ten statements, some with
 * wildcards, conditions and variables), next to a baseline measured in the same run: a plain
 * case-insensitive string comparison of the request action against every action string of the
 * same policy. Budget: under 2 microseconds per decision. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "policy/policy.h"

static const char *s_role_policy =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Sid\":\"Logs\",\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogGroup\",\"logs:"
    "CreateLogStream\","
    "\"logs:PutLogEvents\"],\"Resource\":\"arn:aws:logs:*:111122223333:log-group:/aws/"
    "bedrock-agentcore/*\"},"
    "{\"Sid\":\"Lambda\",\"Effect\":\"Allow\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":"
    "\"arn:aws:lambda:us-east-1:111122223333:function:tool-*\"},"
    "{\"Sid\":\"S3Read\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:ListBucket\"],"
    "\"Resource\":"
    "[\"arn:aws:s3:::agent-artifacts\",\"arn:aws:s3:::agent-artifacts/*\"]},"
    "{\"Sid\":\"Secrets\",\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\","
    "\"Resource\":"
    "\"arn:aws:secretsmanager:us-east-1:111122223333:secret:agent/${aws:PrincipalTag/team}/*\"},"
    "{\"Sid\":\"Control\",\"Effect\":\"Allow\",\"Action\":[\"bedrock-agentcore:Get*\",\"bedrock-"
    "agentcore:List*\"],"
    "\"Resource\":\"*\"},"
    "{\"Sid\":\"Invoke\",\"Effect\":\"Allow\",\"Action\":\"bedrock-agentcore:InvokeGateway\","
    "\"Resource\":"
    "\"arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/*\",\"Condition\":{\"IpAddress\":"
    "{\"aws:SourceIp\":[\"203.0.113.0/24\",\"2001:db8::/"
    "32\"]},\"Bool\":{\"aws:SecureTransport\":\"true\"}}},"
    "{\"Sid\":\"Tagged\",\"Effect\":\"Allow\",\"Action\":\"bedrock-agentcore:*\",\"Resource\":\"*"
    "\","
    "\"Condition\":{\"StringEquals\":{\"aws:ResourceTag/team\":\"${aws:PrincipalTag/team}\"}}},"
    "{\"Sid\":\"DenyOutsideHours\",\"Effect\":\"Deny\",\"Action\":\"bedrock-agentcore:*\","
    "\"Resource\":\"*\","
    "\"Condition\":{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}},"
    "{\"Sid\":\"DenyOtherRegions\",\"Effect\":\"Deny\",\"NotAction\":[\"iam:*\",\"sts:*\"],"
    "\"Resource\":\"*\","
    "\"Condition\":{\"StringNotEquals\":{\"aws:RequestedRegion\":[\"us-east-1\",\"us-west-2\"]}}},"
    "{\"Sid\":\"DenyDelete\",\"Effect\":\"Deny\",\"Action\":[\"bedrock-agentcore:Delete*\",\"s3:"
    "Delete*\"],"
    "\"Resource\":\"*\"}]}";

/* the action strings of the policy above, for the baseline */
static const char *s_actions[] = {
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "lambda:InvokeFunction",
    "s3:GetObject",
    "s3:ListBucket",
    "secretsmanager:GetSecretValue",
    "bedrock-agentcore:Get*",
    "bedrock-agentcore:List*",
    "bedrock-agentcore:InvokeGateway",
    "bedrock-agentcore:*",
    "bedrock-agentcore:*",
    "iam:*",
    "sts:*",
    "bedrock-agentcore:Delete*",
    "s3:Delete*",
};

int main(int argc, char **argv)
{
    uint64_t n_arg = 1000000;
    if (argc > 1 && (!mg_slice_to_u64(mg_slice_cstr(argv[1]), &n_arg) || n_arg == 0)) {
        fprintf(stderr, "usage: bench_policy [iterations]\n");
        return 2;
    }
    long iters = (long)n_arg;
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY,
                                     .label = "AgentRolePolicy",
                                     .max_chars = MG_POLICY_LIMIT_ROLE_INLINE};
    if (mg_policy_parse(mg_slice_cstr(s_role_policy), &o, &p, &ei) != MG_E_OK) {
        fprintf(stderr, "parse: %s\n", ei.msg);
        return 1;
    }
    struct mg_policy_ctx_entry ctx[] = {
        {.key = MG_SLICE_LIT("aws:PrincipalArn"),
         .value = MG_SLICE_LIT("arn:aws:iam::111122223333:role/AgentRole")},
        {.key = MG_SLICE_LIT("aws:PrincipalAccount"), .value = MG_SLICE_LIT("111122223333")},
        {.key = MG_SLICE_LIT("aws:PrincipalType"), .value = MG_SLICE_LIT("AssumedRole")},
        {.key = MG_SLICE_LIT("aws:userid"), .value = MG_SLICE_LIT("AROAEXAMPLEID:s1")},
        {.key = MG_SLICE_LIT("aws:PrincipalTag/team"), .value = MG_SLICE_LIT("blue")},
        {.key = MG_SLICE_LIT("aws:ResourceTag/team"), .value = MG_SLICE_LIT("red")},
        {.key = MG_SLICE_LIT("aws:SourceIp"), .value = MG_SLICE_LIT("203.0.113.7")},
        {.key = MG_SLICE_LIT("aws:SecureTransport"), .value = MG_SLICE_LIT("true")},
        {.key = MG_SLICE_LIT("aws:CurrentTime"), .value = MG_SLICE_LIT("2026-11-27T12:00:00Z")},
        {.key = MG_SLICE_LIT("aws:EpochTime"), .value = MG_SLICE_LIT("1795780800")},
        {.key = MG_SLICE_LIT("aws:RequestedRegion"), .value = MG_SLICE_LIT("us-east-1")},
        {.key = MG_SLICE_LIT("aws:ResourceAccount"), .value = MG_SLICE_LIT("111122223333")},
    };
    struct mg_policy_request r = {
        .principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE,
        .principal_arn = MG_SLICE_LIT("arn:aws:sts::111122223333:assumed-role/AgentRole/s1"),
        .principal_account = MG_SLICE_LIT("111122223333"),
        .role_arn = MG_SLICE_LIT("arn:aws:iam::111122223333:role/AgentRole"),
        .action = MG_SLICE_LIT("bedrock-agentcore:InvokeGateway"),
        .resource = MG_SLICE_LIT(
            "arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/gw-abcdefghij"),
        .resource_account = MG_SLICE_LIT("111122223333"),
        .context = ctx,
        .n_context = sizeof(ctx) / sizeof(ctx[0]),
    };
    const struct mg_policy *ids[] = {p};
    struct mg_policy_set set = {.identity = ids, .n_identity = 1};
    struct mg_policy_explain ex;
    if (mg_policy_evaluate(&set, &r, &ex) != MG_POLICY_ALLOW) {
        fprintf(stderr, "unexpected decision %s\n", mg_policy_decision_str(ex.decision));
        return 1;
    }

    /* baseline: strcasecmp of the action against every action string of the policy */
    volatile long sink = 0;
    char action[64];
    snprintf(action, sizeof(action), "%.*s", (int)r.action.len, (const char *)r.action.ptr);
    uint64_t t0 = mg_mono_ns();
    for (long i = 0; i < iters; i++) {
        long hits = 0;
        for (size_t k = 0; k < sizeof(s_actions) / sizeof(s_actions[0]); k++)
            hits += strcasecmp(s_actions[k], action) == 0;
        sink += hits;
    }
    uint64_t t1 = mg_mono_ns();
    long allowed = 0;
    for (long i = 0; i < iters; i++)
        allowed += mg_policy_evaluate(&set, &r, NULL) == MG_POLICY_ALLOW;
    uint64_t t2 = mg_mono_ns();
    (void)sink;

    double base_us = (double)(t1 - t0) / 1e3 / (double)iters;
    double dec_us = (double)(t2 - t1) / 1e3 / (double)iters;
    printf("policy decision (10 statements, conditions, variables): %.3f us/decision, %.0f "
           "decisions/s\n",
           dec_us, 1e6 / dec_us);
    printf("baseline (strcasecmp over the %zu action strings):      %.3f us/iteration\n",
           sizeof(s_actions) / sizeof(s_actions[0]), base_us);
    printf("ratio decision/baseline: %.1fx; budget 2 us: %s (allowed %ld of %ld)\n",
           base_us > 0 ? dec_us / base_us : 0.0, dec_us < 2.0 ? "OK" : "EXCEEDED", allowed, iters);
    mg_policy_unref(p);
    return dec_us < 2.0 ? 0 : 1;
}
