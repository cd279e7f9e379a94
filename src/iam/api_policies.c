/* Managed policies: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies and their versions.
 * AWS managed policies (src/iam/managed.c) are listed and readable; customer managed policies
 * live in the store (kind "policy", key the policy name; "NextVersion" numbers new versions). */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "iam/api_internal.h"

#define S_MAX_VERSIONS 5

/* How many users and roles of `account` attach arn, and use it as their boundary. */
static void s_usage(const struct mg_snapshot *snap, const char *account, const char *arn,
                    size_t *attached, size_t *boundary)
{
    *attached = *boundary = 0;
    static const char *const kinds[] = {"user", "role"};
    for (size_t k = 0; k < 2; k++) {
        size_t n;
        const struct mg_snapshot_doc *docs = mg_snapshot_range(snap, kinds[k], account, &n);
        for (size_t i = 0; i < n; i++) {
            size_t j;
            json_t *v;
            json_array_foreach(json_object_get(docs[i].doc, "AttachedPolicies"), j, v)
            {
                if (json_is_string(v) && strcmp(json_string_value(v), arn) == 0)
                    (*attached)++;
            }
            const char *pb = json_string_value(json_object_get(docs[i].doc, "PermissionsBoundary"));
            if (pb && strcmp(pb, arn) == 0)
                (*boundary)++;
        }
    }
}

/* One view over AWS managed and customer managed policies. */
struct s_pol {
    const char *name, *id, *arn, *path, *def_version, *description, *created, *updated;
    const json_t *tags;
    const json_t *doc; /* customer managed: its document; NULL for AWS managed */
    const struct mg_iam_aws_policy *aws;
};

static void s_from_aws(const struct mg_iam_aws_policy *a, struct s_pol *p)
{
    *p = (struct s_pol){a->name,    a->id,      a->arn, a->path, a->version, a->description,
                        a->created, a->updated, NULL,   NULL,    a};
}

static void s_from_doc(const json_t *d, struct s_pol *p)
{
#define S(k) json_string_value(json_object_get(d, k))
    *p = (struct s_pol){S("PolicyName"),
                        S("PolicyId"),
                        S("Arn"),
                        S("Path"),
                        S("DefaultVersionId"),
                        S("Description"),
                        S("CreateDate"),
                        S("UpdateDate"),
                        json_object_get(d, "Tags"),
                        d,
                        NULL};
#undef S
}

/* Finds a policy by ARN (AWS managed, or customer managed of the caller's account). */
static bool s_find(const struct mg_call *c, const struct mg_snapshot *snap, const char *arn,
                   struct s_pol *p)
{
    const struct mg_iam_aws_policy *a = mg_iam_aws_policy_find(arn);
    if (a) {
        s_from_aws(a, p);
        return true;
    }
    const struct mg_snapshot_doc *d = mg_iam_customer_policy(snap, arn);
    if (d == NULL || strcmp(d->account, mg_iam_account(c)) != 0)
        return false;
    s_from_doc(d->doc, p);
    return true;
}

static enum mg_err s_policy_xml(struct mg_buf *b, int indent, const char *el,
                                const struct mg_snapshot *snap, const char *account,
                                const struct s_pol *p, bool full)
{
    size_t attached, boundary;
    s_usage(snap, account, p->arn, &attached, &boundary);
    char n1[24], n2[24];
    snprintf(n1, sizeof(n1), "%zu", attached);
    snprintf(n2, sizeof(n2), "%zu", boundary);
    MG_TRY(mg_buf_printf(b, "%*s<%s>\n", indent, "", el));
    int in = indent + 2;
    MG_TRY(mg_iam_xml(b, in, "PolicyName", p->name));
    MG_TRY(mg_iam_xml(b, in, "PolicyId", p->id));
    MG_TRY(mg_iam_xml(b, in, "Arn", p->arn));
    MG_TRY(mg_iam_xml(b, in, "Path", p->path));
    MG_TRY(mg_iam_xml(b, in, "DefaultVersionId", p->def_version));
    MG_TRY(mg_iam_xml(b, in, "AttachmentCount", n1));
    MG_TRY(mg_iam_xml(b, in, "PermissionsBoundaryUsageCount", n2));
    MG_TRY(mg_iam_xml(b, in, "IsAttachable", "true"));
    if (full && p->description && p->description[0])
        MG_TRY(mg_iam_xml(b, in, "Description", p->description));
    MG_TRY(mg_iam_xml(b, in, "CreateDate", p->created));
    MG_TRY(mg_iam_xml(b, in, "UpdateDate", p->updated));
    if (full)
        MG_TRY(mg_iam_xml_tags(b, in, p->tags));
    return mg_buf_printf(b, "%*s</%s>\n", indent, "", el);
}

static void s_send_policy(struct mg_call *c, const char *action, const struct mg_snapshot *snap,
                          const struct s_pol *p)
{
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    if (s_policy_xml(&b, 4, "Policy", snap, mg_iam_account(c), p, true) != MG_E_OK)
        mg_iam_internal(c);
    else
        mg_iam_send(c, action, &b);
    mg_buf_cleanup(&b);
}

static bool s_arn_param(struct mg_call *c, char *arn)
{
    if (!mg_iam_str_param(c, "PolicyArn", "policyArn", 2048, true, arn, MG_IAM_ARN_CAP))
        return false;
    struct mg_arn a;
    if (!mg_arn_parse(mg_slice_cstr(arn), &a) || !mg_slice_eq_cstr(a.service, "iam"))
        return mg_iam_invalid(c, "ARN %s is not valid.", arn);
    return true;
}

static bool s_not_found(struct mg_call *c, const char *arn)
{
    return mg_iam_fail(c, 404, "NoSuchEntity", "Policy %s was not found.", arn);
}

/* ---- create / get / delete / list ---------------------------------------------------------- */

void mg_iam_op_create_policy(struct mg_call *c)
{
    char name[MG_IAM_NAME_CAP], path[MG_IAM_PATH_CAP], desc[1001], arn[MG_IAM_ARN_CAP];
    if (!mg_iam_name_param(c, "PolicyName", "policyName", 128, true, name, NULL) ||
        !mg_iam_path_param(c, "Path", "path", path) ||
        !mg_iam_str_param(c, "Description", "description", 1000, false, desc, sizeof(desc)))
        return;
    char *text = mg_iam_doc_param(c, "PolicyDocument", "policyDocument", true, NULL);
    if (text == NULL)
        return;
    json_t *tags = mg_iam_tags_param(c, "Tags");
    json_t *doc = NULL;
    if (tags == NULL)
        goto out;
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:policy%s%s", mg_iam_account(c), path, name);
    if (!mg_iam_authz(c, "iam:CreatePolicy", arn, NULL, json_array_size(tags) ? tags : NULL, NULL,
                      NULL) ||
        !mg_iam_check_policy(c, text, MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_MANAGED))
        goto out;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        goto out;
    const char *account = mg_iam_account(c);
    if (mg_iam_find_name(snap, "policy", account, name)) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "EntityAlreadyExists",
                    "A policy called %s already exists. Duplicate names are not allowed.", name);
        goto out;
    }
    char id[32] = {0}, now[21];
    mg_iam_new_id("ANPA", id);
    mg_iam_now(now);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s, s:s}], s:s, s:s, s:s, s:O, s:i}",
                    "PolicyName", name, "PolicyId", id, "Arn", arn, "Path", path,
                    "DefaultVersionId", "v1", "Versions", "VersionId", "v1", "Document", text,
                    "CreateDate", now, "CreateDate", now, "UpdateDate", now, "Description", desc,
                    "Tags", tags, "NextVersion", 2);
    if (doc == NULL || mg_iam_save(c, "policy", account, name, doc) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        goto out;
    }
    if (mg_iam_write_commit(c, snap)) {
        struct s_pol pol;
        s_from_doc(doc, &pol);
        s_send_policy(c, "CreatePolicy", c->snap, &pol);
    }
out:
    json_decref(doc);
    json_decref(tags);
    mg_free(text);
}

void mg_iam_op_get_policy(struct mg_call *c)
{
    char arn[MG_IAM_ARN_CAP];
    if (!s_arn_param(c, arn))
        return;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    if (!mg_iam_authz(c, "iam:GetPolicy", arn, found ? pol.tags : NULL, NULL, NULL, NULL))
        return;
    if (!found) {
        s_not_found(c, arn);
        return;
    }
    s_send_policy(c, "GetPolicy", c->snap, &pol);
}

void mg_iam_op_delete_policy(struct mg_call *c)
{
    char arn[MG_IAM_ARN_CAP];
    if (!s_arn_param(c, arn))
        return;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    if (!mg_iam_authz(c, "iam:DeletePolicy", arn, found ? pol.tags : NULL, NULL, NULL, NULL))
        return;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return;
    const char *account = mg_iam_account(c);
    const struct mg_snapshot_doc *d = mg_iam_customer_policy(snap, arn);
    if (d == NULL || strcmp(d->account, account) != 0) {
        mg_iam_write_abort(c, snap);
        s_not_found(c, arn);
        return;
    }
    size_t attached, boundary;
    s_usage(snap, account, arn, &attached, &boundary);
    const char *conflict = NULL;
    if (attached || boundary)
        conflict = "Cannot delete a policy attached to entities.";
    else if (json_array_size(json_object_get(d->doc, "Versions")) > 1)
        conflict = "This policy has more than one version. Before you delete a policy, you must "
                   "delete the policy's versions. The default version is deleted with the policy.";
    if (conflict) {
        mg_iam_write_abort(c, snap);
        mg_iam_fail(c, 409, "DeleteConflict", "%s", conflict);
        return;
    }
    if (mg_store_delete(c->env->store, "policy", account, d->key) != MG_E_OK) {
        mg_iam_write_abort(c, snap);
        mg_iam_internal(c);
        return;
    }
    if (mg_iam_write_commit(c, snap))
        mg_iam_send(c, "DeletePolicy", NULL);
}

void mg_iam_op_list_policies(struct mg_call *c)
{
    char prefix[MG_IAM_PATH_CAP], scope[16], arn[MG_IAM_ARN_CAP];
    struct mg_iam_page pg;
    bool only_attached;
    if (!mg_iam_path_param(c, "PathPrefix", "pathPrefix", prefix) || !mg_iam_page_params(c, &pg) ||
        !mg_iam_str_param(c, "Scope", "scope", 15, false, scope, sizeof(scope)) ||
        !mg_iam_bool_param(c, "OnlyAttached", false, &only_attached))
        return;
    if (scope[0] == 0)
        snprintf(scope, sizeof(scope), "All");
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:policy%s", mg_iam_account(c), prefix);
    if (!mg_iam_authz(c, "iam:ListPolicies", arn, NULL, NULL, NULL, NULL))
        return;
    const char *account = mg_iam_account(c);
    size_t n_aws = 0, n_local = 0;
    const struct mg_iam_aws_policy *aws = mg_iam_aws_policies(&n_aws);
    const struct mg_snapshot_doc *local = mg_snapshot_range(c->snap, "policy", account, &n_local);
    if (strcmp(scope, "Local") == 0)
        n_aws = 0;
    if (strcmp(scope, "AWS") == 0)
        n_local = 0;
    struct mg_buf b;
    mg_buf_init(&b, 64u * 1024 * 1024);
    enum mg_err e = mg_buf_append_cstr(&b, "    <Policies>\n");
    bool started = pg.marker[0] == 0;
    size_t shown = 0;
    const char *next = NULL;
    for (size_t i = 0; i < n_aws + n_local && !e; i++) {
        struct s_pol pol;
        if (i < n_aws)
            s_from_aws(&aws[i], &pol);
        else
            s_from_doc(local[i - n_aws].doc, &pol);
        if (pol.arn == NULL || pol.path == NULL)
            continue;
        if (!started && strcmp(pol.arn, pg.marker) == 0)
            started = true;
        if (!started || strncmp(pol.path, prefix, strlen(prefix)) != 0)
            continue;
        if (only_attached) {
            size_t att, bnd;
            s_usage(c->snap, account, pol.arn, &att, &bnd);
            if (att == 0)
                continue;
        }
        if (shown == (size_t)pg.max_items) {
            next = pol.arn;
            break;
        }
        e = s_policy_xml(&b, 6, "member", c->snap, account, &pol, false);
        shown++;
    }
    if (!e)
        e = mg_buf_append_cstr(&b, "    </Policies>\n");
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, "ListPolicies", &b);
    mg_buf_cleanup(&b);
}

/* ---- versions ------------------------------------------------------------------------------ */

static enum mg_err s_version_xml(struct mg_buf *b, int indent, const char *el, const char *id,
                                 const char *doc, bool is_default, const char *created)
{
    MG_TRY(mg_buf_printf(b, "%*s<%s>\n", indent, "", el));
    if (doc)
        MG_TRY(mg_iam_xml_doc(b, indent + 2, "Document", doc));
    MG_TRY(mg_iam_xml(b, indent + 2, "VersionId", id));
    MG_TRY(mg_iam_xml(b, indent + 2, "IsDefaultVersion", is_default ? "true" : "false"));
    MG_TRY(mg_iam_xml(b, indent + 2, "CreateDate", created));
    return mg_buf_printf(b, "%*s</%s>\n", indent, "", el);
}

static bool s_version_param(struct mg_call *c, char *out)
{
    return mg_iam_str_param(c, "VersionId", "versionId", 20, true, out, 24);
}

void mg_iam_op_get_policy_version(struct mg_call *c)
{
    char arn[MG_IAM_ARN_CAP], vid[24];
    if (!s_arn_param(c, arn) || !s_version_param(c, vid))
        return;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    if (!mg_iam_authz(c, "iam:GetPolicyVersion", arn, found ? pol.tags : NULL, NULL, NULL, NULL))
        return;
    const char *doc = NULL, *created = NULL;
    if (found && pol.aws && strcmp(vid, pol.aws->version) == 0) {
        doc = pol.aws->document;
        created = pol.aws->updated;
    } else if (found && pol.doc) {
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(pol.doc, "Versions"), i, v)
        {
            const char *id = json_string_value(json_object_get(v, "VersionId"));
            if (id && strcmp(id, vid) == 0) {
                doc = json_string_value(json_object_get(v, "Document"));
                created = json_string_value(json_object_get(v, "CreateDate"));
            }
        }
    }
    if (doc == NULL) {
        mg_iam_fail(c, 404, "NoSuchEntity",
                    "Policy %s version %s does not exist or is not attachable.", arn, vid);
        return;
    }
    struct mg_buf b;
    mg_buf_init(&b, 8u * MG_IAM_DOC_MAX);
    if (s_version_xml(&b, 4, "PolicyVersion", vid, doc, strcmp(vid, pol.def_version) == 0,
                      created) != MG_E_OK)
        mg_iam_internal(c);
    else
        mg_iam_send(c, "GetPolicyVersion", &b);
    mg_buf_cleanup(&b);
}

void mg_iam_op_list_policy_versions(struct mg_call *c)
{
    char arn[MG_IAM_ARN_CAP];
    struct mg_iam_page pg;
    if (!s_arn_param(c, arn) || !mg_iam_page_params(c, &pg))
        return;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    if (!mg_iam_authz(c, "iam:ListPolicyVersions", arn, found ? pol.tags : NULL, NULL, NULL, NULL))
        return;
    if (!found) {
        s_not_found(c, arn);
        return;
    }
    struct mg_buf b;
    mg_buf_init(&b, 1024 * 1024);
    enum mg_err e = mg_buf_append_cstr(&b, "    <Versions>\n");
    const char *next = NULL;
    if (pol.aws) {
        if (!e)
            e = s_version_xml(&b, 6, "member", pol.aws->version, NULL, true, pol.aws->updated);
    } else {
        /* newest first, as IAM lists them */
        json_t *vs = json_object_get(pol.doc, "Versions");
        bool started = pg.marker[0] == 0;
        size_t shown = 0;
        for (size_t i = json_array_size(vs); i-- > 0 && !e;) {
            json_t *v = json_array_get(vs, i);
            const char *id = json_string_value(json_object_get(v, "VersionId"));
            if (id == NULL)
                continue;
            if (!started && strcmp(id, pg.marker) == 0)
                started = true;
            if (!started)
                continue;
            if (shown == (size_t)pg.max_items) {
                next = id;
                break;
            }
            e = s_version_xml(&b, 6, "member", id, NULL, strcmp(id, pol.def_version) == 0,
                              json_string_value(json_object_get(v, "CreateDate")));
            shown++;
        }
    }
    if (!e)
        e = mg_buf_append_cstr(&b, "    </Versions>\n");
    if (!e)
        e = mg_iam_page_end(&b, next != NULL, next);
    if (e)
        mg_iam_internal(c);
    else
        mg_iam_send(c, "ListPolicyVersions", &b);
    mg_buf_cleanup(&b);
}

/* Read-modify-write of a customer managed policy of the caller's account. */
typedef bool (*s_pol_fn)(struct mg_call *c, json_t *doc, void *arg);

static bool s_modify(struct mg_call *c, const char *arn, s_pol_fn fn, void *arg, json_t **out)
{
    *out = NULL;
    struct mg_snapshot *snap = mg_iam_write_begin(c);
    if (snap == NULL)
        return false;
    const char *account = mg_iam_account(c);
    const struct mg_snapshot_doc *d = mg_iam_customer_policy(snap, arn);
    if (d == NULL || strcmp(d->account, account) != 0) {
        mg_iam_write_abort(c, snap);
        if (mg_iam_aws_policy_find(arn))
            return mg_iam_fail(c, 403, "AccessDenied",
                               "Policy %s is an AWS managed policy and cannot be changed.", arn);
        return s_not_found(c, arn);
    }
    json_t *doc = json_deep_copy(d->doc);
    char now[21];
    mg_iam_now(now);
    if (doc == NULL || !fn(c, doc, arg)) {
        json_decref(doc);
        mg_iam_write_abort(c, snap);
        return false;
    }
    if (!mg_json_set(doc, "UpdateDate", json_string(now)) ||
        mg_iam_save(c, "policy", account, d->key, doc) != MG_E_OK) {
        json_decref(doc);
        mg_iam_write_abort(c, snap);
        return mg_iam_internal(c);
    }
    if (!mg_iam_write_commit(c, snap)) {
        json_decref(doc);
        return false;
    }
    *out = doc;
    return true;
}

struct s_new_version {
    const char *text;
    bool set_default;
    char id[24];
    char created[21];
};

static bool s_add_version(struct mg_call *c, json_t *doc, void *a)
{
    struct s_new_version *nv = a;
    json_t *vs = json_object_get(doc, "Versions");
    if (json_array_size(vs) >= S_MAX_VERSIONS)
        return mg_iam_fail(c, 409, "LimitExceeded",
                           "A managed policy can have up to %d versions. Before you create a new "
                           "version, you must delete an existing version.",
                           S_MAX_VERSIONS);
    json_int_t next = json_integer_value(json_object_get(doc, "NextVersion"));
    if (next < 2)
        next = (json_int_t)json_array_size(vs) + 1;
    snprintf(nv->id, sizeof(nv->id), "v%lld", (long long)next);
    mg_iam_now(nv->created);
    bool ok = mg_json_append(vs, json_pack("{s:s, s:s, s:s}", "VersionId", nv->id, "Document",
                                           nv->text, "CreateDate", nv->created));
    ok = ok && mg_json_set(doc, "NextVersion", json_integer(next + 1));
    if (ok && nv->set_default)
        ok = mg_json_set(doc, "DefaultVersionId", json_string(nv->id));
    return ok || mg_iam_internal(c);
}

void mg_iam_op_create_policy_version(struct mg_call *c)
{
    char arn[MG_IAM_ARN_CAP];
    struct s_new_version nv = {0};
    if (!s_arn_param(c, arn) || !mg_iam_bool_param(c, "SetAsDefault", false, &nv.set_default))
        return;
    char *text = mg_iam_doc_param(c, "PolicyDocument", "policyDocument", true, NULL);
    if (text == NULL)
        return;
    nv.text = text;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    json_t *doc = NULL;
    if (mg_iam_authz(c, "iam:CreatePolicyVersion", arn, found ? pol.tags : NULL, NULL, NULL,
                     NULL) &&
        mg_iam_check_policy(c, text, MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_MANAGED) &&
        s_modify(c, arn, s_add_version, &nv, &doc)) {
        struct mg_buf b;
        mg_buf_init(&b, 4096);
        if (s_version_xml(&b, 4, "PolicyVersion", nv.id, NULL, nv.set_default, nv.created))
            mg_iam_internal(c);
        else
            mg_iam_send(c, "CreatePolicyVersion", &b);
        mg_buf_cleanup(&b);
    }
    json_decref(doc);
    mg_free(text);
}

static bool s_del_version(struct mg_call *c, json_t *doc, void *a)
{
    const char *vid = a;
    const char *def = json_string_value(json_object_get(doc, "DefaultVersionId"));
    json_t *vs = json_object_get(doc, "Versions");
    for (size_t i = 0; i < json_array_size(vs); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(vs, i), "VersionId"));
        if (id && strcmp(id, vid) == 0) {
            if (def && strcmp(def, vid) == 0)
                return mg_iam_fail(c, 409, "DeleteConflict",
                                   "Cannot delete the default version of a policy.");
            json_array_remove(vs, i);
            return true;
        }
    }
    return mg_iam_fail(c, 404, "NoSuchEntity",
                       "Policy %s version %s does not exist or is not attachable.",
                       json_string_value(json_object_get(doc, "Arn")), vid);
}

static bool s_set_default(struct mg_call *c, json_t *doc, void *a)
{
    const char *vid = a;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "Versions"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "VersionId"));
        if (id && strcmp(id, vid) == 0) {
            return mg_json_set(doc, "DefaultVersionId", json_string(vid)) || mg_iam_internal(c);
        }
    }
    return mg_iam_fail(c, 404, "NoSuchEntity",
                       "Policy %s version %s does not exist or is not attachable.",
                       json_string_value(json_object_get(doc, "Arn")), vid);
}

static void s_version_op(struct mg_call *c, bool del)
{
    char arn[MG_IAM_ARN_CAP], vid[24];
    if (!s_arn_param(c, arn) || !s_version_param(c, vid))
        return;
    struct s_pol pol;
    bool found = s_find(c, c->snap, arn, &pol);
    if (!mg_iam_authz(c, del ? "iam:DeletePolicyVersion" : "iam:SetDefaultPolicyVersion", arn,
                      found ? pol.tags : NULL, NULL, NULL, NULL))
        return;
    json_t *doc = NULL;
    if (s_modify(c, arn, del ? s_del_version : s_set_default, vid, &doc))
        mg_iam_send(c, del ? "DeletePolicyVersion" : "SetDefaultPolicyVersion", NULL);
    json_decref(doc);
}

void mg_iam_op_delete_policy_version(struct mg_call *c)
{
    s_version_op(c, true);
}

void mg_iam_op_set_default_policy_version(struct mg_call *c)
{
    s_version_op(c, false);
}
