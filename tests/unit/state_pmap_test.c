/* The persistent map of snapshot extensions: copies share shards, a change copies one, values
 * are referenced by every shard that holds them; checked against a plain array model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/pmap.h"
#include "unit/leaks.h"

#define S_KEYS 600

struct s_val {
    long refs;
    char key[16];
};

static void s_ref(void *p)
{
    ((struct s_val *)p)->refs++;
}

static void s_unref(void *p)
{
    ((struct s_val *)p)->refs--;
}

static const struct mg_pmap_ops s_ops = {s_ref, s_unref};

static void test_pmap_matches_model(void **state)
{
    (void)state;
    static struct s_val vals[S_KEYS * 2];
    memset(vals, 0, sizeof(vals));
    for (int i = 0; i < S_KEYS * 2; i++)
        snprintf(vals[i].key, sizeof(vals[i].key), "key%d", i % S_KEYS);
    struct s_val *model[S_KEYS] = {0};
    struct mg_pmap m;
    mg_pmap_init(&m, &s_ops);
    uint32_t seed = 1;
    struct mg_pmap old;
    mg_pmap_share(&old, &m);
    struct s_val *old_model[S_KEYS];
    memcpy(old_model, model, sizeof(model));
    for (int step = 0; step < 5000; step++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % S_KEYS);
        bool del = (seed >> 20) % 4 == 0;
        struct s_val *v = del ? NULL : &vals[k + ((seed >> 24) % 2) * S_KEYS];
        if (v)
            v->refs++; /* the reference set takes over */
        assert_int_equal(mg_pmap_set(&m, mg_slice_cstr(vals[k].key), v), MG_E_OK);
        model[k] = v;
        if (step % 500 == 0) { /* a snapshot of the map must not see later changes */
            for (int i = 0; i < S_KEYS; i++)
                assert_ptr_equal(mg_pmap_get(&old, mg_slice_cstr(vals[i].key)), old_model[i]);
            mg_pmap_cleanup(&old);
            mg_pmap_share(&old, &m);
            memcpy(old_model, model, sizeof(model));
        }
    }
    size_t n = 0;
    for (int i = 0; i < S_KEYS; i++) {
        assert_ptr_equal(mg_pmap_get(&m, mg_slice_cstr(vals[i].key)), model[i]);
        n += model[i] != NULL;
    }
    assert_int_equal(m.n, n);
    assert_null(mg_pmap_get(&m, MG_SLICE_LIT("absent")));
    mg_pmap_cleanup(&old);
    mg_pmap_cleanup(&m);
    for (int i = 0; i < S_KEYS * 2; i++)
        assert_int_equal(vals[i].refs, 0); /* every reference given back */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pmap_matches_model),
    };
    return MG_RUN_TESTS(tests);
}
