/* The IAM snapshot extension: access keys indexed for authentication. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "iam/iam.h"
#include "state/pmap.h"

/* One access key, shared by every extension built while its key and user documents are
 * unchanged; it holds references to them. */
struct s_key {
    struct mg_iam_key k; /* first: a key's node is (struct s_key *)key */
    atomic_long refs;
    char *akid, *account;
    json_t *doc, *user;
};

struct s_iam_ext {
    struct mg_pmap by_id; /* access key id -> struct s_key (owned) */
};

static int s_slot = -1;

static void s_key_unref(void *p)
{
    struct s_key *k = p;
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    json_decref(k->doc);
    json_decref(k->user);
    mg_free(k->akid);
    mg_free(k->account);
    mg_free(k);
}

static void s_key_ref(void *p)
{
    atomic_fetch_add(&((struct s_key *)p)->refs, 1);
}

static const struct mg_pmap_ops s_key_ops = {s_key_ref, s_key_unref};

static void s_destroy(void *p)
{
    struct s_iam_ext *e = p;
    if (e == NULL)
        return;
    mg_pmap_cleanup(&e->by_id);
    mg_free(e);
}

static const char *s_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* The node of one access key document; *out NULL for a key whose user is gone (it
 * authenticates nobody). */
static enum mg_err s_key_new(const struct mg_snapshot *snap, const struct mg_snapshot_doc *d,
                             struct s_key **out)
{
    *out = NULL;
    const json_t *doc = d->doc;
    const struct mg_snapshot_doc *u = NULL;
    const char *user = json_string_value(json_object_get(doc, "userName"));
    if (user) {
        u = mg_snapshot_get(snap, "user", d->account, user);
        if (u == NULL)
            return MG_E_OK;
    }
    struct s_key *n = mg_calloc(1, sizeof(*n));
    if (n == NULL)
        return MG_E_NOMEM;
    atomic_init(&n->refs, 1);
    n->akid = mg_strdup(d->key);
    n->account = mg_strdup(d->account);
    n->doc = json_incref(d->doc);
    n->user = u ? json_incref(u->doc) : NULL;
    if (n->akid == NULL || n->account == NULL) {
        s_key_unref(n);
        return MG_E_NOMEM;
    }
    struct mg_iam_key *k = &n->k;
    k->access_key_id = n->akid;
    k->secret = s_str(doc, "secretAccessKey");
    k->account = n->account;
    k->active = strcmp(s_str(doc, "status"), "Inactive") != 0;
    k->loopback_only = json_is_true(json_object_get(doc, "loopbackOnly"));
    k->user = n->user;
    *out = n;
    return MG_E_OK;
}

/* Sets the entry of access key d->key from d (NULL: removes key). */
static enum mg_err s_set(struct s_iam_ext *e, const struct mg_snapshot *snap, const char *key,
                         const struct mg_snapshot_doc *d)
{
    struct s_key *n = NULL;
    if (d)
        MG_TRY(s_key_new(snap, d, &n));
    enum mg_err err = mg_pmap_set(&e->by_id, mg_slice_cstr(n ? n->akid : key), n);
    if (err)
        s_key_unref(n);
    return err;
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_iam_ext *e = mg_calloc(1, sizeof(*e));
    if (e == NULL)
        return MG_E_NOMEM;
    mg_pmap_init(&e->by_id, &s_key_ops);
    size_t pos = 0, n;
    const struct mg_snapshot_doc *d;
    enum mg_err err = MG_E_OK;
    while (!err && (d = mg_snapshot_next_run(snap, "access_key", &pos, &n)))
        for (size_t i = 0; i < n && !err; i++)
            err = s_set(e, snap, d[i].key, &d[i]);
    if (err) {
        s_destroy(e);
        return err;
    }
    *out = e;
    return MG_E_OK;
}

/* Keys changed: set again; users changed: their account's keys that name them set again. */
static enum mg_err s_apply(const void *prevp, struct mg_snapshot *snap,
                           const struct mg_snapshot_change *c, size_t nc, void **out,
                           struct mg_errinfo *ei)
{
    (void)ei;
    *out = NULL;
    const struct s_iam_ext *prev = prevp;
    struct s_iam_ext *e = mg_calloc(1, sizeof(*e));
    if (e == NULL)
        return MG_E_NOMEM;
    mg_pmap_share(&e->by_id, &prev->by_id);
    enum mg_err err = MG_E_OK;
    for (size_t i = 0; i < nc && !err; i++) {
        if (strcmp(c[i].kind, "access_key") == 0) {
            const struct s_key *old = mg_pmap_get(&e->by_id, mg_slice_cstr(c[i].key));
            if (old && strcmp(old->account, c[i].account) != 0) {
                s_destroy(e); /* one key id in two accounts: the full build decides */
                return MG_E_OK;
            }
            err = s_set(e, snap, c[i].key,
                        mg_snapshot_get(snap, c[i].kind, c[i].account, c[i].key));
        } else if (strcmp(c[i].kind, "user") == 0) {
            size_t n;
            const struct mg_snapshot_doc *d = mg_snapshot_range(snap, "access_key", c[i].account,
                                                                &n);
            for (size_t k = 0; k < n && !err; k++)
                if (strcmp(s_str(d[k].doc, "userName"), c[i].key) == 0)
                    err = s_set(e, snap, d[k].key, &d[k]);
        }
    }
    if (err) {
        s_destroy(e);
        return err;
    }
    *out = e;
    return MG_E_OK;
}

void mg_iam_policies_init(void);

void mg_iam_init(void)
{
    static const char *const kinds[] = {"access_key", "user", NULL};
    static const struct mg_snapshot_ext ext = {"iam-keys", s_build, s_destroy, kinds, s_apply};
    s_slot = mg_snapshot_register_ext(&ext);
    mg_iam_policies_init();
}

const struct mg_iam_key *mg_iam_find_key(const struct mg_snapshot *snap, struct mg_slice akid)
{
    if (snap == NULL || s_slot < 0 || snap->ext[s_slot] == NULL)
        return NULL;
    const struct s_iam_ext *e = snap->ext[s_slot];
    const struct s_key *k = mg_pmap_get(&e->by_id, akid);
    return k ? &k->k : NULL;
}

static void s_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    mg_memcpy(dst, src, n);
    dst[n] = 0;
}

void mg_iam_principal_from_key(const struct mg_iam_key *k, struct mg_principal *p)
{
    memset(p, 0, sizeof(*p));
    s_copy(p->account, sizeof(p->account), k->account);
    s_copy(p->access_key_id, sizeof(p->access_key_id), k->access_key_id);
    if (k->user == NULL) {
        p->type = MG_PRINCIPAL_ROOT;
        /* arn:aws:iam::ACCOUNT:root, without printf: this runs on every request */
        static const char pre[] = "arn:aws:iam::", post[] = ":root";
        size_t al = strlen(p->account), o = 0;
        mg_memcpy(p->arn + o, pre, sizeof(pre) - 1);
        o += sizeof(pre) - 1;
        mg_memcpy(p->arn + o, p->account, al);
        o += al;
        mg_memcpy(p->arn + o, post, sizeof(post));
        s_copy(p->user_id, sizeof(p->user_id), k->account);
        return;
    }
    p->type = MG_PRINCIPAL_USER;
    p->user = k->user;
    s_copy(p->arn, sizeof(p->arn), s_str(k->user, "Arn"));
    s_copy(p->user_id, sizeof(p->user_id), s_str(k->user, "UserId"));
    s_copy(p->name, sizeof(p->name), s_str(k->user, "UserName"));
}

void mg_iam_new_id(const char *prefix, char out[32])
{
    size_t n = strlen(prefix);
    size_t body = strcmp(prefix, "AKIA") == 0 || strcmp(prefix, "ASIA") == 0 ? 16 : 17;
    mg_memcpy(out, prefix, n);
    mg_random_chars(out + n, body, MG_ALPHA_UPPER_NUM);
}

/* ---- what the call layer needs (struct mg_identity) --------------------------------------- */

static bool s_find_key(const struct mg_snapshot *snap, struct mg_slice access_key_id,
                       const char **secret, bool *loopback_only, struct mg_principal *p)
{
    const struct mg_iam_key *key = mg_iam_find_key(snap, access_key_id);
    if (key == NULL || !key->active)
        return false;
    *secret = key->secret;
    *loopback_only = key->loopback_only;
    mg_iam_principal_from_key(key, p);
    return true;
}

static void s_policies_of(const struct mg_snapshot *snap, const struct mg_principal *p,
                          struct mg_policy_set *set)
{
    const struct mg_iam_entity_policies *ep = mg_iam_policies_of(snap, p);
    if (ep == NULL)
        return;
    set->identity = (const struct mg_policy *const *)ep->identity;
    set->n_identity = ep->n_identity;
    set->boundary = (const struct mg_policy *const *)ep->boundary;
    set->n_boundary = ep->n_boundary;
}

const struct mg_identity mg_iam_identity = {s_find_key, mg_sts_session_resolve, s_policies_of,
                                            mg_sts_assume_role_as_service};
