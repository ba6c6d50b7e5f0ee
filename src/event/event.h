// The event: what every reader produces and every rule sees. A flat, ordered list of
// (name, value) pairs plus a few pre-decoded system fields. Rules never see XML or JSON.
//
// Field names are Sysmon's / the evtx EventData names (Image, CommandLine, ...) plus the system
// fields EventID, Qualifiers, Version, Level, Task, Opcode, Keywords, TimeCreated, EventRecordID,
// ProcessID, ThreadID, Channel, Computer, UserID, Provider_Name, Provider_Guid, ... A name may occur
// more than once (unnamed <Data> items all answer to "Data"); values keep their order.
//
// The struct is declared here so that accessors can be static inline in the matcher, but its
// members are private to event.c and the readers (the jv approach, STYLE 3.3).
#ifndef SK_EVENT_EVENT_H
#define SK_EVENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"

enum {
    SK_FIELD_SYSTEM = 1u, // from <System> (or a reader's system alias)
    SK_FIELD_HIDDEN = 2u, // reachable by rules but not printed by dump (raw JSON paths that a
                          // canonical field was taken from, e.g. winlog.event_data.Image)
};

typedef struct sk_field {
    const char *name;  // NUL-terminated, in the event arena
    const char *value; // NUL-terminated UTF-8 (may hold no NUL inside), in the event arena
    uint32_t name_len;
    uint32_t value_len;
    uint32_t flags;
} sk_field;

typedef enum sk_format {
    SK_FORMAT_UNKNOWN = 0,
    SK_FORMAT_EVTX,
    SK_FORMAT_NDJSON,
} sk_format;

typedef struct sk_event {
    // private
    sk_arena arena;
    sk_field *fields;
    size_t nfields;
    size_t cap;
    // Pre-decoded system values, set by sk_event_finish (flags say which are present).
    bool has_event_id;
    bool has_record_id;
    bool has_time;
    uint32_t event_id;
    uint64_t record_id;
    uint64_t time; // FILETIME ticks, UTC
    const char *channel;  // NULL when absent; points into a field value
    const char *computer;
    const char *provider;
    // A TimeCreated value a reader wrote with sk_time_format, and the ticks sk_event_finish takes
    // for it instead of parsing the text back (sk_event_set_time_text); NULL: none.
    const char *time_text;
    uint64_t time_ticks;
    // Source position, set by the reader.
    const char *file;     // display name of the input (borrowed from the reader)
    sk_format format;
    uint64_t line;        // NDJSON: 1-based line number; 0 for evtx
    bool recovered;       // evtx: a recovered (deleted) record
} sk_event;

void sk_event_init(sk_event *ev);
void sk_event_fini(sk_event *ev);
// Drops all fields and values (arena reset); keeps file/format.
void sk_event_reset(sk_event *ev);

// Appends a field; name and value are copied into the event arena. SK_ERR_LIMIT when the event
// already holds SK_MAX_FIELDS fields (nothing appended).
SK_NODISCARD sk_status sk_event_add(sk_event *ev,
                                    const char *name,
                                    size_t name_len,
                                    const char *value,
                                    size_t value_len,
                                    uint32_t flags);
// Appends an EventData/UserData item. When a SYSTEM field of the same name exists (Sysmon EID 4
// has its own Version), that system field is renamed "System.<name>" so the bare name answers
// with the EventData value (DESIGN.md).
SK_NODISCARD sk_status sk_event_add_data(sk_event *ev,
                                         const char *name,
                                         size_t name_len,
                                         const char *value,
                                         size_t value_len);
// Copies len bytes into the event arena (NUL-terminated) for readers that build values in place.
char *sk_event_strdup(sk_event *ev, const char *p, size_t len);

// Says that text, a field value of 28 bytes, is sk_time_format(ticks): when it is the TimeCreated
// that sk_event_finish reads, its time is taken from ticks (the value sk_time_parse would give
// back: a time past the text's last is written as that last) instead of parsing the text again.
void sk_event_set_time_text(sk_event *ev, const char *text, uint64_t ticks);
// Derives the pre-decoded values from the fields: EventID, EventRecordID, TimeCreated (any ISO
// form), Channel, Computer, Provider_Name ("System.X" preferred over "X" when both exist).
void sk_event_finish(sk_event *ev);

// The system names sk_event_finish reads, bare and as "System.X": SK_EVENT_NSYS slots.
#define SK_EVENT_NSYS 12
// The slot of a field named name[0..len) among them, or -1.
int sk_event_sys_slot(const char *name, size_t len);
// sk_event_finish for a reader that knows where those fields are without looking at every name:
// at[s] is the index of the first field of slot s, -1 when there is none.
void sk_event_finish_at(sk_event *ev, const int32_t at[SK_EVENT_NSYS]);

static inline size_t sk_event_nfields(const sk_event *ev)
{
    return ev->nfields;
}
static inline const sk_field *sk_event_field(const sk_event *ev, size_t i)
{
    return &ev->fields[i];
}
// Index of the first field named name at or after index from; -1 when none. Exact, case-sensitive.
long sk_event_find(const sk_event *ev, const char *name, size_t name_len, size_t from);
// The first value of the field named name (NUL-terminated), or NULL.
const char *sk_event_get(const sk_event *ev, const char *name);

#endif
