/* fuzz/fuzz_oidc.c: an OpenID configuration document (mg_oidc_discovery_parse, src/oidc/) and
 * the URL rule of the key cache (mg_oidc_url_ok) on the same bytes taken as a C string. Must
 * never crash, leak or read out of bounds; a document accepted has an issuer and a jwks_uri that
 * passes mg_oidc_url_ok, a refusal always has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/slice.h"
#include "oidc/internal.h"
#include "oidc/oidc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mg_oidc_discovery d;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_oidc_discovery_parse(mg_slice_make(data, size), &d, &ei);
    if (e == MG_E_OK) {
        if (d.issuer == NULL || d.issuer[0] == '\0' || d.jwks_uri == NULL ||
            !mg_oidc_url_ok(d.jwks_uri, NULL, 0))
            abort();
    } else if (ei.msg[0] == '\0' || d.issuer || d.jwks_uri || d.token_endpoint ||
               d.authorization_endpoint) {
        abort();
    }
    mg_oidc_discovery_cleanup(&d);

    if (size <= MG_OIDC_MAX_URL + 16) {
        char url[MG_OIDC_MAX_URL + 17];
        memcpy(url, data, size);
        url[size] = '\0';
        char why[160] = "x";
        bool ok = mg_oidc_url_ok(url, why, sizeof(why));
        if (ok != (why[0] == '\0'))
            abort();
        if (ok && strlen(url) > MG_OIDC_MAX_URL)
            abort();
    }
    return 0;
}
