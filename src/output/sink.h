// Hit sinks: the formats `saker hunt` writes (table, jsonl, json, csv). A sink owns all printing of
// results to its sk_out; diagnostics go to stderr through the CLI's report, never here.
#ifndef SK_OUTPUT_SINK_H
#define SK_OUTPUT_SINK_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "event/event.h"
#include "out.h"
#include "rules/ruleset.h"

typedef enum sk_sink_format {
    SK_SINK_JSONL, // one hit object per line, flushed per hit (tail -f, jq)
    SK_SINK_JSON,  // one JSON array document
    SK_SINK_CSV,   // RFC 4180, header row, CRLF line ends
    SK_SINK_TABLE, // aligned text for people, fitted to the terminal width
} sk_sink_format;

typedef enum sk_sort_mode {
    SK_SORT_NONE, // input order (streamed)
    SK_SORT_TIME, // event time, then input order
    SK_SORT_LEVEL, // level (critical first), then time
    SK_SORT_RULE, // rule title, then time
} sk_sort_mode;

typedef enum sk_tz_mode {
    SK_TZ_UTC,   // "2024-05-01 10:22:03.123" (table) / ISO with Z (csv)
    SK_TZ_LOCAL, // the process's local zone (TZ); the zone's offset is printed
} sk_tz_mode;

typedef struct sk_sink_opts {
    sk_sink_format format;
    sk_sort_mode sort;
    sk_tz_mode tz;      // table and csv only: JSON timestamps are always UTC
    bool color;         // table only: colour levels with ANSI escapes
    unsigned width;     // table only: terminal columns (0 = 160)
    const sk_ruleset *rules; // for SK_SORT_RULE: rules are ranked by title (borrowed)
} sk_sink_opts;

typedef struct sk_sink sk_sink;

// Creates a sink writing to out (borrowed).
sk_sink *sk_sink_new(const sk_sink_opts *opts, sk_out *out);
#include "sorter.h"

// Formats one hit into out (replacing its content) and computes its sort key. Reads only the
// sink's configuration, so any number of threads may call it at once. SK_ERR_LIMIT when the hit
// does not fit in out.
SK_NODISCARD sk_status sk_sink_render(const sk_sink *s,
                                      sk_buf *out,
                                      const sk_rule *rule,
                                      const sk_event *ev,
                                      const sk_match_item *items,
                                      size_t n,
                                      sk_sort_key *key);
// Writes (or, when sorting, queues) one formatted hit, in the order of the calls: one thread at a
// time. key.seq is assigned here (input order).
SK_NODISCARD sk_status sk_sink_put(sk_sink *s, const sk_sort_key *key, const char *data, size_t n);
// Writes (or, when sorting, queues) one hit: format + put. Returns the sk_out status (SK_DONE: pipe closed;
// SK_ERR_IO: write error or the sort spill failed).
SK_NODISCARD sk_status sk_sink_hit(sk_sink *s,
                                   const sk_rule *rule,
                                   const sk_event *ev,
                                   const sk_match_item *items,
                                   size_t n);
// Writes queued hits (sorted), completes the document (json's closing bracket) and flushes.
SK_NODISCARD sk_status sk_sink_end(sk_sink *s);
// After an SK_ERR_IO that did not come from the output: why (--sort could not write or read back
// a run in TMPDIR); NULL otherwise.
const char *sk_sink_error(const sk_sink *s);
void sk_sink_free(sk_sink *s);

// The hit object of DESIGN.md (no trailing newline): timestamp, computer, channel, event_id,
// rule{id,title,level,status,tags,path,language}, source, matched[], fields{}.
SK_NODISCARD sk_status sk_json_hit(sk_buf *out,
                                   const sk_rule *rule,
                                   const sk_event *ev,
                                   const sk_match_item *items,
                                   size_t n);

// Short channel name for the table: "Microsoft-Windows-Sysmon/Operational" -> "Sysmon".
void sk_channel_short(const char *channel, char *out, size_t n);
// Display columns of UTF-8 text (East Asian wide characters count 2, combining marks 0).
size_t sk_text_width(const char *s, size_t n);

#endif
