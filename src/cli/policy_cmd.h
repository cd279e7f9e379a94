/* src/cli/policy_cmd.h: `mcpgate policy simulate|validate`, offline IAM tools. */
#ifndef MG_CLI_POLICY_CMD_H
#define MG_CLI_POLICY_CMD_H

/* argv[0] is "policy". Exit codes: simulate 0 (result printed) or 2 (invalid input, {"error"}
 * printed); validate 0 valid, 1 invalid (IAM's messages printed), 2 usage or I/O error. */
int mg_cli_policy_main(int argc, char **argv);

#endif
