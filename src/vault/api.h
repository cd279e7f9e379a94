/* src/vault/api.h: the operations of AgentCore Identity that mcpgate serves, as handlers of the
 * bedrock-agentcore table (agentcore/routes.c lists them in its s_ops). Each reads c->input
 * (validated against the model), authorizes bedrock-agentcore:<Operation> on its resource, and
 * fills c->reply. docs/identity.md describes them. */
#ifndef MG_VAULT_API_H
#define MG_VAULT_API_H

#include <stdbool.h>
#include <stddef.h>

#include "call/call.h"

/* control plane: API-key credential providers (providers.c) */
void mg_vault_create_api_key_provider(struct mg_call *c);
void mg_vault_get_api_key_provider(struct mg_call *c);
void mg_vault_update_api_key_provider(struct mg_call *c);
void mg_vault_delete_api_key_provider(struct mg_call *c);
void mg_vault_list_api_key_providers(struct mg_call *c);
/* control plane: OAuth2 credential providers (providers.c) */
void mg_vault_create_oauth2_provider(struct mg_call *c);
void mg_vault_get_oauth2_provider(struct mg_call *c);
void mg_vault_update_oauth2_provider(struct mg_call *c);
void mg_vault_delete_oauth2_provider(struct mg_call *c);
void mg_vault_list_oauth2_providers(struct mg_call *c);
/* control plane: workload identities and the token vault (workload.c) */
void mg_vault_create_workload_identity(struct mg_call *c);
void mg_vault_get_workload_identity(struct mg_call *c);
void mg_vault_update_workload_identity(struct mg_call *c);
void mg_vault_delete_workload_identity(struct mg_call *c);
void mg_vault_list_workload_identities(struct mg_call *c);
void mg_vault_get_token_vault(struct mg_call *c);
void mg_vault_set_token_vault_cmk(struct mg_call *c);
/* data plane (workload.c) */
void mg_vault_get_workload_access_token(struct mg_call *c);
void mg_vault_get_workload_access_token_for_jwt(struct mg_call *c);
void mg_vault_get_workload_access_token_for_user_id(struct mg_call *c);
void mg_vault_get_resource_api_key(struct mg_call *c);
/* data plane (token_api.c): oauth2Flow M2M answers with a client-credentials token (answered
 * later, from the outbound client's thread); USER_FEDERATION and ON_BEHALF_OF_TOKEN_EXCHANGE are
 * refused as not implemented */
void mg_vault_get_resource_oauth2_token(struct mg_call *c);

/* Parses a provider ARN (arn:PARTITION:bedrock-agentcore|acps:REGION:ACCOUNT:token-vault/
 * default/{apikey|oauth2}credentialprovider/NAME, the two forms AWS writes): false when it is
 * not one of that kind (api_key: API-key provider, else OAuth2). */
bool mg_vault_parse_provider_arn(const char *arn, bool api_key, char account[13], char name[129]);

/* Whether a provider is in use: the AgentCore control plane, which knows the gateway targets,
 * registers it at start (vault sits below it). Returns true, with the user named in buf (e.g.
 * "target T of gateway G"), when a target of account's gateways names provider_arn (either ARN
 * form) in its credentialProviderConfigurations. DeleteOauth2CredentialProvider then answers
 * ConflictException. NULL (the default): nothing is in use. */
typedef bool (*mg_vault_in_use_fn)(const struct mg_snapshot *snap, const char *account,
                                   const char *provider_arn, char *buf, size_t cap);
void mg_vault_set_in_use_hook(mg_vault_in_use_fn fn);

/* The per-account quotas (AWS's defaults). */
#define MG_VAULT_MAX_API_KEY_PROVIDERS 50
#define MG_VAULT_MAX_OAUTH2_PROVIDERS 50
#define MG_VAULT_MAX_WORKLOAD_IDENTITIES 11000

#endif
