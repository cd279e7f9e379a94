/* src/state/feed.h: the follower of the store's change log (docs/state.md, "The change feed").
 * Nodes sharing one store (PostgreSQL) each keep a snapshot; a node's own writes reach its
 * snapshot as they commit (mg_state_write_commit), the others' through this thread: it waits for
 * the generation to move (mg_store_wait_change: a notification, or a read every
 * MG_STATE_FEED_POLL_MS), reads the change log since the generation it applied last and applies
 * those rows under the state's write lock (mg_state_apply), or rebuilds in full when the log no
 * longer holds them (mg_state_rebuild). After each change it calls the hook (the app wakes its
 * background workers there). A store it cannot reach is retried with a growing pause (at most
 * MG_STATE_FEED_BACKOFF_MAX_MS), logged once per outage. */
#ifndef MG_STATE_FEED_H
#define MG_STATE_FEED_H

#include <stdint.h>

#include "base/err.h"
#include "state/snapshot.h"

#define MG_STATE_FEED_POLL_MS 200
#define MG_STATE_FEED_BACKOFF_MAX_MS 5000

struct mg_state_feed;

/* Called on the feed's thread after it published a change (never with the write lock held). */
typedef void (*mg_state_feed_hook)(void *user);

/* Starts following: every generation past `after` is applied (pass the store's generation read
 * before the state's first snapshot was built: rows applied twice are read again, harmlessly).
 * hook may be NULL. */
MG_MUST_USE enum mg_err mg_state_feed_start(struct mg_state *st, uint64_t after,
                                            mg_state_feed_hook hook, void *user,
                                            struct mg_state_feed **out, struct mg_errinfo *ei);
/* Stops the thread and waits for it (within about MG_STATE_FEED_POLL_MS); NULL is fine. */
void mg_state_feed_stop(struct mg_state_feed *f);

struct mg_state_feed_stats {
    uint64_t applied;  /* the store generation the snapshot has caught up with */
    uint64_t applies;  /* change lists applied */
    uint64_t rebuilds; /* full rebuilds (the log no longer held the rows) */
    uint64_t failures; /* reads or applies that failed (retried) */
};
void mg_state_feed_stats(struct mg_state_feed *f, struct mg_state_feed_stats *out);

#endif
