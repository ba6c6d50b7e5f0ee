// Rule loader: files, folders, multi-document files, metadata, warnings, limits, the load report,
// rule selection, and sharing one ruleset between threads.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "event/event.h"
#include "helpers.h"
#include "rules/rules_int.h"
#include "rules/ruleset.h"

static sk_ruleset *load_text(const char *text, sk_test_diags *td)
{
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td->dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "rules/x.yml", text, strlen(text), &td->dl), SK_OK);
    return sk_rule_loader_finish(l);
}

static const char *const proc_rule = "title: %s\n"
                                     "logsource:\n"
                                     "  product: windows\n"
                                     "  category: process_creation\n"
                                     "detection:\n"
                                     "  sel:\n"
                                     "    Image|endswith: '%s'\n"
                                     "  condition: sel\n";

Test(sigma_load, gcc_style_diagnostic_with_caret)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: Suspicious X\n"
                               "id: 11111111-2222-3333-4444-555555555555\n"
                               "logsource:\n"
                               "    product: windows\n"
                               "    category: process_creation\n"
                               "detection:\n"
                               "    selection:\n"
                               "        CommandLine|containz: 'x'\n"
                               "    condition: selection\n",
                               &td);
    cr_expect_str_eq(td.text,
                     "rules/x.yml:8:21: error: unknown modifier 'containz' in "
                     "'CommandLine|containz' (rule \"Suspicious X\")\n"
                     "            CommandLine|containz: 'x'\n"
                     "                        ^\n");
    cr_expect_eq(td.dl.errors, 1);
    cr_expect_eq(sk_ruleset_count(rs), 0);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    const sk_load_entry *e = sk_ruleset_report_at(rs, 0);
    cr_assert_not_null(e);
    cr_expect_str_eq(e->file, "rules/x.yml");
    cr_expect_str_eq(e->title, "Suspicious X");
    cr_expect_str_eq(e->id, "11111111-2222-3333-4444-555555555555");
    cr_expect(!e->loaded);
    cr_expect_str_eq(e->code, "unknown-modifier");
    cr_expect_eq(e->line, 8);
    cr_expect_eq(e->col, 21); // the modifier
    sk_ruleset_free(rs);
}

Test(sigma_load, a_bad_byte_is_located_and_shown_escaped)
{
    // libyaml reports invalid UTF-8 by byte offset only: the error is at the byte's line and
    // character column (the 'é' before it is one), and the quoted line shows it escaped.
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: t\n"
                               "logsource:\n"
                               "    category: process_creation\n"
                               "detection:\n"
                               "    sel:\n"
                               "        CommandLine: '\xC3\xA9\xFF\x1b[2J'\n"
                               "    condition: sel\n",
                               &td);
    cr_expect_str_eq(td.text,
                     "rules/x.yml:6:24: error: invalid YAML: invalid leading UTF-8 octet\n"
                     "            CommandLine: '\xC3\xA9\\xff\\x1b[2J'\n"
                     "                           ^\n");
    cr_expect_eq(sk_ruleset_count(rs), 0);
    sk_ruleset_free(rs);
}

Test(sigma_load, metadata_accessors)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: Mshta Remote\n"
                               "id: e32f92d1-523e-49c3-9374-bdb13b46a3ba\n"
                               "status: test\n"
                               "description: mshta runs a remote HTA\n"
                               "references:\n  - https://example.org/a\n"
                               "author: Someone\n"
                               "date: 2024-05-01\n"
                               "modified: 2024-06-01\n"
                               "tags:\n  - attack.defense-evasion\n  - attack.t1218.005\n"
                               "logsource:\n  product: windows\n  category: process_creation\n"
                               "detection:\n  sel:\n    Image|endswith: '\\mshta.exe'\n"
                               "  condition: sel\n"
                               "fields:\n  - CommandLine\n"
                               "falsepositives: Unknown\n"
                               "level: high\n",
                               &td);
    cr_assert_eq(sk_ruleset_count(rs), 1, "%s", td.text);
    cr_expect_eq(td.dl.warnings, 0, "%s", td.text);
    const sk_rule *r = sk_ruleset_rule(rs, 0);
    cr_expect_str_eq(sk_rule_title(r), "Mshta Remote");
    cr_expect_str_eq(sk_rule_id(r), "e32f92d1-523e-49c3-9374-bdb13b46a3ba");
    cr_expect_str_eq(sk_rule_status(r), "test");
    cr_expect_str_eq(sk_rule_description(r), "mshta runs a remote HTA");
    cr_expect_str_eq(sk_rule_author(r), "Someone");
    cr_expect_str_eq(sk_rule_date(r), "2024-05-01");
    cr_expect_eq(sk_rule_level(r), SK_LEVEL_HIGH);
    cr_expect_str_eq(sk_rule_level_str(r), "high");
    cr_expect_str_eq(sk_rule_language(r), "sigma");
    cr_expect_str_eq(sk_rule_path(r), "rules/x.yml");
    cr_expect_eq(sk_rule_line(r), 1);
    cr_expect_str_eq(sk_rule_logsource(r), "product:windows category:process_creation");
    cr_expect_eq(sk_rule_tag_count(r), 2);
    cr_expect_str_eq(sk_rule_tag_at(r, 1), "attack.t1218.005");
    cr_expect_eq(sk_rule_reference_count(r), 1);
    cr_expect_eq(sk_rule_falsepositive_count(r), 1);
    cr_expect_str_eq(sk_rule_falsepositive_at(r, 0), "Unknown");
    cr_expect_eq(sk_rule_field_count(r), 1);
    cr_expect_str_eq(sk_rule_field_at(r, 0), "CommandLine");
    cr_expect_eq(sk_rule_index(r), 0);
    cr_expect_eq(sk_ruleset_find_id(rs, "e32f92d1-523e-49c3-9374-bdb13b46a3ba"), r);
    cr_expect_null(sk_ruleset_find_id(rs, "nope"));
    sk_ruleset_free(rs);
}

Test(sigma_load, warnings_do_not_skip)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: A\nid: same\nlevel: severe\ncustom_thing: 1\n"
                               "logsource: {category: process_creation}\n"
                               "detection: {sel: {Image: x}, timeframe: 5m, condition: sel}\n"
                               "---\n"
                               "title: B\nid: same\n"
                               "logsource: {category: process_creation}\n"
                               "detection: {sel: {Image: x}, condition: sel}\n",
                               &td);
    cr_expect_eq(sk_ruleset_count(rs), 2);
    cr_expect_eq(td.dl.warnings, 4, "%s", td.text);
    cr_expect(strstr(td.text, "rules/x.yml:3:8: warning: unknown level 'severe'"), "%s", td.text);
    cr_expect(strstr(td.text, "rules/x.yml:4:1: warning: unknown key 'custom_thing' ignored"),
              "%s",
              td.text);
    cr_expect(strstr(td.text, "warning: 'timeframe' has no effect"), "%s", td.text);
    cr_expect(strstr(td.text, "rules/x.yml:9:5: warning: rule id 'same' is used by another rule"),
              "%s",
              td.text);
    cr_expect_eq(sk_rule_level(sk_ruleset_rule(rs, 0)), SK_LEVEL_UNKNOWN);
    sk_ruleset_free(rs);
}

Test(sigma_load, multi_document_actions)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("action: global\n"
                               "title: Base\n"
                               "id: base-collection\n"
                               "level: high\n"
                               "logsource: {product: windows}\n"
                               "detection:\n"
                               "  filter: {User: admin}\n"
                               "  condition: sel and not filter\n"
                               "---\n"
                               "logsource: {category: process_creation}\n"
                               "detection:\n"
                               "  sel: {Image|endswith: a.exe}\n"
                               "---\n"
                               "action: repeat\n"
                               "title: Base B\n"
                               "detection:\n"
                               "  sel: {Image|endswith: b.exe}\n"
                               "---\n"
                               "action: reset\n"
                               "---\n"
                               "title: Alone\n"
                               "logsource: {category: process_creation}\n"
                               "detection: {sel: {Image: c}, condition: sel}\n"
                               "---\n",
                               &td);
    cr_assert_eq(sk_ruleset_count(rs), 3, "%s", td.text);
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 0)), "Base");
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 1)), "Base B");
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 2)), "Alone");
    cr_expect_eq(sk_rule_level(sk_ruleset_rule(rs, 1)), SK_LEVEL_HIGH);
    cr_expect_eq(sk_rule_level(sk_ruleset_rule(rs, 2)), SK_LEVEL_UNKNOWN);
    cr_expect_str_eq(sk_rule_logsource(sk_ruleset_rule(rs, 1)),
                     "product:windows category:process_creation");
    cr_expect_eq(sk_rule_line(sk_ruleset_rule(rs, 2)), 21);
    cr_expect_eq(sk_ruleset_report_count(rs), 3);
    // Base and Base B share the global document's id: no "used by another rule" warning.
    cr_expect_str_eq(sk_rule_id(sk_ruleset_rule(rs, 1)), "base-collection");
    cr_expect_eq(td.dl.warnings, 0, "%s", td.text);

    // The merged rule behaves as one: sel from its document, filter from the global one.
    sk_event ev;
    sk_event_init(&ev);
    cr_assert_eq(
            sk_event_add(
                    &ev, "Channel", 7, "Microsoft-Windows-Sysmon/Operational", 36, SK_FIELD_SYSTEM),
            SK_OK);
    cr_assert_eq(sk_event_add(&ev, "EventID", 7, "1", 1, SK_FIELD_SYSTEM), SK_OK);
    cr_assert_eq(sk_event_add(&ev, "Image", 5, "C:\\b.exe", 8, 0), SK_OK);
    cr_assert_eq(sk_event_add(&ev, "User", 4, "bob", 3, 0), SK_OK);
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 1);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    sk_ruleset_free(rs);
}

Test(sigma_load, skips_are_counted_by_reason)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: ok\nlogsource: {category: process_creation}\n"
                               "detection: {sel: {Image: a}, condition: sel}\n"
                               "---\n"
                               "title: bad1\nlogsource: {product: linux}\n"
                               "detection: {sel: {Image: a}, condition: sel}\n"
                               "---\n"
                               "title: bad2\nlogsource: {product: linux}\n"
                               "detection: {sel: {Image: a}, condition: sel}\n"
                               "---\n"
                               "title: bad3\nlogsource: {category: process_creation}\n"
                               "detection: {sel: {Image|x: a}, condition: sel}\n"
                               "---\n"
                               "title: corr\ncorrelation: {type: event_count}\n"
                               "---\n"
                               "title: filt\nfilter: {rules: [x]}\nlogsource: {product: windows}\n",
                               &td);
    cr_expect_eq(sk_ruleset_loaded_count(rs), 1);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 5);
    cr_expect_eq(sk_ruleset_report_count(rs), 6);
    cr_assert_eq(sk_ruleset_reason_count(rs), 4);
    const char *code;
    size_t n;
    sk_ruleset_reason_at(rs, 0, &code, &n);
    cr_expect_str_eq(code, "unsupported-logsource");
    cr_expect_eq(n, 2);
    sk_ruleset_reason_at(rs, 1, &code, &n);
    cr_expect_str_eq(code, "correlation-rule");
    cr_expect_eq(n, 1);
    sk_ruleset_reason_at(rs, 2, &code, &n);
    cr_expect_str_eq(code, "filter-rule");
    sk_ruleset_reason_at(rs, 3, &code, &n);
    cr_expect_str_eq(code, "unknown-modifier");
    cr_expect_eq(td.dl.errors, 5);
    sk_ruleset_free(rs);
}

Test(sigma_load, yaml_bombs_and_limits)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    // Billion laughs: refused at the first alias, nothing is expanded.
    sk_ruleset *rs = load_text("title: lol\n"
                               "a: &a ['lol','lol','lol','lol','lol','lol','lol','lol','lol']\n"
                               "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                               "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                               "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                               "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                               "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                               "logsource: {category: process_creation}\n"
                               "detection: {sel: {Image: *f}, condition: sel}\n",
                               &td);
    cr_expect_eq(sk_ruleset_count(rs), 0);
    cr_expect_str_eq(sk_ruleset_report_at(rs, 0)->code, "yaml-alias");
    cr_expect_eq(sk_ruleset_report_at(rs, 0)->line, 3);
    cr_expect_eq(sk_ruleset_report_at(rs, 0)->col, 8);
    sk_ruleset_free(rs);

    // Nesting deeper than SK_MAX_DEPTH
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    cr_assert_eq(sk_buf_adds(&b, "title: deep\nx: "), SK_OK);
    for (unsigned i = 0; i < SK_MAX_DEPTH + 10; i++)
        cr_assert_eq(sk_buf_addc(&b, '['), SK_OK);
    for (unsigned i = 0; i < SK_MAX_DEPTH + 10; i++)
        cr_assert_eq(sk_buf_addc(&b, ']'), SK_OK);
    cr_assert_eq(sk_buf_adds(&b, "\n"), SK_OK);
    sk_test_diags_init(&td);
    rs = load_text(sk_buf_str(&b), &td);
    cr_expect_str_eq(sk_ruleset_report_at(rs, 0)->code, "yaml-limit");
    sk_ruleset_free(rs);
    sk_buf_fini(&b);

    // Too many values in one item
    sk_buf_init(&b, 64u << 20);
    cr_assert_eq(sk_buf_adds(&b,
                             "title: many\nlogsource: {category: process_creation}\n"
                             "detection:\n  condition: sel\n  sel:\n    Image: ["),
                 SK_OK);
    for (unsigned i = 0; i <= SK_MAX_VALUES_PER_ITEM; i++)
        cr_assert_eq(sk_buf_adds(&b, i ? ",a" : "a"), SK_OK);
    cr_assert_eq(sk_buf_adds(&b, "]\n"), SK_OK);
    sk_test_diags_init(&td);
    rs = load_text(sk_buf_str(&b), &td);
    cr_expect_str_eq(sk_ruleset_report_at(rs, 0)->code, "too-many-values");
    sk_ruleset_free(rs);
    sk_buf_fini(&b);

    // A file over SK_MAX_RULE_FILE_BYTES
    size_t big = (size_t)SK_MAX_RULE_FILE_BYTES + 1;
    char *data = malloc(big);
    cr_assert_not_null(data);
    memset(data, '#', big);
    sk_test_diags_init(&td);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "big.yml", data, big, &td.dl), SK_OK);
    rs = sk_rule_loader_finish(l);
    cr_expect_str_eq(sk_ruleset_report_at(rs, 0)->code, "file-too-large");
    sk_ruleset_free(rs);
    free(data);
    SK_ASSERT_NO_LEAKS();
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

Test(sigma_load, folders_are_walked_in_sorted_order)
{
    char dir[] = "/tmp/saker_rules_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[4096], text[1024];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(text, sizeof text, proc_rule, "B", "b");
    write_file(dir, "b.yml", text);
    snprintf(text, sizeof text, proc_rule, "A", "a");
    write_file(dir, "a.YAML", text);
    snprintf(text, sizeof text, proc_rule, "C", "c");
    write_file(sub, "c.yml", text);
    write_file(dir, "notes.txt", "not a rule");
    write_file(dir, ".hidden.yml", "title: [");
    write_file(dir, "empty.yml", "# nothing here\n");

    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, dir, &td.dl), SK_OK);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/nope.yml", dir);
    cr_expect_eq(sk_rule_loader_add_path(l, missing, &td.dl), SK_ERR_IO);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_assert_eq(sk_ruleset_count(rs), 3, "%s", td.text);
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 0)), "A");
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 1)), "B");
    cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, 2)), "C");
    char want[4200];
    snprintf(want, sizeof want, "%s/sub/c.yml", dir);
    cr_expect_str_eq(sk_rule_path(sk_ruleset_rule(rs, 2)), want);
    cr_expect(strstr(td.text, "empty.yml: warning: file holds no rule"), "%s", td.text);
    cr_expect(strstr(td.text, "nope.yml: error: cannot open"), "%s", td.text);
    sk_ruleset_free(rs);

    snprintf(want, sizeof want, "rm -rf '%s'", dir);
    cr_expect_eq(system(want), 0);
}

// Loads paths[0..n) with one loader (jobs threads); the titles of the rules, in order.
static void titles_of(const char *const *paths, size_t n, unsigned jobs, char *out, size_t on)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_load_opts o = { .jobs = jobs };
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, &o, &td.dl), SK_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(sk_rule_loader_add_path(l, paths[i], &td.dl), SK_OK, "%s", paths[i]);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    out[0] = '\0';
    for (size_t i = 0; i < sk_ruleset_count(rs); i++) {
        size_t k = strlen(out);
        snprintf(out + k, on - k, "%s%s", i ? " " : "", sk_rule_title(sk_ruleset_rule(rs, i)));
    }
    cr_expect_eq(td.dl.warnings, 0, "%s", td.text); // no "rule id ... used by another rule"
    sk_ruleset_free(rs);
}

Test(sigma_load, overlapping_paths_load_each_file_once)
{
    char dir[] = "/tmp/saker_rules_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[4096], text[1024], a[4200], c[4200], link[4200], cmd[4200];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(text, sizeof text, "id: 11111111-0000-0000-0000-00000000000a\n%s", proc_rule);
    char rule[1200];
    snprintf(rule, sizeof rule, text, "A", "a");
    write_file(dir, "a.yml", rule);
    snprintf(text, sizeof text, "id: 11111111-0000-0000-0000-00000000000c\n%s", proc_rule);
    snprintf(rule, sizeof rule, text, "C", "c");
    write_file(sub, "c.yml", rule);
    snprintf(a, sizeof a, "%s/a.yml", dir);
    snprintf(c, sizeof c, "%s/sub/c.yml", dir);
    snprintf(link, sizeof link, "%s/again", dir);
    cr_assert_eq(symlink(sub, link), 0); // the walk of dir meets sub twice
    char got[256];
    for (unsigned jobs = 1; jobs <= 2; jobs++) {
        titles_of((const char *[]){ dir }, 1, jobs, got, sizeof got);
        cr_expect_str_eq(got, "A C");
        titles_of((const char *[]){ dir, sub }, 2, jobs, got, sizeof got);
        cr_expect_str_eq(got, "A C");
        titles_of((const char *[]){ sub, dir }, 2, jobs, got, sizeof got);
        cr_expect_str_eq(got, "C A");
        titles_of((const char *[]){ c, dir, c, a }, 4, jobs, got, sizeof got);
        cr_expect_str_eq(got, "C A");
        titles_of((const char *[]){ dir, a, link }, 3, jobs, got, sizeof got);
        cr_expect_str_eq(got, "A C");
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

Test(sigma_load, placeholder_file_problems_are_reported)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_load_opts o = { .placeholder_file = "/nonexistent/ph.yml" };
    sk_rule_loader *l = NULL;
    cr_expect_eq(sk_rule_loader_new(&l, &o, &td.dl), SK_ERR_IO);
    cr_expect_null(l);
    cr_expect(strstr(td.text, "cannot read placeholder file"), "%s", td.text);

    char path[] = "/tmp/saker_ph_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "- a\n- b\n", 8), 8);
    close(fd);
    o.placeholder_file = path;
    sk_test_diags_init(&td);
    cr_expect_eq(sk_rule_loader_new(&l, &o, &td.dl), SK_ERR_RULE_SYNTAX);
    cr_expect(strstr(td.text, ":1:1: error: placeholder file must be a map"), "%s", td.text);
    unlink(path);
}

Test(sigma_load, builtin_pack_loads)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td.dl), SK_OK);
    cr_expect_eq(sk_rule_loader_add_builtin(l, &td.dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 0, "%s", td.text);
    cr_expect_eq(td.dl.errors, 0, "%s", td.text);
    sk_ruleset_free(rs);
}

// ---- selection of rules

static sk_ruleset *three_rules(void)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    return load_text("title: low one\nid: id-low\nstatus: experimental\nlevel: low\n"
                     "tags: [attack.t1059.001]\n"
                     "logsource: {category: process_creation}\n"
                     "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n"
                     "---\n"
                     "title: high one\nid: id-high\nstatus: test\nlevel: high\n"
                     "tags: [attack.t1218.005]\n"
                     "logsource: {category: process_creation}\n"
                     "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n"
                     "---\n"
                     "title: critical one\nid: id-crit\nstatus: stable\nlevel: critical\n"
                     "tags: [attack.T1218]\n"
                     "logsource: {category: process_creation}\n"
                     "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n",
                     &td);
}

static size_t hits_on_exe(const sk_ruleset *rs)
{
    sk_event ev;
    sk_event_init(&ev);
    cr_assert_eq(
            sk_event_add(
                    &ev, "Channel", 7, "Microsoft-Windows-Sysmon/Operational", 36, SK_FIELD_SYSTEM),
            SK_OK);
    cr_assert_eq(sk_event_add(&ev, "EventID", 7, "1", 1, SK_FIELD_SYSTEM), SK_OK);
    cr_assert_eq(sk_event_add(&ev, "Image", 5, "a.exe", 5, 0), SK_OK);
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    size_t n = sk_matcher_run(m, &ev, NULL, NULL);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    return n;
}

Test(sigma_load, filters_select_rules)
{
    sk_ruleset *rs = three_rules();
    cr_assert_eq(sk_ruleset_count(rs), 3);
    cr_expect_eq(hits_on_exe(rs), 3);
    sk_rule_filter f = { .min_level = SK_LEVEL_HIGH };
    cr_expect_eq(sk_ruleset_filter(rs, &f), 2);
    cr_expect_eq(hits_on_exe(rs), 2);
    cr_expect(!sk_ruleset_enabled(rs, 0));
    sk_ruleset_free(rs);

    rs = three_rules();
    const char *tags[] = { "attack.t1218" };
    sk_rule_filter ft = { .tags = tags, .ntags = 1 };
    cr_expect_eq(sk_ruleset_filter(rs, &ft), 2); // t1218.005 (prefix) and T1218 (case)
    sk_ruleset_free(rs);

    rs = three_rules();
    const char *ids[] = { "id-low", "ID-CRIT" };
    sk_rule_filter fi = { .ids = ids, .nids = 2 };
    cr_expect_eq(sk_ruleset_filter(rs, &fi), 2);
    const char *st[] = { "stable" };
    sk_rule_filter fs = { .statuses = st, .nstatuses = 1 };
    cr_expect_eq(sk_ruleset_filter(rs, &fs), 1); // filters compose
    cr_expect_eq(sk_ruleset_enabled_count(rs), 1);
    sk_ruleset_set_enabled(rs, 0, true);
    cr_expect_eq(sk_ruleset_enabled_count(rs), 2);
    cr_expect_eq(hits_on_exe(rs), 2);
    sk_ruleset_free(rs);

    sk_level lv;
    cr_expect(sk_level_parse("Medium", &lv) && lv == SK_LEVEL_MEDIUM);
    cr_expect(!sk_level_parse("huge", &lv));
    cr_expect_str_eq(sk_level_str(SK_LEVEL_CRITICAL), "critical");
}

// ---- threads share one ruleset

typedef struct thread_arg {
    const sk_ruleset *rs;
    size_t hits;
} thread_arg;

static void *worker(void *p)
{
    thread_arg *a = p;
    sk_matcher *m = sk_matcher_new(a->rs);
    sk_event ev;
    sk_event_init(&ev);
    for (int i = 0; i < 2000; i++) {
        sk_event_reset(&ev);
        char img[64];
        int n = snprintf(img, sizeof img, "C:\\x\\%s%d.exe", i % 3 ? "rundll32" : "mshta", i);
        if (sk_event_add(&ev,
                         "Channel",
                         7,
                         "Microsoft-Windows-Sysmon/Operational",
                         36,
                         SK_FIELD_SYSTEM) != SK_OK ||
            sk_event_add(&ev, "EventID", 7, "1", 1, SK_FIELD_SYSTEM) != SK_OK ||
            sk_event_add(&ev, "Image", 5, img, (size_t)n, 0) != SK_OK ||
            sk_event_add(&ev, "CommandLine", 11, img, (size_t)n, 0) != SK_OK)
            break;
        sk_event_finish(&ev);
        a->hits += sk_matcher_run(m, &ev, NULL, NULL);
    }
    sk_event_fini(&ev);
    sk_matcher_free(m);
    return NULL;
}

Test(sigma_load, one_ruleset_many_threads)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs =
            load_text("title: mshta\nlogsource: {category: process_creation}\n"
                      "detection: {sel: {Image|re|i: 'mshta\\d+\\.exe$'}, condition: sel}\n"
                      "---\n"
                      "title: any exe\nlogsource: {category: process_creation}\n"
                      "detection: {sel: {CommandLine|contains: '.exe'}, condition: sel}\n"
                      "---\n"
                      // 8 bytes and more: its search table is made at its first use, by
                      // whichever thread gets there first.
                      "title: rundll32\nlogsource: {category: process_creation}\n"
                      "detection: {sel: {CommandLine|contains: '\\RunDLL32'}, condition: sel}\n",
                      &td);
    cr_assert_eq(sk_ruleset_count(rs), 3, "%s", td.text);
    pthread_t t[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i].rs = rs;
        a[i].hits = 0;
        cr_assert_eq(pthread_create(&t[i], NULL, worker, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(a[i].hits, 2000 + 667 + 1333, "thread %d: %zu hits", i, a[i].hits);
    }
    sk_ruleset_free(rs);
}

// ---- rule folders read and parsed ahead on threads (sk_load_opts.jobs)

static sk_ruleset *load_dir_jobs(const char *dir, unsigned jobs, sk_test_diags *td, sk_status *st)
{
    sk_load_opts lo = { .jobs = jobs };
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, &lo, &td->dl), SK_OK);
    *st = sk_rule_loader_add_path(l, dir, &td->dl);
    return sk_rule_loader_finish(l);
}

Test(sigma_load, read_ahead_threads_keep_order_and_diagnostics)
{
    // 150 files (more than the read-ahead window), bad ones among them, a folder named like a rule
    // and a dangling symlink in the middle: the report, the rules and the diagnostics come out the
    // same, in the same order, whatever the thread count.
    char dir[] = "/tmp/saker_ahead_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char text[1024], name[64], sub[4096], link[4096];
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof name, "r%03d.yml", i);
        snprintf(text, sizeof text, proc_rule, name, "x.exe");
        if (i % 17 == 5)
            snprintf(text, sizeof text, "title: bad %d\ndetection: [\n", i); // YAML syntax error
        else if (i % 23 == 7)
            snprintf(text,
                     sizeof text,
                     "title: mod %d\nlogsource:\n  product: windows\n  category: process_creation\n"
                     "detection:\n  sel:\n    Image|nosuch: x\n  condition: sel\n",
                     i);
        write_file(dir, name, text);
    }
    snprintf(sub, sizeof sub, "%s/r050b.yml", dir); // a folder: walked, its rule comes in place
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(text, sizeof text, proc_rule, "inner", "y.exe");
    write_file(sub, "inner.yml", text);
    snprintf(link, sizeof link, "%s/r100b.yml", dir);
    cr_assert_eq(symlink("/nonexistent/saker", link), 0);

    sk_test_diags td1, td4;
    sk_test_diags_init(&td1);
    sk_test_diags_init(&td4);
    sk_status st1, st4;
    sk_ruleset *a = load_dir_jobs(dir, 1, &td1, &st1);
    sk_ruleset *b = load_dir_jobs(dir, 4, &td4, &st4);
    cr_expect_eq(st1, SK_ERR_IO); // the dangling symlink
    cr_expect_eq(st4, SK_ERR_IO);
    cr_assert_eq(sk_ruleset_report_count(a), 151 + 1); // the dangling symlink's io-error too
    cr_assert_eq(sk_ruleset_report_count(b), sk_ruleset_report_count(a));
    cr_expect_eq(sk_ruleset_count(a), 151 - 9 - 7);
    cr_assert_eq(sk_ruleset_count(b), sk_ruleset_count(a));
    for (size_t i = 0; i < sk_ruleset_report_count(a); i++) {
        const sk_load_entry *x = sk_ruleset_report_at(a, i), *y = sk_ruleset_report_at(b, i);
        cr_expect_str_eq(x->file, y->file);
        cr_expect_eq(x->loaded, y->loaded, "%s", x->file);
        cr_expect_eq(x->line, y->line, "%s", x->file);
    }
    for (size_t i = 0; i < sk_ruleset_count(a); i++)
        cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(a, i)),
                         sk_rule_title(sk_ruleset_rule(b, i)));
    cr_expect_str_eq(td1.text, td4.text);
    cr_expect(strstr(td1.text, "r100b.yml: error: cannot read rule file") != NULL, "%s", td1.text);
    // Diagnostics in walk order: r090's before the symlink's, r107's after.
    const char *s = strstr(td4.text, "r100b.yml"), *before = strstr(td4.text, "r090.yml"),
               *after = strstr(td4.text, "r107.yml");
    cr_assert(s && before && after, "%s", td4.text);
    cr_expect(before < s && s < after);
    sk_ruleset_free(a);
    sk_ruleset_free(b);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    SK_ASSERT_NO_LEAKS();
}

Test(sigma_load, symlinks_to_rules_and_folders_are_followed)
{
    // The folder walk takes an entry's type from readdir where it can; a symbolic link has to be
    // followed to know what it is: a link to a rule file loads that rule, a link to a folder walks
    // it, a link named like a rule to a folder is a folder, a link to a non-rule file is ignored.
    char dir[] = "/tmp/saker_links_XXXXXX", out[] = "/tmp/saker_links_out_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_not_null(mkdtemp(out));
    char text[1024], path[4096], target[4096];
    snprintf(text, sizeof text, proc_rule, "plain", "a.exe");
    write_file(dir, "a_plain.yml", text);
    snprintf(text, sizeof text, proc_rule, "outside file", "b.exe");
    write_file(out, "outside.yml", text);
    write_file(out, "notes.txt", "not a rule");
    snprintf(path, sizeof path, "%s/sub", out);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(text, sizeof text, proc_rule, "outside folder", "c.exe");
    write_file(path, "inner.yml", text);
    struct {
        const char *link, *to;
    } links[] = { { "b_file.yml", "outside.yml" },
                  { "c_folder", "sub" },
                  { "d_folder.yml", "sub" },
                  { "e_notes.yml.txt", "notes.txt" } };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, links[i].link);
        snprintf(target, sizeof target, "%s/%s", out, links[i].to);
        cr_assert_eq(symlink(target, path), 0, "%s", path);
    }
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_status st;
    sk_ruleset *rs = load_dir_jobs(dir, 1, &td, &st);
    cr_expect_eq(st, SK_OK, "%s", td.text);
    cr_expect_str_eq(td.text, "");
    // d_folder.yml is the folder c_folder walked already: not walked again.
    cr_assert_eq(sk_ruleset_count(rs), 3);
    const char *want[] = { "plain", "outside file", "outside folder" };
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(sk_rule_title(sk_ruleset_rule(rs, i)), want[i]);
    sk_ruleset_free(rs);
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, out);
    cr_assert_eq(system(cmd), 0);
    SK_ASSERT_NO_LEAKS();
}

Test(sigma_load, find_id_first_rule_wins_among_many)
{
    sk_buf b;
    sk_buf_init(&b, 1 << 20);
    for (int i = 0; i < 600; i++)
        sk_buf_printf(
                &b,
                "%stitle: R%d\nid: 00000000-0000-0000-0000-%012d\nlogsource:\n  product: windows\n"
                "  category: process_creation\ndetection:\n  sel:\n    Image: x\n"
                "  condition: sel\n",
                i ? "---\n" : "",
                i,
                i == 599 ? 7 : i); // the last one repeats rule 7's id
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text(sk_buf_str(&b), &td);
    cr_assert_eq(sk_ruleset_count(rs), 600);
    for (int i = 0; i < 599; i++) {
        char id[64];
        snprintf(id, sizeof id, "00000000-0000-0000-0000-%012d", i);
        const sk_rule *r = sk_ruleset_find_id(rs, id);
        cr_assert_not_null(r, "%s", id);
        char title[16];
        snprintf(title, sizeof title, "R%d", i);
        cr_expect_str_eq(sk_rule_title(r), title);
    }
    cr_expect_null(sk_ruleset_find_id(rs, "00000000-0000-0000-0000-000000000600"));
    cr_expect_null(sk_ruleset_find_id(rs, "00000000-0000-0000-0000-00000000000"));
    cr_expect(strstr(td.text,
                     "rule id '00000000-0000-0000-0000-000000000007' is used by another "
                     "rule too") != NULL,
              "%s",
              td.text);
    sk_ruleset_free(rs);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

Test(sigma_load, name_hash_folds_ascii_letters_only)
{
    // rs_hash_ci folds eight bytes at once: every byte value at every position of names up to
    // 17 bytes long hashes like its ASCII lower-case form, and the neighbours of A-Z ('@' and '[',
    // which differ from '`' and '{' by the same bit) and bytes >= 0x80 are not folded.
    char a[17], b[17];
    for (size_t len = 1; len <= sizeof a; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            memset(a, 'q', sizeof a);
            memcpy(b, a, sizeof b);
            for (int c = 0; c < 256; c++) {
                a[pos] = (char)c;
                b[pos] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                cr_assert_eq(rs_hash_ci(a, len),
                             rs_hash_ci(b, len),
                             "len %zu pos %zu c %d",
                             len,
                             pos,
                             c);
            }
            static const unsigned char apart[][2] = {
                { '@', '`' }, { '[', '{' }, { 0xC1, 0xE1 }, { 0xDA, 0xFA }, { 'A', 'B' }
            };
            for (size_t k = 0; k < sizeof apart / sizeof apart[0]; k++) {
                a[pos] = (char)apart[k][0];
                b[pos] = (char)apart[k][1];
                cr_expect_neq(rs_hash_ci(a, len), rs_hash_ci(b, len), "len %zu pos %zu", len, pos);
            }
        }
    }
}

// Values compile from their text as Sigma compares it: integers in canonical form (no '+', no
// leading zeros, "-0" is 0), booleans as true/false, strings as written; values without
// transforms are compiled from the YAML text itself, the others (a negative integer, a
// transform) from a copy. Both must give the same predicates.
Test(sigma_load, value_texts_with_and_without_transforms)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_text("title: value texts\n"
                               "logsource:\n  product: windows\n  category: process_creation\n"
                               "detection:\n"
                               "  a:\n"
                               "    Delta: [-007, +05, -0, -00, 007, -12, 0, true, False, 'x']\n"
                               "  b:\n"
                               "    Delta|endswith: [-07, +03]\n"
                               "  c:\n"
                               "    Delta|windash: [-7, +05]\n"
                               "  condition: a or b or c\n",
                               &td);
    cr_assert_eq(sk_ruleset_count(rs), 1, "%s", td.text);
    sk_buf out;
    sk_buf_init(&out, 1 << 20);
    sk_rule_explain(sk_ruleset_rule(rs, 0), &out);
    const char *want[] = {
        "equals '-7'",   "equals '5'",    "equals '0'",     "equals '7'",
        "equals '-12'",  "equals 'true'", "equals 'false'", "equals 'x'",
        "endswith '-7'", "endswith '3'",  "equals '/7'",    "equals '-7'",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(sk_buf_str(&out), want[i]), "no \"%s\" in\n%s", want[i], sk_buf_str(&out));
    cr_expect(!strstr(sk_buf_str(&out), "'-0'"), "%s", sk_buf_str(&out));
    cr_expect(!strstr(sk_buf_str(&out), "'+"), "%s", sk_buf_str(&out));
    cr_expect(!strstr(sk_buf_str(&out), "'00"), "%s", sk_buf_str(&out));
    sk_buf_fini(&out);
    sk_ruleset_free(rs);
}

// Metadata keys are found by their exact text (the first of a name, as yn_get finds it), checked
// in a fixed order, and a near miss is an unknown key.
Test(sigma_load, metadata_keys_are_checked_by_name)
{
    static const struct {
        const char *extra; // lines added to a valid rule
        const char *want;  // in the diagnostics
        size_t loaded;
    } cases[] = {
        { "status: [a]\n", "rules/x.yml:2:9: error: 'status' must be a string, not a list", 0 },
        { "name: {a: b}\n", "'name' must be a string, not a map", 0 },
        { "license: [x]\nid: [y]\n", "'id' must be a string, not a list", 0 },
        { "modified: [x]\nlevel: [y]\n", "'modified' must be a string, not a list", 0 },
        { "tags: {a: b}\n", "'tags' must be a list of strings", 0 },
        { "fields: [a, [b]]\nreferences: {x: y}\n", "'references' must be a list of strings", 0 },
        { "Title: x\n", "rules/x.yml:2:1: warning: unknown key 'Title' ignored", 1 },
        { "titles: x\n", "unknown key 'titles' ignored", 1 },
        { "falsepositive: x\n", "unknown key 'falsepositive' ignored", 1 },
        { "level: high\nauthor: me\ndate: 2024-01-01\nscope: [a]\n", "", 1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024];
        snprintf(text,
                 sizeof text,
                 "title: t\n%slogsource: {category: process_creation}\n"
                 "detection: {sel: {Image: x}, condition: sel}\n",
                 cases[i].extra);
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_ruleset *rs = load_text(text, &td);
        cr_expect_eq(sk_ruleset_count(rs), cases[i].loaded, "%s: %s", cases[i].extra, td.text);
        cr_expect(strstr(td.text, cases[i].want), "%s: %s", cases[i].extra, td.text);
        if (cases[i].loaded && !cases[i].want[0])
            cr_expect_eq(td.dl.warnings, 0, "%s: %s", cases[i].extra, td.text);
        sk_ruleset_free(rs);
    }
}

// What the compiled-rule cache compares when a rule file's or folder's times cannot tell a change
// (changed within a timestamp tick of the load): a file's bytes, a folder's listing as the walk
// sees it.
Test(sigma_load, content_hashes_of_rule_files_and_folders)
{
    char dir[] = "/tmp/saker-hash-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], other[256], dot[256];
    snprintf(path, sizeof path, "%s/a.yml", dir);
    snprintf(other, sizeof other, "%s/b.yml", dir);
    snprintf(dot, sizeof dot, "%s/.hidden", dir);
    FILE *f = fopen(path, "w");
    fputs("title: one\n", f);
    fclose(f);
    uint64_t h1, h2, d1, d2, d3;
    cr_assert(rs_hash_file(path, 11, &h1));
    cr_assert_eq(h1, rs_content_hash("title: one\n", 11));
    cr_assert_not(rs_hash_file(path, 10, &h2), "a file of another size differs");
    f = fopen(path, "w");
    fputs("title: two\n", f); // the same size
    fclose(f);
    cr_assert(rs_hash_file(path, 11, &h2));
    cr_assert_neq(h1, h2);
    cr_assert(rs_hash_dir(dir, &d1));
    char *names[] = { "\001a.yml" };
    cr_assert_eq(d1, rs_listing_hash(names, 1, 1), "the walk's view: its names, sorted");
    f = fopen(dot, "w");
    fclose(f);
    cr_assert(rs_hash_dir(dir, &d2));
    cr_assert_eq(d1, d2, "names starting with '.' are not walked");
    f = fopen(other, "w");
    fclose(f);
    cr_assert(rs_hash_dir(dir, &d3));
    cr_assert_neq(d1, d3);
    cr_assert_not(rs_hash_dir("/nonexistent-saker-dir", &d3));
    unlink(path);
    unlink(other);
    unlink(dot);
    rmdir(dir);
}
