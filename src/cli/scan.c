// The scan: tasks (one per input file) run by worker threads, records and diagnostics emitted in
// input order. See scan.h for the contract.
#include "scan.h"

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

// Output (records and diagnostics) that the tasks behind the head of the input order may hold,
// per job up to a total that keeps the peak RSS well under 64 MiB on a machine with many cores,
// unless sk_scan.buffer_bytes says otherwise. A worker runs ahead of the head as far as this
// allows: a slow file does not hold the others back, however many small files follow it.
#define BUFFER_PER_JOB ((size_t)8 << 20)
#define BUFFER_MAX ((size_t)32 << 20)

typedef struct cdiag {
    sk_diag d;      // pointers into the task's text buffer (fixed up at replay)
    size_t file_off, msg_off, where_off, src_off, code_off; // offsets into text (SIZE_MAX: NULL)
} cdiag;

typedef struct task {
    char *path;
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
    sk_buf recs;      // [sk_sort_key][uint64_t n][n bytes] ...
    size_t rec_off;   // bytes of recs already emitted
    sk_buf text;      // strings of captured diagnostics
    cdiag *diags;
    size_t ndiags, dcap, diag_done;
    bool opened, failed, damaged, done;
    size_t held;       // bytes of records and diagnostics in scan_rt.buffered for this task
    size_t diag_bytes; // of those, the diagnostics' (until they are emitted)
    sk_reader_stats rstats;
    uint64_t events, evtx, ndjson, recovered, filtered;
} task;

typedef struct scan_rt {
    sk_scan *s;
    task *tasks;
    size_t ntasks, cap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next;   // next task to take
    size_t head;     // first task not yet fully emitted
    size_t buffered; // bytes captured and not yet emitted, all tasks (atomic)
    size_t budget;   // a worker waits while buffered is at least this, unless it is the head
    unsigned jobs;
    bool damaged_acc; // damage seen in the parts of the file being accounted
    int stopping;  // read without the lock through __atomic loads
    unsigned long records_since_progress;
} scan_rt;

struct sk_scan_out {
    scan_rt *rt;
    size_t ti;
};

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

static void capture_diag(void *ctx, const sk_diag *d)
{
    capture *cp = ctx;
    task *t = &cp->rt->tasks[cp->ti];
    size_t text0 = t->text.n;
    sk_xgrow((void **)&t->diags, &t->dcap, t->ndiags + 1, sizeof *t->diags);
    cdiag *c = &t->diags[t->ndiags++];
    c->d = *d;
    c->file_off = put_str(&t->text, d->file);
    c->msg_off = put_str(&t->text, d->message);
    c->where_off = put_str(&t->text, d->where);
    c->src_off = put_str(&t->text, d->source_line);
    c->code_off = put_str(&t->text, d->code);
    size_t n = sizeof *c + (t->text.n - text0);
    t->diag_bytes += n;
    hold(cp->rt, t, n);
    (void)deliver(cp->rt, cp->ti); // a stop shows in the reader loop
}

static const char *at(const sk_buf *b, size_t off)
{
    return off == SIZE_MAX ? NULL : b->p + off;
}

// ---------------------------------------------------------------------------------------------
// Emission (lock held)

static void emit_task(scan_rt *rt, task *t)
{
    sk_scan *s = rt->s;
    for (; t->diag_done < t->ndiags; t->diag_done++) {
        if (rt->stopping)
            break;
        cdiag *c = &t->diags[t->diag_done];
        sk_diag d = c->d;
        d.file = at(&t->text, c->file_off);
        d.message = at(&t->text, c->msg_off);
        d.where = at(&t->text, c->where_off);
        d.source_line = at(&t->text, c->src_off);
        d.code = at(&t->text, c->code_off);
        sk_diag_emit(&s->report->dl, &d);
        if (s->report->fatal)
            stop_with(rt, SK_ERR_FORMAT);
    }
    if (t->diag_done == t->ndiags) {
        t->ndiags = t->diag_done = 0;
        t->diag_bytes = 0;
        sk_buf_reset(&t->text);
    }
    while (!rt->stopping && t->rec_off < t->recs.n) {
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
    if (t->rec_off == t->recs.n || rt->stopping) {
        sk_buf_reset(&t->recs);
        t->rec_off = 0;
    }
    release(rt, t);
}

// Accounts a finished task (in input order).
static void account(scan_rt *rt, task *t)
{
    sk_scan_stats *st = &rt->s->stats;
    if (t->failed && t->part == 0)
        st->files_failed++;
    if (!t->opened)
        return;
    if (t->part == 0)
        st->files_read++;
    st->events += t->events;
    st->events_evtx += t->evtx;
    st->events_ndjson += t->ndjson;
    st->events_recovered += t->recovered;
    st->events_filtered += t->filtered;
    st->records_skipped += t->rstats.records_skipped;
    st->lines_skipped += t->rstats.lines_skipped;
    st->bytes += t->rstats.bytes;
    rt->s->done_bytes += t->rstats.bytes;
    // A file split into parts is one file: damaged once if any part was.
    rt->damaged_acc = rt->damaged_acc || t->damaged;
    if (t->last_part) {
        if (rt->damaged_acc)
            st->files_damaged++;
        rt->damaged_acc = false;
    }
}

// Emits every finished task at the head (lock held).
static void advance(scan_rt *rt)
{
    while (rt->head < rt->ntasks && rt->tasks[rt->head].done) {
        task *t = &rt->tasks[rt->head];
        emit_task(rt, t);
        account(rt, t);
        __atomic_sub_fetch(&rt->buffered, t->held, __ATOMIC_RELAXED); // left when stopping
        t->held = 0;
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
        emit_task(rt, &rt->tasks[ti]);
    sk_status st = rt->stopping ? SK_DONE : SK_OK;
    pthread_mutex_unlock(&rt->mu);
    return st;
}

sk_status sk_scan_out_add(sk_scan_out *o, const sk_sort_key *key, const char *data, size_t n)
{
    scan_rt *rt = o->rt;
    task *t = &rt->tasks[o->ti];
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

// Newlines in bytes [from, to) of path (to: at most the end of the file) into *out; false on a
// read error (reported).
static bool
count_newlines(const char *path, uint64_t from, uint64_t to, uint64_t *out, sk_diags *dl)
{
    *out = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
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
    task *t = &rt->tasks[ti];
    uint64_t before = 0, own = 0;
    bool base_ok = true, own_ok = true;
    if (t->part > 0) {
        task *prev = &rt->tasks[ti - 1];
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
                count_newlines(t->path, t->nd_first ? t->nd_first - 1 : 0, t->nd_end - 1, &own, dl);
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
    task *t = &rt->tasks[ti];
    capture cap = { rt, ti };
    sk_diags dl;
    sk_diags_init(&dl, capture_diag, &cap);
    sk_reader *r = NULL;
    sk_reader_opts ro = s->reader_opts;
    ro.chunk_first = t->chunk_first;
    ro.chunk_count = t->chunk_count;
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
        if ((t->events & 1023) == 0 && is_stopping(rt))
            break;
        t->events++;
        if (ev->format == SK_FORMAT_EVTX)
            t->evtx++;
        else
            t->ndjson++;
        t->recovered += ev->recovered;
        if (!event_ok(&s->filter, ev)) {
            t->filtered++;
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

static void *worker_main(void *arg)
{
    worker *wk = arg;
    scan_rt *rt = wk->rt;
    sk_scan *s = rt->s;
    wk->state = s->hooks.worker_new ? s->hooks.worker_new(s->hooks.ctx) : NULL;
    for (;;) {
        pthread_mutex_lock(&rt->mu);
        // Finished tasks wait, buffered, for the ones before them: run ahead only while their
        // output fits the budget (with nothing ahead of the head, buffered is 0).
        while (!rt->stopping && rt->next < rt->ntasks && rt->next > rt->head && over_budget(rt))
            pthread_cond_wait(&rt->cv, &rt->mu);
        size_t ti = rt->next;
        bool stop = rt->stopping || ti >= rt->ntasks;
        if (!stop)
            rt->next++;
        pthread_mutex_unlock(&rt->mu);
        if (stop)
            break;
        if (!is_stopping(rt))
            run_task(rt, ti, wk->state);
        pthread_mutex_lock(&rt->mu);
        rt->tasks[ti].done = true;
        if (rt->head == ti)
            advance(rt);
        pthread_mutex_unlock(&rt->mu);
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// Walk into tasks

typedef struct collect {
    scan_rt *rt;
} collect;

// Files at least this large are split into parts of PART_CHUNKS chunks when several threads run
// and the native evtx reader is in use: chunks decode independently, so one large file keeps
// every core busy.
#define SPLIT_BYTES ((uint64_t)32 << 20)
#define PART_CHUNKS 256u
// NDJSON files of at least SPLIT_BYTES in line layout are split into parts of this many bytes
// (each line read by the part it starts in); ND_HEAD_BYTES of the start tell the layout.
#define ND_PART_BYTES ((uint64_t)16 << 20)
#define ND_HEAD_BYTES ((size_t)64 << 10)

static task *new_task(scan_rt *rt, const char *path)
{
    sk_xgrow((void **)&rt->tasks, &rt->cap, rt->ntasks + 1, sizeof *rt->tasks);
    task *t = &rt->tasks[rt->ntasks++];
    memset(t, 0, sizeof *t);
    t->path = sk_xstrdup(path);
    t->last_part = true;
    sk_buf_init(&t->recs, (size_t)1 << 40);
    sk_buf_init(&t->text, (size_t)1 << 30);
    return t;
}

// Chunk slots of a plain (uncompressed) evtx file (head: its first n bytes); 0 otherwise.
static uint64_t splittable_chunks(const unsigned char *head, size_t n, uint64_t size)
{
    if (n < 8 || memcmp(head, "ElfFile\0", 8) != 0)
        return 0;
    return (size - 4096 + 65535) / 65536;
}

static sk_status add_task(void *ctx, const char *path, const struct stat *sb, bool named)
{
    scan_rt *rt = ((collect *)ctx)->rt;
    (void)named;
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
        if (rt->s->reader_opts.evtx_reader == SK_EVTX_READER_NATIVE)
            nchunks = splittable_chunks(head, n, size);
        if (nchunks == 0 && n > 0 && sk_ndjson_splittable(head, n))
            ndsize = size;
        free(head);
    }
    if (ndsize) {
        unsigned part = 0;
        for (uint64_t first = 0; first < ndsize; first += ND_PART_BYTES) {
            task *t = new_task(rt, path);
            t->nd_part = true;
            t->nd_first = first;
            // The last part reads to the end of the file, whatever it holds by then.
            t->nd_end = first + ND_PART_BYTES < ndsize ? first + ND_PART_BYTES : 0;
            t->part_bytes = (t->nd_end ? t->nd_end : ndsize) - first;
            t->part = part++;
            t->last_part = t->nd_end == 0;
        }
        return SK_OK;
    }
    if (nchunks <= PART_CHUNKS) {
        (void)new_task(rt, path);
        return SK_OK;
    }
    unsigned part = 0;
    for (uint64_t first = 0; first < nchunks; first += PART_CHUNKS) {
        task *t = new_task(rt, path);
        t->chunk_first = first;
        // The last part reads to the end of the file, whatever lies past the counted slots.
        t->chunk_count = first + PART_CHUNKS < nchunks ? PART_CHUNKS : 0;
        t->part = part++;
        t->last_part = first + PART_CHUNKS >= nchunks;
    }
    return SK_OK;
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
    scan_rt rt;
    memset(&rt, 0, sizeof rt);
    rt.s = s;
    rt.jobs = s->jobs ? s->jobs : 1;
    collect c = { &rt };
    for (size_t i = 0; i < npaths; i++) {
        sk_walk_stats ws = { 0 };
        size_t before = rt.ntasks;
        sk_status st = sk_walk(paths[i], &s->walk_opts, &ws, &s->report->dl, add_task, &c);
        s->stats.passed_over += ws.passed_over;
        s->stats.unreadable += ws.unreadable;
        if (st == SK_OK && rt.ntasks == before && ws.unreadable == 0 && strcmp(paths[i], "-") != 0)
            sk_report_msg(s->report, SK_SEV_WARNING,
                          "no log files found under '%s' (%llu files passed over)", paths[i],
                          (unsigned long long)ws.passed_over);
    }
    if (s->report->fatal)
        s->stop = SK_ERR_FORMAT;
    if (s->progress) {
        for (size_t i = 0; i < rt.ntasks; i++) {
            struct stat sb;
            if (rt.tasks[i].part > 0)
                continue; // the parts of one file count once
            if (stat(rt.tasks[i].path, &sb) == 0 && S_ISREG(sb.st_mode))
                s->total_bytes += (uint64_t)sb.st_size;
            s->total_files++;
        }
    }
    pthread_mutex_init(&rt.mu, NULL);
    pthread_cond_init(&rt.cv, NULL);
    if (s->stop != SK_OK)
        rt.stopping = 1;
    unsigned jobs = s->jobs ? s->jobs : 1;
    rt.budget = s->buffer_bytes ? s->buffer_bytes : (size_t)jobs * BUFFER_PER_JOB;
    if (!s->buffer_bytes && rt.budget > BUFFER_MAX)
        rt.budget = BUFFER_MAX;
    if (jobs > rt.ntasks)
        jobs = rt.ntasks ? (unsigned)rt.ntasks : 1;
    worker *ws = sk_xcalloc(jobs, sizeof *ws);
    if (jobs == 1) {
        ws[0].rt = &rt;
        worker_main(&ws[0]);
    } else {
        unsigned started = 0;
        for (unsigned i = 0; i < jobs; i++) {
            ws[i].rt = &rt;
            if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
                break;
            started++;
        }
        if (started == 0) // no thread could be made: do the work here
            worker_main(&ws[0]);
        for (unsigned i = 0; i < started; i++)
            pthread_join(ws[i].tid, NULL);
    }
    // Tasks never started (the scan stopped) are accounted for nothing but their memory.
    pthread_mutex_lock(&rt.mu);
    for (size_t i = rt.head; i < rt.ntasks; i++)
        rt.tasks[i].done = true;
    advance(&rt);
    pthread_mutex_unlock(&rt.mu);
    for (unsigned i = 0; i < jobs; i++)
        if (s->hooks.worker_free)
            s->hooks.worker_free(s->hooks.ctx, ws[i].state);
    free(ws);
    for (size_t i = 0; i < rt.ntasks; i++) {
        free(rt.tasks[i].path);
        sk_buf_fini(&rt.tasks[i].recs);
        sk_buf_fini(&rt.tasks[i].text);
        free(rt.tasks[i].diags);
    }
    free(rt.tasks);
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
