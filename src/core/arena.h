// Bump allocator for per-record data: everything is freed at once by sk_arena_reset, so the hot
// loop does no per-field malloc (STYLE 3.4.3).
#ifndef SK_CORE_ARENA_H
#define SK_CORE_ARENA_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sk_arena_block sk_arena_block;

typedef struct sk_arena {
    sk_arena_block *head; // current block (the list holds older ones)
    size_t block_size;
    bool huge; // blocks of SK_ARENA_HUGE bytes, backed by transparent huge pages where possible
} sk_arena;

// The block size of a huge arena: one transparent huge page on x86-64 and arm64 (4 KiB pages).
#define SK_ARENA_HUGE ((size_t)2 << 20)

void sk_arena_init(sk_arena *a, size_t block_size);
// An arena for a large, long-lived structure (the compiled ruleset, tens of MiB): its blocks are
// SK_ARENA_HUGE bytes, aligned to that size and advised as huge pages (Linux madvise), so filling
// it costs one page fault per 2 MiB instead of one per 4 KiB. Only memory that is used densely
// belongs here: a huge page is resident as a whole once touched.
void sk_arena_init_huge(sk_arena *a);
void sk_arena_fini(sk_arena *a);
// Frees everything allocated since init; keeps the first block for reuse.
void sk_arena_reset(sk_arena *a);
// n bytes aligned for any scalar; valid until the next reset.
void *sk_arena_alloc(sk_arena *a, size_t n);
// A NUL-terminated copy of p[0..n).
char *sk_arena_strndup(sk_arena *a, const char *p, size_t n);

#endif
