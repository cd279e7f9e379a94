/* AgentCore Identity's runtime part: the secret-encryption key and the token cache. */
#include "base/alloc.h"
#include "vault/vault.h"

struct mg_vault {
    int unused;
};

enum mg_err mg_vault_new(const struct mg_env *env, struct mg_vault **out, struct mg_errinfo *ei)
{
    (void)env;
    *out = mg_calloc(1, sizeof(**out));
    return *out ? MG_E_OK : mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
}

void mg_vault_free(struct mg_vault *v)
{
    mg_free(v);
}
