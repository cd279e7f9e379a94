#include "base/alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* Counting (live blocks, calls) is for the tests: two event loops updating one shared counter on
 * every allocation would make its cache line bounce between the cores on the hot path. */
static atomic_bool s_counting;
static atomic_long s_live;
static atomic_long s_fail_after;
static atomic_long s_failures;
static atomic_long s_calls;
static void (*_Atomic s_on_injected)(void);

static bool s_counts(void)
{
    return atomic_load_explicit(&s_counting, memory_order_relaxed);
}

static int s_should_fail(void)
{
    if (s_counts())
        atomic_fetch_add_explicit(&s_calls, 1, memory_order_relaxed);
    long n = atomic_load_explicit(&s_fail_after, memory_order_relaxed);
    if (n <= 0)
        return 0;
    if (atomic_fetch_sub(&s_fail_after, 1) == 1) {
        atomic_fetch_add_explicit(&s_failures, 1, memory_order_relaxed);
        void (*fn)(void) = atomic_load(&s_on_injected);
        if (fn)
            fn();
        return 1;
    }
    return 0;
}

void *mg_malloc(size_t n)
{
    if (s_should_fail())
        return NULL;
    void *p = malloc(n ? n : 1);
    if (p) {
        if (s_counts())
            atomic_fetch_add_explicit(&s_live, 1, memory_order_relaxed);
    } else
        atomic_fetch_add_explicit(&s_failures, 1, memory_order_relaxed);
    return p;
}

void *mg_calloc(size_t n, size_t size)
{
    if (s_should_fail())
        return NULL;
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p) {
        if (s_counts())
            atomic_fetch_add_explicit(&s_live, 1, memory_order_relaxed);
    } else
        atomic_fetch_add_explicit(&s_failures, 1, memory_order_relaxed);
    return p;
}

void *mg_realloc(void *p, size_t n)
{
    if (p == NULL)
        return mg_malloc(n);
    if (s_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

void mg_free(void *p)
{
    if (p == NULL)
        return;
    if (s_counts())
        atomic_fetch_sub_explicit(&s_live, 1, memory_order_relaxed);
    free(p);
}

long mg_alloc_failures(void)
{
    return atomic_load(&s_failures);
}

void mg_alloc_count(void)
{
    atomic_store(&s_counting, true);
}

long mg_alloc_live(void)
{
    return atomic_load(&s_live);
}

long mg_alloc_calls(void)
{
    return atomic_load(&s_calls);
}

void mg_alloc_on_injected(void (*fn)(void))
{
    atomic_store(&s_on_injected, fn);
}

long mg_alloc_fail_pending(void)
{
    long n = atomic_load(&s_fail_after);
    return n > 0 ? n : 0;
}

void mg_alloc_fail_after(long n)
{
    atomic_store(&s_fail_after, n);
}

void mg_json_use_counting_allocator(void)
{
    json_set_alloc_funcs(mg_malloc, mg_free);
}
