/* The function registry and the scheduler: each function's configuration as its processes see
 * it, its queue of invocations, its processes within the concurrency limit, and their ends
 * (exits, timeouts, idle reaping, credentials about to expire). A function's processes and queue
 * change here only; everything runs on the manager thread with L->mu held, but for the entry
 * points at the end, which other threads call. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/runtime.h"

#define S_FN_LOG_BYTES (256u * 1024u)
#define S_INIT_TIMEOUT_MS 10000

/* --- the function registry ------------------------------------------------------------------ */

static void s_fn_key(const char *account, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s\x1f%s", account, name);
}

struct mg_lambda_fn *mg_lambda_fn_get(struct mg_lambda *L, const char *account, const char *name,
                                      bool create)
{
    char key[96];
    s_fn_key(account, name, key, sizeof(key));
    struct mg_lambda_fn *fn = mg_map_get(&L->fns, mg_slice_cstr(key));
    if (fn || !create)
        return fn;
    fn = mg_calloc(1, sizeof(*fn));
    if (fn == NULL)
        return NULL;
    if (L->n_fns == L->cap_fns) {
        size_t nc = L->cap_fns ? L->cap_fns * 2 : 16;
        struct mg_lambda_fn **nl = mg_realloc(L->fn_list, nc * sizeof(struct mg_lambda_fn *));
        if (nl == NULL) {
            mg_free(fn);
            return NULL;
        }
        L->fn_list = nl;
        L->cap_fns = nc;
    }
    if (mg_lambda_ring_init(&fn->log, S_FN_LOG_BYTES) != MG_E_OK ||
        mg_map_put(&L->fns, mg_slice_cstr(key), fn) != MG_E_OK) {
        mg_lambda_ring_cleanup(&fn->log);
        mg_free(fn);
        return NULL;
    }
    mg_lambda_strlcpy(fn->account, sizeof(fn->account), account);
    mg_lambda_strlcpy(fn->name, sizeof(fn->name), name);
    L->fn_list[L->n_fns++] = fn;
    return fn;
}

/* Retires processes of older revisions: idle ones now, busy ones after their invocation. */
static void s_fn_retire_all(struct mg_lambda_fn *fn)
{
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct mg_lambda_proc *p = fn->procs[i];
        p->retire = true;
        if (p->state != MG_LAMBDA_P_BUSY)
            mg_lambda_proc_kill(p);
    }
}

/* Brings fn's configuration up to date with the snapshot; false when the function is gone. */
bool mg_lambda_fn_refresh(struct mg_lambda *L, struct mg_lambda_fn *fn, const json_t *doc)
{
    const char *rev = json_string_value(json_object_get(doc, "RevisionId"));
    if (rev == NULL)
        return false;
    if (strcmp(rev, fn->rev) == 0 && fn->conf)
        return true;
    s_fn_retire_all(fn);
    json_decref(fn->conf);
    fn->conf = json_deep_copy(doc);
    if (fn->conf == NULL)
        return false;
    mg_lambda_strlcpy(fn->rev, sizeof(fn->rev), rev);
    const char *runtime = json_string_value(json_object_get(doc, "Runtime"));
    if (runtime == NULL || !mg_lambda_runtime_known(runtime, &fn->kind))
        fn->kind = MG_RT_PROVIDED;
    const char *h = json_string_value(json_object_get(doc, "Handler"));
    mg_lambda_strlcpy(fn->handler, sizeof(fn->handler), h ? h : "");
    fn->timeout_s = (int)json_integer_value(json_object_get(doc, "Timeout"));
    if (fn->timeout_s <= 0)
        fn->timeout_s = 3;
    fn->memory = (int)json_integer_value(json_object_get(doc, "MemorySize"));
    if (fn->memory <= 0)
        fn->memory = 128;
    mg_lambda_function_arn(L->env->region, fn->account, fn->name, fn->arn, sizeof(fn->arn));
    char day[21], hex[33];
    mg_time_iso8601(mg_now(), day);
    mg_random_chars(hex, 32, "0123456789abcdef");
    hex[32] = 0;
    snprintf(fn->stream, sizeof(fn->stream), "%.4s/%.2s/%.2s/[$LATEST]%s", day, day + 5, day + 8,
             hex);
    return true;
}

static void s_fn_remove_dead(struct mg_lambda *L, struct mg_lambda_fn *fn)
{
    size_t o = 0;
    char cur[65] = "";
    if (!mg_lambda_sha_hex(json_string_value(json_object_get(fn->conf, "CodeSha256")), cur))
        cur[0] = 0;
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct mg_lambda_proc *p = fn->procs[i];
        /* a sandbox's cgroups go once the last of its processes is gone */
        if (p->state == MG_LAMBDA_P_DEAD && p->reaped && p->out_fd < 0 && p->inv == NULL &&
            (!p->boxed || mg_lambda_box_release(&p->box))) {
            /* the last user of an older code version (or of a deleted function's) may be gone:
             * sweep it */
            if (strcmp(p->code_hex, cur) != 0 || fn->rev[0] == 0)
                (void)mg_lambda_code_push_job(L, fn->account, "", "");
            mg_lambda_proc_free(p);
            continue;
        }
        fn->procs[o++] = p;
    }
    fn->n_procs = o;
}

static bool s_fn_add_proc(struct mg_lambda_fn *fn, struct mg_lambda_proc *p)
{
    if (fn->n_procs == fn->cap_procs) {
        size_t nc = fn->cap_procs ? fn->cap_procs * 2 : 8;
        struct mg_lambda_proc **np = mg_realloc(fn->procs, nc * sizeof(struct mg_lambda_proc *));
        if (np == NULL)
            return false;
        fn->procs = np;
        fn->cap_procs = nc;
    }
    fn->procs[fn->n_procs++] = p;
    return true;
}

/* --- queues and processes ------------------------------------------------------------------- */

void mg_lambda_route_new(struct mg_lambda *L, struct mg_lambda_done *d)
{
    if (L->new_head == NULL)
        return;
    struct mg_snapshot *snap = mg_state_acquire(L->env->state);
    while (L->new_head) {
        struct mg_lambda_inv *inv = L->new_head;
        L->new_head = inv->next;
        inv->next = NULL;
        L->n_new--;
        const struct mg_snapshot_doc *doc = mg_snapshot_get(snap, "function", inv->account,
                                                            inv->name);
        char arn[256];
        mg_lambda_function_arn(L->env->region, inv->account, inv->name, arn, sizeof(arn));
        if (doc == NULL) {
            char m[320];
            snprintf(m, sizeof(m), "Function not found: %s", arn);
            mg_lambda_inv_fail(d, inv, MG_LAMBDA_NOT_FOUND, "ResourceNotFoundException", m);
            continue;
        }
        if (!mg_lambda_sandbox_admits(&L->sandbox, inv->account)) {
            /* no sandbox on this host: one account's functions only */
            mg_lambda_inv_fail(
                d, inv, MG_LAMBDA_INTERNAL, "ServiceException",
                "This server cannot isolate functions of different accounts: it runs "
                "one account's functions only (see --lambda-isolation).");
            continue;
        }
        struct mg_lambda_fn *fn = mg_lambda_fn_get(L, inv->account, inv->name, true);
        if (fn == NULL || !mg_lambda_fn_refresh(L, fn, doc->doc)) {
            mg_lambda_inv_fail(d, inv, MG_LAMBDA_INTERNAL, "ServiceException", "out of memory");
            continue;
        }
        /* Invocations that a process can take now, or once started within the concurrency
         * limit, are not "waiting": only the ones beyond go against the queue. */
        size_t busy = 0;
        for (size_t i = 0; i < fn->n_procs; i++)
            if (fn->procs[i]->state == MG_LAMBDA_P_BUSY)
                busy++;
        size_t room = (size_t)L->concurrency > busy ? (size_t)L->concurrency - busy : 0;
        if (fn->q_len >= (size_t)L->queue_max + room) {
            mg_lambda_inv_fail(d, inv, MG_LAMBDA_THROTTLED, "TooManyRequestsException",
                               "Rate Exceeded.");
            continue;
        }
        if (fn->q_tail)
            fn->q_tail->next = inv;
        else
            fn->q_head = inv;
        fn->q_tail = inv;
        fn->q_len++;
    }
    L->new_tail = NULL;
    mg_snapshot_unref(snap);
}

/* The function's code cannot be made ready on this node: its queued invocations fail, rather
 * than wait for a code that will not come (damaged or missing: InvalidZipFileException, as
 * Lambda answers for a package it cannot unzip; the store unreachable: ServiceException). */
static void s_fail_queue(struct mg_lambda_fn *fn, struct mg_lambda_done *d)
{
    bool lasting = fn->code_err == MG_E_INVALID || fn->code_err == MG_E_NOT_FOUND;
    char m[400];
    snprintf(m, sizeof(m), "%s: %s",
             lasting ? "Lambda could not unzip the deployment package"
                     : "The function's code could not be read from the store; retry",
             fn->code_msg[0] ? fn->code_msg : mg_err_str(fn->code_err));
    struct mg_lambda_inv *inv;
    while ((inv = mg_lambda_fn_pop(fn)) != NULL)
        mg_lambda_inv_fail(d, inv, lasting ? MG_LAMBDA_CODE_ERROR : MG_LAMBDA_INTERNAL,
                           lasting ? "InvalidZipFileException" : "ServiceException", m);
}

void mg_lambda_schedule(struct mg_lambda *L, struct mg_lambda_fn *fn, struct mg_lambda_done *d)
{
    /* hand queued invocations to waiting processes */
    for (size_t i = 0; i < fn->n_procs && fn->q_head; i++) {
        struct mg_lambda_proc *p = fn->procs[i];
        if (p->state != MG_LAMBDA_P_WAITING || p->retire || strcmp(p->rev, fn->rev) != 0)
            continue;
        for (int k = 0; k < MG_LAMBDA_CONNS_MAX; k++) {
            if (p->conns[k].fd >= 0 && p->conns[k].parked) {
                mg_lambda_rtapi_assign(L, p, &p->conns[k], mg_lambda_fn_pop(fn));
                mg_lambda_rtapi_write(&p->conns[k]);
                break;
            }
        }
    }
    if (fn->q_len == 0)
        return;
    /* start processes for the rest, within the concurrency limit */
    size_t live = 0, coming = 0, current = 0;
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct mg_lambda_proc *p = fn->procs[i];
        if (p->state == MG_LAMBDA_P_DEAD)
            continue;
        live++;
        if (!p->retire && strcmp(p->rev, fn->rev) == 0) {
            current++;
            if (p->state != MG_LAMBDA_P_BUSY)
                coming++;
        }
    }
    while (coming < fn->q_len && live < (size_t)L->concurrency) {
        struct mg_lambda_proc *p = mg_lambda_proc_spawn(L, fn);
        /* no process of this revision will ever take the queue: it fails */
        if (p == NULL && fn->code_err != MG_E_OK && current == 0) {
            s_fail_queue(fn, d);
            break;
        }
        if (p == NULL || !s_fn_add_proc(fn, p)) {
            if (p)
                mg_lambda_proc_free(p);
            break;
        }
        live++;
        coming++;
    }
}

/* Process exits, timeouts, idle reaping. */
void mg_lambda_housekeeping(struct mg_lambda *L, struct mg_lambda_fn *fn, struct mg_lambda_done *d)
{
    int64_t now = mg_now_ms();
    for (size_t i = 0; i < fn->n_procs; i++) {
        struct mg_lambda_proc *p = fn->procs[i];
        if (!p->reaped && p->pid > 0) {
            int st;
            pid_t r = waitpid(p->pid, &st, WNOHANG);
            if (r == p->pid || (r < 0 && errno == ECHILD)) {
                p->reaped = true;
                p->status = r == p->pid ? st : 0;
                kill(-p->pid, SIGKILL); /* anything it left behind */
            }
        }
        if (p->reaped && p->state != MG_LAMBDA_P_DEAD) {
            mg_lambda_proc_drain(p);
            char m[1400], why[64], missing[1100] = "";
            if (WIFSIGNALED(p->status))
                snprintf(why, sizeof(why), "signal: %s",
                         WTERMSIG(p->status) == SIGKILL ? "killed"
                                                        : strsignal(WTERMSIG(p->status)));
            else
                snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(p->status));
            /* a runtime that could not start: say which file it lacks */
            if (!p->initialized && mg_lambda_runtime_missing(L, fn->kind, missing, sizeof(missing)))
                MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
                       "function %s: cannot start the runtime: %s is "
                       "missing (see --runtimes-dir)",
                       fn->arn, missing);
            struct mg_lambda_inv *inv = p->inv;
            if (inv == NULL && !p->initialized && !p->retire && fn->q_head) {
                /* died during init with work waiting: that work gets the error */
                inv = mg_lambda_fn_pop(fn);
                inv->start_ns = mg_mono_ns();
                p->inv = inv;
                mg_lambda_logf(fn, inv, "START RequestId: %s Version: $LATEST\n", inv->request_id);
            }
            if (inv) {
                snprintf(m, sizeof(m), "RequestId: %s Error: Runtime exited with error: %s%s%s%s",
                         inv->request_id, why, missing[0] ? " (cannot start the runtime: " : "",
                         missing, missing[0] ? " is missing; see --runtimes-dir)" : "");
                mg_lambda_logf(fn, inv, "%s\nRuntime.ExitError\n", m);
                mg_lambda_inv_set_error(inv, MG_LAMBDA_FUNCTION_ERROR, "Runtime.ExitError", m);
                mg_lambda_proc_finish(p, d, "\tStatus: error\tError Type: Runtime.ExitError");
            }
            mg_lambda_proc_kill(p);
            continue;
        }
        if (p->state == MG_LAMBDA_P_BUSY && p->inv && now >= p->inv->deadline_ms) {
            struct mg_lambda_inv *inv = p->inv;
            char m[200], ts[25];
            mg_time_iso8601_ms(now, ts);
            snprintf(m, sizeof(m), "RequestId: %s Error: Task timed out after %d.00 seconds",
                     inv->request_id, fn->timeout_s);
            mg_lambda_proc_drain(p);
            mg_lambda_logf(fn, inv, "%s %s Task timed out after %d.00 seconds\n", ts,
                           inv->request_id, fn->timeout_s);
            inv->outcome = MG_LAMBDA_TIMEOUT;
            snprintf(inv->error_type, sizeof(inv->error_type), "Sandbox.Timedout");
            mg_buf_reset(&inv->result);
            if (mg_buf_printf(&inv->result,
                              "{\"errorType\":\"Sandbox.Timedout\",\"errorMessage\":\"%s\"}", m))
                mg_buf_reset(&inv->result);
            mg_lambda_proc_finish(p, d, "\tStatus: timeout");
            mg_lambda_proc_kill(p);
            continue;
        }
        if (p->state == MG_LAMBDA_P_STARTING && !p->initialized &&
            (int64_t)((mg_mono_ns() - p->spawned_ns) / 1000000) >
                S_INIT_TIMEOUT_MS + fn->timeout_s * 1000) {
            mg_lambda_proc_kill(p);
            continue;
        }
        /* A process whose role credentials end within five minutes takes no more work: the
         * next invocation starts a process with fresh ones. */
        if (p->creds_expire && mg_now() > p->creds_expire - 300)
            p->retire = true;
        if ((p->state == MG_LAMBDA_P_WAITING || p->state == MG_LAMBDA_P_READY) &&
            (p->retire || strcmp(p->rev, fn->rev) != 0 ||
             (now - p->idle_since_ms > L->idle_ms && p->state == MG_LAMBDA_P_WAITING))) {
            mg_lambda_proc_kill(p);
            continue;
        }
    }
    s_fn_remove_dead(L, fn);
}

size_t mg_lambda_fn_code_in_use(struct mg_lambda *L, const char *account, char (*out)[65],
                                size_t max)
{
    size_t n = 0;
    for (size_t f = 0; f < L->n_fns; f++) {
        struct mg_lambda_fn *fn = L->fn_list[f];
        if (strcmp(fn->account, account) != 0)
            continue;
        for (size_t i = 0; i < fn->n_procs; i++, n++)
            if (n < max)
                mg_lambda_strlcpy(out[n], 65, fn->procs[i]->code_hex);
    }
    return n;
}

void mg_lambda_fn_stop_all(struct mg_lambda *L, struct mg_lambda_done *d)
{
    for (size_t f = 0; f < L->n_fns; f++) {
        struct mg_lambda_fn *fn = L->fn_list[f];
        for (size_t i = 0; i < fn->n_procs; i++) {
            struct mg_lambda_proc *p = fn->procs[i];
            if (p->inv) {
                mg_lambda_inv_fail(d, p->inv, MG_LAMBDA_INTERNAL, "ServiceException",
                                   "The server is stopping.");
                p->inv = NULL;
            }
            mg_lambda_proc_kill(p);
            if (!p->reaped && p->pid > 0)
                waitpid(p->pid, NULL, 0);
            p->reaped = true;
        }
        struct mg_lambda_inv *inv;
        while ((inv = mg_lambda_fn_pop(fn)) != NULL)
            mg_lambda_inv_fail(d, inv, MG_LAMBDA_INTERNAL, "ServiceException",
                               "The server is stopping.");
    }
}

void mg_lambda_fn_free_all(struct mg_lambda *L)
{
    for (size_t f = 0; f < L->n_fns; f++) {
        struct mg_lambda_fn *fn = L->fn_list[f];
        for (size_t i = 0; i < fn->n_procs; i++)
            mg_lambda_proc_free(fn->procs[i]);
        mg_free(fn->procs);
        json_decref(fn->conf);
        mg_lambda_ring_cleanup(&fn->log);
        mg_free(fn);
    }
    mg_free(L->fn_list);
    L->fn_list = NULL;
    L->n_fns = 0;
    mg_map_cleanup(&L->fns);
}

/* --- entry points (any thread) ------------------------------------------------------------ */

void mg_lambda_submit(struct mg_lambda *L, struct mg_lambda_inv *inv)
{
    pthread_mutex_lock(&L->mu);
    inv->next = NULL;
    if (L->new_tail)
        L->new_tail->next = inv;
    else
        L->new_head = inv;
    L->new_tail = inv;
    L->n_new++;
    pthread_mutex_unlock(&L->mu);
    mg_lambda_wake(L);
}

void mg_lambda_forget(struct mg_lambda *L, const char *account, const char *name)
{
    pthread_mutex_lock(&L->mu);
    struct mg_lambda_fn *fn = mg_lambda_fn_get(L, account, name, false);
    if (fn) {
        s_fn_retire_all(fn);
        fn->rev[0] = 0;
        /* queued work goes back to routing, which finds the function gone (the manager reports
         * it: callbacks never run on the caller's thread) */
        struct mg_lambda_inv *inv;
        while ((inv = mg_lambda_fn_pop(fn)) != NULL) {
            inv->next = NULL;
            if (L->new_tail)
                L->new_tail->next = inv;
            else
                L->new_head = inv;
            L->new_tail = inv;
            L->n_new++;
        }
    }
    pthread_mutex_unlock(&L->mu);
    mg_lambda_wake(L);
}

enum mg_err mg_lambda_recent_log(struct mg_lambda *L, const char *account, const char *name,
                                 size_t n, struct mg_buf *out)
{
    pthread_mutex_lock(&L->mu);
    struct mg_lambda_fn *fn = mg_lambda_fn_get(L, account, name, false);
    enum mg_err e = fn ? mg_lambda_ring_tail(&fn->log, n, out) : MG_E_NOT_FOUND;
    pthread_mutex_unlock(&L->mu);
    return e;
}
