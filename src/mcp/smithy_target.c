/* tools/call of Smithy targets: endpoint, serialization and signing scope of a request, and the
 * tool result of its answer (mcp/smithy_target.h); http_target.c drives the call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "mcp/smithy_target.h"

/* The signing names of the AWS APIs mcpgate serves itself. */
static bool s_served(const char *signing_name)
{
    static const char *const served[] = {"lambda", "iam", "sts", "bedrock-agentcore"};
    for (size_t i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        if (strcmp(served[i], signing_name) == 0)
            return true;
    return false;
}

static bool s_host_label_ok(const char *s)
{
    if (s == NULL || s[0] == 0 || strlen(s) > 63)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return false;
    return true;
}

enum mg_err mg_mcp_smithy_endpoint(const struct mg_env *env, const char *region, const json_t *call,
                                   char *out, size_t cap, char *msg, size_t msg_cap)
{
    const char *sn = json_string_value(json_object_get(call, "signingName"));
    const char *prefix = json_string_value(json_object_get(call, "endpointPrefix"));
    if (sn == NULL || sn[0] == 0 || strlen(sn) > 64) {
        snprintf(msg, msg_cap, "The tool's Smithy model names no signing name.");
        return MG_E_INVALID;
    }
    char var[96] = "MCPGATE_SMITHY_ENDPOINT_";
    size_t n = strlen(var);
    for (const char *p = sn; *p && n + 1 < sizeof(var); p++) {
        char ch = *p;
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            ch = '_';
        var[n++] = ch;
    }
    var[n] = 0;
    const char *over = getenv(var);
    bool ok;
    if (over && over[0])
        ok = mg_fmt(out, cap, "%s", over);
    else if (s_served(sn) && env->public_url && env->public_url[0])
        ok = mg_fmt(out, cap, "%s", env->public_url);
    else {
        if (prefix == NULL)
            prefix = sn;
        if (!s_host_label_ok(prefix) || !s_host_label_ok(region)) {
            snprintf(msg, msg_cap,
                     "The Smithy target's endpoint cannot be formed from endpoint prefix %.64s "
                     "and region %.32s.",
                     prefix, region ? region : "");
            return MG_E_INVALID;
        }
        ok = mg_fmt(out, cap, "https://%s.%s.amazonaws.com", prefix, region);
    }
    if (!ok) {
        snprintf(msg, msg_cap, "The Smithy target's endpoint is too long.");
        return MG_E_INVALID;
    }
    /* no trailing slash: the request's path follows */
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = 0;
    return MG_E_OK;
}

enum mg_err mg_mcp_smithy_build(const struct mg_env *env, const json_t *call,
                                const json_t *arguments, const char *region,
                                struct mg_vault_cred *cred, struct mg_target_req *req, char *msg,
                                size_t cap)
{
    char endpoint[1024];
    if (region == NULL || region[0] == 0)
        region = env->region;
    MG_TRY(mg_mcp_smithy_endpoint(env, region, call, endpoint, sizeof(endpoint), msg, cap));
    if (cred && cred->type == MG_CRED_GATEWAY_IAM_ROLE) {
        const char *sn = json_string_value(json_object_get(call, "signingName"));
        if (!mg_fmt(cred->service, sizeof(cred->service), "%s", sn)) {
            snprintf(msg, cap, "The Smithy model's signing name is too long.");
            return MG_E_INVALID;
        }
        if (cred->region[0] == 0 && region &&
            !mg_fmt(cred->region, sizeof(cred->region), "%s", region)) {
            snprintf(msg, cap, "The gateway's region is too long.");
            return MG_E_INVALID;
        }
    }
    return mg_smithy_request(call, arguments, endpoint, req, msg, cap);
}

json_t *mg_mcp_smithy_result(const json_t *call, const struct mg_http_out_resp *resp)
{
    struct mg_slice ct = {0}, et = {0};
    (void)mg_http_out_header(resp, "content-type", &ct);
    json_t *r = mg_smithy_result(call, resp->status, ct, mg_buf_slice(&resp->body));
    if (r == NULL || !json_is_true(json_object_get(r, "isError")) ||
        !mg_http_out_header(resp, "x-amzn-errortype", &et) || et.len == 0)
        return r;
    json_t *sc = json_object_get(r, "structuredContent");
    if (json_object_get(sc, "type"))
        return r; /* the body named it */
    /* "Code:http://internal..." -> "Code" */
    long colon = mg_slice_find(et, ':');
    if (colon >= 0)
        et.len = (size_t)colon;
    if (et.len > 256)
        et.len = 256;
    json_t *type = json_stringn((const char *)et.ptr, et.len);
    json_t *item = json_array_get(json_object_get(r, "content"), 0);
    const char *old = json_string_value(json_object_get(item, "text"));
    char *text = NULL;
    bool ok = type != NULL;
    if (ok) {
        struct mg_buf b;
        mg_buf_init(&b, et.len + 3 + (old ? strlen(old) : 0));
        ok = mg_buf_append_slice(&b, et) == MG_E_OK && mg_buf_append_cstr(&b, ": ") == MG_E_OK &&
             mg_buf_append_cstr(&b, old ? old : "") == MG_E_OK;
        text = ok ? mg_slice_dup(mg_buf_slice(&b)) : NULL;
        ok = ok && text != NULL;
        mg_buf_cleanup(&b);
    }
    ok = ok && mg_json_set_ref(sc, "type", type) && mg_json_set(item, "text", json_string(text));
    json_decref(type);
    mg_free(text);
    if (!ok) {
        json_decref(r);
        return NULL;
    }
    return r;
}
