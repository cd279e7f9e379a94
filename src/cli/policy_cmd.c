/* src/cli/policy_cmd.c: `mcpgate policy simulate` (one JSON case on stdin, one JSON object on
 * stdout) and `mcpgate policy validate FILE [--type KIND] [--max-chars N]`. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/slice.h"
#include "cli/policy_cmd.h"
#include "policy/policy.h"

static void s_usage(FILE *f)
{
    fprintf(f, "usage: mcpgate policy simulate < case.json\n"
               "       mcpgate policy validate FILE [--type identity|resource|trust|session|"
               "boundary] [--max-chars N]\n");
}

static enum mg_err s_read_all(FILE *f, struct mg_buf *b)
{
    uint8_t tmp[8192];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        MG_TRY(mg_buf_append(b, tmp, n));
    return ferror(f) ? MG_E_IO : MG_E_OK;
}

static void s_print_json_error(const char *msg)
{
    struct mg_buf b;
    mg_buf_init(&b, 4096);
    if (mg_buf_append_json_str(&b, mg_slice_cstr(msg)) == MG_E_OK)
        printf("{\"error\":\"%.*s\"}\n", (int)b.len, (const char *)b.ptr);
    else
        printf("{\"error\":\"invalid input\"}\n");
    mg_buf_cleanup(&b);
}

static int s_simulate(void)
{
    struct mg_buf in, out;
    mg_buf_init(&in, MG_LIMIT_IDENTITIES_FILE);
    mg_buf_init(&out, MG_LIMIT_RESPONSE);
    int rc = 2;
    struct mg_errinfo ei = {0};
    if (s_read_all(stdin, &in) != MG_E_OK) {
        s_print_json_error("cannot read the case from stdin (or it is too large)");
        goto out;
    }
    enum mg_policy_decision d;
    if (mg_policy_simulate_json(mg_buf_slice(&in), &out, &d, &ei) != MG_E_OK) {
        s_print_json_error(ei.msg);
        goto out;
    }
    printf("%.*s\n", (int)out.len, (const char *)out.ptr);
    rc = 0;
out:
    fflush(stdout);
    mg_buf_cleanup(&in);
    mg_buf_cleanup(&out);
    return rc;
}

static void s_warn(void *user, const char *msg)
{
    (void)user;
    printf("warning: %s\n", msg);
}

static int s_validate(int argc, char **argv)
{
    const char *file = NULL;
    struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "identity") == 0)
                o.kind = MG_POLICY_KIND_IDENTITY;
            else if (strcmp(t, "resource") == 0)
                o.kind = MG_POLICY_KIND_RESOURCE;
            else if (strcmp(t, "trust") == 0)
                o.kind = MG_POLICY_KIND_TRUST;
            else if (strcmp(t, "session") == 0)
                o.kind = MG_POLICY_KIND_SESSION;
            else if (strcmp(t, "boundary") == 0)
                o.kind = MG_POLICY_KIND_BOUNDARY;
            else {
                s_usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--max-chars") == 0 && i + 1 < argc) {
            uint64_t v;
            if (!mg_slice_to_u64(mg_slice_cstr(argv[++i]), &v) || v == 0) {
                s_usage(stderr);
                return 2;
            }
            o.max_chars = (size_t)v;
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            s_usage(stderr);
            return 2;
        }
    }
    if (!file) {
        s_usage(stderr);
        return 2;
    }
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "mcpgate policy validate: cannot open %s\n", file);
        return 2;
    }
    struct mg_buf in;
    mg_buf_init(&in, MG_POLICY_LIMIT_RAW + 1);
    enum mg_err rerr = s_read_all(f, &in);
    if (f != stdin)
        fclose(f);
    int rc = 2;
    if (rerr == MG_E_TOO_LARGE) {
        printf("LimitExceeded: the document is larger than %u bytes\n", MG_POLICY_LIMIT_RAW);
        rc = 1;
        goto out;
    }
    if (rerr != MG_E_OK) {
        fprintf(stderr, "mcpgate policy validate: cannot read %s\n", file);
        goto out;
    }
    o.label = file;
    struct mg_policy *p = NULL;
    struct mg_errinfo ei = {0};
    enum mg_err err = mg_policy_parse(mg_buf_slice(&in), &o, &p, &ei);
    if (err == MG_E_PARSE || err == MG_E_TOO_LARGE) {
        printf("%s: %s\n", err == MG_E_PARSE ? "MalformedPolicyDocument" : "LimitExceeded", ei.msg);
        rc = 1;
        goto out;
    }
    if (err != MG_E_OK) {
        fprintf(stderr, "mcpgate policy validate: %s\n", ei.msg);
        goto out;
    }
    mg_policy_lint(p, s_warn, NULL);
    printf("valid: %zu statement(s), %zu of %zu characters\n", mg_policy_statement_count(p),
           mg_policy_count_chars(mg_buf_slice(&in)),
           o.max_chars ? o.max_chars : mg_policy_default_limit(o.kind));
    mg_policy_unref(p);
    rc = 0;
out:
    mg_buf_cleanup(&in);
    return rc;
}

int mg_cli_policy_main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "simulate") == 0) {
        if (argc != 2) {
            s_usage(stderr);
            return 2;
        }
        return s_simulate();
    }
    if (strcmp(argv[1], "validate") == 0)
        return s_validate(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return 0;
    }
    s_usage(stderr);
    return 2;
}
