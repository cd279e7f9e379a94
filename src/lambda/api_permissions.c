/* The Lambda API's resource-based policy of a function: AddPermission, RemovePermission and
 * GetPolicy. The statements are kept as the policy text in the function's document ("Policy",
 * "PolicyRevisionId"); every change is parsed as a resource policy before it is stored. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "lambda/api_internal.h"

static json_t *s_principal_json(const char *p)
{
    if (strcmp(p, "*") == 0)
        return json_string("*");
    bool digits = strlen(p) == 12;
    for (size_t i = 0; digits && p[i]; i++)
        digits = p[i] >= '0' && p[i] <= '9';
    if (digits) {
        char arn[64];
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:root", p);
        return json_pack("{s:s}", "AWS", arn);
    }
    if (strncmp(p, "arn:", 4) == 0)
        return json_pack("{s:s}", "AWS", p);
    return json_pack("{s:s}", "Service", p);
}

/* Writes the function document (under the write lock the caller holds) and commits; answers
 * 500 and releases the lock on failure. */
static bool s_store_policy_doc(struct mg_call *c, const struct mg_lambda_target *t,
                               const json_t *doc)
{
    char *dtext = json_dumps(doc, JSON_COMPACT);
    enum mg_err e = dtext ? mg_store_put(c->env->store, "function", t->account, t->name,
                                         mg_slice_cstr(dtext))
                          : MG_E_NOMEM;
    mg_free(dtext);
    struct mg_errinfo ei = {0};
    if (e || mg_state_write_commit(c->env->state, &ei)) {
        if (e)
            mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The policy could not be stored.");
        return false;
    }
    return true;
}

void mg_lambda_api_add_permission(struct mg_call *c)
{
    struct mg_lambda_target tt, *t = &tt;
    if (!mg_lambda_api_target(c, true, t) ||
        !mg_lambda_api_authorize(c, "lambda:AddPermission", t) || mg_lambda_api_not_found(c, t))
        return;
    const json_t *body = c->input; /* StatementId, Action and Principal: required, patterns */
    json_t *doc = NULL, *policy = NULL, *stmt = NULL;
    const char *sid = mg_lambda_in_str(c, "StatementId");
    const char *action = mg_lambda_in_str(c, "Action");
    const char *principal = mg_lambda_in_str(c, "Principal");
    stmt = json_pack("{s:s,s:s,s:o,s:s,s:s}", "Sid", sid, "Effect", "Allow", "Principal",
                     s_principal_json(principal), "Action", action, "Resource", t->arn);
    json_t *cond = json_object();
    const char *src_arn = json_string_value(json_object_get(body, "SourceArn"));
    const char *src_acct = json_string_value(json_object_get(body, "SourceAccount"));
    const char *org = json_string_value(json_object_get(body, "PrincipalOrgID"));
    int bad = stmt == NULL || cond == NULL;
    if (src_acct || org) {
        json_t *se = json_object();
        if (src_acct)
            bad |= json_object_set_new(se, "AWS:SourceAccount", json_string(src_acct));
        if (org)
            bad |= json_object_set_new(se, "aws:PrincipalOrgID", json_string(org));
        bad |= json_object_set_new(cond, "StringEquals", se);
    }
    if (src_arn)
        bad |= json_object_set_new(cond, "ArnLike", json_pack("{s:s}", "AWS:SourceArn", src_arn));
    if (json_object_size(cond))
        bad |= json_object_set_new(stmt, "Condition", cond);
    else
        json_decref(cond);
    if (bad) {
        mg_lambda_api_nomem(c);
        goto out;
    }

    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The policy could not be stored.");
        goto out;
    }
    doc = mg_lambda_api_load_for_update(c, t);
    if (doc == NULL) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_not_found(c, &(struct mg_lambda_target){.doc = NULL});
        goto out;
    }
    if (!mg_lambda_api_check_revision(c, mg_lambda_in_str(c, "RevisionId"), doc,
                                      "PolicyRevisionId")) {
        mg_state_write_abort(c->env->state);
        goto out;
    }
    const char *ptext = json_string_value(json_object_get(doc, "Policy"));
    /* the stored policy failing to load (an allocation failed) must not start a new one: that
     * would drop every statement granted before */
    policy = ptext ? json_loads(ptext, 0, NULL)
                   : json_pack("{s:s,s:s,s:[]}", "Version", "2012-10-17", "Id", "default",
                               "Statement");
    json_t *stmts = json_object_get(policy, "Statement");
    if (!json_is_array(stmts)) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    size_t i;
    json_t *s;
    json_array_foreach(stmts, i, s)
    {
        const char *have = json_string_value(json_object_get(s, "Sid"));
        if (have && strcmp(have, sid) == 0) {
            mg_state_write_abort(c->env->state);
            mg_aws_reply_error(
                c->reply, 409, "ResourceConflictException",
                "The statement id (%s) provided already exists. Please provide a new statement "
                "id, or remove the existing statement.",
                sid);
            goto out;
        }
    }
    if (json_array_append(stmts, stmt)) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    char *text = json_dumps(policy, JSON_COMPACT);
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RAW, t->arn};
    struct mg_policy *compiled = NULL;
    struct mg_errinfo pe = {0};
    if (text == NULL) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    enum mg_err pe_code = mg_policy_parse(mg_slice_cstr(text), &o, &compiled, &pe);
    if (pe_code == MG_E_NOMEM) {
        mg_free(text);
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (pe_code != MG_E_OK || strlen(text) > 20480) {
        mg_free(text);
        mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 400, "InvalidParameterValueException",
                           "The policy is not valid: %s",
                           pe.msg[0] ? pe.msg : "The final policy size is bigger than the limit.");
        goto out;
    }
    mg_policy_unref(compiled);
    char rev[37];
    mg_lambda_api_new_revision(rev);
    bad = json_object_set_new(doc, "Policy", json_string(text));
    bad |= json_object_set_new(doc, "PolicyRevisionId", json_string(rev));
    mg_free(text);
    if (bad) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!s_store_policy_doc(c, t, doc))
        goto out;
    char *st = json_dumps(stmt, JSON_COMPACT);
    json_t *r = st ? json_pack("{s:s}", "Statement", st) : NULL;
    mg_free(st);
    if (r == NULL)
        mg_lambda_api_nomem(c);
    else
        mg_aws_reply_json(c->reply, 201, r);
out:
    json_decref(stmt);
    json_decref(policy);
    json_decref(doc);
}

void mg_lambda_api_remove_permission(struct mg_call *c)
{
    struct mg_lambda_target tt, *t = &tt;
    if (!mg_lambda_api_target(c, true, t) ||
        !mg_lambda_api_authorize(c, "lambda:RemovePermission", t) || mg_lambda_api_not_found(c, t))
        return;
    const char *sid = mg_lambda_in_str(c, "StatementId");
    json_t *doc = NULL, *policy = NULL;
    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        mg_aws_reply_error(c->reply, 500, "ServiceException", "The policy could not be stored.");
        goto out;
    }
    doc = mg_lambda_api_load_for_update(c, t);
    const char *ptext = json_string_value(json_object_get(doc, "Policy"));
    policy = ptext ? json_loads(ptext, 0, NULL) : NULL;
    json_t *stmts = json_object_get(policy, "Statement");
    size_t idx = (size_t)-1, i;
    json_t *s;
    json_array_foreach(stmts, i, s)
    {
        const char *have = json_string_value(json_object_get(s, "Sid"));
        if (sid && have && strcmp(have, sid) == 0)
            idx = i;
    }
    if (idx == (size_t)-1) {
        mg_state_write_abort(c->env->state);
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException", "%s",
                           "The resource you requested does not exist.");
        goto out;
    }
    const char *want_rev = mg_lambda_in_str(c, "RevisionId");
    const char *have_rev = json_string_value(json_object_get(doc, "PolicyRevisionId"));
    if (want_rev && want_rev[0] && (have_rev == NULL || strcmp(want_rev, have_rev) != 0)) {
        mg_state_write_abort(c->env->state);
        mg_aws_reply_error(
            c->reply, 412, "PreconditionFailedException", "%s",
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetPolicy API to retrieve the latest Revision Id");
        goto out;
    }
    json_array_remove(stmts, idx);
    int bad = 0;
    if (json_array_size(stmts) == 0) {
        json_object_del(doc, "Policy");
    } else {
        /* never store an empty policy in place of the remaining statements */
        char *text = json_dumps(policy, JSON_COMPACT);
        bad = text == NULL || json_object_set_new(doc, "Policy", json_string(text));
        mg_free(text);
    }
    char rev[37];
    mg_lambda_api_new_revision(rev);
    bad |= json_object_set_new(doc, "PolicyRevisionId", json_string(rev));
    if (bad) {
        mg_state_write_abort(c->env->state);
        mg_lambda_api_nomem(c);
        goto out;
    }
    if (!s_store_policy_doc(c, t, doc))
        goto out;
    mg_aws_reply_json(c->reply, 204, NULL);
out:
    json_decref(policy);
    json_decref(doc);
}

void mg_lambda_api_get_policy(struct mg_call *c)
{
    struct mg_lambda_target tt, *t = &tt;
    if (!mg_lambda_api_target(c, true, t) || !mg_lambda_api_authorize(c, "lambda:GetPolicy", t) ||
        mg_lambda_api_not_found(c, t))
        return;
    const char *p = json_string_value(json_object_get(t->doc, "Policy"));
    const char *rev = json_string_value(json_object_get(t->doc, "PolicyRevisionId"));
    if (p == NULL) {
        mg_aws_reply_error(c->reply, 404, "ResourceNotFoundException",
                           "The resource you requested does not exist.");
        return;
    }
    json_t *r = json_pack("{s:s,s:s}", "Policy", p, "RevisionId", rev ? rev : "");
    if (r == NULL)
        mg_lambda_api_nomem(c);
    else
        mg_aws_reply_json(c->reply, 200, r);
}
