/* src/base/alloc.h: the only way to the libc allocator; tests count blocks and inject failures. */
#ifndef MG_ALLOC_H
#define MG_ALLOC_H

#include <stddef.h>

void *mg_malloc(size_t n);
void *mg_calloc(size_t n, size_t size);
void *mg_realloc(void *p, size_t n);
void mg_free(void *p);

/* Routes jansson's allocations through mg_malloc/mg_free, so that the live count (and the
 * failure injection) covers JSON too; what json_dumps returns is then released with mg_free.
 * Call once at start-up, before any JSON value exists (main, and each unit test's main). */
void mg_json_use_counting_allocator(void);

/* How many allocations have failed so far (injected or real). jansson reports a failed
 * allocation while parsing as a syntax error; a parser compares this count before and after
 * json_loadb to answer "out of memory" instead. */
long mg_alloc_failures(void);

/* Test hooks: count live blocks and calls from now on (off by default: the counters are shared
 * by every thread; call first thing in main, before any allocation), the live block count, and
 * fail the Nth allocation from now (0 = never). */
void mg_alloc_count(void);
long mg_alloc_live(void);
void mg_alloc_fail_after(long n);

/* Test hook: how many allocation requests (mg_malloc, mg_calloc, mg_realloc) have been made, so
 * that a test can count the points where an allocation could fail (tests/unit/leaks.h). */
long mg_alloc_calls(void);

/* Test hook: fn is called each time mg_alloc_fail_after's failure fires (NULL: none), in whichever
 * process it fires: a torture run learns of failures injected in a test's own child processes. */
void mg_alloc_on_injected(void (*fn)(void));

/* Test hook: the n of a pending mg_alloc_fail_after(n) still to count down (0 = none). */
long mg_alloc_fail_pending(void);

#endif
