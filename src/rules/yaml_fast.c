// A fast reader for the YAML that rules are written in, in front of libyaml (yaml_tree.c).
//
// Loading the 2,400 SigmaHQ Windows rules spent 40% of its time in libyaml's scanner. Rules use a
// small part of YAML: block mappings and sequences (a mapping may start inside a sequence item),
// plain scalars (continued on more-indented lines), one-line quoted scalars, `|` and `>` block
// scalars, comments and `---` between documents. This reader reads exactly that, line by line,
// and builds the same tree as the libyaml path (node kinds, resolved scalar types, texts, 1-based
// lines and character columns, document positions). Anything else (flow collections, anchors,
// aliases, tags, directives, multi-line quoted scalars, empty values, comments among continuation
// lines, tabs, CR, control or non-printable characters, invalid UTF-8, an escape it does not
// know...) makes it give up: it returns false and the caller parses the file with libyaml, which
// then also words any error. So its only effect is speed. tests/unit/test_yaml_fast.c checks its
// trees against libyaml's on every rule file of the project and the corpus (it reads 3,774 of
// SigmaHQ's 3,778), and tests/fuzz/fuzz_yaml_fast.c on arbitrary input.
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/utf.h"
#include "rules_int.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

// Nesting it reads itself (deeper files go to libyaml, which applies SK_MAX_DEPTH).
#define FAST_MAX_DEPTH 32u

// State shared by every copy of a reader position (parse functions look ahead on copies).
typedef struct fp_shared {
    // Nodes, texts and child arrays are carved from chunks of the file's arena here: a call
    // into the arena for each of them was an eighth of reading a rule file.
    char *bump;
    size_t left;
    // The last plain_key answer: the parse functions ask it twice for most keys (once to see
    // that a mapping starts, once to read it).
    size_t pk_at; // SIZE_MAX: none
    size_t pk_kend, pk_vstart;
    bool pk_ok;
} fp_shared;

typedef struct fp {
    yfile *f;
    const char *s;
    size_t n;
    size_t ls;            // current line: start offset
    size_t le;            // its end (the '\n' or n)
    size_t ind;           // its indentation (spaces before anything else)
    unsigned long lineno; // 1-based
    char *tmp;            // scratch for decoded scalars (n + 1 bytes)
    bool ascii;           // no byte >= 0x80 in the file: columns are byte offsets
    fp_shared *sh;
} fp;

static void set_line(fp *p, size_t start, unsigned long lineno)
{
    p->ls = start;
    p->lineno = lineno;
    const char *nl = start < p->n ? memchr(p->s + start, '\n', p->n - start) : NULL;
    p->le = nl ? (size_t)(nl - p->s) : p->n;
    size_t i = start;
    while (i < p->le && p->s[i] == ' ')
        i++;
    p->ind = i - start;
}

static bool at_eof(const fp *p)
{
    return p->ls >= p->n;
}

static void next_line(fp *p)
{
    set_line(p, p->le < p->n ? p->le + 1 : p->n, p->lineno + 1);
}

static size_t indent_of(const fp *p)
{
    return p->ind;
}

// Blank, or only a comment.
static bool line_empty(const fp *p)
{
    size_t i = p->ls + indent_of(p);
    return i == p->le || p->s[i] == '#';
}

// Moves to the next line with content (from the current one). False at the end.
static bool skip_empty(fp *p)
{
    while (!at_eof(p) && line_empty(p))
        next_line(p);
    return !at_eof(p);
}

// "---" or "..." at column 1, followed by the end of the line or a space.
static bool doc_marker(const fp *p, char c)
{
    const char *l = p->s + p->ls;
    size_t len = p->le - p->ls;
    return len >= 3 && l[0] == c && l[1] == c && l[2] == c && (len == 3 || l[3] == ' ');
}

// 1-based character column of byte offset off of the current line (libyaml counts characters).
static unsigned long col_of(const fp *p, size_t off)
{
    if (p->ascii)
        return (unsigned long)(off - p->ls) + 1;
    unsigned long c = 1;
    for (size_t i = p->ls; i < off; i++)
        c += ((unsigned char)p->s[i] & 0xC0) != 0x80;
    return c;
}

#define BUMP_ALIGN 8u
#define BUMP_CHUNK 4096u

// size bytes from the file's arena (aligned for pointers and integers).
static void *fp_alloc(fp *p, size_t size)
{
    fp_shared *sh = p->sh;
    size = (size + BUMP_ALIGN - 1) & ~(size_t)(BUMP_ALIGN - 1);
    if (sh->left < size) {
        size_t chunk = size > BUMP_CHUNK ? size : BUMP_CHUNK;
        sh->bump = sk_arena_alloc(&p->f->arena, chunk);
        sh->left = chunk;
    }
    void *r = sh->bump;
    sh->bump += size;
    sh->left -= size;
    return r;
}

// A node with room for extra bytes after it (a scalar's text).
static yn *new_node_x(fp *p, yn_type t, size_t off, size_t extra)
{
    yn *n = fp_alloc(p, sizeof(yn) + extra);
    *n = (yn){ .type = t, .line = p->lineno, .col = col_of(p, off) };
    return n;
}

static yn *new_node(fp *p, yn_type t, size_t off)
{
    return new_node_x(p, t, off, 0);
}

// A copy of text[0..len) with a NUL after it, in the arena.
static char *fp_strndup(fp *p, const char *text, size_t len)
{
    char *d = fp_alloc(p, len + 1);
    if (len)
        memcpy(d, text, len);
    d[len] = '\0';
    return d;
}

static yn *scalar(fp *p, size_t off, const char *text, size_t len, bool plain)
{
    yn *n = new_node_x(p, YN_SCALAR, off, len + 1);
    char *d = (char *)(n + 1);
    if (len)
        memcpy(d, text, len);
    d[len] = '\0';
    n->s = d;
    n->len = len;
    n->plain = plain;
    n->kind = YK_STR;
    if (plain)
        yn_resolve_plain(n);
    return n;
}

static void add_kid(yn *parent, yn *kid)
{
    if (parent->last)
        parent->last->next = kid;
    else
        parent->first = kid;
    parent->last = kid;
    parent->count++;
}

static void finish(fp *p, yn *n)
{
    n->kids = fp_alloc(p, n->count * sizeof(yn *));
    size_t i = 0;
    for (yn *k = n->first; k; k = k->next)
        n->kids[i++] = k;
    n->n = n->type == YN_MAP ? n->count / 2 : n->count;
}

// After a scalar that ends at i: only spaces, then the end of the line or a comment.
static bool rest_empty(const fp *p, size_t i)
{
    size_t j = i;
    while (j < p->le && p->s[j] == ' ')
        j++;
    return j == p->le || (p->s[j] == '#' && j > i);
}

// The first offset in [i, end) holding a or b, or end.
static size_t find2(const char *s, size_t i, size_t end, char a, char b)
{
#ifdef __SSE2__
    const __m128i va = _mm_set1_epi8(a), vb = _mm_set1_epi8(b);
    while (end - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)));
        if (m)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < end && s[i] != a && s[i] != b)
        i++;
    return i;
}

// A quoted scalar starting at i (its quote) and closing on the same line. *end: after the quote.
// Runs of plain characters are copied whole.
static bool quoted(fp *p, size_t i, size_t *end, const char **text, size_t *len)
{
    const char q = p->s[i];
    char *d = p->tmp;
    size_t dn = 0, j = i + 1;
    for (;;) {
        size_t k = q == '\'' ? find2(p->s, j, p->le, '\'', '\'') : find2(p->s, j, p->le, '"', '\\');
        memcpy(d + dn, p->s + j, k - j);
        dn += k - j;
        j = k;
        if (j >= p->le)
            return false; // continues on the next line
        char c = p->s[j];
        if (q == '\'') {
            if (j + 1 < p->le && p->s[j + 1] == '\'') {
                d[dn++] = '\'';
                j += 2;
                continue;
            }
            break;
        }
        if (c == '"')
            break;
        // a backslash
        if (j + 1 >= p->le)
            return false;
        char e = p->s[j + 1];
        j += 2;
        static const char from[] = "\\\"/ntr0abvfe";
        static const char to[] = "\\\"/\n\t\r\0\a\b\v\f\x1b";
        const char *x = memchr(from, e, sizeof from - 1);
        if (x) {
            d[dn++] = to[x - from];
            continue;
        }
        if (e != 'x' && e != 'u')
            return false;
        size_t digits = e == 'x' ? 2 : 4;
        if (p->le - j < digits)
            return false;
        uint32_t cp = 0;
        for (size_t h = 0; h < digits; h++) {
            char xc = p->s[j + h];
            int v = xc >= '0' && xc <= '9'   ? xc - '0'
                    : xc >= 'a' && xc <= 'f' ? xc - 'a' + 10
                    : xc >= 'A' && xc <= 'F' ? xc - 'A' + 10
                                             : -1;
            if (v < 0)
                return false;
            cp = cp << 4 | (uint32_t)v;
        }
        j += digits;
        if (cp >= 0x80 && (e == 'x' || cp < 0xA0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp >= 0xFFFE))
            return false;
        dn += sk_utf8_encode(d + dn, cp);
    }
    *end = j + 1;
    *text = d;
    *len = dn;
    return true;
}

static bool indicator(char c)
{
    switch (c) {
    case '-':
    case '?':
    case ':':
    case ',':
    case '[':
    case ']':
    case '{':
    case '}':
    case '#':
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case '\'':
    case '"':
    case '%':
    case '@':
    case '`':
    case '\0':
        return true;
    default:
        return false;
    }
}

// YAML allows an implicit key of at most 1024 characters up to its ':' (libyaml: "could not find
// expected ':'"). Counted in bytes here, which is never fewer: a longer key goes to libyaml.
#define KEY_MAX 1024u

// If a mapping key starts at i: its end (exclusive, trailing spaces dropped) and where its value
// starts (after ": " or at the end of the line). Plain keys only (quoted keys: the caller).
static bool plain_key_scan(const fp *p, size_t i, size_t *kend, size_t *vstart)
{
    if (i >= p->le || indicator(p->s[i]))
        return false;
    for (size_t j = i;; j++) {
        j = find2(p->s, j, p->le, ':', '#');
        if (j >= p->le)
            return false;
        char c = p->s[j];
        if (c == '#' && p->s[j - 1] == ' ')
            return false;
        if (c == ':' && (j + 1 == p->le || p->s[j + 1] == ' ')) {
            if (j - i > KEY_MAX)
                return false; // then no reading of the line is ours: libyaml says what it is
            size_t e = j;
            while (e > i && p->s[e - 1] == ' ')
                e--;
            *kend = e;
            *vstart = j + 1;
            return true;
        }
    }
}

static bool plain_key(const fp *p, size_t i, size_t *kend, size_t *vstart)
{
    fp_shared *sh = p->sh;
    if (sh->pk_at != i) {
        sh->pk_at = i;
        sh->pk_ok = plain_key_scan(p, i, &sh->pk_kend, &sh->pk_vstart);
    }
    *kend = sh->pk_kend;
    *vstart = sh->pk_vstart;
    return sh->pk_ok;
}

// A plain scalar value from i to the end of the line (or a comment).
static bool plain_value(const fp *p, size_t i, size_t *end)
{
    char c = p->s[i];
    if (indicator(c) && !(c == '-' && i + 1 < p->le && p->s[i + 1] != ' '))
        return false;
    size_t j = i;
    for (;; j++) {
        j = find2(p->s, j, p->le, ':', '#');
        if (j >= p->le)
            break;
        if (p->s[j] == '#' && p->s[j - 1] == ' ')
            break;
        if (p->s[j] == ':' && (j + 1 == p->le || p->s[j + 1] == ' '))
            return false; // a mapping where a value was expected: libyaml's error
    }
    while (j > i && p->s[j - 1] == ' ')
        j--;
    *end = j;
    return true;
}

// A plain scalar from i, and its continuation lines: lines indented more than parent fold into
// it, one space for a line break, a line break for each blank line between. Leaves the current
// line after it.
static yn *plain_lines(fp *p, size_t i, size_t parent)
{
    size_t end;
    if (!plain_value(p, i, &end))
        return NULL;
    const size_t ls = p->ls, first_end = end;
    const unsigned long lineno = p->lineno;
    char *d = NULL;
    size_t dn = 0;
    fp look = *p;
    next_line(&look);
    size_t blanks = 0;
    // A comment ends the scalar: a more-indented line after it is libyaml's error to report.
    bool commented = false;
    for (size_t k = end; k < p->le; k++)
        commented |= p->s[k] == '#';
    while (!commented && !at_eof(&look)) {
        size_t ind = indent_of(&look);
        if (look.ls + ind == look.le) {
            blanks++;
            next_line(&look);
            continue;
        }
        if (ind <= parent || doc_marker(&look, '-') || doc_marker(&look, '.'))
            break;
        size_t c = look.ls + ind, cend;
        if (look.s[c] == '#' || !plain_value(&look, c, &cend) || !rest_empty(&look, cend) ||
            memchr(look.s + c, '#', cend - c))
            return NULL; // comments around continuation lines: libyaml's rules
        if (!d) {
            d = p->tmp;
            memcpy(d, p->s + i, first_end - i);
            dn = first_end - i;
        }
        if (blanks == 0)
            d[dn++] = ' ';
        for (; blanks > 0; blanks--)
            d[dn++] = '\n';
        memcpy(d + dn, look.s + c, cend - c);
        dn += cend - c;
        for (size_t k = cend; k < look.le; k++)
            commented |= look.s[k] == '#';
        *p = look; // consumed up to here
        next_line(&look);
    }
    // The node is where the scalar starts (the first line).
    fp at = *p;
    at.ls = ls;
    at.lineno = lineno;
    yn *n = d ? scalar(&at, i, d, dn, true) : scalar(&at, i, p->s + i, first_end - i, true);
    next_line(p);
    return n;
}

// A sequence item's dash at offset i of the current line: "-" then a space or the line's end.
static bool dash_at(const fp *p, size_t i)
{
    return p->s[i] == '-' && (i + 1 == p->le || p->s[i + 1] == ' ');
}

// After an entry of a collection at column col: moves to the next line with content. 1 when it
// continues the collection (at col), 0 when the collection ends there (the end, a document
// marker, a smaller indentation), -1 when it is indented more (libyaml's to judge).
static int next_at(fp *p, size_t col)
{
    if (!skip_empty(p) || doc_marker(p, '-') || doc_marker(p, '.'))
        return 0;
    size_t ind = indent_of(p);
    return ind < col ? 0 : ind > col ? -1 : 1;
}

static yn *parse_node(fp *p, size_t col, size_t parent, unsigned depth);
static yn *parse_map(fp *p, size_t col, unsigned depth);
static yn *parse_seq(fp *p, size_t col, unsigned depth);

// A block scalar whose indicator is at i; its lines must be indented more than parent.
static yn *block_scalar(fp *p, size_t i, size_t parent)
{
    const char style = p->s[i];
    size_t j = i + 1;
    bool strip = false;
    if (j < p->le && p->s[j] == '-') {
        strip = true;
        j++;
    }
    if (!rest_empty(p, j) || (j < p->le && p->s[j] != ' '))
        return NULL;
    yn *n = new_node(p, YN_SCALAR, i);
    next_line(p);
    // The first line sets the indentation; leading blank lines are left to libyaml.
    if (at_eof(p) || p->ls == p->le)
        return NULL;
    size_t ind = indent_of(p);
    if (ind <= parent || p->ls + ind == p->le)
        return NULL;
    char *d = p->tmp;
    size_t dn = 0, blanks = 0;
    bool any = false, last_nl = false;
    while (!at_eof(p)) {
        size_t li = indent_of(p);
        if (p->ls + li == p->le) { // only spaces
            if (li > ind)
                return NULL;
            blanks++;
            last_nl = p->le < p->n;
            next_line(p);
            continue;
        }
        if (li < ind)
            break;
        if (style == '>' && li > ind)
            return NULL; // more-indented lines of a folded scalar keep their breaks
        if (any) {
            if (style == '|' || blanks > 0) {
                size_t k = style == '|' ? blanks + 1 : blanks;
                for (size_t b = 0; b < k; b++)
                    d[dn++] = '\n';
            } else {
                d[dn++] = ' ';
            }
        } else if (blanks) {
            return NULL;
        }
        memcpy(d + dn, p->s + p->ls + ind, p->le - p->ls - ind);
        dn += p->le - p->ls - ind;
        any = true;
        blanks = 0;
        last_nl = p->le < p->n;
        next_line(p);
    }
    if (blanks && !last_nl)
        return NULL; // trailing blank lines at the very end: libyaml's rules
    if (!strip && (last_nl || blanks))
        d[dn++] = '\n';
    n->s = fp_strndup(p, d, dn);
    n->len = dn;
    n->kind = YK_STR;
    return n;
}

// A value that starts at i on the current line (after "key: " or "- "). parent: the indentation
// of the mapping or sequence it belongs to. Leaves the current line after the value.
static yn *inline_value(fp *p, size_t i, size_t parent, bool in_seq)
{
    char c = p->s[i];
    if (c == '|' || c == '>')
        return in_seq ? NULL : block_scalar(p, i, parent);
    yn *n;
    if (c == '"' || c == '\'') {
        size_t end, len;
        const char *text;
        if (!quoted(p, i, &end, &text, &len) || !rest_empty(p, end))
            return NULL;
        n = scalar(p, i, text, len, false);
    } else {
        return plain_lines(p, i, parent);
    }
    next_line(p);
    return n;
}

// The value of a key or sequence item whose line has nothing after the indicator: the block
// node on the following lines (indented more than parent; or, for a mapping key, a sequence at
// the key's own indentation).
static yn *value_below(fp *p, size_t parent, bool key, unsigned depth)
{
    next_line(p);
    if (!skip_empty(p) || doc_marker(p, '-') || doc_marker(p, '.'))
        return NULL; // an empty value
    size_t ind = indent_of(p);
    size_t i = p->ls + ind;
    if (ind > parent)
        return parse_node(p, ind, parent, depth);
    if (key && ind == parent && dash_at(p, i))
        return parse_seq(p, ind, depth);
    return NULL;
}

// A block node starting at column col of the current line (its first character).
static yn *parse_node(fp *p, size_t col, size_t parent, unsigned depth)
{
    if (depth >= FAST_MAX_DEPTH)
        return NULL;
    size_t i = p->ls + col;
    size_t kend, vstart;
    if (dash_at(p, i))
        return parse_seq(p, col, depth);
    if (plain_key(p, i, &kend, &vstart) || p->s[i] == '"' || p->s[i] == '\'')
        return parse_map(p, col, depth);
    // A scalar on a line of its own: one line, and nothing more indented after it.
    if (p->s[i] == '|' || p->s[i] == '>')
        return NULL;
    yn *n = inline_value(p, i, parent, false);
    if (!n || (skip_empty(p) && indent_of(p) > parent))
        return NULL;
    return n;
}

// A mapping whose keys are at column col (the first on the current line, possibly after "- ").
static yn *parse_map(fp *p, size_t col, unsigned depth)
{
    yn *m = new_node(p, YN_MAP, p->ls + col);
    for (;;) {
        size_t i = p->ls + col, kend, vstart;
        yn *k;
        if (p->s[i] == '"' || p->s[i] == '\'') {
            size_t end, len;
            const char *text;
            if (!quoted(p, i, &end, &text, &len))
                return NULL;
            size_t j = end;
            while (j < p->le && p->s[j] == ' ')
                j++;
            if (j >= p->le || p->s[j] != ':' || (j + 1 < p->le && p->s[j + 1] != ' ') ||
                j - i > KEY_MAX)
                return NULL;
            k = scalar(p, i, text, len, false);
            vstart = j + 1;
        } else {
            if (!plain_key(p, i, &kend, &vstart))
                return NULL;
            k = scalar(p, i, p->s + i, kend - i, true);
        }
        add_kid(m, k);
        size_t v = vstart;
        while (v < p->le && p->s[v] == ' ')
            v++;
        yn *val;
        if (v == p->le || (p->s[v] == '#' && v > vstart))
            val = value_below(p, col, true, depth + 1);
        else
            val = inline_value(p, v, col, false);
        if (!val)
            return NULL;
        add_kid(m, val);
        int next = next_at(p, col);
        if (next < 0 || (next > 0 && dash_at(p, p->ls + col)))
            return NULL;
        if (next == 0)
            break;
    }
    finish(p, m);
    return m;
}

// A sequence whose dashes are at column col of the current line and the lines below.
static yn *parse_seq(fp *p, size_t col, unsigned depth)
{
    yn *sq = new_node(p, YN_SEQ, p->ls + col);
    for (;;) {
        size_t i = p->ls + col + 1;
        while (i < p->le && p->s[i] == ' ')
            i++;
        yn *item;
        size_t kend, vstart;
        if (i == p->le || p->s[i] == '#') {
            item = value_below(p, col, false, depth + 1);
        } else if (dash_at(p, i)) {
            return NULL; // a sequence in a sequence on one line
        } else if (plain_key(p, i, &kend, &vstart) || p->s[i] == '"' || p->s[i] == '\'') {
            // "- key: value" starts a mapping at the key's column, unless the quoted scalar
            // is just a value
            if (p->s[i] == '"' || p->s[i] == '\'') {
                size_t end, len;
                const char *text;
                if (!quoted(p, i, &end, &text, &len))
                    return NULL;
                if (rest_empty(p, end)) {
                    item = inline_value(p, i, col, true);
                    goto got;
                }
            }
            if (depth + 1 >= FAST_MAX_DEPTH)
                return NULL;
            item = parse_map(p, i - p->ls, depth + 1);
        } else {
            item = inline_value(p, i, col, true);
        }
    got:
        if (!item)
            return NULL;
        add_kid(sq, item);
        int next = next_at(p, col);
        if (next < 0)
            return NULL;
        if (next == 0 || !dash_at(p, p->ls + col))
            break; // the end, or the next key of the mapping this sequence is a value of
    }
    finish(p, sq);
    return sq;
}

// Only characters that libyaml reads the same way: printable ASCII, '\n', and valid UTF-8 of
// printable code points (no C1 controls, no BOM, no U+FFFE/U+FFFF).
static bool plain_text(const char *s, size_t n, bool *ascii)
{
    bool high = false;
    for (size_t i = 0; i < n; i++) {
#ifdef __SSE2__
        // Sixteen plain bytes at a time: none below 0x20 but '\n', none 0x7F, none >= 0x80 (a
        // signed compare puts those below 0x20 too). A block with any goes byte by byte.
        while (n - i >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i odd = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\n')),
                                                        _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))),
                                       _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7F)));
            if (_mm_movemask_epi8(odd))
                break;
            i += 16;
        }
        if (i == n)
            break;
#endif
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\n') || c == 0x7F)
            return false;
        if (c >= 0x80) {
            high = true;
            if (c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] < 0xA0)
                return false;
            if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBB &&
                (unsigned char)s[i + 2] == 0xBF)
                return false;
            if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF &&
                (unsigned char)s[i + 2] >= 0xBE)
                return false;
        }
    }
    *ascii = !high;
    return !high || sk_utf8_valid(s, n);
}

bool yfile_parse_fast(yfile *f, const char *data, size_t n)
{
    bool ascii = false;
    if (n == 0 || !plain_text(data, n, &ascii))
        return false;
    fp_shared sh = { .bump = NULL, .left = 0, .pk_at = SIZE_MAX };
    fp p = { .f = f, .s = data, .n = n, .ascii = ascii, .sh = &sh };
    p.tmp = sk_xmalloc(n + 1);
    set_line(&p, 0, 1);
    bool ok = false;
    if (!skip_empty(&p) || p.s[p.ls] == '%')
        goto out;
    for (;;) {
        unsigned long dl, dc;
        if (doc_marker(&p, '-')) {
            if (p.le != p.ls + 3 && !rest_empty(&p, p.ls + 3))
                goto out; // content after "---"
            dl = p.lineno;
            dc = 1;
            next_line(&p);
            if (!skip_empty(&p) || doc_marker(&p, '-') || doc_marker(&p, '.'))
                goto out; // an empty document
        } else {
            if (indent_of(&p) != 0 || doc_marker(&p, '.'))
                goto out;
            dl = p.lineno;
            dc = 1;
        }
        if (indent_of(&p) != 0)
            goto out;
        sk_xgrow((void **)&f->docs, &f->cap, f->ndocs + 1, sizeof(ydoc));
        ydoc *d = &f->docs[f->ndocs++];
        memset(d, 0, sizeof(*d));
        d->line = dl;
        d->col = dc;
        size_t kend, vstart;
        size_t i = p.ls;
        if (!dash_at(&p, i) && !plain_key(&p, i, &kend, &vstart) && p.s[i] != '"' && p.s[i] != '\'')
            goto out; // a document that is a single scalar
        d->root = parse_node(&p, 0, 0, 0);
        if (!d->root)
            goto out;
        if (!skip_empty(&p))
            break;
        if (!doc_marker(&p, '-'))
            goto out;
    }
    ok = true;
out:
    free(p.tmp);
    if (!ok) {
        f->ndocs = 0; // what was built stays in the arena until the file is done
    }
    return ok;
}
