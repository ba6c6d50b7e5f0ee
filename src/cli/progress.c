// Progress line.
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool sk_progress_init(sk_progress *p, const char *when, const unsigned long *hits)
{
    memset(p, 0, sizeof *p);
    p->hits = hits;
    if (when && strcmp(when, "never") == 0)
        return false;
    if (when && strcmp(when, "always") == 0)
        return true;
    // auto: a person is watching stderr, and CI is not running us.
    const char *ci = getenv("CI");
    return isatty(STDERR_FILENO) && !(ci && *ci && strcmp(ci, "false") != 0);
}

void sk_progress_clear(void *ctx)
{
    sk_progress *p = ctx;
    if (p->drawn) {
        fputs("\r\x1b[K", stderr);
        fflush(stderr);
    }
    p->drawn = false;
}

void sk_progress_report(void *ctx, const sk_scan *s, bool final)
{
    sk_progress *p = ctx;
    double t = mono();
    if (final) {
        sk_progress_clear(p);
        return;
    }
    if (p->drawn && t - p->last < 0.1)
        return;
    p->last = t;
    double el = t - s->t0 > 1e-6 ? t - s->t0 : 1e-6;
    double rate = (double)s->done_bytes / el;
    char eta[32] = "--:--";
    // No ETA while the walk runs: the totals still grow.
    if (s->walked && s->total_bytes > s->done_bytes && rate > 1) {
        unsigned long left = (unsigned long)((double)(s->total_bytes - s->done_bytes) / rate);
        snprintf(eta, sizeof eta, "%lu:%02lu", left / 60, left % 60);
    } else if (s->walked && s->total_bytes && s->done_bytes >= s->total_bytes) {
        snprintf(eta, sizeof eta, "0:00");
    }
    unsigned long long done_files = s->stats.files_read + s->stats.files_failed;
    fprintf(stderr, "\r\x1b[K[%llu/%llu files] %.1f/%.1f MB  %.1f MB/s  %llu events",
            done_files, (unsigned long long)s->total_files, (double)s->done_bytes / 1e6,
            (double)s->total_bytes / 1e6, rate / 1e6, (unsigned long long)s->stats.events);
    if (p->hits)
        fprintf(stderr, "  %lu hits", *p->hits);
    fprintf(stderr, "  ETA %s", eta);
    fflush(stderr);
    p->drawn = true;
}
