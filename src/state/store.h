/* src/state/store.h: the durable store, the source of truth. Handlers never talk SQL: they put and
 * get JSON documents by (kind, account, key). SQLite (WAL) by default; PostgreSQL (store_pg.c)
 * behind the same vtable. Thread-safe: one writer at a time, readers may run in parallel. */
#ifndef MG_STORE_H
#define MG_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

struct mg_store;

/* One stored document. Strings are NUL-terminated and borrowed for the callback's duration. */
struct mg_store_row {
    const char *kind;    /* "account", "user", "role", "access_key", "policy", "gateway", ... */
    const char *account; /* 12-digit account id, or "" for global rows */
    const char *key;     /* unique within (kind, account) */
    const char *doc;     /* JSON text */
    size_t doc_len;
    int64_t updated_ms; /* wall-clock ms of the last write */
};

/* Returns false to stop the iteration early. */
typedef bool (*mg_store_row_fn)(void *user, const struct mg_store_row *row);

/* Opens (creating if needed) the store. `location` is a postgresql:// or postgres:// URI for
 * PostgreSQL (libpq's URI form: user, password, host, port, database, parameters), anything else
 * a directory for SQLite: the database is DIR/mcpgate.db, the directory is created 0700 and the
 * files 0600. Runs the numbered migrations (on PostgreSQL under an advisory lock, so that nodes
 * starting together apply them once). A database carrying a migration this build does not know
 * (written by a newer mcpgate), a file that is not an SQLite database, an SQLite file of another
 * program, or a PostgreSQL server that cannot be reached is refused (MG_E_STORE). ei gets a
 * message safe to print to the operator (a URI's password is never in it). */
MG_MUST_USE enum mg_err mg_store_open(const char *location, struct mg_store **out,
                                      struct mg_errinfo *ei);
void mg_store_close(struct mg_store *s);

/* Transactions group several writes atomically. Writes outside a transaction commit at once.
 * A commit returns only after the data is durable (survives kill -9 right after).
 * Transactions are per store handle and are held by the calling thread (the store serializes
 * writers with a mutex that begin takes and commit/rollback releases). Inside a transaction the
 * owning thread's reads see its uncommitted writes; other threads and processes do not.
 * begin on a thread that already holds one is MG_E_INVALID (no nesting). commit always ends the
 * transaction: on failure everything is rolled back. After a write in it failed with anything
 * but MG_E_CONFLICT / MG_E_NOT_FOUND, further writes fail and commit rolls back. Closing the
 * store with a transaction open rolls it back. Callbacks of list/scan may call the store. */
MG_MUST_USE enum mg_err mg_store_begin(struct mg_store *s);
MG_MUST_USE enum mg_err mg_store_commit(struct mg_store *s);
void mg_store_rollback(struct mg_store *s);

/* Insert or replace. */
MG_MUST_USE enum mg_err mg_store_put(struct mg_store *s, const char *kind, const char *account,
                                     const char *key, struct mg_slice doc);
/* Insert only: MG_E_CONFLICT when (kind, account, key) exists. */
MG_MUST_USE enum mg_err mg_store_insert(struct mg_store *s, const char *kind, const char *account,
                                        const char *key, struct mg_slice doc);
/* MG_E_NOT_FOUND when absent. doc_out is cleared first. */
MG_MUST_USE enum mg_err mg_store_get(struct mg_store *s, const char *kind, const char *account,
                                     const char *key, struct mg_buf *doc_out);
/* MG_E_NOT_FOUND when absent. */
MG_MUST_USE enum mg_err mg_store_delete(struct mg_store *s, const char *kind, const char *account,
                                        const char *key);
/* Rows of one kind (account NULL: every account), ordered by account then key. */
MG_MUST_USE enum mg_err mg_store_list(struct mg_store *s, const char *kind, const char *account,
                                      mg_store_row_fn fn, void *user);
/* Every row, for building snapshots. */
MG_MUST_USE enum mg_err mg_store_scan(struct mg_store *s, mg_store_row_fn fn, void *user);

/* A counter that grows with every committed write transaction (by any process or node sharing
 * the store). mg_store_generation is cheap (an atomic in memory, no I/O): it reflects this
 * handle's own commits and the last refresh. mg_store_generation_refresh reads the value from the
 * database, so writes by other processes become visible, updates the in-memory copy and returns
 * it in *out. */
uint64_t mg_store_generation(struct mg_store *s);
MG_MUST_USE enum mg_err mg_store_generation_refresh(struct mg_store *s, uint64_t *out);

/* Waits until the stored generation is past `seen` (a commit by this or any other process or
 * node sharing the store) or timeout_ms pass, then returns the stored generation in *gen_out
 * (still `seen` or lower after a timeout) and updates the in-memory copy. PostgreSQL: woken by the
 * notification every commit sends (channel mcpgate_generation, on a connection of its own), the
 * generation read at the start and after each wake-up, so a lost notification costs at most the
 * timeout. SQLite: the generation read every 50 ms. For one watching thread (concurrent calls are
 * serialized); MG_E_INVALID on a thread that holds a transaction. */
MG_MUST_USE enum mg_err mg_store_wait_change(struct mg_store *s, uint64_t seen, int timeout_ms,
                                             uint64_t *gen_out);

/* Like mg_store_scan, but the rows and *generation_out come from one consistent read, so a
 * snapshot built from them can be labelled with that generation. */
MG_MUST_USE enum mg_err mg_store_scan_gen(struct mg_store *s, mg_store_row_fn fn, void *user,
                                          uint64_t *generation_out);

/* The rows committed writes changed, in commit order, collected by put/insert/delete (a write in
 * a transaction counts when its transaction commits). mg_state drains them after each commit to
 * update the snapshot incrementally; a list past MG_STORE_CHANGES_MAX, or one that could not be
 * recorded (out of memory), is dropped and marked overflow: the reader rebuilds in full. */
struct mg_store_change {
    const char *kind, *account, *key; /* one allocation, owned through kind */
};
struct mg_store_changes {
    struct mg_store_change *v;
    size_t n, cap;
    bool overflow;
};
#define MG_STORE_CHANGES_MAX 100000u
/* Moves the pending list into *out (which the caller cleans up) and starts a new one. */
void mg_store_changes_take(struct mg_store *s, struct mg_store_changes *out);
void mg_store_changes_cleanup(struct mg_store_changes *c);

/* The change log (docs/state.md, "The change feed"): every committing write transaction records
 * the rows it changed, with the generation its commit gave the store, in the same transaction
 * (a transaction of more than MG_STORE_FEED_TX_ROWS rows records one mark instead: "everything
 * may have changed"). Every MG_STORE_FEED_PRUNE_EVERY generations the commit drops the rows of
 * generations older than the last MG_STORE_FEED_KEEP and raises the log's floor to match.
 * mg_store_changes_since lists the rows of the generations in (after, *upto_out] from one
 * consistent read, in generation order (a row may repeat): *upto_out is the stored generation,
 * or less when more than MG_STORE_FEED_READ_ROWS rows follow `after` (the list then ends at a
 * whole generation; call again from *upto_out). out->overflow (and no rows) when the log no
 * longer holds them all (pruned past `after`, a mark in the range, the stored generation below
 * `after`, out of memory): the reader rebuilds from a full scan. out is cleared first. */
#define MG_STORE_FEED_TX_ROWS 256u
#define MG_STORE_FEED_KEEP 4096u
#define MG_STORE_FEED_PRUNE_EVERY 64u
#define MG_STORE_FEED_READ_ROWS 4096u
MG_MUST_USE enum mg_err mg_store_changes_since(struct mg_store *s, uint64_t after,
                                               struct mg_store_changes *out, uint64_t *upto_out);

/* location with the password of a PostgreSQL URI (user:PASSWORD@ and password=...) replaced by
 * "***", for log lines and messages; a directory is copied as it is. Truncated to fit cap. */
void mg_store_location_redact(const char *location, char *out, size_t cap);
/* Creates dir and any missing parents 0700; an existing directory is left as it is. The data
 * directory when the store is elsewhere (it still holds Lambda code, runtimes, issuer keys). The
 * message goes to mg_store_last_error. */
MG_MUST_USE enum mg_err mg_store_make_dir(const char *dir);
/* True when location names a PostgreSQL server (postgresql:// or postgres://), not a directory. */
bool mg_store_location_is_pg(const char *location);

/* The calling thread's last store failure (the functions above, but mg_store_open, which fills
 * its own ei), as an operator-facing message; code MG_E_OK and "" when there was none. */
void mg_store_last_error(struct mg_errinfo *ei);

/* Forgets the calling thread's last store failure (at the start of a request, so that
 * mg_store_unavailable(MG_E_STORE) speaks of that request only). */
void mg_store_last_error_clear(void);

/* Limits, checked before any I/O: kind and key are non-empty, kind, account and key at most
 * MG_STORE_NAME_MAX bytes (MG_E_INVALID past it), documents and meta values at most
 * MG_STORE_DOC_MAX bytes (MG_E_TOO_LARGE). */
#define MG_STORE_NAME_MAX 1024u
#define MG_STORE_DOC_MAX (8u * 1024u * 1024u)

/* ---- Leases: background work on one node at a time ----
 * Several nodes sharing a PostgreSQL store elect one of them to run the background passes (the
 * gateway lifecycle worker, MCP-target synchronization). A lease row (name, holder, token,
 * expiry) lives in the store; its expiry is set with the database's clock, so the nodes' clocks
 * do not matter. The holder renews it well before it expires (MG_STORE_LEASE_RENEW_MS); another
 * node takes it once it has expired (the holder died, or lost the database for longer than the
 * lease), and the token grows with every change of holder. The holder acts only while its own
 * lease is fresh (it counts the lease from before the request that renewed it), and each of its
 * write transactions checks the token first (mg_store_lease_fence), so a deposed holder's write
 * fails instead of overwriting its successor's. On SQLite one process owns the store: it always
 * holds every lease (token 1) and the fence always passes. */
#define MG_STORE_LEASE_MS 10000      /* how long a lease lasts without a renewal */
#define MG_STORE_LEASE_RENEW_MS 2000 /* how often the holder renews it (and others try) */

struct mg_store_lease {
    bool held;      /* this holder has the lease */
    uint64_t token; /* its fencing token while held (grows with every new holder) */
};

/* Takes the lease `name` for `holder` (a string unique to the process), or renews it when holder
 * already has it; out->held false when another holder's lease has not expired. A lease of
 * holder that expired before the renewal comes back with a new token. Names and holders: at most
 * MG_STORE_NAME_MAX bytes of UTF-8. Never waits on the caller's transaction (its own
 * connection), but may wait for another transaction that fenced on the lease to end: never call
 * it from a thread that holds a fenced transaction (it would wait for itself). */
MG_MUST_USE enum mg_err mg_store_lease_take(struct mg_store *s, const char *name,
                                            const char *holder, int lease_ms,
                                            struct mg_store_lease *out);
/* Gives the lease up when holder has it (a clean stop: the next node takes over at once). */
MG_MUST_USE enum mg_err mg_store_lease_drop(struct mg_store *s, const char *name,
                                            const char *holder);
/* In the calling thread's write transaction (MG_E_INVALID outside one): MG_E_CONFLICT unless the
 * lease `name` carries `token` and has not expired by the database's clock. When it passes, the
 * lease cannot change hands before the transaction ends (the row is locked for share; the
 * transaction is ended by the server if it stays idle longer than lease_ms, so a holder cut off
 * mid-transaction delays a takeover by at most lease_ms). Other failures poison the transaction
 * like a failed write. */
MG_MUST_USE enum mg_err mg_store_lease_fence(struct mg_store *s, const char *name, uint64_t token,
                                             int lease_ms);

/* In a write transaction, on a store several nodes share: waits until no other node's write
 * transaction is open (each takes this barrier, held until it ends), then returns in *gen_out the
 * stored generation, which counts every write committed before. A node that brings its snapshot
 * up to that generation before it checks names, tokens or quotas sees exactly what the store
 * holds, as a single node does (mg_state_write_begin does). On a store of one process (SQLite):
 * the in-memory generation, no I/O. A failure poisons the transaction like a failed write. */
MG_MUST_USE enum mg_err mg_store_write_barrier(struct mg_store *s, uint64_t *gen_out);

/* True when other processes may share the store (PostgreSQL): leases are real. False on SQLite,
 * whose one process always holds every lease. */
bool mg_store_shared(const struct mg_store *s);

/* True when a store failure means the database could not be reached (MG_E_UNAVAILABLE: the
 * connection was lost or refused, the server is shutting down or out of connections): e is the
 * code a store call returned, or MG_E_STORE passed on by a caller that dropped it, in which case
 * the calling thread's last store error decides. Answered as a retryable 503. A write that failed
 * so may or may not have committed (the connection can drop after the server committed). */
bool mg_store_unavailable(enum mg_err e);
/* Chunks: large values kept beside the documents, in parts of at most MG_STORE_DOC_MAX bytes each
 * (part 0, 1, ...), by (kind, account, key, part). They are never in a snapshot, a scan, a list or
 * the change list: a document written in the same transaction says what they hold (the Lambda
 * code packages, lambda/codeblob.c). put and delete run only inside the caller's transaction
 * (MG_E_INVALID otherwise), so that a chunk and the document that refers to it commit together;
 * they move the generation as any write does. delete removes every part of the key (MG_E_NOT_FOUND
 * when there was none). get reads one part (MG_E_NOT_FOUND when absent). */
MG_MUST_USE enum mg_err mg_store_chunk_put(struct mg_store *s, const char *kind,
                                           const char *account, const char *key, uint32_t part,
                                           struct mg_slice data);
MG_MUST_USE enum mg_err mg_store_chunk_delete(struct mg_store *s, const char *kind,
                                              const char *account, const char *key);
MG_MUST_USE enum mg_err mg_store_chunk_get(struct mg_store *s, const char *kind,
                                           const char *account, const char *key, uint32_t part,
                                           struct mg_buf *out);

/* Small server-wide values (key material, node settings). The meta key "generation" is the
 * store's own counter: mg_store_meta_put refuses it (MG_E_INVALID). */
MG_MUST_USE enum mg_err mg_store_meta_get(struct mg_store *s, const char *key, struct mg_buf *out);
MG_MUST_USE enum mg_err mg_store_meta_put(struct mg_store *s, const char *key,
                                          struct mg_slice value);
/* Insert only: MG_E_CONFLICT when key holds a value already (written by this or any other node
 * sharing the store). Of several handles inserting the same key at once, exactly one wins; the
 * others get MG_E_CONFLICT and read the winner's value back with mg_store_meta_get. */
MG_MUST_USE enum mg_err mg_store_meta_insert(struct mg_store *s, const char *key,
                                             struct mg_slice value);
/* Compare and swap: replaces the value of key with value only while it is exactly expected;
 * MG_E_CONFLICT when it is something else, MG_E_NOT_FOUND when key holds nothing. */
MG_MUST_USE enum mg_err mg_store_meta_swap(struct mg_store *s, const char *key,
                                           struct mg_slice expected, struct mg_slice value);
/* A server-wide secret of len random bytes (1 to 64) under key, made once for every node sharing
 * the store: read; when absent, a new random value is inserted and the stored one (this node's or
 * the one another node inserted first) read back into out. A stored value of another length is
 * MG_E_STORE (a damaged or foreign store: never silently replaced, since other nodes use it). */
MG_MUST_USE enum mg_err mg_store_meta_secret(struct mg_store *s, const char *key, uint8_t *out,
                                             size_t len);

#endif
