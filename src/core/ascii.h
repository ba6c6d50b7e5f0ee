// ASCII case folding eight bytes at a time (rule ids and field names, prefilter literals).
#ifndef SK_CORE_ASCII_H
#define SK_CORE_ASCII_H

#include <stdint.h>

// ASCII A-Z lower-cased in the eight bytes of w at once (bytes >= 0x80 are left alone).
static inline uint64_t sk_ascii_lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t low7 = w & ~high;
    uint64_t ge_a = low7 + (0x80 - 'A') * ones;     // high bit set where byte >= 'A'
    uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * ones; // high bit set where byte > 'Z'
    uint64_t upper = ge_a & ~gt_z & ~w & high;
    return w | (upper >> 2); // 0x80 >> 2 = 0x20
}

#endif
