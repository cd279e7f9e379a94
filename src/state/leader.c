/* src/state/leader.c: the lease that picks the node running the background passes (leader.h).
 * One thread renews it; readers see three atomics (held, token, the monotonic time the local
 * lease ends), so asking costs no I/O. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "state/leader.h"

#define S_LEASE_NAME "background"
#define S_HOOKS_MAX 4

struct mg_leader {
    struct mg_store *store;
    int lease_ms, renew_ms;
    char holder[200]; /* host/pid/random: unique to this process */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                     /* mu */
    mg_leader_fn fns[S_HOOKS_MAX]; /* mu */
    void *args[S_HOOKS_MAX];
    size_t n_fns;
    atomic_bool held;
    atomic_uint_least64_t token;
    atomic_uint_least64_t until_ns; /* mg_mono_ns() past which this node stops acting */
    bool failing, attempted;        /* the thread's own */
};

static int s_env_ms(const char *name, int def)
{
    const char *v = getenv(name);
    uint64_t n = 0;
    if (v != NULL && mg_slice_to_u64(mg_slice_cstr(v), &n) && n >= 100 && n <= 3600000)
        return (int)n;
    return def;
}

static void s_run_hooks(struct mg_leader *l)
{
    mg_leader_fn fns[S_HOOKS_MAX];
    void *args[S_HOOKS_MAX];
    pthread_mutex_lock(&l->mu);
    size_t n = l->n_fns;
    for (size_t i = 0; i < n; i++) {
        fns[i] = l->fns[i];
        args[i] = l->args[i];
    }
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n; i++)
        fns[i](args[i]);
}

/* One attempt to take or renew the lease. */
static void s_attempt(struct mg_leader *l)
{
    uint64_t t0 = mg_mono_ns();
    struct mg_store_lease lease;
    enum mg_err e = mg_store_lease_take(l->store, S_LEASE_NAME, l->holder, l->lease_ms, &lease);
    bool first = !l->attempted;
    l->attempted = true;
    if (e != MG_E_OK) {
        if (!l->failing) {
            struct mg_errinfo ei = {0};
            mg_store_last_error(&ei);
            MG_LOG(MG_LOG_WARN, MG_SUB_STORE,
                   "leader: cannot take or renew the background lease (%s)%s",
                   ei.msg[0] ? ei.msg : mg_err_str(e),
                   atomic_load(&l->held) ? "; this node stops background work when its lease "
                                           "runs out unless a retry succeeds"
                                         : "");
        }
        l->failing = true;
        return;
    }
    if (l->failing)
        MG_LOG(MG_LOG_INFO, MG_SUB_STORE, "leader: the background lease can be renewed again");
    l->failing = false;
    if (!lease.held) {
        if (atomic_exchange(&l->held, false))
            MG_LOG(MG_LOG_WARN, MG_SUB_STORE,
                   "leader: another node leads the background work now; this node stops it");
        else if (first)
            MG_LOG(MG_LOG_INFO, MG_SUB_STORE,
                   "leader: another node leads the background work; this node takes over if "
                   "that one stops renewing its lease for %d ms",
                   l->lease_ms);
        return;
    }
    uint64_t margin_ms = (uint64_t)l->lease_ms / 10u;
    uint64_t prev = atomic_exchange(&l->token, lease.token);
    atomic_store(&l->until_ns, t0 + ((uint64_t)l->lease_ms - margin_ms) * 1000000u);
    bool was = atomic_exchange(&l->held, true);
    if (!was || prev != lease.token) {
        MG_LOG(MG_LOG_INFO, MG_SUB_STORE,
               "leader: this node leads the background work (lease token %llu, %d ms, renewed "
               "every %d ms)",
               (unsigned long long)lease.token, l->lease_ms, l->renew_ms);
        s_run_hooks(l);
    }
}

static void *s_main(void *arg)
{
    struct mg_leader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)l->renew_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        if (l->stop)
            break;
        pthread_mutex_unlock(&l->mu);
        s_attempt(l);
        pthread_mutex_lock(&l->mu);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

enum mg_err mg_leader_start(struct mg_store *store, int lease_ms, int renew_ms,
                            struct mg_leader **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_leader *l = mg_calloc(1, sizeof(*l));
    if (l == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    l->store = store;
    l->lease_ms = s_env_ms("MCPGATE_LEASE_MS", lease_ms > 0 ? lease_ms : MG_STORE_LEASE_MS);
    l->renew_ms = s_env_ms("MCPGATE_LEASE_RENEW_MS",
                           renew_ms > 0 ? renew_ms : MG_STORE_LEASE_RENEW_MS);
    if (l->renew_ms * 2 > l->lease_ms)
        l->renew_ms = l->lease_ms / 5; /* several renewals per lease, or a slow one loses it */
    char host[64] = "";
    if (gethostname(host, sizeof(host) - 1) != 0)
        snprintf(host, sizeof(host), "host");
    host[sizeof(host) - 1] = '\0';
    char rnd[17];
    mg_random_chars(rnd, 16, MG_ALPHA_LOWER_NUM);
    rnd[16] = '\0';
    snprintf(l->holder, sizeof(l->holder), "%s/%ld/%s", host, (long)getpid(), rnd);
    if (!mg_utf8_valid(mg_slice_cstr(l->holder)))
        snprintf(l->holder, sizeof(l->holder), "node/%ld/%s", (long)getpid(), rnd);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    atomic_init(&l->held, false);
    atomic_init(&l->token, 0);
    atomic_init(&l->until_ns, 0);
    if (!mg_store_shared(store)) {
        /* One process owns the store: it leads for good, without a thread. */
        atomic_store(&l->held, true);
        atomic_store(&l->token, 1);
        atomic_store(&l->until_ns, UINT64_MAX);
        *out = l;
        return MG_E_OK;
    }
    s_attempt(l);
    if (pthread_create(&l->thread, NULL, s_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        mg_free(l);
        return mg_errinfo_set(ei, MG_E_INTERNAL, "could not start the leader thread");
    }
    l->running = true;
    *out = l;
    return MG_E_OK;
}

void mg_leader_stop(struct mg_leader *l)
{
    if (l == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->running)
        pthread_join(l->thread, NULL);
    if (atomic_load(&l->held) && mg_store_shared(l->store)) {
        atomic_store(&l->held, false);
        if (mg_store_lease_drop(l->store, S_LEASE_NAME, l->holder) == MG_E_OK)
            MG_LOG(MG_LOG_INFO, MG_SUB_STORE, "leader: background lease given up");
    }
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    mg_free(l);
}

void mg_leader_on_lead(struct mg_leader *l, mg_leader_fn fn, void *arg)
{
    if (l == NULL || fn == NULL)
        return;
    pthread_mutex_lock(&l->mu);
    if (l->n_fns < S_HOOKS_MAX) {
        l->fns[l->n_fns] = fn;
        l->args[l->n_fns] = arg;
        l->n_fns++;
    }
    pthread_mutex_unlock(&l->mu);
    if (mg_leader_active(l, NULL))
        fn(arg);
}

bool mg_leader_active(struct mg_leader *l, uint64_t *token)
{
    if (token != NULL)
        *token = 0;
    if (l == NULL)
        return true;
    if (!atomic_load(&l->held) || mg_mono_ns() >= atomic_load(&l->until_ns))
        return false;
    if (token != NULL)
        *token = atomic_load(&l->token);
    return true;
}

enum mg_err mg_leader_fence(struct mg_leader *l, uint64_t token)
{
    if (l == NULL)
        return MG_E_OK;
    return mg_store_lease_fence(l->store, S_LEASE_NAME, token, l->lease_ms);
}

int mg_leader_lease_ms(const struct mg_leader *l)
{
    return l != NULL ? l->lease_ms : MG_STORE_LEASE_MS;
}
