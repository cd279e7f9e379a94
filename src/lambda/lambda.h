/* src/lambda/lambda.h: Lambda functions that run locally, as seen from other modules.
 *
 * The Lambda API itself (CreateFunction, Invoke, ...) is served by mg_lambda_service. This
 * header is the in-process interface: the MCP data plane invokes a Lambda target with
 * mg_lambda_invoke_async after authorizing lambda:InvokeFunction itself (with the function's
 * resource-based policy from mg_lambda_function_policy).
 *
 * Store documents (kind / account / key -> JSON):
 *   function / ACCOUNT / NAME   the function's configuration as GetFunctionConfiguration returns
 *                               it, plus "Tags" {k: v}, "Policy" (resource-based policy text, or
 *                               absent) and "PolicyRevisionId".
 *   lambda_code / ACCOUNT / HEX the code package HEX (its SHA-256) of the account's functions:
 *                               {"Sha256","Size","ChunkSize","Parts"}, the zip itself in the
 *                               store's chunks of the same name (src/lambda/codeblob.c).
 * Each node unzips the code into DATA/lambda/cache/ACCOUNT/<sha256-hex>/ (directories 0700) in the
 * background after Create/UpdateFunctionCode, or when a runtime process first needs it. */
#ifndef MG_LAMBDA_H
#define MG_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/slice.h"
#include "policy/policy.h"
#include "state/snapshot.h"

struct mg_env;
struct mg_lambda;

/* The Lambda module's settings (mcpgate serve options, docs/configuration.md). */
struct mg_lambda_config {
    char runtimes_dir[1024]; /* bootstraps; "" = next to the executable, then ./runtimes */
    int concurrency;         /* runtime processes per function; 0 = 10 */
    int idle_seconds;        /* idle runtime processes are stopped after this; 0 = 300 */
    int queue;               /* invocations waiting per function before 429; 0 = 100 */
    uint64_t code_storage;   /* code bytes per account (zips + unpacked); 0 = env/default */
    int isolation;           /* enum mg_lambda_isolation: 0 auto, 1 sandbox, 2 none */
};

/* The Lambda API (rest-json), for the composition root (struct mg_service in call/call.h). Its
 * start takes a const struct mg_lambda_config * and returns the struct mg_lambda * that
 * mg_lambda_invoke_async takes. */
struct mg_service;
extern const struct mg_service mg_lambda_service;
/* The operations it serves and their handlers (src/lambda/api.c), for mg_call_serve; a unit
 * test compares it with src/aws/served.txt. */
struct mg_call_api;
extern const struct mg_call_api mg_lambda_api;

/* Payload limit of a synchronous invocation, request and response (Lambda's 6 MB). */
#define MG_LAMBDA_PAYLOAD_MAX (6u * 1024u * 1024u)
/* Payload limit of an asynchronous (Event) invocation. */
#define MG_LAMBDA_EVENT_PAYLOAD_MAX (1024u * 1024u)

enum mg_lambda_outcome {
    MG_LAMBDA_OK = 0,         /* payload: the function's response payload (JSON text) */
    MG_LAMBDA_FUNCTION_ERROR, /* the handler raised, or init failed, or the runtime exited:
                                 payload is Lambda's error JSON {"errorMessage","errorType",
                                 "stackTrace"}; error_type / error_message are filled */
    MG_LAMBDA_TIMEOUT,        /* the function ran past its Timeout: payload is the error JSON
                                 Lambda returns ("... Task timed out after N.NN seconds") */
    MG_LAMBDA_NOT_FOUND,      /* no such function */
    MG_LAMBDA_THROTTLED,      /* concurrency limit and queue full (TooManyRequestsException) */
    MG_LAMBDA_TOO_LARGE,      /* request or response payload over MG_LAMBDA_PAYLOAD_MAX */
    MG_LAMBDA_INTERNAL,       /* could not start the runtime, server stopping, out of memory */
    MG_LAMBDA_CODE_ERROR,     /* the function's code is damaged or missing in the store
                                 (InvalidZipFileException); error_message says what */
};

/* The end of one invocation. Everything it points to is valid only during the callback. */
struct mg_lambda_result {
    enum mg_lambda_outcome outcome;
    struct mg_slice payload;      /* see enum mg_lambda_outcome; empty for NOT_FOUND/THROTTLED */
    const char *error_type;       /* non-NULL unless OK: "Runtime.ImportModuleError",
                                     "Sandbox.Timedout", "ResourceNotFoundException", ... */
    const char *error_message;    /* non-NULL unless OK: human-readable reason */
    const char *function_arn;     /* the unqualified ARN when the function was found, else NULL */
    const char *executed_version; /* "$LATEST" when it ran, else NULL */
    const char *request_id;       /* the invocation's aws_request_id (always set) */
    struct mg_slice log_tail;     /* the invocation's log, START to REPORT, last 4 KB */
};

/* Called exactly once per accepted mg_lambda_invoke_async, on a thread of the Lambda module (never
 * on an event loop of the main server, never inside mg_lambda_invoke_async itself). It must not
 * block for long: hand the result on (for example fill an exchange and call
 * mg_http_send_from_thread) and return. */
typedef void (*mg_lambda_done_fn)(void *user, const struct mg_lambda_result *res);

/* Invokes a function synchronously (RequestResponse semantics) without blocking the caller.
 *   function: a function name ("my-fn"), a partial ARN ("123456789012:function:my-fn") or a full
 *             ARN ("arn:aws:lambda:REGION:ACCOUNT:function:my-fn", optionally ":$LATEST").
 *   account:  the account a bare name is looked up in (ignored when the ARN names one).
 *   payload:  the event (JSON text, at most MG_LAMBDA_PAYLOAD_MAX bytes); copied.
 *   client_context_json: the JSON object the handler sees as context.client_context, for example
 *             {"custom": {...}}; empty slice for none; copied.
 * No authorization is done here: the caller authorizes lambda:InvokeFunction itself.
 * Returns MG_E_OK when the invocation was accepted (done will be called later, exactly once, even
 * for NOT_FOUND, THROTTLED, TIMEOUT ...); an error (MG_E_INVALID for a malformed name,
 * MG_E_TOO_LARGE for a payload over MG_LAMBDA_PAYLOAD_MAX, MG_E_NOMEM, MG_E_INTERNAL when the
 * module is not running) means done will never be called. */
MG_MUST_USE enum mg_err mg_lambda_invoke_async(struct mg_lambda *L, const char *function,
                                               const char *account, struct mg_slice payload,
                                               struct mg_slice client_context_json,
                                               mg_lambda_done_fn done, void *user);

/* The compiled resource-based policy of a function (written by AddPermission), built into every
 * snapshot, or NULL when the function has none or does not exist. function_arn is the unqualified
 * ARN (a ":$LATEST" qualifier is accepted too). Valid as long as the caller holds snap; pass it as
 * mg_authz_resource.policy. */
const struct mg_policy *mg_lambda_function_policy(const struct mg_snapshot *snap,
                                                  const char *function_arn);

/* The function's configuration document in snap (see above), or NULL. function: as for
 * mg_lambda_invoke_async. */
const json_t *mg_lambda_function_doc(const struct mg_snapshot *snap, const char *function,
                                     const char *account);

/* Name resolution: splits a function name, partial ARN or full ARN (with an optional qualifier)
 * into account (empty when not given), name and qualifier (empty when not given). false when the
 * input is not a valid function identifier. */
struct mg_lambda_name {
    char partition[32]; /* "" unless an ARN */
    char region[32];
    char account[13];
    char name[65];
    char qualifier[130];
};
bool mg_lambda_parse_name(const char *in, struct mg_lambda_name *out);
/* Whether n names a function this server can hold: a name or partial ARN, or an ARN of partition
 * aws in `region` (the server's). When it cannot, why gets Lambda's ResourceNotFoundException
 * message ("Functions from 'R' are not reachable in this region ('S')"); in is the name as given,
 * for that message. A function of another region or partition never resolves to a local one. */
bool mg_lambda_name_is_local(const struct mg_lambda_name *n, const char *in, const char *region,
                             char *why, size_t cap);

/* Registers the Lambda code records (kind lambda_code) as store-only: no snapshot holds them.
 * Call before the first snapshot (the composition root does). */
void mg_lambda_register_docs(void);

/* Registers the Lambda snapshot extension; called by mg_lambda_start, idempotent. */
void mg_lambda_init(void);

#endif
