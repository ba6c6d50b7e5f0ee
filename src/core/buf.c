// Bounded growable byte buffer.
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void sk_buf_init(sk_buf *b, size_t max)
{
    b->p = NULL;
    b->n = 0;
    b->cap = 0;
    b->max = max;
    b->full = false;
}

void sk_buf_fini(sk_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

void sk_buf_reset(sk_buf *b)
{
    b->n = 0;
    if (b->p)
        b->p[0] = '\0';
}

static sk_status reserve(sk_buf *b, size_t extra)
{
    if (extra > b->max || b->n > b->max - extra)
        return SK_ERR_LIMIT;
    size_t need = b->n + extra + 1;
    if (need > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < need)
            nc *= 2;
        b->p = sk_xrealloc(b->p, nc);
        b->cap = nc;
    }
    return SK_OK;
}

sk_status sk_buf_add(sk_buf *b, const void *p, size_t n)
{
    sk_status st = reserve(b, n);
    if (st != SK_OK)
        return st;
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return SK_OK;
}

sk_status sk_buf_addc(sk_buf *b, char c)
{
    return sk_buf_add(b, &c, 1);
}

sk_status sk_buf_adds(sk_buf *b, const char *s)
{
    return sk_buf_add(b, s, strlen(s));
}

sk_status sk_buf_vaddf(sk_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (len < 0)
        return SK_ERR_FORMAT;
    sk_status st = reserve(b, (size_t)len);
    if (st != SK_OK)
        return st;
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    b->n += (size_t)len;
    return SK_OK;
}

sk_status sk_buf_addf(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sk_status st = sk_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *sk_buf_take(sk_buf *b)
{
    char *p = b->p ? b->p : sk_xstrdup("");
    b->p = NULL;
    b->n = b->cap = 0;
    return p;
}

void sk_buf_put(sk_buf *b, const void *p, size_t n)
{
    if (sk_buf_add(b, p, n) != SK_OK)
        b->full = true;
}

void sk_buf_putc(sk_buf *b, char c)
{
    sk_buf_put(b, &c, 1);
}

void sk_buf_puts(sk_buf *b, const char *s)
{
    sk_buf_put(b, s, strlen(s));
}

void sk_buf_printf(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (sk_buf_vaddf(b, fmt, ap) != SK_OK)
        b->full = true;
    va_end(ap);
}
