/* src/policy/match.c: wildcards, ARN-aware matching, policy variables and value parsers. */
#include <arpa/inet.h>
#include <math.h>
#include <stdlib.h>

#include "base/util.h"
#include "policy/policy_internal.h"

static inline uint8_t s_lc(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Iterative glob with single-star backtracking: linear in practice, never recursive. */
bool mg_policy_glob(const char *pat, size_t plen, const uint8_t *s, size_t slen, bool icase)
{
    size_t p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;
    while (i < slen) {
        if (p < plen) {
            uint8_t c = (uint8_t)pat[p];
            if (c == '*') {
                star_p = ++p;
                star_i = i;
                continue;
            }
            if (c == '?') {
                p++;
                i++;
                continue;
            }
            size_t step = 1;
            if (c == (uint8_t)MG_POLICY_ESC && p + 1 < plen) {
                c = (uint8_t)pat[p + 1];
                step = 2;
            }
            if (icase ? s_lc(c) == s_lc(s[i]) : c == s[i]) {
                p += step;
                i++;
                continue;
            }
        }
        if (star_p != SIZE_MAX) {
            p = star_p;
            i = ++star_i;
            continue;
        }
        return false;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* Splits at the first five colons (the resource part keeps its colons). Returns field count. */
static int s_split6(const uint8_t *s, size_t len, size_t off[6], size_t lens[6])
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i < len && n < 5; i++) {
        if (s[i] == ':' && !(i > 0 && s[i - 1] == (uint8_t)MG_POLICY_ESC)) {
            off[n] = start;
            lens[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    off[n] = start;
    lens[n] = len - start;
    return n + 1;
}

/* Each of the six ARN fields is matched on its own, so wildcards never cross a field boundary
 * except inside the resource field (which may itself contain ':' and '/'). */
bool mg_policy_arn_match(const char *pat, size_t plen, struct mg_slice arn)
{
    if (plen == 1 && pat[0] == '*')
        return true;
    size_t po[6], pl[6], so[6], sl[6];
    int pn = s_split6((const uint8_t *)pat, plen, po, pl);
    int sn = s_split6(arn.ptr, arn.len, so, sl);
    if (pn != 6 || sn != 6)
        return mg_policy_glob(pat, plen, arn.ptr, arn.len, false);
    for (int k = 0; k < 6; k++) {
        if (!mg_policy_glob(pat + po[k], pl[k], arn.ptr + so[k], sl[k], false))
            return false;
    }
    return true;
}

static bool s_put(char *out, size_t cap, size_t *n, char c)
{
    if (*n >= cap)
        return false;
    out[(*n)++] = c;
    return true;
}

static bool s_put_value(char *out, size_t cap, size_t *n, const uint8_t *v, size_t len, bool escape)
{
    for (size_t i = 0; i < len; i++) {
        char c = (char)v[i];
        if (escape && (c == '*' || c == '?' || c == MG_POLICY_ESC)) {
            if (!s_put(out, cap, n, MG_POLICY_ESC))
                return false;
        }
        if (!s_put(out, cap, n, c))
            return false;
    }
    return true;
}

long mg_policy_expand(const struct mg_policy_pat *p, const struct mg_policy_request *req,
                      bool escape, char *out, size_t cap)
{
    size_t n = 0;
    const char *s = p->s;
    size_t len = p->len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            size_t j = i + 2;
            while (j < len && s[j] != '}')
                j++;
            if (j < len) {
                struct mg_slice inner = mg_slice_trim(mg_slice_make(s + i + 2, j - i - 2));
                i = j;
                if (inner.len == 1 &&
                    (inner.ptr[0] == '*' || inner.ptr[0] == '?' || inner.ptr[0] == '$')) {
                    if (escape && inner.ptr[0] != '$' && !s_put(out, cap, &n, MG_POLICY_ESC))
                        return -2;
                    if (!s_put(out, cap, &n, (char)inner.ptr[0]))
                        return -2;
                    continue;
                }
                struct mg_slice key = inner, def = {0};
                bool has_def = false;
                long comma = mg_slice_find(inner, ',');
                if (comma >= 0) {
                    key = mg_slice_trim(mg_slice_sub(inner, 0, (size_t)comma));
                    def = mg_slice_trim(
                        mg_slice_sub(inner, (size_t)comma + 1, inner.len - (size_t)comma - 1));
                    if (def.len >= 2 && def.ptr[0] == '\'' && def.ptr[def.len - 1] == '\'') {
                        def = mg_slice_sub(def, 1, def.len - 2);
                        has_def = true;
                    }
                }
                const struct mg_policy_ctx_entry *e = mg_policy_ctx_find(req, key);
                struct mg_slice v;
                if (e && (e->values == NULL || e->n_values > 0)) {
                    v = e->values ? e->values[0] : e->value;
                } else if (has_def) {
                    v = def;
                } else {
                    return -1;
                }
                if (!s_put_value(out, cap, &n, v.ptr, v.len, escape))
                    return -2;
                continue;
            }
        }
        if (!s_put(out, cap, &n, s[i]))
            return -2;
    }
    return (long)n;
}

bool mg_policy_parse_ip(struct mg_slice s, bool allow_prefix, uint8_t addr[16], uint8_t *prefix,
                        bool *v6)
{
    char tmp[64];
    if (s.len == 0 || s.len >= sizeof(tmp))
        return false;
    long slash = mg_slice_find(s, '/');
    struct mg_slice a = s, pfx = {0};
    if (slash >= 0) {
        if (!allow_prefix)
            return false;
        a = mg_slice_sub(s, 0, (size_t)slash);
        pfx = mg_slice_sub(s, (size_t)slash + 1, s.len - (size_t)slash - 1);
    }
    mg_memcpy(tmp, a.ptr, a.len);
    tmp[a.len] = 0;
    mg_memzero(addr, 16);
    bool is6 = mg_slice_find(a, ':') >= 0;
    if (inet_pton(is6 ? AF_INET6 : AF_INET, tmp, addr) != 1)
        return false;
    unsigned maxp = is6 ? 128 : 32;
    uint64_t pv = maxp;
    if (slash >= 0 && (!mg_slice_to_u64(pfx, &pv) || pv > maxp || pfx.len > 3))
        return false;
    *prefix = (uint8_t)pv;
    *v6 = is6;
    return true;
}

bool mg_policy_parse_date(struct mg_slice s, int64_t *out)
{
    uint64_t u;
    if (s.len > 0 && s.len <= 12 && mg_slice_to_u64(s, &u)) {
        *out = (int64_t)u;
        return true;
    }
    return mg_time_parse_iso8601(s, out);
}

bool mg_policy_parse_num(struct mg_slice s, double *out)
{
    char tmp[64];
    if (s.len == 0 || s.len >= sizeof(tmp))
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
    }
    mg_memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = 0;
    char *end = NULL;
    double d = strtod(tmp, &end);
    if (end != tmp + s.len || !isfinite(d))
        return false;
    *out = d;
    return true;
}
