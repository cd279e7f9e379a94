/* Mcp-Session-Id tokens and tools/list cursors.
 *
 * A session id is the session itself, sealed with AES-256-GCM under the server's token key:
 *
 *   base64url( 0x4d | nonce (12, random) | ciphertext | tag (16) ),  AAD "mcpgate-mcp-session-1"
 *
 * The plaintext is "sid \n gateway id \n caller ARN \n version \n expiry \n issued (ms)". The AAD
 * is the purpose label: an STS session token (AAD "mcpgate-sts-1") never opens as a session id and
 * the other way round, although both use the same key. Any node holding the key checks a session
 * id without a store lookup; ended sessions (DELETE) are kept in memory by revoke.c. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "base/alloc.h"
#include "base/util.h"
#include "mcp/internal.h"

#define S_VERSION 0x4e /* 0x4d: without the issue time */
#define S_NONCE 12
#define S_TAG 16
#define S_AAD "mcpgate-mcp-session-1"
#define S_PLAIN_MAX 1024

static enum mg_err s_gcm(bool enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *in,
                         size_t n, uint8_t *out, uint8_t *tag)
{
    return mg_aes256gcm(enc, key, nonce, MG_SLICE_LIT(S_AAD), in, n, out, tag);
}

static bool s_field_ok(const char *s)
{
    return strchr(s, '\n') == NULL;
}

enum mg_err mg_mcp_session_seal(const uint8_t key[32], struct mg_mcp_session *s, struct mg_buf *out)
{
    uint8_t rnd[16];
    mg_random_bytes(rnd, sizeof(rnd));
    mg_hex_encode(rnd, sizeof(rnd), s->sid);
    s->sid[32] = 0;
    s->issued_ms = mg_now_ms();
    if (!s_field_ok(s->gateway_id) || !s_field_ok(s->caller))
        return MG_E_INVALID;
    char plain[S_PLAIN_MAX];
    int n = snprintf(plain, sizeof(plain), "%s\n%s\n%s\n%s\n%lld\n%lld", s->sid, s->gateway_id,
                     s->caller, mg_mcp_version_str(s->version), (long long)s->expires,
                     (long long)s->issued_ms);
    if (n < 0 || (size_t)n >= sizeof(plain))
        return MG_E_TOO_LARGE;
    uint8_t sealed[1 + S_NONCE + S_PLAIN_MAX + S_TAG];
    sealed[0] = S_VERSION;
    mg_random_bytes(sealed + 1, S_NONCE);
    enum mg_err e = s_gcm(true, key, sealed + 1, (const uint8_t *)plain, (size_t)n,
                          sealed + 1 + S_NONCE, sealed + 1 + S_NONCE + n);
    mg_memzero(plain, sizeof(plain));
    if (e)
        return e;
    return mg_base64url_encode(out, mg_slice_make(sealed, 1 + S_NONCE + (size_t)n + S_TAG));
}

static bool s_next(char **p, char **field)
{
    if (*p == NULL)
        return false;
    *field = *p;
    char *nl = strchr(*p, '\n');
    if (nl) {
        *nl = 0;
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return true;
}

static bool s_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    mg_memcpy(dst, src, n + 1);
    return true;
}

enum mg_err mg_mcp_session_open(const uint8_t key[32], struct mg_slice token,
                                struct mg_mcp_session *out)
{
    memset(out, 0, sizeof(*out));
    if (token.len == 0 || token.len > MG_MCP_SESSION_MAX)
        return MG_E_AUTH;
    struct mg_buf raw;
    mg_buf_init(&raw, MG_MCP_SESSION_MAX);
    enum mg_err e = MG_E_AUTH;
    char plain[S_PLAIN_MAX + 1];
    if (mg_base64url_decode(&raw, token) != MG_E_OK)
        goto out;
    if (raw.len < 1 + S_NONCE + S_TAG || raw.len - 1 - S_NONCE - S_TAG > S_PLAIN_MAX ||
        raw.ptr[0] != S_VERSION)
        goto out;
    size_t n = raw.len - 1 - S_NONCE - S_TAG;
    if (s_gcm(false, key, raw.ptr + 1, raw.ptr + 1 + S_NONCE, n, (uint8_t *)plain,
              raw.ptr + 1 + S_NONCE + n) != MG_E_OK)
        goto out;
    plain[n] = 0;
    if (strlen(plain) != n)
        goto out;
    char *p = plain, *sid, *gw, *caller, *ver, *exp, *iss;
    if (!s_next(&p, &sid) || !s_next(&p, &gw) || !s_next(&p, &caller) || !s_next(&p, &ver) ||
        !s_next(&p, &exp) || !s_next(&p, &iss) || p != NULL)
        goto out;
    uint64_t expires, issued;
    if (strlen(sid) != 32 || !s_copy(out->sid, sizeof(out->sid), sid) ||
        !s_copy(out->gateway_id, sizeof(out->gateway_id), gw) ||
        !s_copy(out->caller, sizeof(out->caller), caller) ||
        !mg_slice_to_u64(mg_slice_cstr(exp), &expires) || expires > INT64_MAX ||
        !mg_slice_to_u64(mg_slice_cstr(iss), &issued) || issued > INT64_MAX)
        goto out;
    out->issued_ms = (int64_t)issued;
    out->version = mg_mcp_version_parse(mg_slice_cstr(ver));
    if (out->version == MG_MCP_V_NONE)
        goto out;
    out->expires = (int64_t)expires;
    e = MG_E_OK;
out:
    mg_memzero(plain, sizeof(plain));
    mg_buf_cleanup(&raw);
    if (e)
        memset(out, 0, sizeof(*out));
    return e;
}

bool mg_mcp_session_check(const uint8_t key[32], struct mg_slice token, const char *gateway_id,
                          const char *caller, int64_t now, struct mg_mcp_session *out)
{
    if (mg_mcp_session_open(key, token, out) != MG_E_OK)
        return false;
    return strcmp(out->gateway_id, gateway_id) == 0 && strcmp(out->caller, caller) == 0 &&
           out->expires >= now;
}

/* ---- cursors --------------------------------------------------------------------------------- */

#define S_CURSOR_LABEL "mcpgate-mcp-cursor-1"
#define S_CURSOR_LEN 20

static bool s_cursor_check(const uint8_t key[32], const char *gateway_id, const uint8_t head[12],
                           uint8_t check[8])
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned mac_len = 0;
    uint8_t msg[sizeof(S_CURSOR_LABEL) + 128 + 12];
    size_t gl = strlen(gateway_id);
    if (gl > 128)
        return false;
    size_t n = 0;
    mg_memcpy(msg, S_CURSOR_LABEL, sizeof(S_CURSOR_LABEL));
    n += sizeof(S_CURSOR_LABEL);
    mg_memcpy(msg + n, gateway_id, gl);
    n += gl;
    mg_memcpy(msg + n, head, 12);
    n += 12;
    if (HMAC(EVP_sha256(), key, 32, msg, n, mac, &mac_len) == NULL)
        return false;
    mg_memcpy(check, mac, 8);
    return true;
}

enum mg_err mg_mcp_cursor_make(const uint8_t key[32], const char *gateway_id, uint64_t version,
                               uint32_t page, struct mg_buf *out)
{
    uint8_t c[S_CURSOR_LEN];
    for (int i = 0; i < 8; i++)
        c[i] = (uint8_t)(version >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        c[8 + i] = (uint8_t)(page >> (24 - 8 * i));
    if (!s_cursor_check(key, gateway_id, c, c + 12))
        return MG_E_INTERNAL;
    return mg_base64url_encode(out, mg_slice_make(c, sizeof(c)));
}

bool mg_mcp_cursor_parse(const uint8_t key[32], const char *gateway_id, uint64_t version,
                         struct mg_slice cursor, uint32_t *page)
{
    if (cursor.len == 0 || cursor.len > 64)
        return false;
    struct mg_buf raw;
    mg_buf_init(&raw, 64);
    bool ok = false;
    if (mg_base64url_decode(&raw, cursor) != MG_E_OK || raw.len != S_CURSOR_LEN)
        goto out;
    uint8_t check[8];
    if (!s_cursor_check(key, gateway_id, raw.ptr, check) ||
        !mg_ct_equal(mg_slice_make(check, 8), mg_slice_make(raw.ptr + 12, 8)))
        goto out;
    uint64_t v = 0;
    uint32_t p = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | raw.ptr[i];
    for (int i = 0; i < 4; i++)
        p = (p << 8) | raw.ptr[8 + i];
    if (v != version)
        goto out;
    *page = p;
    ok = true;
out:
    mg_buf_cleanup(&raw);
    return ok;
}
