// The scan loop.
#include "scan.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool channel_ok(const sk_event_filter *f, const char *ch)
{
    if (!f->nchannels)
        return true;
    if (!ch)
        return false;
    for (size_t i = 0; i < f->nchannels; i++) {
        const char *want = f->channels[i];
        if (strcasecmp(ch, want) == 0)
            return true;
        // Short names: "Sysmon" for Microsoft-Windows-Sysmon/Operational.
        size_t wl = strlen(want);
        const char *p = strncasecmp(ch, "Microsoft-Windows-", 18) == 0 ? ch + 18 : ch;
        if (strncasecmp(p, want, wl) == 0 && (p[wl] == '\0' || strcasecmp(p + wl, "/Operational") == 0))
            return true;
    }
    return false;
}

static bool event_ok(const sk_event_filter *f, const sk_event *ev)
{
    if ((f->has_from || f->has_to) && !ev->has_time)
        return false;
    if (f->has_from && ev->time < f->from)
        return false;
    if (f->has_to && ev->time >= f->to)
        return false;
    if (!channel_ok(f, ev->channel))
        return false;
    if (f->nevent_ids) {
        if (!ev->has_event_id)
            return false;
        for (size_t i = 0; i < f->nevent_ids; i++)
            if (strtoul(f->event_ids[i], NULL, 10) == ev->event_id)
                return true;
        return false;
    }
    return true;
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
    uint64_t before = s->done_bytes;
    const sk_reader_stats *rs = sk_reader_stats_get(r);
    while ((rst = sk_reader_next(r, &ev)) == SK_OK) {
        if (s->report->fatal)
            break;
        if (ev->format == SK_FORMAT_EVTX)
            s->stats.events_evtx++;
        else
            s->stats.events_ndjson++;
        s->stats.events++;
        if (s->progress && (s->stats.events & 4095) == 0) {
            s->done_bytes = before + rs->bytes;
            s->progress(s->progress_ctx, s, false);
        }
        if (!event_ok(&s->filter, ev)) {
            s->stats.events_filtered++;
            continue;
        }
        st = s->on_event(s->ctx, ev);
        if (st != SK_OK)
            break;
    }
    s->stats.records_skipped += rs->records_skipped;
    s->stats.lines_skipped += rs->lines_skipped;
    s->stats.bytes += rs->bytes;
    s->done_bytes = before + rs->bytes;
    if (rs->damaged || (rst != SK_OK && rst != SK_DONE))
        s->stats.files_damaged++;
    sk_reader_close(r);
    if (s->progress)
        s->progress(s->progress_ctx, s, false);
    if (st != SK_OK)
        return st;
    if (s->report->fatal)
        return SK_ERR_FORMAT;
    return SK_OK;
}

typedef struct measure {
    uint64_t bytes, files;
} measure;

static sk_status measure_one(void *ctx, const char *path, bool named)
{
    measure *m = ctx;
    struct stat sb;
    (void)named;
    m->files++;
    if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        m->bytes += (uint64_t)sb.st_size;
    return SK_OK;
}

sk_status sk_scan_run(sk_scan *s, const char *const *paths, size_t npaths)
{
    double t0 = now();
    s->t0 = t0;
    if (s->progress) {
        // A quiet first walk gives the totals behind the ETA (walks are cheap next to reading).
        measure m = { 0, 0 };
        for (size_t i = 0; i < npaths; i++) {
            sk_walk_stats ws = { 0 };
            if (sk_walk(paths[i], &s->walk_opts, &ws, NULL, measure_one, &m) != SK_OK)
                break;
        }
        s->total_bytes = m.bytes;
        s->total_files = m.files;
    }
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
    if (s->progress)
        s->progress(s->progress_ctx, s, true);
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
            "saker: events: %llu (evtx %llu, ndjson %llu)%s\n",
            (unsigned long long)t->events,
            (unsigned long long)t->events_evtx,
            (unsigned long long)t->events_ndjson,
            "");
    if (t->events_filtered)
        fprintf(fp,
                "saker: events left out by --from/--to/--channel/--event-id: %llu\n",
                (unsigned long long)t->events_filtered);
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
