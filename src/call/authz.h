/* src/call/authz.h: authorization of an authenticated call with the IAM policy engine. */
#ifndef MG_AUTHZ_H
#define MG_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "call/call.h"
#include "policy/policy.h"

/* AWS's maxima: 50 tags on an IAM user or role, 50 session tags, 50 tags on a resource, 50 tags
 * in one request (IAM and AgentCore TagResource / Create*). */
#define MG_AUTHZ_MAX_TAGS 50
/* Room for the global keys (about 12), aws:PrincipalTag (session tags plus the user's or role's
 * tags), aws:ResourceTag, and a request's service keys, aws:RequestTag and aws:TagKeys. */
#define MG_AUTHZ_MAX_CONTEXT 256
/* The longest "aws:PrincipalTag/KEY" with its NUL: a tag key is at most 128 characters, so up
 * to 512 bytes of UTF-8. */
#define MG_AUTHZ_TAG_NAME_CAP (17 + 4 * 128 + 1)

/* The resource a call acts on. */
struct mg_authz_resource {
    const char *arn;                /* resource ARN, or "*" */
    const char *account;            /* owner; NULL: from the ARN, else the caller's account */
    const struct mg_policy *policy; /* its resource-based policy, or NULL */
    const json_t *tags;             /* [{"Key","Value"}] or {"k": "v"}: aws:ResourceTag/k */
};

/* Extra request context: service condition keys, aws:RequestTag/..., aws:TagKeys. Values are
 * borrowed for the duration of the call. */
struct mg_authz_extra {
    const struct mg_policy_ctx_entry *entries;
    size_t n;
    /* Set when the builder could not hold every key of the request (more entries or longer
     * names than it has room for): the call is denied, never decided on a partial context. */
    const char *overflow;
};

/* The decision, without answering the client. msg (may be NULL) gets AWS's AccessDenied text. */
enum mg_policy_decision mg_authz_decide(const struct mg_call *c, const char *action,
                                        const struct mg_authz_resource *res,
                                        const struct mg_authz_extra *extra,
                                        struct mg_policy_explain *ex, char *msg, size_t cap);

/* Decides; on a denial answers AccessDenied in the call's protocol (into c->reply under
 * mg_call_serve, else sent on the exchange), writes the explanation to the audit log, and returns
 * false. */
bool mg_authz(struct mg_call *c, const char *action, const struct mg_authz_resource *res,
              const struct mg_authz_extra *extra);

/* The same decisions for a resource whose ARN, account, policy and tags all come from c->snap
 * (the pointers the snapshot holds), without extra request context: an allow is remembered on
 * the calling thread (an event loop) for the same principal, action, resource, request origin
 * (aws:SourceIp, aws:SecureTransport) and snapshot, within the same second, and the next such
 * call returns it without evaluating again. Denials are always evaluated (and audited). A
 * principal with inputs of its own (session policies, session tags, a bearer token) is never
 * remembered, nor a call without a request or a snapshot. On a remembered allow ex and msg are
 * left untouched. */
enum mg_policy_decision mg_authz_decide_cached(const struct mg_call *c, const char *action,
                                               const struct mg_authz_resource *res,
                                               struct mg_policy_explain *ex, char *msg, size_t cap);
/* mg_authz with mg_authz_decide_cached. */
bool mg_authz_cached(struct mg_call *c, const char *action, const struct mg_authz_resource *res);

/* What the calling thread's memory of decisions did (tests). */
struct mg_authz_memo_stats {
    uint64_t hits, misses;
};
struct mg_authz_memo_stats mg_authz_memo_stats(void);
/* Forgets the calling thread's decisions and frees their memory (a thread that exits frees its
 * own). */
void mg_authz_thread_cleanup(void);

/* Logs the explanation of a denial at info level under the audit subsystem. */
void mg_authz_audit(const struct mg_call *c, const char *action, const char *resource,
                    const struct mg_policy_explain *ex, const char *msg);

/* Fills a policy request (principal part and global condition keys) for principal p. ctx must
 * have room for MG_AUTHZ_MAX_CONTEXT entries; storage holds values that need formatting. When a
 * key does not fit (more tags than AWS allows, a tag key longer than 128 bytes), st->overflow
 * names the reason and the request must be denied: a missing key could turn a Deny's condition
 * false or a ForAllValues true. The tag names live in a per-thread buffer that the next
 * fill_request on the thread reuses. */
struct mg_authz_storage {
    char epoch[24], now[24], secure[8], token_issued[24];
    const char *overflow; /* NULL, or why the context is incomplete */
    /* every aws:PrincipalTag (session and entity tags) and aws:ResourceTag name of the decision:
     * on the caller's stack (about 80 KB, touched only as far as used), not in thread-local
     * storage, which the C library clears for every thread the process starts */
    char tag_keys[3 * MG_AUTHZ_MAX_TAGS][MG_AUTHZ_TAG_NAME_CAP];
    size_t tags_used;
};
void mg_authz_fill_request(const struct mg_principal *p, const struct mg_http_req *r,
                           const char *region, struct mg_policy_request *req,
                           struct mg_policy_ctx_entry *ctx, size_t *n_ctx,
                           struct mg_authz_storage *st);

#endif
