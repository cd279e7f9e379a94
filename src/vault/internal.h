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

#include "call/authz.h"
#include "vault/api.h"
#include "vault/vault.h"

/* The runtime part (env->vault). key: the secret-encryption key (32 random bytes kept in the
 * store's meta as "vault_key", apart from the server's token key); it seals the providers'
 * secrets and the workload access tokens. token_cache and token_cache_free are not used:
 * oauth.c keeps its token and discovery caches process-wide (bounded, under their own lock);
 * mg_vault_free would call token_cache_free(token_cache) were both set. */
struct mg_vault {
    uint8_t key[32];
    void *token_cache;
    void (*token_cache_free)(void *token_cache);
};

/* Store kinds (one document per resource, keyed by name, in the owner's account). */
#define MG_VAULT_KIND_APIKEY "identity_apikey_provider"
#define MG_VAULT_KIND_OAUTH2 "identity_oauth2_provider"
#define MG_VAULT_KIND_WORKLOAD "identity_workload"
#define MG_VAULT_KIND_TOKEN_VAULT "identity_token_vault"

/* AAD purposes of mg_vault_seal: a secret sealed for one use never opens for another. */
#define MG_VAULT_PURPOSE_SECRET "mcpgate-identity-secret-v1"
#define MG_VAULT_PURPOSE_WAT "mcpgate-workload-access-token-v1"

/* AES-256-GCM under key with a random nonce; the additional data binds purpose, account and
 * arn (each may be ""). *out: base64 of nonce || ciphertext || tag (owned, mg_free). */
MG_MUST_USE enum mg_err mg_vault_seal(const uint8_t key[32], const char *purpose,
                                      const char *account, const char *arn, struct mg_slice plain,
                                      char **out);
/* Opens what mg_vault_seal made with the same purpose, account and arn: *out is the plaintext,
 * NUL-terminated (owned; wipe it with mg_memzero before mg_free), *len its length. MG_E_AUTH
 * when it does not open (another key, account, ARN or purpose, or tampered), MG_E_INVALID
 * when it is not base64 of the right size. */
MG_MUST_USE enum mg_err mg_vault_open(const uint8_t key[32], const char *purpose,
                                      const char *account, const char *arn, const char *sealed,
                                      char **out, size_t *len);
/* Frees a string holding a secret after wiping it (NULL is fine). */
void mg_vault_free_secret(char *s);

/* ---- helpers of the handlers (vault.c) ---------------------------------------------------- */

void mg_vault_send_json(struct mg_call *c, int status, json_t *obj); /* steals obj; NULL: 500 */
void mg_vault_send_error(struct mg_call *c, int status, const char *code, const char *fmt, ...)
    MG_PRINTF(4, 5);
/* 400 ValidationException, reason FieldValidationFailed. */
void mg_vault_send_validation(struct mg_call *c, const char *fmt, ...) MG_PRINTF(2, 3);
/* Answers a failed write (500) after logging it (no secrets: the store's message only). */
void mg_vault_write_failed(struct mg_call *c, enum mg_err e);
/* Authorizes action ("bedrock-agentcore:Op") on arn (owned by the caller's account), with the
 * resource's tags ({"k": "v"} or NULL) and the request's tags (aws:RequestTag, aws:TagKeys)
 * when request_tags is not NULL. false: answered AccessDeniedException. */
bool mg_vault_authz(struct mg_call *c, const char *action, const char *arn,
                    const json_t *resource_tags, const json_t *request_tags);
/* The running vault, or NULL after answering 500 (the server runs without one). */
const struct mg_vault *mg_vault_of(struct mg_call *c);
/* A copy of doc without its private ("_") members; NULL when memory ran out. */
json_t *mg_vault_public(const json_t *doc);
/* Epoch seconds with milliseconds, as the models' timestamps travel in rest-json. */
json_t *mg_vault_time(int64_t ms);
/* maxResults (default max) and nextToken (a name, or ""); false when answered. */
bool mg_vault_page(struct mg_call *c, size_t dflt, char *token, size_t cap, size_t *max);

/* Writes doc (NULL for S_DELETE) as (kind, caller's account, name) in one write transaction.
 * Create refuses a name that exists (conflict_code: "ConflictException" or, where the model has
 * none, "ValidationException") and a full quota (ServiceQuotaExceededException); update and delete
 * need the name to exist (ResourceNotFoundException). what names the resource in messages.
 * false when answered. */
enum mg_vault_write_mode { MG_VAULT_CREATE, MG_VAULT_UPDATE, MG_VAULT_DELETE };
bool mg_vault_store_write(struct mg_call *c, const char *kind, const char *name, const json_t *doc,
                          enum mg_vault_write_mode mode, size_t quota, const char *what,
                          const char *conflict_code);

/* ARNs. */
void mg_vault_provider_arn(const struct mg_env *env, const char *account, bool api_key,
                           const char *name, char *out, size_t cap);
void mg_vault_workload_arn(const struct mg_env *env, const char *account, const char *name,
                           char *out, size_t cap);
void mg_vault_token_vault_arn(const struct mg_env *env, const char *account, char *out, size_t cap);
void mg_vault_directory_arn(const struct mg_env *env, const char *account, char *out, size_t cap);

/* The workload access token: sealed JSON {"a": account, "w": workload, "u": user id or absent,
 * "iss"/"sub" (ForJWT), "e": expiry epoch seconds}. Lifetime MG_VAULT_WAT_TTL seconds. */
#define MG_VAULT_WAT_TTL 3600
#define MG_VAULT_WAT_PREFIX "mgwat1."
struct mg_vault_wat {
    char account[13];
    char workload[256];
    char user_id[129];
    char iss[1025];
    char sub[1025];
    int64_t expires;
};
/* Seals t into *out (owned). */
MG_MUST_USE enum mg_err mg_vault_wat_seal(const uint8_t key[32], const struct mg_vault_wat *t,
                                          char **out);
/* Opens a token: MG_E_OK and *t filled; MG_E_AUTH when it is not one mcpgate issued with this
 * key; MG_E_DENIED when its time has passed (at now). */
MG_MUST_USE enum mg_err mg_vault_wat_open(const uint8_t key[32], const char *token, int64_t now,
                                          struct mg_vault_wat *t);
/* The iss and sub claims of a JWT's payload (not verified). false when it has no such
 * string claims or is not a JWT. */
bool mg_vault_jwt_claims(const char *jwt, char iss[1025], char sub[1025], int64_t *exp);

/* Where an OAuth2 provider's authorization server is, as its configuration says. */
struct mg_vault_oauth2_server {
    char issuer[2100], authorization[2100], token[2100], discovery[2100];
    bool auth_post; /* client_secret_post at the token endpoint; else client_secret_basic */
};
/* The rules of CreateOauth2CredentialProvider / UpdateOauth2CredentialProvider beyond the model:
 * in (oauth2ProviderConfigInput) sets exactly one member, the one of vendor
 * (includedOauth2ProviderConfig for the vendors without their own); clientId is set; no EXTERNAL
 * secret; the discovery (custom: exactly one of discoveryUrl and authorizationServerMetadata,
 * http(s) URLs; included: issuer, and both endpoints or neither). Returns the member's name, with
 * *cfg_out its value, o the server and *disc the output's oauthDiscovery (owned); NULL with err
 * set (a ValidationException's message), or err "" when memory ran out. */
const char *mg_vault_check_oauth2(const char *vendor, const json_t *in, const json_t **cfg_out,
                                  struct mg_vault_oauth2_server *o, json_t **disc, char *err,
                                  size_t cap);

/* Names: an OAuth2 vendor's own endpoints (Google, GitHub, Microsoft, Salesforce, Slack,
 * Atlassian, LinkedIn); false for the others. tenant: Microsoft's tenantId or NULL ("common").
 * auth_post: the vendor wants client_secret_post. */
struct mg_vault_vendor_endpoints {
    char issuer[512], authorization[512], token[512], discovery[600];
    bool auth_post;
};
bool mg_vault_vendor_endpoints(const char *vendor, const char *tenant,
                               struct mg_vault_vendor_endpoints *out);

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

/* ---- the data plane's access checks (token_api.c) ----------------------------------------- */

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
