#include "base/err.h"

#include <stdio.h>

const char *mg_err_str(enum mg_err e)
{
    switch (e) {
#define X(name, num, msg, http)                                                                    \
    case MG_E_##name: return msg;
        MG_ERR_MAP(X)
#undef X
    }
    return "unknown error";
}

int mg_err_http_status(enum mg_err e)
{
    switch (e) {
#define X(name, num, msg, http)                                                                    \
    case MG_E_##name: return http;
        MG_ERR_MAP(X)
#undef X
    }
    return 500;
}

void mg_errinfo_vset(struct mg_errinfo *ei, enum mg_err code, const char *fmt, va_list ap)
{
    if (ei) {
        ei->code = code;
        vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
    }
}

enum mg_err mg_errinfo_set(struct mg_errinfo *ei, enum mg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_errinfo_vset(ei, code, fmt, ap);
    va_end(ap);
    return code;
}
