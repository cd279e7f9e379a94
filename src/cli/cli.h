/* src/cli/cli.h: the mcpgate command line. */
#ifndef MG_CLI_H
#define MG_CLI_H

int mg_cli_main(int argc, char **argv);
int mg_cli_serve_main(int argc, char **argv);
int mg_cli_credentials_main(int argc, char **argv);
int mg_cli_token_main(int argc, char **argv);  /* src/cli/issuer_cmd.c */
int mg_cli_issuer_main(int argc, char **argv); /* src/cli/issuer_cmd.c */

#endif
