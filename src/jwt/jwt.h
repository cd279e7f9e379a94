/* src/jwt/jwt.h: JWS/JWKS verification and claim rules for CUSTOM_JWT gateways (docs/jwt.md).
 * Pure: no I/O. A JWKS is parsed once (public keys built then) and is immutable afterwards, so
 * one struct mg_jwks may be shared by threads; verification only reads it. */
#ifndef MG_JWT_H
#define MG_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "base/slice.h"

#define MG_JWT_MAX_TOKEN 16384 /* bytes of the compact token */
#define MG_JWT_MAX_DEPTH 16    /* JSON nesting of header and payload */
#define MG_JWKS_MAX_BYTES 65536
#define MG_JWKS_MAX_KEYS 100
#define MG_JWT_MAX_KID 256
#define MG_JWT_MIN_RSA_BITS 2048
#define MG_JWT_MAX_RSA_BITS 8192
#define MG_JWT_DEFAULT_SKEW 60 /* seconds of clock skew allowed on exp, nbf and iat */
#define MG_JWT_MAX_SKEW 3600   /* a larger skew is clamped to this */
/* Signature checks one token may cost: a token without kid is tried against at most this many
 * keys of its type (the first ones of the JWKS), so a key set of 100 RSA keys cannot make one
 * request cost 100 verifications. */
#define MG_JWT_MAX_KEYS_TRIED 4

/* One code per failure; mg_jwt_status_str gives a short client-safe message (never the token). */
enum mg_jwt_status {
    MG_JWT_OK = 0,
    MG_JWT_MALFORMED,       /* not a compact JWS, bad base64url or JSON, limits */
    MG_JWT_UNSUPPORTED_ALG, /* none, HS*, unknown alg, crit, jku/x5u/jwk/x5c */
    MG_JWT_UNKNOWN_KID,     /* no key of the JWKS fits the kid and alg */
    MG_JWT_BAD_SIGNATURE,
    MG_JWT_EXPIRED,
    MG_JWT_NOT_YET_VALID,
    MG_JWT_ISSUED_IN_FUTURE,
    MG_JWT_WRONG_ISSUER,
    MG_JWT_WRONG_AUDIENCE,
    MG_JWT_CLIENT_NOT_ALLOWED,
    MG_JWT_MISSING_SCOPE,
    MG_JWT_CLAIM_MISMATCH, /* a customClaims rule failed */
    MG_JWT_NOMEM,
};

const char *mg_jwt_status_str(enum mg_jwt_status s);
/* true for failures that answer 403 insufficient_scope rather than 401 invalid_token. */
bool mg_jwt_status_is_forbidden(enum mg_jwt_status s);

struct mg_jwks;

/* Parses a JWKS document ({"keys":[...]}). Keys with "use" other than "sig", of an unknown kty,
 * or that cannot be built are skipped; RSA keys under 2048 bits are skipped. MG_E_PARSE when the
 * document is not a JWKS, MG_E_TOO_LARGE past the limits, MG_E_NOMEM. A JWKS without any usable
 * key is returned (empty): every token then fails with MG_JWT_UNKNOWN_KID. */
MG_MUST_USE enum mg_err mg_jwks_parse(struct mg_slice doc, struct mg_jwks **out,
                                      struct mg_errinfo *ei);
size_t mg_jwks_count(const struct mg_jwks *j); /* usable keys */
struct mg_jwks *mg_jwks_ref(struct mg_jwks *j);
void mg_jwks_unref(struct mg_jwks *j); /* NULL is fine */

struct mg_jwt_claims {
    const char *iss, *sub, *client_id, *azp; /* NULL when absent; borrowed from payload */
    json_t *aud;                             /* string or array (borrowed), NULL when absent */
    json_t *scope;                           /* "scope" string, else "scp" (string or array) */
    bool has_exp, has_nbf, has_iat;
    int64_t exp, nbf, iat;
    json_t *payload; /* owned: the whole payload object, for custom claims */
    char alg[8];
    char kid[MG_JWT_MAX_KID + 1]; /* "" when absent */
};

/* Parses and verifies token against jwks: structure, header rules, signature. On MG_JWT_OK
 * claims is filled (release with mg_jwt_claims_cleanup); on failure it is left empty. */
MG_MUST_USE enum mg_jwt_status mg_jwt_verify(const struct mg_jwks *jwks, struct mg_slice token,
                                             struct mg_jwt_claims *claims);
void mg_jwt_claims_cleanup(struct mg_jwt_claims *c);

enum mg_claim_value_type { MG_CLAIM_STRING, MG_CLAIM_STRING_ARRAY };
enum mg_claim_op { MG_CLAIM_EQUALS, MG_CLAIM_CONTAINS, MG_CLAIM_CONTAINS_ANY };

/* One customClaims entry of CustomJWTAuthorizerConfiguration. */
struct mg_jwt_custom_claim {
    const char *name; /* inboundTokenClaimName: a top-level claim of the payload */
    enum mg_claim_value_type type;
    enum mg_claim_op op;
    const char *value;         /* matchValueString (EQUALS, CONTAINS) */
    const char *const *values; /* matchValueStringList (CONTAINS_ANY) */
    size_t n_values;
};

/* The rules of a customJWTAuthorizer. Empty lists are not checked. */
struct mg_jwt_rules {
    const char *issuer; /* NULL: not checked */
    int64_t now;
    int64_t skew; /* seconds; negative means MG_JWT_DEFAULT_SKEW; at most MG_JWT_MAX_SKEW */
    const char *const *audiences;
    size_t n_audiences;
    const char *const *clients;
    size_t n_clients;
    const char *const *scopes;
    size_t n_scopes;
    const struct mg_jwt_custom_claim *claims;
    size_t n_claims;
};

/* Checks time claims, issuer, audience, clients, scopes and custom claims, in that order. */
MG_MUST_USE enum mg_jwt_status mg_jwt_validate(const struct mg_jwt_claims *c,
                                               const struct mg_jwt_rules *r);

/* One custom claim rule against a payload object: true when it matches. */
bool mg_jwt_custom_claim_match(const json_t *payload, const struct mg_jwt_custom_claim *cc);

#endif
