// Sorting hits with bounded memory (--sort): records (a fixed-size key plus the formatted hit)
// are collected up to a memory budget, then sorted and spilled to an unlinked temporary file as a
// run; runs are merged in groups as they pile up, and at the end the rest are merged. Ties keep
// input order (the sequence number is the last key).
#ifndef SK_OUTPUT_SORTER_H
#define SK_OUTPUT_SORTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct sk_sort_key {
    uint64_t k1; // primary (e.g. time, or level inverted)
    uint64_t k2; // secondary (e.g. rule index)
    uint64_t k3; // tertiary (e.g. time)
    uint64_t seq; // input order
} sk_sort_key;

typedef struct sk_sorter sk_sorter;

// budget: bytes of records kept in memory before a run is spilled (0 = SK_SORTER_BUDGET).
#define SK_SORTER_BUDGET ((size_t)16 << 20)
sk_sorter *sk_sorter_new(size_t budget);
// Adds a record (data is copied). SK_ERR_IO when a run cannot be written (temp dir full):
// sk_sorter_error says why.
SK_NODISCARD sk_status sk_sorter_add(sk_sorter *s, const sk_sort_key *key, const char *data,
                                     size_t n);
typedef sk_status (*sk_sorter_fn)(void *ctx, const char *data, size_t n);
// Calls fn with every record in key order; stops at the first non-OK status and returns it.
SK_NODISCARD sk_status sk_sorter_drain(sk_sorter *s, sk_sorter_fn fn, void *ctx);
// Runs spilled from memory to disk so far (for tests and --stats).
size_t sk_sorter_runs(const sk_sorter *s);
// Run files open now. Runs are merged SK_SORTER_FANIN at a time as they pile up, so a sort of any
// size keeps a few dozen files open (the one-level merge held one per 16 MiB of hits).
#define SK_SORTER_FANIN 16u
size_t sk_sorter_open_runs(const sk_sorter *s);
// After SK_ERR_IO from add or drain: "cannot write a sort run in DIR: REASON" (or read back);
// NULL when the runs did not fail (an SK_ERR_IO from drain's fn is the caller's own).
const char *sk_sorter_error(const sk_sorter *s);
void sk_sorter_free(sk_sorter *s);

#endif
