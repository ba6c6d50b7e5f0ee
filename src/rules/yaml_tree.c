// YAML → node tree, from libyaml's event API. We build our own tree instead of using libyaml's
// document API for two reasons: every node keeps its 1-based line and column for diagnostics, and
// an alias is refused where it appears (so no billion-laughs expansion can ever happen, and no node
// is shared between two places of a rule). All nodes live in the file's arena. Most rule files
// never reach libyaml: yaml_fast.c reads the YAML rules are usually written in and builds the
// same tree, and leaves every other file to the libyaml path here.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/limits.h"
#include "core/mem.h"
#include "rules_int.h"

void yfile_init(yfile *f)
{
    memset(f, 0, sizeof(*f));
    sk_arena_init(&f->arena, 64 * 1024);
}

void yfile_fini(yfile *f)
{
    for (size_t i = 0; i < f->ndocs; i++)
        free(f->docs[i].err_msg);
    free(f->docs);
    sk_arena_fini(&f->arena);
    memset(f, 0, sizeof(*f));
}

static ydoc *new_doc(yfile *f, const yaml_mark_t *m)
{
    sk_xgrow((void **)&f->docs, &f->cap, f->ndocs + 1, sizeof(ydoc));
    ydoc *d = &f->docs[f->ndocs++];
    memset(d, 0, sizeof(*d));
    d->line = m->line + 1;
    d->col = m->column + 1;
    return d;
}

static void
doc_fail(ydoc *d, const char *code, unsigned long line, unsigned long col, const char *fmt, ...)
        SK_PRINTF(5, 6);

static void
doc_fail(ydoc *d, const char *code, unsigned long line, unsigned long col, const char *fmt, ...)
{
    if (d->err_code)
        return; // keep the first problem
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->err_code = code;
    d->err_msg = sk_xstrdup(msg);
    d->err_line = line;
    d->err_col = col;
}

// s[0..n) is one of words[0..count), all of length n.
static bool eq_any(const char *s, size_t n, const char *const *words, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (memcmp(words[i], s, n) == 0)
            return true;
    return false;
}

// YAML 1.2 core schema resolution for plain scalars (plus the capitalised forms).
void yn_resolve_plain(yn *n)
{
    static const char *const nulls[] = { "null", "Null", "NULL" };
    static const char *const trues[] = { "true", "True", "TRUE" };
    static const char *const falses[] = { "false", "False", "FALSE" };
    const char *s = n->s;
    size_t len = n->len;
    if (len > 5 && !(s[0] == '-' || s[0] == '+' || s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
        return; // not a null, boolean or number: a string (most scalars)
    if (len == 0 || (len == 1 && s[0] == '~') || (len == 4 && eq_any(s, len, nulls, 3))) {
        n->kind = YK_NULL;
        return;
    }
    if (len == 4 && eq_any(s, len, trues, 3)) {
        n->kind = YK_BOOL;
        n->bval = true;
        return;
    }
    if (len == 5 && eq_any(s, len, falses, 3)) {
        n->kind = YK_BOOL;
        n->bval = false;
        return;
    }
    size_t i = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    size_t digits = 0, dots = 0;
    for (; i < len; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else
            break;
    }
    if (i == len && digits > 0) {
        if (dots == 0)
            n->kind = YK_INT;
        else if (dots == 1)
            n->kind = YK_FLOAT;
    }
}

typedef struct builder {
    yfile *f;
    ydoc *doc;
    yn *stack[SK_MAX_DEPTH + 1];
    size_t depth;
    size_t skip; // nesting levels being skipped (too deep)
} builder;

static yn *new_node(builder *b, yn_type t, const yaml_mark_t *m)
{
    yn *n = sk_arena_alloc(&b->f->arena, sizeof(yn));
    memset(n, 0, sizeof(*n));
    n->type = t;
    n->line = m->line + 1;
    n->col = m->column + 1;
    return n;
}

static void attach(builder *b, yn *n)
{
    if (b->depth == 0) {
        if (!b->doc->root)
            b->doc->root = n;
        return;
    }
    yn *p = b->stack[b->depth - 1];
    if (p->last)
        p->last->next = n;
    else
        p->first = n;
    p->last = n;
    p->count++;
}

static void finish_container(builder *b, yn *n)
{
    size_t cnt = n->count;
    n->kids = NULL;
    n->n = 0;
    if (cnt == 0)
        return;
    n->kids = sk_arena_alloc(&b->f->arena, cnt * sizeof(yn *));
    size_t i = 0;
    for (yn *k = n->first; k && i < cnt; k = k->next)
        n->kids[i++] = k;
    // A map holds key, value, key, value... (an odd count only after a syntax error, and then
    // the document is refused anyway).
    n->n = n->type == YN_MAP ? cnt / 2 : cnt;
}

static int cmp_key(const void *a, const void *b)
{
    const yn *x = *(const yn *const *)a, *y = *(const yn *const *)b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->s, y->s, x->len);
    if (c)
        return c;
    return x->line != y->line ? (x->line < y->line ? -1 : 1) : (x->col < y->col ? -1 : 1);
}

static bool same_key(const yn *a, const yn *b)
{
    return a->type == YN_SCALAR && b->type == YN_SCALAR && a->len == b->len &&
           memcmp(a->s, b->s, a->len) == 0;
}

// YAML keys are unique within a map (YAML 1.2, 3.2.1.1). Parsers disagree on a duplicate (PyYAML,
// and so pySigma, keeps the last value; the tree here would keep both, and lookups the first),
// so a duplicate makes the document unusable, located at its second occurrence.
static void check_dup_keys(sk_arena *a, ydoc *d, const yn *n)
{
    if (!n || n->type == YN_SCALAR || d->err_code)
        return;
    if (n->type == YN_MAP && n->n > 1) {
        const yn *dup = NULL, *first = NULL;
        if (n->n <= 16) {
            for (size_t i = 1; i < n->n && !dup; i++)
                for (size_t j = 0; j < i; j++)
                    if (same_key(n->kids[2 * i], n->kids[2 * j])) {
                        dup = n->kids[2 * i];
                        first = n->kids[2 * j];
                        break;
                    }
        } else {
            const yn **keys = sk_arena_alloc(a, n->n * sizeof *keys);
            size_t k = 0;
            for (size_t i = 0; i < n->n; i++)
                if (n->kids[2 * i]->type == YN_SCALAR)
                    keys[k++] = n->kids[2 * i];
            qsort(keys, k, sizeof *keys, cmp_key);
            for (size_t i = 1; i < k; i++)
                if (same_key(keys[i], keys[i - 1]) &&
                    (!dup || keys[i]->line < dup->line ||
                     (keys[i]->line == dup->line && keys[i]->col < dup->col))) {
                    dup = keys[i];
                    first = keys[i - 1];
                }
        }
        if (dup && first) { // set together
            doc_fail(d,
                     "yaml-duplicate-key",
                     dup->line,
                     dup->col,
                     "duplicate key '%.*s' (first at line %lu)",
                     (int)(dup->len > 100 ? 100 : dup->len),
                     dup->s,
                     first->line);
            return;
        }
    }
    // Scalars (most nodes) have nothing to check: not called for.
    for (size_t i = 0; i < (n->type == YN_MAP ? 2 * n->n : n->n); i++)
        if (n->kids[i] && n->kids[i]->type != YN_SCALAR)
            check_dup_keys(a, d, n->kids[i]);
}

void yfile_parse(yfile *f, const char *data, size_t n)
{
    // The tree takes about seven times the text (at most eleven in SigmaHQ): one block sized by
    // the file, instead of a fixed 64 KiB that glibc would hand back and fault in again per file.
    if (!f->arena.head)
        f->arena.block_size = n < (1u << 17) ? 8 * n + 4096 : 1u << 20;
    if (!yfile_parse_fast(f, data, n))
        yfile_parse_libyaml(f, data, n);
    for (size_t i = 0; i < f->ndocs; i++)
        check_dup_keys(&f->arena, &f->docs[i], f->docs[i].root);
}

// The line and character column (0-based, as libyaml's marks) of byte off of data[0..n).
static yaml_mark_t mark_at(const char *data, size_t n, size_t off)
{
    yaml_mark_t m = { .index = off };
    if (off > n)
        off = n;
    for (size_t i = 0; i < off; i++) {
        if (data[i] == '\n') {
            m.line++;
            m.column = 0;
        } else if (((unsigned char)data[i] & 0xC0) != 0x80) {
            m.column++;
        }
    }
    return m;
}

void yfile_parse_libyaml(yfile *f, const char *data, size_t n)
{
    yaml_parser_t p;
    yaml_event_t ev;
    builder b;
    memset(&b, 0, sizeof(b));
    b.f = f;
    if (!yaml_parser_initialize(&p))
        return;
    yaml_parser_set_input_string(&p, (const unsigned char *)data, n);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_mark_t m = p.problem_mark;
            if (p.error == YAML_READER_ERROR) // a bad byte: libyaml gives its offset only
                m = mark_at(data, n, p.problem_offset);
            if (!b.doc)
                b.doc = new_doc(f, &m);
            char msg[400];
            if (p.context)
                snprintf(msg,
                         sizeof msg,
                         "invalid YAML: %s %s",
                         p.problem ? p.problem : "error",
                         p.context);
            else
                snprintf(msg, sizeof msg, "invalid YAML: %s", p.problem ? p.problem : "error");
            doc_fail(b.doc, "yaml-syntax", m.line + 1, m.column + 1, "%s", msg);
            break;
        }
        yaml_event_type_t t = ev.type;
        switch (t) {
        case YAML_DOCUMENT_START_EVENT:
            b.doc = new_doc(f, &ev.start_mark);
            b.depth = 0;
            b.skip = 0;
            break;
        case YAML_DOCUMENT_END_EVENT:
            b.doc = NULL;
            break;
        case YAML_ALIAS_EVENT:
            if (b.doc) {
                doc_fail(b.doc,
                         "yaml-alias",
                         ev.start_mark.line + 1,
                         ev.start_mark.column + 1,
                         "YAML alias '*%s' is not allowed in rules",
                         ev.data.alias.anchor ? (const char *)ev.data.alias.anchor : "");
                if (!b.skip) {
                    yn *nn = new_node(&b, YN_SCALAR, &ev.start_mark);
                    nn->kind = YK_NULL;
                    nn->s = "";
                    attach(&b, nn);
                }
            }
            break;
        case YAML_SCALAR_EVENT:
            if (b.doc && !b.skip) {
                yn *nn = new_node(&b, YN_SCALAR, &ev.start_mark);
                nn->s = sk_arena_strndup(
                        &f->arena, (const char *)ev.data.scalar.value, ev.data.scalar.length);
                nn->len = ev.data.scalar.length;
                nn->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                nn->kind = YK_STR;
                const char *tag = (const char *)ev.data.scalar.tag;
                if (tag && strcmp(tag, "tag:yaml.org,2002:null") == 0)
                    nn->kind = YK_NULL;
                else if (!tag && nn->plain)
                    yn_resolve_plain(nn);
                attach(&b, nn);
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (!b.doc)
                break;
            if (b.skip || b.depth >= SK_MAX_DEPTH) {
                if (!b.skip)
                    doc_fail(b.doc,
                             "yaml-limit",
                             ev.start_mark.line + 1,
                             ev.start_mark.column + 1,
                             "YAML nesting deeper than %u levels",
                             (unsigned)SK_MAX_DEPTH);
                b.skip++;
                break;
            }
            {
                yn *nn = new_node(
                        &b, t == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP, &ev.start_mark);
                attach(&b, nn);
                b.stack[b.depth++] = nn;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (!b.doc)
                break;
            if (b.skip) {
                b.skip--;
                break;
            }
            if (b.depth > 0)
                finish_container(&b, b.stack[--b.depth]);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    // Close containers left open by a syntax error so the partial tree is consistent.
    while (b.depth > 0)
        finish_container(&b, b.stack[--b.depth]);
    yaml_parser_delete(&p);
}

yn *yn_get(const yn *m, const char *key)
{
    if (!m || m->type != YN_MAP)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < m->n; i++) {
        const yn *k = m->kids[2 * i];
        if (k->type == YN_SCALAR && k->len == kl && (kl == 0 || k->s[0] == key[0]) &&
            memcmp(k->s, key, kl) == 0)
            return m->kids[2 * i + 1];
    }
    return NULL;
}

const char *yn_type_name(const yn *n)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YN_SEQ:
        return "a list";
    case YN_MAP:
        return "a map";
    case YN_SCALAR:
        break;
    }
    switch (n->kind) {
    case YK_NULL:
        return "null";
    case YK_BOOL:
        return "a boolean";
    case YK_INT:
    case YK_FLOAT:
        return "a number";
    case YK_STR:
        break;
    }
    return "a string";
}
