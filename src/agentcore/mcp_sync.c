/* Synchronization of MCP-server targets: a target of kind mcpServer that is CREATING, UPDATING
 * or SYNCHRONIZING gets its tools listed from the upstream server (targets/mcp_client.h) and
 * becomes READY with them as "_tools", or FAILED / UPDATE_UNSUCCESSFUL /
 * SYNCHRONIZE_UNSUCCESSFUL with AgentCore's status reasons.
 *
 * It runs on its own thread, so that a slow or dead server never delays the background worker
 * (lifecycle.c), which finishes every other kind of target and the gateways. Targets are synced
 * one after the other, each bounded by MG_MCP_CLIENT_SYNC_MS (40 s): n slow servers take at most
 * n x 40 s. The I/O runs without the store's write lock, from a snapshot; the result is written
 * under the lock only if the target is still the one that was synced (same status and
 * updatedAt): a target updated, synchronized again or deleted meanwhile is left for the next
 * pass. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentcore/internal.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "state/leader.h"
#include "targets/mcp_client.h"
#include "vault/vault.h"

struct mg_ac_mcp_sync {
    const struct mg_env *env;
    struct mg_ac_quotas quotas;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kicked, running;
    struct mg_leader *leader;
};

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const json_t *s_server(const json_t *doc)
{
    return json_object_get(json_object_get(json_object_get(doc, "targetConfiguration"), "mcp"),
                           "mcpServer");
}

bool mg_ac_mcp_synced_here(const json_t *doc)
{
    const char *st = s_str(doc, "status");
    if (s_server(doc) == NULL || st == NULL)
        return false;
    return strcmp(st, "CREATING") == 0 || strcmp(st, "UPDATING") == 0 ||
           strcmp(st, "SYNCHRONIZING") == 0;
}

/* ---- credentials: resolved once per sync, again after a 401 --------------------------------- */

struct s_cred {
    const struct mg_env *env;
    struct mg_snapshot *snap;
    const struct mg_gateway_target *t;
    struct mg_vault_target vt;
    struct mg_vault_cred *cred;
};

static void s_cred_drop(struct s_cred *k)
{
    if (k->cred) {
        mg_vault_cred_cleanup(k->cred);
        mg_free(k->cred);
        k->cred = NULL;
    }
}

static enum mg_err s_cred_apply(void *arg, bool refresh, struct mg_target_req *req, char *msg,
                                size_t cap)
{
    struct s_cred *k = arg;
    if (k->t->credential_type == MG_CRED_NONE)
        return MG_E_OK;
    if (k->cred == NULL || refresh) {
        s_cred_drop(k);
        MG_TRY(mg_vault_target_cred_wait(k->env, k->snap, &k->vt, refresh, &k->cred, msg, cap));
    }
    enum mg_err e = mg_vault_cred_apply(k->cred, req, mg_now());
    if (e)
        snprintf(msg, cap, "the credentials could not be applied (%s)", mg_err_str(e));
    return e;
}

/* ---- one target ------------------------------------------------------------------------------ */

static const struct mg_gateway_target *s_find(const struct mg_snapshot *snap, const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash == NULL)
        return NULL;
    const struct mg_gateway *gw = mg_agentcore_gateway(snap,
                                                       mg_slice_make(key, (size_t)(slash - key)));
    for (size_t i = 0; gw && i < gw->n_targets; i++)
        if (strcmp(gw->targets[i].id, slash + 1) == 0)
            return &gw->targets[i];
    return NULL;
}

/* Writes the outcome if the target is still the one synced. */
static void s_write(const struct mg_env *env, struct mg_leader *leader, const char *account,
                    const char *key, const char *status, const char *updated, json_t *tools,
                    const char *reason)
{
    uint64_t token = 0;
    if (!mg_leader_active(leader, &token))
        return; /* the node that leads now synchronizes it again */
    if (mg_state_write_begin(env->state) != MG_E_OK)
        return;
    enum mg_err fe = mg_leader_fence(leader, token);
    if (fe != MG_E_OK) {
        mg_state_write_abort(env->state);
        MG_LOG(MG_LOG_WARN, MG_SUB_MAIN, "target %s: not written, %s", key,
               fe == MG_E_CONFLICT ? "this node no longer leads the background work"
                                   : mg_err_str(fe));
        return;
    }
    struct mg_snapshot *snap = mg_state_acquire(env->state);
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, MG_AC_KIND_TARGET, account, key);
    const char *st = d ? s_str(d->doc, "status") : NULL;
    const char *up = d ? s_str(d->doc, "updatedAt") : NULL;
    if (st == NULL || strcmp(st, status) != 0 || up == NULL || strcmp(up, updated) != 0) {
        mg_snapshot_unref(snap);
        mg_state_write_abort(env->state);
        MG_LOG(MG_LOG_INFO, MG_SUB_MAIN, "target %s changed while it was synchronized", key);
        return;
    }
    json_t *doc = json_deep_copy(d->doc);
    mg_snapshot_unref(snap);
    bool ok = doc != NULL;
    if (ok && tools) {
        char now[32];
        mg_ac_now(now);
        (void)json_object_del(doc, "statusReasons");
        ok = mg_json_set(doc, "status", json_string("READY")) &&
             mg_json_set_ref(doc, "_tools", tools) &&
             mg_json_set(doc, "lastSynchronizedAt", json_string(now));
        if (ok)
            mg_ac_compact_target(doc);
    } else if (ok) {
        const char *fail = strcmp(status, "CREATING") == 0   ? "FAILED"
                           : strcmp(status, "UPDATING") == 0 ? "UPDATE_UNSUCCESSFUL"
                                                             : "SYNCHRONIZE_UNSUCCESSFUL";
        char text[2048];
        snprintf(text, sizeof(text), "%s%s",
                 strcmp(status, "UPDATING") == 0 ? "Gateway target update failed or timed out: "
                                                 : "",
                 reason);
        ok = mg_json_set(doc, "status", json_string(fail)) &&
             mg_json_set(doc, "statusReasons", json_pack("[s]", text));
    }
    enum mg_err e = ok ? mg_ac_put(env, MG_AC_KIND_TARGET, account, key, doc) : MG_E_NOMEM;
    json_decref(doc);
    struct mg_errinfo ei = {0};
    if (e) {
        mg_state_write_abort(env->state);
        MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "target %s: write failed: %s", key, mg_err_str(e));
    } else if (mg_state_write_commit(env->state, &ei) != MG_E_OK) {
        MG_LOG(MG_LOG_ERROR, MG_SUB_MAIN, "target %s: commit failed: %s", key, ei.msg);
    }
}

static bool s_stopping(struct mg_ac_mcp_sync *s)
{
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void s_sync_one(struct mg_ac_mcp_sync *s, struct mg_snapshot *snap,
                       const struct mg_snapshot_doc *d)
{
    const struct mg_env *env = s->env;
    const struct mg_gateway_target *t = s_find(snap, d->key);
    const char *status = s_str(d->doc, "status");
    const char *updated = s_str(d->doc, "updatedAt");
    const char *endpoint = s_str(s_server(d->doc), "endpoint");
    if (t == NULL || status == NULL || updated == NULL)
        return; /* its gateway is going: the worker removes it */
    char reason[1024] = "";
    json_t *tools = NULL;
    const char *name = t->name ? t->name : "";
    if (env->http == NULL || endpoint == NULL) {
        snprintf(reason, sizeof(reason), "%s Outbound HTTP is not available.",
                 MG_MCP_CLIENT_SYNC_FAILED);
    } else {
        struct s_cred k = {.env = env, .snap = snap, .t = t, .vt = mg_agentcore_vault_target(t)};
        struct mg_mcp_client_sync req = {
            .http = env->http,
            .endpoint = endpoint,
            .cred = s_cred_apply,
            .cred_arg = &k,
            .lim = {.max_tools = s->quotas.tools_per_target,
                    .max_name = s->quotas.tool_name_len,
                    .target_name_len = strlen(name)},
        };
        uint64_t t0 = mg_mono_ns();
        enum mg_err e = mg_mcp_client_sync_tools(&req, &tools, reason, sizeof(reason));
        s_cred_drop(&k);
        MG_LOG(e ? MG_LOG_WARN : MG_LOG_INFO, MG_SUB_MAIN,
               "target %s: MCP server synchronized in %llu ms: %s", d->key,
               (unsigned long long)((mg_mono_ns() - t0) / 1000000u), e ? reason : "tools listed");
        if (e == MG_E_OK && tools) {
            char buf[256];
            const char *bad = mg_ac_check_tools(tools, buf, sizeof(buf));
            if (bad) {
                snprintf(reason, sizeof(reason), "%s", bad);
                json_decref(tools);
                tools = NULL;
            }
        }
    }
    if (mg_http_client_stopped(env->http) || s_stopping(s)) {
        /* the server is stopping: the target stays as it is, synchronized at the next start */
        json_decref(tools);
        return;
    }
    s_write(env, s->leader, d->account, d->key, status, updated, tools, reason);
    json_decref(tools);
}

/* Stops a pass when the server stops or this node no longer leads. */
static bool s_go(struct mg_ac_mcp_sync *s)
{
    return !s_stopping(s) && mg_leader_active(s->leader, NULL);
}

static void s_pass(struct mg_ac_mcp_sync *s)
{
    if (!mg_leader_active(s->leader, NULL))
        return;
    struct mg_snapshot *snap = mg_state_acquire(s->env->state);
    const struct mg_snapshot_doc **v = NULL;
    size_t n = 0;
    if (mg_ac_pending_mcp_targets(snap, &v, &n)) {
        for (size_t i = 0; i < n && s_go(s); i++)
            s_sync_one(s, snap, v[i]);
    } else { /* no index: walk every target */
        size_t nt, pos = 0;
        const struct mg_snapshot_doc *t;
        while (s_go(s) && (t = mg_snapshot_next_run(snap, MG_AC_KIND_TARGET, &pos, &nt)))
            for (size_t i = 0; i < nt && s_go(s); i++)
                if (mg_ac_mcp_synced_here(t[i].doc))
                    s_sync_one(s, snap, &t[i]);
    }
    mg_free(v);
    mg_snapshot_unref(snap);
}

static void *s_run(void *arg)
{
    struct mg_ac_mcp_sync *s = arg;
    for (;;) {
        s_pass(s);
        pthread_mutex_lock(&s->mu);
        if (!s->stop && !s->kicked) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        bool stop = s->stop;
        s->kicked = false;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
    }
    return NULL;
}

struct mg_ac_mcp_sync *mg_ac_mcp_sync_start(const struct mg_env *env, const struct mg_ac_quotas *q,
                                            struct mg_leader *leader)
{
    struct mg_ac_mcp_sync *s = mg_calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->env = env;
    s->quotas = *q;
    s->leader = leader;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, s_run, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        mg_free(s);
        return NULL;
    }
    s->running = true;
    return s;
}

void mg_ac_mcp_sync_kick(struct mg_ac_mcp_sync *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->kicked = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void mg_ac_mcp_sync_stop(struct mg_ac_mcp_sync *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (s->running)
        pthread_join(s->thread, NULL); /* at most one request's timeout */
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    mg_free(s);
}
