// Hit sinks: the formats `saker hunt` writes (jsonl, json, table). A sink owns all printing of
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
    SK_SINK_TABLE, // aligned text for people
} sk_sink_format;

typedef struct sk_sink sk_sink;

// Creates a sink writing to out (borrowed). width: terminal columns for the table (0 = 160).
sk_sink *sk_sink_new(sk_sink_format fmt, sk_out *out, unsigned width);
// Writes one hit. Returns the sk_out status (SK_DONE: pipe closed; SK_ERR_IO: write error).
SK_NODISCARD sk_status sk_sink_hit(sk_sink *s,
                                   const sk_rule *rule,
                                   const sk_event *ev,
                                   const sk_match_item *items,
                                   size_t n);
// Completes the document (json's closing bracket; the table's last lines).
SK_NODISCARD sk_status sk_sink_end(sk_sink *s);
void sk_sink_free(sk_sink *s);

// The hit object of DESIGN.md (no trailing newline): timestamp, computer, channel, event_id,
// rule{id,title,level,status,tags,path,language}, source, matched[], fields{}.
SK_NODISCARD sk_status sk_json_hit(sk_buf *out,
                                   const sk_rule *rule,
                                   const sk_event *ev,
                                   const sk_match_item *items,
                                   size_t n);

#endif
