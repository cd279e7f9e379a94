/* fuzz/fuzz_rtapi.c: the Lambda Runtime API's request parser (src/lambda/rtapi_parse.c) on
 * arbitrary bytes, as a runtime process (any code a function runs) could send them.
 *
 * Properties checked besides "no crash, no leak, no read out of bounds": a complete request
 * takes between 1 and size bytes, its slices lie inside the input (or the body buffer), its body
 * is within the limit; an error carries a status the pool can answer; every proper prefix of a
 * complete request is incomplete (the answer does not depend on how the bytes arrive). */
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/slice.h"
#include "lambda/internal.h"

static int s_inside(struct mg_slice s, const uint8_t *base, size_t len)
{
    return s.len == 0 || (s.ptr >= base && s.ptr + s.len <= base + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mg_rtapi_request req;
    struct mg_buf body;
    mg_buf_init(&body, MG_RTAPI_BODY_MAX);
    enum mg_rtapi_status r = mg_lambda_rtapi_parse(mg_slice_make(data, size), &req, &body);
    if (r == MG_RTAPI_ERROR) {
        if (req.status != 400 && req.status != 413 && req.status != 431 && req.status != 500 &&
            req.status != 501 && req.status != 505)
            abort();
    } else if (r == MG_RTAPI_COMPLETE) {
        if (req.used == 0 || req.used > size || req.body.len > MG_RTAPI_BODY_MAX)
            abort();
        if (!s_inside(req.method, data, size) || !s_inside(req.path, data, size) ||
            !s_inside(req.error_type, data, size) ||
            !(s_inside(req.body, data, size) || s_inside(req.body, body.ptr, body.len)))
            abort();
        if (req.method.len == 0 || req.path.len == 0 || req.path.ptr[0] != '/')
            abort();
        /* a prefix, copied to its own allocation so that a read past it is caught */
        size_t cut = size ? (size_t)data[0] * 257u % req.used : 0;
        size_t cuts[2] = {req.used - 1, cut};
        for (int i = 0; i < 2; i++) {
            uint8_t *part = mg_malloc(cuts[i] ? cuts[i] : 1);
            if (!part)
                break;
            if (cuts[i])
                mg_memcpy(part, data, cuts[i]);
            struct mg_rtapi_request pr;
            enum mg_rtapi_status pst = mg_lambda_rtapi_parse(mg_slice_make(part, cuts[i]), &pr,
                                                             &body);
            mg_free(part);
            if (pst != MG_RTAPI_INCOMPLETE)
                abort();
        }
    }
    mg_buf_cleanup(&body);
    return 0;
}
