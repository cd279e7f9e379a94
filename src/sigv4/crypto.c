/* src/sigv4/crypto.c: SHA-256 and HMAC-SHA256 with algorithms fetched once and one digest and one
 * MAC context per thread (OpenSSL's one-shot calls look the algorithm up every time). */
#include <pthread.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "sigv4/sigv4_internal.h"

struct s_thread {
    struct mg_sigv4_tls pub;
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    /* A second MAC context that stays keyed with the last signing key, so that the final HMAC
     * of a verification skips the key schedule when the key repeats (the common case). */
    EVP_MAC_CTX *sig_mac;
    uint8_t sig_key[32];
    bool sig_keyed;
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_key_t s_key;
static EVP_MD *s_sha256;
static EVP_MAC *s_hmac;
static _Thread_local struct s_thread *s_self;

static void s_thread_free(void *p)
{
    struct s_thread *t = p;
    if (!t)
        return;
    EVP_MD_CTX_free(t->md);
    EVP_MAC_CTX_free(t->mac);
    EVP_MAC_CTX_free(t->sig_mac);
    mg_memzero(t->sig_key, sizeof(t->sig_key));
    mg_buf_cleanup(&t->pub.creq);
    mg_buf_cleanup(&t->pub.scratch);
    mg_free(t);
}

static void s_init_once(void)
{
    (void)pthread_key_create(&s_key, s_thread_free);
    s_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static EVP_MAC_CTX *s_mac_new(void)
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(s_hmac);
    if (!m)
        return NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_CTX_set_params(m, params)) {
        EVP_MAC_CTX_free(m);
        return NULL;
    }
    return m;
}

static struct s_thread *s_thread_get(void)
{
    if (s_self)
        return s_self;
    (void)pthread_once(&s_once, s_init_once);
    if (!s_sha256 || !s_hmac)
        return NULL;
    struct s_thread *t = mg_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    mg_buf_init(&t->pub.creq, MG_LIMIT_CANONICAL_REQUEST);
    mg_buf_init(&t->pub.scratch, MG_LIMIT_CANONICAL_REQUEST);
    t->md = EVP_MD_CTX_new();
    t->mac = s_mac_new();
    t->sig_mac = s_mac_new();
    if (!t->md || !t->mac || !t->sig_mac) {
        s_thread_free(t);
        return NULL;
    }
    (void)pthread_setspecific(s_key, t);
    s_self = t;
    return t;
}

struct mg_sigv4_tls *mg_sigv4_tls_get(void)
{
    struct s_thread *t = s_thread_get();
    return t ? &t->pub : NULL;
}

void mg_sigv4_thread_cleanup(void)
{
    if (!s_self)
        return;
    (void)pthread_setspecific(s_key, NULL);
    s_thread_free(s_self);
    s_self = NULL;
}

bool mg_sigv4_sha256(struct mg_slice in, uint8_t out[32])
{
    struct s_thread *t = s_thread_get();
    unsigned int n = 0;
    return t && EVP_DigestInit_ex2(t->md, s_sha256, NULL) &&
           EVP_DigestUpdate(t->md, in.ptr, in.len) && EVP_DigestFinal_ex(t->md, out, &n) && n == 32;
}

bool mg_sigv4_hmac(const uint8_t *key, size_t key_len, struct mg_slice msg, uint8_t out[32])
{
    struct s_thread *t = s_thread_get();
    size_t n = 0;
    return t && EVP_MAC_init(t->mac, key, key_len, NULL) &&
           EVP_MAC_update(t->mac, msg.ptr, msg.len) && EVP_MAC_final(t->mac, out, &n, 32) &&
           n == 32;
}

bool mg_sigv4_hmac_signing(const uint8_t key[32], struct mg_slice msg, uint8_t out[32])
{
    struct s_thread *t = s_thread_get();
    if (!t)
        return false;
    size_t n = 0;
    bool same = t->sig_keyed && mg_ct_equal(mg_slice_make(key, 32), mg_slice_make(t->sig_key, 32));
    /* With a NULL key, EVP_MAC_init() restarts from the key set before. */
    if (!EVP_MAC_init(t->sig_mac, same ? NULL : key, same ? 0 : 32, NULL)) {
        t->sig_keyed = false;
        return false;
    }
    if (!same) {
        mg_memcpy(t->sig_key, key, 32);
        t->sig_keyed = true;
    }
    return EVP_MAC_update(t->sig_mac, msg.ptr, msg.len) && EVP_MAC_final(t->sig_mac, out, &n, 32) &&
           n == 32;
}
