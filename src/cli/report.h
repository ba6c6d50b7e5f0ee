// Diagnostics printing for the CLI: renders every sk_diag to stderr (GCC style), counts them by
// reason code for the summary, honours --quiet (warnings hidden, still counted) and --strict
// (any warning or error about input or rules becomes fatal).
#ifndef SK_CLI_REPORT_H
#define SK_CLI_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/diag.h"

typedef struct sk_reason_count {
    char code[48];
    unsigned long n;
    unsigned long base; // n at the last sk_report_mark
} sk_reason_count;

typedef struct sk_report {
    sk_diags dl;
    FILE *fp;        // stderr
    bool quiet;
    bool strict;
    bool fatal;      // set when --strict met a warning or an error
    sk_reason_count *reasons;
    size_t nreasons;
    size_t cap;
} sk_report;

void sk_report_init(sk_report *r, bool quiet, bool strict);
void sk_report_fini(sk_report *r);
// "code ×n, code ×n" for the summary, in first-seen order (codes given by prefix filter, or all).
// since_mark: only what was counted after sk_report_mark (a scan's reasons, not the rules').
void sk_report_reasons(
        const sk_report *r, const char *prefix, bool since_mark, char *out, size_t n);
// Remembers the counts so far (the scan calls it as it starts).
void sk_report_mark(sk_report *r);
// Prints "saker: <severity>: <text>" lines (messages about the run itself, not an input); with
// --strict a warning or an error makes the report fatal, as a diagnostic does.
void sk_report_msg(sk_report *r, sk_severity sev, const char *fmt, ...) SK_PRINTF(3, 4);

#endif
