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
 * (discovered first when only a discovery URL is known). cb(arg, e, token, expires_at, msg) runs
 * once, before return or on the outbound client's thread (expires_at: epoch seconds). What it
 * needs of p, scopes and custom_params is copied before it returns. msg never names a secret;
 * e is MG_E_INVALID for a provider or configuration that cannot work (no token endpoint, bad
 * discovery document), MG_E_DENIED when the endpoint refused the client (msg carries its OAuth
 * `error` code), MG_E_UPSTREAM for an unreachable or misbehaving endpoint, MG_E_NOMEM. */
typedef void (*mg_vault_token_cb)(void *arg, enum mg_err e, const char *access_token,
                                  int64_t expires_at, const char *msg);
void mg_vault_oauth_token(const struct mg_env *env, const struct mg_vault_provider *p,
                          const json_t *scopes, const json_t *custom_params, bool refresh,
                          mg_vault_token_cb cb, void *arg);

/* ---- cred.c: parts exposed for the unit tests -------------------------------------------- */

#define MG_VAULT_API_KEY_HEADER "Authorization" /* credentialParameterName, HEADER */
#define MG_VAULT_API_KEY_QUERY "api_key"        /* credentialParameterName, QUERY_PARAMETER */
#define MG_VAULT_ROLE_CACHE 64                  /* gateway role sessions kept */
#define MG_VAULT_ROLE_TTL 300                   /* seconds one is reused */

/* The provider lookup mg_vault_target_cred uses: mg_vault_provider_find, unless a test put
 * another in place (NULL restores it). Not thread-safe: set it before any call. */
typedef enum mg_err (*mg_vault_provider_find_fn)(const struct mg_env *env,
                                                 const struct mg_snapshot *snap,
                                                 const char *account, const char *ref, bool api_key,
                                                 struct mg_vault_provider *out,
                                                 struct mg_errinfo *ei);
void mg_vault_cred_set_provider_find(mg_vault_provider_find_fn fn);

/* The API-key credential that apiKeyCredentialProvider akp describes for key. */
MG_MUST_USE enum mg_err mg_vault_api_key_cred(const json_t *akp, const char *key,
                                              struct mg_vault_cred *out, char *msg, size_t cap);
/* The gateway role sessions (thread-safe): a valid entry of (role, gateway, generation) copied
 * into out's keys and token; put replaces that key's entry, else a free one, else the one that
 * expires first. */
bool mg_vault_role_cache_get(const char *role_arn, const char *gateway_arn, uint64_t generation,
                             int64_t now, struct mg_vault_cred *out);
void mg_vault_role_cache_put(const char *role_arn, const char *gateway_arn, uint64_t generation,
                             int64_t until, const struct mg_vault_cred *c);
void mg_vault_role_cache_clear(void);

/* ---- oauth.c: the token cache, exposed for the unit tests ---------------------------------- */

#define MG_VAULT_TOKEN_CACHE 1024       /* tokens kept (least recently used evicted first) */
#define MG_VAULT_TOKEN_MARGIN 60        /* seconds before expiry a token stops being used */
#define MG_VAULT_TOKEN_DEFAULT_TTL 3600 /* expires_in when the endpoint gives none */
#define MG_VAULT_DISCOVERY_TTL 3600     /* seconds a discovered token endpoint is kept */

/* The cache key of a token: provider ARN, client id, endpoint (token endpoint or discovery URL:
 * a provider re-created for another identity provider misses), scopes (space-joined, in order)
 * and custom parameters (sorted), in one owned string; NULL when out of memory. */
char *mg_vault_token_key(const char *provider_arn, const char *client_id, const char *endpoint,
                         const json_t *scopes, const json_t *custom_params);
/* A token of key valid beyond now + MG_VAULT_TOKEN_MARGIN, copied into *token (owned). */
bool mg_vault_token_cache_get(const char *key, int64_t now, char **token, int64_t *expires_at);
void mg_vault_token_cache_put(const char *key, const char *token, int64_t expires_at);
void mg_vault_token_cache_clear(void);
size_t mg_vault_token_cache_count(void);
/* Forgets the discovered token endpoints. */
void mg_vault_discovery_cache_clear(void);

/* ---- the data plane's access checks (workload.c) ------------------------------------------ */

/* Before a data-plane token operation reads a credential provider (GetResourceOauth2Token in
 * token_api.c): the workload access token of c->input ("workloadIdentityToken") must be one
 * mcpgate issued to the caller's account and still valid, and the caller must be allowed
 * action on that workload identity and on the provider `name` (api_key: an API-key provider,
 * else OAuth2), as AWS's documentation lists them. false when it answered (c->reply filled:
 * 400 ValidationException, 401 UnauthorizedException, 403 AccessDeniedException, 404
 * ResourceNotFoundException for an unknown workload identity). */
bool mg_vault_token_op_allowed(struct mg_call *c, const char *action, bool api_key,
                               const char *name);

#endif
