// Unit tests for the bounded-memory hit sorter (--sort).
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "output/sorter.h"

typedef struct collected {
    char lines[4000][32];
    size_t n;
} collected;

static sk_status collect(void *ctx, const char *data, size_t n)
{
    collected *c = ctx;
    cr_assert_lt(n, sizeof c->lines[0]);
    memcpy(c->lines[c->n], data, n);
    c->lines[c->n][n] = '\0';
    c->n++;
    return SK_OK;
}

static void run(size_t budget, size_t count, size_t *runs, size_t *max_open)
{
    sk_sorter *s = sk_sorter_new(budget);
    *max_open = 0;
    srand(7);
    for (size_t i = 0; i < count; i++) {
        // Few distinct primary keys, so stability (input order on ties) is exercised.
        sk_sort_key k = { .k1 = (uint64_t)(rand() % 17), .k2 = 0, .k3 = 0, .seq = i };
        char line[32];
        int n = snprintf(line, sizeof line, "%02llu:%06zu", (unsigned long long)k.k1, i);
        cr_assert_eq(sk_sorter_add(s, &k, line, (size_t)n), SK_OK);
        if (sk_sorter_open_runs(s) > *max_open)
            *max_open = sk_sorter_open_runs(s);
    }
    static collected c;
    c.n = 0;
    cr_assert_eq(sk_sorter_drain(s, collect, &c), SK_OK);
    *runs = sk_sorter_runs(s);
    sk_sorter_free(s);
    cr_assert_eq(c.n, count);
    for (size_t i = 1; i < c.n; i++)
        cr_assert_lt(strcmp(c.lines[i - 1], c.lines[i]), 0, "out of order at %zu: %s then %s", i,
                     c.lines[i - 1], c.lines[i]);
}

Test(sorter, sorts_in_memory_when_under_budget)
{
    size_t runs, max_open;
    run(0, 4000, &runs, &max_open);
    cr_assert_eq(runs, 0);
}

Test(sorter, spills_runs_and_merges_them_when_over_budget)
{
    size_t runs, max_open;
    // About 60 bytes per record: a 4 KiB budget spills a run every ~70 records.
    run(4096, 4000, &runs, &max_open);
    cr_assert_gt(runs, 40, "only %zu runs were spilled", runs);
}

Test(sorter, merges_runs_as_they_pile_up_so_few_files_stay_open)
{
    size_t runs, max_open;
    // A 256-byte budget spills a run every 5 records: 800 runs, which a one-level merge kept
    // open at once (at 16 MiB a run, 1,024 runs, the usual descriptor limit, is 16 GB of hits).
    // Merged 16 at a time, at most 15 runs of each level stay open: 3 levels here.
    run(256, 4000, &runs, &max_open);
    cr_assert_eq(runs, 800, "only %zu runs were spilled", runs);
    cr_assert_lt(max_open, 3 * (SK_SORTER_FANIN - 1) + 1, "%zu runs open at once", max_open);
}

Test(sorter, empty_sorter_drains_nothing)
{
    sk_sorter *s = sk_sorter_new(0);
    static collected c;
    c.n = 0;
    cr_assert_eq(sk_sorter_drain(s, collect, &c), SK_OK);
    cr_assert_eq(c.n, 0);
    sk_sorter_free(s);
}
