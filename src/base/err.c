#include "base/err.h"

#include <stdio.h>

const char *mg_err_str(enum mg_err e)
{
    switch (e) {
#define X(name, num, msg, http)                                                                    \
    case MG_E_##name:                                                                              \
        return msg;
        MG_ERR_MAP(X)
#undef X
    }
    return "unknown error";
}

int mg_err_http_status(enum mg_err e)
{
    switch (e) {
#define X(name, num, msg, http)                                                                    \
    case MG_E_##name:                                                                              \
        return http;
        MG_ERR_MAP(X)
#undef X
    }
    return 500;
}

enum mg_err mg_errinfo_set(struct mg_errinfo *ei, enum mg_err code, const char *fmt, ...)
{
    if (ei) {
        va_list ap;
        va_start(ap, fmt);
        ei->code = code;
        vsnprintf(ei->msg, sizeof(ei->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
