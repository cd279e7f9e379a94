/* fuzz/fuzz_query.c: the AWS query protocol's parameter parser (src/aws/wire.c,
 * mg_aws_params_parse): the query string and the form-encoded body of IAM and STS requests.
 *
 * Input: one selector byte (Content-Type: none, form, form with a charset, JSON), then the query
 * string up to the first '\n', then the body. Properties checked besides "no crash, no leak, no
 * read out of bounds": never more than MG_AWS_MAX_PARAMS parameters, every decoded name and
 * value lies inside the parser's storage, and a lookup finds the first value of a name. */
#include <stdint.h>
#include <stdlib.h>

#include "aws/aws.h"
#include "base/slice.h"

static int s_inside(struct mg_slice s, const struct mg_buf *b)
{
    return s.len == 0 || (s.ptr >= b->ptr && s.ptr + s.len <= b->ptr + b->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const types[] = {NULL, "application/x-www-form-urlencoded",
                                        "application/x-www-form-urlencoded; charset=utf-8",
                                        "application/json"};
    const char *type = types[data[0] % 4];
    struct mg_slice rest = mg_slice_make(data + 1, size - 1), query = {0};
    mg_slice_split(&rest, '\n', &query);
    struct mg_kv h = {MG_SLICE_LIT("content-type"),
                      type ? mg_slice_cstr(type) : (struct mg_slice){0}};
    struct mg_http_req r = {.method = MG_SLICE_LIT("POST"),
                            .path = MG_SLICE_LIT("/"),
                            .query = query,
                            .headers = &h,
                            .n_headers = type ? 1 : 0,
                            .body = rest.ptr ? rest : (struct mg_slice){0}};
    struct mg_aws_params p;
    if (mg_aws_params_parse(&p, &r) == MG_E_OK) {
        if (p.n > MG_AWS_MAX_PARAMS)
            abort();
        for (size_t i = 0; i < p.n; i++) {
            if (!s_inside(p.items[i].name, &p.storage) || !s_inside(p.items[i].value, &p.storage))
                abort();
            char name[64];
            if (p.items[i].name.len < sizeof(name) && mg_slice_find(p.items[i].name, 0) < 0) {
                mg_memcpy(name, p.items[i].name.ptr, p.items[i].name.len);
                name[p.items[i].name.len] = 0;
                const struct mg_slice *v = mg_aws_param(&p, name);
                if (v == NULL)
                    abort();
                size_t first = 0;
                while (!mg_slice_eq(p.items[first].name, p.items[i].name))
                    first++;
                if (v != &p.items[first].value)
                    abort();
            }
        }
    }
    mg_aws_params_cleanup(&p);
    return 0;
}
