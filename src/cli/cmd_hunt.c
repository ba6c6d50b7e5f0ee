// `saker hunt PATH...`: run the rules over every event in one streaming pass and print the hits.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli_int.h"
#include "core/mem.h"
#include "progress.h"
#include "load.h"
#include "output/out.h"
#include "output/sink.h"
#include "scan.h"

typedef struct hunt_ctx {
    sk_matcher *m;
    unsigned long *by_rule;                 // hits per rule (by rule index)
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
    h->by_rule[sk_rule_index(rule)]++;
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

// Terminal columns of fd, else $COLUMNS, else 160.
static unsigned term_width(int fd)
{
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (c && atoi(c) > 0)
        return (unsigned)atoi(c);
    return 160;
}

// The end-of-run summary on stderr (--stats, and after a table): input counts, hits by level,
// the rules with most hits, rules loaded.
static void print_summary(const sk_scan *scan, const sk_ruleset *rs, const hunt_ctx *h, FILE *fp)
{
    sk_scan_print_stats(scan, fp);
    fprintf(fp,
            "saker: rules: %zu loaded, %zu skipped, %zu selected\n",
            sk_ruleset_loaded_count(rs),
            sk_ruleset_skipped_count(rs),
            sk_ruleset_enabled_count(rs));
    size_t nrules = sk_ruleset_count(rs), with_hits = 0;
    for (size_t i = 0; i < nrules; i++)
        with_hits += h->by_rule[i] != 0;
    fprintf(fp,
            "saker: hits: %lu (critical %lu, high %lu, medium %lu, low %lu, informational %lu) "
            "from %zu rules\n",
            h->hits, h->by_level[SK_LEVEL_CRITICAL], h->by_level[SK_LEVEL_HIGH],
            h->by_level[SK_LEVEL_MEDIUM], h->by_level[SK_LEVEL_LOW],
            h->by_level[SK_LEVEL_INFORMATIONAL] + h->by_level[SK_LEVEL_UNKNOWN], with_hits);
    // The ten rules with most hits (ties: load order), without sorting all of them.
    bool *shown = calloc(nrules ? nrules : 1, sizeof *shown);
    for (int k = 0; shown && k < 10; k++) {
        size_t best = nrules;
        for (size_t i = 0; i < nrules; i++)
            if (!shown[i] && h->by_rule[i] && (best == nrules || h->by_rule[i] > h->by_rule[best]))
                best = i;
        if (best == nrules)
            break;
        shown[best] = true;
        const sk_rule *r = sk_ruleset_rule(rs, best);
        fprintf(fp, "saker:   %6lu  %-13s  %s\n", h->by_rule[best],
                sk_level_str(sk_rule_level(r)), sk_rule_title(r));
    }
    free(shown);
}

int sk_cmd_hunt(int argc, char **argv)
{
    sk_cli_opts o;
    const char **paths = NULL;
    size_t npaths = 0;
    sk_ruleset *rs = NULL;
    sk_matcher *m = NULL;
    sk_sink *sink = NULL;
    unsigned long *by_rule = NULL;
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

    sk_sink_opts so = { .sort = SK_SORT_NONE, .tz = SK_TZ_UTC, .rules = rs };
    if (!o.format)
        so.format = (!o.output && isatty(STDOUT_FILENO)) ? SK_SINK_TABLE : SK_SINK_JSONL;
    else if (strcmp(o.format, "json") == 0)
        so.format = SK_SINK_JSON;
    else if (strcmp(o.format, "table") == 0)
        so.format = SK_SINK_TABLE;
    else if (strcmp(o.format, "csv") == 0)
        so.format = SK_SINK_CSV;
    else
        so.format = SK_SINK_JSONL;
    if (o.sort)
        so.sort = strcmp(o.sort, "time") == 0    ? SK_SORT_TIME
                  : strcmp(o.sort, "level") == 0 ? SK_SORT_LEVEL
                                                 : SK_SORT_RULE;
    if (o.timezone && strcasecmp(o.timezone, "UTC") != 0) {
        so.tz = SK_TZ_LOCAL;
        if (strcmp(o.timezone, "local") != 0 && setenv("TZ", o.timezone, 1) != 0) {
            fprintf(stderr, "saker hunt: cannot set the time zone: %s\n", strerror(errno));
            rc = SK_EXIT_FAILURE;
            goto done;
        }
        tzset();
    }
    so.color = sk_cli_want_color(o.color, STDOUT_FILENO) && !o.output;
    if (o.color && strcmp(o.color, "always") == 0)
        so.color = true;
    so.width = term_width(STDOUT_FILENO);
    if (sk_out_open(&out, o.output) != SK_OK) {
        fprintf(stderr, "saker hunt: cannot write '%s': %s\n", o.output, strerror(out.error));
        sk_buf_fini(&out.pending);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    out_open = true;
    sink = sk_sink_new(&so, &out);
    m = sk_matcher_new(rs);

    by_rule = sk_xcalloc(sk_ruleset_count(rs) + 1, sizeof *by_rule);
    hunt_ctx h = { .m = m, .by_rule = by_rule, .sink = sink, .fail_level = SK_LEVEL_UNKNOWN };
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
    if (!sk_cli_scan_filter(&o, &scan.filter)) {
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    sk_progress prog;
    if (sk_progress_init(&prog, o.progress, &h.hits)) {
        scan.progress = sk_progress_report;
        scan.progress_ctx = &prog;
    }

    sk_status st = sk_scan_run(&scan, paths, npaths);
    sk_status est = h.out_status == SK_OK ? sk_sink_end(sink) : h.out_status;
    sk_status ost = sk_out_close(&out);
    out_open = false;
    if (o.stats || (so.format == SK_SINK_TABLE && !o.quiet))
        print_summary(&scan, rs, &h, stderr);
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
    free(by_rule);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    if (rep_init)
        sk_report_fini(&rep);
    free(paths);
    sk_cli_opts_fini(&o);
    return rc;
}
