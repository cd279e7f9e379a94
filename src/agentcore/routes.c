/* bedrock-agentcore-control: routing of rest-json requests to operations, wire helpers. */
#include <stdio.h>
#include <string.h>

#include "agentcore/internal.h"
#include "app/unsupported.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

/* ---- wire helpers ----------------------------------------------------------------------- */

static void s_send_body(struct mg_call *c, int status, const char *code, json_t *obj)
{
    struct mg_http_exchange *x = c->x;
    struct mg_buf *b = mg_http_body(x);
    mg_buf_reset(b);
    mg_http_add_header(x, "x-amzn-requestid", mg_slice_cstr(c->req->request_id));
    if (code)
        mg_http_add_header(x, "x-amzn-errortype", mg_slice_cstr(code));
    enum mg_err e = MG_E_OK;
    if (status != 204 && obj) {
        char *text = json_dumps(obj, JSON_COMPACT);
        mg_http_add_header(x, "content-type", MG_SLICE_LIT("application/json"));
        e = text ? mg_buf_append_cstr(b, text) : MG_E_NOMEM;
        mg_free(text);
    }
    json_decref(obj);
    if (e) {
        mg_buf_reset(b);
        mg_aws_send_error(x, MG_AWS_REST_JSON, 500, "InternalServerException",
                          "The response could not be built.");
        return;
    }
    mg_http_set_status(x, status);
    mg_http_send(x);
}

void mg_ac_send_json(struct mg_call *c, int status, json_t *obj)
{
    s_send_body(c, status, NULL, obj);
}

void mg_ac_send_error(struct mg_call *c, int status, const char *code, const char *msg)
{
    s_send_body(c, status, code, json_pack("{s:s, s:s}", "__type", code, "message", msg));
}

void mg_ac_send_validation_msg(struct mg_call *c, const char *reason, const char *msg)
{
    s_send_body(c, 400, "ValidationException",
                json_pack("{s:s, s:s, s:s}", "__type", "ValidationException", "message", msg,
                          "reason", reason));
}

void mg_ac_send_validation(struct mg_call *c, const struct mg_ac_verr *v)
{
    char msg[2048];
    mg_ac_verr_message(v, msg, sizeof(msg));
    json_t *o = json_pack("{s:s, s:s, s:s}", "__type", "ValidationException", "message", msg,
                          "reason", v->reason[0] ? v->reason : "FieldValidationFailed");
    if (o && v->n) {
        json_t *fl = json_array();
        for (size_t i = 0; i < v->n; i++)
            json_array_append_new(fl, json_pack("{s:s, s:s}", "name", v->names[i], "message",
                                                v->msgs[i]));
        json_object_set_new(o, "fieldList", fl);
    }
    s_send_body(c, 400, "ValidationException", o);
}

json_t *mg_ac_body(struct mg_call *c)
{
    struct mg_slice b = c->req->body;
    if (b.len == 0)
        return json_object();
    json_error_t err;
    json_t *o = json_loadb((const char *)b.ptr, b.len, JSON_REJECT_DUPLICATES, &err);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        mg_ac_send_error(c, 400, "SerializationException",
                         "The request body could not be read as a JSON object.");
        return NULL;
    }
    return o;
}

const char *mg_ac_query(const struct mg_http_req *r, const char *name, char *buf, size_t cap)
{
    struct mg_slice rest = r->query, part;
    while (rest.len) {
        mg_slice_split(&rest, '&', &part);
        struct mg_slice k;
        struct mg_slice val = part;
        mg_slice_split(&val, '=', &k);
        struct mg_buf kb;
        mg_buf_init(&kb, 256);
        bool match = mg_url_decode(&kb, k, true) == MG_E_OK &&
                     mg_slice_eq_cstr(mg_buf_slice(&kb), name);
        mg_buf_cleanup(&kb);
        if (!match)
            continue;
        struct mg_buf vb;
        mg_buf_init(&vb, cap > 0 ? cap - 1 : 0);
        const char *out = NULL;
        if (mg_url_decode(&vb, val, true) == MG_E_OK && vb.len < cap) {
            mg_memcpy(buf, vb.ptr, vb.len);
            buf[vb.len] = 0;
            out = buf;
        }
        mg_buf_cleanup(&vb);
        return out ? out : "";
    }
    return NULL;
}

void mg_ac_now(char out[32])
{
    int64_t ms = mg_now_ms();
    char iso[25];
    mg_time_iso8601_ms(ms, iso);
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> microseconds like the service */
    snprintf(out, 32, "%.23s000Z", iso);
}

/* The environment the gateway URLs come from (its public URL is known once the server
 * listens): snapshots are built where no call is at hand. */
static const struct mg_env *_Atomic s_url_env;

void mg_ac_set_url_env(const struct mg_env *env)
{
    s_url_env = env;
}

void mg_ac_gateway_url(const char *id, char *out, size_t cap)
{
    const struct mg_env *env = s_url_env;
    const char *tpl = env && env->gateway_url_template ? env->gateway_url_template : "";
    if (tpl[0] == 0) {
        const char *base = env && env->public_url && env->public_url[0] ? env->public_url
                                                                         : "http://127.0.0.1:4777";
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        snprintf(out, cap, "%.*s/gateways/%s/mcp", (int)bl, base, id);
        return;
    }
    size_t off = 0;
    for (const char *p = tpl; *p && off + 1 < cap;) {
        if (strncmp(p, "{id}", 4) == 0) {
            int n = snprintf(out + off, cap - off, "%s", id);
            off += n > 0 ? (size_t)n : 0;
            p += 4;
        } else {
            out[off++] = *p++;
        }
    }
    out[off < cap ? off : cap - 1] = 0;
}

static json_t *s_public(const json_t *doc)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v) {
        if (k[0] != '_')
            json_object_set(o, k, v);
    }
    return o;
}

json_t *mg_ac_public_gateway(const json_t *doc)
{
    json_t *o = s_public(doc);
    const char *id = json_string_value(json_object_get(doc, "gatewayId"));
    if (o && id) {
        char url[1024];
        mg_ac_gateway_url(id, url, sizeof(url));
        json_object_set_new(o, "gatewayUrl", json_string(url));
    }
    return o;
}

json_t *mg_ac_public_target(const json_t *doc)
{
    return s_public(doc);
}

/* ---- identifiers, lookups, authorization ------------------------------------------------ */

bool mg_ac_gateway_ident(struct mg_call *c, const char *ident, char account[13], char id[128])
{
    if (strncmp(ident, "arn:", 4) == 0) {
        struct mg_arn a;
        if (mg_arn_parse(mg_slice_cstr(ident), &a) && mg_slice_eq_cstr(a.service, "bedrock-agentcore") &&
            a.account.len == 12 && mg_slice_starts_with(a.resource, "gateway/") &&
            a.resource.len - 8 < 128) {
            snprintf(account, 13, MG_SLICE_FMT, MG_SLICE_ARG(a.account));
            snprintf(id, 128, "%.*s", (int)(a.resource.len - 8), (const char *)a.resource.ptr + 8);
            if (mg_ac_match_gateway_id(id) &&
                mg_slice_eq_cstr(a.region, c->env->region))
                return true;
        }
    } else if (strlen(ident) < 128 && mg_ac_match_gateway_id(ident)) {
        snprintf(account, 13, "%s", c->principal.account);
        snprintf(id, 128, "%s", ident);
        return true;
    }
    struct mg_ac_verr v = {0};
    char vd[400];
    snprintf(vd, sizeof(vd), "Value '%.200s' at 'gatewayIdentifier' failed to satisfy constraint: "
                             "Member must satisfy regular expression pattern: "
                             "([0-9a-z][-]?){1,100}-[0-9a-z]{10}", ident);
    mg_ac_verr_add(&v, "gatewayIdentifier", "%s", vd);
    mg_ac_send_validation(c, &v);
    return false;
}

const struct mg_snapshot_doc *mg_ac_gateway_doc(struct mg_call *c, const char *account,
                                                const char *id)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, MG_AC_KIND_GATEWAY, account, id);
    if (d == NULL) {
        char msg[256];
        snprintf(msg, sizeof(msg), "Gateway not found: %s", id);
        mg_ac_send_error(c, 404, "ResourceNotFoundException", msg);
    }
    return d;
}

const struct mg_policy *mg_ac_policy_of(struct mg_call *c, const char *arn)
{
    return mg_agentcore_resource_policy(c->snap, mg_slice_cstr(arn));
}

bool mg_ac_authz_gateway(struct mg_call *c, const char *action, const json_t *gw,
                         const struct mg_authz_extra *extra)
{
    const char *arn = json_string_value(json_object_get(gw, "gatewayArn"));
    if (arn == NULL)
        arn = "*";
    struct mg_authz_resource res = {.arn = arn,
                                    .policy = mg_ac_policy_of(c, arn),
                                    .tags = json_object_get(gw, "_tags")};
    return mg_authz(c, action, &res, extra);
}

/* ---- routing ---------------------------------------------------------------------------- */

/* Features of bedrock-agentcore-control that mcpgate does not serve, by first path segment. */
static const struct {
    const char *segment, *feature;
} s_unsupported[] = {
    {"runtimes", "AgentCore Runtime"},
    {"memories", "AgentCore Memory"},
    {"browsers", "AgentCore Browser"},
    {"browser-profiles", "AgentCore Browser profiles"},
    {"code-interpreters", "AgentCore Code Interpreter"},
    {"identities", "AgentCore Identity (credential providers, workload identities, token vault)"},
    {"policy-engines", "AgentCore Policy (policy engines)"},
    {"policy-engine-summaries", "AgentCore Policy (policy engines)"},
    {"evaluators", "AgentCore Evaluations"},
    {"online-evaluation-configs", "AgentCore Evaluations"},
    {"datasets", "AgentCore datasets"},
    {"capacity-providers", "AgentCore capacity providers"},
    {"configuration-bundles", "AgentCore configuration bundles"},
    {"harnesses", "AgentCore harnesses"},
    {"payments", "AgentCore payments"},
    {"registries", "AgentCore registries"},
};

/* feature: what the path belongs to, or NULL */
static void s_unknown(struct mg_call *c, const char *feature)
{
    mg_app_unsupported_rest(c, MG_APP_SVC_AGENTCORE_CONTROL, feature);
}

#define S_MAX_SEGS 6

/* Splits the raw path into percent-decoded segments (trailing slash ignored). */
static int s_segments(struct mg_slice path, char segs[S_MAX_SEGS][1100])
{
    int n = 0;
    struct mg_slice rest = path, part;
    if (rest.len && rest.ptr[0] == '/')
        rest = mg_slice_sub(rest, 1, rest.len);
    while (rest.len) {
        mg_slice_split(&rest, '/', &part);
        if (part.len == 0 && rest.len == 0)
            break;
        if (n >= S_MAX_SEGS || part.len >= 1100 * 3)
            return -1;
        struct mg_buf b;
        mg_buf_init(&b, 1099);
        enum mg_err e = mg_url_decode(&b, part, false);
        if (e == MG_E_OK && b.len < 1100 && (b.len == 0 || memchr(b.ptr, 0, b.len) == NULL)) {
            if (b.len)
                mg_memcpy(segs[n], b.ptr, b.len);
            segs[n][b.len] = 0;
        } else {
            mg_buf_cleanup(&b);
            return -1;
        }
        mg_buf_cleanup(&b);
        n++;
    }
    return n;
}

void mg_agentcore_handle(struct mg_call *c)
{
    static _Thread_local char tsegs[S_MAX_SEGS][1100];
    const struct mg_http_req *r = c->req;
    int n = s_segments(r->path, tsegs);
    struct mg_slice m = r->method;
    bool get = mg_slice_eq_cstr(m, "GET"), post = mg_slice_eq_cstr(m, "POST"),
         put = mg_slice_eq_cstr(m, "PUT"), del = mg_slice_eq_cstr(m, "DELETE");
    char (*s)[1100] = tsegs;
    if (n < 0) {
        mg_ac_send_validation_msg(c, "CannotParse", "The request path could not be decoded.");
        return;
    }
    if (n >= 1 && strcmp(s[0], "gateways") == 0) {
        if (n == 1) {
            if (post)
                return mg_ac_create_gateway(c);
            if (get)
                return mg_ac_list_gateways(c);
        } else if (n == 2) {
            if (get)
                return mg_ac_get_gateway(c, s[1]);
            if (put)
                return mg_ac_update_gateway(c, s[1]);
            if (del)
                return mg_ac_delete_gateway(c, s[1]);
        } else if (n == 3 && strcmp(s[2], "targets") == 0) {
            if (post)
                return mg_ac_create_target(c, s[1]);
            if (get)
                return mg_ac_list_targets(c, s[1]);
        } else if (n == 4 && strcmp(s[2], "targets") == 0) {
            if (get)
                return mg_ac_get_target(c, s[1], s[3]);
            if (put)
                return mg_ac_update_target(c, s[1], s[3]);
            if (del)
                return mg_ac_delete_target(c, s[1], s[3]);
        } else if (n == 3 && strcmp(s[2], "synchronizeTargets") == 0) {
            if (put)
                return mg_ac_sync_targets(c, s[1]);
        } else if (n >= 3 && strcmp(s[2], "rules") == 0) {
            return s_unknown(c, "Gateway rules");
        } else if (n >= 3 && strcmp(s[2], "rate-limits") == 0) {
            return s_unknown(c, "Gateway rate limits");
        }
    } else if (n == 2 && strcmp(s[0], "resourcepolicy") == 0) {
        if (put)
            return mg_ac_put_policy(c, s[1]);
        if (get)
            return mg_ac_get_policy(c, s[1]);
        if (del)
            return mg_ac_delete_policy(c, s[1]);
    } else if (n == 2 && strcmp(s[0], "tags") == 0) {
        if (post)
            return mg_ac_tag(c, s[1]);
        if (del)
            return mg_ac_untag(c, s[1]);
        if (get)
            return mg_ac_list_tags(c, s[1]);
    } else if (n >= 1) {
        for (size_t i = 0; i < sizeof(s_unsupported) / sizeof(s_unsupported[0]); i++)
            if (strcmp(s[0], s_unsupported[i].segment) == 0)
                return s_unknown(c, s_unsupported[i].feature);
    }
    s_unknown(c, NULL);
}
