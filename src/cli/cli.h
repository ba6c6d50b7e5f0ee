// Command-line front end: subcommand dispatch and exit status.
#ifndef SK_CLI_CLI_H
#define SK_CLI_CLI_H

int sk_cli_main(int argc, char **argv);

#endif
