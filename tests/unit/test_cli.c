// Unit tests for src/cli: the option table, its parser, and that the man page documents it.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "helpers.h"

// The roff form of "--long-name": every '-' written as "\-".
static void roff_name(const char *name, char *out, size_t n)
{
    size_t k = 0;
    const char *pre = "\\-\\-";
    for (const char *p = pre; *p && k + 1 < n; p++)
        out[k++] = *p;
    for (const char *p = name; *p && k + 2 < n; p++) {
        if (*p == '-')
            out[k++] = '\\';
        out[k++] = *p;
    }
    out[k] = '\0';
}

Test(cli, every_option_in_the_table_is_in_the_man_page)
{
    char path[4096];
    FILE *fp = fopen(sk_test_src("man/saker.1", path, sizeof path), "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    static char man[1 << 20];
    size_t n = fread(man, 1, sizeof man - 1, fp);
    man[n] = '\0';
    fclose(fp);
    for (size_t i = 0; i < sk_opt_count; i++) {
        char want[128];
        roff_name(sk_opt_table[i].long_name, want, sizeof want);
        cr_expect_not_null(strstr(man, want), "man/saker.1 does not document --%s",
                           sk_opt_table[i].long_name);
        if (sk_opt_table[i].short_name) {
            char s[8];
            snprintf(s, sizeof s, "\\-%c", sk_opt_table[i].short_name);
            cr_expect_not_null(strstr(man, s), "man/saker.1 does not document -%c",
                               sk_opt_table[i].short_name);
        }
    }
}

typedef struct seen {
    char log[512];
} seen;

static const char *record(void *ctx, sk_opt_id id, const char *v)
{
    seen *s = ctx;
    size_t k = strlen(s->log);
    snprintf(s->log + k, sizeof s->log - k, "%d=%s;", (int)id, v ? v : "-");
    if (id == OPT_MIN_LEVEL && v && strcmp(v, "bogus") == 0)
        return "unknown level";
    return NULL;
}

Test(cli, parser_handles_long_short_grouped_and_operands)
{
    char *argv[] = { "saker", "hunt", "-qr", "rules", "--output=x.json", "a.evtx", "--stats",
                     "--", "--not-an-option", "-" };
    int argc = sizeof argv / sizeof *argv;
    seen s = { "" };
    const char **ops;
    size_t nops;
    int rc = sk_opt_parse(argc, argv, 2, SK_CMD_HUNT, "hunt", record, &s, &ops, &nops);
    cr_assert_eq(rc, 0);
    char want[256];
    snprintf(want, sizeof want, "%d=-;%d=rules;%d=x.json;%d=-;", OPT_QUIET, OPT_RULES, OPT_OUTPUT,
             OPT_STATS);
    cr_assert_str_eq(s.log, want);
    cr_assert_eq(nops, 3);
    cr_assert_str_eq(ops[0], "a.evtx");
    cr_assert_str_eq(ops[1], "--not-an-option");
    cr_assert_str_eq(ops[2], "-");
    free(ops);
}

Test(cli, parser_rejects_unknown_and_misused_options, .init = cr_redirect_stderr)
{
    seen s = { "" };
    const char **ops;
    size_t nops;
    char *a1[] = { "saker", "dump", "--stat" };
    cr_assert_eq(sk_opt_parse(3, a1, 2, SK_CMD_DUMP, "dump", record, &s, &ops, &nops), 2);
    free(ops);
    char *a2[] = { "saker", "dump", "--output" };
    cr_assert_eq(sk_opt_parse(3, a2, 2, SK_CMD_DUMP, "dump", record, &s, &ops, &nops), 2);
    free(ops);
    char *a3[] = { "saker", "dump", "--stats=yes" };
    cr_assert_eq(sk_opt_parse(3, a3, 2, SK_CMD_DUMP, "dump", record, &s, &ops, &nops), 2);
    free(ops);
    char *a4[] = { "saker", "hunt", "--min-level", "bogus" };
    cr_assert_eq(sk_opt_parse(4, a4, 2, SK_CMD_HUNT, "hunt", record, &s, &ops, &nops), 2);
    free(ops);
    char *a5[] = { "saker", "dump", "-o", "a", "-o", "b" };
    cr_assert_eq(sk_opt_parse(6, a5, 2, SK_CMD_DUMP, "dump", record, &s, &ops, &nops), 2);
    free(ops);
    char *a6[] = { "saker", "dump", "--min-level", "high" }; // a hunt option, not dump's
    cr_assert_eq(sk_opt_parse(4, a6, 2, SK_CMD_DUMP, "dump", record, &s, &ops, &nops), 2);
    free(ops);
    fflush(stderr);
    cr_assert_stderr_eq_str(
            "saker dump: unknown option '--stat'; did you mean '--stats'? (see 'saker dump "
            "--help')\n"
            "saker dump: option '--output' needs a value (FILE)\n"
            "saker dump: option '--stats' takes no value\n"
            "saker hunt: --min-level: unknown level\n"
            "saker dump: option '-o' given more than once\n"
            "saker dump: unknown option '--min-level' (see 'saker dump --help')\n");
}

// Descriptors 0 and 2 closed by the caller (`<&- 2>&-`) are taken before saker opens anything, so
// that a file it opens later never gets their numbers ('-' would read an input file, warnings
// would go into the -o file), and reading stdin or writing stderr still fails as when closed.
Test(cli, closed_standard_descriptors_are_reserved, .init = cr_redirect_stdout)
{
    int in = dup(STDIN_FILENO), err = dup(STDERR_FILENO);
    cr_assert(in >= 0 && err >= 0);
    close(STDIN_FILENO);
    close(STDERR_FILENO);
    char *argv[] = { "saker", "--version", NULL };
    int rc = sk_cli_main(2, argv);
    int fd = open("/dev/null", O_RDONLY);
    char c;
    errno = 0;
    ssize_t r = read(STDIN_FILENO, &c, 1);
    int read_errno = errno;
    errno = 0;
    ssize_t w = write(STDERR_FILENO, "x", 1);
    int write_errno = errno;
    // Restored before any assertion, so that Criterion can report a failure.
    dup2(in, STDIN_FILENO);
    dup2(err, STDERR_FILENO);
    close(in);
    close(err);
    if (fd >= 0)
        close(fd);
    cr_assert_eq(rc, 0);
    cr_assert_geq(fd, 3, "a file opened after sk_cli_main got descriptor %d", fd);
    cr_assert(r == -1 && read_errno == EBADF, "read(0): %zd, %s", r, strerror(read_errno));
    cr_assert(w == -1 && write_errno == EBADF, "write(2): %zd, %s", w, strerror(write_errno));
}
