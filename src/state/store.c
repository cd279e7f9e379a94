/* src/state/store.c: the backend-neutral front of the store. Checks limits, serializes writers
 * with one mutex (begin takes it, commit/rollback release it; a single write outside a
 * transaction holds it for its duration), tracks the open transaction and the generation, then
 * calls the backend through its vtable. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "state/store_internal.h"

static _Thread_local struct mg_errinfo s_last_error;
/* Its address identifies the calling thread while it lives (never 0). */
static _Thread_local char s_thread_token;

static uintptr_t s_self(void)
{
    return (uintptr_t)&s_thread_token;
}

enum mg_err mg_store_fail(enum mg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_last_error.code = code;
    vsnprintf(s_last_error.msg, sizeof(s_last_error.msg), fmt, ap);
    va_end(ap);
    MG_LOG(MG_LOG_ERROR, MG_SUB_STORE, "%s", s_last_error.msg);
    return code;
}

enum mg_err mg_store_note(enum mg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_last_error.code = code;
    vsnprintf(s_last_error.msg, sizeof(s_last_error.msg), fmt, ap);
    va_end(ap);
    return code;
}

void mg_store_last_error(struct mg_errinfo *ei)
{
    if (ei == NULL)
        return;
    *ei = s_last_error;
}

void mg_store_last_error_clear(void)
{
    s_last_error.code = MG_E_OK;
    s_last_error.msg[0] = '\0';
}

void mg_store_base_init(struct mg_store *s, const struct mg_store_ops *ops)
{
    s->ops = ops;
    pthread_mutex_init(&s->write_mu, NULL);
    atomic_init(&s->tx_thread, 0);
    s->tx_dirty = false;
    s->tx_failed = false;
    atomic_init(&s->generation, 0);
    memset(&s->tx_changes, 0, sizeof(s->tx_changes));
    memset(&s->pending, 0, sizeof(s->pending));
    pthread_mutex_init(&s->changes_mu, NULL);
}

void mg_store_base_cleanup(struct mg_store *s)
{
    mg_store_changes_cleanup(&s->tx_changes);
    mg_store_changes_cleanup(&s->pending);
    pthread_mutex_destroy(&s->changes_mu);
    pthread_mutex_destroy(&s->write_mu);
}

void mg_store_pool_init(struct mg_store_pool *p)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (size_t i = 0; i < MG_STORE_READERS; i++)
        p->busy[i] = false;
}

void mg_store_pool_destroy(struct mg_store_pool *p)
{
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

size_t mg_store_pool_take(struct mg_store_pool *p, bool (*is_open)(const void *conns, size_t i),
                          const void *conns)
{
    pthread_mutex_lock(&p->mu);
    size_t pick;
    for (;;) {
        pick = MG_STORE_READERS;
        for (size_t i = 0; i < MG_STORE_READERS; i++) {
            if (p->busy[i])
                continue;
            if (is_open(conns, i)) {
                pick = i;
                break;
            }
            if (pick == MG_STORE_READERS)
                pick = i;
        }
        if (pick < MG_STORE_READERS)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    p->busy[pick] = true;
    pthread_mutex_unlock(&p->mu);
    return pick;
}

void mg_store_pool_give(struct mg_store_pool *p, size_t i)
{
    pthread_mutex_lock(&p->mu);
    p->busy[i] = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void mg_store_changes_cleanup(struct mg_store_changes *c)
{
    for (size_t i = 0; i < c->n; i++)
        mg_free((char *)c->v[i].kind);
    mg_free(c->v);
    memset(c, 0, sizeof(*c));
}

static void s_changes_overflow(struct mg_store_changes *c)
{
    mg_store_changes_cleanup(c);
    c->overflow = true;
}

/* Appends one row; on failure the list becomes an overflow (a full rebuild follows). */
static void s_changes_add(struct mg_store_changes *c, const char *kind, const char *account,
                          const char *key)
{
    if (c->overflow)
        return;
    if (c->n >= MG_STORE_CHANGES_MAX) {
        s_changes_overflow(c);
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        void *p = mg_realloc(c->v, cap * sizeof(*c->v));
        if (p == NULL) {
            s_changes_overflow(c);
            return;
        }
        c->v = p;
        c->cap = cap;
    }
    size_t lk = strlen(kind), la = strlen(account), ln = strlen(key);
    char *b = mg_malloc(lk + la + ln + 3);
    if (b == NULL) {
        s_changes_overflow(c);
        return;
    }
    mg_memcpy(b, kind, lk + 1);
    mg_memcpy(b + lk + 1, account, la + 1);
    mg_memcpy(b + lk + la + 2, key, ln + 1);
    c->v[c->n++] = (struct mg_store_change){b, b + lk + 1, b + lk + la + 2};
}

/* Moves from into the pending list (from is left empty). */
static void s_changes_publish(struct mg_store *s, struct mg_store_changes *from)
{
    pthread_mutex_lock(&s->changes_mu);
    if (from->overflow) {
        s_changes_overflow(&s->pending);
    } else {
        for (size_t i = 0; i < from->n && !s->pending.overflow; i++) {
            const struct mg_store_change *c = &from->v[i];
            s_changes_add(&s->pending, c->kind, c->account, c->key);
        }
    }
    pthread_mutex_unlock(&s->changes_mu);
    mg_store_changes_cleanup(from);
}

void mg_store_changes_take(struct mg_store *s, struct mg_store_changes *out)
{
    pthread_mutex_lock(&s->changes_mu);
    *out = s->pending;
    memset(&s->pending, 0, sizeof(s->pending));
    pthread_mutex_unlock(&s->changes_mu);
}

enum mg_err mg_store_open(const char *location, struct mg_store **out, struct mg_errinfo *ei)
{
    *out = NULL;
    if (location == NULL || location[0] == '\0')
        return mg_errinfo_set(ei, MG_E_INVALID, "store location is empty");
    struct mg_store *s = NULL;
    enum mg_err err = mg_store_location_is_pg(location) ? mg_store_pg_open(location, &s, ei)
                                                        : mg_store_sqlite_open(location, &s, ei);
    if (err != MG_E_OK)
        return err;
    uint64_t gen = 0;
    err = s->ops->generation_read(s, false, &gen);
    if (err != MG_E_OK) {
        mg_store_last_error(ei);
        s->ops->destroy(s);
        return err == MG_E_UNAVAILABLE ? MG_E_STORE : err;
    }
    atomic_store(&s->generation, gen);
    *out = s;
    return MG_E_OK;
}

void mg_store_close(struct mg_store *s)
{
    if (s == NULL)
        return;
    if (atomic_load(&s->tx_thread) != 0) {
        MG_LOG(MG_LOG_WARN, MG_SUB_STORE, "store closed with a transaction open: rolled back");
        s->ops->tx_rollback(s);
        atomic_store(&s->tx_thread, 0);
        pthread_mutex_unlock(&s->write_mu);
    }
    s->ops->destroy(s);
}

static bool s_holds_tx(struct mg_store *s)
{
    return atomic_load(&s->tx_thread) == s_self();
}

static void s_generation_seen(struct mg_store *s, uint64_t gen)
{
    uint64_t cur = atomic_load(&s->generation);
    while (cur < gen && !atomic_compare_exchange_weak(&s->generation, &cur, gen)) {
    }
}

enum mg_err mg_store_begin(struct mg_store *s)
{
    if (s_holds_tx(s))
        return mg_store_note(MG_E_INVALID, "a store transaction is already open on this thread");
    pthread_mutex_lock(&s->write_mu);
    enum mg_err err = s->ops->tx_begin(s);
    if (err != MG_E_OK) {
        pthread_mutex_unlock(&s->write_mu);
        return err;
    }
    s->tx_dirty = false;
    s->tx_failed = false;
    mg_store_changes_cleanup(&s->tx_changes);
    atomic_store(&s->tx_thread, s_self());
    return MG_E_OK;
}

/* Ends the transaction this thread holds and releases the writer. */
static void s_tx_release(struct mg_store *s)
{
    mg_store_changes_cleanup(&s->tx_changes);
    s->tx_dirty = false;
    s->tx_failed = false;
    atomic_store(&s->tx_thread, 0);
    pthread_mutex_unlock(&s->write_mu);
}

enum mg_err mg_store_commit(struct mg_store *s)
{
    if (!s_holds_tx(s))
        return mg_store_note(MG_E_INVALID,
                             "commit without an open store transaction on this thread");
    enum mg_err err;
    if (s->tx_failed) {
        s->ops->tx_rollback(s);
        /* A write lost to an unreachable database keeps its code: the caller answers 503. */
        err = mg_store_fail(s_last_error.code == MG_E_UNAVAILABLE ? MG_E_UNAVAILABLE : MG_E_STORE,
                            "store transaction rolled back: a write in it failed earlier");
    } else {
        uint64_t gen = 0;
        err = s->ops->tx_commit(s, s->tx_dirty, &gen);
        if (err == MG_E_OK && s->tx_dirty)
            s_generation_seen(s, gen);
        if (err == MG_E_OK)
            s_changes_publish(s, &s->tx_changes);
    }
    s_tx_release(s);
    return err;
}

void mg_store_rollback(struct mg_store *s)
{
    if (!s_holds_tx(s))
        return;
    s->ops->tx_rollback(s);
    s_tx_release(s);
}

static enum mg_err s_check_name(const char *what, const char *v, bool may_be_empty)
{
    if (v == NULL)
        return mg_store_note(MG_E_INVALID, "store %s is missing", what);
    size_t n = strnlen(v, MG_STORE_NAME_MAX + 1);
    if (n > MG_STORE_NAME_MAX)
        return mg_store_note(MG_E_INVALID, "store %s is longer than %u bytes", what,
                             MG_STORE_NAME_MAX);
    if (n == 0 && !may_be_empty)
        return mg_store_note(MG_E_INVALID, "store %s is empty", what);
    return MG_E_OK;
}

static enum mg_err s_check_ids(const char *kind, const char *account, const char *key)
{
    MG_TRY(s_check_name("kind", kind, false));
    MG_TRY(s_check_name("account", account, true));
    return s_check_name("key", key, false);
}

static enum mg_err s_check_doc(struct mg_slice doc)
{
    if (doc.ptr == NULL && doc.len != 0)
        return mg_store_note(MG_E_INVALID, "store document is missing");
    if (doc.len > MG_STORE_DOC_MAX)
        return mg_store_note(MG_E_TOO_LARGE,
                             "store document of %zu bytes exceeds the %u-byte limit", doc.len,
                             MG_STORE_DOC_MAX);
    return MG_E_OK;
}

/* Runs one write: inside the caller's transaction when it holds one, else in its own. */
static enum mg_err s_write(struct mg_store *s, const struct mg_store_row *row,
                           enum mg_store_write_mode mode, const char *meta_key,
                           struct mg_slice meta_value)
{
    bool own = !s_holds_tx(s);
    enum mg_err err;
    /* After a failed write the database may have rolled the transaction back already: writing
     * on would commit on its own, outside the caller's transaction. */
    if (!own && s->tx_failed)
        return mg_store_note(MG_E_STORE, "store transaction already failed: roll it back");
    if (own) {
        pthread_mutex_lock(&s->write_mu);
        err = s->ops->tx_begin(s);
        if (err != MG_E_OK) {
            pthread_mutex_unlock(&s->write_mu);
            return err;
        }
    }
    if (meta_key != NULL)
        err = s->ops->meta_write(s, meta_key, meta_value);
    else
        err = s->ops->doc_write(s, row, mode);
    /* Conflicts and misses leave the transaction usable; anything else poisons it. */
    bool soft = err == MG_E_CONFLICT || err == MG_E_NOT_FOUND;
    if (!own) {
        if (err == MG_E_OK) {
            s->tx_dirty = true;
            if (row != NULL)
                s_changes_add(&s->tx_changes, row->kind, row->account, row->key);
        } else if (!soft) {
            s->tx_failed = true;
        }
        return err;
    }
    if (err == MG_E_OK) {
        uint64_t gen = 0;
        /* the backend's commit records it in the change log */
        if (row != NULL)
            s_changes_add(&s->tx_changes, row->kind, row->account, row->key);
        err = s->ops->tx_commit(s, true, &gen);
        if (err == MG_E_OK) {
            s_generation_seen(s, gen);
            s_changes_publish(s, &s->tx_changes);
        }
    } else {
        s->ops->tx_rollback(s);
    }
    mg_store_changes_cleanup(&s->tx_changes);
    pthread_mutex_unlock(&s->write_mu);
    return err;
}

static enum mg_err s_doc_write(struct mg_store *s, const char *kind, const char *account,
                               const char *key, struct mg_slice doc, enum mg_store_write_mode mode)
{
    MG_TRY(s_check_ids(kind, account, key));
    if (mode != MG_STORE_WRITE_DELETE)
        MG_TRY(s_check_doc(doc));
    struct mg_store_row row = {
        .kind = kind,
        .account = account,
        .key = key,
        .doc = (const char *)doc.ptr,
        .doc_len = doc.len,
        .updated_ms = 0,
    };
    enum mg_err err = s_write(s, &row, mode, NULL, (struct mg_slice){0});
    if (err == MG_E_CONFLICT)
        return mg_store_note(err, "%s %s/%s already exists", kind, account, key);
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "%s %s/%s not found", kind, account, key);
    return err;
}

enum mg_err mg_store_put(struct mg_store *s, const char *kind, const char *account, const char *key,
                         struct mg_slice doc)
{
    return s_doc_write(s, kind, account, key, doc, MG_STORE_WRITE_PUT);
}

enum mg_err mg_store_insert(struct mg_store *s, const char *kind, const char *account,
                            const char *key, struct mg_slice doc)
{
    return s_doc_write(s, kind, account, key, doc, MG_STORE_WRITE_INSERT);
}

enum mg_err mg_store_delete(struct mg_store *s, const char *kind, const char *account,
                            const char *key)
{
    return s_doc_write(s, kind, account, key, (struct mg_slice){0}, MG_STORE_WRITE_DELETE);
}

enum mg_err mg_store_get(struct mg_store *s, const char *kind, const char *account, const char *key,
                         struct mg_buf *doc_out)
{
    mg_buf_reset(doc_out);
    MG_TRY(s_check_ids(kind, account, key));
    enum mg_err err = s->ops->doc_get(s, s_holds_tx(s), kind, account, key, doc_out);
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "%s %s/%s not found", kind, account, key);
    return err;
}

enum mg_err mg_store_list(struct mg_store *s, const char *kind, const char *account,
                          mg_store_row_fn fn, void *user)
{
    MG_TRY(s_check_name("kind", kind, false));
    if (account != NULL)
        MG_TRY(s_check_name("account", account, true));
    return s->ops->doc_iter(s, s_holds_tx(s), kind, account, fn, user, NULL);
}

enum mg_err mg_store_scan(struct mg_store *s, mg_store_row_fn fn, void *user)
{
    return s->ops->doc_iter(s, s_holds_tx(s), NULL, NULL, fn, user, NULL);
}

enum mg_err mg_store_scan_gen(struct mg_store *s, mg_store_row_fn fn, void *user,
                              uint64_t *generation_out)
{
    uint64_t gen = 0;
    enum mg_err err = s->ops->doc_iter(s, s_holds_tx(s), NULL, NULL, fn, user, &gen);
    if (err == MG_E_OK) {
        s_generation_seen(s, gen);
        *generation_out = gen;
    }
    return err;
}

uint64_t mg_store_generation(struct mg_store *s)
{
    return atomic_load(&s->generation);
}

enum mg_err mg_store_generation_refresh(struct mg_store *s, uint64_t *out)
{
    uint64_t gen = 0;
    MG_TRY(s->ops->generation_read(s, s_holds_tx(s), &gen));
    s_generation_seen(s, gen);
    *out = atomic_load(&s->generation);
    return MG_E_OK;
}

enum mg_err mg_store_wait_change(struct mg_store *s, uint64_t seen, int timeout_ms,
                                 uint64_t *gen_out)
{
    if (s_holds_tx(s))
        return mg_store_note(MG_E_INVALID, "waiting for changes inside a store transaction");
    uint64_t gen = 0;
    MG_TRY(s->ops->wait_change(s, seen, timeout_ms < 0 ? 0 : timeout_ms, &gen));
    s_generation_seen(s, gen);
    *gen_out = gen;
    return MG_E_OK;
}

enum mg_err mg_store_meta_get(struct mg_store *s, const char *key, struct mg_buf *out)
{
    mg_buf_reset(out);
    MG_TRY(s_check_name("meta key", key, false));
    enum mg_err err = s->ops->meta_get(s, s_holds_tx(s), key, out);
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "meta %s not found", key);
    return err;
}

enum mg_err mg_store_meta_put(struct mg_store *s, const char *key, struct mg_slice value)
{
    MG_TRY(s_check_name("meta key", key, false));
    if (strcmp(key, "generation") == 0)
        return mg_store_note(MG_E_INVALID, "meta key \"generation\" is reserved for the store");
    MG_TRY(s_check_doc(value));
    return s_write(s, NULL, MG_STORE_WRITE_PUT, key, value);
}

/* ---- the change log ----------------------------------------------------------------------- */

bool mg_store_feed_listed(const struct mg_store *s)
{
    return !s->tx_changes.overflow && s->tx_changes.n <= MG_STORE_FEED_TX_ROWS;
}

bool mg_store_feed_prune_due(uint64_t gen, uint64_t *floor)
{
    if (gen % MG_STORE_FEED_PRUNE_EVERY != 0 || gen <= MG_STORE_FEED_KEEP)
        return false;
    *floor = gen - MG_STORE_FEED_KEEP;
    return true;
}

struct s_feed_read {
    struct mg_store_changes *out;
    uint64_t gen;     /* the generation of the last row */
    size_t gen_start; /* where its rows start in out */
    size_t rows;      /* rows seen */
    bool mark;        /* a mark was read */
};

static bool s_feed_row(void *user, uint64_t generation, const char *kind, const char *account,
                       const char *key)
{
    struct s_feed_read *r = user;
    if (kind[0] == '\0') {
        r->mark = true;
        return false;
    }
    if (r->rows == 0 || generation != r->gen) {
        r->gen = generation;
        r->gen_start = r->out->n;
    }
    r->rows++;
    s_changes_add(r->out, kind, account, key);
    return !r->out->overflow;
}

enum mg_err mg_store_changes_since(struct mg_store *s, uint64_t after, struct mg_store_changes *out,
                                   uint64_t *upto_out)
{
    memset(out, 0, sizeof(*out));
    *upto_out = after;
    /* a shared store reads the log on a connection of its own: allowed in a write transaction
     * (the catch-up after mg_store_write_barrier) */
    if (s_holds_tx(s) && s->ops->write_barrier == NULL)
        return mg_store_note(MG_E_INVALID, "reading the change log inside a store transaction");
    struct s_feed_read r = {.out = out};
    uint64_t gen = 0, floor = 0;
    enum mg_err err = s->ops->feed_read(s, after, (size_t)MG_STORE_FEED_READ_ROWS + 1, s_feed_row,
                                        &r, &gen, &floor);
    if (err != MG_E_OK) {
        mg_store_changes_cleanup(out);
        return err;
    }
    s_generation_seen(s, gen);
    *upto_out = gen;
    if (gen == after && !r.mark && r.rows == 0)
        return MG_E_OK;
    if (gen < after || floor > after || r.mark || out->overflow) {
        s_changes_overflow(out);
        return MG_E_OK;
    }
    if (r.rows > MG_STORE_FEED_READ_ROWS) {
        /* the last generation read may go on past the limit: it comes in the next read */
        if (r.gen_start == 0) { /* one generation past the limit (never: marks cap them) */
            s_changes_overflow(out);
            return MG_E_OK;
        }
        for (size_t i = r.gen_start; i < out->n; i++)
            mg_free((char *)out->v[i].kind);
        out->n = r.gen_start;
        *upto_out = r.gen - 1;
    }
    return MG_E_OK;
}

/* ---- leases ---- */

enum mg_err mg_store_lease_take(struct mg_store *s, const char *name, const char *holder,
                                int lease_ms, struct mg_store_lease *out)
{
    out->held = false;
    out->token = 0;
    MG_TRY(s_check_name("lease name", name, false));
    MG_TRY(s_check_name("lease holder", holder, false));
    if (lease_ms <= 0)
        return mg_store_note(MG_E_INVALID, "lease length must be positive");
    if (s->ops->lease_take == NULL) {
        out->held = true;
        out->token = 1;
        return MG_E_OK;
    }
    return s->ops->lease_take(s, name, holder, lease_ms, out);
}

enum mg_err mg_store_lease_drop(struct mg_store *s, const char *name, const char *holder)
{
    MG_TRY(s_check_name("lease name", name, false));
    MG_TRY(s_check_name("lease holder", holder, false));
    if (s->ops->lease_drop == NULL)
        return MG_E_OK;
    return s->ops->lease_drop(s, name, holder);
}

enum mg_err mg_store_lease_fence(struct mg_store *s, const char *name, uint64_t token, int lease_ms)
{
    if (!s_holds_tx(s))
        return mg_store_note(MG_E_INVALID, "a lease fence needs an open store transaction");
    MG_TRY(s_check_name("lease name", name, false));
    if (lease_ms <= 0)
        return mg_store_note(MG_E_INVALID, "lease length must be positive");
    if (s->tx_failed)
        return mg_store_note(MG_E_STORE, "store transaction already failed: roll it back");
    if (s->ops->lease_fence == NULL)
        return MG_E_OK;
    enum mg_err err = s->ops->lease_fence(s, name, token, lease_ms);
    if (err == MG_E_CONFLICT)
        return mg_store_note(err, "lease %s is no longer held with token %llu", name,
                             (unsigned long long)token);
    if (err != MG_E_OK)
        s->tx_failed = true;
    return err;
}

enum mg_err mg_store_write_barrier(struct mg_store *s, uint64_t *gen_out)
{
    if (!s_holds_tx(s))
        return mg_store_note(MG_E_INVALID, "the write barrier needs an open store transaction");
    if (s->tx_failed)
        return mg_store_note(MG_E_STORE, "store transaction already failed: roll it back");
    if (s->ops->write_barrier == NULL) {
        *gen_out = mg_store_generation(s);
        return MG_E_OK;
    }
    enum mg_err err = s->ops->write_barrier(s, gen_out);
    if (err != MG_E_OK)
        s->tx_failed = true;
    return err;
}

bool mg_store_shared(const struct mg_store *s)
{
    return s->ops->lease_take != NULL;
}

bool mg_store_unavailable(enum mg_err e)
{
    if (e == MG_E_UNAVAILABLE)
        return true;
    return e == MG_E_STORE && s_last_error.code == MG_E_UNAVAILABLE;
}

/* ---- conditional meta writes (insert once, compare and swap) ------------------------------ */

/* One conditional meta write: in the caller's transaction when it holds one, else in its own. */
static enum mg_err s_meta_write_if(struct mg_store *s, const char *key,
                                   const struct mg_slice *expected, struct mg_slice value)
{
    MG_TRY(s_check_name("meta key", key, false));
    if (strcmp(key, "generation") == 0)
        return mg_store_note(MG_E_INVALID, "meta key \"generation\" is reserved for the store");
    MG_TRY(s_check_doc(value));
    if (expected != NULL)
        MG_TRY(s_check_doc(*expected));
    bool own = !s_holds_tx(s);
    if (!own && s->tx_failed)
        return mg_store_note(MG_E_STORE, "store transaction already failed: roll it back");
    if (own)
        MG_TRY(mg_store_begin(s));
    enum mg_err err = s->ops->meta_write_if(s, key, expected, value);
    bool soft = err == MG_E_CONFLICT || err == MG_E_NOT_FOUND;
    if (!own) {
        if (err == MG_E_OK)
            s->tx_dirty = true;
        else if (!soft)
            s->tx_failed = true;
    } else if (err == MG_E_OK) {
        s->tx_dirty = true;
        err = mg_store_commit(s);
    } else {
        mg_store_rollback(s);
    }
    if (err == MG_E_CONFLICT)
        return mg_store_note(err, "meta %s %s", key,
                             expected ? "changed meanwhile" : "already exists");
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "meta %s not found", key);
    return err;
}

enum mg_err mg_store_meta_insert(struct mg_store *s, const char *key, struct mg_slice value)
{
    return s_meta_write_if(s, key, NULL, value);
}

enum mg_err mg_store_meta_swap(struct mg_store *s, const char *key, struct mg_slice expected,
                               struct mg_slice value)
{
    return s_meta_write_if(s, key, &expected, value);
}

enum mg_err mg_store_meta_secret(struct mg_store *s, const char *key, uint8_t *out, size_t len)
{
    if (len == 0 || len > 64)
        return mg_store_note(MG_E_INVALID, "meta secret %s: %zu bytes asked for", key, len);
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    enum mg_err e = mg_store_meta_get(s, key, &b);
    if (e == MG_E_NOT_FOUND) {
        uint8_t fresh[64];
        mg_random_bytes(fresh, len);
        e = mg_store_meta_insert(s, key, mg_slice_make(fresh, len));
        mg_memzero(fresh, sizeof(fresh));
        /* this node's value, or the one another node inserted first: read back either way */
        if (e == MG_E_OK || e == MG_E_CONFLICT)
            e = mg_store_meta_get(s, key, &b);
    }
    if (e == MG_E_OK && b.len != len)
        e = mg_store_fail(MG_E_STORE,
                          "meta %s holds %zu bytes, not the %zu of a key this server makes: the "
                          "store is damaged or was written by another program",
                          key, b.len, len);
    if (e == MG_E_OK)
        mg_memcpy(out, b.ptr, len);
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
    return e;
}

/* ---- chunks ---- */

static enum mg_err s_chunk_write(struct mg_store *s, const char *kind, const char *account,
                                 const char *key, uint32_t part, const struct mg_slice *data)
{
    MG_TRY(s_check_ids(kind, account, key));
    if (data != NULL)
        MG_TRY(s_check_doc(*data));
    if (!s_holds_tx(s))
        return mg_store_note(MG_E_INVALID, "chunks are written inside a store transaction only");
    if (s->tx_failed)
        return mg_store_note(MG_E_STORE, "store transaction already failed: roll it back");
    if (s->ops->chunk_write == NULL)
        return mg_store_note(MG_E_INVALID, "this store keeps no chunks");
    enum mg_err err = s->ops->chunk_write(s, kind, account, key, part, data);
    if (err == MG_E_OK)
        s->tx_dirty = true;
    else if (err != MG_E_NOT_FOUND)
        s->tx_failed = true;
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "chunks %s %s/%s not found", kind, account, key);
    return err;
}

enum mg_err mg_store_chunk_put(struct mg_store *s, const char *kind, const char *account,
                               const char *key, uint32_t part, struct mg_slice data)
{
    if (data.ptr == NULL && data.len != 0)
        return mg_store_note(MG_E_INVALID, "store chunk is missing");
    if (data.ptr == NULL)
        data = mg_slice_make((const uint8_t *)"", 0);
    return s_chunk_write(s, kind, account, key, part, &data);
}

enum mg_err mg_store_chunk_delete(struct mg_store *s, const char *kind, const char *account,
                                  const char *key)
{
    return s_chunk_write(s, kind, account, key, 0, NULL);
}

enum mg_err mg_store_chunk_get(struct mg_store *s, const char *kind, const char *account,
                               const char *key, uint32_t part, struct mg_buf *out)
{
    mg_buf_reset(out);
    MG_TRY(s_check_ids(kind, account, key));
    if (s->ops->chunk_get == NULL)
        return mg_store_note(MG_E_NOT_FOUND, "this store keeps no chunks");
    enum mg_err err = s->ops->chunk_get(s, s_holds_tx(s), kind, account, key, part, out);
    if (err == MG_E_NOT_FOUND)
        return mg_store_note(err, "chunk %s %s/%s part %u not found", kind, account, key,
                             (unsigned)part);
    return err;
}
