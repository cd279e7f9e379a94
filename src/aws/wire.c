#include "aws/aws.h"

#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/util.h"

const char *mg_aws_xml_namespace(enum mg_aws_protocol p)
{
    switch (p) {
    case MG_AWS_QUERY_STS: return "https://sts.amazonaws.com/doc/2011-06-15/";
    case MG_AWS_QUERY_IAM: return "https://iam.amazonaws.com/doc/2010-05-08/";
    case MG_AWS_REST_JSON: return "";
    }
    return "";
}

static enum mg_err s_parse_pairs(struct mg_aws_params *p, struct mg_slice src,
                                 struct mg_slice *decoded, size_t *n, size_t cap)
{
    struct mg_slice rest = src, pair;
    while (rest.len && mg_slice_split(&rest, '&', &pair)) {
        if (pair.len == 0)
            continue;
        if (*n >= cap)
            return MG_E_TOO_LARGE;
        struct mg_slice name = pair, value = MG_SLICE_LIT("");
        long eq = mg_slice_find(pair, '=');
        if (eq >= 0) {
            name = mg_slice_sub(pair, 0, (size_t)eq);
            value = mg_slice_sub(pair, (size_t)eq + 1, pair.len);
        }
        size_t off = p->storage.len;
        MG_TRY(mg_url_decode(&p->storage, name, true));
        size_t nlen = p->storage.len - off;
        MG_TRY(mg_url_decode(&p->storage, value, true));
        size_t vlen = p->storage.len - off - nlen;
        /* record offsets now; storage may move, so slices are fixed up at the end */
        decoded[2 * *n] = (struct mg_slice){(const uint8_t *)(uintptr_t)off, nlen};
        decoded[2 * *n + 1] = (struct mg_slice){(const uint8_t *)(uintptr_t)(off + nlen), vlen};
        (*n)++;
    }
    return MG_E_OK;
}

enum mg_err mg_aws_params_parse(struct mg_aws_params *p, const struct mg_http_req *r)
{
    p->items = NULL;
    p->n = 0;
    mg_buf_init(&p->storage, MG_LIMIT_BODY_DEFAULT * 2);
    struct mg_slice *tmp = mg_calloc(2 * MG_AWS_MAX_PARAMS, sizeof(*tmp));
    if (tmp == NULL)
        return MG_E_NOMEM;
    size_t n = 0;
    enum mg_err e = s_parse_pairs(p, r->query, tmp, &n, MG_AWS_MAX_PARAMS);
    const struct mg_slice *ct = mg_http_header(r, "content-type");
    if (!e && r->body.len &&
        (ct == NULL || mg_slice_starts_with(*ct, "application/x-www-form-urlencoded")))
        e = s_parse_pairs(p, r->body, tmp, &n, MG_AWS_MAX_PARAMS);
    if (!e) {
        p->items = mg_calloc(n ? n : 1, sizeof(*p->items));
        if (p->items == NULL)
            e = MG_E_NOMEM;
    }
    if (!e) {
        /* storage is still NULL when every name and value decoded empty ("=&=") */
        const uint8_t *base = p->storage.ptr ? p->storage.ptr : (const uint8_t *)"";
        for (size_t i = 0; i < n; i++) {
            p->items[i].name = mg_slice_make(base + (uintptr_t)tmp[2 * i].ptr, tmp[2 * i].len);
            p->items[i].value = mg_slice_make(base + (uintptr_t)tmp[2 * i + 1].ptr,
                                              tmp[2 * i + 1].len);
        }
        p->n = n;
    }
    mg_free(tmp);
    return e;
}

void mg_aws_params_cleanup(struct mg_aws_params *p)
{
    mg_free(p->items);
    p->items = NULL;
    p->n = 0;
    mg_buf_cleanup(&p->storage);
}

const struct mg_slice *mg_aws_param(const struct mg_aws_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (mg_slice_eq_cstr(p->items[i].name, name))
            return &p->items[i].value;
    return NULL;
}

static void s_request_id_header(struct mg_http_exchange *x)
{
    const struct mg_http_req *r = mg_http_request(x);
    mg_http_add_header(x, "x-amzn-requestid", mg_slice_cstr(r->request_id));
}

void mg_aws_send_error(struct mg_http_exchange *x, enum mg_aws_protocol p, int status,
                       const char *code, const char *message)
{
    const struct mg_http_req *r = mg_http_request(x);
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    enum mg_err e = MG_E_OK;
    mg_http_set_status(x, status);
    s_request_id_header(x);
    if (p == MG_AWS_REST_JSON) {
        mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(code));
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        e = mg_buf_printf(b, "{\"__type\":\"%s\",\"message\":\"", code);
        if (!e)
            e = mg_buf_append_json_str(b, mg_slice_cstr(message));
        if (!e)
            e = mg_buf_append_cstr(b, "\"}");
    } else {
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("text/xml"));
        e = mg_buf_printf(b,
                          "<ErrorResponse xmlns=\"%s\">\n  <Error>\n    <Type>%s</Type>\n"
                          "    <Code>%s</Code>\n    <Message>",
                          mg_aws_xml_namespace(p), status >= 500 ? "Receiver" : "Sender", code);
        if (!e)
            e = mg_buf_append_xml(b, mg_slice_cstr(message));
        if (!e)
            e = mg_buf_printf(b,
                              "</Message>\n  </Error>\n  <RequestId>%s</RequestId>\n"
                              "</ErrorResponse>\n",
                              r->request_id);
    }
    if (e) {
        mg_buf_reset(b);
        mg_http_set_status(x, 500);
    }
    mg_http_send(x);
}

void mg_aws_send_xml(struct mg_http_exchange *x, enum mg_aws_protocol p, const char *action,
                     struct mg_slice inner, bool has_result)
{
    const struct mg_http_req *r = mg_http_request(x);
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    s_request_id_header(x);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("text/xml"));
    enum mg_err e = mg_buf_printf(b, "<%sResponse xmlns=\"%s\">\n", action,
                                  mg_aws_xml_namespace(p));
    if (!e && has_result)
        e = mg_buf_printf(b, "  <%sResult>\n", action);
    if (!e)
        e = mg_buf_append_slice(b, inner);
    if (!e && has_result)
        e = mg_buf_printf(b, "  </%sResult>\n", action);
    if (!e)
        e = mg_buf_printf(b,
                          "  <ResponseMetadata>\n    <RequestId>%s</RequestId>\n"
                          "  </ResponseMetadata>\n</%sResponse>\n",
                          r->request_id, action);
    if (e) {
        mg_aws_send_error(x, p, 500, "InternalFailure", "The response was too large to build.");
        return;
    }
    mg_http_set_status(x, 200);
    mg_http_send(x);
}

void mg_aws_send_json(struct mg_http_exchange *x, int status, struct mg_slice json)
{
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    s_request_id_header(x);
    if (status != 204) {
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        if (mg_buf_append_slice(b, json) != MG_E_OK) {
            mg_aws_send_error(x, MG_AWS_REST_JSON, 500, "InternalServerException",
                              "The response was too large to build.");
            return;
        }
    }
    mg_http_set_status(x, status);
    mg_http_send(x);
}

bool mg_arn_parse(struct mg_slice s, struct mg_arn *out)
{
    struct mg_slice rest = s, part;
    if (!mg_slice_split(&rest, ':', &part) || !mg_slice_eq_cstr(part, "arn"))
        return false;
    struct mg_slice *fields[] = {&out->partition, &out->service, &out->region, &out->account};
    for (size_t i = 0; i < 4; i++) {
        if (rest.ptr == NULL)
            return false;
        long c = mg_slice_find(rest, ':');
        if (c < 0)
            return false;
        *fields[i] = mg_slice_sub(rest, 0, (size_t)c);
        rest = mg_slice_sub(rest, (size_t)c + 1, rest.len);
    }
    out->resource = rest;
    return out->partition.len && out->service.len && out->resource.len;
}
