/* fuzz/fuzz_smithy.c: Smithy JSON AST models (src/targets/smithy.c, mg_smithy_tools), then a
 * request built for each derived tool with the same arguments, and a result of each status class.
 *
 * Input: the model, then optionally "\n#ARGS\n" and a JSON arguments object. Properties
 * checked besides "no crash, no leak, no hang": a refusal says why (msg not empty), every tool
 * has a name within the limits and a "_call", and a request builder either succeeds with an
 * absolute URL or explains its refusal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "targets/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        mg_json_use_counting_allocator();
        init = 1;
    }
    struct mg_slice doc = mg_slice_make(data, size), args_text = {0};
    static const char sep[] = "\n#ARGS\n";
    for (size_t i = 0; i + sizeof(sep) - 1 <= size; i++)
        if (memcmp(data + i, sep, sizeof(sep) - 1) == 0) {
            doc = mg_slice_make(data, i);
            args_text = mg_slice_make(data + i + sizeof(sep) - 1, size - i - (sizeof(sep) - 1));
            break;
        }
    const struct mg_target_limits lim = {.max_tools = 50, .max_name = 64, .target_name_len = 8};
    json_t *tools = NULL;
    char msg[512] = {0};
    enum mg_err e = mg_smithy_tools(doc, &lim, &tools, msg, sizeof(msg));
    if (e != MG_E_OK) {
        if (tools != NULL || msg[0] == 0)
            abort();
        return 0;
    }
    if (json_array_size(tools) == 0 || json_array_size(tools) > lim.max_tools)
        abort();
    json_t *args = json_loadb((const char *)args_text.ptr, args_text.len, 0, NULL);
    if (args == NULL)
        args = json_object();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *call = json_object_get(t, "_call");
        if (name == NULL || strlen(name) + 3 + lim.target_name_len > lim.max_name ||
            !json_is_object(call) || !json_is_object(json_object_get(t, "inputSchema")))
            abort();
        struct mg_target_req r;
        mg_target_req_init(&r);
        msg[0] = 0;
        e = mg_smithy_request(call, args, "http://127.0.0.1:9", &r, msg, sizeof(msg));
        if (e == MG_E_OK) {
            const char *url = mg_buf_cstr(&r.url);
            if (url == NULL ||
                (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
                abort();
        } else if (msg[0] == 0)
            abort();
        mg_target_req_cleanup(&r);
        static const long statuses[] = {200, 204, 400, 403, 500};
        for (size_t k = 0; k < sizeof(statuses) / sizeof(statuses[0]); k++) {
            json_t *res = mg_smithy_result(call, statuses[k], MG_SLICE_LIT("application/json"),
                                           args_text);
            if (res == NULL || !json_is_array(json_object_get(res, "content")))
                abort();
            json_decref(res);
        }
    }
    json_decref(args);
    json_decref(tools);
    return 0;
}
