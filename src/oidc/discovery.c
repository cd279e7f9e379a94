/* src/oidc/discovery.c: reading an OpenID configuration document (mg_oidc_discovery_parse). */
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "oidc/internal.h"
#include "oidc/oidc.h"

void mg_oidc_discovery_cleanup(struct mg_oidc_discovery *d)
{
    if (d == NULL)
        return;
    mg_free(d->issuer);
    mg_free(d->jwks_uri);
    mg_free(d->token_endpoint);
    mg_free(d->authorization_endpoint);
    *d = (struct mg_oidc_discovery){0};
}

/* A string member: NULL with MG_E_OK when absent and optional. */
static enum mg_err s_member(json_t *doc, const char *name, bool required, char **out,
                            struct mg_errinfo *ei)
{
    *out = NULL;
    json_t *v = json_object_get(doc, name);
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return MG_E_OK;
        return mg_errinfo_set(ei, MG_E_INVALID, "the discovery document has no %s", name);
    }
    if (!json_is_string(v))
        return mg_errinfo_set(ei, MG_E_INVALID, "the discovery document's %s is not a string",
                              name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 && required)
        return mg_errinfo_set(ei, MG_E_INVALID, "the discovery document's %s is empty", name);
    if (n > MG_OIDC_MAX_URL || strlen(s) != n)
        return mg_errinfo_set(ei, MG_E_INVALID,
                              "the discovery document's %s is longer than %d bytes or holds a "
                              "NUL",
                              name, MG_OIDC_MAX_URL);
    *out = mg_strdup(s);
    if (*out == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    return MG_E_OK;
}

enum mg_err mg_oidc_discovery_parse(struct mg_slice doc, struct mg_oidc_discovery *out,
                                    struct mg_errinfo *ei)
{
    *out = (struct mg_oidc_discovery){0};
    if (doc.len > MG_OIDC_MAX_DOC)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "the discovery document is larger than %d bytes",
                              MG_OIDC_MAX_DOC);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)doc.ptr, doc.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        return mg_errinfo_set(ei, MG_E_PARSE, "the discovery document is not JSON");
    }
    enum mg_err err = MG_E_OK;
    if (!json_is_object(j)) {
        err = mg_errinfo_set(ei, MG_E_PARSE, "the discovery document is not a JSON object");
        goto out;
    }
    err = s_member(j, "issuer", true, &out->issuer, ei);
    if (err == MG_E_OK)
        err = s_member(j, "jwks_uri", true, &out->jwks_uri, ei);
    if (err == MG_E_OK)
        err = s_member(j, "token_endpoint", false, &out->token_endpoint, ei);
    if (err == MG_E_OK)
        err = s_member(j, "authorization_endpoint", false, &out->authorization_endpoint, ei);
    if (err != MG_E_OK)
        goto out;
    char why[128];
    if (!mg_oidc_url_ok(out->jwks_uri, why, sizeof(why)))
        err = mg_errinfo_set(ei, MG_E_INVALID, "the discovery document's jwks_uri is refused: %s",
                             why);
out:
    json_decref(j);
    if (err != MG_E_OK)
        mg_oidc_discovery_cleanup(out);
    return err;
}
