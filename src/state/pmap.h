/* src/state/pmap.h: a persistent hash map for snapshot extensions. A copy shares every shard with
 * its source (a pointer copy and a reference each), and a change copies only the one shard it
 * touches, so a snapshot derived from the previous one updates an index of N entries in time
 * independent of N (for N up to a few hundred thousand). Values are borrowed pointers; keys are
 * borrowed bytes that must stay valid while any map holds the entry (point them into the value).
 * Readers of a published map never lock. */
#ifndef MG_PMAP_H
#define MG_PMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

#define MG_PMAP_SHARDS 256

struct mg_pmap_shard;

/* How a map holds its values: ref when an entry is copied into a new shard, unref when a shard
 * holding it dies. NULL: the values are borrowed. */
struct mg_pmap_ops {
    void (*ref)(void *value);
    void (*unref)(void *value);
};

struct mg_pmap {
    const struct mg_pmap_ops *ops;
    struct mg_pmap_shard *shard[MG_PMAP_SHARDS]; /* NULL: empty */
    size_t n;
};

/* An empty map. mg_pmap_set takes over the caller's reference to value. */
void mg_pmap_init(struct mg_pmap *m, const struct mg_pmap_ops *ops);
/* dst (uninitialized) shares src's shards. */
void mg_pmap_share(struct mg_pmap *dst, const struct mg_pmap *src);
/* Sets key to value (value NULL removes key). MG_E_NOMEM leaves m unchanged. */
MG_MUST_USE enum mg_err mg_pmap_set(struct mg_pmap *m, struct mg_slice key, void *value);
void *mg_pmap_get(const struct mg_pmap *m, struct mg_slice key);
void mg_pmap_cleanup(struct mg_pmap *m);
/* Calls fn for every entry, in no particular order, until it returns false. */
void mg_pmap_each(const struct mg_pmap *m, bool (*fn)(void *user, struct mg_slice key, void *value),
                  void *user);

#endif
