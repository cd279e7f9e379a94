/* YAML to JSON (jansson) for schemas given as YAML: libyaml's event parser builds the value
 * directly, with limits on bytes, depth, nodes and aliases. An alias shares the anchored value
 * (a jansson reference), and every use counts the anchored value's full size against the node
 * limit, so that a document of nested aliases ("billion laughs") is refused before it can grow.
 * Plain scalars are typed by the YAML 1.2 core schema (null, booleans, integers, floats); quoted
 * and block scalars, and scalars tagged !!str, stay strings. Mapping keys are scalar texts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/alloc.h"
#include "base/json.h"
#include "targets/targets.h"

#define S_MAX_ANCHORS 1024

struct s_frame {
    json_t *node;
    char *key; /* the pending key of a mapping (owned), NULL while a key is expected */
    char *anchor;
    size_t nodes; /* expanded nodes inside, the node itself included */
};

struct s_anchor {
    char *name;
    json_t *node;
    size_t nodes;
};

struct s_conv {
    const struct mg_yaml_limits *lim;
    struct s_frame *stack;
    size_t depth;
    struct s_anchor anchors[S_MAX_ANCHORS];
    size_t n_anchors, n_aliases, nodes;
    json_t *root;
    char *msg;
    size_t cap;
    size_t line;
};

static enum mg_err s_fail(struct s_conv *c, enum mg_err e, const char *what)
{
    snprintf(c->msg, c->cap, "YAML line %zu: %s", c->line, what);
    return e;
}

static bool s_eq(const char *v, size_t n, const char *lit)
{
    return strlen(lit) == n && mg_memcmp(v, lit, n) == 0;
}

static bool s_all(const char *v, size_t n, const char *set)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr(set, v[i]) == NULL)
            return false;
    return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool s_is_float(const char *v, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (v[i] == '-' || v[i] == '+'))
        i++;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++, digits++;
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < n && (v[i] == 'e' || v[i] == 'E')) {
        i++;
        if (i < n && (v[i] == '-' || v[i] == '+'))
            i++;
        size_t e = 0;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, e++;
        if (e == 0)
            return false;
    }
    return i == n;
}

/* The value of a plain scalar by the core schema. */
static json_t *s_plain(const char *v, size_t n)
{
    if (n == 0 || s_eq(v, n, "~") || s_eq(v, n, "null") || s_eq(v, n, "Null") || s_eq(v, n, "NULL"))
        return json_null();
    if (s_eq(v, n, "true") || s_eq(v, n, "True") || s_eq(v, n, "TRUE"))
        return json_true();
    if (s_eq(v, n, "false") || s_eq(v, n, "False") || s_eq(v, n, "FALSE"))
        return json_false();
    if (n < 64) {
        char t[64];
        mg_memcpy(t, v, n);
        t[n] = 0;
        const char *d = t + (t[0] == '-' || t[0] == '+');
        int base = 0;
        const char *digits = NULL;
        if (s_all(d, strlen(d), "0123456789"))
            base = 10, digits = t;
        else if (t[0] == '0' && t[1] == 'x' && s_all(t + 2, n - 2, "0123456789abcdefABCDEF"))
            base = 16, digits = t + 2;
        else if (t[0] == '0' && t[1] == 'o' && s_all(t + 2, n - 2, "01234567"))
            base = 8, digits = t + 2;
        if (base != 0) {
            errno = 0;
            char *end = NULL;
            long long i = strtoll(digits, &end, base);
            if (errno == 0 && end != NULL && *end == 0)
                return json_integer(i);
            /* too large for an integer: a number still */
            double r = strtod(t, &end);
            if (base == 10 && end != NULL && *end == 0 && r - r == 0)
                return json_real(r);
            return json_stringn(v, n);
        }
        if (s_is_float(t, n)) {
            char *end = NULL;
            double r = strtod(t, &end);
            if (end != NULL && *end == 0 && r - r == 0) /* finite: JSON has no inf or nan */
                return json_real(r);
        }
    }
    return json_stringn(v, n);
}

static char *s_dup(const char *s, size_t n)
{
    char *d = mg_malloc(n + 1);
    if (d != NULL) {
        mg_memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* Adds v (a new reference, nodes expanded nodes, fresh of them not yet counted) where the parser
 * is: the root, the next item of a sequence or the value of the pending key. */
static enum mg_err s_add(struct s_conv *c, json_t *v, size_t nodes, size_t fresh)
{
    if (v == NULL)
        return s_fail(c, MG_E_NOMEM, "out of memory");
    if (fresh > c->lim->max_nodes || c->nodes > c->lim->max_nodes - fresh) {
        json_decref(v);
        snprintf(c->msg, c->cap, "YAML line %zu: more than %zu nodes (aliases expanded)", c->line,
                 c->lim->max_nodes);
        return MG_E_TOO_LARGE;
    }
    c->nodes += fresh;
    if (c->depth == 0) {
        if (c->root != NULL) {
            json_decref(v);
            return s_fail(c, MG_E_INVALID, "more than one value");
        }
        c->root = v;
        return MG_E_OK;
    }
    struct s_frame *f = &c->stack[c->depth - 1];
    f->nodes += nodes;
    if (json_is_array(f->node))
        return mg_json_append(f->node, v) ? MG_E_OK : s_fail(c, MG_E_NOMEM, "out of memory");
    if (f->key == NULL) {
        json_decref(v);
        return s_fail(c, MG_E_INVALID, "a mapping key must be a scalar");
    }
    if (json_object_get(f->node, f->key) != NULL) {
        json_decref(v);
        char what[200];
        snprintf(what, sizeof(what), "duplicate key \"%.120s\"", f->key);
        return s_fail(c, MG_E_INVALID, what);
    }
    bool ok = mg_json_set(f->node, f->key, v);
    mg_free(f->key);
    f->key = NULL;
    return ok ? MG_E_OK : s_fail(c, MG_E_NOMEM, "out of memory");
}

/* A scalar where a mapping expects its key: takes the text. */
static bool s_wants_key(const struct s_conv *c)
{
    return c->depth > 0 && json_is_object(c->stack[c->depth - 1].node) &&
           c->stack[c->depth - 1].key == NULL;
}

static enum mg_err s_anchor(struct s_conv *c, const char *name, json_t *node, size_t nodes)
{
    if (name == NULL)
        return MG_E_OK;
    if (c->n_anchors >= S_MAX_ANCHORS)
        return s_fail(c, MG_E_TOO_LARGE, "too many anchors");
    char *n = mg_strdup(name);
    if (n == NULL)
        return s_fail(c, MG_E_NOMEM, "out of memory");
    c->anchors[c->n_anchors++] = (struct s_anchor){n, json_incref(node), nodes};
    return MG_E_OK;
}

static enum mg_err s_scalar(struct s_conv *c, const yaml_event_t *ev)
{
    const char *v = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    if (s_wants_key(c)) {
        if (memchr(v, 0, n) != NULL)
            return s_fail(c, MG_E_INVALID, "a mapping key holds a NUL character");
        char *k = s_dup(v, n);
        if (k == NULL)
            return s_fail(c, MG_E_NOMEM, "out of memory");
        c->stack[c->depth - 1].key = k;
        if (ev->data.scalar.anchor != NULL) {
            json_t *s = json_string(k);
            enum mg_err e = s_anchor(c, (const char *)ev->data.scalar.anchor, s, 1);
            json_decref(s);
            return s == NULL ? s_fail(c, MG_E_NOMEM, "out of memory") : e;
        }
        return MG_E_OK;
    }
    const char *tag = (const char *)ev->data.scalar.tag;
    bool str = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
               (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0);
    json_t *val = str ? json_stringn(v, n) : s_plain(v, n);
    if (val == NULL)
        return s_fail(c, MG_E_NOMEM, "out of memory");
    enum mg_err e = s_anchor(c, (const char *)ev->data.scalar.anchor, val, 1);
    if (e != MG_E_OK) {
        json_decref(val);
        return e;
    }
    return s_add(c, val, 1, 1);
}

static enum mg_err s_alias(struct s_conv *c, const char *name)
{
    if (++c->n_aliases > c->lim->max_aliases) {
        snprintf(c->msg, c->cap, "YAML line %zu: more than %zu aliases", c->line,
                 c->lim->max_aliases);
        return MG_E_TOO_LARGE;
    }
    for (size_t i = c->n_anchors; i-- > 0;) {
        struct s_anchor *a = &c->anchors[i];
        if (strcmp(a->name, name) != 0)
            continue;
        if (s_wants_key(c)) {
            if (!json_is_string(a->node))
                return s_fail(c, MG_E_INVALID, "a mapping key must be a scalar");
            char *k = mg_strdup(json_string_value(a->node));
            if (k == NULL)
                return s_fail(c, MG_E_NOMEM, "out of memory");
            c->stack[c->depth - 1].key = k;
            return MG_E_OK;
        }
        return s_add(c, json_incref(a->node), a->nodes, a->nodes);
    }
    /* an alias of a node still open (a cycle) lands here too: its anchor is set when it closes */
    char what[160];
    snprintf(what, sizeof(what), "alias *%.100s names no complete anchored node", name);
    return s_fail(c, MG_E_INVALID, what);
}

static enum mg_err s_open(struct s_conv *c, json_t *node, const char *anchor)
{
    if (node == NULL)
        return s_fail(c, MG_E_NOMEM, "out of memory");
    if (s_wants_key(c)) {
        json_decref(node);
        return s_fail(c, MG_E_INVALID, "a mapping key must be a scalar");
    }
    if (c->depth >= c->lim->max_depth) {
        json_decref(node);
        snprintf(c->msg, c->cap, "YAML line %zu: nested deeper than %zu levels", c->line,
                 c->lim->max_depth);
        return MG_E_TOO_LARGE;
    }
    char *a = NULL;
    if (anchor != NULL && (a = mg_strdup(anchor)) == NULL) {
        json_decref(node);
        return s_fail(c, MG_E_NOMEM, "out of memory");
    }
    c->stack[c->depth++] = (struct s_frame){node, NULL, a, 1};
    return MG_E_OK;
}

static enum mg_err s_close(struct s_conv *c)
{
    struct s_frame f = c->stack[--c->depth];
    mg_free(f.key); /* NULL unless a mapping ended after a key (the parser does not allow it) */
    enum mg_err e = s_anchor(c, f.anchor, f.node, f.nodes);
    mg_free(f.anchor);
    if (e != MG_E_OK) {
        json_decref(f.node);
        return e;
    }
    /* what is inside was counted as it came: the mapping or sequence itself is fresh */
    return s_add(c, f.node, f.nodes, 1);
}

static enum mg_err s_event(struct s_conv *c, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT: return MG_E_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (c->root != NULL)
            return s_fail(c, MG_E_INVALID, "more than one document");
        return MG_E_OK;
    case YAML_DOCUMENT_END_EVENT: return MG_E_OK;
    case YAML_STREAM_END_EVENT: *done = true; return MG_E_OK;
    case YAML_SCALAR_EVENT: return s_scalar(c, ev);
    case YAML_ALIAS_EVENT: return s_alias(c, (const char *)ev->data.alias.anchor);
    case YAML_SEQUENCE_START_EVENT:
        return s_open(c, json_array(), (const char *)ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return s_open(c, json_object(), (const char *)ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth == 0)
            return s_fail(c, MG_E_INVALID, "unbalanced collection");
        return s_close(c);
    }
    return s_fail(c, MG_E_INVALID, "unexpected event");
}

enum mg_err mg_yaml_to_json(struct mg_slice in, const struct mg_yaml_limits *lim, json_t **out,
                            char *msg, size_t cap)
{
    *out = NULL;
    if (in.len > lim->max_bytes) {
        snprintf(msg, cap, "YAML document of %zu bytes is larger than %zu bytes", in.len,
                 lim->max_bytes);
        return MG_E_TOO_LARGE;
    }
    struct s_conv *c = mg_calloc(1, sizeof(*c));
    struct s_frame *stack = mg_calloc(lim->max_depth + 1, sizeof(*stack));
    yaml_parser_t p;
    if (c == NULL || stack == NULL || !yaml_parser_initialize(&p)) {
        mg_free(c);
        mg_free(stack);
        snprintf(msg, cap, "out of memory");
        return MG_E_NOMEM;
    }
    c->lim = lim;
    c->stack = stack;
    c->msg = msg;
    c->cap = cap;
    yaml_parser_set_input_string(&p, in.ptr, in.len);
    enum mg_err e = MG_E_OK;
    bool done = false;
    while (!done && e == MG_E_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            c->line = p.problem_mark.line + 1;
            if (p.error == YAML_MEMORY_ERROR)
                e = s_fail(c, MG_E_NOMEM, "out of memory");
            else {
                char what[300];
                snprintf(what, sizeof(what), "%.200s%s%.80s",
                         p.problem ? p.problem : "malformed YAML", p.context ? " " : "",
                         p.context ? p.context : "");
                e = s_fail(c, MG_E_PARSE, what);
            }
            break;
        }
        c->line = ev.start_mark.line + 1;
        e = s_event(c, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (c->depth > 0) {
        struct s_frame *f = &c->stack[--c->depth];
        json_decref(f->node);
        mg_free(f->key);
        mg_free(f->anchor);
    }
    for (size_t i = 0; i < c->n_anchors; i++) {
        mg_free(c->anchors[i].name);
        json_decref(c->anchors[i].node);
    }
    if (e == MG_E_OK && c->root == NULL)
        e = s_fail(c, MG_E_INVALID, "empty document");
    if (e == MG_E_OK)
        *out = c->root;
    else
        json_decref(c->root);
    mg_free(stack);
    mg_free(c);
    return e;
}
