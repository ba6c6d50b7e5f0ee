// Field mapping for JSON documents (Winlogbeat 6/7/8, Elastic's Sysmon processing, flat exports)
// and the ECS <-> Sysmon name table. The rules are described in fieldmap.h; this file is mostly
// data (the alias and ECS tables) plus one resolution pass per document:
//
//   pass 1  classify each leaf: event data (by path prefix), system alias, ECS name, top-level key;
//           each classified leaf is a candidate for one canonical name, with a priority
//   pass 2  for Elastic-processed Sysmon documents, classify the ECS leaves (some ECS names mean
//           different Sysmon fields in different events, so this waits for the event ID)
//   emit    system fields (in evtx order), event data (document order), rebuilt User/Hashes,
//           hidden Data items, then the remaining leaves (hidden when they were a source)
//
// Names are found through two small open-addressing hash tables: a fixed one built once per
// sk_fieldmap (alias and ECS paths) and a per-document one (canonical names), cleared in O(1) with
// a generation counter. Field names and values are referenced, not copied: leaves live in the
// event arena already, static names live in the tables below.
#include "fieldmap.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/xmlname.h"

// ------------------------------------------------------------------------------------------------
// Tables

// Priorities: lower wins. tier 0 event data, 1 user data, 2 system alias, 3 ECS, 4 top-level key.
#define PRIO(tier, rank) ((uint16_t)((tier)*256u + (rank)))
#define PRIO_NONE        ((uint16_t)0xffffu)
#define TIER(prio)       ((prio) / 256u)

// System fields in evtx order, each with the paths it is taken from, best first. The last groups of
// each list are the evtx_dump JSON layout (Event.System...) and Velociraptor's parse_evtx()
// (System.EventID.Value, System.TimeCreated.SystemTime in Unix seconds), which cost nothing to
// accept.
typedef struct sys_field {
    const char *name;
    const char *renamed; // the name used when event data has a field of the same name
    const char *aliases[9];
} sys_field;

static const sys_field sys_fields[] = {
    { "Provider_Name",
      "System.Provider_Name",
      { "winlog.provider_name",
        "source_name",
        "SourceName",
        "ProviderName",
        "Provider",
        "Provider_Name",
        "Event.System.Provider.#attributes.Name",
        "System.Provider.Name",
        NULL } },
    { "Provider_Guid",
      "System.Provider_Guid",
      { "winlog.provider_guid",
        "provider_guid",
        "ProviderGuid",
        "Provider_Guid",
        "Event.System.Provider.#attributes.Guid",
        "System.Provider.Guid",
        NULL } },
    { "EventID",
      "System.EventID",
      { "winlog.event_id",
        "event_id",
        "EventID",
        "Event.System.EventID",
        "Event.System.EventID.#text",
        "System.EventID.Value",
        "System.EventID",
        NULL } },
    { "Version",
      "System.Version",
      { "winlog.version", "version", "Version", "Event.System.Version", "System.Version", NULL } },
    // Winlogbeat keeps only the rendered level ("information"); flat exports the number.
    { "Level",
      "System.Level",
      { "log.level", "level", "Level", "EventLevel", "Event.System.Level", "System.Level", NULL } },
    { "Task",
      "System.Task",
      { "winlog.task", "task", "Task", "Event.System.Task", "System.Task", NULL } },
    { "Opcode",
      "System.Opcode",
      { "winlog.opcode", "opcode", "Opcode", "Event.System.Opcode", "System.Opcode", NULL } },
    { "Keywords",
      "System.Keywords",
      { "winlog.keywords", "keywords", "Keywords", "Event.System.Keywords", "System.Keywords", NULL } },
    // @timestamp is the record's time in Winlogbeat output (and UtcTime after Elastic's Sysmon
    // processing); NXLog's EventTime is local time without a zone and Azure's TimeGenerated the
    // ingestion time, so both come after the record times.
    { "TimeCreated",
      "System.TimeCreated",
      { "winlog.time_created",
        "@timestamp",
        "TimeCreated",
        "EventTime",
        "TimeGenerated",
        "Event.System.TimeCreated.#attributes.SystemTime",
        "System.TimeCreated.SystemTime",
        NULL } },
    { "EventRecordID",
      "System.EventRecordID",
      { "winlog.record_id",
        "record_number",
        "RecordNumber",
        "EventRecordID",
        "Event.System.EventRecordID",
        "System.EventRecordID",
        NULL } },
    { "ActivityID",
      "System.ActivityID",
      { "winlog.activity_id",
        "activity_id",
        "ActivityID",
        "Event.System.Correlation.#attributes.ActivityID",
        "System.Correlation.ActivityID",
        NULL } },
    { "RelatedActivityID",
      "System.RelatedActivityID",
      { "winlog.related_activity_id",
        "related_activity_id",
        "RelatedActivityID",
        "Event.System.Correlation.#attributes.RelatedActivityID",
        NULL } },
    { "ProcessID",
      "System.ProcessID",
      { "winlog.process.pid",
        "process_id",
        "ProcessID",
        "ExecutionProcessID",
        "Event.System.Execution.#attributes.ProcessID",
        "System.Execution.ProcessID",
        NULL } },
    { "ThreadID",
      "System.ThreadID",
      { "winlog.process.thread.id",
        "thread_id",
        "ThreadID",
        "Event.System.Execution.#attributes.ThreadID",
        "System.Execution.ThreadID",
        NULL } },
    { "Channel",
      "System.Channel",
      { "winlog.channel", "log_name", "Channel", "Event.System.Channel", "System.Channel", NULL } },
    { "Computer",
      "System.Computer",
      { "winlog.computer_name",
        "computer_name",
        "Hostname",
        "Computer",
        "Event.System.Computer",
        "System.Computer",
        NULL } },
    { "UserID",
      "System.UserID",
      { "winlog.user.identifier",
        "user.identifier",
        "UserID",
        "Event.System.Security.#attributes.UserID",
        "System.Security.UserID",
        NULL } },
};
#define NSYS            (sizeof(sys_fields) / sizeof(sys_fields[0]))
#define SYS_EVENTID     2 // indexes into sys_fields, checked in sk_fieldmap_new
#define SYS_TIMECREATED 8

// Event data and user data: path prefixes, best first within each tier.
typedef struct data_prefix {
    const char *prefix;
    uint32_t len;
    uint16_t prio;
    bool element; // the names sit one element below (evtx_dump's UserData.<Element>.<name>)
    bool text;    // <name>.#text is the text of <name> (evtx_dump: unnamed <Data> items are
                  // "Data": {"#text": [...]})
} data_prefix;

static const data_prefix data_prefixes[] = {
    { "winlog.event_data.", 18, PRIO(0, 0), false, false },
    { "event_data.", 11, PRIO(0, 1), false, false }, // Winlogbeat 6
    { "EventData.", 10, PRIO(0, 2), false, false },  // Azure WindowsEvent (string expanded)
    { "Event.EventData.", 16, PRIO(0, 3), false, true }, // evtx_dump JSON
    { "winlog.user_data.", 17, PRIO(1, 0), false, false },
    { "user_data.", 10, PRIO(1, 1), false, false },     // Winlogbeat 6
    { "Event.UserData.", 15, PRIO(1, 2), true, false }, // evtx_dump JSON, as evtx UserData leaves
};
#define NPREFIX (sizeof(data_prefixes) / sizeof(data_prefixes[0]))

// ECS <-> Sysmon names as Elastic's Sysmon processing (winlogbeat-sysmon.js) renames or copies
// them. eids lists the Sysmon event IDs an entry is specific to (0-terminated; empty: any event).
typedef struct ecs_entry {
    const char *ecs;
    const char *sysmon;
    uint8_t eids[4];
} ecs_entry;

static const ecs_entry ecs_map[] = {
    { "process.executable", "Image", { 0 } },
    { "process.executable", "SourceImage", { 8, 10, 0 } },
    { "process.executable", "Destination", { 20, 0 } },
    { "process.entity_id", "ProcessGuid", { 0 } },
    { "process.entity_id", "SourceProcessGuid", { 8, 0 } },
    { "process.entity_id", "SourceProcessGUID", { 10, 0 } },
    { "process.pid", "ProcessId", { 0 } },
    { "process.pid", "SourceProcessId", { 8, 10, 0 } },
    { "process.thread.id", "SourceThreadId", { 10, 0 } },
    { "process.command_line", "CommandLine", { 0 } },
    { "process.working_directory", "CurrentDirectory", { 0 } },
    { "process.parent.entity_id", "ParentProcessGuid", { 0 } },
    { "process.parent.pid", "ParentProcessId", { 0 } },
    { "process.parent.executable", "ParentImage", { 0 } },
    { "process.parent.command_line", "ParentCommandLine", { 0 } },
    { "process.pe.original_file_name", "OriginalFileName", { 0 } },
    { "process.pe.company", "Company", { 0 } },
    { "process.pe.description", "Description", { 0 } },
    { "process.pe.product", "Product", { 0 } },
    { "process.pe.file_version", "FileVersion", { 0 } },
    { "file.pe.original_file_name", "OriginalFileName", { 7, 0 } },
    { "file.pe.company", "Company", { 7, 0 } },
    { "file.pe.description", "Description", { 7, 0 } },
    { "file.pe.product", "Product", { 7, 0 } },
    { "file.pe.file_version", "FileVersion", { 7, 0 } },
    { "file.path", "TargetFilename", { 0 } },
    { "file.path", "ImageLoaded", { 6, 7, 0 } },
    { "file.path", "Device", { 9, 0 } },
    { "file.name", "PipeName", { 17, 18, 0 } },
    { "file.code_signature.subject_name", "Signature", { 6, 7, 0 } },
    { "file.code_signature.status", "SignatureStatus", { 6, 7, 0 } },
    { "registry.path", "TargetObject", { 12, 13, 14, 0 } },
    { "registry.data.strings", "Details", { 13, 0 } },
    { "source.ip", "SourceIp", { 0 } },
    { "source.domain", "SourceHostname", { 0 } },
    { "source.port", "SourcePort", { 0 } },
    { "destination.ip", "DestinationIp", { 0 } },
    { "destination.domain", "DestinationHostname", { 0 } },
    { "destination.port", "DestinationPort", { 0 } },
    { "network.transport", "Protocol", { 3, 0 } },
    { "network.protocol", "DestinationPortName", { 3, 0 } },
    { "dns.question.name", "QueryName", { 22, 0 } },
    { "rule.name", "RuleName", { 0 } },
    { "error.code", "ID", { 255, 0 } },
    { "sysmon.file.archived", "Archived", { 0 } },
    { "sysmon.file.is_executable", "IsExecutable", { 0 } },
};
#define NECS (sizeof(ecs_map) / sizeof(ecs_map[0]))

// Leaves that rebuild a field from several ECS fields: User = user.domain "\" user.name, and
// Hashes (Hash in event 15) = "SHA1=..,MD5=..,SHA256=..,IMPHASH=..", or from a value Elastic's
// processing put in place of a Sysmon field: Initiated and Source/DestinationIsIpv6 (event 3).
enum {
    COMP_USER_NAME,
    COMP_USER_DOMAIN,
    COMP_NET_DIRECTION, // Initiated (event 3) from network.direction
    COMP_NET_TYPE,      // SourceIsIpv6 / DestinationIsIpv6 (event 3) from network.type
    COMP_HASH0
};
enum {
    NALGO = 4,
    NHASHNS = 3
};
static const char *const hash_algos[NALGO] = { "SHA1", "MD5", "SHA256", "IMPHASH" };
static const char *const comp_paths[] = {
    "user.name",
    "user.domain",
    "network.direction",
    "network.type",
    // COMP_HASH0 + ns * NALGO + algo; namespaces process, file, hash
    "process.hash.sha1",
    "process.hash.md5",
    "process.hash.sha256",
    "process.pe.imphash",
    "file.hash.sha1",
    "file.hash.md5",
    "file.hash.sha256",
    "file.pe.imphash",
    "hash.sha1",
    "hash.md5",
    "hash.sha256",
    "hash.imphash",
};
#define NCOMP (sizeof(comp_paths) / sizeof(comp_paths[0]))

// ------------------------------------------------------------------------------------------------
// State

enum {
    K_SYS = 1,
    K_ECS,
    K_COMP,
    K_MODULE
};

// Rank of a system alias matched in another case: after every exact alias.
#define RANK_ANY_CASE 15

typedef struct alias_slot {
    const char *key; // NULL: empty
    uint32_t len;
    uint32_t hash;
    uint8_t kind; // K_*
    uint8_t rank; // K_SYS: position in the alias list
    uint16_t idx; // K_SYS: sys_fields index; K_ECS: first ecs_map index; K_COMP: COMP_*
} alias_slot;

enum {
    CLS_NONE,
    CLS_DATA,
    CLS_SYS
};
enum {
    ROLE_USED = 1u,
    ROLE_PARAM = 2u
};

typedef struct leaf_info {
    uint32_t hash; // of the full path (when has_hash)
    int32_t slot;  // name-table slot of the canonical name; -1 when none
    int32_t ecs;   // first ecs_map entry for the path; -1
    int32_t comp;  // COMP_*; -1
    uint16_t prio;
    uint8_t cls;  // CLS_*
    uint8_t role; // ROLE_*
    bool has_hash;
    bool has_cname_hash;
    const char *cname; // canonical name candidate (NUL-terminated)
    uint32_t cname_len;
    uint32_t cname_hash; // when has_cname_hash
    const char *ename;   // the name it was emitted under (NULL: not emitted as canonical)
    uint32_t ename_len;
} leaf_info;

typedef struct name_slot {
    const char *name;
    uint32_t len;
    uint32_t hash;
    uint32_t gen; // slot is live when gen == fm->gen
    uint16_t best_data;
    uint16_t best_sys;
    int32_t sys_leaf; // first leaf holding best_sys
} name_slot;

typedef struct param_item {
    uint32_t n;
    uint32_t leaf;
} param_item;

// The lookup tables: built once (the first reader to open), then read-only and shared by every
// reader on every thread (a triage folder of 100,000 small files opens as many readers).
typedef struct fm_tables {
    alias_slot alias[512]; // power of two, kept half empty
    size_t nalias;
    uint32_t sys_hash[NSYS];
    uint32_t sys_len[NSYS];
    uint32_t sys_renamed_len[NSYS];
    int16_t ecs_next[NECS]; // next ecs_map entry with the same ECS name; -1
    uint32_t ecs_sysmon_len[NECS];
    uint32_t user_hash, hashes_hash, hash_hash;
    char lower_keys[96][24]; // the dotless system aliases in lower case (alias keys point here)
    size_t nlower;
} fm_tables;

static fm_tables tables;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

// What pass 1 of sk_fieldmap_apply looks up for an interned path (SK_LEAF_INTERNED), kept from one
// document to the next: a Winlogbeat dump repeats the same few dozen paths in every line.
typedef struct path_memo {
    const char *path;        // the interned path; NULL: not seen yet
    uint32_t hash;           // hash_bytes(path)
    const data_prefix *dp;   // match_prefix(path)
    const alias_slot *alias; // the alias lookup, for leaves with alias_flags
    uint32_t alias_flags;    // the leaf's SK_LEAF_TOP | SK_LEAF_EXPANDED bits; ~0u: not looked up
    uint32_t name_hash;      // hash of the name after dp (dp without element)
    bool any_case;           // alias found in lower case
} path_memo;

// What sk_fieldmap_apply emitted for one shape of document, to emit again for the next document
// of that shape without classifying its leaves: a Winlogbeat dump has a few dozen shapes (one per
// kind of event), each repeated thousands of times. The shape is the set of the leaves' interned
// paths with their flags, in any order (a dump that went through Elasticsearch has its keys in
// another order in each document); what the mapping makes of a document depends on nothing else,
// except the order of the fields it emits in document order, which a plan follows, and where it
// reads values (the ECS processing of Elastic's Sysmon module, the element names of UserData,
// "#text" names) or where the order would decide (a path twice, two system keys of one rank, two
// Data items of one number), and such documents are not planned. TimeCreated's conversion reads
// its value, so its op keeps it to make again.
enum {
    SEC_SYS,    // system fields, in evtx order
    SEC_DATA_A, // event data, in document order
    SEC_DATA_B, // then the top-level keys of flat exports, in document order
    SEC_PARAM,  // Data items, in their number's order
    SEC_REST    // every leaf under its path, in document order
};

typedef struct plan_op {
    const char *name; // interned path text or static: lives as long as the fieldmap
    uint32_t nlen;
    uint32_t slot;  // the leaf whose value it is, by its place in the plan's first document
    uint32_t flags; // SK_FIELD_*
    uint8_t sec;    // SEC_*
    bool time;      // TimeCreated: converted as the system loop does
    int8_t sys;     // its name's sk_event_sys_slot (-1: none)
} plan_op;

typedef struct plan {
    uint32_t shape; // shape_of() of its documents; 0: an empty slot
    uint32_t n;
    const char **paths; // [n] the leaves' interned paths, by slot
    uint32_t *ids;      // [n] and their path ids
    uint32_t *lflags;   // [n] and their SK_LEAF_* flags
    plan_op *ops;       // in the order of the mapping's loops: SEC_SYS first, ...
    uint32_t nops;
    uint32_t nsys, param_first, param_end; // ops [0, nsys) are SEC_SYS; SEC_PARAM a range too
    int32_t *data_op, *rest_op; // [n] by slot: its SEC_DATA_A/B op, its SEC_REST op; -1: none
    // No two ops have names of one sk_event_sys_slot: the fields sk_event_finish reads are the
    // ops that name them, wherever the document's order puts them.
    bool sys_known;
} plan;

#define PLAN_SLOTS      64u  // direct-mapped by shape
#define PLAN_MAX_LEAVES 512u // larger documents are mapped each time
#define PLAN_MISS_LIMIT 64u  // documents in a row without a plan before planning pauses
#define PLAN_PAUSE_MIN  256u // documents the first pause lasts; each next one twice as many
#define PLAN_PAUSE_MAX  8192u

struct sk_fieldmap {
    const fm_tables *tab;
    path_memo *memo; // by path id
    size_t memo_cap;
    leaf_info *li;
    size_t li_cap;
    name_slot *names;
    size_t names_cap; // power of two
    uint32_t gen;
    param_item *params;
    size_t params_cap;
    plan plans[PLAN_SLOTS];
    // The ops of the document being mapped, while it may still become a plan (rec_ok).
    plan_op *rec;
    size_t nrec, rec_cap;
    bool rec_ok;
    // The current document's leaves by path id (pos_gen[id] == pos_stamp: leaf pos_leaf[id]), and
    // a plan's slots bound to them: slot s is leaf perm[s], leaf i is slot inv[i].
    uint32_t *pos_gen, *pos_leaf; // [SK_MAX_INTERNED_PATHS]
    uint32_t pos_stamp;
    uint32_t *perm, *inv; // [PLAN_MAX_LEAVES]
    uint32_t *later;      // [PLAN_MAX_LEAVES] plan_apply's SEC_DATA_B leaves
    uint32_t plan_misses; // documents in a row that found no plan
    uint32_t plan_pause;  // documents still to map without planning
    uint32_t plan_backoff;
};

static uint32_t hash_bytes(const char *p, size_t n)
{
    return sk_fieldmap_hash(p, n);
}

static void alias_put(fm_tables *t, const char *key, uint8_t kind, uint8_t rank, uint16_t idx)
{
    uint32_t len = (uint32_t)strlen(key), h = hash_bytes(key, len);
    size_t mask = sizeof t->alias / sizeof t->alias[0] - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        alias_slot *s = &t->alias[i];
        if (!s->key) {
            *s = (alias_slot){ key, len, h, kind, rank, idx };
            t->nalias++;
            assert(t->nalias * 2 <= sizeof t->alias / sizeof t->alias[0]); // keep it half empty
            return;
        }
        if (s->len == len && memcmp(s->key, key, len) == 0)
            return; // first entry wins (ECS names with several meanings)
    }
}

static const alias_slot *alias_get(const sk_fieldmap *fm, const char *key, uint32_t len, uint32_t h)
{
    size_t mask = sizeof fm->tab->alias / sizeof fm->tab->alias[0] - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const alias_slot *s = &fm->tab->alias[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

static void build_tables(void)
{
    fm_tables *t = &tables;
    assert(strcmp(sys_fields[SYS_EVENTID].name, "EventID") == 0);
    assert(strcmp(sys_fields[SYS_TIMECREATED].name, "TimeCreated") == 0);
    for (size_t i = 0; i < NSYS; i++) {
        for (size_t r = 0; sys_fields[i].aliases[r]; r++)
            alias_put(t, sys_fields[i].aliases[r], K_SYS, (uint8_t)r, (uint16_t)i);
    }
    // Flat exports disagree on the case of their top-level keys ("eventid", "CHANNEL"): the
    // dotless aliases also answer in lower case (looked up after an exact miss, lowest rank).
    for (size_t i = 0; i < NSYS; i++) {
        for (size_t r = 0; sys_fields[i].aliases[r]; r++) {
            const char *a = sys_fields[i].aliases[r];
            size_t len = strlen(a);
            if (memchr(a, '.', len) || len >= sizeof t->lower_keys[0])
                continue;
            assert(t->nlower < sizeof t->lower_keys / sizeof t->lower_keys[0]);
            char *lk = t->lower_keys[t->nlower++];
            for (size_t k = 0; k <= len; k++)
                lk[k] = (char)(a[k] >= 'A' && a[k] <= 'Z' ? a[k] + 32 : a[k]);
            alias_put(t, lk, K_SYS, RANK_ANY_CASE, (uint16_t)i);
        }
    }
    for (size_t i = 0; i < NSYS; i++) {
        t->sys_len[i] = (uint32_t)strlen(sys_fields[i].name);
        t->sys_renamed_len[i] = (uint32_t)strlen(sys_fields[i].renamed);
        t->sys_hash[i] = hash_bytes(sys_fields[i].name, t->sys_len[i]);
    }
    for (size_t i = 0; i < NECS; i++) {
        alias_put(t, ecs_map[i].ecs, K_ECS, 0, (uint16_t)i);
        t->ecs_sysmon_len[i] = (uint32_t)strlen(ecs_map[i].sysmon);
        t->ecs_next[i] = -1;
        for (size_t k = i + 1; k < NECS; k++)
            if (strcmp(ecs_map[k].ecs, ecs_map[i].ecs) == 0) {
                t->ecs_next[i] = (int16_t)k;
                break;
            }
    }
    for (size_t i = 0; i < NCOMP; i++)
        alias_put(t, comp_paths[i], K_COMP, 0, (uint16_t)i);
    alias_put(t, "event.module", K_MODULE, 0, 0);
    // Elastic Agent's Windows integration runs the same Sysmon pipeline but sets no event.module;
    // its documents say so by their dataset.
    alias_put(t, "event.dataset", K_MODULE, 0, 1);
    alias_put(t, "data_stream.dataset", K_MODULE, 0, 1);
    t->user_hash = hash_bytes("User", 4);
    t->hashes_hash = hash_bytes("Hashes", 6);
    t->hash_hash = hash_bytes("Hash", 4);
}

sk_fieldmap *sk_fieldmap_new(void)
{
    pthread_once(&tables_once, build_tables);
    sk_fieldmap *fm = sk_xcalloc(1, sizeof(*fm));
    fm->tab = &tables;
    return fm;
}

void sk_fieldmap_free(sk_fieldmap *fm)
{
    if (!fm)
        return;
    free(fm->li);
    free(fm->memo);
    free(fm->names);
    free(fm->params);
    for (size_t i = 0; i < PLAN_SLOTS; i++) {
        free(fm->plans[i].paths);
        free(fm->plans[i].ids);
        free(fm->plans[i].lflags);
        free(fm->plans[i].ops);
        free(fm->plans[i].data_op);
        free(fm->plans[i].rest_op);
    }
    free(fm->rec);
    free(fm->pos_gen);
    free(fm->pos_leaf);
    free(fm->perm);
    free(fm->inv);
    free(fm->later);
    free(fm);
}

// A top-level key that only a lower-case system alias knows ("EVENTID", "eventId"); NULL otherwise.
static const alias_slot *alias_any_case(const sk_fieldmap *fm, const char *key, uint32_t len)
{
    char low[sizeof fm->tab->lower_keys[0]];
    if (len >= sizeof low || memchr(key, '.', len))
        return NULL;
    for (uint32_t k = 0; k < len; k++)
        low[k] = (char)(key[k] >= 'A' && key[k] <= 'Z' ? key[k] + 32 : key[k]);
    const alias_slot *a = alias_get(fm, low, len, hash_bytes(low, len));
    if (!a || a->kind != K_SYS)
        return NULL;
    // A Sysmon event data name is itself, not a system field in another case: Sysmon's ProcessId
    // (the process the event is about) is not the Execution ProcessID of the record.
    for (size_t i = 0; i < NECS; i++)
        if (fm->tab->ecs_sysmon_len[i] == len && memcmp(ecs_map[i].sysmon, key, len) == 0)
            return NULL;
    return a;
}

// The per-document name table: at least twice as many slots as names it can receive.
static void names_prepare(sk_fieldmap *fm, size_t n)
{
    size_t need = 2 * (n + NSYS + 8);
    if (fm->names_cap < need) {
        size_t cap = fm->names_cap ? fm->names_cap : 256;
        while (cap < need)
            cap *= 2;
        free(fm->names);
        fm->names = sk_xcalloc(cap, sizeof(name_slot));
        fm->names_cap = cap;
        fm->gen = 0;
    }
    if (++fm->gen == 0) { // wrapped: every stale slot must read as empty again
        memset(fm->names, 0, fm->names_cap * sizeof(name_slot));
        fm->gen = 1;
    }
}

static int32_t name_find(const sk_fieldmap *fm, const char *name, uint32_t len, uint32_t h)
{
    size_t mask = fm->names_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const name_slot *s = &fm->names[i];
        if (s->gen != fm->gen)
            return -1;
        if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0)
            return (int32_t)i;
    }
}

static int32_t name_add(sk_fieldmap *fm, const char *name, uint32_t len, uint32_t h)
{
    size_t mask = fm->names_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        name_slot *s = &fm->names[i];
        if (s->gen != fm->gen) {
            *s = (name_slot){ name, len, h, fm->gen, PRIO_NONE, PRIO_NONE, -1 };
            return (int32_t)i;
        }
        if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0)
            return (int32_t)i;
    }
}

// The hash of leaf i's path, computed once (array items share their path).
static uint32_t path_hash(sk_fieldmap *fm, const sk_json_leaf *leaves, size_t i)
{
    leaf_info *I = &fm->li[i];
    if (!I->has_hash) {
        if (i > 0 && leaves[i].path == leaves[i - 1].path && fm->li[i - 1].has_hash)
            I->hash = fm->li[i - 1].hash;
        else
            I->hash = hash_bytes(leaves[i].path, leaves[i].path_len);
        I->has_hash = true;
    }
    return I->hash;
}

// The event-data or user-data prefix path starts with (followed by a name), or NULL. Every leaf
// goes through here, so the first byte picks the candidates.
static const data_prefix *match_prefix(const char *path, uint32_t len)
{
    switch (path[0]) {
    case 'w':
    case 'e':
    case 'E':
    case 'u':
        break;
    default:
        return NULL;
    }
    for (size_t k = 0; k < NPREFIX; k++) {
        const data_prefix *dp = &data_prefixes[k];
        if (len > dp->len && path[0] == dp->prefix[0] && path[dp->len - 1] == '.' &&
            memcmp(path, dp->prefix, dp->len) == 0)
            return dp;
    }
    return NULL;
}

// The memo of interned leaf L (its path was seen before when the slot already holds it).
static path_memo *memo_of(sk_fieldmap *fm, const sk_json_leaf *L)
{
    if (L->path_id >= fm->memo_cap) {
        size_t old = fm->memo_cap;
        sk_xgrow((void **)&fm->memo, &fm->memo_cap, (size_t)L->path_id + 1, sizeof(path_memo));
        memset(fm->memo + old, 0, (fm->memo_cap - old) * sizeof(path_memo));
    }
    path_memo *pm = &fm->memo[L->path_id];
    if (pm->path != L->path) {
        pm->path = L->path;
        pm->hash = hash_bytes(L->path, L->path_len);
        pm->dp = match_prefix(L->path, L->path_len);
        pm->alias_flags = ~0u;
        if (pm->dp && !pm->dp->element)
            pm->name_hash = hash_bytes(L->path + pm->dp->len, L->path_len - pm->dp->len);
    }
    return pm;
}

// Registers leaf i (path path) as a candidate for its canonical name.
static void candidate(sk_fieldmap *fm, size_t i, const char *path)
{
    leaf_info *I = &fm->li[i];
    uint32_t h = I->has_cname_hash                 ? I->cname_hash
                 : I->cname == path && I->has_hash ? I->hash
                                                   : hash_bytes(I->cname, I->cname_len);
    I->slot = name_add(fm, I->cname, I->cname_len, h);
    name_slot *s = &fm->names[I->slot];
    if (I->cls == CLS_SYS) {
        if (I->prio < s->best_sys) {
            s->best_sys = I->prio;
            s->sys_leaf = (int32_t)i;
        } else if (I->prio == s->best_sys) {
            fm->rec_ok = false; // the first in the document wins: not a plan (see plan)
        }
    } else if (I->prio < s->best_data) {
        s->best_data = I->prio;
    }
}

static bool eid_listed(const ecs_entry *e, long eid)
{
    for (size_t k = 0; k < sizeof(e->eids) && e->eids[k]; k++)
        if (e->eids[k] == eid)
            return true;
    return false;
}

// The ecs_map entry for name (an ECS name when ecs_side, else a Sysmon name) in event eid: an
// entry made for that event, else the event-independent one; for an unknown event (eid < 0) the
// event-independent one, else the first. -1 when none applies. With fm, name is ignored and the
// candidates are the chain of entries that share the ECS name of entry from.
static int ecs_pick(const sk_fieldmap *fm, const char *name, size_t from, long eid, bool ecs_side)
{
    int first = -1, generic = -1, specific = -1;
    for (int i = (int)from; i >= 0 && i < (int)NECS; i = fm ? fm->tab->ecs_next[i] : i + 1) {
        const ecs_entry *e = &ecs_map[i];
        if (!fm && (!name || strcmp(ecs_side ? e->ecs : e->sysmon, name) != 0))
            continue;
        if (first < 0)
            first = (int)i;
        if (!e->eids[0]) {
            if (generic < 0)
                generic = (int)i;
        } else if (eid >= 0 && specific < 0 && eid_listed(e, eid)) {
            specific = (int)i;
        }
    }
    if (specific >= 0)
        return specific;
    if (generic >= 0)
        return generic;
    return eid < 0 ? first : -1;
}

const char *sk_fieldmap_ecs_to_sysmon_eid(const char *ecs_name, long event_id)
{
    int i = ecs_pick(NULL, ecs_name, 0, event_id, true);
    return i < 0 ? NULL : ecs_map[i].sysmon;
}

const char *sk_fieldmap_sysmon_to_ecs_eid(const char *sysmon_name, long event_id)
{
    int i = ecs_pick(NULL, sysmon_name, 0, event_id, false);
    return i < 0 ? NULL : ecs_map[i].ecs;
}

const char *sk_fieldmap_ecs_to_sysmon(const char *ecs_name)
{
    return sk_fieldmap_ecs_to_sysmon_eid(ecs_name, -1);
}

const char *sk_fieldmap_sysmon_to_ecs(const char *sysmon_name)
{
    return sk_fieldmap_sysmon_to_ecs_eid(sysmon_name, -1);
}

// ------------------------------------------------------------------------------------------------
// Emission

// Appends a field whose strings already live in the event arena (or are static): no copy.
static bool
emit(sk_event *ev, const char *name, size_t nlen, const char *value, size_t vlen, uint32_t flags)
{
    if (ev->nfields >= SK_MAX_FIELDS)
        return false;
    if (ev->nfields == ev->cap)
        sk_xgrow((void **)&ev->fields, &ev->cap, ev->nfields + 1, sizeof(sk_field));
    sk_field *f = &ev->fields[ev->nfields++];
    f->name = name;
    f->name_len = (uint32_t)nlen;
    f->value = value;
    f->value_len = (uint32_t)vlen;
    f->flags = flags;
    return true;
}

// emit() for sk_fieldmap_apply: the value of leaf `leaf` (converted when `time`), recorded as an
// op of section `sec` of the document's plan while it may become one.
static bool emit_op(sk_fieldmap *fm,
                    sk_event *ev,
                    uint8_t sec,
                    const char *name,
                    size_t nlen,
                    uint32_t leaf,
                    const char *value,
                    size_t vlen,
                    uint32_t flags,
                    bool time)
{
    if (!emit(ev, name, nlen, value, vlen, flags)) {
        fm->rec_ok = false;
        return false;
    }
    if (fm->rec_ok) {
        if (fm->nrec == fm->rec_cap)
            sk_xgrow((void **)&fm->rec, &fm->rec_cap, fm->nrec + 1, sizeof(plan_op));
        fm->rec[fm->nrec++] = (plan_op){ name, (uint32_t)nlen, leaf, flags, sec, time, -1 };
    }
    return true;
}

// The shape of a document (nonzero), or 0 when it is not one to plan: a leaf whose path is not
// interned, a path twice, or too many leaves. Leaves fm's table of the document's paths.
static uint32_t shape_of(sk_fieldmap *fm, const sk_json_leaf *leaves, size_t n)
{
    if (n == 0 || n > PLAN_MAX_LEAVES)
        return 0;
    if (!fm->pos_gen) {
        fm->pos_gen = sk_xcalloc(SK_MAX_INTERNED_PATHS, sizeof(uint32_t));
        fm->pos_leaf = sk_xmalloc(SK_MAX_INTERNED_PATHS * sizeof(uint32_t));
        fm->perm = sk_xmalloc(PLAN_MAX_LEAVES * sizeof(uint32_t));
        fm->inv = sk_xmalloc(PLAN_MAX_LEAVES * sizeof(uint32_t));
        fm->later = sk_xmalloc(PLAN_MAX_LEAVES * sizeof(uint32_t));
    }
    if (++fm->pos_stamp == 0) {
        memset(fm->pos_gen, 0, SK_MAX_INTERNED_PATHS * sizeof(uint32_t));
        fm->pos_stamp = 1;
    }
    uint64_t h = n;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = leaves[i].path_id;
        if (!(leaves[i].flags & SK_LEAF_INTERNED) || id >= SK_MAX_INTERNED_PATHS ||
            fm->pos_gen[id] == fm->pos_stamp)
            return 0;
        fm->pos_gen[id] = fm->pos_stamp;
        fm->pos_leaf[id] = (uint32_t)i;
        // A sum: the same for the same paths in any order.
        uint64_t x = ((uint64_t)id << 4 | leaves[i].flags) * 0x9E3779B97F4A7C15ull;
        h += x ^ (x >> 29);
    }
    h ^= h >> 32;
    return (uint32_t)h | 1u;
}

// The plan made for documents of this shape with its slots bound to this document's leaves
// (fm->perm, fm->inv), or NULL.
static const plan *plan_find(sk_fieldmap *fm, uint32_t shape, const sk_json_leaf *leaves, size_t n)
{
    const plan *p = &fm->plans[shape % PLAN_SLOTS];
    if (p->shape != shape || p->n != n)
        return NULL;
    // n paths, each once, all of them the plan's: the same set.
    for (uint32_t s = 0; s < n; s++) {
        uint32_t id = p->ids[s];
        if (fm->pos_gen[id] != fm->pos_stamp)
            return NULL;
        uint32_t i = fm->pos_leaf[id];
        if (leaves[i].path != p->paths[s] || leaves[i].flags != p->lflags[s])
            return NULL;
        fm->perm[s] = i;
        fm->inv[i] = s;
    }
    return p;
}

static void plan_store(sk_fieldmap *fm, uint32_t shape, const sk_json_leaf *leaves, size_t n)
{
    plan *p = &fm->plans[shape % PLAN_SLOTS];
    if (p->n < n || !p->paths) {
        p->paths = sk_xrealloc(p->paths, n * sizeof(*p->paths));
        p->ids = sk_xrealloc(p->ids, n * sizeof(*p->ids));
        p->lflags = sk_xrealloc(p->lflags, n * sizeof(*p->lflags));
        p->data_op = sk_xrealloc(p->data_op, n * sizeof(*p->data_op));
        p->rest_op = sk_xrealloc(p->rest_op, n * sizeof(*p->rest_op));
    }
    if (p->nops < fm->nrec || !p->ops)
        p->ops = sk_xrealloc(p->ops, (fm->nrec ? fm->nrec : 1) * sizeof(plan_op));
    for (size_t i = 0; i < n; i++) {
        p->paths[i] = leaves[i].path;
        p->ids[i] = leaves[i].path_id;
        p->lflags[i] = leaves[i].flags;
        p->data_op[i] = p->rest_op[i] = -1;
    }
    if (fm->nrec)
        memcpy(p->ops, fm->rec, fm->nrec * sizeof(plan_op));
    p->nops = (uint32_t)fm->nrec;
    p->nsys = p->param_first = p->param_end = 0;
    uint32_t sys_seen = 0;
    p->sys_known = true;
    for (uint32_t k = 0; k < p->nops; k++) {
        plan_op *o = &p->ops[k];
        int slot = sk_event_sys_slot(o->name, o->nlen);
        o->sys = (int8_t)slot;
        if (slot >= 0) {
            if (sys_seen >> slot & 1)
                p->sys_known = false; // the first in the document's order is read
            sys_seen |= 1u << slot;
        }
        if (o->sec == SEC_SYS)
            p->nsys = k + 1;
        else if (o->sec == SEC_DATA_A || o->sec == SEC_DATA_B)
            p->data_op[o->slot] = (int32_t)k;
        else if (o->sec == SEC_REST)
            p->rest_op[o->slot] = (int32_t)k;
        else { // SEC_PARAM: one run of ops
            if (p->param_end == 0)
                p->param_first = k;
            p->param_end = k + 1;
        }
    }
    p->n = (uint32_t)n;
    p->shape = shape;
}

// "param<digits>": Winlogbeat's name for the N-th unnamed <Data> item.
static bool param_number(const char *s, uint32_t n, uint32_t *out)
{
    if (n < 6 || n > 14 || memcmp(s, "param", 5) != 0)
        return false;
    uint32_t v = 0;
    for (uint32_t i = 5; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
        if (v > 100000000u)
            return false;
    }
    *out = v;
    return true;
}

static bool parse_long(const char *s, uint32_t n, long *out)
{
    if (n == 0 || n > 9)
        return false;
    long v = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

// Unix seconds with an optional fraction ("1600000000.123", as Velociraptor writes SystemTime),
// between 1973 and 2286 (9 or 10 digits), or Unix milliseconds (12 or 13 digits, Elasticsearch's
// epoch_millis), as FILETIME ticks.
static bool unix_time(const char *s, uint32_t n, uint64_t *out)
{
    uint32_t i = 0;
    uint64_t secs = 0, frac = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i < 14)
        secs = secs * 10 + (uint64_t)(s[i++] - '0');
    if ((i == 12 || i == 13) && i == n) {
        *out = secs * 10000ull + SK_FILETIME_UNIX_EPOCH;
        return true;
    }
    if (i < 9 || i > 10)
        return false;
    if (i < n && s[i] == '.') {
        uint32_t nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (nd < 7) {
                frac = frac * 10 + (uint64_t)(s[i] - '0');
                nd++;
            }
        if (nd == 0)
            return false;
        for (; nd < 7; nd++)
            frac *= 10;
    }
    if (i != n)
        return false;
    *out = secs * 10000000ull + frac + SK_FILETIME_UNIX_EPOCH;
    return true;
}

// TimeCreated as the evtx readers write it, when v[0..*vlen) is a time they would not (ISO 8601
// in another form, Unix seconds or milliseconds): *v then points at the text, in the event arena.
static void time_created(sk_event *ev, const char **v, size_t *vlen)
{
    uint64_t t;
    if (sk_time_parse(*v, *vlen, &t) || unix_time(*v, (uint32_t)*vlen, &t)) {
        char *buf = sk_arena_alloc(&ev->arena, 29);
        sk_time_format(t, buf);
        sk_event_set_time_text(ev, buf, t); // not parsed again by sk_event_finish
        *v = buf;
        *vlen = 28;
    }
}

// at: where the fields sk_event_finish reads land. room: the event has room for every op of the
// plan, in its limit and in its array.
static inline bool
plan_emit(sk_event *ev, const plan_op *o, const sk_json_leaf *L, int32_t *at, bool room)
{
    const char *v = L->value;
    size_t vlen = L->value_len;
    if (o->time)
        time_created(ev, &v, &vlen);
    if (room)
        ev->fields[ev->nfields++] = (sk_field){ o->name, v, o->nlen, (uint32_t)vlen, o->flags };
    else if (!emit(ev, o->name, o->nlen, v, vlen, o->flags))
        return false;
    if (o->sys >= 0)
        at[o->sys] = (int32_t)ev->nfields - 1;
    return true;
}

// The fields of a document of a planned shape (its slots bound by plan_find): the ops again, with
// this document's values, in its order where the mapping follows the document.
static sk_status
plan_apply(const sk_fieldmap *fm, const plan *p, const sk_json_leaf *leaves, sk_event *ev)
{
    const uint32_t n = p->n;
    bool ok = true;
    int32_t at[SK_EVENT_NSYS];
    for (size_t s = 0; s < SK_EVENT_NSYS; s++)
        at[s] = -1;
    // Each op makes one field: the limit and the array are looked at once, not per field.
    const bool room = ev->nfields + p->nops <= SK_MAX_FIELDS;
    if (room && ev->cap < ev->nfields + p->nops)
        sk_xgrow((void **)&ev->fields, &ev->cap, ev->nfields + p->nops, sizeof(sk_field));
    for (uint32_t k = 0; ok && k < p->nsys; k++)
        ok = plan_emit(ev, &p->ops[k], &leaves[fm->perm[p->ops[k].slot]], at, room);
    // Event data in document order, then the top-level keys of flat exports (few, noted on the
    // way) in document order.
    uint32_t nb = 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        int32_t k = p->data_op[fm->inv[i]];
        if (k < 0)
            continue;
        if (p->ops[k].sec == SEC_DATA_A)
            ok = plan_emit(ev, &p->ops[k], &leaves[i], at, room);
        else
            fm->later[nb++] = i;
    }
    for (uint32_t j = 0; ok && j < nb; j++) {
        uint32_t i = fm->later[j];
        ok = plan_emit(ev, &p->ops[p->data_op[fm->inv[i]]], &leaves[i], at, room);
    }
    for (uint32_t k = p->param_first; ok && k < p->param_end; k++)
        ok = plan_emit(ev, &p->ops[k], &leaves[fm->perm[p->ops[k].slot]], at, room);
    for (uint32_t i = 0; ok && i < n; i++) {
        int32_t k = p->rest_op[fm->inv[i]];
        if (k >= 0)
            ok = plan_emit(ev, &p->ops[k], &leaves[i], at, room);
    }
    if (p->sys_known)
        sk_event_finish_at(ev, at);
    else
        sk_event_finish(ev);
    return ok ? SK_OK : SK_ERR_LIMIT;
}

static bool slot_has_data(const sk_fieldmap *fm, uint32_t h, const char *name, uint32_t len)
{
    int32_t s = name_find(fm, name, len, h);
    return s >= 0 && fm->names[s].best_data != PRIO_NONE;
}

// User = "DOMAIN\name" (or "name") from user.domain / user.name.
static bool
emit_user(sk_fieldmap *fm, const sk_json_leaf *leaves, const int32_t *comp, sk_event *ev)
{
    int32_t ni = comp[COMP_USER_NAME], di = comp[COMP_USER_DOMAIN];
    if (ni < 0 || slot_has_data(fm, fm->tab->user_hash, "User", 4))
        return true;
    const sk_json_leaf *N = &leaves[ni];
    size_t len = N->value_len;
    char *v;
    if (di >= 0) {
        const sk_json_leaf *D = &leaves[di];
        len += D->value_len + 1;
        v = sk_arena_alloc(&ev->arena, len + 1);
        memcpy(v, D->value, D->value_len);
        v[D->value_len] = '\\';
        memcpy(v + D->value_len + 1, N->value, N->value_len);
        fm->li[di].role |= ROLE_USED;
    } else {
        v = sk_arena_alloc(&ev->arena, len + 1);
        memcpy(v, N->value, N->value_len);
    }
    v[len] = '\0';
    fm->li[ni].role |= ROLE_USED;
    return emit(ev, "User", 4, v, len, 0);
}

// Event 3: Elastic's Sysmon processing drops Initiated, SourceIsIpv6 and DestinationIsIpv6 for
// network.direction (egress / ingress) and network.type (ipv4 / ipv6); they are given back (42
// SigmaHQ rules test Initiated: 'true'). Other values give nothing.
static bool emit_network(
        sk_fieldmap *fm, const sk_json_leaf *leaves, const int32_t *comp, long eid, sk_event *ev)
{
    if (eid != 3)
        return true;
    int32_t di = comp[COMP_NET_DIRECTION], ti = comp[COMP_NET_TYPE];
    if (di >= 0 && !slot_has_data(fm, hash_bytes("Initiated", 9), "Initiated", 9)) {
        const sk_json_leaf *D = &leaves[di];
        const char *v = D->value_len == 6 && memcmp(D->value, "egress", 6) == 0    ? "true"
                        : D->value_len == 7 && memcmp(D->value, "ingress", 7) == 0 ? "false"
                                                                                   : NULL;
        if (v) {
            fm->li[di].role |= ROLE_USED;
            if (!emit(ev, "Initiated", 9, v, strlen(v), 0))
                return false;
        }
    }
    if (ti >= 0) {
        const sk_json_leaf *T = &leaves[ti];
        const char *v = T->value_len == 4 && memcmp(T->value, "ipv6", 4) == 0   ? "true"
                        : T->value_len == 4 && memcmp(T->value, "ipv4", 4) == 0 ? "false"
                                                                                : NULL;
        static const char *const names[] = { "SourceIsIpv6", "DestinationIsIpv6" };
        for (size_t k = 0; v && k < 2; k++) {
            uint32_t nl = (uint32_t)strlen(names[k]);
            if (slot_has_data(fm, hash_bytes(names[k], nl), names[k], nl))
                continue;
            fm->li[ti].role |= ROLE_USED;
            if (!emit(ev, names[k], nl, v, strlen(v), 0))
                return false;
        }
    }
    return true;
}

// Hashes (Hash in event 15) from the first namespace (process, file, hash) holding each algorithm.
static bool emit_hashes(
        sk_fieldmap *fm, const sk_json_leaf *leaves, const int32_t *comp, long eid, sk_event *ev)
{
    const char *name = eid == 15 ? "Hash" : "Hashes";
    uint32_t nlen = eid == 15 ? 4 : 6;
    if (slot_has_data(fm, eid == 15 ? fm->tab->hash_hash : fm->tab->hashes_hash, name, nlen))
        return true;
    int32_t pick[NALGO];
    size_t len = 0, count = 0;
    for (size_t a = 0; a < NALGO; a++) {
        pick[a] = -1;
        for (size_t ns = 0; ns < NHASHNS && pick[a] < 0; ns++)
            pick[a] = comp[COMP_HASH0 + ns * NALGO + a];
        if (pick[a] >= 0) {
            len += (count ? 1 : 0) + strlen(hash_algos[a]) + 1 + leaves[pick[a]].value_len;
            count++;
        }
    }
    if (!count)
        return true;
    char *v = sk_arena_alloc(&ev->arena, len + 1), *p = v;
    for (size_t a = 0; a < NALGO; a++) {
        if (pick[a] < 0)
            continue;
        if (p != v)
            *p++ = ',';
        size_t an = strlen(hash_algos[a]);
        memcpy(p, hash_algos[a], an);
        p += an;
        *p++ = '=';
        const sk_json_leaf *L = &leaves[pick[a]];
        for (uint32_t k = 0; k < L->value_len; k++) {
            char c = L->value[k];
            *p++ = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
        }
        fm->li[pick[a]].role |= ROLE_USED;
    }
    *p = '\0';
    // Every namespace's copy of a used algorithm is a source too.
    for (size_t i = COMP_HASH0; i < NCOMP; i++)
        if (comp[i] >= 0)
            fm->li[comp[i]].role |= ROLE_USED;
    return emit(ev, name, nlen, v, len, 0);
}

static void sort_params(param_item *p, size_t n)
{
    for (size_t i = 1; i < n; i++) { // insertion sort: few items, usually in order already
        param_item x = p[i];
        size_t j = i;
        while (j > 0 && p[j - 1].n > x.n) {
            p[j] = p[j - 1];
            j--;
        }
        p[j] = x;
    }
}

// The component of rest[0..n) that ends at end (exclusive), and its start.
static const char *component_before(const char *rest, const char *end)
{
    const char *p = end;
    while (p > rest && p[-1] != '.')
        p--;
    return p;
}

// The local part of an XML name s[0..*n) (evtx_dump keeps prefixes; the evtx readers do not).
static const char *local_part(const char *s, uint32_t *n)
{
    size_t k = *n;
    s = sk_xml_local(s, &k);
    *n = (uint32_t)k;
    return s;
}

// evtx_dump's JSON nests UserData as objects: <Element>.<child>...<leaf>, attributes under
// "#attributes", the text of an element that has attributes as "#text". The evtx readers name a
// leaf by its own name and an attribute <element>_<attribute>; this gives the same name for the
// path below UserData, rest[0..*n) (NUL-terminated), in place or in the event arena. NULL for a
// namespace declaration, which is not data.
static const char *userdata_name(sk_event *ev, const char *rest, uint32_t *n)
{
    const char *end = rest + *n, *last = component_before(rest, end);
    uint32_t ln = (uint32_t)(end - last);
    if (last == rest)
        return local_part(rest, n); // the element itself is a leaf
    const char *prev_end = last - 1, *prev = component_before(rest, prev_end);
    uint32_t pn = (uint32_t)(prev_end - prev);
    if (ln == 5 && memcmp(last, "#text", 5) == 0) {
        prev = local_part(prev, &pn);
        *n = pn;
        return sk_event_strdup(ev, prev, pn);
    }
    if (pn == 11 && memcmp(prev, "#attributes", 11) == 0) {
        if (sk_xml_is_nsdecl(last, ln) || prev == rest)
            return NULL;
        const char *elem = component_before(rest, prev - 1);
        uint32_t en = (uint32_t)(prev - 1 - elem);
        elem = local_part(elem, &en);
        last = local_part(last, &ln);
        char *out = sk_event_strdup(ev, elem, (size_t)en + 1 + ln);
        out[en] = '_';
        memcpy(out + en + 1, last, ln);
        *n = en + 1 + ln;
        return out;
    }
    *n = ln;
    return local_part(last, n);
}

// Maps a document by classifying its leaves; a document of shape (nonzero) leaves its plan.
static sk_status
map_leaves(sk_fieldmap *fm, uint32_t shape, const sk_json_leaf *leaves, size_t n, sk_event *ev)
{
    sk_status rc = SK_OK;
    bool ecs_sysmon = false;
    long eid = -1;
    int32_t comp[NCOMP];
    size_t nparams = 0;

    fm->rec_ok = shape != 0;
    fm->nrec = 0;
    if (fm->li_cap < n)
        sk_xgrow((void **)&fm->li, &fm->li_cap, n, sizeof(leaf_info));
    names_prepare(fm, n);
    for (size_t i = 0; i < NCOMP; i++)
        comp[i] = -1;

    // Pass 1: classify.
    for (size_t i = 0; i < n; i++) {
        const sk_json_leaf *L = &leaves[i];
        leaf_info *I = &fm->li[i];
        // An interned path comes with what earlier documents found about it.
        path_memo *pm = L->flags & SK_LEAF_INTERNED ? memo_of(fm, L) : NULL;
        I->has_hash = pm != NULL;
        I->hash = pm ? pm->hash : 0;
        I->has_cname_hash = false;
        I->slot = I->ecs = I->comp = -1;
        I->cls = CLS_NONE;
        I->role = 0;
        I->prio = PRIO_NONE;
        I->ename = NULL;
        const data_prefix *dp = pm ? pm->dp : match_prefix(L->path, L->path_len);
        const char *name = dp ? L->path + dp->len : NULL;
        uint32_t nlen = dp ? L->path_len - dp->len : 0;
        if (dp && dp->element) {
            fm->rec_ok = false; // names made in the event arena
            if (!(name = userdata_name(ev, name, &nlen)))
                dp = NULL;
        }
        bool cut = dp && dp->text && nlen > 6 && memcmp(name + nlen - 6, ".#text", 6) == 0 &&
                   !memchr(name, '.', nlen - 6);
        if (cut) {
            nlen -= 6;
            name = sk_event_strdup(ev, name, nlen);
            fm->rec_ok = false;
        }
        // Winlogbeat's "xml_name" is the name of the UserData element, not a field.
        if (dp && (TIER(dp->prio) != 1 || nlen != 8 || memcmp(name, "xml_name", 8) != 0)) {
            I->cls = CLS_DATA;
            I->prio = dp->prio;
            I->cname = name;
            I->cname_len = nlen;
            if (pm && !dp->element && !cut) {
                I->cname_hash = pm->name_hash;
                I->has_cname_hash = true;
            }
        }
        if (I->cls == CLS_NONE) {
            const uint32_t af = L->flags & (SK_LEAF_TOP | SK_LEAF_EXPANDED);
            const alias_slot *a;
            bool any_case = false;
            if (pm && pm->alias_flags == af) {
                a = pm->alias;
                any_case = pm->any_case;
            } else {
                a = alias_get(fm, L->path, L->path_len, path_hash(fm, leaves, i));
                if (!a && af == SK_LEAF_TOP) {
                    a = alias_any_case(fm, L->path, L->path_len);
                    any_case = a != NULL;
                }
                if (pm) {
                    pm->alias = a;
                    pm->any_case = any_case;
                    pm->alias_flags = af;
                }
            }
            if (a && a->kind == K_SYS) {
                I->cls = CLS_SYS;
                // Found in another case ("Event_ID" as event_id): below every exactly written
                // key, whatever the rank of the alias it matched.
                I->prio = PRIO(2, any_case ? RANK_ANY_CASE : a->rank);
                I->cname = sys_fields[a->idx].name;
                I->cname_len = fm->tab->sys_len[a->idx];
                I->cname_hash = fm->tab->sys_hash[a->idx];
                I->has_cname_hash = true;
            } else if (a && a->kind == K_ECS) {
                I->ecs = a->idx;
            } else if (a && a->kind == K_COMP) {
                I->comp = a->idx;
            } else if (a && a->kind == K_MODULE) {
                fm->rec_ok = false; // its value decides
                static const char ds[] = "windows.sysmon_operational";
                if (a->idx == 0 ? L->value_len == 6 && memcmp(L->value, "sysmon", 6) == 0
                                : L->value_len == sizeof ds - 1 &&
                                          memcmp(L->value, ds, sizeof ds - 1) == 0)
                    ecs_sysmon = true;
            }
        }
        if (I->cls == CLS_NONE && I->ecs < 0 && I->comp < 0 &&
            (L->flags & (SK_LEAF_TOP | SK_LEAF_EXPANDED)) == SK_LEAF_TOP) {
            I->cls = CLS_DATA;
            I->prio = PRIO(4, 0);
            I->cname = L->path;
            I->cname_len = L->path_len;
        }
        if (I->cls != CLS_NONE)
            candidate(fm, i, L->path);
    }

    // Pass 2: the ECS names of Elastic-processed Sysmon documents, which need the event ID.
    if (ecs_sysmon) {
        int32_t s = name_find(fm, "EventID", 7, fm->tab->sys_hash[SYS_EVENTID]);
        if (s >= 0 && fm->names[s].sys_leaf >= 0) {
            const sk_json_leaf *E = &leaves[fm->names[s].sys_leaf];
            if (!parse_long(E->value, E->value_len, &eid))
                eid = -1;
        }
        for (size_t i = 0; i < n; i++) {
            leaf_info *I = &fm->li[i];
            if (I->comp >= 0) {
                if (comp[I->comp] < 0)
                    comp[I->comp] = (int32_t)i;
                continue;
            }
            if (I->ecs < 0)
                continue;
            int e = ecs_pick(fm, NULL, (size_t)I->ecs, eid, true);
            if (e < 0)
                continue;
            I->cls = CLS_DATA;
            I->prio = PRIO(3, e);
            I->cname = ecs_map[e].sysmon;
            I->cname_len = fm->tab->ecs_sysmon_len[e];
            candidate(fm, i, leaves[i].path);
        }
    }

    // System fields, in evtx order. A system name that event data also has becomes System.<name>.
    for (size_t k = 0; k < NSYS; k++) {
        const sys_field *sf = &sys_fields[k];
        int32_t s = name_find(fm, sf->name, fm->tab->sys_len[k], fm->tab->sys_hash[k]);
        if (s < 0 || fm->names[s].best_sys == PRIO_NONE)
            continue;
        const name_slot *ns = &fm->names[s];
        bool renamed = ns->best_data != PRIO_NONE;
        const char *name = renamed ? sf->renamed : sf->name;
        size_t nlen = renamed ? fm->tab->sys_renamed_len[k] : fm->tab->sys_len[k];
        // The winner is one path: one leaf, or the items of one array of scalars, which follow
        // each other and share their path pointer.
        const char *wpath = leaves[ns->sys_leaf].path;
        for (size_t i = (size_t)ns->sys_leaf; i < n && leaves[i].path == wpath; i++) {
            leaf_info *I = &fm->li[i];
            const sk_json_leaf *L = &leaves[i];
            const char *v = L->value;
            size_t vlen = L->value_len;
            if (k == SYS_TIMECREATED)
                time_created(ev, &v, &vlen);
            I->role |= ROLE_USED;
            I->ename = name;
            I->ename_len = (uint32_t)nlen;
            if (!emit_op(fm, ev, SEC_SYS, name, nlen, (uint32_t)i, v, vlen, SK_FIELD_SYSTEM,
                         k == SYS_TIMECREATED)) {
                rc = SK_ERR_LIMIT;
                goto out;
            }
        }
    }

    // Event data in document order, then the top-level keys (flat exports) in document order.
    for (size_t k = 0; k < 2 * n; k++) {
        size_t i = k < n ? k : k - n;
        leaf_info *I = &fm->li[i];
        if (I->cls != CLS_DATA || fm->names[I->slot].best_data != I->prio ||
            (TIER(I->prio) == 4) != (k >= n))
            continue;
        const sk_json_leaf *L = &leaves[i];
        I->role |= ROLE_USED;
        I->ename = I->cname;
        I->ename_len = I->cname_len;
        uint32_t pn;
        if (TIER(I->prio) <= 1 && param_number(I->cname, I->cname_len, &pn)) {
            sk_xgrow((void **)&fm->params, &fm->params_cap, nparams + 1, sizeof(param_item));
            fm->params[nparams++] = (param_item){ pn, (uint32_t)i };
        }
        if (!emit_op(fm, ev, k < n ? SEC_DATA_A : SEC_DATA_B, I->cname, I->cname_len, (uint32_t)i,
                     L->value, L->value_len, 0,
                     false)) {
            rc = SK_ERR_LIMIT;
            goto out;
        }
    }

    // Fields Elastic's Sysmon processing split into several ECS fields.
    if (ecs_sysmon) {
        if (!emit_user(fm, leaves, comp, ev) || !emit_hashes(fm, leaves, comp, eid, ev) ||
            !emit_network(fm, leaves, comp, eid, ev)) {
            rc = SK_ERR_LIMIT;
            goto out;
        }
    }

    // param1..N also answer to Data, in N order, like unnamed <Data> items in evtx.
    sort_params(fm->params, nparams);
    for (size_t k = 1; k < nparams; k++)
        if (fm->params[k].n == fm->params[k - 1].n)
            fm->rec_ok = false; // in document order: not a plan (see plan)
    for (size_t k = 0; k < nparams; k++) {
        const sk_json_leaf *L = &leaves[fm->params[k].leaf];
        if (!emit_op(fm, ev, SEC_PARAM, "Data", 4, fm->params[k].leaf, L->value, L->value_len,
                     SK_FIELD_HIDDEN, false)) {
            rc = SK_ERR_LIMIT;
            goto out;
        }
    }

    // Everything else under its dotted path; the sources of canonical fields hidden.
    for (size_t i = 0; i < n; i++) {
        const sk_json_leaf *L = &leaves[i];
        leaf_info *I = &fm->li[i];
        uint32_t flags = 0;
        if (L->flags & SK_LEAF_SYNTHETIC)
            continue;
        if (I->role & ROLE_USED) {
            if (I->ename && I->ename_len == L->path_len &&
                memcmp(I->ename, L->path, L->path_len) == 0)
                continue; // it is the canonical field itself
            // A system key renamed System.<name> because event data has <name> too (Azure's
            // top-level Channel, with a Channel in EventData): <name> is the event data's alone.
            if (I->cls == CLS_SYS &&
                name_find(fm, L->path, L->path_len, path_hash(fm, leaves, i)) >= 0)
                continue;
            flags = SK_FIELD_HIDDEN;
        } else if (L->flags & SK_LEAF_EXPANDED) {
            flags = SK_FIELD_HIDDEN;
        } else if (name_find(fm, L->path, L->path_len, path_hash(fm, leaves, i)) >= 0) {
            continue; // shadowed: its path is a canonical name another source filled
        }
        if (!emit_op(fm, ev, SEC_REST, L->path, L->path_len, (uint32_t)i, L->value, L->value_len,
                     flags,
                     false)) {
            rc = SK_ERR_LIMIT;
            goto out;
        }
    }

out:
    if (fm->rec_ok && rc == SK_OK)
        plan_store(fm, shape, leaves, n);
    sk_event_finish(ev);
    return rc;
}

#ifdef SK_PLAN_VERIFY
// Development check (-DSK_PLAN_VERIFY): a planned document mapped both ways gives the same fields.
#include <stdio.h>
static bool same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static sk_status plan_verify(
        sk_fieldmap *fm, const plan *p, const sk_json_leaf *leaves, size_t n, sk_event *ev)
{
    sk_status rc = plan_apply(fm, p, leaves, ev);
    // The values sk_event_finish decoded (with the plan's own idea of where their fields are).
    const sk_event pre = *ev;
    size_t nf = ev->nfields;
    sk_field *got = sk_xmalloc((nf ? nf : 1) * sizeof(sk_field));
    memcpy(got, ev->fields, nf * sizeof(sk_field));
    ev->nfields = 0;
    ev->has_event_id = ev->has_record_id = ev->has_time = false;
    ev->event_id = 0;
    ev->record_id = ev->time = 0;
    ev->channel = ev->computer = ev->provider = NULL;
    sk_status rc2 = map_leaves(fm, 0, leaves, n, ev);
    bool same = rc == rc2 && nf == ev->nfields;
    for (size_t i = 0; same && i < nf; i++) {
        const sk_field *a = &got[i], *b = &ev->fields[i];
        same = a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0 &&
               a->value_len == b->value_len && memcmp(a->value, b->value, a->value_len) == 0 &&
               a->flags == b->flags;
    }
    same = same && pre.has_event_id == ev->has_event_id && pre.event_id == ev->event_id &&
           pre.has_record_id == ev->has_record_id && pre.record_id == ev->record_id &&
           pre.has_time == ev->has_time && pre.time == ev->time &&
           same_text(pre.channel, ev->channel) && same_text(pre.computer, ev->computer) &&
           same_text(pre.provider, ev->provider);
    if (!same) {
        fprintf(stderr, "plan mismatch (%zu vs %zu fields)\n", nf, ev->nfields);
        abort();
    }
    free(got);
    return rc2;
}
#endif

sk_status sk_fieldmap_apply(sk_fieldmap *fm, const sk_json_leaf *leaves, size_t n, sk_event *ev)
{
    // Plans pay where shapes repeat. Where they do not (a dump that went through Elasticsearch
    // has its keys in another order in each document), making them only costs: after
    // PLAN_MISS_LIMIT documents in a row without a plan, the next ones are mapped without
    // planning, for longer after each retry that finds none.
    if (fm->plan_pause) {
        fm->plan_pause--;
        return map_leaves(fm, 0, leaves, n, ev);
    }
    const uint32_t shape = shape_of(fm, leaves, n);
    const plan *p = shape ? plan_find(fm, shape, leaves, n) : NULL;
    if (p) {
        fm->plan_misses = 0;
        fm->plan_backoff = 0;
#ifdef SK_PLAN_VERIFY
        return plan_verify(fm, p, leaves, n, ev);
#endif
        return plan_apply(fm, p, leaves, ev);
    }
    if (shape && ++fm->plan_misses >= PLAN_MISS_LIMIT) {
        fm->plan_misses = 0;
        fm->plan_backoff = fm->plan_backoff ? fm->plan_backoff * 2 : PLAN_PAUSE_MIN;
        if (fm->plan_backoff > PLAN_PAUSE_MAX)
            fm->plan_backoff = PLAN_PAUSE_MAX;
        fm->plan_pause = fm->plan_backoff;
    }
    return map_leaves(fm, shape, leaves, n, ev);
}
