/* The --oauth-issuer file: clients, their secrets, scopes and audiences; validated strictly. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/util.h"
#include "issuer/issuer.h"

/* Client ids go into Basic credentials and URLs: unreserved characters only. */
static bool s_is_client_id(const char *s, size_t n)
{
    if (n == 0 || n > MG_ISSUER_MAX_CLIENT_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '~'))
            return false;
    }
    return true;
}

/* Visible ASCII but '"' and '\\', 1 to max bytes: RFC 6749 3.3's scope-token; audiences are
 * held to the same (they go into JSON and challenges unescaped). */
static bool s_visible(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return false;
    }
    return true;
}

static bool s_is_scope(const char *s, size_t n)
{
    return s_visible(s, n, MG_ISSUER_MAX_SCOPE);
}

static bool s_is_audience(const char *s, size_t n)
{
    return s_visible(s, n, MG_ISSUER_MAX_AUDIENCE);
}

static enum mg_err s_strings(const json_t *arr, const char *where, size_t max_items,
                             bool (*valid)(const char *, size_t), const char *what, char ***out,
                             size_t *n_out, struct mg_errinfo *ei)
{
    if (!json_is_array(arr))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an array of strings", where);
    size_t n = json_array_size(arr);
    if (n > max_items)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: at most %zu entries", where, max_items);
    *out = n ? mg_calloc(n, sizeof(char *)) : NULL;
    if (n && *out == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s[%zu]: must be a string", where, i);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (strlen(s) != len || !valid(s, len))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s[%zu]: %s", where, i, what);
        for (size_t j = 0; j < i; j++)
            if (strcmp((*out)[j], s) == 0)
                return mg_errinfo_set(ei, MG_E_INVALID, "%s[%zu]: \"%.100s\" is listed twice",
                                      where, i, s);
        (*out)[i] = mg_strdup(s);
        if ((*out)[i] == NULL)
            return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        *n_out = i + 1;
    }
    return MG_E_OK;
}

static bool s_digest(struct mg_slice s, uint8_t out[32])
{
    unsigned int len = 0;
    return EVP_Digest(s.ptr, s.len, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
}

static enum mg_err s_client(const json_t *o, size_t idx, struct mg_issuer_config *c,
                            struct mg_errinfo *ei)
{
    static const char *const allowed[] = {"clientId", "clientSecret", "scopes", "audiences", NULL};
    char where[64];
    snprintf(where, sizeof(where), "clients[%zu]", idx);
    if (!json_is_object(o))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an object", where);
    MG_TRY(mg_json_only(o, where, allowed, ei));
    struct mg_issuer_client *cl = &c->clients[idx];

    const json_t *id = json_object_get(o, "clientId");
    if (id == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: missing required field \"clientId\"", where);
    if (!json_is_string(id) ||
        !s_is_client_id(json_string_value(id), strlen(json_string_value(id))) ||
        strlen(json_string_value(id)) != json_string_length(id))
        return mg_errinfo_set(ei, MG_E_INVALID,
                              "%s.clientId: must be 1 to %d letters, digits, '-', '_', '.' or '~'",
                              where, MG_ISSUER_MAX_CLIENT_ID);
    for (size_t j = 0; j < idx; j++)
        if (strcmp(c->clients[j].id, json_string_value(id)) == 0)
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "%s.clientId: \"%s\" is already the id of clients[%zu]", where,
                                  json_string_value(id), j);

    const json_t *secret = json_object_get(o, "clientSecret");
    if (secret == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: missing required field \"clientSecret\"",
                              where);
    if (!json_is_string(secret))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s.clientSecret: must be a string", where);
    const char *sv = json_string_value(secret);
    size_t sl = json_string_length(secret);
    if (sl < MG_ISSUER_MIN_SECRET)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s.clientSecret: must be at least %d characters",
                              where, MG_ISSUER_MIN_SECRET);
    if (sl > MG_ISSUER_MAX_SECRET)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s.clientSecret: must be at most %d characters",
                              where, MG_ISSUER_MAX_SECRET);
    for (size_t i = 0; i < sl; i++) {
        unsigned char ch = (unsigned char)sv[i];
        if (ch < 0x21 || ch > 0x7e || ch == '%' || ch == '+')
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "%s.clientSecret: only visible ASCII characters other than "
                                  "'%%' and '+' are allowed",
                                  where);
    }

    cl->id = mg_strdup(json_string_value(id));
    if (cl->id == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    c->n_clients = idx + 1;
    if (!s_digest(mg_slice_make(sv, sl), cl->secret_digest))
        return mg_errinfo_set(ei, MG_E_INTERNAL, "cannot hash the client secret");

    char sub[96];
    const json_t *scopes = json_object_get(o, "scopes");
    if (scopes) {
        snprintf(sub, sizeof(sub), "%s.scopes", where);
        MG_TRY(s_strings(scopes, sub, MG_ISSUER_MAX_SCOPES, s_is_scope,
                         "must be 1 to 256 visible ASCII characters other than '\"' and '\\'",
                         &cl->scopes, &cl->n_scopes, ei));
    }
    const json_t *auds = json_object_get(o, "audiences");
    if (auds) {
        snprintf(sub, sizeof(sub), "%s.audiences", where);
        MG_TRY(s_strings(auds, sub, MG_ISSUER_MAX_AUDIENCES, s_is_audience,
                         "must be 1 to 1024 visible ASCII characters (a URI)", &cl->audiences,
                         &cl->n_audiences, ei));
        cl->has_audiences = true;
    }
    return MG_E_OK;
}

static enum mg_err s_validate(const json_t *root, struct mg_issuer_config *c, struct mg_errinfo *ei)
{
    static const char *const allowed[] = {"clients", "tokenLifetimeSeconds", NULL};
    if (!json_is_object(root))
        return mg_errinfo_set(ei, MG_E_INVALID, "the document must be a JSON object");
    MG_TRY(mg_json_only(root, "", allowed, ei));
    const json_t *life = json_object_get(root, "tokenLifetimeSeconds");
    c->token_lifetime = MG_ISSUER_DEFAULT_LIFETIME;
    if (life) {
        if (!json_is_integer(life) || json_integer_value(life) < MG_ISSUER_MIN_LIFETIME ||
            json_integer_value(life) > MG_ISSUER_MAX_LIFETIME)
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "tokenLifetimeSeconds: must be an integer from %d to %d",
                                  MG_ISSUER_MIN_LIFETIME, MG_ISSUER_MAX_LIFETIME);
        c->token_lifetime = json_integer_value(life);
    }
    const json_t *clients = json_object_get(root, "clients");
    if (clients == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "missing required field \"clients\"");
    if (!json_is_array(clients) || json_array_size(clients) == 0)
        return mg_errinfo_set(ei, MG_E_INVALID, "clients: must be a non-empty array");
    size_t n = json_array_size(clients);
    if (n > MG_ISSUER_MAX_CLIENTS)
        return mg_errinfo_set(ei, MG_E_INVALID, "clients: at most %d clients",
                              MG_ISSUER_MAX_CLIENTS);
    c->clients = mg_calloc(n, sizeof(*c->clients));
    if (c->clients == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        MG_TRY(s_client(json_array_get(clients, i), i, c, ei));
    return MG_E_OK;
}

enum mg_err mg_issuer_config_parse(struct mg_slice text, struct mg_issuer_config **out,
                                   struct mg_errinfo *ei)
{
    *out = NULL;
    if (text.len > MG_ISSUER_MAX_FILE)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "larger than %u bytes", MG_ISSUER_MAX_FILE);
    long failures = mg_alloc_failures();
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (mg_alloc_failures() != failures)
            return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        return mg_errinfo_set(ei, MG_E_PARSE, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    }
    struct mg_issuer_config *c = mg_calloc(1, sizeof(*c));
    enum mg_err e = c ? s_validate(root, c, ei) : mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    json_decref(root);
    if (e) {
        mg_issuer_config_free(c);
        return e;
    }
    *out = c;
    return MG_E_OK;
}

enum mg_err mg_issuer_config_load(const char *path, struct mg_issuer_config **out,
                                  struct mg_errinfo *ei)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: cannot read the OAuth issuer file", path);
    struct mg_buf b;
    mg_buf_init(&b, MG_ISSUER_MAX_FILE + 1);
    enum mg_err e = MG_E_OK;
    uint8_t chunk[8192];
    size_t n;
    while (!e && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        e = mg_buf_append(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    struct mg_errinfo local = {0};
    if (e == MG_E_TOO_LARGE)
        e = mg_errinfo_set(&local, e, "larger than %u bytes", MG_ISSUER_MAX_FILE);
    else if (e)
        e = mg_errinfo_set(&local, e, "out of memory");
    else if (bad)
        e = mg_errinfo_set(&local, MG_E_IO, "cannot read the OAuth issuer file");
    else
        e = mg_issuer_config_parse(mg_buf_slice(&b), out, &local);
    if (b.ptr)
        mg_memzero(b.ptr, b.len); /* it holds the secrets */
    mg_buf_cleanup(&b);
    if (e)
        mg_errinfo_set(ei, e, "%s: %s", path, local.msg);
    return e;
}

static void s_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mg_free(v[i]);
    mg_free(v);
}

void mg_issuer_config_free(struct mg_issuer_config *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_clients; i++) {
        struct mg_issuer_client *cl = &c->clients[i];
        mg_free(cl->id);
        s_free_strings(cl->scopes, cl->n_scopes);
        s_free_strings(cl->audiences, cl->n_audiences);
    }
    mg_free(c->clients);
    mg_free(c);
}

const struct mg_issuer_client *mg_issuer_config_client(const struct mg_issuer_config *c,
                                                       struct mg_slice id)
{
    for (size_t i = 0; c && i < c->n_clients; i++)
        if (mg_slice_eq_cstr(id, c->clients[i].id))
            return &c->clients[i];
    return NULL;
}

bool mg_issuer_client_secret_ok(const struct mg_issuer_client *cl, struct mg_slice secret)
{
    uint8_t d[32];
    if (!s_digest(secret, d))
        return false;
    /* fixed-length digests: neither the secret's content nor its length leaks through timing */
    bool ok = mg_ct_equal(mg_slice_make(d, sizeof(d)),
                          mg_slice_make(cl->secret_digest, sizeof(cl->secret_digest)));
    mg_memzero(d, sizeof(d));
    return ok;
}
