/* src/aws/model.h: the AWS operation layer. The tables of the five AWS models mcpgate carries
 * (IAM, STS, Lambda, bedrock-agentcore-control, bedrock-agentcore), generated into
 * src/aws/model_gen.c by scripts/gen-aws-model, and what is driven by them: the routers (query
 * Action, rest-json method + path), the assembly of a request into one JSON object shaped like
 * the operation's input, the validator (AWS's wording), and the reply that a handler fills and
 * that is written in one place. Nothing here knows struct mg_call.
 *
 * How a service uses it (the order of a request):
 *
 *     struct mg_aws_route rt;
 *     static const enum mg_aws_service svcs[] = {MG_AWS_SVC_AGENTCORE_CONTROL, MG_AWS_SVC_AGENTCORE};
 *     struct mg_aws_reply rep;
 *     mg_aws_reply_init(&rep);
 *     if (!mg_aws_route_rest(svcs, 2, req->method, req->path, req->query, &rt)) {
 *         mg_aws_reply_unknown_rest(&rep, svcs[0], req->method, req->path);   // 404
 *     } else if (<no handler for rt.op>) {
 *         mg_aws_reply_not_implemented(&rep, rt.op, NULL);                  // 501
 *     } else {
 *         json_t *in = NULL;
 *         struct mg_aws_verrors ve;
 *         struct mg_aws_request ar;
 *         mg_aws_request_from_http(&ar, req);
 *         if (mg_aws_input_rest(rt.op, &rt, &ar, &in, &rep) == MG_E_OK &&
 *             !mg_aws_validate(rt.op, in, &ve))
 *             mg_aws_reply_validation(&rep, rt.op, &ve);                    // 400
 *         else if (in)
 *             handler(in, &rep);   // fills rep: mg_aws_reply_json / _xml / _error
 *         json_decref(in);
 *     }
 *     mg_aws_reply_send(x, MG_AWS_REST_JSON, req->request_id, &rep);
 *     mg_aws_reply_cleanup(&rep);
 *
 * Query services do the same with mg_aws_route_query (the Action parameter) and
 * mg_aws_input_query (the decoded struct mg_aws_params). */
#ifndef MG_AWS_MODEL_H
#define MG_AWS_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"
#include "base/err.h"
#include "base/slice.h"
#include "http/http.h"

struct mg_aws_reply;

/* ---- the tables (src/aws/model_gen.c) --------------------------------------------------- */

enum mg_aws_service { /* the order of scripts/gen-aws-model's SERVICES */
                      MG_AWS_SVC_IAM = 0,
                      MG_AWS_SVC_STS,
                      MG_AWS_SVC_LAMBDA,
                      MG_AWS_SVC_AGENTCORE_CONTROL, /* signing name bedrock-agentcore */
                      MG_AWS_SVC_AGENTCORE,         /* the data plane's model, same signing name */
};
#define MG_AWS_SVC_COUNT 5

enum mg_aws_wire { MG_AWS_WIRE_QUERY = 0, MG_AWS_WIRE_REST_JSON, MG_AWS_WIRE_JSON };

enum mg_aws_type {
    MG_AWS_T_STRUCTURE = 0, /* also unions (MG_AWS_S_UNION) */
    MG_AWS_T_LIST,
    MG_AWS_T_MAP,
    MG_AWS_T_STRING,
    MG_AWS_T_INTEGER,
    MG_AWS_T_LONG,
    MG_AWS_T_FLOAT,
    MG_AWS_T_DOUBLE,
    MG_AWS_T_BOOLEAN,
    MG_AWS_T_TIMESTAMP,
    MG_AWS_T_BLOB,
    MG_AWS_T_DOCUMENT, /* any JSON */
};

enum mg_aws_location {
    MG_AWS_LOC_BODY = 0,
    MG_AWS_LOC_URI,
    MG_AWS_LOC_QUERYSTRING,
    MG_AWS_LOC_HEADER,
    MG_AWS_LOC_HEADERS, /* a map: every header starting with locationName */
    MG_AWS_LOC_STATUS_CODE,
};

enum mg_aws_method {
    MG_AWS_GET = 0,
    MG_AWS_POST,
    MG_AWS_PUT,
    MG_AWS_DELETE,
    MG_AWS_PATCH,
    MG_AWS_HEAD
};

/* shape flags */
#define MG_AWS_S_SENSITIVE 0x01u /* values never echoed in messages */
#define MG_AWS_S_MIN 0x02u       /* min holds a bound (length or range) */
#define MG_AWS_S_MAX 0x04u
#define MG_AWS_S_UNION 0x08u
#define MG_AWS_S_FLATTENED 0x10u
#define MG_AWS_S_ERROR 0x20u /* an exception shape */
/* member flags */
#define MG_AWS_M_REQUIRED 0x01u
#define MG_AWS_M_IDEMPOTENCY_TOKEN 0x02u
#define MG_AWS_M_JSONVALUE 0x04u

/* Strings are indices into the shared string table (0 is ""); read them with mg_aws_str. */
struct mg_aws_shape {
    uint32_t name;
    uint8_t type;  /* enum mg_aws_type */
    uint8_t flags; /* MG_AWS_S_* */
    uint32_t pattern;
    uint32_t first;   /* structure/list/map: first member (list: 1, map: key then value);
                         string with enum: first value in the enum table */
    uint16_t count;   /* members or enum values */
    uint16_t payload; /* structure: 1 + the member that is the HTTP payload, or 0 */
    double min, max;  /* length (string, blob, list, map) or range (numbers) */
};

struct mg_aws_member {
    uint32_t name;
    uint32_t location_name; /* 0: the name */
    uint16_t target;        /* shape index */
    uint8_t location;       /* enum mg_aws_location */
    uint8_t flags;          /* MG_AWS_M_* */
};

struct mg_aws_op {
    uint32_t name, uri, query, action; /* uri: requestUri without its query; query: its literal
                                          query ("List=ALL"), or ""; action: "iam:CreateRole" */
    uint16_t input;                    /* shape index, MG_AWS_NO_SHAPE without input */
    uint16_t status;                   /* success status (responseCode) */
    uint16_t errors, n_errors;         /* into the error table: shape indices */
    uint8_t service;                   /* enum mg_aws_service */
    uint8_t method;                    /* enum mg_aws_method */
    uint8_t flags;                     /* MG_AWS_OP_* */
};
/* op flags */
#define MG_AWS_OP_UNSIGNED 0x01u /* "authtype": "none": SDKs send it without a signature */
#define MG_AWS_NO_SHAPE 0xFFFFu

struct mg_aws_service_info {
    const char *id;      /* model folder: "iam", "bedrock-agentcore-control" */
    const char *version; /* "2010-05-08" */
    const char *name;    /* in messages: "IAM", "Lambda", "bedrock-agentcore-control" */
    const char *iam_prefix, *signing_name, *target_prefix;
    enum mg_aws_wire wire;
    uint16_t first_op, n_ops; /* ops sorted by name within a service */
    uint16_t first_shape, n_shapes;
};

struct mg_aws_model {
    const char *const *str;
    size_t n_str;
    const struct mg_aws_shape *shapes;
    size_t n_shapes;
    const struct mg_aws_member *members;
    size_t n_members;
    const uint32_t *enums;
    size_t n_enums;
    const uint16_t *errors;
    size_t n_errors;
    const struct mg_aws_op *ops;
    size_t n_ops;
    const struct mg_aws_service_info *services;
    size_t n_services;
};
extern const struct mg_aws_model mg_aws_model;

/* ---- lookups (src/aws/model.c) ------------------------------------------------------------ */

const char *mg_aws_str(uint32_t i);
const struct mg_aws_service_info *mg_aws_service(enum mg_aws_service svc);
/* NULL for MG_AWS_NO_SHAPE */
const struct mg_aws_shape *mg_aws_shape(uint16_t i);
const struct mg_aws_member *mg_aws_member(const struct mg_aws_shape *s, size_t i);
/* The name the member has on the wire: locationName, else its name. */
const char *mg_aws_member_wire_name(const struct mg_aws_member *m);
const char *mg_aws_op_name(const struct mg_aws_op *op);
const char *mg_aws_op_action(const struct mg_aws_op *op); /* "iam:CreateRole" */
enum mg_aws_wire mg_aws_op_wire(const struct mg_aws_op *op);
const char *mg_aws_method_name(enum mg_aws_method m);
/* An operation of the service by name (binary search), or NULL. */
const struct mg_aws_op *mg_aws_op_find(enum mg_aws_service svc, struct mg_slice name);

/* ---- routers (src/aws/route.c) ----------------------------------------------------------- */

#define MG_AWS_MAX_LABELS 8
struct mg_aws_route {
    const struct mg_aws_op *op;
    size_t n_labels;
    struct {
        struct mg_slice name; /* the {label}'s name, without braces and '+' (static text) */
        struct mg_slice raw;  /* still percent-encoded; borrows from the path */
    } labels[MG_AWS_MAX_LABELS];
};

/* Query protocol: the Action -> the operation, or NULL. */
const struct mg_aws_op *mg_aws_route_query(enum mg_aws_service svc, struct mg_slice action);
/* rest-json: method + raw path (+ raw query, for literal query parts such as "?List=ALL") over
 * the operations of svcs. Literal segments beat labels, a literal query part that matches beats
 * none, a {label} beats a greedy {label+}; empty segments are ignored. False when no operation
 * matches (AWS's UnknownOperationException). */
bool mg_aws_route_rest(const enum mg_aws_service *svcs, size_t n_svcs, struct mg_slice method,
                       struct mg_slice path, struct mg_slice query, struct mg_aws_route *out);

/* One requestUri template (no query part) against a raw path: the literal segments matched,
 * or -1 when it does not match; out->labels filled, out->op NULL. For tests and for routes a
 * service keeps outside the models. */
int mg_aws_route_template(const char *tmpl, struct mg_slice path, struct mg_aws_route *out);

/* ---- input assembly (src/aws/input.c) --------------------------------------------------- */

/* Limits of assembly and validation; beyond them the request fails with a 400. */
#define MG_AWS_MAX_DEPTH 32        /* nesting of structures, lists and maps */
#define MG_AWS_MAX_ITEMS 1000      /* list items or map entries at one level (query protocol) */
#define MG_AWS_MAX_STRING 1048576u /* bytes of one string value in a query/uri/header */

/* The request as the assembler sees it (a fuzzer builds it without a server). */
struct mg_aws_request {
    struct mg_slice path, query, body;
    const struct mg_kv *headers; /* lower-case names */
    size_t n_headers;
};
void mg_aws_request_from_http(struct mg_aws_request *out, const struct mg_http_req *r);

/* rest-json: one JSON object holding the JSON body's members, the uri labels (URL-decoded),
 * the querystring members (lists, typed numbers and booleans) and header members, under their
 * member names. A blob payload member (Lambda's Invoke Payload) is left out: the handler reads
 * the raw body. On a malformed request, *out is NULL, rep holds AWS's error (400
 * SerializationException / ValidationException; Lambda: InvalidRequestContentException for a
 * body that is not a JSON object) and MG_E_PARSE is returned. */
MG_MUST_USE enum mg_err mg_aws_input_rest(const struct mg_aws_op *op, const struct mg_aws_route *rt,
                                          const struct mg_aws_request *req, json_t **out,
                                          struct mg_aws_reply *rep);
/* Query protocol: the parameters (Action and Version ignored) as one JSON object under member
 * names: "Tags.member.1.Key" -> {"Tags":[{"Key":..}]}, "Attributes.entry.1.key/value" -> a map,
 * "A.B" -> nested structures, numbers and booleans typed. A malformed value: as above (400
 * ValidationError / MalformedInput). */
MG_MUST_USE enum mg_err mg_aws_input_query(const struct mg_aws_op *op,
                                           const struct mg_aws_params *params, json_t **out,
                                           struct mg_aws_reply *rep);

/* ---- validation (src/aws/validate.c) ---------------------------------------------------- */

#define MG_AWS_VERR_KEPT 10 /* errors kept in full; more are counted */
struct mg_aws_verrors {
    size_t n; /* all errors found */
    struct {
        char path[160]; /* 'roleName', 'tags.1.member.key', 'targetConfiguration.mcp.lambda' */
        char msg[768];  /* "Value 'x' at 'roleName' failed to satisfy constraint: ..." */
    } e[MG_AWS_VERR_KEPT];
};
/* Checks input (the assembled object; NULL counts as {}) against the operation's input shape:
 * required members, lengths, ranges, patterns (PCRE2, compiled once), enums, unions, types.
 * Paths: query protocol 'tags.1.member.key' (lower-camel, 1-based list index); rest-json
 * 'targetConfiguration.mcp.lambda.lambdaArn', 'tools.member'. Sensitive values are not shown.
 * True when valid. */
bool mg_aws_validate(const struct mg_aws_op *op, const json_t *input, struct mg_aws_verrors *v);
/* The same with a service's dialect (MG_AWS_V_*; mg_aws_validate is flags 0). */
#define MG_AWS_V_NO_VALUES 0x01u /* never show values: "Value at 'x' failed ..." */
#define MG_AWS_V_LIST_INDEX                                                                        \
    0x02u /* rest-json list items as 'tools.2.name', not 'tools.member.name' */
bool mg_aws_validate_with(const struct mg_aws_op *op, const json_t *input, unsigned flags,
                          struct mg_aws_verrors *v);
/* Validates one value against one shape (what services use for a single member). */
void mg_aws_validate_value(enum mg_aws_wire wire, unsigned flags, uint16_t shape,
                           const json_t *value, const char *path, struct mg_aws_verrors *v);
/* "1 validation error detected: a" / "N validation errors detected: a; b" (out is cut at cap). */
void mg_aws_verrors_message(const struct mg_aws_verrors *v, char *out, size_t cap);
/* Whether s (UTF-8) matches the whole of the model's pattern (string index). A pattern that
 * does not compile fails closed (false). */
bool mg_aws_pattern_match(uint32_t pattern, struct mg_slice s);
/* Whether the pattern compiles (the unit tests check every pattern of the models). */
bool mg_aws_pattern_ok(uint32_t pattern);

/* ---- replies (src/aws/reply.c) ---------------------------------------------------------- */

/* What a handler returns: an error (status, code, message, extra JSON fields) or a success body.
 * Zeroed by mg_aws_reply_init; status 0 until something is set. */
struct mg_aws_reply {
    int status;
    char code[64];
    json_t *fields;    /* error: extra members of the rest-json body (reason, fieldList) */
    json_t *json;      /* success: rest-json body (NULL: empty) */
    struct mg_buf xml; /* success: query protocol result's inner XML */
    char action[64];   /* query: the <ActionResponse> name */
    bool has_result;   /* query: whether <ActionResult> is written */
    bool json_text;    /* success: xml holds the rest-json body's text (mg_aws_reply_json_text) */
    bool public_text;  /* ... and it holds nothing secret: not wiped on cleanup */
    /* The handler handed the exchange to an asynchronous completion that answers it (Lambda's
     * synchronous Invoke): nothing is sent when the handler returns. */
    bool deferred;
    char message[8192]; /* room for MG_AWS_VERR_KEPT messages; last: init clears only [0] */
};
void mg_aws_reply_init(struct mg_aws_reply *r);
void mg_aws_reply_cleanup(struct mg_aws_reply *r);
void mg_aws_reply_error(struct mg_aws_reply *r, int status, const char *code, const char *fmt, ...)
    MG_PRINTF(4, 5);
/* Takes body (may be NULL: no body). */
void mg_aws_reply_json(struct mg_aws_reply *r, int status, json_t *body);
/* A rest-json success whose body is already JSON text: a copy of text, or the buffer returned
 * (emptied) for the caller to fill. Written as it is (for documents serialized ahead). */
MG_MUST_USE enum mg_err mg_aws_reply_json_text(struct mg_aws_reply *r, int status,
                                               struct mg_slice text);
struct mg_buf *mg_aws_reply_json_buf(struct mg_aws_reply *r, int status);
/* mg_aws_reply_json_buf for a body that holds nothing secret (documents such as a gateway's,
 * whose text the snapshot keeps anyway): the buffer is not wiped on cleanup, as the buffers of
 * other replies are (they may hold credentials). */
struct mg_buf *mg_aws_reply_json_buf_public(struct mg_aws_reply *r, int status);
MG_MUST_USE enum mg_err mg_aws_reply_xml(struct mg_aws_reply *r, const char *action,
                                         struct mg_slice inner, bool has_result);
/* The operation's validation error in its service's words: query 400 ValidationError; Lambda
 * 400 ValidationException; AgentCore 400 ValidationException with reason
 * "FieldValidationFailed" and fieldList [{name, message}]. */
void mg_aws_reply_validation(struct mg_aws_reply *r, const struct mg_aws_op *op,
                             const struct mg_aws_verrors *v);
/* 501: query NotImplemented, rest-json NotImplementedException; the message names the service
 * and the operation. feature (may be NULL) names the AWS feature. */
void mg_aws_reply_not_implemented(struct mg_aws_reply *r, const struct mg_aws_op *op,
                                  const char *feature);
/* A name or path that no model has: query 400 InvalidAction, rest-json 404
 * UnknownOperationException. */
void mg_aws_reply_unknown_action(struct mg_aws_reply *r, enum mg_aws_service svc,
                                 struct mg_slice action);
void mg_aws_reply_unknown_rest(struct mg_aws_reply *r, enum mg_aws_service svc, const char *feature,
                               struct mg_slice method, struct mg_slice path);
/* The error body in the protocol's format (for tests and fuzzers; reply_send uses it). */
MG_MUST_USE enum mg_err mg_aws_reply_error_body(const struct mg_aws_reply *r,
                                                enum mg_aws_protocol p, const char *request_id,
                                                struct mg_buf *out);
/* Writes the reply in one place: status, x-amzn-requestid, x-amzn-errortype (rest-json errors),
 * content type, body; then sends it. p says the XML namespace for query services. A reply
 * with nothing set answers 500 InternalFailure. */
void mg_aws_reply_send(struct mg_http_exchange *x, enum mg_aws_protocol p, const char *request_id,
                       struct mg_aws_reply *r);

#endif
