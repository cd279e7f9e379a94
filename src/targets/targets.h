/* src/targets/targets.h: the target kinds reached over HTTP (OpenAPI, Smithy, MCP servers):
 * a target's schema becomes tools when the target is created, a tool call becomes an HTTP
 * request, and the answer becomes a CallToolResult. The functions here are pure (no I/O); the
 * MCP data plane sends the requests with http/client.h and the outbound credentials of
 * vault/vault.h.
 *
 * Tools a schema derives are a JSON array of objects, stored in the target's document as its
 * private member "_tools" and served from every snapshot:
 *   {"name": TOOL, "description": TEXT, "inputSchema": {...}[, "outputSchema": {...}],
 *    "_call": {...what the kind needs to build the request: method, path, bindings...}}
 * TOOL matches MCP's alphabet [A-Za-z0-9_.-]+; the gateway lists it as TARGET___TOOL. */
#ifndef MG_TARGETS_H
#define MG_TARGETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/slice.h"
#include "http/client.h"

/* credentialProviderConfigurations[0].credentialProviderType. */
enum mg_credential_type {
    MG_CRED_NONE = 0, /* no credential provider configured */
    MG_CRED_GATEWAY_IAM_ROLE,
    MG_CRED_OAUTH,
    MG_CRED_API_KEY,
    MG_CRED_CALLER_IAM_CREDENTIALS,
    MG_CRED_JWT_PASSTHROUGH,
};

/* ---- one outbound request being built ---------------------------------------------------- */

struct mg_target_req {
    char method[8];    /* "GET", "POST", ... */
    struct mg_buf url; /* absolute URL, query included (mg_buf_cstr for the text) */
    char *headers[MG_HTTP_CLIENT_MAX_HEADERS]; /* "Name: value", owned */
    size_t n_headers;
    struct mg_buf body;
};

void mg_target_req_init(struct mg_target_req *r);
void mg_target_req_cleanup(struct mg_target_req *r);
/* Adds "name: value". MG_E_INVALID for CR/LF/NUL in either or too many headers. */
MG_MUST_USE enum mg_err mg_target_req_header(struct mg_target_req *r, const char *name,
                                             struct mg_slice value);
/* The value of a header already added (name compared without case), or NULL. */
const char *mg_target_req_header_value(const struct mg_target_req *r, const char *name);
/* Appends s percent-encoded: every byte but RFC 3986's unreserved characters (A-Z a-z 0-9 - _
 * . ~) as %XX, upper-case hex. */
MG_MUST_USE enum mg_err mg_target_pct_encode(struct mg_buf *b, struct mg_slice s);
/* Appends name=value to the URL's query ('?' or '&'), both percent-encoded (RFC 3986
 * unreserved characters stay). */
MG_MUST_USE enum mg_err mg_target_req_query(struct mg_target_req *r, struct mg_slice name,
                                            struct mg_slice value);
/* The request as mg_http_fetch takes it, borrowing from r (r must outlive the call). */
void mg_target_req_view(struct mg_target_req *r, struct mg_http_out_req *out);

/* Whether s is a tool name in MCP's alphabet: one or more of [A-Za-z0-9_.-]. */
bool mg_target_tool_name_ok(const char *s);

/* ---- limits of a schema ------------------------------------------------------------------- */

struct mg_target_limits {
    size_t max_tools;       /* tools of one target (quota tools_per_target) */
    size_t max_name;        /* bytes of TARGET___TOOL (quota tool_name_len) */
    size_t target_name_len; /* bytes of the target's name (for the full-name limit) */
};

/* ---- YAML (yaml.c) ------------------------------------------------------------------------- */

struct mg_yaml_limits {
    size_t max_bytes;   /* of the text */
    size_t max_depth;   /* nested mappings and sequences */
    size_t max_nodes;   /* values, every alias counting the full size of what it names */
    size_t max_aliases; /* uses of an anchor */
};

/* Converts one YAML document (YAML 1.2 core schema for plain scalars; quoted stays a string;
 * mapping keys are texts) to a new JSON value. MG_E_PARSE (malformed), MG_E_INVALID (more than
 * one document, duplicate or complex keys, an unknown alias), MG_E_TOO_LARGE (a limit),
 * MG_E_NOMEM; msg says which, with the line. */
MG_MUST_USE enum mg_err mg_yaml_to_json(struct mg_slice in, const struct mg_yaml_limits *lim,
                                        json_t **out, char *msg, size_t cap);

/* ---- OpenAPI (openapi.c) ------------------------------------------------------------------- */

/* Size of an inline schema (AgentCore: 1 MB inline). */
#define MG_OPENAPI_MAX_BYTES (1024u * 1024)
/* Bytes of an answer turned into a result (AgentCore's data-plane payload limit). */
#define MG_OPENAPI_MAX_RESULT (6u * 1024 * 1024)

/* Parses an OpenAPI 3.0 or 3.1 document, JSON or YAML, and derives its tools (one per operation
 * with an operationId). MG_E_INVALID with AgentCore's wording in msg for a document AgentCore
 * refuses (Swagger 2.0, unsupported features, no server URL...), MG_E_NOMEM. */
MG_MUST_USE enum mg_err mg_openapi_tools(struct mg_slice payload,
                                         const struct mg_target_limits *lim, json_t **tools,
                                         char *msg, size_t cap);
/* Builds the request of one call (call: the tool's "_call"; args: the arguments object, already
 * checked against the inputSchema). MG_E_INVALID with msg for arguments it cannot place. */
MG_MUST_USE enum mg_err mg_openapi_request(const json_t *call, const json_t *args,
                                           struct mg_target_req *req, char *msg, size_t cap);
/* The CallToolResult for an HTTP answer (a new object; NULL when out of memory). */
json_t *mg_openapi_result(const json_t *call, long status, struct mg_slice content_type,
                          struct mg_slice body);

/* ---- Smithy (smithy.c) --------------------------------------------------------------------- */

/* Parses a Smithy JSON AST model and derives its tools (one per operation of the service).
 * MG_E_INVALID with AgentCore's wording in msg, MG_E_NOMEM. */
MG_MUST_USE enum mg_err mg_smithy_tools(struct mg_slice payload, const struct mg_target_limits *lim,
                                        json_t **tools, char *msg, size_t cap);
/* Builds the request of one call against endpoint (scheme://host[:port], no trailing slash),
 * serialized by the model's protocol. The caller signs it (SigV4: the "_call" names the
 * signing name as "signingName"). */
MG_MUST_USE enum mg_err mg_smithy_request(const json_t *call, const json_t *args,
                                          const char *endpoint, struct mg_target_req *req,
                                          char *msg, size_t cap);
json_t *mg_smithy_result(const json_t *call, long status, struct mg_slice content_type,
                         struct mg_slice body);

#endif
