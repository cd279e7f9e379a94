/* src/lambda/internal.h: private to src/lambda/. */
#ifndef MG_LAMBDA_INTERNAL_H
#define MG_LAMBDA_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "call/call.h"
#include "lambda/lambda.h"
#include "base/map.h"
#include "base/slice.h"
#include "lambda/lambda.h"
#include "lambda/sandbox.h"
#include "state/store.h"

/* Copies src into dst (cap bytes), truncating; dst is always terminated. */
static inline void mg_lambda_strlcpy(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    while (src[n] && n + 1 < cap)
        n++;
    mg_memcpy(dst, src, n);
    dst[n] = 0;
}

/* --- zip (zip.c) ------------------------------------------------------------------------- */

#define MG_LAMBDA_UNZIPPED_MAX (250ull * 1024ull * 1024ull) /* Lambda's unzipped size limit */
#define MG_LAMBDA_ZIP_ENTRIES_MAX 20000u

struct mg_lambda_zip_info {
    size_t n_entries;
    uint64_t total_uncompressed; /* as declared by the central directory */
};

/* Checks the archive's structure without inflating: the central directory parses, no entry
 * escapes the target directory (no "..", no absolute path, no backslash), methods are stored or
 * deflate, declared sizes stay under max_total. msg gets a reason for the log. */
MG_MUST_USE enum mg_err mg_lambda_zip_check(struct mg_slice zip, uint64_t max_total,
                                            struct mg_lambda_zip_info *info, char *msg, size_t cap);
/* Extracts into dir (created 0700; files 0600, or 0700 when the archive marks them
 * executable), refusing what mg_lambda_zip_check refuses and stopping when the inflated bytes go
 * past max_total (zip bombs) or past an entry's declared size, or a CRC does not match. */
MG_MUST_USE enum mg_err mg_lambda_zip_extract(struct mg_slice zip, const char *dir,
                                              uint64_t max_total, char *msg, size_t cap);

/* Inflates every entry as mg_lambda_zip_extract would, writing nothing: the archive's real
 * unzipped size (not only the declared one) stays under max_total, and every entry inflates to
 * exactly its declared size with its CRC. Stops as soon as a limit is passed (zip bombs). */
MG_MUST_USE enum mg_err mg_lambda_zip_verify(struct mg_slice zip, uint64_t max_total, char *msg,
                                             size_t cap);

/* --- the Runtime API's request parser (rtapi_parse.c) ---------------------------------- */

#define MG_RTAPI_HEAD_MAX (64u * 1024u) /* request line and header fields */
#define MG_RTAPI_HEADERS_MAX 100u       /* header fields (and chunked trailers) */
#define MG_RTAPI_LINE_MAX 4096u         /* a chunk-size line or a trailer */
/* A response may be up to Lambda's payload limit; the margin lets the pool answer an oversize
 * one with Function.ResponseSizeTooLarge rather than a bare 413. */
#define MG_RTAPI_BODY_MAX (MG_LAMBDA_PAYLOAD_MAX + 64u * 1024u)

enum mg_rtapi_status { MG_RTAPI_COMPLETE, MG_RTAPI_INCOMPLETE, MG_RTAPI_ERROR };

struct mg_rtapi_request {
    struct mg_slice method;     /* a token */
    struct mg_slice path;       /* the target without its query */
    struct mg_slice error_type; /* Lambda-Runtime-Function-Error-Type (trimmed), or empty */
    struct mg_slice body;       /* into the input, or into the body buffer when chunked */
    bool close;                 /* Connection: close, or HTTP/1.0 */
    size_t used;                /* bytes of input the request takes */
    int status;                 /* MG_RTAPI_ERROR: the HTTP status to answer (400, 413, 431,
                                 * 500, 501, 505); the connection is closed after it */
};

/* Parses the first request in `in` (HTTP/1.1, Content-Length or chunked body). COMPLETE fills
 * req; INCOMPLETE needs more bytes (never past the limits above: those fail); ERROR sets
 * req->status. body (reset here) receives a chunked body's decoded bytes; create it with
 * mg_buf_init(body, MG_RTAPI_BODY_MAX). Both Transfer-Encoding and Content-Length, duplicates of
 * either, a transfer coding other than chunked, obs-fold and malformed fields are refused. */
MG_MUST_USE enum mg_rtapi_status mg_lambda_rtapi_parse(struct mg_slice in,
                                                       struct mg_rtapi_request *req,
                                                       struct mg_buf *body);

/* --- log ring (logs.c) ------------------------------------------------------------------- */

/* A bounded byte ring that keeps the newest bytes. */
struct mg_lambda_ring {
    uint8_t *data;
    size_t cap, start, len;
};
MG_MUST_USE enum mg_err mg_lambda_ring_init(struct mg_lambda_ring *r, size_t cap);
void mg_lambda_ring_cleanup(struct mg_lambda_ring *r);
void mg_lambda_ring_append(struct mg_lambda_ring *r, struct mg_slice s);
/* Copies the newest min(n, len) bytes into out (appended). */
MG_MUST_USE enum mg_err mg_lambda_ring_tail(const struct mg_lambda_ring *r, size_t n,
                                            struct mg_buf *out);

/* --- names (names.c) --------------------------------------------------------------------- */

bool mg_lambda_valid_name(const char *name); /* [a-zA-Z0-9-_]{1,64} */
/* mg_lambda_parse_name over bytes taken from a path or body: a NUL anywhere is refused. */
bool mg_lambda_parse_name_bytes(struct mg_slice in, struct mg_lambda_name *out);
void mg_lambda_function_arn(const char *region, const char *account, const char *name, char *out,
                            size_t cap);

/* --- functions (functions.c) ------------------------------------------------------------- */

/* The runtime a function's processes run. */
enum mg_lambda_runtime_kind { MG_RT_PYTHON, MG_RT_NODE, MG_RT_PROVIDED };
bool mg_lambda_runtime_known(const char *runtime, enum mg_lambda_runtime_kind *kind);
extern const char *const mg_lambda_runtimes[]; /* NULL-terminated */

/* DATA/lambda/ACCOUNT/NAME, where an older mcpgate kept the function's code (see
 * mg_lambda_code_migrate); false (out empty) when it does not fit in cap. */
bool mg_lambda_code_dir(const char *data_dir, const char *account, const char *name, char *out,
                        size_t cap);
/* CodeSha256 (base64) -> lower-case hex of the same digest, for file names. */
bool mg_lambda_sha_hex(const char *code_sha256_b64, char out[65]);

/* --- the code store (codestore.c) ------------------------------------------------------- */

/* A function's code takes its zip (CodeSize) plus its unpacked tree (the declared unzipped size,
 * kept in the private document member "CodeUnzippedSize"). The per-account total is capped, as
 * Lambda's code storage quota does. */
struct mg_lambda;

#define MG_LAMBDA_CODE_STORAGE_DEFAULT (10ull * 1024ull * 1024ull * 1024ull)
/* --lambda-code-storage, else MCPGATE_LAMBDA_CODE_STORAGE, else the default. */
uint64_t mg_lambda_code_storage_max(const struct mg_lambda *L);
/* Bytes the code of the account's functions takes, leaving out except_name (may be NULL). */
uint64_t mg_lambda_account_code_bytes(const struct mg_snapshot *snap, const char *account,
                                      const char *except_name);
/* Whether the account's code, with this function's code counted as new_bytes instead of what it
 * has now, stays within the code storage limit (snap: the state to count in). */
bool mg_lambda_code_fits(const struct mg_lambda *L, const struct mg_snapshot *snap,
                         const char *account, const char *name, uint64_t new_bytes);

enum mg_lambda_code_status {
    MG_LAMBDA_CODE_OK,
    MG_LAMBDA_CODE_TOO_LARGE,          /* the package is over the direct upload limit */
    MG_LAMBDA_CODE_INVALID_ZIP,        /* not base64, or not an archive Lambda unzips */
    MG_LAMBDA_CODE_UNZIPPED_TOO_LARGE, /* over Lambda's unzipped size limit */
    MG_LAMBDA_CODE_STORAGE_EXCEEDED,   /* over the account's code storage */
    MG_LAMBDA_CODE_IO                  /* out of memory */
};

struct mg_lambda_code {
    char hex[65];           /* SHA-256 in hex: the version's store key and cache folder */
    char sha256[48];        /* CodeSha256 (base64) */
    uint64_t size;          /* CodeSize */
    uint64_t unzipped_size; /* as the central directory declares it (verified) */
    struct mg_buf zip;      /* the package as uploaded */
};

/* Decodes a deployment package (base64) into out->zip, checks it (structure, declared and real
 * unzipped sizes) and counts it against the account's code storage in snap. Writes nothing: the
 * caller stores it with mg_lambda_blob_write in the transaction of the function's document, then
 * calls mg_lambda_code_cleanup (also after a failure). msg gets a reason for the log. */
MG_MUST_USE enum mg_lambda_code_status mg_lambda_code_check(
    struct mg_lambda *L, const struct mg_snapshot *snap, const char *account, const char *name,
    struct mg_slice zip_b64, struct mg_lambda_code *out, char *msg, size_t cap);
void mg_lambda_code_cleanup(struct mg_lambda_code *code);

/* --- the code packages in the store (codeblob.c) -------------------------------------------- */

#define MG_LAMBDA_ZIP_MAX (50u * 1024u * 1024u)   /* Lambda's direct upload limit (zipped) */
#define MG_LAMBDA_CODE_CHUNK (4u * 1024u * 1024u) /* bytes of a package per store chunk */
#define MG_LAMBDA_CODE_KIND "lambda_code"         /* its document and chunks */

/* Stores the package zip (whose SHA-256 must be hex) for the account: its document and chunks,
 * inside the caller's store transaction. MG_E_INVALID for a bad account, hex or size. */
MG_MUST_USE enum mg_err mg_lambda_blob_write(struct mg_store *st, const char *account,
                                             const char *hex, struct mg_slice zip);
/* Inside the caller's transaction, after it wrote or deleted a function document that named
 * hex: deletes the package's rows when no function document of the account names it any more. */
MG_MUST_USE enum mg_err mg_lambda_blob_release(struct mg_store *st, const char *account,
                                               const char *hex);
/* Reads the package into out (create it with mg_buf_init(out, MG_LAMBDA_ZIP_MAX)) and checks
 * its size and SHA-256. MG_E_NOT_FOUND: not stored; MG_E_INVALID: damaged (a part missing or of
 * the wrong size, the digest does not match); other codes: the store failed. msg says which. */
MG_MUST_USE enum mg_err mg_lambda_blob_read(struct mg_store *st, const char *account,
                                            const char *hex, struct mg_buf *out, char *msg,
                                            size_t cap);
/* DATA/lambda/cache/ACCOUNT/HEX (hex NULL: the account's folder), the node's copy of unpacked
 * code. false (out empty) unless account is 12 digits, hex 64 lower-case hex digits and the path
 * fits: nothing else names a path under the cache. */
bool mg_lambda_cache_path(const char *data_dir, const char *account, const char *hex, char *out,
                          size_t cap);

/* --- the node's code cache and the manager's jobs (codestore.c) ----------------------------- */

/* Queues activation of the function's code (unpack, then State Active / LastUpdateStatus
 * Successful, or Failed when it cannot be unpacked). */
void mg_lambda_queue_activation(struct mg_lambda *L, const char *account, const char *name,
                                const char *sha_b64);
/* Queues removal of the account's unpacked code that no function and no process uses. */
void mg_lambda_queue_sweep(struct mg_lambda *L, const char *account);
/* Removes a directory tree on the manager thread (takes a copy of path). */
void mg_lambda_queue_removal(struct mg_lambda *L, const char *path);
/* Queues a job with L->mu held: activation of sha_b64 (then a sweep), or a sweep of the account
 * alone (sha ""). A sweep already queued for the account is not queued twice. false: out of
 * memory. */
bool mg_lambda_code_push_job(struct mg_lambda *L, const char *account, const char *name,
                             const char *sha_b64);
/* With L->mu held: queues a sweep of every account that has a cache folder. */
void mg_lambda_code_sweep_all(struct mg_lambda *L);

/* The manager thread's side, without L->mu unless said. */
/* Makes sure DATA/lambda/cache/A/<hex> holds the unzipped code, fetched from the store and
 * checked against its SHA-256 when it is not there yet; dir gets its path. MG_E_INVALID or
 * MG_E_NOT_FOUND: the stored code is damaged or missing (permanent); anything else: try again
 * later. msg gets the reason. */
MG_MUST_USE enum mg_err mg_lambda_code_unpack(struct mg_lambda *L, const char *account,
                                              const char *sha_b64, char *dir, size_t cap, char *msg,
                                              size_t msg_cap);
/* Makes an unpacked tree readable by a sandbox's user (its parent stays 0700). */
MG_MUST_USE enum mg_err mg_lambda_code_open(const char *dir);
/* Unpacks the version, then sets the function's State (Active, or Failed when it cannot be
 * unzipped) if the function still has that code. */
void mg_lambda_code_activate(struct mg_lambda *L, const char *account, const char *name,
                             const char *sha_b64);
/* With L->mu held (released during the removal): removes the account's unpacked code versions
 * that neither a function of the account in the current snapshot nor in_use (the versions its
 * processes run) keeps, and what an interrupted unpacking left. */
void mg_lambda_code_sweep(struct mg_lambda *L, const char *account, const char (*in_use)[65],
                          size_t n_in_use);
/* Removes a directory tree (symbolic links are not followed). */
void mg_lambda_code_rmtree(const char *path);
/* At start-up, before the manager runs: copies the code of a data folder written by an older
 * mcpgate (DATA/lambda/ACCOUNT/NAME/<hex>.zip) into the store, then removes those folders.
 * Idempotent: code already in the store is not copied again. */
void mg_lambda_code_migrate(struct mg_lambda *L);

/* --- the module ------------------------------------------------------------------------- */

/* The Lambda API (api.c): c->service is the module's struct mg_lambda. */
void mg_lambda_handle(struct mg_call *c);

/* One invocation, from the call to its result. */
struct mg_lambda_inv {
    struct mg_lambda_inv *next; /* queue link */
    char request_id[37];
    char account[13], name[65];
    struct mg_buf payload; /* event */
    char *client_context;  /* JSON text or NULL */
    mg_lambda_done_fn done;
    void *user;
    bool want_tail;
    struct mg_lambda_ring log; /* this invocation's log (4 KB tail) */
    struct mg_buf result;      /* response or error payload */
    char error_type[128];
    enum mg_lambda_outcome outcome;
    uint64_t queued_ns, start_ns;
    int64_t deadline_ms;
    bool init_phase; /* a fresh process: report Init Duration */
    double init_ms;
};

struct mg_lambda {
    const struct mg_env *env;
    uint64_t code_storage; /* --lambda-code-storage, or 0 */
    pthread_mutex_t mu;
    pthread_t thread;
    bool thread_started;
    int wake_fd; /* eventfd: wakes the manager */
    bool stopping;
    struct mg_map fns; /* "account\x1fname" -> struct s_fn (owned) */
    struct mg_lambda_fn **fn_list;
    size_t n_fns, cap_fns;
    struct mg_lambda_inv *new_head, *new_tail; /* invocations not yet routed to a function */
    size_t n_new;
    /* activation jobs: functions whose code must be unzipped and State set to Active */
    struct s_job {
        char account[13], name[65], sha[64];
    } * jobs;
    size_t n_jobs, cap_jobs;
    /* code trees of deleted functions, already renamed aside, removed by the manager thread */
    char **trash;
    size_t n_trash, cap_trash;
    int64_t next_sweep_ms; /* when every account's code cache is swept again */
    /* settings */
    int concurrency; /* processes per function */
    int queue_max;   /* queued invocations per function */
    int idle_ms;     /* idle process lifetime */
    char runtimes_dir[1024];
    char python[256], node[256];
    struct mg_lambda_sandbox sandbox; /* sandbox.c */
};

/* Wakes the manager thread (any thread). */
static inline void mg_lambda_wake(struct mg_lambda *L)
{
    uint64_t one = 1;
    if (write(L->wake_fd, &one, sizeof(one)) < 0) {
        /* the counter is saturated: the manager is awake anyway */
    }
}

/* Queues an invocation (takes ownership); wakes the manager (scheduler.c). */
void mg_lambda_submit(struct mg_lambda *L, struct mg_lambda_inv *inv);
/* Kills the function's processes (delete). */
void mg_lambda_forget(struct mg_lambda *L, const char *account, const char *name);
void mg_lambda_inv_free(struct mg_lambda_inv *inv);
struct mg_lambda_inv *mg_lambda_inv_new(const char *account, const char *name,
                                        struct mg_slice payload, struct mg_slice client_context,
                                        mg_lambda_done_fn done, void *user);
/* The function's recent log (newest n bytes). */
MG_MUST_USE enum mg_err mg_lambda_recent_log(struct mg_lambda *L, const char *account,
                                             const char *name, size_t n, struct mg_buf *out);

/* The first file a runtime of this kind needs that is missing (the interpreter, then the
 * bootstrap under runtimes_dir), written into out; false when both are there (always for
 * provided runtimes, whose bootstrap is the function's own). In spawn.c, which starts the
 * runtimes: the scheduler and the module's start-up check both ask it. */
bool mg_lambda_runtime_missing(const struct mg_lambda *L, enum mg_lambda_runtime_kind kind,
                               char *out, size_t cap);

MG_MUST_USE enum mg_err mg_lambda_manager_start(struct mg_lambda *L, struct mg_errinfo *ei);
void mg_lambda_manager_stop(struct mg_lambda *L);

#endif
