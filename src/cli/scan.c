// The scan: tasks (one per input file) run by worker threads, records and diagnostics emitted in
// input order. See scan.h for the contract.
#include "scan.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "input/evtx_native.h"

#define EVTX_HEADER_BYTES 4096u // the file header's block, before the first chunk

// Output (records and diagnostics) that the tasks behind the head of the input order may hold,
// per job up to a total that keeps the peak RSS well under 64 MiB on a machine with many cores,
// unless sk_scan.buffer_bytes says otherwise. A worker runs ahead of the head as far as this
// allows: a slow file does not hold back the files after it (as many as the walk has added).
#define BUFFER_PER_JOB ((size_t)4 << 20)
#define BUFFER_MAX     ((size_t)16 << 20)

// Tasks the walk may add ahead of the output (the head), unless sk_scan.pending_tasks says
// otherwise: the walk runs beside the scan, so memory does not grow with the number of files.
#define PENDING_TASKS 1024
// Records at least this large that are due at once skip the task's buffer (sk_scan_out_add).
#define DIRECT_RECORD_BYTES ((size_t)64 << 10)

// Events a task has read: all, by format, deleted records among them, left out by the filters.
typedef struct ev_counts {
    uint64_t events, evtx, ndjson, recovered, filtered;
} ev_counts;

typedef struct cdiag {
    sk_diag d;       // pointers into the task's text buffer (fixed up at replay)
    bool msg;        // a message about the run (sk_report_msg), not about an input
    size_t rec_at;   // the task's records buffer length when it came: it is emitted after those
    ev_counts ev_at; // the task's event counts when it came
    size_t file_off, msg_off, where_off, src_off, code_off; // offsets into text (SIZE_MAX: NULL)
} cdiag;

// Split files held open at once: the walk runs up to PENDING_TASKS tasks ahead, and each held
// file keeps a descriptor that the inputs after it may need. Past this many, parts open their
// file by name, as they would without /proc.
#define HOLDS_MAX 16u

// A file split into parts, held open from the split on: each part opens it again through
// /proc/self/fd, so that all of them read the file that was split, even if its name is removed
// or given to another file (log rotation) meanwhile. Freed with the last of its parts.
typedef struct file_hold {
    int fd;
    unsigned refs;
    char reopen[40]; // "/proc/self/fd/N"
} file_hold;

typedef struct task {
    char *path;                        // NULL for a note
    file_hold *hold;                   // parts of a split file: the file they read; else NULL
    uint64_t part_first, part_end;     // parts of a split file: their bytes (part_end 0: whole)
    bool note;                         // only diagnostics of the walk, done when added
    uint64_t chunk_first, chunk_count; // a part of a large evtx file (native reader); 0, 0: all
    unsigned part;                     // 0 for a whole file or its first part
    bool last_part;
    // A part of a large NDJSON file: the lines that start in [nd_first, nd_end) (nd_end 0: to the
    // end), part_bytes long. Its line numbers need the newlines before it, which come down the
    // chain of parts: each counts its own bytes first (nl_next: the newlines before the next
    // part, set with nl_ready under the lock; nl_ok false when they could not be counted).
    bool nd_part;
    uint64_t nd_first, nd_end, part_bytes;
    uint64_t nl_next;
    bool nl_ready, nl_ok;
    // Produced by the worker while it runs; read by the emitter only under the lock, and only by
    // another thread once the task is done.
    sk_buf recs;    // [sk_sort_key][uint64_t n][n bytes] ...
    size_t rec_off; // bytes of recs already emitted
    sk_buf text;    // strings of captured diagnostics
    cdiag *diags;
    size_t ndiags, dcap, diag_done;
    bool opened, failed, damaged, done;
    size_t held;       // bytes of records and diagnostics in scan_rt.buffered for this task
    size_t diag_bytes; // of those, the diagnostics' (until they are emitted)
    sk_reader_stats rstats;
    ev_counts ev;
    // A --strict stop came with one of this task's diagnostics: the events counted are those
    // read before it (the reader may read on a little before it sees the stop).
    bool cut;
    ev_counts ev_cut;
} task;

struct worker;

typedef struct scan_rt {
    sk_scan *s;
    // Tasks [head, ntasks) live in a ring (slot ti & ring_mask); the walk adds a task only while
    // fewer than `window` are pending, one less than the ring holds, so the part before a task
    // keeps its slot while that task runs (NDJSON parts read their predecessor's line count).
    task *ring;
    size_t ring_mask, window;
    size_t ntasks;           // tasks added so far
    bool walk_done;          // no more tasks will be added
    struct worker *inline_w; // -j 1: the walk runs the tasks itself, on this worker's state
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;     // next task to take
    size_t head;     // first task not yet fully emitted
    size_t buffered; // bytes captured and not yet emitted, all tasks (atomic)
    size_t budget;   // a worker waits while buffered is at least this, unless it is the head
    unsigned jobs;
    bool damaged_acc; // damage seen in the parts of the file being accounted
    bool opened_acc;  // its first part was opened
    int stopping;     // read without the lock through __atomic loads
    size_t stop_task; // the head task when the scan stopped: its output was being written
    unsigned long records_since_progress;
    unsigned holds; // files held open for their parts (file_hold), at most HOLDS_MAX
} scan_rt;

struct sk_scan_out {
    scan_rt *rt;
    size_t ti;
};

static task *T(scan_rt *rt, size_t ti)
{
    return &rt->ring[ti & rt->ring_mask];
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool is_stopping(scan_rt *rt)
{
    return __atomic_load_n(&rt->stopping, __ATOMIC_RELAXED) != 0;
}

// Called with the lock held.
static void stop_with(scan_rt *rt, sk_status st)
{
    if (!rt->stopping) {
        rt->s->stop = st;
        rt->stop_task = rt->head; // the task being written (stop_with runs while emitting)
        __atomic_store_n(&rt->stopping, 1, __ATOMIC_RELAXED);
        pthread_cond_broadcast(&rt->cv);
    }
}

// ---------------------------------------------------------------------------------------------
// Event filter

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
        if (strncasecmp(p, want, wl) == 0 &&
            (p[wl] == '\0' || strcasecmp(p + wl, "/Operational") == 0))
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

// ---------------------------------------------------------------------------------------------
// Diagnostics captured per task (replayed through the report in input order)

typedef struct capture {
    scan_rt *rt;
    size_t ti;
} capture;

// n more bytes held by task t (its own worker, while it runs).
static void hold(scan_rt *rt, task *t, size_t n)
{
    t->held += n;
    __atomic_add_fetch(&rt->buffered, n, __ATOMIC_RELAXED);
}

static bool over_budget(scan_rt *rt)
{
    return __atomic_load_n(&rt->buffered, __ATOMIC_RELAXED) >= rt->budget;
}

// Task t now holds only what is still to emit (lock held). Wakes the workers that wait for room
// when there is some again (the head's own records count until it emits them).
static void release(scan_rt *rt, task *t)
{
    size_t still = t->recs.n - t->rec_off + (t->diag_done < t->ndiags ? t->diag_bytes : 0);
    if (still < t->held) {
        bool was_over = over_budget(rt);
        __atomic_sub_fetch(&rt->buffered, t->held - still, __ATOMIC_RELAXED);
        t->held = still;
        if (was_over && !over_budget(rt))
            pthread_cond_broadcast(&rt->cv);
    }
}

static size_t put_str(sk_buf *b, const char *s)
{
    if (!s)
        return SIZE_MAX;
    size_t off = b->n;
    sk_buf_put(b, s, strlen(s) + 1);
    return off;
}

static sk_status deliver(scan_rt *rt, size_t ti);

// Keeps a copy of d in task t.
static void keep_diag(scan_rt *rt, task *t, const sk_diag *d)
{
    size_t text0 = t->text.n;
    sk_xgrow((void **)&t->diags, &t->dcap, t->ndiags + 1, sizeof *t->diags);
    cdiag *c = &t->diags[t->ndiags++];
    c->d = *d;
    c->rec_at = t->recs.n;
    c->ev_at = t->ev;
    c->file_off = put_str(&t->text, d->file);
    c->msg_off = put_str(&t->text, d->message);
    c->where_off = put_str(&t->text, d->where);
    c->src_off = put_str(&t->text, d->source_line);
    c->code_off = put_str(&t->text, d->code);
    c->msg = false;
    size_t n = sizeof *c + (t->text.n - text0);
    t->diag_bytes += n;
    hold(rt, t, n);
}

static void capture_diag(void *ctx, const sk_diag *d)
{
    capture *cp = ctx;
    keep_diag(cp->rt, T(cp->rt, cp->ti), d);
    (void)deliver(cp->rt, cp->ti); // a stop shows in the reader loop
}

static const char *at(const sk_buf *b, size_t off)
{
    return off == SIZE_MAX ? NULL : b->p + off;
}

// ---------------------------------------------------------------------------------------------
// Emission (lock held)

// Records up to byte `to` of t's records buffer (lock held).
static void emit_records(scan_rt *rt, task *t, size_t to)
{
    sk_scan *s = rt->s;
    while (!rt->stopping && t->rec_off < to) {
        sk_sort_key key;
        uint64_t n;
        memcpy(&key, t->recs.p + t->rec_off, sizeof key);
        memcpy(&n, t->recs.p + t->rec_off + sizeof key, sizeof n);
        const char *data = t->recs.p + t->rec_off + sizeof key + sizeof n;
        t->rec_off += sizeof key + sizeof n + (size_t)n;
        sk_status st = s->hooks.put(s->hooks.ctx, &key, data, (size_t)n);
        if (st != SK_OK)
            stop_with(rt, st);
        if (s->progress && ++rt->records_since_progress >= 256) {
            rt->records_since_progress = 0;
            s->progress(s->progress_ctx, s, false);
        }
    }
}

// Emits what t holds in the order it was produced: each diagnostic after the records that came
// before it, so that a --strict stop and a terminal showing both streams see what -j 1 shows.
static void emit_task(scan_rt *rt, task *t)
{
    sk_scan *s = rt->s;
    for (; t->diag_done < t->ndiags && !rt->stopping; t->diag_done++) {
        cdiag *c = &t->diags[t->diag_done];
        emit_records(rt, t, c->rec_at);
        if (rt->stopping)
            break;
        if (s->progress) // the diagnostic starts a line of its own; the progress line comes back
            s->progress(s->progress_ctx, s, true);
        sk_diag d = c->d;
        d.file = at(&t->text, c->file_off);
        d.message = at(&t->text, c->msg_off);
        d.where = at(&t->text, c->where_off);
        d.source_line = at(&t->text, c->src_off);
        d.code = at(&t->text, c->code_off);
        if (c->msg)
            sk_report_msg(s->report, d.severity, "%s", d.message);
        else
            sk_diag_emit(&s->report->dl, &d);
        if (s->report->fatal && !rt->stopping) {
            stop_with(rt, SK_ERR_FORMAT);
            t->cut = true;
            t->ev_cut = c->ev_at;
        }
    }
    emit_records(rt, t, t->recs.n);
    // Both are drained now, unless the scan is stopping (then the rest is dropped).
    if (t->diag_done == t->ndiags || rt->stopping) {
        t->ndiags = t->diag_done = 0;
        t->diag_bytes = 0;
        sk_buf_reset(&t->text);
    }
    if (t->rec_off == t->recs.n || rt->stopping) {
        sk_buf_reset(&t->recs);
        t->rec_off = 0;
    }
    release(rt, t);
}

// Drops a part's reference to its file (lock held).
static void hold_release(scan_rt *rt, file_hold *h)
{
    if (h && --h->refs == 0) {
        close(h->fd);
        free(h);
        rt->holds--;
    }
}

// The hold for a file about to be split (see file_hold), or NULL when it cannot be had (no
// /proc: the parts then open the file by its name).
static file_hold *hold_file(const char *path, const struct stat *sb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat now;
    if (fd < 0)
        return NULL;
    file_hold *h = sk_xcalloc(1, sizeof *h);
    h->fd = fd;
    h->refs = 1; // the walk's, while it adds the parts (room() may let them finish meanwhile)
    snprintf(h->reopen, sizeof h->reopen, "/proc/self/fd/%d", fd);
    int probe = open(h->reopen, O_RDONLY | O_CLOEXEC);
    // The file held must be the one the walk saw (and split by its size).
    if (probe < 0 || fstat(probe, &now) != 0 || now.st_dev != sb->st_dev ||
        now.st_ino != sb->st_ino) {
        if (probe >= 0)
            close(probe);
        close(fd);
        free(h);
        return NULL;
    }
    close(probe);
    return h;
}

// Accounts a finished task (in input order).
static void account(scan_rt *rt, task *t)
{
    sk_scan_stats *st = &rt->s->stats;
    if (t->part == 0)
        rt->opened_acc = t->opened;
    if (t->failed && t->part == 0)
        st->files_failed++;
    // A file split into parts is one file: damaged once if any part was, or if a part could not
    // be read after its first part was (a first part that could not is the file skipped).
    rt->damaged_acc = rt->damaged_acc || t->damaged || (t->failed && rt->opened_acc);
    if (t->last_part) {
        if (rt->damaged_acc)
            st->files_damaged++;
        rt->damaged_acc = false;
    }
    if (!t->opened)
        return;
    if (t->part == 0)
        st->files_read++;
    const ev_counts *ev = t->cut ? &t->ev_cut : &t->ev;
    st->events += ev->events;
    st->events_evtx += ev->evtx;
    st->events_ndjson += ev->ndjson;
    st->events_recovered += ev->recovered;
    st->events_filtered += ev->filtered;
    st->records_skipped += t->rstats.records_skipped;
    st->lines_skipped += t->rstats.lines_skipped;
    st->bytes += t->rstats.bytes;
    rt->s->done_bytes += t->rstats.bytes;
}

// Emits every finished task at the head (lock held).
static void advance(scan_rt *rt)
{
    while (rt->head < rt->ntasks && T(rt, rt->head)->done) {
        task *t = T(rt, rt->head);
        // A task whose turn comes after the scan stopped (--strict, a closed pipe) wrote nothing
        // and reported nothing: it is not counted either, so the summary and the exit status
        // are those of what was printed, whatever the threads finished ahead of the stop. The
        // task the stop came in is counted. A file split into parts that was damaged before the
        // stop still counts as damaged.
        bool after_stop = rt->stopping && rt->stop_task != rt->head;
        emit_task(rt, t);
        if (!after_stop) {
            account(rt, t);
        } else if (rt->damaged_acc) {
            rt->s->stats.files_damaged++;
            rt->damaged_acc = false;
        }
        __atomic_sub_fetch(&rt->buffered, t->held, __ATOMIC_RELAXED); // left when stopping
        t->held = 0;
        hold_release(rt, t->hold);
        t->hold = NULL;
        free(t->path);
        t->path = NULL;
        sk_buf_fini(&t->recs);
        sk_buf_fini(&t->text);
        free(t->diags);
        t->diags = NULL;
        __atomic_store_n(&rt->head, rt->head + 1, __ATOMIC_RELEASE);
        if (rt->s->progress)
            rt->s->progress(rt->s->progress_ctx, rt->s, false);
    }
    pthread_cond_broadcast(&rt->cv);
}

// Task ti (on its worker) has just held more output, a record or a diagnostic: streams it when ti
// is the head; otherwise leaves it buffered, or waits for ti's turn once the tasks behind the head
// hold their budget. SK_DONE when the scan is stopping.
static sk_status deliver(scan_rt *rt, size_t ti)
{
    bool head = __atomic_load_n(&rt->head, __ATOMIC_ACQUIRE) == ti;
    if (!head && !over_budget(rt))
        return is_stopping(rt) ? SK_DONE : SK_OK;
    pthread_mutex_lock(&rt->mu);
    while (rt->head != ti && !rt->stopping)
        pthread_cond_wait(&rt->cv, &rt->mu);
    if (!rt->stopping)
        emit_task(rt, T(rt, ti));
    sk_status st = rt->stopping ? SK_DONE : SK_OK;
    pthread_mutex_unlock(&rt->mu);
    return st;
}

sk_status sk_scan_out_add(sk_scan_out *o, const sk_sort_key *key, const char *data, size_t n)
{
    scan_rt *rt = o->rt;
    task *t = T(rt, o->ti);
    // A large record of the head task, with nothing of the task still buffered before it, goes
    // to the output at once instead of through a copy in the task's buffer (a hit on a 16 MiB
    // line was held three times over). Only the task's own worker emits it while it runs, so
    // its buffer state is read without the lock.
    if (n >= DIRECT_RECORD_BYTES && __atomic_load_n(&rt->head, __ATOMIC_ACQUIRE) == o->ti &&
        t->rec_off == t->recs.n && t->diag_done == t->ndiags) {
        pthread_mutex_lock(&rt->mu);
        if (!rt->stopping) {
            sk_status st = rt->s->hooks.put(rt->s->hooks.ctx, key, data, n);
            if (st != SK_OK)
                stop_with(rt, st);
        }
        sk_status st = rt->stopping ? SK_DONE : SK_OK;
        pthread_mutex_unlock(&rt->mu);
        return st;
    }
    uint64_t len = n;
    sk_buf_put(&t->recs, key, sizeof *key);
    sk_buf_put(&t->recs, &len, sizeof len);
    sk_buf_put(&t->recs, data, n);
    if (t->recs.full)
        return SK_ERR_LIMIT;
    hold(rt, t, sizeof *key + sizeof len + n);
    return deliver(rt, o->ti);
}

// ---------------------------------------------------------------------------------------------
// Workers

// Newlines in bytes [from, to) of task t's file (to: at most the end of the file) into *out;
// false on a read error (reported).
static bool count_newlines(const task *t, uint64_t from, uint64_t to, uint64_t *out, sk_diags *dl)
{
    const char *path = t->path;
    *out = 0;
    int fd = open(t->hold ? t->hold->reopen : path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sk_diag_emitf(dl,
                      SK_SEV_ERROR,
                      path,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      strerror(errno));
        return false;
    }
    enum {
        BLOCK = 1 << 20
    };
    char *buf = sk_xmalloc(BLOCK);
    bool ok = true;
    while (from < to) {
        size_t want = to - from < BLOCK ? (size_t)(to - from) : BLOCK;
        ssize_t got = pread(fd, buf, want, (off_t)from);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            sk_diag_emitf(dl,
                          SK_SEV_ERROR,
                          path,
                          0,
                          0,
                          NULL,
                          "read-error",
                          "read error: %s",
                          strerror(errno));
            ok = false;
            break;
        }
        if (got == 0)
            break; // the file is shorter than it was
        for (const char *p = buf, *end = buf + got; (p = memchr(p, '\n', (size_t)(end - p))); p++)
            (*out)++;
        from += (uint64_t)got;
    }
    free(buf);
    close(fd);
    return ok;
}

// The line numbering of NDJSON part ti: waits for the newlines before it (from the part before),
// counts its own for the next part, and sets the reader's range. False when the part cannot be
// numbered (the part before could not be counted).
static bool nd_part_lines(scan_rt *rt, size_t ti, sk_reader_opts *ro, sk_diags *dl)
{
    task *t = T(rt, ti);
    uint64_t before = 0, own = 0;
    bool base_ok = true, own_ok = true;
    if (t->part > 0) {
        task *prev = T(rt, ti - 1);
        pthread_mutex_lock(&rt->mu);
        while (!prev->nl_ready && !rt->stopping)
            pthread_cond_wait(&rt->cv, &rt->mu);
        base_ok = prev->nl_ready && prev->nl_ok;
        before = prev->nl_next;
        pthread_mutex_unlock(&rt->mu);
    }
    // The reader of part k starts at byte nd_first - 1 (the last byte of the part before), so
    // the newlines before part k + 1 are those before nd_end - 1.
    if (base_ok && !t->last_part)
        own_ok =
                count_newlines(t, t->nd_first ? t->nd_first - 1 : 0, t->nd_end - 1, &own, dl);
    pthread_mutex_lock(&rt->mu);
    t->nl_next = before + own;
    t->nl_ok = base_ok && own_ok;
    t->nl_ready = true;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    ro->ndjson_first = t->nd_first;
    ro->ndjson_end = t->nd_end;
    ro->ndjson_newlines = before;
    return base_ok;
}

static void run_task(scan_rt *rt, size_t ti, void *w)
{
    sk_scan *s = rt->s;
    task *t = T(rt, ti);
    capture cap = { rt, ti };
    sk_diags dl;
    sk_diags_init(&dl, capture_diag, &cap);
    sk_reader *r = NULL;
    sk_reader_opts ro = s->reader_opts;
    ro.chunk_first = t->chunk_first;
    ro.chunk_count = t->chunk_count;
    ro.reopen = t->hold ? t->hold->reopen : NULL;
    ro.part_first = t->part_first;
    ro.part_end = t->part_end;
    if (t->nd_part && !nd_part_lines(rt, ti, &ro, &dl)) {
        if (!is_stopping(rt))
            t->failed = t->damaged = true; // the part before reported why
        return;
    }
    sk_status st = sk_input_open(&r, t->path, &ro, &dl);
    if (st != SK_OK) {
        t->failed = true;
        return;
    }
    t->opened = true;
    sk_scan_out out = { rt, ti };
    const sk_event *ev;
    sk_status rst;
    while ((rst = sk_reader_next(r, &ev)) == SK_OK) {
        if ((t->ev.events & 1023) == 0 && is_stopping(rt))
            break;
        t->ev.events++;
        if (ev->format == SK_FORMAT_EVTX)
            t->ev.evtx++;
        else
            t->ev.ndjson++;
        t->ev.recovered += ev->recovered;
        if (!event_ok(&s->filter, ev)) {
            t->ev.filtered++;
            continue;
        }
        if (s->hooks.on_event(w, ev, &out) != SK_OK)
            break;
    }
    t->rstats = *sk_reader_stats_get(r);
    if (t->nd_part) // parts read past their end to finish a line: count each byte once
        t->rstats.bytes = t->part_bytes;
    t->damaged = t->rstats.damaged || (rst != SK_OK && rst != SK_DONE);
    sk_reader_close(r);
}

typedef struct worker {
    scan_rt *rt;
    void *state;
    pthread_t tid;
} worker;

// Takes the next task to run (lock held), passing over notes and what the head has passed (notes
// are done when added). Waits while the output buffered behind the head is over its budget, and,
// when `wait`, for the walk to add a task. False when there is nothing (more) to run.
static bool take(scan_rt *rt, bool wait, size_t *ti)
{
    for (;;) {
        while (rt->next < rt->ntasks && (rt->next < rt->head || T(rt, rt->next)->note))
            rt->next++;
        if (rt->stopping)
            return false;
        if (rt->next < rt->ntasks) {
            // Finished tasks wait, buffered, for the ones before them: run ahead only while their
            // output fits the budget (with nothing ahead of the head, buffered is 0).
            if (rt->next == rt->head || !over_budget(rt)) {
                *ti = rt->next++;
                return true;
            }
        } else if (rt->walk_done) {
            return false;
        }
        if (!wait)
            return false;
        pthread_cond_wait(&rt->cv, &rt->mu);
    }
}

// Runs task ti, then emits what is due (lock not held).
static void run_and_emit(scan_rt *rt, size_t ti, void *state)
{
    if (!is_stopping(rt))
        run_task(rt, ti, state);
    pthread_mutex_lock(&rt->mu);
    T(rt, ti)->done = true;
    if (rt->head == ti)
        advance(rt);
    pthread_mutex_unlock(&rt->mu);
}

static void work(worker *wk)
{
    scan_rt *rt = wk->rt;
    for (;;) {
        size_t ti;
        pthread_mutex_lock(&rt->mu);
        bool got = take(rt, true, &ti);
        pthread_mutex_unlock(&rt->mu);
        if (!got)
            break;
        run_and_emit(rt, ti, wk->state);
    }
}

static void *worker_main(void *arg)
{
    worker *wk = arg;
    sk_scan *s = wk->rt->s;
    wk->state = s->hooks.worker_new ? s->hooks.worker_new(s->hooks.ctx) : NULL;
    work(wk);
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// Walk into tasks

typedef struct walker_rt {
    scan_rt *rt;
    worker *ws;
    unsigned started;   // worker threads running
    bool create_failed; // a thread could not be made: no more tries
    bool dry;           // the scan stopped before it began: the walk only reports
    size_t nfiles;      // files walked so far (parts count once; notes not at all)
} walker_rt;

// Files at least this large are split into parts of PART_CHUNKS chunks when several threads run
// and the native evtx reader is in use: chunks decode independently, so one large file keeps
// every core busy.
#define SPLIT_BYTES ((uint64_t)32 << 20)
#define PART_CHUNKS 256u
// NDJSON files of at least SPLIT_BYTES in line layout are split into parts of this many bytes
// (each line read by the part it starts in); ND_HEAD_BYTES of the start tell the layout.
#define ND_PART_BYTES ((uint64_t)16 << 20)
#define ND_HEAD_BYTES ((size_t)64 << 10)

// Waits (lock held) until the walk may add a task: fewer than `window` pending. With -j 1 the
// walk runs the pending tasks itself. False when the scan is stopping.
static bool room(scan_rt *rt)
{
    while (!rt->stopping && rt->ntasks - rt->head >= rt->window) {
        if (!rt->inline_w) {
            pthread_cond_wait(&rt->cv, &rt->mu);
            continue;
        }
        // One thread: every task before `next` is done and emitted, so a full window holds one
        // to take.
        size_t ti;
        bool got = take(rt, false, &ti);
        assert(got); // else the next task would take the slot of the head
        if (!got)
            return false;
        pthread_mutex_unlock(&rt->mu);
        run_and_emit(rt, ti, rt->inline_w->state);
        pthread_mutex_lock(&rt->mu);
    }
    return !rt->stopping;
}

// The slot of the next task, cleared (lock held, room made); publish() makes it visible.
static task *new_task(scan_rt *rt, const char *path)
{
    task *t = T(rt, rt->ntasks);
    memset(t, 0, sizeof *t);
    t->path = path ? sk_xstrdup(path) : NULL;
    t->last_part = true;
    sk_buf_init(&t->recs, (size_t)1 << 40);
    sk_buf_init(&t->text, (size_t)1 << 30);
    return t;
}

// Adds the task made by new_task (lock held); starts one more worker thread while fewer run
// than -j says and than there are tasks.
static void publish(walker_rt *w)
{
    scan_rt *rt = w->rt;
    size_t ti = rt->ntasks++;
    task *t = T(rt, ti);
    if (t->note && rt->head == ti)
        advance(rt);
    pthread_cond_broadcast(&rt->cv);
    if (t->note || rt->inline_w || w->create_failed || w->started >= rt->jobs)
        return;
    worker *wk = &w->ws[w->started];
    wk->rt = rt;
    if (pthread_create(&wk->tid, NULL, worker_main, wk) == 0) {
        w->started++;
        return;
    }
    w->create_failed = true;
    if (w->started == 0) { // no thread could be made: the walk runs the tasks
        wk->state = rt->s->hooks.worker_new ? rt->s->hooks.worker_new(rt->s->hooks.ctx) : NULL;
        rt->inline_w = wk;
    }
}

// A diagnostic of the walk (or a message about the run, msg): a note task, so that it comes out
// in input order, between the outputs of the files walked before and after it.
static void add_note(walker_rt *w, const sk_diag *d, bool msg)
{
    scan_rt *rt = w->rt;
    if (w->dry) {
        if (msg)
            sk_report_msg(rt->s->report, d->severity, "%s", d->message);
        else
            sk_diag_emit(&rt->s->report->dl, d);
        return;
    }
    pthread_mutex_lock(&rt->mu);
    if (room(rt)) {
        task *t = new_task(rt, NULL);
        t->note = true;
        keep_diag(rt, t, d);
        t->diags[0].msg = msg;
        t->done = true;
        publish(w);
    }
    pthread_mutex_unlock(&rt->mu);
}

static void walk_diag(void *ctx, const sk_diag *d)
{
    add_note(ctx, d, false);
}

// Chunk slots of a plain (uncompressed) evtx file (head: its first n bytes); 0 otherwise.
static uint64_t splittable_chunks(const unsigned char *head, size_t n, uint64_t size)
{
    if (n < 8 || memcmp(head, "ElfFile\0", 8) != 0)
        return 0;
    return (size - EVTX_HEADER_BYTES + SK_EVTX_CHUNK_BYTES - 1) / SK_EVTX_CHUNK_BYTES;
}

static sk_status add_task(void *ctx, const char *path, const struct stat *sb, bool named)
{
    walker_rt *w = ctx;
    scan_rt *rt = w->rt;
    sk_scan *s = rt->s;
    (void)named;
    if (w->dry) {
        w->nfiles++;
        return SK_OK;
    }
    uint64_t nchunks = 0, ndsize = 0;
    // Regular files of at least SPLIT_BYTES, read by several threads: evtx (native reader) and
    // NDJSON in line layout (not gzip, a JSON array, pretty-printed objects) are split in parts.
    if (rt->jobs > 1 && sb && S_ISREG(sb->st_mode) && (uint64_t)sb->st_size >= SPLIT_BYTES) {
        unsigned char *head = sk_xmalloc(ND_HEAD_BYTES);
        size_t n = 0;
        FILE *fp = fopen(path, "rb");
        if (fp) {
            n = fread(head, 1, ND_HEAD_BYTES, fp);
            fclose(fp);
        }
        uint64_t size = (uint64_t)sb->st_size;
        if (s->reader_opts.evtx_reader == SK_EVTX_READER_NATIVE)
            nchunks = splittable_chunks(head, n, size);
        if (nchunks == 0 && n > 0 && sk_ndjson_splittable(head, n))
            ndsize = size;
        free(head);
    }
    // A whole file is one part; an evtx file, parts of PART_CHUNKS chunk slots; an NDJSON file,
    // parts of ND_PART_BYTES.
    uint64_t nparts = ndsize                  ? (ndsize + ND_PART_BYTES - 1) / ND_PART_BYTES
                      : nchunks > PART_CHUNKS ? (nchunks + PART_CHUNKS - 1) / PART_CHUNKS
                                              : 1;
    pthread_mutex_lock(&rt->mu);
    bool may_hold = nparts > 1 && rt->holds < HOLDS_MAX;
    if (may_hold)
        rt->holds++; // taken now: the walk is the only thread that adds holds
    pthread_mutex_unlock(&rt->mu);
    file_hold *hold = may_hold ? hold_file(path, sb) : NULL;
    pthread_mutex_lock(&rt->mu);
    if (may_hold && !hold)
        rt->holds--;
    for (uint64_t part = 0; part < nparts; part++) {
        if (!room(rt))
            break;
        task *t = new_task(rt, path);
        t->part = (unsigned)part;
        t->last_part = part + 1 == nparts;
        if (hold) {
            t->hold = hold;
            hold->refs++;
        }
        if (ndsize) {
            t->nd_part = true;
            t->nd_first = part * ND_PART_BYTES;
            // The last part reads to the end of the file, whatever it holds by then.
            t->nd_end = t->last_part ? 0 : t->nd_first + ND_PART_BYTES;
            t->part_bytes = (t->nd_end ? t->nd_end : ndsize) - t->nd_first;
            t->part_first = t->nd_first;
            t->part_end = t->nd_end ? t->nd_end : ndsize;
        } else if (nparts > 1) {
            t->chunk_first = part * PART_CHUNKS;
            // The last part reads to the end of the file, whatever lies past the counted slots.
            t->chunk_count = t->last_part ? 0 : PART_CHUNKS;
            t->part_first = EVTX_HEADER_BYTES + t->chunk_first * SK_EVTX_CHUNK_BYTES;
            t->part_end = t->last_part
                                  ? (uint64_t)sb->st_size
                                  : t->part_first + (uint64_t)PART_CHUNKS * SK_EVTX_CHUNK_BYTES;
        }
        if (part == 0) {
            w->nfiles++;
            s->total_files++;
            if (sb && S_ISREG(sb->st_mode))
                s->total_bytes += (uint64_t)sb->st_size;
        }
        publish(w);
    }
    sk_status st = rt->stopping ? SK_DONE : SK_OK;
    hold_release(rt, hold); // the walk's reference
    pthread_mutex_unlock(&rt->mu);
    return st;
}

unsigned sk_scan_default_jobs(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

sk_status sk_scan_run(sk_scan *s, const char *const *paths, size_t npaths)
{
    double t0 = now();
    s->t0 = t0;
    s->stop = SK_OK;
    sk_report_mark(s->report); // --stats lists the reasons of this scan, not the rules
    s->walked = false;
    scan_rt rt;
    memset(&rt, 0, sizeof rt);
    rt.s = s;
    rt.jobs = s->jobs ? s->jobs : 1;
    rt.budget = s->buffer_bytes ? s->buffer_bytes : (size_t)rt.jobs * BUFFER_PER_JOB;
    if (!s->buffer_bytes && rt.budget > BUFFER_MAX)
        rt.budget = BUFFER_MAX;
    rt.window = s->pending_tasks ? s->pending_tasks : PENDING_TASKS;
    if (rt.window > ((size_t)1 << 20))
        rt.window = (size_t)1 << 20;
    size_t slots = 2;
    while (slots <= rt.window)
        slots *= 2;
    rt.ring = sk_xcalloc(slots, sizeof *rt.ring);
    rt.ring_mask = slots - 1;
    pthread_mutex_init(&rt.mu, NULL);
    pthread_cond_init(&rt.cv, NULL);
    worker *ws = sk_xcalloc(rt.jobs, sizeof *ws);
    walker_rt w = { .rt = &rt, .ws = ws };
    if (s->report->fatal) {
        // --strict, and something was reported before the scan: no file is read, but the walk
        // still says what it finds wrong.
        s->stop = SK_ERR_FORMAT;
        rt.stopping = 1;
        rt.stop_task = SIZE_MAX; // no task is counted
        w.dry = true;
    } else if (rt.jobs == 1) { // one thread: the walk runs the tasks as the window fills
        ws[0].rt = &rt;
        ws[0].state = s->hooks.worker_new ? s->hooks.worker_new(s->hooks.ctx) : NULL;
        rt.inline_w = &ws[0];
    }
    // The walk, on this thread, runs beside the workers, which it starts as it adds tasks.
    sk_diags walk_dl;
    sk_diags_init(&walk_dl, walk_diag, &w);
    for (size_t i = 0; i < npaths && (w.dry || !is_stopping(&rt)); i++) {
        sk_walk_stats wst = { 0 };
        size_t before = w.nfiles;
        sk_status st = sk_walk(paths[i], &s->walk_opts, &wst, &walk_dl, add_task, &w);
        s->stats.passed_over += wst.passed_over;
        s->stats.unreadable += wst.unreadable;
        if (st == SK_OK && w.nfiles == before && wst.unreadable == 0 &&
            strcmp(paths[i], "-") != 0) {
            char text[4096 + 64];
            snprintf(text,
                     sizeof text,
                     "no log files found under '%s' (%llu files passed over)",
                     paths[i],
                     (unsigned long long)wst.passed_over);
            sk_diag d = { .severity = SK_SEV_WARNING, .message = text };
            add_note(&w, &d, true);
        }
    }
    pthread_mutex_lock(&rt.mu);
    rt.walk_done = true;
    s->walked = true;
    pthread_cond_broadcast(&rt.cv);
    pthread_mutex_unlock(&rt.mu);
    if (rt.inline_w)
        work(rt.inline_w);
    for (unsigned i = 0; i < w.started; i++)
        pthread_join(ws[i].tid, NULL);
    // Tasks never started (the scan stopped) are accounted for nothing but their memory.
    pthread_mutex_lock(&rt.mu);
    for (size_t i = rt.head; i < rt.ntasks; i++)
        T(&rt, i)->done = true;
    advance(&rt);
    pthread_mutex_unlock(&rt.mu);
    unsigned nworkers = w.started ? w.started : rt.inline_w ? 1 : 0;
    for (unsigned i = 0; i < nworkers; i++)
        if (s->hooks.worker_free)
            s->hooks.worker_free(s->hooks.ctx, ws[i].state);
    free(ws);
    free(rt.ring);
    pthread_mutex_destroy(&rt.mu);
    pthread_cond_destroy(&rt.cv);
    s->stats.seconds = now() - t0;
    if (s->progress)
        s->progress(s->progress_ctx, s, true);
    return s->stop;
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
            "saker: events: %llu (evtx %llu, ndjson %llu)",
            (unsigned long long)t->events,
            (unsigned long long)t->events_evtx,
            (unsigned long long)t->events_ndjson);
    if (t->events_recovered) // --recovered: how many of the evtx events are deleted records
        fprintf(fp, "; %llu recovered", (unsigned long long)t->events_recovered);
    fputc('\n', fp);
    if (t->events_filtered)
        fprintf(fp,
                "saker: events left out by --from/--to/--channel/--event-id: %llu\n",
                (unsigned long long)t->events_filtered);
    sk_report_reasons(s->report, NULL, true, reasons, sizeof reasons);
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
