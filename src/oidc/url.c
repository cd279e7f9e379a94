/* src/oidc/url.c: which discovery URLs and jwks_uri the key cache fetches (mg_oidc_url_ok). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "oidc/oidc.h"

static bool s_no(char *why, size_t cap, const char *msg)
{
    if (why && cap > 0)
        (void)snprintf(why, cap, "%s", msg);
    return false;
}

static bool s_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool s_v6_char(char c)
{
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

bool mg_oidc_url_ok(const char *url, char *why, size_t cap)
{
    if (why && cap > 0)
        why[0] = '\0';
    if (url == NULL || url[0] == '\0')
        return s_no(why, cap, "the URL is empty");
    size_t n = strlen(url);
    if (n > MG_OIDC_MAX_URL)
        return s_no(why, cap, "the URL is longer than 2048 bytes");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return s_no(why, cap, "the URL holds a space, a control character or a non-ASCII byte");
    }
    bool https;
    size_t off;
    if (strncasecmp(url, "https://", 8) == 0) {
        https = true;
        off = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        https = false;
        off = 7;
    } else {
        return s_no(why, cap, "the URL must start with https://");
    }
    if (strchr(url, '#'))
        return s_no(why, cap, "the URL has a fragment");
    const char *auth = url + off;
    size_t alen = strcspn(auth, "/?");
    if (memchr(auth, '@', alen))
        return s_no(why, cap, "the URL holds user information");
    if (alen == 0)
        return s_no(why, cap, "the URL has no host");
    /* host: [v6] or a name/IPv4, then an optional :port */
    char host[256];
    size_t hlen, rest;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        if (close == NULL)
            return s_no(why, cap, "the URL's host is not valid");
        hlen = (size_t)(close - auth) + 1;
        for (size_t i = 1; i + 1 < hlen; i++)
            if (!s_v6_char(auth[i]))
                return s_no(why, cap, "the URL's host is not valid");
        if (hlen < 3)
            return s_no(why, cap, "the URL's host is not valid");
    } else {
        hlen = strcspn(auth, ":/?");
        if (hlen > alen)
            hlen = alen;
        for (size_t i = 0; i < hlen; i++)
            if (!s_host_char(auth[i]))
                return s_no(why, cap, "the URL's host is not valid");
        if (hlen == 0)
            return s_no(why, cap, "the URL has no host");
    }
    if (hlen >= sizeof(host))
        return s_no(why, cap, "the URL's host is too long");
    rest = alen - hlen;
    if (rest > 0) {
        const char *p = auth + hlen;
        if (*p != ':' || rest < 2 || rest > 6)
            return s_no(why, cap, "the URL's port is not valid");
        unsigned long port = 0;
        for (size_t i = 1; i < rest; i++) {
            if (p[i] < '0' || p[i] > '9')
                return s_no(why, cap, "the URL's port is not valid");
            port = port * 10 + (unsigned long)(p[i] - '0');
        }
        if (port == 0 || port > 65535)
            return s_no(why, cap, "the URL's port is not valid");
    }
    for (size_t i = 0; i < hlen; i++) {
        char c = auth[i];
        host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    host[hlen] = '\0';
    if (!https && !mg_host_is_loopback(host))
        return s_no(why, cap,
                    "the URL must use https (http is allowed only to localhost, 127.0.0.0/8 or "
                    "[::1])");
    return true;
}
