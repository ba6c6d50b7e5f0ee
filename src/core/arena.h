// Bump allocator for per-record data: everything is freed at once by sk_arena_reset, so the hot
// loop does no per-field malloc (STYLE 3.4.3).
#ifndef SK_CORE_ARENA_H
#define SK_CORE_ARENA_H

#include <stddef.h>

typedef struct sk_arena_block sk_arena_block;

typedef struct sk_arena {
    sk_arena_block *head; // current block (the list holds older ones)
    size_t block_size;
} sk_arena;

void sk_arena_init(sk_arena *a, size_t block_size);
void sk_arena_fini(sk_arena *a);
// Frees everything allocated since init; keeps the first block for reuse.
void sk_arena_reset(sk_arena *a);
// n bytes aligned for any scalar; valid until the next reset.
void *sk_arena_alloc(sk_arena *a, size_t n);
// A NUL-terminated copy of p[0..n).
char *sk_arena_strndup(sk_arena *a, const char *p, size_t n);

#endif
