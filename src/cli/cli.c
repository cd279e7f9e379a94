#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include("cli/policy_cmd.h")
#include "cli/policy_cmd.h"
#define MG_HAVE_POLICY_CMD 1
#endif

static void s_usage(FILE *f)
{
    fputs("usage: mcpgate <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve         run the gateway (AWS APIs and MCP endpoints on one port)\n"
          "  credentials   print AWS profiles for the accounts this server hosts\n"
          "  policy        offline IAM tools: 'policy simulate' and 'policy validate'\n"
          "  token         print an access token of the built-in OAuth issuer\n"
          "  issuer        the built-in OAuth issuer's keys: 'issuer rotate-keys'\n"
          "  version       print the version\n"
          "\n"
          "'mcpgate <command> --help' (or 'mcpgate help <command>') describes each command,\n"
          "e.g. 'mcpgate policy validate --help'.\n",
          f);
}

int mg_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0)
        return mg_cli_serve_main(argc - 1, argv + 1);
    if (strcmp(cmd, "credentials") == 0)
        return mg_cli_credentials_main(argc - 1, argv + 1);
    if (strcmp(cmd, "token") == 0)
        return mg_cli_token_main(argc - 1, argv + 1);
    if (strcmp(cmd, "issuer") == 0)
        return mg_cli_issuer_main(argc - 1, argv + 1);
#ifdef MG_HAVE_POLICY_CMD
    if (strcmp(cmd, "policy") == 0)
        return mg_cli_policy_main(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            puts("usage: mcpgate version\n\nPrints the version of mcpgate.");
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "mcpgate version: unexpected argument '%.200s'\n", argv[2]);
            return 2;
        }
        printf("mcpgate %s\n", MG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 && argc == 3 && strcmp(argv[2], "help") != 0) {
        /* `mcpgate help COMMAND` is `mcpgate COMMAND --help` */
        char *args[] = {argv[0], argv[2], (char *)"--help", NULL};
        return mg_cli_main(3, args);
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        s_usage(stdout);
        return 0;
    }
    fprintf(stderr, "mcpgate: unknown command '%s'\n\n", cmd);
    s_usage(stderr);
    return 2;
}

bool mg_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return false;
    *out = v;
    return true;
}
