/* Resolving the signer of a SigV4 request to a principal. */
#include "call/authn.h"

#include <string.h>

#include "base/log.h"
#include "base/slice.h"
#include "base/util.h"

const char *mg_authn_status_name(enum mg_sigv4_status st)
{
    switch (st) {
    case MG_SIGV4_UNCHECKED: return "unchecked";
    case MG_SIGV4_OK: return "ok";
    case MG_SIGV4_MISSING: return "no authentication data";
    case MG_SIGV4_INCOMPLETE: return "incomplete or malformed signature data";
    case MG_SIGV4_BAD_SCOPE: return "credential scope does not fit this server";
    case MG_SIGV4_SKEW: return "request time outside the allowed window";
    case MG_SIGV4_MISMATCH: return "signature mismatch";
    case MG_SIGV4_UNKNOWN_KEY: return "unknown or inactive access key";
    case MG_SIGV4_EXPIRED_TOKEN: return "expired session token";
    case MG_SIGV4_UNSUPPORTED: return "unsupported signing algorithm";
    }
    return "unknown";
}

void mg_authn_log_refused(const struct mg_http_req *r, enum mg_sigv4_status st,
                          const struct mg_sigv4_auth *auth, const char *where)
{
    struct mg_slice akid = auth ? auth->access_key_id : (struct mg_slice){0};
    MG_LOG_REQ(MG_LOG_INFO, MG_SUB_SIGV4, r->request_id,
               "authentication refused%s%s: %s (key %.*s, %.*s %.*s)", where ? " at " : "",
               where ? where : "", mg_authn_status_name(st), (int)(akid.len > 128 ? 128 : akid.len),
               akid.ptr ? (const char *)akid.ptr : "", (int)r->method.len,
               (const char *)r->method.ptr, (int)(r->path.len > 200 ? 200 : r->path.len),
               (const char *)r->path.ptr);
}

enum mg_sigv4_status mg_authn_verify_caller(const struct mg_env *env,
                                            const struct mg_sigv4_request *sreq,
                                            const struct mg_snapshot *snap,
                                            const struct mg_sigv4_auth *auth,
                                            struct mg_principal *principal, struct mg_errinfo *ei)
{
    enum mg_sigv4_status st;
    if (mg_slice_starts_with(auth->access_key_id, "ASIA")) {
        /* Temporary credentials: the session token carries the secret and the session. */
        struct mg_buf token;
        mg_buf_init(&token, 16384);
        char secret[129];
        if (mg_sigv4_token(auth, &token) != MG_E_OK || token.len == 0) {
            mg_buf_cleanup(&token);
            return MG_SIGV4_UNKNOWN_KEY;
        }
        st = env->identity == NULL
                 ? MG_SIGV4_UNKNOWN_KEY
                 : (enum mg_sigv4_status)env->identity->resolve_session(env->token_key, snap,
                                                                        auth->access_key_id,
                                                                        mg_buf_slice(&token),
                                                                        principal, secret,
                                                                        sizeof(secret));
        mg_buf_cleanup(&token);
        if (st != MG_SIGV4_OK)
            return st;
        st = mg_sigv4_verify(sreq, auth, mg_slice_cstr(secret), env->key_cache, ei);
        mg_memzero(secret, sizeof(secret));
        return st;
    }
    /* A long-term key never comes with a session token: AWS refuses the pair as an invalid
     * token (InvalidClientTokenId / UnrecognizedClientException), whatever the token holds. */
    if (auth->security_token.len)
        return MG_SIGV4_UNKNOWN_KEY;
    const char *key_secret = NULL;
    bool loopback_only = false;
    struct mg_principal key_principal;
    memset(&key_principal, 0, sizeof(key_principal));
    if (env->identity == NULL || !env->identity->find_key(snap, auth->access_key_id, &key_secret,
                                                          &loopback_only, &key_principal))
        return MG_SIGV4_UNKNOWN_KEY;
    if (loopback_only && !mg_host_is_loopback(env->listen_host)) {
        /* the well-known test key is public: never beyond loopback */
        MG_LOG(MG_LOG_DEBUG, MG_SUB_AUDIT, /* the refusal itself is logged by the caller */
               "refused the built-in test key: the server listens on %s, not on loopback",
               env->listen_host);
        return MG_SIGV4_UNKNOWN_KEY;
    }
    st = mg_sigv4_verify(sreq, auth, mg_slice_cstr(key_secret), env->key_cache, ei);
    if (st != MG_SIGV4_OK)
        return st;
    *principal = key_principal; /* a long-term key's principal owns nothing */
    return MG_SIGV4_OK;
}
