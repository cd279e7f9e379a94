/* The outbound address policy (src/http/egress.c): which addresses are refused always, which
 * only with deny_local, IPv4 carried in IPv6, and the operator's allow rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/alloc.h"
#include "http/egress.h"
#include "unit/leaks.h"

static bool s_ok(const struct mg_http_egress *p, const char *ip, int port, const char *host)
{
    return mg_http_egress_permits_text(p, ip, port, host);
}

static void test_egress_never(void **state)
{
    (void)state;
    struct mg_http_egress open = {.deny_local = false}, shared = {.deny_local = true};
    const char *never[] = {
        "169.254.169.254",
        "169.254.0.1",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "::",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "::169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "::ffff:224.0.0.1",
        "fe80::1%eth0",
    };
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        if (s_ok(&open, never[i], 443, "x.example") || s_ok(&shared, never[i], 443, "x.example"))
            fail_msg("%s was allowed", never[i]);
    }
    /* an allow rule does not lift them */
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_http_egress_allow(&shared, "169.254.0.0/16", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&shared, "0.0.0.0/0", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&shared, "metadata.google.internal", &ei), MG_E_OK);
    assert_false(s_ok(&shared, "169.254.169.254", 80, "metadata.google.internal"));
    assert_false(s_ok(&shared, "::ffff:169.254.169.254", 80, NULL));
    /* not an address at all */
    assert_false(s_ok(&open, "not-an-ip", 443, NULL));
    assert_false(s_ok(&open, NULL, 443, NULL));
    assert_false(s_ok(&open, "93.184.216.34", 70000, NULL));
}

static void test_egress_local(void **state)
{
    (void)state;
    struct mg_http_egress open = {.deny_local = false}, shared = {.deny_local = true};
    const char *local[] = {
        "127.0.0.1",        "127.1.2.3",       "::1",          "10.0.0.1",
        "172.16.0.1",       "172.31.255.255",  "192.168.1.1",  "100.64.0.1",
        "100.127.255.254",  "fc00::1",         "fd12:3456::1", "fec0::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::10.1.2.3",   "64:ff9b::7f00:1",
    };
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        if (!s_ok(&open, local[i], 80, NULL))
            fail_msg("%s refused by default", local[i]);
        if (s_ok(&shared, local[i], 80, NULL))
            fail_msg("%s allowed with deny_local", local[i]);
    }
    const char *public[] = {
        "93.184.216.34", "8.8.8.8",     "172.15.255.255", "172.32.0.1",     "100.63.255.255",
        "100.128.0.1",   "169.253.1.1", "2606:4700::1",   "::ffff:8.8.8.8", "192.169.0.1",
    };
    for (size_t i = 0; i < sizeof(public) / sizeof(public[0]); i++) {
        if (!s_ok(&shared, public[i], 443, NULL) || !s_ok(&open, public[i], 443, NULL))
            fail_msg("%s refused", public[i]);
    }
}

static void test_egress_allow_rules(void **state)
{
    (void)state;
    struct mg_http_egress p = {.deny_local = true};
    struct mg_errinfo ei = {0};
    assert_int_equal(mg_http_egress_allow(&p, "10.1.0.0/16", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "127.0.0.1:8080", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "API.Internal.Example:8443", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "[fd12::5]:9000", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "fd34::/16", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "192.168.7.7", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "fd56::9", &ei), MG_E_OK);
    /* CIDR: any port, only inside the block */
    assert_true(s_ok(&p, "10.1.2.3", 443, NULL));
    assert_true(s_ok(&p, "::ffff:10.1.2.3", 443, NULL));
    assert_false(s_ok(&p, "10.2.0.1", 443, NULL));
    assert_true(s_ok(&p, "fd34:1::1", 1, NULL));
    assert_false(s_ok(&p, "fd35::1", 1, NULL));
    /* address with a port: that port only */
    assert_true(s_ok(&p, "127.0.0.1", 8080, NULL));
    assert_false(s_ok(&p, "127.0.0.1", 8081, NULL));
    assert_false(s_ok(&p, "127.0.0.2", 8080, NULL));
    assert_true(s_ok(&p, "fd12::5", 9000, NULL));
    assert_false(s_ok(&p, "fd12::5", 9001, NULL));
    assert_true(s_ok(&p, "192.168.7.7", 1234, NULL));
    assert_true(s_ok(&p, "fd56::9", 1234, NULL));
    /* host name: what it resolves to, for that URL host (and port) only */
    assert_true(s_ok(&p, "10.9.9.9", 8443, "api.internal.example"));
    assert_true(s_ok(&p, "10.9.9.9", 8443, "API.INTERNAL.EXAMPLE"));
    assert_false(s_ok(&p, "10.9.9.9", 443, "api.internal.example"));
    assert_false(s_ok(&p, "10.9.9.9", 8443, "other.example"));
    assert_false(s_ok(&p, "10.9.9.9", 8443, "api.internal.example."));
    assert_false(s_ok(&p, "10.9.9.9", 8443, NULL));
    /* IPv4 in NAT64 form is not the IPv4 address an allow rule names */
    assert_false(s_ok(&p, "64:ff9b::a01:203", 443, NULL));
}

static void test_egress_bad_rules(void **state)
{
    (void)state;
    struct mg_http_egress p = {.deny_local = true};
    const char *bad[] = {
        "",           "10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/",   "10.0.0.0/x",
        "fd00::/129", "host:0",     "host:65536",  "host:",       "ho st",
        "[fd00::1",   "[10.0.0.1]", "[::1]:x",     "[::1]x",      "http://x",
        "-x",         "a/b",        "host:80:90",  "10.0.0.0/-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mg_errinfo ei = {0};
        if (mg_http_egress_allow(&p, bad[i], &ei) != MG_E_INVALID)
            fail_msg("'%s' accepted", bad[i]);
        assert_non_null(strstr(ei.msg, "outbound allow rule"));
    }
    assert_int_equal(p.n_allow, 0);
    struct mg_errinfo ei = {0};
    for (int i = 0; i < MG_HTTP_EGRESS_MAX_ALLOW; i++)
        assert_int_equal(mg_http_egress_allow(&p, "10.0.0.0/8", &ei), MG_E_OK);
    assert_int_equal(mg_http_egress_allow(&p, "10.0.0.0/8", &ei), MG_E_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_egress_never),
        cmocka_unit_test(test_egress_local),
        cmocka_unit_test(test_egress_allow_rules),
        cmocka_unit_test(test_egress_bad_rules),
    };
    return MG_RUN_TESTS(tests);
}
