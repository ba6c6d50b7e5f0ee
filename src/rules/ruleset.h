// The Sigma engine's public face: load rule files (YAML) into an immutable, compiled ruleset, with
// a per-rule load report, and run it over events. [EQL] Elastic's TOML detection rules (files
// ending in .toml) load into the same ruleset as rules of language "eql" (src/rules/eql_int.h):
// single-event EQL queries, answered from the ECS view of each event (event/ecs.h); they share the
// load report, filters, matching and hits with the Sigma rules.
//
//   sk_rule_loader *l = sk_rule_loader_new(&opts);
//   st = sk_rule_loader_add_path(l, "rules/", &diags);    // any number of files, folders, buffers
//   sk_ruleset *rs = sk_rule_loader_finish(l);            // frees the loader; never NULL
//   sk_ruleset_filter(rs, &filter);                       // optional, before any matcher exists
//   sk_matcher *m = sk_matcher_new(rs);                   // one per thread
//   for each event: sk_matcher_run(m, ev, on_hit, ctx);
//   sk_matcher_free(m); sk_ruleset_free(rs);
//
// Threads: after finish (and the optional filter/set_enabled calls) the ruleset is read-only and
// may be shared by any number of threads, each with its own sk_matcher.
//
// Load problems: every rule document that cannot be loaded is skipped, reported through sk_diags
// (file:line:col, the source line for the caret, a stable `code`) and recorded in the load report.
// Messages end with ` (rule "<title>")` when the title is known, e.g.
//   rules/win/proc_x.yml:14:9: error: unknown modifier 'containz' in 'CommandLine|containz'
//   (rule "Suspicious X")
// Skip reason codes (sk_diag.code and sk_load_entry.code):
//   file      io-error, file-too-large (SK_MAX_RULE_FILE_BYTES)
//   YAML      yaml-syntax, yaml-alias (aliases are refused: no expansion bombs), yaml-limit
//   (nesting
//             deeper than SK_MAX_DEPTH), not-a-rule (document is not a map)
//   document  correlation-rule, filter-rule (Sigma meta documents, not supported yet),
//             unsupported-action (action: other than global/reset/repeat), missing-title,
//             bad-metadata (e.g. tags not a list of strings)
//   logsource missing-logsource, bad-logsource, unsupported-logsource (names the logsource)
//   detection missing-detection, missing-condition, missing-selection (the condition names an
//             undefined selection, or `1 of x*` matches none), bad-condition, aggregation
//             (`| count() ...`), bad-detection (malformed selection or value), unknown-modifier,
//             unsupported-modifier-combination, bad-value (bad cidr, non-numeric gt value, exists
//             without a boolean, ...), bad-regex, unresolved-placeholder, too-many-values
//             (SK_MAX_VALUES_PER_ITEM, also after windash/expand)
// Warnings (severity SK_SEV_WARNING; the rule is still loaded and no report entry is made):
//   unknown-key (a top-level key Sigma does not define), bad-level, duplicate-id,
//   ignored-timeframe, no-rules (a file without any rule document), walk-depth.
// Loader-level errors: placeholder-file (sk_rule_loader_new), io-error (a path that cannot be
// opened).
// [EQL] TOML rule files: toml-syntax (located TOML errors), not-a-rule (no [rule] table),
//   missing-title, unsupported-language (kuery, esql, lucene, ...), unsupported-rule-type
//   (threshold, machine_learning, new_terms, threat_match, query, esql), missing-query,
//   eql-sequence, eql-sample, eql-join, eql-syntax, eql-unsupported (pipes, unknown functions,
//   non-literal patterns), bad-regex, bad-value (bad cidrMatch block); warnings bad-level,
//   duplicate-id. Positions inside the query are file positions.
//
// Semantics worth knowing (details in the .c files):
// - Field names are looked up exactly; when the event has no field of that exact name, a field
//   whose name differs only in ASCII case answers instead (exports disagree on case).
// - A field that occurs several times (unnamed Data) matches when any of its values does.
// - process_creation rules also run on Security 4688 with Image <- NewProcessName and
//   ParentImage <- ParentProcessName (no other renames: the other 4688 fields carry different
//   formats); `matched` then names the event's field (NewProcessName).
// - `Field: null` matches an absent or empty field; `Field: ''` an empty one; `Field|exists`
//   presence only; `Field|neq: [a, b]` is `not Field: [a, b]` (pySigma): an absent field, or one
//   none of whose values is a or b.
//   Keywords (values without a field) match when any field value contains them.
// - Channels compare case-insensitively. An event without a Channel is matched against every
//   rule whose event ids fit (flat exports). Rules whose logsource gives a channel but no event id
//   (service: security) are indexed under the event ids their detection requires, when it does.
#ifndef SK_RULES_RULESET_H
#define SK_RULES_RULESET_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/diag.h"
#include "core/status.h"
#include "event/event.h"

typedef struct sk_rule sk_rule;
typedef struct sk_ruleset sk_ruleset;
typedef struct sk_rule_loader sk_rule_loader;
typedef struct sk_matcher sk_matcher;

typedef enum sk_level {
    SK_LEVEL_UNKNOWN = 0, // absent or not one of the names below
    SK_LEVEL_INFORMATIONAL,
    SK_LEVEL_LOW,
    SK_LEVEL_MEDIUM,
    SK_LEVEL_HIGH,
    SK_LEVEL_CRITICAL,
} sk_level;

// "informational", "low", ... ("unknown" for SK_LEVEL_UNKNOWN). Never NULL.
const char *sk_level_str(sk_level lv);
// Parses a level name (case-insensitive); false when s names no level.
bool sk_level_parse(const char *s, sk_level *out);
// The level a rule has in level filters (--min-level, --fail-level): a rule without a level (it is
// optional in Sigma), or with an unknown one, counts as informational, the lowest.
static inline sk_level sk_level_rank(sk_level lv)
{
    return lv == SK_LEVEL_UNKNOWN ? SK_LEVEL_INFORMATIONAL : lv;
}

// A file or folder a load read, as it was then (the compiled-rule cache checks them again).
typedef struct sk_rule_source {
    char *path;
    bool dir;
    // What was read (has_content): a file's bytes, or a folder's sorted entry names (the walk's
    // view), hashed. Checked again on a cache hit when the times could not tell (racy).
    bool has_content;
    bool racy; // changed within a timestamp tick of the cache write (rule_cache.c)
    unsigned long long dev, ino, size;
    long long mtime_s, mtime_ns, ctime_s, ctime_ns;
    unsigned long long content;
} sk_rule_source;

typedef struct sk_rule_sources {
    sk_rule_source *v;
    size_t n, cap;
    bool unknown; // something was read whose state could not be taken (fstat failed)
} sk_rule_sources;
void sk_rule_sources_fini(sk_rule_sources *s);

typedef struct sk_load_opts {
    // YAML file mapping placeholder names to lists of values, for the `expand` modifier:
    //   admin_users: ['Administrator', 'admin*']
    //   domain_controllers: ['DC01', 'DC02']
    // A value written %name% in a rule with |expand is replaced by the OR of the listed values
    // (the list is copied at sk_rule_loader_new). NULL: no placeholders; any |expand rule that
    // names one is skipped ("unresolved-placeholder").
    const char *placeholder_file;
    // Informational for the caller: the loader behaves the same (it always skips and reports); the
    // CLI turns skips into failures.
    bool strict;
    // Threads that read and parse rule files ahead of the compiler (folder walks); 0 or 1: none.
    // Rules are compiled, reported and numbered in the same order whatever the count.
    unsigned jobs;
    // When not NULL, every rule file, folder and placeholder file read is added to it.
    sk_rule_sources *sources;
} sk_load_opts;

// Creates a loader. opts may be NULL (defaults). When the placeholder file cannot be read or
// parsed, the problem is emitted through d (code "placeholder-file") and *out is not written:
// returns SK_ERR_IO / SK_ERR_RULE_SYNTAX. d may be NULL.
SK_NODISCARD sk_status sk_rule_loader_new(sk_rule_loader **out,
                                          const sk_load_opts *opts,
                                          sk_diags *d);
// Adds a rule file, or a folder (recursively; files ending in .yml/.yaml/.toml, in byte-wise sorted
// order per folder so the load order is deterministic). Returns SK_OK when every file could be
// read (individual bad rules are skipped and reported, they do not make this fail), SK_ERR_IO when
// path (or a file under it) cannot be read (reported through d too).
SK_NODISCARD sk_status sk_rule_loader_add_path(sk_rule_loader *l, const char *path, sk_diags *d);
// Adds rules from memory; name is the display path (copied). data need not be NUL-terminated.
SK_NODISCARD sk_status sk_rule_loader_add_buffer(
        sk_rule_loader *l, const char *name, const char *data, size_t n, sk_diags *d);
// Adds the built-in pack (src/rules/builtin.h).
SK_NODISCARD sk_status sk_rule_loader_add_builtin(sk_rule_loader *l, sk_diags *d);
// Builds the ruleset (index by channel/event id) and frees the loader. Never NULL (a ruleset may
// hold zero rules). l may not be used afterwards.
sk_ruleset *sk_rule_loader_finish(sk_rule_loader *l);
// Frees a loader without building (error paths). NULL is a no-op.
void sk_rule_loader_free(sk_rule_loader *l);

// ---- Load report: one entry per rule document seen (loaded or not), in load order.
typedef struct sk_load_entry {
    const char *file;  // display path
    const char *title; // NULL when the document had none
    const char *id;    // NULL when none
    bool loaded;
    const char *code;    // reason key when skipped (see the list above); NULL when loaded
    const char *message; // human text when skipped; NULL when loaded
    unsigned long line;  // 1-based position of the problem (or of the document when loaded)
    unsigned long col;
} sk_load_entry;

size_t sk_ruleset_report_count(const sk_ruleset *rs);
const sk_load_entry *sk_ruleset_report_at(const sk_ruleset *rs, size_t i);
size_t sk_ruleset_loaded_count(const sk_ruleset *rs); // == sk_ruleset_count
// True when the ruleset was read from the compiled-rule cache (rule_cache.h).
bool sk_ruleset_cached(const sk_ruleset *rs);
size_t sk_ruleset_skipped_count(const sk_ruleset *rs);
// Skips grouped by reason code, sorted by count (descending) then code.
size_t sk_ruleset_reason_count(const sk_ruleset *rs);
// Writes the i-th reason's code and count.
void sk_ruleset_reason_at(const sk_ruleset *rs, size_t i, const char **code, size_t *count);

// ---- Rules (loaded ones only), in load order.
size_t sk_ruleset_count(const sk_ruleset *rs);
const sk_rule *sk_ruleset_rule(const sk_ruleset *rs, size_t i);
// The first loaded rule whose id equals id, or NULL.
const sk_rule *sk_ruleset_find_id(const sk_ruleset *rs, const char *id);
void sk_ruleset_free(sk_ruleset *rs);

// Selecting rules (hunt's --min-level/--tag/--rule-id/--status, test's rule by id). These change
// the ruleset and so must be called before any sk_matcher is created from it. All rules start
// enabled.
typedef struct sk_rule_filter {
    sk_level min_level;      // SK_LEVEL_UNKNOWN: any level
    const char *const *tags; // keep rules having at least one of these tags (case-insensitive;
    size_t ntags;            //   "attack.t1218" also selects "attack.t1218.005"); 0: any
    const char *const *ids;  // keep rules whose id is one of these; 0: any
    size_t nids;
    const char *const *statuses; // keep rules whose status is one of these; 0: any
    size_t nstatuses;
} sk_rule_filter;
// Disables every rule that f rejects (rules already disabled stay disabled); returns the number of
// enabled rules afterwards.
size_t sk_ruleset_filter(sk_ruleset *rs, const sk_rule_filter *f);
void sk_ruleset_set_enabled(sk_ruleset *rs, size_t i, bool on);
bool sk_ruleset_enabled(const sk_ruleset *rs, size_t i);
size_t sk_ruleset_enabled_count(const sk_ruleset *rs);

// ---- Rule accessors. Strings belong to the ruleset; "" (never NULL) when the rule has none,
// except id/status/description, which are NULL when absent.
size_t sk_rule_index(const sk_rule *r); // position in the ruleset (load order)
const char *sk_rule_id(const sk_rule *r);
const char *sk_rule_title(const sk_rule *r);
sk_level sk_rule_level(const sk_rule *r);
const char *sk_rule_level_str(const sk_rule *r); // the text of `level:` as written ("" if none)
const char *sk_rule_status(const sk_rule *r);
const char *sk_rule_description(const sk_rule *r);
const char *sk_rule_author(const sk_rule *r);
const char *sk_rule_date(const sk_rule *r);
const char *sk_rule_path(const sk_rule *r);     // display path of the file it came from
unsigned long sk_rule_line(const sk_rule *r);   // line where its document starts
const char *sk_rule_language(const sk_rule *r); // "sigma" or "eql"
// "product:windows category:process_creation" (the keys given, in that order: product, category,
// service).
const char *sk_rule_logsource(const sk_rule *r);
size_t sk_rule_tag_count(const sk_rule *r);
const char *sk_rule_tag_at(const sk_rule *r, size_t i);
size_t sk_rule_reference_count(const sk_rule *r);
const char *sk_rule_reference_at(const sk_rule *r, size_t i);
size_t sk_rule_falsepositive_count(const sk_rule *r);
const char *sk_rule_falsepositive_at(const sk_rule *r, size_t i);
size_t sk_rule_field_count(const sk_rule *r); // the rule's `fields:` list
const char *sk_rule_field_at(const sk_rule *r, size_t i);

// Appends the compiled form of r (multi-line text): resolved logsource (channels, event ids, extra
// conditions, field renames), each selection with its items and compiled predicates, and the
// condition tree. [EQL] For EQL rules: the category, the condition, the compiled predicates and
// how each ECS field it reads is derived.
void sk_rule_explain(const sk_rule *r, sk_buf *out);

// ---- Matching.
// One field/value pair that contributed to a hit. `selection` and `field` belong to the ruleset,
// `value` to the event; all are valid only during the callback. For keyword selections `field` is
// the event field in which the keyword was found. For `Field|exists: false` and `Field: null`
// items, value is NULL.
typedef struct sk_match_item {
    const char *selection;
    const char *field;
    const char *value;
} sk_match_item;

// Called once per matching rule, in rule order. items are the pairs of the positive selections
// that made the condition true (not those under a `not`), in rule order, without duplicates.
typedef void (*sk_hit_fn)(
        void *ctx, const sk_rule *rule, const sk_event *ev, const sk_match_item *items, size_t n);

// Per-thread matching state (scratch for predicates and match items). rs is borrowed and must
// outlive the matcher.
sk_matcher *sk_matcher_new(const sk_ruleset *rs);
// Runs every enabled rule that can apply to ev (by channel and event id); calls fn for each hit.
// Returns the number of hits. fn may be NULL (then only counts).
size_t sk_matcher_run(sk_matcher *m, const sk_event *ev, sk_hit_fn fn, void *ctx);
// Runs one rule regardless of its enabled flag and of the index (still honouring its logsource).
bool sk_matcher_run_rule(
        sk_matcher *m, const sk_rule *r, const sk_event *ev, sk_hit_fn fn, void *ctx);
// Regex evaluations that hit the PCRE2 match limit (counted as non-matches) so far.
unsigned long sk_matcher_limit_hits(const sk_matcher *m);
void sk_matcher_free(sk_matcher *m);

#endif
