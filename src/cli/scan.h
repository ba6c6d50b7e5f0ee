// The scan loop shared by `dump` and `hunt`: walks the paths, opens each input (format from
// content), hands every event to a callback, and keeps the counts behind --stats and the exit
// status.
#ifndef SK_CLI_SCAN_H
#define SK_CLI_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "event/event.h"
#include "input/input.h"
#include "input/reader.h"
#include "report.h"

struct sk_scan;

// Returns SK_OK to go on, SK_DONE to stop quietly (closed pipe), or an error to stop the run.
typedef sk_status (*sk_scan_event_fn)(void *ctx, const sk_event *ev);

// Which events reach the callback (--from/--to/--channel/--event-id). Events filtered out are only
// counted.
typedef struct sk_event_filter {
    bool has_from, has_to;
    uint64_t from, to;            // FILETIME ticks; from inclusive, to exclusive
    const char *const *channels;  // full names or short ones ("Sysmon"), case-insensitive
    size_t nchannels;
    const char *const *event_ids; // decimal ids
    size_t nevent_ids;
} sk_event_filter;

// Progress report: called after each file and every few thousand events.
typedef void (*sk_scan_progress_fn)(void *ctx, const struct sk_scan *s, bool final);

typedef struct sk_scan_stats {
    uint64_t files_read;      // inputs opened (read in full or in part)
    uint64_t files_failed;    // named or walked inputs that could not be opened or recognised
    uint64_t passed_over;     // files in walked folders that were not opened
    uint64_t unreadable;      // folders/paths that could not be walked
    uint64_t files_damaged;   // inputs with damage beyond single records
    uint64_t events;          // events read
    uint64_t events_filtered; // events read but left out by the event filter
    uint64_t events_evtx;
    uint64_t events_ndjson;
    uint64_t records_skipped;
    uint64_t lines_skipped;
    uint64_t bytes;
    double seconds;
} sk_scan_stats;

typedef struct sk_scan {
    sk_reader_opts reader_opts;
    sk_event_filter filter;
    sk_scan_progress_fn progress; // NULL: no progress reports
    void *progress_ctx;
    uint64_t total_bytes;         // measured before the scan when progress is on
    uint64_t total_files;
    uint64_t done_bytes;          // bytes of finished files plus the current file's so far
    double t0;
    sk_walk_opts walk_opts;
    sk_report *report;
    sk_scan_event_fn on_event;
    void *ctx;
    sk_scan_stats stats;
    sk_status stop; // why the scan stopped early (SK_DONE, SK_ERR_IO), SK_OK when it did not
} sk_scan;

// Scans every path in order. Returns SK_OK when the scan ran to its end (whatever was skipped),
// or the status that stopped it (SK_DONE closed pipe, SK_ERR_IO output error, SK_ERR_FORMAT a
// --strict failure).
SK_NODISCARD sk_status sk_scan_run(sk_scan *s, const char *const *paths, size_t npaths);
// True when something was skipped (the |4 bit of the exit status).
bool sk_scan_had_skips(const sk_scan *s);
// The --stats lines (files, events, skips with reasons, throughput) to fp.
void sk_scan_print_stats(const sk_scan *s, FILE *fp);

#endif
