// The scan loop.
#include "scan.h"

#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sk_status scan_one(void *ctx, const char *path, bool named)
{
    sk_scan *s = ctx;
    (void)named;
    sk_reader *r = NULL;
    sk_status st = sk_input_open(&r, path, &s->reader_opts, &s->report->dl);
    if (st != SK_OK) {
        s->stats.files_failed++;
        return s->report->fatal ? SK_ERR_FORMAT : SK_OK;
    }
    if (s->report->fatal) {
        sk_reader_close(r);
        return SK_ERR_FORMAT;
    }
    s->stats.files_read++;
    const sk_event *ev;
    sk_status rst;
    while ((rst = sk_reader_next(r, &ev)) == SK_OK) {
        if (s->report->fatal)
            break;
        if (ev->format == SK_FORMAT_EVTX)
            s->stats.events_evtx++;
        else
            s->stats.events_ndjson++;
        s->stats.events++;
        st = s->on_event(s->ctx, ev);
        if (st != SK_OK)
            break;
    }
    const sk_reader_stats *rs = sk_reader_stats_get(r);
    s->stats.records_skipped += rs->records_skipped;
    s->stats.lines_skipped += rs->lines_skipped;
    s->stats.bytes += rs->bytes;
    if (rs->damaged || (rst != SK_OK && rst != SK_DONE))
        s->stats.files_damaged++;
    sk_reader_close(r);
    if (st != SK_OK)
        return st;
    if (s->report->fatal)
        return SK_ERR_FORMAT;
    return SK_OK;
}

sk_status sk_scan_run(sk_scan *s, const char *const *paths, size_t npaths)
{
    double t0 = now();
    sk_status st = SK_OK;
    for (size_t i = 0; i < npaths && st == SK_OK; i++) {
        sk_walk_stats ws = { 0 };
        st = sk_walk(paths[i], &s->walk_opts, &ws, &s->report->dl, scan_one, s);
        s->stats.passed_over += ws.passed_over;
        s->stats.unreadable += ws.unreadable;
        if (st == SK_OK && ws.files == 0 && ws.unreadable == 0 && strcmp(paths[i], "-") != 0)
            sk_report_msg(s->report, SK_SEV_WARNING,
                          "no log files found under '%s' (%llu files passed over)", paths[i],
                          (unsigned long long)ws.passed_over);
        if (st == SK_OK && s->report->fatal)
            st = SK_ERR_FORMAT;
    }
    s->stats.seconds = now() - t0;
    s->stop = st;
    return st;
}

bool sk_scan_had_skips(const sk_scan *s)
{
    const sk_scan_stats *t = &s->stats;
    return t->files_failed || t->unreadable || t->files_damaged || t->records_skipped ||
           t->lines_skipped;
}

void sk_scan_print_stats(const sk_scan *s, FILE *fp)
{
    const sk_scan_stats *t = &s->stats;
    char reasons[512];
    fprintf(fp,
            "saker: files: %llu read, %llu skipped, %llu passed over\n",
            (unsigned long long)t->files_read,
            (unsigned long long)(t->files_failed + t->unreadable),
            (unsigned long long)t->passed_over);
    fprintf(fp,
            "saker: events: %llu (evtx %llu, ndjson %llu)\n",
            (unsigned long long)t->events,
            (unsigned long long)t->events_evtx,
            (unsigned long long)t->events_ndjson);
    sk_report_reasons(s->report, NULL, reasons, sizeof reasons);
    fprintf(fp,
            "saker: skipped: %llu records, %llu lines, %llu damaged files%s%s%s\n",
            (unsigned long long)t->records_skipped,
            (unsigned long long)t->lines_skipped,
            (unsigned long long)t->files_damaged,
            reasons[0] ? " (" : "",
            reasons,
            reasons[0] ? ")" : "");
    double mb = (double)t->bytes / 1e6;
    double sec = t->seconds > 1e-9 ? t->seconds : 1e-9;
    fprintf(fp,
            "saker: read %.1f MB in %.2f s (%.1f MB/s, %.0f events/s)\n",
            mb,
            t->seconds,
            mb / sec,
            (double)t->events / sec);
}
