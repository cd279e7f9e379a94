/* Routers over the model tables: query Action -> operation, rest-json method + path (+ literal
 * query) -> operation + label values (see model.h). */
#include "aws/model.h"

#include <pthread.h>

const struct mg_aws_op *mg_aws_route_query(enum mg_aws_service svc, struct mg_slice action)
{
    const struct mg_aws_service_info *s = mg_aws_service(svc);
    if (s == NULL || s->wire != MG_AWS_WIRE_QUERY)
        return NULL;
    return mg_aws_op_find(svc, action);
}

/* Next non-empty segment of a path ("/a//b" -> "a", then "b"); false at the end. */
static bool s_next_segment(struct mg_slice *rest, struct mg_slice *seg)
{
    size_t i = 0;
    while (i < rest->len && rest->ptr[i] == '/')
        i++;
    if (i == rest->len) {
        *rest = mg_slice_make(rest->ptr + i, 0);
        return false;
    }
    size_t j = i;
    while (j < rest->len && rest->ptr[j] != '/')
        j++;
    *seg = mg_slice_make(rest->ptr + i, j - i);
    *rest = mg_slice_make(rest->ptr + j, rest->len - j);
    return true;
}

/* The next name=value pair of a query ("a=1&b" -> "a","1", then "b",""); false at the end. */
static bool s_next_pair(struct mg_slice *rest, struct mg_slice *name, struct mg_slice *value)
{
    if (rest->len == 0)
        return false;
    struct mg_slice pair;
    if (!mg_slice_split(rest, '&', &pair)) {
        pair = *rest;
        *rest = mg_slice_make(rest->ptr + rest->len, 0);
    }
    long eq = mg_slice_find(pair, '=');
    *name = eq < 0 ? pair : mg_slice_make(pair.ptr, (size_t)eq);
    *value = eq < 0 ? mg_slice_make(pair.ptr, 0)
                    : mg_slice_make(pair.ptr + eq + 1, pair.len - (size_t)eq - 1);
    return true;
}

/* Whether the raw query has name=value (or just name, when value is empty) among its pairs. */
static bool s_query_has(struct mg_slice query, struct mg_slice name, struct mg_slice value)
{
    struct mg_slice rest = query, n, v;
    while (s_next_pair(&rest, &n, &v))
        if (mg_slice_eq(n, name) && (value.len == 0 || mg_slice_eq(v, value)))
            return true;
    return false;
}

/* Every literal query part of the template ("find=LayerVersion&x") present; counts them. */
static bool s_query_match(const char *tq, struct mg_slice query, int *parts)
{
    struct mg_slice rest = mg_slice_cstr(tq), n, v;
    *parts = 0;
    while (s_next_pair(&rest, &n, &v)) {
        if (!s_query_has(query, n, v))
            return false;
        (*parts)++;
    }
    return true;
}

struct s_score {
    int literal, query, plain; /* literal segments, literal query parts, no greedy label */
};

static bool s_better(struct s_score a, struct s_score b)
{
    if (a.literal != b.literal)
        return a.literal > b.literal;
    if (a.query != b.query)
        return a.query > b.query;
    return a.plain > b.plain;
}

/* Matches one template against the path, filling labels; false when it does not match. */
static bool s_match(const char *tmpl, struct mg_slice path, struct mg_aws_route *rt,
                    struct s_score *sc)
{
    struct mg_slice t = mg_slice_cstr(tmpl), p = path, ts, ps;
    sc->literal = 0;
    sc->plain = 1;
    rt->n_labels = 0;
    for (;;) {
        bool more_t = s_next_segment(&t, &ts), more_p = s_next_segment(&p, &ps);
        if (!more_t)
            return !more_p;
        if (!more_p)
            return false;
        bool label = ts.len >= 3 && ts.ptr[0] == '{' && ts.ptr[ts.len - 1] == '}';
        if (!label) {
            if (!mg_slice_eq(ts, ps))
                return false;
            sc->literal++;
            continue;
        }
        bool greedy = ts.ptr[ts.len - 2] == '+';
        struct mg_slice name = mg_slice_make(ts.ptr + 1, ts.len - 2 - (greedy ? 1 : 0));
        if (rt->n_labels == MG_AWS_MAX_LABELS)
            return false;
        rt->labels[rt->n_labels].name = name; /* static: the template is in the string table */
        rt->labels[rt->n_labels].raw = ps;
        if (greedy) {
            /* the rest of the path, from this segment on, trailing slash kept out */
            size_t end = path.len;
            while (end > 0 && path.ptr[end - 1] == '/')
                end--;
            size_t from = (size_t)(ps.ptr - path.ptr);
            rt->labels[rt->n_labels].raw = mg_slice_make(ps.ptr, end > from ? end - from : 0);
            sc->plain = 0;
        }
        rt->n_labels++;
        if (greedy) {
            struct mg_slice more;
            return !s_next_segment(&t, &more); /* a greedy label ends the template */
        }
    }
}

int mg_aws_route_template(const char *tmpl, struct mg_slice path, struct mg_aws_route *out)
{
    struct s_score sc;
    out->op = NULL;
    if (!s_match(tmpl, path, out, &sc)) {
        out->n_labels = 0;
        return -1;
    }
    return sc.literal;
}

/* The request's method as the tables write it; false for a method no operation uses. */
static bool s_method(struct mg_slice method, uint8_t *out)
{
    static const enum mg_aws_method all[] = {MG_AWS_GET,    MG_AWS_POST,  MG_AWS_PUT,
                                             MG_AWS_DELETE, MG_AWS_PATCH, MG_AWS_HEAD};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (mg_slice_eq_cstr(method, mg_aws_method_name(all[i]))) {
            *out = (uint8_t)all[i];
            return true;
        }
    }
    return false;
}

/* What the router checks of each template before matching it: its segments, whether its last
 * is greedy, its first segment when that is literal; and the operations of each service by
 * method. Made once from the tables. */
#define S_MAX_OPS 2048
#define S_METHODS 6 /* enum mg_aws_method */
struct s_tmpl {
    uint16_t n_segs;
    bool greedy;
    struct mg_slice first; /* empty when the first segment is a label */
};
static struct s_tmpl s_tmpls[S_MAX_OPS];
static uint16_t s_order[S_MAX_OPS]; /* op indices by service, then method, then table order */
static struct {
    uint16_t start, count;
} s_groups[MG_AWS_SVC_COUNT][S_METHODS];
static bool s_tmpls_ready;
static pthread_once_t s_tmpls_once = PTHREAD_ONCE_INIT;

static void s_tmpls_init(void)
{
    if (mg_aws_model.n_ops > S_MAX_OPS || mg_aws_model.n_services > MG_AWS_SVC_COUNT)
        return; /* every template is matched in full */
    for (size_t i = 0; i < mg_aws_model.n_ops; i++) {
        struct mg_slice rest = mg_slice_cstr(mg_aws_str(mg_aws_model.ops[i].uri)), seg;
        struct s_tmpl *t = &s_tmpls[i];
        while (s_next_segment(&rest, &seg)) {
            bool label = seg.len >= 3 && seg.ptr[0] == '{' && seg.ptr[seg.len - 1] == '}';
            if (t->n_segs == 0 && !label)
                t->first = seg;
            if (t->n_segs < UINT16_MAX)
                t->n_segs++;
            if (label && seg.ptr[seg.len - 2] == '+') {
                t->greedy = true;
                break; /* a greedy label ends the template */
            }
        }
    }
    size_t n = 0;
    for (size_t k = 0; k < mg_aws_model.n_services; k++) {
        const struct mg_aws_service_info *s = &mg_aws_model.services[k];
        if ((size_t)s->first_op + s->n_ops > mg_aws_model.n_ops)
            return;
        for (uint8_t m = 0; m < S_METHODS; m++) {
            s_groups[k][m].start = (uint16_t)n;
            for (size_t i = s->first_op; i < (size_t)s->first_op + s->n_ops; i++)
                if (mg_aws_model.ops[i].method == m && n < S_MAX_OPS)
                    s_order[n++] = (uint16_t)i;
            s_groups[k][m].count = (uint16_t)(n - s_groups[k][m].start);
        }
    }
    s_tmpls_ready = true;
}

/* Whether template i can match a path of n segments whose first is first (false: it cannot). */
static bool s_may_match(size_t i, size_t n, struct mg_slice first)
{
    const struct s_tmpl *t = &s_tmpls[i];
    if (t->greedy ? n < t->n_segs : n != t->n_segs)
        return false;
    return t->first.len == 0 || mg_slice_eq(t->first, first);
}

struct s_best {
    struct mg_aws_route *out;
    struct s_score score;
};

/* Matches operation i against the path and query; keeps it in b when it is the best so far. */
static void s_try(size_t i, struct mg_slice path, struct mg_slice query, struct s_best *b)
{
    const struct mg_aws_op *op = &mg_aws_model.ops[i];
    struct mg_aws_route cur;
    struct s_score sc;
    if (!s_match(mg_aws_str(op->uri), path, &cur, &sc))
        return;
    if (!s_query_match(mg_aws_str(op->query), query, &sc.query))
        return;
    if (b->out->op == NULL || s_better(sc, b->score)) {
        b->score = sc;
        *b->out = cur;
        b->out->op = op;
    }
}

bool mg_aws_route_rest(const enum mg_aws_service *svcs, size_t n_svcs, struct mg_slice method,
                       struct mg_slice path, struct mg_slice query, struct mg_aws_route *out)
{
    struct s_best best = {out, {-1, -1, -1}};
    out->op = NULL;
    out->n_labels = 0;
    uint8_t m;
    if (!s_method(method, &m))
        return false;
    /* the path's first segment and how many it has: most templates are told apart there */
    struct mg_slice first_rest = path, first = {0}, seg;
    bool has_first = s_next_segment(&first_rest, &first);
    size_t n_segs = has_first;
    while (s_next_segment(&first_rest, &seg))
        n_segs++;
    (void)pthread_once(&s_tmpls_once, s_tmpls_init);
    for (size_t k = 0; k < n_svcs; k++) {
        const struct mg_aws_service_info *s = mg_aws_service(svcs[k]);
        if (s == NULL || s->wire == MG_AWS_WIRE_QUERY)
            continue;
        if (s_tmpls_ready && m < S_METHODS) {
            size_t from = s_groups[svcs[k]][m].start, to = from + s_groups[svcs[k]][m].count;
            for (size_t j = from; j < to; j++)
                if (s_may_match(s_order[j], n_segs, first))
                    s_try(s_order[j], path, query, &best);
            continue;
        }
        for (size_t i = s->first_op; i < (size_t)s->first_op + s->n_ops; i++) {
            const struct mg_aws_op *op = &mg_aws_model.ops[i];
            if (op->method != m) /* compared first: most operations differ here */
                continue;
            const char *u = mg_aws_str(op->uri);
            while (*u == '/')
                u++;
            if (has_first && *u != '{' && (uint8_t)*u != first.ptr[0])
                continue;
            s_try(i, path, query, &best);
        }
    }
    return out->op != NULL;
}
