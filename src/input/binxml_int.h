// Private to src/input: the BinXML decoder behind the native evtx reader (evtx_native.c).
//
// sk_binxml turns the Binary XML of one record straight into an sk_event: no XML text is
// rendered and none is parsed. It keeps per-chunk caches (names by chunk offset, compiled
// templates by definition offset), so a record that instantiates a known template costs one pass
// over its substitution values. The mapping of the record's XML tree onto event fields is the one
// evtx_xml.h documents for the libevtx reader (System, EventData, UserData, the System.X collision
// rule), so both readers give the same events; see binxml.c for the few documented deviations.
#ifndef SK_INPUT_BINXML_INT_H
#define SK_INPUT_BINXML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "event/event.h"

typedef struct sk_binxml sk_binxml;

// A decoder; reuse it for every chunk (caches are reset, memory is kept). Free with
// sk_binxml_free (NULL is a no-op). Allocation failure is fatal (core/mem.h).
sk_binxml *sk_binxml_new(void);
void sk_binxml_free(sk_binxml *b);

// Starts a new chunk: chunk[0..n) (n <= 65536) is borrowed until the next call or free; every
// offset in it is chunk-relative, as BinXML's name and template offsets are.
void sk_binxml_begin_chunk(sk_binxml *b, const uint8_t *chunk, size_t n);

// Decodes the BinXML at chunk[off..off+len) (one record's event data) into ev: sk_event_reset,
// fields, sk_event_finish. ev->file/format/recovered are left to the caller.
// Returns SK_OK, SK_ERR_FORMAT (the BinXML is invalid or damaged) or SK_ERR_LIMIT (a cap of
// core/limits.h was exceeded); on error the reason (one line, no trailing period) is written to
// err[0..errn) and ev holds no usable event.
SK_NODISCARD sk_status
sk_binxml_record(sk_binxml *b, size_t off, size_t len, sk_event *ev, char *err, size_t errn);

// Decodes the records that follow as recovered ones (true) or as the chunk's own (false, the
// default): a recovered record whose template instance gives the offset of another template (the
// chunk was reused and the definition overwritten) is decoded with a definition of its template
// stored elsewhere in the chunk, found by template id; the chunk's own records must name the
// template at the offset they give.
void sk_binxml_recovering(sk_binxml *b, bool on);

// How many values the last successful record had cut to SK_MAX_VALUE_BYTES, and the name of the
// first such field (valid until the next record; NULL when none).
size_t sk_binxml_truncated(const sk_binxml *b, const char **first_name);

#endif
