/* src/state/feed.c: the follower of the store's change log (feed.h). */
#include "state/feed.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"

struct mg_state_feed {
    struct mg_state *st;
    mg_state_feed_hook hook;
    void *user;
    pthread_t thread;
    pthread_mutex_t mu; /* stop, stats */
    pthread_cond_t cv;  /* signalled by stop */
    bool stop;
    struct mg_state_feed_stats stats;
};

static bool s_stopping(struct mg_state_feed *f)
{
    pthread_mutex_lock(&f->mu);
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

/* Sleeps ms unless stop comes first; false when stopping. */
static bool s_pause(struct mg_state_feed *f, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&f->mu);
    while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &ts) != ETIMEDOUT) {
    }
    bool stop = f->stop;
    pthread_mutex_unlock(&f->mu);
    return !stop;
}

/* Publishes the rows (or a full rebuild), under the state's write lock so that no local write
 * interleaves. */
static enum mg_err s_publish(struct mg_state_feed *f, const struct mg_store_changes *ch,
                             uint64_t upto, struct mg_errinfo *ei)
{
    struct mg_state *st = f->st;
    enum mg_err e = MG_E_OK;
    struct mg_snapshot_change *v = NULL;
    if (!ch->overflow) {
        v = mg_calloc(ch->n, sizeof(*v));
        if (v == NULL)
            return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        for (size_t i = 0; i < ch->n; i++)
            v[i] = (struct mg_snapshot_change){ch->v[i].kind, ch->v[i].account, ch->v[i].key};
    }
    pthread_mutex_lock(&st->write_lock);
    e = ch->overflow ? mg_state_rebuild(st, ei) : mg_state_apply(st, v, ch->n, ei);
    if (e == MG_E_OK && upto > st->store_seen)
        st->store_seen = upto;
    pthread_mutex_unlock(&st->write_lock);
    mg_free(v);
    return e;
}

/* One round: waits for a change, applies it. MG_E_OK when there was nothing to do or it was
 * applied; *changed when a snapshot was published. */
static enum mg_err s_round(struct mg_state_feed *f, uint64_t *applied, bool *changed,
                           struct mg_errinfo *ei)
{
    struct mg_store *store = f->st->store;
    *changed = false;
    uint64_t gen = 0;
    enum mg_err e = mg_store_wait_change(store, *applied, MG_STATE_FEED_POLL_MS, &gen);
    if (e) {
        mg_store_last_error(ei);
        return e;
    }
    if (gen == *applied)
        return MG_E_OK;
    /* a read of at most MG_STORE_FEED_READ_ROWS rows; the loop comes back for the rest */
    struct mg_store_changes ch;
    uint64_t upto = 0;
    e = mg_store_changes_since(store, *applied, &ch, &upto);
    if (e) {
        mg_store_last_error(ei);
        return e;
    }
    if (ch.overflow || ch.n > 0) {
        e = s_publish(f, &ch, upto, ei);
        if (!e) {
            *changed = true;
            pthread_mutex_lock(&f->mu);
            if (ch.overflow)
                f->stats.rebuilds++;
            else
                f->stats.applies++;
            pthread_mutex_unlock(&f->mu);
        }
    }
    mg_store_changes_cleanup(&ch);
    if (!e) {
        *applied = upto;
        pthread_mutex_lock(&f->mu);
        f->stats.applied = upto;
        pthread_mutex_unlock(&f->mu);
    }
    return e;
}

static void *s_main(void *arg)
{
    struct mg_state_feed *f = arg;
    pthread_mutex_lock(&f->mu);
    uint64_t applied = f->stats.applied;
    pthread_mutex_unlock(&f->mu);
    int backoff = 0; /* ms; 0 while the store answers */
    while (!s_stopping(f)) {
        struct mg_errinfo ei = {0};
        bool changed = false;
        enum mg_err e = s_round(f, &applied, &changed, &ei);
        if (changed && f->hook)
            f->hook(f->user);
        if (e == MG_E_OK) {
            if (backoff != 0)
                MG_LOG(MG_LOG_INFO, MG_SUB_STORE, "change feed: following the store again");
            backoff = 0;
            continue;
        }
        pthread_mutex_lock(&f->mu);
        f->stats.failures++;
        pthread_mutex_unlock(&f->mu);
        if (backoff == 0) {
            MG_LOG(MG_LOG_WARN, MG_SUB_STORE,
                   "change feed: %s; other nodes' changes wait until it recovers (retrying)",
                   ei.msg[0] ? ei.msg : mg_err_str(e));
            backoff = 100;
        } else {
            backoff = backoff * 2 > MG_STATE_FEED_BACKOFF_MAX_MS ? MG_STATE_FEED_BACKOFF_MAX_MS
                                                                 : backoff * 2;
        }
        (void)s_pause(f, backoff);
    }
    return NULL;
}

enum mg_err mg_state_feed_start(struct mg_state *st, uint64_t after, mg_state_feed_hook hook,
                                void *user, struct mg_state_feed **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_state_feed *f = mg_calloc(1, sizeof(*f));
    if (f == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    f->st = st;
    f->hook = hook;
    f->user = user;
    f->stats.applied = after;
    pthread_mutex_lock(&st->write_lock);
    if (after > st->store_seen)
        st->store_seen = after;
    pthread_mutex_unlock(&st->write_lock);
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&f->thread, NULL, s_main, f) != 0) {
        pthread_cond_destroy(&f->cv);
        pthread_mutex_destroy(&f->mu);
        mg_free(f);
        return mg_errinfo_set(ei, MG_E_INTERNAL, "cannot start the change feed thread");
    }
    *out = f;
    return MG_E_OK;
}

void mg_state_feed_stop(struct mg_state_feed *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    mg_free(f);
}

void mg_state_feed_stats(struct mg_state_feed *f, struct mg_state_feed_stats *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->stats;
    pthread_mutex_unlock(&f->mu);
}
