/* src/policy/lint.c: what a compiled policy says of itself: kind, label, statements, and the
 * warnings of `mcpgate policy validate` (valid policies that grant more than they seem to). */
#include <stdio.h>

#include "policy/policy_internal.h"

enum mg_policy_kind mg_policy_kind_of(const struct mg_policy *p)
{
    return p->kind;
}

const char *mg_policy_label(const struct mg_policy *p)
{
    return p && p->label ? p->label : "policy";
}

size_t mg_policy_statement_count(const struct mg_policy *p)
{
    return p->n_stmts;
}

const char *mg_policy_statement_sid(const struct mg_policy *p, size_t i)
{
    return i < p->n_stmts && p->stmts[i].sid && p->stmts[i].sid[0] ? p->stmts[i].sid : NULL;
}

void mg_policy_statement_name(const struct mg_policy *p, size_t i, char *out, size_t cap)
{
    const char *sid = mg_policy_statement_sid(p, i);
    if (sid)
        snprintf(out, cap, "%s", sid);
    else
        snprintf(out, cap, "#%zu", i);
}

void mg_policy_lint(const struct mg_policy *p, mg_policy_warn_fn fn, void *user)
{
    char name[80], msg[256];
    for (size_t i = 0; i < p->n_stmts; i++) {
        const struct mg_policy_stmt *st = &p->stmts[i];
        mg_policy_statement_name(p, i, name, sizeof(name));
        if (!st->deny && st->not_action) {
            snprintf(msg, sizeof(msg),
                     "statement %s: Allow with NotAction allows every other "
                     "action, including those of services added later",
                     name);
            fn(user, msg);
        }
        if (!st->deny && st->not_resource) {
            snprintf(msg, sizeof(msg),
                     "statement %s: Allow with NotResource allows every other "
                     "resource",
                     name);
            fn(user, msg);
        }
        if (!st->deny && st->not_principal) {
            snprintf(msg, sizeof(msg),
                     "statement %s: Allow with NotPrincipal grants to everyone "
                     "not listed, including anonymous callers",
                     name);
            fn(user, msg);
        }
        if (!st->deny && st->has_principal && !st->not_principal && st->n_conds == 0) {
            for (size_t k = 0; k < st->n_principals; k++) {
                if (st->principals[k].kind == MG_PK_STAR) {
                    snprintf(msg, sizeof(msg),
                             "statement %s: Allow to principal \"*\" without "
                             "a Condition grants access to anyone",
                             name);
                    fn(user, msg);
                    break;
                }
            }
        }
        if (!p->v2012) {
            bool vars = false;
            for (size_t k = 0; k < st->n_resources; k++)
                vars = vars || mg_policy_has_var(st->resources[k].s, st->resources[k].len);
            if (vars) {
                snprintf(msg, sizeof(msg),
                         "statement %s: ${...} is literal text without "
                         "\"Version\": \"2012-10-17\"",
                         name);
                fn(user, msg);
            }
        }
    }
}
