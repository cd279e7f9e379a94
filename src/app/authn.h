/* src/app/authn.h: who signed a request (SigV4), shared by the API pipeline (dispatch.c) and the
 * MCP data plane (src/mcp/). */
#ifndef MG_AUTHN_H
#define MG_AUTHN_H

#include "app/app.h"

/* After mg_sigv4_parse and mg_sigv4_check succeeded on auth: finds the signing key (a long-term
 * access key in snap, sent without a session token, or an ASIA key whose session token opens),
 * verifies the signature and fills
 * *principal. Returns MG_SIGV4_OK, MG_SIGV4_UNKNOWN_KEY, MG_SIGV4_EXPIRED_TOKEN or
 * MG_SIGV4_MISMATCH (ei says why). The caller releases principal with mg_principal_cleanup. */
enum mg_sigv4_status mg_app_verify_caller(struct mg_app *app, const struct mg_sigv4_request *sreq,
                                          const struct mg_snapshot *snap,
                                          const struct mg_sigv4_auth *auth,
                                          struct mg_principal *principal, struct mg_errinfo *ei);

#endif
