/* src/state/leader.h: which node runs the background passes. A thread takes and renews the
 * store's lease "background" (store.h, mg_store_lease_*) every MG_STORE_LEASE_RENEW_MS; the
 * workers ask mg_leader_active before each pass and each write, and fence their write
 * transactions with mg_leader_fence. Requests are never gated: every node keeps serving and
 * writing. On SQLite the process always leads (no thread, no lease row). */
#ifndef MG_LEADER_H
#define MG_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "state/store.h"

struct mg_leader;

/* Called on the leader's thread when this node becomes the leader (the first time and after every
 * takeover): the workers run a pass at once, to finish what a dead leader left. */
typedef void (*mg_leader_fn)(void *arg);

/* Starts the thread; the first attempt to take the lease runs before this returns, so a lone node
 * leads at once. lease_ms / renew_ms 0: MG_STORE_LEASE_MS / MG_STORE_LEASE_RENEW_MS (the
 * environment variables MCPGATE_LEASE_MS and MCPGATE_LEASE_RENEW_MS override them, for tests). */
MG_MUST_USE enum mg_err mg_leader_start(struct mg_store *store, int lease_ms, int renew_ms,
                                        struct mg_leader **out, struct mg_errinfo *ei);
/* Stops the thread and gives the lease up, so another node takes over at once. NULL is ignored. */
void mg_leader_stop(struct mg_leader *l);
/* Adds a callback for becoming the leader (at most 4; called at once when already leading). */
void mg_leader_on_lead(struct mg_leader *l, mg_leader_fn fn, void *arg);

/* True while this node holds the lease and its last renewal is fresh: the lease counted from
 * before the renewal was sent, minus a margin, so the node stops acting before the database lets
 * another take over. *token (may be NULL) gets the lease's token. NULL l: always true (token 0,
 * no fencing). */
bool mg_leader_active(struct mg_leader *l, uint64_t *token);
/* In the calling thread's write transaction: MG_E_CONFLICT when the lease has moved on since
 * token was read (another node leads now), so the transaction must be rolled back. NULL l:
 * MG_E_OK. */
MG_MUST_USE enum mg_err mg_leader_fence(struct mg_leader *l, uint64_t token);

/* The lease's length in ms (for messages). */
int mg_leader_lease_ms(const struct mg_leader *l);

#endif
