/* src/aws/aws.h: AWS wire formats: query-protocol parameters (form or query string in, XML out),
 * rest-json errors, ARNs. */
#ifndef MG_AWS_H
#define MG_AWS_H

#include <stdbool.h>

#include "base/err.h"
#include "base/slice.h"
#include "http/http.h"

/* The protocol a response is written in. */
enum mg_aws_protocol {
    MG_AWS_QUERY_STS = 0, /* XML, namespace https://sts.amazonaws.com/doc/2011-06-15/ */
    MG_AWS_QUERY_IAM,     /* XML, namespace https://iam.amazonaws.com/doc/2010-05-08/ */
    MG_AWS_REST_JSON,     /* JSON body, x-amzn-ErrorType */
};

const char *mg_aws_xml_namespace(enum mg_aws_protocol p);

/* Decoded query-protocol parameters ("Action", "Version", "RoleName", "Tags.member.1.Key"...). */
struct mg_aws_params {
    struct mg_kv *items; /* decoded; slices borrow from `storage` */
    size_t n;
    struct mg_buf storage;
};

#define MG_AWS_MAX_PARAMS 512

/* Parses the query string and, for a form-encoded POST, the body. */
MG_MUST_USE enum mg_err mg_aws_params_parse(struct mg_aws_params *p, const struct mg_http_req *r);
void mg_aws_params_cleanup(struct mg_aws_params *p);
/* First value of a parameter, or NULL. */
const struct mg_slice *mg_aws_param(const struct mg_aws_params *p, const char *name);

/* Writes an AWS error response in the protocol's own format and sends it. */
void mg_aws_send_error(struct mg_http_exchange *x, enum mg_aws_protocol p, int status,
                       const char *code, const char *message);

/* Query protocol success: <ActionResponse xmlns=NS><ActionResult>` + inner +
 * `</ActionResult><ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></ActionResponse>`.
 * inner may be empty (then the Result element is omitted, as AWS does for actions with no output). */
void mg_aws_send_xml(struct mg_http_exchange *x, enum mg_aws_protocol p, const char *action,
                     struct mg_slice inner, bool has_result);

/* rest-json success with a body (may be empty for 204). */
void mg_aws_send_json(struct mg_http_exchange *x, int status, struct mg_slice json);

/* ARN parts; slices borrow from the input. */
struct mg_arn {
    struct mg_slice partition, service, region, account, resource;
};
bool mg_arn_parse(struct mg_slice s, struct mg_arn *out);

#endif
