/* src/sigv4/canonical.c: canonical request and string to sign (iam-sigv4 A.2, A.3).
 * The output is written through a bounds-checked cursor into storage reserved once, so that a
 * warm per-thread buffer means no allocation. */
#include <stdarg.h>
#include <stdlib.h>

#include "base/limits.h"
#include "base/util.h"
#include "sigv4/sigv4_internal.h"

struct s_w {
    uint8_t *p, *end;
    bool overflow;
};

static const char s_hex_upper[] = "0123456789ABCDEF";

static inline void s_put(struct s_w *w, uint8_t c)
{
    if (w->p < w->end)
        *w->p++ = c;
    else
        w->overflow = true;
}

static void s_put_slice(struct s_w *w, struct mg_slice s)
{
    if ((size_t)(w->end - w->p) < s.len) {
        w->overflow = true;
        return;
    }
    mg_memcpy(w->p, s.ptr, s.len);
    w->p += s.len;
}

static inline bool s_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

static inline void s_put_encoded(struct s_w *w, uint8_t c)
{
    if (s_unreserved(c)) {
        s_put(w, c);
    } else {
        s_put(w, '%');
        s_put(w, (uint8_t)s_hex_upper[c >> 4]);
        s_put(w, (uint8_t)s_hex_upper[c & 15]);
    }
}

/* Encodes every byte of s: runs of unreserved bytes are copied in one go. */
static void s_put_encoded_all(struct s_w *w, struct mg_slice s)
{
    size_t i = 0;
    while (i < s.len) {
        size_t j = i;
        while (j < s.len && s_unreserved(s.ptr[j]))
            j++;
        s_put_slice(w, mg_slice_make(s.ptr + i, j - i));
        if (j < s.len)
            s_put_encoded(w, s.ptr[j++]);
        i = j;
    }
}

/* Percent-decodes (no '+' to space) and re-encodes with the SigV4 unreserved set. */
static void s_put_reencoded(struct s_w *w, struct mg_slice s)
{
    if (mg_slice_find(s, '%') < 0) {
        s_put_encoded_all(w, s);
        return;
    }
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (c == '%' && i + 2 < s.len) {
            int h = mg_hex_value(s.ptr[i + 1]), l = mg_hex_value(s.ptr[i + 2]);
            if (h >= 0 && l >= 0) {
                c = (uint8_t)(h << 4 | l);
                i += 2;
            }
        }
        s_put_encoded(w, c);
    }
}

/* Canonical URI: the raw path with dot segments removed and repeated slashes collapsed (RFC 3986
 * 5.2.4, as every non-S3 service does), each segment then encoded once more, so that a '%' on the
 * wire becomes %25. A trailing slash survives. */
static void s_put_uri(struct s_w *w, struct mg_slice path)
{
    uint8_t *start = w->p;
    struct mg_slice rest = path, seg = {0};
    bool trailing = false;
    if (rest.len && rest.ptr[0] == '/')
        rest = mg_slice_sub(rest, 1, rest.len - 1);
    bool more = true;
    while (more) {
        long at = mg_slice_find(rest, '/');
        if (at < 0) {
            seg = rest;
            more = false;
        } else {
            seg = mg_slice_sub(rest, 0, (size_t)at);
            rest = mg_slice_sub(rest, (size_t)at + 1, rest.len - (size_t)at - 1);
        }
        bool dot = seg.len == 1 && seg.ptr[0] == '.';
        bool dotdot = seg.len == 2 && seg.ptr[0] == '.' && seg.ptr[1] == '.';
        trailing = seg.len == 0 || dot || dotdot;
        if (seg.len == 0 || dot)
            continue;
        if (dotdot) {
            while (w->p > start && *--w->p != '/')
                ;
            continue;
        }
        s_put(w, '/');
        s_put_encoded_all(w, seg);
    }
    if (w->p == start || trailing)
        s_put(w, '/');
}

static int s_param_cmp(const void *a, const void *b)
{
    const struct mg_kv *x = a, *y = b;
    int c = mg_slice_cmp(x->name, y->name);
    return c ? c : mg_slice_cmp(x->value, y->value);
}

static enum mg_err s_put_query(struct s_w *w, struct mg_slice query, bool presigned,
                               bool omit_token)
{
    if (query.len == 0)
        return MG_E_OK;
    struct mg_kv params[MG_LIMIT_QUERY_PARAMS];
    size_t n = 0;
    struct mg_sigv4_tls *tls = mg_sigv4_tls_get();
    if (!tls)
        return MG_E_NOMEM;
    struct mg_buf *sb = &tls->scratch;
    mg_buf_reset(sb);
    if (query.len > (MG_LIMIT_CANONICAL_REQUEST - 1) / 3)
        return MG_E_TOO_LARGE;
    MG_TRY(mg_buf_reserve(sb, 3 * query.len + 1));
    struct s_w sw = {sb->ptr, sb->ptr + 3 * query.len, false};
    struct mg_slice rest = query, item;
    while (rest.len && mg_slice_split(&rest, '&', &item)) {
        if (item.len == 0)
            continue;
        struct mg_slice name = item, value = {0};
        long eq = mg_slice_find(item, '=');
        if (eq >= 0) {
            name = mg_slice_sub(item, 0, (size_t)eq);
            value = mg_slice_sub(item, (size_t)eq + 1, item.len - (size_t)eq - 1);
        }
        if (presigned && mg_slice_eq_cstr(name, "X-Amz-Signature"))
            continue;
        if (omit_token && mg_slice_eq_cstr(name, "X-Amz-Security-Token"))
            continue;
        if (n == MG_LIMIT_QUERY_PARAMS)
            return MG_E_TOO_LARGE;
        uint8_t *p = sw.p;
        s_put_reencoded(&sw, name);
        params[n].name = mg_slice_make(p, (size_t)(sw.p - p));
        p = sw.p;
        s_put_reencoded(&sw, value);
        params[n].value = mg_slice_make(p, (size_t)(sw.p - p));
        n++;
    }
    if (sw.overflow)
        return MG_E_INTERNAL; /* cannot happen: decoding never grows, encoding at most triples */
    if (n > 1)
        qsort(params, n, sizeof(params[0]), s_param_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i)
            s_put(w, '&');
        s_put_slice(w, params[i].name);
        s_put(w, '=');
        s_put_slice(w, params[i].value);
    }
    return MG_E_OK;
}

static inline bool s_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trims, and collapses every whitespace run (folded lines included) to one space. */
static void s_put_header_value(struct s_w *w, struct mg_slice v)
{
    /* fast path: nothing to trim or collapse */
    bool plain = v.len == 0 || (!s_ws(v.ptr[0]) && !s_ws(v.ptr[v.len - 1]));
    for (size_t i = 0; plain && i < v.len; i++)
        plain = v.ptr[i] > ' ' || (v.ptr[i] == ' ' && v.ptr[i + 1] != ' ');
    if (plain) {
        s_put_slice(w, v);
        return;
    }
    bool pending_space = false, started = false;
    for (size_t i = 0; i < v.len; i++) {
        uint8_t c = v.ptr[i];
        if (s_ws(c)) {
            pending_space = started;
            continue;
        }
        if (pending_space)
            s_put(w, ' ');
        pending_space = false;
        started = true;
        s_put(w, c);
    }
}

bool mg_sigv4_next_signed_header(struct mg_slice *rest, struct mg_slice *name)
{
    /* rest->ptr == NULL marks the end, so that "a;" yields "a" then an empty name. */
    if (!rest->ptr)
        return false;
    const uint8_t *p = rest->ptr;
    size_t n = rest->len;
    for (size_t i = 0; i < n; i++) {
        size_t sep = 0;
        if (p[i] == ';')
            sep = 1;
        else if (p[i] == '%' && i + 2 < n && p[i + 1] == '3' &&
                 (p[i + 2] == 'B' || p[i + 2] == 'b'))
            sep = 3;
        if (sep) {
            *name = mg_slice_make(p, i);
            *rest = mg_slice_make(p + i + sep, n - i - sep);
            return true;
        }
    }
    *name = *rest;
    *rest = mg_slice_make(NULL, 0);
    return true;
}

/* ASCII case-insensitive equality with a name known to be lower case (constants, or names that
 * passed s_name_char): the same answer as mg_sigv4_name_ieq(a, lower), without lower-casing
 * bytes that already match. */
static inline bool s_is_name(struct mg_slice a, struct mg_slice lower)
{
    if (a.len != lower.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.ptr[i];
        if (x != lower.ptr[i] && (x < 'A' || x > 'Z' || (uint8_t)(x + 32) != lower.ptr[i]))
            return false;
    }
    return true;
}

bool mg_sigv4_header(const struct mg_sigv4_request *req, const char *name, struct mg_slice *value)
{
    struct mg_slice n = mg_slice_cstr(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        if (mg_sigv4_name_ieq(req->headers[i].name, n)) {
            *value = req->headers[i].value;
            return true;
        }
    }
    return false;
}

bool mg_sigv4_name_ieq(struct mg_slice a, struct mg_slice b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.ptr[i], y = b.ptr[i];
        if (x == y)
            continue;
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

static enum mg_err s_put_headers(struct s_w *w, const struct mg_sigv4_request *req,
                                 struct mg_slice signed_headers)
{
    struct mg_slice rest = signed_headers, name;
    while (mg_sigv4_next_signed_header(&rest, &name)) {
        for (size_t k = 0; k < name.len; k++)
            s_put(w, (name.ptr[k] >= 'A' && name.ptr[k] <= 'Z') ? (uint8_t)(name.ptr[k] + 32)
                                                                : name.ptr[k]);
        s_put(w, ':');
        bool found = false;
        for (size_t i = 0; i < req->n_headers; i++) {
            if (!mg_sigv4_name_ieq(req->headers[i].name, name))
                continue;
            if (found)
                s_put(w, ',');
            found = true;
            s_put_header_value(w, req->headers[i].value);
        }
        if (!found)
            return MG_E_PARSE;
        s_put(w, '\n');
    }
    return MG_E_OK;
}

/* Reserves an upper bound of the canonical request in out (exact unless SignedHeaders repeats a
 * name: then the output may not fit, TOO_LARGE) and opens a writer on it. */
static enum mg_err s_open(const struct mg_sigv4_request *req, const struct mg_sigv4_auth *auth,
                          size_t payload_len, struct mg_buf *out, struct s_w *w)
{
    size_t bound = req->method.len + 3 * req->path.len + 3 * req->query.len +
                   2 * auth->signed_headers.len + payload_len + 16;
    for (size_t i = 0; i < req->n_headers; i++)
        bound += req->headers[i].name.len + req->headers[i].value.len + 2;
    if (out->len > out->max)
        return MG_E_TOO_LARGE;
    if (bound > out->max - out->len)
        bound = out->max - out->len;
    MG_TRY(mg_buf_reserve(out, bound));
    *w = (struct s_w){out->ptr + out->len, out->ptr + out->len + bound, false};
    return MG_E_OK;
}

/* Method, canonical URI and canonical query, each with its newline. */
static enum mg_err s_put_start(struct s_w *w, const struct mg_sigv4_request *req,
                               const struct mg_sigv4_auth *auth, unsigned flags)
{
    s_put_slice(w, req->method);
    s_put(w, '\n');
    s_put_uri(w, req->path);
    s_put(w, '\n');
    MG_TRY(s_put_query(w, req->query, auth->presigned,
                       (flags & MG_SIGV4_CANON_OMIT_QUERY_TOKEN) != 0));
    s_put(w, '\n');
    return MG_E_OK;
}

enum mg_err mg_sigv4_canonical_request_ex(const struct mg_sigv4_request *req,
                                          const struct mg_sigv4_auth *auth,
                                          struct mg_slice payload_hash, unsigned flags,
                                          struct mg_buf *out)
{
    char hex[65];
    if (!payload_hash.len) {
        struct mg_slice v;
        if (mg_sigv4_header(req, "x-amz-content-sha256", &v)) {
            payload_hash = mg_slice_trim(v);
        } else {
            uint8_t h[32];
            if (!mg_sigv4_sha256(req->body, h))
                return MG_E_NOMEM;
            mg_sigv4_hex32(h, hex);
            payload_hash = mg_slice_make(hex, 64);
        }
    }
    struct s_w w;
    MG_TRY(s_open(req, auth, payload_hash.len, out, &w));
    MG_TRY(s_put_start(&w, req, auth, flags));
    MG_TRY(s_put_headers(&w, req, auth->signed_headers));
    s_put(&w, '\n');
    struct mg_slice rest = auth->signed_headers, name;
    bool first = true;
    while (mg_sigv4_next_signed_header(&rest, &name)) {
        if (!first)
            s_put(&w, ';');
        first = false;
        s_put_slice(&w, name);
    }
    s_put(&w, '\n');
    s_put_slice(&w, payload_hash);
    if (w.overflow)
        return MG_E_TOO_LARGE;
    out->len = (size_t)(w.p - out->ptr);
    return MG_E_OK;
}

static enum mg_sigv4_status s_bad(struct mg_errinfo *ei, enum mg_err code, const char *fmt, ...)
    MG_PRINTF(3, 4);
static enum mg_sigv4_status s_bad(struct mg_errinfo *ei, enum mg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mg_errinfo_vset(ei, code, fmt, ap);
    va_end(ap);
    return MG_SIGV4_INCOMPLETE;
}

/* RFC 7230 tchar, lower case only, and no '%' (the presigned separator is "%3B") */
static const bool s_name_chars[256] = {
    ['a'] = true, ['b'] = true,  ['c'] = true, ['d'] = true, ['e'] = true, ['f'] = true,
    ['g'] = true, ['h'] = true,  ['i'] = true, ['j'] = true, ['k'] = true, ['l'] = true,
    ['m'] = true, ['n'] = true,  ['o'] = true, ['p'] = true, ['q'] = true, ['r'] = true,
    ['s'] = true, ['t'] = true,  ['u'] = true, ['v'] = true, ['w'] = true, ['x'] = true,
    ['y'] = true, ['z'] = true,  ['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true,
    ['4'] = true, ['5'] = true,  ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true,
    ['-'] = true, ['_'] = true,  ['.'] = true, ['!'] = true, ['#'] = true, ['$'] = true,
    ['&'] = true, ['\''] = true, ['*'] = true, ['+'] = true, ['^'] = true, ['`'] = true,
    ['|'] = true, ['~'] = true,
};

static inline bool s_name_char(uint8_t c)
{
    return s_name_chars[c];
}

/* The canonical headers and the signed-headers line, in one pass over SignedHeaders that also
 * checks it: non-empty lower-case names, sorted, no repeats, at most MG_LIMIT_SIGNED_HEADERS,
 * each present in the request, host signed, and the date header signed in the header form. The
 * first problem in list order wins, with its message in ei. */
static enum mg_sigv4_status s_put_checked_headers(struct s_w *w, const struct mg_sigv4_request *req,
                                                  const struct mg_sigv4_auth *auth,
                                                  struct mg_errinfo *ei)
{
    struct mg_slice sh = auth->signed_headers.ptr ? auth->signed_headers : MG_SLICE_LIT("");
    struct mg_slice rest = sh, name, prev = {0};
    bool have_host = false, have_date = false;
    size_t n = 0;
    struct mg_slice date_name = auth->date_from_date_header ? MG_SLICE_LIT("date")
                                                            : MG_SLICE_LIT("x-amz-date");
    while (mg_sigv4_next_signed_header(&rest, &name)) {
        bool ok = name.len > 0;
        for (size_t i = 0; ok && i < name.len; i++)
            ok = s_name_char(name.ptr[i]);
        if (!ok)
            return s_bad(ei, MG_E_PARSE,
                         "SignedHeaders must be a ';'-separated list of lower-case header "
                         "names, got '%.*s'",
                         MG_SLICE_ARG(mg_slice_sub(sh, 0, 200)));
        if (n && mg_slice_cmp(prev, name) >= 0)
            return s_bad(ei, MG_E_PARSE,
                         "SignedHeaders must be sorted and must not repeat a name: '%.*s' "
                         "comes after '%.*s'",
                         MG_SLICE_ARG(mg_slice_sub(name, 0, 100)),
                         MG_SLICE_ARG(mg_slice_sub(prev, 0, 100)));
        if (++n > MG_LIMIT_SIGNED_HEADERS)
            return s_bad(ei, MG_E_TOO_LARGE, "SignedHeaders names more than %d headers",
                         MG_LIMIT_SIGNED_HEADERS);
        /* "name:value[,value...]\n": every occurrence, in request order */
        bool present = false;
        for (size_t i = 0; i < req->n_headers; i++) {
            if (!s_is_name(req->headers[i].name, name))
                continue;
            if (present) {
                s_put(w, ',');
            } else {
                s_put_slice(w, name); /* lower case already */
                s_put(w, ':');
            }
            present = true;
            s_put_header_value(w, req->headers[i].value);
        }
        if (!present)
            return s_bad(ei, MG_E_PARSE,
                         "The header '%.*s' is named in SignedHeaders but is absent from the "
                         "request",
                         MG_SLICE_ARG(mg_slice_sub(name, 0, 100)));
        s_put(w, '\n');
        have_host = have_host || s_is_name(name, MG_SLICE_LIT("host"));
        have_date = have_date || s_is_name(name, date_name);
        prev = name;
    }
    if (!have_host)
        return s_bad(ei, MG_E_PARSE,
                     "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                     "Authorization.");
    if (!auth->presigned && !have_date)
        return s_bad(ei, MG_E_PARSE, "'%s' must be a 'SignedHeader' in the AWS Authorization.",
                     auth->date_from_date_header ? "Date" : "X-Amz-Date");
    s_put(w, '\n');
    /* The names passed s_name_char (no ';', no '%'): without a "%3B" separator the list is its
     * own canonical form. */
    if (mg_slice_find(sh, '%') < 0) {
        s_put_slice(w, sh);
    } else {
        rest = sh;
        bool first = true;
        while (mg_sigv4_next_signed_header(&rest, &name)) {
            if (!first)
                s_put(w, ';');
            first = false;
            s_put_slice(w, name);
        }
    }
    s_put(w, '\n');
    return MG_SIGV4_OK;
}

enum mg_sigv4_status mg_sigv4_check_signed_headers(const struct mg_sigv4_request *req,
                                                   const struct mg_sigv4_auth *auth,
                                                   struct mg_errinfo *ei)
{
    uint8_t sink;
    struct s_w w = {&sink, &sink, false}; /* checks only: nothing is written */
    return s_put_checked_headers(&w, req, auth, ei);
}

enum mg_sigv4_status mg_sigv4_canonical_verify(const struct mg_sigv4_request *req,
                                               const struct mg_sigv4_auth *auth,
                                               struct mg_slice payload_hash, struct mg_buf *out,
                                               enum mg_err *err, struct mg_errinfo *ei)
{
    uint8_t sink;
    struct s_w w;
    *err = s_open(req, auth, payload_hash.len, out, &w);
    if (*err == MG_E_OK)
        *err = s_put_start(&w, req, auth, 0);
    if (*err != MG_E_OK)
        w = (struct s_w){&sink, &sink, false}; /* keep checking; the error comes after */
    enum mg_sigv4_status st = s_put_checked_headers(&w, req, auth, ei);
    if (st != MG_SIGV4_OK || *err != MG_E_OK)
        return st;
    s_put_slice(&w, payload_hash);
    if (w.overflow) {
        *err = MG_E_TOO_LARGE;
        return MG_SIGV4_OK;
    }
    out->len = (size_t)(w.p - out->ptr);
    return MG_SIGV4_OK;
}

enum mg_err mg_sigv4_canonical_request(const struct mg_sigv4_request *req,
                                       const struct mg_sigv4_auth *auth, struct mg_buf *out)
{
    return mg_sigv4_canonical_request_ex(req, auth, mg_slice_make(NULL, 0), 0, out);
}

void mg_sigv4_amz_date(const struct mg_sigv4_auth *auth, char out[17])
{
    int64_t t;
    if (auth->amz_date.len == 16 &&
        (auth->amz_date_basic || mg_time_parse_amz(auth->amz_date, &t))) {
        mg_memcpy(out, auth->amz_date.ptr, 16);
        out[16] = 0;
        return;
    }
    mg_time_amz(auth->request_time, out);
}

enum mg_err mg_sigv4_sts_from_hash(const struct mg_sigv4_auth *auth, const char hex[64],
                                   struct mg_buf *out)
{
    char date[17];
    mg_sigv4_amz_date(auth, date);
    MG_TRY(mg_buf_reserve(out, sizeof(MG_SIGV4_ALGORITHM) + 16 + auth->scope_date.len +
                                   auth->region.len + auth->service.len + auth->terminator.len +
                                   64 + 8));
    MG_TRY(mg_buf_append(out, MG_SIGV4_ALGORITHM "\n", sizeof(MG_SIGV4_ALGORITHM)));
    MG_TRY(mg_buf_append(out, date, 16));
    MG_TRY(mg_buf_append_byte(out, '\n'));
    MG_TRY(mg_buf_append_slice(out, auth->scope_date));
    MG_TRY(mg_buf_append_byte(out, '/'));
    MG_TRY(mg_buf_append_slice(out, auth->region));
    MG_TRY(mg_buf_append_byte(out, '/'));
    MG_TRY(mg_buf_append_slice(out, auth->service));
    MG_TRY(mg_buf_append_byte(out, '/'));
    MG_TRY(mg_buf_append_slice(out, auth->terminator));
    MG_TRY(mg_buf_append_byte(out, '\n'));
    return mg_buf_append(out, hex, 64);
}

enum mg_err mg_sigv4_string_to_sign(const struct mg_sigv4_auth *auth,
                                    struct mg_slice canonical_request, struct mg_buf *out)
{
    char hex[64];
    uint8_t h[32];
    if (!mg_sigv4_sha256(canonical_request, h))
        return MG_E_NOMEM;
    mg_sigv4_hex32(h, hex);
    return mg_sigv4_sts_from_hash(auth, hex, out);
}
