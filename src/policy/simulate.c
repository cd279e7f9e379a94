/* src/policy/simulate.c: one JSON simulate case -> decision and explanation (no I/O). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/json.h"
#include "policy/policy_internal.h"

#define S_MAX_POLICIES 32
#define S_MAX_KEYS 96
#define S_MAX_VALUES 512
#define S_POOL 8192

struct s_sim {
    json_t *root;
    struct mg_policy *identity[S_MAX_POLICIES];
    size_t n_identity;
    struct mg_policy *boundary[S_MAX_POLICIES];
    size_t n_boundary;
    struct mg_policy *session[S_MAX_POLICIES];
    size_t n_session;
    struct mg_policy *resource;
    struct mg_policy_ctx_entry ctx[S_MAX_KEYS];
    struct mg_slice values[S_MAX_VALUES];
    size_t n_values;
    char pool[S_POOL];
    size_t pool_used;
    struct mg_policy_request req;
};

static struct mg_slice s_pool_put(struct s_sim *s, const char *p, size_t n)
{
    if (s->pool_used + n > S_POOL)
        return (struct mg_slice){0};
    char *d = s->pool + s->pool_used;
    mg_memcpy(d, p, n);
    s->pool_used += n;
    return mg_slice_make(d, n);
}

static struct mg_slice s_pool_printf(struct s_sim *s, const char *fmt, ...) MG_PRINTF(2, 3);
static struct mg_slice s_pool_printf(struct s_sim *s, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return (struct mg_slice){0};
    return s_pool_put(s, tmp, (size_t)n);
}

static enum mg_err s_load_policy(json_t *v, enum mg_policy_kind kind, const char *label,
                                 struct mg_policy **out, struct mg_errinfo *ei)
{
    struct mg_errinfo pe = {0};
    struct mg_policy_parse_opts o = {.kind = kind,
                                     .label = label,
                                     .max_chars = MG_POLICY_LIMIT_RAW};
    enum mg_err err;
    if (json_is_string(v)) {
        err = mg_policy_parse(mg_slice_make(json_string_value(v), json_string_length(v)), &o, out,
                              &pe);
    } else if (json_is_object(v)) {
        size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT);
        char *buf = need ? mg_malloc(need) : NULL;
        if (!buf)
            return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
        if (json_dumpb(v, buf, need, JSON_COMPACT) != need) {
            mg_free(buf);
            return mg_errinfo_set(ei, MG_E_INTERNAL, "%s: could not print the policy", label);
        }
        err = mg_policy_parse(mg_slice_make(buf, need), &o, out, &pe);
        mg_free(buf);
    } else {
        return mg_errinfo_set(ei, MG_E_INVALID, "%s: a policy must be an object or a string",
                              label);
    }
    if (err != MG_E_OK)
        return mg_errinfo_set(ei, err, "%s: MalformedPolicyDocument: %s", label, pe.msg);
    return MG_E_OK;
}

static enum mg_err s_load_list(json_t *v, enum mg_policy_kind kind, const char *name,
                               struct mg_policy **arr, size_t *n, struct mg_errinfo *ei)
{
    if (!v || json_is_null(v))
        return MG_E_OK;
    char label[64];
    if (!json_is_array(v)) {
        if (*n >= S_MAX_POLICIES)
            return mg_errinfo_set(ei, MG_E_INVALID, "too many policies");
        snprintf(label, sizeof(label), "%s", name);
        MG_TRY(s_load_policy(v, kind, label, &arr[*n], ei));
        (*n)++;
        return MG_E_OK;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (*n >= S_MAX_POLICIES)
            return mg_errinfo_set(ei, MG_E_INVALID, "too many policies");
        json_t *e = json_array_get(v, i);
        if (json_is_null(e))
            continue;
        snprintf(label, sizeof(label), "%s[%zu]", name, i);
        MG_TRY(s_load_policy(e, kind, label, &arr[*n], ei));
        (*n)++;
    }
    return MG_E_OK;
}

static bool s_json_text(struct s_sim *s, json_t *v, struct mg_slice *out)
{
    if (json_is_string(v)) {
        *out = mg_slice_make(json_string_value(v), json_string_length(v));
        return true;
    }
    if (json_is_integer(v))
        *out = s_pool_printf(s, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        *out = s_pool_printf(s, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        *out = s_pool_printf(s, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    return out->ptr != NULL;
}

static enum mg_err s_add_key(struct s_sim *s, struct mg_slice key, struct mg_slice value,
                             struct mg_errinfo *ei)
{
    if (value.ptr == NULL || mg_policy_ctx_find(&s->req, key))
        return MG_E_OK; /* the case set it already */
    if (s->req.n_context >= S_MAX_KEYS)
        return mg_errinfo_set(ei, MG_E_INVALID, "too many context keys");
    s->ctx[s->req.n_context++] = (struct mg_policy_ctx_entry){.key = key, .value = value};
    return MG_E_OK;
}

static enum mg_err s_context(struct s_sim *s, json_t *ctx, struct mg_errinfo *ei)
{
    if (!ctx || json_is_null(ctx))
        return MG_E_OK;
    if (!json_is_object(ctx))
        return mg_errinfo_set(ei, MG_E_INVALID, "request.context must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(ctx, k, v)
    {
        if (s->req.n_context >= S_MAX_KEYS)
            return mg_errinfo_set(ei, MG_E_INVALID, "too many context keys");
        struct mg_policy_ctx_entry *e = &s->ctx[s->req.n_context++];
        e->key = mg_slice_cstr(k);
        if (json_is_array(v)) {
            size_t n = json_array_size(v);
            if (s->n_values + n > S_MAX_VALUES)
                return mg_errinfo_set(ei, MG_E_INVALID, "too many context values");
            e->values = &s->values[s->n_values];
            e->n_values = n;
            for (size_t i = 0; i < n; i++)
                if (!s_json_text(s, json_array_get(v, i), &s->values[s->n_values++]))
                    return mg_errinfo_set(ei, MG_E_INVALID, "context key %s: bad value", k);
        } else if (!s_json_text(s, v, &e->value)) {
            return mg_errinfo_set(ei, MG_E_INVALID, "context key %s: bad value", k);
        }
    }
    return MG_E_OK;
}

/* Field k (0..5) of an ARN; empty when it has fewer fields. */
static struct mg_slice s_arn_field(struct mg_slice arn, int k)
{
    struct mg_slice rest = arn, f = {0};
    if (!mg_slice_starts_with(arn, "arn:"))
        return (struct mg_slice){0};
    for (int i = 0; i <= k; i++) {
        if (i == 5) {
            f = rest;
            break;
        }
        if (!mg_slice_split(&rest, ':', &f))
            return (struct mg_slice){0};
    }
    return f;
}

static const char *s_get_str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* The role ARN of a role session. The session ARN (arn:aws:sts::A:assumed-role/NAME/SESSION)
 * omits the role's path, which aws:PrincipalArn keeps, as on AWS: a case that sets
 * aws:PrincipalArn gives the role's ARN with its path; without it the role is assumed to have
 * the path "/" (arn:aws:iam::A:role/NAME). */
static enum mg_err s_session_role(struct s_sim *s, struct mg_slice arn, struct mg_slice acct,
                                  struct mg_slice role, struct mg_errinfo *ei)
{
    struct mg_policy_request *r = &s->req;
    const struct mg_policy_ctx_entry *pa = mg_policy_ctx_find(r, MG_SLICE_LIT("aws:PrincipalArn"));
    if (pa == NULL) {
        r->role_arn = s_pool_printf(s,
                                    "arn:" MG_SLICE_FMT ":iam::" MG_SLICE_FMT ":role/" MG_SLICE_FMT,
                                    MG_SLICE_ARG(s_arn_field(arn, 1)), MG_SLICE_ARG(acct),
                                    MG_SLICE_ARG(role));
        return MG_E_OK;
    }
    /* it must be this session's role: same account, a role ARN ending in /NAME */
    struct mg_slice v = pa->n_values == 0 ? pa->value : (struct mg_slice){0};
    struct mg_slice vres = s_arn_field(v, 5);
    bool ok = mg_slice_eq_cstr(s_arn_field(v, 2), "iam") && mg_slice_eq(s_arn_field(v, 4), acct) &&
              mg_slice_starts_with(vres, "role/") && vres.len > role.len &&
              vres.ptr[vres.len - role.len - 1] == '/' &&
              mg_slice_eq(mg_slice_sub(vres, vres.len - role.len, vres.len), role);
    if (!ok)
        return mg_errinfo_set(ei, MG_E_INVALID,
                              "request.context aws:PrincipalArn must be the ARN of the session's "
                              "role (arn:aws:iam::" MG_SLICE_FMT ":role/PATH/" MG_SLICE_FMT ")",
                              MG_SLICE_ARG(acct), MG_SLICE_ARG(role));
    r->role_arn = v;
    return MG_E_OK;
}

static enum mg_err s_principal(struct s_sim *s, json_t *rq, struct mg_errinfo *ei)
{
    struct mg_policy_request *r = &s->req;
    const char *p = s_get_str(rq, "principal");
    struct mg_slice arn = p ? mg_slice_cstr(p) : (struct mg_slice){0};
    struct mg_slice acct = s_arn_field(arn, 4), res = s_arn_field(arn, 5),
                    svc = s_arn_field(arn, 2);
    r->principal_arn = arn;
    struct mg_slice principal_arn_key = arn, username = {0}, type = {0}, userid = {0};
    const char *uid = s_get_str(rq, "uniqueId");
    if (uid)
        r->unique_id = mg_slice_cstr(uid);
    if (arn.len == 0 || mg_slice_eq_cstr(arn, "anonymous") || mg_slice_eq_cstr(arn, "*")) {
        r->principal_type = MG_POLICY_PRINCIPAL_ANONYMOUS;
        r->principal_arn = (struct mg_slice){0};
        principal_arn_key = (struct mg_slice){0};
        type = MG_SLICE_LIT("Anonymous");
        userid = MG_SLICE_LIT("anonymous");
    } else if (!mg_slice_starts_with(arn, "arn:")) {
        r->principal_type = MG_POLICY_PRINCIPAL_SERVICE;
        r->service = arn;
        principal_arn_key = (struct mg_slice){0};
        type = MG_SLICE_LIT("AWSService");
    } else if (mg_slice_eq_cstr(svc, "iam") && mg_slice_eq_cstr(res, "root")) {
        r->principal_type = MG_POLICY_PRINCIPAL_ACCOUNT;
        r->is_root = true;
        type = MG_SLICE_LIT("Account");
        userid = acct;
    } else if (mg_slice_eq_cstr(svc, "iam") && mg_slice_starts_with(res, "user/")) {
        r->principal_type = MG_POLICY_PRINCIPAL_USER;
        type = MG_SLICE_LIT("User");
        username = res;
        long slash;
        while ((slash = mg_slice_find(username, '/')) >= 0)
            username = mg_slice_sub(username, (size_t)slash + 1, username.len - (size_t)slash - 1);
        userid = r->unique_id;
    } else if (mg_slice_eq_cstr(svc, "sts") && mg_slice_starts_with(res, "assumed-role/")) {
        r->principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE;
        type = MG_SLICE_LIT("AssumedRole");
        struct mg_slice rest = mg_slice_sub(res, 13, res.len - 13), role;
        mg_slice_split(&rest, '/', &role);
        MG_TRY(s_session_role(s, arn, acct, role, ei));
        if (r->unique_id.len)
            userid = s_pool_printf(s, MG_SLICE_FMT ":" MG_SLICE_FMT, MG_SLICE_ARG(r->unique_id),
                                   MG_SLICE_ARG(rest));
    } else if (mg_slice_eq_cstr(svc, "iam") && mg_slice_starts_with(res, "role/")) {
        r->principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE;
        type = MG_SLICE_LIT("AssumedRole");
        r->role_arn = arn;
    } else if (mg_slice_eq_cstr(svc, "sts") && mg_slice_starts_with(res, "federated-user/")) {
        r->principal_type = MG_POLICY_PRINCIPAL_FEDERATED_USER;
        type = MG_SLICE_LIT("FederatedUser");
        userid = s_pool_printf(s, MG_SLICE_FMT ":" MG_SLICE_FMT, MG_SLICE_ARG(acct),
                               MG_SLICE_ARG(mg_slice_sub(res, 15, res.len - 15)));
    } else {
        return mg_errinfo_set(ei, MG_E_INVALID, "request.principal: unsupported ARN %s", p);
    }
    const char *role = s_get_str(rq, "roleArn");
    if (role)
        r->role_arn = mg_slice_cstr(role);
    if (r->role_arn.len)
        principal_arn_key = r->role_arn;
    json_t *root = json_object_get(rq, "isRoot");
    if (json_is_boolean(root))
        r->is_root = json_is_true(root);
    const char *fed = s_get_str(rq, "federatedProvider");
    if (fed)
        r->federated_provider = mg_slice_cstr(fed);
    if (r->principal_type != MG_POLICY_PRINCIPAL_SERVICE &&
        r->principal_type != MG_POLICY_PRINCIPAL_ANONYMOUS)
        r->principal_account = acct;

    /* server-filled keys, unless the case gave them */
    if (principal_arn_key.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:PrincipalArn"), principal_arn_key, ei));
    if (r->principal_account.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:PrincipalAccount"), r->principal_account, ei));
    MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:PrincipalType"), type, ei));
    if (username.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:username"), username, ei));
    if (userid.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:userid"), userid, ei));
    if (r->principal_type == MG_POLICY_PRINCIPAL_SERVICE)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:PrincipalServiceName"), r->service, ei));
    MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:PrincipalIsAWSService"),
                     r->principal_type == MG_POLICY_PRINCIPAL_SERVICE ? MG_SLICE_LIT("true")
                                                                      : MG_SLICE_LIT("false"),
                     ei));
    return MG_E_OK;
}

static const char *s_grant_str(enum mg_policy_grant g)
{
    switch (g) {
    case MG_POLICY_GRANT_NONE: return "none";
    case MG_POLICY_GRANT_ROOT: return "accountRoot";
    case MG_POLICY_GRANT_IDENTITY: return "identityBased";
    case MG_POLICY_GRANT_RESOURCE: return "resourceBased";
    case MG_POLICY_GRANT_BOTH: return "identityAndResourceBased";
    }
    return "none";
}

static json_t *s_hit_json(const struct mg_policy_hit *h)
{
    char name[80];
    mg_policy_statement_name(h->policy, h->statement, name, sizeof(name));
    return json_pack("{s:s, s:s, s:s, s:s}", "policy", mg_policy_label(h->policy), "type",
                     mg_policy_source_str(h->source), "statement", name, "effect",
                     h->allow ? "Allow" : "Deny");
}

static enum mg_err s_output(struct s_sim *s, const struct mg_policy_explain *ex, struct mg_buf *out)
{
    json_t *e = json_pack("{s:s, s:s, s:b, s:b, s:b}", "reason", mg_policy_reason_str(ex->reason),
                          "grantedBy", s_grant_str(ex->grant), "crossAccount", ex->cross_account,
                          "identityBasedAllows", ex->identity_allows, "resourceBasedAllows",
                          ex->resource_allows);
    json_t *o = json_pack("{s:s, s:o}", "decision", mg_policy_decision_str(ex->decision),
                          "explanation", e);
    if (!o)
        return MG_E_NOMEM;
    bool ok = true;
    if (ex->has_boundary)
        ok = mg_json_set(e, "permissionsBoundaryAllows", json_boolean(ex->boundary_allows));
    if (ok && ex->has_session)
        ok = mg_json_set(e, "sessionPolicyAllows", json_boolean(ex->session_allows));
    json_t *hits = ok ? json_array() : NULL;
    for (size_t i = 0; ok && i < ex->n_hits; i++)
        ok = mg_json_append(hits, s_hit_json(&ex->hits[i]));
    if (ok)
        ok = mg_json_set(e, "matchedStatements", hits);
    else
        json_decref(hits);
    if (ok && ex->reason == MG_POLICY_REASON_EXPLICIT_DENY)
        ok = mg_json_set(e, "explicitDeny", s_hit_json(&ex->deny));
    if (ok && ex->decision != MG_POLICY_ALLOW) {
        char msg[1024];
        mg_policy_denied_message(ex, &s->req, msg, sizeof(msg));
        ok = mg_json_set(e, "message", json_string(msg));
    }
    if (!ok) {
        json_decref(o);
        return MG_E_NOMEM;
    }
    enum mg_err err = MG_E_OK;
    size_t need = json_dumpb(o, NULL, 0, JSON_COMPACT);
    if (need == 0 || (err = mg_buf_reserve(out, need)) != MG_E_OK) {
        err = err ? err : MG_E_INTERNAL;
    } else {
        if (json_dumpb(o, (char *)out->ptr + out->len, need, JSON_COMPACT) == need)
            out->len += need;
        else
            err = MG_E_INTERNAL;
    }
    json_decref(o);
    return err;
}

static enum mg_err s_run(struct s_sim *s, struct mg_slice input, struct mg_buf *out,
                         enum mg_policy_decision *decision, struct mg_errinfo *ei)
{
    json_error_t jerr;
    s->root = json_loadb((const char *)input.ptr, input.len, 0, &jerr);
    if (!s->root)
        return mg_errinfo_set(ei, MG_E_INVALID, "invalid JSON: %s (line %d)", jerr.text, jerr.line);
    if (!json_is_object(s->root))
        return mg_errinfo_set(ei, MG_E_INVALID, "the case must be a JSON object");
    json_t *rq = json_object_get(s->root, "request");
    if (!json_is_object(rq))
        return mg_errinfo_set(ei, MG_E_INVALID, "missing object \"request\"");
    const char *action = s_get_str(rq, "action"), *resource = s_get_str(rq, "resource");
    if (!action || !resource)
        return mg_errinfo_set(ei, MG_E_INVALID, "request.action and request.resource are required");
    s->req.action = mg_slice_cstr(action);
    s->req.resource = mg_slice_cstr(resource);
    s->req.context = s->ctx;

    MG_TRY(s_load_list(json_object_get(s->root, "identityPolicies"), MG_POLICY_KIND_IDENTITY,
                       "identityPolicies", s->identity, &s->n_identity, ei));
    MG_TRY(s_load_list(json_object_get(s->root, "permissionBoundaries"), MG_POLICY_KIND_BOUNDARY,
                       "permissionBoundaries", s->boundary, &s->n_boundary, ei));
    MG_TRY(s_load_list(json_object_get(s->root, "permissionBoundary"), MG_POLICY_KIND_BOUNDARY,
                       "permissionBoundary", s->boundary, &s->n_boundary, ei));
    MG_TRY(s_load_list(json_object_get(s->root, "sessionPolicy"), MG_POLICY_KIND_SESSION,
                       "sessionPolicy", s->session, &s->n_session, ei));
    MG_TRY(s_load_list(json_object_get(s->root, "sessionPolicies"), MG_POLICY_KIND_SESSION,
                       "sessionPolicies", s->session, &s->n_session, ei));
    /* sts:AssumeRole* on a role: the resource policy is the role's trust policy, which must
     * name the caller even in the role's own account, as on AWS. */
    bool assume = mg_slice_ieq_cstr(mg_slice_sub(s->req.action, 0, 14), "sts:AssumeRole") &&
                  mg_slice_eq_cstr(s_arn_field(s->req.resource, 2), "iam") &&
                  mg_slice_starts_with(s_arn_field(s->req.resource, 5), "role/");
    json_t *rp = json_object_get(s->root, "resourcePolicy");
    const char *rt = s_get_str(s->root, "resourcePolicyType");
    if (rt && strcmp(rt, "trust") != 0 && strcmp(rt, "resource") != 0)
        return mg_errinfo_set(ei, MG_E_INVALID, "resourcePolicyType: resource or trust");
    if (rp && !json_is_null(rp)) {
        enum mg_policy_kind kind = MG_POLICY_KIND_RESOURCE;
        if (rt ? strcmp(rt, "trust") == 0 : assume)
            kind = MG_POLICY_KIND_TRUST;
        MG_TRY(s_load_policy(rp, kind, "resourcePolicy", &s->resource, ei));
    } else if (assume) {
        return mg_errinfo_set(ei, MG_E_INVALID,
                              "%s on a role needs the role's trust policy as \"resourcePolicy\"",
                              action);
    }

    MG_TRY(s_context(s, json_object_get(rq, "context"), ei));
    MG_TRY(s_principal(s, rq, ei));
    const char *ra = s_get_str(s->root, "resourceAccount");
    s->req.resource_account = ra ? mg_slice_cstr(ra) : s_arn_field(s->req.resource, 4);
    if (s->req.resource_account.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:ResourceAccount"), s->req.resource_account, ei));
    struct mg_slice region = s_arn_field(s->req.resource, 3);
    if (region.len)
        MG_TRY(s_add_key(s, MG_SLICE_LIT("aws:RequestedRegion"), region, ei));

    struct mg_policy_set set = {
        .identity = (const struct mg_policy *const *)s->identity,
        .n_identity = s->n_identity,
        .boundary = (const struct mg_policy *const *)s->boundary,
        .n_boundary = s->n_boundary,
        .session = (const struct mg_policy *const *)s->session,
        .n_session = s->n_session,
        .resource = s->resource,
    };
    struct mg_policy_explain ex;
    enum mg_policy_decision d = mg_policy_evaluate(&set, &s->req, &ex);
    if (decision)
        *decision = d;
    enum mg_err err = s_output(s, &ex, out);
    if (err != MG_E_OK)
        return mg_errinfo_set(ei, err, "cannot format the result");
    return MG_E_OK;
}

enum mg_err mg_policy_simulate_json(struct mg_slice input, struct mg_buf *out,
                                    enum mg_policy_decision *decision, struct mg_errinfo *ei)
{
    if (decision)
        *decision = MG_POLICY_IMPLICIT_DENY;
    struct s_sim *s = mg_calloc(1, sizeof(*s));
    if (!s)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    enum mg_err err = s_run(s, input, out, decision, ei);
    for (size_t i = 0; i < s->n_identity; i++)
        mg_policy_unref(s->identity[i]);
    for (size_t i = 0; i < s->n_boundary; i++)
        mg_policy_unref(s->boundary[i]);
    for (size_t i = 0; i < s->n_session; i++)
        mg_policy_unref(s->session[i]);
    mg_policy_unref(s->resource);
    json_decref(s->root);
    mg_free(s);
    return err;
}
