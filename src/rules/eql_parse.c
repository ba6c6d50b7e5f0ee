// EQL parser: query text -> expression tree (eql_int.h). A hand-written lexer and a
// recursive-descent parser over the Elasticsearch EQL grammar for single-event queries:
//
//   query   := category 'where' expr
//   expr    := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | cmp
//   cmp     := sum [ ('=='|'!='|'<'|'<='|'>'|'>=') sum
//               | (':' | 'like' ['~'] | 'regex' ['~']) (sum | '(' list ')')
//               | ['not'] 'in' ['~'] '(' list ')' ]
//   sum     := prod (('+'|'-') prod)*
//   prod    := unary (('*'|'/'|'%') unary)*
//   unary   := ('-'|'+') unary | primary
//   primary := '(' expr ')' | string | number | 'true' | 'false' | 'null'
//              (numbers: 4, 4., 4.5, .5, 4e3, 4.e3, .5e3)
//            | name ['~'] '(' [expr (',' expr)*] ')' | ['?'] field | '`' field '`'
//
// Strings are "..." with \n \r \t \\ \" \' \b \f and \u{hex} escapes, or raw """...""";
// comments are // and /* */. Sequences, samples, joins and pipes are recognised and refused with
// their own codes so that the loader can report them. Nesting is capped at SK_MAX_DEPTH.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/limits.h"
#include "eql_int.h"

typedef enum tok_type {
    T_EOF,
    T_IDENT,  // a name, possibly dotted (field path) -- also keywords
    T_BQ,     // `quoted field`
    T_STRING, // decoded
    T_NUMBER,
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_COMMA,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_COLON,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_TILDE,
    T_QMARK,
    T_PIPE,
    T_ASSIGN, // '=' (refused with a hint)
} tok_type;

typedef struct tok {
    tok_type type;
    size_t off;
    const char *s; // IDENT / BQ / STRING text (arena, NUL-terminated), NUMBER source text
    size_t len;
    bool is_int;
    int64_t i;
    double d;
    bool dotted; // IDENT contains '.'
} tok;

typedef struct ps {
    sk_arena *a;
    const char *src;
    size_t n;
    size_t pos;
    tok t;     // current token
    tok ahead; // one token of look-ahead
    bool has_ahead;
    eql_err *err;
    bool failed;
    unsigned depth;
} ps;

static bool fail(ps *p, const char *code, size_t off, const char *fmt, ...) SK_PRINTF(4, 5);
static bool fail(ps *p, const char *code, size_t off, const char *fmt, ...)
{
    if (p->failed)
        return false;
    p->failed = true;
    p->err->code = code;
    p->err->off = off;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return false;
}

#define SYNTAX(p, off, ...) fail((p), "eql-syntax", (off), __VA_ARGS__)

static char *adup(sk_arena *a, const char *s, size_t n)
{
    return sk_arena_strndup(a, s, n);
}

// ---------------------------------------------------------------------------------------------
// Lexer

static bool is_id0(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '@';
}

static bool is_id(int c)
{
    return is_id0(c) || (c >= '0' && c <= '9');
}

static int ch(const ps *p, size_t k)
{
    return p->pos + k < p->n ? (unsigned char)p->src[p->pos + k] : -1;
}

static bool skip_space(ps *p)
{
    for (;;) {
        int c = ch(p, 0);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            p->pos++;
        } else if (c == '/' && ch(p, 1) == '/') {
            while (p->pos < p->n && p->src[p->pos] != '\n')
                p->pos++;
        } else if (c == '/' && ch(p, 1) == '*') {
            // Block comments nest, as in the grammar (BRACKETED_COMMENT inside itself).
            size_t start = p->pos, depth = 1;
            p->pos += 2;
            while (depth) {
                if (p->pos + 1 >= p->n) {
                    p->pos = p->n;
                    return SYNTAX(p, start, "unterminated comment");
                }
                if (p->src[p->pos] == '*' && p->src[p->pos + 1] == '/') {
                    depth--;
                    p->pos += 2;
                } else if (p->src[p->pos] == '/' && p->src[p->pos + 1] == '*') {
                    depth++;
                    p->pos += 2;
                } else {
                    p->pos++;
                }
            }
        } else {
            return true;
        }
    }
}

static void put_utf8(char *o, size_t *k, uint32_t cp)
{
    if (cp < 0x80) {
        o[(*k)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*k)++] = (char)(0xC0 | (cp >> 6));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[(*k)++] = (char)(0xE0 | (cp >> 12));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[(*k)++] = (char)(0xF0 | (cp >> 18));
        o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[(*k)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static bool lex_string(ps *p, tok *t)
{
    size_t start = p->pos;
    if (ch(p, 1) == '"' && ch(p, 2) == '"') {
        // Raw string: everything up to the next """.
        size_t b = p->pos + 3;
        for (size_t i = b; i + 3 <= p->n; i++) {
            if (memcmp(p->src + i, "\"\"\"", 3) == 0) {
                // Quotes right before the closing delimiter belong to the string ("""a"""").
                size_t e = i;
                while (e + 3 < p->n && p->src[e + 3] == '"')
                    e++;
                t->type = T_STRING;
                t->s = adup(p->a, p->src + b, e - b);
                t->len = e - b;
                p->pos = e + 3;
                return true;
            }
        }
        p->pos = p->n;
        return SYNTAX(p, start, "unterminated raw string");
    }
    p->pos++;
    char *o = sk_arena_alloc(p->a, p->n - p->pos + 1);
    size_t k = 0;
    for (;;) {
        int c = ch(p, 0);
        if (c < 0 || c == '\n' || c == '\r')
            return SYNTAX(p, start, "unterminated string");
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c != '\\') {
            o[k++] = (char)c;
            p->pos++;
            continue;
        }
        int e = ch(p, 1);
        size_t eoff = p->pos;
        p->pos += 2;
        switch (e) {
        case 'n':
            o[k++] = '\n';
            break;
        case 'r':
            o[k++] = '\r';
            break;
        case 't':
            o[k++] = '\t';
            break;
        case 'b':
            o[k++] = '\b';
            break;
        case 'f':
            o[k++] = '\f';
            break;
        case '\\':
        case '"':
        case '\'':
            o[k++] = (char)e;
            break;
        case 'u': {
            if (ch(p, 0) != '{')
                return SYNTAX(p, eoff, "invalid unicode escape (expected \\u{hex})");
            p->pos++;
            uint32_t cp = 0;
            int nd = 0;
            for (;;) {
                int h = ch(p, 0);
                int v = h >= '0' && h <= '9'   ? h - '0'
                        : h >= 'a' && h <= 'f' ? h - 'a' + 10
                        : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                               : -1;
                if (v < 0)
                    break;
                cp = cp * 16 + (uint32_t)v;
                nd++;
                p->pos++;
                if (nd > 8)
                    break;
            }
            if (ch(p, 0) != '}' || nd < 2 || nd > 8 || cp > 0x10FFFF ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                return SYNTAX(p, eoff, "invalid unicode escape (\\u{XX} with 2 to 8 hex digits)");
            p->pos++;
            put_utf8(o, &k, cp);
            break;
        }
        default:
            if (e < 0)
                return SYNTAX(p, start, "unterminated string");
            if (e < 0x20 || e >= 0x7f)
                return SYNTAX(p, eoff, "invalid escape sequence in a string");
            return SYNTAX(p, eoff, "invalid escape sequence '\\%c' in a string", e);
        }
    }
    o[k] = '\0';
    t->type = T_STRING;
    t->s = o;
    t->len = k;
    return true;
}

static bool lex_number(ps *p, tok *t)
{
    size_t s = p->pos;
    bool is_int = true;
    while (ch(p, 0) >= '0' && ch(p, 0) <= '9')
        p->pos++;
    // DIGIT+ '.' DIGIT* or '.' DIGIT+ (the caller saw a digit after a leading '.')
    if (ch(p, 0) == '.') {
        is_int = false;
        p->pos++;
        while (ch(p, 0) >= '0' && ch(p, 0) <= '9')
            p->pos++;
    }
    if ((ch(p, 0) == 'e' || ch(p, 0) == 'E') &&
        ((ch(p, 1) >= '0' && ch(p, 1) <= '9') ||
         ((ch(p, 1) == '+' || ch(p, 1) == '-') && ch(p, 2) >= '0' && ch(p, 2) <= '9'))) {
        is_int = false;
        p->pos += 2;
        while (ch(p, 0) >= '0' && ch(p, 0) <= '9')
            p->pos++;
    }
    if (is_id(ch(p, 0)))
        return SYNTAX(p, s, "invalid number");
    char buf[64];
    size_t n = p->pos - s;
    if (n >= sizeof buf)
        return SYNTAX(p, s, "number too long");
    memcpy(buf, p->src + s, n);
    buf[n] = '\0';
    t->type = T_NUMBER;
    t->is_int = is_int;
    t->d = strtod(buf, NULL);
    if (is_int) {
        char *end;
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (errno)
            return SYNTAX(p, s, "integer out of range");
        t->i = v;
    }
    t->s = p->src + s;
    t->len = n;
    return true;
}

static bool lex(ps *p, tok *t)
{
    memset(t, 0, sizeof(*t));
    if (!skip_space(p))
        return false;
    t->off = p->pos;
    int c = ch(p, 0);
    if (c < 0) {
        t->type = T_EOF;
        return true;
    }
    if (is_id0(c)) {
        size_t s = p->pos;
        bool dotted = false;
        while (is_id(ch(p, 0)) || (ch(p, 0) == '.' && is_id(ch(p, 1)))) {
            dotted |= ch(p, 0) == '.';
            p->pos++;
        }
        t->type = T_IDENT;
        t->s = adup(p->a, p->src + s, p->pos - s);
        t->len = p->pos - s;
        t->dotted = dotted;
        return true;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && ch(p, 1) >= '0' && ch(p, 1) <= '9'))
        return lex_number(p, t);
    if (c == '"')
        return lex_string(p, t);
    if (c == '\'')
        return SYNTAX(p, p->pos, "single-quoted strings are not supported; use double quotes");
    if (c == '`') {
        size_t s = p->pos++;
        char *o = sk_arena_alloc(p->a, p->n - p->pos + 1);
        size_t k = 0;
        for (;;) {
            int d = ch(p, 0);
            if (d < 0 || d == '\n')
                return SYNTAX(p, s, "unterminated `quoted` field name");
            p->pos++;
            if (d == '`') {
                if (ch(p, 0) == '`') {
                    o[k++] = '`';
                    p->pos++;
                    continue;
                }
                break;
            }
            o[k++] = (char)d;
        }
        if (k == 0)
            return SYNTAX(p, s, "empty field name");
        o[k] = '\0';
        t->type = T_BQ;
        t->s = o;
        t->len = k;
        return true;
    }
    p->pos++;
    switch (c) {
    case '(':
        t->type = T_LPAREN;
        return true;
    case ')':
        t->type = T_RPAREN;
        return true;
    case '[':
        t->type = T_LBRACK;
        return true;
    case ']':
        t->type = T_RBRACK;
        return true;
    case ',':
        t->type = T_COMMA;
        return true;
    case ':':
        t->type = T_COLON;
        return true;
    case '+':
        t->type = T_PLUS;
        return true;
    case '-':
        t->type = T_MINUS;
        return true;
    case '*':
        t->type = T_STAR;
        return true;
    case '/':
        t->type = T_SLASH;
        return true;
    case '%':
        t->type = T_PERCENT;
        return true;
    case '~':
        t->type = T_TILDE;
        return true;
    case '?':
        t->type = T_QMARK;
        return true;
    case '|':
        t->type = T_PIPE;
        return true;
    case '=':
        if (ch(p, 0) == '=') {
            p->pos++;
            t->type = T_EQ;
        } else {
            t->type = T_ASSIGN;
        }
        return true;
    case '!':
        if (ch(p, 0) == '=') {
            p->pos++;
            t->type = T_NE;
            return true;
        }
        return SYNTAX(p, t->off, "unexpected '!' (use 'not' or '!=')");
    case '<':
        if (ch(p, 0) == '=') {
            p->pos++;
            t->type = T_LE;
        } else {
            t->type = T_LT;
        }
        return true;
    case '>':
        if (ch(p, 0) == '=') {
            p->pos++;
            t->type = T_GE;
        } else {
            t->type = T_GT;
        }
        return true;
    default:
        if (c < 0x20 || c >= 0x7f)
            return SYNTAX(p, t->off, "unexpected character");
        return SYNTAX(p, t->off, "unexpected character '%c'", c);
    }
}

static bool next(ps *p)
{
    if (p->has_ahead) {
        p->t = p->ahead;
        p->has_ahead = false;
        return true;
    }
    return lex(p, &p->t);
}

static const tok *peek_ahead(ps *p)
{
    if (!p->has_ahead) {
        if (!lex(p, &p->ahead))
            return NULL;
        p->has_ahead = true;
    }
    return &p->ahead;
}

static bool is_kw(const tok *t, const char *kw)
{
    return t->type == T_IDENT && !t->dotted && strcasecmp(t->s, kw) == 0;
}

static bool is_reserved(const tok *t)
{
    static const char *const kws[] = { "and",   "or",   "not",   "in",    "like",     "regex",
                                       "where", "true", "false", "null",  "sequence", "sample",
                                       "join",  "by",   "with",  "until", "of",       NULL };
    for (size_t i = 0; kws[i]; i++)
        if (is_kw(t, kws[i]))
            return true;
    return false;
}

static const char *tok_desc(const tok *t, char *buf, size_t n)
{
    switch (t->type) {
    case T_EOF:
        return "the end of the query";
    case T_IDENT:
        snprintf(buf, n, "'%.60s'", t->s);
        return buf;
    case T_STRING:
        return "a string";
    case T_NUMBER:
        return "a number";
    case T_BQ:
        return "a `quoted` field";
    default: {
        static const char *const sym[] = { "",    "",     "",    "",     "",     "'('", "')'",
                                           "'['", "']'",  "','", "'=='", "'!='", "'<'", "'<='",
                                           "'>'", "'>='", "':'", "'+'",  "'-'",  "'*'", "'/'",
                                           "'%'", "'~'",  "'?'", "'|'",  "'='" };
        return (size_t)t->type < sizeof sym / sizeof sym[0] ? sym[t->type] : "a token";
    }
    }
}

static bool unexpected(ps *p, const char *want)
{
    char b[96];
    if (p->t.type == T_ASSIGN)
        return SYNTAX(p, p->t.off, "'=' is not an operator in EQL; use '==' or ':'");
    if (p->t.type == T_PIPE)
        return fail(p, "eql-unsupported", p->t.off, "pipes ('|') are not supported");
    return SYNTAX(p, p->t.off, "expected %s, found %s", want, tok_desc(&p->t, b, sizeof b));
}

// ---------------------------------------------------------------------------------------------
// Nodes

static enode *mk(ps *p, en_type type, size_t off)
{
    enode *e = sk_arena_alloc(p->a, sizeof(enode));
    memset(e, 0, sizeof(*e));
    e->type = type;
    e->off = off;
    return e;
}

static enode *mk2(ps *p, en_type type, en_op op, size_t off, enode *a, enode *b)
{
    enode *e = mk(p, type, off);
    e->op = op;
    e->kids = sk_arena_alloc(p->a, 2 * sizeof(enode *));
    e->kids[0] = a;
    e->kids[1] = b;
    e->nkids = 2;
    return e;
}

// A growing list of nodes (arena-backed).
typedef struct nlist {
    enode **v;
    uint32_t n, cap;
} nlist;

static bool nl_push(ps *p, nlist *l, enode *e)
{
    if (l->n == UINT32_MAX / 2)
        return SYNTAX(p, e->off, "too many items");
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        enode **v = sk_arena_alloc(p->a, cap * sizeof(enode *));
        if (l->n)
            memcpy(v, l->v, l->n * sizeof(enode *));
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return true;
}

static enode *parse_expr(ps *p);
static enode *parse_sum(ps *p);

static bool enter(ps *p)
{
    if (++p->depth > SK_MAX_DEPTH)
        return SYNTAX(p, p->t.off, "expression nested deeper than %u", SK_MAX_DEPTH);
    return true;
}

// '(' item (',' item)* [','] ')' appended to l (the current token is '(').
static bool parse_list(ps *p, nlist *l)
{
    if (!next(p))
        return false;
    if (p->t.type == T_RPAREN)
        return SYNTAX(p, p->t.off, "empty list");
    for (;;) {
        enode *e = parse_sum(p);
        if (!e || !nl_push(p, l, e))
            return false;
        if (p->t.type == T_COMMA) {
            if (!next(p))
                return false;
            if (p->t.type == T_RPAREN)
                break; // trailing comma
            continue;
        }
        if (p->t.type == T_RPAREN)
            break;
        return unexpected(p, "',' or ')' in a list");
    }
    return next(p);
}

static enode *parse_primary(ps *p)
{
    tok t = p->t;
    enode *e;
    switch (t.type) {
    case T_LPAREN: {
        if (!enter(p) || !next(p))
            return NULL;
        e = parse_expr(p);
        p->depth--;
        if (!e)
            return NULL;
        if (p->t.type != T_RPAREN) {
            unexpected(p, "')'");
            return NULL;
        }
        return next(p) ? e : NULL;
    }
    case T_STRING:
        e = mk(p, EN_STR, t.off);
        e->s = t.s;
        e->len = t.len;
        return next(p) ? e : NULL;
    case T_NUMBER:
        e = mk(p, EN_NUM, t.off);
        e->is_int = t.is_int;
        e->i = t.i;
        e->d = t.d;
        return next(p) ? e : NULL;
    case T_QMARK:
        if (!next(p))
            return NULL;
        if (p->t.type != T_IDENT && p->t.type != T_BQ) {
            unexpected(p, "a field name after '?'");
            return NULL;
        }
        if (p->t.type == T_IDENT && is_reserved(&p->t)) {
            unexpected(p, "a field name after '?'");
            return NULL;
        }
        e = mk(p, EN_FIELD, t.off);
        e->s = p->t.s;
        e->len = p->t.len;
        e->optional = true;
        return next(p) ? e : NULL;
    case T_BQ:
        e = mk(p, EN_FIELD, t.off);
        e->s = t.s;
        e->len = t.len;
        return next(p) ? e : NULL;
    case T_IDENT:
        break;
    default:
        unexpected(p, "a value, a field or '('");
        return NULL;
    }
    if (is_kw(&t, "true") || is_kw(&t, "false")) {
        e = mk(p, EN_BOOL, t.off);
        e->b = is_kw(&t, "true");
        return next(p) ? e : NULL;
    }
    if (is_kw(&t, "null")) {
        e = mk(p, EN_NULL, t.off);
        return next(p) ? e : NULL;
    }
    const tok *a = peek_ahead(p);
    if (!a)
        return NULL;
    bool call = a->type == T_LPAREN;
    bool ci = false;
    if (a->type == T_TILDE && !t.dotted && !is_reserved(&t)) {
        // name~( : a case-insensitive function
        if (!next(p) || !next(p))
            return NULL;
        if (p->t.type != T_LPAREN) {
            unexpected(p, "'(' after a function name and '~'");
            return NULL;
        }
        call = true;
        ci = true;
    } else if (call) {
        if (!next(p))
            return NULL;
    }
    if (call) {
        if (t.dotted || is_reserved(&t)) {
            fail(p, "eql-syntax", t.off, "'%.60s' is not a function", t.s);
            return NULL;
        }
        e = mk(p, EN_FUNC, t.off);
        e->s = t.s;
        e->len = t.len;
        e->ci = ci;
        nlist args = { 0 };
        if (!enter(p) || !next(p))
            return NULL;
        if (p->t.type != T_RPAREN) {
            for (;;) {
                enode *x = parse_expr(p);
                if (!x || !nl_push(p, &args, x))
                    return NULL;
                if (p->t.type == T_COMMA) {
                    if (!next(p))
                        return NULL;
                    continue;
                }
                if (p->t.type == T_RPAREN)
                    break;
                unexpected(p, "',' or ')' in a function call");
                return NULL;
            }
        }
        p->depth--;
        e->kids = args.v;
        e->nkids = args.n;
        return next(p) ? e : NULL;
    }
    if (is_reserved(&t)) {
        unexpected(p, "a value, a field or '('");
        return NULL;
    }
    e = mk(p, EN_FIELD, t.off);
    e->s = t.s;
    e->len = t.len;
    return next(p) ? e : NULL;
}

static enode *parse_unary(ps *p)
{
    if (p->t.type == T_MINUS) {
        size_t off = p->t.off;
        if (!enter(p) || !next(p))
            return NULL;
        enode *x = parse_unary(p);
        p->depth--;
        if (!x)
            return NULL;
        if (x->type == EN_NUM) { // fold literal negation
            x->i = -x->i;
            x->d = -x->d;
            x->off = off;
            return x;
        }
        enode *e = mk(p, EN_NEG, off);
        e->kids = sk_arena_alloc(p->a, sizeof(enode *));
        e->kids[0] = x;
        e->nkids = 1;
        return e;
    }
    if (p->t.type == T_PLUS) { // unary plus leaves its operand as it is
        if (!enter(p) || !next(p))
            return NULL;
        enode *x = parse_unary(p);
        p->depth--;
        return x;
    }
    return parse_primary(p);
}

static enode *parse_prod(ps *p)
{
    enode *l = parse_unary(p);
    unsigned added = 0; // each operator nests the tree one level deeper
    while (l && (p->t.type == T_STAR || p->t.type == T_SLASH || p->t.type == T_PERCENT)) {
        en_op op = p->t.type == T_STAR ? OP_MUL : p->t.type == T_SLASH ? OP_DIV : OP_MOD;
        size_t off = p->t.off;
        if (!enter(p) || !next(p))
            return NULL;
        added++;
        enode *r = parse_unary(p);
        if (!r)
            return NULL;
        l = mk2(p, EN_ARITH, op, off, l, r);
    }
    p->depth -= added;
    return l;
}

static enode *parse_sum(ps *p)
{
    enode *l = parse_prod(p);
    unsigned added = 0; // each operator nests the tree one level deeper
    while (l && (p->t.type == T_PLUS || p->t.type == T_MINUS)) {
        en_op op = p->t.type == T_PLUS ? OP_ADD : OP_SUB;
        size_t off = p->t.off;
        if (!enter(p) || !next(p))
            return NULL;
        added++;
        enode *r = parse_prod(p);
        if (!r)
            return NULL;
        l = mk2(p, EN_ARITH, op, off, l, r);
    }
    p->depth -= added;
    return l;
}

static bool is_cmp_tok(tok_type t)
{
    return t == T_EQ || t == T_NE || t == T_LT || t == T_LE || t == T_GT || t == T_GE;
}

// Builds a lookup node: lhs op (values...). The current token starts the right side.
static enode *
parse_lookup_rhs(ps *p, enode *lhs, en_op op, bool ci, bool neg, size_t off, bool list_only)
{
    nlist items = { 0 };
    if (!nl_push(p, &items, lhs))
        return NULL;
    if (p->t.type == T_LPAREN) {
        if (!enter(p) || !parse_list(p, &items))
            return NULL;
        p->depth--;
    } else if (list_only) {
        unexpected(p, "'(' and a list after 'in'");
        return NULL;
    } else {
        enode *v = parse_sum(p);
        if (!v || !nl_push(p, &items, v))
            return NULL;
    }
    enode *e = mk(p, EN_LOOKUP, off);
    e->op = op;
    e->ci = ci;
    e->neg = neg;
    e->kids = items.v;
    e->nkids = items.n;
    return e;
}

// 'like' / 'regex' / 'in' with an optional '~' (current token is the keyword).
static bool kw_tilde(ps *p, bool *ci)
{
    *ci = false;
    if (!next(p))
        return false;
    if (p->t.type == T_TILDE) {
        *ci = true;
        return next(p);
    }
    return true;
}

static enode *parse_cmp(ps *p)
{
    enode *l = parse_sum(p);
    if (!l)
        return NULL;
    tok t = p->t;
    enode *e = NULL;
    bool ci;
    if (is_cmp_tok(t.type)) {
        static const en_op ops[] = { [T_EQ] = OP_EQ, [T_NE] = OP_NE, [T_LT] = OP_LT,
                                     [T_LE] = OP_LE, [T_GT] = OP_GT, [T_GE] = OP_GE };
        if (!next(p))
            return NULL;
        enode *r = parse_sum(p);
        if (!r)
            return NULL;
        e = mk2(p, EN_CMP, ops[t.type], t.off, l, r);
    } else if (t.type == T_COLON) {
        if (!next(p))
            return NULL;
        e = parse_lookup_rhs(p, l, OP_COLON, true, false, t.off, false);
    } else if (is_kw(&t, "like") || is_kw(&t, "regex")) {
        en_op op = is_kw(&t, "like") ? OP_LIKE : OP_REGEX;
        if (!kw_tilde(p, &ci))
            return NULL;
        e = parse_lookup_rhs(p, l, op, ci, false, t.off, false);
    } else if (is_kw(&t, "in")) {
        if (!kw_tilde(p, &ci))
            return NULL;
        e = parse_lookup_rhs(p, l, OP_IN, ci, false, t.off, true);
    } else if (is_kw(&t, "not")) {
        const tok *a = peek_ahead(p);
        if (!a)
            return NULL;
        if (!is_kw(a, "in"))
            return l; // `x not y` is an error the caller reports
        if (!next(p) || !kw_tilde(p, &ci))
            return NULL;
        e = parse_lookup_rhs(p, l, OP_IN, ci, true, t.off, true);
    } else {
        return l;
    }
    if (e && (is_cmp_tok(p->t.type) || p->t.type == T_COLON || is_kw(&p->t, "like") ||
              is_kw(&p->t, "regex") || is_kw(&p->t, "in"))) {
        SYNTAX(p, p->t.off, "comparisons cannot be chained; join them with 'and'");
        return NULL;
    }
    return e;
}

static enode *parse_not(ps *p)
{
    if (is_kw(&p->t, "not")) {
        size_t off = p->t.off;
        if (!enter(p) || !next(p))
            return NULL;
        enode *x = parse_not(p);
        p->depth--;
        if (!x)
            return NULL;
        enode *e = mk(p, EN_NOT, off);
        e->kids = sk_arena_alloc(p->a, sizeof(enode *));
        e->kids[0] = x;
        e->nkids = 1;
        return e;
    }
    return parse_cmp(p);
}

static enode *parse_bool(ps *p, bool is_or)
{
    enode *first = is_or ? parse_bool(p, false) : parse_not(p);
    if (!first)
        return NULL;
    const char *kw = is_or ? "or" : "and";
    if (!is_kw(&p->t, kw))
        return first;
    nlist l = { 0 };
    if (!nl_push(p, &l, first))
        return NULL;
    size_t off = first->off;
    while (is_kw(&p->t, kw)) {
        if (!next(p))
            return NULL;
        enode *x = is_or ? parse_bool(p, false) : parse_not(p);
        if (!x || !nl_push(p, &l, x))
            return NULL;
    }
    enode *e = mk(p, is_or ? EN_OR : EN_AND, off);
    e->kids = l.v;
    e->nkids = l.n;
    return e;
}

static enode *parse_expr(ps *p)
{
    if (!enter(p))
        return NULL;
    enode *e = parse_bool(p, true);
    p->depth--;
    return e;
}

enode *eql_parse(sk_arena *a, const char *text, size_t n, const char **category, eql_err *err)
{
    ps p = { .a = a, .src = text, .n = n, .pos = 0, .err = err };
    memset(err, 0, sizeof(*err));
    *category = NULL;
    if (memchr(text, '\0', n)) {
        fail(&p,
             "eql-syntax",
             (size_t)((const char *)memchr(text, '\0', n) - text),
             "NUL character in the query");
        return NULL;
    }
    if (!next(&p))
        return NULL;
    if (is_kw(&p.t, "sequence")) {
        fail(&p, "eql-sequence", p.t.off, "EQL sequence queries are not supported");
        return NULL;
    }
    if (is_kw(&p.t, "sample")) {
        fail(&p, "eql-sample", p.t.off, "EQL sample queries are not supported");
        return NULL;
    }
    if (is_kw(&p.t, "join")) {
        fail(&p, "eql-join", p.t.off, "EQL join queries are not supported");
        return NULL;
    }
    if (p.t.type == T_IDENT && !p.t.dotted) {
        if (!is_kw(&p.t, "any")) {
            char *c = adup(a, p.t.s, p.t.len);
            for (char *q = c; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q + 32);
            *category = c;
        }
    } else if (p.t.type == T_STRING) {
        if (p.t.len == 0 || memchr(p.t.s, '\0', p.t.len)) {
            SYNTAX(&p, p.t.off, "invalid event category");
            return NULL;
        }
        *category = adup(a, p.t.s, p.t.len);
    } else {
        unexpected(&p, "an event category ('process', 'file', 'any', ...)");
        return NULL;
    }
    if (!next(&p))
        return NULL;
    if (!is_kw(&p.t, "where")) {
        unexpected(&p, "'where' after the event category");
        return NULL;
    }
    if (!next(&p))
        return NULL;
    enode *root = parse_expr(&p);
    if (!root)
        return NULL;
    if (p.t.type != T_EOF) {
        if (p.t.type == T_PIPE)
            fail(&p, "eql-unsupported", p.t.off, "pipes ('|') are not supported");
        else
            unexpected(&p, "'and', 'or' or the end of the query");
        return NULL;
    }
    return root;
}
