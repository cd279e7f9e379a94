/* Mcp-Session-Id tokens (round trip, tamper, purpose, key), tools/list cursors, and the bounded
 * list of ended sessions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/util.h"
#include "iam/iam.h"
#include "mcp/internal.h"
#include "unit/leaks.h"

/* The list of ended sessions under test. */
static struct mg_mcp_revocations *s_rv;

static const uint8_t s_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void s_session(struct mg_mcp_session *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->gateway_id, "gw-abcdefghij");
    strcpy(s->caller, "arn:aws:sts::111122223333:assumed-role/R/s");
    s->version = MG_MCP_V_2025_06_18;
    s->expires = 1900000000;
}

static void test_mcp_session_roundtrip(void **state)
{
    (void)state;
    struct mg_mcp_session s, o;
    s_session(&s);
    struct mg_buf tok;
    mg_buf_init(&tok, 4096);
    assert_int_equal(mg_mcp_session_seal(s_key, &s, &tok), MG_E_OK);
    for (size_t i = 0; i < tok.len; i++)
        assert_true(tok.ptr[i] >= 0x21 && tok.ptr[i] <= 0x7e);
    assert_int_equal(mg_mcp_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_OK);
    assert_string_equal(o.sid, s.sid);
    assert_string_equal(o.gateway_id, "gw-abcdefghij");
    assert_string_equal(o.caller, s.caller);
    assert_int_equal(o.version, MG_MCP_V_2025_06_18);
    assert_int_equal(o.expires, 1900000000);
    assert_true(s.issued_ms >= mg_now_ms() - 60000 && s.issued_ms <= mg_now_ms());
    assert_int_equal(o.issued_ms, s.issued_ms);
    /* two seals of the same session differ (fresh sid and nonce) */
    struct mg_buf tok2;
    mg_buf_init(&tok2, 4096);
    assert_int_equal(mg_mcp_session_seal(s_key, &s, &tok2), MG_E_OK);
    assert_false(mg_slice_eq(mg_buf_slice(&tok), mg_buf_slice(&tok2)));
    mg_buf_cleanup(&tok2);
    mg_buf_cleanup(&tok);
}

static void test_mcp_session_tamper(void **state)
{
    (void)state;
    struct mg_mcp_session s, o;
    s_session(&s);
    struct mg_buf tok;
    mg_buf_init(&tok, 4096);
    assert_int_equal(mg_mcp_session_seal(s_key, &s, &tok), MG_E_OK);
    for (size_t i = 0; i + 1 < tok.len; i++) {
        uint8_t saved = tok.ptr[i];
        tok.ptr[i] = saved == 'A' ? 'B' : 'A';
        assert_int_not_equal(mg_mcp_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_OK);
        tok.ptr[i] = saved;
    }
    uint8_t other[32];
    memset(other, 7, sizeof(other));
    assert_int_equal(mg_mcp_session_open(other, mg_buf_slice(&tok), &o), MG_E_AUTH);
    assert_int_equal(mg_mcp_session_open(s_key, mg_slice_sub(mg_buf_slice(&tok), 0, tok.len - 4),
                                         &o),
                     MG_E_AUTH);
    assert_int_equal(mg_mcp_session_open(s_key, MG_SLICE_LIT("nope"), &o), MG_E_AUTH);
    assert_int_equal(mg_mcp_session_open(s_key, MG_SLICE_LIT(""), &o), MG_E_AUTH);
    mg_buf_cleanup(&tok);
}

static void test_mcp_session_check(void **state)
{
    (void)state;
    struct mg_mcp_session s, o;
    s_session(&s);
    struct mg_buf tok;
    mg_buf_init(&tok, 4096);
    assert_int_equal(mg_mcp_session_seal(s_key, &s, &tok), MG_E_OK);
    struct mg_slice t = mg_buf_slice(&tok);
    assert_true(mg_mcp_session_check(s_key, t, "gw-abcdefghij", s.caller, 1900000000, &o));
    assert_false(mg_mcp_session_check(s_key, t, "gw-abcdefghij", s.caller, 1900000001, &o));
    assert_false(mg_mcp_session_check(s_key, t, "gw-other00000", s.caller, 1800000000, &o));
    assert_false(mg_mcp_session_check(s_key, t, "gw-abcdefghij",
                                      "arn:aws:iam::111122223333:user/dev", 1800000000, &o));
    mg_buf_cleanup(&tok);
}

/* An STS session token sealed with the same key never opens as a session id. */
static void test_mcp_session_purpose(void **state)
{
    (void)state;
    struct mg_sts_session sts;
    memset(&sts, 0, sizeof(sts));
    strcpy(sts.account, "111122223333");
    strcpy(sts.role_arn, "arn:aws:iam::111122223333:role/R");
    strcpy(sts.role_id, "AROAAAAAAAAAAAAAAAAAA");
    strcpy(sts.session_name, "s");
    struct mg_buf tok, url;
    mg_buf_init(&tok, 16384);
    mg_buf_init(&url, 16384);
    assert_int_equal(mg_sts_session_issue(s_key, &sts, 900, &tok), MG_E_OK);
    struct mg_mcp_session o;
    assert_int_equal(mg_mcp_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_AUTH);
    /* and the other way round */
    struct mg_mcp_session s;
    s_session(&s);
    assert_int_equal(mg_mcp_session_seal(s_key, &s, &url), MG_E_OK);
    struct mg_sts_session back;
    memset(&back, 0, sizeof(back));
    assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&url), &back), MG_E_AUTH);
    mg_sts_session_cleanup(&back);
    mg_sts_session_cleanup(&sts);
    mg_buf_cleanup(&tok);
    mg_buf_cleanup(&url);
}

static void test_mcp_cursor(void **state)
{
    (void)state;
    struct mg_buf c;
    mg_buf_init(&c, 256);
    assert_int_equal(mg_mcp_cursor_make(s_key, "gw-a", 77, 3, &c), MG_E_OK);
    uint32_t page = 0;
    assert_true(mg_mcp_cursor_parse(s_key, "gw-a", 77, mg_buf_slice(&c), &page));
    assert_int_equal(page, 3);
    /* another catalog version, another gateway, another key */
    assert_false(mg_mcp_cursor_parse(s_key, "gw-a", 78, mg_buf_slice(&c), &page));
    assert_false(mg_mcp_cursor_parse(s_key, "gw-b", 77, mg_buf_slice(&c), &page));
    uint8_t other[32] = {0};
    assert_false(mg_mcp_cursor_parse(other, "gw-a", 77, mg_buf_slice(&c), &page));
    /* tampering */
    for (size_t i = 0; i + 1 < c.len; i++) {
        uint8_t saved = c.ptr[i];
        c.ptr[i] = saved == 'A' ? 'B' : 'A';
        assert_false(mg_mcp_cursor_parse(s_key, "gw-a", 77, mg_buf_slice(&c), &page));
        c.ptr[i] = saved;
    }
    assert_false(mg_mcp_cursor_parse(s_key, "gw-a", 77, MG_SLICE_LIT(""), &page));
    assert_false(mg_mcp_cursor_parse(s_key, "gw-a", 77, MG_SLICE_LIT("!!!"), &page));
    mg_buf_cleanup(&c);
}

/* ---- ended sessions (revoke.c) ---------------------------------------------------------------- */

static void s_ended(struct mg_mcp_session *s, const char *gw, int64_t issued_ms, int64_t expires)
{
    memset(s, 0, sizeof(*s));
    uint8_t rnd[16];
    mg_random_bytes(rnd, sizeof(rnd));
    mg_hex_encode(rnd, sizeof(rnd), s->sid);
    s->sid[32] = 0;
    strcpy(s->gateway_id, gw);
    strcpy(s->caller, "anonymous");
    s->version = MG_MCP_V_2025_11_25;
    s->issued_ms = issued_ms;
    s->expires = expires;
}

static void test_mcp_revoke_exact(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_revoke_new(8, 4, 1000, &s_rv), MG_E_OK);
    struct mg_mcp_session a, b, old;
    s_ended(&a, "gw-a", 2000, 10000);
    s_ended(&b, "gw-a", 2000, 10000);
    s_ended(&old, "gw-a", 1000, 10000);
    assert_false(mg_mcp_session_revoked(s_rv, &a));
    assert_true(mg_mcp_session_revoked(s_rv, &old)); /* issued before the start: refused */
    assert_int_equal(mg_mcp_session_revoke(s_rv, &a, 3000), MG_E_OK);
    assert_true(mg_mcp_session_revoked(s_rv, &a));
    assert_false(mg_mcp_session_revoked(s_rv, &b));
    assert_int_equal(mg_mcp_session_revoke(s_rv, &a, 3001), MG_E_OK); /* twice: one entry */
    struct mg_mcp_revoke_stats st;
    mg_mcp_revoke_stats(s_rv, &st);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.gateways, 1);
    strcpy(a.sid, "not hex");
    assert_int_equal(mg_mcp_session_revoke(s_rv, &a, 3000), MG_E_INVALID);
    assert_true(mg_mcp_session_revoked(s_rv, &a));
    mg_mcp_revoke_free(s_rv);
    s_rv = NULL;
    assert_true(mg_mcp_session_revoked(s_rv, &b)); /* no list: refuse */
    assert_int_equal(mg_mcp_session_revoke(s_rv, &b, 3000), MG_E_INTERNAL);
}

/* A flood of DELETEs on one gateway stays within the bounds, every ended session stays ended, and
 * the flooding gateway pays for it, not its neighbour. */
static void test_mcp_revoke_bounded(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_revoke_new(8, 4, 1000, &s_rv), MG_E_OK);
    struct mg_mcp_revoke_stats st0, st;
    mg_mcp_revoke_stats(s_rv, &st0);
    struct mg_mcp_session quiet_ended, quiet_live;
    s_ended(&quiet_ended, "gw-quiet", 1500, 100000);
    s_ended(&quiet_live, "gw-quiet", 1500, 100000);
    assert_int_equal(mg_mcp_session_revoke(s_rv, &quiet_ended, 1600), MG_E_OK);
    enum { N = 500 };
    static struct mg_mcp_session flood[N];
    for (int i = 0; i < N; i++) {
        s_ended(&flood[i], "gw-flood", 2000 + i, 100000);
        assert_int_equal(mg_mcp_session_revoke(s_rv, &flood[i], 2000 + i), MG_E_OK);
        mg_mcp_revoke_stats(s_rv, &st);
        assert_true(st.entries <= 8);
        assert_int_equal(st.bytes, st0.bytes);
    }
    for (int i = 0; i < N; i++)
        assert_true(mg_mcp_session_revoked(s_rv, &flood[i]));
    assert_true(mg_mcp_session_revoked(s_rv, &quiet_ended));
    assert_false(mg_mcp_session_revoked(s_rv, &quiet_live));
    struct mg_mcp_session fresh;
    s_ended(&fresh, "gw-flood", 2000 + N + 1, 100000); /* initialized after the flood */
    assert_false(mg_mcp_session_revoked(s_rv, &fresh));
    mg_mcp_revoke_free(s_rv);
    s_rv = NULL;
}

/* Expired entries make room without ending anything else. */
static void test_mcp_revoke_expiry(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_revoke_new(8, 4, 0, &s_rv), MG_E_OK);
    struct mg_mcp_session s[16], live;
    s_ended(&live, "gw-a", 50, 100000);
    for (int i = 0; i < 8; i++) {
        s_ended(&s[i], "gw-a", 100 + i, 150); /* expire at 150 s */
        assert_int_equal(mg_mcp_session_revoke(s_rv, &s[i], 100 + i), MG_E_OK);
    }
    for (int i = 8; i < 16; i++) {
        s_ended(&s[i], "gw-a", 200000 + i, 100000);
        assert_int_equal(mg_mcp_session_revoke(s_rv, &s[i], 200000 + i), MG_E_OK); /* now 200 s */
    }
    struct mg_mcp_revoke_stats st;
    mg_mcp_revoke_stats(s_rv, &st);
    assert_int_equal(st.entries, 8);
    for (int i = 8; i < 16; i++)
        assert_true(mg_mcp_session_revoked(s_rv, &s[i]));
    assert_false(mg_mcp_session_revoked(s_rv, &live)); /* no floor was needed */
    mg_mcp_revoke_free(s_rv);
    s_rv = NULL;
}

/* More gateways than records: the global floor ends everything issued so far. */
static void test_mcp_revoke_gateways_full(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_revoke_new(8, 2, 0, &s_rv), MG_E_OK);
    struct mg_mcp_session s1, s2, s3, bystander;
    s_ended(&s1, "gw-1", 10, 100000);
    s_ended(&s2, "gw-2", 10, 100000);
    s_ended(&s3, "gw-3", 10, 100000);
    s_ended(&bystander, "gw-4", 20, 100000);
    assert_int_equal(mg_mcp_session_revoke(s_rv, &s1, 100), MG_E_OK);
    assert_int_equal(mg_mcp_session_revoke(s_rv, &s2, 100), MG_E_OK);
    assert_false(mg_mcp_session_revoked(s_rv, &bystander));
    assert_int_equal(mg_mcp_session_revoke(s_rv, &s3, 100), MG_E_OK);
    assert_true(mg_mcp_session_revoked(s_rv, &s1));
    assert_true(mg_mcp_session_revoked(s_rv, &s2));
    assert_true(mg_mcp_session_revoked(s_rv, &s3));
    assert_true(mg_mcp_session_revoked(s_rv, &bystander)); /* fail closed */
    struct mg_mcp_revoke_stats st;
    mg_mcp_revoke_stats(s_rv, &st);
    assert_int_equal(st.global_floor_ms, 100);
    assert_true(st.gateways <= 2);
    mg_mcp_revoke_free(s_rv);
    s_rv = NULL;
}

/* Random DELETEs and expiries against a plain list: an ended session is never served again. */
static void test_mcp_revoke_random(void **state)
{
    (void)state;
    assert_int_equal(mg_mcp_revoke_new(32, 4, 0, &s_rv), MG_E_OK);
    enum { N = 3000 };
    static struct mg_mcp_session s[N];
    static const char *const gws[] = {"gw-a", "gw-b", "gw-c"};
    int64_t now_ms = 1000;
    for (int i = 0; i < N; i++) {
        uint8_t r[2];
        mg_random_bytes(r, sizeof(r));
        now_ms += r[0] % 4 * 100;
        s_ended(&s[i], gws[r[1] % 3], now_ms - r[1] % 50, now_ms / 1000 + 1 + r[0] % 30);
        assert_int_equal(mg_mcp_session_revoke(s_rv, &s[i], now_ms), MG_E_OK);
        for (int k = i; k >= 0 && k > i - 200; k--)
            if (s[k].expires >= now_ms / 1000)
                assert_true(mg_mcp_session_revoked(s_rv, &s[k]));
        struct mg_mcp_revoke_stats st;
        mg_mcp_revoke_stats(s_rv, &st);
        assert_true(st.entries <= 32);
    }
    mg_mcp_revoke_free(s_rv);
    s_rv = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_session_roundtrip),
        cmocka_unit_test(test_mcp_session_tamper),
        cmocka_unit_test(test_mcp_session_check),
        cmocka_unit_test(test_mcp_session_purpose),
        cmocka_unit_test(test_mcp_cursor),
        cmocka_unit_test(test_mcp_revoke_exact),
        cmocka_unit_test(test_mcp_revoke_bounded),
        cmocka_unit_test(test_mcp_revoke_expiry),
        cmocka_unit_test(test_mcp_revoke_gateways_full),
        cmocka_unit_test(test_mcp_revoke_random),
    };
    return MG_RUN_TESTS(tests);
}
