/* MCP methods: initialize, ping, tools/list (pre-serialized pages and cursors), tools/call
 * (routing by TARGET___TOOL, the input-schema check, the search tool), and the small JSON Schema
 * checker. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "mcp/internal.h"

/* ---- JSON Schema subset ------------------------------------------------------------------------ */

#define S_SCHEMA_DEPTH 32

static bool s_is_type(const json_t *v, const char *type)
{
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "integer") == 0) {
        if (json_is_integer(v))
            return true;
        if (json_is_real(v)) {
            double d = json_real_value(v);
            return isfinite(d) && floor(d) == d;
        }
        return false;
    }
    return true; /* an unknown type name constrains nothing we know of */
}

static size_t s_utf8_len(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((uint8_t)s[i] & 0xC0) != 0x80)
            cps++;
    return cps;
}

static bool s_fail(char *msg, size_t cap, const char *path, const char *what)
{
    snprintf(msg, cap, "%s: %s", path, what);
    return false;
}

static bool s_check(const json_t *schema, const json_t *v, const char *path, int depth, char *msg,
                    size_t cap)
{
    if (schema == NULL || json_is_true(schema))
        return true;
    if (json_is_false(schema))
        return s_fail(msg, cap, path, "no value is allowed here");
    if (!json_is_object(schema) || depth > S_SCHEMA_DEPTH)
        return true;
    char what[256];
    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type)) {
        if (!s_is_type(v, json_string_value(type))) {
            snprintf(what, sizeof(what), "expected %s", json_string_value(type));
            return s_fail(msg, cap, path, what);
        }
    } else if (json_is_array(type) && json_array_size(type) > 0) {
        bool any = false;
        size_t i;
        const json_t *t;
        json_array_foreach(type, i, t)
        {
            if (json_is_string(t) && s_is_type(v, json_string_value(t)))
                any = true;
        }
        if (!any)
            return s_fail(msg, cap, path, "has none of the allowed types");
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_is_array(en)) {
        bool found = false;
        size_t i;
        const json_t *e;
        json_array_foreach(en, i, e)
        {
            if (json_equal((json_t *)e, (json_t *)v))
                found = true;
        }
        if (!found)
            return s_fail(msg, cap, path, "is not one of the allowed values");
    }
    const json_t *cn = json_object_get(schema, "const");
    if (cn && !json_equal((json_t *)cn, (json_t *)v))
        return s_fail(msg, cap, path, "does not equal the constant");
    if (json_is_number(v)) {
        double d = json_number_value(v);
        const json_t *mn = json_object_get(schema, "minimum");
        const json_t *mx = json_object_get(schema, "maximum");
        if (json_is_number(mn) && d < json_number_value(mn))
            return s_fail(msg, cap, path, "is below the minimum");
        if (json_is_number(mx) && d > json_number_value(mx))
            return s_fail(msg, cap, path, "is above the maximum");
    }
    if (json_is_string(v)) {
        size_t n = s_utf8_len(json_string_value(v), json_string_length(v));
        const json_t *mn = json_object_get(schema, "minLength");
        const json_t *mx = json_object_get(schema, "maxLength");
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
            return s_fail(msg, cap, path, "is shorter than minLength");
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
            return s_fail(msg, cap, path, "is longer than maxLength");
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        const json_t *mn = json_object_get(schema, "minItems");
        const json_t *mx = json_object_get(schema, "maxItems");
        if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
            return s_fail(msg, cap, path, "has fewer items than minItems");
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
            return s_fail(msg, cap, path, "has more items than maxItems");
        const json_t *items = json_object_get(schema, "items");
        if (json_is_object(items) || json_is_boolean(items)) {
            for (size_t i = 0; i < n; i++) {
                char sub[512];
                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                if (!s_check(items, json_array_get(v, i), sub, depth + 1, msg, cap))
                    return false;
            }
        }
    }
    if (json_is_object(v)) {
        const json_t *req = json_object_get(schema, "required");
        if (json_is_array(req)) {
            size_t i;
            const json_t *r;
            json_array_foreach(req, i, r)
            {
                if (json_is_string(r) && json_object_get(v, json_string_value(r)) == NULL) {
                    snprintf(what, sizeof(what), "missing required property \"%.200s\"",
                             json_string_value(r));
                    return s_fail(msg, cap, path, what);
                }
            }
        }
        const json_t *props = json_object_get(schema, "properties");
        const json_t *addl = json_object_get(schema, "additionalProperties");
        const char *k;
        const json_t *pv;
        json_object_foreach((json_t *)v, k, pv)
        {
            char sub[512];
            snprintf(sub, sizeof(sub), "%.200s.%.200s", path, k);
            const json_t *ps = json_is_object(props) ? json_object_get(props, k) : NULL;
            if (ps) {
                if (!s_check(ps, pv, sub, depth + 1, msg, cap))
                    return false;
            } else if (addl && !s_check(addl, pv, sub, depth + 1, msg, cap)) {
                if (json_is_false(addl))
                    return s_fail(msg, cap, sub, "is not an allowed property");
                return false;
            }
        }
    }
    return true;
}

bool mg_mcp_schema_check(const json_t *schema, const json_t *value, char *msg, size_t cap)
{
    if (cap)
        msg[0] = 0;
    return s_check(schema, value, "arguments", 0, msg, cap);
}

/* ---- helpers ----------------------------------------------------------------------------------- */

static void s_fill_error(struct mg_mcp_ctx *c, const json_t *id, int code, const char *msg)
{
    struct mg_buf *b = &c->reply->slots[c->slot];
    mg_buf_reset(b);
    if (mg_jsonrpc_error(b, id, code, msg, NULL) != MG_E_OK) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL) != MG_E_OK)
            mg_buf_reset(b);
    }
}

static void s_fill_oom(struct mg_mcp_ctx *c, const json_t *id)
{
    s_fill_error(c, id, MG_JSONRPC_INTERNAL_ERROR, "Internal error: out of memory");
}

enum mg_err mg_mcp_tool_failure(struct mg_buf *b, const json_t *id, bool debug, const char *detail)
{
    const char *text = debug && detail && detail[0] ? detail : MG_MCP_GENERIC_ERROR;
    MG_TRY(mg_jsonrpc_result_open(b, id));
    MG_TRY(mg_buf_append_cstr(b, "{\"content\":[{\"type\":\"text\",\"text\":\""));
    MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(text)));
    MG_TRY(mg_buf_append_cstr(b, "\"}],\"isError\":true"));
    if (debug && detail && detail[0]) {
        MG_TRY(mg_buf_append_cstr(b, ",\"_meta\":{\"debug\":{\"type\":\"text\",\"text\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(detail)));
        MG_TRY(mg_buf_append_cstr(b, "\"}}"));
    }
    return mg_buf_append_cstr(b, "}}");
}

void mg_mcp_fail_now(struct mg_mcp_ctx *c, const json_t *id, const char *detail)
{
    MG_LOG_REQ(MG_LOG_WARN, MG_SUB_MCP, c->req->request_id, "tools/call refused: %s", detail);
    struct mg_buf *b = &c->reply->slots[c->slot];
    mg_buf_reset(b);
    if (mg_mcp_tool_failure(b, id, c->gw->exception_debug, detail) != MG_E_OK) {
        mg_buf_reset(b);
        if (mg_jsonrpc_error(b, id, MG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL) != MG_E_OK)
            mg_buf_reset(b);
    }
}

/* ---- initialize / ping --------------------------------------------------------------------------- */

static enum mg_err s_initialize_result(struct mg_mcp_ctx *c, const json_t *id,
                                       enum mg_mcp_version v, struct mg_buf *b)
{
    const struct mg_gateway *gw = c->gw;
    MG_TRY(mg_jsonrpc_result_open(b, id));
    MG_TRY(mg_buf_printf(b,
                         "{\"protocolVersion\":\"%s\",\"capabilities\":{\"tools\":{}},"
                         "\"serverInfo\":{\"name\":\"agentcore-gateway\",\"version\":\"1.0.0\"",
                         mg_mcp_version_str(v)));
    if (v >= MG_MCP_V_2025_06_18 && gw->name) {
        MG_TRY(mg_buf_append_cstr(b, ",\"title\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(gw->name)));
        MG_TRY(mg_buf_append_byte(b, '"'));
    }
    if (v >= MG_MCP_V_2025_11_25 && gw->description) {
        MG_TRY(mg_buf_append_cstr(b, ",\"description\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(gw->description)));
        MG_TRY(mg_buf_append_byte(b, '"'));
    }
    MG_TRY(mg_buf_append_byte(b, '}'));
    if (gw->instructions) {
        MG_TRY(mg_buf_append_cstr(b, ",\"instructions\":\""));
        MG_TRY(mg_buf_append_json_str(b, mg_slice_cstr(gw->instructions)));
        MG_TRY(mg_buf_append_byte(b, '"'));
    }
    return mg_buf_append_cstr(b, "}}");
}

static void s_initialize(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    const json_t *pv = m->params ? json_object_get(m->params, "protocolVersion") : NULL;
    if (!json_is_string(pv)) {
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS,
                     "Invalid params: protocolVersion is required");
        return;
    }
    if (c->reply->batch) {
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_REQUEST,
                     "Invalid Request: initialize must not be part of a batch");
        return;
    }
    enum mg_mcp_version v = mg_mcp_version_parse(
        mg_slice_make(json_string_value(pv), json_string_length(pv)));
    if (!mg_mcp_gateway_supports(c->gw, v))
        v = mg_mcp_gateway_latest(c->gw);
    if (v == MG_MCP_V_NONE) {
        char list[128];
        mg_mcp_gateway_versions_text(c->gw, list, sizeof(list));
        json_t *data = json_pack("{s:s, s:O}", "supported", list, "requested", pv);
        struct mg_buf *b = &c->reply->slots[c->slot];
        if (mg_jsonrpc_error(b, m->id, MG_JSONRPC_INVALID_PARAMS, "Unsupported protocol version",
                             data) != MG_E_OK)
            s_fill_oom(c, m->id);
        json_decref(data);
        return;
    }
    if (c->gw->has_session_config && c->new_session) {
        struct mg_mcp_session s;
        memset(&s, 0, sizeof(s));
        snprintf(s.gateway_id, sizeof(s.gateway_id), "%s", c->gw->id);
        snprintf(s.caller, sizeof(s.caller), "%s", c->caller);
        s.version = v;
        s.expires = mg_now() + (c->gw->session_timeout_s > 0 ? c->gw->session_timeout_s : 3600);
        if (mg_mcp_session_seal(c->env->token_key, &s, c->new_session) != MG_E_OK) {
            mg_buf_reset(c->new_session);
            s_fill_error(c, m->id, MG_JSONRPC_INTERNAL_ERROR, "Internal error: no session");
            return;
        }
    }
    if (c->negotiated)
        *c->negotiated = v;
    if (s_initialize_result(c, m->id, v, &c->reply->slots[c->slot]) != MG_E_OK)
        s_fill_oom(c, m->id);
}

/* ---- tools/list ---------------------------------------------------------------------------------- */

static void s_tools_list(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    const struct mg_tool_catalog *cat = &c->gw->catalog;
    /* the cursor: read without a tree on the fast path (a string, or absent) */
    const json_t *cur = m->params ? json_object_get(m->params, "cursor") : NULL;
    bool cur_set = m->fast ? m->cursor.ptr != NULL : cur != NULL && !json_is_null(cur);
    bool cur_str = m->fast || json_is_string(cur);
    struct mg_slice cur_text = m->fast
                                   ? m->cursor
                                   : mg_slice_make(json_string_value(cur), json_string_length(cur));
    if (mg_mcp_server_dynamic(c->gw)) {
        /* DYNAMIC MCP-server targets are listed live, in one page: no cursor is ever issued */
        if (cur_set)
            s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS, "Invalid cursor");
        else
            mg_mcp_server_list(c, m);
        return;
    }
    uint32_t page = 0;
    if (cur_set) {
        if (!cur_str ||
            !mg_mcp_cursor_parse(c->env->token_key, c->gw->id, cat->version, cur_text, &page) ||
            page == 0 || page >= cat->n_pages) {
            s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS, "Invalid cursor");
            return;
        }
    }
    struct mg_buf *b = &c->reply->slots[c->slot];
    /* one allocation: the page plus the envelope, the search tool and a cursor */
    enum mg_err e = mg_buf_reserve(b, (cat->n_pages ? cat->page_json_len[page] : 0) + 1024 +
                                          2 * MG_MCP_MAX_ID);
    if (!e)
        e = mg_jsonrpc_result_open(b, m->id);
    if (!e)
        e = mg_buf_append_cstr(b, "{\"tools\":");
    bool search = c->gw->search_semantic && page == 0;
    if (!e && cat->n_pages == 0) {
        e = search ? mg_buf_printf(b, "[%s]", mg_mcp_search_tool_json)
                   : mg_buf_append_cstr(b, "[]");
    } else if (!e) {
        struct mg_slice pj = mg_slice_make(cat->page_json[page], cat->page_json_len[page]);
        if (search && pj.len >= 2) {
            /* "[" + search tool + "," + the page without its "[" */
            e = mg_buf_printf(b, "[%s,", mg_mcp_search_tool_json);
            if (!e)
                e = mg_buf_append_slice(b, mg_slice_sub(pj, 1, pj.len - 1));
        } else {
            e = mg_buf_append_slice(b, pj);
        }
    }
    if (!e && page + 1 < cat->n_pages) {
        e = mg_buf_append_cstr(b, ",\"nextCursor\":\"");
        if (!e)
            e = mg_mcp_cursor_make(c->env->token_key, c->gw->id, cat->version, page + 1, b);
        if (!e)
            e = mg_buf_append_byte(b, '"');
    }
    if (!e)
        e = mg_buf_append_cstr(b, "}}");
    if (e) {
        mg_buf_reset(b);
        s_fill_oom(c, m->id);
    }
}

/* ---- tools/call ---------------------------------------------------------------------------------- */

static void s_search_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m, const json_t *args)
{
    const json_t *q = json_object_get(args, "query");
    if (!json_is_string(q)) {
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS,
                     "Invalid params: arguments: missing required property \"query\"");
        return;
    }
    size_t hits[MG_MCP_SEARCH_RESULTS];
    size_t n = mg_mcp_search(&c->gw->catalog, json_string_value(q), hits, MG_MCP_SEARCH_RESULTS);
    struct mg_buf list;
    mg_buf_init(&list, MG_LIMIT_RESPONSE);
    enum mg_err e = mg_buf_append_cstr(&list, "{\"tools\":[");
    for (size_t i = 0; i < n && !e; i++) {
        const struct mg_tool *t = &c->gw->catalog.tools[hits[i]];
        if (i)
            e = mg_buf_append_byte(&list, ',');
        if (!e)
            e = mg_buf_append(&list, t->json, t->json_len);
    }
    if (!e)
        e = mg_buf_append_cstr(&list, "]}");
    struct mg_buf *b = &c->reply->slots[c->slot];
    if (!e)
        e = mg_jsonrpc_result_open(b, m->id);
    if (!e)
        e = mg_buf_append_cstr(b, "{\"content\":[{\"type\":\"text\",\"text\":\"");
    if (!e)
        e = mg_buf_append_json_str(b, mg_buf_slice(&list));
    if (!e)
        e = mg_buf_append_cstr(b, "\"}],\"structuredContent\":");
    if (!e)
        e = mg_buf_append_slice(b, mg_buf_slice(&list));
    if (!e)
        e = mg_buf_append_cstr(b, ",\"isError\":false}}");
    mg_buf_cleanup(&list);
    if (e) {
        mg_buf_reset(b);
        s_fill_oom(c, m->id);
    }
}

static void s_tools_call(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    const json_t *name = m->params ? json_object_get(m->params, "name") : NULL;
    if (!json_is_string(name)) {
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS, "Invalid params: name is required");
        return;
    }
    const json_t *args = json_object_get(m->params, "arguments");
    json_t *empty = NULL;
    if (args == NULL || json_is_null(args)) {
        empty = json_object();
        args = empty;
        if (empty == NULL) {
            s_fill_oom(c, m->id);
            return;
        }
    }
    char msg[600];
    if (!json_is_object(args)) {
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS,
                     "Invalid params: arguments must be an object");
        goto out;
    }
    struct mg_slice nm = mg_slice_make(json_string_value(name), json_string_length(name));
    if (c->gw->search_semantic && mg_slice_eq_cstr(nm, MG_MCP_SEARCH_TOOL)) {
        s_search_call(c, m, args);
        goto out;
    }
    const struct mg_tool *tool = mg_agentcore_find_tool(c->gw, nm);
    if (tool == NULL && mg_mcp_server_dynamic_call(c, m, nm, args))
        goto out; /* a tool a DYNAMIC target lists live */
    if (tool == NULL) {
        snprintf(msg, sizeof(msg), "Unknown tool: " MG_SLICE_FMT,
                 (int)(nm.len > 256 ? 256 : nm.len), (const char *)nm.ptr);
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS, msg);
        goto out;
    }
    char why[512];
    json_t *schema = mg_tool_input_schema(tool);
    if (schema == NULL) {
        s_fill_error(c, m->id, MG_JSONRPC_INTERNAL_ERROR, "Out of memory.");
        goto out;
    }
    bool valid = mg_mcp_schema_check(schema, args, why, sizeof(why));
    json_decref(schema);
    if (!valid) {
        snprintf(msg, sizeof(msg), "Invalid params: %s", why);
        s_fill_error(c, m->id, MG_JSONRPC_INVALID_PARAMS, msg);
        goto out;
    }
    switch (tool->target ? tool->target->kind : MG_TARGET_OTHER) {
    case MG_TARGET_LAMBDA: mg_mcp_lambda_call(c, m, tool, args); break;
    case MG_TARGET_OPENAPI:
    case MG_TARGET_SMITHY: mg_mcp_http_call(c, m, tool, args); break;
    case MG_TARGET_MCP_SERVER: mg_mcp_server_call(c, m, tool, args); break;
    case MG_TARGET_OTHER:
        if (mg_mcp_tool_failure(&c->reply->slots[c->slot], m->id, c->gw->exception_debug,
                                "This target type cannot be called.") != MG_E_OK)
            s_fill_oom(c, m->id);
        break;
    }
out:
    json_decref(empty);
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

void mg_mcp_tools_request(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    const char *meth = m->method;
    if (strcmp(meth, "initialize") == 0) {
        s_initialize(c, m);
    } else if (strcmp(meth, "ping") == 0) {
        struct mg_buf *b = &c->reply->slots[c->slot];
        if (mg_jsonrpc_result_open(b, m->id) || mg_buf_append_cstr(b, "{}}"))
            s_fill_oom(c, m->id);
    } else if (strcmp(meth, "tools/list") == 0) {
        s_tools_list(c, m);
    } else if (strcmp(meth, "tools/call") == 0) {
        s_tools_call(c, m);
    } else {
        char msg[200];
        snprintf(msg, sizeof(msg), "Method not found: %.128s", meth);
        s_fill_error(c, m->id, MG_JSONRPC_METHOD_NOT_FOUND, msg);
    }
}

void mg_mcp_tools_notification(struct mg_mcp_ctx *c, const struct mg_jsonrpc_msg *m)
{
    if (strcmp(m->method, "notifications/cancelled") == 0 && m->params) {
        const json_t *rid = json_object_get(m->params, "requestId");
        if (json_is_string(rid) || json_is_integer(rid)) {
            mg_mcp_cancel(c->gw->id, c->caller, rid);
        }
    }
    /* notifications/initialized and anything else: accepted, nothing to do */
}
