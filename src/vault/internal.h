/* src/vault/internal.h: shared by the files of the vault module (not for other modules).
 *
 *   vault.c     the runtime part (secret key, token cache), mg_vault_new/free
 *   providers.c API-key and OAuth2 credential providers: the control-plane operations, storage
 *               with secrets sealed (AES-256-GCM), and the lookups below
 *   workload.c  workload identities, the token vault, and the data-plane token operations
 *   cred.c      outbound credentials of targets (mg_vault_target_cred, mg_vault_cred_apply)
 *   oauth.c     OAuth2 client-credentials tokens: discovery, token endpoint, cache */
#ifndef MG_VAULT_INTERNAL_H
#define MG_VAULT_INTERNAL_H

#include <jansson.h>

#include "vault/vault.h"

/* One credential provider as the outbound side needs it, secrets decrypted (wiped and freed
 * by mg_vault_provider_cleanup). Strings are owned; absent members are NULL. */
struct mg_vault_provider {
    char *name;
    char *arn;
    char *account;
    /* API key providers */
    char *api_key;
    /* OAuth2 providers */
    char *vendor; /* credentialProviderVendor, e.g. "CustomOauth2" */
    char *client_id;
    char *client_secret;
    char *discovery_url;  /* oauthDiscovery.discoveryUrl, or NULL */
    char *issuer;         /* authorizationServerMetadata.issuer (or the vendor's), or NULL */
    char *token_endpoint; /* authorizationServerMetadata.tokenEndpoint (or the vendor's), or NULL */
    bool auth_post;       /* client_secret_post; false: client_secret_basic */
};
void mg_vault_provider_cleanup(struct mg_vault_provider *p);

/* The API-key (api_key true) or OAuth2 provider that ref names (its ARN, either form AWS uses),
 * stored in account. MG_E_NOT_FOUND (msg: "Credential provider ... not found"), MG_E_DENIED
 * (another account's provider), MG_E_NOMEM, MG_E_INTERNAL (secret does not decrypt). */
MG_MUST_USE enum mg_err mg_vault_provider_find(const struct mg_env *env,
                                               const struct mg_snapshot *snap, const char *account,
                                               const char *ref, bool api_key,
                                               struct mg_vault_provider *out,
                                               struct mg_errinfo *ei);

/* An OAuth2 client-credentials token for provider p with scopes (JSON array of strings, or
 * NULL) and custom parameters (JSON object of strings, or NULL): from the cache when one is
 * valid for at least another minute and refresh is false, else fetched from the token endpoint
 * (discovered first when only a discovery URL is known). cb(arg, e, token, expires_in, msg) runs
 * once, before return or on the outbound client's thread. */
typedef void (*mg_vault_token_cb)(void *arg, enum mg_err e, const char *access_token,
                                  int64_t expires_at, const char *msg);
void mg_vault_oauth_token(const struct mg_env *env, const struct mg_vault_provider *p,
                          const json_t *scopes, const json_t *custom_params, bool refresh,
                          mg_vault_token_cb cb, void *arg);

#endif
