// Condition parser: precedence, quantifiers, keywords, nesting limits and located errors, observed
// through the public API (the parsed tree is printed by sk_rule_explain's "condition:" line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "helpers.h"
#include "rules/ruleset.h"

static const char rule_head[] = "title: cond test\n"
                                "logsource:\n"
                                "  product: windows\n"
                                "  category: process_creation\n"
                                "detection:\n"
                                "  a:\n    CommandLine|contains: 'a'\n"
                                "  b:\n    CommandLine|contains: 'b'\n"
                                "  c:\n    CommandLine|contains: 'c'\n"
                                "  d:\n    CommandLine|contains: 'd'\n"
                                "  sel1:\n    Image|endswith: '1'\n"
                                "  sel2:\n    Image|endswith: '2'\n"
                                "  _x:\n    Image|endswith: 'x'\n"
                                "  all:\n    Image|endswith: 'all'\n";

// Loads the rule with `condition: <cond>` (cond written as given, so it may be a YAML list).
// Writes the rendered condition or "error <code> <col>: <message>" into out.
static void parse(const char *cond, char *out, size_t on)
{
    sk_buf text;
    sk_buf_init(&text, 1u << 20);
    sk_status st = sk_buf_addf(&text, "%s  condition: %s\n", rule_head, cond);
    cr_assert_eq(st, SK_OK);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "c.yml", sk_buf_str(&text), text.n, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    if (sk_ruleset_count(rs) == 1) {
        sk_buf ex;
        sk_buf_init(&ex, 1u << 20);
        sk_rule_explain(sk_ruleset_rule(rs, 0), &ex);
        const char *p = strstr(sk_buf_str(&ex), "  condition: ");
        cr_assert_not_null(p);
        p += strlen("  condition: ");
        size_t n = strcspn(p, "\n");
        snprintf(out, on, "%.*s", (int)n, p);
        sk_buf_fini(&ex);
    } else {
        const sk_load_entry *e = sk_ruleset_report_at(rs, 0);
        snprintf(out, on, "error %s %lu: %s", e->code, e->col, e->message);
    }
    sk_ruleset_free(rs);
    sk_buf_fini(&text);
}

typedef struct cond_case {
    const char *cond;
    const char *want;
} cond_case;

// "condition: " starts the value at column 14 of its line.
static const cond_case cases[] = {
    { "a", "a" },
    { "a and b", "a and b" },
    { "a or b and not c", "a or (b and not c)" },
    { "(a or b) and not c", "(a or b) and not c" },
    { "a and b or c and d", "(a and b) or (c and d)" },
    { "a and b and c or d", "(a and b and c) or d" },
    { "not a and b", "not a and b" },
    { "not (a or b)", "not (a or b)" },
    { "not not a", "not not a" },
    { "((a))", "a" },
    { "a AND NOT b Or c", "(a and not b) or c" },
    { "1 of sel*", "1 of sel* {sel1, sel2}" },
    { "any of sel*", "1 of sel* {sel1, sel2}" },
    { "all of sel*", "all of sel* {sel1, sel2}" },
    { "2 of them", "2 of them {a, b, c, d, sel1, sel2, all}" },
    { "all of them", "all of them {a, b, c, d, sel1, sel2, all}" },
    { "1 of _*",
      "error missing-selection 19: '_*' matches only selections whose names start with '_', which "
      "patterns leave out" },
    { "1 of *", "1 of * {a, b, c, d, sel1, sel2, all}" }, // not _x
    { "1 of s?l1", "1 of s?l1 {sel1}" },
    { "a and not 1 of sel*", "a and not 1 of sel* {sel1, sel2}" },
    { "all", "all" },
    { "all and a", "all and a" },
    { "all of all", "all of all {all}" },
    { "[a, b]", "a or b" },
    { "[a and b, c]", "(a and b) or c" },
    // errors: code, column, message
    { "a and",
      "error bad-condition 19: expected a selection name, 'not', '(' or 'N of', found "
      "end of condition" },
    { "(a", "error bad-condition 16: expected ')', found end of condition" },
    { "a)", "error bad-condition 15: expected 'and', 'or' or end of condition, found ')'" },
    { "a b", "error bad-condition 16: expected 'and', 'or' or end of condition, found 'b'" },
    { "and a",
      "error bad-condition 14: expected a selection name, 'not', '(' or 'N of', found "
      "'and'" },
    { "nope", "error missing-selection 14: condition refers to undefined selection 'nope'" },
    { "a or 1 of zz*", "error missing-selection 24: no selection matches 'zz*' in the condition" },
    { "1 of",
      "error bad-condition 18: expected a selection name, a pattern or 'them' after 'of', "
      "found end of condition" },
    { "0 of them", "error bad-condition 14: '0 of' can never be false; use a number >= 1" },
    { "sel*", "error bad-condition 14: pattern 'sel*' needs a quantifier ('1 of' or 'all of')" },
    { "a | count() > 3",
      "error aggregation 16: aggregation expressions ('| count() ...') are not "
      "supported; use a correlation rule" },
    { "'  '", "error bad-condition 15: empty condition" },
    { "A", "error missing-selection 14: condition refers to undefined selection 'A'" },
};

Test(sigma_cond, table)
{
    char got[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parse(cases[i].cond, got, sizeof got);
        cr_expect_str_eq(got,
                         cases[i].want,
                         "condition \"%s\":\n  got:  %s\n  want: %s",
                         cases[i].cond,
                         got,
                         cases[i].want);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(sigma_cond, nesting_is_bounded)
{
    char cond[512], got[1024];
    // 64 levels are fine
    size_t n = 0;
    for (int i = 0; i < 64; i++)
        cond[n++] = '(';
    cond[n++] = 'a';
    for (int i = 0; i < 64; i++)
        cond[n++] = ')';
    cond[n] = '\0';
    parse(cond, got, sizeof got);
    cr_expect_str_eq(got, "a");
    // 65 are refused, pointing at the 65th parenthesis
    n = 0;
    for (int i = 0; i < 65; i++)
        cond[n++] = '(';
    cond[n++] = 'a';
    for (int i = 0; i < 65; i++)
        cond[n++] = ')';
    cond[n] = '\0';
    parse(cond, got, sizeof got);
    cr_expect_str_eq(got, "error bad-condition 78: condition nested too deeply");
    // a long chain of not is bounded too
    n = 0;
    for (int i = 0; i < 100; i++) {
        memcpy(cond + n, "not ", 4);
        n += 4;
    }
    cond[n++] = 'a';
    cond[n] = '\0';
    parse(cond, got, sizeof got);
    cr_expect(strncmp(got, "error bad-condition", 19) == 0, "%s", got);
}

Test(sigma_cond, long_flat_chains)
{
    // 300 operands in one or-chain (beyond the parser's small inline buffer)
    static char cond[4096];
    size_t n = 0;
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(cond + n, sizeof cond - n, "%sa", i ? " or " : "");
    char *got = malloc(8192);
    parse(cond, got, 8192);
    cr_expect(strncmp(got, "a or a or a", 11) == 0, "%.60s", got);
    free(got);
}
