/* src/oidc/oidc.h: the signing keys of the OpenID providers CUSTOM_JWT gateways trust
 * (docs/oidc-keys.md). For a discovery URL it fetches the OpenID configuration, then the JWKS
 * at its jwks_uri, and keeps both, per discovery URL, for every event loop to read.
 *
 * Rules:
 *   - discovery URL and jwks_uri: https, or http to a loopback host only (mg_oidc_url_ok); the
 *     outbound address policy of the HTTP client applies to both; redirects are not followed.
 *   - the discovery document must be a JSON object with a string "issuer" and an "jwks_uri"; it
 *     is at most MG_OIDC_MAX_DOC bytes, the JWKS at most MG_JWKS_MAX_BYTES.
 *   - keys are refreshed in the background when older than MG_OIDC_REFRESH_S (the request that
 *     notices goes on with the keys it has); a token whose kid no key has asks for one refetch,
 *     at most one per discovery URL per MG_OIDC_KID_REFETCH_S whatever the number of such
 *     tokens, and concurrent askers share that one fetch.
 *   - an issuer that cannot be reached keeps its last good keys until MG_OIDC_MAX_STALE_S after
 *     they were fetched, with a warning in the log at every failed refresh; then they are gone
 *     and its tokens fail until a fetch succeeds.
 *   - after a failed fetch, a URL gets no new MG_OIDC_FIRST fetch and no background refresh for
 *     MG_OIDC_RETRY_S (askers get the failure's reason at once), so an unreachable issuer is not
 *     asked again at the rate of incoming requests.
 *   - at most MG_OIDC_MAX_ENTRIES discovery URLs are kept; past that the least recently used
 *     entry that no fetch is running for goes.
 * Thread-safe: any thread may call any function. Never blocks but mg_oidc_probe. */
#ifndef MG_OIDC_H
#define MG_OIDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "jwt/jwt.h"

#define MG_OIDC_MAX_URL 2048          /* bytes of a discovery URL or jwks_uri */
#define MG_OIDC_MAX_DOC (256 * 1024)  /* bytes of a discovery document */
#define MG_OIDC_REFRESH_S 900         /* keys older than this are refreshed in the background */
#define MG_OIDC_MAX_STALE_S 86400     /* keys of an unreachable issuer are used this long */
#define MG_OIDC_KID_REFETCH_S 30      /* at most one unknown-kid refetch per URL in this time */
#define MG_OIDC_MAX_ENTRIES 4096      /* discovery URLs kept */
#define MG_OIDC_FETCH_TIMEOUT_MS 5000 /* each of the two requests of a fetch */
#define MG_OIDC_RETRY_S 5 /* after a failed fetch, no new FIRST fetch or refresh for this long */

struct mg_http_client;
struct mg_oidc;

/* What one successful fetch produced. Immutable once published; shared by reference. */
struct mg_oidc_keys {
    const char *discovery_url;
    const char *issuer; /* "issuer" of the discovery document */
    const char *jwks_uri;
    const char *token_endpoint;         /* or NULL */
    const char *authorization_endpoint; /* or NULL */
    struct mg_jwks *jwks;               /* never NULL (may hold no usable key) */
    int64_t fetched_at;                 /* epoch seconds (mg_now) when the JWKS arrived */
};

/* http NULL: every fetch fails ("outbound HTTP is not available"). */
MG_MUST_USE enum mg_err mg_oidc_new(struct mg_http_client *http, struct mg_oidc **out);
/* Call after mg_http_client_shutdown (no callback of a fetch runs afterwards). NULL is fine.
 * Called while fetches are still in flight on a live client, it answers their waiting done
 * callbacks at once (keys NULL, error "the key cache is shutting down") and the last fetch to end
 * frees the cache, on the client's thread. */
void mg_oidc_free(struct mg_oidc *o);

/* https://..., or http:// to "localhost", 127.0.0.0/8 or [::1]; no user info, no fragment; at
 * most MG_OIDC_MAX_URL bytes. On false, why (cap bytes) says what is wrong. Pure. */
bool mg_oidc_url_ok(const char *url, char *why, size_t cap);

/* The keys held for discovery_url, with a reference (release with mg_oidc_keys_unref), or NULL
 * when none were fetched yet or the last good ones are older than MG_OIDC_MAX_STALE_S. Keys older
 * than MG_OIDC_REFRESH_S start a background refresh (the caller still gets them). Never
 * blocks; an uncontended lock and a reference count on the way. */
struct mg_oidc_keys *mg_oidc_get(struct mg_oidc *o, const char *discovery_url, int64_t now);
void mg_oidc_keys_unref(struct mg_oidc_keys *k); /* NULL is fine */
/* Another reference to k (for a done callback that keeps the keys it was given); NULL is fine. */
struct mg_oidc_keys *mg_oidc_keys_ref(const struct mg_oidc_keys *k);

enum mg_oidc_why {
    MG_OIDC_FIRST,       /* nothing held yet (or expired): fetch unless one is running */
    MG_OIDC_UNKNOWN_KID, /* a token's kid is not in the held keys: rate-limited refetch */
};

/* Called exactly once per mg_oidc_fetch: keys is the entry's newest usable keys after the fetch
 * (a borrowed reference, valid during the call: mg_oidc_keys_ref to keep them), or NULL when
 * there are none; error is NULL when the fetch succeeded (or none was needed), else a short
 * reason without secrets ("the discovery document has no jwks_uri", "connection refused", ...),
 * given with the old keys when a refetch failed while they are still usable. Runs on the
 * HTTP client's thread when a fetch ran or was joined, or on the calling thread before
 * mg_oidc_fetch returns when no fetch is needed or allowed (rate limit: then with the keys
 * held). Must not block. */
typedef void (*mg_oidc_done_fn)(void *arg, const struct mg_oidc_keys *keys, const char *error);

/* Asks for the keys of discovery_url to be fetched, for why. */
void mg_oidc_fetch(struct mg_oidc *o, const char *discovery_url, enum mg_oidc_why why,
                   mg_oidc_done_fn done, void *arg);

/* Fetches discovery_url now and waits (threads that may block only: the control plane's
 * background worker). Ignores the rate limits; publishes the keys on success. On failure
 * MG_E_INVALID (the URL is refused, the document or JWKS is not valid), MG_E_UPSTREAM (transport
 * failure, non-2xx status) or MG_E_NOMEM with a message for the gateway's statusReasons in ei, e.g.
 * "Unable to fetch the OpenID configuration from https://x/.well-known/openid-configuration:
 * connection refused". */
MG_MUST_USE enum mg_err mg_oidc_probe(struct mg_oidc *o, const char *discovery_url,
                                      struct mg_errinfo *ei);

#endif
