/* src/policy/policy_internal.h: compiled policy layout, shared by the policy module and its tests. */
#ifndef MG_POLICY_INTERNAL_H
#define MG_POLICY_INTERNAL_H

#include <stdatomic.h>

#include "policy/policy.h"

/* Byte that makes the next pattern byte literal (never valid in a policy document). */
#define MG_POLICY_ESC '\x01'
/* Stack budget for one expanded pattern with policy variables. */
#define MG_POLICY_EXPAND_MAX 2048u

enum { MG_PAT_WILD = 1, MG_PAT_VARS = 2, MG_PAT_STAR = 4 };

/* A string from the document: literal, glob, or template with ${...} variables. */
struct mg_policy_pat {
    const char *s;
    uint32_t len;
    uint8_t flags;
};

enum mg_policy_pkind {
    MG_PK_STAR = 0,  /* "*" or {"AWS":"*"} */
    MG_PK_ACCOUNT,   /* 123456789012 or arn:aws:iam::123456789012:root */
    MG_PK_USER,      /* arn:aws:iam::A:user/... */
    MG_PK_ROLE,      /* arn:aws:iam::A:role/... */
    MG_PK_SESSION,   /* arn:aws:sts::A:assumed-role/R/S */
    MG_PK_FEDUSER,   /* arn:aws:sts::A:federated-user/N */
    MG_PK_UNIQUE_ID, /* AIDA... / AROA... */
    MG_PK_SERVICE,   /* {"Service": ...} */
    MG_PK_FEDERATED, /* {"Federated": ...} */
    MG_PK_CANONICAL, /* {"CanonicalUser": ...}: never matches here */
};

struct mg_policy_principal {
    enum mg_policy_pkind kind;
    struct mg_slice value;   /* ARN, id or name as written */
    struct mg_slice account; /* 12 digits for AWS ARNs and accounts */
};

enum mg_policy_cop {
    MG_COP_STR_EQ = 0,
    MG_COP_STR_EQ_IC,
    MG_COP_STR_LIKE,
    MG_COP_NUM_EQ,
    MG_COP_NUM_LT,
    MG_COP_NUM_LE,
    MG_COP_NUM_GT,
    MG_COP_NUM_GE,
    MG_COP_DATE_EQ,
    MG_COP_DATE_LT,
    MG_COP_DATE_LE,
    MG_COP_DATE_GT,
    MG_COP_DATE_GE,
    MG_COP_BOOL,
    MG_COP_BINARY,
    MG_COP_IP,
    MG_COP_ARN_LIKE, /* ArnEquals and ArnLike behave the same */
    MG_COP_NULL,
};

enum mg_policy_qual { MG_QUAL_NONE = 0, MG_QUAL_ANY, MG_QUAL_ALL };

struct mg_policy_cval {
    struct mg_policy_pat str; /* text (string, arn, bool, binary, null operators) */
    union {
        double num;
        int64_t date;
        bool flag;
        struct {
            uint8_t addr[16];
            uint8_t prefix;
            bool v6;
        } ip;
    } u;
};

struct mg_policy_cond {
    enum mg_policy_cop op;
    enum mg_policy_qual qual;
    bool negated;
    bool if_exists;
    struct mg_slice key; /* as written; looked up case-insensitively */
    struct mg_policy_cval *values;
    uint32_t n_values;
};

struct mg_policy_stmt {
    const char *sid; /* NULL when absent */
    bool deny;
    bool has_principal, not_principal;
    struct mg_policy_principal *principals;
    uint32_t n_principals;
    bool not_action;
    struct mg_policy_pat *actions; /* lower-cased */
    uint32_t n_actions;
    bool has_resource, not_resource;
    struct mg_policy_pat *resources;
    uint32_t n_resources;
    struct mg_policy_cond *conds;
    uint32_t n_conds;
};

struct mg_policy_chunk;

struct mg_policy {
    atomic_long refs;
    enum mg_policy_kind kind;
    bool v2012; /* policy variables are live only under 2012-10-17 */
    const char *label;
    struct mg_policy_stmt *stmts;
    uint32_t n_stmts;
    struct mg_policy_chunk *chunks;
};

/* match.c */
bool mg_policy_glob(const char *pat, size_t plen, const uint8_t *s, size_t slen, bool icase);
bool mg_policy_arn_match(const char *pat, size_t plen, struct mg_slice arn);
/* Expands ${...} in a template. escape: literal '*' '?' from ${*}/${?} and substituted values
 * get MG_POLICY_ESC before them, so the result is a glob pattern. Returns the length, -1 when a
 * variable has no value (and no default), -2 on overflow. */
long mg_policy_expand(const struct mg_policy_pat *p, const struct mg_policy_request *req,
                      bool escape, char *out, size_t cap);
bool mg_policy_parse_ip(struct mg_slice s, bool allow_prefix, uint8_t addr[16], uint8_t *prefix,
                        bool *v6);
bool mg_policy_parse_date(struct mg_slice s, int64_t *out);
bool mg_policy_parse_num(struct mg_slice s, double *out);

/* conditions.c: 1 true, 0 false; *overflow set when a template did not fit. */
bool mg_policy_cond_eval(const struct mg_policy *p, const struct mg_policy_cond *c,
                         const struct mg_policy_request *req, bool *overflow);

/* Whether a pattern's text holds a policy variable "${...}" (parse.c). */
bool mg_policy_has_var(const char *s, size_t len);

#endif
