// The bytes a JSON string cannot hold as they are: '"', '\\', control characters (< 0x20), and
// the bytes >= 0x80 that start or continue UTF-8 (which the callers check or pass on). Both the
// JSON scanner (src/input/json_scan.c) and the JSON writer (src/output/json.c) skip the runs of
// other bytes a block at a time.
#ifndef SK_CORE_JSON_BYTES_H
#define SK_CORE_JSON_BYTES_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SK_JSON_ONES 0x0101010101010101ull
#define SK_JSON_HIGH 0x8080808080808080ull

#if !defined(__SSE2__) || defined(SK_JSON_SCAN_SWAR)
// Mask with bit 7 of each byte of w that is '"', '\\', < 0x20 or >= 0x80. Only the lowest set
// bit is exact (a borrow can set bits above a true hit), which is the only one used.
static inline uint64_t sk_json_special8(uint64_t w)
{
    uint64_t q = w ^ (SK_JSON_ONES * '"'), b = w ^ (SK_JSON_ONES * '\\');
    uint64_t zq = (q - SK_JSON_ONES) & ~q, zb = (b - SK_JSON_ONES) & ~b;
    uint64_t lt = (w - SK_JSON_ONES * 0x20u) & ~w;
    return (zq | zb | lt | w) & SK_JSON_HIGH;
}
#endif

static inline bool sk_json_is_special(unsigned char c)
{
    return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

// sk_json_first_special(p): the index of the first special byte of the SK_JSON_BLOCK bytes at p,
// or SK_JSON_BLOCK. SSE2 (every x86-64) looks at 16 bytes with three compares (a signed "less
// than 0x20" also catches the bytes >= 0x80); elsewhere (or built with SK_JSON_SCAN_SWAR, as one
// unit test builds the scanner) eight bytes in a 64-bit word; without either, byte by byte
// (SK_JSON_BLOCK 0).
#if defined(__SSE2__) && !defined(SK_JSON_SCAN_SWAR)
#include <emmintrin.h>
#define SK_JSON_BLOCK 16
static inline unsigned sk_json_first_special(const char *p)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                             _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
    unsigned bits = (unsigned)_mm_movemask_epi8(m);
    return bits ? (unsigned)__builtin_ctz(bits) : SK_JSON_BLOCK;
}
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SK_JSON_BLOCK 8
static inline unsigned sk_json_first_special(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    uint64_t m = sk_json_special8(w);
    return m ? (unsigned)__builtin_ctzll(m) >> 3 : SK_JSON_BLOCK;
}
#else
#define SK_JSON_BLOCK 0
#endif

// First byte in [p, end) that is special, or end.
static inline const char *sk_json_find_special(const char *p, const char *end)
{
#if SK_JSON_BLOCK
    while (end - p >= SK_JSON_BLOCK) {
        unsigned k = sk_json_first_special(p);
        if (k < SK_JSON_BLOCK)
            return p + k;
        p += SK_JSON_BLOCK;
    }
#endif
    while (p < end && !sk_json_is_special((unsigned char)*p))
        p++;
    return p;
}

#endif
