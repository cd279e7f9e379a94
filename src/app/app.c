#include "app/app.h"

#include <string.h>

#include "base/log.h"

static void s_loop_start(void *user, int loop)
{
    (void)user;
    (void)loop;
}

static void s_loop_stop(void *user, int loop)
{
    struct mg_app *app = user;
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
    if (app->store) {
        mg_state_cleanup(&app->state);
        mg_store_close(app->store);
        app->store = NULL;
    }
    mg_sigv4_key_cache_free(app->key_cache);
    app->key_cache = NULL;
}
