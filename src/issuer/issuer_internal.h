/* src/issuer/issuer_internal.h: what only the issuer module and its tests use. */
#ifndef MG_ISSUER_INTERNAL_H
#define MG_ISSUER_INTERNAL_H

#include <openssl/evp.h>

#include "issuer/issuer.h"

/* The current signing key and its kid (borrowed from k), or NULL. */
EVP_PKEY *mg_issuer_keys_current(const struct mg_issuer_keys *k, const char **kid);

/* The answer of the token endpoint, before it goes on the wire. */
struct mg_issuer_reply {
    int status;
    bool www_basic;     /* 401 invalid_client: WWW-Authenticate: Basic */
    struct mg_buf body; /* JSON */
};

/* The token endpoint without HTTP: authorization (the Authorization header, empty when absent),
 * content_type and body of a POST. reply->body must be initialized by the caller. */
void mg_issuer_token_request(struct mg_issuer *is, struct mg_slice authorization,
                             struct mg_slice content_type, struct mg_slice body,
                             struct mg_issuer_reply *reply);

/* The keys currently served (read again from the store every MG_ISSUER_RELOAD_MS by the
 * issuer's thread); a reference the caller drops with mg_issuer_keys_unref. */
struct mg_issuer_keys *mg_issuer_current_keys(struct mg_issuer *is);

#endif
