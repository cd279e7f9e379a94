/* src/lambda/rtapi_parse.c: the Lambda Runtime API's HTTP/1.1 request parser.
 *
 * Pure: bytes in, a request (or "need more", or an error with its HTTP status) out; no I/O and
 * no state between calls. Every size is bounded (head, header count, body). The request line and
 * header fields are picohttpparser's (the parser h2o ships), checked again here more strictly
 * (tokens, origin-form targets, CRLF only, single spaces); chunked bodies are decoded here. */
#define _GNU_SOURCE
#include <string.h>

#include "base/slice.h"
#include "base/util.h"
#include "lambda/internal.h"
#include "lambda/picohttpparser.h"

static bool s_tchar(uint8_t ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    switch (ch) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
    }
}

static bool s_token(struct mg_slice s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!s_tchar(s.ptr[i]))
            return false;
    return true;
}

/* A field value: visible ASCII, obs-text, space and tab. */
static bool s_value_ok(struct mg_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((s.ptr[i] < 0x20 && s.ptr[i] != '\t') || s.ptr[i] == 0x7f)
            return false;
    return true;
}

/* A request target in origin form: '/' then visible ASCII. */
static bool s_target_ok(struct mg_slice s)
{
    if (s.len == 0 || s.ptr[0] != '/')
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] <= 0x20 || s.ptr[i] >= 0x7f)
            return false;
    return true;
}

/* Index just past the first CRLF at or after off, or 0 when there is none. */
static size_t s_line_end(struct mg_slice in, size_t off)
{
    for (size_t i = off; i + 1 < in.len; i++)
        if (in.ptr[i] == '\r' && in.ptr[i + 1] == '\n')
            return i + 2;
    return 0;
}

/* Walks a chunked body starting at in (out NULL: only measures). Sets *used to the bytes the
 * body takes; the decoded bytes go to out. */
static enum mg_rtapi_status s_chunked(struct mg_slice in, struct mg_buf *out, size_t *used,
                                      int *status)
{
    size_t off = 0;
    uint64_t total = 0;
    for (;;) {
        size_t eol = s_line_end(in, off);
        if (eol == 0)
            return in.len - off > MG_RTAPI_LINE_MAX ? (*status = 400, MG_RTAPI_ERROR)
                                                    : MG_RTAPI_INCOMPLETE;
        if (eol - off - 2 > MG_RTAPI_LINE_MAX)
            return *status = 400, MG_RTAPI_ERROR;
        uint64_t size = 0;
        size_t i = off;
        for (; i < eol - 2; i++) {
            int d = mg_hex_value(in.ptr[i]);
            if (d < 0)
                break;
            size = size * 16 + (uint64_t)d;
            if (size > MG_RTAPI_BODY_MAX)
                return *status = 413, MG_RTAPI_ERROR;
        }
        if (i == off)
            return *status = 400, MG_RTAPI_ERROR;
        /* chunk extensions (";name=value") are allowed and ignored; nothing else */
        while (i < eol - 2 && (in.ptr[i] == ' ' || in.ptr[i] == '\t'))
            i++;
        if (i < eol - 2 && in.ptr[i] != ';')
            return *status = 400, MG_RTAPI_ERROR;
        if (!s_value_ok(mg_slice_sub(in, i, eol - 2 - i)))
            return *status = 400, MG_RTAPI_ERROR;
        off = eol;
        if (size == 0) {
            /* trailers (ignored), up to an empty line */
            size_t n_trailers = 0;
            for (;;) {
                size_t e2 = s_line_end(in, off);
                if (e2 == 0)
                    return in.len - off > MG_RTAPI_LINE_MAX ? (*status = 400, MG_RTAPI_ERROR)
                                                            : MG_RTAPI_INCOMPLETE;
                if (e2 - off - 2 > MG_RTAPI_LINE_MAX || ++n_trailers > MG_RTAPI_HEADERS_MAX)
                    return *status = 431, MG_RTAPI_ERROR;
                bool empty = e2 == off + 2;
                off = e2;
                if (empty) {
                    *used = off;
                    return MG_RTAPI_COMPLETE;
                }
            }
        }
        total += size;
        if (total > MG_RTAPI_BODY_MAX)
            return *status = 413, MG_RTAPI_ERROR;
        if (in.len - off < size)
            return MG_RTAPI_INCOMPLETE;
        if (out && mg_buf_append(out, in.ptr + off, (size_t)size))
            return *status = 500, MG_RTAPI_ERROR; /* out of memory: total is bounded above */
        off += (size_t)size;
        /* the chunk's data ends with CRLF */
        if (in.len - off < 2)
            return in.len - off == 1 && in.ptr[off] != '\r' ? (*status = 400, MG_RTAPI_ERROR)
                                                            : MG_RTAPI_INCOMPLETE;
        if (in.ptr[off] != '\r' || in.ptr[off + 1] != '\n')
            return *status = 400, MG_RTAPI_ERROR;
        off += 2;
    }
}

/* Where the head ends (just past its empty line), or 0 when it has not ended within
 * MG_RTAPI_HEAD_MAX bytes. */
static size_t s_head_end(struct mg_slice in)
{
    size_t scan = in.len < MG_RTAPI_HEAD_MAX ? in.len : MG_RTAPI_HEAD_MAX;
    const uint8_t *e = memmem(in.ptr, scan, "\r\n\r\n", 4);
    return e ? (size_t)(e - in.ptr) + 4 : 0;
}

/* Whether every LF of the head ends a CRLF (picohttpparser takes a bare LF as a line end). */
static bool s_crlf_only(struct mg_slice head)
{
    for (size_t i = 0; i < head.len; i++)
        if (head.ptr[i] == '\n' && (i == 0 || head.ptr[i - 1] != '\r'))
            return false;
    return true;
}

/* The status for a head picohttpparser refused: 431 for too many fields, 505 for an HTTP
 * version other than 1.x, else 400. */
static int s_refused_status(struct mg_slice head)
{
    size_t lines = 0;
    for (size_t i = 0; i + 1 < head.len; i++)
        lines += head.ptr[i] == '\r' && head.ptr[i + 1] == '\n';
    /* the request line and the empty line are not fields */
    if (lines > MG_RTAPI_HEADERS_MAX + 2)
        return 431;
    long le = mg_slice_find(head, '\r');
    struct mg_slice line = mg_slice_sub(head, 0, le > 0 ? (size_t)le : 0);
    if (line.len < 9)
        return 400;
    struct mg_slice v = mg_slice_sub(line, line.len - 9, 9); /* " HTTP/d.d" */
    if (mg_slice_starts_with(v, " HTTP/") && v.ptr[6] >= '0' && v.ptr[6] <= '9' &&
        v.ptr[7] == '.' && v.ptr[8] >= '0' && v.ptr[8] <= '9' && v.ptr[6] != '1')
        return 505;
    return 400;
}

enum mg_rtapi_status mg_lambda_rtapi_parse(struct mg_slice in, struct mg_rtapi_request *req,
                                           struct mg_buf *body)
{
    *req = (struct mg_rtapi_request){0};
    mg_buf_reset(body);
#define S_FAIL(st)                                                                                 \
    do {                                                                                           \
        req->status = (st);                                                                        \
        return MG_RTAPI_ERROR;                                                                     \
    } while (0)

    /* the head: up to the first empty line, at most MG_RTAPI_HEAD_MAX bytes */
    size_t he = s_head_end(in);
    if (he == 0) {
        if (in.len >= MG_RTAPI_HEAD_MAX)
            S_FAIL(431);
        return MG_RTAPI_INCOMPLETE;
    }
    struct mg_slice head = mg_slice_sub(in, 0, he);
    if (!s_crlf_only(head))
        S_FAIL(400);

    /* request line and fields: picohttpparser, then our own stricter checks */
    const char *m = NULL, *p = NULL;
    size_t m_len = 0, p_len = 0, n_fields = MG_RTAPI_HEADERS_MAX;
    int minor = -1;
    struct phr_header fields[MG_RTAPI_HEADERS_MAX];
    int pr = phr_parse_request((const char *)head.ptr, head.len, &m, &m_len, &p, &p_len, &minor,
                               fields, &n_fields, 0);
    if (pr < 0 || (size_t)pr != he)
        S_FAIL(s_refused_status(head));
    struct mg_slice method = mg_slice_make(m, m_len), target = mg_slice_make(p, p_len);
    /* METHOD SP target SP HTTP/1.x CRLF, with single spaces */
    size_t t_off = (size_t)((const uint8_t *)p - head.ptr), t_end = t_off + p_len;
    if ((const uint8_t *)m != head.ptr || t_off != m_len + 1 || t_end + 10 >= he ||
        !mg_slice_starts_with(mg_slice_sub(head, t_end, 10), " HTTP/1.") ||
        head.ptr[t_end + 9] != '\r')
        S_FAIL(400);
    if (!s_token(method) || !s_target_ok(target))
        S_FAIL(400);
    if (minor != 0 && minor != 1)
        S_FAIL(505);
    struct mg_slice q = target;
    mg_slice_split(&q, '?', &req->path);
    req->method = method;
    req->close = minor == 0;

    /* header fields */
    struct mg_slice te = {0}, cl = {0};
    bool have_te = false, have_cl = false;
    for (size_t i = 0; i < n_fields; i++) {
        if (fields[i].name == NULL)
            S_FAIL(400); /* obs-fold */
        struct mg_slice name = mg_slice_make(fields[i].name, fields[i].name_len);
        struct mg_slice value = mg_slice_trim(mg_slice_make(fields[i].value, fields[i].value_len));
        if (!s_token(name) || !s_value_ok(value))
            S_FAIL(400);
        if (mg_slice_ieq_cstr(name, "transfer-encoding")) {
            if (have_te)
                S_FAIL(400);
            have_te = true, te = value;
        } else if (mg_slice_ieq_cstr(name, "content-length")) {
            if (have_cl)
                S_FAIL(400);
            have_cl = true, cl = value;
        } else if (mg_slice_ieq_cstr(name, "connection")) {
            if (mg_slice_ieq_cstr(value, "close"))
                req->close = true;
        } else if (mg_slice_ieq_cstr(name, "lambda-runtime-function-error-type")) {
            req->error_type = value;
        }
    }

    /* the body: chunked, Content-Length, or none; both framings at once is refused (request
     * smuggling) */
    if (have_te && have_cl)
        S_FAIL(400);
    struct mg_slice rest = mg_slice_sub(in, he, in.len - he);
    if (have_te) {
        if (!mg_slice_ieq_cstr(te, "chunked"))
            S_FAIL(501);
        size_t used = 0;
        int st = 0;
        /* measure first, so that an incomplete body costs no copy */
        enum mg_rtapi_status r = s_chunked(rest, NULL, &used, &st);
        if (r == MG_RTAPI_COMPLETE)
            r = s_chunked(rest, body, &used, &st);
        if (r == MG_RTAPI_ERROR)
            S_FAIL(st);
        if (r == MG_RTAPI_INCOMPLETE)
            return r;
        req->body = mg_buf_slice(body);
        req->used = he + used;
    } else if (have_cl) {
        uint64_t n;
        if (!mg_slice_to_u64(cl, &n))
            S_FAIL(400);
        if (n > MG_RTAPI_BODY_MAX)
            S_FAIL(413);
        if (rest.len < n)
            return MG_RTAPI_INCOMPLETE;
        req->body = mg_slice_sub(rest, 0, (size_t)n);
        req->used = he + (size_t)n;
    } else {
        req->used = he;
    }
    req->status = 200;
    return MG_RTAPI_COMPLETE;
#undef S_FAIL
}
