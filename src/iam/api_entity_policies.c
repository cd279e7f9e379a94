/* What roles and users have in common: inline policies, attached managed policies, permissions
 * boundaries and tags. One implementation, parameterized by the entity kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "iam/api_internal.h"

struct s_kind {
    const char *kind;       /* "role" */
    const char *Kind;       /* "Role" */
    const char *name_param; /* "RoleName" */
    const char *member;     /* "roleName" */
    size_t inline_limit;    /* non-whitespace characters, all inline policies together */
    size_t max_attached;
};

static const struct s_kind s_role = {
    "role", "Role", "RoleName", "roleName", MG_POLICY_LIMIT_ROLE_INLINE, 10};
static const struct s_kind s_user = {
    "user", "User", "UserName", "userName", MG_POLICY_LIMIT_USER_INLINE, 10};

/* ARN of the entity: from its document, or (absent) as it would be with path "/". */
static const json_t *s_find(struct mg_call *c, const struct s_kind *k, char *name, char *arn,
                            size_t cap)
{
    return mg_iam_entity_find(c, k->kind, name, arn, cap);
}

/* Reads the entity name and authorizes; returns the entity document (may be NULL: not found,
 * NoSuchEntity already sent when must_exist) or NULL with *stop after an error. */
static const json_t *s_begin(struct mg_call *c, const struct s_kind *k, const char *action,
                             char *name, char *arn, const json_t *request_tags, const char *ek,
                             const char *ev, bool *stop)
{
    *stop = true;
    if (!mg_iam_name_param(c, k->name_param, k->member, 64, true, name, NULL))
        return NULL;
    const json_t *d = s_find(c, k, name, arn, MG_IAM_ARN_CAP);
    if (!mg_iam_authz(c, action, arn, d ? json_object_get(d, "Tags") : NULL, request_tags, ek, ev))
        return NULL;
    if (d == NULL) {
        mg_iam_no_entity(c, k->kind, name);
        return NULL;
    }
    *stop = false;
    return d;
}

/* ---- inline policies ---------------------------------------------------------------------- */

/* Inline policy names are unique within their entity whatever their case: a name given in
 * another case names the existing policy. Rewrites pname (cap MG_IAM_NAME_CAP) to it. */
static void s_inline_name(const json_t *inl, char *pname)
{
    if (json_object_get(inl, pname))
        return;
    const char *n;
    json_t *v;
    json_object_foreach((json_t *)inl, n, v)
    {
        if (mg_slice_ieq_cstr(mg_slice_cstr(n), pname) && strlen(n) < MG_IAM_NAME_CAP) {
            snprintf(pname, MG_IAM_NAME_CAP, "%s", n);
            return;
        }
    }
}

struct s_put_arg {
    const struct s_kind *k;
    char *policy_name; /* cap MG_IAM_NAME_CAP */
    const char *doc;
};

static bool s_put_inline(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)snap;
    struct s_put_arg *arg = a;
    json_t *inl = json_object_get(doc, "InlinePolicies");
    if (!json_is_object(inl)) {
        inl = json_object();
        if (!mg_json_set(doc, "InlinePolicies", inl))
            return mg_iam_internal(c);
    }
    s_inline_name(inl, arg->policy_name);
    /* IAM limits the aggregate size of an entity's inline policies. */
    size_t total = mg_policy_count_chars(mg_slice_cstr(arg->doc));
    const char *n;
    json_t *v;
    json_object_foreach(inl, n, v)
    {
        if (strcmp(n, arg->policy_name) != 0 && json_is_string(v))
            total += mg_policy_count_chars(mg_slice_cstr(json_string_value(v)));
    }
    if (total > arg->k->inline_limit)
        return mg_iam_fail(c, 409, "LimitExceeded",
                           "Maximum policy size of %zu bytes exceeded for %s %s",
                           arg->k->inline_limit, arg->k->kind,
                           json_string_value(json_object_get(doc, arg->k->name_param)));
    return mg_json_set(inl, arg->policy_name, json_string(arg->doc)) || mg_iam_internal(c);
}

static void s_put_policy(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], pname[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    snprintf(action, sizeof(action), "iam:Put%sPolicy", k->Kind);
    bool stop;
    s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    if (!mg_iam_name_param(c, "PolicyName", "policyName", 128, true, pname, NULL))
        return;
    char *doc = mg_iam_doc_param(c, "PolicyDocument", "policyDocument", true, NULL);
    if (doc == NULL)
        return;
    if (mg_iam_check_policy(c, doc, MG_POLICY_KIND_IDENTITY, k->inline_limit)) {
        struct s_put_arg arg = {k, pname, doc};
        snprintf(action, sizeof(action), "Put%sPolicy", k->Kind);
        if (mg_iam_modify(c, k->kind, name, s_put_inline, &arg, NULL))
            mg_iam_send(c, action, NULL);
    }
    mg_free(doc);
}

static void s_get_policy(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], pname[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    snprintf(action, sizeof(action), "iam:Get%sPolicy", k->Kind);
    bool stop;
    const json_t *d = s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    if (!mg_iam_name_param(c, "PolicyName", "policyName", 128, true, pname, NULL))
        return;
    const json_t *inl = json_object_get(d, "InlinePolicies");
    s_inline_name(inl, pname);
    const char *text = json_string_value(json_object_get(inl, pname));
    if (text == NULL) {
        mg_iam_fail(c, 404, "NoSuchEntity", "The %s policy with name %s cannot be found.", k->kind,
                    pname);
        return;
    }
    struct mg_buf b;
    mg_buf_init(&b, 8u * MG_IAM_DOC_MAX);
    enum mg_err e = mg_iam_xml(&b, 4, k->name_param, name);
    if (!e)
        e = mg_iam_xml_doc(&b, 4, "PolicyDocument", text);
    if (!e)
        e = mg_iam_xml(&b, 4, "PolicyName", pname);
    snprintf(action, sizeof(action), "Get%sPolicy", k->Kind);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

static bool s_del_inline(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)snap;
    struct s_put_arg *arg = a;
    json_t *inl = json_object_get(doc, "InlinePolicies");
    s_inline_name(inl, arg->policy_name);
    if (json_object_get(inl, arg->policy_name) == NULL)
        return mg_iam_fail(c, 404, "NoSuchEntity", "The %s policy with name %s cannot be found.",
                           arg->k->kind, arg->policy_name);
    json_object_del(inl, arg->policy_name);
    return true;
}

static void s_delete_policy(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], pname[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    snprintf(action, sizeof(action), "iam:Delete%sPolicy", k->Kind);
    bool stop;
    s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    if (!mg_iam_name_param(c, "PolicyName", "policyName", 128, true, pname, NULL))
        return;
    struct s_put_arg arg = {k, pname, NULL};
    snprintf(action, sizeof(action), "Delete%sPolicy", k->Kind);
    if (mg_iam_modify(c, k->kind, name, s_del_inline, &arg, NULL))
        mg_iam_send(c, action, NULL);
}

/* Sorted names of an object's members, from `marker` on. */
static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void s_list_policies(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    snprintf(action, sizeof(action), "iam:List%sPolicies", k->Kind);
    bool stop;
    const json_t *d = s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    struct mg_iam_page pg;
    if (!mg_iam_page_params(c, &pg))
        return;
    json_t *inl = json_object_get(d, "InlinePolicies");
    size_t n = json_object_size(inl), i = 0;
    const char **names = mg_calloc(n ? n : 1, sizeof(*names));
    if (names == NULL) {
        mg_iam_internal(c);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(inl, key, v) names[i++] = key;
    qsort(names, n, sizeof(*names), s_cmp_str);
    struct mg_buf b;
    mg_buf_init(&b, 4u * 1024 * 1024);
    enum mg_err e = mg_buf_append_cstr(&b, "    <PolicyNames>\n");
    size_t shown = 0;
    const char *next = NULL;
    for (i = 0; i < n && !e; i++) {
        if (pg.marker[0] && strcmp(names[i], pg.marker) < 0)
            continue;
        if (shown == (size_t)pg.max_items) {
            next = names[i];
            break;
        }
        e = mg_iam_xml(&b, 6, "member", names[i]);
        shown++;
    }
    if (!e)
        e = mg_buf_append_cstr(&b, "    </PolicyNames>\n");
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    snprintf(action, sizeof(action), "List%sPolicies", k->Kind);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
    mg_free(names);
}

/* ---- attached managed policies ------------------------------------------------------------- */

static bool s_attach(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    struct s_put_arg *arg = a;
    if (!mg_iam_policy_exists(snap, mg_iam_account(c), arg->doc))
        return mg_iam_fail(c, 404, "NoSuchEntity", "Policy %s does not exist or is not attachable.",
                           arg->doc);
    json_t *att = json_object_get(doc, "AttachedPolicies");
    if (!json_is_array(att)) {
        att = json_array();
        if (!mg_json_set(doc, "AttachedPolicies", att))
            return mg_iam_internal(c);
    }
    size_t i;
    json_t *v;
    json_array_foreach(att, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), arg->doc) == 0)
            return true; /* attaching twice changes nothing */
    }
    if (json_array_size(att) >= arg->k->max_attached)
        return mg_iam_fail(c, 409, "LimitExceeded", "Cannot exceed quota for PoliciesPer%s: %zu",
                           arg->k->Kind, arg->k->max_attached);
    return mg_json_append(att, json_string(arg->doc)) || mg_iam_internal(c);
}

static bool s_detach(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)snap;
    struct s_put_arg *arg = a;
    json_t *att = json_object_get(doc, "AttachedPolicies");
    size_t i;
    json_t *v;
    json_array_foreach(att, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), arg->doc) == 0) {
            json_array_remove(att, i);
            return true;
        }
    }
    return mg_iam_fail(c, 404, "NoSuchEntity", "Policy %s was not attached.", arg->doc);
}

static bool s_policy_arn_param(struct mg_call *c, const char *name, const char *member, char *out)
{
    if (!mg_iam_str_param(c, name, member, 2048, true, out, MG_IAM_ARN_CAP))
        return false;
    struct mg_arn a;
    if (!mg_arn_parse(mg_slice_cstr(out), &a) || !mg_slice_eq_cstr(a.service, "iam"))
        return mg_iam_invalid(c, "ARN %s is not valid.", out);
    return true;
}

static void s_attach_op(struct mg_call *c, const struct s_kind *k, bool attach)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], parn[MG_IAM_ARN_CAP], action[64];
    if (!mg_iam_name_param(c, k->name_param, k->member, 64, true, name, NULL))
        return;
    if (!s_policy_arn_param(c, "PolicyArn", "policyArn", parn))
        return;
    snprintf(action, sizeof(action), "iam:%s%sPolicy", attach ? "Attach" : "Detach", k->Kind);
    bool stop;
    s_begin(c, k, action, name, arn, NULL, "iam:PolicyARN", parn, &stop);
    if (stop)
        return;
    struct s_put_arg arg = {k, NULL, parn};
    snprintf(action, sizeof(action), "%s%sPolicy", attach ? "Attach" : "Detach", k->Kind);
    if (mg_iam_modify(c, k->kind, name, attach ? s_attach : s_detach, &arg, NULL))
        mg_iam_send(c, action, NULL);
}

/* The name of a policy from its ARN (the last path segment). */
static const char *s_policy_name(const char *arn)
{
    const char *s = strrchr(arn, '/');
    return s ? s + 1 : arn;
}

static void s_list_attached(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64], prefix[MG_IAM_PATH_CAP];
    snprintf(action, sizeof(action), "iam:ListAttached%sPolicies", k->Kind);
    bool stop;
    const json_t *d = s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    struct mg_iam_page pg;
    if (!mg_iam_page_params(c, &pg) || !mg_iam_path_param(c, "PathPrefix", "pathPrefix", prefix))
        return;
    struct mg_buf b;
    mg_buf_init(&b, 4u * 1024 * 1024);
    enum mg_err e = mg_buf_append_cstr(&b, "    <AttachedPolicies>\n");
    size_t i, shown = 0;
    bool started = pg.marker[0] == 0;
    const char *next = NULL;
    json_t *v;
    json_array_foreach(json_object_get(d, "AttachedPolicies"), i, v)
    {
        const char *parn = json_string_value(v);
        if (parn == NULL || e)
            continue;
        if (!started && strcmp(parn, pg.marker) == 0)
            started = true;
        if (!started)
            continue;
        /* PathPrefix filters on the policy's path (the ARN between "policy" and the name) */
        const char *path = strstr(parn, ":policy/");
        if (path == NULL || strncmp(path + 7, prefix, strlen(prefix)) != 0)
            continue;
        if (shown == (size_t)pg.max_items) {
            next = parn;
            break;
        }
        e = mg_buf_append_cstr(&b, "      <member>\n");
        if (!e)
            e = mg_iam_xml(&b, 8, "PolicyName", s_policy_name(parn));
        if (!e)
            e = mg_iam_xml(&b, 8, "PolicyArn", parn);
        if (!e)
            e = mg_buf_append_cstr(&b, "      </member>\n");
        shown++;
    }
    if (!e)
        e = mg_buf_append_cstr(&b, "    </AttachedPolicies>\n");
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    snprintf(action, sizeof(action), "ListAttached%sPolicies", k->Kind);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

/* ---- permissions boundaries ---------------------------------------------------------------- */

static bool s_set_boundary(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    struct s_put_arg *arg = a;
    if (arg->doc == NULL) {
        json_object_del(doc, "PermissionsBoundary");
        return true;
    }
    if (!mg_iam_policy_exists(snap, mg_iam_account(c), arg->doc))
        return mg_iam_fail(c, 404, "NoSuchEntity",
                           "Scope ARN: %s does not exist or is not attachable.", arg->doc);
    return mg_json_set(doc, "PermissionsBoundary", json_string(arg->doc)) || mg_iam_internal(c);
}

static void s_boundary_op(struct mg_call *c, const struct s_kind *k, bool put)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], parn[MG_IAM_ARN_CAP], action[64];
    if (!mg_iam_name_param(c, k->name_param, k->member, 64, true, name, NULL))
        return;
    if (put && !s_policy_arn_param(c, "PermissionsBoundary", "permissionsBoundary", parn))
        return;
    snprintf(action, sizeof(action), "iam:%s%sPermissionsBoundary", put ? "Put" : "Delete",
             k->Kind);
    bool stop;
    const json_t *d = s_begin(c, k, action, name, arn, NULL, "iam:PermissionsBoundary",
                              put ? parn : NULL, &stop);
    if (stop)
        return;
    if (!put && json_object_get(d, "PermissionsBoundary") == NULL) {
        mg_iam_fail(c, 404, "NoSuchEntity", "The %s with name %s has no permissions boundary.",
                    k->kind, name);
        return;
    }
    struct s_put_arg arg = {k, NULL, put ? parn : NULL};
    snprintf(action, sizeof(action), "%s%sPermissionsBoundary", put ? "Put" : "Delete", k->Kind);
    if (mg_iam_modify(c, k->kind, name, s_set_boundary, &arg, NULL))
        mg_iam_send(c, action, NULL);
}

/* ---- tags ------------------------------------------------------------------------------------ */

static bool s_tag(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)snap;
    json_t *add = a;
    json_t *tags = json_object_get(doc, "Tags");
    if (!json_is_array(tags)) {
        tags = json_array();
        if (!mg_json_set(doc, "Tags", tags))
            return mg_iam_internal(c);
    }
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(add, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        bool replaced = false;
        json_array_foreach(tags, j, u)
        {
            if (strcmp(json_string_value(json_object_get(u, "Key")), k) == 0) {
                if (!mg_json_set_ref(u, "Value", json_object_get(t, "Value")))
                    return mg_iam_internal(c);
                replaced = true;
                break;
            }
        }
        if (!replaced && !mg_json_append_ref(tags, t))
            return mg_iam_internal(c);
    }
    if (json_array_size(tags) > MG_IAM_MAX_TAGS)
        return mg_iam_fail(c, 409, "LimitExceeded",
                           "The number of tags has reached the maximum limit.");
    return true;
}

static bool s_untag(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)c;
    (void)snap;
    json_t *keys = a;
    json_t *tags = json_object_get(doc, "Tags");
    size_t i, j;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        for (j = 0; j < json_array_size(tags); j++) {
            json_t *u = json_array_get(tags, j);
            if (strcmp(json_string_value(json_object_get(u, "Key")), json_string_value(k)) == 0) {
                json_array_remove(tags, j);
                break;
            }
        }
    }
    return true;
}

static void s_tag_op(struct mg_call *c, const struct s_kind *k, bool tag)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    if (!mg_iam_name_param(c, k->name_param, k->member, 64, true, name, NULL))
        return;
    json_t *arg = tag ? mg_iam_tags_param(c, "Tags")
                      : mg_iam_list_param(c, "TagKeys", "tagKeys", MG_IAM_MAX_TAGS);
    if (arg == NULL)
        return;
    if (json_array_size(arg) == 0) {
        mg_iam_missing(c, tag ? "tags" : "tagKeys");
        json_decref(arg);
        return;
    }
    /* UntagX: aws:TagKeys lists the keys being removed. */
    json_t *ctx_tags = arg;
    json_t *untag_ctx = NULL;
    if (!tag) {
        untag_ctx = json_array();
        bool ok = untag_ctx != NULL;
        size_t i;
        json_t *kk;
        json_array_foreach(arg, i, kk)
        {
            if (ok)
                ok = mg_json_append(untag_ctx, json_pack("{s:O}", "Key", kk));
        }
        if (!ok) {
            mg_iam_internal(c);
            json_decref(untag_ctx);
            json_decref(arg);
            return;
        }
        ctx_tags = untag_ctx;
    }
    snprintf(action, sizeof(action), "iam:%s%s", tag ? "Tag" : "Untag", k->Kind);
    bool stop;
    s_begin(c, k, action, name, arn, ctx_tags, NULL, NULL, &stop);
    if (!stop) {
        snprintf(action, sizeof(action), "%s%s", tag ? "Tag" : "Untag", k->Kind);
        if (mg_iam_modify(c, k->kind, name, tag ? s_tag : s_untag, arg, NULL))
            mg_iam_send(c, action, NULL);
    }
    json_decref(untag_ctx);
    json_decref(arg);
}

static void s_list_tags(struct mg_call *c, const struct s_kind *k)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP], action[64];
    snprintf(action, sizeof(action), "iam:List%sTags", k->Kind);
    bool stop;
    const json_t *d = s_begin(c, k, action, name, arn, NULL, NULL, NULL, &stop);
    if (stop)
        return;
    struct mg_iam_page pg;
    if (!mg_iam_page_params(c, &pg))
        return;
    json_t *page = json_array();
    size_t i;
    json_t *t;
    bool started = pg.marker[0] == 0;
    const char *next = NULL;
    json_array_foreach(json_object_get(d, "Tags"), i, t)
    {
        const char *key = json_string_value(json_object_get(t, "Key"));
        if (!started && key && strcmp(key, pg.marker) == 0)
            started = true;
        if (!started)
            continue;
        if (json_array_size(page) == (size_t)pg.max_items) {
            next = key;
            break;
        }
        if (!mg_json_append_ref(page, t)) {
            json_decref(page);
            page = NULL;
            break;
        }
    }
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    enum mg_err e = page == NULL            ? MG_E_NOMEM
                    : json_array_size(page) ? mg_iam_xml_tags(&b, 4, page)
                                            : mg_buf_append_cstr(&b, "    <Tags/>\n");
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    snprintf(action, sizeof(action), "List%sTags", k->Kind);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
    json_decref(page);
}

/* ---- the operations ------------------------------------------------------------------------- */

#define S_OPS(lower, K)                                                                            \
    void mg_iam_op_put_##lower##_policy(struct mg_call *c)                                         \
    {                                                                                              \
        s_put_policy(c, &(K));                                                                     \
    }                                                                                              \
    void mg_iam_op_get_##lower##_policy(struct mg_call *c)                                         \
    {                                                                                              \
        s_get_policy(c, &(K));                                                                     \
    }                                                                                              \
    void mg_iam_op_delete_##lower##_policy(struct mg_call *c)                                      \
    {                                                                                              \
        s_delete_policy(c, &(K));                                                                  \
    }                                                                                              \
    void mg_iam_op_list_##lower##_policies(struct mg_call *c)                                      \
    {                                                                                              \
        s_list_policies(c, &(K));                                                                  \
    }                                                                                              \
    void mg_iam_op_attach_##lower##_policy(struct mg_call *c)                                      \
    {                                                                                              \
        s_attach_op(c, &(K), true);                                                                \
    }                                                                                              \
    void mg_iam_op_detach_##lower##_policy(struct mg_call *c)                                      \
    {                                                                                              \
        s_attach_op(c, &(K), false);                                                               \
    }                                                                                              \
    void mg_iam_op_list_attached_##lower##_policies(struct mg_call *c)                             \
    {                                                                                              \
        s_list_attached(c, &(K));                                                                  \
    }                                                                                              \
    void mg_iam_op_put_##lower##_boundary(struct mg_call *c)                                       \
    {                                                                                              \
        s_boundary_op(c, &(K), true);                                                              \
    }                                                                                              \
    void mg_iam_op_delete_##lower##_boundary(struct mg_call *c)                                    \
    {                                                                                              \
        s_boundary_op(c, &(K), false);                                                             \
    }                                                                                              \
    void mg_iam_op_tag_##lower(struct mg_call *c)                                                  \
    {                                                                                              \
        s_tag_op(c, &(K), true);                                                                   \
    }                                                                                              \
    void mg_iam_op_untag_##lower(struct mg_call *c)                                                \
    {                                                                                              \
        s_tag_op(c, &(K), false);                                                                  \
    }                                                                                              \
    void mg_iam_op_list_##lower##_tags(struct mg_call *c)                                          \
    {                                                                                              \
        s_list_tags(c, &(K));                                                                      \
    }

S_OPS(role, s_role)
S_OPS(user, s_user)
