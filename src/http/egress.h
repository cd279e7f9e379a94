/* src/http/egress.h: which addresses the outbound HTTP client may connect to (SSRF policy).
 *
 * Checked on every socket the client opens (after name resolution, so a name that resolves to a
 * refused address is refused too) and again on every connection a request uses, reused ones
 * included. Three classes of addresses:
 *
 *   never: link-local 169.254.0.0/16 and fe80::/10 (cloud instance metadata), fd00:ec2::254
 *          (EC2 metadata over IPv6), 0.0.0.0/8, ::, multicast (224.0.0.0/4, ff00::/8), reserved
 *          and broadcast (240.0.0.0/4, 255.255.255.255). Refused whatever the options.
 *   local: loopback (127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, 100.64/10 CGNAT,
 *          fc00::/7, fec0::/10). Refused only with deny_local, unless an allow rule grants it.
 *   other: allowed.
 *
 * An IPv4 address written as IPv6 (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d) is classed as
 * the IPv4 address it carries. Allow rules never lift the "never" class. */
#ifndef MG_HTTP_EGRESS_H
#define MG_HTTP_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/err.h"

#define MG_HTTP_EGRESS_MAX_ALLOW 64 /* allow rules */
#define MG_HTTP_EGRESS_MAX_HOST 253 /* bytes of a host name in a rule */

struct mg_http_egress_rule {
    bool net;                               /* an address block (addr/prefix), else a host name */
    uint8_t addr[16];                       /* IPv6, or IPv4 as ::ffff:a.b.c.d */
    unsigned prefix;                        /* bits of addr that must match, 0..128 */
    char host[MG_HTTP_EGRESS_MAX_HOST + 1]; /* lower-case name, for !net */
    unsigned port;                          /* 0: any port */
};

struct mg_http_egress {
    bool deny_local;
    struct mg_http_egress_rule allow[MG_HTTP_EGRESS_MAX_ALLOW];
    size_t n_allow;
};

/* Adds an allow rule: "CIDR" (10.1.0.0/16, fd12::/16: any port), "ADDR[:PORT]" (an IPv4
 * literal, or an IPv6 literal in brackets with a port: [fd12::5]:8443, bare without), or
 * "HOST[:PORT]" (a host name, compared without case with the URL's host: whatever it resolves
 * to is allowed, except the "never" class). MG_E_INVALID with the reason in ei for a malformed
 * rule (host bits set past the prefix included) or more than MG_HTTP_EGRESS_MAX_ALLOW. */
MG_MUST_USE enum mg_err mg_http_egress_allow(struct mg_http_egress *p, const char *spec,
                                             struct mg_errinfo *ei);

/* Whether a connection to sa (AF_INET or AF_INET6; anything else is refused) for a URL whose
 * host is url_host (as libcurl gives it: a name, an IPv4 literal or "[v6]"; NULL: no host rule
 * applies) is allowed. */
bool mg_http_egress_permits(const struct mg_http_egress *p, const struct sockaddr *sa,
                            const char *url_host);

/* The same for an address in text form (as libcurl reports a connection's peer) and a port. */
bool mg_http_egress_permits_text(const struct mg_http_egress *p, const char *ip, int port,
                                 const char *url_host);

#endif
