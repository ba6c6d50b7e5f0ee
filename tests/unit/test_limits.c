// Every cap of core/limits.h, hit on purpose: each test feeds input just past the cap (and, where
// cheap, input exactly at it) and checks the clear diagnostic, the status, and the skip count the
// summary is built from. A last group reads the project's samples and the shared corpus and checks
// that ordinary real data stays far below every cap (so no limit can fire on a real log or rule).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "event/event.h"
#include "helpers.h"
#include "input/evtx_xml.h"
#include "input/input.h"
#include "input/reader.h"
#include "rules/ruleset.h"

// ------------------------------------------------------------------------------------------------
// Helpers

typedef struct nd_result {
    sk_test_diags td;
    sk_reader_stats stats;
    size_t events;
    size_t max_fields; // most fields in one event
    size_t max_value;  // longest value
    char first_value_of_b[64];
} nd_result;

// Reads an NDJSON stream from memory (through a temp file, as the CLI reads a file).
static void read_ndjson(nd_result *res, const char *data, size_t n)
{
    memset(res, 0, sizeof *res);
    sk_test_diags_init(&res->td);
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    rewind(fp);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, "t.ndjson", NULL, &res->td.dl), SK_OK);
    const sk_event *ev;
    while (sk_reader_next(r, &ev) == SK_OK) {
        res->events++;
        if (sk_event_nfields(ev) > res->max_fields)
            res->max_fields = sk_event_nfields(ev);
        for (size_t i = 0; i < sk_event_nfields(ev); i++) {
            const sk_field *f = sk_event_field(ev, i);
            if (f->value_len > res->max_value)
                res->max_value = f->value_len;
            if (strcmp(f->name, "b") == 0 && !res->first_value_of_b[0])
                snprintf(res->first_value_of_b, sizeof res->first_value_of_b, "%s", f->value);
        }
    }
    res->stats = *sk_reader_stats_get(r);
    sk_reader_close(r);
}

static sk_ruleset *load_rules(const char *text, size_t n, sk_test_diags *td)
{
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td->dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "limits.yml", text, n, &td->dl), SK_OK);
    return sk_rule_loader_finish(l);
}

// The skip reason of the only rule document of rs ("" when it loaded).
static const char *only_code(const sk_ruleset *rs)
{
    cr_assert_eq(sk_ruleset_report_count(rs), 1);
    const sk_load_entry *e = sk_ruleset_report_at(rs, 0);
    return e->loaded ? "" : e->code;
}

static char *xstrcat(sk_buf *b)
{
    cr_assert_not(b->full, "test text did not fit");
    return sk_buf_take(b);
}

// ------------------------------------------------------------------------------------------------
// NDJSON: SK_MAX_LINE_BYTES, SK_MAX_DEPTH, SK_MAX_FIELDS, SK_MAX_VALUE_BYTES

// A line of exactly len bytes (newline excluded): {"a":"xxx..."}.
static void put_line(sk_buf *b, size_t len)
{
    cr_assert(len >= 9);
    sk_buf_puts(b, "{\"a\":\"");
    for (size_t i = 0; i < len - 8; i++)
        sk_buf_putc(b, 'x');
    sk_buf_puts(b, "\"}\n");
}

Test(limits, ndjson_line_over_cap_is_skipped_and_counted)
{
    sk_buf b;
    sk_buf_init(&b, 3u * SK_MAX_LINE_BYTES);
    put_line(&b, SK_MAX_LINE_BYTES);     // line 1: at the cap (its value is truncated: see below)
    put_line(&b, SK_MAX_LINE_BYTES + 1); // line 2: one byte over
    sk_buf_puts(&b, "{\"b\":\"after\"}\n");
    size_t n = b.n;
    char *text = xstrcat(&b);
    nd_result res;
    read_ndjson(&res, text, n);
    char want[512];
    snprintf(want,
             sizeof want,
             "t.ndjson:1: warning: value longer than %u bytes truncated\n"
             "t.ndjson:2: warning: line longer than %u bytes; line skipped\n",
             SK_MAX_VALUE_BYTES,
             SK_MAX_LINE_BYTES);
    cr_expect_str_eq(res.td.text, want);
    cr_expect_eq(res.events, 2);
    cr_expect_eq(res.stats.lines_skipped, 1);
    cr_expect_str_eq(res.first_value_of_b, "after"); // reading goes on after the skipped line
    free(text);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, ndjson_nesting_over_cap_is_skipped_and_counted)
{
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    for (int pass = 0; pass < 2; pass++) {
        unsigned depth = pass == 0 ? SK_MAX_DEPTH : SK_MAX_DEPTH + 1; // objects, root included
        for (unsigned i = 0; i < depth; i++)
            sk_buf_puts(&b, i + 1 < depth ? "{\"k\":" : "{\"v\":1");
        for (unsigned i = 0; i < depth; i++)
            sk_buf_putc(&b, '}');
        sk_buf_putc(&b, '\n');
    }
    // Arrays count as well.
    sk_buf_puts(&b, "{\"a\":");
    for (unsigned i = 0; i < SK_MAX_DEPTH; i++)
        sk_buf_putc(&b, '[');
    for (unsigned i = 0; i < SK_MAX_DEPTH; i++)
        sk_buf_putc(&b, ']');
    sk_buf_puts(&b, "}\n");
    size_t n = b.n;
    char *text = xstrcat(&b);
    nd_result res;
    read_ndjson(&res, text, n);
    char want[512];
    snprintf(want,
             sizeof want,
             "t.ndjson:2:%u: warning: invalid JSON (nesting deeper than %u levels); line skipped\n"
             "t.ndjson:3:%u: warning: invalid JSON (nesting deeper than %u levels); line skipped\n",
             5 * SK_MAX_DEPTH + 1,
             SK_MAX_DEPTH,
             5 + SK_MAX_DEPTH,
             SK_MAX_DEPTH);
    cr_expect_str_eq(res.td.text, want);
    cr_expect_eq(res.events, 1);
    cr_expect_eq(res.stats.lines_skipped, 2);
    free(text);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, ndjson_fields_over_cap_are_dropped_with_a_warning)
{
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_buf_putc(&b, '{');
    for (unsigned i = 0; i < SK_MAX_FIELDS + 10; i++)
        sk_buf_printf(&b, "%s\"f%u\":%u", i ? "," : "", i, i);
    sk_buf_puts(&b, "}\n{\"b\":\"after\"}\n");
    size_t n = b.n;
    char *text = xstrcat(&b);
    nd_result res;
    read_ndjson(&res, text, n);
    char want[256];
    snprintf(want,
             sizeof want,
             "t.ndjson:1: warning: more than %u fields; the rest were dropped\n",
             SK_MAX_FIELDS);
    cr_expect_str_eq(res.td.text, want);
    // The event is kept, capped: a document cannot make the event grow without bound.
    cr_expect_eq(res.events, 2);
    cr_expect_leq(res.max_fields, SK_MAX_FIELDS);
    cr_expect_eq(res.stats.lines_skipped, 0);
    free(text);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, ndjson_value_over_cap_is_truncated_with_a_warning)
{
    sk_buf b;
    sk_buf_init(&b, 3u * SK_MAX_VALUE_BYTES);
    put_line(&b, SK_MAX_VALUE_BYTES + 8); // value of exactly SK_MAX_VALUE_BYTES: kept whole
    put_line(&b, SK_MAX_VALUE_BYTES + 9); // one byte more: cut
    size_t n = b.n;
    char *text = xstrcat(&b);
    nd_result res;
    read_ndjson(&res, text, n);
    char want[256];
    snprintf(want,
             sizeof want,
             "t.ndjson:2: warning: value longer than %u bytes truncated\n",
             SK_MAX_VALUE_BYTES);
    cr_expect_str_eq(res.td.text, want);
    cr_expect_eq(res.events, 2);
    cr_expect_eq(res.max_value, SK_MAX_VALUE_BYTES);
    cr_expect_eq(res.stats.lines_skipped, 0);
    free(text);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// evtx record XML: SK_MAX_XML_BYTES, SK_MAX_DEPTH, SK_MAX_FIELDS, SK_MAX_VALUE_BYTES

static const char ev_head[] =
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">"
        "<System><EventID>1</EventID><Channel>C</Channel></System>";

static sk_status parse_xml(const char *xml, size_t n, sk_event *ev, char *err, size_t errn)
{
    sk_evtx_xml *x = sk_evtx_xml_new();
    sk_buf e;
    sk_buf_init(&e, 4096);
    sk_status st = sk_evtx_xml_parse(x, xml, n, ev, &e);
    snprintf(err, errn, "%s", sk_buf_str(&e));
    sk_buf_fini(&e);
    sk_evtx_xml_free(x);
    return st;
}

Test(limits, record_xml_over_cap_is_refused)
{
    size_t n = (size_t)SK_MAX_XML_BYTES + 1;
    char *xml = malloc(n);
    cr_assert_not_null(xml);
    memset(xml, ' ', n);
    memcpy(xml, ev_head, strlen(ev_head));
    memcpy(xml + n - 8, "</Event>", 8);
    sk_event ev;
    sk_event_init(&ev);
    char err[256], want[256];
    cr_expect_eq(parse_xml(xml, n, &ev, err, sizeof err), SK_ERR_LIMIT);
    snprintf(want,
             sizeof want,
             "record XML is %zu bytes, more than the limit of %u",
             n,
             (unsigned)SK_MAX_XML_BYTES);
    cr_expect_str_eq(err, want);
    // At the cap it parses (the padding is whitespace between elements).
    memcpy(xml + n - 9, "</Event>", 8);
    cr_expect_eq(parse_xml(xml, n - 1, &ev, err, sizeof err), SK_OK, "%s", err);
    sk_event_fini(&ev);
    free(xml);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, record_xml_nesting_and_fields_over_cap_are_refused)
{
    sk_buf b;
    sk_buf_init(&b, 1u << 24);
    sk_event ev;
    sk_event_init(&ev);
    char err[256], want[256];

    // Nesting: Event/EventData/Data/x/x/... one level deeper than the cap.
    sk_buf_puts(&b, ev_head);
    sk_buf_puts(&b, "<EventData><Data Name=\"D\">");
    for (unsigned i = 3; i <= SK_MAX_DEPTH; i++)
        sk_buf_puts(&b, "<x>");
    for (unsigned i = 3; i <= SK_MAX_DEPTH; i++)
        sk_buf_puts(&b, "</x>");
    sk_buf_puts(&b, "</Data></EventData></Event>");
    cr_expect_eq(parse_xml(b.p, b.n, &ev, err, sizeof err), SK_ERR_LIMIT);
    snprintf(want, sizeof want, "elements nested deeper than %u", (unsigned)SK_MAX_DEPTH);
    cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);

    // Fields: more Data items than SK_MAX_FIELDS.
    sk_buf_reset(&b);
    sk_buf_puts(&b, ev_head);
    sk_buf_puts(&b, "<EventData>");
    for (unsigned i = 0; i < SK_MAX_FIELDS; i++)
        sk_buf_printf(&b, "<Data Name=\"f%u\">%u</Data>", i, i);
    sk_buf_puts(&b, "</EventData></Event>");
    cr_assert_not(b.full);
    cr_expect_eq(parse_xml(b.p, b.n, &ev, err, sizeof err), SK_ERR_LIMIT);
    snprintf(want, sizeof want, "more than %u fields", (unsigned)SK_MAX_FIELDS);
    cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
    sk_buf_fini(&b);
    sk_event_fini(&ev);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, record_xml_value_over_cap_is_truncated_and_reported)
{
    sk_buf b;
    sk_buf_init(&b, 2u * SK_MAX_VALUE_BYTES);
    sk_buf_puts(&b, ev_head);
    sk_buf_puts(&b, "<EventData><Data Name=\"Big\">");
    for (size_t i = 0; i < (size_t)SK_MAX_VALUE_BYTES + 100; i++)
        sk_buf_putc(&b, 'v');
    sk_buf_puts(&b, "</Data></EventData></Event>");
    cr_assert_not(b.full);
    sk_evtx_xml *x = sk_evtx_xml_new();
    sk_event ev;
    sk_event_init(&ev);
    cr_assert_eq(sk_evtx_xml_parse(x, b.p, b.n, &ev, NULL), SK_OK);
    const char *first = NULL;
    cr_expect_eq(sk_evtx_xml_truncated(x, &first), 1);
    cr_expect_str_eq(first, "Big");
    long i = sk_event_find(&ev, "Big", 3, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(sk_event_field(&ev, (size_t)i)->value_len, SK_MAX_VALUE_BYTES);
    sk_event_fini(&ev);
    sk_evtx_xml_free(x);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, event_refuses_fields_over_cap)
{
    sk_event ev;
    sk_event_init(&ev);
    for (unsigned i = 0; i < SK_MAX_FIELDS; i++)
        cr_assert_eq(sk_event_add(&ev, "f", 1, "v", 1, 0), SK_OK);
    cr_expect_eq(sk_event_add(&ev, "f", 1, "v", 1, 0), SK_ERR_LIMIT);
    cr_expect_eq(sk_event_add_data(&ev, "g", 1, "v", 1), SK_ERR_LIMIT);
    cr_expect_eq(sk_event_nfields(&ev), SK_MAX_FIELDS);
    sk_event_fini(&ev);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Rules: SK_MAX_RULE_FILE_BYTES, SK_MAX_DEPTH (YAML), aliases, SK_MAX_VALUES_PER_ITEM, regex limit

static const char rule_head[] = "title: Limits\n"
                                "logsource:\n"
                                "  product: windows\n"
                                "  category: process_creation\n"
                                "detection:\n";

Test(limits, rule_file_over_cap_is_skipped_and_counted)
{
    size_t n = (size_t)SK_MAX_RULE_FILE_BYTES + 1;
    char *text = malloc(n);
    cr_assert_not_null(text);
    memset(text, '#', n); // one long comment
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(text, n, &td);
    char want[256];
    snprintf(want,
             sizeof want,
             "limits.yml: error: rule file is larger than %u bytes; skipped\n",
             (unsigned)SK_MAX_RULE_FILE_BYTES);
    cr_expect_str_eq(td.text, want);
    cr_expect_str_eq(only_code(rs), "file-too-large");
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    sk_ruleset_free(rs);
    free(text);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, yaml_nesting_over_cap_is_skipped_and_counted)
{
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_buf_puts(&b, rule_head);
    sk_buf_puts(&b, "  sel:\n    Image: x\n  condition: sel\nextra: ");
    for (unsigned i = 0; i < SK_MAX_DEPTH + 1; i++)
        sk_buf_putc(&b, '[');
    for (unsigned i = 0; i < SK_MAX_DEPTH + 1; i++)
        sk_buf_putc(&b, ']');
    sk_buf_putc(&b, '\n');
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(b.p, b.n, &td);
    cr_expect_str_eq(only_code(rs), "yaml-limit");
    char want[128];
    snprintf(want, sizeof want, "YAML nesting deeper than %u levels", (unsigned)SK_MAX_DEPTH);
    cr_expect_not_null(strstr(td.text, want), "%s", td.text);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    sk_ruleset_free(rs);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, yaml_alias_is_refused)
{
    // An alias bomb: each level doubles the previous one (2^9 leaves from 10 lines).
    static const char bomb[] = "title: Bomb\n"
                               "logsource:\n"
                               "  product: windows\n"
                               "  category: process_creation\n"
                               "a: &a [x, x]\n"
                               "b: &b [*a, *a]\n"
                               "c: &c [*b, *b]\n"
                               "d: &d [*c, *c]\n"
                               "detection:\n"
                               "  sel:\n"
                               "    Image: *d\n"
                               "  condition: sel\n";
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(bomb, strlen(bomb), &td);
    cr_expect_str_eq(only_code(rs), "yaml-alias");
    cr_expect_eq(strncmp(td.text,
                         "limits.yml:6:8: error: YAML alias '*a' is not allowed in rules (rule "
                         "\"Bomb\")\n",
                         74),
                 0,
                 "%s",
                 td.text);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// A rule whose one item lists n values.
static char *values_rule(size_t n, const char *modifier, size_t *len)
{
    sk_buf b;
    sk_buf_init(&b, 64u << 20);
    sk_buf_puts(&b, rule_head);
    sk_buf_printf(&b, "  sel:\n    CommandLine%s:\n", modifier);
    for (size_t i = 0; i < n; i++)
        sk_buf_printf(&b, "      - 'value number %zu'\n", i);
    sk_buf_puts(&b, "  condition: sel\n");
    *len = b.n;
    return xstrcat(&b);
}

Test(limits, values_per_item_over_cap_are_skipped_and_counted)
{
    size_t n;
    char *at = values_rule(SK_MAX_VALUES_PER_ITEM, "|contains", &n);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(at, n, &td);
    cr_expect_str_eq(only_code(rs), "", "%s", td.text);
    cr_expect_str_eq(td.text, "");
    // And it runs fast: one event against 100,000 contains-values (Aho-Corasick-free, but the
    // values are checked without any per-value allocation).
    sk_event ev;
    sk_event_init(&ev);
    cr_assert_eq(sk_event_add(&ev, "EventID", 7, "1", 1, SK_FIELD_SYSTEM), SK_OK);
    cr_assert_eq(
            sk_event_add(
                    &ev, "Channel", 7, "Microsoft-Windows-Sysmon/Operational", 36, SK_FIELD_SYSTEM),
            SK_OK);
    cr_assert_eq(sk_event_add_data(&ev, "CommandLine", 11, "x value number 99999 y", 22), SK_OK);
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 1);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    sk_ruleset_free(rs);
    free(at);

    char *over = values_rule(SK_MAX_VALUES_PER_ITEM + 1, "", &n);
    sk_test_diags_init(&td);
    rs = load_rules(over, n, &td);
    cr_expect_str_eq(only_code(rs), "too-many-values");
    char want[128];
    snprintf(want, sizeof want, "%u", (unsigned)SK_MAX_VALUES_PER_ITEM);
    cr_expect_not_null(strstr(td.text, want), "%s", td.text);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    sk_ruleset_free(rs);
    free(over);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, values_per_item_count_after_windash_expansion)
{
    // 5^6 = 15,625 variants per value: 7 such values pass the cap once expanded.
    size_t nvalues = SK_MAX_VALUES_PER_ITEM / 15625 + 1;
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_buf_puts(&b, rule_head);
    sk_buf_puts(&b, "  sel:\n    CommandLine|windash|contains:\n");
    for (size_t i = 0; i < nvalues; i++)
        sk_buf_printf(&b, "      - ' -a -b -c -d -e -f%zu'\n", i);
    sk_buf_puts(&b, "  condition: sel\n");
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(b.p, b.n, &td);
    cr_expect_str_eq(only_code(rs), "too-many-values", "%s", td.text);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    sk_ruleset_free(rs);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, bytes_per_item_after_windash_expansion)
{
    // One 20 KB value with five dashes would be 3,125 copies (62 MB); 20 values of 1,500 bytes
    // stay far under the count cap (62,500 variants) but pass 4 MiB in all. Both are refused
    // with a located error; four values of 100 bytes (1.3 MB of variants) load.
    static const struct {
        size_t nvalues, len;
        bool ok;
    } cases[] = { { 1, 20000, false }, { 4, 100, true }, { 20, 1500, false } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sk_buf b;
        sk_buf_init(&b, 1u << 20);
        sk_buf_puts(&b, rule_head);
        sk_buf_puts(&b, "  sel:\n    CommandLine|windash|contains:\n");
        for (size_t i = 0; i < cases[c].nvalues; i++) {
            sk_buf_printf(&b, "      - ' -a -b -c -d -e %zu", i);
            for (size_t k = 0; k < cases[c].len; k++)
                cr_assert_eq(sk_buf_addc(&b, 'x'), SK_OK);
            sk_buf_puts(&b, "'\n");
        }
        sk_buf_puts(&b, "  condition: sel\n");
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_ruleset *rs = load_rules(b.p, b.n, &td);
        cr_expect_str_eq(only_code(rs), cases[c].ok ? "" : "too-many-values", "%s", td.text);
        cr_expect(cases[c].ok || strstr(td.text, "4 MiB"), "case %zu: %s", c, td.text);
        sk_ruleset_free(rs);
        sk_buf_fini(&b);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(limits, catastrophic_regex_hits_the_match_limit_and_does_not_match)
{
    static const char rule[] = "title: Backtracking\n"
                               "logsource:\n"
                               "  product: windows\n"
                               "  category: process_creation\n"
                               "detection:\n"
                               "  sel:\n"
                               "    CommandLine|re: '^(a+)+$'\n"
                               "  condition: sel\n";
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_ruleset *rs = load_rules(rule, strlen(rule), &td);
    cr_assert_str_eq(only_code(rs), "", "%s", td.text);
    char value[64];
    memset(value, 'a', sizeof value - 2);
    value[sizeof value - 2] = 'b';
    value[sizeof value - 1] = '\0';
    sk_event ev;
    sk_event_init(&ev);
    cr_assert_eq(sk_event_add(&ev, "EventID", 7, "1", 1, SK_FIELD_SYSTEM), SK_OK);
    cr_assert_eq(
            sk_event_add(
                    &ev, "Channel", 7, "Microsoft-Windows-Sysmon/Operational", 36, SK_FIELD_SYSTEM),
            SK_OK);
    cr_assert_eq(sk_event_add_data(&ev, "CommandLine", 11, value, strlen(value)), SK_OK);
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 0); // 2^62 paths; the limit stops it
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_expect_eq(sk_matcher_limit_hits(m), 1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(secs, 5.0, "the match limit should stop it in milliseconds, took %.2f s", secs);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Folder walks: SK_MAX_WALK_DEPTH

static sk_status count_file(void *ctx, const char *path, const struct stat *sb, bool named)
{
    (void)path;
    (void)sb;
    (void)named;
    (*(unsigned *)ctx)++;
    return SK_OK;
}

Test(limits, walk_depth_over_cap_is_reported)
{
    char tmpl[] = "/tmp/saker-limits-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    sk_buf p;
    sk_buf_init(&p, 1u << 16);
    sk_buf_puts(&p, tmpl);
    for (unsigned i = 0; i <= SK_MAX_WALK_DEPTH; i++) {
        sk_buf_puts(&p, "/d");
        cr_assert_eq(mkdir(sk_buf_str(&p), 0700), 0);
    }
    sk_buf_puts(&p, "/deep.json");
    FILE *f = fopen(sk_buf_str(&p), "w");
    cr_assert_not_null(f);
    fclose(f);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_walk_stats ws = { 0 };
    unsigned files = 0;
    cr_expect_eq(sk_walk(tmpl, NULL, &ws, &td.dl, count_file, &files), SK_OK);
    cr_expect_eq(files, 0);
    char want[64];
    snprintf(want, sizeof want, "folders nested deeper than %u; not followed", SK_MAX_WALK_DEPTH);
    cr_expect_not_null(strstr(td.text, want), "%s", td.text);
    cr_expect_eq(ws.unreadable, 1);
    // Clean up, deepest first.
    char *s = sk_buf_take(&p);
    for (char *slash; (slash = strrchr(s, '/')) != NULL && strlen(s) > strlen(tmpl);) {
        cr_expect_eq(remove(s), 0, "%s", s);
        *slash = '\0';
    }
    cr_expect_eq(rmdir(tmpl), 0);
    free(s);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Real data stays far below every cap

typedef struct peaks {
    size_t files;
    size_t events;
    size_t fields;  // most fields in one event
    size_t value;   // longest value
    size_t line;    // longest NDJSON line
    size_t skipped; // records or lines skipped for any reason
} peaks;

static void scan_input(peaks *pk, const char *path)
{
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_reader *r = NULL;
    if (sk_input_open(&r, path, NULL, &dl) != SK_OK)
        return;
    pk->files++;
    const sk_event *ev;
    while (sk_reader_next(r, &ev) == SK_OK) {
        pk->events++;
        if (sk_event_nfields(ev) > pk->fields)
            pk->fields = sk_event_nfields(ev);
        for (size_t i = 0; i < sk_event_nfields(ev); i++)
            if (sk_event_field(ev, i)->value_len > pk->value)
                pk->value = sk_event_field(ev, i)->value_len;
    }
    const sk_reader_stats *st = sk_reader_stats_get(r);
    pk->skipped += st->records_skipped + st->lines_skipped;
    sk_reader_close(r);
    // Longest line, for NDJSON.
    FILE *f = fopen(path, "rb");
    if (f) {
        size_t cur = 0;
        int c;
        unsigned char head[8];
        if (fread(head, 1, 8, f) == 8 && memcmp(head, "ElfFile", 7) == 0) {
            fclose(f);
            return;
        }
        rewind(f);
        while ((c = getc(f)) != EOF) {
            if (c == '\n')
                cur = 0;
            else if (++cur > pk->line)
                pk->line = cur;
        }
        fclose(f);
    }
}

static sk_status scan_cb(void *ctx, const char *path, const struct stat *sb, bool named)
{
    (void)sb;
    (void)named;
    scan_input(ctx, path);
    return SK_OK;
}

static void scan_tree(peaks *pk, const char *path)
{
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_walk_stats ws = { 0 };
    cr_assert_eq(sk_walk(path, NULL, &ws, &dl, scan_cb, pk), SK_OK);
}

Test(limits, real_logs_stay_far_below_the_caps, .timeout = 600)
{
    char buf[4096];
    peaks pk = { 0 };
    scan_tree(&pk, sk_test_src("samples", buf, sizeof buf));
    const char *corpus = sk_test_corpus();
    if (corpus) {
        const char *sub[] = { "evtx-attack", "baseline", "ndjson", "sigma-regression" };
        for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
            snprintf(buf, sizeof buf, "%s/%s", corpus, sub[i]);
            struct stat st;
            if (stat(buf, &st) == 0)
                scan_tree(&pk, buf);
        }
    } else {
        cr_log_warn("../shared/corpus is absent: only samples/ checked");
    }
    cr_log_info("%zu files, %zu events: most fields %zu, longest value %zu, longest line %zu",
                pk.files,
                pk.events,
                pk.fields,
                pk.value,
                pk.line);
    cr_expect_gt(pk.events, 0);
    // A factor of 10 (at least) between the largest real figure and every cap.
    cr_expect_lt(pk.fields * 10, SK_MAX_FIELDS);
    cr_expect_lt(pk.value * 10, SK_MAX_VALUE_BYTES);
    cr_expect_lt(pk.line * 10, SK_MAX_LINE_BYTES);
    SK_ASSERT_NO_LEAKS();
}

Test(limits, real_rules_stay_far_below_the_caps, .timeout = 600)
{
    const char *corpus = sk_test_corpus();
    char buf[4096];
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, sk_test_src("rules", buf, sizeof buf), &td.dl), SK_OK);
    if (corpus) {
        snprintf(buf, sizeof buf, "%s/sigma-rules", corpus);
        struct stat st;
        if (stat(buf, &st) == 0)
            cr_expect_eq(sk_rule_loader_add_path(l, buf, &td.dl), SK_OK);
    } else {
        cr_log_warn("../shared/corpus is absent: only rules/ checked");
    }
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_expect_gt(sk_ruleset_count(rs), 0);
    static const char *const limit_codes[] = {
        "file-too-large", "yaml-limit", "yaml-alias", "too-many-values"
    };
    for (size_t i = 0; i < sk_ruleset_reason_count(rs); i++) {
        const char *code;
        size_t n;
        sk_ruleset_reason_at(rs, i, &code, &n);
        for (size_t k = 0; k < sizeof limit_codes / sizeof *limit_codes; k++)
            cr_expect_str_neq(code, limit_codes[k], "%zu real rules hit the cap '%s'", n, code);
    }
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}
