/* fuzz/fuzz_identities.c: the identities file's validation (src/iam/identities.c) on arbitrary
 * documents: JSON parsing with duplicate keys refused, then every check the server runs at start
 * before it applies the file (accounts, keys, users, roles, tags, policy documents). Nothing is
 * applied: no store is needed. Must never crash, leak or read out of bounds; a refusal always
 * carries a message naming the place. */
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/slice.h"
#include "iam/iam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        mg_iam_init();
        inited = 1;
    }
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_iam_check_identities(mg_slice_make(data, size), &ei);
    if (e != MG_E_OK && ei.msg[0] == 0)
        abort();
    return 0;
}
