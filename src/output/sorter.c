// External merge sort for hits.
#include "sorter.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/mem.h"

typedef struct rec {
    sk_sort_key key;
    char *data;
    size_t n;
} rec;

typedef struct run {
    FILE *fp;
    unsigned level; // 0: spilled from memory; k + 1: merged from SK_SORTER_FANIN runs of level k
    rec head;       // current record of this run while merging (data owned, cap bytes)
    size_t cap;
} run;

struct sk_sorter {
    size_t budget;
    size_t used;
    // Record bytes in 1 MiB blocks, not a malloc per hit: with -j the hits are added from
    // different threads, and per-hit allocations spread over glibc's per-thread arenas (RSS grew
    // past the budget by half again); a spill frees them all at once.
    sk_arena data;
    rec *recs;
    size_t nrecs, cap;
    run *runs; // open runs, by non-increasing level (each level's runs are a suffix)
    size_t nruns, rcap;
    size_t spilled; // runs spilled from memory in all
    char err[320];  // why a run could not be written or read back ("" when none)
};

sk_sorter *sk_sorter_new(size_t budget)
{
    sk_sorter *s = sk_xcalloc(1, sizeof *s);
    s->budget = budget ? budget : SK_SORTER_BUDGET;
    sk_arena_init(&s->data, (size_t)1 << 20);
    return s;
}

static int keycmp(const sk_sort_key *a, const sk_sort_key *b)
{
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2)
        return a->k2 < b->k2 ? -1 : 1;
    if (a->k3 != b->k3)
        return a->k3 < b->k3 ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static int reccmp(const void *a, const void *b)
{
    return keycmp(&((const rec *)a)->key, &((const rec *)b)->key);
}

static void free_recs(sk_sorter *s)
{
    sk_arena_reset(&s->data);
    s->nrecs = 0;
    s->used = 0;
}

static const char *tmp_dir(void)
{
    const char *dir = getenv("TMPDIR");
    return dir && *dir ? dir : "/tmp";
}

// Records why a run failed (errno e; 0: a run file ended inside a record) and returns SK_ERR_IO.
static sk_status fail(sk_sorter *s, const char *what, int e)
{
    if (!s->err[0])
        snprintf(s->err,
                 sizeof s->err,
                 "cannot %s a sort run in %s: %s",
                 what,
                 tmp_dir(),
                 e ? strerror(e) : "the run file is cut short");
    return SK_ERR_IO;
}

static FILE *tmpfile_in_tmpdir(void)
{
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/saker-sort-XXXXXX", tmp_dir());
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return NULL;
    unlink(tmpl);
    FILE *fp = fdopen(fd, "w+b");
    if (!fp) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return fp;
}

static bool write_rec(FILE *fp, const sk_sort_key *key, const char *data, size_t n)
{
    uint64_t n64 = n;
    return fwrite(key, sizeof(sk_sort_key), 1, fp) == 1 && fwrite(&n64, sizeof n64, 1, fp) == 1 &&
           (n == 0 || fwrite(data, 1, n, fp) == n);
}

// Makes fp, written to the end, a run of the given level (read from its start).
static sk_status add_run(sk_sorter *s, FILE *fp, unsigned level)
{
    if (fflush(fp) != 0 || fseek(fp, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(fp);
        return fail(s, "write", e);
    }
    sk_xgrow((void **)&s->runs, &s->rcap, s->nruns + 1, sizeof *s->runs);
    s->runs[s->nruns++] = (run){ .fp = fp, .level = level };
    return SK_OK;
}

// The next record of run r into its head: 1, or 0 at the end of the run, or -1 with errno set
// (0 when the file ends inside a record).
static int read_rec(run *r)
{
    uint64_t n;
    errno = 0;
    if (fread(&r->head.key, sizeof(sk_sort_key), 1, r->fp) != 1)
        return feof(r->fp) && !ferror(r->fp) ? 0 : -1;
    if (fread(&n, sizeof n, 1, r->fp) != 1 || n > ((uint64_t)1 << 32))
        return -1;
    if (n + 1 > r->cap) {
        free(r->head.data);
        r->cap = (size_t)n + 1 > 256 ? (size_t)n + 1 : 256;
        r->head.data = sk_xmalloc(r->cap);
    }
    if (n && fread(r->head.data, 1, (size_t)n, r->fp) != (size_t)n)
        return -1;
    r->head.n = (size_t)n;
    return 1;
}

static void close_run(run *r)
{
    free(r->head.data);
    r->head.data = NULL;
    r->cap = 0;
    if (r->fp)
        fclose(r->fp);
    r->fp = NULL;
}

// Heap of run indexes by head key (smallest first).
static bool run_less(const run *runs, size_t a, size_t b)
{
    return keycmp(&runs[a].head.key, &runs[b].head.key) < 0;
}

static void sift_down(const run *runs, size_t *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && run_less(runs, heap[l], heap[m]))
            m = l;
        if (l + 1 < n && run_less(runs, heap[l + 1], heap[m]))
            m = l + 1;
        if (m == i)
            return;
        size_t t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

// Merges runs[first..nruns) in key order into fn, or into out (a new run file) when out is set.
static sk_status
merge(sk_sorter *s, size_t first, FILE *out, sk_sorter_fn fn, void *ctx)
{
    run *runs = s->runs;
    size_t *heap = sk_xmalloc((s->nruns - first + 1) * sizeof *heap), n = 0;
    sk_status st = SK_OK;
    for (size_t i = first; i < s->nruns; i++) {
        int rc = read_rec(&runs[i]);
        if (rc < 0) {
            st = fail(s, "read back", ferror(runs[i].fp) ? errno : 0);
            goto out;
        }
        if (rc > 0)
            heap[n++] = i;
    }
    for (size_t i = n / 2; i-- > 0;)
        sift_down(runs, heap, n, i);
    while (n > 0) {
        run *r = &runs[heap[0]];
        if (out)
            st = write_rec(out, &r->head.key, r->head.data, r->head.n) ? SK_OK
                                                                       : fail(s, "write", errno);
        else
            st = fn(ctx, r->head.data, r->head.n);
        if (st != SK_OK)
            goto out;
        int rc = read_rec(r);
        if (rc < 0) {
            st = fail(s, "read back", ferror(r->fp) ? errno : 0);
            goto out;
        }
        if (rc == 0)
            heap[0] = heap[--n];
        sift_down(runs, heap, n, 0);
    }
out:
    free(heap);
    return st;
}

// While the last SK_SORTER_FANIN runs share a level, merges them into one run of the next level:
// at most SK_SORTER_FANIN - 1 runs of each level stay open (a few levels cover terabytes), and
// each record is rewritten once per level.
static sk_status cascade(sk_sorter *s)
{
    while (s->nruns >= SK_SORTER_FANIN) {
        size_t first = s->nruns - SK_SORTER_FANIN;
        unsigned level = s->runs[first].level;
        if (s->runs[s->nruns - 1].level != level)
            return SK_OK;
        FILE *fp = tmpfile_in_tmpdir();
        if (!fp)
            return fail(s, "write", errno);
        sk_status st = merge(s, first, fp, NULL, NULL);
        for (size_t i = first; i < s->nruns; i++)
            close_run(&s->runs[i]);
        s->nruns = first;
        if (st != SK_OK) {
            fclose(fp);
            return st;
        }
        if ((st = add_run(s, fp, level + 1)) != SK_OK)
            return st;
    }
    return SK_OK;
}

static sk_status spill(sk_sorter *s)
{
    if (s->nrecs > 1)
        qsort(s->recs, s->nrecs, sizeof *s->recs, reccmp);
    FILE *fp = tmpfile_in_tmpdir();
    if (!fp)
        return fail(s, "write", errno);
    for (size_t i = 0; i < s->nrecs; i++) {
        if (!write_rec(fp, &s->recs[i].key, s->recs[i].data, s->recs[i].n)) {
            int e = errno;
            fclose(fp);
            return fail(s, "write", e);
        }
    }
    sk_status st = add_run(s, fp, 0);
    if (st != SK_OK)
        return st;
    s->spilled++;
    free_recs(s);
    // The blocks just freed came from the arenas of whichever threads added hits; glibc keeps
    // them per arena, so without a trim each worker thread's arena holds up to a budget's worth.
    malloc_trim(0);
    return cascade(s);
}

sk_status sk_sorter_add(sk_sorter *s, const sk_sort_key *key, const char *data, size_t n)
{
    sk_xgrow((void **)&s->recs, &s->cap, s->nrecs + 1, sizeof *s->recs);
    rec *r = &s->recs[s->nrecs++];
    r->key = *key;
    r->data = sk_arena_alloc(&s->data, n ? n : 1);
    memcpy(r->data, data, n);
    r->n = n;
    s->used += n + sizeof *r;
    if (s->used >= s->budget)
        return spill(s);
    return SK_OK;
}

sk_status sk_sorter_drain(sk_sorter *s, sk_sorter_fn fn, void *ctx)
{
    sk_status st = SK_OK;
    if (s->nruns == 0) {
        if (s->nrecs > 1)
            qsort(s->recs, s->nrecs, sizeof *s->recs, reccmp);
        for (size_t i = 0; i < s->nrecs && st == SK_OK; i++)
            st = fn(ctx, s->recs[i].data, s->recs[i].n);
        free_recs(s);
        return st;
    }
    if (s->nrecs && (st = spill(s)) != SK_OK)
        return st;
    return merge(s, 0, NULL, fn, ctx);
}

size_t sk_sorter_runs(const sk_sorter *s)
{
    return s->spilled;
}

const char *sk_sorter_error(const sk_sorter *s)
{
    return s->err[0] ? s->err : NULL;
}

size_t sk_sorter_open_runs(const sk_sorter *s)
{
    return s->nruns;
}

void sk_sorter_free(sk_sorter *s)
{
    if (!s)
        return;
    free_recs(s);
    sk_arena_fini(&s->data);
    free(s->recs);
    for (size_t i = 0; i < s->nruns; i++)
        close_run(&s->runs[i]);
    free(s->runs);
    free(s);
}
