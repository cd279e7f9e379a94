/* The control plane's background worker: moves gateways and targets out of their transitional
 * states (CREATING, UPDATING, SYNCHRONIZING -> READY or a failure state with statusReasons;
 * DELETING -> gone). It runs at start-up too, so nothing stays stuck after a restart or a crash. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "oidc/oidc.h"
#include "state/leader.h"
#include "state/pmap.h"
#include "vault/api.h"

struct mg_ac_worker {
    const struct mg_env *env;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kicked, running;
    struct mg_ac_quotas quotas;
    struct mg_ac_mcp_sync *mcp; /* MCP-server targets: their own thread */
    struct mg_leader *leader;   /* passes run only while this node leads (state/leader.h) */
};

const struct mg_ac_quotas *mg_ac_quotas(const struct mg_ac_worker *w)
{
    static const struct mg_ac_quotas defaults = MG_AC_QUOTAS_DEFAULT;
    return w ? &w->quotas : &defaults;
}

void mg_ac_kick(struct mg_ac_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    mg_ac_mcp_sync_kick(w->mcp);
}

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static bool s_is(const json_t *o, const char *st)
{
    const char *s = s_str(o, "status");
    return s && strcmp(s, st) == 0;
}

/* False when memory ran out. */
static bool s_set_status(json_t *doc, const char *status, const char *reason)
{
    if (!mg_json_set(doc, "status", json_string(status)))
        return false;
    if (reason)
        return mg_json_set(doc, "statusReasons", json_pack("[s]", reason));
    (void)json_object_del(doc, "statusReasons");
    return true;
}

/* CUSTOM_JWT gateways being created or updated: their discovery URL is fetched (document and
 * JWKS) before the write lock is taken, so a slow issuer holds up no write. */
#define S_MAX_PROBES 32 /* per pass; the others wait for the next pass */

struct s_probe {
    const struct mg_snapshot_doc *d; /* in the peeked snapshot */
    const char *url;
    char reason[512]; /* "" when the fetch succeeded */
};

struct s_probes {
    struct s_probe p[S_MAX_PROBES];
    size_t n;
};

static const char *s_discovery_url(const json_t *doc)
{
    const char *at = s_str(doc, "authorizerType");
    if (at == NULL || strcmp(at, "CUSTOM_JWT") != 0)
        return NULL;
    return s_str(json_object_get(json_object_get(doc, "authorizerConfiguration"),
                                 "customJWTAuthorizer"),
                 "discoveryUrl");
}

static void s_probe(const struct mg_env *env, const struct mg_snapshot_doc *d, struct s_probes *pr)
{
    const char *url = s_discovery_url(d->doc);
    if (url == NULL || pr->n >= S_MAX_PROBES)
        return;
    struct s_probe *p = &pr->p[pr->n++];
    p->d = d;
    p->url = url;
    struct mg_errinfo ei = {0};
    if (mg_oidc_probe(env->oidc, url, &ei) == MG_E_OK)
        p->reason[0] = 0;
    else
        snprintf(p->reason, sizeof(p->reason), "%s",
                 ei.msg[0] ? ei.msg : "Unable to fetch the OpenID configuration");
}

/* The probe of a gateway of the locked snapshot: NULL when it has none for its current
 * discovery URL (it stays pending until a pass probes it). */
static const struct s_probe *s_probe_of(const struct s_probes *pr, const struct mg_snapshot_doc *d,
                                        const char *url)
{
    for (size_t i = 0; i < pr->n; i++)
        if (strcmp(pr->p[i].d->account, d->account) == 0 && strcmp(pr->p[i].d->key, d->key) == 0 &&
            strcmp(pr->p[i].url, url) == 0)
            return &pr->p[i];
    return NULL;
}

/* One gateway in a transitional state: the new doc, or deletion. */
static enum mg_err s_gateway(const struct mg_env *env, const struct mg_snapshot *snap,
                             const struct mg_snapshot_doc *d, const struct s_probes *pr,
                             bool *changed)
{
    const json_t *cur = d->doc;
    if (s_is(cur, "DELETING")) {
        size_t n, idl = strlen(d->key);
        const struct mg_snapshot_doc *tgs = mg_ac_targets_of(snap, d->account, d->key, &n);
        for (size_t i = 0; i < n; i++) {
            if (strncmp(tgs[i].key, d->key, idl) == 0 && tgs[i].key[idl] == '/') {
                enum mg_err e = mg_store_delete(env->store, MG_AC_KIND_TARGET, d->account,
                                                tgs[i].key);
                if (e && e != MG_E_NOT_FOUND)
                    return e;
            }
        }
        const char *arn = s_str(cur, "gatewayArn");
        if (arn) {
            enum mg_err e = mg_store_delete(env->store, MG_AC_KIND_POLICY, d->account, arn);
            if (e && e != MG_E_NOT_FOUND)
                return e;
        }
        const char *token = s_str(cur, "_clientToken");
        char tid[128];
        enum mg_err te = token ? mg_ac_index_get(env, MG_AC_KIND_GATEWAY_TOKEN, d->account, token,
                                                 tid, sizeof(tid))
                               : MG_E_NOT_FOUND;
        if (te != MG_E_OK && te != MG_E_NOT_FOUND)
            return te;
        if (te == MG_E_OK && strcmp(tid, d->key) == 0) {
            enum mg_err e = mg_store_delete(env->store, MG_AC_KIND_GATEWAY_TOKEN, d->account,
                                            token);
            if (e && e != MG_E_NOT_FOUND)
                return e;
        }
        /* the gateway's ended MCP sessions (MG_MCP_ENDED_KIND, mcp/ended.c) go with it */
        enum mg_err ee = mg_store_delete(env->store, "mcp_session_ended", d->account, d->key);
        if (ee && ee != MG_E_NOT_FOUND)
            return ee;
        enum mg_err e = mg_store_delete(env->store, MG_AC_KIND_GATEWAY, d->account, d->key);
        *changed = true;
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "gateway %s deleted", d->key);
        return e == MG_E_NOT_FOUND ? MG_E_OK : e;
    }
    bool creating = s_is(cur, "CREATING");
    if (!creating && !s_is(cur, "UPDATING"))
        return MG_E_OK;
    const char *reason = mg_ac_check_role(snap, d->account, s_str(cur, "roleArn"));
    const char *url = s_discovery_url(cur);
    if (reason == NULL && url) {
        const struct s_probe *p = s_probe_of(pr, d, url);
        if (p == NULL)
            return MG_E_OK; /* not probed yet (changed since, or past this pass's limit) */
        reason = p->reason[0] ? p->reason : NULL;
    }
    json_t *doc = json_deep_copy(cur);
    if (doc == NULL)
        return MG_E_NOMEM;
    if (!s_set_status(doc, reason ? (creating ? "FAILED" : "UPDATE_UNSUCCESSFUL") : "READY",
                      reason)) {
        json_decref(doc);
        return MG_E_NOMEM;
    }
    enum mg_err e = mg_ac_put(env, MG_AC_KIND_GATEWAY, d->account, d->key, doc);
    json_decref(doc);
    *changed = true;
    MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "gateway %s %s%s%s", d->key,
           reason ? (creating ? "FAILED" : "UPDATE_UNSUCCESSFUL") : "READY", reason ? ": " : "",
           reason ? reason : "");
    return e;
}

static enum mg_err s_target(const struct mg_env *env, const struct mg_snapshot *snap,
                            const struct mg_snapshot_doc *d, bool *changed)
{
    const json_t *cur = d->doc;
    const char *slash = strchr(d->key, '/');
    char gwid[128];
    snprintf(gwid, sizeof(gwid), "%.*s", slash ? (int)(slash - d->key) : 0, d->key);
    bool orphan = mg_snapshot_get(snap, MG_AC_KIND_GATEWAY, d->account, gwid) == NULL;
    if (s_is(cur, "DELETING") || orphan) {
        enum mg_err e = mg_store_delete(env->store, MG_AC_KIND_TARGET, d->account, d->key);
        *changed = true;
        return e == MG_E_NOT_FOUND ? MG_E_OK : e;
    }
    const char *fail = NULL;
    if (s_is(cur, "CREATING"))
        fail = "FAILED";
    else if (s_is(cur, "UPDATING"))
        fail = "UPDATE_UNSUCCESSFUL";
    else if (s_is(cur, "SYNCHRONIZING"))
        fail = "SYNCHRONIZE_UNSUCCESSFUL";
    else
        return MG_E_OK;
    /* Lambda: the inline tool schema; OpenAPI, Smithy: the tools derived at creation */
    json_t *tools = mg_ac_tool_defs(cur);
    char buf[256];
    const char *reason = mg_ac_check_tools(tools, buf, sizeof(buf));
    json_decref(tools);
    json_t *doc = json_deep_copy(cur);
    if (doc == NULL)
        return MG_E_NOMEM;
    bool ok = s_set_status(doc, reason ? fail : "READY", reason);
    if (ok && reason == NULL) {
        char now[32];
        mg_ac_now(now);
        ok = mg_json_set(doc, "lastSynchronizedAt", json_string(now));
    }
    if (!ok) {
        json_decref(doc);
        return MG_E_NOMEM;
    }
    enum mg_err e = mg_ac_put(env, MG_AC_KIND_TARGET, d->account, d->key, doc);
    json_decref(doc);
    *changed = true;
    return e;
}

static bool s_pending(const json_t *doc)
{
    if (mg_ac_mcp_synced_here(doc))
        return false; /* mcp_sync.c */
    return s_is(doc, "CREATING") || s_is(doc, "UPDATING") || s_is(doc, "DELETING") ||
           s_is(doc, "SYNCHRONIZING");
}

/* ---- the transitional documents of every snapshot ------------------------------------------
 * A snapshot extension keeps the gateways and targets in a transitional state, so a pass finds
 * them without walking every gateway and target (a write kicks a pass). */

struct s_pending_node {
    atomic_long refs;
    size_t len;
    char key[]; /* "g|t" \x1f account \x1f key */
};

struct s_pending_ext {
    struct mg_pmap m;
};

static int s_pending_slot = -1;

static void s_pending_unref(void *p)
{
    struct s_pending_node *n = p;
    if (n && atomic_fetch_sub(&n->refs, 1) == 1)
        mg_free(n);
}

static void s_pending_ref(void *p)
{
    atomic_fetch_add(&((struct s_pending_node *)p)->refs, 1);
}

static const struct mg_pmap_ops s_pending_ops = {s_pending_ref, s_pending_unref};

static void s_pending_destroy(void *p)
{
    struct s_pending_ext *x = p;
    if (x == NULL)
        return;
    mg_pmap_cleanup(&x->m);
    mg_free(x);
}

/* Indexed: what this worker finishes, and the MCP-server targets mcp_sync.c synchronizes. */
static bool s_indexed(const char *kind, const json_t *doc)
{
    return s_pending(doc) || (strcmp(kind, MG_AC_KIND_TARGET) == 0 && mg_ac_mcp_synced_here(doc));
}

/* Sets whether the document (kind, account, key) is pending, from the snapshot. */
static enum mg_err s_pending_set(struct s_pending_ext *x, const struct mg_snapshot *snap,
                                 const char *kind, const char *account, const char *key)
{
    bool target = strcmp(kind, MG_AC_KIND_TARGET) == 0;
    char k[3 * MG_STORE_NAME_MAX + 8];
    int kl = snprintf(k, sizeof(k), "%c\x1f%s\x1f%s", target ? 't' : 'g', account, key);
    if (kl < 0 || (size_t)kl >= sizeof(k))
        return MG_E_OK;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, kind, account, key);
    if (d == NULL || !s_indexed(kind, d->doc))
        return mg_pmap_set(&x->m, mg_slice_make(k, (size_t)kl), NULL);
    if (mg_pmap_get(&x->m, mg_slice_make(k, (size_t)kl)))
        return MG_E_OK;
    struct s_pending_node *n = mg_malloc(sizeof(*n) + (size_t)kl + 1);
    if (n == NULL)
        return MG_E_NOMEM;
    atomic_init(&n->refs, 1);
    n->len = (size_t)kl;
    mg_memcpy(n->key, k, (size_t)kl + 1);
    enum mg_err e = mg_pmap_set(&x->m, mg_slice_make(n->key, n->len), n);
    if (e)
        s_pending_unref(n);
    return e;
}

static enum mg_err s_pending_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_pending_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_pmap_init(&x->m, &s_pending_ops);
    enum mg_err e = MG_E_OK;
    for (int t = 0; t < 2 && !e; t++) {
        const char *kind = t ? MG_AC_KIND_TARGET : MG_AC_KIND_GATEWAY;
        size_t pos = 0, n;
        const struct mg_snapshot_doc *d;
        while (!e && (d = mg_snapshot_next_run(snap, kind, &pos, &n)))
            for (size_t i = 0; i < n && !e; i++)
                if (s_indexed(kind, d[i].doc))
                    e = s_pending_set(x, snap, kind, d[i].account, d[i].key);
    }
    if (e) {
        s_pending_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

static enum mg_err s_pending_apply(const void *prev, struct mg_snapshot *snap,
                                   const struct mg_snapshot_change *c, size_t n, void **out,
                                   struct mg_errinfo *ei)
{
    (void)ei;
    struct s_pending_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_pmap_share(&x->m, &((const struct s_pending_ext *)prev)->m);
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; i < n && !e; i++)
        if (strcmp(c[i].kind, MG_AC_KIND_GATEWAY) == 0 || strcmp(c[i].kind, MG_AC_KIND_TARGET) == 0)
            e = s_pending_set(x, snap, c[i].kind, c[i].account, c[i].key);
    if (e) {
        s_pending_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

void mg_ac_pending_init(void)
{
    static const char *const kinds[] = {MG_AC_KIND_GATEWAY, MG_AC_KIND_TARGET, NULL};
    static const struct mg_snapshot_ext ext = {"agentcore.pending", s_pending_build,
                                               s_pending_destroy, kinds, s_pending_apply};
    if (s_pending_slot < 0)
        s_pending_slot = mg_snapshot_register_ext(&ext);
}

/* The pending documents of a snapshot: targets first, each group in (account, key) order. */
struct s_pending_list {
    bool (*keep)(const struct mg_snapshot_doc *d);
    const struct mg_snapshot *snap;
    const struct mg_snapshot_doc **v;
    size_t n, cap;
    bool nomem;
};

static bool s_pending_collect(void *user, struct mg_slice key, void *value)
{
    (void)value;
    struct s_pending_list *l = user;
    char k[3 * MG_STORE_NAME_MAX + 8];
    if (key.len >= sizeof(k))
        return true;
    mg_memcpy(k, key.ptr, key.len);
    k[key.len] = 0;
    char *account = strchr(k, '\x1f');
    char *name = account ? strchr(account + 1, '\x1f') : NULL;
    if (name == NULL)
        return true;
    *account++ = 0;
    *name++ = 0;
    const struct mg_snapshot_doc *d = mg_snapshot_get(l->snap,
                                                      k[0] == 't' ? MG_AC_KIND_TARGET
                                                                  : MG_AC_KIND_GATEWAY,
                                                      account, name);
    if (d == NULL || !l->keep(d))
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        void *p = mg_realloc(l->v, cap * sizeof(const struct mg_snapshot_doc *));
        if (p == NULL) {
            l->nomem = true;
            return false;
        }
        l->v = p;
        l->cap = cap;
    }
    l->v[l->n++] = d;
    return true;
}

static int s_pending_cmp(const void *a, const void *b)
{
    const struct mg_snapshot_doc *x = *(const struct mg_snapshot_doc *const *)a;
    const struct mg_snapshot_doc *y = *(const struct mg_snapshot_doc *const *)b;
    int c = strcmp(y->kind, x->kind); /* agentcore_target before agentcore_gateway */
    if (c == 0)
        c = strcmp(x->account, y->account);
    return c ? c : strcmp(x->key, y->key);
}

static bool s_keep_worker(const struct mg_snapshot_doc *d)
{
    return s_pending(d->doc);
}

static bool s_keep_mcp(const struct mg_snapshot_doc *d)
{
    return strcmp(d->kind, MG_AC_KIND_TARGET) == 0 && mg_ac_mcp_synced_here(d->doc);
}

/* false: out of memory, or the snapshot has no pending index (then nothing is listed). */
static bool s_pending_list(const struct mg_snapshot *snap, struct s_pending_list *l)
{
    bool (*keep)(const struct mg_snapshot_doc *) = l->keep ? l->keep : s_keep_worker;
    memset(l, 0, sizeof(*l));
    l->keep = keep;
    l->snap = snap;
    if (snap == NULL || s_pending_slot < 0 || snap->ext[s_pending_slot] == NULL)
        return false;
    const struct s_pending_ext *x = snap->ext[s_pending_slot];
    mg_pmap_each(&x->m, s_pending_collect, l);
    if (l->nomem)
        return false;
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(const struct mg_snapshot_doc *), s_pending_cmp);
    return true;
}

bool mg_ac_pending_mcp_targets(const struct mg_snapshot *snap, const struct mg_snapshot_doc ***out,
                               size_t *n)
{
    struct s_pending_list l = {.keep = s_keep_mcp};
    bool ok = s_pending_list(snap, &l);
    *out = l.v;
    *n = l.n;
    return ok;
}

/* One pass: finishes everything transitional in a single write transaction. Only the node that
 * leads the background work runs it, and its transaction is fenced on the lease: a node that was
 * deposed meanwhile writes nothing. */
static void s_pass(struct mg_ac_worker *w)
{
    const struct mg_env *env = w->env;
    if (!mg_leader_active(w->leader, NULL))
        return;
    struct mg_snapshot *peek = mg_state_acquire(env->state);
    struct s_pending_list pl = {0};
    if (!s_pending_list(peek, &pl) || pl.n == 0) {
        mg_free(pl.v);
        mg_snapshot_unref(peek);
        return;
    }
    /* outside the write lock: the discovery URLs of CUSTOM_JWT gateways (peek stays held, so
     * the probes' documents stay valid) */
    struct s_probes pr;
    pr.n = 0;
    for (size_t i = 0; i < pl.n; i++)
        if (strcmp(pl.v[i]->kind, MG_AC_KIND_GATEWAY) == 0 &&
            (s_is(pl.v[i]->doc, "CREATING") || s_is(pl.v[i]->doc, "UPDATING")))
            s_probe(env, pl.v[i], &pr);
    mg_free(pl.v);
    uint64_t token = 0;
    if (!mg_leader_active(w->leader, &token) || mg_state_write_begin(env->state) != MG_E_OK) {
        mg_snapshot_unref(peek);
        return;
    }
    enum mg_err fe = mg_leader_fence(w->leader, token);
    if (fe != MG_E_OK) {
        mg_state_write_abort(env->state);
        mg_snapshot_unref(peek);
        if (fe == MG_E_CONFLICT)
            MG_LOG(MG_LOG_WARN, MG_SUB_MAIN,
                   "agentcore worker: pass dropped, this node no longer leads the background work");
        else
            MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "agentcore worker: cannot check the lease: %s",
                   mg_err_str(fe));
        return;
    }
    /* under the write lock, the current snapshot is exactly the store's state */
    struct mg_snapshot *snap = mg_state_acquire(env->state);
    pl.keep = NULL;
    enum mg_err e = s_pending_list(snap, &pl) ? MG_E_OK : MG_E_NOMEM;
    bool changed = false;
    for (size_t i = 0; i < pl.n && !e; i++) {
        const struct mg_snapshot_doc *d = pl.v[i];
        if (!s_pending(d->doc))
            continue;
        if (strcmp(d->kind, MG_AC_KIND_TARGET) == 0)
            e = s_target(env, snap, d, &changed);
        else
            e = s_gateway(env, snap, d, &pr, &changed);
    }
    mg_free(pl.v);
    mg_snapshot_unref(snap);
    mg_snapshot_unref(peek);
    struct mg_errinfo ei = {0};
    if (e || !changed) {
        mg_state_write_abort(env->state);
        if (e)
            MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "agentcore worker: write failed: %s", mg_err_str(e));
        return;
    }
    if (mg_state_write_commit(env->state, &ei) != MG_E_OK)
        MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "agentcore worker: commit failed: %s", ei.msg);
}

static void *s_run(void *arg)
{
    struct mg_ac_worker *w = arg;
    for (;;) {
        s_pass(w);
        pthread_mutex_lock(&w->mu);
        if (!w->stop && !w->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        }
        bool stop = w->stop;
        w->kicked = false;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
    }
    return NULL;
}

static void s_on_lead(void *arg)
{
    mg_ac_kick(arg);
}

static size_t s_env_size(const char *name, size_t def)
{
    const char *v = getenv(name);
    uint64_t n;
    if (v && mg_slice_to_u64(mg_slice_cstr(v), &n) && n > 0 && n < 1000000)
        return (size_t)n;
    return def;
}

static enum mg_err s_start(const struct mg_env *env, const void *config, void **state,
                           struct mg_errinfo *ei)
{
    (void)config;
    *state = NULL;
    mg_ac_set_url_env(env);
    mg_vault_set_in_use_hook(mg_ac_provider_in_use);
    mg_agentcore_set_page_size(env->tools_page_size ? env->tools_page_size
                                                    : MG_TOOL_PAGE_SIZE_DEFAULT);
    mg_agentcore_init();
    mg_ac_pending_init();
    MG_TRY(mg_state_extend(env->state, ei));
    struct mg_ac_worker *w = mg_calloc(1, sizeof(*w));
    if (w == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->env = env;
    w->quotas = MG_AC_QUOTAS_DEFAULT;
    w->quotas.gateways_per_account = s_env_size("MCPGATE_MAX_GATEWAYS_PER_ACCOUNT", 1000);
    w->quotas.targets_per_gateway = s_env_size("MCPGATE_MAX_TARGETS_PER_GATEWAY", 100);
    w->quotas.tools_per_target = s_env_size("MCPGATE_MAX_TOOLS_PER_TARGET", 1000);
    enum mg_err le = env->store ? mg_leader_start(env->store, 0, 0, &w->leader, ei) : MG_E_OK;
    if (le != MG_E_OK) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        mg_free(w);
        return le;
    }
    if (pthread_create(&w->thread, NULL, s_run, w) != 0) {
        mg_leader_stop(w->leader);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        mg_free(w);
        return mg_errinfo_set(ei, MG_E_INTERNAL, "could not start the AgentCore worker thread");
    }
    w->running = true;
    w->mcp = mg_ac_mcp_sync_start(env, &w->quotas, w->leader);
    if (w->mcp == NULL)
        MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "could not start the MCP-server synchronization thread");
    /* A node that becomes the leader runs a pass at once: what a dead leader left unfinished. */
    mg_leader_on_lead(w->leader, s_on_lead, w);
    *state = w;
    return MG_E_OK;
}

static void s_stop(void *state)
{
    struct mg_ac_worker *w = state;
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->running)
        pthread_join(w->thread, NULL);
    mg_ac_mcp_sync_stop(w->mcp);
    mg_leader_stop(w->leader); /* after the workers: their last writes were fenced on it */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    mg_free(w);
    mg_ac_set_url_env(NULL);
    mg_vault_set_in_use_hook(NULL);
}

const struct mg_service mg_agentcore_service = {"bedrock-agentcore", MG_SERVICE_REST_JSON,
                                                mg_agentcore_handle, s_start, s_stop};
