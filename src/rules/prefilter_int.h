// Private to src/rules: the per-matcher prefilter state (prefilter.c), exposed so that the
// matcher can test "was this value's literal seen in the event" inline in its hot loop.
#ifndef SK_RULES_PREFILTER_INT_H
#define SK_RULES_PREFILTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules_int.h"

struct pf_scratch {
    const struct pf_index *ix;
    uint32_t gen;         // current event's mark
    bool done;            // the current event was scanned (marks valid)
    uint32_t *rule_gen;   // [nrules] rule has a present atom
    uint32_t *entry_gen;  // [nentries] entry already found in this event
    uint32_t *seen;       // [nstrings] literal found in a scanned field
    uint32_t *seen_field; // [nstrings] the field it was first found in (when seen)
    uint32_t cur_field;   // the field being scanned
    uint64_t *need;       // [nwords] field classes the candidates read
};

// True when the prefilter proves that variant i of cv cannot match any field the current event
// offers to it: its literal was registered for every field class the value's item reads, all
// those fields were scanned, and the literal occurs in none of them. False when unsure.
static inline bool pf_variant_absent(const pf_scratch *s, const cval *cv, uint32_t i)
{
    return s->done && cv->pf_ids && s->seen[cv->pf_ids[i]] != s->gen;
}

// True when the prefilter proves that variant i of cv matches the value of event field k: the
// variant is a plain case-insensitive contains and the scan found its literal in that field.
static inline bool pf_variant_in_field(const pf_scratch *s, const cval *cv, uint32_t i, uint32_t k)
{
    return s->done && cv->pf_sure && cv->pf_sure[i] && s->seen[cv->pf_ids[i]] == s->gen &&
           s->seen_field[cv->pf_ids[i]] == k;
}

#endif
