#include "state/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"

static struct mg_snapshot_ext s_exts[MG_SNAPSHOT_EXT_MAX];
static int s_n_exts;

int mg_snapshot_register_ext(const struct mg_snapshot_ext *ext)
{
    for (int i = 0; i < s_n_exts; i++)
        if (strcmp(s_exts[i].name, ext->name) == 0)
            return i;
    if (s_n_exts >= MG_SNAPSHOT_EXT_MAX || ext->build == NULL)
        abort();
    s_exts[s_n_exts] = *ext;
    return s_n_exts++;
}

static struct {
    const char *kind;
    void (*fn)(json_t *doc);
} s_compact[MG_SNAPSHOT_EXT_MAX];
static int s_n_compact;

void mg_snapshot_register_compact(const char *kind, void (*fn)(json_t *doc))
{
    for (int i = 0; i < s_n_compact; i++)
        if (strcmp(s_compact[i].kind, kind) == 0) {
            s_compact[i].fn = fn;
            return;
        }
    if (s_n_compact >= MG_SNAPSHOT_EXT_MAX)
        abort();
    s_compact[s_n_compact].kind = kind;
    s_compact[s_n_compact++].fn = fn;
}

static void s_compact_doc(const char *kind, json_t *doc)
{
    for (int i = 0; i < s_n_compact; i++)
        if (strcmp(s_compact[i].kind, kind) == 0) {
            s_compact[i].fn(doc);
            return;
        }
}

static const char *s_store_only[MG_SNAPSHOT_EXT_MAX];
static int s_n_store_only;

void mg_snapshot_register_store_only(const char *kind)
{
    if (mg_snapshot_store_only(kind))
        return;
    if (s_n_store_only >= MG_SNAPSHOT_EXT_MAX)
        abort();
    s_store_only[s_n_store_only++] = kind;
}

bool mg_snapshot_store_only(const char *kind)
{
    for (int i = 0; i < s_n_store_only; i++)
        if (strcmp(s_store_only[i], kind) == 0)
            return true;
    return false;
}

struct mg_snapshot_entry {
    atomic_long refs;
    json_t *doc;
    char strs[]; /* kind \0 account \0 key \0 */
};

struct mg_snapshot_ext_box {
    atomic_long refs;
    int slot;
    void *ext;
};

/* Makes the entry for one document (taking doc) and fills d. */
static enum mg_err s_entry_new(const char *kind, const char *account, const char *key, json_t *doc,
                               int64_t updated_ms, struct mg_snapshot_doc *d)
{
    size_t lk = strlen(kind), la = strlen(account), ln = strlen(key);
    struct mg_snapshot_entry *e = mg_malloc(sizeof(*e) + lk + la + ln + 3);
    if (e == NULL) {
        json_decref(doc);
        return MG_E_NOMEM;
    }
    atomic_init(&e->refs, 1);
    e->doc = doc;
    mg_memcpy(e->strs, kind, lk + 1);
    mg_memcpy(e->strs + lk + 1, account, la + 1);
    mg_memcpy(e->strs + lk + la + 2, key, ln + 1);
    *d = (struct mg_snapshot_doc){e->strs, e->strs + lk + 1, e->strs + lk + la + 2,
                                  doc,     updated_ms,       e};
    return MG_E_OK;
}

static void s_entry_unref(struct mg_snapshot_entry *e)
{
    if (e && atomic_fetch_sub(&e->refs, 1) == 1) {
        json_decref(e->doc);
        mg_free(e);
    }
}

static struct mg_snapshot_bucket *s_bucket_new(size_t cap)
{
    struct mg_snapshot_bucket *b = mg_calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->docs = mg_calloc(cap ? cap : 1, sizeof(*b->docs));
    if (b->docs == NULL) {
        mg_free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    return b;
}

static void s_bucket_unref(struct mg_snapshot_bucket *b)
{
    if (b == NULL || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    for (size_t i = 0; i < b->n; i++)
        s_entry_unref(b->docs[i].entry);
    mg_free(b->docs);
    mg_free(b);
}

static void s_box_unref(struct mg_snapshot_ext_box *x)
{
    if (x == NULL || atomic_fetch_sub(&x->refs, 1) != 1)
        return;
    if (x->ext && s_exts[x->slot].destroy)
        s_exts[x->slot].destroy(x->ext);
    mg_free(x);
}

static int s_cmp_bucket(const struct mg_snapshot_bucket *b, const char *kind, const char *account)
{
    int c = strcmp(b->docs[0].kind, kind);
    if (c || account == NULL)
        return c;
    return strcmp(b->docs[0].account, account);
}

/* The first bucket >= (kind, account) (account NULL: the first of kind). */
static size_t s_lower_bucket(const struct mg_snapshot *s, const char *kind, const char *account)
{
    size_t lo = 0, hi = s->n_buckets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_cmp_bucket(s->buckets[mid], kind, account) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const struct mg_snapshot_bucket *s_bucket(const struct mg_snapshot *s, const char *kind,
                                                 const char *account)
{
    if (s == NULL || kind == NULL || account == NULL)
        return NULL;
    size_t i = s_lower_bucket(s, kind, account);
    if (i < s->n_buckets && s_cmp_bucket(s->buckets[i], kind, account) == 0)
        return s->buckets[i];
    return NULL;
}

/* The first doc of b whose key >= key. */
static size_t s_lower_doc(const struct mg_snapshot_bucket *b, const char *key)
{
    size_t lo = 0, hi = b->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(b->docs[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const struct mg_snapshot_doc *mg_snapshot_get(const struct mg_snapshot *s, const char *kind,
                                              const char *account, const char *key)
{
    const struct mg_snapshot_bucket *b = s_bucket(s, kind, account);
    if (b == NULL || key == NULL)
        return NULL;
    size_t i = s_lower_doc(b, key);
    return i < b->n && strcmp(b->docs[i].key, key) == 0 ? &b->docs[i] : NULL;
}

const struct mg_snapshot_doc *mg_snapshot_range(const struct mg_snapshot *s, const char *kind,
                                                const char *account, size_t *n)
{
    *n = 0;
    const struct mg_snapshot_bucket *b = s_bucket(s, kind, account);
    if (b == NULL)
        return NULL;
    *n = b->n;
    return b->docs;
}

const struct mg_snapshot_doc *mg_snapshot_next_run(const struct mg_snapshot *s, const char *kind,
                                                   size_t *pos, size_t *n)
{
    *n = 0;
    if (s == NULL || kind == NULL)
        return NULL;
    size_t i = *pos ? *pos - 1 : s_lower_bucket(s, kind, NULL);
    if (i >= s->n_buckets || strcmp(s->buckets[i]->docs[0].kind, kind) != 0)
        return NULL;
    *pos = i + 2;
    *n = s->buckets[i]->n;
    return s->buckets[i]->docs;
}

enum mg_err mg_snapshot_collect(const struct mg_snapshot *s, const char *kind,
                                const struct mg_snapshot_doc ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t total = 0, pos = 0, k;
    while (mg_snapshot_next_run(s, kind, &pos, &k))
        total += k;
    if (total == 0)
        return MG_E_OK;
    const struct mg_snapshot_doc **v = mg_calloc(total, sizeof(const struct mg_snapshot_doc *));
    if (v == NULL)
        return MG_E_NOMEM;
    pos = 0;
    const struct mg_snapshot_doc *d;
    while ((d = mg_snapshot_next_run(s, kind, &pos, &k)))
        for (size_t i = 0; i < k; i++)
            v[(*n)++] = &d[i];
    *out = v;
    return MG_E_OK;
}

static void s_snapshot_free(struct mg_snapshot *s)
{
    for (int i = MG_SNAPSHOT_EXT_MAX - 1; i >= 0; i--)
        s_box_unref(s->ext_box[i]);
    for (size_t i = 0; i < s->n_buckets; i++)
        s_bucket_unref(s->buckets[i]);
    mg_free(s->buckets);
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

static struct mg_snapshot *s_snapshot_new(uint64_t gen)
{
    struct mg_snapshot *s = mg_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    s->generation = gen;
    return s;
}

/* ---- extensions --------------------------------------------------------------------------- */

static enum mg_err s_ext_build(struct mg_snapshot *s, int i, struct mg_errinfo *ei)
{
    struct mg_snapshot_ext_box *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    atomic_init(&x->refs, 1);
    x->slot = i;
    enum mg_err e = s_exts[i].build(s, &x->ext, ei);
    if (e) {
        mg_free(x);
        if (ei && ei->code == MG_E_OK)
            mg_errinfo_set(ei, e, "building %s failed", s_exts[i].name);
        return e;
    }
    s->ext_box[i] = x;
    s->ext[i] = x->ext;
    return MG_E_OK;
}

static bool s_ext_reads(const struct mg_snapshot_ext *x, const struct mg_snapshot_change *c,
                        size_t n)
{
    if (x->kinds == NULL)
        return n > 0;
    for (size_t i = 0; i < n; i++)
        for (const char *const *k = x->kinds; *k; k++)
            if (strcmp(*k, c[i].kind) == 0)
                return true;
    return false;
}

/* The extensions of s, derived from prev's where they may be. */
static enum mg_err s_ext_apply(const struct mg_snapshot *prev, struct mg_snapshot *s,
                               const struct mg_snapshot_change *c, size_t n, struct mg_errinfo *ei)
{
    for (int i = 0; i < s_n_exts; i++) {
        struct mg_snapshot_ext_box *pb = prev->ext_box[i];
        if (pb == NULL) /* registered after prev was built */
            MG_TRY(s_ext_build(s, i, ei));
        else if (!s_ext_reads(&s_exts[i], c, n)) {
            atomic_fetch_add(&pb->refs, 1);
            s->ext_box[i] = pb;
            s->ext[i] = pb->ext;
        } else if (s_exts[i].apply) {
            struct mg_snapshot_ext_box *x = mg_calloc(1, sizeof(*x));
            if (x == NULL)
                return MG_E_NOMEM;
            atomic_init(&x->refs, 1);
            x->slot = i;
            enum mg_err e = s_exts[i].apply(pb->ext, s, c, n, &x->ext, ei);
            if (e || x->ext == NULL) {
                mg_free(x);
                if (e)
                    return e;
                MG_TRY(s_ext_build(s, i, ei));
            } else {
                s->ext_box[i] = x;
                s->ext[i] = x->ext;
            }
        } else {
            MG_TRY(s_ext_build(s, i, ei));
        }
    }
    return MG_E_OK;
}

/* ---- the full build ----------------------------------------------------------------------- */

struct s_build {
    struct mg_snapshot_doc *docs;
    size_t n, cap;
    enum mg_err err;
};

static bool s_on_row(void *user, const struct mg_store_row *row)
{
    struct s_build *b = user;
    if (mg_snapshot_store_only(row->kind))
        return true;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        void *p = mg_realloc(b->docs, cap * sizeof(*b->docs));
        if (p == NULL) {
            b->err = MG_E_NOMEM;
            return false;
        }
        b->docs = p;
        b->cap = cap;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(row->doc, row->doc_len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        MG_LOG(MG_LOG_ERROR, MG_SUB_STORE, "skipping unreadable document %s/%s/%s: %s", row->kind,
               row->account, row->key, jerr.text);
        return true;
    }
    s_compact_doc(row->kind, doc);
    b->err = s_entry_new(row->kind, row->account, row->key, doc, row->updated_ms, &b->docs[b->n]);
    if (b->err)
        return false;
    b->n++;
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

/* Cuts sorted docs into buckets; the entries move into them. */
static enum mg_err s_bucketize(struct mg_snapshot *s, struct s_build *b)
{
    size_t nb = 0;
    for (size_t i = 0; i < b->n; i++)
        if (i == 0 || strcmp(b->docs[i].kind, b->docs[i - 1].kind) != 0 ||
            strcmp(b->docs[i].account, b->docs[i - 1].account) != 0)
            nb++;
    s->buckets = mg_calloc(nb ? nb : 1, sizeof(struct mg_snapshot_bucket *));
    if (s->buckets == NULL)
        return MG_E_NOMEM;
    size_t i = 0;
    while (i < b->n) {
        size_t j = i + 1;
        while (j < b->n && strcmp(b->docs[j].kind, b->docs[i].kind) == 0 &&
               strcmp(b->docs[j].account, b->docs[i].account) == 0)
            j++;
        struct mg_snapshot_bucket *k = s_bucket_new(j - i);
        if (k == NULL)
            return MG_E_NOMEM;
        for (size_t m = i; m < j; m++) {
            k->docs[k->n++] = b->docs[m];
            b->docs[m].entry = NULL; /* moved */
        }
        s->buckets[s->n_buckets++] = k;
        s->n_docs += k->n;
        i = j;
    }
    return MG_E_OK;
}

static enum mg_err s_build(struct mg_state *st, uint64_t gen, struct mg_snapshot **out,
                           struct mg_errinfo *ei)
{
    struct mg_snapshot *s = s_snapshot_new(gen);
    if (s == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    struct s_build b = {NULL, 0, 0, MG_E_OK};
    enum mg_err e = mg_store_scan(st->store, s_on_row, &b);
    if (!e)
        e = b.err;
    if (!e) {
        if (b.n > 1)
            qsort(b.docs, b.n, sizeof(*b.docs), s_sort_docs);
        e = s_bucketize(s, &b);
    }
    for (size_t i = 0; i < b.n; i++)
        s_entry_unref(b.docs[i].entry);
    mg_free(b.docs);
    for (int i = 0; i < s_n_exts && !e; i++)
        e = s_ext_build(s, i, ei);
    if (e) {
        s_snapshot_free(s);
        if (ei && ei->code == MG_E_OK)
            mg_errinfo_set(ei, e, "cannot build the state snapshot: %s", mg_err_str(e));
        return e;
    }
    *out = s;
    return MG_E_OK;
}

/* ---- the incremental path ----------------------------------------------------------------- */

static int s_cmp_change(const void *a, const void *b)
{
    const struct mg_snapshot_change *x = a, *y = b;
    int c = strcmp(x->kind, y->kind);
    if (c)
        return c;
    c = strcmp(x->account, y->account);
    if (c)
        return c;
    return strcmp(x->key, y->key);
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one row again: d->entry NULL when it is gone (or unreadable, as in the full build). */
static enum mg_err s_read_row(struct mg_state *st, const struct mg_snapshot_change *c,
                              struct mg_buf *buf, struct mg_snapshot_doc *d)
{
    memset(d, 0, sizeof(*d));
    enum mg_err e = mg_store_get(st->store, c->kind, c->account, c->key, buf);
    if (e == MG_E_NOT_FOUND)
        return MG_E_OK;
    if (e)
        return e;
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)buf->ptr, buf->len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        MG_LOG(MG_LOG_ERROR, MG_SUB_STORE, "skipping unreadable document %s/%s/%s: %s", c->kind,
               c->account, c->key, jerr.text);
        return MG_E_OK;
    }
    s_compact_doc(c->kind, doc);
    return s_entry_new(c->kind, c->account, c->key, doc, s_now_ms(), d);
}

/* The bucket (kind, account) of prev with the rows c[0..n) (sorted, distinct) read again; *out
 * NULL when it ends up empty. */
static enum mg_err s_apply_bucket(struct mg_state *st, const struct mg_snapshot_bucket *pb,
                                  const struct mg_snapshot_change *c, size_t n, struct mg_buf *buf,
                                  struct mg_snapshot_bucket **out)
{
    *out = NULL;
    size_t pn = pb ? pb->n : 0;
    struct mg_snapshot_bucket *b = s_bucket_new(pn + n);
    if (b == NULL)
        return MG_E_NOMEM;
    size_t i = 0;
    enum mg_err e = MG_E_OK;
    for (size_t k = 0; k < n && !e; k++) {
        while (i < pn && strcmp(pb->docs[i].key, c[k].key) < 0) {
            b->docs[b->n] = pb->docs[i++];
            atomic_fetch_add(&b->docs[b->n++].entry->refs, 1);
        }
        if (i < pn && strcmp(pb->docs[i].key, c[k].key) == 0)
            i++; /* replaced or removed */
        struct mg_snapshot_doc d;
        e = s_read_row(st, &c[k], buf, &d);
        if (!e && d.entry)
            b->docs[b->n++] = d;
    }
    while (!e && i < pn) {
        b->docs[b->n] = pb->docs[i++];
        atomic_fetch_add(&b->docs[b->n++].entry->refs, 1);
    }
    if (e || b->n == 0) {
        s_bucket_unref(b);
        return e;
    }
    *out = b;
    return MG_E_OK;
}

static enum mg_err s_apply(struct mg_state *st, const struct mg_snapshot *prev, uint64_t gen,
                           const struct mg_snapshot_change *changes, size_t n,
                           struct mg_snapshot **out, struct mg_errinfo *ei)
{
    struct mg_snapshot_change *c = mg_calloc(n ? n : 1, sizeof(*c));
    struct mg_snapshot *s = s_snapshot_new(gen);
    /* at most one new bucket per change */
    struct mg_snapshot_bucket **nb = mg_calloc(prev->n_buckets + n + 1,
                                               sizeof(struct mg_snapshot_bucket *));
    struct mg_buf buf;
    mg_buf_init(&buf, MG_STORE_DOC_MAX + 1);
    enum mg_err e = c && s && nb ? MG_E_OK : MG_E_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n && !e; i++) {
        if (changes[i].kind == NULL || changes[i].account == NULL || changes[i].key == NULL)
            e = MG_E_INVALID;
        else if (!mg_snapshot_store_only(changes[i].kind))
            c[m++] = changes[i];
    }
    if (!e && m > 1) {
        qsort(c, m, sizeof(*c), s_cmp_change);
        size_t w = 1;
        for (size_t i = 1; i < m; i++)
            if (s_cmp_change(&c[i], &c[w - 1]) != 0)
                c[w++] = c[i];
        m = w;
    }
    /* merge prev's buckets with the groups of changes, both sorted by (kind, account) */
    size_t pi = 0, ci = 0, k = 0;
    while (!e && (pi < prev->n_buckets || ci < m)) {
        int cmp = pi == prev->n_buckets ? 1
                  : ci == m             ? -1
                            : s_cmp_bucket(prev->buckets[pi], c[ci].kind, c[ci].account);
        if (cmp < 0) {
            nb[k] = prev->buckets[pi++];
            atomic_fetch_add(&nb[k++]->refs, 1);
            continue;
        }
        size_t cj = ci + 1;
        while (cj < m && strcmp(c[cj].kind, c[ci].kind) == 0 &&
               strcmp(c[cj].account, c[ci].account) == 0)
            cj++;
        const struct mg_snapshot_bucket *pb = cmp == 0 ? prev->buckets[pi++] : NULL;
        struct mg_snapshot_bucket *b = NULL;
        e = s_apply_bucket(st, pb, &c[ci], cj - ci, &buf, &b);
        if (b)
            nb[k++] = b;
        ci = cj;
    }
    mg_buf_cleanup(&buf);
    if (s) {
        s->buckets = nb;
        s->n_buckets = k;
        nb = NULL;
        for (size_t i = 0; i < s->n_buckets; i++)
            s->n_docs += s->buckets[i]->n;
    }
    if (!e)
        e = s_ext_apply(prev, s, c, m, ei);
    mg_free(c);
    mg_free(nb);
    if (e) {
        if (s)
            s_snapshot_free(s);
        if (ei && ei->code == MG_E_OK)
            mg_errinfo_set(ei, e, "cannot update the state snapshot: %s", mg_err_str(e));
        return e;
    }
    *out = s;
    return MG_E_OK;
}

/* ---- the state ---------------------------------------------------------------------------- */

static void s_publish(struct mg_state *st, struct mg_snapshot *s, uint64_t gen)
{
    pthread_mutex_lock(&st->publish_lock);
    struct mg_snapshot *old = atomic_load(&st->current);
    atomic_store(&st->current, s);
    atomic_store(&st->generation, gen);
    pthread_mutex_unlock(&st->publish_lock);
    mg_snapshot_unref(old);
}

enum mg_err mg_state_init(struct mg_state *st, struct mg_store *store, struct mg_errinfo *ei)
{
    memset(st, 0, sizeof(*st));
    st->store = store;
    pthread_mutex_init(&st->publish_lock, NULL);
    pthread_mutex_init(&st->write_lock, NULL);
    pthread_mutex_init(&st->build_lock, NULL);
    return mg_state_rebuild(st, ei);
}

void mg_state_cleanup(struct mg_state *st)
{
    mg_snapshot_unref(atomic_load(&st->current));
    atomic_store(&st->current, NULL);
    pthread_mutex_destroy(&st->publish_lock);
    pthread_mutex_destroy(&st->write_lock);
    pthread_mutex_destroy(&st->build_lock);
}

/* With build_lock held. */
static enum mg_err s_rebuild(struct mg_state *st, struct mg_errinfo *ei)
{
    /* what was pending is in the scan (rows committed after this take stay pending) */
    struct mg_store_changes drop;
    mg_store_changes_take(st->store, &drop);
    mg_store_changes_cleanup(&drop);
    struct mg_snapshot *s = NULL;
    uint64_t gen = atomic_load(&st->generation) + 1;
    MG_TRY(s_build(st, gen, &s, ei));
    st->full_builds++;
    s_publish(st, s, gen);
    return MG_E_OK;
}

enum mg_err mg_state_rebuild(struct mg_state *st, struct mg_errinfo *ei)
{
    pthread_mutex_lock(&st->build_lock);
    enum mg_err e = s_rebuild(st, ei);
    pthread_mutex_unlock(&st->build_lock);
    return e;
}

enum mg_err mg_state_rederive(struct mg_state *st, struct mg_errinfo *ei)
{
    pthread_mutex_lock(&st->build_lock);
    struct mg_snapshot *prev = atomic_load(&st->current);
    enum mg_err e = MG_E_OK;
    if (prev == NULL) {
        e = s_rebuild(st, ei);
        pthread_mutex_unlock(&st->build_lock);
        return e;
    }
    uint64_t gen = atomic_load(&st->generation) + 1;
    struct mg_snapshot *s = s_snapshot_new(gen);
    struct mg_snapshot_bucket **b = s ? mg_calloc(prev->n_buckets ? prev->n_buckets : 1,
                                                  sizeof(struct mg_snapshot_bucket *))
                                      : NULL;
    if (b == NULL) {
        if (s)
            s_snapshot_free(s);
        pthread_mutex_unlock(&st->build_lock);
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    s->buckets = b;
    for (size_t i = 0; i < prev->n_buckets; i++) {
        atomic_fetch_add(&prev->buckets[i]->refs, 1);
        s->buckets[s->n_buckets++] = prev->buckets[i];
    }
    s->n_docs = prev->n_docs;
    for (int i = 0; i < s_n_exts && !e; i++)
        e = s_ext_build(s, i, ei);
    if (e) {
        s_snapshot_free(s);
    } else {
        st->full_builds++;
        s_publish(st, s, gen);
    }
    pthread_mutex_unlock(&st->build_lock);
    return e;
}

/* With build_lock held. */
static enum mg_err s_apply_locked(struct mg_state *st, const struct mg_snapshot_change *changes,
                                  size_t n, struct mg_errinfo *ei)
{
    struct mg_snapshot *prev = atomic_load(&st->current);
    if (prev == NULL)
        return s_rebuild(st, ei);
    struct mg_snapshot *s = NULL;
    uint64_t gen = atomic_load(&st->generation) + 1;
    MG_TRY(s_apply(st, prev, gen, changes, n, &s, ei));
    st->applies++;
    s_publish(st, s, gen);
    return MG_E_OK;
}

enum mg_err mg_state_apply(struct mg_state *st, const struct mg_snapshot_change *changes, size_t n,
                           struct mg_errinfo *ei)
{
    pthread_mutex_lock(&st->build_lock);
    enum mg_err e = s_apply_locked(st, changes, n, ei);
    pthread_mutex_unlock(&st->build_lock);
    return e;
}

enum mg_err mg_state_extend(struct mg_state *st, struct mg_errinfo *ei)
{
    /* no change: every bucket and every extension built before is shared */
    return mg_state_apply(st, NULL, 0, ei);
}

enum mg_err mg_state_refresh(struct mg_state *st, struct mg_errinfo *ei)
{
    pthread_mutex_lock(&st->build_lock);
    struct mg_store_changes ch;
    mg_store_changes_take(st->store, &ch);
    enum mg_err e;
    if (ch.overflow) {
        e = s_rebuild(st, ei);
    } else {
        /* struct mg_store_change and struct mg_snapshot_change have the same members */
        struct mg_snapshot_change *v = mg_calloc(ch.n ? ch.n : 1, sizeof(*v));
        if (v == NULL) {
            e = s_rebuild(st, ei);
        } else {
            for (size_t i = 0; i < ch.n; i++)
                v[i] = (struct mg_snapshot_change){ch.v[i].kind, ch.v[i].account, ch.v[i].key};
            e = s_apply_locked(st, v, ch.n, ei);
            if (e == MG_E_NOMEM || e == MG_E_STORE || e == MG_E_UNAVAILABLE) {
                /* the rows may be read again in full: the snapshot must not miss them */
                struct mg_errinfo fe = {0};
                e = s_rebuild(st, &fe);
                if (e && ei && ei->code == MG_E_OK)
                    *ei = fe;
            }
            mg_free(v);
        }
    }
    mg_store_changes_cleanup(&ch);
    pthread_mutex_unlock(&st->build_lock);
    return e;
}

/* With write_lock and a store transaction held: the other nodes' commits up to the barrier's
 * generation applied to the snapshot. */
static enum mg_err s_catch_up(struct mg_state *st)
{
    uint64_t gen = 0;
    MG_TRY(mg_store_write_barrier(st->store, &gen));
    uint64_t seen = st->store_seen;
    while (seen < gen) {
        struct mg_store_changes ch;
        uint64_t upto = seen;
        MG_TRY(mg_store_changes_since(st->store, seen, &ch, &upto));
        struct mg_errinfo ei = {0};
        enum mg_err e = MG_E_OK;
        if (ch.overflow) {
            e = mg_state_rebuild(st, &ei); /* reads the store as it is: nobody else commits now */
            upto = gen;
        } else if (ch.n > 0) {
            struct mg_snapshot_change *v = mg_calloc(ch.n, sizeof(*v));
            if (v == NULL) {
                e = MG_E_NOMEM;
            } else {
                for (size_t i = 0; i < ch.n; i++)
                    v[i] = (struct mg_snapshot_change){ch.v[i].kind, ch.v[i].account, ch.v[i].key};
                e = mg_state_apply(st, v, ch.n, &ei);
                mg_free(v);
            }
        }
        mg_store_changes_cleanup(&ch);
        if (e)
            return e;
        if (upto <= seen)
            break; /* no progress: the log says nothing more */
        seen = upto;
    }
    if (seen > st->store_seen)
        st->store_seen = seen;
    return MG_E_OK;
}

enum mg_err mg_state_write_begin(struct mg_state *st)
{
    pthread_mutex_lock(&st->write_lock);
    enum mg_err e = mg_store_begin(st->store);
    if (e) {
        pthread_mutex_unlock(&st->write_lock);
        return e;
    }
    if (mg_store_shared(st->store)) {
        e = s_catch_up(st);
        if (e) {
            mg_store_rollback(st->store);
            pthread_mutex_unlock(&st->write_lock);
        }
    }
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
    if (mg_store_shared(st->store)) {
        /* nobody committed between the barrier and this commit: the snapshot is the store */
        uint64_t gen = mg_store_generation(st->store);
        if (gen > st->store_seen)
            st->store_seen = gen;
    }
    e = mg_state_refresh(st, ei);
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
