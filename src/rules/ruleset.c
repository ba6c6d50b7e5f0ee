// The ruleset: owner of every compiled rule, the load report, the interned names and the index by
// (channel, event id). Immutable after sk_rule_loader_finish except for the enabled flags, which
// the caller sets before creating matchers.
//
// Interning. Every field name a rule mentions gets a small integer id (exact spelling) and a
// case-folded class id. A matcher hashes each event field name once per event, finds its ids, and
// from then on every rule item finds its values by id: no strcmp in the rule loop.
//
// Index. Rules are listed per channel (case-folded) and per event id within a channel; a rule with
// a channel but no event id list sits in the channel's "any" list; a rule without sources (product
// windows only) sits in the catch-all list. An event meets the union of three sorted lists.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/ascii.h"
#include "core/mem.h"
#include "eql_int.h"
#include "rules_int.h"

static inline unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 32);
}

// Hash of s[0..n), eight bytes a step; with ci, of its ASCII-lower-cased form.
static inline uint64_t hash_words(const char *s, size_t n, bool ci)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix(h, ci ? sk_ascii_lower8(w) : w);
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, s + i, n - i);
        h = mix(h, ci ? sk_ascii_lower8(w) : w);
    }
    return h ^ (h >> 29);
}

// Exact hash (rule ids, prefilter literals).
uint64_t rs_hash(const char *s, size_t n)
{
    return hash_words(s, n, false);
}

// Case-insensitive (ASCII) hash: every event field name is hashed once (matcher.c), so this is
// on the hot path.
uint64_t rs_hash_ci(const char *s, size_t n)
{
    return hash_words(s, n, true);
}

static bool eq_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    return true;
}

// ---- generic open-addressing table over an external array of strings
typedef bool (*tab_eq)(const sk_ruleset *rs, uint32_t id, const char *s, size_t n);

static uint32_t
tab_find(const sk_ruleset *rs, const intern_tab *t, const char *s, size_t n, uint64_t h, tab_eq eq)
{
    if (!t->cap)
        return UINT32_MAX;
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        uint32_t v = t->slots[i];
        if (!v)
            return UINT32_MAX;
        if (eq(rs, v - 1, s, n))
            return v - 1;
    }
}

static void tab_put(intern_tab *t, uint64_t h, uint32_t id)
{
    size_t mask = t->cap - 1;
    size_t i = (size_t)h & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = id + 1;
}

typedef uint64_t (*tab_hash)(const sk_ruleset *rs, uint32_t id);

// Keeps the load factor under 1/2.
static void tab_reserve(const sk_ruleset *rs, intern_tab *t, size_t count, tab_hash hf)
{
    if ((count + 1) * 2 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap * 2 : 64;
    while ((count + 1) * 2 > cap)
        cap *= 2;
    free(t->slots);
    t->slots = sk_xcalloc(cap, sizeof(uint32_t));
    t->cap = cap;
    for (size_t id = 0; id < count; id++)
        tab_put(t, hf(rs, (uint32_t)id), (uint32_t)id);
}

static bool name_eq(const sk_ruleset *rs, uint32_t id, const char *s, size_t n)
{
    return rs->name_lens[id] == n && memcmp(rs->names[id], s, n) == 0;
}
static bool ci_eq(const sk_ruleset *rs, uint32_t id, const char *s, size_t n)
{
    return rs->ci_lens[id] == n && eq_ci(rs->ci_names[id], s, n);
}
static bool chan_eq(const sk_ruleset *rs, uint32_t id, const char *s, size_t n)
{
    return rs->chans[id].len == n && eq_ci(rs->chans[id].name, s, n);
}
// Exact names are hashed case-insensitively too, so one hash finds an event field's exact name
// and its case-folded class (matcher.c).
static uint64_t name_hash(const sk_ruleset *rs, uint32_t id)
{
    return rs_hash_ci(rs->names[id], rs->name_lens[id]);
}
static uint64_t ci_hash(const sk_ruleset *rs, uint32_t id)
{
    return rs_hash_ci(rs->ci_names[id], rs->ci_lens[id]);
}
static uint64_t chan_hash(const sk_ruleset *rs, uint32_t id)
{
    return rs_hash_ci(rs->chans[id].name, rs->chans[id].len);
}

uint32_t rs_find_name(const sk_ruleset *rs, const char *s, size_t n, uint64_t h)
{
    return tab_find(rs, &rs->names_tab, s, n, h, name_eq);
}

uint32_t rs_find_ci(const sk_ruleset *rs, const char *s, size_t n, uint64_t h)
{
    return tab_find(rs, &rs->ci_tab, s, n, h, ci_eq);
}

uint32_t rs_find_chan(const sk_ruleset *rs, const char *s, size_t n)
{
    return tab_find(rs, &rs->chan_tab, s, n, rs_hash_ci(s, n), chan_eq);
}

static uint32_t intern_ci(sk_ruleset *rs, const char *s, size_t n)
{
    uint64_t h = rs_hash_ci(s, n);
    uint32_t id = rs_find_ci(rs, s, n, h);
    if (id != UINT32_MAX)
        return id;
    sk_xgrow((void **)&rs->ci_names, &rs->capci, rs->nci + 1, sizeof(char *));
    rs->ci_lens = sk_xrealloc(rs->ci_lens, rs->capci * sizeof(uint32_t));
    char *c = sk_arena_strndup(&rs->arena, s, n);
    for (size_t i = 0; i < n; i++)
        c[i] = (char)fold((unsigned char)c[i]);
    id = (uint32_t)rs->nci;
    rs->ci_names[id] = c;
    rs->ci_lens[id] = (uint32_t)n;
    rs->nci++;
    tab_reserve(rs, &rs->ci_tab, rs->nci, ci_hash);
    if (rs->ci_tab.cap && tab_find(rs, &rs->ci_tab, s, n, h, ci_eq) == UINT32_MAX)
        tab_put(&rs->ci_tab, h, id);
    return id;
}

uint32_t rs_intern_name(sk_ruleset *rs, const char *s, size_t n)
{
    uint64_t h = rs_hash_ci(s, n);
    uint32_t id = rs_find_name(rs, s, n, h);
    if (id != UINT32_MAX)
        return id;
    uint32_t ci = intern_ci(rs, s, n);
    size_t cap = rs->capnames;
    sk_xgrow((void **)&rs->names, &cap, rs->nnames + 1, sizeof(char *));
    if (cap != rs->capnames) {
        rs->name_lens = sk_xrealloc(rs->name_lens, cap * sizeof(uint32_t));
        rs->name_ci = sk_xrealloc(rs->name_ci, cap * sizeof(uint32_t));
        rs->capnames = cap;
    }
    id = (uint32_t)rs->nnames;
    rs->names[id] = sk_arena_strndup(&rs->arena, s, n);
    rs->name_lens[id] = (uint32_t)n;
    rs->name_ci[id] = ci;
    rs->nnames++;
    tab_reserve(rs, &rs->names_tab, rs->nnames, name_hash);
    if (tab_find(rs, &rs->names_tab, s, n, h, name_eq) == UINT32_MAX)
        tab_put(&rs->names_tab, h, id);
    return id;
}

uint32_t rs_intern_chan(sk_ruleset *rs, const char *s, size_t n)
{
    uint32_t id = rs_find_chan(rs, s, n);
    if (id != UINT32_MAX)
        return id;
    sk_xgrow((void **)&rs->chans, &rs->capchans, rs->nchans + 1, sizeof(rs_chan));
    rs_chan *c = &rs->chans[rs->nchans];
    memset(c, 0, sizeof(*c));
    c->name = sk_arena_strndup(&rs->arena, s, n);
    c->len = (uint32_t)n;
    id = (uint32_t)rs->nchans++;
    tab_reserve(rs, &rs->chan_tab, rs->nchans, chan_hash);
    if (tab_find(rs, &rs->chan_tab, s, n, rs_hash_ci(s, n), chan_eq) == UINT32_MAX)
        tab_put(&rs->chan_tab, rs_hash_ci(s, n), id);
    return id;
}

sk_ruleset *rs_new(void)
{
    sk_ruleset *rs = sk_xcalloc(1, sizeof(*rs));
    sk_arena_init_huge(&rs->arena);
    return rs;
}

void *rs_alloc(sk_ruleset *rs, size_t n)
{
    void *p = sk_arena_alloc(&rs->arena, n ? n : 1);
    memset(p, 0, n ? n : 1);
    return p;
}

const char *rs_strndup(sk_ruleset *rs, const char *s, size_t n)
{
    return sk_arena_strndup(&rs->arena, s, n);
}

const char *rs_strdup(sk_ruleset *rs, const char *s)
{
    return s ? sk_arena_strndup(&rs->arena, s, strlen(s)) : NULL;
}

static bool ruleid_eq(const sk_ruleset *rs, uint32_t i, const char *s, size_t n)
{
    const char *id = rs->rules[i]->id;
    return strncmp(id, s, n) == 0 && id[n] == '\0';
}

// Adds rules[i]'s id to the id table unless a rule before it has that id.
static void id_put(sk_ruleset *rs, uint32_t i)
{
    const char *id = rs->rules[i]->id;
    size_t n = strlen(id);
    uint64_t h = rs_hash(id, n);
    if (tab_find(rs, &rs->id_tab, id, n, h, ruleid_eq) == UINT32_MAX)
        tab_put(&rs->id_tab, h, i);
}

static void id_index(sk_ruleset *rs, uint32_t i)
{
    if ((++rs->nids + 1) * 2 <= rs->id_tab.cap) {
        id_put(rs, i);
        return;
    }
    size_t cap = rs->id_tab.cap ? rs->id_tab.cap * 2 : 256;
    free(rs->id_tab.slots);
    rs->id_tab.slots = sk_xcalloc(cap, sizeof(uint32_t));
    rs->id_tab.cap = cap;
    for (uint32_t k = 0; k <= i; k++)
        if (rs->rules[k]->id)
            id_put(rs, k);
}

void rs_add_rule(sk_ruleset *rs, sk_rule *r)
{
    sk_xgrow((void **)&rs->rules, &rs->caprules, rs->nrules + 1, sizeof(sk_rule *));
    r->index = rs->nrules;
    rs->rules[rs->nrules++] = r;
    if (r->id)
        id_index(rs, (uint32_t)r->index);
    if (r->nsels > rs->max_sels)
        rs->max_sels = r->nsels;
}

void rs_add_report(sk_ruleset *rs, const sk_load_entry *e)
{
    sk_xgrow((void **)&rs->report, &rs->capreport, rs->nreport + 1, sizeof(sk_load_entry));
    sk_load_entry *d = &rs->report[rs->nreport++];
    memset(d, 0, sizeof *d); // its padding too: the compiled-rule cache writes it to a file
    d->file = rs_strdup(rs, e->file);
    d->title = rs_strdup(rs, e->title);
    d->id = rs_strdup(rs, e->id);
    d->loaded = e->loaded;
    d->code = rs_strdup(rs, e->code);
    d->message = rs_strdup(rs, e->message);
    d->line = e->line;
    d->col = e->col;
}

void rs_add_vm(sk_ruleset *rs, sk_vm *vm)
{
    sk_xgrow((void **)&rs->vms, &rs->capvms, rs->nvms + 1, sizeof(sk_vm *));
    rs->vms[rs->nvms++] = vm;
}

// ---- index

typedef struct u32vec {
    uint32_t *p;
    size_t n, cap;
} u32vec;

static void vec_push(u32vec *v, uint32_t x)
{
    if (v->n && v->p[v->n - 1] == x)
        return; // rules are added in order; skip immediate duplicates
    sk_xgrow((void **)&v->p, &v->cap, v->n + 1, sizeof(uint32_t));
    v->p[v->n++] = x;
}

static uint32_t *vec_to_arena(sk_ruleset *rs, u32vec *v, uint32_t *n)
{
    uint32_t *p = rs_alloc(rs, v->n * sizeof(uint32_t));
    if (v->n)
        memcpy(p, v->p, v->n * sizeof(uint32_t));
    *n = (uint32_t)v->n;
    free(v->p);
    memset(v, 0, sizeof(*v));
    return p;
}

typedef struct eid_build {
    uint32_t eid;
    u32vec rules;
} eid_build;

typedef struct chan_build {
    u32vec any;
    eid_build *eids;
    size_t neids, cap;
} chan_build;

static void chan_add_eid(chan_build *cb, uint32_t eid, uint32_t rule)
{
    for (size_t i = 0; i < cb->neids; i++)
        if (cb->eids[i].eid == eid) {
            vec_push(&cb->eids[i].rules, rule);
            return;
        }
    sk_xgrow((void **)&cb->eids, &cb->cap, cb->neids + 1, sizeof(eid_build));
    eid_build *e = &cb->eids[cb->neids++];
    memset(e, 0, sizeof(*e));
    e->eid = eid;
    vec_push(&e->rules, rule);
}

static int cmp_eid(const void *a, const void *b)
{
    const eid_build *x = a, *y = b;
    return x->eid < y->eid ? -1 : x->eid > y->eid;
}

void rs_build_index(sk_ruleset *rs)
{
    chan_build *cb = sk_xcalloc(rs->nchans ? rs->nchans : 1, sizeof(chan_build));
    u32vec catch_all = { 0 };
    for (size_t i = 0; i < rs->nrules; i++) {
        const sk_rule *r = rs->rules[i];
        uint32_t ri = (uint32_t)i;
        bool any_chan = r->nsources == 0;
        for (uint32_t s = 0; s < r->nsources; s++) {
            const csource *src = &r->sources[s];
            if (src->nchans == 0) {
                any_chan = true;
                continue;
            }
            for (uint32_t c = 0; c < src->nchans; c++) {
                chan_build *b = &cb[src->chans[c]];
                if (src->nieids == 0)
                    vec_push(&b->any, ri);
                else
                    for (uint32_t e = 0; e < src->nieids; e++)
                        chan_add_eid(b, src->ieids[e], ri);
            }
        }
        if (any_chan)
            vec_push(&catch_all, ri);
    }
    for (size_t c = 0; c < rs->nchans; c++) {
        rs_chan *ch = &rs->chans[c];
        ch->any_rules = vec_to_arena(rs, &cb[c].any, &ch->nany);
        if (cb[c].neids)
            qsort(cb[c].eids, cb[c].neids, sizeof(eid_build), cmp_eid);
        ch->eids = rs_alloc(rs, cb[c].neids * sizeof(rs_index_eid));
        for (size_t e = 0; e < cb[c].neids; e++) {
            ch->eids[e].eid = cb[c].eids[e].eid;
            ch->eids[e].rules = vec_to_arena(rs, &cb[c].eids[e].rules, &ch->eids[e].n);
        }
        ch->neids = (uint32_t)cb[c].neids;
        free(cb[c].eids);
    }
    free(cb);
    rs->catch_all = vec_to_arena(rs, &catch_all, &rs->ncatch_all);

    // Reasons for skipped rules, by count then code.
    size_t nr = 0;
    rs->reason_codes = rs_alloc(rs, (rs->nreport + 1) * sizeof(char *));
    rs->reason_counts = rs_alloc(rs, (rs->nreport + 1) * sizeof(size_t));
    rs->nskipped = 0;
    for (size_t i = 0; i < rs->nreport; i++) {
        const sk_load_entry *e = &rs->report[i];
        if (e->loaded)
            continue;
        rs->nskipped++;
        size_t j = 0;
        while (j < nr && strcmp(rs->reason_codes[j], e->code) != 0)
            j++;
        if (j == nr) {
            rs->reason_codes[nr] = e->code;
            rs->reason_counts[nr] = 0;
            nr++;
        }
        rs->reason_counts[j]++;
    }
    for (size_t i = 1; i < nr; i++) {
        const char *c = rs->reason_codes[i];
        size_t k = rs->reason_counts[i];
        size_t j = i;
        while (j > 0 &&
               (rs->reason_counts[j - 1] < k ||
                (rs->reason_counts[j - 1] == k && strcmp(rs->reason_codes[j - 1], c) > 0))) {
            rs->reason_codes[j] = rs->reason_codes[j - 1];
            rs->reason_counts[j] = rs->reason_counts[j - 1];
            j--;
        }
        rs->reason_codes[j] = c;
        rs->reason_counts[j] = k;
    }
    rs->nreasons = nr;

    rs->enabled = sk_xcalloc(rs->nrules ? rs->nrules : 1, sizeof(bool));
    for (size_t i = 0; i < rs->nrules; i++)
        rs->enabled[i] = true;
    rs->nenabled = rs->nrules;

    // The most items a hit can report: every item of every alternative of every selection, and for
    // keyword items one entry.
    uint32_t most = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const sk_rule *r = rs->rules[i];
        uint32_t n = 0;
        for (uint32_t s = 0; s < r->nsels; s++)
            for (uint32_t a = 0; a < r->sels[s].nalts; a++)
                n += r->sels[s].alts[a].nitems;
        if (n > most)
            most = n;
    }
    rs->max_items_out = most;
    pf_build(rs);
    for (size_t i = 0; i < rs->nrules; i++)
        rs->pf_nrules_atoms += rs->rules[i]->natoms > 0;
}

// ---- public API

void sk_ruleset_free(sk_ruleset *rs)
{
    if (!rs)
        return;
    if (rs->image) { // everything is in one block, but what the predicates made since
        void *image = rs->image;
        for (size_t i = 0; i < rs->nvms; i++)
            sk_vm_image_release(rs->vms[i]);
        sk_arena_fini(&rs->arena);
        free(image);
        free(rs); // a copy outside the block (sk_rule_cache_get)
        return;
    }
    for (size_t i = 0; i < rs->nvms; i++)
        sk_vm_free(rs->vms[i]);
    free(rs->vms);
    pf_free(rs);
    free(rs->rules);
    free(rs->enabled);
    free(rs->report);
    free(rs->names);
    free(rs->name_lens);
    free(rs->name_ci);
    free(rs->names_tab.slots);
    free(rs->ci_names);
    free(rs->ci_lens);
    free(rs->ci_tab.slots);
    free(rs->chans);
    free(rs->chan_tab.slots);
    free(rs->id_tab.slots);
    eql_tab_free(rs->eql); // [EQL dispatch]
    sk_arena_fini(&rs->arena);
    free(rs);
}

size_t sk_ruleset_report_count(const sk_ruleset *rs)
{
    return rs->nreport;
}

const sk_load_entry *sk_ruleset_report_at(const sk_ruleset *rs, size_t i)
{
    return i < rs->nreport ? &rs->report[i] : NULL;
}

bool sk_ruleset_cached(const sk_ruleset *rs)
{
    return rs->image != NULL;
}

size_t sk_ruleset_loaded_count(const sk_ruleset *rs)
{
    return rs->nrules;
}

size_t sk_ruleset_skipped_count(const sk_ruleset *rs)
{
    return rs->nskipped;
}

size_t sk_ruleset_reason_count(const sk_ruleset *rs)
{
    return rs->nreasons;
}

void sk_ruleset_reason_at(const sk_ruleset *rs, size_t i, const char **code, size_t *count)
{
    if (i >= rs->nreasons) {
        *code = NULL;
        *count = 0;
        return;
    }
    *code = rs->reason_codes[i];
    *count = rs->reason_counts[i];
}

size_t sk_ruleset_count(const sk_ruleset *rs)
{
    return rs->nrules;
}

const sk_rule *sk_ruleset_rule(const sk_ruleset *rs, size_t i)
{
    return i < rs->nrules ? rs->rules[i] : NULL;
}

const sk_rule *sk_ruleset_find_id(const sk_ruleset *rs, const char *id)
{
    size_t n = strlen(id);
    uint32_t i = tab_find(rs, &rs->id_tab, id, n, rs_hash(id, n), ruleid_eq);
    return i == UINT32_MAX ? NULL : rs->rules[i];
}

static bool tag_selected(const sk_rule *r, const char *want)
{
    size_t wn = strlen(want);
    for (size_t i = 0; i < r->ntags; i++) {
        const char *t = r->tags[i];
        if (strcasecmp(t, want) == 0)
            return true;
        // "attack.t1218" selects "attack.t1218.005"
        if (strlen(t) > wn && strncasecmp(t, want, wn) == 0 && t[wn] == '.')
            return true;
    }
    return false;
}

size_t sk_ruleset_filter(sk_ruleset *rs, const sk_rule_filter *f)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->nrules; i++) {
        const sk_rule *r = rs->rules[i];
        bool keep = rs->enabled[i];
        if (keep && f->min_level != SK_LEVEL_UNKNOWN && sk_level_rank(r->level) < f->min_level)
            keep = false;
        if (keep && f->ntags) {
            bool any = false;
            for (size_t t = 0; t < f->ntags && !any; t++)
                any = tag_selected(r, f->tags[t]);
            keep = any;
        }
        if (keep && f->nids) {
            bool any = false;
            for (size_t t = 0; t < f->nids && !any; t++)
                any = r->id && strcasecmp(r->id, f->ids[t]) == 0;
            keep = any;
        }
        if (keep && f->nstatuses) {
            bool any = false;
            for (size_t t = 0; t < f->nstatuses && !any; t++)
                any = r->status && strcasecmp(r->status, f->statuses[t]) == 0;
            keep = any;
        }
        rs->enabled[i] = keep;
        n += keep;
    }
    rs->nenabled = n;
    return n;
}

void sk_ruleset_set_enabled(sk_ruleset *rs, size_t i, bool on)
{
    if (i >= rs->nrules || rs->enabled[i] == on)
        return;
    rs->enabled[i] = on;
    if (on)
        rs->nenabled++;
    else
        rs->nenabled--;
}

bool sk_ruleset_enabled(const sk_ruleset *rs, size_t i)
{
    return i < rs->nrules && rs->enabled[i];
}

size_t sk_ruleset_enabled_count(const sk_ruleset *rs)
{
    return rs->nenabled;
}

// ---- levels and rule accessors

static const char *const level_names[] = { "unknown", "informational", "low",
                                           "medium",  "high",          "critical" };

const char *sk_level_str(sk_level lv)
{
    return (unsigned)lv < sizeof level_names / sizeof level_names[0] ? level_names[lv] : "unknown";
}

bool sk_level_parse(const char *s, sk_level *out)
{
    for (int i = 1; i < 6; i++)
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (sk_level)i;
            return true;
        }
    if (strcasecmp(s, "info") == 0) {
        *out = SK_LEVEL_INFORMATIONAL;
        return true;
    }
    return false;
}

size_t sk_rule_index(const sk_rule *r)
{
    return r->index;
}
const char *sk_rule_id(const sk_rule *r)
{
    return r->id;
}
const char *sk_rule_title(const sk_rule *r)
{
    return r->title ? r->title : "";
}
sk_level sk_rule_level(const sk_rule *r)
{
    return r->level;
}
const char *sk_rule_level_str(const sk_rule *r)
{
    return r->level_text ? r->level_text : "";
}
const char *sk_rule_status(const sk_rule *r)
{
    return r->status;
}
const char *sk_rule_description(const sk_rule *r)
{
    return r->description;
}
const char *sk_rule_author(const sk_rule *r)
{
    return r->author ? r->author : "";
}
const char *sk_rule_date(const sk_rule *r)
{
    return r->date ? r->date : "";
}
const char *sk_rule_path(const sk_rule *r)
{
    return r->path ? r->path : "";
}
unsigned long sk_rule_line(const sk_rule *r)
{
    return r->line;
}
const char *sk_rule_language(const sk_rule *r)
{
    return r->language ? r->language : "sigma"; // [EQL dispatch]
}
const char *sk_rule_logsource(const sk_rule *r)
{
    return r->logsource ? r->logsource : "";
}
size_t sk_rule_tag_count(const sk_rule *r)
{
    return r->ntags;
}
const char *sk_rule_tag_at(const sk_rule *r, size_t i)
{
    return i < r->ntags ? r->tags[i] : NULL;
}
size_t sk_rule_reference_count(const sk_rule *r)
{
    return r->nrefs;
}
const char *sk_rule_reference_at(const sk_rule *r, size_t i)
{
    return i < r->nrefs ? r->refs[i] : NULL;
}
size_t sk_rule_falsepositive_count(const sk_rule *r)
{
    return r->nfps;
}
const char *sk_rule_falsepositive_at(const sk_rule *r, size_t i)
{
    return i < r->nfps ? r->fps[i] : NULL;
}
size_t sk_rule_field_count(const sk_rule *r)
{
    return r->nfields;
}
const char *sk_rule_field_at(const sk_rule *r, size_t i)
{
    return i < r->nfields ? r->fields[i] : NULL;
}

// ---- explain

static void add(sk_buf *b, const char *fmt, ...) SK_PRINTF(2, 3);
static void add(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sk_status st = sk_buf_vaddf(b, fmt, ap);
    (void)st; // a full buffer just truncates the explanation
    va_end(ap);
}

static const char *tpart_name(time_part t)
{
    static const char *const n[] = { "", "minute", "hour", "day", "week", "month", "year" };
    return n[t];
}

static void explain_item(const citem *it, sk_buf *out)
{
    const char *field = it->field ? it->field : "<any field>";
    switch (it->kind) {
    case IK_EXISTS:
        add(out, "      %s: %s\n", field, it->exists_val ? "exists" : "does not exist");
        return;
    case IK_FIELDREF: {
        static const char *const cmp[] = { "equals", "contains", "starts with", "ends with" };
        add(out, "      %s %s%s field", field, it->rneg ? "not " : "", cmp[it->rcmp]);
        for (uint32_t i = 0; i < it->nrefs; i++)
            add(out, "%s%s", i ? " or " : " ", it->ref_names[i]);
        add(out, " (%s)\n", it->cased ? "cased" : "ci");
        return;
    }
    case IK_MATCH:
    case IK_KEYWORD:
    case IK_NEQ:
        break;
    }
    add(out,
        "      %s%s%s%s%s: %s of %u value%s%s\n",
        field,
        it->tpart ? " (" : "",
        tpart_name(it->tpart),
        it->tpart ? ")" : "",
        it->kind == IK_NEQ ? " not" : "",
        it->all ? "all" : "any",
        (unsigned)(it->nvals + it->has_null),
        it->nvals + it->has_null == 1 ? "" : "s",
        it->kind == IK_KEYWORD ? " (keyword: any field)" : "");
    if (it->has_null)
        add(out, "        - null (absent or empty)\n");
    for (uint32_t v = 0; v < it->nvals; v++) {
        const cval *cv = &it->vals[v];
        for (uint32_t k = 0; k < cv->nvms; k++) {
            add(out, "        %s ", k == 0 ? "-" : "|");
            sk_vm_describe(cv->vms[k], out);
            add(out, "\n");
        }
    }
}

void sk_rule_explain(const sk_rule *r, sk_buf *out)
{
    if (r->eql) { // [EQL dispatch]
        eql_explain(NULL, r, out);
        return;
    }
    add(out, "rule \"%s\"", sk_rule_title(r));
    if (r->id)
        add(out, " id %s", r->id);
    add(out, "\n  file: %s:%lu\n", sk_rule_path(r), r->line);
    add(out, "  level: %s  status: %s\n", sk_level_str(r->level), r->status ? r->status : "-");
    add(out, "  logsource: %s\n", sk_rule_logsource(r));
    if (r->nsources == 0)
        add(out, "    source any: every event\n");
    for (uint32_t s = 0; s < r->nsources; s++) {
        const csource *src = &r->sources[s];
        add(out, "    source %s: channel ", src->label);
        if (src->nchans == 0)
            add(out, "any");
        for (uint32_t c = 0; c < src->nchans; c++)
            add(out, "%s'%s'", c ? " | " : "", src->chan_names[c]);
        add(out, ", event id ");
        if (src->neids == 0)
            add(out, "any");
        for (uint32_t e = 0; e < src->neids; e++)
            add(out, "%s%u", e ? "|" : "", (unsigned)src->eids[e]);
        if (src->neids == 0 && src->nieids) {
            add(out, " (indexed under the ids the detection requires:");
            for (uint32_t e = 0; e < src->nieids; e++)
                add(out, " %u", (unsigned)src->ieids[e]);
            add(out, ")");
        }
        if (src->cond_field) {
            add(out, ", %s in", src->cond_field);
            for (uint32_t v = 0; v < src->ncond_values; v++)
                add(out, " '%s'", src->cond_values[v]);
        }
        for (uint32_t n = 0; n < src->nren; n++)
            add(out,
                "%s%s <- %s",
                n ? ", " : "; renames ",
                src->ren_from_names[n],
                src->ren_to_names[n]);
        add(out, "\n");
    }
    for (uint32_t i = 0; i < r->nsels; i++) {
        const csel *sel = &r->sels[i];
        add(out, "  selection %s:%s\n", sel->name, sel->nalts > 1 ? " any of" : "");
        for (uint32_t a = 0; a < sel->nalts; a++) {
            if (sel->nalts > 1)
                add(out, "    alternative %u (all of):\n", (unsigned)a + 1);
            for (uint32_t k = 0; k < sel->alts[a].nitems; k++)
                explain_item(&sel->alts[a].items[k], out);
        }
    }
    add(out, "  condition: ");
    cond_render(r->cond, r->sel_names, out);
    add(out, "\n");
    if (r->natoms == 0) {
        add(out, "  prefilter: none (evaluated on every event of its sources)\n");
    } else {
        add(out,
            "  prefilter: evaluated only when a value contains one of %u literal%s:",
            (unsigned)r->natoms,
            r->natoms == 1 ? "" : "s");
        for (uint32_t i = 0; i < r->natoms && i < 8; i++) {
            add(out, " '");
            for (uint32_t k = 0; k < r->atom_lens[i]; k++) {
                unsigned char c = (unsigned char)r->atoms[i][k];
                if (c == '\\' || c == '\'')
                    add(out, "\\%c", c);
                else if (c < 0x20)
                    add(out, "\\x%02x", c);
                else
                    add(out, "%c", c);
            }
            add(out, "'");
        }
        if (r->natoms > 8)
            add(out, " ...");
        add(out, "\n");
    }
}
