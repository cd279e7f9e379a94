/* Invocations: the object that goes from the call to its result, its error payloads, the
 * report to the caller, and the logs a function and an invocation keep. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "lambda/runtime.h"

/* --- invocations ---------------------------------------------------------------------------- */

struct mg_lambda_inv *mg_lambda_inv_new(const char *account, const char *name,
                                        struct mg_slice payload, struct mg_slice client_context,
                                        mg_lambda_done_fn done, void *user)
{
    struct mg_lambda_inv *inv = mg_calloc(1, sizeof(*inv));
    if (inv == NULL)
        return NULL;
    mg_request_id(inv->request_id);
    mg_lambda_strlcpy(inv->account, sizeof(inv->account), account);
    mg_lambda_strlcpy(inv->name, sizeof(inv->name), name);
    mg_buf_init(&inv->payload, MG_LAMBDA_PAYLOAD_MAX);
    mg_buf_init(&inv->result, MG_LAMBDA_PAYLOAD_MAX + 1024);
    inv->done = done;
    inv->user = user;
    inv->queued_ns = mg_mono_ns();
    if (mg_buf_append_slice(&inv->payload, payload) != MG_E_OK ||
        mg_lambda_ring_init(&inv->log, MG_LAMBDA_INV_LOG_BYTES) != MG_E_OK)
        goto fail;
    if (client_context.len) {
        /* It goes into a Runtime API header: re-serialized compactly with every non-ASCII and
         * control character escaped, so no whitespace of the caller's JSON (CR, LF) reaches the
         * header block. Not a JSON object: refused. */
        json_t *cj = json_loadb((const char *)client_context.ptr, client_context.len, 0, NULL);
        char *text = json_is_object(cj) ? json_dumps(cj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(cj);
        if (text)
            inv->client_context = mg_strdup(text);
        mg_free(text);
        if (inv->client_context == NULL)
            goto fail;
    }
    return inv;
fail:
    mg_lambda_inv_free(inv);
    return NULL;
}

void mg_lambda_inv_free(struct mg_lambda_inv *inv)
{
    if (inv == NULL)
        return;
    mg_buf_cleanup(&inv->payload);
    mg_buf_cleanup(&inv->result);
    mg_lambda_ring_cleanup(&inv->log);
    mg_free(inv->client_context);
    mg_free(inv);
}

void mg_lambda_done_push(struct mg_lambda_done *d, struct mg_lambda_inv *inv)
{
    inv->next = NULL;
    if (d->tail)
        d->tail->next = inv;
    else
        d->head = inv;
    d->tail = inv;
}

void mg_lambda_report(struct mg_lambda *L, struct mg_lambda_done *d)
{
    struct mg_lambda_inv *inv = d->head;
    while (inv) {
        struct mg_lambda_inv *next = inv->next;
        struct mg_buf tail;
        mg_buf_init(&tail, MG_LAMBDA_INV_LOG_BYTES);
        if (mg_lambda_ring_tail(&inv->log, MG_LAMBDA_INV_LOG_BYTES, &tail) != MG_E_OK)
            mg_buf_reset(&tail);
        char arn[256];
        mg_lambda_function_arn(L->env->region, inv->account, inv->name, arn, sizeof(arn));
        const char *msg = inv->error_type[0] ? inv->error_type : NULL;
        struct mg_lambda_result r = {
            .outcome = inv->outcome,
            .payload = mg_buf_slice(&inv->result),
            .error_type = inv->outcome == MG_LAMBDA_OK ? NULL : inv->error_type,
            .error_message = NULL,
            .function_arn = inv->outcome == MG_LAMBDA_NOT_FOUND ? NULL : arn,
            .executed_version = inv->start_ns ? "$LATEST" : NULL,
            .request_id = inv->request_id,
            .log_tail = mg_buf_slice(&tail),
        };
        /* error_message: the payload's errorMessage when it is JSON, else the type */
        json_t *j = NULL;
        if (inv->outcome != MG_LAMBDA_OK && inv->result.len)
            j = json_loadb((const char *)inv->result.ptr, inv->result.len, 0, NULL);
        const char *em = json_string_value(json_object_get(j, "errorMessage"));
        r.error_message = em ? em : msg ? msg : "";
        if (inv->outcome != MG_LAMBDA_OK && r.error_type == NULL)
            r.error_type = "";
        if (inv->done)
            inv->done(inv->user, &r);
        json_decref(j);
        mg_buf_cleanup(&tail);
        mg_lambda_inv_free(inv);
        inv = next;
    }
    d->head = d->tail = NULL;
}

void mg_lambda_inv_set_error(struct mg_lambda_inv *inv, enum mg_lambda_outcome o, const char *type,
                             const char *message)
{
    inv->outcome = o;
    mg_lambda_strlcpy(inv->error_type, sizeof(inv->error_type), type);
    mg_buf_reset(&inv->result);
    if (mg_buf_append_cstr(&inv->result, "{\"errorMessage\":\"") ||
        mg_buf_append_json_str(&inv->result, mg_slice_cstr(message)) ||
        mg_buf_append_cstr(&inv->result, "\",\"errorType\":\"") ||
        mg_buf_append_json_str(&inv->result, mg_slice_cstr(type)) ||
        mg_buf_append_cstr(&inv->result, "\"}"))
        mg_buf_reset(&inv->result);
}

void mg_lambda_inv_fail(struct mg_lambda_done *d, struct mg_lambda_inv *inv,
                        enum mg_lambda_outcome o, const char *type, const char *message)
{
    mg_lambda_inv_set_error(inv, o, type, message);
    mg_lambda_done_push(d, inv);
}

/* --- logs --------------------------------------------------------------------------------- */

void mg_lambda_log(struct mg_lambda_fn *fn, struct mg_lambda_inv *inv, struct mg_slice s)
{
    mg_lambda_ring_append(&fn->log, s);
    if (inv)
        mg_lambda_ring_append(&inv->log, s);
}

void mg_lambda_logf(struct mg_lambda_fn *fn, struct mg_lambda_inv *inv, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    mg_lambda_log(fn, inv,
                  mg_slice_make(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1));
}
