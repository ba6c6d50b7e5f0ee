// Unit tests for src/cli: the option table, its parser, and that the man page documents it.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
