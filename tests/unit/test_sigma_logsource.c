// Logsource table and the (channel, event id) index, through the public API: the resolved sources
// are printed by sk_rule_explain ("    source <label>: channel ..., event id ...").
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "event/event.h"
#include "helpers.h"
#include "rules/ruleset.h"

static sk_ruleset *load(const char *text)
{
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "ls.yml", text, strlen(text), &dl), SK_OK);
    return sk_rule_loader_finish(l);
}

// The "source" lines of the explanation (without leading blanks), joined by '\n'; or
// "error <code>" when the rule did not load.
static void sources(const char *logsource, char *out, size_t on)
{
    char text[2048];
    snprintf(text,
             sizeof text,
             "title: ls\nlogsource:\n%s\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n",
             logsource);
    sk_ruleset *rs = load(text);
    out[0] = '\0';
    if (sk_ruleset_count(rs) != 1) {
        snprintf(out, on, "error %s", sk_ruleset_report_at(rs, 0)->code);
        sk_ruleset_free(rs);
        return;
    }
    sk_buf ex;
    sk_buf_init(&ex, 1u << 20);
    sk_rule_explain(sk_ruleset_rule(rs, 0), &ex);
    size_t n = 0;
    for (const char *p = sk_buf_str(&ex); (p = strstr(p, "    source ")) != NULL;) {
        p += 4;
        size_t len = strcspn(p, "\n");
        n += (size_t)snprintf(out + n, on - n, "%s%.*s", n ? "\n" : "", (int)len, p);
        p += len;
    }
    sk_buf_fini(&ex);
    sk_ruleset_free(rs);
}

typedef struct ls_case {
    const char *logsource;
    const char *want;
} ls_case;

#define SYSMON "'Microsoft-Windows-Sysmon/Operational'"

static const ls_case cat_cases[] = {
    { "  product: windows\n  category: process_creation",
      "source sysmon: channel " SYSMON ", event id 1\n"
      "source security: channel 'Security', event id 4688; renames Image <- NewProcessName, "
      "ParentImage <- ParentProcessName" },
    { "  category: process_creation", // product may be left out
      "source sysmon: channel " SYSMON ", event id 1\n"
      "source security: channel 'Security', event id 4688; renames Image <- NewProcessName, "
      "ParentImage <- ParentProcessName" },
    { "  product: windows\n  category: process_creation\n  service: sysmon",
      "source sysmon: channel " SYSMON ", event id 1" },
    { "  product: windows\n  category: file_change",
      "source sysmon: channel " SYSMON ", event id 2" },
    { "  product: windows\n  category: network_connection",
      "source sysmon: channel " SYSMON ", event id 3" },
    { "  product: windows\n  category: sysmon_status",
      "source sysmon: channel " SYSMON ", event id 4|16" },
    { "  product: windows\n  category: process_termination",
      "source sysmon: channel " SYSMON ", event id 5" },
    { "  product: windows\n  category: driver_load",
      "source sysmon: channel " SYSMON ", event id 6" },
    { "  product: windows\n  category: image_load",
      "source sysmon: channel " SYSMON ", event id 7" },
    { "  product: windows\n  category: create_remote_thread",
      "source sysmon: channel " SYSMON ", event id 8" },
    { "  product: windows\n  category: raw_access_thread",
      "source sysmon: channel " SYSMON ", event id 9" },
    { "  product: windows\n  category: process_access",
      "source sysmon: channel " SYSMON ", event id 10" },
    { "  product: windows\n  category: file_event",
      "source sysmon: channel " SYSMON ", event id 11" },
    { "  product: windows\n  category: file_creation",
      "source sysmon: channel " SYSMON ", event id 11" },
    { "  product: windows\n  category: registry_add",
      "source sysmon: channel " SYSMON ", event id 12, EventType in 'CreateKey'" },
    { "  product: windows\n  category: registry_delete",
      "source sysmon: channel " SYSMON ", event id 12, EventType in 'DeleteKey' 'DeleteValue'" },
    { "  product: windows\n  category: registry_set",
      "source sysmon: channel " SYSMON ", event id 13" },
    { "  product: windows\n  category: registry_event",
      "source sysmon: channel " SYSMON ", event id 12|13|14" },
    { "  product: windows\n  category: registry_rename",
      "source sysmon: channel " SYSMON ", event id 14" },
    { "  product: windows\n  category: create_stream_hash",
      "source sysmon: channel " SYSMON ", event id 15" },
    { "  product: windows\n  category: pipe_created",
      "source sysmon: channel " SYSMON ", event id 17|18" },
    { "  product: windows\n  category: wmi_event",
      "source sysmon: channel " SYSMON ", event id 19|20|21" },
    { "  product: windows\n  category: dns_query",
      "source sysmon: channel " SYSMON ", event id 22" },
    { "  product: windows\n  category: file_delete",
      "source sysmon: channel " SYSMON ", event id 23" },
    { "  product: windows\n  category: clipboard_change",
      "source sysmon: channel " SYSMON ", event id 24" },
    { "  product: windows\n  category: process_tampering",
      "source sysmon: channel " SYSMON ", event id 25" },
    { "  product: windows\n  category: file_delete_detected",
      "source sysmon: channel " SYSMON ", event id 26" },
    { "  product: windows\n  category: file_block_executable",
      "source sysmon: channel " SYSMON ", event id 27" },
    { "  product: windows\n  category: file_block_shredding",
      "source sysmon: channel " SYSMON ", event id 28" },
    { "  product: windows\n  category: file_executable_detected",
      "source sysmon: channel " SYSMON ", event id 29" },
    { "  product: windows\n  category: sysmon_error",
      "source sysmon: channel " SYSMON ", event id 255" },
    { "  product: windows\n  category: ps_module",
      "source powershell: channel 'Microsoft-Windows-PowerShell/Operational' | "
      "'PowerShellCore/Operational', event id 4103" },
    { "  product: windows\n  category: ps_script",
      "source powershell: channel 'Microsoft-Windows-PowerShell/Operational' | "
      "'PowerShellCore/Operational', event id 4104" },
    { "  product: windows\n  category: ps_classic_start",
      "source powershell-classic: channel 'Windows PowerShell', event id 400" },
    { "  product: windows\n  category: ps_classic_provider_start",
      "source powershell-classic: channel 'Windows PowerShell', event id 600" },
    { "  product: windows\n  category: ps_classic_script",
      "source powershell-classic: channel 'Windows PowerShell', event id 800" },
    { "  product: windows\n  category: antivirus",
      "source windefend: channel 'Microsoft-Windows-Windows Defender/Operational', event id "
      "1006|1007|1008|1009|1010|1011|1012|1017|1018|1019|1115|1116; renames Signature <- "
      "ThreatName, Filename <- Path" },
    { "  product: windows",
      "source any: channel any, event id any (indexed under the ids the "
      "detection requires: 1)" },
    { "  product: Windows\n  category: Process_Creation",
      "source sysmon: channel " SYSMON ", event id 1\n"
      "source security: channel 'Security', event id 4688; renames Image <- NewProcessName, "
      "ParentImage <- ParentProcessName" },
    { "  product: windows\n  category: file_access", "error unsupported-logsource" },
    { "  product: windows\n  category: file_rename", "error unsupported-logsource" },
    { "  product: linux\n  category: process_creation", "error unsupported-logsource" },
    { "  product: macos", "error unsupported-logsource" },
    { "  product: windows\n  category: process_creation\n  service: security",
      "source security: channel 'Security', event id 4688; renames Image <- NewProcessName, "
      "ParentImage <- ParentProcessName" },
    { "  product: windows\n  category: dns_query\n  service: security",
      "error unsupported-logsource" },
    { "  product: windows\n  category: process_creation\n  custom: x",
      "error unsupported-logsource" },
    { "  product: [windows]", "error bad-logsource" },
    { "  - product", "error bad-logsource" },
};

Test(sigma_logsource, categories)
{
    char got[2048];
    for (size_t i = 0; i < sizeof cat_cases / sizeof cat_cases[0]; i++) {
        sources(cat_cases[i].logsource, got, sizeof got);
        cr_expect_str_eq(got,
                         cat_cases[i].want,
                         "logsource\n%s\n  got:\n%s\n  want:\n%s",
                         cat_cases[i].logsource,
                         got,
                         cat_cases[i].want);
    }
    SK_ASSERT_NO_LEAKS();
}

typedef struct svc_case {
    const char *service;
    const char *channels; // as explain prints them
} svc_case;

static const svc_case svc_cases[] = {
    { "security", "'Security'" },
    { "system", "'System'" },
    { "application", "'Application'" },
    { "sysmon", SYSMON },
    { "powershell", "'Microsoft-Windows-PowerShell/Operational' | 'PowerShellCore/Operational'" },
    { "powershell-classic", "'Windows PowerShell'" },
    { "windefend", "'Microsoft-Windows-Windows Defender/Operational'" },
    { "taskscheduler", "'Microsoft-Windows-TaskScheduler/Operational'" },
    { "wmi", "'Microsoft-Windows-WMI-Activity/Operational'" },
    { "bits-client", "'Microsoft-Windows-Bits-Client/Operational'" },
    { "dns-server", "'DNS Server'" },
    { "dns-server-audit", "'Microsoft-Windows-DNS-Server/Audit'" },
    { "dns-server-analytic", "'Microsoft-Windows-DNS-Server/Analytical'" },
    { "dns-client", "'Microsoft-Windows-DNS Client Events/Operational'" },
    { "driver-framework", "'Microsoft-Windows-DriverFrameworks-UserMode/Operational'" },
    { "firewall-as", "'Microsoft-Windows-Windows Firewall With Advanced Security/Firewall'" },
    { "codeintegrity-operational", "'Microsoft-Windows-CodeIntegrity/Operational'" },
    { "applocker",
      "'Microsoft-Windows-AppLocker/MSI and Script' | 'Microsoft-Windows-AppLocker/EXE and DLL' | "
      "'Microsoft-Windows-AppLocker/Packaged app-Deployment' | "
      "'Microsoft-Windows-AppLocker/Packaged app-Execution'" },
    { "msexchange-management", "'MSExchange Management'" },
    { "ntlm", "'Microsoft-Windows-NTLM/Operational'" },
    { "dhcp", "'Microsoft-Windows-DHCP-Server/Operational'" },
    { "printservice-admin", "'Microsoft-Windows-PrintService/Admin'" },
    { "printservice-operational", "'Microsoft-Windows-PrintService/Operational'" },
    { "smbclient-security", "'Microsoft-Windows-SmbClient/Security'" },
    { "smbclient-connectivity", "'Microsoft-Windows-SmbClient/Connectivity'" },
    { "smbserver-connectivity", "'Microsoft-Windows-SMBServer/Connectivity'" },
    { "terminalservices-localsessionmanager",
      "'Microsoft-Windows-TerminalServices-LocalSessionManager/Operational'" },
    { "openssh", "'OpenSSH/Operational'" },
    { "security-mitigations",
      "'Microsoft-Windows-Security-Mitigations/Kernel Mode' | "
      "'Microsoft-Windows-Security-Mitigations/User Mode'" },
    { "diagnosis-scripted", "'Microsoft-Windows-Diagnosis-Scripted/Operational'" },
    { "shell-core", "'Microsoft-Windows-Shell-Core/Operational'" },
    { "appxdeployment-server", "'Microsoft-Windows-AppXDeploymentServer/Operational'" },
    { "appxpackaging-om", "'Microsoft-Windows-AppxPackaging/Operational'" },
    { "appmodel-runtime", "'Microsoft-Windows-AppModel-Runtime/Admin'" },
    { "ldap_debug", "'Microsoft-Windows-LDAP-Client/Debug'" },
    { "ldap", "'Microsoft-Windows-LDAP-Client/Debug'" },
    { "lsa-server", "'Microsoft-Windows-LSA/Operational'" },
    { "capi2", "'Microsoft-Windows-CAPI2/Operational'" },
    { "certificateservicesclient-lifecycle-system",
      "'Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational'" },
    { "bitlocker", "'Microsoft-Windows-BitLocker/BitLocker Management'" },
    { "vhdmp", "'Microsoft-Windows-VHDMP/Operational'" },
    { "microsoft-servicebus-client",
      "'Microsoft-ServiceBus-Client' | 'Microsoft-ServiceBus-Client/Admin' | "
      "'Microsoft-ServiceBus-Client/Operational'" },
    { "iis-configuration", "'Microsoft-IIS-Configuration/Operational'" },
    { "kernel-shimengine",
      "'Microsoft-Windows-Kernel-ShimEngine/Operational' | "
      "'Microsoft-Windows-Kernel-ShimEngine/Diagnostic'" },
    { "ntfs", "'Microsoft-Windows-Ntfs/Operational'" },
    { "sense", "'Microsoft-Windows-SENSE/Operational'" },
};

Test(sigma_logsource, services)
{
    char ls[256], got[2048], want[2048];
    for (size_t i = 0; i < sizeof svc_cases / sizeof svc_cases[0]; i++) {
        snprintf(ls, sizeof ls, "  product: windows\n  service: %s", svc_cases[i].service);
        sources(ls, got, sizeof got);
        snprintf(want,
                 sizeof want,
                 "source %s: channel %s, event id any (indexed under the ids the detection "
                 "requires: 1)",
                 svc_cases[i].service,
                 svc_cases[i].channels);
        cr_expect_str_eq(
                got, want, "service %s:\n  got:  %s\n  want: %s", svc_cases[i].service, got, want);
    }
}

// ---- the index at run time

static size_t
run(sk_ruleset *rs, const char *channel, const char *eid, const char *f1, const char *v1)
{
    sk_event ev;
    sk_event_init(&ev);
    if (channel)
        cr_assert_eq(sk_event_add(&ev, "Channel", 7, channel, strlen(channel), SK_FIELD_SYSTEM),
                     SK_OK);
    if (eid)
        cr_assert_eq(sk_event_add(&ev, "EventID", 7, eid, strlen(eid), SK_FIELD_SYSTEM), SK_OK);
    if (f1)
        cr_assert_eq(sk_event_add(&ev, f1, strlen(f1), v1, strlen(v1), 0), SK_OK);
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    size_t hits = sk_matcher_run(m, &ev, NULL, NULL);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    return hits;
}

Test(sigma_logsource, index_routes_events_by_channel_and_id)
{
    sk_ruleset *rs = load("title: proc\n"
                          "logsource: {product: windows, category: process_creation}\n"
                          "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n"
                          "---\n"
                          "title: sec\n"
                          "logsource: {product: windows, service: security}\n"
                          "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n"
                          "---\n"
                          "title: any\n"
                          "logsource: {product: windows}\n"
                          "detection: {sel: {Image|endswith: '.exe'}, condition: sel}\n");
    cr_assert_eq(sk_ruleset_count(rs), 3);
    const char *sysmon = "Microsoft-Windows-Sysmon/Operational";
    cr_expect_eq(run(rs, sysmon, "1", "Image", "a.exe"), 2);                 // proc + any
    cr_expect_eq(run(rs, sysmon, "3", "Image", "a.exe"), 1);                 // any
    cr_expect_eq(run(rs, "Security", "4688", "NewProcessName", "a.exe"), 1); // proc (renamed)
    cr_expect_eq(run(rs, "Security", "4624", "Image", "a.exe"), 2);          // sec + any
    cr_expect_eq(run(rs, "security", "4624", "Image", "a.exe"), 2);          // channel case
    cr_expect_eq(run(rs, "Application", "1", "Image", "a.exe"), 1);          // any
    // no channel at all: event ids still select (flat exports)
    cr_expect_eq(run(rs, NULL, "1", "Image", "a.exe"), 3);
    sk_ruleset_free(rs);
}

Test(sigma_logsource, detection_event_ids_narrow_service_rules)
{
    sk_ruleset *rs = load("title: sec\n"
                          "logsource: {product: windows, service: security}\n"
                          "detection:\n"
                          "  sel: {EventID: [4624, 4625]}\n"
                          "  other: {EventID: 4688, CommandLine|contains: x}\n"
                          "  condition: sel or other\n");
    cr_assert_eq(sk_ruleset_count(rs), 1);
    sk_buf ex;
    sk_buf_init(&ex, 1u << 20);
    sk_rule_explain(sk_ruleset_rule(rs, 0), &ex);
    cr_expect(strstr(sk_buf_str(&ex),
                     "(indexed under the ids the detection requires: 4624 4625 "
                     "4688)"),
              "%s",
              sk_buf_str(&ex));
    sk_buf_fini(&ex);
    cr_expect_eq(run(rs, "Security", "4625", NULL, NULL), 1);
    cr_expect_eq(run(rs, "Security", "4634", NULL, NULL), 0);
    sk_ruleset_free(rs);

    // not EventID: no narrowing possible
    rs = load("title: sec\n"
              "logsource: {product: windows, service: security}\n"
              "detection:\n"
              "  sel: {EventID: 4624}\n"
              "  condition: not sel\n");
    sk_buf_init(&ex, 1u << 20);
    sk_rule_explain(sk_ruleset_rule(rs, 0), &ex);
    cr_expect(strstr(sk_buf_str(&ex), "event id any\n"), "%s", sk_buf_str(&ex));
    sk_buf_fini(&ex);
    cr_expect_eq(run(rs, "Security", "4634", NULL, NULL), 1);
    sk_ruleset_free(rs);
}

// The logsource as one line of text (rule lists, JSON output): the parts present, in the order
// product, category, service; values past 4 KiB in all refuse the rule.
Test(sigma_logsource, logsource_text)
{
    static const struct {
        const char *logsource, *want;
    } cases[] = {
        { "  product: windows\n  category: process_creation\n",
          "product:windows category:process_creation" },
        { "  service: sysmon\n  product: windows\n", "product:windows service:sysmon" },
        { "  category: process_creation\n", "category:process_creation" },
        { "  service: security\n", "service:security" },
        { "  product: windows\n  category: ps_script\n  service: powershell\n",
          "product:windows category:ps_script service:powershell" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text,
                 sizeof text,
                 "title: ls\nlogsource:\n%sdetection:\n  sel:\n    EventID: 1\n  condition: sel\n",
                 cases[i].logsource);
        sk_ruleset *rs = load(text);
        cr_assert_eq(sk_ruleset_count(rs), 1, "%s", cases[i].want);
        cr_expect_str_eq(sk_rule_logsource(sk_ruleset_rule(rs, 0)), cases[i].want);
        sk_ruleset_free(rs);
    }
    static char text[16384];
    int n = snprintf(text, sizeof text, "title: long\nlogsource:\n  product: windows\n  service: ");
    memset(text + n, 's', 4090);
    snprintf(text + n + 4090,
             sizeof text - (size_t)n - 4090,
             "\ndetection:\n  sel:\n    EventID: 1\n  condition: sel\n");
    sk_ruleset *rs = load(text);
    cr_assert_eq(sk_ruleset_count(rs), 0);
    cr_expect_str_eq(sk_ruleset_report_at(rs, 0)->code, "bad-logsource");
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}
