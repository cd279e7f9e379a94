/* Serving AWS operations from the model tables: route, validate, handle, reply in one place. */
#include <string.h>

#include "base/alloc.h"
#include "call/call.h"
#include "state/store.h"

mg_call_op_fn mg_call_op_find(const struct mg_call_op *ops, size_t n_ops,
                              const struct mg_aws_op *op)
{
    const char *name = mg_aws_op_name(op);
    for (size_t i = 0; i < n_ops; i++)
        if (strcmp(ops[i].name, name) == 0)
            return ops[i].fn;
    return NULL;
}

/* Routes the call; false after filling rep with the unknown-operation answer. */
static bool s_route(struct mg_call *c, const enum mg_aws_service *svcs, size_t n_svcs,
                    struct mg_aws_route *rt, struct mg_aws_reply *rep)
{
    const struct mg_http_req *r = c->req;
    memset(rt, 0, sizeof(*rt));
    if (c->params != NULL) {
        const struct mg_slice *action = mg_aws_param(c->params, "Action");
        struct mg_slice a = action ? *action : mg_slice_cstr("");
        for (size_t i = 0; i < n_svcs && rt->op == NULL; i++)
            rt->op = mg_aws_route_query(svcs[i], a);
        if (rt->op == NULL)
            mg_aws_reply_unknown_action(rep, svcs[0], a);
        return rt->op != NULL;
    }
    if (!mg_aws_route_rest(svcs, n_svcs, r->method, r->path, r->query, rt)) {
        mg_aws_reply_unknown_rest(rep, svcs[0], NULL, r->method, r->path);
        return false;
    }
    return true;
}

/* Validates in against the model, without the members the service checks itself. */
static bool s_validate(const struct mg_call_api *api, const struct mg_aws_op *op, json_t *in,
                       struct mg_aws_verrors *ve)
{
    enum { S_OWN_MAX = 8 };
    const char *names[S_OWN_MAX];
    json_t *values[S_OWN_MAX];
    size_t n = 0;
    const char *opname = mg_aws_op_name(op);
    size_t oplen = strlen(opname);
    for (size_t i = 0; api->own_members && api->own_members[i] && n < S_OWN_MAX; i++) {
        const char *own = api->own_members[i];
        if (strncmp(own, opname, oplen) != 0 || own[oplen] != '.')
            continue;
        json_t *v = json_object_get(in, own + oplen + 1);
        if (v == NULL)
            continue;
        names[n] = own + oplen + 1;
        values[n++] = json_incref(v);
        (void)json_object_del(in, own + oplen + 1);
    }
    bool ok = mg_aws_validate_with(op, in, api->vflags, ve);
    for (size_t i = 0; i < n; i++) {
        /* the object had the member: putting it back only reuses its slot */
        if (json_object_set_new(in, names[i], values[i]))
            ok = false;
    }
    return ok;
}

static void s_run(struct mg_call *c, const struct mg_call_api *api, const struct mg_aws_route *rt,
                  mg_call_op_fn fn, struct mg_aws_reply *rep)
{
    json_t *in = NULL;
    enum mg_err e;
    if (c->params != NULL) {
        e = mg_aws_input_query(rt->op, c->params, &in, rep);
    } else {
        struct mg_aws_request ar;
        mg_aws_request_from_http(&ar, c->req);
        e = mg_aws_input_rest(rt->op, rt, &ar, &in, rep);
    }
    if (e != MG_E_OK) {
        json_decref(in);
        if (rep->status == 0)
            mg_aws_reply_error(rep, 400, c->params ? "MalformedInput" : "SerializationException",
                               "The request could not be read.");
        return;
    }
    struct mg_aws_verrors verrs; /* on the loop's stack: no allocation per request */
    struct mg_aws_verrors *ve = &verrs;
    c->op = rt->op;
    c->reply = rep;
    if (api->prepare != NULL && in != NULL && !api->prepare(c, in)) {
        /* answered by the service */
    } else if (!s_validate(api, rt->op, in, ve)) {
        if (ve->n == 0) /* a member could not be put back */
            mg_aws_reply_error(rep, 500, c->params ? "ServiceFailure" : "InternalServerException",
                               "out of memory");
        else
            mg_aws_reply_validation(rep, rt->op, ve);
    } else {
        c->input = in;
        mg_store_last_error_clear();
        fn(c);
        /* An internal failure while the store could not be reached: the retryable answer. */
        if (!rep->deferred && rep->status == 500 && mg_store_unavailable(MG_E_STORE))
            mg_call_reply_unavailable(c, rep);
    }
    c->op = NULL;
    c->input = NULL;
    c->reply = NULL;
    json_decref(in);
}

void mg_call_reply_unavailable(const struct mg_call *c, struct mg_aws_reply *rep)
{
    static const char msg[] = "The service cannot reach its store at the moment; retry the "
                              "request. A write that failed this way may or may not have been "
                              "applied.";
    if (c->params != NULL)
        mg_aws_reply_error(rep, 503, "ServiceUnavailable", "%s", msg);
    else
        mg_aws_reply_error(rep, 503, "ServiceException", "%s", msg);
}

void mg_call_serve(struct mg_call *c, const struct mg_call_api *api)
{
    struct mg_aws_reply reply; /* on the loop's stack: no allocation per request */
    struct mg_aws_reply *rep = &reply;
    mg_aws_reply_init(rep);
    struct mg_aws_route rt;
    if (s_route(c, api->svcs, api->n_svcs, &rt, rep)) {
        mg_call_op_fn fn = mg_call_op_find(api->ops, api->n_ops, rt.op);
        if (fn == NULL)
            mg_aws_reply_not_implemented(rep, rt.op, api->feature ? api->feature(rt.op) : NULL);
        else
            s_run(c, api, &rt, fn, rep);
    }
    if (!rep->deferred)
        mg_aws_reply_send(c->x, c->protocol, c->req->request_id, rep);
    mg_aws_reply_cleanup(rep);
}
