/* JSON-RPC 2.0 for the MCP data plane: parsing with limits, classifying messages, and writing
 * response envelopes by concatenation. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/jscan.h"
#include "mcp/internal.h"

static const struct {
    enum mg_mcp_version v;
    const char *s;
} s_versions[] = {
    {MG_MCP_V_2025_03_26, "2025-03-26"},
    {MG_MCP_V_2025_06_18, "2025-06-18"},
    {MG_MCP_V_2025_11_25, "2025-11-25"},
};

const char *mg_mcp_version_str(enum mg_mcp_version v)
{
    for (size_t i = 0; i < sizeof(s_versions) / sizeof(s_versions[0]); i++)
        if (s_versions[i].v == v)
            return s_versions[i].s;
    return "";
}

enum mg_mcp_version mg_mcp_version_parse(struct mg_slice s)
{
    for (size_t i = 0; i < sizeof(s_versions) / sizeof(s_versions[0]); i++)
        if (mg_slice_eq_cstr(s, s_versions[i].s))
            return s_versions[i].v;
    return MG_MCP_V_NONE;
}

bool mg_mcp_gateway_supports(const struct mg_gateway *gw, enum mg_mcp_version v)
{
    if (v == MG_MCP_V_NONE)
        return false;
    if (gw == NULL || gw->n_supported_versions == 0)
        return true;
    const char *s = mg_mcp_version_str(v);
    for (size_t i = 0; i < gw->n_supported_versions; i++)
        if (gw->supported_versions[i] && strcmp(gw->supported_versions[i], s) == 0)
            return true;
    return false;
}

enum mg_mcp_version mg_mcp_gateway_latest(const struct mg_gateway *gw)
{
    for (enum mg_mcp_version v = MG_MCP_V_LATEST; v > MG_MCP_V_NONE; v--)
        if (mg_mcp_gateway_supports(gw, v))
            return v;
    return MG_MCP_V_NONE;
}

void mg_mcp_gateway_versions_text(const struct mg_gateway *gw, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (enum mg_mcp_version v = MG_MCP_V_2025_03_26; v <= MG_MCP_V_LATEST; v++) {
        if (!mg_mcp_gateway_supports(gw, v))
            continue;
        int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", mg_mcp_version_str(v));
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

/* ---- parsing --------------------------------------------------------------------------------- */

bool mg_jsonrpc_depth_ok(struct mg_slice body, int max)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < body.len; i++) {
        uint8_t c = body.ptr[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return true;
}

static void s_invalid(struct mg_jsonrpc_msg *m, int code, const char *msg)
{
    m->kind = MG_JSONRPC_INVALID;
    m->err_code = code;
    m->err_msg = msg;
}

/* A usable id: a string or an integer (never null, a fraction or a boolean), within size. */
static bool s_id_ok(const json_t *id)
{
    if (json_is_string(id))
        return json_string_length(id) <= MG_MCP_MAX_ID;
    return json_is_integer(id);
}

void mg_jsonrpc_classify(const json_t *v, struct mg_jsonrpc_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->obj = v;
    if (!json_is_object(v)) {
        s_invalid(m, MG_JSONRPC_INVALID_REQUEST,
                  "Invalid Request: a JSON-RPC message is an object");
        return;
    }
    const json_t *ver = json_object_get(v, "jsonrpc");
    const json_t *id = json_object_get(v, "id");
    const json_t *method = json_object_get(v, "method");
    bool has_id = id != NULL;
    if (has_id && s_id_ok(id))
        m->id = id;
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0) {
        s_invalid(m, MG_JSONRPC_INVALID_REQUEST, "Invalid Request: jsonrpc must be \"2.0\"");
        return;
    }
    if (has_id && m->id == NULL) {
        s_invalid(m, MG_JSONRPC_INVALID_REQUEST,
                  json_is_string(id) ? "Invalid Request: id is too long"
                                     : "Invalid Request: id must be a string or an integer");
        return;
    }
    if (method == NULL) {
        const json_t *result = json_object_get(v, "result");
        const json_t *error = json_object_get(v, "error");
        if (has_id && ((result != NULL) != (error != NULL)) &&
            (error == NULL || json_is_object(error))) {
            m->kind = MG_JSONRPC_RESPONSE;
            return;
        }
        s_invalid(m, MG_JSONRPC_INVALID_REQUEST, "Invalid Request: method is missing");
        return;
    }
    if (!json_is_string(method) || json_string_length(method) == 0 ||
        json_string_length(method) > MG_MCP_MAX_METHOD) {
        s_invalid(m, MG_JSONRPC_INVALID_REQUEST, "Invalid Request: method must be a string");
        return;
    }
    m->method = json_string_value(method);
    const json_t *params = json_object_get(v, "params");
    if (params != NULL && !json_is_object(params)) {
        /* MCP's params are always objects; JSON-RPC allows arrays but no MCP method takes one. */
        if (json_is_array(params)) {
            m->kind = has_id ? MG_JSONRPC_REQUEST : MG_JSONRPC_NOTIFICATION;
            s_invalid(m, MG_JSONRPC_INVALID_PARAMS, "Invalid params: params must be an object");
        } else {
            s_invalid(m, MG_JSONRPC_INVALID_REQUEST, "Invalid Request: params must be an object");
        }
        return;
    }
    m->params = params;
    m->kind = has_id ? MG_JSONRPC_REQUEST : MG_JSONRPC_NOTIFICATION;
}

enum mg_err mg_jsonrpc_parse_tree(struct mg_slice body, struct mg_jsonrpc_body *out,
                                  struct mg_errinfo *ei)
{
    memset(out, 0, sizeof(*out));
    if (!mg_jsonrpc_depth_ok(body, MG_MCP_MAX_DEPTH))
        return mg_errinfo_set(ei, MG_E_PARSE, "Parse error: nested deeper than %d",
                              MG_MCP_MAX_DEPTH);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body.ptr, body.len,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_PARSE, "Parse error: %s", jerr.text);
    enum mg_err e = MG_E_OK;
    if (json_is_array(root)) {
        size_t n = json_array_size(root);
        if (n == 0) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "Invalid Request: empty batch");
            goto out;
        }
        if (n > MG_MCP_MAX_BATCH) {
            e = mg_errinfo_set(ei, MG_E_INVALID,
                               "Invalid Request: a batch holds at most %d "
                               "messages",
                               MG_MCP_MAX_BATCH);
            goto out;
        }
        out->batch = true;
        out->msgs = mg_calloc(n, sizeof(*out->msgs));
        if (out->msgs == NULL) {
            e = MG_E_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            mg_jsonrpc_classify(json_array_get(root, i), &out->msgs[i]);
        out->n = n;
    } else if (json_is_object(root)) {
        out->msgs = &out->one;
        mg_jsonrpc_classify(root, &out->msgs[0]);
        out->n = 1;
    } else {
        e = mg_errinfo_set(ei, MG_E_INVALID, "Invalid Request: expected a JSON-RPC message");
        goto out;
    }
    out->root = root;
    root = NULL;
out:
    json_decref(root);
    if (e) {
        if (out->msgs != &out->one)
            mg_free(out->msgs);
        out->msgs = NULL;
        out->n = 0;
    }
    return e;
}

/* The fast path: one request that needs no tree (see mg_jsonrpc_parse). false: take the tree
 * path (anything else, anything invalid, or out of memory). */
#define S_FAST_MAX 4096 /* bytes: larger bodies are not the small envelopes this is for */

static const char *const s_members[] = {"jsonrpc", "method", "id", "params"};
enum { S_M_JSONRPC, S_M_METHOD, S_M_ID, S_M_PARAMS, S_M_N };
static const char *const s_param_members[] = {"cursor", "_meta"};

/* A cheap look before the scan: whether one of the fast methods is named (escaped names are
 * missed and take the tree path, as do bodies that name none, such as tools/call's). */
static bool s_names_fast_method(struct mg_slice body)
{
    static const char *const needles[] = {"\"tools/list\"", "\"ping\"", "\"notifications/"};
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
        if (memmem(body.ptr, body.len, needles[i], strlen(needles[i])) != NULL)
            return true;
    return false;
}

static bool s_parse_fast(struct mg_slice body, struct mg_jsonrpc_body *out)
{
    memset(out, 0, sizeof(*out));
    struct mg_jscan_value top, v[S_M_N];
    if (body.len == 0 || body.len > S_FAST_MAX || !s_names_fast_method(body) ||
        mg_jscan(body, MG_MCP_MAX_DEPTH, s_members, S_M_N, &top, v) != MG_JSCAN_OK ||
        top.type != MG_JSCAN_OBJECT || !mg_jscan_string_eq(&v[S_M_JSONRPC], "2.0"))
        return false;
    const struct mg_jscan_value *mv = &v[S_M_METHOD], *iv = &v[S_M_ID], *pv = &v[S_M_PARAMS];
    bool has_id = iv->type != MG_JSCAN_ABSENT;
    const char *method;
    if (has_id) {
        if (mg_jscan_string_eq(mv, "tools/list"))
            method = "tools/list";
        else if (mg_jscan_string_eq(mv, "ping"))
            method = "ping";
        else
            return false;
        if (iv->type != MG_JSCAN_INTEGER &&
            !(iv->type == MG_JSCAN_STRING && iv->len <= MG_MCP_MAX_ID))
            return false; /* classified invalid: the tree path words the answer */
    } else {
        /* notifications carry nothing this server reads, except notifications/cancelled */
        if (mv->type != MG_JSCAN_STRING || mv->escaped || mv->len == 0 ||
            mv->len > MG_MCP_MAX_METHOD || !mg_slice_starts_with(mv->raw, "notifications/") ||
            mg_jscan_string_eq(mv, "notifications/cancelled"))
            return false;
        mg_memcpy(out->method, mv->raw.ptr, mv->len);
        out->method[mv->len] = 0;
        method = out->method;
    }
    struct mg_slice cursor = {NULL, 0};
    if (pv->type != MG_JSCAN_ABSENT) {
        struct mg_jscan_value ptop, p[2];
        if (pv->type != MG_JSCAN_OBJECT ||
            mg_jscan(pv->raw, MG_MCP_MAX_DEPTH, s_param_members, 2, &ptop, p) != MG_JSCAN_OK)
            return false;
        if (p[1].type != MG_JSCAN_ABSENT)
            return false; /* _meta: the transport reads it */
        if (p[0].type == MG_JSCAN_STRING && !p[0].escaped)
            cursor = p[0].raw;
        else if (p[0].type != MG_JSCAN_ABSENT && p[0].type != MG_JSCAN_NULL)
            return false; /* an unusual cursor: the tree path answers it */
    }
    if (iv->type == MG_JSCAN_INTEGER) {
        out->id = json_integer((json_int_t)iv->integer);
    } else if (iv->type == MG_JSCAN_STRING) {
        char text[MG_MCP_MAX_ID];
        if (mg_jscan_string(iv, text, sizeof(text)))
            out->id = json_stringn_nocheck(text, iv->len);
    }
    if (has_id && out->id == NULL)
        return false;
    struct mg_jsonrpc_msg *m = &out->one;
    m->kind = has_id ? MG_JSONRPC_REQUEST : MG_JSONRPC_NOTIFICATION;
    m->method = method;
    m->id = out->id;
    m->fast = true;
    m->cursor = cursor;
    out->msgs = m;
    out->n = 1;
    return true;
}

enum mg_err mg_jsonrpc_parse(struct mg_slice body, struct mg_jsonrpc_body *out,
                             struct mg_errinfo *ei)
{
    if (s_parse_fast(body, out))
        return MG_E_OK;
    return mg_jsonrpc_parse_tree(body, out, ei);
}

void mg_jsonrpc_body_cleanup(struct mg_jsonrpc_body *b)
{
    json_decref(b->root);
    json_decref(b->id);
    if (b->msgs != &b->one)
        mg_free(b->msgs);
    memset(b, 0, sizeof(*b));
}

/* ---- writing --------------------------------------------------------------------------------- */

enum mg_err mg_jsonrpc_append_id(struct mg_buf *b, const json_t *id)
{
    if (id == NULL)
        return mg_buf_append_cstr(b, "null");
    if (json_is_integer(id))
        return mg_buf_append_i64(b, (int64_t)json_integer_value(id));
    if (json_is_string(id)) {
        MG_TRY(mg_buf_append_byte(b, '"'));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_make(json_string_value(id),
                                                       json_string_length(id))));
        return mg_buf_append_byte(b, '"');
    }
    return mg_buf_append_cstr(b, "null");
}

enum mg_err mg_jsonrpc_result_open(struct mg_buf *b, const json_t *id)
{
    MG_TRY(mg_buf_append_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":"));
    MG_TRY(mg_jsonrpc_append_id(b, id));
    return mg_buf_append_cstr(b, ",\"result\":");
}

enum mg_err mg_jsonrpc_error(struct mg_buf *b, const json_t *id, int code, const char *msg,
                             const json_t *data)
{
    MG_TRY(mg_buf_append_cstr(b, "{\"jsonrpc\":\"2.0\",\"id\":"));
    MG_TRY(mg_jsonrpc_append_id(b, id));
    MG_TRY(mg_buf_printf(b, ",\"error\":{\"code\":%d,\"message\":\"", code));
    MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(msg)));
    MG_TRY(mg_buf_append_byte(b, '"'));
    if (data) {
        char *d = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (d == NULL)
            return MG_E_NOMEM;
        enum mg_err e = mg_buf_append_cstr(b, ",\"data\":");
        if (!e)
            e = mg_buf_append_cstr(b, d);
        mg_free(d);
        MG_TRY(e);
    }
    return mg_buf_append_cstr(b, "}}");
}
