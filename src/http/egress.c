/* src/http/egress.c: the outbound address policy (see egress.h). Pure code: no I/O. */
#include "http/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/slice.h"

enum s_class { S_OTHER, S_LOCAL, S_NEVER };

static enum s_class s_class4(uint32_t a)
{
    uint32_t b0 = a >> 24;
    if (b0 == 0 || b0 >= 224) /* 0/8 "this network"; 224/4 multicast; 240/4 and broadcast */
        return S_NEVER;
    if ((a >> 16) == 0xa9fe) /* 169.254/16 link-local: instance metadata */
        return S_NEVER;
    if (b0 == 127 || b0 == 10)
        return S_LOCAL;
    if ((a >> 20) == 0xac1 || (a >> 16) == 0xc0a8) /* 172.16/12, 192.168/16 */
        return S_LOCAL;
    if ((a >> 22) == (0x6440u >> 6)) /* 100.64/10: carrier-grade NAT */
        return S_LOCAL;
    return S_OTHER;
}

static bool s_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* The IPv4 address an IPv6 one carries (mapped ::ffff:0:0/96, compatible ::/96, NAT64
 * 64:ff9b::/96), or false. */
static bool s_embedded4(const uint8_t a[16], uint32_t *v4)
{
    static const uint8_t nat64[4] = {0x00, 0x64, 0xff, 0x9b};
    bool mapped = s_zero(a, 10) && a[10] == 0xff && a[11] == 0xff;
    bool compat = s_zero(a, 12);
    bool translated = mg_memcmp(a, nat64, 4) == 0 && s_zero(a + 4, 8);
    if (!mapped && !compat && !translated)
        return false;
    *v4 = (uint32_t)a[12] << 24 | (uint32_t)a[13] << 16 | (uint32_t)a[14] << 8 | a[15];
    return true;
}

static enum s_class s_class6(const uint8_t a[16])
{
    static const uint8_t loopback[16] = {[15] = 1};
    static const uint8_t ec2_metadata[16] = {0xfd, 0x00, 0x0e, 0xc2, [14] = 0x02, [15] = 0x54};
    if (s_zero(a, 16)) /* :: */
        return S_NEVER;
    if (mg_memcmp(a, loopback, 16) == 0)
        return S_LOCAL;
    uint32_t v4;
    if (s_embedded4(a, &v4))
        return s_class4(v4);
    if (a[0] == 0xff) /* ff00::/8 multicast */
        return S_NEVER;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return S_NEVER;
    if (mg_memcmp(a, ec2_metadata, 16) == 0) /* EC2 metadata over IPv6 */
        return S_NEVER;
    if ((a[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return S_LOCAL;
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) /* fec0::/10 site-local */
        return S_LOCAL;
    return S_OTHER;
}

static bool s_prefix_match(const uint8_t a[16], const uint8_t net[16], unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (mg_memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* sa as 16 bytes (IPv4 as ::ffff:a.b.c.d) and its port; false for other families. */
static bool s_canon(const struct sockaddr *sa, uint8_t out[16], unsigned *port)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        memset(out, 0, 16);
        out[10] = out[11] = 0xff;
        mg_memcpy(out + 12, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        mg_memcpy(out, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return true;
    }
    return false;
}

bool mg_http_egress_permits(const struct mg_http_egress *p, const struct sockaddr *sa,
                            const char *url_host)
{
    uint8_t a[16];
    unsigned port = 0;
    if (p == NULL || sa == NULL || !s_canon(sa, a, &port))
        return false;
    enum s_class cl = s_class6(a);
    if (cl == S_NEVER)
        return false;
    if (cl == S_OTHER || !p->deny_local)
        return true;
    for (size_t i = 0; i < p->n_allow; i++) {
        const struct mg_http_egress_rule *r = &p->allow[i];
        if (r->port && r->port != port)
            continue;
        if (r->net ? s_prefix_match(a, r->addr, r->prefix)
                   : url_host != NULL && strcasecmp(url_host, r->host) == 0)
            return true;
    }
    return false;
}

bool mg_http_egress_permits_text(const struct mg_http_egress *p, const char *ip, int port,
                                 const char *url_host)
{
    if (ip == NULL || port < 0 || port > 65535)
        return false;
    struct sockaddr_in6 s6;
    struct sockaddr_in s4;
    memset(&s6, 0, sizeof(s6));
    memset(&s4, 0, sizeof(s4));
    if (inet_pton(AF_INET, ip, &s4.sin_addr) == 1) {
        s4.sin_family = AF_INET;
        s4.sin_port = htons((uint16_t)port);
        return mg_http_egress_permits(p, (const struct sockaddr *)&s4, url_host);
    }
    /* drop a zone ("fe80::1%eth0"): the address decides */
    char buf[INET6_ADDRSTRLEN + 1];
    size_t n = strcspn(ip, "%");
    if (n >= sizeof(buf))
        return false;
    mg_memcpy(buf, ip, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET6, buf, &s6.sin6_addr) != 1)
        return false;
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons((uint16_t)port);
    return mg_http_egress_permits(p, (const struct sockaddr *)&s6, url_host);
}

/* --- allow rules -------------------------------------------------------------------------- */

/* An IPv4 or IPv6 literal (no brackets) as 16 bytes; *v4 tells which. */
static bool s_parse_addr(const char *s, uint8_t out[16], bool *v4)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, s, &a4) == 1) {
        memset(out, 0, 16);
        out[10] = out[11] = 0xff;
        mg_memcpy(out + 12, &a4, 4);
        *v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1) {
        mg_memcpy(out, &a6, 16);
        *v4 = false;
        return true;
    }
    return false;
}

static bool s_parse_num(const char *s, unsigned min, unsigned max, unsigned *out)
{
    unsigned v = 0;
    size_t i = 0;
    for (; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5)
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (i == 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool s_host_name(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > MG_HTTP_EGRESS_MAX_HOST || h[0] == '.' || h[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = h[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
        if (!ok)
            return false;
    }
    return true;
}

enum mg_err mg_http_egress_allow(struct mg_http_egress *p, const char *spec, struct mg_errinfo *ei)
{
    if (spec == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound allow rule: missing");
    size_t n = strnlen(spec, 300);
    if (n == 0 || n >= 300)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound allow rule '%.64s': empty or too long",
                              spec);
    if (p->n_allow >= MG_HTTP_EGRESS_MAX_ALLOW)
        return mg_errinfo_set(ei, MG_E_INVALID, "at most %d outbound allow rules",
                              MG_HTTP_EGRESS_MAX_ALLOW);
    char buf[300];
    mg_memcpy(buf, spec, n + 1);
    struct mg_http_egress_rule r;
    memset(&r, 0, sizeof(r));
    const char *bad = NULL;
    bool v4 = false;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        unsigned bits = 0;
        r.net = true;
        if (!s_parse_addr(buf, r.addr, &v4))
            bad = "wants an IPv4 or IPv6 address before the '/'";
        else if (!s_parse_num(slash + 1, 0, v4 ? 32 : 128, &bits))
            bad = v4 ? "wants a prefix length of 0 to 32" : "wants a prefix length of 0 to 128";
        if (!bad) {
            r.prefix = v4 ? 96 + bits : bits;
            uint8_t masked[16];
            memset(masked, 0, sizeof(masked));
            for (unsigned b = 0; b < r.prefix; b++)
                masked[b / 8] |= (uint8_t)(r.addr[b / 8] & (0x80u >> (b % 8)));
            if (mg_memcmp(masked, r.addr, 16) != 0)
                bad = "has address bits set past its prefix length";
        }
    } else if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL)
            bad = "has '[' without ']'";
        if (!bad) {
            *close = '\0';
            if (!s_parse_addr(buf + 1, r.addr, &v4) || v4)
                bad = "wants an IPv6 address in the brackets";
            else if (close[1] != '\0' &&
                     (close[1] != ':' || !s_parse_num(close + 2, 1, 65535, &r.port)))
                bad = "wants ':PORT' (1 to 65535) after the brackets";
        }
        r.net = true;
        r.prefix = 128;
    } else if (s_parse_addr(buf, r.addr, &v4) && !v4) {
        r.net = true; /* a bare IPv6 address, no port */
        r.prefix = 128;
    } else {
        char *colon = strchr(buf, ':');
        if (colon) {
            *colon = '\0';
            if (!s_parse_num(colon + 1, 1, 65535, &r.port))
                bad = "wants ':PORT' (1 to 65535) after the host";
        }
        if (!bad && s_parse_addr(buf, r.addr, &v4) && v4) {
            r.net = true;
            r.prefix = 128;
        } else if (!bad && s_host_name(buf)) {
            for (size_t i = 0; buf[i]; i++)
                r.host[i] = (char)((buf[i] >= 'A' && buf[i] <= 'Z') ? buf[i] + 32 : buf[i]);
        } else if (!bad) {
            bad = "wants a host name, an IP address or a CIDR block";
        }
    }
    if (bad)
        return mg_errinfo_set(ei, MG_E_INVALID, "outbound allow rule '%.64s': %s", spec, bad);
    p->allow[p->n_allow++] = r;
    return MG_E_OK;
}
