/* src/policy/conditions.c: condition operators, set qualifiers, IfExists and Null. */
#include <strings.h>

#include "policy/policy_internal.h"

static bool s_ieq(struct mg_slice a, const char *b, size_t blen)
{
    return a.len == blen && strncasecmp((const char *)a.ptr, b, blen) == 0;
}

static bool s_ip_in(const struct mg_policy_cval *cv, const uint8_t addr[16], bool v6)
{
    if (cv->u.ip.v6 != v6)
        return false;
    unsigned bits = cv->u.ip.prefix;
    size_t full = bits / 8;
    if (mg_memcmp(cv->u.ip.addr, addr, full) != 0)
        return false;
    unsigned rem = bits % 8;
    if (rem == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rem));
    return (cv->u.ip.addr[full] & mask) == (addr[full] & mask);
}

static int s_cmp_num(enum mg_policy_cop op, double a, double b)
{
    switch (op) {
    case MG_COP_NUM_EQ:
    case MG_COP_DATE_EQ: return a == b;
    case MG_COP_NUM_LT:
    case MG_COP_DATE_LT: return a < b;
    case MG_COP_NUM_LE:
    case MG_COP_DATE_LE: return a <= b;
    case MG_COP_NUM_GT:
    case MG_COP_DATE_GT: return a > b;
    case MG_COP_NUM_GE:
    case MG_COP_DATE_GE: return a >= b;
    case MG_COP_STR_EQ:
    case MG_COP_STR_EQ_IC:
    case MG_COP_STR_LIKE:
    case MG_COP_BOOL:
    case MG_COP_BINARY:
    case MG_COP_IP:
    case MG_COP_ARN_LIKE:
    case MG_COP_NULL: break;
    }
    return 0;
}

/* Does request value v match any of the policy values? 1 yes, 0 no, -1 v is not of the type. */
static int s_match_any(const struct mg_policy *p, const struct mg_policy_cond *cd,
                       struct mg_slice v, const struct mg_policy_request *req, bool *overflow)
{
    (void)p;
    switch (cd->op) {
    case MG_COP_NUM_EQ:
    case MG_COP_NUM_LT:
    case MG_COP_NUM_LE:
    case MG_COP_NUM_GT:
    case MG_COP_NUM_GE: {
        double d;
        if (!mg_policy_parse_num(v, &d))
            return -1;
        for (uint32_t i = 0; i < cd->n_values; i++)
            if (s_cmp_num(cd->op, d, cd->values[i].u.num))
                return 1;
        return 0;
    }
    case MG_COP_DATE_EQ:
    case MG_COP_DATE_LT:
    case MG_COP_DATE_LE:
    case MG_COP_DATE_GT:
    case MG_COP_DATE_GE: {
        int64_t t;
        if (!mg_policy_parse_date(v, &t))
            return -1;
        for (uint32_t i = 0; i < cd->n_values; i++)
            if (s_cmp_num(cd->op, (double)t, (double)cd->values[i].u.date))
                return 1;
        return 0;
    }
    case MG_COP_IP: {
        uint8_t addr[16], pfx;
        bool v6;
        if (!mg_policy_parse_ip(v, false, addr, &pfx, &v6))
            return -1;
        for (uint32_t i = 0; i < cd->n_values; i++)
            if (s_ip_in(&cd->values[i], addr, v6))
                return 1;
        return 0;
    }
    case MG_COP_NULL: return 0; /* handled by the caller */
    case MG_COP_BINARY:
        for (uint32_t i = 0; i < cd->n_values; i++)
            if (v.len == cd->values[i].str.len && mg_memcmp(v.ptr, cd->values[i].str.s, v.len) == 0)
                return 1;
        return 0;
    case MG_COP_STR_EQ:
    case MG_COP_STR_EQ_IC:
    case MG_COP_STR_LIKE:
    case MG_COP_ARN_LIKE:
    case MG_COP_BOOL: break;
    }
    bool glob = cd->op == MG_COP_STR_LIKE || cd->op == MG_COP_ARN_LIKE;
    if (cd->op == MG_COP_BOOL && !s_ieq(v, "true", 4) && !s_ieq(v, "false", 5))
        return -1;
    for (uint32_t i = 0; i < cd->n_values; i++) {
        const struct mg_policy_pat *pat = &cd->values[i].str;
        const char *ps = pat->s;
        size_t pl = pat->len;
        char buf[MG_POLICY_EXPAND_MAX];
        if (pat->flags & MG_PAT_VARS) {
            long n = mg_policy_expand(pat, req, glob, buf, sizeof(buf));
            if (n == -2)
                *overflow = true;
            if (n < 0)
                continue; /* a variable without a value matches nothing */
            ps = buf;
            pl = (size_t)n;
        }
        bool m = false;
        switch (cd->op) {
        case MG_COP_STR_EQ: m = v.len == pl && mg_memcmp(v.ptr, ps, pl) == 0; break;
        case MG_COP_STR_EQ_IC:
        case MG_COP_BOOL: m = s_ieq(v, ps, pl); break;
        case MG_COP_STR_LIKE: m = mg_policy_glob(ps, pl, v.ptr, v.len, false); break;
        case MG_COP_ARN_LIKE: m = mg_policy_arn_match(ps, pl, v); break;
        case MG_COP_NUM_EQ:
        case MG_COP_NUM_LT:
        case MG_COP_NUM_LE:
        case MG_COP_NUM_GT:
        case MG_COP_NUM_GE:
        case MG_COP_DATE_EQ:
        case MG_COP_DATE_LT:
        case MG_COP_DATE_LE:
        case MG_COP_DATE_GT:
        case MG_COP_DATE_GE:
        case MG_COP_BINARY:
        case MG_COP_IP:
        case MG_COP_NULL: break;
        }
        if (m)
            return 1;
    }
    return 0;
}

bool mg_policy_cond_eval(const struct mg_policy *p, const struct mg_policy_cond *cd,
                         const struct mg_policy_request *req, bool *overflow)
{
    const struct mg_policy_ctx_entry *e = mg_policy_ctx_find(req, cd->key);
    size_t nv = e ? (e->values ? e->n_values : 1) : 0;
    if (cd->op == MG_COP_NULL) {
        bool absent = nv == 0;
        for (uint32_t i = 0; i < cd->n_values; i++)
            if (cd->values[i].u.flag == absent)
                return true;
        return false;
    }
    if (nv == 0) {
        if (cd->qual == MG_QUAL_ALL)
            return true;
        if (cd->qual == MG_QUAL_ANY)
            return false;
        if (cd->if_exists)
            return true;
        return cd->negated;
    }
    /* Without a qualifier a positive operator needs one matching value and a negated operator
     * needs every value to match none: the same as ForAnyValue / ForAllValues for one value. */
    bool need_all = cd->qual == MG_QUAL_ALL || (cd->qual == MG_QUAL_NONE && cd->negated);
    for (size_t i = 0; i < nv; i++) {
        struct mg_slice v = e->values ? e->values[i] : e->value;
        int m = s_match_any(p, cd, v, req, overflow);
        bool r = cd->negated ? m == 0 : m == 1;
        if (need_all && !r)
            return false;
        if (!need_all && r)
            return true;
    }
    return need_all;
}
