// The scan loop shared by `dump` and `hunt`: walks the paths, opens each input (format from
// content), hands every event to a callback, and keeps the counts behind --stats and the exit
// status.
//
// Parallel scans (-j N): the inputs become tasks taken by N worker threads, each with its own
// reader and its own per-thread state (a matcher). Workers turn events into records (formatted
// output) with on_event; records and diagnostics reach `put` and the report in input order, one
// at a time, so the output of -j N is identical, line for line, to -j 1. The task at the head of
// the input order streams its records straight out; the tasks after it buffer theirs, and the
// workers run ahead (a slow file does not hold up the files after it) until the buffered output
// reaches a budget (buffer_bytes). Then a worker waits for its task's turn, or for the head to
// catch up before it takes a new one, so memory stays bounded whatever the input. The walk of the
// paths runs beside the scan, at most pending_tasks files (or parts) ahead of the output, so
// memory does not grow with the number of files either; what the walk reports (a missing path,
// an unreadable folder) comes out in input order, between the files before and after it.
#ifndef SK_CLI_SCAN_H
#define SK_CLI_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "event/event.h"
#include "input/input.h"
#include "input/reader.h"
#include "output/sorter.h"
#include "report.h"

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
    uint64_t events_recovered; // evtx events from deleted records (--recovered)
    uint64_t records_skipped;
    uint64_t lines_skipped;
    uint64_t bytes;
    double seconds;
} sk_scan_stats;

// Where a worker puts the records it makes for the current task (opaque).
typedef struct sk_scan_out sk_scan_out;
// Adds one record (copied). Returns non-OK when the scan is stopping (closed pipe, write error,
// --strict): the worker should stop reading.
SK_NODISCARD sk_status sk_scan_out_add(sk_scan_out *o,
                                       const sk_sort_key *key,
                                       const char *data,
                                       size_t n);

typedef struct sk_scan sk_scan;

typedef struct sk_scan_hooks {
    // Per-worker state (e.g. a matcher); called on the worker's thread. NULL hook: state is NULL.
    void *(*worker_new)(void *ctx);
    // Frees a worker's state; called on the calling thread after the scan, in worker order.
    void (*worker_free)(void *ctx, void *w);
    // One event, on a worker thread: add records with sk_scan_out_add. Non-OK stops the scan.
    sk_status (*on_event)(void *w, const sk_event *ev, sk_scan_out *out);
    // One record, in input order, one call at a time. SK_DONE (closed pipe) or an error stops.
    sk_status (*put)(void *ctx, const sk_sort_key *key, const char *data, size_t n);
    void *ctx;
} sk_scan_hooks;

// Progress report: called (in input order, under the output lock) after records and files.
typedef void (*sk_scan_progress_fn)(void *ctx, const sk_scan *s, bool final);

struct sk_scan {
    sk_reader_opts reader_opts;
    sk_walk_opts walk_opts;
    sk_event_filter filter;
    sk_report *report;
    sk_scan_hooks hooks;
    unsigned jobs;                // worker threads (0 or 1: the calling thread only)
    size_t buffer_bytes;          // output buffered behind the head; 0: 8 MiB a job, 32 MiB at most
    size_t pending_tasks;         // tasks the walk may add ahead of the output; 0: 1024
    sk_scan_progress_fn progress; // NULL: no progress reports
    void *progress_ctx;
    uint64_t total_bytes;         // of the files walked so far
    uint64_t total_files;
    bool walked;                  // the walk has ended: total_bytes and total_files are final
    uint64_t done_bytes;          // bytes of finished files
    double t0;
    sk_scan_stats stats;
    sk_status stop; // why the scan stopped early (SK_DONE, SK_ERR_IO, SK_ERR_FORMAT), or SK_OK
};

// Scans every path in order. Returns SK_OK when the scan ran to its end (whatever was skipped),
// or the status that stopped it (SK_DONE closed pipe, SK_ERR_IO output error, SK_ERR_FORMAT a
// --strict failure).
SK_NODISCARD sk_status sk_scan_run(sk_scan *s, const char *const *paths, size_t npaths);
// True when something was skipped (the |4 bit of the exit status).
bool sk_scan_had_skips(const sk_scan *s);
// The --stats lines (files, events, skips with reasons, throughput) to fp.
void sk_scan_print_stats(const sk_scan *s, FILE *fp);
// Worker threads for -j 0 (auto): the online CPUs, at least 1.
unsigned sk_scan_default_jobs(void);

#endif
