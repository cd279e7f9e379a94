/* The IAM snapshot extension: access keys indexed for authentication. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "iam/iam.h"

struct s_iam_ext {
    struct mg_iam_key *keys;
    size_t n;
    struct mg_map by_id;
};

static int s_slot = -1;

static void s_destroy(void *p)
{
    struct s_iam_ext *e = p;
    if (e == NULL)
        return;
    mg_map_cleanup(&e->by_id);
    mg_free(e->keys);
    mg_free(e);
}

static const char *s_str(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    size_t n;
    const struct mg_snapshot_doc **docs;
    MG_TRY(mg_snapshot_collect(snap, "access_key", &docs, &n));
    struct s_iam_ext *e = mg_calloc(1, sizeof(*e));
    if (e == NULL) {
        mg_free(docs);
        return MG_E_NOMEM;
    }
    mg_map_init(&e->by_id);
    e->keys = mg_calloc(n ? n : 1, sizeof(*e->keys));
    if (e->keys == NULL) {
        mg_free(docs);
        s_destroy(e);
        return MG_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *d = docs[i]->doc;
        struct mg_iam_key *k = &e->keys[e->n];
        k->access_key_id = docs[i]->key;
        k->secret = s_str(d, "secretAccessKey");
        k->account = docs[i]->account;
        k->active = strcmp(s_str(d, "status"), "Inactive") != 0;
        k->loopback_only = json_is_true(json_object_get(d, "loopbackOnly"));
        const char *user = json_string_value(json_object_get(d, "userName"));
        if (user) {
            const struct mg_snapshot_doc *u = mg_snapshot_get(snap, "user", docs[i]->account, user);
            if (u == NULL)
                continue; /* a key whose user is gone authenticates nobody */
            k->user = u->doc;
        }
        if (mg_map_put(&e->by_id, mg_slice_cstr(k->access_key_id), k) != MG_E_OK) {
            mg_free(docs);
            s_destroy(e);
            return MG_E_NOMEM;
        }
        e->n++;
    }
    mg_free(docs);
    *out = e;
    return MG_E_OK;
}

void mg_iam_policies_init(void);

void mg_iam_init(void)
{
    static const char *const kinds[] = {"access_key", "user", NULL};
    static const struct mg_snapshot_ext ext = {"iam-keys", s_build, s_destroy, kinds, NULL};
    s_slot = mg_snapshot_register_ext(&ext);
    mg_iam_policies_init();
}

const struct mg_iam_key *mg_iam_find_key(const struct mg_snapshot *snap, struct mg_slice akid)
{
    if (snap == NULL || s_slot < 0 || snap->ext[s_slot] == NULL)
        return NULL;
    const struct s_iam_ext *e = snap->ext[s_slot];
    return mg_map_get(&e->by_id, akid);
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
