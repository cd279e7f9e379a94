/* src/agentcore/agentcore.h: the AgentCore control plane (bedrock-agentcore-control): gateways,
 * gateway targets, resource-based policies and tags, and the read-only view of them that every
 * snapshot carries for the MCP data plane.
 *
 * Documents in the store (kind / account / key -> JSON):
 *   agentcore_gateway / ACCOUNT / GATEWAY-ID          the gateway as GetGateway returns it, plus
 *                                                     private members prefixed with "_"
 *   agentcore_target  / ACCOUNT / GATEWAY-ID "/" TARGET-ID
 *   resource_policy   / ACCOUNT / RESOURCE-ARN        {"resourceArn", "policy": TEXT}
 *
 * Everything reachable from a struct mg_gateway lives as long as the snapshot it came from: hold
 * a reference to the snapshot (the event loop's reader does) while using it. All of it is
 * immutable; never free or modify it. */
#ifndef MG_AGENTCORE_H
#define MG_AGENTCORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "jwt/jwt.h"
#include "policy/policy.h"
#include "state/snapshot.h"
#include "targets/targets.h"
#include "vault/vault.h"

/* The bedrock-agentcore-control API (rest-json), for the composition root (struct mg_service in
 * call/call.h). Its state is the background worker that finishes transitional states. */
struct mg_service;
extern const struct mg_service mg_agentcore_service;
/* Its operations and handlers (the models of both AgentCore APIs, one signing name). */
struct mg_call_api;
extern const struct mg_call_api mg_agentcore_api;
/* Wakes the background workers (the lifecycle worker and the synchronization of MCP-server
 * targets) of the service state mg_agentcore_service's start returned (NULL is fine): what a
 * write does, for changes that other nodes wrote (state/feed.h). */
void mg_agentcore_kick(void *service_state);

/* Lifecycle of a gateway (GatewayStatus) and of a target (TargetStatus). */
enum mg_agentcore_status {
    MG_AGENTCORE_CREATING = 0,
    MG_AGENTCORE_UPDATING,
    MG_AGENTCORE_UPDATE_UNSUCCESSFUL,
    MG_AGENTCORE_DELETING,
    MG_AGENTCORE_READY,
    MG_AGENTCORE_FAILED,
    MG_AGENTCORE_SYNCHRONIZING,
    MG_AGENTCORE_SYNCHRONIZE_UNSUCCESSFUL,
};
/* "CREATING", "READY", ... */
const char *mg_agentcore_status_str(enum mg_agentcore_status s);

/* The gateway's inbound authorizer (authorizerType). */
enum mg_gateway_authorizer {
    MG_GATEWAY_AUTH_AWS_IAM = 0,
    MG_GATEWAY_AUTH_CUSTOM_JWT,
    MG_GATEWAY_AUTH_NONE,
    MG_GATEWAY_AUTH_AUTHENTICATE_ONLY,
};
const char *mg_gateway_authorizer_str(enum mg_gateway_authorizer a);

/* What a target fronts (the member of targetConfiguration.mcp). Lambda tools come from the
 * target's inline tool schema; the others from the "_tools" the control plane derived (OpenAPI,
 * Smithy: at creation; MCP servers: at synchronization). OTHER is never created. */
enum mg_target_kind {
    MG_TARGET_LAMBDA = 0,
    MG_TARGET_OPENAPI,
    MG_TARGET_SMITHY,
    MG_TARGET_MCP_SERVER,
    MG_TARGET_OTHER,
};

struct mg_gateway;
struct mg_gateway_target;

/* One tool as the data plane serves it. Its schemas and call description are kept as compact
 * JSON text, not as JSON trees (a tree costs about ten times its text: 100,000 tools would hold
 * hundreds of megabytes); mg_tool_input_schema and mg_tool_call parse them when a call needs
 * them. The text lives in the catalog's one block of text. */
struct mg_tool {
    const char *full_name; /* "TARGETNAME___TOOLNAME" */
    size_t full_name_len;
    const struct mg_gateway_target *target;
    const char *name;        /* the tool's own name (what the Lambda knows) */
    const char *description; /* may be "" */
    /* inputSchema (a JSON object, never empty) and outputSchema (len 0: none) as compact JSON,
     * inside json below (not NUL-terminated) */
    struct mg_slice input_schema_json, output_schema_json;
    /* What the target kind needs to call it (the tool's "_call" in "_tools": targets/targets.h)
     * as compact JSON (not NUL-terminated: in the catalog's block or in the target document's
     * "_tools" text), or len 0 (Lambda tools) */
    struct mg_slice call_json;
    /* The MCP Tool object for tools/list, compact JSON (inside its page: not NUL-terminated):
     * {"name":FULL,"description":...,"inputSchema":{...}[,"outputSchema":{...}]} */
    const char *json;
    size_t json_len;
};

/* The tool's inputSchema and "_call" as JSON (a new reference: json_decref it), or NULL when it
 * has none (call) or out of memory. */
json_t *mg_tool_input_schema(const struct mg_tool *t);
json_t *mg_tool_call(const struct mg_tool *t);

#define MG_TOOL_PAGE_SIZE_DEFAULT 100u

/* The tools of a gateway: every tool of its READY targets, sorted bytewise by full_name (a
 * stable order: the same targets give the same catalog), with tools/list pages serialized in
 * advance. */
struct mg_tool_catalog {
    const struct mg_tool *tools;
    size_t n_tools;
    size_t page_size; /* tools per page (MG_TOOL_PAGE_SIZE_DEFAULT unless configured) */
    size_t n_pages;   /* ceil(n_tools / page_size); 0 when there are no tools */
    /* page_json[i] is the JSON array text "[tool,tool,...]" of page i (tools
     * [i*page_size, min(n_tools, (i+1)*page_size))). With no tools, n_pages is 0. */
    const char *const *page_json;
    const size_t *page_json_len;
    /* Changes whenever the set or content of the tools changes: put it in cursors so that a
     * cursor from an older catalog can be recognized (and refused or restarted). */
    uint64_t version;
    /* The one block of text the pages, the tools' strings and their JSON live in (owned). */
    const char *text;
};

struct mg_gateway_target {
    const struct mg_gateway *gateway;
    const char *id; /* 10 characters [0-9A-Z] */
    const char *name;
    const char *description; /* or NULL */
    enum mg_agentcore_status status;
    enum mg_target_kind kind;
    const char *lambda_arn; /* LAMBDA: function ARN (qualifier included if given) */
    enum mg_credential_type credential_type;
    const json_t *doc; /* the stored document (GetGatewayTarget shape) */
};

/* authorizerConfiguration.customJWTAuthorizer of a CUSTOM_JWT gateway, compiled with the
 * snapshot (strings borrowed from the gateway's document unless said). */
struct mg_gateway_jwt {
    const char *discovery_url;
    /* discoveryUrl without "/.well-known/openid-configuration" (owned): the issuer named before
     * the discovery document is fetched */
    const char *issuer_hint;
    /* allowedAudience, allowedClients, allowedScopes, customClaims; issuer, now and skew are
     * set per request */
    struct mg_jwt_rules rules;
    /* the scopes advertised to clients (allowedScopes through advertisedScopeMapping), joined
     * with spaces (owned), or NULL when allowedScopes is not set */
    const char *scope_challenge;
    const char *prm_url; /* the protected-resource metadata document's URL (owned) */
};

struct mg_gateway {
    const char *id;  /* "name-xxxxxxxxxx" */
    const char *arn; /* arn:aws:bedrock-agentcore:REGION:ACCOUNT:gateway/ID */
    const char *account;
    const char *region;
    const char *name;
    const char *description; /* or NULL */
    const char *url;         /* gatewayUrl */
    enum mg_agentcore_status status;
    enum mg_gateway_authorizer authorizer;
    /* authorizerConfiguration.customJWTAuthorizer, or NULL */
    const json_t *jwt_authorizer;
    const struct mg_gateway_jwt *jwt; /* compiled jwt_authorizer, or NULL */
    const char *protocol_type;        /* "MCP", or NULL when not set */
    /* protocolConfiguration.mcp.supportedVersions; none given: every version AgentCore
     * supports (n_supported_versions is then 0 and supported_versions NULL). */
    const char *const *supported_versions;
    size_t n_supported_versions;
    bool search_semantic;     /* searchType SEMANTIC */
    const char *instructions; /* or NULL */
    bool exception_debug;     /* exceptionLevel DEBUG */
    bool has_session_config;  /* protocolConfiguration.mcp.sessionConfiguration present */
    int session_timeout_s;    /* its sessionTimeoutInSeconds (default 3600) */
    bool response_streaming;  /* streamingConfiguration.enableResponseStreaming */
    const char *role_arn;
    const char *kms_key_arn;    /* or NULL */
    const json_t *interceptors; /* interceptorConfigurations array, or NULL */
    /* The compiled resource-based policy (PutResourcePolicy on the gateway ARN), or NULL: pass it
     * as struct mg_authz_resource.policy for bedrock-agentcore:InvokeGateway. */
    const struct mg_policy *resource_policy;
    const json_t *tags; /* {"key": "value"} (never NULL; may be empty) */
    const json_t *doc;  /* the stored document */
    /* GetGateway's answer and ListGateways' item for this gateway as JSON text, made on first
     * use and kept (owned) with the snapshot's gateway (agentcore/internal.h) */
    struct mg_gateway_json *_Atomic json;
    /* Targets not being deleted, sorted by id. */
    const struct mg_gateway_target *targets;
    size_t n_targets;
    struct mg_tool_catalog catalog;
};

/* The gateway with this id (not an ARN) in the snapshot, or NULL. Gateways being deleted are not
 * returned; a gateway in another state is (check status: the data plane serves only READY and
 * UPDATING, UPDATE_UNSUCCESSFUL gateways). */
const struct mg_gateway *mg_agentcore_gateway(const struct mg_snapshot *snap,
                                              struct mg_slice gateway_id);
/* What the vault needs of a target to resolve its outbound credentials (borrows from the
 * snapshot the target lives in). */
struct mg_vault_target mg_agentcore_vault_target(const struct mg_gateway_target *t);
/* A tool of the gateway's catalog by its full name, or NULL (binary search). */
const struct mg_tool *mg_agentcore_find_tool(const struct mg_gateway *gw,
                                             struct mg_slice full_name);
/* The compiled resource-based policy stored for any resource ARN, or NULL. */
const struct mg_policy *mg_agentcore_resource_policy(const struct mg_snapshot *snap,
                                                     struct mg_slice arn);
/* Every gateway of the snapshot (all accounts), sorted by (account, id). */
const struct mg_gateway *const *mg_agentcore_gateways(const struct mg_snapshot *snap, size_t *n);

/* ---- internals shared with the unit tests ---------------------------------------------- */

/* Registers the snapshot extension (idempotent); mg_agentcore_start calls it. */
void mg_agentcore_init(void);
/* Registers how snapshots keep AgentCore documents in memory (idempotent; mg_agentcore_init
 * calls it): before the first snapshot, or the documents it read stay as they were stored. */
void mg_agentcore_register_docs(void);
/* Page size used by the catalogs of snapshots built from now on (0: default). */
void mg_agentcore_set_page_size(size_t n);

#endif
