// Compiled predicates over one field value (the leaves of every rule), and the Sigma value
// transforms (windash, base64, base64offset, wide/utf16*). A compiled sk_vm is immutable and may be
// shared by threads; per-thread mutable state (PCRE2 match data, case-folding buffers) lives in an
// sk_vm_scratch.
#ifndef SK_MATCH_VALUE_H
#define SK_MATCH_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/image.h"
#include "core/status.h"

typedef enum sk_vm_kind {
    SK_VM_EQUALS,     // the whole value equals the pattern
    SK_VM_CONTAINS,   // the value contains the pattern
    SK_VM_STARTSWITH, // the value starts with the pattern
    SK_VM_ENDSWITH,   // the value ends with the pattern
    SK_VM_REGEX,      // PCRE2 (JIT), unanchored search; case-sensitive unless SK_VM_RE_I
    SK_VM_CIDR,       // the value is an IPv4/IPv6 address inside the network in the pattern
    SK_VM_LT,         // numeric comparisons: value and pattern both parse as numbers
    SK_VM_LTE,
    SK_VM_GT,
    SK_VM_GTE,
} sk_vm_kind;

enum {
    SK_VM_CASED = 1u << 0,     // exact case (Sigma |cased); default is case-insensitive
    SK_VM_WILDCARDS = 1u << 1, // '*' and '?' in the pattern are wildcards, '\' escapes them
    SK_VM_RE_I = 1u << 2,      // regex sub-modifiers i, m, s
    SK_VM_RE_M = 1u << 3,
    SK_VM_RE_S = 1u << 4,
};

typedef struct sk_vm sk_vm;
typedef struct sk_vm_scratch sk_vm_scratch;

// Compiles a predicate. The pattern is copied. On failure returns SK_ERR_RULE_SYNTAX (bad regex,
// bad network, non-numeric comparison value) and writes a message into err (when not NULL) and the
// byte offset of the problem in the pattern into *erroff (when not NULL).
SK_NODISCARD sk_status sk_vm_compile(sk_vm **out,
                                     sk_vm_kind kind,
                                     const char *pattern,
                                     size_t n,
                                     unsigned flags,
                                     sk_buf *err,
                                     size_t *erroff);
void sk_vm_free(sk_vm *vm);
// True when value[0..n) satisfies vm. Never fails: a regex that hits its match limit does not
// match (and the scratch counts it, see sk_vm_scratch_limit_hits). Always pass a scratch (regexes,
// globs and non-ASCII case-insensitive patterns use it); it keeps no state between calls.
// Semantics: '?' is one UTF-8 code point (an invalid byte counts as one); case-insensitive means
// ASCII plus simple case folding of U+0080..U+0556 (Latin-1, Latin Extended-A/B, Greek,
// Cyrillic, Armenian), see fold_int.h; regexes run in UTF mode and search values that are not
// valid UTF-8 too; cidr takes the exact address text (an IPv6 zone is ignored, IPv4-mapped IPv6
// addresses match IPv4 networks); numbers are decimal integers, floats or 0x hex, compared
// numerically.
bool sk_vm_match(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s);
// a[0..n) and b[0..n) are equal under the case-insensitive comparison above (the same folding), for
// matchers outside the value predicates (EQL's ~ functions).
bool sk_text_eq_ci(const char *a, const char *b, size_t n);
// When vm is a case-insensitive "contains" of text that ASCII folding alone decides (no wildcard,
// no character of the two-byte range): its lower-cased pattern and length. Otherwise NULL. Such a
// value is found exactly where a byte-wise ASCII-case-insensitive search finds its pattern.
const char *sk_vm_ci_substring(const sk_vm *vm, size_t *n);
// Appends a one-line human description ("contains (ci) 'foo'", "re 'a.*b'") for `rules explain`.
void sk_vm_describe(const sk_vm *vm, sk_buf *out);
// The compiled-rule cache (rules/rule_cache.c): writes vm into an image and returns its position;
// makes a vm read back from an image usable (compiles its regex again: PCRE2 code is not copied;
// false when that fails); frees what such a vm holds outside the image (not the vm itself).
sk_img_off sk_vm_image_put(sk_img_w *w, const sk_vm *vm);
bool sk_vm_image_fix(sk_vm *vm);
void sk_vm_image_release(sk_vm *vm);

sk_vm_scratch *sk_vm_scratch_new(void);
void sk_vm_scratch_free(sk_vm_scratch *s);
unsigned long sk_vm_scratch_limit_hits(const sk_vm_scratch *s);
// Tells the scratch that from now on, until the next call, a value's address and length identify
// its bytes (the values of one event, which do not change while rules run on it): folded values
// are then remembered between sk_vm_match calls. Without a call, nothing is remembered.
void sk_vm_scratch_values(sk_vm_scratch *s);
// Ends sk_vm_scratch_values: values may change under the same address again.
void sk_vm_scratch_forget(sk_vm_scratch *s);

// A list of owned strings (may contain NUL bytes: each has its length).
typedef struct sk_strlist {
    char **s;
    size_t *len;
    size_t n;
    size_t cap;
} sk_strlist;
void sk_strlist_init(sk_strlist *l);
void sk_strlist_fini(sk_strlist *l);
void sk_strlist_add(sk_strlist *l, const char *s, size_t n);

// Sigma transforms. Each appends its results to out (on failure, out may hold some of them).
// windash (pySigma's definition): every '-' or '/' that matches the Python regex \B[-/]\b -- the
// previous character is not a word character or there is none, and the next one is a word
// character (letter, digit, '_') -- is replaced by each of '-', '/', U+2013, U+2014, U+2015; the
// product of all choices is appended, the first position varying slowest, so the value itself is
// among them. Works on escaped Sigma text (the positions are the same). More than
// SK_VM_WINDASH_MAX_DASHES such positions -> SK_ERR_LIMIT (and nothing appended).
#define SK_VM_WINDASH_CHOICES    5
#define SK_VM_WINDASH_MAX_DASHES 6 // at most 5^6 = 15625 variants
SK_NODISCARD sk_status sk_vm_windash(const char *s, size_t n, sk_strlist *out);
// base64: the standard base64 encoding of the bytes s[0..n), with '=' padding kept, exactly as
// pySigma (b64encode). The caller passes literal bytes (see sk_vm_unescape; pySigma rejects values
// with wildcards for base64 and base64offset).
SK_NODISCARD sk_status sk_vm_base64(const char *s, size_t n, sk_strlist *out);
// base64offset: the three shifted encodings of s as it may appear inside a longer base64 text,
// exactly as pySigma: for i in 0..2, b64encode(i * b" " + s)[(0,2,3)[i] : (None,-3,-2)[(n+i)%3]].
// A very short s can give empty strings; they are appended too (as pySigma does).
SK_NODISCARD sk_status sk_vm_base64offset(const char *s, size_t n, sk_strlist *out);
// wide/utf16le, utf16be, utf16 (BOM FF FE then LE): re-encodes the UTF-8 bytes s[0..n) (invalid
// bytes become U+FFFD). The result is plain bytes (may contain NULs): feed it to base64* or
// compile it without SK_VM_WILDCARDS.
typedef enum sk_utf16_kind {
    SK_UTF16LE,
    SK_UTF16BE,
    SK_UTF16BOM,
} sk_utf16_kind;
SK_NODISCARD sk_status sk_vm_utf16(const char *s, size_t n, sk_utf16_kind k, sk_strlist *out);

// (Additions to the original interface.)
// The same for an escaped Sigma pattern that is then compiled with SK_VM_WILDCARDS, as pySigma
// applies wide/utf16* to the plain parts only: unescaped '*' and '?' stay one-byte wildcards, the
// escapes \* \? \\ are decoded, and every '*', '?' or '\' byte of the UTF-16 output is escaped.
SK_NODISCARD sk_status sk_vm_utf16_glob(const char *s, size_t n, sk_utf16_kind k, sk_strlist *out);
// Decodes the Sigma escapes of s[0..n) (\* -> *, \? -> ?, \\ -> \; any other backslash is kept)
// and appends the literal bytes to out; *has_wildcards (when not NULL) tells whether s held an
// unescaped '*' or '?' (those are copied as is). For base64/base64offset, which need literal
// bytes. SK_ERR_LIMIT from the buffer cap (nothing appended then).
SK_NODISCARD sk_status sk_vm_unescape(const char *s, size_t n, sk_buf *out, bool *has_wildcards);

#endif
