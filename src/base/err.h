/* src/base/err.h: one error enum for the whole project, with a client-safe detail record. */
#ifndef MG_ERR_H
#define MG_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define MG_MUST_USE __attribute__((warn_unused_result))
#define MG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* name, number, message, HTTP status */
#define MG_ERR_MAP(X)                                                                              \
    X(OK, 0, "ok", 200)                                                                            \
    X(NOMEM, 1, "out of memory", 503)                                                              \
    X(TOO_LARGE, 2, "limit exceeded", 413)                                                         \
    X(PARSE, 3, "malformed", 400)                                                                  \
    X(AUTH, 4, "signature mismatch", 403)                                                          \
    X(DENIED, 5, "denied", 403)                                                                    \
    X(NOT_FOUND, 6, "not found", 404)                                                              \
    X(STORE, 7, "storage failure", 500)                                                            \
    X(UPSTREAM, 8, "target failed", 502)                                                           \
    X(CONFLICT, 9, "conflict", 409)                                                                \
    X(INVALID, 10, "invalid value", 400)                                                           \
    X(IO, 11, "i/o failure", 500)                                                                  \
    X(INTERNAL, 12, "internal error", 500)                                                         \
    X(UNAVAILABLE, 13, "store unavailable", 503)

enum mg_err {
#define X(name, num, msg, http) MG_E_##name = (num),
    MG_ERR_MAP(X)
#undef X
};

const char *mg_err_str(enum mg_err e);
int mg_err_http_status(enum mg_err e);

/* Client-safe detail of an error. */
struct mg_errinfo {
    enum mg_err code;
    char msg[512];
};

/* Sets ei (may be NULL) and returns code, so callers can `return mg_errinfo_set(...)`. */
enum mg_err mg_errinfo_set(struct mg_errinfo *ei, enum mg_err code, const char *fmt, ...)
    MG_PRINTF(3, 4);

/* The same with a va_list, for functions that wrap it. */
void mg_errinfo_vset(struct mg_errinfo *ei, enum mg_err code, const char *fmt, va_list ap)
    MG_PRINTF(3, 0);

#define MG_TRY(expr)                                                                               \
    do {                                                                                           \
        enum mg_err mg_try_err_ = (expr);                                                          \
        if (mg_try_err_ != MG_E_OK)                                                                \
            return mg_try_err_;                                                                    \
    } while (0)

#endif
