/* tests/unit/leaks.h: every unit test binary runs on the counting allocator, JSON included
 * (mg_json_use_counting_allocator), and fails when blocks allocated by its tests are still live
 * when the group ends. Use MG_RUN_TESTS(tests) in main. (cmocka does not count a failed group
 * teardown in its exit status, hence the check after the run.) */
#ifndef MG_TEST_LEAKS_H
#define MG_TEST_LEAKS_H

#include <stdio.h>

#include "base/alloc.h"

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

#define MG_RUN_TESTS(tests)                                                                       \
    (mg_json_use_counting_allocator(), mg_leaks_setup(NULL),                                      \
     mg_leaks_done(cmocka_run_group_tests(tests, NULL, NULL)))

#endif
