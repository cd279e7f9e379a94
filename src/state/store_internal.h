/* src/state/store_internal.h: what the store front end (store.c) and its backends share.
 * store.c validates arguments, owns the writer mutex, the transaction state and the in-memory
 * generation; a backend only talks to its database. Not for use outside src/state/ and tests. */
#ifndef MG_STORE_INTERNAL_H
#define MG_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "state/store.h"

enum mg_store_write_mode { MG_STORE_WRITE_PUT = 0, MG_STORE_WRITE_INSERT, MG_STORE_WRITE_DELETE };

/* One row of the change log; kind "" is the mark of a generation whose rows are not listed.
 * Returns false to stop the read. */
typedef bool (*mg_store_feed_fn)(void *user, uint64_t generation, const char *kind,
                                 const char *account, const char *key);

/* Backend operations. Write-side calls run with the writer mutex held, between tx_begin and
 * tx_commit/tx_rollback. Read-side calls get on_writer true when the calling thread holds the
 * open transaction: they must then read through the writer connection to see its own writes. */
struct mg_store_ops {
    const char *name;
    void (*destroy)(struct mg_store *s);

    enum mg_err (*tx_begin)(struct mg_store *s);
    /* bump: increment the stored generation before committing; *gen_out gets the new value
     * (left untouched when bump is false). On failure the transaction is rolled back. */
    enum mg_err (*tx_commit)(struct mg_store *s, bool bump, uint64_t *gen_out);
    void (*tx_rollback)(struct mg_store *s);
    /* MG_E_CONFLICT for an insert onto an existing row, MG_E_NOT_FOUND for a delete of a
     * missing one. row->doc is unused for deletes. */
    enum mg_err (*doc_write)(struct mg_store *s, const struct mg_store_row *row,
                             enum mg_store_write_mode mode);
    enum mg_err (*meta_write)(struct mg_store *s, const char *key, struct mg_slice value);
    /* Insert only (MG_E_CONFLICT when key exists); with expected non-NULL, replace only while
     * the stored value equals *expected (MG_E_CONFLICT when it differs, MG_E_NOT_FOUND when key
     * is absent). */
    enum mg_err (*meta_write_if)(struct mg_store *s, const char *key,
                                 const struct mg_slice *expected, struct mg_slice value);

    enum mg_err (*doc_get)(struct mg_store *s, bool on_writer, const char *kind,
                           const char *account, const char *key, struct mg_buf *out);
    /* kind NULL: every row ordered by kind, account, key; account NULL: every account.
     * gen_out (may be NULL) gets the generation read in the same consistent read. */
    enum mg_err (*doc_iter)(struct mg_store *s, bool on_writer, const char *kind,
                            const char *account, mg_store_row_fn fn, void *user, uint64_t *gen_out);
    enum mg_err (*meta_get)(struct mg_store *s, bool on_writer, const char *key,
                            struct mg_buf *out);
    enum mg_err (*generation_read)(struct mg_store *s, bool on_writer, uint64_t *out);
    /* mg_store_wait_change without the front end's checks; *gen_out the stored generation. */
    enum mg_err (*wait_change)(struct mg_store *s, uint64_t seen, int timeout_ms,
                               uint64_t *gen_out);
    /* The change log from one consistent read on a read connection: *gen_out the stored
     * generation, *floor_out the log's floor, then the rows of generations in (after, *gen_out]
     * in generation order, at most `limit` of them. */
    enum mg_err (*feed_read)(struct mg_store *s, uint64_t after, size_t limit, mg_store_feed_fn fn,
                             void *user, uint64_t *gen_out, uint64_t *floor_out);
    /* Leases (mg_store_lease_*), on a connection of their own; NULL: one process uses the store
     * (SQLite) and it always leads. lease_fence runs in the caller's write transaction. */
    enum mg_err (*lease_take)(struct mg_store *s, const char *name, const char *holder,
                              int lease_ms, struct mg_store_lease *out);
    enum mg_err (*lease_drop)(struct mg_store *s, const char *name, const char *holder);
    enum mg_err (*lease_fence)(struct mg_store *s, const char *name, uint64_t token, int lease_ms);
    /* mg_store_write_barrier in the caller's transaction; NULL: one process writes (SQLite). */
    enum mg_err (*write_barrier)(struct mg_store *s, uint64_t *gen_out);
    /* Chunks (mg_store_chunk_put ...): data NULL deletes every part of the key (MG_E_NOT_FOUND
     * when there was none); chunk_get reads one part (MG_E_NOT_FOUND when absent). */
    enum mg_err (*chunk_write)(struct mg_store *s, const char *kind, const char *account,
                               const char *key, uint32_t part, const struct mg_slice *data);
    enum mg_err (*chunk_get)(struct mg_store *s, bool on_writer, const char *kind,
                             const char *account, const char *key, uint32_t part,
                             struct mg_buf *out);
};

/* The base every backend embeds first. */
struct mg_store {
    const struct mg_store_ops *ops;
    pthread_mutex_t write_mu;
    atomic_uintptr_t tx_thread; /* the owning thread's token while a transaction is open */
    bool tx_dirty;              /* the open transaction wrote something */
    bool tx_failed;             /* a write in it failed in the database: commit must refuse */
    atomic_uint_least64_t generation;
    struct mg_store_changes tx_changes; /* the open transaction's rows (writer mutex) */
    pthread_mutex_t changes_mu;
    struct mg_store_changes pending; /* committed, not yet taken (changes_mu) */
};

/* For a backend's tx_commit, which records the change log after the generation bump: whether
 * the transaction's rows (s->tx_changes) are listed, or one mark ("" "" "") stands for them. */
bool mg_store_feed_listed(const struct mg_store *s);
/* Whether the commit of generation gen prunes the log, and below which generation (rows of
 * generations <= *floor go, the floor becomes *floor). */
bool mg_store_feed_prune_due(uint64_t gen, uint64_t *floor);

/* A backend's read connections are MG_STORE_READERS index-numbered slots; the pool says which
 * are lent out. Opening and closing the connections stays with the backend. */
#define MG_STORE_READERS 8
struct mg_store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool busy[MG_STORE_READERS];
};
void mg_store_pool_init(struct mg_store_pool *p);
void mg_store_pool_destroy(struct mg_store_pool *p);
/* Lends a free slot, waiting until one is free; a slot whose connection is open
 * (is_open(conns, i)) before one that was never opened. */
size_t mg_store_pool_take(struct mg_store_pool *p, bool (*is_open)(const void *conns, size_t i),
                          const void *conns);
/* Gives slot i back and wakes one waiter. */
void mg_store_pool_give(struct mg_store_pool *p, size_t i);

/* Called by a backend's open on its embedded base. */
void mg_store_base_init(struct mg_store *s, const struct mg_store_ops *ops);
void mg_store_base_cleanup(struct mg_store *s);

/* Records the calling thread's last error (see mg_store_last_error), logs it, returns code. */
enum mg_err mg_store_fail(enum mg_err code, const char *fmt, ...) MG_PRINTF(2, 3);
/* The same for failures that are the caller's doing (limits, conflicts): recorded, not logged. */
enum mg_err mg_store_note(enum mg_err code, const char *fmt, ...) MG_PRINTF(2, 3);

/* The SQLite backend: location is a directory. */
MG_MUST_USE enum mg_err mg_store_sqlite_open(const char *location, struct mg_store **out,
                                             struct mg_errinfo *ei);

/* The PostgreSQL backend: location is a postgresql:// or postgres:// URI (store_pg.c). */
MG_MUST_USE enum mg_err mg_store_pg_open(const char *location, struct mg_store **out,
                                         struct mg_errinfo *ei);

/* Numbered migrations embedded from src/state/migrations/NNNN_*.sql (SQLite) and
 * src/state/migrations_pg/NNNN_*.sql (PostgreSQL). */
struct mg_store_migration {
    int version;
    const char *name; /* the file name, for messages and the consistency test */
    const char *sql;
};
extern const struct mg_store_migration g_mg_store_sqlite_migrations[];
extern const size_t g_mg_store_sqlite_migration_count;
extern const struct mg_store_migration g_mg_store_pg_migrations[];
extern const size_t g_mg_store_pg_migration_count;

/* The files of an embedded store (store_files.c). */
/* mg_store_make_dir: store.h. */
/* Makes sure path (created when create is true) is a regular file no one else can read. */
MG_MUST_USE enum mg_err mg_store_secure_file(const char *path, bool create);
/* The same for the database's -wal, -shm and -journal files when they exist. */
MG_MUST_USE enum mg_err mg_store_secure_sidecars(const char *path);
/* Makes the directory of a new database durable, so the file's name survives a power loss. */
void mg_store_sync_dir(const char *dir);

#endif
