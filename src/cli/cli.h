/* src/cli/cli.h: the mcpgate command line. */
#ifndef MG_CLI_H
#define MG_CLI_H

#include <stdbool.h>
#include <stdint.h>

int mg_cli_main(int argc, char **argv);
int mg_cli_serve_main(int argc, char **argv);
int mg_cli_credentials_main(int argc, char **argv);
int mg_cli_token_main(int argc, char **argv);  /* src/cli/issuer_cmd.c */
int mg_cli_issuer_main(int argc, char **argv); /* src/cli/issuer_cmd.c */

/* A decimal number in [min, max], the whole string (src/cli/cli.c). */
bool mg_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
