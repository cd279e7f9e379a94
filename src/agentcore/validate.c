/* Request rules of the control plane that the service model does not express, in AWS's
 * ValidationException form: cross-field rules, the tool schema rules, what mcpgate does not
 * serve, and mcpgate's own limits. The model's constraints (required members, lengths, patterns,
 * enums, ranges, unions, types) are checked by the operation layer before a handler runs
 * (mg_call_serve), so the values seen here already have the model's types. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agentcore/internal.h"
#include "oidc/oidc.h"
#include "targets/targets.h"
#include "base/util.h"

/* ---- error collection ------------------------------------------------------------------- */

void mg_ac_verr_add(struct mg_ac_verr *v, const char *field, const char *fmt, ...)
{
    if (v->n >= MG_AC_VERR_MAX)
        return;
    snprintf(v->names[v->n], sizeof(v->names[0]), "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->msgs[v->n], sizeof(v->msgs[0]), fmt, ap);
    va_end(ap);
    v->n++;
}

void mg_ac_verr_rule(struct mg_ac_verr *v, const char *fmt, ...)
{
    if (v->plain[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->plain, sizeof(v->plain), fmt, ap);
    va_end(ap);
}

bool mg_ac_verr_any(const struct mg_ac_verr *v)
{
    return v->n > 0 || v->plain[0];
}

void mg_ac_verr_message(const struct mg_ac_verr *v, char *out, size_t cap)
{
    if (v->n == 0) {
        snprintf(out, cap, "%s", v->plain);
        return;
    }
    size_t off = 0;
    int n = snprintf(out, cap, "%zu validation error%s detected: ", v->n, v->n == 1 ? "" : "s");
    off = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < v->n && off < cap; i++) {
        n = snprintf(out + off, cap - off, "%s%s", i ? "; " : "", v->msgs[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

/* ---- the model's patterns ---------------------------------------------------------------- */

/* The pattern (string index) of a member of a control-plane operation's input, or 0. */
static uint32_t s_member_pattern(const char *op, const char *member)
{
    const struct mg_aws_op *o = mg_aws_op_find(MG_AWS_SVC_AGENTCORE_CONTROL, mg_slice_cstr(op));
    const struct mg_aws_shape *in = o ? mg_aws_shape(o->input) : NULL;
    for (size_t i = 0; in != NULL && i < in->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(in, i);
        if (strcmp(mg_aws_str(m->name), member) == 0)
            return mg_aws_shape(m->target)->pattern;
    }
    return 0;
}

static bool s_model_match(const char *op, const char *member, const char *s)
{
    uint32_t p = s_member_pattern(op, member);
    return s != NULL && p != 0 && mg_aws_pattern_match(p, mg_slice_cstr(s));
}

bool mg_ac_match_gateway_id(const char *s)
{
    return s_model_match("GetGateway", "gatewayIdentifier", s);
}

bool mg_ac_match_target_id(const char *s)
{
    return s_model_match("GetGatewayTarget", "targetId", s);
}

bool mg_ac_match_tool_name(const char *s)
{
    return mg_target_tool_name_ok(s);
}

static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static bool s_set(const json_t *o, const char *key)
{
    const json_t *m = json_object_get(o, key);
    return m != NULL && !json_is_null(m);
}

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The member of a union that is set (the model checked there is exactly one), or NULL. */
static const char *s_union_member(const json_t *u)
{
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)u, k, val)
    {
        if (!json_is_null(val))
            return k;
    }
    return NULL;
}

/* ---- gateways --------------------------------------------------------------------------- */

/* The versions AgentCore accepts in supportedVersions, and whether mcpgate's data plane speaks
 * each: a list naming none that it speaks would make a gateway that answers nothing. */
static const struct {
    const char *name;
    bool served;
} s_mcp_versions[] = {
    {"2025-03-26", true},
    {"2025-06-18", true},
    {"2025-11-25", true},
    {"2026-07-28", false},
};
#define S_N_MCP_VERSIONS (sizeof(s_mcp_versions) / sizeof(s_mcp_versions[0]))

/* customJWTAuthorizer beyond the model's shapes (docs/inbound-jwt.md). */
#define S_JWT_MAX_LIST 100 /* entries of each list: the model sets no maximum */

static void s_validate_jwt(const json_t *jwt, struct mg_ac_verr *v)
{
    char why[256];
    const char *url = s_str(jwt, "discoveryUrl");
    if (url && !mg_oidc_url_ok(url, why, sizeof(why)))
        mg_ac_verr_rule(v, "Invalid discoveryUrl: %s", why);
    static const char *const lists[] = {"allowedAudience", "allowedClients", "allowedScopes",
                                        "customClaims"};
    bool any = false;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        size_t n = json_array_size(json_object_get(jwt, lists[i]));
        any = any || n > 0;
        if (n > S_JWT_MAX_LIST)
            mg_ac_verr_rule(v, "%s has %zu entries; mcpgate accepts at most %d", lists[i], n,
                            S_JWT_MAX_LIST);
    }
    if (!any)
        mg_ac_verr_rule(v, "At least one of allowedAudience, allowedClients, allowedScopes or "
                           "customClaims must be configured for the CUSTOM_JWT authorizer");
    const json_t *map = json_object_get(jwt, "advertisedScopeMapping");
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)map, k, val)
    {
        bool found = false;
        size_t i;
        json_t *sc;
        json_array_foreach(json_object_get(jwt, "allowedScopes"), i, sc)
            found = found || (json_is_string(sc) && strcmp(json_string_value(sc), k) == 0);
        if (!found)
            mg_ac_verr_rule(v, "advertisedScopeMapping key %s is not in allowedScopes", k);
    }
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(jwt, "customClaims"), i, c)
    {
        const char *vt = s_str(c, "inboundTokenClaimValueType");
        const json_t *m = json_object_get(c, "authorizingClaimMatchValue");
        const char *op = s_str(m, "claimMatchOperator");
        const json_t *mv = json_object_get(m, "claimMatchValue");
        bool one = s_set(mv, "matchValueString"), many = s_set(mv, "matchValueStringList");
        if (!vt || !op)
            continue; /* the model's required members: reported by the model's validation */
        bool ok = (strcmp(vt, "STRING") == 0 && strcmp(op, "EQUALS") == 0 && one) ||
                  (strcmp(vt, "STRING_ARRAY") == 0 && strcmp(op, "CONTAINS") == 0 && one) ||
                  (strcmp(vt, "STRING_ARRAY") == 0 && strcmp(op, "CONTAINS_ANY") == 0 && many);
        if (!ok)
            mg_ac_verr_rule(v,
                            "customClaims[%zu]: %s with %s needs %s; the combinations are STRING "
                            "+ EQUALS + matchValueString, STRING_ARRAY + CONTAINS + "
                            "matchValueString and STRING_ARRAY + CONTAINS_ANY + "
                            "matchValueStringList",
                            i, vt, op,
                            strcmp(op, "CONTAINS_ANY") == 0 ? "matchValueStringList"
                                                            : "matchValueString");
        if (json_array_size(json_object_get(mv, "matchValueStringList")) > S_JWT_MAX_LIST)
            mg_ac_verr_rule(v, "customClaims[%zu].matchValueStringList has more than %d entries", i,
                            S_JWT_MAX_LIST);
    }
}

void mg_ac_validate_gateway(const json_t *b, bool update, struct mg_ac_verr *v)
{
    (void)update;
    const json_t *mcp = json_object_get(json_object_get(b, "protocolConfiguration"), "mcp");
    const json_t *vers = json_object_get(mcp, "supportedVersions");
    size_t i;
    json_t *e;
    bool bad = false, served = false;
    json_array_foreach(vers, i, e)
    {
        bool ok = false;
        for (size_t k = 0; k < S_N_MCP_VERSIONS && json_is_string(e); k++) {
            if (strcmp(s_mcp_versions[k].name, json_string_value(e)) == 0) {
                ok = true;
                served = served || s_mcp_versions[k].served;
            }
        }
        bad = bad || !ok;
    }
    if (bad)
        mg_ac_verr_rule(v, "Unsupported MCP Version(s) are provided in request");
    else if (json_array_size(vers) > 0 && !served)
        mg_ac_verr_rule(v, "Unsupported MCP Version(s) are provided in request. mcpgate does not "
                           "serve 2026-07-28 yet: list 2025-03-26, 2025-06-18 or 2025-11-25 as "
                           "well.");

    const char *atype = s_str(b, "authorizerType");
    bool has_ac = s_set(b, "authorizerConfiguration");
    if (atype && strcmp(atype, "CUSTOM_JWT") == 0 && !has_ac)
        mg_ac_verr_rule(v, "AuthorizerConfiguration is required for CUSTOM_JWT authorizer type");
    if (atype &&
        (strcmp(atype, "AWS_IAM") == 0 || strcmp(atype, "NONE") == 0 ||
         strcmp(atype, "AUTHENTICATE_ONLY") == 0) &&
        has_ac)
        mg_ac_verr_rule(v, "AuthorizerConfiguration should be null for %s AuthorizerType", atype);
    const json_t *jwt = json_object_get(json_object_get(b, "authorizerConfiguration"),
                                        "customJWTAuthorizer");
    if (atype && strcmp(atype, "CUSTOM_JWT") == 0 && jwt)
        s_validate_jwt(jwt, v);
    if (s_set(jwt, "privateEndpoint") || s_set(jwt, "privateEndpointOverrides"))
        mg_ac_verr_rule(v, "Private endpoints for the JWT authorizer are not supported by "
                           "mcpgate");

    /* one interceptor per interception point */
    bool seen[2] = {false, false}, dup = false;
    json_t *ic;
    json_array_foreach(json_object_get(b, "interceptorConfigurations"), i, ic)
    {
        size_t k;
        json_t *pt;
        json_array_foreach(json_object_get(ic, "interceptionPoints"), k, pt)
        {
            const char *p = json_string_value(pt);
            int which = p && strcmp(p, "REQUEST") == 0    ? 0
                        : p && strcmp(p, "RESPONSE") == 0 ? 1
                                                          : -1;
            if (which >= 0) {
                dup = dup || seen[which];
                seen[which] = true;
            }
        }
    }
    if (dup)
        mg_ac_verr_rule(v, "Only one interceptor configuration per interception point can be "
                           "defined");
    if (s_set(b, "policyEngineConfiguration"))
        mg_ac_verr_rule(v, "policyEngineConfiguration is not supported by mcpgate: policy "
                           "engines (Cedar) are not implemented");
}

/* ---- targets ---------------------------------------------------------------------------- */

#define S_SCHEMA_MAX_DEPTH 32

/* $ref anywhere in a schema (properties, items), depth-limited. */
static void s_schema_refs(const json_t *s, const char *path, int depth, struct mg_ac_verr *v)
{
    if (!json_is_object(s) || depth > S_SCHEMA_MAX_DEPTH || v->n >= MG_AC_VERR_MAX)
        return;
    if (json_object_get(s, "$ref")) {
        mg_ac_verr_add(v, path,
                       "Value at '%s' failed to satisfy constraint: $ref is not "
                       "supported in tool schemas; define every schema inline",
                       path);
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)json_object_get(s, "properties"), k, val)
    {
        char p2[512];
        snprintf(p2, sizeof(p2), "%s.properties.%.100s", path, k);
        s_schema_refs(val, p2, depth + 1, v);
    }
    char p3[512];
    snprintf(p3, sizeof(p3), "%s.items", path);
    s_schema_refs(json_object_get(s, "items"), p3, depth + 1, v);
}

void mg_ac_check_schema_refs(const json_t *b, struct mg_ac_verr *v)
{
    static const char base[] = "targetConfiguration.mcp.lambda.toolSchema.inlinePayload";
    const json_t *tools = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(b, "targetConfiguration"),
                                                        "mcp"),
                                        "lambda"),
                        "toolSchema"),
        "inlinePayload");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        char path[160];
        snprintf(path, sizeof(path), "%s.%zu.inputSchema", base, i + 1);
        s_schema_refs(json_object_get(t, "inputSchema"), path, 0, v);
        snprintf(path, sizeof(path), "%s.%zu.outputSchema", base, i + 1);
        s_schema_refs(json_object_get(t, "outputSchema"), path, 0, v);
    }
}

/* mcpgate's rules for the tools of a lambda target: at least one, names in MCP's tool-name
 * alphabet (the full name TARGET___TOOL must stay in it) and within the configured length. */
static void s_validate_tools(const json_t *tools, size_t name_len, struct mg_ac_verr *v)
{
    static const char base[] = "targetConfiguration.mcp.lambda.toolSchema.inlinePayload";
    if (json_array_size(tools) == 0) {
        mg_ac_verr_rule(v, "No Lambda tool schema found in target configuration");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = s_str(t, "name");
        if (name == NULL)
            continue;
        char path[160];
        snprintf(path, sizeof(path), "%s.%zu.name", base, i + 1);
        /* tool definitions are sensitive: the name is not echoed */
        if (name[0] == 0 || s_chars(name) > name_len)
            mg_ac_verr_add(v, path,
                           "Value at '%s' failed to satisfy constraint: Member must have "
                           "length between 1 and %zu",
                           path, name_len);
        else if (!mg_ac_match_tool_name(name))
            mg_ac_verr_add(v, path,
                           "Value at '%s' failed to satisfy constraint: Member must "
                           "satisfy regular expression pattern: [A-Za-z0-9_.-]+",
                           path);
        if (v->n >= MG_AC_VERR_MAX)
            return;
    }
}

/* The credential provider rules of each target kind (kind: the member of
 * targetConfiguration.mcp). */
static void s_validate_creds(const json_t *b, const char *kind, struct mg_ac_verr *v)
{
    bool lambda = strcmp(kind, "lambda") == 0;
    const json_t *c = json_array_get(json_object_get(b, "credentialProviderConfigurations"), 0);
    if (c == NULL) {
        if (lambda)
            mg_ac_verr_rule(v, "Lambda target only supports GATEWAY_IAM_ROLE credential provider "
                               "type");
        return;
    }
    const char *t = s_str(c, "credentialProviderType");
    const char *p = s_union_member(json_object_get(c, "credentialProvider"));
    if (t == NULL)
        return;
    if (lambda) {
        if (strcmp(t, "GATEWAY_IAM_ROLE") != 0)
            mg_ac_verr_rule(v, "Lambda target only supports GATEWAY_IAM_ROLE credential "
                               "provider type");
        else if (p && strcmp(p, "iamCredentialProvider") == 0)
            mg_ac_verr_rule(v, "IamCredentialProvider is not supported for lambda targets");
        else if (p)
            mg_ac_verr_rule(v, "Credential provider is not supported for GATEWAY_IAM_ROLE "
                               "credential provider type on lambda targets");
        return;
    }
    if (strcmp(t, "OAUTH") == 0 && (p == NULL || strcmp(p, "oauthCredentialProvider") != 0))
        mg_ac_verr_rule(v, "OAuth credential provider is required for OAUTH credential provider "
                           "type");
    if (strcmp(t, "API_KEY") == 0 && (p == NULL || strcmp(p, "apiKeyCredentialProvider") != 0))
        mg_ac_verr_rule(v, "API key credential provider is required for API_KEY credential "
                           "provider type");
    if (strcmp(t, "GATEWAY_IAM_ROLE") == 0 &&
        (p == NULL || strcmp(p, "iamCredentialProvider") != 0) &&
        (strcmp(kind, "openApiSchema") == 0 || strcmp(kind, "mcpServer") == 0))
        mg_ac_verr_rule(v,
                        "IamCredentialProvider is required for %s targets using IAM "
                        "authentication",
                        kind);
}

bool mg_ac_loopback_http(const char *url)
{
    if (url == NULL || strncmp(url, "http://", 7) != 0)
        return false;
    const char *h = url + 7;
    size_t n = strcspn(h, "/?#");
    char auth[300];
    if (n == 0 || n >= sizeof(auth) || memchr(h, '@', n) != NULL)
        return false; /* no user info: a credential in a URL is never sent */
    mg_memcpy(auth, h, n);
    auth[n] = 0;
    char *end = auth[0] == '[' ? strchr(auth, ']') : strchr(auth, ':');
    if (auth[0] == '[') {
        if (end == NULL || (end[1] != 0 && end[1] != ':'))
            return false;
        end[1] = 0;
    } else if (end) {
        *end = 0;
    }
    return mg_host_is_loopback(auth);
}

/* targetConfiguration.mcp.mcpServer: the endpoint (https, or http on loopback: the model's
 * pattern admits https only, routes.c lets loopback http through), mcpToolSchema (only with
 * three-legged OAuth, which mcpgate does not implement), and the credential rules of MCP
 * servers. */
static void s_validate_mcp_server(const json_t *b, const json_t *srv, struct mg_ac_verr *v)
{
    const char *ep = s_str(srv, "endpoint");
    if (ep && strncmp(ep, "https://", 8) != 0 && !mg_ac_loopback_http(ep))
        mg_ac_verr_rule(v, "The MCP server endpoint must use https:// (mcpgate also accepts "
                           "http:// to a loopback address)");
    else if (ep && (strlen(ep) > 2048 || strpbrk(ep, " \t\r\n") != NULL))
        mg_ac_verr_rule(v, "The MCP server endpoint is not a valid URL");
    const json_t *c = json_array_get(json_object_get(b, "credentialProviderConfigurations"), 0);
    const char *t = s_str(c, "credentialProviderType");
    const char *grant = s_str(json_object_get(json_object_get(c, "credentialProvider"),
                                              "oauthCredentialProvider"),
                              "grantType");
    bool code = t && strcmp(t, "OAUTH") == 0 && grant && strcmp(grant, "AUTHORIZATION_CODE") == 0;
    if (s_set(srv, "mcpToolSchema")) {
        if (!code)
            mg_ac_verr_rule(v, "mcpToolSchema is supported only when the credential provider is "
                               "configured with an authorization code grant type");
        else
            mg_ac_verr_rule(v, "mcpToolSchema is not supported by mcpgate: it needs outbound "
                               "three-legged OAuth (the AUTHORIZATION_CODE grant type), which "
                               "mcpgate does not implement");
        return;
    }
    if (code) {
        mg_ac_verr_rule(v, "The AUTHORIZATION_CODE grant type (outbound three-legged OAuth) is "
                           "not supported by mcpgate; use CLIENT_CREDENTIALS");
        return;
    }
    if (t && (strcmp(t, "CALLER_IAM_CREDENTIALS") == 0 || strcmp(t, "JWT_PASSTHROUGH") == 0))
        mg_ac_verr_rule(v, "MCP server targets do not support the %s credential provider type", t);
    s_validate_creds(b, "mcpServer", v);
}

void mg_ac_validate_target(const json_t *b, const struct mg_ac_quotas *q, struct mg_ac_verr *v)
{
    static const struct {
        const char *member, *name;
    } kinds[] = {{"openApiSchema", "OpenAPI"},
                 {"mcpServer", "MCP server"},
                 {"smithyModel", "Smithy"},
                 {"apiGateway", "API Gateway"},
                 {"connector", "connector"}};
    if (s_set(b, "privateEndpoint"))
        mg_ac_verr_rule(v, "privateEndpoint is not supported by mcpgate");
    const json_t *tc = json_object_get(b, "targetConfiguration");
    const char *top = s_union_member(tc);
    if (top == NULL)
        return;
    if (strcmp(top, "http") == 0 || strcmp(top, "inference") == 0) {
        static const struct {
            const char *member, *feature;
        } http[] = {{"agentcoreRuntime", "AgentCore Runtime targets"},
                    {"passthrough", "HTTP passthrough targets"},
                    {"connector", "HTTP connector targets"},
                    {"provider", "Inference provider targets"}};
        const char *m = s_union_member(json_object_get(tc, top));
        const char *feature = strcmp(top, "http") == 0 ? "HTTP targets" : "Inference targets";
        for (size_t i = 0; m && i < sizeof(http) / sizeof(http[0]); i++)
            if (strcmp(http[i].member, m) == 0)
                feature = http[i].feature;
        mg_ac_verr_rule(v,
                        "%s (targetConfiguration.%s%s%.40s) are not supported by mcpgate; its "
                        "targets are lambda, openApiSchema, smithyModel and mcpServer",
                        feature, top, m ? "." : "", m ? m : "");
        return;
    }
    const json_t *mcp = json_object_get(tc, "mcp");
    const char *kind = s_union_member(mcp);
    if (kind == NULL)
        return;
    if (strcmp(kind, "openApiSchema") == 0 || strcmp(kind, "smithyModel") == 0) {
        s_validate_creds(b, kind, v); /* the document itself: mg_ac_target_tools */
        return;
    }
    if (strcmp(kind, "mcpServer") == 0) {
        s_validate_mcp_server(b, json_object_get(mcp, kind), v);
        return;
    }
    if (strcmp(kind, "lambda") != 0) {
        const char *name = kind;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
            if (strcmp(kinds[i].member, kind) == 0)
                name = kinds[i].name;
        s_validate_creds(b, kind, v);
        if (!mg_ac_verr_any(v))
            mg_ac_verr_rule(v,
                            "%s targets (targetConfiguration.mcp.%.40s) are not supported by "
                            "mcpgate; its targets are lambda, openApiSchema, smithyModel and "
                            "mcpServer%s",
                            name, kind,
                            strcmp(kind, "apiGateway") == 0
                                ? " (describe the REST API with an openApiSchema target)"
                                : "");
        return;
    }
    const json_t *ts = json_object_get(json_object_get(mcp, "lambda"), "toolSchema");
    const char *tsk = s_union_member(ts);
    if (tsk && strcmp(tsk, "s3") == 0)
        mg_ac_verr_rule(v, "S3 tool schemas (toolSchema.s3) are not supported by mcpgate; give "
                           "the tools in toolSchema.inlinePayload");
    else if (tsk)
        s_validate_tools(json_object_get(ts, "inlinePayload"), q->tool_name_len, v);
    s_validate_creds(b, "lambda", v);
}

const char *mg_ac_check_tools(const json_t *tools, char *buf, size_t cap)
{
    size_t n = json_array_size(tools);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        if (a && !mg_ac_match_tool_name(a)) {
            /* stored before names were checked at creation: never published */
            snprintf(buf, cap,
                     "Invalid tool name found in target configuration: tool names must "
                     "match [A-Za-z0-9_.-]+");
            return buf;
        }
        for (size_t k = i + 1; a && k < n; k++) {
            const char *b = json_string_value(json_object_get(json_array_get(tools, k), "name"));
            if (b && strcmp(a, b) == 0) {
                snprintf(buf, cap, "Duplicate tool found in target configuration");
                return buf;
            }
        }
    }
    return NULL;
}

/* ---- ids -------------------------------------------------------------------------------- */

void mg_ac_new_gateway_id(const char *name, char out[64])
{
    size_t n = 0;
    for (; name[n] && n < 48; n++) {
        char ch = name[n];
        out[n] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n++] = '-';
    mg_random_chars(out + n, 10, MG_ALPHA_LOWER_NUM);
    out[n + 10] = 0;
}

void mg_ac_new_target_id(char out[11])
{
    mg_random_chars(out, 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    out[10] = 0;
}
