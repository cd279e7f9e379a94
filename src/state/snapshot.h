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

struct mg_snapshot_entry; /* one stored document, shared by every snapshot that holds it */

struct mg_snapshot_doc {
    const char *kind, *account, *key;
    json_t *doc;
    int64_t updated_ms;
    struct mg_snapshot_entry *entry; /* owns the strings and the document */
};

/* The documents of one (kind, account), sorted by key: immutable once published, shared by
 * reference between snapshots, so a write copies only the buckets it touches (docs/state.md). */
struct mg_snapshot_bucket {
    atomic_long refs;
    struct mg_snapshot_doc *docs;
    size_t n; /* never 0 in a snapshot */
};

#define MG_SNAPSHOT_EXT_MAX 8

struct mg_snapshot_ext_box; /* a refcounted derived structure, shared while its inputs hold */

struct mg_snapshot {
    atomic_long refs;
    uint64_t generation;
    struct mg_snapshot_bucket **buckets; /* sorted by (kind, account) */
    size_t n_buckets;
    size_t n_docs;
    void *ext[MG_SNAPSHOT_EXT_MAX]; /* derived structures built by registered extensions */
    struct mg_snapshot_ext_box *ext_box[MG_SNAPSHOT_EXT_MAX];
};

/* One row a write transaction (or another node) changed: the snapshot reads it again. */
struct mg_snapshot_change {
    const char *kind, *account, *key;
};

/* Modules derive their own read structures (compiled policies, key tables, tool catalogs) when a
 * snapshot is built. Extensions run in registration order and read only the snapshot's documents.
 * kinds: NULL-terminated list of the document kinds build reads; when a change touches none of
 * them the previous snapshot's structure is shared as it is (kinds NULL: every change counts).
 * apply (optional): derive *out from prev (built by this extension for the previous snapshot)
 * and the changes, sharing what did not change; leave *out NULL and return MG_E_OK to decline,
 * and build runs instead. */
struct mg_snapshot_ext {
    const char *name;
    enum mg_err (*build)(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei);
    void (*destroy)(void *ext);
    const char *const *kinds;
    enum mg_err (*apply)(const void *prev, struct mg_snapshot *snap,
                         const struct mg_snapshot_change *changes, size_t n, void **out,
                         struct mg_errinfo *ei);
};
/* Returns the slot index (call at start-up, before the first snapshot). */
int mg_snapshot_register_ext(const struct mg_snapshot_ext *ext);
/* Documents of `kind` pass through fn once parsed, before they enter a snapshot (the full build
 * and every apply): it may make their in-memory form smaller (a private member kept as its JSON
 * text rather than a tree, say), and every reader of that kind must accept what it leaves. At
 * most one per kind and MG_SNAPSHOT_EXT_MAX in all (call at start-up, before the first
 * snapshot; kind must outlive the process). */
void mg_snapshot_register_compact(const char *kind, void (*fn)(json_t *doc));
/* Rows of `kind` stay in the store only: no snapshot holds them (the full build skips them and
 * an apply ignores their changes, which extensions do not see either), so mg_snapshot_get never
 * finds one. For index rows only a writer looks up, under the write lock, with mg_store_get. At
 * most MG_SNAPSHOT_EXT_MAX kinds (call at start-up, before the first snapshot; kind must outlive
 * the process). */
void mg_snapshot_register_store_only(const char *kind);
bool mg_snapshot_store_only(const char *kind);

const struct mg_snapshot_doc *mg_snapshot_get(const struct mg_snapshot *s, const char *kind,
                                              const char *account, const char *key);
/* The contiguous run of docs of one (kind, account), sorted by key. account must not be NULL
 * (every account: mg_snapshot_next_run). */
const struct mg_snapshot_doc *mg_snapshot_range(const struct mg_snapshot *s, const char *kind,
                                                const char *account, size_t *n);
/* The docs of one kind over every account, one run per account in account order: start with
 * *pos = 0 and call until it returns NULL. */
const struct mg_snapshot_doc *mg_snapshot_next_run(const struct mg_snapshot *s, const char *kind,
                                                   size_t *pos, size_t *n);

/* Every doc of one kind over every account, in (account, key) order, as an array of pointers the
 * caller frees with mg_free (NULL and *n 0 when there is none; MG_E_NOMEM). */
MG_MUST_USE enum mg_err mg_snapshot_collect(const struct mg_snapshot *s, const char *kind,
                                            const struct mg_snapshot_doc ***out, size_t *n);

struct mg_snapshot *mg_snapshot_ref(struct mg_snapshot *s);
void mg_snapshot_unref(struct mg_snapshot *s);

/* The state: store plus the current snapshot. */
struct mg_state {
    struct mg_store *store;
    _Atomic(struct mg_snapshot *) current;
    atomic_uint_fast64_t generation;
    pthread_mutex_t publish_lock;  /* held by writers and by readers switching snapshots */
    pthread_mutex_t write_lock;    /* one writer at a time, across store write + rebuild */
    pthread_mutex_t build_lock;    /* one snapshot built at a time (each starts from current) */
    uint64_t full_builds, applies; /* counters, for tests and diagnostics */
    /* The store generation the snapshot reflects at least (write_lock): on a store several nodes
     * share, a write first brings the snapshot up to the store (mg_state_write_begin); the
     * change feed moves it too. Never more than the truth: less only costs a read again. */
    uint64_t store_seen;
};

MG_MUST_USE enum mg_err mg_state_init(struct mg_state *st, struct mg_store *store,
                                      struct mg_errinfo *ei);
void mg_state_cleanup(struct mg_state *st);

/* Rebuilds from the store and publishes. */
MG_MUST_USE enum mg_err mg_state_rebuild(struct mg_state *st, struct mg_errinfo *ei);
/* Publishes the current snapshot's documents (shared, not read again) with every derived
 * structure built again: for a setting they all depend on (the public URL). Rows committed
 * and not yet applied stay pending for the next refresh. */
MG_MUST_USE enum mg_err mg_state_rederive(struct mg_state *st, struct mg_errinfo *ei);
/* Publishes the current snapshot with the derived structures of the extensions registered
 * since it was built (the others and the documents shared): what a module that registers an
 * extension at start calls. */
MG_MUST_USE enum mg_err mg_state_extend(struct mg_state *st, struct mg_errinfo *ei);
/* Publishes the current snapshot with these rows read again from the store (a row that is gone
 * is removed): the incremental path of a commit, and of a change feed from other nodes. The
 * rows may repeat and come in any order. */
MG_MUST_USE enum mg_err mg_state_apply(struct mg_state *st,
                                       const struct mg_snapshot_change *changes, size_t n,
                                       struct mg_errinfo *ei);
/* Publishes whatever the store committed since the last snapshot: the change list it collected
 * (mg_store_changes_take), or a full rebuild when the list overflowed. */
MG_MUST_USE enum mg_err mg_state_refresh(struct mg_state *st, struct mg_errinfo *ei);

/* Writers: begin takes the write lock and a store transaction; commit makes it durable, applies
 * the rows it wrote to the snapshot and publishes before returning (so the client's next request
 * sees it); abort rolls back. On a store several nodes share, begin also takes the store's write
 * barrier (one write transaction at a time over every node) and applies what other nodes
 * committed and this snapshot lacks, so that the handler's checks (names, client tokens, quotas,
 * read-modify-write of policies) see exactly the store, as on one node. */
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
