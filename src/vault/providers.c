/* API-key and OAuth2 credential providers: the control-plane operations, their documents (the
 * secret sealed under the vault key, bound to the account and the provider's ARN), and the
 * lookup the outbound side uses (mg_vault_provider_find). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "vault/api.h"
#include "vault/internal.h"

#define S_APIKEY_WHAT "API key credential provider"
#define S_OAUTH2_WHAT "OAuth2 credential provider"

static const char *s_in(const struct mg_call *c, const char *member)
{
    return json_string_value(json_object_get(c->input, member));
}

/* "arn:aws:secretsmanager:REGION:ACCOUNT:secret:bedrock-agentcore-identity!default/KIND/NAME-XXXXXX"
 * as AWS names the secret it keeps for a provider (mcpgate keeps the secret itself: the ARN is
 * a name, there is no Secrets Manager behind it). */
static json_t *s_secret_arn(const struct mg_env *env, const char *account, const char *kind,
                            const char *name)
{
    char suffix[7], arn[512];
    mg_random_chars(suffix, 6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    suffix[6] = 0;
    snprintf(arn, sizeof(arn),
             "arn:aws:secretsmanager:%s:%s:secret:bedrock-agentcore-identity!default/%s/%s-%s",
             env->region, account, kind, name, suffix);
    return json_pack("{s:s}", "secretArn", arn);
}

/* EXTERNAL secrets live in AWS Secrets Manager, which mcpgate does not have: true (err set)
 * when o asks for one. */
static bool s_external_msg(const json_t *o, const char *source, const char *config,
                           const char *secret, char *err, size_t cap)
{
    const char *src = json_string_value(json_object_get(o, source));
    if ((src && strcmp(src, "EXTERNAL") == 0) || json_object_get(o, config)) {
        snprintf(err, cap,
                 "%s EXTERNAL (%s, a secret in AWS Secrets Manager) is not supported by mcpgate; "
                 "pass %s",
                 source, config, secret);
        return true;
    }
    return false;
}

static bool s_external(struct mg_call *c, const json_t *o, const char *source, const char *config,
                       const char *secret)
{
    char err[512];
    if (!s_external_msg(o, source, config, secret, err, sizeof(err)))
        return false;
    mg_vault_send_validation(c, "%s", err);
    return true;
}

/* The stored document of a provider in the caller's snapshot, or NULL. */
static const json_t *s_doc(struct mg_call *c, const char *kind, const char *name)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, kind, c->principal.account, name);
    return d ? d->doc : NULL;
}

/* Authorizes action on the provider `name` and finds it: NULL when answered. */
static const json_t *s_authorized(struct mg_call *c, bool api_key, const char *action,
                                  const char *name)
{
    char arn[512];
    mg_vault_provider_arn(c->env, c->principal.account, api_key, name, arn, sizeof(arn));
    const json_t *doc = s_doc(c, api_key ? MG_VAULT_KIND_APIKEY : MG_VAULT_KIND_OAUTH2, name);
    if (!mg_vault_authz(c, action, arn, doc ? json_object_get(doc, "_tags") : NULL, NULL))
        return NULL;
    if (doc == NULL)
        mg_vault_send_error(c, 404, "ResourceNotFoundException", "%s %s not found",
                            api_key ? S_APIKEY_WHAT : S_OAUTH2_WHAT, name);
    return doc;
}

static bool s_seal_into(struct mg_call *c, const struct mg_vault *v, json_t *doc, const char *arn,
                        const char *secret)
{
    char *sealed = NULL;
    enum mg_err e = mg_vault_seal(v->key, MG_VAULT_PURPOSE_SECRET, c->principal.account, arn,
                                  mg_slice_cstr(secret), &sealed);
    if (e == MG_E_OK && !mg_json_set(doc, "_secret", json_string(sealed)))
        e = MG_E_NOMEM;
    mg_free(sealed);
    if (e)
        mg_vault_write_failed(c, e);
    return e == MG_E_OK;
}

/* Items of a List: `keys` of each document of kind in the caller's account, after token. */
static void s_list(struct mg_call *c, const char *kind, const char *action, size_t dflt,
                   const char *member, const char *const *keys)
{
    char arn[512], token[256];
    if (strcmp(kind, MG_VAULT_KIND_WORKLOAD) == 0)
        mg_vault_directory_arn(c->env, c->principal.account, arn, sizeof(arn));
    else
        mg_vault_token_vault_arn(c->env, c->principal.account, arn, sizeof(arn));
    if (!mg_vault_authz(c, action, arn, NULL, NULL))
        return;
    size_t max;
    if (!mg_vault_page(c, dflt, token, sizeof(token), &max))
        return;
    size_t n;
    const struct mg_snapshot_doc *d = mg_snapshot_range(c->snap, kind, c->principal.account, &n);
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
        json_t *it = json_object();
        ok = it != NULL;
        for (size_t k = 0; ok && keys[k]; k++) {
            json_t *val = json_object_get(d[i].doc, keys[k]);
            if (val)
                ok = mg_json_set_ref(it, keys[k], val);
        }
        if (!ok) {
            json_decref(it);
            break;
        }
        ok = mg_json_append(items, it);
        last = d[i].key;
    }
    json_t *o = ok ? json_pack("{s:O}", member, items) : NULL;
    json_decref(items);
    if (o && more && last && !mg_json_set(o, "nextToken", json_string(last))) {
        json_decref(o);
        o = NULL;
    }
    mg_vault_send_json(c, 200, o);
}

/* ---- API-key providers -------------------------------------------------------------------- */

/* Create (old NULL) or update (old: the stored document). */
static void s_put_api_key(struct mg_call *c, const json_t *old)
{
    const struct mg_vault *v = mg_vault_of(c);
    if (v == NULL)
        return;
    const char *name = s_in(c, "name");
    const char *account = c->principal.account;
    if (s_external(c, c->input, "apiKeySecretSource", "apiKeySecretConfig", "apiKey"))
        return;
    const char *key = s_in(c, "apiKey");
    if ((key == NULL || key[0] == 0) && old == NULL) {
        mg_vault_send_validation(c, "apiKey is required when apiKeySecretSource is MANAGED");
        return;
    }
    if (key && key[0] == 0) {
        mg_vault_send_validation(c, "apiKey must not be empty");
        return;
    }
    char arn[512];
    mg_vault_provider_arn(c->env, account, true, name, arn, sizeof(arn));
    json_t *tags = json_object_get(c->input, "tags");
    int64_t now = mg_now_ms();
    json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "name", name, "credentialProviderArn", arn,
                            "apiKeySecretSource", "MANAGED", "lastUpdatedTime", mg_vault_time(now));
    bool ok = doc != NULL;
    if (ok && old) {
        static const char *const keep[] = {"apiKeySecretArn", "createdTime", "_tags", NULL};
        for (int i = 0; ok && keep[i]; i++) {
            json_t *val = json_object_get(old, keep[i]);
            if (val)
                ok = mg_json_set_ref(doc, keep[i], val);
        }
        if (ok && key == NULL)
            ok = mg_json_set_ref(doc, "_secret", json_object_get(old, "_secret"));
    } else if (ok) {
        ok = mg_json_set(doc, "apiKeySecretArn", s_secret_arn(c->env, account, "apikey", name)) &&
             mg_json_set(doc, "createdTime", mg_vault_time(now)) &&
             mg_json_set(doc, "_tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
    }
    if (!ok) {
        json_decref(doc);
        mg_vault_write_failed(c, MG_E_NOMEM);
        return;
    }
    if (key && !s_seal_into(c, v, doc, arn, key)) {
        json_decref(doc);
        return;
    }
    if (mg_vault_store_write(c, MG_VAULT_KIND_APIKEY, name, doc,
                             old ? MG_VAULT_UPDATE : MG_VAULT_CREATE,
                             MG_VAULT_MAX_API_KEY_PROVIDERS, S_APIKEY_WHAT, "ConflictException")) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MAIN, c->req->request_id,
                   "API key credential provider %s %s in %s", name, old ? "updated" : "created",
                   account);
        json_t *pub = mg_vault_public(doc);
        if (pub && old == NULL) {
            json_object_del(pub, "createdTime");
            json_object_del(pub, "lastUpdatedTime");
        }
        mg_vault_send_json(c, old ? 200 : 201, pub);
    }
    json_decref(doc);
}

void mg_vault_create_api_key_provider(struct mg_call *c)
{
    char arn[512];
    const char *name = s_in(c, "name");
    mg_vault_provider_arn(c->env, c->principal.account, true, name, arn, sizeof(arn));
    if (!mg_vault_authz(c, "bedrock-agentcore:CreateApiKeyCredentialProvider", arn, NULL,
                        json_object_get(c->input, "tags")))
        return;
    s_put_api_key(c, NULL);
}

void mg_vault_get_api_key_provider(struct mg_call *c)
{
    const json_t *doc = s_authorized(c, true, "bedrock-agentcore:GetApiKeyCredentialProvider",
                                     s_in(c, "name"));
    if (doc)
        mg_vault_send_json(c, 200, mg_vault_public(doc));
}

void mg_vault_update_api_key_provider(struct mg_call *c)
{
    const json_t *doc = s_authorized(c, true, "bedrock-agentcore:UpdateApiKeyCredentialProvider",
                                     s_in(c, "name"));
    if (doc)
        s_put_api_key(c, doc);
}

void mg_vault_delete_api_key_provider(struct mg_call *c)
{
    const char *name = s_in(c, "name");
    if (s_authorized(c, true, "bedrock-agentcore:DeleteApiKeyCredentialProvider", name) &&
        mg_vault_store_write(c, MG_VAULT_KIND_APIKEY, name, NULL, MG_VAULT_DELETE, 0, S_APIKEY_WHAT,
                             "ConflictException"))
        mg_vault_send_json(c, 204, NULL);
}

void mg_vault_list_api_key_providers(struct mg_call *c)
{
    static const char *const keys[] = {"name", "credentialProviderArn", "createdTime",
                                       "lastUpdatedTime", NULL};
    s_list(c, MG_VAULT_KIND_APIKEY, "bedrock-agentcore:ListApiKeyCredentialProviders", 100,
           "credentialProviders", keys);
}

/* ---- OAuth2 providers --------------------------------------------------------------------- */

/* The config member of each vendor that has its own (the others use
 * includedOauth2ProviderConfig). */
static const struct {
    const char *member, *vendor;
} s_members[] = {
    {"customOauth2ProviderConfig", "CustomOauth2"},
    {"googleOauth2ProviderConfig", "GoogleOauth2"},
    {"githubOauth2ProviderConfig", "GithubOauth2"},
    {"slackOauth2ProviderConfig", "SlackOauth2"},
    {"salesforceOauth2ProviderConfig", "SalesforceOauth2"},
    {"microsoftOauth2ProviderConfig", "MicrosoftOauth2"},
    {"atlassianOauth2ProviderConfig", "AtlassianOauth2"},
    {"linkedinOauth2ProviderConfig", "LinkedinOauth2"},
};

static bool s_url_ok(const char *u)
{
    return u && (strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0) &&
           strlen(u) <= 2048 && strpbrk(u, " \t\r\n") == NULL;
}

const char *mg_vault_check_oauth2(const char *vendor, const json_t *in, const json_t **cfg_out,
                                  struct mg_vault_oauth2_server *o, json_t **disc, char *err,
                                  size_t cap)
{
    err[0] = 0;
    *disc = NULL;
    memset(o, 0, sizeof(*o));
    if (json_object_size(in) != 1) {
        snprintf(err, cap, "oauth2ProviderConfigInput must set exactly one member");
        return NULL;
    }
    const char *member = json_object_iter_key(json_object_iter((json_t *)in));
    const json_t *cfg = json_object_iter_value(json_object_iter((json_t *)in));
    *cfg_out = cfg;
    const char *want = NULL;
    bool own = false;
    for (size_t i = 0; i < sizeof(s_members) / sizeof(s_members[0]); i++) {
        if (strcmp(s_members[i].vendor, vendor) == 0)
            own = true;
        if (strcmp(s_members[i].member, member) == 0)
            want = s_members[i].vendor;
    }
    bool match = want ? strcmp(want, vendor) == 0
                      : (strcmp(member, "includedOauth2ProviderConfig") == 0 && !own);
    if (!match) {
        snprintf(err, cap,
                 "oauth2ProviderConfigInput.%s does not configure the "
                 "credentialProviderVendor %s",
                 member, vendor);
        return NULL;
    }
    if (s_external_msg(cfg, "clientSecretSource", "clientSecretConfig", "clientSecret", err, cap))
        return NULL;
    const char *cid = json_string_value(json_object_get(cfg, "clientId"));
    if (cid == NULL || cid[0] == 0) {
        snprintf(err, cap, "oauth2ProviderConfigInput.%s.clientId is required", member);
        return NULL;
    }
    if (strcmp(member, "customOauth2ProviderConfig") == 0) {
        const json_t *d = json_object_get(cfg, "oauthDiscovery");
        const char *url = json_string_value(json_object_get(d, "discoveryUrl"));
        const json_t *md = json_object_get(d, "authorizationServerMetadata");
        if ((url != NULL) == (md != NULL)) {
            snprintf(err, cap,
                     "oauthDiscovery must set exactly one of discoveryUrl and "
                     "authorizationServerMetadata");
            return NULL;
        }
        if (url) {
            if (!s_url_ok(url)) {
                snprintf(err, cap, "oauthDiscovery.discoveryUrl must be an http(s) URL");
                return NULL;
            }
            snprintf(o->discovery, sizeof(o->discovery), "%s", url);
        } else {
            const char *iss = json_string_value(json_object_get(md, "issuer"));
            const char *az = json_string_value(json_object_get(md, "authorizationEndpoint"));
            const char *tk = json_string_value(json_object_get(md, "tokenEndpoint"));
            if (!s_url_ok(az) || !s_url_ok(tk) || iss == NULL || strlen(iss) > 2048) {
                snprintf(err, cap,
                         "authorizationServerMetadata.authorizationEndpoint and "
                         "tokenEndpoint must be http(s) URLs");
                return NULL;
            }
            snprintf(o->issuer, sizeof(o->issuer), "%s", iss);
            snprintf(o->authorization, sizeof(o->authorization), "%s", az);
            snprintf(o->token, sizeof(o->token), "%s", tk);
            const json_t *ms = json_object_get(md, "tokenEndpointAuthMethods");
            const char *m0 = json_string_value(json_array_get(ms, 0));
            o->auth_post = m0 && strcmp(m0, "client_secret_post") == 0;
        }
        const char *cam = json_string_value(json_object_get(cfg, "clientAuthenticationMethod"));
        if (cam)
            o->auth_post = strcmp(cam, "CLIENT_SECRET_POST") == 0;
        *disc = json_deep_copy(d);
    } else if (strcmp(member, "includedOauth2ProviderConfig") == 0) {
        const char *iss = json_string_value(json_object_get(cfg, "issuer"));
        const char *az = json_string_value(json_object_get(cfg, "authorizationEndpoint"));
        const char *tk = json_string_value(json_object_get(cfg, "tokenEndpoint"));
        if (!s_url_ok(iss) || (az && !s_url_ok(az)) || (tk && !s_url_ok(tk)) ||
            (az == NULL) != (tk == NULL)) {
            snprintf(err, cap,
                     "includedOauth2ProviderConfig for %s needs issuer (an "
                     "http(s) URL), and either both authorizationEndpoint and "
                     "tokenEndpoint or neither",
                     vendor);
            return NULL;
        }
        snprintf(o->issuer, sizeof(o->issuer), "%s", iss);
        if (tk) {
            snprintf(o->authorization, sizeof(o->authorization), "%s", az);
            snprintf(o->token, sizeof(o->token), "%s", tk);
            *disc = json_pack("{s:{s:s, s:s, s:s}}", "authorizationServerMetadata", "issuer", iss,
                              "authorizationEndpoint", az, "tokenEndpoint", tk);
        } else {
            size_t il = strlen(iss);
            while (il > 0 && iss[il - 1] == '/')
                il--;
            snprintf(o->discovery, sizeof(o->discovery), "%.*s/.well-known/openid-configuration",
                     (int)il, iss);
            *disc = json_pack("{s:s}", "discoveryUrl", o->discovery);
        }
    } else {
        struct mg_vault_vendor_endpoints ve;
        const char *tenant = json_string_value(json_object_get(cfg, "tenantId"));
        if (!mg_vault_vendor_endpoints(vendor, tenant, &ve)) {
            snprintf(err, cap, "tenantId is not a valid Microsoft tenant");
            return NULL;
        }
        snprintf(o->issuer, sizeof(o->issuer), "%s", ve.issuer);
        snprintf(o->authorization, sizeof(o->authorization), "%s", ve.authorization);
        snprintf(o->token, sizeof(o->token), "%s", ve.token);
        o->auth_post = ve.auth_post;
        *disc = json_pack("{s:{s:s, s:s, s:s}}", "authorizationServerMetadata", "issuer", ve.issuer,
                          "authorizationEndpoint", ve.authorization, "tokenEndpoint", ve.token);
    }
    if (*disc == NULL)
        return NULL; /* out of memory: err stays "" */
    return member;
}

static void s_put_oauth2(struct mg_call *c, const json_t *old)
{
    const struct mg_vault *v = mg_vault_of(c);
    if (v == NULL)
        return;
    const char *name = s_in(c, "name");
    const char *vendor = s_in(c, "credentialProviderVendor");
    const char *account = c->principal.account;
    const json_t *cfg = NULL;
    struct mg_vault_oauth2_server o;
    json_t *disc = NULL;
    char err[1024];
    const char *member = mg_vault_check_oauth2(vendor,
                                               json_object_get(c->input,
                                                               "oauth2ProviderConfigInput"),
                                               &cfg, &o, &disc, err, sizeof(err));
    if (member == NULL) {
        if (err[0])
            mg_vault_send_validation(c, "%s", err);
        else
            mg_vault_write_failed(c, MG_E_NOMEM);
        return;
    }
    const char *secret = json_string_value(json_object_get(cfg, "clientSecret"));
    if (secret && secret[0] == 0)
        secret = NULL;
    if (secret == NULL && old == NULL) {
        json_decref(disc);
        mg_vault_send_validation(c,
                                 "%s.clientSecret is required when clientSecretSource is "
                                 "MANAGED",
                                 member);
        return;
    }
    char arn[512];
    mg_vault_provider_arn(c->env, account, false, name, arn, sizeof(arn));
    int64_t now = mg_now_ms();
    json_t *out_cfg = json_pack("{s:o, s:O}", "oauthDiscovery", disc, "clientId",
                                json_object_get(cfg, "clientId"));
    static const char *const custom_out[] = {
        "onBehalfOfTokenExchangeConfig", "clientAuthenticationMethod", "privateEndpoint",
        "privateEndpointOverrides",      "privateKeyJwtConfig",        NULL};
    bool ok = out_cfg != NULL;
    for (int i = 0; ok && strcmp(member, "customOauth2ProviderConfig") == 0 && custom_out[i]; i++) {
        json_t *val = json_object_get(cfg, custom_out[i]);
        if (val)
            ok = mg_json_set_ref(out_cfg, custom_out[i], val);
    }
    json_t *doc = ok ? json_pack("{s:s, s:s, s:s, s:s, s:{s:O}, s:s, s:o}", "name", name,
                                 "credentialProviderArn", arn, "credentialProviderVendor", vendor,
                                 "clientSecretSource", "MANAGED", "oauth2ProviderConfigOutput",
                                 member, out_cfg, "status", "READY", "lastUpdatedTime",
                                 mg_vault_time(now))
                     : NULL;
    json_decref(out_cfg);
    ok = doc != NULL;
    ok = ok && (o.issuer[0] == 0 || mg_json_set(doc, "_issuer", json_string(o.issuer))) &&
         (o.token[0] == 0 || mg_json_set(doc, "_tokenEndpoint", json_string(o.token))) &&
         (o.discovery[0] == 0 || mg_json_set(doc, "_discoveryUrl", json_string(o.discovery))) &&
         mg_json_set(doc, "_authPost", json_boolean(o.auth_post));
    json_t *tags = json_object_get(c->input, "tags");
    if (ok && old) {
        static const char *const keep[] = {"clientSecretArn", "callbackUrl", "createdTime", "_tags",
                                           NULL};
        for (int i = 0; ok && keep[i]; i++) {
            json_t *val = json_object_get(old, keep[i]);
            if (val)
                ok = mg_json_set_ref(doc, keep[i], val);
        }
        if (ok && secret == NULL)
            ok = mg_json_set_ref(doc, "_secret", json_object_get(old, "_secret"));
    } else if (ok) {
        char uuid[37], cb[2300];
        mg_request_id(uuid);
        const char *base = c->env->public_url && c->env->public_url[0] ? c->env->public_url
                                                                       : "http://127.0.0.1:4777";
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        snprintf(cb, sizeof(cb), "%.*s/identities/oauth2/callback/%s", (int)bl, base, uuid);
        ok = mg_json_set(doc, "clientSecretArn", s_secret_arn(c->env, account, "oauth2", name)) &&
             mg_json_set(doc, "callbackUrl", json_string(cb)) &&
             mg_json_set(doc, "createdTime", mg_vault_time(now)) &&
             mg_json_set(doc, "_tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
    }
    if (!ok) {
        json_decref(doc);
        mg_vault_write_failed(c, MG_E_NOMEM);
        return;
    }
    if (secret && !s_seal_into(c, v, doc, arn, secret)) {
        json_decref(doc);
        return;
    }
    if (mg_vault_store_write(c, MG_VAULT_KIND_OAUTH2, name, doc,
                             old ? MG_VAULT_UPDATE : MG_VAULT_CREATE, MG_VAULT_MAX_OAUTH2_PROVIDERS,
                             S_OAUTH2_WHAT, "ConflictException")) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MAIN, c->req->request_id,
                   "OAuth2 credential provider %s %s in %s", name, old ? "updated" : "created",
                   account);
        json_t *pub = mg_vault_public(doc);
        if (pub && old == NULL) {
            json_object_del(pub, "createdTime");
            json_object_del(pub, "lastUpdatedTime");
            json_object_del(pub, "credentialProviderVendor");
        }
        mg_vault_send_json(c, old ? 200 : 201, pub);
    }
    json_decref(doc);
}

void mg_vault_create_oauth2_provider(struct mg_call *c)
{
    char arn[512];
    const char *name = s_in(c, "name");
    mg_vault_provider_arn(c->env, c->principal.account, false, name, arn, sizeof(arn));
    if (!mg_vault_authz(c, "bedrock-agentcore:CreateOauth2CredentialProvider", arn, NULL,
                        json_object_get(c->input, "tags")))
        return;
    s_put_oauth2(c, NULL);
}

void mg_vault_get_oauth2_provider(struct mg_call *c)
{
    const json_t *doc = s_authorized(c, false, "bedrock-agentcore:GetOauth2CredentialProvider",
                                     s_in(c, "name"));
    if (doc)
        mg_vault_send_json(c, 200, mg_vault_public(doc));
}

void mg_vault_update_oauth2_provider(struct mg_call *c)
{
    const json_t *doc = s_authorized(c, false, "bedrock-agentcore:UpdateOauth2CredentialProvider",
                                     s_in(c, "name"));
    if (doc)
        s_put_oauth2(c, doc);
}

/* The layer above that knows the gateway targets (the AgentCore control plane) says whether a
 * provider is in use: vault sits below it. */
static _Atomic(mg_vault_in_use_fn) s_in_use;

void mg_vault_set_in_use_hook(mg_vault_in_use_fn fn)
{
    s_in_use = fn;
}

void mg_vault_delete_oauth2_provider(struct mg_call *c)
{
    const char *name = s_in(c, "name");
    if (!s_authorized(c, false, "bedrock-agentcore:DeleteOauth2CredentialProvider", name))
        return;
    mg_vault_in_use_fn in_use = s_in_use;
    char arn[512], user[256];
    mg_vault_provider_arn(c->env, c->principal.account, false, name, arn, sizeof(arn));
    if (in_use && in_use(c->snap, c->principal.account, arn, user, sizeof(user))) {
        mg_vault_send_error(c, 409, "ConflictException",
                            "OAuth2 credential provider %s is used by %s; update or delete it "
                            "first",
                            name, user);
        return;
    }
    if (mg_vault_store_write(c, MG_VAULT_KIND_OAUTH2, name, NULL, MG_VAULT_DELETE, 0, S_OAUTH2_WHAT,
                             "ConflictException"))
        mg_vault_send_json(c, 204, NULL);
}

void mg_vault_list_oauth2_providers(struct mg_call *c)
{
    static const char *const keys[] = {
        "name",        "credentialProviderVendor", "credentialProviderArn",
        "createdTime", "lastUpdatedTime",          NULL};
    s_list(c, MG_VAULT_KIND_OAUTH2, "bedrock-agentcore:ListOauth2CredentialProviders", 20,
           "credentialProviders", keys);
}

/* ---- the lookup of the outbound side ------------------------------------------------------ */

void mg_vault_provider_cleanup(struct mg_vault_provider *p)
{
    if (p == NULL)
        return;
    mg_free(p->name);
    mg_free(p->arn);
    mg_free(p->account);
    mg_vault_free_secret(p->api_key);
    mg_free(p->vendor);
    mg_free(p->client_id);
    mg_vault_free_secret(p->client_secret);
    mg_free(p->discovery_url);
    mg_free(p->issuer);
    mg_free(p->token_endpoint);
    memset(p, 0, sizeof(*p));
}

static bool s_dup(char **out, const char *s)
{
    if (s == NULL)
        return true;
    *out = mg_strdup(s);
    return *out != NULL;
}

enum mg_err mg_vault_provider_find(const struct mg_env *env, const struct mg_snapshot *snap,
                                   const char *account, const char *ref, bool api_key,
                                   struct mg_vault_provider *out, struct mg_errinfo *ei)
{
    memset(out, 0, sizeof(*out));
    char acct[13], name[129];
    const char *what = api_key ? S_APIKEY_WHAT : S_OAUTH2_WHAT;
    if (ref == NULL || !mg_vault_parse_provider_arn(ref, api_key, acct, name)) {
        bool plain = ref && strncmp(ref, "arn:", 4) != 0 && strlen(ref) < sizeof(name);
        if (!plain)
            return mg_errinfo_set(ei, MG_E_NOT_FOUND, "Credential provider %.200s not found",
                                  ref ? ref : "");
        snprintf(acct, sizeof(acct), "%s", account);
        snprintf(name, sizeof(name), "%s", ref);
    }
    if (strcmp(acct, account) != 0)
        return mg_errinfo_set(ei, MG_E_DENIED,
                              "Credential provider %.200s belongs to another account", ref);
    const struct mg_snapshot_doc *d =
        mg_snapshot_get(snap, api_key ? MG_VAULT_KIND_APIKEY : MG_VAULT_KIND_OAUTH2, account, name);
    if (d == NULL)
        return mg_errinfo_set(ei, MG_E_NOT_FOUND, "Credential provider %.200s not found", ref);
    if (env->vault == NULL)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "AgentCore Identity is not available");
    const json_t *doc = d->doc;
    const char *arn = json_string_value(json_object_get(doc, "credentialProviderArn"));
    char *secret = NULL;
    size_t n;
    enum mg_err e = mg_vault_open(env->vault->key, MG_VAULT_PURPOSE_SECRET, account, arn ? arn : "",
                                  json_string_value(json_object_get(doc, "_secret")), &secret, &n);
    if (e == MG_E_NOMEM)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    if (e)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "The secret of %s %s does not decrypt", what,
                              name);
    bool ok = s_dup(&out->name, name) && s_dup(&out->arn, arn) && s_dup(&out->account, account);
    if (api_key) {
        out->api_key = secret;
    } else {
        out->client_secret = secret;
        const json_t *cfgs = json_object_get(doc, "oauth2ProviderConfigOutput");
        const json_t *cfg = json_object_iter_value(json_object_iter((json_t *)cfgs));
        ok = ok &&
             s_dup(&out->vendor,
                   json_string_value(json_object_get(doc, "credentialProviderVendor"))) &&
             s_dup(&out->client_id, json_string_value(json_object_get(cfg, "clientId"))) &&
             s_dup(&out->discovery_url, json_string_value(json_object_get(doc, "_discoveryUrl"))) &&
             s_dup(&out->issuer, json_string_value(json_object_get(doc, "_issuer"))) &&
             s_dup(&out->token_endpoint, json_string_value(json_object_get(doc, "_tokenEndpoint")));
        out->auth_post = json_is_true(json_object_get(doc, "_authPost"));
    }
    if (!ok) {
        mg_vault_provider_cleanup(out);
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    return MG_E_OK;
}
