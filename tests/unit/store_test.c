#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/slice.h"
#include "base/util.h"
#include "state/leader.h"
#include "state/store.h"
#include "state/store_internal.h"
#include "unit/leaks.h"
#include "unit/pgtest.h"

/* The store's tests run against both backends. The cases named pg/... use the PostgreSQL server
 * of MCPGATE_TEST_PG (a postgresql:// URI; scripts/pg-server start DIR prints one, scripts/test
 * starts one): each case gets a fresh schema mcpgate_test in that database (dropped and created
 * again, nothing else touched). Without the variable they are skipped, saying so. */
#define PG_SCHEMA "mcpgate_test"

/* Per-test fixture: a fresh temporary directory and the live-allocation count at the start. */
struct fixture {
    char root[256]; /* removed at teardown */
    char dir[300];  /* the SQLite store location, root/data (not created yet) */
    char db[340];   /* dir/mcpgate.db */
    bool pg;        /* a pg/ case: loc is the PostgreSQL URI */
    char loc[1200]; /* the location the case opens: dir, or the URI with the test schema */
    long live;
};

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[1024];
                snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof(f->root), "%s/mg_store_test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/data", f->root);
    snprintf(f->db, sizeof(f->db), "%s/mcpgate.db", f->dir);
    snprintf(f->loc, sizeof(f->loc), "%s", f->dir);
    f->live = mg_alloc_live();
    *state = f;
    return 0;
}

/* The same for a pg/ case: a fresh test schema, and loc the URI that selects it. */
static int setup_pg(void **state)
{
    if (setup(state) != 0)
        return -1;
    struct fixture *f = *state;
    f->pg = true;
    const char *uri = pgtest_uri();
    if (uri == NULL)
        return 0; /* the case skips itself */
    pgtest_exec(PG_SCHEMA, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE; CREATE SCHEMA " PG_SCHEMA);
    snprintf(f->loc, sizeof(f->loc), "%s%soptions=-csearch_path%%3D" PG_SCHEMA, uri,
             strchr(uri, '?') != NULL ? "&" : "?");
    f->live = mg_alloc_live();
    return 0;
}

/* Skips a pg/ case when there is no server to run it on. */
static void need_backend(const struct fixture *f)
{
    if (f->pg && pgtest_uri() == NULL)
        skip();
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    long live = mg_alloc_live();
    rm_rf(f->root);
    long expected = f->live;
    free(f);
    /* The leak check: every test closes what it opened. */
    assert_int_equal(live, expected);
    return 0;
}

static struct mg_store *open_ok(const struct fixture *f)
{
    need_backend(f);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err err = mg_store_open(f->loc, &s, &ei);
    if (err != MG_E_OK)
        fail_msg("open failed: %s", ei.msg);
    return s;
}

static enum mg_err put_str(struct mg_store *s, const char *kind, const char *account,
                           const char *key, const char *doc)
{
    return mg_store_put(s, kind, account, key, mg_slice_cstr(doc));
}

static void assert_doc(struct mg_store *s, const char *kind, const char *account, const char *key,
                       const char *want)
{
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    assert_int_equal(mg_store_get(s, kind, account, key, &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), want);
    mg_buf_cleanup(&b);
}

static void assert_missing(struct mg_store *s, const char *kind, const char *account,
                           const char *key)
{
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_store_get(s, kind, account, key, &b), MG_E_NOT_FOUND);
    assert_int_equal(b.len, 0);
    mg_buf_cleanup(&b);
}

static void test_store_put_get_overwrite(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(put_str(s, "user", "111122223333", "alice", "{\"a\":1}"), MG_E_OK);
    assert_doc(s, "user", "111122223333", "alice", "{\"a\":1}");
    assert_int_equal(put_str(s, "user", "111122223333", "alice", "{\"a\":2}"), MG_E_OK);
    assert_doc(s, "user", "111122223333", "alice", "{\"a\":2}");
    /* Same key under another account or kind is another row. */
    assert_missing(s, "user", "444455556666", "alice");
    assert_missing(s, "role", "111122223333", "alice");
    /* Global rows use the empty account; empty documents are allowed. */
    assert_int_equal(put_str(s, "account", "", "111122223333", ""), MG_E_OK);
    assert_doc(s, "account", "", "111122223333", "");
    /* get clears its output first. */
    struct mg_buf b;
    mg_buf_init(&b, 64);
    assert_int_equal(mg_buf_append_cstr(&b, "junk"), MG_E_OK);
    assert_int_equal(mg_store_get(s, "user", "111122223333", "alice", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "{\"a\":2}");
    /* A document larger than the caller's buffer is refused, not truncated. */
    struct mg_buf small;
    mg_buf_init(&small, 3);
    assert_int_equal(mg_store_get(s, "user", "111122223333", "alice", &small), MG_E_TOO_LARGE);
    mg_buf_cleanup(&small);
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

static void test_store_insert_conflict(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(mg_store_insert(s, "role", "111122223333", "admin", MG_SLICE_LIT("{\"v\":1}")),
                     MG_E_OK);
    assert_int_equal(mg_store_insert(s, "role", "111122223333", "admin", MG_SLICE_LIT("{\"v\":2}")),
                     MG_E_CONFLICT);
    struct mg_errinfo ei;
    mg_store_last_error(&ei);
    assert_int_equal(ei.code, MG_E_CONFLICT);
    assert_non_null(strstr(ei.msg, "already exists"));
    assert_doc(s, "role", "111122223333", "admin", "{\"v\":1}");
    /* A conflict inside a transaction leaves it usable. */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_insert(s, "role", "111122223333", "admin", MG_SLICE_LIT("{}")),
                     MG_E_CONFLICT);
    assert_int_equal(mg_store_insert(s, "role", "111122223333", "dev", MG_SLICE_LIT("{}")),
                     MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_doc(s, "role", "111122223333", "dev", "{}");
    mg_store_close(s);
}

static void test_store_delete_not_found(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(mg_store_delete(s, "user", "111122223333", "bob"), MG_E_NOT_FOUND);
    assert_int_equal(put_str(s, "user", "111122223333", "bob", "{}"), MG_E_OK);
    assert_int_equal(mg_store_delete(s, "user", "111122223333", "bob"), MG_E_OK);
    assert_missing(s, "user", "111122223333", "bob");
    assert_int_equal(mg_store_delete(s, "user", "111122223333", "bob"), MG_E_NOT_FOUND);
    struct mg_errinfo ei;
    mg_store_last_error(&ei);
    assert_int_equal(ei.code, MG_E_NOT_FOUND);
    mg_store_close(s);
}

struct collect {
    char out[4096];
    size_t n;
    size_t stop_after; /* 0: never */
};

static bool collect_row(void *user, const struct mg_store_row *row)
{
    struct collect *c = user;
    size_t room = sizeof(c->out) - strlen(c->out);
    snprintf(c->out + strlen(c->out), room, "%s/%s/%s=%.*s;", row->kind, row->account, row->key,
             (int)row->doc_len, row->doc);
    assert_true(row->updated_ms > 0);
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void test_store_list_order_and_filter(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    static const char *const rows[][3] = {
        {"user", "222222222222", "b"},
        {"role", "111111111111", "r"},
        {"user", "111111111111", "z"},
        {"user", "111111111111", "a"},
        {"user", "", "g"},
        {"user", "222222222222", "a"},
        {"policy", "", "p"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(put_str(s, rows[i][0], rows[i][1], rows[i][2], rows[i][2]), MG_E_OK);

    struct collect c = {0};
    assert_int_equal(mg_store_list(s, "user", NULL, collect_row, &c), MG_E_OK);
    assert_string_equal(c.out, "user//g=g;user/111111111111/a=a;user/111111111111/z=z;"
                               "user/222222222222/a=a;user/222222222222/b=b;");
    memset(&c, 0, sizeof(c));
    assert_int_equal(mg_store_list(s, "user", "222222222222", collect_row, &c), MG_E_OK);
    assert_string_equal(c.out, "user/222222222222/a=a;user/222222222222/b=b;");
    memset(&c, 0, sizeof(c));
    assert_int_equal(mg_store_list(s, "user", "", collect_row, &c), MG_E_OK);
    assert_string_equal(c.out, "user//g=g;");
    memset(&c, 0, sizeof(c));
    assert_int_equal(mg_store_list(s, "gateway", NULL, collect_row, &c), MG_E_OK);
    assert_int_equal(c.n, 0);

    memset(&c, 0, sizeof(c));
    assert_int_equal(mg_store_scan(s, collect_row, &c), MG_E_OK);
    assert_string_equal(c.out, "policy//p=p;role/111111111111/r=r;user//g=g;"
                               "user/111111111111/a=a;user/111111111111/z=z;"
                               "user/222222222222/a=a;user/222222222222/b=b;");
    /* The callback stops the iteration early. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(mg_store_scan(s, collect_row, &c), MG_E_OK);
    assert_int_equal(c.n, 2);
    /* A scan with its generation. */
    memset(&c, 0, sizeof(c));
    uint64_t gen = 0;
    assert_int_equal(mg_store_scan_gen(s, collect_row, &c, &gen), MG_E_OK);
    assert_int_equal(c.n, 7);
    assert_int_equal(gen, 7);
    mg_store_close(s);
}

/* A list callback that reads and writes through the store while the iteration runs. */
struct nested {
    struct mg_store *s;
    size_t n;
};

static bool nested_row(void *user, const struct mg_store_row *row)
{
    struct nested *n = user;
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_store_get(n->s, row->kind, row->account, row->key, &b), MG_E_OK);
    assert_int_equal(b.len, row->doc_len);
    mg_buf_cleanup(&b);
    struct collect c = {0};
    assert_int_equal(mg_store_list(n->s, row->kind, row->account, collect_row, &c), MG_E_OK);
    assert_int_equal(mg_store_put(n->s, "copy", row->account, row->key,
                                  mg_slice_make(row->doc, row->doc_len)),
                     MG_E_OK);
    n->n++;
    return true;
}

static void test_store_nested_calls_in_callbacks(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    for (int i = 0; i < 5; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put_str(s, "orig", "111111111111", key, key), MG_E_OK);
    }
    struct nested n = {s, 0};
    assert_int_equal(mg_store_list(s, "orig", NULL, nested_row, &n), MG_E_OK);
    assert_int_equal(n.n, 5);
    /* The same inside a transaction: everything goes through the writer connection. */
    n.n = 0;
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_list(s, "orig", NULL, nested_row, &n), MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_int_equal(n.n, 5);
    assert_doc(s, "copy", "111111111111", "k4", "k4");
    mg_store_close(s);
}

static void test_store_limits(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    size_t big = MG_STORE_DOC_MAX + 1;
    char *doc = malloc(big);
    assert_non_null(doc);
    memset(doc, 'x', big);
    assert_int_equal(mg_store_put(s, "k", "", "big", mg_slice_make(doc, big)), MG_E_TOO_LARGE);
    assert_int_equal(mg_store_insert(s, "k", "", "big", mg_slice_make(doc, big)), MG_E_TOO_LARGE);
    assert_int_equal(mg_store_meta_put(s, "big", mg_slice_make(doc, big)), MG_E_TOO_LARGE);
    /* Exactly at the limit is fine, and reads back whole. */
    assert_int_equal(mg_store_put(s, "k", "", "max", mg_slice_make(doc, big - 1)), MG_E_OK);
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    assert_int_equal(mg_store_get(s, "k", "", "max", &b), MG_E_OK);
    assert_int_equal(b.len, big - 1);
    assert_int_equal(mg_memcmp(b.ptr, doc, big - 1), 0);
    mg_buf_cleanup(&b);

    char name[MG_STORE_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    name[MG_STORE_NAME_MAX] = '\0';
    assert_int_equal(put_str(s, name, name, name, "{}"), MG_E_OK);
    name[MG_STORE_NAME_MAX] = 'n';
    name[MG_STORE_NAME_MAX + 1] = '\0';
    assert_int_equal(put_str(s, name, "", "k", "{}"), MG_E_INVALID);
    assert_int_equal(put_str(s, "k", name, "k", "{}"), MG_E_INVALID);
    assert_int_equal(put_str(s, "k", "", name, "{}"), MG_E_INVALID);
    assert_int_equal(mg_store_delete(s, "k", "", name), MG_E_INVALID);
    assert_int_equal(mg_store_meta_put(s, name, MG_SLICE_LIT("v")), MG_E_INVALID);
    struct mg_errinfo ei;
    mg_store_last_error(&ei);
    assert_int_equal(ei.code, MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "longer than"));
    assert_int_equal(put_str(s, "", "", "k", "{}"), MG_E_INVALID);
    assert_int_equal(put_str(s, "k", "", "", "{}"), MG_E_INVALID);
    assert_int_equal(put_str(s, "k", NULL, "k", "{}"), MG_E_INVALID);
    assert_int_equal(mg_store_meta_put(s, "generation", MG_SLICE_LIT("9")), MG_E_INVALID);
    free(doc);
    mg_store_close(s);
}

static void test_store_transactions(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    /* A second handle plays the part of another process. */
    struct mg_store *other = open_ok(f);
    uint64_t g0 = mg_store_generation(s);
    assert_int_equal(g0, 0);

    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_begin(s), MG_E_INVALID); /* no nesting */
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "b", "B"), MG_E_OK);
    assert_int_equal(mg_store_meta_put(s, "m", MG_SLICE_LIT("v")), MG_E_OK);
    assert_doc(s, "user", "1", "a", "A");    /* the transaction sees its own writes */
    assert_missing(other, "user", "1", "a"); /* nobody else does */
    mg_store_rollback(s);
    assert_missing(s, "user", "1", "a");
    assert_missing(s, "user", "1", "b");
    struct mg_buf b;
    mg_buf_init(&b, 64);
    assert_int_equal(mg_store_meta_get(s, "m", &b), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_generation(s), g0);

    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "b", "B"), MG_E_OK);
    assert_int_equal(mg_store_delete(s, "user", "1", "b"), MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_doc(s, "user", "1", "a", "A");
    assert_missing(s, "user", "1", "b");
    assert_doc(other, "user", "1", "a", "A");
    /* One committed transaction is one generation. */
    assert_int_equal(mg_store_generation(s), g0 + 1);

    /* A transaction that wrote nothing does not move the generation. */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_doc(s, "user", "1", "a", "A");
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_int_equal(mg_store_generation(s), g0 + 1);

    /* Commit or rollback without a transaction. */
    assert_int_equal(mg_store_commit(s), MG_E_INVALID);
    mg_store_rollback(s);

    /* The other handle sees the change only after a refresh. */
    uint64_t g = 0;
    assert_int_equal(mg_store_generation(other), 0);
    assert_int_equal(mg_store_generation_refresh(other, &g), MG_E_OK);
    assert_int_equal(g, g0 + 1);
    assert_int_equal(put_str(other, "user", "1", "c", "C"), MG_E_OK);
    assert_int_equal(mg_store_generation(other), g0 + 2);
    assert_int_equal(mg_store_generation(s), g0 + 1);
    assert_int_equal(mg_store_generation_refresh(s, &g), MG_E_OK);
    assert_int_equal(g, g0 + 2);
    assert_int_equal(mg_store_generation(s), g0 + 2);

    /* Closing with a transaction open rolls it back. */
    assert_int_equal(mg_store_begin(other), MG_E_OK);
    assert_int_equal(put_str(other, "user", "1", "d", "D"), MG_E_OK);
    mg_store_close(other);
    assert_missing(s, "user", "1", "d");
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

/* White-box: once a write in a transaction failed in the database, later writes are refused
 * and the commit rolls everything back. */
static void test_store_failed_transaction_is_poisoned(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    s->tx_failed = true; /* as if the next write had hit a full disk */
    assert_int_equal(put_str(s, "user", "1", "b", "B"), MG_E_STORE);
    assert_int_equal(mg_store_commit(s), MG_E_STORE);
    struct mg_errinfo ei;
    mg_store_last_error(&ei);
    assert_non_null(strstr(ei.msg, "rolled back"));
    assert_missing(s, "user", "1", "a");
    assert_missing(s, "user", "1", "b");
    assert_int_equal(mg_store_generation(s), 0);
    /* The writer is free again. */
    assert_int_equal(put_str(s, "user", "1", "c", "C"), MG_E_OK);
    mg_store_close(s);
}

static void test_store_meta(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_store_meta_get(s, "signing_key", &b), MG_E_NOT_FOUND);
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0};
    assert_int_equal(mg_store_meta_put(s, "signing_key", mg_slice_make(bin, sizeof(bin))), MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "signing_key", &b), MG_E_OK);
    assert_int_equal(b.len, sizeof(bin));
    assert_int_equal(mg_memcmp(b.ptr, bin, sizeof(bin)), 0);
    assert_int_equal(mg_store_meta_put(s, "signing_key", MG_SLICE_LIT("v2")), MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "signing_key", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "v2");
    assert_int_equal(mg_store_meta_put(s, "empty", MG_SLICE_LIT("")), MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "empty", &b), MG_E_OK);
    assert_int_equal(b.len, 0);
    assert_int_equal(mg_store_generation(s), 3);
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

/* Insert-once and compare-and-swap of meta values, and the get-or-create secret on top. */
static void test_store_meta_insert_swap(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_store_meta_insert(s, "k", MG_SLICE_LIT("one")), MG_E_OK);
    assert_int_equal(mg_store_meta_insert(s, "k", MG_SLICE_LIT("two")), MG_E_CONFLICT);
    assert_int_equal(mg_store_meta_get(s, "k", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "one");
    uint64_t gen = mg_store_generation(s);
    assert_int_equal(gen, 1); /* the conflict wrote nothing */
    /* swap: only from the expected value */
    assert_int_equal(mg_store_meta_swap(s, "k", MG_SLICE_LIT("two"), MG_SLICE_LIT("three")),
                     MG_E_CONFLICT);
    assert_int_equal(mg_store_meta_swap(s, "k", MG_SLICE_LIT("on"), MG_SLICE_LIT("three")),
                     MG_E_CONFLICT);
    assert_int_equal(mg_store_meta_swap(s, "absent", MG_SLICE_LIT("x"), MG_SLICE_LIT("y")),
                     MG_E_NOT_FOUND);
    assert_int_equal(mg_store_meta_swap(s, "k", MG_SLICE_LIT("one"), MG_SLICE_LIT("three")),
                     MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "k", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "three");
    assert_int_equal(mg_store_generation(s), 2);
    /* binary values and the empty value compare exactly */
    static const uint8_t bin[] = {0, 1, 0xff, 0};
    assert_int_equal(mg_store_meta_insert(s, "bin", mg_slice_make(bin, sizeof(bin))), MG_E_OK);
    assert_int_equal(mg_store_meta_swap(s, "bin", mg_slice_make(bin, 3), MG_SLICE_LIT("")),
                     MG_E_CONFLICT);
    assert_int_equal(mg_store_meta_swap(s, "bin", mg_slice_make(bin, sizeof(bin)),
                                        MG_SLICE_LIT("")),
                     MG_E_OK);
    assert_int_equal(mg_store_meta_swap(s, "bin", MG_SLICE_LIT(""), MG_SLICE_LIT("z")), MG_E_OK);
    /* the store's own counter is refused */
    assert_int_equal(mg_store_meta_insert(s, "generation", MG_SLICE_LIT("1")), MG_E_INVALID);
    assert_int_equal(mg_store_meta_swap(s, "generation", MG_SLICE_LIT("1"), MG_SLICE_LIT("2")),
                     MG_E_INVALID);
    /* inside a transaction: a conflict leaves it usable; a rollback undoes the insert */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_meta_insert(s, "k", MG_SLICE_LIT("x")), MG_E_CONFLICT);
    assert_int_equal(mg_store_meta_insert(s, "t", MG_SLICE_LIT("x")), MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "t", &b), MG_E_OK);
    mg_store_rollback(s);
    assert_int_equal(mg_store_meta_get(s, "t", &b), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_meta_insert(s, "t", MG_SLICE_LIT("y")), MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_int_equal(mg_store_meta_get(s, "t", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "y");
    /* a secret: made once, then the same */
    uint8_t k1[32], k2[32];
    assert_int_equal(mg_store_meta_secret(s, "sec", k1, sizeof(k1)), MG_E_OK);
    assert_int_equal(mg_store_meta_secret(s, "sec", k2, sizeof(k2)), MG_E_OK);
    assert_int_equal(mg_memcmp(k1, k2, sizeof(k1)), 0);
    /* one of another length is never replaced */
    assert_int_equal(mg_store_meta_secret(s, "k", k1, sizeof(k1)), MG_E_STORE);
    assert_int_equal(mg_store_meta_get(s, "k", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "three");
    assert_int_equal(mg_store_meta_secret(s, "sec", k1, 0), MG_E_INVALID);
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

/* Several handles (nodes) make the same secret at once: one value wins and all read it. */
#define RACERS 4

struct racer {
    const char *loc;
    pthread_barrier_t *go;
    int index;
    enum mg_err insert_err;
    enum mg_err secret_err;
    uint8_t secret[32];
    char won[16];
};

static void *racer_thread(void *arg)
{
    struct racer *r = arg;
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    r->insert_err = MG_E_INTERNAL;
    r->secret_err = MG_E_INTERNAL;
    enum mg_err e = mg_store_open(r->loc, &s, &ei);
    pthread_barrier_wait(r->go);
    if (e != MG_E_OK)
        return NULL;
    char mine[16];
    snprintf(mine, sizeof(mine), "v%d", r->index);
    r->insert_err = mg_store_meta_insert(s, "race", mg_slice_cstr(mine));
    r->secret_err = mg_store_meta_secret(s, "race_secret", r->secret, sizeof(r->secret));
    struct mg_buf b;
    mg_buf_init(&b, 64);
    if (mg_store_meta_get(s, "race", &b) == MG_E_OK && mg_buf_cstr(&b))
        snprintf(r->won, sizeof(r->won), "%s", mg_buf_cstr(&b));
    mg_buf_cleanup(&b);
    mg_store_close(s);
    return NULL;
}

static void test_store_meta_insert_race(void **state)
{
    struct fixture *f = *state;
    struct mg_store *first = open_ok(f); /* migrations done before the race */
    mg_store_close(first);
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, RACERS), 0);
    struct racer r[RACERS];
    pthread_t t[RACERS];
    for (int i = 0; i < RACERS; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].loc = f->loc;
        r[i].go = &go;
        r[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, racer_thread, &r[i]), 0);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    int winners = 0;
    for (int i = 0; i < RACERS; i++) {
        if (r[i].insert_err == MG_E_OK)
            winners++;
        else
            assert_int_equal(r[i].insert_err, MG_E_CONFLICT);
        assert_int_equal(r[i].secret_err, MG_E_OK);
        assert_int_equal(mg_memcmp(r[i].secret, r[0].secret, sizeof(r[0].secret)), 0);
        assert_string_equal(r[i].won, r[0].won);
    }
    assert_int_equal(winners, 1);
    /* the value read back is the winner's own */
    for (int i = 0; i < RACERS; i++) {
        char mine[16];
        snprintf(mine, sizeof(mine), "v%d", i);
        assert_int_equal(strcmp(mine, r[0].won) == 0, r[i].insert_err == MG_E_OK);
    }
}

static int64_t count_migrations(const char *db_path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM schema_migrations", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void exec_sql(const char *db_path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     NULL),
                     SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("sql failed: %s", msg ? msg : "?");
    sqlite3_close(db);
}

static void test_store_migrations_idempotent(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    mg_store_close(s);
    assert_int_equal(count_migrations(f->db), (int64_t)g_mg_store_sqlite_migration_count);
    for (int i = 0; i < 2; i++) {
        s = open_ok(f);
        assert_doc(s, "user", "1", "a", "A");
        assert_int_equal(mg_store_generation(s), 1); /* read back from the database */
        mg_store_close(s);
        assert_int_equal(count_migrations(f->db), (int64_t)g_mg_store_sqlite_migration_count);
    }
    /* A database from a newer version is refused with a clear message. */
    exec_sql(f->db, "INSERT INTO schema_migrations (version, name, applied_ms) "
                    "VALUES (9999, '9999_future.sql', 0)");
    struct mg_errinfo ei = {0};
    s = NULL;
    assert_int_equal(mg_store_open(f->dir, &s, &ei), MG_E_STORE);
    assert_null(s);
    assert_non_null(strstr(ei.msg, "newer version"));
    assert_non_null(strstr(ei.msg, "9999"));
}

/* The embedded SQL must be exactly the text of the .sql files in the source tree. */
static void test_store_embedded_migrations_match_files(void **state)
{
    (void)state;
    int last = 0;
    for (size_t i = 0; i < g_mg_store_sqlite_migration_count; i++) {
        const struct mg_store_migration *m = &g_mg_store_sqlite_migrations[i];
        assert_true(m->version > last); /* strictly increasing */
        last = m->version;
        char want_prefix[8];
        snprintf(want_prefix, sizeof(want_prefix), "%04d_", m->version);
        assert_int_equal(strncmp(m->name, want_prefix, 5), 0);
        char path[256];
        snprintf(path, sizeof(path), "src/state/migrations/%s", m->name);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            print_message("skipping %s: not run from the source tree\n", path);
            continue;
        }
        static char text[65536];
        size_t n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
        text[n] = '\0';
        assert_string_equal(text, m->sql);
    }
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return (unsigned)(st.st_mode & 0777);
}

static void test_store_permissions(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(022);
    char nested[400];
    snprintf(nested, sizeof(nested), "%s/deep/er", f->dir);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(nested, &s, &ei), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    assert_int_equal(mode_of(f->dir), 0700);
    assert_int_equal(mode_of(nested), 0700);
    char p[500];
    snprintf(p, sizeof(p), "%s/mcpgate.db", nested);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof(p), "%s/mcpgate.db-wal", nested);
    assert_int_equal(mode_of(p), 0600);
    snprintf(p, sizeof(p), "%s/mcpgate.db-shm", nested);
    assert_int_equal(mode_of(p), 0600);
    mg_store_close(s);
    umask(old);
}

static void test_store_tightens_existing_file(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    mg_store_close(s);
    assert_int_equal(chmod(f->db, 0644), 0);
    s = open_ok(f);
    assert_int_equal(mode_of(f->db), 0600);
    mg_store_close(s);
}

/* The child: writes rows one transaction each and reports each acknowledged commit. */
static void durability_child(const char *dir, int fd)
{
    struct mg_store *s = NULL;
    if (mg_store_open(dir, &s, NULL) != MG_E_OK)
        _exit(2);
    if (write(fd, "ready\n", 6) != 6)
        _exit(3);
    for (int i = 0; i < 100000; i++) {
        char key[32], doc[64];
        snprintf(key, sizeof(key), "k%06d", i);
        snprintf(doc, sizeof(doc), "{\"i\":%d}", i);
        if (i % 2 == 0) {
            if (mg_store_put(s, "row", "", key, mg_slice_cstr(doc)) != MG_E_OK)
                _exit(4);
        } else {
            if (mg_store_begin(s) != MG_E_OK ||
                mg_store_insert(s, "row", "", key, mg_slice_cstr(doc)) != MG_E_OK ||
                mg_store_commit(s) != MG_E_OK)
                _exit(4);
        }
        char line[32];
        int n = snprintf(line, sizeof(line), "%d\n", i);
        if (write(fd, line, (size_t)n) != n)
            _exit(5);
    }
    _exit(0);
}

static void test_store_kill9_durability(void **state)
{
    struct fixture *f = *state;
    need_backend(f);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        durability_child(f->loc, fds[1]);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    assert_non_null(in);
    char line[64];
    int acked = -1;
    bool ready = false;
    while (fgets(line, sizeof(line), in) != NULL) {
        if (!ready) {
            assert_string_equal(line, "ready\n");
            ready = true;
            continue;
        }
        acked = atoi(line);
        if (acked >= 60)
            break;
    }
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    fclose(in);
    assert_true(acked >= 60);

    struct mg_store *s = open_ok(f);
    for (int i = 0; i <= acked; i++) {
        char key[32], doc[64];
        snprintf(key, sizeof(key), "k%06d", i);
        snprintf(doc, sizeof(doc), "{\"i\":%d}", i);
        assert_doc(s, "row", "", key, doc);
    }
    /* Every acknowledged commit bumped the generation (later unacknowledged ones may be there). */
    assert_true(mg_store_generation(s) >= (uint64_t)acked + 1);
    mg_store_close(s);
}

static void test_store_corrupt_file(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->dir, 0700), 0);
    int fd = open(f->db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    uint8_t junk[65536];
    srand(12345);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open(f->dir, &s, &ei), MG_E_STORE);
    assert_null(s);
    assert_int_equal(ei.code, MG_E_STORE);
    assert_non_null(strstr(ei.msg, "corrupted"));
    assert_non_null(strstr(ei.msg, "mcpgate.db"));

    /* A valid SQLite file of some other program is refused too. */
    unlink(f->db);
    exec_sql(f->db, "CREATE TABLE other (x); INSERT INTO other VALUES (1);");
    assert_int_equal(mg_store_open(f->dir, &s, &ei), MG_E_STORE);
    assert_non_null(strstr(ei.msg, "not created by mcpgate"));

    /* A truncated header of a real store. */
    unlink(f->db);
    s = open_ok(f);
    for (int i = 0; i < 50; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put_str(s, "row", "", key, "{\"some\":\"document\"}"), MG_E_OK);
    }
    mg_store_close(s);
    fd = open(f->db, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, 200, 0), 200);
    close(fd);
    assert_int_equal(mg_store_open(f->dir, &s, &ei), MG_E_STORE);
    assert_null(s);
    assert_true(strlen(ei.msg) > 0);

    /* The location is a file, not a directory. */
    char file_loc[400];
    snprintf(file_loc, sizeof(file_loc), "%s/plainfile", f->root);
    fd = open(file_loc, O_WRONLY | O_CREAT, 0600);
    close(fd);
    assert_int_equal(mg_store_open(file_loc, &s, &ei), MG_E_IO);
    assert_non_null(strstr(ei.msg, "not a directory"));
    assert_int_equal(mg_store_open("", &s, &ei), MG_E_INVALID);
}

static void test_store_locked_beyond_timeout(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_STORE);
    struct mg_errinfo ei;
    mg_store_last_error(&ei);
    assert_int_equal(ei.code, MG_E_STORE);
    assert_non_null(strstr(ei.msg, "locked"));
    /* Reads still work while another process writes (WAL). */
    assert_missing(s, "user", "1", "a");
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* And the writer recovers once the lock is gone. */
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    mg_store_close(s);
}

struct conc {
    struct mg_store *s;
    atomic_int done;
    atomic_int errors;
    atomic_long reads;
};

#define CONC_ROWS 150

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    for (int i = 0; i < CONC_ROWS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%04d", i);
        enum mg_err err;
        if (i % 3 == 0) {
            err = mg_store_begin(c->s);
            if (err == MG_E_OK)
                err = mg_store_put(c->s, "row", "1", key, MG_SLICE_LIT("{\"v\":1}"));
            if (err == MG_E_OK)
                err = mg_store_put(c->s, "row", "2", key, MG_SLICE_LIT("{\"v\":2}"));
            if (err == MG_E_OK)
                err = mg_store_commit(c->s);
            else
                mg_store_rollback(c->s);
        } else {
            err = mg_store_put(c->s, "row", "1", key, MG_SLICE_LIT("{\"v\":1}"));
            if (err == MG_E_OK)
                err = mg_store_put(c->s, "row", "2", key, MG_SLICE_LIT("{\"v\":2}"));
        }
        if (err != MG_E_OK)
            atomic_fetch_add(&c->errors, 1);
    }
    atomic_fetch_add(&c->done, 1);
    return NULL;
}

static bool count_row(void *user, const struct mg_store_row *row)
{
    (void)row;
    (*(size_t *)user)++;
    return true;
}

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    size_t last = 0;
    unsigned i = 0;
    while (atomic_load(&c->done) < 2) {
        char key[32];
        snprintf(key, sizeof(key), "k%04u", i++ % CONC_ROWS);
        enum mg_err err = mg_store_get(c->s, "row", "1", key, &b);
        if (err != MG_E_OK && err != MG_E_NOT_FOUND)
            atomic_fetch_add(&c->errors, 1);
        size_t n = 0;
        if (mg_store_list(c->s, "row", "1", count_row, &n) != MG_E_OK || n < last)
            atomic_fetch_add(&c->errors, 1);
        last = n;
        uint64_t gen;
        if (mg_store_generation_refresh(c->s, &gen) != MG_E_OK)
            atomic_fetch_add(&c->errors, 1);
        atomic_fetch_add(&c->reads, 1);
    }
    mg_buf_cleanup(&b);
    return NULL;
}

static void test_store_concurrency(void **state)
{
    struct fixture *f = *state;
    struct conc c = {.s = open_ok(f)};
    pthread_t w1, w2, r1, r2;
    assert_int_equal(pthread_create(&r1, NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&r2, NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&w1, NULL, conc_writer, &c), 0);
    assert_int_equal(pthread_create(&w2, NULL, conc_writer, &c), 0);
    pthread_join(w1, NULL);
    pthread_join(w2, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    assert_int_equal(atomic_load(&c.errors), 0);
    assert_true(atomic_load(&c.reads) > 0);
    size_t n = 0;
    assert_int_equal(mg_store_scan(c.s, count_row, &n), MG_E_OK);
    assert_int_equal(n, 2 * CONC_ROWS);
    /* Each writer: one generation per single put, one per transaction. */
    uint64_t per_writer = (uint64_t)(CONC_ROWS / 3) + 2u * (CONC_ROWS - CONC_ROWS / 3);
    assert_int_equal(mg_store_generation(c.s), 2 * per_writer);
    mg_store_close(c.s);
}

struct later_put {
    struct mg_store *s;
    int delay_ms;
    enum mg_err err;
};

static void *later_put_thread(void *arg)
{
    struct later_put *l = arg;
    usleep((useconds_t)l->delay_ms * 1000u);
    l->err = mg_store_put(l->s, "user", "1", "later", MG_SLICE_LIT("{}"));
    return NULL;
}

static uint64_t ms_since(uint64_t t0)
{
    return (mg_mono_ns() - t0) / 1000000u;
}

/* A second handle (another node) waits for a commit of the first one. */
static void test_store_wait_change(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_store *other = open_ok(f);
    uint64_t g = 99;
    /* Nothing new: a zero timeout returns at once with the stored generation. */
    assert_int_equal(mg_store_wait_change(other, 0, 0, &g), MG_E_OK);
    assert_int_equal(g, 0);
    struct later_put l = {s, 150, MG_E_INTERNAL};
    pthread_t t;
    uint64_t t0 = mg_mono_ns();
    assert_int_equal(pthread_create(&t, NULL, later_put_thread, &l), 0);
    enum mg_err we = mg_store_wait_change(other, 0, 10000, &g);
    uint64_t waited = ms_since(t0);
    pthread_join(t, NULL); /* before any check: a failed one must not leave the writer running */
    assert_int_equal(we, MG_E_OK);
    assert_int_equal(l.err, MG_E_OK);
    assert_int_equal(g, 1);
    assert_int_equal(mg_store_generation(other), 1);
    /* Woken by the commit, not by the timeout. */
    assert_true(waited >= 100 && waited < 2000);
    /* Already past: at once. */
    t0 = mg_mono_ns();
    assert_int_equal(mg_store_wait_change(other, 0, 10000, &g), MG_E_OK);
    assert_int_equal(g, 1);
    assert_true(ms_since(t0) < 1000);
    /* Nothing comes: the timeout. */
    t0 = mg_mono_ns();
    assert_int_equal(mg_store_wait_change(other, 1, 200, &g), MG_E_OK);
    assert_int_equal(g, 1);
    assert_true(ms_since(t0) >= 150);
    /* Not inside a transaction. */
    assert_int_equal(mg_store_begin(other), MG_E_OK);
    assert_int_equal(mg_store_wait_change(other, 1, 0, &g), MG_E_INVALID);
    mg_store_rollback(other);
    mg_store_close(other);
    mg_store_close(s);
}

/* ---- the change log ---- */

/* Whether the list holds (kind, account, key). */
static bool has_change(const struct mg_store_changes *c, const char *kind, const char *account,
                       const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].kind, kind) == 0 && strcmp(c->v[i].account, account) == 0 &&
            strcmp(c->v[i].key, key) == 0)
            return true;
    return false;
}

/* since() on `other` from `after`: expects upto and n rows, no overflow. */
static void since_ok(struct mg_store *other, uint64_t after, uint64_t want_upto, size_t want_n,
                     struct mg_store_changes *out)
{
    uint64_t upto = 12345;
    assert_int_equal(mg_store_changes_since(other, after, out, &upto), MG_E_OK);
    assert_false(out->overflow);
    assert_int_equal(upto, want_upto);
    assert_int_equal(out->n, want_n);
}

static void since_overflow(struct mg_store *other, uint64_t after)
{
    struct mg_store_changes c;
    uint64_t upto = 0;
    assert_int_equal(mg_store_changes_since(other, after, &c, &upto), MG_E_OK);
    assert_true(c.overflow);
    assert_int_equal(c.n, 0);
    mg_store_changes_cleanup(&c);
}

/* Sets the stored generation behind the store's back (as many commits would). */
static void set_generation(const struct fixture *f, uint64_t gen)
{
    char sql[160];
    if (f->pg)
        snprintf(sql, sizeof(sql), "UPDATE store_generation SET value = %llu",
                 (unsigned long long)gen);
    else
        snprintf(sql, sizeof(sql), "UPDATE meta SET value = %llu WHERE key = 'generation'",
                 (unsigned long long)gen);
    if (f->pg)
        pgtest_exec(PG_SCHEMA, sql);
    else
        exec_sql(f->db, sql);
}

/* Commits record their rows with their generation; a second handle (another node) reads them. */
static void test_store_change_log(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_store *other = open_ok(f);
    struct mg_store_changes c;
    since_ok(other, 0, 0, 0, &c);
    mg_store_changes_cleanup(&c);
    /* a write on its own: generation 1 */
    assert_int_equal(put_str(s, "user", "1", "a", "{}"), MG_E_OK);
    since_ok(other, 0, 1, 1, &c);
    assert_true(has_change(&c, "user", "1", "a"));
    mg_store_changes_cleanup(&c);
    /* a transaction: its rows under one generation, the delete too */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "b", "{}"), MG_E_OK);
    assert_int_equal(put_str(s, "role", "", "c", "{}"), MG_E_OK);
    assert_int_equal(mg_store_delete(s, "user", "1", "a"), MG_E_OK);
    assert_int_equal(mg_store_delete(s, "user", "1", "zz"), MG_E_NOT_FOUND); /* not a change */
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    since_ok(other, 1, 2, 3, &c);
    assert_true(has_change(&c, "user", "1", "b"));
    assert_true(has_change(&c, "role", "", "c"));
    assert_true(has_change(&c, "user", "1", "a"));
    mg_store_changes_cleanup(&c);
    /* a rollback records nothing, and no generation */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "rolled", "{}"), MG_E_OK);
    mg_store_rollback(s);
    since_ok(other, 2, 2, 0, &c);
    mg_store_changes_cleanup(&c);
    /* a meta write: a generation without rows */
    assert_int_equal(mg_store_meta_put(s, "k", MG_SLICE_LIT("v")), MG_E_OK);
    since_ok(other, 2, 3, 0, &c);
    mg_store_changes_cleanup(&c);
    /* across several commits, from the start */
    since_ok(other, 0, 3, 4, &c);
    assert_true(has_change(&c, "user", "1", "a"));
    assert_true(has_change(&c, "user", "1", "b"));
    mg_store_changes_cleanup(&c);
    /* not inside a transaction on SQLite; a shared store reads it on a connection of its own
     * (a write's catch-up after the barrier), and sees committed rows only */
    uint64_t upto = 0;
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    if (mg_store_shared(s)) {
        assert_int_equal(mg_store_put(s, "user", "1", "uncommitted", MG_SLICE_LIT("{}")), MG_E_OK);
        assert_int_equal(mg_store_changes_since(s, 0, &c, &upto), MG_E_OK);
        assert_int_equal(upto, 3);
        assert_false(has_change(&c, "user", "1", "uncommitted"));
        mg_store_changes_cleanup(&c);
    } else {
        assert_int_equal(mg_store_changes_since(s, 0, &c, &upto), MG_E_INVALID);
    }
    mg_store_rollback(s);
    /* a transaction past MG_STORE_FEED_TX_ROWS records a mark: a reader rebuilds */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    for (unsigned i = 0; i <= MG_STORE_FEED_TX_ROWS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "m%u", i);
        assert_int_equal(put_str(s, "bulk", "1", key, "{}"), MG_E_OK);
    }
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    since_overflow(other, 3);
    since_ok(other, 4, 4, 0, &c); /* past the mark: nothing */
    mg_store_changes_cleanup(&c);
    /* a stored generation below the reader's: the store was replaced, rebuild */
    since_overflow(other, 99);
    mg_store_close(other);
    mg_store_close(s);
}

/* More rows than one read returns: the list ends at a whole generation, the next read goes on. */
static void test_store_change_log_paged(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_store *other = open_ok(f);
    const unsigned per = MG_STORE_FEED_TX_ROWS;
    const unsigned txs = MG_STORE_FEED_READ_ROWS / per + 4;
    for (unsigned t = 0; t < txs; t++) {
        assert_int_equal(mg_store_begin(s), MG_E_OK);
        for (unsigned i = 0; i < per; i++) {
            char key[32];
            snprintf(key, sizeof(key), "t%u-%u", t, i);
            assert_int_equal(put_str(s, "bulk", "1", key, "{}"), MG_E_OK);
        }
        assert_int_equal(mg_store_commit(s), MG_E_OK);
    }
    struct mg_store_changes c;
    uint64_t upto = 0, after = 0;
    size_t total = 0;
    int reads = 0;
    while (after < txs) {
        assert_int_equal(mg_store_changes_since(other, after, &c, &upto), MG_E_OK);
        assert_false(c.overflow);
        assert_true(c.n <= MG_STORE_FEED_READ_ROWS);
        assert_int_equal(c.n, (size_t)(upto - after) * per); /* whole generations */
        assert_true(upto > after);
        total += c.n;
        after = upto;
        reads++;
        mg_store_changes_cleanup(&c);
    }
    assert_int_equal(total, (size_t)txs * per);
    assert_int_equal(reads, 2);
    mg_store_close(other);
    mg_store_close(s);
}

/* Pruning raises the floor: a reader from below it is told to rebuild; above, rows still come. */
static void test_store_change_log_pruned(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    struct mg_store *other = open_ok(f);
    assert_int_equal(put_str(s, "user", "1", "a", "{}"), MG_E_OK); /* generation 1 */
    /* the next commit is generation 2 * KEEP: it prunes up to KEEP */
    set_generation(f, 2u * MG_STORE_FEED_KEEP - 2u);
    assert_int_equal(put_str(s, "user", "1", "b", "{}"), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "c", "{}"), MG_E_OK);
    uint64_t g = mg_store_generation(s);
    assert_int_equal(g, 2u * MG_STORE_FEED_KEEP);
    since_overflow(other, 0);
    since_overflow(other, MG_STORE_FEED_KEEP - 1u);
    struct mg_store_changes c;
    since_ok(other, MG_STORE_FEED_KEEP, g, 2, &c); /* the floor itself is fine */
    assert_true(has_change(&c, "user", "1", "b"));
    assert_true(has_change(&c, "user", "1", "c"));
    mg_store_changes_cleanup(&c);
    since_ok(other, g - 1u, g, 1, &c);
    assert_true(has_change(&c, "user", "1", "c"));
    mg_store_changes_cleanup(&c);
    /* the pruned rows are gone from the table, not only hidden */
    if (f->pg)
        assert_int_equal(pgtest_query_int(PG_SCHEMA, "SELECT count(*) FROM store_changes"), 2);
    mg_store_close(other);
    mg_store_close(s);
}

/* ---- leases ---- */

static struct mg_store_lease take_ok(struct mg_store *s, const char *holder, int lease_ms)
{
    struct mg_store_lease l = {true, 99};
    assert_int_equal(mg_store_lease_take(s, "bg", holder, lease_ms, &l), MG_E_OK);
    return l;
}

/* A fenced write: MG_E_OK when it committed, else what refused it (rolled back). */
static enum mg_err fenced_put(struct mg_store *s, uint64_t token, const char *key)
{
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    enum mg_err e = mg_store_lease_fence(s, "bg", token, 5000);
    if (e == MG_E_OK)
        e = put_str(s, "user", "1", key, "{}");
    if (e != MG_E_OK) {
        mg_store_rollback(s);
        return e;
    }
    return mg_store_commit(s);
}

/* Two handles (two nodes): one holds the lease, the other takes over once it gives it up or
 * stops renewing it; the deposed one's fenced writes are refused. On SQLite every handle holds
 * it (one process owns the store) and the fence always passes. */
static void test_store_lease(void **state)
{
    struct fixture *f = *state;
    struct mg_store *a = open_ok(f);
    struct mg_store *b = open_ok(f);
    struct mg_store_lease la = take_ok(a, "node-a", 400);
    assert_true(la.held);
    assert_true(la.token > 0);
    /* Limits and misuse. */
    struct mg_store_lease x;
    assert_int_equal(mg_store_lease_take(a, "", "node-a", 400, &x), MG_E_INVALID);
    assert_int_equal(mg_store_lease_take(a, "bg", "", 400, &x), MG_E_INVALID);
    assert_int_equal(mg_store_lease_take(a, "bg", "node-a", 0, &x), MG_E_INVALID);
    assert_int_equal(mg_store_lease_fence(a, "bg", la.token, 400), MG_E_INVALID); /* no tx */
    if (!f->pg) {
        struct mg_store_lease lb = take_ok(b, "node-b", 400);
        assert_true(lb.held);
        assert_int_equal(fenced_put(a, la.token, "a1"), MG_E_OK);
        assert_int_equal(fenced_put(b, lb.token, "b1"), MG_E_OK);
        assert_int_equal(mg_store_lease_drop(a, "bg", "node-a"), MG_E_OK);
        mg_store_close(b);
        mg_store_close(a);
        return;
    }
    /* b waits while a renews; a's renewal keeps its token. */
    assert_false(take_ok(b, "node-b", 400).held);
    struct mg_store_lease again = take_ok(a, "node-a", 400);
    assert_true(again.held);
    assert_int_equal(again.token, la.token);
    assert_false(take_ok(b, "node-b", 400).held);
    assert_int_equal(fenced_put(a, la.token, "a1"), MG_E_OK);
    /* A wrong token is refused. */
    assert_int_equal(fenced_put(a, la.token + 1, "a0"), MG_E_CONFLICT);
    /* a gives it up: b takes over at once with a newer token; a is fenced off. */
    assert_int_equal(mg_store_lease_drop(a, "bg", "node-a"), MG_E_OK);
    struct mg_store_lease lb = take_ok(b, "node-b", 400);
    assert_true(lb.held);
    assert_true(lb.token > la.token);
    assert_int_equal(fenced_put(a, la.token, "a2"), MG_E_CONFLICT);
    assert_int_equal(fenced_put(b, lb.token, "b1"), MG_E_OK);
    assert_false(take_ok(a, "node-a", 400).held);
    /* b stops renewing (a dead node, a network pause): a takes over once the lease ran out. */
    usleep(500 * 1000);
    struct mg_store_lease la2 = take_ok(a, "node-a", 400);
    assert_true(la2.held);
    assert_true(la2.token > lb.token);
    assert_int_equal(fenced_put(b, lb.token, "b2"), MG_E_CONFLICT);
    assert_false(take_ok(b, "node-b", 400).held);
    /* a's handle closes without giving it up (kill -9): b takes over after the lease. */
    mg_store_close(a);
    assert_false(take_ok(b, "node-b", 400).held);
    usleep(500 * 1000);
    struct mg_store_lease lb2 = take_ok(b, "node-b", 400);
    assert_true(lb2.held);
    assert_true(lb2.token > la2.token);
    /* A holder whose own lease ran out comes back with a new token. */
    usleep(500 * 1000);
    struct mg_store_lease lb3 = take_ok(b, "node-b", 400);
    assert_true(lb3.held);
    assert_true(lb3.token > lb2.token);
    assert_int_equal(fenced_put(b, lb2.token, "b3"), MG_E_CONFLICT);
    assert_int_equal(fenced_put(b, lb3.token, "b4"), MG_E_OK);
    struct mg_buf buf;
    mg_buf_init(&buf, 64);
    assert_int_equal(mg_store_get(b, "user", "1", "a1", &buf), MG_E_OK);
    assert_int_equal(mg_store_get(b, "user", "1", "b4", &buf), MG_E_OK);
    assert_int_equal(mg_store_get(b, "user", "1", "a2", &buf), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_get(b, "user", "1", "b2", &buf), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_get(b, "user", "1", "b3", &buf), MG_E_NOT_FOUND);
    mg_buf_cleanup(&buf);
    mg_store_close(b);
}

static void count_hook(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* The leader thread over two handles (two nodes): one leads, the other follows and takes over
 * within a renewal period when the first stops cleanly (giving the lease up), running its hook
 * once. On SQLite both lead (one process owns the store). */
static void test_store_leader(void **state)
{
    struct fixture *f = *state;
    struct mg_store *a = open_ok(f);
    struct mg_store *b = open_ok(f);
    struct mg_errinfo ei = {0};
    struct mg_leader *la = NULL, *lb = NULL;
    assert_int_equal(mg_leader_start(a, 1000, 100, &la, &ei), MG_E_OK);
    assert_int_equal(mg_leader_start(b, 1000, 100, &lb, &ei), MG_E_OK);
    atomic_int hooks_a = 0, hooks_b = 0;
    mg_leader_on_lead(la, count_hook, &hooks_a);
    mg_leader_on_lead(lb, count_hook, &hooks_b);
    uint64_t ta = 0, tb = 0;
    assert_true(mg_leader_active(la, &ta));
    assert_int_equal(atomic_load(&hooks_a), 1); /* leading already: called at once */
    assert_true(mg_leader_active(NULL, NULL));
    assert_int_equal(mg_leader_fence(NULL, 0), MG_E_OK);
    if (!f->pg) {
        assert_true(mg_leader_active(lb, &tb));
        assert_int_equal(mg_store_begin(b), MG_E_OK);
        assert_int_equal(mg_leader_fence(lb, tb), MG_E_OK);
        mg_store_rollback(b);
    } else {
        assert_false(mg_leader_active(lb, &tb));
        assert_int_equal(atomic_load(&hooks_b), 0);
        usleep(300 * 1000); /* renewals go on: still a */
        assert_true(mg_leader_active(la, NULL));
        assert_false(mg_leader_active(lb, NULL));
        assert_int_equal(mg_store_begin(a), MG_E_OK);
        assert_int_equal(mg_leader_fence(la, ta), MG_E_OK);
        mg_store_rollback(a);
        mg_leader_stop(la);
        la = NULL;
        uint64_t t0 = mg_mono_ns();
        while (!mg_leader_active(lb, &tb) && ms_since(t0) < 2000)
            usleep(20 * 1000);
        assert_true(mg_leader_active(lb, &tb));
        assert_true(ms_since(t0) < 500);
        assert_true(tb > ta);
        assert_int_equal(atomic_load(&hooks_b), 1);
        assert_int_equal(mg_store_begin(b), MG_E_OK);
        assert_int_equal(mg_leader_fence(lb, tb), MG_E_OK);
        mg_store_rollback(b);
        assert_int_equal(mg_store_begin(a), MG_E_OK);
        assert_int_equal(mg_store_lease_fence(a, "background", ta, 1000), MG_E_CONFLICT);
        mg_store_rollback(a);
    }
    mg_leader_stop(la);
    mg_leader_stop(lb);
    mg_store_close(b);
    mg_store_close(a);
}

struct later_take {
    struct mg_store *s;
    int delay_ms;
    struct mg_store_lease got;
    enum mg_err err;
    uint64_t done_ns;
};

static void *later_take_thread(void *arg)
{
    struct later_take *t = arg;
    usleep((useconds_t)t->delay_ms * 1000u);
    t->err = mg_store_lease_take(t->s, "bg", "node-b", 2000, &t->got);
    t->done_ns = mg_mono_ns();
    return NULL;
}

/* A fenced transaction holds the lease in place until it ends: a takeover waits for its commit,
 * and a holder cut off mid-transaction is ended by the server after the lease's length. */
static void test_pg_lease_fence_holds(void **state)
{
    struct fixture *f = *state;
    struct mg_store *a = open_ok(f);
    struct mg_store *b = open_ok(f);
    struct mg_store_lease la = take_ok(a, "node-a", 400);
    assert_true(la.held);
    /* a fences, then its lease runs out while the transaction is open: b's take waits for it. */
    assert_int_equal(mg_store_begin(a), MG_E_OK);
    assert_int_equal(mg_store_lease_fence(a, "bg", la.token, 3000), MG_E_OK);
    usleep(500 * 1000);
    struct later_take t = {b, 0, {false, 0}, MG_E_INTERNAL, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, later_take_thread, &t), 0);
    usleep(400 * 1000);
    assert_int_equal(put_str(a, "user", "1", "fenced", "{}"), MG_E_OK);
    uint64_t commit_ns = mg_mono_ns();
    assert_int_equal(mg_store_commit(a), MG_E_OK);
    pthread_join(th, NULL);
    assert_int_equal(t.err, MG_E_OK);
    assert_true(t.got.held);
    assert_true(t.got.token > la.token);
    assert_true(t.done_ns >= commit_ns);
    assert_int_equal(fenced_put(a, la.token, "late"), MG_E_CONFLICT);
    /* b fences, then goes silent inside its transaction: the server ends it after the lease's
     * length (300 ms here), so a takes over once b's lease (2 s) ran out; b's commit finds its
     * connection gone. */
    struct mg_store_lease lb = t.got;
    assert_int_equal(mg_store_begin(b), MG_E_OK);
    enum mg_err fe = mg_store_lease_fence(b, "bg", lb.token, 300);
    if (fe != MG_E_OK) {
        struct mg_errinfo fei;
        mg_store_last_error(&fei);
        fail_msg("fence: %s: %s", mg_err_str(fe), fei.msg);
    }
    assert_int_equal(put_str(b, "user", "1", "cut", "{}"), MG_E_OK);
    uint64_t t0 = mg_mono_ns();
    struct mg_store_lease la2 = {false, 0};
    while (!la2.held && ms_since(t0) < 5000) {
        usleep(100 * 1000);
        la2 = take_ok(a, "node-a", 400);
    }
    assert_true(la2.held);
    assert_true(la2.token > lb.token);
    enum mg_err ce = mg_store_commit(b);
    assert_int_equal(ce, MG_E_UNAVAILABLE);
    assert_true(mg_store_unavailable(ce));
    struct mg_buf buf;
    mg_buf_init(&buf, 64);
    assert_int_equal(mg_store_get(a, "user", "1", "fenced", &buf), MG_E_OK);
    assert_int_equal(mg_store_get(a, "user", "1", "cut", &buf), MG_E_NOT_FOUND);
    mg_buf_cleanup(&buf);
    /* b's next call reconnects; it is fenced off. */
    assert_int_equal(fenced_put(b, lb.token, "cut2"), MG_E_CONFLICT);
    mg_store_close(b);
    mg_store_close(a);
}

/* ---- PostgreSQL only ---- */

static void test_pg_migrations_once(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    mg_store_close(s);
    assert_int_equal(pgtest_query_int(PG_SCHEMA, "SELECT count(*) FROM schema_migrations"),
                     (int64_t)g_mg_store_pg_migration_count);
    for (int i = 0; i < 2; i++) {
        s = open_ok(f);
        assert_doc(s, "user", "1", "a", "A");
        assert_int_equal(mg_store_generation(s), 1); /* read back from the database */
        mg_store_close(s);
        assert_int_equal(pgtest_query_int(PG_SCHEMA, "SELECT count(*) FROM schema_migrations"),
                         (int64_t)g_mg_store_pg_migration_count);
    }
    /* A database from a newer version is refused with a clear message. */
    pgtest_exec(PG_SCHEMA, "INSERT INTO schema_migrations (version, name, applied_ms) "
                           "VALUES (9999, '9999_future.sql', 0)");
    struct mg_errinfo ei = {0};
    s = NULL;
    assert_int_equal(mg_store_open(f->loc, &s, &ei), MG_E_STORE);
    assert_null(s);
    assert_non_null(strstr(ei.msg, "newer version"));
    assert_non_null(strstr(ei.msg, "9999"));
    /* Tables of another program under our names, without our migrations table, are refused. */
    pgtest_exec(PG_SCHEMA, "DROP SCHEMA " PG_SCHEMA " CASCADE; CREATE SCHEMA " PG_SCHEMA
                           "; CREATE TABLE documents (x int)");
    assert_int_equal(mg_store_open(f->loc, &s, &ei), MG_E_STORE);
    assert_null(s);
    assert_non_null(strstr(ei.msg, "not created by mcpgate"));
}

struct opener {
    const char *loc;
    enum mg_err err;
};

static void *open_thread(void *arg)
{
    struct opener *o = arg;
    struct mg_store *s = NULL;
    o->err = mg_store_open(o->loc, &s, NULL);
    mg_store_close(s);
    return NULL;
}

/* Nodes starting together on an empty database: the migrations run once. */
static void test_pg_concurrent_open(void **state)
{
    struct fixture *f = *state;
    need_backend(f);
    struct opener o[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        o[i] = (struct opener){f->loc, MG_E_INTERNAL};
        assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
    }
    /* every thread joined before any check: a failed check must not leave openers running */
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(o[i].err, MG_E_OK);
    assert_int_equal(pgtest_query_int(PG_SCHEMA, "SELECT count(*) FROM schema_migrations"),
                     (int64_t)g_mg_store_pg_migration_count);
    assert_int_equal(pgtest_query_int(PG_SCHEMA, "SELECT value FROM store_generation"), 0);
}

/* Documents are bytes: NUL, invalid UTF-8 and quotes go in and come back unchanged. */
static void test_pg_binary_safe(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    static const char doc[] = {'{', 0, '\xff', '\'', '"', ';', '\\', '}'};
    assert_int_equal(mg_store_put(s, "k", "", "bin", mg_slice_make(doc, sizeof(doc))), MG_E_OK);
    assert_int_equal(put_str(s, "k", "", "x'); DROP TABLE documents; --", "{}"), MG_E_OK);
    struct mg_buf b;
    mg_buf_init(&b, 1024);
    assert_int_equal(mg_store_get(s, "k", "", "bin", &b), MG_E_OK);
    assert_int_equal(b.len, sizeof(doc));
    assert_int_equal(mg_memcmp(b.ptr, doc, sizeof(doc)), 0);
    assert_doc(s, "k", "", "x'); DROP TABLE documents; --", "{}");
    /* Names go over as UTF-8 text: other bytes are refused before any I/O. */
    assert_int_equal(put_str(s, "k", "", "bad\xff", "{}"), MG_E_INVALID);
    assert_int_equal(mg_store_get(s, "k", "", "bad\xff", &b), MG_E_INVALID);
    /* Names with multi-byte characters order by their bytes, as in SQLite. */
    assert_int_equal(put_str(s, "k", "", "\xc3\xa9", "e"), MG_E_OK);
    assert_int_equal(put_str(s, "k", "", "z", "z"), MG_E_OK);
    assert_int_equal(put_str(s, "k", "", "B", "B"), MG_E_OK);
    struct collect c = {0};
    assert_int_equal(mg_store_list(s, "k", "", collect_row, &c), MG_E_OK);
    assert_int_equal(c.n, 5);
    assert_non_null(strstr(c.out, "k//B=B;"));
    assert_true(strstr(c.out, "k//z=z;") < strstr(c.out, "k//\xc3\xa9=e;"));
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

/* More rows than one page: a scan pages through all of them, in order, with one generation. */
static void test_pg_paging(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    for (int i = 0; i < 700; i++) {
        char key[16], acct[16];
        snprintf(key, sizeof(key), "k%04d", i);
        snprintf(acct, sizeof(acct), "%d", i % 3);
        assert_int_equal(put_str(s, "row", acct, key, "{}"), MG_E_OK);
    }
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    size_t n = 0;
    uint64_t gen = 0;
    assert_int_equal(mg_store_scan_gen(s, count_row, &n, &gen), MG_E_OK);
    assert_int_equal(n, 700);
    assert_int_equal(gen, 1);
    n = 0;
    assert_int_equal(mg_store_list(s, "row", "1", count_row, &n), MG_E_OK);
    assert_int_equal(n, 233);
    n = 0;
    assert_int_equal(mg_store_list(s, "row", NULL, count_row, &n), MG_E_OK);
    assert_int_equal(n, 700);
    /* A row some other program wrote with a name past the limit stops a scan with an error
     * (instead of paging on from a cut name). */
    pgtest_exec(PG_SCHEMA, "INSERT INTO documents VALUES ('row', '1', repeat('x', 2000), '', 0)");
    n = 0;
    assert_int_equal(mg_store_list(s, "row", "1", count_row, &n), MG_E_STORE);
    mg_store_close(s);
}

/* The password of the URI, as libpq reads it. */
static void pg_password(char *out, size_t cap)
{
    out[0] = '\0';
    PQconninfoOption *o = PQconninfoParse(pgtest_uri(), NULL);
    assert_non_null(o);
    for (PQconninfoOption *p = o; p->keyword != NULL; p++)
        if (strcmp(p->keyword, "password") == 0 && p->val != NULL)
            snprintf(out, cap, "%s", p->val);
    PQconninfoFree(o);
}

static void assert_no_password(const char *msg)
{
    char pw[256];
    pg_password(pw, sizeof(pw));
    if (pw[0] != '\0' && strstr(msg, pw) != NULL)
        fail_msg("the password is in the message: %s", msg);
}

/* The server drops every connection: the next call fails with MG_E_STORE, the one after it
 * reconnects and works. */
static void test_pg_connection_loss(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    assert_int_equal(put_str(s, "user", "1", "a", "A"), MG_E_OK);
    assert_doc(s, "user", "1", "a", "A");
    static const char kill_sql[] =
        "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'mcpgate'";
    assert_true(pgtest_query_int(PG_SCHEMA, kill_sql) >= 2);
    struct mg_errinfo ei;
    /* Dropped while idle: the write's BEGIN finds out, connects again and goes on; a read too
     * (nothing was done on the dead connection). */
    assert_int_equal(put_str(s, "user", "1", "b", "B"), MG_E_OK);
    struct mg_buf b;
    mg_buf_init(&b, 64);
    assert_int_equal(mg_store_get(s, "user", "1", "a", &b), MG_E_OK);
    assert_int_equal(mg_store_get(s, "user", "1", "b", &b), MG_E_OK);
    assert_string_equal(mg_buf_cstr(&b), "B");
    /* Lost in the middle of a transaction: the commit fails, nothing of it is stored. */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "user", "1", "c", "C"), MG_E_OK);
    assert_true(pgtest_query_int(PG_SCHEMA, kill_sql) >= 1);
    assert_int_equal(put_str(s, "user", "1", "d", "D"), MG_E_UNAVAILABLE);
    assert_true(mg_store_unavailable(MG_E_STORE));
    mg_store_last_error(&ei);
    assert_non_null(strstr(ei.msg, "reconnects"));
    assert_no_password(ei.msg);
    assert_int_equal(mg_store_commit(s), MG_E_UNAVAILABLE);
    assert_int_equal(put_str(s, "user", "1", "e", "E"), MG_E_OK);
    /* The reader was dropped too: it connects again. */
    assert_int_equal(mg_store_get(s, "user", "1", "e", &b), MG_E_OK);
    assert_missing(s, "user", "1", "c");
    assert_missing(s, "user", "1", "d");
    uint64_t gen = 0;
    assert_int_equal(mg_store_generation_refresh(s, &gen), MG_E_OK);
    assert_int_equal(gen, 3);
    /* The listener of mg_store_wait_change: dropped, it fails once, then listens again. */
    assert_int_equal(mg_store_wait_change(s, 3, 0, &gen), MG_E_OK);
    assert_true(pgtest_query_int(PG_SCHEMA, kill_sql) >= 1);
    enum mg_err werr = mg_store_wait_change(s, 3, 100, &gen);
    if (werr != MG_E_OK)
        werr = mg_store_wait_change(s, 3, 100, &gen);
    assert_int_equal(werr, MG_E_OK);
    struct mg_store *other = open_ok(f);
    struct later_put l = {other, 100, MG_E_INTERNAL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, later_put_thread, &l), 0);
    uint64_t t0 = mg_mono_ns();
    werr = mg_store_wait_change(s, 3, 10000, &gen);
    uint64_t waited = ms_since(t0);
    pthread_join(t, NULL); /* before any check: a failed one must not leave the writer running */
    assert_int_equal(werr, MG_E_OK);
    assert_true(waited < 2000);
    assert_int_equal(l.err, MG_E_OK);
    assert_int_equal(gen, 4);
    mg_store_close(other);
    mg_buf_cleanup(&b);
    mg_store_close(s);
}

/* No server needed: an unreachable server and a bad URI give clear errors without the password. */
static void test_pg_unreachable(void **state)
{
    (void)state;
    static const char *const uris[] = {
        "postgresql://mcpgate:hunter2secret@127.0.0.1:1/mcpgate?connect_timeout=5",
        "postgres://mcpgate@127.0.0.1:1/mcpgate?password=hunter2secret&connect_timeout=5",
    };
    for (size_t i = 0; i < 2; i++) {
        struct mg_store *s = NULL;
        struct mg_errinfo ei = {0};
        assert_int_equal(mg_store_open(uris[i], &s, &ei), MG_E_STORE);
        assert_null(s);
        assert_non_null(strstr(ei.msg, "cannot connect to PostgreSQL"));
        assert_non_null(strstr(ei.msg, "127.0.0.1:1"));
        assert_non_null(strstr(ei.msg, "***"));
        assert_null(strstr(ei.msg, "hunter2secret"));
    }
    struct mg_store *s = NULL;
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_store_open("postgresql://u:hunter2secret@127.0.0.1:notaport/db", &s, &ei),
                     MG_E_STORE);
    assert_null(strstr(ei.msg, "hunter2secret"));
    assert_int_equal(mg_store_open("postgresql://u:hunter2secret@host/db?nosuch=1", &s, &ei),
                     MG_E_INVALID);
    assert_non_null(strstr(ei.msg, "not valid"));
    assert_null(strstr(ei.msg, "hunter2secret"));
}

static void test_store_location_redact(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"},
        {"postgres://u:p%40w@h/db?sslmode=require", "postgres://u:***@h/db?sslmode=require"},
        {"postgresql://u@h/db?password=pw&sslmode=require",
         "postgresql://u@h/db?password=***&sslmode=require"},
        {"postgresql://u:p@w@h/db", "postgresql://u:***@h/db"},
        {"postgresql://h/db", "postgresql://h/db"},
        {"postgresql:///db?host=/tmp", "postgresql:///db?host=/tmp"},
        {"/var/lib/mcpgate", "/var/lib/mcpgate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[128];
        mg_store_location_redact(cases[i][0], out, sizeof(out));
        assert_string_equal(out, cases[i][1]);
    }
    char small[12];
    mg_store_location_redact("postgresql://u:pw@h/db", small, sizeof(small));
    assert_string_equal(small, "postgresql:");
}

/* The embedded PostgreSQL SQL must be exactly the text of the .sql files in the source tree. */
static void test_pg_embedded_migrations_match_files(void **state)
{
    (void)state;
    int last = 0;
    for (size_t i = 0; i < g_mg_store_pg_migration_count; i++) {
        const struct mg_store_migration *m = &g_mg_store_pg_migrations[i];
        assert_true(m->version > last);
        last = m->version;
        char want_prefix[8];
        snprintf(want_prefix, sizeof(want_prefix), "%04d_", m->version);
        assert_int_equal(strncmp(m->name, want_prefix, 5), 0);
        char path[256];
        snprintf(path, sizeof(path), "src/state/migrations_pg/%s", m->name);
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            print_message("skipping %s: not run from the source tree\n", path);
            continue;
        }
        static char text[65536];
        size_t n = fread(text, 1, sizeof(text) - 1, fp);
        fclose(fp);
        text[n] = '\0';
        assert_string_equal(text, m->sql);
    }
}

/* Chunks: binary parts beside the documents, written only in a transaction, with it or not at
 * all; never in a scan; one key's parts deleted together; per account. */
static void test_store_chunks(void **state)
{
    struct fixture *f = *state;
    struct mg_store *s = open_ok(f);
    const char *a = "111122223333", *b = "444455556666";
    static const uint8_t bin[] = {0, 1, 2, 0xff, 0, 'x'};
    struct mg_buf out;
    mg_buf_init(&out, MG_STORE_DOC_MAX);
    /* outside a transaction: refused */
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "k", 0, mg_slice_make(bin, sizeof(bin))),
                     MG_E_INVALID);
    assert_int_equal(mg_store_chunk_delete(s, "blob", a, "k"), MG_E_INVALID);
    /* rolled back: nothing */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "k", 0, mg_slice_make(bin, sizeof(bin))),
                     MG_E_OK);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 0, &out), MG_E_OK); /* own write */
    mg_store_rollback(s);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 0, &out), MG_E_NOT_FOUND);
    /* committed with a document: both there, the generation moved, the scan sees the document
     * only */
    uint64_t gen = mg_store_generation(s);
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(put_str(s, "blobdoc", a, "k", "{}"), MG_E_OK);
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "k", 0, mg_slice_make(bin, sizeof(bin))),
                     MG_E_OK);
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "k", 1, mg_slice_cstr("second")), MG_E_OK);
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "k", 2, mg_slice_make(NULL, 0)), MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    assert_true(mg_store_generation(s) > gen);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 0, &out), MG_E_OK);
    assert_int_equal(out.len, sizeof(bin));
    assert_memory_equal(out.ptr, bin, sizeof(bin));
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 1, &out), MG_E_OK);
    assert_int_equal(out.len, 6);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 2, &out), MG_E_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(mg_store_chunk_get(s, "blob", b, "k", 0, &out), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 3, &out), MG_E_NOT_FOUND);
    /* a part larger than the caller's buffer is refused, not truncated */
    struct mg_buf small;
    mg_buf_init(&small, 3);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", 0, &small), MG_E_TOO_LARGE);
    mg_buf_cleanup(&small);
    /* over the limit */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    uint8_t *big = mg_calloc(1, MG_STORE_DOC_MAX + 1);
    assert_non_null(big);
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "big", 0,
                                        mg_slice_make(big, MG_STORE_DOC_MAX + 1)),
                     MG_E_TOO_LARGE);
    /* exactly the limit */
    assert_int_equal(mg_store_chunk_put(s, "blob", a, "big", 0,
                                        mg_slice_make(big, MG_STORE_DOC_MAX)),
                     MG_E_OK);
    assert_int_equal(mg_store_commit(s), MG_E_OK);
    mg_free(big);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "big", 0, &out), MG_E_OK);
    assert_int_equal(out.len, MG_STORE_DOC_MAX);
    /* delete: every part of the key, another key stays */
    assert_int_equal(mg_store_begin(s), MG_E_OK);
    assert_int_equal(mg_store_chunk_delete(s, "blob", a, "k"), MG_E_OK);
    assert_int_equal(mg_store_chunk_delete(s, "blob", a, "k"), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_commit(s), MG_E_OK); /* a miss leaves the transaction usable */
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(mg_store_chunk_get(s, "blob", a, "k", i, &out), MG_E_NOT_FOUND);
    assert_int_equal(mg_store_chunk_get(s, "blob", a, "big", 0, &out), MG_E_OK);
    mg_buf_cleanup(&out);
    mg_store_close(s);
}

/* A case on both backends: the SQLite one under its own name, the PostgreSQL one as pg/NAME. */
#define BOTH(t)                                                                                    \
    cmocka_unit_test_setup_teardown(t, setup, teardown),                                           \
    {                                                                                              \
        "pg/" #t, t, setup_pg, teardown, NULL                                                      \
    }
#define PG(t)                                                                                      \
    {                                                                                              \
        "pg/" #t, t, setup_pg, teardown, NULL                                                      \
    }

int main(void)
{
    g_mg_log_level = MG_LOG_OFF;
    const char *lvl = getenv("MG_TEST_LOG");
    if (lvl != NULL)
        (void)mg_log_parse_level(lvl, &g_mg_log_level);
    if (pgtest_uri() == NULL)
        print_message("store_test: the PostgreSQL cases (pg/...) are skipped: set "
                      "MCPGATE_TEST_PG to a postgresql:// URI (scripts/pg-server start DIR "
                      "prints one) to run them\n");
    const struct CMUnitTest tests[] = {
        BOTH(test_store_put_get_overwrite),
        BOTH(test_store_insert_conflict),
        BOTH(test_store_delete_not_found),
        BOTH(test_store_list_order_and_filter),
        BOTH(test_store_nested_calls_in_callbacks),
        BOTH(test_store_limits),
        BOTH(test_store_transactions),
        BOTH(test_store_failed_transaction_is_poisoned),
        BOTH(test_store_meta),
        BOTH(test_store_meta_insert_swap),
        BOTH(test_store_meta_insert_race),
        BOTH(test_store_kill9_durability),
        BOTH(test_store_concurrency),
        BOTH(test_store_wait_change),
        BOTH(test_store_change_log),
        BOTH(test_store_change_log_paged),
        BOTH(test_store_change_log_pruned),
        BOTH(test_store_lease),
        BOTH(test_store_leader),
        BOTH(test_store_chunks),
        cmocka_unit_test_setup_teardown(test_store_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_embedded_migrations_match_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_tightens_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_corrupt_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_locked_beyond_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_location_redact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_unreachable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_embedded_migrations_match_files, setup, teardown),
        PG(test_pg_migrations_once),
        PG(test_pg_concurrent_open),
        PG(test_pg_binary_safe),
        PG(test_pg_paging),
        PG(test_pg_connection_loss),
        PG(test_pg_lease_fence_holds),
    };
    return MG_RUN_TESTS(tests);
}
