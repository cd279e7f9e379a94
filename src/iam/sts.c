/* STS: GetCallerIdentity and AssumeRole (query protocol, version 2011-06-15), and assuming a
 * role on behalf of an AWS service for in-process use. */
#include <stdio.h>
#include <string.h>

#include "call/authz.h"
#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "iam/api_internal.h"

static void s_get_caller_identity(struct mg_call *c)
{
    struct mg_buf b;
    mg_buf_init(&b, 8192);
    enum mg_err e = mg_buf_append_cstr(&b, "    <Arn>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.arn));
    if (!e)
        e = mg_buf_append_cstr(&b, "</Arn>\n    <UserId>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.user_id));
    if (!e)
        e = mg_buf_append_cstr(&b, "</UserId>\n    <Account>");
    if (!e)
        e = mg_buf_append_xml(&b, mg_slice_cstr(c->principal.account));
    if (!e)
        e = mg_buf_append_cstr(&b, "</Account>\n");
    if (e)
        mg_iam_fail(c, 500, "InternalFailure", "out of memory");
    else
        mg_iam_send(c, "GetCallerIdentity", &b);
    mg_buf_cleanup(&b);
}

static void s_cpy(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        mg_memcpy(dst, src, n);
    dst[n] = 0;
}

/* ---- roles ---------------------------------------------------------------------------------- */

/* RoleSessionName: [\w+=,.@-]{2,64} (for sessions mcpgate makes itself; requests are checked
 * by the model) */
static bool s_valid_session_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 2 && n <= 64 && mg_iam_valid_name(mg_slice_cstr(s), 64);
}

/* The role an ARN names (the path in the ARN must match), or NULL. account gets the ARN's
 * account. */
static const struct mg_snapshot_doc *s_role(const struct mg_snapshot *snap, const char *arn,
                                            char account[13])
{
    struct mg_arn a;
    account[0] = 0;
    if (!mg_arn_parse(mg_slice_cstr(arn), &a) || !mg_slice_eq_cstr(a.service, "iam") ||
        a.account.len != 12 || !mg_slice_starts_with(a.resource, "role/"))
        return NULL;
    mg_memcpy(account, a.account.ptr, 12);
    account[12] = 0;
    const char *slash = strrchr(arn, '/');
    const struct mg_snapshot_doc *d = mg_snapshot_get(snap, "role", account, slash + 1);
    if (d == NULL)
        return NULL;
    const char *darn = json_string_value(json_object_get(d->doc, "Arn"));
    return darn && strcmp(darn, arn) == 0 ? d : NULL;
}

static struct mg_policy *s_trust(const struct mg_snapshot_doc *role)
{
    const char *text = json_string_value(json_object_get(role->doc, "AssumeRolePolicyDocument"));
    if (text == NULL)
        return NULL;
    char label[700];
    snprintf(label, sizeof(label), "trust policy of %s",
             json_string_value(json_object_get(role->doc, "Arn")));
    struct mg_errinfo ei = {0};
    struct mg_policy *p = mg_iam_policy_cached(MG_POLICY_KIND_TRUST, mg_slice_cstr(text), label,
                                               &ei);
    if (p == NULL)
        MG_LOG(MG_LOG_WARN, MG_SUB_STS, "%s does not compile: %s", label, ei.msg);
    return p;
}

static int64_t s_max_session(const json_t *role)
{
    json_t *m = json_object_get(role, "MaxSessionDuration");
    return json_is_integer(m) ? json_integer_value(m) : 3600;
}

/* ---- AssumeRole ------------------------------------------------------------------------------ */

static bool s_denied(struct mg_call *c, const char *role_arn)
{
    return mg_iam_fail(c, 403, "AccessDenied",
                       "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
                       c->principal.arn, role_arn);
}

/* Authorizes one STS action on the role: the caller's identity policies and the role's trust
 * policy, with the request's condition keys. */
static bool s_authorize(struct mg_call *c, const char *action, const char *role_arn,
                        const char *account, const struct mg_policy *trust, const json_t *role_tags,
                        const struct mg_authz_extra *extra)
{
    struct mg_authz_resource res = {.arn = role_arn,
                                    .account = account,
                                    .policy = trust,
                                    .tags = role_tags};
    return mg_authz(c, action, &res, extra);
}

static void s_assume_role(struct mg_call *c)
{
    char role_arn[MG_IAM_ARN_CAP], session[80], external_id[1300] = "", source[80] = "";
    int64_t duration;
    if (!mg_iam_str_param(c, "RoleArn", "roleArn", 2048, true, role_arn, sizeof(role_arn)) ||
        !mg_iam_str_param(c, "RoleSessionName", "roleSessionName", 64, true, session,
                          sizeof(session)) ||
        !mg_iam_int_param(c, "DurationSeconds", "durationSeconds", 900, 43200, 3600, &duration) ||
        !mg_iam_str_param(c, "ExternalId", "externalId", 1224, false, external_id,
                          sizeof(external_id)) ||
        !mg_iam_str_param(c, "SourceIdentity", "sourceIdentity", 64, false, source, sizeof(source)))
        return;
    if (strlen(role_arn) >= sizeof(((struct mg_sts_session *)0)->role_arn)) {
        mg_iam_invalid(c, "1 validation error detected: Value at 'roleArn' failed to satisfy "
                          "constraint: Member must have length less than or equal to 511");
        return;
    }
    bool policy_absent;
    char *policy = mg_iam_doc_param(c, "Policy", "policy", false, &policy_absent);
    if (policy == NULL && !policy_absent)
        return;
    struct mg_sts_session s;
    memset(&s, 0, sizeof(s));
    s.policy = policy;
    json_t *arns = json_array();
    json_t *tags = arns ? mg_iam_tags_param(c, "Tags") : NULL;
    struct mg_buf token;
    mg_buf_init(&token, 16384);
    if (arns == NULL || tags == NULL)
        goto out;
    /* PolicyArns: [{"arn"}], at most 10 (a rule of STS that its model does not state) */
    const json_t *pas = json_object_get(c->input, "PolicyArns");
    for (size_t i = 1; i <= json_array_size(pas); i++) {
        const char *v = json_string_value(json_object_get(json_array_get(pas, i - 1), "arn"));
        if (v == NULL)
            continue;
        if (i > 10) {
            mg_iam_invalid(c,
                           "1 validation error detected: Value at 'policyArns' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10");
            goto out;
        }
        char *a = mg_slice_dup(mg_slice_cstr(v));
        struct mg_arn pa;
        if (a == NULL || !mg_arn_parse(mg_slice_cstr(a), &pa) ||
            !mg_slice_eq_cstr(pa.service, "iam") || !mg_slice_starts_with(pa.resource, "policy/")) {
            mg_iam_invalid(c, "Invalid policy ARN in PolicyArns: %.200s", a ? a : "");
            mg_free(a);
            goto out;
        }
        s.policy_arns[s.n_policy_arns++] = a;
    }
    /* the session policy: IAM's grammar, at most 2048 characters */
    if (policy) {
        struct mg_policy_parse_opts o = {MG_POLICY_KIND_SESSION, 0, "session policy"};
        struct mg_policy *pol = NULL;
        struct mg_errinfo ei = {0};
        enum mg_err e = mg_policy_parse(mg_slice_cstr(policy), &o, &pol, &ei);
        mg_policy_unref(pol);
        if (e == MG_E_TOO_LARGE) {
            mg_iam_fail(c, 400, "PackedPolicyTooLarge",
                        "Packed policy consumes more than 100%% of allotted space, please use "
                        "smaller policy for this request.");
            goto out;
        }
        if (e) {
            mg_iam_fail(c, 400, "MalformedPolicyDocument", "%s", ei.msg);
            goto out;
        }
    }
    if (c->principal.type == MG_PRINCIPAL_ROOT) {
        mg_iam_fail(c, 403, "AccessDenied", "Roles may not be assumed by root accounts.");
        goto out;
    }
    /* A session's source identity is set once: a chained AssumeRole carries it on (and so needs
     * sts:SetSourceIdentity as well), and may not name another. */
    if (c->principal.type == MG_PRINCIPAL_ASSUMED_ROLE && c->principal.source_identity[0]) {
        if (source[0] && strcmp(source, c->principal.source_identity) != 0) {
            MG_LOG_REQ(MG_LOG_INFO, MG_SUB_AUDIT, c->req->request_id,
                       "denied principal=%s action=sts:SetSourceIdentity resource=%s "
                       "reason=source-identity-already-set",
                       c->principal.arn, role_arn);
            mg_iam_fail(c, 403, "AccessDenied",
                        "User: %s is not authorized to perform: sts:SetSourceIdentity on "
                        "resource: %s (the source identity of a session cannot be changed)",
                        c->principal.arn, role_arn);
            goto out;
        }
        s_cpy(source, sizeof(source), c->principal.source_identity);
    }

    char account[13];
    const struct mg_snapshot_doc *role = s_role(c->snap, role_arn, account);
    if (role == NULL) {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_AUDIT, c->req->request_id,
                   "denied principal=%s action=sts:AssumeRole resource=%s reason=no-such-role",
                   c->principal.arn, role_arn);
        s_denied(c, role_arn);
        goto out;
    }
    struct mg_policy *trust = s_trust(role);
    if (trust == NULL) {
        s_denied(c, role_arn);
        goto out;
    }

    /* condition keys of the request: the tags were checked against STS's limit of 50 */
    if (json_array_size(tags) > MG_IAM_MAX_TAGS) {
        mg_policy_unref(trust);
        mg_iam_invalid(c, "1 validation error detected: Value at 'tags' failed to satisfy "
                          "constraint: Member must have length less than or equal to 50");
        goto out;
    }
    struct mg_policy_ctx_entry ctx[MG_IAM_MAX_TAGS + 6];
    struct mg_slice keys[MG_IAM_MAX_TAGS];
    char names[MG_IAM_MAX_TAGS][160];
    size_t n = 0, nk = 0, i;
    json_t *t;
    ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("sts:RoleSessionName"), NULL, 0,
                                            mg_slice_cstr(session)};
    if (external_id[0])
        ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("sts:ExternalId"), NULL, 0,
                                                mg_slice_cstr(external_id)};
    if (source[0])
        ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("sts:SourceIdentity"), NULL, 0,
                                                mg_slice_cstr(source)};
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        snprintf(names[nk], sizeof(names[nk]), "aws:RequestTag/%s", k);
        ctx[n++] = (struct mg_policy_ctx_entry){mg_slice_cstr(names[nk]), NULL, 0,
                                                mg_slice_cstr(json_string_value(
                                                    json_object_get(t, "Value")))};
        keys[nk++] = mg_slice_cstr(k);
    }
    if (nk)
        ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("aws:TagKeys"), keys, nk,
                                                mg_slice_make("", 0)};
    struct mg_authz_extra extra = {ctx, n, NULL};
    const json_t *role_tags = json_object_get(role->doc, "Tags");
    bool ok = s_authorize(c, "sts:AssumeRole", role_arn, account, trust, role_tags, &extra);
    /* Passing session tags needs sts:TagSession as well. */
    if (ok && nk)
        ok = s_authorize(c, "sts:TagSession", role_arn, account, trust, role_tags, &extra);
    /* Setting a source identity needs sts:SetSourceIdentity (trust and identity policies). */
    if (ok && source[0])
        ok = s_authorize(c, "sts:SetSourceIdentity", role_arn, account, trust, role_tags, &extra);
    mg_policy_unref(trust);
    if (!ok)
        goto out;

    bool chained = c->principal.type == MG_PRINCIPAL_ASSUMED_ROLE;
    if (chained && duration > 3600) {
        mg_iam_invalid(c, "The requested DurationSeconds exceeds the 1 hour session limit for "
                          "roles assumed by role chaining.");
        goto out;
    }
    if (duration > s_max_session(role->doc)) {
        mg_iam_invalid(c, "The requested DurationSeconds exceeds the MaxSessionDuration set for "
                          "this role.");
        goto out;
    }

    s_cpy(s.account, sizeof(s.account), account);
    s_cpy(s.role_arn, sizeof(s.role_arn), role_arn);
    s_cpy(s.role_id, sizeof(s.role_id), json_string_value(json_object_get(role->doc, "RoleId")));
    s_cpy(s.session_name, sizeof(s.session_name), session);
    s_cpy(s.source_identity, sizeof(s.source_identity), source);
    s.chained = chained;
    if (nk) {
        s.tags = json_object();
        bool set = s.tags != NULL;
        json_array_foreach(tags, i, t)
        {
            if (set)
                set = mg_json_set_ref(s.tags, json_string_value(json_object_get(t, "Key")),
                                      json_object_get(t, "Value"));
        }
        if (!set) {
            mg_iam_internal(c);
            goto out;
        }
    }
    if (mg_sts_session_issue(c->env->token_key, &s, duration, &token) != MG_E_OK) {
        mg_iam_internal(c);
        goto out;
    }

    const char *slash = strrchr(role_arn, '/');
    char session_arn[700], role_user_id[120], expiration[21];
    snprintf(session_arn, sizeof(session_arn), "arn:aws:sts::%s:assumed-role/%s/%s", account,
             slash + 1, session);
    snprintf(role_user_id, sizeof(role_user_id), "%s:%s", s.role_id, session);
    mg_time_iso8601(s.expires, expiration);
    const char *tok = mg_buf_cstr(&token);

    struct mg_buf b;
    mg_buf_init(&b, 64 * 1024);
    enum mg_err e = tok ? MG_E_OK : MG_E_NOMEM;
    if (!e && source[0])
        e = mg_iam_xml(&b, 4, "SourceIdentity", source);
    if (!e)
        e = mg_buf_append_cstr(&b, "    <AssumedRoleUser>\n");
    if (!e)
        e = mg_iam_xml(&b, 6, "AssumedRoleId", role_user_id);
    if (!e)
        e = mg_iam_xml(&b, 6, "Arn", session_arn);
    if (!e)
        e = mg_buf_append_cstr(&b, "    </AssumedRoleUser>\n    <Credentials>\n");
    if (!e)
        e = mg_iam_xml(&b, 6, "AccessKeyId", s.access_key_id);
    if (!e)
        e = mg_iam_xml(&b, 6, "SecretAccessKey", s.secret);
    if (!e)
        e = mg_iam_xml(&b, 6, "SessionToken", tok);
    if (!e)
        e = mg_iam_xml(&b, 6, "Expiration", expiration);
    if (!e)
        e = mg_buf_append_cstr(&b, "    </Credentials>\n");
    if (!e && (policy || s.n_policy_arns || nk)) {
        /* share of the packed-policy allowance the session policies and tags use */
        size_t used = policy ? mg_policy_count_chars(mg_slice_cstr(policy)) : 0;
        for (i = 0; i < s.n_policy_arns; i++)
            used += strlen(s.policy_arns[i]);
        json_array_foreach(tags, i, t)
        {
            used += strlen(json_string_value(json_object_get(t, "Key"))) +
                    strlen(json_string_value(json_object_get(t, "Value")));
        }
        char pct[24];
        snprintf(pct, sizeof(pct), "%zu",
                 (used * 100 + MG_POLICY_LIMIT_SESSION - 1) / MG_POLICY_LIMIT_SESSION);
        e = mg_iam_xml(&b, 4, "PackedPolicySize", pct);
    }
    if (e) {
        mg_iam_internal(c);
    } else {
        MG_LOG_REQ(MG_LOG_INFO, MG_SUB_STS, c->req->request_id,
                   "%s assumed %s as session %s (key %s, expires %s)", c->principal.arn, role_arn,
                   session, s.access_key_id, expiration);
        mg_iam_send(c, "AssumeRole", &b);
    }
    if (b.ptr)
        mg_memzero(b.ptr, b.len);
    mg_buf_cleanup(&b);
out:
    s.policy = NULL; /* freed below */
    mg_sts_session_cleanup(&s);
    mg_free(policy);
    json_decref(arns);
    json_decref(tags);
    mg_buf_cleanup(&token);
}

/* ---- on behalf of a service ---------------------------------------------------------------- */

enum mg_err mg_sts_assume_role_as_service(const struct mg_env *env, const struct mg_snapshot *snap,
                                          const char *role_arn, const char *service,
                                          const char *session_name, int64_t duration,
                                          struct mg_principal *out_principal, char *akid_out,
                                          char *secret_out, struct mg_buf *token_out,
                                          int64_t *expires_out, struct mg_errinfo *ei)
{
    if (env == NULL || env->token_key == NULL)
        return mg_errinfo_set(ei, MG_E_INVALID, "no server environment to issue a session in");
    if (role_arn == NULL || service == NULL || service[0] == 0)
        return mg_errinfo_set(ei, MG_E_INVALID, "a role ARN and a service are required");
    if (session_name == NULL || session_name[0] == 0)
        session_name = "mcpgate";
    if (!s_valid_session_name(session_name))
        return mg_errinfo_set(ei, MG_E_INVALID,
                              "session name '%.64s' does not match [\\w+=,.@-]{2,64}",
                              session_name);
    char account[13];
    const struct mg_snapshot_doc *role = s_role(snap, role_arn, account);
    struct mg_policy *trust = role ? s_trust(role) : NULL;
    bool allowed = false;
    if (trust) {
        struct mg_principal sp;
        memset(&sp, 0, sizeof(sp));
        sp.type = MG_PRINCIPAL_SERVICE;
        snprintf(sp.name, sizeof(sp.name), "%s", service);
        snprintf(sp.arn, sizeof(sp.arn), "%s", service);
        struct mg_policy_request req;
        struct mg_policy_ctx_entry ctx[MG_AUTHZ_MAX_CONTEXT];
        struct mg_authz_storage st;
        size_t n = 0;
        mg_authz_fill_request(&sp, NULL, env->region, &req, ctx, &n, &st);
        bool complete = st.overflow == NULL && n + 2 <= MG_AUTHZ_MAX_CONTEXT;
        if (complete) {
            ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("sts:RoleSessionName"), NULL, 0,
                                                    mg_slice_cstr(session_name)};
            ctx[n++] = (struct mg_policy_ctx_entry){MG_SLICE_LIT("aws:ResourceAccount"), NULL, 0,
                                                    mg_slice_cstr(account)};
        }
        req.context = ctx;
        req.n_context = n;
        req.action = MG_SLICE_LIT("sts:AssumeRole");
        req.resource = mg_slice_cstr(role_arn);
        req.resource_account = mg_slice_cstr(account);
        struct mg_policy_set set = {.resource = trust};
        /* never decided on a partial context */
        allowed = complete && mg_policy_evaluate(&set, &req, NULL) == MG_POLICY_ALLOW;
        mg_policy_unref(trust);
    }
    if (!allowed)
        return mg_errinfo_set(ei, MG_E_DENIED,
                              "Service: %s is not authorized to perform: sts:AssumeRole on "
                              "resource: %s",
                              service, role_arn);
    int64_t max = s_max_session(role->doc);
    if (duration <= 0)
        duration = 3600;
    if (duration < 900)
        duration = 900;
    if (duration > max)
        duration = max;

    struct mg_sts_session s;
    memset(&s, 0, sizeof(s));
    s_cpy(s.account, sizeof(s.account), account);
    s_cpy(s.role_arn, sizeof(s.role_arn), role_arn);
    s_cpy(s.role_id, sizeof(s.role_id), json_string_value(json_object_get(role->doc, "RoleId")));
    s_cpy(s.session_name, sizeof(s.session_name), session_name);
    struct mg_buf tmp;
    mg_buf_init(&tmp, 16384);
    struct mg_buf *tok = token_out ? token_out : &tmp;
    enum mg_err e = mg_sts_session_issue(env->token_key, &s, duration, tok);
    if (e) {
        mg_buf_cleanup(&tmp);
        mg_sts_session_cleanup(&s);
        return mg_errinfo_set(ei, e, "cannot issue the session");
    }
    if (akid_out)
        snprintf(akid_out, 21, "%s", s.access_key_id);
    if (secret_out)
        snprintf(secret_out, 41, "%s", s.secret);
    if (expires_out)
        *expires_out = s.expires;
    if (out_principal && !mg_sts_principal_from_session(snap, &s, out_principal)) {
        mg_principal_cleanup(out_principal);
        mg_buf_cleanup(&tmp);
        mg_sts_session_cleanup(&s);
        return mg_errinfo_set(ei, MG_E_NOMEM, "cannot resolve the session");
    }
    mg_buf_cleanup(&tmp);
    mg_sts_session_cleanup(&s);
    return MG_E_OK;
}

/* ---- dispatch --------------------------------------------------------------------------------- */

static const struct mg_call_op s_ops[] = {
    {"GetCallerIdentity", s_get_caller_identity},
    {"AssumeRole", s_assume_role},
};

static const enum mg_aws_service s_svcs[] = {MG_AWS_SVC_STS};

const struct mg_call_api mg_sts_api = {
    .svcs = s_svcs,
    .n_svcs = sizeof(s_svcs) / sizeof(s_svcs[0]),
    .ops = s_ops,
    .n_ops = sizeof(s_ops) / sizeof(s_ops[0]),
};

static void s_handle(struct mg_call *c)
{
    mg_call_serve(c, &mg_sts_api);
}

const struct mg_service mg_sts_service = {"sts", MG_SERVICE_QUERY, s_handle, NULL, NULL};
