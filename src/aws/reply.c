/* Replies: what a handler fills, written in one place (model.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "aws/model.h"

#include "base/alloc.h"
#include "base/limits.h"

#define S_SHOWN 128 /* bytes of a client's name or path in a message */

void mg_aws_reply_init(struct mg_aws_reply *r)
{
    mg_memzero(r, offsetof(struct mg_aws_reply, message));
    r->message[0] = 0;
    mg_buf_init(&r->xml, MG_LIMIT_RESPONSE);
}

void mg_aws_reply_cleanup(struct mg_aws_reply *r)
{
    json_decref(r->fields);
    json_decref(r->json);
    if (r->xml.ptr && !r->public_text) /* it may hold credentials (STS AssumeRole) */
        mg_memzero(r->xml.ptr, r->xml.len);
    mg_buf_cleanup(&r->xml);
    r->fields = r->json = NULL;
    r->status = 0;
}

static void s_clear(struct mg_aws_reply *r)
{
    json_decref(r->fields);
    json_decref(r->json);
    r->fields = r->json = NULL;
    mg_buf_reset(&r->xml);
    r->code[0] = r->message[0] = r->action[0] = 0;
    r->has_result = false;
    r->json_text = false;
    r->public_text = false;
}

void mg_aws_reply_error(struct mg_aws_reply *r, int status, const char *code, const char *fmt, ...)
{
    s_clear(r);
    r->status = status;
    snprintf(r->code, sizeof(r->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
}

void mg_aws_reply_json(struct mg_aws_reply *r, int status, json_t *body)
{
    s_clear(r);
    r->status = status;
    r->json = body;
}

struct mg_buf *mg_aws_reply_json_buf(struct mg_aws_reply *r, int status)
{
    s_clear(r);
    r->status = status;
    r->json_text = true;
    return &r->xml;
}

struct mg_buf *mg_aws_reply_json_buf_public(struct mg_aws_reply *r, int status)
{
    /* what the buffer held before is wiped first: only the public text stays unwiped */
    if (r->xml.ptr)
        mg_memzero(r->xml.ptr, r->xml.len);
    struct mg_buf *b = mg_aws_reply_json_buf(r, status);
    r->public_text = true;
    return b;
}

enum mg_err mg_aws_reply_json_text(struct mg_aws_reply *r, int status, struct mg_slice text)
{
    return mg_buf_append_slice(mg_aws_reply_json_buf(r, status), text);
}

enum mg_err mg_aws_reply_xml(struct mg_aws_reply *r, const char *action, struct mg_slice inner,
                             bool has_result)
{
    s_clear(r);
    r->status = 200;
    snprintf(r->action, sizeof(r->action), "%s", action);
    r->has_result = has_result;
    return mg_buf_append_slice(&r->xml, inner);
}

/* A client's text for a message: printable ASCII only, at most S_SHOWN bytes. */
static void s_shown(struct mg_slice v, char out[S_SHOWN + 4])
{
    size_t n = v.len < S_SHOWN ? v.len : S_SHOWN, j = 0;
    for (size_t i = 0; i < n; i++)
        out[j++] = (v.ptr[i] >= 0x20 && v.ptr[i] < 0x7f) ? (char)v.ptr[i] : '?';
    if (v.len > S_SHOWN) {
        mg_memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = 0;
}

void mg_aws_reply_validation(struct mg_aws_reply *r, const struct mg_aws_op *op,
                             const struct mg_aws_verrors *v)
{
    char msg[sizeof(r->message)];
    mg_aws_verrors_message(v, msg, sizeof(msg));
    switch ((enum mg_aws_service)op->service) {
    case MG_AWS_SVC_IAM:
    case MG_AWS_SVC_STS: mg_aws_reply_error(r, 400, "ValidationError", "%s", msg); return;
    case MG_AWS_SVC_LAMBDA: mg_aws_reply_error(r, 400, "ValidationException", "%s", msg); return;
    case MG_AWS_SVC_AGENTCORE_CONTROL:
    case MG_AWS_SVC_AGENTCORE: break;
    }
    mg_aws_reply_error(r, 400, "ValidationException", "%s", msg);
    json_t *f = json_object(), *list = json_array();
    bool ok = f && list &&
              json_object_set_new(f, "reason", json_string("FieldValidationFailed")) == 0;
    for (size_t i = 0; ok && i < v->n && i < MG_AWS_VERR_KEPT; i++) {
        json_t *e = json_pack("{s:s, s:s}", "name", v->e[i].path, "message", v->e[i].msg);
        ok = e && json_array_append_new(list, e) == 0;
    }
    if (ok && json_object_set_new(f, "fieldList", list) == 0) {
        r->fields = f;
        return;
    }
    if (!ok)
        json_decref(list);
    json_decref(f); /* without the extra fields: the code and message still say it all */
}

static const char *s_article(const char *name)
{
    return name[0] == 'I' || name[0] == 'S' ? "an" : "a"; /* an IAM, an STS, a Lambda */
}

void mg_aws_reply_not_implemented(struct mg_aws_reply *r, const struct mg_aws_op *op,
                                  const char *feature)
{
    const struct mg_aws_service_info *s = mg_aws_service((enum mg_aws_service)op->service);
    bool query = s->wire == MG_AWS_WIRE_QUERY;
    bool agentcore = op->service == MG_AWS_SVC_AGENTCORE_CONTROL ||
                     op->service == MG_AWS_SVC_AGENTCORE;
    mg_aws_reply_error(r, 501, query ? "NotImplemented" : "NotImplementedException",
                       "%s%s%s%s is %s %s operation that mcpgate does not implement%s (see "
                       "docs/api-coverage.md).",
                       mg_aws_op_name(op), feature ? " (" : "", feature ? feature : "",
                       feature ? ")" : "", s_article(s->name), s->name,
                       agentcore ? ": mcpgate implements the AgentCore Gateway control plane "
                                   "(gateways, gateway targets, resource policies, tags) and "
                                   "AgentCore Identity (credential providers, workload "
                                   "identities, token vault, workload access tokens) only"
                                 : "");
}

void mg_aws_reply_unknown_action(struct mg_aws_reply *r, enum mg_aws_service svc,
                                 struct mg_slice action)
{
    const struct mg_aws_service_info *s = mg_aws_service(svc);
    char shown[S_SHOWN + 4];
    s_shown(action, shown);
    mg_aws_reply_error(r, 400, "InvalidAction",
                       "Could not find operation %s for version %s: %s has no operation of this "
                       "name (the operations mcpgate supports are listed in "
                       "docs/api-coverage.md).",
                       shown, s ? s->version : "", s ? s->name : "AWS");
}

void mg_aws_reply_unknown_rest(struct mg_aws_reply *r, enum mg_aws_service svc, const char *feature,
                               struct mg_slice method, struct mg_slice path)
{
    const struct mg_aws_service_info *s = mg_aws_service(svc);
    char m[S_SHOWN + 4], p[S_SHOWN + 4];
    s_shown(mg_slice_make(method.ptr, method.len < 10 ? method.len : 10), m);
    s_shown(path, p);
    mg_aws_reply_error(r, 404, "UnknownOperationException",
                       "%s %s is not an operation of the %s API%s%s%s, so it is not supported by "
                       "mcpgate (the operations it supports are listed in docs/api-coverage.md).",
                       m, p, s ? s->name : "AWS", feature ? " (" : "", feature ? feature : "",
                       feature ? ")" : "");
}

enum mg_err mg_aws_reply_error_body(const struct mg_aws_reply *r, enum mg_aws_protocol p,
                                    const char *request_id, struct mg_buf *b)
{
    if (p == MG_AWS_REST_JSON) {
        /* escaped by hand: a message cut at its buffer's end may end inside a UTF-8 sequence */
        MG_TRY(mg_buf_append_cstr(b, "{\"__type\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(r->code)));
        MG_TRY(mg_buf_append_cstr(b, "\",\"message\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(r->message)));
        MG_TRY(mg_buf_append_byte(b, '"'));
        const char *k;
        json_t *v;
        json_object_foreach(r->fields, k, v)
        {
            if (strcmp(k, "__type") == 0 || strcmp(k, "message") == 0)
                continue;
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            if (text == NULL)
                return MG_E_NOMEM;
            enum mg_err e = mg_buf_append_cstr(b, ",\"");
            if (!e)
                e = mg_buf_append_json_str(b, mg_slice_cstr(k));
            if (!e)
                e = mg_buf_append_cstr(b, "\":");
            if (!e)
                e = mg_buf_append_cstr(b, text);
            mg_free(text);
            MG_TRY(e);
        }
        return mg_buf_append_byte(b, '}');
    }
    MG_TRY(mg_buf_printf(b,
                         "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n"
                         "    <Code>",
                         mg_aws_xml_namespace(p), r->status >= 500 ? "Receiver" : "Sender"));
    MG_TRY(mg_buf_append_xml(b, mg_slice_cstr(r->code)));
    MG_TRY(mg_buf_append_cstr(b, "</Code>\n    <Message>"));
    MG_TRY(mg_buf_append_xml(b, mg_slice_cstr(r->message)));
    MG_TRY(mg_buf_append_cstr(b, "</Message>\n  </Error>\n  <RequestId>"));
    MG_TRY(mg_buf_append_xml(b, mg_slice_cstr(request_id)));
    return mg_buf_append_cstr(b, "</RequestId>\n</ErrorResponse>\n");
}

void mg_aws_reply_send(struct mg_http_exchange *x, enum mg_aws_protocol p, const char *request_id,
                       struct mg_aws_reply *r)
{
    if (r->status == 0) {
        mg_aws_send_error(x, p, 500, "InternalFailure", "The request produced no answer.");
        return;
    }
    if (r->code[0]) {
        struct mg_buf *b = mg_http_body(x);
        mg_buf_reset(b);
        if (mg_aws_reply_error_body(r, p, request_id, b) != MG_E_OK) {
            mg_aws_send_error(x, p, r->status, r->code, r->message); /* without extra fields */
            return;
        }
        mg_http_set_status(x, r->status);
        mg_http_add_header(x, "x-amzn-requestid", mg_slice_cstr(request_id));
        if (p == MG_AWS_REST_JSON) {
            mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(r->code));
            mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        } else {
            mg_http_add_header(x, "content-type", MG_SLICE_LIT("text/xml"));
        }
        mg_http_send(x);
        return;
    }
    if (p == MG_AWS_REST_JSON && r->json_text) {
        mg_aws_send_json(x, r->status, mg_buf_slice(&r->xml));
        return;
    }
    if (p != MG_AWS_REST_JSON) {
        mg_aws_send_xml(x, p, r->action, mg_buf_slice(&r->xml), r->has_result);
        return;
    }
    char *text = r->json ? json_dumps(r->json, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (r->json && text == NULL) {
        mg_aws_send_error(x, p, 500, "InternalFailure", "The response could not be built.");
        return;
    }
    mg_aws_send_json(x, r->status, text ? mg_slice_cstr(text) : mg_slice_make("", 0));
    mg_free(text);
}
