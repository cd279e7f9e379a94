/* src/iam/iam.h: accounts, users, roles, access keys and sessions; who a request comes from.
 *
 * Documents in the store (kind / account / key -> JSON):
 *   account    / ID / ID        {"id", "createDate"}
 *   access_key / ID / AKID      {"accessKeyId", "secretAccessKey", "userName" (absent: root),
 *                                "status": "Active"|"Inactive", "createDate"}
 *   user       / ID / NAME      {"UserName", "Path", "UserId", "Arn", "CreateDate", "Tags": [],
 *                                "InlinePolicies": {NAME: DOCUMENT-TEXT}, "AttachedPolicies": [ARN],
 *                                "PermissionsBoundary": ARN (optional)}
 *   role       / ID / NAME      {"RoleName", "Path", "RoleId", "Arn", "CreateDate",
 *                                "AssumeRolePolicyDocument": TEXT, "Description",
 *                                "MaxSessionDuration", "Tags", "InlinePolicies",
 *                                "AttachedPolicies", "PermissionsBoundary"}
 *   policy     / ID / NAME      customer managed policy {"PolicyName", "PolicyId", "Arn", "Path",
 *                                "DefaultVersionId", "Versions": [{"VersionId", "Document",
 *                                "CreateDate"}], "CreateDate", "UpdateDate", "Description", "Tags"}
 * Dates are ISO 8601 strings ("2026-11-28T01:02:03Z"). Policy documents are kept as the text the
 * client sent. */
#ifndef MG_IAM_H
#define MG_IAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "call/call.h"
#include "policy/policy.h"
#include "state/snapshot.h"

/* Compiled identity policies of a user or role (inline and attached managed, customer or AWS
 * managed) and its permissions boundary, built into every snapshot. */
struct mg_iam_entity_policies {
    struct mg_policy **identity;
    size_t n_identity;
    struct mg_policy **boundary;
    size_t n_boundary;
};
/* NULL for root and for principals without a user or role. */
const struct mg_iam_entity_policies *mg_iam_policies_of(const struct mg_snapshot *snap,
                                                        const struct mg_principal *p);
/* An AWS managed policy's document ("arn:aws:iam::aws:policy/..."), or NULL. */
const char *mg_iam_aws_managed_policy(const char *arn);
/* The AWS managed policies mcpgate knows, with what GetPolicy shows of them. */
struct mg_iam_aws_policy {
    const char *name, *path, *arn, *id, *version, *created, *updated, *description, *document;
};
const struct mg_iam_aws_policy *mg_iam_aws_policies(size_t *n);
const struct mg_iam_aws_policy *mg_iam_aws_policy_find(const char *arn);
/* A compiled managed policy (customer managed in the snapshot, or AWS managed), or NULL. */
const struct mg_policy *mg_iam_managed_policy(const struct mg_snapshot *snap, const char *arn);

/* The key table: access key id -> secret and owner, built into every snapshot. */
struct mg_iam_key {
    const char *access_key_id;
    const char *secret;
    const char *account;
    const json_t *user; /* NULL for the account root */
    bool active;
    bool loopback_only; /* the built-in test key: refused unless the server listens on loopback */
};

/* Registers the IAM snapshot extension; call once at start-up. */
void mg_iam_init(void);
const struct mg_iam_key *mg_iam_find_key(const struct mg_snapshot *snap, struct mg_slice akid);
/* Fills p for a long-term key. */
void mg_iam_principal_from_key(const struct mg_iam_key *k, struct mg_principal *p);

/* Hosted accounts from an identities file (see docs/configuration.md). Validates the whole file
 * first (ei names the place: "accounts[0].users[1].name: ..."), then applies it to the store
 * idempotently: existing ids and creation dates are kept, nothing is duplicated. The file is the
 * source of truth for what came from it: keys, users and roles that an earlier start applied
 * (from a file, or the built-in test key) and the file no longer lists are removed. Entities
 * created through the API are left alone. */
MG_MUST_USE enum mg_err mg_iam_apply_identities(struct mg_state *st, const char *path,
                                                struct mg_errinfo *ei);
/* Without a file: account 000000000000 with root key test / test, marked loopback-only. What an
 * earlier file applied is kept (and removed by the next start with a file that lacks it). */
MG_MUST_USE enum mg_err mg_iam_apply_default_identities(struct mg_state *st, struct mg_errinfo *ei);
/* The identities at start-up. On a store one node uses (shared false) the file, or without one
 * the built-in default, is applied as by the two functions above. On a store several nodes share
 * (PostgreSQL), the store's meta "identities.content" records the content hash
 * (mg_iam_identities_hash) of what was applied and from what ("file" or "default"), and:
 *   - nothing recorded yet: the first node applies its file (or the default);
 *   - the same file's content: nothing is written (outcome SAME);
 *   - no file: the store's identities are used as they are (FROM_STORE), unless it has none;
 *   - a file over the built-in default: applied;
 *   - another file's content: refused (MG_E_CONFLICT, ei says what differs and the ways out),
 *     unless update (--identities-update) is set: then it is applied for every node.
 * Two nodes starting together decide once: the record is inserted (or swapped) in the
 * transaction that applies the file. */
enum mg_iam_identities_outcome {
    MG_IAM_IDENTITIES_APPLIED = 0, /* the file (or the default) was applied */
    MG_IAM_IDENTITIES_SAME,        /* the store holds this file's content already */
    MG_IAM_IDENTITIES_FROM_STORE,  /* no file: the store's identities are used */
};
struct mg_iam_identities_start {
    const char *path;                       /* the identities file, or NULL */
    bool shared;                            /* the store is shared by several nodes */
    bool update;                            /* apply a file that differs from the store's */
    enum mg_iam_identities_outcome outcome; /* out */
    bool store_has_file; /* out: the identities in use came from a file, not the test key */
};
MG_MUST_USE enum mg_err mg_iam_start_identities(struct mg_state *st,
                                                struct mg_iam_identities_start *o,
                                                struct mg_errinfo *ei);
/* The content hash of an identities document (validated first): hex SHA-256 of its canonical
 * JSON (object keys sorted, no whitespace, non-ASCII escaped; arrays in order). */
MG_MUST_USE enum mg_err mg_iam_identities_hash(struct mg_slice text, char hex[65],
                                               struct mg_errinfo *ei);
/* Parses and validates an identities document held in memory, as mg_iam_apply_identities does,
 * without applying it (the fuzzer's entry point). */
MG_MUST_USE enum mg_err mg_iam_check_identities(struct mg_slice text, struct mg_errinfo *ei);

/* Temporary credentials (ASIA keys): the session token is an authenticated, encrypted token that
 * carries the secret and the session, so it verifies without a store lookup. Fills p and the
 * secret to verify the signature with. Returns MG_SIGV4_OK, MG_SIGV4_UNKNOWN_KEY or
 * MG_SIGV4_EXPIRED_TOKEN (as int, to keep this header free of sigv4.h). key: the server's token
 * key. */
int mg_sts_session_resolve(const uint8_t key[32], const struct mg_snapshot *snap,
                           struct mg_slice access_key_id, struct mg_slice token,
                           struct mg_principal *p, char *secret, size_t secret_cap);

/* What a session token carries (see src/iam/session.c). Strings are NUL-terminated. */
struct mg_sts_session {
    char access_key_id[21]; /* ASIA + 16 */
    char secret[41];
    char account[13];
    char role_arn[512]; /* arn:aws:iam::A:role/PATH/NAME */
    char role_id[32];   /* AROA... */
    char session_name[65];
    int64_t issued, expires;
    bool chained;             /* made by a role session */
    char source_identity[65]; /* set once (AssumeRole SourceIdentity), kept along the chain */
    char *policy;             /* inline session policy text (mg_free), or NULL */
    char *policy_arns[10];    /* session policy ARNs (mg_free) */
    size_t n_policy_arns;
    json_t *tags; /* session tags {key: value} (owned), or NULL */
};
void mg_sts_session_cleanup(struct mg_sts_session *s);

/* Issues a session: fills the credentials (access key id, secret, issue and expiry times from
 * mg_now() and duration) in s, then seals s into token_out (base64). */
MG_MUST_USE enum mg_err mg_sts_session_issue(const uint8_t key[32], struct mg_sts_session *s,
                                             int64_t duration, struct mg_buf *token_out);
/* Opens a token sealed with key: MG_E_AUTH when it is garbage, tampered with or sealed with
 * another key (expiry is not checked here). */
MG_MUST_USE enum mg_err mg_sts_session_open(const uint8_t key[32], struct mg_slice token,
                                            struct mg_sts_session *out);

/* Fills p for a session: the assumed-role principal, its session policies (compiled, cached) and
 * tags. When the role no longer exists in snap (or was created again), the principal still
 * resolves but a deny-everything session policy leaves it no identity-based permission. False
 * (out of memory) when a session policy or tag could not be installed: p must not be used. */
bool mg_sts_principal_from_session(const struct mg_snapshot *snap, const struct mg_sts_session *s,
                                   struct mg_principal *p);

/* Compiles a policy text of a kind, sharing compiled policies across requests through a small
 * thread-safe cache keyed by (kind, text). Returns a new reference (mg_policy_unref), or NULL
 * with ei set. */
struct mg_policy *mg_iam_policy_cached(enum mg_policy_kind kind, struct mg_slice text,
                                       const char *label, struct mg_errinfo *ei);

/* Drops every cached compiled policy (at shutdown, and in tests that count live blocks). */
void mg_iam_policy_cache_clear(void);

/* mcpgate assumes a role on behalf of an AWS service (e.g. "bedrock-agentcore.amazonaws.com",
 * "lambda.amazonaws.com"). Succeeds only if the role exists and its trust policy allows that
 * service principal sts:AssumeRole; otherwise MG_E_DENIED with AWS's wording in ei. duration 0
 * means 3600 (clamped to 900..MaxSessionDuration). On success fills out_principal (the session,
 * for in-process authorization; release with mg_principal_cleanup), the temporary credentials
 * (akid_out >= 21 bytes, secret_out >= 41 bytes, token_out) and *expires_out (epoch seconds).
 * out_principal, token_out and expires_out may be NULL. Other modules reach it as
 * mg_call_assume_role_as_service (call/call.h). */
MG_MUST_USE enum mg_err mg_sts_assume_role_as_service(
    const struct mg_env *env, const struct mg_snapshot *snap, const char *role_arn,
    const char *service, const char *session_name, int64_t duration,
    struct mg_principal *out_principal, char *akid_out, char *secret_out, struct mg_buf *token_out,
    int64_t *expires_out, struct mg_errinfo *ei);

/* What the call layer needs of IAM to authenticate and authorize (struct mg_identity in
 * call/call.h): long-term keys, session tokens, compiled identity policies. */
extern const struct mg_identity mg_iam_identity;

/* The IAM and STS APIs (query protocol), for the composition root (struct mg_service in
 * call/call.h). Both are stateless: the state lives in the snapshot and the store. */
struct mg_service;
extern const struct mg_service mg_iam_service;
extern const struct mg_service mg_sts_service;
/* What they serve: the handlers of the IAM and STS model operations (src/aws/served.txt lists
 * the same operations). */
extern const struct mg_call_api mg_iam_api;
extern const struct mg_call_api mg_sts_api;

/* Ids as AWS makes them: prefix + 17 (user/role/policy) or 16 (access keys) of [A-Z2-7]. */
void mg_iam_new_id(const char *prefix, char out[32]);

#endif
