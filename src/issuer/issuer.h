/* src/issuer/issuer.h: the built-in OAuth 2.0 / OpenID Connect authorization server, a development
 * tool that is off unless `mcpgate serve --oauth-issuer FILE` turns it on (docs/builtin-issuer.md).
 * Client-credentials grant only; ES256 access tokens signed with keys kept in the store (shared
 * by every node on it). Never logs client secrets, keys or tokens. */
#ifndef MG_ISSUER_H
#define MG_ISSUER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

struct mg_http_exchange;
struct mg_store;

#define MG_ISSUER_PATH "/_mcpgate/issuer" /* the issuer URL is PUBLIC_URL + this */
#define MG_ISSUER_MAX_FILE (1u << 20)     /* bytes of the configuration file */
#define MG_ISSUER_MAX_CLIENTS 100
#define MG_ISSUER_MAX_CLIENT_ID 128
#define MG_ISSUER_MIN_SECRET 16
#define MG_ISSUER_MAX_SECRET 256
#define MG_ISSUER_MAX_SCOPES 50 /* per client, and per request */
#define MG_ISSUER_MAX_SCOPE 256
#define MG_ISSUER_MAX_AUDIENCES 20 /* per client */
#define MG_ISSUER_MAX_AUDIENCE 1024
#define MG_ISSUER_DEFAULT_LIFETIME 3600
#define MG_ISSUER_MIN_LIFETIME 60
#define MG_ISSUER_MAX_LIFETIME 86400
#define MG_ISSUER_MAX_KEYS 3          /* the current key and the two before it */
#define MG_ISSUER_MAX_KEYS_FILE 65536 /* bytes of the stored keys (and of a legacy keys.json) */
#define MG_ISSUER_MAX_BODY 16384      /* bytes of a token request */
#define MG_ISSUER_KID_LEN 43          /* base64url of a SHA-256 thumbprint (RFC 7638) */
#define MG_ISSUER_RELOAD_MS 500       /* a running server reads the stored keys this often */

/* ---- configuration (the --oauth-issuer file) ---- */

struct mg_issuer_client {
    char *id;
    uint8_t secret_digest[32]; /* SHA-256 of the secret: compared in constant time */
    char **scopes;
    size_t n_scopes;
    char **audiences; /* allowed aud values; has_audiences false: any resource/audience */
    size_t n_audiences;
    bool has_audiences;
};

struct mg_issuer_config {
    struct mg_issuer_client *clients;
    size_t n_clients;
    int64_t token_lifetime; /* seconds */
};

/* Parses and validates the JSON text of a configuration. On error ei names the JSON path
 * (e.g. "clients[1].clientSecret: must be at least 16 characters"); secrets are never quoted. */
MG_MUST_USE enum mg_err mg_issuer_config_parse(struct mg_slice text, struct mg_issuer_config **out,
                                               struct mg_errinfo *ei);
/* The same from a file; messages start with "PATH: ". */
MG_MUST_USE enum mg_err mg_issuer_config_load(const char *path, struct mg_issuer_config **out,
                                              struct mg_errinfo *ei);
void mg_issuer_config_free(struct mg_issuer_config *c); /* NULL is fine */
const struct mg_issuer_client *mg_issuer_config_client(const struct mg_issuer_config *c,
                                                       struct mg_slice id);
/* Whether secret is the client's, in constant time (the digests are compared). */
bool mg_issuer_client_secret_ok(const struct mg_issuer_client *cl, struct mg_slice secret);

/* ---- signing keys (the store's meta value "issuer_keys", shared by every node) ---- */

struct mg_issuer_keys; /* immutable once loaded; shared with _ref/_unref */

/* "DATA/issuer/keys.json" (where versions before the store kept the keys) into out; false when
 * it does not fit. */
MG_MUST_USE bool mg_issuer_keys_path(const char *data_dir, char *out, size_t cap);
/* Loads the keys from the store. When it holds none: the keys of data_dir's keys.json (may be
 * NULL: none) are moved into it (the file is renamed keys.json.imported), else with create one
 * new key is made. Made once for every node: inserted only while the store holds none, then what
 * the store holds is read back and used. */
MG_MUST_USE enum mg_err mg_issuer_keys_open(struct mg_store *st, const char *data_dir, bool create,
                                            struct mg_issuer_keys **out, struct mg_errinfo *ei);
/* Adds a new current key, keeping the most recent previous ones (MG_ISSUER_MAX_KEYS in all), by
 * compare and swap on the store's value (a rotation on another node meanwhile: done again on top
 * of it). kid_out (cap >= MG_ISSUER_KID_LEN + 1) gets the new key's id. */
MG_MUST_USE enum mg_err mg_issuer_keys_rotate(struct mg_store *st, const char *data_dir,
                                              char *kid_out, size_t cap, struct mg_errinfo *ei);
/* The store's keys when they differ from cur (compared by a digest of the stored text; cur may be
 * NULL), else *out NULL. */
MG_MUST_USE enum mg_err mg_issuer_keys_reload(struct mg_store *st, const struct mg_issuer_keys *cur,
                                              struct mg_issuer_keys **out, struct mg_errinfo *ei);
struct mg_issuer_keys *mg_issuer_keys_ref(struct mg_issuer_keys *k);
void mg_issuer_keys_unref(struct mg_issuer_keys *k); /* NULL is fine */
size_t mg_issuer_keys_count(const struct mg_issuer_keys *k);
const char *mg_issuer_keys_kid(const struct mg_issuer_keys *k, size_t i); /* 0 = current */
/* The public JWKS document ({"keys":[...]}), newest key first. */
struct mg_slice mg_issuer_keys_jwks(const struct mg_issuer_keys *k);

/* ---- tokens ---- */

/* The issuer URL of a server whose public URL is public_url (a trailing '/' is dropped). */
MG_MUST_USE bool mg_issuer_url(const char *public_url, char *out, size_t cap);

struct mg_issuer_grant {
    const char *issuer;
    const char *client_id;
    const char *const *scopes;
    size_t n_scopes;
    const char *const *audiences; /* aud: omitted when none, a string for one, else an array */
    size_t n_audiences;
    int64_t now, ttl;
};

/* Signs an access token (JWS ES256, typ at+jwt, kid of the current key) into out (appended). */
MG_MUST_USE enum mg_err mg_issuer_sign(const struct mg_issuer_keys *k,
                                       const struct mg_issuer_grant *g, struct mg_buf *out,
                                       struct mg_errinfo *ei);

/* What a client may have: scope (space-separated; NULL or empty: all the client's scopes) and
 * the requested audience and RFC 8707 resource (NULL when absent) resolved against the client's
 * lists. The arrays borrow from the client and from the arguments. On MG_E_INVALID, *oauth_error
 * is "invalid_scope" or "invalid_target" and ei says why. */
struct mg_issuer_resolved {
    const char *scopes[MG_ISSUER_MAX_SCOPES];
    size_t n_scopes;
    const char *audiences[MG_ISSUER_MAX_AUDIENCES];
    size_t n_audiences;
};
MG_MUST_USE enum mg_err mg_issuer_resolve(const struct mg_issuer_client *cl, const char *scope,
                                          const char *audience, const char *resource,
                                          struct mg_issuer_resolved *out, const char **oauth_error,
                                          struct mg_errinfo *ei);

/* ---- the server side ---- */

struct mg_issuer;

/* Loads the configuration file and the keys from the store (creating them on first start, see
 * mg_issuer_keys_open). A thread reads the stored keys every MG_ISSUER_RELOAD_MS, so that a
 * rotation on any node reaches this one. public_url is read at each request (the server learns
 * its port after it starts); it and store must outlive the issuer. */
MG_MUST_USE enum mg_err mg_issuer_new(const char *config_path, struct mg_store *store,
                                      const char *data_dir, const char *public_url,
                                      struct mg_issuer **out, struct mg_errinfo *ei);
void mg_issuer_free(struct mg_issuer *is); /* NULL is fine */

/* Answers the request when its path is one of the issuer's (discovery documents, JWKS, token
 * endpoint) and returns true; false (nothing sent) for any other path, or when is is NULL. */
bool mg_issuer_handle(struct mg_issuer *is, struct mg_http_exchange *x);

#endif
