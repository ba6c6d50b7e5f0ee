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
    rec head;     // current record of this run (data owned)
    int has_head;
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
    run *runs;
    size_t nruns, rcap;
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

static FILE *tmpfile_in_tmpdir(void)
{
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/saker-sort-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return NULL;
    unlink(tmpl);
    FILE *fp = fdopen(fd, "w+b");
    if (!fp)
        close(fd);
    return fp;
}

static sk_status spill(sk_sorter *s)
{
    if (s->nrecs > 1)
        qsort(s->recs, s->nrecs, sizeof *s->recs, reccmp);
    FILE *fp = tmpfile_in_tmpdir();
    if (!fp)
        return SK_ERR_IO;
    for (size_t i = 0; i < s->nrecs; i++) {
        uint64_t n = s->recs[i].n;
        if (fwrite(&s->recs[i].key, sizeof(sk_sort_key), 1, fp) != 1 ||
            fwrite(&n, sizeof n, 1, fp) != 1 ||
            (n && fwrite(s->recs[i].data, 1, (size_t)n, fp) != (size_t)n)) {
            fclose(fp);
            return SK_ERR_IO;
        }
    }
    if (fflush(fp) != 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return SK_ERR_IO;
    }
    sk_xgrow((void **)&s->runs, &s->rcap, s->nruns + 1, sizeof *s->runs);
    s->runs[s->nruns++] = (run){ .fp = fp };
    free_recs(s);
    // The blocks just freed came from the arenas of whichever threads added hits; glibc keeps
    // them per arena, so without a trim each worker thread's arena holds up to a budget's worth.
    malloc_trim(0);
    return SK_OK;
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

static int read_rec(run *r)
{
    uint64_t n;
    free(r->head.data);
    r->head.data = NULL;
    r->has_head = 0;
    if (fread(&r->head.key, sizeof(sk_sort_key), 1, r->fp) != 1)
        return 0;
    if (fread(&n, sizeof n, 1, r->fp) != 1 || n > ((uint64_t)1 << 32))
        return -1;
    r->head.data = sk_xmalloc(n ? (size_t)n : 1);
    if (n && fread(r->head.data, 1, (size_t)n, r->fp) != (size_t)n)
        return -1;
    r->head.n = (size_t)n;
    r->has_head = 1;
    return 1;
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
    for (size_t i = 0; i < s->nruns; i++)
        if (read_rec(&s->runs[i]) < 0)
            return SK_ERR_IO;
    // k-way merge; runs are few (each holds `budget` bytes), so a linear scan for the minimum is
    // cheaper than a heap in practice.
    for (;;) {
        run *best = NULL;
        for (size_t i = 0; i < s->nruns; i++)
            if (s->runs[i].has_head && (!best || keycmp(&s->runs[i].head.key, &best->head.key) < 0))
                best = &s->runs[i];
        if (!best)
            break;
        st = fn(ctx, best->head.data, best->head.n);
        if (st != SK_OK)
            return st;
        if (read_rec(best) < 0)
            return SK_ERR_IO;
    }
    return SK_OK;
}

size_t sk_sorter_runs(const sk_sorter *s)
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
    for (size_t i = 0; i < s->nruns; i++) {
        free(s->runs[i].head.data);
        if (s->runs[i].fp)
            fclose(s->runs[i].fp);
    }
    free(s->runs);
    free(s);
}
