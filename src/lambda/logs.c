/* Bounded log rings: per function (recent output) and per invocation (LogType Tail). */
#include "base/alloc.h"
#include "lambda/internal.h"

enum mg_err mg_lambda_ring_init(struct mg_lambda_ring *r, size_t cap)
{
    r->start = r->len = 0;
    r->cap = cap;
    r->data = cap ? mg_malloc(cap) : NULL;
    return cap && r->data == NULL ? MG_E_NOMEM : MG_E_OK;
}

void mg_lambda_ring_cleanup(struct mg_lambda_ring *r)
{
    mg_free(r->data);
    r->data = NULL;
    r->cap = r->start = r->len = 0;
}

void mg_lambda_ring_append(struct mg_lambda_ring *r, struct mg_slice s)
{
    if (r->cap == 0 || r->data == NULL)
        return;
    if (s.len >= r->cap) {
        mg_memcpy(r->data, s.ptr + (s.len - r->cap), r->cap);
        r->start = 0;
        r->len = r->cap;
        return;
    }
    size_t end = (r->start + r->len) % r->cap;
    size_t first = r->cap - end < s.len ? r->cap - end : s.len;
    mg_memcpy(r->data + end, s.ptr, first);
    if (s.len > first)
        mg_memcpy(r->data, s.ptr + first, s.len - first);
    r->len += s.len;
    if (r->len > r->cap) {
        r->start = (r->start + (r->len - r->cap)) % r->cap;
        r->len = r->cap;
    }
}

enum mg_err mg_lambda_ring_tail(const struct mg_lambda_ring *r, size_t n, struct mg_buf *out)
{
    if (n > r->len)
        n = r->len;
    if (n == 0)
        return MG_E_OK;
    size_t from = (r->start + (r->len - n)) % r->cap;
    size_t first = r->cap - from < n ? r->cap - from : n;
    MG_TRY(mg_buf_append(out, r->data + from, first));
    if (n > first)
        MG_TRY(mg_buf_append(out, r->data, n - first));
    return MG_E_OK;
}
