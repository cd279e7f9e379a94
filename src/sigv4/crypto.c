/* src/sigv4/crypto.c: SHA-256 and HMAC-SHA256 for SigV4, and the per-thread scratch buffers.
 *
 * Why OpenSSL's low-level SHA256_Init/Update/Final, deprecated since OpenSSL 3.0: SigV4 hashes
 * inputs of a few hundred bytes several times per request, and at that size the EVP layer (provider
 * dispatch, context reset, parameter handling: EVP_DigestInit_ex2/EVP_MAC_init) costs as much as
 * the hashing itself. The low-level functions run the same assembly (SHA-NI, AVX2) with none of
 * that, cannot fail, and need no context allocation. They also give direct access to the SHA-256
 * chaining state (SHA256_CTX.h, a public field of <openssl/sha.h>), which HMAC with precomputed
 * pads needs: HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), and the states after the one block
 * (K ^ ipad) and (K ^ opad) are computed once per signing key (the key cache keeps them), so a
 * verification's HMAC costs only its message blocks plus one outer block. Measured with
 * bench/bench_sigv4.c. This file is the only one that uses the deprecated API: it suppresses the
 * deprecation warnings here and nowhere else; the functions are present in every OpenSSL 3 build
 * that was not configured with no-deprecated (Debian's and Ubuntu's are not). */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <pthread.h>

#include <openssl/sha.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "sigv4/sigv4_internal.h"

#if defined(OPENSSL_NO_DEPRECATED_3_0)
#error "src/sigv4/crypto.c needs OpenSSL's SHA256_Init/Update/Final (see the comment above)"
#endif

_Static_assert(sizeof(((SHA256_CTX *)0)->h) == 32, "SHA-256 chaining state is 8 x 32 bits");

struct s_thread {
    struct mg_sigv4_tls pub;
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_key_t s_key;
static _Thread_local struct s_thread *s_self;

static void s_thread_free(void *p)
{
    struct s_thread *t = p;
    if (!t)
        return;
    mg_buf_cleanup(&t->pub.creq);
    mg_buf_cleanup(&t->pub.scratch);
    mg_free(t);
}

static void s_init_once(void)
{
    (void)pthread_key_create(&s_key, s_thread_free);
}

static struct s_thread *s_thread_get(void)
{
    if (s_self)
        return s_self;
    (void)pthread_once(&s_once, s_init_once);
    struct s_thread *t = mg_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    mg_buf_init(&t->pub.creq, MG_LIMIT_CANONICAL_REQUEST);
    mg_buf_init(&t->pub.scratch, MG_LIMIT_CANONICAL_REQUEST);
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
    SHA256_CTX c;
    (void)SHA256_Init(&c);
    if (in.len)
        (void)SHA256_Update(&c, in.ptr, in.len);
    (void)SHA256_Final(out, &c);
    return true;
}

/* The chaining state after hashing one 64-byte block: pad ^ key. */
static void s_pad_state(const uint8_t *key, size_t key_len, uint8_t pad, uint32_t state[8])
{
    uint8_t block[64];
    SHA256_CTX c;
    for (size_t i = 0; i < 64; i++)
        block[i] = (uint8_t)((i < key_len ? key[i] : 0) ^ pad);
    (void)SHA256_Init(&c);
    (void)SHA256_Update(&c, block, 64);
    for (size_t i = 0; i < 8; i++)
        state[i] = c.h[i];
    mg_memzero(block, sizeof(block));
    mg_memzero(&c, sizeof(c));
}

void mg_sigv4_hmac_key_init(struct mg_sigv4_hmac_key *k, const uint8_t *key, size_t key_len)
{
    uint8_t hashed[32];
    if (key_len > 64) { /* RFC 2104: longer keys are hashed first */
        SHA256_CTX c;
        (void)SHA256_Init(&c);
        (void)SHA256_Update(&c, key, key_len);
        (void)SHA256_Final(hashed, &c);
        mg_memzero(&c, sizeof(c));
        key = hashed;
        key_len = 32;
    }
    s_pad_state(key, key_len, 0x36, k->inner);
    s_pad_state(key, key_len, 0x5c, k->outer);
    mg_memzero(hashed, sizeof(hashed));
}

/* A context that resumes from a chaining state saved after one block. */
static void s_resume(SHA256_CTX *c, const uint32_t state[8])
{
    (void)SHA256_Init(c); /* sets md_len and clears the rest */
    for (size_t i = 0; i < 8; i++)
        c->h[i] = state[i];
    c->Nl = 512; /* bits hashed so far: the one padded key block */
}

void mg_sigv4_hmac_parts(const struct mg_sigv4_hmac_key *k, const struct mg_slice *parts,
                         size_t n_parts, uint8_t out[32])
{
    SHA256_CTX c;
    uint8_t inner[32];
    s_resume(&c, k->inner);
    for (size_t i = 0; i < n_parts; i++)
        if (parts[i].len)
            (void)SHA256_Update(&c, parts[i].ptr, parts[i].len);
    (void)SHA256_Final(inner, &c);
    s_resume(&c, k->outer);
    (void)SHA256_Update(&c, inner, 32);
    (void)SHA256_Final(out, &c);
    mg_memzero(&c, sizeof(c));
    mg_memzero(inner, sizeof(inner));
}

bool mg_sigv4_hmac(const uint8_t *key, size_t key_len, struct mg_slice msg, uint8_t out[32])
{
    struct mg_sigv4_hmac_key k;
    mg_sigv4_hmac_key_init(&k, key, key_len);
    mg_sigv4_hmac_parts(&k, &msg, 1, out);
    mg_memzero(&k, sizeof(k));
    return true;
}

void mg_sigv4_hex32(const uint8_t in[32], char out[64])
{
    /* one table look-up per byte: the two digits of every byte value */
    static const char t[513] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                               "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                               "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                               "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                               "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                               "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                               "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    for (size_t i = 0; i < 32; i++) {
        const char *d = t + 2 * (size_t)in[i]; /* read once: out may alias in for the compiler */
        out[2 * i] = d[0];
        out[2 * i + 1] = d[1];
    }
}
