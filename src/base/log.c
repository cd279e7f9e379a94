/* src/base/log.c: JSON log lines. Before mg_log_start (and after mg_log_stop) a line is written to
 * the log's fd at once, as the CLI commands want. Once started, a line is formatted on the caller's
 * stack and copied into a bounded buffer under a short lock (no system call, no allocation); a
 * writer thread swaps that buffer with its spare and writes the batch with one write, then waits
 * batch_ms before the next one, so that a busy server makes one write each few milliseconds and
 * its event loops never wake the writer. A line that does not fit is dropped and counted; the
 * writer reports the count in a line of its own. */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "base/util.h"

enum mg_log_level g_mg_log_level = MG_LOG_INFO;

static const char *const s_level_names[] = {"debug", "info", "warn", "error", "off"};
static const char *const s_sub_names[] = {
#define X(n, s) s,
    MG_LOG_SUBSYSTEMS(X)
#undef X
};

/* A formatted line: a 2 KiB message escapes to at most 6 bytes a byte, plus the envelope. */
#define S_LINE_MAX (MG_LOG_MSG_MAX * 6 + 512)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the writer waits here (monotonic clock; set up by the first start) */
    pthread_cond_t done; /* mg_log_flush waits here for batches to be written */
    int fd;
    bool running, stopping, idle, flush_wanted;
    pthread_t thread;
    uint8_t *cur, *spare; /* producers fill cur; the writer writes spare */
    size_t cur_len, cap;
    unsigned batch_ms;
    uint64_t dropped_unreported, dropped_total;
    uint64_t swaps, written; /* batches taken by the writer, batches written */
    bool atexit_set, wake_ready;
} s_log = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .fd = 2,
};

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

/* Writes everything, retrying after signals and short writes; gives up on other errors (a log
 * that cannot be written must not stop the server). */
static void s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* The line's time, "2026-12-03T16:13:18.729Z": the calendar part is worked out once a second per
 * thread (a busy loop logs thousands of lines a second). */
static void s_time(char out[25])
{
    static _Thread_local int64_t sec = INT64_MIN;
    static _Thread_local char head[20]; /* "2026-12-03T16:13:18" */
    int64_t ms = mg_now_ms(), t = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        t--;
    }
    if (t != sec) {
        char full[25];
        mg_time_iso8601_ms(t * 1000, full);
        mg_memcpy(head, full, 19);
        sec = t;
    }
    mg_memcpy(out, head, 19);
    out[19] = '.';
    out[20] = (char)('0' + frac / 100);
    out[21] = (char)('0' + frac / 10 % 10);
    out[22] = (char)('0' + frac % 10);
    out[23] = 'Z';
    out[24] = 0;
}

/* Formats one line into b (fixed storage, never reallocated). */
static enum mg_err s_format(struct mg_buf *b, enum mg_log_level lvl, enum mg_log_sub sub,
                            const char *req_id, const char *msg, size_t mlen)
{
    char ts[25];
    s_time(ts);
    MG_TRY(mg_buf_append_cstr(b, "{\"time\":\""));
    MG_TRY(mg_buf_append_cstr(b, ts));
    MG_TRY(mg_buf_append_cstr(b, "\",\"level\":\""));
    MG_TRY(mg_buf_append_cstr(b, s_level_names[lvl]));
    MG_TRY(mg_buf_append_cstr(b, "\",\"sub\":\""));
    MG_TRY(mg_buf_append_cstr(b, s_sub_names[sub]));
    MG_TRY(mg_buf_append_byte(b, '"'));
    if (req_id) {
        MG_TRY(mg_buf_append_cstr(b, ",\"req_id\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(req_id)));
        MG_TRY(mg_buf_append_byte(b, '"'));
    }
    MG_TRY(mg_buf_append_cstr(b, ",\"msg\":\""));
    MG_TRY(mg_buf_append_json_str(b, mg_slice_make(msg, mlen)));
    return mg_buf_append_cstr(b, "\"}\n");
}

/* Called with the lock held. */
static void s_push_locked(const uint8_t *p, size_t n)
{
    if (!s_log.running) {
        s_write_all(s_log.fd, p, n);
        return;
    }
    if (n > s_log.cap - s_log.cur_len) {
        s_log.dropped_unreported++;
        s_log.dropped_total++;
    } else {
        mg_memcpy(s_log.cur + s_log.cur_len, p, n);
        s_log.cur_len += n;
    }
    if (s_log.idle || s_log.cur_len >= s_log.cap / 2) {
        /* one wake-up a batch, not one a line: the writer is either asleep with nothing to do,
         * or gathering a batch that is now big enough */
        s_log.idle = false;
        pthread_cond_signal(&s_log.wake);
    }
}

void mg_log_text(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id,
                 struct mg_slice msg)
{
    size_t mlen = msg.len < MG_LOG_MSG_MAX ? msg.len : MG_LOG_MSG_MAX - 1;
    uint8_t storage[S_LINE_MAX];
    struct mg_buf line = {.ptr = storage, .len = 0, .cap = sizeof(storage), .max = S_LINE_MAX - 1};
    if (s_format(&line, lvl, sub, req_id, (const char *)msg.ptr, mlen) != MG_E_OK)
        return;
    pthread_mutex_lock(&s_log.lock);
    s_push_locked(line.ptr, line.len);
    pthread_mutex_unlock(&s_log.lock);
}

void mg_log_write(enum mg_log_level lvl, enum mg_log_sub sub, const char *req_id, const char *fmt,
                  ...)
{
    char msg[MG_LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t mlen = (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;

    uint8_t storage[S_LINE_MAX];
    /* max < cap: the buffer never grows, so it never leaves the stack */
    struct mg_buf line = {.ptr = storage, .len = 0, .cap = sizeof(storage), .max = S_LINE_MAX - 1};
    if (s_format(&line, lvl, sub, req_id, msg, mlen) != MG_E_OK)
        return;
    pthread_mutex_lock(&s_log.lock);
    s_push_locked(line.ptr, line.len);
    pthread_mutex_unlock(&s_log.lock);
}

static void *s_writer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&s_log.lock);
    for (;;) {
        while (s_log.cur_len == 0 && s_log.dropped_unreported == 0 && !s_log.stopping) {
            s_log.idle = true;
            pthread_cond_wait(&s_log.wake, &s_log.lock);
        }
        s_log.idle = false;
        if (s_log.cur_len == 0 && s_log.dropped_unreported == 0)
            break; /* stopping, and everything is written */
        s_log.flush_wanted = false;
        uint8_t *batch = s_log.cur;
        size_t len = s_log.cur_len;
        uint64_t dropped = s_log.dropped_unreported;
        s_log.cur = s_log.spare;
        s_log.spare = batch;
        s_log.cur_len = 0;
        s_log.dropped_unreported = 0;
        s_log.swaps++;
        pthread_mutex_unlock(&s_log.lock);

        s_write_all(s_log.fd, batch, len);
        if (dropped) {
            char msg[128];
            int m = snprintf(msg, sizeof(msg),
                             "log buffer full: %llu line(s) dropped since the last report",
                             (unsigned long long)dropped);
            uint8_t storage[512];
            struct mg_buf line = {.ptr = storage, .cap = sizeof(storage), .max = 511};
            if (m > 0 && s_format(&line, MG_LOG_WARN, MG_SUB_MAIN, NULL, msg,
                                  (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1) == MG_E_OK)
                s_write_all(s_log.fd, line.ptr, line.len);
        }

        pthread_mutex_lock(&s_log.lock);
        s_log.written++;
        pthread_cond_broadcast(&s_log.done);
        /* At most one write each batch_ms: lines that arrive meanwhile gather into one batch and
         * their callers do not wake this thread (it is not idle). A line that finds the writer
         * idle is written at once. */
        if (s_log.batch_ms && s_log.cur_len < s_log.cap / 2) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += (long)s_log.batch_ms * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            while (!s_log.stopping && !s_log.flush_wanted && s_log.cur_len < s_log.cap / 2)
                if (pthread_cond_timedwait(&s_log.wake, &s_log.lock, &until) == ETIMEDOUT)
                    break;
        }
    }
    s_log.running = false; /* from here on, lines are written by their callers */
    pthread_cond_broadcast(&s_log.done);
    pthread_mutex_unlock(&s_log.lock);
    return NULL;
}

static void s_at_exit(void)
{
    mg_log_stop();
}

enum mg_err mg_log_start(const struct mg_log_writer_config *cfg)
{
    size_t cap = cfg && cfg->buffer_bytes ? cfg->buffer_bytes : MG_LOG_BUFFER_DEFAULT;
    if (cap < S_LINE_MAX)
        cap = S_LINE_MAX;
    pthread_mutex_lock(&s_log.lock);
    if (s_log.running || s_log.stopping) {
        pthread_mutex_unlock(&s_log.lock);
        return MG_E_OK;
    }
    pthread_mutex_unlock(&s_log.lock);

    uint8_t *a = mg_malloc(cap), *b = mg_malloc(cap);
    if (a == NULL || b == NULL) {
        mg_free(a);
        mg_free(b);
        return MG_E_NOMEM;
    }
    pthread_mutex_lock(&s_log.lock);
    if (!s_log.wake_ready) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s_log.wake, &ca);
        pthread_condattr_destroy(&ca);
        s_log.wake_ready = true;
    }
    s_log.cur = a;
    s_log.spare = b;
    s_log.cap = cap;
    s_log.cur_len = 0;
    s_log.batch_ms = cfg && cfg->batch_ms ? cfg->batch_ms : MG_LOG_BATCH_MS_DEFAULT;
    s_log.dropped_unreported = 0;
    s_log.idle = false;
    s_log.flush_wanted = false;
    s_log.running = true;
    /* the writer takes no signals: serve waits for them on its main thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&s_log.thread, NULL, s_writer, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        s_log.running = false;
        s_log.cur = s_log.spare = NULL;
        pthread_mutex_unlock(&s_log.lock);
        mg_free(a);
        mg_free(b);
        return MG_E_NOMEM;
    }
    bool first = !s_log.atexit_set;
    s_log.atexit_set = true;
    pthread_mutex_unlock(&s_log.lock);
    if (first)
        atexit(s_at_exit);
    return MG_E_OK;
}

void mg_log_flush(void)
{
    pthread_mutex_lock(&s_log.lock);
    if (!s_log.running) {
        pthread_mutex_unlock(&s_log.lock);
        return;
    }
    /* the batch being written now (if any) and the one being filled (if not empty) */
    uint64_t target = s_log.swaps;
    if (s_log.cur_len || s_log.dropped_unreported) {
        target++;
        s_log.flush_wanted = true;
        s_log.idle = false;
        pthread_cond_signal(&s_log.wake);
    }
    while (s_log.running && s_log.written < target)
        pthread_cond_wait(&s_log.done, &s_log.lock);
    pthread_mutex_unlock(&s_log.lock);
}

void mg_log_stop(void)
{
    pthread_mutex_lock(&s_log.lock);
    if (!s_log.running || s_log.stopping) {
        pthread_mutex_unlock(&s_log.lock);
        return;
    }
    s_log.stopping = true;
    pthread_cond_signal(&s_log.wake);
    pthread_mutex_unlock(&s_log.lock);
    pthread_join(s_log.thread, NULL);
    pthread_mutex_lock(&s_log.lock);
    uint8_t *a = s_log.cur, *b = s_log.spare;
    s_log.cur = s_log.spare = NULL;
    s_log.cap = 0;
    s_log.stopping = false;
    pthread_mutex_unlock(&s_log.lock);
    mg_free(a);
    mg_free(b);
}

uint64_t mg_log_dropped(void)
{
    pthread_mutex_lock(&s_log.lock);
    uint64_t n = s_log.dropped_total;
    pthread_mutex_unlock(&s_log.lock);
    return n;
}

void mg_log_set_fd(int fd)
{
    pthread_mutex_lock(&s_log.lock);
    s_log.fd = fd;
    pthread_mutex_unlock(&s_log.lock);
}
