/* The Lambda API (rest-json, /2015-03-31/functions...): the table of the operations mcpgate
 * serves, served by mg_call_serve, and what their handlers share (the function a request names,
 * authorization, not-found). The handlers: api_functions.c (functions, configuration, code),
 * api_permissions.c (the resource-based policy) and api_invoke.c (Invoke). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "call/authz.h"
#include "lambda/api_internal.h"

static const enum mg_aws_service s_svcs[] = {MG_AWS_SVC_LAMBDA};

static const struct mg_call_op s_ops[] = {
    {"CreateFunction", mg_lambda_api_create_function},
    {"GetFunction", mg_lambda_api_get_function},
    {"GetFunctionConfiguration", mg_lambda_api_get_function_configuration},
    {"ListFunctions", mg_lambda_api_list_functions},
    {"DeleteFunction", mg_lambda_api_delete_function},
    {"UpdateFunctionCode", mg_lambda_api_update_function_code},
    {"UpdateFunctionConfiguration", mg_lambda_api_update_function_configuration},
    {"Invoke", mg_lambda_api_invoke},
    {"AddPermission", mg_lambda_api_add_permission},
    {"RemovePermission", mg_lambda_api_remove_permission},
    {"GetPolicy", mg_lambda_api_get_policy},
};

/* Runtime is an enum value or a layer ARN for Lambda; api_functions.c refuses it in Lambda's
 * words ("... or be a valid ARN", "no longer supported"). */
static const char *const s_own_members[] = {
    "CreateFunction.Runtime",
    "UpdateFunctionConfiguration.Runtime",
    NULL,
};

const struct mg_call_api mg_lambda_api = {
    .svcs = s_svcs,
    .n_svcs = sizeof(s_svcs) / sizeof(s_svcs[0]),
    .ops = s_ops,
    .n_ops = sizeof(s_ops) / sizeof(s_ops[0]),
    .feature = NULL,
    .own_members = s_own_members,
};

void mg_lambda_handle(struct mg_call *c)
{
    if (c->service == NULL) {
        mg_aws_send_error(c->x, MG_AWS_REST_JSON, 503, "ServiceException",
                          "The Lambda service is not running.");
        return;
    }
    mg_call_serve(c, &mg_lambda_api);
}

void mg_lambda_api_nomem(struct mg_call *c)
{
    mg_aws_reply_error(c->reply, 500, "ServiceException",
                       "The request could not be completed: out of memory.");
}

/* The pattern of the operation's FunctionName member, from the model. */
static const char *s_name_pattern(const struct mg_aws_op *op)
{
    const struct mg_aws_shape *in = mg_aws_shape(op->input);
    for (size_t i = 0; in && i < in->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(in, i);
        if (strcmp(mg_aws_str(m->name), "FunctionName") == 0)
            return mg_aws_str(mg_aws_shape(m->target)->pattern);
    }
    return "";
}

void mg_lambda_api_bad_name(struct mg_call *c, const char *value)
{
    /* the value is echoed as Lambda does, with control characters (NUL...) left out */
    char shown[260];
    size_t n = 0;
    for (; value[n] && n + 1 < sizeof(shown); n++)
        shown[n] = ((unsigned char)value[n] < 0x20 || value[n] == 0x7f) ? '?' : value[n];
    shown[n] = 0;
    mg_aws_reply_error(c->reply, 400, "ValidationException",
                       "1 validation error detected: Value '%s' at 'functionName' failed to "
                       "satisfy constraint: Member must satisfy regular expression pattern: %s",
                       shown, s_name_pattern(c->op));
}

bool mg_lambda_api_target(struct mg_call *c, bool qualified, struct mg_lambda_target *t)
{
    memset(t, 0, sizeof(*t));
    json_t *v = json_object_get(c->input, "FunctionName");
    const char *in = json_string_value(v);
    struct mg_lambda_name n;
    /* a label with a NUL in it is a string the model's pattern refused already; a body cannot
     * carry one past the JSON parser */
    if (in == NULL || strlen(in) != json_string_length(v) || !mg_lambda_parse_name(in, &n) ||
        (!qualified && n.qualifier[0])) {
        mg_lambda_api_bad_name(c, in ? in : "");
        return false;
    }
    char why[400];
    if (!mg_lambda_name_is_local(&n, in, c->env->region, why, sizeof(why))) {
        /* an ARN of another region or partition never names a function of this server */
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException", "%s", why);
        return false;
    }
    mg_lambda_strlcpy(t->account, sizeof(t->account),
                      n.account[0] ? n.account : c->principal.account);
    mg_lambda_strlcpy(t->name, sizeof(t->name), n.name);
    /* the Qualifier parameter qualifies a name that has none ("fn:1" wins, as on Lambda) */
    const char *q = mg_lambda_in_str(c, "Qualifier");
    mg_lambda_strlcpy(t->qualifier, sizeof(t->qualifier),
                      n.qualifier[0] || q == NULL ? n.qualifier : q);
    mg_lambda_function_arn(c->env->region, t->account, t->name, t->arn, sizeof(t->arn));
    const struct mg_snapshot_doc *d = mg_snapshot_get(c->snap, "function", t->account, t->name);
    t->doc = d ? d->doc : NULL;
    return true;
}

bool mg_lambda_api_authorize_extra(struct mg_call *c, const char *action,
                                   const struct mg_authz_resource *res,
                                   const struct mg_authz_extra *extra)
{
    return mg_authz(c, action, res, extra); /* a denial goes into c->reply */
}

bool mg_lambda_api_authorize(struct mg_call *c, const char *action,
                             const struct mg_lambda_target *t)
{
    struct mg_authz_resource res = {
        .arn = t->arn,
        .account = t->account,
        .policy = t->doc ? mg_lambda_function_policy(c->snap, t->arn) : NULL,
        .tags = t->doc ? json_object_get(t->doc, "Tags") : NULL,
    };
    return mg_lambda_api_authorize_extra(c, action, &res, NULL);
}

bool mg_lambda_api_not_found(struct mg_call *c, const struct mg_lambda_target *t)
{
    if (t->doc && (t->qualifier[0] == 0 || strcmp(t->qualifier, "$LATEST") == 0))
        return false;
    if (t->qualifier[0])
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException", "Function not found: %s:%s",
                           t->arn, t->qualifier);
    else
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException", "Function not found: %s",
                           t->arn);
    return true;
}

json_t *mg_lambda_api_load_for_update(struct mg_call *c, const struct mg_lambda_target *t)
{
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    json_t *doc = NULL;
    if (mg_store_get(c->env->store, "function", t->account, t->name, &b) == MG_E_OK)
        doc = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    return doc;
}

bool mg_lambda_api_check_revision(struct mg_call *c, const char *want, const json_t *doc,
                                  const char *member)
{
    const char *have = json_string_value(json_object_get(doc, member));
    if (want && (have == NULL || strcmp(want, have) != 0)) {
        mg_aws_reply_error(c->reply, 412, "PreconditionFailedException",
                           "The Revision Id provided does not match the latest Revision Id. Call "
                           "the GetFunction/GetAlias API to retrieve the latest Revision Id");
        return false;
    }
    return true;
}

json_t *mg_lambda_api_public_conf(const json_t *doc)
{
    json_t *j = json_deep_copy(doc);
    if (j) {
        json_object_del(j, "Tags");
        json_object_del(j, "Policy");
        json_object_del(j, "PolicyRevisionId");
        json_object_del(j, "CodeUnzippedSize");
    }
    return j;
}
