/* Hosted accounts from the identities file, applied idempotently to the store. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/util.h"
#include "iam/iam.h"

/* IAM's limit of tags per user or role. */
#define S_MAX_TAGS 50

/* The meta value recording what the identities file (source "file") or the built-in default
 * (source "default") put in the store at the last start: the file is the source of truth for
 * those entries, and what it no longer lists is removed at the next start. */
#define S_PROVENANCE_KEY "identities.provenance"

/* Without a file: account 000000000000 with the well-known root key test / test, which
 * authenticates only while the server listens on loopback. */
#define S_DEFAULT_ACCOUNT "000000000000"
#define S_DEFAULT_KEY "test"

static bool s_is_account_id(const char *s)
{
    if (s == NULL || strlen(s) != 12)
        return false;
    for (int i = 0; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool s_is_iam_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("_+=,.@-", c)))
            return false;
    }
    return true;
}

static bool s_is_path(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 512 || s[0] != '/' || s[n - 1] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static bool s_is_akid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 4 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static enum mg_err s_get_str(const json_t *o, const char *where, const char *field, bool required,
                             const char **out, struct mg_errinfo *ei)
{
    json_t *v = json_object_get(o, field);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return mg_errinfo_set(ei, MG_E_INVALID, "%s: missing required field \"%s\"", where,
                                  field);
        return MG_E_OK;
    }
    if (!json_is_string(v))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s.%s: must be a string", where, field);
    *out = json_string_value(v);
    return MG_E_OK;
}

static enum mg_err s_check_keys(const json_t *arr, const char *where, json_t *seen,
                                struct mg_errinfo *ei)
{
    static const char *const allowed[] = {"accessKeyId", "secretAccessKey", "status", NULL};
    if (arr == NULL)
        return MG_E_OK;
    if (!json_is_array(arr))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an array", where);
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k)
    {
        char w[256];
        snprintf(w, sizeof(w), "%s[%zu]", where, i);
        if (!json_is_object(k))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an object", w);
        MG_TRY(mg_json_only(k, w, allowed, ei));
        const char *id, *secret, *status;
        MG_TRY(s_get_str(k, w, "accessKeyId", true, &id, ei));
        MG_TRY(s_get_str(k, w, "secretAccessKey", true, &secret, ei));
        MG_TRY(s_get_str(k, w, "status", false, &status, ei));
        if (!s_is_akid(id))
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "%s.accessKeyId: must be 4 to 128 letters, digits or '_'", w);
        size_t sl = secret ? strlen(secret) : 0;
        if (sl == 0 || sl > 128)
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "%s.secretAccessKey: must be 1 to 128 characters", w);
        if (id && secret && strcmp(id, "test") == 0 && strcmp(secret, "test") == 0)
            return mg_errinfo_set(ei, MG_E_INVALID,
                                  "%s: the well-known test / test key is public and cannot "
                                  "be given in an identities file",
                                  w);
        if (status && strcmp(status, "Active") != 0 && strcmp(status, "Inactive") != 0)
            return mg_errinfo_set(ei, MG_E_INVALID, "%s.status: must be \"Active\" or \"Inactive\"",
                                  w);
        if (json_object_get(seen, id))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s.accessKeyId: \"%s\" appears twice", w, id);
        if (!mg_json_set(seen, id, json_true()))
            return mg_errinfo_set(ei, MG_E_NOMEM, "%s: out of memory", w);
    }
    return MG_E_OK;
}

/* Validates a policy document with the policy parser, as IAM would when it is put. */
static enum mg_err s_check_document(const json_t *doc, enum mg_policy_kind kind, size_t limit,
                                    const char *where, struct mg_errinfo *ei)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "%s: out of memory", where);
    struct mg_policy_parse_opts o = {kind, limit, where};
    struct mg_policy *p = NULL;
    struct mg_errinfo pe = {0};
    enum mg_err e = mg_policy_parse(mg_slice_cstr(text), &o, &p, &pe);
    mg_free(text);
    mg_policy_unref(p);
    if (e == MG_E_NOMEM)
        return mg_errinfo_set(ei, e, "%s: out of memory", where);
    if (e)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: %s: %s", where,
                              e == MG_E_TOO_LARGE ? "LimitExceeded" : "MalformedPolicyDocument",
                              pe.msg);
    return MG_E_OK;
}

static enum mg_err s_check_policies(const json_t *o, const json_t *arns, const char *where,
                                    bool role, struct mg_errinfo *ei)
{
    if (o) {
        if (!json_is_object(o))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s.inlinePolicies: must be an object", where);
        const char *name;
        json_t *doc;
        json_object_foreach((json_t *)o, name, doc)
        {
            if (!s_is_iam_name(name, 128))
                return mg_errinfo_set(ei, MG_E_INVALID,
                                      "%s.inlinePolicies: \"%s\" is not a valid policy name", where,
                                      name);
            if (!json_is_object(doc))
                return mg_errinfo_set(ei, MG_E_INVALID,
                                      "%s.inlinePolicies.%s: must be a policy document object",
                                      where, name);
            char w[400];
            snprintf(w, sizeof(w), "%s.inlinePolicies.%s", where, name);
            MG_TRY(
                s_check_document(doc, MG_POLICY_KIND_IDENTITY,
                                 role ? MG_POLICY_LIMIT_ROLE_INLINE : MG_POLICY_LIMIT_USER_INLINE,
                                 w, ei));
        }
    }
    if (arns) {
        if (!json_is_array(arns))
            return mg_errinfo_set(ei, MG_E_INVALID, "%s.managedPolicyArns: must be an array",
                                  where);
        size_t i;
        json_t *a;
        json_array_foreach(arns, i, a)
        {
            const char *s = json_string_value(a);
            if (s == NULL || strncmp(s, "arn:aws:iam::", 13) != 0 || strstr(s, ":policy/") == NULL)
                return mg_errinfo_set(ei, MG_E_INVALID,
                                      "%s.managedPolicyArns[%zu]: must be a policy ARN "
                                      "(arn:aws:iam::ACCOUNT:policy/NAME)",
                                      where, i);
        }
    }
    return MG_E_OK;
}

static enum mg_err s_check_principals(const json_t *arr, const char *where, bool role,
                                      struct mg_errinfo *ei)
{
    static const char *const user_fields[] = {
        "name", "path", "accessKeys", "inlinePolicies", "managedPolicyArns", "tags", NULL};
    static const char *const role_fields[] = {"name",
                                              "path",
                                              "assumeRolePolicyDocument",
                                              "inlinePolicies",
                                              "managedPolicyArns",
                                              "description",
                                              "maxSessionDuration",
                                              "tags",
                                              NULL};
    if (arr == NULL)
        return MG_E_OK;
    if (!json_is_array(arr))
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an array", where);
    json_t *names = json_object();
    size_t i;
    json_t *u;
    enum mg_err e = MG_E_OK;
    json_array_foreach(arr, i, u)
    {
        char w[256];
        snprintf(w, sizeof(w), "%s[%zu]", where, i);
        if (!json_is_object(u)) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an object", w);
            break;
        }
        const char *name, *path, *desc;
        if ((e = mg_json_only(u, w, role ? role_fields : user_fields, ei)) ||
            (e = s_get_str(u, w, "name", true, &name, ei)) ||
            (e = s_get_str(u, w, "path", false, &path, ei)))
            break;
        if (!s_is_iam_name(name, 64)) {
            e = mg_errinfo_set(ei, MG_E_INVALID,
                               "%s.name: must be 1 to 64 of letters, digits and _+=,.@-", w);
            break;
        }
        if (json_object_get(names, name)) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "%s.name: \"%s\" appears twice", w, name);
            break;
        }
        if (!mg_json_set(names, name, json_true())) {
            e = mg_errinfo_set(ei, MG_E_NOMEM, "%s: out of memory", w);
            break;
        }
        if (path && !s_is_path(path)) {
            e = mg_errinfo_set(ei, MG_E_INVALID,
                               "%s.path: must start and end with '/' (for example \"/\")", w);
            break;
        }
        if ((e = s_check_policies(json_object_get(u, "inlinePolicies"),
                                  json_object_get(u, "managedPolicyArns"), w, role, ei)))
            break;
        json_t *tags = json_object_get(u, "tags");
        if (tags) {
            const char *tk;
            json_t *tv;
            if (!json_is_object(tags)) {
                e = mg_errinfo_set(ei, MG_E_INVALID, "%s.tags: must be an object of strings", w);
                break;
            }
            if (json_object_size(tags) > S_MAX_TAGS) {
                e = mg_errinfo_set(ei, MG_E_INVALID, "%s.tags: at most %d tags, as IAM allows", w,
                                   S_MAX_TAGS);
                break;
            }
            json_object_foreach(tags, tk, tv)
            {
                size_t kl = strlen(tk);
                if (kl == 0 || kl > 128) {
                    e = mg_errinfo_set(ei, MG_E_INVALID,
                                       "%s.tags: a tag key must be 1 to 128 characters", w);
                    break;
                }
                if (!json_is_string(tv) || strlen(json_string_value(tv)) > 256) {
                    e = mg_errinfo_set(ei, MG_E_INVALID,
                                       "%s.tags.%s: must be a string of at most 256 characters", w,
                                       tk);
                    break;
                }
            }
            if (e)
                break;
        }
        if (role) {
            json_t *trust = json_object_get(u, "assumeRolePolicyDocument");
            if (!json_is_object(trust)) {
                e = mg_errinfo_set(ei, MG_E_INVALID,
                                   "%s.assumeRolePolicyDocument: required, a policy document "
                                   "object",
                                   w);
                break;
            }
            char tw[300];
            snprintf(tw, sizeof(tw), "%s.assumeRolePolicyDocument", w);
            if ((e = s_check_document(trust, MG_POLICY_KIND_TRUST, 0, tw, ei)))
                break;
            if ((e = s_get_str(u, w, "description", false, &desc, ei)))
                break;
            json_t *msd = json_object_get(u, "maxSessionDuration");
            if (msd && (!json_is_integer(msd) || json_integer_value(msd) < 3600 ||
                        json_integer_value(msd) > 43200)) {
                e = mg_errinfo_set(ei, MG_E_INVALID,
                                   "%s.maxSessionDuration: must be an integer from 3600 to 43200",
                                   w);
                break;
            }
        }
    }
    json_decref(names);
    return e;
}

static enum mg_err s_validate(const json_t *root, struct mg_errinfo *ei)
{
    static const char *const top[] = {"accounts", NULL};
    static const char *const acct_fields[] = {"id", "rootAccessKeys", "users", "roles", NULL};
    if (!json_is_object(root))
        return mg_errinfo_set(ei, MG_E_INVALID, "(top level): must be a JSON object");
    MG_TRY(mg_json_only(root, "(top level)", top, ei));
    json_t *accounts = json_object_get(root, "accounts");
    if (!json_is_array(accounts))
        return mg_errinfo_set(ei, MG_E_INVALID, "accounts: required, an array");
    json_t *seen_keys = json_object(), *seen_accts = json_object();
    enum mg_err e = MG_E_OK;
    size_t i;
    json_t *a;
    json_array_foreach(accounts, i, a)
    {
        char w[256], w2[300];
        snprintf(w, sizeof(w), "accounts[%zu]", i);
        const char *id;
        if (!json_is_object(a)) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "%s: must be an object", w);
            break;
        }
        if ((e = mg_json_only(a, w, acct_fields, ei)) || (e = s_get_str(a, w, "id", true, &id, ei)))
            break;
        if (!s_is_account_id(id)) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "%s.id: must be 12 digits, got \"%s\"", w, id);
            break;
        }
        if (json_object_get(seen_accts, id)) {
            e = mg_errinfo_set(ei, MG_E_INVALID, "%s.id: account %s appears twice", w, id);
            break;
        }
        if (!mg_json_set(seen_accts, id, json_true())) {
            e = mg_errinfo_set(ei, MG_E_NOMEM, "%s: out of memory", w);
            break;
        }
        snprintf(w2, sizeof(w2), "%s.rootAccessKeys", w);
        if ((e = s_check_keys(json_object_get(a, "rootAccessKeys"), w2, seen_keys, ei)))
            break;
        snprintf(w2, sizeof(w2), "%s.users", w);
        if ((e = s_check_principals(json_object_get(a, "users"), w2, false, ei)))
            break;
        json_t *users = json_object_get(a, "users");
        size_t k;
        json_t *u;
        json_array_foreach(users, k, u)
        {
            snprintf(w2, sizeof(w2), "%s.users[%zu].accessKeys", w, k);
            if ((e = s_check_keys(json_object_get(u, "accessKeys"), w2, seen_keys, ei)))
                break;
        }
        if (e)
            break;
        snprintf(w2, sizeof(w2), "%s.roles", w);
        if ((e = s_check_principals(json_object_get(a, "roles"), w2, true, ei)))
            break;
    }
    json_decref(seen_keys);
    json_decref(seen_accts);
    return e;
}

/* --- applying ------------------------------------------------------------------------------ */

static enum mg_err s_put_json(struct mg_state *st, const char *kind, const char *account,
                              const char *key, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_store_put(st->store, kind, account, key, mg_slice_cstr(text));
    mg_free(text);
    return e;
}

/* Loads an existing document (NULL when absent). */
static json_t *s_existing(struct mg_state *st, const char *kind, const char *account,
                          const char *key)
{
    struct mg_buf b;
    mg_buf_init(&b, 16u * 1024 * 1024);
    json_t *doc = NULL;
    if (mg_store_get(st->store, kind, account, key, &b) == MG_E_OK)
        doc = json_loadb((const char *)b.ptr, b.len, 0, NULL);
    mg_buf_cleanup(&b);
    return doc;
}

/* What one start puts in the store: the provenance entries (kind, account, key, the user's or
 * role's id) and a set of "kind/account/key" for lookups. */
struct s_run {
    const char *source; /* "file" or "default" */
    json_t *entries;    /* [{"kind","account","key","source"[,"id"]}] */
    json_t *seen;       /* {"kind/account/key": true} */
    const char *now;
};

static void s_seen_key(char *out, size_t cap, const char *kind, const char *account,
                       const char *key)
{
    snprintf(out, cap, "%s/%s/%s", kind, account, key);
}

static enum mg_err s_record(struct s_run *run, const char *kind, const char *account,
                            const char *key, const char *id)
{
    char sk[1200];
    s_seen_key(sk, sizeof(sk), kind, account, key);
    json_t *e = json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "account", account, "key", key,
                          "source", run->source);
    if (e == NULL)
        return MG_E_NOMEM;
    if (id && !mg_json_set(e, "id", json_string(id))) {
        json_decref(e);
        return MG_E_NOMEM;
    }
    if (!mg_json_append(run->entries, e) || !mg_json_set(run->seen, sk, json_true()))
        return MG_E_NOMEM;
    return MG_E_OK;
}

static bool s_was_applied(const struct s_run *run, const char *kind, const char *account,
                          const char *key)
{
    char sk[1200];
    s_seen_key(sk, sizeof(sk), kind, account, key);
    return json_object_get(run->seen, sk) != NULL;
}

static enum mg_err s_apply_keys(struct mg_state *st, struct s_run *run, const char *account,
                                const json_t *arr, const char *user, bool loopback_only)
{
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k)
    {
        const char *id = json_string_value(json_object_get(k, "accessKeyId"));
        json_t *old = s_existing(st, "access_key", account, id);
        const char *created = old ? json_string_value(json_object_get(old, "createDate")) : NULL;
        const char *status = json_string_value(json_object_get(k, "status"));
        json_t *doc = json_pack("{s:s, s:O, s:s, s:s}", "accessKeyId", id, "secretAccessKey",
                                json_object_get(k, "secretAccessKey"), "status",
                                status ? status : "Active", "createDate",
                                created ? created : run->now);
        bool ok = doc != NULL;
        if (ok && user)
            ok = mg_json_set(doc, "userName", json_string(user));
        if (ok && loopback_only)
            ok = mg_json_set(doc, "loopbackOnly", json_true());
        enum mg_err e = ok ? s_put_json(st, "access_key", account, id, doc) : MG_E_NOMEM;
        json_decref(doc);
        json_decref(old);
        if (!e)
            e = s_record(run, "access_key", account, id, NULL);
        if (e)
            return e;
    }
    return MG_E_OK;
}

static json_t *s_policies_as_text(const json_t *o)
{
    json_t *out = json_object();
    const char *name;
    json_t *doc;
    json_object_foreach((json_t *)o, name, doc)
    {
        char *t = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
        bool ok = t && mg_json_set(out, name, json_string(t));
        mg_free(t);
        if (!ok) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *s_tags(const json_t *o)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (!mg_json_append(arr, json_pack("{s:s, s:O}", "Key", k, "Value", v))) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static enum mg_err s_apply_principal(struct mg_state *st, struct s_run *run, const char *account,
                                     const json_t *u, bool role)
{
    const char *now = run->now;
    const char *name = json_string_value(json_object_get(u, "name"));
    const char *path = json_string_value(json_object_get(u, "path"));
    if (path == NULL)
        path = "/";
    const char *kind = role ? "role" : "user";
    json_t *old = s_existing(st, kind, account, name);
    json_t *doc = old ? json_deep_copy(old) : json_object();
    const char *idf = role ? "RoleId" : "UserId";
    bool ok = doc != NULL;
    if (ok && json_string_value(json_object_get(doc, idf)) == NULL) {
        char id[32] = {0};
        mg_iam_new_id(role ? "AROA" : "AIDA", id);
        ok = mg_json_set(doc, idf, json_string(id));
    }
    if (ok && json_string_value(json_object_get(doc, "CreateDate")) == NULL)
        ok = mg_json_set(doc, "CreateDate", json_string(now));
    char arn[700];
    snprintf(arn, sizeof(arn), "arn:aws:iam::%s:%s%s%s", account, kind, path, name);
    ok = ok && mg_json_set(doc, role ? "RoleName" : "UserName", json_string(name));
    ok = ok && mg_json_set(doc, "Path", json_string(path));
    ok = ok && mg_json_set(doc, "Arn", json_string(arn));
    json_t *inl = json_object_get(u, "inlinePolicies");
    ok = ok && mg_json_set(doc, "InlinePolicies", inl ? s_policies_as_text(inl) : json_object());
    json_t *arns = json_object_get(u, "managedPolicyArns");
    ok = ok && mg_json_set(doc, "AttachedPolicies", arns ? json_deep_copy(arns) : json_array());
    json_t *tags = json_object_get(u, "tags");
    ok = ok && mg_json_set(doc, "Tags", tags ? s_tags(tags) : json_array());
    if (ok && role) {
        /* Without a trust policy the role gets "{}"; one that fails to print is out of memory
         * (a role must not come out trusting nobody, or anybody, by accident). */
        const json_t *tp = json_object_get(u, "assumeRolePolicyDocument");
        char *trust = tp ? json_dumps(tp, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        ok = (tp == NULL || trust != NULL) &&
             mg_json_set(doc, "AssumeRolePolicyDocument", json_string(trust ? trust : "{}"));
        mg_free(trust);
        json_t *msd = json_object_get(u, "maxSessionDuration");
        ok = ok && mg_json_set(doc, "MaxSessionDuration",
                               json_integer(msd ? json_integer_value(msd) : 3600));
        json_t *desc = json_object_get(u, "description");
        if (ok && desc)
            ok = mg_json_set_ref(doc, "Description", desc);
    }
    enum mg_err e = ok ? s_put_json(st, kind, account, name, doc) : MG_E_NOMEM;
    if (!e)
        e = s_record(run, kind, account, name, json_string_value(json_object_get(doc, idf)));
    json_decref(doc);
    json_decref(old);
    if (!e && !role && json_object_get(u, "accessKeys"))
        e = s_apply_keys(st, run, account, json_object_get(u, "accessKeys"), name, false);
    return e;
}

/* ---- removing what the file no longer has ------------------------------------------------ */

struct s_user_keys {
    const char *user;
    json_t *ids;
    bool failed; /* out of memory while collecting */
};

static bool s_collect_user_key(void *user, const struct mg_store_row *row)
{
    struct s_user_keys *uk = user;
    long failures = mg_alloc_failures();
    json_t *doc = json_loadb(row->doc, row->doc_len, 0, NULL);
    const char *owner = json_string_value(json_object_get(doc, "userName"));
    bool ok = doc != NULL || mg_alloc_failures() == failures;
    if (ok && owner && strcmp(owner, uk->user) == 0)
        ok = mg_json_append(uk->ids, json_string(row->key));
    json_decref(doc);
    if (!ok)
        uk->failed = true; /* a key left out would outlive its user */
    return ok;
}

/* Deletes a user and every access key of it (a key of a deleted user must not come back to life
 * when a user of the same name is created again). */
static enum mg_err s_remove_user(struct mg_state *st, const char *account, const char *name)
{
    struct s_user_keys uk = {name, json_array(), false};
    if (uk.ids == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_store_list(st->store, "access_key", account, s_collect_user_key, &uk);
    if (!e && uk.failed)
        e = MG_E_NOMEM;
    size_t i;
    json_t *id;
    json_array_foreach(uk.ids, i, id)
    {
        if (!e)
            e = mg_store_delete(st->store, "access_key", account, json_string_value(id));
    }
    json_decref(uk.ids);
    if (!e)
        e = mg_store_delete(st->store, "user", account, name);
    if (!e)
        MG_LOG(MG_LOG_WARN, MG_SUB_IAM,
               "identities: removed user %s of account %s (no longer in the identities file)", name,
               account);
    return e;
}

/* Removes one entry of the previous start that this start did not apply. A user or role is
 * removed only while it is the one the file made (same id): one deleted and created again
 * through the API since is left alone. */
static enum mg_err s_remove_entry(struct mg_state *st, const json_t *entry)
{
    const char *kind = json_string_value(json_object_get(entry, "kind"));
    const char *account = json_string_value(json_object_get(entry, "account"));
    const char *key = json_string_value(json_object_get(entry, "key"));
    const char *id = json_string_value(json_object_get(entry, "id"));
    if (kind == NULL || account == NULL || key == NULL)
        return MG_E_OK;
    json_t *doc = s_existing(st, kind, account, key);
    if (doc == NULL)
        return MG_E_OK; /* already gone */
    enum mg_err e = MG_E_OK;
    if (strcmp(kind, "access_key") == 0) {
        e = mg_store_delete(st->store, kind, account, key);
        if (!e)
            MG_LOG(MG_LOG_WARN, MG_SUB_IAM,
                   "identities: removed access key %s of account %s (no longer in the "
                   "identities file)",
                   key, account);
    } else if (strcmp(kind, "user") == 0 || strcmp(kind, "role") == 0) {
        bool role = kind[0] == 'r';
        const char *cur = json_string_value(json_object_get(doc, role ? "RoleId" : "UserId"));
        if (id && cur && strcmp(id, cur) == 0) {
            if (role) {
                e = mg_store_delete(st->store, kind, account, key);
                if (!e)
                    MG_LOG(MG_LOG_WARN, MG_SUB_IAM,
                           "identities: removed role %s of account %s (no longer in the "
                           "identities file); its sessions are denied everything",
                           key, account);
            } else {
                e = s_remove_user(st, account, key);
            }
        }
    }
    json_decref(doc);
    return e == MG_E_NOT_FOUND ? MG_E_OK : e;
}

/* The provenance of the previous start into *out: NULL when none was recorded (a store written
 * before provenance was kept, or a new one). A record that cannot be read is an error, never
 * "none": removals would silently not happen. */
static enum mg_err s_load_provenance(struct mg_state *st, json_t **out)
{
    *out = NULL;
    struct mg_buf b;
    mg_buf_init(&b, MG_STORE_DOC_MAX);
    enum mg_err e = mg_store_meta_get(st->store, S_PROVENANCE_KEY, &b);
    json_t *doc = e == MG_E_OK ? json_loadb((const char *)b.ptr, b.len, 0, NULL) : NULL;
    mg_buf_cleanup(&b);
    if (e == MG_E_NOT_FOUND)
        return MG_E_OK;
    if (e)
        return e;
    json_t *entries = json_incref(json_object_get(doc, "entries"));
    json_decref(doc);
    if (!json_is_array(entries)) {
        json_decref(entries);
        return MG_E_STORE;
    }
    *out = entries;
    return MG_E_OK;
}

/* Removes what an earlier start applied and this one did not. A start with the built-in
 * default (no file) leaves what a file made alone: forgetting --identities must not wipe the
 * users; the next start with the file settles them. A store from before provenance was kept
 * may still hold the default key: a start with a file removes it unless the file lists it. */
static enum mg_err s_prune(struct mg_state *st, struct s_run *run, json_t *previous)
{
    bool from_file = strcmp(run->source, "file") == 0;
    if (previous == NULL && from_file &&
        !s_was_applied(run, "access_key", S_DEFAULT_ACCOUNT, S_DEFAULT_KEY)) {
        json_t *doc = s_existing(st, "access_key", S_DEFAULT_ACCOUNT, S_DEFAULT_KEY);
        const char *secret = json_string_value(json_object_get(doc, "secretAccessKey"));
        bool is_default = secret && strcmp(secret, S_DEFAULT_KEY) == 0 &&
                          json_object_get(doc, "userName") == NULL;
        json_decref(doc);
        if (is_default) {
            json_t *e = json_pack("{s:s, s:s, s:s}", "kind", "access_key", "account",
                                  S_DEFAULT_ACCOUNT, "key", S_DEFAULT_KEY);
            enum mg_err err = e ? s_remove_entry(st, e) : MG_E_NOMEM;
            json_decref(e);
            MG_TRY(err);
        }
    }
    size_t i;
    json_t *entry;
    json_array_foreach(previous, i, entry)
    {
        const char *kind = json_string_value(json_object_get(entry, "kind"));
        const char *account = json_string_value(json_object_get(entry, "account"));
        const char *key = json_string_value(json_object_get(entry, "key"));
        const char *source = json_string_value(json_object_get(entry, "source"));
        if (kind == NULL || account == NULL || key == NULL || source == NULL)
            continue;
        if (s_was_applied(run, kind, account, key))
            continue;
        if (!from_file && strcmp(source, "file") == 0) {
            /* kept, and still the file's to settle */
            char sk[1200];
            s_seen_key(sk, sizeof(sk), kind, account, key);
            if (json_array_append(run->entries, entry) ||
                json_object_set_new(run->seen, sk, json_true()))
                return MG_E_NOMEM;
            continue;
        }
        MG_TRY(s_remove_entry(st, entry));
    }
    return MG_E_OK;
}

static enum mg_err s_save_provenance(struct mg_state *st, const struct s_run *run)
{
    json_t *doc = json_pack("{s:i, s:O}", "version", 1, "entries", run->entries);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_store_meta_put(st->store, S_PROVENANCE_KEY, mg_slice_cstr(text));
    mg_free(text);
    return e;
}

static enum mg_err s_apply_all(struct mg_state *st, struct s_run *run, const json_t *root)
{
    bool loopback_only = strcmp(run->source, "default") == 0;
    enum mg_err e = MG_E_OK;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(root, "accounts"), i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        json_t *old = s_existing(st, "account", id, id);
        if (old == NULL) {
            json_t *doc = json_pack("{s:s, s:s}", "id", id, "createDate", run->now);
            e = s_put_json(st, "account", id, id, doc);
            json_decref(doc);
        }
        json_decref(old);
        if (!e && json_object_get(a, "rootAccessKeys"))
            e = s_apply_keys(st, run, id, json_object_get(a, "rootAccessKeys"), NULL,
                             loopback_only);
        size_t k;
        json_t *u;
        json_array_foreach(json_object_get(a, "users"), k, u)
        {
            if (!e)
                e = s_apply_principal(st, run, id, u, false);
        }
        json_array_foreach(json_object_get(a, "roles"), k, u)
        {
            if (!e)
                e = s_apply_principal(st, run, id, u, true);
        }
        if (e)
            break;
    }
    return e;
}

/* The body of s_apply, inside the caller's write transaction: what root lists is inserted or
 * updated, what an earlier start applied and it no longer lists is removed (see s_prune), and the
 * new provenance is kept. */
static enum mg_err s_apply_tx(struct mg_state *st, struct s_run *run, const json_t *root)
{
    json_t *previous = NULL;
    enum mg_err e = s_load_provenance(st, &previous);
    if (!e)
        e = s_apply_all(st, run, root);
    if (!e)
        e = s_prune(st, run, previous);
    if (!e)
        e = s_save_provenance(st, run);
    json_decref(previous);
    return e;
}

/* Applies root in one transaction (see s_apply_tx). */
static enum mg_err s_apply(struct mg_state *st, const json_t *root, const char *source,
                           struct mg_errinfo *ei)
{
    char now[21];
    mg_time_iso8601(mg_now(), now);
    struct s_run run = {source, json_array(), json_object(), now};
    enum mg_err e = MG_E_NOMEM;
    if (run.entries == NULL || run.seen == NULL)
        goto out;
    if ((e = mg_state_write_begin(st)))
        goto out;
    e = s_apply_tx(st, &run, root);
    if (e) {
        mg_state_write_abort(st);
        goto out;
    }
    e = mg_state_write_commit(st, ei);
    json_decref(run.entries);
    json_decref(run.seen);
    return e;
out:
    json_decref(run.entries);
    json_decref(run.seen);
    return mg_errinfo_set(ei, e, "cannot store the identities: %s", mg_err_str(e));
}

/* Reads, parses and validates an identities file into *out. */
static enum mg_err s_load_file(const char *path, json_t **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: cannot read the identities file", path);
    if ((size_t)sb.st_size > MG_LIMIT_IDENTITIES_FILE)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "%s: larger than %u bytes", path,
                              MG_LIMIT_IDENTITIES_FILE);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_PARSE, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                              jerr.text);
    struct mg_errinfo local = {0};
    enum mg_err e = s_validate(root, &local);
    if (e) {
        json_decref(root);
        return mg_errinfo_set(ei, e, "%s: %s", path, local.msg);
    }
    *out = root;
    return MG_E_OK;
}

static json_t *s_default_root(void)
{
    return json_pack("{s:[{s:s, s:[{s:s, s:s}]}]}", "accounts", "id", S_DEFAULT_ACCOUNT,
                     "rootAccessKeys", "accessKeyId", S_DEFAULT_KEY, "secretAccessKey",
                     S_DEFAULT_KEY);
}

enum mg_err mg_iam_apply_identities(struct mg_state *st, const char *path, struct mg_errinfo *ei)
{
    json_t *root = NULL;
    enum mg_err e = s_load_file(path, &root, ei);
    if (!e)
        e = s_apply(st, root, "file", ei);
    json_decref(root);
    return e;
}

enum mg_err mg_iam_apply_default_identities(struct mg_state *st, struct mg_errinfo *ei)
{
    json_t *root = s_default_root();
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    enum mg_err e = s_apply(st, root, "default", ei);
    json_decref(root);
    return e;
}

/* ---- a store shared by several nodes -------------------------------------------------------- */

/* The meta value naming what the store's identities were applied from:
 * {"sha256": content hash, "source": "file" or "default", "appliedAt": ISO 8601}. */
#define S_CONTENT_KEY "identities.content"
#define S_SHARED_TRIES 8

/* The content hash of a validated identities document: SHA-256 (hex) of its canonical JSON, its
 * object keys sorted, no whitespace, strings in UTF-8 with jansson's escaping, arrays in the file's
 * order. Layout, indentation and the order of fields do not count; any value does. */
static enum mg_err s_content_hash(const json_t *root, char hex[65])
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (text == NULL)
        return MG_E_NOMEM;
    uint8_t d[32];
    unsigned int dl = 0;
    bool ok = EVP_Digest(text, strlen(text), d, &dl, EVP_sha256(), NULL) == 1 && dl == 32;
    mg_memzero(text, strlen(text)); /* it holds secret access keys */
    mg_free(text);
    if (!ok)
        return MG_E_NOMEM;
    mg_hex_encode(d, sizeof(d), hex);
    hex[64] = 0;
    return MG_E_OK;
}

enum mg_err mg_iam_identities_hash(struct mg_slice text, char hex[65], struct mg_errinfo *ei)
{
    hex[0] = 0;
    if (text.len > MG_LIMIT_IDENTITIES_FILE)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "larger than %u bytes", MG_LIMIT_IDENTITIES_FILE);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_PARSE, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    enum mg_err e = s_validate(root, ei);
    if (!e && (e = s_content_hash(root, hex)))
        mg_errinfo_set(ei, e, "out of memory");
    json_decref(root);
    return e;
}

/* The "kind/account/key" names of what a file applies (the provenance's entries of a file). */
static bool s_name_add(json_t *set, const char *kind, const char *account, const char *key)
{
    char sk[1200];
    s_seen_key(sk, sizeof(sk), kind, account, key);
    return mg_json_set(set, sk, json_true());
}

static bool s_keys_names(json_t *set, const char *account, const json_t *arr)
{
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k)
    {
        if (!s_name_add(set, "access_key", account,
                        json_string_value(json_object_get(k, "accessKeyId"))))
            return false;
    }
    return true;
}

static json_t *s_file_names(const json_t *root)
{
    json_t *set = json_object();
    bool ok = set != NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(root, "accounts"), i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        ok = ok && s_keys_names(set, id, json_object_get(a, "rootAccessKeys"));
        size_t k;
        json_t *u;
        json_array_foreach(json_object_get(a, "users"), k, u)
        {
            ok = ok && s_name_add(set, "user", id, json_string_value(json_object_get(u, "name")));
            ok = ok && s_keys_names(set, id, json_object_get(u, "accessKeys"));
        }
        json_array_foreach(json_object_get(a, "roles"), k, u)
        {
            ok = ok && s_name_add(set, "role", id, json_string_value(json_object_get(u, "name")));
        }
    }
    if (!ok) {
        json_decref(set);
        return NULL;
    }
    return set;
}

/* A bounded text that appends (what does not fit is cut). */
struct s_text {
    char *p;
    size_t cap, len;
};

static void s_cat(struct s_text *t, const char *fmt, ...) MG_PRINTF(2, 3);
static void s_cat(struct s_text *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}

/* Appends "it adds 2 users (such as 111122223333/dev2), 1 role (...)" for the names of `in`
 * missing from `out`, by kind. Returns how many there were. */
static size_t s_describe_side(struct s_text *b, const char *verb, const json_t *in,
                              const json_t *out)
{
    static const char *const kinds[] = {"user", "role", "access_key"};
    static const char *const shown[] = {"user", "role", "access key"};
    size_t total = 0;
    bool first = true;
    for (size_t k = 0; k < 3; k++) {
        size_t n = 0, kl = strlen(kinds[k]);
        const char *example = NULL;
        const char *name;
        json_t *v;
        json_object_foreach((json_t *)in, name, v)
        {
            if (strncmp(name, kinds[k], kl) != 0 || name[kl] != '/' || json_object_get(out, name))
                continue;
            if (example == NULL)
                example = name + kl + 1;
            n++;
        }
        if (n == 0)
            continue;
        if (first)
            s_cat(b, "%s%s ", b->len ? "; " : "", verb);
        else
            s_cat(b, ", ");
        s_cat(b, "%zu %s%s (%s%s)", n, shown[k], n == 1 ? "" : "s", n == 1 ? "" : "such as ",
              example);
        first = false;
        total += n;
    }
    return total;
}

/* What differs between the file (root) and what the store's provenance says a file applied. */
static void s_describe(const json_t *root, const json_t *previous, char *out, size_t cap)
{
    json_t *file = s_file_names(root), *stored = json_object();
    struct s_text b = {out, cap, 0};
    out[0] = 0;
    size_t i;
    json_t *entry;
    json_array_foreach((json_t *)previous, i, entry)
    {
        const char *src = json_string_value(json_object_get(entry, "source"));
        const char *kind = json_string_value(json_object_get(entry, "kind"));
        const char *account = json_string_value(json_object_get(entry, "account"));
        const char *key = json_string_value(json_object_get(entry, "key"));
        if (stored && src && kind && account && key && strcmp(src, "file") == 0 &&
            !s_name_add(stored, kind, account, key)) {
            json_decref(stored);
            stored = NULL;
        }
    }
    size_t n = 0;
    if (file && stored) {
        n += s_describe_side(&b, "it adds", file, stored);
        n += s_describe_side(&b, "it lacks", stored, file);
    }
    if (file && stored && n == 0)
        s_cat(&b, "it lists the same users, roles and access keys, with other settings "
                  "(secrets, status, policies, paths, tags or accounts)");
    if (b.len == 0)
        s_cat(&b, "its content differs");
    json_decref(file);
    json_decref(stored);
}

/* The store's content record: *out NULL when there is none. */
static enum mg_err s_content_get(struct mg_state *st, struct mg_buf *raw, json_t **out)
{
    *out = NULL;
    enum mg_err e = mg_store_meta_get(st->store, S_CONTENT_KEY, raw);
    if (e == MG_E_NOT_FOUND)
        return MG_E_OK;
    if (e)
        return e;
    json_t *doc = json_loadb((const char *)raw->ptr, raw->len, 0, NULL);
    if (!json_is_string(json_object_get(doc, "sha256")) ||
        !json_is_string(json_object_get(doc, "source"))) {
        json_decref(doc);
        return MG_E_STORE; /* damaged: never taken for "none" */
    }
    *out = doc;
    return MG_E_OK;
}

/* One attempt in one transaction. MG_E_CONFLICT: another node wrote the content record
 * meanwhile (the caller tries again). */
static enum mg_err s_shared_once(struct mg_state *st, struct mg_iam_identities_start *o,
                                 const json_t *root, const char *hash, bool *raced,
                                 struct mg_errinfo *ei)
{
    *raced = false;
    const char *source = o->path ? "file" : "default";
    char now[21];
    mg_time_iso8601(mg_now(), now);
    struct mg_buf raw;
    mg_buf_init(&raw, 4096);
    json_t *cur = NULL, *rec = NULL, *previous = NULL;
    char *text = NULL;
    struct s_run run = {source, json_array(), json_object(), now};
    bool in_tx = false;
    enum mg_err e = run.entries && run.seen ? mg_state_write_begin(st) : MG_E_NOMEM;
    in_tx = e == MG_E_OK;
    if (!e)
        e = s_content_get(st, &raw, &cur);
    if (e) {
        mg_errinfo_set(ei, e, "cannot read the identities record (meta %s) of the store: %s",
                       S_CONTENT_KEY, mg_err_str(e));
        goto out;
    }
    const char *cur_hash = json_string_value(json_object_get(cur, "sha256"));
    const char *cur_source = json_string_value(json_object_get(cur, "source"));
    bool cur_file = cur && strcmp(cur_source, "file") == 0;
    o->store_has_file = cur_file;
    if (cur && (o->path == NULL || (strcmp(cur_hash, hash) == 0 && cur_file))) {
        /* the same file, or no file and identities in the store: used as they are */
        o->outcome = o->path ? MG_IAM_IDENTITIES_SAME : MG_IAM_IDENTITIES_FROM_STORE;
        goto out;
    }
    if (cur_file && !o->update) {
        char what[200];
        const char *at = json_string_value(json_object_get(cur, "appliedAt"));
        e = s_load_provenance(st, &previous);
        s_describe(root, e ? NULL : previous, what, sizeof(what));
        e = mg_errinfo_set(ei, MG_E_CONFLICT,
                           "%s differs from the identities the shared store holds (applied at "
                           "%s): %s. Start this node with the file the other nodes use, or "
                           "without --identities, or add --identities-update to apply this file "
                           "for every node",
                           o->path, at ? at : "an earlier start", what);
        goto out;
    }
    /* apply: the first node of a new store, a file over the built-in default, or an update */
    rec = json_pack("{s:s, s:s, s:s}", "sha256", hash, "source", source, "appliedAt", now);
    text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (text == NULL) {
        e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        goto out;
    }
    e = cur ? mg_store_meta_swap(st->store, S_CONTENT_KEY, mg_buf_slice(&raw), mg_slice_cstr(text))
            : mg_store_meta_insert(st->store, S_CONTENT_KEY, mg_slice_cstr(text));
    if (e == MG_E_CONFLICT) {
        *raced = true; /* another node got there first: the caller looks again */
        goto out;
    }
    if (!e)
        e = s_apply_tx(st, &run, root);
    if (e) {
        mg_errinfo_set(ei, e, "cannot store the identities: %s", mg_err_str(e));
        goto out;
    }
    in_tx = false;
    e = mg_state_write_commit(st, ei);
    if (!e) {
        o->outcome = MG_IAM_IDENTITIES_APPLIED;
        o->store_has_file = o->path != NULL;
        if (cur_file)
            MG_LOG(MG_LOG_WARN, MG_SUB_IAM,
                   "identities: applied %s to the shared store (--identities-update); it "
                   "replaces the file applied at %s for every node",
                   o->path, json_string_value(json_object_get(cur, "appliedAt")));
    }
out:
    if (in_tx)
        mg_state_write_abort(st);
    json_decref(cur);
    json_decref(rec);
    json_decref(previous);
    json_decref(run.entries);
    json_decref(run.seen);
    mg_free(text);
    mg_buf_cleanup(&raw);
    return e;
}

enum mg_err mg_iam_start_identities(struct mg_state *st, struct mg_iam_identities_start *o,
                                    struct mg_errinfo *ei)
{
    o->outcome = MG_IAM_IDENTITIES_APPLIED;
    o->store_has_file = o->path != NULL;
    if (!o->shared) /* one node: the file (or the default) is applied at every start */
        return o->path ? mg_iam_apply_identities(st, o->path, ei)
                       : mg_iam_apply_default_identities(st, ei);
    json_t *root = NULL;
    enum mg_err e = MG_E_OK;
    if (o->path)
        e = s_load_file(o->path, &root, ei);
    else if ((root = s_default_root()) == NULL)
        e = mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    char hash[65];
    if (!e && (e = s_content_hash(root, hash)))
        mg_errinfo_set(ei, e, "out of memory");
    bool raced = true;
    for (int i = 0; !e && raced; i++) {
        if (i == S_SHARED_TRIES) {
            e = mg_errinfo_set(ei, MG_E_CONFLICT,
                               "the identities of the store kept changing while this node "
                               "started; start it again");
            break;
        }
        e = s_shared_once(st, o, root, hash, &raced, ei);
        if (raced)
            e = MG_E_OK; /* look again */
    }
    json_decref(root);
    return e;
}

enum mg_err mg_iam_check_identities(struct mg_slice text, struct mg_errinfo *ei)
{
    if (text.len > MG_LIMIT_IDENTITIES_FILE)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, "larger than %u bytes", MG_LIMIT_IDENTITIES_FILE);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return mg_errinfo_set(ei, MG_E_PARSE, "%d:%d: %s", jerr.line, jerr.column, jerr.text);
    enum mg_err e = s_validate(root, ei);
    json_decref(root);
    return e;
}
