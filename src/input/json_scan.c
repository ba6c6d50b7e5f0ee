// The fast JSON scanner (see json_scan.h for what it accepts and why it may give up).
//
// Strings are the bulk of Winlogbeat documents (a PowerShell script block is kilobytes of text
// with an escape every line, and every path separator escaped), so the string loop looks at 16
// bytes at a time (SSE2; 8 elsewhere) for the bytes that need attention: the closing quote, a
// backslash, a control character (invalid in JSON: give up) and a byte >= 0x80 (UTF-8, validated
// once the string's end is known); past the first block, 32 at a time on CPUs with AVX2. A string
// without escapes is passed to the callback in place; one with escapes is decoded into the scratch
// buffer, each run copied as it is scanned. Containers are tracked with a bit stack, so nesting
// costs no recursion.
#include "json_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_bytes.h"
#include "core/mem.h"
#include "core/utf.h"

// Deeper documents are left to yajl (the reader's own limit is far below this).
#define MAX_NEST 1024u

void sk_json_scratch_free(sk_json_scratch *s)
{
    free(s->p);
    s->p = NULL;
    s->cap = s->used = 0;
}

// What each simple escape decodes to (0: not a simple escape).
static const char unescaped[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

// The code unit of the four hex digits at p, or -1.
static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

static bool ensure(sk_json_scratch *s, size_t n)
{
    if (s->cap >= n)
        return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p)
        return false;
    s->p = p;
    s->cap = cap;
    return true;
}

bool sk_json_scratch_reserve(sk_json_scratch *s, size_t n)
{
    return ensure(s, n);
}

// The code point of the UTF-16 surrogate escape cp just read, *pp past it: a high surrogate and
// the low one escaped right after it are one code point (*pp then past both); any other is
// U+FFFD, as an invalid UTF-8 byte is. (yajl decodes "\ud800\ud800" to U+10000, a lone high
// surrogate to '?' and a lone low one to a CESU-8 form.)
static uint32_t surrogate(uint32_t cp, const char **pp, const char *end)
{
    const char *p = *pp;
    if (cp > 0xDBFF || end - p < 6 || p[0] != '\\' || p[1] != 'u')
        return 0xFFFD;
    int lo = hex4(p + 2); // invalid: the next escape is read (and refused) on its own
    if (lo < 0xDC00 || lo > 0xDFFF)
        return 0xFFFD;
    *pp = p + 6;
    return 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
}

// The offset of the first UTF-8 sequence of s[0..n) that yajl refuses (a byte that cannot start
// one, or one cut short: leads 0xC0-0xF7 take 1 to 3 continuation bytes), or n. yajl lets
// overlong forms, surrogates and code points past U+10FFFF through, which this scanner refuses:
// for those it gives up and yajl decides (the reader then repairs them).
static size_t yajl_utf8_error_at(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t more = c < 0x80 ? 0 : c < 0xC0 ? 4 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : c < 0xF8 ? 3 : 4;
        if (more == 4)
            return i;
        for (size_t k = 1; k <= more; k++)
            if (i + k >= n || ((unsigned char)s[i + k] & 0xC0) != 0x80)
                return i;
        i += 1 + more;
    }
    return n;
}

// AVX2 for the long runs (script blocks, messages): x86-64 builds carry both paths and pick one
// per string with the CPU's answer (a load and a test). SK_JSON_SCAN_NO_AVX2 leaves it out, as one
// unit test builds the scanner, so that the SSE2 blocks are tested on AVX2 machines too.
#if SK_JSON_BLOCK == 16 && defined(__x86_64__) && defined(__GNUC__) && \
        !defined(SK_JSON_SCAN_NO_AVX2)
#define WIDE 32
#include <immintrin.h>

static inline bool wide_ok(void)
{
    return __builtin_cpu_supports("avx2");
}

// The special bytes of the 32 in x (0xFF each). '"' ^ 2 is ' ', and a control character ^ 2 is
// another one, so a signed "less than 0x21" after the xor finds the quote, the control characters
// and the bytes >= 0x80 with one compare.
__attribute__((target("avx2"))) static inline __m256i special_mask(__m256i x)
{
    __m256i lt =
            _mm256_cmpgt_epi8(_mm256_set1_epi8(0x21), _mm256_xor_si256(x, _mm256_set1_epi8(2)));
    return _mm256_or_si256(lt, _mm256_cmpeq_epi8(x, _mm256_set1_epi8('\\')));
}

__attribute__((target("avx2"))) static inline unsigned special32(__m256i x)
{
    return (unsigned)_mm256_movemask_epi8(special_mask(x));
}

static inline __attribute__((target("avx2"))) __m256i load32(const char *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

// The first special byte in [p, end), or end.
__attribute__((target("avx2"))) static const char *find_special_wide(const char *p, const char *end)
{
    if (end - p >= WIDE) {
        for (const char *last = end - WIDE; p <= last; p += WIDE) {
            unsigned bits = special32(load32(p));
            if (bits)
                return p + __builtin_ctz(bits);
        }
    }
    return sk_json_find_special(p, end);
}

// Copies the plain bytes at p to d, 32 at a time (each block stored before it is looked at), up
// to the first special byte or until fewer than 32 bytes are left; returns where it stopped.
__attribute__((target("avx2"))) static const char *
copy_plain_wide(const char *p, const char *end, char *d)
{
    size_t i = 0, n = (size_t)(end - p);
    for (; n - i >= 2 * WIDE; i += 2 * WIDE) { // two blocks a turn: one test for both
        __m256i x = load32(p + i), y = load32(p + i + WIDE);
        _mm256_storeu_si256((__m256i *)(void *)(d + i), x);
        _mm256_storeu_si256((__m256i *)(void *)(d + i + WIDE), y);
        __m256i mx = special_mask(x), my = special_mask(y);
        if (!_mm256_testz_si256(_mm256_or_si256(mx, my), _mm256_or_si256(mx, my))) {
            unsigned bx = (unsigned)_mm256_movemask_epi8(mx);
            return p + i +
                   (bx ? __builtin_ctz(bx)
                       : WIDE + __builtin_ctz((unsigned)_mm256_movemask_epi8(my)));
        }
    }
    if (n - i >= WIDE) {
        __m256i x = load32(p + i);
        _mm256_storeu_si256((__m256i *)(void *)(d + i), x);
        unsigned bits = (unsigned)_mm256_movemask_epi8(special_mask(x));
        if (bits)
            return p + i + __builtin_ctz(bits);
        i += WIDE;
    }
    return p + i;
}
#else
#define WIDE 0
#endif

// Copies the run of plain bytes at *pp to d, up to the next special byte (*pp is left there) or
// end; returns its length. Blocks are stored before they are looked at: d must have room for the
// source's bytes up to end (the decoded text never gets ahead of the source, so a store at the
// decoded position stays inside the scratch).
static inline size_t copy_run(const char **pp, const char *end, char *d, bool wide)
{
    const char *p = *pp;
    size_t n = 0;
    (void)wide;
#if SK_JSON_BLOCK
    // One block here: most runs between escapes are short (a path's "\\Windows").
    if (end - p >= SK_JSON_BLOCK) {
        memcpy(d, p, SK_JSON_BLOCK);
        unsigned k = sk_json_first_special(p);
        if (k < SK_JSON_BLOCK) {
            *pp = p + k;
            return k;
        }
        p += SK_JSON_BLOCK;
        n = SK_JSON_BLOCK;
#if WIDE
        if (wide) {
            const char *q = copy_plain_wide(p, end, d + n);
            n += (size_t)(q - p);
            p = q;
            if (end - p >= WIDE) { // stopped at a special byte
                *pp = p;
                return n;
            }
        }
#endif
    }
    while (end - p >= SK_JSON_BLOCK) {
        memcpy(d + n, p, SK_JSON_BLOCK);
        unsigned k = sk_json_first_special(p);
        if (k < SK_JSON_BLOCK) {
            *pp = p + k;
            return n + k;
        }
        p += SK_JSON_BLOCK;
        n += SK_JSON_BLOCK;
    }
#endif
    while (p < end && !sk_json_is_special((unsigned char)*p))
        d[n++] = *p++;
    *pp = p;
    return n;
}

// A string whose opening quote is at *pp, of which the bytes before from are known to be plain
// (scan_string looked at the first block). On success *pp is past the closing quote and *out,
// *outn, *clean describe its decoded text (in place or in scratch). On failure *pp is at the
// byte that is not JSON (end: the text ends inside the string), or NULL when the scanner gives
// up: invalid UTF-8 that yajl takes, or a scratch that could not grow.
static bool scan_string_rest(const char **pp,
                             const char *from,
                             const char *end,
                             sk_json_scratch *scratch,
                             const char **out,
                             size_t *outn,
                             bool *clean)
{
    const char *start = *pp + 1, *p = from;
    bool high = false;
#if WIDE
    const bool wide = wide_ok();
#else
    const bool wide = false;
#endif
    for (;;) {
#if WIDE
        p = wide ? find_special_wide(p, end) : sk_json_find_special(p, end);
#else
        p = sk_json_find_special(p, end);
#endif
        if (p == end)
            goto fail;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            goto fail;
        if (c == '\\')
            goto escaped;
        high = true;
        p++;
    }
    if (high && !sk_utf8_valid(start, (size_t)(p - start)))
        goto bad_utf8;
    *out = start;
    *outn = (size_t)(p - start);
    *clean = true;
    *pp = p + 1;
    return true;

escaped:;
    // The decoded text is never longer than the source text.
    if (!ensure(scratch, scratch->used + (size_t)(end - start) + 1)) {
        *pp = NULL;
        return false;
    }
    char *d = scratch->p + scratch->used;
    size_t dn = (size_t)(p - start);
    memcpy(d, start, dn);
    bool nul = false;
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') { // the most common special byte here, so the first test
            if (end - p < 2) {
                p = end;
                goto fail;
            }
            unsigned char e = (unsigned char)p[1];
            p += 2;
            // A table, not a switch: a jump table mispredicts on every change between the
            // escapes of a PowerShell message ("\\n", "\\\\", "\\\"").
            char simple = unescaped[e];
            if (simple) {
                d[dn++] = simple;
            } else if (e == 'u') {
                int h = end - p >= 4 ? hex4(p) : -1;
                if (h < 0) { // at the first character that is not a hex digit
                    while (p < end && hexval((unsigned char)*p) >= 0)
                        p++;
                    goto fail;
                }
                uint32_t cp = (uint32_t)h;
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDFFF)
                    cp = surrogate(cp, &p, end);
                nul |= cp == 0;
                dn += sk_utf8_encode(d + dn, cp);
            } else {
                p--; // the character after the backslash
                goto fail;
            }
            // A quarter of the escapes of a Winlogbeat dump follow another ("\\r\\n"): the
            // next one needs no look for a run.
            if (p < end && *p == '\\')
                continue;
        } else if (c >= 0x80) {
            high = true;
            d[dn++] = (char)c;
            p++;
        } else if (c == '"') {
            break;
        } else {
            goto fail; // a control character
        }
        // The run up to the next special byte, copied as it is found (the scratch has room for
        // the rest of the source).
        dn += copy_run(&p, end, d + dn, wide);
        if (p == end)
            goto fail;
    }
    // Escapes decode to valid UTF-8; raw bytes >= 0x80 still need checking (the first bad one
    // is found again in the source, where escapes are ASCII).
    if (high && !sk_utf8_valid(d, dn))
        goto bad_utf8;
    d[dn] = '\0';
    *out = d;
    *outn = dn;
    *clean = !nul;
    *pp = p + 1;
    return true;

fail:
    *pp = p;
    return false;

bad_utf8:; // at the sequence yajl refuses (escapes are ASCII, so the source tells), if it does
    size_t bad = yajl_utf8_error_at(start, (size_t)(p - start));
    *pp = bad < (size_t)(p - start) ? start + bad : NULL;
    return false;
}

// A string whose opening quote is at *pp (see scan_string_rest). Names and short values end in
// their first block: that one is looked at here, inline, and the call is only for the rest.
static inline bool scan_string(const char **pp,
                               const char *end,
                               sk_json_scratch *scratch,
                               const char **out,
                               size_t *outn,
                               bool *clean)
{
    const char *start = *pp + 1, *from = start;
#if SK_JSON_BLOCK
    if (end - start >= SK_JSON_BLOCK) {
        unsigned k = sk_json_first_special(start);
        if (k < SK_JSON_BLOCK && start[k] == '"') { // plain ASCII up to the quote
            *out = start;
            *outn = k;
            *clean = true;
            *pp = start + k + 1;
            return true;
        }
        from = start + k;
    }
#endif
    return scan_string_rest(pp, from, end, scratch, out, outn, clean);
}

// A number at *pp (RFC 8259 grammar, which is yajl's). On success *pp is past it.
static bool scan_number(const char **pp, const char *end)
{
    const char *p = *pp;
    if (p < end && *p == '-')
        p++;
    if (p == end)
        return false;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return false;
    }
    if (p < end && *p == '.') {
        p++;
        if (p == end || !(*p >= '0' && *p <= '9'))
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !(*p >= '0' && *p <= '9'))
            return false;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    *pp = p;
    return true;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline bool word(const char *p, const char *end, const char *w, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}

// Yajl's whitespace that this scanner leaves to it (RFC 8259 has neither).
static inline bool other_ws(const char *p, const char *end)
{
    return p < end && (*p == '\v' || *p == '\f');
}

bool sk_json_scan(const sk_json_sax *cb,
                  void *ctx,
                  const char *text,
                  size_t len,
                  sk_json_scratch *scratch,
                  size_t *stop)
{
    const char *p = text, *end = text + len;
    uint64_t is_map[MAX_NEST / 64] = { 0 };
    unsigned depth = 0;
    const char *s, *tok;
    size_t n;
    bool clean;
    size_t dummy;
    if (!stop)
        stop = &dummy;

// Not JSON at q (a byte where none fits, or end); or a callback refused the token at q.
#define FAIL_AT(q)                  \
    do {                            \
        *stop = (size_t)((q)-text); \
        return false;               \
    } while (0)
// Not decided here: yajl may well accept it.
#define GIVE_UP()         \
    do {                  \
        *stop = SIZE_MAX; \
        return false;     \
    } while (0)
// A byte where a token or punctuation should be.
#define UNEXPECTED(q)         \
    do {                      \
        if (other_ws(q, end)) \
            GIVE_UP();        \
        FAIL_AT(q);           \
    } while (0)

    p = skip_ws(p, end);
value:
    if (p == end)
        FAIL_AT(p);
    tok = p;
    switch (*p) {
    case '{':
        if (depth == MAX_NEST)
            GIVE_UP();
        if (!cb->start_map(ctx))
            FAIL_AT(tok);
        is_map[depth / 64] |= 1ull << (depth % 64);
        depth++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            p++;
            depth--;
            if (!cb->end_map(ctx))
                FAIL_AT(p - 1);
            goto after;
        }
        goto key;
    case '[':
        if (depth == MAX_NEST)
            GIVE_UP();
        if (!cb->start_array(ctx))
            FAIL_AT(tok);
        is_map[depth / 64] &= ~(1ull << (depth % 64));
        depth++;
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']') {
            p++;
            depth--;
            if (!cb->end_array(ctx))
                FAIL_AT(p - 1);
            goto after;
        }
        goto value;
    case '"':
        if (!scan_string(&p, end, scratch, &s, &n, &clean)) {
            if (!p)
                GIVE_UP();
            FAIL_AT(p);
        }
        if (!cb->string(ctx, s, n, clean))
            FAIL_AT(tok);
        goto after;
    case 't':
        if (!word(p, end, "true", 4))
            FAIL_AT(p);
        if (!cb->boolean(ctx, 1))
            FAIL_AT(tok);
        p += 4;
        goto after;
    case 'f':
        if (!word(p, end, "false", 5))
            FAIL_AT(p);
        if (!cb->boolean(ctx, 0))
            FAIL_AT(tok);
        p += 5;
        goto after;
    case 'n':
        if (!word(p, end, "null", 4))
            FAIL_AT(p);
        if (!cb->null(ctx))
            FAIL_AT(tok);
        p += 4;
        goto after;
    default: {
        const char *q = p;
        if (!scan_number(&q, end))
            UNEXPECTED(p);
        if (!cb->number(ctx, p, (size_t)(q - p)))
            FAIL_AT(tok);
        p = q;
        goto after;
    }
    }

key:
    if (p == end || *p != '"')
        UNEXPECTED(p);
    tok = p;
    if (!scan_string(&p, end, scratch, &s, &n, &clean)) {
        if (!p)
            GIVE_UP();
        FAIL_AT(p);
    }
    if (!cb->map_key(ctx, s, n, clean))
        FAIL_AT(tok);
    p = skip_ws(p, end);
    if (p == end || *p != ':')
        UNEXPECTED(p);
    p = skip_ws(p + 1, end);
    goto value;

after:
    p = skip_ws(p, end);
    if (depth == 0) {
        if (p == end)
            return true;
        UNEXPECTED(p);
    }
    if (p == end)
        FAIL_AT(p);
    if (is_map[(depth - 1) / 64] >> ((depth - 1) % 64) & 1) {
        if (*p == ',') {
            p = skip_ws(p + 1, end);
            goto key;
        }
        if (*p != '}')
            UNEXPECTED(p);
        p++;
        depth--;
        if (!cb->end_map(ctx))
            FAIL_AT(p - 1);
        goto after;
    }
    if (*p == ',') {
        p = skip_ws(p + 1, end);
        goto value;
    }
    if (*p != ']')
        UNEXPECTED(p);
    p++;
    depth--;
    if (!cb->end_array(ctx))
        FAIL_AT(p - 1);
    goto after;
#undef FAIL_AT
#undef GIVE_UP
#undef UNEXPECTED
}

// A backslash outside strings is invalid JSON, so escapes can be found without tracking strings.

bool sk_json_unpaired_to_fffd(char *t, size_t n)
{
    bool changed = false;
    for (size_t i = 0; i + 1 < n; i++) {
        if (t[i] != '\\')
            continue;
        if (t[i + 1] != 'u' || i + 6 > n) {
            i++; // a two-character escape (or a cut one): its second character is not a backslash
            continue;
        }
        int cp = hex4(t + i + 2);
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 12 <= n && t[i + 6] == '\\' && t[i + 7] == 'u') {
            int lo = hex4(t + i + 8);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                i += 11;
                continue;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            memcpy(t + i + 2, "fffd", 4);
            changed = true;
        }
        i += 5;
    }
    return changed;
}
