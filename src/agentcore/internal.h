/* src/agentcore/internal.h: shared by the files of the control plane. Not for other modules. */
#ifndef MG_AGENTCORE_INTERNAL_H
#define MG_AGENTCORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "agentcore/agentcore.h"
#include "call/authz.h"

#define MG_AC_KIND_GATEWAY "agentcore_gateway"
#define MG_AC_KIND_TARGET "agentcore_target"
#define MG_AC_KIND_POLICY "resource_policy"
/* Index rows of an account's gateways, {"gatewayId": ID}: by name while the gateway is not being
 * deleted (so their count is the account's gateways against the quota), and by the clientToken
 * of its CreateGateway until it is gone. Kept in the same transactions as the gateway. */
#define MG_AC_KIND_GATEWAY_NAME "agentcore_gateway_name"
#define MG_AC_KIND_GATEWAY_TOKEN "agentcore_gateway_token"
/* Those index rows stay in the store (mg_snapshot_register_store_only): a writer reads them
 * there, under the write lock. The gateway id of row (kind, account, key) into id (MG_E_OK),
 * MG_E_NOT_FOUND when there is none (or it names no id), or the store's failure. */
MG_MUST_USE enum mg_err mg_ac_index_get(const struct mg_env *env, const char *kind,
                                        const char *account, const char *key, char *id, size_t cap);

struct mg_snapshot;
struct mg_snapshot_doc;
/* A target document's "_tools" made the compact JSON text a snapshot keeps (catalog.c); written
 * that way, a start-up reads a string instead of building a tree and writing it out again. Left
 * as it is when out of memory. */
void mg_ac_compact_target(json_t *doc);
/* What a snapshot keeps of a target document (mg_snapshot_register_compact): compacted as above,
 * and an OpenAPI or Smithy document (inlinePayload) deflated into a private member, since only
 * GetGatewayTarget reads it. Such a document is not written out as it is: mg_ac_target_expanded
 * gives it back as stored (a new reference: doc itself when nothing was deflated; NULL when out
 * of memory). mg_ac_public_target and mg_ac_put do it. */
void mg_ac_compact_target_snapshot(json_t *doc);
json_t *mg_ac_target_expanded(const json_t *doc);
/* The target documents of gateway id (every status), in its account's run of targets (sorted
 * by "gatewayId/targetId"): a binary search; NULL and *n 0 when there are none. */
const struct mg_snapshot_doc *mg_ac_targets_of(const struct mg_snapshot *snap, const char *account,
                                               const char *id, size_t *n);

/* Registers the index of transitional gateways and targets (lifecycle.c); with mg_agentcore_init. */
void mg_ac_pending_init(void);
/* The MCP-server targets of the snapshot that mcp_sync.c synchronizes, from that index, in
 * (account, key) order (*out freed by the caller); false when the snapshot has no index or out
 * of memory. */
bool mg_ac_pending_mcp_targets(const struct mg_snapshot *snap, const struct mg_snapshot_doc ***out,
                               size_t *n);

/* Quotas (AWS defaults; environment variables MCPGATE_MAX_GATEWAYS_PER_ACCOUNT,
 * MCPGATE_MAX_TARGETS_PER_GATEWAY, MCPGATE_MAX_TOOLS_PER_TARGET override them at start). */
struct mg_ac_quotas {
    size_t gateways_per_account; /* 1000 */
    size_t targets_per_gateway;  /* 100 */
    size_t tools_per_target;     /* 1000 */
    size_t tool_name_len;        /* 256 */
};
#define MG_AC_QUOTAS_DEFAULT ((struct mg_ac_quotas){1000, 100, 1000, 256})
/* The module's state (what mg_agentcore_service's start returns): the background worker and
 * the quotas. */
struct mg_ac_worker;
/* The quotas of the module's state (the defaults without one). */
const struct mg_ac_quotas *mg_ac_quotas(const struct mg_ac_worker *w);

/* ---- validation (validate.c) ------------------------------------------------------------ */

#define MG_AC_VERR_MAX 8

/* Collected validation failures, AWS style. */
struct mg_ac_verr {
    size_t n;
    char reason[40]; /* "FieldValidationFailed" unless set */
    char names[MG_AC_VERR_MAX][128];
    char msgs[MG_AC_VERR_MAX][400];
    char plain[512]; /* a service rule message (no field list) */
};

void mg_ac_verr_add(struct mg_ac_verr *v, const char *field, const char *fmt, ...) MG_PRINTF(3, 4);
/* A rule of the service: the message is sent as is. */
void mg_ac_verr_rule(struct mg_ac_verr *v, const char *fmt, ...) MG_PRINTF(2, 3);
bool mg_ac_verr_any(const struct mg_ac_verr *v);
/* "1 validation error detected: ..." */
void mg_ac_verr_message(const struct mg_ac_verr *v, char *out, size_t cap);

/* Ids in the model's patterns of gatewayIdentifier and targetId (ListGateways and
 * ListGatewayTargets take them as nextToken). */
bool mg_ac_match_gateway_id(const char *s);
bool mg_ac_match_target_id(const char *s);
bool mg_ac_match_tool_name(const char *s); /* MCP's tool-name alphabet [A-Za-z0-9_.-]+ */

/* The rules of CreateGateway / UpdateGateway (update true) beyond the model's constraints. */
void mg_ac_validate_gateway(const json_t *b, bool update, struct mg_ac_verr *v);
/* The rules of CreateGatewayTarget / UpdateGatewayTarget beyond the model's constraints (q: the
 * tool-name length). */
void mg_ac_validate_target(const json_t *b, const struct mg_ac_quotas *q, struct mg_ac_verr *v);
/* An http:// URL whose host is a loopback address (127/8, ::1, localhost) and that has no user
 * info: what mcpgate admits besides https:// for MCP-server endpoints. */
bool mg_ac_loopback_http(const char *url);
/* The marker routes.c puts in a CreateGatewayTarget / UpdateGatewayTarget input whose mcpServer
 * endpoint is loopback http (validated as https: the model admits only that); mg_ac_body puts
 * the http:// back. */
#define MG_AC_LOOPBACK_HTTP "_mcpLoopbackHttp"
/* The tools a target's document derives (OpenAPI, Smithy: derive.c), for its "_tools": *tools
 * stays NULL for the kinds whose tools come from elsewhere (Lambda: its inline tool schema; MCP
 * servers: the upstream at synchronization). MG_E_INVALID with the refusal in v, MG_E_NOMEM. */
MG_MUST_USE enum mg_err mg_ac_target_tools(const json_t *body, const struct mg_ac_quotas *q,
                                           json_t **tools, struct mg_ac_verr *v);
/* The tool definitions of a target document (a new reference, or NULL): a Lambda target's inline
 * tool schema, else its "_tools", which a snapshot keeps as JSON text (catalog.c). */
json_t *mg_ac_tool_defs(const json_t *doc);
/* $ref in the tool schemas of a CreateGatewayTarget / UpdateGatewayTarget input: not supported
 * (checked before the model's validation, whose "type must not be null" would hide it). */
void mg_ac_check_schema_refs(const json_t *input, struct mg_ac_verr *v);
/* The tool-schema rules checked when the target is compiled: names unique, quotas. NULL when
 * fine, else the statusReasons text. */
const char *mg_ac_check_tools(const json_t *tools, char *buf, size_t cap);
/* ID generation. */
void mg_ac_new_gateway_id(const char *name, char out[64]);
void mg_ac_new_target_id(char out[11]);

struct mg_ac_ctx;

/* ---- reply fillers (routes.c): the handlers fill c->reply, mg_call_serve sends it ------- */

void mg_ac_send_error(struct mg_call *c, int status, const char *code, const char *msg);
void mg_ac_send_validation(struct mg_call *c, const struct mg_ac_verr *v);
void mg_ac_send_validation_msg(struct mg_call *c, const char *reason, const char *msg);
void mg_ac_send_json(struct mg_call *c, int status, json_t *obj); /* steals obj */
/* A copy of the input's body members (c->input without uri, querystring and header members),
 * or NULL after answering (out of memory). */
json_t *mg_ac_body(struct mg_call *c);
/* A string member of the validated input (uri labels, querystring), or NULL. */
const char *mg_ac_in(const struct mg_call *c, const char *member);
void mg_ac_now(char out[32]); /* RFC 3339 with microseconds */

/* Resolves a gatewayIdentifier (an id in the model's pattern; an ARN's account comes from the
 * prepare step) to (account, id). false: no such gateway can exist (answered 404). */
bool mg_ac_gateway_ident(struct mg_call *c, const char *ident, char account[13], char id[128]);
/* The gateway document, or NULL after answering ResourceNotFoundException. */
const struct mg_snapshot_doc *mg_ac_gateway_doc(struct mg_call *c, const char *account,
                                                const char *id);
/* The compiled resource policy of an ARN in the call's snapshot, or NULL. */
const struct mg_policy *mg_ac_policy_of(struct mg_call *c, const char *arn);
/* Resolves gatewayIdentifier, authorizes `action` on the gateway (resource policy, tags, ctx),
 * then finds it: NULL when answered (validation, access denied, not found). */
const struct mg_snapshot_doc *mg_ac_gateway_authorized(struct mg_call *c, const char *ident,
                                                       const char *action,
                                                       const struct mg_ac_ctx *ctx);
/* maxResults (1..1000, default 1000) and nextToken of a List call; false when answered. */
bool mg_ac_page_params(struct mg_call *c, size_t *max, char *token, size_t cap);
/* Authorizes on a gateway: resource policy and tags of the gateway doc applied. */
bool mg_ac_authz_gateway(struct mg_call *c, const char *action, const json_t *gw,
                         const struct mg_authz_extra *extra);
/* The gatewayUrl for an id. */
void mg_ac_gateway_url(const char *id, char *out, size_t cap);
/* A copy of a stored doc without private "_" members, with gatewayUrl filled. */
json_t *mg_ac_public_gateway(const json_t *doc);
/* ListGateways' item for a stored gateway doc. */
json_t *mg_ac_gateway_summary(const json_t *doc);

/* A gateway's control-plane documents, serialized as the replies would serialize them
 * (compact, members in order): the text of mg_ac_public_gateway and mg_ac_gateway_summary. */
struct mg_gateway_json {
    char *public_doc, *summary; /* owned, NUL-terminated */
    size_t public_len, summary_len;
};
/* The documents of the snapshot's gateway for this stored gateway doc, serialized on first use
 * and kept with the snapshot (any thread; the first to finish wins); NULL when the snapshot has
 * no gateway for d (one being deleted) or when out of memory: the caller builds them itself. */
const struct mg_gateway_json *mg_ac_gateway_json(const struct mg_snapshot *snap,
                                                 const struct mg_snapshot_doc *d);
void mg_ac_gateway_json_free(struct mg_gateway_json *j);
json_t *mg_ac_public_target(const json_t *doc);

/* Extra authorization context: condition keys of the request. Sized for AWS's maxima (50 tags
 * in a TagResource or Create* request, 200 keys in an UntagResource) plus the service keys;
 * anything beyond sets overflow, and the call is then denied (see mg_authz_extra). */
#define MG_AC_CTX_MAX_UNTAG_KEYS 200
struct mg_ac_ctx {
    struct mg_policy_ctx_entry e[MG_AUTHZ_MAX_TAGS + 16];
    size_t n;
    char keys[MG_AUTHZ_MAX_TAGS][MG_AUTHZ_TAG_NAME_CAP];
    size_t n_keys;
    struct mg_slice tag_keys[MG_AC_CTX_MAX_UNTAG_KEYS];
    const char *overflow;
};
void mg_ac_ctx_add(struct mg_ac_ctx *x, const char *key, const char *value);
/* aws:RequestTag/K for each tag and aws:TagKeys (tags: {"k": "v"}, or an array of keys). */
void mg_ac_ctx_tags(struct mg_ac_ctx *x, const json_t *tags);
/* The gateway condition keys (GatewayAuthorizerType, ProtocolType, DiscoveryUrl, KmsKeyArn) of a
 * request body or stored gateway. */
void mg_ac_ctx_gateway(struct mg_ac_ctx *x, const json_t *gw);
static inline struct mg_authz_extra mg_ac_extra(const struct mg_ac_ctx *x)
{
    return (struct mg_authz_extra){x->e, x->n, x->overflow};
}

/* Stores doc (compact JSON) inside an open write transaction. */
MG_MUST_USE enum mg_err mg_ac_put(const struct mg_env *env, const char *kind, const char *account,
                                  const char *key, const json_t *doc);
/* Answers a failed write (500 InternalServerException) after aborting. */
void mg_ac_write_failed(struct mg_call *c, enum mg_err e);

/* ---- operations: handlers of mg_agentcore_api ----------------------------------------- */

void mg_ac_create_gateway(struct mg_call *c);
void mg_ac_get_gateway(struct mg_call *c);
void mg_ac_list_gateways(struct mg_call *c);
void mg_ac_update_gateway(struct mg_call *c);
void mg_ac_delete_gateway(struct mg_call *c);
void mg_ac_create_target(struct mg_call *c);
void mg_ac_get_target(struct mg_call *c);
void mg_ac_list_targets(struct mg_call *c);
void mg_ac_update_target(struct mg_call *c);
void mg_ac_delete_target(struct mg_call *c);
void mg_ac_sync_targets(struct mg_call *c);
void mg_ac_put_policy(struct mg_call *c);
void mg_ac_get_policy(struct mg_call *c);
void mg_ac_delete_policy(struct mg_call *c);
void mg_ac_tag(struct mg_call *c);
void mg_ac_untag(struct mg_call *c);
void mg_ac_list_tags(struct mg_call *c);

/* ---- MCP-server targets (mcp_sync.c) ------------------------------------------------------ */

/* The thread that synchronizes MCP-server targets (NULL when it could not start). */
struct mg_ac_mcp_sync;
/* leader: the node's background lease (state/leader.h): a target is synchronized only while this
 * node leads, and its outcome written only if it still does (NULL: always). */
struct mg_leader;
struct mg_ac_mcp_sync *mg_ac_mcp_sync_start(const struct mg_env *env, const struct mg_ac_quotas *q,
                                            struct mg_leader *leader);
void mg_ac_mcp_sync_kick(struct mg_ac_mcp_sync *s); /* NULL is fine */
void mg_ac_mcp_sync_stop(struct mg_ac_mcp_sync *s); /* NULL is fine */
/* Whether a target document's transitional state is finished by mcp_sync.c rather than by the
 * background worker: an mcpServer target CREATING, UPDATING or SYNCHRONIZING. */
bool mg_ac_mcp_synced_here(const json_t *doc);

/* ---- lifecycle (lifecycle.c) ------------------------------------------------------------ */

/* Wakes the background worker (a resource entered a transitional state); w may be NULL. */
void mg_ac_kick(struct mg_ac_worker *w);
/* Validates the resource policy text for a resource ARN; NULL when fine, else the message. */
const char *mg_ac_check_resource_policy(const char *text, const char *arn, char *buf, size_t cap);
/* Checks a gateway's role for the worker: NULL when it exists and trusts the service. */
const char *mg_ac_check_role(const struct mg_snapshot *snap, const char *account,
                             const char *role_arn);
/* A hash of a request body without clientToken (for idempotency). */
void mg_ac_request_hash(const json_t *body, char out[65]);
/* The bedrock-agentcore-control API (routes.c): mg_call_serve over mg_agentcore_api;
 * c->service is the module's worker. */
void mg_agentcore_handle(struct mg_call *c);
/* AgentCore Identity's in-use hook (vault/api.h mg_vault_in_use_fn): a target of account's
 * gateways names the provider; start registers it. */
bool mg_ac_provider_in_use(const struct mg_snapshot *snap, const char *account,
                           const char *provider_arn, char *buf, size_t cap);
/* The environment whose public URL and gateway URL template make the gatewayUrl of every
 * gateway (set by start, cleared by stop; NULL: http://127.0.0.1:4777). */
void mg_ac_set_url_env(const struct mg_env *env);

#endif
