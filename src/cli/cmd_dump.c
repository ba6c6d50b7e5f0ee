// `saker dump PATH...`: every event as one JSON object per line, with the field names rules see.
// It is the reference view of both readers and the test oracle for them.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "core/mem.h"
#include "output/json.h"
#include "output/out.h"
#include "progress.h"
#include "scan.h"
#include <unistd.h>

typedef struct dump_ctx {
    sk_out out;
} dump_ctx;

// Per worker: the line buffer events are formatted into.
static void *worker_new(void *ctx)
{
    (void)ctx;
    sk_buf *b = sk_xmalloc(sizeof *b);
    sk_buf_init(b, (size_t)1 << 30);
    return b;
}

static void worker_free(void *ctx, void *w)
{
    (void)ctx;
    if (w) {
        sk_buf_fini(w);
        free(w);
    }
}

static sk_status on_event(void *w, const sk_event *ev, sk_scan_out *out)
{
    sk_buf *b = w;
    sk_buf_reset(b);
    if (sk_json_event(b, ev) != SK_OK || sk_buf_addc(b, '\n') != SK_OK)
        return SK_ERR_LIMIT;
    static const sk_sort_key none = { 0, 0, 0, 0 };
    return sk_scan_out_add(out, &none, b->p, b->n);
}

static sk_status put(void *ctx, const sk_sort_key *key, const char *data, size_t n)
{
    (void)key;
    return sk_out_line(&((dump_ctx *)ctx)->out, data, n);
}

int sk_cmd_dump(int argc, char **argv)
{
    sk_cli_opts o;
    const char **paths = NULL;
    size_t npaths = 0;
    int rc = sk_cli_parse(argc, argv, 2, SK_CMD_DUMP, "dump", &o, &paths, &npaths);
    if (rc)
        goto done_opts;
    if (o.help) {
        sk_cli_usage(SK_CMD_DUMP, "dump", "[options] PATH...",
                     "Print every event of the inputs as one JSON object per line, with the keys\n"
                     "timestamp, computer, channel, event_id, source and fields. PATH may be an\n"
                     "evtx or NDJSON file (format detected from content), a folder (walked\n"
                     "recursively), or - for standard input.");
        rc = 0;
        goto done_opts;
    }
    if ((rc = sk_cli_check_inputs("dump", paths, npaths)) != 0)
        goto done_opts;

    sk_event_filter filter;
    if (!sk_cli_scan_filter("dump", &o, &filter)) {
        rc = SK_EXIT_FAILURE;
        goto done_opts;
    }
    sk_report rep;
    sk_report_init(&rep, o.quiet, o.strict);
    dump_ctx d;
    sk_scan scan;
    sk_cli_scan_setup(&scan, &o, &rep, &filter);
    rc = sk_cli_open_output(&d.out, "dump", o.output, paths, npaths, &scan);
    if (rc) {
        sk_report_fini(&rep);
        goto done_opts;
    }
    scan.hooks = (sk_scan_hooks){ .worker_new = worker_new,
                                  .worker_free = worker_free,
                                  .on_event = on_event,
                                  .put = put,
                                  .ctx = &d };
    sk_progress prog;
    // dump's output is usually redirected; show progress on a terminal stderr only then.
    if (sk_progress_init(&prog, o.progress, NULL) && (o.output || !isatty(STDOUT_FILENO))) {
        scan.progress = sk_progress_report;
        scan.progress_ctx = &prog;
    }

    sk_status st = sk_scan_run(&scan, paths, npaths);
    sk_status ost = sk_out_close(&d.out);
    if (o.stats)
        sk_scan_print_stats(&scan, stderr);

    if (st == SK_ERR_FORMAT && rep.fatal) {
        fputs("saker dump: stopped: --strict makes skipped input fatal\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else if (ost == SK_ERR_IO || st == SK_ERR_IO) {
        fprintf(stderr, "saker dump: cannot write to %s: %s\n", d.out.name,
                strerror(d.out.error ? d.out.error : EIO));
        rc = SK_EXIT_FAILURE;
    } else if (scan.stats.files_read == 0 && st != SK_DONE) {
        // Nothing could be read at all, or nothing was found to read: not a clean result.
        if (!scan.stats.files_failed && !scan.stats.unreadable)
            fputs("saker dump: no input was read\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else {
        rc = sk_scan_had_skips(&scan) ? SK_EXIT_SKIPPED : SK_EXIT_CLEAN;
    }
    sk_report_fini(&rep);
done_opts:
    free(paths);
    sk_cli_opts_fini(&o);
    return rc;
}
