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

static void run(size_t budget, size_t count, size_t *runs)
{
    sk_sorter *s = sk_sorter_new(budget);
    srand(7);
    for (size_t i = 0; i < count; i++) {
        // Few distinct primary keys, so stability (input order on ties) is exercised.
        sk_sort_key k = { .k1 = (uint64_t)(rand() % 17), .k2 = 0, .k3 = 0, .seq = i };
        char line[32];
        int n = snprintf(line, sizeof line, "%02llu:%06zu", (unsigned long long)k.k1, i);
        cr_assert_eq(sk_sorter_add(s, &k, line, (size_t)n), SK_OK);
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
    size_t runs;
    run(0, 4000, &runs);
    cr_assert_eq(runs, 0);
}

Test(sorter, spills_runs_and_merges_them_when_over_budget)
{
    size_t runs;
    // About 60 bytes per record: a 4 KiB budget spills a run every ~70 records.
    run(4096, 4000, &runs);
    cr_assert_gt(runs, 40, "only %zu runs were spilled", runs);
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
