#include "cli/cli.h"

#include <stdio.h>
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
          "  version       print the version\n"
          "\n"
          "'mcpgate <command> --help' describes each command.\n",
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
#ifdef MG_HAVE_POLICY_CMD
    if (strcmp(cmd, "policy") == 0)
        return mg_cli_policy_main(argc - 1, argv + 1);
#endif
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mcpgate %s\n", MG_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        s_usage(stdout);
        return 0;
    }
    fprintf(stderr, "mcpgate: unknown command '%s'\n\n", cmd);
    s_usage(stderr);
    return 2;
}
