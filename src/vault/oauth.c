/* OAuth2 client-credentials tokens (RFC 6749 4.4) for outbound credentials and
 * GetResourceOauth2Token's M2M flow:
 *   1. the token endpoint is the provider's, or read from its discovery document (OpenID
 *      Connect Discovery / RFC 8414), which is kept per discovery URL for an hour;
 *   2. POST grant_type=client_credentials, scope (space-joined) and the custom parameters as
 *      application/x-www-form-urlencoded, the client authenticated with HTTP Basic
 *      (client_secret_basic, the default) or in the body (client_secret_post);
 *   3. access_token, expires_in (3600 when absent) and token_type are read from the answer, and
 *      the token is kept per (provider, client id, scopes, parameters) until a minute before it
 *      expires: at most MG_VAULT_TOKEN_CACHE tokens, the least recently used evicted first.
 * Everything runs without blocking: requests go through the outbound client (mg_http_fetch) and
 * the callbacks run on its thread. Concurrent misses for one key may each fetch; the last answer
 * stays. No message or log line names a secret or a token. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "http/client.h"
#include "vault/internal.h"

#define S_MAX_FORM (64u * 1024)
#define S_MAX_TOKEN (128u * 1024) /* bytes of an access token kept */
#define S_MAX_RESPONSE (1024u * 1024)
#define S_DISCOVERY_CACHE 64

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

/* ---- the token cache ------------------------------------------------------------------------ */

struct s_tok {
    char *key;
    uint64_t hash;
    char *token;
    int64_t expires_at;
    uint64_t used; /* LRU tick */
};

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s_tok s_toks[MG_VAULT_TOKEN_CACHE];
static uint64_t s_tick;

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static void s_wipe_free(char *s)
{
    if (s) {
        mg_memzero(s, strlen(s));
        mg_free(s);
    }
}

/* Cleans up a buffer that held a secret. */
static void s_buf_wipe(struct mg_buf *b)
{
    if (b->ptr)
        mg_memzero(b->ptr, b->len);
    mg_buf_cleanup(b);
}

static void s_tok_clear(struct s_tok *e)
{
    mg_free(e->key);
    s_wipe_free(e->token);
    memset(e, 0, sizeof(*e));
}

bool mg_vault_token_cache_get(const char *key, int64_t now, char **token, int64_t *expires_at)
{
    uint64_t h = s_hash(key);
    bool hit = false;
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MG_VAULT_TOKEN_CACHE; i++) {
        struct s_tok *e = &s_toks[i];
        if (e->key == NULL || e->hash != h || strcmp(e->key, key) != 0)
            continue;
        if (e->expires_at - MG_VAULT_TOKEN_MARGIN <= now) {
            s_tok_clear(e); /* too close to expiry: gone */
            break;
        }
        *token = mg_strdup(e->token);
        if (*token) {
            *expires_at = e->expires_at;
            e->used = ++s_tick;
            hit = true;
        }
        break;
    }
    pthread_mutex_unlock(&s_lock);
    return hit;
}

void mg_vault_token_cache_put(const char *key, const char *token, int64_t expires_at)
{
    char *k = mg_strdup(key), *t = mg_strdup(token);
    if (k == NULL || t == NULL) {
        mg_free(k);
        s_wipe_free(t);
        return;
    }
    uint64_t h = s_hash(key);
    pthread_mutex_lock(&s_lock);
    size_t victim = MG_VAULT_TOKEN_CACHE, lru = 0;
    for (size_t i = 0; i < MG_VAULT_TOKEN_CACHE; i++) {
        struct s_tok *e = &s_toks[i];
        if (e->key && e->hash == h && strcmp(e->key, key) == 0) {
            victim = i; /* the same key: replaced */
            break;
        }
        if (victim == MG_VAULT_TOKEN_CACHE && e->key == NULL)
            victim = i; /* a free slot, unless the key is found further on */
        if (e->key && e->used < s_toks[lru].used)
            lru = i;
    }
    if (victim == MG_VAULT_TOKEN_CACHE)
        victim = lru;
    struct s_tok *e = &s_toks[victim];
    s_tok_clear(e);
    e->key = k;
    e->hash = h;
    e->token = t;
    e->expires_at = expires_at;
    e->used = ++s_tick;
    pthread_mutex_unlock(&s_lock);
}

void mg_vault_token_cache_clear(void)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MG_VAULT_TOKEN_CACHE; i++)
        s_tok_clear(&s_toks[i]);
    pthread_mutex_unlock(&s_lock);
}

size_t mg_vault_token_cache_count(void)
{
    size_t n = 0;
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < MG_VAULT_TOKEN_CACHE; i++)
        n += s_toks[i].key != NULL;
    pthread_mutex_unlock(&s_lock);
    return n;
}

static int s_cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The custom parameters' names, sorted (at most max; false when there are more). */
static bool s_param_names(const json_t *params, const char **names, size_t max, size_t *n)
{
    *n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (*n == max)
            return false;
        names[(*n)++] = k;
    }
    qsort(names, *n, sizeof(names[0]), s_cmp_cstr);
    return true;
}

#define S_MAX_PARAMS 32
#define S_MAX_SCOPES 100

char *mg_vault_token_key(const char *provider_arn, const char *client_id, const char *endpoint,
                         const json_t *scopes, const json_t *custom_params)
{
    struct mg_buf b;
    mg_buf_init(&b, S_MAX_FORM);
    /* fields separated by bytes no value holds as such: \x1f between fields, \x1e inside */
    bool ok = mg_buf_append_cstr(&b, provider_arn ? provider_arn : "") == MG_E_OK &&
              mg_buf_append_byte(&b, 0x1f) == MG_E_OK &&
              mg_buf_append_cstr(&b, client_id ? client_id : "") == MG_E_OK &&
              mg_buf_append_byte(&b, 0x1f) == MG_E_OK &&
              mg_buf_append_cstr(&b, endpoint ? endpoint : "") == MG_E_OK &&
              mg_buf_append_byte(&b, 0x1f) == MG_E_OK;
    for (size_t i = 0; ok && i < json_array_size(scopes); i++) {
        const char *sc = json_string_value(json_array_get(scopes, i));
        ok = mg_buf_append_cstr(&b, sc ? sc : "") == MG_E_OK &&
             mg_buf_append_byte(&b, 0x1e) == MG_E_OK;
    }
    ok = ok && mg_buf_append_byte(&b, 0x1f) == MG_E_OK;
    const char *names[S_MAX_PARAMS];
    size_t n = 0;
    ok = ok && s_param_names(custom_params, names, S_MAX_PARAMS, &n);
    for (size_t i = 0; ok && i < n; i++) {
        const char *v = json_string_value(json_object_get(custom_params, names[i]));
        ok = mg_buf_append_cstr(&b, names[i]) == MG_E_OK &&
             mg_buf_append_byte(&b, '=') == MG_E_OK &&
             mg_buf_append_cstr(&b, v ? v : "") == MG_E_OK &&
             mg_buf_append_byte(&b, 0x1e) == MG_E_OK;
    }
    char *out = ok && mg_buf_cstr(&b) ? mg_slice_dup(mg_buf_slice(&b)) : NULL;
    s_buf_wipe(&b); /* custom parameters may be sensitive */
    return out;
}

/* ---- discovered token endpoints -------------------------------------------------------------- */

struct s_disc {
    char *url;
    char *token_endpoint;
    int64_t until;
};
static struct s_disc s_discs[S_DISCOVERY_CACHE];

static char *s_disc_get(const char *url, int64_t now)
{
    char *out = NULL;
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < S_DISCOVERY_CACHE && out == NULL; i++)
        if (s_discs[i].url && strcmp(s_discs[i].url, url) == 0 && s_discs[i].until > now)
            out = mg_strdup(s_discs[i].token_endpoint);
    pthread_mutex_unlock(&s_lock);
    return out;
}

static void s_disc_put(const char *url, const char *endpoint, int64_t now)
{
    char *u = mg_strdup(url), *t = mg_strdup(endpoint);
    if (u == NULL || t == NULL) {
        mg_free(u);
        mg_free(t);
        return;
    }
    pthread_mutex_lock(&s_lock);
    size_t victim = 0;
    for (size_t i = 0; i < S_DISCOVERY_CACHE; i++) {
        if (s_discs[i].url == NULL || strcmp(s_discs[i].url, url) == 0) {
            victim = i;
            break;
        }
        if (s_discs[i].until < s_discs[victim].until)
            victim = i;
    }
    mg_free(s_discs[victim].url);
    mg_free(s_discs[victim].token_endpoint);
    s_discs[victim] = (struct s_disc){u, t, now + MG_VAULT_DISCOVERY_TTL};
    pthread_mutex_unlock(&s_lock);
}

void mg_vault_discovery_cache_clear(void)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < S_DISCOVERY_CACHE; i++) {
        mg_free(s_discs[i].url);
        mg_free(s_discs[i].token_endpoint);
        s_discs[i] = (struct s_disc){0};
    }
    pthread_mutex_unlock(&s_lock);
}

/* An endpoint a credential may be sent to: https, or http to a loopback host. */
static bool s_endpoint_ok(const char *url)
{
    if (url == NULL)
        return false;
    if (strncmp(url, "https://", 8) == 0)
        return url[8] != 0 && url[8] != '/';
    if (strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    char host[256];
    if (n == 0 || n >= sizeof(host))
        return false;
    mg_memcpy(host, h, n);
    host[n] = 0;
    /* strip the port: "[::1]:8080", "127.0.0.1:8080", "localhost:8080" */
    char *colon = host[0] == '[' ? strchr(host, ']') : strrchr(host, ':');
    if (host[0] == '[' && colon) {
        colon[1] = 0; /* keep the brackets: mg_host_is_loopback takes them */
    } else if (colon) {
        *colon = 0;
    }
    char *at = strrchr(host, '@');
    return mg_host_is_loopback(at ? at + 1 : host);
}

/* ---- one fetch ------------------------------------------------------------------------------- */

struct s_fetch {
    const struct mg_env *env;
    mg_vault_token_cb cb;
    void *arg;
    char *key;
    char *provider_name;
    char *client_id, *client_secret;
    bool auth_post;
    char *discovery_url;
    char *token_endpoint;
    json_t *scopes, *params; /* copies */
};

static void s_fetch_free(struct s_fetch *f)
{
    if (f == NULL)
        return;
    mg_free(f->key);
    mg_free(f->provider_name);
    mg_free(f->client_id);
    s_wipe_free(f->client_secret);
    mg_free(f->discovery_url);
    mg_free(f->token_endpoint);
    json_decref(f->scopes);
    json_decref(f->params);
    mg_free(f);
}

static void s_fail(struct s_fetch *f, enum mg_err e, const char *fmt, ...) MG_PRINTF(3, 4);
static void s_fail(struct s_fetch *f, enum mg_err e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        msg[0] = 0;
    mg_vault_token_cb cb = f->cb;
    void *arg = f->arg;
    s_fetch_free(f);
    cb(arg, e, NULL, 0, msg);
}

/* form-urlencoding (RFC 6749 appendix B): RFC 3986 unreserved kept, space as %20 */
static bool s_form(struct mg_buf *b, const char *name, const char *value)
{
    return (b->len == 0 || mg_buf_append_byte(b, '&') == MG_E_OK) &&
           mg_url_encode(b, mg_slice_cstr(name), false) == MG_E_OK &&
           mg_buf_append_byte(b, '=') == MG_E_OK &&
           mg_url_encode(b, mg_slice_cstr(value), false) == MG_E_OK;
}

/* An OAuth error code as the endpoint sent it, if it looks like one (RFC 6749 5.2: printable
 * ASCII without '"' and '\\'), never when it holds the client secret. */
static void s_error_code(const json_t *body, const char *secret, char *out, size_t cap)
{
    out[0] = 0;
    const char *e = json_string_value(json_object_get(body, "error"));
    if (e == NULL || e[0] == 0 || strlen(e) >= cap || strlen(e) > 64)
        return;
    for (const char *p = e; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return;
    if (secret && secret[0] && strstr(e, secret) != NULL)
        return;
    s_msg(out, cap, "%s", e);
}

static void s_token_done(void *arg, struct mg_http_out_resp *resp)
{
    struct s_fetch *f = arg;
    if (resp->err != MG_E_OK) {
        char why[256];
        s_msg(why, sizeof(why), "%s", resp->msg);
        mg_http_out_resp_cleanup(resp);
        s_fail(f, MG_E_UPSTREAM,
               "The token endpoint of credential provider %s could not be "
               "reached: %s",
               f->provider_name, why[0] ? why : "request failed");
        return;
    }
    long status = resp->status;
    json_t *body = json_loadb((const char *)resp->body.ptr, resp->body.len, 0, NULL);
    if (resp->body.ptr)
        mg_memzero(resp->body.ptr, resp->body.len); /* it holds the token */
    mg_http_out_resp_cleanup(resp);
    if (status != 200) {
        char code[72];
        s_error_code(body, f->client_secret, code, sizeof(code));
        json_decref(body);
        if (status == 400 || status == 401)
            s_fail(f, MG_E_DENIED,
                   "The token endpoint of credential provider %s refused the client "
                   "credentials request (HTTP %ld%s%s).",
                   f->provider_name, status, code[0] ? ": " : "", code);
        else
            s_fail(f, MG_E_UPSTREAM,
                   "The token endpoint of credential provider %s answered HTTP %ld%s%s.",
                   f->provider_name, status, code[0] ? ": " : "", code);
        return;
    }
    const char *token = json_string_value(json_object_get(body, "access_token"));
    const char *type = json_string_value(json_object_get(body, "token_type"));
    const json_t *exp = json_object_get(body, "expires_in");
    int64_t ttl = MG_VAULT_TOKEN_DEFAULT_TTL;
    if (json_is_integer(exp))
        ttl = json_integer_value(exp);
    else if (json_is_real(exp))
        ttl = (int64_t)json_real_value(exp);
    else if (json_is_string(exp)) { /* some servers send a string */
        uint64_t v;
        if (mg_slice_to_u64(mg_slice_cstr(json_string_value(exp)), &v) && v < (1ull << 40))
            ttl = (int64_t)v;
    }
    if (ttl < 0 || ttl > (int64_t)10 * 365 * 86400)
        ttl = MG_VAULT_TOKEN_DEFAULT_TTL;
    if (token == NULL || token[0] == 0 || strlen(token) > S_MAX_TOKEN) {
        json_decref(body);
        s_fail(f, MG_E_UPSTREAM,
               "The token endpoint of credential provider %s answered without a usable "
               "access_token.",
               f->provider_name);
        return;
    }
    for (const char *p = token; *p; p++)
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            json_decref(body);
            s_fail(f, MG_E_UPSTREAM,
                   "The token endpoint of credential provider %s answered with an access_token "
                   "that cannot be sent in a header.",
                   f->provider_name);
            return;
        }
    if (type && strcasecmp(type, "bearer") != 0)
        MG_LOG(MG_LOG_INFO, MG_SUB_TARGET,
               "credential provider %s: token_type %.32s used as a bearer token", f->provider_name,
               type);
    int64_t expires_at = mg_now() + ttl;
    mg_vault_token_cache_put(f->key, token, expires_at);
    mg_vault_token_cb cb = f->cb;
    void *cb_arg = f->arg;
    char *tok = mg_strdup(token);
    json_decref(body); /* jansson's copy of the token is freed without wiping */
    s_fetch_free(f);
    if (tok == NULL) {
        cb(cb_arg, MG_E_NOMEM, NULL, 0, "out of memory");
        return;
    }
    cb(cb_arg, MG_E_OK, tok, expires_at, NULL);
    s_wipe_free(tok);
}

static void s_post(struct s_fetch *f)
{
    struct mg_buf form, basic, cred;
    mg_buf_init(&form, S_MAX_FORM);
    mg_buf_init(&basic, 8192);
    mg_buf_init(&cred, 8192);
    bool ok = s_form(&form, "grant_type", "client_credentials");
    if (ok && json_array_size(f->scopes) > 0) {
        struct mg_buf sc;
        mg_buf_init(&sc, S_MAX_FORM);
        for (size_t i = 0; ok && i < json_array_size(f->scopes); i++) {
            const char *s = json_string_value(json_array_get(f->scopes, i));
            ok = s && (i == 0 || mg_buf_append_byte(&sc, ' ') == MG_E_OK) &&
                 mg_buf_append_cstr(&sc, s) == MG_E_OK;
        }
        ok = ok && mg_buf_cstr(&sc) && s_form(&form, "scope", mg_buf_cstr(&sc));
        mg_buf_cleanup(&sc);
    }
    const char *names[S_MAX_PARAMS];
    size_t n = 0;
    ok = ok && s_param_names(f->params, names, S_MAX_PARAMS, &n);
    for (size_t i = 0; ok && i < n; i++) {
        /* the standard parameters are not overridden */
        if (strcmp(names[i], "grant_type") == 0 || strcmp(names[i], "client_id") == 0 ||
            strcmp(names[i], "client_secret") == 0 || strcmp(names[i], "scope") == 0)
            continue;
        const char *v = json_string_value(json_object_get(f->params, names[i]));
        ok = s_form(&form, names[i], v ? v : "");
    }
    const char *headers[4];
    size_t nh = 0;
    headers[nh++] = "Content-Type: application/x-www-form-urlencoded";
    headers[nh++] = "Accept: application/json";
    if (ok && f->auth_post) {
        ok = s_form(&form, "client_id", f->client_id) &&
             s_form(&form, "client_secret", f->client_secret ? f->client_secret : "");
    } else if (ok) {
        /* RFC 6749 2.3.1: id and secret form-encoded, then Basic */
        ok = mg_url_encode(&cred, mg_slice_cstr(f->client_id), false) == MG_E_OK &&
             mg_buf_append_byte(&cred, ':') == MG_E_OK &&
             mg_url_encode(&cred, mg_slice_cstr(f->client_secret ? f->client_secret : ""), false) ==
                 MG_E_OK &&
             mg_buf_append_cstr(&basic, "Authorization: Basic ") == MG_E_OK &&
             mg_base64_encode(&basic, mg_buf_slice(&cred)) == MG_E_OK &&
             mg_buf_cstr(&basic) != NULL;
        if (ok)
            headers[nh++] = mg_buf_cstr(&basic);
    }
    ok = ok && mg_buf_cstr(&form) != NULL;
    enum mg_err err = MG_E_NOMEM;
    if (ok) {
        struct mg_http_out_req r = {
            .method = "POST",
            .url = f->token_endpoint,
            .headers = headers,
            .n_headers = nh,
            .body = mg_buf_slice(&form),
            .max_response = S_MAX_RESPONSE,
        };
        err = mg_http_fetch(f->env->http, &r, s_token_done, f);
    }
    s_buf_wipe(&form);
    s_buf_wipe(&basic);
    s_buf_wipe(&cred);
    if (err == MG_E_OK)
        return; /* s_token_done answers */
    if (!ok)
        s_fail(f, MG_E_NOMEM, "The token request could not be built (out of memory or too large).");
    else
        s_fail(f, err == MG_E_NOMEM ? MG_E_NOMEM : MG_E_UPSTREAM,
               "The token endpoint of credential provider %s could not be called.",
               f->provider_name);
}

static void s_discovered(void *arg, struct mg_http_out_resp *resp)
{
    struct s_fetch *f = arg;
    if (resp->err != MG_E_OK) {
        char why[256];
        s_msg(why, sizeof(why), "%s", resp->msg);
        mg_http_out_resp_cleanup(resp);
        s_fail(f, MG_E_UPSTREAM,
               "The discovery URL of credential provider %s could not be read: %s",
               f->provider_name, why[0] ? why : "request failed");
        return;
    }
    long status = resp->status;
    json_t *doc = status == 200 ? json_loadb((const char *)resp->body.ptr, resp->body.len, 0, NULL)
                                : NULL;
    mg_http_out_resp_cleanup(resp);
    const char *te = json_string_value(json_object_get(doc, "token_endpoint"));
    if (status != 200 || !json_is_object(doc) || !s_endpoint_ok(te)) {
        json_decref(doc);
        if (status != 200)
            s_fail(f, MG_E_UPSTREAM,
                   "The discovery URL of credential provider %s answered HTTP %ld.",
                   f->provider_name, status);
        else
            s_fail(f, MG_E_INVALID,
                   "The discovery document of credential provider %s has no usable "
                   "token_endpoint (a JSON object naming an https URL, or http on loopback).",
                   f->provider_name);
        return;
    }
    f->token_endpoint = mg_strdup(te);
    json_decref(doc);
    if (f->token_endpoint == NULL) {
        s_fail(f, MG_E_NOMEM, "out of memory");
        return;
    }
    s_disc_put(f->discovery_url, f->token_endpoint, mg_now());
    s_post(f);
}

static char *s_dup_or_null(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    char *d = mg_strdup(s);
    if (d == NULL)
        *ok = false;
    return d;
}

void mg_vault_oauth_token(const struct mg_env *env, const struct mg_vault_provider *p,
                          const json_t *scopes, const json_t *custom_params, bool refresh,
                          mg_vault_token_cb cb, void *arg)
{
    if (json_array_size(scopes) > S_MAX_SCOPES || json_object_size(custom_params) > S_MAX_PARAMS) {
        cb(arg, MG_E_INVALID, NULL, 0, "Too many scopes or custom parameters.");
        return;
    }
    for (size_t i = 0; i < json_array_size(scopes); i++)
        if (!json_is_string(json_array_get(scopes, i))) {
            cb(arg, MG_E_INVALID, NULL, 0, "Scopes must be strings.");
            return;
        }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)custom_params, k, v)
    {
        if (!json_is_string(v)) {
            cb(arg, MG_E_INVALID, NULL, 0, "Custom parameters must be strings.");
            return;
        }
    }
    const char *name = p->name ? p->name : "(unnamed)";
    if (p->client_id == NULL || p->client_id[0] == 0) {
        char msg[300];
        s_msg(msg, sizeof(msg), "Credential provider %.200s has no client id.", name);
        cb(arg, MG_E_INVALID, NULL, 0, msg);
        return;
    }
    char *key = mg_vault_token_key(p->arn ? p->arn : name, p->client_id,
                                   p->token_endpoint ? p->token_endpoint : p->discovery_url, scopes,
                                   custom_params);
    if (key == NULL) {
        cb(arg, MG_E_NOMEM, NULL, 0, "out of memory");
        return;
    }
    int64_t now = mg_now();
    char *tok = NULL;
    int64_t exp = 0;
    if (!refresh && mg_vault_token_cache_get(key, now, &tok, &exp)) {
        mg_free(key);
        cb(arg, MG_E_OK, tok, exp, NULL);
        s_wipe_free(tok);
        return;
    }
    struct s_fetch *f = mg_calloc(1, sizeof(*f));
    bool ok = f != NULL;
    if (ok) {
        f->env = env;
        f->cb = cb;
        f->arg = arg;
        f->key = key;
        key = NULL;
        f->auth_post = p->auth_post;
        f->provider_name = s_dup_or_null(name, &ok);
        f->client_id = s_dup_or_null(p->client_id, &ok);
        f->client_secret = s_dup_or_null(p->client_secret, &ok);
        f->discovery_url = s_dup_or_null(p->discovery_url, &ok);
        f->token_endpoint = s_dup_or_null(p->token_endpoint, &ok);
        f->scopes = scopes ? json_deep_copy(scopes) : NULL;
        f->params = custom_params ? json_deep_copy(custom_params) : NULL;
        ok = ok && (scopes == NULL || f->scopes) && (custom_params == NULL || f->params);
    }
    mg_free(key);
    if (!ok) {
        s_fetch_free(f);
        cb(arg, MG_E_NOMEM, NULL, 0, "out of memory");
        return;
    }
    if (f->token_endpoint) {
        if (!s_endpoint_ok(f->token_endpoint)) {
            s_fail(f, MG_E_INVALID,
                   "The token endpoint of credential provider %s must be an https URL (or http "
                   "on loopback).",
                   f->provider_name);
            return;
        }
        s_post(f);
        return;
    }
    if (f->discovery_url == NULL) {
        s_fail(f, MG_E_INVALID,
               "Credential provider %s has neither a token endpoint nor a discovery URL.",
               f->provider_name);
        return;
    }
    if (!s_endpoint_ok(f->discovery_url)) {
        s_fail(f, MG_E_INVALID,
               "The discovery URL of credential provider %s must be an https URL (or http on "
               "loopback).",
               f->provider_name);
        return;
    }
    f->token_endpoint = s_disc_get(f->discovery_url, now);
    if (f->token_endpoint) {
        s_post(f);
        return;
    }
    const char *headers[] = {"Accept: application/json"};
    struct mg_http_out_req r = {
        .method = "GET",
        .url = f->discovery_url,
        .headers = headers,
        .n_headers = 1,
        .max_response = S_MAX_RESPONSE,
    };
    enum mg_err err = mg_http_fetch(env->http, &r, s_discovered, f);
    if (err != MG_E_OK)
        s_fail(f, err == MG_E_NOMEM ? MG_E_NOMEM : MG_E_UPSTREAM,
               "The discovery URL of credential provider %s could not be read.", f->provider_name);
}
