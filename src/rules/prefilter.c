// Literal prefilter: which rules can possibly match an event, from the literal text they need.
//
// Many rules meet every event of their channel and id (1,200 SigmaHQ rules apply to each Sysmon
// process creation), and most of them test long lists of substrings. Evaluating them all costs
// about a millisecond per event. Instead, each rule gets a set of "atoms" at load time: literal
// strings such that, if the rule matches, at least one atom occurs in some field value of the
// event (YARA's atoms, Suricata's fast patterns). Per event, one pass over the field values finds
// the atoms present, and only rules with a present atom (plus rules without atoms) are evaluated.
//
// Atoms. For a compiled value (equals/contains/startswith/endswith, after transforms) the atom of
// each variant is its longest run of literal text between wildcards, lower-cased. Case-insensitive
// matching folds ASCII and the two-byte UTF-8 range (see src/match/fold_int.h), never to or from
// ASCII and never changing lengths, so a run of ASCII and 3/4-byte UTF-8 characters is found
// byte for byte in the ASCII-lower-cased value; two-byte characters end a run. Runs shorter than
// PF_GRAM bytes give no atom. Then, bottom-up through the rule:
//   item       OR of its values: the union of their atoms (none if any value has none);
//              with |all: the best single value's atoms; null, exists, fieldref, neq, regex,
//              cidr, numbers and time parts: none.
//   map (AND)  the best item's atoms; list (OR): the union of the alternatives' atoms.
//   condition  and: the best operand; or / 1 of: the union; not: none; all of: the best.
// "None" anywhere in a union makes the union none: the rule is then always evaluated.
//
// Where. An atom must be found where its item looks: in the fields whose case-folded name is
// the item's field (or a logsource rename of it), or, for keywords, in any visible field. So the
// index keeps one set of literals per field name class, and keyword sets: one per candidate list
// of the ruleset index (the keyword literals of that list's rules), and one of all keyword
// literals for events without a channel. Fields that no rule names (and hidden raw-path
// duplicates, unless a rule names that path) are never read for field atoms.
//
// Which fields. Per event, only the classes that the candidate rules (the channel and event id
// lists of the ruleset index) read are scanned: a PowerShell event is not searched for
// CommandLine literals, nor its `message` for the literals of rules on other channels. Every
// visible field is also scanned with the keyword sets of the candidate lists: with SigmaHQ, the
// product-wide Mimikatz keywords for every event, but the Exchange or antivirus keywords (short
// ones among them) only for the events of their channels.
//
// Values. Every literal of every compiled value of a field or keyword item is in the index too,
// not only the rule-level atoms. After the scan, a variant whose literal occurs in none of the
// scanned fields cannot match, and the matcher skips its predicate (pf_variant_absent): a list of
// 1,000 `contains` values costs the scan, not 1,000 substring searches. The other way round, a
// variant that is a plain case-insensitive contains of exactly its literal holds, without a
// search, on the field the scan first found the literal in (pf_variant_in_field): PowerShell
// rules that look for the host application path in a 5 KB `Data` field that always has it.
// 3-byte literals of values ('iex', 'reg' among the PowerShell ContextInfo |all lists) are in
// the index where the sets of their field classes have a short part anyway (settle_short3): a
// search for 'iex' in 6 KB of script costs about 17,000 instructions.
//
// Search. The scan reads each value at least as long as the set's shortest literal once (a third
// of the values the product-wide keyword set meets are shorter than its 9 bytes): at every step-th
// position it folds the 4 bytes there (bit 5 set in each, which lower-cases ASCII letters) and
// tests a hash bitmap sized for about 1/64 occupancy (1/512 up to 8 KiB); on a bitmap hit it looks
// the gram up and verifies each literal filed under it in place. A set's step is its shortest
// literal's gram count (length - 3), at most PF_STEP_MAX: an occurrence of any literal then has a
// gram at a scanned position among any step consecutive grams of it, so each literal is filed
// under such a window of step grams, the window whose grams are least common among all literals
// and least shared with the literals filed so far (3-byte literals: step 1, under their only
// 3-byte gram). Where the CPU has AVX2, values of 48 bytes and more are read eight positions at a
// time (scan_avx2).
//
// Short literals. One 4-byte literal among hundreds of long ones would make the whole set step
// 1, and one 3-byte literal makes every position probed twice, one at a time. So when a set has
// a few short literals (at most SHORT_MAX) and setting them apart is clearly cheaper by an
// estimate of the scan cost (short_split), they go to the set's short part and the long ones
// keep their own step (not when more than SHORT_SHARED of them begin alike: each is verified
// wherever that prefix occurs). The short part puts its literals in 8 buckets (those that begin
// alike together) and looks at the first three bytes of every position: a table per byte
// position (scalar) or, 32 positions at a time with AVX2, two nibble shuffles per byte position
// (Hyperscan's "Teddy"), gives the buckets whose literals could start there; those are verified
// in place. Of the 190 sets SigmaHQ's Windows rules make, 67 (8,000 literals; among them the
// keyword set of the product-wide rules, which meets every visible field of every event) have
// step 6 and 58 (18,000 literals, many short file names) step 1 as a whole; 82 sets get a short
// part (37 are short literals only), such as PowerShell's ContextInfo (15 short literals of 293:
// step 1 to step 6) and Sysmon's CallTrace (3 of 30: step 1 to step 6). Building takes a few
// milliseconds for the SigmaHQ set.
//
// Why not vectorscan/Hyperscan or Aho-Corasick: measured on the SigmaHQ Windows rules and a
// Winlogbeat 6 dump (23,224 events), vectorscan scans these sets about 2x faster, but compiling
// them takes 0.7-1.1 s per run (more than matching the whole 108 MB dump now takes); a DFA
// Aho-Corasick (442,000 states, 79 MiB of tables) scanned 3x slower than this filter.
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/ascii.h"
#include "core/mem.h"
#include "prefilter_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PF_GRAM 3u

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

// ---------------------------------------------------------------------------------------------
// Atoms of a value

// Length of the UTF-8 sequence starting with byte c (1 for ASCII and for stray bytes).
static size_t seq_len(unsigned char c)
{
    if (c < 0xC0)
        return 1;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    return 4;
}

// The longest usable literal run of pattern s (glob: Sigma escapes and wildcards), lower-cased
// into out (outcap bytes), through cur (n bytes of scratch). Returns its length (0 when none
// reaches PF_GRAM).
static size_t best_run(const char *s, size_t n, bool glob, char *out, size_t outcap, char *cur)
{
    // Most values are ASCII without wildcards or escapes (a backslash before anything but '*',
    // '?' and '\\' is text): one run, the whole value, lower-cased as it is read.
    if (n <= outcap) {
        size_t i = 0;
#if defined(__SSE2__) && !defined(SK_PF_SCALAR)
        // Sixteen bytes at a time while seventeen remain (the escape test looks one ahead): a
        // byte >= 0x80, '*', '?' or two backslashes leave the rest to the loop below.
        const __m128i star = _mm_set1_epi8('*'), qm = _mm_set1_epi8('?'), bs = _mm_set1_epi8('\\'),
                      lo = _mm_set1_epi8('A' - 1), hi = _mm_set1_epi8('Z' + 1),
                      bit5 = _mm_set1_epi8(0x20);
        while (n - i >= 17) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i stop = _mm_cmplt_epi8(x, _mm_setzero_si128());
            if (glob) {
                __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 1));
                stop = _mm_or_si128(
                        stop,
                        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, star), _mm_cmpeq_epi8(x, qm)),
                                     _mm_and_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(y, bs))));
            }
            if (_mm_movemask_epi8(stop))
                break;
            __m128i up = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
            x = _mm_add_epi8(x, _mm_and_si128(up, bit5));
            _mm_storeu_si128((__m128i *)(void *)(out + i), x);
            i += 16;
        }
#endif
        for (; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c >= 0x80 || (glob && (c == '*' || c == '?' ||
                                       (c == '\\' && i + 1 < n &&
                                        (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')))))
                break;
            out[i] = (char)lower(c);
        }
        if (i == n)
            return n >= PF_GRAM ? n : 0;
    }
    size_t best = 0;
    size_t cn = 0;
    for (size_t i = 0; i <= n; i++) {
        bool brk = i == n;
        unsigned char c = 0;
        size_t take = 1;
        if (!brk) {
            c = (unsigned char)s[i];
            if (glob && (c == '*' || c == '?')) {
                brk = true;
            } else if (glob && c == '\\' && i + 1 < n &&
                       (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
                c = (unsigned char)s[++i];
            } else if (c >= 0x80) {
                take = seq_len(c);
                if (take == 2 || c < 0xC0 || i + take > n)
                    brk = true; // a two-byte character (may fold) or a stray byte
            }
        }
        if (brk) {
            if (cn > best && cn <= outcap) {
                memcpy(out, cur, cn);
                best = cn;
            }
            cn = 0;
            continue;
        }
        if (take == 1) {
            cur[cn++] = (char)lower(c);
        } else {
            memcpy(cur + cn, s + i, take);
            cn += take;
            i += take - 1;
        }
    }
    return best >= PF_GRAM ? best : 0;
}

void pf_value_atoms(
        sk_ruleset *rs, cval *cv, char *const *pats, const size_t *lens, size_t n, bool glob)
{
    cv->atoms = NULL;
    cv->alens = NULL;
    cv->natoms = 0;
    if (n == 0)
        return;
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > maxlen)
            maxlen = lens[i];
    // Most values are short: their scratch is on the stack (a malloc and a free per value were
    // a twentieth of loading SigmaHQ).
    char small[512];
    char *buf = 2 * (maxlen + 1) <= sizeof small ? small : sk_xmalloc(2 * (maxlen + 1));
    char *cur = buf + maxlen + 1;
    // The atom pointers, their lengths and, for a single variant (most values), its text: one
    // allocation in the ruleset's arena instead of three.
    const char **atoms;
    uint32_t *alens;
    size_t i = 0;
    if (n == 1) {
        size_t k = best_run(pats[0], lens[0], glob, buf, maxlen, cur);
        if (k > 0) {
            atoms = rs_alloc(rs, sizeof(char *) + sizeof(uint32_t) + k + 1); // zeroed
            alens = (uint32_t *)(void *)(atoms + 1);
            char *text = (char *)(alens + 1);
            memcpy(text, buf, k);
            atoms[0] = text;
            alens[0] = (uint32_t)k;
            i = 1;
        }
        if (buf != small)
            free(buf);
        if (i < n)
            return;
        cv->atoms = atoms;
        cv->alens = alens;
        cv->natoms = 1;
        return;
    }
    atoms = rs_alloc(rs, n * (sizeof(char *) + sizeof(uint32_t)));
    alens = (uint32_t *)(void *)(atoms + n);
    for (; i < n; i++) {
        size_t k = best_run(pats[i], lens[i], glob, buf, maxlen, cur);
        if (k == 0)
            break; // one variant without an atom: the value has none
        atoms[i] = rs_strndup(rs, buf, k);
        alens[i] = (uint32_t)k;
    }
    if (buf != small)
        free(buf);
    if (i < n)
        return;
    cv->atoms = atoms;
    cv->alens = alens;
    cv->natoms = (uint32_t)n;
}

// ---------------------------------------------------------------------------------------------
// Atom sets through the rule

typedef struct atom {
    const char *s;
    uint32_t len;
    const citem *it; // the item it comes from (which fields it must be found in)
} atom;

typedef struct aset {
    bool none; // no atoms: always evaluate
    atom *a;
    size_t n, cap;
} aset;

static void aset_free(aset *a)
{
    free(a->a);
    memset(a, 0, sizeof(*a));
}

static void aset_none(aset *a)
{
    aset_free(a);
    a->none = true;
}

// Room for more atoms after the n there are.
static void aset_reserve(aset *a, size_t more)
{
    sk_xgrow((void **)&a->a, &a->cap, a->n + more, sizeof(atom));
}

static void aset_union(aset *a, aset *b)
{
    if (a->none || b->none) {
        aset_none(a);
    } else if (a->n == 0) {
        free(a->a);
        *a = *b; // b's atoms, in their order
        memset(b, 0, sizeof(*b));
        return;
    } else if (b->n) {
        aset_reserve(a, b->n);
        memcpy(a->a + a->n, b->a, b->n * sizeof(atom));
        a->n += b->n;
    }
    aset_free(b);
}

// Higher is better: long atoms first (up to 8 bytes, beyond that length hardly matters), then
// fewer atoms. lens: n atom lengths, each `stride` bytes after the previous one.
static long atoms_score(bool none, const void *lens, size_t stride, size_t n)
{
    if (none || n == 0)
        return -1;
    uint32_t minlen = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = *(const uint32_t *)(const void *)((const char *)lens + i * stride);
        if (len < minlen)
            minlen = len;
    }
    if (minlen > 8)
        minlen = 8;
    long fewer = n > 9999 ? 0 : 9999 - (long)n;
    return (long)minlen * 10000 + fewer;
}

static long aset_score(const aset *a)
{
    return atoms_score(a->none, a->n ? &a->a[0].len : NULL, sizeof(atom), a->n);
}

// Keeps the better of a and b in a.
static void aset_best(aset *a, aset *b)
{
    if (aset_score(b) > aset_score(a)) {
        aset_free(a);
        *a = *b;
        memset(b, 0, sizeof(*b));
    } else {
        aset_free(b);
    }
}

// Appends the atoms of value cv of item it to out (room reserved).
static void aset_of_value(aset *out, const cval *cv, const citem *it)
{
    for (uint32_t k = 0; k < cv->natoms; k++)
        out->a[out->n++] = (atom){ cv->atoms[k], cv->alens[k], it };
}

static void item_atoms(const citem *it, aset *out)
{
    memset(out, 0, sizeof(*out));
    out->none = true;
    if ((it->kind != IK_MATCH && it->kind != IK_KEYWORD) || it->has_null || it->tpart ||
        it->nvals == 0)
        return;
    out->none = false;
    if (it->all) {
        // The best single value (the first of the best score), scored in place.
        long best = -1;
        const cval *pick = NULL;
        for (uint32_t v = 0; v < it->nvals; v++) {
            const cval *cv = &it->vals[v];
            if (!cv->natoms)
                continue;
            long sc = atoms_score(false, cv->alens, sizeof(uint32_t), cv->natoms);
            if (sc > best) {
                best = sc;
                pick = cv;
            }
        }
        out->none = pick == NULL;
        if (pick) {
            aset_reserve(out, pick->natoms);
            aset_of_value(out, pick, it);
        }
        return;
    }
    size_t total = 0;
    for (uint32_t v = 0; v < it->nvals; v++) {
        if (!it->vals[v].natoms) {
            out->none = true;
            return;
        }
        total += it->vals[v].natoms;
    }
    aset_reserve(out, total);
    for (uint32_t v = 0; v < it->nvals; v++)
        aset_of_value(out, &it->vals[v], it);
}

static void sel_atoms(const sk_rule *r, uint32_t s, aset *out)
{
    const csel *sel = &r->sels[s];
    memset(out, 0, sizeof(*out));
    for (uint32_t a = 0; a < sel->nalts && !out->none; a++) {
        const calt *alt = &sel->alts[a];
        aset best = { .none = true };
        for (uint32_t i = 0; i < alt->nitems; i++) {
            aset ia;
            item_atoms(&alt->items[i], &ia);
            aset_best(&best, &ia);
        }
        aset_union(out, &best);
    }
}

static void cond_atoms(const sk_rule *r, const cnode *c, aset *out)
{
    memset(out, 0, sizeof(*out));
    aset k;
    switch (c->type) {
    case CN_SEL:
        sel_atoms(r, c->sel, out);
        return;
    case CN_NOT:
        out->none = true;
        return;
    case CN_AND:
        out->none = true;
        for (uint32_t i = 0; i < c->nkids; i++) {
            cond_atoms(r, c->kids[i], &k);
            aset_best(out, &k);
        }
        return;
    case CN_OR:
        for (uint32_t i = 0; i < c->nkids && !out->none; i++) {
            cond_atoms(r, c->kids[i], &k);
            aset_union(out, &k);
        }
        return;
    case CN_OF:
        if (c->count == 0 || c->count >= c->nsels) {
            out->none = true;
            for (uint32_t i = 0; i < c->nsels; i++) {
                sel_atoms(r, c->sels[i], &k);
                aset_best(out, &k);
            }
        } else {
            for (uint32_t i = 0; i < c->nsels && !out->none; i++) {
                sel_atoms(r, c->sels[i], &k);
                aset_union(out, &k);
            }
        }
        return;
    }
    out->none = true;
}

void pf_rule_atoms(sk_ruleset *rs, sk_rule *r)
{
    aset a;
    cond_atoms(r, r->cond, &a);
    r->natoms = 0;
    if (!a.none && a.n > 0) {
        r->atoms = rs_alloc(rs, a.n * sizeof(char *));
        r->atom_lens = rs_alloc(rs, a.n * sizeof(uint32_t));
        // drop duplicates (lists often repeat a literal through windash variants), through a
        // hash set: a pairwise scan took minutes for a list of 100,000 values (robustness tests)
        size_t cap = 16;
        while (cap < 2 * a.n)
            cap *= 2;
        uint32_t *slots = sk_xcalloc(cap, sizeof(uint32_t)); // index in r->atoms + 1; 0 = free
        for (size_t i = 0; i < a.n; i++) {
            const atom *at = &a.a[i];
            size_t k = (size_t)rs_hash(at->s, at->len) & (cap - 1);
            bool dup = false;
            for (; slots[k] && !dup; k = (k + 1) & (cap - 1)) {
                uint32_t j = slots[k] - 1;
                dup = r->atom_lens[j] == at->len && memcmp(r->atoms[j], at->s, at->len) == 0;
            }
            if (dup)
                continue;
            slots[k] = r->natoms + 1;
            r->atoms[r->natoms] = at->s;
            r->atom_lens[r->natoms] = at->len;
            r->natoms++;
        }
        free(slots);
    }
    aset_free(&a);
}

// ---------------------------------------------------------------------------------------------
// The index (built once at finish, read-only afterwards)

typedef struct pf_index pf_index;

// Where a literal must be found: a field name class (sk_ruleset.ci_names, i.e. every event field
// whose case-folded name is that class), or any visible field (keyword items): class nci.
typedef struct pf_ref {
    uint32_t where;
    uint32_t sid;   // literal id
    uint32_t rule;  // rule that needs it (rule-level atom), or NONE (a value's literal only)
    uint32_t owner; // rule whose item holds it
} pf_ref;

// One literal of one set: found at offset anchor - [its anchor gram], then verified in place.
typedef struct pf_entry {
    const char *s; // lower-cased
    uint32_t len;
    uint32_t anchor; // offset of the gram it is filed under
    uint32_t sid;
    uint32_t rfirst; // rules needing it: ix->rules[rfirst .. rfirst + nrules)
    uint32_t nrules;
    // In a short part: its first three bytes, folded (prefix3). In a gram part: its last four
    // (gram4), compared before the whole literal.
    uint32_t pre;
} pf_entry;

// Buckets of the short part of a set (one bit each in a byte), and the most literals it takes.
#define SHORT_BUCKETS 8u
#define SHORT_MAX     32u
#define SHORT_SHARED  4u // the most short literals that may begin with the same three bytes

// The literals to look for in the fields of one class (plus the keyword literals, which every
// visible field must be searched for, so a visible field is scanned once), or, for the last
// set, the keyword literals alone.
typedef struct pf_set {
    uint32_t minlen; // the shortest literal: shorter values are not scanned
    // The gram part (bits NULL: every literal is in the short part).
    uint64_t *bits;   // bitmap of anchor gram hashes
    uint32_t shift;   // hash >> shift indexes bits
    bool has3;        // some literal is 3 bytes long (anchored on a 3-byte gram)
    uint32_t step;    // the scan reads a gram at every step-th position
    uint32_t *slots;  // open addressing: gram -> group + 1
    uint32_t mask;    // slots capacity - 1
    uint32_t *keys;   // group -> gram
    uint32_t *gstart; // group g holds entries gstart[g] .. gstart[g + 1] (global indexes)
    // The short part (nshort 0: none): a few short literals in SHORT_BUCKETS buckets, found by
    // their first three bytes (folded: bit 5 set), bucket b holding entries sstart[b] ..
    // sstart[b + 1]. st[p][c]: the buckets with a literal whose byte p folds to c; lo/hi: the
    // same by the low and the high nibble of c, the high one also with bit 1 clear (a superset
    // for unfolded bytes: the AVX2 scan's shuffle tables).
    uint32_t nshort;
    uint32_t sstart[SHORT_BUCKETS + 1];
    uint8_t st[3][256];
    uint8_t lo[3][16], hi[3][16];
} pf_set;

struct pf_index {
    uint32_t nci;  // classes; set nci is the keyword-only set
    pf_set **sets; // [nci + 1]; NULL: nothing to find there
    pf_entry *entries;
    size_t nentries;
    uint32_t *rules;
    size_t nstrings;
    size_t nrules;
    bool *rule_filtered; // [nrules] the rule has atoms: evaluate it only when one is present
    // Which classes each candidate list of the ruleset index reads: list -> bitset (nwords).
    size_t nwords;
    const uint32_t **lkeys; // open addressing on the list pointer
    uint32_t *lslots;       // list -> index + 1
    uint32_t lmask;
    uint64_t *lbits; // [nlists * nwords]
    pf_set **lkw;    // [nlists] the keyword literals of the list's rules (NULL: none)
    size_t nlists;
    uint64_t *all; // every class and the keyword bit
};

#define NONE   UINT32_MAX
#define GRAM_K 0x9E3779B1u // bitmap hash multiplier
#define SLOT_K 0x85EBCA6Bu // slot hash multiplier
// A 3-byte gram's key: its bytes and a fourth byte (1) that no folded 4-byte gram has, because
// folding sets bit 5 of every byte.
#define GRAM3_MARK 0x01000000u
// The literal id that is always "seen": variants that the scan does not look for.
#define SID_ALWAYS    0u
#define BITS_MIN_LOG2 9u
#define BITS_MAX_LOG2 20u
// Bitmaps of up to 8 KiB are sized for about 1/512 occupancy instead: a bit set by chance makes
// the scan look the gram up (for the 120 grams of the product-wide keyword set, about 60,000
// times in 3,000 Winlogbeat events for about 200 real ones), a larger bitmap costs only its load.
#define BITS_SPARSE      512u
#define BITS_SPARSE_LOG2 16u
// Longest scan step (see build_set): each literal is filed under this many grams.
#ifndef PF_STEP_MAX
#define PF_STEP_MAX 6u
#endif

// The 4-byte gram at p, every byte with bit 5 set: ASCII letters fold to lower case (other bytes
// fold too, but literals fold the same way, and every candidate is verified exactly).
static inline uint32_t gram4(const uint8_t *p)
{
    return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24) |
           0x20202020u;
}

static inline uint32_t gram3(const uint8_t *p)
{
    return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | 0x202020u) | GRAM3_MARK;
}

static inline uint32_t slot_of(uint32_t g, uint32_t mask)
{
    uint32_t h = g * SLOT_K;
    return (h ^ h >> 16) & mask; // the high bits depend on every byte of the gram
}

// The slot of gram g: its group + 1, or the free slot where it goes.
static uint32_t *gram_slot(const pf_set *set, uint32_t g)
{
    for (uint32_t i = slot_of(g, set->mask);; i = (i + 1) & set->mask)
        if (!set->slots[i] || set->keys[set->slots[i] - 1] == g)
            return &set->slots[i];
}

enum {
    BY_RULE,
    BY_SID,
    BY_WHERE
};

static inline uint32_t ref_key(const pf_ref *r, int by, uint32_t nrules)
{
    return by == BY_WHERE ? r->where : by == BY_SID ? r->sid : r->rule == NONE ? nrules : r->rule;
}

// One stable counting-sort pass of refs[0..n) by a key in [0, nkeys), through tmp.
static inline void
ref_pass(pf_ref *refs, pf_ref *tmp, size_t n, size_t *count, size_t nkeys, int by, uint32_t nrules)
{
    memset(count, 0, (nkeys + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        count[ref_key(&refs[i], by, nrules) + 1]++;
    for (size_t k = 0; k < nkeys; k++)
        count[k + 1] += count[k];
    for (size_t i = 0; i < n; i++)
        tmp[count[ref_key(&refs[i], by, nrules)]++] = refs[i];
    memcpy(refs, tmp, n * sizeof(pf_ref));
}

// Sorts refs by class, then literal, then rule (NONE last): three stable counting passes, least
// significant key first (qsort's comparisons were a fifth of the prefilter's build).
static void sort_refs(pf_ref *refs, size_t n, size_t nrules, size_t nstr, size_t nci)
{
    if (n < 2)
        return;
    size_t most = nrules + 1 > nstr ? nrules + 1 : nstr;
    if (nci + 1 > most)
        most = nci + 1;
    size_t *count = sk_xmalloc((most + 1) * sizeof(size_t));
    pf_ref *tmp = sk_xmalloc(n * sizeof(pf_ref));
    ref_pass(refs, tmp, n, count, nrules + 1, BY_RULE, (uint32_t)nrules);
    ref_pass(refs, tmp, n, count, nstr, BY_SID, (uint32_t)nrules);
    ref_pass(refs, tmp, n, count, nci + 1, BY_WHERE, (uint32_t)nrules);
    free(tmp);
    free(count);
}

// Build-time state.
typedef struct pf_builder {
    sk_ruleset *rs;
    pf_index *ix;
    // literals: id -> text, and a hash set over them
    const char **str;
    uint32_t *slen;
    size_t nstr, capstr;
    uint32_t *sslots;
    size_t scap;
    pf_ref *refs;
    size_t nrefs, caprefs;
    uint64_t *rule_bits; // [nrules * nwords] classes each rule reads through literals
    size_t nentries, capentries;
    size_t nrulerefs, caprulerefs;
    // How many literals (of all sets) contain each 4-byte gram: the literals are a sample of the
    // text they are searched in, so a gram common among them is common in event values too.
    uint32_t *gcounts; // (build time of wcount only)
    uint32_t *wfirst;  // literal id -> its first entry in wcount
    uint32_t *wcount;  // per literal, per 4-byte window: gcounts of that gram
    const pf_ref *kw;  // the keyword refs (sorted like refs)
    size_t nkw;
    pf_ref *kw_sel; // scratch: the keyword refs of one candidate list
    // 3-byte value literals, registered (settle_short3) only in the classes whose sets get a
    // short part anyway, and leave its split as it is
    struct short3 *s3;
    size_t ns3, caps3;
} pf_builder;

static void str_rehash(pf_builder *b, size_t cap)
{
    free(b->sslots);
    b->sslots = sk_xcalloc(cap, sizeof(uint32_t));
    b->scap = cap;
    for (size_t id = 0; id < b->nstr; id++) {
        size_t i = (size_t)rs_hash(b->str[id], b->slen[id]) & (cap - 1);
        while (b->sslots[i])
            i = (i + 1) & (cap - 1);
        b->sslots[i] = (uint32_t)id + 1;
    }
}

static uint32_t str_intern(pf_builder *b, const char *s, uint32_t len)
{
    if ((b->nstr + 1) * 2 > b->scap)
        str_rehash(b, b->scap ? b->scap * 2 : 1024);
    size_t i = (size_t)rs_hash(s, len) & (b->scap - 1);
    for (; b->sslots[i]; i = (i + 1) & (b->scap - 1)) {
        uint32_t id = b->sslots[i] - 1;
        assert(id < b->nstr); // a used slot holds an interned id (sslots starts zeroed)
        if (b->slen[id] == len && memcmp(b->str[id], s, len) == 0)
            return id;
    }
    size_t cap = b->capstr;
    sk_xgrow((void **)&b->str, &cap, b->nstr + 1, sizeof(char *));
    if (cap != b->capstr) {
        b->slen = sk_xrealloc(b->slen, cap * sizeof(uint32_t));
        b->capstr = cap;
    }
    b->str[b->nstr] = s;
    b->slen[b->nstr] = len;
    b->sslots[i] = (uint32_t)b->nstr + 1;
    return (uint32_t)b->nstr++;
}

// Counts the literals' 4-byte grams (in all sets) and gives each window its gram's count. The
// counts are a heuristic for choosing anchors, so they are kept in a direct-mapped table of up
// to 2^18 counters, grams that share a counter sharing its count (with SigmaHQ about 100,000
// distinct grams): no keys, no probing, no growing.
#define GRAM_COUNTS_LOG2 18u

static void count_grams(pf_builder *b)
{
    size_t total = 0;
    for (size_t id = 0; id < b->nstr; id++)
        total += b->slen[id];
    // Small rule sets (a rule's tests, a fuzz input) get a small table.
    uint32_t size = 1024;
    while (size < (1u << GRAM_COUNTS_LOG2) && size < total * 2)
        size *= 2;
    const uint32_t mask = size - 1;
    b->gcounts = sk_xcalloc((size_t)mask + 1, sizeof(uint32_t));
    b->wfirst = sk_xcalloc(b->nstr + 1, sizeof(uint32_t));
    b->wcount = sk_xcalloc(total + 1, sizeof(uint32_t));
    uint32_t w = 0;
    for (size_t id = 0; id < b->nstr; id++) {
        b->wfirst[id] = w;
        for (uint32_t off = 0; off + 4 <= b->slen[id]; off++) {
            uint32_t i = slot_of(gram4((const uint8_t *)b->str[id] + off), mask);
            b->gcounts[i]++;
            b->wcount[w++] = i; // the counter for now
        }
    }
    for (uint32_t k = 0; k < w; k++)
        b->wcount[k] = b->gcounts[b->wcount[k]];
}

static void add_ref(pf_builder *b, uint32_t where, uint32_t sid, uint32_t rule, uint32_t owner)
{
    sk_xgrow((void **)&b->refs, &b->caprefs, b->nrefs + 1, sizeof(pf_ref));
    b->refs[b->nrefs++] = (pf_ref){ where, sid, rule, owner };
}

// The classes item it of rule r reads: its field's class, and the class of every field a
// logsource renames it to (the source is chosen per event). Keyword items: the keyword class.
// Returns their number (at most max).
static size_t
item_classes(const sk_ruleset *rs, const sk_rule *r, const citem *it, uint32_t *out, size_t max)
{
    if (it->kind == IK_KEYWORD) {
        out[0] = (uint32_t)rs->nci;
        return 1;
    }
    size_t n = 0;
    out[n++] = rs->name_ci[it->fid];
    for (uint32_t s = 0; s < r->nsources; s++) {
        const csource *src = &r->sources[s];
        for (uint32_t k = 0; k < src->nren; k++) {
            if (src->ren_from[k] != it->fid)
                continue;
            uint32_t c = rs->name_ci[src->ren_to[k]];
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = out[j] == c;
            if (!dup && n < max)
                out[n++] = c;
        }
    }
    return n;
}

// Items whose values may skip their predicates when their literal is absent: those that test
// field values (or, for keywords, every visible field value) with the compiled values as is.
static bool item_registered(const citem *it)
{
    return (it->kind == IK_MATCH || it->kind == IK_KEYWORD) && it->tpart == TP_NONE;
}

#define MAX_ITEM_CLASSES 16

// A 3-byte literal of a value, waiting for settle_short3.
typedef struct short3 {
    cval *cv;
    uint32_t *ids; // cv's literal ids (ids[k] is SID_ALWAYS until settled)
    uint32_t k;    // which variant
    uint32_t rule;
    uint32_t nc;
    uint32_t cls[MAX_ITEM_CLASSES];
} short3;

// Variant k of cv is a plain case-insensitive contains of exactly its literal: where the scan
// finds the literal, the variant holds.
static bool is_sure(const cval *cv, uint32_t k)
{
    size_t pn;
    const char *pat = sk_vm_ci_substring(cv->vms[k], &pn);
    return pat && pn == cv->alens[k] && memcmp(pat, cv->atoms[k], pn) == 0;
}

// Registers every value literal of rule ri (so that pf_variant_absent can answer for it) and
// its rule-level atoms (so that the rule is evaluated only when one is present).
static void add_rule(pf_builder *b, uint32_t ri)
{
    sk_ruleset *rs = b->rs;
    sk_rule *r = rs->rules[ri];
    uint64_t *bits = b->rule_bits + (size_t)ri * b->ix->nwords;
    uint32_t cls[MAX_ITEM_CLASSES];
    for (uint32_t s = 0; s < r->nsels; s++) {
        for (uint32_t a = 0; a < r->sels[s].nalts; a++) {
            const calt *alt = &r->sels[s].alts[a];
            for (uint32_t i = 0; i < alt->nitems; i++) {
                const citem *it = &alt->items[i];
                if (!item_registered(it))
                    continue;
                size_t nc = item_classes(rs, r, it, cls, MAX_ITEM_CLASSES);
                for (uint32_t v = 0; v < it->nvals; v++) {
                    cval *cv = &it->vals[v];
                    if (!cv->natoms || cv->natoms != cv->nvms || cv->pf_ids)
                        continue;
                    // one allocation for both (zeroed)
                    uint32_t *ids = rs_alloc(rs, cv->natoms * (sizeof(uint32_t) + sizeof(bool)));
                    bool *sure = (bool *)(ids + cv->natoms);
                    for (uint32_t k = 0; k < cv->natoms; k++) {
                        ids[k] = SID_ALWAYS;
                        if (cv->alens[k] < 4) {
                            // A 3-byte literal: found cheaply in a set's short part, and only
                            // there; settle_short3 decides (until then, never skipped).
                            if (cv->alens[k] == 3 && nc > 0) {
                                sk_xgrow((void **)&b->s3, &b->caps3, b->ns3 + 1, sizeof(short3));
                                short3 *d = &b->s3[b->ns3++];
                                *d = (short3){
                                    .cv = cv, .ids = ids, .k = k, .rule = ri, .nc = (uint32_t)nc
                                };
                                memcpy(d->cls, cls, nc * sizeof(uint32_t));
                            }
                            continue;
                        }
                        ids[k] = str_intern(b, cv->atoms[k], cv->alens[k]);
                        sure[k] = is_sure(cv, k);
                        for (size_t c = 0; c < nc; c++)
                            add_ref(b, cls[c], ids[k], NONE, ri);
                    }
                    for (size_t c = 0; c < nc; c++)
                        bits[cls[c] / 64] |= 1ull << (cls[c] % 64);
                    cv->pf_ids = ids;
                    cv->pf_sure = sure;
                }
            }
        }
    }
    if (r->natoms == 0 || !r->cond)
        return;
    aset a;
    cond_atoms(r, r->cond, &a);
    if (!a.none && a.n > 0) {
        for (size_t i = 0; i < a.n; i++) {
            uint32_t sid = str_intern(b, a.a[i].s, a.a[i].len);
            size_t nc = item_classes(rs, r, a.a[i].it, cls, MAX_ITEM_CLASSES);
            for (size_t c = 0; c < nc; c++) {
                add_ref(b, cls[c], sid, ri, ri);
                bits[cls[c] / 64] |= 1ull << (cls[c] % 64);
            }
        }
        b->ix->rule_filtered[ri] = true;
    }
    aset_free(&a);
}

// Builds one set from refs[0..n) (sorted by literal, then rule; any where).
// The gram part of set: lits[0..nlit), each filed under step grams (see the file comment).
static void build_grams(pf_builder *b, pf_set *set, const pf_entry *lits, size_t nlit)
{
    pf_index *ix = b->ix;
    size_t first = b->nentries;
    // The scan step: the shortest literal has minlen - 3 grams, so a scan that reads a gram at
    // every step-th position still meets each occurrence of each literal in one of any step
    // consecutive grams of it; each literal is then filed under such a window of grams.
    uint32_t minlen = UINT32_MAX;
    for (size_t k = 0; k < nlit; k++)
        if (lits[k].len < minlen)
            minlen = lits[k].len;
    set->step = minlen < 4 ? 1 : minlen - 3 > PF_STEP_MAX ? PF_STEP_MAX : minlen - 3;
    set->has3 = minlen < 4;
    const uint32_t step = set->step;
    size_t ne = nlit * step;
    sk_xgrow((void **)&ix->entries, &b->capentries, first + ne, sizeof(pf_entry));
    uint32_t cap = 64;
    while (cap < ne * 2)
        cap *= 2;
    set->slots = sk_xcalloc(cap, sizeof(uint32_t));
    set->mask = cap - 1;
    set->keys = sk_xcalloc(ne, sizeof(uint32_t));
    uint32_t *count = sk_xcalloc(ne, sizeof(uint32_t));
    uint32_t *group = sk_xcalloc(ne, sizeof(uint32_t));
    uint32_t ngroups = 0;
    uint32_t maxlen = 0;
    for (size_t k = 0; k < nlit; k++)
        if (lits[k].len > maxlen)
            maxlen = lits[k].len;
    uint64_t *cost = sk_xmalloc(((size_t)maxlen + 1) * sizeof(uint64_t));
    // Anchor each literal on the window of step grams that are least common among all literals
    // and least shared with the literals of this set filed so far (greedy, in literal order).
    for (size_t k = 0; k < nlit; k++) {
        const pf_entry *lit = &lits[k];
        const uint8_t *p = (const uint8_t *)lit->s;
        uint32_t at = 0;
        if (lit->len >= 4) {
            // The cost of each gram, then the window sums sliding over them.
            const uint32_t *wc = b->wcount + b->wfirst[lit->sid];
            const uint32_t ng = lit->len - 3;
            for (uint32_t j = 0; j < ng; j++) {
                uint32_t *sl = gram_slot(set, gram4(p + j));
                cost[j] = (uint64_t)wc[j] + 4u * (*sl ? count[*sl - 1] : 0);
            }
            uint64_t c = 0, best;
            for (uint32_t j = 0; j < step; j++)
                c += cost[j];
            best = c;
            for (uint32_t off = 1; off + step <= ng; off++) {
                c += cost[off + step - 1] - cost[off - 1];
                if (c < best) {
                    best = c;
                    at = off;
                }
            }
        }
        for (uint32_t j = 0; j < step; j++) {
            pf_entry *e = &ix->entries[b->nentries];
            *e = *lit;
            e->anchor = at + j;
            e->pre = lit->len >= 4 ? gram4(p + lit->len - 4) : 0;
            uint32_t g = lit->len < 4 ? gram3(p) : gram4(p + at + j);
            uint32_t *sl = gram_slot(set, g);
            if (!*sl) {
                set->keys[ngroups] = g;
                *sl = ++ngroups;
            }
            count[*sl - 1]++;
            group[b->nentries - first] = *sl - 1;
            b->nentries++;
        }
    }
    free(cost);
    // Entries in group order (CSR); the bitmap sized for about 1/64 of its bits set, or 1/512
    // while that is 8 KiB at most.
    set->gstart = sk_xcalloc(ngroups + 1, sizeof(uint32_t));
    set->gstart[0] = (uint32_t)first;
    for (uint32_t g = 0; g < ngroups; g++)
        set->gstart[g + 1] = set->gstart[g] + count[g];
    pf_entry *tmp = sk_xmalloc(ne * sizeof(pf_entry));
    memcpy(tmp, ix->entries + first, ne * sizeof(pf_entry));
    memset(count, 0, ne * sizeof(uint32_t));
    for (size_t k = 0; k < ne; k++)
        ix->entries[set->gstart[group[k]] + count[group[k]]++] = tmp[k];
    free(tmp);
    unsigned lb = BITS_MIN_LOG2;
    while (lb < BITS_MAX_LOG2 && (1u << lb) < (size_t)ngroups * 64)
        lb++;
    while (lb < BITS_SPARSE_LOG2 && (1u << lb) < (size_t)ngroups * BITS_SPARSE)
        lb++;
    set->shift = 32 - lb;
    set->bits = sk_xcalloc((1u << lb) / 64, sizeof(uint64_t));
    for (uint32_t g = 0; g < ngroups; g++) {
        uint32_t h = set->keys[g] * GRAM_K >> set->shift;
        set->bits[h / 64] |= 1ull << (h % 64);
    }
    free(count);
    free(group);
}

// The first three bytes of a literal as the short part looks at them (bit 5 set in each).
static inline uint32_t prefix3(const pf_entry *e)
{
    const uint8_t *p = (const uint8_t *)e->s;
    return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16) | 0x202020u;
}

static int cmp_prefix(const void *a, const void *b)
{
    uint32_t x = prefix3(a), y = prefix3(b);
    if (x != y)
        return x < y ? -1 : 1;
    const pf_entry *ea = a, *eb = b;
    return ea->sid < eb->sid ? -1 : ea->sid > eb->sid;
}

// The short part of set: lits[0..nlit) (each 3 bytes or longer, at most SHORT_MAX) in buckets.
// Literals that begin alike share a bucket, so that a position is verified against the literals
// that can start there and few others: each run of one prefix goes to the emptiest bucket.
static void build_short(pf_builder *b, pf_set *set, const pf_entry *lits, size_t nlit)
{
    pf_index *ix = b->ix;
    assert(nlit <= SHORT_MAX);
    pf_entry sorted[SHORT_MAX];
    uint8_t bucket[SHORT_MAX];
    uint32_t fill[SHORT_BUCKETS] = { 0 };
    memcpy(sorted, lits, nlit * sizeof(pf_entry));
    qsort(sorted, nlit, sizeof(pf_entry), cmp_prefix);
    for (size_t k = 0; k < nlit;) {
        size_t j = k + 1;
        while (j < nlit && prefix3(&sorted[j]) == prefix3(&sorted[k]))
            j++;
        unsigned bk = 0;
        for (unsigned c = 1; c < SHORT_BUCKETS; c++)
            if (fill[c] < fill[bk])
                bk = c;
        fill[bk] += (uint32_t)(j - k);
        for (; k < j; k++)
            bucket[k] = (uint8_t)bk;
    }
    set->nshort = (uint32_t)nlit;
    sk_xgrow((void **)&ix->entries, &b->capentries, b->nentries + nlit, sizeof(pf_entry));
    for (uint32_t bk = 0; bk < SHORT_BUCKETS; bk++) {
        set->sstart[bk] = (uint32_t)b->nentries;
        for (size_t k = 0; k < nlit; k++) {
            if (bucket[k] != bk)
                continue;
            const pf_entry *lit = &sorted[k];
            assert(lit->len >= PF_GRAM);
            ix->entries[b->nentries] = *lit;
            ix->entries[b->nentries].anchor = 0;
            ix->entries[b->nentries].pre = prefix3(lit);
            b->nentries++;
            for (unsigned p = 0; p < 3; p++) {
                uint8_t c = (uint8_t)lit->s[p] | 0x20;
                set->st[p][c] |= (uint8_t)(1u << bk);
                set->lo[p][c & 15] |= (uint8_t)(1u << bk);
                set->hi[p][c >> 4] |= (uint8_t)(1u << bk);
                set->hi[p][(c >> 4) & ~2u] |= (uint8_t)(1u << bk); // unfolded (see the scan)
            }
        }
    }
    set->sstart[SHORT_BUCKETS] = (uint32_t)b->nentries;
}

// Estimated scan cost, per 32 bytes of value, of a gram part whose shortest literal is minlen
// bytes long: the AVX2 scan reads 8 positions per round of about 14 cycles (the costs are those
// of the six positions steps 5 and 6 once had: the splits they give were measured); with a 3-byte
// literal, every position is probed twice, one at a time.
static unsigned gram_cost(uint32_t minlen)
{
    if (minlen < 4)
        return 256;
    uint32_t step = minlen - 3 > PF_STEP_MAX ? PF_STEP_MAX : minlen - 3;
    return step <= 4 ? 56 / step : 75 / step;
}

// True when no more than SHORT_SHARED of the literals shorter than t (at most SHORT_MAX of
// them) begin with the same three bytes: every position where they begin is verified against
// each of them, so a value that repeats such a prefix (indentation, for "   x" literals) would
// cost that many comparisons per byte.
static bool prefixes_spread(const pf_entry *lits, size_t nlit, uint32_t t)
{
    uint32_t pre[SHORT_MAX];
    size_t n = 0;
    for (size_t k = 0; k < nlit; k++) {
        if (lits[k].len >= t)
            continue;
        uint32_t p = prefix3(&lits[k]);
        size_t same = 1;
        for (size_t i = 0; i < n; i++)
            same += pre[i] == p;
        if (same > SHORT_SHARED)
            return false;
        pre[n++] = p;
    }
    return true;
}

// Which literals go to the short part: those shorter than the split that costs least, if that
// is cheaper than no split. The short part costs about 10 cycles per 32 bytes (three shuffle
// lookups a byte), plus its verifications, which grow with its size. Returns the split length
// (0: none).
static uint32_t short_split(const pf_entry *lits, size_t nlit)
{
    uint32_t minlen = UINT32_MAX;
    for (size_t k = 0; k < nlit; k++)
        if (lits[k].len < minlen)
            minlen = lits[k].len;
    const unsigned whole = gram_cost(minlen);
    unsigned best = UINT32_MAX, split = 0;
    for (uint32_t t = 4; t <= PF_STEP_MAX + 4; t++) {
        size_t nshort = 0;
        uint32_t longmin = UINT32_MAX;
        for (size_t k = 0; k < nlit; k++) {
            if (lits[k].len < t)
                nshort++;
            else if (lits[k].len < longmin)
                longmin = lits[k].len;
        }
        if (nshort == 0 || nshort > SHORT_MAX || !prefixes_spread(lits, nlit, t))
            continue;
        unsigned cost =
                10 + (unsigned)nshort / 2 + (longmin == UINT32_MAX ? 0 : gram_cost(longmin));
        if (cost < best) {
            best = cost;
            split = t;
        }
    }
    return best * 5 < whole * 4 ? split : 0; // a fifth cheaper at least
}

static pf_set *build_set(pf_builder *b, const pf_ref *refs, size_t n)
{
    pf_index *ix = b->ix;
    // Entries: one per literal, with the rules that need it.
    size_t first = b->nentries;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        sk_xgrow((void **)&ix->entries, &b->capentries, b->nentries + 1, sizeof(pf_entry));
        pf_entry *e = &ix->entries[b->nentries++];
        memset(e, 0, sizeof *e); // its padding too: the compiled-rule cache writes it to a file
        e->sid = refs[i].sid;
        e->s = b->str[e->sid];
        e->len = b->slen[e->sid];
        e->anchor = 0;
        e->rfirst = (uint32_t)b->nrulerefs;
        e->nrules = 0;
        for (; j < n && refs[j].sid == refs[i].sid; j++) {
            uint32_t r = refs[j].rule;
            if (r == NONE || (e->nrules && ix->rules[b->nrulerefs - 1] == r))
                continue;
            sk_xgrow((void **)&ix->rules, &b->caprulerefs, b->nrulerefs + 1, sizeof(uint32_t));
            ix->rules[b->nrulerefs++] = r;
            e->nrules++;
        }
        i = j;
    }
    size_t nlit = b->nentries - first;
    if (nlit == 0)
        return NULL;
    pf_set *set = sk_xcalloc(1, sizeof(*set));
    set->minlen = UINT32_MAX;
    for (size_t k = 0; k < nlit; k++)
        if (ix->entries[first + k].len < set->minlen)
            set->minlen = ix->entries[first + k].len;
    // The literals, long ones first (in their order), then the short ones.
    pf_entry *lits = sk_xmalloc(nlit * sizeof(pf_entry));
    uint32_t split = short_split(ix->entries + first, nlit);
    size_t nlong = 0;
    for (size_t k = 0; k < nlit; k++)
        if (ix->entries[first + k].len >= split)
            lits[nlong++] = ix->entries[first + k];
    for (size_t k = 0, j = nlong; k < nlit; k++)
        if (ix->entries[first + k].len < split)
            lits[j++] = ix->entries[first + k];
    b->nentries = first;
    if (nlong)
        build_grams(b, set, lits, nlong);
    if (nlong < nlit)
        build_short(b, set, lits + nlong, nlit - nlong);
    free(lits);
    return set;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t list_slot(const pf_index *ix, const uint32_t *list)
{
    uintptr_t h = (uintptr_t)list;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & ix->lmask;
}

static void add_list(pf_builder *b, size_t *nl, const uint32_t *list, uint32_t n)
{
    pf_index *ix = b->ix;
    if (!list || n == 0)
        return;
    uint32_t i = list_slot(ix, list);
    while (ix->lslots[i])
        i = (i + 1) & ix->lmask;
    ix->lslots[i] = (uint32_t)*nl + 1;
    ix->lkeys[*nl] = list;
    uint64_t *bits = ix->lbits + *nl * ix->nwords;
    for (uint32_t k = 0; k < n; k++)
        for (size_t w = 0; w < ix->nwords; w++)
            bits[w] |= b->rule_bits[(size_t)list[k] * ix->nwords + w];
    // The keyword literals of the list's rules (the list is sorted by rule).
    size_t nsel = 0;
    for (size_t k = 0; k < b->nkw; k++)
        if (bsearch(&b->kw[k].owner, list, n, sizeof(uint32_t), cmp_u32))
            b->kw_sel[nsel++] = b->kw[k];
    if (nsel)
        ix->lkw[*nl] = build_set(b, b->kw_sel, nsel);
    (*nl)++;
}

// Registers the 3-byte value literals (b->s3) of the classes whose sets get a short part anyway,
// where they fit without changing the set's split (so the gram part keeps its step): there they
// cost little, where a search for them costs a memchr per occurrence of their first byte (a 6 KB
// PowerShell ContextInfo has hundreds of "i" for "iex"). Elsewhere they would add a short part
// to the scan of every value of the class, most of them short (paths, names): not worth it. A
// literal is registered for all the classes its item reads or none (pf_variant_absent relies on
// that).
// Appends to *lits the literals of sids[0..n) not stamped with mark yet, and stamps them.
static void add_unique(const pf_builder *b,
                       pf_entry **lits,
                       size_t *cap,
                       size_t *n,
                       const uint32_t *sids,
                       size_t count,
                       uint32_t *stamp,
                       uint32_t mark)
{
    for (size_t k = 0; k < count; k++) {
        uint32_t sid = sids[k];
        if (stamp[sid] == mark)
            continue;
        stamp[sid] = mark;
        sk_xgrow((void **)lits, cap, *n + 1, sizeof(pf_entry));
        pf_entry *e = &(*lits)[(*n)++];
        memset(e, 0, sizeof *e); // its padding too (see build_set)
        e->s = b->str[sid];
        e->len = b->slen[sid];
        e->sid = sid;
    }
}

static void settle_short3(pf_builder *b)
{
    if (!b->ns3)
        return;
    const uint32_t nclass = b->ix->nci + 1;
    // The literals of each class that has waiting values, grouped by class (a counting sort):
    // first those registered so far, then the waiting ones.
    uint32_t *start = sk_xcalloc((size_t)nclass + 1, sizeof(uint32_t));
    uint32_t *wstart = sk_xcalloc((size_t)nclass + 1, sizeof(uint32_t));
    size_t nwait = 0;
    for (size_t i = 0; i < b->ns3; i++)
        for (uint32_t c = 0; c < b->s3[i].nc; c++, nwait++)
            wstart[b->s3[i].cls[c] + 1]++;
    for (size_t i = 0; i < b->nrefs; i++)
        if (wstart[b->refs[i].where + 1])
            start[b->refs[i].where + 1]++;
    for (uint32_t c = 0; c < nclass; c++) {
        start[c + 1] += start[c];
        wstart[c + 1] += wstart[c];
    }
    uint32_t *sids = sk_xmalloc(((size_t)start[nclass] + 1) * sizeof(uint32_t));
    uint32_t *wsids = sk_xmalloc((nwait + 1) * sizeof(uint32_t));
    uint32_t *fill = sk_xcalloc(nclass, sizeof(uint32_t));
    for (size_t i = 0; i < b->nrefs; i++) {
        uint32_t c = b->refs[i].where;
        if (wstart[c + 1] != wstart[c])
            sids[start[c] + fill[c]++] = b->refs[i].sid;
    }
    memset(fill, 0, nclass * sizeof(uint32_t));
    for (size_t i = 0; i < b->ns3; i++) {
        const short3 *d = &b->s3[i];
        uint32_t sid = str_intern(b, d->cv->atoms[d->k], 3);
        for (uint32_t c = 0; c < d->nc; c++)
            wsids[wstart[d->cls[c]] + fill[d->cls[c]]++] = sid;
    }
    // Per class, the set's split without and with the waiting literals (each literal once).
    uint32_t *stamp = sk_xcalloc(b->nstr + 1, sizeof(uint32_t));
    bool *ok = sk_xcalloc(nclass, sizeof(bool));
    pf_entry *lits = NULL;
    size_t caplits = 0, n;
    for (uint32_t c = 0; c < nclass; c++) {
        if (wstart[c + 1] == wstart[c])
            continue;
        n = 0;
        add_unique(b, &lits, &caplits, &n, sids + start[c], start[c + 1] - start[c], stamp, c + 1);
        uint32_t split = n ? short_split(lits, n) : 0;
        if (split == 0)
            continue;
        add_unique(
                b, &lits, &caplits, &n, wsids + wstart[c], wstart[c + 1] - wstart[c], stamp, c + 1);
        ok[c] = short_split(lits, n) == split;
    }
    for (size_t i = 0; i < b->ns3; i++) {
        const short3 *d = &b->s3[i];
        bool all = true;
        for (uint32_t c = 0; c < d->nc && all; c++)
            all = ok[d->cls[c]];
        if (!all)
            continue;
        cval *cv = d->cv;
        d->ids[d->k] = str_intern(b, cv->atoms[d->k], 3);
        ((bool *)cv->pf_sure)[d->k] = is_sure(cv, d->k);
        for (uint32_t c = 0; c < d->nc; c++)
            add_ref(b, d->cls[c], d->ids[d->k], NONE, d->rule);
    }
    free(lits);
    free(ok);
    free(stamp);
    free(fill);
    free(wsids);
    free(sids);
    free(wstart);
    free(start);
}

void pf_build(sk_ruleset *rs)
{
    pf_index *ix = sk_xcalloc(1, sizeof(*ix));
    rs->pf = ix;
    ix->nci = (uint32_t)rs->nci;
    ix->nrules = rs->nrules;
    ix->nwords = (rs->nci + 1 + 63) / 64;
    ix->rule_filtered = sk_xcalloc(rs->nrules + 1, sizeof(bool));
    ix->sets = sk_xcalloc(rs->nci + 1, sizeof(pf_set *));
    pf_builder b = { .rs = rs, .ix = ix };
    b.rule_bits = sk_xcalloc((rs->nrules + 1) * ix->nwords, sizeof(uint64_t));
    (void)str_intern(&b, "", 0); // SID_ALWAYS
    for (size_t r = 0; r < rs->nrules; r++)
        add_rule(&b, (uint32_t)r);
    settle_short3(&b);
    ix->nstrings = b.nstr;
    count_grams(&b);

    // Sets: class c gets its own literals; the keyword set gets every keyword literal (for
    // events without a channel, which meet every rule); each candidate list below gets the
    // keyword literals of its own rules.
    sort_refs(b.refs, b.nrefs, rs->nrules, b.nstr, rs->nci);
    size_t kw0 = b.nrefs;
    while (kw0 > 0 && b.refs[kw0 - 1].where == ix->nci)
        kw0--;
    b.kw = b.refs ? b.refs + kw0 : NULL; // no refs at all: no arithmetic on NULL
    b.nkw = b.nrefs - kw0;
    for (size_t i = 0; i < kw0;) {
        size_t j = i;
        while (j < kw0 && b.refs[j].where == b.refs[i].where)
            j++;
        ix->sets[b.refs[i].where] = build_set(&b, b.refs + i, j - i);
        i = j;
    }
    if (b.nkw)
        ix->sets[ix->nci] = build_set(&b, b.kw, b.nkw);

    // Candidate lists of the ruleset index -> the classes their rules read.
    size_t nlists = 1 + rs->nchans;
    for (size_t c = 0; c < rs->nchans; c++)
        nlists += rs->chans[c].neids;
    uint32_t cap = 16;
    while (cap < nlists * 2)
        cap *= 2;
    ix->lmask = cap - 1;
    ix->lslots = sk_xcalloc(cap, sizeof(uint32_t));
    ix->lkeys = sk_xcalloc(nlists, sizeof(uint32_t *));
    ix->lbits = sk_xcalloc(nlists * ix->nwords, sizeof(uint64_t));
    ix->lkw = sk_xcalloc(nlists, sizeof(pf_set *));
    ix->nlists = nlists;
    b.kw_sel = sk_xmalloc((b.nkw + 1) * sizeof(pf_ref));
    size_t nl = 0;
    add_list(&b, &nl, rs->catch_all, rs->ncatch_all);
    for (size_t c = 0; c < rs->nchans; c++) {
        const rs_chan *ch = &rs->chans[c];
        add_list(&b, &nl, ch->any_rules, ch->nany);
        for (uint32_t e = 0; e < ch->neids; e++)
            add_list(&b, &nl, ch->eids[e].rules, ch->eids[e].n);
    }
    ix->nentries = b.nentries;
    ix->all = sk_xcalloc(ix->nwords, sizeof(uint64_t));
    memset(ix->all, 0xFF, ix->nwords * sizeof(uint64_t));

    free(b.gcounts);
    free(b.wfirst);
    free(b.wcount);
    free(b.str);
    free(b.slen);
    free(b.sslots);
    free(b.refs);
    free(b.kw_sel);
    free(b.rule_bits);
    free(b.s3);
}

static void set_free(pf_set *set)
{
    if (!set)
        return;
    free(set->bits);
    free(set->slots);
    free(set->keys);
    free(set->gstart);
    free(set);
}

size_t pf_short_literals(const sk_ruleset *rs)
{
    const pf_index *ix = rs->pf;
    size_t n = 0;
    if (!ix)
        return 0;
    for (size_t c = 0; c <= ix->nci; c++)
        n += ix->sets[c] ? ix->sets[c]->nshort : 0;
    for (size_t l = 0; l < ix->nlists; l++)
        n += ix->lkw[l] ? ix->lkw[l]->nshort : 0;
    return n;
}

void pf_free(sk_ruleset *rs)
{
    pf_index *ix = rs->pf;
    if (!ix)
        return;
    for (size_t c = 0; c <= ix->nci; c++)
        set_free(ix->sets[c]);
    for (size_t l = 0; l < ix->nlists; l++)
        set_free(ix->lkw[l]);
    free(ix->lkw);
    free(ix->sets);
    free(ix->entries);
    free(ix->rules);
    free(ix->rule_filtered);
    free(ix->lkeys);
    free(ix->lslots);
    free(ix->lbits);
    free(ix->all);
    free(ix);
    rs->pf = NULL;
}

// ---------------------------------------------------------------------------------------------
// Scan (per matcher)

pf_scratch *pf_scratch_new(const sk_ruleset *rs)
{
    const pf_index *ix = rs->pf;
    pf_scratch *s = sk_xcalloc(1, sizeof(*s));
    s->ix = ix;
    size_t nr = ix ? ix->nrules : 0, ne = ix ? ix->nentries : 0, ns = ix ? ix->nstrings : 0;
    s->rule_gen = sk_xcalloc(nr + 1, sizeof(uint32_t));
    s->entry_gen = sk_xcalloc(ne + 1, sizeof(uint32_t));
    s->seen = sk_xcalloc(ns + 1, sizeof(uint32_t));
    s->seen_field = sk_xcalloc(ns + 1, sizeof(uint32_t));
    s->need = sk_xcalloc(ix ? ix->nwords : 1, sizeof(uint64_t));
    return s;
}

void pf_scratch_free(pf_scratch *s)
{
    if (!s)
        return;
    free(s->rule_gen);
    free(s->entry_gen);
    free(s->seen);
    free(s->seen_field);
    free(s->need);
    free(s);
}

void pf_scratch_reset(pf_scratch *s)
{
    s->done = false;
}

bool pf_rule_possible(const pf_scratch *s, size_t r)
{
    return !s->done || !s->ix->rule_filtered[r] || s->rule_gen[r] == s->gen;
}

// v[0..n) ASCII-lower-cased equals the lower-cased literal; eight bytes a step, the last eight
// (or, below eight, the first and last four) overlapping: literals are verified where they are
// found far more often than where they are not, and a byte loop over the rest cost about a
// fifth of the scan's verifications.
static inline bool eq_ci(const uint8_t *v, const char *lit, size_t n)
{
    uint64_t a = 0, b = 0, c = 0, d = 0;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&a, v + i, 8);
            memcpy(&b, lit + i, 8);
            if (sk_ascii_lower8(a) != b)
                return false;
        }
        memcpy(&a, v + n - 8, 8);
        memcpy(&b, lit + n - 8, 8);
        return sk_ascii_lower8(a) == b;
    }
    if (n >= 4) {
        memcpy(&a, v, 4);
        memcpy(&c, v + n - 4, 4);
        memcpy(&b, lit, 4);
        memcpy(&d, lit + n - 4, 4);
        return sk_ascii_lower8(a | c << 32) == (b | d << 32);
    }
    for (size_t i = 0; i < n; i++)
        if (lower(v[i]) != (unsigned char)lit[i])
            return false;
    return true;
}

// Entry e was found: its literal is present (first seen in the current field) and so are the
// atoms of its rules.
static inline void found(pf_scratch *s, const pf_index *ix, uint32_t e)
{
    const pf_entry *en = &ix->entries[e];
    const uint32_t gen = s->gen;
    s->entry_gen[e] = gen;
    if (s->seen[en->sid] != gen) {
        s->seen[en->sid] = gen;
        s->seen_field[en->sid] = s->cur_field;
    }
    for (uint32_t k = 0; k < en->nrules; k++)
        s->rule_gen[ix->rules[en->rfirst + k]] = gen;
}

// The group of gram g + 1, or 0 when no literal is filed under it (a bitmap collision).
static inline uint32_t gram_group(const pf_set *set, uint32_t g)
{
    for (uint32_t k = slot_of(g, set->mask);; k = (k + 1) & set->mask) {
        uint32_t sl = set->slots[k];
        if (!sl || set->keys[sl - 1] == g)
            return sl;
    }
}

// Verifies the literals of group sl - 1 (gram hit at v[i]) and marks those present.
static void
verify(pf_scratch *s, const pf_set *set, uint32_t sl, const uint8_t *v, size_t n, size_t i)
{
    const pf_index *ix = s->ix;
    const uint32_t gen = s->gen;
    for (uint32_t e = set->gstart[sl - 1]; e < set->gstart[sl]; e++) {
        const pf_entry *en = &ix->entries[e];
        if (s->entry_gen[e] == gen || i < en->anchor || n - (i - en->anchor) < en->len)
            continue;
        // (Literals filed under one gram often share more than the gram: their last four bytes
        // tell most of them apart in a compare.)
        const uint8_t *at = v + i - en->anchor;
        if ((en->len >= 4 && gram4(at + en->len - 4) != en->pre) || !eq_ci(at, en->s, en->len))
            continue;
        found(s, ix, e);
    }
}

// A gram hit at v[i]: verifies the literals filed under gram g and marks those present. Most
// hits are bitmap collisions (99% in the keyword set of SigmaHQ's product-wide rules, over
// Winlogbeat documents): those cost the slot look-up, inline, and no call.
static inline void
probe(pf_scratch *s, const pf_set *set, uint32_t g, const uint8_t *v, size_t n, size_t i)
{
    uint32_t sl = gram_group(set, g);
    if (sl)
        verify(s, set, sl, v, n, i);
}

// A hit of the short part at v[i] (i + 3 <= n): bucket bits m; verifies their literals there.
// Most hits have none of the buckets' prefixes (a bucket's nibbles and bytes of different
// literals meet: 70% of the hits of PowerShell's ContextInfo set), so each literal's prefix is
// compared first, as one word.
static void
short_probe(pf_scratch *s, const pf_set *set, unsigned m, const uint8_t *v, size_t n, size_t i)
{
    const pf_index *ix = s->ix;
    const uint32_t w =
            ((uint32_t)v[i] | (uint32_t)v[i + 1] << 8 | (uint32_t)v[i + 2] << 16) | 0x202020u;
    for (; m; m &= m - 1) {
        unsigned bk = (unsigned)__builtin_ctz(m);
        for (uint32_t e = set->sstart[bk]; e < set->sstart[bk + 1]; e++) {
            const pf_entry *en = &ix->entries[e];
            if (en->pre != w || s->entry_gen[e] == s->gen || n - i < en->len ||
                !eq_ci(v + i, en->s, en->len))
                continue;
            found(s, ix, e);
        }
    }
}

static inline bool bit_at(const uint64_t *bits, uint32_t g, uint32_t shift)
{
    uint32_t h = g * GRAM_K >> shift;
    return bits[h / 64] >> (h % 64) & 1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SK_PF_SCALAR)
#define PF_AVX2 1
#include <immintrin.h>

// The shuffle control of scan_avx2 for steps 1 to 4: per 128-bit lane, the 4 bytes at positions
// 0, step, 2 * step and 3 * step.
#define PF_CTL_POS(step, d, b) (int8_t)((d) * (step) + (b))
#define PF_CTL_D(step, d) \
    PF_CTL_POS(step, d, 0), PF_CTL_POS(step, d, 1), PF_CTL_POS(step, d, 2), PF_CTL_POS(step, d, 3)
#define PF_CTL_LANE(step) PF_CTL_D(step, 0), PF_CTL_D(step, 1), PF_CTL_D(step, 2), PF_CTL_D(step, 3)
#define PF_CTL(step)                         \
    {                                        \
        PF_CTL_LANE(step), PF_CTL_LANE(step) \
    }

// The two shuffle controls of scan_avx2 for steps 5 and 6, whose four positions 0 .. 3 * step + 3
// do not fit in a lane: they take the 4 bytes at positions 0, step, .., 7 * step from two 32-byte
// loads, at i (y 0) and at i + 16 (y 16). Dword d (in lane d / 4) takes each of its bytes from
// the load that has it in that lane (bytes 16 * (d / 4) + y .. + 15); the other control gives a
// zero byte (0x80) there, and the two shuffles are or-ed.
#define PF_CTL8_POS(step, d, b, base)                                 \
    ((d) * (step) + (b) >= (base) && (d) * (step) + (b) < (base) + 16 \
             ? (int8_t)((d) * (step) + (b) - (base))                  \
             : -128)
#define PF_CTL8_D(step, d, y)                                                                 \
    PF_CTL8_POS(step, d, 0, (d) / 4 * 16 + (y)), PF_CTL8_POS(step, d, 1, (d) / 4 * 16 + (y)), \
            PF_CTL8_POS(step, d, 2, (d) / 4 * 16 + (y)),                                      \
            PF_CTL8_POS(step, d, 3, (d) / 4 * 16 + (y))
#define PF_CTL8(step, y)                                                             \
    {                                                                                \
        PF_CTL8_D(step, 0, y), PF_CTL8_D(step, 1, y), PF_CTL8_D(step, 2, y),         \
                PF_CTL8_D(step, 3, y), PF_CTL8_D(step, 4, y), PF_CTL8_D(step, 5, y), \
                PF_CTL8_D(step, 6, y), PF_CTL8_D(step, 7, y)                         \
    }

// The positions i + d * step of a scan_avx2 block whose bitmap bits are set (bit d of m): probed
// in order. Out of line: a block has one about one time in ten, and the loop keeps its registers.
__attribute__((noinline)) static void
probe_block(pf_scratch *s, const pf_set *set, const uint8_t *v, size_t n, size_t i, unsigned m)
{
    const size_t step = set->step;
    for (; m; m &= m - 1) {
        size_t at = i + (unsigned)__builtin_ctz(m) * step;
        probe(s, set, gram4(v + at), v, n, at);
    }
}

// The scan of a set without 3-byte literals, eight positions at a time with AVX2: the 4 bytes at
// each of them into the dwords of a register (steps 1-4: two 16-byte loads 4 * step apart and a
// shuffle, 4 positions per lane; steps 5-6: two 32-byte loads and two shuffles, see PF_CTL8),
// fold, hash and a gather of the bitmap words. Positions whose bit is set are probed in order,
// as the scalar loop does (where the last block overlaps the one before, again: found literals
// stay found). Returns the first position it did not scan: the scalar loop takes it from there
// (the same step grid). About 2x the scalar loop at step 1 (the gather is the
// bottleneck).
__attribute__((target("avx2"))) static size_t
scan_avx2(pf_scratch *s, const pf_set *set, const uint8_t *v, size_t n)
{
    static const int8_t ctl[4][32] = { PF_CTL(1), PF_CTL(2), PF_CTL(3), PF_CTL(4) };
    static const int8_t ctl8[2][2][32] = { { PF_CTL8(5, 0), PF_CTL8(5, 16) },
                                           { PF_CTL8(6, 0), PF_CTL8(6, 16) } };
    _Static_assert(PF_STEP_MAX <= 6, "the eighth position of a longer step overruns 48 bytes");
    const size_t step = set->step, lane = 4 * step;
    const __m256i fold = _mm256_set1_epi32(0x20202020), k = _mm256_set1_epi32((int)GRAM_K);
    const __m256i low5 = _mm256_set1_epi32(31);
    const __m128i sh = _mm_cvtsi32_si128((int)set->shift);
    const int *words = (const int *)set->bits; // the bitmap as 32-bit words (little endian)
    // The bytes a block reads; the last block is the last one on the step grid that fits: it
    // overlaps the one before (a position probed twice finds nothing new), and leaves the scalar
    // loop at most a few positions instead of up to two blocks' worth.
    const size_t span = step >= 5 ? 48 : lane + 16;
    if (n < span)
        return 0;
    const size_t last = (n - span) / step * step;
#define PF_BLOCK(i, g)                                                                     \
    do {                                                                                   \
        __m256i h = _mm256_srl_epi32(_mm256_mullo_epi32(_mm256_or_si256(g, fold), k), sh); \
        __m256i w = _mm256_i32gather_epi32(words, _mm256_srli_epi32(h, 5), 4);             \
        /* bit h % 32 of each word to the top (shifted left by 31 - h % 32: ~h & 31) */    \
        __m256i t = _mm256_sllv_epi32(w, _mm256_andnot_si256(h, low5));                    \
        unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(t));                 \
        if (m)                                                                             \
            probe_block(s, set, v, n, i, m);                                               \
    } while (0)
    if (step >= 5) {
        const __m256i sx = _mm256_loadu_si256((const __m256i *)ctl8[step - 5][0]);
        const __m256i sy = _mm256_loadu_si256((const __m256i *)ctl8[step - 5][1]);
#define PF_GRAMS8(i)                                                                         \
    _mm256_or_si256(_mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(v + (i))), sx), \
                    _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(v + (i) + 16)), sy))
        for (size_t i = 0; i < last; i += 2 * lane)
            PF_BLOCK(i, PF_GRAMS8(i));
        PF_BLOCK(last, PF_GRAMS8(last));
#undef PF_GRAMS8
    } else {
        const __m256i sx = _mm256_loadu_si256((const __m256i *)ctl[step - 1]);
#define PF_GRAMS(i)                                                                          \
    _mm256_shuffle_epi8(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)(v + (i) + lane)), \
                                         _mm_loadu_si128((const __m128i *)(v + (i)))),       \
                        sx)
        for (size_t i = 0; i < last; i += 2 * lane)
            PF_BLOCK(i, PF_GRAMS(i));
        PF_BLOCK(last, PF_GRAMS(last));
#undef PF_GRAMS
    }
#undef PF_BLOCK
    return last + 2 * lane;
}

// The buckets of the short part whose literals may begin at v[i + d], in byte d of the result:
// for each of the first three bytes of a literal, two in-lane shuffles look up the buckets that
// have its low and its high nibble there. The high nibble tables have each bucket under the
// nibble with and without bit 1 (which is bit 5 of the byte), so that the bytes need no folding.
__attribute__((target("avx2"), always_inline)) static inline __m256i
short_block(const __m256i *lo, const __m256i *hi, const uint8_t *v)
{
    const __m256i nib = _mm256_set1_epi8(0x0F);
    __m256i r = _mm256_setzero_si256();
    for (unsigned p = 0; p < 3; p++) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(v + p));
        __m256i l = _mm256_shuffle_epi8(lo[p], _mm256_and_si256(x, nib));
        __m256i h = _mm256_shuffle_epi8(hi[p], _mm256_and_si256(_mm256_srli_epi16(x, 4), nib));
        r = p ? _mm256_and_si256(r, _mm256_and_si256(l, h)) : _mm256_and_si256(l, h);
    }
    return r;
}

// Verifies the positions of a short_block result r at v[i] where some bucket may begin.
__attribute__((target("avx2"), noinline)) static void
short_hits(pf_scratch *s, const pf_set *set, __m256i r, const uint8_t *v, size_t n, size_t i)
{
    unsigned m = ~(unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(r, _mm256_setzero_si256()));
    uint8_t b[32];
    _mm256_storeu_si256((__m256i *)b, r);
    for (; m; m &= m - 1) {
        unsigned d = (unsigned)__builtin_ctz(m);
        short_probe(s, set, b[d], v, n, i + d);
    }
}

// The short part, 32 positions at a time (Hyperscan's "Teddy", see short_block); a position
// where all six lookups agree on a bucket is verified. As the gram scan does, it ends with the
// last block that fits (overlapping the one before: positions verified twice find nothing new).
// Returns the first position it did not read (the scalar loop takes it from there).
__attribute__((target("avx2"))) static size_t
scan_short_avx2(pf_scratch *s, const pf_set *set, const uint8_t *v, size_t n)
{
    __m256i lo[3], hi[3];
    for (unsigned p = 0; p < 3; p++) {
        lo[p] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)set->lo[p]));
        hi[p] = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)set->hi[p]));
    }
    if (n < 32 + 2)
        return 0;
    const size_t last = n - 32 - 2;
    for (size_t i = 0; i < last; i += 32) {
        __m256i r = short_block(lo, hi, v + i);
        if (!_mm256_testz_si256(r, r))
            short_hits(s, set, r, v, n, i);
    }
    __m256i r = short_block(lo, hi, v + last);
    if (!_mm256_testz_si256(r, r))
        short_hits(s, set, r, v, n, last);
    return last + 32;
}
#endif

// The short part of set over v[0..n).
static void scan_short(pf_scratch *s, const pf_set *set, const uint8_t *v, size_t n)
{
    size_t i = 0;
#ifdef PF_AVX2
    if (n >= 34 && __builtin_cpu_supports("avx2"))
        i = scan_short_avx2(s, set, v, n);
#endif
    for (; i + 3 <= n; i++) {
        unsigned m =
                set->st[0][v[i] | 0x20] & set->st[1][v[i + 1] | 0x20] & set->st[2][v[i + 2] | 0x20];
        if (m)
            short_probe(s, set, m, v, n, i);
    }
}

static void scan_value(pf_scratch *s, const pf_set *set, const char *value, size_t n)
{
    const uint8_t *v = (const uint8_t *)value;
    const uint64_t *bits = set->bits;
    const uint32_t shift = set->shift;
    size_t i = 0;
    assert(n >= set->minlen && set->minlen >= PF_GRAM);
    if (set->nshort)
        scan_short(s, set, v, n);
    if (!bits)
        return;
    if (!set->has3) {
        const size_t step = set->step;
#ifdef PF_AVX2
        if (n >= 48 && __builtin_cpu_supports("avx2"))
            i = scan_avx2(s, set, v, n);
#endif
        for (; i + 4 <= n; i += step) {
            uint32_t g = gram4(v + i);
            if (bit_at(bits, g, shift))
                probe(s, set, g, v, n, i);
        }
        return;
    }
    for (; i + 4 <= n; i++) {
        uint32_t g = gram4(v + i);
        if (bit_at(bits, g, shift))
            probe(s, set, g, v, n, i);
        uint32_t g3 = (g & 0xFFFFFFu) | GRAM3_MARK;
        if (bit_at(bits, g3, shift))
            probe(s, set, g3, v, n, i);
    }
    uint32_t g3 = gram3(v + i); // the last three bytes
    if (bit_at(bits, g3, shift))
        probe(s, set, g3, v, n, i);
}

#define MAX_KW_SETS 3

// The classes the candidate lists read, into s->need, and the keyword sets to scan every
// visible field with, into kw; returns their number. No lists: every class and keyword.
static size_t need_classes(pf_scratch *s,
                           const uint32_t *const *lists,
                           const uint32_t *lens,
                           size_t nlists,
                           const pf_set **kw)
{
    const pf_index *ix = s->ix;
    size_t nkw = 0;
    memset(s->need, 0, ix->nwords * sizeof(uint64_t));
    if (!lists) {
        memcpy(s->need, ix->all, ix->nwords * sizeof(uint64_t));
        if (ix->sets[ix->nci])
            kw[nkw++] = ix->sets[ix->nci];
        return nkw;
    }
    for (size_t l = 0; l < nlists; l++) {
        if (!lists[l] || lens[l] == 0)
            continue;
        uint32_t i = list_slot(ix, lists[l]), id;
        while ((id = ix->lslots[i]) && ix->lkeys[id - 1] != lists[l])
            i = (i + 1) & ix->lmask;
        const uint64_t *bits = id ? ix->lbits + (size_t)(id - 1) * ix->nwords : ix->all;
        for (size_t w = 0; w < ix->nwords; w++)
            s->need[w] |= bits[w];
        const pf_set *k = id ? ix->lkw[id - 1] : ix->sets[ix->nci];
        if (k && nkw < MAX_KW_SETS && (nkw == 0 || kw[nkw - 1] != k))
            kw[nkw++] = k;
    }
    return nkw;
}

void pf_scan(pf_scratch *s,
             const sk_event *ev,
             const uint32_t *field_ci,
             const uint32_t *const *lists,
             const uint32_t *lens,
             size_t nlists)
{
    const pf_index *ix = s->ix;
    s->done = false;
    if (!ix)
        return;
    if (++s->gen == 0) {
        memset(s->rule_gen, 0, (ix->nrules + 1) * sizeof(uint32_t));
        memset(s->entry_gen, 0, (ix->nentries + 1) * sizeof(uint32_t));
        memset(s->seen, 0, (ix->nstrings + 1) * sizeof(uint32_t));
        s->gen = 1;
    }
    s->seen[SID_ALWAYS] = s->gen;
    const pf_set *kw[MAX_KW_SETS];
    size_t nkw = need_classes(s, lists, lens, nlists, kw);
    const uint64_t *need = s->need;
    size_t nf = sk_event_nfields(ev);
    for (size_t k = 0; k < nf; k++) {
        const sk_field *f = sk_event_field(ev, k);
        uint32_t c = ix->nci ? field_ci[k] : NONE;
        s->cur_field = (uint32_t)k;
        const size_t n = f->value_len;
        // (Values shorter than a set's shortest literal are skipped: a third of the values the
        // keyword set of the product-wide rules meets are numbers and names shorter than its
        // 9 bytes.)
        if (c != NONE && ix->sets[c] && n >= ix->sets[c]->minlen && (need[c / 64] >> (c % 64) & 1))
            scan_value(s, ix->sets[c], f->value, n);
        if (!(f->flags & SK_FIELD_HIDDEN))
            for (size_t j = 0; j < nkw; j++)
                if (n >= kw[j]->minlen)
                    scan_value(s, kw[j], f->value, n);
    }
    s->done = true;
}

// ---------------------------------------------------------------------------------------------
// Images (the compiled-rule cache, rule_cache.c)

static sk_img_off set_image_put(sk_img_w *w, const pf_set *set)
{
    if (!set)
        return 0;
    sk_img_off o = sk_img_put_shared(w, set, sizeof *set);
    if (set->bits) {
        // Every group has one slot; keys and gstart are read for groups only.
        uint32_t ngroups = 0;
        for (uint32_t i = 0; i <= set->mask; i++)
            ngroups += set->slots[i] != 0;
        size_t nbits = ((size_t)1 << (32 - set->shift)) / 64;
        SK_IMG_LINK(w, o, pf_set, bits, sk_img_put(w, set->bits, nbits * sizeof(uint64_t)));
        SK_IMG_LINK(w,
                    o,
                    pf_set,
                    slots,
                    sk_img_put(w, set->slots, ((size_t)set->mask + 1) * sizeof(uint32_t)));
        SK_IMG_LINK(w, o, pf_set, keys, sk_img_put(w, set->keys, ngroups * sizeof(uint32_t)));
        SK_IMG_LINK(w,
                    o,
                    pf_set,
                    gstart,
                    sk_img_put(w, set->gstart, ((size_t)ngroups + 1) * sizeof(uint32_t)));
    } else {
        SK_IMG_LINK(w, o, pf_set, bits, 0);
        SK_IMG_LINK(w, o, pf_set, slots, 0);
        SK_IMG_LINK(w, o, pf_set, keys, 0);
        SK_IMG_LINK(w, o, pf_set, gstart, 0);
    }
    return o;
}

sk_img_off pf_image_put(sk_img_w *w, const pf_index *ix)
{
    if (!ix)
        return 0;
    sk_img_off o = sk_img_put(w, ix, sizeof *ix);
    sk_img_off sets = sk_img_put(w, ix->sets, ((size_t)ix->nci + 1) * sizeof(pf_set *));
    SK_IMG_LINK(w, o, pf_index, sets, sets);
    for (size_t c = 0; c <= ix->nci; c++)
        sk_img_link(w, sets, c * sizeof(pf_set *), set_image_put(w, ix->sets[c]));
    size_t nrefs = 0;
    sk_img_off ents = sk_img_put(w, ix->entries, ix->nentries * sizeof(pf_entry));
    SK_IMG_LINK(w, o, pf_index, entries, ents);
    for (size_t e = 0; e < ix->nentries; e++) {
        const pf_entry *en = &ix->entries[e];
        SK_IMG_LINK_AT(w, ents, pf_entry, e, s, sk_img_bytes(w, en->s, en->len));
        if ((size_t)en->rfirst + en->nrules > nrefs)
            nrefs = (size_t)en->rfirst + en->nrules;
    }
    SK_IMG_LINK(w, o, pf_index, rules, sk_img_put(w, ix->rules, nrefs * sizeof(uint32_t)));
    SK_IMG_LINK(w,
                o,
                pf_index,
                rule_filtered,
                sk_img_put(w, ix->rule_filtered, (ix->nrules + 1) * sizeof(bool)));
    // The candidate lists are the ruleset index's own (written before): the matcher finds a
    // list's entry by its address.
    sk_img_off lkeys = sk_img_put(w, ix->lkeys, ix->nlists * sizeof(uint32_t *));
    SK_IMG_LINK(w, o, pf_index, lkeys, lkeys);
    sk_img_off lkw = sk_img_put(w, ix->lkw, ix->nlists * sizeof(pf_set *));
    SK_IMG_LINK(w, o, pf_index, lkw, lkw);
    for (size_t l = 0; l < ix->nlists; l++) {
        sk_img_link(w, lkeys, l * sizeof(uint32_t *), sk_img_ref(w, ix->lkeys[l]));
        sk_img_link(w, lkw, l * sizeof(pf_set *), set_image_put(w, ix->lkw[l]));
    }
    SK_IMG_LINK(w,
                o,
                pf_index,
                lslots,
                sk_img_put(w, ix->lslots, ((size_t)ix->lmask + 1) * sizeof(uint32_t)));
    SK_IMG_LINK(w,
                o,
                pf_index,
                lbits,
                sk_img_put(w, ix->lbits, ix->nlists * ix->nwords * sizeof(uint64_t)));
    SK_IMG_LINK(w, o, pf_index, all, sk_img_put(w, ix->all, ix->nwords * sizeof(uint64_t)));
    return o;
}

void pf_image_fix(pf_index *ix)
{
    if (!ix)
        return;
    // The list slots hash list addresses, which are new.
    memset(ix->lslots, 0, ((size_t)ix->lmask + 1) * sizeof(uint32_t));
    for (size_t l = 0; l < ix->nlists; l++) {
        if (!ix->lkeys[l])
            continue;
        uint32_t i = list_slot(ix, ix->lkeys[l]);
        while (ix->lslots[i])
            i = (i + 1) & ix->lmask;
        ix->lslots[i] = (uint32_t)l + 1;
    }
}
