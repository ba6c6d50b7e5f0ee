// EQL compiler: resolves a parsed query against the ruleset.
//
// - Field names become slots of the ruleset's ECS view table (one slot per distinct name over all
//   rules). A slot holds the interned exact name (answered by an event field of that name) and the
//   derivation rules of event/ecs.h with their source fields interned, so the evaluator looks
//   everything up by integer id through the matcher's per-event field index.
// - Functions are resolved by name (case-insensitive, as rules write startswith~ and startsWith)
//   and their arity checked.
// - Lookups against literal strings (`:`, like, regex, in, and `==`/`!=` against a string) are
//   compiled once into value predicates: `:` and like~ into case-insensitive wildcard matches,
//   like into case-sensitive ones, == and in into exact equality, regex into PCRE2 (a Lucene
//   regular expression translated and anchored at both ends).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/mem.h"
#include "eql_int.h"

// ---------------------------------------------------------------------------------------------
// ECS view table

void eql_tab_free(eql_tab *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

uint32_t eql_slot_of(sk_ruleset *rs, const char *name, size_t n)
{
    if (!rs->eql)
        rs->eql = sk_xcalloc(1, sizeof(eql_tab));
    eql_tab *t = rs->eql;
    for (size_t i = 0; i < t->nslots; i++)
        if (strlen(t->slots[i].name) == n && memcmp(t->slots[i].name, name, n) == 0)
            return (uint32_t)i;
    sk_xgrow((void **)&t->slots, &t->cap, t->nslots + 1, sizeof(eql_slot));
    eql_slot *s = &t->slots[t->nslots];
    memset(s, 0, sizeof(*s));
    s->name = rs_strndup(rs, name, n);
    s->fid = rs_intern_name(rs, name, n);
    sk_ecs_def def;
    if (sk_ecs_lookup(s->name, &def)) {
        s->rules = rs_alloc(rs, def.n * sizeof(sk_ecs_rule));
        s->src_fids = rs_alloc(rs, def.n * sizeof(uint32_t));
        for (size_t i = 0; i < def.n; i++) {
            s->rules[i] = def.rules[i];
            if (def.rules[i].source) {
                s->rules[i].source = rs_strdup(rs, def.rules[i].source);
                s->src_fids[i] =
                        rs_intern_name(rs, def.rules[i].source, strlen(def.rules[i].source));
            } else {
                s->src_fids[i] = UINT32_MAX;
            }
        }
        s->nrules = (uint32_t)def.n;
    }
    return (uint32_t)t->nslots++;
}

// ---------------------------------------------------------------------------------------------
// Compilation

typedef struct cc {
    sk_ruleset *rs;
    sk_vm ***vms;
    size_t *nvms;
    size_t capvms;
    eql_err *err;
} cc;

static bool cfail(cc *c, const char *code, size_t off, const char *fmt, ...) SK_PRINTF(4, 5);
static bool cfail(cc *c, const char *code, size_t off, const char *fmt, ...)
{
    c->err->code = code;
    c->err->off = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
    va_end(ap);
    return false;
}

static void keep_vm(cc *c, sk_vm *vm)
{
    sk_xgrow((void **)c->vms, &c->capvms, *c->nvms + 1, sizeof(sk_vm *));
    (*c->vms)[(*c->nvms)++] = vm;
}

typedef struct fn_def {
    const char *name;
    en_fn fn;
    uint8_t min, max; // arity (max 255: any)
    bool ci_ok;       // has a `~` variant
} fn_def;

static const fn_def fns[] = {
    { "add", FN_ADD, 2, 2, false },
    { "between", FN_BETWEEN, 3, 4, true },
    { "cidrMatch", FN_CIDRMATCH, 2, 255, false },
    { "concat", FN_CONCAT, 1, 255, false },
    { "divide", FN_DIVIDE, 2, 2, false },
    { "endsWith", FN_ENDSWITH, 2, 2, true },
    { "indexOf", FN_INDEXOF, 2, 3, true },
    { "length", FN_LENGTH, 1, 1, false },
    { "modulo", FN_MODULO, 2, 2, false },
    { "multiply", FN_MULTIPLY, 2, 2, false },
    { "number", FN_NUMBER, 1, 2, false },
    { "startsWith", FN_STARTSWITH, 2, 2, true },
    { "string", FN_STRING, 1, 1, false },
    { "stringContains", FN_STRINGCONTAINS, 2, 2, true },
    { "substring", FN_SUBSTRING, 2, 3, false },
    { "subtract", FN_SUBTRACT, 2, 2, false },
    { "wildcard", FN_WILDCARD, 2, 255, true },
};

static const char *fn_name(en_fn f)
{
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (fns[i].fn == f)
            return fns[i].name;
    return "?";
}

// Escapes backslashes so that an EQL wildcard pattern (where only * and ? are special) can be
// compiled with SK_VM_WILDCARDS (where a backslash escapes * ? and \).
static char *glob_of(const char *s, size_t n, size_t *out_n)
{
    char *o = sk_xmalloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            o[k++] = '\\';
        o[k++] = s[i];
    }
    o[k] = '\0';
    *out_n = k;
    return o;
}

// Lucene regular expression -> PCRE2, anchored at both ends. Lucene has no anchors, so ^ and $ are
// ordinary characters; "..." quotes a literal; \x is the character x except \d \D \s \S \w \W;
// '.' matches any character (DOTALL is set by the caller). The optional Lucene operators (~ & @ #
// < >) are taken as ordinary characters.
static char *regex_of(const char *s, size_t n, size_t *out_n)
{
    char *o = sk_xmalloc(4 * n + 16);
    size_t k = 0;
    memcpy(o, "\\A(?:", 5);
    k = 5;
    bool in_class = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' && i + 1 < n) {
            unsigned char d = (unsigned char)s[++i];
            if (strchr("dDsSwW", d) && d) {
                o[k++] = '\\';
                o[k++] = (char)d;
            } else if ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') ||
                       d >= 0x80) {
                o[k++] = (char)d; // a letter or digit stands for itself
            } else {
                o[k++] = '\\';
                o[k++] = (char)d;
            }
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
            if (c == '[' && i + 1 < n && s[i + 1] == ':') {
                o[k++] = '\\'; // no POSIX classes in Lucene
            }
            o[k++] = (char)c;
            continue;
        }
        if (c == '[') {
            in_class = true;
            o[k++] = '[';
            if (i + 1 < n && s[i + 1] == '^')
                o[k++] = s[++i];
            if (i + 1 < n && s[i + 1] == ']')
                o[k++] = '\\', o[k++] = s[++i]; // a leading ] is literal
            continue;
        }
        if (c == '"') {
            // A quoted literal up to the next unescaped quote.
            size_t j = i + 1;
            while (j < n && s[j] != '"') {
                unsigned char q = (unsigned char)s[j];
                if (q == '\\' && j + 1 < n)
                    q = (unsigned char)s[++j];
                if (!((q >= 'a' && q <= 'z') || (q >= 'A' && q <= 'Z') || (q >= '0' && q <= '9') ||
                      q >= 0x80))
                    o[k++] = '\\';
                o[k++] = (char)q;
                j++;
            }
            i = j; // at the closing quote (or the end)
            continue;
        }
        if (c == '^' || c == '$' || c == '#' || c == '@' || c == '&' || c == '~' || c == '<' ||
            c == '>') {
            o[k++] = '\\';
            o[k++] = (char)c;
            continue;
        }
        o[k++] = (char)c;
    }
    memcpy(o + k, ")\\z", 3);
    k += 3;
    o[k] = '\0';
    *out_n = k;
    return o;
}

// Compiles one literal pattern for a lookup/function; false (err filled) on a bad pattern.
static bool compile_pattern(cc *c, en_op op, bool ci, const enode *lit, sk_vm **out)
{
    const char *s = lit->s;
    size_t n = lit->len;
    char numbuf[64];
    if (lit->type == EN_NUM) {
        n = lit->is_int ? (size_t)snprintf(numbuf, sizeof numbuf, "%lld", (long long)lit->i)
                        : eql_num_text(lit->d, numbuf, sizeof numbuf);
        s = numbuf;
    } else if (lit->type == EN_BOOL) {
        s = lit->b ? "true" : "false";
        n = strlen(s);
    }
    char *pat = NULL;
    size_t pn = n;
    sk_vm_kind kind = SK_VM_EQUALS;
    unsigned flags = ci ? 0 : SK_VM_CASED;
    switch (op) {
    case OP_COLON:
    case OP_LIKE:
        pat = glob_of(s, n, &pn);
        flags |= SK_VM_WILDCARDS;
        break;
    case OP_REGEX:
        pat = regex_of(s, n, &pn);
        kind = SK_VM_REGEX;
        flags = SK_VM_RE_S | (ci ? SK_VM_RE_I : 0);
        break;
    default:
        break;
    }
    sk_buf eb;
    sk_buf_init(&eb, 1024);
    size_t eo = 0;
    sk_status st = SK_OK;
    if (op == OP_REGEX) {
        // The expression must stand on its own: "a)|(b" inside \A(?:...)\z would compile, with
        // \A(?:a) as one branch, and match any value that starts with "a".
        sk_vm *alone = NULL;
        st = sk_vm_compile(&alone, kind, pat + 5, pn - 8, flags, &eb, &eo);
        sk_vm_free(alone);
    }
    if (st == SK_OK)
        st = sk_vm_compile(out, kind, pat ? pat : s, pn, flags, &eb, &eo);
    free(pat);
    if (st != SK_OK) {
        cfail(c, "bad-regex", lit->off, "%s", sk_buf_str(&eb)); // "invalid regular expression: ..."
        sk_buf_fini(&eb);
        return false;
    }
    sk_buf_fini(&eb);
    keep_vm(c, *out);
    return true;
}

static bool is_literal(const enode *e)
{
    return e->type == EN_STR || e->type == EN_NUM || e->type == EN_BOOL;
}

static bool compile_node(cc *c, enode *e, unsigned depth);

static bool compile_kids(cc *c, enode *e, unsigned depth)
{
    for (uint32_t i = 0; i < e->nkids; i++)
        if (!compile_node(c, e->kids[i], depth + 1))
            return false;
    return true;
}

static bool compile_lookup(cc *c, enode *e, unsigned depth)
{
    if (!compile_node(c, e->kids[0], depth + 1))
        return false;
    uint32_t nitems = e->nkids - 1;
    e->vms = rs_alloc(c->rs, nitems * sizeof(sk_vm *));
    e->dyn = rs_alloc(c->rs, nitems * sizeof(enode *));
    for (uint32_t i = 1; i < e->nkids; i++) {
        enode *it = e->kids[i];
        bool lit = it->type == EN_STR || (e->op != OP_IN && is_literal(it));
        if (lit) {
            if (!compile_pattern(c, e->op, e->ci, it, &e->vms[e->nvms]))
                return false;
            e->nvms++;
            continue;
        }
        if (e->op != OP_IN) {
            static const char *const names[] = {
                [OP_COLON] = "':'", [OP_LIKE] = "'like'", [OP_REGEX] = "'regex'"
            };
            return cfail(c,
                         "eql-unsupported",
                         it->off,
                         "the values of %s must be strings, not expressions",
                         names[e->op]);
        }
        if (!compile_node(c, it, depth + 1))
            return false;
        e->dyn[e->ndyn++] = it;
    }
    return true;
}

static bool compile_func(cc *c, enode *e, unsigned depth)
{
    const fn_def *f = NULL;
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (strcasecmp(fns[i].name, e->s) == 0)
            f = &fns[i];
    if (!f)
        return cfail(c, "eql-unsupported", e->off, "unknown function '%.60s'", e->s);
    if (e->ci && !f->ci_ok)
        return cfail(
                c, "eql-syntax", e->off, "function '%s' has no case-insensitive variant", f->name);
    if (e->nkids < f->min || (f->max != 255 && e->nkids > f->max)) {
        if (f->min == f->max)
            return cfail(c,
                         "eql-syntax",
                         e->off,
                         "%s() takes %u argument%s, not %u",
                         f->name,
                         f->min,
                         f->min == 1 ? "" : "s",
                         e->nkids);
        if (f->max == 255)
            return cfail(c,
                         "eql-syntax",
                         e->off,
                         "%s() takes at least %u argument%s, not %u",
                         f->name,
                         f->min,
                         f->min == 1 ? "" : "s",
                         e->nkids);
        return cfail(c,
                     "eql-syntax",
                     e->off,
                     "%s() takes %u to %u arguments, not %u",
                     f->name,
                     f->min,
                     (unsigned)f->max,
                     e->nkids);
    }
    e->fn = f->fn;
    if (!compile_kids(c, e, depth))
        return false;
    if (f->fn == FN_WILDCARD || f->fn == FN_CIDRMATCH) {
        // Patterns must be literal strings (as in Elasticsearch).
        e->vms = rs_alloc(c->rs, e->nkids * sizeof(sk_vm *));
        for (uint32_t i = 1; i < e->nkids; i++) {
            const enode *a = e->kids[i];
            if (a->type == EN_NULL)
                continue;
            if (a->type != EN_STR)
                return cfail(c,
                             "eql-unsupported",
                             a->off,
                             "the patterns of %s() must be literal strings",
                             f->name);
            if (f->fn == FN_WILDCARD) {
                if (!compile_pattern(c, OP_LIKE, e->ci, a, &e->vms[e->nvms]))
                    return false;
            } else {
                sk_buf eb;
                sk_buf_init(&eb, 1024);
                sk_status st =
                        sk_vm_compile(&e->vms[e->nvms], SK_VM_CIDR, a->s, a->len, 0, &eb, NULL);
                if (st != SK_OK) {
                    char shown[4 * 80 + 1]; // its first 80 bytes, control characters as \xNN
                    size_t k = 0;
                    for (size_t j = 0; j < a->len && j < 80; j++) {
                        unsigned char ch = (unsigned char)a->s[j];
                        if (ch < 0x20 || ch == 0x7F)
                            k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02X", ch);
                        else
                            shown[k++] = (char)ch;
                    }
                    shown[k] = '\0';
                    cfail(c,
                          "bad-value",
                          a->off,
                          "invalid CIDR block '%s': %s",
                          shown,
                          sk_buf_str(&eb));
                    sk_buf_fini(&eb);
                    return false;
                }
                sk_buf_fini(&eb);
                keep_vm(c, e->vms[e->nvms]);
            }
            e->nvms++;
        }
    }
    return true;
}

static bool compile_node(cc *c, enode *e, unsigned depth)
{
    switch (e->type) {
    case EN_NULL:
    case EN_BOOL:
    case EN_NUM:
    case EN_STR:
        return true;
    case EN_FIELD:
        e->slot = eql_slot_of(c->rs, e->s, e->len);
        return true;
    case EN_AND:
    case EN_OR:
    case EN_NOT:
    case EN_ARITH:
    case EN_NEG:
        return compile_kids(c, e, depth);
    case EN_CMP:
        // field ==/!= "literal": an exact-equality lookup (compiled once).
        if ((e->op == OP_EQ || e->op == OP_NE) && e->kids[1]->type == EN_STR &&
            e->kids[0]->type != EN_STR) {
            e->type = EN_LOOKUP;
            e->neg = e->op == OP_NE;
            e->op = OP_IN;
            e->ci = false;
            return compile_lookup(c, e, depth);
        }
        return compile_kids(c, e, depth);
    case EN_LOOKUP:
        return compile_lookup(c, e, depth);
    case EN_FUNC:
        return compile_func(c, e, depth);
    }
    return true;
}

bool eql_compile(
        sk_ruleset *rs, eql_query *q, enode *root, sk_vm ***vms, size_t *nvms, eql_err *err)
{
    cc c = { .rs = rs, .vms = vms, .nvms = nvms, .capvms = *nvms, .err = err };
    memset(err, 0, sizeof(*err));
    q->root = root;
    q->rs = rs;
    if (!rs->eql) // matchers make EQL scratch space only when the table exists
        rs->eql = sk_xcalloc(1, sizeof(eql_tab));
    if (q->category) {
        q->cat_slot = eql_slot_of(rs, "event.category", 14);
        if (strcmp(q->category, "dns") == 0)
            q->dq_slot = eql_slot_of(rs, "dns.question.name", 17);
    }
    return compile_node(&c, root, 0);
}

// ---------------------------------------------------------------------------------------------
// Explain

static void add(sk_buf *b, const char *fmt, ...) SK_PRINTF(2, 3);
static void add(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sk_status st = sk_buf_vaddf(b, fmt, ap);
    (void)st; // a full buffer just truncates the explanation
    va_end(ap);
}

static void put_str(sk_buf *b, const char *s, size_t n)
{
    add(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            add(b, "\\%c", ch);
        else if (ch == '\n')
            add(b, "\\n");
        else if (ch == '\r')
            add(b, "\\r");
        else if (ch == '\t')
            add(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            add(b, "\\u{%02x}", ch);
        else
            add(b, "%c", ch);
    }
    add(b, "\"");
}

static const char *op_text(const enode *e)
{
    switch (e->op) {
    case OP_EQ:
        return "==";
    case OP_NE:
        return "!=";
    case OP_LT:
        return "<";
    case OP_LE:
        return "<=";
    case OP_GT:
        return ">";
    case OP_GE:
        return ">=";
    case OP_COLON:
        return ":";
    case OP_LIKE:
        return e->ci ? "like~" : "like";
    case OP_REGEX:
        return e->ci ? "regex~" : "regex";
    case OP_IN:
        return e->neg ? (e->ci ? "not in~" : "not in") : (e->ci ? "in~" : "in");
    case OP_ADD:
        return "+";
    case OP_SUB:
        return "-";
    case OP_MUL:
        return "*";
    case OP_DIV:
        return "/";
    case OP_MOD:
        return "%";
    }
    return "?";
}

static void render(const enode *e, sk_buf *b, unsigned depth)
{
    if (depth > 200) {
        add(b, "...");
        return;
    }
    switch (e->type) {
    case EN_NULL:
        add(b, "null");
        return;
    case EN_BOOL:
        add(b, "%s", e->b ? "true" : "false");
        return;
    case EN_NUM:
        if (e->is_int)
            add(b, "%lld", (long long)e->i);
        else
            add(b, "%g", e->d);
        return;
    case EN_STR:
        put_str(b, e->s, e->len);
        return;
    case EN_FIELD:
        add(b, "%s%s", e->optional ? "?" : "", e->s);
        return;
    case EN_AND:
    case EN_OR:
        add(b, "(");
        for (uint32_t i = 0; i < e->nkids; i++) {
            if (i)
                add(b, e->type == EN_AND ? " and " : " or ");
            render(e->kids[i], b, depth + 1);
        }
        add(b, ")");
        return;
    case EN_NOT:
        add(b, "not ");
        render(e->kids[0], b, depth + 1);
        return;
    case EN_NEG:
        add(b, "-");
        render(e->kids[0], b, depth + 1);
        return;
    case EN_CMP:
    case EN_ARITH:
        if (e->type == EN_ARITH)
            add(b, "(");
        render(e->kids[0], b, depth + 1);
        add(b, " %s ", op_text(e));
        render(e->kids[1], b, depth + 1);
        if (e->type == EN_ARITH)
            add(b, ")");
        return;
    case EN_LOOKUP:
        render(e->kids[0], b, depth + 1);
        if (e->op == OP_IN && !e->ci && e->nkids == 2 && e->kids[1]->type == EN_STR) {
            // (field == "x" is compiled as a one-value lookup; in~ ("x") stays what it is)
            add(b, " %s ", e->neg ? "!=" : "==");
            render(e->kids[1], b, depth + 1);
            return;
        }
        add(b, " %s (", op_text(e));
        for (uint32_t i = 1; i < e->nkids; i++) {
            if (i > 1)
                add(b, ", ");
            render(e->kids[i], b, depth + 1);
        }
        add(b, ")");
        return;
    case EN_FUNC:
        add(b, "%s%s(", e->fn ? fn_name(e->fn) : e->s, e->ci ? "~" : "");
        for (uint32_t i = 0; i < e->nkids; i++) {
            if (i)
                add(b, ", ");
            render(e->kids[i], b, depth + 1);
        }
        add(b, ")");
        return;
    }
}

// The compiled predicates of every lookup, in tree order.
static void explain_preds(const enode *e, sk_buf *b, unsigned depth)
{
    if (depth > 200)
        return;
    if (e->nvms) {
        add(b, "    ");
        if (e->type == EN_LOOKUP) {
            render(e->kids[0], b, depth);
            add(b,
                " [%s] any of %u:\n",
                e->op == OP_IN && !e->ci && e->nkids == 2 && e->kids[1]->type == EN_STR
                        ? (e->neg ? "!=" : "==")
                        : op_text(e),
                (unsigned)(e->nvms + e->ndyn));
        } else {
            add(b, "%s%s(...) any of %u:\n", fn_name(e->fn), e->ci ? "~" : "", (unsigned)e->nvms);
        }
        for (uint32_t i = 0; i < e->nvms && i < 64; i++) {
            add(b, "      - ");
            sk_vm_describe(e->vms[i], b);
            add(b, "\n");
        }
        if (e->nvms > 64)
            add(b, "      ... (%u more)\n", (unsigned)(e->nvms - 64));
        for (uint32_t i = 0; i < e->ndyn; i++) {
            add(b, "      - equals value of ");
            render(e->dyn[i], b, depth);
            add(b, "\n");
        }
    }
    for (uint32_t i = 0; i < e->nkids; i++)
        explain_preds(e->kids[i], b, depth + 1);
}

static void collect_slots(const enode *e, bool *seen, size_t nslots, unsigned depth)
{
    if (depth > 200)
        return;
    if (e->type == EN_FIELD && e->slot < nslots)
        seen[e->slot] = true;
    for (uint32_t i = 0; i < e->nkids; i++)
        collect_slots(e->kids[i], seen, nslots, depth + 1);
}

void eql_explain(const sk_ruleset *rs0, const sk_rule *r, sk_buf *out)
{
    const eql_query *q = r->eql;
    const sk_ruleset *rs = rs0 ? rs0 : q->rs;
    add(out, "rule \"%s\"", r->title ? r->title : "");
    if (r->id)
        add(out, " id %s", r->id);
    add(out, "\n  file: %s:%lu\n", r->path ? r->path : "", r->line);
    add(out, "  language: eql\n");
    add(out, "  level: %s  status: %s\n", sk_level_str(r->level), r->status ? r->status : "-");
    if (q->category)
        add(out,
            "  category: %s (event.category contains '%s'%s)\n",
            q->category,
            q->category,
            strcmp(q->category, "dns") == 0 ? ", or dns.question.name is present" : "");
    else
        add(out, "  category: any (every event)\n");
    add(out, "  condition: ");
    render(q->root, out, 0);
    add(out, "\n");
    add(out, "  predicates:\n");
    size_t before = out->n;
    explain_preds(q->root, out, 0);
    if (out->n == before)
        add(out, "    (none compiled: functions and comparisons only)\n");
    const eql_tab *t = rs ? rs->eql : NULL;
    if (!t)
        return;
    bool *seen = sk_xcalloc(t->nslots + 1, sizeof(bool));
    collect_slots(q->root, seen, t->nslots, 0);
    if (q->category)
        seen[q->cat_slot] = true;
    add(out,
        "  fields (ECS view: an event field of that name, else the first rule that applies):\n");
    for (size_t i = 0; i < t->nslots; i++) {
        if (!seen[i])
            continue;
        const eql_slot *s = &t->slots[i];
        add(out, "    %s:", s->name);
        if (!s->nrules)
            add(out, " event field only");
        for (uint32_t k = 0; k < s->nrules; k++) {
            char d[200];
            sk_ecs_rule_describe(&s->rules[k], d, sizeof d);
            add(out, "%s %s", k ? ";" : "", d);
        }
        add(out, "\n");
    }
    free(seen);
}
