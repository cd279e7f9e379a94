#include "base/slice.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

bool mg_fmt(char *out, size_t cap, const char *fmt, ...)
{
    if (cap == 0)
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = 0;
        return false;
    }
    return true;
}

void mg_memmove(void *dst, const void *src, size_t n)
{
    if (n)
        memmove(dst, src, n);
}

void mg_memzero(void *p, size_t n)
{
    explicit_bzero(p, n); /* never optimised away */
}

bool mg_slice_eq(struct mg_slice a, struct mg_slice b)
{
    return a.len == b.len && mg_memcmp(a.ptr, b.ptr, a.len) == 0;
}

bool mg_slice_eq_cstr(struct mg_slice a, const char *s)
{
    /* No strlen: header lookups compare many names against one literal. */
    size_t i = 0;
    for (; i < a.len; i++)
        if (s[i] == 0 || (uint8_t)s[i] != a.ptr[i])
            return false;
    return s[i] == 0;
}

static uint8_t s_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool mg_slice_ieq_cstr(struct mg_slice a, const char *s)
{
    size_t n = strlen(s);
    if (n != a.len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s_lower(a.ptr[i]) != s_lower((uint8_t)s[i]))
            return false;
    return true;
}

int mg_slice_cmp(struct mg_slice a, struct mg_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = mg_memcmp(a.ptr, b.ptr, n);
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

bool mg_slice_take(struct mg_slice *in, size_t n, struct mg_slice *out)
{
    if (n > in->len)
        return false;
    out->ptr = in->ptr;
    out->len = n;
    in->ptr += n;
    in->len -= n;
    return true;
}

bool mg_slice_split(struct mg_slice *rest, uint8_t sep, struct mg_slice *out)
{
    if (rest->ptr == NULL)
        return false;
    long i = mg_slice_find(*rest, sep);
    if (i < 0) {
        *out = *rest;
        rest->ptr = NULL;
        rest->len = 0;
        return true;
    }
    out->ptr = rest->ptr;
    out->len = (size_t)i;
    rest->ptr += (size_t)i + 1;
    rest->len -= (size_t)i + 1;
    return true;
}

struct mg_slice mg_slice_trim(struct mg_slice s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

long mg_slice_find(struct mg_slice s, uint8_t c)
{
    if (s.len == 0)
        return -1;
    const uint8_t *p = memchr(s.ptr, c, s.len);
    return p ? (long)(p - s.ptr) : -1;
}

struct mg_slice mg_slice_sub(struct mg_slice s, size_t off, size_t len)
{
    if (s.ptr == NULL)
        return s;
    if (off > s.len)
        off = s.len;
    if (len > s.len - off)
        len = s.len - off;
    return (struct mg_slice){s.ptr + off, len};
}

bool mg_slice_to_u64(struct mg_slice s, uint64_t *out)
{
    if (s.len == 0 || s.len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool mg_ct_equal(struct mg_slice a, struct mg_slice b)
{
    if (a.len != b.len)
        return false;
    /* Every byte is looked at whatever differs: word by word, then the tail. */
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= a.len; i += 8) {
        uint64_t x, y;
        memcpy(&x, a.ptr + i, 8);
        memcpy(&y, b.ptr + i, 8);
        acc |= x ^ y;
    }
    for (; i < a.len; i++)
        acc |= (uint64_t)(a.ptr[i] ^ b.ptr[i]);
    /* launder through a volatile so the compiler cannot turn this into an early exit */
    volatile uint64_t r = acc;
    return r == 0;
}

void mg_buf_init(struct mg_buf *b, size_t max)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void mg_buf_cleanup(struct mg_buf *b)
{
    mg_free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void mg_buf_reset(struct mg_buf *b)
{
    b->len = 0;
}

enum mg_err mg_buf_reserve(struct mg_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return MG_E_TOO_LARGE;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return MG_E_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1)
        cap = b->max + 1; /* room for a terminating NUL */
    uint8_t *p = mg_realloc(b->ptr, cap);
    if (p == NULL)
        return MG_E_NOMEM;
    b->ptr = p;
    b->cap = cap;
    return MG_E_OK;
}

enum mg_err mg_buf_append(struct mg_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return MG_E_OK;
    MG_TRY(mg_buf_reserve(b, n));
    mg_memcpy(b->ptr + b->len, p, n);
    b->len += n;
    return MG_E_OK;
}

enum mg_err mg_buf_append_slice(struct mg_buf *b, struct mg_slice s)
{
    return mg_buf_append(b, s.ptr, s.len);
}

enum mg_err mg_buf_append_byte(struct mg_buf *b, uint8_t c)
{
    return mg_buf_append(b, &c, 1);
}

enum mg_err mg_buf_printf(struct mg_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return MG_E_INTERNAL;
    if ((size_t)n < sizeof(small))
        return mg_buf_append(b, small, (size_t)n);
    MG_TRY(mg_buf_reserve(b, (size_t)n + 1));
    va_start(ap, fmt);
    vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return MG_E_OK;
}

enum mg_err mg_buf_append_i64(struct mg_buf *b, int64_t v)
{
    char d[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[sizeof(d) - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[sizeof(d) - 1 - n++] = '-';
    return mg_buf_append(b, d + sizeof(d) - n, n);
}

enum mg_err mg_buf_append_xml(struct mg_buf *b, struct mg_slice s)
{
    size_t start = 0;
    for (size_t i = 0; i < s.len; i++) {
        const char *rep = NULL;
        switch (s.ptr[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default: break;
        }
        if (rep) {
            MG_TRY(mg_buf_append(b, s.ptr + start, i - start));
            MG_TRY(mg_buf_append_cstr(b, rep));
            start = i + 1;
        }
    }
    return mg_buf_append(b, s.ptr + start, s.len - start);
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t s_utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

bool mg_utf8_valid(struct mg_slice s)
{
    size_t i = 0;
    while (i < s.len) {
        size_t n = s_utf8_seq(s.ptr + i, s.len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

/* Printable ASCII that a JSON string holds as it is: everything from ' ' to '~' but '"' and
 * '\\'. */
static bool s_json_plain(uint8_t c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

enum mg_err mg_buf_append_json_str(struct mg_buf *b, struct mg_slice s)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, start = 0;
    while (i < s.len) {
        while (i < s.len && s_json_plain(s.ptr[i]))
            i++; /* the run is copied with the next escape, or at the end */
        if (i == s.len)
            break;
        uint8_t c = s.ptr[i];
        const char *rep = NULL;
        char u[7];
        size_t adv = 1;
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = 0;
            rep = u;
        } else if (c >= 0x80) {
            adv = s_utf8_seq(s.ptr + i, s.len - i);
            if (adv == 0) {
                rep = "\xEF\xBF\xBD";
                adv = 1;
            }
        }
        if (rep) {
            MG_TRY(mg_buf_append(b, s.ptr + start, i - start));
            MG_TRY(mg_buf_append_cstr(b, rep));
            start = i + adv;
        }
        i += adv;
    }
    return mg_buf_append(b, s.ptr + start, s.len - start);
}

const char *mg_buf_cstr(struct mg_buf *b)
{
    if (b->len >= b->cap) {
        size_t max = b->max;
        b->max = b->len + 1 > max ? b->len + 1 : max;
        enum mg_err e = mg_buf_reserve(b, 1);
        b->max = max;
        if (e)
            return NULL;
    }
    b->ptr[b->len] = 0;
    return (const char *)b->ptr;
}

uint8_t *mg_buf_take(struct mg_buf *b, size_t *len)
{
    uint8_t *p = b->ptr;
    if (len)
        *len = b->len;
    b->ptr = NULL;
    b->len = b->cap = 0;
    return p;
}

char *mg_slice_dup(struct mg_slice s)
{
    char *p = mg_malloc(s.len + 1);
    if (p == NULL)
        return NULL;
    mg_memcpy(p, s.ptr, s.len);
    p[s.len] = 0;
    return p;
}

char *mg_strdup(const char *s)
{
    return s ? mg_slice_dup(mg_slice_cstr(s)) : NULL;
}

void mg_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
}
