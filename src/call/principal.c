/* The principal a call comes from. */
#include "call/call.h"

void mg_principal_cleanup(struct mg_principal *p)
{
    for (size_t i = 0; i < p->n_session_policies; i++)
        mg_policy_unref(p->session_policies[i]);
    p->n_session_policies = 0;
    json_decref(p->session_tags);
    p->session_tags = NULL;
    json_decref(p->jwt_claims);
    p->jwt_claims = NULL;
}

enum mg_err mg_call_assume_role_as_service(const struct mg_env *env, const struct mg_snapshot *snap,
                                           const char *role_arn, const char *service,
                                           const char *session_name, int64_t duration,
                                           struct mg_principal *out_principal, char *akid_out,
                                           char *secret_out, struct mg_buf *token_out,
                                           int64_t *expires_out, struct mg_errinfo *ei)
{
    if (env == NULL || env->identity == NULL || env->identity->assume_role_as_service == NULL)
        return mg_errinfo_set(ei, MG_E_DENIED, "no identity provider can assume the role");
    return env->identity->assume_role_as_service(env, snap, role_arn, service, session_name,
                                                 duration, out_principal, akid_out, secret_out,
                                                 token_out, expires_out, ei);
}
