// Sigma condition parser: a recursive-descent parser over a tiny token stream.
//
//   expr    := and_expr ( "or" and_expr )*
//   and_expr:= unary ( "and" unary )*
//   unary   := "not" unary | primary
//   primary := "(" expr ")" | quant "of" target | NAME
//   quant   := NUMBER | "all" | "any"
//   target  := "them" | NAME-or-pattern ('*' matches any run of characters)
//
// Precedence is not > and > or, as in the Sigma specification. Keywords are matched
// case-insensitively. "them" stands for every selection whose name does not start with '_', and a
// pattern for those of them it matches (pySigma leaves '_' names out of both).
// Errors carry the byte offset of the offending token so the loader can point a caret at it.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "rules_int.h"

// Nesting cap for parentheses / not chains (keeps recursion bounded for hostile input).
#define COND_MAX_DEPTH 64

typedef enum tok_type {
    T_END,
    T_LP,
    T_RP,
    T_WORD,
    T_PIPE,
} tok_type;

typedef struct tok {
    tok_type type;
    const char *p;
    size_t n;
    size_t off;
} tok;

typedef struct parser {
    sk_arena *a;
    const char *s;
    size_t len;
    size_t pos;
    tok cur;
    const char *const *names;
    size_t nnames;
    cond_err *err;
    bool failed;
    unsigned depth;
} parser;

static void next_tok(parser *p)
{
    while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
    tok t = { T_END, p->s + p->pos, 0, p->pos };
    if (p->pos >= p->len) {
        p->cur = t;
        return;
    }
    char c = p->s[p->pos];
    if (c == '(' || c == ')' || c == '|') {
        t.type = c == '(' ? T_LP : c == ')' ? T_RP : T_PIPE;
        t.n = 1;
        p->pos++;
        p->cur = t;
        return;
    }
    size_t start = p->pos;
    while (p->pos < p->len) {
        c = p->s[p->pos];
        if (isspace((unsigned char)c) || c == '(' || c == ')' || c == '|')
            break;
        p->pos++;
    }
    t.type = T_WORD;
    t.n = p->pos - start;
    p->cur = t;
}

static bool is_kw(const tok *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->type == T_WORD && t->n == n && strncasecmp(t->p, kw, n) == 0;
}

static bool is_reserved(const tok *t)
{
    return is_kw(t, "and") || is_kw(t, "or") || is_kw(t, "not") || is_kw(t, "of") ||
           is_kw(t, "them");
}

static void fail(parser *p, const char *code, size_t off, const char *fmt, const tok *t)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err->code = code;
    p->err->off = off;
    if (t) {
        int n = t->n > 100 ? 100 : (int)t->n;
        snprintf(p->err->msg, sizeof p->err->msg, fmt, n, t->p);
    } else {
        snprintf(p->err->msg, sizeof p->err->msg, "%s", fmt);
    }
}

static void fail_tok(parser *p, const char *what)
{
    char fmt[200];
    if (p->cur.type == T_END) {
        snprintf(fmt, sizeof fmt, "%s, found end of condition", what);
        fail(p, "bad-condition", p->cur.off, fmt, NULL);
        return;
    }
    snprintf(fmt, sizeof fmt, "%s, found '%%.*s'", what);
    fail(p, "bad-condition", p->cur.off, fmt, &p->cur);
}

static cnode *new_node(parser *p, cnode_type t)
{
    cnode *n = sk_arena_alloc(p->a, sizeof(cnode));
    memset(n, 0, sizeof(*n));
    n->type = t;
    return n;
}

// '*' matches any run (including empty), '?' any one character; everything else literally.
static bool glob_match(const char *pat, size_t pn, const char *s)
{
    size_t sn = strlen(s);
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
    while (si < sn) {
        if (pi < pn && (pat[pi] == '?' || pat[pi] == s[si])) {
            pi++;
            si++;
        } else if (pi < pn && pat[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && pat[pi] == '*')
        pi++;
    return pi == pn;
}

static cnode *parse_expr(parser *p);

static cnode *parse_of(parser *p, uint32_t count)
{
    next_tok(p); // the quantifier
    if (!is_kw(&p->cur, "of")) {
        fail_tok(p, "expected 'of'");
        return NULL;
    }
    next_tok(p);
    if (p->cur.type != T_WORD || (is_reserved(&p->cur) && !is_kw(&p->cur, "them"))) {
        fail_tok(p, "expected a selection name, a pattern or 'them' after 'of'");
        return NULL;
    }
    tok target = p->cur;
    cnode *n = new_node(p, CN_OF);
    n->count = count;
    n->text = sk_arena_strndup(p->a, target.p, target.n);
    n->sels = sk_arena_alloc(p->a, (p->nnames ? p->nnames : 1) * sizeof(uint32_t));
    bool them = is_kw(&target, "them"), private_only = false;
    for (size_t i = 0; i < p->nnames; i++) {
        bool hit = them || glob_match(target.p, target.n, p->names[i]);
        if (hit && p->names[i][0] == '_')
            private_only = true;
        else if (hit)
            n->sels[n->nsels++] = (uint32_t)i;
    }
    if (n->nsels == 0) {
        if (them)
            fail(p, "missing-selection", target.off, "'them' refers to no selection", NULL);
        else if (private_only)
            fail(p,
                 "missing-selection",
                 target.off,
                 "'%.*s' matches only selections whose names start with '_', which patterns "
                 "leave out",
                 &target);
        else
            fail(p,
                 "missing-selection",
                 target.off,
                 "no selection matches '%.*s' in the condition",
                 &target);
        return NULL;
    }
    next_tok(p);
    return n;
}

static cnode *parse_primary(parser *p)
{
    if (p->cur.type == T_LP) {
        size_t open = p->cur.off;
        if (++p->depth > COND_MAX_DEPTH) {
            fail(p, "bad-condition", open, "condition nested too deeply", NULL);
            return NULL;
        }
        next_tok(p);
        cnode *e = parse_expr(p);
        if (!e)
            return NULL;
        if (p->cur.type != T_RP) {
            fail_tok(p, "expected ')'");
            return NULL;
        }
        p->depth--;
        next_tok(p);
        return e;
    }
    if (p->cur.type == T_PIPE) {
        fail(p,
             "aggregation",
             p->cur.off,
             "aggregation expressions ('| count() ...') are not supported; use a correlation rule",
             NULL);
        return NULL;
    }
    if (p->cur.type != T_WORD || is_reserved(&p->cur)) {
        fail_tok(p, "expected a selection name, 'not', '(' or 'N of'");
        return NULL;
    }
    // Quantifier?
    tok t = p->cur;
    bool numeric = t.n > 0;
    for (size_t i = 0; i < t.n; i++)
        if (!isdigit((unsigned char)t.p[i]))
            numeric = false;
    if (is_kw(&t, "all") || is_kw(&t, "any") || numeric) {
        // Peek: only a quantifier when followed by "of"; otherwise it is a selection name.
        size_t save = p->pos;
        tok save_tok = p->cur;
        next_tok(p);
        bool of = is_kw(&p->cur, "of");
        p->pos = save;
        p->cur = save_tok;
        if (of) {
            uint32_t count = 1;
            if (is_kw(&t, "all"))
                count = 0;
            else if (numeric) {
                unsigned long v = t.n > 9 ? 1000000000ul : strtoul(t.p, NULL, 10);
                if (v == 0) {
                    fail(p,
                         "bad-condition",
                         t.off,
                         "'0 of' can never be false; use a number >= 1",
                         NULL);
                    return NULL;
                }
                count = (uint32_t)v;
            }
            return parse_of(p, count);
        }
    }
    for (size_t i = 0; i < p->nnames; i++) {
        if (strlen(p->names[i]) == t.n && memcmp(p->names[i], t.p, t.n) == 0) {
            cnode *n = new_node(p, CN_SEL);
            n->sel = (uint32_t)i;
            next_tok(p);
            return n;
        }
    }
    if (memchr(t.p, '*', t.n))
        fail(p,
             "bad-condition",
             t.off,
             "pattern '%.*s' needs a quantifier ('1 of' or 'all of')",
             &t);
    else
        fail(p, "missing-selection", t.off, "condition refers to undefined selection '%.*s'", &t);
    return NULL;
}

static cnode *parse_unary(parser *p)
{
    if (is_kw(&p->cur, "not")) {
        if (++p->depth > COND_MAX_DEPTH) {
            fail(p, "bad-condition", p->cur.off, "condition nested too deeply", NULL);
            return NULL;
        }
        next_tok(p);
        cnode *k = parse_unary(p);
        p->depth--;
        if (!k)
            return NULL;
        cnode *n = new_node(p, CN_NOT);
        n->kids = sk_arena_alloc(p->a, sizeof(cnode *));
        n->kids[0] = k;
        n->nkids = 1;
        return n;
    }
    return parse_primary(p);
}

// Collects operands of a left-associative chain into one n-ary node.
static cnode *chain(parser *p, cnode_type type, const char *kw, cnode *(*sub)(parser *))
{
    cnode *first = sub(p);
    if (!first)
        return NULL;
    if (!is_kw(&p->cur, kw))
        return first;
    cnode *tmp[256];
    size_t n = 0;
    tmp[n++] = first;
    cnode **heap = NULL;
    size_t cap = 0;
    while (is_kw(&p->cur, kw)) {
        next_tok(p);
        cnode *k = sub(p);
        if (!k) {
            free(heap);
            return NULL;
        }
        if (n < 256 && !heap) {
            tmp[n++] = k;
        } else {
            if (!heap) {
                cap = 512;
                heap = malloc(cap * sizeof(cnode *));
                if (!heap)
                    abort();
                memcpy(heap, tmp, n * sizeof(cnode *));
            } else if (n == cap) {
                cap *= 2;
                cnode **nh = realloc(heap, cap * sizeof(cnode *));
                if (!nh)
                    abort();
                heap = nh;
            }
            heap[n++] = k;
        }
    }
    cnode *node = new_node(p, type);
    node->kids = sk_arena_alloc(p->a, n * sizeof(cnode *));
    memcpy(node->kids, heap ? heap : tmp, n * sizeof(cnode *));
    node->nkids = (uint32_t)n;
    free(heap);
    return node;
}

static cnode *parse_and(parser *p)
{
    return chain(p, CN_AND, "and", parse_unary);
}

static cnode *parse_expr(parser *p)
{
    return chain(p, CN_OR, "or", parse_and);
}

cnode *cond_parse(sk_arena *a,
                  const char *text,
                  size_t len,
                  const char *const *names,
                  size_t nnames,
                  cond_err *err)
{
    parser p;
    memset(&p, 0, sizeof(p));
    p.a = a;
    p.s = text;
    p.len = len;
    p.names = names;
    p.nnames = nnames;
    p.err = err;
    memset(err, 0, sizeof(*err));
    next_tok(&p);
    if (p.cur.type == T_END) {
        fail(&p, "bad-condition", 0, "empty condition", NULL);
        return NULL;
    }
    cnode *root = parse_expr(&p);
    if (!root)
        return NULL;
    if (p.cur.type == T_PIPE) {
        fail(&p,
             "aggregation",
             p.cur.off,
             "aggregation expressions ('| count() ...') are not supported; use a correlation rule",
             NULL);
        return NULL;
    }
    if (p.cur.type != T_END) {
        fail_tok(&p, "expected 'and', 'or' or end of condition");
        return NULL;
    }
    return root;
}

static void render(const cnode *c, const char *const *names, sk_buf *out, int parent_prec)
{
    sk_status st = SK_OK;
    switch (c->type) {
    case CN_SEL:
        st = sk_buf_adds(out, names[c->sel]);
        break;
    case CN_NOT:
        st = sk_buf_adds(out, "not ");
        render(c->kids[0], names, out, 3);
        break;
    case CN_AND:
    case CN_OR: {
        // Nested and/or groups are always parenthesised: the rendering shows the tree, not just
        // an expression that parses back to it.
        int prec = c->type == CN_AND ? 2 : 1;
        if (parent_prec > 0)
            st = sk_buf_addc(out, '(');
        for (uint32_t i = 0; i < c->nkids && st == SK_OK; i++) {
            if (i)
                st = sk_buf_adds(out, c->type == CN_AND ? " and " : " or ");
            render(c->kids[i], names, out, prec);
        }
        if (parent_prec > 0 && st == SK_OK)
            st = sk_buf_addc(out, ')');
        break;
    }
    case CN_OF:
        if (c->count == 0)
            st = sk_buf_addf(out, "all of %s", c->text);
        else
            st = sk_buf_addf(out, "%u of %s", (unsigned)c->count, c->text);
        if (st == SK_OK) {
            st = sk_buf_adds(out, " {");
            for (uint32_t i = 0; i < c->nsels && st == SK_OK; i++)
                st = sk_buf_addf(out, "%s%s", i ? ", " : "", names[c->sels[i]]);
            if (st == SK_OK)
                st = sk_buf_addc(out, '}');
        }
        break;
    }
    (void)st;
}

void cond_render(const cnode *c, const char *const *names, sk_buf *out)
{
    render(c, names, out, 0);
}
