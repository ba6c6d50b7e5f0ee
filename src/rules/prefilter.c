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
// Search. Each distinct atom is anchored at one of its PF_GRAM-byte substrings (the least shared
// one). The scan slides a 4-byte window over every value, tests a 64-Kibit bitmap of anchors, and
// only on a bitmap hit looks the window up and verifies the whole atom in place.
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "rules_int.h"

#define PF_GRAM      3u
#define PF_BITS_LOG2 16u

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
// into out. Returns its length (0 when none reaches PF_GRAM).
static size_t best_run(const char *s, size_t n, bool glob, char *out, size_t outcap)
{
    size_t best = 0;
    char *cur = sk_xmalloc(n + 1);
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
    free(cur);
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
    const char **atoms = rs_alloc(rs, n * sizeof(char *));
    uint32_t *alens = rs_alloc(rs, n * sizeof(uint32_t));
    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > maxlen)
            maxlen = lens[i];
    char *buf = sk_xmalloc(maxlen + 1);
    for (size_t i = 0; i < n; i++) {
        size_t k = best_run(pats[i], lens[i], glob, buf, maxlen);
        if (k == 0) {
            free(buf);
            return; // one variant without an atom: the value has none
        }
        atoms[i] = rs_strndup(rs, buf, k);
        alens[i] = (uint32_t)k;
    }
    free(buf);
    cv->atoms = atoms;
    cv->alens = alens;
    cv->natoms = (uint32_t)n;
}

// ---------------------------------------------------------------------------------------------
// Atom sets through the rule

typedef struct aset {
    bool none; // no atoms: always evaluate
    const char **s;
    uint32_t *len;
    size_t n, cap;
} aset;

static void aset_free(aset *a)
{
    free(a->s);
    free(a->len);
    memset(a, 0, sizeof(*a));
}

static void aset_none(aset *a)
{
    aset_free(a);
    a->none = true;
}

static void aset_add(aset *a, const char *s, uint32_t len)
{
    if (a->none)
        return;
    size_t cap = a->cap;
    sk_xgrow((void **)&a->s, &cap, a->n + 1, sizeof(char *));
    if (cap != a->cap) {
        a->len = sk_xrealloc(a->len, cap * sizeof(uint32_t));
        a->cap = cap;
    }
    a->s[a->n] = s;
    a->len[a->n] = len;
    a->n++;
}

static void aset_union(aset *a, aset *b)
{
    if (a->none || b->none) {
        aset_none(a);
    } else {
        for (size_t i = 0; i < b->n; i++)
            aset_add(a, b->s[i], b->len[i]);
    }
    aset_free(b);
}

// Higher is better: long atoms first (up to 8 bytes, beyond that length hardly matters), then
// fewer atoms.
static long aset_score(const aset *a)
{
    if (a->none || a->n == 0)
        return -1;
    uint32_t minlen = UINT32_MAX;
    for (size_t i = 0; i < a->n; i++)
        if (a->len[i] < minlen)
            minlen = a->len[i];
    if (minlen > 8)
        minlen = 8;
    long fewer = a->n > 9999 ? 0 : 9999 - (long)a->n;
    return (long)minlen * 10000 + fewer;
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

static void item_atoms(const citem *it, aset *out)
{
    memset(out, 0, sizeof(*out));
    out->none = true;
    if ((it->kind != IK_MATCH && it->kind != IK_KEYWORD) || it->has_null || it->tpart ||
        it->nvals == 0)
        return;
    out->none = false;
    if (it->all) {
        out->none = true;
        for (uint32_t v = 0; v < it->nvals; v++) {
            const cval *cv = &it->vals[v];
            if (!cv->natoms)
                continue;
            aset one = { 0 };
            for (uint32_t k = 0; k < cv->natoms; k++)
                aset_add(&one, cv->atoms[k], cv->alens[k]);
            aset_best(out, &one);
        }
        return;
    }
    for (uint32_t v = 0; v < it->nvals; v++) {
        const cval *cv = &it->vals[v];
        if (!cv->natoms) {
            aset_none(out);
            return;
        }
        for (uint32_t k = 0; k < cv->natoms; k++)
            aset_add(out, cv->atoms[k], cv->alens[k]);
    }
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
        // drop duplicates (lists often repeat a literal through windash variants)
        for (size_t i = 0; i < a.n; i++) {
            bool dup = false;
            for (uint32_t j = 0; j < r->natoms && !dup; j++)
                dup = r->atom_lens[j] == a.len[i] && memcmp(r->atoms[j], a.s[i], a.len[i]) == 0;
            if (dup)
                continue;
            r->atoms[r->natoms] = a.s[i];
            r->atom_lens[r->natoms] = a.len[i];
            r->natoms++;
        }
    }
    aset_free(&a);
}

// ---------------------------------------------------------------------------------------------
// Index over all rules' atoms

#define PF_GRAM_MASK (PF_GRAM >= 4 ? 0xFFFFFFFFu : (1u << (8 * PF_GRAM)) - 1)

static inline uint32_t gram_at(const char *s)
{
    uint32_t g = 0;
    for (unsigned i = 0; i < PF_GRAM; i++)
        g = g << 8 | lower((unsigned char)s[i]);
    return g;
}

static inline uint32_t gram_hash(uint32_t g)
{
    return (g * 0x9E3779B1u) >> (32 - PF_BITS_LOG2);
}

static uint32_t atom_find(const sk_ruleset *rs, const char *s, uint32_t len)
{
    if (!rs->pf_atom_cap)
        return UINT32_MAX;
    size_t mask = rs->pf_atom_cap - 1;
    for (size_t i = (size_t)rs_hash(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = rs->pf_atom_slots[i];
        if (!v)
            return UINT32_MAX;
        const pf_atom *a = &rs->pf_atoms[v - 1];
        if (a->len == len && memcmp(a->s, s, len) == 0)
            return v - 1;
    }
}

static void atom_slots_rebuild(sk_ruleset *rs, size_t cap)
{
    free(rs->pf_atom_slots);
    rs->pf_atom_slots = sk_xcalloc(cap, sizeof(uint32_t));
    rs->pf_atom_cap = cap;
    for (size_t id = 0; id < rs->pf_natoms; id++) {
        const pf_atom *a = &rs->pf_atoms[id];
        size_t i = (size_t)rs_hash(a->s, a->len) & (cap - 1);
        while (rs->pf_atom_slots[i])
            i = (i + 1) & (cap - 1);
        rs->pf_atom_slots[i] = (uint32_t)id + 1;
    }
}

static uint32_t atom_intern(sk_ruleset *rs, const char *s, uint32_t len)
{
    uint32_t id = atom_find(rs, s, len);
    if (id != UINT32_MAX)
        return id;
    size_t cap = rs->pf_capatoms;
    sk_xgrow((void **)&rs->pf_atoms, &cap, rs->pf_natoms + 1, sizeof(pf_atom));
    rs->pf_capatoms = cap;
    id = (uint32_t)rs->pf_natoms++;
    pf_atom *a = &rs->pf_atoms[id];
    memset(a, 0, sizeof(*a));
    a->s = s;
    a->len = len;
    if ((rs->pf_natoms + 1) * 2 > rs->pf_atom_cap)
        atom_slots_rebuild(rs, rs->pf_atom_cap ? rs->pf_atom_cap * 2 : 1024);
    else {
        size_t i = (size_t)rs_hash(s, len) & (rs->pf_atom_cap - 1);
        while (rs->pf_atom_slots[i])
            i = (i + 1) & (rs->pf_atom_cap - 1);
        rs->pf_atom_slots[i] = id + 1;
    }
    return id;
}

// Open-addressing map gram -> group (atoms anchored on that gram).
static uint32_t *gram_slot(uint32_t *slots, const uint32_t *grams, size_t cap, uint32_t g)
{
    size_t i = gram_hash(g) & (cap - 1);
    for (;; i = (i + 1) & (cap - 1))
        if (!slots[i] || grams[slots[i] - 1] == g)
            return &slots[i];
}

void pf_build(sk_ruleset *rs)
{
    // 1. Distinct atoms and the rules that need them.
    for (size_t r = 0; r < rs->nrules; r++) {
        const sk_rule *rule = rs->rules[r];
        for (uint32_t i = 0; i < rule->natoms; i++) {
            uint32_t id = atom_intern(rs, rule->atoms[i], rule->atom_lens[i]); // may move pf_atoms
            pf_atom *a = &rs->pf_atoms[id];
            if (a->nrules && a->rules[a->nrules - 1] == r)
                continue;
            size_t cap = a->caprules;
            sk_xgrow((void **)&a->rules, &cap, a->nrules + 1, sizeof(uint32_t));
            a->caprules = (uint32_t)cap;
            a->rules[a->nrules++] = (uint32_t)r;
        }
    }
    free(rs->pf_atom_slots);
    rs->pf_atom_slots = NULL;
    rs->pf_atom_cap = 0;
    if (rs->pf_natoms == 0)
        return;
    // 2. Anchor each atom on its least shared gram (greedy, in atom order).
    size_t cap = 64;
    while (cap < rs->pf_natoms * 2)
        cap *= 2;
    uint32_t *slots = sk_xcalloc(cap, sizeof(uint32_t));
    uint32_t *grams = sk_xcalloc(rs->pf_natoms, sizeof(uint32_t));
    uint32_t *counts = sk_xcalloc(rs->pf_natoms, sizeof(uint32_t));
    size_t ngroups = 0;
    for (size_t id = 0; id < rs->pf_natoms; id++) {
        pf_atom *a = &rs->pf_atoms[id];
        uint32_t best_off = 0, best_cnt = UINT32_MAX;
        for (uint32_t off = 0; off + PF_GRAM <= a->len; off++) {
            uint32_t *sl = gram_slot(slots, grams, cap, gram_at(a->s + off));
            uint32_t cnt = *sl ? counts[*sl - 1] : 0;
            if (cnt < best_cnt) {
                best_cnt = cnt;
                best_off = off;
                if (cnt == 0)
                    break;
            }
        }
        a->anchor = best_off;
        uint32_t g = gram_at(a->s + best_off);
        uint32_t *sl = gram_slot(slots, grams, cap, g);
        if (!*sl) {
            grams[ngroups] = g;
            *sl = (uint32_t)++ngroups;
        }
        counts[*sl - 1]++;
    }
    // 3. Groups in CSR form: group k holds atoms order[start[k] .. start[k] + counts[k]).
    rs->pf_group_start = sk_xcalloc(ngroups + 1, sizeof(uint32_t));
    for (size_t k = 0; k < ngroups; k++)
        rs->pf_group_start[k + 1] = rs->pf_group_start[k] + counts[k];
    rs->pf_order = sk_xcalloc(rs->pf_natoms, sizeof(uint32_t));
    uint32_t *fill = sk_xcalloc(ngroups + 1, sizeof(uint32_t));
    rs->pf_bits = sk_xcalloc((1u << PF_BITS_LOG2) / 64, sizeof(uint64_t));
    for (size_t id = 0; id < rs->pf_natoms; id++) {
        const pf_atom *a = &rs->pf_atoms[id];
        uint32_t g = gram_at(a->s + a->anchor);
        uint32_t k = *gram_slot(slots, grams, cap, g) - 1;
        rs->pf_order[rs->pf_group_start[k] + fill[k]++] = (uint32_t)id;
        uint32_t h = gram_hash(g);
        rs->pf_bits[h / 64] |= 1ull << (h % 64);
    }
    free(fill);
    free(counts);
    rs->pf_gram_slots = slots;
    rs->pf_grams = grams;
    rs->pf_gram_cap = cap;
    rs->pf_ngroups = ngroups;
}

void pf_free(sk_ruleset *rs)
{
    for (size_t i = 0; i < rs->pf_natoms; i++)
        free(rs->pf_atoms[i].rules);
    free(rs->pf_atoms);
    free(rs->pf_atom_slots);
    free(rs->pf_group_start);
    free(rs->pf_order);
    free(rs->pf_bits);
    free(rs->pf_gram_slots);
    free(rs->pf_grams);
}

// ---------------------------------------------------------------------------------------------
// Scan

static bool eq_ci(const char *v, const char *atom, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)v[i]) != (unsigned char)atom[i])
            return false;
    return true;
}

void pf_scan(const sk_ruleset *rs,
             const sk_event *ev,
             uint32_t *rule_gen,
             uint32_t *atom_gen,
             uint32_t gen)
{
    if (rs->pf_ngroups == 0)
        return;
    const uint64_t *bits = rs->pf_bits;
    size_t nf = sk_event_nfields(ev);
    for (size_t f = 0; f < nf; f++) {
        const sk_field *fl = sk_event_field(ev, f);
        const char *v = fl->value;
        size_t n = fl->value_len;
        if (n < PF_GRAM)
            continue;
        uint32_t g = 0;
        for (size_t i = 0; i + 1 < PF_GRAM; i++)
            g = g << 8 | lower((unsigned char)v[i]);
        for (size_t i = PF_GRAM - 1; i < n; i++) {
            g = (g << 8 | lower((unsigned char)v[i])) & PF_GRAM_MASK;
            uint32_t h = gram_hash(g);
            if (!(bits[h / 64] >> (h % 64) & 1))
                continue;
            uint32_t sl = *gram_slot(rs->pf_gram_slots, rs->pf_grams, rs->pf_gram_cap, g);
            if (!sl)
                continue;
            size_t start = i + 1 - PF_GRAM; // where the gram starts
            for (uint32_t k = rs->pf_group_start[sl - 1]; k < rs->pf_group_start[sl]; k++) {
                uint32_t id = rs->pf_order[k];
                if (atom_gen[id] == gen)
                    continue;
                const pf_atom *a = &rs->pf_atoms[id];
                if (start < a->anchor || start - a->anchor + a->len > n ||
                    !eq_ci(v + start - a->anchor, a->s, a->len))
                    continue;
                atom_gen[id] = gen;
                for (uint32_t r = 0; r < a->nrules; r++)
                    rule_gen[a->rules[r]] = gen;
            }
        }
    }
}
