// The ECS view of an event: the Elastic Common Schema field names that Elastic's detection rules
// use (process.name, file.extension, event.category, ...), answered from the same events for evtx
// and Winlogbeat input alike.
//
// A field F of the view is answered, in this order:
//   1. by the event's own fields named exactly F (NDJSON documents keep every leaf under its
//      dotted path, hidden or visible: documents that went through Elastic's processing carry
//      process.name, event.category, ... themselves, and raw Winlogbeat documents carry
//      event.code, host.name, winlog.event_data.*);
//   2. otherwise by the derivation rules below, which forward-map Sysmon (and a few Security)
//      fields to ECS the way Elastic's Sysmon ingest processing does: process.executable = Image
//      (SourceImage in events 8 and 10), process.name = its base name, process.args = the command
//      line split like CommandLineToArgvW, file.path = TargetFilename (ImageLoaded in 6 and 7),
//      file.name/directory/extension from it, registry.path/hive/key/value/data.strings from
//      TargetObject and Details, user.name/domain from User, hashes from Hashes, and
//      event.category/type/action, host.os.type, data_stream.dataset from the log and event id.
// The rules are data (sk_ecs_lookup); the evaluator (src/rules/eql_eval.c) looks the source
// fields up in the event and applies the transforms here, lazily and only for the fields a rule
// reads.
//
// Differences from Elastic worth knowing: Sysmon event 7 is category "library" (as Elastic Defend
// reports image loads, so `library where dll.name : ...` rules work) rather than the integration's
// "process"/"change", and it answers both dll.* and file.*; registry event 12 is type "creation"
// (CreateKey) or "deletion" (DeleteKey/DeleteValue), 13 and 14 are "change"; QWORD registry data
// is the real 64-bit value; a path without a backslash is its own base name; process.code_signature
// and the *.Ext.* fields of Elastic Defend have no Sysmon source and are null.
#ifndef SK_EVENT_ECS_H
#define SK_EVENT_ECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef enum sk_ecs_log {
    SK_ECS_LOG_ANY = 0, // in rules: any log; from sk_ecs_log_of: none of the logs below
    SK_ECS_LOG_SYSMON,
    SK_ECS_LOG_SECURITY,
    SK_ECS_LOG_SYSTEM,
    SK_ECS_LOG_POWERSHELL,    // Microsoft-Windows-PowerShell/Operational
    SK_ECS_LOG_POWERSHELL_WIN // Windows PowerShell
} sk_ecs_log;

// The log an event comes from, by its Channel (else Provider_Name). An event with neither (flat
// exports, test events) is taken as Sysmon.
sk_ecs_log sk_ecs_log_of(const sk_event *ev);

typedef enum sk_ecs_xf {
    SK_ECS_COPY,        // the source value unchanged
    SK_ECS_NOT_DASH,    // the source value unless it is "-"
    SK_ECS_BASENAME,    // after the last '\' or '/' (the whole value when there is none)
    SK_ECS_DIRNAME,     // before the last '\' or '/' (absent when there is none)
    SK_ECS_EXTENSION,   // of the base name, after its last '.' (absent when none)
    SK_ECS_ARGS,        // the command line split like CommandLineToArgvW: one value per argument
    SK_ECS_ARGS_COUNT,  // their number
    SK_ECS_USER_NAME,   // "DOMAIN\name" -> "name" (a value without '\' is the name)
    SK_ECS_USER_DOMAIN, // "DOMAIN\name" -> "DOMAIN"
    SK_ECS_HASH_MD5,    // one algorithm of Sysmon's "SHA1=..,MD5=..,..." (lower-case; absent
    SK_ECS_HASH_SHA1,   //   when not listed or all zeros)
    SK_ECS_HASH_SHA256,
    SK_ECS_HASH_IMPHASH,
    SK_ECS_REG_HIVE,       // TargetObject "HKLM\..." -> "HKLM" (absent for an unknown hive)
    SK_ECS_REG_KEY,        // the path after the hive (absent for an unknown hive)
    SK_ECS_REG_VALUE,      // the last path component
    SK_ECS_REG_DATA,       // Details: "DWORD (0x00000010)" -> "16", QWORD likewise, else as is
    SK_ECS_REG_DATA_TYPE,  // "SZ_DWORD", "SZ_QWORD", "REG_BINARY", "REG_SZ"
    SK_ECS_REG_EVENT_TYPE, // Sysmon 12 EventType: CreateKey -> "creation", Delete* -> "deletion"
    SK_ECS_TRUSTED,        // SignatureStatus: "true" when "Valid", else "false"
    SK_ECS_DIRECTION,      // Initiated: "true" -> "egress", "false" -> "ingress"
    SK_ECS_LOGON_TYPE,     // LogonType 3 -> "Network", 10 -> "RemoteInteractive", ...
    SK_ECS_HEX,            // "0x1a4" -> "420" (Security event process ids); decimal kept
    // Computed from the log and event id (no source field):
    SK_ECS_CATEGORY,
    SK_ECS_TYPE,
    SK_ECS_ACTION,
    SK_ECS_OUTCOME,
    SK_ECS_DATASET,
    SK_ECS_MODULE,
    SK_ECS_CONST, // the rule's text
} sk_ecs_xf;

#define SK_ECS_MAX_EIDS 12

typedef struct sk_ecs_rule {
    uint8_t log;                    // sk_ecs_log (SK_ECS_LOG_ANY: every log)
    uint8_t xf;                     // sk_ecs_xf
    uint16_t eids[SK_ECS_MAX_EIDS]; // event ids it applies to (0-terminated); none: every event
    const char *source;             // the event field the value comes from; NULL when computed
    const char *text;               // SK_ECS_CONST: the value
} sk_ecs_rule;

#define SK_ECS_MAX_RULES 10

typedef struct sk_ecs_def {
    sk_ecs_rule rules[SK_ECS_MAX_RULES];
    size_t n;
} sk_ecs_def;

// The derivation rules of ECS field name, in order: the first rule whose log and event id fit
// the event and whose source field is present (or that is computed) gives the values. False when
// saker knows none (the field is then answered only by an event field of that exact name).
// "winlog.event_data.X" and "winlog.user_data.X" derive from the event data field X. The source
// strings point into static data or into name (which must outlive out).
bool sk_ecs_lookup(const char *name, sk_ecs_def *out);

// True when rule r applies to an event of this log and event id (eid < 0: unknown).
bool sk_ecs_rule_applies(const sk_ecs_rule *r, sk_ecs_log log, long eid);

// Receives the values of a transform. view: p points into the source value (or static data) and
// is NUL-terminated there, so it may be kept; otherwise p is scratch that the callee copies.
typedef void (*sk_ecs_emit_fn)(void *ctx, const char *p, size_t n, bool view);

// Applies rule r to one source value s[0..n) (NUL-terminated at n); returns the number of values
// emitted.
size_t sk_ecs_apply(const sk_ecs_rule *r, const char *s, size_t n, sk_ecs_emit_fn emit, void *ctx);
// Applies a computed rule (source NULL) for an event of this log and event id.
size_t sk_ecs_apply_computed(
        const sk_ecs_rule *r, sk_ecs_log log, long eid, sk_ecs_emit_fn emit, void *ctx);

// One line describing r ("sysmon 11,23: basename(TargetFilename)") for `rules explain`.
void sk_ecs_rule_describe(const sk_ecs_rule *r, char *out, size_t n);

#endif
