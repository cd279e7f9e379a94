/* The MCP Streamable HTTP endpoint of every gateway: HTTP rules, inbound authentication and
 * authorization (with a per-loop decision cache), sessions, and sending the reply.
 *
 * Order of checks for a request to a gateway URL:
 *   gateway exists and serves (404) -> Origin / Host (403) -> authorizer: SigV4 + InvokeGateway
 *   (403), NONE, or JWT kinds (401) -> method (405) -> Accept (406), Content-Type (415), size (413)
 *   -> MCP-Protocol-Version (400) -> body (400 -32700/-32600) -> session (400 missing, 404 unknown)
 *   -> JSON-RPC methods (200) or notifications/responses only (202). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "call/authn.h"
#include "call/authz.h"
#include "mcp/mcp.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"
#include "oidc/oidc.h"
#include "state/store.h"

/* ---- module state: per-loop caches of InvokeGateway decisions --------------------------------- */

#define S_CACHE_SLOTS 64
#define S_CACHE_KEY 1024

/* Allowed decisions, per loop. An entry holds for its snapshot and for at most one second, so
 * conditions on aws:CurrentTime / aws:EpochTime are re-evaluated as time moves. */
struct s_cache_entry {
    uint64_t generation;
    int64_t second;
    char key[S_CACHE_KEY]; /* gateway \n principal ARN \n access key \n source ip */
};

struct s_cache {
    struct s_cache_entry e[S_CACHE_SLOTS];
};

/* Bearer tokens verified, per loop: a token seen again at the same gateway, with the same
 * configuration and the same keys, costs a hash instead of a signature check until it expires. */
#define S_JWT_SLOTS 256

struct s_jwt_entry {
    uint8_t digest[32];          /* SHA-256 of the token */
    uint64_t generation;         /* of the snapshot the rules came from */
    const struct mg_gateway *gw; /* in that snapshot (compared, never read) */
    struct mg_oidc_keys *keys;   /* a reference: the keys the token was checked with */
    int64_t exp, skew;           /* valid while now - skew < exp */
    json_t *payload;             /* a reference, for the principal */
    char caller[4 + 64 + 1];
};

struct s_jwt_cache {
    struct s_jwt_entry e[S_JWT_SLOTS];
};

static void s_jwt_entry_clear(struct s_jwt_entry *e)
{
    mg_oidc_keys_unref(e->keys);
    json_decref(e->payload);
    memset(e, 0, sizeof(*e));
}

struct s_module {
    const struct mg_env *env;
    struct mg_lambda *lambda;           /* Lambda targets (struct mg_mcp_config) */
    struct mg_mcp_revocations *revoked; /* ended sessions (revoke.c) */
    struct mg_mcp_roles *roles;         /* role sessions of Lambda targets (lambda_target.c) */
    struct s_cache *cache[MG_MAX_LOOPS];
    struct s_jwt_cache *jwt_cache[MG_MAX_LOOPS];
    /* A shared (PostgreSQL) store: DELETEs are queued here and written by the flusher (ended.c) */
    bool shared;
    pthread_t flusher;
    bool flusher_started;
    pthread_mutex_t mu; /* pending, n_pending, waiters, n_waiters, kick, stop, loops_gone */
    pthread_cond_t cv;  /* signalled by a waiting DELETE and by stop */
    bool kick;          /* a DELETE waits: flush now */
    bool stop;
    bool loops_gone; /* the event loops stopped: waiting DELETEs are no longer answered */
    struct mg_mcp_ended_item *pending; /* S_PENDING_MAX */
    size_t n_pending;
    struct s_waiter *waiters; /* DELETEs answered once their end is stored */
    size_t n_waiters;
};

/* A DELETE whose answer waits for the flush that stores its end. */
struct s_waiter {
    struct mg_http_exchange *x;
    struct s_waiter *next;
};

#define S_PENDING_MAX 4096 /* DELETEs between two flushes; past it a flood becomes a floor */
#define S_FLUSH_MS 200
#define S_WAITERS_MAX 4096 /* past it a DELETE is answered at once (its end is still queued) */

/* Earlier versions stored every ended session as a document of kind "mcp_revoked"; the global
 * floor covers them all now, so they go (once, at the first start of this version). */
#define S_OLD_REVOKED_KIND "mcp_revoked"

struct s_old_rows {
    char (*keys)[2][MG_STORE_NAME_MAX + 1]; /* account, key */
    size_t n, cap;
};

static bool s_old_row(void *user, const struct mg_store_row *row)
{
    struct s_old_rows *o = user;
    if (o->n >= o->cap)
        return false;
    snprintf(o->keys[o->n][0], sizeof(o->keys[0][0]), "%s", row->account);
    snprintf(o->keys[o->n][1], sizeof(o->keys[0][1]), "%s", row->key);
    o->n++;
    return true;
}

static void s_drop_stored_revocations(struct s_module *m)
{
    if (m->env->store == NULL)
        return;
    for (int round = 0; round < 1000; round++) {
        struct s_old_rows o = {NULL, 0, 256};
        o.keys = mg_calloc(o.cap, sizeof(*o.keys));
        if (o.keys == NULL)
            return;
        if (mg_store_list(m->env->store, S_OLD_REVOKED_KIND, NULL, s_old_row, &o) != MG_E_OK ||
            o.n == 0) {
            mg_free(o.keys);
            return;
        }
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_state_write_begin(m->env->state);
        if (e == MG_E_OK) {
            for (size_t i = 0; i < o.n && !e; i++)
                e = mg_store_delete(m->env->store, S_OLD_REVOKED_KIND, o.keys[i][0], o.keys[i][1]);
            if (e == MG_E_OK)
                e = mg_state_write_commit(m->env->state, &ei);
            else
                mg_state_write_abort(m->env->state);
        }
        mg_free(o.keys);
        if (e) {
            MG_LOG(MG_LOG_WARN, MG_SUB_MCP, "cannot drop stored ended-session records: %s",
                   ei.msg[0] ? ei.msg : mg_err_str(e));
            return;
        }
        if (round == 0)
            MG_LOG(MG_LOG_INFO, MG_SUB_MCP,
                   "dropping ended-session records of an earlier "
                   "version (ended sessions are kept in memory now)");
    }
}

static void s_http_error(struct mg_http_exchange *x, int status, int code, const char *msg);

/* ---- ended sessions shared through the store (ended.c) ----------------------------------------- */

/* Queues a DELETE for the flusher. Past S_PENDING_MAX the gateway of the newest item, the likely
 * flooder, has its items folded into one floor at their latest issue time (more is ended, never
 * less). */
static void s_share_end(struct s_module *m, const struct mg_gateway *gw,
                        const struct mg_mcp_session *s, struct s_waiter *waiter)
{
    pthread_mutex_lock(&m->mu);
    if (m->n_pending == S_PENDING_MAX) {
        const struct mg_mcp_ended_item last = m->pending[m->n_pending - 1];
        size_t w = 0;
        int64_t floor = 0; /* the latest issue time (or floor) of the items folded */
        for (size_t i = 0; i < m->n_pending; i++) {
            const struct mg_mcp_ended_item *it = &m->pending[i];
            if (strcmp(it->gateway_id, last.gateway_id) != 0 ||
                strcmp(it->account, last.account) != 0) {
                m->pending[w++] = *it;
                continue;
            }
            int64_t t = it->sid[0] ? it->issued_ms : it->floor_ms;
            if (t > floor)
                floor = t;
        }
        struct mg_mcp_ended_item *f = &m->pending[w++];
        *f = last;
        f->sid[0] = '\0';
        f->floor_ms = floor;
        m->n_pending = w;
        MG_LOG(MG_LOG_WARN, MG_SUB_MCP,
               "ended-session queue full: every session of gateway %s issued until the newest "
               "ended one is ended",
               last.gateway_id);
    }
    if (m->n_pending < S_PENDING_MAX) {
        struct mg_mcp_ended_item *it = &m->pending[m->n_pending++];
        memset(it, 0, sizeof(*it));
        snprintf(it->account, sizeof(it->account), "%s", gw->account);
        snprintf(it->gateway_id, sizeof(it->gateway_id), "%s", gw->id);
        snprintf(it->sid, sizeof(it->sid), "%s", s->sid);
        it->expires = s->expires;
        it->issued_ms = s->issued_ms;
        if (waiter != NULL && m->n_waiters < S_WAITERS_MAX) {
            /* answered by the flush that takes this item (or a floor folded from it) */
            waiter->next = m->waiters;
            m->waiters = waiter;
            m->n_waiters++;
            m->kick = true;
            pthread_cond_signal(&m->cv);
            waiter = NULL;
        }
    } else {
        /* every queued item is of another gateway: this node refuses the session, the others
         * learn of it only at its expiry */
        MG_LOG(MG_LOG_WARN, MG_SUB_MCP,
               "ended-session queue full of other gateways: the end of a session of gateway %s "
               "is not shared",
               gw->id);
    }
    pthread_mutex_unlock(&m->mu);
    if (waiter != NULL) { /* not waiting (no room): answered now */
        mg_http_set_status(waiter->x, 200);
        mg_http_send(waiter->x);
        mg_free(waiter);
    }
}

static void s_end_stored(void *arg, struct mg_http_exchange *x)
{
    (void)arg;
    if (!mg_http_gone(x))
        mg_http_set_status(x, 200);
    mg_http_send(x);
}

static void s_end_not_stored(void *arg, struct mg_http_exchange *x)
{
    (void)arg;
    if (!mg_http_gone(x))
        s_http_error(x, 503, MG_JSONRPC_INTERNAL_ERROR,
                     "Service unavailable: the session is ended on this server, but the store "
                     "could not record it for the others yet (retrying)");
    else
        mg_http_send(x);
}

/* Answers the DELETEs whose ends the flush took, on their loops; nothing once the loops stopped
 * (the process is ending: their connections go with it). */
static void s_answer(struct s_module *m, struct s_waiter *w, bool stored)
{
    pthread_mutex_lock(&m->mu);
    bool gone = m->loops_gone;
    for (struct s_waiter *n = w; n != NULL && !gone; n = n->next)
        mg_http_resume_from_thread(n->x, stored ? s_end_stored : s_end_not_stored, m);
    pthread_mutex_unlock(&m->mu);
    while (w != NULL) {
        struct s_waiter *next = w->next;
        mg_free(w);
        w = next;
    }
}

/* Whether the gateway's stored row ends the session (another node's DELETE). */
static bool s_ended_stored(const struct s_module *m, const struct mg_snapshot *snap,
                           const struct mg_gateway *gw, const struct mg_mcp_session *s)
{
    if (!m->shared || snap == NULL)
        return false;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_MCP_ENDED_KIND, gw->account, gw->id);
    return d != NULL && mg_mcp_ended_check(d->doc, s);
}

static int s_item_cmp(const void *a, const void *b)
{
    const struct mg_mcp_ended_item *x = a, *y = b;
    int c = strcmp(x->account, y->account);
    return c != 0 ? c : strcmp(x->gateway_id, y->gateway_id);
}

/* Writes the queued DELETEs, one row per gateway, in one transaction; on failure they are queued
 * again (as far as there is room). On a shared store the transaction takes the write barrier
 * first (mg_state_write_begin), so two nodes merging into the same row never lose each other's
 * sids. */
static void s_flush(struct s_module *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_pending;
    struct mg_mcp_ended_item *items = NULL;
    struct s_waiter *waiters = NULL;
    if (n > 0 && (items = mg_malloc(n * sizeof(*items))) != NULL) {
        mg_memcpy(items, m->pending, n * sizeof(*items));
        m->n_pending = 0;
        waiters = m->waiters;
        m->waiters = NULL;
        m->n_waiters = 0;
    }
    m->kick = false;
    pthread_mutex_unlock(&m->mu);
    if (items == NULL)
        return;
    qsort(items, n, sizeof(*items), s_item_cmp);
    struct mg_errinfo ei = {0};
    struct mg_buf row;
    mg_buf_init(&row, 64 * 1024);
    enum mg_err e = mg_state_write_begin(m->env->state);
    bool began = e == MG_E_OK;
    /* under the write lock the snapshot is the store: a gateway deleted meanwhile (its row went
     * with it) gets no row again */
    struct mg_snapshot *snap = began ? mg_state_acquire(m->env->state) : NULL;
    for (size_t i = 0; i < n && e == MG_E_OK;) {
        size_t j = i + 1;
        while (j < n && s_item_cmp(&items[i], &items[j]) == 0)
            j++;
        const char *acct = items[i].account, *gid = items[i].gateway_id;
        if (snap == NULL || mg_agentcore_gateway(snap, mg_slice_cstr(gid)) == NULL) {
            i = j;
            continue;
        }
        json_t *old = NULL, *doc = NULL;
        mg_buf_reset(&row);
        e = mg_store_get(m->env->store, MG_MCP_ENDED_KIND, acct, gid, &row);
        if (e == MG_E_OK)
            old = json_loadb((const char *)row.ptr, row.len, 0, NULL);
        else if (e == MG_E_NOT_FOUND)
            e = MG_E_OK;
        if (e == MG_E_OK)
            e = mg_mcp_ended_merge(old, items + i, j - i, mg_now_ms(), &doc);
        if (e == MG_E_OK && doc != NULL && old != NULL && json_equal(old, doc)) {
            /* unchanged */
        } else if (e == MG_E_OK && doc != NULL) {
            char *text = json_dumps(doc, JSON_COMPACT);
            e = text
                    ? mg_store_put(m->env->store, MG_MCP_ENDED_KIND, acct, gid, mg_slice_cstr(text))
                    : MG_E_NOMEM;
            mg_free(text);
        } else if (e == MG_E_OK && old != NULL) {
            e = mg_store_delete(m->env->store, MG_MCP_ENDED_KIND, acct, gid);
        }
        json_decref(old);
        json_decref(doc);
        i = j;
    }
    mg_snapshot_unref(snap);
    if (began) {
        if (e == MG_E_OK)
            e = mg_state_write_commit(m->env->state, &ei);
        else
            mg_state_write_abort(m->env->state);
    }
    mg_buf_cleanup(&row);
    if (e != MG_E_OK) {
        MG_LOG(MG_LOG_WARN, MG_SUB_MCP, "cannot store ended sessions (retrying): %s",
               ei.msg[0] ? ei.msg : mg_err_str(e));
        pthread_mutex_lock(&m->mu);
        size_t room = S_PENDING_MAX - m->n_pending, k = n < room ? n : room;
        mg_memcpy(m->pending + m->n_pending, items, k * sizeof(*items));
        m->n_pending += k;
        pthread_mutex_unlock(&m->mu);
    }
    s_answer(m, waiters, e == MG_E_OK);
    mg_free(items);
}

static void *s_flusher_main(void *arg)
{
    struct s_module *m = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += S_FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&m->mu);
        while (!m->stop && !m->kick && pthread_cond_timedwait(&m->cv, &m->mu, &ts) != ETIMEDOUT) {
        }
        bool stop = m->stop, any = m->n_pending > 0;
        pthread_mutex_unlock(&m->mu);
        if (stop)
            return NULL;
        if (any)
            s_flush(m);
    }
}

static enum mg_err s_flusher_start(struct s_module *m)
{
    m->pending = mg_calloc(S_PENDING_MAX, sizeof(*m->pending));
    if (m->pending == NULL)
        return MG_E_NOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&m->flusher, NULL, s_flusher_main, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        return MG_E_NOMEM;
    }
    m->flusher_started = true;
    return MG_E_OK;
}

static void s_stop(void *state);

static enum mg_err s_start(const struct mg_env *env, const void *config, void **state,
                           struct mg_errinfo *ei)
{
    const struct mg_mcp_config *cfg = config;
    *state = NULL;
    struct s_module *m = mg_calloc(1, sizeof(*m));
    if (m == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    /* Sessions issued before this start may have been ended while nobody kept the list: the
     * global floor refuses them (clients initialize again). A shared store keeps the list
     * (ended.c), so sessions outlive a restart there. */
    m->shared = env->store != NULL && mg_store_shared(env->store);
    enum mg_err e = mg_mcp_revoke_new(MG_MCP_REVOKE_ENTRIES, MG_MCP_REVOKE_GATEWAYS,
                                      m->shared ? 0 : mg_now_ms(), &m->revoked);
    if (!e && (m->roles = mg_mcp_roles_new()) == NULL)
        e = MG_E_NOMEM;
    if (e) {
        mg_mcp_revoke_free(m->revoked);
        mg_free(m);
        return mg_errinfo_set(ei, e, "cannot start the MCP data plane");
    }
    m->env = env;
    m->lambda = cfg ? cfg->lambda : NULL;
    *state = m;
    s_drop_stored_revocations(m);
    if (m->shared && s_flusher_start(m) != MG_E_OK) {
        s_stop(m);
        *state = NULL;
        return mg_errinfo_set(ei, MG_E_NOMEM, "cannot start the ended-session flusher");
    }
    return MG_E_OK;
}

void mg_mcp_loops_stopped(void *service_state)
{
    struct s_module *m = service_state;
    if (m == NULL || !m->flusher_started)
        return;
    pthread_mutex_lock(&m->mu);
    m->loops_gone = true;
    pthread_mutex_unlock(&m->mu);
}

static void s_stop(void *state)
{
    struct s_module *m = state;
    if (m == NULL)
        return;
    if (m->flusher_started) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_signal(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->flusher, NULL);
        mg_mcp_loops_stopped(m); /* the loops are gone by now */
        s_flush(m);              /* what was ended since the last round */
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
    }
    mg_free(m->pending);
    mg_mcp_roles_free(m->roles);
    mg_mcp_revoke_free(m->revoked);
    for (int i = 0; i < MG_MAX_LOOPS; i++) {
        mg_free(m->cache[i]);
        for (int k = 0; m->jwt_cache[i] && k < S_JWT_SLOTS; k++)
            s_jwt_entry_clear(&m->jwt_cache[i]->e[k]);
        mg_free(m->jwt_cache[i]);
    }
    mg_free(m);
}

static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* The cache of this loop (NULL when it cannot be had: decide without caching). */
static struct s_cache *s_cache_of(struct s_module *m, int loop)
{
    if (m == NULL || loop < 0 || loop >= MG_MAX_LOOPS)
        return NULL;
    if (m->cache[loop] == NULL)
        m->cache[loop] = mg_calloc(1, sizeof(struct s_cache));
    return m->cache[loop];
}

/* ---- small senders -------------------------------------------------------------------------- */

/* An HTTP-level error with a JSON-RPC body without id, as the MCP SDK's transport sends them. */
static void s_http_error(struct mg_http_exchange *x, int status, int code, const char *msg)
{
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    mg_http_set_status(x, status);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    if (mg_jsonrpc_error(b, NULL, code, msg, NULL) != MG_E_OK)
        mg_buf_reset(b);
    mg_http_send(x);
}

static void s_unknown(struct mg_http_exchange *x)
{
    mg_http_set_status(x, 404);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/xml"));
    if (mg_buf_append_cstr(mg_http_body(x), "<UnknownOperationException/>\n") != MG_E_OK)
        mg_buf_reset(mg_http_body(x));
    mg_http_send(x);
}

static void s_auth_error(struct mg_http_exchange *x, enum mg_sigv4_status st, const char *msg)
{
    const char *code = "InvalidSignatureException";
    switch (st) {
    case MG_SIGV4_MISSING:
        code = "MissingAuthenticationTokenException";
        msg = "Missing Authentication Token";
        break;
    case MG_SIGV4_INCOMPLETE:
    case MG_SIGV4_UNSUPPORTED: code = "IncompleteSignatureException"; break;
    case MG_SIGV4_UNKNOWN_KEY:
        code = "UnrecognizedClientException";
        msg = "The security token included in the request is invalid.";
        break;
    case MG_SIGV4_EXPIRED_TOKEN:
        code = "ExpiredTokenException";
        msg = "The security token included in the request is expired";
        break;
    default: break;
    }
    mg_aws_send_error(x, MG_AWS_REST_JSON, 403, code,
                      msg && msg[0] ? msg
                                    : "The request signature we calculated does not match "
                                      "the signature you provided.");
}

/* ---- Origin and Host -------------------------------------------------------------------------- */

/* The host part of "scheme://host[:port]/..." (IPv6 in brackets kept), or false. */
static bool s_url_host(struct mg_slice url, struct mg_slice *host, struct mg_slice *origin)
{
    const uint8_t *p = url.ptr;
    size_t n = url.len, i = 0;
    while (i + 2 < n && !(p[i] == ':' && p[i + 1] == '/' && p[i + 2] == '/'))
        i++;
    if (i + 2 >= n)
        return false;
    size_t start = i + 3, end = start;
    while (end < n && p[end] != '/' && p[end] != '?' && p[end] != '#')
        end++;
    if (origin)
        *origin = mg_slice_make(p, end);
    struct mg_slice hp = mg_slice_make(p + start, end - start);
    if (hp.len && hp.ptr[0] == '[') {
        long rb = mg_slice_find(hp, ']');
        if (rb < 0)
            return false;
        *host = mg_slice_sub(hp, 0, (size_t)rb + 1);
        return true;
    }
    long colon = mg_slice_find(hp, ':');
    *host = colon >= 0 ? mg_slice_sub(hp, 0, (size_t)colon) : hp;
    return true;
}

static struct mg_slice s_strip_port(struct mg_slice hp)
{
    if (hp.len && hp.ptr[0] == '[') {
        long rb = mg_slice_find(hp, ']');
        return rb >= 0 ? mg_slice_sub(hp, 0, (size_t)rb + 1) : hp;
    }
    long colon = mg_slice_find(hp, ':');
    return colon >= 0 ? mg_slice_sub(hp, 0, (size_t)colon) : hp;
}

static bool s_loopback(struct mg_slice host)
{
    return mg_slice_ieq_cstr(host, "localhost") || mg_slice_eq_cstr(host, "127.0.0.1") ||
           mg_slice_eq_cstr(host, "[::1]");
}

static bool s_origin_ok(const struct s_module *m, const struct mg_gateway *gw,
                        struct mg_slice origin)
{
    struct mg_slice host, o;
    if (!s_url_host(origin, &host, &o))
        return false;
    if (!(mg_slice_starts_with(origin, "http://") || mg_slice_starts_with(origin, "https://")))
        return false;
    if (s_loopback(host))
        return true;
    struct mg_slice gh, go;
    if (gw->url && s_url_host(mg_slice_cstr(gw->url), &gh, &go) && mg_slice_eq(o, go))
        return true;
    if (m->env->public_url[0] && s_url_host(mg_slice_cstr(m->env->public_url), &gh, &go) &&
        mg_slice_eq(o, go))
        return true;
    return false;
}

static bool s_host_ok(const struct s_module *m, const struct mg_gateway *gw, struct mg_slice hp)
{
    struct mg_slice host = s_strip_port(hp);
    if (host.len == 0)
        return false;
    if (s_loopback(host))
        return true;
    struct mg_slice h, o;
    if (gw->url && s_url_host(mg_slice_cstr(gw->url), &h, &o) && mg_slice_eq(host, h))
        return true;
    if (m->env->public_url[0] && s_url_host(mg_slice_cstr(m->env->public_url), &h, &o) &&
        mg_slice_eq(host, h))
        return true;
    /* {gateway-id}.gateway.* */
    size_t idl = strlen(gw->id);
    if (host.len > idl + 9 && mg_memcmp(host.ptr, gw->id, idl) == 0 &&
        mg_slice_starts_with(mg_slice_sub(host, idl, host.len), ".gateway."))
        return true;
    /* a listener bound to a specific address: that address */
    if (m->env->listen_host[0] && mg_slice_eq_cstr(host, m->env->listen_host))
        return true;
    return false;
}

/* ---- Accept ------------------------------------------------------------------------------------- */

static void s_accepts(const struct mg_slice *accept, bool *json, bool *sse)
{
    *json = *sse = false;
    if (accept == NULL) {
        *json = true; /* raw clients without Accept get JSON, as on AgentCore */
        return;
    }
    struct mg_slice rest = *accept, part;
    while (mg_slice_split(&rest, ',', &part)) {
        struct mg_slice mt = part;
        long semi = mg_slice_find(mt, ';');
        if (semi >= 0)
            mt = mg_slice_sub(mt, 0, (size_t)semi);
        mt = mg_slice_trim(mt);
        if (mg_slice_ieq_cstr(mt, "application/json") || mg_slice_ieq_cstr(mt, "application/*"))
            *json = true;
        else if (mg_slice_ieq_cstr(mt, "text/event-stream") || mg_slice_ieq_cstr(mt, "text/*"))
            *sse = true;
        else if (mg_slice_eq_cstr(mt, "*/*"))
            *json = *sse = true;
        if (rest.len == 0)
            break;
    }
}

/* ---- inbound authorization ---------------------------------------------------------------------- */

struct s_auth {
    struct mg_principal principal;
    char caller[512];
};

/* InvokeGateway for an authenticated principal; answers 403 itself on a denial. */
static bool s_authorize(struct s_module *m, struct mg_http_exchange *x, struct mg_snapshot *snap,
                        const struct mg_gateway *gw, struct mg_principal *p)
{
    const struct mg_http_req *r = mg_http_request(x);
    char key[S_CACHE_KEY];
    const char *parts[4] = {gw->id, p->arn, p->access_key_id, r->remote_ip};
    size_t kl = 0;
    bool fits = true;
    for (int i = 0; i < 4 && fits; i++) {
        size_t n = strlen(parts[i]);
        if (kl + n + 1 >= sizeof(key)) {
            fits = false;
            break;
        }
        mg_memcpy(key + kl, parts[i], n);
        kl += n;
        key[kl++] = '\n';
    }
    key[fits ? kl : 0] = 0;
    struct s_cache *cache = fits ? s_cache_of(m, r->loop) : NULL;
    struct s_cache_entry *slot = NULL;
    if (cache) {
        slot = &cache->e[s_hash(key) % S_CACHE_SLOTS];
        if (slot->generation == snap->generation && slot->second == mg_now() &&
            strcmp(slot->key, key) == 0)
            return true;
    }
    struct mg_call call;
    memset(&call, 0, sizeof(call));
    call.env = m->env;
    call.x = x;
    call.req = r;
    call.snap = snap;
    call.protocol = MG_AWS_REST_JSON;
    mg_memcpy(&call.principal, p, sizeof(*p)); /* borrowed: p is cleaned up by the caller */
    struct mg_policy_explain ex;
    char msg[1024];
    struct mg_authz_resource res = {.arn = gw->arn,
                                    .policy = gw->resource_policy,
                                    .tags = gw->tags};
    if (mg_authz_decide(&call, "bedrock-agentcore:InvokeGateway", &res, NULL, &ex, msg,
                        sizeof(msg)) == MG_POLICY_ALLOW) {
        if (slot) {
            slot->generation = snap->generation;
            slot->second = mg_now();
            mg_memcpy(slot->key, key, kl + 1);
        }
        return true;
    }
    mg_authz_audit(&call, "bedrock-agentcore:InvokeGateway", gw->arn, &ex, msg);
    mg_aws_send_error(x, MG_AWS_REST_JSON, 403, "AccessDeniedException", msg);
    return false;
}

/* ---- CUSTOM_JWT: bearer tokens (docs/inbound-jwt.md) -------------------------------------------- */

#define S_JWT_UNAUTHORIZED (-32001) /* the JSON-RPC code of AgentCore's 401 and 403 bodies */

enum s_authn { S_AUTHN_SENT, S_AUTHN_OK, S_AUTHN_PARKED };

/* 401 or 403 with the Bearer challenge of RFC 6750 / RFC 9728 and a JSON-RPC error body. */
static void s_bearer_refuse(struct mg_http_exchange *x, const struct mg_gateway *gw, int status,
                            const char *reason, const char *message)
{
    const struct mg_gateway_jwt *j = gw->jwt;
    struct mg_buf h;
    mg_buf_init(&h, 64 * 1024);
    enum mg_err e = mg_buf_printf(&h, "Bearer error=\"%s\", error_description=\"%s\"",
                                  status == 403 ? "insufficient_scope" : "invalid_token", reason);
    if (!e && j && j->scope_challenge)
        e = mg_buf_printf(&h, ", scope=\"%s\"", j->scope_challenge);
    if (!e && j)
        e = mg_buf_printf(&h, ", resource_metadata=\"%s\"", j->prm_url);
    if (!e)
        mg_http_add_header(x, "www-authenticate", mg_buf_slice(&h));
    mg_buf_cleanup(&h);
    s_http_error(x, status, S_JWT_UNAUTHORIZED, message);
}

/* The claims of a token as a short log text: never the token, only who it names. */
static void s_log_jwt(const struct mg_http_req *r, const struct mg_gateway *gw,
                      const struct mg_jwt_claims *c, const char *outcome, bool refused)
{
    const char *client = c->client_id ? c->client_id : c->azp;
    const char *scope = json_string_value(c->scope);
    MG_LOG_REQ(refused ? MG_LOG_INFO : MG_LOG_DEBUG, refused ? MG_SUB_AUDIT : MG_SUB_MCP,
               r->request_id,
               "bearer token %s at gateway %s: iss=%.200s sub=%.200s client=%.200s scope=%.300s",
               outcome, gw->id, c->iss ? c->iss : "-", c->sub ? c->sub : "-", client ? client : "-",
               scope ? scope : (c->scope ? "[array]" : "-"));
}

/* SHA-256 of a, "\n", b. */
static bool s_sha256_pair(struct mg_slice a, struct mg_slice b, uint8_t md[32])
{
    unsigned int mdl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
              EVP_DigestUpdate(ctx, a.ptr, a.len) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
              EVP_DigestUpdate(ctx, b.ptr, b.len) == 1 && EVP_DigestFinal_ex(ctx, md, &mdl) == 1 &&
              mdl == 32;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* "jwt:" and the SHA-256 of issuer and subject (or client): binds MCP sessions to one token
 * holder whatever the lengths of those claims. */
static bool s_jwt_caller(const struct mg_jwt_claims *c, char *out, size_t cap)
{
    const char *who = c->sub ? c->sub : c->client_id ? c->client_id : c->azp ? c->azp : "";
    uint8_t md[32];
    if (cap < 4 + 64 + 1 ||
        !s_sha256_pair(mg_slice_cstr(c->iss ? c->iss : ""), mg_slice_cstr(who), md))
        return false;
    mg_memcpy(out, "jwt:", 4);
    mg_hex_encode(md, 32, out + 4);
    out[4 + 64] = 0;
    return true;
}

/* A request waiting for an issuer's keys (first use, or a kid the held keys lack). */
struct s_park {
    struct s_module *m;
    struct mg_http_exchange *x;
    struct mg_slice gateway_id; /* in the request, which lives as long as the exchange */
    int attempt;
};

static void s_serve(struct s_module *m, struct mg_http_exchange *x, struct mg_slice gateway_id,
                    int attempt);

static void s_park_resume(void *arg, struct mg_http_exchange *x)
{
    struct s_park p = *(struct s_park *)arg;
    mg_free(arg);
    if (mg_http_gone(x)) {
        mg_http_send(x); /* frees the exchange; nothing goes out */
        return;
    }
    s_serve(p.m, x, p.gateway_id, p.attempt + 1);
}

static void s_park_done(void *arg, const struct mg_oidc_keys *keys, const char *error)
{
    (void)keys; /* the retry reads the cache: it holds whatever this fetch left */
    (void)error;
    struct s_park *p = arg;
    mg_http_resume_from_thread(p->x, s_park_resume, p);
}

static enum s_authn s_park(struct s_module *m, struct mg_http_exchange *x,
                           const struct mg_gateway *gw, struct mg_slice gateway_id, int attempt,
                           enum mg_oidc_why why)
{
    struct s_park *p = mg_calloc(1, sizeof(*p));
    if (p == NULL) {
        s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
        return S_AUTHN_SENT;
    }
    *p = (struct s_park){m, x, gateway_id, attempt};
    mg_oidc_fetch(m->env->oidc, gw->jwt->discovery_url, why, s_park_done, p);
    return S_AUTHN_PARKED;
}

static struct s_jwt_cache *s_jwt_cache_of(struct s_module *m, int loop)
{
    if (loop < 0 || loop >= MG_MAX_LOOPS)
        return NULL;
    if (m->jwt_cache[loop] == NULL)
        m->jwt_cache[loop] = mg_calloc(1, sizeof(struct s_jwt_cache));
    return m->jwt_cache[loop];
}

static void s_jwt_principal(struct s_auth *a, const char *caller, json_t *payload)
{
    snprintf(a->caller, sizeof(a->caller), "%s", caller);
    a->principal.type = MG_PRINCIPAL_JWT;
    snprintf(a->principal.arn, sizeof(a->principal.arn), "%s", caller);
    a->principal.jwt_claims = payload;
}

static enum s_authn s_authenticate_jwt(struct s_module *m, struct mg_http_exchange *x,
                                       const struct mg_snapshot *snap, const struct mg_gateway *gw,
                                       struct mg_slice gateway_id, int attempt, struct s_auth *a)
{
    const struct mg_http_req *r = mg_http_request(x);
    const struct mg_gateway_jwt *j = gw->jwt;
    const struct mg_slice *authz = mg_http_header(r, "authorization");
    if (authz == NULL) {
        s_bearer_refuse(x, gw, 401, "missing bearer token", "Missing Bearer token");
        return S_AUTHN_SENT;
    }
    if (authz->len < 7 || !mg_slice_ieq_cstr(mg_slice_sub(*authz, 0, 7), "bearer ")) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, r->request_id,
                   "non-bearer authorization refused on CUSTOM_JWT gateway %s", gw->id);
        s_bearer_refuse(x, gw, 401, "bearer token required",
                        "Authorization method mismatch: this gateway authorizes callers with "
                        "CUSTOM_JWT bearer tokens; SigV4 and other schemes are not accepted.");
        return S_AUTHN_SENT;
    }
    if (j == NULL) { /* the authorizer could not be compiled (out of memory) */
        s_bearer_refuse(x, gw, 401, "authorizer unavailable",
                        "Invalid Bearer token: the gateway's authorizer is unavailable");
        return S_AUTHN_SENT;
    }
    struct mg_slice token = mg_slice_trim(mg_slice_sub(*authz, 7, authz->len));
    int64_t now = mg_now();
    struct mg_oidc_keys *keys = mg_oidc_get(m->env->oidc, j->discovery_url, now);
    if (keys == NULL) {
        if (attempt == 0)
            return s_park(m, x, gw, gateway_id, attempt, MG_OIDC_FIRST);
        MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, r->request_id, "no signing keys for gateway %s from %s",
                   gw->id, j->discovery_url);
        s_bearer_refuse(x, gw, 401, "signing keys unavailable",
                        "Invalid Bearer token: the issuer's signing keys could not be fetched");
        return S_AUTHN_SENT;
    }
    uint8_t digest[32];
    struct s_jwt_cache *cache = mg_sigv4_sha256(token, digest) ? s_jwt_cache_of(m, r->loop) : NULL;
    struct s_jwt_entry *slot = cache
                                   ? &cache->e[(digest[0] | (unsigned)digest[1] << 8) % S_JWT_SLOTS]
                                   : NULL;
    if (slot && slot->payload && slot->keys == keys && slot->generation == snap->generation &&
        slot->gw == gw && now - slot->skew < slot->exp &&
        CRYPTO_memcmp(slot->digest, digest, 32) == 0) {
        mg_oidc_keys_unref(keys);
        s_jwt_principal(a, slot->caller, json_incref(slot->payload));
        return S_AUTHN_OK;
    }
    struct mg_jwt_claims claims;
    enum mg_jwt_status st = mg_jwt_verify(keys->jwks, token, &claims);
    if (st == MG_JWT_UNKNOWN_KID && attempt == 0) {
        mg_oidc_keys_unref(keys);
        return s_park(m, x, gw, gateway_id, attempt, MG_OIDC_UNKNOWN_KID);
    }
    if (st == MG_JWT_OK) {
        struct mg_jwt_rules rules = j->rules;
        rules.issuer = keys->issuer;
        rules.now = now;
        st = mg_jwt_validate(&claims, &rules);
    }
    if (st != MG_JWT_OK) {
        mg_oidc_keys_unref(keys);
        if (claims.payload)
            s_log_jwt(r, gw, &claims, mg_jwt_status_str(st), true);
        else
            MG_LOG_REQ(MG_LOG_INFO, MG_SUB_AUDIT, r->request_id,
                       "bearer token refused at gateway %s: %s", gw->id, mg_jwt_status_str(st));
        mg_jwt_claims_cleanup(&claims);
        if (st == MG_JWT_NOMEM) {
            s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
        } else if (mg_jwt_status_is_forbidden(st)) {
            s_bearer_refuse(x, gw, 403, mg_jwt_status_str(st),
                            "Insufficient scope: the token holds none of the scopes this "
                            "gateway allows");
        } else {
            char msg[160];
            snprintf(msg, sizeof(msg), "Invalid Bearer token: %s", mg_jwt_status_str(st));
            s_bearer_refuse(x, gw, 401, mg_jwt_status_str(st), msg);
        }
        return S_AUTHN_SENT;
    }
    char caller[4 + 64 + 1];
    if (!s_jwt_caller(&claims, caller, sizeof(caller))) {
        mg_oidc_keys_unref(keys);
        mg_jwt_claims_cleanup(&claims);
        s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error");
        return S_AUTHN_SENT;
    }
    s_log_jwt(r, gw, &claims, "accepted", false);
    if (slot) {
        s_jwt_entry_clear(slot);
        mg_memcpy(slot->digest, digest, 32);
        slot->generation = snap->generation;
        slot->gw = gw;
        slot->keys = keys; /* the reference moves to the cache */
        keys = NULL;
        slot->exp = claims.exp;
        slot->skew = MG_JWT_DEFAULT_SKEW;
        slot->payload = json_incref(claims.payload);
        mg_memcpy(slot->caller, caller, sizeof(caller));
    }
    mg_oidc_keys_unref(keys);
    s_jwt_principal(a, caller, claims.payload); /* moved: cleaned up with the principal */
    claims.payload = NULL;
    mg_jwt_claims_cleanup(&claims);
    return S_AUTHN_OK;
}

/* Authenticates per the gateway's authorizer. */
static enum s_authn s_authenticate(struct s_module *m, struct mg_http_exchange *x,
                                   struct mg_snapshot *snap, const struct mg_gateway *gw,
                                   struct mg_slice gateway_id, int attempt, struct s_auth *a)
{
    const struct mg_http_req *r = mg_http_request(x);
    switch (gw->authorizer) {
    case MG_GATEWAY_AUTH_NONE:
        snprintf(a->caller, sizeof(a->caller), "anonymous");
        return S_AUTHN_OK;
    case MG_GATEWAY_AUTH_CUSTOM_JWT:
        return s_authenticate_jwt(m, x, snap, gw, gateway_id, attempt, a);
    case MG_GATEWAY_AUTH_AUTHENTICATE_ONLY:
    case MG_GATEWAY_AUTH_AWS_IAM: break;
    }
    const struct mg_slice *authz = mg_http_header(r, "authorization");
    if (authz && authz->len >= 7 && mg_slice_ieq_cstr(mg_slice_sub(*authz, 0, 7), "bearer ")) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, r->request_id, "bearer token refused on %s gateway %s",
                   mg_gateway_authorizer_str(gw->authorizer), gw->id);
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "Authorization method mismatch: this gateway authorizes callers with %s "
                 "(SigV4); bearer tokens are not accepted.",
                 mg_gateway_authorizer_str(gw->authorizer));
        mg_aws_send_error(x, MG_AWS_REST_JSON, 403, "AccessDeniedException", msg);
        return S_AUTHN_SENT;
    }
    struct mg_sigv4_request sreq = {r->method,  r->path,      r->query,
                                    r->headers, r->n_headers, r->body};
    struct mg_sigv4_auth auth;
    memset(&auth, 0, sizeof(auth));
    struct mg_errinfo ei = {0};
    enum mg_sigv4_status st = mg_sigv4_parse(&sreq, &auth, &ei);
    if (st == MG_SIGV4_OK) {
        const char *regions[1] = {gw->region};
        st = mg_sigv4_check(&auth, regions, 1, "bedrock-agentcore", mg_now(), m->env->clock_skew,
                            &ei);
    }
    if (st == MG_SIGV4_OK)
        st = mg_authn_verify_caller(m->env, &sreq, snap, &auth, &a->principal, &ei);
    if (st != MG_SIGV4_OK) {
        /* ei.msg may echo the Authorization header (AWS's wording does): never log it */
        char where[160];
        snprintf(where, sizeof(where), "gateway %s", gw->id);
        mg_authn_log_refused(r, st, &auth, where);
        s_auth_error(x, st, ei.msg);
        return S_AUTHN_SENT;
    }
    mg_memcpy(a->caller, a->principal.arn, sizeof(a->caller)); /* both 512, NUL-terminated */
    if (gw->authorizer == MG_GATEWAY_AUTH_AUTHENTICATE_ONLY) {
        /* the signature is the whole check: no InvokeGateway decision, no resource policy */
        MG_LOG_REQ(MG_LOG_DEBUG, MG_SUB_MCP, r->request_id,
                   "authenticated %s at AUTHENTICATE_ONLY gateway %s", a->principal.arn, gw->id);
        return S_AUTHN_OK;
    }
    return s_authorize(m, x, snap, gw, &a->principal) ? S_AUTHN_OK : S_AUTHN_SENT;
}

/* ---- the reply ---------------------------------------------------------------------------------- */

static void s_reply_free(struct mg_mcp_reply *rp)
{
    for (size_t i = 0; i < rp->n_slots; i++)
        mg_buf_cleanup(&rp->slots[i]);
    if (rp->slots != &rp->one)
        mg_free(rp->slots);
    mg_free(rp);
}

void mg_mcp_reply_release(struct mg_mcp_reply *rp, bool on_loop)
{
    if (atomic_fetch_sub(&rp->pending, 1) != 1)
        return;
    struct mg_http_exchange *x = rp->x;
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    size_t n = 0;
    enum mg_err e = MG_E_OK;
    bool moved = false;
    if (!rp->batch && !rp->sse && rp->n_slots == 1 && rp->slots[0].len) {
        struct mg_buf t = *b;
        *b = rp->slots[0];
        rp->slots[0] = t;
        n = 1;
        moved = true;
    }
    for (size_t i = 0; i < rp->n_slots && !e && !moved; i++) {
        struct mg_buf *s = &rp->slots[i];
        if (s->len == 0)
            continue;
        if (rp->sse) {
            e = mg_buf_append_cstr(b, "event: message\ndata: ");
            if (!e)
                e = mg_buf_append_slice(b, mg_buf_slice(s));
            if (!e)
                e = mg_buf_append_cstr(b, "\n\n");
        } else {
            e = mg_buf_append_cstr(b, n == 0 ? (rp->batch ? "[" : "") : ",");
            if (!e)
                e = mg_buf_append_slice(b, mg_buf_slice(s));
        }
        n++;
    }
    if (!e && n && rp->batch && !rp->sse)
        e = mg_buf_append_byte(b, ']');
    if (e) {
        mg_buf_reset(b);
        mg_http_set_status(x, 500);
    } else if (n == 0) {
        mg_http_set_status(x, 202); /* everything was cancelled */
    }
    s_reply_free(rp);
    if (on_loop)
        mg_http_send(x);
    else
        mg_http_send_from_thread(x);
}

/* ---- POST ---------------------------------------------------------------------------------------- */

static bool s_is_legacy_stateless(const struct mg_jsonrpc_msg *m)
{
    /* A 2026-07-28 client: server/discover, or per-request protocol metadata. */
    if (m->method && strcmp(m->method, "server/discover") == 0)
        return true;
    const json_t *meta = m->params ? json_object_get(m->params, "_meta") : NULL;
    return json_object_get(meta, "io.modelcontextprotocol/protocolVersion") != NULL;
}

static void s_post(struct s_module *mod, struct mg_http_exchange *x, struct mg_snapshot *snap,
                   const struct mg_gateway *gw, struct s_auth *a)
{
    const struct mg_http_req *r = mg_http_request(x);
    bool acc_json, acc_sse;
    s_accepts(mg_http_header(r, "accept"), &acc_json, &acc_sse);
    if (!acc_json && !acc_sse) {
        s_http_error(x, 406, MG_JSONRPC_SERVER_ERROR,
                     "Not Acceptable: Client must accept application/json or text/event-stream");
        return;
    }
    const struct mg_slice *ct = mg_http_header(r, "content-type");
    if (ct) {
        struct mg_slice mt = *ct;
        long semi = mg_slice_find(mt, ';');
        if (semi >= 0)
            mt = mg_slice_sub(mt, 0, (size_t)semi);
        if (!mg_slice_ieq_cstr(mg_slice_trim(mt), "application/json")) {
            s_http_error(x, 415, MG_JSONRPC_SERVER_ERROR,
                         "Unsupported Media Type: Content-Type must be application/json");
            return;
        }
    }
    if (r->body.len > MG_LIMIT_BODY_DEFAULT) {
        s_http_error(x, 413, MG_JSONRPC_INVALID_REQUEST, "Request body larger than 6 MB");
        return;
    }
    const struct mg_slice *hv = mg_http_header(r, "mcp-protocol-version");
    enum mg_mcp_version header_v = MG_MCP_V_NONE;
    if (hv) {
        header_v = mg_mcp_version_parse(*hv);
        if (!mg_mcp_gateway_supports(gw, header_v)) {
            char msg[300], list[128];
            mg_mcp_gateway_versions_text(gw, list, sizeof(list));
            snprintf(msg, sizeof(msg),
                     "Bad Request: Unsupported protocol version: %.*s (supported versions: %s)",
                     (int)(hv->len > 40 ? 40 : hv->len), (const char *)hv->ptr, list);
            /* keep the header text printable */
            for (char *p = msg; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                    *p = '?';
            s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR, msg);
            return;
        }
    }
    if (mg_mcp_gateway_latest(gw) == MG_MCP_V_NONE) {
        /* stored before CreateGateway refused such lists: answer the same everywhere */
        s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR,
                     "Bad Request: Unsupported protocol version: the gateway's supportedVersions "
                     "name none that mcpgate serves (2025-03-26, 2025-06-18, 2025-11-25)");
        return;
    }

    struct mg_jsonrpc_body body;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_jsonrpc_parse(r->body, &body, &ei);
    if (e) {
        if (e == MG_E_NOMEM)
            s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error");
        else
            s_http_error(x, 400,
                         e == MG_E_PARSE ? MG_JSONRPC_PARSE_ERROR : MG_JSONRPC_INVALID_REQUEST,
                         ei.msg);
        return;
    }
    struct mg_mcp_reply *rp = NULL;
    struct mg_buf new_session;
    mg_buf_init(&new_session, 4096);

    if (!body.batch && body.msgs[0].kind == MG_JSONRPC_INVALID) {
        struct mg_buf *b = mg_http_body(x);
        mg_http_set_status(x, 400);
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        if (mg_jsonrpc_error(b, body.msgs[0].id, body.msgs[0].err_code, body.msgs[0].err_msg,
                             NULL) != MG_E_OK)
            mg_buf_reset(b);
        mg_http_send(x);
        goto out;
    }
    bool is_init = !body.batch && body.msgs[0].kind == MG_JSONRPC_REQUEST &&
                   strcmp(body.msgs[0].method, "initialize") == 0;

    /* the session and the version in force */
    enum mg_mcp_version v = header_v;
    const struct mg_slice *sid = mg_http_header(r, "mcp-session-id");
    if (!is_init && gw->has_session_config) {
        if (sid == NULL) {
            bool legacy = !body.batch && s_is_legacy_stateless(&body.msgs[0]);
            s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR,
                         legacy ? "Bad Request: Server not initialized"
                                : "Bad Request: Mcp-Session-Id header is required");
            goto out;
        }
        struct mg_mcp_session s;
        if (!mg_mcp_session_check(mod->env->token_key, *sid, gw->id, a->caller, mg_now(), &s) ||
            mg_mcp_session_revoked(mod->revoked, &s) || s_ended_stored(mod, snap, gw, &s) ||
            !mg_mcp_gateway_supports(gw, s.version)) {
            s_http_error(x, 404, -32001, "Session not found");
            goto out;
        }
        if (hv && header_v != s.version) {
            s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR,
                         "Bad Request: MCP-Protocol-Version does not match the session's version");
            goto out;
        }
        v = s.version;
    } else if (!is_init) {
        if (!body.batch && s_is_legacy_stateless(&body.msgs[0])) {
            s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR, "Bad Request: Server not initialized");
            goto out;
        }
        if (v == MG_MCP_V_NONE) /* no header: assume 2025-03-26 as the spec says */
            v = mg_mcp_gateway_supports(gw, MG_MCP_V_2025_03_26) ? MG_MCP_V_2025_03_26
                                                                 : mg_mcp_gateway_latest(gw);
    }
    if (body.batch && (v != MG_MCP_V_2025_03_26 || is_init)) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Invalid Request: JSON-RPC batches are not supported in "
                 "protocol version %s",
                 mg_mcp_version_str(v));
        s_http_error(x, 400, MG_JSONRPC_INVALID_REQUEST, msg);
        goto out;
    }

    size_t n_slots = 0;
    for (size_t i = 0; i < body.n; i++)
        if (body.msgs[i].kind == MG_JSONRPC_REQUEST || body.msgs[i].kind == MG_JSONRPC_INVALID)
            n_slots++;
    rp = mg_calloc(1, sizeof(*rp));
    if (rp && n_slots) /* a single request (the common case) takes the slot inside */
        rp->slots = n_slots == 1 ? &rp->one : mg_calloc(n_slots, sizeof(*rp->slots));
    if (rp == NULL || (n_slots && rp->slots == NULL)) {
        mg_free(rp);
        rp = NULL;
        s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error");
        goto out;
    }
    rp->env = mod->env;
    rp->x = x;
    rp->batch = body.batch;
    rp->sse = acc_sse && !acc_json;
    rp->n_slots = n_slots;
    for (size_t i = 0; i < n_slots; i++)
        mg_buf_init(&rp->slots[i], MG_LIMIT_RESPONSE);
    if (n_slots == 1 && !body.batch && !rp->sse) {
        /* the answer goes out as the slot is (mg_mcp_reply_release): write it into the buffer
         * the exchange reserved for its body instead of allocating another */
        struct mg_buf *xb = mg_http_body(x);
        rp->one = *xb;
        rp->one.len = 0;
        rp->one.max = MG_LIMIT_RESPONSE;
        mg_buf_init(xb, xb->max);
    }
    atomic_init(&rp->pending, 1);
    mg_memcpy(rp->request_id, r->request_id, sizeof(rp->request_id));

    /* headers are added here, on the loop: a Lambda callback only fills the body */
    enum mg_mcp_version negotiated = MG_MCP_V_NONE;
    struct mg_mcp_ctx ctx = {.env = mod->env,
                             .lambda = mod->lambda,
                             .roles = mod->roles,
                             .req = r,
                             .snap = snap,
                             .gw = gw,
                             .principal = &a->principal,
                             .caller = a->caller,
                             .version = v,
                             .reply = rp,
                             .x = x,
                             .new_session = &new_session,
                             .negotiated = &negotiated};
    size_t slot = 0;
    for (size_t i = 0; i < body.n; i++) {
        const struct mg_jsonrpc_msg *m = &body.msgs[i];
        ctx.slot = slot;
        switch (m->kind) {
        case MG_JSONRPC_INVALID:
            if (mg_jsonrpc_error(&rp->slots[slot], m->id, m->err_code, m->err_msg, NULL))
                mg_buf_reset(&rp->slots[slot]);
            slot++;
            break;
        case MG_JSONRPC_REQUEST:
            if (!is_init && strcmp(m->method, "initialize") == 0) {
                if (mg_jsonrpc_error(&rp->slots[slot], m->id, MG_JSONRPC_INVALID_REQUEST,
                                     "Invalid Request: initialize must not be part of a batch",
                                     NULL))
                    mg_buf_reset(&rp->slots[slot]);
            } else {
                mg_mcp_tools_request(&ctx, m);
            }
            slot++;
            break;
        case MG_JSONRPC_NOTIFICATION: mg_mcp_tools_notification(&ctx, m); break;
        case MG_JSONRPC_RESPONSE:
            break; /* this server sends no requests: nothing waits for responses */
        }
    }
    if (n_slots == 0) {
        mg_http_set_status(x, 202);
    } else {
        mg_http_set_status(x, 200);
        mg_http_add_header(x, "content-type",
                           rp->sse ? MG_SLICE_LIT("text/event-stream")
                                   : MG_SLICE_LIT("application/json"));
        if (rp->sse)
            mg_http_add_header(x, "cache-control", MG_SLICE_LIT("no-cache"));
    }
    if (new_session.len && negotiated != MG_MCP_V_NONE)
        mg_http_add_header(x, "mcp-session-id", mg_buf_slice(&new_session));
    mg_mcp_reply_release(rp, true);
out:
    mg_buf_cleanup(&new_session);
    mg_jsonrpc_body_cleanup(&body);
}

/* ---- DELETE ------------------------------------------------------------------------------------- */

static void s_delete(struct s_module *m, struct mg_http_exchange *x, const struct mg_snapshot *snap,
                     const struct mg_gateway *gw, struct s_auth *a)
{
    const struct mg_http_req *r = mg_http_request(x);
    if (!gw->has_session_config) {
        mg_http_add_header(x, "allow", MG_SLICE_LIT("POST"));
        s_http_error(x, 405, MG_JSONRPC_SERVER_ERROR,
                     "Method Not Allowed: this gateway keeps no sessions");
        return;
    }
    const struct mg_slice *sid = mg_http_header(r, "mcp-session-id");
    if (sid == NULL) {
        s_http_error(x, 400, MG_JSONRPC_SERVER_ERROR,
                     "Bad Request: Mcp-Session-Id header is required");
        return;
    }
    struct mg_mcp_session s;
    if (!mg_mcp_session_check(m->env->token_key, *sid, gw->id, a->caller, mg_now(), &s) ||
        mg_mcp_session_revoked(m->revoked, &s) || s_ended_stored(m, snap, gw, &s)) {
        s_http_error(x, 404, -32001, "Session not found");
        return;
    }
    enum mg_err e = mg_mcp_session_revoke(m->revoked, &s, mg_now_ms());
    if (e != MG_E_OK) {
        MG_LOG_REQ(MG_LOG_ERROR, MG_SUB_MCP, r->request_id, "cannot end session: %s",
                   mg_err_str(e));
        s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR,
                     "Internal error: the session could not "
                     "be ended");
        return;
    }
    MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, r->request_id, "session ended on gateway %s", gw->id);
    if (!m->shared || strlen(gw->account) >= sizeof(m->pending[0].account) ||
        strlen(gw->id) >= sizeof(m->pending[0].gateway_id)) {
        mg_http_set_status(x, 200);
        mg_http_send(x);
        return;
    }
    /* Several nodes: the answer waits until the end is in the store, so every node refuses the
     * session once the client has its 200 (the flusher is woken at once; DELETEs arriving
     * meanwhile share its next transaction). */
    struct s_waiter *w = mg_calloc(1, sizeof(*w));
    if (w != NULL)
        w->x = x;
    s_share_end(m, gw, &s, w);
    if (w == NULL) {
        mg_http_set_status(x, 200);
        mg_http_send(x);
    }
}

/* ---- entry ------------------------------------------------------------------------------------ */

static bool s_serving(const struct mg_gateway *gw)
{
    return gw->status == MG_AGENTCORE_READY || gw->status == MG_AGENTCORE_UPDATING ||
           gw->status == MG_AGENTCORE_UPDATE_UNSUCCESSFUL;
}

static void s_serve(struct s_module *m, struct mg_http_exchange *x, struct mg_slice gateway_id,
                    int attempt)
{
    const struct mg_http_req *r = mg_http_request(x);
    struct mg_snapshot *snap = mg_state_read(m->env->state, &m->env->readers[r->loop]);
    const struct mg_gateway *gw = snap ? mg_agentcore_gateway(snap, gateway_id) : NULL;
    if (gw == NULL || !s_serving(gw)) {
        s_unknown(x);
        return;
    }
    const struct mg_slice *origin = mg_http_header(r, "origin");
    if (origin && !s_origin_ok(m, gw, *origin)) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, r->request_id, "refused Origin at gateway %s", gw->id);
        s_http_error(x, 403, MG_JSONRPC_SERVER_ERROR, "Forbidden: invalid Origin header");
        return;
    }
    if (!s_host_ok(m, gw, r->host)) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_MCP, r->request_id, "refused Host at gateway %s", gw->id);
        s_http_error(x, 403, MG_JSONRPC_SERVER_ERROR, "Forbidden: invalid Host header");
        return;
    }
    struct s_auth a;
    memset(&a, 0, sizeof(a));
    enum s_authn an = s_authenticate(m, x, snap, gw, gateway_id, attempt, &a);
    if (an != S_AUTHN_OK)
        goto out; /* answered, or parked until the issuer's keys arrive (s_park_resume) */
    if (mg_slice_eq_cstr(r->method, "POST")) {
        s_post(m, x, snap, gw, &a);
    } else if (mg_slice_eq_cstr(r->method, "DELETE")) {
        s_delete(m, x, snap, gw, &a);
    } else {
        /* GET would open the server stream: this gateway sends nothing outside a request (no
         * list_changed), so it offers none, as the spec allows. */
        mg_http_add_header(x, "allow",
                           gw->has_session_config ? MG_SLICE_LIT("POST, DELETE")
                                                  : MG_SLICE_LIT("POST"));
        s_http_error(x, 405, MG_JSONRPC_SERVER_ERROR, "Method Not Allowed");
    }
out:
    mg_principal_cleanup(&a.principal);
}

/* GET {origin}/.well-known/oauth-protected-resource[{path}]: RFC 9728's document for a
 * CUSTOM_JWT gateway, unauthenticated, naming the gateway URL, the authorization server (the
 * discovery document's issuer) and the scopes advertised. */
static void s_protected_resource(struct s_module *m, struct mg_http_exchange *x,
                                 struct mg_slice gateway_id)
{
    const struct mg_http_req *r = mg_http_request(x);
    struct mg_snapshot *snap = mg_state_read(m->env->state, &m->env->readers[r->loop]);
    const struct mg_gateway *gw = snap ? mg_agentcore_gateway(snap, gateway_id) : NULL;
    if (gw == NULL || !s_serving(gw) || gw->authorizer != MG_GATEWAY_AUTH_CUSTOM_JWT ||
        gw->jwt == NULL) {
        s_unknown(x);
        return;
    }
    if (!mg_slice_eq_cstr(r->method, "GET") && !mg_slice_eq_cstr(r->method, "HEAD")) {
        mg_http_add_header(x, "allow", MG_SLICE_LIT("GET, HEAD"));
        s_http_error(x, 405, MG_JSONRPC_SERVER_ERROR, "Method Not Allowed");
        return;
    }
    const struct mg_gateway_jwt *j = gw->jwt;
    struct mg_oidc_keys *keys = mg_oidc_get(m->env->oidc, j->discovery_url, mg_now());
    json_t *doc = json_object();
    json_t *servers = json_array();
    bool ok = doc && servers && mg_json_set(doc, "resource", json_string(gw->url)) &&
              mg_json_append(servers, json_string(keys ? keys->issuer : j->issuer_hint));
    ok = ok && mg_json_set(doc, "authorization_servers", json_incref(servers));
    if (ok && j->scope_challenge) {
        json_t *sc = json_array();
        ok = sc != NULL;
        for (const char *p = j->scope_challenge; ok && *p;) {
            const char *sp = strchr(p, ' ');
            size_t n = sp ? (size_t)(sp - p) : strlen(p);
            ok = mg_json_append(sc, json_stringn(p, n));
            p += n + (sp ? 1 : 0);
        }
        ok = ok && mg_json_set(doc, "scopes_supported", json_incref(sc));
        json_decref(sc);
    }
    json_t *methods = json_array();
    ok = ok && methods && mg_json_append(methods, json_string("header")) &&
         mg_json_set(doc, "bearer_methods_supported", json_incref(methods));
    json_decref(methods);
    json_decref(servers);
    mg_oidc_keys_unref(keys);
    char *text = ok ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL) {
        s_http_error(x, 500, MG_JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
        return;
    }
    mg_http_set_status(x, 200);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    mg_http_add_header(x, "access-control-allow-origin", MG_SLICE_LIT("*"));
    mg_http_add_header(x, "cache-control", MG_SLICE_LIT("max-age=300"));
    if (mg_buf_append_cstr(mg_http_body(x), text) != MG_E_OK) {
        mg_buf_reset(mg_http_body(x));
        mg_http_set_status(x, 500);
    }
    mg_free(text);
    mg_http_send(x);
}

static void s_handle(struct mg_call *c)
{
    if (c->well_known)
        s_protected_resource(c->service, c->x, c->gateway_id);
    else
        s_serve(c->service, c->x, c->gateway_id, 0);
}

const struct mg_service mg_mcp_service = {"mcp", MG_SERVICE_MCP, s_handle, s_start, s_stop};
