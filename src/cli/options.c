// The option table and its parser. Help text below is the one `saker CMD --help` prints; the man
// page is checked against this table by a test.
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define ALL (SK_CMD_HUNT | SK_CMD_DUMP | SK_CMD_RULES | SK_CMD_TEST)
#define SCAN (SK_CMD_HUNT | SK_CMD_DUMP)
#define LOAD (SK_CMD_HUNT | SK_CMD_RULES | SK_CMD_TEST)

const sk_opt_def sk_opt_table[] = {
    { OPT_RULES, 'r', "rules", "PATH", SK_CMD_HUNT | SK_CMD_RULES, true,
      "rule file or folder (repeatable; default: the built-in pack)" },
    // test reads -r for SigmaHQ regression tests only (saker's own tests name their rule).
    { OPT_RULES, 'r', "rules", "PATH", SK_CMD_TEST, true,
      "rules of SigmaHQ regression tests, found by id (repeatable; needed for them)" },
    { OPT_BUILTIN, 0, "builtin", NULL, LOAD, false,
      "also load the built-in rule pack next to -r rules" },
    { OPT_PLACEHOLDERS, 0, "placeholders", "FILE", LOAD, false,
      "YAML map of placeholder name to values, for the Sigma |expand modifier" },
    { OPT_NO_CACHE, 0, "no-cache", NULL, LOAD, false,
      "neither read nor write the compiled-rule cache (see saker(1), FILES)" },
    { OPT_FORMAT, 'f', "format", "FMT", SK_CMD_HUNT, false,
      "output format: table, jsonl, json or csv (default: table on a terminal, else jsonl)" },
    { OPT_SORT, 0, "sort", "KEY", SK_CMD_HUNT, false,
      "order hits by time, level or rule (bounded memory; default: input order)" },
    { OPT_TIMEZONE, 0, "timezone", "ZONE", SK_CMD_HUNT, false,
      "time zone of table and csv times: UTC (default), local, or a zone such as Europe/Berlin" },
    { OPT_COLOR, 0, "color", "WHEN", SK_CMD_HUNT, false,
      "colour the table by level: auto (default; honours NO_COLOR), always or never" },
    { OPT_PROGRESS, 0, "progress", "WHEN", SK_CMD_HUNT | SK_CMD_DUMP, false,
      "progress line on stderr: auto (default: only on a terminal), always or never" },
    { OPT_OUTPUT, 'o', "output", "FILE", SCAN, false, "write results to FILE instead of stdout" },
    { OPT_MIN_LEVEL, 0, "min-level", "LEVEL", SK_CMD_HUNT | SK_CMD_RULES, false,
      "only rules at or above LEVEL (informational, low, medium, high, critical)" },
    { OPT_STATUS, 0, "status", "LIST", SK_CMD_HUNT | SK_CMD_RULES, true,
      "only rules with these statuses (comma-separated: stable,test,experimental,...)" },
    { OPT_TAG, 0, "tag", "TAG", SK_CMD_HUNT | SK_CMD_RULES, true,
      "only rules carrying TAG (repeatable; e.g. attack.t1218.011)" },
    { OPT_RULE_ID, 0, "rule-id", "ID", SK_CMD_HUNT | SK_CMD_RULES, true,
      "only the rule with this id (repeatable)" },
    { OPT_FROM, 0, "from", "TIME", SCAN, false,
      "only events at or after TIME (ISO-8601, e.g. 2024-05-01 or 2024-05-01T10:00:00Z)" },
    { OPT_TO, 0, "to", "TIME", SCAN, false,
      "only events before TIME (a date alone means the end of that day)" },
    { OPT_CHANNEL, 0, "channel", "NAME", SCAN, true,
      "only events of this channel (repeatable; full or short name: Security, Sysmon)" },
    { OPT_EVENT_ID, 0, "event-id", "LIST", SCAN, true,
      "only events with these ids (repeatable, comma-separated)" },
    { OPT_FAIL_LEVEL, 0, "fail-level", "LEVEL", SK_CMD_HUNT, false,
      "exit 1 only for hits at or above LEVEL (default: any hit)" },
    { OPT_RECOVERED, 0, "recovered", NULL, SCAN, false,
      "also read recovered (deleted) evtx records, marked \"recovered\": true" },
    { OPT_EXT, 0, "ext", "LIST", SCAN, true,
      "extensions opened in folder walks (default: evtx,json,jsonl,ndjson and .gz forms)" },
    { OPT_INCLUDE, 0, "include", "GLOB", SCAN, true,
      "in folder walks, open only files matching GLOB (repeatable)" },
    { OPT_EXCLUDE, 0, "exclude", "GLOB", SCAN, true,
      "in folder walks, pass over files and folders matching GLOB (repeatable)" },
    { OPT_JUNIT, 0, "junit", "FILE", SK_CMD_TEST, false,
      "also write the results as JUnit XML to FILE" },
    { OPT_JSON, 0, "json", NULL, SK_CMD_RULES | SK_CMD_TEST, false,
      "print the report as JSON (test: one JSON object per line)" },
    { OPT_EVTX_READER, 0, "evtx-reader", "NAME", SCAN, false,
      "evtx decoder: native (default) or libevtx (the reference library)" },
    { OPT_JOBS, 'j', "jobs", "N", SCAN, false,
      "worker threads (default: one per CPU; also --threads); output is the same for any N" },
    { OPT_STATS, 0, "stats", NULL, SCAN, false,
      "print counts of files, events, hits and skips to stderr at the end" },
    { OPT_STRICT, 0, "strict", NULL, ALL, false,
      "make any unreadable rule, file, record or line fatal (exit 2)" },
    { OPT_QUIET, 'q', "quiet", NULL, ALL, false, "do not print warnings (errors still print)" },
    { OPT_HELP, 'h', "help", NULL, ALL, false, "show this help and exit" },
};
const size_t sk_opt_count = sizeof sk_opt_table / sizeof sk_opt_table[0];

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t c = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t d = prev[j] + 1, e = cur[j - 1] + 1;
            cur[j] = c < d ? (c < e ? c : e) : (d < e ? d : e);
        }
        memcpy(prev, cur, sizeof(size_t) * (lb + 1));
    }
    return prev[lb];
}

static void unknown_option(const char *cmd_name, const char *arg, unsigned cmd)
{
    const char *best = NULL;
    size_t bestd = 3;
    if (arg[0] == '-' && arg[1] == '-') {
        char name[128];
        snprintf(name, sizeof name, "%s", arg + 2);
        name[strcspn(name, "=")] = '\0';
        for (size_t i = 0; i < sk_opt_count; i++) {
            if (!(sk_opt_table[i].cmds & cmd))
                continue;
            size_t d = edit_distance(name, sk_opt_table[i].long_name);
            if (d < bestd) {
                bestd = d;
                best = sk_opt_table[i].long_name;
            }
        }
    }
    if (best)
        fprintf(stderr, "saker %s: unknown option '%s'; did you mean '--%s'? (see 'saker %s --help')\n",
                cmd_name, arg, best, cmd_name);
    else
        fprintf(stderr, "saker %s: unknown option '%s' (see 'saker %s --help')\n", cmd_name, arg,
                cmd_name);
}

// Other names of options, as other tools spell them (DESIGN.md and ripgrep: --threads).
static const struct {
    const char *name;
    const char *is;
} long_aliases[] = { { "threads", "jobs" } };

static const sk_opt_def *find_long(const char *name, size_t n, unsigned cmd)
{
    for (size_t i = 0; i < sizeof long_aliases / sizeof long_aliases[0]; i++)
        if (strlen(long_aliases[i].name) == n && strncmp(long_aliases[i].name, name, n) == 0) {
            name = long_aliases[i].is;
            n = strlen(name);
        }
    for (size_t i = 0; i < sk_opt_count; i++)
        if ((sk_opt_table[i].cmds & cmd) && strlen(sk_opt_table[i].long_name) == n &&
            strncmp(sk_opt_table[i].long_name, name, n) == 0)
            return &sk_opt_table[i];
    return NULL;
}

static const sk_opt_def *find_short(char c, unsigned cmd)
{
    for (size_t i = 0; i < sk_opt_count; i++)
        if ((sk_opt_table[i].cmds & cmd) && sk_opt_table[i].short_name == c)
            return &sk_opt_table[i];
    return NULL;
}

static int apply_one(const sk_opt_def *d,
                     const char *shown,
                     const char *value,
                     const char *cmd_name,
                     unsigned *seen,
                     sk_opt_apply_fn apply,
                     void *ctx)
{
    unsigned bit = 1u << (d->id & 31);
    if (!d->repeatable && (*seen & bit)) {
        fprintf(stderr, "saker %s: option '%s' given more than once\n", cmd_name, shown);
        return 2;
    }
    *seen |= bit;
    const char *msg = apply(ctx, d->id, value);
    if (msg) {
        fprintf(stderr, "saker %s: %s: %s\n", cmd_name, shown, msg);
        return 2;
    }
    return 0;
}

int sk_opt_parse(int argc,
                 char **argv,
                 int first,
                 unsigned cmd,
                 const char *cmd_name,
                 sk_opt_apply_fn apply,
                 void *ctx,
                 const char ***operands,
                 size_t *noperands)
{
    size_t cap = 0;
    unsigned seen = 0;
    bool only_operands = false;
    *operands = NULL;
    *noperands = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (only_operands || a[0] != '-' || strcmp(a, "-") == 0) {
            sk_xgrow((void **)operands, &cap, *noperands + 1, sizeof **operands);
            (*operands)[(*noperands)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_operands = true;
            continue;
        }
        int rc;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const sk_opt_def *d = find_long(name, n, cmd);
            if (!d) {
                unknown_option(cmd_name, a, cmd);
                return 2;
            }
            const char *value = NULL;
            if (d->arg) {
                if (eq) {
                    value = eq + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    fprintf(stderr, "saker %s: option '--%s' needs a value (%s)\n", cmd_name,
                            d->long_name, d->arg);
                    return 2;
                }
            } else if (eq) {
                fprintf(stderr, "saker %s: option '--%s' takes no value\n", cmd_name,
                        d->long_name);
                return 2;
            }
            char shown[80];
            snprintf(shown, sizeof shown, "--%s", d->long_name);
            rc = apply_one(d, shown, value, cmd_name, &seen, apply, ctx);
            if (rc)
                return rc;
            continue;
        }
        // Short options: flags may be grouped (-qh); an option with a value takes the rest of the
        // word (-ojson.txt) or the next word.
        for (const char *p = a + 1; *p; p++) {
            const sk_opt_def *d = find_short(*p, cmd);
            if (!d) {
                char bad[3] = { '-', *p, 0 };
                unknown_option(cmd_name, bad, cmd);
                return 2;
            }
            char shown[8];
            snprintf(shown, sizeof shown, "-%c", *p);
            const char *value = NULL;
            if (d->arg) {
                if (p[1]) {
                    value = p + 1;
                } else if (i + 1 < argc) {
                    value = argv[++i];
                } else {
                    fprintf(stderr, "saker %s: option '-%c' needs a value (%s)\n", cmd_name, *p,
                            d->arg);
                    return 2;
                }
            }
            rc = apply_one(d, shown, value, cmd_name, &seen, apply, ctx);
            if (rc)
                return rc;
            if (d->arg)
                break;
        }
    }
    return 0;
}

void sk_opt_print_help(void *fpv, unsigned cmd)
{
    FILE *fp = fpv;
    for (size_t i = 0; i < sk_opt_count; i++) {
        const sk_opt_def *d = &sk_opt_table[i];
        if (!(d->cmds & cmd))
            continue;
        char left[64];
        if (d->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", d->short_name, d->long_name,
                     d->arg ? " " : "", d->arg ? d->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", d->long_name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        if (strlen(left) <= 24)
            fprintf(fp, "  %-24s  %s\n", left, d->help);
        else
            fprintf(fp, "  %s\n  %-24s  %s\n", left, "", d->help);
    }
}
