/* The Lambda module: start/stop, interpreters, and the in-process invocation entry point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "lambda/internal.h"

static bool s_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* <dir of the executable>/../../runtimes (build/dev/mcpgate), then ./runtimes. */
static void s_find_runtimes(struct mg_lambda *L, const char *configured)
{
    if (configured && configured[0]) {
        mg_lambda_strlcpy(L->runtimes_dir, sizeof(L->runtimes_dir), configured);
        return;
    }
    char exe[1024];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            char cand[1100], real[4096];
            const char *ups[] = {"/../../runtimes", "/../runtimes", "/../share/mcpgate/runtimes"};
            for (size_t i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
                snprintf(cand, sizeof(cand), "%s%s", exe, ups[i]);
                if (s_is_dir(cand) && realpath(cand, real) && strlen(real) < sizeof(L->runtimes_dir)) {
                    mg_lambda_strlcpy(L->runtimes_dir, sizeof(L->runtimes_dir), real);
                    return;
                }
            }
        }
    }
    char real[4096];
    if (realpath("runtimes", real) && strlen(real) < sizeof(L->runtimes_dir))
        mg_lambda_strlcpy(L->runtimes_dir, sizeof(L->runtimes_dir), real);
    else
        snprintf(L->runtimes_dir, sizeof(L->runtimes_dir), "./runtimes");
}

/* The interpreter's real path: shims (pyenv) would need their own environment. */
static void s_find_interpreter(const char *env, const char *cmd, char *out, size_t cap,
                               const char *fallback)
{
    const char *v = getenv(env);
    if (v && v[0]) {
        snprintf(out, cap, "%s", v);
        return;
    }
    snprintf(out, cap, "%s", fallback);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return;
    char line[1024];
    if (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t n = strlen(line);
        if (line[0] == '/' && n < cap) { /* a path that does not fit is not used */
            mg_memcpy(out, line, n);
            out[n] = 0;
        }
    }
    pclose(f);
}

enum mg_err mg_lambda_start(struct mg_app *app, struct mg_errinfo *ei)
{
    mg_lambda_init();
    /* the extension registered after the first snapshot: build one that has it */
    MG_TRY(mg_state_rebuild(&app->state, ei));
    struct mg_lambda *L = mg_calloc(1, sizeof(*L));
    if (L == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    L->app = app;
    L->wake_fd = -1;
    pthread_mutex_init(&L->mu, NULL);
    mg_map_init(&L->fns);
    L->concurrency = app->cfg.lambda_concurrency > 0 ? app->cfg.lambda_concurrency : 10;
    L->queue_max = app->cfg.lambda_queue > 0 ? app->cfg.lambda_queue : 100;
    L->idle_ms = (app->cfg.lambda_idle_seconds > 0 ? app->cfg.lambda_idle_seconds : 300) * 1000;
    s_find_runtimes(L, app->cfg.runtimes_dir);
    s_find_interpreter("MCPGATE_PYTHON", "python3 -c 'import sys; print(sys.executable)' 2>/dev/null",
                       L->python, sizeof(L->python), "/usr/bin/python3");
    s_find_interpreter("MCPGATE_NODE", "node -p process.execPath 2>/dev/null", L->node,
                       sizeof(L->node), "/usr/bin/node");
    MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA, "runtimes from %s; python %s; node %s", L->runtimes_dir,
           L->python, L->node);
    app->lambda = L;
    const char *interpreters[] = {L->python, L->node, NULL};
    enum mg_err e = mg_lambda_sandbox_init(&L->sandbox, app->cfg.lambda_isolation,
                                           L->runtimes_dir, app->cfg.data_dir, interpreters, ei);
    if (e) {
        mg_lambda_stop(app);
        return e;
    }
    e = mg_lambda_manager_start(L, ei);
    if (e) {
        mg_lambda_stop(app);
        return e;
    }
    return MG_E_OK;
}

void mg_lambda_stop(struct mg_app *app)
{
    struct mg_lambda *L = app->lambda;
    if (L == NULL)
        return;
    mg_lambda_manager_stop(L);
    mg_lambda_sandbox_cleanup(&L->sandbox);
    pthread_mutex_destroy(&L->mu);
    mg_free(L);
    app->lambda = NULL;
}

enum mg_err mg_lambda_invoke_async(struct mg_app *app, const char *function, const char *account,
                                   struct mg_slice payload, struct mg_slice client_context_json,
                                   mg_lambda_done_fn done, void *user)
{
    struct mg_lambda *L = app->lambda;
    if (L == NULL)
        return MG_E_INTERNAL;
    struct mg_lambda_name n;
    if (!mg_lambda_parse_name(function, &n))
        return MG_E_INVALID;
    const char *acct = n.account[0] ? n.account : account;
    if (acct == NULL || strlen(acct) != 12)
        return MG_E_INVALID;
    if (payload.len > MG_LAMBDA_PAYLOAD_MAX)
        return MG_E_TOO_LARGE;
    struct mg_lambda_inv *inv = mg_lambda_inv_new(acct, n.name, payload, client_context_json,
                                                  done, user);
    if (inv == NULL)
        return MG_E_NOMEM;
    mg_lambda_submit(L, inv);
    return MG_E_OK;
}
