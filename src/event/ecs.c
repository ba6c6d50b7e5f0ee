// The ECS view (see ecs.h): the derivation table, the categorisation tables by log and event id,
// and the value transforms. Mostly data. The transforms never allocate: values that are a suffix
// of their source (base name, extension, registry value) are handed out as views, the others are
// built in a small stack buffer or handed out in pieces for the caller to copy.
#include "ecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

// ---------------------------------------------------------------------------------------------
// Logs

static const char CH_SYSMON[] = "Microsoft-Windows-Sysmon/Operational";

sk_ecs_log sk_ecs_log_of(const sk_event *ev)
{
    const char *c = ev->channel;
    if (c) {
        if (strcasecmp(c, CH_SYSMON) == 0)
            return SK_ECS_LOG_SYSMON;
        if (strcasecmp(c, "Security") == 0)
            return SK_ECS_LOG_SECURITY;
        if (strcasecmp(c, "System") == 0)
            return SK_ECS_LOG_SYSTEM;
        if (strcasecmp(c, "Microsoft-Windows-PowerShell/Operational") == 0)
            return SK_ECS_LOG_POWERSHELL;
        if (strcasecmp(c, "Windows PowerShell") == 0)
            return SK_ECS_LOG_POWERSHELL_WIN;
        return SK_ECS_LOG_ANY;
    }
    const char *p = ev->provider;
    if (p) {
        if (strcasecmp(p, "Microsoft-Windows-Sysmon") == 0)
            return SK_ECS_LOG_SYSMON;
        if (strcasecmp(p, "Microsoft-Windows-Security-Auditing") == 0)
            return SK_ECS_LOG_SECURITY;
        return SK_ECS_LOG_ANY;
    }
    return SK_ECS_LOG_SYSMON;
}

// ---------------------------------------------------------------------------------------------
// Derivation table, in priority order per ECS name.

#define S   SK_ECS_LOG_SYSMON
#define X   SK_ECS_LOG_SECURITY
#define ANY SK_ECS_LOG_ANY
#define PS  SK_ECS_LOG_POWERSHELL
// Sysmon events whose TargetFilename is the file (2 creation time, 11 create, 15 stream, 23/26
// delete, 27/28 block, 29 executable detected); 6 and 7 name the loaded image.
#define FILE_EIDS 2, 11, 15, 23, 26, 27, 28, 29
#define IMG_EIDS  6, 7
// Security events whose Target* names the account that logs on.
#define LOGON_EIDS   4624, 4625, 4634, 4647, 4648, 4768, 4769, 4771, 4776
#define NET_SEC_EIDS 4624, 4625, 4648, 4768, 4769, 4771, 5140, 5145

typedef struct entry {
    const char *ecs;
    sk_ecs_rule r;
} entry;

#define R(name, log, xf, src, ...)              \
    {                                           \
        name,                                   \
        {                                       \
            log, xf, { __VA_ARGS__ }, src, NULL \
        }                                       \
    }
#define C(name, log, xf, text)         \
    {                                  \
        name,                          \
        {                              \
            log, xf, { 0 }, NULL, text \
        }                              \
    }
#define NONE 0

static const entry table[] = {
    // process
    R("process.executable", S, SK_ECS_COPY, "SourceImage", 8, 10),
    R("process.executable", S, SK_ECS_COPY, "Destination", 20),
    R("process.executable", S, SK_ECS_COPY, "Image", NONE),
    R("process.executable", X, SK_ECS_COPY, "NewProcessName", 4688),
    R("process.executable", X, SK_ECS_NOT_DASH, "ProcessName", NONE),
    R("process.name", S, SK_ECS_BASENAME, "SourceImage", 8, 10),
    R("process.name", S, SK_ECS_BASENAME, "Destination", 20),
    R("process.name", S, SK_ECS_BASENAME, "Image", NONE),
    R("process.name", X, SK_ECS_BASENAME, "NewProcessName", 4688),
    R("process.name", X, SK_ECS_BASENAME, "ProcessName", NONE),
    R("process.command_line", S, SK_ECS_COPY, "CommandLine", NONE),
    R("process.command_line", X, SK_ECS_COPY, "CommandLine", 4688),
    R("process.args", S, SK_ECS_ARGS, "CommandLine", NONE),
    R("process.args", X, SK_ECS_ARGS, "CommandLine", 4688),
    R("process.args_count", S, SK_ECS_ARGS_COUNT, "CommandLine", NONE),
    R("process.args_count", X, SK_ECS_ARGS_COUNT, "CommandLine", 4688),
    R("process.pid", S, SK_ECS_COPY, "SourceProcessId", 8, 10),
    R("process.pid", S, SK_ECS_COPY, "ProcessId", NONE),
    R("process.pid", X, SK_ECS_HEX, "NewProcessId", 4688),
    R("process.pid", X, SK_ECS_HEX, "ProcessId", NONE),
    R("process.entity_id", S, SK_ECS_COPY, "SourceProcessGuid", 8),
    R("process.entity_id", S, SK_ECS_COPY, "SourceProcessGUID", 10),
    R("process.entity_id", S, SK_ECS_COPY, "ProcessGuid", NONE),
    R("process.thread.id", S, SK_ECS_COPY, "SourceThreadId", 8, 10),
    R("process.working_directory", S, SK_ECS_COPY, "CurrentDirectory", NONE),
    R("process.parent.executable", S, SK_ECS_COPY, "ParentImage", NONE),
    R("process.parent.executable", X, SK_ECS_COPY, "ParentProcessName", 4688),
    R("process.parent.name", S, SK_ECS_BASENAME, "ParentImage", NONE),
    R("process.parent.name", X, SK_ECS_BASENAME, "ParentProcessName", 4688),
    R("process.parent.command_line", S, SK_ECS_COPY, "ParentCommandLine", NONE),
    R("process.parent.args", S, SK_ECS_ARGS, "ParentCommandLine", NONE),
    R("process.parent.args_count", S, SK_ECS_ARGS_COUNT, "ParentCommandLine", NONE),
    R("process.parent.pid", S, SK_ECS_COPY, "ParentProcessId", NONE),
    R("process.parent.pid", X, SK_ECS_HEX, "ProcessId", 4688),
    R("process.parent.entity_id", S, SK_ECS_COPY, "ParentProcessGuid", NONE),
    R("process.pe.original_file_name", S, SK_ECS_COPY, "OriginalFileName", 1),
    R("process.pe.company", S, SK_ECS_COPY, "Company", 1),
    R("process.pe.description", S, SK_ECS_COPY, "Description", 1),
    R("process.pe.product", S, SK_ECS_COPY, "Product", 1),
    R("process.pe.file_version", S, SK_ECS_COPY, "FileVersion", 1),
    R("process.hash.md5", S, SK_ECS_HASH_MD5, "Hashes", 1, 23, 24, 25),
    R("process.hash.sha1", S, SK_ECS_HASH_SHA1, "Hashes", 1, 23, 24, 25),
    R("process.hash.sha256", S, SK_ECS_HASH_SHA256, "Hashes", 1, 23, 24, 25),
    R("process.pe.imphash", S, SK_ECS_HASH_IMPHASH, "Hashes", 1, 23, 24, 25),
    R("process.Ext.token.integrity_level_name", S, SK_ECS_COPY, "IntegrityLevel", 1),
    // user
    R("user.name", S, SK_ECS_USER_NAME, "User", NONE),
    R("user.name", X, SK_ECS_NOT_DASH, "TargetUserName", LOGON_EIDS),
    R("user.name", X, SK_ECS_NOT_DASH, "SubjectUserName", NONE),
    R("user.domain", S, SK_ECS_USER_DOMAIN, "User", NONE),
    R("user.domain", X, SK_ECS_NOT_DASH, "TargetDomainName", LOGON_EIDS),
    R("user.domain", X, SK_ECS_NOT_DASH, "SubjectDomainName", NONE),
    R("user.id", X, SK_ECS_NOT_DASH, "TargetUserSid", LOGON_EIDS),
    R("user.id", X, SK_ECS_NOT_DASH, "SubjectUserSid", NONE),
    R("user.id", ANY, SK_ECS_COPY, "UserID", NONE),
    // file
    R("file.path", S, SK_ECS_COPY, "TargetFilename", FILE_EIDS),
    R("file.path", S, SK_ECS_COPY, "ImageLoaded", IMG_EIDS),
    R("file.path", S, SK_ECS_COPY, "Device", 9),
    R("file.name", S, SK_ECS_COPY, "PipeName", 17, 18),
    R("file.name", S, SK_ECS_BASENAME, "TargetFilename", FILE_EIDS),
    R("file.name", S, SK_ECS_BASENAME, "ImageLoaded", IMG_EIDS),
    R("file.name", S, SK_ECS_BASENAME, "Device", 9),
    R("file.directory", S, SK_ECS_DIRNAME, "TargetFilename", FILE_EIDS),
    R("file.directory", S, SK_ECS_DIRNAME, "ImageLoaded", IMG_EIDS),
    R("file.directory", S, SK_ECS_DIRNAME, "Device", 9),
    R("file.extension", S, SK_ECS_EXTENSION, "TargetFilename", FILE_EIDS),
    R("file.extension", S, SK_ECS_EXTENSION, "ImageLoaded", IMG_EIDS),
    R("file.hash.md5", S, SK_ECS_HASH_MD5, "Hash", 15),
    R("file.hash.md5", S, SK_ECS_HASH_MD5, "Hashes", 6, 7, 26, 29),
    R("file.hash.sha1", S, SK_ECS_HASH_SHA1, "Hash", 15),
    R("file.hash.sha1", S, SK_ECS_HASH_SHA1, "Hashes", 6, 7, 26, 29),
    R("file.hash.sha256", S, SK_ECS_HASH_SHA256, "Hash", 15),
    R("file.hash.sha256", S, SK_ECS_HASH_SHA256, "Hashes", 6, 7, 26, 29),
    R("file.pe.imphash", S, SK_ECS_HASH_IMPHASH, "Hashes", 6, 7, 26, 29),
    R("file.code_signature.subject_name", S, SK_ECS_COPY, "Signature", IMG_EIDS),
    R("file.code_signature.status", S, SK_ECS_COPY, "SignatureStatus", IMG_EIDS),
    R("file.code_signature.trusted", S, SK_ECS_TRUSTED, "SignatureStatus", IMG_EIDS),
    R("file.code_signature.signed", S, SK_ECS_COPY, "Signed", IMG_EIDS),
    R("file.code_signature.exists", S, SK_ECS_COPY, "Signed", IMG_EIDS),
    R("file.pe.original_file_name", S, SK_ECS_COPY, "OriginalFileName", IMG_EIDS),
    R("file.pe.company", S, SK_ECS_COPY, "Company", IMG_EIDS),
    R("file.pe.description", S, SK_ECS_COPY, "Description", IMG_EIDS),
    R("file.pe.product", S, SK_ECS_COPY, "Product", IMG_EIDS),
    R("file.pe.file_version", S, SK_ECS_COPY, "FileVersion", IMG_EIDS),
    // dll (Sysmon 7, as Elastic Defend's library events name them)
    R("dll.path", S, SK_ECS_COPY, "ImageLoaded", 7),
    R("dll.name", S, SK_ECS_BASENAME, "ImageLoaded", 7),
    R("dll.extension", S, SK_ECS_EXTENSION, "ImageLoaded", 7),
    R("dll.code_signature.subject_name", S, SK_ECS_COPY, "Signature", 7),
    R("dll.code_signature.status", S, SK_ECS_COPY, "SignatureStatus", 7),
    R("dll.code_signature.trusted", S, SK_ECS_TRUSTED, "SignatureStatus", 7),
    R("dll.code_signature.exists", S, SK_ECS_COPY, "Signed", 7),
    R("dll.hash.md5", S, SK_ECS_HASH_MD5, "Hashes", 7),
    R("dll.hash.sha1", S, SK_ECS_HASH_SHA1, "Hashes", 7),
    R("dll.hash.sha256", S, SK_ECS_HASH_SHA256, "Hashes", 7),
    R("dll.pe.imphash", S, SK_ECS_HASH_IMPHASH, "Hashes", 7),
    R("dll.pe.original_file_name", S, SK_ECS_COPY, "OriginalFileName", 7),
    R("dll.pe.company", S, SK_ECS_COPY, "Company", 7),
    R("dll.pe.description", S, SK_ECS_COPY, "Description", 7),
    R("dll.pe.product", S, SK_ECS_COPY, "Product", 7),
    // registry
    R("registry.path", S, SK_ECS_COPY, "TargetObject", 12, 13, 14),
    R("registry.hive", S, SK_ECS_REG_HIVE, "TargetObject", 12, 13, 14),
    R("registry.key", S, SK_ECS_REG_KEY, "TargetObject", 12, 13, 14),
    R("registry.value", S, SK_ECS_REG_VALUE, "TargetObject", 12, 13, 14),
    R("registry.data.strings", S, SK_ECS_REG_DATA, "Details", 13),
    R("registry.data.type", S, SK_ECS_REG_DATA_TYPE, "Details", 13),
    // network
    R("source.ip", S, SK_ECS_COPY, "SourceIp", 3),
    R("source.ip", X, SK_ECS_NOT_DASH, "IpAddress", NET_SEC_EIDS),
    R("source.address", S, SK_ECS_COPY, "SourceIp", 3),
    R("source.address", X, SK_ECS_NOT_DASH, "IpAddress", NET_SEC_EIDS),
    R("source.port", S, SK_ECS_COPY, "SourcePort", 3),
    R("source.port", X, SK_ECS_NOT_DASH, "IpPort", NET_SEC_EIDS),
    R("source.domain", S, SK_ECS_COPY, "SourceHostname", 3),
    R("source.domain", X, SK_ECS_NOT_DASH, "WorkstationName", 4624, 4625),
    R("destination.ip", S, SK_ECS_COPY, "DestinationIp", 3),
    R("destination.address", S, SK_ECS_COPY, "DestinationIp", 3),
    R("destination.port", S, SK_ECS_COPY, "DestinationPort", 3),
    R("destination.domain", S, SK_ECS_COPY, "DestinationHostname", 3),
    R("network.transport", S, SK_ECS_COPY, "Protocol", 3),
    R("network.protocol", S, SK_ECS_COPY, "DestinationPortName", 3),
    { "network.protocol", { S, SK_ECS_CONST, { 22 }, NULL, "dns" } },
    R("network.direction", S, SK_ECS_DIRECTION, "Initiated", 3),
    R("dns.question.name", S, SK_ECS_COPY, "QueryName", 22),
    R("rule.name", S, SK_ECS_NOT_DASH, "RuleName", NONE),
    // event and host
    R("event.code", ANY, SK_ECS_COPY, "EventID", NONE),
    C("event.category", ANY, SK_ECS_CATEGORY, NULL),
    R("event.type", S, SK_ECS_REG_EVENT_TYPE, "EventType", 12),
    C("event.type", ANY, SK_ECS_TYPE, NULL),
    C("event.action", ANY, SK_ECS_ACTION, NULL),
    C("event.outcome", ANY, SK_ECS_OUTCOME, NULL),
    C("event.kind", ANY, SK_ECS_CONST, "event"),
    C("event.module", ANY, SK_ECS_MODULE, NULL),
    C("event.dataset", ANY, SK_ECS_DATASET, NULL),
    C("data_stream.dataset", ANY, SK_ECS_DATASET, NULL),
    R("event.provider", ANY, SK_ECS_COPY, "Provider_Name", NONE),
    C("host.os.type", ANY, SK_ECS_CONST, "windows"),
    C("host.os.family", ANY, SK_ECS_CONST, "windows"),
    C("host.os.platform", ANY, SK_ECS_CONST, "windows"),
    R("host.name", ANY, SK_ECS_COPY, "Computer", NONE),
    R("host.hostname", ANY, SK_ECS_COPY, "Computer", NONE),
    // winlog.* (raw Winlogbeat names)
    R("winlog.channel", ANY, SK_ECS_COPY, "Channel", NONE),
    R("winlog.computer_name", ANY, SK_ECS_COPY, "Computer", NONE),
    R("winlog.event_id", ANY, SK_ECS_COPY, "EventID", NONE),
    R("winlog.provider_name", ANY, SK_ECS_COPY, "Provider_Name", NONE),
    R("winlog.provider_guid", ANY, SK_ECS_COPY, "Provider_Guid", NONE),
    R("winlog.record_id", ANY, SK_ECS_COPY, "EventRecordID", NONE),
    R("winlog.user.identifier", ANY, SK_ECS_COPY, "UserID", NONE),
    R("winlog.process.pid", ANY, SK_ECS_COPY, "ProcessID", NONE),
    R("winlog.process.thread.id", ANY, SK_ECS_COPY, "ThreadID", NONE),
    R("winlog.logon.type", X, SK_ECS_LOGON_TYPE, "LogonType", NONE),
    R("powershell.file.script_block_text", PS, SK_ECS_COPY, "ScriptBlockText", 4104),
    R("powershell.file.script_block_id", PS, SK_ECS_COPY, "ScriptBlockId", 4104),
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

#undef R
#undef C
#undef NONE

bool sk_ecs_lookup(const char *name, sk_ecs_def *out)
{
    memset(out, 0, sizeof(*out));
    static const char *const data_prefix[] = { "winlog.event_data.", "winlog.user_data." };
    for (size_t k = 0; k < 2; k++) {
        size_t pl = strlen(data_prefix[k]);
        if (strncmp(name, data_prefix[k], pl) == 0 && name[pl]) {
            out->rules[0] = (sk_ecs_rule){ ANY, SK_ECS_COPY, { 0 }, name + pl, NULL };
            out->n = 1;
            return true;
        }
    }
    for (size_t i = 0; i < NTABLE && out->n < SK_ECS_MAX_RULES; i++)
        if (strcmp(table[i].ecs, name) == 0)
            out->rules[out->n++] = table[i].r;
    return out->n > 0;
}

bool sk_ecs_rule_applies(const sk_ecs_rule *r, sk_ecs_log log, long eid)
{
    if (r->log != ANY && r->log != log)
        return false;
    if (!r->eids[0])
        return true;
    for (size_t i = 0; i < SK_ECS_MAX_EIDS && r->eids[i]; i++)
        if ((long)r->eids[i] == eid)
            return true;
    return false;
}

#undef S
#undef X
#undef ANY
#undef PS

// ---------------------------------------------------------------------------------------------
// Categorisation by log and event id (Elastic's Sysmon integration, with 7 as Elastic Defend's
// "library"; a small part of the System integration's Security table).

typedef struct cat_entry {
    uint16_t eid;
    const char *category[3];
    const char *type[3];
    const char *action;
    const char *outcome;
} cat_entry;

static const cat_entry sysmon_cats[] = {
    { 1, { "process" }, { "start" }, "Process creation", NULL },
    { 2, { "file" }, { "change" }, "A process changed a file creation time", NULL },
    { 3, { "network" }, { "start", "connection", "protocol" }, "Network connection", NULL },
    { 4, { "process" }, { "change" }, "Sysmon service state changed", NULL },
    { 5, { "process" }, { "end" }, "Process terminated", NULL },
    { 6, { "driver" }, { "start" }, "Driver loaded", NULL },
    { 7, { "library" }, { "start" }, "Image loaded", NULL },
    { 8, { "process" }, { "change" }, "CreateRemoteThread", NULL },
    { 9, { "process" }, { "access" }, "RawAccessRead", NULL },
    { 10, { "process" }, { "access" }, "ProcessAccess", NULL },
    { 11, { "file" }, { "creation" }, "FileCreate", NULL },
    { 12,
      { "configuration", "registry" },
      { "change" },
      "RegistryEvent (Object create and delete)",
      NULL },
    { 13, { "configuration", "registry" }, { "change" }, "RegistryEvent (Value Set)", NULL },
    { 14,
      { "configuration", "registry" },
      { "change" },
      "RegistryEvent (Key and Value Rename)",
      NULL },
    { 15, { "file" }, { "access" }, "FileCreateStreamHash", NULL },
    { 16, { "configuration" }, { "change" }, "ServiceConfigurationChange", NULL },
    { 17, { "file" }, { "creation" }, "PipeEvent (Pipe Created)", NULL },
    { 18, { "file" }, { "access" }, "PipeEvent (Pipe Connected)", NULL },
    { 19, { "process" }, { "info" }, "WmiEvent (WmiEventFilter activity detected)", NULL },
    { 20, { "process" }, { "change" }, "WmiEvent (WmiEventConsumer activity detected)", NULL },
    { 21,
      { "process" },
      { "access" },
      "WmiEvent (WmiEventConsumerToFilter activity detected)",
      NULL },
    { 22, { "network" }, { "connection", "protocol", "info" }, "DNSEvent (DNS query)", NULL },
    { 23, { "file" }, { "deletion" }, "FileDelete (File Delete archived)", NULL },
    { 24, { NULL }, { "change" }, "ClipboardChange (New content in the clipboard)", NULL },
    { 25, { "process" }, { "change" }, "ProcessTampering (Process image change)", NULL },
    { 26, { "file" }, { "deletion" }, "FileDeleteDetected (File Delete logged)", NULL },
    { 27, { "file" }, { "creation" }, "FileBlockExecutable", "failure" },
    { 28, { "file" }, { "deletion" }, "FileBlockShredding", NULL },
    { 29, { "file" }, { "creation" }, "FileExecutableDetected", NULL },
    { 255, { "process" }, { NULL }, "Error", "failure" },
};

static const cat_entry security_cats[] = {
    { 1102, { "iam" }, { "admin", "change" }, "audit-log-cleared", "success" },
    { 4624, { "authentication" }, { "start" }, "logged-in", "success" },
    { 4625, { "authentication" }, { "start" }, "logon-failed", "failure" },
    { 4634, { "authentication" }, { "end" }, "logged-out", "success" },
    { 4647, { "authentication" }, { "end" }, "logged-out", "success" },
    { 4648, { "authentication" }, { "start" }, "logged-in-explicit", "success" },
    { 4662, { "iam" }, { "info" }, "object-operation-performed", "success" },
    { 4672, { "iam" }, { "admin" }, "logged-in-special", "success" },
    { 4688, { "process" }, { "start" }, "created-process", "success" },
    { 4689, { "process" }, { "end" }, "exited-process", "success" },
    { 4697, { "iam", "configuration" }, { "admin", "change" }, "service-installed", "success" },
    { 4698,
      { "iam", "configuration" },
      { "creation", "admin" },
      "scheduled-task-created",
      "success" },
    { 4699,
      { "iam", "configuration" },
      { "deletion", "admin" },
      "scheduled-task-deleted",
      "success" },
    { 4702,
      { "iam", "configuration" },
      { "change", "admin" },
      "scheduled-task-updated",
      "success" },
    { 4720, { "iam" }, { "user", "creation" }, "added-user-account", "success" },
    { 4722, { "iam" }, { "user", "change" }, "enabled-user-account", "success" },
    { 4724, { "iam" }, { "user", "change" }, "reset-password", "success" },
    { 4725, { "iam" }, { "user", "change" }, "disabled-user-account", "success" },
    { 4726, { "iam" }, { "user", "deletion" }, "deleted-user-account", "success" },
    { 4728, { "iam" }, { "group", "change" }, "added-member-to-group", "success" },
    { 4732, { "iam" }, { "group", "change" }, "added-member-to-group", "success" },
    { 4738, { "iam" }, { "user", "change" }, "modified-user-account", "success" },
    { 4742, { "iam" }, { "host", "change" }, "changed-computer-account", "success" },
    { 4756, { "iam" }, { "group", "change" }, "added-member-to-group", "success" },
    { 4768, { "authentication" }, { "start" }, "kerberos-authentication-ticket-requested", NULL },
    { 4769, { "authentication" }, { "start" }, "kerberos-service-ticket-requested", NULL },
    { 4771, { "authentication" }, { "start" }, "kerberos-preauth-failed", "failure" },
    { 4776, { "authentication" }, { "start" }, "credential-validated", NULL },
    { 4781, { "iam" }, { "user", "change" }, "renamed-user-account", "success" },
    { 5136, { "iam", "configuration" }, { "change" }, "directory-service-object-modified", NULL },
    { 5140, { "network", "file" }, { "info", "access" }, "network-share-object-accessed", NULL },
    { 5145,
      { "network", "file" },
      { "info", "access" },
      "network-share-object-access-checked",
      NULL },
};

static const cat_entry system_cats[] = {
    { 7045, { "iam", "configuration" }, { "admin", "change" }, "service-installed", "success" },
};

static const cat_entry *find_cat(sk_ecs_log log, long eid)
{
    const cat_entry *t = NULL;
    size_t n = 0;
    switch (log) {
    case SK_ECS_LOG_SYSMON:
        t = sysmon_cats;
        n = sizeof sysmon_cats / sizeof sysmon_cats[0];
        break;
    case SK_ECS_LOG_SECURITY:
        t = security_cats;
        n = sizeof security_cats / sizeof security_cats[0];
        break;
    case SK_ECS_LOG_SYSTEM:
        t = system_cats;
        n = sizeof system_cats / sizeof system_cats[0];
        break;
    default:
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (t[i].eid == eid)
            return &t[i];
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// Transforms

static size_t emit_static(sk_ecs_emit_fn emit, void *ctx, const char *s)
{
    if (!s)
        return 0;
    emit(ctx, s, strlen(s), true);
    return 1;
}

static const char *last_sep(const char *s, size_t n)
{
    for (size_t i = n; i-- > 0;)
        if (s[i] == '\\' || s[i] == '/')
            return s + i;
    return NULL;
}

static size_t emit_args(const char *s, size_t n, bool count_only, sk_ecs_emit_fn emit, void *ctx)
{
    // Windows command-line splitting (CommandLineToArgvW rules, with the pre-2008 treatment of a
    // doubled quote inside quotes): arguments are separated by unquoted blanks; 2n backslashes
    // before a quote give n backslashes and the quote toggles quoting; 2n+1 give n backslashes
    // and a literal quote; other backslashes are literal.
    char small[1024];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf)
        return 0;
    size_t count = 0, i = 0;
    while (i < n) {
        if (s[i] == ' ' || s[i] == '\t') {
            i++;
            continue;
        }
        size_t k = 0, nslash = 0;
        bool inquote = false;
        while (i < n) {
            char c = s[i];
            if ((c == ' ' || c == '\t') && !inquote) {
                i++;
                break;
            }
            if (c == '\\') {
                nslash++;
                i++;
                continue;
            }
            if (c == '"') {
                for (size_t b = 0; b < nslash / 2; b++)
                    buf[k++] = '\\';
                if (nslash % 2 == 0) {
                    if (inquote && i + 1 < n && s[i + 1] == '"') {
                        buf[k++] = '"';
                        i++;
                    }
                    inquote = !inquote;
                } else {
                    buf[k++] = '"';
                }
                nslash = 0;
                i++;
                continue;
            }
            for (; nslash > 0; nslash--)
                buf[k++] = '\\';
            buf[k++] = c;
            i++;
        }
        for (; nslash > 0; nslash--)
            buf[k++] = '\\';
        if (!count_only) {
            buf[k] = '\0';
            emit(ctx, buf, k, false);
        }
        count++;
    }
    if (count_only) {
        char num[32];
        int len = snprintf(num, sizeof num, "%zu", count);
        emit(ctx, num, (size_t)len, false);
    }
    if (buf != small)
        free(buf);
    return count_only ? 1 : count;
}

static size_t emit_hash(const char *algo, const char *s, size_t n, sk_ecs_emit_fn emit, void *ctx)
{
    size_t al = strlen(algo);
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != ',')
            e++;
        // item s[i..e): "ALGO=value"
        if (e - i > al && s[i + al] == '=' && strncasecmp(s + i, algo, al) == 0) {
            const char *v = s + i + al + 1;
            size_t vn = e - i - al - 1;
            char buf[256];
            if (vn == 0 || vn >= sizeof buf)
                return 0;
            bool zeros = true;
            for (size_t k = 0; k < vn; k++) {
                char c = v[k];
                buf[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
                zeros = zeros && c == '0';
            }
            if (zeros)
                return 0;
            buf[vn] = '\0';
            emit(ctx, buf, vn, false);
            return 1;
        }
        i = e + 1;
    }
    return 0;
}

static const char *hive_of(const char *s, size_t n, size_t *toklen)
{
    static const char *const map[][2] = {
        { "HKEY_CLASSES_ROOT", "HKCR" },
        { "HKCR", "HKCR" },
        { "HKEY_CURRENT_CONFIG", "HKCC" },
        { "HKCC", "HKCC" },
        { "HKEY_CURRENT_USER", "HKCU" },
        { "HKCU", "HKCU" },
        { "HKEY_DYN_DATA", "HKDD" },
        { "HKDD", "HKDD" },
        { "HKEY_LOCAL_MACHINE", "HKLM" },
        { "HKLM", "HKLM" },
        { "HKEY_PERFORMANCE_DATA", "HKPD" },
        { "HKPD", "HKPD" },
        { "HKEY_USERS", "HKU" },
        { "HKU", "HKU" },
    };
    size_t t = 0;
    while (t < n && s[t] != '\\')
        t++;
    *toklen = t;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strlen(map[i][0]) == t && memcmp(map[i][0], s, t) == 0)
            return map[i][1];
    return NULL;
}

// "DWORD (0x00000004)" / "QWORD (0x00000000-0x00000004)" -> value; false for other data.
static bool reg_number(const char *s, size_t n, unsigned long long *out, bool *qword)
{
    unsigned long long hi = 0, lo = 0;
    char tail;
    char buf[64];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (strncasecmp(buf, "DWORD (0x", 9) == 0 && sscanf(buf + 9, "%llx%c", &lo, &tail) == 2 &&
        tail == ')' && buf[n - 1] == ')') {
        *out = lo;
        *qword = false;
        return true;
    }
    if (strncasecmp(buf, "QWORD (0x", 9) == 0 &&
        sscanf(buf + 9, "%llx-0x%llx%c", &hi, &lo, &tail) == 3 && tail == ')' &&
        buf[n - 1] == ')') {
        *out = (hi << 32) | (lo & 0xffffffffull);
        *qword = true;
        return true;
    }
    return false;
}

size_t sk_ecs_apply(const sk_ecs_rule *r, const char *s, size_t n, sk_ecs_emit_fn emit, void *ctx)
{
    const char *sep;
    char num[32];
    switch ((sk_ecs_xf)r->xf) {
    case SK_ECS_COPY:
        emit(ctx, s, n, true);
        return 1;
    case SK_ECS_NOT_DASH:
        if (n == 0 || (n == 1 && s[0] == '-'))
            return 0;
        emit(ctx, s, n, true);
        return 1;
    case SK_ECS_BASENAME:
        sep = last_sep(s, n);
        if (!sep) {
            if (!n)
                return 0;
            emit(ctx, s, n, true);
            return 1;
        }
        if (sep + 1 == s + n)
            return 0;
        emit(ctx, sep + 1, (size_t)(s + n - sep - 1), true);
        return 1;
    case SK_ECS_DIRNAME:
        sep = last_sep(s, n);
        if (!sep)
            return 0;
        emit(ctx, s, (size_t)(sep - s), false);
        return 1;
    case SK_ECS_EXTENSION: {
        sep = last_sep(s, n);
        const char *b = sep ? sep + 1 : s;
        for (const char *q = s + n; q-- > b;)
            if (*q == '.') {
                if (q + 1 == s + n)
                    return 0;
                emit(ctx, q + 1, (size_t)(s + n - q - 1), true);
                return 1;
            }
        return 0;
    }
    case SK_ECS_ARGS:
        return emit_args(s, n, false, emit, ctx);
    case SK_ECS_ARGS_COUNT:
        return emit_args(s, n, true, emit, ctx);
    case SK_ECS_USER_NAME:
        sep = memchr(s, '\\', n);
        if (!sep) {
            if (!n)
                return 0;
            emit(ctx, s, n, true);
            return 1;
        }
        if (memchr(sep + 1, '\\', (size_t)(s + n - sep - 1)) || sep + 1 == s + n)
            return 0;
        emit(ctx, sep + 1, (size_t)(s + n - sep - 1), true);
        return 1;
    case SK_ECS_USER_DOMAIN:
        sep = memchr(s, '\\', n);
        if (!sep || sep == s || memchr(sep + 1, '\\', (size_t)(s + n - sep - 1)))
            return 0;
        emit(ctx, s, (size_t)(sep - s), false);
        return 1;
    case SK_ECS_HASH_MD5:
        return emit_hash("MD5", s, n, emit, ctx);
    case SK_ECS_HASH_SHA1:
        return emit_hash("SHA1", s, n, emit, ctx);
    case SK_ECS_HASH_SHA256:
        return emit_hash("SHA256", s, n, emit, ctx);
    case SK_ECS_HASH_IMPHASH:
        return emit_hash("IMPHASH", s, n, emit, ctx);
    case SK_ECS_REG_HIVE: {
        size_t tl;
        return emit_static(emit, ctx, hive_of(s, n, &tl));
    }
    case SK_ECS_REG_KEY: {
        size_t tl;
        if (!hive_of(s, n, &tl) || tl + 1 >= n)
            return 0;
        emit(ctx, s + tl + 1, n - tl - 1, true);
        return 1;
    }
    case SK_ECS_REG_VALUE: {
        const char *b = s;
        for (size_t i = n; i-- > 0;)
            if (s[i] == '\\') {
                b = s + i + 1;
                break;
            }
        emit(ctx, b, (size_t)(s + n - b), true);
        return 1;
    }
    case SK_ECS_REG_DATA: {
        unsigned long long v;
        bool q;
        if (n == 0)
            return 0;
        if (reg_number(s, n, &v, &q)) {
            int len = snprintf(num, sizeof num, "%llu", v);
            emit(ctx, num, (size_t)len, false);
            return 1;
        }
        emit(ctx, s, n, true);
        return 1;
    }
    case SK_ECS_REG_DATA_TYPE: {
        unsigned long long v;
        bool q;
        if (n == 0)
            return 0;
        if (reg_number(s, n, &v, &q))
            return emit_static(emit, ctx, q ? "SZ_QWORD" : "SZ_DWORD");
        if (n == 11 && memcmp(s, "Binary Data", 11) == 0)
            return emit_static(emit, ctx, "REG_BINARY");
        return emit_static(emit, ctx, "REG_SZ");
    }
    case SK_ECS_REG_EVENT_TYPE:
        if (n == 9 && memcmp(s, "CreateKey", 9) == 0)
            return emit_static(emit, ctx, "creation");
        if (n >= 6 && memcmp(s, "Delete", 6) == 0)
            return emit_static(emit, ctx, "deletion");
        return emit_static(emit, ctx, "change");
    case SK_ECS_TRUSTED:
        if (n == 0)
            return 0;
        return emit_static(emit, ctx, n == 5 && strncasecmp(s, "Valid", 5) == 0 ? "true" : "false");
    case SK_ECS_DIRECTION:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            return emit_static(emit, ctx, "egress");
        if (n == 5 && strncasecmp(s, "false", 5) == 0)
            return emit_static(emit, ctx, "ingress");
        return 0;
    case SK_ECS_LOGON_TYPE: {
        static const char *const names[] = {
            [0] = "System",
            [2] = "Interactive",
            [3] = "Network",
            [4] = "Batch",
            [5] = "Service",
            [7] = "Unlock",
            [8] = "NetworkCleartext",
            [9] = "NewCredentials",
            [10] = "RemoteInteractive",
            [11] = "CachedInteractive",
            [12] = "CachedRemoteInteractive",
            [13] = "CachedUnlock",
        };
        if (n == 0 || n > 2)
            return 0;
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v >= sizeof names / sizeof names[0])
            return 0;
        return emit_static(emit, ctx, names[v]);
    }
    case SK_ECS_HEX: {
        if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            unsigned long long v = 0;
            for (size_t i = 2; i < n; i++) {
                int c = (unsigned char)s[i], d;
                if (c >= '0' && c <= '9')
                    d = c - '0';
                else if (c >= 'a' && c <= 'f')
                    d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                    d = c - 'A' + 10;
                else
                    return 0;
                if (v >> 60)
                    return 0;
                v = v * 16 + (unsigned)d;
            }
            int len = snprintf(num, sizeof num, "%llu", v);
            emit(ctx, num, (size_t)len, false);
            return 1;
        }
        if (!n)
            return 0;
        emit(ctx, s, n, true);
        return 1;
    }
    case SK_ECS_CATEGORY:
    case SK_ECS_TYPE:
    case SK_ECS_ACTION:
    case SK_ECS_OUTCOME:
    case SK_ECS_DATASET:
    case SK_ECS_MODULE:
    case SK_ECS_CONST:
        break;
    }
    return 0;
}

size_t sk_ecs_apply_computed(
        const sk_ecs_rule *r, sk_ecs_log log, long eid, sk_ecs_emit_fn emit, void *ctx)
{
    const cat_entry *c = find_cat(log, eid);
    size_t k = 0;
    switch ((sk_ecs_xf)r->xf) {
    case SK_ECS_CONST:
        return emit_static(emit, ctx, r->text);
    case SK_ECS_CATEGORY:
        for (size_t i = 0; c && i < 3 && c->category[i]; i++)
            k += emit_static(emit, ctx, c->category[i]);
        return k;
    case SK_ECS_TYPE:
        for (size_t i = 0; c && i < 3 && c->type[i]; i++)
            k += emit_static(emit, ctx, c->type[i]);
        return k;
    case SK_ECS_ACTION:
        return c ? emit_static(emit, ctx, c->action) : 0;
    case SK_ECS_OUTCOME:
        return c ? emit_static(emit, ctx, c->outcome) : 0;
    case SK_ECS_DATASET:
        switch (log) {
        case SK_ECS_LOG_SYSMON:
            return emit_static(emit, ctx, "windows.sysmon_operational");
        case SK_ECS_LOG_SECURITY:
            return emit_static(emit, ctx, "system.security");
        case SK_ECS_LOG_SYSTEM:
            return emit_static(emit, ctx, "system.system");
        case SK_ECS_LOG_POWERSHELL:
            return emit_static(emit, ctx, "windows.powershell_operational");
        case SK_ECS_LOG_POWERSHELL_WIN:
            return emit_static(emit, ctx, "windows.powershell");
        case SK_ECS_LOG_ANY:
            return 0;
        }
        return 0;
    case SK_ECS_MODULE:
        switch (log) {
        case SK_ECS_LOG_SYSMON:
            return emit_static(emit, ctx, "sysmon");
        case SK_ECS_LOG_SECURITY:
            return emit_static(emit, ctx, "security");
        case SK_ECS_LOG_SYSTEM:
            return emit_static(emit, ctx, "system");
        case SK_ECS_LOG_POWERSHELL:
        case SK_ECS_LOG_POWERSHELL_WIN:
            return emit_static(emit, ctx, "powershell");
        case SK_ECS_LOG_ANY:
            return 0;
        }
        return 0;
    default:
        return 0;
    }
}

static const char *xf_name(sk_ecs_xf xf)
{
    static const char *const names[] = {
        "copy",           "not-dash",  "basename",    "dirname",    "extension", "args",
        "args_count",     "user.name", "user.domain", "md5",        "sha1",      "sha256",
        "imphash",        "hive",      "key",         "value",      "reg-data",  "reg-type",
        "reg-event-type", "trusted",   "direction",   "logon-type", "hex",       "category",
        "type",           "action",    "outcome",     "dataset",    "module",    "const",
    };
    return (size_t)xf < sizeof names / sizeof names[0] ? names[xf] : "?";
}

void sk_ecs_rule_describe(const sk_ecs_rule *r, char *out, size_t n)
{
    static const char *const logs[] = { "any log", "sysmon",     "security",
                                        "system",  "powershell", "windows powershell" };
    size_t k = (size_t)snprintf(out, n, "%s", r->log < 6 ? logs[r->log] : "?");
    for (size_t i = 0; i < SK_ECS_MAX_EIDS && r->eids[i] && k < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%u", i ? "," : " ", (unsigned)r->eids[i]);
    if (k >= n)
        return;
    if (r->source) {
        if (r->xf == SK_ECS_COPY)
            snprintf(out + k, n - k, ": %s", r->source);
        else
            snprintf(out + k, n - k, ": %s(%s)", xf_name((sk_ecs_xf)r->xf), r->source);
    } else if (r->xf == SK_ECS_CONST) {
        snprintf(out + k, n - k, ": \"%s\"", r->text ? r->text : "");
    } else {
        snprintf(out + k, n - k, ": %s by event id", xf_name((sk_ecs_xf)r->xf));
    }
}
