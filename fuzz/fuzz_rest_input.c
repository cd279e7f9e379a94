/* fuzz/fuzz_rest_input.c: the rest-json side of the AWS operation layer (src/aws/model.h): route
 * a request over a model, assemble its input, validate it and write the error body.
 *
 * Input: one selector byte (low bits: Lambda, or the two AgentCore models; high bits: the
 * method), then the path up to the first '\n', the query up to the next '\n', the header lines
 * "name: value" up to an empty line, then the body. Properties checked besides "no crash, no
 * leak, no read out of bounds": assembly gives an object exactly when it succeeds, and a failure
 * always leaves an error in the reply; every error body is valid JSON. */
#include <stdlib.h>
#include <string.h>

#include "aws/model.h"

#define S_MAX_HEADERS 16

static struct mg_slice s_line(struct mg_slice *rest)
{
    struct mg_slice out = {0};
    if (!mg_slice_split(rest, '\n', &out))
        out = (struct mg_slice){0};
    return out;
}

static void s_check_error(const struct mg_aws_reply *rep)
{
    struct mg_buf b;
    mg_buf_init(&b, 1u << 20);
    if (mg_aws_reply_error_body(rep, MG_AWS_REST_JSON, "req", &b) == MG_E_OK) {
        json_t *j = json_loadb((const char *)b.ptr, b.len, 0, NULL);
        if (j == NULL || !json_is_string(json_object_get(j, "message")))
            abort();
        json_decref(j);
    }
    mg_buf_cleanup(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const enum mg_aws_service lambda[] = {MG_AWS_SVC_LAMBDA};
    static const enum mg_aws_service ac[] = {MG_AWS_SVC_AGENTCORE_CONTROL, MG_AWS_SVC_AGENTCORE};
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"};
    bool is_ac = data[0] & 1;
    const char *method = methods[(data[0] >> 1) % 6];
    struct mg_slice rest = mg_slice_make(data + 1, size - 1);
    struct mg_slice path = s_line(&rest), query = s_line(&rest);
    struct mg_kv headers[S_MAX_HEADERS];
    size_t nh = 0;
    for (;;) {
        struct mg_slice h = s_line(&rest);
        long colon = mg_slice_find(h, ':');
        if (h.len == 0 || colon < 0 || nh == S_MAX_HEADERS)
            break;
        headers[nh].name = mg_slice_make(h.ptr, (size_t)colon);
        headers[nh].value = mg_slice_trim(
            mg_slice_make(h.ptr + colon + 1, h.len - (size_t)colon - 1));
        nh++;
    }
    struct mg_aws_route rt;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    if (!mg_aws_route_rest(is_ac ? ac : lambda, is_ac ? 2 : 1, mg_slice_cstr(method), path, query,
                           &rt)) {
        mg_aws_reply_unknown_rest(&rep, is_ac ? MG_AWS_SVC_AGENTCORE_CONTROL : MG_AWS_SVC_LAMBDA,
                                  NULL, mg_slice_cstr(method), path);
    } else {
        if (rt.n_labels > MG_AWS_MAX_LABELS)
            abort();
        struct mg_aws_request req = {path, query, rest.ptr ? rest : (struct mg_slice){0}, headers,
                                     nh};
        json_t *in = NULL;
        enum mg_err e = mg_aws_input_rest(rt.op, &rt, &req, &in, &rep);
        if ((e == MG_E_OK) != (in != NULL) || (e != MG_E_OK && rep.status == 0))
            abort();
        struct mg_aws_verrors v;
        if (in && !mg_aws_validate(rt.op, in, &v)) {
            if (v.n == 0)
                abort();
            mg_aws_reply_validation(&rep, rt.op, &v);
        } else if (in) {
            mg_aws_reply_not_implemented(&rep, rt.op, NULL);
        }
        json_decref(in);
    }
    s_check_error(&rep);
    mg_aws_reply_cleanup(&rep);
    return 0;
}
