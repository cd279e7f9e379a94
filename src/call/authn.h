/* src/call/authn.h: who signed a request (SigV4), shared by the API pipeline (the dispatch of
 * the composition root) and the MCP data plane (src/mcp/). */
#ifndef MG_AUTHN_H
#define MG_AUTHN_H

#include "call/call.h"

/* After mg_sigv4_parse and mg_sigv4_check succeeded on auth: finds the signing key (a long-term
 * access key in snap, sent without a session token, or an ASIA key whose session token opens),
 * verifies the signature and fills
 * *principal. Returns MG_SIGV4_OK, MG_SIGV4_UNKNOWN_KEY, MG_SIGV4_EXPIRED_TOKEN or
 * MG_SIGV4_MISMATCH (ei says why). The caller releases principal with mg_principal_cleanup. */
enum mg_sigv4_status mg_authn_verify_caller(const struct mg_env *env,
                                            const struct mg_sigv4_request *sreq,
                                            const struct mg_snapshot *snap,
                                            const struct mg_sigv4_auth *auth,
                                            struct mg_principal *principal, struct mg_errinfo *ei);

/* A short name of st for logs ("signature mismatch", ...). */
const char *mg_authn_status_name(enum mg_sigv4_status st);

/* Logs a refused authentication (info, subsystem sigv4) for the API pipeline and the MCP data
 * plane alike: the category, the access key id, the method and path, and `where` (may be NULL,
 * e.g. "gateway ID"). Never the Authorization header, signatures, session tokens or AWS's
 * messages, which may echo the header. auth may be NULL or zeroed when parsing failed. */
void mg_authn_log_refused(const struct mg_http_req *r, enum mg_sigv4_status st,
                          const struct mg_sigv4_auth *auth, const char *where);

#endif
