// Field mapping for JSON input: turns the leaves of one Winlogbeat / ECS / flat-export document
// into an event whose field names are the ones rules use (Sysmon's and the evtx System names), and
// the ECS <-> Sysmon name table that the EQL front end will use too.
//
// A JSON document arrives as a list of leaves (dotted path, text value), in document order: nested
// objects are flattened ("winlog.event_data.Image"), each element of an array is one more leaf with
// the array's path, numbers keep their JSON text, booleans are "true"/"false", and JSON null is
// absent (Sigma's `null` means "absent or empty", and Winlogbeat drops empty values anyway).
//
// For a canonical field F the sources are tried in this order (DESIGN.md), and the first one
// present wins:
//   1. winlog.event_data.F, then event_data.F (Winlogbeat 6), then the keys of a top-level
//      "EventData" that holds a JSON object encoded as a string (Azure Log Analytics WindowsEvent;
//      the reader expands it);
//   2. winlog.user_data.F, then user_data.F (Winlogbeat's own "xml_name" key there is not a field);
//   3. the system aliases, listed per field in fieldmap.c (EventID <- winlog.event_id, event_id,
//      EventID; Channel <- winlog.channel, log_name, Channel; Computer <- winlog.computer_name,
//      computer_name, Hostname, Computer; ...). These are SK_FIELD_SYSTEM. When an event-data field
//      has the same name (Sysmon EID 4 has its own Version), the event-data value answers the bare
//      name and the system value is named "System.<F>", as the evtx readers do;
//   4. the reverse ECS map, only for documents that went through Elastic's Sysmon processing
//      (event.module == "sysmon"): process.executable -> Image, file.path -> TargetFilename, ...
//      Some ECS names mean different Sysmon fields in different events (file.path is ImageLoaded in
//      events 6 and 7, Device in 9, TargetFilename otherwise), so entries may name event IDs;
//   5. a top-level key F (flat exports: Export-WinEvents, NXLog, Azure carry Image, EventID,
//   Channel
//      at the top).
// Canonical fields are added once. The raw leaves a canonical field was taken from stay in the
// event under their dotted path with SK_FIELD_HIDDEN (rules can still name them; dump does not
// print them). Every other leaf stays under its dotted path, visible. A lower-priority leaf whose
// dotted path is itself a canonical name that another source filled (a top-level "TimeCreated"
// next to "@timestamp") is dropped so that the name keeps one value.
//
// Order of the fields in the event: system fields in evtx order (Provider_Name, Provider_Guid,
// EventID, Version, Level, Task, Opcode, Keywords, TimeCreated, EventRecordID, ActivityID,
// RelatedActivityID, ProcessID, ThreadID, Channel, Computer, UserID), then the renamed event-data
// fields in document order, then User/Hashes rebuilt from ECS, then the hidden Data items, then the
// remaining leaves in document order.
//
// Values: EventID is the decimal text whatever the JSON type (Winlogbeat 6 and 7 write a number,
// 8.x a string). TimeCreated is normalised to UTC with 7 fractional digits
// ("2020-10-27T20:00:14.3200000Z") when it parses as a time; otherwise it is kept as written.
//
// Winlogbeat is lossy, and saker documents the differences rather than hiding them:
// - it drops empty values: an evtx rule that tests `Field: ''` sees the field in evtx input and
//   does not in Winlogbeat input;
// - unnamed <Data> items become param1..paramN; saker keeps them under those names and also adds
//   each as a hidden "Data" field, in N order, so rules that use Data still match;
// - only the rendered Level/Task/Opcode/Keywords text is kept (log.level is "information", not
//   "4"; winlog.task is "Process Create (rule: ProcessCreate)", not "1"), so rules that compare
//   them numerically do not match Winlogbeat input;
// - Elastic's Sysmon processing removes Hashes (and Hash in event 15) after splitting it into
//   process.hash.* / file.hash.* / *.pe.imphash; saker rebuilds
//   "SHA1=..,MD5=..,SHA256=..,IMPHASH=.." from them, upper-case, in that fixed order: Sysmon's own
//   algorithm order and any algorithm ECS has no field for are lost;
// - it removes User after splitting it into user.domain / user.name; saker rebuilds
//   "DOMAIN\name" when no User is present;
// - it moves UtcTime to @timestamp and RuleName to rule.name (RuleName "-" is dropped), turns
//   QueryStatus into a name and QueryResults into dns.answers (neither is mapped back), and
//   rewrites registry Details into registry.data.strings ("DWORD (0x00000004)" becomes "4") — the
//   event_data Details is kept when present and wins.
#ifndef SK_EVENT_FIELDMAP_H
#define SK_EVENT_FIELDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/status.h"
#include "event.h"

enum {
    SK_LEAF_TOP = 1u,       // a key of the root object (or an element of an array there)
    SK_LEAF_SYNTHETIC = 2u, // from a JSON string expanded by the reader (EventData); no raw copy
    SK_LEAF_EXPANDED = 4u,  // a string the reader expanded into SYNTHETIC leaves (hidden when used)
    SK_LEAF_INTERNED = 8u,  // path is interned: see sk_json_leaf
};

// One scalar of a JSON document. path and value are NUL-terminated and live in the event arena of
// the event they are applied to (leaves of one array share their path pointer, and only they: two
// leaves next to each other have the same path pointer exactly when they are items of one array).
// With SK_LEAF_INTERNED, path instead lives as long as the fieldmap it is applied with, and path_id
// numbers it: the same id is the same pointer and the same text in every document (the NDJSON
// reader numbers the paths it has seen from 0, at most SK_MAX_INTERNED_PATHS). The fieldmap then
// remembers what it worked out about the path from one document to the next.
typedef struct sk_json_leaf {
    const char *path;
    const char *value;
    uint32_t path_len;
    uint32_t value_len;
    uint32_t flags;   // SK_LEAF_*
    uint32_t path_id; // with SK_LEAF_INTERNED
} sk_json_leaf;

// The hash the fieldmap keys names and paths with, eight bytes at a time (a multiply-xorshift mix
// per word): every leaf of every document is hashed, so byte-at-a-time FNV showed in profiles.
static inline uint32_t sk_fieldmap_hash(const char *p, size_t n)
{
    const char *start = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    // The last 0-7 bytes, little-endian, in at most two loads (a loop of up to seven showed too):
    // the eight that end the text, shifted, after a first word; else two overlapping halves, or
    // the first, middle and last byte.
    w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n && p - start >= 8) {
        memcpy(&w, p + n - 8, 8);
        w >>= 8 * (8 - n);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        w = lo | (uint64_t)hi << (8 * (n - 4));
    } else if (n) {
        w = (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << (8 * (n / 2)) |
            (uint64_t)(unsigned char)p[n - 1] << (8 * (n - 1));
    }
#else
    (void)start;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)p[i] << (8 * i);
#endif
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

#define SK_MAX_INTERNED_PATHS 4096u

typedef struct sk_fieldmap sk_fieldmap;

// Builds the lookup tables (once per reader). Never NULL (allocation failure is fatal).
sk_fieldmap *sk_fieldmap_new(void);
// NULL is a no-op.
void sk_fieldmap_free(sk_fieldmap *fm);

// Appends the fields of one document to ev (freshly reset; the leaves' strings are in its arena and
// are referenced, not copied) and calls sk_event_finish. One fm serves any number of documents, one
// at a time: besides scratch space it keeps what it found for interned paths and, per shape of
// document (the sequence of interned paths), the fields it made, to make them again from the next
// document of that shape without looking at its paths. Returns SK_ERR_LIMIT when the event could
// not hold every field (SK_MAX_FIELDS): the first fields (system, then event data) are kept, and
// the event is still usable.
SK_NODISCARD sk_status sk_fieldmap_apply(sk_fieldmap *fm,
                                         const sk_json_leaf *leaves,
                                         size_t n,
                                         sk_event *ev);

// The ECS <-> Sysmon name table, both ways. The _eid variants take the Sysmon event ID (negative:
// unknown) and prefer an entry made for that event; the plain ones return the event-independent
// meaning. NULL when the name has no counterpart. Examples: "process.executable" <-> "Image",
// "file.path" -> "TargetFilename" (event 7: "ImageLoaded"), "ImageLoaded" -> "file.path".
// User and Hashes have no one-name counterpart (they are split across several ECS fields).
const char *sk_fieldmap_ecs_to_sysmon(const char *ecs_name);
const char *sk_fieldmap_sysmon_to_ecs(const char *sysmon_name);
const char *sk_fieldmap_ecs_to_sysmon_eid(const char *ecs_name, long event_id);
const char *sk_fieldmap_sysmon_to_ecs_eid(const char *sysmon_name, long event_id);

#endif
