// The matcher: per-thread state that runs a shared, read-only ruleset over events.
//
// Per event: (1) the event's field names are hashed once and mapped to the ruleset's interned ids
// (exact and case-folded), building per-id chains of field indexes, so items find their values by
// integer id; (2) the candidate rules come from the (channel, event id) index; (3) each candidate's
// logsource source is checked (channel, event id, extra condition like EventType) and chosen (its
// renames apply to field lookups); (4) the condition is evaluated with a per-selection memo; (5)
// for a hit, the positive selections are walked again to collect the matched field/value pairs.
//
// Nothing is allocated per event once the scratch arrays have grown to the largest event seen.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/timefmt.h"
#include "eql_int.h"
#include "prefilter_int.h"
#include "rules_int.h"

#define CHAN_MEMO_MAX 64u

struct sk_matcher {
    const sk_ruleset *rs;
    sk_vm_scratch *scratch;
    const sk_event *ev;
    // Field chains for the current event.
    uint32_t gen;
    uint32_t *name_gen; // [nnames]
    uint32_t *name_head;
    uint32_t *ci_gen; // [nci]
    uint32_t *ci_head;
    uint32_t *next_exact; // [cap_fields]
    uint32_t *next_ci;
    size_t cap_fields;
    // Current rule.
    const csource *src;
    uint32_t rule_gen;
    uint32_t *sel_gen; // [max_sels]
    bool *sel_val;
    // Prefilter marks for the current event (see prefilter.c).
    pf_scratch *pf;
    uint32_t *field_ci; // [cap_fields] case-folded name class of each field (NONE: none)
    // Hit items.
    sk_match_item *items;
    size_t nitems, cap_items;
    eql_scratch *eql; // [EQL dispatch] EQL evaluation state; NULL when the ruleset has no EQL rule
    struct name_memo *memo; // [NAME_MEMO] recent field names and their ids
    // [prefilter] Per rule: 0 not known yet, 1 the rule has atoms (pf_rule_possible is false
    // when none was found), 2 it has none (always possible).
    uint8_t *rule_atoms;
    uint32_t *run; // [nrules] the candidates of the current event that may match
    // The last channel name looked up (chan_len > CHAN_MEMO_MAX: none) and its id.
    char chan_name[CHAN_MEMO_MAX];
    size_t chan_len;
    uint32_t chan_id;
};

#define NONE UINT32_MAX

// Field names repeat from event to event (every Winlogbeat document of a kind has the same
// ones), and most are names no rule reads, which costs two failed lookups each. So each matcher
// remembers, in a direct-mapped table keyed by a cheap hash of the name's length and ends, the
// ids of the names it met recently (names of up to 40 bytes).
#define NAME_MEMO     2048u
#define NAME_MEMO_MAX 40u

typedef struct name_memo {
    uint8_t len; // 0: empty slot
    char name[NAME_MEMO_MAX];
    uint32_t id, ci;
    uint64_t a, b; // the name's ends as memo_slot reads them (memo_ends)
} name_memo;

#define NAME_MEMO_LOG2 11u
_Static_assert(NAME_MEMO == 1u << NAME_MEMO_LOG2, "NAME_MEMO is 2^NAME_MEMO_LOG2");

// The first and last eight bytes of a name (four for a shorter one; its bytes for one under four),
// which hold all of a name of up to 16 bytes: names of one length with the same ends are the same
// name up to 16 bytes, and longer ones differ at most in s[8..n-8).
static inline void memo_ends(const char *s, size_t n, uint64_t *ap, uint64_t *bp)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x;
        b = y;
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)(unsigned char)s[i] << (8 * i);
    }
    *ap = a;
    *bp = b;
}

// The slot of a name with ends a, b: the top bits of the products, which depend on every byte of
// the first and last eight (lower bits would miss the last byte: "param1", "param2" and "param3"
// shared a slot).
static inline uint32_t memo_slot(uint64_t a, uint64_t b, size_t n)
{
    uint64_t h =
            (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (n * 0xFF51AFD7ED558CCDull);
    return (uint32_t)(h >> (64 - NAME_MEMO_LOG2));
}

// a[0..n) == b[0..n) for a short name: in words, the last one overlapping (memcmp's call cost
// more than the comparison of such names).
static inline bool memo_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y)
                return false;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4);
        memcpy(&q, b, 4);
        memcpy(&r, a + n - 4, 4);
        memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

sk_matcher *sk_matcher_new(const sk_ruleset *rs)
{
    sk_matcher *m = sk_xcalloc(1, sizeof(*m));
    m->rs = rs;
    m->scratch = sk_vm_scratch_new();
    size_t nn = rs->nnames ? rs->nnames : 1, nc = rs->nci ? rs->nci : 1;
    m->name_gen = sk_xcalloc(nn, sizeof(uint32_t));
    m->name_head = sk_xcalloc(nn, sizeof(uint32_t));
    m->ci_gen = sk_xcalloc(nc, sizeof(uint32_t));
    m->ci_head = sk_xcalloc(nc, sizeof(uint32_t));
    size_t ns = rs->max_sels ? rs->max_sels : 1;
    m->sel_gen = sk_xcalloc(ns, sizeof(uint32_t));
    m->sel_val = sk_xcalloc(ns, sizeof(bool));
    m->pf = pf_scratch_new(rs);
    m->cap_items = rs->max_items_out + 1;
    m->items = sk_xcalloc(m->cap_items, sizeof(sk_match_item));
    if (rs->eql) // [EQL dispatch]
        m->eql = eql_scratch_new(rs);
    m->memo = sk_xcalloc(NAME_MEMO, sizeof(name_memo));
    m->chan_len = SIZE_MAX;
    m->rule_atoms = sk_xcalloc(rs->nrules ? rs->nrules : 1, 1);
    m->run = sk_xcalloc(rs->nrules ? rs->nrules : 1, sizeof(uint32_t));
    return m;
}

void sk_matcher_free(sk_matcher *m)
{
    if (!m)
        return;
    sk_vm_scratch_free(m->scratch);
    free(m->memo);
    free(m->rule_atoms);
    free(m->run);
    free(m->name_gen);
    free(m->name_head);
    free(m->ci_gen);
    free(m->ci_head);
    free(m->next_exact);
    free(m->next_ci);
    free(m->sel_gen);
    free(m->sel_val);
    free(m->items);
    pf_scratch_free(m->pf);
    free(m->field_ci);
    eql_scratch_free(m->eql); // [EQL dispatch]
    free(m);
}

unsigned long sk_matcher_limit_hits(const sk_matcher *m)
{
    return sk_vm_scratch_limit_hits(m->scratch);
}

// ---------------------------------------------------------------------------------------------
// Field chains

static void index_event(sk_matcher *m, const sk_event *ev)
{
    const sk_ruleset *rs = m->rs;
    m->ev = ev;
    pf_scratch_reset(m->pf); // [prefilter] nothing proven for this event yet
    sk_vm_scratch_values(m->scratch); // the event's values stay put while its rules run
    if (++m->gen == 0) {
        memset(m->name_gen, 0, (rs->nnames ? rs->nnames : 1) * sizeof(uint32_t));
        memset(m->ci_gen, 0, (rs->nci ? rs->nci : 1) * sizeof(uint32_t));
        m->gen = 1;
    }
    size_t nf = sk_event_nfields(ev);
    if (nf > m->cap_fields) {
        size_t cap = m->cap_fields ? m->cap_fields : 64;
        while (cap < nf)
            cap *= 2;
        m->next_exact = sk_xrealloc(m->next_exact, cap * sizeof(uint32_t));
        m->next_ci = sk_xrealloc(m->next_ci, cap * sizeof(uint32_t));
        m->field_ci = sk_xrealloc(m->field_ci, cap * sizeof(uint32_t)); // [prefilter]
        m->cap_fields = cap;
    }
    if (!rs->nnames)
        return;
    for (size_t k = nf; k-- > 0;) {
        const sk_field *f = sk_event_field(ev, k);
        uint32_t id, ci;
        name_memo *mm = NULL;
        if (f->name_len > 0 && f->name_len <= NAME_MEMO_MAX) {
            // The ends read for the slot are compared as they are, and only the middle of a name
            // longer than 16 bytes is read again.
            uint64_t a, b;
            memo_ends(f->name, f->name_len, &a, &b);
            mm = &m->memo[memo_slot(a, b, f->name_len)];
            if (mm->len != f->name_len || mm->a != a || mm->b != b ||
                (f->name_len > 16 && !memo_eq(mm->name + 8, f->name + 8, f->name_len - 16))) {
                uint64_t h = rs_hash_ci(f->name, f->name_len); // keys both tables (ruleset.c)
                mm->id = rs_find_name(rs, f->name, f->name_len, h);
                mm->ci = mm->id != NONE ? rs->name_ci[mm->id]
                                        : rs_find_ci(rs, f->name, f->name_len, h);
                mm->len = (uint8_t)f->name_len;
                mm->a = a;
                mm->b = b;
                memcpy(mm->name, f->name, f->name_len);
            }
            id = mm->id;
            ci = mm->ci;
        } else {
            uint64_t h = rs_hash_ci(f->name, f->name_len);
            id = rs_find_name(rs, f->name, f->name_len, h);
            ci = id != NONE ? rs->name_ci[id] : rs_find_ci(rs, f->name, f->name_len, h);
        }
        if (id != NONE) {
            m->next_exact[k] = m->name_gen[id] == m->gen ? m->name_head[id] : NONE;
            m->name_head[id] = (uint32_t)k;
            m->name_gen[id] = m->gen;
        }
        m->field_ci[k] = ci; // [prefilter]
        if (ci != NONE) {
            m->next_ci[k] = m->ci_gen[ci] == m->gen ? m->ci_head[ci] : NONE;
            m->ci_head[ci] = (uint32_t)k;
            m->ci_gen[ci] = m->gen;
        }
    }
}

// Iterator over the event fields that answer to a rule field id: exact name first; when the event
// has no field of that exact name, a case-insensitive match (field names are case-sensitive in
// Sigma, but exports disagree on case: "commandline", "Commandline").
typedef struct fiter {
    uint32_t cur;
    bool ci;
} fiter;

static uint32_t resolve_fid(const sk_matcher *m, uint32_t fid)
{
    const csource *s = m->src;
    if (s)
        for (uint32_t i = 0; i < s->nren; i++)
            if (s->ren_from[i] == fid)
                return s->ren_to[i];
    return fid;
}

static uint32_t first_field(const sk_matcher *m, uint32_t fid, fiter *it, bool renames)
{
    if (renames)
        fid = resolve_fid(m, fid);
    if (m->name_gen[fid] == m->gen) {
        it->ci = false;
        it->cur = m->name_head[fid];
        return it->cur;
    }
    uint32_t ci = m->rs->name_ci[fid];
    if (m->ci_gen[ci] == m->gen) {
        it->ci = true;
        it->cur = m->ci_head[ci];
        return it->cur;
    }
    it->cur = NONE;
    return NONE;
}

static uint32_t next_field(const sk_matcher *m, fiter *it)
{
    it->cur = it->ci ? m->next_ci[it->cur] : m->next_exact[it->cur];
    return it->cur;
}

// ---------------------------------------------------------------------------------------------
// Items

static int time_value(time_part tp, const char *s, size_t n, char *out, size_t on)
{
    uint64_t ft;
    if (!sk_time_parse(s, n, &ft) || ft < SK_FILETIME_UNIX_EPOCH)
        return -1;
    time_t t = (time_t)((ft - SK_FILETIME_UNIX_EPOCH) / 10000000u);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    switch (tp) {
    case TP_MINUTE:
        return snprintf(out, on, "%d", tm.tm_min);
    case TP_HOUR:
        return snprintf(out, on, "%d", tm.tm_hour);
    case TP_DAY:
        return snprintf(out, on, "%d", tm.tm_mday);
    case TP_WEEK:
        return (int)strftime(out, on, "%V", &tm) > 0 ? snprintf(out, on, "%d", atoi(out)) : -1;
    case TP_MONTH:
        return snprintf(out, on, "%d", tm.tm_mon + 1);
    case TP_YEAR:
        return snprintf(out, on, "%d", tm.tm_year + 1900);
    case TP_NONE:
        break;
    }
    return -1;
}

// Does value s[0..n) (of event field k, or NONE) satisfy cv? [prefilter]: a variant whose literal
// the scan did not find is skipped, one it found in field k holds without a search.
static bool cval_match(sk_matcher *m, const cval *cv, const char *s, size_t n, uint32_t k)
{
    for (uint32_t i = 0; i < cv->nvms; i++) {
        if (pf_variant_absent(m->pf, cv, i))
            continue;
        if (pf_variant_in_field(m->pf, cv, i, k) || sk_vm_match(cv->vms[i], s, n, m->scratch))
            return true;
    }
    return false;
}

// With a time part (|minute ...), *s becomes that part of the time, written into tbuf (32 bytes),
// and *fk NONE (a part of the value, not the field's text). False when s is not a time.
static bool time_text(sk_matcher *m, const citem *it, const char **s, size_t *n, uint32_t *fk,
                      char *tbuf)
{
    if (it->tpart == TP_NONE)
        return true;
    sk_vm_scratch_values(m->scratch); // tbuf: another text under the same address
    *fk = NONE;
    int k = time_value(it->tpart, *s, *n, tbuf, 32);
    if (k < 0 || k >= 32)
        return false;
    *s = tbuf;
    *n = (size_t)k;
    return true;
}

// Value v of item it against the text of field fk (the item's time part taken first).
static bool one_value_match(
        sk_matcher *m, const citem *it, uint32_t v, const char *s, size_t n, uint32_t fk)
{
    char tbuf[32];
    if (!time_text(m, it, &s, &n, &fk, tbuf))
        return false;
    return cval_match(m, &it->vals[v], s, n, fk);
}

// Does the value of event field k satisfy the item's value list?
static bool value_match(sk_matcher *m, const citem *it, const char *s, size_t n, uint32_t fk)
{
    char tbuf[32];
    if (!time_text(m, it, &s, &n, &fk, tbuf))
        return false;
    if (it->has_null && n == 0)
        return true;
    if (it->all) {
        for (uint32_t v = 0; v < it->nvals; v++)
            if (!cval_match(m, &it->vals[v], s, n, fk))
                return false;
        return it->nvals > 0;
    }
    for (uint32_t v = 0; v < it->nvals; v++)
        if (cval_match(m, &it->vals[v], s, n, fk))
            return true;
    return false;
}

static inline unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool mem_eq(const char *a, const char *b, size_t n, bool cased)
{
    if (cased)
        return memcmp(a, b, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    return true;
}

static bool ref_cmp_fn(ref_cmp c, bool cased, const sk_field *a, const sk_field *b)
{
    size_t an = a->value_len, bn = b->value_len;
    switch (c) {
    case RC_EQ:
        return an == bn && mem_eq(a->value, b->value, an, cased);
    case RC_STARTS:
        return an >= bn && mem_eq(a->value, b->value, bn, cased);
    case RC_ENDS:
        return an >= bn && mem_eq(a->value + an - bn, b->value, bn, cased);
    case RC_CONTAINS:
        if (bn == 0)
            return true;
        for (size_t i = 0; i + bn <= an; i++)
            if (mem_eq(a->value + i, b->value, bn, cased))
                return true;
        return false;
    }
    return false;
}

// The fields an item reads: those answering to its field, or every visible one (keywords).
static uint32_t item_first(sk_matcher *m, const citem *it, fiter *fi)
{
    if (it->kind != IK_KEYWORD)
        return first_field(m, it->fid, fi, true);
    fi->cur = 0;
    for (uint32_t k = 0; k < sk_event_nfields(m->ev); k++)
        if (!(sk_event_field(m->ev, k)->flags & SK_FIELD_HIDDEN))
            return fi->cur = k;
    return NONE;
}

static uint32_t item_next(sk_matcher *m, const citem *it, fiter *fi)
{
    if (it->kind != IK_KEYWORD)
        return next_field(m, fi);
    for (uint32_t k = fi->cur + 1; k < sk_event_nfields(m->ev); k++)
        if (!(sk_event_field(m->ev, k)->flags & SK_FIELD_HIDDEN))
            return fi->cur = k;
    return NONE;
}

// |all: each value must hold on some field the item reads, not all of them on the same one (a
// keyword list, or a field that occurs more than once such as unnamed Data), as pySigma's AND of
// one condition per value has it. *fidx: where the first value held.
static bool all_values_match(sk_matcher *m, const citem *it, uint32_t *fidx)
{
    fiter fi;
    for (uint32_t v = 0; v < it->nvals; v++) {
        uint32_t k;
        for (k = item_first(m, it, &fi); k != NONE; k = item_next(m, it, &fi)) {
            const sk_field *f = sk_event_field(m->ev, k);
            if (one_value_match(m, it, v, f->value, f->value_len, k))
                break;
        }
        if (k == NONE)
            return false;
        if (v == 0)
            *fidx = k;
    }
    return it->nvals > 0;
}

// A field item without neq; on success *fidx is the event field that satisfied it (NONE when it
// holds through absence: null).
static bool field_match(sk_matcher *m, const citem *it, uint32_t *fidx)
{
    fiter fi;
    uint32_t k = first_field(m, it->fid, &fi, true);
    *fidx = NONE;
    if (k == NONE)
        return it->has_null;
    if (it->all && !it->has_null && it->nvals > 1)
        return all_values_match(m, it, fidx);
    for (; k != NONE; k = next_field(m, &fi)) {
        const sk_field *f = sk_event_field(m->ev, k);
        if (value_match(m, it, f->value, f->value_len, k)) {
            *fidx = k;
            return true;
        }
    }
    return false;
}

// Evaluates one item; on success *fidx is the event field that satisfied it (NONE when the item
// holds through absence: null, exists: false, neq of an absent field).
static bool item_match(sk_matcher *m, const citem *it, uint32_t *fidx)
{
    const sk_event *ev = m->ev;
    fiter fi;
    uint32_t k;
    *fidx = NONE;
    switch (it->kind) {
    case IK_MATCH:
        return field_match(m, it, fidx);
    case IK_NEQ:
        // pySigma's neq negates the whole item: `X|neq: v` is `not X: v`, so it holds where X is
        // absent, and fails where any value of X is v. It reports X's first value, or X alone
        // when absent (as null does).
        if (field_match(m, it, fidx))
            return false;
        *fidx = first_field(m, it->fid, &fi, true);
        return true;
    case IK_EXISTS:
        k = first_field(m, it->fid, &fi, true);
        if (it->exists_val && k != NONE)
            *fidx = k;
        return (k != NONE) == it->exists_val;
    case IK_KEYWORD: {
        if (it->all && !it->has_null && it->nvals > 1)
            return all_values_match(m, it, fidx);
        size_t nf = sk_event_nfields(ev);
        for (size_t i = 0; i < nf; i++) {
            const sk_field *f = sk_event_field(ev, i);
            if (f->flags & SK_FIELD_HIDDEN)
                continue;
            if (value_match(m, it, f->value, f->value_len, (uint32_t)i)) {
                *fidx = (uint32_t)i;
                return true;
            }
        }
        return false;
    }
    case IK_FIELDREF:
        for (k = first_field(m, it->fid, &fi, true); k != NONE; k = next_field(m, &fi)) {
            const sk_field *a = sk_event_field(ev, k);
            for (uint32_t r = 0; r < it->nrefs; r++) {
                fiter fj;
                for (uint32_t j = first_field(m, it->ref_fids[r], &fj, true); j != NONE;
                     j = next_field(m, &fj)) {
                    bool eq = ref_cmp_fn(it->rcmp, it->cased, a, sk_event_field(ev, j));
                    if (eq != it->rneg) {
                        *fidx = k;
                        return true;
                    }
                }
            }
        }
        return false;
    }
    return false;
}

// ---------------------------------------------------------------------------------------------
// Selections and conditions

static bool alt_match(sk_matcher *m, const calt *a)
{
    uint32_t k;
    for (uint32_t i = 0; i < a->nitems; i++)
        if (!item_match(m, &a->items[i], &k))
            return false;
    return true;
}

static bool sel_match(sk_matcher *m, const sk_rule *r, uint32_t s)
{
    if (m->sel_gen[s] == m->rule_gen)
        return m->sel_val[s];
    const csel *sel = &r->sels[s];
    bool v = false;
    for (uint32_t a = 0; a < sel->nalts && !v; a++)
        v = alt_match(m, &sel->alts[a]);
    m->sel_gen[s] = m->rule_gen;
    m->sel_val[s] = v;
    return v;
}

static bool eval(sk_matcher *m, const sk_rule *r, const cnode *c)
{
    switch (c->type) {
    case CN_SEL:
        return sel_match(m, r, c->sel);
    case CN_NOT:
        return !eval(m, r, c->kids[0]);
    case CN_AND:
        for (uint32_t i = 0; i < c->nkids; i++)
            if (!eval(m, r, c->kids[i]))
                return false;
        return true;
    case CN_OR:
        for (uint32_t i = 0; i < c->nkids; i++)
            if (eval(m, r, c->kids[i]))
                return true;
        return false;
    case CN_OF: {
        uint32_t need = c->count ? c->count : c->nsels, got = 0;
        for (uint32_t i = 0; i < c->nsels; i++) {
            if (sel_match(m, r, c->sels[i])) {
                if (++got >= need)
                    return true;
            } else if (c->count == 0) {
                return false;
            }
            if (need - got > c->nsels - i - 1)
                return false; // cannot reach need any more
        }
        return got >= need;
    }
    }
    return false;
}

static void push_item(sk_matcher *m, const char *sel, const char *field, const char *value)
{
    // The same item: the same selection and event value, and a field of the same name (an item
    // matched without an event field, value NULL, names its rule field, whose text is the item's
    // own when loaded from the files but shared with every equal one in a cached ruleset).
    for (size_t i = 0; i < m->nitems; i++)
        if (m->items[i].selection == sel && m->items[i].value == value &&
            (m->items[i].field == field || strcmp(m->items[i].field, field) == 0))
            return;
    if (m->nitems == m->cap_items) {
        m->cap_items *= 2;
        m->items = sk_xrealloc(m->items, m->cap_items * sizeof(sk_match_item));
    }
    m->items[m->nitems].selection = sel;
    m->items[m->nitems].field = field;
    m->items[m->nitems].value = value;
    m->nitems++;
}

static void collect_sel(sk_matcher *m, const sk_rule *r, uint32_t s)
{
    const csel *sel = &r->sels[s];
    for (uint32_t a = 0; a < sel->nalts; a++) {
        const calt *alt = &sel->alts[a];
        if (!alt_match(m, alt))
            continue;
        for (uint32_t i = 0; i < alt->nitems; i++) {
            const citem *it = &alt->items[i];
            uint32_t k;
            if (!item_match(m, it, &k))
                continue;
            if (k == NONE) {
                push_item(m, sel->name, it->field ? it->field : "", NULL);
            } else {
                const sk_field *f = sk_event_field(m->ev, k);
                push_item(m, sel->name, f->name, f->value);
            }
        }
    }
}

static void collect(sk_matcher *m, const sk_rule *r, const cnode *c)
{
    switch (c->type) {
    case CN_SEL:
        if (sel_match(m, r, c->sel))
            collect_sel(m, r, c->sel);
        return;
    case CN_NOT:
        return;
    case CN_AND:
    case CN_OR:
        for (uint32_t i = 0; i < c->nkids; i++)
            if (eval(m, r, c->kids[i]))
                collect(m, r, c->kids[i]);
        return;
    case CN_OF:
        for (uint32_t i = 0; i < c->nsels; i++)
            if (sel_match(m, r, c->sels[i]))
                collect_sel(m, r, c->sels[i]);
        return;
    }
}

// ---------------------------------------------------------------------------------------------
// Sources and rules

static bool source_ok(sk_matcher *m, const csource *s, uint32_t chan)
{
    const sk_event *ev = m->ev;
    if (s->nchans && ev->channel) {
        bool hit = false;
        for (uint32_t i = 0; i < s->nchans && !hit; i++)
            hit = s->chans[i] == chan;
        if (!hit)
            return false;
    }
    if (s->neids) {
        if (!ev->has_event_id)
            return false;
        bool hit = false;
        for (uint32_t i = 0; i < s->neids && !hit; i++)
            hit = s->eids[i] == ev->event_id;
        if (!hit)
            return false;
    }
    if (s->cond_fid != NONE) {
        fiter fi;
        bool hit = false;
        for (uint32_t k = first_field(m, s->cond_fid, &fi, false); k != NONE && !hit;
             k = next_field(m, &fi)) {
            const sk_field *f = sk_event_field(ev, k);
            for (uint32_t v = 0; v < s->ncond_values && !hit; v++)
                hit = strlen(s->cond_values[v]) == f->value_len &&
                      mem_eq(f->value, s->cond_values[v], f->value_len, false);
        }
        if (!hit)
            return false;
    }
    return true;
}

static bool run_rule(sk_matcher *m, const sk_rule *r, uint32_t chan, sk_hit_fn fn, void *ctx)
{
    m->src = NULL;
    if (r->eql) // [EQL dispatch]
        return eql_run_rule(m, r, fn, ctx);
    if (r->nsources) {
        const csource *found = NULL;
        for (uint32_t i = 0; i < r->nsources && !found; i++)
            if (source_ok(m, &r->sources[i], chan))
                found = &r->sources[i];
        if (!found)
            return false;
        m->src = found;
    }
    if (++m->rule_gen == 0) {
        memset(m->sel_gen, 0, (m->rs->max_sels ? m->rs->max_sels : 1) * sizeof(uint32_t));
        m->rule_gen = 1;
    }
    if (!eval(m, r, r->cond))
        return false;
    if (fn) {
        m->nitems = 0;
        collect(m, r, r->cond);
        fn(ctx, r, m->ev, m->items, m->nitems);
    }
    return true;
}

// [prefilter] pf_rule_possible(m->pf, r), mostly without its call: a Sysmon process creation has
// some 500 candidates, and the call was most of what one cost. Once the event is scanned, a rule
// none of whose atoms was found is possible exactly when it has no atoms, which the call tells
// the first time and which stays so for the ruleset.
static inline bool rule_possible(sk_matcher *m, uint32_t r)
{
    const pf_scratch *s = m->pf;
    if (!s->done || s->rule_gen[r] == s->gen)
        return true;
    if (!m->rule_atoms[r])
        m->rule_atoms[r] = pf_rule_possible(s, r) ? 2 : 1;
    return m->rule_atoms[r] == 2;
}

// [prefilter] The scan reads only the fields the candidates need: worth it for any candidate.
#define PF_MIN_CANDIDATES 1

// The id of the event's channel. Runs of events share their channel, and a look-up hashes and
// compares its whole name case-insensitively: the last one is remembered.
static uint32_t event_chan(sk_matcher *m, const sk_event *ev)
{
    if (!ev->channel)
        return NONE;
    size_t n = strlen(ev->channel);
    if (n == m->chan_len && memo_eq(m->chan_name, ev->channel, n))
        return m->chan_id;
    uint32_t id = rs_find_chan(m->rs, ev->channel, n);
    if (n <= CHAN_MEMO_MAX) {
        memcpy(m->chan_name, ev->channel, n);
        m->chan_len = n;
        m->chan_id = id;
    }
    return id;
}

static const rs_index_eid *find_eid(const rs_chan *c, uint32_t eid)
{
    size_t lo = 0, hi = c->neids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->eids[mid].eid < eid)
            lo = mid + 1;
        else if (c->eids[mid].eid > eid)
            hi = mid;
        else
            return &c->eids[mid];
    }
    return NULL;
}

size_t sk_matcher_run(sk_matcher *m, const sk_event *ev, sk_hit_fn fn, void *ctx)
{
    const sk_ruleset *rs = m->rs;
    if (rs->nenabled == 0)
        return 0;
    index_event(m, ev);
    uint32_t chan = event_chan(m, ev);
    size_t hits = 0;
    if (!ev->channel) {
        // No channel at all (flat exports): every rule, its sources checked on event id only.
        pf_scan(m->pf, ev, m->field_ci, NULL, NULL, 0); // [prefilter]
        for (size_t i = 0; i < rs->nrules; i++)
            if (rs->enabled[i] && rule_possible(m, (uint32_t)i) &&
                run_rule(m, rs->rules[i], chan, fn, ctx))
                hits++;
        return hits;
    }
    // Merge the three sorted candidate lists.
    const uint32_t *lists[3] = { NULL, NULL, rs->catch_all };
    uint32_t lens[3] = { 0, 0, rs->ncatch_all };
    if (chan != NONE) {
        const rs_chan *c = &rs->chans[chan];
        lists[0] = c->any_rules;
        lens[0] = c->nany;
        const rs_index_eid *e = ev->has_event_id ? find_eid(c, ev->event_id) : NULL;
        if (e) {
            lists[1] = e->rules;
            lens[1] = e->n;
        }
    }
    if ((size_t)lens[0] + lens[1] + lens[2] >= PF_MIN_CANDIDATES) // [prefilter]
        pf_scan(m->pf, ev, m->field_ci, lists, lens, 3);
    // Merge the lists into the rules that may match, then run those: a Sysmon process creation
    // has some 500 candidates, nearly all of them in the event id's list, and few left after the
    // prefilter. So the merge walks that list alone up to the next head of the other two, and
    // calls nothing on the way. (Running a rule changes neither list nor marks.)
    const uint32_t *l0 = lists[0], *l1 = lists[1], *l2 = lists[2];
    uint32_t n0 = lens[0], n1 = lens[1], n2 = lens[2];
    uint32_t h0 = n0 ? l0[0] : NONE, h1 = n1 ? l1[0] : NONE, h2 = n2 ? l2[0] : NONE;
    uint32_t last = NONE;
    size_t nrun = 0;
    for (;;) {
        const uint32_t lim = h0 < h2 ? h0 : h2;
        for (; h1 < lim; h1 = --n1 ? *++l1 : NONE)
            if (h1 != last) { // (a list may hold a rule twice)
                last = h1;
                if (rs->enabled[h1] && rule_possible(m, h1))
                    m->run[nrun++] = h1;
            }
        if (lim == NONE)
            break;
        if (h0 == lim)
            h0 = --n0 ? *++l0 : NONE;
        if (h2 == lim)
            h2 = --n2 ? *++l2 : NONE;
        if (h1 == lim)
            h1 = --n1 ? *++l1 : NONE;
        if (lim != last) {
            last = lim;
            if (rs->enabled[lim] && rule_possible(m, lim))
                m->run[nrun++] = lim;
        }
    }
    for (size_t i = 0; i < nrun; i++)
        if (run_rule(m, rs->rules[m->run[i]], chan, fn, ctx))
            hits++;
    return hits;
}

bool sk_matcher_run_rule(
        sk_matcher *m, const sk_rule *r, const sk_event *ev, sk_hit_fn fn, void *ctx)
{
    index_event(m, ev);
    return run_rule(m, r, event_chan(m, ev), fn, ctx);
}

// ---------------------------------------------------------------------------------------------
// [EQL dispatch] Services for the EQL evaluator (rules_int.h).

const sk_event *mt_event(const sk_matcher *m)
{
    return m->ev;
}

uint32_t mt_event_gen(const sk_matcher *m)
{
    return m->gen;
}

uint32_t mt_first(const sk_matcher *m, uint32_t fid, mt_iter *it)
{
    fiter fi = { NONE, false };
    uint32_t k = first_field(m, fid, &fi, false);
    it->cur = fi.cur;
    it->ci = fi.ci;
    return k;
}

uint32_t mt_next(const sk_matcher *m, mt_iter *it)
{
    fiter fi = { it->cur, it->ci };
    uint32_t k = next_field(m, &fi);
    it->cur = fi.cur;
    return k;
}

sk_vm_scratch *mt_vm_scratch(sk_matcher *m)
{
    sk_vm_scratch_forget(m->scratch); // EQL values may be derived text in reused memory
    return m->scratch;
}

eql_scratch *mt_eql(sk_matcher *m)
{
    return m->eql;
}

void mt_items_reset(sk_matcher *m)
{
    m->nitems = 0;
}

void mt_items_push(sk_matcher *m, const char *sel, const char *field, const char *value)
{
    push_item(m, sel, field, value);
}

const sk_match_item *mt_items(const sk_matcher *m, size_t *n)
{
    *n = m->nitems;
    return m->items;
}
