/* src/oidc/internal.h: the pure parts of the OpenID key cache (src/oidc/oidc.h), for its files,
 * its unit tests and fuzz/fuzz_oidc.c. */
#ifndef MG_OIDC_INTERNAL_H
#define MG_OIDC_INTERNAL_H

#include <stddef.h>

#include "base/err.h"
#include "base/slice.h"

/* What a discovery document says that the cache keeps; every string is owned (mg_strdup). */
struct mg_oidc_discovery {
    char *issuer;
    char *jwks_uri;
    char *token_endpoint;         /* or NULL */
    char *authorization_endpoint; /* or NULL */
};

/* Checks and reads an OpenID configuration document: at most MG_OIDC_MAX_DOC bytes of JSON, an
 * object with a non-empty string "issuer", a "jwks_uri" that passes mg_oidc_url_ok, and
 * "token_endpoint" / "authorization_endpoint" that are strings when present; every string at
 * most MG_OIDC_MAX_URL bytes, without NUL. On failure *out is left empty and ei holds a short
 * reason ("the discovery document has no jwks_uri"): MG_E_TOO_LARGE, MG_E_PARSE (not a JSON
 * object), MG_E_INVALID (a member is missing or wrong), MG_E_NOMEM. Pure. */
MG_MUST_USE enum mg_err mg_oidc_discovery_parse(struct mg_slice doc, struct mg_oidc_discovery *out,
                                                struct mg_errinfo *ei);
void mg_oidc_discovery_cleanup(struct mg_oidc_discovery *d); /* leaves it zeroed */

struct mg_oidc;
/* Tests: lowers the entry limit (0 or above MG_OIDC_MAX_ENTRIES: MG_OIDC_MAX_ENTRIES). */
void mg_oidc_set_max_entries_for_tests(struct mg_oidc *o, size_t n);
size_t mg_oidc_count(struct mg_oidc *o); /* entries held */

#endif
