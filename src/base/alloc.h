/* src/base/alloc.h: the only way to the libc allocator; tests count blocks and inject failures. */
#ifndef MG_ALLOC_H
#define MG_ALLOC_H

#include <stddef.h>

void *mg_malloc(size_t n);
void *mg_calloc(size_t n, size_t size);
void *mg_realloc(void *p, size_t n);
void mg_free(void *p);

/* Test hooks: live block count, and fail the Nth allocation from now (0 = never). */
long mg_alloc_live(void);
void mg_alloc_fail_after(long n);

#endif
