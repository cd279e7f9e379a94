/* src/lambda/api_internal.h: what the Lambda API's files (api*.c) share. Each handler is an
 * mg_call_op_fn of mg_lambda_api: it reads c->input, validated by the Lambda model, and fills
 * c->reply. */
#ifndef MG_LAMBDA_API_INTERNAL_H
#define MG_LAMBDA_API_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "base/util.h"
#include "call/authz.h"
#include "call/call.h"
#include "lambda/internal.h"

/* The function a request names (its FunctionName member). */
struct mg_lambda_target {
    char account[13], name[65], qualifier[130];
    char arn[256];
    const json_t *doc; /* in c->snap, or NULL */
};

/* The input member's string value, or NULL. */
static inline const char *mg_lambda_in_str(const struct mg_call *c, const char *member)
{
    return json_string_value(json_object_get(c->input, member));
}

/* 500 ServiceException: a document could not be built (an allocation failed). */
void mg_lambda_api_nomem(struct mg_call *c);
/* AWS's ValidationException for a FunctionName the model's pattern admits but Lambda does not
 * (a name over 64 characters, a qualifier where none is allowed), with that pattern. */
void mg_lambda_api_bad_name(struct mg_call *c, const char *value);
/* Resolves c->input's FunctionName (and its Qualifier parameter) into t; false after answering
 * (ValidationException, or 404 for an ARN of another region or partition). qualified: whether
 * the name may carry a qualifier. */
bool mg_lambda_api_target(struct mg_call *c, bool qualified, struct mg_lambda_target *t);
/* Authorizes action on res (mg_authz's decision and audit); false after answering 403
 * AccessDeniedException in c->reply. */
bool mg_lambda_api_authorize_extra(struct mg_call *c, const char *action,
                                   const struct mg_authz_resource *res,
                                   const struct mg_authz_extra *extra);
/* Authorizes action on the function (its resource-based policy and tags count); false after
 * answering 403. */
bool mg_lambda_api_authorize(struct mg_call *c, const char *action,
                             const struct mg_lambda_target *t);
/* Answers 404 and returns true when t names no function (or a version other than $LATEST). */
bool mg_lambda_api_not_found(struct mg_call *c, const struct mg_lambda_target *t);
/* Reads the function's current document from the store (under the write lock), or NULL. */
json_t *mg_lambda_api_load_for_update(struct mg_call *c, const struct mg_lambda_target *t);
/* 412 when want (may be NULL: no condition) is not doc's member; false after answering. */
bool mg_lambda_api_check_revision(struct mg_call *c, const char *want, const json_t *doc,
                                  const char *member);
/* The configuration as the API returns it: the stored document without private members. */
json_t *mg_lambda_api_public_conf(const json_t *doc);

static inline void mg_lambda_api_new_revision(char out[37])
{
    mg_request_id(out);
}

/* The handlers (api_functions.c, api_permissions.c, api_invoke.c). */
void mg_lambda_api_create_function(struct mg_call *c);
void mg_lambda_api_get_function(struct mg_call *c);
void mg_lambda_api_get_function_configuration(struct mg_call *c);
void mg_lambda_api_list_functions(struct mg_call *c);
void mg_lambda_api_delete_function(struct mg_call *c);
void mg_lambda_api_update_function_code(struct mg_call *c);
void mg_lambda_api_update_function_configuration(struct mg_call *c);
void mg_lambda_api_add_permission(struct mg_call *c);
void mg_lambda_api_remove_permission(struct mg_call *c);
void mg_lambda_api_get_policy(struct mg_call *c);
void mg_lambda_api_invoke(struct mg_call *c);

#endif
