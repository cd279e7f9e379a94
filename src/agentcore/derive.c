/* The tools of targets whose schema is a document (OpenAPI, Smithy), derived when the target is
 * created or updated and stored with it as "_tools" (targets/targets.h): a document mcpgate
 * cannot serve is refused there and then, with AgentCore's ValidationException. */
#include <string.h>

#include "agentcore/internal.h"
#include "targets/targets.h"

static const char *s_union_member(const json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (!json_is_null(v))
            return k;
    }
    return NULL;
}

enum mg_err mg_ac_target_tools(const json_t *body, const struct mg_ac_quotas *q, json_t **tools,
                               struct mg_ac_verr *v)
{
    *tools = NULL;
    const json_t *mcp = json_object_get(json_object_get(body, "targetConfiguration"), "mcp");
    const char *kind = s_union_member(mcp);
    bool openapi = kind && strcmp(kind, "openApiSchema") == 0;
    bool smithy = kind && strcmp(kind, "smithyModel") == 0;
    if (!openapi && !smithy)
        return MG_E_OK; /* Lambda: its inline tools; MCP servers: synchronized later */
    if (openapi) {
        /* AgentCore: none, GATEWAY_IAM_ROLE (with iamCredentialProvider, checked with the other
         * credential rules), OAUTH or API_KEY */
        const char *ct = json_string_value(json_object_get(
            json_array_get(json_object_get(body, "credentialProviderConfigurations"), 0),
            "credentialProviderType"));
        if (ct &&
            (strcmp(ct, "CALLER_IAM_CREDENTIALS") == 0 || strcmp(ct, "JWT_PASSTHROUGH") == 0)) {
            mg_ac_verr_rule(v,
                            "%s credential provider type is not supported for openApiSchema "
                            "targets; use GATEWAY_IAM_ROLE, OAUTH or API_KEY, or none",
                            ct);
            return MG_E_INVALID;
        }
    }
    const json_t *schema = json_object_get(mcp, kind);
    const char *where = s_union_member(schema);
    if (where && strcmp(where, "s3") == 0) {
        mg_ac_verr_rule(v,
                        "S3 schema locations (targetConfiguration.mcp.%s.s3) are not supported "
                        "by mcpgate, which has no S3: give the %s in %s.inlinePayload",
                        kind, openapi ? "OpenAPI document" : "Smithy model", kind);
        return MG_E_INVALID;
    }
    const json_t *payload = json_object_get(schema, "inlinePayload");
    if (!json_is_string(payload)) {
        mg_ac_verr_rule(v, "targetConfiguration.mcp.%s needs an inlinePayload", kind);
        return MG_E_INVALID;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    struct mg_target_limits lim = {.max_tools = q->tools_per_target,
                                   .max_name = q->tool_name_len,
                                   .target_name_len = name ? strlen(name) : 0};
    struct mg_slice text = mg_slice_make(json_string_value(payload), json_string_length(payload));
    char msg[512]; /* struct mg_ac_verr.plain */
    msg[0] = 0;
    enum mg_err e = openapi ? mg_openapi_tools(text, &lim, tools, msg, sizeof(msg))
                            : mg_smithy_tools(text, &lim, tools, msg, sizeof(msg));
    if (e == MG_E_INVALID)
        mg_ac_verr_rule(v, "%s", msg[0] ? msg : "The schema could not be read");
    return e;
}
