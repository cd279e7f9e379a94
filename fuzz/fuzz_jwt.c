/* fuzz/fuzz_jwt.c: the input split at its first NUL byte: a JWKS document (src/jwt/jwt.c) and a
 * compact token verified against it, then validated with fixed rules (issuer, audiences,
 * clients, scopes, custom claims). Without a NUL, the input is tried as both. Must never crash,
 * leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/slice.h"
#include "jwt/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    struct mg_slice jwks_doc = mg_slice_make(data, nul ? (size_t)(nul - data) : size);
    struct mg_slice token = nul ? mg_slice_make(nul + 1, size - (size_t)(nul - data) - 1)
                                : mg_slice_make(data, size);
    struct mg_jwks *jwks = NULL;
    struct mg_errinfo ei = {0};
    if (mg_jwks_parse(jwks_doc, &jwks, &ei) != MG_E_OK) {
        if (ei.msg[0] == 0)
            abort();
        jwks = NULL;
    }
    static const char *const aud[] = {"api"}, *const clients[] = {"c1"}, *const scopes[] = {"read"};
    static const char *const any[] = {"a", "b"};
    static const struct mg_jwt_custom_claim cc[] = {
        {"azp", MG_CLAIM_STRING, MG_CLAIM_EQUALS, "app", NULL, 0},
        {"groups", MG_CLAIM_STRING_ARRAY, MG_CLAIM_CONTAINS, "g", NULL, 0},
        {"groups", MG_CLAIM_STRING_ARRAY, MG_CLAIM_CONTAINS_ANY, NULL, any, 2},
    };
    struct mg_jwt_claims c;
    enum mg_jwt_status st = mg_jwt_verify(jwks, token, &c);
    if (st == MG_JWT_OK) {
        struct mg_jwt_rules r = {.issuer = "iss", .now = 1800000000, .skew = -1};
        (void)mg_jwt_validate(&c, &r);
        r = (struct mg_jwt_rules){.now = 1800000000,
                                  .skew = 0,
                                  .audiences = aud,
                                  .n_audiences = 1,
                                  .clients = clients,
                                  .n_clients = 1,
                                  .scopes = scopes,
                                  .n_scopes = 1,
                                  .claims = cc,
                                  .n_claims = 3};
        (void)mg_jwt_validate(&c, &r);
        for (size_t i = 0; i < 3; i++)
            (void)mg_jwt_custom_claim_match(c.payload, &cc[i]);
    } else if (c.payload) {
        abort();
    }
    if (mg_jwt_status_str(st) == NULL)
        abort();
    mg_jwt_claims_cleanup(&c);
    mg_jwks_unref(jwks);
    return 0;
}
