/* src/targets/mcp_client.h: mcpgate as a client of the MCP servers that MCP-server targets
 * (targetConfiguration.mcp.mcpServer) front, over Streamable HTTP.
 *
 * Pure parts (mcp_client.c): the JSON-RPC requests mcpgate sends (initialize,
 * notifications/initialized, tools/list, tools/call), the HTTP request around them (Accept of
 * both application/json and text/event-stream, MCP-Protocol-Version and Mcp-Session-Id after
 * initialize), reading a POST's answer whether it is application/json or text/event-stream, and
 * turning listed tools into the "_tools" contract of targets/targets.h, with "_call":
 * {"tool": UPSTREAM-NAME}.
 *
 * The blocking synchronization (mcp_client_sync.c) runs on the control plane's background
 * thread: initialize, notifications/initialized, every page of tools/list, within an overall
 * limit (MG_MCP_CLIENT_SYNC_MS), each request shorter (MG_MCP_CLIENT_STEP_MS). */
#ifndef MG_TARGETS_MCP_CLIENT_H
#define MG_TARGETS_MCP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "http/client.h"
#include "targets/targets.h"

/* The version mcpgate asks for first; the server's answer is accepted when it is one of
 * mg_mcp_client_version_ok's. */
#define MG_MCP_CLIENT_VERSION "2025-11-25"
#define MG_MCP_CLIENT_SYNC_MS 40000L   /* a whole synchronization */
#define MG_MCP_CLIENT_STEP_MS 20000L   /* one request of it (AgentCore's observed 20 s per step) */
#define MG_MCP_CLIENT_CALL_MS 300000L  /* one forwarded tools/call */
#define MG_MCP_CLIENT_MAX_PAGES 100    /* tools/list pages of one synchronization */
#define MG_MCP_CLIENT_MAX_EVENTS 4096  /* SSE events read from one answer */
#define MG_MCP_CLIENT_MAX_DEPTH 64     /* JSON nesting of an upstream message */
#define MG_MCP_CLIENT_MAX_SESSION 1024 /* bytes of an upstream Mcp-Session-Id */
#define MG_MCP_CLIENT_MAX_CURSOR 4096  /* bytes of an upstream nextCursor */

/* AgentCore's status reason for a synchronization that could not reach the server or list its
 * tools; mcpgate appends a sentence saying what happened. */
#define MG_MCP_CLIENT_SYNC_FAILED                                                                  \
    "Failed to connect and fetch tools from the provided MCP target server. Please check the "     \
    "server endpoint or tool capability support."

/* ---- requests ------------------------------------------------------------------------------ */

/* Whether the server's protocolVersion is one mcpgate speaks with upstreams (2025-03-26,
 * 2025-06-18, 2025-11-25). */
bool mg_mcp_client_version_ok(struct mg_slice v);

/* JSON-RPC texts (appended to out). id: mcpgate's own request id. */
MG_MUST_USE enum mg_err mg_mcp_client_initialize(struct mg_buf *out, int64_t id);
MG_MUST_USE enum mg_err mg_mcp_client_initialized(struct mg_buf *out);
/* cursor NULL or empty: the first page. */
MG_MUST_USE enum mg_err mg_mcp_client_list(struct mg_buf *out, int64_t id, const char *cursor);
/* arguments: an object, or NULL for {}. */
MG_MUST_USE enum mg_err mg_mcp_client_call(struct mg_buf *out, int64_t id, const char *tool,
                                           const json_t *arguments);

/* The HTTP POST of one message to endpoint: Content-Type and Accept, and (when given) the
 * session id and the negotiated version. req must be initialized (mg_target_req_init); its body
 * gets a copy of body. MG_E_INVALID for a session id outside visible ASCII. */
MG_MUST_USE enum mg_err mg_mcp_client_post(struct mg_target_req *req, const char *endpoint,
                                           struct mg_slice body, const char *session,
                                           const char *version);

/* ---- answers ------------------------------------------------------------------------------- */

/* Finds the JSON-RPC response to request id in a POST's answer body: content_type
 * application/json (one message, or a batch) or text/event-stream (events separated by blank
 * lines, their data: lines joined with "\n"; requests and notifications from the server are
 * skipped). On MG_E_OK *response is the response object (a new reference: it has "result" or
 * "error"). MG_E_PARSE: another content type, malformed JSON, a message nested deeper than
 * MG_MCP_CLIENT_MAX_DEPTH; MG_E_NOT_FOUND: no response with that id; MG_E_TOO_LARGE: more than
 * MG_MCP_CLIENT_MAX_EVENTS events; MG_E_NOMEM. msg (cap bytes) says which, naming no content. */
MG_MUST_USE enum mg_err mg_mcp_client_answer(struct mg_slice content_type, struct mg_slice body,
                                             int64_t id, json_t **response, char *msg, size_t cap);

/* Adds the tools of one tools/list result ({"tools": [...], "nextCursor"?}) to tools (an array
 * in the "_tools" shape). MG_E_INVALID with the status reason in msg: result not a list, a tool
 * without a name, a name outside [A-Za-z0-9_.-]+ or longer than lim->max_name allows once
 * prefixed with the target's name and "___", a duplicate name, more than lim->max_tools tools.
 * *next_cursor: the page's nextCursor (a new string, mg_free) or NULL at the end. */
MG_MUST_USE enum mg_err mg_mcp_client_add_tools(json_t *tools, const json_t *result,
                                                const struct mg_target_limits *lim,
                                                char **next_cursor, char *msg, size_t cap);

/* ---- the synchronization (mcp_client_sync.c; blocking) ------------------------------------ */

/* Puts the target's outbound credentials on req (the last step before sending). refresh: the
 * upstream answered 401 with the previous ones (an OAuth token is fetched anew). MG_E_OK, or an
 * error with a reason in msg. */
typedef enum mg_err (*mg_mcp_client_cred_fn)(void *arg, bool refresh, struct mg_target_req *req,
                                             char *msg, size_t cap);

struct mg_mcp_client_sync {
    struct mg_http_client *http;
    const char *endpoint;
    const char *ca_file;        /* or NULL */
    mg_mcp_client_cred_fn cred; /* or NULL: no credentials */
    void *cred_arg;
    struct mg_target_limits lim; /* max_tools, max_name, target_name_len */
    long total_ms;               /* 0: MG_MCP_CLIENT_SYNC_MS */
    long step_ms;                /* 0: MG_MCP_CLIENT_STEP_MS */
};

/* Connects, initializes, sends notifications/initialized, lists every page of tools (at most
 * MG_MCP_CLIENT_MAX_PAGES) and ends the upstream session. On MG_E_OK *tools is a new "_tools"
 * array. Otherwise reason (cap bytes) holds the target's status reason in AgentCore's words.
 * Blocks: only on threads that may. */
MG_MUST_USE enum mg_err mg_mcp_client_sync_tools(const struct mg_mcp_client_sync *s, json_t **tools,
                                                 char *reason, size_t cap);

#endif
