/* tests/unit/base_log_test.c: the log writer (src/base/log.c): lines in order, per thread and
 * overall; a full buffer drops lines and says how many; everything buffered is written at stop;
 * lines before start and after stop go out at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/slice.h"
#include "base/util.h"
#include "unit/leaks.h"

/* A pipe that a thread drains into memory, so that the test can read what was written. */
struct s_sink {
    int fds[2];
    pthread_t reader;
    char *data;
    size_t len, cap;
    bool paused; /* the reader waits until resumed: the pipe fills up */
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void *s_sink_read(void *arg)
{
    struct s_sink *s = arg;
    pthread_mutex_lock(&s->lock);
    while (s->paused)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    char buf[65536];
    for (;;) {
        ssize_t n = read(s->fds[0], buf, sizeof(buf));
        if (n <= 0)
            break;
        pthread_mutex_lock(&s->lock);
        if (s->len + (size_t)n + 1 > s->cap) {
            size_t cap = (s->len + (size_t)n + 1) * 2;
            char *p = realloc(s->data, cap); /* test memory, not the counted allocator */
            if (p == NULL)
                abort();
            s->data = p;
            s->cap = cap;
        }
        memcpy(s->data + s->len, buf, (size_t)n);
        s->len += (size_t)n;
        s->data[s->len] = 0;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

static void s_sink_open(struct s_sink *s, bool paused)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->paused = paused;
    assert_int_equal(pipe(s->fds), 0);
    assert_int_equal(pthread_create(&s->reader, NULL, s_sink_read, s), 0);
    mg_log_set_fd(s->fds[1]);
}

static void s_sink_resume(struct s_sink *s)
{
    pthread_mutex_lock(&s->lock);
    s->paused = false;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Closes the write end and waits for the reader to see the end. */
static void s_sink_close(struct s_sink *s)
{
    mg_log_set_fd(2);
    s_sink_resume(s);
    close(s->fds[1]);
    pthread_join(s->reader, NULL);
    close(s->fds[0]);
    if (s->data == NULL)
        s->data = calloc(1, 1);
}

static void s_sink_free(struct s_sink *s)
{
    free(s->data);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

static size_t s_count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_base_log_direct_before_start_and_after_stop(void **state)
{
    (void)state;
    enum mg_log_level saved = g_mg_log_level;
    g_mg_log_level = MG_LOG_INFO;
    struct s_sink s;
    s_sink_open(&s, false);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "before \"start\"");
    MG_LOG(MG_LOG_DEBUG, MG_SUB_MAIN, "below the level");
    mg_log_stop(); /* not started: nothing to do */
    mg_log_flush();
    s_sink_close(&s);
    assert_non_null(strstr(s.data, "\"level\":\"info\",\"sub\":\"main\",\"msg\":\"before "
                                   "\\\"start\\\"\"}\n"));
    assert_null(strstr(s.data, "below the level"));
    assert_int_equal(s.data[0], '{');
    s_sink_free(&s);
    g_mg_log_level = saved;
}

/* The "time" of a line: the calendar part is kept per thread for the second it names, so a new
 * second (or a pinned clock moved back) must show at once, and the milliseconds every time. */
static void test_base_log_time_field(void **state)
{
    (void)state;
    enum mg_log_level saved = g_mg_log_level;
    g_mg_log_level = MG_LOG_INFO;
    struct s_sink s;
    s_sink_open(&s, false);
    mg_time_pin(1796314398); /* 2026-12-03T16:13:18Z */
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "one");
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "two");
    mg_time_pin(1796314399);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "three");
    mg_time_pin(946684799); /* 1999-12-31T23:59:59Z: back in time */
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "four");
    mg_time_pin(0);
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "five");
    int64_t now = mg_now_ms();
    s_sink_close(&s);
    assert_non_null(strstr(s.data, "{\"time\":\"2026-12-03T16:13:18.000Z\",\"level\":\"info\","
                                   "\"sub\":\"main\",\"msg\":\"one\"}\n"));
    assert_non_null(strstr(s.data, "\"time\":\"2026-12-03T16:13:18.000Z\",\"level\":\"info\","
                                   "\"sub\":\"main\",\"msg\":\"two\""));
    assert_non_null(strstr(s.data, "\"time\":\"2026-12-03T16:13:19.000Z\",\"level\":\"info\","
                                   "\"sub\":\"main\",\"msg\":\"three\""));
    assert_non_null(strstr(s.data, "\"time\":\"1999-12-31T23:59:59.000Z\",\"level\":\"info\","
                                   "\"sub\":\"main\",\"msg\":\"four\""));
    /* the real clock again: the line's time is the one formatted in full, give or take */
    const char *five = strstr(s.data, "\"msg\":\"five\"");
    assert_non_null(five);
    const char *line = five;
    while (line > s.data && line[-1] != '\n')
        line--;
    assert_int_equal(strncmp(line, "{\"time\":\"", 9), 0);
    int64_t t = 0;
    assert_true(mg_time_parse_iso8601(mg_slice_make(line + 9, 24), &t));
    assert_true(t <= now / 1000 + 1 && t >= now / 1000 - 2);
    assert_int_equal(line[9 + 19], '.');
    assert_int_equal(line[9 + 23], 'Z');
    s_sink_free(&s);
    g_mg_log_level = saved;
}

static void test_base_log_order_and_flush_at_stop(void **state)
{
    (void)state;
    struct s_sink s;
    s_sink_open(&s, false);
    /* a long batching delay: only mg_log_flush and mg_log_stop make the lines come out early */
    struct mg_log_writer_config cfg = {.buffer_bytes = 1 << 20, .batch_ms = 60000};
    if (mg_log_start(&cfg) != MG_E_OK) {
        s_sink_close(&s);
        s_sink_free(&s);
        return; /* allocation failure (torture mode) */
    }
    mg_log_write(MG_LOG_WARN, MG_SUB_HTTP, "rid-1", "first %d", 1);
    mg_log_flush();
    /* out of the writer: the reader thread sees it at once, long before the 60 s batch delay */
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        pthread_mutex_lock(&s.lock);
        seen = s.data && strstr(s.data, "first 1");
        pthread_mutex_unlock(&s.lock);
        if (!seen)
            nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    assert_true(seen);
    /* the writer now waits out its batch delay: flush makes the next line come out too */
    mg_log_write(MG_LOG_INFO, MG_SUB_HTTP, NULL, "second");
    mg_log_flush();
    seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        pthread_mutex_lock(&s.lock);
        seen = s.data && strstr(s.data, "second");
        pthread_mutex_unlock(&s.lock);
        if (!seen)
            nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    assert_true(seen);
    for (int i = 0; i < 500; i++)
        mg_log_write(MG_LOG_INFO, MG_SUB_MCP, NULL, "line %04d", i);
    mg_log_stop();
    MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "after stop");
    s_sink_close(&s);
    assert_non_null(strstr(s.data, "\"level\":\"warn\",\"sub\":\"http\",\"req_id\":\"rid-1\","
                                   "\"msg\":\"first 1\"}\n"));
    const char *p = s.data;
    for (int i = 0; i < 500; i++) {
        char want[32];
        snprintf(want, sizeof(want), "line %04d\"}\n", i);
        const char *q = strstr(p, want);
        assert_non_null(q);
        p = q + 1;
    }
    assert_non_null(strstr(p, "after stop"));
    assert_int_equal(s_count(s.data, "\n"), 503);
    s_sink_free(&s);
}

#define S_THREADS 8
#define S_PER_THREAD 3000

static void *s_producer(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < S_PER_THREAD; i++)
        mg_log_write(MG_LOG_INFO, MG_SUB_HTTP, NULL, "t%d n%d", t, i);
    return NULL;
}

static void test_base_log_many_threads_keep_their_order(void **state)
{
    (void)state;
    struct s_sink s;
    s_sink_open(&s, false);
    uint64_t dropped0 = mg_log_dropped();
    struct mg_log_writer_config cfg = {.buffer_bytes = 64 * 1024, .batch_ms = 1};
    if (mg_log_start(&cfg) != MG_E_OK) {
        s_sink_close(&s);
        s_sink_free(&s);
        return;
    }
    pthread_t th[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, s_producer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < S_THREADS; t++)
        pthread_join(th[t], NULL);
    mg_log_stop();
    s_sink_close(&s);
    uint64_t dropped = mg_log_dropped() - dropped0;

    /* every line whole, each thread's lines in increasing order, none twice */
    int last[S_THREADS];
    for (int t = 0; t < S_THREADS; t++)
        last[t] = -1;
    size_t got = 0;
    uint64_t reported = 0;
    for (char *line = s.data; *line;) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        assert_int_equal(line[0], '{');
        assert_int_equal(nl[-1], '}');
        const char *m = strstr(line, "\"msg\":\"");
        assert_non_null(m);
        m += 7;
        int t, i;
        unsigned long long k;
        if (sscanf(m, "t%d n%d", &t, &i) == 2) {
            assert_true(t >= 0 && t < S_THREADS);
            assert_true(i > last[t]);
            last[t] = i;
            got++;
        } else {
            assert_int_equal(sscanf(m, "log buffer full: %llu line(s) dropped", &k), 1);
            reported += k;
        }
        line = nl + 1;
    }
    assert_int_equal(got + dropped, (uint64_t)S_THREADS * S_PER_THREAD);
    assert_int_equal(reported, dropped);
    s_sink_free(&s);
}

static void test_base_log_full_buffer_drops_and_reports(void **state)
{
    (void)state;
    struct s_sink s;
    /* nobody reads the pipe yet: the writer blocks in write() once the pipe is full, and the
     * buffer then fills up */
    s_sink_open(&s, true);
    uint64_t dropped0 = mg_log_dropped();
    struct mg_log_writer_config cfg = {.buffer_bytes = 1, .batch_ms = 1}; /* the smallest */
    if (mg_log_start(&cfg) != MG_E_OK) {
        s_sink_close(&s);
        s_sink_free(&s);
        return;
    }
    char big[1500];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    const int total = 400; /* 600 KB: more than the pipe and both buffers hold */
    for (int i = 0; i < total; i++)
        mg_log_write(MG_LOG_INFO, MG_SUB_HTTP, NULL, "big %d %s", i, big);
    uint64_t dropped = mg_log_dropped() - dropped0;
    assert_true(dropped > 0);
    s_sink_resume(&s);
    mg_log_stop();
    s_sink_close(&s);
    size_t got = s_count(s.data, "\"msg\":\"big ");
    assert_int_equal(got + dropped, (uint64_t)total);
    /* the count is reported, in lines after the ones written before the drops */
    uint64_t reported = 0;
    for (const char *p = strstr(s.data, "log buffer full: "); p;
         p = strstr(p + 1, "log buffer full: ")) {
        unsigned long long k = 0;
        assert_int_equal(sscanf(p, "log buffer full: %llu line(s) dropped", &k), 1);
        reported += k;
    }
    assert_int_equal(reported, dropped);
    assert_true(strstr(s.data, "log buffer full") > strstr(s.data, "\"msg\":\"big 0 "));
    s_sink_free(&s);
}

static void test_base_log_restart(void **state)
{
    (void)state;
    struct s_sink s;
    s_sink_open(&s, false);
    for (int round = 0; round < 3; round++) {
        if (mg_log_start(NULL) != MG_E_OK)
            break;
        assert_int_equal(mg_log_start(NULL), MG_E_OK); /* already running: nothing happens */
        mg_log_write(MG_LOG_INFO, MG_SUB_MAIN, NULL, "round %d", round);
        mg_log_stop();
    }
    s_sink_close(&s);
    assert_true(s_count(s.data, "\"msg\":\"round ") <= 3);
    s_sink_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_log_direct_before_start_and_after_stop),
        cmocka_unit_test(test_base_log_time_field),
        cmocka_unit_test(test_base_log_order_and_flush_at_stop),
        cmocka_unit_test(test_base_log_many_threads_keep_their_order),
        cmocka_unit_test(test_base_log_full_buffer_drops_and_reports),
        cmocka_unit_test(test_base_log_restart),
    };
    return MG_RUN_TESTS(tests);
}
