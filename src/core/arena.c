// Bump allocator with a chain of blocks; reset keeps the largest block so steady state allocates
// nothing.
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

struct sk_arena_block {
    sk_arena_block *next;
    size_t size;
    size_t used;
    max_align_t data[];
};

void sk_arena_init(sk_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 16384;
    a->huge = false;
}

void sk_arena_init_huge(sk_arena *a)
{
    a->head = NULL;
    a->block_size = SK_ARENA_HUGE;
    a->huge = true;
}

// A block of sz bytes in all (header included).
static sk_arena_block *new_block(const sk_arena *a, size_t sz)
{
    if (a->huge && sz % SK_ARENA_HUGE == 0) {
        sk_arena_block *b = aligned_alloc(SK_ARENA_HUGE, sz);
        if (b) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
            // Advice only: without transparent huge pages the block is an ordinary one.
            (void)madvise(b, sz, MADV_HUGEPAGE);
#endif
            return b;
        }
    }
    return sk_xmalloc(sz);
}

void sk_arena_fini(sk_arena *a)
{
    sk_arena_block *b = a->head;
    while (b) {
        sk_arena_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}

void sk_arena_reset(sk_arena *a)
{
    if (!a->head)
        return;
    // Keep the biggest block: steady state then needs a single block.
    sk_arena_block *keep = a->head;
    for (sk_arena_block *b = a->head; b; b = b->next)
        if (b->size > keep->size)
            keep = b;
    sk_arena_block *b = a->head;
    while (b) {
        sk_arena_block *n = b->next;
        if (b != keep)
            free(b);
        b = n;
    }
    keep->next = NULL;
    keep->used = 0;
    a->head = keep;
}

void *sk_arena_alloc(sk_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    sk_arena_block *b = a->head;
    if (!b || b->size - b->used < n) {
        // A huge arena's blocks are whole huge pages, the header inside; others add the header.
        size_t hdr = a->huge ? sizeof(*b) : 0;
        size_t sz = a->block_size;
        while (sz - hdr < n)
            sz *= 2;
        b = new_block(a, sz + sizeof(*b) - hdr);
        b->size = sz - hdr;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

char *sk_arena_strndup(sk_arena *a, const char *p, size_t n)
{
    char *s = sk_arena_alloc(a, n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
