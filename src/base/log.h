/* src/base/log.h: one JSON line per event on stderr. Never pass secrets, signatures or tokens. */
#ifndef MG_LOG_H
#define MG_LOG_H

#include <stdbool.h>

#include "base/err.h"

enum mg_log_level { MG_LOG_DEBUG = 0, MG_LOG_INFO, MG_LOG_WARN, MG_LOG_ERROR, MG_LOG_OFF };

/* clang-format off: one subsystem a line (clang-format 14 does not settle on a layout) */
#define MG_LOG_SUBSYSTEMS(X)                                                                       \
    X(MAIN, "main")                                                                                \
    X(HTTP, "http")                                                                                \
    X(SIGV4, "sigv4")                                                                              \
    X(IAM, "iam")                                                                                  \
    X(STS, "sts")                                                                                  \
    X(STORE, "store")                                                                              \
    X(AGENTCORE, "agentcore")                                                                      \
    X(MCP, "mcp")                                                                                  \
    X(LAMBDA, "lambda")                                                                            \
    X(POLICY, "policy")                                                                            \
    X(AUDIT, "audit")                                                                              \
    X(TARGET, "target")                                                                            \
    X(OIDC, "oidc")
/* clang-format on */

enum mg_log_sub {
#define X(n, s) MG_SUB_##n,
    MG_LOG_SUBSYSTEMS(X)
#undef X
};

extern enum mg_log_level g_mg_log_level;

bool mg_log_parse_level(const char *s, enum mg_log_level *out);
/* req_id may be NULL. msg is printf-formatted text; it is JSON-escaped on output. */
void mg_log_write(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id, const char *fmt,
                  ...) MG_PRINTF(4, 5);

#define MG_LOG(lvl, sub, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= g_mg_log_level)                                                               \
            mg_log_write((lvl), (sub), NULL, __VA_ARGS__);                                         \
    } while (0)
#define MG_LOG_REQ(lvl, sub, rid, ...)                                                             \
    do {                                                                                           \
        if ((lvl) >= g_mg_log_level)                                                               \
            mg_log_write((lvl), (sub), (rid), __VA_ARGS__);                                        \
    } while (0)

#endif
