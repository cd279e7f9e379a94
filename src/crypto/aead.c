#include <openssl/evp.h>

#include "crypto/crypto.h"

enum mg_err mg_aes256gcm(bool encrypt, const uint8_t key[32], const uint8_t nonce[MG_GCM_NONCE],
                         struct mg_slice aad, const uint8_t *in, size_t n, uint8_t *out,
                         uint8_t tag[MG_GCM_TAG])
{
    if (n > (size_t)INT32_MAX || aad.len > (size_t)INT32_MAX)
        return MG_E_TOO_LARGE;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return MG_E_NOMEM;
    enum mg_err e = MG_E_AUTH;
    int len = 0;
    int enc = encrypt ? 1 : 0;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, MG_GCM_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        (aad.len && EVP_CipherUpdate(ctx, NULL, &len, aad.ptr, (int)aad.len) != 1))
        goto out;
    if (n && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
        goto out;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MG_GCM_TAG, tag) != 1)
        goto out;
    /* Decryption: the tag is checked here. */
    if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1)
        goto out;
    if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MG_GCM_TAG, tag) != 1)
        goto out;
    e = MG_E_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return e;
}
