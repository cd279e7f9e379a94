/* Workload identities, the token vault, and the identity data plane (workload access tokens,
 * GetResourceApiKey). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "vault/api.h"
#include "vault/internal.h"

#define S_WHAT "Workload identity"

static const char *s_in(const struct mg_call *c, const char *member)
{
    return json_string_value(json_object_get(c->input, member));
}

/* Authorizes action on the workload identity `name` of the caller's account and finds it: NULL
 * when answered. */
static const json_t *s_workload(struct mg_call *c, const char *action, const char *name)
{
    char arn[512];
    mg_vault_workload_arn(c->env, c->principal.account, name, arn, sizeof(arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_VAULT_KIND_WORKLOAD,
                                                      c->principal.account, name);
    if (!mg_vault_authz(c, action, arn, d ? json_object_get(d->doc, "_tags") : NULL, NULL))
        return NULL;
    if (d == NULL)
        mg_vault_send_error(c, 404, "ResourceNotFoundException", "%s %s not found", S_WHAT, name);
    return d ? d->doc : NULL;
}

/* ---- workload identities ------------------------------------------------------------------- */

static void s_put_workload(struct mg_call *c, const json_t *old)
{
    const char *name = s_in(c, "name");
    const char *account = c->principal.account;
    char arn[512];
    mg_vault_workload_arn(c->env, account, name, arn, sizeof(arn));
    int64_t now = mg_now_ms();
    const json_t *urls = json_object_get(c->input, "allowedResourceOauth2ReturnUrls");
    json_t *tags = json_object_get(c->input, "tags");
    json_t *doc = json_pack("{s:s, s:s, s:o}", "name", name, "workloadIdentityArn", arn,
                            "lastUpdatedTime", mg_vault_time(now));
    bool ok = doc != NULL;
    if (ok && json_is_array(urls))
        ok = mg_json_set(doc, "allowedResourceOauth2ReturnUrls", json_deep_copy(urls));
    if (ok && old) {
        ok = mg_json_set_ref(doc, "createdTime", json_object_get(old, "createdTime")) &&
             mg_json_set_ref(doc, "_tags", json_object_get(old, "_tags"));
    } else if (ok) {
        ok = mg_json_set(doc, "createdTime", mg_vault_time(now)) &&
             mg_json_set(doc, "_tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
    }
    if (!ok) {
        json_decref(doc);
        mg_vault_write_failed(c, MG_E_NOMEM);
        return;
    }
    /* CreateWorkloadIdentity has no ConflictException in the model */
    if (mg_vault_store_write(c, MG_VAULT_KIND_WORKLOAD, name, doc,
                             old ? MG_VAULT_UPDATE : MG_VAULT_CREATE,
                             MG_VAULT_MAX_WORKLOAD_IDENTITIES, S_WHAT, "ValidationException")) {
        json_t *pub = mg_vault_public(doc);
        if (pub && old == NULL) {
            json_object_del(pub, "createdTime");
            json_object_del(pub, "lastUpdatedTime");
        }
        mg_vault_send_json(c, old ? 200 : 201, pub);
    }
    json_decref(doc);
}

void mg_vault_create_workload_identity(struct mg_call *c)
{
    char arn[512];
    mg_vault_workload_arn(c->env, c->principal.account, s_in(c, "name"), arn, sizeof(arn));
    if (mg_vault_authz(c, "bedrock-agentcore:CreateWorkloadIdentity", arn, NULL,
                       json_object_get(c->input, "tags")))
        s_put_workload(c, NULL);
}

void mg_vault_get_workload_identity(struct mg_call *c)
{
    const json_t *doc = s_workload(c, "bedrock-agentcore:GetWorkloadIdentity", s_in(c, "name"));
    if (doc)
        mg_vault_send_json(c, 200, mg_vault_public(doc));
}

void mg_vault_update_workload_identity(struct mg_call *c)
{
    const json_t *doc = s_workload(c, "bedrock-agentcore:UpdateWorkloadIdentity", s_in(c, "name"));
    if (doc)
        s_put_workload(c, doc);
}

void mg_vault_delete_workload_identity(struct mg_call *c)
{
    const char *name = s_in(c, "name");
    if (s_workload(c, "bedrock-agentcore:DeleteWorkloadIdentity", name) &&
        mg_vault_store_write(c, MG_VAULT_KIND_WORKLOAD, name, NULL, MG_VAULT_DELETE, 0, S_WHAT,
                             "ValidationException"))
        mg_vault_send_json(c, 204, NULL);
}

void mg_vault_list_workload_identities(struct mg_call *c)
{
    char arn[512], token[300];
    mg_vault_directory_arn(c->env, c->principal.account, arn, sizeof(arn));
    if (!mg_vault_authz(c, "bedrock-agentcore:ListWorkloadIdentities", arn, NULL, NULL))
        return;
    size_t max;
    if (!mg_vault_page(c, 20, token, sizeof(token), &max))
        return;
    size_t n;
    const struct mg_snapshot_doc *d = mg_snapshot_range(c->snap, MG_VAULT_KIND_WORKLOAD,
                                                        c->principal.account, &n);
    json_t *items = json_array();
    bool ok = items != NULL, more = false;
    const char *last = NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (token[0] && strcmp(d[i].key, token) <= 0)
            continue;
        if (json_array_size(items) >= max) {
            more = true;
            break;
        }
        ok = mg_json_append(items,
                            json_pack("{s:O, s:O}", "name", json_object_get(d[i].doc, "name"),
                                      "workloadIdentityArn",
                                      json_object_get(d[i].doc, "workloadIdentityArn")));
        last = d[i].key;
    }
    json_t *o = ok ? json_pack("{s:O}", "workloadIdentities", items) : NULL;
    json_decref(items);
    if (o && more && last && !mg_json_set(o, "nextToken", json_string(last))) {
        json_decref(o);
        o = NULL;
    }
    mg_vault_send_json(c, 200, o);
}

/* ---- the token vault ----------------------------------------------------------------------- */

/* tokenVaultId: "default" (also when absent), the only vault AWS makes. false when answered. */
static bool s_vault_id(struct mg_call *c)
{
    const char *id = s_in(c, "tokenVaultId");
    if (id && strcmp(id, "default") != 0) {
        mg_vault_send_error(c, 404, "ResourceNotFoundException", "Token vault %s not found", id);
        return false;
    }
    return true;
}

static json_t *s_vault_doc(struct mg_call *c)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_VAULT_KIND_TOKEN_VAULT,
                                                      c->principal.account, "default");
    if (d)
        return mg_vault_public(d->doc);
    /* never set: the service-managed key since the server's vault key was made */
    return json_pack("{s:s, s:{s:s}, s:o}", "tokenVaultId", "default", "kmsConfiguration",
                     "keyType", "ServiceManagedKey", "lastModifiedDate",
                     mg_vault_time(mg_now_ms()));
}

void mg_vault_get_token_vault(struct mg_call *c)
{
    char arn[512];
    mg_vault_token_vault_arn(c->env, c->principal.account, arn, sizeof(arn));
    if (s_vault_id(c) && mg_vault_authz(c, "bedrock-agentcore:GetTokenVault", arn, NULL, NULL))
        mg_vault_send_json(c, 200, s_vault_doc(c));
}

void mg_vault_set_token_vault_cmk(struct mg_call *c)
{
    char arn[512];
    mg_vault_token_vault_arn(c->env, c->principal.account, arn, sizeof(arn));
    if (!s_vault_id(c) || !mg_vault_authz(c, "bedrock-agentcore:SetTokenVaultCMK", arn, NULL, NULL))
        return;
    const json_t *kms = json_object_get(c->input, "kmsConfiguration");
    const char *type = json_string_value(json_object_get(kms, "keyType"));
    const char *key = json_string_value(json_object_get(kms, "kmsKeyArn"));
    if (strcmp(type, "CustomerManagedKey") == 0 && key == NULL) {
        mg_vault_send_validation(c, "kmsKeyArn is required when keyType is CustomerManagedKey");
        return;
    }
    if (strcmp(type, "ServiceManagedKey") == 0 && key != NULL) {
        mg_vault_send_validation(c, "kmsKeyArn must not be set when keyType is ServiceManagedKey");
        return;
    }
    json_t *doc = json_pack("{s:s, s:O, s:o}", "tokenVaultId", "default", "kmsConfiguration", kms,
                            "lastModifiedDate", mg_vault_time(mg_now_ms()));
    if (doc == NULL) {
        mg_vault_write_failed(c, MG_E_NOMEM);
        return;
    }
    bool exists = mg_snapshot_get(c->snap, MG_VAULT_KIND_TOKEN_VAULT, c->principal.account,
                                  "default") != NULL;
    if (mg_vault_store_write(c, MG_VAULT_KIND_TOKEN_VAULT, "default", doc,
                             exists ? MG_VAULT_UPDATE : MG_VAULT_CREATE, 1, "Token vault",
                             "ConcurrentModificationException"))
        mg_vault_send_json(c, 200, json_incref(doc));
    json_decref(doc);
}

/* ---- the data plane ------------------------------------------------------------------------ */

/* Authorizes action on the workload identity directory and on the workload identity, finds it,
 * and answers a sealed token for it. */
static void s_issue(struct mg_call *c, const char *action, const char *user_id, const char *iss,
                    const char *sub)
{
    const struct mg_vault *v = mg_vault_of(c);
    if (v == NULL)
        return;
    const char *name = s_in(c, "workloadName");
    char dir[512];
    mg_vault_directory_arn(c->env, c->principal.account, dir, sizeof(dir));
    if (!mg_vault_authz(c, action, dir, NULL, NULL) || s_workload(c, action, name) == NULL)
        return;
    struct mg_vault_wat t = {0};
    snprintf(t.account, sizeof(t.account), "%s", c->principal.account);
    snprintf(t.workload, sizeof(t.workload), "%s", name);
    snprintf(t.user_id, sizeof(t.user_id), "%s", user_id ? user_id : "");
    snprintf(t.iss, sizeof(t.iss), "%s", iss ? iss : "");
    snprintf(t.sub, sizeof(t.sub), "%s", sub ? sub : "");
    t.expires = mg_now() + MG_VAULT_WAT_TTL;
    char *tok = NULL;
    enum mg_err e = mg_vault_wat_seal(v->key, &t, &tok);
    if (e) {
        mg_vault_write_failed(c, e);
        return;
    }
    mg_vault_send_json(c, 200, json_pack("{s:s}", "workloadAccessToken", tok));
    mg_vault_free_secret(tok);
}

void mg_vault_get_workload_access_token(struct mg_call *c)
{
    s_issue(c, "bedrock-agentcore:GetWorkloadAccessToken", NULL, NULL, NULL);
}

void mg_vault_get_workload_access_token_for_user_id(struct mg_call *c)
{
    s_issue(c, "bedrock-agentcore:GetWorkloadAccessTokenForUserId", s_in(c, "userId"), NULL, NULL);
}

void mg_vault_get_workload_access_token_for_jwt(struct mg_call *c)
{
    char tl_iss[1025], tl_sub[1025];
    int64_t exp;
    if (!mg_vault_jwt_claims(s_in(c, "userToken"), tl_iss, tl_sub, &exp)) {
        mg_vault_send_validation(c, "userToken is not a JWT whose payload has the string claims "
                                    "iss and sub");
        return;
    }
    if (exp != 0 && exp <= mg_now()) {
        mg_vault_send_validation(c, "userToken has expired");
        return;
    }
    s_issue(c, "bedrock-agentcore:GetWorkloadAccessTokenForJWT", NULL, tl_iss, tl_sub);
}

/* Opens the workload access token of a data-plane call: false when answered. */
static bool s_token(struct mg_call *c, const struct mg_vault *v, struct mg_vault_wat *t)
{
    enum mg_err e = mg_vault_wat_open(v->key, s_in(c, "workloadIdentityToken"), mg_now(), t);
    if (e == MG_E_DENIED) {
        mg_vault_send_error(c, 401, "UnauthorizedException",
                            "The workload access token has expired");
        return false;
    }
    if (e) {
        mg_vault_send_validation(c, "The workload access token is not valid");
        return false;
    }
    if (strcmp(t->account, c->principal.account) != 0) {
        mg_vault_send_error(c, 403, "AccessDeniedException",
                            "The workload access token was not issued to this account");
        return false;
    }
    return true;
}

void mg_vault_get_resource_api_key(struct mg_call *c)
{
    const struct mg_vault *v = mg_vault_of(c);
    if (v == NULL)
        return;
    struct mg_vault_wat t;
    if (!s_token(c, v, &t))
        return;
    const char *action = "bedrock-agentcore:GetResourceApiKey";
    const char *name = s_in(c, "resourceCredentialProviderName");
    if (s_workload(c, action, t.workload) == NULL)
        return;
    char arn[512];
    mg_vault_provider_arn(c->env, c->principal.account, true, name, arn, sizeof(arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_VAULT_KIND_APIKEY,
                                                      c->principal.account, name);
    if (!mg_vault_authz(c, action, arn, d ? json_object_get(d->doc, "_tags") : NULL, NULL))
        return;
    struct mg_vault_provider p;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_vault_provider_find(c->env, c->snap, c->principal.account, arn, true, &p,
                                           &ei);
    if (e == MG_E_NOT_FOUND) {
        mg_vault_send_error(c, 404, "ResourceNotFoundException",
                            "API key credential provider %s not found", name);
        return;
    }
    if (e) {
        MG_LOG_REQ(MG_LOG_ERROR, MG_SUB_MAIN, c->req->request_id, "GetResourceApiKey: %s", ei.msg);
        mg_vault_send_error(c, 500, "InternalServerException",
                            "The API key could not be read; retry later.");
        return;
    }
    mg_vault_send_json(c, 200, json_pack("{s:s}", "apiKey", p.api_key));
    mg_vault_provider_cleanup(&p);
}
