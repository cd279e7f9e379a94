/* tools/call of targets reached over HTTP (OpenAPI, Smithy):
 *   1. the target's outbound credentials (vault/vault.h: none, API key, OAuth2 token, the
 *      gateway role's SigV4 session), resolved at once or on the outbound client's thread;
 *   2. the request, built by the target kind from the tool's "_call" and the arguments
 *      (targets/targets.h), with the credentials put on it last (a SigV4 signature covers it);
 *   3. the outbound client (http/client.h) sends it; its callback runs on the client's thread;
 *      an OAUTH target that answers 401 gets one retry with a fresh token;
 *   4. the kind turns the answer into a CallToolResult, written into the reply's slot, and the
 *      reply is released (sent from the thread that finishes).
 * Nothing here blocks the event loop. A failure of the gateway's own (credentials, a request
 * that cannot be built or sent) is a tool failure: the generic text, or the detail with
 * exceptionLevel DEBUG. An upstream's answer, whatever its status, is the kind's result.
 * notifications/cancelled (mg_mcp_cancel, inflight.c) claims the slot: the answer is then dropped.
 *
 * Each kind is a row of s_kinds: a request builder and a result maker. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"
#include "mcp/smithy_target.h"
#include "targets/targets.h"
#include "vault/vault.h"

/* ---- the kinds ------------------------------------------------------------------------------- */

/* Builds the request of one call. region: the gateway's (for kinds that derive an endpoint);
 * cred: the credentials about to be applied (a kind may set the SigV4 signing scope). */
typedef enum mg_err (*s_build_fn)(const struct mg_env *env, const json_t *call, const json_t *args,
                                  const char *region, struct mg_vault_cred *cred,
                                  struct mg_target_req *req, char *msg, size_t cap);
/* The CallToolResult of an answer (a new object; NULL when out of memory). */
typedef json_t *(*s_result_fn)(const json_t *call, const struct mg_http_out_resp *resp);

static enum mg_err s_openapi_build(const struct mg_env *env, const json_t *call, const json_t *args,
                                   const char *region, struct mg_vault_cred *cred,
                                   struct mg_target_req *req, char *msg, size_t cap)
{
    (void)env;
    (void)region; /* the document names its server */
    (void)cred;
    return mg_openapi_request(call, args, req, msg, cap);
}

static json_t *s_openapi_result(const json_t *call, const struct mg_http_out_resp *resp)
{
    struct mg_slice ct = {0};
    (void)mg_http_out_header(resp, "content-type", &ct);
    return mg_openapi_result(call, resp->status, ct, mg_buf_slice(&resp->body));
}

static const struct s_kind {
    enum mg_target_kind kind;
    const char *name;
    s_build_fn build;
    s_result_fn result;
} s_kinds[] = {
    {MG_TARGET_OPENAPI, "OpenAPI", s_openapi_build, s_openapi_result},
    {MG_TARGET_SMITHY, "Smithy", mg_mcp_smithy_build, mg_mcp_smithy_result},
};

/* ---- one call ------------------------------------------------------------------------------- */

struct s_call {
    struct mg_mcp_inflight f; /* reply, slot, and what a cancel looks for */
    pthread_t loop_thread;    /* where the call started: a release there is "on the loop" */
    const struct mg_env *env;
    struct mg_snapshot *snap; /* held: the target and its gateway live in it */
    const struct mg_gateway_target *target;
    struct mg_vault_target vt; /* borrows from the snapshot */
    const struct s_kind *kind;
    json_t *id, *call, *args; /* copies: this thread's jansson references only */
    char region[64];
    bool debug, refreshed;
};

static void s_call_free(struct s_call *k)
{
    if (k == NULL)
        return;
    if (k->snap)
        mg_snapshot_unref(k->snap);
    json_decref(k->id);
    json_decref(k->call);
    json_decref(k->args);
    mg_mcp_inflight_cleanup(&k->f);
    mg_free(k);
}

/* ---- finishing ------------------------------------------------------------------------------- */

/* Writes the slot (result, or a tool failure with detail when result is NULL), releases the
 * reply and frees the call. Takes result. */
static void s_finish(struct s_call *k, json_t *result, const char *detail)
{
    if (!mg_mcp_inflight_claim(&k->f)) { /* cancelled: the slot was answered already */
        json_decref(result);
        s_call_free(k);
        return;
    }
    struct mg_mcp_reply *reply = k->f.reply;
    struct mg_buf *b = &reply->slots[k->f.slot];
    mg_buf_reset(b);
    enum mg_err e;
    if (result != NULL) {
        char *text = json_dumps(result, JSON_COMPACT);
        e = text == NULL ? MG_E_NOMEM : mg_jsonrpc_result_open(b, k->id);
        if (e == MG_E_OK)
            e = mg_buf_append_cstr(b, text);
        if (e == MG_E_OK)
            e = mg_buf_append_byte(b, '}');
        mg_free(text);
        json_decref(result);
    } else {
        MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, reply->request_id, "tools/call failed: %s", detail);
        e = mg_mcp_tool_failure(b, k->id, k->debug, detail);
    }
    if (e != MG_E_OK) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, k->id, MG_JSONRPC_INTERNAL_ERROR,
                             "Internal error: the result could not be built", NULL) != MG_E_OK)
            mg_buf_reset(b);
    }
    bool on_loop = pthread_equal(pthread_self(), k->loop_thread) != 0;
    s_call_free(k);
    mg_mcp_reply_release(reply, on_loop);
}

static void s_fail(struct s_call *k, const char *fmt, const char *a, const char *b)
{
    char detail[1024];
    snprintf(detail, sizeof(detail), fmt, a, b);
    s_finish(k, NULL, detail);
}

/* ---- the steps ------------------------------------------------------------------------------- */

static void s_on_cred(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg);

static void s_on_resp(void *arg, struct mg_http_out_resp *resp)
{
    struct s_call *k = arg;
    if (resp->err != MG_E_OK) {
        char why[300];
        snprintf(why, sizeof(why), "%s", resp->msg[0] ? resp->msg : mg_err_str(resp->err));
        mg_http_out_resp_cleanup(resp);
        s_fail(k, "The %s target could not be reached: %s.", k->kind->name, why);
        return;
    }
    if (resp->status == 401 && k->target->credential_type == MG_CRED_OAUTH && !k->refreshed) {
        /* the cached token may have been revoked: once more with a fresh one */
        k->refreshed = true;
        mg_http_out_resp_cleanup(resp);
        mg_vault_target_cred(k->env, k->snap, &k->vt, true, s_on_cred, k);
        return;
    }
    json_t *result = k->kind->result(k->call, resp);
    mg_http_out_resp_cleanup(resp);
    if (result == NULL) {
        s_finish(k, NULL, "Out of memory while reading the target's answer.");
        return;
    }
    s_finish(k, result, NULL);
}

static void s_on_cred(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg)
{
    struct s_call *k = arg;
    if (mg_mcp_inflight_claimed(&k->f)) { /* answered by notifications/cancelled: nothing to send */
        mg_vault_cred_cleanup(cred);
        mg_free(cred);
        s_call_free(k);
        return;
    }
    if (e != MG_E_OK) {
        s_fail(k, "The outbound credentials of the target could not be obtained: %s%s",
               msg ? msg : mg_err_str(e), "");
        return;
    }
    struct mg_target_req req;
    mg_target_req_init(&req);
    char why[600];
    why[0] = 0;
    e = k->kind->build(k->env, k->call, k->args, k->region, cred, &req, why, sizeof(why));
    if (e == MG_E_OK && (e = mg_vault_cred_apply(cred, &req, mg_now())) != MG_E_OK)
        snprintf(why, sizeof(why), "the outbound credentials could not be applied (%s)",
                 mg_err_str(e));
    mg_vault_cred_cleanup(cred);
    mg_free(cred);
    if (e != MG_E_OK) {
        mg_target_req_cleanup(&req);
        s_fail(k, "The request to the target could not be built: %s%s",
               why[0] ? why : mg_err_str(e), ".");
        return;
    }
    struct mg_http_out_req out;
    mg_target_req_view(&req, &out);
    e = out.url == NULL ? MG_E_NOMEM : mg_http_fetch(k->env->http, &out, s_on_resp, k);
    mg_target_req_cleanup(&req); /* mg_http_fetch copied what it needs */
    if (e != MG_E_OK)
        s_fail(k, "The request to the target could not be sent (%s)%s", mg_err_str(e), ".");
}

void mg_mcp_http_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                      const struct mg_tool *tool, const json_t *arguments)
{
    const struct mg_gateway_target *t = tool->target;
    const struct s_kind *kind = NULL;
    for (size_t i = 0; i < sizeof(s_kinds) / sizeof(s_kinds[0]); i++)
        if (s_kinds[i].kind == t->kind)
            kind = &s_kinds[i];
    if (kind == NULL) {
        mg_mcp_fail_now(c, m->id, "This target type cannot be called.");
        return;
    }
    if (tool->call_json.len == 0) {
        mg_mcp_fail_now(c, m->id, "The tool has no call description; update the target.");
        return;
    }
    if (c->env->http == NULL) {
        mg_mcp_fail_now(c, m->id, "Outbound HTTP is not available on this server.");
        return;
    }
    struct s_call *k = mg_calloc(1, sizeof(*k));
    if (k == NULL) {
        mg_mcp_fail_now(c, m->id, "Out of memory while preparing the request.");
        return;
    }
    k->loop_thread = pthread_self();
    k->env = c->env;
    k->target = t;
    k->kind = kind;
    k->debug = c->gw->exception_debug;
    k->id = json_deep_copy(m->id);
    k->call = mg_tool_call(tool);
    k->args = arguments ? json_deep_copy(arguments) : json_object();
    bool region_ok = mg_fmt(k->region, sizeof(k->region), "%s",
                            c->gw->region ? c->gw->region : c->env->region);
    if (mg_mcp_inflight_init(&k->f, c->reply, c->slot, c->gw->id, c->caller, m->id) != MG_E_OK ||
        k->id == NULL || k->call == NULL || k->args == NULL || !region_ok) {
        s_call_free(k);
        mg_mcp_fail_now(c, m->id, "Out of memory while preparing the request.");
        return;
    }
    k->snap = mg_snapshot_ref(c->snap);
    k->vt = mg_agentcore_vault_target(t);
    /* hold the reply for this slot, register for cancellation, then start */
    mg_mcp_inflight_register(&k->f);
    mg_vault_target_cred(c->env, k->snap, &k->vt, false, s_on_cred, k);
}
