/* fuzz/fuzz_zip.c: the deployment-package reader (src/lambda/zip.c) on arbitrary archives, in
 * memory: the central directory checks (mg_lambda_zip_check) and the inflating verification
 * (mg_lambda_zip_verify), with a small cap on the inflated total so that a run stays fast.
 *
 * Properties checked besides "no crash, no leak, no read out of bounds": what the check accepts
 * declares at most the cap and a bounded entry count; what the verification accepts the check
 * accepts too. */
#include <stdint.h>
#include <stdlib.h>

#include "base/slice.h"
#include "lambda/internal.h"

#define S_CAP (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mg_slice z = mg_slice_make(data, size);
    struct mg_lambda_zip_info info = {0};
    char msg[256];
    enum mg_err checked = mg_lambda_zip_check(z, S_CAP, &info, msg, sizeof(msg));
    if (checked == MG_E_OK &&
        (info.total_uncompressed > S_CAP || info.n_entries > MG_LAMBDA_ZIP_ENTRIES_MAX))
        abort();
    enum mg_err verified = mg_lambda_zip_verify(z, S_CAP, msg, sizeof(msg));
    if (verified == MG_E_OK && checked != MG_E_OK)
        abort();
    return 0;
}
