// Allocation wrappers: out of memory cannot be caused by input (every input size is capped in
// limits.h), so allocation failure is fatal, as in jq's jv_mem_alloc.
#ifndef SK_CORE_MEM_H
#define SK_CORE_MEM_H

#include <stddef.h>

void *sk_xmalloc(size_t n);
// Reports that memory is exhausted and aborts (for allocations made without these helpers).
_Noreturn void sk_xoom(void);
void *sk_xcalloc(size_t count, size_t size);
void *sk_xrealloc(void *p, size_t n);
char *sk_xstrdup(const char *s);
char *sk_xstrndup(const char *s, size_t n);
// Grows *p (an array of *cap elements of elsize bytes) so that it holds at least need elements.
void sk_xgrow(void **p, size_t *cap, size_t need, size_t elsize);

#endif
