/* fuzz/fuzz_sigv4.c: SigV4 parse, canonicalisation and verification on arbitrary requests.
 *
 * Input, '\n'-separated: method, path, query, an Authorization value, a SignedHeaders list, then
 * "name:value" header lines up to an empty line, then the body. Properties checked besides "no
 * crash": whatever the outbound signer signs, the verifier never calls a signature mismatch
 * (it accepts, or refuses the request's shape as INCOMPLETE), unless the request has its own
 * x-amz-content-sha256 header (held to the body's hash); the verifier's one-pass canonical request
 * agrees with the building blocks (same verdict, message and bytes); HMAC-SHA256 with precomputed
 * pads agrees with OpenSSL's HMAC(). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/slice.h"
#include "sigv4/sigv4.h"
#include "sigv4/sigv4_internal.h"

#define S_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S_NOW 1440938160 /* 20150830T123600Z */

static struct mg_sigv4_key_cache *s_cache;

static struct mg_slice s_line(struct mg_slice *rest)
{
    struct mg_slice out = {0};
    if (!mg_slice_split(rest, '\n', &out))
        out = mg_slice_make(NULL, 0);
    return out;
}

/* The verifier's one-pass canonical request against check + mg_sigv4_canonical_request_ex(). */
static void s_one_pass(const struct mg_sigv4_request *req, const struct mg_sigv4_auth *a)
{
    struct mg_errinfo e1 = {0}, e2 = {0};
    struct mg_buf x, y;
    char hex[64];
    uint8_t h[32];
    struct mg_slice payload, v;
    if (mg_sigv4_header(req, "x-amz-content-sha256", &v)) {
        payload = mg_slice_trim(v);
    } else {
        if (!mg_sigv4_sha256(req->body, h))
            abort();
        mg_sigv4_hex32(h, hex);
        payload = mg_slice_make(hex, 64);
    }
    mg_buf_init(&x, MG_LIMIT_CANONICAL_REQUEST);
    mg_buf_init(&y, MG_LIMIT_CANONICAL_REQUEST);
    enum mg_err ex = mg_sigv4_canonical_request_ex(req, a, payload, 0, &x), ey = MG_E_INTERNAL;
    enum mg_sigv4_status s1 = mg_sigv4_check_signed_headers(req, a, &e1);
    enum mg_sigv4_status s2 = mg_sigv4_canonical_verify(req, a, payload, &y, &ey, &e2);
    if (s1 != s2 || (s1 != MG_SIGV4_OK && (e1.code != e2.code || strcmp(e1.msg, e2.msg) != 0)))
        abort();
    if (s1 == MG_SIGV4_OK &&
        (ex != ey || (ex == MG_E_OK && !mg_slice_eq(mg_buf_slice(&x), mg_buf_slice(&y)))))
        abort();
    mg_buf_cleanup(&x);
    mg_buf_cleanup(&y);
}

/* HMAC with precomputed pads against OpenSSL's HMAC(): the first bytes are the key. */
static void s_hmac(const uint8_t *data, size_t size)
{
    size_t klen = size ? data[0] % 100 : 0;
    if (klen > size - (size ? 1 : 0))
        klen = size ? size - 1 : 0;
    const uint8_t *key = size ? data + 1 : data;
    struct mg_slice msg = mg_slice_make(key + klen, size - (size ? 1 : 0) - klen);
    uint8_t want[32], got[32];
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), key, (int)klen, msg.ptr, msg.len, want, &n) || n != 32)
        abort();
    struct mg_sigv4_hmac_key k;
    mg_sigv4_hmac_key_init(&k, key, klen);
    struct mg_slice parts[2] = {mg_slice_sub(msg, 0, msg.len / 3),
                                mg_slice_sub(msg, msg.len / 3, msg.len - msg.len / 3)};
    mg_sigv4_hmac_parts(&k, parts, 2, got);
    if (memcmp(got, want, 32) != 0)
        abort();
}

static void s_parse_and_verify(const struct mg_sigv4_request *req)
{
    struct mg_sigv4_auth a;
    struct mg_errinfo ei;
    struct mg_buf b, tok;
    const char *regions[] = {"us-east-1"};
    if (mg_sigv4_parse(req, &a, &ei) != MG_SIGV4_OK)
        return;
    s_one_pass(req, &a);
    (void)mg_sigv4_check(&a, regions, 1, "service", S_NOW, 900, &ei);
    mg_buf_init(&b, MG_LIMIT_CANONICAL_REQUEST);
    if (mg_sigv4_canonical_request(req, &a, &b) == MG_E_OK) {
        struct mg_buf sts;
        mg_buf_init(&sts, MG_LIMIT_CANONICAL_REQUEST);
        (void)mg_sigv4_string_to_sign(&a, mg_buf_slice(&b), &sts);
        mg_buf_cleanup(&sts);
    }
    mg_buf_cleanup(&b);
    mg_buf_init(&tok, MG_LIMIT_HEADER_BYTES);
    (void)mg_sigv4_token(&a, &tok);
    mg_buf_cleanup(&tok);
    (void)mg_sigv4_verify(req, &a, MG_SLICE_LIT(S_SECRET), NULL, &ei);
    (void)mg_sigv4_verify(req, &a, MG_SLICE_LIT(S_SECRET), s_cache, &ei);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_cache)
        s_cache = mg_sigv4_key_cache_new(4);
    uint8_t *copy = mg_malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        mg_memcpy(copy, data, size);
    s_hmac(data, size);
    struct mg_slice rest = mg_slice_make(copy, size);
    struct mg_sigv4_request req = {0};
    req.method = s_line(&rest);
    req.path = s_line(&rest);
    req.query = s_line(&rest);
    struct mg_slice authz = s_line(&rest);
    struct mg_slice signed_headers = s_line(&rest);
    struct mg_kv h[MG_LIMIT_HEADERS + 2];
    size_t n = 0;
    while (rest.ptr && n < MG_LIMIT_HEADERS - 1) {
        struct mg_slice line = s_line(&rest);
        if (line.len == 0)
            break;
        long colon = mg_slice_find(line, ':');
        if (colon < 0)
            continue;
        uint8_t *p = (uint8_t *)line.ptr; /* our copy: lower-case the name in place */
        for (long i = 0; i < colon; i++)
            if (p[i] >= 'A' && p[i] <= 'Z')
                p[i] = (uint8_t)(p[i] + 32);
        h[n].name = mg_slice_sub(line, 0, (size_t)colon);
        h[n].value = mg_slice_sub(line, (size_t)colon + 1, line.len - (size_t)colon - 1);
        n++;
    }
    req.body = rest.ptr ? rest : mg_slice_make(NULL, 0);
    req.headers = h;
    req.n_headers = n;

    /* 1. the request as given, and with the Authorization line added */
    s_parse_and_verify(&req);
    h[n] = (struct mg_kv){MG_SLICE_LIT("authorization"), authz};
    req.n_headers = n + 1;
    s_parse_and_verify(&req);
    req.n_headers = n;

    /* 2. canonicalisation with an arbitrary SignedHeaders list, both forms */
    struct mg_sigv4_auth a = {.signed_headers = signed_headers,
                              .scope_date = MG_SLICE_LIT("20150830"),
                              .region = MG_SLICE_LIT("us-east-1"),
                              .service = MG_SLICE_LIT("service"),
                              .terminator = MG_SLICE_LIT("aws4_request"),
                              .amz_date = MG_SLICE_LIT("20150830T123600Z"),
                              .request_time = S_NOW};
    struct mg_buf b;
    struct mg_errinfo ei;
    mg_buf_init(&b, MG_LIMIT_CANONICAL_REQUEST);
    (void)mg_sigv4_canonical_request(&req, &a, &b);
    s_one_pass(&req, &a);
    a.presigned = true;
    mg_buf_reset(&b);
    (void)mg_sigv4_canonical_request(&req, &a, &b);
    s_one_pass(&req, &a);

    /* 3. round trip: what the signer signs, the verifier must not call a mismatch */
    struct mg_sigv4_signer s = {.access_key_id = MG_SLICE_LIT("AKIDEXAMPLE"),
                                .secret = MG_SLICE_LIT(S_SECRET),
                                .region = MG_SLICE_LIT("us-east-1"),
                                .service = MG_SLICE_LIT("service"),
                                .now = S_NOW};
    char date[17];
    mg_buf_reset(&b);
    if (mg_sigv4_sign(&s, &req, date, &b) == MG_E_OK) {
        h[n] = (struct mg_kv){MG_SLICE_LIT("x-amz-date"), mg_slice_make(date, 16)};
        h[n + 1] = (struct mg_kv){MG_SLICE_LIT("authorization"), mg_buf_slice(&b)};
        req.n_headers = n + 2;
        enum mg_sigv4_status st = mg_sigv4_parse(&req, &a, &ei);
        if (st == MG_SIGV4_OK)
            st = mg_sigv4_verify(&req, &a, MG_SLICE_LIT(S_SECRET), s_cache, &ei);
        /* unless the request carries its own x-amz-content-sha256: the verifier holds it to the
         * body's hash (UNSIGNED-PAYLOAD and the like are a mismatch, by design) */
        bool own_hash = false;
        for (size_t i = 0; i < n; i++)
            own_hash |= mg_slice_eq_cstr(h[i].name, "x-amz-content-sha256");
        if (st == MG_SIGV4_MISMATCH && !own_hash)
            abort();
    }
    mg_buf_cleanup(&b);
    mg_free(copy);
    return 0;
}
