// saker entry point: everything lives in the sk_core library.
#include "cli/cli.h"

int main(int argc, char **argv)
{
    return sk_cli_main(argc, argv);
}
