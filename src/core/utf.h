// UTF-16LE <-> UTF-8 conversion and UTF-8 validation. Invalid sequences become U+FFFD, so every
// output is valid UTF-8 whatever the input.
#ifndef SK_CORE_UTF_H
#define SK_CORE_UTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

// Appends the UTF-8 form of nunits UTF-16LE code units at p. Lone surrogates become U+FFFD.
// A NUL code unit is kept as a NUL byte (callers that want C strings stop at the first NUL).
SK_NODISCARD sk_status sk_utf16le_to_utf8(sk_buf *out, const uint8_t *p, size_t nunits);
// Appends the UTF-16LE form of the UTF-8 text s[0..n). Invalid bytes become U+FFFD.
SK_NODISCARD sk_status sk_utf8_to_utf16le(sk_buf *out, const char *s, size_t n);
// Decodes one code point from s[0..n) into *cp; returns bytes used (>= 1). Invalid -> U+FFFD, 1.
size_t sk_utf8_decode(const char *s, size_t n, uint32_t *cp);
// Writes the UTF-8 encoding of code point cp (U+FFFD for a surrogate or one past U+10FFFF) to
// out; returns its length (1 to 4).
size_t sk_utf8_encode(char out[4], uint32_t cp);
// Appends the UTF-8 encoding of code point cp.
SK_NODISCARD sk_status sk_utf8_put(sk_buf *out, uint32_t cp);
// True when s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool sk_utf8_valid(const char *s, size_t n);

// Length of the longest start of s, at most max bytes, that does not end inside a UTF-8
// character: where s (which holds more than max bytes) may be cut.
static inline size_t sk_utf8_cut(const char *s, size_t max)
{
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

#endif
