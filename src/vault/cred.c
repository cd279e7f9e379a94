/* The outbound credentials of a target, for one call. */
#include <string.h>

#include "base/alloc.h"
#include "vault/vault.h"

void mg_vault_cred_cleanup(struct mg_vault_cred *cred)
{
    if (cred == NULL)
        return;
    char **owned[] = {&cred->header_name, &cred->header_value, &cred->query_name,
                      &cred->query_value, &cred->session_token};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        if (*owned[i]) {
            mg_memzero(*owned[i], strlen(*owned[i]));
            mg_free(*owned[i]);
            *owned[i] = NULL;
        }
    }
    mg_memzero(cred->secret, sizeof(cred->secret));
}

void mg_vault_target_cred(const struct mg_env *env, struct mg_snapshot *snap,
                          const struct mg_vault_target *t, bool refresh, mg_vault_cred_cb cb,
                          void *arg)
{
    (void)env;
    (void)snap;
    (void)refresh;
    if (t->config != NULL) {
        cb(arg, MG_E_INVALID, NULL, "Outbound credentials are not supported by mcpgate yet");
        return;
    }
    struct mg_vault_cred *c = mg_calloc(1, sizeof(*c));
    if (c == NULL) {
        cb(arg, MG_E_NOMEM, NULL, "out of memory");
        return;
    }
    cb(arg, MG_E_OK, c, NULL);
}

enum mg_err mg_vault_cred_apply(const struct mg_vault_cred *cred, struct mg_target_req *req,
                                int64_t now)
{
    (void)now;
    if (cred->type == MG_CRED_NONE)
        return MG_E_OK;
    if (cred->header_name && cred->header_value)
        return mg_target_req_header(req, cred->header_name, mg_slice_cstr(cred->header_value));
    if (cred->query_name && cred->query_value)
        return mg_target_req_query(req, mg_slice_cstr(cred->query_name),
                                   mg_slice_cstr(cred->query_value));
    return MG_E_INVALID;
}
