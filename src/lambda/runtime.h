/* src/lambda/runtime.h: private to src/lambda/. The local runtime manager's parts and the objects
 * they share: functions (struct mg_lambda_fn), their runtime processes (struct mg_lambda_proc)
 * and each process's Runtime API connections (struct mg_lambda_conn).
 *
 * The parts, each calling only the ones above it in this list (no cycles):
 *   invocation.c  invocation objects, their results and logs (START/END/REPORT lines)
 *   codestore.c   the code store (declared in internal.h: the API uses it too)
 *   spawn.c       process spawn, the shim, kill and free; a process's output and its REPORT line
 *   rtapi.c       the Runtime API's server side over rtapi_parse.c; who may connect
 *   scheduler.c   the function registry, queues, concurrency, timeouts, idle reaping
 *   manager.c     the manager thread's loop, its start and stop
 * Everything here runs on the manager thread with L->mu held unless a comment says otherwise;
 * a function's processes and queue change only there, through scheduler.c (their one owner). */
#ifndef MG_LAMBDA_RUNTIME_H
#define MG_LAMBDA_RUNTIME_H

#include <jansson.h>

#include "lambda/internal.h"

#define MG_LAMBDA_CONNS_MAX 4         /* Runtime API connections per process */
#define MG_LAMBDA_INV_LOG_BYTES 4096u /* an invocation's log tail */

enum mg_lambda_pstate {
    MG_LAMBDA_P_STARTING,
    MG_LAMBDA_P_READY,
    MG_LAMBDA_P_WAITING,
    MG_LAMBDA_P_BUSY,
    MG_LAMBDA_P_DEAD
};

struct mg_lambda_conn {
    int fd;
    struct mg_buf in, out;
    size_t out_off;
    bool parked, close_after;
};

struct mg_lambda_proc {
    struct mg_lambda_fn *fn;
    char rev[64];
    pid_t pid;
    bool reaped;
    int status;
    int out_fd, lfd;
    uint16_t port;
    struct mg_lambda_conn conns[MG_LAMBDA_CONNS_MAX];
    enum mg_lambda_pstate state;
    struct mg_lambda_inv *inv;
    uint64_t spawned_ns;
    bool initialized;
    double init_ms;
    int64_t idle_since_ms;
    bool retire;
    int64_t creds_expire; /* epoch seconds when its role credentials expire (0: none) */
    char code_hex[65];    /* the code version it runs (its directory's name) */
    bool refused_logged;  /* a foreign connection was refused and logged */
    bool boxed;           /* runs in a sandbox (sandbox.c) */
    struct mg_lambda_box box;
};

struct mg_lambda_fn {
    char account[13], name[65], arn[256];
    char rev[64];
    json_t *conf;
    enum mg_lambda_runtime_kind kind;
    char handler[256];
    int timeout_s, memory;
    char code_dir[1024];
    /* the code could not be made ready (mg_lambda_code_unpack's code and reason), set by the
     * last spawn; a damaged or missing version (bad_hex) is not fetched again before bad_until */
    enum mg_err code_err;
    char code_msg[256];
    char bad_hex[65];
    int64_t bad_until_ms;
    char stream[128];
    struct mg_lambda_proc **procs;
    size_t n_procs, cap_procs;
    struct mg_lambda_inv *q_head, *q_tail;
    size_t q_len;
    struct mg_lambda_ring log;
};

/* The next queued invocation of fn, or NULL. */
static inline struct mg_lambda_inv *mg_lambda_fn_pop(struct mg_lambda_fn *fn)
{
    struct mg_lambda_inv *inv = fn->q_head;
    if (inv) {
        fn->q_head = inv->next;
        if (fn->q_head == NULL)
            fn->q_tail = NULL;
        fn->q_len--;
        inv->next = NULL;
    }
    return inv;
}

/* --- invocation.c --------------------------------------------------------------------------- */

/* Finished invocations are collected under the lock and reported after it is released. */
struct mg_lambda_done {
    struct mg_lambda_inv *head, *tail;
};
void mg_lambda_done_push(struct mg_lambda_done *d, struct mg_lambda_inv *inv);
/* Calls every finished invocation's callback and frees it; without L->mu. */
void mg_lambda_report(struct mg_lambda *L, struct mg_lambda_done *d);
/* Sets an error outcome with Lambda's error payload. */
void mg_lambda_inv_set_error(struct mg_lambda_inv *inv, enum mg_lambda_outcome o, const char *type,
                             const char *message);
/* Ends an invocation that never ran (not found, throttled, internal). */
void mg_lambda_inv_fail(struct mg_lambda_done *d, struct mg_lambda_inv *inv,
                        enum mg_lambda_outcome o, const char *type, const char *message);
/* Appends to the function's log and, when inv is not NULL, to the invocation's. */
void mg_lambda_log(struct mg_lambda_fn *fn, struct mg_lambda_inv *inv, struct mg_slice s);
void mg_lambda_logf(struct mg_lambda_fn *fn, struct mg_lambda_inv *inv, const char *fmt, ...)
    MG_PRINTF(3, 4);

/* --- spawn.c -------------------------------------------------------------------------------- */

/* Starts one runtime process for fn (its code unpacked first). NULL on failure (logged); when
 * the code could not be made ready, fn->code_err says so (and fn->code_msg why). */
struct mg_lambda_proc *mg_lambda_proc_spawn(struct mg_lambda *L, struct mg_lambda_fn *fn);
/* Kills the process (its group, its sandbox) and closes its listener and connections; it is
 * reaped later. */
void mg_lambda_proc_kill(struct mg_lambda_proc *p);
void mg_lambda_proc_free(struct mg_lambda_proc *p);
/* Reads whatever the process wrote to stdout/stderr into the logs. */
void mg_lambda_proc_drain(struct mg_lambda_proc *p);
/* Finishes the running invocation of p with the outcome already set in it: END and REPORT lines,
 * then onto d. */
void mg_lambda_proc_finish(struct mg_lambda_proc *p, struct mg_lambda_done *d,
                           const char *status_note);
void mg_lambda_conn_close(struct mg_lambda_conn *c);

/* --- rtapi.c -------------------------------------------------------------------------------- */

/* Accepts the connections waiting on p's listener; those not from p's own runtime are refused. */
void mg_lambda_rtapi_accept(struct mg_lambda_proc *p);
/* Reads what arrived on c and handles every complete request. */
void mg_lambda_rtapi_read(struct mg_lambda *L, struct mg_lambda_proc *p, struct mg_lambda_conn *c,
                          struct mg_lambda_done *d);
/* Writes what c has to send (non-blocking). */
void mg_lambda_rtapi_write(struct mg_lambda_conn *c);
/* Answers the parked /next on c with inv: p runs it from now on. */
void mg_lambda_rtapi_assign(struct mg_lambda *L, struct mg_lambda_proc *p, struct mg_lambda_conn *c,
                            struct mg_lambda_inv *inv);

/* --- scheduler.c ---------------------------------------------------------------------------- */

/* The function's entry, created when create is set; NULL when absent or out of memory. */
struct mg_lambda_fn *mg_lambda_fn_get(struct mg_lambda *L, const char *account, const char *name,
                                      bool create);
/* Brings fn's configuration up to date with the snapshot's document; false when it is gone. */
bool mg_lambda_fn_refresh(struct mg_lambda *L, struct mg_lambda_fn *fn, const json_t *doc);
/* Moves the invocations submitted since the last call to their functions' queues (or fails
 * them: not found, throttled). */
void mg_lambda_route_new(struct mg_lambda *L, struct mg_lambda_done *d);
/* Process exits, timeouts, idle reaping; dead processes are freed. */
void mg_lambda_housekeeping(struct mg_lambda *L, struct mg_lambda_fn *fn, struct mg_lambda_done *d);
/* Hands queued invocations to waiting processes and starts processes within the limit; when
 * the function's code cannot be made ready on this node, its queued invocations fail (onto d). */
void mg_lambda_schedule(struct mg_lambda *L, struct mg_lambda_fn *fn, struct mg_lambda_done *d);
/* The code versions (directory names) the processes of the account's functions run: up to max
 * into out; returns how many there are (more than max: out is incomplete). */
size_t mg_lambda_fn_code_in_use(struct mg_lambda *L, const char *account, char (*out)[65],
                                size_t max);
/* Kills every process and fails every queued invocation (the server stops). */
void mg_lambda_fn_stop_all(struct mg_lambda *L, struct mg_lambda_done *d);
/* Frees every function entry (after the manager thread is gone). */
void mg_lambda_fn_free_all(struct mg_lambda *L);

#endif
