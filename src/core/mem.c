// Fatal-on-failure allocation helpers.
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sk_xoom(void)
{
    fputs("saker: out of memory\n", stderr);
    abort();
}

static void oom(void)
{
    sk_xoom();
}

void *sk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *sk_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void *sk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *sk_xstrdup(const char *s)
{
    return sk_xstrndup(s, strlen(s));
}

char *sk_xstrndup(const char *s, size_t n)
{
    char *p = sk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void sk_xgrow(void **p, size_t *cap, size_t need, size_t elsize)
{
    if (need <= *cap)
        return;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) {
        if (nc > ((size_t)-1) / 2 / elsize)
            oom();
        nc *= 2;
    }
    *p = sk_xrealloc(*p, nc * elsize);
    *cap = nc;
}
