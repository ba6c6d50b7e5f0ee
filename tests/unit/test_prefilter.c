// The literal prefilter (src/rules/prefilter.c) only saves work: which fields it scans (by name
// class, only what the candidate rules read, keyword literals only in visible fields) and which
// predicates it lets the matcher skip must never change a result. Every test here compares
// sk_matcher_run (index, prefilter, skipped predicates) with sk_matcher_run_rule on every rule
// (none of them); the targeted cases also check the expected hits.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/mem.h"
#include "event/event.h"
#include "helpers.h"
#include "input/reader.h"
#include "rules/rules_int.h"
#include "rules/ruleset.h"

#define SYSMON "Microsoft-Windows-Sysmon/Operational"

static sk_ruleset *load_text(const char *yaml)
{
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "test.yml", yaml, strlen(yaml), &dl), SK_OK);
    return sk_rule_loader_finish(l);
}

typedef struct hits {
    unsigned char *hit; // per rule index
} hits;

static void mark(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)ev;
    (void)it;
    (void)n;
    ((hits *)ctx)->hit[sk_rule_index(r)] = 1;
}

// Runs every rule both ways; returns the number of rules on which they disagree (reported).
static size_t
compare(sk_ruleset *rs, sk_matcher *m, const sk_event *ev, hits *fast, const char *what)
{
    size_t nr = sk_ruleset_count(rs), diffs = 0;
    hits slow = { sk_xcalloc(nr + 1, 1) };
    memset(fast->hit, 0, nr + 1);
    (void)sk_matcher_run(m, ev, mark, fast);
    for (size_t i = 0; i < nr; i++)
        (void)sk_matcher_run_rule(m, sk_ruleset_rule(rs, i), ev, mark, &slow);
    for (size_t i = 0; i < nr; i++) {
        if (fast->hit[i] == slow.hit[i])
            continue;
        diffs++;
        cr_expect(false,
                  "%s: rule \"%s\": prefiltered %d, full %d",
                  what,
                  sk_rule_title(sk_ruleset_rule(rs, i)),
                  fast->hit[i],
                  slow.hit[i]);
    }
    free(slow.hit);
    return diffs;
}

// The titles of the rules that hit, in rule order, comma-separated (static buffer).
static const char *hit_titles(sk_ruleset *rs, const hits *h)
{
    static char got[512];
    got[0] = '\0';
    for (size_t i = 0; i < sk_ruleset_count(rs); i++)
        if (h->hit[i]) {
            if (got[0])
                strcat(got, ",");
            strcat(got, sk_rule_title(sk_ruleset_rule(rs, i)));
        }
    return got;
}

// ---------------------------------------------------------------------------------------------
// Targeted cases

static const char *const RULES =
        "title: kw\n"
        "logsource: {product: windows}\n"
        "detection:\n"
        "  keywords: ['sekurlsa::logonpasswords', 'evil-kw.exe']\n"
        "  condition: keywords\n"
        "---\n"
        "title: cmd\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  img: {Image|endswith: '\\powershell.exe'}\n"
        "  cli: {CommandLine|contains: ['invoke-mimikatz', 'downloadstring']}\n"
        "  condition: img and cli\n"
        "---\n"
        "title: all\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|contains|all: [' -enc ', 'hidden', 'bypass']}\n"
        "  condition: sel\n"
        "---\n"
        "title: tail3\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|endswith: 'iex'}\n"
        "  condition: sel\n"
        "---\n"
        "title: raw\n"
        "logsource: {product: windows}\n"
        "detection:\n"
        "  sel: {winlog.event_data.TargetFilename|endswith: '.evilext'}\n"
        "  condition: sel\n"
        "---\n"
        "title: cased\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|cased|contains: 'SeDebugPriv'}\n"
        "  condition: sel\n"
        "---\n"
        "title: b64\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|base64offset|contains: 'http://'}\n"
        "  condition: sel\n"
        "---\n"
        "title: unicode\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  cjk: {CommandLine|contains: "
        "'\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89'}\n"
        "  cyr: {CommandLine|contains: '\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c'}\n"
        "  condition: 1 of them\n"
        "---\n"
        "title: many\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {ParentImage|endswith: ['\\a1.exe', '\\a2.exe', '\\a3.exe', '\\a4.exe', "
        "'\\a5.exe', '\\a6.exe', '\\a7.exe', '\\a8.exe', '\\a9.exe', '\\needle-42.exe']}\n"
        "  condition: sel\n"
        "---\n"
        "title: windash\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|windash|contains: ' -nop '}\n"
        "  condition: sel\n"
        "---\n"
        "title: notsel\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {Image|endswith: '\\notepad.exe'}\n"
        "  filter: {CommandLine|contains: 'harmless-arg'}\n"
        "  condition: sel and not filter\n"
        "---\n"
        "title: regex\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|re: 'x[0-9]{3}y'}\n"
        "  condition: sel\n"
        "---\n"
        "title: glob\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine: '*\\\\temp\\\\*.ps1*'}\n"
        "  condition: sel\n";

typedef struct fspec {
    const char *name;
    const char *value;
    uint32_t flags;
} fspec;

typedef struct tcase {
    const char *what;
    fspec f[8];
    const char *expect; // hit titles in rule order, comma-separated
} tcase;

#define H SK_FIELD_HIDDEN

static const tcase CASES[] = {
    { "keyword in a visible field",
      { { "Channel", "Security", 0 },
        { "EventID", "4624", 0 },
        { "message", "xx SEKURLSA::LogonPasswords yy", 0 } },
      "kw" },
    { "keyword only in a hidden field",
      { { "Channel", "Security", 0 },
        { "EventID", "4624", 0 },
        { "winlog.event_data.X", "sekurlsa::logonpasswords", H } },
      "" },
    { "keyword in a field other rules read",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine", "run EVIL-KW.EXE now", 0 } },
      "kw" },
    { "keyword in a field only rules of other events read",
      { { "Channel", "Security", 0 },
        { "EventID", "4624", 0 },
        { "CommandLine", "run evil-kw.exe now", 0 } },
      "kw" },
    { "contains|all and windash",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "Image", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\PowerShell.exe", 0 },
        { "CommandLine", "powershell /NoP -W Hidden -ENC abc BYPASS", 0 } },
      "all,windash" },
    { "contains|all with one value absent",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine", "powershell -W Hidden -ENC abc", 0 } },
      "" },
    { "field names in another case",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "image", "c:\\x\\POWERSHELL.EXE", 0 },
        { "commandline", "a DownloadString b", 0 } },
      "cmd" },
    { "Security 4688 renames",
      { { "Channel", "Security", 0 },
        { "EventID", "4688", 0 },
        { "NewProcessName", "C:\\x\\powershell.exe", 0 },
        { "CommandLine", "Invoke-Mimikatz", 0 } },
      "cmd" },
    { "literal in the wrong field",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "Image", "C:\\x\\powershell.exe", 0 },
        { "ParentCommandLine", "invoke-mimikatz", 0 },
        { "CommandLine", "nothing here", 0 } },
      "" },
    { "3-byte literal at the end and as the whole value",
      { { "Channel", SYSMON, 0 }, { "EventID", "1", 0 }, { "CommandLine", "IEX", 0 } },
      "tail3" },
    { "3-byte literal after a longer value",
      { { "Channel", SYSMON, 0 }, { "EventID", "1", 0 }, { "CommandLine", "a | iex", 0 } },
      "tail3" },
    { "a rule naming a hidden raw path",
      { { "Channel", SYSMON, 0 },
        { "EventID", "11", 0 },
        { "TargetFilename", "C:\\x.evilext", 0 },
        { "winlog.event_data.TargetFilename", "C:\\x.EVILEXT", H } },
      "raw" },
    { "cased",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine", "sedebugpriv SeDebugPrivilege", 0 } },
      "cased" },
    { "cased, other case only",
      { { "Channel", SYSMON, 0 }, { "EventID", "1", 0 }, { "CommandLine", "SEDEBUGPRIVILEGE", 0 } },
      "" },
    { "base64offset",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine", "powershell -e ICBodHRwOi8vZXZpbA==", 0 } },
      "b64" },
    { "three-byte characters and two-byte characters",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine",
          "x \xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xe3\x83\xbc\xe3\x83\x89 \xd0\x9f\xd0\x90\xd0\xa0"
          "\xd0\x9e\xd0\x9b\xd0\xac",
          0 } },
      "unicode" },
    { "a long value list",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "ParentImage", "C:\\Temp\\NEEDLE-42.exe", 0 } },
      "many" },
    { "not: the filter literal absent",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "Image", "C:\\Windows\\notepad.exe", 0 },
        { "CommandLine", "notepad x", 0 } },
      "notsel" },
    { "not: the filter literal present",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "Image", "C:\\Windows\\notepad.exe", 0 },
        { "CommandLine", "harmless-arg", 0 } },
      "" },
    { "regex and glob (no literal index)",
      { { "Channel", SYSMON, 0 },
        { "EventID", "1", 0 },
        { "CommandLine", "x123y C:\\TEMP\\a.PS1", 0 } },
      "regex,glob" },
    { "no channel (flat export)",
      { { "EventID", "1", 0 },
        { "Image", "C:\\x\\powershell.exe", 0 },
        { "CommandLine", "downloadstring", 0 } },
      "cmd" },
    { "an event with no field at all", { { NULL, NULL, 0 } }, "" },
};

static void build(sk_event *ev, const fspec *f)
{
    sk_event_reset(ev);
    for (size_t i = 0; i < 8 && f[i].name; i++)
        cr_assert_eq(sk_event_add(ev,
                                  f[i].name,
                                  strlen(f[i].name),
                                  f[i].value,
                                  strlen(f[i].value),
                                  f[i].flags),
                     SK_OK);
    sk_event_finish(ev);
}

static const fspec *case_fields(const char *what)
{
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++)
        if (strcmp(CASES[c].what, what) == 0)
            return CASES[c].f;
    cr_assert_fail("no case '%s'", what);
    return NULL;
}

Test(prefilter, targeted_cases_agree_with_full_evaluation)
{
    sk_ruleset *rs = load_text(RULES);
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 13);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        build(&ev, CASES[c].f);
        cr_expect_eq(compare(rs, m, &ev, &fast, CASES[c].what), 0, "%s", CASES[c].what);
        const char *got = hit_titles(rs, &fast);
        cr_expect_str_eq(got, CASES[c].expect, "%s", CASES[c].what);
    }
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// Two matchers on one ruleset keep separate marks; a matcher reused for sk_matcher_run_rule after
// sk_matcher_run on another event must not reuse that event's marks.
Test(prefilter, marks_are_per_matcher_and_per_event)
{
    sk_ruleset *rs = load_text(RULES);
    size_t nr = sk_ruleset_count(rs);
    sk_matcher *a = sk_matcher_new(rs), *b = sk_matcher_new(rs);
    hits h = { sk_xcalloc(nr + 1, 1) };
    sk_event e1, e2;
    sk_event_init(&e1);
    sk_event_init(&e2);
    build(&e1, case_fields("contains|all and windash"));
    build(&e2, case_fields("contains|all with one value absent"));
    cr_assert_eq(sk_matcher_run(a, &e2, mark, &h), 0);
    cr_assert_eq(sk_matcher_run(b, &e1, mark, &h), 2);
    // a has e2's marks; running a rule on e1 must evaluate it fully
    memset(h.hit, 0, nr + 1);
    for (size_t i = 0; i < nr; i++)
        (void)sk_matcher_run_rule(a, sk_ruleset_rule(rs, i), &e1, mark, &h);
    size_t n = 0;
    for (size_t i = 0; i < nr; i++)
        n += h.hit[i];
    cr_expect_eq(n, 2);
    sk_event_fini(&e1);
    sk_event_fini(&e2);
    free(h.hit);
    sk_matcher_free(a);
    sk_matcher_free(b);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

Test(prefilter, rulesets_without_literals)
{
    const char *yaml = "title: r\n"
                       "logsource: {product: windows}\n"
                       "detection:\n"
                       "  sel: {EventID: 1}\n"
                       "  condition: sel\n";
    sk_ruleset *rs = load_text(yaml);
    sk_matcher *m = sk_matcher_new(rs);
    hits h = { sk_xcalloc(2, 1) };
    sk_event ev;
    sk_event_init(&ev);
    build(&ev, case_fields("keyword in a visible field"));
    cr_expect_eq(compare(rs, m, &ev, &h, "eid"), 0);
    sk_event_fini(&ev);
    free(h.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    // and none at all
    rs = load_text("");
    m = sk_matcher_new(rs);
    sk_event_init(&ev);
    build(&ev, case_fields("keyword in a visible field"));
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 0);
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// One field value of an event of channel chan and id eid: every rule both ways must agree, and
// exactly the rules titled expect (hit_titles) must hit. True when some rule hit.
static bool check_value(sk_ruleset *rs,
                        sk_matcher *m,
                        sk_event *ev,
                        hits *fast,
                        const char *chan,
                        const char *eid,
                        const char *field,
                        const char *v,
                        const char *expect,
                        const char *what)
{
    fspec f[4] = {
        { "Channel", chan, 0 }, { "EventID", eid, 0 }, { field, v, 0 }, { NULL, NULL, 0 }
    };
    build(ev, f);
    cr_expect_eq(compare(rs, m, ev, fast, what), 0, "%s", what);
    const char *got = hit_titles(rs, fast);
    cr_expect_str_eq(got, expect, "%s", what);
    return got[0] != '\0';
}

// Long literals make the scan read a gram only at every step-th position (up to 6; each literal
// filed under a window of that many of its grams), and keyword literals are kept per candidate
// list. Every literal at every offset from a step boundary, with and without its last byte, in
// upper case, on its own channel and on another one, must agree with full evaluation.
static const char *const LONG_RULES =
        "title: syskw\n"
        "logsource: {product: windows, service: system}\n"
        "detection:\n"
        "  keywords: ['abcdefghijklmnop', 'qrstuvwxyz0123']\n"
        "  condition: keywords\n"
        "---\n"
        "title: longcli\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|contains: ['zyxwvutsrqponm', 'needle-in-a-haystack']}\n"
        "  condition: sel\n"
        "---\n"
        "title: midcli\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {ParentCommandLine|contains: ['1234567', 'abcdefgh']}\n"
        "  condition: sel\n";

Test(prefilter, long_literals_at_every_offset)
{
    sk_ruleset *rs = load_text(LONG_RULES);
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 3);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    static const struct {
        const char *chan, *eid, *field, *lit, *expect;
    } where[] = {
        { "System", "7045", "ImagePath", "abcdefghijklmnop", "syskw" },
        { "System", "7045", "ImagePath", "QRSTUVWXYZ0123", "syskw" },
        { "Security", "4624", "ImagePath", "abcdefghijklmnop", "" }, // not a candidate there
        { SYSMON, "1", "CommandLine", "zyxwvutsrqponm", "longcli" },
        { SYSMON, "1", "CommandLine", "Needle-In-A-Haystack", "longcli" },
        { SYSMON, "1", "ParentCommandLine", "1234567", "midcli" },
        { SYSMON, "1", "ParentCommandLine", "ABCDEFGH", "midcli" },
        { SYSMON, "1", "Image", "zyxwvutsrqponm", "" }, // a field the rule does not read
    };
    size_t checked = 0;
    for (size_t w = 0; w < sizeof where / sizeof where[0]; w++) {
        size_t ll = strlen(where[w].lit);
        for (size_t off = 0; off < 20; off++) {
            for (size_t tail = 0; tail < 3; tail++) {
                for (int cut = 0; cut < 2; cut++) {
                    char v[64];
                    memset(v, 'x', off);
                    memcpy(v + off, where[w].lit, ll - (size_t)cut);
                    memset(v + off + ll - (size_t)cut, 'y', tail);
                    v[off + ll - (size_t)cut + tail] = '\0';
                    char what[128];
                    snprintf(what,
                             sizeof what,
                             "%s at %zu, tail %zu, cut %d",
                             where[w].lit,
                             off,
                             tail,
                             cut);
                    (void)check_value(rs,
                                      m,
                                      &ev,
                                      &fast,
                                      where[w].chan,
                                      where[w].eid,
                                      where[w].field,
                                      v,
                                      cut ? "" : where[w].expect,
                                      what);
                    checked++;
                }
            }
        }
    }
    cr_assert_eq(checked, 8 * 20 * 3 * 2);
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// One class per scan step: the shortest literal of a set (length 4..9: 1..6 grams) sets its step.
static const char STEP_RULES[] =
        "title: s1\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {CommandLine|contains: 'q4z1'}, condition: sel}\n"
        "---\n"
        "title: s2\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {ParentCommandLine|contains: 'q5z2w'}, condition: sel}\n"
        "---\n"
        "title: s3\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {Image|contains: 'q6z3wv'}, condition: sel}\n"
        "---\n"
        "title: s4\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {ParentImage|contains: 'q7z4wvu'}, condition: sel}\n"
        "---\n"
        "title: s5\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {OriginalFileName|contains: 'q8z5wvut'}, condition: sel}\n"
        "---\n"
        "title: s6\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {Description|contains: 'q9z6wvuts'}, condition: sel}\n";

// Long values (the scan reads 8 positions at a time there where the CPU has AVX2, and one
// at a time elsewhere and in the last bytes): each step's literal at every offset of values up
// to 140 bytes, upper-cased or cut short by one byte, must be found exactly where it is whole.
Test(prefilter, every_step_at_every_offset_of_long_values)
{
    sk_ruleset *rs = load_text(STEP_RULES);
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 6);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    static const struct {
        const char *field, *lit, *title;
    } steps[] = {
        { "CommandLine", "q4z1", "s1" },
        { "ParentCommandLine", "q5z2w", "s2" },
        { "Image", "q6z3wv", "s3" },
        { "ParentImage", "q7z4wvu", "s4" },
        { "OriginalFileName", "q8z5wvut", "s5" },
        { "Description", "q9z6wvuts", "s6" },
    };
    size_t checked = 0, found = 0;
    for (size_t k = 0; k < 6; k++) {
        size_t ll = strlen(steps[k].lit);
        for (size_t off = 0; off < 120; off++) {
            for (size_t tail = 0; tail < 20; tail += 7) {
                for (int form = 0; form < 3; form++) { // as is, upper case, cut short
                    char v[160];
                    size_t n = off;
                    memset(v, 'x', off);
                    for (size_t i = 0; i < ll - (form == 2); i++)
                        v[n++] = form == 1 ? (char)toupper((unsigned char)steps[k].lit[i])
                                           : steps[k].lit[i];
                    memset(v + n, 'y', tail);
                    v[n + tail] = '\0';
                    char what[96];
                    snprintf(what,
                             sizeof what,
                             "%s at %zu, tail %zu, form %d",
                             steps[k].lit,
                             off,
                             tail,
                             form);
                    found += check_value(rs,
                                         m,
                                         &ev,
                                         &fast,
                                         SYSMON,
                                         "1",
                                         steps[k].field,
                                         v,
                                         form == 2 ? "" : steps[k].title,
                                         what);
                    checked++;
                }
            }
        }
    }
    cr_assert_eq(checked, 6 * 120 * 3 * 3);
    cr_assert_eq(found, 6 * 120 * 3 * 2);
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// A set with a few short literals among long ones keeps the long ones' step and finds the short
// ones by their first three bytes (the short part; AVX2 over 32 positions at a time where the CPU
// has it). One set mixes 3..6-byte literals with long ones, another has short ones only, and a
// keyword list is short too (and five short literals that begin alike stay in a gram part);
// each literal at every offset of values up to 150 bytes, as written,
// upper-cased, cut short by one byte, and as a decoy that folds like it (bit 5 set in each byte)
// without being equal, must be found exactly where it is whole.
static const char SHORT_RULES[] =
        "title: mixed\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {CommandLine|contains: ['\\k-', 'q4z1', 'r5-w2', '-w 1 z', 'a-long-literal-01',\n"
        "        'another-long-literal', 'third-long-literal']}\n"
        "  condition: sel\n"
        "---\n"
        "title: shortonly\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection: {sel: {Image|contains: ['q-k', 'zz9z', '.k7']}, condition: sel}\n"
        "---\n"
        "title: shortkw\n"
        "logsource: {product: windows, service: system}\n"
        "detection: {keywords: ['@k~', 'sv1c'], condition: keywords}\n"
        "---\n"
        "title: sameprefix\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {ParentImage|contains: ['zq1a', 'zq1b', 'zq1c', 'zq1d', 'zq1e', "
        "'not-short-at-all']}\n"
        "  condition: sel\n"
        "---\n"
        "title: allthree\n"
        "logsource: {product: windows, category: process_creation}\n"
        "detection:\n"
        "  sel: {OriginalFileName|contains|all: ['k9j', 'an-anchor']}\n"
        "  other: {OriginalFileName|contains: 'w7q4'}\n"
        "  condition: sel or other\n";

Test(prefilter, short_literals_at_every_offset)
{
    sk_ruleset *rs = load_text(SHORT_RULES);
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 5);
    // mixed: 4 short; shortonly: 3 in Image and 3 in NewProcessName (its name in Security
    // 4688); the keyword set of System and that of events without a channel: 2 each;
    // sameprefix: none (five short literals begin alike: a set where a value of "zq1zq1zq1..."
    // would have each of them verified at every third byte keeps them in its gram part);
    // allthree: 'w7q4', 'an-anchor' and 'k9j', a 3-byte literal of a value only (not a rule
    // atom), which is looked for too where the set has a short part anyway, so that its
    // predicate is decided without a search
    cr_assert_eq(pf_short_literals(rs), 4 + 3 + 3 + 2 + 2 + 3, "%zu", pf_short_literals(rs));
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    static const struct {
        const char *chan, *eid, *field, *lit, *decoy, *title, *also;
    } lits[] = {
        { SYSMON, "1", "CommandLine", "\\k-", "|K\r", "mixed", "" },
        { SYSMON, "1", "CommandLine", "q4z1", "Q\x14Z\x11", "mixed", "" },
        { SYSMON, "1", "CommandLine", "r5-w2", "R\x15\rW\x12", "mixed", "" },
        { SYSMON, "1", "CommandLine", "-w 1 z", "\rW 1 Z", "mixed", "" },
        { SYSMON,
          "1",
          "CommandLine",
          "another-long-literal",
          "ANOTHER\rLONG-LITERAL",
          "mixed",
          "" },
        { SYSMON, "1", "Image", "q-k", "Q\rK", "shortonly", "" },
        { SYSMON, "1", "Image", "zz9z", "ZZ\x19Z", "shortonly", "" },
        { SYSMON, "1", "Image", ".k7", "\x0eK\x17", "shortonly", "" },
        { "System", "7045", "ImagePath", "@k~", "`K^", "shortkw", "" },
        { "System", "7045", "ImagePath", "sv1c", "SV\021C", "shortkw", "" },
        { SYSMON, "1", "ParentImage", "zq1e", "ZQ\021E", "sameprefix", "" },
        { SYSMON, "1", "OriginalFileName", "k9j", "K\031J", "allthree", "an-anchor" },
    };
    const size_t nl = sizeof lits / sizeof lits[0];
    size_t checked = 0, found = 0;
    for (size_t k = 0; k < nl; k++) {
        size_t ll = strlen(lits[k].lit);
        for (size_t off = 0; off < 110; off++) {
            for (size_t tail = 0; tail < 40; tail += 13) {
                for (int form = 0; form < 4; form++) { // as is, upper case, cut short, decoy
                    char v[224];
                    size_t n = off;
                    memset(v, 'x', off);
                    for (size_t i = 0; i < ll - (form == 2); i++)
                        v[n++] = form == 1   ? (char)toupper((unsigned char)lits[k].lit[i])
                                 : form == 3 ? lits[k].decoy[i]
                                             : lits[k].lit[i];
                    memset(v + n, 'y', tail);
                    n += tail;
                    // what the rule needs besides the literal
                    n += (size_t)sprintf(v + n, "%s", lits[k].also);
                    v[n] = '\0';
                    char what[96];
                    snprintf(what,
                             sizeof what,
                             "%s at %zu, tail %zu, form %d",
                             lits[k].lit,
                             off,
                             tail,
                             form);
                    found += check_value(rs,
                                         m,
                                         &ev,
                                         &fast,
                                         lits[k].chan,
                                         lits[k].eid,
                                         lits[k].field,
                                         v,
                                         form >= 2 ? "" : lits[k].title,
                                         what);
                    checked++;
                }
            }
        }
    }
    cr_assert_eq(checked, nl * 110 * 4 * 4);
    cr_assert_eq(found, nl * 110 * 4 * 2);
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// A literal is verified in place by word compares (eight bytes, the last eight overlapping; below
// eight, the first and last four): literals of 4 to 20 bytes, each with one byte changed at every
// position (still a letter), in short values and in long ones (the AVX2 scans), must not be
// found, and as written or upper-cased must.
Test(prefilter, one_byte_off_at_every_position_of_the_literal)
{
    enum {
        MINLEN = 4,
        MAXLEN = 20,
        NLEN = MAXLEN - MINLEN + 1
    };
    char lits[NLEN][MAXLEN + 1];
    sk_buf y;
    sk_buf_init(&y, 1 << 20);
    for (size_t k = 0; k < NLEN; k++) {
        size_t len = MINLEN + k;
        for (size_t i = 0; i < len; i++) // no literal holds another one
            lits[k][i] = (char)('a' + (k * 5 + i * 3 + (i > 2 ? k : 0)) % 26);
        lits[k][len] = '\0';
        cr_assert_eq(sk_buf_addf(&y,
                                 "%stitle: len%zu\n"
                                 "logsource: {product: windows, category: process_creation}\n"
                                 "detection: {sel: {CommandLine|contains: '%s'}, condition: sel}\n",
                                 k ? "---\n" : "",
                                 len,
                                 lits[k]),
                     SK_OK);
    }
    sk_ruleset *rs = load_text(y.p);
    sk_buf_fini(&y);
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, NLEN);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    size_t found = 0;
    for (size_t k = 0; k < NLEN; k++) {
        size_t len = MINLEN + k;
        for (size_t at = 0; at <= len + 1; at++) { // byte at changed; len: as is; len + 1: upper
            for (int pad = 0; pad < 2; pad++) {
                char lit[MAXLEN + 1], v[128];
                memcpy(lit, lits[k], len + 1);
                if (at < len)
                    lit[at] = lit[at] == 'z' ? 'a' : (char)(lit[at] + 1);
                for (size_t i = 0; at == len + 1 && i < len; i++)
                    lit[i] = (char)toupper((unsigned char)lit[i]);
                snprintf(v,
                         sizeof v,
                         "%s%s%s",
                         pad ? "x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-" : "",
                         lit,
                         pad ? " y y y y y y y y y y y y y y y y y y y y" : "");
                fspec f[4] = { { "Channel", SYSMON, 0 },
                               { "EventID", "1", 0 },
                               { "CommandLine", v, 0 },
                               { NULL, NULL, 0 } };
                build(&ev, f);
                char what[128];
                snprintf(what, sizeof what, "%.*s: byte %zu, pad %d", (int)len, lits[k], at, pad);
                cr_expect_eq(compare(rs, m, &ev, &fast, what), 0, "%s", what);
                cr_expect_eq(fast.hit[k], at >= len, "%s", what);
                found += fast.hit[k];
            }
        }
    }
    cr_assert_eq(found, NLEN * 2 * 2);
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// A plain case-insensitive contains holds without a search in the field where the scan found its
// literal, and only there: the same literal in another field (of the same event, read by another
// rule, or by a keyword) must not make it hold.
Test(prefilter, a_literal_found_in_one_field_holds_only_there)
{
    sk_ruleset *rs = load_text("title: cli\n"
                               "logsource: {product: windows, category: process_creation}\n"
                               "detection:\n"
                               "  sel: {CommandLine|contains: 'shared-literal'}\n"
                               "  condition: sel\n"
                               "---\n"
                               "title: parent\n"
                               "logsource: {product: windows, category: process_creation}\n"
                               "detection:\n"
                               "  sel: {ParentCommandLine|contains: 'shared-literal'}\n"
                               "  condition: sel\n"
                               "---\n"
                               "title: both\n"
                               "logsource: {product: windows, category: process_creation}\n"
                               "detection:\n"
                               "  a: {CommandLine|contains: 'shared-literal'}\n"
                               "  b: {Image|contains: 'shared-literal'}\n"
                               "  condition: a and b\n"
                               "---\n"
                               "title: kw\n"
                               "logsource: {product: windows}\n"
                               "detection:\n"
                               "  keywords: ['shared-literal']\n"
                               "  condition: keywords\n");
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 4);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    static const struct {
        const char *cli, *parent, *image;
        uint32_t parent_flags;
        const char *expect;
    } cases[] = {
        { "x", "a SHARED-LITERAL b", "y", 0, "parent,kw" },
        { "a Shared-Literal", "x", "y", 0, "cli,kw" },
        { "shared-literal", "shared-literal", "y", 0, "cli,parent,kw" },
        { "shared-literal", "x", "C:\\shared-literal.exe", 0, "cli,both,kw" },
        { "x", "x", "shared-literal", 0, "kw" },
        { "x", "shared-literal", "y", H, "parent" },
        { "shared-litera", "hared-literal", "y", 0, "" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fspec f[6] = { { "Channel", SYSMON, 0 },
                       { "EventID", "1", 0 },
                       { "ParentCommandLine", cases[c].parent, cases[c].parent_flags },
                       { "CommandLine", cases[c].cli, 0 },
                       { "Image", cases[c].image, 0 },
                       { NULL, NULL, 0 } };
        build(&ev, f);
        char what[32];
        snprintf(what, sizeof what, "case %zu", c);
        cr_expect_eq(compare(rs, m, &ev, &fast, what), 0, "%s", what);
        const char *got = hit_titles(rs, &fast);
        cr_expect_str_eq(got, cases[c].expect, "%s", what);
    }
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// The matcher remembers the ids of recent field names in a table keyed by length and ends: names
// that agree there must still be told apart, long names bypass it, and a name in another case
// keeps answering to its case-insensitive class.
Test(prefilter, remembered_field_names_are_told_apart)
{
    const char *long_name = "Field_name_longer_than_forty_bytes_for_the_memo_Y";
    sk_ruleset *rs = load_text("title: x\n"
                               "logsource: {product: windows}\n"
                               "detection:\n"
                               "  sel: {Aaaaaaaa_X_bbbbbbbb|contains: 'needle-x'}\n"
                               "  condition: sel\n"
                               "---\n"
                               "title: long\n"
                               "logsource: {product: windows}\n"
                               "detection:\n"
                               "  sel: {Field_name_longer_than_forty_bytes_for_the_memo_Y: 'v'}\n"
                               "  condition: sel\n");
    size_t nr = sk_ruleset_count(rs);
    cr_assert_eq(nr, 2);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event ev;
    sk_event_init(&ev);
    static const struct {
        const char *name, *value, *expect;
    } seq[] = {
        { "Aaaaaaaa_Y_bbbbbbbb", "a needle-x", "" },
        { "Aaaaaaaa_X_bbbbbbbb", "a needle-x", "x" },
        { "Aaaaaaaa_Y_bbbbbbbb", "a needle-x", "" },
        { "aaaaaaaa_x_BBBBBBBB", "needle-X", "x" },
        { "Aaaaaaaa_X_bbbbbbbb", "no", "" },
        { "Aaaaaaaa_X_bbbbbbbb", "needle-x", "x" },
        { "Field_name_longer_than_forty_bytes_for_the_memo_Z", "v", "" },
        { "Field_name_longer_than_forty_bytes_for_the_memo_Y", "v", "long" },
    };
    cr_assert_gt(strlen(long_name), 40);
    for (int round = 0; round < 3; round++) {
        for (size_t c = 0; c < sizeof seq / sizeof seq[0]; c++) {
            fspec f[4] = { { "Channel", "Security", 0 },
                           { "EventID", "4624", 0 },
                           { seq[c].name, seq[c].value, 0 },
                           { NULL, NULL, 0 } };
            build(&ev, f);
            char what[96];
            snprintf(what, sizeof what, "round %d, %s", round, seq[c].name);
            cr_expect_eq(compare(rs, m, &ev, &fast, what), 0, "%s", what);
            const char *got = hit_titles(rs, &fast);
            cr_expect_str_eq(got, seq[c].expect, "%s", what);
        }
    }
    sk_event_fini(&ev);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Mutated corpus events against the SigmaHQ Windows rules. Each real event is rewritten in ways
// that move literals across the prefilter's boundaries: field names lower-cased (case-folded
// lookup), values cut short (literals at the very end, 3-byte tails), values upper-cased,
// fields hidden or made visible, values moved to another field, the channel dropped (no index).

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void mutate(const sk_event *src, sk_event *dst, uint64_t *rng, sk_buf *nb, sk_buf *vb)
{
    sk_event_reset(dst);
    size_t nf = sk_event_nfields(src);
    unsigned mode = (unsigned)(rng_next(rng) % 6);
    for (size_t k = 0; k < nf; k++) {
        const sk_field *f = sk_event_field(src, k);
        const sk_field *g = sk_event_field(src, (size_t)(rng_next(rng) % nf));
        const char *name = f->name, *v = f->value;
        size_t name_len = f->name_len, n = f->value_len;
        uint32_t flags = f->flags;
        unsigned r = (unsigned)(rng_next(rng) % 8);
        if (mode == 5 && strcmp(name, "Channel") == 0)
            continue; // no channel: every rule is a candidate
        // Names in lower case; not the system fields the (channel, event id) index is built on:
        // the index finds events by their exact names, which is not the prefilter's business.
        if ((mode == 0 || r == 0) && !(flags & SK_FIELD_SYSTEM) && strcmp(name, "EventID") != 0 &&
            strcmp(name, "Channel") != 0) {
            sk_buf_reset(nb);
            for (size_t i = 0; i < name_len; i++) {
                char c = name[i];
                cr_assert_eq(sk_buf_addc(nb, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c), SK_OK);
            }
            name = sk_buf_str(nb);
        }
        if ((mode == 1 || r == 1) && n > 0) // cut short
            n = (size_t)(rng_next(rng) % (n + 1));
        if (mode == 2 || r == 2) { // upper case (ASCII)
            sk_buf_reset(vb);
            for (size_t i = 0; i < n; i++) {
                char c = v[i];
                cr_assert_eq(sk_buf_addc(vb, c >= 'a' && c <= 'z' ? (char)(c - 32) : c), SK_OK);
            }
            v = sk_buf_str(vb);
        }
        if (mode == 3 || r == 3) // visibility flipped
            flags ^= SK_FIELD_HIDDEN;
        if (mode == 4 || r == 4) { // another field's value (a suffix of it)
            size_t cut = g->value_len ? (size_t)(rng_next(rng) % g->value_len) : 0;
            v = g->value + cut;
            n = g->value_len - cut;
        }
        cr_assert_eq(sk_event_add(dst, name, name_len, v, n, flags), SK_OK);
    }
    sk_event_finish(dst);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(prefilter, mutated_corpus_events_agree_with_full_evaluation, .timeout = 600)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; mutation test skipped");
    char path[4096];
    snprintf(path, sizeof path, "%s/sigma-rules/rules/windows", corpus);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, path, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    size_t nr = sk_ruleset_count(rs);
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    snprintf(path, sizeof path, "%s/evtx-attack", corpus);
    sk_test_collect_logs(path, &files, &nfiles, &cap);
    snprintf(path, sizeof path, "%s/ndjson", corpus);
    sk_test_collect_logs(path, &files, &nfiles, &cap);
    qsort(files, nfiles, sizeof(char *), cmp_str);
    sk_matcher *m = sk_matcher_new(rs);
    hits fast = { sk_xcalloc(nr + 1, 1) };
    sk_event mut;
    sk_event_init(&mut);
    sk_buf nb, vb;
    sk_buf_init(&nb, 1u << 24);
    sk_buf_init(&vb, 1u << 24);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    size_t events = 0, diffs = 0;
    for (size_t f = 0; f < nfiles; f++) {
        sk_reader *rd = NULL;
        sk_diags rdl;
        sk_diags_init(&rdl, NULL, NULL);
        size_t fl = strlen(files[f]);
        sk_status ost;
        if (fl > 5 && strcmp(files[f] + fl - 5, ".json") == 0) {
            FILE *fp = fopen(files[f], "rb");
            cr_assert_not_null(fp);
            ost = sk_reader_open_ndjson(&rd, fp, NULL, 0, files[f], NULL, &rdl);
            if (ost != SK_OK)
                fclose(fp);
        } else {
            ost = sk_reader_open_evtx(&rd, files[f], files[f], NULL, &rdl);
        }
        if (ost == SK_OK) {
            const sk_event *ev;
            size_t in_file = 0;
            // a few events of every file, each mutated twice
            while (in_file++ < 40 && sk_reader_next(rd, &ev) == SK_OK) {
                for (int t = 0; t < 2; t++) {
                    mutate(ev, &mut, &rng, &nb, &vb);
                    events++;
                    char what[4200];
                    snprintf(what, sizeof what, "%s event %zu mutation %d", files[f], in_file, t);
                    diffs += compare(rs, m, &mut, &fast, what);
                }
            }
            sk_reader_close(rd);
        }
        free(files[f]);
    }
    free(files);
    fprintf(stderr, "prefilter mutations: %zu events, %zu differences\n", events, diffs);
    cr_expect_gt(events, 1000);
    sk_buf_fini(&nb);
    sk_buf_fini(&vb);
    sk_event_fini(&mut);
    free(fast.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
}

// A value's atom is its longest literal run (the first of the longest), lower-cased: the whole
// value when it is ASCII without wildcards or escapes (read in one pass), else the runs between
// wildcards, escapes unescaped, two-byte characters (which may fold) breaking runs.
Test(prefilter, value_atoms_are_the_longest_literal_run)
{
    static const struct {
        const char *pat;
        bool glob;
        const char *atom; // NULL: none
    } cases[] = {
        { "CMD.exe", true, "cmd.exe" },
        { "C:\\Windows\\System32\\", true, "c:\\windows\\system32\\" },
        { "\\\\server\\share", false, "\\\\server\\share" },
        { "ab", true, NULL },
        { "abc", true, "abc" },
        { "*MSHTA*", true, "mshta" },
        { "foo*barx?bazzy", true, "bazzy" },
        { "foo*bar?baz", true, "foo" },
        { "a\\*bcdef", true, "a*bcdef" },
        { "a\\*bcdef", false, "a\\*bcdef" },
        { "ab\\\\cd*x", true, "ab\\cd" },
        { "x?y", false, "x?y" },
        { "\xC3\x84"
          "BCDEF",
          true,
          "bcdef" },
        { "\xE2\x80\x93"
          "ABC",
          true,
          "\xE2\x80\x93"
          "abc" },
        { "Ab\xF0\x9F\x98\x80", true, "ab\xF0\x9F\x98\x80" },
        { "abc\x80xy", true, "abc" },
        // sixteen bytes at a time, stopped at the byte that needs the careful loop
        { "Program Files (x86)\\Microsoft\\Edge", true, "program files (x86)\\microsoft\\edge" },
        { "ABCDEFGHIJKLMNOPQRSTU*v", true, "abcdefghijklmnopqrstu" },
        { "ABCDEFGHIJKLMNOPQRSTU*v", false, "abcdefghijklmnopqrstu*v" },
        { "ABCDEFGHIJKLMNOPQRS\xC3\x84xyz", true, "abcdefghijklmnopqrs" },
        { "0123456789abcde\\\\fghij", true, "0123456789abcde\\fghij" },
        { "0123456789abcdef\\?ghij", true, "0123456789abcdef?ghij" },
        { "x*0123456789ABCDEFGHIJ", true, "0123456789abcdefghij" },
    };
    sk_ruleset *rs = rs_new();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        // alone, and as the shorter variant of two
        for (int two = 0; two < 2; two++) {
            char *pats[2] = { (char *)cases[i].pat, (char *)"0123456789012345678901234567890" };
            size_t lens[2] = { strlen(cases[i].pat), strlen(pats[1]) };
            cval cv;
            memset(&cv, 0, sizeof cv);
            pf_value_atoms(rs, &cv, pats, lens, two ? 2 : 1, cases[i].glob);
            if (!cases[i].atom) {
                cr_expect_eq(cv.natoms, 0, "'%s': an atom", cases[i].pat);
                continue;
            }
            cr_assert_eq(cv.natoms, two ? 2u : 1u, "'%s': no atom", cases[i].pat);
            cr_expect_eq(cv.alens[0], strlen(cases[i].atom), "'%s'", cases[i].pat);
            cr_expect(memcmp(cv.atoms[0], cases[i].atom, cv.alens[0]) == 0,
                      "'%s': atom '%.*s', want '%s'",
                      cases[i].pat,
                      (int)cv.alens[0],
                      cv.atoms[0],
                      cases[i].atom);
        }
    }
    sk_ruleset_free(rs);
}
