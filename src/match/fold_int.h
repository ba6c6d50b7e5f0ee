// Case folding for the value predicates (private to src/match).
//
// Folding is simple Unicode case folding (CaseFolding.txt status C) restricted to what stays cheap:
// ASCII, and the two-byte UTF-8 range U+0080..U+0556 (Latin-1 Supplement, Latin Extended-A/B, IPA,
// Greek and Coptic, Cyrillic, Cyrillic Supplement, Armenian), which holds every cased letter of
// the two-byte range (U+0557..U+07FF has none but the ligature U+0587). A mapping is only applied
// when the folded character has the same UTF-8 length, so folding never changes a text's length or
// the positions of its characters. Left alone on purpose: U+00DF, U+0130 and U+0587 (no simple
// folding), U+017F long s and U+212A Kelvin sign (fold to ASCII, shorter), U+023A/U+023E (fold to
// three-byte forms), and everything of three bytes and more. Invalid UTF-8 bytes are copied
// unchanged.
#ifndef SK_MATCH_FOLD_INT_H
#define SK_MATCH_FOLD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ASCII lower-case map (bytes >= 0x80 map to themselves).
extern const uint8_t sk_fold_ascii[256];

// Writes the folded form of src[0..n) to dst (same length; dst may equal src).
void sk_fold_utf8(uint8_t *dst, const uint8_t *src, size_t n);
// True when folding can change some byte of s[0..n) beyond ASCII letters, that is when s holds a
// byte that may belong to a two-byte UTF-8 sequence that folds (0x80..0xD5).
bool sk_fold_needs_utf8(const uint8_t *s, size_t n);

#endif
