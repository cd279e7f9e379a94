/* STS session tokens: sealing and opening, tampering, wrong keys, expiry, principals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "sigv4/sigv4.h"
#include "base/alloc.h"
#include "base/util.h"
#include "iam/iam.h"
#include "sigv4/sigv4.h"
#include "unit/leaks.h"

static const uint8_t s_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void s_fill(struct mg_sts_session *s)
{
    memset(s, 0, sizeof(*s));
    strcpy(s->account, "111122223333");
    strcpy(s->role_arn, "arn:aws:iam::111122223333:role/team/AgentRole");
    strcpy(s->role_id, "AROAEXAMPLEEXAMPLE2");
    strcpy(s->session_name, "alice@example");
}

static bool s_is_b32(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '2' && s[i] <= '7')))
            return false;
    return true;
}

static void test_iam_session_round_trip(void **state)
{
    (void)state;
    long live = mg_alloc_live();
    struct mg_sts_session s, o;
    s_fill(&s);
    s.policy = mg_strdup("{\"Version\":\"2012-10-17\",\"Statement\":[]}");
    s.policy_arns[s.n_policy_arns++] = mg_strdup("arn:aws:iam::aws:policy/AdministratorAccess");
    s.tags = json_pack("{s:s}", "team", "agents");
    s.chained = true;
    struct mg_buf tok;
    mg_buf_init(&tok, 16384);
    assert_int_equal(mg_sts_session_issue(s_key, &s, 900, &tok), MG_E_OK);
    assert_int_equal(strlen(s.access_key_id), 20);
    assert_memory_equal(s.access_key_id, "ASIA", 4);
    assert_true(s_is_b32(s.access_key_id + 4, 16));
    assert_int_equal(strlen(s.secret), 40);
    assert_int_equal(s.expires - s.issued, 900);
    assert_true(tok.len < 4096);
    /* nothing of the session is readable in the token */
    const char *t = mg_buf_cstr(&tok);
    assert_null(strstr(t, "alice"));

    assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_OK);
    assert_string_equal(o.access_key_id, s.access_key_id);
    assert_string_equal(o.secret, s.secret);
    assert_string_equal(o.account, "111122223333");
    assert_string_equal(o.role_arn, s.role_arn);
    assert_string_equal(o.role_id, s.role_id);
    assert_string_equal(o.session_name, "alice@example");
    assert_int_equal(o.issued, s.issued);
    assert_int_equal(o.expires, s.expires);
    assert_true(o.chained);
    assert_string_equal(o.policy, s.policy);
    assert_int_equal(o.n_policy_arns, 1);
    assert_string_equal(o.policy_arns[0], "arn:aws:iam::aws:policy/AdministratorAccess");
    assert_string_equal(json_string_value(json_object_get(o.tags, "team")), "agents");
    mg_sts_session_cleanup(&o);
    mg_sts_session_cleanup(&s);
    mg_buf_cleanup(&tok);
    assert_int_equal(mg_alloc_live(), live);
}

/* The source identity is sealed into the token and reaches the principal; a session without one
 * has none. */
static void test_iam_session_source_identity(void **state)
{
    (void)state;
    /* warm the policy cache (a principal without a snapshot gets its cached deny-all policy) */
    struct mg_sts_session w;
    struct mg_principal wp;
    s_fill(&w);
    mg_sts_principal_from_session(NULL, &w, &wp);
    mg_principal_cleanup(&wp);
    long live = mg_alloc_live();
    for (int with = 0; with < 2; with++) {
        struct mg_sts_session s, o;
        s_fill(&s);
        if (with)
            strcpy(s.source_identity, "alice@example.com");
        struct mg_buf tok;
        mg_buf_init(&tok, 16384);
        assert_int_equal(mg_sts_session_issue(s_key, &s, 900, &tok), MG_E_OK);
        assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_OK);
        assert_string_equal(o.source_identity, with ? "alice@example.com" : "");
        struct mg_principal p;
        assert_true(mg_sts_principal_from_session(NULL, &o, &p));
        assert_string_equal(p.source_identity, with ? "alice@example.com" : "");
        mg_principal_cleanup(&p);
        mg_sts_session_cleanup(&o);
        mg_sts_session_cleanup(&s);
        mg_buf_cleanup(&tok);
    }
    assert_int_equal(mg_alloc_live(), live);
}

static void test_iam_session_tamper_and_wrong_key(void **state)
{
    (void)state;
    struct mg_sts_session s, o;
    s_fill(&s);
    struct mg_buf tok, raw, bad;
    mg_buf_init(&tok, 16384);
    mg_buf_init(&raw, 16384);
    mg_buf_init(&bad, 16384);
    assert_int_equal(mg_sts_session_issue(s_key, &s, 3600, &tok), MG_E_OK);
    assert_int_equal(mg_base64_decode(&raw, mg_buf_slice(&tok)), MG_E_OK);
    /* flip one bit anywhere: version, nonce, ciphertext, tag */
    size_t where[] = {0, 1, 20, raw.len / 2, raw.len - 1};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        raw.ptr[where[i]] ^= 0x04;
        mg_buf_reset(&bad);
        assert_int_equal(mg_base64_encode(&bad, mg_buf_slice(&raw)), MG_E_OK);
        assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&bad), &o), MG_E_AUTH);
        raw.ptr[where[i]] ^= 0x04;
    }
    /* truncated */
    mg_buf_reset(&bad);
    assert_int_equal(mg_base64_encode(&bad, mg_slice_make(raw.ptr, raw.len - 1)), MG_E_OK);
    assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&bad), &o), MG_E_AUTH);
    /* another key */
    uint8_t other[32];
    memcpy(other, s_key, 32);
    other[31] ^= 1;
    assert_int_equal(mg_sts_session_open(other, mg_buf_slice(&tok), &o), MG_E_AUTH);
    /* garbage */
    assert_int_equal(mg_sts_session_open(s_key, MG_SLICE_LIT("not base64!"), &o), MG_E_AUTH);
    assert_int_equal(mg_sts_session_open(s_key, MG_SLICE_LIT("AAAA"), &o), MG_E_AUTH);
    assert_int_equal(mg_sts_session_open(s_key, mg_slice_make("", 0), &o), MG_E_AUTH);
    /* the original still opens */
    assert_int_equal(mg_sts_session_open(s_key, mg_buf_slice(&tok), &o), MG_E_OK);
    mg_sts_session_cleanup(&o);
    mg_sts_session_cleanup(&s);
    mg_buf_cleanup(&tok);
    mg_buf_cleanup(&raw);
    mg_buf_cleanup(&bad);
}

static void test_iam_session_resolve_expiry(void **state)
{
    (void)state;
    static struct {
        uint8_t token_key[32];
    } app;
    memcpy(app.token_key, s_key, 32);
    mg_time_pin(1800000000);
    struct mg_sts_session s;
    s_fill(&s);
    s.tags = json_pack("{s:s}", "team", "agents");
    struct mg_buf tok;
    mg_buf_init(&tok, 16384);
    assert_int_equal(mg_sts_session_issue(s_key, &s, 900, &tok), MG_E_OK);
    struct mg_principal p;
    char secret[129];
    struct mg_slice akid = mg_slice_cstr(s.access_key_id);

    int rc = mg_sts_session_resolve(app.token_key, NULL, akid, mg_buf_slice(&tok), &p, secret,
                                    sizeof(secret));
    assert_int_equal(rc, MG_SIGV4_OK);
    assert_string_equal(secret, s.secret);
    assert_int_equal(p.type, MG_PRINCIPAL_ASSUMED_ROLE);
    assert_string_equal(p.arn, "arn:aws:sts::111122223333:assumed-role/AgentRole/alice@example");
    assert_string_equal(p.user_id, "AROAEXAMPLEEXAMPLE2:alice@example");
    assert_string_equal(p.role_arn, "arn:aws:iam::111122223333:role/team/AgentRole");
    assert_string_equal(p.name, "AgentRole");
    assert_string_equal(p.session_name, "alice@example");
    assert_int_equal(p.token_issued, 1800000000);
    assert_int_equal(p.token_expires, 1800000900);
    /* no snapshot: the role is unknown, so a deny-everything session policy applies */
    assert_int_equal(p.n_session_policies, 1);
    assert_string_equal(json_string_value(json_object_get(p.session_tags, "team")), "agents");
    mg_principal_cleanup(&p);

    /* one second before expiry: fine; at expiry: ExpiredToken */
    mg_time_pin(1800000899);
    assert_int_equal(mg_sts_session_resolve(app.token_key, NULL, akid, mg_buf_slice(&tok), &p,
                                            secret, sizeof(secret)),
                     MG_SIGV4_OK);
    mg_principal_cleanup(&p);
    mg_time_pin(1800000900);
    assert_int_equal(mg_sts_session_resolve(app.token_key, NULL, akid, mg_buf_slice(&tok), &p,
                                            secret, sizeof(secret)),
                     MG_SIGV4_EXPIRED_TOKEN);
    mg_time_pin(1800000000);

    /* the access key id must be the one the token was issued with */
    assert_int_equal(mg_sts_session_resolve(app.token_key, NULL,
                                            MG_SLICE_LIT("ASIAAAAAAAAAAAAAAAAA"),
                                            mg_buf_slice(&tok), &p, secret, sizeof(secret)),
                     MG_SIGV4_UNKNOWN_KEY);
    /* another server key: unknown */
    app.token_key[0] ^= 1;
    assert_int_equal(mg_sts_session_resolve(app.token_key, NULL, akid, mg_buf_slice(&tok), &p,
                                            secret, sizeof(secret)),
                     MG_SIGV4_UNKNOWN_KEY);
    app.token_key[0] ^= 1;
    mg_time_pin(0);
    mg_sts_session_cleanup(&s);
    mg_buf_cleanup(&tok);
}

static void test_iam_ids(void **state)
{
    (void)state;
    static const struct {
        const char *prefix;
        size_t len;
    } kinds[] = {{"AROA", 21}, {"AIDA", 21}, {"ANPA", 21}, {"AKIA", 20}, {"ASIA", 20}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        char a[32] = {0}, b[32] = {0};
        mg_iam_new_id(kinds[k].prefix, a);
        mg_iam_new_id(kinds[k].prefix, b);
        assert_int_equal(strlen(a), kinds[k].len);
        assert_memory_equal(a, kinds[k].prefix, 4);
        assert_true(s_is_b32(a + 4, kinds[k].len - 4));
        assert_string_not_equal(a, b);
    }
}

static void test_iam_policy_cache(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\","
        "\"Resource\":\"*\"}]}";
    struct mg_policy *a = mg_iam_policy_cached(MG_POLICY_KIND_SESSION, MG_SLICE_LIT(doc), "a",
                                               NULL);
    struct mg_policy *b = mg_iam_policy_cached(MG_POLICY_KIND_SESSION, MG_SLICE_LIT(doc), "b",
                                               NULL);
    struct mg_policy *c = mg_iam_policy_cached(MG_POLICY_KIND_IDENTITY, MG_SLICE_LIT(doc), "c",
                                               NULL);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(a, c);
    struct mg_errinfo ei = {0};
    assert_null(mg_iam_policy_cached(MG_POLICY_KIND_SESSION, MG_SLICE_LIT("{"), "d", &ei));
    assert_true(ei.msg[0] != 0);
    mg_policy_unref(a);
    mg_policy_unref(b);
    mg_policy_unref(c);
}

/* A principal whose deny-everything session policy cannot be made (out of memory) is refused,
 * never handed out with fewer limits than its session has. */
static void test_iam_session_oom_fails_closed(void **state)
{
    (void)state;
    mg_iam_policy_cache_clear(); /* the deny-all policy must be compiled afresh */
    struct mg_sts_session s;
    s_fill(&s);
    int refused = 0;
    for (long n = 1; n < 400; n++) {
        struct mg_principal p;
        mg_alloc_fail_after(n);
        bool ok = mg_sts_principal_from_session(NULL, &s, &p); /* no snapshot: role gone */
        mg_alloc_fail_after(0);
        if (ok)
            assert_true(p.n_session_policies >= 1); /* the deny-all is there */
        else
            refused++;
        mg_principal_cleanup(&p);
        mg_iam_policy_cache_clear();
    }
    assert_true(refused > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iam_session_round_trip),
        cmocka_unit_test(test_iam_session_source_identity),
        cmocka_unit_test(test_iam_session_tamper_and_wrong_key),
        cmocka_unit_test(test_iam_session_resolve_expiry),
        cmocka_unit_test(test_iam_ids),
        cmocka_unit_test(test_iam_policy_cache),
        cmocka_unit_test(test_iam_session_oom_fails_closed),
    };
    mg_torture_release = mg_iam_policy_cache_clear; /* a process-wide cache, not a leak */
    return MG_RUN_TESTS(tests);
}
