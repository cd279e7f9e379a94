/* bedrock-agentcore-control: the API served through mg_call_serve, reply fillers, identifiers. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "vault/vault.h"
#include "vault/api.h"

/* The account of a gatewayIdentifier given as an ARN (s_prepare), beside the model's members. */
#define S_ARN_ACCOUNT "_gatewayAccount"

/* ---- reply fillers: the handlers run under mg_call_serve, which sends c->reply ------------ */

void mg_ac_send_json(struct mg_call *c, int status, json_t *obj)
{
    if (status != 204 && obj == NULL) { /* building the answer ran out of memory */
        mg_aws_reply_error(c->reply, 500, "InternalServerException",
                           "The response could not be built.");
        return;
    }
    mg_aws_reply_json(c->reply, status, status == 204 ? NULL : obj);
    if (status == 204)
        json_decref(obj);
}

void mg_ac_send_error(struct mg_call *c, int status, const char *code, const char *msg)
{
    mg_aws_reply_error(c->reply, status, code, "%s", msg);
}

void mg_ac_send_validation_msg(struct mg_call *c, const char *reason, const char *msg)
{
    mg_aws_reply_error(c->reply, 400, "ValidationException", "%s", msg);
    c->reply->fields = json_pack("{s:s}", "reason", reason);
}

void mg_ac_send_validation(struct mg_call *c, const struct mg_ac_verr *v)
{
    char msg[2048];
    mg_ac_verr_message(v, msg, sizeof(msg));
    mg_aws_reply_error(c->reply, 400, "ValidationException", "%s", msg);
    json_t *o = json_pack("{s:s}", "reason", v->reason[0] ? v->reason : "FieldValidationFailed");
    if (o && v->n) {
        json_t *fl = json_array();
        bool ok = fl != NULL;
        for (size_t i = 0; ok && i < v->n; i++)
            ok = mg_json_append(fl, json_pack("{s:s, s:s}", "name", v->names[i], "message",
                                              v->msgs[i]));
        if (!ok || !mg_json_set(o, "fieldList", fl)) {
            if (!ok)
                json_decref(fl);
            json_decref(o);
            o = NULL; /* the message stands without the extra fields */
        }
    }
    c->reply->fields = o;
}

json_t *mg_ac_body(struct mg_call *c)
{
    json_t *o = json_deep_copy(c->input);
    const struct mg_aws_shape *s = c->op ? mg_aws_shape(c->op->input) : NULL;
    for (size_t i = 0; o != NULL && s != NULL && i < s->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(s, i);
        if (m->location != MG_AWS_LOC_BODY)
            json_object_del(o, mg_aws_str(m->name));
    }
    json_object_del(o, S_ARN_ACCOUNT);
    if (o && json_object_get(o, MG_AC_LOOPBACK_HTTP)) {
        json_object_del(o, MG_AC_LOOPBACK_HTTP);
        json_t *srv = json_object_get(json_object_get(json_object_get(o, "targetConfiguration"),
                                                      "mcp"),
                                      "mcpServer");
        const char *ep = json_string_value(json_object_get(srv, "endpoint"));
        char url[2100];
        if (ep == NULL || strncmp(ep, "https://", 8) != 0 ||
            !mg_fmt(url, sizeof(url), "http://%s", ep + 8) ||
            !mg_json_set(srv, "endpoint", json_string(url))) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o == NULL)
        mg_ac_send_error(c, 500, "InternalServerException", "out of memory");
    return o;
}

const char *mg_ac_in(const struct mg_call *c, const char *member)
{
    return json_string_value(json_object_get(c->input, member));
}

void mg_ac_now(char out[32])
{
    int64_t ms = mg_now_ms();
    char iso[25];
    mg_time_iso8601_ms(ms, iso);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> microseconds like the service */
    snprintf(out, 32, "%.23s000Z", iso);
}

/* The environment the gateway URLs come from (its public URL is known once the server
 * listens): snapshots are built where no call is at hand. */
static const struct mg_env *_Atomic s_url_env;

void mg_ac_set_url_env(const struct mg_env *env)
{
    s_url_env = env;
}

void mg_ac_gateway_url(const char *id, char *out, size_t cap)
{
    const struct mg_env *env = s_url_env;
    const char *tpl = env && env->gateway_url_template ? env->gateway_url_template : "";
    if (tpl[0] == 0) {
        const char *base = env && env->public_url && env->public_url[0] ? env->public_url
                                                                        : "http://127.0.0.1:4777";
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        snprintf(out, cap, "%.*s/gateways/%s/mcp", (int)bl, base, id);
        return;
    }
    size_t off = 0;
    for (const char *p = tpl; *p && off + 1 < cap;) {
        if (strncmp(p, "{id}", 4) == 0) {
            int n = snprintf(out + off, cap - off, "%s", id);
            off += n > 0 ? (size_t)n : 0;
            p += 4;
        } else {
            out[off++] = *p++;
        }
    }
    out[off < cap ? off : cap - 1] = 0;
}

static json_t *s_public(const json_t *doc)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (k[0] != '_')
            json_object_set(o, k, v);
    }
    return o;
}

json_t *mg_ac_public_gateway(const json_t *doc)
{
    json_t *o = s_public(doc);
    const char *id = json_string_value(json_object_get(doc, "gatewayId"));
    if (o && id) {
        char url[1024];
        mg_ac_gateway_url(id, url, sizeof(url));
        if (!mg_json_set(o, "gatewayUrl", json_string(url))) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

json_t *mg_ac_public_target(const json_t *doc)
{
    json_t *full = mg_ac_target_expanded(doc);
    json_t *o = full ? s_public(full) : NULL;
    json_decref(full);
    return o;
}

/* ---- identifiers, lookups, authorization ------------------------------------------------ */

/* The pattern of a gateway id (GetGateway's gatewayIdentifier in the model), or 0. */
static uint32_t s_id_pattern;
static pthread_once_t s_id_pattern_once = PTHREAD_ONCE_INIT;

static uint32_t s_pattern_of(const struct mg_aws_op *op, const char *member)
{
    const struct mg_aws_shape *in = op ? mg_aws_shape(op->input) : NULL;
    for (size_t i = 0; in != NULL && i < in->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(in, i);
        if (strcmp(mg_aws_str(m->name), member) == 0)
            return mg_aws_shape(m->target)->pattern;
    }
    return 0;
}

static void s_id_pattern_init(void)
{
    s_id_pattern = s_pattern_of(mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL,
                                               mg_slice_cstr("GetGateway")),
                                "gatewayIdentifier");
}

/* Whether ident is the call's gatewayIdentifier and the validator already matched it against
 * the gateway id's pattern (mg_ac_match_gateway_id's) */
static bool s_id_validated(const struct mg_call *c, const char *ident)
{
    if (c->op == NULL || ident != json_string_value(json_object_get(c->input, "gatewayIdentifier")))
        return false;
    (void)pthread_once(&s_id_pattern_once, s_id_pattern_init);
    return s_id_pattern != 0 && s_pattern_of(c->op, "gatewayIdentifier") == s_id_pattern;
}

bool mg_ac_gateway_ident(struct mg_call *c, const char *ident, char account[13], char id[128])
{
    /* in the model's pattern (checked before the handler); an ARN was turned into its id by
     * s_prepare */
    const char *arn_account = json_string_value(json_object_get(c->input, S_ARN_ACCOUNT));
    size_t n = strlen(ident);
    if (n < 128 && (s_id_validated(c, ident) || mg_ac_match_gateway_id(ident))) {
        const char *a = arn_account ? arn_account : c->principal.account;
        size_t al = strnlen(a, 12);
        mg_memcpy(account, a, al);
        account[al] = 0;
        mg_memcpy(id, ident, n + 1);
        return true;
    }
    /* longer than any id mcpgate makes (a name of at most 48 characters, '-', 10): none such */
    char msg[256];
    snprintf(msg, sizeof(msg), "Gateway not found: %.200s", ident);
    mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
    return false;
}

const struct mg_snapshot_doc *mg_ac_gateway_doc(struct mg_call *c, const char *account,
                                                const char *id)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_AC_KIND_GATEWAY, account, id);
    if (d == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Gateway not found: %s", id);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
    }
    return d;
}

const struct mg_policy *mg_ac_policy_of(struct mg_call *c, const char *arn)
{
    return mg_agentcore_resource_policy(c->snap, mg_slice_cstr(arn));
}

bool mg_ac_authz_gateway(struct mg_call *c, const char *action, const json_t *gw,
                         const struct mg_authz_extra *extra)
{
    const char *arn = json_string_value(json_object_get(gw, "gatewayArn"));
    if (arn == NULL)
        arn = "*";
    struct mg_authz_resource res = {.arn = arn,
                                    .policy = mg_ac_policy_of(c, arn),
                                    .tags = json_object_get(gw, "_tags")};
    return mg_authz(c, action, &res, extra);
}

/* ---- AgentCore Identity: the providers the targets name ---------------------------------- */

bool mg_ac_provider_in_use(const struct mg_snapshot *snap, const char *account,
                           const char *provider_arn, char *buf, size_t cap)
{
    char want_acct[13], want_name[129];
    bool api_key = strstr(provider_arn, "/apikeycredentialprovider/") != NULL;
    if (!mg_vault_parse_provider_arn(provider_arn, api_key, want_acct, want_name))
        return false;
    size_t n;
    const struct mg_gateway *const *gws = mg_agentcore_gateways(snap, &n);
    for (size_t i = 0; gws && i < n; i++) {
        if (gws[i]->account == NULL || strcmp(gws[i]->account, account) != 0)
            continue;
        for (size_t k = 0; k < gws[i]->n_targets; k++) {
            const json_t *cfgs = json_object_get(gws[i]->targets[k].doc,
                                                 "credentialProviderConfigurations");
            size_t j;
            const json_t *cfg;
            json_array_foreach(cfgs, j, cfg)
            {
                const json_t *cp = json_object_get(cfg, "credentialProvider");
                const char *arn = json_string_value(
                    json_object_get(json_object_get(cp, api_key ? "apiKeyCredentialProvider"
                                                                : "oauthCredentialProvider"),
                                    "providerArn"));
                char acct[13], name[129];
                if (arn && mg_vault_parse_provider_arn(arn, api_key, acct, name) &&
                    strcmp(acct, want_acct) == 0 && strcmp(name, want_name) == 0) {
                    snprintf(buf, cap, "target %s of gateway %s", gws[i]->targets[k].id,
                             gws[i]->id);
                    return true;
                }
            }
        }
    }
    return false;
}

/* ---- the API ---------------------------------------------------------------------------- */

/* Features of AgentCore that mcpgate does not serve, by the first segment of the operation's
 * path (control plane and data plane alike). */
static const struct {
    const char *segment, *feature;
} s_unsupported[] = {
    {"runtimes", "AgentCore Runtime"},
    {"memories", "AgentCore Memory"},
    {"browsers", "AgentCore Browser"},
    {"browser-profiles", "AgentCore Browser profiles"},
    {"code-interpreters", "AgentCore Code Interpreter"},
    {"identities", "AgentCore Identity (payment credentials, user federation)"},
    {"policy-engines", "AgentCore Policy (policy engines)"},
    {"policy-engine-summaries", "AgentCore Policy (policy engines)"},
    {"evaluators", "AgentCore Evaluations"},
    {"evaluations", "AgentCore Evaluations"},
    {"online-evaluation-configs", "AgentCore Evaluations"},
    {"datasets", "AgentCore datasets"},
    {"capacity-providers", "AgentCore capacity providers"},
    {"configuration-bundles", "AgentCore configuration bundles"},
    {"harnesses", "AgentCore harnesses"},
    {"payments", "AgentCore payments"},
    {"registries", "AgentCore registries"},
    {"registry-records", "AgentCore registries"},
};

static const char *s_feature(const struct mg_aws_op *op)
{
    const char *uri = mg_aws_str(op->uri);
    if (strncmp(uri, "/gateways/{gatewayIdentifier}/rules", 35) == 0)
        return "Gateway rules";
    if (strncmp(uri, "/gateways/{gatewayIdentifier}/rate-limits", 41) == 0)
        return "Gateway rate limits";
    const char *seg = uri[0] == '/' ? uri + 1 : uri;
    size_t n = strcspn(seg, "/?");
    for (size_t i = 0; i < sizeof(s_unsupported) / sizeof(s_unsupported[0]); i++)
        if (strlen(s_unsupported[i].segment) == n && strncmp(seg, s_unsupported[i].segment, n) == 0)
            return s_unsupported[i].feature;
    return NULL;
}

/* Before the model's validation: a gateway's ARN where the model's pattern names an id (the id
 * goes on to validation, the ARN's account to mg_ac_gateway_ident; anything else stays for the
 * validator to refuse), and the rules of mcpgate that must win over the model's wording. */
static bool s_prepare(struct mg_call *c, json_t *input)
{
    const char *op = mg_aws_op_name(c->op);
    if (strcmp(op, "CreateGatewayTarget") == 0 || strcmp(op, "UpdateGatewayTarget") == 0) {
        /* loopback http for an MCP server: checked as https by the model's pattern
         * (https://.*), put back by mg_ac_body */
        (void)json_object_del(input, MG_AC_LOOPBACK_HTTP);
        json_t *srv = json_object_get(json_object_get(json_object_get(input, "targetConfiguration"),
                                                      "mcp"),
                                      "mcpServer");
        const char *ep = json_string_value(json_object_get(srv, "endpoint"));
        char url[2100];
        if (ep && mg_ac_loopback_http(ep) && mg_fmt(url, sizeof(url), "https://%s", ep + 7) &&
            mg_json_set(srv, "endpoint", json_string(url)) &&
            !mg_json_set(input, MG_AC_LOOPBACK_HTTP, json_true())) {
            mg_ac_send_error(c, 500, "InternalServerException", "out of memory");
            return false;
        }
        struct mg_ac_verr v = {0};
        mg_ac_check_schema_refs(input, &v);
        if (mg_ac_verr_any(&v)) {
            mg_ac_send_validation(c, &v);
            return false;
        }
    }
    /* the account of an ARN is the server's note, never the client's: a body member of that
     * name is dropped before anything reads it */
    (void)json_object_del(input, S_ARN_ACCOUNT);
    const char *ident = json_string_value(json_object_get(input, "gatewayIdentifier"));
    struct mg_arn a;
    if (ident == NULL || strncmp(ident, "arn:", 4) != 0 ||
        !mg_arn_parse(mg_slice_cstr(ident), &a) ||
        !mg_slice_eq_cstr(a.service, "bedrock-agentcore") || a.account.len != 12 ||
        !mg_slice_starts_with(a.resource, "gateway/") || a.resource.len - 8 >= 128 ||
        !mg_slice_eq_cstr(a.region, c->env->region))
        return true;
    char account[13], id[128];
    snprintf(account, sizeof(account), MG_SLICE_FMT, MG_SLICE_ARG(a.account));
    snprintf(id, sizeof(id), "%.*s", (int)(a.resource.len - 8), (const char *)a.resource.ptr + 8);
    if (!mg_ac_match_gateway_id(id))
        return true;
    json_t *acct = json_string(account), *idv = json_string(id);
    if (acct == NULL || idv == NULL || json_object_set_new(input, S_ARN_ACCOUNT, acct) != 0) {
        json_decref(idv);
        return true; /* the ARN stays: the validator refuses it */
    }
    if (json_object_set_new(input, "gatewayIdentifier", idv) != 0)
        json_object_del(input, S_ARN_ACCOUNT);
    return true;
}

static const struct mg_call_op s_ops[] = {
    {"CreateGateway", mg_ac_create_gateway},
    {"GetGateway", mg_ac_get_gateway},
    {"ListGateways", mg_ac_list_gateways},
    {"UpdateGateway", mg_ac_update_gateway},
    {"DeleteGateway", mg_ac_delete_gateway},
    {"CreateGatewayTarget", mg_ac_create_target},
    {"GetGatewayTarget", mg_ac_get_target},
    {"ListGatewayTargets", mg_ac_list_targets},
    {"UpdateGatewayTarget", mg_ac_update_target},
    {"DeleteGatewayTarget", mg_ac_delete_target},
    {"SynchronizeGatewayTargets", mg_ac_sync_targets},
    {"PutResourcePolicy", mg_ac_put_policy},
    {"GetResourcePolicy", mg_ac_get_policy},
    {"DeleteResourcePolicy", mg_ac_delete_policy},
    {"TagResource", mg_ac_tag},
    {"UntagResource", mg_ac_untag},
    {"ListTagsForResource", mg_ac_list_tags},
    {"GetResourceOauth2Token", mg_vault_get_resource_oauth2_token},
    /* AgentCore Identity (vault/api.h) */
    {"CreateApiKeyCredentialProvider", mg_vault_create_api_key_provider},
    {"GetApiKeyCredentialProvider", mg_vault_get_api_key_provider},
    {"UpdateApiKeyCredentialProvider", mg_vault_update_api_key_provider},
    {"DeleteApiKeyCredentialProvider", mg_vault_delete_api_key_provider},
    {"ListApiKeyCredentialProviders", mg_vault_list_api_key_providers},
    {"CreateOauth2CredentialProvider", mg_vault_create_oauth2_provider},
    {"GetOauth2CredentialProvider", mg_vault_get_oauth2_provider},
    {"UpdateOauth2CredentialProvider", mg_vault_update_oauth2_provider},
    {"DeleteOauth2CredentialProvider", mg_vault_delete_oauth2_provider},
    {"ListOauth2CredentialProviders", mg_vault_list_oauth2_providers},
    {"CreateWorkloadIdentity", mg_vault_create_workload_identity},
    {"GetWorkloadIdentity", mg_vault_get_workload_identity},
    {"UpdateWorkloadIdentity", mg_vault_update_workload_identity},
    {"DeleteWorkloadIdentity", mg_vault_delete_workload_identity},
    {"ListWorkloadIdentities", mg_vault_list_workload_identities},
    {"GetTokenVault", mg_vault_get_token_vault},
    {"SetTokenVaultCMK", mg_vault_set_token_vault_cmk},
    {"GetWorkloadAccessToken", mg_vault_get_workload_access_token},
    {"GetWorkloadAccessTokenForJWT", mg_vault_get_workload_access_token_for_jwt},
    {"GetWorkloadAccessTokenForUserId", mg_vault_get_workload_access_token_for_user_id},
    {"GetResourceApiKey", mg_vault_get_resource_api_key},
};

static const enum mg_aws_service s_svcs[] = {MG_AWS_SVC_AGENTCORE_CONTROL, MG_AWS_SVC_AGENTCORE};

const struct mg_call_api mg_agentcore_api = {
    .svcs = s_svcs,
    .n_svcs = sizeof(s_svcs) / sizeof(s_svcs[0]),
    .ops = s_ops,
    .n_ops = sizeof(s_ops) / sizeof(s_ops[0]),
    .feature = s_feature,
    .vflags = MG_AWS_V_LIST_INDEX,
    .prepare = s_prepare,
};

void mg_agentcore_handle(struct mg_call *c)
{
    mg_call_serve(c, &mg_agentcore_api);
}
