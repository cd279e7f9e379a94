#include "app/app.h"

#include <string.h>

#include "agentcore/agentcore.h"
#include "base/log.h"
#include "base/util.h"
#include "http/client.h"
#include "iam/iam.h"
#include "issuer/issuer.h"
#include "mcp/mcp.h"
#include "oidc/oidc.h"
#include "state/feed.h"
#include "vault/vault.h"

/* The services, in start order: each module exports its descriptor from its own header. The MCP
 * data plane comes after Lambda, whose state its configuration carries. */
static const struct mg_service *const s_services[MG_APP_SERVICES] = {
    &mg_iam_service, &mg_sts_service, &mg_agentcore_service, &mg_lambda_service, &mg_mcp_service,
};

/* The configuration of a service that is about to start (NULL: it takes none). */
static const void *s_config_of(struct mg_app *app, const struct mg_service *svc)
{
    if (svc == &mg_lambda_service)
        return &app->cfg.lambda;
    if (svc == &mg_mcp_service) {
        void *lambda = NULL;
        (void)mg_app_service(app, mg_slice_cstr("lambda"), &lambda);
        app->mcp_cfg.lambda = lambda;
        return &app->mcp_cfg;
    }
    return NULL;
}

static void s_env_init(struct mg_app *app)
{
    struct mg_env *env = &app->env;
    env->region = app->cfg.region;
    env->public_url = app->cfg.public_url;
    env->gateway_url_template = app->cfg.gateway_url_template;
    env->listen_host = app->cfg.http.listen_host;
    env->data_dir = app->cfg.data_dir;
    env->clock_skew = app->cfg.clock_skew;
    env->tools_page_size = app->cfg.tools_page_size;
    env->store = app->store;
    env->state = &app->state;
    env->readers = app->readers;
    env->key_cache = app->key_cache;
    env->token_key = app->token_key;
    env->identity = &mg_iam_identity;
    env->http = app->http_client;
}

enum mg_err mg_app_start_services(struct mg_app *app, const struct mg_service *const *table,
                                  size_t n, struct mg_errinfo *ei)
{
    if (n > MG_APP_SERVICES)
        return mg_errinfo_set(ei, MG_E_INTERNAL, "too many services");
    for (size_t i = 0; i < n; i++) {
        const struct mg_service *svc = table[i];
        void *state = NULL;
        if (svc->start) {
            enum mg_err e = svc->start(&app->env, s_config_of(app, svc), &state, ei);
            if (e) {
                if (svc->stop)
                    svc->stop(state);
                mg_app_stop_services(app);
                return e;
            }
        }
        app->services[i] = svc;
        app->service_state[i] = state;
        app->n_started = i + 1;
    }
    return MG_E_OK;
}

void mg_app_stop_services(struct mg_app *app)
{
    while (app->n_started > 0) {
        size_t i = --app->n_started;
        if (app->services[i]->stop)
            app->services[i]->stop(app->service_state[i]);
        app->services[i] = NULL;
        app->service_state[i] = NULL;
    }
}

const struct mg_service *mg_app_service(const struct mg_app *app, struct mg_slice name,
                                        void **state)
{
    for (size_t i = 0; i < app->n_started; i++) {
        if (mg_slice_eq_cstr(name, app->services[i]->name)) {
            *state = app->service_state[i];
            return app->services[i];
        }
    }
    *state = NULL;
    return NULL;
}

static void s_loop_start(void *user, int loop)
{
    (void)user;
    (void)loop;
}

static void s_loop_stop(void *user, int loop)
{
    struct mg_app *app = user;
    mg_sigv4_thread_cleanup();
    void *mcp = NULL;
    if (mg_app_service(app, mg_slice_cstr("mcp"), &mcp) != NULL)
        mg_mcp_loops_stopped(mcp);
    if (loop >= 0 && loop < MG_MAX_LOOPS)
        mg_state_reader_release(&app->readers[loop]);
}

/* The change feed applied other nodes' writes: the workers a local write would wake look at
 * them (the services are started before the feed and stopped after it). */
static void s_feed_changed(void *user)
{
    struct mg_app *app = user;
    void *ac = NULL;
    if (mg_app_service(app, mg_slice_cstr("bedrock-agentcore"), &ac) != NULL)
        mg_agentcore_kick(ac);
}

enum mg_err mg_app_open(struct mg_app *app, const struct mg_app_config *cfg, struct mg_errinfo *ei)
{
    memset(app, 0, sizeof(*app));
    app->cfg = *cfg;
    mg_iam_init();
    if (cfg->store != NULL) { /* the data directory still holds Lambda code and keys */
        enum mg_err md = mg_store_make_dir(cfg->data_dir);
        if (md != MG_E_OK) {
            mg_store_last_error(ei);
            return md;
        }
    }
    mg_agentcore_register_docs(); /* before the first snapshot reads them */
    mg_lambda_register_docs();
    MG_TRY(mg_store_open(cfg->store != NULL ? cfg->store : cfg->data_dir, &app->store, ei));
    /* the store's generation before the first snapshot is read (see the identities below; the
     * change feed replays what other nodes commit from there on) */
    uint64_t gen_before = 0;
    enum mg_err e = mg_store_generation_refresh(app->store, &gen_before);
    if (e) {
        mg_store_last_error(ei);
        mg_store_close(app->store);
        app->store = NULL;
        return e;
    }
    e = mg_state_init(&app->state, app->store, ei);
    if (!e) {
        /* a PostgreSQL store is one several nodes may share: one set of identities for all */
        struct mg_iam_identities_start ids = {
            .path = cfg->identities,
            .shared = cfg->store != NULL && mg_store_location_is_pg(cfg->store),
            .update = cfg->identities_update,
        };
        e = mg_iam_start_identities(&app->state, &ids, ei);
        /* identities this node did not write itself may have been committed by another node
         * after its first snapshot was read (nodes starting together): read it again then */
        uint64_t gen_now = gen_before;
        if (!e && ids.outcome != MG_IAM_IDENTITIES_APPLIED &&
            (e = mg_store_generation_refresh(app->store, &gen_now)) != MG_E_OK)
            mg_store_last_error(ei);
        if (!e && gen_now != gen_before)
            e = mg_state_rebuild(&app->state, ei);
        if (!e && ids.outcome == MG_IAM_IDENTITIES_SAME)
            MG_LOG(MG_LOG_INFO, MG_SUB_IAM,
                   "identities: the shared store holds the content of %s already", cfg->identities);
        else if (!e && ids.outcome == MG_IAM_IDENTITIES_FROM_STORE)
            MG_LOG(MG_LOG_INFO, MG_SUB_IAM, "identities: using those of the shared store (%s)",
                   ids.store_has_file ? "from an identities file" : "the built-in test key");
        if (!e && !ids.store_has_file && !mg_host_is_loopback(cfg->http.listen_host))
            e = mg_errinfo_set(ei, MG_E_INVALID,
                               "refusing to listen on %s with the well-known test credentials: "
                               "the store holds no identities file's accounts; give "
                               "--identities FILE",
                               cfg->http.listen_host);
    }
    if (!e) {
        app->key_cache = mg_sigv4_key_cache_new(4096);
        if (app->key_cache == NULL)
            e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    if (!e)
        e = mg_app_load_token_key(app, ei);
    if (!e && cfg->oauth_issuer) /* the built-in issuer; it reads the public URL per request */
        e = mg_issuer_new(cfg->oauth_issuer, app->store, cfg->data_dir, app->cfg.public_url,
                          &app->issuer, ei);
    if (!e) {
        /* before the services that use it; a bad --outbound-ca bundle stops the start here */
        struct mg_http_client_config hc = {.cas = cfg->outbound_ca,
                                           .n_cas = cfg->n_outbound_ca,
                                           .deny_local = cfg->outbound_deny_local,
                                           .allow = cfg->outbound_allow,
                                           .n_allow = cfg->n_outbound_allow};
        e = mg_http_client_new_with(&app->http_client, &hc, ei);
    }
    if (!e) {
        s_env_init(app);
        /* AgentCore Identity's runtime: its key lives in the store's meta */
        e = mg_vault_new(&app->env, &app->env.vault, ei);
    }
    if (!e && mg_oidc_new(app->http_client, &app->env.oidc) != MG_E_OK)
        e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    if (!e)
        e = mg_app_start_services(app, s_services, MG_APP_SERVICES, ei);
    /* nodes sharing a PostgreSQL store follow each other's writes; an SQLite store has one */
    if (!e && cfg->store != NULL && mg_store_location_is_pg(cfg->store))
        e = mg_state_feed_start(&app->state, gen_before, s_feed_changed, app, &app->feed, ei);
    if (e) {
        mg_app_close(app);
        return e;
    }
    return MG_E_OK;
}

enum mg_err mg_app_serve(struct mg_app *app, struct mg_errinfo *ei)
{
    if (app->cfg.http.threads > MG_MAX_LOOPS)
        app->cfg.http.threads = MG_MAX_LOOPS;
    return mg_http_start(&app->cfg.http, mg_app_handle, s_loop_start, s_loop_stop, app, &app->http,
                         ei);
}

void mg_app_stop(struct mg_app *app)
{
    if (app->http) {
        /* outbound calls still waiting on their upstreams end first (their callers answer with
         * an error while the loops run), so no upstream holds up the grace period, and the
         * synchronization of MCP servers stops waiting */
        mg_http_client_shutdown(app->http_client);
        mg_http_stop(app->http, 10000);
        mg_http_free(app->http);
        app->http = NULL;
    }
}

void mg_app_close(struct mg_app *app)
{
    mg_app_stop(app);
    mg_state_feed_stop(app->feed); /* before the services its hook wakes */
    app->feed = NULL;
    mg_app_stop_services(app);
    mg_vault_free(app->env.vault);
    app->env.vault = NULL;
    mg_http_client_shutdown(app->http_client); /* idempotent; NULL is fine */
    mg_oidc_free(app->env.oidc);               /* its fetches ended with the shutdown */
    app->env.oidc = NULL;
    mg_http_client_free(app->http_client); /* after the services that use it */
    app->http_client = NULL;
    app->env.http = NULL;
    mg_issuer_free(app->issuer); /* the built-in OAuth issuer: its reloader reads the store */
    app->issuer = NULL;
    if (app->store) {
        mg_state_cleanup(&app->state);
        mg_store_close(app->store);
        app->store = NULL;
    }
    mg_sigv4_key_cache_free(app->key_cache);
    app->key_cache = NULL;
}

enum mg_err mg_app_load_token_key(struct mg_app *app, struct mg_errinfo *ei)
{
    /* made once for every node sharing the store: insert when absent, then read back */
    enum mg_err e = mg_store_meta_secret(app->store, "token_key", app->token_key,
                                         sizeof(app->token_key));
    if (e) {
        struct mg_errinfo se = {0};
        mg_store_last_error(&se);
        return mg_errinfo_set(ei, e, "cannot load or create the token key in the store: %s",
                              se.msg);
    }
    return MG_E_OK;
}
