// The parallel scan loop: input order and the bound on buffered output when the workers run
// ahead of a slow file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <unistd.h>

#include "cli/report.h"
#include "cli/scan.h"
#include "helpers.h"

#define NFILES 40

typedef struct fixture {
    char dir[64];
    char *paths[NFILES];
} fixture;

// NFILES one-line NDJSON files, file i holding {"n":"i"}.
static void make_files(fixture *fx)
{
    strcpy(fx->dir, "/tmp/sk-scan-XXXXXX");
    cr_assert_not_null(mkdtemp(fx->dir));
    for (int i = 0; i < NFILES; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s/f%02d.json", fx->dir, i);
        FILE *fp = fopen(p, "w");
        cr_assert_not_null(fp);
        fprintf(fp, "{\"event_id\":1,\"n\":\"%d\"}\n", i);
        fclose(fp);
        fx->paths[i] = strdup(p);
    }
}

static void drop_files(fixture *fx)
{
    for (int i = 0; i < NFILES; i++) {
        unlink(fx->paths[i]);
        free(fx->paths[i]);
    }
    rmdir(fx->dir);
}

typedef struct run {
    unsigned recs_per_file;   // records each file after the first adds
    size_t rec_len;           // bytes of each record's data
    bool wait_for_others;     // file 0 waits until every other file's event was seen
    size_t wait_for_bytes;    // else file 0 waits until the others added this many bytes
    int others_seen;          // events of files 1.. (atomic)
    size_t others_bytes;      // bytes they added, counted as the scan counts them (atomic)
    size_t others_bytes_at_0; // others_bytes when file 0 went on
    int out[NFILES * 16 + 1]; // file of each record put, in order
    int out_rec[NFILES * 16 + 1];
    size_t nout;
    sk_report *rep;     // the scan's
    unsigned bad_lines; // invalid lines before file 0's event
    bool warned_before; // file 0's event came after the report had all their warnings
    // The walk (scan_paths: the paths given instead of the fixture's, pending: pending_tasks)
    const char **scan_paths;
    size_t nscan_paths;
    size_t pending;
    const sk_scan *scan;            // with one thread: read by on_event
    long ahead_max;                 // most files the walk had added past the file being read
    long total_at_0;                // files the walk had added when file 0 was read
    unsigned long diags_at[NFILES]; // diagnostics reported when file i's first record was put
} run;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static run *the_run; // the hooks' worker state is NULL: the test's run is global

static sk_status add_records(const sk_event *ev, sk_scan_out *out)
{
    run *r = the_run;
    const char *n = sk_event_get(ev, "n");
    cr_assert_not_null(n);
    int file = atoi(n);
    if (r->scan) {
        long ahead = (long)r->scan->total_files - 1 - file;
        if (ahead > r->ahead_max)
            r->ahead_max = ahead;
        if (file == 0)
            r->total_at_0 = (long)r->scan->total_files;
    }
    if (file == 0) {
        r->warned_before = r->bad_lines == 0 ||
                           (r->rep->nreasons == 1 && r->rep->reasons[0].n == r->bad_lines);
        double t0 = now();
        for (;;) {
            if (r->wait_for_others &&
                __atomic_load_n(&r->others_seen, __ATOMIC_SEQ_CST) == NFILES - 1)
                break;
            if (!r->wait_for_others &&
                __atomic_load_n(&r->others_bytes, __ATOMIC_SEQ_CST) >= r->wait_for_bytes)
                break;
            if (now() - t0 > 10)
                break;
            sleep_ms(5);
        }
        if (!r->wait_for_others)
            sleep_ms(300); // time for the other worker to go past its budget, if it would
        r->others_bytes_at_0 = __atomic_load_n(&r->others_bytes, __ATOMIC_SEQ_CST);
    }
    unsigned nrec = file == 0 ? 1 : r->recs_per_file;
    char *data = calloc(1, r->rec_len);
    cr_assert_not_null(data);
    sk_status st = SK_OK;
    for (unsigned i = 0; i < nrec && st == SK_OK; i++) {
        snprintf(data, r->rec_len, "%d %u", file, i);
        sk_sort_key key = { 0 };
        if (file != 0)
            __atomic_add_fetch(
                    &r->others_bytes, sizeof key + sizeof(uint64_t) + r->rec_len, __ATOMIC_SEQ_CST);
        st = sk_scan_out_add(out, &key, data, r->rec_len);
    }
    free(data);
    if (file != 0)
        __atomic_add_fetch(&r->others_seen, 1, __ATOMIC_SEQ_CST);
    return st;
}

static sk_status put(void *ctx, const sk_sort_key *key, const char *data, size_t n)
{
    (void)key;
    run *r = ctx;
    cr_assert(n > 0);
    int file = 0;
    unsigned rec = 0;
    cr_assert_eq(sscanf(data, "%d %u", &file, &rec), 2);
    cr_assert_lt(r->nout, sizeof r->out / sizeof r->out[0]);
    if (rec == 0 && file >= 0 && file < NFILES)
        r->diags_at[file] = r->rep->nreasons ? r->rep->reasons[0].n : 0;
    r->out[r->nout] = file;
    r->out_rec[r->nout] = (int)rec;
    r->nout++;
    return SK_OK;
}

static sk_status on_event(void *w, const sk_event *ev, sk_scan_out *out)
{
    (void)w;
    return add_records(ev, out);
}

// A scan of the fixture's hooks on run r, reporting to rep (its other settings zero).
static void scan_init(sk_scan *s, run *r, sk_report *rep, unsigned jobs)
{
    memset(s, 0, sizeof *s);
    s->report = rep;
    s->jobs = jobs;
    s->hooks.on_event = on_event;
    s->hooks.put = put;
    s->hooks.ctx = r;
    the_run = r;
}

// Replaces file k of the fixture with text.
static void rewrite(fixture *fx, int k, const char *text)
{
    FILE *fp = fopen(fx->paths[k], "w");
    cr_assert_not_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void scan(fixture *fx, run *r, unsigned jobs, size_t buffer_bytes)
{
    sk_report rep;
    sk_report_init(&rep, true, false);
    rep.fp = fopen("/dev/null", "w"); // errors are shown even when quiet
    cr_assert_not_null(rep.fp);
    r->rep = &rep;
    sk_scan s;
    scan_init(&s, r, &rep, jobs);
    s.buffer_bytes = buffer_bytes;
    s.pending_tasks = r->pending;
    if (jobs == 1)
        r->scan = &s;
    const char *const *paths = r->scan_paths ? r->scan_paths : (const char *const *)fx->paths;
    size_t npaths = r->scan_paths ? r->nscan_paths : NFILES;
    cr_assert_eq(sk_scan_run(&s, paths, npaths), SK_OK);
    cr_assert(s.walked);
    cr_assert_eq(s.total_files, NFILES);
    cr_assert_eq(s.stats.files_read, NFILES);
    cr_assert_eq(s.stats.events, NFILES);
    cr_assert_eq(s.stats.lines_skipped, r->bad_lines);
    r->rep = NULL;
    r->scan = NULL;
    fclose(rep.fp);
    sk_report_fini(&rep);
}

// Records reach put in input order: file by file, each file's in the order added.
static void assert_in_order(const run *r)
{
    cr_assert_eq(r->nout, 1 + (NFILES - 1) * (size_t)r->recs_per_file);
    cr_assert_eq(r->out[0], 0);
    for (size_t i = 1; i < r->nout; i++) {
        int want_file = 1 + (int)((i - 1) / r->recs_per_file);
        int want_rec = (int)((i - 1) % r->recs_per_file);
        cr_assert_eq(
                r->out[i], want_file, "record %zu: file %d, expected %d", i, r->out[i], want_file);
        cr_assert_eq(r->out_rec[i], want_rec);
    }
}

static run *new_run(unsigned recs_per_file, size_t rec_len)
{
    run *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->recs_per_file = recs_per_file;
    r->rec_len = rec_len;
    return r;
}

static void done(fixture *fx, run *r)
{
    assert_in_order(r);
    free(r);
    drop_files(fx);
}

Test(scan, a_slow_file_does_not_hold_back_the_files_after_it)
{
    // File 0 goes on only once the other worker has read all 39 files after it: with a window
    // of a few tasks ahead of the head (the old rule), it would stop at the eighth and file 0
    // would give up waiting after 10 s with fewer seen.
    fixture fx;
    make_files(&fx);
    run *r = new_run(1, 16);
    r->wait_for_others = true;
    scan(&fx, r, 2, 0);
    cr_assert_eq(r->others_bytes_at_0, (NFILES - 1) * (sizeof(sk_sort_key) + 8 + 16));
    cr_assert_eq(r->others_seen, NFILES - 1);
    done(&fx, r);
    SK_ASSERT_NO_LEAKS();
}

Test(scan, buffered_output_stays_within_its_budget)
{
    // 39 files of 16 records of 1 KiB behind a slow file 0, with a 64 KiB budget: the other
    // worker adds records until the buffered bytes reach the budget, then waits for its turn.
    // It must have added at least the budget (it ran ahead) and less than one record more.
    fixture fx;
    make_files(&fx);
    run *r = new_run(16, 1024);
    size_t budget = 64 << 10;
    r->wait_for_bytes = budget;
    scan(&fx, r, 2, budget);
    size_t rec = sizeof(sk_sort_key) + 8 + 1024;
    cr_assert_geq(r->others_bytes_at_0, budget);
    cr_assert_lt(r->others_bytes_at_0,
                 budget + rec,
                 "buffered %zu bytes, budget %zu",
                 r->others_bytes_at_0,
                 budget);
    cr_assert_eq(r->others_seen, NFILES - 1);
    done(&fx, r);
    SK_ASSERT_NO_LEAKS();
}

Test(scan, the_head_file_reports_its_diagnostics_as_they_come)
{
    // File 0 (the head, with one thread or two) starts with 1000 invalid lines: each warning
    // reaches the report before the scan goes on, instead of waiting in memory for a record or
    // the end of the file (a file of millions of bad lines would otherwise hold them all).
    for (unsigned jobs = 1; jobs <= 2; jobs++) {
        fixture fx;
        make_files(&fx);
        FILE *fp = fopen(fx.paths[0], "w");
        cr_assert_not_null(fp);
        for (int i = 0; i < 1000; i++)
            fputs("{\"event_id\": 1, broken}\n", fp);
        fputs("{\"event_id\":1,\"n\":\"0\"}\n", fp);
        fclose(fp);
        run *r = new_run(1, 16);
        r->wait_for_others = jobs > 1;
        r->bad_lines = 1000;
        scan(&fx, r, jobs, 0);
        cr_assert(r->warned_before, "-j %u: the warnings waited", jobs);
        done(&fx, r);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(scan, the_walk_runs_beside_the_scan_a_few_files_ahead)
{
    // With pending_tasks 8 and one thread, the walk adds 8 files and then reads the first before
    // it adds the ninth: memory does not grow with the number of files, and the output starts
    // before the walk ends. A walk done in full first would have added all 40.
    fixture fx;
    make_files(&fx);
    run *r = new_run(1, 16);
    r->pending = 8;
    scan(&fx, r, 1, 0);
    cr_assert_eq(r->total_at_0, 8);
    cr_assert_eq(r->ahead_max, 7);
    done(&fx, r);
    SK_ASSERT_NO_LEAKS();
}

Test(scan, what_the_walk_reports_comes_out_between_the_files_around_it)
{
    // A missing path between files 9 and 10: its error reaches the report after the records of
    // file 9 and before those of file 10, with one thread or two, however far the walk ran ahead.
    for (unsigned jobs = 1; jobs <= 2; jobs++) {
        fixture fx;
        make_files(&fx);
        const char *paths[NFILES + 1];
        char missing[128];
        snprintf(missing, sizeof missing, "%s/missing.json", fx.dir);
        for (int i = 0, k = 0; i < NFILES; i++) {
            paths[k++] = fx.paths[i];
            if (i == 9)
                paths[k++] = missing;
        }
        run *r = new_run(1, 16);
        r->scan_paths = paths;
        r->nscan_paths = NFILES + 1;
        r->pending = 4;
        scan(&fx, r, jobs, 0);
        for (int i = 0; i < NFILES; i++)
            cr_assert_eq(r->diags_at[i],
                         i < 10 ? 0u : 1u,
                         "-j %u: file %d saw %lu",
                         jobs,
                         i,
                         r->diags_at[i]);
        done(&fx, r);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(scan, a_scan_stopped_before_it_begins_still_reports_what_the_walk_finds)
{
    // --strict and something already reported (saker test runs case after case on one report):
    // no file is read, and a missing path is still reported, as when the walk ran before the scan.
    fixture fx;
    make_files(&fx);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/missing.json", fx.dir);
    const char *paths[] = { fx.paths[0], missing, fx.paths[1] };
    run *r = new_run(1, 16);
    sk_report rep;
    sk_report_init(&rep, true, true);
    rep.fp = fopen("/dev/null", "w");
    cr_assert_not_null(rep.fp);
    rep.fatal = true;
    r->rep = &rep;
    for (unsigned jobs = 1; jobs <= 2; jobs++) {
        sk_scan s;
        scan_init(&s, r, &rep, jobs);
        cr_assert_eq(sk_scan_run(&s, paths, 3), SK_ERR_FORMAT);
        cr_assert_eq(s.stats.files_read, 0);
        cr_assert_eq(s.stats.unreadable, 1);
        cr_assert_eq(r->nout, 0);
        cr_assert_eq(rep.nreasons, 1);
        cr_assert_str_eq(rep.reasons[0].code, "open-failed");
        cr_assert_eq(rep.reasons[0].n, jobs);
    }
    fclose(rep.fp);
    sk_report_fini(&rep);
    free(r);
    drop_files(&fx);
    SK_ASSERT_NO_LEAKS();
}

Test(scan, a_file_read_ahead_keeps_its_records_and_warnings_in_order)
{
    // File 1 holds an event and then an invalid line; it is read by the second worker while file
    // 0 waits, so both wait in memory. They must come out as -j 1 gives them: the record, then
    // the warning. The warning first would make --strict stop before the record (and a terminal
    // showing both streams would differ from -j 1). Without --strict, the record of file 1 is
    // put before its warning reaches the report; with it, the run stops right after that record.
    for (int strict = 0; strict <= 1; strict++) {
        fixture fx;
        make_files(&fx);
        rewrite(&fx, 1, "{\"event_id\":1,\"n\":\"1\"}\n{\"event_id\": 1, broken}\n");
        run *r = new_run(1, 16);
        r->wait_for_others = true;
        sk_report rep;
        sk_report_init(&rep, true, strict);
        rep.fp = fopen("/dev/null", "w");
        cr_assert_not_null(rep.fp);
        r->rep = &rep;
        sk_scan s;
        scan_init(&s, r, &rep, 2);
        cr_assert_eq(sk_scan_run(&s, (const char *const *)fx.paths, NFILES),
                     strict ? SK_ERR_FORMAT : SK_OK);
        cr_assert_eq(r->diags_at[1], 0, "file 1's warning came before its record");
        if (strict) {
            cr_assert_eq(r->nout, 2, "%zu records before the stop, expected 2", r->nout);
            cr_assert_eq(r->out[0], 0);
            cr_assert_eq(r->out[1], 1);
        } else {
            cr_assert_eq(r->diags_at[2], 1);
            assert_in_order(r);
        }
        cr_assert_eq(rep.nreasons, 1);
        cr_assert_eq(rep.reasons[0].n, 1);
        fclose(rep.fp);
        sk_report_fini(&rep);
        free(r);
        drop_files(&fx);
    }
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// A large file read in parts (-j 2) whose name changes while it is read: every part reads the
// file that was split (a log rotated away, or deleted, is still read whole), and a file cut short
// under the parts planned on its old size is reported, not read as empty parts.

#define SPLIT_LINES 44000 // lines of about 1 KB: over the 32 MiB a file is split from

typedef struct split_run {
    const char *path;    // the file read
    const char *other;   // what is renamed onto its name at its first event (NULL: none)
    off_t truncate_to;   // else the size it is cut to then (0: none)
    const char *cut;     // the file truncated (NULL: path)
    const char *second;  // a second file scanned after path (NULL: none)
    size_t pending;      // sk_scan.pending_tasks (0: default)
    unsigned long seen;  // events (atomic)
    bool fired;          // the change was made (atomic)
} split_run;

static split_run *the_split;

// Waits (up to 10 s) until this process has path open: the scan holds a file it splits.
static void wait_held_open(const char *path)
{
    for (int tries = 0; tries < 1000; tries++) {
        DIR *d = opendir("/proc/self/fd");
        cr_assert_not_null(d);
        struct dirent *de;
        bool held = false;
        while (!held && (de = readdir(d)) != NULL) {
            char link[300], target[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                held = strcmp(target, path) == 0;
            }
        }
        closedir(d);
        if (held)
            return;
        usleep(10000);
    }
    cr_assert_fail("the scan never opened %s", path);
}

static sk_status split_event(void *w, const sk_event *ev, sk_scan_out *out)
{
    (void)w;
    (void)out;
    split_run *r = the_split;
    __atomic_fetch_add(&r->seen, 1, __ATOMIC_SEQ_CST);
    if (strcmp(ev->file, r->path) == 0 &&
        !__atomic_exchange_n(&r->fired, true, __ATOMIC_SEQ_CST)) {
        // The first event of the file, of part 0 or part 1: both workers are on those two parts
        // until one of them is done, so no later part (and no part of a second file) has been
        // opened yet.
        if (r->other)
            cr_assert_eq(rename(r->other, r->path), 0);
        else if (r->truncate_to || r->cut) {
            // A second file is cut once the walk holds it (split into parts): on a loaded
            // machine the walk may not have reached it yet at the first file's first event.
            if (r->cut && r->cut != r->path)
                wait_held_open(r->cut);
            cr_assert_eq(truncate(r->cut ? r->cut : r->path, r->truncate_to), 0);
        }
    }
    return SK_OK;
}

static sk_status split_put(void *ctx, const sk_sort_key *key, const char *data, size_t n)
{
    (void)ctx;
    (void)key;
    (void)data;
    (void)n;
    return SK_OK;
}

static void write_split_file(const char *path)
{
    char pad[1001];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    for (int i = 0; i < SPLIT_LINES; i++)
        fprintf(fp, "{\"event_id\":1,\"i\":%d,\"pad\":\"%s\"}\n", i, pad);
    fclose(fp);
}

static void split_scan(split_run *r, sk_scan *s, sk_report *rep)
{
    write_split_file(r->path);
    if (r->second)
        write_split_file(r->second);
    sk_report_init(rep, true, false);
    rep->fp = fopen("/dev/null", "w");
    cr_assert_not_null(rep->fp);
    memset(s, 0, sizeof *s);
    s->report = rep;
    s->jobs = 2;
    s->hooks.on_event = split_event;
    s->hooks.put = split_put;
    s->pending_tasks = r->pending;
    the_split = r;
    const char *paths[] = { r->path, r->second };
    cr_assert_eq(sk_scan_run(s, paths, r->second ? 2 : 1), SK_OK);
}

// A temporary folder for a split test, and path = dir/name in it.
static void split_dir(char *dir, char *path, size_t n, const char *name)
{
    strcpy(dir, "/tmp/sk-split-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, n, "%s/%s", dir, name);
}

static void split_done(sk_report *rep, const char *dir, const split_run *r)
{
    fclose(rep->fp);
    sk_report_fini(rep);
    unlink(r->path);
    if (r->second)
        unlink(r->second);
    if (r->other)
        unlink(r->other); // renamed over path already, unless the test failed before
    rmdir(dir);
    SK_ASSERT_NO_LEAKS();
}

Test(scan, a_split_file_renamed_over_is_read_whole)
{
    char dir[32], path[64], other[64];
    split_dir(dir, path, sizeof path, "big.ndjson");
    snprintf(other, sizeof other, "%s/new.ndjson", dir);
    FILE *fo = fopen(other, "w");
    cr_assert_not_null(fo);
    fputs("{\"event_id\":2}\n", fo);
    fclose(fo);
    split_run r = { .path = path, .other = other };
    sk_scan s;
    sk_report rep;
    split_scan(&r, &s, &rep);
    cr_expect_eq(s.stats.events, SPLIT_LINES);
    cr_expect_eq(r.seen, SPLIT_LINES);
    cr_expect_eq(s.stats.files_read, 1);
    cr_expect_eq(s.stats.files_damaged, 0);
    cr_expect_eq(rep.nreasons, 0);
    split_done(&rep, dir, &r);
}

Test(scan, a_split_file_cut_short_while_read_is_reported_damaged)
{
    char dir[32], path[64];
    split_dir(dir, path, sizeof path, "big.ndjson");
    split_run r = { .path = path, .truncate_to = 20 << 20 };
    sk_scan s;
    sk_report rep;
    split_scan(&r, &s, &rep);
    cr_expect_lt(s.stats.events, SPLIT_LINES);
    cr_expect_eq(s.stats.files_read, 1);
    cr_expect_eq(s.stats.files_damaged, 1);
    bool changed = false;
    for (size_t i = 0; i < rep.nreasons; i++)
        changed = changed || strcmp(rep.reasons[i].code, "file-changed") == 0;
    cr_expect(changed, "no file-changed error");
    split_done(&rep, dir, &r);
}

Test(scan, a_split_file_added_part_by_part_is_held_to_its_last_part)
{
    // One task pending at a time: the walk adds part k + 1 only when part k is done, so every
    // part added so far can finish while the walk waits. The file must stay held (and open)
    // until the walk has added the last part.
    char dir[32], path[64];
    split_dir(dir, path, sizeof path, "big.ndjson");
    split_run r = { .path = path, .pending = 1 };
    sk_scan s;
    sk_report rep;
    split_scan(&r, &s, &rep);
    cr_expect_eq(s.stats.events, SPLIT_LINES);
    cr_expect_eq(s.stats.files_damaged, 0);
    cr_expect_eq(rep.nreasons, 0);
    split_done(&rep, dir, &r);
}

Test(scan, a_split_file_emptied_before_it_is_read_is_skipped_not_damaged)
{
    // The second file is emptied (copytruncate) while the first is read: none of its parts can
    // be read, so it is one file skipped, not a damaged one as well.
    char dir[32], path[64], second[64];
    split_dir(dir, path, sizeof path, "a.ndjson");
    snprintf(second, sizeof second, "%s/b.ndjson", dir);
    split_run r = { .path = path, .second = second, .cut = second, .truncate_to = 0 };
    sk_scan s;
    sk_report rep;
    split_scan(&r, &s, &rep);
    cr_expect_eq(s.stats.events, SPLIT_LINES);
    cr_expect_eq(s.stats.files_read, 1);
    cr_expect_eq(s.stats.files_failed, 1);
    cr_expect_eq(s.stats.files_damaged, 0);
    cr_expect_eq(rep.nreasons, 1);
    cr_expect_str_eq(rep.reasons[0].code, "file-changed");
    split_done(&rep, dir, &r);
}
