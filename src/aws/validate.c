/* The validator driven by the model tables: AWS's wording, AWS's member paths (model.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "aws/model.h"
#include "base/alloc.h"

#define S_SHOWN 256          /* bytes of a value shown in a message */
#define S_MAX_STRINGS 65536u /* the pattern cache covers string indices below this */

/* ---- patterns: compiled once, lazily; a race compiles twice and keeps one -------------------- */

static _Atomic(pcre2_code *) s_patterns[S_MAX_STRINGS];
static pcre2_code *const s_broken = (pcre2_code *)&s_patterns; /* "does not compile" marker */

static pcre2_code *s_pattern(uint32_t i)
{
    if (i == 0 || i >= S_MAX_STRINGS || i >= mg_aws_model.n_str)
        return NULL;
    pcre2_code *c = atomic_load_explicit(&s_patterns[i], memory_order_acquire);
    if (c)
        return c == s_broken ? NULL : c;
    /* the model's patterns are Java's: \uXXXX escapes (PCRE2_ALT_BSUX), \p{L}, whole-value */
    const char *pat = mg_aws_str(i);
    size_t n = strlen(pat);
    char *wrapped = mg_malloc(n + 16);
    if (wrapped == NULL)
        return NULL;
    mg_memcpy(wrapped, "\\A(?:", 5);
    mg_memcpy(wrapped + 5, pat, n);
    mg_memcpy(wrapped + 5 + n, ")\\z", 4);
    int err;
    PCRE2_SIZE off;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)wrapped, PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_NO_UTF_CHECK, &err, &off,
                                     NULL);
    mg_free(wrapped);
    if (code)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* the interpreter when JIT fails */
    pcre2_code *want = code ? code : s_broken, *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&s_patterns[i], &expected, want,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        pcre2_code_free(code);
        return expected == s_broken ? NULL : expected;
    }
    return code;
}

/* Every match is bounded: a value built to make a pattern backtrack costs at most this many
 * steps and then counts as not matching (fails closed). The models' patterns need a few per
 * character; values are at most MG_AWS_MAX_STRING bytes. */
#define S_MATCH_LIMIT 1000000u
#define S_DEPTH_LIMIT 10000u

static pcre2_match_context *s_mctx;
static pthread_once_t s_mctx_once = PTHREAD_ONCE_INIT;

static void s_mctx_init(void)
{
    s_mctx = pcre2_match_context_create(NULL);
    if (s_mctx) {
        pcre2_set_match_limit(s_mctx, S_MATCH_LIMIT);
        pcre2_set_depth_limit(s_mctx, S_DEPTH_LIMIT);
    }
}

/* Match data per thread, made on its first match and freed when the thread exits: whether a value
 * matches is all a pattern is asked, so one pair (the whole match) is room enough. */
static pthread_key_t s_md_key;
static pthread_once_t s_md_once = PTHREAD_ONCE_INIT;
static bool s_md_ready;

static void s_md_free(void *md)
{
    pcre2_match_data_free(md);
}

static void s_md_init(void)
{
    s_md_ready = pthread_key_create(&s_md_key, s_md_free) == 0;
}

static pcre2_match_data *s_match_data(void)
{
    (void)pthread_once(&s_md_once, s_md_init);
    if (!s_md_ready)
        return NULL;
    pcre2_match_data *md = pthread_getspecific(s_md_key);
    if (md == NULL) {
        md = pcre2_match_data_create(1, NULL);
        if (md && pthread_setspecific(s_md_key, md) != 0) {
            pcre2_match_data_free(md);
            md = NULL;
        }
    }
    return md;
}

bool mg_aws_pattern_ok(uint32_t pattern)
{
    return s_pattern(pattern) != NULL;
}

bool mg_aws_pattern_match(uint32_t pattern, struct mg_slice s)
{
    pcre2_code *code = s_pattern(pattern);
    if (code == NULL || !mg_utf8_valid(s))
        return false;
    (void)pthread_once(&s_mctx_once, s_mctx_init);
    if (s_mctx == NULL)
        return false;
    pcre2_match_data *md = s_match_data();
    if (md == NULL)
        return false;
    /* a limit reached (PCRE2_ERROR_MATCHLIMIT, _DEPTHLIMIT) is < 0: no match; 0 is a match whose
     * groups the one-pair match data has no room for */
    int rc = pcre2_match(code, (PCRE2_SPTR)(s.ptr ? s.ptr : (const uint8_t *)""), s.len, 0,
                         PCRE2_NO_UTF_CHECK, md, s_mctx);
    return rc >= 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

static void s_add(struct mg_aws_verrors *v, const char *path, const char *fmt, ...) MG_PRINTF(3, 4);
static void s_add(struct mg_aws_verrors *v, const char *path, const char *fmt, ...)
{
    if (v->n < MG_AWS_VERR_KEPT) {
        snprintf(v->e[v->n].path, sizeof(v->e[v->n].path), "%s", path);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->e[v->n].msg, sizeof(v->e[v->n].msg), fmt, ap);
        va_end(ap);
    }
    v->n++;
}

void mg_aws_verrors_message(const struct mg_aws_verrors *v, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t o = 0;
    int n = snprintf(out, cap, "%zu validation error%s detected: ", v->n, v->n == 1 ? "" : "s");
    o = n > 0 && (size_t)n < cap ? (size_t)n : cap - 1;
    for (size_t i = 0; i < v->n && i < MG_AWS_VERR_KEPT && o < cap - 1; i++) {
        n = snprintf(out + o, cap - o, "%s%s", i ? "; " : "", v->e[i].msg);
        o = n > 0 && (size_t)n < cap - o ? o + (size_t)n : cap - 1;
    }
    if (v->n > MG_AWS_VERR_KEPT && o < cap - 1)
        snprintf(out + o, cap - o, "; and %zu more", v->n - MG_AWS_VERR_KEPT);
}

/* "Value 'x' " (quoted, capped), "Value '5' ", or "Value " when not shown (sensitive, or not a
 * scalar). */
static void s_value(const json_t *j, bool sensitive, char *out, size_t cap)
{
    if (sensitive || j == NULL) {
        snprintf(out, cap, "Value");
        return;
    }
    if (json_is_string(j)) {
        size_t n = json_string_length(j), k = n > S_SHOWN ? S_SHOWN : n;
        const char *str = json_string_value(j);
        while (k < n && k > 0 && ((unsigned char)str[k] & 0xC0) == 0x80)
            k--; /* cut at a character's start */
        snprintf(out, cap, "Value '%.*s%s'", (int)k, str, k < n ? "..." : "");
    } else if (json_is_integer(j)) {
        snprintf(out, cap, "Value '%" JSON_INTEGER_FORMAT "'", json_integer_value(j));
    } else if (json_is_real(j)) {
        snprintf(out, cap, "Value '%.17g'", json_real_value(j));
    } else if (json_is_boolean(j)) {
        snprintf(out, cap, "Value '%s'", json_is_true(j) ? "true" : "false");
    } else {
        snprintf(out, cap, "Value");
    }
}

/* ---- the walk --------------------------------------------------------------------------- */

struct s_walk {
    enum mg_aws_wire wire;
    unsigned flags; /* MG_AWS_V_* */
    struct mg_aws_verrors *v;
};

static size_t s_utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* "base.part" (or "part" when base is empty), cut to cap - 1 bytes like snprintf; lower: the
 * first letter of part lower-cased. */
static void s_join_case(char *out, size_t cap, const char *base, const char *part, bool lower)
{
    size_t o = 0;
    for (const char *c = base; *c && o + 1 < cap; c++)
        out[o++] = *c;
    if (*base && o + 1 < cap)
        out[o++] = '.';
    for (const char *c = part; *c && o + 1 < cap; c++) {
        char ch = *c;
        if (lower && c == part && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        out[o++] = ch;
    }
    if (cap)
        out[o] = 0;
}

static void s_join(char *out, size_t cap, const char *base, const char *part)
{
    s_join_case(out, cap, base, part, false);
}

/* A member's name in a path, its first letter lower-cased as AWS writes it (query RoleName ->
 * roleName; Lambda's rest-json FunctionName -> functionName; AgentCore's names already are);
 * the name is cut at 127 bytes */
static void s_member_path(struct s_walk *w, char *out, size_t cap, const char *base,
                          const char *name)
{
    (void)w;
    char nm[128];
    size_t n = strnlen(name, sizeof(nm) - 1);
    mg_memcpy(nm, name, n);
    nm[n] = 0;
    s_join_case(out, cap, base, nm, true);
}

static const char *s_type_words(enum mg_aws_type t)
{
    switch (t) {
    case MG_AWS_T_STRUCTURE: return "a structure";
    case MG_AWS_T_LIST: return "a list";
    case MG_AWS_T_MAP: return "a map";
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG: return "an integer";
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE: return "a number";
    case MG_AWS_T_BOOLEAN: return "a boolean";
    case MG_AWS_T_TIMESTAMP: return "a timestamp";
    case MG_AWS_T_STRING:
    case MG_AWS_T_BLOB: return "a string";
    case MG_AWS_T_DOCUMENT: return "a document";
    }
    return "a value";
}

static bool s_type_ok(enum mg_aws_type t, const json_t *j)
{
    switch (t) {
    case MG_AWS_T_STRUCTURE: return json_is_object(j);
    case MG_AWS_T_LIST: return json_is_array(j);
    case MG_AWS_T_MAP: return json_is_object(j);
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG: return json_is_integer(j);
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE: return json_is_number(j);
    case MG_AWS_T_BOOLEAN: return json_is_boolean(j);
    case MG_AWS_T_TIMESTAMP: return json_is_number(j) || json_is_string(j);
    case MG_AWS_T_STRING:
    case MG_AWS_T_BLOB: return json_is_string(j);
    case MG_AWS_T_DOCUMENT: return true;
    }
    return false;
}

/* How a message shows the value it is about: j, or nothing when hidden (sensitive, or a list or
 * map); written only when a message needs it. */
struct s_shown {
    const json_t *j;
    bool hide;
    char text[S_SHOWN + 32];
};

static const char *s_show(struct s_shown *sh)
{
    s_value(sh->hide ? NULL : sh->j, sh->hide, sh->text, sizeof(sh->text));
    return sh->text;
}

static void s_len(struct s_walk *w, const struct mg_aws_shape *s, struct s_shown *sh,
                  const char *path, double len)
{
    if ((s->flags & MG_AWS_S_MIN) && len < s->min)
        s_add(w->v, path,
              "%s at '%s' failed to satisfy constraint: Member must have length "
              "greater than or equal to %.17g",
              s_show(sh), path, s->min);
    if ((s->flags & MG_AWS_S_MAX) && len > s->max)
        s_add(w->v, path,
              "%s at '%s' failed to satisfy constraint: Member must have length "
              "less than or equal to %.17g",
              s_show(sh), path, s->max);
}

static void s_walk(struct s_walk *w, uint16_t shape, const json_t *j, const char *path, int depth);

static void s_string(struct s_walk *w, const struct mg_aws_shape *s, const json_t *j,
                     struct s_shown *sh, const char *path)
{
    const char *str = json_string_value(j);
    size_t n = json_string_length(j);
    s_len(w, s, sh, path, s->type == MG_AWS_T_BLOB ? (double)n : (double)s_utf8_chars(str, n));
    if (s->pattern && !mg_aws_pattern_match(s->pattern, mg_slice_make(str, n)))
        s_add(w->v, path,
              "%s at '%s' failed to satisfy constraint: Member must satisfy regular "
              "expression pattern: %s",
              s_show(sh), path, mg_aws_str(s->pattern));
    if (s->count == 0 || s->type != MG_AWS_T_STRING)
        return;
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(str, mg_aws_str(mg_aws_model.enums[s->first + i])) == 0 && strlen(str) == n)
            return;
    char set[1024];
    size_t o = 0;
    for (size_t i = 0; i < s->count && o < sizeof(set) - 1; i++) {
        int k = snprintf(set + o, sizeof(set) - o, "%s%s", i ? ", " : "",
                         mg_aws_str(mg_aws_model.enums[s->first + i]));
        o = k > 0 && (size_t)k < sizeof(set) - o ? o + (size_t)k : sizeof(set) - 1;
    }
    s_add(w->v, path,
          "%s at '%s' failed to satisfy constraint: Member must satisfy enum value "
          "set: [%s]",
          s_show(sh), path, set);
}

static void s_structure(struct s_walk *w, const struct mg_aws_shape *s, const json_t *j,
                        const char *path, int depth)
{
    char p[160];
    size_t set = 0;
    for (size_t i = 0; i < s->count; i++) {
        const struct mg_aws_member *m = mg_aws_member(s, i);
        const char *name = mg_aws_str(m->name);
        const json_t *v = json_object_get(j, name);
        if ((v == NULL || json_is_null(v)) && !(m->flags & MG_AWS_M_REQUIRED))
            continue;
        s_member_path(w, p, sizeof(p), path, name);
        if (v == NULL || json_is_null(v)) {
            if (m->flags & MG_AWS_M_REQUIRED)
                s_add(w->v, p,
                      "Value null at '%s' failed to satisfy constraint: Member must not "
                      "be null",
                      p);
            continue;
        }
        set++;
        s_walk(w, m->target, v, p, depth + 1);
    }
    if (s->flags & MG_AWS_S_UNION) { /* a member the model does not know counts as set too */
        const char *k;
        json_t *m;
        set = 0;
        json_object_foreach((json_t *)j, k, m)
        {
            set += !json_is_null(m);
        }
    }
    if ((s->flags & MG_AWS_S_UNION) && set != 1)
        s_add(w->v, path,
              "Value at '%s' failed to satisfy constraint: Union must have exactly "
              "one member set (%zu set)",
              *path ? path : "input", set);
}

static void s_walk(struct s_walk *w, uint16_t shape, const json_t *j, const char *path, int depth)
{
    const struct mg_aws_shape *s = mg_aws_shape(shape);
    if (s == NULL)
        return;
    if (depth > MG_AWS_MAX_DEPTH) {
        s_add(w->v, path,
              "Value at '%s' failed to satisfy constraint: Member must not be nested "
              "more than %d levels deep",
              path, MG_AWS_MAX_DEPTH);
        return;
    }
    if (!s_type_ok((enum mg_aws_type)s->type, j)) {
        s_add(w->v, path, "Value at '%s' failed to satisfy constraint: Member must be %s", path,
              s_type_words((enum mg_aws_type)s->type));
        return;
    }
    char p[160];
    struct s_shown sh = {j, (s->flags & MG_AWS_S_SENSITIVE) || (w->flags & MG_AWS_V_NO_VALUES), ""};
    switch ((enum mg_aws_type)s->type) {
    case MG_AWS_T_STRUCTURE: s_structure(w, s, j, path, depth); return;
    case MG_AWS_T_LIST: {
        sh.hide = true;
        s_len(w, s, &sh, path, (double)json_array_size(j));
        const struct mg_aws_member *m = mg_aws_member(s, 0);
        for (size_t i = 0; m && i < json_array_size(j); i++) {
            char idx[40];
            if (w->wire == MG_AWS_WIRE_QUERY)
                snprintf(idx, sizeof(idx), "%zu.member", i + 1);
            else if (w->flags & MG_AWS_V_LIST_INDEX)
                snprintf(idx, sizeof(idx), "%zu", i + 1);
            else
                snprintf(idx, sizeof(idx), "member");
            s_join(p, sizeof(p), path, idx);
            const json_t *e = json_array_get(j, i);
            if (json_is_null(e))
                s_add(w->v, p,
                      "Value null at '%s' failed to satisfy constraint: Member must not "
                      "be null",
                      p);
            else
                s_walk(w, m->target, e, p, depth + 1);
        }
        return;
    }
    case MG_AWS_T_MAP: {
        sh.hide = true;
        s_len(w, s, &sh, path, (double)json_object_size(j));
        const struct mg_aws_member *mk = mg_aws_member(s, 0), *mv = mg_aws_member(s, 1);
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)(uintptr_t)j, k, e)
        {
            json_t *kj = json_string(k);
            if (kj == NULL) {
                s_add(w->v, path,
                      "Value at '%s' failed to satisfy constraint: Member must be a "
                      "map of strings",
                      path);
                return;
            }
            s_join(p, sizeof(p), path, "key");
            s_walk(w, mk->target, kj, p, depth + 1);
            json_decref(kj);
            s_join(p, sizeof(p), path, "value");
            s_walk(w, mv->target, e, p, depth + 1);
        }
        return;
    }
    case MG_AWS_T_STRING:
    case MG_AWS_T_BLOB: s_string(w, s, j, &sh, path); return;
    case MG_AWS_T_INTEGER:
    case MG_AWS_T_LONG:
    case MG_AWS_T_FLOAT:
    case MG_AWS_T_DOUBLE: {
        double d = json_number_value(j);
        if ((s->flags & MG_AWS_S_MIN) && d < s->min)
            s_add(w->v, path,
                  "%s at '%s' failed to satisfy constraint: Member must have value "
                  "greater than or equal to %.17g",
                  s_show(&sh), path, s->min);
        if ((s->flags & MG_AWS_S_MAX) && d > s->max)
            s_add(w->v, path,
                  "%s at '%s' failed to satisfy constraint: Member must have value "
                  "less than or equal to %.17g",
                  s_show(&sh), path, s->max);
        return;
    }
    case MG_AWS_T_BOOLEAN:
    case MG_AWS_T_TIMESTAMP:
    case MG_AWS_T_DOCUMENT: return;
    }
}

void mg_aws_validate_value(enum mg_aws_wire wire, unsigned flags, uint16_t shape,
                           const json_t *value, const char *path, struct mg_aws_verrors *v)
{
    struct s_walk w = {wire, flags, v};
    if (value == NULL || json_is_null(value))
        return;
    s_walk(&w, shape, value, path ? path : "", 0);
}

bool mg_aws_validate(const struct mg_aws_op *op, const json_t *input, struct mg_aws_verrors *v)
{
    return mg_aws_validate_with(op, input, 0, v);
}

bool mg_aws_validate_with(const struct mg_aws_op *op, const json_t *input, unsigned flags,
                          struct mg_aws_verrors *v)
{
    v->n = 0;
    if (op->input == MG_AWS_NO_SHAPE)
        return true;
    json_t *empty = NULL;
    if (input == NULL) {
        empty = json_object();
        if (empty == NULL) {
            s_add(v, "", "Out of memory");
            return false;
        }
        input = empty;
    }
    mg_aws_validate_value(mg_aws_op_wire(op), flags, op->input, input, "", v);
    json_decref(empty);
    return v->n == 0;
}
