#include "call/authz.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"

/* Every aws:PrincipalTag (session and entity tags) and aws:ResourceTag name of one decision. */
#define S_TAG_SLOTS (sizeof(((struct mg_authz_storage *)0)->tag_keys) / MG_AUTHZ_TAG_NAME_CAP)

static void s_ctx(struct mg_policy_ctx_entry *ctx, size_t *n, struct mg_authz_storage *st,
                  struct mg_slice key, struct mg_slice v)
{
    if (*n >= MG_AUTHZ_MAX_CONTEXT) {
        st->overflow = "more condition keys than the authorization context holds";
        return;
    }
    ctx[*n].key = key;
    ctx[*n].values = NULL;
    ctx[*n].n_values = 0;
    ctx[*n].value = v;
    (*n)++;
}

static void s_tag(struct mg_policy_ctx_entry *ctx, size_t *n, struct mg_authz_storage *st,
                  const char *prefix, const char *k, const char *v)
{
    if (st->tags_used >= S_TAG_SLOTS) {
        st->overflow = "more principal and resource tags than AWS allows";
        return;
    }
    char *name = st->tag_keys[st->tags_used];
    int len = snprintf(name, MG_AUTHZ_TAG_NAME_CAP, "%s%s", prefix, k);
    if (len < 0 || (size_t)len >= MG_AUTHZ_TAG_NAME_CAP) {
        st->overflow = "a tag key longer than AWS allows";
        return;
    }
    st->tags_used++;
    s_ctx(ctx, n, st, mg_slice_make(name, (size_t)len), mg_slice_cstr(v));
}

/* Adds "<prefix><Key>" entries for tags given as [{"Key","Value"}] or {"k":"v"}; more than
 * MG_AUTHZ_MAX_TAGS of them is an overflow. */
static void s_tags(struct mg_policy_ctx_entry *ctx, size_t *n, struct mg_authz_storage *st,
                   const char *prefix, const json_t *tags)
{
    if (tags == NULL)
        return;
    size_t count = json_is_array(tags) ? json_array_size(tags) : json_object_size(tags);
    if (count > MG_AUTHZ_MAX_TAGS) {
        st->overflow = "more tags on one entity or session than AWS allows";
        return;
    }
    if (json_is_array(tags)) {
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t)
        {
            const char *k = json_string_value(json_object_get(t, "Key"));
            const char *v = json_string_value(json_object_get(t, "Value"));
            if (k && v)
                s_tag(ctx, n, st, prefix, k, v);
        }
    } else if (json_is_object(tags)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)tags, k, v)
        {
            if (json_is_string(v))
                s_tag(ctx, n, st, prefix, k, json_string_value(v));
        }
    }
}

void mg_authz_fill_request(const struct mg_principal *p, const struct mg_http_req *r,
                           const char *region, struct mg_policy_request *req,
                           struct mg_policy_ctx_entry *ctx, size_t *n_ctx,
                           struct mg_authz_storage *st)
{
    memset(req, 0, sizeof(*req));
    size_t n = 0;
    st->tags_used = 0;
    st->overflow = NULL;
    req->principal_arn = mg_slice_cstr(p->arn);
    req->principal_account = mg_slice_cstr(p->account);
    req->is_root = p->type == MG_PRINCIPAL_ROOT;
    const char *ptype = "Account";
    switch (p->type) {
    case MG_PRINCIPAL_ROOT:
        req->principal_type = MG_POLICY_PRINCIPAL_ACCOUNT;
        ptype = "Account";
        break;
    case MG_PRINCIPAL_USER:
        req->principal_type = MG_POLICY_PRINCIPAL_USER;
        ptype = "User";
        break;
    case MG_PRINCIPAL_ASSUMED_ROLE:
        req->principal_type = MG_POLICY_PRINCIPAL_ASSUMED_ROLE;
        ptype = "AssumedRole";
        req->role_arn = mg_slice_cstr(p->role_arn);
        break;
    case MG_PRINCIPAL_SERVICE:
        req->principal_type = MG_POLICY_PRINCIPAL_SERVICE;
        ptype = "AWSService";
        req->service = mg_slice_cstr(p->name);
        break;
    case MG_PRINCIPAL_NONE:
    case MG_PRINCIPAL_JWT: /* a bearer token is no IAM identity: anonymous to IAM policies */
        req->principal_type = MG_POLICY_PRINCIPAL_ANONYMOUS;
        ptype = "Anonymous";
        break;
    }
    if (p->type == MG_PRINCIPAL_USER || p->type == MG_PRINCIPAL_ASSUMED_ROLE) {
        /* unique id without ":session" */
        const char *colon = strchr(p->user_id, ':');
        req->unique_id = mg_slice_make(p->user_id,
                                       colon ? (size_t)(colon - p->user_id) : strlen(p->user_id));
    }
    if (p->type != MG_PRINCIPAL_NONE && p->type != MG_PRINCIPAL_SERVICE &&
        p->type != MG_PRINCIPAL_JWT) {
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:PrincipalArn"),
              p->type == MG_PRINCIPAL_ASSUMED_ROLE ? mg_slice_cstr(p->role_arn)
                                                   : mg_slice_cstr(p->arn));
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:PrincipalAccount"), mg_slice_cstr(p->account));
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:PrincipalType"), mg_slice_cstr(ptype));
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:userid"), mg_slice_cstr(p->user_id));
    } else if (p->type == MG_PRINCIPAL_SERVICE) {
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:PrincipalServiceName"), mg_slice_cstr(p->name));
    }
    if (p->type == MG_PRINCIPAL_USER)
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:username"), mg_slice_cstr(p->name));
    if (p->type == MG_PRINCIPAL_ASSUMED_ROLE) {
        mg_time_iso8601(p->token_issued, st->token_issued);
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:TokenIssueTime"), mg_slice_cstr(st->token_issued));
        if (p->source_identity[0])
            s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:SourceIdentity"),
                  mg_slice_cstr(p->source_identity));
    }
    /* Session tags first: where a key is on both, the session's value is the one AWS uses. */
    if (p->session_tags)
        s_tags(ctx, &n, st, "aws:PrincipalTag/", p->session_tags);
    if (p->user)
        s_tags(ctx, &n, st, "aws:PrincipalTag/", json_object_get(p->user, "Tags"));

    int64_t now = mg_now();
    mg_time_iso8601(now, st->now);
    snprintf(st->epoch, sizeof(st->epoch), "%lld", (long long)now);
    s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:CurrentTime"), mg_slice_cstr(st->now));
    s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:EpochTime"), mg_slice_cstr(st->epoch));
    if (r) {
        snprintf(st->secure, sizeof(st->secure), "%s", r->secure ? "true" : "false");
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:SecureTransport"), mg_slice_cstr(st->secure));
        if (r->remote_ip[0])
            s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:SourceIp"), mg_slice_cstr(r->remote_ip));
    }
    if (region)
        s_ctx(ctx, &n, st, MG_SLICE_LIT("aws:RequestedRegion"), mg_slice_cstr(region));
    *n_ctx = n;
    req->context = ctx;
    req->n_context = n;
}

enum mg_policy_decision mg_authz_decide(const struct mg_call *c, const char *action,
                                        const struct mg_authz_resource *res,
                                        const struct mg_authz_extra *extra,
                                        struct mg_policy_explain *ex, char *msg, size_t cap)
{
    struct mg_policy_request req;
    struct mg_policy_ctx_entry ctx[MG_AUTHZ_MAX_CONTEXT];
    struct mg_authz_storage st;
    size_t n = 0;
    mg_authz_fill_request(&c->principal, c->req, c->env->region, &req, ctx, &n, &st);

    char account[13] = {0};
    if (res->account) {
        snprintf(account, sizeof(account), "%s", res->account);
    } else {
        struct mg_arn arn;
        if (mg_arn_parse(mg_slice_cstr(res->arn), &arn) && arn.account.len == 12)
            snprintf(account, sizeof(account), MG_SLICE_FMT, MG_SLICE_ARG(arn.account));
        else
            snprintf(account, sizeof(account), "%s", c->principal.account);
    }
    s_ctx(ctx, &n, &st, MG_SLICE_LIT("aws:ResourceAccount"), mg_slice_cstr(account));
    s_tags(ctx, &n, &st, "aws:ResourceTag/", res->tags);
    if (extra && extra->overflow)
        st.overflow = extra->overflow;
    else if (extra && extra->n > MG_AUTHZ_MAX_CONTEXT - n)
        st.overflow = "more condition keys than the authorization context holds";
    else if (extra)
        for (size_t i = 0; i < extra->n; i++)
            ctx[n++] = extra->entries[i];
    req.n_context = n;
    req.action = mg_slice_cstr(action);
    req.resource = mg_slice_cstr(res->arn);
    req.resource_account = mg_slice_cstr(account);

    if (st.overflow) {
        /* Fail closed: a condition must never be decided on a context with keys left out. */
        if (ex) {
            memset(ex, 0, sizeof(*ex));
            ex->decision = MG_POLICY_EXPLICIT_DENY;
            ex->reason = MG_POLICY_REASON_EXPLICIT_DENY;
        }
        MG_LOG_REQ(MG_LOG_WARN, MG_SUB_AUDIT, c->req ? c->req->request_id : NULL,
                   "denied principal=%s action=%s resource=%s reason=context-overflow: %s",
                   c->principal.arn, action, res->arn, st.overflow);
        if (msg && cap)
            snprintf(msg, cap,
                     "User: %s is not authorized to perform: %s on resource: %s because the "
                     "request carries more condition keys than can be evaluated",
                     c->principal.arn, action, res->arn);
        return MG_POLICY_EXPLICIT_DENY;
    }
    struct mg_policy_set set = {0};
    if (c->env && c->env->identity)
        c->env->identity->policies_of(c->snap, &c->principal, &set);
    set.session = (const struct mg_policy *const *)c->principal.session_policies;
    set.n_session = c->principal.n_session_policies;
    set.resource = res->policy;
    enum mg_policy_decision d = mg_policy_evaluate(&set, &req, ex);
    if (msg && cap && d != MG_POLICY_ALLOW)
        mg_policy_denied_message(ex, &req, msg, cap);
    return d;
}

void mg_authz_audit(const struct mg_call *c, const char *action, const char *resource,
                    const struct mg_policy_explain *ex, const char *msg)
{
    char where[256] = "";
    if (ex->reason == MG_POLICY_REASON_EXPLICIT_DENY && ex->deny.policy) {
        char st[96];
        mg_policy_statement_name(ex->deny.policy, ex->deny.statement, st, sizeof(st));
        snprintf(where, sizeof(where), "; explicit deny in %s statement %s",
                 mg_policy_label(ex->deny.policy), st);
    }
    MG_LOG_REQ(MG_LOG_INFO, MG_SUB_AUDIT, c->req ? c->req->request_id : NULL,
               "denied principal=%s action=%s resource=%s decision=%s reason=%s "
               "cross_account=%s identity_allows=%s resource_allows=%s%s: %s",
               c->principal.arn, action, resource, mg_policy_decision_str(ex->decision),
               mg_policy_reason_str(ex->reason), ex->cross_account ? "true" : "false",
               ex->identity_allows ? "true" : "false", ex->resource_allows ? "true" : "false",
               where, msg);
}

/* Audits a denial and answers it; false. */
static bool s_denied(struct mg_call *c, const char *action, const struct mg_authz_resource *res,
                     const struct mg_policy_explain *ex, const char *msg)
{
    mg_authz_audit(c, action, res->arn, ex, msg);
    bool json = c->protocol == MG_AWS_REST_JSON;
    const char *code = json ? "AccessDeniedException" : "AccessDenied";
    if (c->reply != NULL) /* a handler under mg_call_serve: the reply is sent after it returns */
        mg_aws_reply_error(c->reply, 403, code, "%s", msg);
    else
        mg_aws_send_error(c->x, c->protocol, 403, code, msg);
    return false;
}

bool mg_authz(struct mg_call *c, const char *action, const struct mg_authz_resource *res,
              const struct mg_authz_extra *extra)
{
    struct mg_policy_explain ex;
    char msg[1024];
    if (mg_authz_decide(c, action, res, extra, &ex, msg, sizeof(msg)) == MG_POLICY_ALLOW)
        return true;
    return s_denied(c, action, res, &ex, msg);
}

/* ---- allowed decisions remembered per event loop ------------------------------------------- */

/* An allow is remembered, on the thread that decided it (each event loop is one thread: nothing
 * is shared, nothing locked), under a key that holds every input of the decision: the principal
 * (its policies and tags come from the snapshot, by its type, account and name), the action, the
 * resource (ARN, account, the snapshot's policy and tags), the request's origin (aws:SourceIp,
 * aws:SecureTransport), the region, the snapshot, and the second (aws:CurrentTime and
 * aws:EpochTime change with it). Principals that carry inputs of their own (session policies,
 * session tags, a bearer token's claims) are never remembered. */
#define S_MEMO_SLOTS 64
#define S_MEMO_KEY 1536

struct s_memo_entry {
    uint64_t hash, generation;
    const struct mg_snapshot *snap; /* compared, never read */
    int64_t second;
    size_t len; /* 0: empty */
    unsigned char key[S_MEMO_KEY];
};

struct s_memo {
    struct s_memo_entry e[S_MEMO_SLOTS];
    struct mg_authz_memo_stats stats;
};

static pthread_key_t s_memo_tls;
static pthread_once_t s_memo_once = PTHREAD_ONCE_INIT;
static bool s_memo_ready;

static void s_memo_free(void *p)
{
    mg_free(p);
}

static void s_memo_init(void)
{
    s_memo_ready = pthread_key_create(&s_memo_tls, s_memo_free) == 0;
}

/* This thread's memo (NULL when it cannot be had: decide without it). */
static struct s_memo *s_memo(void)
{
    (void)pthread_once(&s_memo_once, s_memo_init);
    if (!s_memo_ready)
        return NULL;
    struct s_memo *m = pthread_getspecific(s_memo_tls);
    if (m == NULL) {
        m = mg_calloc(1, sizeof(*m));
        if (m && pthread_setspecific(s_memo_tls, m) != 0) {
            mg_free(m);
            m = NULL;
        }
    }
    return m;
}

struct s_key {
    unsigned char b[S_MEMO_KEY];
    size_t len;
    bool fits;
};

/* Appends one field, its length first: two different keys never write the same bytes. */
static void s_key_add(struct s_key *k, const void *p, size_t n)
{
    if (!k->fits || n > 0xFFFF || k->len + 2 + n > sizeof(k->b)) {
        k->fits = false;
        return;
    }
    k->b[k->len++] = (unsigned char)(n >> 8);
    k->b[k->len++] = (unsigned char)n;
    if (n)
        mg_memcpy(k->b + k->len, p, n);
    k->len += n;
}

static void s_key_str(struct s_key *k, const char *s)
{
    s_key_add(k, s ? s : "", s ? strlen(s) + 1 : 0); /* NULL and "" differ */
}

static void s_key_ptr(struct s_key *k, const void *p)
{
    s_key_add(k, &p, sizeof(p));
}

/* The key of a decision, or false when it cannot be remembered. */
static bool s_memo_key(const struct mg_call *c, const char *action,
                       const struct mg_authz_resource *res, struct s_key *k)
{
    const struct mg_principal *p = &c->principal;
    if (c->req == NULL || c->snap == NULL || c->env == NULL || p->n_session_policies ||
        p->session_tags || p->jwt_claims)
        return false;
    if (p->type != MG_PRINCIPAL_ROOT && p->type != MG_PRINCIPAL_USER &&
        p->type != MG_PRINCIPAL_ASSUMED_ROLE)
        return false;
    k->len = 0;
    k->fits = true;
    unsigned char type = (unsigned char)p->type, secure = c->req->secure ? 1 : 0,
                  chained = p->role_chained ? 1 : 0;
    s_key_add(k, &type, 1);
    s_key_str(k, action);
    s_key_str(k, res->arn);
    s_key_str(k, res->account);
    s_key_ptr(k, res->policy);
    s_key_ptr(k, res->tags);
    s_key_str(k, p->account);
    s_key_str(k, p->arn);
    s_key_str(k, p->user_id);
    s_key_str(k, p->name);
    s_key_str(k, p->session_name);
    s_key_str(k, p->role_arn);
    s_key_str(k, p->access_key_id);
    s_key_add(k, &p->token_issued, sizeof(p->token_issued));
    s_key_add(k, &p->token_expires, sizeof(p->token_expires));
    s_key_ptr(k, p->user);
    s_key_add(k, &chained, 1);
    s_key_str(k, p->source_identity);
    s_key_add(k, &secure, 1);
    s_key_str(k, c->req->remote_ip);
    s_key_str(k, c->env->region);
    s_key_ptr(k, c->env->identity);
    return k->fits;
}

/* A hash of the key, eight bytes at a time (the slot only: entries are compared in full). */
static uint64_t s_hash(const unsigned char *b, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const unsigned char *q = b + i; /* one little-endian load, as the compiler sees it */
        uint64_t w = (uint64_t)q[0] | (uint64_t)q[1] << 8 | (uint64_t)q[2] << 16 |
                     (uint64_t)q[3] << 24 | (uint64_t)q[4] << 32 | (uint64_t)q[5] << 40 |
                     (uint64_t)q[6] << 48 | (uint64_t)q[7] << 56;
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ull;
    return h ^ (h >> 29);
}

enum mg_policy_decision mg_authz_decide_cached(const struct mg_call *c, const char *action,
                                               const struct mg_authz_resource *res,
                                               struct mg_policy_explain *ex, char *msg, size_t cap)
{
    struct s_key k;
    struct s_memo *m = s_memo_key(c, action, res, &k) ? s_memo() : NULL;
    struct s_memo_entry *slot = NULL;
    uint64_t h = 0;
    int64_t now = mg_now();
    if (m) {
        h = s_hash(k.b, k.len);
        slot = &m->e[h % S_MEMO_SLOTS];
        if (slot->len == k.len && slot->hash == h && slot->second == now &&
            slot->generation == c->snap->generation && slot->snap == c->snap &&
            mg_memcmp(slot->key, k.b, k.len) == 0) {
            m->stats.hits++;
            return MG_POLICY_ALLOW;
        }
        m->stats.misses++;
    }
    enum mg_policy_decision d = mg_authz_decide(c, action, res, NULL, ex, msg, cap);
    /* the second the decision saw: a decision that straddled two is not remembered */
    if (slot && d == MG_POLICY_ALLOW && mg_now() == now) {
        slot->hash = h;
        slot->generation = c->snap->generation;
        slot->snap = c->snap;
        slot->second = now;
        slot->len = k.len;
        mg_memcpy(slot->key, k.b, k.len);
    }
    return d;
}

bool mg_authz_cached(struct mg_call *c, const char *action, const struct mg_authz_resource *res)
{
    struct mg_policy_explain ex;
    char msg[1024];
    if (mg_authz_decide_cached(c, action, res, &ex, msg, sizeof(msg)) == MG_POLICY_ALLOW)
        return true;
    return s_denied(c, action, res, &ex, msg);
}

struct mg_authz_memo_stats mg_authz_memo_stats(void)
{
    struct s_memo *m = s_memo();
    return m ? m->stats : (struct mg_authz_memo_stats){0};
}

void mg_authz_thread_cleanup(void)
{
    (void)pthread_once(&s_memo_once, s_memo_init);
    if (!s_memo_ready)
        return;
    mg_free(pthread_getspecific(s_memo_tls));
    (void)pthread_setspecific(s_memo_tls, NULL);
}
