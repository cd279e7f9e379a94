/* tools/call of a Lambda target, as AgentCore makes it:
 *   1. the gateway's roleArn is assumed as bedrock-agentcore.amazonaws.com (its trust policy must
 *      admit the service) with the gateway id as the session name; the session is kept per
 *      (loop, role, gateway, snapshot) for a few minutes, so gateways sharing a role never share a
 *      session;
 *   2. that session must be allowed lambda:InvokeFunction on the function: the role's identity
 *      policies, the function's resource-based policy, and both when the function lives in
 *      another account;
 *   3. the function is invoked with the arguments object as the event and client_context.custom
 *      naming the tool, gateway, target, message version, request id and JSON-RPC id;
 *   4. the callback (on a Lambda thread) writes the CallToolResult into the reply's slot and
 *      releases the reply, which is then sent on the exchange's loop.
 * notifications/cancelled claims the slot first: the call's answer is dropped, and a POST whose
 * every answer was cancelled gets 202 with no body. */
#include <stdio.h>
#include <string.h>

#include "call/authz.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/lambda.h"
#include "mcp/internal.h"

#define S_SERVICE "bedrock-agentcore.amazonaws.com"
#define S_ROLE_CACHE 4
#define S_ROLE_TTL 300 /* seconds a role session is reused */

/* ---- role sessions, per loop ------------------------------------------------------------------- */

struct s_role_entry {
    bool used;
    char role_arn[512];
    char gateway_arn[512]; /* the session is the gateway's: its id is the session name */
    uint64_t generation;
    int64_t until;
    struct mg_principal principal;
};

/* The module's role sessions: each loop uses its own set only. */
struct mg_mcp_roles {
    struct s_role_entry set[MG_MAX_LOOPS][S_ROLE_CACHE];
};

/* A role session for the loop, or NULL with the reason in msg. */
static const struct mg_principal *s_role_session(struct mg_mcp_ctx *c, char *msg, size_t cap)
{
    int loop = c->req->loop;
    if (loop < 0 || loop >= MG_MAX_LOOPS)
        loop = 0;
    if (c->roles == NULL) {
        snprintf(msg, cap, "The gateway role could not be assumed.");
        return NULL;
    }
    struct s_role_entry *set = c->roles->set[loop];
    int64_t now = mg_now();
    const char *role = c->gw->role_arn ? c->gw->role_arn : "";
    const char *gw_arn = c->gw->arn ? c->gw->arn : "";
    if (strlen(role) >= sizeof(set[0].role_arn) || strlen(gw_arn) >= sizeof(set[0].gateway_arn)) {
        snprintf(msg, cap, "The gateway role could not be assumed.");
        return NULL;
    }
    for (int i = 0; i < S_ROLE_CACHE; i++)
        if (set[i].used && set[i].generation == c->snap->generation && set[i].until > now &&
            strcmp(set[i].role_arn, role) == 0 && strcmp(set[i].gateway_arn, gw_arn) == 0)
            return &set[i].principal;
    /* replace the oldest entry */
    int victim = 0;
    for (int i = 0; i < S_ROLE_CACHE; i++) {
        if (!set[i].used) {
            victim = i;
            break;
        }
        if (set[i].until < set[victim].until)
            victim = i;
    }
    struct s_role_entry *e = &set[victim];
    if (e->used)
        mg_principal_cleanup(&e->principal);
    memset(e, 0, sizeof(*e));
    struct mg_errinfo ei = {0};
    char akid[32], secret[64];
    char session_name[65];
    snprintf(session_name, sizeof(session_name), "%.64s", c->gw->id);
    enum mg_err err = mg_call_assume_role_as_service(c->env, c->snap, role, S_SERVICE, session_name,
                                                     900, &e->principal, akid, secret, NULL, NULL,
                                                     &ei);
    mg_memzero(secret, sizeof(secret));
    if (err != MG_E_OK) {
        mg_principal_cleanup(&e->principal);
        memset(e, 0, sizeof(*e));
        snprintf(msg, cap, "%s", ei.msg[0] ? ei.msg : "The gateway role could not be assumed.");
        return NULL;
    }
    e->used = true;
    snprintf(e->role_arn, sizeof(e->role_arn), "%s", role);
    snprintf(e->gateway_arn, sizeof(e->gateway_arn), "%s", gw_arn);
    e->generation = c->snap->generation;
    e->until = now + S_ROLE_TTL;
    return &e->principal;
}

/* ---- one call -------------------------------------------------------------------------------- */

struct s_call {
    struct mg_mcp_inflight f; /* reply, slot, and what a cancel looks for (inflight.c) */
    char *function_arn;
    bool debug, has_output_schema;
};

static void s_call_free(struct s_call *k)
{
    if (k == NULL)
        return;
    mg_mcp_inflight_cleanup(&k->f);
    mg_free(k->function_arn);
    mg_free(k);
}

struct mg_mcp_roles *mg_mcp_roles_new(void)
{
    return mg_calloc(1, sizeof(struct mg_mcp_roles));
}

void mg_mcp_roles_free(struct mg_mcp_roles *r)
{
    if (r == NULL)
        return;
    for (int l = 0; l < MG_MAX_LOOPS; l++)
        for (int i = 0; i < S_ROLE_CACHE; i++)
            if (r->set[l][i].used)
                mg_principal_cleanup(&r->set[l][i].principal);
    mg_free(r);
}

/* ---- the result ------------------------------------------------------------------------------ */

static bool s_is_call_tool_result(const json_t *v)
{
    const json_t *content = json_object_get(v, "content");
    if (!json_is_array(content))
        return false;
    size_t i;
    const json_t *it;
    json_array_foreach(content, i, it)
    {
        if (!json_is_string(json_object_get(it, "type")))
            return false;
    }
    const json_t *ie = json_object_get(v, "isError");
    return ie == NULL || json_is_boolean(ie);
}

/* The function's payload as a CallToolResult (see docs/mcp.md "Lambda targets"). */
static enum mg_err s_result(struct mg_buf *b, const struct s_call *k, struct mg_slice payload)
{
    MG_TRY(mg_buf_append_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":"));
    MG_TRY(mg_buf_append_cstr(b, k->f.id_text));
    MG_TRY(mg_buf_append_cstr(b, ",\"result\":"));
    json_t *v = json_loadb((const char *)payload.ptr, payload.len, JSON_DECODE_ANY, NULL);
    enum mg_err e = MG_E_OK;
    if (json_is_object(v) && s_is_call_tool_result(v)) {
        /* already MCP-shaped: pass content and isError through */
        json_t *out = json_object();
        if (out == NULL) {
            e = MG_E_NOMEM;
            goto out;
        }
        json_t *content = json_object_get(v, "content");
        bool ok = content == NULL || mg_json_set_ref(out, "content", content);
        ok = ok &&
             mg_json_set(out, "isError", json_boolean(json_is_true(json_object_get(v, "isError"))));
        const json_t *sc = json_object_get(v, "structuredContent");
        if (ok && k->has_output_schema && json_is_object(sc))
            ok = mg_json_set_ref(out, "structuredContent", (json_t *)sc);
        char *text = ok ? json_dumps(out, JSON_COMPACT) : NULL;
        json_decref(out);
        if (text == NULL) {
            e = MG_E_NOMEM;
            goto out;
        }
        e = mg_buf_append_cstr(b, text);
        mg_free(text);
        if (!e)
            e = mg_buf_append_byte(b, '}');
        goto out;
    }
    e = mg_buf_append_cstr(b, "{\"content\":[{\"type\":\"text\",\"text\":\"");
    if (!e)
        e = mg_buf_append_json_str(b, payload);
    if (!e)
        e = mg_buf_append_cstr(b, "\"}],\"isError\":false");
    if (!e && k->has_output_schema && json_is_object(v)) {
        e = mg_buf_append_cstr(b, ",\"structuredContent\":");
        if (!e)
            e = mg_buf_append_slice(b, payload);
    }
    if (!e)
        e = mg_buf_append_cstr(b, "}}");
out:
    json_decref(v);
    return e;
}

static void s_done(void *user, const struct mg_lambda_result *res)
{
    struct s_call *k = user;
    if (!mg_mcp_inflight_claim(&k->f)) {
        s_call_free(k); /* cancelled: the slot was answered already */
        return;
    }
    struct mg_mcp_reply *reply = k->f.reply;
    struct mg_buf *b = &reply->slots[k->f.slot];
    mg_buf_reset(b);
    enum mg_err e = MG_E_OK;
    char detail[1024];
    if (res->outcome == MG_LAMBDA_OK) {
        e = s_result(b, k, res->payload);
    } else {
        switch (res->outcome) {
        case MG_LAMBDA_FUNCTION_ERROR:
        case MG_LAMBDA_TIMEOUT:
            snprintf(detail, sizeof(detail), "Lambda function %s returned an error: %s: %s",
                     k->function_arn, res->error_type ? res->error_type : "Unhandled",
                     res->error_message ? res->error_message : "");
            break;
        case MG_LAMBDA_NOT_FOUND:
            snprintf(detail, sizeof(detail), "Lambda function %s was not found.", k->function_arn);
            break;
        case MG_LAMBDA_THROTTLED:
            snprintf(detail, sizeof(detail), "Lambda function %s is throttled (%s). Retry later.",
                     k->function_arn, res->error_message ? res->error_message : "Rate Exceeded.");
            break;
        case MG_LAMBDA_TOO_LARGE:
            snprintf(detail, sizeof(detail), "The payload of Lambda function %s is too large: %s",
                     k->function_arn, res->error_message ? res->error_message : "");
            break;
        default:
            snprintf(detail, sizeof(detail), "Lambda function %s could not be invoked: %s",
                     k->function_arn, res->error_message ? res->error_message : "internal error");
            break;
        }
        MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, reply->request_id, "tools/call failed: %s", detail);
        json_t *idv = json_loadb(k->f.id_text, strlen(k->f.id_text), JSON_DECODE_ANY, NULL);
        e = mg_mcp_tool_failure(b, idv, k->debug, detail);
        json_decref(idv);
    }
    if (e) {
        mg_buf_reset(b);
        json_t *idv = json_loadb(k->f.id_text, strlen(k->f.id_text), JSON_DECODE_ANY, NULL);
        if (mg_jsonrpc_error(b, idv, MG_JSONRPC_INTERNAL_ERROR,
                             "Internal error: the result could not be built", NULL) != MG_E_OK)
            mg_buf_reset(b);
        json_decref(idv);
    }
    s_call_free(k);
    mg_mcp_reply_release(reply, false);
}

/* ---- the call -------------------------------------------------------------------------------- */

void mg_mcp_lambda_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m,
                        const struct mg_tool *tool, const json_t *arguments)
{
    const struct mg_gateway_target *t = tool->target;
    char detail[2300];
    struct mg_lambda_name ln;
    if (t->lambda_arn == NULL || !mg_lambda_parse_name(t->lambda_arn, &ln)) {
        mg_mcp_fail_now(c, m->id, "The target's Lambda ARN is not valid.");
        return;
    }
    /* Only functions of this server's region and partition, unqualified or $LATEST (the only
     * version served), exist here: anything else is not found, never the local namesake. */
    char nf[400] = "";
    bool unserved = ln.qualifier[0] && strcmp(ln.qualifier, "$LATEST") != 0;
    if (!mg_lambda_name_is_local(&ln, t->lambda_arn, c->env->region, nf, sizeof(nf)) || unserved) {
        if (nf[0] == 0)
            snprintf(nf, sizeof(nf), "Function not found: %.256s", t->lambda_arn);
        snprintf(detail, sizeof(detail), "Lambda function %s was not found (%s).", t->lambda_arn,
                 nf);
        mg_mcp_fail_now(c, m->id, detail);
        return;
    }
    char fn_arn[256];
    snprintf(fn_arn, sizeof(fn_arn), "arn:aws:lambda:%s:%s:function:%s",
             ln.region[0] ? ln.region : c->gw->region, ln.account[0] ? ln.account : c->gw->account,
             ln.name);
    char access_denied[512];
    snprintf(access_denied, sizeof(access_denied),
             "Access denied while invoking Lambda function %s. Check the permissions on the Lambda "
             "function and Gateway execution role, and retry the request.",
             t->lambda_arn);

    /* 1. the gateway role's session */
    char why[600];
    const struct mg_principal *role = s_role_session(c, why, sizeof(why));
    if (role == NULL) {
        snprintf(detail, sizeof(detail), "%s (%s)", access_denied, why);
        mg_mcp_fail_now(c, m->id, detail);
        return;
    }
    /* 2. lambda:InvokeFunction for that session */
    struct mg_call call;
    memset(&call, 0, sizeof(call));
    call.env = c->env;
    call.snap = c->snap;
    call.protocol = MG_AWS_REST_JSON;
    mg_memcpy(&call.principal, role, sizeof(call.principal)); /* borrowed: never cleaned up */
    struct mg_policy_explain ex;
    char msg[1024];
    struct mg_authz_resource res = {.arn = fn_arn,
                                    .policy = mg_lambda_function_policy(c->snap, fn_arn)};
    if (mg_authz_decide(&call, "lambda:InvokeFunction", &res, NULL, &ex, msg, sizeof(msg)) !=
        MG_POLICY_ALLOW) {
        mg_authz_audit(&call, "lambda:InvokeFunction", fn_arn, &ex, msg);
        snprintf(detail, sizeof(detail), "%s (%s)", access_denied, msg);
        mg_mcp_fail_now(c, m->id, detail);
        return;
    }
    /* 3. the invocation */
    char *payload = json_dumps(arguments, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char mcp_id[MG_MCP_MAX_ID * 2 + 32];
    if (json_is_string(m->id))
        snprintf(mcp_id, sizeof(mcp_id), "%s", json_string_value(m->id));
    else
        snprintf(mcp_id, sizeof(mcp_id), "%lld", (long long)json_integer_value(m->id));
    json_t *cc = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "custom",
                           "bedrockAgentCoreToolName", tool->full_name, "bedrockAgentCoreGatewayId",
                           c->gw->id, "bedrockAgentCoreTargetId", t->id,
                           "bedrockAgentCoreMessageVersion", "1.0", "bedrockAgentCoreAwsRequestId",
                           c->req->request_id, "bedrockAgentCoreMcpMessageId", mcp_id);
    char *cc_text = cc ? json_dumps(cc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(cc);
    struct s_call *k = mg_calloc(1, sizeof(*k));
    bool ok = k != NULL;
    if (ok) {
        k->function_arn = mg_strdup(t->lambda_arn);
        k->debug = c->gw->exception_debug;
        k->has_output_schema = tool->output_schema_json.len > 0;
        ok = mg_mcp_inflight_init(&k->f, c->reply, c->slot, c->gw->id, c->caller, m->id) ==
                 MG_E_OK &&
             k->function_arn != NULL;
    }
    if (payload == NULL || cc_text == NULL || !ok) {
        mg_free(payload);
        mg_free(cc_text);
        s_call_free(k);
        mg_mcp_fail_now(c, m->id, "Out of memory while preparing the invocation.");
        return;
    }
    /* hold the reply for this slot, register for cancellation, then invoke */
    mg_mcp_inflight_register(&k->f);
    enum mg_err e = mg_lambda_invoke_async(c->lambda, t->lambda_arn, c->gw->account,
                                           mg_slice_cstr(payload), mg_slice_cstr(cc_text), s_done,
                                           k);
    mg_free(payload);
    mg_free(cc_text);
    if (e != MG_E_OK) {
        bool mine = mg_mcp_inflight_claim(&k->f);
        s_call_free(k);
        if (mine) {
            snprintf(detail, sizeof(detail), "Lambda function %s could not be invoked (%s).",
                     t->lambda_arn, mg_err_str(e));
            mg_mcp_fail_now(c, m->id, detail);
            mg_mcp_reply_release(c->reply, true);
        }
        /* else a cancel already answered and released the slot */
    }
}
