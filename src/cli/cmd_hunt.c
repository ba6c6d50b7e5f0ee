// `saker hunt PATH...`: run the rules over every event in one streaming pass and print the hits.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli_int.h"
#include "load.h"
#include "output/out.h"
#include "output/sink.h"
#include "scan.h"

typedef struct hunt_ctx {
    sk_matcher *m;
    sk_sink *sink;
    sk_level fail_level;
    unsigned long hits;
    unsigned long failing_hits;             // hits at or above --fail-level
    unsigned long by_level[SK_LEVEL_CRITICAL + 1];
    sk_status out_status;                   // first non-OK sink status
} hunt_ctx;

static void on_hit(void *ctx,
                   const sk_rule *rule,
                   const sk_event *ev,
                   const sk_match_item *items,
                   size_t n)
{
    hunt_ctx *h = ctx;
    if (h->out_status != SK_OK)
        return;
    sk_level lv = sk_rule_level(rule);
    h->hits++;
    h->by_level[lv]++;
    if (lv >= h->fail_level)
        h->failing_hits++;
    h->out_status = sk_sink_hit(h->sink, rule, ev, items, n);
}

static sk_status on_event(void *ctx, const sk_event *ev)
{
    hunt_ctx *h = ctx;
    (void)sk_matcher_run(h->m, ev, on_hit, h);
    return h->out_status;
}

static unsigned term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) > 0)
        return (unsigned)atoi(c);
    return 160;
}

int sk_cmd_hunt(int argc, char **argv)
{
    sk_cli_opts o;
    const char **paths = NULL;
    size_t npaths = 0;
    sk_ruleset *rs = NULL;
    sk_matcher *m = NULL;
    sk_sink *sink = NULL;
    sk_report rep;
    bool rep_init = false, out_open = false;
    sk_out out;
    int rc = sk_cli_parse(argc, argv, 2, SK_CMD_HUNT, "hunt", &o, &paths, &npaths);
    if (rc)
        goto done;
    if (o.help) {
        sk_cli_usage(SK_CMD_HUNT, "hunt", "[options] PATH...",
                     "Run detection rules (Sigma) over every event of the inputs and print the\n"
                     "hits. PATH may be an evtx or NDJSON file (format detected from content),\n"
                     "a folder (walked recursively), or - for standard input.\n"
                     "Exit status: 0 no hits, 1 hits, 2 failure; 4 is added when input was "
                     "skipped.");
        rc = 0;
        goto done;
    }
    if (npaths == 0) {
        fputs("saker hunt: no input given (see 'saker hunt --help'); use - for standard input\n",
              stderr);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    sk_report_init(&rep, o.quiet, o.strict);
    rep_init = true;

    bool io_error;
    rs = sk_cli_load_rules(&o, &rep, &io_error);
    if (!rs) {
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    sk_cli_load_summary(rs, &rep);
    if (o.strict && (sk_ruleset_skipped_count(rs) || io_error)) {
        fputs("saker hunt: stopped: --strict makes rules that cannot be loaded fatal\n", stderr);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    if (sk_ruleset_loaded_count(rs) == 0) {
        fputs("saker hunt: no rule could be loaded\n", stderr);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    if (sk_cli_filter_rules(rs, &o) == 0) {
        fputs("saker hunt: the rule filters (--min-level, --tag, --rule-id, --status) select no "
              "rule\n",
              stderr);
        rc = SK_EXIT_FAILURE;
        goto done;
    }

    sk_sink_format fmt;
    if (!o.format)
        fmt = (!o.output && isatty(STDOUT_FILENO)) ? SK_SINK_TABLE : SK_SINK_JSONL;
    else if (strcmp(o.format, "json") == 0)
        fmt = SK_SINK_JSON;
    else if (strcmp(o.format, "table") == 0)
        fmt = SK_SINK_TABLE;
    else
        fmt = SK_SINK_JSONL;
    if (sk_out_open(&out, o.output) != SK_OK) {
        fprintf(stderr, "saker hunt: cannot write '%s': %s\n", o.output, strerror(out.error));
        sk_buf_fini(&out.pending);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    out_open = true;
    sink = sk_sink_new(fmt, &out, fmt == SK_SINK_TABLE ? term_width() : 0);
    m = sk_matcher_new(rs);

    hunt_ctx h = { .m = m, .sink = sink, .fail_level = SK_LEVEL_UNKNOWN };
    if (o.fail_level)
        (void)sk_level_parse(o.fail_level, &h.fail_level);
    sk_scan scan;
    memset(&scan, 0, sizeof scan);
    scan.reader_opts.recovered = o.recovered;
    scan.walk_opts.exts = o.nexts ? o.exts : NULL;
    scan.walk_opts.nexts = o.nexts;
    scan.walk_opts.include = o.include;
    scan.walk_opts.ninclude = o.ninclude;
    scan.walk_opts.exclude = o.exclude;
    scan.walk_opts.nexclude = o.nexclude;
    scan.report = &rep;
    scan.on_event = on_event;
    scan.ctx = &h;

    sk_status st = sk_scan_run(&scan, paths, npaths);
    sk_status est = h.out_status == SK_OK ? sk_sink_end(sink) : h.out_status;
    sk_status ost = sk_out_close(&out);
    out_open = false;
    if (o.stats) {
        sk_scan_print_stats(&scan, stderr);
        fprintf(stderr,
                "saker: hits: %lu (critical %lu, high %lu, medium %lu, low %lu, "
                "informational %lu) from %zu rules\n",
                h.hits, h.by_level[SK_LEVEL_CRITICAL], h.by_level[SK_LEVEL_HIGH],
                h.by_level[SK_LEVEL_MEDIUM], h.by_level[SK_LEVEL_LOW],
                h.by_level[SK_LEVEL_INFORMATIONAL] + h.by_level[SK_LEVEL_UNKNOWN],
                sk_ruleset_enabled_count(rs));
    }
    bool pipe_closed = st == SK_DONE || est == SK_DONE || ost == SK_DONE;
    if (st == SK_ERR_FORMAT && rep.fatal) {
        fputs("saker hunt: stopped: --strict makes skipped input fatal\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else if (!pipe_closed && (st == SK_ERR_IO || est == SK_ERR_IO || ost == SK_ERR_IO)) {
        fprintf(stderr, "saker hunt: cannot write to %s: %s\n", out.name,
                strerror(out.error ? out.error : EIO));
        rc = SK_EXIT_FAILURE;
    } else if (scan.stats.files_read == 0 && (scan.stats.files_failed || scan.stats.unreadable)) {
        rc = SK_EXIT_FAILURE;
    } else {
        rc = (h.failing_hits ? SK_EXIT_HITS : SK_EXIT_CLEAN) |
             (sk_scan_had_skips(&scan) ? SK_EXIT_SKIPPED : 0);
    }
done:
    if (out_open && sk_out_close(&out) != SK_OK)
        rc = SK_EXIT_FAILURE;
    sk_sink_free(sink);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    if (rep_init)
        sk_report_fini(&rep);
    free(paths);
    sk_cli_opts_fini(&o);
    return rc;
}
