/* src/app/app.h: the running server: configuration, state, and the request pipeline
 * (route -> authenticate -> authorize -> handler). */
#ifndef MG_APP_H
#define MG_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "http/http.h"
#include "iam/iam.h"
#include "sigv4/sigv4.h"
#include "state/snapshot.h"

#define MG_DEFAULT_PORT 4777
#define MG_MAX_LOOPS 64

struct mg_app_config {
    struct mg_http_config http;
    char data_dir[1024];
    const char *identities;  /* file, or NULL */
    char region[64];
    int64_t clock_skew;      /* seconds */
    char public_url[512];    /* how clients reach us, e.g. http://127.0.0.1:4777 */
};

struct mg_app {
    struct mg_app_config cfg;
    struct mg_store *store;
    struct mg_state state;
    struct mg_sigv4_key_cache *key_cache;
    struct mg_state_reader readers[MG_MAX_LOOPS];
    struct mg_http_server *http;
};

/* One authenticated API call on its way to a handler. */
struct mg_call {
    struct mg_app *app;
    struct mg_http_exchange *x;
    const struct mg_http_req *req;
    struct mg_snapshot *snap;
    struct mg_principal principal;
    struct mg_sigv4_auth auth;
    enum mg_aws_protocol protocol;
};

MG_MUST_USE enum mg_err mg_app_open(struct mg_app *app, const struct mg_app_config *cfg,
                                    struct mg_errinfo *ei);
MG_MUST_USE enum mg_err mg_app_serve(struct mg_app *app, struct mg_errinfo *ei);
void mg_app_stop(struct mg_app *app);
void mg_app_close(struct mg_app *app);

/* The HTTP entry point. */
void mg_app_handle(void *user, struct mg_http_exchange *x);

/* Service handlers. */
void mg_sts_handle(struct mg_call *c, const struct mg_aws_params *params);

#endif
