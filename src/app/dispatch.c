/* The request pipeline: route -> authenticate (SigV4) -> the service's descriptor. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "call/authn.h"
#include "base/alloc.h"
#include "base/log.h"
#include "base/util.h"
#include "issuer/issuer.h"

enum s_service { S_NONE = 0, S_STS, S_IAM, S_LAMBDA, S_AGENTCORE };

static enum s_service s_service_of(struct mg_slice name)
{
    if (mg_slice_eq_cstr(name, "sts"))
        return S_STS;
    if (mg_slice_eq_cstr(name, "iam"))
        return S_IAM;
    if (mg_slice_eq_cstr(name, "lambda"))
        return S_LAMBDA;
    if (mg_slice_eq_cstr(name, "bedrock-agentcore"))
        return S_AGENTCORE;
    return S_NONE;
}

/* Which wire format an unauthenticated request would be answered in. */
static enum mg_aws_protocol s_protocol_for_path(struct mg_slice path)
{
    if (path.len <= 1)
        return MG_AWS_QUERY_STS;
    return MG_AWS_REST_JSON;
}

static enum mg_aws_protocol s_protocol_for_service(enum s_service s, struct mg_slice path)
{
    switch (s) {
    case S_STS: return MG_AWS_QUERY_STS;
    case S_IAM: return MG_AWS_QUERY_IAM;
    case S_LAMBDA:
    case S_AGENTCORE: return MG_AWS_REST_JSON;
    case S_NONE: break;
    }
    return s_protocol_for_path(path);
}

static void s_auth_error(struct mg_http_exchange *x, enum mg_aws_protocol p,
                         enum mg_sigv4_status st, const char *msg)
{
    bool json = p == MG_AWS_REST_JSON;
    const char *code = NULL;
    int status = 403;
    switch (st) {
    case MG_SIGV4_MISSING:
        code = json ? "MissingAuthenticationTokenException" : "MissingAuthenticationToken";
        msg = json ? "Missing Authentication Token" : "Request is missing Authentication Token";
        break;
    case MG_SIGV4_INCOMPLETE:
    case MG_SIGV4_UNSUPPORTED:
        code = json ? "IncompleteSignatureException" : "IncompleteSignature";
        status = json ? 403 : 400;
        break;
    case MG_SIGV4_BAD_SCOPE:
    case MG_SIGV4_SKEW:
    case MG_SIGV4_MISMATCH:
        code = json ? "InvalidSignatureException" : "SignatureDoesNotMatch";
        break;
    case MG_SIGV4_UNKNOWN_KEY:
        code = json ? "UnrecognizedClientException" : "InvalidClientTokenId";
        msg = "The security token included in the request is invalid.";
        break;
    case MG_SIGV4_EXPIRED_TOKEN:
        code = json ? "ExpiredTokenException" : "ExpiredToken";
        msg = "The security token included in the request is expired";
        status = json ? 403 : 400;
        break;
    case MG_SIGV4_UNCHECKED:
    case MG_SIGV4_OK:
        code = "InternalFailure";
        msg = "The request processing has failed because of an unknown error.";
        status = 500;
        break;
    }
    mg_aws_send_error(x, p, status, code, msg && msg[0] ? msg : "Request signature is invalid.");
}

static void s_handle_query(struct mg_call *c, const struct mg_service *svc)
{
    struct mg_aws_params params;
    enum mg_err e = mg_aws_params_parse(&params, c->req);
    if (e) {
        mg_aws_params_cleanup(&params);
        mg_aws_send_error(c->x, c->protocol, e == MG_E_TOO_LARGE ? 413 : 400,
                          e == MG_E_TOO_LARGE ? "RequestEntityTooLarge" : "MalformedInput",
                          e == MG_E_TOO_LARGE ? "Too many request parameters."
                                              : "The request parameters could not be read.");
        return;
    }
    const struct mg_slice *action = mg_aws_param(&params, "Action");
    if (action == NULL || action->len == 0) {
        mg_aws_send_error(c->x, c->protocol, 400, "MissingAction", "Missing Action");
    } else {
        c->params = &params; /* mg_call_serve answers actions no handler serves */
        svc->handle(c);
        c->params = NULL;
    }
    mg_aws_params_cleanup(&params);
}

/* Whether an unsigned request is a query request for an STS operation that the model marks
 * unsigned (AssumeRoleWithSAML, AssumeRoleWithWebIdentity: their credentials are in the
 * request, and SDKs send them without a signature). STS answers those, not the authenticator. */
static bool s_unsigned_sts(const struct mg_http_req *r)
{
    if (r->path.len > 1)
        return false;
    struct mg_aws_params params;
    bool yes = false;
    if (mg_aws_params_parse(&params, r) == MG_E_OK) {
        const struct mg_slice *a = mg_aws_param(&params, "Action");
        const struct mg_aws_op *op = a ? mg_aws_route_query(MG_AWS_SVC_STS, *a) : NULL;
        yes = op != NULL && (op->flags & MG_AWS_OP_UNSIGNED);
    }
    mg_aws_params_cleanup(&params);
    return yes;
}

/* Resolves the caller for a verified-format request; fills c->principal. */
/* Checks the credential scope and the signature of a request whose authentication data was
 * parsed (c->auth) with the result `parsed`. */
static enum mg_sigv4_status s_authenticate(struct mg_call *c, struct mg_sigv4_request *sreq,
                                           enum s_service svc, enum mg_sigv4_status parsed,
                                           struct mg_errinfo *ei)
{
    const struct mg_env *env = c->env;
    if (parsed != MG_SIGV4_OK)
        return parsed;
    enum mg_sigv4_status st;
    const char *regions[2] = {env->region, "us-east-1"};
    /* IAM and STS's global endpoint sign for us-east-1 whatever region the server serves. */
    size_t n_regions = (svc == S_IAM || svc == S_STS) ? 2 : 1;
    st = mg_sigv4_check(&c->auth, regions, n_regions, NULL, mg_now(), env->clock_skew, ei);
    if (st != MG_SIGV4_OK)
        return st;
    if (svc == S_NONE) {
        mg_errinfo_set(ei, MG_E_AUTH,
                       "Credential should be scoped to correct service: '" MG_SLICE_FMT "'. ",
                       MG_SLICE_ARG(c->auth.service));
        return MG_SIGV4_BAD_SCOPE;
    }
    return mg_authn_verify_caller(env, sreq, c->snap, &c->auth, &c->principal, ei);
}

static bool s_gateway_route(const struct mg_http_req *r, struct mg_slice *id)
{
    static const char prefix[] = "/gateways/";
    struct mg_slice p = r->path;
    if (mg_slice_starts_with(p, prefix)) {
        struct mg_slice rest = mg_slice_sub(p, sizeof(prefix) - 1, p.len);
        long slash = mg_slice_find(rest, '/');
        if (slash > 0 && mg_slice_eq_cstr(mg_slice_sub(rest, (size_t)slash, rest.len), "/mcp")) {
            *id = mg_slice_sub(rest, 0, (size_t)slash);
            return true;
        }
        return false;
    }
    if (mg_slice_eq_cstr(p, "/mcp")) {
        /* {gatewayId}.gateway.{anything} */
        long dot = mg_slice_find(r->host, '.');
        if (dot > 0 &&
            mg_slice_starts_with(mg_slice_sub(r->host, (size_t)dot, r->host.len), ".gateway.")) {
            *id = mg_slice_sub(r->host, 0, (size_t)dot);
            return true;
        }
    }
    return false;
}

/* RFC 9728's metadata of a gateway: /.well-known/oauth-protected-resource/gateways/{id}/mcp, or
 * /.well-known/oauth-protected-resource[/mcp] under a Host of {id}.gateway.* */
static bool s_protected_resource_route(const struct mg_http_req *r, struct mg_slice *id)
{
    static const char prefix[] = "/.well-known/oauth-protected-resource";
    if (!mg_slice_starts_with(r->path, prefix))
        return false;
    struct mg_slice rest = mg_slice_sub(r->path, sizeof(prefix) - 1, r->path.len);
    if (rest.len == 0 || mg_slice_eq_cstr(rest, "/mcp")) {
        struct mg_http_req host_only = *r;
        host_only.path = MG_SLICE_LIT("/mcp");
        return s_gateway_route(&host_only, id);
    }
    struct mg_http_req inner = *r;
    inner.path = rest;
    return mg_slice_starts_with(rest, "/gateways/") && s_gateway_route(&inner, id);
}

static void s_send_plain(struct mg_http_exchange *x, int status, const char *text)
{
    mg_http_set_status(x, status);
    mg_http_add_header(x, "content-type", MG_SLICE_LIT("text/plain; charset=utf-8"));
    if (mg_buf_append_cstr(mg_http_body(x), text) != MG_E_OK)
        mg_buf_reset(mg_http_body(x));
    mg_http_send(x);
}

void mg_app_handle(void *user, struct mg_http_exchange *x)
{
    struct mg_app *app = user;
    const struct mg_http_req *r = mg_http_request(x);

    if (r->n_host_headers != 1) {
        s_send_plain(x, 400,
                     r->n_host_headers ? "more than one Host header\n"
                                       : "a Host header is required\n");
        return;
    }
    if (mg_slice_eq_cstr(r->path, "/_mcpgate/health")) {
        s_send_plain(x, 200, "ok\n");
        return;
    }

    /* The built-in OAuth issuer (off unless --oauth-issuer): its documents and token endpoint */
    if (mg_issuer_handle(app->issuer, x))
        return;

    /* The MCP data plane: /gateways/{id}/mcp, or /mcp under a Host of {id}.gateway.* */
    struct mg_call c;
    memset(&c, 0, sizeof(c));
    c.env = &app->env;
    c.x = x;
    c.req = r;
    const struct mg_service *service;
    c.well_known = s_protected_resource_route(r, &c.gateway_id);
    if (c.well_known || s_gateway_route(r, &c.gateway_id)) {
        service = mg_app_service(app, MG_SLICE_LIT("mcp"), &c.service);
        if (service)
            service->handle(&c);
        else
            s_send_plain(x, 404, "not found\n");
        return;
    }
    c.snap = mg_state_read(&app->state, &app->readers[r->loop]);

    struct mg_sigv4_request sreq = {r->method,  r->path,      r->query,
                                    r->headers, r->n_headers, r->body};
    /* The service comes from the credential scope: it chooses the API and its error format. */
    struct mg_errinfo ei = {0};
    enum s_service svc = S_NONE;
    enum mg_sigv4_status parsed = mg_sigv4_parse(&sreq, &c.auth, &ei);
    if (parsed == MG_SIGV4_OK)
        svc = s_service_of(c.auth.service);
    c.protocol = s_protocol_for_service(svc, r->path);

    if (parsed == MG_SIGV4_MISSING && s_unsigned_sts(r)) {
        /* no principal: the STS handler of such an operation authenticates by its own means */
        c.protocol = MG_AWS_QUERY_STS;
        service = mg_app_service(app, MG_SLICE_LIT("sts"), &c.service);
        if (service != NULL)
            s_handle_query(&c, service);
        else
            s_auth_error(x, c.protocol, parsed, ei.msg);
        return;
    }

    enum mg_sigv4_status st = s_authenticate(&c, &sreq, svc, parsed, &ei);
    if (st != MG_SIGV4_OK) {
        mg_principal_cleanup(&c.principal);
        /* AWS's messages may echo the Authorization header: log only the category. */
        mg_authn_log_refused(r, st, &c.auth, NULL);
        s_auth_error(x, c.protocol, st, ei.msg);
        return;
    }

    service = svc == S_NONE ? NULL : mg_app_service(app, c.auth.service, &c.service);
    if (service == NULL)
        mg_aws_send_error(x, MG_AWS_REST_JSON, 404, "UnknownOperationException",
                          "No service is served at this address.");
    else if (service->protocol == MG_SERVICE_QUERY)
        s_handle_query(&c, service);
    else
        service->handle(&c);
    mg_principal_cleanup(&c.principal);
}
