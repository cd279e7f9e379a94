/* OpenAPI targets: an OpenAPI 3.0 or 3.1 document (JSON or YAML) becomes one tool per operation
 * with an operationId; a call becomes an HTTP request to the document's server; the answer
 * becomes a CallToolResult.
 *
 * The tool's inputSchema is one object: each path, query and header parameter is a property
 * named by the parameter (path parameters always required); the properties of a JSON or form
 * request body that is an object with properties are merged in (the body's required members
 * are required when the body is); any other body, and an object body whose properties clash
 * with a parameter's name, is the property "body". Schemas are copied with local $refs
 * expanded. The "_call" member holds what the request needs:
 *   {"method", "serverUrl", "pathTemplate", "params": [{"name", "in", "required"}],
 *    "bodyMode": "none" | "merge" | "body", "bodyProps": [names] (merge), "contentType",
 *    "bodyRequired"}
 * An optional merged body of which no property was given is not sent. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/json.h"
#include "targets/targets.h"

#define S_MAX_DEPTH 64        /* nesting of the document and of an expanded schema */
#define S_MAX_REF_CHAIN 32    /* $refs open at once while expanding */
#define S_MAX_EXPANDED 200000 /* schema nodes written into all tools together */
#define S_MAX_SERVER_URL 2048
#define S_MAX_VALUE (6u * 1024 * 1024) /* text of one argument */
#define S_PREFIX "Invalid OpenAPI schema: "

struct s_doc {
    const json_t *root;
    char *msg;
    size_t cap;
    size_t budget;
};

static enum mg_err s_bad(struct s_doc *d, const char *fmt, ...) MG_PRINTF(2, 3);
static enum mg_err s_bad(struct s_doc *d, const char *fmt, ...)
{
    char what[480]; /* with S_PREFIX, within the 512 bytes of a ValidationException message */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(d->msg, d->cap, S_PREFIX "%s", what);
    return MG_E_INVALID;
}

static enum mg_err s_nomem(struct s_doc *d)
{
    snprintf(d->msg, d->cap, "out of memory");
    return MG_E_NOMEM;
}

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- parsing --------------------------------------------------------------------------------- */

static enum mg_err s_parse(struct mg_slice in, json_t **root, char *msg, size_t cap)
{
    size_t i = 0;
    while (i < in.len &&
           (in.ptr[i] == ' ' || in.ptr[i] == '\t' || in.ptr[i] == '\r' || in.ptr[i] == '\n'))
        i++;
    if (i < in.len && in.ptr[i] == '{') {
        json_error_t jerr;
        long failures = mg_alloc_failures();
        *root = json_loadb((const char *)in.ptr, in.len, JSON_REJECT_DUPLICATES, &jerr);
        if (*root == NULL) {
            if (mg_alloc_failures() != failures) {
                snprintf(msg, cap, "out of memory");
                return MG_E_NOMEM;
            }
            snprintf(msg, cap, S_PREFIX "not valid JSON: %.200s (line %d, column %d)", jerr.text,
                     jerr.line, jerr.column);
            return MG_E_INVALID;
        }
        return MG_E_OK;
    }
    static const struct mg_yaml_limits lim = {
        .max_bytes = MG_OPENAPI_MAX_BYTES,
        .max_depth = S_MAX_DEPTH,
        .max_nodes = 200000,
        .max_aliases = 1000,
    };
    char why[300];
    enum mg_err e = mg_yaml_to_json(in, &lim, root, why, sizeof(why));
    if (e == MG_E_NOMEM) {
        snprintf(msg, cap, "out of memory");
        return e;
    }
    if (e != MG_E_OK) {
        snprintf(msg, cap, S_PREFIX "not valid JSON or YAML: %s", why);
        return MG_E_INVALID;
    }
    return MG_E_OK;
}

/* ---- what AgentCore refuses anywhere in the document ---------------------------------------- */

/* Members whose value maps names (of properties, status codes, media types...) to objects:
 * their keys are names, not keywords. */
static bool s_names_map(const char *key)
{
    static const char *const names[] = {
        "properties", "patternProperties", "$defs",     "definitions",      "schemas",
        "parameters", "responses",         "headers",   "content",          "paths",
        "variables",  "securitySchemes",   "encoding",  "requestBodies",    "mapping",
        "scopes",     "dependentSchemas",  "pathItems", "dependentRequired"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(key, names[i]) == 0)
            return true;
    return false;
}

/* Members holding data, not schema: never looked into. */
static bool s_opaque(const char *key)
{
    return strcmp(key, "example") == 0 || strcmp(key, "examples") == 0 ||
           strcmp(key, "default") == 0 || strcmp(key, "enum") == 0 || strcmp(key, "const") == 0 ||
           strncmp(key, "x-", 2) == 0;
}

static bool s_nonempty(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0) || json_is_true(v);
}

static enum mg_err s_scan(struct s_doc *d, const json_t *v, bool names, size_t depth,
                          const char *where)
{
    if (depth > S_MAX_DEPTH)
        return s_bad(d, "the document is nested deeper than %d levels", S_MAX_DEPTH);
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item)
        {
            MG_TRY(s_scan(d, item, false, depth + 1, where));
        }
        return MG_E_OK;
    }
    if (!json_is_object(v))
        return MG_E_OK;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        bool child_names = false;
        const char *child_where = where;
        if (!names) {
            if (s_opaque(key))
                continue;
            if (strcmp(key, "oneOf") == 0 || strcmp(key, "anyOf") == 0 || strcmp(key, "allOf") == 0)
                return s_bad(d,
                             "%s is not supported (found in %.200s); AgentCore Gateway does not "
                             "support oneOf, anyOf or allOf",
                             key, where);
            if ((strcmp(key, "callbacks") == 0 || strcmp(key, "webhooks") == 0 ||
                 strcmp(key, "links") == 0) &&
                s_nonempty(val))
                return s_bad(d,
                             "%s are not supported (found in %.200s); AgentCore Gateway does not "
                             "support callbacks, webhooks or links",
                             key, where);
            if (strcmp(key, "$ref") == 0) {
                const char *ref = json_string_value(val);
                if (ref == NULL)
                    return s_bad(d, "a $ref in %.200s is not a string", where);
                if (strncmp(ref, "#/", 2) != 0 && strcmp(ref, "#") != 0)
                    return s_bad(d,
                                 "external reference %.200s is not supported; only references "
                                 "inside the document (#/components/...) are",
                                 ref);
            }
            child_names = s_names_map(key);
        } else if (depth <= 2) {
            child_where = key; /* a path or a component's name: where a refusal points */
        }
        MG_TRY(s_scan(d, val, child_names, depth + 1, child_where));
    }
    return MG_E_OK;
}

/* ---- local references ------------------------------------------------------------------------ */

/* The value a "#/a/b" pointer names, or NULL. */
static const json_t *s_pointer(const json_t *root, const char *ref)
{
    if (strcmp(ref, "#") == 0)
        return root;
    if (strncmp(ref, "#/", 2) != 0)
        return NULL;
    const json_t *cur = root;
    const char *p = ref + 2;
    char seg[256];
    for (;;) {
        size_t n = 0;
        while (*p != 0 && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            else if (c == '%' && mg_hex_value((uint8_t)p[0]) >= 0 &&
                     mg_hex_value((uint8_t)p[1]) >= 0) {
                c = (char)(mg_hex_value((uint8_t)p[0]) * 16 + mg_hex_value((uint8_t)p[1]));
                p += 2;
            }
            if (n + 1 >= sizeof(seg))
                return NULL;
            seg[n++] = c;
        }
        seg[n] = 0;
        if (json_is_object(cur))
            cur = json_object_get(cur, seg);
        else if (json_is_array(cur)) {
            uint64_t idx;
            if (!mg_slice_to_u64(mg_slice_make(seg, n), &idx))
                return NULL;
            cur = json_array_get(cur, (size_t)idx);
        } else
            return NULL;
        if (cur == NULL || *p == 0)
            return cur;
        p++;
    }
}

/* Follows $ref (a chain of them) to the object it names. */
static enum mg_err s_deref(struct s_doc *d, const json_t *v, const json_t **out)
{
    *out = NULL; /* set on every path */
    for (int hops = 0; json_is_object(v) && json_object_get(v, "$ref") != NULL; hops++) {
        const char *ref = s_str(v, "$ref");
        if (ref == NULL)
            return s_bad(d, "a $ref is not a string");
        if (hops >= S_MAX_REF_CHAIN)
            return s_bad(d, "$ref %.200s: a chain of more than %d references (or a cycle)", ref,
                         S_MAX_REF_CHAIN);
        const json_t *t = s_pointer(d->root, ref);
        if (t == NULL)
            return s_bad(d, "$ref %.200s does not resolve", ref);
        v = t;
    }
    *out = v;
    return MG_E_OK;
}

/* ---- schemas --------------------------------------------------------------------------------- */

static bool s_schema_map(const char *key)
{
    return strcmp(key, "properties") == 0 || strcmp(key, "patternProperties") == 0 ||
           strcmp(key, "$defs") == 0 || strcmp(key, "definitions") == 0 ||
           strcmp(key, "dependentSchemas") == 0;
}

static bool s_schema_one(const char *key)
{
    static const char *const keys[] = {"items",
                                       "additionalProperties",
                                       "not",
                                       "contains",
                                       "propertyNames",
                                       "if",
                                       "then",
                                       "else",
                                       "additionalItems",
                                       "unevaluatedItems",
                                       "unevaluatedProperties",
                                       "contentSchema"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* OpenAPI's own annotations, which are no JSON Schema: left out of tool schemas. */
static bool s_schema_drop(const char *key)
{
    return strcmp(key, "example") == 0 || strcmp(key, "xml") == 0 ||
           strcmp(key, "externalDocs") == 0 || strcmp(key, "discriminator") == 0 ||
           strcmp(key, "nullable") == 0 || strncmp(key, "x-", 2) == 0;
}

struct s_refs {
    const char *open[S_MAX_REF_CHAIN];
    size_t n;
};

static enum mg_err s_inline(struct s_doc *d, const json_t *s, size_t depth, struct s_refs *refs,
                            json_t **out);

static enum mg_err s_inline_member(struct s_doc *d, const char *key, const json_t *val,
                                   size_t depth, struct s_refs *refs, json_t **out)
{
    if (s_schema_map(key) && json_is_object(val)) {
        json_t *m = json_object();
        if (m == NULL)
            return s_nomem(d);
        const char *k;
        const json_t *sub;
        json_object_foreach((json_t *)val, k, sub)
        {
            json_t *c;
            enum mg_err e = s_inline(d, sub, depth + 1, refs, &c);
            if (e == MG_E_OK && !mg_json_set(m, k, c))
                e = s_nomem(d);
            if (e != MG_E_OK) {
                json_decref(m);
                return e;
            }
        }
        *out = m;
        return MG_E_OK;
    }
    if (s_schema_one(key) && (json_is_object(val) || json_is_boolean(val)))
        return s_inline(d, val, depth + 1, refs, out);
    if ((strcmp(key, "prefixItems") == 0 || strcmp(key, "items") == 0) && json_is_array(val)) {
        json_t *a = json_array();
        if (a == NULL)
            return s_nomem(d);
        size_t i;
        const json_t *sub;
        json_array_foreach(val, i, sub)
        {
            json_t *c;
            enum mg_err e = s_inline(d, sub, depth + 1, refs, &c);
            if (e == MG_E_OK && !mg_json_append(a, c))
                e = s_nomem(d);
            if (e != MG_E_OK) {
                json_decref(a);
                return e;
            }
        }
        *out = a;
        return MG_E_OK;
    }
    *out = json_deep_copy(val);
    return *out != NULL ? MG_E_OK : s_nomem(d);
}

/* A copy of schema s with its local $refs expanded (a recursive schema is refused). */
static enum mg_err s_inline(struct s_doc *d, const json_t *s, size_t depth, struct s_refs *refs,
                            json_t **out)
{
    *out = NULL;
    if (depth > S_MAX_DEPTH)
        return s_bad(d, "a schema is nested deeper than %d levels once $refs are expanded",
                     S_MAX_DEPTH);
    if (d->budget == 0)
        return s_bad(d, "the tools' schemas hold more than %d values once $refs are expanded",
                     S_MAX_EXPANDED);
    d->budget--;
    if (json_is_boolean(s)) {
        *out = json_incref((json_t *)s);
        return MG_E_OK;
    }
    if (!json_is_object(s))
        return s_bad(d, "a schema is not an object");
    const char *ref = s_str(s, "$ref");
    if (ref != NULL) {
        for (size_t i = 0; i < refs->n; i++)
            if (strcmp(refs->open[i], ref) == 0)
                return s_bad(d, "recursive schema %.200s is not supported", ref);
        if (refs->n >= S_MAX_REF_CHAIN)
            return s_bad(d, "$ref %.200s: more than %d nested references", ref, S_MAX_REF_CHAIN);
        const json_t *t = s_pointer(d->root, ref);
        if (t == NULL)
            return s_bad(d, "$ref %.200s does not resolve", ref);
        refs->open[refs->n++] = ref;
        enum mg_err e = s_inline(d, t, depth + 1, refs, out);
        refs->n--;
        return e;
    }
    json_t *o = json_object();
    if (o == NULL)
        return s_nomem(d);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)s, key, val)
    {
        if (s_schema_drop(key))
            continue;
        json_t *c;
        enum mg_err e = s_inline_member(d, key, val, depth, refs, &c);
        if (e == MG_E_OK && !mg_json_set(o, key, c))
            e = s_nomem(d);
        if (e != MG_E_OK) {
            json_decref(o);
            return e;
        }
    }
    /* OpenAPI 3.0's nullable: JSON Schema says it with a type list */
    const char *type = s_str(o, "type");
    if (json_is_true(json_object_get(s, "nullable")) && type != NULL) {
        json_t *types = json_pack("[s,s]", type, "null");
        if (types == NULL || !mg_json_set(o, "type", types)) {
            json_decref(o);
            return s_nomem(d);
        }
    }
    *out = o;
    return MG_E_OK;
}

static bool s_type_is(const json_t *schema, const char *t)
{
    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type))
        return strcmp(json_string_value(type), t) == 0;
    size_t i;
    const json_t *x;
    json_array_foreach(type, i, x)
    {
        if (json_is_string(x) && strcmp(json_string_value(x), t) == 0)
            return true;
    }
    return false;
}

/* ---- servers ---------------------------------------------------------------------------------- */

static enum mg_err s_server(struct s_doc *d, const json_t *servers, const char *op, char *out,
                            size_t cap)
{
    const json_t *s0 = json_array_get(servers, 0);
    const char *url = s_str(s0, "url");
    if (url == NULL)
        return s_bad(d,
                     "no server URL for operation %.128s: the document needs servers[0].url, "
                     "the API's absolute URL",
                     op);
    const json_t *vars = json_object_get(s0, "variables");
    struct mg_buf b;
    mg_buf_init(&b, S_MAX_SERVER_URL);
    enum mg_err e = MG_E_OK;
    for (const char *p = url; *p != 0 && e == MG_E_OK;) {
        if (*p != '{') {
            e = mg_buf_append_byte(&b, (uint8_t)*p++);
            continue;
        }
        const char *end = strchr(p, '}');
        char name[128];
        if (end == NULL || (size_t)(end - p - 1) >= sizeof(name)) {
            mg_buf_cleanup(&b);
            return s_bad(d, "servers[0].url %.200s has an unclosed variable", url);
        }
        mg_memcpy(name, p + 1, (size_t)(end - p - 1));
        name[end - p - 1] = 0;
        const char *def = s_str(json_object_get(vars, name), "default");
        if (def == NULL) {
            mg_buf_cleanup(&b);
            return s_bad(d, "server variable {%s} of %.200s has no default", name, url);
        }
        e = mg_buf_append_cstr(&b, def);
        p = end + 1;
    }
    if (e != MG_E_OK) {
        mg_buf_cleanup(&b);
        return e == MG_E_NOMEM ? s_nomem(d) : s_bad(d, "servers[0].url is too long");
    }
    while (b.len > 0 && b.ptr[b.len - 1] == '/')
        b.len--;
    struct mg_slice u = mg_buf_slice(&b);
    bool abs = (mg_slice_starts_with(u, "https://") && u.len > 8) ||
               (mg_slice_starts_with(u, "http://") && u.len > 7);
    if (!abs || b.len >= cap) {
        mg_buf_cleanup(&b);
        return s_bad(d,
                     "servers[0].url %.200s is not an absolute http(s) URL; it must be the "
                     "API's real endpoint",
                     url);
    }
    mg_memcpy(out, b.ptr, b.len);
    out[b.len] = 0;
    mg_buf_cleanup(&b);
    return MG_E_OK;
}

/* ---- operations ------------------------------------------------------------------------------- */

static bool s_tool_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

struct s_op {
    const char *path, *method, *id;
    json_t *props, *required, *params;
};

static enum mg_err s_add_prop(struct s_doc *d, struct s_op *o, const char *name, json_t *schema,
                              bool required)
{
    if (json_object_get(o->props, name) != NULL) {
        json_decref(schema);
        return s_bad(d, "operation %.128s has two inputs named %.128s", o->id, name);
    }
    if (!mg_json_set(o->props, name, schema) ||
        (required && !mg_json_append(o->required, json_string(name))))
        return s_nomem(d);
    return MG_E_OK;
}

static bool s_ignored_header(const char *name)
{
    /* OpenAPI: header parameters of these names are ignored */
    return strcasecmp(name, "Accept") == 0 || strcasecmp(name, "Content-Type") == 0 ||
           strcasecmp(name, "Authorization") == 0;
}

static enum mg_err s_param(struct s_doc *d, struct s_op *o, const json_t *p)
{
    const char *name = s_str(p, "name"), *in = s_str(p, "in");
    if (name == NULL || in == NULL || name[0] == 0)
        return s_bad(d, "a parameter of operation %.128s has no name or no in", o->id);
    if (strcmp(in, "cookie") == 0)
        return s_bad(d, "cookie parameter %.128s of operation %.128s is not supported", name,
                     o->id);
    bool path = strcmp(in, "path") == 0, query = strcmp(in, "query") == 0;
    if (!path && !query && strcmp(in, "header") != 0)
        return s_bad(d, "parameter %.128s of operation %.128s: in must be path, query or header",
                     name, o->id);
    if (strcmp(in, "header") == 0 && s_ignored_header(name))
        return MG_E_OK;
    const char *style = s_str(p, "style");
    const char *plain = query ? "form" : "simple";
    if (json_object_get(p, "content") != NULL || (style != NULL && strcmp(style, plain) != 0))
        return s_bad(d,
                     "parameter %.128s of operation %.128s uses a serialization style that is "
                     "not supported (only simple path and header parameters and form query "
                     "parameters are)",
                     name, o->id);
    json_t *schema = NULL;
    const json_t *raw = json_object_get(p, "schema");
    if (raw == NULL)
        schema = json_pack("{s:s}", "type", "string");
    else {
        struct s_refs refs = {.n = 0};
        MG_TRY(s_inline(d, raw, 0, &refs, &schema));
    }
    if (schema == NULL)
        return s_nomem(d);
    if (s_type_is(schema, "array") || s_type_is(schema, "object") ||
        json_object_get(schema, "properties") != NULL || json_object_get(schema, "items") != NULL) {
        json_decref(schema);
        return s_bad(d,
                     "%s parameter %.128s of operation %.128s is an array or object, which is "
                     "not supported",
                     in, name, o->id);
    }
    const char *desc = s_str(p, "description");
    if (desc != NULL && json_object_get(schema, "description") == NULL &&
        !mg_json_set(schema, "description", json_string(desc))) {
        json_decref(schema);
        return s_nomem(d);
    }
    bool required = path || json_is_true(json_object_get(p, "required"));
    MG_TRY(s_add_prop(d, o, name, schema, required));
    json_t *entry = json_pack("{s:s,s:s,s:b}", "name", name, "in", in, "required", required);
    if (!mg_json_append(o->params, entry))
        return s_nomem(d);
    return MG_E_OK;
}

static bool s_has_param(const json_t *list, const char *name, const char *in)
{
    size_t i;
    const json_t *p;
    json_array_foreach(list, i, p)
    {
        if (strcmp(s_str(p, "name"), name) == 0 && strcmp(s_str(p, "in"), in) == 0)
            return true;
    }
    return false;
}

/* Parameters of the operation, then those of its path item that it does not redefine. */
static enum mg_err s_params(struct s_doc *d, struct s_op *o, const json_t *item, const json_t *op)
{
    const json_t *lists[2] = {json_object_get(op, "parameters"),
                              json_object_get(item, "parameters")};
    for (int l = 0; l < 2; l++) {
        if (lists[l] != NULL && !json_is_array(lists[l]))
            return s_bad(d, "parameters of operation %.128s is not an array", o->id);
        size_t i;
        const json_t *raw;
        json_array_foreach(lists[l], i, raw)
        {
            const json_t *p;
            MG_TRY(s_deref(d, raw, &p));
            const char *name = s_str(p, "name"), *in = s_str(p, "in");
            if (l == 1 && name != NULL && in != NULL && s_has_param(o->params, name, in))
                continue;
            MG_TRY(s_param(d, o, p));
        }
    }
    return MG_E_OK;
}

/* Every {name} of the path is a simple path parameter the operation declares. */
static enum mg_err s_path_template(struct s_doc *d, struct s_op *o)
{
    for (const char *p = strchr(o->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        char name[256];
        if (end == NULL || (size_t)(end - p - 1) >= sizeof(name) || end == p + 1)
            return s_bad(d, "path %.200s has a malformed template", o->path);
        mg_memcpy(name, p + 1, (size_t)(end - p - 1));
        name[end - p - 1] = 0;
        if (strchr(";?.#/+&*,=", name[0]) != NULL || strpbrk(name, "*,{") != NULL)
            return s_bad(d,
                         "path %.200s uses a template form that is not supported (only "
                         "{name} is)",
                         o->path);
        if (!s_has_param(o->params, name, "path"))
            return s_bad(d, "path parameter {%s} of operation %.128s is not declared", name, o->id);
    }
    return MG_E_OK;
}

static bool s_json_media(const char *mt)
{
    size_t n = strlen(mt);
    return strcasecmp(mt, "application/json") == 0 ||
           strncasecmp(mt, "application/json;", 17) == 0 ||
           (n > 5 && strncasecmp(mt, "application/", 12) == 0 &&
            strcasecmp(mt + n - 5, "+json") == 0);
}

static bool s_raw_media(const char *mt)
{
    return strcasecmp(mt, "application/xml") == 0 || strcasecmp(mt, "text/xml") == 0 ||
           strcasecmp(mt, "text/plain") == 0;
}

static enum mg_err s_body(struct s_doc *d, struct s_op *o, const json_t *op, json_t *call)
{
    const json_t *raw = json_object_get(op, "requestBody"), *rb;
    if (raw == NULL)
        return mg_json_set(call, "bodyMode", json_string("none")) ? MG_E_OK : s_nomem(d);
    MG_TRY(s_deref(d, raw, &rb));
    const json_t *content = json_object_get(rb, "content");
    const char *mt = NULL, *key;
    const json_t *media = NULL, *val;
    int rank = 0; /* json 3, form 2, raw 1 */
    json_object_foreach((json_t *)content, key, val)
    {
        int r = s_json_media(key)                                           ? 3
                : strcasecmp(key, "application/x-www-form-urlencoded") == 0 ? 2
                : s_raw_media(key)                                          ? 1
                                                                            : 0;
        if (r > rank)
            rank = r, mt = key, media = val;
    }
    if (mt == NULL) {
        const char *first = NULL;
        json_object_foreach((json_t *)content, key, val)
        {
            first = key;
            break;
        }
        return s_bad(d,
                     "the request body of operation %.128s has media type %.100s, which is not "
                     "supported (application/json, application/x-www-form-urlencoded, "
                     "application/xml, text/xml and text/plain are)",
                     o->id, first ? first : "(none)");
    }
    bool body_required = json_is_true(json_object_get(rb, "required"));
    json_t *schema = NULL;
    const json_t *rs = json_object_get(media, "schema");
    if (rank == 1)
        schema = json_pack("{s:s}", "type", "string");
    else if (rs == NULL)
        schema = json_object();
    else {
        struct s_refs refs = {.n = 0};
        MG_TRY(s_inline(d, rs, 0, &refs, &schema));
    }
    if (schema == NULL)
        return s_nomem(d);
    if (!mg_json_set(call, "contentType", json_string(mt)) ||
        !mg_json_set(call, "bodyRequired", json_boolean(body_required))) {
        json_decref(schema);
        return s_nomem(d);
    }
    /* an object with properties, none of them a parameter's name: merged */
    const json_t *props = json_object_get(schema, "properties");
    bool merge = rank >= 2 && json_object_size(props) > 0 &&
                 (json_object_get(schema, "type") == NULL || s_type_is(schema, "object"));
    const char *pk;
    const json_t *pv;
    json_object_foreach((json_t *)props, pk, pv)
    {
        if (json_object_get(o->props, pk) != NULL)
            merge = false;
    }
    if (!merge) {
        const char *desc = s_str(rb, "description");
        if (desc != NULL && json_object_get(schema, "description") == NULL &&
            !mg_json_set(schema, "description", json_string(desc))) {
            json_decref(schema);
            return s_nomem(d);
        }
        MG_TRY(s_add_prop(d, o, "body", schema, body_required));
        return mg_json_set(call, "bodyMode", json_string("body")) ? MG_E_OK : s_nomem(d);
    }
    json_t *names = json_array();
    bool ok = names != NULL;
    enum mg_err e = MG_E_OK;
    const json_t *req = json_object_get(schema, "required");
    json_object_foreach((json_t *)props, pk, pv)
    {
        if (!ok || e != MG_E_OK)
            break;
        bool r = false;
        size_t i;
        const json_t *x;
        json_array_foreach(req, i, x)
        {
            if (json_is_string(x) && strcmp(json_string_value(x), pk) == 0)
                r = true;
        }
        ok = mg_json_append(names, json_string(pk));
        if (ok)
            e = s_add_prop(d, o, pk, json_incref((json_t *)pv), r && body_required);
    }
    json_decref(schema);
    if (e == MG_E_OK && ok)
        ok = mg_json_set(call, "bodyProps", names) &&
             mg_json_set(call, "bodyMode", json_string("merge"));
    else
        json_decref(names);
    if (e != MG_E_OK)
        return e;
    return ok ? MG_E_OK : s_nomem(d);
}

static enum mg_err s_operation(struct s_doc *d, const struct mg_target_limits *lim, struct s_op *o,
                               const json_t *item, const json_t *op, const json_t *servers,
                               json_t *tools)
{
    size_t n = strlen(o->id);
    for (size_t i = 0; i < n; i++)
        if (!s_tool_char(o->id[i]))
            return s_bad(d,
                         "operationId %.128s is not a valid tool name: use only letters, "
                         "digits, '_', '.' and '-'",
                         o->id);
    if (n == 0 || lim->target_name_len + 3 + n > lim->max_name)
        return s_bad(d,
                     "operationId %.128s makes a tool name (target name + ___ + operationId) "
                     "longer than %zu characters",
                     o->id, lim->max_name);
    size_t i;
    const json_t *t;
    json_array_foreach(tools, i, t)
    {
        if (strcmp(s_str(t, "name"), o->id) == 0) {
            snprintf(d->msg, d->cap, "Duplicate tool found in target configuration: %.128s", o->id);
            return MG_E_INVALID;
        }
    }
    if (json_array_size(tools) >= lim->max_tools)
        return s_bad(d, "the document has more than %zu operations with an operationId",
                     lim->max_tools);
    char server[S_MAX_SERVER_URL];
    MG_TRY(s_server(d, servers, o->id, server, sizeof(server)));
    MG_TRY(s_params(d, o, item, op));
    MG_TRY(s_path_template(d, o));
    char method[8];
    size_t ml = strlen(o->method);
    for (size_t k = 0; k <= ml; k++)
        method[k] = (char)(o->method[k] >= 'a' && o->method[k] <= 'z' ? o->method[k] - 32
                                                                      : o->method[k]);
    json_t *call = json_pack("{s:s,s:s,s:s,s:O}", "method", method, "serverUrl", server,
                             "pathTemplate", o->path, "params", o->params);
    if (call == NULL)
        return s_nomem(d);
    enum mg_err e = s_body(d, o, op, call);
    if (e != MG_E_OK) {
        json_decref(call);
        return e;
    }
    json_t *schema = json_pack("{s:s,s:O}", "type", "object", "properties", o->props);
    json_t *tool = json_pack("{s:s}", "name", o->id);
    bool ok = schema != NULL && tool != NULL;
    if (ok && json_array_size(o->required) > 0)
        ok = mg_json_set_ref(schema, "required", o->required);
    const char *desc = s_str(op, "description");
    if (desc == NULL || desc[0] == 0)
        desc = s_str(op, "summary");
    if (ok && desc != NULL)
        ok = mg_json_set(tool, "description", json_string(desc));
    ok = ok && mg_json_set(tool, "inputSchema", json_incref(schema));
    ok = ok && mg_json_set(tool, "_call", json_incref(call));
    ok = ok && mg_json_append(tools, json_incref(tool));
    json_decref(schema);
    json_decref(tool);
    json_decref(call);
    return ok ? MG_E_OK : s_nomem(d);
}

static const char *const s_methods[] = {"get", "put", "post", "delete", "options", "head", "patch"};

static enum mg_err s_paths(struct s_doc *d, const struct mg_target_limits *lim, json_t *tools)
{
    const json_t *paths = json_object_get(d->root, "paths");
    if (paths != NULL && !json_is_object(paths))
        return s_bad(d, "paths is not an object");
    const json_t *root_servers = json_object_get(d->root, "servers");
    const char *path;
    const json_t *raw;
    json_object_foreach((json_t *)paths, path, raw)
    {
        if (path[0] != '/')
            continue; /* x- extensions */
        const json_t *item;
        MG_TRY(s_deref(d, raw, &item));
        const json_t *servers = json_object_get(item, "servers");
        if (json_array_size(servers) == 0)
            servers = root_servers;
        for (size_t m = 0; m < sizeof(s_methods) / sizeof(s_methods[0]); m++) {
            const json_t *op = json_object_get(item, s_methods[m]);
            if (!json_is_object(op))
                continue;
            const char *id = s_str(op, "operationId");
            if (id == NULL)
                continue; /* not a tool */
            const json_t *op_servers = json_object_get(op, "servers");
            struct s_op o = {path, s_methods[m], id, json_object(), json_array(), json_array()};
            enum mg_err e = MG_E_OK;
            if (o.props == NULL || o.required == NULL || o.params == NULL)
                e = s_nomem(d);
            else
                e = s_operation(d, lim, &o, item, op,
                                json_array_size(op_servers) > 0 ? op_servers : servers, tools);
            json_decref(o.props);
            json_decref(o.required);
            json_decref(o.params);
            MG_TRY(e);
        }
    }
    return MG_E_OK;
}

static bool s_version_ok(const char *v)
{
    if (strncmp(v, "3.0", 3) != 0 && strncmp(v, "3.1", 3) != 0)
        return false;
    if (v[3] == 0)
        return true;
    if (v[3] != '.' || v[4] < '0' || v[4] > '9')
        return false;
    for (const char *p = v + 4; *p != 0; p++)
        if ((*p < '0' || *p > '9') && *p != '-' && (*p < 'a' || *p > 'z'))
            return false;
    return true;
}

enum mg_err mg_openapi_tools(struct mg_slice payload, const struct mg_target_limits *lim,
                             json_t **tools, char *msg, size_t cap)
{
    *tools = NULL;
    if (payload.len > MG_OPENAPI_MAX_BYTES) {
        snprintf(msg, cap, "The inline OpenAPI schema is %zu bytes, more than the %u bytes allowed",
                 payload.len, MG_OPENAPI_MAX_BYTES);
        return MG_E_INVALID;
    }
    json_t *root = NULL;
    MG_TRY(s_parse(payload, &root, msg, cap));
    struct s_doc d = {root, msg, cap, S_MAX_EXPANDED};
    enum mg_err e = MG_E_OK;
    const json_t *ver = json_object_get(root, "openapi");
    if (!json_is_object(root))
        e = s_bad(&d, "the document is not an object");
    else if (ver == NULL)
        e = s_bad(&d, "attribute openapi is missing%s",
                  json_object_get(root, "swagger") != NULL
                      ? " (Swagger 2.0 is not supported; use OpenAPI 3.0 or 3.1)"
                      : "");
    else if (!json_is_string(ver) || !s_version_ok(json_string_value(ver)))
        e = s_bad(&d, "OpenAPI version %.40s is not supported; use 3.0.x or 3.1.x",
                  json_is_string(ver) ? json_string_value(ver) : "(not a string)");
    if (e == MG_E_OK)
        e = s_scan(&d, root, false, 0, "the document");
    json_t *out = NULL;
    if (e == MG_E_OK && (out = json_array()) == NULL)
        e = s_nomem(&d);
    if (e == MG_E_OK)
        e = s_paths(&d, lim, out);
    if (e == MG_E_OK && json_array_size(out) == 0)
        e = s_bad(&d, "no operation has an operationId, so the target would have no tools");
    json_decref(root);
    if (e != MG_E_OK) {
        json_decref(out);
        return e;
    }
    *tools = out;
    return MG_E_OK;
}

/* ---- requests --------------------------------------------------------------------------------- */

/* The text of a scalar argument (a string as is, numbers and booleans as JSON writes them). */
static enum mg_err s_scalar_text(const json_t *v, struct mg_buf *out)
{
    if (json_is_string(v))
        return mg_buf_append(out, json_string_value(v), json_string_length(v));
    if (json_is_true(v))
        return mg_buf_append_cstr(out, "true");
    if (json_is_false(v))
        return mg_buf_append_cstr(out, "false");
    if (json_is_integer(v))
        return mg_buf_append_i64(out, json_integer_value(v));
    if (json_is_real(v)) {
        char *t = json_dumps(v, JSON_ENCODE_ANY);
        if (t == NULL)
            return MG_E_NOMEM;
        enum mg_err e = mg_buf_append_cstr(out, t);
        mg_free(t);
        return e;
    }
    return MG_E_INVALID;
}

static enum mg_err s_req_fail(enum mg_err e, char *msg, size_t cap, const char *what,
                              const char *name)
{
    if (e == MG_E_NOMEM)
        snprintf(msg, cap, "out of memory");
    else if (e == MG_E_TOO_LARGE)
        snprintf(msg, cap, "the request for %.128s is too large", name);
    else
        snprintf(msg, cap, what, name);
    return e == MG_E_NOMEM ? e : MG_E_INVALID;
}

static bool s_present(const json_t *v)
{
    return v != NULL && !json_is_null(v);
}

/* application/x-www-form-urlencoded: scalars as text, arrays as repeated names, objects as JSON. */
static enum mg_err s_form_pair(struct mg_buf *b, const char *name, const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            MG_TRY(s_form_pair(b, name, x));
        }
        return MG_E_OK;
    }
    if (!s_present(v))
        return MG_E_OK;
    struct mg_buf t;
    mg_buf_init(&t, S_MAX_VALUE);
    enum mg_err e = MG_E_OK;
    if (json_is_object(v)) {
        char *j = json_dumps(v, JSON_COMPACT);
        e = j == NULL ? MG_E_NOMEM : mg_buf_append_cstr(&t, j);
        mg_free(j);
    } else
        e = s_scalar_text(v, &t);
    if (e == MG_E_OK && b->len > 0)
        e = mg_buf_append_byte(b, '&');
    if (e == MG_E_OK)
        e = mg_target_pct_encode(b, mg_slice_cstr(name));
    if (e == MG_E_OK)
        e = mg_buf_append_byte(b, '=');
    if (e == MG_E_OK)
        e = mg_target_pct_encode(b, mg_buf_slice(&t));
    mg_buf_cleanup(&t);
    return e;
}

static enum mg_err s_body_write(struct mg_target_req *req, const char *ct, const json_t *body)
{
    if (strcasecmp(ct, "application/x-www-form-urlencoded") == 0) {
        if (!json_is_object(body))
            return MG_E_INVALID;
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)body, k, v)
        {
            MG_TRY(s_form_pair(&req->body, k, v));
        }
        return MG_E_OK;
    }
    if (s_json_media(ct)) {
        char *j = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (j == NULL)
            return MG_E_NOMEM;
        enum mg_err e = mg_buf_append_cstr(&req->body, j);
        mg_free(j);
        return e;
    }
    if (!json_is_string(body))
        return MG_E_INVALID;
    return mg_buf_append(&req->body, json_string_value(body), json_string_length(body));
}

enum mg_err mg_openapi_request(const json_t *call, const json_t *args, struct mg_target_req *req,
                               char *msg, size_t cap)
{
    const char *method = s_str(call, "method"), *server = s_str(call, "serverUrl"),
               *tmpl = s_str(call, "pathTemplate"), *mode = s_str(call, "bodyMode");
    if (method == NULL || server == NULL || tmpl == NULL || strlen(method) >= sizeof(req->method)) {
        snprintf(msg, cap, "the tool's call description is incomplete");
        return MG_E_INTERNAL;
    }
    if (args != NULL && !json_is_object(args)) {
        snprintf(msg, cap, "the arguments must be an object");
        return MG_E_INVALID;
    }
    mg_memcpy(req->method, method, strlen(method) + 1);
    enum mg_err e = mg_buf_append_cstr(&req->url, server);
    for (const char *p = tmpl; *p != 0 && e == MG_E_OK;) {
        const char *end = *p == '{' ? strchr(p, '}') : NULL;
        if (end == NULL) {
            e = mg_buf_append_byte(&req->url, (uint8_t)*p++);
            continue;
        }
        char name[256];
        if ((size_t)(end - p - 1) >= sizeof(name))
            return s_req_fail(MG_E_INVALID, msg, cap, "path template %s is malformed", tmpl);
        mg_memcpy(name, p + 1, (size_t)(end - p - 1));
        name[end - p - 1] = 0;
        const json_t *v = json_object_get(args, name);
        if (!s_present(v))
            return s_req_fail(MG_E_INVALID, msg, cap, "missing required path parameter: %s", name);
        struct mg_buf t;
        mg_buf_init(&t, S_MAX_VALUE);
        e = s_scalar_text(v, &t);
        if (e == MG_E_OK)
            e = mg_target_pct_encode(&req->url, mg_buf_slice(&t));
        mg_buf_cleanup(&t);
        if (e != MG_E_OK)
            return s_req_fail(e, msg, cap, "path parameter %s must be a string, number or boolean",
                              name);
        p = end + 1;
    }
    if (e != MG_E_OK)
        return s_req_fail(e, msg, cap, "the URL of %s is too long", tmpl);
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(call, "params"), i, p)
    {
        const char *name = s_str(p, "name"), *in = s_str(p, "in");
        if (name == NULL || in == NULL || strcmp(in, "path") == 0)
            continue;
        const json_t *v = json_object_get(args, name);
        if (!s_present(v)) {
            if (json_is_true(json_object_get(p, "required")))
                return s_req_fail(MG_E_INVALID, msg, cap, "missing required parameter: %s", name);
            continue;
        }
        struct mg_buf t;
        mg_buf_init(&t, S_MAX_VALUE);
        e = s_scalar_text(v, &t);
        if (e == MG_E_OK && strcmp(in, "query") == 0)
            e = mg_target_req_query(req, mg_slice_cstr(name), mg_buf_slice(&t));
        else if (e == MG_E_OK)
            e = mg_target_req_header(req, name, mg_buf_slice(&t));
        mg_buf_cleanup(&t);
        if (e != MG_E_OK)
            return s_req_fail(e, msg, cap,
                              "parameter %s must be a string, number or boolean (a header "
                              "value without line breaks)",
                              name);
    }
    if (mode == NULL || strcmp(mode, "none") == 0)
        return MG_E_OK;
    const char *ct = s_str(call, "contentType");
    if (ct == NULL)
        ct = "application/json";
    json_t *body = NULL;
    if (strcmp(mode, "merge") == 0) {
        if ((body = json_object()) == NULL)
            return s_req_fail(MG_E_NOMEM, msg, cap, "%s", "");
        const json_t *n;
        json_array_foreach(json_object_get(call, "bodyProps"), i, n)
        {
            const json_t *v = json_object_get(args, json_string_value(n));
            if (v != NULL && !mg_json_set_ref(body, json_string_value(n), (json_t *)v)) {
                json_decref(body);
                return s_req_fail(MG_E_NOMEM, msg, cap, "%s", "");
            }
        }
        if (json_object_size(body) == 0 && !json_is_true(json_object_get(call, "bodyRequired"))) {
            json_decref(body); /* an optional body of which nothing was given: none */
            return MG_E_OK;
        }
    } else {
        body = json_incref(json_object_get(args, "body"));
        if (body == NULL)
            return MG_E_OK; /* required bodies are required by the schema */
    }
    e = s_body_write(req, ct, body);
    json_decref(body);
    if (e != MG_E_OK)
        return s_req_fail(e, msg, cap, "the body does not fit media type %s", ct);
    e = mg_target_req_header(req, "Content-Type", mg_slice_cstr(ct));
    return e == MG_E_OK ? MG_E_OK : s_req_fail(e, msg, cap, "%s", "bad content type");
}

/* ---- results ---------------------------------------------------------------------------------- */

/* A JSON string of bytes that may not be UTF-8 (invalid sequences become U+FFFD). */
static json_t *s_text(struct mg_slice s)
{
    if (mg_utf8_valid(s) && mg_slice_find(s, 0) < 0)
        return json_stringn((const char *)s.ptr, s.len);
    struct mg_buf b;
    mg_buf_init(&b, s.len * 3 + 16);
    json_t *j = NULL;
    if (mg_buf_append_json_str(&b, s) == MG_E_OK && mg_buf_append_byte(&b, 0) == MG_E_OK) {
        /* the escaped text is a JSON string body: let jansson read it back */
        struct mg_buf q;
        mg_buf_init(&q, b.len + 2);
        if (mg_buf_append_byte(&q, '"') == MG_E_OK &&
            mg_buf_append(&q, b.ptr, b.len - 1) == MG_E_OK &&
            mg_buf_append_byte(&q, '"') == MG_E_OK)
            j = json_loadb((const char *)q.ptr, q.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        mg_buf_cleanup(&q);
    }
    mg_buf_cleanup(&b);
    return j;
}

json_t *mg_openapi_result(const json_t *call, long status, struct mg_slice content_type,
                          struct mg_slice body)
{
    (void)call;
    bool ok = status >= 200 && status <= 299;
    json_t *text;
    json_t *structured = NULL;
    if (body.len > MG_OPENAPI_MAX_RESULT) {
        char t[200];
        snprintf(t, sizeof(t), "HTTP %ld: the answer of %zu bytes is larger than %u bytes", status,
                 body.len, MG_OPENAPI_MAX_RESULT);
        text = json_string(t);
        ok = false;
    } else if (ok) {
        text = s_text(body);
        bool json_type = content_type.len == 0 ||
                         mg_slice_starts_with(content_type, "application/json") ||
                         mg_slice_find(content_type, '+') >= 0;
        if (json_type && body.len > 0) {
            structured = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, NULL);
            if (!json_is_object(structured)) { /* MCP: structuredContent is an object */
                json_decref(structured);
                structured = NULL;
            }
        }
    } else {
        struct mg_buf b;
        mg_buf_init(&b, MG_OPENAPI_MAX_RESULT + 64);
        json_t *detail = body.len > 0 ? s_text(body) : NULL;
        if (mg_buf_printf(&b, "HTTP %ld", status) == MG_E_OK &&
            (detail == NULL ||
             (mg_buf_append_cstr(&b, ": ") == MG_E_OK &&
              mg_buf_append(&b, json_string_value(detail), json_string_length(detail)) == MG_E_OK)))
            text = json_stringn((const char *)b.ptr, b.len);
        else
            text = NULL;
        json_decref(detail);
        mg_buf_cleanup(&b);
    }
    if (text == NULL) {
        json_decref(structured);
        return NULL;
    }
    json_t *res = json_pack("{s:[{s:s,s:o}],s:b}", "content", "type", "text", "text", text,
                            "isError", !ok);
    if (res != NULL && structured != NULL && !mg_json_set(res, "structuredContent", structured)) {
        json_decref(res);
        return NULL;
    }
    if (res == NULL)
        json_decref(structured);
    return res;
}
