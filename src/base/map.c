#include "base/map.h"

#include "base/alloc.h"

uint64_t mg_hash(struct mg_slice s)
{
    /* FNV-1a, then a final mix so that low bits are usable for the table index. */
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) {
        h ^= s.ptr[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

void mg_map_init(struct mg_map *m)
{
    m->slots = NULL;
    m->cap = m->count = 0;
}

void mg_map_cleanup(struct mg_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        mg_free(m->slots[i].key);
    mg_free(m->slots);
    mg_map_init(m);
}

static struct mg_map_entry *s_find(struct mg_map_entry *slots, size_t cap, uint64_t h,
                                   struct mg_slice key)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        struct mg_map_entry *e = &slots[i];
        if (e->key == NULL)
            return e;
        if (e->hash == h && e->key_len == key.len && mg_memcmp(e->key, key.ptr, key.len) == 0)
            return e;
        i = (i + 1) & (cap - 1);
    }
}

static enum mg_err s_grow(struct mg_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct mg_map_entry *slots = mg_calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return MG_E_NOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        struct mg_map_entry *e = &m->slots[i];
        if (e->key)
            *s_find(slots, cap, e->hash, mg_slice_make(e->key, e->key_len)) = *e;
    }
    mg_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return MG_E_OK;
}

enum mg_err mg_map_put(struct mg_map *m, struct mg_slice key, void *value)
{
    if ((m->count + 1) * 4 > m->cap * 3)
        MG_TRY(s_grow(m));
    uint64_t h = mg_hash(key);
    struct mg_map_entry *e = s_find(m->slots, m->cap, h, key);
    if (e->key) {
        e->value = value;
        return MG_E_OK;
    }
    char *k = mg_slice_dup(key);
    if (k == NULL)
        return MG_E_NOMEM;
    e->hash = h;
    e->key = k;
    e->key_len = key.len;
    e->value = value;
    m->count++;
    return MG_E_OK;
}

void *mg_map_get(const struct mg_map *m, struct mg_slice key)
{
    if (m->cap == 0)
        return NULL;
    struct mg_map_entry *e = s_find(m->slots, m->cap, mg_hash(key), key);
    return e->key ? e->value : NULL;
}
