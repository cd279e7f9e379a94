/* src/base/log.h: one JSON line per event on stderr. Never pass secrets, signatures or tokens. */
#ifndef MG_LOG_H
#define MG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

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
/* req_id may be NULL. msg is printf-formatted text (at most MG_LOG_MSG_MAX - 1 bytes are kept);
 * it is JSON-escaped on output. Never blocks on the output once the writer runs: see below. */
void mg_log_write(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id, const char *fmt,
                  ...) MG_PRINTF(4, 5);

/* The same for a message that is already text (no printf): the line costs a copy and the JSON
 * escaping. msg longer than MG_LOG_MSG_MAX - 1 bytes is cut there, as with mg_log_write. */
void mg_log_text(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id,
                 struct mg_slice msg);

/* The log writer. Until mg_log_start, and again after mg_log_stop, mg_log_write writes each line
 * at once (one write(2) under a lock). In between, a line is copied into a bounded buffer and a
 * writer thread writes the buffer in batches: at once when it was idle, else at most batch_ms
 * after its previous write (sooner when the buffer is half full). A line that does not fit is dropped, never waited for; the writer
 * then writes a line of its own with the count ("log buffer full: N line(s) dropped ...").
 * Lines keep the order in which mg_log_write was called. mg_log_stop writes everything buffered
 * and is also run at exit(). Thread-safe, callable from any thread. */
#define MG_LOG_MSG_MAX 2048
#define MG_LOG_BUFFER_DEFAULT (1024u * 1024u)
#define MG_LOG_BATCH_MS_DEFAULT 2u
struct mg_log_writer_config {
    size_t buffer_bytes; /* 0 = MG_LOG_BUFFER_DEFAULT; at least one line's worst case */
    unsigned batch_ms;   /* 0 = MG_LOG_BATCH_MS_DEFAULT */
};
/* cfg may be NULL. A no-op when the writer already runs. MG_E_NOMEM if it cannot start (lines
 * are then written at once, as before). */
MG_MUST_USE enum mg_err mg_log_start(const struct mg_log_writer_config *cfg);
/* Returns once every line written before the call is out (or at once when not started). */
void mg_log_flush(void);
/* Writes everything buffered, stops the writer thread. Lines written afterwards go out at once. */
void mg_log_stop(void);
/* Lines dropped because the buffer was full, since the process started. */
uint64_t mg_log_dropped(void);
/* Where lines go (default 2, stderr); for tests. */
void mg_log_set_fd(int fd);

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
