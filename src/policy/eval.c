/* src/policy/eval.c: AWS's evaluation logic over identity, boundary, session and resource
 * policies. Allocates nothing. */
#include <strings.h>

#include "policy/policy_internal.h"

const struct mg_policy_ctx_entry *mg_policy_ctx_find(const struct mg_policy_request *req,
                                                     struct mg_slice key)
{
    for (size_t i = 0; i < req->n_context; i++) {
        const struct mg_policy_ctx_entry *e = &req->context[i];
        if (e->key.len == key.len &&
            strncasecmp((const char *)e->key.ptr, (const char *)key.ptr, key.len) == 0)
            return e;
    }
    return NULL;
}

static inline uint8_t s_lc(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static bool s_action_match(const struct mg_policy_stmt *st, struct mg_slice action)
{
    bool any = false;
    for (uint32_t i = 0; i < st->n_actions && !any; i++) {
        const struct mg_policy_pat *a = &st->actions[i];
        if (a->flags & MG_PAT_STAR) {
            any = true;
        } else if (a->flags & MG_PAT_WILD) {
            any = mg_policy_glob(a->s, a->len, action.ptr, action.len, true);
        } else if (a->len == action.len) {
            size_t k = 0;
            while (k < a->len && (uint8_t)a->s[k] == s_lc(action.ptr[k]))
                k++;
            any = k == a->len;
        }
    }
    return st->not_action ? !any : any;
}

static bool s_resource_match(const struct mg_policy_stmt *st, const struct mg_policy_request *req,
                             bool *overflow)
{
    if (!st->has_resource)
        return true;
    bool any = false;
    for (uint32_t i = 0; i < st->n_resources && !any; i++) {
        const struct mg_policy_pat *r = &st->resources[i];
        if (r->flags & MG_PAT_STAR) {
            any = true;
        } else if (r->flags & MG_PAT_VARS) {
            char buf[MG_POLICY_EXPAND_MAX];
            long n = mg_policy_expand(r, req, true, buf, sizeof(buf));
            if (n == -2)
                *overflow = true;
            if (n >= 0)
                any = mg_policy_arn_match(buf, (size_t)n, req->resource);
        } else if (r->flags & MG_PAT_WILD) {
            any = mg_policy_arn_match(r->s, r->len, req->resource);
        } else {
            any = mg_slice_eq(mg_slice_make(r->s, r->len), req->resource);
        }
    }
    return st->not_resource ? !any : any;
}

/* Strength of a resource-policy grant (B.2): which principal form the statement named. */
enum s_grant { S_G_NONE = 0, S_G_ACCOUNT, S_G_ROLE, S_G_DIRECT };

static enum s_grant s_principal_one(const struct mg_policy_principal *pr,
                                    const struct mg_policy_request *req)
{
    bool aws = req->principal_type != MG_POLICY_PRINCIPAL_ANONYMOUS &&
               req->principal_type != MG_POLICY_PRINCIPAL_SERVICE;
    switch (pr->kind) {
    case MG_PK_STAR: return S_G_DIRECT;
    case MG_PK_ACCOUNT:
        return aws && mg_slice_eq(pr->account, req->principal_account) ? S_G_ACCOUNT : S_G_NONE;
    case MG_PK_USER:
        return req->principal_type == MG_POLICY_PRINCIPAL_USER &&
                       mg_slice_eq(pr->value, req->principal_arn)
                   ? S_G_DIRECT
                   : S_G_NONE;
    case MG_PK_ROLE:
        if (req->principal_type == MG_POLICY_PRINCIPAL_ASSUMED_ROLE &&
            mg_slice_eq(pr->value, req->role_arn))
            return S_G_ROLE;
        return S_G_NONE;
    case MG_PK_SESSION:
    case MG_PK_FEDUSER:
        return aws && mg_slice_eq(pr->value, req->principal_arn) ? S_G_DIRECT : S_G_NONE;
    case MG_PK_UNIQUE_ID:
        if (!aws || !mg_slice_eq(pr->value, req->unique_id))
            return S_G_NONE;
        return req->principal_type == MG_POLICY_PRINCIPAL_ASSUMED_ROLE ? S_G_ROLE : S_G_DIRECT;
    case MG_PK_SERVICE:
        return req->principal_type == MG_POLICY_PRINCIPAL_SERVICE &&
                       mg_slice_eq(pr->value, req->service)
                   ? S_G_DIRECT
                   : S_G_NONE;
    case MG_PK_FEDERATED:
        return req->federated_provider.len && mg_slice_eq(pr->value, req->federated_provider)
                   ? S_G_DIRECT
                   : S_G_NONE;
    case MG_PK_CANONICAL: return S_G_NONE;
    }
    return S_G_NONE;
}

static enum s_grant s_principal_match(const struct mg_policy_stmt *st,
                                      const struct mg_policy_request *req)
{
    if (!st->has_principal)
        return S_G_DIRECT;
    enum s_grant best = S_G_NONE;
    for (uint32_t i = 0; i < st->n_principals; i++) {
        enum s_grant g = s_principal_one(&st->principals[i], req);
        if (g > best)
            best = g;
    }
    if (st->not_principal) /* excluded if any entry names the caller; never a direct grant */
        return best == S_G_NONE ? S_G_ACCOUNT : S_G_NONE;
    return best;
}

struct s_side {
    bool allow;
    enum s_grant grant;
    bool deny;
    struct mg_policy_hit deny_hit;
};

static void s_hit(struct mg_policy_explain *ex, enum mg_policy_source src,
                  const struct mg_policy *p, uint32_t i, bool allow)
{
    if (!ex)
        return;
    if (ex->n_hits >= MG_POLICY_EXPLAIN_HITS) {
        ex->hits_truncated = true;
        return;
    }
    ex->hits[ex->n_hits++] = (struct mg_policy_hit){src, p, i, allow};
}

static void s_scan(const struct mg_policy *p, enum mg_policy_source src,
                   const struct mg_policy_request *req, struct s_side *side,
                   struct mg_policy_explain *ex)
{
    for (uint32_t i = 0; i < p->n_stmts; i++) {
        const struct mg_policy_stmt *st = &p->stmts[i];
        /* an allow that cannot improve this side's result is still recorded for explanation,
         * so no shortcut here beyond the cheap checks */
        if (!s_action_match(st, req->action))
            continue;
        bool overflow = false;
        bool m = s_resource_match(st, req, &overflow);
        enum s_grant g = S_G_DIRECT;
        if (m && st->has_principal) {
            g = s_principal_match(st, req);
            m = g != S_G_NONE;
        }
        for (uint32_t k = 0; m && k < st->n_conds; k++)
            m = mg_policy_cond_eval(p, &st->conds[k], req, &overflow);
        if (overflow) /* a template did not fit the stack budget: fail closed */
            m = st->deny;
        if (!m)
            continue;
        s_hit(ex, src, p, i, !st->deny);
        if (st->deny) {
            if (!side->deny) {
                side->deny = true;
                side->deny_hit = (struct mg_policy_hit){src, p, i, false};
            }
        } else {
            side->allow = true;
            if (g > side->grant)
                side->grant = g;
        }
    }
}

static void s_scan_all(const struct mg_policy *const *ps, size_t n, enum mg_policy_source src,
                       const struct mg_policy_request *req, struct s_side *side,
                       struct mg_policy_explain *ex, bool *present)
{
    for (size_t i = 0; i < n; i++) {
        if (!ps[i])
            continue;
        *present = true;
        s_scan(ps[i], src, req, side, ex);
    }
}

static enum mg_policy_decision s_finish(struct mg_policy_explain *ex, enum mg_policy_decision d,
                                        enum mg_policy_reason r, enum mg_policy_grant g)
{
    if (ex) {
        ex->decision = d;
        ex->reason = r;
        ex->grant = g;
    }
    return d;
}

enum mg_policy_decision mg_policy_evaluate(const struct mg_policy_set *set,
                                           const struct mg_policy_request *req,
                                           struct mg_policy_explain *ex)
{
    if (ex)
        mg_memzero(ex, sizeof(*ex));
    struct s_side id = {0}, bd = {0}, se = {0}, rs = {0};
    bool has_id = false, has_bd = false, has_se = false, has_rs = false;
    s_scan_all(set->identity, set->n_identity, MG_POLICY_SRC_IDENTITY, req, &id, ex, &has_id);
    if (set->resource)
        s_scan_all(&set->resource, 1, MG_POLICY_SRC_RESOURCE, req, &rs, ex, &has_rs);
    s_scan_all(set->boundary, set->n_boundary, MG_POLICY_SRC_BOUNDARY, req, &bd, ex, &has_bd);
    s_scan_all(set->session, set->n_session, MG_POLICY_SRC_SESSION, req, &se, ex, &has_se);

    bool anon = req->principal_type == MG_POLICY_PRINCIPAL_ANONYMOUS ||
                req->principal_type == MG_POLICY_PRINCIPAL_SERVICE;
    bool same = !anon && (req->resource_account.len == 0 ||
                          mg_slice_eq(req->resource_account, req->principal_account));
    bool trust = set->resource && set->resource->kind == MG_POLICY_KIND_TRUST;
    if (ex) {
        ex->cross_account = !same;
        ex->identity_allows = id.allow;
        ex->resource_allows = rs.allow;
        ex->boundary_allows = bd.allow;
        ex->session_allows = se.allow;
        ex->has_boundary = has_bd;
        ex->has_session = has_se;
        ex->has_resource_policy = has_rs;
    }

    /* 1. an explicit deny anywhere wins */
    const struct s_side *sides[] = {&id, &rs, &bd, &se};
    for (size_t i = 0; i < 4; i++) {
        if (sides[i]->deny) {
            if (ex)
                ex->deny = sides[i]->deny_hit;
            return s_finish(ex, MG_POLICY_EXPLICIT_DENY, MG_POLICY_REASON_EXPLICIT_DENY,
                            MG_POLICY_GRANT_NONE);
        }
    }
    /* 2. the account root: everything in its own account; across accounts its identity side
     * is implicitly full, so only the resource side is needed */
    if (req->is_root && !anon) {
        if (same)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_ROOT);
        if (rs.grant != S_G_NONE)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_BOTH);
        return s_finish(ex, MG_POLICY_IMPLICIT_DENY, MG_POLICY_REASON_NO_RESOURCE_ALLOW,
                        MG_POLICY_GRANT_NONE);
    }

    /* 3. anonymous callers and service principals have no identity policies */
    if (anon) {
        if (rs.allow)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_RESOURCE);
        return s_finish(ex, MG_POLICY_IMPLICIT_DENY, MG_POLICY_REASON_NO_RESOURCE_ALLOW,
                        MG_POLICY_GRANT_NONE);
    }

    bool bd_ok = !has_bd || bd.allow, se_ok = !has_se || se.allow;
    bool id_ok = id.allow && bd_ok && se_ok;
    enum mg_policy_reason why = !id.allow ? MG_POLICY_REASON_NO_IDENTITY_ALLOW
                                : !bd_ok  ? MG_POLICY_REASON_NO_BOUNDARY_ALLOW
                                : !se_ok  ? MG_POLICY_REASON_NO_SESSION_ALLOW
                                          : MG_POLICY_REASON_NO_RESOURCE_ALLOW;

    /* 4. same account: an allow on either side suffices, with B.2's nuances */
    if (same) {
        if (rs.grant == S_G_DIRECT)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_RESOURCE);
        if (rs.grant == S_G_ROLE && bd_ok && se_ok)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_RESOURCE);
        if (trust && rs.grant == S_G_NONE) /* trust policies must name the caller */
            return s_finish(ex, MG_POLICY_IMPLICIT_DENY, MG_POLICY_REASON_NO_RESOURCE_ALLOW,
                            MG_POLICY_GRANT_NONE);
        if (id_ok)
            return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_IDENTITY);
        if (rs.grant == S_G_ROLE)
            why = !bd_ok ? MG_POLICY_REASON_NO_BOUNDARY_ALLOW : MG_POLICY_REASON_NO_SESSION_ALLOW;
        return s_finish(ex, MG_POLICY_IMPLICIT_DENY, why, MG_POLICY_GRANT_NONE);
    }

    /* 5. cross account: both sides must allow */
    if (id_ok && rs.grant != S_G_NONE)
        return s_finish(ex, MG_POLICY_ALLOW, MG_POLICY_REASON_NONE, MG_POLICY_GRANT_BOTH);
    return s_finish(ex, MG_POLICY_IMPLICIT_DENY, why, MG_POLICY_GRANT_NONE);
}
