/* Mcp-Session-Id tokens (round trip, tamper, purpose, key) and tools/list cursors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/util.h"
#include "iam/iam.h"
#include "mcp/internal.h"

static const uint8_t s_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
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
                                         &o), MG_E_AUTH);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mcp_session_roundtrip),
        cmocka_unit_test(test_mcp_session_tamper),
        cmocka_unit_test(test_mcp_session_check),
        cmocka_unit_test(test_mcp_session_purpose),
        cmocka_unit_test(test_mcp_cursor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
