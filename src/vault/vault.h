/* src/vault/vault.h: AgentCore Identity as mcpgate serves it: API-key and OAuth2 credential
 * providers (their secrets encrypted at rest), workload identities, the token vault, the
 * identity data plane (workload access tokens, GetResourceApiKey, GetResourceOauth2Token), and
 * the outbound credentials of gateway targets (API key, OAuth2 client-credentials tokens cached
 * until shortly before expiry, the gateway role's SigV4 session).
 *
 * The operations are served by the bedrock-agentcore service's table (agentcore/routes.c lists
 * the handlers below); the runtime part (secret key, token cache) is one struct mg_vault that
 * the composition root creates and puts in the environment (env->vault). */
#ifndef MG_VAULT_H
#define MG_VAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "call/call.h"
#include "targets/targets.h"

struct mg_vault;

/* ---- outbound credentials of a target (cred.c) --------------------------------------------- */

/* What one request to a target carries. Owned strings (mg_free'd by mg_vault_cred_cleanup). */
struct mg_vault_cred {
    enum mg_credential_type type; /* MG_CRED_NONE: nothing to add */
    /* API_KEY in a header, OAUTH's bearer token: a header to add */
    char *header_name, *header_value;
    /* API_KEY in the query */
    char *query_name, *query_value;
    /* GATEWAY_IAM_ROLE: the gateway role's session, and the signing scope */
    char access_key_id[32];
    char secret[64];
    char *session_token;
    char service[65];
    char region[33];
};
void mg_vault_cred_cleanup(struct mg_vault_cred *cred);

/* Called once with the credentials (e MG_E_OK; the callee owns cred and cleans it up) or the
 * reason they could not be had (e != MG_E_OK, cred NULL, msg for the tool result). */
typedef void (*mg_vault_cred_cb)(void *arg, enum mg_err e, struct mg_vault_cred *cred,
                                 const char *msg);

/* The target whose credentials are wanted, as the data plane knows it (the vault sits below
 * the AgentCore modules and does not know their types). Borrowed strings. */
struct mg_vault_target {
    const char *account;    /* the gateway's (and target's) account */
    const char *gateway_id; /* the role session's name */
    const char *gateway_arn;
    const char *role_arn; /* the gateway's execution role */
    const json_t *config; /* credentialProviderConfigurations[0], or NULL: none */
};

/* Resolves the outbound credentials of target t for one call, as its
 * credentialProviderConfigurations say (none, GATEWAY_IAM_ROLE, API_KEY, OAUTH). cb runs either
 * before this returns or later on the outbound client's thread; snap must stay held until it
 * has run. refresh: a cached OAuth token is not used (the upstream answered 401 with it). */
void mg_vault_target_cred(const struct mg_env *env, struct mg_snapshot *snap,
                          const struct mg_vault_target *t, bool refresh, mg_vault_cred_cb cb,
                          void *arg);

/* mg_vault_target_cred's answer, waited for (a condition variable), for threads that may block
 * (never an event loop or the outbound client's thread). On MG_E_OK *out is the caller's
 * (mg_vault_cred_cleanup and mg_free it); else the reason is in msg. */
MG_MUST_USE enum mg_err mg_vault_target_cred_wait(const struct mg_env *env,
                                                  struct mg_snapshot *snap,
                                                  const struct mg_vault_target *t, bool refresh,
                                                  struct mg_vault_cred **out, char *msg,
                                                  size_t cap);

/* Puts cred on req: the header, the query parameter, or a SigV4 signature (the last step before
 * sending: headers added afterwards are not signed). now: epoch seconds. */
MG_MUST_USE enum mg_err mg_vault_cred_apply(const struct mg_vault_cred *cred,
                                            struct mg_target_req *req, int64_t now);

/* ---- the runtime part ---------------------------------------------------------------------- */

/* Loads (or creates) the secret-encryption key from the store's meta, and an empty token
 * cache. */
MG_MUST_USE enum mg_err mg_vault_new(const struct mg_env *env, struct mg_vault **out,
                                     struct mg_errinfo *ei);
void mg_vault_free(struct mg_vault *v);

#endif
