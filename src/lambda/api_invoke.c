/* The Lambda API's Invoke: the payload is the raw request body (the model's blob payload), the
 * invocation type, log type and client context come from their headers. A synchronous call is
 * answered by the invocation's completion, on a thread of the Lambda module. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "lambda/api_internal.h"

struct s_pending {
    struct mg_http_exchange *x;
    bool tail;
};

static void s_fill_error(struct mg_http_exchange *x, int status, const char *type, const char *msg)
{
    mg_http_set_status(x, status);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
    mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(type));
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    if (mg_buf_append_cstr(b, "{\"Type\":\"User\",\"message\":\"") ||
        mg_buf_append_json_str(b, mg_slice_cstr(msg)) || mg_buf_append_cstr(b, "\"}"))
        mg_buf_reset(b);
}

static void s_invoke_done(void *user, const struct mg_lambda_result *r)
{
    struct s_pending *pd = user;
    struct mg_http_exchange *x = pd->x;
    switch (r->outcome) {
    case MG_LAMBDA_OK:
    case MG_LAMBDA_FUNCTION_ERROR:
    case MG_LAMBDA_TIMEOUT: {
        mg_http_set_status(x, 200);
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        mg_http_add_header(x, "x-amz-executed-version", MG_SLICE_LIT("$LATEST"));
        if (r->outcome != MG_LAMBDA_OK)
            mg_http_add_header(x, "x-amz-function-error", MG_SLICE_LIT("Unhandled"));
        if (pd->tail) {
            struct mg_buf b64;
            mg_buf_init(&b64, 8192);
            if (mg_base64_encode(&b64, r->log_tail) == MG_E_OK)
                mg_http_add_header(x, "x-amz-log-result", mg_buf_slice(&b64));
            mg_buf_cleanup(&b64);
        }
        struct mg_buf *b = mg_http_body(x);
        mg_buf_reset(b);
        if (mg_buf_append_slice(b, r->payload))
            s_fill_error(x, 502, "ServiceException", "The response could not be delivered.");
        break;
    }
    case MG_LAMBDA_NOT_FOUND:
        s_fill_error(x, 404, "ResourceNotFoundException", r->error_message);
        break;
    case MG_LAMBDA_THROTTLED:
        s_fill_error(x, 429, "TooManyRequestsException", "Rate Exceeded.");
        {
            /* Lambda names the limit that was hit */
            struct mg_buf *b = mg_http_body(x);
            mg_buf_reset(b);
            if (mg_buf_append_cstr(
                    b, "{\"Type\":\"User\",\"message\":\"Rate Exceeded.\","
                       "\"Reason\":\"ReservedFunctionConcurrentInvocationLimitExceeded\"}"))
                mg_buf_reset(b);
        }
        break;
    case MG_LAMBDA_TOO_LARGE:
        s_fill_error(x, 413, "RequestTooLargeException", r->error_message);
        break;
    case MG_LAMBDA_INTERNAL: s_fill_error(x, 500, "ServiceException", r->error_message); break;
    case MG_LAMBDA_CODE_ERROR:
        s_fill_error(x, 502, "InvalidZipFileException", r->error_message);
        break;
    }
    mg_free(pd);
    mg_http_send_from_thread(x);
}

static void s_event_done(void *user, const struct mg_lambda_result *r)
{
    (void)user;
    if (r->outcome != MG_LAMBDA_OK)
        MG_LOG(MG_LOG_INFO, MG_SUB_LAMBDA, "event invocation %s of %s: %s: %s", r->request_id,
               r->function_arn ? r->function_arn : "?", r->error_type, r->error_message);
}

void mg_lambda_api_invoke(struct mg_call *c)
{
    struct mg_lambda_target t;
    if (!mg_lambda_api_target(c, true, &t) ||
        !mg_lambda_api_authorize(c, "lambda:InvokeFunction", &t))
        return;
    const char *q = mg_lambda_in_str(c, "Qualifier");
    if (q && strcmp(q, "$LATEST") != 0) {
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException", "Function not found: %s:%s",
                           t.arn, q);
        return;
    }
    if (mg_lambda_api_not_found(c, &t))
        return;
    /* the headers, their enums checked by the model */
    const char *it = mg_lambda_in_str(c, "InvocationType");
    const char *lt = mg_lambda_in_str(c, "LogType");
    const char *cc = mg_lambda_in_str(c, "ClientContext");
    bool event = it && strcmp(it, "Event") == 0;
    bool dry = it && strcmp(it, "DryRun") == 0;
    struct mg_slice payload = c->req->body;
    size_t limit = event ? MG_LAMBDA_EVENT_PAYLOAD_MAX : MG_LAMBDA_PAYLOAD_MAX;
    if (payload.len > limit) {
        mg_aws_reply_error(c->reply, 413, "RequestTooLargeException",
                           "Request must be smaller than %zu bytes for the InvokeFunction "
                           "operation",
                           limit);
        return;
    }
    if (payload.len == 0)
        payload = MG_SLICE_LIT("{}");
    json_error_t je;
    json_t *pj = json_loadb((const char *)payload.ptr, payload.len,
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (pj == NULL) {
        mg_aws_reply_error(c->reply, 400, "InvalidRequestContentException",
                           "Could not parse request body into json: %s", je.text);
        return;
    }
    json_decref(pj);
    struct mg_buf ctx;
    mg_buf_init(&ctx, 8192);
    if (cc && cc[0]) {
        json_t *cj = NULL;
        if (strlen(cc) > 3583 || mg_base64_decode(&ctx, mg_slice_cstr(cc)) != MG_E_OK ||
            (cj = json_loadb((const char *)ctx.ptr, ctx.len, 0, NULL)) == NULL ||
            !json_is_object(cj)) {
            json_decref(cj);
            mg_buf_cleanup(&ctx);
            mg_aws_reply_error(c->reply, 400, "InvalidRequestContentException",
                               "Client context must be a valid Base64-encoded JSON object.");
            return;
        }
        json_decref(cj);
    }
    if (dry) {
        mg_buf_cleanup(&ctx);
        mg_aws_reply_json(c->reply, 204, NULL);
        return;
    }
    struct mg_lambda *L = c->service;
    struct s_pending *pd = event ? NULL : mg_calloc(1, sizeof(*pd));
    struct mg_lambda_inv *inv = (event || pd)
                                    ? mg_lambda_inv_new(t.account, t.name, payload,
                                                        mg_buf_slice(&ctx),
                                                        event ? s_event_done : s_invoke_done, pd)
                                    : NULL;
    mg_buf_cleanup(&ctx);
    if (inv == NULL || L == NULL) {
        mg_free(pd);
        mg_lambda_inv_free(inv);
        mg_lambda_api_nomem(c);
        return;
    }
    if (event) {
        mg_lambda_submit(L, inv);
        mg_aws_reply_json(c->reply, 202, NULL);
        return;
    }
    pd->x = c->x;
    pd->tail = lt && strcmp(lt, "Tail") == 0;
    c->reply->deferred = true;
    mg_lambda_submit(L, inv); /* answered later by s_invoke_done */
}
