/* AgentCore Identity's runtime part (the secret-encryption key, the token cache's slot), sealing,
 * workload access tokens, and the helpers the handlers share. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "state/store.h"
#include "vault/internal.h"

/* The store's meta name of the key: apart from the server's token key ("token_key"). */
#define S_META_KEY "vault_key"

enum mg_err mg_vault_new(const struct mg_env *env, struct mg_vault **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_vault *v = mg_calloc(1, sizeof(*v));
    if (v == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    /* made once for every node sharing the store: insert when absent, then read back */
    enum mg_err e = env->store
                        ? mg_store_meta_secret(env->store, S_META_KEY, v->key, sizeof(v->key))
                        : MG_E_INVALID;
    if (e) {
        mg_vault_free(v);
        return mg_errinfo_set(ei, e, "cannot load or create the identity vault key in the store");
    }
    *out = v;
    return MG_E_OK;
}

void mg_vault_free(struct mg_vault *v)
{
    if (v == NULL)
        return;
    if (v->token_cache && v->token_cache_free)
        v->token_cache_free(v->token_cache);
    mg_memzero(v->key, sizeof(v->key));
    mg_free(v);
}

/* ---- sealing ------------------------------------------------------------------------------ */

static enum mg_err s_aad(struct mg_buf *aad, const char *purpose, const char *account,
                         const char *arn)
{
    MG_TRY(mg_buf_append_cstr(aad, purpose));
    MG_TRY(mg_buf_append_byte(aad, 0));
    MG_TRY(mg_buf_append_cstr(aad, account));
    MG_TRY(mg_buf_append_byte(aad, 0));
    return mg_buf_append_cstr(aad, arn);
}

/* Limits: the largest secret is an API key of 65536 bytes, a token's JSON a few KB. */
#define S_PLAIN_MAX (128u * 1024u)

enum mg_err mg_vault_seal(const uint8_t key[32], const char *purpose, const char *account,
                          const char *arn, struct mg_slice plain, char **out)
{
    *out = NULL;
    if (plain.len > S_PLAIN_MAX)
        return MG_E_TOO_LARGE;
    struct mg_buf aad, raw, b64;
    mg_buf_init(&aad, 4096);
    mg_buf_init(&raw, S_PLAIN_MAX + MG_GCM_NONCE + MG_GCM_TAG);
    mg_buf_init(&b64, 2 * S_PLAIN_MAX);
    enum mg_err e = s_aad(&aad, purpose, account, arn);
    if (!e)
        e = mg_buf_reserve(&raw, MG_GCM_NONCE + plain.len + MG_GCM_TAG);
    if (!e) {
        uint8_t *p = raw.ptr;
        mg_random_bytes(p, MG_GCM_NONCE);
        e = mg_aes256gcm(true, key, p, mg_buf_slice(&aad), plain.ptr, plain.len, p + MG_GCM_NONCE,
                         p + MG_GCM_NONCE + plain.len);
        raw.len = MG_GCM_NONCE + plain.len + MG_GCM_TAG;
    }
    if (!e)
        e = mg_base64_encode(&b64, mg_buf_slice(&raw));
    if (!e && mg_buf_cstr(&b64) == NULL)
        e = MG_E_NOMEM;
    if (!e) {
        size_t n;
        *out = (char *)mg_buf_take(&b64, &n);
        if (*out == NULL)
            e = MG_E_NOMEM;
    }
    mg_buf_cleanup(&aad);
    mg_buf_cleanup(&raw);
    mg_buf_cleanup(&b64);
    return e;
}

enum mg_err mg_vault_open(const uint8_t key[32], const char *purpose, const char *account,
                          const char *arn, const char *sealed, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (sealed == NULL || strlen(sealed) > 2 * S_PLAIN_MAX)
        return MG_E_INVALID;
    struct mg_buf aad, raw;
    mg_buf_init(&aad, 4096);
    mg_buf_init(&raw, 2 * S_PLAIN_MAX);
    enum mg_err e = s_aad(&aad, purpose, account, arn);
    if (!e && mg_base64_decode(&raw, mg_slice_cstr(sealed)) != MG_E_OK)
        e = MG_E_INVALID;
    if (!e && raw.len < MG_GCM_NONCE + MG_GCM_TAG)
        e = MG_E_INVALID;
    char *plain = NULL;
    size_t n = 0;
    if (!e) {
        n = raw.len - MG_GCM_NONCE - MG_GCM_TAG;
        plain = mg_malloc(n + 1);
        if (plain == NULL)
            e = MG_E_NOMEM;
    }
    if (!e) {
        e = mg_aes256gcm(false, key, raw.ptr, mg_buf_slice(&aad), raw.ptr + MG_GCM_NONCE, n,
                         (uint8_t *)plain, raw.ptr + MG_GCM_NONCE + n);
        if (e)
            e = MG_E_AUTH;
    }
    if (e) {
        if (plain)
            mg_memzero(plain, n);
        mg_free(plain);
    } else {
        plain[n] = 0;
        *out = plain;
        *len = n;
    }
    if (raw.ptr)
        mg_memzero(raw.ptr, raw.len);
    mg_buf_cleanup(&aad);
    mg_buf_cleanup(&raw);
    return e;
}

void mg_vault_free_secret(char *s)
{
    if (s == NULL)
        return;
    mg_memzero(s, strlen(s));
    mg_free(s);
}

/* ---- workload access tokens --------------------------------------------------------------- */

enum mg_err mg_vault_wat_seal(const uint8_t key[32], const struct mg_vault_wat *t, char **out)
{
    *out = NULL;
    json_t *o = json_pack("{s:s, s:s, s:I}", "a", t->account, "w", t->workload, "e",
                          (json_int_t)t->expires);
    bool ok = o != NULL;
    if (ok && t->user_id[0])
        ok = mg_json_set(o, "u", json_string(t->user_id));
    if (ok && t->iss[0])
        ok = mg_json_set(o, "iss", json_string(t->iss)) &&
             mg_json_set(o, "sub", json_string(t->sub));
    char *text = ok ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return MG_E_NOMEM;
    char *sealed = NULL;
    enum mg_err e = mg_vault_seal(key, MG_VAULT_PURPOSE_WAT, "", "", mg_slice_cstr(text), &sealed);
    mg_free(text);
    if (e)
        return e;
    struct mg_buf b;
    mg_buf_init(&b, 4 * S_PLAIN_MAX);
    e = mg_buf_append_cstr(&b, MG_VAULT_WAT_PREFIX);
    if (!e)
        e = mg_buf_append_cstr(&b, sealed);
    mg_free(sealed);
    if (!e && mg_buf_cstr(&b) == NULL)
        e = MG_E_NOMEM;
    if (!e) {
        size_t n;
        *out = (char *)mg_buf_take(&b, &n);
        if (*out == NULL)
            e = MG_E_NOMEM;
    }
    mg_buf_cleanup(&b);
    return e;
}

static bool s_copy_claim(const json_t *o, const char *k, char *out, size_t cap, bool required)
{
    const json_t *v = json_object_get(o, k);
    if (v == NULL) {
        out[0] = 0;
        return !required;
    }
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) >= cap)
        return false;
    mg_memcpy(out, s, strlen(s) + 1);
    return true;
}

enum mg_err mg_vault_wat_open(const uint8_t key[32], const char *token, int64_t now,
                              struct mg_vault_wat *t)
{
    memset(t, 0, sizeof(*t));
    size_t pl = strlen(MG_VAULT_WAT_PREFIX);
    if (token == NULL || strncmp(token, MG_VAULT_WAT_PREFIX, pl) != 0)
        return MG_E_AUTH;
    char *plain = NULL;
    size_t n = 0;
    if (mg_vault_open(key, MG_VAULT_PURPOSE_WAT, "", "", token + pl, &plain, &n) != MG_E_OK)
        return MG_E_AUTH;
    json_t *o = json_loadb(plain, n, 0, NULL);
    mg_vault_free_secret(plain);
    enum mg_err e = MG_E_AUTH;
    const json_t *exp = json_object_get(o, "e");
    if (json_is_object(o) && json_is_integer(exp) &&
        s_copy_claim(o, "a", t->account, sizeof(t->account), true) &&
        s_copy_claim(o, "w", t->workload, sizeof(t->workload), true) &&
        s_copy_claim(o, "u", t->user_id, sizeof(t->user_id), false) &&
        s_copy_claim(o, "iss", t->iss, sizeof(t->iss), false) &&
        s_copy_claim(o, "sub", t->sub, sizeof(t->sub), false)) {
        t->expires = (int64_t)json_integer_value(exp);
        e = t->expires > now ? MG_E_OK : MG_E_DENIED;
    }
    json_decref(o);
    return e;
}

bool mg_vault_jwt_claims(const char *jwt, char iss[1025], char sub[1025], int64_t *exp)
{
    iss[0] = sub[0] = 0;
    *exp = 0;
    const char *d1 = jwt ? strchr(jwt, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d1 == NULL || d2 == NULL || strchr(d2 + 1, '.') != NULL)
        return false;
    size_t n = (size_t)(d2 - d1 - 1);
    while (n > 0 && d1[n] == '=') /* the model's pattern allows padding */
        n--;
    struct mg_buf b;
    mg_buf_init(&b, 131072);
    bool ok = mg_base64url_decode(&b, mg_slice_make(d1 + 1, n)) == MG_E_OK;
    json_t *o = ok ? json_loadb((const char *)b.ptr, b.len, 0, NULL) : NULL;
    mg_buf_cleanup(&b);
    ok = json_is_object(o) && s_copy_claim(o, "iss", iss, 1025, true) &&
         s_copy_claim(o, "sub", sub, 1025, true) && iss[0] && sub[0];
    const json_t *e = json_object_get(o, "exp");
    if (ok && json_is_number(e))
        *exp = (int64_t)json_number_value(e);
    json_decref(o);
    return ok;
}

/* ---- vendors ------------------------------------------------------------------------------- */

bool mg_vault_vendor_endpoints(const char *vendor, const char *tenant,
                               struct mg_vault_vendor_endpoints *out)
{
    static const struct {
        const char *vendor, *issuer, *authorization, *token, *discovery;
        bool post;
    } known[] = {
        {"GoogleOauth2", "https://accounts.google.com",
         "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
         "https://accounts.google.com/.well-known/openid-configuration", false},
        {"GithubOauth2", "https://github.com", "https://github.com/login/oauth/authorize",
         "https://github.com/login/oauth/access_token", NULL, true},
        {"SalesforceOauth2", "https://login.salesforce.com",
         "https://login.salesforce.com/services/oauth2/authorize",
         "https://login.salesforce.com/services/oauth2/token",
         "https://login.salesforce.com/.well-known/openid-configuration", true},
        {"SlackOauth2", "https://slack.com", "https://slack.com/oauth/v2/authorize",
         "https://slack.com/api/oauth.v2.access",
         "https://slack.com/.well-known/openid-configuration", true},
        {"AtlassianOauth2", "https://auth.atlassian.com", "https://auth.atlassian.com/authorize",
         "https://auth.atlassian.com/oauth/token", NULL, true},
        {"LinkedinOauth2", "https://www.linkedin.com/oauth",
         "https://www.linkedin.com/oauth/v2/authorization",
         "https://www.linkedin.com/oauth/v2/accessToken",
         "https://www.linkedin.com/oauth/.well-known/openid-configuration", true},
    };
    memset(out, 0, sizeof(*out));
    if (strcmp(vendor, "MicrosoftOauth2") == 0) {
        const char *t = tenant && tenant[0] ? tenant : "common";
        if (strlen(t) > 200)
            return false;
        snprintf(out->issuer, sizeof(out->issuer), "https://login.microsoftonline.com/%s/v2.0", t);
        snprintf(out->authorization, sizeof(out->authorization),
                 "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize", t);
        snprintf(out->token, sizeof(out->token),
                 "https://login.microsoftonline.com/%s/oauth2/v2.0/token", t);
        snprintf(out->discovery, sizeof(out->discovery),
                 "https://login.microsoftonline.com/%s/v2.0/.well-known/openid-configuration", t);
        return true;
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(known[i].vendor, vendor) != 0)
            continue;
        snprintf(out->issuer, sizeof(out->issuer), "%s", known[i].issuer);
        snprintf(out->authorization, sizeof(out->authorization), "%s", known[i].authorization);
        snprintf(out->token, sizeof(out->token), "%s", known[i].token);
        snprintf(out->discovery, sizeof(out->discovery), "%s",
                 known[i].discovery ? known[i].discovery : "");
        out->auth_post = known[i].post;
        return true;
    }
    return false;
}

/* ---- ARNs ---------------------------------------------------------------------------------- */

void mg_vault_provider_arn(const struct mg_env *env, const char *account, bool api_key,
                           const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:bedrock-agentcore:%s:%s:token-vault/default/%s/%s", env->region,
             account, api_key ? "apikeycredentialprovider" : "oauth2credentialprovider", name);
}

void mg_vault_workload_arn(const struct mg_env *env, const char *account, const char *name,
                           char *out, size_t cap)
{
    snprintf(out, cap,
             "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/default/"
             "workload-identity/%s",
             env->region, account, name);
}

void mg_vault_token_vault_arn(const struct mg_env *env, const char *account, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:bedrock-agentcore:%s:%s:token-vault/default", env->region, account);
}

void mg_vault_directory_arn(const struct mg_env *env, const char *account, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:bedrock-agentcore:%s:%s:workload-identity-directory/default",
             env->region, account);
}

static bool s_name_ok(struct mg_slice s)
{
    if (s.len == 0 || s.len > 128)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char ch = (char)s.ptr[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

bool mg_vault_parse_provider_arn(const char *arn, bool api_key, char account[13], char name[129])
{
    struct mg_arn a;
    if (arn == NULL || !mg_arn_parse(mg_slice_cstr(arn), &a))
        return false;
    if (!mg_slice_eq_cstr(a.service, "bedrock-agentcore") && !mg_slice_eq_cstr(a.service, "acps"))
        return false;
    if (a.account.len != 12)
        return false;
    const char *prefix = api_key ? "token-vault/default/apikeycredentialprovider/"
                                 : "token-vault/default/oauth2credentialprovider/";
    size_t pl = strlen(prefix);
    if (!mg_slice_starts_with(a.resource, prefix))
        return false;
    struct mg_slice nm = mg_slice_make(a.resource.ptr + pl, a.resource.len - pl);
    if (!s_name_ok(nm))
        return false;
    snprintf(account, 13, MG_SLICE_FMT, MG_SLICE_ARG(a.account));
    snprintf(name, 129, MG_SLICE_FMT, MG_SLICE_ARG(nm));
    return true;
}

/* ---- replies and checks -------------------------------------------------------------------- */

void mg_vault_send_json(struct mg_call *c, int status, json_t *obj)
{
    if (status != 204 && obj == NULL) {
        mg_aws_reply_error(c->reply, 500, "InternalServerException",
                           "The response could not be built.");
        return;
    }
    mg_aws_reply_json(c->reply, status, status == 204 ? NULL : obj);
    if (status == 204)
        json_decref(obj);
}

void mg_vault_send_error(struct mg_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = 0;
    mg_aws_reply_error(c->reply, status, code, "%s", msg);
}

void mg_vault_send_validation(struct mg_call *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = 0;
    mg_aws_reply_error(c->reply, 400, "ValidationException", "%s", msg);
    c->reply->fields = json_pack("{s:s}", "reason", "FieldValidationFailed");
}

void mg_vault_write_failed(struct mg_call *c, enum mg_err e)
{
    struct mg_errinfo ei = {0};
    mg_store_last_error(&ei);
    MG_LOG_REQ(MG_LOG_ERROR, MG_SUB_MAIN, c->req->request_id, "identity write failed: %s (%s)",
               mg_err_str(e), ei.msg);
    mg_aws_reply_error(c->reply, 500, "InternalServerException",
                       "The request could not be stored; retry later.");
}

bool mg_vault_authz(struct mg_call *c, const char *action, const char *arn,
                    const json_t *resource_tags, const json_t *request_tags)
{
    struct mg_policy_ctx_entry e[MG_AUTHZ_MAX_TAGS + 1];
    char keys[MG_AUTHZ_MAX_TAGS][MG_AUTHZ_TAG_NAME_CAP]; /* not TLS: every thread would pay */
    struct mg_slice tag_keys[MG_AUTHZ_MAX_TAGS];
    size_t n = 0, nk = 0;
    const char *overflow = NULL;
    if (json_is_object(request_tags)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)request_tags, k, v)
        {
            if (nk >= MG_AUTHZ_MAX_TAGS || !json_is_string(v)) {
                overflow = "more request tags than AWS allows";
                break;
            }
            if (!mg_fmt(keys[nk], sizeof(keys[nk]), "aws:RequestTag/%s", k)) {
                overflow = "a request tag key longer than AWS allows";
                break;
            }
            e[n++] = (struct mg_policy_ctx_entry){.key = mg_slice_cstr(keys[nk]),
                                                  .value = mg_slice_cstr(json_string_value(v))};
            tag_keys[nk++] = mg_slice_cstr(k);
        }
        e[n++] = (struct mg_policy_ctx_entry){.key = MG_SLICE_LIT("aws:TagKeys"),
                                              .values = tag_keys,
                                              .n_values = nk};
    }
    struct mg_authz_extra extra = {e, n, overflow};
    struct mg_authz_resource res = {.arn = arn,
                                    .account = c->principal.account,
                                    .tags = json_is_object(resource_tags) ? resource_tags : NULL};
    return mg_authz(c, action, &res, &extra);
}

const struct mg_vault *mg_vault_of(struct mg_call *c)
{
    if (c->env->vault == NULL)
        mg_vault_send_error(c, 500, "InternalServerException",
                            "AgentCore Identity is not available on this server.");
    return c->env->vault;
}

json_t *mg_vault_public(const json_t *doc)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (o && k[0] != '_' && !mg_json_set_ref(o, k, v)) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *mg_vault_time(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

bool mg_vault_page(struct mg_call *c, size_t dflt, char *token, size_t cap, size_t *max)
{
    const json_t *m = json_object_get(c->input, "maxResults");
    *max = json_is_integer(m) ? (size_t)json_integer_value(m) : dflt; /* range: the model's */
    const char *t = json_string_value(json_object_get(c->input, "nextToken"));
    token[0] = 0;
    if (t == NULL)
        return true;
    if (strlen(t) >= cap || t[0] == 0) {
        mg_vault_send_validation(c, "Invalid nextToken");
        return false;
    }
    for (const char *p = t; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok) {
            mg_vault_send_validation(c, "Invalid nextToken");
            return false;
        }
    }
    mg_memcpy(token, t, strlen(t) + 1);
    return true;
}

bool mg_vault_store_write(struct mg_call *c, const char *kind, const char *name, const json_t *doc,
                          enum mg_vault_write_mode mode, size_t quota, const char *what,
                          const char *conflict_code)
{
    const struct mg_env *env = c->env;
    const char *account = c->principal.account;
    char *text = NULL;
    if (doc != NULL && (text = json_dumps(doc, JSON_COMPACT)) == NULL) {
        mg_vault_write_failed(c, MG_E_NOMEM);
        return false;
    }
    if (mg_state_write_begin(env->state) != MG_E_OK) {
        mg_free(text);
        mg_vault_write_failed(c, MG_E_STORE);
        return false;
    }
    struct mg_snapshot *snap = mg_state_acquire(env->state);
    bool exists = mg_snapshot_get(snap, kind, account, name) != NULL;
    size_t n = 0;
    (void)mg_snapshot_range(snap, kind, account, &n);
    mg_snapshot_unref(snap);
    bool answered = true;
    if (mode == MG_VAULT_CREATE && exists) {
        if (strcmp(conflict_code, "ValidationException") == 0)
            mg_vault_send_validation(c, "%s with name %s already exists", what, name);
        else
            mg_vault_send_error(c, 409, conflict_code, "%s with name %s already exists", what,
                                name);
    } else if (mode == MG_VAULT_CREATE && n >= quota) {
        mg_vault_send_error(c, 402, "ServiceQuotaExceededException",
                            "The maximum number of %ss per account (%zu) has been reached", what,
                            quota);
    } else if (mode != MG_VAULT_CREATE && !exists) {
        mg_vault_send_error(c, 404, "ResourceNotFoundException", "%s %s not found", what, name);
    } else {
        answered = false;
    }
    if (answered) {
        mg_state_write_abort(env->state);
        mg_free(text);
        return false;
    }
    enum mg_err e;
    if (mode == MG_VAULT_DELETE)
        e = mg_store_delete(env->store, kind, account, name);
    else if (mode == MG_VAULT_CREATE)
        e = mg_store_insert(env->store, kind, account, name, mg_slice_cstr(text));
    else
        e = mg_store_put(env->store, kind, account, name, mg_slice_cstr(text));
    mg_free(text);
    struct mg_errinfo ei = {0};
    if (e == MG_E_OK)
        e = mg_state_write_commit(env->state, &ei);
    else
        mg_state_write_abort(env->state);
    if (e) {
        mg_vault_write_failed(c, e);
        return false;
    }
    return true;
}
