/* src/base/map.h: a string-keyed hash map for read-mostly indexes (snapshots). Built once, then
 * read by many threads without locks. Keys are copied; values are borrowed pointers. */
#ifndef MG_MAP_H
#define MG_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

struct mg_map_entry {
    uint64_t hash;
    char *key;
    size_t key_len;
    void *value;
};

struct mg_map {
    struct mg_map_entry *slots;
    size_t cap, count;
};

void mg_map_init(struct mg_map *m);
/* Frees the keys and the table (not the values). */
void mg_map_cleanup(struct mg_map *m);
/* Replaces an existing value. */
MG_MUST_USE enum mg_err mg_map_put(struct mg_map *m, struct mg_slice key, void *value);
void *mg_map_get(const struct mg_map *m, struct mg_slice key);
uint64_t mg_hash(struct mg_slice s);

#endif
