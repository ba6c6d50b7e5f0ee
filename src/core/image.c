// Images of object graphs (see image.h).
#include "image.h"

#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "mem.h"

// Objects are 8-byte aligned (no struct here needs more; pointer fields are then 8-byte words of
// the image, one bit each in the relocation map); texts are not aligned.
#define ALIGN 8u

void sk_img_w_init(sk_img_w *w)
{
    memset(w, 0, sizeof(*w));
}

void sk_img_w_fini(sk_img_w *w)
{
    if (w->buf)
        munmap(w->buf, w->cap);
    free(w->map);
    free(w->keys);
    free(w->offs);
    free(w->sizes);
    free(w->texts);
    memset(w, 0, sizeof(*w));
}

void sk_img_fail(sk_img_w *w)
{
    w->failed = true;
}

static size_t slot_of(uintptr_t p, size_t mask)
{
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 29) & mask;
}

// The map slot of address p: its entry, or the empty slot where it goes.
static size_t map_slot(const sk_img_w *w, uintptr_t p)
{
    size_t mask = w->mapcap - 1, i = slot_of(p, mask);
    while (w->keys[i] && w->keys[i] != p)
        i = (i + 1) & mask;
    return i;
}

static void map_grow(sk_img_w *w)
{
    size_t oldcap = w->mapcap;
    uintptr_t *keys = w->keys;
    uint32_t *offs = w->offs, *sizes = w->sizes;
    w->mapcap = oldcap ? oldcap * 2 : 4096;
    w->keys = sk_xcalloc(w->mapcap, sizeof(uintptr_t));
    w->offs = sk_xcalloc(w->mapcap, sizeof(uint32_t));
    w->sizes = sk_xcalloc(w->mapcap, sizeof(uint32_t));
    for (size_t i = 0; i < oldcap; i++)
        if (keys[i]) {
            size_t j = map_slot(w, keys[i]);
            w->keys[j] = keys[i];
            w->offs[j] = offs[i];
            w->sizes[j] = sizes[i];
        }
    free(keys);
    free(offs);
    free(sizes);
}

// Grows the image buffer to hold need bytes: anonymous memory advised as huge pages (an image of
// the SigmaHQ rules is 18 MiB: ten page faults, not four thousand), moved by mremap.
static void reserve(sk_img_w *w, size_t need)
{
    if (need <= w->cap)
        return;
    const size_t huge = (size_t)2 << 20;
    size_t cap = w->cap ? w->cap * 2 : huge;
    while (cap < need)
        cap *= 2;
    void *p = w->buf ? mremap(w->buf, w->cap, cap, MREMAP_MAYMOVE)
                     : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        sk_xoom();
#ifdef MADV_HUGEPAGE
    (void)madvise(p, cap, MADV_HUGEPAGE);
#endif
    w->buf = p;
    w->cap = cap;
}

// Appends p[0..n) at the next multiple of align (n 0: one zero byte); its position.
static sk_img_off append(sk_img_w *w, const void *p, size_t n, size_t align)
{
    size_t at = (w->len + align - 1) & ~(align - 1);
    size_t size = n ? n : 1;
    reserve(w, at + size);
    memset(w->buf + w->len, 0, at - w->len);
    if (n)
        memcpy(w->buf + at, p, n);
    else
        w->buf[at] = 0;
    w->len = at + size;
    if (w->len >= UINT32_MAX) // positions are kept in 32 bits
        w->failed = true;
    return (sk_img_off)at + 1;
}

static sk_img_off put_aligned(sk_img_w *w, const void *p, size_t n, size_t align)
{
    if (!p)
        return 0;
    if ((w->mapn + 1) * 2 > w->mapcap)
        map_grow(w);
    size_t slot = map_slot(w, (uintptr_t)p);
    if (w->keys[slot] && w->sizes[slot] >= n)
        return w->offs[slot];
    sk_img_off o = append(w, p, n, align);
    if (!w->keys[slot])
        w->mapn++;
    w->keys[slot] = (uintptr_t)p;
    w->offs[slot] = (uint32_t)o;
    w->sizes[slot] = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return o;
}

sk_img_off sk_img_put(sk_img_w *w, const void *p, size_t n)
{
    return p ? append(w, p, n, ALIGN) : 0;
}

sk_img_off sk_img_put_shared(sk_img_w *w, const void *p, size_t n)
{
    return put_aligned(w, p, n, ALIGN);
}

// A quick hash for the text table (texts are short: a word at a time).
static uint64_t text_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        h = (h ^ x) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (i < n) {
        uint64_t x = 0;
        memcpy(&x, s + i, n - i);
        h = (h ^ x) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h;
}

// Texts are kept once by content too (field names, modifiers and paths repeat in every rule).
static sk_img_off put_text(sk_img_w *w, const void *p, size_t n)
{
    if (!p)
        return 0;
    if ((w->textn + 1) * 2 > w->textcap) {
        size_t oldcap = w->textcap;
        uint64_t *old = w->texts;
        w->textcap = oldcap ? oldcap * 2 : 4096;
        w->texts = sk_xcalloc(w->textcap, sizeof(uint64_t));
        for (size_t i = 0; i < oldcap; i++)
            if (old[i]) {
                size_t j = (size_t)(old[i] >> 32) & (w->textcap - 1);
                while (w->texts[j])
                    j = (j + 1) & (w->textcap - 1);
                w->texts[j] = old[i];
            }
        free(old);
    }
    uint64_t h = text_hash(p, n) >> 32;
    size_t mask = w->textcap - 1, i = (size_t)h & mask;
    for (; w->texts[i]; i = (i + 1) & mask) {
        sk_img_off o = (uint32_t)w->texts[i];
        if (w->texts[i] >> 32 == h && o - 1 + n <= w->len && memcmp(w->buf + o - 1, p, n) == 0)
            return o;
    }
    sk_img_off o = append(w, p, n, 1);
    w->texts[i] = h << 32 | (uint32_t)o;
    w->textn++;
    return o;
}

sk_img_off sk_img_str(sk_img_w *w, const char *s)
{
    return s ? put_text(w, s, strlen(s) + 1) : 0;
}

sk_img_off sk_img_text(sk_img_w *w, const char *s, size_t n)
{
    return s ? put_text(w, s, n + 1) : 0;
}

sk_img_off sk_img_bytes(sk_img_w *w, const void *p, size_t n)
{
    return put_text(w, p, n);
}

sk_img_off sk_img_ref(sk_img_w *w, const void *p)
{
    if (!p)
        return 0;
    if (w->mapcap) {
        size_t slot = map_slot(w, (uintptr_t)p);
        if (w->keys[slot])
            return w->offs[slot];
    }
    w->failed = true;
    return 0;
}

void *sk_img_at(sk_img_w *w, sk_img_off obj)
{
    return obj ? w->buf + obj - 1 : NULL;
}

void sk_img_link(sk_img_w *w, sk_img_off obj, size_t at, sk_img_off target)
{
    if (!obj) {
        w->failed = true;
        return;
    }
    uint64_t pos = obj - 1 + at;
    uint64_t v = target;
    memcpy(w->buf + pos, &v, sizeof v);
    if (pos % 8 != 0) { // a pointer field is a word of an 8-byte aligned struct
        w->failed = true;
        return;
    }
    size_t word = (size_t)(pos / 8), need = word / 64 + 1;
    if (need > w->nmap) {
        size_t old = w->capmap;
        sk_xgrow((void **)&w->map, &w->capmap, need, sizeof(uint64_t));
        memset(w->map + old, 0, (w->capmap - old) * sizeof(uint64_t));
        w->nmap = need;
    }
    w->map[word / 64] |= 1ull << (word % 64);
    w->nrelocs++;
}

size_t sk_img_map_words(size_t size)
{
    return (size / 8 + 63) / 64;
}

const uint64_t *sk_img_map(sk_img_w *w)
{
    size_t need = sk_img_map_words(w->len);
    if (need > w->capmap) {
        size_t old = w->capmap;
        sk_xgrow((void **)&w->map, &w->capmap, need, sizeof(uint64_t));
        memset(w->map + old, 0, (w->capmap - old) * sizeof(uint64_t));
    }
    return w->map;
}

bool sk_img_relocate(unsigned char *block, size_t size, const uint64_t *map)
{
    size_t nwords = sk_img_map_words(size);
    // Only the last map word can mark a field past the end: checked once, not per field.
    if (nwords && map[nwords - 1]) {
        uint64_t last = map[nwords - 1];
        size_t pos = ((nwords - 1) * 64 + 63 - (size_t)__builtin_clzll(last)) * 8;
        if (pos > size || size - pos < 8)
            return false;
    }
    // A field holds a position (offset + 1, at most size) or 0: an address is block - 1 + it.
    const uintptr_t base = (uintptr_t)block - 1;
    for (size_t k = 0; k < nwords; k++) {
        unsigned char *words = block + k * 64 * 8;
        for (uint64_t bits = map[k]; bits; bits &= bits - 1) {
            unsigned char *f = words + (size_t)__builtin_ctzll(bits) * 8;
            uint64_t v;
            memcpy(&v, f, sizeof v);
            if (v > size)
                return false;
            uintptr_t a = v ? base + (uintptr_t)v : 0;
            memcpy(f, &a, sizeof a);
        }
    }
    return true;
}

static inline uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t sk_img_hash(const void *data, size_t n, uint64_t seed)
{
    // Four independent lanes of multiply-xor, so that the loop is not one long multiply chain;
    // a lane's position is in its constant, so that words swapped between lanes differ.
    const unsigned char *p = data;
    uint64_t a = seed ^ 0x9E3779B97F4A7C15ull, b = seed + n, c = ~seed, d = seed * 31 + 7;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t x[4];
        memcpy(x, p + i, 32);
        a = (a ^ x[0]) * 0x87c37b91114253d5ull;
        b = (b ^ x[1]) * 0x4cf5ad432745937full;
        c = (c ^ x[2]) * 0xff51afd7ed558ccdull;
        d = (d ^ x[3]) * 0xc4ceb9fe1a85ec53ull;
    }
    uint64_t h = mix(a) ^ mix(b + 1) ^ mix(c + 2) ^ mix(d + 3);
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return mix(h ^ n);
}
