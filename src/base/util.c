#include "base/util.h"

#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/alloc.h"

static atomic_llong s_pinned;

int64_t mg_now(void)
{
    long long p = atomic_load_explicit(&s_pinned, memory_order_relaxed);
    if (p)
        return p;
    return (int64_t)time(NULL);
}

int64_t mg_now_ms(void)
{
    long long p = atomic_load_explicit(&s_pinned, memory_order_relaxed);
    if (p)
        return p * 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mg_time_pin(int64_t t)
{
    atomic_store(&s_pinned, (long long)t);
}

uint64_t mg_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil. */
static int64_t s_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t mg_time_from_civil(int y, int mon, int d, int h, int mi, int s)
{
    return s_days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + (int64_t)h * 3600 +
           (int64_t)mi * 60 + s;
}

static void s_civil(int64_t t, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    *h = (int)(rem / 3600);
    *mi = (int)(rem % 3600 / 60);
    *s = (int)(rem % 60);
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const unsigned doe = (unsigned)(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *mo = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*mo <= 2));
}

static char *s_put(char *p, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

void mg_time_iso8601(int64_t t, char out[21])
{
    int y, mo, d, h, mi, s;
    s_civil(t, &y, &mo, &d, &h, &mi, &s);
    char *p = out;
    p = s_put(p, y % 10000, 4);
    *p++ = '-';
    p = s_put(p, mo, 2);
    *p++ = '-';
    p = s_put(p, d, 2);
    *p++ = 'T';
    p = s_put(p, h, 2);
    *p++ = ':';
    p = s_put(p, mi, 2);
    *p++ = ':';
    p = s_put(p, s, 2);
    *p++ = 'Z';
    *p = 0;
}

void mg_time_iso8601_ms(int64_t t_ms, char out[25])
{
    int64_t t = t_ms / 1000, ms = t_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        t--;
    }
    mg_time_iso8601(t, out);
    char *p = out + 19;
    *p++ = '.';
    p = s_put(p, (int)ms, 3);
    *p++ = 'Z';
    *p = 0;
}

void mg_time_amz(int64_t t, char out[17])
{
    int y, mo, d, h, mi, s;
    s_civil(t, &y, &mo, &d, &h, &mi, &s);
    char *p = out;
    p = s_put(p, y % 10000, 4);
    p = s_put(p, mo, 2);
    p = s_put(p, d, 2);
    *p++ = 'T';
    p = s_put(p, h, 2);
    p = s_put(p, mi, 2);
    p = s_put(p, s, 2);
    *p++ = 'Z';
    *p = 0;
}

static bool s_digits(const uint8_t *p, size_t n, int *out)
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

static bool s_valid_civil(int y, int mo, int d, int h, int mi, int s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || s > 60)
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return true;
}

bool mg_time_parse_amz(struct mg_slice s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (s.len != 16 || s.ptr[8] != 'T' || s.ptr[15] != 'Z')
        return false;
    if (!s_digits(s.ptr, 4, &y) || !s_digits(s.ptr + 4, 2, &mo) || !s_digits(s.ptr + 6, 2, &d) ||
        !s_digits(s.ptr + 9, 2, &h) || !s_digits(s.ptr + 11, 2, &mi) ||
        !s_digits(s.ptr + 13, 2, &se))
        return false;
    if (!s_valid_civil(y, mo, d, h, mi, se))
        return false;
    *out = mg_time_from_civil(y, mo, d, h, mi, se);
    return true;
}

bool mg_time_parse_iso8601(struct mg_slice s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, se = 0;
    const uint8_t *p = s.ptr;
    if (s.len < 10 || p[4] != '-' || p[7] != '-' || !s_digits(p, 4, &y) ||
        !s_digits(p + 5, 2, &mo) || !s_digits(p + 8, 2, &d))
        return false;
    size_t i = 10;
    int64_t offset = 0;
    if (i < s.len) {
        if ((p[i] != 'T' && p[i] != 't' && p[i] != ' ') || s.len < i + 9)
            return false;
        if (!s_digits(p + i + 1, 2, &h) || p[i + 3] != ':' || !s_digits(p + i + 4, 2, &mi) ||
            p[i + 6] != ':' || !s_digits(p + i + 7, 2, &se))
            return false;
        i += 9;
        if (i < s.len && p[i] == '.') {
            i++;
            size_t st = i;
            while (i < s.len && p[i] >= '0' && p[i] <= '9')
                i++;
            if (i == st)
                return false;
        }
        if (i < s.len && (p[i] == 'Z' || p[i] == 'z')) {
            i++;
        } else if (i < s.len && (p[i] == '+' || p[i] == '-')) {
            int oh, om;
            if (s.len < i + 6 || !s_digits(p + i + 1, 2, &oh) || p[i + 3] != ':' ||
                !s_digits(p + i + 4, 2, &om))
                return false;
            offset = (int64_t)(oh * 3600 + om * 60) * (p[i] == '+' ? 1 : -1);
            i += 6;
        }
        if (i != s.len)
            return false;
    }
    if (!s_valid_civil(y, mo, d, h, mi, se))
        return false;
    *out = mg_time_from_civil(y, mo, d, h, mi, se) - offset;
    return true;
}

void mg_random_bytes(void *out, size_t n)
{
    uint8_t *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            mg_log_stop(); /* what is buffered goes out first */
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

void mg_random_chars(char *out, size_t n, const char *alphabet)
{
    size_t alen = 0;
    while (alphabet[alen])
        alen++;
    if (alen == 0 || alen > 256) { /* nothing to draw from: an empty string, not a division by 0 */
        if (n)
            out[0] = 0;
        return;
    }
    size_t limit = 256 - (256 % alen);
    uint8_t pool[64];
    size_t used = sizeof(pool);
    for (size_t i = 0; i < n;) {
        if (used == sizeof(pool)) {
            mg_random_bytes(pool, sizeof(pool));
            used = 0;
        }
        uint8_t r = pool[used++];
        if (r >= limit)
            continue; /* no modulo bias */
        out[i++] = alphabet[r % alen];
    }
    out[n] = 0;
}

/* Request ids need to be unique, not secret: a per-thread xorshift128+ seeded once from the
 * kernel keeps a getrandom() call and a printf out of every request. */
static _Thread_local uint64_t t_rid[2];

static uint64_t s_rid_next(void)
{
    if ((t_rid[0] | t_rid[1]) == 0) {
        do
            mg_random_bytes(t_rid, sizeof(t_rid));
        while ((t_rid[0] | t_rid[1]) == 0);
    }
    uint64_t a = t_rid[0];
    const uint64_t b = t_rid[1];
    t_rid[0] = b;
    a ^= a << 23;
    t_rid[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
    return t_rid[1] + b;
}

void mg_request_id(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t r[2] = {s_rid_next(), s_rid_next()};
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        uint8_t byte = (uint8_t)(r[i / 8] >> (8 * (i % 8)));
        out[o++] = hex[byte >> 4];
        out[o++] = hex[byte & 15];
    }
    out[o] = 0;
}

static const char s_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char s_b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static enum mg_err s_b64_enc(struct mg_buf *out, struct mg_slice in, const char *abc, bool pad)
{
    MG_TRY(mg_buf_reserve(out, (in.len + 2) / 3 * 4));
    size_t i = 0;
    for (; i + 2 < in.len; i += 3) {
        uint32_t v = (uint32_t)in.ptr[i] << 16 | (uint32_t)in.ptr[i + 1] << 8 | in.ptr[i + 2];
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], abc[(v >> 6) & 63], abc[v & 63]};
        MG_TRY(mg_buf_append(out, q, 4));
    }
    if (i < in.len) {
        uint32_t v = (uint32_t)in.ptr[i] << 16;
        if (i + 1 < in.len)
            v |= (uint32_t)in.ptr[i + 1] << 8;
        char q[4] = {abc[v >> 18], abc[(v >> 12) & 63], i + 1 < in.len ? abc[(v >> 6) & 63] : '=',
                     '='};
        size_t n = i + 1 < in.len ? 3 : 2;
        MG_TRY(mg_buf_append(out, q, pad ? 4 : n));
    }
    return MG_E_OK;
}

static int s_b64_val(uint8_t c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static enum mg_err s_b64_dec(struct mg_buf *out, struct mg_slice in, bool url)
{
    size_t n = in.len;
    if (!url) {
        if (n % 4)
            return MG_E_PARSE;
        if (n && in.ptr[n - 1] == '=')
            n--;
        if (n && in.ptr[n - 1] == '=')
            n--;
    }
    if (n % 4 == 1)
        return MG_E_PARSE;
    MG_TRY(mg_buf_reserve(out, n / 4 * 3 + 3));
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64_val(in.ptr[i], url);
        if (v < 0)
            return MG_E_PARSE;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            MG_TRY(mg_buf_append_byte(out, (uint8_t)(acc >> bits)));
        }
    }
    return MG_E_OK;
}

enum mg_err mg_base64_encode(struct mg_buf *out, struct mg_slice in)
{
    return s_b64_enc(out, in, s_b64, true);
}
enum mg_err mg_base64_decode(struct mg_buf *out, struct mg_slice in)
{
    return s_b64_dec(out, in, false);
}
enum mg_err mg_base64url_encode(struct mg_buf *out, struct mg_slice in)
{
    return s_b64_enc(out, in, s_b64url, false);
}
enum mg_err mg_base64url_decode(struct mg_buf *out, struct mg_slice in)
{
    return s_b64_dec(out, in, true);
}

enum mg_err mg_url_decode(struct mg_buf *out, struct mg_slice in, bool plus_is_space)
{
    MG_TRY(mg_buf_reserve(out, in.len));
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '%' && i + 2 < in.len) {
            int h = mg_hex_value(in.ptr[i + 1]), l = mg_hex_value(in.ptr[i + 2]);
            if (h >= 0 && l >= 0) {
                MG_TRY(mg_buf_append_byte(out, (uint8_t)(h << 4 | l)));
                i += 2;
                continue;
            }
        }
        if (c == '+' && plus_is_space)
            c = ' ';
        MG_TRY(mg_buf_append_byte(out, c));
    }
    return MG_E_OK;
}

enum mg_err mg_url_encode(struct mg_buf *out, struct mg_slice in, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    MG_TRY(mg_buf_reserve(out, in.len));
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
            MG_TRY(mg_buf_append_byte(out, c));
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            MG_TRY(mg_buf_append(out, e, 3));
        }
    }
    return MG_E_OK;
}

bool mg_host_is_loopback(const char *host)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(h))
        return false;
    memcpy(h, host, n);
    h[n] = 0;
    if (strcmp(h, "localhost") == 0)
        return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, h, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, h, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

bool mg_read_long(FILE *f, long *out)
{
    int ch;
    do
        ch = getc(f);
    while (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r');
    if (ch == EOF)
        return false;
    char word[24];
    size_t n = 0;
    bool fits = true;
    while (ch != EOF && ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
        if (n + 1 < sizeof(word))
            word[n++] = (char)ch;
        else
            fits = false;
        ch = getc(f);
    }
    word[n] = 0;
    if (!fits)
        return false;
    size_t i = word[0] == '-' ? 1 : 0;
    if (word[i] == 0)
        return false;
    for (size_t j = i; word[j]; j++)
        if (word[j] < '0' || word[j] > '9')
            return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(word, &end, 10);
    if (errno != 0 || end == NULL || *end != 0)
        return false;
    *out = v;
    return true;
}
