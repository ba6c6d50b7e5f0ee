// A fast JSON scanner for the common case of the NDJSON reader: one well-formed document, parsed
// eight bytes at a time, with the same callbacks (and the same decoded text) as yajl's SAX API.
//
// It is not a second JSON parser with its own idea of what is valid: it accepts a strict subset
// of what yajl accepts (RFC 8259 JSON with valid UTF-8, whitespace limited to space, tab, CR and
// LF) and gives up, returning false, on anything else, or when a callback returns 0. The caller
// then parses the document again with yajl, which makes the decision and writes the error
// message. So every document gets yajl's verdict and yajl's diagnostics; this scanner only makes
// the documents yajl would accept cheaper to read. One decoding differs on purpose: a surrogate
// escape that is not half of a pair becomes U+FFFD, where yajl decodes "\ud800\ud800" to
// U+10000 and a lone high surrogate to '?' (pairs decode alike). tests/fuzz/fuzz_json_scan.c
// checks, on arbitrary input, that whenever the scanner accepts, yajl accepts too and makes the
// same callbacks with the same bytes (its input with such escapes written as \ufffd).
#ifndef SK_INPUT_JSON_SCAN_H
#define SK_INPUT_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sk_json_sax {
    int (*null)(void *ctx);
    int (*boolean)(void *ctx, int value);
    int (*number)(void *ctx, const char *s, size_t n); // the number's JSON text
    // clean: s[0..n) is known to be valid UTF-8 without NUL bytes (a "\u0000" escape decodes to
    // a NUL byte, as with yajl; such a string is passed with clean false).
    int (*string)(void *ctx, const char *s, size_t n, bool clean);
    int (*start_map)(void *ctx);
    int (*map_key)(void *ctx, const char *s, size_t n, bool clean);
    int (*end_map)(void *ctx);
    int (*start_array)(void *ctx);
    int (*end_array)(void *ctx);
} sk_json_sax;

// Scratch memory for decoded strings, reused across calls (zero-initialise; free with
// sk_json_scratch_free). A string with escapes is decoded at p + used (NUL-terminated), and the
// next one overwrites it; a caller that keeps one moves used past its NUL. Kept strings stay put
// while the scanner reads a text of len bytes when the caller has reserved used + len + 1 bytes
// (sk_json_scratch_reserve) before: a string never decodes to more than its text, quotes
// included, and the NUL, so the strings of one text always fit in it.
typedef struct sk_json_scratch {
    char *p;
    size_t cap;
    size_t used;
} sk_json_scratch;

void sk_json_scratch_free(sk_json_scratch *s);
// Room for n bytes in all (p may move). False when memory ran out.
bool sk_json_scratch_reserve(sk_json_scratch *s, size_t n);

// Parses text[0..len) as exactly one JSON value (whitespace around it allowed), making the
// callbacks as it goes. True when the whole text was read and every callback returned non-zero.
// False means "not decided here": callbacks may have been made; the caller undoes their effects
// and asks yajl. Then *stop (when stop is not NULL) is where it stopped: the offset of the first
// byte that is not JSON (len: the text ends too soon; in a string, the byte itself: a control
// character, the character after a backslash that escapes nothing, the first non-hex digit of a
// \u escape, the first byte of invalid UTF-8), or of the token a callback refused; SIZE_MAX when
// it gave up on text yajl may accept (nesting past 1024, a vertical tab or form feed between
// tokens, memory). When yajl rejects the text too, that is where the error is: yajl's own offset
// is one byte or one token off for some errors.
bool sk_json_scan(const sk_json_sax *cb,
                  void *ctx,
                  const char *text,
                  size_t len,
                  sk_json_scratch *scratch,
                  size_t *stop);

// Rewrites in t[0..n), in place and at the same length, every \u escape of a surrogate that is
// not half of a pair as \ufffd: how this scanner decodes it, for text that goes to yajl (its own
// decoding of those is wrong). True when it changed something.
bool sk_json_unpaired_to_fffd(char *t, size_t n);

#endif
