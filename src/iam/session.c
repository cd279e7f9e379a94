/* STS sessions (temporary credentials). */
#include "app/app.h"
#include "sigv4/sigv4.h"

int mg_sts_session_resolve(struct mg_app *app, const struct mg_snapshot *snap,
                           struct mg_slice access_key_id, struct mg_slice token,
                           struct mg_principal *p, char *secret, size_t secret_cap)
{
    (void)app;
    (void)snap;
    (void)access_key_id;
    (void)token;
    (void)p;
    (void)secret;
    (void)secret_cap;
    /* No sessions are issued yet: every temporary key is unknown. */
    return MG_SIGV4_UNKNOWN_KEY;
}
