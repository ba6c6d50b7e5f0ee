// Finding and opening inputs: folder walks (recursive, sorted, filtered by extension and globs)
// and format detection from content ("ElfFile\0" -> evtx; '{' or '[' -> NDJSON; gzip is
// decompressed first). "-" is standard input; evtx read from a stream is spooled to a temp file.
#ifndef SK_INPUT_INPUT_H
#define SK_INPUT_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/diag.h"
#include "reader.h"

typedef struct sk_walk_opts {
    const char *const *exts;     // extensions opened in folder walks ("evtx", "json", ...); NULL =
    size_t nexts;                // the defaults (evtx json jsonl ndjson, each also with .gz)
    const char *const *include;  // globs: a walked file must match one of them (when any)
    size_t ninclude;
    const char *const *exclude;  // globs: a walked file or folder matching one is passed over
    size_t nexclude;
    bool skip_file; // a file never read from a walked folder: the run's own output (-o)
    dev_t skip_dev;
    ino_t skip_ino;
} sk_walk_opts;

typedef struct sk_walk_stats {
    uint64_t files;       // files handed to the callback
    uint64_t passed_over; // files in walked folders not opened (extension, globs, not regular)
    uint64_t unreadable;  // folders or paths that could not be read (reported)
} sk_walk_stats;

// Called for every file to open, in deterministic order. sb: what stat said of it (NULL for "-").
// named: given on the command line (or "-"). A non-OK return stops the walk and is returned by
// sk_walk.
typedef sk_status (*sk_walk_fn)(void *ctx, const char *path, const struct stat *sb, bool named);

// Whether a folder walk opens a file of this name (by its extension; globs aside).
bool sk_walk_opens_name(const sk_walk_opts *o, const char *name);

// Walks one command-line path: "-" and files are passed as they are (a named file is always
// opened); folders are walked recursively in byte order of names. Missing paths, unreadable
// folders and symlink loops are reported through diags and counted in stats->unreadable.
SK_NODISCARD sk_status sk_walk(const char *path,
                               const sk_walk_opts *opts,
                               sk_walk_stats *stats,
                               sk_diags *diags,
                               sk_walk_fn fn,
                               void *ctx);

// Detects the format from the content of path ("-" = stdin) and opens the matching reader.
// Reports (file: error: ...) and returns an error status when the file cannot be opened or is
// neither evtx nor JSON.
SK_NODISCARD sk_status sk_input_open(sk_reader **out,
                                     const char *path,
                                     const sk_reader_opts *opts,
                                     sk_diags *diags);

// The format the content starts with (at least 8 bytes should be given when available).
sk_format sk_input_sniff(const unsigned char *p, size_t n);

#endif
