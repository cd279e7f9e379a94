#include "state/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

static struct mg_snapshot_ext s_exts[MG_SNAPSHOT_EXT_MAX];
static int s_n_exts;

int mg_snapshot_register_ext(const struct mg_snapshot_ext *ext)
{
    for (int i = 0; i < s_n_exts; i++)
        if (strcmp(s_exts[i].name, ext->name) == 0)
            return i;
    if (s_n_exts >= MG_SNAPSHOT_EXT_MAX)
        abort();
    s_exts[s_n_exts] = *ext;
    return s_n_exts++;
}

static enum mg_err s_key(char *out, size_t cap, const char *kind, const char *account,
                         const char *key, size_t *len)
{
    int n = snprintf(out, cap, "%s\x1f%s\x1f%s", kind, account ? account : "", key);
    if (n < 0 || (size_t)n >= cap)
        return MG_E_TOO_LARGE;
    *len = (size_t)n;
    return MG_E_OK;
}

const struct mg_snapshot_doc *mg_snapshot_get(const struct mg_snapshot *s, const char *kind,
                                              const char *account, const char *key)
{
    char k[1024];
    size_t n;
    if (s == NULL || s_key(k, sizeof(k), kind, account, key, &n) != MG_E_OK)
        return NULL;
    return mg_map_get(&s->index, mg_slice_make(k, n));
}

static int s_cmp_doc(const struct mg_snapshot_doc *d, const char *kind, const char *account)
{
    int c = strcmp(d->kind, kind);
    if (c || account == NULL)
        return c;
    return strcmp(d->account, account);
}

const struct mg_snapshot_doc *mg_snapshot_range(const struct mg_snapshot *s, const char *kind,
                                                const char *account, size_t *n)
{
    *n = 0;
    if (s == NULL)
        return NULL;
    size_t lo = 0, hi = s->n_docs;
    while (lo < hi) { /* first doc >= (kind, account) */
        size_t mid = lo + (hi - lo) / 2;
        if (s_cmp_doc(&s->docs[mid], kind, account) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < s->n_docs && s_cmp_doc(&s->docs[end], kind, account) == 0)
        end++;
    *n = end - lo;
    return *n ? &s->docs[lo] : NULL;
}

static void s_snapshot_free(struct mg_snapshot *s)
{
    for (int i = s_n_exts - 1; i >= 0; i--)
        if (s->ext[i] && s_exts[i].destroy)
            s_exts[i].destroy(s->ext[i]);
    for (size_t i = 0; i < s->n_docs; i++) {
        mg_free((void *)s->docs[i].kind);
        mg_free((void *)s->docs[i].account);
        mg_free((void *)s->docs[i].key);
        json_decref(s->docs[i].doc);
    }
    mg_free(s->docs);
    mg_map_cleanup(&s->index);
    mg_free(s);
}

struct mg_snapshot *mg_snapshot_ref(struct mg_snapshot *s)
{
    if (s)
        atomic_fetch_add(&s->refs, 1);
    return s;
}

void mg_snapshot_unref(struct mg_snapshot *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        s_snapshot_free(s);
}

struct s_build {
    struct mg_snapshot *s;
    size_t cap;
    enum mg_err err;
};

static bool s_on_row(void *user, const struct mg_store_row *row)
{
    struct s_build *b = user;
    if (b->s->n_docs == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *p = mg_realloc(b->s->docs, cap * sizeof(*b->s->docs));
        if (p == NULL) {
            b->err = MG_E_NOMEM;
            return false;
        }
        b->s->docs = p;
        b->cap = cap;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(row->doc, row->doc_len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        MG_LOG(MG_LOG_ERROR, MG_SUB_STORE, "skipping unreadable document %s/%s/%s: %s", row->kind,
               row->account, row->key, jerr.text);
        return true;
    }
    struct mg_snapshot_doc *d = &b->s->docs[b->s->n_docs];
    d->kind = mg_strdup(row->kind);
    d->account = mg_strdup(row->account);
    d->key = mg_strdup(row->key);
    d->doc = doc;
    d->updated_ms = row->updated_ms;
    b->s->n_docs++;
    if (!d->kind || !d->account || !d->key) {
        b->err = MG_E_NOMEM;
        return false;
    }
    return true;
}

static int s_sort_docs(const void *a, const void *b)
{
    const struct mg_snapshot_doc *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    if (c)
        return c;
    c = strcmp(x->account, y->account);
    if (c)
        return c;
    return strcmp(x->key, y->key);
}

static enum mg_err s_build(struct mg_state *st, uint64_t gen, struct mg_snapshot **out,
                           struct mg_errinfo *ei)
{
    struct mg_snapshot *s = mg_calloc(1, sizeof(*s));
    if (s == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    atomic_init(&s->refs, 1);
    s->generation = gen;
    mg_map_init(&s->index);
    struct s_build b = {s, 0, MG_E_OK};
    enum mg_err e = mg_store_scan(st->store, s_on_row, &b);
    if (!e)
        e = b.err;
    if (!e) {
        if (s->n_docs > 1)
            qsort(s->docs, s->n_docs, sizeof(*s->docs), s_sort_docs);
        for (size_t i = 0; i < s->n_docs && !e; i++) {
            char k[1024];
            size_t n;
            e = s_key(k, sizeof(k), s->docs[i].kind, s->docs[i].account, s->docs[i].key, &n);
            if (!e)
                e = mg_map_put(&s->index, mg_slice_make(k, n), &s->docs[i]);
        }
    }
    for (int i = 0; i < s_n_exts && !e; i++) {
        e = s_exts[i].build(s, &s->ext[i], ei);
        if (e && ei && ei->code == MG_E_OK)
            mg_errinfo_set(ei, e, "building %s failed", s_exts[i].name);
    }
    if (e) {
        s_snapshot_free(s);
        if (ei && ei->code == MG_E_OK)
            mg_errinfo_set(ei, e, "cannot build the state snapshot: %s", mg_err_str(e));
        return e;
    }
    *out = s;
    return MG_E_OK;
}

enum mg_err mg_state_init(struct mg_state *st, struct mg_store *store, struct mg_errinfo *ei)
{
    memset(st, 0, sizeof(*st));
    st->store = store;
    pthread_mutex_init(&st->publish_lock, NULL);
    pthread_mutex_init(&st->write_lock, NULL);
    return mg_state_rebuild(st, ei);
}

void mg_state_cleanup(struct mg_state *st)
{
    mg_snapshot_unref(atomic_load(&st->current));
    atomic_store(&st->current, NULL);
    pthread_mutex_destroy(&st->publish_lock);
    pthread_mutex_destroy(&st->write_lock);
}

enum mg_err mg_state_rebuild(struct mg_state *st, struct mg_errinfo *ei)
{
    struct mg_snapshot *s;
    uint64_t gen = atomic_load(&st->generation) + 1;
    MG_TRY(s_build(st, gen, &s, ei));
    pthread_mutex_lock(&st->publish_lock);
    struct mg_snapshot *old = atomic_load(&st->current);
    atomic_store(&st->current, s);
    atomic_store(&st->generation, gen);
    pthread_mutex_unlock(&st->publish_lock);
    mg_snapshot_unref(old);
    return MG_E_OK;
}

enum mg_err mg_state_write_begin(struct mg_state *st)
{
    pthread_mutex_lock(&st->write_lock);
    enum mg_err e = mg_store_begin(st->store);
    if (e)
        pthread_mutex_unlock(&st->write_lock);
    return e;
}

enum mg_err mg_state_write_commit(struct mg_state *st, struct mg_errinfo *ei)
{
    enum mg_err e = mg_store_commit(st->store);
    if (e) {
        mg_store_rollback(st->store);
        pthread_mutex_unlock(&st->write_lock);
        return mg_errinfo_set(ei, e, "the store could not commit the change");
    }
    e = mg_state_rebuild(st, ei);
    pthread_mutex_unlock(&st->write_lock);
    return e;
}

void mg_state_write_abort(struct mg_state *st)
{
    mg_store_rollback(st->store);
    pthread_mutex_unlock(&st->write_lock);
}

struct mg_snapshot *mg_state_read(struct mg_state *st, struct mg_state_reader *r)
{
    uint64_t gen = atomic_load_explicit(&st->generation, memory_order_acquire);
    if (r->snap && r->generation == gen)
        return r->snap;
    pthread_mutex_lock(&st->publish_lock);
    struct mg_snapshot *s = mg_snapshot_ref(atomic_load(&st->current));
    r->generation = atomic_load(&st->generation);
    pthread_mutex_unlock(&st->publish_lock);
    mg_snapshot_unref(r->snap);
    r->snap = s;
    return s;
}

void mg_state_reader_release(struct mg_state_reader *r)
{
    mg_snapshot_unref(r->snap);
    r->snap = NULL;
    r->generation = 0;
}

struct mg_snapshot *mg_state_acquire(struct mg_state *st)
{
    pthread_mutex_lock(&st->publish_lock);
    struct mg_snapshot *s = mg_snapshot_ref(atomic_load(&st->current));
    pthread_mutex_unlock(&st->publish_lock);
    return s;
}
