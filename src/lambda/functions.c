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

/* --- snapshot extension: compiled resource policies ------------------------------------- */

struct s_policies {
    struct mg_map by_arn; /* unqualified function ARN -> struct mg_policy */
};

static int s_slot = -1;

static void s_destroy(void *p)
{
    struct s_policies *x = p;
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->by_arn.cap; i++)
        if (x->by_arn.slots[i].key)
            mg_policy_unref(x->by_arn.slots[i].value);
    mg_map_cleanup(&x->by_arn);
    mg_free(x);
}

static enum mg_err s_build(struct mg_snapshot *snap, void **out, struct mg_errinfo *ei)
{
    (void)ei;
    struct s_policies *x = mg_calloc(1, sizeof(*x));
    if (x == NULL)
        return MG_E_NOMEM;
    mg_map_init(&x->by_arn);
    size_t n = 0, pos = 0;
    const struct mg_snapshot_doc *d;
    while ((d = mg_snapshot_next_run(snap, "function", &pos, &n)))
        for (size_t i = 0; i < n; i++) {
            const char *text = json_string_value(json_object_get(d[i].doc, "Policy"));
            const char *arn = json_string_value(json_object_get(d[i].doc, "FunctionArn"));
            if (text == NULL || arn == NULL)
                continue;
            struct mg_policy_parse_opts o = {MG_POLICY_KIND_RESOURCE, MG_POLICY_LIMIT_RAW, arn};
            struct mg_policy *p = NULL;
            struct mg_errinfo pe = {0};
            if (mg_policy_parse(mg_slice_cstr(text), &o, &p, &pe) != MG_E_OK) {
                MG_LOG(MG_LOG_WARN, MG_SUB_LAMBDA,
                       "function %s: stored policy does not compile: %s", arn, pe.msg);
                continue;
            }
            if (mg_map_put(&x->by_arn, mg_slice_cstr(arn), p) != MG_E_OK) {
                mg_policy_unref(p);
                s_destroy(x);
                return MG_E_NOMEM;
            }
        }
    *out = x;
    return MG_E_OK;
}

void mg_lambda_init(void)
{
    static const char *const kinds[] = {"function", NULL};
    static const struct mg_snapshot_ext ext = {"lambda.policies", s_build, s_destroy, kinds, NULL};
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
    return mg_map_get(&x->by_arn, a);
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
