/* IAM roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateRole, UpdateRoleDescription,
 * UpdateAssumeRolePolicy. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "iam/api_internal.h"

/* <Role> (or member) contents. full: GetRole / CreateRole (boundary, tags, RoleLastUsed). */
static enum mg_err s_role_xml(struct mg_buf *b, int indent, const char *el, const json_t *r,
                              bool full)
{
    char num[24];
    MG_TRY(mg_buf_printf(b, "%*s<%s>\n", indent, "", el));
    int in = indent + 2;
    MG_TRY(mg_iam_xml(b, in, "Path", json_string_value(json_object_get(r, "Path"))));
    MG_TRY(mg_iam_xml(b, in, "RoleName", json_string_value(json_object_get(r, "RoleName"))));
    MG_TRY(mg_iam_xml(b, in, "RoleId", json_string_value(json_object_get(r, "RoleId"))));
    MG_TRY(mg_iam_xml(b, in, "Arn", json_string_value(json_object_get(r, "Arn"))));
    MG_TRY(mg_iam_xml(b, in, "CreateDate", json_string_value(json_object_get(r, "CreateDate"))));
    MG_TRY(mg_iam_xml_doc(b, in, "AssumeRolePolicyDocument",
                          json_string_value(json_object_get(r, "AssumeRolePolicyDocument"))));
    const char *desc = json_string_value(json_object_get(r, "Description"));
    if (desc)
        MG_TRY(mg_iam_xml(b, in, "Description", desc));
    json_t *msd = json_object_get(r, "MaxSessionDuration");
    snprintf(num, sizeof(num), "%lld",
             (long long)(json_is_integer(msd) ? json_integer_value(msd) : 3600));
    MG_TRY(mg_iam_xml(b, in, "MaxSessionDuration", num));
    if (full) {
        MG_TRY(mg_iam_boundary_xml(b, in, r));
        MG_TRY(mg_iam_xml_tags(b, in, json_object_get(r, "Tags")));
        MG_TRY(mg_buf_printf(b, "%*s<RoleLastUsed/>\n", in, ""));
    }
    return mg_buf_printf(b, "%*s</%s>\n", indent, "", el);
}

static void s_send_role(struct mg_call *c, const char *action, const json_t *r)
{
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    if (s_role_xml(&b, 4, "Role", r, true) != MG_E_OK)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

static const json_t *s_lookup(struct mg_call *c, char *name, char *arn)
{
    return mg_iam_entity_find(c, "role", name, arn, MG_IAM_ARN_CAP);
}

void mg_iam_op_create_role(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], path[MG_IAM_PATH_CAP], desc[1001], boundary[MG_IAM_ARN_CAP];
    char arn[MG_IAM_ARN_CAP];
    int64_t msd;
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL) ||
        !mg_iam_path_param(c, "Path", "path", path) ||
        !mg_iam_str_param(c, "Description", "description", 1000, false, desc, sizeof(desc)) ||
        !mg_iam_int_param(c, "MaxSessionDuration", "maxSessionDuration", 3600, 43200, 3600, &msd) ||
        !mg_iam_str_param(c, "PermissionsBoundary", "permissionsBoundary", 2048, false, boundary,
                          sizeof(boundary)))
        return;
    char *trust = mg_iam_doc_param(c, "AssumeRolePolicyDocument", "assumeRolePolicyDocument", true,
                                   NULL);
    if (trust == NULL)
        return;
    json_t *tags = mg_iam_tags_param(c, "Tags");
    struct mg_snapshot *snap = NULL;
    json_t *doc = NULL;
    if (tags == NULL)
        goto out;
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role%s%s", mg_iam_account(c), path, name);
    if (!mg_iam_authz(c, "iam:CreateRole", arn, NULL, json_array_size(tags) ? tags : NULL,
                      boundary[0] ? "iam:PermissionsBoundary" : NULL, boundary))
        goto out;
    if (!mg_iam_check_policy(c, trust, MG_POLICY_KIND_TRUST, 0))
        goto out;
    snap = mg_iam_write_begin(c);
    if (snap == NULL)
        goto out;
    const char *account = mg_iam_account(c);
    if (mg_iam_find_name(snap, "role", account, name)) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "EntityAlreadyExists", "Role with name %s already exists.", name);
        goto out;
    }
    if (boundary[0] && !mg_iam_policy_exists(snap, account, boundary)) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 404, "NoSuchEntity", "Scope ARN: %s does not exist or is not attachable.",
                    boundary);
        goto out;
    }
    char id[32] = {0}, now[21];
    mg_iam_new_id("AROA", id);
    mg_iam_now(now);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:O, s:{}, s:[]}", "RoleName", name,
                    "Path", path, "RoleId", id, "Arn", arn, "CreateDate", now,
                    "AssumeRolePolicyDocument", trust, "MaxSessionDuration", (json_int_t)msd,
                    "Tags", tags, "InlinePolicies", "AttachedPolicies");
    bool ok = doc != NULL;
    if (ok && mg_iam_has(c, "Description"))
        ok = mg_json_set(doc, "Description", json_string(desc));
    if (ok && boundary[0])
        ok = mg_json_set(doc, "PermissionsBoundary", json_string(boundary));
    if (!ok) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL || mg_iam_save(c, "role", account, name, doc) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        goto out;
    }
    if (mg_iam_write_commit(c, snap))
        s_send_role(c, "CreateRole", doc);
out:
    json_decref(doc);
    json_decref(tags);
    mg_free(trust);
}

void mg_iam_op_get_role(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP];
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL))
        return;
    const json_t *r = s_lookup(c, name, arn);
    if (!mg_iam_authz(c, "iam:GetRole", arn, r ? json_object_get(r, "Tags") : NULL, NULL, NULL,
                      NULL))
        return;
    if (r == NULL) {
        mg_iam_no_entity(c, "role", name);
        return;
    }
    s_send_role(c, "GetRole", r);
}

void mg_iam_op_list_roles(struct mg_call *c)
{
    mg_iam_list_entities(c, "role", "ListRoles", "Roles", s_role_xml);
}

void mg_iam_op_delete_role(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP];
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL))
        return;
    const json_t *r = s_lookup(c, name, arn);
    if (!mg_iam_authz(c, "iam:DeleteRole", arn, r ? json_object_get(r, "Tags") : NULL, NULL, NULL,
                      NULL))
        return;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "role", mg_iam_account(c), name);
    if (d == NULL) {
        mg_iam_write_abort(c, snap);
        mg_iam_no_entity(c, "role", name);
        return;
    }
    if (json_object_size(json_object_get(d->doc, "InlinePolicies"))) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "DeleteConflict", "Cannot delete entity, must delete policies first.");
        return;
    }
    if (json_array_size(json_object_get(d->doc, "AttachedPolicies"))) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "DeleteConflict",
                    "Cannot delete entity, must detach all policies first.");
        return;
    }
    if (mg_store_delete(c->env->store, "role", mg_iam_account(c), name) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        return;
    }
    if (mg_iam_write_commit(c, snap))
        mg_iam_send(c, "DeleteRole", NULL);
}

/* ---- updates --------------------------------------------------------------------------------- */

struct s_update {
    const char *desc;  /* NULL: unchanged */
    int64_t msd;       /* 0: unchanged */
    const char *trust; /* NULL: unchanged */
};

static bool s_update(struct mg_call *c, json_t *doc, const struct mg_snapshot *snap, void *a)
{
    (void)snap;
    struct s_update *u = a;
    bool ok = true;
    if (u->desc)
        ok = mg_json_set(doc, "Description", json_string(u->desc));
    if (ok && u->msd)
        ok = mg_json_set(doc, "MaxSessionDuration", json_integer(u->msd));
    if (ok && u->trust)
        ok = mg_json_set(doc, "AssumeRolePolicyDocument", json_string(u->trust));
    return ok || mg_iam_internal(c);
}

static bool s_authz_role(struct mg_call *c, const char *action, char *name)
{
    char arn[MG_IAM_ARN_CAP];
    const json_t *r = s_lookup(c, name, arn);
    return mg_iam_authz(c, action, arn, r ? json_object_get(r, "Tags") : NULL, NULL, NULL, NULL);
}

void mg_iam_op_update_role(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], desc[1001];
    int64_t msd;
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL) ||
        !mg_iam_str_param(c, "Description", "description", 1000, false, desc, sizeof(desc)) ||
        !mg_iam_int_param(c, "MaxSessionDuration", "maxSessionDuration", 3600, 43200, 0, &msd))
        return;
    if (!s_authz_role(c, "iam:UpdateRole", name))
        return;
    struct s_update u = {mg_iam_has(c, "Description") ? desc : NULL, msd, NULL};
    if (mg_iam_modify(c, "role", name, s_update, &u, NULL))
        mg_iam_send(c, "UpdateRole", NULL);
}

void mg_iam_op_update_role_description(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], desc[1001];
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL) ||
        !mg_iam_str_param(c, "Description", "description", 1000, true, desc, sizeof(desc)))
        return;
    if (!s_authz_role(c, "iam:UpdateRoleDescription", name))
        return;
    struct s_update u = {desc, 0, NULL};
    json_t *doc = NULL;
    if (mg_iam_modify(c, "role", name, s_update, &u, &doc))
        s_send_role(c, "UpdateRoleDescription", doc);
    json_decref(doc);
}

void mg_iam_op_update_assume_role_policy(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP];
    if (!mg_iam_name_param(c, "RoleName", "roleName", 64, true, name, NULL))
        return;
    char *trust = mg_iam_doc_param(c, "PolicyDocument", "policyDocument", true, NULL);
    if (trust == NULL)
        return;
    if (s_authz_role(c, "iam:UpdateAssumeRolePolicy", name) &&
        mg_iam_check_policy(c, trust, MG_POLICY_KIND_TRUST, 0)) {
        struct s_update u = {NULL, 0, trust};
        if (mg_iam_modify(c, "role", name, s_update, &u, NULL))
            mg_iam_send(c, "UpdateAssumeRolePolicy", NULL);
    }
    mg_free(trust);
}
