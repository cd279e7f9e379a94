/* src/crypto/crypto.h: authenticated encryption for the server's own tokens (STS session tokens,
 * MCP session ids), in one place. OpenSSL underneath. */
#ifndef MG_CRYPTO_H
#define MG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

#define MG_GCM_NONCE 12
#define MG_GCM_TAG 16

/* AES-256-GCM over n bytes of `in` into `out` (n bytes), with additional data `aad` (a purpose
 * label, so that tokens of one kind never open as another). Encrypting writes the tag; decrypting
 * checks it (in constant time) and returns MG_E_AUTH when it does not match. */
MG_MUST_USE enum mg_err mg_aes256gcm(bool encrypt, const uint8_t key[32],
                                     const uint8_t nonce[MG_GCM_NONCE], struct mg_slice aad,
                                     const uint8_t *in, size_t n, uint8_t *out,
                                     uint8_t tag[MG_GCM_TAG]);

#endif
