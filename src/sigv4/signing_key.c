/* src/sigv4/signing_key.c: signing-key derivation (iam-sigv4 A.3) and a cache of derived keys per
 * (access key, date, region, service).
 *
 * The cache is direct-mapped. Each slot is a seqlock over a few 64-bit words: readers never write
 * and never wait (they load the sequence, copy the words, load the sequence again and give up on a
 * change), and a writer claims a slot by making its sequence odd with a compare-and-swap, so two
 * writers never interleave (the loser just does not cache). All data words are atomics accessed
 * relaxed, with fences around them, so the scheme is free of data races in the C11 sense. The
 * secret itself is never stored: only a 64-bit fingerprint, so that a rotated secret under the same
 * access key misses instead of reusing the old key. A slot holds the key in its HMAC form (the
 * SHA-256 states after the padded key blocks), so a verification's HMAC skips the key schedule. */
#include <stdatomic.h>

#include "base/alloc.h"
#include "base/util.h"
#include "sigv4/sigv4_internal.h"

#define S_ID_WORDS 16 /* "akid/date/region/service" up to 128 bytes; longer ids are not cached */
#define S_W_LEN 0
#define S_W_FP 1
#define S_W_ID 2
#define S_W_KEY (S_W_ID + S_ID_WORDS)
#define S_KEY_WORDS 8 /* struct mg_sigv4_hmac_key: two SHA-256 states */
#define S_WORDS (S_W_KEY + S_KEY_WORDS)
_Static_assert(sizeof(struct mg_sigv4_hmac_key) == S_KEY_WORDS * 8, "key words");

struct s_slot {
    _Atomic uint32_t seq; /* even: stable; odd: being written; 0: never written */
    _Atomic uint64_t w[S_WORDS];
};

struct mg_sigv4_key_cache {
    size_t n;
    struct s_slot *slots;
};

static bool s_derive(struct mg_slice secret, struct mg_slice date, struct mg_slice region,
                     struct mg_slice service, uint8_t out[32])
{
    uint8_t small[260], *k = small, a[32], b[32];
    bool ok = false;
    if (secret.len > sizeof(small) - 4) {
        k = mg_malloc(secret.len + 4);
        if (!k)
            return false;
    }
    mg_memcpy(k, "AWS4", 4);
    if (secret.len)
        mg_memcpy(k + 4, secret.ptr, secret.len);
    ok = mg_sigv4_hmac(k, secret.len + 4, date, a) && mg_sigv4_hmac(a, 32, region, b) &&
         mg_sigv4_hmac(b, 32, service, a) &&
         mg_sigv4_hmac(a, 32, MG_SLICE_LIT("aws4_request"), out);
    mg_memzero(k, secret.len + 4);
    mg_memzero(a, sizeof(a));
    mg_memzero(b, sizeof(b));
    if (k != small)
        mg_free(k);
    return ok;
}

void mg_sigv4_signing_key(struct mg_slice secret, struct mg_slice date, struct mg_slice region,
                          struct mg_slice service, uint8_t out[32])
{
    if (!s_derive(secret, date, region, service, out))
        mg_random_bytes(out, 32); /* unpredictable: nothing will verify against it */
}

struct mg_sigv4_key_cache *mg_sigv4_key_cache_new(size_t slots)
{
    if (slots == 0 || slots > (1u << 20))
        return NULL;
    struct mg_sigv4_key_cache *c = mg_calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->slots = mg_calloc(slots, sizeof(*c->slots));
    if (!c->slots) {
        mg_free(c);
        return NULL;
    }
    c->n = slots;
    /* calloc's zero bytes are the slots' zero values (lock-free integers, checked below): no
     * pass over them, so a slot's page becomes resident only when a key is cached in it (4,096
     * slots are 870 KB, most of an idle server's own memory otherwise) */
    _Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2,
                   "the key cache relies on lock-free atomics");
    return c;
}

void mg_sigv4_key_cache_free(struct mg_sigv4_key_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        for (size_t k = 0; k < S_WORDS; k++)
            atomic_store_explicit(&c->slots[i].w[k], 0, memory_order_relaxed);
    mg_free(c->slots);
    mg_free(c);
}

/* A fast non-cryptographic hash, eight bytes at a time (slot choice and secret fingerprint). */
static uint64_t s_hash(const uint8_t *p, size_t n, uint64_t h)
{
    while (n) {
        uint64_t w = 0;
        size_t k = n < 8 ? n : 8;
        mg_memcpy(&w, p, k);
        h = (h ^ w) * 0x9fb21c651e98df25ull;
        h ^= h >> 29;
        p += k;
        n -= k;
    }
    return (h ^ (h >> 32)) * 0xd6e8feb86659fd93ull;
}

/* Packs "akid/date/region/service" into zero-padded words; false if too long. */
static bool s_id(const struct mg_sigv4_auth *a, uint64_t words[S_ID_WORDS], size_t *len)
{
    uint8_t buf[S_ID_WORDS * 8] = {0};
    struct mg_slice parts[4] = {a->access_key_id, a->scope_date, a->region, a->service};
    size_t n = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t need = parts[i].len + (i < 3 ? 1u : 0u);
        if (need > sizeof(buf) - n) /* n <= sizeof(buf) holds throughout */
            return false;
        if (parts[i].len)
            mg_memcpy(buf + n, parts[i].ptr, parts[i].len);
        n += parts[i].len;
        if (i < 3)
            buf[n++] = '/';
    }
    mg_memcpy(words, buf, sizeof(buf));
    *len = n;
    return true;
}

static uint64_t s_secret_fp(struct mg_slice secret)
{
    return s_hash(secret.ptr, secret.len, 0x9e3779b97f4a7c15ull);
}

bool mg_sigv4_key_cache_get(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                            struct mg_slice secret, struct mg_sigv4_hmac_key *key)
{
    uint64_t id[S_ID_WORDS], got[S_WORDS];
    size_t len;
    if (!c || !s_id(auth, id, &len))
        return false;
    struct s_slot *s = &c->slots[s_hash((const uint8_t *)id, len, 0xcbf29ce484222325ull) % c->n];
    uint32_t s1 = atomic_load_explicit(&s->seq, memory_order_acquire);
    if (s1 == 0 || (s1 & 1))
        return false;
    for (size_t k = 0; k < S_WORDS; k++)
        got[k] = atomic_load_explicit(&s->w[k], memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != s1)
        return false;
    bool same = got[S_W_LEN] == len && got[S_W_FP] == s_secret_fp(secret);
    for (size_t k = 0; k < S_ID_WORDS; k++)
        same = same && got[S_W_ID + k] == id[k];
    if (same)
        mg_memcpy(key, &got[S_W_KEY], sizeof(*key));
    mg_memzero(got, sizeof(got));
    return same;
}

void mg_sigv4_key_cache_put(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                            struct mg_slice secret, const struct mg_sigv4_hmac_key *key)
{
    uint64_t id[S_ID_WORDS], kw[S_KEY_WORDS];
    size_t len;
    if (!c || !s_id(auth, id, &len))
        return;
    struct s_slot *s = &c->slots[s_hash((const uint8_t *)id, len, 0xcbf29ce484222325ull) % c->n];
    uint32_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    if ((seq & 1) ||
        !atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1, memory_order_relaxed,
                                                 memory_order_relaxed))
        return; /* another writer holds the slot: skip caching */
    atomic_thread_fence(memory_order_release);
    mg_memcpy(kw, key, sizeof(kw));
    atomic_store_explicit(&s->w[S_W_LEN], len, memory_order_relaxed);
    atomic_store_explicit(&s->w[S_W_FP], s_secret_fp(secret), memory_order_relaxed);
    for (size_t k = 0; k < S_ID_WORDS; k++)
        atomic_store_explicit(&s->w[S_W_ID + k], id[k], memory_order_relaxed);
    for (size_t k = 0; k < S_KEY_WORDS; k++)
        atomic_store_explicit(&s->w[S_W_KEY + k], kw[k], memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    mg_memzero(kw, sizeof(kw));
}

bool mg_sigv4_derive_key(struct mg_sigv4_key_cache *c, const struct mg_sigv4_auth *auth,
                         struct mg_slice secret, struct mg_sigv4_hmac_key *key)
{
    if (mg_sigv4_key_cache_get(c, auth, secret, key))
        return true;
    uint8_t raw[32];
    if (!s_derive(secret, auth->scope_date, auth->region, auth->service, raw))
        return false;
    mg_sigv4_hmac_key_init(key, raw, sizeof(raw));
    mg_memzero(raw, sizeof(raw));
    mg_sigv4_key_cache_put(c, auth, secret, key);
    return true;
}
