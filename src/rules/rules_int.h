// Private to src/rules: the YAML node tree (with marks), the condition AST, the compiled rule, and
// the functions the module's files share.
#ifndef SK_RULES_RULES_INT_H
#define SK_RULES_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/image.h"
#include "match/value.h"
#include "ruleset.h"

// ---------------------------------------------------------------------------------------------
// YAML tree (yaml_tree.c). Built from libyaml's event API so that every node keeps its position and
// aliases can be refused (no expansion bombs). All memory lives in the file's arena.

typedef enum yn_type {
    YN_SCALAR,
    YN_SEQ,
    YN_MAP,
} yn_type;

// What a scalar resolves to (YAML core schema, plain scalars only; quoted ones are strings).
typedef enum yn_kind {
    YK_STR,
    YK_NULL,
    YK_BOOL,
    YK_INT,
    YK_FLOAT,
} yn_kind;

typedef struct yn {
    yn_type type;
    yn_kind kind;  // scalars
    bool plain;    // plain (unquoted, not block) scalar
    bool bval;     // YK_BOOL
    const char *s; // scalar text (NUL-terminated; may hold NULs inside, see len)
    size_t len;
    unsigned long line; // 1-based
    unsigned long col;  // 1-based
    struct yn **kids;   // SEQ: n items; MAP: 2n entries (key, value, key, value, ...)
    size_t n;
    // build-time only
    struct yn *first, *last, *next;
    size_t count;
} yn;

typedef struct ydoc {
    yn *root;           // NULL for an empty document
    unsigned long line; // where the document starts
    unsigned long col;
    // A problem found while building (alias, depth, syntax): the document is unusable.
    const char *err_code;
    char *err_msg;
    unsigned long err_line;
    unsigned long err_col;
} ydoc;

typedef struct yfile {
    sk_arena arena;
    ydoc *docs;
    size_t ndocs;
    size_t cap;
} yfile;

void yfile_init(yfile *f);
void yfile_fini(yfile *f);
// Parses every document of data[0..n). Never fails as a whole: a syntax error ends the list with a
// document whose err_code is "yaml-syntax".
void yfile_parse(yfile *f, const char *data, size_t n);
// The two ways yfile_parse reads: the fast reader for the YAML rules are usually written in
// (yaml_fast.c; false, with no document kept, when it leaves the file to libyaml), and libyaml.
bool yfile_parse_fast(yfile *f, const char *data, size_t n);
void yfile_parse_libyaml(yfile *f, const char *data, size_t n);
// YAML 1.2 core schema type of a plain scalar (null, bool, int, float, else string).
void yn_resolve_plain(yn *n);
// Map lookup (exact key); NULL when absent or m is not a map.
yn *yn_get(const yn *m, const char *key);
const char *yn_type_name(const yn *n);

// ---------------------------------------------------------------------------------------------
// Condition AST (cond_parse.c).

typedef enum cnode_type {
    CN_SEL, // one selection
    CN_NOT,
    CN_AND,
    CN_OR,
    CN_OF, // at least `count` of sels (count == 0: all of them)
} cnode_type;

typedef struct cnode {
    cnode_type type;
    uint32_t sel;   // CN_SEL
    uint32_t count; // CN_OF: 0 = all
    uint32_t *sels; // CN_OF: selection indexes
    uint32_t nsels;
    struct cnode **kids; // NOT: 1; AND/OR: n
    uint32_t nkids;
    const char *text; // CN_OF: the pattern as written ("selection_*", "them")
} cnode;

// Result of a failed parse: message, reason code and byte offset in the condition text.
typedef struct cond_err {
    const char *code;
    char msg[256];
    size_t off;
} cond_err;

// Parses text against the selection names (names[i], i < nnames). Nodes come from arena. Returns
// NULL and fills err on failure.
cnode *cond_parse(sk_arena *a,
                  const char *text,
                  size_t len,
                  const char *const *names,
                  size_t nnames,
                  cond_err *err);
// Appends a one-line rendering ("sel1 and not (1 of filter_*)").
void cond_render(const cnode *c, const char *const *names, sk_buf *out);

// ---------------------------------------------------------------------------------------------
// Logsource table (logsource.c).

typedef struct ls_rename {
    const char *from; // rule field
    const char *to;   // event field
} ls_rename;

typedef struct ls_source {
    const char *label;           // "sysmon", "security" ...
    const char *const *channels; // NULL-terminated; NULL = any channel
    const uint32_t *eids;        // neids entries; none = any
    size_t neids;
    const char *cond_field;         // extra condition: cond_field equals one of cond_values (ci)
    const char *const *cond_values; // NULL-terminated
    const ls_rename *renames;       // terminated by {NULL, NULL}
} ls_source;

// Resolves a logsource (any of product/category/service may be NULL). Writes up to max sources to
// out and returns their number; 0 with *why set when the logsource is not supported. A logsource
// with product windows only (or nothing at all) resolves to one source with any channel/event.
size_t ls_resolve(const char *product,
                  const char *category,
                  const char *service,
                  ls_source *out,
                  size_t max,
                  const char **why);
// Number of entries in the service and category tables (for tests and `rules explain`).
size_t ls_service_count(void);
size_t ls_category_count(void);

// ---------------------------------------------------------------------------------------------
// Compiled rule.

typedef enum item_kind {
    IK_MATCH,    // field value satisfies the value list
    IK_KEYWORD,  // any field value satisfies the value list
    IK_EXISTS,   // field present (exists_val) / absent (!exists_val)
    IK_FIELDREF, // field value compares to another field's value
    IK_NEQ,      // the negation of the IK_MATCH item (field absent, or no value of it matches)
} item_kind;

typedef enum ref_cmp {
    RC_EQ,
    RC_CONTAINS,
    RC_STARTS,
    RC_ENDS,
} ref_cmp;

typedef enum time_part {
    TP_NONE,
    TP_MINUTE,
    TP_HOUR,
    TP_DAY,
    TP_WEEK,
    TP_MONTH,
    TP_YEAR,
} time_part;

// One value of an item after transforms: the OR of its variants.
typedef struct cval {
    sk_vm **vms;
    uint32_t nvms;
    uint32_t cost; // 0 cheap .. 2 regex (for ordering)
    int64_t eid;   // the value as an event id when it is a plain decimal equality; else -1
    // Prefilter atoms, one per variant (lower-cased literal text that a match implies); natoms 0:
    // none (the value can match without any literal, e.g. a regex).
    const char **atoms;
    uint32_t *alens;
    uint32_t natoms;
    const uint32_t *pf_ids; // [prefilter] literal id of each atom (set at finish); NULL: none
    // [prefilter] per variant: the variant matches exactly where its atom occurs (a plain
    // case-insensitive contains), so the field the scan found the atom in matches; set with
    // pf_ids (NULL with it)
    const bool *pf_sure;
} cval;

typedef struct citem {
    const char *key;   // as written ("CommandLine|contains|all"), for explain
    const char *field; // rule field name; NULL for keywords
    uint32_t fid;      // interned id of field
    item_kind kind;
    bool all;      // AND over vals
    bool has_null; // a null value: field absent or empty
    bool exists_val;
    bool cased;   // fieldref
    ref_cmp rcmp; // fieldref
    bool rneg;    // fieldref|neq
    time_part tpart;
    cval *vals;
    uint32_t nvals;
    uint32_t *ref_fids; // fieldref targets
    const char **ref_names;
    uint32_t nrefs;
    uint32_t cost;
} citem;

typedef struct calt {
    citem *items; // AND
    uint32_t nitems;
} calt;

typedef struct csel {
    const char *name;
    calt *alts; // OR
    uint32_t nalts;
} csel;

typedef struct csource {
    const char *label;
    uint32_t *chans; // channel ids; nchans == 0: any channel
    uint32_t nchans;
    const char **chan_names;
    uint32_t *eids;
    uint32_t neids;
    // Event ids for the index only: eids, or when the logsource gives none, the ids the detection
    // itself requires (EventID: 4624 in every way the condition can be true); nieids == 0: any.
    uint32_t *ieids;
    uint32_t nieids;
    uint32_t cond_fid; // UINT32_MAX: none
    const char *cond_field;
    const char **cond_values;
    uint32_t ncond_values;
    uint32_t *ren_from; // rule field ids
    uint32_t *ren_to;   // event field ids
    const char **ren_from_names;
    const char **ren_to_names;
    uint32_t nren;
} csource;

// [EQL dispatch] Elastic EQL rules (eql_int.h) share sk_rule and the ruleset.
typedef struct eql_query eql_query;
typedef struct eql_tab eql_tab;
typedef struct eql_scratch eql_scratch;

struct sk_rule {
    size_t index;
    const char *id;
    const char *title;
    const char *status;
    const char *description;
    const char *author;
    const char *date;
    const char *path;
    const char *level_text;
    const char *logsource;
    sk_level level;
    unsigned long line;
    const char **tags;
    size_t ntags;
    const char **refs;
    size_t nrefs;
    const char **fps;
    size_t nfps;
    const char **fields;
    size_t nfields;
    csource *sources; // nsources == 0: any event
    uint32_t nsources;
    csel *sels;
    uint32_t nsels;
    const char **sel_names;
    cnode *cond;
    // Prefilter: the rule can only match when one of these occurs in some field value
    // (lower-cased); natoms 0: always evaluated. See prefilter.c.
    const char **atoms;
    uint32_t *atom_lens;
    uint32_t natoms;
    // [EQL dispatch] "eql" for EQL rules (then eql is set and sources/sels/cond are unused);
    // NULL for Sigma.
    const char *language;
    eql_query *eql;
};

// ---------------------------------------------------------------------------------------------
// The ruleset under construction and finished (ruleset.c).

typedef struct intern_tab {
    // Open addressing; slots hold id + 1 (0 = empty).
    uint32_t *slots;
    size_t cap;
} intern_tab;

typedef struct rs_index_eid {
    uint32_t eid;
    uint32_t *rules;
    uint32_t n;
} rs_index_eid;

typedef struct rs_chan {
    char *name; // lower-case
    uint32_t len;
    uint32_t *any_rules; // rules with this channel and no event id restriction
    uint32_t nany;
    rs_index_eid *eids; // sorted by eid
    uint32_t neids;
} rs_chan;

struct sk_ruleset {
    sk_arena arena;
    sk_rule **rules;
    size_t nrules, caprules;
    bool *enabled;
    size_t nenabled;
    sk_load_entry *report;
    size_t nreport, capreport;
    const char **reason_codes;
    size_t *reason_counts;
    size_t nreasons;
    size_t nskipped;
    // Interned field names (rule side): exact names, and case-folded classes.
    char **names;
    uint32_t *name_lens;
    uint32_t *name_ci; // class id of names[i]
    size_t nnames, capnames;
    intern_tab names_tab;
    char **ci_names; // lower-case
    uint32_t *ci_lens;
    size_t nci, capci;
    intern_tab ci_tab;
    // Channels (lower-case) and the index.
    rs_chan *chans;
    size_t nchans, capchans;
    intern_tab chan_tab;
    intern_tab id_tab; // rule ids (first rule with an id wins), for sk_ruleset_find_id
    size_t nids;
    uint32_t *catch_all; // rules without sources
    uint32_t ncatch_all;
    // Every compiled predicate (freed with the ruleset).
    sk_vm **vms;
    size_t nvms, capvms;
    uint32_t max_sels;
    uint32_t max_items_out; // most match items one rule can report
    // Prefilter (prefilter.c).
    struct pf_index *pf;    // built at finish; NULL before
    size_t pf_nrules_atoms; // rules with atoms
    eql_tab *eql;           // [EQL dispatch] ECS view slots of the EQL rules; NULL when none
    // Read from the compiled-rule cache (rule_cache.c): the block that holds everything this
    // ruleset points to (freed as one; the ruleset itself is a copy outside it); NULL for a
    // ruleset built by the loader.
    void *image;
};

sk_ruleset *rs_new(void);
uint32_t rs_intern_name(sk_ruleset *rs, const char *s, size_t n);
uint32_t rs_intern_chan(sk_ruleset *rs, const char *s, size_t n);
// Looks up an event field name / channel without adding; UINT32_MAX when absent. h is
// rs_hash_ci(s, n) for both tables.
uint32_t rs_find_name(const sk_ruleset *rs, const char *s, size_t n, uint64_t h);
uint32_t rs_find_ci(const sk_ruleset *rs, const char *s, size_t n, uint64_t h);
uint32_t rs_find_chan(const sk_ruleset *rs, const char *s, size_t n);
uint64_t rs_hash(const char *s, size_t n);
uint64_t rs_hash_ci(const char *s, size_t n);
void rs_add_rule(sk_ruleset *rs, sk_rule *r);
void rs_add_report(sk_ruleset *rs, const sk_load_entry *e);
void rs_add_vm(sk_ruleset *rs, sk_vm *vm);
// The hash of a folder's listing as the rule walk sees it (rule_load.c): names[0..n) sorted by
// strcmp, without those starting with '.', each name at names[i] + skip. The compiled-rule cache
// compares it when a folder's times cannot tell a change.
uint64_t rs_listing_hash(char *const *names, size_t n, size_t skip);
// The hash of a rule file's bytes, for the same purpose.
uint64_t rs_content_hash(const char *data, size_t n);
// The same, read from path now: the listing of a folder; a file's bytes (false when the file
// cannot be read or does not hold exactly size bytes).
bool rs_hash_dir(const char *path, uint64_t *out);
bool rs_hash_file(const char *path, size_t size, uint64_t *out);
void rs_build_index(sk_ruleset *rs);
const char *rs_strdup(sk_ruleset *rs, const char *s);
const char *rs_strndup(sk_ruleset *rs, const char *s, size_t n);
void *rs_alloc(sk_ruleset *rs, size_t n); // zeroed

// ---------------------------------------------------------------------------------------------
// Prefilter (prefilter.c).

// Sets cv's atoms from its compiled variants pats[0..n) (glob: Sigma wildcard text).
void pf_value_atoms(
        sk_ruleset *rs, cval *cv, char *const *pats, const size_t *lens, size_t n, bool glob);
// Computes r's atoms (after its detection is compiled).
void pf_rule_atoms(sk_ruleset *rs, sk_rule *r);
// Builds the prefilter over every rule (at finish; the ruleset is complete) and frees it.
void pf_build(sk_ruleset *rs);
void pf_free(sk_ruleset *rs);
// The compiled-rule cache: writes the prefilter into an image (the ruleset index's candidate
// lists must be in it already), and makes one read back from an image usable.
sk_img_off pf_image_put(sk_img_w *w, const struct pf_index *ix);
void pf_image_fix(struct pf_index *ix);
// The literals that the sets keep in their short parts (tests: that a set was split).
size_t pf_short_literals(const sk_ruleset *rs);
// Per-matcher marks (prefilter_int.h).
typedef struct pf_scratch pf_scratch;
pf_scratch *pf_scratch_new(const sk_ruleset *rs);
void pf_scratch_free(pf_scratch *s);
// Forgets the marks (a new event): nothing is proven until the next pf_scan.
void pf_scratch_reset(pf_scratch *s);
// Scans the event's field values that the candidate rules can read: lists[0..nlists) are the
// candidate lists of the ruleset index (NULL: every rule), field_ci[k] the case-folded name
// class of field k (rs_find_ci; UINT32_MAX: none). Afterwards pf_rule_possible and
// pf_variant_absent answer for the candidates.
void pf_scan(pf_scratch *s,
             const sk_event *ev,
             const uint32_t *field_ci,
             const uint32_t *const *lists,
             const uint32_t *lens,
             size_t nlists);
// False when rule index r has atoms and none of them occurs where it could (after pf_scan).
bool pf_rule_possible(const pf_scratch *s, size_t r);

// ---------------------------------------------------------------------------------------------
// Compiler (rule_compile.c).

typedef struct placeholder {
    char *name;
    sk_strlist values;
} placeholder;

// A located load problem.
typedef struct load_err {
    const char *code;
    char msg[512];
    unsigned long line, col;
} load_err;

typedef struct compile_ctx {
    sk_ruleset *rs;
    const placeholder *ph;
    size_t nph;
    sk_vm **vms; // compiled so far for this rule (owned until the rule is accepted)
    size_t nvms, capvms;
} compile_ctx;

// Compiles `detection` into r (sels, sel_names, cond). On failure fills err (line/col from the
// offending node) and returns false; vms compiled so far stay in ctx (the caller frees them).
bool rule_compile_detection(compile_ctx *cx, sk_rule *r, const yn *detection, load_err *err);
// Resolves the logsource of r into compiled sources. False (err filled) when unsupported.
// Fills the index event ids of r's sources (see csource.ieids). Call after both compiles.
void rule_derive_eids(sk_ruleset *rs, sk_rule *r);
bool rule_compile_logsource(
        compile_ctx *cx, sk_rule *r, const yn *logsource, const yn *doc_root, load_err *err);

// ---------------------------------------------------------------------------------------------
// [EQL dispatch] Matcher services for the EQL evaluator (matcher.c).

typedef struct mt_iter {
    uint32_t cur;
    bool ci;
} mt_iter;

const sk_event *mt_event(const sk_matcher *m);
uint32_t mt_event_gen(const sk_matcher *m); // changes with every event
// Event fields answering to interned name fid (exact name first, else case-insensitive); the
// index of the first, or UINT32_MAX.
uint32_t mt_first(const sk_matcher *m, uint32_t fid, mt_iter *it);
uint32_t mt_next(const sk_matcher *m, mt_iter *it);
sk_vm_scratch *mt_vm_scratch(sk_matcher *m);
eql_scratch *mt_eql(sk_matcher *m);
void mt_items_reset(sk_matcher *m);
void mt_items_push(sk_matcher *m, const char *sel, const char *field, const char *value);
const sk_match_item *mt_items(const sk_matcher *m, size_t *n);

#endif
