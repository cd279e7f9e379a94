/* CreateGateway, GetGateway, ListGateways, UpdateGateway, DeleteGateway. */
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"

/* ---- shared helpers --------------------------------------------------------------------- */

void mg_ac_ctx_add(struct mg_ac_ctx *x, const char *key, const char *value)
{
    if (key == NULL || value == NULL)
        return;
    if (x->n >= sizeof(x->e) / sizeof(x->e[0])) {
        x->overflow = "more condition keys than the request context holds";
        return;
    }
    x->e[x->n++] = (struct mg_policy_ctx_entry){.key = mg_slice_cstr(key),
                                                .value = mg_slice_cstr(value)};
}

static void s_ctx_tag_key(struct mg_ac_ctx *x, size_t *nk, const char *k)
{
    if (*nk >= sizeof(x->tag_keys) / sizeof(x->tag_keys[0])) {
        x->overflow = "more tag keys than AWS allows in one request";
        return;
    }
    x->tag_keys[(*nk)++] = mg_slice_cstr(k);
}

void mg_ac_ctx_tags(struct mg_ac_ctx *x, const json_t *tags)
{
    size_t nk = 0;
    if (json_is_object(tags)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)tags, k, v)
        {
            s_ctx_tag_key(x, &nk, k);
            if (!json_is_string(v))
                continue;
            if (x->n_keys >= sizeof(x->keys) / sizeof(x->keys[0])) {
                x->overflow = "more request tags than AWS allows";
                continue;
            }
            int len = snprintf(x->keys[x->n_keys], sizeof(x->keys[0]), "aws:RequestTag/%s", k);
            if (len < 0 || (size_t)len >= sizeof(x->keys[0])) {
                x->overflow = "a request tag key longer than AWS allows";
                continue;
            }
            mg_ac_ctx_add(x, x->keys[x->n_keys++], json_string_value(v));
        }
    } else if (json_is_array(tags)) {
        size_t i;
        json_t *v;
        json_array_foreach(tags, i, v)
        {
            if (json_is_string(v))
                s_ctx_tag_key(x, &nk, json_string_value(v));
        }
    } else {
        return;
    }
    if (x->n >= sizeof(x->e) / sizeof(x->e[0])) {
        x->overflow = "more condition keys than the request context holds";
        return;
    }
    x->e[x->n++] = (struct mg_policy_ctx_entry){.key = MG_SLICE_LIT("aws:TagKeys"),
                                                .values = x->tag_keys,
                                                .n_values = nk};
}

void mg_ac_ctx_gateway(struct mg_ac_ctx *x, const json_t *gw)
{
    mg_ac_ctx_add(x, "bedrock-agentcore:GatewayAuthorizerType",
                  json_string_value(json_object_get(gw, "authorizerType")));
    mg_ac_ctx_add(x, "bedrock-agentcore:ProtocolType",
                  json_string_value(json_object_get(gw, "protocolType")));
    mg_ac_ctx_add(x, "bedrock-agentcore:DiscoveryUrl",
                  json_string_value(json_object_get(
                      json_object_get(json_object_get(gw, "authorizerConfiguration"),
                                      "customJWTAuthorizer"),
                      "discoveryUrl")));
    mg_ac_ctx_add(x, "bedrock-agentcore:KmsKeyArn",
                  json_string_value(json_object_get(gw, "kmsKeyArn")));
}

enum mg_err mg_ac_put(const struct mg_env *env, const char *kind, const char *account,
                      const char *key, const json_t *doc)
{
    /* a target copied from a snapshot: its schema document back as text */
    json_t *full = strcmp(kind, MG_AC_KIND_TARGET) == 0 ? mg_ac_target_expanded(doc)
                                                        : json_incref((json_t *)doc);
    char *text = full ? json_dumps(full, JSON_COMPACT) : NULL;
    json_decref(full);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_store_put(env->store, kind, account, key, mg_slice_cstr(text));
    mg_free(text);
    return e;
}

void mg_ac_write_failed(struct mg_call *c, enum mg_err e)
{
    struct mg_errinfo ei = {0};
    mg_store_last_error(&ei);
    MG_LOG_REQ(MG_LOG_ERROR, MG_SUB_MAIN, c->req->request_id, "agentcore write failed: %s (%s)",
               mg_err_str(e), ei.msg);
    mg_ac_send_error(c, 500, "InternalServerException",
                     "The request could not be stored; retry later.");
}

void mg_ac_request_hash(const json_t *body, char out[65])
{
    json_t *copy = json_deep_copy(body);
    json_object_del(copy, "clientToken");
    char *text = copy ? json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(copy);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, md);
    mg_free(text);
    mg_hex_encode(md, sizeof(md), out);
    out[64] = 0;
}

static bool s_transitional(const char *st)
{
    return st && (strcmp(st, "CREATING") == 0 || strcmp(st, "UPDATING") == 0 ||
                  strcmp(st, "DELETING") == 0 || strcmp(st, "SYNCHRONIZING") == 0);
}

/* Appends s to out (holding *o bytes), cut at cap - 1 bytes like snprintf. */
static void s_cat(char *out, size_t cap, size_t *o, const char *s)
{
    size_t n = strlen(s);
    if (n > cap - 1 - *o)
        n = cap - 1 - *o;
    mg_memcpy(out + *o, s, n);
    *o += n;
}

static void s_gateway_arn(struct mg_call *c, const char *account, const char *id, char *out,
                          size_t cap)
{
    /* "arn:aws:bedrock-agentcore:%s:%s:gateway/%s" (region, account, id), without formatting:
     * this runs for every request that names a gateway */
    size_t o = 0;
    if (cap == 0)
        return;
    s_cat(out, cap, &o, "arn:aws:bedrock-agentcore:");
    s_cat(out, cap, &o, c->env->region);
    s_cat(out, cap, &o, ":");
    s_cat(out, cap, &o, account);
    s_cat(out, cap, &o, ":gateway/");
    s_cat(out, cap, &o, id);
    out[o] = 0;
}

/* The role named by an ARN in the snapshot, or NULL. */
static const json_t *s_role(const struct mg_snapshot *snap, const char *account, const char *arn)
{
    struct mg_arn a;
    if (!mg_arn_parse(mg_slice_cstr(arn), &a))
        return NULL;
    char acct[13];
    if (a.account.len == 12)
        snprintf(acct, sizeof(acct), MG_SLICE_FMT, MG_SLICE_ARG(a.account));
    else
        snprintf(acct, sizeof(acct), "%s", account);
    const char *slash = strrchr(arn, '/');
    if (slash == NULL)
        return NULL;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "role", acct, slash + 1);
    if (d == NULL)
        return NULL;
    const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
    if (darn == NULL)
        return NULL;
    /* an ARN without account id means the caller's account */
    if (strcmp(darn, arn) != 0 && a.account.len == 12)
        return NULL;
    return d->doc;
}

const char *mg_ac_check_role(const struct mg_snapshot *snap, const char *account,
                             const char *role_arn)
{
    const json_t *role = s_role(snap, account, role_arn);
    if (role == NULL)
        return "Gateway role does not exist or cannot be found";
    const char *trust = json_string_value(json_object_get(role, "AssumeRolePolicyDocument"));
    struct mg_policy *p = NULL;
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_TRUST, MG_POLICY_LIMIT_RAW, role_arn};
    if (trust == NULL || mg_policy_parse(mg_slice_cstr(trust), &o, &p, NULL) != MG_E_OK)
        return "Gateway service is not authorized to perform AssumeRole on Gateway role";
    const char *arn = json_string_value(json_object_get(role, "Arn"));
    struct mg_policy_ctx_entry ctx[2] = {
        {.key = MG_SLICE_LIT("aws:SourceAccount"), .value = mg_slice_cstr(account)},
        {.key = MG_SLICE_LIT("aws:PrincipalServiceName"),
         .value = MG_SLICE_LIT("bedrock-agentcore.amazonaws.com")},
    };
    struct mg_policy_request req = {
        .principal_type = MG_POLICY_PRINCIPAL_SERVICE,
        .service = MG_SLICE_LIT("bedrock-agentcore.amazonaws.com"),
        .action = MG_SLICE_LIT("sts:AssumeRole"),
        .resource = mg_slice_cstr(arn ? arn : role_arn),
        .resource_account = mg_slice_cstr(account),
        .context = ctx,
        .n_context = 2,
    };
    struct mg_policy_set set = {.resource = p};
    enum mg_policy_decision d = mg_policy_evaluate(&set, &req, NULL);
    mg_policy_unref(p);
    if (d != MG_POLICY_ALLOW)
        return "Gateway service is not authorized to perform AssumeRole on Gateway role";
    return NULL;
}

/* iam:PassRole on the role, and the role must exist in the caller's account. */
static bool s_pass_role(struct mg_call *c, const char *account, const char *role_arn)
{
    struct mg_ac_ctx ctx = {0};
    mg_ac_ctx_add(&ctx, "iam:PassedToService", "bedrock-agentcore.amazonaws.com");
    struct mg_authz_extra ex = mg_ac_extra(&ctx);
    struct mg_authz_resource res = {.arn = role_arn, .account = account};
    if (!mg_authz(c, "iam:PassRole", &res, &ex))
        return false;
    struct mg_arn a;
    bool other = mg_arn_parse(mg_slice_cstr(role_arn), &a) && a.account.len == 12 &&
                 !mg_slice_eq_cstr(a.account, account);
    if (other || s_role(c->snap, account, role_arn) == NULL) {
        char msg[2300];
        snprintf(msg, sizeof(msg),
                 "The role %.2048s does not exist in account %s or cannot be "
                 "used by this gateway",
                 role_arn, account);
        mg_ac_send_validation_msg(c, "FieldValidationFailed", msg);
        return false;
    }
    return true;
}

/* The members a client may set on a gateway (create and update). */
static const char *const s_gw_members[] = {"description",      "roleArn",
                                           "protocolType",     "protocolConfiguration",
                                           "authorizerType",   "authorizerConfiguration",
                                           "kmsKeyArn",        "interceptorConfigurations",
                                           "exceptionLevel",   "customTransformConfiguration",
                                           "wafConfiguration", NULL};

/* False when memory ran out (the document is then not whole). */
static bool s_copy_members(json_t *doc, const json_t *body)
{
    bool ok = true;
    for (int i = 0; ok && s_gw_members[i]; i++) {
        json_t *v = json_object_get(body, s_gw_members[i]);
        if (v && !json_is_null(v))
            ok = mg_json_set_ref(doc, s_gw_members[i], v);
    }
    if (ok && json_object_get(doc, "protocolType") == NULL)
        ok = mg_json_set(doc, "protocolType", json_string("MCP"));
    return ok;
}

json_t *mg_ac_gateway_summary(const json_t *doc)
{
    static const char *const keys[] = {"gatewayId",      "name",         "status",
                                       "description",    "createdAt",    "updatedAt",
                                       "authorizerType", "protocolType", NULL};
    json_t *o = json_object();
    for (int i = 0; keys[i]; i++) {
        json_t *v = json_object_get(doc, keys[i]);
        if (v)
            json_object_set(o, keys[i], v);
    }
    return o;
}

void mg_ac_gateway_json_free(struct mg_gateway_json *j)
{
    if (j == NULL)
        return;
    mg_free(j->public_doc);
    mg_free(j->summary);
    mg_free(j);
}

/* The text of a reply body, as mg_aws_reply_send writes a json_t (takes o). */
static char *s_dump(json_t *o, size_t *len)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    *len = text ? strlen(text) : 0;
    return text;
}

const struct mg_gateway_json *mg_ac_gateway_json(const struct mg_snapshot *snap,
                                                 const struct mg_snapshot_doc *d)
{
    /* the snapshot's gateway of this very document (the map holds no gateway being deleted) */
    struct mg_gateway *g = (struct mg_gateway *)mg_agentcore_gateway(snap, mg_slice_cstr(d->key));
    if (g == NULL || g->doc != d->doc || strcmp(g->account, d->account) != 0)
        return NULL;
    struct mg_gateway_json *j = atomic_load_explicit(&g->json, memory_order_acquire);
    if (j)
        return j;
    j = mg_calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->public_doc = s_dump(mg_ac_public_gateway(d->doc), &j->public_len);
    j->summary = s_dump(mg_ac_gateway_summary(d->doc), &j->summary_len);
    if (j->public_doc == NULL || j->summary == NULL) {
        mg_ac_gateway_json_free(j);
        return NULL;
    }
    struct mg_gateway_json *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&g->json, &none, j, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        mg_ac_gateway_json_free(j); /* another thread made it first */
        return none;
    }
    return j;
}

/* ---- CreateGateway ---------------------------------------------------------------------- */

static void s_name_taken(struct mg_call *c, const char *name)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "A gateway with name %s already exists in this account", name);
    mg_ac_send_error(c, 409, "ConflictException", msg);
}

/* The name was taken in the store by another writer of a shared store (another node) whose change
 * this node's snapshot does not hold yet. When that writer made the gateway for the same
 * clientToken and the same request (a retry sent to another node), answers it as the node that
 * made it would (202, that gateway); a different request with the token gets
 * IdempotentParameterMismatchException. False when no gateway of the token is in the store. */
static bool s_token_in_store(struct mg_call *c, const char *account, const char *token,
                             const char *hash)
{
    const struct mg_env *env = c->env;
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    json_t *row = NULL, *prior = NULL;
    bool answered = false;
    if (mg_store_get(env->store, MG_AC_KIND_GATEWAY_TOKEN, account, token, &b) != MG_E_OK)
        goto out;
    row = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    const char *id = json_string_value(json_object_get(row, "gatewayId"));
    if (id == NULL || mg_store_get(env->store, MG_AC_KIND_GATEWAY, account, id, &b) != MG_E_OK)
        goto out;
    prior = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    if (prior == NULL)
        goto out;
    const char *gh = json_string_value(json_object_get(prior, "_requestHash"));
    if (gh && strcmp(gh, hash) == 0)
        mg_ac_send_json(c, 202, mg_ac_public_gateway(prior));
    else
        mg_ac_send_validation_msg(c, "IdempotentParameterMismatchException",
                                  "The clientToken was already used with a different request.");
    answered = true;
out:
    json_decref(prior);
    json_decref(row);
    mg_buf_cleanup(&b);
    return answered;
}

/* An index row {"gatewayId": id} under (kind, account, key); insert: MG_E_CONFLICT when taken. */
static enum mg_err s_index_put(const struct mg_env *env, const char *kind, const char *account,
                               const char *key, const char *id, bool insert)
{
    struct mg_buf b;
    mg_buf_init(&b, 512);
    enum mg_err e = mg_buf_append_cstr(&b, "{\"gatewayId\":\"");
    if (!e)
        e = mg_buf_append_json_str(&b, mg_slice_cstr(id));
    if (!e)
        e = mg_buf_append_cstr(&b, "\"}");
    if (!e)
        e = insert ? mg_store_insert(env->store, kind, account, key, mg_buf_slice(&b))
                   : mg_store_put(env->store, kind, account, key, mg_buf_slice(&b));
    mg_buf_cleanup(&b);
    return e;
}

enum mg_err mg_ac_index_get(const struct mg_env *env, const char *kind, const char *account,
                            const char *key, char *id, size_t cap)
{
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    enum mg_err e = mg_store_get(env->store, kind, account, key, &b);
    json_t *row = e ? NULL : json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    if (e)
        return e;
    const char *v = json_string_value(json_object_get(row, "gatewayId"));
    e = v && strlen(v) < cap ? MG_E_OK : MG_E_NOT_FOUND;
    if (e == MG_E_OK)
        mg_memcpy(id, v, strlen(v) + 1);
    json_decref(row);
    return e;
}

/* Whether the account has reached its quota of gateways: counting every one not being deleted
 * (those that have a name row), read only when the account's gateways, deleted or not, are
 * that many. */
static bool s_quota_reached(const struct mg_snapshot *snap, const char *account, size_t quota)
{
    size_t n, live = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_range(snap, MG_AC_KIND_GATEWAY, account, &n);
    if (n < quota)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *st = json_string_value(json_object_get(d[i].doc, "status"));
        if (st == NULL || strcmp(st, "DELETING") != 0)
            live++;
    }
    return live >= quota;
}

void mg_ac_create_gateway(struct mg_call *c)
{
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    json_t *doc = NULL;
    struct mg_snapshot *snap = NULL;
    struct mg_ac_verr v = {0};
    mg_ac_validate_gateway(body, false, &v);
    if (mg_ac_verr_any(&v)) {
        mg_ac_send_validation(c, &v);
        goto out;
    }
    const char *account = c->principal.account;
    struct mg_ac_ctx ctx = {0};
    mg_ac_ctx_gateway(&ctx, body);
    mg_ac_ctx_tags(&ctx, json_object_get(body, "tags"));
    struct mg_authz_extra extra = mg_ac_extra(&ctx);
    struct mg_authz_resource res = {.arn = "*", .account = account};
    if (!mg_authz(c, "bedrock-agentcore:CreateGateway", &res, &extra))
        goto out;
    const char *role = json_string_value(json_object_get(body, "roleArn"));
    if (!s_pass_role(c, account, role))
        goto out;
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *token = json_string_value(json_object_get(body, "clientToken"));
    char hash[65];
    mg_ac_request_hash(body, hash);

    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        goto out;
    }
    snap = mg_state_acquire(env->state);
    /* Names and client tokens are answered from the account's index rows in the store
     * (MG_AC_KIND_GATEWAY_NAME, MG_AC_KIND_GATEWAY_TOKEN): a lookup, whatever the account holds. */
    char prior_id[128];
    enum mg_err ie = token ? mg_ac_index_get(env, MG_AC_KIND_GATEWAY_TOKEN, account, token,
                                             prior_id, sizeof(prior_id))
                           : MG_E_NOT_FOUND;
    if (ie != MG_E_OK && ie != MG_E_NOT_FOUND) {
        mg_state_write_abort(env->state);
        mg_ac_write_failed(c, ie);
        goto out;
    }
    const struct mg_snapshot_doc *prior = ie == MG_E_OK ? mg_snapshot_get(snap, MG_AC_KIND_GATEWAY,
                                                                          account, prior_id)
                                                        : NULL;
    if (prior) {
        mg_state_write_abort(env->state);
        const char *gh = json_string_value(json_object_get(prior->doc, "_requestHash"));
        if (gh && strcmp(gh, hash) == 0)
            mg_ac_send_json(c, 202, mg_ac_public_gateway(prior->doc));
        else
            mg_ac_send_validation_msg(c, "IdempotentParameterMismatchException",
                                      "The clientToken was already used with a different "
                                      "request.");
        goto out;
    }
    char taken[128];
    ie = mg_ac_index_get(env, MG_AC_KIND_GATEWAY_NAME, account, name, taken, sizeof(taken));
    if (ie != MG_E_NOT_FOUND) {
        mg_state_write_abort(env->state);
        /* the token's gateway may be another node's, not in this node's snapshot yet */
        if (ie == MG_E_OK && (token == NULL || !s_token_in_store(c, account, token, hash)))
            s_name_taken(c, name);
        else if (ie != MG_E_OK)
            mg_ac_write_failed(c, ie);
        goto out;
    }
    if (s_quota_reached(snap, account, mg_ac_quotas(c->service)->gateways_per_account)) {
        mg_state_write_abort(env->state);
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "The maximum number of gateways per account (%zu) has been "
                 "reached",
                 mg_ac_quotas(c->service)->gateways_per_account);
        mg_ac_send_error(c, 402, "ServiceQuotaExceededException", msg);
        goto out;
    }
    char id[64], arn[256], now[32], wid[300], suffix[11];
    mg_ac_new_gateway_id(name, id);
    s_gateway_arn(c, account, id, arn, sizeof(arn));
    mg_ac_now(now);
    mg_random_chars(suffix, 10, MG_ALPHA_LOWER_NUM);
    suffix[10] = 0;
    snprintf(wid, sizeof(wid),
             "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/"
             "default/workload-identity/%s-%s",
             env->region, account, name, suffix);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "gatewayArn", arn, "gatewayId", id,
                    "createdAt", now, "updatedAt", now, "status", "CREATING", "name", name);
    if (doc == NULL) {
        mg_state_write_abort(env->state);
        mg_ac_write_failed(c, MG_E_NOMEM);
        goto out;
    }
    json_t *tags = json_object_get(body, "tags");
    bool built = s_copy_members(doc, body) &&
                 mg_json_set(doc, "workloadIdentityDetails",
                             json_pack("{s:s}", "workloadIdentityArn", wid)) &&
                 mg_json_set(doc, "_region", json_string(env->region)) &&
                 mg_json_set(doc, "_tags",
                             json_is_object(tags) ? json_deep_copy(tags) : json_object()) &&
                 (token == NULL || mg_json_set(doc, "_clientToken", json_string(token))) &&
                 mg_json_set(doc, "_requestHash", json_string(hash));
    char *text = built ? json_dumps(doc, JSON_COMPACT) : NULL;
    enum mg_err e = text ? mg_store_insert(env->store, MG_AC_KIND_GATEWAY, account, id,
                                           mg_slice_cstr(text))
                         : MG_E_NOMEM;
    mg_free(text);
    if (e == MG_E_OK)
        e = s_index_put(env, MG_AC_KIND_GATEWAY_NAME, account, name, id, true);
    if (e == MG_E_OK && token)
        e = s_index_put(env, MG_AC_KIND_GATEWAY_TOKEN, account, token, id, false);
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK)
        e = mg_state_write_commit(env->state, &ei);
    else
        mg_state_write_abort(env->state);
    if (e == MG_E_CONFLICT) {
        /* the name row exists in the store though not in the snapshot: another writer of a
         * shared store took the name first, maybe for this very request (its clientToken) */
        if (token == NULL || !s_token_in_store(c, account, token, hash))
            s_name_taken(c, name);
        goto out;
    }
    if (e) {
        mg_ac_write_failed(c, e);
        goto out;
    }
    MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MAIN, c->req->request_id, "gateway %s created in %s", id,
               account);
    mg_ac_kick(c->service);
    mg_ac_send_json(c, 202, mg_ac_public_gateway(doc));
out:
    if (snap)
        mg_snapshot_unref(snap);
    json_decref(doc);
    json_decref(body);
}

/* ---- GetGateway / ListGateways ---------------------------------------------------------- */

/* Resolves, authorizes and finds a gateway. NULL when answered. */
/* The gateway ident names, after the authorization of action on it (remembered for the snapshot
 * when memo is set: a read without request context, see mg_authz_cached). */
static const struct mg_snapshot_doc *s_gateway_find(struct mg_call *c, const char *ident,
                                                    const char *action, const struct mg_ac_ctx *ctx,
                                                    bool memo)
{
    char account[13], id[128], arn[256];
    if (!mg_ac_gateway_ident(c, ident, account, id))
        return NULL;
    s_gateway_arn(c, account, id, arn, sizeof(arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_AC_KIND_GATEWAY, account, id);
    struct mg_authz_resource res = {.arn = arn,
                                    .account = account,
                                    .policy = mg_ac_policy_of(c, arn),
                                    .tags = d ? json_object_get(d->doc, "_tags") : NULL};
    struct mg_authz_extra extra = ctx ? mg_ac_extra(ctx) : (struct mg_authz_extra){0};
    if (memo && ctx == NULL ? !mg_authz_cached(c, action, &res)
                            : !mg_authz(c, action, &res, ctx ? &extra : NULL))
        return NULL;
    if (d == NULL)
        return mg_ac_gateway_doc(c, account, id);
    return d;
}

static const struct mg_snapshot_doc *s_gateway_for(struct mg_call *c, const char *ident,
                                                   const char *action, const struct mg_ac_ctx *ctx)
{
    return s_gateway_find(c, ident, action, ctx, false);
}

const struct mg_snapshot_doc *mg_ac_gateway_authorized(struct mg_call *c, const char *ident,
                                                       const char *action,
                                                       const struct mg_ac_ctx *ctx)
{
    return s_gateway_for(c, ident, action, ctx);
}

void mg_ac_get_gateway(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_snapshot_doc *d = s_gateway_find(c, ident, "bedrock-agentcore:GetGateway", NULL,
                                                     true);
    if (d == NULL)
        return;
    const struct mg_gateway_json *j = mg_ac_gateway_json(c->snap, d);
    if (j && mg_buf_append(mg_aws_reply_json_buf_public(c->reply, 200), j->public_doc,
                           j->public_len) == MG_E_OK)
        return;
    mg_ac_send_json(c, 200, mg_ac_public_gateway(d->doc));
}

bool mg_ac_page_params(struct mg_call *c, size_t *max, char *token, size_t cap)
{
    /* maxResults (1..1000) and nextToken (1..2048 characters) are checked by the model */
    const json_t *m = json_object_get(c->input, "maxResults");
    *max = json_is_integer(m) ? (size_t)json_integer_value(m) : 1000;
    const char *t = mg_ac_in(c, "nextToken");
    token[0] = 0;
    size_t n = t ? strlen(t) : 0;
    if (t && n >= cap) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed", "Invalid nextToken");
        return false;
    }
    if (n)
        mg_memcpy(token, t, n);
    token[n] = 0;
    return true;
}

void mg_ac_list_gateways(struct mg_call *c)
{
    struct mg_authz_resource res = {.arn = "*", .account = c->principal.account};
    if (!mg_authz_cached(c, "bedrock-agentcore:ListGateways", &res))
        return;
    size_t max;
    char token[2100];
    if (!mg_ac_page_params(c, &max, token, sizeof(token)))
        return;
    if (token[0] && !mg_ac_match_gateway_id(token)) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed", "Invalid nextToken");
        return;
    }
    size_t n;
    const struct mg_snapshot_doc *gws = mg_snapshot_range(c->snap, MG_AC_KIND_GATEWAY,
                                                          c->principal.account, &n);
    size_t i = 0;
    if (token[0])
        while (i < n && strcmp(gws[i].key, token) <= 0)
            i++;
    /* {"items":[...],"nextToken":"..."} as json_dumps would write it, from each gateway's item
     * serialized once with the snapshot */
    struct mg_buf *b = mg_aws_reply_json_buf_public(c->reply, 200);
    enum mg_err e = mg_buf_append_cstr(b, "{\"items\":[");
    const char *last = NULL;
    for (size_t k = 0; !e && i < n && k < max; i++, k++) {
        if (k)
            e = mg_buf_append_byte(b, ',');
        const struct mg_gateway_json *j = mg_ac_gateway_json(c->snap, &gws[i]);
        if (!e && j) {
            e = mg_buf_append(b, j->summary, j->summary_len);
        } else if (!e) { /* a gateway being deleted */
            size_t len;
            char *text = s_dump(mg_ac_gateway_summary(gws[i].doc), &len);
            e = text ? mg_buf_append(b, text, len) : MG_E_NOMEM;
            mg_free(text);
        }
        last = gws[i].key;
    }
    if (!e)
        e = mg_buf_append_byte(b, ']');
    if (!e && i < n && last) {
        e = mg_buf_append_cstr(b, ",\"nextToken\":\"");
        if (!e) /* a gateway id: letters, digits and '-' */
            e = mg_buf_append_json_str(b, mg_slice_cstr(last));
        if (!e)
            e = mg_buf_append_byte(b, '"');
    }
    if (!e)
        e = mg_buf_append_byte(b, '}');
    if (e) /* 500 InternalServerException "The response could not be built." */
        mg_ac_send_json(c, 200, NULL);
}

/* ---- UpdateGateway ---------------------------------------------------------------------- */

void mg_ac_update_gateway(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    json_t *doc = NULL;
    if (body == NULL)
        return;
    struct mg_ac_verr v = {0};
    mg_ac_validate_gateway(body, true, &v);
    if (mg_ac_verr_any(&v)) {
        mg_ac_send_validation(c, &v);
        goto out;
    }
    struct mg_ac_ctx ctx = {0};
    mg_ac_ctx_gateway(&ctx, body);
    const struct mg_snapshot_doc *d = s_gateway_for(c, ident, "bedrock-agentcore:UpdateGateway",
                                                    &ctx);
    if (d == NULL)
        goto out;
    const char *account = d->account;
    const char *role = json_string_value(json_object_get(body, "roleArn"));
    if (!s_pass_role(c, account, role))
        goto out;
    const json_t *old = d->doc;
    const char *st = json_string_value(json_object_get(old, "status"));
    if (s_transitional(st)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "Gateway %s is %s; retry when the operation has finished",
                 d->key, st);
        mg_ac_send_error(c, 409, "ConflictException", msg);
        goto out;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *oldname = json_string_value(json_object_get(old, "name"));
    if (oldname && strcmp(name, oldname) != 0) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed",
                                  "The name of a gateway cannot be changed");
        goto out;
    }
    const char *os = json_string_value(
        json_object_get(json_object_get(json_object_get(old, "protocolConfiguration"), "mcp"),
                        "searchType"));
    const char *ns = json_string_value(
        json_object_get(json_object_get(json_object_get(body, "protocolConfiguration"), "mcp"),
                        "searchType"));
    if ((os == NULL) != (ns == NULL) || (os && ns && strcmp(os, ns) != 0)) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed",
                                  "searchType can only be set when the gateway is created");
        goto out;
    }
    char now[32];
    mg_ac_now(now);
    doc = json_object();
    static const char *const keep[] = {
        "gatewayArn", "gatewayId", "createdAt",    "name",         "workloadIdentityDetails",
        "_region",    "_tags",     "_clientToken", "_requestHash", NULL};
    bool built = doc != NULL;
    for (int i = 0; built && keep[i]; i++) {
        json_t *val = json_object_get(old, keep[i]);
        if (val)
            built = mg_json_set_ref(doc, keep[i], val);
    }
    built = built && mg_json_set(doc, "updatedAt", json_string(now)) &&
            mg_json_set(doc, "status", json_string("UPDATING")) && s_copy_members(doc, body);
    if (!built) {
        mg_ac_write_failed(c, MG_E_NOMEM);
        goto out;
    }
    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        goto out;
    }
    struct mg_buf cur;
    mg_buf_init(&cur, MG_STORE_DOC_MAX);
    enum mg_err e = mg_store_get(env->store, MG_AC_KIND_GATEWAY, account, d->key, &cur);
    mg_buf_cleanup(&cur);
    if (e == MG_E_OK)
        e = mg_ac_put(env, MG_AC_KIND_GATEWAY, account, d->key, doc);
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK) {
        e = mg_state_write_commit(env->state, &ei);
    } else {
        mg_state_write_abort(env->state);
        if (e == MG_E_NOT_FOUND) {
            mg_ac_gateway_doc(c, account, "");
            goto out;
        }
    }
    if (e) {
        mg_ac_write_failed(c, e);
        goto out;
    }
    mg_ac_kick(c->service);
    mg_ac_send_json(c, 202, mg_ac_public_gateway(doc));
out:
    json_decref(doc);
    json_decref(body);
}

/* ---- DeleteGateway ---------------------------------------------------------------------- */

void mg_ac_delete_gateway(struct mg_call *c)
{
    const char *ident = mg_ac_in(c, "gatewayIdentifier");
    const struct mg_env *env = c->env;
    const struct mg_snapshot_doc *d = s_gateway_for(c, ident, "bedrock-agentcore:DeleteGateway",
                                                    NULL);
    if (d == NULL)
        return;
    const char *account = d->account;
    char id[128];
    snprintf(id, sizeof(id), "%s", d->key);
    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        return;
    }
    struct mg_snapshot *snap = mg_state_acquire(env->state);
    json_t *doc = NULL;
    const struct mg_snapshot_doc *cur = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, account, id);
    if (cur == NULL) {
        mg_state_write_abort(env->state);
        mg_ac_gateway_doc(c, account, id);
        goto out;
    }
    const char *st = json_string_value(json_object_get(cur->doc, "status"));
    if (st && strcmp(st, "DELETING") == 0) {
        mg_state_write_abort(env->state);
        mg_ac_send_json(c, 202, json_pack("{s:s, s:s}", "gatewayId", id, "status", "DELETING"));
        goto out;
    }
    size_t n;
    const struct mg_snapshot_doc *tgs = mg_ac_targets_of(snap, account, id, &n);
    size_t idl = strlen(id);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(tgs[i].key, id, idl) != 0 || tgs[i].key[idl] != '/')
            continue;
        const char *ts = json_string_value(json_object_get(tgs[i].doc, "status"));
        if (ts && strcmp(ts, "DELETING") == 0)
            continue;
        mg_state_write_abort(env->state);
        mg_ac_send_error(c, 409, "ConflictException",
                         "The gateway has targets. Delete all of its targets before deleting "
                         "the gateway.");
        goto out;
    }
    doc = json_deep_copy(cur->doc);
    char now[32];
    mg_ac_now(now);
    enum mg_err e = doc && mg_json_set(doc, "status", json_string("DELETING")) &&
                            mg_json_set(doc, "updatedAt", json_string(now))
                        ? mg_ac_put(env, MG_AC_KIND_GATEWAY, account, id, doc)
                        : MG_E_NOMEM;
    /* the name is free again (and no longer counts against the quota) from here on */
    const char *gname = json_string_value(json_object_get(cur->doc, "name"));
    char nid[128];
    enum mg_err ne = e == MG_E_OK && gname ? mg_ac_index_get(env, MG_AC_KIND_GATEWAY_NAME, account,
                                                             gname, nid, sizeof(nid))
                                           : MG_E_NOT_FOUND;
    if (ne != MG_E_OK && ne != MG_E_NOT_FOUND)
        e = ne;
    if (e == MG_E_OK && ne == MG_E_OK && strcmp(nid, id) == 0) {
        e = mg_store_delete(env->store, MG_AC_KIND_GATEWAY_NAME, account, gname);
        if (e == MG_E_NOT_FOUND)
            e = MG_E_OK;
    }
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK)
        e = mg_state_write_commit(env->state, &ei);
    else
        mg_state_write_abort(env->state);
    if (e) {
        mg_ac_write_failed(c, e);
        goto out;
    }
    mg_ac_kick(c->service);
    mg_ac_send_json(c, 202, json_pack("{s:s, s:s}", "gatewayId", id, "status", "DELETING"));
out:
    json_decref(doc);
    mg_snapshot_unref(snap);
}
