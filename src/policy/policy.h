/* src/policy/policy.h: the IAM policy language. Parse and validate a policy document, compile it
 * once into an immutable, refcounted struct mg_policy, then evaluate requests against sets of
 * compiled policies with AWS's evaluation logic. Pure: no I/O, no logging. Evaluation never
 * allocates. */
#ifndef MG_POLICY_H
#define MG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"

/* ---- documents ---------------------------------------------------------------------------- */

enum mg_policy_kind {
    MG_POLICY_KIND_IDENTITY = 0, /* user/role inline or managed policy: no Principal allowed */
    MG_POLICY_KIND_RESOURCE,     /* resource-based policy (gateway, function): Principal required */
    MG_POLICY_KIND_TRUST,        /* role trust policy: Principal required, sts:* actions only */
    MG_POLICY_KIND_SESSION,      /* session policy passed to AssumeRole: identity grammar */
    MG_POLICY_KIND_BOUNDARY,     /* permissions boundary: identity grammar */
};

/* Size limits, counted in non-whitespace characters as IAM does. */
#define MG_POLICY_LIMIT_USER_INLINE 2048u
#define MG_POLICY_LIMIT_ROLE_INLINE 10240u
#define MG_POLICY_LIMIT_GROUP_INLINE 5120u
#define MG_POLICY_LIMIT_MANAGED 6144u
#define MG_POLICY_LIMIT_TRUST 2048u /* AWS default quota, adjustable to 4096 */
#define MG_POLICY_LIMIT_SESSION 2048u
#define MG_POLICY_LIMIT_RESOURCE 20480u /* AgentCore resource policy */
/* Raw byte ceiling on any document, whitespace included (protects the parser). */
#define MG_POLICY_LIMIT_RAW (256u * 1024u)

/* Returns the default limit for a kind (identity: managed policy size). */
size_t mg_policy_default_limit(enum mg_policy_kind kind);
/* Non-whitespace characters (UTF-8 code points) in a document: what IAM compares to its limits. */
size_t mg_policy_count_chars(struct mg_slice doc);

struct mg_policy_parse_opts {
    enum mg_policy_kind kind;
    size_t max_chars;  /* 0: mg_policy_default_limit(kind) */
    const char *label; /* copied; names the policy in explanations ("inline:foo", an ARN...). */
};

/* A compiled policy. Immutable after mg_policy_parse; share it with mg_policy_ref. */
struct mg_policy;

/* Parses, validates and compiles a JSON policy document. On failure *out is NULL, the return is
 * MG_E_PARSE (malformed: ei->msg holds IAM's MalformedPolicyDocument wording, naming the
 * statement), MG_E_TOO_LARGE (size limit: ei->msg holds IAM's LimitExceeded wording) or
 * MG_E_NOMEM. ei may be NULL. */
MG_MUST_USE enum mg_err mg_policy_parse(struct mg_slice doc,
                                        const struct mg_policy_parse_opts *opts,
                                        struct mg_policy **out, struct mg_errinfo *ei);
/* Thread-safe atomic refcount. mg_policy_ref returns p; mg_policy_unref(NULL) is a no-op. */
struct mg_policy *mg_policy_ref(struct mg_policy *p);
void mg_policy_unref(struct mg_policy *p);

enum mg_policy_kind mg_policy_kind_of(const struct mg_policy *p);
const char *mg_policy_label(const struct mg_policy *p); /* never NULL */
size_t mg_policy_statement_count(const struct mg_policy *p);
/* Sid of statement i, or NULL when it has none. */
const char *mg_policy_statement_sid(const struct mg_policy *p, size_t i);
/* "Sid" or "#<index>" for statement i into out (always NUL-terminated). */
void mg_policy_statement_name(const struct mg_policy *p, size_t i, char *out, size_t cap);

/* Advisory warnings for risky but valid patterns (Allow + NotAction / NotResource, "*"
 * principals without conditions, NotPrincipal with Allow). Calls fn once per warning. */
typedef void (*mg_policy_warn_fn)(void *user, const char *msg);
void mg_policy_lint(const struct mg_policy *p, mg_policy_warn_fn fn, void *user);

/* ---- requests ----------------------------------------------------------------------------- */

enum mg_policy_principal_type {
    MG_POLICY_PRINCIPAL_ANONYMOUS = 0,
    MG_POLICY_PRINCIPAL_ACCOUNT, /* the account root user */
    MG_POLICY_PRINCIPAL_USER,
    MG_POLICY_PRINCIPAL_ASSUMED_ROLE,
    MG_POLICY_PRINCIPAL_FEDERATED_USER,
    MG_POLICY_PRINCIPAL_SERVICE,
};

/* One context key with one or more values. Keys compare case-insensitively. A key with zero
 * values is treated as present but empty (ForAllValues true, ForAnyValue false). */
struct mg_policy_ctx_entry {
    struct mg_slice key;
    const struct mg_slice *values; /* NULL: the single value is `value` */
    size_t n_values;               /* ignored when values is NULL */
    struct mg_slice value;
};

struct mg_policy_request {
    enum mg_policy_principal_type principal_type;
    struct mg_slice principal_arn;      /* caller ARN (session ARN for role sessions); printed in
                                          AccessDenied messages */
    struct mg_slice principal_account;  /* 12 digits; empty for anonymous and services */
    struct mg_slice role_arn;           /* sessions: arn:aws:iam::A:role/PATH/NAME (with path) */
    struct mg_slice unique_id;          /* AIDA... / AROA... (without ":session"), optional */
    struct mg_slice service;            /* service principal, e.g. lambda.amazonaws.com */
    struct mg_slice federated_provider; /* web identity / SAML provider, optional */
    /* Root rule: when set and the principal's account owns the resource, everything is allowed
     * unless explicitly denied (boundaries and session policies do not apply to root). */
    bool is_root;
    struct mg_slice action;           /* service:Action */
    struct mg_slice resource;         /* resource ARN or "*" */
    struct mg_slice resource_account; /* owner of the resource; empty: same as the principal's */
    const struct mg_policy_ctx_entry *context;
    size_t n_context;
};

/* Looks up a context key (case-insensitive); NULL when absent. */
const struct mg_policy_ctx_entry *mg_policy_ctx_find(const struct mg_policy_request *req,
                                                     struct mg_slice key);

/* ---- decisions ---------------------------------------------------------------------------- */

enum mg_policy_decision { MG_POLICY_IMPLICIT_DENY = 0, MG_POLICY_ALLOW, MG_POLICY_EXPLICIT_DENY };

/* Everything that applies to one request. Arrays may be empty; NULL entries are skipped. A
 * boundary given as several policies acts as one (an allow in any of them counts); so do the
 * session policies (inline plus managed ARNs). */
struct mg_policy_set {
    const struct mg_policy *const *identity;
    size_t n_identity;
    const struct mg_policy *const *boundary; /* none: no permissions boundary */
    size_t n_boundary;
    const struct mg_policy *const *session; /* none: no session policy */
    size_t n_session;
    const struct mg_policy *resource; /* NULL: the resource has no resource-based policy */
};

enum mg_policy_source {
    MG_POLICY_SRC_IDENTITY = 0,
    MG_POLICY_SRC_RESOURCE,
    MG_POLICY_SRC_BOUNDARY,
    MG_POLICY_SRC_SESSION,
};

enum mg_policy_reason {
    MG_POLICY_REASON_NONE = 0,          /* allowed */
    MG_POLICY_REASON_EXPLICIT_DENY,     /* see deny.source */
    MG_POLICY_REASON_NO_IDENTITY_ALLOW, /* no identity-based policy allows */
    MG_POLICY_REASON_NO_RESOURCE_ALLOW, /* cross-account (or trust policy) without a resource allow */
    MG_POLICY_REASON_NO_BOUNDARY_ALLOW,
    MG_POLICY_REASON_NO_SESSION_ALLOW,
};

/* How the request was allowed. */
enum mg_policy_grant {
    MG_POLICY_GRANT_NONE = 0,
    MG_POLICY_GRANT_ROOT,     /* account root in its own account */
    MG_POLICY_GRANT_IDENTITY, /* identity ∩ boundary ∩ session */
    MG_POLICY_GRANT_RESOURCE, /* same-account resource policy on its own */
    MG_POLICY_GRANT_BOTH,     /* cross-account: identity side and resource side */
};

/* A statement that matched. Pointers borrow from the policies passed in. */
struct mg_policy_hit {
    enum mg_policy_source source;
    const struct mg_policy *policy;
    uint32_t statement;
    bool allow;
};

#define MG_POLICY_EXPLAIN_HITS 16

/* Filled by mg_policy_evaluate when non-NULL. Fixed size: no allocation. */
struct mg_policy_explain {
    enum mg_policy_decision decision;
    enum mg_policy_reason reason;
    enum mg_policy_grant grant;
    bool cross_account;
    bool identity_allows, resource_allows, boundary_allows, session_allows;
    bool has_boundary, has_session, has_resource_policy;
    struct mg_policy_hit deny; /* first explicit deny, when reason is EXPLICIT_DENY */
    struct mg_policy_hit hits[MG_POLICY_EXPLAIN_HITS];
    size_t n_hits;
    bool hits_truncated;
};

/* The decision for req under set. Allocates nothing; safe to call concurrently. */
enum mg_policy_decision mg_policy_evaluate(const struct mg_policy_set *set,
                                           const struct mg_policy_request *req,
                                           struct mg_policy_explain *ex);

/* Wording used in AccessDenied messages: "identity-based policy", "resource-based policy",
 * "permissions boundary", "session policy". */
const char *mg_policy_source_str(enum mg_policy_source s);
const char *mg_policy_decision_str(enum mg_policy_decision d); /* Allowed / ImplicitlyDenied /
                                                                  ExplicitlyDenied */
const char *mg_policy_reason_str(enum mg_policy_reason r);     /* short machine name */

/* AWS's AccessDenied text: "User: ARN is not authorized to perform: ACTION on resource: ARN
 * because no identity-based policy allows the ACTION action" or "... with an explicit deny in a
 * resource-based policy", and so on. Writes at most cap bytes (NUL-terminated, truncated if
 * needed); returns the length the full message needs (snprintf-like). */
size_t mg_policy_denied_message(const struct mg_policy_explain *ex,
                                const struct mg_policy_request *req, char *out, size_t cap);

/* ---- offline simulation (the `mcpgate policy simulate` case format) ------------------------- */

/* Runs one simulate case given as JSON text:
 *   {"identityPolicies": [...], "resourcePolicy": {...}|null, "resourcePolicyType": "resource"|"trust",
 *    "permissionBoundaries": [...], "sessionPolicy": {...}|null,
 *    "request": {"principal": ARN, "action": A, "resource": ARN, "context": {k: v|[v...]},
 *                "principalType", "isRoot", "roleArn", "uniqueId", "service"  (all optional)},
 *    "resourceAccount": "111122223333"}
 * Policies may be JSON objects or strings holding a document. Unknown top-level fields are
 * ignored (test vectors add "name", "expect", "source"). Server-filled context keys that follow
 * from principal and resource are added when the case does not set them. Writes the result
 * object {"decision": ..., "explanation": {...}} into out and the decision into *decision. On
 * invalid input returns MG_E_INVALID (or MG_E_PARSE / MG_E_TOO_LARGE for a bad policy) with a
 * message in ei. */
MG_MUST_USE enum mg_err mg_policy_simulate_json(struct mg_slice input, struct mg_buf *out,
                                                enum mg_policy_decision *decision,
                                                struct mg_errinfo *ei);

#endif
