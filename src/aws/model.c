/* Lookups over the generated model tables (see model.h). */
#include "aws/model.h"

#include <string.h>

const char *mg_aws_str(uint32_t i)
{
    return i < mg_aws_model.n_str ? mg_aws_model.str[i] : "";
}

const struct mg_aws_service_info *mg_aws_service(enum mg_aws_service svc)
{
    return (size_t)svc < mg_aws_model.n_services ? &mg_aws_model.services[svc] : NULL;
}

const struct mg_aws_shape *mg_aws_shape(uint16_t i)
{
    return i < mg_aws_model.n_shapes ? &mg_aws_model.shapes[i] : NULL;
}

const struct mg_aws_member *mg_aws_member(const struct mg_aws_shape *s, size_t i)
{
    if (s == NULL || i >= s->count || s->type > MG_AWS_T_MAP)
        return NULL;
    size_t k = (size_t)s->first + i;
    return k < mg_aws_model.n_members ? &mg_aws_model.members[k] : NULL;
}

const char *mg_aws_member_wire_name(const struct mg_aws_member *m)
{
    return m->location_name ? mg_aws_str(m->location_name) : mg_aws_str(m->name);
}

const char *mg_aws_op_name(const struct mg_aws_op *op)
{
    return mg_aws_str(op->name);
}

const char *mg_aws_op_action(const struct mg_aws_op *op)
{
    return mg_aws_str(op->action);
}

enum mg_aws_wire mg_aws_op_wire(const struct mg_aws_op *op)
{
    const struct mg_aws_service_info *s = mg_aws_service((enum mg_aws_service)op->service);
    return s ? s->wire : MG_AWS_WIRE_REST_JSON;
}

const char *mg_aws_method_name(enum mg_aws_method m)
{
    switch (m) {
    case MG_AWS_GET: return "GET";
    case MG_AWS_POST: return "POST";
    case MG_AWS_PUT: return "PUT";
    case MG_AWS_DELETE: return "DELETE";
    case MG_AWS_PATCH: return "PATCH";
    case MG_AWS_HEAD: return "HEAD";
    }
    return "";
}

const struct mg_aws_op *mg_aws_op_find(enum mg_aws_service svc, struct mg_slice name)
{
    const struct mg_aws_service_info *s = mg_aws_service(svc);
    if (s == NULL)
        return NULL;
    size_t lo = s->first_op, hi = (size_t)s->first_op + s->n_ops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = mg_slice_cmp(name, mg_slice_cstr(mg_aws_str(mg_aws_model.ops[mid].name)));
        if (c == 0)
            return &mg_aws_model.ops[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
