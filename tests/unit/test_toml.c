// The TOML reader (src/rules/toml.c): values, tables, arrays of tables, dotted keys, strings and
// their escapes, numbers, dates; strictness (every invalid document is an error located at its
// line and column); bounds; and the located toml-syntax skip through the rule loader.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "core/buf.h"
#include "helpers.h"
#include "rules/ruleset.h"
#include "rules/toml_int.h"

static tv *parse_ok(toml_doc *d, const char *text)
{
    toml_err err;
    toml_doc_init(d);
    bool ok = toml_parse(d, text, strlen(text), &err);
    cr_assert(ok, "parse failed at %lu:%lu: %s\n--\n%s", err.line, err.col, err.msg, text);
    return d->root;
}

Test(toml, scalars)
{
    toml_doc d;
    tv *r = parse_ok(&d,
                     "# comment\n"
                     "s = \"a\\tb\\\"c\\\\d\\u00e9\\U0001F600\" # trailing\n"
                     "lit = 'C:\\Windows\\x'\n"
                     "i = -1_000\n"
                     "h = 0xdead_BEEF\n"
                     "o = 0o17\n"
                     "b = 0b101\n"
                     "f = 6.02e+23\n"
                     "g = -0.5\n"
                     "inf1 = -inf\n"
                     "t = true\n"
                     "u = false\n"
                     "dt = 1979-05-27T07:32:00.999-07:00\n"
                     "ld = 2020-08-19\n"
                     "lt = 07:32:00\n"
                     "sp = 1979-05-27 07:32:00Z\n"
                     "\"quoted key\" = 1\n"
                     "'lit key' = 2\n"
                     "bare-key_1 = 3\n");
    cr_expect_str_eq(toml_get(&d, r, "s")->s, "a\tb\"c\\d\xc3\xa9\xf0\x9f\x98\x80");
    cr_expect(!toml_get(&d, r, "s")->literal);
    cr_expect_str_eq(toml_get(&d, r, "lit")->s, "C:\\Windows\\x");
    cr_expect(toml_get(&d, r, "lit")->literal);
    cr_expect_eq(toml_get(&d, r, "i")->i, -1000);
    cr_expect_eq(toml_get(&d, r, "h")->i, 0xdeadbeefLL);
    cr_expect_eq(toml_get(&d, r, "o")->i, 15);
    cr_expect_eq(toml_get(&d, r, "b")->i, 5);
    cr_expect_eq(toml_get(&d, r, "f")->type, TV_FLOAT);
    cr_expect_float_eq(toml_get(&d, r, "f")->d, 6.02e23, 1e10);
    cr_expect_float_eq(toml_get(&d, r, "g")->d, -0.5, 1e-12);
    cr_expect(toml_get(&d, r, "inf1")->d < -1e308);
    cr_expect(toml_get(&d, r, "t")->b);
    cr_expect(!toml_get(&d, r, "u")->b);
    cr_expect_eq(toml_get(&d, r, "dt")->type, TV_DATETIME);
    cr_expect_str_eq(toml_get(&d, r, "dt")->s, "1979-05-27T07:32:00.999-07:00");
    cr_expect_str_eq(toml_get(&d, r, "ld")->s, "2020-08-19");
    cr_expect_str_eq(toml_get(&d, r, "lt")->s, "07:32:00");
    cr_expect_str_eq(toml_get(&d, r, "sp")->s, "1979-05-27 07:32:00Z");
    cr_expect_eq(toml_get(&d, r, "quoted key")->i, 1);
    cr_expect_eq(toml_get(&d, r, "lit key")->i, 2);
    cr_expect_eq(toml_get(&d, r, "bare-key_1")->i, 3);
    cr_expect_eq(toml_get(&d, r, "i")->line, 4);
    cr_expect_eq(toml_get(&d, r, "i")->col, 5);
    toml_doc_fini(&d);
}

Test(toml, multiline_strings)
{
    toml_doc d;
    tv *r = parse_ok(&d,
                     "a = \"\"\"\nline1\nline2 \\\n    joined\"\"\"\n"
                     "b = '''\nraw \\n \"\"quotes\"\" ''\n'''\n"
                     "c = \"\"\"x\"\"\"\"\n"
                     "d = '''a'''''\n"
                     "e = \"\"\"\"\"\"\n");
    cr_expect_str_eq(toml_get(&d, r, "a")->s, "line1\nline2 joined");
    cr_expect_str_eq(toml_get(&d, r, "b")->s, "raw \\n \"\"quotes\"\" ''\n");
    cr_expect(toml_get(&d, r, "b")->literal);
    cr_expect_str_eq(toml_get(&d, r, "c")->s, "x\"");
    cr_expect_str_eq(toml_get(&d, r, "d")->s, "a''");
    cr_expect_str_eq(toml_get(&d, r, "e")->s, "");
    // Offsets inside literal strings map back to the file.
    const tv *b = toml_get(&d, r, "b");
    unsigned long line, col;
    const char *text = "a = \"\"\"\nline1\nline2 \\\n    joined\"\"\"\n"
                       "b = '''\nraw \\n \"\"quotes\"\" ''\n'''\n";
    toml_locate(text, strlen(text), b, 4, &line, &col);
    cr_expect_eq(line, 6);
    cr_expect_eq(col, 5);
    toml_doc_fini(&d);
}

Test(toml, offsets_in_strings_with_escapes_map_back_to_the_file)
{
    // An EQL error at a byte of the decoded query must point at that byte in the file, past the
    // escapes before it (each \" or \\ is two source bytes for one), and past a line-ending
    // backslash of a multi-line string.
    const char *text = "q = \"x : \\\"a\\\\b\\\" | head\"\n"
                       "m = \"\"\"one \\\n    two | three\"\"\"\n";
    toml_doc d;
    tv *r = parse_ok(&d, text);
    const tv *q = toml_get(&d, r, "q"), *m = toml_get(&d, r, "m");
    cr_assert_str_eq(q->s, "x : \"a\\b\" | head");
    cr_assert_str_eq(m->s, "one two | three");
    unsigned long line, col;
    toml_locate(text, strlen(text), q, (size_t)(strchr(q->s, '|') - q->s), &line, &col);
    cr_expect_eq(line, 1);
    cr_expect_eq(col, 19, "col %lu", col); // the '|' of line 1 is character 19
    toml_locate(text, strlen(text), m, (size_t)(strchr(m->s, '|') - m->s), &line, &col);
    cr_expect_eq(line, 3);
    cr_expect_eq(col, 9, "col %lu", col);
    toml_locate(text, strlen(text), q, 0, &line, &col);
    cr_expect_eq(col, 6);
    toml_doc_fini(&d);
}

Test(toml, tables_arrays_dotted_keys)
{
    toml_doc d;
    tv *r = parse_ok(&d,
                     "top.a.b = 1\n"
                     "top.a.c = 2\n"
                     "[rule]\n"
                     "name = \"x\"\n"
                     "tags = [\n  \"a\", # one\n  \"b\",\n]\n"
                     "nested = [[1, 2], [\"x\"], []]\n"
                     "inline = { k = 1, d.e = \"v\" }\n"
                     "[[rule.threat]]\n"
                     "framework = \"MITRE\"\n"
                     "[[rule.threat.technique]]\n"
                     "id = \"T1\"\n"
                     "[[rule.threat.technique]]\n"
                     "id = \"T2\"\n"
                     "[rule.threat.tactic]\n"
                     "name = \"Execution\"\n"
                     "[[rule.threat]]\n"
                     "framework = \"MITRE2\"\n"
                     "[a.b.c]\n"
                     "x = 1\n"
                     "[a]\n"
                     "y = 2\n"
                     "[ spaced . 'key' ]\n"
                     "z = 3\n");
    cr_expect_eq(toml_path(&d, r, "top.a.b")->i, 1);
    cr_expect_eq(toml_path(&d, r, "top.a.c")->i, 2);
    tv *tags = toml_path(&d, r, "rule.tags");
    cr_assert_eq(tags->type, TV_ARRAY);
    cr_expect_eq(tags->n, 2);
    cr_expect_str_eq(tags->items[1]->s, "b");
    tv *nested = toml_path(&d, r, "rule.nested");
    cr_expect_eq(nested->n, 3);
    cr_expect_eq(nested->items[0]->items[1]->i, 2);
    cr_expect_eq(nested->items[2]->n, 0);
    cr_expect_str_eq(toml_path(&d, r, "rule.inline.d.e")->s, "v");
    tv *threat = toml_path(&d, r, "rule.threat");
    cr_assert_eq(threat->type, TV_ARRAY);
    cr_assert_eq(threat->n, 2);
    tv *tech = toml_get(&d, threat->items[0], "technique");
    cr_assert_eq(tech->n, 2);
    cr_expect_str_eq(toml_get(&d, tech->items[1], "id")->s, "T2");
    cr_expect_str_eq(toml_path(&d, threat->items[0], "tactic.name")->s, "Execution");
    cr_expect_str_eq(toml_get(&d, threat->items[1], "framework")->s, "MITRE2");
    cr_expect_eq(toml_path(&d, r, "a.b.c.x")->i, 1);
    cr_expect_eq(toml_path(&d, r, "a.y")->i, 2);
    cr_expect_eq(toml_path(&d, r, "spaced.key.z")->i, 3);
    cr_expect_eq(toml_get(&d, r, "rule")->line, 3);
    cr_expect_null(toml_path(&d, r, "rule.nope"));
    cr_expect_null(toml_path(&d, r, "rule.name.deeper"));
    toml_doc_fini(&d);
}

typedef struct bad_doc {
    char text[200];
    char msg[120];
    unsigned long line, col;
} bad_doc;

ParameterizedTestParameters(toml, invalid_documents)
{
    static bad_doc docs[] = {
        { "a = 1\na = 2\n", "duplicate key 'a'", 2, 1 },
        { "[t]\nx = 1\n[t]\n", "table 't' is already defined", 3, 2 },
        { "a.b = 1\n[a]\n", "table 'a' is already defined", 2, 2 },
        { "[a]\nb.c = 1\n[a.b]\n", "table 'b' is already defined", 3, 4 },
        { "a = 1\na.b = 2\n", "cannot add keys to 'a': it is already defined", 2, 1 },
        { "a = {x = 1}\n[a]\n", "table 'a' is already defined", 2, 2 },
        { "a = {x = 1}\na.y = 2\n", "cannot add keys to 'a': it is already defined", 2, 1 },
        { "a = [1]\n[[a]]\n", "cannot append to 'a': it is already defined as a array", 2, 3 },
        { "[[a]]\n[a]\n", "table 'a' is already defined", 2, 2 },
        { "a = \"x\\q\"\n", "invalid escape sequence '\\q'", 1, 7 },
        { "a = \"\\uD800\"\n", "\\u escape U+D800 is not a Unicode scalar value", 1, 6 },
        { "a = \"abc\n", "unterminated string (newline in a single-line string)", 1, 9 },
        { "a = '''abc", "unterminated string", 1, 5 },
        { "a = 01\n", "leading zeros are not allowed in numbers", 1, 5 },
        { "a = 1__0\n", "an underscore in a number must be between digits", 1, 6 },
        { "a = +0x10\n", "a sign is not allowed on hexadecimal, octal or binary integers", 1, 5 },
        { "a = 1.\n", "expected a digit in a float", 1, 7 },
        { "a = 99999999999999999999\n", "integer out of range", 1, 5 },
        { "a = bare\n", "invalid value (strings need quotes)", 1, 5 },
        { "a = truex\n", "invalid character 'x' after a value", 1, 9 },
        { "a = 1 b = 2\n", "expected the end of the line after a value or table header", 1, 7 },
        { "a = [1 2]\n", "expected ',' or ']' in an array", 1, 8 },
        { "a = [1,\n", "expected a value", 2, 1 },
        { "a = {x = 1,}\n", "trailing comma in an inline table", 1, 12 },
        { "a = {x = 1\n}\n", "newlines are not allowed in inline tables", 1, 11 },
        { "a =\n", "expected a value", 1, 4 },
        { "= 1\n", "invalid character '=' in a key (quote the key)", 1, 1 },
        { "a b = 1\n", "expected '=' after a key", 1, 3 },
        { "[a\n", "expected ']' to close a table header", 1, 3 },
        { "[[a]\n", "expected ']]' to close an array-of-tables header", 1, 4 },
        { "a = \"x\ty\x01\"\n", "control character U+0001 in a string", 1, 9 },
        { "# c\x7f\n", "control character U+007F in a comment", 1, 4 },
        { "a = \"\xff\"\n", "invalid UTF-8", 1, 6 },
        { "a = 1979-13-01\n", "invalid date", 1, 5 },
        { "a = 25:00:00\n", "invalid time", 1, 5 },
        { "a = 1\r\n\rb = 2\n", "carriage return not followed by a newline", 2, 1 },
        { "\"a\nb\" = 1\n", "unterminated string (newline in a single-line string)", 1, 3 },
    };
    return cr_make_param_array(bad_doc, docs, sizeof docs / sizeof docs[0]);
}

ParameterizedTest(bad_doc *b, toml, invalid_documents)
{
    toml_doc d;
    toml_err err;
    toml_doc_init(&d);
    bool ok = toml_parse(&d, b->text, strlen(b->text), &err);
    cr_expect(!ok, "parsed: %s", b->text);
    cr_expect_null(d.root);
    cr_expect_str_eq(err.msg, b->msg, "for %s", b->text);
    cr_expect_eq(err.line, b->line, "for %s: line %lu", b->text, err.line);
    cr_expect_eq(err.col, b->col, "for %s: col %lu", b->text, err.col);
    toml_doc_fini(&d);
}

Test(toml, valid_redefinitions)
{
    // What TOML allows: defining an implicit table later, sub-tables of dotted tables, arrays of
    // tables extended by sub-headers, empty documents, a BOM, CRLF line ends.
    const char *ok[] = {
        "[a.b.c]\n[a]\nx = 1\n",
        "[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true\n",
        "[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2\n",
        "",
        "\xEF\xBB\xBF# bom\r\na = 1\r\n",
        "a = [ ]\nb = { }\n",
        "a = [\n  # only a comment\n]\n",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        toml_doc d;
        tv *r = parse_ok(&d, ok[i]);
        cr_expect_not_null(r);
        toml_doc_fini(&d);
    }
}

Test(toml, nesting_is_bounded)
{
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_buf_puts(&b, "a = ");
    for (int i = 0; i < 500; i++)
        sk_buf_putc(&b, '[');
    for (int i = 0; i < 500; i++)
        sk_buf_putc(&b, ']');
    toml_doc d;
    toml_err err;
    toml_doc_init(&d);
    cr_expect(!toml_parse(&d, sk_buf_str(&b), b.n, &err));
    cr_expect(strstr(err.msg, "nested deeper than"), "%s", err.msg);
    toml_doc_fini(&d);
    // Many keys in one table stay fast (hashed lookups).
    sk_buf_reset(&b);
    for (int i = 0; i < 50000; i++)
        sk_buf_printf(&b, "k%d = %d\n", i, i);
    toml_doc_init(&d);
    cr_expect(toml_parse(&d, sk_buf_str(&b), b.n, &err), "%s", err.msg);
    cr_expect_eq(toml_get(&d, d.root, "k49999")->i, 49999);
    toml_doc_fini(&d);
    // A dotted key with too many parts.
    sk_buf_reset(&b);
    for (int i = 0; i < 100; i++)
        sk_buf_puts(&b, "a.");
    sk_buf_puts(&b, "z = 1\n");
    toml_doc_init(&d);
    cr_expect(!toml_parse(&d, sk_buf_str(&b), b.n, &err));
    cr_expect(strstr(err.msg, "dotted key has more than"), "%s", err.msg);
    toml_doc_fini(&d);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

static void collect(void *ctx, const sk_diag *dg)
{
    sk_diag_render(dg, (sk_buf *)ctx);
}

Test(toml, syntax_errors_are_located_rule_skips)
{
    const char *text = "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"R\"\n"
                       "tags = [\"a\" \"b\"]\n";
    sk_buf out;
    sk_buf_init(&out, 1u << 16);
    sk_diags dl;
    sk_diags_init(&dl, collect, &out);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "rules/x.toml", text, strlen(text), &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_expect_eq(sk_ruleset_count(rs), 0);
    cr_assert_eq(sk_ruleset_report_count(rs), 1);
    const sk_load_entry *e = sk_ruleset_report_at(rs, 0);
    cr_expect_str_eq(e->code, "toml-syntax");
    cr_expect_eq(e->line, 6);
    cr_expect_eq(e->col, 13);
    cr_expect_str_eq(sk_buf_str(&out),
                     "rules/x.toml:6:13: error: expected ',' or ']' in an array\n"
                     "    tags = [\"a\" \"b\"]\n"
                     "                ^\n");
    sk_ruleset_free(rs);
    sk_buf_fini(&out);
    SK_ASSERT_NO_LEAKS();
}

Test(toml, elastic_rule_files_parse)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; Elastic's rule files cannot be read");
    char path[4096];
    snprintf(path,
             sizeof path,
             "%s/elastic-rules/rules/windows/"
             "defense_evasion_system_critical_proc_abnormal_file_activity.toml",
             corpus);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    toml_doc d;
    toml_err err;
    toml_doc_init(&d);
    cr_assert(toml_parse(&d, buf, n, &err), "%lu:%lu: %s", err.line, err.col, err.msg);
    cr_expect_str_eq(toml_path(&d, d.root, "rule.language")->s, "eql");
    cr_expect_str_eq(toml_path(&d, d.root, "metadata.maturity")->s, "production");
    tv *inv = toml_path(&d, d.root, "transform.investigate");
    cr_assert_not_null(inv);
    cr_expect_eq(inv->n, 6);
    tv *prov = toml_get(&d, inv->items[0], "providers");
    cr_expect_eq(prov->items[0]->items[0]->type, TV_TABLE);
    cr_expect_eq(toml_path(&d, d.root, "rule.threat")->n, 3);
    toml_doc_fini(&d);
}
