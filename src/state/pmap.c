#include "state/pmap.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"

struct s_ent {
    uint64_t h;
    struct mg_slice key;
    void *value;
};

struct mg_pmap_shard {
    atomic_long refs;
    size_t n;
    struct s_ent e[]; /* sorted by (h, key) */
};

static uint64_t s_hash(struct mg_slice k)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k.len; i++) {
        h ^= k.ptr[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static int s_cmp(uint64_t h, struct mg_slice k, const struct s_ent *e)
{
    if (h != e->h)
        return h < e->h ? -1 : 1;
    return mg_slice_cmp(k, e->key);
}

static void s_unref(const struct mg_pmap_ops *ops, struct mg_pmap_shard *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (size_t i = 0; ops && i < s->n; i++)
        ops->unref(s->e[i].value);
    mg_free(s);
}

void mg_pmap_init(struct mg_pmap *m, const struct mg_pmap_ops *ops)
{
    memset(m, 0, sizeof(*m));
    m->ops = ops;
}

void mg_pmap_share(struct mg_pmap *dst, const struct mg_pmap *src)
{
    *dst = *src;
    for (size_t i = 0; i < MG_PMAP_SHARDS; i++)
        if (dst->shard[i])
            atomic_fetch_add(&dst->shard[i]->refs, 1);
}

void mg_pmap_cleanup(struct mg_pmap *m)
{
    for (size_t i = 0; i < MG_PMAP_SHARDS; i++)
        s_unref(m->ops, m->shard[i]);
    const struct mg_pmap_ops *ops = m->ops;
    memset(m, 0, sizeof(*m));
    m->ops = ops;
}

/* The first entry >= (h, k). */
static size_t s_lower(const struct mg_pmap_shard *s, uint64_t h, struct mg_slice k)
{
    size_t lo = 0, hi = s ? s->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_cmp(h, k, &s->e[mid]) > 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void *mg_pmap_get(const struct mg_pmap *m, struct mg_slice key)
{
    uint64_t h = s_hash(key);
    const struct mg_pmap_shard *s = m->shard[h % MG_PMAP_SHARDS];
    if (s == NULL)
        return NULL;
    size_t i = s_lower(s, h, key);
    return i < s->n && s_cmp(h, key, &s->e[i]) == 0 ? s->e[i].value : NULL;
}

enum mg_err mg_pmap_set(struct mg_pmap *m, struct mg_slice key, void *value)
{
    uint64_t h = s_hash(key);
    struct mg_pmap_shard **slot = &m->shard[h % MG_PMAP_SHARDS], *old = *slot;
    size_t n = old ? old->n : 0, i = s_lower(old, h, key);
    bool found = i < n && s_cmp(h, key, &old->e[i]) == 0;
    if (!found && value == NULL)
        return MG_E_OK;
    size_t nn = n + (found ? 0 : 1) - (value == NULL ? 1 : 0);
    if (found && value && atomic_load(&old->refs) == 1) { /* ours alone: in place */
        if (m->ops)
            m->ops->unref(old->e[i].value);
        old->e[i].key = key;
        old->e[i].value = value;
        return MG_E_OK;
    }
    struct mg_pmap_shard *s = NULL;
    if (nn > 0) {
        s = mg_malloc(sizeof(*s) + nn * sizeof(s->e[0]));
        if (s == NULL)
            return MG_E_NOMEM;
        atomic_init(&s->refs, 1);
        s->n = nn;
        if (i > 0)
            mg_memcpy(s->e, old->e, i * sizeof(s->e[0]));
        size_t w = i, r = found ? i + 1 : i;
        if (value)
            s->e[w++] = (struct s_ent){h, key, value};
        if (r < n)
            mg_memcpy(&s->e[w], &old->e[r], (n - r) * sizeof(s->e[0]));
        for (size_t k = 0; m->ops && k < nn; k++) /* the copies; value came with its own */
            if (s->e[k].value != value || k != i)
                m->ops->ref(s->e[k].value);
    }
    m->n = m->n + nn - n;
    *slot = s;
    s_unref(m->ops, old);
    return MG_E_OK;
}

void mg_pmap_each(const struct mg_pmap *m, bool (*fn)(void *user, struct mg_slice key, void *value),
                  void *user)
{
    for (size_t i = 0; i < MG_PMAP_SHARDS; i++)
        for (size_t k = 0; m->shard[i] && k < m->shard[i]->n; k++)
            if (!fn(user, m->shard[i]->e[k].key, m->shard[i]->e[k].value))
                return;
}
