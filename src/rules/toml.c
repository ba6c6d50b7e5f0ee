// A strict TOML 1.0 reader (see toml_int.h): one recursive-descent pass over the bytes, building a
// tree in an arena, with a document-wide hash from (table, key) to value so that lookups stay O(1)
// whatever the input.
//
// Table definition rules (the part of TOML that is easy to get wrong), tracked with flags:
//   F_HEADER   the table was defined by a [header] (it cannot be defined again)
//   F_IMPLICIT the table was created as an intermediate of a header path ([a.b] creates a); a
//              later [a] may still define it once
//   F_DOTTED   the table was created by dotted keys (a.b = 1 creates a): it cannot be defined by a
//              header later, only extended by dotted keys and given sub-tables by headers
//   F_INLINE   an inline table: sealed once written
//   F_AOT      an array created by [[header]]; other arrays are static and cannot be appended to
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "core/limits.h"
#include "core/mem.h"
#include "core/utf.h"
#include "toml_int.h"

enum {
    F_HEADER = 1u,
    F_IMPLICIT = 2u,
    F_DOTTED = 4u,
    F_INLINE = 8u,
    F_AOT = 16u,
};

struct toml_slot {
    const tv *table; // NULL: empty
    const char *key;
    size_t klen;
    tv *val;
};

// ---------------------------------------------------------------------------------------------
// Document, values, lookup

void toml_doc_init(toml_doc *d)
{
    memset(d, 0, sizeof(*d));
    sk_arena_init(&d->arena, 64 * 1024);
}

void toml_doc_fini(toml_doc *d)
{
    free(d->slots);
    sk_arena_fini(&d->arena);
    memset(d, 0, sizeof(*d));
}

static uint64_t slot_hash(const tv *t, const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)t;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static toml_slot *slot_find(const toml_doc *d, const tv *t, const char *k, size_t n)
{
    if (!d->capslots)
        return NULL;
    size_t mask = d->capslots - 1;
    for (size_t i = (size_t)slot_hash(t, k, n) & mask;; i = (i + 1) & mask) {
        toml_slot *s = &d->slots[i];
        if (!s->table)
            return s;
        if (s->table == t && s->klen == n && memcmp(s->key, k, n) == 0)
            return s;
    }
}

static void slot_put(toml_doc *d, const tv *t, const char *k, size_t n, tv *v)
{
    if ((d->nslots + 1) * 2 > d->capslots) {
        toml_slot *old = d->slots;
        size_t oldcap = d->capslots;
        d->capslots = oldcap ? oldcap * 2 : 256;
        d->slots = sk_xcalloc(d->capslots, sizeof(toml_slot));
        for (size_t i = 0; i < oldcap; i++)
            if (old[i].table)
                *slot_find(d, old[i].table, old[i].key, old[i].klen) = old[i];
        free(old);
    }
    toml_slot *s = slot_find(d, t, k, n);
    *s = (toml_slot){ t, k, n, v };
    d->nslots++;
}

tv *toml_get(const toml_doc *d, const tv *t, const char *key)
{
    if (!t || t->type != TV_TABLE)
        return NULL;
    toml_slot *s = slot_find(d, t, key, strlen(key));
    return s && s->table ? s->val : NULL;
}

tv *toml_path(const toml_doc *d, const tv *t, const char *path)
{
    const char *p = path;
    tv *cur = (tv *)t;
    while (cur && cur->type == TV_TABLE) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        toml_slot *s = slot_find(d, cur, p, n);
        cur = s && s->table ? s->val : NULL;
        if (!dot)
            return cur;
        p = dot + 1;
    }
    return NULL;
}

const char *toml_type_name(const tv *v)
{
    static const char *const names[] = { "string",    "integer", "float", "boolean",
                                         "date-time", "array",   "table" };
    return v ? names[v->type] : "nothing";
}

void toml_locate(const char *data,
                 size_t n,
                 const tv *s,
                 size_t off,
                 unsigned long *line,
                 unsigned long *col)
{
    *line = s->line;
    *col = s->col;
    size_t at = s->src_off; // the document offset of content offset off
    if (!s->literal) {
        // The last verbatim run that starts at or before off (an escape maps to its start).
        size_t k = 0;
        while (k + 1 < s->nmap && s->map[2 * (k + 1)] <= off)
            k++;
        if (!s->map || s->map[2 * k] > off)
            return;
        at = s->map[2 * k + 1];
        off -= s->map[2 * k];
    }
    if (at > n || off > n - at)
        return;
    // Walk back to the start of the string's first line, then forward to the offset.
    size_t ls = s->src_off;
    while (ls > 0 && data[ls - 1] != '\n')
        ls--;
    unsigned long l = 1;
    for (size_t i = 0; i < ls; i++)
        l += data[i] == '\n';
    unsigned long c = 1;
    for (size_t i = ls; i < at + off; i++) {
        if (data[i] == '\n') {
            l++;
            c = 1;
        } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

// ---------------------------------------------------------------------------------------------
// Parser state

typedef struct tp {
    toml_doc *d;
    const char *base;
    const char *p;
    const char *end;
    unsigned long line;
    const char *line_start;
    toml_err *err;
    bool failed;
    unsigned depth;
} tp;

static unsigned long col_from(const char *line_start, const char *at)
{
    unsigned long c = 1;
    for (const char *q = line_start; q < at; q++)
        c += ((unsigned char)*q & 0xC0) != 0x80;
    return c;
}

static unsigned long col_at(const tp *t, const char *at)
{
    return col_from(t->line_start, at);
}

// Line and column of a position at or before the current one (multi-line strings report their
// start).
static void pos_of(const tp *t, const char *at, unsigned long *line, unsigned long *col)
{
    unsigned long l = t->line;
    const char *ls = t->line_start;
    while (at < ls && ls > t->base) {
        l--;
        ls--; // the previous line's '\n'
        while (ls > t->base && ls[-1] != '\n')
            ls--;
    }
    *line = l;
    *col = col_from(ls, at);
}

// Records the first error (later ones are consequences of it).
static void set_error(tp *t, const char *at, const char *fmt, ...) SK_PRINTF(3, 4);
static void set_error(tp *t, const char *at, const char *fmt, ...)
{
    if (t->failed)
        return;
    t->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err->msg, sizeof t->err->msg, fmt, ap);
    va_end(ap);
    pos_of(t, at, &t->err->line, &t->err->col);
}

// `return FAIL_AT(...)` records the error and returns false. The false is spelled out here rather
// than returned by set_error: clang's analyzer does not follow calls to variadic functions, and
// would otherwise take every failure path for a success with its out-parameters unset.
#define FAIL_AT(t, at, ...) (set_error((t), (at), __VA_ARGS__), false)
#define FAIL(t, ...)        FAIL_AT((t), (t)->p, __VA_ARGS__)

static tv *new_value(tp *t, tv_type type, const char *at)
{
    tv *v = sk_arena_alloc(&t->d->arena, sizeof(tv));
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->line = t->line;
    v->col = col_at(t, at);
    return v;
}

static void arr_push(tp *t, tv *a, tv *v)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        tv **items = sk_arena_alloc(&t->d->arena, cap * sizeof(tv *));
        if (a->n)
            memcpy(items, a->items, a->n * sizeof(tv *));
        a->items = items;
        a->cap = cap;
    }
    a->items[a->n++] = v;
}

// Adds key -> v to table tab (the key must not exist).
static void tab_put(tp *t, tv *tab, const char *k, size_t kn, tv *v)
{
    if (tab->n == tab->cap) {
        size_t cap = tab->cap ? tab->cap * 2 : 8;
        tv **items = sk_arena_alloc(&t->d->arena, cap * sizeof(tv *));
        const char **keys = sk_arena_alloc(&t->d->arena, cap * sizeof(char *));
        size_t *klens = sk_arena_alloc(&t->d->arena, cap * sizeof(size_t));
        if (tab->n) {
            memcpy(items, tab->items, tab->n * sizeof(tv *));
            memcpy(keys, tab->keys, tab->n * sizeof(char *));
            memcpy(klens, tab->klens, tab->n * sizeof(size_t));
        }
        tab->items = items;
        tab->keys = keys;
        tab->klens = klens;
        tab->cap = cap;
    }
    tab->items[tab->n] = v;
    tab->keys[tab->n] = k;
    tab->klens[tab->n] = kn;
    tab->n++;
    slot_put(t->d, tab, k, kn, v);
}

static tv *tab_get(tp *t, const tv *tab, const char *k, size_t kn)
{
    toml_slot *s = slot_find(t->d, tab, k, kn);
    return s && s->table ? s->val : NULL;
}

// ---------------------------------------------------------------------------------------------
// Lexical helpers

static bool at_end(const tp *t)
{
    return t->p >= t->end;
}

static int peek(const tp *t, size_t k)
{
    return t->p + k < t->end ? (unsigned char)t->p[k] : -1;
}

static void skip_ws(tp *t)
{
    while (!at_end(t) && (*t->p == ' ' || *t->p == '\t'))
        t->p++;
}

static void newline(tp *t)
{
    t->line++;
    t->line_start = t->p;
}

// A comment from '#' to the end of the line (not consumed). Control characters other than tab
// are not allowed in comments.
static bool skip_comment(tp *t)
{
    if (at_end(t) || *t->p != '#')
        return true;
    while (!at_end(t) && *t->p != '\n') {
        unsigned char c = (unsigned char)*t->p;
        if ((c < 0x20 && c != '\t' && !(c == '\r' && peek(t, 1) == '\n')) || c == 0x7f)
            return FAIL(t, "control character U+%04X in a comment", c);
        t->p++;
    }
    return true;
}

// A newline (LF or CRLF); false (without failing) when there is none here.
static bool eat_newline(tp *t)
{
    if (peek(t, 0) == '\n') {
        t->p++;
        newline(t);
        return true;
    }
    if (peek(t, 0) == '\r' && peek(t, 1) == '\n') {
        t->p += 2;
        newline(t);
        return true;
    }
    return false;
}

// Whitespace, comments and newlines (inside arrays, between statements).
static bool skip_ws_nl(tp *t)
{
    for (;;) {
        skip_ws(t);
        if (!skip_comment(t))
            return false;
        if (!eat_newline(t)) {
            if (peek(t, 0) == '\r')
                return FAIL(t, "carriage return not followed by a newline");
            return true;
        }
    }
}

// After a statement: optional whitespace and comment, then a newline or the end.
static bool end_of_line(tp *t)
{
    skip_ws(t);
    if (!skip_comment(t))
        return false;
    if (at_end(t) || eat_newline(t))
        return true;
    return FAIL(t, "expected the end of the line after a value or table header");
}

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// ---------------------------------------------------------------------------------------------
// Strings

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->n + n + 1 > cap)
            cap *= 2;
        b->p = sk_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_utf8(sbuf *b, uint32_t cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_add(b, o, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// One escape sequence after the backslash (t->p at the character after '\').
static bool escape(tp *t, sbuf *b)
{
    const char *at = t->p - 1;
    int c = peek(t, 0);
    char out;
    switch (c) {
    case 'b':
        out = '\b';
        break;
    case 't':
        out = '\t';
        break;
    case 'n':
        out = '\n';
        break;
    case 'f':
        out = '\f';
        break;
    case 'r':
        out = '\r';
        break;
    case '"':
        out = '"';
        break;
    case '\\':
        out = '\\';
        break;
    case 'u':
    case 'U': {
        int nd = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int i = 1; i <= nd; i++) {
            int h = hexval(peek(t, (size_t)i));
            if (h < 0)
                return FAIL_AT(t, at, "\\%c needs %d hexadecimal digits", c, nd);
            cp = cp * 16 + (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return FAIL_AT(t, at, "\\%c escape U+%X is not a Unicode scalar value", c, cp);
        t->p += 1 + nd;
        sb_utf8(b, cp);
        return true;
    }
    default:
        if (c < 0)
            return FAIL_AT(t, at, "unterminated string");
        if (c < 0x20 || c >= 0x7f)
            return FAIL_AT(t, at, "invalid escape sequence");
        return FAIL_AT(t, at, "invalid escape sequence '\\%c'", c);
    }
    t->p++;
    sb_add(b, &out, 1);
    return true;
}

static bool bad_char(unsigned char c, bool multiline)
{
    if (c == '\t')
        return false;
    if (multiline && c == '\n')
        return false;
    return c < 0x20 || c == 0x7f;
}

// After an escape: content from offset dec on is the document's bytes from offset src on.
static void map_run(size_t **map, size_t *nmap, size_t *cap, size_t dec, size_t src)
{
    sk_xgrow((void **)map, cap, 2 * (*nmap + 1), sizeof **map);
    (*map)[2 * *nmap] = dec;
    (*map)[2 * *nmap + 1] = src;
    (*nmap)++;
}

// Parses a string starting at t->p (a quote). Fills v (STRING) or, for keys, only the bytes.
static bool parse_string(tp *t, tv *v, bool allow_multi)
{
    sbuf b = { 0 };
    const char q = *t->p;
    const bool basic = q == '"';
    bool multi = allow_multi && peek(t, 1) == q && peek(t, 2) == q;
    bool literal = true;
    const char *start = t->p;
    if (multi) {
        t->p += 3;
        // A newline right after the opening delimiter is trimmed.
        if (peek(t, 0) == '\n' || (peek(t, 0) == '\r' && peek(t, 1) == '\n'))
            eat_newline(t);
    } else {
        t->p++;
    }
    size_t content_off = (size_t)(t->p - t->base);
    size_t *map = NULL, nmap = 0, capmap = 0; // see tv.map
    for (;;) {
        if (at_end(t)) {
            free(b.p);
            free(map);
            return FAIL_AT(t, start, "unterminated string");
        }
        unsigned char c = (unsigned char)*t->p;
        if (c == (unsigned char)q) {
            if (!multi) {
                t->p++;
                break;
            }
            if (peek(t, 1) == q && peek(t, 2) == q) {
                // The closing delimiter is the last three quotes of a run of up to five.
                size_t run = 3;
                while (run < 5 && peek(t, run) == q)
                    run++;
                sb_add(&b, t->p, run - 3);
                t->p += run;
                break;
            }
            sb_add(&b, t->p, 1);
            t->p++;
            continue;
        }
        if (c == '\r' && multi && peek(t, 1) == '\n') {
            sb_add(&b, t->p, 2);
            t->p += 2;
            newline(t);
            continue;
        }
        if (bad_char(c, multi)) {
            free(b.p);
            free(map);
            if (c == '\n' || c == '\r')
                return FAIL(t, "unterminated string (newline in a single-line string)");
            return FAIL(t, "control character U+%04X in a string", c);
        }
        if (c == '\n') {
            sb_add(&b, t->p, 1);
            t->p++;
            newline(t);
            continue;
        }
        if (c == '\\' && basic) {
            if (literal) { // the first escape: the run before it starts at the content
                sk_xgrow((void **)&map, &capmap, 2, sizeof *map);
                map[0] = 0;
                map[1] = content_off;
                nmap = 1;
            }
            literal = false;
            t->p++;
            if (multi) {
                // Line-ending backslash: trims whitespace and newlines up to the next content.
                const char *save = t->p;
                while (peek(t, 0) == ' ' || peek(t, 0) == '\t')
                    t->p++;
                if (peek(t, 0) == '\n' || (peek(t, 0) == '\r' && peek(t, 1) == '\n')) {
                    while (!at_end(t)) {
                        if (*t->p == ' ' || *t->p == '\t')
                            t->p++;
                        else if (!eat_newline(t))
                            break;
                    }
                    map_run(&map, &nmap, &capmap, b.n, (size_t)(t->p - t->base));
                    continue;
                }
                t->p = save;
            }
            if (!escape(t, &b)) {
                free(b.p);
                free(map);
                return false;
            }
            map_run(&map, &nmap, &capmap, b.n, (size_t)(t->p - t->base));
            continue;
        }
        sb_add(&b, t->p, 1);
        t->p++;
    }
    if (v) {
        char *s = sk_arena_alloc(&t->d->arena, b.n + 1);
        if (b.n)
            memcpy(s, b.p, b.n);
        s[b.n] = '\0';
        v->s = s;
        v->len = b.n;
        v->literal = literal;
        v->src_off = content_off;
        v->map = NULL;
        v->nmap = 0;
        if (nmap) {
            size_t *m = sk_arena_alloc(&t->d->arena, 2 * nmap * sizeof *m);
            memcpy(m, map, 2 * nmap * sizeof *m);
            v->map = m;
            v->nmap = nmap;
        }
    }
    free(b.p);
    free(map);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Keys

typedef struct key_part {
    const char *s;
    size_t n;
    const char *at; // position in the source
} key_part;

static bool parse_key(tp *t, key_part *parts, size_t *nparts)
{
    *nparts = 0;
    for (;;) {
        skip_ws(t);
        if (*nparts == TOML_MAX_KEY_PARTS)
            return FAIL(t, "dotted key has more than %u parts", TOML_MAX_KEY_PARTS);
        key_part *k = &parts[(*nparts)++];
        k->at = t->p;
        int c = peek(t, 0);
        if (c == '"' || c == '\'') {
            if (peek(t, 1) == c && peek(t, 2) == c)
                return FAIL(t, "multi-line strings cannot be keys");
            tv tmp;
            memset(&tmp, 0, sizeof(tmp));
            if (!parse_string(t, &tmp, false))
                return false;
            k->s = tmp.s;
            k->n = tmp.len;
        } else if (is_bare(c)) {
            const char *s = t->p;
            while (!at_end(t) && is_bare((unsigned char)*t->p))
                t->p++;
            k->n = (size_t)(t->p - s);
            char *copy = sk_arena_alloc(&t->d->arena, k->n + 1);
            memcpy(copy, s, k->n);
            copy[k->n] = '\0';
            k->s = copy;
        } else if (c < 0 || c == '\n' || c == '\r') {
            return FAIL(t, "expected a key");
        } else {
            return FAIL(t, "invalid character '%c' in a key (quote the key)", c);
        }
        skip_ws(t);
        if (peek(t, 0) != '.')
            return true;
        t->p++;
    }
}

// ---------------------------------------------------------------------------------------------
// Values

static bool parse_value(tp *t, tv **out);

static bool digits_with_underscores(tp *t, int (*ok)(int), const char *what)
{
    if (!ok(peek(t, 0)))
        return FAIL(t, "expected a digit in %s", what);
    while (ok(peek(t, 0)) || peek(t, 0) == '_') {
        if (peek(t, 0) == '_' && !ok(peek(t, 1)))
            return FAIL(t, "an underscore in %s must be between digits", what);
        t->p++;
    }
    return true;
}

static int is_dec(int c)
{
    return c >= '0' && c <= '9';
}
static int is_hex(int c)
{
    return hexval(c) >= 0;
}
static int is_oct(int c)
{
    return c >= '0' && c <= '7';
}
static int is_bin(int c)
{
    return c == '0' || c == '1';
}

static bool n_digits(const tp *t, size_t from, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_dec(peek(t, from + i)))
            return false;
    return true;
}

// "HH:MM[:SS[.frac]]" at t->p; advances.
static bool parse_time_part(tp *t)
{
    if (!n_digits(t, 0, 2) || peek(t, 2) != ':' || !n_digits(t, 3, 2))
        return FAIL(t, "invalid time");
    int hh = (t->p[0] - '0') * 10 + (t->p[1] - '0');
    int mm = (t->p[3] - '0') * 10 + (t->p[4] - '0');
    if (hh > 23 || mm > 59)
        return FAIL(t, "invalid time");
    t->p += 5;
    if (peek(t, 0) == ':') {
        if (!n_digits(t, 1, 2))
            return FAIL(t, "invalid time");
        int ss = (t->p[1] - '0') * 10 + (t->p[2] - '0');
        if (ss > 60)
            return FAIL(t, "invalid time");
        t->p += 3;
        if (peek(t, 0) == '.') {
            t->p++;
            if (!is_dec(peek(t, 0)))
                return FAIL(t, "invalid fractional seconds");
            while (is_dec(peek(t, 0)))
                t->p++;
        }
    }
    return true;
}

static bool parse_datetime(tp *t, tv *v)
{
    const char *s = t->p;
    if (n_digits(t, 0, 2) && peek(t, 2) == ':') {
        if (!parse_time_part(t))
            return false;
    } else {
        // YYYY-MM-DD
        if (!n_digits(t, 0, 4) || peek(t, 4) != '-' || !n_digits(t, 5, 2) || peek(t, 7) != '-' ||
            !n_digits(t, 8, 2))
            return FAIL(t, "invalid date");
        int mo = (t->p[5] - '0') * 10 + (t->p[6] - '0');
        int dd = (t->p[8] - '0') * 10 + (t->p[9] - '0');
        if (mo < 1 || mo > 12 || dd < 1 || dd > 31)
            return FAIL(t, "invalid date");
        t->p += 10;
        int c = peek(t, 0);
        if ((c == 'T' || c == 't' || c == ' ') && n_digits(t, 1, 2) && peek(t, 3) == ':') {
            t->p++;
            if (!parse_time_part(t))
                return false;
            c = peek(t, 0);
            if (c == 'Z' || c == 'z') {
                t->p++;
            } else if (c == '+' || c == '-') {
                if (!n_digits(t, 1, 2) || peek(t, 3) != ':' || !n_digits(t, 4, 2))
                    return FAIL(t, "invalid time zone offset");
                t->p += 6;
            }
        }
    }
    v->type = TV_DATETIME;
    size_t n = (size_t)(t->p - s);
    char *c = sk_arena_alloc(&t->d->arena, n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    v->s = c;
    v->len = n;
    return true;
}

static bool parse_number(tp *t, tv *v)
{
    const char *s = t->p;
    int c0 = peek(t, 0);
    // Dates and times start with digits followed by '-' or ':'.
    if (is_dec(c0) &&
        ((n_digits(t, 0, 4) && peek(t, 4) == '-') || (n_digits(t, 0, 2) && peek(t, 2) == ':')))
        return parse_datetime(t, v);
    bool neg = false, sign = false;
    if (c0 == '+' || c0 == '-') {
        neg = c0 == '-';
        sign = true;
        t->p++;
    }
    if ((peek(t, 0) == 'i' && peek(t, 1) == 'n' && peek(t, 2) == 'f') ||
        (peek(t, 0) == 'n' && peek(t, 1) == 'a' && peek(t, 2) == 'n')) {
        v->type = TV_FLOAT;
        v->d = peek(t, 0) == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
        t->p += 3;
        return true;
    }
    if (peek(t, 0) == '0' && (peek(t, 1) == 'x' || peek(t, 1) == 'o' || peek(t, 1) == 'b')) {
        if (sign)
            return FAIL_AT(t, s, "a sign is not allowed on hexadecimal, octal or binary integers");
        int kind = peek(t, 1);
        t->p += 2;
        const char *ds = t->p;
        int (*ok)(int) = kind == 'x' ? is_hex : kind == 'o' ? is_oct : is_bin;
        if (!digits_with_underscores(t, ok, "an integer"))
            return false;
        unsigned base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
        uint64_t val = 0;
        for (const char *q = ds; q < t->p; q++) {
            if (*q == '_')
                continue;
            uint64_t dgt = (uint64_t)hexval((unsigned char)*q);
            if (val > (UINT64_C(0x7fffffffffffffff) - dgt) / base)
                return FAIL_AT(t, s, "integer out of range");
            val = val * base + dgt;
        }
        v->type = TV_INT;
        v->i = (int64_t)val;
        return true;
    }
    const char *ip = t->p;
    if (!digits_with_underscores(t, is_dec, "a number"))
        return false;
    if (*ip == '0' && t->p - ip > 1)
        return FAIL_AT(t, s, "leading zeros are not allowed in numbers");
    bool is_float = false;
    if (peek(t, 0) == '.') {
        t->p++;
        if (!digits_with_underscores(t, is_dec, "a float"))
            return false;
        is_float = true;
    }
    if (peek(t, 0) == 'e' || peek(t, 0) == 'E') {
        t->p++;
        if (peek(t, 0) == '+' || peek(t, 0) == '-')
            t->p++;
        if (!digits_with_underscores(t, is_dec, "an exponent"))
            return false;
        is_float = true;
    }
    char buf[128];
    size_t k = 0;
    for (const char *q = s; q < t->p; q++) {
        if (*q == '_')
            continue;
        if (k + 1 >= sizeof buf)
            return FAIL_AT(t, s, "number too long");
        buf[k++] = *q;
    }
    buf[k] = '\0';
    errno = 0;
    if (is_float) {
        v->type = TV_FLOAT;
        v->d = strtod(buf, NULL);
    } else {
        v->type = TV_INT;
        v->i = (int64_t)strtoll(buf, NULL, 10);
        if (errno == ERANGE)
            return FAIL_AT(t, s, "integer out of range");
    }
    return true;
}

static bool parse_array(tp *t, tv *a)
{
    t->p++; // [
    for (;;) {
        if (!skip_ws_nl(t))
            return false;
        if (peek(t, 0) == ']') {
            t->p++;
            return true;
        }
        tv *item = NULL;
        if (!parse_value(t, &item))
            return false;
        arr_push(t, a, item);
        if (!skip_ws_nl(t))
            return false;
        if (peek(t, 0) == ',') {
            t->p++;
            continue;
        }
        if (peek(t, 0) == ']') {
            t->p++;
            return true;
        }
        if (at_end(t))
            return FAIL(t, "unterminated array");
        return FAIL(t, "expected ',' or ']' in an array");
    }
}

static bool key_value(tp *t, tv *tab, bool in_inline);

static bool parse_inline_table(tp *t, tv *tab)
{
    t->p++;                 // {
    tab->flags |= F_DOTTED; // keys inside may be dotted
    skip_ws(t);
    if (peek(t, 0) == '}') {
        t->p++;
        tab->flags = F_INLINE;
        return true;
    }
    for (;;) {
        skip_ws(t);
        if (peek(t, 0) == '\n' || peek(t, 0) == '\r')
            return FAIL(t, "newlines are not allowed in inline tables");
        if (!key_value(t, tab, true))
            return false;
        skip_ws(t);
        if (peek(t, 0) == ',') {
            t->p++;
            skip_ws(t);
            if (peek(t, 0) == '}')
                return FAIL(t, "trailing comma in an inline table");
            continue;
        }
        if (peek(t, 0) == '}') {
            t->p++;
            break;
        }
        if (at_end(t))
            return FAIL(t, "unterminated inline table");
        if (peek(t, 0) == '\n' || peek(t, 0) == '\r')
            return FAIL(t, "newlines are not allowed in inline tables");
        return FAIL(t, "expected ',' or '}' in an inline table");
    }
    tab->flags = F_INLINE;
    return true;
}

// Seals every table reachable from an inline table, so that headers and dotted keys cannot extend
// them later.
static void seal(tv *v, unsigned depth)
{
    if (depth > SK_MAX_DEPTH)
        return;
    if (v->type == TV_TABLE)
        v->flags = F_INLINE;
    if (v->type == TV_TABLE || v->type == TV_ARRAY)
        for (size_t i = 0; i < v->n; i++)
            seal(v->items[i], depth + 1);
}

static bool parse_value(tp *t, tv **out)
{
    const char *at = t->p;
    int c = peek(t, 0);
    tv *v = new_value(t, TV_STRING, at);
    *out = v;
    if (c == '"' || c == '\'')
        return parse_string(t, v, true);
    if (c == 't' && t->end - t->p >= 4 && memcmp(t->p, "true", 4) == 0) {
        t->p += 4;
        v->type = TV_BOOL;
        v->b = true;
    } else if (c == 'f' && t->end - t->p >= 5 && memcmp(t->p, "false", 5) == 0) {
        t->p += 5;
        v->type = TV_BOOL;
        v->b = false;
    } else if (c == '[' || c == '{') {
        if (++t->depth > SK_MAX_DEPTH)
            return FAIL(t, "arrays and inline tables nested deeper than %u", SK_MAX_DEPTH);
        bool ok;
        if (c == '[') {
            v->type = TV_ARRAY;
            ok = parse_array(t, v);
        } else {
            v->type = TV_TABLE;
            ok = parse_inline_table(t, v);
            if (ok)
                seal(v, 0);
        }
        t->depth--;
        return ok;
    } else if (is_dec(c) || c == '+' || c == '-' || c == 'i' || c == 'n') {
        if (!parse_number(t, v))
            return false;
    } else if (c < 0 || c == '\n' || c == '\r' || c == '#') {
        return FAIL(t, "expected a value");
    } else {
        return FAIL(t, "invalid value (strings need quotes)");
    }
    // A value must be followed by a separator, not by more characters ("1x", "truex").
    c = peek(t, 0);
    if (c >= 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' && c != ']' &&
        c != '}' && c != '#')
        return FAIL(t, "invalid character '%c' after a value", c);
    return true;
}

// key = value into tab (dotted keys create or extend F_DOTTED tables).
static bool key_value(tp *t, tv *tab, bool in_inline)
{
    key_part parts[TOML_MAX_KEY_PARTS];
    size_t np;
    if (!parse_key(t, parts, &np))
        return false;
    for (size_t i = 0; i + 1 < np; i++) {
        tv *sub = tab_get(t, tab, parts[i].s, parts[i].n);
        if (!sub) {
            sub = new_value(t, TV_TABLE, parts[i].at);
            sub->flags = F_DOTTED;
            tab_put(t, tab, parts[i].s, parts[i].n, sub);
        } else if (sub->type != TV_TABLE || !(sub->flags & F_DOTTED) || (sub->flags & F_INLINE)) {
            return FAIL_AT(t,
                           parts[i].at,
                           "cannot add keys to '%.*s': it is already defined",
                           (int)(parts[i].n > 100 ? 100 : parts[i].n),
                           parts[i].s);
        }
        tab = sub;
    }
    key_part *last = &parts[np - 1];
    if (tab_get(t, tab, last->s, last->n))
        return FAIL_AT(
                t, last->at, "duplicate key '%.*s'", (int)(last->n > 100 ? 100 : last->n), last->s);
    skip_ws(t);
    if (peek(t, 0) != '=')
        return FAIL(t, "expected '=' after a key");
    t->p++;
    skip_ws(t);
    tv *v = NULL;
    if (!parse_value(t, &v))
        return false;
    tab_put(t, tab, last->s, last->n, v);
    (void)in_inline;
    return true;
}

// [a.b.c] or [[a.b.c]]: returns the table that following keys go into.
static bool table_header(tp *t, tv **cur)
{
    const char *hs = t->p;
    bool aot = peek(t, 1) == '[';
    t->p += aot ? 2 : 1;
    key_part parts[TOML_MAX_KEY_PARTS];
    size_t np;
    if (!parse_key(t, parts, &np))
        return false;
    if (aot) {
        if (peek(t, 0) != ']' || peek(t, 1) != ']')
            return FAIL(t, "expected ']]' to close an array-of-tables header");
        t->p += 2;
    } else {
        if (peek(t, 0) != ']')
            return FAIL(t, "expected ']' to close a table header");
        t->p++;
    }
    tv *tab = t->d->root;
    for (size_t i = 0; i + 1 < np; i++) {
        tv *sub = tab_get(t, tab, parts[i].s, parts[i].n);
        if (!sub) {
            sub = new_value(t, TV_TABLE, parts[i].at);
            sub->flags = F_IMPLICIT;
            tab_put(t, tab, parts[i].s, parts[i].n, sub);
        } else if (sub->type == TV_ARRAY && (sub->flags & F_AOT)) {
            sub = sub->items[sub->n - 1];
        } else if (sub->type != TV_TABLE || (sub->flags & F_INLINE)) {
            return FAIL_AT(t,
                           parts[i].at,
                           "'%.*s' is already defined as a %s",
                           (int)(parts[i].n > 100 ? 100 : parts[i].n),
                           parts[i].s,
                           sub->flags & F_INLINE ? "inline table" : toml_type_name(sub));
        }
        tab = sub;
    }
    key_part *last = &parts[np - 1];
    tv *ex = tab_get(t, tab, last->s, last->n);
    int nm = (int)(last->n > 100 ? 100 : last->n);
    if (aot) {
        tv *arr = ex;
        if (!arr) {
            arr = new_value(t, TV_ARRAY, hs);
            arr->flags = F_AOT;
            tab_put(t, tab, last->s, last->n, arr);
        } else if (arr->type != TV_ARRAY || !(arr->flags & F_AOT)) {
            return FAIL_AT(t,
                           last->at,
                           "cannot append to '%.*s': it is already defined as a %s",
                           nm,
                           last->s,
                           toml_type_name(arr));
        }
        tv *el = new_value(t, TV_TABLE, hs);
        el->flags = F_HEADER;
        arr_push(t, arr, el);
        *cur = el;
        return true;
    }
    if (ex) {
        if (ex->type != TV_TABLE || !(ex->flags == F_IMPLICIT))
            return FAIL_AT(t, last->at, "table '%.*s' is already defined", nm, last->s);
        ex->flags = F_HEADER;
        ex->line = t->line;
        ex->col = col_at(t, hs);
        *cur = ex;
        return true;
    }
    tv *nt = new_value(t, TV_TABLE, hs);
    nt->flags = F_HEADER;
    tab_put(t, tab, last->s, last->n, nt);
    *cur = nt;
    return true;
}

// The position of the first byte that is not valid UTF-8 (or n when all are).
static size_t first_invalid_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = i;
        // Find the next chunk boundary after a few characters and validate in pieces.
        uint32_t cp;
        size_t used = sk_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && !sk_utf8_valid(s + i, used))
            return k;
        i += used;
    }
    return n;
}

bool toml_parse(toml_doc *d, const char *data, size_t n, toml_err *err)
{
    tp t = { .d = d,
             .base = data,
             .p = data,
             .end = data + n,
             .line = 1,
             .line_start = data,
             .err = err,
             .failed = false,
             .depth = 0 };
    memset(err, 0, sizeof(*err));
    d->root = NULL;
    if (!sk_utf8_valid(data, n)) {
        size_t bad = first_invalid_utf8(data, n);
        for (size_t i = 0; i < bad; i++)
            if (data[i] == '\n') {
                t.line++;
                t.line_start = data + i + 1;
            }
        return FAIL_AT(&t, data + bad, "invalid UTF-8");
    }
    // A byte-order mark is allowed at the very start.
    if (n >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        t.p += 3;
        t.line_start = t.p;
    }
    tv *root = new_value(&t, TV_TABLE, t.p);
    root->flags = F_HEADER;
    d->root = root;
    tv *cur = root;
    for (;;) {
        if (!skip_ws_nl(&t))
            break;
        if (at_end(&t))
            return true;
        if (*t.p == '[') {
            if (!table_header(&t, &cur))
                break;
        } else if (!key_value(&t, cur, false)) {
            break;
        }
        if (!end_of_line(&t))
            break;
    }
    d->root = NULL;
    return false;
}
