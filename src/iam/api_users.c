/* IAM users and their access keys: CreateUser, GetUser, ListUsers, DeleteUser, CreateAccessKey,
 * DeleteAccessKey, ListAccessKeys, UpdateAccessKey. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/util.h"
#include "iam/api_internal.h"

#define S_MAX_KEYS_PER_USER 2

static enum mg_err s_user_xml(struct mg_buf *b, int indent, const char *el, const json_t *u,
                              bool full)
{
    MG_TRY(mg_buf_printf(b, "%*s<%s>\n", indent, "", el));
    int in = indent + 2;
    MG_TRY(mg_iam_xml(b, in, "Path", json_string_value(json_object_get(u, "Path"))));
    MG_TRY(mg_iam_xml(b, in, "UserName", json_string_value(json_object_get(u, "UserName"))));
    MG_TRY(mg_iam_xml(b, in, "UserId", json_string_value(json_object_get(u, "UserId"))));
    MG_TRY(mg_iam_xml(b, in, "Arn", json_string_value(json_object_get(u, "Arn"))));
    MG_TRY(mg_iam_xml(b, in, "CreateDate", json_string_value(json_object_get(u, "CreateDate"))));
    if (full) {
        MG_TRY(mg_iam_boundary_xml(b, in, u));
        MG_TRY(mg_iam_xml_tags(b, in, json_object_get(u, "Tags")));
    }
    return mg_buf_printf(b, "%*s</%s>\n", indent, "", el);
}

static void s_send_user(struct mg_call *c, const char *action, const json_t *u)
{
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    if (s_user_xml(&b, 4, "User", u, true) != MG_E_OK)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

static const json_t *s_lookup(struct mg_call *c, char *name, char *arn)
{
    return mg_iam_entity_find(c, "user", name, arn, MG_IAM_ARN_CAP);
}

/* The user an operation is about: UserName, or the calling user when absent. *root is set when
 * the caller is the account root and no UserName was given. false after sending an error. */
static bool s_target(struct mg_call *c, char *name, char *arn, bool *root)
{
    bool present;
    *root = false;
    if (!mg_iam_name_param(c, "UserName", "userName", 64, false, name, &present))
        return false;
    if (present) {
        s_lookup(c, name, arn);
        return true;
    }
    switch (c->principal.type) {
    case MG_PRINCIPAL_USER:
        snprintf(name, MG_IAM_NAME_CAP, "%s", c->principal.name);
        snprintf(arn, MG_IAM_ARN_CAP, "%s", c->principal.arn);
        return true;
    case MG_PRINCIPAL_ROOT:
        *root = true;
        snprintf(arn, MG_IAM_ARN_CAP, "%s", c->principal.arn);
        return true;
    case MG_PRINCIPAL_ASSUMED_ROLE:
    case MG_PRINCIPAL_SERVICE:
    case MG_PRINCIPAL_JWT:
    case MG_PRINCIPAL_NONE: break;
    }
    return mg_iam_invalid(c, "Must specify userName when calling with non-User credentials");
}

void mg_iam_op_create_user(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], path[MG_IAM_PATH_CAP], boundary[MG_IAM_ARN_CAP];
    char arn[MG_IAM_ARN_CAP];
    if (!mg_iam_name_param(c, "UserName", "userName", 64, true, name, NULL) ||
        !mg_iam_path_param(c, "Path", "path", path) ||
        !mg_iam_str_param(c, "PermissionsBoundary", "permissionsBoundary", 2048, false, boundary,
                          sizeof(boundary)))
        return;
    json_t *tags = mg_iam_tags_param(c, "Tags");
    if (tags == NULL)
        return;
    json_t *doc = NULL;
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user%s%s", mg_iam_account(c), path, name);
    if (!mg_iam_authz(c, "iam:CreateUser", arn, NULL, json_array_size(tags) ? tags : NULL,
                      boundary[0] ? "iam:PermissionsBoundary" : NULL, boundary))
        goto out;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        goto out;
    const char *account = mg_iam_account(c);
    if (mg_iam_find_name(snap, "user", account, name)) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "EntityAlreadyExists", "User with name %s already exists.", name);
        goto out;
    }
    if (boundary[0] && !mg_iam_policy_exists(snap, account, boundary)) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 404, "NoSuchEntity", "Scope ARN: %s does not exist or is not attachable.",
                    boundary);
        goto out;
    }
    char id[32] = {0}, now[21];
    mg_iam_new_id("AIDA", id);
    mg_iam_now(now);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:{}, s:[]}", "UserName", name, "Path", path,
                    "UserId", id, "Arn", arn, "CreateDate", now, "Tags", tags, "InlinePolicies",
                    "AttachedPolicies");
    if (doc && boundary[0] && !mg_json_set(doc, "PermissionsBoundary", json_string(boundary))) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL || mg_iam_save(c, "user", account, name, doc) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        goto out;
    }
    if (mg_iam_write_commit(c, snap))
        s_send_user(c, "CreateUser", doc);
out:
    json_decref(doc);
    json_decref(tags);
}

void mg_iam_op_get_user(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP] = "", arn[MG_IAM_ARN_CAP];
    bool root;
    if (!s_target(c, name, arn, &root))
        return;
    const json_t *u = root ? NULL : s_lookup(c, name, arn);
    if (!mg_iam_authz(c, "iam:GetUser", arn, u ? json_object_get(u, "Tags") : NULL, NULL, NULL,
                      NULL))
        return;
    if (root) {
        /* The root user: its id is the account id. */
        const struct mg_snapshot_doc *a = mg_snapshot_get(c->snap, "account", mg_iam_account(c),
                                                          mg_iam_account(c));
        const char *created = a ? json_string_value(json_object_get(a->doc, "createDate")) : NULL;
        struct mg_buf b;
        mg_buf_init(&b, 4096);
        enum mg_err e = mg_buf_append_cstr(&b, "    <User>\n");
        if (!e)
            e = mg_iam_xml(&b, 6, "UserId", mg_iam_account(c));
        if (!e)
            e = mg_iam_xml(&b, 6, "Arn", c->principal.arn);
        if (!e)
            e = mg_iam_xml(&b, 6, "CreateDate", created ? created : "1970-01-01T00:00:00Z");
        if (!e)
            e = mg_buf_append_cstr(&b, "    </User>\n");
        if (e)
            mg_iam_internal(c);
        else
            mg_iam_send(c, "GetUser", &b);
        mg_buf_cleanup(&b);
        return;
    }
    if (u == NULL) {
        mg_iam_no_entity(c, "user", name);
        return;
    }
    s_send_user(c, "GetUser", u);
}

void mg_iam_op_list_users(struct mg_call *c)
{
    mg_iam_list_entities(c, "user", "ListUsers", "Users", s_user_xml);
}

/* Access keys of a user (NULL: the root's) in a snapshot. */
static size_t s_count_keys(const struct mg_snapshot *snap, const char *account, const char *user)
{
    size_t n, count = 0;
    const struct mg_snapshot_doc *docs = mg_snapshot_range(snap, "access_key", account, &n);
    for (size_t i = 0; i < n; i++) {
        const char *u = json_string_value(json_object_get(docs[i].doc, "userName"));
        if ((user == NULL && u == NULL) || (user && u && strcmp(u, user) == 0))
            count++;
    }
    return count;
}

void mg_iam_op_delete_user(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], arn[MG_IAM_ARN_CAP];
    if (!mg_iam_name_param(c, "UserName", "userName", 64, true, name, NULL))
        return;
    const json_t *u = s_lookup(c, name, arn);
    if (!mg_iam_authz(c, "iam:DeleteUser", arn, u ? json_object_get(u, "Tags") : NULL, NULL, NULL,
                      NULL))
        return;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return;
    const char *account = mg_iam_account(c);
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "user", account, name);
    const char *conflict = NULL;
    if (d == NULL) {
        mg_iam_write_abort(c, snap);
        mg_iam_no_entity(c, "user", name);
        return;
    }
    if (s_count_keys(snap, account, name))
        conflict = "Cannot delete entity, must delete access keys first.";
    else if (json_object_size(json_object_get(d->doc, "InlinePolicies")))
        conflict = "Cannot delete entity, must delete policies first.";
    else if (json_array_size(json_object_get(d->doc, "AttachedPolicies")))
        conflict = "Cannot delete entity, must detach all policies first.";
    if (conflict) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "DeleteConflict", "%s", conflict);
        return;
    }
    if (mg_store_delete(c->env->store, "user", account, name) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        return;
    }
    if (mg_iam_write_commit(c, snap))
        mg_iam_send(c, "DeleteUser", NULL);
}

/* ---- access keys ------------------------------------------------------------------------------ */

static const char s_secret_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void mg_iam_op_create_access_key(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP] = "", arn[MG_IAM_ARN_CAP];
    bool root;
    if (!s_target(c, name, arn, &root))
        return;
    if (!mg_iam_authz(c, "iam:CreateAccessKey", arn, NULL, NULL, NULL, NULL))
        return;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return;
    const char *account = mg_iam_account(c);
    if (!root && mg_snapshot_get(snap, "user", account, name) == NULL) {
        mg_iam_write_abort(c, snap);
        mg_iam_no_entity(c, "user", name);
        return;
    }
    if (s_count_keys(snap, account, root ? NULL : name) >= S_MAX_KEYS_PER_USER) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: %d",
                    S_MAX_KEYS_PER_USER);
        return;
    }
    char akid[32] = {0}, secret[41] = {0}, now[21];
    mg_iam_new_id("AKIA", akid);
    mg_random_chars(secret, 40, s_secret_alpha);
    secret[40] = 0;
    mg_iam_now(now);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "accessKeyId", akid, "secretAccessKey", secret,
                            "status", "Active", "createDate", now);
    if (doc && !root && !mg_json_set(doc, "userName", json_string(name))) {
        json_decref(doc);
        doc = NULL;
    }
    if (doc == NULL || mg_iam_save(c, "access_key", account, akid, doc) != MG_E_OK) {
        json_decref(doc);
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        mg_memzero(secret, sizeof(secret));
        return;
    }
    json_decref(doc);
    if (mg_iam_write_commit(c, snap)) {
        struct mg_buf b;
        mg_buf_init(&b, 4096);
        enum mg_err e = mg_buf_append_cstr(&b, "    <AccessKey>\n");
        if (!e && !root)
            e = mg_iam_xml(&b, 6, "UserName", name);
        if (!e)
            e = mg_iam_xml(&b, 6, "AccessKeyId", akid);
        if (!e)
            e = mg_iam_xml(&b, 6, "Status", "Active");
        if (!e)
            e = mg_iam_xml(&b, 6, "SecretAccessKey", secret);
        if (!e)
            e = mg_iam_xml(&b, 6, "CreateDate", now);
        if (!e)
            e = mg_buf_append_cstr(&b, "    </AccessKey>\n");
        if (e)
            mg_iam_internal(c);
        else
            mg_iam_send(c, "CreateAccessKey", &b);
        if (b.ptr)
            mg_memzero(b.ptr, b.len);
        mg_buf_cleanup(&b);
    }
    mg_memzero(secret, sizeof(secret));
}

/* The key's document if it belongs to the target user (root: a root key). */
static const json_t *s_key_of(const struct mg_snapshot *snap, const char *account, const char *akid,
                              const char *user)
{
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "access_key", account, akid);
    if (d == NULL)
        return NULL;
    const char *u = json_string_value(json_object_get(d->doc, "userName"));
    if ((user == NULL) != (u == NULL) || (user && strcmp(u, user) != 0))
        return NULL;
    return d->doc;
}

static void s_key_change(struct mg_call *c, bool del)
{
    char name[MG_IAM_NAME_CAP] = "", arn[MG_IAM_ARN_CAP], akid[129], status[16] = "";
    bool root;
    if (!s_target(c, name, arn, &root))
        return;
    if (!mg_iam_str_param(c, "AccessKeyId", "accessKeyId", 128, true, akid, sizeof(akid)))
        return;
    if (!del) {
        if (!mg_iam_str_param(c, "Status", "status", 15, true, status, sizeof(status)))
            return;
        if (strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0) {
            mg_iam_invalid(c,
                           "1 validation error detected: Value '%s' at 'status' failed to "
                           "satisfy constraint: Member must satisfy enum value set: [Active, "
                           "Inactive]",
                           status);
            return;
        }
    }
    if (!mg_iam_authz(c, del ? "iam:DeleteAccessKey" : "iam:UpdateAccessKey", arn, NULL, NULL, NULL,
                      NULL))
        return;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return;
    const char *account = mg_iam_account(c);
    const json_t *k = s_key_of(snap, account, akid, root ? NULL : name);
    if (k == NULL) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 404, "NoSuchEntity", "The Access Key with id %s cannot be found.", akid);
        return;
    }
    enum mg_err e;
    if (del) {
        e = mg_store_delete(c->env->store, "access_key", account, akid);
    } else {
        json_t *doc = json_deep_copy(k);
        e = doc && mg_json_set(doc, "status", json_string(status))
                ? mg_iam_save(c, "access_key", account, akid, doc)
                : MG_E_NOMEM;
        json_decref(doc);
    }
    if (e) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        return;
    }
    if (mg_iam_write_commit(c, snap))
        mg_iam_send(c, del ? "DeleteAccessKey" : "UpdateAccessKey", NULL);
}

void mg_iam_op_delete_access_key(struct mg_call *c)
{
    s_key_change(c, true);
}

void mg_iam_op_update_access_key(struct mg_call *c)
{
    s_key_change(c, false);
}

void mg_iam_op_list_access_keys(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP] = "", arn[MG_IAM_ARN_CAP];
    bool root;
    struct mg_iam_page pg;
    if (!s_target(c, name, arn, &root) || !mg_iam_page_params(c, &pg))
        return;
    if (!mg_iam_authz(c, "iam:ListAccessKeys", arn, NULL, NULL, NULL, NULL))
        return;
    const char *account = mg_iam_account(c);
    if (!root && mg_snapshot_get(c->snap, "user", account, name) == NULL) {
        mg_iam_no_entity(c, "user", name);
        return;
    }
    size_t n;
    const struct mg_snapshot_doc *docs = mg_snapshot_range(c->snap, "access_key", account, &n);
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    enum mg_err e = mg_buf_append_cstr(&b, "    <AccessKeyMetadata>\n");
    size_t shown = 0;
    const char *next = NULL;
    for (size_t i = 0; i < n && !e; i++) {
        const json_t *k = s_key_of(c->snap, account, docs[i].key, root ? NULL : name);
        if (k == NULL || (pg.marker[0] && strcmp(docs[i].key, pg.marker) < 0))
            continue;
        if (shown == (size_t)pg.max_items) {
            next = docs[i].key;
            break;
        }
        e = mg_buf_append_cstr(&b, "      <member>\n");
        if (!e && !root)
            e = mg_iam_xml(&b, 8, "UserName", name);
        if (!e)
            e = mg_iam_xml(&b, 8, "AccessKeyId", docs[i].key);
        if (!e)
            e = mg_iam_xml(&b, 8, "Status", json_string_value(json_object_get(k, "status")));
        if (!e)
            e = mg_iam_xml(&b, 8, "CreateDate",
                           json_string_value(json_object_get(k, "createDate")));
        if (!e)
            e = mg_buf_append_cstr(&b, "      </member>\n");
        shown++;
    }
    if (!e)
        e = mg_buf_append_cstr(&b, "    </AccessKeyMetadata>\n");
    if (!e && !root)
        e = mg_iam_xml(&b, 4, "UserName", name);
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, "ListAccessKeys", &b);
    mg_buf_cleanup(&b);
}
