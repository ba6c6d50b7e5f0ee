// The progress line on stderr (--progress): files done, MB/s, events, hits, ETA by bytes. Only on
// a terminal unless --progress always; redrawn in place at most ten times a second and erased at
// the end, so it never mixes with results or diagnostics in files and pipes.
#ifndef SK_CLI_PROGRESS_H
#define SK_CLI_PROGRESS_H

#include <stdbool.h>

#include "scan.h"

typedef struct sk_progress {
    const unsigned long *hits; // borrowed counter shown on the line (NULL: not shown)
    double last;               // when the line was last drawn
    bool drawn;
} sk_progress;

// Decides from WHEN (NULL = auto) whether to show progress; fills p when it does.
bool sk_progress_init(sk_progress *p, const char *when, const unsigned long *hits);
// sk_scan_progress_fn: draws the line (final: erases it; the next report draws it again).
void sk_progress_report(void *ctx, const sk_scan *s, bool final);
// Erases the line if it is shown (ctx: the sk_progress), before results go to the same terminal.
void sk_progress_clear(void *ctx);

#endif
