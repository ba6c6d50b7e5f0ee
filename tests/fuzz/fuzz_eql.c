// fuzz_eql: bytes as one EQL query -> the parser (eql_parse) and compiler (eql_compile) into a
// fresh ruleset, then, when it compiles, explain and a run over fixed events of several kinds
// (Sysmon process start, file creation, registry value set, DNS query; a Security 4688; an
// Elastic-processed document), with the match items touched. Prints nothing, keeps no state.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/eql_int.h"
#include "rules/rules_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void add(sk_event *ev, const char *name, const char *value)
{
    uint32_t flags = strcmp(name, "Channel") == 0 || strcmp(name, "EventID") == 0 ||
                                     strcmp(name, "Computer") == 0
                             ? SK_FIELD_SYSTEM
                             : 0;
    if (sk_event_add(ev, name, strlen(name), value, strlen(value), flags) != SK_OK)
        __builtin_trap();
}

#define SYSMON "Microsoft-Windows-Sysmon/Operational"

static const char *const events[][12] = {
    { "Channel",
      SYSMON,
      "EventID",
      "1",
      "Image",
      "C:\\Windows\\System32\\cmd.exe",
      "CommandLine",
      "cmd.exe /c \"echo a\\\"b\" x\\\\",
      "ParentImage",
      "C:\\Windows\\explorer.exe",
      "User",
      "CORP\\alice" },
    { "Channel",
      SYSMON,
      "EventID",
      "11",
      "Image",
      "C:\\Windows\\System32\\lsass.exe",
      "TargetFilename",
      "C:\\Windows\\Temp\\evil.exe",
      "Hashes",
      "SHA256=AB,MD5=00",
      NULL,
      NULL },
    { "Channel",
      SYSMON,
      "EventID",
      "13",
      "TargetObject",
      "HKLM\\Software\\Run\\x",
      "Details",
      "DWORD (0x00000004)",
      "EventType",
      "SetValue",
      NULL,
      NULL },
    { "Channel",
      SYSMON,
      "EventID",
      "22",
      "QueryName",
      "c2.example.com",
      "Image",
      "x",
      NULL,
      NULL,
      NULL,
      NULL },
    { "Channel",
      "Security",
      "EventID",
      "4688",
      "NewProcessName",
      "C:\\x\\a.exe",
      "NewProcessId",
      "0x1a4",
      "LogonType",
      "10",
      NULL,
      NULL },
    { "event.category",
      "file",
      "process.name",
      "wininit.exe",
      "process.args",
      "-a",
      "process.args",
      "-b",
      "host.os.type",
      "windows",
      NULL,
      NULL },
};

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sk_ruleset *rs = rs_new();
    eql_err err;
    const char *category = NULL;
    enode *root = eql_parse(&rs->arena, (const char *)data, size, &category, &err);
    if (!root && (!err.code || !err.msg[0] || err.off > size))
        __builtin_trap(); // every failure has a code, a message and an offset in the query
    if (root) {
        eql_query *q = rs_alloc(rs, sizeof(eql_query));
        q->text = rs_strndup(rs, (const char *)data, size);
        q->category = category;
        sk_vm **vms = NULL;
        size_t nvms = 0;
        bool ok = eql_compile(rs, q, root, &vms, &nvms, &err);
        for (size_t i = 0; i < nvms; i++) {
            if (ok)
                rs_add_vm(rs, vms[i]);
            else
                sk_vm_free(vms[i]);
        }
        free(vms);
        if (ok) {
            sk_rule *r = rs_alloc(rs, sizeof(sk_rule));
            r->language = "eql";
            r->eql = q;
            r->title = "fuzz";
            rs_add_rule(rs, r);
        } else if (!err.code || !err.msg[0] || err.off > size) {
            __builtin_trap();
        }
    }
    rs_build_index(rs);
    sk_buf ex;
    sk_buf_init(&ex, 1u << 20);
    for (size_t i = 0; i < sk_ruleset_count(rs); i++)
        sk_rule_explain(sk_ruleset_rule(rs, i), &ex);
    sk_buf_fini(&ex);
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    size_t sum = 0;
    for (size_t e = 0; e < sizeof events / sizeof events[0]; e++) {
        sk_event_reset(&ev);
        for (size_t k = 0; k + 1 < 12 && events[e][k]; k += 2)
            add(&ev, events[e][k], events[e][k + 1]);
        sk_event_finish(&ev);
        (void)sk_matcher_run(m, &ev, on_hit, &sum);
        (void)sk_matcher_run(m, &ev, on_hit, &sum); // the per-event memo, second time round
    }
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    return 0;
}
