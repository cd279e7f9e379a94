/* Smithy model targets: a Smithy JSON AST ({"smithy": "2.0", "shapes": {...}}) becomes one tool
 * per operation of its service; a call becomes a request serialized by the service's protocol
 * (aws.protocols#restJson1, #awsJson1_0 or #awsJson1_1) that the caller signs with SigV4 under
 * the model's signing name; the answer becomes a CallToolResult.
 *
 * The "_call" of a tool (docs/targets-smithy.md):
 *   {"protocol": "restJson1"|"awsJson1_0"|"awsJson1_1", "signingName": NAME,
 *    "endpointPrefix": PREFIX, "targetPrefix": SERVICE_SHAPE_NAME, "operation": NAME,
 *    restJson1 only: "method": M, "uri": PATTERN,
 *      "bindings": [{"member": M, "in": "label"|"query"|"queryParams"|"header"|"prefixHeaders"|
 *                    "payload"|"body", "name": WIRE_NAME, "kind": SHAPE_TYPE, "greedy": bool}]} */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/limits.h"
#include "base/util.h"
#include "targets/targets.h"

#define S_MAX_MODEL (10u * 1024 * 1024)    /* AgentCore: a Smithy model of up to 10 MB */
#define S_MAX_DEPTH 64                     /* JSON nesting of the model text */
#define S_MAX_SHAPES 100000                /* shapes of one model */
#define S_MAX_RESOURCE_DEPTH 16            /* resources inside resources */
#define S_MAX_SCHEMA_DEPTH 12              /* nesting of one inputSchema (recursive shapes stop) */
#define S_MAX_SCHEMA_NODES 4000            /* schema nodes of one tool */
#define S_MAX_DOC 2048                     /* bytes of one tool's description */
#define S_MAX_PROP_DOC 512                 /* bytes of one property's description */
#define S_MAX_TOTAL_NODES 200000           /* schema nodes of all the tools of a model */
#define S_MAX_TOTAL_DOC (4u * 1024 * 1024) /* bytes of the properties' descriptions, all tools */
#define S_MAX_WIRE_URI 2048                /* bytes of one operation's URI pattern */

/* ---- the model ----------------------------------------------------------------------------- */

struct s_model {
    json_t *root;   /* owned */
    json_t *shapes; /* borrowed from root */
    const char *protocol;
    char *msg;
    size_t cap;
};

static enum mg_err s_fail(struct s_model *m, const char *fmt, ...) MG_PRINTF(2, 3);
static enum mg_err s_fail(struct s_model *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->msg, m->cap, fmt, ap);
    va_end(ap);
    (void)n; /* a message longer than the caller's buffer is cut: it is text for a person */
    return MG_E_INVALID;
}

/* Nesting depth of JSON text, strings skipped: checked before jansson builds anything. */
static bool s_depth_ok(struct mg_slice t, size_t max)
{
    size_t depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < t.len; i++) {
        uint8_t c = t.ptr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            if (++depth > max)
                return false;
        } else if ((c == '}' || c == ']') && depth > 0)
            depth--;
    }
    return true;
}

/* The part of a shape id after '#' ("com.amazonaws.lambda#ListFunctions" -> "ListFunctions"). */
static const char *s_short(const char *id)
{
    const char *h = strchr(id, '#');
    return h ? h + 1 : id;
}

static const json_t *s_traits(const json_t *shape)
{
    return json_object_get(shape, "traits");
}

static const json_t *s_trait(const json_t *shape, const char *name)
{
    return json_object_get(s_traits(shape), name);
}

static const char *s_target(const json_t *ref)
{
    return json_string_value(json_object_get(ref, "target"));
}

/* The shape a member or reference names, or NULL. The prelude's simple shapes
 * (smithy.api#String ...) are not in the model: s_prelude_type names their type. */
static const json_t *s_shape(const struct s_model *m, const char *id)
{
    return id ? json_object_get(m->shapes, id) : NULL;
}

static const char *s_prelude_type(const char *id)
{
    static const struct {
        const char *id, *type;
    } t[] = {
        {"String", "string"},
        {"Blob", "blob"},
        {"Boolean", "boolean"},
        {"PrimitiveBoolean", "boolean"},
        {"Byte", "byte"},
        {"PrimitiveByte", "byte"},
        {"Short", "short"},
        {"PrimitiveShort", "short"},
        {"Integer", "integer"},
        {"PrimitiveInteger", "integer"},
        {"Long", "long"},
        {"PrimitiveLong", "long"},
        {"Float", "float"},
        {"PrimitiveFloat", "float"},
        {"Double", "double"},
        {"PrimitiveDouble", "double"},
        {"BigInteger", "bigInteger"},
        {"BigDecimal", "bigDecimal"},
        {"Timestamp", "timestamp"},
        {"Document", "document"},
        {"Unit", "structure"},
    };
    if (id == NULL || strncmp(id, "smithy.api#", 11) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(id + 11, t[i].id) == 0)
            return t[i].type;
    return NULL;
}

/* The type of the shape id names ("string", "structure", ...), or NULL when unknown. */
static const char *s_type_of(const struct s_model *m, const char *id)
{
    const json_t *sh = s_shape(m, id);
    if (sh)
        return json_string_value(json_object_get(sh, "type"));
    return s_prelude_type(id);
}

static bool s_is_int_type(const char *t)
{
    return strcmp(t, "byte") == 0 || strcmp(t, "short") == 0 || strcmp(t, "integer") == 0 ||
           strcmp(t, "long") == 0 || strcmp(t, "bigInteger") == 0 || strcmp(t, "intEnum") == 0;
}

static bool s_is_num_type(const char *t)
{
    return strcmp(t, "float") == 0 || strcmp(t, "double") == 0 || strcmp(t, "bigDecimal") == 0;
}

/* ---- descriptions: smithy.api#documentation without HTML ------------------------------------ */

/* True for the tags that sit inside a line of text (<code>, </b>...): dropped without a space. */
static bool s_inline_tag(const char *t)
{
    static const char *const inl[] = {"a",      "b",    "i",   "u",   "code",    "em",
                                      "strong", "span", "sub", "sup", "fullname"};
    if (*t == '/')
        t++;
    size_t n = 0;
    while ((t[n] >= 'a' && t[n] <= 'z') || (t[n] >= 'A' && t[n] <= 'Z'))
        n++;
    for (size_t i = 0; i < sizeof(inl) / sizeof(inl[0]); i++)
        if (strlen(inl[i]) == n && strncasecmp(inl[i], t, n) == 0)
            return true;
    return false;
}

/* Appends the text of HTML doc with tags dropped, a few entities decoded and white space
 * collapsed, at most max bytes (cut on a UTF-8 boundary). */
static enum mg_err s_doc_text(struct mg_buf *b, const char *doc, size_t max)
{
    static const struct {
        const char *ent, *txt;
    } ents[] = {{"&lt;", "<"},  {"&gt;", ">"},   {"&amp;", "&"}, {"&quot;", "\""},
                {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};
    bool space = true; /* drops leading white space */
    for (const char *p = doc; *p && b->len < max;) {
        if (*p == '<') {
            const char *e = strchr(p, '>');
            if (e == NULL)
                break;
            bool inline_tag = s_inline_tag(p + 1);
            p = e + 1;
            if (!space && !inline_tag) {
                MG_TRY(mg_buf_append_byte(b, ' '));
                space = true;
            }
            continue;
        }
        const char *out = NULL;
        size_t used = 1;
        if (*p == '&')
            for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
                size_t n = strlen(ents[i].ent);
                if (strncmp(p, ents[i].ent, n) == 0) {
                    out = ents[i].txt;
                    used = n;
                    break;
                }
            }
        uint8_t c = out ? (uint8_t)out[0] : (uint8_t)*p;
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            if (!space)
                MG_TRY(mg_buf_append_byte(b, ' '));
            space = true;
        } else {
            MG_TRY(out ? mg_buf_append_cstr(b, out) : mg_buf_append_byte(b, c));
            space = false;
        }
        p += used;
    }
    while (b->len > 0 && b->ptr[b->len - 1] == ' ')
        b->len--;
    if (b->len > max) /* an entity's text past max */
        b->len = max;
    /* the cut may have split a UTF-8 sequence: back up to its start */
    if (b->len == max) {
        size_t k = b->len;
        while (k > 0 && (b->ptr[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && (b->ptr[k - 1] & 0x80)) {
            uint8_t lead = b->ptr[k - 1];
            size_t need = (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
            if (b->len - (k - 1) < need)
                b->len = k - 1;
        }
    }
    return MG_E_OK;
}

/* A new JSON string of a shape's documentation, or NULL when it has none (or out of memory:
 * *err tells). */
static json_t *s_doc(const json_t *shape, size_t max, enum mg_err *err)
{
    const char *d = json_string_value(s_trait(shape, "smithy.api#documentation"));
    *err = MG_E_OK;
    if (d == NULL)
        return NULL;
    struct mg_buf b;
    mg_buf_init(&b, max + 16);
    enum mg_err e = s_doc_text(&b, d, max);
    json_t *s = NULL;
    if (e == MG_E_OK && b.len > 0) {
        s = json_stringn((const char *)b.ptr, b.len);
        if (s == NULL)
            e = MG_E_NOMEM;
    }
    mg_buf_cleanup(&b);
    *err = e;
    return s;
}

/* ---- inputSchema ------------------------------------------------------------------------------ */

struct s_schema_ctx {
    const struct s_model *m;
    const char *stack[S_MAX_SCHEMA_DEPTH + 1]; /* aggregate shapes being expanded */
    size_t depth;
    size_t nodes;
    size_t *total_nodes; /* across the tools of the model */
    size_t *doc_bytes;   /* properties' descriptions across the tools of the model */
    bool rest_body;      /* restJson1: nested members take their jsonName */
};

static json_t *s_schema(struct s_schema_ctx *c, const char *id, const json_t *member);

/* {"type": t} plus the member's or shape's documentation. */
static json_t *s_typed(const char *t)
{
    json_t *o = json_object();
    if (o && !mg_json_set(o, "type", json_string(t))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *s_enum_schema(const json_t *sh, bool ints)
{
    json_t *o = s_typed(ints ? "integer" : "string");
    json_t *vals = json_array();
    bool ok = o && vals;
    const json_t *members = json_object_get(sh, "members");
    const char *k;
    const json_t *mem;
    json_object_foreach((json_t *)members, k, mem)
    {
        const json_t *v = s_trait(mem, "smithy.api#enumValue");
        ok = ok && mg_json_append(vals, v ? json_copy((json_t *)v)
                                          : (ints ? json_integer(0) : json_string(k)));
    }
    /* Smithy 1.0: a string with the smithy.api#enum trait */
    const json_t *old = s_trait(sh, "smithy.api#enum");
    size_t i;
    json_array_foreach((json_t *)old, i, mem)
    {
        const json_t *v = json_object_get(mem, "value");
        if (json_is_string(v))
            ok = ok && mg_json_append(vals, json_copy((json_t *)v));
    }
    if (ok && json_array_size(vals) > 0)
        ok = mg_json_set(o, "enum", vals);
    else
        json_decref(vals);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The members of a structure or union as properties (and required names). */
static json_t *s_struct_schema(struct s_schema_ctx *c, const json_t *sh, bool is_union)
{
    json_t *o = s_typed("object");
    json_t *props = json_object();
    json_t *req = json_array();
    bool ok = o && props && req;
    const char *k;
    const json_t *mem;
    json_object_foreach((json_t *)json_object_get(sh, "members"), k, mem)
    {
        if (!ok)
            break;
        const char *name = k;
        const char *jn = json_string_value(s_trait(mem, "smithy.api#jsonName"));
        if (c->rest_body && jn && c->depth > 1)
            name = jn;
        json_t *p = s_schema(c, s_target(mem), mem);
        ok = p && mg_json_set(props, name, p);
        if (ok && !is_union && s_trait(mem, "smithy.api#required"))
            ok = mg_json_append(req, json_string(name));
    }
    ok = ok && mg_json_set(o, "properties", props);
    props = NULL;
    if (ok && json_array_size(req) > 0)
        ok = mg_json_set(o, "required", req);
    else
        json_decref(req);
    if (ok && is_union)
        ok = mg_json_set(o, "minProperties", json_integer(1)) &&
             mg_json_set(o, "maxProperties", json_integer(1));
    json_decref(props);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *s_schema_inner(struct s_schema_ctx *c, const char *id, const json_t *member)
{
    const json_t *sh = s_shape(c->m, id);
    const char *t = s_type_of(c->m, id);
    if (t == NULL)
        return json_object(); /* an unknown shape: anything */
    if (strcmp(t, "string") == 0) {
        if (sh && s_trait(sh, "smithy.api#enum"))
            return s_enum_schema(sh, false);
        return s_typed("string");
    }
    if (strcmp(t, "enum") == 0)
        return s_enum_schema(sh, false);
    if (strcmp(t, "intEnum") == 0)
        return s_enum_schema(sh, true);
    if (strcmp(t, "boolean") == 0)
        return s_typed("boolean");
    if (s_is_int_type(t))
        return s_typed("integer");
    if (s_is_num_type(t))
        return s_typed("number");
    if (strcmp(t, "timestamp") == 0) {
        /* JSON bodies carry epoch seconds unless a timestampFormat says otherwise; an HTTP
         * binding carries the text as given (RFC 3339 in labels and queries, HTTP date in
         * headers) */
        const char *fmt = json_string_value(s_trait(member, "smithy.api#timestampFormat"));
        if (fmt == NULL && sh)
            fmt = json_string_value(s_trait(sh, "smithy.api#timestampFormat"));
        bool bound = member && (s_trait(member, "smithy.api#httpLabel") ||
                                s_trait(member, "smithy.api#httpQuery") ||
                                s_trait(member, "smithy.api#httpHeader"));
        if (!bound && (fmt == NULL || strcmp(fmt, "epoch-seconds") == 0))
            return s_typed("number");
        return s_typed("string");
    }
    if (strcmp(t, "blob") == 0) {
        json_t *o = s_typed("string");
        if (o && !mg_json_set(o, "contentEncoding", json_string("base64"))) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    if (strcmp(t, "document") == 0 || sh == NULL)
        return json_object();
    /* aggregates: recursive shapes and deep models end in a permissive schema */
    bool seen = false;
    for (size_t i = 0; i < c->depth; i++)
        if (strcmp(c->stack[i], id) == 0)
            seen = true;
    if (seen || c->depth >= S_MAX_SCHEMA_DEPTH || c->nodes > S_MAX_SCHEMA_NODES ||
        *c->total_nodes > S_MAX_TOTAL_NODES) {
        if (strcmp(t, "list") == 0 || strcmp(t, "set") == 0)
            return s_typed("array");
        if (strcmp(t, "structure") == 0 || strcmp(t, "union") == 0 || strcmp(t, "map") == 0)
            return s_typed("object");
        return json_object();
    }
    c->stack[c->depth++] = id;
    json_t *o = NULL;
    if (strcmp(t, "list") == 0 || strcmp(t, "set") == 0) {
        const json_t *mm = json_object_get(sh, "member");
        json_t *items = s_schema(c, s_target(mm), mm);
        o = s_typed("array");
        if (!o || !items || !mg_json_set(o, "items", items)) {
            if (o == NULL || items == NULL)
                json_decref(items);
            json_decref(o);
            o = NULL;
        }
        if (o && strcmp(t, "set") == 0 && !mg_json_set(o, "uniqueItems", json_true())) {
            json_decref(o);
            o = NULL;
        }
    } else if (strcmp(t, "map") == 0) {
        const json_t *vm = json_object_get(sh, "value");
        json_t *v = s_schema(c, s_target(vm), vm);
        o = s_typed("object");
        if (!o || !v || !mg_json_set(o, "additionalProperties", v)) {
            if (o == NULL || v == NULL)
                json_decref(v);
            json_decref(o);
            o = NULL;
        }
    } else if (strcmp(t, "structure") == 0 || strcmp(t, "union") == 0)
        o = s_struct_schema(c, sh, strcmp(t, "union") == 0);
    else
        o = json_object(); /* operation, service, resource: not data */
    c->depth--;
    return o;
}

/* The schema of a member (or the shape id names), with its documentation. NULL when out of
 * memory. */
static json_t *s_schema(struct s_schema_ctx *c, const char *id, const json_t *member)
{
    c->nodes++;
    (*c->total_nodes)++;
    json_t *o = s_schema_inner(c, id, member);
    if (o == NULL)
        return NULL;
    enum mg_err e = MG_E_OK;
    json_t *d = NULL;
    if (*c->doc_bytes <= S_MAX_TOTAL_DOC) {
        d = s_doc(member, S_MAX_PROP_DOC, &e);
        if (d == NULL && e == MG_E_OK && member != NULL && c->depth > 0)
            d = s_doc(s_shape(c->m, id), S_MAX_PROP_DOC, &e);
        if (d)
            *c->doc_bytes += json_string_length(d);
    }
    if (e != MG_E_OK || (d && !mg_json_set(o, "description", d))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- operations -------------------------------------------------------------------------------- */

/* True when a member of the structure id streams (a streaming blob or an event stream). */
static bool s_streams(const struct s_model *m, const char *id)
{
    const json_t *sh = s_shape(m, id);
    const char *k;
    const json_t *mem;
    json_object_foreach((json_t *)json_object_get(sh, "members"), k, mem)
    {
        const json_t *t = s_shape(m, s_target(mem));
        if (t && s_trait(t, "smithy.api#streaming"))
            return true;
    }
    return false;
}

static bool s_set_str(json_t *o, const char *k, const char *v)
{
    return v == NULL || mg_json_set(o, k, json_string(v));
}

/* The bindings of a restJson1 operation's input members. */
static enum mg_err s_bindings(struct s_model *m, const char *op, const json_t *input, json_t *out)
{
    const char *k;
    const json_t *mem;
    size_t payloads = 0;
    json_object_foreach((json_t *)json_object_get(input, "members"), k, mem)
    {
        const char *in = "body", *name = k;
        const json_t *t;
        if (s_trait(mem, "smithy.api#httpLabel"))
            in = "label";
        else if ((t = s_trait(mem, "smithy.api#httpQuery")) != NULL)
            in = "query", name = json_string_value(t);
        else if (s_trait(mem, "smithy.api#httpQueryParams"))
            in = "queryParams";
        else if ((t = s_trait(mem, "smithy.api#httpHeader")) != NULL)
            in = "header", name = json_string_value(t);
        else if ((t = s_trait(mem, "smithy.api#httpPrefixHeaders")) != NULL)
            in = "prefixHeaders", name = json_string_value(t);
        else if (s_trait(mem, "smithy.api#httpPayload"))
            in = "payload", payloads++;
        else if ((t = s_trait(mem, "smithy.api#jsonName")) != NULL)
            name = json_string_value(t);
        if (name == NULL)
            return s_fail(m,
                          "The Smithy model is not valid: a binding trait of member %s of "
                          "operation %s has no name",
                          k, op);
        const char *kind = s_type_of(m, s_target(mem));
        json_t *b = json_object();
        bool ok = b && mg_json_set(b, "member", json_string(k)) &&
                  mg_json_set(b, "in", json_string(in)) &&
                  mg_json_set(b, "name", json_string(name)) &&
                  s_set_str(b, "kind", kind ? kind : "document");
        if (ok && strcmp(in, "label") == 0) {
            /* greedy: the URI pattern names it {Name+} */
            ok = mg_json_set(b, "greedy", json_false());
        }
        if (ok && (strcmp(in, "query") == 0 || strcmp(in, "header") == 0) && kind &&
            (strcmp(kind, "list") == 0 || strcmp(kind, "set") == 0)) {
            const json_t *mm = json_object_get(s_shape(m, s_target(mem)), "member");
            const char *ik = s_type_of(m, s_target(mm));
            ok = s_set_str(b, "itemKind", ik ? ik : "string");
        }
        if (!mg_json_append(out, ok ? b : NULL)) {
            if (!ok)
                json_decref(b);
            return MG_E_NOMEM;
        }
    }
    if (payloads > 1)
        return s_fail(m,
                      "The Smithy model is not valid: operation %s binds more than one member "
                      "to the HTTP payload",
                      op);
    return MG_E_OK;
}

/* Marks the label bindings the URI pattern makes greedy ({Name+}) and checks every label. */
static enum mg_err s_labels(struct s_model *m, const char *op, const char *uri, json_t *bindings)
{
    size_t i;
    json_t *b;
    json_array_foreach(bindings, i, b)
    {
        if (strcmp(json_string_value(json_object_get(b, "in")), "label") != 0)
            continue;
        const char *mem = json_string_value(json_object_get(b, "member"));
        char plain[300], greedy[300];
        if (!mg_fmt(plain, sizeof(plain), "{%s}", mem) ||
            !mg_fmt(greedy, sizeof(greedy), "{%s+}", mem))
            return s_fail(m, "The Smithy model is not valid: member name too long in %s", op);
        if (strstr(uri, greedy)) {
            if (!mg_json_set(b, "greedy", json_true()))
                return MG_E_NOMEM;
        } else if (strstr(uri, plain) == NULL)
            return s_fail(m,
                          "The Smithy model is not valid: label %s of operation %s is not in "
                          "its URI %s",
                          mem, op, uri);
    }
    /* and every label of the URI's path is an httpLabel member */
    size_t plen = strcspn(uri, "?");
    for (const char *p = uri; p < uri + plen; p++) {
        if (*p == '}')
            return s_fail(m, "The Smithy model is not valid: the URI %s of operation %s", uri, op);
        if (*p != '{')
            continue;
        const char *end = memchr(p, '}', (size_t)(uri + plen - p));
        size_t n = end ? (size_t)(end - p - 1) : 0;
        if (n > 0 && p[n] == '+')
            n--;
        bool found = false;
        json_array_foreach(bindings, i, b)
        {
            const char *mem = json_string_value(json_object_get(b, "member"));
            if (strcmp(json_string_value(json_object_get(b, "in")), "label") == 0 &&
                strlen(mem) == n && strncmp(mem, p + 1, n) == 0)
                found = true;
        }
        if (end == NULL || n == 0 || !found)
            return s_fail(m,
                          "The Smithy model is not valid: the URI %s of operation %s has a label "
                          "that is no httpLabel member of its input",
                          uri, op);
        p = end;
    }
    return MG_E_OK;
}

struct s_tools_ctx {
    struct s_model *m;
    const struct mg_target_limits *lim;
    const char *service_id;
    const char *signing_name;
    const char *endpoint_prefix;
    json_t *tools;
    json_t *seen; /* operation ids already made tools (object used as a set) */
    json_t *names;
    size_t schema_nodes, doc_bytes;
};

static enum mg_err s_operation(struct s_tools_ctx *t, const char *op_id)
{
    struct s_model *m = t->m;
    if (json_object_get(t->seen, op_id))
        return MG_E_OK;
    if (json_object_set_new(t->seen, op_id, json_true()) != 0)
        return MG_E_NOMEM;
    const json_t *op = s_shape(m, op_id);
    const char *type = json_string_value(json_object_get(op, "type"));
    if (type == NULL || strcmp(type, "operation") != 0)
        return s_fail(m, "The Smithy model is not valid: %s is not an operation shape", op_id);
    const char *name = s_short(op_id);
    const char *in_id = s_target(json_object_get(op, "input"));
    const char *out_id = s_target(json_object_get(op, "output"));
    if (in_id && strcmp(in_id, "smithy.api#Unit") == 0)
        in_id = NULL;
    const json_t *input = s_shape(m, in_id);
    if (in_id && (input == NULL || strcmp(json_string_value(json_object_get(input, "type"))
                                              ? json_string_value(json_object_get(input, "type"))
                                              : "",
                                          "structure") != 0))
        return s_fail(m,
                      "The Smithy model is not valid: the input of operation %s is not a "
                      "structure of the model",
                      name);
    /* streaming operations cannot be a tool call: skipped */
    if ((in_id && s_streams(m, in_id)) || (out_id && s_streams(m, out_id)))
        return MG_E_OK;
    if (json_array_size(t->tools) >= t->lim->max_tools)
        return s_fail(m,
                      "The Smithy model has more than %zu operations; a target has at most "
                      "%zu tools",
                      t->lim->max_tools, t->lim->max_tools);
    size_t nl = strlen(name);
    if (nl == 0 || t->lim->target_name_len + 3 + nl > t->lim->max_name)
        return s_fail(m,
                      "The tool name of operation %s is longer than %zu characters with the "
                      "target name",
                      name, t->lim->max_name);
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return s_fail(m, "The Smithy model is not valid: operation name %s", op_id);
    }
    if (json_object_get(t->names, name))
        return s_fail(m, "The Smithy model has two operations named %s", name);
    if (json_object_set_new(t->names, name, json_true()) != 0)
        return MG_E_NOMEM;

    json_t *tool = json_object();
    json_t *call = json_object();
    json_t *bindings = NULL;
    enum mg_err e = MG_E_NOMEM;
    bool rest = strcmp(m->protocol, "restJson1") == 0;
    if (tool == NULL || call == NULL)
        goto fail;
    struct s_schema_ctx sc = {.m = m,
                              .total_nodes = &t->schema_nodes,
                              .doc_bytes = &t->doc_bytes,
                              .rest_body = rest};
    json_t *schema = input ? s_schema(&sc, in_id, NULL) : s_typed("object");
    if (schema && input == NULL && !mg_json_set(schema, "properties", json_object())) {
        json_decref(schema);
        schema = NULL;
    }
    json_t *desc = s_doc(op, S_MAX_DOC, &e);
    if (e != MG_E_OK || schema == NULL) {
        json_decref(schema);
        json_decref(desc);
        e = MG_E_NOMEM;
        goto fail;
    }
    e = MG_E_NOMEM;
    if (!mg_json_set(tool, "name", json_string(name)) ||
        !mg_json_set(tool, "description", desc ? desc : json_string(name)) ||
        !mg_json_set(tool, "inputSchema", schema))
        goto fail;
    if (!mg_json_set(call, "protocol", json_string(m->protocol)) ||
        !mg_json_set(call, "signingName", json_string(t->signing_name)) ||
        !s_set_str(call, "endpointPrefix", t->endpoint_prefix) ||
        !mg_json_set(call, "targetPrefix", json_string(s_short(t->service_id))) ||
        !mg_json_set(call, "operation", json_string(name)))
        goto fail;
    /* a member the client fills with a fresh token when not given (as the AWS SDKs do) */
    const char *k;
    const json_t *mem;
    json_object_foreach((json_t *)json_object_get(input, "members"), k, mem)
    {
        if (s_trait(mem, "smithy.api#idempotencyToken")) {
            if (!mg_json_set(call, "idempotencyToken", json_string(k)))
                goto fail;
            break;
        }
    }
    if (rest) {
        const json_t *http = s_trait(op, "smithy.api#http");
        const char *method = json_string_value(json_object_get(http, "method"));
        const char *uri = json_string_value(json_object_get(http, "uri"));
        if (method == NULL || uri == NULL || uri[0] != '/' || strlen(uri) > S_MAX_WIRE_URI ||
            strlen(method) == 0 || strlen(method) >= sizeof(((struct mg_target_req *)0)->method)) {
            e = s_fail(m,
                       "The Smithy model is not valid: operation %s has no usable smithy.api#http "
                       "trait (method and uri), which the restJson1 protocol needs",
                       name);
            goto fail;
        }
        bindings = json_array();
        if (bindings == NULL)
            goto fail;
        if ((input && (e = s_bindings(m, name, input, bindings)) != MG_E_OK) ||
            (e = s_labels(m, name, uri, bindings)) != MG_E_OK)
            goto fail;
        e = MG_E_NOMEM;
        if (!mg_json_set(call, "method", json_string(method)) ||
            !mg_json_set(call, "uri", json_string(uri)) ||
            !mg_json_set(call, "bindings", bindings)) {
            bindings = NULL;
            goto fail;
        }
        bindings = NULL;
    }
    if (!mg_json_set(tool, "_call", call)) {
        call = NULL;
        goto fail;
    }
    call = NULL;
    if (!mg_json_append(t->tools, tool))
        return MG_E_NOMEM;
    return MG_E_OK;
fail:
    json_decref(bindings);
    json_decref(call);
    json_decref(tool);
    return e;
}

static enum mg_err s_resource(struct s_tools_ctx *t, const char *id, size_t depth)
{
    static const char *const one[] = {"create", "put", "read", "update", "delete", "list"};
    const json_t *r = s_shape(t->m, id);
    const char *type = json_string_value(json_object_get(r, "type"));
    if (type == NULL || strcmp(type, "resource") != 0)
        return s_fail(t->m, "The Smithy model is not valid: %s is not a resource shape", id);
    if (depth > S_MAX_RESOURCE_DEPTH)
        return s_fail(t->m, "The Smithy model nests resources more than %d deep",
                      S_MAX_RESOURCE_DEPTH);
    if (json_object_get(t->seen, id))
        return MG_E_OK; /* a resource bound twice: its operations are tools once */
    if (json_object_set_new(t->seen, id, json_true()) != 0)
        return MG_E_NOMEM;
    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
        const char *op = s_target(json_object_get(r, one[i]));
        if (op)
            MG_TRY(s_operation(t, op));
    }
    size_t i;
    const json_t *ref;
    json_array_foreach(json_object_get(r, "operations"), i, ref) if (s_target(ref))
        MG_TRY(s_operation(t, s_target(ref)));
    json_array_foreach(json_object_get(r, "collectionOperations"), i, ref) if (s_target(ref))
        MG_TRY(s_operation(t, s_target(ref)));
    json_array_foreach(json_object_get(r, "resources"), i, ref) if (s_target(ref))
        MG_TRY(s_resource(t, s_target(ref), depth + 1));
    return MG_E_OK;
}

/* The protocol trait of the service: the first of ours it carries. */
static const char *s_protocol(const json_t *svc)
{
    if (s_trait(svc, "aws.protocols#restJson1"))
        return "restJson1";
    if (s_trait(svc, "aws.protocols#awsJson1_1"))
        return "awsJson1_1";
    if (s_trait(svc, "aws.protocols#awsJson1_0"))
        return "awsJson1_0";
    return NULL;
}

static enum mg_err s_model_load(struct s_model *m, struct mg_slice payload)
{
    if (payload.len > S_MAX_MODEL)
        return s_fail(m, "The Smithy model is larger than 10 MB");
    if (!s_depth_ok(payload, S_MAX_DEPTH))
        return s_fail(m, "The Smithy model nests JSON deeper than %d levels", S_MAX_DEPTH);
    json_error_t jerr;
    m->root = json_loadb((const char *)payload.ptr, payload.len, JSON_REJECT_DUPLICATES, &jerr);
    if (m->root == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return MG_E_NOMEM;
        return s_fail(m, "The Smithy model is not a valid JSON AST: %s (line %d)", jerr.text,
                      jerr.line);
    }
    const char *ver = json_string_value(json_object_get(m->root, "smithy"));
    m->shapes = json_object_get(m->root, "shapes");
    if (!json_is_object(m->root) || ver == NULL || !json_is_object(m->shapes))
        return s_fail(m, "The Smithy model is not a Smithy JSON AST: it needs a \"smithy\" "
                         "version and a \"shapes\" object");
    if (ver[0] != '1' && ver[0] != '2')
        return s_fail(m, "Smithy IDL version %.16s is not supported (1.0 and 2.0 are)", ver);
    if (json_object_size(m->shapes) > S_MAX_SHAPES)
        return s_fail(m, "The Smithy model has more than %d shapes", S_MAX_SHAPES);
    return MG_E_OK;
}

enum mg_err mg_smithy_tools(struct mg_slice payload, const struct mg_target_limits *lim,
                            json_t **tools, char *msg, size_t cap)
{
    struct s_model m = {.msg = msg, .cap = cap};
    struct s_tools_ctx t = {.m = &m, .lim = lim};
    *tools = NULL;
    if (cap > 0)
        msg[0] = 0;
    enum mg_err e = s_model_load(&m, payload);
    if (e != MG_E_OK)
        goto out;
    const char *k;
    const json_t *sh, *svc = NULL;
    size_t n_svc = 0;
    json_object_foreach(m.shapes, k, sh)
    {
        const char *type = json_string_value(json_object_get(sh, "type"));
        if (type == NULL) {
            e = s_fail(&m, "The Smithy model is not valid: shape %s has no type", k);
            goto out;
        }
        if (strcmp(type, "service") == 0) {
            n_svc++;
            svc = sh;
            t.service_id = k;
        }
    }
    if (n_svc != 1) {
        e = s_fail(&m, "The Smithy model must define exactly one service shape; it defines %zu",
                   n_svc);
        goto out;
    }
    m.protocol = s_protocol(svc);
    if (m.protocol == NULL) {
        e = s_fail(&m,
                   "Only RestJson, AwsJson1_0 and AwsJson1_1 protocols are supported: the "
                   "service %s has none of the traits aws.protocols#restJson1, "
                   "aws.protocols#awsJson1_0, aws.protocols#awsJson1_1",
                   s_short(t.service_id));
        goto out;
    }
    const json_t *api = s_trait(svc, "aws.api#service");
    t.endpoint_prefix = json_string_value(json_object_get(api, "endpointPrefix"));
    t.signing_name = json_string_value(json_object_get(s_trait(svc, "aws.auth#sigv4"), "name"));
    if (t.signing_name == NULL)
        t.signing_name = json_string_value(json_object_get(api, "arnNamespace"));
    if (t.signing_name == NULL)
        t.signing_name = t.endpoint_prefix;
    if (t.signing_name == NULL || t.signing_name[0] == 0 || strlen(t.signing_name) > 64) {
        e = s_fail(&m,
                   "The service %s names no SigV4 signing name (trait aws.auth#sigv4 with a "
                   "name, or aws.api#service with an arnNamespace or endpointPrefix)",
                   s_short(t.service_id));
        goto out;
    }
    if (t.endpoint_prefix == NULL)
        t.endpoint_prefix = t.signing_name;
    t.tools = json_array();
    t.seen = json_object();
    t.names = json_object();
    e = MG_E_NOMEM;
    if (t.tools == NULL || t.seen == NULL || t.names == NULL)
        goto out;
    e = MG_E_OK;
    size_t i;
    const json_t *ref;
    json_array_foreach(json_object_get(svc, "operations"), i,
                       ref) if (e == MG_E_OK && s_target(ref)) e = s_operation(&t, s_target(ref));
    json_array_foreach(json_object_get(svc, "resources"), i, ref) if (e == MG_E_OK && s_target(ref))
        e = s_resource(&t, s_target(ref), 1);
    if (e == MG_E_OK && json_array_size(t.tools) == 0)
        e = s_fail(&m,
                   "The Smithy service %s has no operation that can be a tool (streaming "
                   "operations are not supported)",
                   s_short(t.service_id));
    if (e == MG_E_OK) {
        *tools = t.tools;
        t.tools = NULL;
    }
out:
    if (e == MG_E_NOMEM && cap > 0)
        snprintf(msg, cap, "out of memory");
    json_decref(t.tools);
    json_decref(t.seen);
    json_decref(t.names);
    json_decref(m.root);
    return e;
}

/* ---- requests ---------------------------------------------------------------------------------- */

static enum mg_err s_rfail(char *msg, size_t cap, const char *fmt, ...) MG_PRINTF(3, 4);
static enum mg_err s_rfail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    (void)n;
    return MG_E_INVALID;
}

/* The text of a scalar argument for a label, query or header: strings as they are, numbers in
 * decimal, booleans as true/false. */
static enum mg_err s_scalar(struct mg_buf *b, const json_t *v)
{
    if (json_is_string(v))
        return mg_buf_append(b, json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return mg_buf_append_i64(b, json_integer_value(v));
    if (json_is_real(v))
        return mg_buf_printf(b, "%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return mg_buf_append_cstr(b, json_is_true(v) ? "true" : "false");
    return MG_E_INVALID;
}

static enum mg_err s_scalar_slice(struct mg_buf *tmp, const json_t *v, struct mg_slice *out)
{
    mg_buf_reset(tmp);
    MG_TRY(s_scalar(tmp, v));
    *out = mg_buf_slice(tmp);
    return MG_E_OK;
}

/* The path of the URI pattern with its labels replaced, then its literal query. */
static enum mg_err s_rest_path(const json_t *call, const json_t *args, struct mg_target_req *req,
                               struct mg_buf *tmp, char *msg, size_t cap)
{
    const char *uri = json_string_value(json_object_get(call, "uri"));
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    for (size_t i = 0; i < plen;) {
        if (uri[i] != '{') {
            MG_TRY(mg_buf_append_byte(&req->url, (uint8_t)uri[i]));
            i++;
            continue;
        }
        const char *end = memchr(uri + i, '}', plen - i);
        if (end == NULL)
            return s_rfail(msg, cap, "the URI pattern %s is not valid", uri);
        size_t nlen = (size_t)(end - (uri + i + 1));
        bool greedy = nlen > 0 && uri[i + nlen] == '+';
        char name[256];
        if (!mg_fmt(name, sizeof(name), "%.*s", (int)(nlen - greedy), uri + i + 1))
            return s_rfail(msg, cap, "the URI pattern %s is not valid", uri);
        const json_t *v = json_object_get(args, name);
        struct mg_slice s;
        if (v == NULL || json_is_null(v))
            return s_rfail(msg, cap, "missing required argument %s", name);
        enum mg_err e = s_scalar_slice(tmp, v, &s);
        if (e == MG_E_INVALID)
            return s_rfail(msg, cap, "argument %s must be a string, number or boolean", name);
        MG_TRY(e);
        if (s.len == 0)
            return s_rfail(msg, cap, "argument %s must not be empty", name);
        struct mg_buf enc;
        mg_buf_init(&enc, req->url.max);
        e = mg_url_encode(&enc, s, greedy);
        if (e == MG_E_OK)
            e = mg_buf_append_slice(&req->url, mg_buf_slice(&enc));
        mg_buf_cleanup(&enc);
        MG_TRY(e);
        i += nlen + 2;
    }
    /* a literal query of the pattern: "/path?x-id=Op" or "/path?flag" */
    if (q && q[1]) {
        struct mg_slice rest = mg_slice_cstr(q + 1), pair;
        while (rest.len > 0 && mg_slice_split(&rest, '&', &pair)) {
            struct mg_slice n = pair, v = {0};
            long eq = mg_slice_find(pair, '=');
            if (eq >= 0) {
                n = mg_slice_sub(pair, 0, (size_t)eq);
                v = mg_slice_sub(pair, (size_t)eq + 1, pair.len - (size_t)eq - 1);
            }
            MG_TRY(mg_target_req_query(req, n, v));
        }
    }
    return MG_E_OK;
}

/* Adds a query parameter or header for one value or each item of a list. */
static enum mg_err s_put(struct mg_target_req *req, bool header, struct mg_slice name,
                         const json_t *v, struct mg_buf *tmp, char *msg, size_t cap)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *it;
        if (header) {
            /* a list header: the items joined with ", " */
            struct mg_buf joined;
            mg_buf_init(&joined, MG_LIMIT_HEADER_BYTES);
            enum mg_err e = MG_E_OK;
            json_array_foreach((json_t *)v, i, it)
            {
                if (e == MG_E_OK && i > 0)
                    e = mg_buf_append_cstr(&joined, ", ");
                if (e == MG_E_OK)
                    e = s_scalar(&joined, it);
            }
            char *n = e == MG_E_OK ? mg_slice_dup(name) : NULL;
            if (e == MG_E_OK && n == NULL)
                e = MG_E_NOMEM;
            if (e == MG_E_OK)
                e = mg_target_req_header(req, n, mg_buf_slice(&joined));
            mg_free(n);
            mg_buf_cleanup(&joined);
            if (e == MG_E_INVALID)
                return s_rfail(msg, cap,
                               "argument for header %.*s must hold strings without "
                               "line breaks",
                               MG_SLICE_ARG(name));
            return e;
        }
        json_array_foreach((json_t *)v, i, it) MG_TRY(s_put(req, false, name, it, tmp, msg, cap));
        return MG_E_OK;
    }
    struct mg_slice s;
    enum mg_err e = s_scalar_slice(tmp, v, &s);
    if (e == MG_E_INVALID)
        return s_rfail(msg, cap,
                       "argument for %.*s must be a string, number, boolean or a list "
                       "of them",
                       MG_SLICE_ARG(name));
    MG_TRY(e);
    if (!header)
        return mg_target_req_query(req, name, s);
    char *n = mg_slice_dup(name);
    if (n == NULL)
        return MG_E_NOMEM;
    e = mg_target_req_header(req, n, s);
    mg_free(n);
    if (e == MG_E_INVALID)
        return s_rfail(msg, cap, "header %.*s: a name or value that cannot be sent",
                       MG_SLICE_ARG(name));
    return e;
}

static enum mg_err s_body_json(struct mg_target_req *req, const json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL)
        return MG_E_NOMEM;
    enum mg_err e = mg_buf_append_cstr(&req->body, text);
    mg_free(text);
    return e;
}

static enum mg_err s_rest_request(const json_t *call, const json_t *args, struct mg_target_req *req,
                                  struct mg_buf *tmp, char *msg, size_t cap)
{
    const char *method = json_string_value(json_object_get(call, "method"));
    const json_t *bindings = json_object_get(call, "bindings");
    if (method == NULL || strlen(method) >= sizeof(req->method) ||
        !json_is_string(json_object_get(call, "uri")) || !json_is_array(bindings))
        return s_rfail(msg, cap, "the tool's call description is not valid");
    if (!mg_fmt(req->method, sizeof(req->method), "%s", method))
        return s_rfail(msg, cap, "the tool's call description is not valid");
    MG_TRY(s_rest_path(call, args, req, tmp, msg, cap));

    /* the members bound to the query first: they win over httpQueryParams of the same name */
    json_t *body = json_object();
    if (body == NULL)
        return MG_E_NOMEM;
    bool has_body_members = false;
    const json_t *payload_b = NULL;
    enum mg_err e = MG_E_OK;
    size_t i;
    const json_t *b;
    json_array_foreach((json_t *)bindings, i, b)
    {
        const char *in = json_string_value(json_object_get(b, "in"));
        const char *member = json_string_value(json_object_get(b, "member"));
        const char *name = json_string_value(json_object_get(b, "name"));
        if (in == NULL || member == NULL || name == NULL) {
            e = s_rfail(msg, cap, "the tool's call description is not valid");
            break;
        }
        if (strcmp(in, "body") == 0)
            has_body_members = true;
        if (strcmp(in, "payload") == 0)
            payload_b = b;
        const json_t *v = json_object_get(args, member);
        if (v == NULL || json_is_null(v) || strcmp(in, "label") == 0)
            continue;
        if (strcmp(in, "query") == 0 || strcmp(in, "header") == 0)
            e = s_put(req, in[0] == 'h', mg_slice_cstr(name), v, tmp, msg, cap);
        else if (strcmp(in, "body") == 0)
            e = mg_json_set_ref(body, name, (json_t *)v) ? MG_E_OK : MG_E_NOMEM;
        if (e != MG_E_OK)
            break;
    }
    /* maps: httpQueryParams (names not already bound) and httpPrefixHeaders */
    json_array_foreach((json_t *)bindings, i, b)
    {
        if (e != MG_E_OK)
            break;
        const char *in = json_string_value(json_object_get(b, "in"));
        const json_t *v = json_object_get(args, json_string_value(json_object_get(b, "member")));
        bool qp = strcmp(in, "queryParams") == 0, ph = strcmp(in, "prefixHeaders") == 0;
        if (!(qp || ph) || v == NULL || json_is_null(v))
            continue;
        if (!json_is_object(v)) {
            e = s_rfail(msg, cap, "argument %s must be an object",
                        json_string_value(json_object_get(b, "member")));
            break;
        }
        const char *k;
        const json_t *item;
        json_object_foreach((json_t *)v, k, item)
        {
            if (qp) {
                /* a name a member binds is that member's */
                bool bound = false;
                size_t j;
                const json_t *o;
                json_array_foreach(
                    (json_t *)bindings, j,
                    o) if (strcmp(json_string_value(json_object_get(o, "in")), "query") == 0 &&
                           strcmp(json_string_value(json_object_get(o, "name")), k) == 0 &&
                           json_object_get(args, json_string_value(json_object_get(o, "member"))))
                    bound = true;
                if (!bound)
                    e = s_put(req, false, mg_slice_cstr(k), item, tmp, msg, cap);
            } else {
                char hn[256];
                if (!mg_fmt(hn, sizeof(hn), "%s%s", json_string_value(json_object_get(b, "name")),
                            k))
                    e = s_rfail(msg, cap, "header name %s is too long", k);
                else
                    e = s_put(req, true, mg_slice_cstr(hn), item, tmp, msg, cap);
            }
            if (e != MG_E_OK)
                break;
        }
    }
    if (e == MG_E_OK && payload_b) {
        const json_t *v = json_object_get(args,
                                          json_string_value(json_object_get(payload_b, "member")));
        const char *kind = json_string_value(json_object_get(payload_b, "kind"));
        if (v && !json_is_null(v)) {
            if (kind && strcmp(kind, "blob") == 0) {
                if (!json_is_string(v))
                    e = s_rfail(msg, cap, "argument %s must be base64 text",
                                json_string_value(json_object_get(payload_b, "member")));
                else if ((e = mg_base64_decode(&req->body, mg_slice_make(json_string_value(v),
                                                                         json_string_length(v)))) ==
                         MG_E_OK)
                    e = mg_target_req_header(req, "Content-Type",
                                             MG_SLICE_LIT("application/octet-stream"));
                else if (e != MG_E_NOMEM)
                    e = s_rfail(msg, cap, "argument %s is not valid base64",
                                json_string_value(json_object_get(payload_b, "member")));
            } else if (kind && (strcmp(kind, "string") == 0 || strcmp(kind, "enum") == 0)) {
                if (!json_is_string(v))
                    e = s_rfail(msg, cap, "argument %s must be a string",
                                json_string_value(json_object_get(payload_b, "member")));
                else if ((e = mg_buf_append(&req->body, json_string_value(v),
                                            json_string_length(v))) == MG_E_OK)
                    e = mg_target_req_header(req, "Content-Type", MG_SLICE_LIT("text/plain"));
            } else if ((e = s_body_json(req, v)) == MG_E_OK)
                e = mg_target_req_header(req, "Content-Type", MG_SLICE_LIT("application/json"));
        }
    } else if (e == MG_E_OK && has_body_members) {
        if ((e = s_body_json(req, body)) == MG_E_OK)
            e = mg_target_req_header(req, "Content-Type", MG_SLICE_LIT("application/json"));
    }
    json_decref(body);
    return e;
}

enum mg_err mg_smithy_request(const json_t *call, const json_t *args, const char *endpoint,
                              struct mg_target_req *req, char *msg, size_t cap)
{
    const char *proto = json_string_value(json_object_get(call, "protocol"));
    if (cap > 0)
        msg[0] = 0;
    if (proto == NULL || endpoint == NULL)
        return s_rfail(msg, cap, "the tool's call description is not valid");
    if (args != NULL && !json_is_object(args))
        return s_rfail(msg, cap, "arguments must be an object");
    json_t *empty = NULL;
    if (args == NULL && (args = empty = json_object()) == NULL)
        return MG_E_NOMEM;
    const char *tok = json_string_value(json_object_get(call, "idempotencyToken"));
    if (tok && json_object_get(args, tok) == NULL) {
        char uuid[37];
        mg_request_id(uuid);
        json_t *copy = json_copy((json_t *)args);
        json_decref(empty);
        args = empty = copy;
        if (copy == NULL || !mg_json_set(copy, tok, json_string(uuid))) {
            json_decref(empty);
            return MG_E_NOMEM;
        }
    }
    size_t el = strlen(endpoint);
    while (el > 0 && endpoint[el - 1] == '/')
        el--;
    enum mg_err e = mg_buf_append(&req->url, endpoint, el);
    if (e == MG_E_OK && strcmp(proto, "restJson1") == 0) {
        struct mg_buf tmp;
        mg_buf_init(&tmp, MG_LIMIT_HEADER_BYTES);
        e = s_rest_request(call, args, req, &tmp, msg, cap);
        mg_buf_cleanup(&tmp);
    } else if (e == MG_E_OK &&
               (strcmp(proto, "awsJson1_0") == 0 || strcmp(proto, "awsJson1_1") == 0)) {
        const char *tp = json_string_value(json_object_get(call, "targetPrefix"));
        const char *op = json_string_value(json_object_get(call, "operation"));
        char target[512];
        if (tp == NULL || op == NULL || !mg_fmt(target, sizeof(target), "%s.%s", tp, op))
            e = s_rfail(msg, cap, "the tool's call description is not valid");
        else {
            e = mg_fmt(req->method, sizeof(req->method), "POST") ? MG_E_OK : MG_E_INTERNAL;
            if (e == MG_E_OK)
                e = mg_buf_append_byte(&req->url, '/');
            if (e == MG_E_OK)
                e = mg_target_req_header(req, "X-Amz-Target", mg_slice_cstr(target));
            if (e == MG_E_OK)
                e = mg_target_req_header(req, "Content-Type",
                                         proto[9] == '0'
                                             ? MG_SLICE_LIT("application/x-amz-json-1.0")
                                             : MG_SLICE_LIT("application/x-amz-json-1.1"));
            if (e == MG_E_OK)
                e = s_body_json(req, args);
        }
    } else if (e == MG_E_OK)
        e = s_rfail(msg, cap, "protocol %s is not supported", proto);
    json_decref(empty);
    if (e == MG_E_TOO_LARGE)
        (void)s_rfail(msg, cap, "the request is larger than mcpgate sends to a target");
    else if (e == MG_E_NOMEM && cap > 0 && msg[0] == 0)
        snprintf(msg, cap, "out of memory");
    return e;
}

/* ---- results ----------------------------------------------------------------------------------- */

/* "aws.protocols#Foo:http://..." or "com.amazon#FooException" -> "FooException". */
static json_t *s_error_type(const char *raw)
{
    const char *h = strrchr(raw, '#');
    const char *s = h ? h + 1 : raw;
    size_t n = strcspn(s, ":");
    if (n > 256)
        n = 256;
    return json_stringn(s, n);
}

static json_t *s_text_item(const char *text, size_t len)
{
    json_t *item = json_object();
    json_t *arr = json_array();
    if (item == NULL || arr == NULL || !mg_json_set(item, "type", json_string("text")) ||
        !mg_json_set(item, "text", json_stringn(text ? text : "", len)) ||
        !mg_json_append(arr, json_incref(item))) {
        json_decref(item);
        json_decref(arr);
        return NULL;
    }
    json_decref(item);
    return arr;
}

json_t *mg_smithy_result(const json_t *call, long status, struct mg_slice content_type,
                         struct mg_slice body)
{
    (void)call;
    (void)content_type;
    json_t *parsed = NULL;
    if (body.len > 0)
        parsed = json_loadb((const char *)body.ptr, body.len, 0, NULL);
    json_t *res = json_object();
    if (res == NULL) {
        json_decref(parsed);
        return NULL;
    }
    bool ok = true;
    struct mg_buf text;
    mg_buf_init(&text, body.len + 1024);
    if (status >= 200 && status < 300) {
        if (mg_utf8_valid(body))
            ok = mg_buf_append_slice(&text, body) == MG_E_OK;
        else
            ok = mg_buf_printf(&text, "(%zu bytes of binary content, base64) ", body.len) ==
                     MG_E_OK &&
                 mg_base64_encode(&text, body) == MG_E_OK;
        ok = ok && mg_json_set(res, "content", s_text_item((const char *)text.ptr, text.len));
        ok = ok && mg_json_set(res, "structuredContent",
                               json_is_object(parsed) ? json_incref(parsed) : json_object());
    } else {
        /* AWS errors: {"__type": "...#Code", "message": ...} (also "code", "Message") */
        const char *type = json_string_value(json_object_get(parsed, "__type"));
        if (type == NULL)
            type = json_string_value(json_object_get(parsed, "code"));
        if (type == NULL)
            type = json_string_value(json_object_get(parsed, "Code"));
        const char *m = json_string_value(json_object_get(parsed, "message"));
        if (m == NULL)
            m = json_string_value(json_object_get(parsed, "Message"));
        json_t *t = type ? s_error_type(type) : NULL;
        json_t *err = json_object();
        ok = err && (type == NULL || t);
        if (ok && t)
            ok = mg_buf_printf(&text, "%s%s", json_string_value(t), m ? ": " : "") == MG_E_OK;
        if (ok && m)
            ok = mg_buf_append_cstr(&text, m) == MG_E_OK;
        else if (ok && !t && body.len > 0 && mg_utf8_valid(body))
            ok = mg_buf_printf(&text, "HTTP status %ld: ", status) == MG_E_OK &&
                 mg_buf_append_slice(&text, body) == MG_E_OK;
        else if (ok && !t)
            ok = mg_buf_printf(&text, "HTTP status %ld", status) == MG_E_OK;
        ok = ok && mg_json_set(res, "content", s_text_item((const char *)text.ptr, text.len)) &&
             mg_json_set(res, "isError", json_true());
        /* the AWS error as data as well */
        ok = ok && mg_json_set(err, "status", json_integer(status));
        if (ok && t)
            ok = mg_json_set_ref(err, "type", t);
        if (ok && m)
            ok = mg_json_set(err, "message", json_string(m));
        if (ok)
            ok = mg_json_set(res, "structuredContent", err);
        else
            json_decref(err);
        json_decref(t);
    }
    mg_buf_cleanup(&text);
    json_decref(parsed);
    if (!ok) {
        json_decref(res);
        return NULL;
    }
    return res;
}
