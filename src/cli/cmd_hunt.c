// `saker hunt PATH...`: run the rules over every event in one streaming pass and print the hits.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli_int.h"
#include "core/mem.h"
#include "load.h"
#include "output/out.h"
#include "output/sink.h"
#include "progress.h"
#include "scan.h"

// Shared by the workers (read-only during the scan). The hit counts are kept as hits are written,
// in input order (put): a --strict stop or a closed pipe drops hits that workers found ahead of
// it, and the summary and exit status count only what was printed, the same for any -j.
typedef struct hunt_ctx {
    const sk_ruleset *rs;
    sk_sink *sink;
    sk_level fail_level;
    size_t nrules;
    unsigned long hits;
    unsigned long failing_hits; // hits at or above --fail-level
    unsigned long by_level[SK_LEVEL_CRITICAL + 1];
    unsigned long *by_rule;    // hits per rule (by rule index)
    unsigned long written;     // hits handed to the sink so far (progress line)
    unsigned long regex_limit; // regex evaluations stopped by the PCRE2 limits
} hunt_ctx;

// One per worker thread: its matcher and a line buffer.
typedef struct hunt_worker {
    hunt_ctx *h;
    sk_matcher *m;
    sk_buf line;
    sk_scan_out *out; // set for the duration of one event
    sk_status st;
} hunt_worker;

static void *worker_new(void *ctx)
{
    hunt_ctx *h = ctx;
    hunt_worker *w = sk_xcalloc(1, sizeof *w);
    w->h = h;
    w->m = sk_matcher_new(h->rs);
    sk_buf_init(&w->line, (size_t)1 << 30);
    return w;
}

static void worker_free(void *ctx, void *wp)
{
    hunt_ctx *h = ctx;
    hunt_worker *w = wp;
    if (!w)
        return;
    h->regex_limit += sk_matcher_limit_hits(w->m);
    sk_matcher_free(w->m);
    sk_buf_fini(&w->line);
    free(w);
}

static void
on_hit(void *ctx, const sk_rule *rule, const sk_event *ev, const sk_match_item *items, size_t n)
{
    hunt_worker *w = ctx;
    if (w->st != SK_OK)
        return;
    // The rendered hit goes out followed by its rule's index, which put() takes off to count it.
    sk_sort_key key;
    uint32_t ri = (uint32_t)sk_rule_index(rule);
    w->st = sk_sink_render(w->h->sink, &w->line, rule, ev, items, n, &key);
    if (w->st == SK_OK && sk_buf_add(&w->line, &ri, sizeof ri) != SK_OK)
        w->st = SK_ERR_LIMIT;
    if (w->st == SK_OK)
        w->st = sk_scan_out_add(w->out, &key, w->line.p, w->line.n);
}

static sk_status on_event(void *wp, const sk_event *ev, sk_scan_out *out)
{
    hunt_worker *w = wp;
    w->out = out;
    (void)sk_matcher_run(w->m, ev, on_hit, w);
    return w->st;
}

static sk_status put(void *ctx, const sk_sort_key *key, const char *data, size_t n)
{
    hunt_ctx *h = ctx;
    uint32_t ri;
    n -= sizeof ri;
    memcpy(&ri, data + n, sizeof ri); // on_hit put it last
    sk_status st = sk_sink_put(h->sink, key, data, n);
    if (st == SK_OK) {
        sk_level lv = sk_rule_level(sk_ruleset_rule(h->rs, ri));
        h->hits++;
        h->by_level[lv]++;
        h->by_rule[ri]++;
        if (sk_level_rank(lv) >= h->fail_level)
            h->failing_hits++;
    }
    h->written++;
    return st;
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
            "saker: rules: %zu loaded%s, %zu skipped, %zu selected\n",
            sk_ruleset_loaded_count(rs),
            sk_ruleset_cached(rs) ? " (cached)" : "",
            sk_ruleset_skipped_count(rs),
            sk_ruleset_enabled_count(rs));
    size_t nrules = sk_ruleset_count(rs), with_hits = 0;
    for (size_t i = 0; i < nrules; i++)
        with_hits += h->by_rule[i] != 0;
    fprintf(fp,
            "saker: hits: %lu (critical %lu, high %lu, medium %lu, low %lu, informational %lu) "
            "from %zu rules\n",
            h->hits,
            h->by_level[SK_LEVEL_CRITICAL],
            h->by_level[SK_LEVEL_HIGH],
            h->by_level[SK_LEVEL_MEDIUM],
            h->by_level[SK_LEVEL_LOW],
            h->by_level[SK_LEVEL_INFORMATIONAL] + h->by_level[SK_LEVEL_UNKNOWN],
            with_hits);
    // The ten rules with most hits (ties: load order), without sorting all of them.
    bool *shown = calloc(nrules ? nrules : 1, sizeof *shown);
    sk_buf tmp; // a rule pack is third-party input: titles are escaped for the terminal
    sk_buf_init(&tmp, 1u << 20);
    for (int k = 0; shown && k < 10; k++) {
        size_t best = nrules;
        for (size_t i = 0; i < nrules; i++)
            if (!shown[i] && h->by_rule[i] && (best == nrules || h->by_rule[i] > h->by_rule[best]))
                best = i;
        if (best == nrules)
            break;
        shown[best] = true;
        const sk_rule *r = sk_ruleset_rule(rs, best);
        fprintf(fp,
                "saker:   %6lu  %-13s  %s\n",
                h->by_rule[best],
                sk_level_str(sk_rule_level(r)),
                sk_text_shown(&tmp, sk_rule_title(r)));
    }
    sk_buf_fini(&tmp);
    free(shown);
}

int sk_cmd_hunt(int argc, char **argv)
{
    sk_cli_opts o;
    const char **paths = NULL;
    size_t npaths = 0;
    sk_ruleset *rs = NULL;
    sk_sink *sink = NULL;
    unsigned long *by_rule = NULL;
    sk_report rep;
    bool rep_init = false;
    sk_out out;
    int rc = sk_cli_parse(argc, argv, 2, SK_CMD_HUNT, "hunt", &o, &paths, &npaths);
    if (rc)
        goto done;
    if (o.help) {
        sk_cli_usage(SK_CMD_HUNT,
                     "hunt",
                     "[options] PATH...",
                     "Run detection rules (Sigma, Elastic EQL) over every event of the inputs and\n"
                     "print the hits. PATH may be an evtx or NDJSON file (format detected from\n"
                     "content), a folder (walked recursively), or - for standard input.\n"
                     "Exit status: 0 no hits, 1 hits, 2 failure; 4 is added when input was "
                     "skipped.");
        rc = 0;
        goto done;
    }
    if ((rc = sk_cli_check_inputs("hunt", paths, npaths)) != 0)
        goto done;
    sk_event_filter filter;
    if (!sk_cli_scan_filter("hunt", &o, &filter)) {
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
    if (o.strict && (sk_ruleset_skipped_count(rs) || io_error || rep.fatal)) {
        fputs(sk_ruleset_skipped_count(rs) || io_error
                      ? "saker hunt: stopped: --strict makes rules that cannot be loaded fatal\n"
                      : "saker hunt: stopped: --strict makes warnings about rules fatal\n",
              stderr);
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
    sk_scan scan;
    sk_cli_scan_setup(&scan, &o, &rep, &filter);
    rc = sk_cli_open_output(&out, "hunt", o.output, paths, npaths, &scan);
    if (rc)
        goto done;
    // From here to sk_out_close below there is no jump to done: the output is always closed.
    sink = sk_sink_new(&so, &out);

    by_rule = sk_xcalloc(sk_ruleset_count(rs) + 1, sizeof *by_rule);
    hunt_ctx h = { .rs = rs,
                   .sink = sink,
                   .nrules = sk_ruleset_count(rs),
                   .by_rule = by_rule,
                   .fail_level = SK_LEVEL_UNKNOWN };
    if (o.fail_level)
        (void)sk_level_parse(o.fail_level, &h.fail_level);
    scan.hooks = (sk_scan_hooks){ .worker_new = worker_new,
                                  .worker_free = worker_free,
                                  .on_event = on_event,
                                  .put = put,
                                  .ctx = &h };
    sk_progress prog;
    if (sk_progress_init(&prog, o.progress, &h.written)) {
        scan.progress = sk_progress_report;
        scan.progress_ctx = &prog;
        if (isatty(out.fd)) { // results on the terminal the line is drawn on
            out.before_write = sk_progress_clear;
            out.before_ctx = &prog;
        }
    }

    sk_status st = sk_scan_run(&scan, paths, npaths);
    // A --strict stop still ends the output: a JSON array is closed, sorted hits so far printed.
    bool strict_stop = st == SK_ERR_FORMAT && rep.fatal;
    sk_status est = st == SK_OK || strict_stop ? sk_sink_end(sink) : SK_OK;
    sk_status ost = sk_out_close(&out);
    // A catastrophic regex (e.g. (a+)+$) stops at the match limit and counts as no match; say so
    // rather than hide a rule that silently cannot match (robustness tests).
    if (h.regex_limit && !o.quiet)
        fprintf(stderr,
                "saker hunt: warning: %lu regular-expression evaluations hit the PCRE2 match "
                "limit and counted as no match\n",
                h.regex_limit);
    if (o.stats || (so.format == SK_SINK_TABLE && !o.quiet))
        print_summary(&scan, rs, &h, stderr);
    bool pipe_closed = st == SK_DONE || est == SK_DONE || ost == SK_DONE;
    if (strict_stop) {
        fputs("saker hunt: stopped: --strict makes skipped input fatal\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else if (!pipe_closed && (st == SK_ERR_IO || est == SK_ERR_IO || ost == SK_ERR_IO)) {
        if (sk_sink_error(sink) && !out.error)
            fprintf(stderr, "saker hunt: %s\n", sk_sink_error(sink));
        else
            fprintf(stderr,
                    "saker hunt: cannot write to %s: %s\n",
                    out.name,
                    strerror(out.error ? out.error : EIO));
        rc = SK_EXIT_FAILURE;
    } else if (scan.stats.files_read == 0 && !pipe_closed) {
        // Nothing could be read at all, or nothing was found to read: not a clean result.
        if (!scan.stats.files_failed && !scan.stats.unreadable)
            fputs("saker hunt: no input was read\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else {
        rc = (h.failing_hits ? SK_EXIT_HITS : SK_EXIT_CLEAN) |
             (sk_scan_had_skips(&scan) ? SK_EXIT_SKIPPED : 0);
    }
done:
    sk_sink_free(sink);
    free(by_rule);
    // The process exits next, and the kernel takes the ruleset's memory back at once: freeing
    // SigmaHQ's 2,400 compiled rules piece by piece took 5% of loading them. It stays reachable
    // from here, so leak checkers have nothing to report (git's UNLEAK does the same).
    static sk_ruleset *kept_until_exit;
    sk_ruleset_free(kept_until_exit); // another hunt in the same process
    kept_until_exit = rs;
    if (rep_init)
        sk_report_fini(&rep);
    free(paths);
    sk_cli_opts_fini(&o);
    return rc;
}
