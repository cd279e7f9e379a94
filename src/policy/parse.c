/* src/policy/parse.c: JSON policy document -> validated, compiled, immutable struct mg_policy. */
#include <jansson.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/util.h"
#include "policy/policy_internal.h"

/* ---- arena: every compiled piece lives in chunks freed together with the policy ---------- */

struct mg_policy_chunk {
    struct mg_policy_chunk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

static void *s_alloc(struct mg_policy *p, size_t n)
{
    n = (n + 15u) & ~(size_t)15u;
    struct mg_policy_chunk *c = p->chunks;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        c = mg_malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = p->chunks;
        c->used = 0;
        c->cap = cap;
        p->chunks = c;
    }
    void *r = c->data + c->used;
    c->used += n;
    mg_memzero(r, n);
    return r;
}

static char *s_strdup(struct mg_policy *p, const char *s, size_t len)
{
    char *r = s_alloc(p, len + 1);
    if (r) {
        mg_memcpy(r, s, len);
        r[len] = 0;
    }
    return r;
}

/* ---- parse state ----------------------------------------------------------------------- */

struct s_ctx {
    struct mg_policy *p;
    struct mg_errinfo *ei;
    enum mg_err err;
    char stmt_name[80];
    bool identity_grammar; /* identity, session, boundary */
};

#define MSG_SYNTAX "Syntax errors in policy."

static enum mg_err MG_PRINTF(2, 3) s_fail(struct s_ctx *c, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->stmt_name[0])
        c->err = mg_errinfo_set(c->ei, MG_E_PARSE, "%s (statement %s)", msg, c->stmt_name);
    else
        c->err = mg_errinfo_set(c->ei, MG_E_PARSE, "%s", msg);
    return c->err;
}

static enum mg_err s_nomem(struct s_ctx *c)
{
    c->err = mg_errinfo_set(c->ei, MG_E_NOMEM, "out of memory");
    return c->err;
}

/* Characters IAM accepts: TAB, LF, CR, U+0020..U+00FF in identity grammar; no controls anyway. */
static bool s_chars_ok(const struct s_ctx *c, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        if (b < 0x20 && b != '\t' && b != '\n' && b != '\r')
            return false;
        if (b == 0x7f)
            return false;
        if (c->identity_grammar && b >= 0xc4)
            return false;
    }
    return true;
}

/* Scalar JSON value as text: strings as is, numbers and booleans in their JSON spelling. */
static bool s_scalar(json_t *v, char *tmp, size_t tcap, const char **s, size_t *len)
{
    if (json_is_string(v)) {
        *s = json_string_value(v);
        *len = json_string_length(v);
        return true;
    }
    int n;
    if (json_is_integer(v))
        n = snprintf(tmp, tcap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        n = snprintf(tmp, tcap, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        n = snprintf(tmp, tcap, "%s", json_is_true(v) ? "true" : "false");
    else
        return false;
    if (n < 0 || (size_t)n >= tcap)
        return false;
    *s = tmp;
    *len = (size_t)n;
    return true;
}

/* A single value or an array of values: count (0 for a bad shape). */
static size_t s_list_len(json_t *v)
{
    if (json_is_array(v))
        return json_array_size(v);
    return (json_is_string(v) || json_is_number(v) || json_is_boolean(v)) ? 1 : 0;
}

static json_t *s_list_at(json_t *v, size_t i)
{
    return json_is_array(v) ? json_array_get(v, i) : v;
}

static bool s_has_wild(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '*' || s[i] == '?')
            return true;
    return false;
}

bool mg_policy_has_var(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '$' && s[i + 1] == '{')
            return true;
    return false;
}

static enum mg_err s_make_pat(struct s_ctx *c, const char *s, size_t len, bool lower, bool vars,
                              struct mg_policy_pat *out)
{
    char *d = s_strdup(c->p, s, len);
    if (!d)
        return s_nomem(c);
    if (lower)
        for (size_t i = 0; i < len; i++)
            if (d[i] >= 'A' && d[i] <= 'Z')
                d[i] = (char)(d[i] + 32);
    out->s = d;
    out->len = (uint32_t)len;
    out->flags = 0;
    if (s_has_wild(s, len))
        out->flags |= MG_PAT_WILD;
    if (vars && c->p->v2012 && mg_policy_has_var(s, len))
        out->flags |= MG_PAT_VARS;
    if (len == 1 && s[0] == '*')
        out->flags |= MG_PAT_STAR;
    return MG_E_OK;
}

/* ---- Action / NotAction ------------------------------------------------------------------ */

static enum mg_err s_check_vendor_colons(struct s_ctx *c, const char *s, size_t len, bool key)
{
    size_t colons = 0, first = SIZE_MAX;
    size_t end = len;
    if (key) { /* condition keys: tag names after '/' may contain anything */
        for (size_t i = 0; i < len; i++)
            if (s[i] == '/') {
                end = i;
                break;
            }
    }
    for (size_t i = 0; i < end; i++)
        if (s[i] == ':') {
            colons++;
            if (first == SIZE_MAX)
                first = i;
        }
    if (colons == 0 || first == 0)
        return s_fail(c,
                      "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    /* Actions have one colon. Condition keys may have more after the vendor prefix
     * (kms:EncryptionContext:aws:..., bedrock-agentcore:...:arn), which IAM accepts. */
    if (colons > 1 && !key)
        return s_fail(c, "Actions/Condition can contain only one colon.");
    for (size_t i = 0; i < first; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return s_fail(c, "Vendor %.*s is not valid", (int)first, s);
    }
    return MG_E_OK;
}

static enum mg_err s_actions(struct s_ctx *c, json_t *v, struct mg_policy_stmt *st)
{
    size_t n = s_list_len(v);
    if (n == 0)
        return s_fail(c, json_is_array(v) ? "Policy statement must contain actions." : MSG_SYNTAX);
    st->actions = s_alloc(c->p, n * sizeof(*st->actions));
    if (!st->actions)
        return s_nomem(c);
    for (size_t i = 0; i < n; i++) {
        json_t *e = s_list_at(v, i);
        if (!json_is_string(e))
            return s_fail(c, MSG_SYNTAX);
        const char *s = json_string_value(e);
        size_t len = json_string_length(e);
        if (!s_chars_ok(c, s, len))
            return s_fail(c, MSG_SYNTAX);
        if (!(len == 1 && s[0] == '*'))
            MG_TRY(s_check_vendor_colons(c, s, len, false));
        if (c->p->kind == MG_POLICY_KIND_TRUST && !(len >= 4 && strncasecmp(s, "sts:", 4) == 0) &&
            !(len == 1 && s[0] == '*'))
            return s_fail(c, "AssumeRole policy may only specify STS AssumeRole actions.");
        MG_TRY(s_make_pat(c, s, len, true, false, &st->actions[i]));
    }
    st->n_actions = (uint32_t)n;
    return MG_E_OK;
}

/* ---- Resource / NotResource -------------------------------------------------------------- */

static enum mg_err s_resources(struct s_ctx *c, json_t *v, struct mg_policy_stmt *st)
{
    size_t n = s_list_len(v);
    if (n == 0)
        return s_fail(c,
                      json_is_array(v) ? "Policy statement must contain resources." : MSG_SYNTAX);
    st->resources = s_alloc(c->p, n * sizeof(*st->resources));
    if (!st->resources)
        return s_nomem(c);
    for (size_t i = 0; i < n; i++) {
        json_t *e = s_list_at(v, i);
        if (!json_is_string(e))
            return s_fail(c, MSG_SYNTAX);
        const char *s = json_string_value(e);
        size_t len = json_string_length(e);
        if (!s_chars_ok(c, s, len))
            return s_fail(c, MSG_SYNTAX);
        if (!(len == 1 && s[0] == '*')) {
            size_t fields = 1, vend_start = 0, vend_len = 0;
            for (size_t k = 0; k < len && fields < 6; k++)
                if (s[k] == ':') {
                    fields++;
                    if (fields == 3)
                        vend_start = k + 1;
                    if (fields == 4)
                        vend_len = k - vend_start;
                }
            if (len < 4 || strncmp(s, "arn:", 4) != 0 || fields < 6)
                return s_fail(c, "Resource %.*s must be in ARN format or \"*\".",
                              (int)(len > 200 ? 200 : len), s);
            if (vend_len == 0 || s_has_wild(s + vend_start, vend_len))
                return s_fail(c, "Resource vendor must be fully qualified and cannot contain "
                                 "regexes.");
        }
        MG_TRY(s_make_pat(c, s, len, false, true, &st->resources[i]));
    }
    st->n_resources = (uint32_t)n;
    return MG_E_OK;
}

/* ---- Principal / NotPrincipal ------------------------------------------------------------ */

static bool s_is_account(const char *s, size_t len)
{
    if (len != 12)
        return false;
    for (size_t i = 0; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool s_is_unique_id(const char *s, size_t len)
{
    if (len < 16 || len > 128 || (strncmp(s, "AIDA", 4) != 0 && strncmp(s, "AROA", 4) != 0))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
            return false;
    return true;
}

/* Classifies an AWS principal value; false when IAM would call it invalid. */
static bool s_aws_principal(const char *s, size_t len, struct mg_policy_principal *pr)
{
    pr->value = mg_slice_make(s, len);
    if (len == 1 && s[0] == '*') {
        pr->kind = MG_PK_STAR;
        return true;
    }
    if (s_has_wild(s, len))
        return false; /* no partial wildcards in principals */
    if (s_is_account(s, len)) {
        pr->kind = MG_PK_ACCOUNT;
        pr->account = pr->value;
        return true;
    }
    if (s_is_unique_id(s, len)) {
        pr->kind = MG_PK_UNIQUE_ID;
        return true;
    }
    /* arn:PARTITION:SERVICE::ACCOUNT:RESOURCE */
    struct mg_slice rest = pr->value, f[5];
    for (int k = 0; k < 5; k++)
        if (!mg_slice_split(&rest, ':', &f[k]))
            return false;
    if (!mg_slice_eq_cstr(f[0], "arn") || f[1].len == 0 || f[3].len != 0 ||
        !s_is_account((const char *)f[4].ptr, f[4].len) || rest.len == 0)
        return false;
    if (!mg_slice_eq_cstr(f[1], "aws") && !mg_slice_eq_cstr(f[1], "aws-cn") &&
        !mg_slice_eq_cstr(f[1], "aws-us-gov"))
        return false;
    pr->account = f[4];
    if (mg_slice_eq_cstr(f[2], "iam")) {
        if (mg_slice_eq_cstr(rest, "root")) {
            pr->kind = MG_PK_ACCOUNT;
            return true;
        }
        if (mg_slice_starts_with(rest, "user/") && rest.len > 5 && rest.ptr[rest.len - 1] != '/') {
            pr->kind = MG_PK_USER;
            return true;
        }
        if (mg_slice_starts_with(rest, "role/") && rest.len > 5 && rest.ptr[rest.len - 1] != '/') {
            pr->kind = MG_PK_ROLE;
            return true;
        }
        return false;
    }
    if (mg_slice_eq_cstr(f[2], "sts")) {
        if (mg_slice_starts_with(rest, "assumed-role/")) {
            struct mg_slice r = mg_slice_sub(rest, 13, rest.len - 13), role, sess;
            mg_slice_split(&r, '/', &role);
            sess = r;
            if (role.len == 0 || sess.len == 0 || mg_slice_find(sess, '/') >= 0)
                return false;
            pr->kind = MG_PK_SESSION;
            return true;
        }
        if (mg_slice_starts_with(rest, "federated-user/") && rest.len > 15) {
            pr->kind = MG_PK_FEDUSER;
            return true;
        }
    }
    return false;
}

static enum mg_err s_principal(struct s_ctx *c, json_t *v, struct mg_policy_stmt *st)
{
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return s_fail(c, "Invalid principal in policy: \"%s\"", json_string_value(v));
        st->principals = s_alloc(c->p, sizeof(*st->principals));
        if (!st->principals)
            return s_nomem(c);
        st->principals[0].kind = MG_PK_STAR;
        st->principals[0].value = MG_SLICE_LIT("*");
        st->n_principals = 1;
        return MG_E_OK;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return s_fail(c, MSG_SYNTAX);
    size_t total = 0;
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val)
    {
        size_t n = s_list_len(val);
        if (n == 0)
            return s_fail(c, MSG_SYNTAX);
        total += n;
    }
    st->principals = s_alloc(c->p, total * sizeof(*st->principals));
    if (!st->principals)
        return s_nomem(c);
    size_t idx = 0;
    json_object_foreach(v, k, val)
    {
        size_t n = s_list_len(val);
        for (size_t i = 0; i < n; i++) {
            json_t *e = s_list_at(val, i);
            if (!json_is_string(e))
                return s_fail(c, MSG_SYNTAX);
            const char *raw = json_string_value(e);
            size_t len = json_string_length(e);
            if (!s_chars_ok(c, raw, len))
                return s_fail(c, MSG_SYNTAX);
            char *s = s_strdup(c->p, raw, len);
            if (!s)
                return s_nomem(c);
            struct mg_policy_principal *pr = &st->principals[idx++];
            bool ok = len > 0;
            if (strcmp(k, "AWS") == 0) {
                ok = ok && s_aws_principal(s, len, pr);
            } else if (strcmp(k, "Service") == 0 || strcmp(k, "Federated") == 0 ||
                       strcmp(k, "CanonicalUser") == 0) {
                pr->kind = k[0] == 'S' ? MG_PK_SERVICE
                                       : (k[0] == 'F' ? MG_PK_FEDERATED : MG_PK_CANONICAL);
                pr->value = mg_slice_make(s, len);
                ok = ok && !s_has_wild(s, len);
            } else {
                ok = false;
            }
            if (!ok)
                return s_fail(c, "Invalid principal in policy: \"%s\":\"%.*s\"", k,
                              (int)(len > 200 ? 200 : len), raw);
        }
    }
    st->n_principals = (uint32_t)total;
    return MG_E_OK;
}

/* ---- Condition --------------------------------------------------------------------------- */

struct s_opname {
    const char *name;
    enum mg_policy_cop op;
    bool negated;
};

static const struct s_opname s_ops[] = {
    {"StringEquals", MG_COP_STR_EQ, false},
    {"StringNotEquals", MG_COP_STR_EQ, true},
    {"StringEqualsIgnoreCase", MG_COP_STR_EQ_IC, false},
    {"StringNotEqualsIgnoreCase", MG_COP_STR_EQ_IC, true},
    {"StringLike", MG_COP_STR_LIKE, false},
    {"StringNotLike", MG_COP_STR_LIKE, true},
    {"NumericEquals", MG_COP_NUM_EQ, false},
    {"NumericNotEquals", MG_COP_NUM_EQ, true},
    {"NumericLessThan", MG_COP_NUM_LT, false},
    {"NumericLessThanEquals", MG_COP_NUM_LE, false},
    {"NumericGreaterThan", MG_COP_NUM_GT, false},
    {"NumericGreaterThanEquals", MG_COP_NUM_GE, false},
    {"DateEquals", MG_COP_DATE_EQ, false},
    {"DateNotEquals", MG_COP_DATE_EQ, true},
    {"DateLessThan", MG_COP_DATE_LT, false},
    {"DateLessThanEquals", MG_COP_DATE_LE, false},
    {"DateGreaterThan", MG_COP_DATE_GT, false},
    {"DateGreaterThanEquals", MG_COP_DATE_GE, false},
    {"Bool", MG_COP_BOOL, false},
    {"BinaryEquals", MG_COP_BINARY, false},
    {"IpAddress", MG_COP_IP, false},
    {"NotIpAddress", MG_COP_IP, true},
    {"ArnEquals", MG_COP_ARN_LIKE, false},
    {"ArnLike", MG_COP_ARN_LIKE, false},
    {"ArnNotEquals", MG_COP_ARN_LIKE, true},
    {"ArnNotLike", MG_COP_ARN_LIKE, true},
    {"Null", MG_COP_NULL, false},
};

static bool s_parse_op(const char *name, struct mg_policy_cond *cd)
{
    size_t len = strlen(name);
    cd->qual = MG_QUAL_NONE;
    if (strncmp(name, "ForAnyValue:", 12) == 0) {
        cd->qual = MG_QUAL_ANY;
        name += 12;
        len -= 12;
    } else if (strncmp(name, "ForAllValues:", 13) == 0) {
        cd->qual = MG_QUAL_ALL;
        name += 13;
        len -= 13;
    }
    cd->if_exists = false;
    if (len > 8 && strcmp(name + len - 8, "IfExists") == 0) {
        cd->if_exists = true;
        len -= 8;
    }
    for (size_t i = 0; i < sizeof(s_ops) / sizeof(s_ops[0]); i++) {
        if (strlen(s_ops[i].name) == len && strncmp(s_ops[i].name, name, len) == 0) {
            cd->op = s_ops[i].op;
            cd->negated = s_ops[i].negated;
            if (cd->op == MG_COP_NULL && (cd->if_exists || cd->qual != MG_QUAL_NONE))
                return false;
            return true;
        }
    }
    return false;
}

static enum mg_err s_cond_value(struct s_ctx *c, const char *opname, struct mg_policy_cond *cd,
                                const char *s, size_t len, struct mg_policy_cval *cv)
{
    struct mg_slice sl = mg_slice_make(s, len);
    if (!s_chars_ok(c, s, len))
        return s_fail(c, MSG_SYNTAX);
    bool vars = false, ok = true;
    switch (cd->op) {
    case MG_COP_STR_EQ:
    case MG_COP_STR_EQ_IC:
    case MG_COP_STR_LIKE:
    case MG_COP_ARN_LIKE: vars = true; break;
    case MG_COP_BOOL:
        vars = true;
        ok = (len == 4 && strncasecmp(s, "true", 4) == 0) ||
             (len == 5 && strncasecmp(s, "false", 5) == 0) ||
             (c->p->v2012 && mg_policy_has_var(s, len));
        cv->u.flag = len == 4;
        break;
    case MG_COP_NULL:
        ok = (len == 4 && strncasecmp(s, "true", 4) == 0) ||
             (len == 5 && strncasecmp(s, "false", 5) == 0);
        cv->u.flag = len == 4;
        break;
    case MG_COP_NUM_EQ:
    case MG_COP_NUM_LT:
    case MG_COP_NUM_LE:
    case MG_COP_NUM_GT:
    case MG_COP_NUM_GE: ok = mg_policy_parse_num(sl, &cv->u.num); break;
    case MG_COP_DATE_EQ:
    case MG_COP_DATE_LT:
    case MG_COP_DATE_LE:
    case MG_COP_DATE_GT:
    case MG_COP_DATE_GE: ok = mg_policy_parse_date(sl, &cv->u.date); break;
    case MG_COP_BINARY: {
        struct mg_buf b;
        mg_buf_init(&b, len + 4);
        enum mg_err e = mg_base64_decode(&b, sl);
        mg_buf_cleanup(&b);
        if (e == MG_E_NOMEM)
            return s_nomem(c);
        ok = e == MG_E_OK;
        break;
    }
    case MG_COP_IP:
        ok = mg_policy_parse_ip(sl, true, cv->u.ip.addr, &cv->u.ip.prefix, &cv->u.ip.v6);
        break;
    }
    if (!ok)
        return s_fail(c, "Invalid value for condition operator %s: %.*s", opname,
                      (int)(len > 100 ? 100 : len), s);
    return s_make_pat(c, s, len, false, vars, &cv->str);
}

static enum mg_err s_conditions(struct s_ctx *c, json_t *v, struct mg_policy_stmt *st)
{
    if (!json_is_object(v))
        return s_fail(c, MSG_SYNTAX);
    size_t total = 0;
    const char *op;
    json_t *block;
    json_object_foreach(v, op, block)
    {
        if (!json_is_object(block))
            return s_fail(c, MSG_SYNTAX);
        total += json_object_size(block);
    }
    if (total == 0)
        return MG_E_OK;
    st->conds = s_alloc(c->p, total * sizeof(*st->conds));
    if (!st->conds)
        return s_nomem(c);
    size_t idx = 0;
    json_object_foreach(v, op, block)
    {
        struct mg_policy_cond proto = {0};
        if (!s_parse_op(op, &proto))
            return s_fail(c, "Invalid Condition type : %.100s", op);
        const char *key;
        json_t *vals;
        json_object_foreach(block, key, vals)
        {
            size_t klen = strlen(key);
            if (!s_chars_ok(c, key, klen) || klen == 0)
                return s_fail(c, MSG_SYNTAX);
            MG_TRY(s_check_vendor_colons(c, key, klen, true));
            struct mg_policy_cond *cd = &st->conds[idx++];
            *cd = proto;
            char *k = s_strdup(c->p, key, klen);
            if (!k)
                return s_nomem(c);
            cd->key = mg_slice_make(k, klen);
            size_t n = s_list_len(vals);
            if (n == 0)
                return s_fail(c, MSG_SYNTAX);
            cd->values = s_alloc(c->p, n * sizeof(*cd->values));
            if (!cd->values)
                return s_nomem(c);
            for (size_t i = 0; i < n; i++) {
                char tmp[64];
                const char *s;
                size_t len;
                if (!s_scalar(s_list_at(vals, i), tmp, sizeof(tmp), &s, &len))
                    return s_fail(c, MSG_SYNTAX);
                MG_TRY(s_cond_value(c, op, cd, s, len, &cd->values[i]));
            }
            cd->n_values = (uint32_t)n;
        }
    }
    st->n_conds = (uint32_t)idx;
    return MG_E_OK;
}

/* ---- Statement --------------------------------------------------------------------------- */

static bool s_sid_alnum(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static enum mg_err s_statement(struct s_ctx *c, json_t *js, size_t index, struct mg_policy_stmt *st)
{
    snprintf(c->stmt_name, sizeof(c->stmt_name), "#%zu", index);
    if (!json_is_object(js))
        return s_fail(c, MSG_SYNTAX);
    json_t *sid = json_object_get(js, "Sid");
    if (sid) {
        if (!json_is_string(sid))
            return s_fail(c, MSG_SYNTAX);
        const char *s = json_string_value(sid);
        if (!s_chars_ok(c, s, json_string_length(sid)))
            return s_fail(c, MSG_SYNTAX);
        if (s[0])
            snprintf(c->stmt_name, sizeof(c->stmt_name), "\"%.60s\"", s);
        if (c->identity_grammar && !s_sid_alnum(s))
            return s_fail(c, "Statement IDs (SID) must be alpha-numeric. Check that your input "
                             "satisfies the regular expression [0-9A-Za-z]*");
        st->sid = s_strdup(c->p, s, json_string_length(sid));
        if (!st->sid)
            return s_nomem(c);
    }
    const char *k;
    json_t *v;
    json_object_foreach(js, k, v)
    {
        static const char *const known[] = {"Sid",          "Effect",      "Principal",
                                            "NotPrincipal", "Action",      "NotAction",
                                            "Resource",     "NotResource", "Condition"};
        bool ok = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return s_fail(c, "Unknown field %.100s", k);
    }
    json_t *eff = json_object_get(js, "Effect");
    if (!eff)
        return s_fail(c, "Missing required field Effect");
    if (!json_is_string(eff))
        return s_fail(c, MSG_SYNTAX);
    if (strcmp(json_string_value(eff), "Allow") == 0)
        st->deny = false;
    else if (strcmp(json_string_value(eff), "Deny") == 0)
        st->deny = true;
    else
        return s_fail(c, "Invalid effect: %.60s", json_string_value(eff));

    json_t *pr = json_object_get(js, "Principal"), *npr = json_object_get(js, "NotPrincipal");
    if (pr && npr)
        return s_fail(c, MSG_SYNTAX);
    if (c->identity_grammar) {
        if (pr || npr)
            return s_fail(c, "Policy document should not specify a principal.");
    } else {
        if (!pr && !npr)
            return s_fail(c, "Missing required field Principal");
        if (npr && c->p->kind == MG_POLICY_KIND_TRUST)
            return s_fail(c, "Invalid principal in policy: NotPrincipal is not allowed in a "
                             "role trust policy");
        st->has_principal = true;
        st->not_principal = npr != NULL;
        MG_TRY(s_principal(c, pr ? pr : npr, st));
    }

    json_t *ac = json_object_get(js, "Action"), *nac = json_object_get(js, "NotAction");
    if (ac && nac)
        return s_fail(c, MSG_SYNTAX);
    if (!ac && !nac)
        return s_fail(c, "Policy statement must contain actions.");
    st->not_action = nac != NULL;
    MG_TRY(s_actions(c, ac ? ac : nac, st));

    json_t *rs = json_object_get(js, "Resource"), *nrs = json_object_get(js, "NotResource");
    if (rs && nrs)
        return s_fail(c, MSG_SYNTAX);
    if (c->p->kind == MG_POLICY_KIND_TRUST && (rs || nrs))
        return s_fail(c, "Has prohibited field %s", rs ? "Resource" : "NotResource");
    if (!rs && !nrs && c->identity_grammar)
        return s_fail(c, "Policy statement must contain resources.");
    if (rs || nrs) {
        st->has_resource = true;
        st->not_resource = nrs != NULL;
        MG_TRY(s_resources(c, rs ? rs : nrs, st));
    }

    json_t *cond = json_object_get(js, "Condition");
    if (cond)
        MG_TRY(s_conditions(c, cond, st));
    return MG_E_OK;
}

/* ---- document ---------------------------------------------------------------------------- */

size_t mg_policy_default_limit(enum mg_policy_kind kind)
{
    switch (kind) {
    case MG_POLICY_KIND_IDENTITY:
    case MG_POLICY_KIND_BOUNDARY: return MG_POLICY_LIMIT_MANAGED;
    case MG_POLICY_KIND_RESOURCE: return MG_POLICY_LIMIT_RESOURCE;
    case MG_POLICY_KIND_TRUST: return MG_POLICY_LIMIT_TRUST;
    case MG_POLICY_KIND_SESSION: return MG_POLICY_LIMIT_SESSION;
    }
    return MG_POLICY_LIMIT_MANAGED;
}

size_t mg_policy_count_chars(struct mg_slice doc)
{
    size_t n = 0;
    for (size_t i = 0; i < doc.len; i++) {
        uint8_t b = doc.ptr[i];
        if (b == ' ' || b == '\t' || b == '\n' || b == '\r')
            continue;
        if ((b & 0xc0) == 0x80) /* UTF-8 continuation byte */
            continue;
        n++;
    }
    return n;
}

static enum mg_err s_document(struct s_ctx *c, json_t *root)
{
    struct mg_policy *p = c->p;
    if (!json_is_object(root))
        return s_fail(c, MSG_SYNTAX);
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "Version") != 0 && strcmp(k, "Id") != 0 && strcmp(k, "Statement") != 0)
            return s_fail(c, "Unknown field %.100s", k);
    }
    json_t *ver = json_object_get(root, "Version");
    if (ver) {
        if (!json_is_string(ver))
            return s_fail(c, MSG_SYNTAX);
        if (strcmp(json_string_value(ver), "2012-10-17") == 0)
            p->v2012 = true;
        else if (strcmp(json_string_value(ver), "2008-10-17") != 0)
            return s_fail(c, "The policy failed legacy parsing");
    }
    json_t *id = json_object_get(root, "Id");
    if (id && !json_is_string(id))
        return s_fail(c, MSG_SYNTAX);
    json_t *stmts = json_object_get(root, "Statement");
    if (!stmts)
        return s_fail(c, "Missing required field Statement");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : (json_is_object(stmts) ? 1 : 0);
    if (n == 0)
        return s_fail(c, MSG_SYNTAX);
    p->stmts = s_alloc(p, n * sizeof(*p->stmts));
    if (!p->stmts)
        return s_nomem(c);
    for (size_t i = 0; i < n; i++) {
        MG_TRY(s_statement(c, json_is_array(stmts) ? json_array_get(stmts, i) : stmts, i,
                           &p->stmts[i]));
        p->n_stmts = (uint32_t)(i + 1);
    }
    c->stmt_name[0] = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (p->stmts[i].sid && p->stmts[j].sid && p->stmts[i].sid[0] &&
                strcmp(p->stmts[i].sid, p->stmts[j].sid) == 0) {
                snprintf(c->stmt_name, sizeof(c->stmt_name), "\"%.60s\"", p->stmts[i].sid);
                return s_fail(c, "Statement IDs (SID) in a single policy must be unique.");
            }
        }
    }
    return MG_E_OK;
}

static const char *s_limit_msg(enum mg_policy_kind kind)
{
    switch (kind) {
    case MG_POLICY_KIND_TRUST: return "Cannot exceed quota for ACLSizePerRole: %zu";
    case MG_POLICY_KIND_RESOURCE:
        return "Policy document exceeds the maximum size of %zu characters";
    case MG_POLICY_KIND_SESSION: return "Session policy exceeds the maximum size of %zu characters";
    case MG_POLICY_KIND_IDENTITY:
    case MG_POLICY_KIND_BOUNDARY: return "Cannot exceed quota for PolicySize: %zu";
    }
    return "Cannot exceed quota for PolicySize: %zu";
}

enum mg_err mg_policy_parse(struct mg_slice doc, const struct mg_policy_parse_opts *opts,
                            struct mg_policy **out, struct mg_errinfo *ei)
{
    *out = NULL;
    struct mg_policy_parse_opts dflt = {0};
    if (!opts)
        opts = &dflt;
    size_t limit = opts->max_chars ? opts->max_chars : mg_policy_default_limit(opts->kind);
    if (doc.len > MG_POLICY_LIMIT_RAW || mg_policy_count_chars(doc) > limit)
        return mg_errinfo_set(ei, MG_E_TOO_LARGE, s_limit_msg(opts->kind), limit);

    struct mg_policy *p = mg_calloc(1, sizeof(*p));
    if (!p)
        return mg_errinfo_set(ei, MG_E_NOMEM, "out of memory");
    atomic_init(&p->refs, 1);
    p->kind = opts->kind;
    struct s_ctx c = {.p = p, .ei = ei, .err = MG_E_OK};
    c.identity_grammar = opts->kind == MG_POLICY_KIND_IDENTITY ||
                         opts->kind == MG_POLICY_KIND_SESSION ||
                         opts->kind == MG_POLICY_KIND_BOUNDARY;
    enum mg_err err = MG_E_OK;
    json_error_t jerr;
    long failures = mg_alloc_failures();
    json_t *root = json_loadb((const char *)doc.ptr, doc.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && mg_alloc_failures() != failures) {
        err = s_nomem(&c);
        goto out;
    }
    if (!root) {
        /* AWS's message, then where and why (jansson's reason, printable ASCII only: it may
         * quote the document) */
        char why[sizeof(jerr.text)];
        size_t j = 0;
        for (size_t i = 0; jerr.text[i] && j + 1 < sizeof(why); i++) {
            unsigned char ch = (unsigned char)jerr.text[i];
            why[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        why[j] = 0;
        if (doc.len == 0)
            err = s_fail(&c, MSG_SYNTAX " (the document is empty)");
        else if (jerr.line >= 1)
            err = s_fail(&c, MSG_SYNTAX " (line %d, column %d: %s)", jerr.line,
                         jerr.column > 0 ? jerr.column : 1, why);
        else
            err = s_fail(&c, MSG_SYNTAX " (%s)", why);
        goto out;
    }
    const char *label = opts->label ? opts->label : "policy";
    p->label = s_strdup(p, label, strlen(label));
    if (!p->label) {
        err = s_nomem(&c);
        goto out;
    }
    err = s_document(&c, root);
out:
    json_decref(root);
    if (err != MG_E_OK) {
        p->refs = 1;
        mg_policy_unref(p);
        return err;
    }
    *out = p;
    return MG_E_OK;
}

struct mg_policy *mg_policy_ref(struct mg_policy *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void mg_policy_unref(struct mg_policy *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    struct mg_policy_chunk *ch = p->chunks;
    while (ch) {
        struct mg_policy_chunk *next = ch->next;
        mg_free(ch);
        ch = next;
    }
    mg_free(p);
}
