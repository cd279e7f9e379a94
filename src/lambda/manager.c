/* The manager thread: one loop owns every runtime process. It runs the code store's jobs
 * (unpacking, activation, sweeps, removals), routes new invocations, lets the scheduler start,
 * feed and reap processes, and polls every process's output, Runtime API listener and
 * connections. Other threads only queue work (under L->mu) and wake it. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/runtime.h"

#define S_SWEEP_EVERY_MS 60000 /* every account's code cache again */

/* Removes the account's code versions that nothing uses (L->mu held). */
static void s_sweep(struct mg_lambda *L, const char *account)
{
    size_t n = mg_lambda_fn_code_in_use(L, account, NULL, 0);
    char(*in_use)[65] = mg_malloc((n ? n : 1) * sizeof(*in_use));
    if (in_use == NULL)
        return; /* keep everything: a later sweep removes what is left */
    n = mg_lambda_fn_code_in_use(L, account, in_use, n);
    mg_lambda_code_sweep(L, account, (const char(*)[65])in_use, n);
    mg_free(in_use);
}

static void *s_manager_main(void *arg)
{
    struct mg_lambda *L = arg;
    struct pollfd *pfds = NULL;
    size_t cap_pfds = 0;
    struct mg_lambda_done d = {0};
    pthread_mutex_lock(&L->mu);
    while (!L->stopping) {
        /* deleted functions' code, without the lock: a tree can be large */
        while (L->n_trash) {
            char *path = L->trash[--L->n_trash];
            pthread_mutex_unlock(&L->mu);
            mg_lambda_code_rmtree(path);
            mg_free(path);
            pthread_mutex_lock(&L->mu);
        }
        /* activation jobs run without the lock: unzipping can take a while */
        while (L->n_jobs) {
            struct s_job job = L->jobs[--L->n_jobs];
            if (job.sha[0] == 0) {
                s_sweep(L, job.account);
                continue;
            }
            pthread_mutex_unlock(&L->mu);
            mg_lambda_code_activate(L, job.account, job.name, job.sha);
            pthread_mutex_lock(&L->mu);
            /* idle processes of the previous code stop now (busy ones after their invocation),
             * so that its files can go without waiting for the next invocation */
            struct mg_lambda_fn *jfn = mg_lambda_fn_get(L, job.account, job.name, false);
            if (jfn && jfn->conf) {
                struct mg_snapshot *snap = mg_state_acquire(L->env->state);
                const struct mg_snapshot_doc *jd = mg_snapshot_get(snap, "function", job.account,
                                                                   job.name);
                if (jd)
                    (void)mg_lambda_fn_refresh(L, jfn, jd->doc);
                mg_snapshot_unref(snap);
            }
            s_sweep(L, job.account);
        }
        mg_lambda_route_new(L, &d);
        int64_t now = mg_now_ms();
        if (now >= L->next_sweep_ms) {
            /* what other nodes changed (a function deleted or its code replaced elsewhere)
             * leaves unused code here: every account's cache is swept now and then */
            L->next_sweep_ms = now + S_SWEEP_EVERY_MS;
            mg_lambda_code_sweep_all(L);
            if (L->n_jobs)
                continue;
        }
        int timeout = 250;
        size_t n = 1;
        for (size_t f = 0; f < L->n_fns; f++) {
            struct mg_lambda_fn *fn = L->fn_list[f];
            mg_lambda_housekeeping(L, fn, &d);
            mg_lambda_schedule(L, fn, &d);
            n += fn->n_procs * (2 + MG_LAMBDA_CONNS_MAX);
        }
        if (pfds == NULL || n > cap_pfds) {
            struct pollfd *np = mg_realloc(pfds, n * 2 * sizeof(*np));
            if (np == NULL) {
                pthread_mutex_unlock(&L->mu);
                usleep(10000);
                pthread_mutex_lock(&L->mu);
                continue;
            }
            pfds = np;
            cap_pfds = n * 2;
        }
        size_t k = 0;
        pfds[k++] = (struct pollfd){.fd = L->wake_fd, .events = POLLIN};
        for (size_t f = 0; f < L->n_fns; f++) {
            struct mg_lambda_fn *fn = L->fn_list[f];
            for (size_t i = 0; i < fn->n_procs; i++) {
                struct mg_lambda_proc *p = fn->procs[i];
                pfds[k++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
                pfds[k++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
                for (int c = 0; c < MG_LAMBDA_CONNS_MAX; c++) {
                    struct mg_lambda_conn *cn = &p->conns[c];
                    short ev = POLLIN;
                    if (cn->out.len > cn->out_off)
                        ev |= POLLOUT;
                    pfds[k++] = (struct pollfd){.fd = cn->fd, .events = ev};
                }
                if (p->inv && p->inv->deadline_ms - now < timeout)
                    timeout = p->inv->deadline_ms - now < 0 ? 0 : (int)(p->inv->deadline_ms - now);
                if (!p->reaped && p->state == MG_LAMBDA_P_DEAD && timeout > 20)
                    timeout = 20;
            }
        }
        pthread_mutex_unlock(&L->mu);
        mg_lambda_report(L, &d);
        int pr = poll(pfds, k, timeout);
        pthread_mutex_lock(&L->mu);
        if (pr < 0)
            continue;
        if (pfds[0].revents & POLLIN) {
            uint64_t v;
            if (read(L->wake_fd, &v, sizeof(v)) < 0) {
                /* spurious */
            }
        }
        /* the process set cannot change between unlock and here (only this thread changes it) */
        k = 1;
        for (size_t f = 0; f < L->n_fns; f++) {
            struct mg_lambda_fn *fn = L->fn_list[f];
            for (size_t i = 0; i < fn->n_procs; i++) {
                struct mg_lambda_proc *p = fn->procs[i];
                short out_ev = pfds[k++].revents, l_ev = pfds[k++].revents;
                if (out_ev)
                    mg_lambda_proc_drain(p);
                if (l_ev && p->lfd >= 0)
                    mg_lambda_rtapi_accept(p);
                for (int c = 0; c < MG_LAMBDA_CONNS_MAX; c++) {
                    short ev = pfds[k++].revents;
                    struct mg_lambda_conn *cn = &p->conns[c];
                    if (cn->fd < 0)
                        continue;
                    if (ev & (POLLIN | POLLHUP | POLLERR))
                        mg_lambda_rtapi_read(L, p, cn, &d);
                    if (cn->fd >= 0 && cn->out.len > cn->out_off)
                        mg_lambda_rtapi_write(cn);
                }
                if (l_ev && p->lfd >= 0) {
                    /* new connections may already carry a request */
                    for (int c = 0; c < MG_LAMBDA_CONNS_MAX; c++)
                        if (p->conns[c].fd >= 0)
                            mg_lambda_rtapi_read(L, p, &p->conns[c], &d);
                }
            }
        }
    }
    /* stopping: kill everything, fail what is left */
    mg_lambda_fn_stop_all(L, &d);
    while (L->new_head) {
        struct mg_lambda_inv *inv = L->new_head;
        L->new_head = inv->next;
        mg_lambda_inv_fail(&d, inv, MG_LAMBDA_INTERNAL, "ServiceException",
                           "The server is stopping.");
    }
    L->new_tail = NULL;
    pthread_mutex_unlock(&L->mu);
    mg_lambda_report(L, &d);
    mg_free(pfds);
    return NULL;
}

enum mg_err mg_lambda_manager_start(struct mg_lambda *L, struct mg_errinfo *ei)
{
    L->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (L->wake_fd < 0)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "lambda: cannot create an eventfd");
    if (pthread_create(&L->thread, NULL, s_manager_main, L) != 0)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "lambda: cannot start the manager thread");
    L->thread_started = true;
    return MG_E_OK;
}

void mg_lambda_manager_stop(struct mg_lambda *L)
{
    if (L->thread_started) {
        pthread_mutex_lock(&L->mu);
        L->stopping = true;
        pthread_mutex_unlock(&L->mu);
        mg_lambda_wake(L);
        pthread_join(L->thread, NULL);
        L->thread_started = false;
    }
    mg_lambda_fn_free_all(L);
    mg_free(L->jobs);
    L->jobs = NULL;
    /* trees not removed before the stop: remove them now, the loops are gone */
    for (size_t i = 0; i < L->n_trash; i++) {
        mg_lambda_code_rmtree(L->trash[i]);
        mg_free(L->trash[i]);
    }
    mg_free(L->trash);
    L->trash = NULL;
    L->n_trash = L->cap_trash = 0;
    if (L->wake_fd >= 0)
        close(L->wake_fd);
    L->wake_fd = -1;
}
