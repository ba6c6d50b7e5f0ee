// Bounded growable byte buffer (curl's dynbuf): refuses to grow past the cap given at init.
#ifndef SK_CORE_BUF_H
#define SK_CORE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "status.h"

typedef struct sk_buf {
    char *p;    // always NUL-terminated when non-NULL
    size_t n;   // bytes used (excluding the terminating NUL)
    size_t cap; // bytes allocated
    size_t max; // most bytes it may hold
    bool full;  // a put/printf call did not fit (the text is cut there)
} sk_buf;

void sk_buf_init(sk_buf *b, size_t max);
void sk_buf_fini(sk_buf *b);
// Empties the buffer, keeping its memory.
void sk_buf_reset(sk_buf *b);
// Append; SK_ERR_LIMIT (and nothing appended) when the result would exceed max.
SK_NODISCARD sk_status sk_buf_add(sk_buf *b, const void *p, size_t n);
SK_NODISCARD sk_status sk_buf_addc(sk_buf *b, char c);
SK_NODISCARD sk_status sk_buf_adds(sk_buf *b, const char *s);
SK_NODISCARD sk_status sk_buf_addf(sk_buf *b, const char *fmt, ...) SK_PRINTF(2, 3);
SK_NODISCARD sk_status sk_buf_vaddf(sk_buf *b, const char *fmt, va_list ap);
// Best-effort variants for building reports: text that does not fit is dropped and b->full is
// set, so a caller checks once at the end instead of after every call.
void sk_buf_put(sk_buf *b, const void *p, size_t n);
void sk_buf_putc(sk_buf *b, char c);
void sk_buf_puts(sk_buf *b, const char *s);
void sk_buf_printf(sk_buf *b, const char *fmt, ...) SK_PRINTF(2, 3);
// Hands the heap string to the caller (who frees it) and leaves the buffer empty.
char *sk_buf_take(sk_buf *b);
static inline const char *sk_buf_str(const sk_buf *b)
{
    return b->p ? b->p : "";
}

#endif
