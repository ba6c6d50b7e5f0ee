// Readers turn one input (an evtx file, an NDJSON stream) into a stream of events.
//
//   sk_reader *r;
//   if (sk_reader_open_evtx(&r, path, display, &opts, diags) == SK_OK) {
//       const sk_event *ev;
//       while ((st = sk_reader_next(r, &ev)) == SK_OK) { ... }
//       sk_reader_close(r);
//   }
//
// Damage is never fatal for the run: a record or line that cannot be read is reported through
// diags (GCC style, with its file and position), counted in the reader's stats, and skipped.
// sk_reader_next returns SK_DONE at the end, or an error status when the rest of the input cannot
// be read at all (already reported and counted).
#ifndef SK_INPUT_READER_H
#define SK_INPUT_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/diag.h"
#include "core/status.h"
#include "event/event.h"

typedef enum sk_evtx_reader {
    SK_EVTX_READER_NATIVE = 0, // saker's own chunk-by-chunk BinXML decoder (default)
    SK_EVTX_READER_LIBEVTX,    // libevtx + libbfio + expat (the reference reader)
} sk_evtx_reader;

typedef struct sk_reader_opts {
    bool recovered;  // evtx: also yield libevtx's recovered (deleted) records, marked recovered
    size_t chunk_size; // NDJSON: bytes per fread (0 = default 64 KiB); tests vary it
    sk_evtx_reader evtx_reader;
    // Native evtx reader only: read chunk slots [chunk_first, chunk_first + chunk_count) of the
    // file (chunk_count 0 = to the end). File-level warnings come only with chunk_first 0. Lets
    // parallel scans split one large file into independent parts.
    uint64_t chunk_first;
    uint64_t chunk_count;
    // NDJSON in line layout only: read the lines that start in [ndjson_first, ndjson_end) of a
    // regular file (ndjson_end 0 = to the end), ndjson_newlines being the number of newlines in
    // its first ndjson_first - 1 bytes (line numbers follow from it). 0 = the whole input. A line
    // is read whole, past ndjson_end if need be, by the part it starts in. Lets parallel scans
    // split one large NDJSON file (sk_ndjson_splittable says which files may be).
    uint64_t ndjson_first;
    uint64_t ndjson_end;
    uint64_t ndjson_newlines;
    // sk_input_open only. reopen: the name to open in place of its path, which stays the name in
    // diagnostics and events (a part of a split file opens the file the scan holds open, as
    // /proc/self/fd/N, so that every part reads the same file whatever happens to the path).
    // part_first, part_end: a part of a file the scan split, bytes [part_first, part_end) of it
    // as it was then (part_end 0: none); a file that is now shorter than part_end is refused,
    // as what the part stands for is no longer there.
    const char *reopen;
    uint64_t part_first, part_end;
} sk_reader_opts;

typedef struct sk_reader_stats {
    uint64_t events;          // events returned by next
    uint64_t records_skipped; // evtx records that could not be read, rendered or parsed
    uint64_t lines_skipped;   // NDJSON lines skipped (invalid JSON, over-long, not an object)
    uint64_t bytes;           // input bytes consumed (for throughput figures)
    bool damaged;             // the input had damage beyond single records (corrupted file, ...)
} sk_reader_stats;

typedef struct sk_reader sk_reader;

// Opens an evtx file through libevtx + libbfio + expat. path is the file to read; display is the
// name used in diagnostics and in events (for stdin spooled to a temp file, "-" or "<stdin>").
// On failure reports the reason (file: error: ...) and returns SK_ERR_IO or SK_ERR_FORMAT.
SK_NODISCARD sk_status sk_reader_open_evtx(sk_reader **out,
                                           const char *path,
                                           const char *display,
                                           const sk_reader_opts *opts,
                                           sk_diags *diags);

// Opens an NDJSON (or JSON array document) stream. fp is taken (closed by sk_reader_close unless it
// is stdin). prefix[0..prefix_len) are bytes already read from fp by format sniffing; they are
// read first. display is the name used in diagnostics and events.
SK_NODISCARD sk_status sk_reader_open_ndjson(sk_reader **out,
                                             FILE *fp,
                                             const void *prefix,
                                             size_t prefix_len,
                                             const char *display,
                                             const sk_reader_opts *opts,
                                             sk_diags *diags);

// True when head[0..n) (the first bytes of a file, up to 64 KiB) start an NDJSON file in line
// layout, one document per line, which parts read with ndjson_first/ndjson_end give exactly: not
// a JSON array, not pretty-printed objects (a first line that is a lone "{").
bool sk_ndjson_splittable(const unsigned char *head, size_t n);

// Next event. *ev is owned by the reader and valid until the next call to next or close.
SK_NODISCARD sk_status sk_reader_next(sk_reader *r, const sk_event **ev);
const sk_reader_stats *sk_reader_stats_get(const sk_reader *r);
// Closes the reader; NULL is a no-op.
void sk_reader_close(sk_reader *r);

#endif
