/* The pure parts of mcpgate's MCP client: the requests it sends to MCP-server targets, reading
 * their answers (JSON or SSE), and their tools in the "_tools" shape. No I/O here. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "targets/mcp_client.h"

bool mg_mcp_client_version_ok(struct mg_slice v)
{
    return mg_slice_eq_cstr(v, "2025-03-26") || mg_slice_eq_cstr(v, "2025-06-18") ||
           mg_slice_eq_cstr(v, "2025-11-25");
}

/* ---- requests ------------------------------------------------------------------------------ */

static enum mg_err s_dump(struct mg_buf *out, json_t *msg)
{
    if (msg == NULL)
        return MG_E_NOMEM;
    char *text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(msg);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_buf_append_cstr(out, text);
    mg_free(text);
    return e;
}

enum mg_err mg_mcp_client_initialize(struct mg_buf *out, int64_t id)
{
    return s_dump(out, json_pack("{s:s, s:I, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}", "jsonrpc", "2.0",
                                 "id", (json_int_t)id, "method", "initialize", "params",
                                 "protocolVersion", MG_MCP_CLIENT_VERSION, "capabilities",
                                 "clientInfo", "name", "mcpgate", "version", "1.0"));
}

enum mg_err mg_mcp_client_initialized(struct mg_buf *out)
{
    return mg_buf_append_cstr(out,
                              "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

enum mg_err mg_mcp_client_list(struct mg_buf *out, int64_t id, const char *cursor)
{
    json_t *m = json_pack("{s:s, s:I, s:s, s:{}}", "jsonrpc", "2.0", "id", (json_int_t)id, "method",
                          "tools/list", "params");
    if (m && cursor && cursor[0] &&
        !mg_json_set(json_object_get(m, "params"), "cursor", json_string(cursor))) {
        json_decref(m);
        return MG_E_NOMEM;
    }
    return s_dump(out, m);
}

enum mg_err mg_mcp_client_call(struct mg_buf *out, int64_t id, const char *tool,
                               const json_t *arguments)
{
    json_t *args = json_is_object(arguments) ? json_incref((json_t *)arguments) : json_object();
    if (args == NULL)
        return MG_E_NOMEM;
    return s_dump(out,
                  json_pack("{s:s, s:I, s:s, s:{s:s, s:o}}", "jsonrpc", "2.0", "id", (json_int_t)id,
                            "method", "tools/call", "params", "name", tool, "arguments", args));
}

static bool s_visible_ascii(const char *s)
{
    if (s[0] == 0)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

enum mg_err mg_mcp_client_post(struct mg_target_req *req, const char *endpoint,
                               struct mg_slice body, const char *session, const char *version)
{
    snprintf(req->method, sizeof(req->method), "POST");
    MG_TRY(mg_buf_append_cstr(&req->url, endpoint));
    MG_TRY(mg_target_req_header(req, "Content-Type", MG_SLICE_LIT("application/json")));
    MG_TRY(
        mg_target_req_header(req, "Accept", MG_SLICE_LIT("application/json, text/event-stream")));
    if (session && session[0]) {
        if (strlen(session) > MG_MCP_CLIENT_MAX_SESSION || !s_visible_ascii(session))
            return MG_E_INVALID;
        MG_TRY(mg_target_req_header(req, "Mcp-Session-Id", mg_slice_cstr(session)));
    }
    if (version && version[0])
        MG_TRY(mg_target_req_header(req, "MCP-Protocol-Version", mg_slice_cstr(version)));
    return mg_buf_append_slice(&req->body, body);
}

/* ---- answers ------------------------------------------------------------------------------- */

/* The media type of a Content-Type value, without parameters, trimmed. */
static struct mg_slice s_media_type(struct mg_slice ct)
{
    struct mg_slice type;
    (void)mg_slice_split(&ct, ';', &type);
    return mg_slice_trim(type);
}

/* No value nests deeper than max (strings skipped). */
static bool s_depth_ok(struct mg_slice s, int max)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = s.ptr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
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

static bool s_is_response_to(const json_t *v, int64_t id)
{
    const json_t *jid = json_object_get(v, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) != id)
        return false;
    return json_object_get(v, "method") == NULL &&
           (json_object_get(v, "result") != NULL || json_is_object(json_object_get(v, "error")));
}

/* One JSON text: the response to id, or NULL (with *err set when the text is bad). */
static json_t *s_message(struct mg_slice text, int64_t id, enum mg_err *err)
{
    if (!s_depth_ok(text, MG_MCP_CLIENT_MAX_DEPTH)) {
        *err = MG_E_PARSE;
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)text.ptr, text.len, JSON_DECODE_ANY, &je);
    if (v == NULL) {
        *err = MG_E_PARSE;
        return NULL;
    }
    json_t *hit = NULL;
    if (json_is_object(v) && s_is_response_to(v, id)) {
        hit = json_incref(v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *it;
        json_array_foreach(v, i, it)
        {
            if (json_is_object(it) && s_is_response_to(it, id)) {
                hit = json_incref(it);
                break;
            }
        }
    }
    json_decref(v);
    return hit;
}

/* Next line of an SSE stream (CRLF, LF or CR end a line). false at the end. */
static bool s_line(struct mg_slice *rest, struct mg_slice *line)
{
    if (rest->len == 0)
        return false;
    size_t i = 0;
    while (i < rest->len && rest->ptr[i] != '\n' && rest->ptr[i] != '\r')
        i++;
    *line = mg_slice_make(rest->ptr, i);
    size_t skip = i;
    if (i < rest->len) {
        skip++;
        if (rest->ptr[i] == '\r' && i + 1 < rest->len && rest->ptr[i + 1] == '\n')
            skip++;
    }
    rest->ptr += skip;
    rest->len -= skip;
    return true;
}

static enum mg_err s_sse(struct mg_slice body, int64_t id, json_t **response, char *msg, size_t cap)
{
    struct mg_buf data;
    mg_buf_init(&data, body.len + 1);
    struct mg_slice rest = body, line;
    size_t events = 0;
    bool have_data = false, bad = false;
    enum mg_err e = MG_E_OK;
    for (;;) {
        bool more = s_line(&rest, &line);
        if (!more || line.len == 0) {
            /* dispatch (a last event without its blank line too) */
            if (have_data) {
                if (++events > MG_MCP_CLIENT_MAX_EVENTS) {
                    e = MG_E_TOO_LARGE;
                    snprintf(msg, cap, "the answer has more than %d events",
                             MG_MCP_CLIENT_MAX_EVENTS);
                    break;
                }
                enum mg_err me = MG_E_OK;
                json_t *hit = s_message(mg_buf_slice(&data), id, &me);
                if (hit) {
                    *response = hit;
                    break;
                }
                if (me)
                    bad = true; /* keep looking: another event may hold the answer */
            }
            mg_buf_reset(&data);
            have_data = false;
            if (!more) {
                e = bad ? MG_E_PARSE : MG_E_NOT_FOUND;
                snprintf(msg, cap, "%s",
                         bad ? "the event stream carries malformed JSON"
                             : "the event stream ended without the response");
                break;
            }
            continue;
        }
        if (line.ptr[0] == ':')
            continue; /* a comment */
        struct mg_slice field = line, value = {0};
        long colon = mg_slice_find(line, ':');
        if (colon >= 0) {
            field = mg_slice_make(line.ptr, (size_t)colon);
            value = mg_slice_sub(line, (size_t)colon + 1, line.len - (size_t)colon - 1);
            if (value.len && value.ptr[0] == ' ')
                value = mg_slice_sub(value, 1, value.len - 1);
        }
        if (!mg_slice_eq_cstr(field, "data"))
            continue; /* event, id, retry, unknown fields */
        if ((have_data && mg_buf_append_byte(&data, '\n')) || mg_buf_append_slice(&data, value)) {
            e = MG_E_NOMEM;
            snprintf(msg, cap, "out of memory");
            break;
        }
        have_data = true;
    }
    mg_buf_cleanup(&data);
    return *response ? MG_E_OK : e;
}

enum mg_err mg_mcp_client_answer(struct mg_slice content_type, struct mg_slice body, int64_t id,
                                 json_t **response, char *msg, size_t cap)
{
    *response = NULL;
    if (cap)
        msg[0] = 0;
    struct mg_slice mt = s_media_type(content_type);
    if (mg_slice_ieq_cstr(mt, "text/event-stream"))
        return s_sse(body, id, response, msg, cap);
    if (!mg_slice_ieq_cstr(mt, "application/json")) {
        snprintf(msg, cap, "unexpected content type \"" MG_SLICE_FMT "\"",
                 MG_SLICE_ARG(mg_slice_sub(mt, 0, mt.len > 64 ? 64 : mt.len)));
        return MG_E_PARSE;
    }
    enum mg_err e = MG_E_OK;
    *response = s_message(body, id, &e);
    if (*response)
        return MG_E_OK;
    if (e) {
        snprintf(msg, cap, "the answer is not valid JSON");
        return e;
    }
    snprintf(msg, cap, "the answer is not the response to the request");
    return MG_E_NOT_FOUND;
}

/* ---- tools --------------------------------------------------------------------------------- */

static bool s_has_name(const json_t *tools, const char *name)
{
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *n = json_string_value(json_object_get(t, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* One upstream Tool in the "_tools" shape (NULL when out of memory). */
static json_t *s_tool(const json_t *up, const char *name)
{
    const char *desc = json_string_value(json_object_get(up, "description"));
    json_t *in = json_object_get(up, "inputSchema");
    json_t *t = json_pack("{s:s, s:s, s:{s:s}}", "name", name, "description", desc ? desc : "",
                          "_call", "tool", name);
    if (t == NULL)
        return NULL;
    bool ok = json_is_object(in)
                  ? mg_json_set_ref(t, "inputSchema", in)
                  : mg_json_set(t, "inputSchema", json_pack("{s:s}", "type", "object"));
    json_t *outs = json_object_get(up, "outputSchema");
    if (ok && json_is_object(outs))
        ok = mg_json_set_ref(t, "outputSchema", outs);
    static const char *const extra[] = {"title", "annotations", NULL};
    for (int i = 0; ok && extra[i]; i++) {
        json_t *v = json_object_get(up, extra[i]);
        if (v && !json_is_null(v))
            ok = mg_json_set_ref(t, extra[i], v);
    }
    if (!ok) {
        json_decref(t);
        return NULL;
    }
    return t;
}

enum mg_err mg_mcp_client_add_tools(json_t *tools, const json_t *result,
                                    const struct mg_target_limits *lim, char **next_cursor,
                                    char *msg, size_t cap)
{
    *next_cursor = NULL;
    if (cap)
        msg[0] = 0;
    const json_t *list = json_object_get(result, "tools");
    if (!json_is_object(result) || !json_is_array(list)) {
        snprintf(msg, cap, "%s The server's tools/list result has no tools list.",
                 MG_MCP_CLIENT_SYNC_FAILED);
        return MG_E_INVALID;
    }
    const json_t *nc = json_object_get(result, "nextCursor");
    if (nc && !json_is_null(nc) &&
        (!json_is_string(nc) || json_string_length(nc) > MG_MCP_CLIENT_MAX_CURSOR)) {
        snprintf(msg, cap, "%s The server's tools/list result has an invalid nextCursor.",
                 MG_MCP_CLIENT_SYNC_FAILED);
        return MG_E_INVALID;
    }
    size_t i;
    const json_t *up;
    json_array_foreach(list, i, up)
    {
        const char *name = json_string_value(json_object_get(up, "name"));
        if (!json_is_object(up) || name == NULL) {
            snprintf(msg, cap, "%s A tool listed by the server has no name.",
                     MG_MCP_CLIENT_SYNC_FAILED);
            return MG_E_INVALID;
        }
        size_t nl = strlen(name);
        if (!mg_target_tool_name_ok(name)) {
            snprintf(msg, cap,
                     "Invalid tool name '%.64s%s' listed by the MCP server: tool names must "
                     "match [A-Za-z0-9_.-]+",
                     name, nl > 64 ? "..." : "");
            return MG_E_INVALID;
        }
        if (lim->max_name && lim->target_name_len + 3 + nl > lim->max_name) {
            snprintf(msg, cap,
                     "Invalid tool name '%.64s%s' listed by the MCP server: with the target "
                     "name it is longer than %zu characters",
                     name, nl > 64 ? "..." : "", lim->max_name);
            return MG_E_INVALID;
        }
        if (s_has_name(tools, name)) {
            snprintf(msg, cap, "Duplicate tool found in target configuration: %.128s", name);
            return MG_E_INVALID;
        }
        if (lim->max_tools && json_array_size(tools) >= lim->max_tools) {
            snprintf(msg, cap,
                     "The MCP server lists more than %zu tools, the maximum number of tools per "
                     "target",
                     lim->max_tools);
            return MG_E_INVALID;
        }
        if (!mg_json_append(tools, s_tool(up, name))) {
            snprintf(msg, cap, "out of memory");
            return MG_E_NOMEM;
        }
    }
    if (json_is_string(nc) && json_string_length(nc) > 0) {
        *next_cursor = mg_strdup(json_string_value(nc));
        if (*next_cursor == NULL) {
            snprintf(msg, cap, "out of memory");
            return MG_E_NOMEM;
        }
    }
    return MG_E_OK;
}
