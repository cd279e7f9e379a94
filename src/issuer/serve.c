/* The issuer's endpoints: discovery documents, JWKS and the token endpoint (client credentials).
 * Keys rotated by `mcpgate issuer rotate-keys` (on any node) are picked up without a restart: a
 * thread of the issuer reads the store's keys every MG_ISSUER_RELOAD_MS (one small read; parsed
 * only when they changed), so requests never wait on the store. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "http/http.h"
#include "issuer/issuer_internal.h"

struct mg_issuer {
    struct mg_issuer_config *cfg;
    const char *public_url; /* the server's, read at each request */
    struct mg_store *store;
    pthread_mutex_t lock; /* keys, stopping */
    pthread_cond_t wake;  /* stopping */
    struct mg_issuer_keys *keys;
    bool stopping;
    bool has_thread;
    pthread_t reloader;
    bool warned; /* the last reload failed (logged once until one succeeds) */
};

/* One reload: the stored keys replace the served ones when they changed. */
static void s_reload(struct mg_issuer *is)
{
    pthread_mutex_lock(&is->lock);
    struct mg_issuer_keys *cur = mg_issuer_keys_ref(is->keys);
    pthread_mutex_unlock(&is->lock);
    struct mg_issuer_keys *k = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_issuer_keys_reload(is->store, cur, &k, &ei);
    mg_issuer_keys_unref(cur);
    if (e) {
        if (!is->warned)
            MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "issuer: keeping the loaded keys: %s", ei.msg);
        is->warned = true;
        return;
    }
    is->warned = false;
    if (k == NULL)
        return; /* unchanged */
    pthread_mutex_lock(&is->lock);
    struct mg_issuer_keys *old = is->keys;
    is->keys = k;
    pthread_mutex_unlock(&is->lock);
    mg_issuer_keys_unref(old);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "issuer: keys reloaded, signing key %s (%zu keys)",
           mg_issuer_keys_kid(k, 0), mg_issuer_keys_count(k));
}

static void *s_reloader(void *arg)
{
    struct mg_issuer *is = arg;
    pthread_mutex_lock(&is->lock);
    while (!is->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)(MG_ISSUER_RELOAD_MS % 1000) * 1000000L;
        until.tv_sec += MG_ISSUER_RELOAD_MS / 1000 + until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        int rc = 0;
        while (!is->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&is->wake, &is->lock, &until);
        if (is->stopping)
            break;
        pthread_mutex_unlock(&is->lock);
        s_reload(is);
        pthread_mutex_lock(&is->lock);
    }
    pthread_mutex_unlock(&is->lock);
    return NULL;
}

enum mg_err mg_issuer_new(const char *config_path, struct mg_store *store, const char *data_dir,
                          const char *public_url, struct mg_issuer **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_issuer *is = mg_calloc(1, sizeof(*is));
    if (is == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    is->public_url = public_url;
    is->store = store;
    pthread_mutex_init(&is->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&is->wake, &ca);
    pthread_condattr_destroy(&ca);
    enum mg_err e = mg_issuer_config_load(config_path, &is->cfg, ei);
    if (!e)
        e = mg_issuer_keys_open(store, data_dir, true, &is->keys, ei);
    if (!e) {
        if (pthread_create(&is->reloader, NULL, s_reloader, is) == 0)
            is->has_thread = true;
        else
            e = mg_errinfo_set(ei, MG_E_INTERNAL, "cannot start the issuer's key reloader");
    }
    if (!e)
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN,
               "issuer: built-in OAuth issuer on (%zu clients, signing key %s, %zu keys); a "
               "development tool",
               is->cfg->n_clients, mg_issuer_keys_kid(is->keys, 0), mg_issuer_keys_count(is->keys));
    if (e) {
        mg_issuer_free(is);
        return e;
    }
    *out = is;
    return MG_E_OK;
}

void mg_issuer_free(struct mg_issuer *is)
{
    if (is == NULL)
        return;
    if (is->has_thread) {
        pthread_mutex_lock(&is->lock);
        is->stopping = true;
        pthread_cond_broadcast(&is->wake);
        pthread_mutex_unlock(&is->lock);
        pthread_join(is->reloader, NULL);
    }
    mg_issuer_config_free(is->cfg);
    mg_issuer_keys_unref(is->keys);
    pthread_cond_destroy(&is->wake);
    pthread_mutex_destroy(&is->lock);
    mg_free(is);
}

struct mg_issuer_keys *mg_issuer_current_keys(struct mg_issuer *is)
{
    pthread_mutex_lock(&is->lock);
    struct mg_issuer_keys *k = mg_issuer_keys_ref(is->keys);
    pthread_mutex_unlock(&is->lock);
    return k;
}

/* ---- documents ---- */

static bool s_set_url(json_t *o, const char *name, const char *issuer, const char *suffix)
{
    char url[2048];
    return mg_fmt(url, sizeof(url), "%s%s", issuer, suffix) &&
           mg_json_set(o, name, json_string(url));
}

static json_t *s_strings(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (!mg_json_append(a, json_string(v[i]))) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* The metadata document (RFC 8414 and OpenID Connect Discovery share it). */
static json_t *s_metadata(const struct mg_issuer *is, const char *issuer)
{
    static const char *const grants[] = {"client_credentials"};
    static const char *const auth[] = {"client_secret_basic", "client_secret_post"};
    static const char *const public_subject[] = {"public"};
    static const char *const es256[] = {"ES256"};
    json_t *o = json_object();
    json_t *scopes = json_array();
    bool ok = o && scopes;
    /* every client's scopes, each once */
    for (size_t i = 0; ok && i < is->cfg->n_clients; i++) {
        const struct mg_issuer_client *cl = &is->cfg->clients[i];
        for (size_t j = 0; ok && j < cl->n_scopes; j++) {
            bool seen = false;
            for (size_t k = 0; !seen && k < json_array_size(scopes); k++)
                seen = strcmp(json_string_value(json_array_get(scopes, k)), cl->scopes[j]) == 0;
            if (!seen)
                ok = mg_json_append(scopes, json_string(cl->scopes[j]));
        }
    }
    ok = ok && mg_json_set(o, "issuer", json_string(issuer));
    /* required by RFC 8414 (and by the MCP SDK's schema); it answers unsupported_response_type */
    ok = ok && s_set_url(o, "authorization_endpoint", issuer, "/authorize");
    ok = ok && s_set_url(o, "token_endpoint", issuer, "/token");
    ok = ok && s_set_url(o, "jwks_uri", issuer, "/jwks.json");
    ok = ok && mg_json_set_ref(o, "scopes_supported", scopes);
    ok = ok && mg_json_set(o, "response_types_supported", json_array());
    ok = ok && mg_json_set(o, "grant_types_supported", s_strings(grants, 1));
    ok = ok && mg_json_set(o, "token_endpoint_auth_methods_supported", s_strings(auth, 2));
    ok = ok && mg_json_set(o, "subject_types_supported", s_strings(public_subject, 1));
    ok = ok && mg_json_set(o, "id_token_signing_alg_values_supported", s_strings(es256, 1));
    json_decref(scopes);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static void s_send_json(struct mg_http_exchange *x, int status, json_t *doc, const char *cache)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct mg_buf *b = mg_http_body(x);
    if (text == NULL || mg_buf_append_cstr(b, text) != MG_E_OK) {
        mg_buf_reset(b);
        status = 500;
        if (mg_buf_append_cstr(b, "{\"error\":\"server_error\"}") != MG_E_OK)
            mg_buf_reset(b);
    }
    mg_free(text);
    mg_http_set_status(x, status);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    mg_http_add_header(x, "cache-control", mg_slice_cstr(cache));
    mg_http_send(x);
}

static json_t *s_error_doc(const char *error, const char *description)
{
    return json_pack("{s:s, s:s}", "error", error, "error_description", description);
}

static void s_send_error(struct mg_http_exchange *x, int status, const char *error,
                         const char *description)
{
    json_t *doc = s_error_doc(error, description);
    s_send_json(x, status, doc, "no-store");
    json_decref(doc);
}

/* ---- the token endpoint ---- */

enum s_param { P_GRANT_TYPE, P_SCOPE, P_CLIENT_ID, P_CLIENT_SECRET, P_RESOURCE, P_AUDIENCE, P_N };
static const char *const s_param_names[P_N] = {"grant_type",    "scope",    "client_id",
                                               "client_secret", "resource", "audience"};

struct s_form {
    struct mg_buf v[P_N];
    bool has[P_N];
};

static void s_form_cleanup(struct s_form *f)
{
    for (size_t i = 0; i < P_N; i++) {
        if (f->v[i].ptr)
            mg_memzero(f->v[i].ptr, f->v[i].len);
        mg_buf_cleanup(&f->v[i]);
    }
}

/* application/x-www-form-urlencoded; parameters this endpoint does not know are ignored
 * (RFC 6749 3.2); one that it knows, given twice, is an error. */
static const char *s_form_parse(struct mg_slice body, struct s_form *f)
{
    for (size_t i = 0; i < P_N; i++)
        mg_buf_init(&f->v[i], 4096);
    struct mg_slice rest = body, pair;
    size_t n = 0;
    while (rest.len > 0 && mg_slice_split(&rest, '&', &pair)) {
        if (++n > 64)
            return "too many parameters";
        if (pair.len == 0)
            continue;
        struct mg_slice name;
        struct mg_slice value = pair;
        mg_slice_split(&value, '=', &name);
        for (size_t i = 0; i < P_N; i++) {
            if (!mg_slice_eq_cstr(name, s_param_names[i]))
                continue;
            if (f->has[i])
                return "a parameter is given more than once";
            f->has[i] = true;
            if (mg_url_decode(&f->v[i], value, true) != MG_E_OK || !mg_buf_cstr(&f->v[i]) ||
                strlen(mg_buf_cstr(&f->v[i])) != f->v[i].len)
                return "a parameter could not be decoded";
        }
    }
    return NULL;
}

static const char *s_param(struct s_form *f, enum s_param p)
{
    return f->has[p] ? mg_buf_cstr(&f->v[p]) : NULL;
}

static void s_reply_error(struct mg_issuer_reply *r, int status, const char *error,
                          const char *description)
{
    r->status = status;
    r->www_basic = status == 401;
    mg_buf_reset(&r->body);
    json_t *doc = s_error_doc(error, description);
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text == NULL || mg_buf_append_cstr(&r->body, text) != MG_E_OK) {
        mg_buf_reset(&r->body);
        r->status = 500;
        r->www_basic = false;
    }
    mg_free(text);
    json_decref(doc);
}

/* Client credentials of an "Authorization: Basic" header (RFC 6749 2.3.1: each part
 * form-urlencoded). False when the header is not Basic or is malformed. */
static bool s_basic(struct mg_slice h, struct mg_buf *id, struct mg_buf *secret, bool *is_basic)
{
    *is_basic = false;
    h = mg_slice_trim(h);
    if (h.len < 6 || !mg_slice_ieq_cstr(mg_slice_sub(h, 0, 6), "basic "))
        return false;
    *is_basic = true;
    struct mg_buf raw;
    mg_buf_init(&raw, 2048);
    bool ok = mg_base64_decode(&raw, mg_slice_trim(mg_slice_sub(h, 6, h.len))) == MG_E_OK;
    struct mg_slice rest = mg_buf_slice(&raw), user;
    ok = ok && mg_slice_find(rest, ':') >= 0;
    if (ok) {
        mg_slice_split(&rest, ':', &user);
        ok = mg_url_decode(id, user, true) == MG_E_OK && mg_url_decode(secret, rest, true) == 0;
        ok = ok && mg_buf_cstr(id) && mg_buf_cstr(secret);
    }
    if (raw.ptr)
        mg_memzero(raw.ptr, raw.len);
    mg_buf_cleanup(&raw);
    return ok;
}

static void s_token(struct mg_issuer *is, struct mg_slice authorization,
                    struct mg_slice content_type, struct mg_slice body, struct mg_issuer_reply *r,
                    struct s_form *f, struct mg_buf *bid, struct mg_buf *bsecret)
{
    struct mg_slice ct = content_type, mime;
    mg_slice_split(&ct, ';', &mime);
    if (!mg_slice_ieq_cstr(mg_slice_trim(mime), "application/x-www-form-urlencoded")) {
        s_reply_error(r, 400, "invalid_request",
                      "the request body must be application/x-www-form-urlencoded");
        return;
    }
    if (body.len > MG_ISSUER_MAX_BODY) {
        s_reply_error(r, 400, "invalid_request", "the request body is too large");
        return;
    }
    const char *bad = s_form_parse(body, f);
    if (bad) {
        s_reply_error(r, 400, "invalid_request", bad);
        return;
    }
    const char *grant = s_param(f, P_GRANT_TYPE);
    if (grant == NULL) {
        s_reply_error(r, 400, "invalid_request", "grant_type is required");
        return;
    }
    if (strcmp(grant, "client_credentials") != 0) {
        s_reply_error(r, 400, "unsupported_grant_type",
                      "only the client_credentials grant is supported");
        return;
    }

    /* client authentication: Basic or the body, not both */
    bool is_basic = false;
    bool basic_ok = authorization.len > 0 && s_basic(authorization, bid, bsecret, &is_basic);
    if (authorization.len > 0 && !is_basic) {
        s_reply_error(r, 401, "invalid_client",
                      "client authentication failed: use HTTP Basic or client_secret_post");
        return;
    }
    if (is_basic && !basic_ok) {
        s_reply_error(r, 401, "invalid_client", "malformed Basic credentials");
        return;
    }
    if (is_basic && f->has[P_CLIENT_SECRET]) {
        s_reply_error(r, 400, "invalid_request", "more than one client authentication method");
        return;
    }
    const char *id = is_basic ? mg_buf_cstr(bid) : s_param(f, P_CLIENT_ID);
    const char *secret = is_basic ? mg_buf_cstr(bsecret) : s_param(f, P_CLIENT_SECRET);
    if (is_basic && f->has[P_CLIENT_ID] && strcmp(s_param(f, P_CLIENT_ID), id) != 0) {
        s_reply_error(r, 400, "invalid_request", "client_id differs from the Basic credentials");
        return;
    }
    if (id == NULL || secret == NULL) {
        s_reply_error(r, 401, "invalid_client", "client authentication is required");
        return;
    }
    const struct mg_issuer_client *cl = mg_issuer_config_client(is->cfg, mg_slice_cstr(id));
    /* an unknown client costs the same digest and comparison as a known one */
    static const struct mg_issuer_client nobody;
    bool secret_ok = mg_issuer_client_secret_ok(cl ? cl : &nobody, mg_slice_cstr(secret));
    if (cl == NULL || !secret_ok) {
        s_reply_error(r, 401, "invalid_client", "client authentication failed");
        return;
    }

    struct mg_issuer_resolved res;
    const char *oauth_error = NULL;
    struct mg_errinfo ei = {0};
    if (mg_issuer_resolve(cl, s_param(f, P_SCOPE), s_param(f, P_AUDIENCE), s_param(f, P_RESOURCE),
                          &res, &oauth_error, &ei) != MG_E_OK) {
        s_reply_error(r, 400, oauth_error ? oauth_error : "invalid_request", ei.msg);
        return;
    }
    char issuer[1024];
    if (!mg_issuer_url(is->public_url, issuer, sizeof(issuer))) {
        s_reply_error(r, 500, "server_error", "the issuer URL is too long");
        return;
    }
    struct mg_issuer_grant g = {.issuer = issuer,
                                .client_id = cl->id,
                                .scopes = res.scopes,
                                .n_scopes = res.n_scopes,
                                .audiences = res.audiences,
                                .n_audiences = res.n_audiences,
                                .now = mg_now(),
                                .ttl = is->cfg->token_lifetime};
    struct mg_issuer_keys *keys = mg_issuer_current_keys(is);
    struct mg_buf tok;
    mg_buf_init(&tok, 64 * 1024);
    enum mg_err e = mg_issuer_sign(keys, &g, &tok, &ei);
    const char *kid = mg_issuer_keys_kid(keys, 0);
    json_t *doc = NULL;
    if (!e && mg_buf_cstr(&tok)) {
        doc = json_pack("{s:s, s:s, s:I}", "access_token", mg_buf_cstr(&tok), "token_type",
                        "Bearer", "expires_in", (json_int_t)g.ttl);
        if (doc && res.n_scopes > 0) {
            struct mg_buf s;
            mg_buf_init(&s, 64 * 1024);
            bool ok = true;
            for (size_t i = 0; ok && i < res.n_scopes; i++)
                ok = (i == 0 || mg_buf_append_byte(&s, ' ') == MG_E_OK) &&
                     mg_buf_append_cstr(&s, res.scopes[i]) == MG_E_OK;
            ok = ok && mg_buf_cstr(&s) && mg_json_set(doc, "scope", json_string(mg_buf_cstr(&s)));
            mg_buf_cleanup(&s);
            if (!ok) {
                json_decref(doc);
                doc = NULL;
            }
        }
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (text && mg_buf_append_cstr(&r->body, text) == MG_E_OK) {
        r->status = 200;
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "issuer: token for client %s (kid %s, %zu scopes)", cl->id,
               kid ? kid : "-", res.n_scopes);
    } else {
        s_reply_error(r, 500, "server_error", "the token could not be made");
    }
    if (text) {
        mg_memzero(text, strlen(text));
        mg_free(text);
    }
    json_decref(doc);
    if (tok.ptr)
        mg_memzero(tok.ptr, tok.len);
    mg_buf_cleanup(&tok);
    mg_issuer_keys_unref(keys);
}

void mg_issuer_token_request(struct mg_issuer *is, struct mg_slice authorization,
                             struct mg_slice content_type, struct mg_slice body,
                             struct mg_issuer_reply *reply)
{
    struct s_form f;
    mg_memzero(&f, sizeof(f));
    struct mg_buf id, secret;
    mg_buf_init(&id, 1024);
    mg_buf_init(&secret, 1024);
    reply->status = 500;
    reply->www_basic = false;
    s_token(is, authorization, content_type, body, reply, &f, &id, &secret);
    s_form_cleanup(&f);
    if (secret.ptr)
        mg_memzero(secret.ptr, secret.len);
    mg_buf_cleanup(&id);
    mg_buf_cleanup(&secret);
}

/* ---- routing ---- */

enum s_route { R_NONE = 0, R_METADATA, R_JWKS, R_TOKEN, R_AUTHORIZE, R_OTHER };

static enum s_route s_route_of(struct mg_slice path)
{
    if (mg_slice_eq_cstr(path, MG_ISSUER_PATH "/.well-known/openid-configuration") ||
        mg_slice_eq_cstr(path, "/.well-known/oauth-authorization-server" MG_ISSUER_PATH) ||
        mg_slice_eq_cstr(path, "/.well-known/openid-configuration" MG_ISSUER_PATH) ||
        mg_slice_eq_cstr(path, MG_ISSUER_PATH "/.well-known/oauth-authorization-server"))
        return R_METADATA;
    if (mg_slice_eq_cstr(path, MG_ISSUER_PATH "/jwks.json"))
        return R_JWKS;
    if (mg_slice_eq_cstr(path, MG_ISSUER_PATH "/token"))
        return R_TOKEN;
    if (mg_slice_eq_cstr(path, MG_ISSUER_PATH "/authorize"))
        return R_AUTHORIZE;
    if (mg_slice_eq_cstr(path, MG_ISSUER_PATH) || mg_slice_starts_with(path, MG_ISSUER_PATH "/"))
        return R_OTHER;
    return R_NONE;
}

static bool s_method_is(struct mg_http_exchange *x, const char *m, const char *allow)
{
    const struct mg_http_req *r = mg_http_request(x);
    if (mg_slice_eq_cstr(r->method, m) ||
        (strcmp(m, "GET") == 0 && mg_slice_eq_cstr(r->method, "HEAD")))
        return true;
    mg_http_add_header(x, "allow", mg_slice_cstr(allow));
    s_send_error(x, 405, "invalid_request", "method not allowed");
    return false;
}

bool mg_issuer_handle(struct mg_issuer *is, struct mg_http_exchange *x)
{
    if (is == NULL)
        return false;
    const struct mg_http_req *r = mg_http_request(x);
    enum s_route route = s_route_of(r->path);
    if (route == R_NONE)
        return false;
    char issuer[1024];
    if (!mg_issuer_url(is->public_url, issuer, sizeof(issuer))) {
        s_send_error(x, 500, "server_error", "the issuer URL is too long");
        return true;
    }
    switch (route) {
    case R_METADATA:
        if (s_method_is(x, "GET", "GET, HEAD")) {
            json_t *doc = s_metadata(is, issuer);
            s_send_json(x, 200, doc, "max-age=60");
            json_decref(doc);
        }
        break;
    case R_JWKS:
        if (s_method_is(x, "GET", "GET, HEAD")) {
            struct mg_issuer_keys *k = mg_issuer_current_keys(is);
            struct mg_buf *b = mg_http_body(x);
            if (mg_buf_append_slice(b, mg_issuer_keys_jwks(k)) != MG_E_OK) {
                mg_buf_reset(b);
                mg_issuer_keys_unref(k);
                s_send_error(x, 500, "server_error", "out of memory");
                break;
            }
            mg_issuer_keys_unref(k);
            mg_http_set_status(x, 200);
            mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
            /* short: a rotated key shows up within a minute even for caches that trust this */
            mg_http_add_header(x, "cache-control", MG_SLICE_LIT("max-age=60"));
            mg_http_send(x);
        }
        break;
    case R_TOKEN:
        if (s_method_is(x, "POST", "POST")) {
            const struct mg_slice *auth = mg_http_header(r, "authorization");
            const struct mg_slice *ct = mg_http_header(r, "content-type");
            struct mg_issuer_reply reply;
            mg_buf_init(&reply.body, 128 * 1024);
            if (mg_http_header_count(r, "authorization") > 1)
                s_reply_error(&reply, 400, "invalid_request", "more than one Authorization header");
            else
                mg_issuer_token_request(is, auth ? *auth : mg_slice_make("", 0),
                                        ct ? *ct : mg_slice_make("", 0), r->body, &reply);
            struct mg_buf *b = mg_http_body(x);
            if (mg_buf_append_slice(b, mg_buf_slice(&reply.body)) != MG_E_OK) {
                mg_buf_reset(b);
                reply.status = 500;
            }
            if (reply.body.ptr)
                mg_memzero(reply.body.ptr, reply.body.len);
            mg_buf_cleanup(&reply.body);
            mg_http_set_status(x, reply.status);
            mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
            mg_http_add_header(x, "cache-control", MG_SLICE_LIT("no-store"));
            mg_http_add_header(x, "pragma", MG_SLICE_LIT("no-cache"));
            if (reply.www_basic)
                mg_http_add_header(x, "www-authenticate",
                                   MG_SLICE_LIT("Basic realm=\"mcpgate issuer\""));
            mg_http_send(x);
        }
        break;
    case R_AUTHORIZE:
        s_send_error(x, 400, "unsupported_response_type",
                     "this issuer supports only the client_credentials grant at its token "
                     "endpoint");
        break;
    case R_OTHER: s_send_error(x, 404, "invalid_request", "no such issuer endpoint"); break;
    case R_NONE: break;
    }
    return true;
}
