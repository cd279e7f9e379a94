/* Input assembly: a request -> one JSON object shaped like the operation's input (model.h). */
#include "aws/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/util.h"

#define S_KEY 512 /* bytes of one query-protocol parameter name we build */

void mg_aws_request_from_http(struct mg_aws_request *out, const struct mg_http_req *r)
{
    out->path = r->path;
    out->query = r->query;
    out->body = r->body;
    out->headers = r->headers;
    out->n_headers = r->n_headers;
}

/* AWS's error for a value that cannot be read as its type. */
static void s_bad_value(struct mg_aws_reply *rep, const struct mg_aws_op *op, const char *what,
                        const char *member, const char *type)
{
    if (mg_aws_op_wire(op) == MG_AWS_WIRE_QUERY)
        mg_aws_reply_error(rep, 400, "ValidationError",
                           "1 validation error detected: Value at '%s' failed to satisfy "
                           "constraint: Member must be %s (%s)",
                           member, type, what);
    else
        mg_aws_reply_error(rep, 400, "SerializationException",
                           "Value at '%s' cannot be read as %s (%s)", member, type, what);
}

static const char *s_type_words(enum mg_aws_type t)
{
    switch (t) {
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG: return "an integer";
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE: return "a number";
    case MG_AWS_T_BOOLEAN: return "a boolean";
    case MG_AWS_T_STRUCTURE:
    case MG_AWS_T_LIST:
    case MG_AWS_T_MAP:
    case MG_AWS_T_STRING:
    case MG_AWS_T_TIMESTAMP:
    case MG_AWS_T_BLOB:
    case MG_AWS_T_DOCUMENT: break;
    }
    return "a string";
}

/* A scalar from text: strings (valid UTF-8), integers, numbers, booleans; timestamps and blobs
 * stay text. NULL when malformed (*nomem set on allocation failure). */
static json_t *s_scalar(const struct mg_aws_shape *s, struct mg_slice v, bool *nomem)
{
    char num[64];
    *nomem = false;
    switch ((enum mg_aws_type)s->type) {
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG: {
        if (v.len == 0 || v.len >= sizeof(num))
            return NULL;
        mg_memcpy(num, v.ptr, v.len);
        num[v.len] = 0;
        char *end = NULL;
        errno = 0;
        long long n = strtoll(num, &end, 10);
        if (errno || *end || !(num[0] == '-' || (num[0] >= '0' && num[0] <= '9')))
            return NULL;
        if (s->type == MG_AWS_T_INTEGER && (n > 2147483647LL || n < -2147483648LL))
            return NULL;
        json_t *j = json_integer(n);
        *nomem = j == NULL;
        return j;
    }
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE: {
        if (v.len == 0 || v.len >= sizeof(num))
            return NULL;
        mg_memcpy(num, v.ptr, v.len);
        num[v.len] = 0;
        char *end = NULL;
        errno = 0;
        double d = strtod(num, &end);
        if (errno || *end || !isfinite(d))
            return NULL;
        json_t *j = json_real(d);
        *nomem = j == NULL;
        return j;
    }
    case MG_AWS_T_BOOLEAN:
        if (mg_slice_eq_cstr(v, "true"))
            return json_true();
        if (mg_slice_eq_cstr(v, "false"))
            return json_false();
        return NULL;
    case MG_AWS_T_STRING:
    case MG_AWS_T_TIMESTAMP:
    case MG_AWS_T_BLOB: {
        if (v.len > MG_AWS_MAX_STRING || !mg_utf8_valid(v))
            return NULL;
        json_t *j = json_stringn(v.len ? (const char *)v.ptr : "", v.len);
        *nomem = j == NULL;
        return j;
    }
    case MG_AWS_T_STRUCTURE:
    case MG_AWS_T_LIST:
    case MG_AWS_T_MAP:
    case MG_AWS_T_DOCUMENT: break;
    }
    return NULL;
}

/* Sets a scalar member from text, or answers AWS's error. */
static enum mg_err s_set_scalar(json_t *obj, const struct mg_aws_op *op,
                                const struct mg_aws_member *m, const struct mg_aws_shape *s,
                                struct mg_slice v, struct mg_aws_reply *rep)
{
    bool nomem;
    json_t *j = s_scalar(s, v, &nomem);
    if (j == NULL) {
        if (nomem)
            return MG_E_NOMEM;
        s_bad_value(rep, op, "malformed", mg_aws_member_wire_name(m),
                    s_type_words((enum mg_aws_type)s->type));
        return MG_E_PARSE;
    }
    return json_object_set_new(obj, mg_aws_str(m->name), j) ? MG_E_NOMEM : MG_E_OK;
}

/* ---- rest-json ---------------------------------------------------------------------------- */

static const struct mg_slice *s_header(const struct mg_aws_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (mg_slice_ieq_cstr(req->headers[i].name, name))
            return &req->headers[i].value;
    return NULL;
}

/* Decoded query pairs of a rest-json request. */
#define S_PAIRS_INLINE 8
struct s_pairs {
    struct mg_kv *kv; /* inline, or allocated */
    size_t n;
    struct mg_buf store;
    struct mg_kv inline_kv[S_PAIRS_INLINE];
};

static enum mg_err s_pairs_parse(struct s_pairs *p, struct mg_slice query)
{
    size_t cap = 0;
    bool encoded = false;
    for (size_t i = 0; i < query.len; i++) {
        cap += query.ptr[i] == '&';
        encoded = encoded || query.ptr[i] == '%' || query.ptr[i] == '+';
    }
    cap++;
    if (cap > MG_LIMIT_QUERY_PARAMS)
        return MG_E_TOO_LARGE;
    if (!encoded && cap <= S_PAIRS_INLINE) {
        /* nothing to decode: the pairs point into the query itself, nothing is allocated */
        p->kv = p->inline_kv;
        struct mg_slice rest = query, pair;
        while (rest.len && mg_slice_split(&rest, '&', &pair)) {
            if (pair.len == 0)
                continue;
            long eq = mg_slice_find(pair, '=');
            p->kv[p->n].name = eq < 0 ? pair : mg_slice_make(pair.ptr, (size_t)eq);
            p->kv[p->n].value = eq < 0
                                    ? mg_slice_make(pair.ptr, 0)
                                    : mg_slice_make(pair.ptr + eq + 1, pair.len - (size_t)eq - 1);
            p->n++;
        }
        return MG_E_OK;
    }
    mg_buf_init(&p->store, query.len * 2 + 16);
    p->kv = mg_calloc(cap, sizeof(*p->kv));
    if (p->kv == NULL)
        return MG_E_NOMEM;
    /* offsets first: the buffer may move while it grows */
    size_t *off = mg_calloc(cap * 3, sizeof(*off));
    if (off == NULL)
        return MG_E_NOMEM;
    struct mg_slice rest = query, pair;
    enum mg_err e = MG_E_OK;
    while (!e && rest.len && mg_slice_split(&rest, '&', &pair)) {
        if (pair.len == 0)
            continue;
        long eq = mg_slice_find(pair, '=');
        struct mg_slice n = eq < 0 ? pair : mg_slice_make(pair.ptr, (size_t)eq);
        struct mg_slice v = eq < 0 ? mg_slice_make(pair.ptr, 0)
                                   : mg_slice_make(pair.ptr + eq + 1, pair.len - (size_t)eq - 1);
        off[3 * p->n] = p->store.len;
        e = mg_url_decode(&p->store, n, true);
        if (!e) {
            off[3 * p->n + 1] = p->store.len;
            e = mg_url_decode(&p->store, v, true);
        }
        if (!e) {
            off[3 * p->n + 2] = p->store.len;
            p->n++;
        }
    }
    const uint8_t *base = p->store.ptr ? p->store.ptr : (const uint8_t *)"";
    for (size_t i = 0; !e && i < p->n; i++) {
        p->kv[i].name = mg_slice_make(base + off[3 * i], off[3 * i + 1] - off[3 * i]);
        p->kv[i].value = mg_slice_make(base + off[3 * i + 1], off[3 * i + 2] - off[3 * i + 1]);
    }
    mg_free(off);
    return e;
}

static void s_pairs_cleanup(struct s_pairs *p)
{
    if (p->kv != p->inline_kv)
        mg_free(p->kv);
    mg_buf_cleanup(&p->store);
}

/* The names the querystring members of the input claim (for a querystring map's "the rest"). */
static bool s_claimed(const struct mg_aws_shape *in, struct mg_slice name)
{
    for (size_t i = 0; i < in->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(in, i);
        if (m->location == MG_AWS_LOC_QUERYSTRING &&
            mg_aws_shape(m->target)->type != MG_AWS_T_MAP &&
            mg_slice_eq_cstr(name, mg_aws_member_wire_name(m)))
            return true;
    }
    return false;
}

static enum mg_err s_rest_query(json_t *obj, const struct mg_aws_op *op,
                                const struct mg_aws_shape *in, const struct mg_aws_member *m,
                                const struct s_pairs *q, struct mg_aws_reply *rep)
{
    const struct mg_aws_shape *t = mg_aws_shape(m->target);
    const char *wn = mg_aws_member_wire_name(m);
    bool nomem;
    if (t->type == MG_AWS_T_LIST || t->type == MG_AWS_T_MAP) {
        json_t *c = t->type == MG_AWS_T_LIST ? json_array() : json_object();
        if (c == NULL)
            return MG_E_NOMEM;
        const struct mg_aws_shape *et = mg_aws_shape(
            mg_aws_member(t, t->type == MG_AWS_T_LIST ? 0 : 1)->target);
        for (size_t i = 0; i < q->n; i++) {
            bool mine = t->type == MG_AWS_T_LIST ? mg_slice_eq_cstr(q->kv[i].name, wn)
                                                 : !s_claimed(in, q->kv[i].name);
            if (!mine)
                continue;
            json_t *v = s_scalar(et->type == MG_AWS_T_LIST
                                     ? mg_aws_shape(mg_aws_member(et, 0)->target)
                                     : et,
                                 q->kv[i].value, &nomem);
            if (v == NULL) {
                json_decref(c);
                if (nomem)
                    return MG_E_NOMEM;
                s_bad_value(rep, op, "malformed", wn, s_type_words((enum mg_aws_type)et->type));
                return MG_E_PARSE;
            }
            int rc;
            if (t->type == MG_AWS_T_LIST) {
                rc = json_array_append_new(c, v);
            } else {
                char *k = mg_slice_dup(q->kv[i].name);
                rc = k && mg_utf8_valid(q->kv[i].name) ? json_object_set_new(c, k, v) : -1;
                if (k == NULL || rc)
                    json_decref(v);
                mg_free(k);
            }
            if (rc) {
                json_decref(c);
                return MG_E_NOMEM;
            }
        }
        if (json_is_array(c) ? json_array_size(c) == 0 : json_object_size(c) == 0) {
            json_decref(c);
            return MG_E_OK;
        }
        return json_object_set_new(obj, mg_aws_str(m->name), c) ? MG_E_NOMEM : MG_E_OK;
    }
    for (size_t i = 0; i < q->n; i++)
        if (mg_slice_eq_cstr(q->kv[i].name, wn))
            return s_set_scalar(obj, op, m, t, q->kv[i].value, rep);
    return MG_E_OK;
}

static enum mg_err s_rest_header(json_t *obj, const struct mg_aws_op *op,
                                 const struct mg_aws_member *m, const struct mg_aws_request *req,
                                 struct mg_aws_reply *rep)
{
    const struct mg_aws_shape *t = mg_aws_shape(m->target);
    const char *wn = mg_aws_member_wire_name(m);
    if (m->location == MG_AWS_LOC_HEADERS) {
        json_t *map = json_object();
        if (map == NULL)
            return MG_E_NOMEM;
        size_t plen = strlen(wn);
        for (size_t i = 0; i < req->n_headers; i++) {
            struct mg_slice n = req->headers[i].name;
            if (n.len <= plen || !mg_slice_ieq_cstr(mg_slice_make(n.ptr, plen), wn))
                continue;
            struct mg_slice v = req->headers[i].value;
            char *k = mg_slice_dup(mg_slice_make(n.ptr + plen, n.len - plen));
            json_t *jv = mg_utf8_valid(v) ? json_stringn(v.len ? (const char *)v.ptr : "", v.len)
                                          : NULL;
            int rc = k && jv && mg_utf8_valid(n) ? json_object_set_new(map, k, jv) : -1;
            if (rc)
                json_decref(jv);
            mg_free(k);
            if (rc) {
                json_decref(map);
                s_bad_value(rep, op, "malformed", wn, "a string");
                return MG_E_PARSE;
            }
        }
        if (json_object_size(map) == 0) {
            json_decref(map);
            return MG_E_OK;
        }
        return json_object_set_new(obj, mg_aws_str(m->name), map) ? MG_E_NOMEM : MG_E_OK;
    }
    const struct mg_slice *v = s_header(req, wn);
    if (v == NULL)
        return MG_E_OK;
    if (m->flags & MG_AWS_M_JSONVALUE) {
        struct mg_buf b;
        mg_buf_init(&b, v->len + 4);
        enum mg_err e = mg_base64_decode(&b, *v);
        json_t *j = e ? NULL
                      : json_loadb((const char *)(b.ptr ? b.ptr : (const uint8_t *)""), b.len,
                                   JSON_DECODE_ANY, NULL);
        mg_buf_cleanup(&b);
        if (j == NULL) {
            s_bad_value(rep, op, "not base64-encoded JSON", wn, "JSON");
            return MG_E_PARSE;
        }
        return json_object_set_new(obj, mg_aws_str(m->name), j) ? MG_E_NOMEM : MG_E_OK;
    }
    return s_set_scalar(obj, op, m, t, *v, rep);
}

static enum mg_err s_rest_label(json_t *obj, const struct mg_aws_op *op,
                                const struct mg_aws_member *m, const struct mg_aws_route *rt,
                                struct mg_aws_reply *rep)
{
    const char *wn = mg_aws_member_wire_name(m);
    for (size_t i = 0; i < rt->n_labels; i++) {
        if (!mg_slice_eq_cstr(rt->labels[i].name, wn))
            continue;
        if (mg_slice_find(rt->labels[i].raw, '%') < 0) /* nothing to decode */
            return s_set_scalar(obj, op, m, mg_aws_shape(m->target), rt->labels[i].raw, rep);
        struct mg_buf b;
        mg_buf_init(&b, rt->labels[i].raw.len + 1);
        enum mg_err e = mg_url_decode(&b, rt->labels[i].raw, false);
        if (e) {
            mg_buf_cleanup(&b);
            if (e == MG_E_NOMEM)
                return e;
            s_bad_value(rep, op, "bad percent-encoding", wn, "a string");
            return MG_E_PARSE;
        }
        e = s_set_scalar(obj, op, m, mg_aws_shape(m->target), mg_buf_slice(&b), rep);
        mg_buf_cleanup(&b);
        return e;
    }
    return MG_E_OK;
}

enum mg_err mg_aws_input_rest(const struct mg_aws_op *op, const struct mg_aws_route *rt,
                              const struct mg_aws_request *req, json_t **out,
                              struct mg_aws_reply *rep)
{
    *out = NULL;
    const struct mg_aws_shape *in = mg_aws_shape(op->input);
    json_t *obj = NULL;
    enum mg_err e = MG_E_OK;
    const struct mg_aws_member *payload = in && in->payload ? mg_aws_member(in, in->payload - 1u)
                                                            : NULL;
    bool payload_json = payload && mg_aws_shape(payload->target)->type == MG_AWS_T_STRUCTURE;
    if (req->body.len && in && (payload == NULL || payload_json)) {
        json_error_t jerr;
        json_t *b = json_loadb((const char *)req->body.ptr, req->body.len, JSON_REJECT_DUPLICATES,
                               &jerr);
        if (b == NULL || !json_is_object(b)) {
            json_decref(b);
            if (op->service == MG_AWS_SVC_LAMBDA)
                mg_aws_reply_error(rep, 400, "InvalidRequestContentException",
                                   "Could not parse request body into json: Could not parse "
                                   "payload into json");
            else
                mg_aws_reply_error(rep, 400, "SerializationException",
                                   "The request body is not a JSON object.");
            return MG_E_PARSE;
        }
        if (payload_json) {
            obj = json_object();
            if (obj == NULL || json_object_set_new(obj, mg_aws_str(payload->name), b)) {
                json_decref(obj);
                return MG_E_NOMEM;
            }
        } else {
            obj = b;
            /* members that live outside the body are not taken from it */
            for (size_t i = 0; i < in->count; i++) {
                const struct mg_aws_member *m = mg_aws_member(in, i);
                if (m->location != MG_AWS_LOC_BODY)
                    (void)json_object_del(obj, mg_aws_str(m->name));
            }
        }
    } else {
        obj = json_object();
        if (obj == NULL)
            return MG_E_NOMEM;
    }
    struct s_pairs q = {0};
    e = s_pairs_parse(&q, req->query);
    if (e == MG_E_TOO_LARGE) {
        mg_aws_reply_error(rep, 400, "SerializationException",
                           "The query string has more than %d parameters.", MG_LIMIT_QUERY_PARAMS);
        e = MG_E_PARSE;
    } else if (e == MG_E_PARSE) {
        mg_aws_reply_error(rep, 400, "SerializationException",
                           "The query string is not correctly percent-encoded.");
    }
    for (size_t i = 0; !e && in && i < in->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(in, i);
        switch ((enum mg_aws_location)m->location) {
        case MG_AWS_LOC_URI: e = s_rest_label(obj, op, m, rt, rep); break;
        case MG_AWS_LOC_QUERYSTRING: e = s_rest_query(obj, op, in, m, &q, rep); break;
        case MG_AWS_LOC_HEADER:
        case MG_AWS_LOC_HEADERS: e = s_rest_header(obj, op, m, req, rep); break;
        case MG_AWS_LOC_BODY:
        case MG_AWS_LOC_STATUS_CODE: break;
        }
    }
    s_pairs_cleanup(&q);
    if (e) {
        json_decref(obj);
        if (e == MG_E_NOMEM && rep->status == 0)
            mg_aws_reply_error(rep, 500, "InternalFailure", "Out of memory.");
        return e;
    }
    *out = obj;
    return MG_E_OK;
}

/* ---- query protocol --------------------------------------------------------------------- */

struct s_q {
    const struct mg_aws_op *op;
    const struct mg_aws_params *p;
    struct mg_aws_reply *rep;
};

/* Whether a parameter is named key, or starts with key + "." */
static bool s_q_any(const struct mg_aws_params *p, const char *key, size_t klen)
{
    for (size_t i = 0; i < p->n; i++) {
        struct mg_slice n = p->items[i].name;
        if (n.len >= klen && mg_memcmp(n.ptr, key, klen) == 0 &&
            (n.len == klen || n.ptr[klen] == '.'))
            return true;
    }
    return false;
}

static const struct mg_slice *s_q_exact(const struct mg_aws_params *p, const char *key)
{
    return mg_aws_param(p, key);
}

static enum mg_err s_q_value(struct s_q *c, uint16_t shape, const char *key, const char *path,
                             int depth, json_t **out);

static bool s_q_key(char *out, const char *prefix, const char *a, const char *b)
{
    int n = snprintf(out, S_KEY, "%s%s%s%s%s", prefix, *prefix ? "." : "", a, b ? "." : "",
                     b ? b : "");
    return n > 0 && n < S_KEY;
}

static enum mg_err s_q_value(struct s_q *c, uint16_t shape, const char *key, const char *path,
                             int depth, json_t **out)
{
    const struct mg_aws_shape *s = mg_aws_shape(shape);
    *out = NULL;
    if (s == NULL)
        return MG_E_OK;
    if (depth > MG_AWS_MAX_DEPTH) {
        mg_aws_reply_error(c->rep, 400, "ValidationError", "The input is nested too deeply.");
        return MG_E_PARSE;
    }
    char k[S_KEY], k2[S_KEY];
    size_t klen = strlen(key);
    switch ((enum mg_aws_type)s->type) {
    case MG_AWS_T_STRUCTURE: {
        if (klen && !s_q_any(c->p, key, klen))
            return MG_E_OK;
        json_t *obj = json_object();
        if (obj == NULL)
            return MG_E_NOMEM;
        for (size_t i = 0; i < s->count; i++) {
            const struct mg_aws_member *m = mg_aws_member(s, i);
            json_t *v;
            if (!s_q_key(k, key, mg_aws_member_wire_name(m), NULL))
                continue;
            enum mg_err e = s_q_value(c, m->target, k, mg_aws_str(m->name), depth + 1, &v);
            if (!e && v && json_object_set_new(obj, mg_aws_str(m->name), v))
                e = MG_E_NOMEM;
            if (e) {
                json_decref(obj);
                return e;
            }
        }
        *out = obj;
        return MG_E_OK;
    }
    case MG_AWS_T_LIST:
    case MG_AWS_T_MAP: {
        if (!s_q_any(c->p, key, klen))
            return MG_E_OK;
        const struct mg_slice *empty = s_q_exact(c->p, key);
        json_t *col = s->type == MG_AWS_T_LIST ? json_array() : json_object();
        if (col == NULL)
            return MG_E_NOMEM;
        *out = col;
        if (empty && empty->len == 0)
            return MG_E_OK; /* "Tags=": an empty list */
        const struct mg_aws_member *m0 = mg_aws_member(s, 0), *m1 = mg_aws_member(s, 1);
        bool flat = s->flags & MG_AWS_S_FLATTENED;
        const char *item = s->type == MG_AWS_T_LIST
                               ? (m0->location_name ? mg_aws_str(m0->location_name) : "member")
                               : "entry";
        for (size_t n = 1; n <= MG_AWS_MAX_ITEMS + 1; n++) {
            char idx[24];
            snprintf(idx, sizeof(idx), "%zu", n);
            if (!(flat ? s_q_key(k, key, idx, NULL) : s_q_key(k, key, item, idx)))
                break;
            if (!s_q_any(c->p, k, strlen(k)))
                break;
            if (n > MG_AWS_MAX_ITEMS) {
                mg_aws_reply_error(c->rep, 400, "ValidationError",
                                   "1 validation error detected: Value at '%s' has more than %d "
                                   "items.",
                                   path, MG_AWS_MAX_ITEMS);
                return MG_E_PARSE;
            }
            json_t *v = NULL, *kv = NULL;
            enum mg_err e;
            if (s->type == MG_AWS_T_LIST) {
                e = s_q_value(c, m0->target, k, path, depth + 1, &v);
                if (!e && v && json_array_append_new(col, v))
                    e = MG_E_NOMEM;
            } else {
                e = s_q_key(k2, k, m0->location_name ? mg_aws_str(m0->location_name) : "key", NULL)
                        ? s_q_value(c, m0->target, k2, path, depth + 1, &kv)
                        : MG_E_OK;
                if (!e &&
                    s_q_key(k2, k, m1->location_name ? mg_aws_str(m1->location_name) : "value",
                            NULL))
                    e = s_q_value(c, m1->target, k2, path, depth + 1, &v);
                if (!e && (!json_is_string(kv) || v == NULL)) {
                    mg_aws_reply_error(c->rep, 400, "ValidationError",
                                       "1 validation error detected: Value at '%s' has an entry "
                                       "without a key or a value.",
                                       path);
                    e = MG_E_PARSE;
                }
                if (!e && json_object_set_new(col, json_string_value(kv), v))
                    e = MG_E_NOMEM;
                else if (!e)
                    v = NULL;
                json_decref(kv);
                if (e)
                    json_decref(v);
            }
            if (e) {
                json_decref(col);
                *out = NULL;
                return e;
            }
        }
        return MG_E_OK;
    }
    case MG_AWS_T_DOCUMENT: return MG_E_OK;
    case MG_AWS_T_STRING:
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG:
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE:
    case MG_AWS_T_BOOLEAN:
    case MG_AWS_T_TIMESTAMP:
    case MG_AWS_T_BLOB: break;
    }
    const struct mg_slice *v = s_q_exact(c->p, key);
    if (v == NULL)
        return MG_E_OK;
    bool nomem;
    *out = s_scalar(s, *v, &nomem);
    if (*out == NULL) {
        if (nomem)
            return MG_E_NOMEM;
        s_bad_value(c->rep, c->op, "malformed", path, s_type_words((enum mg_aws_type)s->type));
        return MG_E_PARSE;
    }
    return MG_E_OK;
}

enum mg_err mg_aws_input_query(const struct mg_aws_op *op, const struct mg_aws_params *params,
                               json_t **out, struct mg_aws_reply *rep)
{
    struct s_q c = {op, params, rep};
    *out = NULL;
    json_t *obj = NULL;
    enum mg_err e = op->input == MG_AWS_NO_SHAPE ? MG_E_OK
                                                 : s_q_value(&c, op->input, "", "", 0, &obj);
    if (!e && obj == NULL && (obj = json_object()) == NULL)
        e = MG_E_NOMEM;
    if (e) {
        json_decref(obj);
        if (e == MG_E_NOMEM && rep->status == 0)
            mg_aws_reply_error(rep, 500, "InternalFailure", "Out of memory.");
        return e;
    }
    *out = obj;
    return MG_E_OK;
}
