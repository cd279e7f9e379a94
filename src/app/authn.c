/* Resolving the signer of a SigV4 request to a principal. */
#include "app/authn.h"

#include "base/slice.h"

enum mg_sigv4_status mg_app_verify_caller(struct mg_app *app, const struct mg_sigv4_request *sreq,
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
        st = (enum mg_sigv4_status)mg_sts_session_resolve(app, snap, auth->access_key_id,
                                                          mg_buf_slice(&token), principal,
                                                          secret, sizeof(secret));
        mg_buf_cleanup(&token);
        if (st != MG_SIGV4_OK)
            return st;
        st = mg_sigv4_verify(sreq, auth, mg_slice_cstr(secret), app->key_cache, ei);
        mg_memzero(secret, sizeof(secret));
        return st;
    }
    /* A long-term key never comes with a session token: AWS refuses the pair as an invalid
     * token (InvalidClientTokenId / UnrecognizedClientException), whatever the token holds. */
    if (auth->security_token.len)
        return MG_SIGV4_UNKNOWN_KEY;
    const struct mg_iam_key *key = mg_iam_find_key(snap, auth->access_key_id);
    if (key == NULL || !key->active)
        return MG_SIGV4_UNKNOWN_KEY;
    st = mg_sigv4_verify(sreq, auth, mg_slice_cstr(key->secret), app->key_cache, ei);
    if (st != MG_SIGV4_OK)
        return st;
    mg_iam_principal_from_key(key, principal);
    return MG_SIGV4_OK;
}
