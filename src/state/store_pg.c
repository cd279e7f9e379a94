/* src/state/store_pg.c: the PostgreSQL backend of the store (libpq). One writer connection (used
 * only under the front end's writer mutex) and a small pool of read connections opened on demand,
 * each connection with its own set of prepared statements. Every value is a bound parameter in
 * binary format (names as text, documents and meta values as bytea), never SQL text. A call that
 * finds its connection lost (or cannot connect) fails with MG_E_UNAVAILABLE; the next call on that
 * connection reconnects. Leases (mg_store_lease_*) live in the table leases, taken and renewed on
 * a connection of their own.
 * Lists page through the primary key (a bounded number of rows in memory at once) inside one
 * REPEATABLE READ transaction, so that the pages and the generation are one consistent read.
 * libpq is loaded when the first PostgreSQL store opens (pq_load.h): its functions are called
 * through g_mg_pq. */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "state/pq_load.h"
#include "state/store_internal.h"

#define S_PAGE_ROWS 256
#define S_CONNECT_TIMEOUT "10"
/* The advisory lock that serializes migrations between nodes ('mcpgate' as a number). */
#define S_MIGRATION_LOCK "7810661108127262821"
/* The transaction-scoped lock every node's write transaction takes (mg_store_write_barrier). */
#define S_WRITE_LOCK "7810661108127262822"

/* Every commit notifies this channel with the new generation (mg_store_wait_change). */
#define S_CHANNEL "mcpgate_generation"

/* Parameter and result types (pg_type OIDs). */
#define S_OID_BYTEA 17u
#define S_OID_INT8 20u
#define S_OID_TEXT 25u

enum s_stmt_id {
    S_GET = 0,
    S_PUT,
    S_INSERT,
    S_DELETE,
    S_PAGE_ALL,
    S_PAGE_KIND,
    S_PAGE_KIND_ACCOUNT,
    S_META_GET,
    S_META_PUT,
    S_GEN_READ,
    S_GEN_BUMP_FEED,
    S_FEED_PRUNE,
    S_FEED_FLOOR,
    S_FEED_READ,
    S_LEASE_TAKE,
    S_LEASE_DROP,
    S_LEASE_FENCE,
    S_META_INSERT,
    S_META_SWAP,
    S_WRITE_BARRIER,
    S_STMT_COUNT
};

#define S_ROW_COLUMNS "SELECT kind, account, key, doc, updated_ms FROM documents "
#define S_PAGE_ROWS_TEXT "256"

struct s_stmt_def {
    const char *sql;
    int nparams;
    Oid types[5];
};

static const struct s_stmt_def s_stmts[S_STMT_COUNT] = {
    [S_GET] = {"SELECT doc FROM documents WHERE kind = $1 AND account = $2 AND key = $3",
               3,
               {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT}},
    [S_PUT] = {"INSERT INTO documents (kind, account, key, doc, updated_ms) "
               "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, account, key) "
               "DO UPDATE SET doc = EXCLUDED.doc, updated_ms = EXCLUDED.updated_ms",
               5,
               {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT, S_OID_BYTEA, S_OID_INT8}},
    [S_INSERT] = {"INSERT INTO documents (kind, account, key, doc, updated_ms) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, account, key) DO NOTHING",
                  5,
                  {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT, S_OID_BYTEA, S_OID_INT8}},
    [S_DELETE] = {"DELETE FROM documents WHERE kind = $1 AND account = $2 AND key = $3",
                  3,
                  {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT}},
    /* Pages: the rows after the last one seen, in primary-key order ("" sorts first). */
    [S_PAGE_ALL] = {S_ROW_COLUMNS "WHERE (kind, account, key) > ($1, $2, $3) "
                                  "ORDER BY kind, account, key LIMIT " S_PAGE_ROWS_TEXT,
                    3,
                    {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT}},
    [S_PAGE_KIND] = {S_ROW_COLUMNS "WHERE kind = $1 AND (account, key) > ($2, $3) "
                                   "ORDER BY account, key LIMIT " S_PAGE_ROWS_TEXT,
                     3,
                     {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT}},
    [S_PAGE_KIND_ACCOUNT] = {S_ROW_COLUMNS "WHERE kind = $1 AND account = $2 AND key > $3 "
                                           "ORDER BY key LIMIT " S_PAGE_ROWS_TEXT,
                             3,
                             {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT}},
    [S_META_GET] = {"SELECT value FROM meta WHERE key = $1", 1, {S_OID_TEXT}},
    [S_META_PUT] = {"INSERT INTO meta (key, value) VALUES ($1, $2) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    2,
                    {S_OID_TEXT, S_OID_BYTEA}},
    [S_GEN_READ] = {"SELECT value FROM store_generation WHERE id = 1", 0, {0}},
    /* The generation bump, with the change log's rows ($1 a JSON array of [kind, account, key]):
     * one round trip for the commit's bookkeeping. The notification goes out when (and only if)
     * the transaction commits. */
    [S_GEN_BUMP_FEED] = {"WITH g AS (UPDATE store_generation SET value = value + 1 WHERE id = 1 "
                         "RETURNING value), l AS (INSERT INTO store_changes "
                         "(generation, seq, kind, account, key) SELECT g.value, r.n, r.e->>0, "
                         "r.e->>1, r.e->>2 FROM g, jsonb_array_elements($1::jsonb) "
                         "WITH ORDINALITY AS r(e, n)) "
                         "SELECT value, pg_notify('" S_CHANNEL "', value::text) FROM g",
                         1,
                         {S_OID_TEXT}},
    [S_FEED_PRUNE] = {"WITH d AS (DELETE FROM store_changes WHERE generation <= $1) "
                      "UPDATE store_changes_floor SET value = GREATEST(value, $1) WHERE id = 1",
                      1,
                      {S_OID_INT8}},
    [S_FEED_FLOOR] = {"SELECT value FROM store_changes_floor WHERE id = 1", 0, {0}},
    [S_FEED_READ] = {"SELECT generation, kind, account, key FROM store_changes "
                     "WHERE generation > $1 AND generation <= $2 ORDER BY generation, seq LIMIT $3",
                     3,
                     {S_OID_INT8, S_OID_INT8, S_OID_INT8}},
    /* A lease: taken when free or expired, renewed by its holder; expiry by the server's clock.
     * The token moves on whenever the lease starts again (a new holder, or the same one after
     * it expired), so a fence with an older token fails. No row returned: another holds it. */
    [S_LEASE_TAKE] = {"INSERT INTO leases AS l (name, holder, token, expires_at) "
                      "VALUES ($1, $2, 1, clock_timestamp() + $3::float8 * interval '1 ms') "
                      "ON CONFLICT (name) DO UPDATE SET token = CASE WHEN l.holder = "
                      "EXCLUDED.holder AND l.expires_at > clock_timestamp() THEN l.token ELSE "
                      "l.token + 1 END, holder = EXCLUDED.holder, expires_at = "
                      "EXCLUDED.expires_at WHERE l.holder = EXCLUDED.holder OR l.expires_at <= "
                      "clock_timestamp() RETURNING l.token",
                      3,
                      {S_OID_TEXT, S_OID_TEXT, S_OID_INT8}},
    [S_LEASE_DROP] = {"UPDATE leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2",
                      2,
                      {S_OID_TEXT, S_OID_TEXT}},
    /* In a write transaction: the row locked for share (a takeover waits for the transaction),
     * and the transaction ended by the server should it stay idle longer than the lease. */
    [S_LEASE_FENCE] = {"SELECT set_config('idle_in_transaction_session_timeout', $3::text, true) "
                       "FROM leases WHERE name = $1 AND token = $2 AND expires_at > "
                       "clock_timestamp() FOR SHARE",
                       3,
                       {S_OID_TEXT, S_OID_INT8, S_OID_INT8}},
    [S_META_INSERT] = {"INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                       2,
                       {S_OID_TEXT, S_OID_BYTEA}},
    /* one row back: whether the key exists, and whether it was swapped */
    [S_META_SWAP] = {"WITH u AS (UPDATE meta SET value = $2 WHERE key = $1 AND value = $3 "
                     "RETURNING 1) SELECT (SELECT count(*) FROM u), "
                     "(SELECT count(*) FROM meta WHERE key = $1)",
                     3,
                     {S_OID_TEXT, S_OID_BYTEA, S_OID_BYTEA}},
    /* held until the transaction ends: one write transaction at a time over every node */
    [S_WRITE_BARRIER] = {"SELECT pg_advisory_xact_lock(" S_WRITE_LOCK ")", 0, {0}},
};

struct s_conn {
    PGconn *pg; /* NULL until (re)connected */
    bool prepared[S_STMT_COUNT];
};

struct mg_store_pg {
    struct mg_store base; /* first: the front end casts */
    char *uri;            /* as given: holds the password, never printed */
    char *shown;          /* the URI with its password replaced, for messages */
    char *password;       /* the password as libpq parsed it (NULL: none), scrubbed from messages */
    struct s_conn writer;
    struct mg_store_pool pool;
    struct s_conn readers[MG_STORE_READERS];
    pthread_mutex_t listen_mu;
    struct s_conn listener; /* mg_store_wait_change's LISTEN connection (listen_mu) */
    bool listening;         /* LISTEN has run on the listener's current connection */
    pthread_mutex_t lease_mu;
    struct s_conn leaser; /* mg_store_lease_take / _drop (lease_mu) */
};

static struct mg_store_pg *s_q(struct mg_store *s)
{
    return (struct mg_store_pg *)s;
}

bool mg_store_location_is_pg(const char *location)
{
    return location != NULL && (strncmp(location, "postgresql://", 13) == 0 ||
                                strncmp(location, "postgres://", 11) == 0);
}

/* ---- redaction ---- */

static void s_put(char *out, size_t cap, size_t *n, const char *p, size_t len)
{
    if (cap == 0)
        return;
    size_t room = cap - 1 - *n;
    if (len > room)
        len = room;
    mg_memcpy(out + *n, p, len);
    *n += len;
    out[*n] = '\0';
}

static bool s_param_is_password(const char *p, size_t len)
{
    return len == 8 && strncmp(p, "password", 8) == 0;
}

void mg_store_location_redact(const char *location, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (location == NULL)
        return;
    size_t n = 0;
    if (!mg_store_location_is_pg(location)) {
        s_put(out, cap, &n, location, strlen(location));
        return;
    }
    const char *p = strstr(location, "://") + 3;
    s_put(out, cap, &n, location, (size_t)(p - location));
    /* Authority: up to the first '/' or '?'; user info before its last '@'. */
    size_t alen = strcspn(p, "/?");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (p[i] == '@')
            at = p + i;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon != NULL) {
            s_put(out, cap, &n, p, (size_t)(colon - p) + 1);
            s_put(out, cap, &n, "***", 3);
            p = at;
            alen = strcspn(p, "/?");
        }
    }
    s_put(out, cap, &n, p, alen);
    p += alen;
    size_t plen = strcspn(p, "?");
    s_put(out, cap, &n, p, plen);
    p += plen;
    if (*p != '?')
        return;
    s_put(out, cap, &n, "?", 1);
    p++;
    /* Parameters: the value of password=... replaced. */
    while (*p != '\0') {
        size_t len = strcspn(p, "&");
        size_t klen = strcspn(p, "=");
        if (klen < len && s_param_is_password(p, klen)) {
            s_put(out, cap, &n, p, klen + 1);
            s_put(out, cap, &n, "***", 3);
        } else {
            s_put(out, cap, &n, p, len);
        }
        p += len;
        if (*p == '&') {
            s_put(out, cap, &n, "&", 1);
            p++;
        }
    }
}

/* Copies a libpq message into out without its trailing newline and with the password, should it
 * ever appear, replaced. */
static void s_clean_message(const struct mg_store_pg *q, const char *msg, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    if (msg == NULL)
        return;
    size_t plen = q->password != NULL ? strlen(q->password) : 0;
    while (*msg != '\0') {
        if (plen >= 3 && strncmp(msg, q->password, plen) == 0) {
            s_put(out, cap, &n, "***", 3);
            msg += plen;
            continue;
        }
        char c = *msg == '\n' || *msg == '\r' || *msg == '\t' ? ' ' : *msg;
        s_put(out, cap, &n, &c, 1);
        msg++;
    }
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = '\0';
}

/* ---- errors ---- */

/* Records an operator-facing message for a failed call on c (res may be NULL: the connection's
 * own error) and returns the matching code. */
static enum mg_err s_fail(const struct mg_store_pg *q, const struct s_conn *c, const PGresult *res,
                          const char *doing)
{
    char detail[300];
    const char *primary = res != NULL ? g_mg_pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                      : NULL;
    s_clean_message(q,
                    primary != NULL ? primary
                    : c->pg != NULL ? g_mg_pq.PQerrorMessage(c->pg)
                                    : NULL,
                    detail, sizeof(detail));
    const char *state = res != NULL ? g_mg_pq.PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return mg_store_fail(MG_E_UNAVAILABLE,
                             "lost the connection to PostgreSQL %s while %s: %s; the next call "
                             "reconnects",
                             q->shown, doing, detail[0] ? detail : "connection closed");
    /* Class 08 (connection exception), 57P01-57P03 (shutting down, cannot connect now): the
     * database is not reachable for now; 53 (out of resources: too many connections, disk full)
     * too. A retry later may succeed. */
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                          strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0))
        return mg_store_fail(MG_E_UNAVAILABLE,
                             "PostgreSQL %s is not available while %s: %s (SQLSTATE %s)", q->shown,
                             doing, detail, state);
    if (state != NULL && strncmp(state, "53", 2) == 0)
        return mg_store_fail(MG_E_UNAVAILABLE,
                             "PostgreSQL %s is out of resources while %s: %s (SQLSTATE %s)",
                             q->shown, doing, detail, state);
    if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        return mg_store_fail(MG_E_STORE,
                             "PostgreSQL %s aborted a transaction under contention while %s: %s "
                             "(SQLSTATE %s); retry",
                             q->shown, doing, detail, state);
    return mg_store_fail(MG_E_STORE, "PostgreSQL %s failed while %s: %s%s%s%s", q->shown, doing,
                         detail[0] ? detail : "unknown error", state ? " (SQLSTATE " : "",
                         state ? state : "", state ? ")" : "");
}

/* ---- connections ---- */

static void s_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* server notices ("... already exists, skipping") are not for the log */
}

static void s_conn_close(struct s_conn *c)
{
    if (c->pg != NULL)
        g_mg_pq.PQfinish(c->pg);
    c->pg = NULL;
    memset(c->prepared, 0, sizeof(c->prepared));
}

/* Runs SQL without parameters (fixed text only); res may be NULL when the result is not needed. */
static enum mg_err s_exec(const struct mg_store_pg *q, const struct s_conn *c, const char *sql,
                          ExecStatusType want, const char *doing, PGresult **res_out)
{
    PGresult *res = g_mg_pq.PQexecParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 1);
    enum mg_err err = MG_E_OK;
    if (g_mg_pq.PQresultStatus(res) != want)
        err = s_fail(q, c, res, doing);
    if (err == MG_E_OK && res_out != NULL) {
        *res_out = res;
        return MG_E_OK;
    }
    g_mg_pq.PQclear(res);
    return err;
}

static enum mg_err s_connect(const struct mg_store_pg *q, struct s_conn *c, bool writer)
{
    s_conn_close(c);
    /* Ours first: whatever the URI says overrides them (libpq keeps the last value). */
    /* TCP keepalives: a server gone silent (a network pause) is noticed in about a minute. */
    static const char *const keys[] = {
        "connect_timeout",     "application_name", "client_encoding", "keepalives_idle",
        "keepalives_interval", "keepalives_count", "dbname",          NULL};
    const char *vals[] = {S_CONNECT_TIMEOUT, "mcpgate", "UTF8", "30", "10", "3", q->uri, NULL};
    c->pg = g_mg_pq.PQconnectdbParams(keys, vals, 1);
    if (c->pg == NULL)
        return mg_store_fail(MG_E_NOMEM, "out of memory connecting to PostgreSQL %s", q->shown);
    if (g_mg_pq.PQstatus(c->pg) != CONNECTION_OK) {
        char detail[300];
        s_clean_message(q, g_mg_pq.PQerrorMessage(c->pg), detail, sizeof(detail));
        s_conn_close(c);
        return mg_store_fail(MG_E_UNAVAILABLE, "cannot connect to PostgreSQL %s: %s", q->shown,
                             detail[0] ? detail : "unknown error");
    }
    g_mg_pq.PQsetNoticeProcessor(c->pg, s_notice, NULL);
    /* The writer's commits wait for the WAL flush whatever the server's default; readers never
     * write. client_encoding is checked: names are sent as UTF-8. */
    enum mg_err err = s_exec(q, c,
                             writer ? "SET synchronous_commit TO on"
                                    : "SET default_transaction_read_only TO on",
                             PGRES_COMMAND_OK, "configuring the connection", NULL);
    if (err == MG_E_OK && g_mg_pq.PQclientEncoding(c->pg) != g_mg_pq.pg_char_to_encoding("UTF8"))
        err = mg_store_fail(MG_E_STORE,
                            "PostgreSQL %s: the connection does not use UTF-8 (remove "
                            "client_encoding from the URI)",
                            q->shown);
    if (err != MG_E_OK)
        s_conn_close(c);
    return err;
}

/* Reconnects c when it was never connected or its connection was lost. */
static enum mg_err s_conn_ready(const struct mg_store_pg *q, struct s_conn *c, bool writer)
{
    if (c->pg != NULL && g_mg_pq.PQstatus(c->pg) == CONNECTION_OK)
        return MG_E_OK;
    if (c->pg != NULL)
        MG_LOG(MG_LOG_WARN, MG_SUB_STORE, "reconnecting to PostgreSQL %s", q->shown);
    return s_connect(q, c, writer);
}

static bool s_reader_open(const void *conns, size_t i)
{
    return ((const struct mg_store_pg *)conns)->readers[i].pg != NULL;
}

static enum mg_err s_reader_acquire(struct mg_store_pg *q, struct s_conn **out)
{
    size_t i = mg_store_pool_take(&q->pool, s_reader_open, q);
    struct s_conn *c = &q->readers[i];
    enum mg_err err = s_conn_ready(q, c, false);
    if (err != MG_E_OK) {
        mg_store_pool_give(&q->pool, i);
        return err;
    }
    *out = c;
    return MG_E_OK;
}

static void s_reader_release(struct mg_store_pg *q, struct s_conn *c)
{
    mg_store_pool_give(&q->pool, (size_t)(c - q->readers));
}

/* The connection a read runs on: the writer inside the caller's transaction, else a reader. */
static enum mg_err s_read_conn(struct mg_store_pg *q, bool on_writer, struct s_conn **out)
{
    if (on_writer) {
        *out = &q->writer;
        if (q->writer.pg == NULL || g_mg_pq.PQstatus(q->writer.pg) != CONNECTION_OK)
            return s_fail(q, &q->writer, NULL, "reading");
        return MG_E_OK;
    }
    return s_reader_acquire(q, out);
}

/* A read connection the server dropped while it sat idle (a restart, an administrator): the
 * failure shows at its first use. Nothing was read yet, so the read may run again on a new
 * connection: true when it was reconnected for that. */
static bool s_read_again(const struct mg_store_pg *q, struct s_conn *c, enum mg_err err)
{
    if (err != MG_E_UNAVAILABLE || c == &q->writer ||
        (c->pg != NULL && g_mg_pq.PQstatus(c->pg) == CONNECTION_OK))
        return false;
    return s_conn_ready(q, c, false) == MG_E_OK;
}

static void s_read_done(struct mg_store_pg *q, struct s_conn *c)
{
    if (c != &q->writer)
        s_reader_release(q, c);
}

/* ---- statements ---- */

/* Runs a prepared statement (preparing it on c first when needed). Every parameter is binary,
 * results are binary. Returns the result (PQclear it), or NULL with the failure recorded. */
static PGresult *s_run(const struct mg_store_pg *q, struct s_conn *c, enum s_stmt_id id,
                       const char *const *vals, const int *lens, ExecStatusType want,
                       const char *doing, enum mg_err *err)
{
    char name[16];
    snprintf(name, sizeof(name), "mg_%d", (int)id);
    const struct s_stmt_def *d = &s_stmts[id];
    if (!c->prepared[id]) {
        PGresult *res = g_mg_pq.PQprepare(c->pg, name, d->sql, d->nparams, d->types);
        if (g_mg_pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
            *err = s_fail(q, c, res, "preparing a statement");
            g_mg_pq.PQclear(res);
            return NULL;
        }
        g_mg_pq.PQclear(res);
        c->prepared[id] = true;
    }
    static const int formats[5] = {1, 1, 1, 1, 1};
    PGresult *res = g_mg_pq.PQexecPrepared(c->pg, name, d->nparams, vals, lens, formats, 1);
    if (g_mg_pq.PQresultStatus(res) != want) {
        *err = s_fail(q, c, res, doing);
        g_mg_pq.PQclear(res);
        return NULL;
    }
    *err = MG_E_OK;
    return res;
}

static void s_be64(int64_t v, char out[8])
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        out[i] = (char)(u & 0xff);
        u >>= 8;
    }
}

/* A binary int8 column, or false when it is not one. */
static bool s_get_i64(const PGresult *res, int row, int col, int64_t *out)
{
    if (g_mg_pq.PQgetisnull(res, row, col) || g_mg_pq.PQgetlength(res, row, col) != 8)
        return false;
    const unsigned char *p = (const unsigned char *)g_mg_pq.PQgetvalue(res, row, col);
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    *out = (int64_t)u;
    return true;
}

/* Names go to the server as UTF-8 text: anything else would fail there as an encoding error. */
static enum mg_err s_check_utf8(const char *what, const char *v)
{
    if (!mg_utf8_valid(mg_slice_cstr(v)))
        return mg_store_note(MG_E_INVALID, "store %s is not valid UTF-8", what);
    return MG_E_OK;
}

static enum mg_err s_check_ids(const char *kind, const char *account, const char *key)
{
    MG_TRY(s_check_utf8("kind", kind));
    MG_TRY(s_check_utf8("account", account));
    return s_check_utf8("key", key);
}

/* ---- migrations ---- */

static bool s_known_version(int64_t v)
{
    for (size_t i = 0; i < g_mg_store_pg_migration_count; i++)
        if (g_mg_store_pg_migrations[i].version == v)
            return true;
    return false;
}

static int s_latest_version(void)
{
    int v = 0;
    for (size_t i = 0; i < g_mg_store_pg_migration_count; i++)
        if (g_mg_store_pg_migrations[i].version > v)
            v = g_mg_store_pg_migrations[i].version;
    return v;
}

static enum mg_err s_migrate_locked(struct mg_store_pg *q)
{
    struct s_conn *c = &q->writer;
    PGresult *res = NULL;
    MG_TRY(s_exec(q, c,
                  "SELECT to_regclass('schema_migrations') IS NOT NULL, "
                  "to_regclass('documents') IS NOT NULL OR to_regclass('meta') IS NOT NULL",
                  PGRES_TUPLES_OK, "reading the schema", &res));
    bool have = g_mg_pq.PQntuples(res) == 1 && g_mg_pq.PQgetlength(res, 0, 0) == 1 &&
                g_mg_pq.PQgetvalue(res, 0, 0)[0];
    bool tables = g_mg_pq.PQntuples(res) == 1 && g_mg_pq.PQgetlength(res, 0, 1) == 1 &&
                  g_mg_pq.PQgetvalue(res, 0, 1)[0];
    g_mg_pq.PQclear(res);
    res = NULL;
    if (!have && tables)
        return mg_store_fail(MG_E_STORE,
                             "PostgreSQL %s holds a documents or meta table but no "
                             "schema_migrations table: it was not created by mcpgate; refusing "
                             "to use it (give mcpgate a database or schema of its own)",
                             q->shown);
    if (!have)
        MG_TRY(s_exec(q, c,
                      "CREATE TABLE schema_migrations (version integer PRIMARY KEY NOT NULL, "
                      "name text NOT NULL, applied_ms bigint NOT NULL)",
                      PGRES_COMMAND_OK, "creating the schema", NULL));
    MG_TRY(s_exec(q, c, "SELECT version::int8 FROM schema_migrations ORDER BY version",
                  PGRES_TUPLES_OK, "reading the schema", &res));
    int n = g_mg_pq.PQntuples(res);
    bool applied[64] = {false};
    for (int i = 0; i < n; i++) {
        int64_t v = 0;
        if (!s_get_i64(res, i, 0, &v) || !s_known_version(v)) {
            g_mg_pq.PQclear(res);
            return mg_store_fail(MG_E_STORE,
                                 "PostgreSQL %s has schema migration %lld, which this mcpgate "
                                 "(knowing migrations up to %d) does not: it was written by a "
                                 "newer version; upgrade mcpgate or restore an older backup",
                                 q->shown, (long long)v, s_latest_version());
        }
        for (size_t k = 0; k < g_mg_store_pg_migration_count && k < 64; k++)
            if (g_mg_store_pg_migrations[k].version == v)
                applied[k] = true;
    }
    g_mg_pq.PQclear(res);
    for (size_t i = 0; i < g_mg_store_pg_migration_count && i < 64; i++) {
        const struct mg_store_migration *m = &g_mg_store_pg_migrations[i];
        if (applied[i])
            continue;
        MG_LOG(MG_LOG_INFO, MG_SUB_STORE, "applying migration %s to PostgreSQL %s", m->name,
               q->shown);
        /* The migration's text is fixed in the binary (no input in it); several statements. */
        res = g_mg_pq.PQexec(c->pg, m->sql);
        if (g_mg_pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
            char detail[300];
            const char *primary = g_mg_pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            s_clean_message(q, primary != NULL ? primary : g_mg_pq.PQerrorMessage(c->pg), detail,
                            sizeof(detail));
            g_mg_pq.PQclear(res);
            return mg_store_fail(MG_E_STORE, "migration %s failed on PostgreSQL %s: %s", m->name,
                                 q->shown, detail);
        }
        g_mg_pq.PQclear(res);
        char version[4], ms[8];
        /* version is an integer column: int4 in binary. */
        uint32_t v = (uint32_t)m->version;
        for (int k = 3; k >= 0; k--) {
            version[k] = (char)(v & 0xff);
            v >>= 8;
        }
        s_be64(mg_now_ms(), ms);
        const char *vals[3] = {version, m->name, ms};
        const int lens[3] = {4, (int)strlen(m->name), 8};
        const int formats[3] = {1, 1, 1};
        const Oid types[3] = {23u, S_OID_TEXT, S_OID_INT8};
        res = g_mg_pq.PQexecParams(c->pg,
                                   "INSERT INTO schema_migrations (version, name, applied_ms) "
                                   "VALUES ($1, $2, $3)",
                                   3, types, vals, lens, formats, 1);
        enum mg_err err = MG_E_OK;
        if (g_mg_pq.PQresultStatus(res) != PGRES_COMMAND_OK)
            err = s_fail(q, c, res, "recording a migration");
        g_mg_pq.PQclear(res);
        if (err != MG_E_OK)
            return err;
    }
    return MG_E_OK;
}

/* Applies the missing migrations in one transaction under an advisory lock, so that nodes
 * opening the same new database at once apply them exactly once. */
static enum mg_err s_migrate(struct mg_store_pg *q)
{
    struct s_conn *c = &q->writer;
    MG_TRY(s_exec(q, c, "SELECT pg_advisory_lock(" S_MIGRATION_LOCK ")", PGRES_TUPLES_OK,
                  "waiting for the migration lock", NULL));
    enum mg_err err = s_exec(q, c, "BEGIN", PGRES_COMMAND_OK, "migrating", NULL);
    if (err == MG_E_OK) {
        err = s_migrate_locked(q);
        if (err == MG_E_OK)
            err = s_exec(q, c, "COMMIT", PGRES_COMMAND_OK, "migrating", NULL);
        if (err != MG_E_OK && g_mg_pq.PQtransactionStatus(c->pg) != PQTRANS_IDLE)
            g_mg_pq.PQclear(g_mg_pq.PQexec(c->pg, "ROLLBACK"));
    }
    /* A lost connection drops the lock by itself. */
    if (g_mg_pq.PQstatus(c->pg) == CONNECTION_OK)
        g_mg_pq.PQclear(g_mg_pq.PQexec(c->pg, "SELECT pg_advisory_unlock(" S_MIGRATION_LOCK ")"));
    return err;
}

/* ---- operations ---- */

static void s_destroy(struct mg_store *s)
{
    struct mg_store_pg *q = s_q(s);
    for (size_t i = 0; i < MG_STORE_READERS; i++)
        s_conn_close(&q->readers[i]);
    s_conn_close(&q->writer);
    s_conn_close(&q->listener);
    s_conn_close(&q->leaser);
    pthread_mutex_destroy(&q->lease_mu);
    pthread_mutex_destroy(&q->listen_mu);
    mg_store_pool_destroy(&q->pool);
    mg_store_base_cleanup(&q->base);
    if (q->uri != NULL)
        mg_memzero(q->uri, strlen(q->uri));
    if (q->password != NULL)
        mg_memzero(q->password, strlen(q->password));
    mg_free(q->uri);
    mg_free(q->password);
    mg_free(q->shown);
    mg_free(q);
}

static enum mg_err s_tx_begin(struct mg_store *s)
{
    struct mg_store_pg *q = s_q(s);
    MG_TRY(s_conn_ready(q, &q->writer, true));
    if (g_mg_pq.PQtransactionStatus(q->writer.pg) != PQTRANS_IDLE)
        g_mg_pq.PQclear(
            g_mg_pq.PQexec(q->writer.pg, "ROLLBACK")); /* left over from a failed call */
    enum mg_err err = s_exec(q, &q->writer, "BEGIN", PGRES_COMMAND_OK,
                             "starting a write transaction", NULL);
    /* A connection the server dropped while it sat idle (a restart, an administrator) shows only
     * now: nothing was written yet, so connect again and begin once more. */
    if (err == MG_E_UNAVAILABLE && g_mg_pq.PQstatus(q->writer.pg) != CONNECTION_OK) {
        MG_TRY(s_conn_ready(q, &q->writer, true));
        err = s_exec(q, &q->writer, "BEGIN", PGRES_COMMAND_OK, "starting a write transaction",
                     NULL);
    }
    return err;
}

static void s_tx_rollback(struct mg_store *s)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK ||
        g_mg_pq.PQtransactionStatus(c->pg) == PQTRANS_IDLE)
        return; /* nothing to roll back: the server drops the transaction of a lost connection */
    (void)s_exec(q, c, "ROLLBACK", PGRES_COMMAND_OK, "rolling back a transaction", NULL);
}

static PGresult *s_feed_bump(const struct mg_store_pg *q, struct s_conn *c, enum mg_err *err);
static enum mg_err s_feed_prune(const struct mg_store_pg *q, struct s_conn *c, uint64_t gen);

static enum mg_err s_tx_commit(struct mg_store *s, bool bump, uint64_t *gen_out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    enum mg_err err = MG_E_OK;
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "committing");
    if (g_mg_pq.PQtransactionStatus(c->pg) != PQTRANS_INTRANS) {
        s_tx_rollback(s);
        return mg_store_fail(MG_E_STORE,
                             "transaction on PostgreSQL %s was aborted by the database after an "
                             "error",
                             q->shown);
    }
    if (bump) {
        PGresult *res = s_feed_bump(q, c, &err);
        if (res == NULL)
            goto out;
        int64_t v = 0;
        if (g_mg_pq.PQntuples(res) != 1 || !s_get_i64(res, 0, 0, &v) || v < 0)
            err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: the generation row is missing",
                                q->shown);
        else
            *gen_out = (uint64_t)v;
        g_mg_pq.PQclear(res);
        if (err != MG_E_OK)
            goto out;
    }
    if (bump)
        err = s_feed_prune(q, c, *gen_out);
    if (err == MG_E_OK)
        err = s_exec(q, c, "COMMIT", PGRES_COMMAND_OK, "committing", NULL);
out:
    if (err != MG_E_OK)
        s_tx_rollback(s);
    return err;
}

static enum mg_err s_doc_write(struct mg_store *s, const struct mg_store_row *row,
                               enum mg_store_write_mode mode)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    MG_TRY(s_check_ids(row->kind, row->account, row->key));
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "writing");
    enum s_stmt_id id = S_PUT;
    switch (mode) {
    case MG_STORE_WRITE_PUT: id = S_PUT; break;
    case MG_STORE_WRITE_INSERT: id = S_INSERT; break;
    case MG_STORE_WRITE_DELETE: id = S_DELETE; break;
    }
    char ms[8];
    s_be64(mg_now_ms(), ms);
    const char *vals[5] = {row->kind, row->account, row->key, row->doc != NULL ? row->doc : "", ms};
    const int lens[5] = {(int)strlen(row->kind), (int)strlen(row->account), (int)strlen(row->key),
                         row->doc != NULL ? (int)row->doc_len : 0, 8};
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, id, vals, lens, PGRES_COMMAND_OK, "writing", &err);
    if (res == NULL)
        return err;
    bool none = strcmp(g_mg_pq.PQcmdTuples(res), "0") == 0;
    g_mg_pq.PQclear(res);
    if (mode == MG_STORE_WRITE_INSERT && none)
        return MG_E_CONFLICT;
    if (mode == MG_STORE_WRITE_DELETE && none)
        return MG_E_NOT_FOUND;
    return MG_E_OK;
}

static enum mg_err s_meta_write(struct mg_store *s, const char *key, struct mg_slice value)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    MG_TRY(s_check_utf8("meta key", key));
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "writing");
    const char *vals[2] = {key, value.ptr != NULL ? (const char *)value.ptr : ""};
    const int lens[2] = {(int)strlen(key), value.ptr != NULL ? (int)value.len : 0};
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, S_META_PUT, vals, lens, PGRES_COMMAND_OK, "writing", &err);
    g_mg_pq.PQclear(res);
    return err;
}

static enum mg_err s_meta_write_if(struct mg_store *s, const char *key,
                                   const struct mg_slice *expected, struct mg_slice value)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    MG_TRY(s_check_utf8("meta key", key));
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "writing");
    const char *vals[3] = {key, value.ptr != NULL ? (const char *)value.ptr : "", ""};
    int lens[3] = {(int)strlen(key), value.ptr != NULL ? (int)value.len : 0, 0};
    if (expected != NULL && expected->ptr != NULL) {
        vals[2] = (const char *)expected->ptr;
        lens[2] = (int)expected->len;
    }
    enum mg_err err = MG_E_OK;
    if (expected == NULL) {
        PGresult *res = s_run(q, c, S_META_INSERT, vals, lens, PGRES_COMMAND_OK, "writing", &err);
        if (res == NULL)
            return err;
        bool none = strcmp(g_mg_pq.PQcmdTuples(res), "0") == 0;
        g_mg_pq.PQclear(res);
        return none ? MG_E_CONFLICT : MG_E_OK;
    }
    PGresult *res = s_run(q, c, S_META_SWAP, vals, lens, PGRES_TUPLES_OK, "writing", &err);
    if (res == NULL)
        return err;
    int64_t swapped = 0, exists = 0;
    if (g_mg_pq.PQntuples(res) != 1 || !s_get_i64(res, 0, 0, &swapped) ||
        !s_get_i64(res, 0, 1, &exists))
        err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: unexpected answer to a meta swap",
                            q->shown);
    else if (swapped == 0)
        err = exists == 0 ? MG_E_NOT_FOUND : MG_E_CONFLICT;
    g_mg_pq.PQclear(res);
    return err;
}

/* Copies one binary column into out (cleared by the caller). */
static enum mg_err s_column_to_buf(const PGresult *res, int col, struct mg_buf *out)
{
    size_t n = (size_t)g_mg_pq.PQgetlength(res, 0, col);
    enum mg_err err = mg_buf_append(out, g_mg_pq.PQgetvalue(res, 0, col), n);
    if (err == MG_E_TOO_LARGE)
        return mg_store_note(err,
                             "stored value of %zu bytes does not fit the caller's %zu-byte "
                             "buffer",
                             n, out->max);
    return err;
}

static enum mg_err s_get_one(struct mg_store_pg *q, bool on_writer, enum s_stmt_id id,
                             const char *kind, const char *account, const char *key,
                             struct mg_buf *out)
{
    if (id == S_META_GET)
        MG_TRY(s_check_utf8("meta key", key));
    else
        MG_TRY(s_check_ids(kind, account, key));
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    const char *vals[3];
    int lens[3];
    if (id == S_META_GET) {
        vals[0] = key;
        lens[0] = (int)strlen(key);
    } else {
        vals[0] = kind;
        vals[1] = account;
        vals[2] = key;
        lens[0] = (int)strlen(kind);
        lens[1] = (int)strlen(account);
        lens[2] = (int)strlen(key);
    }
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, id, vals, lens, PGRES_TUPLES_OK, "reading", &err);
    if (res == NULL && s_read_again(q, c, err))
        res = s_run(q, c, id, vals, lens, PGRES_TUPLES_OK, "reading", &err);
    if (res != NULL) {
        if (g_mg_pq.PQntuples(res) == 0)
            err = MG_E_NOT_FOUND;
        else
            err = s_column_to_buf(res, 0, out);
        g_mg_pq.PQclear(res);
    }
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

static enum mg_err s_read_generation(const struct mg_store_pg *q, struct s_conn *c, uint64_t *out)
{
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, S_GEN_READ, NULL, NULL, PGRES_TUPLES_OK, "reading the generation",
                          &err);
    if (res == NULL)
        return err;
    int64_t v = 0;
    if (g_mg_pq.PQntuples(res) != 1 || !s_get_i64(res, 0, 0, &v) || v < 0)
        err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: the generation row is missing", q->shown);
    else
        *out = (uint64_t)v;
    g_mg_pq.PQclear(res);
    return err;
}

static enum mg_err s_generation_read(struct mg_store *s, bool on_writer, uint64_t *out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    enum mg_err err = s_read_generation(q, c, out);
    if (err != MG_E_OK && s_read_again(q, c, err))
        err = s_read_generation(q, c, out);
    s_read_done(q, c);
    return err;
}

/* Where a page stops: the last row's names, the next page's lower bound. */
struct s_cursor {
    char kind[MG_STORE_NAME_MAX + 1];
    char account[MG_STORE_NAME_MAX + 1];
    char key[MG_STORE_NAME_MAX + 1];
};

static void s_cursor_set(char *dst, const char *src, int len)
{
    size_t n = len < 0 ? 0 : (size_t)len;
    if (n > MG_STORE_NAME_MAX)
        n = MG_STORE_NAME_MAX; /* never: longer names are refused on the way in and out */
    mg_memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Runs the pages of one list on c, until the last page or the callback says stop. */
static enum mg_err s_iter_pages(struct mg_store_pg *q, struct s_conn *c, const char *kind,
                                const char *account, mg_store_row_fn fn, void *user)
{
    struct s_cursor *cur = mg_calloc(1, sizeof(*cur));
    if (cur == NULL)
        return mg_store_fail(MG_E_NOMEM, "out of memory reading the store");
    enum s_stmt_id id = kind == NULL      ? S_PAGE_ALL
                        : account == NULL ? S_PAGE_KIND
                                          : S_PAGE_KIND_ACCOUNT;
    if (kind != NULL)
        s_cursor_set(cur->kind, kind, (int)strlen(kind));
    if (account != NULL)
        s_cursor_set(cur->account, account, (int)strlen(account));
    enum mg_err err = MG_E_OK;
    for (bool more = true; more && err == MG_E_OK;) {
        /* Every page statement takes ($1, $2, $3) = the last (kind, account, key) seen, or the
         * fixed kind (and account) with "" for the rest before the first page. */
        const char *vals[3] = {cur->kind, cur->account, cur->key};
        const int lens[3] = {(int)strlen(vals[0]), (int)strlen(vals[1]), (int)strlen(vals[2])};
        PGresult *res = s_run(q, c, id, vals, lens, PGRES_TUPLES_OK, "reading", &err);
        if (res == NULL)
            break;
        int n = g_mg_pq.PQntuples(res);
        more = n == S_PAGE_ROWS;
        for (int i = 0; i < n; i++) {
            struct mg_store_row row = {
                .kind = g_mg_pq.PQgetvalue(res, i, 0),
                .account = g_mg_pq.PQgetvalue(res, i, 1),
                .key = g_mg_pq.PQgetvalue(res, i, 2),
                .doc = g_mg_pq.PQgetvalue(res, i, 3),
                .doc_len = (size_t)g_mg_pq.PQgetlength(res, i, 3),
                .updated_ms = 0,
            };
            /* A longer name (written by something else) would not fit the page bound. */
            if (g_mg_pq.PQgetlength(res, i, 0) > (int)MG_STORE_NAME_MAX ||
                g_mg_pq.PQgetlength(res, i, 1) > (int)MG_STORE_NAME_MAX ||
                g_mg_pq.PQgetlength(res, i, 2) > (int)MG_STORE_NAME_MAX) {
                err = mg_store_fail(MG_E_STORE,
                                    "PostgreSQL %s: a stored row's name is longer than %u bytes",
                                    q->shown, MG_STORE_NAME_MAX);
                break;
            }
            if (!s_get_i64(res, i, 4, &row.updated_ms)) {
                err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: a row has no updated_ms", q->shown);
                break;
            }
            if (i == n - 1) {
                s_cursor_set(cur->kind, row.kind, g_mg_pq.PQgetlength(res, i, 0));
                s_cursor_set(cur->account, row.account, g_mg_pq.PQgetlength(res, i, 1));
                s_cursor_set(cur->key, row.key, g_mg_pq.PQgetlength(res, i, 2));
            }
            if (!fn(user, &row)) {
                more = false;
                break;
            }
        }
        g_mg_pq.PQclear(res);
    }
    mg_free(cur);
    return err;
}

static enum mg_err s_doc_iter(struct mg_store *s, bool on_writer, const char *kind,
                              const char *account, mg_store_row_fn fn, void *user,
                              uint64_t *gen_out)
{
    struct mg_store_pg *q = s_q(s);
    if (kind != NULL)
        MG_TRY(s_check_utf8("kind", kind));
    if (account != NULL)
        MG_TRY(s_check_utf8("account", account));
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    enum mg_err err = MG_E_OK;
    bool own_tx = false;
    if (!on_writer) {
        /* One snapshot for every page and the generation. */
        err = s_exec(q, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK,
                     "starting a read", NULL);
        if (err != MG_E_OK && s_read_again(q, c, err))
            err = s_exec(q, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK,
                         "starting a read", NULL);
        own_tx = err == MG_E_OK;
    }
    if (err == MG_E_OK && gen_out != NULL)
        err = s_read_generation(q, c, gen_out);
    if (err == MG_E_OK)
        err = s_iter_pages(q, c, kind, account, fn, user);
    if (own_tx && g_mg_pq.PQstatus(c->pg) == CONNECTION_OK) {
        enum mg_err e2 = s_exec(q, c, err == MG_E_OK ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK,
                                "ending a read", NULL);
        if (err == MG_E_OK)
            err = e2;
    }
    s_read_done(q, c);
    return err;
}

/* Takes the notifications that arrived on c; false when the connection failed. */
static bool s_drain_notifies(struct s_conn *c)
{
    if (g_mg_pq.PQconsumeInput(c->pg) == 0 || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return false;
    PGnotify *n;
    while ((n = g_mg_pq.PQnotifies(c->pg)) != NULL)
        g_mg_pq.PQfreemem(n);
    return true;
}

static enum mg_err s_wait_change(struct mg_store *s, uint64_t seen, int timeout_ms,
                                 uint64_t *gen_out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->listener;
    uint64_t deadline = mg_mono_ns() + (uint64_t)timeout_ms * 1000000u;
    pthread_mutex_lock(&q->listen_mu);
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        q->listening = false;
    enum mg_err err = s_conn_ready(q, c, false);
    if (err == MG_E_OK && !q->listening) {
        /* Listening before the first read: a commit after it either shows in that read or
         * wakes the poll below. */
        err = s_exec(q, c, "LISTEN " S_CHANNEL, PGRES_COMMAND_OK, "listening for changes", NULL);
        q->listening = err == MG_E_OK;
    }
    while (err == MG_E_OK) {
        if (!s_drain_notifies(c)) {
            err = s_fail(q, c, NULL, "waiting for changes");
            break;
        }
        err = s_read_generation(q, c, gen_out);
        uint64_t now = mg_mono_ns();
        if (err != MG_E_OK || *gen_out > seen || now >= deadline)
            break;
        uint64_t left_ms = (deadline - now + 999999u) / 1000000u;
        struct pollfd pfd = {.fd = g_mg_pq.PQsocket(c->pg), .events = POLLIN, .revents = 0};
        if (pfd.fd < 0) {
            err = s_fail(q, c, NULL, "waiting for changes");
            break;
        }
        (void)poll(&pfd, 1, left_ms > 60000u ? 60000 : (int)left_ms);
    }
    pthread_mutex_unlock(&q->listen_mu);
    return err;
}

/* ---- the change log ---- */

/* The generation bump of a commit, recording the transaction's rows (or a mark) in the change
 * log in the same statement. The result as s_run's. */
static PGresult *s_feed_bump(const struct mg_store_pg *q, struct s_conn *c, enum mg_err *err)
{
    const struct mg_store_changes *ch = &q->base.tx_changes;
    bool listed = mg_store_feed_listed(&q->base);
    struct mg_buf j;
    /* at most MG_STORE_FEED_TX_ROWS rows of three names, each escaped at most 6 bytes a byte */
    mg_buf_init(&j, (size_t)MG_STORE_FEED_TX_ROWS * (3 * 6 * MG_STORE_NAME_MAX + 16) + 16);
    enum mg_err e = mg_buf_append_byte(&j, '[');
    if (!listed && e == MG_E_OK)
        e = mg_buf_append_cstr(&j, "[\"\",\"\",\"\"]");
    for (size_t i = 0; listed && i < ch->n && e == MG_E_OK; i++) {
        const char *names[3] = {ch->v[i].kind, ch->v[i].account, ch->v[i].key};
        e = mg_buf_append_cstr(&j, i ? ",[" : "[");
        for (int k = 0; k < 3 && e == MG_E_OK; k++) {
            e = mg_buf_append_cstr(&j, k ? ",\"" : "\"");
            if (e == MG_E_OK)
                e = mg_buf_append_json_str(&j, mg_slice_cstr(names[k]));
            if (e == MG_E_OK)
                e = mg_buf_append_byte(&j, '"');
        }
        if (e == MG_E_OK)
            e = mg_buf_append_byte(&j, ']');
    }
    if (e == MG_E_OK)
        e = mg_buf_append_byte(&j, ']');
    if (e != MG_E_OK) {
        mg_buf_cleanup(&j);
        *err = mg_store_fail(MG_E_NOMEM, "out of memory recording the change log");
        return NULL;
    }
    const char *vals[1] = {(const char *)j.ptr};
    const int lens[1] = {(int)j.len};
    PGresult *res = s_run(q, c, S_GEN_BUMP_FEED, vals, lens, PGRES_TUPLES_OK,
                          "updating the generation", err);
    mg_buf_cleanup(&j);
    return res;
}

/* The pruning of the change log that falls due with the commit of generation gen. */
static enum mg_err s_feed_prune(const struct mg_store_pg *q, struct s_conn *c, uint64_t gen)
{
    uint64_t floor = 0;
    if (!mg_store_feed_prune_due(gen, &floor))
        return MG_E_OK;
    char v[8];
    s_be64((int64_t)floor, v);
    const char *vals[1] = {v};
    const int lens[1] = {8};
    enum mg_err err = MG_E_OK;
    g_mg_pq.PQclear(
        s_run(q, c, S_FEED_PRUNE, vals, lens, PGRES_COMMAND_OK, "pruning the change log", &err));
    return err;
}

static enum mg_err s_feed_rows(const struct mg_store_pg *q, struct s_conn *c, uint64_t after,
                               uint64_t upto, size_t limit, mg_store_feed_fn fn, void *user)
{
    char a[8], u[8], l[8];
    s_be64((int64_t)after, a);
    s_be64((int64_t)upto, u);
    s_be64((int64_t)limit, l);
    const char *vals[3] = {a, u, l};
    const int lens[3] = {8, 8, 8};
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, S_FEED_READ, vals, lens, PGRES_TUPLES_OK, "reading the change log",
                          &err);
    if (res == NULL)
        return err;
    int n = g_mg_pq.PQntuples(res);
    for (int i = 0; i < n; i++) {
        int64_t g = 0;
        if (!s_get_i64(res, i, 0, &g) || g < 0) {
            err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: a change log row has no generation",
                                q->shown);
            break;
        }
        if (!fn(user, (uint64_t)g, g_mg_pq.PQgetvalue(res, i, 1), g_mg_pq.PQgetvalue(res, i, 2),
                g_mg_pq.PQgetvalue(res, i, 3)))
            break;
    }
    g_mg_pq.PQclear(res);
    return err;
}

/* ---- leases ---- */

static enum mg_err s_lease_take(struct mg_store *s, const char *name, const char *holder,
                                int lease_ms, struct mg_store_lease *out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->leaser;
    MG_TRY(s_check_utf8("lease name", name));
    MG_TRY(s_check_utf8("lease holder", holder));
    char ms[8];
    s_be64(lease_ms, ms);
    const char *vals[3] = {name, holder, ms};
    const int lens[3] = {(int)strlen(name), (int)strlen(holder), 8};
    pthread_mutex_lock(&q->lease_mu);
    enum mg_err err = s_conn_ready(q, c, true);
    PGresult *res = NULL;
    if (err == MG_E_OK)
        res = s_run(q, c, S_LEASE_TAKE, vals, lens, PGRES_TUPLES_OK, "taking a lease", &err);
    if (res != NULL) {
        int64_t token = 0;
        if (g_mg_pq.PQntuples(res) == 1 && s_get_i64(res, 0, 0, &token) && token > 0) {
            out->held = true;
            out->token = (uint64_t)token;
        }
        g_mg_pq.PQclear(res);
    }
    pthread_mutex_unlock(&q->lease_mu);
    return err;
}

static enum mg_err s_lease_drop(struct mg_store *s, const char *name, const char *holder)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->leaser;
    MG_TRY(s_check_utf8("lease name", name));
    MG_TRY(s_check_utf8("lease holder", holder));
    const char *vals[2] = {name, holder};
    const int lens[2] = {(int)strlen(name), (int)strlen(holder)};
    pthread_mutex_lock(&q->lease_mu);
    enum mg_err err = s_conn_ready(q, c, true);
    if (err == MG_E_OK)
        g_mg_pq.PQclear(
            s_run(q, c, S_LEASE_DROP, vals, lens, PGRES_COMMAND_OK, "giving up a lease", &err));
    pthread_mutex_unlock(&q->lease_mu);
    return err;
}

static enum mg_err s_lease_fence(struct mg_store *s, const char *name, uint64_t token, int lease_ms)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    MG_TRY(s_check_utf8("lease name", name));
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "checking a lease");
    char tk[8], ms[8];
    s_be64((int64_t)token, tk);
    s_be64(lease_ms, ms);
    const char *vals[3] = {name, tk, ms};
    const int lens[3] = {(int)strlen(name), 8, 8};
    enum mg_err err = MG_E_OK;
    PGresult *res = s_run(q, c, S_LEASE_FENCE, vals, lens, PGRES_TUPLES_OK, "checking a lease",
                          &err);
    if (res == NULL)
        return err;
    if (g_mg_pq.PQntuples(res) != 1)
        err = MG_E_CONFLICT;
    g_mg_pq.PQclear(res);
    return err;
}

/* In the caller's write transaction: waits for the write lock of every node, then reads the
 * generation in a statement of its own (READ COMMITTED: it sees every commit made before the lock
 * was granted). */
static enum mg_err s_write_barrier(struct mg_store *s, uint64_t *gen_out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "waiting for the other nodes' writes");
    enum mg_err err = MG_E_OK;
    g_mg_pq.PQclear(s_run(q, c, S_WRITE_BARRIER, NULL, NULL, PGRES_TUPLES_OK,
                          "waiting for the other nodes' writes", &err));
    if (err == MG_E_OK)
        err = s_read_generation(q, c, gen_out);
    return err;
}

/* ---- chunks (unnamed statements: a chunk is megabytes, its statement's parse is not what it
 * costs) ---- */

static enum mg_err s_chunk_write(struct mg_store *s, const char *kind, const char *account,
                                 const char *key, uint32_t part, const struct mg_slice *data)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = &q->writer;
    MG_TRY(s_check_ids(kind, account, key));
    if (c->pg == NULL || g_mg_pq.PQstatus(c->pg) != CONNECTION_OK)
        return s_fail(q, c, NULL, "writing a chunk");
    char pbe[4] = {(char)(part >> 24), (char)(part >> 16), (char)(part >> 8), (char)part};
    const char *vals[5] = {kind, account, key, pbe,
                           data != NULL && data->ptr != NULL ? (const char *)data->ptr : ""};
    const int lens[5] = {(int)strlen(kind), (int)strlen(account), (int)strlen(key), 4,
                         data != NULL ? (int)data->len : 0};
    static const int formats[5] = {1, 1, 1, 1, 1};
    static const Oid types[5] = {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT, 23u /* int4 */, S_OID_BYTEA};
    const char *sql = data != NULL
                          ? "INSERT INTO chunks (kind, account, key, part, data) "
                            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (kind, account, key, part) "
                            "DO UPDATE SET data = EXCLUDED.data"
                          : "DELETE FROM chunks WHERE kind = $1 AND account = $2 AND key = $3";
    PGresult *res = g_mg_pq.PQexecParams(c->pg, sql, data != NULL ? 5 : 3, types, vals, lens,
                                         formats, 1);
    if (g_mg_pq.PQresultStatus(res) != PGRES_COMMAND_OK) {
        enum mg_err err = s_fail(q, c, res, "writing a chunk");
        g_mg_pq.PQclear(res);
        return err;
    }
    bool none = strcmp(g_mg_pq.PQcmdTuples(res), "0") == 0;
    g_mg_pq.PQclear(res);
    return data == NULL && none ? MG_E_NOT_FOUND : MG_E_OK;
}

static enum mg_err s_chunk_get(struct mg_store *s, bool on_writer, const char *kind,
                               const char *account, const char *key, uint32_t part,
                               struct mg_buf *out)
{
    struct mg_store_pg *q = s_q(s);
    MG_TRY(s_check_ids(kind, account, key));
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, on_writer, &c));
    char pbe[4] = {(char)(part >> 24), (char)(part >> 16), (char)(part >> 8), (char)part};
    const char *vals[4] = {kind, account, key, pbe};
    const int lens[4] = {(int)strlen(kind), (int)strlen(account), (int)strlen(key), 4};
    static const int formats[4] = {1, 1, 1, 1};
    static const Oid types[4] = {S_OID_TEXT, S_OID_TEXT, S_OID_TEXT, 23u /* int4 */};
    PGresult *res = g_mg_pq.PQexecParams(c->pg,
                                         "SELECT data FROM chunks WHERE kind = $1 AND account = $2 "
                                         "AND key = $3 AND part = $4",
                                         4, types, vals, lens, formats, 1);
    enum mg_err err = MG_E_OK;
    if (g_mg_pq.PQresultStatus(res) != PGRES_TUPLES_OK)
        err = s_fail(q, c, res, "reading a chunk");
    else if (g_mg_pq.PQntuples(res) == 0)
        err = MG_E_NOT_FOUND;
    else
        err = s_column_to_buf(res, 0, out);
    g_mg_pq.PQclear(res);
    s_read_done(q, c);
    return err;
}

static enum mg_err s_feed_read(struct mg_store *s, uint64_t after, size_t limit,
                               mg_store_feed_fn fn, void *user, uint64_t *gen_out,
                               uint64_t *floor_out)
{
    struct mg_store_pg *q = s_q(s);
    struct s_conn *c = NULL;
    MG_TRY(s_read_conn(q, false, &c));
    /* One snapshot for the generation, the floor and the rows. */
    enum mg_err err = s_exec(q, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                             PGRES_COMMAND_OK, "starting a read", NULL);
    bool own_tx = err == MG_E_OK;
    if (err == MG_E_OK)
        err = s_read_generation(q, c, gen_out);
    if (err == MG_E_OK) {
        PGresult *res = s_run(q, c, S_FEED_FLOOR, NULL, NULL, PGRES_TUPLES_OK,
                              "reading the change log", &err);
        int64_t v = 0;
        if (res != NULL && (g_mg_pq.PQntuples(res) != 1 || !s_get_i64(res, 0, 0, &v) || v < 0))
            err = mg_store_fail(MG_E_STORE, "PostgreSQL %s: the change log's floor is missing",
                                q->shown);
        *floor_out = (uint64_t)v;
        g_mg_pq.PQclear(res);
    }
    if (err == MG_E_OK && *gen_out > after)
        err = s_feed_rows(q, c, after, *gen_out, limit, fn, user);
    if (own_tx && g_mg_pq.PQstatus(c->pg) == CONNECTION_OK) {
        enum mg_err e2 = s_exec(q, c, err == MG_E_OK ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK,
                                "ending a read", NULL);
        if (err == MG_E_OK)
            err = e2;
    }
    s_read_done(q, c);
    return err;
}

static const struct mg_store_ops s_pg_ops = {
    .name = "postgresql",
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
    .feed_read = s_feed_read,
    .lease_take = s_lease_take,
    .lease_drop = s_lease_drop,
    .lease_fence = s_lease_fence,
    .write_barrier = s_write_barrier,
    .chunk_write = s_chunk_write,
    .chunk_get = s_chunk_get,
};

/* The password libpq reads from the URI (NULL when it has none or the URI does not parse). */
static enum mg_err s_password_of(const char *uri, char **out)
{
    *out = NULL;
    char *emsg = NULL;
    PQconninfoOption *opts = g_mg_pq.PQconninfoParse(uri, &emsg);
    if (emsg != NULL)
        g_mg_pq.PQfreemem(emsg);
    if (opts == NULL)
        return MG_E_OK;
    enum mg_err err = MG_E_OK;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL && o->val[0] != '\0') {
            *out = mg_strdup(o->val);
            if (*out == NULL)
                err = MG_E_NOMEM;
            mg_memzero(o->val, strlen(o->val));
        }
    }
    g_mg_pq.PQconninfoFree(opts);
    return err;
}

enum mg_err mg_store_pg_open(const char *location, struct mg_store **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_errinfo lei;
    if (mg_pq_load(&lei) != MG_E_OK) {
        /* at start-up, a store that cannot open is refused (store.h) */
        (void)mg_store_fail(MG_E_STORE, "the PostgreSQL store needs libpq: %s", lei.msg);
        mg_store_last_error(ei);
        if (ei != NULL)
            ei->code = MG_E_STORE;
        return MG_E_STORE;
    }
    enum mg_err err = MG_E_OK;
    struct mg_store_pg *q = mg_calloc(1, sizeof(*q));
    if (q == NULL) {
        err = mg_store_fail(MG_E_NOMEM, "out of memory opening the store");
        goto out;
    }
    mg_store_base_init(&q->base, &s_pg_ops);
    mg_store_pool_init(&q->pool);
    pthread_mutex_init(&q->listen_mu, NULL);
    pthread_mutex_init(&q->lease_mu, NULL);
    size_t cap = strlen(location) + 16;
    q->uri = mg_strdup(location);
    q->shown = mg_malloc(cap);
    if (q->uri == NULL || q->shown == NULL || s_password_of(location, &q->password) != MG_E_OK) {
        err = mg_store_fail(MG_E_NOMEM, "out of memory opening the store");
        goto out;
    }
    mg_store_location_redact(location, q->shown, cap);
    char *emsg = NULL;
    PQconninfoOption *opts = g_mg_pq.PQconninfoParse(location, &emsg);
    if (opts == NULL) {
        char detail[300];
        s_clean_message(q, emsg, detail, sizeof(detail));
        if (emsg != NULL)
            g_mg_pq.PQfreemem(emsg);
        err = mg_store_fail(MG_E_INVALID, "the store URI %s is not valid: %s", q->shown,
                            detail[0] ? detail : "out of memory");
        goto out;
    }
    g_mg_pq.PQconninfoFree(opts);
    err = s_connect(q, &q->writer, true);
    if (err == MG_E_OK)
        err = s_migrate(q);
    if (err != MG_E_OK)
        goto out;
    MG_LOG(MG_LOG_DEBUG, MG_SUB_STORE, "store open at PostgreSQL %s (server %d)", q->shown,
           g_mg_pq.PQserverVersion(q->writer.pg));
    *out = &q->base;
    q = NULL;
out:
    /* At start-up an unreachable server is refused like any other failure to open (store.h). */
    if (err == MG_E_UNAVAILABLE)
        err = MG_E_STORE;
    if (err != MG_E_OK) {
        mg_store_last_error(ei);
        if (ei != NULL)
            ei->code = err;
    }
    if (q != NULL)
        s_destroy(&q->base);
    return err;
}
