// The fast YAML reader (src/rules/yaml_fast.c) against libyaml: on every rule file of the project
// and of the corpus (SigmaHQ, all folders: 3,770 of its 3,778 files take the fast path), and on
// hand-made documents, a file the fast reader
// accepts must give the very tree libyaml gives (node types, scalar kinds and texts, lines and
// columns, documents and their positions). It must also accept most SigmaHQ files, or loading is
// slow again without any test noticing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dirent.h>

#include "core/mem.h"
#include "helpers.h"
#include "rules/rules_int.h"

static void same_node(const yn *a, const yn *b, const char *where)
{
    cr_assert_eq(a == NULL, b == NULL, "%s: node presence", where);
    if (!a)
        return;
    cr_assert_eq(a->type, b->type, "%s:%lu:%lu: type", where, b->line, b->col);
    cr_assert_eq(a->line, b->line, "%s: line %lu, libyaml %lu", where, a->line, b->line);
    cr_assert_eq(a->col, b->col, "%s:%lu: column %lu, libyaml %lu", where, b->line, a->col, b->col);
    cr_assert_eq(a->n, b->n, "%s:%lu:%lu: size", where, b->line, b->col);
    if (a->type == YN_SCALAR) {
        cr_assert_eq(a->kind, b->kind, "%s:%lu:%lu: kind", where, b->line, b->col);
        cr_assert_eq(a->plain, b->plain, "%s:%lu:%lu: style", where, b->line, b->col);
        cr_assert_eq(a->bval, b->bval, "%s:%lu:%lu: bool", where, b->line, b->col);
        cr_assert_eq(a->len,
                     b->len,
                     "%s:%lu:%lu: length %zu, libyaml %zu ('%s' / '%s')",
                     where,
                     b->line,
                     b->col,
                     a->len,
                     b->len,
                     a->s,
                     b->s);
        cr_assert(memcmp(a->s, b->s, a->len) == 0,
                  "%s:%lu:%lu: text '%s', libyaml '%s'",
                  where,
                  b->line,
                  b->col,
                  a->s,
                  b->s);
        return;
    }
    size_t kids = a->type == YN_MAP ? 2 * a->n : a->n;
    for (size_t i = 0; i < kids; i++)
        same_node(a->kids[i], b->kids[i], where);
}

// Parses data both ways; returns whether the fast reader accepted it (and then matched).
static bool check(const char *data, size_t n, const char *where)
{
    yfile fast, lib;
    yfile_init(&fast);
    yfile_init(&lib);
    bool ok = yfile_parse_fast(&fast, data, n);
    if (ok) {
        yfile_parse_libyaml(&lib, data, n);
        cr_assert_eq(fast.ndocs, lib.ndocs, "%s: documents", where);
        for (size_t d = 0; d < lib.ndocs; d++) {
            cr_assert_null(lib.docs[d].err_code,
                           "%s: libyaml refuses what the fast reader read: %s",
                           where,
                           lib.docs[d].err_msg);
            cr_assert_eq(fast.docs[d].line, lib.docs[d].line, "%s: document %zu line", where, d);
            cr_assert_eq(fast.docs[d].col, lib.docs[d].col, "%s: document %zu column", where, d);
            same_node(fast.docs[d].root, lib.docs[d].root, where);
        }
    } else {
        cr_assert_eq(fast.ndocs, 0, "%s: documents kept after giving up", where);
    }
    yfile_fini(&fast);
    yfile_fini(&lib);
    return ok;
}

// Rule files under dir; rule test files (*.tests.yml, written in flow style) are only counted.
static void walk(const char *dir, size_t *files, size_t *fast, size_t *tests)
{
    char **paths = NULL;
    size_t np = 0, cap = 0;
    sk_test_list_files(dir, 10, NULL, &paths, &np, &cap);
    for (size_t i = 0; i < np; i++) {
        const char *path = paths[i];
        if (sk_test_has_suffix(path, ".tests.yml")) {
            (*tests)++;
        } else if (sk_test_has_suffix(path, ".yml") || sk_test_has_suffix(path, ".yaml")) {
            FILE *fp = fopen(path, "rb");
            cr_assert_not_null(fp, "%s", path);
            char *buf = sk_xmalloc(1u << 20);
            size_t n = fread(buf, 1, (1u << 20) - 1, fp);
            fclose(fp);
            (*files)++;
            *fast += check(buf, n, path);
            free(buf);
        }
    }
    sk_test_free_files(paths, np);
}

Test(yaml_fast, project_rules)
{
    size_t files = 0, fast = 0, tests = 0;
    walk(SK_TEST_SRCDIR "/rules", &files, &fast, &tests);
    cr_assert_gt(files, 30);
    cr_assert_gt(tests, 30);
    cr_assert_gt(fast * 100,
                 files * 90,
                 "only %zu of %zu built-in rules took the fast path",
                 fast,
                 files);
}

Test(yaml_fast, sigmahq_rules)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/sigma-rules", sk_test_corpus());
    DIR *dp = opendir(dir);
    if (!dp)
        cr_skip_test("%s is absent (no ../shared/corpus): SigmaHQ differential skipped", dir);
    closedir(dp);
    size_t files = 0, fast = 0, tests = 0;
    walk(dir, &files, &fast, &tests);
    cr_assert_gt(files, 3000);
    fprintf(stderr, "yaml_fast: SigmaHQ: %zu of %zu files read by the fast reader\n", fast, files);
    cr_assert_gt(fast * 100,
                 files * 90,
                 "only %zu of %zu SigmaHQ files took the fast path",
                 fast,
                 files);
}

// Hand-made documents: accepted ones must equal libyaml's trees; the others must be left to it.
static const struct {
    const char *doc;
    bool fast;
} DOCS[] = {
    { "title: t\nlogsource:\n    product: windows\ndetection:\n    sel:\n        A|contains:\n"
      "            - 'x'\n            - \"y\\\\z\"\n            - plain value\n    condition: "
      "sel\n",
      true },
    { "a:\n- 1\n- -2\n- 3.5\n- true\n- null\n- ~\n- 'null'\nb: c # comment\n", true },
    { "# lead\n\n---\na: 1\n---\nb: 2\n", true },
    { "a: 1\n---\nb: 2\n", true },
    { "list:\n    - k: v\n      k2: v2\n    - k: w\n", true },
    { "d: |\n    line one\n      indented\n\n    last\nnext: x\n", true },
    { "d: |-\n    one\n    two\n", true },
    { "d: >\n    folded\n    text\n\n    para\ne: f\n", true },
    { "d: >-\n    a\n    b\n", true },
    { "d: |\n    no newline at end", true },
    { "\"quoted key\": 'it''s'\n'k2': \"\\u00e9\\t\\x41\"\n", true },
    { "caf\xc3\xa9: \"\xe2\x82\xac\"\nx: 'caf\xc3\xa9': \n", false },
    { "k: \xc3\xa9 \xc3\xa9\nl: m\n", true },
    // Bytes libyaml reads otherwise (or refuses), deep in long lines: the reader checks sixteen
    // bytes at a time, and each one must still send the file to libyaml.
    { "description: a long plain value, then a tab:\tthere\n", false },
    { "description: a long plain value, then a DEL: \x7f\n", false },
    { "description: a long plain value, then a control \x01 byte\n", false },
    { "description: a long plain value, then a C1 control \xc2\x85 x\n", false },
    { "description: a long plain value, then a BOM \xef\xbb\xbf x\n", false },
    { "description: a long plain value, then a carriage return\r\n", false },
    { "description: a long plain value of thirty-two bytes and more\n", true },
    { "a: [1, 2]\n", false },
    { "a: {b: 1}\n", false },
    { "a: &x 1\nb: *x\n", false },
    { "a: !!str 1\n", false },
    { "%YAML 1.2\n---\na: 1\n", false },
    { "a:\n", false },
    { "a: b\n  c\n", true },
    { "a: one\n  two\n\n  three\nb:\n  - x y\n    z\n  - w\nc: d\n", true },
    { "a: one\n  # comment\n  two\n", false },
    { "a: one\n  two # comment\n", true },
    { "a: one\n  two: three\n", false },
    { "a: one # comment\n  two\n", false },
    { "a: one\n  two # comment\n  three\n", false },
    { "a: 'b\n  c'\n", false },
    { "a:\tb\n", false },
    { "a: b\r\n", false },
    { "a: b: c\n", false },
    { "a: |+\n  x\n\n", false },
    { "a: |2\n  x\n", false },
    { "a: \"\\q\"\n", false },
    { "- a\n- b\n", true },
    { "plain scalar\n", false },
    { "a: 1\n...\n", false },
    { "", false },
    { "\xef\xbb\xbf"
      "a: 1\n",
      false },
    { "a: 1\n b: 2\n", false },
    { "a:\n  - x\n   - y\n", false },
    { "k: v\n- x\n", false },
    { "a:\n  b:\n    c:\n      d: 1\n  e: 2\nf: 3\n", true },
    { "a: http://x.y/z?q=1#frag\nb: C:\\Windows\\x.exe\nc: 50%\n", true },
    { "a: x #c\nb: 'q' #c\nc: -enc\n", true },
};

// Implicit keys of 1024 characters and more (found by fuzz_yaml_fast: libyaml refuses a key whose
// ':' is more than 1024 characters after its start, and the fast reader read it).
Test(yaml_fast, long_keys_go_to_libyaml)
{
    static const char *const forms[] = { "%s: v\n", "'%s': v\n", "\"%s\": v\n", "- %s: v\n" };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        for (size_t len = 1020; len <= 1030; len++) {
            char key[1100], doc[1200], where[64];
            memset(key, 'k', len);
            key[len] = '\0';
            snprintf(doc, sizeof doc, forms[f], key);
            snprintf(where, sizeof where, "form %zu, key of %zu", f, len);
            bool quoted = f == 1 || f == 2;
            // the distance from the key's first character to its ':'
            size_t span = len + (quoted ? 2 : 0);
            bool got = check(doc, strlen(doc), where);
            if (span > 1024)
                cr_expect(!got, "%s: the fast reader read it", where);
            else
                cr_expect(got, "%s: the fast reader left it", where);
        }
    }
    SK_ASSERT_NO_LEAKS();
}

Test(yaml_fast, hand_made_documents)
{
    for (size_t i = 0; i < sizeof DOCS / sizeof DOCS[0]; i++) {
        char where[32];
        snprintf(where, sizeof where, "document %zu", i);
        bool got = check(DOCS[i].doc, strlen(DOCS[i].doc), where);
        cr_expect_eq(got, DOCS[i].fast, "%s: fast reader %s it", where, got ? "read" : "left");
    }
    SK_ASSERT_NO_LEAKS();
}

// Plain scalar resolution (yn_resolve_plain, shared by both readers): the core schema's nulls,
// booleans and numbers in their spellings, and near misses that stay strings.
Test(yaml_fast, plain_scalar_types)
{
    static const struct {
        const char *s;
        yn_kind kind;
        bool bval;
    } cases[] = {
        { "", YK_NULL, false },           { "~", YK_NULL, false },     { "null", YK_NULL, false },
        { "Null", YK_NULL, false },       { "NULL", YK_NULL, false },  { "nULL", YK_STR, false },
        { "nul", YK_STR, false },         { "nulls", YK_STR, false },  { "~~", YK_STR, false },
        { "true", YK_BOOL, true },        { "True", YK_BOOL, true },   { "TRUE", YK_BOOL, true },
        { "tRUE", YK_STR, false },        { "false", YK_BOOL, false }, { "False", YK_BOOL, false },
        { "FALSE", YK_BOOL, false },      { "fALSE", YK_STR, false },  { "falsey", YK_STR, false },
        { "yes", YK_STR, false },         { "12", YK_INT, false },     { "-7", YK_INT, false },
        { "+0012", YK_INT, false },       { "1.5", YK_FLOAT, false },  { "-.5", YK_FLOAT, false },
        { "1.2.3", YK_STR, false },       { "-", YK_STR, false },      { "4624x", YK_STR, false },
        { "12345678901", YK_INT, false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        yn n = { .type = YN_SCALAR, .kind = YK_STR, .plain = true };
        n.s = cases[i].s;
        n.len = strlen(cases[i].s);
        yn_resolve_plain(&n);
        cr_expect_eq(n.kind, cases[i].kind, "'%s': kind %d", cases[i].s, (int)n.kind);
        cr_expect_eq(n.bval, cases[i].bval, "'%s': boolean", cases[i].s);
    }
}
