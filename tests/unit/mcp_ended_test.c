/* The bounded per-gateway row of ended MCP sessions shared through the store (ended.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "mcp/internal.h"
#include "unit/leaks.h"

#define NOW_MS 1700000000000LL
#define NOW (NOW_MS / 1000)

static void s_item(struct mg_mcp_ended_item *it, int i, int64_t expires, int64_t issued_ms)
{
    memset(it, 0, sizeof(*it));
    snprintf(it->account, sizeof(it->account), "111122223333");
    snprintf(it->gateway_id, sizeof(it->gateway_id), "gw-abcdefghij");
    snprintf(it->sid, sizeof(it->sid), "%032x", (unsigned)i + 1);
    it->expires = expires;
    it->issued_ms = issued_ms;
}

static void s_session(struct mg_mcp_session *s, int i, int64_t issued_ms)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->gateway_id, sizeof(s->gateway_id), "gw-abcdefghij");
    snprintf(s->sid, sizeof(s->sid), "%032x", (unsigned)i + 1);
    s->expires = NOW + 3600;
    s->issued_ms = issued_ms;
}

/* Merged sids end exactly their sessions; a row merged again keeps them. */
static void test_mcp_ended_exact(void **state)
{
    (void)state;
    struct mg_mcp_ended_item it[3];
    for (int i = 0; i < 3; i++)
        s_item(&it[i], i, NOW + 600, NOW_MS - 1000);
    json_t *row = NULL;
    assert_int_equal(mg_mcp_ended_merge(NULL, it, 2, NOW_MS, &row), MG_E_OK);
    assert_non_null(row);
    struct mg_mcp_session s;
    s_session(&s, 0, NOW_MS - 1000);
    assert_true(mg_mcp_ended_check(row, &s));
    s_session(&s, 1, NOW_MS - 1000);
    assert_true(mg_mcp_ended_check(row, &s));
    s_session(&s, 2, NOW_MS - 1000);
    assert_false(mg_mcp_ended_check(row, &s));
    assert_false(mg_mcp_ended_check(NULL, &s));
    json_t *row2 = NULL;
    assert_int_equal(mg_mcp_ended_merge(row, it + 2, 1, NOW_MS + 10, &row2), MG_E_OK);
    assert_true(mg_mcp_ended_check(row2, &s));
    s_session(&s, 0, NOW_MS - 1000);
    assert_true(mg_mcp_ended_check(row2, &s));
    assert_int_equal(json_object_size(json_object_get(row2, "ended")), 3);
    /* merging the same items again changes nothing */
    json_t *row3 = NULL;
    assert_int_equal(mg_mcp_ended_merge(row2, it, 3, NOW_MS + 10, &row3), MG_E_OK);
    assert_true(json_equal(row2, row3));
    json_decref(row);
    json_decref(row2);
    json_decref(row3);
}

/* Past MG_MCP_ENDED_MAX sids the floor rises to the newest ended session's issue time and the
 * list empties: the row stays bounded, every ended session stays ended, and a session issued after
 * the newest ended one (but before now) is not ended. */
static void test_mcp_ended_bounded(void **state)
{
    (void)state;
    json_t *row = NULL;
    int total = 0;
    for (int round = 0; round < 10; round++) {
        struct mg_mcp_ended_item it[100];
        for (int i = 0; i < 100; i++, total++)
            s_item(&it[i], total, NOW + 600, NOW_MS - 1000);
        json_t *next = NULL;
        assert_int_equal(mg_mcp_ended_merge(row, it, 100, NOW_MS + round, &next), MG_E_OK);
        json_decref(row);
        row = next;
        assert_non_null(row);
        assert_true(json_object_size(json_object_get(row, "ended")) <= MG_MCP_ENDED_MAX);
    }
    assert_int_equal(json_integer_value(json_object_get(row, "floor")), NOW_MS - 1000);
    struct mg_mcp_session s;
    for (int i = 0; i < total; i++) {
        s_session(&s, i, NOW_MS - 1000);
        assert_true(mg_mcp_ended_check(row, &s));
    }
    s_session(&s, total + 5, NOW_MS - 999); /* issued after the newest ended one */
    assert_false(mg_mcp_ended_check(row, &s));
    s_session(&s, total + 6, NOW_MS - 1000); /* issued with it */
    assert_true(mg_mcp_ended_check(row, &s));
    json_decref(row);
}

/* Expired sids go; a row that covers nothing alive is deleted (NULL); an item issued before the
 * floor adds nothing. */
static void test_mcp_ended_expiry(void **state)
{
    (void)state;
    struct mg_mcp_ended_item it[2];
    s_item(&it[0], 0, NOW + 10, NOW_MS - 1000);
    s_item(&it[1], 1, NOW + 1000, NOW_MS - 1000);
    json_t *row = NULL;
    assert_int_equal(mg_mcp_ended_merge(NULL, it, 2, NOW_MS, &row), MG_E_OK);
    json_t *later = NULL;
    assert_int_equal(mg_mcp_ended_merge(row, NULL, 0, NOW_MS + 20000, &later), MG_E_OK);
    assert_int_equal(json_object_size(json_object_get(later, "ended")), 1);
    json_t *gone = NULL;
    assert_int_equal(mg_mcp_ended_merge(later, NULL, 0, NOW_MS + 2000000, &gone), MG_E_OK);
    assert_null(gone);
    /* a floor item, then a sid issued before it */
    struct mg_mcp_ended_item f;
    s_item(&f, 9, 0, 0);
    f.sid[0] = '\0';
    f.floor_ms = NOW_MS - 500;
    json_t *fl = NULL;
    assert_int_equal(mg_mcp_ended_merge(NULL, &f, 1, NOW_MS, &fl), MG_E_OK);
    json_t *fl2 = NULL;
    assert_int_equal(mg_mcp_ended_merge(fl, it, 1, NOW_MS, &fl2), MG_E_OK);
    assert_int_equal(json_object_size(json_object_get(fl2, "ended")), 0);
    struct mg_mcp_session s;
    s_session(&s, 7, NOW_MS - 600);
    assert_true(mg_mcp_ended_check(fl2, &s));
    s_session(&s, 7, NOW_MS - 400);
    assert_false(mg_mcp_ended_check(fl2, &s));
    /* the floor is forgotten once every session it covers has expired */
    json_t *fl3 = NULL;
    assert_int_equal(mg_mcp_ended_merge(fl2, NULL, 0, NOW_MS + 28801000LL, &fl3), MG_E_OK);
    assert_null(fl3);
    json_decref(row);
    json_decref(later);
    json_decref(fl);
    json_decref(fl2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_ended_exact),
        cmocka_unit_test(test_mcp_ended_bounded),
        cmocka_unit_test(test_mcp_ended_expiry),
    };
    return MG_RUN_TESTS(tests);
}
