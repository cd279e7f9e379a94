/* The IAM API (query protocol, version 2010-05-08): dispatch and the helpers every operation
 * shares. The operations are in api_roles.c, api_users.c, api_entity_policies.c and
 * api_policies.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "iam/api_internal.h"

/* ---- errors ------------------------------------------------------------------------------ */

static bool s_vfail(struct mg_call *c, int status, const char *code, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (c->reply != NULL) /* under mg_call_serve: the reply is sent after the handler returns */
        mg_aws_reply_error(c->reply, status, code, "%s", msg);
    else
        mg_aws_send_error(c->x, c->protocol, status, code, msg);
    return false;
}

bool mg_iam_fail(struct mg_call *c, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(c, status, code, fmt, ap);
    va_end(ap);
    return false;
}

bool mg_iam_invalid(struct mg_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vfail(c, 400, "ValidationError", fmt, ap);
    va_end(ap);
    return false;
}

bool mg_iam_missing(struct mg_call *c, const char *member)
{
    return mg_iam_invalid(c,
                          "1 validation error detected: Value null at '%s' failed to satisfy "
                          "constraint: Member must not be null",
                          member);
}

bool mg_iam_internal(struct mg_call *c)
{
    return mg_iam_fail(c, 500, "ServiceFailure",
                       "The request processing has failed because of an unknown error, "
                       "exception or failure.");
}

bool mg_iam_policy_error(struct mg_call *c, enum mg_err e, const struct mg_errinfo *ei)
{
    if (e == MG_E_TOO_LARGE)
        return mg_iam_fail(c, 409, "LimitExceeded", "%s", ei->msg);
    if (e == MG_E_PARSE || e == MG_E_INVALID)
        return mg_iam_fail(c, 400, "MalformedPolicyDocument", "%s", ei->msg);
    return mg_iam_internal(c);
}

/* ---- parameters -------------------------------------------------------------------------- */

/* The parameters come from c->input, which mg_call_serve assembled and validated against the
 * model (required members, lengths, patterns, ranges): what remains here are the types, the
 * buffers' capacities (which fail closed) and the rules the model does not express. */

bool mg_iam_valid_name(struct mg_slice s, size_t max)
{
    if (s.len == 0 || s.len > max)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (ch && strchr("_+=,.@-", ch))))
            return false;
    }
    return true;
}

/* A member of the input, or NULL when absent (or null). */
static const json_t *s_in(const struct mg_call *c, const char *name)
{
    const json_t *v = json_object_get(c->input, name);
    return json_is_null(v) ? NULL : v;
}

bool mg_iam_has(const struct mg_call *c, const char *name)
{
    return s_in(c, name) != NULL;
}

/* A string member into out (cap bytes); false after answering ValidationError when it is not a
 * string, holds a NUL, does not fit or is longer than max characters' bytes allow. */
static bool s_str(struct mg_call *c, const json_t *v, const char *member, size_t max, char *out,
                  size_t cap)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (s == NULL || strlen(s) != n)
        return mg_iam_invalid(c,
                              "1 validation error detected: Value at '%s' failed to satisfy "
                              "constraint: Member must be a string",
                              member);
    if (n >= cap) /* the model checked max characters; a buffer holds cap - 1 bytes */
        return mg_iam_invalid(c,
                              "1 validation error detected: Value at '%s' failed to satisfy "
                              "constraint: Member must have length less than or equal to %zu",
                              member, max);
    mg_memcpy(out, s, n);
    out[n] = 0;
    return true;
}

bool mg_iam_name_param(struct mg_call *c, const char *name, const char *member, size_t max,
                       bool required, char *out, bool *present)
{
    const json_t *v = s_in(c, name);
    out[0] = 0;
    if (present)
        *present = v != NULL;
    if (v == NULL)
        return required ? mg_iam_missing(c, member) : true;
    return s_str(c, v, member, max, out, MG_IAM_NAME_CAP);
}

bool mg_iam_path_param(struct mg_call *c, const char *name, const char *member, char *out)
{
    const json_t *v = s_in(c, name);
    if (v == NULL) {
        out[0] = '/';
        out[1] = 0;
        return true;
    }
    return s_str(c, v, member, MG_IAM_PATH_CAP - 1, out, MG_IAM_PATH_CAP);
}

bool mg_iam_str_param(struct mg_call *c, const char *name, const char *member, size_t max,
                      bool required, char *out, size_t cap)
{
    const json_t *v = s_in(c, name);
    out[0] = 0;
    if (v == NULL)
        return required ? mg_iam_missing(c, member) : true;
    return s_str(c, v, member, max, out, cap);
}

char *mg_iam_doc_param(struct mg_call *c, const char *name, const char *member, bool required,
                       bool *absent)
{
    const json_t *v = s_in(c, name);
    if (absent)
        *absent = v == NULL;
    if (v == NULL) {
        if (required)
            mg_iam_missing(c, member);
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (s == NULL || strlen(s) != n || n > 4u * MG_IAM_DOC_MAX) {
        mg_iam_invalid(c,
                       "1 validation error detected: Value at '%s' failed to satisfy constraint: "
                       "Member must have length less than or equal to %u",
                       member, MG_IAM_DOC_MAX);
        return NULL;
    }
    char *d = mg_slice_dup(mg_slice_make(s, n));
    if (d == NULL)
        mg_iam_internal(c);
    return d;
}

bool mg_iam_int_param(struct mg_call *c, const char *name, const char *member, int64_t min,
                      int64_t max, int64_t dflt, int64_t *out)
{
    const json_t *v = s_in(c, name);
    *out = dflt;
    if (v == NULL)
        return true;
    if (!json_is_integer(v))
        return mg_iam_invalid(c, "Value at '%s' is not a valid integer", member);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) /* the model's range, checked before */
        return mg_iam_invalid(c,
                              "1 validation error detected: Value '%lld' at '%s' failed to "
                              "satisfy constraint: Member must have value %s %lld",
                              (long long)i, member,
                              i < min ? "greater than or equal to" : "less than or equal to",
                              (long long)(i < min ? min : max));
    *out = i;
    return true;
}

bool mg_iam_bool_param(struct mg_call *c, const char *name, bool dflt, bool *out)
{
    const json_t *v = s_in(c, name);
    *out = dflt;
    if (v == NULL)
        return true;
    if (!json_is_boolean(v))
        return mg_iam_invalid(c, "Value for %s must be true or false", name);
    *out = json_is_true(v);
    return true;
}

json_t *mg_iam_tags_param(struct mg_call *c, const char *name)
{
    const json_t *in = s_in(c, name);
    json_t *arr = json_array();
    if (arr == NULL) {
        mg_iam_internal(c);
        return NULL;
    }
    if (json_array_size(in) > MG_IAM_MAX_TAGS) { /* the model's limit, checked before */
        json_decref(arr);
        mg_iam_invalid(c, "1 validation error detected: Value at 'tags' failed to satisfy "
                          "constraint: Member must have length less than or equal to 50");
        return NULL;
    }
    size_t i;
    const json_t *t;
    json_array_foreach(in, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (k == NULL || v == NULL) {
            json_decref(arr);
            mg_iam_invalid(c,
                           "1 validation error detected: Value null at 'tags.%zu.member.%s' "
                           "failed to satisfy constraint: Member must not be null",
                           i + 1, k == NULL ? "key" : "value");
            return NULL;
        }
        /* A key given twice: the last value wins, as IAM keys are unique. */
        size_t j;
        json_t *e;
        json_array_foreach(arr, j, e)
        {
            const char *ek = json_string_value(json_object_get(e, "Key"));
            if (ek && strcmp(ek, k) == 0) {
                json_array_remove(arr, j);
                break;
            }
        }
        if (!mg_json_append(arr, json_pack("{s:s, s:s}", "Key", k, "Value", v))) {
            json_decref(arr);
            mg_iam_internal(c);
            return NULL;
        }
    }
    return arr;
}

json_t *mg_iam_list_param(struct mg_call *c, const char *name, const char *member, size_t max_items)
{
    const json_t *in = s_in(c, name);
    if (json_array_size(in) > max_items) {
        mg_iam_invalid(c,
                       "1 validation error detected: Value at '%s' failed to satisfy "
                       "constraint: Member must have length less than or equal to %zu",
                       member, max_items);
        return NULL;
    }
    json_t *arr = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(in, i, v)
    {
        if (arr != NULL && (!json_is_string(v) || json_array_append(arr, (json_t *)v) != 0)) {
            json_decref(arr);
            mg_iam_invalid(c,
                           "1 validation error detected: Value at '%s.%zu.member' failed to "
                           "satisfy constraint: Member must be a string",
                           member, i + 1);
            return NULL;
        }
    }
    if (arr == NULL)
        mg_iam_internal(c);
    return arr;
}

bool mg_iam_page_params(struct mg_call *c, struct mg_iam_page *pg)
{
    pg->marker[0] = 0;
    if (!mg_iam_int_param(c, "MaxItems", "maxItems", 1, 1000, 100, &pg->max_items))
        return false;
    const char *m = json_string_value(s_in(c, "Marker"));
    if (m == NULL)
        return true;
    struct mg_buf b;
    mg_buf_init(&b, sizeof(pg->marker) - 1);
    bool ok = m[0] && mg_base64url_decode(&b, mg_slice_cstr(m)) == MG_E_OK && b.len > 0 &&
              mg_memcmp(b.ptr, "\x01", 1) == 0;
    if (ok) {
        mg_memcpy(pg->marker, b.ptr + 1, b.len - 1);
        pg->marker[b.len - 1] = 0;
    }
    mg_buf_cleanup(&b);
    if (!ok)
        return mg_iam_invalid(c, "Invalid Marker.");
    return true;
}

enum mg_err mg_iam_page_end(struct mg_buf *b, bool truncated, const char *next_key)
{
    MG_TRY(mg_iam_xml(b, 4, "IsTruncated", truncated ? "true" : "false"));
    if (!truncated)
        return MG_E_OK;
    struct mg_buf raw, enc;
    mg_buf_init(&raw, 1024);
    mg_buf_init(&enc, 2048);
    enum mg_err e = mg_buf_append_byte(&raw, 1);
    if (!e)
        e = mg_buf_append_cstr(&raw, next_key);
    if (!e)
        e = mg_base64url_encode(&enc, mg_buf_slice(&raw));
    const char *m = e ? NULL : mg_buf_cstr(&enc);
    if (!e && m == NULL)
        e = MG_E_NOMEM;
    if (!e)
        e = mg_iam_xml(b, 4, "Marker", m);
    mg_buf_cleanup(&raw);
    mg_buf_cleanup(&enc);
    return e;
}

/* ---- output ------------------------------------------------------------------------------ */

enum mg_err mg_iam_xml(struct mg_buf *b, int indent, const char *name, const char *value)
{
    MG_TRY(mg_buf_printf(b, "%*s<%s>", indent, "", name));
    MG_TRY(mg_buf_append_xml(b, mg_slice_cstr(value ? value : "")));
    return mg_buf_printf(b, "</%s>\n", name);
}

enum mg_err mg_iam_xml_doc(struct mg_buf *b, int indent, const char *name, const char *doc)
{
    struct mg_buf enc;
    mg_buf_init(&enc, 4u * MG_IAM_DOC_MAX);
    enum mg_err e = mg_url_encode(&enc, mg_slice_cstr(doc ? doc : ""), false);
    if (!e)
        e = mg_buf_printf(b, "%*s<%s>", indent, "", name);
    if (!e)
        e = mg_buf_append_slice(b, mg_buf_slice(&enc)); /* %XX text: nothing to escape */
    if (!e)
        e = mg_buf_printf(b, "</%s>\n", name);
    mg_buf_cleanup(&enc);
    return e;
}

enum mg_err mg_iam_xml_tags(struct mg_buf *b, int indent, const json_t *tags)
{
    if (json_array_size(tags) == 0)
        return MG_E_OK;
    MG_TRY(mg_buf_printf(b, "%*s<Tags>\n", indent, ""));
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        MG_TRY(mg_buf_printf(b, "%*s<member>\n", indent + 2, ""));
        MG_TRY(mg_iam_xml(b, indent + 4, "Key", json_string_value(json_object_get(t, "Key"))));
        MG_TRY(mg_iam_xml(b, indent + 4, "Value", json_string_value(json_object_get(t, "Value"))));
        MG_TRY(mg_buf_printf(b, "%*s</member>\n", indent + 2, ""));
    }
    return mg_buf_printf(b, "%*s</Tags>\n", indent, "");
}

void mg_iam_send(struct mg_call *c, const char *action, const struct mg_buf *inner)
{
    bool has = inner && inner->len > 0;
    if (mg_aws_reply_xml(c->reply, action, has ? mg_buf_slice(inner) : mg_slice_make("", 0), has) !=
        MG_E_OK)
        mg_iam_internal(c);
}

/* ---- state -------------------------------------------------------------------------------- */

struct mg_snapshot *mg_iam_write_begin(struct mg_call *c)
{
    if (mg_state_write_begin(c->env->state) != MG_E_OK) {
        mg_iam_internal(c);
        return NULL;
    }
    return mg_state_acquire(c->env->state);
}

void mg_iam_write_abort(struct mg_call *c, struct mg_snapshot *snap)
{
    mg_state_write_abort(c->env->state);
    mg_snapshot_unref(snap);
}

bool mg_iam_write_commit(struct mg_call *c, struct mg_snapshot *snap)
{
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_state_write_commit(c->env->state, &ei);
    mg_snapshot_unref(snap);
    if (e) {
        MG_LOG_REQ(MG_LOG_ERROR, MG_SUB_IAM, c->req->request_id, "IAM write failed: %s", ei.msg);
        return mg_iam_internal(c);
    }
    return true;
}

json_t *mg_iam_load(const struct mg_snapshot *snap, const char *kind, const char *account,
                    const char *key)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, kind, account, key);
    return d ? json_deep_copy(d->doc) : NULL;
}

enum mg_err mg_iam_save(struct mg_call *c, const char *kind, const char *account, const char *key,
                        const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_store_put(c->env->store, kind, account, key, mg_slice_cstr(text));
    mg_free(text);
    return e;
}

bool mg_iam_no_entity(struct mg_call *c, const char *kind, const char *name)
{
    return mg_iam_fail(c, 404, "NoSuchEntity", "The %s with name %s cannot be found.", kind, name);
}

bool mg_iam_modify(struct mg_call *c, const char *kind, const char *name, mg_iam_modify_fn fn,
                   void *arg, json_t **out_doc)
{
    if (out_doc)
        *out_doc = NULL;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return false;
    const char *account = mg_iam_account(c);
    json_t *doc = mg_iam_load(snap, kind, account, name);
    if (doc == NULL) {
        mg_iam_write_abort(c, snap);
        return mg_iam_no_entity(c, kind, name);
    }
    if (!fn(c, doc, snap, arg)) {
        mg_iam_write_abort(c, snap);
        json_decref(doc);
        return false;
    }
    if (mg_iam_save(c, kind, account, name, doc) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        json_decref(doc);
        return mg_iam_internal(c);
    }
    if (!mg_iam_write_commit(c, snap)) {
        json_decref(doc);
        return false;
    }
    if (out_doc)
        *out_doc = doc;
    else
        json_decref(doc);
    return true;
}

/* ---- authorization ------------------------------------------------------------------------ */

bool mg_iam_authz(struct mg_call *c, const char *action, const char *arn, const json_t *tags,
                  const json_t *request_tags, const char *extra_key, const char *extra_value)
{
    struct mg_policy_ctx_entry ctx[MG_IAM_MAX_TAGS + 2];
    struct mg_slice keys[MG_IAM_MAX_TAGS];
    char names[MG_IAM_MAX_TAGS][160];
    size_t n = 0, nk = 0;
    size_t i;
    json_t *t;
    const char *overflow = NULL;
    json_array_foreach(request_tags, i, t)
    {
        if (nk >= MG_IAM_MAX_TAGS) {
            /* the parameters were checked against IAM's limit: deny rather than drop a key */
            overflow = "more request tags than IAM allows";
            break;
        }
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (k == NULL)
            continue;
        if (v) { /* UntagX passes keys only: aws:TagKeys, no aws:RequestTag */
            snprintf(names[nk], sizeof(names[nk]), "aws:RequestTag/%s", k);
            ctx[n++] = (struct mg_policy_ctx_entry){mg_slice_cstr(names[nk]), NULL, 0,
                                                    mg_slice_cstr(v)};
        }
        keys[nk++] = mg_slice_cstr(k);
    }
    if (request_tags)
        ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("aws:TagKeys"), keys, nk,
                                                mg_slice_make("", 0)};
    if (extra_key && extra_value)
        ctx[n++] = (struct mg_policy_ctx_entry){mg_slice_cstr(extra_key), NULL, 0,
                                                mg_slice_cstr(extra_value)};
    struct mg_authz_extra extra = {ctx, n, overflow};
    struct mg_authz_resource res = {.arn = arn, .tags = tags};
    return mg_authz(c, action, &res, n || overflow ? &extra : NULL);
}

/* ---- helpers ------------------------------------------------------------------------------- */

void mg_iam_now(char out[21])
{
    mg_time_iso8601(mg_now(), out);
}

const char *mg_iam_account(const struct mg_call *c)
{
    return c->principal.account;
}

bool mg_iam_check_policy(struct mg_call *c, const char *doc, enum mg_policy_kind kind,
                         size_t max_chars)
{
    struct mg_policy_parse_opts o = {kind, max_chars, "request"};
    struct mg_policy *pol = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err e = mg_policy_parse(mg_slice_cstr(doc), &o, &pol, &ei);
    mg_policy_unref(pol);
    if (e)
        return mg_iam_policy_error(c, e, &ei);
    return true;
}

const struct mg_snapshot_doc *mg_iam_customer_policy(const struct mg_snapshot *snap,
                                                     const char *arn)
{
    static const char prefix[] = "arn:aws:iam::";
    if (strncmp(arn, prefix, sizeof(prefix) - 1) != 0)
        return NULL;
    const char *acct = arn + sizeof(prefix) - 1;
    if (strlen(acct) < 13 || acct[12] != ':' || strncmp(acct + 13, "policy/", 7) != 0)
        return NULL;
    char account[13];
    mg_memcpy(account, acct, 12);
    account[12] = 0;
    const char *slash = strrchr(arn, '/');
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "policy", account, slash + 1);
    if (d == NULL)
        return NULL;
    const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
    return darn && strcmp(darn, arn) == 0 ? d : NULL;
}

bool mg_iam_policy_exists(const struct mg_snapshot *snap, const char *account, const char *arn)
{
    if (mg_iam_aws_policy_find(arn))
        return true;
    const struct mg_snapshot_doc *d = mg_iam_customer_policy(snap, arn);
    return d && strcmp(d->account, account) == 0;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const struct mg_call_op s_ops[] = {
    {"CreateRole", mg_iam_op_create_role},
    {"GetRole", mg_iam_op_get_role},
    {"ListRoles", mg_iam_op_list_roles},
    {"DeleteRole", mg_iam_op_delete_role},
    {"UpdateRole", mg_iam_op_update_role},
    {"UpdateRoleDescription", mg_iam_op_update_role_description},
    {"UpdateAssumeRolePolicy", mg_iam_op_update_assume_role_policy},
    {"TagRole", mg_iam_op_tag_role},
    {"UntagRole", mg_iam_op_untag_role},
    {"ListRoleTags", mg_iam_op_list_role_tags},
    {"PutRolePermissionsBoundary", mg_iam_op_put_role_boundary},
    {"DeleteRolePermissionsBoundary", mg_iam_op_delete_role_boundary},
    {"PutRolePolicy", mg_iam_op_put_role_policy},
    {"GetRolePolicy", mg_iam_op_get_role_policy},
    {"DeleteRolePolicy", mg_iam_op_delete_role_policy},
    {"ListRolePolicies", mg_iam_op_list_role_policies},
    {"AttachRolePolicy", mg_iam_op_attach_role_policy},
    {"DetachRolePolicy", mg_iam_op_detach_role_policy},
    {"ListAttachedRolePolicies", mg_iam_op_list_attached_role_policies},
    {"CreateUser", mg_iam_op_create_user},
    {"GetUser", mg_iam_op_get_user},
    {"ListUsers", mg_iam_op_list_users},
    {"DeleteUser", mg_iam_op_delete_user},
    {"TagUser", mg_iam_op_tag_user},
    {"UntagUser", mg_iam_op_untag_user},
    {"ListUserTags", mg_iam_op_list_user_tags},
    {"PutUserPermissionsBoundary", mg_iam_op_put_user_boundary},
    {"DeleteUserPermissionsBoundary", mg_iam_op_delete_user_boundary},
    {"CreateAccessKey", mg_iam_op_create_access_key},
    {"DeleteAccessKey", mg_iam_op_delete_access_key},
    {"ListAccessKeys", mg_iam_op_list_access_keys},
    {"UpdateAccessKey", mg_iam_op_update_access_key},
    {"PutUserPolicy", mg_iam_op_put_user_policy},
    {"GetUserPolicy", mg_iam_op_get_user_policy},
    {"DeleteUserPolicy", mg_iam_op_delete_user_policy},
    {"ListUserPolicies", mg_iam_op_list_user_policies},
    {"AttachUserPolicy", mg_iam_op_attach_user_policy},
    {"DetachUserPolicy", mg_iam_op_detach_user_policy},
    {"ListAttachedUserPolicies", mg_iam_op_list_attached_user_policies},
    {"CreatePolicy", mg_iam_op_create_policy},
    {"GetPolicy", mg_iam_op_get_policy},
    {"DeletePolicy", mg_iam_op_delete_policy},
    {"ListPolicies", mg_iam_op_list_policies},
    {"GetPolicyVersion", mg_iam_op_get_policy_version},
    {"CreatePolicyVersion", mg_iam_op_create_policy_version},
    {"DeletePolicyVersion", mg_iam_op_delete_policy_version},
    {"ListPolicyVersions", mg_iam_op_list_policy_versions},
    {"SetDefaultPolicyVersion", mg_iam_op_set_default_policy_version},
};

static const enum mg_aws_service s_svcs[] = {MG_AWS_SVC_IAM};

const struct mg_call_api mg_iam_api = {
    .svcs = s_svcs,
    .n_svcs = sizeof(s_svcs) / sizeof(s_svcs[0]),
    .ops = s_ops,
    .n_ops = sizeof(s_ops) / sizeof(s_ops[0]),
};

static void s_handle(struct mg_call *c)
{
    mg_call_serve(c, &mg_iam_api);
}

const struct mg_service mg_iam_service = {"iam", MG_SERVICE_QUERY, s_handle, NULL, NULL};

void mg_iam_list_entities(struct mg_call *c, const char *kind, const char *action,
                          const char *container, mg_iam_entity_xml_fn xml)
{
    char prefix[MG_IAM_PATH_CAP], arn[MG_IAM_ARN_CAP], iam_action[64];
    struct mg_iam_page pg;
    if (!mg_iam_path_param(c, "PathPrefix", "pathPrefix", prefix) || !mg_iam_page_params(c, &pg))
        return;
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:%s%s", mg_iam_account(c), kind, prefix);
    snprintf(iam_action, sizeof(iam_action), "iam:%s", action);
    if (!mg_iam_authz(c, iam_action, arn, NULL, NULL, NULL, NULL))
        return;
    size_t n;
    const struct mg_snapshot_doc *docs = mg_snapshot_range(c->snap, kind, mg_iam_account(c), &n);
    struct mg_buf b;
    mg_buf_init(&b, 64u * 1024 * 1024);
    enum mg_err e = mg_buf_printf(&b, "    <%s>\n", container);
    size_t shown = 0;
    const char *next = NULL;
    for (size_t i = 0; i < n && !e; i++) {
        const char *path = json_string_value(json_object_get(docs[i].doc, "Path"));
        if (path == NULL || strncmp(path, prefix, strlen(prefix)) != 0)
            continue;
        if (pg.marker[0] && strcmp(docs[i].key, pg.marker) < 0)
            continue;
        if (shown == (size_t)pg.max_items) {
            next = docs[i].key;
            break;
        }
        e = xml(&b, 6, "member", docs[i].doc, false);
        shown++;
    }
    if (!e)
        e = mg_buf_printf(&b, "    </%s>\n", container);
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

const struct mg_snapshot_doc *mg_iam_find_name(const struct mg_snapshot *snap, const char *kind,
                                               const char *account, const char *name)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, kind, account, name);
    if (d)
        return d;
    size_t n;
    const struct mg_snapshot_doc *docs = mg_snapshot_range(snap, kind, account, &n);
    for (size_t i = 0; i < n; i++)
        if (mg_slice_ieq_cstr(mg_slice_cstr(docs[i].key), name))
            return &docs[i];
    return NULL;
}

const json_t *mg_iam_entity_find(struct mg_call *c, const char *kind, char *name, char *arn,
                                 size_t cap)
{
    const struct mg_snapshot_doc *d = mg_iam_find_name(c->snap, kind, mg_iam_account(c), name);
    if (d && strcmp(d->key, name) != 0 && strlen(d->key) < MG_IAM_NAME_CAP)
        snprintf(name, MG_IAM_NAME_CAP, "%s", d->key);
    const char *a = d ? json_string_value(json_object_get(d->doc, "Arn")) : NULL;
    if (a)
        snprintf(arn, cap, "%s", a);
    else
        snprintf(arn, cap, "arn:aws:iam::%s:%s/%s", mg_iam_account(c), kind, name);
    return d ? d->doc : NULL;
}

enum mg_err mg_iam_boundary_xml(struct mg_buf *b, int indent, const json_t *doc)
{
    const char *pb = json_string_value(json_object_get(doc, "PermissionsBoundary"));
    if (pb == NULL)
        return MG_E_OK;
    MG_TRY(mg_buf_printf(b, "%*s<PermissionsBoundary>\n", indent, ""));
    MG_TRY(mg_iam_xml(b, indent + 2, "PermissionsBoundaryType", "Policy"));
    MG_TRY(mg_iam_xml(b, indent + 2, "PermissionsBoundaryArn", pb));
    return mg_buf_printf(b, "%*s</PermissionsBoundary>\n", indent, "");
}
