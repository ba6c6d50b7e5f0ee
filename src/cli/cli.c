// Subcommand dispatch, --version, top-level --help, and the option-value handling shared by all
// subcommands.
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "input/input.h"
#include "output/out.h"
#include "rules/ruleset.h"
#include "scan.h"

#ifndef SK_VERSION
#define SK_VERSION "0.1.0"
#endif

static void push(const char ***list, size_t *n, const char *v)
{
    *list = sk_xrealloc((void *)*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = v;
}

// Splits "a,b,c" into the list (the pieces are leaked into a small owned copy kept in the list's
// last slot? no: each piece is a fresh heap string freed by sk_cli_opts_fini).
static void push_csv(const char ***list, size_t *n, const char *v)
{
    const char *p = v;
    while (*p) {
        size_t k = strcspn(p, ",");
        if (k)
            push(list, n, sk_xstrndup(p, k));
        p += k;
        if (*p == ',')
            p++;
    }
}

// A level as rules write it, in any case (--tag and --channel take any case too).
static const char *level_ok(const char *v)
{
    sk_level lv;
    return sk_level_parse(v, &lv) ? NULL
                                  : "unknown level (use informational, low, medium, high or critical)";
}

// The statuses of Sigma's specification, in any case (a misspelt one would select no rule).
static const char *statuses_ok(const char *const *v, size_t n)
{
    static const char *const known[] = { "stable", "test", "experimental", "deprecated",
                                         "unsupported" };
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            ok |= strcasecmp(v[i], known[k]) == 0;
        if (!ok)
            return "unknown status (use stable, test, experimental, deprecated or unsupported)";
    }
    return NULL;
}

static const char *when_ok(const char *v)
{
    if (strcmp(v, "auto") == 0 || strcmp(v, "always") == 0 || strcmp(v, "never") == 0)
        return NULL;
    return "use auto, always or never";
}

static const char *zone_ok(const char *v)
{
    if (!v || !*v)
        return "name a time zone";
    if (strcasecmp(v, "UTC") == 0 || strcmp(v, "local") == 0)
        return NULL;
    // A named zone must exist in the system's zone database (glibc silently falls back to UTC).
    char path[4096];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", v);
    struct stat sb;
    if (strstr(v, "..") == NULL && stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        return NULL;
    return "unknown time zone (use UTC, local, or a name from /usr/share/zoneinfo such as "
           "Europe/Berlin)";
}

static const char *time_ok(const char *v)
{
    uint64_t t;
    if (sk_cli_parse_time(v, false, &t))
        return NULL;
    return "not a time (use ISO-8601: 2024-05-01, 2024-05-01T10:00:00Z, 2024-05-01 10:00:00+02:00)";
}

bool sk_cli_parse_time(const char *v, bool end_of_day, uint64_t *out)
{
    size_t n = strlen(v);
    if (n == 10) {
        // A date alone: its start (--from) or the start of the next day (--to, exclusive).
        char full[32];
        snprintf(full, sizeof full, "%sT00:00:00Z", v);
        if (!sk_time_parse(full, strlen(full), out))
            return false;
        if (end_of_day)
            *out += 864000000000ULL;
        return true;
    }
    return sk_time_parse(v, n, out);
}

bool sk_cli_want_color(const char *when, int fd)
{
    if (when && strcmp(when, "always") == 0)
        return true;
    if (when && strcmp(when, "never") == 0)
        return false;
    const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");
    if (nc && *nc)
        return false;
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fd);
}

bool sk_cli_scan_filter(const char *cmd, const sk_cli_opts *o, sk_event_filter *f)
{
    memset(f, 0, sizeof *f);
    if (o->from)
        f->has_from = sk_cli_parse_time(o->from, false, &f->from);
    if (o->to)
        f->has_to = sk_cli_parse_time(o->to, true, &f->to);
    if (f->has_from && f->has_to && f->from >= f->to) {
        fprintf(stderr, "saker %s: --from %s is not before --to %s\n", cmd, o->from, o->to);
        return false;
    }
    f->channels = o->channels;
    f->nchannels = o->nchannels;
    f->event_ids = o->event_ids;
    f->nevent_ids = o->nevent_ids;
    return true;
}

void sk_cli_scan_setup(sk_scan *scan,
                       const sk_cli_opts *o,
                       sk_report *rep,
                       const sk_event_filter *f)
{
    memset(scan, 0, sizeof *scan);
    scan->reader_opts.recovered = o->recovered;
    scan->reader_opts.evtx_reader = o->libevtx ? SK_EVTX_READER_LIBEVTX : SK_EVTX_READER_NATIVE;
    scan->walk_opts.exts = o->nexts ? o->exts : NULL;
    scan->walk_opts.nexts = o->nexts;
    scan->walk_opts.include = o->include;
    scan->walk_opts.ninclude = o->ninclude;
    scan->walk_opts.exclude = o->exclude;
    scan->walk_opts.nexclude = o->nexclude;
    scan->report = rep;
    scan->filter = *f;
    scan->jobs = o->jobs ? o->jobs : sk_scan_default_jobs();
}

int sk_cli_check_inputs(const char *cmd, const char *const *paths, size_t npaths)
{
    if (npaths == 0) {
        fprintf(stderr,
                "saker %s: no input given (see 'saker %s --help'); use - for standard input\n",
                cmd,
                cmd);
        return SK_EXIT_FAILURE;
    }
    // Standard input can be read once: a second '-' would get what the first left over (or,
    // with threads, part of it), so the output would depend on -j.
    size_t stdin_paths = 0;
    for (size_t i = 0; i < npaths; i++)
        stdin_paths += strcmp(paths[i], "-") == 0;
    if (stdin_paths > 1) {
        fprintf(stderr,
                "saker %s: standard input ('-') given more than once; it can be read once\n",
                cmd);
        return SK_EXIT_FAILURE;
    }
    return 0;
}

const char *sk_cli_output_input(const struct stat *ob,
                                const char *out_real,
                                bool walked,
                                const char *const *paths,
                                size_t npaths)
{
    struct stat pb;
    for (size_t i = 0; i < npaths; i++) {
        bool is_stdin = strcmp(paths[i], "-") == 0;
        if (is_stdin ? fstat(STDIN_FILENO, &pb) != 0 : stat(paths[i], &pb) != 0)
            continue;
        if (pb.st_dev == ob->st_dev && pb.st_ino == ob->st_ino)
            return is_stdin ? " (standard input)" : "";
        if (!is_stdin && S_ISDIR(pb.st_mode) && walked && out_real) {
            char *dir_real = realpath(paths[i], NULL);
            size_t n = dir_real ? strlen(dir_real) : 0;
            bool in_dir = dir_real && strncmp(out_real, dir_real, n) == 0 &&
                          (out_real[n] == '/' || (n == 1 && dir_real[0] == '/'));
            free(dir_real);
            if (in_dir)
                return " (in a folder given)";
        }
    }
    return NULL;
}

int sk_cli_open_output(sk_out *out,
                       const char *cmd,
                       const char *output,
                       const char *const *paths,
                       size_t npaths,
                       sk_scan *scan)
{
    struct stat ob;
    bool to_stdout = !output || strcmp(output, "-") == 0;
    if (!to_stdout && stat(output, &ob) == 0 && S_ISREG(ob.st_mode)) {
        // An existing file that a path names, that standard input is, or that a folder walk
        // would open: opening it (O_TRUNC) would empty the evidence before it is read.
        char *out_real = realpath(output, NULL);
        const char *base = strrchr(output, '/') ? strrchr(output, '/') + 1 : output;
        const char *why = sk_cli_output_input(
                &ob, out_real, sk_walk_opens_name(&scan->walk_opts, base), paths, npaths);
        free(out_real);
        if (why) {
            fprintf(stderr,
                    "saker %s: the output file '%s' is also an input%s; not overwriting it\n",
                    cmd,
                    output,
                    why);
            return SK_EXIT_FAILURE;
        }
    } else if (to_stdout && fstat(STDOUT_FILENO, &ob) == 0 && S_ISREG(ob.st_mode)) {
        // Standard output redirected to a file (only a regular file: /dev/null, a pipe or a
        // terminal can be stdin and stdout at once harmlessly). The shell opened it already, so
        // `> FILE` has emptied it, but `>> FILE` has not: writing to an input would add our
        // lines to the evidence and, read back, make dump never end and hunt count its own
        // hits. An empty file in a walked folder is a new one (as for -o): the walk passes over
        // it; a non-empty one is refused, as -o refuses an existing one, since the walk would
        // otherwise pass over evidence and write into it.
        // Its path, for the folder check, comes from Linux's /proc (elsewhere the walk only
        // passes over it).
        char *out_real = ob.st_size > 0 ? realpath("/proc/self/fd/1", NULL) : NULL;
        const char *base = out_real && strrchr(out_real, '/') ? strrchr(out_real, '/') + 1 : "";
        const char *why = sk_cli_output_input(&ob,
                                       out_real,
                                       out_real && sk_walk_opens_name(&scan->walk_opts, base),
                                       paths,
                                       npaths);
        free(out_real);
        if (why) {
            fprintf(stderr,
                    "saker %s: standard output is also an input%s; not writing to it\n",
                    cmd,
                    why);
            return SK_EXIT_FAILURE;
        }
    }
    if (sk_out_open(out, output) != SK_OK) {
        fprintf(stderr, "saker %s: cannot write '%s': %s\n", cmd, output, strerror(out->error));
        sk_buf_fini(&out->pending);
        return SK_EXIT_FAILURE;
    }
    if (out->regular && fstat(out->fd, &ob) == 0) {
        scan->walk_opts.skip_file = true;
        scan->walk_opts.skip_dev = ob.st_dev;
        scan->walk_opts.skip_ino = ob.st_ino;
    }
    return 0;
}

static const char *apply(void *ctx, sk_opt_id id, const char *v)
{
    sk_cli_opts *o = ctx;
    switch (id) {
    case OPT_HELP:
        o->help = true;
        break;
    case OPT_RULES:
        push(&o->rules, &o->nrules, v);
        break;
    case OPT_BUILTIN:
        o->builtin = true;
        break;
    case OPT_NO_CACHE:
        o->no_cache = true;
        break;
    case OPT_PLACEHOLDERS:
        o->placeholders = v;
        break;
    case OPT_FORMAT:
        if (strcmp(v, "jsonl") != 0 && strcmp(v, "json") != 0 && strcmp(v, "table") != 0 &&
            strcmp(v, "csv") != 0)
            return "unknown format (use table, jsonl, json or csv)";
        o->format = v;
        break;
    case OPT_OUTPUT:
        o->output = v;
        break;
    case OPT_MIN_LEVEL:
        o->min_level = v;
        return level_ok(v);
    case OPT_FAIL_LEVEL:
        o->fail_level = v;
        return level_ok(v);
    case OPT_STATUS:
        push_csv(&o->statuses, &o->nstatuses, v);
        return statuses_ok(o->statuses, o->nstatuses);
    case OPT_TAG:
        push(&o->tags, &o->ntags, v);
        break;
    case OPT_RULE_ID:
        push(&o->rule_ids, &o->nrule_ids, v);
        break;
    case OPT_RECOVERED:
        o->recovered = true;
        break;
    case OPT_EXT:
        push_csv(&o->exts, &o->nexts, v);
        break;
    case OPT_INCLUDE:
        push(&o->include, &o->ninclude, v);
        break;
    case OPT_EXCLUDE:
        push(&o->exclude, &o->nexclude, v);
        break;
    case OPT_SORT:
        if (strcmp(v, "time") != 0 && strcmp(v, "level") != 0 && strcmp(v, "rule") != 0)
            return "unknown sort key (use time, level or rule)";
        o->sort = v;
        break;
    case OPT_TIMEZONE:
        o->timezone = v;
        return zone_ok(v);
    case OPT_COLOR:
        o->color = v;
        return when_ok(v);
    case OPT_PROGRESS:
        o->progress = v;
        return when_ok(v);
    case OPT_FROM:
        o->from = v;
        return time_ok(v);
    case OPT_TO:
        o->to = v;
        return time_ok(v);
    case OPT_CHANNEL:
        push(&o->channels, &o->nchannels, v);
        break;
    case OPT_EVENT_ID:
        push_csv(&o->event_ids, &o->nevent_ids, v);
        for (size_t i = 0; i < o->nevent_ids; i++) {
            char *end;
            unsigned long eid = strtoul(o->event_ids[i], &end, 10);
            if (*end || eid > 65535 || !o->event_ids[i][0])
                return "not an event id (a number from 0 to 65535)";
        }
        break;
    case OPT_JOBS: {
        char *end;
        unsigned long j = strtoul(v, &end, 10);
        if (!*v || *end || j < 1 || j > 256)
            return "not a number of threads (1 to 256)";
        o->jobs = (unsigned)j;
        break;
    }
    case OPT_EVTX_READER:
        if (strcmp(v, "native") == 0)
            o->libevtx = false;
        else if (strcmp(v, "libevtx") == 0)
            o->libevtx = true;
        else
            return "unknown evtx reader (use native or libevtx)";
        break;
    case OPT_JUNIT:
        o->junit = v;
        break;
    case OPT_JSON:
        o->json = true;
        break;
    case OPT_STATS:
        o->stats = true;
        break;
    case OPT_STRICT:
        o->strict = true;
        break;
    case OPT_QUIET:
        o->quiet = true;
        break;
    }
    return NULL;
}

int sk_cli_parse(int argc,
                 char **argv,
                 int first,
                 unsigned cmd,
                 const char *cmd_name,
                 sk_cli_opts *o,
                 const char ***operands,
                 size_t *noperands)
{
    memset(o, 0, sizeof *o);
    return sk_opt_parse(argc, argv, first, cmd, cmd_name, apply, o, operands, noperands);
}

static void free_list(const char **l, size_t n, bool owned)
{
    if (owned)
        for (size_t i = 0; i < n; i++)
            free((void *)l[i]);
    free((void *)l);
}

void sk_cli_opts_fini(sk_cli_opts *o)
{
    free_list(o->rules, o->nrules, false);
    free_list(o->statuses, o->nstatuses, true);
    free_list(o->tags, o->ntags, false);
    free_list(o->rule_ids, o->nrule_ids, false);
    free_list(o->exts, o->nexts, true);
    free_list(o->include, o->ninclude, false);
    free_list(o->exclude, o->nexclude, false);
    free_list(o->channels, o->nchannels, false);
    free_list(o->event_ids, o->nevent_ids, true);
    memset(o, 0, sizeof *o);
}

void sk_cli_usage(unsigned cmd, const char *cmd_name, const char *synopsis, const char *about)
{
    printf("Usage: saker %s %s\n\n%s\n\nOptions:\n", cmd_name, synopsis, about);
    sk_opt_print_help(stdout, cmd);
}

static void top_help(FILE *fp)
{
    fputs("Usage: saker <command> [options] [PATH...]\n"
          "\n"
          "Hunt for attacker activity in Windows event logs (.evtx) and Winlogbeat NDJSON dumps.\n"
          "\n"
          "Commands:\n"
          "  hunt PATH...           run detection rules over the inputs and print the hits\n"
          "  rules check|list|explain\n"
          "                         load rules and report what loaded, list them, or show\n"
          "                         the compiled form of one\n"
          "  test PATH...           run rule regression tests (saker's NAME.tests.yml files,\n"
          "                         or SigmaHQ's regression_data with -r RULES)\n"
          "  dump PATH...           print every event as one JSON object per line, with the\n"
          "                         field names rules see\n"
          "  completion bash|zsh    print a shell completion script\n"
          "  --version              print the version and exit\n"
          "  --help                 show this help and exit\n"
          "\n"
          "Run 'saker <command> --help' for the options of a command; 'man saker' for details.\n",
          fp);
}

static int dispatch(int argc, char **argv);

static int stdout_errno; // errno of the first failed sk_cli_stdout write

void sk_cli_stdout(const char *p, size_t n)
{
    errno = 0;
    if (fwrite(p, 1, n, stdout) != n && !stdout_errno)
        stdout_errno = errno ? errno : EIO;
}

// Descriptors 0, 1 and 2 must be in use before anything opens a file: open(2) returns the lowest
// free number, so with stderr closed (`2>&-`) the -o file would be descriptor 2 and get the
// warnings, and with stdin closed an input file would be descriptor 0 and '-' would read it. A
// closed one gets /dev/null, opened the other way round (write-only for stdin, read-only for
// stdout and stderr), as gnulib's stdopen does: a read of '-' or a write of results then fails
// with EBADF as it did on the closed descriptor, rather than silently reading nothing or
// discarding the results with exit status 0. false (errno set) when /dev/null cannot be opened.
static bool reserve_std_fds(void)
{
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        // open(2) gives fd itself: it is the lowest free number, as the ones below are in use.
        if (open("/dev/null", fd == STDIN_FILENO ? O_WRONLY : O_RDONLY) < 0)
            return false;
    }
    return true;
}

// What went to standard output through stdio (help, rules list/check/explain, test, completion;
// hunt and dump write through sk_out and report their own errors) must have been written: a full
// disk is exit status 2, a closed pipe is quiet and keeps the status.
int sk_cli_main(int argc, char **argv)
{
    if (!reserve_std_fds()) {
        // Harmless when it is descriptor 2 that is closed: the write fails.
        fprintf(stderr, "saker: cannot open /dev/null: %s\n", strerror(errno));
        return SK_EXIT_FAILURE;
    }
    // Writes to a closed pipe must come back as EPIPE (handled quietly), not kill the process.
    signal(SIGPIPE, SIG_IGN);
    int rc = dispatch(argc, argv);
    errno = 0;
    if (fflush(stdout) == EOF || ferror(stdout)) {
        // A write that failed earlier leaves only stdio's error flag: its errno, if it went
        // through sk_cli_stdout, was kept.
        int e = errno ? errno : stdout_errno;
        if (e != EPIPE) {
            fprintf(stderr,
                    "saker: cannot write to standard output: %s\n",
                    e ? strerror(e) : "a write failed");
            rc = SK_EXIT_FAILURE;
        }
    }
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        top_help(stderr);
        return SK_EXIT_FAILURE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("saker %s\n", SK_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        top_help(stdout);
        return 0;
    }
    if (strcmp(cmd, "dump") == 0)
        return sk_cmd_dump(argc, argv);
    if (strcmp(cmd, "hunt") == 0)
        return sk_cmd_hunt(argc, argv);
    if (strcmp(cmd, "rules") == 0)
        return sk_cmd_rules(argc, argv);
    if (strcmp(cmd, "test") == 0)
        return sk_cmd_test(argc, argv);
    if (strcmp(cmd, "completion") == 0)
        return sk_cmd_completion(argc, argv);
    fprintf(stderr, "saker: unknown command '%s' (see 'saker --help')\n", cmd);
    return SK_EXIT_FAILURE;
}
