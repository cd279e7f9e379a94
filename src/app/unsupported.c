/* Answers for operations mcpgate does not serve (see unsupported.h). */
#include "app/unsupported.h"

#include <stdio.h>
#include <string.h>

#include "call/call.h"
#include "base/alloc.h"

struct s_rest_op {
    const char *name, *method, *uri;
};

#include "app/aws_operations.inc"

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S_SHOWN 128 /* at most this many bytes of a client's name or path in a message */

static const char *s_service_name(enum mg_app_service svc)
{
    switch (svc) {
    case MG_APP_SVC_IAM: return "IAM";
    case MG_APP_SVC_STS: return "STS";
    case MG_APP_SVC_LAMBDA: return "Lambda";
    case MG_APP_SVC_AGENTCORE_CONTROL: return "bedrock-agentcore-control";
    }
    return "AWS";
}

static const char *s_article(enum mg_app_service svc)
{
    return svc == MG_APP_SVC_IAM || svc == MG_APP_SVC_STS ? "an" : "a";
}

static const char *s_version(enum mg_app_service svc)
{
    return svc == MG_APP_SVC_STS ? "2011-06-15" : "2010-05-08";
}

/* A client's text for a message: printable ASCII only, at most S_SHOWN bytes. */
static void s_shown(struct mg_slice v, char out[S_SHOWN + 4])
{
    size_t n = v.len < S_SHOWN ? v.len : S_SHOWN, j = 0;
    for (size_t i = 0; i < n; i++)
        out[j++] = (v.ptr[i] >= 0x20 && v.ptr[i] < 0x7f) ? (char)v.ptr[i] : '?';
    if (v.len > S_SHOWN) {
        mg_memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = 0;
}

bool mg_app_model_has_action(enum mg_app_service svc, struct mg_slice action)
{
    const char *const *ops = NULL;
    size_t n = 0;
    switch (svc) {
    case MG_APP_SVC_IAM:
        ops = s_ops_iam;
        n = S_COUNT(s_ops_iam);
        break;
    case MG_APP_SVC_STS:
        ops = s_ops_sts;
        n = S_COUNT(s_ops_sts);
        break;
    case MG_APP_SVC_LAMBDA:
    case MG_APP_SVC_AGENTCORE_CONTROL:
        break;
    }
    for (size_t i = 0; i < n; i++)
        if (mg_slice_eq_cstr(action, ops[i]))
            return true;
    return false;
}

/* Next segment of a path ("/a/b" -> "a"), false at the end; a trailing slash ends the path. */
static bool s_next_segment(struct mg_slice *rest, struct mg_slice *seg)
{
    if (rest->len && rest->ptr[0] == '/')
        *rest = mg_slice_sub(*rest, 1, rest->len);
    if (rest->len == 0)
        return false;
    long slash = mg_slice_find(*rest, '/');
    size_t end = slash < 0 ? rest->len : (size_t)slash;
    *seg = mg_slice_sub(*rest, 0, end);
    *rest = mg_slice_sub(*rest, end, rest->len);
    return true;
}

/* Literal segments matched, or -1 when the template does not match the path. */
static int s_match(const char *uri, struct mg_slice path)
{
    struct mg_slice t = mg_slice_cstr(uri), p = path, ts, ps;
    int literal = 0;
    for (;;) {
        bool more_t = s_next_segment(&t, &ts), more_p = s_next_segment(&p, &ps);
        if (!more_t)
            return more_p ? -1 : literal;
        if (!more_p)
            return -1;
        bool label = ts.len >= 2 && ts.ptr[0] == '{' && ts.ptr[ts.len - 1] == '}';
        if (label && ts.ptr[ts.len - 2] == '+')
            return literal; /* {Name+}: the rest of the path */
        if (label)
            continue;
        if (!mg_slice_eq(ts, ps))
            return -1;
        literal++;
    }
}

static const char *s_best(const struct s_rest_op *ops, size_t n, struct mg_slice method,
                          struct mg_slice path, int *best)
{
    const char *name = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!mg_slice_eq_cstr(method, ops[i].method))
            continue;
        int m = s_match(ops[i].uri, path);
        if (m > *best) {
            *best = m;
            name = ops[i].name;
        }
    }
    return name;
}

/* The operation and the name of the API whose model has it (*api), or NULL. */
static const char *s_rest_op(enum mg_app_service svc, struct mg_slice method, struct mg_slice path,
                             const char **api)
{
    int best = -1;
    *api = s_service_name(svc);
    switch (svc) {
    case MG_APP_SVC_LAMBDA:
        return s_best(s_ops_lambda, S_COUNT(s_ops_lambda), method, path, &best);
    case MG_APP_SVC_AGENTCORE_CONTROL: {
        /* one signing name, two models: the control plane and the data plane */
        const char *a = s_best(s_ops_agentcore_control, S_COUNT(s_ops_agentcore_control), method,
                               path, &best);
        const char *b = s_best(s_ops_agentcore, S_COUNT(s_ops_agentcore), method, path, &best);
        if (b)
            *api = "bedrock-agentcore";
        return b ? b : a;
    }
    case MG_APP_SVC_IAM:
    case MG_APP_SVC_STS:
        break;
    }
    return NULL;
}

const char *mg_app_model_rest_op(enum mg_app_service svc, struct mg_slice method,
                                 struct mg_slice path)
{
    const char *api;
    return s_rest_op(svc, method, path, &api);
}

void mg_app_unsupported_action(struct mg_call *c, enum mg_app_service svc, struct mg_slice action)
{
    char shown[S_SHOWN + 4], msg[768];
    s_shown(action, shown);
    if (mg_app_model_has_action(svc, action))
        snprintf(msg, sizeof(msg),
                 "Could not find operation %s for version %s: %s is %s %s operation that is not "
                 "supported by mcpgate (see docs/api-coverage.md).",
                 shown, s_version(svc), shown, s_article(svc), s_service_name(svc));
    else
        snprintf(msg, sizeof(msg),
                 "Could not find operation %s for version %s: %s has no operation of this name "
                 "(the operations mcpgate supports are listed in docs/api-coverage.md).",
                 shown, s_version(svc), s_service_name(svc));
    mg_aws_send_error(c->x, c->protocol, 400, "InvalidAction", msg);
}

void mg_app_unsupported_rest(struct mg_call *c, enum mg_app_service svc, const char *feature)
{
    const struct mg_http_req *r = c->req;
    const char *api;
    const char *op = s_rest_op(svc, r->method, r->path, &api);
    char method[S_SHOWN + 4], path[S_SHOWN + 4], msg[1024];
    s_shown(mg_slice_sub(r->method, 0, 10), method);
    s_shown(r->path, path);
    const char *scope = svc == MG_APP_SVC_AGENTCORE_CONTROL
                            ? ": mcpgate implements the AgentCore Gateway control plane (gateways, "
                              "gateway targets, resource policies, tags) only"
                            : "";
    if (op)
        snprintf(msg, sizeof(msg),
                 "%s%s%s%s is %s %s operation that is not supported by mcpgate%s "
                 "(see docs/api-coverage.md).",
                 op, feature ? " (" : "", feature ? feature : "", feature ? ")" : "",
                 s_article(svc), api, scope);
    else
        snprintf(msg, sizeof(msg),
                 "%s %s is not an operation of the %s API%s%s%s, so it is not supported by "
                 "mcpgate (the operations it supports are listed in docs/api-coverage.md).",
                 method, path, s_service_name(svc), feature ? " (" : "", feature ? feature : "",
                 feature ? ")" : "");
    mg_aws_send_error(c->x, MG_AWS_REST_JSON, 404, "UnknownOperationException", msg);
}
