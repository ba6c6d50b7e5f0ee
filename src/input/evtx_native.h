// The native evtx reader: reads the file header and then the file chunk by chunk (one 64 KiB
// buffer and one event in memory, whatever the file size), and decodes each record's Binary XML
// straight into the event (binxml.c), with a template cache per chunk. It gives the same events
// as the libevtx reader (sk_reader_open_evtx) for every record libevtx reads, apart from the
// documented deviations (binxml.c: characters outside the BMP, negative integers, SizeT in hex,
// hex-looking strings), and it also reads what libevtx cannot: template-less ("inline") BinXML
// records, BinXML nested in substitution values, entity references, CDATA and PI nodes, and valid
// chunks beyond a dirty header's chunk count.
//
// Damage, and how it is reported (diagnostics go through diags; "file" is the display name):
//   file: warning: file header CRC mismatch; reading every chunk of the file
//   file: warning: the file header lists N chunks but the file holds M; the file is cut short
//   file: chunk N: warning: chunk header CRC mismatch; reading its records anyway
//   file: chunk N: warning: records data CRC mismatch; reading its records anyway
//   file: chunk N: warning: chunk is cut short by the end of the file (...); reading its
//       records anyway
//   file: chunk N: warning: no chunk signature (damaged chunk header, K records found in it);
//       chunk skipped
//   file: chunk N: record M: warning: <why>; record skipped            (M: the EventRecordID of
//       the record header)
//   file: chunk N: warning: K of the L records the chunk header lists (EventRecordID A-B) are
//       not in its data (EventRecordID C-D); records skipped
// Codes: evtx-header-crc, evtx-file-truncated, evtx-chunk-crc, evtx-chunk-truncated,
// evtx-chunk-invalid, evtx-record-invalid (record header or size damaged, torn record),
// evtx-binxml-invalid (the BinXML cannot be decoded), evtx-record-limit (a cap of core/limits.h),
// evtx-records-missing, evtx-record-size-recovered (a damaged size field repaired from the
// record's trailing copy; the record is read), evtx-value-truncated.
//
// Chunks are numbered from 0 in file order (the slot at 4096 + N * 65536). A slot without a
// chunk signature that is all zeroes, or lies past the file header's chunk count (or the header
// fails its CRC), is unused space and is passed over silently; otherwise it is a damaged chunk.
//
// Records are walked from the chunk header to its free space offset. After a damaged record the
// walk resynchronises on the next record it can trust ("**\0\0", a size whose trailing copy
// matches, a BinXML fragment header, an EventRecordID of the chunk header's range not read yet),
// so one bad record does not lose the rest of its chunk.
//
// Accounting: for every chunk, events + records skipped = the records found in it plus those its
// header lists that are not there (a torn chunk's lost tail is counted, not hidden).
// stats.damaged is set by any chunk or file-header damage, not by a single undecodable record.
//
// Deleted records (opts->recovered): a chunk is reused when the log wraps or is cleared, and the
// records of its earlier use stay in its free space until they are overwritten. With
// opts->recovered, each chunk is carved after its records, everywhere outside them (its free
// space, and the gaps the record walk passed over after damage): every complete record there
// (signature, a size whose trailing copy matches, a BinXML fragment header) is decoded with
// the chunk's template cache and given as an event marked recovered, right after the chunk's own
// events. Templates and names are referred to by chunk offset, and the chunk's present use may
// have overwritten them: a template instance must find its template id at the offset it gives, or
// a definition of that template stored elsewhere in the chunk (binxml_int.h, recovering), and a
// name must have its hash and end. A record that does not decode is not a skip (it is old data,
// often half overwritten):
//   file: chunk N: note: K of the L recovered records found in it could not be decoded
// (code evtx-recovered-unreadable).
#ifndef SK_INPUT_EVTX_NATIVE_H
#define SK_INPUT_EVTX_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/diag.h"
#include "core/status.h"
#include "event/event.h"
#include "reader.h"

// Opens an evtx file with the native decoder; same contract as sk_reader_open_evtx (reader.h):
// path is read, display names it in diagnostics and events. On failure reports the reason
// ("file: error: cannot open: ...") and returns SK_ERR_IO or SK_ERR_FORMAT.
SK_NODISCARD sk_status sk_reader_open_evtx_native(sk_reader **out,
                                                  const char *path,
                                                  const char *display,
                                                  const sk_reader_opts *opts,
                                                  sk_diags *diags);

// Like sk_reader_open_evtx_native, but reads the open regular file fd of size bytes (taken:
// closed by sk_reader_close, or at once on failure); display names it.
SK_NODISCARD sk_status sk_reader_open_evtx_native_fd(sk_reader **out,
                                                     int fd,
                                                     uint64_t size,
                                                     const char *display,
                                                     const sk_reader_opts *opts,
                                                     sk_diags *diags);

// Like sk_reader_open_evtx_native, but reads the file image data[0..n) (fuzzing, tests, spooled
// input). data is borrowed until sk_reader_close; chunks are decoded in place (no copy).
SK_NODISCARD sk_status sk_reader_open_evtx_native_memory(sk_reader **out,
                                                         const void *data,
                                                         size_t n,
                                                         const char *display,
                                                         const sk_reader_opts *opts,
                                                         sk_diags *diags);

// --- Chunk level ------------------------------------------------------------------------------
// One chunk decodes independently of the others (its own string and template tables), so a
// parallel mode can give every thread its own sk_evtx_chunk and hand it chunks in any order.

#define SK_EVTX_CHUNK_BYTES 65536u

enum {
    // The slot lies past the file header's chunk count: without a chunk signature it is unused
    // space, not a damaged chunk (no diagnostic, nothing counted).
    SK_EVTX_CHUNK_BEYOND_COUNT = 1u,
    // The file header says the file carries no CRC32s (flag 0x4): chunk CRCs are not checked.
    SK_EVTX_CHUNK_NO_CRC = 2u,
    // After the chunk's records, carve its free space (the bytes from the free space offset to
    // the end of the chunk) for the records of an earlier use of the chunk: deleted records,
    // given as events marked recovered (sk_reader_opts.recovered).
    SK_EVTX_CHUNK_RECOVER = 4u,
};

typedef struct sk_evtx_chunk_stats {
    uint64_t records;         // records the chunk holds: found in its data + missing ones
    uint64_t events;          // records decoded into events
    uint64_t records_skipped; // found but undecodable, plus missing ones (records - events)
    bool damaged;             // chunk-level damage was reported
    // SK_EVTX_CHUNK_RECOVER: records found in the free space, decoded (events marked recovered,
    // not counted in records or events above) or not (summed up in one note for the chunk: a
    // fragment of old data is not a loss of the log's content).
    uint64_t recovered;
    uint64_t recovered_failed;
} sk_evtx_chunk_stats;

typedef struct sk_evtx_chunk sk_evtx_chunk;

// A chunk decoder (name and template caches, one event). Allocation failure is fatal.
sk_evtx_chunk *sk_evtx_chunk_new(void);
// NULL is a no-op.
void sk_evtx_chunk_free(sk_evtx_chunk *c);

// Starts on the chunk image data[0..n): n is SK_EVTX_CHUNK_BYTES, or less when the file ends
// inside the chunk. index numbers the chunk in diagnostics; flags are SK_EVTX_CHUNK_*. data,
// display and diags are borrowed until the chunk is done (the next begin, or free). Checks the
// chunk header and CRCs (reporting damage). Returns SK_OK when records follow (call next),
// SK_DONE when there is nothing to read (an unused slot, or a skipped chunk, already reported
// and counted in the stats).
SK_NODISCARD sk_status sk_evtx_chunk_begin(sk_evtx_chunk *c,
                                           const uint8_t *data,
                                           size_t n,
                                           uint64_t index,
                                           unsigned flags,
                                           const char *display,
                                           sk_diags *diags);
// The next event of the chunk: SK_OK (*ev is owned by c, valid until the next call; ev->file is
// display), or SK_DONE when the chunk is done (undecodable records are reported and skipped).
SK_NODISCARD sk_status sk_evtx_chunk_next(sk_evtx_chunk *c, const sk_event **ev);
// Counts of the current (or last) chunk.
const sk_evtx_chunk_stats *sk_evtx_chunk_stats_get(const sk_evtx_chunk *c);

// Decodes a whole chunk: begin, then fn(ctx, ev) for every event (a non-OK return from fn stops
// the chunk and is returned). Returns SK_OK when the chunk was read to its end.
typedef sk_status (*sk_evtx_event_fn)(void *ctx, const sk_event *ev);
SK_NODISCARD sk_status sk_evtx_chunk_decode(sk_evtx_chunk *c,
                                            const uint8_t *data,
                                            size_t n,
                                            uint64_t index,
                                            unsigned flags,
                                            const char *display,
                                            sk_diags *diags,
                                            sk_evtx_event_fn fn,
                                            void *ctx);

#endif
