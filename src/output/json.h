// JSON text for output: string escaping and the event object shared by `dump` and hit sinks.
#ifndef SK_OUTPUT_JSON_H
#define SK_OUTPUT_JSON_H

#include <stddef.h>

#include "core/buf.h"
#include "event/event.h"

// Appends s[0..n) as a JSON string literal (with quotes). Control characters become \uXXXX
// (or \n \r \t \b \f), '"' and '\\' are escaped, invalid UTF-8 becomes U+FFFD, and U+2028/U+2029
// are escaped so the output is also valid JavaScript.
SK_NODISCARD sk_status sk_json_str(sk_buf *out, const char *s, size_t n);

// Appends the members shared by dump lines and hits, without the braces:
//   "timestamp": ..., "computer": ..., "channel": ..., "event_id": ...
SK_NODISCARD sk_status sk_json_event_head(sk_buf *out, const sk_event *ev);
// Appends "source": {"file", "format", "record_id" | "line", "recovered"}.
SK_NODISCARD sk_status sk_json_event_source(sk_buf *out, const sk_event *ev);
// Appends "fields": {...}: every visible field in first-appearance order; a name that occurs more
// than once becomes an array of its values in order.
SK_NODISCARD sk_status sk_json_event_fields(sk_buf *out, const sk_event *ev);
// The whole `saker dump` object: {head, source, fields} (no trailing newline).
SK_NODISCARD sk_status sk_json_event(sk_buf *out, const sk_event *ev);

#endif
