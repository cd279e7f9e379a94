/* The outbound credentials of a target, for one call: what its
 * credentialProviderConfigurations[0] says, resolved into a header, a query parameter or the
 * gateway role's SigV4 session, and put on the request being built.
 *
 *   (none)            nothing is added
 *   GATEWAY_IAM_ROLE  the gateway's roleArn assumed as bedrock-agentcore.amazonaws.com (its trust
 *                     policy must admit the service), the gateway id as the session name, as a
 *                     Lambda target is called; the session is kept per (role, gateway, snapshot
 *                     generation) for a few minutes; the request is signed with SigV4 for
 *                     iamCredentialProvider.service and .region (default: the server's region)
 *   API_KEY           the provider's key in a header (credentialParameterName, default
 *                     "Authorization") or a query parameter (default "api_key"), after
 *                     credentialPrefix and one space when a prefix is set
 *   OAUTH             CLIENT_CREDENTIALS: a token from the provider's token endpoint (oauth.c,
 *                     cached until a minute before it expires), as "Authorization: Bearer TOKEN"
 * Other types and grants are refused with a message that says so. No message names a secret. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "vault/internal.h"

#define S_SERVICE "bedrock-agentcore.amazonaws.com"

/* A message for a client or a log line: cut at cap when longer (never a secret in it). */
static void s_msg(char *out, size_t cap, const char *fmt, ...) MG_PRINTF(3, 4);
static void s_msg(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 && cap)
        out[0] = 0;
}

void mg_vault_cred_cleanup(struct mg_vault_cred *cred)
{
    if (cred == NULL)
        return;
    char **owned[] = {&cred->header_name, &cred->header_value, &cred->query_name,
                      &cred->query_value, &cred->session_token};
    for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        if (*owned[i]) {
            mg_memzero(*owned[i], strlen(*owned[i]));
            mg_free(*owned[i]);
            *owned[i] = NULL;
        }
    }
    mg_memzero(cred->secret, sizeof(cred->secret));
}

static void s_cred_free(struct mg_vault_cred *c)
{
    mg_vault_cred_cleanup(c);
    mg_free(c);
}

static mg_vault_provider_find_fn s_find = mg_vault_provider_find;

void mg_vault_cred_set_provider_find(mg_vault_provider_find_fn fn)
{
    s_find = fn ? fn : mg_vault_provider_find;
}

/* ---- the gateway role's sessions ------------------------------------------------------------ */

struct s_role_entry {
    bool used;
    char role_arn[512];
    char gateway_arn[512];
    uint64_t generation;
    int64_t until;
    char akid[32];
    char secret[64];
    char *token;
};

static pthread_mutex_t s_role_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s_role_entry s_roles[MG_VAULT_ROLE_CACHE];

static void s_role_clear(struct s_role_entry *e)
{
    if (e->token) {
        mg_memzero(e->token, strlen(e->token));
        mg_free(e->token);
    }
    mg_memzero(e, sizeof(*e));
}

bool mg_vault_role_cache_get(const char *role_arn, const char *gateway_arn, uint64_t generation,
                             int64_t now, struct mg_vault_cred *out)
{
    bool hit = false;
    pthread_mutex_lock(&s_role_lock);
    for (size_t i = 0; i < MG_VAULT_ROLE_CACHE && !hit; i++) {
        struct s_role_entry *e = &s_roles[i];
        if (!e->used || e->generation != generation || strcmp(e->role_arn, role_arn) != 0 ||
            strcmp(e->gateway_arn, gateway_arn) != 0)
            continue;
        if (e->until <= now) {
            s_role_clear(e); /* expired: gone */
            continue;
        }
        char *tok = mg_strdup(e->token ? e->token : "");
        if (tok == NULL)
            break; /* out of memory: a miss */
        mg_memcpy(out->access_key_id, e->akid, sizeof(out->access_key_id));
        mg_memcpy(out->secret, e->secret, sizeof(out->secret));
        out->session_token = tok;
        hit = true;
    }
    pthread_mutex_unlock(&s_role_lock);
    return hit;
}

void mg_vault_role_cache_put(const char *role_arn, const char *gateway_arn, uint64_t generation,
                             int64_t until, const struct mg_vault_cred *c)
{
    if (strlen(role_arn) >= sizeof(s_roles[0].role_arn) ||
        strlen(gateway_arn) >= sizeof(s_roles[0].gateway_arn))
        return;
    char *tok = mg_strdup(c->session_token ? c->session_token : "");
    if (tok == NULL)
        return;
    pthread_mutex_lock(&s_role_lock);
    /* the same key (a concurrent miss), else a free slot, else the one that expires first */
    size_t victim = MG_VAULT_ROLE_CACHE;
    for (size_t i = 0; i < MG_VAULT_ROLE_CACHE && victim == MG_VAULT_ROLE_CACHE; i++)
        if (s_roles[i].used && s_roles[i].generation == generation &&
            strcmp(s_roles[i].role_arn, role_arn) == 0 &&
            strcmp(s_roles[i].gateway_arn, gateway_arn) == 0)
            victim = i;
    for (size_t i = 0; i < MG_VAULT_ROLE_CACHE && victim == MG_VAULT_ROLE_CACHE; i++)
        if (!s_roles[i].used)
            victim = i;
    if (victim == MG_VAULT_ROLE_CACHE) {
        victim = 0;
        for (size_t i = 1; i < MG_VAULT_ROLE_CACHE; i++)
            if (s_roles[i].until < s_roles[victim].until)
                victim = i;
    }
    struct s_role_entry *e = &s_roles[victim];
    s_role_clear(e);
    e->used = true;
    s_msg(e->role_arn, sizeof(e->role_arn), "%s", role_arn);
    s_msg(e->gateway_arn, sizeof(e->gateway_arn), "%s", gateway_arn);
    e->generation = generation;
    e->until = until;
    mg_memcpy(e->akid, c->access_key_id, sizeof(e->akid));
    mg_memcpy(e->secret, c->secret, sizeof(e->secret));
    e->token = tok;
    pthread_mutex_unlock(&s_role_lock);
}

void mg_vault_role_cache_clear(void)
{
    pthread_mutex_lock(&s_role_lock);
    for (size_t i = 0; i < MG_VAULT_ROLE_CACHE; i++)
        s_role_clear(&s_roles[i]);
    pthread_mutex_unlock(&s_role_lock);
}

/* The gateway role's session into c (type, keys, token), or the reason in msg. */
static enum mg_err s_role_session(const struct mg_env *env, struct mg_snapshot *snap,
                                  const struct mg_vault_target *t, struct mg_vault_cred *c,
                                  char *msg, size_t cap)
{
    const char *role = t->role_arn ? t->role_arn : "";
    const char *gw_arn = t->gateway_arn ? t->gateway_arn : "";
    int64_t now = mg_now();
    if (mg_vault_role_cache_get(role, gw_arn, snap->generation, now, c))
        return MG_E_OK;
    struct mg_errinfo ei = {0};
    char session_name[65];
    s_msg(session_name, sizeof(session_name), "%.64s", t->gateway_id ? t->gateway_id : "gateway");
    struct mg_buf tok;
    mg_buf_init(&tok, 8192);
    int64_t expires = 0;
    enum mg_err err = mg_call_assume_role_as_service(env, snap, role, S_SERVICE, session_name, 900,
                                                     NULL, c->access_key_id, c->secret, &tok,
                                                     &expires, &ei);
    if (err == MG_E_OK) {
        c->session_token = mg_slice_dup(mg_buf_slice(&tok));
        if (c->session_token == NULL)
            err = MG_E_NOMEM;
    }
    if (tok.ptr)
        mg_memzero(tok.ptr, tok.len);
    mg_buf_cleanup(&tok);
    if (err != MG_E_OK) {
        mg_memzero(c->secret, sizeof(c->secret));
        s_msg(msg, cap, "%s",
              err == MG_E_NOMEM ? "out of memory"
              : ei.msg[0]       ? ei.msg
                                : "The gateway role could not be assumed.");
        return err;
    }
    int64_t until = now + MG_VAULT_ROLE_TTL;
    if (expires > 0 && expires - 60 < until)
        until = expires - 60;
    mg_vault_role_cache_put(role, gw_arn, snap->generation, until, c);
    return MG_E_OK;
}

/* ---- API keys -------------------------------------------------------------------------------- */

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

enum mg_err mg_vault_api_key_cred(const json_t *akp, const char *key, struct mg_vault_cred *out,
                                  char *msg, size_t cap)
{
    const char *loc = s_str(akp, "credentialLocation");
    const char *name = s_str(akp, "credentialParameterName");
    const char *prefix = s_str(akp, "credentialPrefix");
    bool query = loc && strcmp(loc, "QUERY_PARAMETER") == 0;
    if (loc && !query && strcmp(loc, "HEADER") != 0) {
        s_msg(msg, cap, "Unsupported credentialLocation %.32s.", loc);
        return MG_E_INVALID;
    }
    if (name == NULL || name[0] == 0)
        name = query ? MG_VAULT_API_KEY_QUERY : MG_VAULT_API_KEY_HEADER;
    if (key == NULL || key[0] == 0) {
        s_msg(msg, cap, "The API key credential provider holds no API key.");
        return MG_E_INVALID;
    }
    struct mg_buf v;
    mg_buf_init(&v, 128 + strlen(key));
    enum mg_err err = MG_E_OK;
    if (prefix && prefix[0]) {
        size_t pl = strlen(prefix);
        err = mg_buf_append_cstr(&v, prefix);
        /* "Bearer " (a prefix that already ends with a space) gets no second one */
        if (!err && prefix[pl - 1] != ' ')
            err = mg_buf_append_byte(&v, ' ');
    }
    if (!err)
        err = mg_buf_append_cstr(&v, key);
    char *value = NULL;
    if (!err && mg_buf_cstr(&v) != NULL)
        value = mg_slice_dup(mg_buf_slice(&v));
    if (v.ptr)
        mg_memzero(v.ptr, v.len);
    mg_buf_cleanup(&v);
    char *n = mg_strdup(name);
    if (value == NULL || n == NULL) {
        if (value)
            mg_memzero(value, strlen(value));
        mg_free(value);
        mg_free(n);
        s_msg(msg, cap, "out of memory");
        return MG_E_NOMEM;
    }
    /* a header name and value must travel on one line */
    for (const char *p = value; !query && *p; p++)
        if (*p == '\r' || *p == '\n') {
            mg_memzero(value, strlen(value));
            mg_free(value);
            mg_free(n);
            s_msg(msg, cap, "The API key cannot be sent in a header.");
            return MG_E_INVALID;
        }
    out->type = MG_CRED_API_KEY;
    if (query) {
        out->query_name = n;
        out->query_value = value;
    } else {
        out->header_name = n;
        out->header_value = value;
    }
    return MG_E_OK;
}

/* ---- OAuth2 ---------------------------------------------------------------------------------- */

struct s_oauth_call {
    mg_vault_cred_cb cb;
    void *arg;
};

static void s_oauth_done(void *arg, enum mg_err e, const char *access_token, int64_t expires_at,
                         const char *msg)
{
    (void)expires_at;
    struct s_oauth_call *k = arg;
    mg_vault_cred_cb cb = k->cb;
    void *cb_arg = k->arg;
    mg_free(k);
    if (e != MG_E_OK) {
        cb(cb_arg, e, NULL, msg ? msg : "The OAuth2 token could not be obtained.");
        return;
    }
    struct mg_vault_cred *c = mg_calloc(1, sizeof(*c));
    struct mg_buf v;
    mg_buf_init(&v, 16 + strlen(access_token));
    bool ok = c != NULL && mg_buf_append_cstr(&v, "Bearer ") == MG_E_OK &&
              mg_buf_append_cstr(&v, access_token) == MG_E_OK && mg_buf_cstr(&v) != NULL;
    if (ok) {
        c->type = MG_CRED_OAUTH;
        c->header_name = mg_strdup("Authorization");
        c->header_value = mg_slice_dup(mg_buf_slice(&v));
        ok = c->header_name && c->header_value;
    }
    if (v.ptr)
        mg_memzero(v.ptr, v.len);
    mg_buf_cleanup(&v);
    if (!ok) {
        s_cred_free(c);
        cb(cb_arg, MG_E_NOMEM, NULL, "out of memory");
        return;
    }
    cb(cb_arg, MG_E_OK, c, NULL);
}

/* ---- one target's credentials ---------------------------------------------------------------- */

static const char *s_type_name(enum mg_credential_type t)
{
    switch (t) {
    case MG_CRED_NONE: return "NONE";
    case MG_CRED_GATEWAY_IAM_ROLE: return "GATEWAY_IAM_ROLE";
    case MG_CRED_OAUTH: return "OAUTH";
    case MG_CRED_API_KEY: return "API_KEY";
    case MG_CRED_CALLER_IAM_CREDENTIALS: return "CALLER_IAM_CREDENTIALS";
    case MG_CRED_JWT_PASSTHROUGH: return "JWT_PASSTHROUGH";
    }
    return "?";
}

/* The type a configuration names; false for a name mcpgate does not know. */
static bool s_type_of(const json_t *cfg, enum mg_credential_type *out)
{
    static const struct {
        const char *name;
        enum mg_credential_type type;
    } types[] = {
        {"GATEWAY_IAM_ROLE", MG_CRED_GATEWAY_IAM_ROLE},
        {"OAUTH", MG_CRED_OAUTH},
        {"API_KEY", MG_CRED_API_KEY},
        {"CALLER_IAM_CREDENTIALS", MG_CRED_CALLER_IAM_CREDENTIALS},
        {"JWT_PASSTHROUGH", MG_CRED_JWT_PASSTHROUGH},
    };
    *out = MG_CRED_NONE;
    if (cfg == NULL)
        return true;
    const char *name = s_str(cfg, "credentialProviderType");
    for (size_t i = 0; name && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(name, types[i].name) == 0) {
            *out = types[i].type;
            return true;
        }
    return false;
}

void mg_vault_target_cred(const struct mg_env *env, struct mg_snapshot *snap,
                          const struct mg_vault_target *t, bool refresh, mg_vault_cred_cb cb,
                          void *arg)
{
    char msg[256] = "";
    const json_t *cfg = t->config;
    const json_t *prov = json_object_get(cfg, "credentialProvider");
    const char *account = t->account ? t->account : "";
    enum mg_err err = MG_E_OK;
    enum mg_credential_type type;
    if (!s_type_of(cfg, &type)) {
        cb(arg, MG_E_INVALID, NULL,
           "The target's credentialProviderType is not one mcpgate knows.");
        return;
    }
    struct mg_vault_cred *c = mg_calloc(1, sizeof(*c));
    if (c == NULL) {
        cb(arg, MG_E_NOMEM, NULL, "out of memory");
        return;
    }
    switch (type) {
    case MG_CRED_NONE: break;
    case MG_CRED_GATEWAY_IAM_ROLE: {
        const json_t *iam = json_object_get(prov, "iamCredentialProvider");
        const char *service = s_str(iam, "service");
        const char *region = s_str(iam, "region");
        if (region == NULL || region[0] == 0)
            region = env->region ? env->region : "us-east-1";
        /* a Smithy target signs with its model's name: the caller fills an empty service */
        if (!mg_fmt(c->service, sizeof(c->service), "%s", service ? service : "") ||
            !mg_fmt(c->region, sizeof(c->region), "%s", region)) {
            s_msg(msg, sizeof(msg), "The iamCredentialProvider service or region is too long.");
            err = MG_E_INVALID;
            break;
        }
        c->type = MG_CRED_GATEWAY_IAM_ROLE;
        err = s_role_session(env, snap, t, c, msg, sizeof(msg));
        break;
    }
    case MG_CRED_API_KEY: {
        const json_t *akp = json_object_get(prov, "apiKeyCredentialProvider");
        struct mg_vault_provider p = {0};
        struct mg_errinfo ei = {0};
        err = s_find(env, snap, account, s_str(akp, "providerArn"), true, &p, &ei);
        if (err == MG_E_OK)
            err = mg_vault_api_key_cred(akp, p.api_key, c, msg, sizeof(msg));
        else
            s_msg(msg, sizeof(msg), "%s",
                  ei.msg[0] ? ei.msg : "The API key credential provider was not found.");
        mg_vault_provider_cleanup(&p);
        break;
    }
    case MG_CRED_OAUTH: {
        const json_t *op = json_object_get(prov, "oauthCredentialProvider");
        const char *grant = s_str(op, "grantType");
        if (grant && strcmp(grant, "CLIENT_CREDENTIALS") != 0) {
            s_msg(msg, sizeof(msg),
                  "The OAuth grant type %.32s is not implemented by mcpgate yet: only "
                  "CLIENT_CREDENTIALS is.",
                  grant);
            err = MG_E_INVALID;
            break;
        }
        struct mg_vault_provider p = {0};
        struct mg_errinfo ei = {0};
        err = s_find(env, snap, account, s_str(op, "providerArn"), false, &p, &ei);
        if (err != MG_E_OK) {
            s_msg(msg, sizeof(msg), "%s",
                  ei.msg[0] ? ei.msg : "The OAuth2 credential provider was not found.");
            mg_vault_provider_cleanup(&p);
            break;
        }
        struct s_oauth_call *k = mg_calloc(1, sizeof(*k));
        if (k == NULL) {
            mg_vault_provider_cleanup(&p);
            err = MG_E_NOMEM;
            s_msg(msg, sizeof(msg), "out of memory");
            break;
        }
        k->cb = cb;
        k->arg = arg;
        s_cred_free(c);
        /* the callback runs now or on the client's thread; p is copied by then */
        mg_vault_oauth_token(env, &p, json_object_get(op, "scopes"),
                             json_object_get(op, "customParameters"), refresh, s_oauth_done, k);
        mg_vault_provider_cleanup(&p);
        return;
    }
    case MG_CRED_CALLER_IAM_CREDENTIALS:
    case MG_CRED_JWT_PASSTHROUGH:
        s_msg(msg, sizeof(msg),
              "The credential provider type %s is not implemented by mcpgate yet.",
              s_type_name(type));
        err = MG_E_INVALID;
        break;
    }
    if (err != MG_E_OK) {
        s_cred_free(c);
        cb(arg, err, NULL, msg[0] ? msg : "The target's credentials could not be obtained.");
        return;
    }
    cb(arg, MG_E_OK, c, NULL);
}

/* ---- putting them on a request ------------------------------------------------------------- */

/* The parts of an absolute URL SigV4 signs: host (with its port unless the scheme's default,
 * as curl sends it), raw path ("/" when empty) and raw query (without '?' and fragment). */
static enum mg_err s_url_parts(struct mg_slice url, struct mg_slice *host, struct mg_slice *path,
                               struct mg_slice *query)
{
    bool https;
    if (mg_slice_starts_with(url, "https://"))
        https = true;
    else if (mg_slice_starts_with(url, "http://"))
        https = false;
    else
        return MG_E_INVALID;
    struct mg_slice rest = mg_slice_sub(url, https ? 8 : 7, url.len - (https ? 8 : 7));
    size_t a = 0;
    while (a < rest.len && rest.ptr[a] != '/' && rest.ptr[a] != '?' && rest.ptr[a] != '#')
        a++;
    struct mg_slice auth = mg_slice_sub(rest, 0, a);
    long at = -1;
    for (size_t i = 0; i < auth.len; i++)
        if (auth.ptr[i] == '@')
            at = (long)i;
    if (at >= 0)
        auth = mg_slice_sub(auth, (size_t)at + 1, auth.len - (size_t)at - 1);
    /* drop the scheme's default port, as the Host header curl sends does */
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (auth.len > dl && mg_slice_eq_cstr(mg_slice_sub(auth, auth.len - dl, dl), dflt))
        auth.len -= dl;
    if (auth.len == 0)
        return MG_E_INVALID;
    *host = auth;
    struct mg_slice tail = mg_slice_sub(rest, a, rest.len - a);
    long hash = mg_slice_find(tail, '#');
    if (hash >= 0)
        tail.len = (size_t)hash;
    long q = mg_slice_find(tail, '?');
    if (q >= 0) {
        *path = mg_slice_sub(tail, 0, (size_t)q);
        *query = mg_slice_sub(tail, (size_t)q + 1, tail.len - (size_t)q - 1);
    } else {
        *path = tail;
        *query = mg_slice_make("", 0);
    }
    if (path->len == 0)
        *path = MG_SLICE_LIT("/");
    return MG_E_OK;
}

static enum mg_err s_sign(const struct mg_vault_cred *cred, struct mg_target_req *req, int64_t now)
{
    if (cred->service[0] == 0 || cred->region[0] == 0 || cred->access_key_id[0] == 0)
        return MG_E_INVALID;
    bool has_token = cred->session_token && cred->session_token[0];
    if (mg_target_req_header_value(req, "x-amz-date") ||
        mg_target_req_header_value(req, "authorization"))
        return MG_E_INVALID;
    if (has_token && mg_target_req_header_value(req, "x-amz-security-token") == NULL)
        MG_TRY(
            mg_target_req_header(req, "X-Amz-Security-Token", mg_slice_cstr(cred->session_token)));
    const char *u = mg_buf_cstr(&req->url);
    if (u == NULL)
        return MG_E_NOMEM;
    struct mg_slice host, path, query;
    MG_TRY(s_url_parts(mg_slice_cstr(u), &host, &path, &query));
    /* lower-cased names, in one buffer; the values borrow from the request */
    struct mg_kv hdrs[MG_HTTP_CLIENT_MAX_HEADERS + 1];
    char names[MG_HTTP_CLIENT_MAX_HEADERS][64];
    size_t n = 0;
    hdrs[n++] = (struct mg_kv){MG_SLICE_LIT("host"), host};
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *h = req->headers[i];
        const char *colon = strchr(h, ':');
        if (colon == NULL)
            return MG_E_INVALID;
        size_t nl = (size_t)(colon - h);
        if (nl == 0 || nl >= sizeof(names[0]))
            return MG_E_INVALID;
        for (size_t k = 0; k < nl; k++)
            names[i][k] = (h[k] >= 'A' && h[k] <= 'Z') ? (char)(h[k] - 'A' + 'a') : h[k];
        names[i][nl] = 0;
        if (strcmp(names[i], "host") == 0)
            return MG_E_INVALID; /* the client takes Host from the URL */
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        hdrs[n++] = (struct mg_kv){mg_slice_make(names[i], nl), mg_slice_cstr(v)};
    }
    struct mg_sigv4_request r = {
        .method = mg_slice_cstr(req->method),
        .path = path,
        .query = query,
        .headers = hdrs,
        .n_headers = n,
        .body = mg_buf_slice(&req->body),
    };
    struct mg_sigv4_signer s = {
        .access_key_id = mg_slice_cstr(cred->access_key_id),
        .secret = mg_slice_make(cred->secret, strnlen(cred->secret, sizeof(cred->secret))),
        .session_token = has_token ? mg_slice_cstr(cred->session_token) : mg_slice_make("", 0),
        .region = mg_slice_cstr(cred->region),
        .service = mg_slice_cstr(cred->service),
        .now = now,
    };
    char amz_date[17];
    struct mg_buf auth;
    mg_buf_init(&auth, 4096);
    enum mg_err err = mg_sigv4_sign(&s, &r, amz_date, &auth);
    if (!err)
        err = mg_target_req_header(req, "X-Amz-Date", mg_slice_make(amz_date, 16));
    if (!err)
        err = mg_target_req_header(req, "Authorization", mg_buf_slice(&auth));
    mg_buf_cleanup(&auth);
    return err;
}

enum mg_err mg_vault_cred_apply(const struct mg_vault_cred *cred, struct mg_target_req *req,
                                int64_t now)
{
    switch (cred->type) {
    case MG_CRED_NONE: return MG_E_OK;
    case MG_CRED_GATEWAY_IAM_ROLE: return s_sign(cred, req, now);
    case MG_CRED_API_KEY:
    case MG_CRED_OAUTH:
        if (cred->header_name && cred->header_value)
            return mg_target_req_header(req, cred->header_name, mg_slice_cstr(cred->header_value));
        if (cred->query_name && cred->query_value)
            return mg_target_req_query(req, mg_slice_cstr(cred->query_name),
                                       mg_slice_cstr(cred->query_value));
        return MG_E_INVALID;
    case MG_CRED_CALLER_IAM_CREDENTIALS:
    case MG_CRED_JWT_PASSTHROUGH: return MG_E_INVALID;
    }
    return MG_E_INVALID;
}

/* ---- mg_vault_target_cred, waited for ---------------------------------------------------- */

struct s_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    enum mg_err e;
    struct mg_vault_cred *cred;
    char msg[256];
};

static void s_wait_done(void *arg, enum mg_err e, struct mg_vault_cred *cred, const char *msg)
{
    struct s_wait *w = arg;
    pthread_mutex_lock(&w->mu);
    w->e = e;
    w->cred = cred;
    snprintf(w->msg, sizeof(w->msg), "%s", msg ? msg : "");
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

enum mg_err mg_vault_target_cred_wait(const struct mg_env *env, struct mg_snapshot *snap,
                                      const struct mg_vault_target *t, bool refresh,
                                      struct mg_vault_cred **out, char *msg, size_t cap)
{
    *out = NULL;
    struct s_wait w;
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    mg_vault_target_cred(env, snap, t, refresh, s_wait_done, &w);
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    if (w.e == MG_E_OK && w.cred == NULL)
        w.e = MG_E_INTERNAL;
    if (w.e != MG_E_OK) {
        snprintf(msg, cap, "%s", w.msg[0] ? w.msg : mg_err_str(w.e));
        return w.e;
    }
    *out = w.cred;
    return MG_E_OK;
}
