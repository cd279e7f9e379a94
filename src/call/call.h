/* src/call/call.h: one request's context below every service, and the narrow environment that
 * services may use.
 *
 * The layers, top to bottom: app (the composition root) -> services (iam, lambda, agentcore, mcp)
 * -> call (this module: the request context, authentication in authn.h, authorization in
 * authz.h) -> aws, sigv4, policy, state. A service sees the environment and its own state, never
 * the HTTP server, the application or another service's state. */
#ifndef MG_CALL_H
#define MG_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "aws/aws.h"
#include "aws/model.h"
#include "base/err.h"
#include "base/slice.h"
#include "http/http.h"
#include "policy/policy.h"
#include "sigv4/sigv4.h"
#include "state/snapshot.h"

/* Event loops the server runs at most (one state reader each). */
#define MG_MAX_LOOPS 64

enum mg_principal_type {
    MG_PRINCIPAL_NONE = 0,
    MG_PRINCIPAL_ROOT,
    MG_PRINCIPAL_USER,
    MG_PRINCIPAL_ASSUMED_ROLE,
    MG_PRINCIPAL_SERVICE,
    MG_PRINCIPAL_JWT, /* a bearer token's holder at a CUSTOM_JWT gateway: never an IAM identity */
};

/* Who made a request, as authentication established it. */
struct mg_principal {
    enum mg_principal_type type;
    char account[13];
    char arn
        [512]; /* arn:aws:iam::A:root, arn:aws:iam::A:user/P/N, arn:aws:sts::A:assumed-role/R/S */
    char user_id[160]; /* A (root), AIDA..., AROA...:session */
    char name[129];    /* user name or role name */
    char session_name[65];
    char role_arn[512]; /* for sessions: the role's ARN */
    char access_key_id[129];
    int64_t token_issued, token_expires; /* sessions */
    const json_t *user; /* the user's or role's document in the snapshot, or NULL */
    /* Sessions: compiled session policies (owned references, released by
     * mg_principal_cleanup) and session tags (owned JSON object {key: value}, or NULL). */
    struct mg_policy *session_policies[11]; /* inline + up to 10 managed ARNs */
    size_t n_session_policies;
    json_t *session_tags;
    bool role_chained;        /* the session was made by a role session (chaining) */
    char source_identity[65]; /* sessions: the SourceIdentity set when the chain began, or "" */
    /* MG_PRINCIPAL_JWT: the verified token's payload (owned reference; iss, sub, client_id or
     * azp, scope or scp, custom claims), never the token itself. */
    json_t *jwt_claims;
};

/* Releases the session policies and tags a principal holds (src/call/principal.c). */
void mg_principal_cleanup(struct mg_principal *p);

struct mg_env;
struct mg_http_client;
struct mg_vault;
struct mg_oidc;

/* What authentication and authorization need of the accounts, users, roles and keys: the IAM
 * module provides it (mg_iam_identity in iam/iam.h), app puts it in the environment. */
struct mg_identity {
    /* A long-term access key of snap: false when there is none or it is inactive; else its
     * secret (valid while snap is held), whether only a server on loopback may accept it (the
     * built-in test key), and in *p the principal it signs as. */
    bool (*find_key)(const struct mg_snapshot *snap, struct mg_slice access_key_id,
                     const char **secret, bool *loopback_only, struct mg_principal *p);
    /* Temporary credentials: the session token, opened with the server's token key, fills p and
     * the secret. Returns MG_SIGV4_OK, MG_SIGV4_UNKNOWN_KEY or MG_SIGV4_EXPIRED_TOKEN. */
    int (*resolve_session)(const uint8_t key[32], const struct mg_snapshot *snap,
                           struct mg_slice access_key_id, struct mg_slice token,
                           struct mg_principal *p, char *secret, size_t secret_cap);
    /* Sets the identity policies and the permissions boundary of p in set (none for the root
     * and for principals without a user or role). */
    void (*policies_of)(const struct mg_snapshot *snap, const struct mg_principal *p,
                        struct mg_policy_set *set);
    /* mcpgate assumes a role on behalf of an AWS service: see mg_call_assume_role_as_service. */
    MG_MUST_USE enum mg_err (*assume_role_as_service)(
        const struct mg_env *env, const struct mg_snapshot *snap, const char *role_arn,
        const char *service, const char *session_name, int64_t duration,
        struct mg_principal *out_principal, char *akid_out, char *secret_out,
        struct mg_buf *token_out, int64_t *expires_out, struct mg_errinfo *ei);
};

/* What services may use of the running server. Filled by app before any service starts; the
 * strings and objects it points to outlive every service. Read-only for services, except the
 * state and store they write through their own API. */
struct mg_env {
    const char *region;
    const char *public_url;           /* how clients reach us, e.g. http://127.0.0.1:4777 */
    const char *gateway_url_template; /* "" or a template with "{id}" (docs/configuration.md) */
    const char *listen_host;          /* the address the server listens on */
    const char *data_dir;
    int64_t clock_skew;     /* seconds */
    size_t tools_page_size; /* tools per MCP tools/list page; 0 = the default */
    struct mg_store *store;
    struct mg_state *state;
    struct mg_state_reader *readers; /* one per event loop, MG_MAX_LOOPS */
    struct mg_sigv4_key_cache *key_cache;
    const uint8_t *token_key;           /* 32 bytes: STS session tokens and MCP session ids */
    const struct mg_identity *identity; /* NULL: every key is unknown, no identity policy */
    struct mg_http_client *http;        /* outbound HTTP (http/client.h); NULL: none */
    struct mg_vault *vault;             /* AgentCore Identity's runtime (vault/vault.h) or NULL */
    struct mg_oidc *oidc; /* OpenID providers' keys for CUSTOM_JWT gateways (oidc/oidc.h) */
};

/* mcpgate assumes a role on behalf of an AWS service (e.g. "bedrock-agentcore.amazonaws.com",
 * "lambda.amazonaws.com"), as a gateway calls its targets and a function runs as its role.
 * Succeeds only if the role exists and its trust policy allows that service principal
 * sts:AssumeRole; otherwise MG_E_DENIED with AWS's wording in ei (also without an identity
 * provider). duration 0 means 3600 (clamped to 900..MaxSessionDuration). On success fills
 * out_principal (the session, for in-process authorization; release with mg_principal_cleanup),
 * the temporary credentials (akid_out >= 21 bytes, secret_out >= 41 bytes, token_out) and
 * *expires_out (epoch seconds). out_principal, token_out and expires_out may be NULL. */
MG_MUST_USE enum mg_err mg_call_assume_role_as_service(
    const struct mg_env *env, const struct mg_snapshot *snap, const char *role_arn,
    const char *service, const char *session_name, int64_t duration,
    struct mg_principal *out_principal, char *akid_out, char *secret_out, struct mg_buf *token_out,
    int64_t *expires_out, struct mg_errinfo *ei);

/* One API call on its way to a service. */
struct mg_call {
    const struct mg_env *env;
    void *service; /* the state of the service handling the call */
    struct mg_http_exchange *x;
    const struct mg_http_req *req;
    struct mg_snapshot *snap;
    struct mg_principal principal;
    struct mg_sigv4_auth auth;
    enum mg_aws_protocol protocol;
    const struct mg_aws_params *params; /* query protocol: the parsed parameters, else NULL */
    struct mg_slice gateway_id;         /* the MCP data plane: the gateway of the URL */
    bool well_known; /* ... asked for its protected-resource metadata (RFC 9728) */
    /* AWS APIs served through mg_call_serve: the model operation, its validated input (a JSON
     * object shaped like the operation's input) and the reply the handler fills. */
    const struct mg_aws_op *op;
    const json_t *input;
    struct mg_aws_reply *reply;
};

/* ---- serving AWS operations (src/call/serve.c) ------------------------------------------- */

/* A service's handler of one model operation. It reads c->input (validated against the model:
 * required members present, lengths, ranges, patterns and enums as the model says) and fills
 * c->reply (mg_aws_reply_json / _xml / _error); it never writes to the exchange, unless it hands
 * the exchange to an asynchronous completion and sets c->reply->deferred. */
typedef void (*mg_call_op_fn)(struct mg_call *c);
struct mg_call_op {
    const char *name; /* the model's operation name, e.g. "CreateRole" */
    mg_call_op_fn fn;
};

/* An AWS API as a service serves it. */
struct mg_call_api {
    const enum mg_aws_service *svcs; /* the models it answers for; the first names it */
    size_t n_svcs;
    const struct mg_call_op *ops; /* its handlers, any order */
    size_t n_ops;
    /* Names the AWS feature of an operation that no handler serves, for the 501's message
     * (e.g. "AgentCore Runtime"), or NULL; may itself be NULL. */
    const char *(*feature)(const struct mg_aws_op *op);
    /* Members the service checks itself in place of the model, as "Operation.Member" (Lambda's
     * Runtime: an enum value or a layer ARN, refused in Lambda's own words), NULL-terminated,
     * or NULL. The handler still finds them in c->input. */
    const char *const *own_members;
    unsigned vflags; /* the validator's dialect (MG_AWS_V_*), 0 for none */
    /* Runs on the assembled input before validation (c->op and c->reply set, c->input not yet),
     * or NULL: rewrites what the service accepts beyond the model's constraints (e.g. an ARN
     * where the model's pattern names an id), or answers a rule of the service that must win
     * over the model's (fills c->reply and returns false). */
    bool (*prepare)(struct mg_call *c, json_t *input);
};

/* Answers one call of an AWS API: routes it by the models (query: the Action parameter of
 * c->params; rest-json: method and path), answers an operation no handler serves with 501 and a
 * name or path no model has with AWS's unknown-operation error, assembles and validates the
 * input, runs the handler and writes the reply, in the protocol's format, in this one place. */
void mg_call_serve(struct mg_call *c, const struct mg_call_api *api);
/* The store could not be reached (state/store.h, mg_store_unavailable): a retryable 503 in the
 * service's form (query: ServiceUnavailable; JSON: ServiceException). mg_call_serve answers so
 * on its own when a handler answered 500 after such a failure. */
void mg_call_reply_unavailable(const struct mg_call *c, struct mg_aws_reply *rep);
/* The handler of ops that serves `op`, or NULL. */
mg_call_op_fn mg_call_op_find(const struct mg_call_op *ops, size_t n_ops,
                              const struct mg_aws_op *op);

/* How a service is reached. */
enum mg_service_protocol {
    MG_SERVICE_QUERY = 0, /* AWS query protocol (form in, XML out), authenticated by SigV4 */
    MG_SERVICE_REST_JSON, /* AWS rest-json, authenticated by SigV4 */
    MG_SERVICE_MCP,       /* the MCP data plane: a gateway URL, authenticated by the service */
};

/* A service as the composition root sees it; each service exports its descriptors from its own
 * header. start() gets the environment and the service's own configuration (or NULL) and returns
 * the service's state in *state; stop() releases it (also after a partial start, and with NULL).
 * handle() answers one call (c->service is the state start returned). */
struct mg_service {
    const char *name; /* the SigV4 signing name ("iam", "lambda", ...), or "mcp" */
    enum mg_service_protocol protocol;
    void (*handle)(struct mg_call *c);
    MG_MUST_USE enum mg_err (*start)(const struct mg_env *env, const void *config, void **state,
                                     struct mg_errinfo *ei);
    void (*stop)(void *state);
};

#endif
