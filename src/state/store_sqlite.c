/* src/state/store_sqlite.c: the SQLite backend of the store. One writer connection (used only
 * under the front end's writer mutex), a small pool of read connections opened on demand, each
 * connection with its own cache of prepared statements. WAL journal, synchronous=FULL so that a
 * commit is on disk before it returns, foreign keys on, a busy timeout for other processes. */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "state/store_internal.h"

#define S_DB_NAME "mcpgate.db"
#define S_BUSY_TIMEOUT_MS 5000

enum s_stmt_id {
    S_BEGIN_IMMEDIATE = 0,
    S_BEGIN_DEFERRED,
    S_COMMIT,
    S_ROLLBACK,
    S_GET,
    S_PUT,
    S_INSERT,
    S_DELETE,
    S_LIST_KIND,
    S_LIST_KIND_ACCOUNT,
    S_SCAN,
    S_META_GET,
    S_META_PUT,
    S_GEN_BUMP,
    S_GEN_READ,
    S_FEED_ADD,
    S_FEED_PRUNE,
    S_FEED_FLOOR_SET,
    S_FEED_FLOOR,
    S_FEED_READ,
    S_META_INSERT,
    S_META_SWAP,
    S_STMT_COUNT
};

#define S_ROW_COLUMNS "SELECT kind, account, key, doc, updated_ms FROM documents "

static const char *const s_sql[S_STMT_COUNT] = {
    [S_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [S_BEGIN_DEFERRED] = "BEGIN DEFERRED",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_GET] = "SELECT doc FROM documents WHERE kind = ?1 AND account = ?2 AND key = ?3",
    [S_PUT] = "INSERT INTO documents (kind, account, key, doc, updated_ms) "
              "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, account, key) "
              "DO UPDATE SET doc = excluded.doc, updated_ms = excluded.updated_ms",
    [S_INSERT] = "INSERT INTO documents (kind, account, key, doc, updated_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, account, key) DO NOTHING",
    [S_DELETE] = "DELETE FROM documents WHERE kind = ?1 AND account = ?2 AND key = ?3",
    [S_LIST_KIND] = S_ROW_COLUMNS "WHERE kind = ?1 ORDER BY account, key",
    [S_LIST_KIND_ACCOUNT] = S_ROW_COLUMNS "WHERE kind = ?1 AND account = ?2 ORDER BY key",
    [S_SCAN] = S_ROW_COLUMNS "ORDER BY kind, account, key",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_PUT] = "INSERT INTO meta (key, value) VALUES (?1, ?2) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    [S_GEN_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value",
    [S_GEN_READ] = "SELECT value FROM meta WHERE key = 'generation'",
    [S_FEED_ADD] = "INSERT INTO store_changes (generation, kind, account, key, seq) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)",
    [S_FEED_PRUNE] = "DELETE FROM store_changes WHERE generation <= ?1",
    [S_FEED_FLOOR_SET] = "UPDATE store_changes_floor SET value = max(value, ?1) WHERE id = 1",
    [S_FEED_FLOOR] = "SELECT value FROM store_changes_floor WHERE id = 1",
    [S_FEED_READ] = "SELECT generation, kind, account, key FROM store_changes "
                    "WHERE generation > ?1 AND generation <= ?2 ORDER BY generation, seq LIMIT ?3",
    [S_META_INSERT] = "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
    [S_META_SWAP] = "UPDATE meta SET value = ?2 WHERE key = ?1 AND value = ?3",
};

struct s_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_STMT_COUNT];
};

struct mg_store_sqlite {
    struct mg_store base; /* first: the front end casts */
    char *path;           /* DIR/mcpgate.db */
    struct s_conn writer;
    struct mg_store_pool pool;
    struct s_conn readers[MG_STORE_READERS]; /* db NULL until first needed */
};

static struct mg_store_sqlite *s_q(struct mg_store *s)
{
    return (struct mg_store_sqlite *)s;
}

/* ---- errors ---- */

static void s_errno_text(int e, char *out, size_t n)
{
    out[0] = '\0';
    if (e != 0 && strerror_r(e, out, n) != 0)
        snprintf(out, n, "errno %d", e);
}

/* Records an operator-facing message for an SQLite failure and returns the matching code. */
static enum mg_err s_fail(const struct mg_store_sqlite *q, sqlite3 *db, int rc, const char *doing)
{
    const char *path = q->path;
    const char *detail = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    char sys[128];
    s_errno_text(db != NULL ? sqlite3_system_errno(db) : 0, sys, sizeof(sys));
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return mg_store_fail(MG_E_NOMEM, "out of memory while %s (database %s)", doing, path);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return mg_store_fail(MG_E_STORE,
                             "database %s is locked by another process and stayed busy for "
                             "%d ms (while %s); retry, or stop the other process",
                             path, S_BUSY_TIMEOUT_MS, doing);
    case SQLITE_FULL:
        return mg_store_fail(MG_E_STORE, "disk full while %s (database %s)", doing, path);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return mg_store_fail(MG_E_STORE,
                             "database %s is corrupted or is not an SQLite database (%s while "
                             "%s); restore it from a backup or move it away",
                             path, detail, doing);
    case SQLITE_CANTOPEN:
        return mg_store_fail(MG_E_STORE, "cannot open database %s: %s%s%s", path, detail,
                             sys[0] ? ": " : "", sys);
    case SQLITE_READONLY:
        return mg_store_fail(MG_E_STORE, "database %s is read-only (while %s): %s", path, doing,
                             detail);
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return mg_store_fail(MG_E_STORE, "permission denied on database %s (while %s): %s", path,
                             doing, detail);
    case SQLITE_IOERR:
        return mg_store_fail(MG_E_STORE, "i/o error on database %s while %s: %s%s%s", path, doing,
                             detail, sys[0] ? ": " : "", sys);
    default:
        return mg_store_fail(MG_E_STORE, "database %s failed while %s: %s", path, doing, detail);
    }
}

/* ---- statements ---- */

/* The cached statement for id on c, or a fresh one (*fresh true: finalize it after) when the
 * cached one is still stepping, e.g. a list callback that reads through the same connection. */
static int s_stmt(struct s_conn *c, enum s_stmt_id id, sqlite3_stmt **out, bool *fresh)
{
    *fresh = false;
    if (c->stmt[id] != NULL && !sqlite3_stmt_busy(c->stmt[id])) {
        *out = c->stmt[id];
        return SQLITE_OK;
    }
    bool cache = c->stmt[id] == NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, s_sql[id], -1, cache ? SQLITE_PREPARE_PERSISTENT : 0, &st,
                                NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    if (cache)
        c->stmt[id] = st;
    else
        *fresh = true;
    *out = st;
    return SQLITE_OK;
}

static void s_stmt_done(sqlite3_stmt *st, bool fresh)
{
    if (st == NULL)
        return;
    if (fresh) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows we need. */
static int s_run(struct s_conn *c, enum s_stmt_id id)
{
    sqlite3_stmt *st;
    bool fresh;
    int rc = s_stmt(c, id, &st, &fresh);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    s_stmt_done(st, fresh);
    return rc;
}

static int s_bind_text(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    return sqlite3_bind_text64(st, i, p != NULL ? p : "", p != NULL ? n : 0, SQLITE_STATIC,
                               SQLITE_UTF8);
}

static int s_bind_ids(sqlite3_stmt *st, const char *kind, const char *account, const char *key)
{
    int rc = s_bind_text(st, 1, kind, strlen(kind));
    if (rc == SQLITE_OK)
        rc = s_bind_text(st, 2, account, strlen(account));
    if (rc == SQLITE_OK)
        rc = s_bind_text(st, 3, key, strlen(key));
    return rc;
}

static void s_conn_close(struct s_conn *c)
{
    for (size_t i = 0; i < S_STMT_COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    if (c->db != NULL)
        sqlite3_close(c->db);
    c->db = NULL;
}

/* ---- connections ---- */

static enum mg_err s_exec(const struct mg_store_sqlite *q, sqlite3 *db, const char *sql,
                          const char *doing)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return s_fail(q, db, rc, doing);
    return MG_E_OK;
}

static enum mg_err s_conn_open(const struct mg_store_sqlite *q, struct s_conn *c, bool writer)
{
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE;
    int rc = sqlite3_open_v2(q->path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        enum mg_err err = s_fail(q, c->db, rc, "opening");
        s_conn_close(c);
        return err;
    }
    enum mg_err err = MG_E_OK;
    sqlite3_stmt *st = NULL;
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, S_BUSY_TIMEOUT_MS);
    /* Corrupt or hostile files must not be able to make the library misbehave. */
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
    sqlite3_db_config(c->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
    if (writer) {
        /* The first statement that reads the file: random bytes fail here with NOTADB. */
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            err = s_fail(q, c->db, rc, "opening");
            goto out;
        }
        const unsigned char *mode = sqlite3_column_text(st, 0);
        if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
            err = mg_store_fail(MG_E_STORE,
                                "database %s cannot use write-ahead logging (journal mode %s); "
                                "put the data directory on a local file system",
                                q->path, mode != NULL ? (const char *)mode : "unknown");
            goto out;
        }
    }
    err = s_exec(q, c->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;", "configuring");
    if (err == MG_E_OK && !writer)
        err = s_exec(q, c->db, "PRAGMA query_only = ON;", "configuring");
out:
    sqlite3_finalize(st);
    if (err != MG_E_OK)
        s_conn_close(c);
    return err;
}

static bool s_reader_open(const void *conns, size_t i)
{
    return ((const struct mg_store_sqlite *)conns)->readers[i].db != NULL;
}

static enum mg_err s_reader_acquire(struct mg_store_sqlite *q, struct s_conn **out)
{
    size_t i = mg_store_pool_take(&q->pool, s_reader_open, q);
    struct s_conn *c = &q->readers[i];
    if (c->db == NULL) {
        enum mg_err err = s_conn_open(q, c, false);
        if (err != MG_E_OK) {
            mg_store_pool_give(&q->pool, i);
            return err;
        }
    }
    *out = c;
    return MG_E_OK;
}

static void s_reader_release(struct mg_store_sqlite *q, struct s_conn *c)
{
    mg_store_pool_give(&q->pool, (size_t)(c - q->readers));
}

/* The connection a read runs on: the writer inside the caller's transaction, else a reader. */
static enum mg_err s_read_conn(struct mg_store_sqlite *q, bool on_writer, struct s_conn **out)
{
    if (on_writer) {
        *out = &q->writer;
        return MG_E_OK;
    }
    return s_reader_acquire(q, out);
}

static void s_read_done(struct mg_store_sqlite *q, struct s_conn *c)
{
    if (c != &q->writer)
        s_reader_release(q, c);
}

/* ---- migrations ---- */

static bool s_known_version(int64_t v)
{
    for (size_t i = 0; i < g_mg_store_sqlite_migration_count; i++)
        if (g_mg_store_sqlite_migrations[i].version == v)
            return true;
    return false;
}

static int s_latest_version(void)
{
    int v = 0;
    for (size_t i = 0; i < g_mg_store_sqlite_migration_count; i++)
        if (g_mg_store_sqlite_migrations[i].version > v)
            v = g_mg_store_sqlite_migrations[i].version;
    return v;
}

/* One integer from a query with no parameters; SQLITE_OK with *out set, or an error code. */
static int s_query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static enum mg_err s_migrate_locked(struct mg_store_sqlite *q)
{
    sqlite3 *db = q->writer.db;
    int64_t have = 0;
    int rc = s_query_int(db,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                         "AND name = 'schema_migrations'",
                         &have);
    if (rc != SQLITE_OK)
        return s_fail(q, db, rc, "reading the schema");
    if (have == 0) {
        int64_t objects = 0;
        rc = s_query_int(db, "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                         &objects);
        if (rc != SQLITE_OK)
            return s_fail(q, db, rc, "reading the schema");
        if (objects != 0)
            return mg_store_fail(MG_E_STORE,
                                 "database %s holds tables but no schema_migrations table: it "
                                 "was not created by mcpgate; refusing to use it",
                                 q->path);
        MG_TRY(s_exec(q, db,
                      "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL, "
                      "name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
                      "creating the schema"));
    }
    sqlite3_stmt *st = NULL;
    enum mg_err err = MG_E_OK;
    rc = sqlite3_prepare_v2(db, "SELECT version FROM schema_migrations ORDER BY version", -1, &st,
                            NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(st, 0);
        if (!s_known_version(v)) {
            err = mg_store_fail(MG_E_STORE,
                                "database %s has schema migration %lld, which this mcpgate "
                                "(knowing migrations up to %d) does not: it was written by a "
                                "newer version; upgrade mcpgate or restore an older backup",
                                q->path, (long long)v, s_latest_version());
            goto out;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
        err = s_fail(q, db, rc, "reading the schema");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    for (size_t i = 0; i < g_mg_store_sqlite_migration_count; i++) {
        const struct mg_store_migration *m = &g_mg_store_sqlite_migrations[i];
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM schema_migrations WHERE version = %d",
                 m->version);
        rc = s_query_int(db, sql, &have);
        if (rc != SQLITE_OK) {
            err = s_fail(q, db, rc, "reading the schema");
            goto out;
        }
        if (have != 0)
            continue;
        MG_LOG(MG_LOG_INFO, MG_SUB_STORE, "applying migration %s to %s", m->name, q->path);
        char *emsg = NULL;
        rc = sqlite3_exec(db, m->sql, NULL, NULL, &emsg);
        if (rc != SQLITE_OK) {
            err = mg_store_fail(MG_E_STORE, "migration %s failed on %s: %s", m->name, q->path,
                                emsg != NULL ? emsg : sqlite3_errstr(rc));
            sqlite3_free(emsg);
            goto out;
        }
        rc = sqlite3_prepare_v2(db,
                                "INSERT INTO schema_migrations (version, name, applied_ms) "
                                "VALUES (?1, ?2, ?3)",
                                -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int(st, 1, m->version);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 3, mg_now_ms());
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            err = s_fail(q, db, rc, "recording a migration");
            goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
out:
    sqlite3_finalize(st);
    return err;
}

/* Applies the missing migrations in one transaction, so that two processes opening the same new
 * database at once do not both apply them. */
static enum mg_err s_migrate(struct mg_store_sqlite *q)
{
    sqlite3 *db = q->writer.db;
    MG_TRY(s_exec(q, db, "BEGIN IMMEDIATE", "migrating"));
    enum mg_err err = s_migrate_locked(q);
    if (err == MG_E_OK)
        err = s_exec(q, db, "COMMIT", "migrating");
    if (err != MG_E_OK && !sqlite3_get_autocommit(db))
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

/* ---- operations ---- */

static void s_destroy(struct mg_store *s)
{
    struct mg_store_sqlite *q = s_q(s);
    for (size_t i = 0; i < MG_STORE_READERS; i++)
        s_conn_close(&q->readers[i]);
    s_conn_close(&q->writer);
    mg_store_pool_destroy(&q->pool);
    mg_store_base_cleanup(&q->base);
    mg_free(q->path);
    mg_free(q);
}

static enum mg_err s_tx_begin(struct mg_store *s)
{
    struct mg_store_sqlite *q = s_q(s);
    int rc = s_run(&q->writer, S_BEGIN_IMMEDIATE);
    if (rc != SQLITE_OK)
        return s_fail(q, q->writer.db, rc, "starting a write transaction");
    return MG_E_OK;
}

static void s_tx_rollback(struct mg_store *s)
{
    struct mg_store_sqlite *q = s_q(s);
    if (sqlite3_get_autocommit(q->writer.db))
        return; /* SQLite already rolled back after an error */
    int rc = s_run(&q->writer, S_ROLLBACK);
    if (rc != SQLITE_OK)
        (void)s_fail(q, q->writer.db, rc, "rolling back a transaction");
}

static enum mg_err s_feed_record(struct mg_store_sqlite *q, uint64_t gen);

static enum mg_err s_tx_commit(struct mg_store *s, bool bump, uint64_t *gen_out)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = &q->writer;
    enum mg_err err = MG_E_OK;
    if (sqlite3_get_autocommit(c->db))
        return mg_store_fail(MG_E_STORE,
                             "transaction on %s was rolled back by the database after an error",
                             q->path);
    if (bump) {
        sqlite3_stmt *st;
        bool fresh;
        int rc = s_stmt(c, S_GEN_BUMP, &st, &fresh);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(st);
            if (rc == SQLITE_ROW)
                *gen_out = (uint64_t)sqlite3_column_int64(st, 0);
            else if (rc == SQLITE_DONE)
                rc = SQLITE_CORRUPT; /* the generation row is gone */
            s_stmt_done(st, fresh);
        }
        if (rc != SQLITE_ROW) {
            err = s_fail(q, c->db, rc, "updating the generation");
            goto out;
        }
    }
    if (bump) {
        err = s_feed_record(q, *gen_out);
        if (err != MG_E_OK)
            goto out;
    }
    int rc = s_run(c, S_COMMIT);
    if (rc != SQLITE_OK)
        err = s_fail(q, c->db, rc, "committing");
out:
    if (err != MG_E_OK)
        s_tx_rollback(s);
    return err;
}

static enum mg_err s_doc_write(struct mg_store *s, const struct mg_store_row *row,
                               enum mg_store_write_mode mode)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = &q->writer;
    enum s_stmt_id id = S_PUT;
    switch (mode) {
    case MG_STORE_WRITE_PUT: id = S_PUT; break;
    case MG_STORE_WRITE_INSERT: id = S_INSERT; break;
    case MG_STORE_WRITE_DELETE: id = S_DELETE; break;
    }
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    int rc = s_stmt(c, id, &st, &fresh);
    if (rc != SQLITE_OK)
        return s_fail(q, c->db, rc, "preparing a write");
    rc = s_bind_ids(st, row->kind, row->account, row->key);
    if (rc == SQLITE_OK && mode != MG_STORE_WRITE_DELETE) {
        rc = s_bind_text(st, 4, row->doc, row->doc_len);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 5, mg_now_ms());
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    s_stmt_done(st, fresh);
    if (rc != SQLITE_DONE)
        return s_fail(q, c->db, rc, "writing");
    if (mode == MG_STORE_WRITE_INSERT && sqlite3_changes(c->db) == 0)
        return MG_E_CONFLICT;
    if (mode == MG_STORE_WRITE_DELETE && sqlite3_changes(c->db) == 0)
        return MG_E_NOT_FOUND;
    return MG_E_OK;
}

static enum mg_err s_meta_write(struct mg_store *s, const char *key, struct mg_slice value)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = &q->writer;
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    int rc = s_stmt(c, S_META_PUT, &st, &fresh);
    if (rc != SQLITE_OK)
        return s_fail(q, c->db, rc, "preparing a write");
    rc = s_bind_text(st, 1, key, strlen(key));
    if (rc == SQLITE_OK)
        rc = value.len == 0 ? sqlite3_bind_zeroblob(st, 2, 0)
                            : sqlite3_bind_blob64(st, 2, value.ptr, value.len, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    s_stmt_done(st, fresh);
    if (rc != SQLITE_DONE)
        return s_fail(q, c->db, rc, "writing");
    return MG_E_OK;
}

static enum mg_err s_get_one(struct mg_store_sqlite *q, bool on_writer, enum s_stmt_id id,
                             const char *kind, const char *account, const char *key,
                             struct mg_buf *out);

static int s_bind_value(sqlite3_stmt *st, int i, struct mg_slice v)
{
    return v.len == 0 ? sqlite3_bind_zeroblob(st, i, 0)
                      : sqlite3_bind_blob64(st, i, v.ptr, v.len, SQLITE_STATIC);
}

static enum mg_err s_meta_write_if(struct mg_store *s, const char *key,
                                   const struct mg_slice *expected, struct mg_slice value)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = &q->writer;
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    int rc = s_stmt(c, expected ? S_META_SWAP : S_META_INSERT, &st, &fresh);
    if (rc != SQLITE_OK)
        return s_fail(q, c->db, rc, "preparing a write");
    rc = s_bind_text(st, 1, key, strlen(key));
    if (rc == SQLITE_OK)
        rc = s_bind_value(st, 2, value);
    if (rc == SQLITE_OK && expected)
        rc = s_bind_value(st, 3, *expected);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    s_stmt_done(st, fresh);
    if (rc != SQLITE_DONE)
        return s_fail(q, c->db, rc, "writing");
    if (sqlite3_changes(c->db) > 0)
        return MG_E_OK;
    if (expected == NULL)
        return MG_E_CONFLICT;
    /* not swapped: the value differs, or there is none */
    struct mg_buf cur;
    mg_buf_init(&cur, MG_STORE_DOC_MAX);
    enum mg_err e = s_get_one(q, true, S_META_GET, NULL, NULL, key, &cur);
    mg_buf_cleanup(&cur);
    return e == MG_E_OK ? MG_E_CONFLICT : e;
}

/* Copies one column into out (cleared by the caller). */
static enum mg_err s_column_to_buf(sqlite3_stmt *st, int col, bool blob, struct mg_buf *out)
{
    const void *p = blob ? sqlite3_column_blob(st, col)
                         : (const void *)sqlite3_column_text(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (p == NULL && n != 0)
        return mg_store_fail(MG_E_NOMEM, "out of memory reading a stored value");
    enum mg_err err = mg_buf_append(out, p, n);
    if (err == MG_E_TOO_LARGE)
        return mg_store_note(err,
                             "stored value of %zu bytes does not fit the caller's %zu-byte "
                             "buffer",
                             n, out->max);
    return err;
}

static enum mg_err s_get_one(struct mg_store_sqlite *q, bool on_writer, enum s_stmt_id id,
                             const char *kind, const char *account, const char *key,
                             struct mg_buf *out)
{
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    enum mg_err err = MG_E_OK;
    int rc = s_stmt(c, id, &st, &fresh);
    if (rc == SQLITE_OK)
        rc = id == S_META_GET ? s_bind_text(st, 1, key, strlen(key))
                              : s_bind_ids(st, kind, account, key);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = s_column_to_buf(st, 0, id == S_META_GET, out);
    else if (rc == SQLITE_DONE)
        err = MG_E_NOT_FOUND;
    else
        err = s_fail(q, c->db, rc, "reading");
    s_stmt_done(st, fresh);
    s_read_done(q, c);
    return err;
}

static enum mg_err s_doc_get(struct mg_store *s, bool on_writer, const char *kind,
                             const char *account, const char *key, struct mg_buf *out)
{
    return s_get_one(s_q(s), on_writer, S_GET, kind, account, key, out);
}

static enum mg_err s_meta_get(struct mg_store *s, bool on_writer, const char *key,
                              struct mg_buf *out)
{
    return s_get_one(s_q(s), on_writer, S_META_GET, NULL, NULL, key, out);
}

/* Runs a statement that reads one integer of a row that must exist (SQLITE_CORRUPT when the
 * row is gone: the generation, the change log's floor). */
static int s_read_int(struct s_conn *c, enum s_stmt_id id, uint64_t *out)
{
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    int rc = s_stmt(c, id, &st, &fresh);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT;
    }
    s_stmt_done(st, fresh);
    return rc;
}

static int s_read_generation(struct s_conn *c, uint64_t *out)
{
    return s_read_int(c, S_GEN_READ, out);
}

static enum mg_err s_generation_read(struct mg_store *s, bool on_writer, uint64_t *out)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    enum mg_err err = MG_E_OK;
    int rc = s_read_generation(c, out);
    if (rc != SQLITE_OK)
        err = s_fail(q, c->db, rc, "reading the generation");
    s_read_done(q, c);
    return err;
}

/* Ends a read: rc's failure (what was being read), the read transaction it opened committed or
 * rolled back, the connection given back. */
static enum mg_err s_read_end(struct mg_store_sqlite *q, struct s_conn *c, bool own_tx, int rc,
                              const char *what)
{
    enum mg_err err = rc == SQLITE_OK ? MG_E_OK : s_fail(q, c->db, rc, what);
    if (own_tx) {
        int rc2 = s_run(c, rc == SQLITE_OK ? S_COMMIT : S_ROLLBACK);
        if (rc2 != SQLITE_OK && err == MG_E_OK)
            err = s_fail(q, c->db, rc2, "ending a read");
    }
    s_read_done(q, c);
    return err;
}

static enum mg_err s_doc_iter(struct mg_store *s, bool on_writer, const char *kind,
                              const char *account, mg_store_row_fn fn, void *user,
                              uint64_t *gen_out)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    enum s_stmt_id id = kind == NULL ? S_SCAN : account == NULL ? S_LIST_KIND : S_LIST_KIND_ACCOUNT;
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    bool own_tx = false;
    int rc = SQLITE_OK;
    if (gen_out != NULL) {
        /* One read transaction: the rows and the generation come from the same snapshot. */
        if (!on_writer) {
            rc = s_run(c, S_BEGIN_DEFERRED);
            if (rc != SQLITE_OK)
                goto out;
            own_tx = true;
        }
        rc = s_read_generation(c, gen_out);
        if (rc != SQLITE_OK)
            goto out;
    }
    rc = s_stmt(c, id, &st, &fresh);
    if (rc == SQLITE_OK && kind != NULL)
        rc = s_bind_text(st, 1, kind, strlen(kind));
    if (rc == SQLITE_OK && kind != NULL && account != NULL)
        rc = s_bind_text(st, 2, account, strlen(account));
    if (rc != SQLITE_OK)
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(st, 3);
        struct mg_store_row row = {
            .kind = (const char *)sqlite3_column_text(st, 0),
            .account = (const char *)sqlite3_column_text(st, 1),
            .key = (const char *)sqlite3_column_text(st, 2),
            .doc = doc != NULL ? doc : "",
            .doc_len = doc != NULL ? (size_t)sqlite3_column_bytes(st, 3) : 0,
            .updated_ms = sqlite3_column_int64(st, 4),
        };
        if (row.kind == NULL || row.account == NULL || row.key == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (!fn(user, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
out:
    s_stmt_done(st, fresh);
    return s_read_end(q, c, own_tx, rc, "reading");
}

/* Another process's commit shows only in the file: the generation is read every 50 ms. */
static enum mg_err s_wait_change(struct mg_store *s, uint64_t seen, int timeout_ms,
                                 uint64_t *gen_out)
{
    uint64_t deadline = mg_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        MG_TRY(s_generation_read(s, false, gen_out));
        uint64_t now = mg_mono_ns();
        if (*gen_out > seen || now >= deadline)
            return MG_E_OK;
        uint64_t left = deadline - now;
        uint64_t step = left < 50000000u ? left : 50000000u;
        struct timespec ts = {(time_t)(step / 1000000000u), (long)(step % 1000000000u)};
        nanosleep(&ts, NULL);
    }
}

/* ---- chunks (not in the statement cache: a chunk is megabytes, its statement's parse is not
 * what it costs) ---- */

static enum mg_err s_chunk_write(struct mg_store *s, const char *kind, const char *account,
                                 const char *key, uint32_t part, const struct mg_slice *data)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = &q->writer;
    const char *sql = data != NULL
                          ? "INSERT INTO chunks (kind, account, key, part, data) "
                            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (kind, account, key, part) "
                            "DO UPDATE SET data = excluded.data"
                          : "DELETE FROM chunks WHERE kind = ?1 AND account = ?2 AND key = ?3";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = s_bind_ids(st, kind, account, key);
    if (rc == SQLITE_OK && data != NULL) {
        rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)part);
        if (rc == SQLITE_OK)
            rc = data->len == 0 ? sqlite3_bind_zeroblob(st, 5, 0)
                                : sqlite3_bind_blob64(st, 5, data->ptr, data->len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return s_fail(q, c->db, rc, "writing a chunk");
    if (data == NULL && sqlite3_changes(c->db) == 0)
        return MG_E_NOT_FOUND;
    return MG_E_OK;
}

static enum mg_err s_chunk_get(struct mg_store *s, bool on_writer, const char *kind,
                               const char *account, const char *key, uint32_t part,
                               struct mg_buf *out)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    sqlite3_stmt *st = NULL;
    enum mg_err err = MG_E_OK;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT data FROM chunks WHERE kind = ?1 AND account = ?2 "
                                "AND key = ?3 AND part = ?4",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = s_bind_ids(st, kind, account, key);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, (sqlite3_int64)part);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        err = s_column_to_buf(st, 0, true, out);
    else if (rc == SQLITE_DONE)
        err = MG_E_NOT_FOUND;
    else
        err = s_fail(q, c->db, rc, "reading a chunk");
    sqlite3_finalize(st);
    s_read_done(q, c);
    return err;
}

/* ---- the change log ---- */

/* Runs one change-log statement on the writer with an integer first parameter and, for rows,
 * the names. */
static int s_feed_step(struct s_conn *c, enum s_stmt_id id, uint64_t v, const char *kind,
                       const char *account, const char *key, size_t seq)
{
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    int rc = s_stmt(c, id, &st, &fresh);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)v);
    if (rc == SQLITE_OK && kind != NULL) {
        rc = s_bind_text(st, 2, kind, strlen(kind));
        if (rc == SQLITE_OK)
            rc = s_bind_text(st, 3, account, strlen(account));
        if (rc == SQLITE_OK)
            rc = s_bind_text(st, 4, key, strlen(key));
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 5, (sqlite3_int64)seq);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    s_stmt_done(st, fresh);
    return rc;
}

/* In the committing transaction, after the bump to gen: its rows (or a mark), and the pruning
 * that falls due. */
static enum mg_err s_feed_record(struct mg_store_sqlite *q, uint64_t gen)
{
    struct s_conn *c = &q->writer;
    const struct mg_store_changes *ch = &q->base.tx_changes;
    int rc = SQLITE_OK;
    if (!mg_store_feed_listed(&q->base))
        rc = s_feed_step(c, S_FEED_ADD, gen, "", "", "", 0);
    for (size_t i = 0; rc == SQLITE_OK && mg_store_feed_listed(&q->base) && i < ch->n; i++)
        rc = s_feed_step(c, S_FEED_ADD, gen, ch->v[i].kind, ch->v[i].account, ch->v[i].key, i);
    uint64_t floor = 0;
    if (rc == SQLITE_OK && mg_store_feed_prune_due(gen, &floor)) {
        rc = s_feed_step(c, S_FEED_PRUNE, floor, NULL, NULL, NULL, 0);
        if (rc == SQLITE_OK)
            rc = s_feed_step(c, S_FEED_FLOOR_SET, floor, NULL, NULL, NULL, 0);
    }
    if (rc != SQLITE_OK)
        return s_fail(q, c->db, rc, "recording the change log");
    return MG_E_OK;
}

static int s_feed_floor(struct s_conn *c, uint64_t *out)
{
    return s_read_int(c, S_FEED_FLOOR, out);
}

static enum mg_err s_feed_read(struct mg_store *s, uint64_t after, size_t limit,
                               mg_store_feed_fn fn, void *user, uint64_t *gen_out,
                               uint64_t *floor_out)
{
    struct mg_store_sqlite *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, false, &c));
    sqlite3_stmt *st = NULL;
    bool fresh = false;
    /* One read transaction: the generation, the floor and the rows from the same snapshot. */
    int rc = s_run(c, S_BEGIN_DEFERRED);
    bool own_tx = rc == SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = s_read_generation(c, gen_out);
    if (rc == SQLITE_OK)
        rc = s_feed_floor(c, floor_out);
    if (rc == SQLITE_OK && *gen_out > after)
        rc = s_stmt(c, S_FEED_READ, &st, &fresh);
    if (rc == SQLITE_OK && st != NULL) {
        rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 2, (sqlite3_int64)*gen_out);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *kind = (const char *)sqlite3_column_text(st, 1);
            const char *account = (const char *)sqlite3_column_text(st, 2);
            const char *key = (const char *)sqlite3_column_text(st, 3);
            if (kind == NULL || account == NULL || key == NULL) {
                rc = SQLITE_NOMEM;
                break;
            }
            rc = SQLITE_OK;
            if (!fn(user, (uint64_t)sqlite3_column_int64(st, 0), kind, account, key))
                break;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    s_stmt_done(st, fresh);
    return s_read_end(q, c, own_tx, rc, "reading the change log");
}

static const struct mg_store_ops s_sqlite_ops = {
    .name = "sqlite",
    .destroy = s_destroy,
    .tx_begin = s_tx_begin,
    .tx_commit = s_tx_commit,
    .tx_rollback = s_tx_rollback,
    .doc_write = s_doc_write,
    .meta_write = s_meta_write,
    .meta_write_if = s_meta_write_if,
    .doc_get = s_doc_get,
    .doc_iter = s_doc_iter,
    .meta_get = s_meta_get,
    .generation_read = s_generation_read,
    .wait_change = s_wait_change,
    .chunk_write = s_chunk_write,
    .chunk_get = s_chunk_get,
    .feed_read = s_feed_read,
};

enum mg_err mg_store_sqlite_open(const char *location, struct mg_store **out, struct mg_errinfo *ei)
{
    *out = NULL;
    enum mg_err err = MG_E_OK;
    struct mg_store_sqlite *q = NULL;
    if (sqlite3_threadsafe() == 0) {
        err = mg_store_fail(MG_E_STORE, "the SQLite library was built without thread support");
        goto out;
    }
    err = mg_store_make_dir(location);
    if (err != MG_E_OK)
        goto out;
    q = mg_calloc(1, sizeof(*q));
    if (q == NULL) {
        err = mg_store_fail(MG_E_NOMEM, "out of memory opening the store");
        goto out;
    }
    mg_store_base_init(&q->base, &s_sqlite_ops);
    mg_store_pool_init(&q->pool);
    size_t n = strlen(location);
    q->path = mg_malloc(n + sizeof("/" S_DB_NAME));
    if (q->path == NULL) {
        err = mg_store_fail(MG_E_NOMEM, "out of memory opening the store");
        goto out;
    }
    snprintf(q->path, n + sizeof("/" S_DB_NAME), "%s/%s", location, S_DB_NAME);
    bool existed = access(q->path, F_OK) == 0;
    /* Created here 0600 first: SQLite gives its -wal and -shm files the database's mode. */
    err = mg_store_secure_file(q->path, true);
    if (err == MG_E_OK)
        err = mg_store_secure_sidecars(q->path);
    if (err != MG_E_OK)
        goto out;
    if (!existed)
        mg_store_sync_dir(location);
    err = s_conn_open(q, &q->writer, true);
    if (err != MG_E_OK)
        goto out;
    err = s_migrate(q);
    if (err == MG_E_OK)
        err = mg_store_secure_sidecars(q->path);
    if (err != MG_E_OK)
        goto out;
    MG_LOG(MG_LOG_DEBUG, MG_SUB_STORE, "store open at %s (sqlite %s)", q->path,
           sqlite3_libversion());
    *out = &q->base;
    q = NULL;
out:
    if (err != MG_E_OK)
        mg_store_last_error(ei);
    if (q != NULL)
        s_destroy(&q->base);
    return err;
}
