#include "app/app.h"

#include <string.h>

#include "base/log.h"
#include "base/util.h"

static void s_loop_start(void *user, int loop)
{
    (void)user;
    (void)loop;
}

static void s_loop_stop(void *user, int loop)
{
    struct mg_app *app = user;
    mg_sigv4_thread_cleanup();
    if (loop >= 0 && loop < MG_MAX_LOOPS)
        mg_state_reader_release(&app->readers[loop]);
}

enum mg_err mg_app_open(struct mg_app *app, const struct mg_app_config *cfg,
                        struct mg_errinfo *ei)
{
    memset(app, 0, sizeof(*app));
    app->cfg = *cfg;
    mg_iam_init();
    MG_TRY(mg_store_open(cfg->data_dir, &app->store, ei));
    enum mg_err e = mg_state_init(&app->state, app->store, ei);
    if (!e) {
        if (cfg->identities)
            e = mg_iam_apply_identities(&app->state, cfg->identities, ei);
        else
            e = mg_iam_apply_default_identities(&app->state, ei);
    }
    if (!e) {
        app->key_cache = mg_sigv4_key_cache_new(4096);
        if (app->key_cache == NULL)
            e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    }
    if (!e)
        e = mg_app_load_token_key(app, ei);
    if (!e)
        e = mg_agentcore_start(app, ei);
    if (!e)
        e = mg_lambda_start(app, ei);
    if (!e)
        e = mg_mcp_start(app, ei);
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
    return mg_http_start(&app->cfg.http, mg_app_handle, s_loop_start, s_loop_stop, app,
                         &app->http, ei);
}

void mg_app_stop(struct mg_app *app)
{
    if (app->http) {
        mg_http_stop(app->http, 10000);
        mg_http_free(app->http);
        app->http = NULL;
    }
}

void mg_app_close(struct mg_app *app)
{
    mg_app_stop(app);
    mg_mcp_stop(app);
    mg_lambda_stop(app);
    mg_agentcore_stop(app);
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
    struct mg_buf b;
    mg_buf_init(&b, 64);
    enum mg_err e = mg_store_meta_get(app->store, "token_key", &b);
    if (e == MG_E_OK && b.len == sizeof(app->token_key)) {
        mg_memcpy(app->token_key, b.ptr, b.len);
    } else if (e == MG_E_OK || e == MG_E_NOT_FOUND) {
        mg_random_bytes(app->token_key, sizeof(app->token_key));
        e = mg_store_meta_put(app->store, "token_key",
                              mg_slice_make(app->token_key, sizeof(app->token_key)));
    }
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
    if (e)
        return mg_errinfo_set(ei, e, "cannot load or create the token key in the store");
    return MG_E_OK;
}
