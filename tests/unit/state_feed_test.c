/* The change feed between nodes: two states (two nodes) on one store, each with its own store
 * handle; a write through one reaches the other's snapshot through its follower (state/feed.h).
 * Runs on SQLite (two handles on one directory), and as pg/... on the PostgreSQL server of
 * MCPGATE_TEST_PG in a fresh schema (skipped without it, saying so). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"
#include "state/feed.h"
#include "state/snapshot.h"
#include "state/store.h"
#include "unit/leaks.h"
#include "unit/pgtest.h"

#define PG_SCHEMA "mcpgate_feed_test"
#define PG_APP "mcpgate_feed_test"

struct node {
    struct mg_store *store;
    struct mg_state st;
    struct mg_state_feed *feed;
    atomic_int hooked;
};

struct fx {
    char dir[64];
    bool pg;
    char loc[1200];
    struct node a, b; /* a writes, b follows */
};

static void on_change(void *user)
{
    struct node *n = user;
    atomic_fetch_add(&n->hooked, 1);
}

static void node_open(struct fx *f, struct node *n, bool follow)
{
    struct mg_errinfo ei = {0};
    if (mg_store_open(f->loc, &n->store, &ei) != MG_E_OK)
        fail_msg("open: %s", ei.msg);
    uint64_t from = mg_store_generation(n->store);
    assert_int_equal(mg_state_init(&n->st, n->store, &ei), MG_E_OK);
    if (follow)
        assert_int_equal(mg_state_feed_start(&n->st, from, on_change, n, &n->feed, &ei), MG_E_OK);
}

static void node_close(struct node *n)
{
    mg_state_feed_stop(n->feed);
    n->feed = NULL;
    mg_state_cleanup(&n->st);
    mg_store_close(n->store);
}

static int setup_common(void **state, bool pg)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "/tmp/mg-feed-test-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->pg = pg;
    *state = f;
    if (pg && pgtest_uri() == NULL)
        return 0; /* the case skips itself */
    if (pg) {
        const char *uri = pgtest_uri();
        pgtest_exec(NULL, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE; CREATE SCHEMA " PG_SCHEMA);
        /* an application_name of its own: store_test's connection-loss case, which may run at
         * the same time, drops the connections named mcpgate only (and this one drops its own) */
        snprintf(f->loc, sizeof(f->loc),
                 "%s%soptions=-csearch_path%%3D" PG_SCHEMA "&application_name=" PG_APP, uri,
                 strchr(uri, '?') != NULL ? "&" : "?");
    } else {
        snprintf(f->loc, sizeof(f->loc), "%s", f->dir);
    }
    node_open(f, &f->a, false);
    node_open(f, &f->b, true);
    return 0;
}

static int setup(void **state)
{
    return setup_common(state, false);
}

static int setup_pg(void **state)
{
    return setup_common(state, true);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->a.store != NULL)
        node_close(&f->a);
    if (f->b.store != NULL)
        node_close(&f->b);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void need_backend(const struct fx *f)
{
    if (f->pg && pgtest_uri() == NULL)
        skip();
}

static void write_doc(struct node *n, const char *key, const char *doc)
{
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&n->st), MG_E_OK);
    enum mg_err e = doc != NULL ? mg_store_put(n->store, "thing", "1", key, mg_slice_cstr(doc))
                                : mg_store_delete(n->store, "thing", "1", key);
    if (e) {
        mg_state_write_abort(&n->st);
        fail_msg("write: %s", mg_err_str(e));
    }
    assert_int_equal(mg_state_write_commit(&n->st, &ei), MG_E_OK);
}

/* Whether n's snapshot has the key (present) or not, polled until timeout_ms; the ms it took,
 * or -1. */
static long wait_for(struct node *n, const char *key, bool present, long timeout_ms)
{
    uint64_t t0 = mg_mono_ns();
    for (;;) {
        struct mg_snapshot *s = mg_state_acquire(&n->st);
        bool has = mg_snapshot_get(s, "thing", "1", key) != NULL;
        mg_snapshot_unref(s);
        long ms = (long)((mg_mono_ns() - t0) / 1000000u);
        if (has == present)
            return ms;
        if (ms > timeout_ms)
            return -1;
        usleep(500);
    }
}

/* The follower's counters once it has caught up with a's last commit (they move just after the
 * snapshot is published). */
static void settled(struct fx *f, struct mg_state_feed_stats *st)
{
    uint64_t want = mg_store_generation(f->a.store);
    uint64_t t0 = mg_mono_ns();
    for (;;) {
        mg_state_feed_stats(f->b.feed, st);
        if (st->applied >= want)
            return;
        assert_true(mg_mono_ns() - t0 < 2000000000u);
        usleep(500);
    }
}

static int cmp_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;
    return a < b ? -1 : a > b;
}

/* A write on one node is in the other's snapshot within 100 ms (p90 of 30, 12 on SQLite; every one within a
 * second on a loaded machine); a delete too; the writer sees its own write at once. */
static void test_feed_propagates(void **state)
{
    struct fx *f = *state;
    need_backend(f);
    enum { N_MAX = 30 };
    /* SQLite's follower polls every 50 ms: fewer rounds there */
    const int N = f->pg ? N_MAX : 12;
    long lat[N_MAX];
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        write_doc(&f->a, key, "{\"v\":1}");
        assert_int_equal(wait_for(&f->a, key, true, 0), 0); /* at once, on the writer */
        lat[i] = wait_for(&f->b, key, true, 1000);
        assert_true(lat[i] >= 0);
    }
    qsort(lat, (size_t)N, sizeof(lat[0]), cmp_long);
    print_message("feed: propagation p50 %ld ms, p90 %ld ms, max %ld ms\n", lat[N / 2],
                  lat[N * 9 / 10], lat[N - 1]);
    assert_true(lat[N * 9 / 10] < 100);
    /* an update: the follower reads the row again */
    write_doc(&f->a, "k0", "{\"v\":2}");
    uint64_t t0 = mg_mono_ns();
    for (;;) {
        struct mg_snapshot *s = mg_state_acquire(&f->b.st);
        const struct mg_snapshot_doc *d = mg_snapshot_get(s, "thing", "1", "k0");
        json_int_t v = d ? json_integer_value(json_object_get(d->doc, "v")) : 0;
        mg_snapshot_unref(s);
        if (v == 2)
            break;
        assert_true(mg_mono_ns() - t0 < 1000000000u);
        usleep(500);
    }
    /* a delete */
    write_doc(&f->a, "k1", NULL);
    assert_true(wait_for(&f->b, "k1", false, 1000) >= 0);
    struct mg_state_feed_stats st;
    settled(f, &st);
    /* the hook runs after the publish */
    for (uint64_t h0 = mg_mono_ns(); atomic_load(&f->b.hooked) == 0;) {
        assert_true(mg_mono_ns() - h0 < 2000000000u);
        usleep(500);
    }
    assert_int_equal(st.rebuilds, 0);
    assert_true(st.applies > 0);
    /* the follower's own writes still apply at once, and the feed catches up past them */
    write_doc(&f->b, "own", "{}");
    assert_int_equal(wait_for(&f->b, "own", true, 0), 0);
}

/* A transaction too large for the log (a mark) and a log pruned past the follower: full
 * rebuilds, with every row there. */
static void test_feed_overflow_rebuilds(void **state)
{
    struct fx *f = *state;
    need_backend(f);
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_state_write_begin(&f->a.st), MG_E_OK);
    for (unsigned i = 0; i <= MG_STORE_FEED_TX_ROWS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "bulk%u", i);
        assert_int_equal(mg_store_put(f->a.store, "thing", "1", key, MG_SLICE_LIT("{}")), MG_E_OK);
    }
    assert_int_equal(mg_state_write_commit(&f->a.st, &ei), MG_E_OK);
    char last[16];
    snprintf(last, sizeof(last), "bulk%u", MG_STORE_FEED_TX_ROWS);
    assert_true(wait_for(&f->b, last, true, 2000) >= 0);
    assert_true(wait_for(&f->b, "bulk0", true, 0) >= 0);
    struct mg_state_feed_stats st;
    settled(f, &st);
    assert_int_equal(st.rebuilds, 1);
    /* then rows again, one by one */
    write_doc(&f->a, "after", "{}");
    assert_true(wait_for(&f->b, "after", true, 1000) >= 0);
    settled(f, &st);
    assert_int_equal(st.rebuilds, 1);
    /* the follower stops (a node down), the log is pruned past it meanwhile */
    uint64_t from = st.applied;
    mg_state_feed_stop(f->b.feed);
    f->b.feed = NULL;
    write_doc(&f->a, "while-down", "{}");
    char sql[160];
    unsigned long long g = 2ull * MG_STORE_FEED_KEEP - 2ull;
    if (f->pg) {
        snprintf(sql, sizeof(sql),
                 "SET search_path TO " PG_SCHEMA "; UPDATE store_generation SET value = %llu", g);
        pgtest_exec(NULL, sql);
    } else {
        char db[128];
        snprintf(db, sizeof(db), "%s/mcpgate.db", f->dir);
        snprintf(sql, sizeof(sql), "UPDATE meta SET value = %llu WHERE key = 'generation'", g);
        sqlite3 *h = NULL;
        assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
        assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(h);
    }
    write_doc(&f->a, "prune1", "{}");
    write_doc(&f->a, "prune2", "{}"); /* generation 2 * KEEP: prunes */
    assert_int_equal(mg_state_feed_start(&f->b.st, from, on_change, &f->b, &f->b.feed, &ei),
                     MG_E_OK);
    assert_true(wait_for(&f->b, "prune2", true, 2000) >= 0);
    assert_true(wait_for(&f->b, "while-down", true, 0) >= 0);
    settled(f, &st);
    assert_int_equal(st.rebuilds, 1); /* the new follower's */
}

static int64_t pg_kill_all(void)
{
    PGconn *c = pgtest_connect(NULL);
    PGresult *r = PQexec(c,
                         "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
                         "WHERE datname = current_database() AND application_name = '" PG_APP "'");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* Every connection dropped (a database restart): the follower fails, pauses, reconnects and
 * applies what was written meanwhile. */
static void test_feed_connection_loss(void **state)
{
    struct fx *f = *state;
    need_backend(f);
    write_doc(&f->a, "before", "{}");
    assert_true(wait_for(&f->b, "before", true, 1000) >= 0);
    assert_true(pg_kill_all() >= 2);
    /* the writer's first call finds its connection gone */
    struct mg_errinfo ei = {0};
    enum mg_err e = MG_E_STORE;
    for (int i = 0; i < 5 && e != MG_E_OK; i++) {
        if (mg_state_write_begin(&f->a.st) != MG_E_OK)
            continue;
        e = mg_store_put(f->a.store, "thing", "1", "during", MG_SLICE_LIT("{}"));
        if (e == MG_E_OK)
            e = mg_state_write_commit(&f->a.st, &ei);
        else
            mg_state_write_abort(&f->a.st);
    }
    assert_int_equal(e, MG_E_OK);
    assert_true(wait_for(&f->b, "during", true, 3000) >= 0);
    write_doc(&f->a, "after", "{}");
    assert_true(wait_for(&f->b, "after", true, 1000) >= 0);
    struct mg_state_feed_stats st;
    settled(f, &st);
    assert_true(st.failures >= 1);
}

int main(void)
{
    g_mg_log_level = MG_LOG_OFF;
    const char *lvl = getenv("MG_TEST_LOG");
    if (lvl != NULL)
        (void)mg_log_parse_level(lvl, &g_mg_log_level);
    if (pgtest_uri() == NULL)
        print_message("state_feed_test: the PostgreSQL cases (pg/...) are skipped: set "
                      "MCPGATE_TEST_PG to a postgresql:// URI to run them\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_feed_propagates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_overflow_rebuilds, setup, teardown),
        {"pg/test_feed_propagates", test_feed_propagates, setup_pg, teardown, NULL},
        {"pg/test_feed_overflow_rebuilds", test_feed_overflow_rebuilds, setup_pg, teardown, NULL},
        {"pg/test_feed_connection_loss", test_feed_connection_loss, setup_pg, teardown, NULL},
    };
    return MG_RUN_TESTS(tests);
}
