/* tools/call of Smithy targets, end to end: the target's outbound credentials (vault), the
 * request (smithy_target.c), the outbound client, the tool result into the reply's slot.
 *
 * Interim: mcp/http_target.c is where tools/call of targets reached over HTTP is driven, with a
 * per-kind table (mg_mcp_smithy_kind); until that table serves Smithy, mg_mcp_http_call calls
 * this for MG_TARGET_SMITHY. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"
#include "mcp/smithy_target.h"
#include "state/snapshot.h"

struct s_call {
    const struct mg_env *env;
    struct mg_snapshot *snap; /* held: tool and its "_call" live in it */
    const struct mg_tool *tool;
    struct mg_mcp_reply *reply;
    size_t slot;
    json_t *id, *args;
    bool debug;
};

static void s_call_free(struct s_call *k)
{
    json_decref(k->id);
    json_decref(k->args);
    mg_snapshot_unref(k->snap);
    mg_free(k);
}

/* Answers the slot with a tool failure and ends the call. */
static void s_finish_fail(struct s_call *k, const char *detail)
{
    struct mg_buf *b = &k->reply->slots[k->slot];
    MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, k->reply->request_id, "tools/call failed: %s", detail);
    mg_buf_reset(b);
    if (mg_mcp_tool_failure(b, k->id, k->debug, detail) != MG_E_OK) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, k->id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL) !=
            MG_E_OK)
            mg_buf_reset(b);
    }
    struct mg_mcp_reply *reply = k->reply;
    s_call_free(k);
    mg_mcp_reply_release(reply, false);
}

static void s_http_done(void *arg, struct mg_http_out_resp *resp)
{
    struct s_call *k = arg;
    if (resp->err != MG_E_OK) {
        char detail[512];
        snprintf(detail, sizeof(detail), "The Smithy target could not be reached: %s",
                 resp->msg[0] ? resp->msg : mg_err_str(resp->err));
        mg_http_out_resp_cleanup(resp);
        s_finish_fail(k, detail);
        return;
    }
    json_t *result = mg_mcp_smithy_result(k->tool, resp);
    mg_http_out_resp_cleanup(resp);
    json_t *msg = json_object();
    bool ok = result && msg && mg_json_set(msg, "jsonrpc", json_string("2.0")) &&
              mg_json_set_ref(msg, "id", k->id) && mg_json_set_ref(msg, "result", result);
    char *text = ok ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    json_decref(result);
    if (text == NULL) {
        s_finish_fail(k, "Out of memory while reading the answer.");
        return;
    }
    struct mg_buf *b = &k->reply->slots[k->slot];
    mg_buf_reset(b);
    enum mg_err e = mg_buf_append_cstr(b, text);
    mg_free(text);
    if (e != MG_E_OK) {
        s_finish_fail(k, "The answer is too large.");
        return;
    }
    struct mg_mcp_reply *reply = k->reply;
    s_call_free(k);
    mg_mcp_reply_release(reply, false);
}

static void s_cred_done(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *why)
{
    struct s_call *k = arg;
    if (e != MG_E_OK) {
        char detail[600];
        snprintf(detail, sizeof(detail), "The outbound credentials could not be had: %s",
                 why ? why : mg_err_str(e));
        s_finish_fail(k, detail);
        return;
    }
    struct mg_target_req req;
    mg_target_req_init(&req);
    char msg[512] = "";
    e = mg_mcp_smithy_build(k->env, k->tool, k->args, cred, &req, msg, sizeof(msg));
    if (e == MG_E_OK)
        e = mg_vault_cred_apply(cred, &req, mg_now());
    mg_vault_cred_cleanup(cred);
    mg_free(cred);
    if (e == MG_E_OK) {
        struct mg_http_out_req out;
        mg_target_req_view(&req, &out);
        e = k->env->http ? mg_http_fetch(k->env->http, &out, s_http_done, k) : MG_E_INTERNAL;
        if (e != MG_E_OK && msg[0] == 0)
            snprintf(msg, sizeof(msg), "The request could not be sent (%s).", mg_err_str(e));
    } else if (msg[0] == 0)
        snprintf(msg, sizeof(msg), "The request could not be signed (%s).", mg_err_str(e));
    mg_target_req_cleanup(&req);
    if (e != MG_E_OK)
        s_finish_fail(k, msg);
}

void mg_mcp_smithy_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments)
{
    struct s_call *k = mg_calloc(1, sizeof(*k));
    if (k) {
        k->env = c->env;
        k->snap = mg_snapshot_ref(c->snap);
        k->tool = tool;
        k->reply = c->reply;
        k->slot = c->slot;
        k->id = json_deep_copy(m->id);
        k->args = arguments ? json_deep_copy(arguments) : json_object();
        k->debug = c->gw->exception_debug;
    }
    if (k == NULL || k->id == NULL || k->args == NULL) {
        if (k)
            s_call_free(k);
        struct mg_buf *b = &c->reply->slots[c->slot];
        if (mg_mcp_tool_failure(b, m->id, c->gw->exception_debug, "Out of memory.") != MG_E_OK)
            mg_buf_reset(b);
        return;
    }
    const struct mg_gateway_target *t = tool->target;
    struct mg_vault_target vt = {
        .account = c->gw->account,
        .gateway_id = c->gw->id,
        .gateway_arn = c->gw->arn,
        .role_arn = c->gw->role_arn,
        .config = json_array_get(json_object_get(t->doc, "credentialProviderConfigurations"), 0),
    };
    /* the slot is answered by s_cred_done or s_http_done, which release this hold; the
     * dispatcher's own hold keeps a synchronous answer from sending the reply early */
    atomic_fetch_add(&c->reply->pending, 1);
    mg_vault_target_cred(c->env, k->snap, &vt, false, s_cred_done, k);
}
