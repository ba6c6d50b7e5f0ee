// Compiled predicates over one field value (the leaves of every rule), and the Sigma value
// transforms (windash, base64, base64offset, wide/utf16*). A compiled sk_vm is immutable and may be
// shared by threads; per-thread mutable state (PCRE2 match data, case-folding buffers) lives in an
// sk_vm_scratch.
#ifndef SK_MATCH_VALUE_H
#define SK_MATCH_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
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
// match (and the scratch counts it, see sk_vm_scratch_limit_hits).
bool sk_vm_match(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s);
// Appends a one-line human description ("contains (ci) 'foo'", "re 'a.*b'") for `rules explain`.
void sk_vm_describe(const sk_vm *vm, sk_buf *out);

sk_vm_scratch *sk_vm_scratch_new(void);
void sk_vm_scratch_free(sk_vm_scratch *s);
unsigned long sk_vm_scratch_limit_hits(const sk_vm_scratch *s);

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

// Sigma transforms. Each appends its results to out.
// windash: every variant where each '-' or '/' that starts a word (at the start or after a space)
// is replaced by each of '-', '/', U+2013, U+2014, U+2015 (the value itself included).
SK_NODISCARD sk_status sk_vm_windash(const char *s, size_t n, sk_strlist *out);
// base64: the standard base64 encoding of s (with padding removed, as Sigma does? see value.c).
SK_NODISCARD sk_status sk_vm_base64(const char *s, size_t n, sk_strlist *out);
// base64offset: the three shifted encodings of s as it may appear inside a longer base64 text.
SK_NODISCARD sk_status sk_vm_base64offset(const char *s, size_t n, sk_strlist *out);
// wide/utf16le, utf16be, utf16 (BOM FF FE then LE): re-encodes UTF-8 s.
typedef enum sk_utf16_kind {
    SK_UTF16LE,
    SK_UTF16BE,
    SK_UTF16BOM,
} sk_utf16_kind;
SK_NODISCARD sk_status sk_vm_utf16(const char *s, size_t n, sk_utf16_kind k, sk_strlist *out);

#endif
