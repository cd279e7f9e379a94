/* CreateGatewayTarget, GetGatewayTarget, ListGatewayTargets, UpdateGatewayTarget,
 * DeleteGatewayTarget, SynchronizeGatewayTargets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool s_is(const json_t *o, const char *status)
{
    const char *s = s_str(o, "status");
    return s && strcmp(s, status) == 0;
}

static bool s_busy(const json_t *o)
{
    return s_is(o, "CREATING") || s_is(o, "UPDATING") || s_is(o, "DELETING") ||
           s_is(o, "SYNCHRONIZING");
}

static const char *s_mcp_kind(const json_t *body)
{
    const json_t *mcp = json_object_get(json_object_get(body, "targetConfiguration"), "mcp");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)mcp, k, v) return k;
    return NULL;
}

static void s_target_ctx(struct mg_ac_ctx *ctx, const json_t *body)
{
    mg_ac_ctx_add(ctx, "bedrock-agentcore:McpTargetConfigurationType", s_mcp_kind(body));
    const json_t *c = json_array_get(json_object_get(body, "credentialProviderConfigurations"), 0);
    mg_ac_ctx_add(ctx, "bedrock-agentcore:CredentialProviderType",
                  s_str(c, "credentialProviderType"));
}

static void s_not_found(struct mg_call *c, const char *tid)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "Target not found: %.20s", tid);
    mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
}

/* TargetType of a stored target, by the member of targetConfiguration.mcp. */
static const char *s_target_type(const json_t *doc)
{
    static const struct {
        const char *member, *type;
    } types[] = {{"lambda", "LAMBDA"},
                 {"openApiSchema", "OPEN_API_SCHEMA"},
                 {"smithyModel", "SMITHY_MODEL"},
                 {"mcpServer", "MCP_SERVER"},
                 {"apiGateway", "API_GATEWAY"},
                 {"connector", "CONNECTOR"}};
    const char *k = s_mcp_kind(doc);
    for (size_t i = 0; k && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].member, k) == 0)
            return types[i].type;
    return "LAMBDA";
}

static json_t *s_summary(const json_t *doc)
{
    static const char *const keys[] = {"targetId",           "name",      "status",
                                       "description",        "createdAt", "updatedAt",
                                       "lastSynchronizedAt", NULL};
    json_t *o = json_object();
    bool ok = o != NULL;
    for (int i = 0; ok && keys[i]; i++) {
        json_t *v = json_object_get(doc, keys[i]);
        if (v)
            ok = mg_json_set_ref(o, keys[i], v);
    }
    if (!ok || !mg_json_set(o, "targetType", json_string(s_target_type(doc)))) {
        json_decref(o);
        return NULL; /* out of memory */
    }
    return o;
}

static size_t s_tool_count(const json_t *body)
{
    return json_array_size(json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(body, "targetConfiguration"), "mcp"),
                            "lambda"),
            "toolSchema"),
        "inlinePayload"));
}

/* The tools of an OpenAPI or Smithy target's document into *out (NULL for the other kinds);
 * false when the answer was sent (a refused document, out of memory). */
static bool s_derive(struct mg_call *c, const json_t *body, json_t **out)
{
    struct mg_ac_verr v = {0};
    enum mg_err e = mg_ac_target_tools(body, mg_ac_quotas(c->service), out, &v);
    if (e == MG_E_INVALID) {
        mg_ac_send_validation(c, &v);
        return false;
    }
    if (e != MG_E_OK) {
        mg_ac_send_error(c, 500, "InternalServerException", "The target could not be read.");
        return false;
    }
    return true;
}

static bool s_tool_quota(struct mg_call *c, const json_t *body)
{
    if (s_tool_count(body) <= mg_ac_quotas(c->service)->tools_per_target)
        return true;
    char msg[200];
    snprintf(msg, sizeof(msg), "The maximum number of tools per target (%zu) has been exceeded",
             mg_ac_quotas(c->service)->tools_per_target);
    mg_ac_send_error(c, 402, "ServiceQuotaExceededException", msg);
    return false;
}

/* A gateway invokes Lambda functions of its own region and partition only (Lambda answers
 * "Functions from 'R' are not reachable in this region" for others), so a target naming one
 * elsewhere is refused up front rather than left to fail, or to reach a local namesake, when
 * called. */
static bool s_lambda_in_region(struct mg_call *c, const json_t *body)
{
    const json_t *l = json_object_get(json_object_get(json_object_get(body, "targetConfiguration"),
                                                      "mcp"),
                                      "lambda");
    const char *arn = s_str(l, "lambdaArn");
    struct mg_arn a;
    if (arn == NULL || !mg_arn_parse(mg_slice_cstr(arn), &a))
        return true; /* absent, or already refused by the pattern */
    const char *region = c->env->region;
    if (mg_slice_eq_cstr(a.partition, "aws") && mg_slice_eq_cstr(a.region, region))
        return true;
    struct mg_ac_verr v = {0};
    if (mg_slice_eq_cstr(a.region, region))
        mg_ac_verr_rule(&v, "Lambda function %.200s is not in the partition of the gateway (aws)",
                        arn);
    else
        mg_ac_verr_rule(&v,
                        "Lambda function must be in the same region as the gateway: "
                        "functions from '" MG_SLICE_FMT "' are not reachable in this region "
                        "('%s')",
                        MG_SLICE_ARG(a.region), region);
    mg_ac_send_validation(c, &v);
    return false;
}

static void s_key(char *out, size_t cap, const char *gw, const char *tid)
{
    snprintf(out, cap, "%s/%s", gw, tid);
}

/* Writes doc under an already-open transaction and answers with `reply` (stolen). */
/* Stores doc and answers reply; built false (the document could not be built whole) or a NULL
 * doc aborts the write with an out-of-memory answer. */
static void s_commit(struct mg_call *c, const char *account, const char *key, const json_t *doc,
                     bool built, int status, json_t *reply)
{
    const struct mg_env *env = c->env;
    enum mg_err e = built && doc ? mg_ac_put(env, MG_AC_KIND_TARGET, account, key, doc)
                                 : MG_E_NOMEM;
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK)
        e = mg_state_write_commit(env->state, &ei);
    else
        mg_state_write_abort(env->state);
    if (e) {
        json_decref(reply);
        mg_ac_write_failed(c, e);
        return;
    }
    mg_ac_kick(c->service);
    mg_ac_send_json(c, status, reply);
}

const struct mg_snapshot_doc *mg_ac_targets_of(const struct mg_snapshot *snap, const char *account,
                                               const char *id, size_t *n)
{
    size_t nt, idl = strlen(id);
    const struct mg_snapshot_doc *td = mg_snapshot_range(snap, MG_AC_KIND_TARGET, account, &nt);
    size_t lo = 0, hi = nt;
    while (lo < hi) { /* first key >= "id/" */
        size_t mid = lo + (hi - lo) / 2;
        int c = strncmp(td[mid].key, id, idl);
        if (c == 0)
            c = td[mid].key[idl] < '/' ? -1 : (td[mid].key[idl] == '/' ? 0 : 1);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < nt && strncmp(td[end].key, id, idl) == 0 && td[end].key[idl] == '/')
        end++;
    *n = end - lo;
    return td ? &td[lo] : NULL;
}

/* ---- CreateGatewayTarget ---------------------------------------------------------------- */

void mg_ac_create_target(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    json_t *doc = NULL, *derived = NULL;
    struct mg_snapshot *snap = NULL;
    struct mg_ac_verr v = {0};
    mg_ac_validate_target(body, mg_ac_quotas(c->service), &v);
    if (mg_ac_verr_any(&v)) {
        mg_ac_send_validation(c, &v);
        goto out;
    }
    if (!s_lambda_in_region(c, body))
        goto out;
    struct mg_ac_ctx ctx = {0};
    s_target_ctx(&ctx, body);
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:CreateGatewayTarget", &ctx);
    if (gd == NULL || !s_tool_quota(c, body) || !s_derive(c, body, &derived))
        goto out;
    if (s_is(gd->doc, "DELETING")) {
        mg_ac_send_error(c, 409, "ConflictException", "The gateway is being deleted");
        goto out;
    }
    char account[13], gwid[128], gwarn[300];
    snprintf(account, sizeof(account), "%s", gd->account);
    snprintf(gwid, sizeof(gwid), "%s", gd->key);
    snprintf(gwarn, sizeof(gwarn), "%s", s_str(gd->doc, "gatewayArn"));
    const char *token = s_str(body, "clientToken");
    char hash[65], tid[11];
    mg_ac_request_hash(body, hash);
    mg_ac_new_target_id(tid);
    const char *name = s_str(body, "name");

    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        goto out;
    }
    snap = mg_state_acquire(env->state);
    if (mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, account, gwid) == NULL) {
        mg_state_write_abort(env->state);
        mg_ac_gateway_doc(c, account, gwid);
        goto out;
    }
    size_t n, live = 0, idl = strlen(gwid);
    const struct mg_snapshot_doc *tgs = mg_ac_targets_of(snap, account, gwid, &n);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(tgs[i].key, gwid, idl) != 0 || tgs[i].key[idl] != '/')
            continue;
        const json_t *t = tgs[i].doc;
        const char *tt = s_str(t, "_clientToken");
        if (token && tt && strcmp(tt, token) == 0) {
            mg_state_write_abort(env->state);
            const char *th = s_str(t, "_requestHash");
            if (th && strcmp(th, hash) == 0)
                mg_ac_send_json(c, 202, mg_ac_public_target(t));
            else
                mg_ac_send_validation_msg(c, "IdempotentParameterMismatchException",
                                          "The clientToken was already used with a different "
                                          "request.");
            goto out;
        }
        if (s_is(t, "DELETING"))
            continue;
        live++;
        const char *tn = s_str(t, "name");
        if (name && tn && strcmp(tn, name) == 0) {
            mg_state_write_abort(env->state);
            char msg[200];
            snprintf(msg, sizeof(msg), "A target with name %.100s already exists in this gateway",
                     name);
            mg_ac_send_error(c, 409, "ConflictException", msg);
            goto out;
        }
    }
    if (live >= mg_ac_quotas(c->service)->targets_per_gateway) {
        mg_state_write_abort(env->state);
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "The maximum number of targets per gateway (%zu) has been "
                 "reached",
                 mg_ac_quotas(c->service)->targets_per_gateway);
        mg_ac_send_error(c, 402, "ServiceQuotaExceededException", msg);
        goto out;
    }
    char now[32];
    mg_ac_now(now);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "gatewayArn", gwarn, "targetId",
                    tid, "createdAt", now, "updatedAt", now, "status", "CREATING", "name",
                    name ? name : tid, "targetConfiguration",
                    json_object_get(body, "targetConfiguration"), "protocolType", "MCP");
    if (doc == NULL) {
        mg_state_write_abort(env->state);
        mg_ac_write_failed(c, MG_E_NOMEM);
        goto out;
    }
    static const char *const opt[] = {"description", "credentialProviderConfigurations",
                                      "metadataConfiguration", NULL};
    bool built = true;
    for (int i = 0; built && opt[i]; i++) {
        json_t *val = json_object_get(body, opt[i]);
        if (val && !json_is_null(val))
            built = mg_json_set_ref(doc, opt[i], val);
    }
    built = built && (token == NULL || mg_json_set(doc, "_clientToken", json_string(token))) &&
            mg_json_set(doc, "_requestHash", json_string(hash)) &&
            (derived == NULL || mg_json_set_ref(doc, "_tools", derived));
    if (built)
        mg_ac_compact_target(doc);
    char key[160];
    s_key(key, sizeof(key), gwid, tid);
    s_commit(c, account, key, doc, built, 202, built ? mg_ac_public_target(doc) : NULL);
out:
    if (snap)
        mg_snapshot_unref(snap);
    json_decref(derived);
    json_decref(doc);
    json_decref(body);
}

/* ---- Get / List ------------------------------------------------------------------------- */

static const struct mg_snapshot_doc *s_target_doc(struct mg_call *c,
                                                  const struct mg_snapshot_doc *gd, const char *tid)
{
    char key[160];
    s_key(key, sizeof(key), gd->key, tid);
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_AC_KIND_TARGET, gd->account, key);
    if (d == NULL)
        s_not_found(c, tid);
    return d;
}

void mg_ac_get_target(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const char *tid = mg_ac_in(c, "targetId");
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:GetGatewayTarget", NULL);
    if (gd == NULL)
        return;
    const struct mg_snapshot_doc *d = s_target_doc(c, gd, tid);
    if (d)
        mg_ac_send_json(c, 200, mg_ac_public_target(d->doc));
}

void mg_ac_list_targets(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:ListGatewayTargets", NULL);
    if (gd == NULL)
        return;
    size_t max;
    char token[2100];
    if (!mg_ac_page_params(c, &max, token, sizeof(token)))
        return;
    if (token[0] && !mg_ac_match_target_id(token)) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed", "Invalid nextToken");
        return;
    }
    size_t n, idl = strlen(gd->key);
    const struct mg_snapshot_doc *tgs = mg_ac_targets_of(c->snap, gd->account, gd->key, &n);
    json_t *items = json_array();
    const char *last = NULL;
    bool more = false;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(tgs[i].key, gd->key, idl) != 0 || tgs[i].key[idl] != '/')
            continue;
        const char *tid = tgs[i].key + idl + 1;
        if (token[0] && strcmp(tid, token) <= 0)
            continue;
        if (json_array_size(items) >= max) {
            more = true;
            break;
        }
        if (items == NULL || !mg_json_append(items, s_summary(tgs[i].doc))) {
            json_decref(items);
            items = NULL;
            break;
        }
        last = tid;
    }
    json_t *o = items ? json_pack("{s:O}", "items", items) : NULL;
    json_decref(items);
    if (o && more && last && !mg_json_set(o, "nextToken", json_string(last))) {
        json_decref(o);
        o = NULL;
    }
    mg_ac_send_json(c, 200, o); /* NULL: a 500 */
}

/* ---- Update / Delete / Synchronize ------------------------------------------------------ */

/* Takes the write lock and finds the current target doc; NULL when answered. */
static const struct mg_snapshot_doc *s_locked_target(struct mg_call *c,
                                                     const struct mg_snapshot_doc *gd,
                                                     const char *tid, struct mg_snapshot **snap)
{
    const struct mg_env *env = c->env;
    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        return NULL;
    }
    *snap = mg_state_acquire(env->state);
    char key[160];
    s_key(key, sizeof(key), gd->key, tid);
    const struct mg_snapshot_doc *d = mg_snapshot_get(*snap, MG_AC_KIND_TARGET, gd->account, key);
    if (d == NULL) {
        mg_state_write_abort(env->state);
        s_not_found(c, tid);
    }
    return d;
}

void mg_ac_update_target(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const char *tid = mg_ac_in(c, "targetId");
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    json_t *doc = NULL, *derived = NULL;
    struct mg_snapshot *snap = NULL;
    struct mg_ac_verr v = {0};
    mg_ac_validate_target(body, mg_ac_quotas(c->service), &v);
    if (mg_ac_verr_any(&v)) {
        mg_ac_send_validation(c, &v);
        goto out;
    }
    if (!s_lambda_in_region(c, body))
        goto out;
    struct mg_ac_ctx ctx = {0};
    s_target_ctx(&ctx, body);
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:UpdateGatewayTarget", &ctx);
    if (gd == NULL || !s_tool_quota(c, body) || !s_derive(c, body, &derived))
        goto out;
    char account[13], gwid[128];
    snprintf(account, sizeof(account), "%s", gd->account);
    snprintf(gwid, sizeof(gwid), "%s", gd->key);
    const struct mg_snapshot_doc *d = s_locked_target(c, gd, tid, &snap);
    if (d == NULL)
        goto out;
    if (s_busy(d->doc)) {
        mg_state_write_abort(env->state);
        char msg[200];
        snprintf(msg, sizeof(msg), "Target %s is %s; retry when the operation has finished", tid,
                 s_str(d->doc, "status"));
        mg_ac_send_error(c, 409, "ConflictException", msg);
        goto out;
    }
    const char *name = s_str(body, "name");
    if (name && strcmp(name, s_str(d->doc, "name") ? s_str(d->doc, "name") : "") != 0) {
        size_t n, idl = strlen(gwid);
        const struct mg_snapshot_doc *tgs = mg_ac_targets_of(snap, account, gwid, &n);
        for (size_t i = 0; i < n; i++) {
            if (strncmp(tgs[i].key, gwid, idl) != 0 || tgs[i].key[idl] != '/' ||
                s_is(tgs[i].doc, "DELETING"))
                continue;
            const char *tn = s_str(tgs[i].doc, "name");
            if (tn && strcmp(tn, name) == 0) {
                mg_state_write_abort(env->state);
                mg_ac_send_error(c, 409, "ConflictException",
                                 "A target with this name already exists in this gateway");
                goto out;
            }
        }
    }
    doc = json_object();
    static const char *const keep[] = {"gatewayArn",   "targetId",     "createdAt",
                                       "name",         "protocolType", "lastSynchronizedAt",
                                       "_clientToken", "_requestHash", NULL};
    bool built = doc != NULL;
    for (int i = 0; built && keep[i]; i++) {
        json_t *val = json_object_get(d->doc, keep[i]);
        if (val)
            built = mg_json_set_ref(doc, keep[i], val);
    }
    static const char *const repl[] = {"name",
                                       "description",
                                       "targetConfiguration",
                                       "credentialProviderConfigurations",
                                       "metadataConfiguration",
                                       NULL};
    for (int i = 0; repl[i]; i++) {
        json_t *val = json_object_get(body, repl[i]);
        if (built && val && !json_is_null(val))
            built = mg_json_set_ref(doc, repl[i], val);
    }
    char now[32];
    mg_ac_now(now);
    built = built && mg_json_set(doc, "updatedAt", json_string(now)) &&
            mg_json_set(doc, "status", json_string("UPDATING")) &&
            (derived == NULL || mg_json_set_ref(doc, "_tools", derived));
    if (built)
        mg_ac_compact_target(doc);
    s_commit(c, account, d->key, doc, built, 202, built ? mg_ac_public_target(doc) : NULL);
out:
    if (snap)
        mg_snapshot_unref(snap);
    json_decref(derived);
    json_decref(doc);
    json_decref(body);
}

void mg_ac_delete_target(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const char *tid = mg_ac_in(c, "targetId");
    const struct mg_env *env = c->env;
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:DeleteGatewayTarget", NULL);
    if (gd == NULL)
        return;
    char account[13];
    snprintf(account, sizeof(account), "%s", gd->account);
    const char *gwarn = s_str(gd->doc, "gatewayArn");
    json_t *reply = json_pack("{s:s, s:s, s:s}", "gatewayArn", gwarn ? gwarn : "", "targetId", tid,
                              "status", "DELETING");
    struct mg_snapshot *snap = NULL;
    json_t *doc = NULL;
    const struct mg_snapshot_doc *d = s_locked_target(c, gd, tid, &snap);
    if (d == NULL)
        goto out;
    if (s_is(d->doc, "DELETING")) {
        mg_state_write_abort(env->state);
        mg_ac_send_json(c, 202, reply);
        reply = NULL;
        goto out;
    }
    doc = json_deep_copy(d->doc);
    char now[32];
    mg_ac_now(now);
    bool built = doc && mg_json_set(doc, "status", json_string("DELETING")) &&
                 mg_json_set(doc, "updatedAt", json_string(now));
    s_commit(c, account, d->key, doc, built, 202, reply);
    reply = NULL;
out:
    json_decref(reply);
    json_decref(doc);
    if (snap)
        mg_snapshot_unref(snap);
}

void mg_ac_sync_targets(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    json_t *doc = NULL;
    struct mg_snapshot *snap = NULL;
    /* one target id in the model's pattern */
    const json_t *list = json_object_get(body, "targetIdList");
    char tid[11];
    snprintf(tid, sizeof(tid), "%s", json_string_value(json_array_get(list, 0)));
    const struct mg_snapshot_doc *gd =
        mg_ac_gateway_authorized(c, ident, "bedrock-agentcore:SynchronizeGatewayTargets", NULL);
    if (gd == NULL)
        goto out;
    char account[13];
    snprintf(account, sizeof(account), "%s", gd->account);
    const struct mg_snapshot_doc *d = s_locked_target(c, gd, tid, &snap);
    if (d == NULL)
        goto out;
    if (s_busy(d->doc)) {
        mg_state_write_abort(env->state);
        mg_ac_send_error(c, 409, "ConflictException",
                         "The target is busy; retry when the operation has finished");
        goto out;
    }
    doc = json_deep_copy(d->doc);
    char now[32];
    mg_ac_now(now);
    bool built = doc && mg_json_set(doc, "status", json_string("SYNCHRONIZING")) &&
                 mg_json_set(doc, "updatedAt", json_string(now));
    json_t *arr = built ? json_array() : NULL;
    built = arr && mg_json_append(arr, mg_ac_public_target(doc));
    json_t *answer = built ? json_pack("{s:O}", "targets", arr) : NULL;
    json_decref(arr);
    s_commit(c, account, d->key, doc, built && answer, 202, answer);
out:
    if (snap)
        mg_snapshot_unref(snap);
    json_decref(doc);
    json_decref(body);
}
