/* Function names, partial ARNs and ARNs. */
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "lambda/internal.h"

static bool s_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool mg_lambda_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_name_char(name[i]))
            return false;
    return true;
}

static bool s_valid_qualifier(const char *q)
{
    size_t n = strlen(q);
    if (n == 0 || n > 128)
        return false;
    if (strcmp(q, "$LATEST") == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!s_name_char(q[i]))
            return false;
    return true;
}

static bool s_digits12(const char *s, size_t n)
{
    if (n != 12)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Copies the next ':'-separated part of *p into out; false when too long. */
static bool s_part(const char **p, char *out, size_t cap, bool *last)
{
    const char *c = strchr(*p, ':');
    size_t n = c ? (size_t)(c - *p) : strlen(*p);
    if (n >= cap)
        return false;
    mg_memcpy(out, *p, n);
    out[n] = 0;
    *last = c == NULL;
    *p = c ? c + 1 : *p + n;
    return true;
}

/* aws[a-zA-Z-]* */
static bool s_valid_partition(const char *p)
{
    if (strncmp(p, "aws", 3) != 0)
        return false;
    for (p += 3; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-'))
            return false;
    return true;
}

static size_t s_lower_run(const char *p)
{
    size_t n = 0;
    while (p[n] >= 'a' && p[n] <= 'z')
        n++;
    return n;
}

/* [a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}, Lambda's region pattern */
static bool s_valid_region(const char *r)
{
    if (s_lower_run(r) != 2 || r[2] != '-')
        return false;
    const char *p = r + 2;
    if (strncmp(p, "-gov-", 5) == 0) {
        p += 4;
    } else if (strncmp(p, "-iso", 4) == 0) {
        size_t n = s_lower_run(p + 4);
        if (n <= 1 && p[4 + n] == '-')
            p += 4 + n;
    }
    /* p is at "-[a-z]+-D" */
    size_t n = s_lower_run(p + 1);
    if (p[0] != '-' || n == 0 || p[1 + n] != '-')
        return false;
    p += 2 + n;
    return p[0] >= '0' && p[0] <= '9' && p[1] == 0;
}

bool mg_lambda_parse_name_bytes(struct mg_slice in, struct mg_lambda_name *out)
{
    char buf[260];
    memset(out, 0, sizeof(*out));
    if (in.len == 0 || in.len >= sizeof(buf))
        return false;
    for (size_t i = 0; i < in.len; i++)
        if (in.ptr[i] == 0)
            return false; /* "fn%00" is not "fn" */
    mg_memcpy(buf, in.ptr, in.len);
    buf[in.len] = 0;
    return mg_lambda_parse_name(buf, out);
}

bool mg_lambda_parse_name(const char *in, struct mg_lambda_name *out)
{
    memset(out, 0, sizeof(*out));
    if (in == NULL || in[0] == 0 || strlen(in) > 256)
        return false;
    char parts[8][160];
    size_t n = 0;
    const char *p = in;
    bool last = false;
    while (!last) {
        if (n == 8 || !s_part(&p, parts[n], sizeof(parts[n]), &last))
            return false;
        n++;
    }
    const char *partition = "", *account = "", *region = "", *name = NULL, *qual = "";
    if (n >= 6 && strcmp(parts[0], "arn") == 0) {
        /* arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER] */
        if (n > 8 || !s_valid_partition(parts[1]) || strcmp(parts[2], "lambda") != 0 || n < 7 ||
            strcmp(parts[5], "function") != 0)
            return false;
        partition = parts[1];
        region = parts[3];
        account = parts[4];
        name = parts[6];
        qual = n == 8 ? parts[7] : "";
        if (!s_valid_region(region) || strlen(region) >= sizeof(out->region) || account[0] == 0 ||
            strlen(partition) >= sizeof(out->partition))
            return false;
    } else if (n >= 3 && strcmp(parts[1], "function") == 0) {
        /* ACCOUNT:function:NAME[:QUALIFIER] */
        if (n > 4)
            return false;
        account = parts[0];
        name = parts[2];
        qual = n == 4 ? parts[3] : "";
    } else if (n <= 2) {
        /* NAME[:QUALIFIER] */
        name = parts[0];
        qual = n == 2 ? parts[1] : "";
    } else {
        return false;
    }
    if (account[0] && !s_digits12(account, strlen(account)))
        return false;
    if (!mg_lambda_valid_name(name))
        return false;
    if (n > 1 && qual[0] == 0 && (n == 2 || n == 4 || n == 8))
        return false;
    if (qual[0] && !s_valid_qualifier(qual))
        return false;
    mg_lambda_strlcpy(out->partition, sizeof(out->partition), partition);
    mg_lambda_strlcpy(out->region, sizeof(out->region), region);
    mg_lambda_strlcpy(out->account, sizeof(out->account), account);
    mg_lambda_strlcpy(out->name, sizeof(out->name), name);
    mg_lambda_strlcpy(out->qualifier, sizeof(out->qualifier), qual);
    return true;
}

bool mg_lambda_name_is_local(const struct mg_lambda_name *n, const char *in, const char *region,
                             char *why, size_t cap)
{
    if (n->region[0] == 0 && n->partition[0] == 0)
        return true; /* a name or a partial ARN: this server's region */
    if (region && strcmp(n->region, region) == 0 && strcmp(n->partition, "aws") == 0)
        return true;
    if (cap == 0)
        return false;
    if (region && strcmp(n->region, region) != 0)
        snprintf(why, cap, "Functions from '%s' are not reachable in this region ('%s')", n->region,
                 region);
    else
        snprintf(why, cap, "Function not found: %.256s", in ? in : n->name);
    return false;
}

void mg_lambda_function_arn(const char *region, const char *account, const char *name, char *out,
                            size_t cap)
{
    snprintf(out, cap, "arn:aws:lambda:%s:%s:function:%s", region, account, name);
}

/* --- runtimes and code locations ------------------------------------------------------ */

const char *const mg_lambda_runtimes[] = {
    "python3.9",  "python3.10", "python3.11",   "python3.12",      "python3.13", "nodejs18.x",
    "nodejs20.x", "nodejs22.x", "provided.al2", "provided.al2023", NULL,
};

bool mg_lambda_runtime_known(const char *runtime, enum mg_lambda_runtime_kind *kind)
{
    for (size_t i = 0; mg_lambda_runtimes[i]; i++) {
        if (strcmp(runtime, mg_lambda_runtimes[i]) != 0)
            continue;
        if (kind)
            *kind = strncmp(runtime, "python", 6) == 0   ? MG_RT_PYTHON
                    : strncmp(runtime, "nodejs", 6) == 0 ? MG_RT_NODE
                                                         : MG_RT_PROVIDED;
        return true;
    }
    return false;
}

bool mg_lambda_code_dir(const char *data_dir, const char *account, const char *name, char *out,
                        size_t cap)
{
    return mg_fmt(out, cap, "%s/lambda/%s/%s", data_dir, account, name);
}

bool mg_lambda_sha_hex(const char *b64, char out[65])
{
    struct mg_buf b;
    mg_buf_init(&b, 64);
    bool ok = b64 && mg_base64_decode(&b, mg_slice_cstr(b64)) == MG_E_OK && b.len == 32;
    if (ok) {
        mg_hex_encode(b.ptr, 32, out);
        out[64] = 0;
    }
    mg_buf_cleanup(&b);
    return ok;
}
