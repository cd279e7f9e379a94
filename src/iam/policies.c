/* The IAM policy snapshot extension: every user's and role's identity policies compiled once per
 * snapshot, shared by reference where one managed policy is attached to many. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "iam/iam.h"

struct s_policies_ext {
    struct mg_map
        entities;          /* "user|role \x1f account \x1f name" -> struct mg_iam_entity_policies */
    struct mg_map managed; /* ARN -> struct mg_policy (customer and AWS managed in use) */
    struct mg_iam_entity_policies *all;
    size_t n_all;
};

static int s_slot = -1;

static void s_free_entity(struct mg_iam_entity_policies *e)
{
    for (size_t i = 0; i < e->n_identity; i++)
        mg_policy_unref(e->identity[i]);
    for (size_t i = 0; i < e->n_boundary; i++)
        mg_policy_unref(e->boundary[i]);
    mg_free(e->identity);
    mg_free(e->boundary);
}

static void s_destroy(void *p)
{
    struct s_policies_ext *x = p;
    if (x == NULL)
        return;
    for (size_t i = 0; x->all && i < x->n_all; i++)
        s_free_entity(&x->all[i]);
    mg_free(x->all);
    for (size_t i = 0; i < x->managed.cap; i++)
        if (x->managed.slots[i].key)
            mg_policy_unref(x->managed.slots[i].value);
    mg_map_cleanup(&x->managed);
    mg_map_cleanup(&x->entities);
    mg_free(x);
}

/* The default version's document of a customer managed policy. */
static const char *s_customer_doc(const json_t *pol)
{
    const char *def = json_string_value(json_object_get(pol, "DefaultVersionId"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pol, "Versions"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "VersionId"));
        if (def && id && strcmp(def, id) == 0)
            return json_string_value(json_object_get(v, "Document"));
    }
    return NULL;
}

static struct mg_policy *s_managed(struct s_policies_ext *x, const struct mg_snapshot *snap,
                                   const char *arn)
{
    struct mg_policy *p = mg_map_get(&x->managed, mg_slice_cstr(arn));
    if (p)
        return p;
    const char *doc = mg_iam_aws_managed_policy(arn);
    if (doc == NULL) {
        /* arn:aws:iam::ACCOUNT:policy/PATH/NAME: customer managed, keyed by name */
        const char *acct = arn + strlen("arn:aws:iam::");
        const char *slash = strrchr(arn, '/');
        if (strncmp(arn, "arn:aws:iam::", 13) != 0 || slash == NULL || strlen(acct) < 13)
            return NULL;
        char account[13];
        mg_memcpy(account, acct, 12);
        account[12] = 0;
        const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "policy", account, slash + 1);
        if (d == NULL)
            return NULL;
        const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
        if (darn == NULL || strcmp(darn, arn) != 0)
            return NULL;
        doc = s_customer_doc(d->doc);
        if (doc == NULL)
            return NULL;
    }
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_RAW, arn};
    struct mg_errinfo ei = {0};
    if (mg_policy_parse(mg_slice_cstr(doc), &o, &p, &ei) != MG_E_OK) {
        MG_LOG(MG_LOG_WARN, MG_SUB_IAM, "managed policy %s does not compile: %s", arn, ei.msg);
        return NULL;
    }
    if (mg_map_put(&x->managed, mg_slice_cstr(arn), p) != MG_E_OK) {
        mg_policy_unref(p);
        return NULL;
    }
    return p;
}

static enum mg_err s_push(struct mg_policy ***arr, size_t *n, struct mg_policy *p)
{
    void *np = mg_realloc(*arr, (*n + 1) * sizeof(struct mg_policy *));
    if (np == NULL)
        return MG_E_NOMEM;
    *arr = np;
    (*arr)[(*n)++] = p;
    return MG_E_OK;
}

static enum mg_err s_entity(struct s_policies_ext *x, const struct mg_snapshot *snap,
                            const struct mg_snapshot_doc *d, bool role,
                            struct mg_iam_entity_policies *out)
{
    memset(out, 0, sizeof(*out));
    const char *name;
    json_t *v;
    json_object_foreach(json_object_get(d->doc, "InlinePolicies"), name, v)
    {
        const char *text = json_string_value(v);
        if (text == NULL)
            continue;
        char label[300];
        snprintf(label, sizeof(label), "%s/%s inline policy %s", role ? "role" : "user", d->key,
                 name);
        struct mg_policy_parse_opts o = {MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_RAW, label};
        struct mg_policy *p = NULL;
        struct mg_errinfo ei = {0};
        if (mg_policy_parse(mg_slice_cstr(text), &o, &p, &ei) != MG_E_OK) {
            MG_LOG(MG_LOG_WARN, MG_SUB_IAM, "%s does not compile and is ignored: %s", label,
                   ei.msg);
            continue;
        }
        MG_TRY(s_push(&out->identity, &out->n_identity, p));
    }
    size_t i;
    json_array_foreach(json_object_get(d->doc, "AttachedPolicies"), i, v)
    {
        const char *arn = json_string_value(v);
        struct mg_policy *p = arn ? s_managed(x, snap, arn) : NULL;
        if (p)
            MG_TRY(s_push(&out->identity, &out->n_identity, mg_policy_ref(p)));
    }
    const char *boundary = json_string_value(json_object_get(d->doc, "PermissionsBoundary"));
    if (boundary) {
        struct mg_policy *p = s_managed(x, snap, boundary);
        /* A boundary that cannot be found allows nothing: keep an empty, denying boundary. */
        if (p == NULL) {
            struct mg_policy_parse_opts o = {MG_POLICY_KIND_BOUNDARY, 0, boundary};
            static const char empty[] =
                "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                "\"Action\":\"mcpgate:BoundaryNotFound\",\"Resource\":\"*\"}]}";
            if (mg_policy_parse(MG_SLICE_LIT(empty), &o, &p, NULL) != MG_E_OK)
                return MG_E_NOMEM;
            MG_TRY(s_push(&out->boundary, &out->n_boundary, p));
        } else {
            MG_TRY(s_push(&out->boundary, &out->n_boundary, mg_policy_ref(p)));
        }
    }
    return MG_E_OK;
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_policies_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_map_init(&x->entities);
    mg_map_init(&x->managed);
    size_t nu = 0, nr = 0;
    const struct mg_snapshot_doc **users = NULL, **roles = NULL;
    enum mg_err e = mg_snapshot_collect(snap, "user", &users, &nu);
    if (!e)
        e = mg_snapshot_collect(snap, "role", &roles, &nr);
    if (!e) {
        x->all = mg_calloc(nu + nr + 1, sizeof(*x->all));
        e = x->all ? MG_E_OK : MG_E_NOMEM;
    }
    for (size_t i = 0; i < nu + nr && !e; i++) {
        bool role = i >= nu;
        const struct mg_snapshot_doc *d = role ? roles[i - nu] : users[i];
        e = s_entity(x, snap, d, role, &x->all[x->n_all]);
        x->n_all++;
        char key[512];
        int n = snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", role ? "role" : "user", d->account,
                         d->key);
        if (!e && n > 0 && (size_t)n < sizeof(key))
            e = mg_map_put(&x->entities, mg_slice_make(key, (size_t)n), &x->all[x->n_all - 1]);
    }
    mg_free(users);
    mg_free(roles);
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

void mg_iam_policies_init(void);
void mg_iam_policies_init(void)
{
    static const char *const kinds[] = {"user", "role", "policy", NULL};
    static const struct mg_snapshot_ext ext = {"iam-policies", s_build, s_destroy, kinds, NULL};
    s_slot = mg_snapshot_register_ext(&ext);
}

const struct mg_iam_entity_policies *mg_iam_policies_of(const struct mg_snapshot *snap,
                                                        const struct mg_principal *p)
{
    if (snap == NULL || s_slot < 0 || snap->ext[s_slot] == NULL)
        return NULL;
    const struct s_policies_ext *x = snap->ext[s_slot];
    char key[512];
    int n;
    if (p->type == MG_PRINCIPAL_USER)
        n = snprintf(key, sizeof(key), "user\x1f%s\x1f%s", p->account, p->name);
    else if (p->type == MG_PRINCIPAL_ASSUMED_ROLE)
        n = snprintf(key, sizeof(key), "role\x1f%s\x1f%s", p->account, p->name);
    else
        return NULL;
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return mg_map_get(&x->entities, mg_slice_make(key, (size_t)n));
}

const struct mg_policy *mg_iam_managed_policy(const struct mg_snapshot *snap, const char *arn)
{
    if (snap == NULL || s_slot < 0 || snap->ext[s_slot] == NULL)
        return NULL;
    struct s_policies_ext *x = snap->ext[s_slot];
    return mg_map_get(&x->managed, mg_slice_cstr(arn));
}
