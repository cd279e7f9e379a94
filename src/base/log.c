#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/slice.h"
#include "base/util.h"

enum mg_log_level g_mg_log_level = MG_LOG_INFO;

static const char *const s_level_names[] = {"debug", "info", "warn", "error", "off"};
static const char *const s_sub_names[] = {
#define X(n, s) s,
    MG_LOG_SUBSYSTEMS(X)
#undef X
};
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

bool mg_log_parse_level(const char *s, enum mg_log_level *out)
{
    for (int i = 0; i <= MG_LOG_OFF; i++) {
        if (strcmp(s, s_level_names[i]) == 0) {
            *out = (enum mg_log_level)i;
            return true;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = MG_LOG_WARN;
        return true;
    }
    return false;
}

void mg_log_write(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id, const char *fmt,
                  ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;

    char ts[25];
    mg_time_iso8601_ms(mg_now_ms(), ts);
    struct mg_buf line;
    mg_buf_init(&line, 8192);
    enum mg_err e = mg_buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"sub\":\"%s\"", ts,
                                  s_level_names[lvl], s_sub_names[sub]);
    if (!e && req_id)
        e = mg_buf_printf(&line, ",\"req_id\":\"%s\"", req_id);
    if (!e)
        e = mg_buf_append_cstr(&line, ",\"msg\":\"");
    if (!e)
        e = mg_buf_append_json_str(&line, mg_slice_make(msg, mlen));
    if (!e)
        e = mg_buf_append_cstr(&line, "\"}\n");
    if (!e) {
        pthread_mutex_lock(&s_lock);
        fwrite(line.ptr, 1, line.len, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&s_lock);
    }
    mg_buf_cleanup(&line);
}
