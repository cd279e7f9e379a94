/* The composition root's walk over the service descriptors: start in order, stop in reverse, a
 * failing start stops the started ones, lookups by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "app/app.h"
#include "base/alloc.h"
#include "unit/leaks.h"

static char s_log[64];
static size_t s_n_log;
static const struct mg_env *s_seen_env;

static void s_note(char c)
{
    if (s_n_log + 1 < sizeof(s_log)) {
        s_log[s_n_log++] = c;
        s_log[s_n_log] = 0;
    }
}

static void s_handle(struct mg_call *c)
{
    (void)c;
}

/* Each service's state is one allocated byte holding its letter: a stop that is missed leaks. */
static enum mg_err s_start_letter(char letter, const struct mg_env *env, void **state,
                                  struct mg_errinfo *ei)
{
    s_seen_env = env;
    char *p = mg_malloc(1);
    if (p == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    *p = letter;
    *state = p;
    s_note(letter);
    return MG_E_OK;
}

static enum mg_err s_start_a(const struct mg_env *env, const void *config, void **state,
                             struct mg_errinfo *ei)
{
    (void)config;
    return s_start_letter('A', env, state, ei);
}

static enum mg_err s_start_b(const struct mg_env *env, const void *config, void **state,
                             struct mg_errinfo *ei)
{
    (void)config;
    return s_start_letter('B', env, state, ei);
}

static enum mg_err s_start_fail(const struct mg_env *env, const void *config, void **state,
                                struct mg_errinfo *ei)
{
    (void)env;
    (void)config;
    *state = NULL;
    s_note('F');
    return mg_errinfo_set(ei, MG_E_INTERNAL, "cannot start");
}

static void s_stop(void *state)
{
    char *p = state;
    if (p == NULL) {
        s_note('0');
        return;
    }
    s_note((char)(*p - 'A' + 'a'));
    mg_free(p);
}

static const struct mg_service s_a = {"a", MG_SERVICE_REST_JSON, s_handle, s_start_a, s_stop};
static const struct mg_service s_b = {"b", MG_SERVICE_QUERY, s_handle, s_start_b, s_stop};
static const struct mg_service s_plain = {"plain", MG_SERVICE_QUERY, s_handle, NULL, NULL};
static const struct mg_service s_fail = {"fail", MG_SERVICE_MCP, s_handle, s_start_fail, s_stop};

static void s_reset(void)
{
    s_n_log = 0;
    s_log[0] = 0;
    s_seen_env = NULL;
}

static void test_app_services_order(void **state)
{
    (void)state;
    static struct mg_app app;
    memset(&app, 0, sizeof(app));
    s_reset();
    const struct mg_service *const table[] = {&s_a, &s_plain, &s_b};
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_app_start_services(&app, table, 3, &ei), MG_E_OK);
    assert_string_equal(s_log, "AB");
    assert_ptr_equal(s_seen_env, &app.env);

    void *st = NULL;
    assert_ptr_equal(mg_app_service(&app, MG_SLICE_LIT("b"), &st), &s_b);
    assert_non_null(st);
    assert_int_equal(*(char *)st, 'B');
    assert_ptr_equal(mg_app_service(&app, MG_SLICE_LIT("plain"), &st), &s_plain);
    assert_null(st);
    assert_null(mg_app_service(&app, MG_SLICE_LIT("bb"), &st));
    assert_null(mg_app_service(&app, MG_SLICE_LIT(""), &st));

    mg_app_stop_services(&app);
    assert_string_equal(s_log, "ABba"); /* stopped in reverse */
    assert_null(mg_app_service(&app, MG_SLICE_LIT("a"), &st));
    mg_app_stop_services(&app); /* twice is harmless */
    assert_string_equal(s_log, "ABba");
}

static void test_app_services_failing_start(void **state)
{
    (void)state;
    static struct mg_app app;
    memset(&app, 0, sizeof(app));
    s_reset();
    const struct mg_service *const table[] = {&s_a, &s_b, &s_fail, &s_plain};
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_app_start_services(&app, table, 4, &ei), MG_E_INTERNAL);
    assert_string_equal(ei.msg, "cannot start");
    /* the failing one is stopped with what it returned, then the started ones in reverse; the
     * one after it never starts */
    assert_string_equal(s_log, "ABF0ba");
    void *st = NULL;
    assert_null(mg_app_service(&app, MG_SLICE_LIT("a"), &st));
}

static void test_app_services_too_many(void **state)
{
    (void)state;
    static struct mg_app app;
    memset(&app, 0, sizeof(app));
    s_reset();
    const struct mg_service *table[MG_APP_SERVICES + 1];
    for (size_t i = 0; i < MG_APP_SERVICES + 1; i++)
        table[i] = &s_a;
    struct mg_errinfo ei = {0};
    assert_int_not_equal(mg_app_start_services(&app, table, MG_APP_SERVICES + 1, &ei), MG_E_OK);
    assert_string_equal(s_log, ""); /* refused before any start */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_app_services_order),
        cmocka_unit_test(test_app_services_failing_start),
        cmocka_unit_test(test_app_services_too_many),
    };
    return MG_RUN_TESTS(tests);
}
