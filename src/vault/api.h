/* src/vault/api.h: the operations of AgentCore Identity that mcpgate serves, as handlers of the
 * bedrock-agentcore table (agentcore/routes.c lists them in its s_ops). Each reads c->input
 * (validated against the model), authorizes bedrock-agentcore:<Operation> on its resource, and
 * fills c->reply. docs/identity.md describes them. */
#ifndef MG_VAULT_API_H
#define MG_VAULT_API_H

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

/* The per-account quotas (AWS's defaults). */
#define MG_VAULT_MAX_API_KEY_PROVIDERS 50
#define MG_VAULT_MAX_OAUTH2_PROVIDERS 50
#define MG_VAULT_MAX_WORKLOAD_IDENTITIES 11000

#endif
