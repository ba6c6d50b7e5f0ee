// Logsource table: which Windows events a Sigma `logsource:` can apply to, resolved at load time.
//
// Sources: SigmaHQ's own mapping (tests/thor.yml in the SigmaHQ repository: the categories → Sysmon
// event ids, the generic `service:` → channel list) and pySigma's windows pipeline
// (sigma/pipelines/common.py `windows_logsource_mapping`). Where the two name the same service
// differently (ldap / ldap_debug) both names are accepted.
//
// process_creation has two sources: Sysmon 1 as is, and Security 4688 with the renames of the
// "windows-audit" mapping (Image → NewProcessName, ParentImage → ParentProcessName). 4688 carries
// CommandLine under the same name. We deliberately do NOT map User, IntegrityLevel, ProcessId or
// ParentProcessId: 4688 has SubjectUserName/TargetUserName (no DOMAIN\ prefix), MandatoryLabel (a
// SID, not "High") and hexadecimal process ids, so a rename would silently compare values in
// different formats. Rules using those fields simply do not match 4688 events.
#include <string.h>

#include <strings.h>

#include "rules_int.h"

#define CH_SYSMON "Microsoft-Windows-Sysmon/Operational"

static const char *const ch_sysmon[] = { CH_SYSMON, NULL };
static const char *const ch_security[] = { "Security", NULL };
static const char *const ch_powershell[] = { "Microsoft-Windows-PowerShell/Operational",
                                             "PowerShellCore/Operational",
                                             NULL };
static const char *const ch_ps_classic[] = { "Windows PowerShell", NULL };
static const char *const ch_defender[] = { "Microsoft-Windows-Windows Defender/Operational", NULL };

// ---- service → channels
typedef struct service_map {
    const char *service;
    const char *const channels[5];
} service_map;

static const service_map services[] = {
    { "security", { "Security" } },
    { "system", { "System" } },
    { "application", { "Application" } },
    { "sysmon", { CH_SYSMON } },
    { "powershell", { "Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational" } },
    { "powershell-classic", { "Windows PowerShell" } },
    { "taskscheduler", { "Microsoft-Windows-TaskScheduler/Operational" } },
    { "wmi", { "Microsoft-Windows-WMI-Activity/Operational" } },
    { "dns-server", { "DNS Server" } },
    { "dns-server-audit", { "Microsoft-Windows-DNS-Server/Audit" } },
    { "dns-server-analytic", { "Microsoft-Windows-DNS-Server/Analytical" } },
    { "dns-client", { "Microsoft-Windows-DNS Client Events/Operational" } },
    { "driver-framework", { "Microsoft-Windows-DriverFrameworks-UserMode/Operational" } },
    { "ntlm", { "Microsoft-Windows-NTLM/Operational" } },
    { "dhcp", { "Microsoft-Windows-DHCP-Server/Operational" } },
    { "msexchange-management", { "MSExchange Management" } },
    { "applocker",
      { "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution" } },
    { "printservice-admin", { "Microsoft-Windows-PrintService/Admin" } },
    { "printservice-operational", { "Microsoft-Windows-PrintService/Operational" } },
    { "codeintegrity-operational", { "Microsoft-Windows-CodeIntegrity/Operational" } },
    { "smbclient-security", { "Microsoft-Windows-SmbClient/Security" } },
    { "smbclient-connectivity", { "Microsoft-Windows-SmbClient/Connectivity" } },
    { "smbserver-connectivity", { "Microsoft-Windows-SMBServer/Connectivity" } },
    { "firewall-as", { "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall" } },
    { "bits-client", { "Microsoft-Windows-Bits-Client/Operational" } },
    { "windefend", { "Microsoft-Windows-Windows Defender/Operational" } },
    { "terminalservices-localsessionmanager",
      { "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational" } },
    { "microsoft-servicebus-client",
      { "Microsoft-ServiceBus-Client",
        "Microsoft-ServiceBus-Client/Admin",
        "Microsoft-ServiceBus-Client/Operational" } },
    { "servicebus-client",
      { "Microsoft-ServiceBus-Client/Admin", "Microsoft-ServiceBus-Client/Operational" } },
    { "ldap_debug", { "Microsoft-Windows-LDAP-Client/Debug" } },
    { "ldap", { "Microsoft-Windows-LDAP-Client/Debug" } },
    { "security-mitigations",
      { "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode" } },
    { "diagnosis-scripted", { "Microsoft-Windows-Diagnosis-Scripted/Operational" } },
    { "shell-core", { "Microsoft-Windows-Shell-Core/Operational" } },
    { "openssh", { "OpenSSH/Operational" } },
    { "bitlocker", { "Microsoft-Windows-BitLocker/BitLocker Management" } },
    { "vhdmp", { "Microsoft-Windows-VHDMP/Operational" } },
    { "appxdeployment-server", { "Microsoft-Windows-AppXDeploymentServer/Operational" } },
    { "lsa-server", { "Microsoft-Windows-LSA/Operational" } },
    { "appxpackaging-om", { "Microsoft-Windows-AppxPackaging/Operational" } },
    { "appmodel-runtime", { "Microsoft-Windows-AppModel-Runtime/Admin" } },
    { "capi2", { "Microsoft-Windows-CAPI2/Operational" } },
    { "certificateservicesclient-lifecycle-system",
      { "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational" } },
    { "kernel-shimengine",
      { "Microsoft-Windows-Kernel-ShimEngine/Operational",
        "Microsoft-Windows-Kernel-ShimEngine/Diagnostic" } },
    { "application-experience",
      { "Microsoft-Windows-Application-Experience/Program-Telemetry",
        "Microsoft-Windows-Application-Experience/Program-Compatibility-Assistant" } },
    { "ntfs", { "Microsoft-Windows-Ntfs/Operational" } },
    { "hyper-v-worker", { "Microsoft-Windows-Hyper-V-Worker" } },
    { "kernel-event-tracing", { "Microsoft-Windows-Kernel-EventTracing" } },
    { "sense", { "Microsoft-Windows-SENSE/Operational" } },
    { "iis-configuration", { "Microsoft-IIS-Configuration/Operational" } },
};

// ---- category → (channel, event ids, extra condition, renames)
typedef struct category_src {
    const char *label;
    const char *const *channels;
    uint32_t eids[14];
    size_t neids;
    const char *cond_field;
    const char *const *cond_values;
    const ls_rename *renames;
} category_src;

typedef struct category_map {
    const char *category;
    category_src src[2];
    size_t nsrc;
} category_map;

static const ls_rename ren_4688[] = {
    { "Image", "NewProcessName" },
    { "ParentImage", "ParentProcessName" },
    { NULL, NULL },
};
static const ls_rename ren_defender[] = {
    { "Signature", "ThreatName" },
    { "Filename", "Path" },
    { NULL, NULL },
};
static const char *const ev_createkey[] = { "CreateKey", NULL };
static const char *const ev_deletekey[] = { "DeleteKey", "DeleteValue", NULL };

#define SYSMON1(cat, id)                                                 \
    {                                                                    \
        cat, { { "sysmon", ch_sysmon, { id }, 1, NULL, NULL, NULL } }, 1 \
    }
#define SYSMON2(cat, a, b)                                                 \
    {                                                                      \
        cat, { { "sysmon", ch_sysmon, { a, b }, 2, NULL, NULL, NULL } }, 1 \
    }

static const category_map categories[] = {
    { "process_creation",
      { { "sysmon", ch_sysmon, { 1 }, 1, NULL, NULL, NULL },
        { "security", ch_security, { 4688 }, 1, NULL, NULL, ren_4688 } },
      2 },
    SYSMON1("file_change", 2),
    SYSMON1("network_connection", 3),
    SYSMON2("sysmon_status", 4, 16),
    SYSMON1("process_termination", 5),
    SYSMON1("driver_load", 6),
    SYSMON1("image_load", 7),
    SYSMON1("create_remote_thread", 8),
    SYSMON1("raw_access_thread", 9),
    SYSMON1("process_access", 10),
    SYSMON1("file_event", 11),
    SYSMON1("file_creation", 11), // alias (thor.yml's mapping name)
    { "registry_event", { { "sysmon", ch_sysmon, { 12, 13, 14 }, 3, NULL, NULL, NULL } }, 1 },
    { "registry_add", { { "sysmon", ch_sysmon, { 12 }, 1, "EventType", ev_createkey, NULL } }, 1 },
    { "registry_delete",
      { { "sysmon", ch_sysmon, { 12 }, 1, "EventType", ev_deletekey, NULL } },
      1 },
    SYSMON1("registry_set", 13),
    SYSMON1("registry_rename", 14),
    SYSMON1("create_stream_hash", 15),
    SYSMON2("pipe_created", 17, 18),
    { "wmi_event", { { "sysmon", ch_sysmon, { 19, 20, 21 }, 3, NULL, NULL, NULL } }, 1 },
    SYSMON1("dns_query", 22),
    SYSMON1("file_delete", 23),
    SYSMON1("clipboard_change", 24),
    SYSMON1("process_tampering", 25),
    SYSMON1("file_delete_detected", 26),
    SYSMON1("file_block_executable", 27),
    SYSMON1("file_block_shredding", 28),
    SYSMON1("file_executable_detected", 29),
    SYSMON1("sysmon_error", 255),
    { "ps_module", { { "powershell", ch_powershell, { 4103 }, 1, NULL, NULL, NULL } }, 1 },
    { "ps_script", { { "powershell", ch_powershell, { 4104 }, 1, NULL, NULL, NULL } }, 1 },
    { "ps_classic_start",
      { { "powershell-classic", ch_ps_classic, { 400 }, 1, NULL, NULL, NULL } },
      1 },
    { "ps_classic_provider_start",
      { { "powershell-classic", ch_ps_classic, { 600 }, 1, NULL, NULL, NULL } },
      1 },
    { "ps_classic_script",
      { { "powershell-classic", ch_ps_classic, { 800 }, 1, NULL, NULL, NULL } },
      1 },
    { "antivirus",
      { { "windefend",
          ch_defender,
          { 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1017, 1018, 1019, 1115, 1116 },
          12,
          NULL,
          NULL,
          ren_defender } },
      1 },
};

size_t ls_service_count(void)
{
    return sizeof services / sizeof services[0];
}

size_t ls_category_count(void)
{
    return sizeof categories / sizeof categories[0];
}

static const service_map *find_service(const char *s)
{
    for (size_t i = 0; i < ls_service_count(); i++)
        if (strcasecmp(services[i].service, s) == 0)
            return &services[i];
    return NULL;
}

static const category_map *find_category(const char *c)
{
    for (size_t i = 0; i < ls_category_count(); i++)
        if (strcasecmp(categories[i].category, c) == 0)
            return &categories[i];
    return NULL;
}

size_t ls_resolve(const char *product,
                  const char *category,
                  const char *service,
                  ls_source *out,
                  size_t max,
                  const char **why)
{
    *why = NULL;
    if (max == 0)
        return 0;
    if (product && strcasecmp(product, "windows") != 0) {
        *why = "product";
        return 0;
    }
    if (category) {
        const category_map *cm = find_category(category);
        if (!cm) {
            *why = "category";
            return 0;
        }
        const service_map *sm = NULL;
        if (service) {
            sm = find_service(service);
            if (!sm) {
                *why = "service";
                return 0;
            }
        }
        size_t n = 0;
        for (size_t i = 0; i < cm->nsrc && n < max; i++) {
            const category_src *cs = &cm->src[i];
            // category + service: keep the category's sources on that service's channels.
            if (sm) {
                bool same = false;
                for (size_t j = 0; cs->channels[j] && !same; j++)
                    for (size_t k = 0; k < 5 && sm->channels[k] && !same; k++)
                        same = strcasecmp(cs->channels[j], sm->channels[k]) == 0;
                if (!same)
                    continue;
            }
            out[n].label = cs->label;
            out[n].channels = cs->channels;
            out[n].eids = cs->eids;
            out[n].neids = cs->neids;
            out[n].cond_field = cs->cond_field;
            out[n].cond_values = cs->cond_values;
            out[n].renames = cs->renames;
            n++;
        }
        if (n == 0)
            *why = "service";
        return n;
    }
    if (service) {
        const service_map *sm = find_service(service);
        if (!sm) {
            *why = "service";
            return 0;
        }
        out[0].label = sm->service;
        out[0].channels = sm->channels;
        out[0].eids = NULL;
        out[0].neids = 0;
        out[0].cond_field = NULL;
        out[0].cond_values = NULL;
        out[0].renames = NULL;
        return 1;
    }
    // product windows only (or an empty logsource): any event.
    out[0].label = "any";
    out[0].channels = NULL;
    out[0].eids = NULL;
    out[0].neids = 0;
    out[0].cond_field = NULL;
    out[0].cond_values = NULL;
    out[0].renames = NULL;
    return 1;
}
