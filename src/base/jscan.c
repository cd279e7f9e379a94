/* A strict JSON reader without a tree (see jscan.h). It follows jansson 2.14's load.c wherever
 * jansson departs from a plain reading of RFC 8259:
 *   - a NUL byte right after a number or a literal is skipped (jansson's lexer pushes that byte
 *     back into an empty look-ahead buffer, where it is lost): "[1\0]" is accepted, "[1\0\0]" not;
 *   - integers (no fraction, no exponent) must fit int64_t (strtoll), reals must not round to
 *     infinity (strtod's ERANGE with HUGE_VAL), and underflow is fine;
 *   - UTF-8 is checked as utf8_check_full does: no overlong forms, no surrogates, at most
 *     U+10FFFF; bytes 0x00-0x1F are refused inside strings, 0x7F is not;
 *   - keys are compared for duplicates after decoding, and a key holding \u0000 is refused. */
#include <string.h>

#include "base/jscan.h"

struct s_key {
    size_t off, rawlen, len; /* the key's text in the document (without quotes), decoded length */
    bool esc;
};

struct s_scan {
    const uint8_t *p;
    size_t n, i;
    int depth, max_depth;
    bool unsure;
    size_t nkeys;
    struct s_key keys[MG_JSCAN_KEYS];
};

/* 2^1024 - 2^970, the smallest value strtod rounds to infinity (a tie, rounded to even). */
static const char s_dbl_limit[] =
    "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179"
    "7758720709633028641669288791094655554785194040263065748867150582068190890200070838367627385"
    "4845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342"
    "711559699508093042880177904174497792";

static bool s_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void s_skip_ws(struct s_scan *s)
{
    while (s->i < s->n && s_ws(s->p[s->i]))
        s->i++;
}

static bool s_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Four hex digits at p (n bytes available), or -1. */
static int32_t s_hex4(const uint8_t *p, size_t n)
{
    if (n < 4)
        return -1;
    int32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = mg_hex_value(p[k]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* Length of the strict UTF-8 sequence at p, or 0. */
static size_t s_utf8(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t k;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (p[j] & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (k == 3 && v < 0x800) ||
        (k == 4 && v < 0x10000))
        return 0;
    return k;
}

static size_t s_utf8_len(int32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* A string at s->i (its opening quote). has_nul: it holds \u0000. */
static bool s_string(struct s_scan *s, struct mg_jscan_value *v, bool *has_nul)
{
    const uint8_t *p = s->p;
    size_t n = s->n, i = s->i + 1, len = 0;
    bool esc = false, nul = false;
    for (;;) {
        if (i >= n)
            return false;
        uint8_t c = p[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            esc = true;
            if (++i >= n)
                return false;
            c = p[i];
            if (c == 'u') {
                int32_t cp = s_hex4(p + i + 1, n - i - 1);
                if (cp < 0)
                    return false;
                i += 5;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (i + 1 >= n || p[i] != '\\' || p[i + 1] != 'u')
                        return false;
                    int32_t lo = s_hex4(p + i + 2, n - i - 2);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return false;
                    i += 6;
                    cp = 0x10000;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                if (cp == 0)
                    nul = true;
                len += s_utf8_len(cp);
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' ||
                       c == 'r' || c == 't') {
                i++;
                len++;
            } else {
                return false;
            }
        } else if (c < 0x80) {
            i++;
            len++;
        } else {
            size_t k = s_utf8(p + i, n - i);
            if (k == 0)
                return false;
            i += k;
            len += k;
        }
    }
    v->type = MG_JSCAN_STRING;
    v->raw = mg_slice_make(p + s->i + 1, i - s->i - 1);
    v->escaped = esc;
    v->len = len;
    if (has_nul)
        *has_nul = nul;
    s->i = i + 1;
    return true;
}

/* jansson loses a NUL byte that ends a number or a literal (see the top of this file). */
static void s_lost_nul(struct s_scan *s)
{
    if (s->i < s->n && s->p[s->i] == 0)
        s->i++;
}

/* Whether a real whose digits are int_digits then frac_digits (the '.' between them skipped)
 * with exponent exp rounds to infinity. */
static bool s_real_overflows(struct mg_slice int_digits, struct mg_slice frac_digits, int64_t exp)
{
    size_t ni = int_digits.len, nf = frac_digits.len, lead = 0;
    while (lead < ni + nf && (lead < ni ? int_digits.ptr[lead] : frac_digits.ptr[lead - ni]) == '0')
        lead++;
    if (lead == ni + nf)
        return false; /* zero */
    /* the value is 0.DIGITS x 10^mag with DIGITS the digits from `lead` on */
    int64_t mag = (int64_t)ni - (int64_t)lead + exp;
    int64_t limit_mag = (int64_t)sizeof(s_dbl_limit) - 1;
    if (mag != limit_mag)
        return mag > limit_mag;
    for (size_t k = 0; k < sizeof(s_dbl_limit) - 1; k++) {
        size_t j = lead + k;
        if (j >= ni + nf)
            return false; /* a prefix of the limit: smaller */
        uint8_t d = j < ni ? int_digits.ptr[j] : frac_digits.ptr[j - ni];
        if (d != (uint8_t)s_dbl_limit[k])
            return d > (uint8_t)s_dbl_limit[k];
    }
    return true; /* the limit itself, or more */
}

static bool s_number(struct s_scan *s, struct mg_jscan_value *v)
{
    const uint8_t *p = s->p;
    size_t n = s->n, start = s->i, i = s->i;
    bool neg = false;
    if (p[i] == '-') {
        neg = true;
        i++;
    }
    size_t int_start = i;
    if (i < n && p[i] == '0') {
        i++;
        if (i < n && s_digit(p[i]))
            return false;
    } else if (i < n && s_digit(p[i])) {
        while (i < n && s_digit(p[i]))
            i++;
    } else {
        return false;
    }
    struct mg_slice id = mg_slice_make(p + int_start, i - int_start);
    if (i >= n || (p[i] != '.' && p[i] != 'e' && p[i] != 'E')) {
        /* an integer: strtoll's range */
        if (id.len > 19)
            return false;
        uint64_t u = 0;
        for (size_t k = 0; k < id.len; k++)
            u = u * 10 + (uint64_t)(id.ptr[k] - '0');
        uint64_t max = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (u > max)
            return false;
        v->type = MG_JSCAN_INTEGER;
        v->integer = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
        v->raw = mg_slice_make(p + start, i - start);
        s->i = i;
        s_lost_nul(s);
        return true;
    }
    struct mg_slice fd = {p + i, 0};
    if (p[i] == '.') {
        i++;
        size_t f = i;
        if (i >= n || !s_digit(p[i]))
            return false;
        while (i < n && s_digit(p[i]))
            i++;
        fd = mg_slice_make(p + f, i - f);
    }
    int64_t exp = 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            eneg = p[i++] == '-';
        if (i >= n || !s_digit(p[i]))
            return false;
        while (i < n && s_digit(p[i])) {
            if (exp < 1000000000)
                exp = exp * 10 + (p[i] - '0');
            i++;
        }
        if (eneg)
            exp = -exp;
    }
    if (s_real_overflows(id, fd, exp))
        return false;
    v->type = MG_JSCAN_REAL;
    v->raw = mg_slice_make(p + start, i - start);
    s->i = i;
    s_lost_nul(s);
    return true;
}

static bool s_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_literal(struct s_scan *s, struct mg_jscan_value *v)
{
    size_t start = s->i, i = s->i;
    while (i < s->n && s_alpha(s->p[i]))
        i++;
    struct mg_slice w = mg_slice_make(s->p + start, i - start);
    if (mg_slice_eq_cstr(w, "true"))
        v->type = MG_JSCAN_TRUE;
    else if (mg_slice_eq_cstr(w, "false"))
        v->type = MG_JSCAN_FALSE;
    else if (mg_slice_eq_cstr(w, "null"))
        v->type = MG_JSCAN_NULL;
    else
        return false;
    v->raw = w;
    s->i = i;
    s_lost_nul(s);
    return true;
}

/* Decoded bytes of a string known to be valid, one at a time. */
struct s_dec {
    const uint8_t *p, *end;
    bool esc; /* false: the bytes are the value */
    uint8_t buf[4];
    int nb, ib;
};

static void s_dec_init(struct s_dec *d, struct mg_slice raw, bool esc)
{
    d->p = raw.ptr;
    d->end = raw.ptr + raw.len;
    d->esc = esc;
    d->nb = d->ib = 0;
}

/* The next byte, or -1 at the end. */
static int s_dec_next(struct s_dec *d)
{
    if (d->ib < d->nb)
        return d->buf[d->ib++];
    if (d->p >= d->end)
        return -1;
    uint8_t c = *d->p++;
    if (c != '\\' || !d->esc)
        return c;
    c = *d->p++;
    switch (c) {
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'u': break;
    default: return c; /* " \ / */
    }
    int32_t cp = s_hex4(d->p, 4);
    d->p += 4;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int32_t lo = s_hex4(d->p + 2, 4);
        d->p += 6;
        cp = ((cp - 0xD800) << 10) + (lo - 0xDC00) + 0x10000;
    }
    if (cp < 0x80) {
        d->buf[0] = (uint8_t)cp;
        d->nb = 1;
    } else if (cp < 0x800) {
        d->buf[0] = (uint8_t)(0xC0 | cp >> 6);
        d->buf[1] = (uint8_t)(0x80 | (cp & 0x3F));
        d->nb = 2;
    } else if (cp < 0x10000) {
        d->buf[0] = (uint8_t)(0xE0 | cp >> 12);
        d->buf[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d->buf[2] = (uint8_t)(0x80 | (cp & 0x3F));
        d->nb = 3;
    } else {
        d->buf[0] = (uint8_t)(0xF0 | cp >> 18);
        d->buf[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        d->buf[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d->buf[3] = (uint8_t)(0x80 | (cp & 0x3F));
        d->nb = 4;
    }
    d->ib = 1;
    return d->buf[0];
}

/* Two strings of equal decoded length, compared decoded. */
static bool s_dec_eq(struct mg_slice a, bool a_esc, struct mg_slice b, bool b_esc)
{
    if (!a_esc && !b_esc)
        return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
    struct s_dec da, db;
    s_dec_init(&da, a, a_esc);
    s_dec_init(&db, b, b_esc);
    for (;;) {
        int ca = s_dec_next(&da), cb = s_dec_next(&db);
        if (ca != cb)
            return false;
        if (ca < 0)
            return true;
    }
}

static bool s_value(struct s_scan *s, struct mg_jscan_value *v, const char *const *names,
                    size_t n_names, struct mg_jscan_value *out);

static bool s_object(struct s_scan *s, const char *const *names, size_t n_names,
                     struct mg_jscan_value *out)
{
    size_t base = s->nkeys;
    s->i++; /* { */
    s_skip_ws(s);
    if (s->i < s->n && s->p[s->i] == '}') {
        s->i++;
        return true;
    }
    for (;;) {
        if (s->i >= s->n || s->p[s->i] != '"')
            return false;
        struct mg_jscan_value k;
        bool nul = false;
        if (!s_string(s, &k, &nul) || nul)
            return false;
        for (size_t j = base; j < s->nkeys; j++) {
            const struct s_key *o = &s->keys[j];
            if (o->len == k.len &&
                s_dec_eq(mg_slice_make(s->p + o->off, o->rawlen), o->esc, k.raw, k.escaped))
                return false; /* duplicate */
        }
        if (s->nkeys < MG_JSCAN_KEYS)
            s->keys[s->nkeys++] = (struct s_key){(size_t)(k.raw.ptr - s->p), k.raw.len, k.len,
                                                 k.escaped};
        else
            s->unsure = true;
        struct mg_jscan_value *slot = NULL;
        for (size_t j = 0; j < n_names && slot == NULL; j++)
            if (mg_jscan_string_eq(&k, names[j]))
                slot = &out[j];
        s_skip_ws(s);
        if (s->i >= s->n || s->p[s->i] != ':')
            return false;
        s->i++;
        s_skip_ws(s);
        struct mg_jscan_value val;
        if (!s_value(s, slot ? slot : &val, NULL, 0, NULL))
            return false;
        s_skip_ws(s);
        if (s->i < s->n && s->p[s->i] == ',') {
            s->i++;
            s_skip_ws(s);
            continue;
        }
        if (s->i < s->n && s->p[s->i] == '}') {
            s->i++;
            s->nkeys = base;
            return true;
        }
        return false;
    }
}

static bool s_array(struct s_scan *s)
{
    s->i++; /* [ */
    s_skip_ws(s);
    if (s->i < s->n && s->p[s->i] == ']') {
        s->i++;
        return true;
    }
    for (;;) {
        struct mg_jscan_value val;
        if (!s_value(s, &val, NULL, 0, NULL))
            return false;
        s_skip_ws(s);
        if (s->i < s->n && s->p[s->i] == ',') {
            s->i++;
            s_skip_ws(s);
            continue;
        }
        if (s->i < s->n && s->p[s->i] == ']') {
            s->i++;
            return true;
        }
        return false;
    }
}

/* A value at s->i (whitespace skipped). names/out: members to report, for an object. */
static bool s_value(struct s_scan *s, struct mg_jscan_value *v, const char *const *names,
                    size_t n_names, struct mg_jscan_value *out)
{
    memset(v, 0, sizeof(*v));
    if (s->i >= s->n)
        return false;
    size_t start = s->i;
    uint8_t c = s->p[s->i];
    if (c == '{' || c == '[') {
        if (++s->depth > s->max_depth)
            return false;
        bool ok = c == '{' ? s_object(s, names, n_names, out) : s_array(s);
        s->depth--;
        if (!ok)
            return false;
        v->type = c == '{' ? MG_JSCAN_OBJECT : MG_JSCAN_ARRAY;
        v->raw = mg_slice_make(s->p + start, s->i - start);
        return true;
    }
    if (c == '"')
        return s_string(s, v, NULL);
    if (c == '-' || s_digit(c))
        return s_number(s, v);
    if (s_alpha(c))
        return s_literal(s, v);
    return false;
}

enum mg_jscan_result mg_jscan(struct mg_slice doc, int max_depth, const char *const *names,
                              size_t n, struct mg_jscan_value *top, struct mg_jscan_value *out)
{
    struct s_scan s;
    s.p = doc.ptr;
    s.n = doc.len;
    s.i = 0;
    s.depth = 0;
    s.max_depth = max_depth < MG_JSCAN_MAX_DEPTH ? max_depth : MG_JSCAN_MAX_DEPTH;
    s.unsure = false;
    s.nkeys = 0;
    for (size_t j = 0; j < n; j++)
        memset(&out[j], 0, sizeof(out[j]));
    s_skip_ws(&s);
    if (!s_value(&s, top, names, n, out))
        return MG_JSCAN_INVALID;
    s_skip_ws(&s);
    if (s.i != s.n)
        return MG_JSCAN_INVALID;
    return s.unsure ? MG_JSCAN_UNSURE : MG_JSCAN_OK;
}

bool mg_jscan_string(const struct mg_jscan_value *v, char *out, size_t cap)
{
    if (v->type != MG_JSCAN_STRING || v->len > cap)
        return false;
    if (!v->escaped) {
        if (v->len)
            memcpy(out, v->raw.ptr, v->len);
        return true;
    }
    struct s_dec d;
    s_dec_init(&d, v->raw, true);
    size_t k = 0;
    for (int c; (c = s_dec_next(&d)) >= 0 && k < cap;)
        out[k++] = (char)c;
    return true;
}

bool mg_jscan_string_eq(const struct mg_jscan_value *v, const char *s)
{
    size_t sl = strlen(s);
    if (v->type != MG_JSCAN_STRING || v->len != sl)
        return false;
    return s_dec_eq(v->raw, v->escaped, mg_slice_make(s, sl), false);
}
