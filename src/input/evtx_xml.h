// One evtx record's XML, as libevtx renders it, into an sk_event. Exposed (rather than kept inside
// the libevtx reader) so that the fuzz_evtx_xml harness and the unit tests can feed XML directly.
//
// libevtx's XML is not quite XML: it escapes only & < > in values, so raw control characters,
// stray quotes in attribute values and embedded BinXML (rendered as unescaped nested elements)
// reach the text. sk_evtx_xml_parse therefore accepts that dialect: before expat sees the text,
// a preparation pass makes it well-formed without losing anything (see evtx_xml.c for the
// mapping of control characters and CR to private-use code points and back).
//
// Field mapping (DESIGN.md, "evtx facts"):
//   System     -> Provider_Name, Provider_Guid, EventSourceName, EventID, Qualifiers,
//                 Version, Level, Task, Opcode, Keywords, TimeCreated (UTC, 7 fractional
//                 digits), EventRecordID, ActivityID, RelatedActivityID, ProcessID, ThreadID,
//                 Channel, Computer, UserID;
//                 each only when present, all flagged SK_FIELD_SYSTEM, in document order.
//   EventData  -> one field per child element: <Data Name="X"> gives X, an unnamed <Data> gives
//                 "Data" (repeated, in order), <Binary> gives "Binary", any other child its local
//                 name. The value is the element's text; when the element holds nested elements
//                 (a BinXML value) the value is its inner XML text as rendered.
//   UserData   -> every leaf element (no child elements) below UserData gives a field named by
//                 its local name (prefix dropped) with its text; attributes are not kept; repeated
//                 names are all kept, in order.
//   Anything else (RenderingInfo, ...) is ignored. Empty elements give "".
// Values are as libevtx renders them (GUIDs in braces, CR LF kept, ...), except two libevtx
// habits Windows does not share: TimeCreated gets 7 fractional digits (libevtx prints 9), and a
// zero-padded hex number ("0x00001410", libevtx's HexInt32/64 rendering) in EventData, UserData
// or Keywords loses its padding ("0x1410"), as Windows and Winlogbeat print it and rules expect.
// EventData/UserData fields go through sk_event_add_data (a name equal to a system field moves the
// system one to "System.<name>").
#ifndef SK_INPUT_EVTX_XML_H
#define SK_INPUT_EVTX_XML_H

#include <stddef.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/status.h"
#include "event/event.h"
#include "reader.h"

typedef struct sk_evtx_xml sk_evtx_xml;

// A parser for record XML; reuse it for every record of a file (the expat parser inside is reset,
// not recreated). Free with sk_evtx_xml_free. Allocation failure is fatal (core/mem.h).
sk_evtx_xml *sk_evtx_xml_new(void);
// NULL is a no-op.
void sk_evtx_xml_free(sk_evtx_xml *x);

// Resets ev (sk_event_reset), then fills it from xml[0..n) (one record, UTF-8, no NUL needed) and
// calls sk_event_finish. ev->file, ev->format and ev->recovered are left to the caller.
// Returns:
//   SK_OK          ev holds the event;
//   SK_ERR_FORMAT  the text is not a record's XML even after preparation: expat's error with its
//                  position ("mismatched tag (line 3, column 5)"), a DOCTYPE ("DOCTYPE is not
//                  allowed in an event record"), or a root element other than Event;
//   SK_ERR_LIMIT   a cap of core/limits.h was exceeded: n > SK_MAX_XML_BYTES, element nesting
//                  deeper than SK_MAX_DEPTH, more than SK_MAX_FIELDS fields.
// On error the reason (one line, no trailing period) is appended to err (which may be NULL) and
// ev holds no usable event. xml is borrowed for the call; field strings live in ev's arena.
SK_NODISCARD sk_status
sk_evtx_xml_parse(sk_evtx_xml *x, const char *xml, size_t n, sk_event *ev, sk_buf *err);

// How many values the last successful parse truncated to SK_MAX_VALUE_BYTES (at a UTF-8
// boundary), and the name of the first such field (valid until the next parse; NULL when none).
size_t sk_evtx_xml_truncated(const sk_evtx_xml *x, const char **first_name);

// --- libevtx reader, in-memory variant (defined in evtx_libevtx.c) ---------------------------
// Like sk_reader_open_evtx, but reads the file image data[0..n) through a libbfio memory range
// (the fuzz_evtx_file harness and tests use it). data is borrowed until sk_reader_close.
// stats.bytes is n. Declared here until reader.h grows a home for it.
SK_NODISCARD sk_status sk_reader_open_evtx_memory(sk_reader **out,
                                                  const void *data,
                                                  size_t n,
                                                  const char *display,
                                                  const sk_reader_opts *opts,
                                                  sk_diags *diags);

#endif
