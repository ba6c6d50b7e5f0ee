// Private to src/rules: Elastic EQL single-event queries. The parser (eql_parse.c) turns query text
// into an expression tree; the compiler (eql_compile.c) resolves field names to slots of the
// ruleset's ECS view table (each slot knows how to answer its field from an event, see
// event/ecs.h), resolves functions, and compiles literal patterns into value predicates
// (match/value.h); the evaluator (eql_eval.c) runs a compiled query over one event through the
// matcher; the loader (eql_load.c) reads Elastic's TOML rule files into sk_rules.
//
// Semantics (Elasticsearch EQL, as its query-DSL translation behaves on missing fields):
// - `==` and `!=` are case-sensitive and take no wildcards; `:` is case-insensitive with `*` and
//   `?` wildcards (a backslash is an ordinary character); `like` / `like~` are wildcard matches,
//   case-sensitive / -insensitive; `regex` / `regex~` are Lucene regular expressions matching the
//   whole value; `in` / `in~` are list equality, `not in` its negation.
// - A field with several values (process.args) satisfies a comparison when any value does; `!=`
//   and `not in` are the negations of `==` and `in`.
// - A missing field is null: `f == null` holds when f is missing, `f != null` when present, any
//   other comparison with a missing field is false (so `f != "x"` holds when f is missing). A
//   comparison without a field operand is a script in Elasticsearch: there `!=` with a null
//   (`length(f) != 3`, f missing) is null, so false, like every other comparison with a null.
// - Functions return null for null arguments; a null in a boolean position is false, and `not`
//   of false is true. When the first argument of a string predicate (startsWith, endsWith,
//   stringContains, wildcard, cidrMatch) is a multi-valued field, any value may satisfy it; other
//   functions see the first value.
#ifndef SK_RULES_EQL_INT_H
#define SK_RULES_EQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "event/ecs.h"
#include "match/value.h"
#include "rules_int.h"

typedef enum en_type {
    EN_NULL,
    EN_BOOL,
    EN_NUM,
    EN_STR,
    EN_FIELD,
    EN_AND,
    EN_OR,
    EN_NOT,
    EN_CMP,    // kids[0] op kids[1], op one of OP_EQ..OP_GE
    EN_LOOKUP, // kids[0] op (kids[1..]): OP_COLON, OP_LIKE, OP_REGEX, OP_IN; neg for `not in`
    EN_FUNC,   // fn(kids...)
    EN_ARITH,  // kids[0] op kids[1], op one of OP_ADD..OP_MOD
    EN_NEG,    // -kids[0]
} en_type;

typedef enum en_op {
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_COLON,
    OP_LIKE,
    OP_REGEX,
    OP_IN,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
} en_op;

typedef enum en_fn {
    FN_NONE,
    FN_ADD,
    FN_BETWEEN,
    FN_CIDRMATCH,
    FN_CONCAT,
    FN_DIVIDE,
    FN_ENDSWITH,
    FN_INDEXOF,
    FN_LENGTH,
    FN_MODULO,
    FN_MULTIPLY,
    FN_NUMBER,
    FN_STARTSWITH,
    FN_STRING,
    FN_STRINGCONTAINS,
    FN_SUBSTRING,
    FN_SUBTRACT,
    FN_WILDCARD,
} en_fn;

typedef struct enode {
    en_type type;
    en_op op;
    en_fn fn;
    bool ci;       // `~` variants and `:`
    bool neg;      // `not in`
    bool is_int;   // EN_NUM
    bool optional; // EN_FIELD written ?name
    bool b;        // EN_BOOL
    int64_t i;     // EN_NUM (is_int)
    double d;      // EN_NUM
    const char *s; // EN_STR (decoded; may hold NULs, see len), EN_FIELD (name), EN_FUNC (name)
    size_t len;
    size_t off; // byte offset in the query text
    struct enode **kids;
    uint32_t nkids;
    // Compiled.
    uint32_t slot; // EN_FIELD: slot in the ruleset's ECS table
    sk_vm **vms;   // EN_LOOKUP: one per literal item; EN_FUNC wildcard/cidrMatch: per pattern
    uint32_t nvms;
    struct enode **dyn; // EN_LOOKUP (in/in~): items that are not literal strings
    uint32_t ndyn;
} enode;

typedef struct eql_err {
    const char *code; // eql-syntax, eql-unsupported, eql-sequence, eql-sample, eql-join, ...
    char msg[384];
    size_t off; // byte offset in the query text
} eql_err;

struct eql_query {
    const sk_ruleset *rs; // the ruleset it was compiled into
    const char *text;     // the query (ruleset arena)
    const char *category; // lower-case; NULL for `any`
    uint32_t cat_slot;    // slot of event.category (when category)
    uint32_t dq_slot;     // slot of dns.question.name (category dns)
    enode *root;
};

// Parses text[0..n) into nodes allocated from a (strings too). NULL (err filled) on failure.
// category receives the category name (lower-case; NULL for any).
enode *eql_parse(sk_arena *a, const char *text, size_t n, const char **category, eql_err *err);
// Compiles a parsed query into rs (slots, predicates). vms compiled go to *vms (the caller owns
// them until the rule is accepted). False (err filled) when a construct is not supported.
bool eql_compile(
        sk_ruleset *rs, eql_query *q, enode *root, sk_vm ***vms, size_t *nvms, eql_err *err);
// Appends the compiled form (for sk_rule_explain).
void eql_explain(const sk_ruleset *rs, const sk_rule *r, sk_buf *out);
// The shortest text that reads back as d ("0.1", not "0.10000000000000001"), into buf (at least
// 32 bytes); its length.
size_t eql_num_text(double d, char *buf, size_t size);

// ---- The ruleset's ECS view table (eql_compile.c): one slot per ECS field name any rule uses.
typedef struct eql_slot {
    const char *name;
    uint32_t fid;       // interned exact name
    sk_ecs_rule *rules; // derivations (see sk_ecs_lookup)
    uint32_t *src_fids; // interned source field per rule (UINT32_MAX: computed)
    uint32_t nrules;
} eql_slot;

struct eql_tab {
    eql_slot *slots;
    size_t nslots, cap;
};

uint32_t eql_slot_of(sk_ruleset *rs, const char *name, size_t n);
void eql_tab_free(eql_tab *t);

// ---- Evaluation (eql_eval.c).
eql_scratch *eql_scratch_new(const sk_ruleset *rs);
void eql_scratch_free(eql_scratch *s);
// Runs EQL rule r over the matcher's current event; calls fn on a hit.
bool eql_run_rule(sk_matcher *m, const sk_rule *r, sk_hit_fn fn, void *ctx);

// ---- Loading (eql_load.c).
// Loads one TOML rule file into rs: one report entry (loaded or skipped with a located reason).
// Returns the number of report entries made (0 or 1).
size_t eql_load_toml(sk_ruleset *rs, const char *path, const char *data, size_t n, sk_diags *d);

#endif
