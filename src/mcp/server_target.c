/* tools/call of MCP-server targets: the call is forwarded upstream with the tool's own name (its
 * "_call".tool) and the arguments, over Streamable HTTP (targets/mcp_client.h), through the
 * outbound client (mg_http_fetch: never blocks the event loop; every step after the first runs
 * in the client's callback), with the target's outbound credentials (vault/vault.h).
 *
 * Upstream sessions are kept in a bounded table (S_SESSIONS entries, S_IDLE_S seconds idle) keyed
 * by (gateway, target, caller, the gateway's Mcp-Session-Id): each gateway session has its own
 * upstream session; a client without a gateway session shares one per (gateway, target, caller).
 * A call without a session in the table initializes one (initialize, notifications/initialized)
 * first. When the upstream answers 404 to a session it had given (it forgot it: restarted,
 * expired), or 400 as some servers do, the session is dropped, a new one initialized and the call
 * sent once more. A 401 fetches the credentials anew once (an OAuth token refreshed).
 *
 * The answer is the upstream's as it gave it: its result object becomes ours, its JSON-RPC error
 * ours with the same code, message and data. A server that cannot be reached or answers
 * something unreadable gives a tool failure (isError; the detail with exceptionLevel DEBUG). */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"
#include "targets/mcp_client.h"
#include "vault/vault.h"

#define S_SESSIONS 1024
#define S_IDLE_S 600
#define S_SESSION_LEN 256 /* upstream session ids longer than this are not kept */
#define S_STEP_MS 20000L

/* ---- the upstream sessions --------------------------------------------------------------------- */

struct s_entry {
    uint8_t key[32];
    int64_t last;
    bool used;
    char target[16];
    char session[S_SESSION_LEN + 1];
    char version[16];
};

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s_entry s_table[S_SESSIONS];
static atomic_llong s_next_id = 1;

/* The table's key: SHA-256 of (gateway, caller, the client's session id), so that no caller can
 * make its key meet another's (a short hash could be made to collide by a chosen role session
 * name). */
static bool s_key(uint8_t out[32], const char *gateway_id, const char *caller, const char *session)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, gateway_id, strlen(gateway_id) + 1) == 1 &&
              EVP_DigestUpdate(ctx, caller, strlen(caller) + 1) == 1 &&
              EVP_DigestUpdate(ctx, session, strlen(session) + 1) == 1 &&
              EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool s_get(const uint8_t key[32], const char *target, char *session, char *version)
{
    bool hit = false;
    int64_t now = mg_now();
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < S_SESSIONS; i++) {
        struct s_entry *e = &s_table[i];
        if (e->used && mg_memcmp(e->key, key, 32) == 0 && strcmp(e->target, target) == 0) {
            if (now - e->last > S_IDLE_S) {
                e->used = false;
                break;
            }
            e->last = now;
            snprintf(session, S_SESSION_LEN + 1, "%s", e->session);
            snprintf(version, 16, "%s", e->version);
            hit = true;
            break;
        }
    }
    pthread_mutex_unlock(&s_mu);
    return hit;
}

static void s_drop(const uint8_t key[32], const char *target)
{
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < S_SESSIONS; i++)
        if (s_table[i].used && mg_memcmp(s_table[i].key, key, 32) == 0 &&
            strcmp(s_table[i].target, target) == 0)
            s_table[i].used = false;
    pthread_mutex_unlock(&s_mu);
}

/* Keeps a session: replaces the key's entry, else takes a free or expired one, else the least
 * recently used. */
static void s_put(const uint8_t key[32], const char *target, const char *session,
                  const char *version)
{
    size_t sl = strlen(session);
    if (sl > S_SESSION_LEN)
        return;
    int64_t now = mg_now();
    pthread_mutex_lock(&s_mu);
    struct s_entry *slot = NULL, *lru = &s_table[0];
    for (size_t i = 0; i < S_SESSIONS; i++) {
        struct s_entry *e = &s_table[i];
        if (e->used && mg_memcmp(e->key, key, 32) == 0 && strcmp(e->target, target) == 0) {
            slot = e;
            break;
        }
        if (slot == NULL && (!e->used || now - e->last > S_IDLE_S))
            slot = e;
        if (e->last < lru->last)
            lru = e;
    }
    if (slot == NULL)
        slot = lru;
    slot->used = true;
    mg_memcpy(slot->key, key, 32);
    slot->last = now;
    snprintf(slot->target, sizeof(slot->target), "%s", target);
    mg_memcpy(slot->session, session, sl + 1);
    snprintf(slot->version, sizeof(slot->version), "%s", version);
    pthread_mutex_unlock(&s_mu);
}

/* ---- one call ---------------------------------------------------------------------------------- */

enum s_step { S_INIT = 0, S_INITIALIZED, S_CALL };

struct s_call {
    struct mg_mcp_inflight f; /* tools/call: what notifications/cancelled reaches (inflight.c) */
    bool cancellable;         /* f is registered (not for DYNAMIC listings) */
    char request_id[37];      /* for the log: the reply may be gone once a cancel released it */
    const struct mg_env *env;
    struct mg_snapshot *snap; /* held: the target and the credentials' inputs live in it */
    const struct mg_gateway_target *t;
    struct mg_vault_target vt; /* borrows from snap */
    struct mg_mcp_reply *reply;
    size_t slot;
    json_t *id;   /* the client's request id */
    json_t *args; /* a copy of the arguments */
    char *endpoint, *tool;
    uint8_t key[32];
    char target[16];
    struct mg_vault_cred *cred;
    enum s_step step;
    int64_t sent_id;
    bool cached;    /* the session came from the table */
    bool retried;   /* a forgotten session was re-initialized once */
    bool refreshed; /* credentials fetched anew after a 401 once */
    bool debug;
    char session[MG_MCP_CLIENT_MAX_SESSION + 1];
    char version[16];
    /* listing (DYNAMIC targets): tools/list instead of tools/call, page after page */
    struct s_agg *agg;
    char *cursor;
    int pages;
    json_t *listed; /* the tools listed so far, named TARGET___TOOL */
    char prefix[128];
};

/* A tools/list answer of a gateway with DYNAMIC targets: the catalog's other tools, then each
 * DYNAMIC target's tools as its server lists them now, in one page. */
struct s_agg {
    struct mg_mcp_reply *reply;
    size_t slot;
    json_t *id;
    atomic_int pending;
    pthread_mutex_t mu;
    struct mg_buf tools; /* "tool,tool,..." */
};

static void s_call_free(struct s_call *k)
{
    if (k->cred) {
        mg_vault_cred_cleanup(k->cred);
        mg_free(k->cred);
    }
    if (k->snap)
        mg_snapshot_unref(k->snap);
    json_decref(k->id);
    json_decref(k->args);
    json_decref(k->listed);
    mg_free(k->cursor);
    mg_free(k->endpoint);
    mg_free(k->tool);
    mg_mcp_inflight_cleanup(&k->f);
    mg_free(k);
}

/* Claims a tools/call's slot before it is answered: false when notifications/cancelled answered
 * it already (the call is then freed here, its answer dropped). */
static bool s_claim(struct s_call *k)
{
    if (!k->cancellable || mg_mcp_inflight_claim(&k->f))
        return true;
    s_call_free(k);
    return false;
}

static void s_agg_release(struct s_agg *a)
{
    if (atomic_fetch_sub(&a->pending, 1) != 1)
        return;
    struct mg_buf *b = &a->reply->slots[a->slot];
    mg_buf_reset(b);
    enum mg_err e = mg_jsonrpc_result_open(b, a->id);
    if (!e)
        e = mg_buf_append_cstr(b, "{\"tools\":[");
    if (!e)
        e = mg_buf_append_slice(b, mg_buf_slice(&a->tools));
    if (!e)
        e = mg_buf_append_cstr(b, "]}}");
    if (e) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, a->id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL))
            mg_buf_reset(b);
    }
    struct mg_mcp_reply *reply = a->reply;
    json_decref(a->id);
    mg_buf_cleanup(&a->tools);
    pthread_mutex_destroy(&a->mu);
    mg_free(a);
    mg_mcp_reply_release(reply, false);
}

/* Adds one compact JSON object to the answer's list. */
static enum mg_err s_agg_add(struct mg_buf *tools, const json_t *tool)
{
    char *text = json_dumps(tool, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = tools->len ? mg_buf_append_byte(tools, ',') : MG_E_OK;
    if (!e)
        e = mg_buf_append_cstr(tools, text);
    mg_free(text);
    return e;
}

static void s_finish(struct s_call *k)
{
    if (k->agg) {
        struct s_agg *a = k->agg;
        if (k->listed) {
            pthread_mutex_lock(&a->mu);
            size_t mark = a->tools.len, i;
            const json_t *t;
            enum mg_err e = MG_E_OK;
            json_array_foreach(k->listed, i, t)
            {
                if (!e)
                    e = s_agg_add(&a->tools, t);
            }
            if (e) /* this target's tools all or none */
                a->tools.len = mark;
            pthread_mutex_unlock(&a->mu);
        }
        s_call_free(k);
        s_agg_release(a);
        return;
    }
    struct mg_mcp_reply *reply = k->reply;
    s_call_free(k);
    mg_mcp_reply_release(reply, false);
}

static void s_fail(struct s_call *k, const char *fmt, ...) MG_PRINTF(2, 3);
static void s_fail(struct s_call *k, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (k->agg) {
        MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, k->request_id,
                   "tools/list of DYNAMIC target %s failed (its tools are left out): %s", k->target,
                   detail);
        json_decref(k->listed);
        k->listed = NULL;
        s_finish(k);
        return;
    }
    if (!s_claim(k))
        return;
    MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, k->request_id, "tools/call failed: %s", detail);
    struct mg_buf *b = &k->reply->slots[k->slot];
    mg_buf_reset(b);
    if (mg_mcp_tool_failure(b, k->id, k->debug, detail) != MG_E_OK) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, k->id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL))
            mg_buf_reset(b);
    }
    s_finish(k);
}

/* The upstream's response as ours. */
static void s_answer(struct s_call *k, const json_t *response)
{
    if (!s_claim(k))
        return;
    struct mg_buf *b = &k->reply->slots[k->slot];
    mg_buf_reset(b);
    enum mg_err e;
    const json_t *err = json_object_get(response, "error");
    if (err) {
        const json_t *code = json_object_get(err, "code");
        const char *msg = json_string_value(json_object_get(err, "message"));
        e = mg_jsonrpc_error(b, k->id,
                             json_is_integer(code) ? (int)json_integer_value(code)
                                                   : MG_JSONRPC_INTERNAL_ERROR,
                             msg ? msg : "", json_object_get(err, "data"));
    } else {
        char *text = json_dumps(json_object_get(response, "result"),
                                JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        e = text ? mg_jsonrpc_result_open(b, k->id) : MG_E_NOMEM;
        if (!e)
            e = mg_buf_append_cstr(b, text);
        if (!e)
            e = mg_buf_append_byte(b, '}');
        mg_free(text);
    }
    if (e) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, k->id, MG_JSONRPC_INTERNAL_ERROR,
                             "Internal error: the result could not be built", NULL))
            mg_buf_reset(b);
    }
    s_finish(k);
}

static void s_send(struct s_call *k);

#define S_LIST_PAGES 10   /* tools/list pages read from one DYNAMIC target per listing */
#define S_LIST_TOOLS 1000 /* tools of one DYNAMIC target (the tools-per-target quota) */
#define S_LIST_NAME 256   /* bytes of TARGET___TOOL */

/* One page of a DYNAMIC target's tools/list: its tools renamed TARGET___TOOL (tools whose names
 * MCP's alphabet or the length limit refuse are left out), then the next page or the end. */
static void s_list_page(struct s_call *k, const json_t *response)
{
    const json_t *err = json_object_get(response, "error");
    const json_t *result = json_object_get(response, "result");
    const json_t *list = json_object_get(result, "tools");
    if (err || !json_is_array(list)) {
        s_fail(k, "The MCP server's tools/list answer has no tools list.");
        return;
    }
    size_t i;
    const json_t *up;
    json_array_foreach(list, i, up)
    {
        const char *name = json_string_value(json_object_get(up, "name"));
        char full[S_LIST_NAME + 1];
        if (json_array_size(k->listed) >= S_LIST_TOOLS)
            break;
        if (!mg_target_tool_name_ok(name) ||
            !mg_fmt(full, sizeof(full), "%s___%s", k->prefix, name))
            continue;
        const char *desc = json_string_value(json_object_get(up, "description"));
        json_t *in = json_object_get(up, "inputSchema");
        json_t *t = json_pack("{s:s, s:s}", "name", full, "description", desc ? desc : "");
        bool ok = t && (json_is_object(in)
                            ? mg_json_set_ref(t, "inputSchema", in)
                            : mg_json_set(t, "inputSchema", json_pack("{s:s}", "type", "object")));
        json_t *out = json_object_get(up, "outputSchema");
        if (ok && json_is_object(out))
            ok = mg_json_set_ref(t, "outputSchema", out);
        if (!ok || !mg_json_append(k->listed, t)) {
            if (ok)
                t = NULL; /* the array took it */
            json_decref(t);
            s_fail(k, "Out of memory while listing tools.");
            return;
        }
    }
    const char *next = json_string_value(json_object_get(result, "nextCursor"));
    mg_free(k->cursor);
    k->cursor = NULL;
    if (next && next[0] && ++k->pages < S_LIST_PAGES && strlen(next) <= MG_MCP_CLIENT_MAX_CURSOR &&
        json_array_size(k->listed) < S_LIST_TOOLS) {
        k->cursor = mg_strdup(next);
        if (k->cursor == NULL) {
            s_fail(k, "Out of memory while listing tools.");
            return;
        }
        s_send(k);
        return;
    }
    s_finish(k);
}

static void s_cred_done(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg)
{
    struct s_call *k = arg;
    if (e != MG_E_OK || cred == NULL) {
        s_fail(k, "The outbound credentials of the target could not be obtained: %s",
               msg ? msg : mg_err_str(e));
        return;
    }
    if (k->cred) {
        mg_vault_cred_cleanup(k->cred);
        mg_free(k->cred);
    }
    k->cred = cred;
    s_send(k);
}

static const char *s_step_name(enum s_step s)
{
    switch (s) {
    case S_INIT: return "initialize";
    case S_INITIALIZED: return "notifications/initialized";
    case S_CALL: return "tools/call or tools/list";
    }
    return "request";
}

static void s_on_resp(void *arg, struct mg_http_out_resp *resp)
{
    struct s_call *k = arg;
    const char *what = s_step_name(k->step);
    if (resp->err != MG_E_OK) {
        bool timed_out = resp->timed_out;
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", resp->msg[0] ? resp->msg : mg_err_str(resp->err));
        mg_http_out_resp_cleanup(resp);
        if (timed_out)
            s_fail(k, "The MCP server did not answer %s in time (%s).", what, msg);
        else
            s_fail(k, "Unable to connect to the MCP server (%s).", msg);
        return;
    }
    long status = resp->status;
    if (status == 401 && k->cred && k->cred->type != MG_CRED_NONE && !k->refreshed) {
        mg_http_out_resp_cleanup(resp);
        k->refreshed = true;
        mg_vault_target_cred(k->env, k->snap, &k->vt, true, s_cred_done, k);
        return;
    }
    if ((status == 404 || status == 400) && k->cached && !k->retried && k->step != S_INIT) {
        /* the upstream forgot the session: a new one, and the call once more */
        mg_http_out_resp_cleanup(resp);
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, k->request_id,
                   "upstream session of target %s gone (HTTP %ld): re-initializing", k->target,
                   status);
        s_drop(k->key, k->target);
        k->retried = true;
        k->cached = false;
        k->session[0] = 0;
        k->version[0] = 0;
        k->step = S_INIT;
        s_send(k);
        return;
    }
    if (status < 200 || status > 299) {
        mg_http_out_resp_cleanup(resp);
        s_fail(k, "The MCP server answered %s with HTTP status %ld.", what, status);
        return;
    }
    if (k->step == S_INITIALIZED) {
        mg_http_out_resp_cleanup(resp);
        /* kept also without a session id: a stateless server needs no new initialize */
        s_put(k->key, k->target, k->session, k->version);
        k->step = S_CALL;
        s_send(k);
        return;
    }
    struct mg_slice ct = {0};
    (void)mg_http_out_header(resp, "content-type", &ct);
    json_t *r = NULL;
    char msg[160];
    enum mg_err e = mg_mcp_client_answer(ct, mg_buf_slice(&resp->body), k->sent_id, &r, msg,
                                         sizeof(msg));
    if (e == MG_E_OK && k->step == S_INIT) {
        struct mg_slice sid;
        const json_t *result = json_object_get(r, "result");
        const char *v = json_string_value(json_object_get(result, "protocolVersion"));
        bool ok = json_object_get(r, "error") == NULL && v &&
                  mg_mcp_client_version_ok(mg_slice_cstr(v));
        if (ok && mg_http_out_header(resp, "mcp-session-id", &sid)) {
            ok = sid.len > 0 && sid.len <= MG_MCP_CLIENT_MAX_SESSION;
            for (size_t i = 0; ok && i < sid.len; i++)
                ok = sid.ptr[i] >= 0x21 && sid.ptr[i] <= 0x7e;
            if (ok) {
                mg_memcpy(k->session, sid.ptr, sid.len);
                k->session[sid.len] = 0;
            }
        }
        if (ok)
            snprintf(k->version, sizeof(k->version), "%s", v);
        json_decref(r);
        mg_http_out_resp_cleanup(resp);
        if (!ok) {
            s_fail(k, "The MCP server's answer to initialize is not usable (an error, an "
                      "unsupported protocol version or an invalid session id).");
            return;
        }
        k->step = S_INITIALIZED;
        s_send(k);
        return;
    }
    mg_http_out_resp_cleanup(resp);
    if (e) {
        s_fail(k, "The MCP server's answer to %s could not be read: %s.", what, msg);
        return;
    }
    if (k->agg)
        s_list_page(k, r);
    else
        s_answer(k, r);
    json_decref(r);
}

static void s_send(struct s_call *k)
{
    struct mg_buf body;
    mg_buf_init(&body, MG_LIMIT_BODY_DEFAULT + 4096);
    k->sent_id = atomic_fetch_add(&s_next_id, 1);
    enum mg_err e = MG_E_OK;
    switch (k->step) {
    case S_INIT: e = mg_mcp_client_initialize(&body, k->sent_id); break;
    case S_INITIALIZED: e = mg_mcp_client_initialized(&body); break;
    case S_CALL:
        e = k->agg ? mg_mcp_client_list(&body, k->sent_id, k->cursor)
                   : mg_mcp_client_call(&body, k->sent_id, k->tool, k->args);
        break;
    }
    struct mg_target_req req;
    mg_target_req_init(&req);
    bool init = k->step == S_INIT;
    if (!e)
        e = mg_mcp_client_post(&req, k->endpoint, mg_buf_slice(&body), init ? NULL : k->session,
                               init ? NULL : k->version);
    mg_buf_cleanup(&body);
    if (!e && k->cred)
        e = mg_vault_cred_apply(k->cred, &req, mg_now());
    if (e) {
        mg_target_req_cleanup(&req);
        s_fail(k, "The request to the MCP server could not be built (%s).", mg_err_str(e));
        return;
    }
    struct mg_http_out_req out;
    mg_target_req_view(&req, &out);
    out.timeout_ms = k->step == S_CALL && !k->agg ? MG_MCP_CLIENT_CALL_MS : S_STEP_MS;
    e = mg_http_fetch(k->env->http, &out, s_on_resp, k);
    mg_target_req_cleanup(&req);
    if (e)
        s_fail(k, "The request to the MCP server could not be sent (%s).", mg_err_str(e));
}

static const char *s_endpoint(const struct mg_gateway_target *t)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(t->doc, "targetConfiguration"), "mcp"),
                        "mcpServer"),
        "endpoint"));
}

/* A call (agg NULL: tools/call of tool `up` with arguments) or a listing (agg set) to target t.
 * false with detail when it could not start (nothing was held). */
static bool s_start(struct mg_mcp_ctx *c, const json_t *id, const struct mg_gateway_target *t,
                    const char *up, const json_t *arguments, struct s_agg *agg, char *detail,
                    size_t cap)
{
    const char *endpoint = s_endpoint(t);
    if (endpoint == NULL || (agg == NULL && up == NULL)) {
        snprintf(detail, cap,
                 "The target has no MCP server endpoint or the tool no upstream name.");
        return false;
    }
    if (c->env->http == NULL) {
        snprintf(detail, cap, "Outbound HTTP is not available.");
        return false;
    }
    struct s_call *k = mg_calloc(1, sizeof(*k));
    if (k == NULL) {
        snprintf(detail, cap, "Out of memory while preparing the call.");
        return false;
    }
    k->env = c->env;
    k->snap = mg_snapshot_ref(c->snap);
    k->t = t;
    k->vt = mg_agentcore_vault_target(t);
    k->reply = c->reply;
    k->slot = c->slot;
    snprintf(k->request_id, sizeof(k->request_id), "%s", c->reply->request_id);
    k->id = json_deep_copy(id);
    k->args = json_is_object(arguments) ? json_deep_copy(arguments) : json_object();
    k->endpoint = mg_strdup(endpoint);
    k->tool = mg_strdup(up ? up : "");
    k->debug = c->gw->exception_debug;
    k->agg = agg;
    k->listed = agg ? json_array() : NULL;
    snprintf(k->target, sizeof(k->target), "%s", t->id);
    snprintf(k->prefix, sizeof(k->prefix), "%s", t->name ? t->name : "");
    const struct mg_slice *sess = mg_http_header(c->req, "mcp-session-id");
    char sess_text[MG_MCP_SESSION_MAX + 1] = "";
    if (sess && sess->len <= MG_MCP_SESSION_MAX) {
        mg_memcpy(sess_text, sess->ptr, sess->len);
        sess_text[sess->len] = 0;
    }
    bool keyed = s_key(k->key, c->gw->id, c->caller, sess_text);
    bool tracked = agg != NULL || mg_mcp_inflight_init(&k->f, c->reply, c->slot, c->gw->id,
                                                       c->caller, id) == MG_E_OK;
    if (!keyed || !tracked || k->id == NULL || k->args == NULL || k->endpoint == NULL ||
        k->tool == NULL || (agg && k->listed == NULL)) {
        k->agg = NULL;
        s_call_free(k);
        snprintf(detail, cap, "Out of memory while preparing the call.");
        return false;
    }
    k->cached = s_get(k->key, k->target, k->session, k->version);
    k->step = k->cached ? S_CALL : S_INIT;
    if (agg) {
        atomic_fetch_add(&agg->pending, 1);
    } else {
        k->cancellable = true;
        mg_mcp_inflight_register(&k->f); /* holds the reply for the slot */
    }
    mg_vault_target_cred(c->env, k->snap, &k->vt, false, s_cred_done, k);
    return true;
}

void mg_mcp_server_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments)
{
    char detail[256];
    json_t *call = mg_tool_call(tool);
    if (!s_start(c, m->id, tool->target, json_string_value(json_object_get(call, "tool")),
                 arguments, NULL, detail, sizeof(detail)))
        mg_mcp_fail_now(c, m->id, detail);
    json_decref(call);
}

static bool s_dynamic(const struct mg_gateway_target *t)
{
    if (t->status != MG_AGENTCORE_READY || t->kind != MG_TARGET_MCP_SERVER)
        return false;
    const char *mode = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(t->doc, "targetConfiguration"), "mcp"),
                        "mcpServer"),
        "listingMode"));
    return mode && strcmp(mode, "DYNAMIC") == 0;
}

bool mg_mcp_server_dynamic(const struct mg_gateway *gw)
{
    for (size_t i = 0; i < gw->n_targets; i++)
        if (s_dynamic(&gw->targets[i]))
            return true;
    return false;
}

bool mg_mcp_server_dynamic_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                                struct mg_slice name, const json_t *arguments)
{
    for (size_t i = 0; i < c->gw->n_targets; i++) {
        const struct mg_gateway_target *t = &c->gw->targets[i];
        size_t nl = t->name ? strlen(t->name) : 0;
        if (!s_dynamic(t) || nl == 0 || name.len <= nl + 3 ||
            mg_memcmp(name.ptr, t->name, nl) != 0 || mg_memcmp(name.ptr + nl, "___", 3) != 0)
            continue;
        char up[S_LIST_NAME + 1];
        size_t ul = name.len - nl - 3;
        if (ul > S_LIST_NAME)
            return false;
        mg_memcpy(up, name.ptr + nl + 3, ul);
        up[ul] = 0;
        if (!mg_target_tool_name_ok(up))
            return false;
        char detail[256];
        if (!s_start(c, m->id, t, up, arguments, NULL, detail, sizeof(detail)))
            mg_mcp_fail_now(c, m->id, detail);
        return true;
    }
    return false;
}

void mg_mcp_server_list(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    struct mg_buf *b = &c->reply->slots[c->slot];
    struct s_agg *a = mg_calloc(1, sizeof(*a));
    if (a == NULL || (a->id = json_deep_copy(m->id)) == NULL) {
        mg_free(a);
        if (mg_jsonrpc_error(b, m->id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL))
            mg_buf_reset(b);
        return;
    }
    a->reply = c->reply;
    a->slot = c->slot;
    pthread_mutex_init(&a->mu, NULL);
    mg_buf_init(&a->tools, MG_LIMIT_RESPONSE);
    atomic_store(&a->pending, 1); /* this function's hold */
    atomic_fetch_add(&c->reply->pending, 1);
    /* the catalog's tools of the other targets, the search tool first when there is one */
    enum mg_err e = MG_E_OK;
    if (c->gw->search_semantic)
        e = mg_buf_append_cstr(&a->tools, mg_mcp_search_tool_json);
    const struct mg_tool_catalog *cat = &c->gw->catalog;
    for (size_t i = 0; i < cat->n_tools && !e; i++) {
        const struct mg_tool *t = &cat->tools[i];
        if (t->target && s_dynamic(t->target))
            continue;
        if (a->tools.len)
            e = mg_buf_append_byte(&a->tools, ',');
        if (!e)
            e = mg_buf_append(&a->tools, t->json, t->json_len);
    }
    for (size_t i = 0; i < c->gw->n_targets && !e; i++) {
        const struct mg_gateway_target *t = &c->gw->targets[i];
        char detail[256];
        if (s_dynamic(t) && !s_start(c, m->id, t, NULL, NULL, a, detail, sizeof(detail)))
            MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, c->req->request_id,
                       "tools/list of DYNAMIC target %s not started: %s", t->id, detail);
    }
    if (e)
        mg_buf_reset(&a->tools); /* out of memory: the answer says so below */
    s_agg_release(a);
}
