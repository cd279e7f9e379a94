/* Functions: runtimes, code locations, and the snapshot extension that compiles each function's
 * resource-based policy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "lambda/internal.h"
#include "state/pmap.h"

/* --- snapshot extension: compiled resource policies ------------------------------------- */

/* One function's compiled policy, held by both maps. */
struct s_fpol {
    atomic_long refs;
    char *arn; /* unqualified function ARN */
    char *row; /* "ACCOUNT \x1f NAME", the function's row in the store */
    struct mg_policy *p;
};

struct s_policies {
    struct mg_pmap by_arn; /* unqualified function ARN -> struct s_fpol */
    struct mg_pmap by_row; /* row -> struct s_fpol (to find the ARN when the row changes) */
};

static int s_slot = -1;

static void s_fpol_unref(void *v)
{
    struct s_fpol *f = v;
    if (f == NULL || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    mg_policy_unref(f->p);
    mg_free(f->arn);
    mg_free(f->row);
    mg_free(f);
}

static void s_fpol_ref(void *v)
{
    atomic_fetch_add(&((struct s_fpol *)v)->refs, 1);
}

static const struct mg_pmap_ops s_fpol_ops = {s_fpol_ref, s_fpol_unref};

static void s_destroy(void *p)
{
    struct s_policies *x = p;
    if (x == NULL)
        return;
    mg_pmap_cleanup(&x->by_arn);
    mg_pmap_cleanup(&x->by_row);
    mg_free(x);
}

static int s_row_key(char *key, size_t cap, const char *account, const char *name)
{
    int n = snprintf(key, cap, "%s\x1f%s", account, name);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Sets the entries of the function stored at (account, name) from d (NULL: removes them). */
static enum mg_err s_set(struct s_policies *x, const char *account, const char *name,
                         const struct mg_snapshot_doc *d)
{
    char row[256];
    int rl = s_row_key(row, sizeof(row), account, name);
    if (rl < 0)
        return MG_E_OK; /* no function has such a name */
    const struct s_fpol *old = mg_pmap_get(&x->by_row, mg_slice_make(row, (size_t)rl));
    if (old) {
        MG_TRY(mg_pmap_set(&x->by_arn, mg_slice_cstr(old->arn), NULL));
        MG_TRY(mg_pmap_set(&x->by_row, mg_slice_make(row, (size_t)rl), NULL));
    }
    const char *text = d ? json_string_value(json_object_get(d->doc, "Policy")) : NULL;
    const char *arn = d ? json_string_value(json_object_get(d->doc, "FunctionArn")) : NULL;
    if (text == NULL || arn == NULL)
        return MG_E_OK;
    struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RAW, arn};
    struct mg_policy *p = NULL;
    struct mg_errinfo pe = {0};
    if (mg_policy_parse(mg_slice_cstr(text), &o, &p, &pe) != MG_E_OK) {
        MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA, "function %s: stored policy does not compile: %s", arn,
               pe.msg);
        return MG_E_OK;
    }
    struct s_fpol *f = mg_calloc(1, sizeof(*f));
    if (f == NULL) {
        mg_policy_unref(p);
        return MG_E_NOMEM;
    }
    atomic_init(&f->refs, 1);
    f->p = p;
    f->arn = mg_strdup(arn);
    f->row = mg_strdup(row);
    enum mg_err e = f->arn && f->row ? MG_E_OK : MG_E_NOMEM;
    if (!e)
        e = mg_pmap_set(&x->by_arn, mg_slice_cstr(f->arn), f);
    if (!e) {
        s_fpol_ref(f);
        e = mg_pmap_set(&x->by_row, mg_slice_make(f->row, (size_t)rl), f);
        if (e)
            s_fpol_unref(f);
        return e;
    }
    s_fpol_unref(f);
    return e;
}

static struct s_policies *s_new(const struct s_policies *prev)
{
    struct s_policies *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    if (prev) {
        mg_pmap_share(&x->by_arn, &prev->by_arn);
        mg_pmap_share(&x->by_row, &prev->by_row);
    } else {
        mg_pmap_init(&x->by_arn, &s_fpol_ops);
        mg_pmap_init(&x->by_row, &s_fpol_ops);
    }
    return x;
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_policies *x = s_new(NULL);
    if (x == NULL)
        return MG_E_NOMEM;
    enum mg_err e = MG_E_OK;
    size_t n = 0, pos = 0;
    const struct mg_snapshot_doc *d;
    while (!e && (d = mg_snapshot_next_run(snap, "function", &pos, &n)))
        for (size_t i = 0; i < n && !e; i++)
            e = s_set(x, d[i].account, d[i].key, &d[i]);
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

/* Only the changed functions' policies are compiled again; the rest are shared. */
static enum mg_err s_apply(const void *prev, struct mg_snapshot *snap,
                           const struct mg_snapshot_change *c, size_t nc, void **out,
                           struct mg_errinfo *ei)
{
    (void)ei;
    *out = NULL;
    struct s_policies *x = s_new(prev);
    if (x == NULL)
        return MG_E_NOMEM;
    enum mg_err e = MG_E_OK;
    for (size_t i = 0; i < nc && !e; i++)
        if (strcmp(c[i].kind, "function") == 0)
            e = s_set(x, c[i].account, c[i].key,
                      mg_snapshot_get(snap, c[i].kind, c[i].account, c[i].key));
    if (e) {
        s_destroy(x);
        return e;
    }
    *out = x;
    return MG_E_OK;
}

void mg_lambda_register_docs(void)
{
    /* read by writers and the code cache with mg_store_get, never through a snapshot */
    mg_snapshot_register_store_only(MG_LAMBDA_CODE_KIND);
}

void mg_lambda_init(void)
{
    static const char *const kinds[] = {"function", NULL};
    static const struct mg_snapshot_ext ext = {"lambda.policies", s_build, s_destroy, kinds,
                                               s_apply};
    s_slot = mg_snapshot_register_ext(&ext);
}

const struct mg_policy *mg_lambda_function_policy(const struct mg_snapshot *snap,
                                                  const char *function_arn)
{
    if (s_slot < 0 || snap == NULL || function_arn == NULL)
        return NULL;
    const struct s_policies *x = snap->ext[s_slot];
    if (x == NULL)
        return NULL;
    struct mg_slice a = mg_slice_cstr(function_arn);
    static const char latest[] = ":$LATEST";
    if (a.len > sizeof(latest) - 1 &&
        mg_slice_eq_cstr(mg_slice_sub(a, a.len - (sizeof(latest) - 1), sizeof(latest) - 1), latest))
        a.len -= sizeof(latest) - 1;
    const struct s_fpol *f = mg_pmap_get(&x->by_arn, a);
    return f ? f->p : NULL;
}

const json_t *mg_lambda_function_doc(const struct mg_snapshot *snap, const char *function,
                                     const char *account)
{
    struct mg_lambda_name n;
    if (snap == NULL || !mg_lambda_parse_name(function, &n))
        return NULL;
    const char *acct = n.account[0] ? n.account : account;
    if (acct == NULL)
        return NULL;
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "function", acct, n.name);
    return d ? d->doc : NULL;
}
