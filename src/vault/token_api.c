/* GetResourceOauth2Token, the identity data plane's OAuth2 token operation
 * (bedrock-agentcore, POST /identities/oauth2/token):
 *   1. the workload access token is opened and checked (mg_vault_token_op_allowed);
 *   2. the caller needs bedrock-agentcore:GetResourceOauth2Token on the workload identity and
 *      on the OAuth2 credential provider, arn:aws:bedrock-agentcore:REGION:ACCOUNT:
 *      token-vault/default/oauth2credentialprovider/NAME;
 *   3. oauth2Flow M2M: a client-credentials token (oauth.c: cached, else fetched without
 *      blocking the loop; the answer is then sent from the outbound client's thread);
 *      USER_FEDERATION and ON_BEHALF_OF_TOKEN_EXCHANGE are not implemented (501). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "vault/internal.h"

/* The answer of one call, whichever thread it arrives on. */
struct s_pending {
    pthread_mutex_t lock;
    bool deferred; /* the handler returned: the callback answers on the exchange */
    bool done;     /* the callback ran while the handler still held the call */
    struct mg_http_exchange *x;
    char request_id[37];
    enum mg_err err;
    char *token;
    char msg[512];
};

static void s_pending_free(struct s_pending *pd)
{
    pthread_mutex_destroy(&pd->lock);
    if (pd->token) {
        mg_memzero(pd->token, strlen(pd->token));
        mg_free(pd->token);
    }
    mg_free(pd);
}

/* The error that answers a failed token request. */
static void s_error_of(enum mg_err e, int *status, const char **code)
{
    switch (e) {
    case MG_E_NOT_FOUND:
        *status = 404;
        *code = "ResourceNotFoundException";
        return;
    case MG_E_DENIED:
    case MG_E_INVALID:
    case MG_E_PARSE:
    case MG_E_AUTH:
        *status = 400;
        *code = "ValidationException";
        return;
    case MG_E_UNAVAILABLE:
        *status = 503;
        *code = "ServiceException";
        return;
    case MG_E_OK:
    case MG_E_NOMEM:
    case MG_E_TOO_LARGE:
    case MG_E_STORE:
    case MG_E_UPSTREAM:
    case MG_E_CONFLICT:
    case MG_E_IO:
    case MG_E_INTERNAL: break;
    }
    *status = 500;
    *code = "InternalServerException";
}

/* Fills rep with the outcome in pd. */
static void s_fill(struct s_pending *pd, struct mg_aws_reply *rep)
{
    if (pd->err != MG_E_OK) {
        int status;
        const char *code;
        s_error_of(pd->err, &status, &code);
        mg_aws_reply_error(rep, status, code, "%s", pd->msg);
        return;
    }
    json_t *o = json_object();
    if (o == NULL || !mg_json_set(o, "accessToken", json_string(pd->token))) {
        json_decref(o);
        mg_aws_reply_error(rep, 500, "InternalServerException", "out of memory");
        return;
    }
    mg_aws_reply_json(rep, 200, o);
}

/* Sends the outcome from the outbound client's thread. */
static void s_send(struct s_pending *pd)
{
    struct mg_http_exchange *x = pd->x;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    s_fill(pd, &rep);
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    char *text = NULL;
    if (rep.code[0]) {
        if (mg_aws_reply_error_body(&rep, MG_AWS_REST_JSON, pd->request_id, b) != MG_E_OK)
            mg_buf_reset(b);
        mg_http_set_status(x, rep.status);
        mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(rep.code));
    } else {
        text = json_dumps(rep.json, JSON_COMPACT);
        if (text == NULL || mg_buf_append_cstr(b, text) != MG_E_OK) {
            mg_buf_reset(b);
            mg_http_set_status(x, 500);
            mg_http_add_header(x, "x-amzn-errortype", MG_SLICE_LIT("InternalServerException"));
        } else {
            mg_http_set_status(x, 200);
        }
    }
    if (text) {
        mg_memzero(text, strlen(text));
        mg_free(text);
    }
    mg_http_add_header(x, "x-amzn-requestid", mg_slice_cstr(pd->request_id));
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    mg_aws_reply_cleanup(&rep);
    s_pending_free(pd);
    mg_http_send_from_thread(x);
}

static void s_token_done(void *arg, enum mg_err e, const char *access_token, int64_t expires_at,
                         const char *msg)
{
    (void)expires_at;
    struct s_pending *pd = arg;
    pthread_mutex_lock(&pd->lock);
    pd->err = e;
    if (e == MG_E_OK) {
        pd->token = mg_strdup(access_token);
        if (pd->token == NULL) {
            pd->err = MG_E_NOMEM;
            snprintf(pd->msg, sizeof(pd->msg), "out of memory");
        }
    } else {
        snprintf(pd->msg, sizeof(pd->msg), "%s", msg ? msg : ""); /* cut: still a message */
    }
    bool deferred = pd->deferred;
    pd->done = true;
    pthread_mutex_unlock(&pd->lock);
    if (deferred)
        s_send(pd);
}

bool mg_vault_token_op_allowed(struct mg_call *c, const char *action, bool api_key,
                               const char *name)
{
    const struct mg_vault *v = mg_vault_of(c);
    if (v == NULL)
        return false;
    /* the token: one this server issued, in time, to this account (as GetResourceApiKey) */
    struct mg_vault_wat t;
    const char *token = json_string_value(json_object_get(c->input, "workloadIdentityToken"));
    enum mg_err e = mg_vault_wat_open(v->key, token ? token : "", mg_now(), &t);
    if (e == MG_E_DENIED) {
        mg_vault_send_error(c, 401, "UnauthorizedException",
                            "The workload access token has expired");
        return false;
    }
    if (e) {
        mg_vault_send_validation(c, "The workload access token is not valid");
        return false;
    }
    if (strcmp(t.account, c->principal.account) != 0) {
        mg_vault_send_error(c, 403, "AccessDeniedException",
                            "The workload access token was not issued to this account");
        return false;
    }
    /* the action on the workload identity, then on the provider, with their tags */
    char arn[512];
    mg_vault_workload_arn(c->env, c->principal.account, t.workload, arn, sizeof(arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_VAULT_KIND_WORKLOAD,
                                                      c->principal.account, t.workload);
    if (!mg_vault_authz(c, action, arn, d ? json_object_get(d->doc, "_tags") : NULL, NULL))
        return false;
    if (d == NULL) {
        mg_vault_send_error(c, 404, "ResourceNotFoundException", "Workload identity %s not found",
                            t.workload);
        return false;
    }
    mg_vault_provider_arn(c->env, c->principal.account, api_key, name, arn, sizeof(arn));
    d = mg_snapshot_get(c->snap, api_key ? MG_VAULT_KIND_APIKEY : MG_VAULT_KIND_OAUTH2,
                        c->principal.account, name);
    return mg_vault_authz(c, action, arn, d ? json_object_get(d->doc, "_tags") : NULL, NULL);
}

static void s_not_implemented(struct mg_call *c, const char *flow)
{
    mg_aws_reply_error(c->reply, 501, "NotImplementedException",
                       "mcpgate does not implement oauth2Flow %s yet: GetResourceOauth2Token "
                       "serves the M2M (client credentials) flow only.",
                       flow);
}

void mg_vault_get_resource_oauth2_token(struct mg_call *c)
{
    const struct mg_env *env = c->env;
    const char *flow = json_string_value(json_object_get(c->input, "oauth2Flow"));
    const char *name = json_string_value(
        json_object_get(c->input, "resourceCredentialProviderName"));
    if (flow == NULL || name == NULL) {
        mg_aws_reply_error(c->reply, 400, "ValidationException", "Missing required parameters.");
        return;
    }
    /* 1, 2. the workload access token; the caller's permission on the workload identity and
     * on the provider */
    if (!mg_vault_token_op_allowed(c, "bedrock-agentcore:GetResourceOauth2Token", false, name))
        return;
    char arn[512];
    if (!mg_fmt(arn, sizeof(arn),
                "arn:aws:bedrock-agentcore:%s:%s:token-vault/default/oauth2credentialprovider/%s",
                env->region, c->principal.account, name)) {
        mg_aws_reply_error(c->reply, 400, "ValidationException",
                           "resourceCredentialProviderName is too long.");
        return;
    }
    if (strcmp(flow, "M2M") != 0) {
        s_not_implemented(c, flow);
        return;
    }
    struct mg_vault_provider p = {0};
    struct mg_errinfo ei = {0};
    enum mg_err err = mg_vault_provider_find(env, c->snap, c->principal.account, arn, false, &p,
                                             &ei);
    if (err != MG_E_OK) {
        mg_vault_provider_cleanup(&p);
        int status;
        const char *code;
        s_error_of(err, &status, &code);
        mg_aws_reply_error(c->reply, status, code, "%s",
                           ei.msg[0] ? ei.msg : "The credential provider could not be read.");
        return;
    }
    /* 3. the token: now (cached, or a failure found at once) or later */
    struct s_pending *pd = mg_calloc(1, sizeof(*pd));
    if (pd == NULL || pthread_mutex_init(&pd->lock, NULL) != 0) {
        mg_free(pd);
        mg_vault_provider_cleanup(&p);
        mg_aws_reply_error(c->reply, 500, "InternalServerException", "out of memory");
        return;
    }
    pd->x = c->x;
    snprintf(pd->request_id, sizeof(pd->request_id), "%s", c->req->request_id);
    mg_vault_oauth_token(env, &p, json_object_get(c->input, "scopes"),
                         json_object_get(c->input, "customParameters"), false, s_token_done, pd);
    mg_vault_provider_cleanup(&p);
    pthread_mutex_lock(&pd->lock);
    bool done = pd->done;
    if (!done) {
        pd->deferred = true;
        c->reply->deferred = true; /* s_token_done sends the answer */
    }
    pthread_mutex_unlock(&pd->lock);
    if (done) {
        s_fill(pd, c->reply);
        s_pending_free(pd);
    }
}
