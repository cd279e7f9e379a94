/* fuzz/fuzz_policy.c: parse the input as every policy kind, evaluate a fixed request against
 * whatever compiles (as identity, boundary, session and resource policy), and run it as a
 * simulate case. Must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct mg_policy_ctx_entry s_ctx[] = {
    {.key = MG_SLICE_LIT("aws:PrincipalArn"),
     .value = MG_SLICE_LIT("arn:aws:iam::111122223333:role/R")},
    {.key = MG_SLICE_LIT("aws:PrincipalAccount"), .value = MG_SLICE_LIT("111122223333")},
    {.key = MG_SLICE_LIT("aws:username"), .value = MG_SLICE_LIT("al*ce?")},
    {.key = MG_SLICE_LIT("aws:PrincipalTag/team"), .value = MG_SLICE_LIT("blue")},
    {.key = MG_SLICE_LIT("aws:SourceIp"), .value = MG_SLICE_LIT("203.0.113.7")},
    {.key = MG_SLICE_LIT("aws:CurrentTime"), .value = MG_SLICE_LIT("2026-11-27T12:00:00Z")},
    {.key = MG_SLICE_LIT("aws:SecureTransport"), .value = MG_SLICE_LIT("true")},
    {.key = MG_SLICE_LIT("aws:TagKeys"),
     .values = (const struct mg_slice[]){MG_SLICE_LIT("a"), MG_SLICE_LIT("b")},
     .n_values = 2},
    {.key = MG_SLICE_LIT("aws:MultiFactorAuthAge"), .value = MG_SLICE_LIT("42")},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum mg_policy_kind kinds[] = {MG_POLICY_KIND_IDENTITY, MG_POLICY_KIND_RESOURCE,
                                                MG_POLICY_KIND_TRUST, MG_POLICY_KIND_SESSION,
                                                MG_POLICY_KIND_BOUNDARY};
    struct mg_policy *p[5] = {0};
    for (size_t k = 0; k < 5; k++) {
        struct mg_policy_parse_opts o = {.kind = kinds[k], .max_chars = MG_POLICY_LIMIT_RAW};
        struct mg_errinfo ei;
        if (mg_policy_parse(mg_slice_make(data, size), &o, &p[k], &ei) != MG_E_OK)
            p[k] = NULL;
    }
    struct mg_policy_request r = {
        .principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE,
        .principal_arn = MG_SLICE_LIT("arn:aws:sts::111122223333:assumed-role/R/s"),
        .principal_account = MG_SLICE_LIT("111122223333"),
        .role_arn = MG_SLICE_LIT("arn:aws:iam::111122223333:role/R"),
        .action = MG_SLICE_LIT("bedrock-agentcore:InvokeGateway"),
        .resource = MG_SLICE_LIT("arn:aws:bedrock-agentcore:us-east-1:111122223333:gateway/gw-1"),
        .resource_account = MG_SLICE_LIT("444455556666"),
        .context = s_ctx,
        .n_context = sizeof(s_ctx) / sizeof(s_ctx[0]),
    };
    const struct mg_policy *id[] = {p[0]}, *bd[] = {p[4]}, *se[] = {p[3]};
    struct mg_policy_set set = {.identity = id,
                                .n_identity = 1,
                                .boundary = bd,
                                .n_boundary = p[4] ? 1 : 0,
                                .session = se,
                                .n_session = p[3] ? 1 : 0,
                                .resource = p[1] ? p[1] : p[2]};
    struct mg_policy_explain ex;
    char msg[256];
    mg_policy_evaluate(&set, &r, &ex);
    mg_policy_denied_message(&ex, &r, msg, sizeof(msg));
    r.resource_account = r.principal_account;
    r.principal_type = MG_POLICY_PRINCIPAL_ANONYMOUS;
    mg_policy_evaluate(&set, &r, &ex);
    for (size_t k = 0; k < 5; k++)
        mg_policy_unref(p[k]);

    struct mg_buf out;
    mg_buf_init(&out, 1u << 20);
    struct mg_errinfo ei;
    enum mg_policy_decision d;
    (void)mg_policy_simulate_json(mg_slice_make(data, size), &out, &d, &ei);
    mg_buf_cleanup(&out);
    return 0;
}
