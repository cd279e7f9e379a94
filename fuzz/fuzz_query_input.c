/* fuzz/fuzz_query_input.c: the query-protocol side of the AWS operation layer
 * (src/aws/model.h): a form body -> its Action routed over IAM or STS, the input assembled
 * (Tags.member.N.Key, .entry.N.key/value, nested A.B, typed values) and validated.
 *
 * Input: one selector byte (IAM or STS), then the form body. Properties checked besides "no
 * crash, no leak, no read out of bounds": assembly gives an object exactly when it succeeds,
 * a failure leaves an error in the reply, and the XML error body is well delimited. */
#include <stdlib.h>
#include <string.h>

#include "aws/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum mg_aws_service svc = data[0] & 1 ? MG_AWS_SVC_STS : MG_AWS_SVC_IAM;
    struct mg_kv h = {MG_SLICE_LIT("content-type"),
                      MG_SLICE_LIT("application/x-www-form-urlencoded")};
    struct mg_http_req r = {.method = MG_SLICE_LIT("POST"),
                            .path = MG_SLICE_LIT("/"),
                            .headers = &h,
                            .n_headers = 1,
                            .body = mg_slice_make(data + 1, size - 1)};
    struct mg_aws_params p;
    struct mg_aws_reply rep;
    mg_aws_reply_init(&rep);
    if (mg_aws_params_parse(&p, &r) == MG_E_OK) {
        const struct mg_slice *action = mg_aws_param(&p, "Action");
        const struct mg_aws_op *op = action ? mg_aws_route_query(svc, *action) : NULL;
        if (op == NULL) {
            mg_aws_reply_unknown_action(&rep, svc, action ? *action : MG_SLICE_LIT(""));
        } else {
            json_t *in = NULL;
            enum mg_err e = mg_aws_input_query(op, &p, &in, &rep);
            if ((e == MG_E_OK) != (in != NULL) || (e != MG_E_OK && rep.status == 0))
                abort();
            struct mg_aws_verrors v;
            if (in && !mg_aws_validate(op, in, &v))
                mg_aws_reply_validation(&rep, op, &v);
            else if (in)
                mg_aws_reply_not_implemented(&rep, op, NULL);
            json_decref(in);
        }
        struct mg_buf b;
        mg_buf_init(&b, 1u << 20);
        if (mg_aws_reply_error_body(&rep,
                                    svc == MG_AWS_SVC_STS ? MG_AWS_QUERY_STS : MG_AWS_QUERY_IAM,
                                    "req", &b) == MG_E_OK) {
            const char *t = mg_buf_cstr(&b);
            if (t &&
                (strncmp(t, "<ErrorResponse", 14) != 0 || strstr(t, "</ErrorResponse>\n") == NULL))
                abort();
        }
        mg_buf_cleanup(&b);
    }
    mg_aws_params_cleanup(&p);
    mg_aws_reply_cleanup(&rep);
    return 0;
}
