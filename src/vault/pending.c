/* Stand-ins, until the branch that defines these lands: the stored credential providers
 * (src/vault/providers.c) and the data plane's access checks (src/vault/workload.c). They are
 * weak: the real definitions replace them at link time. Each one fails closed (nothing is
 * found or accepted). Delete this file once that branch is merged. */
#include <string.h>

#include "base/alloc.h"
#include "vault/internal.h"

__attribute__((weak)) void mg_vault_provider_cleanup(struct mg_vault_provider *p)
{
    char **s[] = {&p->name,   &p->arn,           &p->account,       &p->api_key,
                  &p->vendor, &p->client_id,     &p->client_secret, &p->discovery_url,
                  &p->issuer, &p->token_endpoint};
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        if (*s[i]) {
            mg_memzero(*s[i], strlen(*s[i]));
            mg_free(*s[i]);
            *s[i] = NULL;
        }
    }
}

__attribute__((weak)) enum mg_err mg_vault_provider_find(
    const struct mg_env *env, const struct mg_snapshot *snap, const char *account, const char *ref,
    bool api_key, struct mg_vault_provider *out, struct mg_errinfo *ei)
{
    (void)env;
    (void)snap;
    (void)account;
    (void)api_key;
    (void)out;
    return mg_errinfo_set(ei, MG_E_NOT_FOUND, "Credential provider %.200s not found",
                          ref ? ref : "");
}

/* TODO(vault merge): the real check opens the workload access token and authorizes the
 * workload identity and the provider; until then no token is accepted. With the stored
 * identities merged, it belongs at the end of workload.c, over that file's checks:
 *
 *   bool mg_vault_token_op_allowed(struct mg_call *c, const char *action, bool api_key,
 *                                  const char *name)
 *   {
 *       const struct mg_vault *v = mg_vault_of(c);
 *       if (v == NULL)
 *           return false;
 *       struct mg_vault_wat t;
 *       if (!s_token(c, v, &t) || s_workload(c, action, t.workload) == NULL)
 *           return false;
 *       char arn[512];
 *       mg_vault_provider_arn(c->env, c->principal.account, api_key, name, arn, sizeof(arn));
 *       const struct mg_snapshot_doc *d =
 *           mg_snapshot_get(c->snap, api_key ? MG_VAULT_KIND_APIKEY : MG_VAULT_KIND_OAUTH2,
 *                           c->principal.account, name);
 *       return mg_vault_authz(c, action, arn, d ? json_object_get(d->doc, "_tags") : NULL, NULL);
 *   }
 */
__attribute__((weak)) bool mg_vault_token_op_allowed(struct mg_call *c, const char *action,
                                                     bool api_key, const char *name)
{
    (void)action;
    (void)api_key;
    (void)name;
    mg_aws_reply_error(c->reply, 403, "AccessDeniedException",
                       "Workload access tokens are not served by this build yet.");
    return false;
}
