/* src/state/snapshot.h: the immutable in-memory view that request handlers read. A write commits
 * to the store, then a new snapshot is built and published with one atomic pointer swap; old
 * snapshots die with their last reader. Readers on event loops never lock (see mg_state_reader). */
#ifndef MG_SNAPSHOT_H
#define MG_SNAPSHOT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/map.h"
#include "base/slice.h"
#include "state/store.h"

struct mg_snapshot_doc {
    const char *kind, *account, *key;
    json_t *doc;
    int64_t updated_ms;
};

#define MG_SNAPSHOT_EXT_MAX 8

struct mg_snapshot {
    atomic_long refs;
    uint64_t generation;
    struct mg_snapshot_doc *docs; /* sorted by (kind, account, key) */
    size_t n_docs;
    struct mg_map index;            /* "kind\x1f" "account\x1f" "key" -> struct mg_snapshot_doc */
    void *ext[MG_SNAPSHOT_EXT_MAX]; /* derived structures built by registered extensions */
};

/* Modules derive their own read structures (compiled policies, key tables, tool catalogs) when a
 * snapshot is built. Extensions run in registration order; build may read earlier ext slots. */
struct mg_snapshot_ext {
    const char *name;
    enum mg_err (*build)(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei);
    void (*destroy)(void *ext);
};
/* Returns the slot index (call at start-up, before the first snapshot). */
int mg_snapshot_register_ext(const struct mg_snapshot_ext *ext);

const struct mg_snapshot_doc *mg_snapshot_get(const struct mg_snapshot *s, const char *kind,
                                              const char *account, const char *key);
/* The contiguous run of docs of one kind (account NULL: all accounts). */
const struct mg_snapshot_doc *mg_snapshot_range(const struct mg_snapshot *s, const char *kind,
                                                const char *account, size_t *n);

struct mg_snapshot *mg_snapshot_ref(struct mg_snapshot *s);
void mg_snapshot_unref(struct mg_snapshot *s);

/* The state: store plus the current snapshot. */
struct mg_state {
    struct mg_store *store;
    _Atomic(struct mg_snapshot *) current;
    atomic_uint_fast64_t generation;
    pthread_mutex_t publish_lock; /* held by writers and by readers switching snapshots */
    pthread_mutex_t write_lock;   /* one writer at a time, across store write + rebuild */
};

MG_MUST_USE enum mg_err mg_state_init(struct mg_state *st, struct mg_store *store,
                                      struct mg_errinfo *ei);
void mg_state_cleanup(struct mg_state *st);

/* Rebuilds from the store and publishes. */
MG_MUST_USE enum mg_err mg_state_rebuild(struct mg_state *st, struct mg_errinfo *ei);

/* Writers: begin takes the write lock and a store transaction; commit makes it durable, rebuilds
 * and publishes before returning (so the client's next request sees it); abort rolls back. */
MG_MUST_USE enum mg_err mg_state_write_begin(struct mg_state *st);
MG_MUST_USE enum mg_err mg_state_write_commit(struct mg_state *st, struct mg_errinfo *ei);
void mg_state_write_abort(struct mg_state *st);

/* A per-thread reader: holds one reference and swaps it only when the generation moved, so the
 * common path is one atomic load. */
struct mg_state_reader {
    struct mg_snapshot *snap;
    uint64_t generation;
};
struct mg_snapshot *mg_state_read(struct mg_state *st, struct mg_state_reader *r);
void mg_state_reader_release(struct mg_state_reader *r);
/* A reference for code that is not on a loop thread (caller unrefs). */
struct mg_snapshot *mg_state_acquire(struct mg_state *st);

#endif
