/* src/mcp/smithy_target.h: the Smithy kind of tools/call over HTTP (mcp/http_target.c drives
 * the call: outbound credentials, sending, answering the slot). What is particular to Smithy is
 * here: where the request goes, how it is serialized and signed, how the answer reads. */
#ifndef MG_MCP_SMITHY_TARGET_H
#define MG_MCP_SMITHY_TARGET_H

#include <jansson.h>

#include "agentcore/agentcore.h"
#include "call/call.h"
#include "http/client.h"
#include "targets/targets.h"
#include "vault/vault.h"

/* The endpoint (scheme://host[:port]) the requests of a Smithy tool go to (docs/targets-smithy.md):
 *   1. MCPGATE_SMITHY_ENDPOINT_<SIGNING NAME> from the environment (upper-cased, characters other
 *      than letters and digits as '_'), when set;
 *   2. mcpgate itself (env->public_url) for the services it serves: lambda, iam, sts,
 *      bedrock-agentcore;
 *   3. https://<endpointPrefix>.<region>.amazonaws.com otherwise.
 * MG_E_INVALID with msg when the "_call" has no signing name or the endpoint does not fit. */
MG_MUST_USE enum mg_err mg_mcp_smithy_endpoint(const struct mg_env *env, const char *region,
                                               const json_t *call, char *out, size_t cap, char *msg,
                                               size_t msg_cap);

/* Builds the request of one call of a Smithy tool (its "_call", the checked arguments),
 * serialized by the model's protocol, to the endpoint above for region (the gateway's). With
 * GATEWAY_IAM_ROLE credentials (cred may be NULL), sets the signing scope: cred->service is the
 * model's signing name, and cred->region the gateway's when cred has none. MG_E_INVALID with
 * msg for arguments that cannot be sent. A row of http_target.c's table of kinds. */
MG_MUST_USE enum mg_err mg_mcp_smithy_build(const struct mg_env *env, const json_t *call,
                                            const json_t *arguments, const char *region,
                                            struct mg_vault_cred *cred, struct mg_target_req *req,
                                            char *msg, size_t cap);

/* The CallToolResult of an answer (a new object; NULL when out of memory): mg_smithy_result,
 * with the AWS error type taken from the x-amzn-errortype header when the body names none. */
json_t *mg_mcp_smithy_result(const json_t *call, const struct mg_http_out_resp *resp);

#endif
