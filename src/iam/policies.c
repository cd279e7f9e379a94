/* The IAM policy snapshot extension: every user's and role's identity policies compiled once per
 * snapshot, shared by reference where one managed policy is attached to many. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "iam/iam.h"
#include "state/pmap.h"

/* One user's or role's compiled policies, shared by every extension built while its document
 * and the managed policies it attaches are unchanged. */
struct s_entity {
    struct mg_iam_entity_policies p; /* first: an entity's node is (struct s_entity *)p */
    atomic_long refs;
    char *key; /* "user|role \x1f account \x1f name" */
};

/* A managed policy in use: an AWS managed one keyed by its ARN, a customer managed one by
 * "ACCOUNT \x1f NAME" (its row in the store), so that a change to the row finds it. */
struct s_managed_node {
    atomic_long refs;
    char *key;
    char *arn; /* the policy's ARN (for a customer managed one, the path must match too) */
    struct mg_policy *p;
};

struct s_policies_ext {
    struct mg_pmap entities; /* key -> struct s_entity (owned) */
    struct mg_pmap managed;  /* key -> struct s_managed_node (customer and AWS managed in use) */
};

static int s_slot = -1;

static void s_entity_unref(void *v)
{
    struct s_entity *n = v;
    if (n == NULL || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    struct mg_iam_entity_policies *e = &n->p;
    for (size_t i = 0; i < e->n_identity; i++)
        mg_policy_unref(e->identity[i]);
    for (size_t i = 0; i < e->n_boundary; i++)
        mg_policy_unref(e->boundary[i]);
    mg_free(e->identity);
    mg_free(e->boundary);
    mg_free(n->key);
    mg_free(n);
}

static void s_entity_ref(void *v)
{
    atomic_fetch_add(&((struct s_entity *)v)->refs, 1);
}

static void s_managed_unref(void *v)
{
    struct s_managed_node *n = v;
    if (n == NULL || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    mg_policy_unref(n->p);
    mg_free(n->key);
    mg_free(n->arn);
    mg_free(n);
}

static void s_managed_ref(void *v)
{
    atomic_fetch_add(&((struct s_managed_node *)v)->refs, 1);
}

static const struct mg_pmap_ops s_entity_ops = {s_entity_ref, s_entity_unref};
static const struct mg_pmap_ops s_managed_ops = {s_managed_ref, s_managed_unref};

static void s_destroy(void *p)
{
    struct s_policies_ext *x = p;
    if (x == NULL)
        return;
    mg_pmap_cleanup(&x->managed);
    mg_pmap_cleanup(&x->entities);
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

/* The key of a customer managed policy's node: "ACCOUNT \x1f NAME"; -1 when it cannot be one. */
static int s_customer_key(char *key, size_t cap, const char *account, const char *name)
{
    int n = snprintf(key, cap, "%s\x1f%s", account, name);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static struct mg_policy *s_managed(struct s_policies_ext *x, const struct mg_snapshot *snap,
                                   const char *arn)
{
    const char *doc = mg_iam_aws_managed_policy(arn);
    char key[512];
    int kl;
    const struct mg_snapshot_doc *d = NULL;
    if (doc) {
        kl = snprintf(key, sizeof(key), "%s", arn);
        if (kl <= 0 || (size_t)kl >= sizeof(key))
            return NULL;
    } else {
        /* arn:aws:iam::ACCOUNT:policy/PATH/NAME: customer managed, stored by account and name */
        const char *acct = arn + strlen("arn:aws:iam::");
        const char *slash = strrchr(arn, '/');
        if (strncmp(arn, "arn:aws:iam::", 13) != 0 || slash == NULL || strlen(acct) < 13)
            return NULL;
        char account[13];
        mg_memcpy(account, acct, 12);
        account[12] = 0;
        kl = s_customer_key(key, sizeof(key), account, slash + 1);
        if (kl < 0)
            return NULL;
        const struct s_managed_node *m = mg_pmap_get(&x->managed, mg_slice_make(key, (size_t)kl));
        if (m)
            return strcmp(m->arn, arn) == 0 ? m->p : NULL;
        d = mg_snapshot_get(snap, "policy", account, slash + 1);
        if (d == NULL)
            return NULL;
        const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
        if (darn == NULL || strcmp(darn, arn) != 0)
            return NULL;
        doc = s_customer_doc(d->doc);
        if (doc == NULL)
            return NULL;
    }
    if (d == NULL) {
        const struct s_managed_node *m = mg_pmap_get(&x->managed, mg_slice_make(key, (size_t)kl));
        if (m)
            return m->p;
    }
    struct mg_policy *p = NULL;
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_IDENTITY, MG_POLICY_LIMIT_RAW, arn};
    struct mg_errinfo ei = {0};
    if (mg_policy_parse(mg_slice_cstr(doc), &o, &p, &ei) != MG_E_OK) {
        MG_LOG(MG_LOG_WARN, MG_SUB_IAM, "managed policy %s does not compile: %s", arn, ei.msg);
        return NULL;
    }
    struct s_managed_node *n = mg_calloc(1, sizeof(*n));
    if (n) {
        n->arn = mg_strdup(arn);
        n->key = mg_strdup(key);
    }
    if (n == NULL || n->arn == NULL || n->key == NULL) {
        if (n) {
            mg_free(n->arn);
            mg_free(n->key);
        }
        mg_free(n);
        mg_policy_unref(p);
        return NULL;
    }
    atomic_init(&n->refs, 1);
    n->p = p;
    if (mg_pmap_set(&x->managed, mg_slice_make(n->key, (size_t)kl), n) != MG_E_OK) {
        s_managed_unref(n);
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

static int s_entity_key(char *key, size_t cap, bool role, const char *account, const char *name)
{
    int n = snprintf(key, cap, "%s\x1f%s\x1f%s", role ? "role" : "user", account, name);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Sets the entry of one user or role from its document d (NULL: removes it). */
static enum mg_err s_set_entity(struct s_policies_ext *x, const struct mg_snapshot *snap, bool role,
                                const char *account, const char *name,
                                const struct mg_snapshot_doc *d)
{
    char key[512];
    int kl = s_entity_key(key, sizeof(key), role, account, name);
    if (kl < 0)
        return MG_E_OK; /* a name too long to look up is never asked for */
    if (d == NULL)
        return mg_pmap_set(&x->entities, mg_slice_make(key, (size_t)kl), NULL);
    struct s_entity *n = mg_calloc(1, sizeof(*n));
    if (n == NULL)
        return MG_E_NOMEM;
    atomic_init(&n->refs, 1);
    n->key = mg_strdup(key);
    enum mg_err e = n->key ? s_entity(x, snap, d, role, &n->p) : MG_E_NOMEM;
    if (!e)
        e = mg_pmap_set(&x->entities, mg_slice_make(n->key, (size_t)kl), n);
    if (e)
        s_entity_unref(n);
    return e;
}

static struct s_policies_ext *s_ext_new(void)
{
    struct s_policies_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    mg_pmap_init(&x->entities, &s_entity_ops);
    mg_pmap_init(&x->managed, &s_managed_ops);
    return x;
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_policies_ext *x = s_ext_new();
    if (x == NULL)
        return MG_E_NOMEM;
    enum mg_err e = MG_E_OK;
    for (int r = 0; r < 2 && !e; r++) {
        size_t pos = 0, n;
        const struct mg_snapshot_doc *d;
        while (!e && (d = mg_snapshot_next_run(snap, r ? "role" : "user", &pos, &n)))
            for (size_t i = 0; i < n && !e; i++)
                e = s_set_entity(x, snap, r == 1, d[i].account, d[i].key, &d[i]);
    }
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

#define S_APPLY_ACCOUNTS 16 /* more accounts' managed policies changed at once: full build */

/* Users and roles changed: set again, sharing every other one and the managed policies compiled
 * so far. A customer managed policy changed: its node is dropped and every user and role of its
 * account is set again (a customer managed policy is attachable only in its own account), so
 * the cost is the account's users and roles, not everyone's. */
static enum mg_err s_apply(const void *prevp, struct mg_snapshot *snap,
                           const struct mg_snapshot_change *c, size_t nc, void **out,
                           struct mg_errinfo *ei)
{
    (void)ei;
    *out = NULL;
    const char *accounts[S_APPLY_ACCOUNTS];
    size_t na = 0;
    for (size_t i = 0; i < nc; i++) {
        if (strcmp(c[i].kind, "policy") != 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < na && !seen; k++)
            seen = strcmp(accounts[k], c[i].account) == 0;
        if (seen)
            continue;
        if (na == S_APPLY_ACCOUNTS)
            return MG_E_OK; /* decline: the full build */
        accounts[na++] = c[i].account;
    }
    const struct s_policies_ext *prev = prevp;
    struct s_policies_ext *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_pmap_share(&x->entities, &prev->entities);
    mg_pmap_share(&x->managed, &prev->managed);
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; i < nc && !e; i++) {
        char key[512];
        int kl;
        if (strcmp(c[i].kind, "policy") == 0 &&
            (kl = s_customer_key(key, sizeof(key), c[i].account, c[i].key)) > 0)
            e = mg_pmap_set(&x->managed, mg_slice_make(key, (size_t)kl), NULL);
    }
    for (size_t a = 0; a < na && !e; a++)
        for (int r = 0; r < 2 && !e; r++) {
            size_t n;
            const struct mg_snapshot_doc *d = mg_snapshot_range(snap, r ? "role" : "user",
                                                                accounts[a], &n);
            for (size_t i = 0; i < n && !e; i++)
                e = s_set_entity(x, snap, r == 1, d[i].account, d[i].key, &d[i]);
        }
    for (size_t i = 0; i < nc && !e; i++) {
        bool user = strcmp(c[i].kind, "user") == 0, role = strcmp(c[i].kind, "role") == 0;
        if (user || role)
            e = s_set_entity(x, snap, role, c[i].account, c[i].key,
                             mg_snapshot_get(snap, c[i].kind, c[i].account, c[i].key));
    }
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
    static const struct mg_snapshot_ext ext = {"iam-policies", s_build, s_destroy, kinds, s_apply};
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
        n = s_entity_key(key, sizeof(key), false, p->account, p->name);
    else if (p->type == MG_PRINCIPAL_ASSUMED_ROLE)
        n = s_entity_key(key, sizeof(key), true, p->account, p->name);
    else
        return NULL;
    if (n < 0)
        return NULL;
    const struct s_entity *e = mg_pmap_get(&x->entities, mg_slice_make(key, (size_t)n));
    return e ? &e->p : NULL;
}

const struct mg_policy *mg_iam_managed_policy(const struct mg_snapshot *snap, const char *arn)
{
    if (snap == NULL || s_slot < 0 || snap->ext[s_slot] == NULL)
        return NULL;
    struct s_policies_ext *x = snap->ext[s_slot];
    const struct s_managed_node *m = mg_pmap_get(&x->managed, mg_slice_cstr(arn));
    return m ? m->p : NULL;
}
