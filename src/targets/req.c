/* One outbound request being built by a target kind: method, URL, headers and body. */
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "targets/targets.h"

#define S_MAX_URL (64u * 1024)
#define S_MAX_BODY (6u * 1024 * 1024)

void mg_target_req_init(struct mg_target_req *r)
{
    memset(r, 0, sizeof(*r));
    mg_buf_init(&r->url, S_MAX_URL);
    mg_buf_init(&r->body, S_MAX_BODY);
}

void mg_target_req_cleanup(struct mg_target_req *r)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        /* headers may carry credentials */
        mg_memzero(r->headers[i], strlen(r->headers[i]));
        mg_free(r->headers[i]);
    }
    r->n_headers = 0;
    mg_buf_cleanup(&r->url);
    mg_buf_cleanup(&r->body);
}

static bool s_clean(struct mg_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '\r' || s.ptr[i] == '\n' || s.ptr[i] == 0)
            return false;
    return true;
}

enum mg_err mg_target_req_header(struct mg_target_req *r, const char *name, struct mg_slice value)
{
    struct mg_slice n = mg_slice_cstr(name);
    if (n.len == 0 || !s_clean(n) || !s_clean(value) || memchr(name, ':', n.len) != NULL)
        return MG_E_INVALID;
    if (r->n_headers >= MG_HTTP_CLIENT_MAX_HEADERS)
        return MG_E_TOO_LARGE;
    struct mg_buf b;
    mg_buf_init(&b, n.len + value.len + 3);
    if (mg_buf_append_slice(&b, n) || mg_buf_append_cstr(&b, ": ") ||
        mg_buf_append_slice(&b, value) || mg_buf_cstr(&b) == NULL) {
        mg_buf_cleanup(&b);
        return MG_E_NOMEM;
    }
    size_t len;
    r->headers[r->n_headers++] = (char *)mg_buf_take(&b, &len);
    return MG_E_OK;
}

const char *mg_target_req_header_value(const struct mg_target_req *r, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        const char *h = r->headers[i];
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':')
            return h + nl + 1 + (h[nl + 1] == ' ');
    }
    return NULL;
}

enum mg_err mg_target_pct_encode(struct mg_buf *b, struct mg_slice s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
        if (keep)
            MG_TRY(mg_buf_append_byte(b, c));
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            MG_TRY(mg_buf_append(b, e, 3));
        }
    }
    return MG_E_OK;
}

enum mg_err mg_target_req_query(struct mg_target_req *r, struct mg_slice name,
                                struct mg_slice value)
{
    bool has_q = r->url.len > 0 && memchr(r->url.ptr, '?', r->url.len) != NULL;
    MG_TRY(mg_buf_append_byte(&r->url, has_q ? '&' : '?'));
    MG_TRY(mg_target_pct_encode(&r->url, name));
    MG_TRY(mg_buf_append_byte(&r->url, '='));
    return mg_target_pct_encode(&r->url, value);
}

void mg_target_req_view(struct mg_target_req *r, struct mg_http_out_req *out)
{
    memset(out, 0, sizeof(*out));
    out->method = r->method;
    out->url = mg_buf_cstr(&r->url);
    out->headers = (const char *const *)r->headers;
    out->n_headers = r->n_headers;
    out->body = mg_buf_slice(&r->body);
}

bool mg_target_tool_name_ok(const char *s)
{
    if (s == NULL || s[0] == 0)
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}
