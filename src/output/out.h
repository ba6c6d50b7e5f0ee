// The output stream behind every sink. Lines are collected in a buffer and written with write(2)
// in whole lines only; when a write fails part-way on a regular file (disk full), the file is cut
// back to the last whole line, so readers never see half a JSON line (unless data that saker did
// not write follows it: that is never touched). A closed pipe (EPIPE) is reported as SK_DONE so
// the run can end quietly, as `saker hunt ... | head` expects.
#ifndef SK_OUTPUT_OUT_H
#define SK_OUTPUT_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/status.h"

typedef struct sk_out {
    int fd;
    bool own_fd;         // opened by sk_out_open (closed by sk_out_close)
    bool regular;        // a regular file (can be truncated back after a failed write)
    bool line_buffered;  // write after every line (jsonl hits, terminals)
    bool pipe_closed;    // EPIPE seen: everything later is dropped
    int error;           // errno of the first write error, 0 when none
    off_t committed;     // where saker's last whole line ends in the file (for O_APPEND, counted
                         // from the file's size at open)
    const char *name;    // for messages: the -o path or "standard output"
    sk_buf pending;
    // Called before each write(2), when set: a progress line on the same terminal is erased
    // first, so that results start at the beginning of a line.
    void (*before_write)(void *ctx);
    void *before_ctx;
} sk_out;

// path NULL or "-" = standard output.
SK_NODISCARD sk_status sk_out_open(sk_out *o, const char *path);
// Queues p[0..n), which must end with a newline, as one unit. Returns SK_OK, SK_DONE when the
// reader closed the pipe, or SK_ERR_IO on a write error (see o->error).
SK_NODISCARD sk_status sk_out_line(sk_out *o, const char *p, size_t n);
SK_NODISCARD sk_status sk_out_flush(sk_out *o);
// Flushes, closes (checking close(2)) and frees. Returns the first error seen, SK_DONE for a
// closed pipe, or SK_OK.
SK_NODISCARD sk_status sk_out_close(sk_out *o);

#endif
