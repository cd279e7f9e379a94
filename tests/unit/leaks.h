/* tests/unit/leaks.h: every unit test binary runs on the counting allocator, JSON included
 * (mg_json_use_counting_allocator), and fails when blocks allocated by its tests are still live
 * when the group ends. Use MG_RUN_TESTS(tests) in main. (cmocka does not count a failed group
 * teardown in its exit status, hence the check after the run.)
 *
 * Allocation-failure ("torture") mode, as curl's -t and SQLite's OOM tests: with MG_TORTURE=1 in
 * the environment, MG_RUN_TESTS runs each test (with its setup and teardown) in a forked child
 * once to count its allocation requests (N), then once per failure point k, in a fresh child,
 * with the k-th request failing. Every point is tried when N <= MG_TORTURE_LIMIT (default 300);
 * above it, a stride spreads MG_TORTURE_LIMIT points over 1..N. A child
 *   - whose test body returned must have freed every block (a leak on an error path fails);
 *   - may fail a cmocka assertion (exit 255) only when an injected failure happened before it:
 *     the code answered an error, which the test's result check did not expect;
 *   - fails the run when it dies any other way: a signal, a sanitizer report, abort(), a hang
 *     (MG_TORTURE_TIMEOUT seconds, default 60, per child).
 * The child's output is kept and printed only for a failure. The binary's exit status is the
 * number of failed points (capped at 255 by the shell), 0 when all pass. */
#ifndef MG_TEST_LEAKS_H
#define MG_TEST_LEAKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"

#ifndef RTLD_NEXT /* glibc declares it only under _GNU_SOURCE */
#define RTLD_NEXT ((void *)-1L)
#endif

static long s_leaks_base;

static inline int mg_leaks_setup(void **state)
{
    (void)state;
    s_leaks_base = mg_alloc_live();
    return 0;
}

/* The failed-test count of a run, plus one when blocks are left live. */
static inline int mg_leaks_done(int failed)
{
    long live = mg_alloc_live();
    if (live != s_leaks_base) {
        fprintf(stderr, "leak: %ld block(s) still live after the tests\n", live - s_leaks_base);
        return failed + 1;
    }
    return failed;
}

/* What a torture child reports through shared memory: written as the child goes, so that the
 * parent still knows how far it got when the child exits through cmocka's exit(-1). */
struct mg_torture_report {
    long calls;    /* allocation requests made by the test (setup + body + teardown) */
    long injected; /* injected failures that fired, in the test's process or its children */
    int body_done; /* the test function returned */
    int leaked;    /* blocks left live after the teardown (when body_done) */
    int skipped;   /* the test called skip() */
};

static struct mg_torture_report *s_torture_report;

/* Set before MG_RUN_TESTS when the code under test keeps process-wide or per-thread caches
 * (mg_iam_policy_cache_clear, mg_sigv4_thread_cleanup): it is called before live blocks are
 * counted, after the group in a normal run and after each test's teardown in torture mode. */
static void (*mg_torture_release)(void);

static inline int mg_leaks_release(int failed)
{
    if (mg_torture_release)
        mg_torture_release();
    return failed;
}

/* cmocka's skip() outside its runner exits with the status of a failed assertion; this
 * definition, which the test binary's calls bind to before libcmocka's, records the skip for the
 * torture parent and otherwise hands over to cmocka's own _skip. */
void _skip(const char *const file, const int line)
{
    if (s_torture_report)
        s_torture_report->skipped = 1;
    void (*real)(const char *const, const int);
    *(void **)&real = dlsym(RTLD_NEXT, "_skip");
    if (real)
        real(file, line);
    exit(255);
}

/* jansson 2.14 (Debian 12) crashes in json_loadb when an allocation fails while it parses (a
 * string value's json_t, for one: `MG_TORTURE_POINT` and the reproducer in tests/README.md), which
 * is jansson's bug and not the caller's. Until the library is fixed, torture mode injects no
 * failure inside the parser: the test binary's calls bind to these json_load* functions, which
 * hold the pending failure over the parse and hand it on to the next allocation after it. */
static inline long mg_torture_parse_begin(void)
{
    long pending = s_torture_report ? mg_alloc_fail_pending() : 0;
    if (pending)
        mg_alloc_fail_after(0);
    return pending;
}

static inline void mg_torture_parse_end(long pending)
{
    if (pending)
        mg_alloc_fail_after(pending);
}

static inline void *mg_torture_real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL)
        abort();
    return f;
}

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error)
{
    json_t *(*real)(const char *, size_t, size_t, json_error_t *);
    *(void **)&real = mg_torture_real("json_loadb");
    long pending = mg_torture_parse_begin();
    json_t *v = real(buffer, buflen, flags, error);
    mg_torture_parse_end(pending);
    return v;
}

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
    json_t *(*real)(const char *, size_t, json_error_t *);
    *(void **)&real = mg_torture_real("json_loads");
    long pending = mg_torture_parse_begin();
    json_t *v = real(input, flags, error);
    mg_torture_parse_end(pending);
    return v;
}

json_t *json_load_file(const char *path, size_t flags, json_error_t *error)
{
    json_t *(*real)(const char *, size_t, json_error_t *);
    *(void **)&real = mg_torture_real("json_load_file");
    long pending = mg_torture_parse_begin();
    json_t *v = real(path, flags, error);
    mg_torture_parse_end(pending);
    return v;
}

/* cmocka's assert_string_equal passes a NULL to strcmp and dies on SIGSEGV; a test that checks
 * a string which an injected failure left NULL must fail the assertion instead, so this one,
 * which the test binary's calls bind to, fails it and leaves the rest to cmocka's. */
void _assert_string_equal(const char *const a, const char *const b, const char *const file,
                          const int line)
{
    if (a == NULL || b == NULL) {
        if (a == b)
            return;
        print_error("%s:%d: a NULL string where \"%s\" was expected\n", file, line, a ? a : b);
        _fail(file, line);
        return;
    }
    void (*real)(const char *const, const char *const, const char *const, const int);
    *(void **)&real = mg_torture_real("_assert_string_equal");
    real(a, b, file, line);
}

/* Runs in the process where an injected failure fires, the test's own children included: the
 * report lives in memory shared with the torture parent. */
static inline void mg_torture_injected(void)
{
    if (s_torture_report)
        __atomic_add_fetch(&s_torture_report->injected, 1, __ATOMIC_RELAXED);
}

static inline long mg_torture_env(const char *name, long dflt)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return dflt;
    char *end = NULL;
    long n = strtol(v, &end, 10);
    return (end && *end == '\0' && n > 0) ? n : dflt;
}

/* Runs one test in this (child) process, with allocation k failing (0: none), then exits. */
static inline void mg_torture_child(const struct CMUnitTest *t, long k)
{
    void *state = t->initial_state;
    mg_alloc_on_injected(mg_torture_injected);
    long base_live = mg_alloc_live();
    long base_calls = mg_alloc_calls();
    mg_alloc_fail_after(k);
    if (t->setup_func && t->setup_func(&state) != 0) {
        /* A setup that fails under an injected failure is an error answer; count it as such. */
        s_torture_report->calls = mg_alloc_calls() - base_calls;
        exit(s_torture_report->injected > 0 ? 255 : 4);
    }
    t->test_func(&state);
    if (t->teardown_func)
        (void)t->teardown_func(&state);
    mg_alloc_fail_after(0);
    if (mg_torture_release)
        mg_torture_release();
    s_torture_report->calls = mg_alloc_calls() - base_calls;
    s_torture_report->body_done = 1;
    s_torture_report->leaked = (int)(mg_alloc_live() - base_live);
    exit(s_torture_report->leaked ? 3 : 0);
}

/* Forks a child for (test, k); returns 0 when its outcome is acceptable, 1 when not, and fills
 * *calls with the allocation requests it made. */
static inline int mg_torture_point(const struct CMUnitTest *t, long k, long timeout, long *calls)
{
    struct mg_torture_report *r = s_torture_report;
    r->calls = 0;
    r->injected = 0;
    r->body_done = 0;
    r->leaked = 0;
    r->skipped = 0;
    FILE *log = tmpfile();
    if (log == NULL) {
        perror("torture: tmpfile");
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        perror("torture: fork");
        fclose(log);
        return 1;
    }
    if (pid == 0) {
        dup2(fileno(log), STDOUT_FILENO);
        dup2(fileno(log), STDERR_FILENO);
        alarm((unsigned)timeout);
        mg_torture_child(t, k);
        _exit(0); /* not reached */
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    *calls = r->calls;
    const char *why = NULL;
    if (WIFSIGNALED(status))
        why = WTERMSIG(status) == SIGALRM ? "hung" : "died on a signal";
    else if (!WIFEXITED(status))
        why = "did not exit";
    else if (WEXITSTATUS(status) == 0 && r->body_done)
        why = NULL;
    else if (WEXITSTATUS(status) == 3 && r->body_done)
        why = "leaked blocks";
    else if (WEXITSTATUS(status) == 255 && !r->body_done)
        why = r->injected > 0 || r->skipped ? NULL : "failed an assertion, no failure injected";
    else
        why = "exited abnormally (sanitizer report, abort or setup failure)";
    if (why) {
        fprintf(stderr, "torture: %s, allocation %ld failing: %s (status 0x%x, leaked %d)\n",
                t->name, k, why, status, r->leaked);
        char line[512];
        rewind(log);
        while (fgets(line, sizeof(line), log))
            fprintf(stderr, "    %s", line);
    }
    fclose(log);
    return why != NULL;
}

static inline int mg_torture_run(const struct CMUnitTest *tests, size_t n)
{
    /* MG_TORTURE_POINT=test_name:k runs that one point in this process, without a fork, so that
     * a debugger (gdb --args, or the ASan build's report) shows where it goes wrong. */
    const char *only = getenv("MG_TORTURE_POINT");
    if (only && *only) {
        const char *colon = strrchr(only, ':');
        for (size_t i = 0; colon && i < n; i++)
            if (strncmp(tests[i].name, only, (size_t)(colon - only)) == 0 &&
                tests[i].name[colon - only] == '\0') {
                static struct mg_torture_report report;
                s_torture_report = &report;
                mg_torture_child(&tests[i], strtol(colon + 1, NULL, 10));
            }
        fprintf(stderr, "torture: MG_TORTURE_POINT=%s names no test (want name:k)\n", only);
        return 1;
    }
    long limit = mg_torture_env("MG_TORTURE_LIMIT", 300);
    long timeout = mg_torture_env("MG_TORTURE_TIMEOUT", 60);
    s_torture_report = mmap(NULL, sizeof(*s_torture_report), PROT_READ | PROT_WRITE,
                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s_torture_report == MAP_FAILED) {
        perror("torture: mmap");
        return 1;
    }
    int failed = 0;
    long points = 0;
    for (size_t i = 0; i < n; i++) {
        const struct CMUnitTest *t = &tests[i];
        long calls = 0;
        if (mg_torture_point(t, 0, timeout, &calls)) {
            failed++;
            continue;
        }
        long stride = calls > limit ? (calls + limit - 1) / limit : 1;
        long tried = 0;
        for (long k = 1; k <= calls; k += stride, tried++) {
            long c = 0;
            failed += mg_torture_point(t, k, timeout, &c);
        }
        points += tried;
        printf("torture: %-48s %6ld allocations, %4ld points (stride %ld)\n", t->name, calls, tried,
               stride);
    }
    printf("torture: %zu tests, %ld failure points, %d failed\n", n, points, failed);
    munmap(s_torture_report, sizeof(*s_torture_report));
    return failed;
}

#define MG_RUN_TESTS(tests)                                                                        \
    (mg_alloc_count(), mg_json_use_counting_allocator(),                                           \
     getenv("MG_TORTURE") && getenv("MG_TORTURE")[0] == '1'                                        \
         ? mg_torture_run((tests), sizeof(tests) / sizeof((tests)[0]))                             \
         : (mg_leaks_setup(NULL),                                                                  \
            mg_leaks_done(mg_leaks_release(cmocka_run_group_tests(tests, NULL, NULL)))))

#endif
