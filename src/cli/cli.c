// Placeholder dispatcher replaced by the real CLI in the next commit.
#include "cli.h"

#include <stdio.h>

int sk_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("saker: no subcommand yet\n", stderr);
    return 2;
}
