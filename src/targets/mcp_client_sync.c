/* The blocking synchronization of an MCP-server target: initialize, notifications/initialized,
 * every page of tools/list, then DELETE of the upstream session; for the control plane's
 * background thread only (mg_http_fetch_sync). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "targets/mcp_client.h"

struct s_sess {
    const struct mg_mcp_client_sync *s;
    uint64_t deadline_ns;
    bool refreshed; /* credentials were fetched anew after a 401 (once per synchronization) */
    char session[MG_MCP_CLIENT_MAX_SESSION + 1];
    char version[16];
};

static long s_left_ms(const struct s_sess *ss)
{
    uint64_t now = mg_mono_ns();
    if (now >= ss->deadline_ns)
        return 0;
    return (long)((ss->deadline_ns - now) / 1000000u);
}

/* Sends one request (method POST with body, or DELETE) and waits for the answer; a 401 is
 * retried once with fresh credentials. false with the reason when nothing usable came back. */
static bool s_send(struct s_sess *ss, const char *method, struct mg_slice body, const char *what,
                   long max_ms, struct mg_http_out_resp *resp, char *reason, size_t cap)
{
    const struct mg_mcp_client_sync *s = ss->s;
    for (int attempt = 0;; attempt++) {
        memset(resp, 0, sizeof(*resp));
        long left = s_left_ms(ss);
        if (left <= 0) {
            snprintf(reason, cap, "%s The MCP server did not answer %s within %ld seconds.",
                     MG_MCP_CLIENT_SYNC_FAILED, what,
                     (s->total_ms ? s->total_ms : MG_MCP_CLIENT_SYNC_MS) / 1000);
            return false;
        }
        struct mg_target_req req;
        mg_target_req_init(&req);
        enum mg_err e = mg_mcp_client_post(&req, s->endpoint, body,
                                           ss->session[0] ? ss->session : NULL,
                                           ss->version[0] ? ss->version : NULL);
        if (e == MG_E_OK && strcmp(method, "POST") != 0)
            snprintf(req.method, sizeof(req.method), "%s", method);
        char m[256] = "";
        if (e == MG_E_OK && s->cred) {
            /* fresh credentials only for the retry after a 401: the requests after it reuse
             * them (asking with refresh on every request would fetch a token per request) */
            e = s->cred(s->cred_arg, attempt > 0, &req, m, sizeof(m));
            if (e) {
                mg_target_req_cleanup(&req);
                snprintf(reason, cap,
                         "%s The outbound credentials of the target could not be obtained: %s",
                         MG_MCP_CLIENT_SYNC_FAILED, m[0] ? m : mg_err_str(e));
                return false;
            }
        }
        if (e) {
            mg_target_req_cleanup(&req);
            snprintf(reason, cap, "%s The request could not be built (%s).",
                     MG_MCP_CLIENT_SYNC_FAILED, mg_err_str(e));
            return false;
        }
        struct mg_http_out_req out;
        mg_target_req_view(&req, &out);
        long step = s->step_ms ? s->step_ms : MG_MCP_CLIENT_STEP_MS;
        if (max_ms && max_ms < step)
            step = max_ms;
        out.timeout_ms = left < step ? left : step;
        out.connect_timeout_ms = out.timeout_ms < MG_HTTP_CLIENT_CONNECT_MS
                                     ? out.timeout_ms
                                     : MG_HTTP_CLIENT_CONNECT_MS;
        out.ca_file = s->ca_file;
        mg_http_fetch_sync(s->http, &out, resp);
        mg_target_req_cleanup(&req);
        if (resp->err == MG_E_OK && resp->status == 401 && s->cred && !ss->refreshed &&
            attempt == 0) {
            ss->refreshed = true;
            mg_http_out_resp_cleanup(resp);
            continue;
        }
        break;
    }
    switch (resp->err) {
    case MG_E_OK: return true;
    case MG_E_INVALID:
        snprintf(reason, cap, "%s The endpoint was refused: %s.", MG_MCP_CLIENT_SYNC_FAILED,
                 resp->msg);
        break;
    case MG_E_TOO_LARGE:
        snprintf(reason, cap, "%s The MCP server's answer to %s is too large.",
                 MG_MCP_CLIENT_SYNC_FAILED, what);
        break;
    default:
        if (resp->timed_out)
            snprintf(reason, cap, "%s The MCP server did not answer %s in time (%s).",
                     MG_MCP_CLIENT_SYNC_FAILED, what, resp->msg);
        else
            snprintf(reason, cap, "%s Unable to connect to the MCP server (%s).",
                     MG_MCP_CLIENT_SYNC_FAILED, resp->msg[0] ? resp->msg : mg_err_str(resp->err));
        break;
    }
    mg_http_out_resp_cleanup(resp);
    memset(resp, 0, sizeof(*resp));
    return false;
}

/* A request with a response: the response's result (a new reference) or NULL with reason. */
static json_t *s_request(struct s_sess *ss, struct mg_slice body, int64_t id, const char *what,
                         struct mg_http_out_resp *resp, char *reason, size_t cap)
{
    if (!s_send(ss, "POST", body, what, 0, resp, reason, cap))
        return NULL;
    if (resp->status < 200 || resp->status > 299) {
        snprintf(reason, cap, "%s The MCP server answered %s with HTTP status %ld.",
                 MG_MCP_CLIENT_SYNC_FAILED, what, resp->status);
        return NULL;
    }
    struct mg_slice ct = {0};
    (void)mg_http_out_header(resp, "content-type", &ct);
    json_t *r = NULL;
    char m[160];
    enum mg_err e = mg_mcp_client_answer(ct, mg_buf_slice(&resp->body), id, &r, m, sizeof(m));
    if (e) {
        snprintf(reason, cap, "%s The MCP server's answer to %s could not be read: %s.",
                 MG_MCP_CLIENT_SYNC_FAILED, what, m);
        return NULL;
    }
    const json_t *err = json_object_get(r, "error");
    if (err) {
        const char *em = json_string_value(json_object_get(err, "message"));
        snprintf(reason, cap, "%s The MCP server answered %s with error %lld: %.300s",
                 MG_MCP_CLIENT_SYNC_FAILED, what,
                 (long long)json_integer_value(json_object_get(err, "code")), em ? em : "");
        json_decref(r);
        return NULL;
    }
    json_t *result = json_incref(json_object_get(r, "result"));
    json_decref(r);
    return result;
}

static bool s_initialize(struct s_sess *ss, char *reason, size_t cap)
{
    struct mg_buf body;
    mg_buf_init(&body, 4096);
    struct mg_http_out_resp resp;
    bool ok = false;
    json_t *result = NULL;
    if (mg_mcp_client_initialize(&body, 1)) {
        snprintf(reason, cap, "out of memory");
        goto out;
    }
    result = s_request(ss, mg_buf_slice(&body), 1, "initialize", &resp, reason, cap);
    if (result == NULL)
        goto done;
    struct mg_slice sid;
    if (mg_http_out_header(&resp, "mcp-session-id", &sid)) {
        bool visible = sid.len > 0 && sid.len <= MG_MCP_CLIENT_MAX_SESSION;
        for (size_t i = 0; visible && i < sid.len; i++)
            visible = sid.ptr[i] >= 0x21 && sid.ptr[i] <= 0x7e;
        if (!visible) {
            snprintf(reason, cap, "%s The MCP server's session id is not valid.",
                     MG_MCP_CLIENT_SYNC_FAILED);
            goto done;
        }
        mg_memcpy(ss->session, sid.ptr, sid.len);
        ss->session[sid.len] = 0;
    }
    const char *v = json_string_value(json_object_get(result, "protocolVersion"));
    if (v == NULL || !mg_mcp_client_version_ok(mg_slice_cstr(v))) {
        snprintf(reason, cap,
                 "%s The MCP server's protocol version %.32s is not supported (2025-03-26, "
                 "2025-06-18 and 2025-11-25 are).",
                 MG_MCP_CLIENT_SYNC_FAILED, v ? v : "(none)");
        goto done;
    }
    snprintf(ss->version, sizeof(ss->version), "%s", v);
    if (!json_is_object(json_object_get(json_object_get(result, "capabilities"), "tools"))) {
        snprintf(reason, cap, "%s The MCP server does not declare the tools capability.",
                 MG_MCP_CLIENT_SYNC_FAILED);
        goto done;
    }
    ok = true;
done:
    mg_http_out_resp_cleanup(&resp);
out:
    json_decref(result);
    mg_buf_cleanup(&body);
    return ok;
}

static bool s_initialized(struct s_sess *ss, char *reason, size_t cap)
{
    struct mg_buf body;
    mg_buf_init(&body, 256);
    struct mg_http_out_resp resp;
    bool ok = false;
    if (mg_mcp_client_initialized(&body)) {
        snprintf(reason, cap, "out of memory");
        goto out;
    }
    if (!s_send(ss, "POST", mg_buf_slice(&body), "notifications/initialized", 0, &resp, reason,
                cap))
        goto out;
    ok = resp.status >= 200 && resp.status <= 299;
    if (!ok)
        snprintf(reason, cap,
                 "%s The MCP server answered notifications/initialized with HTTP "
                 "status %ld.",
                 MG_MCP_CLIENT_SYNC_FAILED, resp.status);
    mg_http_out_resp_cleanup(&resp);
out:
    mg_buf_cleanup(&body);
    return ok;
}

static bool s_list(struct s_sess *ss, json_t *tools, char *reason, size_t cap)
{
    char *cursor = NULL;
    bool ok = false;
    for (int page = 0; page < MG_MCP_CLIENT_MAX_PAGES; page++) {
        struct mg_buf body;
        mg_buf_init(&body, MG_MCP_CLIENT_MAX_CURSOR * 2 + 256);
        int64_t id = 2 + page;
        if (mg_mcp_client_list(&body, id, cursor)) {
            mg_buf_cleanup(&body);
            snprintf(reason, cap, "out of memory");
            goto out;
        }
        struct mg_http_out_resp resp;
        json_t *result = s_request(ss, mg_buf_slice(&body), id, "tools/list", &resp, reason, cap);
        mg_buf_cleanup(&body);
        mg_http_out_resp_cleanup(&resp);
        if (result == NULL)
            goto out;
        mg_free(cursor);
        cursor = NULL;
        enum mg_err e = mg_mcp_client_add_tools(tools, result, &ss->s->lim, &cursor, reason, cap);
        json_decref(result);
        if (e)
            goto out;
        if (cursor == NULL) {
            ok = true;
            goto out;
        }
    }
    snprintf(reason, cap, "%s The MCP server's tools/list has more than %d pages.",
             MG_MCP_CLIENT_SYNC_FAILED, MG_MCP_CLIENT_MAX_PAGES);
out:
    mg_free(cursor);
    return ok;
}

enum mg_err mg_mcp_client_sync_tools(const struct mg_mcp_client_sync *s, json_t **tools,
                                     char *reason, size_t cap)
{
    *tools = NULL;
    if (cap)
        reason[0] = 0;
    struct s_sess ss;
    memset(&ss, 0, sizeof(ss));
    ss.s = s;
    long total = s->total_ms ? s->total_ms : MG_MCP_CLIENT_SYNC_MS;
    ss.deadline_ns = mg_mono_ns() + (uint64_t)total * 1000000u;
    json_t *list = json_array();
    if (list == NULL) {
        snprintf(reason, cap, "out of memory");
        return MG_E_NOMEM;
    }
    bool ok = s_initialize(&ss, reason, cap) && s_initialized(&ss, reason, cap) &&
              s_list(&ss, list, reason, cap);
    if (ss.session[0]) {
        /* end the upstream session: best effort, briefly */
        struct mg_http_out_resp resp;
        char ignored[64];
        if (s_send(&ss, "DELETE", (struct mg_slice){0}, "DELETE", 2000, &resp, ignored,
                   sizeof(ignored)))
            mg_http_out_resp_cleanup(&resp);
    }
    if (!ok) {
        json_decref(list);
        return MG_E_UPSTREAM;
    }
    *tools = list;
    return MG_E_OK;
}
