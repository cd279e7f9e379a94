/* src/cli/policy_cmd.c: `mcpgate policy simulate` (one JSON case on stdin, one JSON object on
 * stdout) and `mcpgate policy validate FILE [--type KIND] [--max-chars N]`. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/slice.h"
#include "cli/policy_cmd.h"
#include "policy/policy.h"

static const char s_policy_usage[] =
    "usage: mcpgate policy simulate < case.json\n"
    "       mcpgate policy validate FILE [--type KIND] [--max-chars N]\n"
    "\n"
    "Offline IAM tools, with the policy engine the server uses:\n"
    "  simulate   decide one request against the policies of a JSON case read on stdin\n"
    "  validate   check one policy document as IAM would when it is put\n"
    "\n"
    "'mcpgate policy simulate --help' and 'mcpgate policy validate --help' describe each.\n";

static const char s_simulate_usage[] =
    "usage: mcpgate policy simulate < case.json\n"
    "\n"
    "Reads one case on stdin and prints one JSON object: the decision (Allowed,\n"
    "ImplicitlyDenied, ExplicitlyDenied) and its explanation. The case:\n"
    "  {\"identityPolicies\": [...], \"resourcePolicy\": {...}|null,\n"
    "   \"resourcePolicyType\": \"resource\"|\"trust\", \"permissionBoundaries\": [...],\n"
    "   \"sessionPolicy\": {...}|null,\n"
    "   \"request\": {\"principal\": ARN, \"action\": A, \"resource\": ARN,\n"
    "               \"context\": {\"key\": value or [values]}}}\n"
    "sts:AssumeRole* on a role ARN takes resourcePolicy as the role's trust policy. A role\n"
    "session's role ARN (with its path) comes from aws:PrincipalArn in the context when given.\n"
    "\n"
    "Exit status: 0 a decision was printed; 2 invalid input ({\"error\": \"...\"} is printed).\n"
    "See docs/iam.md.\n";

static const char s_validate_usage[] =
    "usage: mcpgate policy validate FILE [--type KIND] [--max-chars N]\n"
    "\n"
    "Checks one policy document (FILE, or - for stdin) as IAM would when it is put, and warns\n"
    "about risky but valid patterns.\n"
    "  --type KIND      identity (default), resource, trust, session or boundary\n"
    "  --max-chars N    size limit in non-whitespace characters (default: the limit of KIND,\n"
    "                   e.g. 6144 for identity; 10240 checks a role's inline policy)\n"
    "\n"
    "Exit status: 0 valid; 1 IAM would refuse it (MalformedPolicyDocument or LimitExceeded is\n"
    "printed, with the line and column for a document that is not JSON); 2 usage or I/O error.\n"
    "See docs/iam.md.\n";

/* A usage error: names what is wrong, then how to get help. Returns 2. */
static int MG_PRINTF(2, 3) s_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mcpgate %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(run 'mcpgate %s --help' for its usage)\n", cmd);
    return 2;
}

static bool s_is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
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
    static const char cmd[] = "policy validate";
    const char *file = NULL;
    struct mg_policy_parse_opts o = {.kind = MG_POLICY_KIND_IDENTITY};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (s_is_help(a)) {
            fputs(s_validate_usage, stdout);
            return 0;
        }
        if ((strcmp(a, "--type") == 0 || strcmp(a, "--max-chars") == 0) && i + 1 >= argc)
            return s_usage_error(cmd, "%s needs a value", a);
        if (strcmp(a, "--type") == 0) {
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
            else
                return s_usage_error(cmd,
                                     "--type '%.200s' is not a policy kind: use identity, "
                                     "resource, trust, session or boundary",
                                     t);
        } else if (strcmp(a, "--max-chars") == 0) {
            uint64_t v;
            const char *t = argv[++i];
            if (!mg_slice_to_u64(mg_slice_cstr(t), &v) || v == 0 || v > MG_POLICY_LIMIT_RAW)
                return s_usage_error(cmd, "--max-chars '%.200s' is not a number from 1 to %u", t,
                                     MG_POLICY_LIMIT_RAW);
            o.max_chars = (size_t)v;
        } else if (a[0] == '-' && a[1] != 0) {
            return s_usage_error(cmd, "unknown option '%.200s'", a);
        } else if (file) {
            return s_usage_error(cmd, "one FILE at a time: '%.200s' and '%.200s' were given", file,
                                 a);
        } else {
            file = a;
        }
    }
    if (!file)
        return s_usage_error(cmd, "the policy FILE is missing (- reads stdin)");
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
        fputs(s_policy_usage, stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (s_is_help(sub) || strcmp(sub, "help") == 0) {
        fputs(s_policy_usage, stdout);
        return 0;
    }
    if (strcmp(sub, "simulate") == 0) {
        for (int i = 2; i < argc; i++) {
            if (s_is_help(argv[i])) {
                fputs(s_simulate_usage, stdout);
                return 0;
            }
        }
        if (argc > 2)
            return s_usage_error("policy simulate",
                                 "unexpected argument '%.200s' (the case is read from stdin)",
                                 argv[2]);
        return s_simulate();
    }
    if (strcmp(sub, "validate") == 0)
        return s_validate(argc, argv);
    return s_usage_error("policy", "unknown command '%.200s': use simulate or validate", sub);
}
