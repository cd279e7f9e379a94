/* Resource-based policies (Put/Get/DeleteResourcePolicy) and tags (Tag/Untag/ListTagsForResource)
 * on AgentCore resource ARNs. Policies are stored generically (kind "resource_policy", key = the
 * resource ARN); gateways are the only resource kind served today. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/util.h"

/* The kinds of resource that take resource-based policies, and the actions each supports. */
static const struct {
    const char *type; /* resource type in the ARN */
    const char *const *actions;
} s_policy_types[] = {
    {"gateway", (const char *const[]){"bedrock-agentcore:InvokeGateway", NULL}},
};

/* The stored document of the resource an ARN names, or NULL after answering. */
static const struct mg_snapshot_doc *s_resource(struct mg_call *c, const char *arn,
                                                const char **type, char account[13])
{
    size_t len = strlen(arn);
    struct mg_arn a;
    if (len < 20 || len > 1011 || !mg_arn_parse(mg_slice_cstr(arn), &a) ||
        !mg_slice_eq_cstr(a.service, "bedrock-agentcore") || a.account.len != 12) {
        struct mg_ac_verr v = {0};
        mg_ac_verr_add(&v, "resourceArn",
                       "Value '%.300s' at 'resourceArn' failed to satisfy "
                       "constraint: Member must be the ARN of a Bedrock "
                       "AgentCore resource",
                       arn);
        mg_ac_send_validation(c, &v);
        return NULL;
    }
    snprintf(account, 13, MG_SLICE_FMT, MG_SLICE_ARG(a.account));
    if (!mg_slice_starts_with(a.resource, "gateway/")) {
        char msg[400];
        snprintf(msg, sizeof(msg),
                 "Resource type of %.300s is not supported by mcpgate: only "
                 "gateways are served",
                 arn);
        mg_ac_send_validation_msg(c, "FieldValidationFailed", msg);
        return NULL;
    }
    *type = "gateway";
    char id[128];
    snprintf(id, sizeof(id), "%.*s", (int)(a.resource.len - 8), (const char *)a.resource.ptr + 8);
    const struct mg_snapshot_doc *d = NULL;
    if (mg_slice_eq_cstr(a.region, c->env->region))
        d = mg_snapshot_get(c->snap, MG_AC_KIND_GATEWAY, account, id);
    const char *darn = d ? json_string_value(json_object_get(d->doc, "gatewayArn")) : NULL;
    if (d == NULL || darn == NULL || strcmp(darn, arn) != 0)
        d = NULL;
    return d;
}

/* Authorizes action on the ARN, then answers NotFound when the resource is absent. */
static const struct mg_snapshot_doc *s_authorized(struct mg_call *c, const char *arn,
                                                  const char *action, const struct mg_ac_ctx *ctx,
                                                  const char **type, char account[13])
{
    const struct mg_snapshot_doc *d = s_resource(c, arn, type, account);
    if (*type == NULL)
        return NULL;
    struct mg_authz_resource res = {.arn = arn,
                                    .account = account,
                                    .policy = mg_ac_policy_of(c, arn),
                                    .tags = d ? json_object_get(d->doc, "_tags") : NULL};
    struct mg_authz_extra extra = ctx ? mg_ac_extra(ctx) : (struct mg_authz_extra){0};
    if (!mg_authz(c, action, &res, ctx ? &extra : NULL))
        return NULL;
    if (d == NULL) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "Resource not found: %s", arn);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
    }
    return d;
}

/* ---- policy rules ----------------------------------------------------------------------- */

static bool s_action_ok(const char *a, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcasecmp(a, allowed[i]) == 0)
            return true;
    return false;
}

const char *mg_ac_check_resource_policy(const char *text, const char *arn, char *buf, size_t cap)
{
    const char *const *allowed = s_policy_types[0].actions;
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RESOURCE, arn};
    if (mg_policy_parse(mg_slice_cstr(text), &o, &p, &ei) != MG_E_OK) {
        snprintf(buf, cap, "Invalid resource policy: %s", ei.msg[0] ? ei.msg : "malformed");
        return buf;
    }
    mg_policy_unref(p);
    json_t *doc = json_loads(text, 0, NULL);
    const json_t *st = json_object_get(doc, "Statement");
    json_t *one = NULL;
    if (json_is_object(st)) {
        one = json_array();
        json_array_append(one, (json_t *)st);
        st = one;
    }
    const char *err = NULL;
    size_t i;
    json_t *s;
    json_array_foreach(st, i, s)
    {
        if (json_object_get(s, "Principal") == NULL) {
            snprintf(buf, cap, "Invalid resource policy: every statement must name a Principal");
            err = buf;
            break;
        }
        if (json_object_get(s, "NotAction") || json_object_get(s, "NotResource")) {
            snprintf(buf, cap,
                     "Invalid resource policy: NotAction and NotResource are not "
                     "supported in resource-based policies");
            err = buf;
            break;
        }
        const json_t *act = json_object_get(s, "Action");
        size_t k;
        json_t *a;
        bool bad_action = false;
        const char *bad = NULL;
        if (json_is_string(act)) {
            bad_action = !s_action_ok(json_string_value(act), allowed);
            bad = json_string_value(act);
        } else {
            json_array_foreach(act, k, a)
            {
                if (!json_is_string(a) || !s_action_ok(json_string_value(a), allowed)) {
                    bad_action = true;
                    bad = json_string_value(a);
                    break;
                }
            }
        }
        if (bad_action) {
            snprintf(buf, cap,
                     "Invalid resource policy: action %.200s is not supported for "
                     "this resource type; supported: bedrock-agentcore:InvokeGateway",
                     bad ? bad : "(not a string)");
            err = buf;
            break;
        }
        const json_t *res = json_object_get(s, "Resource");
        bool ok = false;
        if (json_is_string(res)) {
            ok = strcmp(json_string_value(res), arn) == 0;
        } else if (json_is_array(res) && json_array_size(res) > 0) {
            ok = true;
            json_array_foreach(res, k, a)
                ok = ok && json_is_string(a) && strcmp(json_string_value(a), arn) == 0;
        }
        if (!ok) {
            snprintf(buf, cap,
                     "Invalid resource policy: the Resource of each statement must be "
                     "the ARN of the resource the policy is attached to (%.900s); "
                     "\"*\" and other resources are not allowed",
                     arn);
            err = buf;
            break;
        }
    }
    json_decref(one);
    json_decref(doc);
    return err;
}

/* ---- Put / Get / Delete ----------------------------------------------------------------- */

void mg_ac_put_policy(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    const struct mg_env *env = c->env;
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    const char *type = NULL;
    char account[13];
    if (s_authorized(c, arn, "bedrock-agentcore:PutResourcePolicy", NULL, &type, account) == NULL)
        goto out;
    const json_t *pj = json_object_get(body, "policy"); /* 1..20480 characters: the model */
    const char *text = json_string_value(pj);
    char buf[1200];
    const char *err = mg_ac_check_resource_policy(text, arn, buf, sizeof(buf));
    if (err) {
        mg_ac_send_validation_msg(c, "FieldValidationFailed", err);
        goto out;
    }
    json_t *doc = json_pack("{s:s, s:s}", "resourceArn", arn, "policy", text);
    enum mg_err e = mg_state_write_begin(env->state);
    if (e == MG_E_OK) {
        e = mg_ac_put(env, MG_AC_KIND_POLICY, account, arn, doc);
        struct mg_errinfo ei = {0};
        if (e == MG_E_OK)
            e = mg_state_write_commit(env->state, &ei);
        else
            mg_state_write_abort(env->state);
    }
    json_decref(doc);
    if (e) {
        mg_ac_write_failed(c, e);
        goto out;
    }
    mg_ac_send_json(c, 201, json_pack("{s:s}", "policy", text));
out:
    json_decref(body);
}

void mg_ac_get_policy(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    const char *type = NULL;
    char account[13];
    if (s_authorized(c, arn, "bedrock-agentcore:GetResourcePolicy", NULL, &type, account) == NULL)
        return;
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_AC_KIND_POLICY, account, arn);
    const char *text = d ? json_string_value(json_object_get(d->doc, "policy")) : NULL;
    if (text == NULL) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "No resource policy found for %s", arn);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
        return;
    }
    mg_ac_send_json(c, 200, json_pack("{s:s}", "policy", text));
}

void mg_ac_delete_policy(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    const struct mg_env *env = c->env;
    const char *type = NULL;
    char account[13];
    if (s_authorized(c, arn, "bedrock-agentcore:DeleteResourcePolicy", NULL, &type, account) ==
        NULL)
        return;
    enum mg_err e = mg_state_write_begin(env->state);
    if (e == MG_E_OK) {
        e = mg_store_delete(env->store, MG_AC_KIND_POLICY, account, arn);
        struct mg_errinfo ei = {0};
        if (e == MG_E_OK)
            e = mg_state_write_commit(env->state, &ei);
        else
            mg_state_write_abort(env->state);
    }
    if (e == MG_E_NOT_FOUND) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "No resource policy found for %s", arn);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
        return;
    }
    if (e) {
        mg_ac_write_failed(c, e);
        return;
    }
    mg_ac_send_json(c, 204, NULL);
}

/* ---- tags ------------------------------------------------------------------------------- */

/* Rewrites the resource's tags under the write lock: merge (add) or remove keys. */
static void s_write_tags(struct mg_call *c, const char *account, const char *id, const json_t *add,
                         const json_t *remove)
{
    const struct mg_env *env = c->env;
    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_ac_write_failed(c, MG_E_STORE);
        return;
    }
    struct mg_snapshot *snap = mg_state_acquire(env->state);
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, account, id);
    json_t *doc = d ? json_deep_copy(d->doc) : NULL;
    mg_snapshot_unref(snap);
    if (doc == NULL) {
        mg_state_write_abort(env->state);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", "Resource not found");
        return;
    }
    json_t *tags = json_object_get(doc, "_tags");
    bool ok = true;
    if (!json_is_object(tags)) {
        tags = json_object();
        ok = mg_json_set_ref(doc, "_tags", tags);
        json_decref(tags); /* doc holds it (or it is gone with the failure) */
    }
    if (ok && add)
        ok = json_object_update(tags, (json_t *)add) == 0;
    if (!ok) {
        mg_state_write_abort(env->state);
        json_decref(doc);
        mg_ac_write_failed(c, MG_E_NOMEM);
        return;
    }
    size_t i;
    json_t *k;
    json_array_foreach(remove, i, k) if (json_is_string(k))
        json_object_del(tags, json_string_value(k));
    if (json_object_size(tags) > 50) {
        mg_state_write_abort(env->state);
        json_decref(doc);
        mg_ac_send_error(c, 402, "ServiceQuotaExceededException",
                         "A resource can have at most 50 tags");
        return;
    }
    enum mg_err e = mg_ac_put(env, MG_AC_KIND_GATEWAY, account, id, doc);
    json_decref(doc);
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK)
        e = mg_state_write_commit(env->state, &ei);
    else
        mg_state_write_abort(env->state);
    if (e) {
        mg_ac_write_failed(c, e);
        return;
    }
    mg_ac_send_json(c, 204, NULL);
}

void mg_ac_tag(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    json_t *body = mg_ac_body(c);
    if (body == NULL)
        return;
    const json_t *tags = json_object_get(body, "tags"); /* checked by the model */
    struct mg_ac_ctx ctx = {0};
    mg_ac_ctx_tags(&ctx, tags);
    const char *type = NULL;
    char account[13];
    const struct mg_snapshot_doc *d = s_authorized(c, arn, "bedrock-agentcore:TagResource", &ctx,
                                                   &type, account);
    if (d) {
        char id[128];
        snprintf(id, sizeof(id), "%s", d->key);
        s_write_tags(c, account, id, tags, NULL);
    }
    json_decref(body);
}

void mg_ac_untag(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    /* tagKeys (0..200 keys of 1..128 characters in the tag alphabet) is checked by the model */
    json_t *keys = json_deep_copy(json_object_get(c->input, "tagKeys"));
    if (keys == NULL)
        keys = json_array();
    struct mg_ac_ctx ctx = {0};
    mg_ac_ctx_tags(&ctx, keys);
    const char *type = NULL;
    char account[13];
    const struct mg_snapshot_doc *d = s_authorized(c, arn, "bedrock-agentcore:UntagResource", &ctx,
                                                   &type, account);
    if (d) {
        char id[128];
        snprintf(id, sizeof(id), "%s", d->key);
        s_write_tags(c, account, id, NULL, keys);
    }
    json_decref(keys);
}

void mg_ac_list_tags(struct mg_call *c)
{
    const char *arn = mg_ac_in(c, "resourceArn");
    const char *type = NULL;
    char account[13];
    const struct mg_snapshot_doc *d = s_authorized(c, arn, "bedrock-agentcore:ListTagsForResource",
                                                   NULL, &type, account);
    if (d == NULL)
        return;
    const json_t *tags = json_object_get(d->doc, "_tags");
    mg_ac_send_json(c, 200,
                    json_is_object(tags) ? json_pack("{s:O}", "tags", (json_t *)tags)
                                         : json_pack("{s:{}}", "tags"));
}
