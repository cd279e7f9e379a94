/* Request validation for the control plane: the constraints of the service model (patterns,
 * lengths, enums, unions, list sizes) and AgentCore's own rules, with AWS's wording. */
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agentcore/internal.h"
#include "base/util.h"

struct mg_ac_quotas g_mg_ac_quotas = {1000, 100, 1000, 256};

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

/* ---- patterns --------------------------------------------------------------------------- */

enum {
    P_GW_NAME, P_TG_NAME, P_GW_ID, P_TG_ID, P_TOKEN, P_ROLE, P_LAMBDA, P_KMS, P_TAG, P_TAG_ARN,
    P_DISCOVERY, P_PROVIDER_ARN, P_IAM_SERVICE, P_IAM_REGION, P_POLICY_ENGINE, P_COUNT
};

static const char *const s_patterns[P_COUNT] = {
    [P_GW_NAME] = "^([0-9a-zA-Z]-?){1,48}$",
    [P_TG_NAME] = "^([0-9a-zA-Z]-?){1,100}$",
    [P_GW_ID] = "^([0-9a-z]-?){1,100}-[0-9a-z]{10}$",
    [P_TG_ID] = "^[0-9a-zA-Z]{10}$",
    [P_TOKEN] = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}$",
    [P_ROLE] = "^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$",
    [P_LAMBDA] = "^arn:(aws[a-zA-Z-]*)?:lambda:([a-z]{2}(-gov)?-[a-z]+-[0-9]):([0-9]{12}):function:"
                 "([a-zA-Z0-9_.-]+)(:([$]LATEST|[a-zA-Z0-9_-]+))?$",
    [P_KMS] = "^arn:aws(-cn|-us-gov)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:key/[a-zA-Z0-9-]{36}$",
    [P_TAG] = "^[a-zA-Z0-9[:space:]._:/=+@-]*$",
    [P_TAG_ARN] = "^arn:([^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:([a-z-]+/[^/]+)"
                  "(/[a-z-]+/[^/]+)*$",
    [P_DISCOVERY] = "^.+/[.]well-known/openid-configuration$",
    [P_PROVIDER_ARN] = "^arn:([^:]*):([^:]*):([^:]*):([0-9]{12})?:(.+)$",
    [P_IAM_SERVICE] = "^[a-zA-Z0-9._-]+$",
    [P_IAM_REGION] = "^[a-zA-Z0-9-]+$",
    [P_POLICY_ENGINE] = "^arn:aws:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:policy-engine/"
                        "[a-zA-Z][a-zA-Z0-9_-]{0,99}-[a-zA-Z0-9_]{10}$",
};
/* The model's text of each pattern, for messages. */
static const char *const s_pattern_text[P_COUNT] = {
    [P_GW_NAME] = "([0-9a-zA-Z][-]?){1,48}",
    [P_TG_NAME] = "([0-9a-zA-Z][-]?){1,100}",
    [P_GW_ID] = "([0-9a-z][-]?){1,100}-[0-9a-z]{10}",
    [P_TG_ID] = "[0-9a-zA-Z]{10}",
    [P_TOKEN] = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,256}",
    [P_ROLE] = "arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+",
    [P_LAMBDA] = "arn:(aws[a-zA-Z-]*)?:lambda:([a-z]{2}(-gov)?-[a-z]+-\\d{1}):(\\d{12}):function:"
                 "([a-zA-Z0-9-_.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
    [P_KMS] = "arn:aws(|-cn|-us-gov):kms:[a-zA-Z0-9-]*:[0-9]{12}:key/[a-zA-Z0-9-]{36}",
    [P_TAG] = "[a-zA-Z0-9\\s._:/=+@-]*",
    [P_TAG_ARN] = "arn:(?:[^:]+)?:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:([a-z-]+/[^/]+)"
                  "(?:/[a-z-]+/[^/]+)*",
    [P_DISCOVERY] = ".+/\\.well-known/openid-configuration",
    [P_PROVIDER_ARN] = "arn:([^:]*):([^:]*):([^:]*):([0-9]{12})?:(.+)",
    [P_IAM_SERVICE] = "[a-zA-Z0-9._-]+",
    [P_IAM_REGION] = "[a-zA-Z0-9-]+",
    [P_POLICY_ENGINE] = "arn:aws:bedrock-agentcore:[a-z0-9-]+:[0-9]{12}:policy-engine\\/"
                        "[a-zA-Z][a-zA-Z0-9-_]{0,99}-[a-zA-Z0-9_]{10}",
};

static regex_t s_re[P_COUNT];
static bool s_re_ok[P_COUNT];
static pthread_once_t s_re_once = PTHREAD_ONCE_INIT;

static void s_re_init(void)
{
    for (int i = 0; i < P_COUNT; i++)
        s_re_ok[i] = regcomp(&s_re[i], s_patterns[i], REG_EXTENDED | REG_NOSUB) == 0;
}

static bool s_match(int p, const char *s)
{
    pthread_once(&s_re_once, s_re_init);
    if (s == NULL || !s_re_ok[p] || strlen(s) > 4096)
        return false;
    return regexec(&s_re[p], s, 0, NULL, 0) == 0;
}

bool mg_ac_match_gateway_name(const char *s) { return s_match(P_GW_NAME, s); }
bool mg_ac_match_target_name(const char *s) { return s_match(P_TG_NAME, s); }
bool mg_ac_match_gateway_id(const char *s) { return s_match(P_GW_ID, s); }
bool mg_ac_match_target_id(const char *s) { return s_match(P_TG_ID, s); }
bool mg_ac_match_client_token(const char *s) { return s_match(P_TOKEN, s); }
bool mg_ac_match_role_arn(const char *s) { return s_match(P_ROLE, s); }
bool mg_ac_match_lambda_arn(const char *s) { return s_match(P_LAMBDA, s); }
bool mg_ac_match_kms_arn(const char *s) { return s_match(P_KMS, s); }
bool mg_ac_match_tag_chars(const char *s) { return s_match(P_TAG, s); }
bool mg_ac_match_tag_resource_arn(const char *s) { return s_match(P_TAG_ARN, s); }
bool mg_ac_match_discovery_url(const char *s) { return s_match(P_DISCOVERY, s); }

/* ---- member checks ---------------------------------------------------------------------- */

static size_t s_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void s_path(char *out, size_t cap, const char *base, const char *member)
{
    if (base && base[0])
        snprintf(out, cap, "%s.%s", base, member);
    else
        snprintf(out, cap, "%s", member);
}

/* A value for messages: sensitive members are not echoed. */
static void s_value_desc(char *out, size_t cap, const char *val, bool sensitive)
{
    if (sensitive || val == NULL)
        snprintf(out, cap, "Value");
    else
        snprintf(out, cap, "Value '%.200s'", val);
}

static void s_fail(struct mg_ac_verr *v, const char *path, const char *val, bool sensitive,
                   const char *constraint)
{
    char vd[240];
    s_value_desc(vd, sizeof(vd), val, sensitive);
    mg_ac_verr_add(v, path, "%s at '%s' failed to satisfy constraint: %s", vd, path, constraint);
}

static void s_missing(struct mg_ac_verr *v, const char *path)
{
    mg_ac_verr_add(v, path, "Value null at '%s' failed to satisfy constraint: Member must not be "
                            "null", path);
}

/* The member `key` of o as a string: NULL when absent (error if required) or of another type. */
static const char *s_str(struct mg_ac_verr *v, const json_t *o, const char *base, const char *key,
                         bool required)
{
    char path[256];
    s_path(path, sizeof(path), base, key);
    const json_t *m = json_object_get(o, key);
    if (m == NULL || json_is_null(m)) {
        if (required)
            s_missing(v, path);
        return NULL;
    }
    if (!json_is_string(m)) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must be a "
                                "string", path);
        return NULL;
    }
    return json_string_value(m);
}

static const json_t *s_typed(struct mg_ac_verr *v, const json_t *o, const char *base,
                             const char *key, bool required, json_type type, const char *tname)
{
    char path[256];
    s_path(path, sizeof(path), base, key);
    const json_t *m = json_object_get(o, key);
    if (m == NULL || json_is_null(m)) {
        if (required)
            s_missing(v, path);
        return NULL;
    }
    bool ok = json_typeof(m) == type || (type == JSON_TRUE && json_is_boolean(m));
    if (!ok) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must be %s",
                       path, tname);
        return NULL;
    }
    return m;
}

#define S_OBJ(v, o, b, k, r) s_typed(v, o, b, k, r, JSON_OBJECT, "a structure")
#define S_ARR(v, o, b, k, r) s_typed(v, o, b, k, r, JSON_ARRAY, "a list")

static void s_len(struct mg_ac_verr *v, const char *base, const char *key, const char *s,
                  size_t min, size_t max, bool sensitive)
{
    if (s == NULL)
        return;
    char path[256], c[96];
    s_path(path, sizeof(path), base, key);
    size_t n = s_chars(s);
    if (n < min) {
        snprintf(c, sizeof(c), "Member must have length greater than or equal to %zu", min);
        s_fail(v, path, s, sensitive, c);
    } else if (max && n > max) {
        snprintf(c, sizeof(c), "Member must have length less than or equal to %zu", max);
        s_fail(v, path, s, sensitive, c);
    }
}

static void s_pat(struct mg_ac_verr *v, const char *base, const char *key, const char *s, int p,
                  bool sensitive)
{
    if (s == NULL || s_match(p, s))
        return;
    char path[256], c[400];
    s_path(path, sizeof(path), base, key);
    snprintf(c, sizeof(c), "Member must satisfy regular expression pattern: %s", s_pattern_text[p]);
    s_fail(v, path, s, sensitive, c);
}

static int s_enum(struct mg_ac_verr *v, const char *base, const char *key, const char *s,
                  const char *const *vals)
{
    if (s == NULL)
        return -1;
    for (int i = 0; vals[i]; i++)
        if (strcmp(vals[i], s) == 0)
            return i;
    char path[256], c[600];
    s_path(path, sizeof(path), base, key);
    /* The value sets are constants of this file and fit; should one outgrow c, the message
     * says so rather than listing part of the set. */
    size_t n = (size_t)snprintf(c, sizeof(c), "Member must satisfy enum value set: [");
    for (int i = 0; vals[i] && n < sizeof(c); i++) {
        int w = snprintf(c + n, sizeof(c) - n, "%s%s", i ? ", " : "", vals[i]);
        n = w < 0 ? sizeof(c) : n + (size_t)w;
    }
    if (n + 1 < sizeof(c)) {
        c[n] = ']';
        c[n + 1] = 0;
    } else {
        snprintf(c, sizeof(c), "Member must satisfy its enum value set");
    }
    s_fail(v, path, s, false, c);
    return -1;
}

static void s_list_size(struct mg_ac_verr *v, const char *base, const char *key, const json_t *a,
                        size_t min, size_t max)
{
    if (a == NULL)
        return;
    char path[256];
    s_path(path, sizeof(path), base, key);
    size_t n = json_is_array(a) ? json_array_size(a) : json_object_size(a);
    if (n < min)
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must have "
                                "length greater than or equal to %zu", path, min);
    else if (max && n > max)
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must have "
                                "length less than or equal to %zu", path, max);
}

/* A union: exactly one of `members` set (non-null). Returns the member's index or -1. An
 * unknown member alone counts as "none we know". */
static int s_union(struct mg_ac_verr *v, const json_t *u, const char *path,
                   const char *const *members)
{
    if (u == NULL)
        return -1;
    int found = -1, count = 0;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)u, k, val) {
        if (json_is_null(val))
            continue;
        count++;
        for (int i = 0; members[i]; i++)
            if (strcmp(members[i], k) == 0)
                found = i;
    }
    if (count != 1) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Union must have "
                                "exactly one member set (%d set)", path, count);
        return -1;
    }
    if (found < 0)
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must be one "
                                "of the known union members", path);
    return found;
}

static void s_string_list(struct mg_ac_verr *v, const json_t *o, const char *base, const char *key,
                          size_t min, size_t max, size_t maxlen)
{
    const json_t *a = S_ARR(v, o, base, key, false);
    s_list_size(v, base, key, a, min, max);
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        char path[256];
        s_path(path, sizeof(path), base, key);
        if (!json_is_string(e)) {
            mg_ac_verr_add(v, path, "Value at '%s.member' failed to satisfy constraint: Member "
                                    "must be a string", path);
            return;
        }
        if (maxlen)
            s_len(v, path, "member", json_string_value(e), 1, maxlen, false);
    }
}

/* ---- gateways --------------------------------------------------------------------------- */

/* The versions AgentCore accepts in supportedVersions, and whether mcpgate's data plane speaks
 * each: a list naming none that it speaks would make a gateway that answers nothing. */
static const struct {
    const char *name;
    bool served;
} s_mcp_versions[] = {
    {"2025-03-26", true}, {"2025-06-18", true}, {"2025-11-25", true}, {"2026-07-28", false},
};
#define S_N_MCP_VERSIONS (sizeof(s_mcp_versions) / sizeof(s_mcp_versions[0]))

bool mg_ac_match_tool_name(const char *s)
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

static bool s_scope_ok(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x21 || ch > 0x7E || ch == 0x22 || ch == 0x5C)
            return false;
    }
    return true;
}

static void s_validate_jwt(const json_t *j, struct mg_ac_verr *v)
{
    static const char base[] = "authorizerConfiguration.customJWTAuthorizer";
    const char *url = s_str(v, j, base, "discoveryUrl", true);
    s_pat(v, base, "discoveryUrl", url, P_DISCOVERY, false);
    s_string_list(v, j, base, "allowedAudience", 1, 0, 0);
    s_string_list(v, j, base, "allowedClients", 1, 0, 0);
    s_string_list(v, j, base, "allowedScopes", 1, 0, 255);
    const json_t *scopes = json_object_get(j, "allowedScopes");
    size_t i;
    json_t *e;
    json_array_foreach(scopes, i, e) {
        if (json_is_string(e) && !s_scope_ok(json_string_value(e))) {
            s_fail(v, "authorizerConfiguration.customJWTAuthorizer.allowedScopes.member",
                   json_string_value(e), false,
                   "Member must satisfy regular expression pattern: [\\x21\\x23-\\x5B\\x5D-\\x7E]+");
            break;
        }
    }
    const json_t *map = S_OBJ(v, j, base, "advertisedScopeMapping", false);
    s_list_size(v, base, "advertisedScopeMapping", map, 1, 50);
    const json_t *claims = S_ARR(v, j, base, "customClaims", false);
    s_list_size(v, base, "customClaims", claims, 1, 0);
    if (json_object_get(j, "privateEndpoint") || json_object_get(j, "privateEndpointOverrides"))
        mg_ac_verr_rule(v, "Private endpoints for the JWT authorizer are not supported by "
                           "mcpgate");
}

static void s_validate_interceptors(const json_t *list, struct mg_ac_verr *v)
{
    static const char *const points[] = {"REQUEST", "RESPONSE", NULL};
    static const char *const kinds[] = {"lambda", NULL};
    bool seen[2] = {false, false};
    bool dup = false;
    size_t i;
    json_t *ic;
    json_array_foreach(list, i, ic) {
        char base[96];
        snprintf(base, sizeof(base), "interceptorConfigurations.%zu", i + 1);
        if (!json_is_object(ic)) {
            mg_ac_verr_add(v, base, "Value at '%s' failed to satisfy constraint: Member must be "
                                    "a structure", base);
            continue;
        }
        const json_t *inter = S_OBJ(v, ic, base, "interceptor", true);
        char p2[128];
        s_path(p2, sizeof(p2), base, "interceptor");
        if (s_union(v, inter, p2, kinds) == 0) {
            char p3[160];
            s_path(p3, sizeof(p3), p2, "lambda");
            const json_t *l = json_object_get(inter, "lambda");
            const char *arn = s_str(v, l, p3, "arn", true);
            s_len(v, p3, "arn", arn, 1, 170, false);
            s_pat(v, p3, "arn", arn, P_LAMBDA, false);
        }
        const json_t *pts = S_ARR(v, ic, base, "interceptionPoints", true);
        s_list_size(v, base, "interceptionPoints", pts, 1, 2);
        size_t k;
        json_t *pt;
        json_array_foreach(pts, k, pt) {
            char p4[160];
            s_path(p4, sizeof(p4), base, "interceptionPoints.member");
            int which = s_enum(v, "", p4, json_string_value(pt) ? json_string_value(pt) : "",
                               points);
            if (which >= 0) {
                if (seen[which])
                    dup = true;
                seen[which] = true;
            }
        }
        const json_t *inp = S_OBJ(v, ic, base, "inputConfiguration", false);
        if (inp) {
            char p5[160];
            s_path(p5, sizeof(p5), base, "inputConfiguration");
            s_typed(v, inp, p5, "passRequestHeaders", true, JSON_TRUE, "a boolean");
        }
    }
    if (dup)
        mg_ac_verr_rule(v, "Only one interceptor configuration per interception point can be "
                           "defined");
}

void mg_ac_validate_gateway(const json_t *b, bool update, struct mg_ac_verr *v)
{
    (void)update;
    static const char *const auth_types[] = {"CUSTOM_JWT", "AWS_IAM", "NONE",
                                             "AUTHENTICATE_ONLY", NULL};
    static const char *const proto_types[] = {"MCP", NULL};
    static const char *const search_types[] = {"SEMANTIC", NULL};
    static const char *const levels[] = {"DEBUG", NULL};
    static const char *const modes[] = {"LOG_ONLY", "ENFORCE", NULL};
    static const char *const waf[] = {"FAIL_CLOSE", "FAIL_OPEN", NULL};
    static const char *const pc_members[] = {"mcp", NULL};
    static const char *const ac_members[] = {"customJWTAuthorizer", NULL};

    const char *name = s_str(v, b, "", "name", true);
    s_pat(v, "", "name", name, P_GW_NAME, false);
    s_len(v, "", "description", s_str(v, b, "", "description", false), 1, 200, true);
    const char *token = s_str(v, b, "", "clientToken", false);
    s_len(v, "", "clientToken", token, 33, 256, false);
    s_pat(v, "", "clientToken", token, P_TOKEN, false);
    const char *role = s_str(v, b, "", "roleArn", true);
    s_len(v, "", "roleArn", role, 1, 2048, false);
    s_pat(v, "", "roleArn", role, P_ROLE, false);
    s_enum(v, "", "protocolType", s_str(v, b, "", "protocolType", false), proto_types);
    const char *kms = s_str(v, b, "", "kmsKeyArn", false);
    s_len(v, "", "kmsKeyArn", kms, 1, 2048, false);
    s_pat(v, "", "kmsKeyArn", kms, P_KMS, false);
    s_enum(v, "", "exceptionLevel", s_str(v, b, "", "exceptionLevel", false), levels);
    const char *atype = s_str(v, b, "", "authorizerType", true);
    int at = s_enum(v, "", "authorizerType", atype, auth_types);

    const json_t *pc = S_OBJ(v, b, "", "protocolConfiguration", false);
    if (s_union(v, pc, "protocolConfiguration", pc_members) == 0) {
        const json_t *mcp = json_object_get(pc, "mcp");
        static const char base[] = "protocolConfiguration.mcp";
        if (!json_is_object(mcp)) {
            mg_ac_verr_add(v, base, "Value at '%s' failed to satisfy constraint: Member must be a "
                                    "structure", base);
        } else {
            const json_t *vers = S_ARR(v, mcp, base, "supportedVersions", false);
            size_t i;
            json_t *e;
            bool bad = false, served = false;
            json_array_foreach(vers, i, e) {
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
            else if (vers && json_array_size(vers) > 0 && !served)
                mg_ac_verr_rule(v, "Unsupported MCP Version(s) are provided in request. mcpgate "
                                   "does not serve 2026-07-28 yet: list 2025-03-26, 2025-06-18 "
                                   "or 2025-11-25 as well.");
            s_len(v, base, "instructions", s_str(v, mcp, base, "instructions", false), 1, 2048,
                  true);
            s_enum(v, base, "searchType", s_str(v, mcp, base, "searchType", false), search_types);
            const json_t *sc = S_OBJ(v, mcp, base, "sessionConfiguration", false);
            const json_t *to = sc ? json_object_get(sc, "sessionTimeoutInSeconds") : NULL;
            if (to && !json_is_null(to)) {
                json_int_t t = json_is_integer(to) ? json_integer_value(to) : -1;
                if (t < 900 || t > 28800)
                    mg_ac_verr_add(v, "protocolConfiguration.mcp.sessionConfiguration."
                                      "sessionTimeoutInSeconds",
                                   "Value at 'protocolConfiguration.mcp.sessionConfiguration."
                                   "sessionTimeoutInSeconds' failed to satisfy constraint: Member "
                                   "must have value between 900 and 28800");
            }
            const json_t *st = S_OBJ(v, mcp, base, "streamingConfiguration", false);
            if (st)
                s_typed(v, st, "protocolConfiguration.mcp.streamingConfiguration",
                        "enableResponseStreaming", false, JSON_TRUE, "a boolean");
        }
    }

    const json_t *ac = S_OBJ(v, b, "", "authorizerConfiguration", false);
    if (ac && s_union(v, ac, "authorizerConfiguration", ac_members) == 0) {
        const json_t *j = json_object_get(ac, "customJWTAuthorizer");
        if (json_is_object(j))
            s_validate_jwt(j, v);
        else
            mg_ac_verr_add(v, "authorizerConfiguration.customJWTAuthorizer",
                           "Value at 'authorizerConfiguration.customJWTAuthorizer' failed to "
                           "satisfy constraint: Member must be a structure");
    }
    if (at == 0 && ac == NULL)
        mg_ac_verr_rule(v, "AuthorizerConfiguration is required for CUSTOM_JWT authorizer type");
    if ((at == 1 || at == 2) && ac != NULL)
        mg_ac_verr_rule(v, "AuthorizerConfiguration should be null for %s AuthorizerType", atype);

    const json_t *ics = S_ARR(v, b, "", "interceptorConfigurations", false);
    s_list_size(v, "", "interceptorConfigurations", ics, 1, 2);
    s_validate_interceptors(ics, v);

    const json_t *pe = S_OBJ(v, b, "", "policyEngineConfiguration", false);
    if (pe) {
        static const char base[] = "policyEngineConfiguration";
        const char *arn = s_str(v, pe, base, "arn", true);
        s_pat(v, base, "arn", arn, P_POLICY_ENGINE, false);
        s_enum(v, base, "mode", s_str(v, pe, base, "mode", true), modes);
        if (!mg_ac_verr_any(v))
            mg_ac_verr_rule(v, "policyEngineConfiguration is not supported by mcpgate: policy "
                               "engines (Cedar) are not implemented");
    }
    const json_t *ct = S_OBJ(v, b, "", "customTransformConfiguration", false);
    if (ct) {
        const json_t *l = S_OBJ(v, ct, "customTransformConfiguration", "lambda", false);
        const char *arn = l ? s_str(v, l, "customTransformConfiguration.lambda", "arn", false)
                            : NULL;
        s_pat(v, "customTransformConfiguration.lambda", "arn", arn, P_LAMBDA, false);
    }
    const json_t *w = S_OBJ(v, b, "", "wafConfiguration", false);
    if (w)
        s_enum(v, "wafConfiguration", "failureMode",
               s_str(v, w, "wafConfiguration", "failureMode", false), waf);
    const json_t *tags = S_OBJ(v, b, "", "tags", false);
    mg_ac_validate_tags(tags, "tags", v);
}

void mg_ac_validate_tags(const json_t *tags, const char *field, struct mg_ac_verr *v)
{
    if (tags == NULL)
        return;
    s_list_size(v, "", field, tags, 0, 50);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)tags, k, val) {
        char path[256];
        snprintf(path, sizeof(path), "%s.%s.member.key", field, "map");
        (void)path;
        size_t kl = s_chars(k);
        if (kl < 1 || kl > 128 || !s_match(P_TAG, k)) {
            char c[200];
            snprintf(c, sizeof(c), "Member must satisfy regular expression pattern: %s and have "
                                   "length between 1 and 128", s_pattern_text[P_TAG]);
            s_fail(v, field, k, false, c);
            continue;
        }
        if (!json_is_string(val)) {
            mg_ac_verr_add(v, field, "Value at '%s.%s' failed to satisfy constraint: Member must "
                                     "be a string", field, k);
            continue;
        }
        const char *s = json_string_value(val);
        if (s_chars(s) > 256 || !s_match(P_TAG, s)) {
            char c[200];
            snprintf(c, sizeof(c), "Member must satisfy regular expression pattern: %s and have "
                                   "length less than or equal to 256", s_pattern_text[P_TAG]);
            s_fail(v, field, s, false, c);
        }
    }
}

/* ---- targets ---------------------------------------------------------------------------- */

#define S_SCHEMA_MAX_DEPTH 32

static void s_validate_schema(const json_t *s, const char *path, int depth, struct mg_ac_verr *v)
{
    static const char *const types[] = {"string", "number", "object", "array", "boolean",
                                        "integer", NULL};
    if (!json_is_object(s)) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must be a "
                                "structure", path);
        return;
    }
    if (depth > S_SCHEMA_MAX_DEPTH) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Schema nesting "
                                "must not exceed %d levels", path, S_SCHEMA_MAX_DEPTH);
        return;
    }
    if (json_object_get(s, "$ref")) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: $ref is not "
                                "supported in tool schemas; define every schema inline", path);
        return;
    }
    s_enum(v, path, "type", s_str(v, s, path, "type", true), types);
    s_str(v, s, path, "description", false);
    const json_t *props = S_OBJ(v, s, path, "properties", false);
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)props, k, val) {
        char p2[512];
        snprintf(p2, sizeof(p2), "%s.properties.%.100s", path, k);
        s_validate_schema(val, p2, depth + 1, v);
        if (v->n >= MG_AC_VERR_MAX)
            return;
    }
    const json_t *req = S_ARR(v, s, path, "required", false);
    size_t i;
    json_t *e;
    json_array_foreach(req, i, e) {
        if (!json_is_string(e)) {
            mg_ac_verr_add(v, path, "Value at '%s.required' failed to satisfy constraint: Member "
                                    "must be a list of strings", path);
            break;
        }
    }
    const json_t *items = json_object_get(s, "items");
    if (items && !json_is_null(items)) {
        char p2[512];
        snprintf(p2, sizeof(p2), "%s.items", path);
        s_validate_schema(items, p2, depth + 1, v);
    }
}

/* $ref anywhere in a schema (properties, items), depth-limited. */
static void s_schema_refs(const json_t *s, const char *path, int depth, struct mg_ac_verr *v)
{
    if (!json_is_object(s) || depth > S_SCHEMA_MAX_DEPTH || v->n >= MG_AC_VERR_MAX)
        return;
    if (json_object_get(s, "$ref")) {
        mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: $ref is not "
                                "supported in tool schemas; define every schema inline", path);
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)json_object_get(s, "properties"), k, val) {
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
    const json_t *tools = json_object_get(json_object_get(json_object_get(json_object_get(
        json_object_get(b, "targetConfiguration"), "mcp"), "lambda"), "toolSchema"),
        "inlinePayload");
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char path[160];
        snprintf(path, sizeof(path), "%s.%zu.inputSchema", base, i + 1);
        s_schema_refs(json_object_get(t, "inputSchema"), path, 0, v);
        snprintf(path, sizeof(path), "%s.%zu.outputSchema", base, i + 1);
        s_schema_refs(json_object_get(t, "outputSchema"), path, 0, v);
    }
}

static void s_validate_tools(const json_t *tools, struct mg_ac_verr *v)
{
    static const char base[] = "targetConfiguration.mcp.lambda.toolSchema.inlinePayload";
    if (!json_is_array(tools)) {
        mg_ac_verr_add(v, base, "Value at '%s' failed to satisfy constraint: Member must be a "
                                "list", base);
        return;
    }
    if (json_array_size(tools) == 0) {
        mg_ac_verr_rule(v, "No Lambda tool schema found in target configuration");
        return;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        char path[128];
        snprintf(path, sizeof(path), "%s.%zu", base, i + 1);
        if (!json_is_object(t)) {
            mg_ac_verr_add(v, path, "Value at '%s' failed to satisfy constraint: Member must be "
                                    "a structure", path);
            continue;
        }
        const char *name = s_str(v, t, path, "name", true);
        if (name && (name[0] == 0 || s_chars(name) > g_mg_ac_quotas.tool_name_len)) {
            char c[96];
            snprintf(c, sizeof(c), "Member must have length between 1 and %zu",
                     g_mg_ac_quotas.tool_name_len);
            char p2[160];
            s_path(p2, sizeof(p2), path, "name");
            s_fail(v, p2, name, true, c);
        } else if (name && !mg_ac_match_tool_name(name)) {
            /* MCP's tool-name alphabet: the full name TARGET___TOOL must stay in it */
            char p2[160];
            s_path(p2, sizeof(p2), path, "name");
            s_fail(v, p2, name, true,
                   "Member must satisfy regular expression pattern: [A-Za-z0-9_.-]+");
        }
        s_str(v, t, path, "description", true);
        char p3[160];
        s_path(p3, sizeof(p3), path, "inputSchema");
        const json_t *in = json_object_get(t, "inputSchema");
        if (in == NULL || json_is_null(in))
            s_missing(v, p3);
        else
            s_validate_schema(in, p3, 0, v);
        const json_t *out = json_object_get(t, "outputSchema");
        if (out && !json_is_null(out)) {
            s_path(p3, sizeof(p3), path, "outputSchema");
            s_validate_schema(out, p3, 0, v);
        }
        if (v->n >= MG_AC_VERR_MAX)
            return;
    }
}

static void s_validate_creds(const json_t *b, int kind, struct mg_ac_verr *v)
{
    static const char *const types[] = {"GATEWAY_IAM_ROLE", "OAUTH", "API_KEY",
                                        "CALLER_IAM_CREDENTIALS", "JWT_PASSTHROUGH", NULL};
    static const char *const providers[] = {"oauthCredentialProvider", "apiKeyCredentialProvider",
                                            "iamCredentialProvider", NULL};
    const json_t *list = S_ARR(v, b, "", "credentialProviderConfigurations", false);
    s_list_size(v, "", "credentialProviderConfigurations", list, 1, 1);
    if (kind == 0 && list == NULL && !json_object_get(b, "credentialProviderConfigurations")) {
        mg_ac_verr_rule(v, "Lambda target only supports GATEWAY_IAM_ROLE credential provider "
                           "type");
        return;
    }
    if (list == NULL || json_array_size(list) != 1)
        return;
    const json_t *c = json_array_get(list, 0);
    static const char base[] = "credentialProviderConfigurations.1";
    if (!json_is_object(c)) {
        mg_ac_verr_add(v, base, "Value at '%s' failed to satisfy constraint: Member must be a "
                                "structure", base);
        return;
    }
    int t = s_enum(v, base, "credentialProviderType",
                   s_str(v, c, base, "credentialProviderType", true), types);
    const json_t *prov = S_OBJ(v, c, base, "credentialProvider", false);
    int p = -1;
    if (prov)
        p = s_union(v, prov, "credentialProviderConfigurations.1.credentialProvider", providers);
    if (t < 0)
        return;
    if (kind == 0) {
        if (t != 0)
            mg_ac_verr_rule(v, "Lambda target only supports GATEWAY_IAM_ROLE credential "
                               "provider type");
        else if (p == 2)
            mg_ac_verr_rule(v, "IamCredentialProvider is not supported for lambda targets");
        else if (prov)
            mg_ac_verr_rule(v, "Credential provider is not supported for GATEWAY_IAM_ROLE "
                               "credential provider type on lambda targets");
        return;
    }
    if (t == 1 && p != 0)
        mg_ac_verr_rule(v, "OAuth credential provider is required for OAUTH credential provider "
                           "type");
    if (t == 2 && p != 1)
        mg_ac_verr_rule(v, "API key credential provider is required for API_KEY credential "
                           "provider type");
    if (t == 0 && p != 2 && (kind == 1 || kind == 2))
        mg_ac_verr_rule(v, "IamCredentialProvider is required for %s targets using IAM "
                           "authentication", kind == 1 ? "openApiSchema" : "mcpServer");
}

void mg_ac_validate_target(const json_t *b, bool update, struct mg_ac_verr *v)
{
    (void)update;
    static const char *const tc_members[] = {"mcp", "http", "inference", NULL};
    static const char *const mcp_members[] = {"lambda", "openApiSchema", "mcpServer",
                                              "smithyModel", "apiGateway", "connector", NULL};
    static const char *const ts_members[] = {"inlinePayload", "s3", NULL};

    const char *name = s_str(v, b, "", "name", false);
    s_pat(v, "", "name", name, P_TG_NAME, true);
    s_len(v, "", "description", s_str(v, b, "", "description", false), 1, 200, true);
    const char *token = s_str(v, b, "", "clientToken", false);
    s_len(v, "", "clientToken", token, 33, 256, false);
    s_pat(v, "", "clientToken", token, P_TOKEN, false);

    const json_t *md = S_OBJ(v, b, "", "metadataConfiguration", false);
    if (md) {
        s_string_list(v, md, "metadataConfiguration", "allowedRequestHeaders", 1, 10, 100);
        s_string_list(v, md, "metadataConfiguration", "allowedQueryParameters", 1, 10, 40);
        s_string_list(v, md, "metadataConfiguration", "allowedResponseHeaders", 1, 10, 100);
    }
    if (json_object_get(b, "privateEndpoint") && !json_is_null(json_object_get(b, "privateEndpoint")))
        mg_ac_verr_rule(v, "privateEndpoint is not supported by mcpgate");

    const json_t *tc = S_OBJ(v, b, "", "targetConfiguration", true);
    int top = s_union(v, tc, "targetConfiguration", tc_members);
    if (top < 0)
        return;
    if (top == 1) {
        mg_ac_verr_rule(v, "HTTP target configuration is not supported by mcpgate yet");
        return;
    }
    if (top == 2) {
        mg_ac_verr_rule(v, "Inference target configuration is not supported by mcpgate yet");
        return;
    }
    const json_t *mcp = json_object_get(tc, "mcp");
    if (!json_is_object(mcp)) {
        mg_ac_verr_add(v, "targetConfiguration.mcp", "Value at 'targetConfiguration.mcp' failed "
                       "to satisfy constraint: Member must be a structure");
        return;
    }
    int kind = s_union(v, mcp, "targetConfiguration.mcp", mcp_members);
    if (kind < 0)
        return;
    if (kind != 0) {
        static const char *const names[] = {"lambda", "OpenAPI", "MCP server", "Smithy",
                                            "API Gateway", "connector"};
        s_validate_creds(b, kind, v);
        if (!mg_ac_verr_any(v))
            mg_ac_verr_rule(v, "%s targets (targetConfiguration.mcp.%s) are not supported by "
                               "mcpgate yet; only lambda targets are",
                            names[kind], mcp_members[kind]);
        return;
    }
    static const char lbase[] = "targetConfiguration.mcp.lambda";
    const json_t *l = json_object_get(mcp, "lambda");
    if (!json_is_object(l)) {
        mg_ac_verr_add(v, lbase, "Value at '%s' failed to satisfy constraint: Member must be a "
                                 "structure", lbase);
        return;
    }
    const char *arn = s_str(v, l, lbase, "lambdaArn", true);
    s_len(v, lbase, "lambdaArn", arn, 1, 170, false);
    s_pat(v, lbase, "lambdaArn", arn, P_LAMBDA, false);
    const json_t *ts = S_OBJ(v, l, lbase, "toolSchema", true);
    int tsk = s_union(v, ts, "targetConfiguration.mcp.lambda.toolSchema", ts_members);
    if (tsk == 1)
        mg_ac_verr_rule(v, "S3 tool schemas (toolSchema.s3) are not supported by mcpgate; give "
                           "the tools in toolSchema.inlinePayload");
    else if (tsk == 0)
        s_validate_tools(json_object_get(ts, "inlinePayload"), v);
    s_validate_creds(b, 0, v);
}

const char *mg_ac_check_tools(const json_t *tools, char *buf, size_t cap)
{
    size_t n = json_array_size(tools);
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(tools, i), "name"));
        if (a && !mg_ac_match_tool_name(a)) {
            /* stored before names were checked at creation: never published */
            snprintf(buf, cap, "Invalid tool name found in target configuration: tool names must "
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
