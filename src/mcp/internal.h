/* src/mcp/internal.h: pieces of the MCP data plane shared between its files and the unit tests.
 *
 *   transport.c     HTTP rules (methods, Accept, Origin/Host, versions, sessions), inbound
 *                   authentication and authorization, assembling the reply
 *   jsonrpc.c       parsing and classifying JSON-RPC messages, error and result envelopes
 *   session.c       Mcp-Session-Id tokens and tools/list cursors
 *   revoke.c        ended sessions (DELETE): bounded, in memory, never stored
 *   ended.c         ended sessions shared through a PostgreSQL store: one bounded row per gateway
 *   tools.c         initialize, ping, tools/list (cursors), tools/call routing, the schema checker
 *   search.c        x_amz_bedrock_agentcore_search (BM25)
 *   lambda_target.c tools/call of Lambda targets (role session, lambda:InvokeFunction, invoke) and
 *                   notifications/cancelled
 *   http_target.c   tools/call of OpenAPI and Smithy targets (outbound HTTP)
 *   server_target.c tools/call of MCP-server targets (an MCP client session upstream) */
#ifndef MG_MCP_INTERNAL_H
#define MG_MCP_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentcore/agentcore.h"
#include "call/call.h"
#include "lambda/lambda.h"
#include "base/err.h"
#include "base/slice.h"

/* ---- limits ---------------------------------------------------------------------------------- */

#define MG_MCP_MAX_DEPTH 64         /* JSON nesting of a request body */
#define MG_MCP_MAX_ID 256           /* bytes of a request id (string, or integer text) */
#define MG_MCP_MAX_BATCH 64         /* messages in one 2025-03-26 batch */
#define MG_MCP_MAX_METHOD 128       /* bytes of a method name */
#define MG_MCP_SEARCH_RESULTS 10    /* tools returned by the search tool */
#define MG_MCP_SESSION_MAX 2048     /* bytes of an Mcp-Session-Id */
#define MG_MCP_REVOKE_ENTRIES 65536 /* ended sessions remembered one by one, all gateways */
#define MG_MCP_REVOKE_GATEWAYS 1024 /* gateways with ended sessions or a floor at once */

/* JSON-RPC and transport error codes. */
#define MG_JSONRPC_PARSE_ERROR (-32700)
#define MG_JSONRPC_INVALID_REQUEST (-32600)
#define MG_JSONRPC_METHOD_NOT_FOUND (-32601)
#define MG_JSONRPC_INVALID_PARAMS (-32602)
#define MG_JSONRPC_INTERNAL_ERROR (-32603)
#define MG_JSONRPC_SERVER_ERROR (-32000) /* HTTP-level problems, as the MCP SDK reports them */

#define MG_MCP_SEARCH_TOOL "x_amz_bedrock_agentcore_search"
#define MG_MCP_GENERIC_ERROR "An internal error occurred. Please retry later."

/* ---- protocol versions ----------------------------------------------------------------------- */

enum mg_mcp_version {
    MG_MCP_V_NONE = 0,
    MG_MCP_V_2025_03_26,
    MG_MCP_V_2025_06_18,
    MG_MCP_V_2025_11_25,
};
#define MG_MCP_V_LATEST MG_MCP_V_2025_11_25

const char *mg_mcp_version_str(enum mg_mcp_version v);
/* A version this server speaks, or MG_MCP_V_NONE. */
enum mg_mcp_version mg_mcp_version_parse(struct mg_slice s);
/* Whether the gateway admits v (its supportedVersions, all three when it lists none). */
bool mg_mcp_gateway_supports(const struct mg_gateway *gw, enum mg_mcp_version v);
/* The newest version the gateway admits (MG_MCP_V_NONE when it lists none this server speaks). */
enum mg_mcp_version mg_mcp_gateway_latest(const struct mg_gateway *gw);
/* "2025-03-26, 2025-06-18" for messages. */
void mg_mcp_gateway_versions_text(const struct mg_gateway *gw, char *out, size_t cap);

/* ---- JSON-RPC -------------------------------------------------------------------------------- */

enum mg_jsonrpc_kind {
    MG_JSONRPC_REQUEST = 0,
    MG_JSONRPC_NOTIFICATION,
    MG_JSONRPC_RESPONSE,
    MG_JSONRPC_INVALID, /* answer with err_code / err_msg (id when one could be read) */
};

/* One message of a body. Pointers borrow from the parsed document (or the body). */
struct mg_jsonrpc_msg {
    enum mg_jsonrpc_kind kind;
    const json_t *obj;    /* NULL when read without a tree */
    const char *method;   /* requests and notifications */
    const json_t *id;     /* requests and responses; NULL when absent or unusable */
    const json_t *params; /* object, or NULL */
    int err_code;         /* MG_JSONRPC_INVALID */
    const char *err_msg;
    /* Read without a tree (mg_jsonrpc_parse's fast path): params is NULL whatever the body
     * held, and the little its method reads of them is here. */
    bool fast;
    struct mg_slice cursor; /* params.cursor, a string (ptr NULL when absent or null) */
};

/* A parsed body: one message, or a batch. */
struct mg_jsonrpc_body {
    json_t *root; /* owned: the document (NULL on the fast path) */
    json_t *id;   /* owned: the fast path's id */
    bool batch;
    struct mg_jsonrpc_msg *msgs; /* n entries: `one`, or owned for a batch */
    size_t n;
    struct mg_jsonrpc_msg one;
    char method[MG_MCP_MAX_METHOD + 1]; /* the fast path's method, when not a literal */
};

/* Parses a POST body. MG_E_PARSE: not JSON, invalid UTF-8 or nested deeper than
 * MG_MCP_MAX_DEPTH (answer -32700); MG_E_INVALID: an empty batch, a batch longer than
 * MG_MCP_MAX_BATCH, or a top-level value that is neither object nor array (answer -32600);
 * MG_E_NOMEM. On success every message is classified, invalid ones included.
 * A single valid request whose method reads at most a cursor of its params (ping, tools/list,
 * notifications other than notifications/cancelled) is read by base/jscan.h without a tree
 * (msgs[0].fast); everything else, invalid bodies included, by mg_jsonrpc_parse_tree, with the
 * same outcome. The body must outlive out. */
MG_MUST_USE enum mg_err mg_jsonrpc_parse(struct mg_slice body, struct mg_jsonrpc_body *out,
                                         struct mg_errinfo *ei);
/* The same with a jansson tree always (exposed for tests). */
MG_MUST_USE enum mg_err mg_jsonrpc_parse_tree(struct mg_slice body, struct mg_jsonrpc_body *out,
                                              struct mg_errinfo *ei);
void mg_jsonrpc_body_cleanup(struct mg_jsonrpc_body *b);
/* Classifies one value (exposed for tests). */
void mg_jsonrpc_classify(const json_t *v, struct mg_jsonrpc_msg *out);
/* Bytes nesting check without parsing: true when no value nests deeper than max. */
bool mg_jsonrpc_depth_ok(struct mg_slice body, int max);

/* Appends the id as JSON ("null" for NULL). */
MG_MUST_USE enum mg_err mg_jsonrpc_append_id(struct mg_buf *b, const json_t *id);
/* {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M[,"data":DATA]}} */
MG_MUST_USE enum mg_err mg_jsonrpc_error(struct mg_buf *b, const json_t *id, int code,
                                         const char *msg, const json_t *data);
/* {"jsonrpc":"2.0","id":ID,"result": — the caller appends the result and then "}". */
MG_MUST_USE enum mg_err mg_jsonrpc_result_open(struct mg_buf *b, const json_t *id);

/* ---- session ids ----------------------------------------------------------------------------- */

struct mg_mcp_session {
    char sid[33]; /* 32 hex: names the session in the revocation list */
    char gateway_id[128];
    char caller[512]; /* principal ARN ("anonymous" for NONE gateways) */
    enum mg_mcp_version version;
    int64_t expires;   /* epoch seconds */
    int64_t issued_ms; /* epoch milliseconds */
};

/* Seals s (a fresh random sid and the issue time, now, are written into it) into out as
 * base64url. */
MG_MUST_USE enum mg_err mg_mcp_session_seal(const uint8_t key[32], struct mg_mcp_session *s,
                                            struct mg_buf *out);
/* Opens a token: MG_E_AUTH when it is garbage, tampered with, sealed under another key or for
 * another purpose (an STS session token never opens here). Expiry is not checked. */
MG_MUST_USE enum mg_err mg_mcp_session_open(const uint8_t key[32], struct mg_slice token,
                                            struct mg_mcp_session *out);
/* Opens token and checks that it belongs to this gateway and caller and has not expired at now:
 * false for anything else (the transport answers 404). Revocation is checked separately. */
bool mg_mcp_session_check(const uint8_t key[32], struct mg_slice token, const char *gateway_id,
                          const char *caller, int64_t now, struct mg_mcp_session *out);
/* ---- ended sessions (revoke.c) ---------------------------------------------------------------- */

/* The list of ended sessions: at most max_entries sessions one by one and max_gateways gateway
 * records (MG_MCP_REVOKE_*), and a global floor at start_ms (sessions issued at or before it are
 * ended). MG_E_INVALID for zero sizes, MG_E_NOMEM. Released with mg_mcp_revoke_free (NULL is
 * fine). */
struct mg_mcp_revocations;
MG_MUST_USE enum mg_err mg_mcp_revoke_new(size_t max_entries, size_t max_gateways, int64_t start_ms,
                                          struct mg_mcp_revocations **out);
void mg_mcp_revoke_free(struct mg_mcp_revocations *r);
/* Whether the session was ended: by DELETE, or by a floor that covers its issue time (true as
 * well without a list, r NULL). Expiry is checked by mg_mcp_session_check. */
bool mg_mcp_session_revoked(struct mg_mcp_revocations *r, const struct mg_mcp_session *s);
/* Ends the session: afterwards mg_mcp_session_revoked(r, s) is true until it expires. Never
 * stores anything and never grows past its bounds: when full, a floor ends more sessions instead
 * (see revoke.c). MG_E_INVALID for a malformed sid, MG_E_INTERNAL without a list (r NULL). */
MG_MUST_USE enum mg_err mg_mcp_session_revoke(struct mg_mcp_revocations *r,
                                              const struct mg_mcp_session *s, int64_t now_ms);

struct mg_mcp_revoke_stats {
    size_t entries, gateways, max_entries;
    size_t bytes; /* memory held, fixed at creation */
    int64_t global_floor_ms;
};
void mg_mcp_revoke_stats(struct mg_mcp_revocations *r, struct mg_mcp_revoke_stats *out);

/* ---- ended sessions shared through the store (ended.c) ------------------------------------- */

#define MG_MCP_ENDED_KIND "mcp_session_ended"
#define MG_MCP_ENDED_MAX 256 /* sids per gateway row; past it the row's floor rises to now */

/* One DELETE to share (sid set), or a floor (sid empty, floor_ms set). */
struct mg_mcp_ended_item {
    char account[64];
    char gateway_id[128];
    char sid[33];
    int64_t expires;   /* epoch seconds */
    int64_t issued_ms; /* of the session */
    int64_t floor_ms;  /* 0, or: every session of the gateway issued at or before it is ended */
};
/* Whether the gateway's stored row (a snapshot document, or NULL) ends the session. */
bool mg_mcp_ended_check(const json_t *row, const struct mg_mcp_session *s);
/* The row (NULL: none yet) with the items of its gateway merged in, expired sids dropped and the
 * floor raised to now_ms when more than MG_MCP_ENDED_MAX sids would remain; *out NULL when the
 * row covers nothing any more (delete it). MG_E_NOMEM. */
MG_MUST_USE enum mg_err mg_mcp_ended_merge(const json_t *row, const struct mg_mcp_ended_item *items,
                                           size_t n, int64_t now_ms, json_t **out);

/* ---- cursors --------------------------------------------------------------------------------- */

/* base64url( version (8, big endian) | page (4) | check (8) ), check = HMAC-SHA256(key,
 * "mcpgate-mcp-cursor-1" | gateway id | version | page) truncated. */
MG_MUST_USE enum mg_err mg_mcp_cursor_make(const uint8_t key[32], const char *gateway_id,
                                           uint64_t version, uint32_t page, struct mg_buf *out);
/* true with *page when the cursor is well formed, authentic, for this gateway and this catalog
 * version; false otherwise (answer -32602 "Invalid cursor"). */
bool mg_mcp_cursor_parse(const uint8_t key[32], const char *gateway_id, uint64_t version,
                         struct mg_slice cursor, uint32_t *page);

/* ---- JSON Schema subset ---------------------------------------------------------------------- */

/* Checks value against schema for the keywords type (a name or a list), enum, const, required,
 * properties, additionalProperties (false or a schema), items (a schema), minimum, maximum,
 * minLength, maxLength, minItems, maxItems; other keywords are ignored (they pass). false with a
 * message like "arguments.count: expected integer" on the first violation. */
bool mg_mcp_schema_check(const json_t *schema, const json_t *value, char *msg, size_t cap);

/* ---- search ---------------------------------------------------------------------------------- */

/* Ranks the catalog's tools against query with BM25 over their names (split at '_', '-', '.',
 * and case changes), descriptions and input-schema property names. Writes up to max indexes into
 * catalog->tools, best first, only tools with a positive score; returns how many. */
size_t mg_mcp_search(const struct mg_tool_catalog *catalog, const char *query, size_t *out,
                     size_t max);
/* The search tool's MCP Tool object (JSON text). */
extern const char mg_mcp_search_tool_json[];

/* ---- one request body being answered --------------------------------------------------------- */

/* The answer to a POST: one slot per request of the body (a batch has several). Slots are filled
 * synchronously on the loop or later by a Lambda callback; the reply is sent when the last slot
 * is done. `pending` counts unfinished slots plus one hold by the dispatcher. */
struct mg_mcp_reply {
    const struct mg_env *env;
    struct mg_http_exchange *x;
    bool batch;
    bool sse; /* answer as an SSE stream (one event per response) */
    size_t n_slots;
    struct mg_buf *slots; /* each a complete JSON-RPC response, or empty (nothing to send);
                             `one` for a single request, else owned */
    struct mg_buf one;
    atomic_int pending;
    char request_id[37];
};

/* Marks one unit of the reply done; the caller that brings pending to zero sends it (on_loop:
 * on the exchange's loop, else via mg_http_send_from_thread) and frees the reply. */
void mg_mcp_reply_release(struct mg_mcp_reply *r, bool on_loop);

/* What a method handler knows about its request. */
struct mg_mcp_ctx {
    const struct mg_env *env;
    struct mg_lambda *lambda;   /* Lambda targets are invoked here (may be NULL) */
    struct mg_mcp_roles *roles; /* the module's role sessions */
    const struct mg_http_req *req;
    struct mg_snapshot *snap;
    const struct mg_gateway *gw;
    const struct mg_principal *principal; /* the caller (type NONE on NONE gateways) */
    const char *caller;                   /* principal ARN or "anonymous" */
    enum mg_mcp_version version;          /* negotiated, or assumed */
    struct mg_mcp_reply *reply;
    size_t slot;
    struct mg_http_exchange *x;
    /* initialize may set the session id to send (header added by the transport) */
    struct mg_buf *new_session;
    enum mg_mcp_version *negotiated;
};

/* Handles one request (fills reply slot, or goes async and holds the reply). */
void mg_mcp_tools_request(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m);
/* Handles one notification. */
void mg_mcp_tools_notification(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m);

/* Answers the handler's slot at once with a tool failure (detail logged; the generic text, or
 * the detail with exceptionLevel DEBUG), or an internal error when even that cannot be built. */
void mg_mcp_fail_now(struct mg_mcp_ctx *c, const json_t *id, const char *detail);
/* A tool failure as a CallToolResult: the generic text, or with DEBUG the detail in the text and
 * in _meta.debug. Writes the whole JSON-RPC response. */
MG_MUST_USE enum mg_err mg_mcp_tool_failure(struct mg_buf *b, const json_t *id, bool debug,
                                            const char *detail);

/* Lambda targets: starts the invocation (fills the slot itself on synchronous failures). */
void mg_mcp_lambda_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments);
/* ---- tool calls in flight (inflight.c) ------------------------------------------------------- */

/* What notifications/cancelled can reach of a tools/call in flight: embedded in each target
 * kind's call record. The key strings are owned. */
struct mg_mcp_inflight {
    struct mg_mcp_inflight *prev, *next;
    bool registered, claimed;
    struct mg_mcp_reply *reply;
    size_t slot;
    char *gateway_id, *caller, *id_text;
};
/* The request id as JSON text (mg_free), or NULL when out of memory. */
char *mg_mcp_id_text(const json_t *id);
/* Fills f for the call answering reply's slot. MG_E_NOMEM (f is then clean). */
MG_MUST_USE enum mg_err mg_mcp_inflight_init(struct mg_mcp_inflight *f, struct mg_mcp_reply *reply,
                                             size_t slot, const char *gateway_id,
                                             const char *caller, const json_t *id);
/* Holds the reply for the slot (one more pending unit) and makes the call cancellable. */
void mg_mcp_inflight_register(struct mg_mcp_inflight *f);
/* Claims the slot: true for the first caller only (the call's answer, or a cancel, which then
 * answered and released the slot itself). */
bool mg_mcp_inflight_claim(struct mg_mcp_inflight *f);
/* Whether the slot was claimed already (by a cancel), without claiming it. */
bool mg_mcp_inflight_claimed(struct mg_mcp_inflight *f);
/* Unregisters f if it still is, and frees its strings. */
void mg_mcp_inflight_cleanup(struct mg_mcp_inflight *f);
/* notifications/cancelled: the call of this caller on this gateway with this request id, of any
 * target kind, has its slot emptied and released; its answer is dropped when it comes. */
void mg_mcp_cancel(const char *gateway_id, const char *caller, const json_t *request_id);

/* OpenAPI and Smithy targets (http_target.c): builds the request from the tool's "_call",
 * adds the target's outbound credentials, sends it with the outbound client and answers the slot
 * from the client's thread (fills the slot itself on synchronous failures). */
void mg_mcp_http_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                      const struct mg_tool *tool, const json_t *arguments);
/* MCP-server targets (server_target.c): forwards tools/call to the upstream server. */
void mg_mcp_server_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments);
/* listingMode DYNAMIC (server_target.c): whether the gateway has READY DYNAMIC MCP-server
 * targets; then tools/list answers with mg_mcp_server_list (one page: the catalog's other tools
 * and each DYNAMIC target's tools listed live), and a tools/call of a name the catalog lacks goes
 * to mg_mcp_server_dynamic_call (false: no DYNAMIC target has that prefix). */
bool mg_mcp_server_dynamic(const struct mg_gateway *gw);
void mg_mcp_server_list(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m);
bool mg_mcp_server_dynamic_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                                struct mg_slice name, const json_t *arguments);
/* The gateways' role sessions, cached per loop (the module's state; NULL when out of memory). */
struct mg_mcp_roles *mg_mcp_roles_new(void);
void mg_mcp_roles_free(struct mg_mcp_roles *r);

#endif
