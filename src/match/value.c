// Compiled value predicates: the leaves of every rule.
//
// sk_vm_compile picks the cheapest form that implements a (kind, pattern, flags) triple:
//
//   literal  A string pattern without wildcards (also after dropping a leading or trailing '*',
//            which only removes an anchor): equals / prefix / suffix / substring on a pre-folded
//            copy. Case-insensitive patterns that are ASCII-only compare the raw value through an
//            ASCII lower-case table (substring search: Horspool with a folded shift table, or,
//            below 8 bytes, memchr for the pattern's rarest byte in both cases), so nothing is
//            copied. Patterns with non-ASCII letters fold the value (or the window
//            that is compared) into the scratch first; see fold_int.h for what is folded.
//   glob     Sigma wildcards: the pattern is split on '*' into segments of literal runs and '?'
//            (one code point). The first segment is anchored at the start, the last at the end,
//            and each middle segment is found at its earliest end, left to right. Because a
//            segment that ends earlier never leaves less room for the rest, this greedy scan is
//            exact and linear in the value for a given pattern: no backtracking, no exponential
//            cases. Case-insensitive globs fold the whole value into the scratch.
//   regex    PCRE2, JIT-compiled when the JIT is available, with match and depth limits. A
//            regex that is a chain of literals joined by '.*' ('\+.*\+.*\+', which PCRE
//            explores in time exponential in the number of links on a line that lacks one) is
//            decided by finding the literals in order, each at its earliest place, within one
//            line (the whole value with the s flag): the same greedy argument as for globs makes
//            that exact, and it is linear. Values that are not valid UTF-8 go to PCRE, where
//            invalid bytes are barriers.
//   cidr     IPv4/IPv6 network and prefix, compared bytewise after inet_pton.
//   number   LT/LTE/GT/GTE on integers (exact, 64-bit magnitude) or floats.
//
// A compiled sk_vm is never written after sk_vm_compile returns; every mutable bit of matching
// (folding buffer, PCRE2 match data, JIT stack, limit counter) lives in the sk_vm_scratch.
#include "value.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <pcre2.h>
#include <stdatomic.h>

#include "core/mem.h"
#include "core/utf.h"
#include "fold_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

// PCRE2 limits for one match of one regex against one value. The match limit bounds the number of
// backtracking steps (interpreter and JIT alike): 10^6 steps take a few milliseconds, enough for
// any sane regex over a value of SK_MAX_VALUE_BYTES, and stop catastrophic ones such as (a+)+$
// early. The depth limit bounds the interpreter's backtracking depth (heap frames); the JIT has
// its own stack, up to SK_REGEX_JIT_STACK_MAX per scratch. Hitting any of them counts as no match
// and as a limit hit in the scratch.
#define SK_REGEX_MATCH_LIMIT   1000000u
#define SK_REGEX_DEPTH_LIMIT   10000u
#define SK_REGEX_JIT_STACK_MIN (32u << 10)
#define SK_REGEX_JIT_STACK_MAX (1u << 20)

// Longest text accepted as an address or network ("ffff:...:255.255.255.255/128" is 43 bytes;
// the rest is room for an IPv6 zone).
#define ADDR_TEXT_MAX 64

typedef enum mode {
    M_LIT,
    M_GLOB,
    M_REGEX,
    M_CIDR,
    M_NUM,
} mode;

typedef enum lit_op {
    L_EQ,
    L_PREFIX,
    L_SUFFIX,
    L_SUB,
} lit_op;

// One element of a glob segment: a literal run bytes[off..off+len), or `count` times '?'.
typedef struct tok {
    bool any;
    size_t off; // literal: offset in glob.bytes; any: the number of '?'
    size_t len; // literal: length
} tok;

typedef struct seg {
    size_t first; // index of its first token
    size_t ntok;
} seg;

// A number: an integer as sign and 64-bit magnitude, or a double.
typedef struct num {
    bool is_int;
    bool neg;
    uint64_t mag;
    double d;
} num;

struct sk_vm {
    sk_vm_kind kind;
    unsigned flags;
    mode mode;
    char *src; // the pattern as given, for sk_vm_describe
    size_t src_n;
    bool ci;         // case-insensitive string comparison
    bool fold_value; // ci, and the pattern needs more than ASCII folding: fold the value first
    union {
        struct {
            lit_op op;
            uint8_t *p; // pre-folded when ci
            size_t n;
            // Horspool shifts by folded byte for an ASCII ci substring of SHORT_PATTERN bytes
            // and more, made at its first search (lit_shift), else NULL. Most of SigmaHQ's
            // 18,000 such values are never searched (the prefilter rules them out), and a table
            // made at load for each was 4 MB and 5% of loading.
            _Atomic(uint8_t *) shift;
        } lit;
        struct {
            uint8_t *bytes; // unescaped literal bytes, pre-folded when ci
            tok *toks;
            seg *segs;
            size_t nseg;
            bool anch_start, anch_end;
        } glob;
        struct {
            // Set at compile time; for a predicate read from the compiled-rule cache, at its
            // first match (late_code).
            _Atomic(pcre2_code *) code;
            // A chain of literals joined by '.*' (NULL: not one): nchain literals, their text
            // back to back in chain_text.
            char *chain_text;
            uint32_t *chain_len;
            uint32_t nchain;
        } re;
        struct {
            int af;
            uint8_t net[16];
            unsigned prefix;
        } cidr;
        num num;
    } u;
};

struct sk_vm_scratch {
    uint8_t *fold; // folding buffer: grows to the longest value folded so far
    size_t fold_cap;
    // What is known of the last whole value looked at, memo[0..memo_n) (sk_vm_scratch_values):
    // whether the buffer holds its folded form, and whether it has a byte >= 0x80 (-1: not
    // known yet). Valid while memo_epoch == epoch; epoch 0: nothing is remembered.
    uint64_t epoch, memo_epoch;
    const char *memo;
    size_t memo_n;
    bool memo_folded;
    int memo_high;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack; // NULL when it could not be mapped (the JIT then uses 32 KiB)
    unsigned long limit_hits;
};

// ---------------------------------------------------------------------------------------------
// helpers

// Appends a formatted message to err when err is not NULL (a full buffer just truncates it).
SK_PRINTF(2, 3) static void set_err(sk_buf *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    sk_status st = sk_buf_vaddf(err, fmt, ap);
    va_end(ap);
    (void)st;
}

// PCRE2 allocations go through the fatal allocator, like every other allocation.
static void *pcre_alloc(PCRE2_SIZE n, void *data)
{
    (void)data;
    return sk_xmalloc(n);
}

static void pcre_free(void *p, void *data)
{
    (void)data;
    free(p);
}

static pcre2_general_context *pcre_gctx_new(void)
{
    pcre2_general_context *g = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    assert(g); // pcre_alloc never returns NULL
    return g;
}

// Returns a buffer in the scratch holding the folded form of v[0..n).
static const uint8_t *fold_into(sk_vm_scratch *s, const char *v, size_t n)
{
    assert(s && "case-insensitive non-ASCII and glob predicates need a scratch");
    s->memo_folded = false; // the buffer is about to change
    if (n == 0)
        return (const uint8_t *)"";
    if (n > s->fold_cap) {
        size_t cap = s->fold_cap * 2;
        if (cap < n)
            cap = n;
        free(s->fold);
        s->fold = sk_xmalloc(cap);
        s->fold_cap = cap;
    }
    sk_fold_utf8(s->fold, (const uint8_t *)v, n);
    return s->fold;
}

// True when the caller vouches that values stay put (sk_vm_scratch_values): the memo then
// describes v[0..n), afresh when it described another value.
static bool memo_on(sk_vm_scratch *s, const char *v, size_t n)
{
    if (!s->epoch)
        return false;
    if (s->memo_epoch != s->epoch || s->memo != v || s->memo_n != n) {
        s->memo_epoch = s->epoch;
        s->memo = v;
        s->memo_n = n;
        s->memo_folded = false;
        s->memo_high = -1;
    }
    return true;
}

// fold_into for a whole value, remembered (memo_on): the thirty one-character homoglyph patterns
// of a SigmaHQ rule, or a rule's case-insensitive globs, fold a command line once, not once each.
static const uint8_t *fold_whole(sk_vm_scratch *s, const char *v, size_t n)
{
    assert(s && "case-insensitive non-ASCII and glob predicates need a scratch");
    bool on = memo_on(s, v, n);
    if (on && s->memo_folded)
        return n ? s->fold : (const uint8_t *)"";
    const uint8_t *t = fold_into(s, v, n);
    s->memo_folded = on;
    return t;
}

// v[0..n) has a byte >= 0x80; remembered like fold_whole.
static bool has_high_byte(sk_vm_scratch *s, const char *v, size_t n)
{
    bool on = s && memo_on(s, v, n);
    if (on && s->memo_high >= 0)
        return s->memo_high;
    bool high = false;
    size_t i = 0;
    for (; i + 8 <= n && !high; i += 8) {
        uint64_t w;
        memcpy(&w, v + i, 8);
        high = (w & 0x8080808080808080ull) != 0;
    }
    for (; i < n && !high; i++)
        high = (unsigned char)v[i] >= 0x80;
    if (on)
        s->memo_high = high;
    return high;
}

// a[0..n) equals the pre-folded b[0..n) under ASCII case folding.
static bool eq_ascii_ci(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sk_fold_ascii[a[i]] != b[i])
            return false;
    return true;
}

// Case-insensitive substrings shorter than this are searched by their rarest byte (and get no
// Horspool table).
#define SHORT_PATTERN 8u

// How common byte c is in event text (0: rare), by a rough order of letters, path punctuation,
// digits and space; used to pick the byte that a short pattern is searched by.
static unsigned byte_rank(uint8_t c)
{
    static const char order[] = "q5j6z789x4=3_:2/1-0.\\kvbywgfpmcudlhrsnioate ";
    const char *at = c ? strchr(order, c) : NULL;
    return at ? (unsigned)(at - order) + 1 : 0;
}

// Search of a short folded pattern by its rarest byte: memchr finds the candidates (both cases of
// a letter), which is far faster than Horspool's shifts of at most m bytes.
static bool find_short_ci(const uint8_t *t, size_t n, const uint8_t *p, size_t m)
{
    size_t r = 0;
    for (size_t j = 1; j < m; j++)
        if (byte_rank(p[j]) < byte_rank(p[r]))
            r = j;
    const uint8_t lo = p[r];
    const uint8_t up = lo >= 'a' && lo <= 'z' ? (uint8_t)(lo - 32) : lo;
    const uint8_t *at = t + r, *lim = t + n - (m - 1 - r); // where the rare byte can be
    while (at < lim) {
        const uint8_t *c = memchr(at, lo, (size_t)(lim - at));
        if (up != lo) {
            const uint8_t *u = memchr(at, up, (size_t)((c ? c : lim) - at));
            if (u)
                c = u;
        }
        if (!c)
            return false;
        if (eq_ascii_ci(c - r, p, m))
            return true;
        at = c + 1;
    }
    return false;
}

// Search of the folded pattern p[0..m) in t[0..n) under ASCII case folding: Horspool, or for
// patterns shorter than 8 bytes the rare-byte search.
static bool
find_ascii_ci(const uint8_t *t, size_t n, const uint8_t *p, size_t m, const uint8_t *shift)
{
    if (m > n)
        return false;
    if (m < SHORT_PATTERN)
        return find_short_ci(t, n, p, m);
    const uint8_t last = p[m - 1];
    const size_t lim = n - m;
    size_t i = 0;
    while (i <= lim) {
        uint8_t c = sk_fold_ascii[t[i + m - 1]];
        if (c == last && eq_ascii_ci(t + i, p, m - 1))
            return true;
        i += shift[c];
    }
    return false;
}

static uint8_t *horspool_table(const uint8_t *p, size_t m)
{
    uint8_t *shift = sk_xmalloc(256);
    uint8_t dflt = (uint8_t)(m < 255 ? m : 255); // a smaller shift is always safe
    memset(shift, dflt, 256);
    for (size_t j = 0; j + 1 < m; j++) {
        size_t d = m - 1 - j;
        shift[p[j]] = (uint8_t)(d < 255 ? d : 255);
    }
    return shift;
}

// The Horspool table of a literal substring vm, made at its first search. The ruleset is shared
// by the worker threads, which may race to make it: the first table published wins, the others
// are freed.
static const uint8_t *lit_shift(const sk_vm *vm)
{
    _Atomic(uint8_t *) *slot = (_Atomic(uint8_t *) *)&vm->u.lit.shift;
    uint8_t *sh = atomic_load_explicit(slot, memory_order_acquire);
    if (sh)
        return sh;
    uint8_t *mine = horspool_table(vm->u.lit.p, vm->u.lit.n);
    if (atomic_compare_exchange_strong_explicit(
                slot, &sh, mine, memory_order_acq_rel, memory_order_acquire))
        return mine;
    free(mine);
    return sh;
}

// Length of the code point at t[p..lim) (p < lim); an invalid byte counts as one.
static size_t cp_len(const uint8_t *t, size_t p, size_t lim)
{
    if (t[p] < 0x80)
        return 1;
    uint32_t cp;
    return sk_utf8_decode((const char *)t + p, lim - p, &cp);
}

// Length of the code point that ends at t[e] (lo < e), consistent with cp_len for valid UTF-8.
static size_t cp_len_back(const uint8_t *t, size_t lo, size_t e)
{
    if ((t[e - 1] & 0xC0) != 0x80)
        return 1;
    for (size_t k = 2; k <= 4 && e - lo >= k; k++) {
        if ((t[e - k] & 0xC0) == 0x80)
            continue;
        if (cp_len(t, e - k, e) == k)
            return k;
        break;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------------
// string predicates: compile

static const char *const kind_names[] = {
    [SK_VM_EQUALS] = "equals",
    [SK_VM_CONTAINS] = "contains",
    [SK_VM_STARTSWITH] = "startswith",
    [SK_VM_ENDSWITH] = "endswith",
    [SK_VM_REGEX] = "re",
    [SK_VM_CIDR] = "cidr",
    [SK_VM_LT] = "lt",
    [SK_VM_LTE] = "lte",
    [SK_VM_GT] = "gt",
    [SK_VM_GTE] = "gte",
};

static void push_tok(tok **toks, size_t *n, size_t *cap, tok t)
{
    sk_xgrow((void **)toks, cap, *n + 1, sizeof **toks);
    // Field by field over zeros: the compiled-rule cache writes the padding to a file.
    tok *d = &(*toks)[(*n)++];
    memset(d, 0, sizeof *d);
    d->any = t.any;
    d->off = t.off;
    d->len = t.len;
}

// A star between tokens is recorded as a token with any == true and len == SIZE_MAX.
#define STAR_LEN SIZE_MAX

static bool is_star(const tok *t)
{
    return t->any && t->len == STAR_LEN;
}

// Splits a Sigma pattern into literal runs (unescaped into bytes), '?' runs and '*'.
static void
parse_glob(const char *p, size_t n, uint8_t *bytes, size_t *nbytes, tok **toks, size_t *ntok)
{
    size_t cap = 0, nb = 0;
    *toks = NULL;
    *ntok = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        tok *last = *ntok ? &(*toks)[*ntok - 1] : NULL;
        if (c == '*') {
            if (!last || !is_star(last))
                push_tok(toks, ntok, &cap, (tok){ .any = true, .off = 0, .len = STAR_LEN });
            continue;
        }
        if (c == '?') {
            if (last && last->any && !is_star(last))
                last->off++;
            else
                push_tok(toks, ntok, &cap, (tok){ .any = true, .off = 1, .len = 0 });
            continue;
        }
        if (c == '\\' && i + 1 < n && (p[i + 1] == '*' || p[i + 1] == '?' || p[i + 1] == '\\'))
            c = p[++i]; // \* \? \\ stand for the character; any other backslash is literal
        bytes[nb] = (uint8_t)c;
        if (last && !last->any)
            last->len++;
        else
            push_tok(toks, ntok, &cap, (tok){ .any = false, .off = nb, .len = 1 });
        nb++;
    }
    *nbytes = nb;
}

static void compile_string(sk_vm *vm, const char *pattern, size_t n)
{
    // Zeroed: a glob's unescaped bytes may be fewer than n + 1, and the compiled-rule cache
    // writes all n + 1 (sk_vm_image_put).
    uint8_t *bytes = sk_xcalloc(n + 1, 1);
    size_t nbytes;
    tok *toks, one; // one: the token of a pattern without wildcards (a plain string test)
    size_t ntok;
    // Most patterns have no wildcard and no escape: they are their own literal, copied (and
    // ASCII lower-cased when case-insensitive) in one pass, without a token list. The glob parse
    // and the folding calls were a quarter of loading SigmaHQ's values.
    bool plain = true, ci = vm->ci;
    const bool wild = vm->flags & SK_VM_WILDCARDS;
    unsigned char high = 0;
    size_t at = 0;
#ifdef __SSE2__
    // Sixteen bytes at a time while seventeen remain (the escape test looks one ahead). Only a
    // '*', a '?' or two backslashes can make an escape, so those stop it; the loop below decides.
    const __m128i star = _mm_set1_epi8('*'), qm = _mm_set1_epi8('?'), bs = _mm_set1_epi8('\\'),
                  lo = _mm_set1_epi8('A' - 1), hi = _mm_set1_epi8('Z' + 1),
                  bit5 = _mm_set1_epi8(ci ? 0x20 : 0);
    while (n - at >= 17) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(pattern + at));
        if (wild) {
            __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(pattern + at + 1));
            __m128i stop =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, star), _mm_cmpeq_epi8(x, qm)),
                                 _mm_and_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(y, bs)));
            if (_mm_movemask_epi8(stop))
                break;
        }
        if (_mm_movemask_epi8(x))
            high |= 0x80;
        // bytes >= 0x80 compare below 'A' (signed): only ASCII letters change
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
        x = _mm_add_epi8(x, _mm_and_si128(up, bit5));
        _mm_storeu_si128((__m128i *)(void *)(bytes + at), x);
        at += 16;
    }
#endif
    for (; at < n; at++) {
        unsigned char c = (unsigned char)pattern[at];
        if ((c == '*' || c == '?' ||
             (c == '\\' && at + 1 < n &&
              (pattern[at + 1] == '*' || pattern[at + 1] == '?' || pattern[at + 1] == '\\'))) &&
            wild) {
            plain = false; // a wildcard, or an escape (any other backslash is literal)
            break;
        }
        high |= c;
        bytes[at] = ci && (unsigned)(c - 'A') < 26u ? (uint8_t)(c + 32) : c;
    }
    if (!plain) {
        parse_glob(pattern, n, bytes, &nbytes, &toks, &ntok);
        if (ci) {
            sk_fold_utf8(bytes, bytes, nbytes);
            vm->fold_value = sk_fold_needs_utf8(bytes, nbytes);
        }
    } else {
        nbytes = n;
        ntok = 0;
        toks = NULL;
        if (n) {
            one = (tok){ .any = false, .off = 0, .len = n };
            toks = &one;
            ntok = 1;
        }
        // ASCII is folded already (folding it again changes nothing); other bytes may fold.
        if (ci && (high & 0x80)) {
            sk_fold_utf8(bytes, bytes, nbytes);
            vm->fold_value = sk_fold_needs_utf8(bytes, nbytes);
        }
    }

    bool anch_start = vm->kind == SK_VM_EQUALS || vm->kind == SK_VM_STARTSWITH;
    bool anch_end = vm->kind == SK_VM_EQUALS || vm->kind == SK_VM_ENDSWITH;
    size_t first = 0, end = ntok;
    if (end > first && is_star(&toks[first])) {
        anch_start = false;
        first++;
    }
    if (end > first && is_star(&toks[end - 1])) {
        anch_end = false;
        end--;
    }
    size_t nwild = 0;
    for (size_t i = first; i < end; i++)
        nwild += toks[i].any;

    if (nwild == 0) {
        // At most one literal run is left: a plain string test.
        vm->mode = M_LIT;
        vm->u.lit.op = anch_start ? (anch_end ? L_EQ : L_PREFIX) : (anch_end ? L_SUFFIX : L_SUB);
        size_t off = end > first ? toks[first].off : 0;
        size_t len = end > first ? toks[first].len : 0;
        memmove(bytes, bytes + off, len);
        vm->u.lit.p = bytes;
        vm->u.lit.n = len;
        vm->u.lit.shift = NULL;
        if (toks != &one)
            free(toks);
        return;
    }

    // Segments between the stars (there is no star at either end any more).
    vm->mode = M_GLOB;
    size_t nseg = 1;
    for (size_t i = first; i < end; i++)
        nseg += is_star(&toks[i]);
    seg *segs = sk_xcalloc(nseg, sizeof *segs);
    size_t k = 0;
    segs[0].first = first;
    for (size_t i = first; i < end; i++) {
        if (is_star(&toks[i])) {
            segs[++k].first = i + 1;
            continue;
        }
        segs[k].ntok++;
    }
    vm->u.glob.bytes = bytes;
    vm->u.glob.toks = toks;
    vm->u.glob.segs = segs;
    vm->u.glob.nseg = nseg;
    vm->u.glob.anch_start = anch_start;
    vm->u.glob.anch_end = anch_end;
}

// ---------------------------------------------------------------------------------------------
// string predicates: match

static bool match_lit(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s)
{
    const uint8_t *p = vm->u.lit.p;
    const size_t m = vm->u.lit.n;
    const uint8_t *t = (const uint8_t *)value;
    size_t at;
    switch (vm->u.lit.op) {
    case L_EQ:
        if (n != m)
            return false;
        at = 0;
        break;
    case L_PREFIX:
        if (n < m)
            return false;
        at = 0;
        break;
    case L_SUFFIX:
        if (n < m)
            return false;
        at = n - m;
        break;
    case L_SUB:
    default:
        if (m == 0)
            return true;
        if (m > n)
            return false;
        if (!vm->ci)
            return memmem(t, n, p, m) != NULL;
        if (!vm->fold_value)
            return find_ascii_ci(t, n, p, m, m >= SHORT_PATTERN ? lit_shift(vm) : NULL);
        // The pattern has a character beyond ASCII, and folding never maps to or from ASCII:
        // an ASCII value cannot hold it.
        if (!has_high_byte(s, value, n))
            return false;
        return memmem(fold_whole(s, value, n), n, p, m) != NULL;
    }
    if (m == 0)
        return true;
    if (!vm->ci)
        return memcmp(t + at, p, m) == 0;
    if (!vm->fold_value)
        return eq_ascii_ci(t + at, p, m);
    return memcmp(fold_into(s, value + at, m), p, m) == 0;
}

#define NO_MATCH SIZE_MAX

// Matches the tokens forward from t[p], not past lim; returns the end or NO_MATCH.
static size_t
seg_fwd(const sk_vm *vm, const tok *tk, size_t ntok, const uint8_t *t, size_t p, size_t lim)
{
    for (size_t i = 0; i < ntok; i++) {
        if (tk[i].any) {
            for (size_t c = 0; c < tk[i].off; c++) {
                if (p >= lim)
                    return NO_MATCH;
                p += cp_len(t, p, lim);
            }
        } else {
            if (lim - p < tk[i].len || memcmp(t + p, vm->u.glob.bytes + tk[i].off, tk[i].len))
                return NO_MATCH;
            p += tk[i].len;
        }
    }
    return p;
}

// Matches the tokens backward so that they end at t[e], not before lo; returns the start.
static size_t
seg_bwd(const sk_vm *vm, const tok *tk, size_t ntok, const uint8_t *t, size_t lo, size_t e)
{
    for (size_t i = ntok; i-- > 0;) {
        if (tk[i].any) {
            for (size_t c = 0; c < tk[i].off; c++) {
                if (e <= lo)
                    return NO_MATCH;
                e -= cp_len_back(t, lo, e);
            }
        } else {
            size_t len = tk[i].len;
            if (e - lo < len || memcmp(t + e - len, vm->u.glob.bytes + tk[i].off, len))
                return NO_MATCH;
            e -= len;
        }
    }
    return e;
}

// True when t[lo..e) holds at least count code points.
static bool has_cps_back(const uint8_t *t, size_t lo, size_t e, size_t count)
{
    for (size_t c = 0; c < count; c++) {
        if (e <= lo)
            return false;
        e -= cp_len_back(t, lo, e);
    }
    return true;
}

// Finds the occurrence of a middle segment in t[pos..end) that ends first; returns its end.
static size_t
seg_find(const sk_vm *vm, const tok *tk, size_t ntok, const uint8_t *t, size_t pos, size_t end)
{
    // Tokens alternate, so a segment is [?-run] literal [?-run] literal ... or a lone ?-run.
    size_t lead = 0, f = 0;
    if (tk[0].any) {
        lead = tk[0].off;
        f = 1;
    }
    if (f == ntok)
        return seg_fwd(vm, tk, ntok, t, pos, end);
    const uint8_t *lit = vm->u.glob.bytes + tk[f].off;
    const size_t len = tk[f].len;
    size_t x = pos + lead; // every code point takes at least one byte
    while (x < end && end - x >= len) {
        const uint8_t *hit = memmem(t + x, end - x, lit, len);
        if (!hit)
            return NO_MATCH;
        size_t at = (size_t)(hit - t);
        if (!lead || has_cps_back(t, pos, at, lead)) {
            size_t r = seg_fwd(vm, tk + f + 1, ntok - f - 1, t, at + len, end);
            if (r != NO_MATCH)
                return r;
        }
        x = at + 1;
    }
    return NO_MATCH;
}

static bool match_glob(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s)
{
    const uint8_t *t = vm->ci ? fold_whole(s, value, n) : (const uint8_t *)value;
    const seg *sg = vm->u.glob.segs;
    const tok *tk = vm->u.glob.toks;
    size_t i = 0, j = vm->u.glob.nseg, pos = 0, end = n;
    if (vm->u.glob.anch_start) {
        pos = seg_fwd(vm, tk + sg[0].first, sg[0].ntok, t, 0, n);
        if (pos == NO_MATCH)
            return false;
        i = 1;
        if (j == 1) // no star at all: the one segment must cover the value
            return !vm->u.glob.anch_end || pos == n;
    }
    if (vm->u.glob.anch_end) {
        end = seg_bwd(vm, tk + sg[j - 1].first, sg[j - 1].ntok, t, pos, n);
        if (end == NO_MATCH)
            return false;
        j--;
    }
    for (; i < j; i++) {
        pos = seg_find(vm, tk + sg[i].first, sg[i].ntok, t, pos, end);
        if (pos == NO_MATCH)
            return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// regex

static void compile_chain(sk_vm *vm, const char *p, size_t n);

// May p[0..n) refer to a group by its number: a back reference (\1, \g1, \g{-1}), a subroutine
// call ((?1), (?+1), (?-1)) or a condition ((?(1)...))? Such a pattern needs its unnamed groups
// to capture. Conservative: a character class ([\1]: octal), a \Q...\E literal or a condition
// on a name also say yes, which only costs the captures.
static bool refers_to_group_number(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        char c = p[i + 1];
        if (p[i] == '\\') {
            if ((c >= '1' && c <= '9') || c == 'g')
                return true;
            i++; // an escaped character (\\1 is a backslash and a 1)
        } else if (p[i] == '(' && c == '?' && i + 2 < n) {
            char d = p[i + 2];
            if ((d >= '0' && d <= '9') || d == '(' ||
                ((d == '+' || d == '-') && i + 3 < n && p[i + 3] >= '0' && p[i + 3] <= '9'))
                return true;
        }
    }
    return false;
}

// The PCRE2 code of vm's pattern, JIT-compiled where the JIT can be used; NULL with *code and
// *off set when the pattern does not compile.
static pcre2_code *
regex_code(const sk_vm *vm, const char *pattern, size_t n, int *code, size_t *off)
{
    // PCRE2_MATCH_INVALID_UTF: a value that is not valid UTF-8 is still searched (matches never
    // include the invalid bytes) instead of failing the UTF check on every call.
    // PCRE2_NO_AUTO_CAPTURE makes unnamed groups non-capturing (nothing reads what they caught),
    // except where the pattern refers to a group by number: (\w)\1{3} would otherwise refer to
    // a group that does not exist, or (a)(?<x>b)\1 to the wrong one.
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if (!refers_to_group_number(pattern, n))
        opts |= PCRE2_NO_AUTO_CAPTURE;
    if (vm->flags & SK_VM_RE_I)
        opts |= PCRE2_CASELESS;
    if (vm->flags & SK_VM_RE_M)
        opts |= PCRE2_MULTILINE;
    if (vm->flags & SK_VM_RE_S)
        opts |= PCRE2_DOTALL;
    pcre2_general_context *g = pcre_gctx_new();
    pcre2_compile_context *cc = pcre2_compile_context_create(g);
    PCRE2_SIZE eo = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(n ? pattern : ""), n, opts, code, &eo, cc);
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(g);
    *off = eo;
    // Without a usable JIT (not built in, or no executable memory) pcre2_match interprets.
    if (re)
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

static sk_status
compile_regex(sk_vm *vm, const char *pattern, size_t n, sk_buf *err, size_t *erroff)
{
    int code = 0;
    size_t off = 0;
    pcre2_code *re = regex_code(vm, pattern, n, &code, &off);
    if (!re) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            snprintf((char *)msg, sizeof msg, "error %d", code);
        set_err(err, "invalid regular expression: %s", (const char *)msg);
        if (erroff)
            *erroff = off;
        return SK_ERR_RULE_SYNTAX;
    }
    atomic_store_explicit(&vm->u.re.code, re, memory_order_release);
    vm->mode = M_REGEX;
    compile_chain(vm, n ? pattern : "", n);
    return SK_OK;
}

// The code of a regex read from the compiled-rule cache, compiled at its first match (most of
// a rule set's regexes never run: the prefilter rules them out) and published once: a thread
// that loses the race frees its copy. The pattern compiled when the cache was written, with the
// same PCRE2 (the cache's key), so it compiles again; NULL only without memory for it.
static pcre2_code *late_code(const sk_vm *vm)
{
    int code;
    size_t off;
    pcre2_code *re = regex_code(vm, vm->src, vm->src_n, &code, &off), *cur = NULL;
    if (!re)
        return NULL;
    sk_vm *w = (sk_vm *)vm; // the code is the one field a match may fill in (as lit.shift)
    if (!atomic_compare_exchange_strong_explicit(
                &w->u.re.code, &cur, re, memory_order_acq_rel, memory_order_acquire)) {
        pcre2_code_free(re);
        return cur;
    }
    return re;
}

// A regex literal character at p[0..n): a byte that is not a metacharacter (a whole UTF-8
// sequence counts byte by byte), or a backslash and a printable non-alphanumeric ASCII character
// (which stands for itself). Control characters, escaped or not, are not taken: a literal line
// feed could never be found within one line. Returns its length in the pattern (0: not a
// literal) and its byte in *c.
static size_t chain_char(const char *p, size_t n, char *c)
{
    unsigned char b = (unsigned char)p[0];
    if (b == '\\') {
        if (n < 2)
            return 0;
        b = (unsigned char)p[1];
        if ((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
            b < 0x20 || b >= 0x7F)
            return 0;
        *c = (char)b;
        return 2;
    }
    if ((strchr("^$.|?*+()[]{}", b) && b != '\0') || b < 0x20 || b == 0x7F)
        return 0;
    *c = (char)b;
    return 1;
}

// Recognises a chain: literal ('.*' literal)+, with every literal non-empty; under the i flag,
// only when no literal has a letter or a non-ASCII byte (case would then matter). PCRE's '.' is
// any character but a newline, and a newline is LF in this library's default convention
// (checked; another convention leaves the regex to PCRE).
static void compile_chain(sk_vm *vm, const char *p, size_t n)
{
    uint32_t nl = 0;
    if (pcre2_config(PCRE2_CONFIG_NEWLINE, &nl) < 0 || nl != PCRE2_NEWLINE_LF)
        return;
    char *text = sk_xmalloc(n + 1);
    uint32_t *lens = sk_xmalloc((n / 3 + 2) * sizeof(uint32_t)); // a link takes 3 bytes at least
    size_t nt = 0, nlits = 0, i = 0, cur = 0;
    bool ok = true;
    while (ok && i <= n) {
        if (i == n || (n - i >= 2 && p[i] == '.' && p[i + 1] == '*')) {
            ok = cur > 0; // no empty literal, no leading, trailing or doubled '.*'
            lens[nlits++] = (uint32_t)cur;
            cur = 0;
            i += i == n ? 1 : 2;
            continue;
        }
        char c = 0;
        size_t k = chain_char(p + i, n - i, &c);
        unsigned char u = (unsigned char)c;
        if (k == 0 ||
            ((vm->flags & SK_VM_RE_I) && (u >= 0x80 || (unsigned)((u | 0x20) - 'a') < 26u))) {
            ok = false;
            break;
        }
        // '.*?' or '.*+' would have stopped at '?' or '+' above (not literals)
        text[nt++] = c;
        cur++;
        i += k;
    }
    if (!ok || nlits < 2) {
        free(text);
        free(lens);
        return;
    }
    vm->u.re.chain_text = text;
    vm->u.re.chain_len = lens;
    vm->u.re.nchain = (uint32_t)nlits;
}

// The chain's literals in order, each at its earliest place after the previous one, within one
// line of v[0..n) (or within the whole value, with the s flag).
static bool match_chain(const sk_vm *vm, const char *v, size_t n)
{
    const bool dotall = vm->flags & SK_VM_RE_S;
    size_t pos = 0;
    for (;;) {
        const char *nlp = dotall ? NULL : memchr(v + pos, '\n', n - pos);
        size_t end = nlp ? (size_t)(nlp - v) : n, at = pos;
        const char *lit = vm->u.re.chain_text;
        uint32_t k = 0;
        for (; k < vm->u.re.nchain; lit += vm->u.re.chain_len[k], k++) {
            const char *hit = memmem(v + at, end - at, lit, vm->u.re.chain_len[k]);
            if (!hit)
                break;
            at = (size_t)(hit - v) + vm->u.re.chain_len[k];
        }
        if (k == vm->u.re.nchain)
            return true;
        if (end == n)
            return false;
        pos = end + 1;
    }
}

static bool match_regex(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s)
{
    if (vm->u.re.chain_text && (!n || sk_utf8_valid(value, n)))
        return match_chain(vm, n ? value : "", n);
    assert(s && "regex predicates need a scratch");
    pcre2_code *re = atomic_load_explicit(&vm->u.re.code, memory_order_acquire);
    if (!re && !(re = late_code(vm)))
        return false;
    int rc = pcre2_match(re, (PCRE2_SPTR)(n ? value : ""), n, 0, 0, s->md, s->mctx);
    if (rc >= 0) // 0: matched, the one-pair ovector was too small for named groups
        return true;
    switch (rc) {
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        s->limit_hits++;
        break;
    default:
        break;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// cidr

// Parses an address (IPv4 dotted quad, IPv6 in any inet_pton form) into a[16]; *af tells which.
static bool parse_addr(const char *s, size_t n, uint8_t a[16], int *af)
{
    char buf[ADDR_TEXT_MAX];
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (memchr(buf, ':', n)) {
        *af = AF_INET6;
        return inet_pton(AF_INET6, buf, a) == 1;
    }
    *af = AF_INET;
    return inet_pton(AF_INET, buf, a) == 1;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full))
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return ((a[full] ^ b[full]) & mask) == 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };

static sk_status compile_cidr(sk_vm *vm, const char *pattern, size_t n, sk_buf *err, size_t *erroff)
{
    const char *slash = memchr(pattern, '/', n);
    size_t alen = slash ? (size_t)(slash - pattern) : n;
    int af;
    uint8_t a[16] = { 0 };
    if (!parse_addr(pattern, alen, a, &af)) {
        set_err(err,
                "invalid network '%.*s': not an IPv4 or IPv6 address",
                (int)(alen < 64 ? alen : 64),
                pattern);
        if (erroff)
            *erroff = 0;
        return SK_ERR_RULE_SYNTAX;
    }
    unsigned max = af == AF_INET ? 32 : 128, prefix = max;
    if (slash) {
        size_t i = alen + 1;
        prefix = 0;
        if (i == n || n - i > 3) {
            set_err(err, "invalid network: bad prefix length");
            if (erroff)
                *erroff = i;
            return SK_ERR_RULE_SYNTAX;
        }
        for (; i < n; i++) {
            if (pattern[i] < '0' || pattern[i] > '9') {
                set_err(err, "invalid network: bad prefix length");
                if (erroff)
                    *erroff = i;
                return SK_ERR_RULE_SYNTAX;
            }
            prefix = prefix * 10 + (unsigned)(pattern[i] - '0');
        }
        if (prefix > max) {
            set_err(err, "invalid network: prefix length %u exceeds %u", prefix, max);
            if (erroff)
                *erroff = alen + 1;
            return SK_ERR_RULE_SYNTAX;
        }
    }
    // Like pySigma (Python's ip_network, strict), a network with host bits set is an error: it
    // is almost always a typo for a different network.
    for (unsigned bit = prefix; bit < max; bit++) {
        if (a[bit / 8] & (0x80u >> (bit % 8))) {
            set_err(err, "invalid network: host bits set after the /%u prefix", prefix);
            if (erroff)
                *erroff = 0;
            return SK_ERR_RULE_SYNTAX;
        }
    }
    vm->mode = M_CIDR;
    vm->u.cidr.af = af;
    memcpy(vm->u.cidr.net, a, 16);
    vm->u.cidr.prefix = prefix;
    return SK_OK;
}

// The value is the exact address text; an IPv6 zone ("fe80::1%eth0") is ignored. An IPv4-mapped
// IPv6 address (::ffff:10.1.2.3, as Windows logs show IPv4 peers of dual-stack sockets) matches
// IPv4 networks, and an IPv4 address matches IPv6 networks through its mapped form.
static bool match_cidr(const sk_vm *vm, const char *value, size_t n)
{
    if (n && memchr(value, ':', n)) {
        const char *zone = memchr(value, '%', n);
        if (zone)
            n = (size_t)(zone - value);
    }
    int af;
    uint8_t a[16];
    if (!parse_addr(value, n, a, &af))
        return false;
    const uint8_t *addr = a;
    uint8_t mapped[16];
    if (vm->u.cidr.af == AF_INET && af == AF_INET6) {
        if (memcmp(a, v4mapped, sizeof v4mapped))
            return false;
        addr = a + 12;
    } else if (vm->u.cidr.af == AF_INET6 && af == AF_INET) {
        memcpy(mapped, v4mapped, sizeof v4mapped);
        memcpy(mapped + 12, a, 4);
        addr = mapped;
    }
    return prefix_eq(addr, vm->u.cidr.net, vm->u.cidr.prefix);
}

// ---------------------------------------------------------------------------------------------
// numbers

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// m * 10^e without libm; exact while m < 2^53 and |e| <= 22, close enough beyond.
static double scale10(double m, long e)
{
    double p = 1.0, b = 10.0;
    unsigned long k = (unsigned long)(e < 0 ? -e : e);
    while (k) {
        if (k & 1)
            p *= b;
        b *= b;
        k >>= 1;
    }
    return e < 0 ? m / p : m * p;
}

// Parses [+-](0x<hex>{1,16} | <digits>[.<digits>][(e|E)[+-]<digits>]), the whole text, no
// spaces. Integers that fit 64 bits stay exact; everything else becomes a double.
static bool parse_num(const char *s, size_t n, num *out)
{
    size_t i = 0;
    num r = { .is_int = true };
    if (i < n && (s[i] == '+' || s[i] == '-'))
        r.neg = s[i++] == '-';
    if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        if (n - i > 16)
            return false;
        for (; i < n; i++) {
            int h = hexval(s[i]);
            if (h < 0)
                return false;
            r.mag = r.mag << 4 | (uint64_t)h;
        }
        *out = r;
        return true;
    }
    uint64_t mant = 0; // first 19 significant digits
    long exp10 = 0;
    size_t digits = 0, sig = 0;
    bool overflow = false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (r.mag > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            r.mag = r.mag * 10 + d;
        if (sig < 19) {
            if (mant || d) {
                mant = mant * 10 + d;
                sig++;
            }
        } else {
            exp10++;
        }
    }
    bool frac = false, expo = false;
    if (i < n && s[i] == '.') {
        frac = true;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            if (sig < 19) {
                mant = mant * 10 + (unsigned)(s[i] - '0');
                if (mant)
                    sig++;
                exp10--;
            }
        }
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        expo = true;
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t from = i;
        long e = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        if (i == from)
            return false;
        exp10 += eneg ? -e : e;
    }
    if (i != n)
        return false;
    if (!frac && !expo && !overflow) {
        *out = r;
        return true;
    }
    r.is_int = false;
    r.d = scale10((double)mant, exp10);
    if (r.neg)
        r.d = -r.d;
    *out = r;
    return true;
}

static double num_double(const num *a)
{
    if (!a->is_int)
        return a->d;
    return a->neg ? -(double)a->mag : (double)a->mag;
}

// Returns <0, 0, >0 as a is less than, equal to or greater than b.
static int num_cmp(const num *a, const num *b)
{
    if (a->is_int && b->is_int) {
        bool an = a->neg && a->mag, bn = b->neg && b->mag; // -0 is 0
        if (an != bn)
            return an ? -1 : 1;
        int c = (a->mag > b->mag) - (a->mag < b->mag);
        return an ? -c : c;
    }
    double x = num_double(a), y = num_double(b);
    return (x > y) - (x < y);
}

static bool match_num(const sk_vm *vm, const char *value, size_t n)
{
    num v;
    if (!parse_num(value, n, &v))
        return false;
    int c = num_cmp(&v, &vm->u.num);
    switch (vm->kind) {
    case SK_VM_LT:
        return c < 0;
    case SK_VM_LTE:
        return c <= 0;
    case SK_VM_GT:
        return c > 0;
    case SK_VM_GTE:
    default:
        return c >= 0;
    }
}

// ---------------------------------------------------------------------------------------------
// public interface

sk_status sk_vm_compile(sk_vm **out,
                        sk_vm_kind kind,
                        const char *pattern,
                        size_t n,
                        unsigned flags,
                        sk_buf *err,
                        size_t *erroff)
{
    assert((unsigned)kind <= SK_VM_GTE);
    if (!pattern)
        pattern = "";
    sk_vm *vm = sk_xcalloc(1, sizeof *vm);
    sk_status st = SK_OK;
    vm->kind = kind;
    vm->flags = flags;
    vm->src = sk_xstrndup(n ? pattern : "", n);
    vm->src_n = n;
    switch (kind) {
    case SK_VM_EQUALS:
    case SK_VM_CONTAINS:
    case SK_VM_STARTSWITH:
    case SK_VM_ENDSWITH:
        vm->ci = !(flags & SK_VM_CASED);
        compile_string(vm, pattern, n);
        break;
    case SK_VM_REGEX:
        vm->mode = M_REGEX;
        st = compile_regex(vm, pattern, n, err, erroff);
        break;
    case SK_VM_CIDR:
        vm->mode = M_CIDR;
        st = compile_cidr(vm, pattern, n, err, erroff);
        break;
    case SK_VM_LT:
    case SK_VM_LTE:
    case SK_VM_GT:
    case SK_VM_GTE:
        vm->mode = M_NUM;
        if (!parse_num(pattern, n, &vm->u.num)) {
            set_err(err, "'%.*s' is not a number", (int)(n < 64 ? n : 64), pattern);
            if (erroff)
                *erroff = 0;
            st = SK_ERR_RULE_SYNTAX;
            break;
        }
        vm->mode = M_NUM;
        break;
    }
    if (st != SK_OK) {
        sk_vm_free(vm);
        return st;
    }
    *out = vm;
    return SK_OK;
}

void sk_vm_free(sk_vm *vm)
{
    if (!vm)
        return;
    switch (vm->mode) {
    case M_LIT:
        free(vm->u.lit.p);
        free(vm->u.lit.shift);
        break;
    case M_GLOB:
        free(vm->u.glob.bytes);
        free(vm->u.glob.toks);
        free(vm->u.glob.segs);
        break;
    case M_REGEX:
        pcre2_code_free(atomic_load(&vm->u.re.code)); // NULL-safe
        free(vm->u.re.chain_text);
        free(vm->u.re.chain_len);
        break;
    case M_CIDR:
    case M_NUM:
        break;
    }
    free(vm->src);
    free(vm);
}

bool sk_vm_match(const sk_vm *vm, const char *value, size_t n, sk_vm_scratch *s)
{
    if (!value)
        n = 0;
    switch (vm->mode) {
    case M_LIT:
        return match_lit(vm, value ? value : "", n, s);
    case M_GLOB:
        return match_glob(vm, value ? value : "", n, s);
    case M_REGEX:
        return match_regex(vm, value, n, s);
    case M_CIDR:
        return match_cidr(vm, value, n);
    case M_NUM:
        return match_num(vm, value, n);
    }
    return false;
}

// Appends s[0..n) for display: backslash and quote escaped, control and invalid bytes as \xNN.
static sk_status add_quoted(sk_buf *out, const char *s, size_t n)
{
    sk_status st = SK_OK;
    size_t i = 0;
    while (i < n && st == SK_OK) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '\'') {
            char e[2] = { '\\', (char)c };
            st = sk_buf_add(out, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            st = sk_buf_addf(out, "\\x%02X", c);
            i++;
        } else if (c < 0x80) {
            st = sk_buf_addc(out, (char)c);
            i++;
        } else {
            uint32_t cp;
            size_t len = sk_utf8_decode(s + i, n - i, &cp);
            if (cp == 0xFFFD && len == 1)
                st = sk_buf_addf(out, "\\x%02X", c);
            else
                st = sk_buf_add(out, s + i, len);
            i += len;
        }
    }
    return st;
}

const char *sk_vm_ci_substring(const sk_vm *vm, size_t *n)
{
    if (vm->mode != M_LIT || vm->u.lit.op != L_SUB || !vm->ci || vm->fold_value)
        return NULL;
    *n = vm->u.lit.n;
    return (const char *)vm->u.lit.p;
}

// Whether the pattern has an unescaped '*' or '?' (with SK_VM_WILDCARDS): a literal test that
// came from one ('*\\cmd.exe' is an end test) is still shown as a wildcard pattern.
static bool has_wildcard(const sk_vm *vm)
{
    if (!(vm->flags & SK_VM_WILDCARDS))
        return false;
    for (size_t i = 0; i < vm->src_n; i++) {
        char c = vm->src[i];
        if (c == '*' || c == '?')
            return true;
        if (c == '\\' && i + 1 < vm->src_n &&
            (vm->src[i + 1] == '*' || vm->src[i + 1] == '?' || vm->src[i + 1] == '\\'))
            i++;
    }
    return false;
}

void sk_vm_describe(const sk_vm *vm, sk_buf *out)
{
    sk_status st = sk_buf_adds(out, kind_names[vm->kind]);
    switch (vm->mode) {
    case M_LIT:
    case M_GLOB:
        if (st == SK_OK)
            st = sk_buf_adds(out, " '");
        if (st == SK_OK)
            st = add_quoted(out, vm->src, vm->src_n);
        if (st == SK_OK)
            st = sk_buf_addf(out,
                             "' (%s%s)",
                             vm->ci ? "case-insensitive" : "cased",
                             vm->mode == M_GLOB || has_wildcard(vm) ? ", wildcards" : "");
        break;
    case M_REGEX:
        if (st == SK_OK)
            st = sk_buf_adds(out, " '");
        if (st == SK_OK)
            st = add_quoted(out, vm->src, vm->src_n);
        if (st == SK_OK)
            st = sk_buf_adds(out, "'");
        if (st == SK_OK && (vm->flags & (SK_VM_RE_I | SK_VM_RE_M | SK_VM_RE_S)))
            st = sk_buf_addf(out,
                             " (%s%s%s)",
                             vm->flags & SK_VM_RE_I ? "i" : "",
                             vm->flags & SK_VM_RE_M ? "m" : "",
                             vm->flags & SK_VM_RE_S ? "s" : "");
        if (st == SK_OK && vm->u.re.chain_text)
            st = sk_buf_addf(out, " (a chain of %u literals)", (unsigned)vm->u.re.nchain);
        break;
    case M_CIDR:
    case M_NUM:
        if (st == SK_OK)
            st = sk_buf_addc(out, ' ');
        if (st == SK_OK)
            st = add_quoted(out, vm->src, vm->src_n);
        break;
    }
    (void)st; // a full buffer truncates the description
}

sk_vm_scratch *sk_vm_scratch_new(void)
{
    sk_vm_scratch *s = sk_xcalloc(1, sizeof *s);
    pcre2_general_context *g = pcre_gctx_new();
    s->md = pcre2_match_data_create(1, g);
    s->mctx = pcre2_match_context_create(g);
    assert(s->md && s->mctx);
    pcre2_set_match_limit(s->mctx, SK_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, SK_REGEX_DEPTH_LIMIT);
    s->jit_stack = pcre2_jit_stack_create(SK_REGEX_JIT_STACK_MIN, SK_REGEX_JIT_STACK_MAX, g);
    if (s->jit_stack)
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    pcre2_general_context_free(g);
    return s;
}

void sk_vm_scratch_free(sk_vm_scratch *s)
{
    if (!s)
        return;
    free(s->fold);
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

void sk_vm_scratch_values(sk_vm_scratch *s)
{
    s->memo_epoch = 0;
    if (++s->epoch == 0)
        s->epoch = 1;
}

void sk_vm_scratch_forget(sk_vm_scratch *s)
{
    s->memo_epoch = 0;
    s->epoch = 0;
}

unsigned long sk_vm_scratch_limit_hits(const sk_vm_scratch *s)
{
    return s->limit_hits;
}

// ---------------------------------------------------------------------------------------------
// images (the compiled-rule cache)

sk_img_off sk_vm_image_put(sk_img_w *w, const sk_vm *vm)
{
    sk_img_off o = sk_img_put_shared(w, vm, sizeof *vm);
    SK_IMG_LINK(w, o, sk_vm, src, sk_img_text(w, vm->src, vm->src_n));
    switch (vm->mode) {
    case M_LIT:
        SK_IMG_LINK(w, o, sk_vm, u.lit.p, sk_img_bytes(w, vm->u.lit.p, vm->u.lit.n));
        // the search table is made again at the first search
        SK_IMG_LINK(w, o, sk_vm, u.lit.shift, 0);
        break;
    case M_GLOB: {
        const seg *last = &vm->u.glob.segs[vm->u.glob.nseg - 1];
        size_t ntok = last->first + last->ntok;
        size_t nbytes = 0; // the literal bytes the tokens use (the buffer is the pattern's size)
        for (size_t t = 0; t < ntok; t++)
            if (!vm->u.glob.toks[t].any && vm->u.glob.toks[t].off + vm->u.glob.toks[t].len > nbytes)
                nbytes = vm->u.glob.toks[t].off + vm->u.glob.toks[t].len;
        SK_IMG_LINK(w, o, sk_vm, u.glob.bytes, sk_img_bytes(w, vm->u.glob.bytes, nbytes));
        SK_IMG_LINK(w, o, sk_vm, u.glob.toks, sk_img_put(w, vm->u.glob.toks, ntok * sizeof(tok)));
        SK_IMG_LINK(w,
                    o,
                    sk_vm,
                    u.glob.segs,
                    sk_img_put(w, vm->u.glob.segs, vm->u.glob.nseg * sizeof(seg)));
        break;
    }
    case M_REGEX:
        // PCRE2 code is compiled again at the first match after the image is read (late_code),
        // the chain when it is read (sk_vm_image_fix).
        SK_IMG_LINK(w, o, sk_vm, u.re.code, 0);
        SK_IMG_LINK(w, o, sk_vm, u.re.chain_text, 0);
        SK_IMG_LINK(w, o, sk_vm, u.re.chain_len, 0);
        ((sk_vm *)sk_img_at(w, o))->u.re.nchain = 0;
        break;
    case M_CIDR:
    case M_NUM:
        break;
    }
    return o;
}

bool sk_vm_image_fix(sk_vm *vm)
{
    // A regex's code is compiled at its first match (late_code); the chain test needs none.
    if (vm->mode == M_REGEX)
        compile_chain(vm, vm->src_n ? vm->src : "", vm->src_n);
    return true;
}

void sk_vm_image_release(sk_vm *vm)
{
    switch (vm->mode) {
    case M_LIT:
        free(vm->u.lit.shift);
        break;
    case M_REGEX:
        pcre2_code_free(atomic_load(&vm->u.re.code));
        free(vm->u.re.chain_text);
        free(vm->u.re.chain_len);
        break;
    default:
        break;
    }
}
