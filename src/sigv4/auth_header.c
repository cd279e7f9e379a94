/* src/sigv4/auth_header.c: find and parse the authentication data (Authorization header or
 * presigned query), then check scope and clock (iam-sigv4 A.1, A.3, A.4, A.8). Messages follow
 * AWS's wording. They may echo the Authorization header: show them to the client, never log them
 * above DEBUG. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/util.h"
#include "sigv4/sigv4_internal.h"

#define S_ECHO_MAX 300 /* longest client text echoed into a message */
#define S_ECHO(s) (int)((s).len > S_ECHO_MAX ? S_ECHO_MAX : (s).len), (const char *)(s).ptr

static const char s_both_msg[] =
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified";
static const char s_v4a_msg[] =
    "Signature Version 4A (AWS4-ECDSA-P256-SHA256) is not supported by this endpoint; sign the "
    "request with AWS4-HMAC-SHA256";
static const char s_query_missing_msg[] =
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";

static enum mg_sigv4_status s_fail(struct mg_errinfo *ei, enum mg_sigv4_status st, enum mg_err code,
                                   const char *fmt, ...) MG_PRINTF(4, 5);
static enum mg_sigv4_status s_fail(struct mg_errinfo *ei, enum mg_sigv4_status st, enum mg_err code,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_errinfo_vset(ei, code, fmt, ap);
    va_end(ap);
    return st;
}

/* Equality with a string literal: the length first, then the bytes. */
#define S_IS(s, lit) ((s).len == sizeof(lit) - 1 && mg_memcmp((s).ptr, lit, sizeof(lit) - 1) == 0)

static const bool s_sep[256] = {[','] = true, [' '] = true, ['\t'] = true};

static inline bool s_is_sep(uint8_t c)
{
    return s_sep[c];
}

/* Splits a credential at '/' (or "%2F" in a query). Returns the number of parts (at most 6). */
static size_t s_split_credential(struct mg_slice cred, bool pct, struct mg_slice parts[6])
{
    size_t n = 0, start = 0, i = 0;
    if (!pct) {
        struct mg_slice rest = cred, part;
        while (mg_slice_split(&rest, '/', &part)) {
            if (n == 6)
                return 7;
            parts[n++] = part;
        }
        return n;
    }
    while (i <= cred.len) {
        size_t sep = 0;
        if (i == cred.len)
            sep = 1;
        else if (cred.ptr[i] == '/')
            sep = 1;
        else if (pct && cred.ptr[i] == '%' && i + 2 < cred.len && cred.ptr[i + 1] == '2' &&
                 (cred.ptr[i + 2] == 'F' || cred.ptr[i + 2] == 'f'))
            sep = 3;
        if (!sep) {
            i++;
            continue;
        }
        if (n == 6)
            return 7;
        parts[n++] = mg_slice_sub(cred, start, i - start);
        i += sep;
        start = i;
    }
    return n;
}

static enum mg_sigv4_status s_set_credential(struct mg_slice cred, bool pct,
                                             struct mg_sigv4_auth *out, struct mg_errinfo *ei)
{
    struct mg_slice p[6];
    size_t n = s_split_credential(cred, pct, p);
    if (n != 5 || p[0].len == 0)
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "Credential must have exactly 5 slash-delimited elements, e.g. "
                      "keyid/date/region/service/term, got '%.*s'",
                      S_ECHO(cred));
    out->access_key_id = p[0];
    out->scope_date = p[1];
    out->region = p[2];
    out->service = p[3];
    out->terminator = p[4];
    return MG_SIGV4_OK;
}

static const char *const s_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool s_num(const uint8_t *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* IMF-fixdate (RFC 7231): "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool s_parse_http_date(struct mg_slice s, int64_t *out)
{
    int d, y, h, mi, se, mo = -1;
    const uint8_t *p = s.ptr;
    if (s.len != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
        p[19] != ':' || p[22] != ':' || p[25] != ' ' || p[26] != 'G' || p[27] != 'M' ||
        p[28] != 'T')
        return false;
    for (int i = 0; i < 12; i++)
        if (mg_memcmp(p + 8, s_months[i], 3) == 0)
            mo = i + 1;
    if (mo < 0 || !s_num(p + 5, 2, &d) || !s_num(p + 12, 4, &y) || !s_num(p + 17, 2, &h) ||
        !s_num(p + 20, 2, &mi) || !s_num(p + 23, 2, &se))
        return false;
    /* Validate through the basic-format parser, which checks the calendar. */
    char amz[17];
    int n = snprintf(amz, sizeof(amz), "%04d%02d%02dT%02d%02d%02dZ", y, mo, d, h, mi, se);
    return n == 16 && mg_time_parse_amz(mg_slice_make(amz, 16), out);
}

static enum mg_sigv4_status s_set_date(struct mg_slice v, bool amz_header,
                                       struct mg_sigv4_auth *out, struct mg_errinfo *ei)
{
    out->amz_date = v;
    if (mg_time_parse_amz(v, &out->request_time)) {
        out->amz_date_basic = true;
        return MG_SIGV4_OK;
    }
    if (!amz_header && s_parse_http_date(v, &out->request_time))
        return MG_SIGV4_OK;
    return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                  "Date must be in ISO-8601 'basic format'. Got '%.*s'. See "
                  "http://en.wikipedia.org/wiki/ISO_8601",
                  S_ECHO(v));
}

/* The headers parsing reads: the first of each, found in one pass over the request. */
struct s_hdrs {
    size_t n_auth;
    struct mg_slice auth, amz_date, date, token;
    bool have_amz_date, have_date, have_token;
};

static inline bool s_hdr_is(struct mg_slice a, const char *lower, size_t len)
{
    return a.len == len && mg_sigv4_name_ieq(a, mg_slice_make(lower, len));
}

static void s_scan_headers(const struct mg_sigv4_request *req, struct s_hdrs *h)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        struct mg_slice n = req->headers[i].name, v = req->headers[i].value;
        switch (n.len) { /* the length picks the one candidate */
        case 4:
            if (!h->have_date && s_hdr_is(n, "date", 4)) {
                h->have_date = true;
                h->date = v;
            }
            break;
        case 10:
            if (!h->have_amz_date && s_hdr_is(n, "x-amz-date", 10)) {
                h->have_amz_date = true;
                h->amz_date = v;
            }
            break;
        case 13:
            if (s_hdr_is(n, "authorization", 13) && !h->n_auth++)
                h->auth = v;
            break;
        case 20:
            if (!h->have_token && s_hdr_is(n, "x-amz-security-token", 20)) {
                h->have_token = true;
                h->token = v;
            }
            break;
        default: break;
        }
    }
}

static enum mg_sigv4_status s_parse_header(const struct s_hdrs *hs, struct mg_slice hdr,
                                           struct mg_sigv4_auth *out, struct mg_errinfo *ei)
{
    struct mg_slice v = mg_slice_trim(hdr), rest = {0};
    bool is_v4 = false;
    static const size_t alen = sizeof(MG_SIGV4_ALGORITHM) - 1;
    static const size_t alen4a = sizeof(MG_SIGV4A_ALGORITHM) - 1;
    if (mg_slice_starts_with(v, MG_SIGV4A_ALGORITHM) &&
        (v.len == alen4a || s_is_sep(v.ptr[alen4a])))
        return s_fail(ei, MG_SIGV4_UNSUPPORTED, MG_E_AUTH, "%s", s_v4a_msg);
    if (mg_slice_starts_with(v, MG_SIGV4_ALGORITHM) && (v.len == alen || s_is_sep(v.ptr[alen]))) {
        is_v4 = true;
        rest = mg_slice_sub(v, alen, v.len - alen);
    }
    struct mg_slice cred = {0}, sh = {0}, sig = {0};
    bool have_cred = false, have_sh = false, have_sig = false;
    size_t i = 0;
    while (is_v4 && i < rest.len) {
        if (s_is_sep(rest.ptr[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < rest.len && !s_is_sep(rest.ptr[i]))
            i++;
        struct mg_slice tok = mg_slice_sub(rest, start, i - start);
        long eq = mg_slice_find(tok, '=');
        if (eq < 0)
            return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                          "'%.*s' not a valid key=value pair (missing equal-sign) in "
                          "Authorization header: '%.*s'.",
                          S_ECHO(tok), S_ECHO(v));
        struct mg_slice key = mg_slice_sub(tok, 0, (size_t)eq);
        struct mg_slice val = mg_slice_sub(tok, (size_t)eq + 1, tok.len - (size_t)eq - 1);
        bool *have = NULL;
        struct mg_slice *dst = NULL;
        if (S_IS(key, "Credential")) {
            have = &have_cred;
            dst = &cred;
        } else if (S_IS(key, "SignedHeaders")) {
            have = &have_sh;
            dst = &sh;
        } else if (S_IS(key, "Signature")) {
            have = &have_sig;
            dst = &sig;
        } else {
            continue; /* unknown components are ignored, as AWS does */
        }
        if (*have)
            return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                          "Authorization header has a duplicate '%.*s' parameter. "
                          "Authorization=%.*s",
                          S_ECHO(key), S_ECHO(v));
        *have = true;
        *dst = val;
    }
    bool amz = hs->have_amz_date;
    struct mg_slice date = amz ? hs->amz_date : hs->date;
    bool have_date = amz || hs->have_date;
    if (!have_cred || !have_sig || !have_sh || !have_date) {
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE, "%s%s%s%sAuthorization=%.*s",
                      have_cred ? "" : "Authorization header requires 'Credential' parameter. ",
                      have_sig ? "" : "Authorization header requires 'Signature' parameter. ",
                      have_sh ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
                      have_date ? ""
                                : "Authorization header requires existence of either a "
                                  "'X-Amz-Date' or a 'Date' header. ",
                      S_ECHO(v));
    }
    enum mg_sigv4_status st = s_set_credential(cred, false, out, ei);
    if (st != MG_SIGV4_OK)
        return st;
    out->signed_headers = sh;
    out->signature = sig;
    st = s_set_date(mg_slice_trim(date), amz, out, ei);
    if (st != MG_SIGV4_OK)
        return st;
    out->date_from_date_header = !amz;
    if (hs->have_token)
        out->security_token = mg_slice_trim(hs->token);
    return MG_SIGV4_OK;
}

enum s_qp { S_QP_ALG, S_QP_CRED, S_QP_DATE, S_QP_EXPIRES, S_QP_SH, S_QP_SIG, S_QP_TOKEN, S_QP_N };
static const char *const s_qp_names[S_QP_N] = {
    "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",           "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token",
};

/* Finds the auth parameters of the query (raw names). Returns false on a duplicate. */
static bool s_scan_query(struct mg_slice query, struct mg_slice vals[S_QP_N], bool have[S_QP_N],
                         size_t *dup)
{
    struct mg_slice rest = query, item;
    while (rest.len && mg_slice_split(&rest, '&', &item)) {
        if (item.len < 10 || item.ptr[0] != 'X')
            continue;
        /* without '=' the value is empty, but never a NULL slice */
        struct mg_slice name = item, value = mg_slice_make(item.ptr + item.len, 0);
        long eq = mg_slice_find(item, '=');
        if (eq >= 0) {
            name = mg_slice_sub(item, 0, (size_t)eq);
            value = mg_slice_sub(item, (size_t)eq + 1, item.len - (size_t)eq - 1);
        }
        for (size_t k = 0; k < S_QP_N; k++) {
            if (mg_slice_eq_cstr(name, s_qp_names[k])) {
                if (have[k]) {
                    *dup = k;
                    return false;
                }
                have[k] = true;
                vals[k] = value;
            }
        }
    }
    return true;
}

static enum mg_sigv4_status s_parse_query(const struct s_hdrs *hs, struct mg_slice vals[S_QP_N],
                                          const bool have[S_QP_N], struct mg_sigv4_auth *out,
                                          struct mg_errinfo *ei)
{
    out->presigned = true;
    if (mg_slice_eq_cstr(vals[S_QP_ALG], MG_SIGV4A_ALGORITHM))
        return s_fail(ei, MG_SIGV4_UNSUPPORTED, MG_E_AUTH, "%s", s_v4a_msg);
    if (!mg_slice_eq_cstr(vals[S_QP_ALG], MG_SIGV4_ALGORITHM))
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "X-Amz-Algorithm only supports \"" MG_SIGV4_ALGORITHM "\"");
    for (size_t k = 0; k < S_QP_TOKEN; k++)
        if (!have[k])
            return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE, "%s", s_query_missing_msg);
    uint64_t exp = 0;
    if (!mg_slice_to_u64(vals[S_QP_EXPIRES], &exp))
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE, "X-Amz-Expires should be a number");
    if (exp < 1)
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "X-Amz-Expires must be at least 1 second");
    if (exp > 604800)
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    out->expires = (int64_t)exp;
    enum mg_sigv4_status st = s_set_credential(vals[S_QP_CRED], true, out, ei);
    if (st != MG_SIGV4_OK)
        return st;
    out->signed_headers = vals[S_QP_SH];
    out->signature = vals[S_QP_SIG];
    st = s_set_date(vals[S_QP_DATE], true, out, ei);
    if (st != MG_SIGV4_OK)
        return st;
    if (have[S_QP_TOKEN]) {
        out->security_token = vals[S_QP_TOKEN];
        out->token_in_query = true;
    } else if (hs->have_token) {
        out->security_token = mg_slice_trim(hs->token);
    }
    return MG_SIGV4_OK;
}

enum mg_sigv4_status mg_sigv4_parse(const struct mg_sigv4_request *req, struct mg_sigv4_auth *out,
                                    struct mg_errinfo *ei)
{
    *out = (struct mg_sigv4_auth){0};
    struct s_hdrs hs = {0};
    s_scan_headers(req, &hs);
    struct mg_slice hdr = hs.auth;
    size_t n_auth = hs.n_auth;
    struct mg_slice vals[S_QP_N] = {{0}};
    bool have[S_QP_N] = {0};
    size_t dup = 0;
    if (!s_scan_query(req->query, vals, have, &dup))
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "The query parameter '%s' appears more than once", s_qp_names[dup]);
    if (n_auth > 1)
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE,
                      "The request carries more than one Authorization header");
    if (n_auth && (have[S_QP_ALG] || have[S_QP_SIG] || have[S_QP_CRED]))
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE, "%s", s_both_msg);
    if (n_auth)
        return s_parse_header(&hs, hdr, out, ei);
    if (have[S_QP_ALG])
        return s_parse_query(&hs, vals, have, out, ei);
    if (have[S_QP_SIG] || have[S_QP_CRED])
        return s_fail(ei, MG_SIGV4_INCOMPLETE, MG_E_PARSE, "%s", s_query_missing_msg);
    return s_fail(ei, MG_SIGV4_MISSING, MG_E_AUTH, "Missing Authentication Token");
}

static void s_window(int64_t skew, char *buf, size_t n)
{
    if (skew % 60 == 0)
        snprintf(buf, n, "%" PRId64 " min.", skew / 60);
    else
        snprintf(buf, n, "%" PRId64 " sec.", skew);
}

enum mg_sigv4_status mg_sigv4_check(const struct mg_sigv4_auth *auth, const char *const *regions,
                                    size_t n_regions, const char *expected_service, int64_t now,
                                    int64_t skew_seconds, struct mg_errinfo *ei)
{
    char date[17];
    mg_sigv4_amz_date(auth, date);
    if (!mg_slice_eq(auth->scope_date, mg_slice_make(date, 8)))
        return s_fail(ei, MG_SIGV4_BAD_SCOPE, MG_E_AUTH,
                      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                      "date from HTTP: '%.*s' != '%.8s', from '%.*s'.",
                      S_ECHO(auth->scope_date), date, S_ECHO(auth->amz_date));
    bool region_ok = n_regions == 0;
    for (size_t i = 0; i < n_regions && !region_ok; i++)
        region_ok = mg_slice_eq_cstr(auth->region, regions[i]);
    /* AWS's wording, then the region to use: with one server the fix is always "sign for R". */
    if (!region_ok && n_regions > 1 && strcmp(regions[0], regions[1]) != 0)
        return s_fail(ei, MG_SIGV4_BAD_SCOPE, MG_E_AUTH,
                      "Credential should be scoped to a valid region, not '%.*s'. This server "
                      "serves %.64s; this service also accepts %.64s.",
                      (int)(auth->region.len > 128 ? 128 : auth->region.len),
                      (const char *)auth->region.ptr, regions[0], regions[1]);
    if (!region_ok)
        return s_fail(ei, MG_SIGV4_BAD_SCOPE, MG_E_AUTH,
                      "Credential should be scoped to a valid region, not '%.*s'. This server "
                      "serves %.64s.",
                      (int)(auth->region.len > 128 ? 128 : auth->region.len),
                      (const char *)auth->region.ptr, regions[0]);
    if (expected_service && !mg_slice_eq_cstr(auth->service, expected_service))
        return s_fail(ei, MG_SIGV4_BAD_SCOPE, MG_E_AUTH,
                      "Credential should be scoped to correct service: '%s'. ", expected_service);
    if (!S_IS(auth->terminator, "aws4_request"))
        return s_fail(ei, MG_SIGV4_BAD_SCOPE, MG_E_AUTH,
                      "Credential should be scoped with a valid terminator: 'aws4_request', not "
                      "'%.*s'. ",
                      S_ECHO(auth->terminator));
    if (skew_seconds < 0)
        skew_seconds = 0;
    char a[17], b[17], c[17], win[32];
    int64_t t = auth->request_time;
    if (auth->presigned) {
        if (now > t + auth->expires) {
            mg_time_amz(t + auth->expires, a);
            mg_time_amz(now, b);
            return s_fail(ei, MG_SIGV4_SKEW, MG_E_AUTH,
                          "Request has expired: it was valid until %s (X-Amz-Date %s + "
                          "X-Amz-Expires %" PRId64 " s) and it is now %s.",
                          a, date, auth->expires, b);
        }
    } else if (now - t > skew_seconds) {
        s_window(skew_seconds, win, sizeof(win));
        mg_time_amz(now - skew_seconds, a);
        mg_time_amz(now, b);
        return s_fail(ei, MG_SIGV4_SKEW, MG_E_AUTH,
                      "Signature expired: %s is now earlier than %s (%s - %s)", date, a, b, win);
    }
    if (t - now > skew_seconds) {
        s_window(skew_seconds, win, sizeof(win));
        mg_time_amz(now + skew_seconds, c);
        mg_time_amz(now, b);
        return s_fail(ei, MG_SIGV4_SKEW, MG_E_AUTH,
                      "Signature not yet current: %s is still later than %s (%s + %s)", date, c, b,
                      win);
    }
    return MG_SIGV4_OK;
}

enum mg_err mg_sigv4_token(const struct mg_sigv4_auth *auth, struct mg_buf *out)
{
    mg_buf_reset(out);
    if (auth->token_in_query)
        return mg_url_decode(out, auth->security_token, false);
    return mg_buf_append_slice(out, auth->security_token);
}
