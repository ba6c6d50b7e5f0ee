// Compiler: a rule's YAML detection and logsource → flat compiled structures (selections of
// alternatives of items, each item a list of values, each value the OR of compiled predicates).
//
// Modifiers are handled as pySigma applies them, left to right:
//   transforms  expand, windash, wide/utf16le/utf16be/utf16, base64, base64offset  (rewrite values)
//   match type  contains, startswith, endswith, re, cidr, lt/lte/gt/gte, exists, fieldref
//   flags       all, cased, i/m/s (after re; also ignorecase/multiline/dotall)
//   time parts  minute, hour, day, week, month, year (extract a number from a timestamp field)
//   negation    neq: the whole item negated (pySigma), so it combines with every match type, a
//               time part and null; with fieldref it negates the comparison of each pair
// Combinations pySigma refuses are refused here too ("unsupported-modifier-combination"): an
// encoding after contains/startswith/endswith (it would encode the wildcards), anything before re
// or cidr, exists with anything (neq too: exists: false is the negation), two different match
// types.
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/limits.h"
#include "core/mem.h"
#include "rules_int.h"

static bool errf(load_err *e, const char *code, const yn *at, const char *fmt, ...) SK_PRINTF(4, 5);

static bool errf(load_err *e, const char *code, const yn *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    e->line = at ? at->line : 0;
    e->col = at ? at->col : 0;
    return false;
}

static void keep_vm(compile_ctx *cx, sk_vm *vm)
{
    sk_xgrow((void **)&cx->vms, &cx->capvms, cx->nvms + 1, sizeof(sk_vm *));
    cx->vms[cx->nvms++] = vm;
}

// ---------------------------------------------------------------------------------------------
// Logsource

// The longest "product:... category:... service:..." text kept for a rule.
#define LOGSOURCE_MAX_TEXT 4096u

static const char *scalar_str(const yn *n)
{
    return n && n->type == YN_SCALAR && n->kind != YK_NULL ? n->s : NULL;
}

bool rule_compile_logsource(
        compile_ctx *cx, sk_rule *r, const yn *ls, const yn *doc_root, load_err *err)
{
    sk_ruleset *rs = cx->rs;
    if (!ls)
        return errf(err, "missing-logsource", doc_root, "rule has no 'logsource'");
    if (ls->type != YN_MAP)
        return errf(
                err, "bad-logsource", ls, "'logsource' must be a map, not %s", yn_type_name(ls));
    const yn *product = NULL, *category = NULL, *service = NULL;
    for (size_t i = 0; i < ls->n; i++) {
        const yn *k = ls->kids[2 * i], *v = ls->kids[2 * i + 1];
        const char *key = scalar_str(k);
        if (!key)
            return errf(err, "bad-logsource", k, "logsource keys must be strings");
        bool known = true;
        if (strcmp(key, "product") == 0)
            product = v;
        else if (strcmp(key, "category") == 0)
            category = v;
        else if (strcmp(key, "service") == 0)
            service = v;
        else if (strcmp(key, "definition") != 0)
            known = false;
        if (!known)
            return errf(err,
                        "unsupported-logsource",
                        k,
                        "unsupported logsource key '%s' (saker knows product, category, service "
                        "and definition)",
                        key);
        if (strcmp(key, "definition") != 0 && (v->type != YN_SCALAR || v->kind == YK_NULL))
            return errf(err,
                        "bad-logsource",
                        v,
                        "logsource '%s' must be a string, not %s",
                        key,
                        yn_type_name(v));
    }
    const char *p = scalar_str(product), *c = scalar_str(category), *s = scalar_str(service);
    sk_buf text;
    sk_buf_init(&text, LOGSOURCE_MAX_TEXT);
    // "product:P category:C service:S", the parts present (appended, not printed: 2,400
    // printf calls were 1.6% of loading SigmaHQ).
    static const char *const label[3] = { "product:", "category:", "service:" };
    const char *part[3] = { p, c, s };
    sk_status st = SK_OK;
    for (size_t k = 0; k < 3 && st == SK_OK; k++) {
        if (!part[k])
            continue;
        if (text.n)
            st = sk_buf_addc(&text, ' ');
        if (st == SK_OK)
            st = sk_buf_adds(&text, label[k]);
        if (st == SK_OK)
            st = sk_buf_adds(&text, part[k]);
    }
    if (st != SK_OK) {
        // No real logsource comes near this; a cut text would name a logsource nobody wrote.
        sk_buf_fini(&text);
        return errf(err,
                    "bad-logsource",
                    ls,
                    "logsource values are longer than %u bytes in all",
                    LOGSOURCE_MAX_TEXT);
    }
    r->logsource = rs_strdup(rs, sk_buf_str(&text));
    sk_buf_fini(&text);

    ls_source src[4];
    const char *why = NULL;
    size_t n = ls_resolve(p, c, s, src, 4, &why);
    if (n == 0) {
        const yn *at = ls;
        if (why && strcmp(why, "product") == 0)
            at = product;
        else if (why && strcmp(why, "category") == 0)
            at = category;
        else if (why && strcmp(why, "service") == 0)
            at = service ? service : category;
        return errf(err,
                    "unsupported-logsource",
                    at,
                    "unsupported logsource '%s'%s",
                    r->logsource,
                    why && strcmp(why, "product") == 0 ? " (saker reads Windows event logs)" : "");
    }
    r->sources = rs_alloc(rs, n * sizeof(csource));
    r->nsources = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        csource *d = &r->sources[i];
        d->label = src[i].label;
        if (src[i].channels) {
            size_t nc = 0;
            while (src[i].channels[nc])
                nc++;
            d->chans = rs_alloc(rs, nc * sizeof(uint32_t));
            d->chan_names = rs_alloc(rs, nc * sizeof(char *));
            for (size_t j = 0; j < nc; j++) {
                d->chans[j] = rs_intern_chan(rs, src[i].channels[j], strlen(src[i].channels[j]));
                d->chan_names[j] = src[i].channels[j];
            }
            d->nchans = (uint32_t)nc;
        }
        if (src[i].neids) {
            d->eids = rs_alloc(rs, src[i].neids * sizeof(uint32_t));
            memcpy(d->eids, src[i].eids, src[i].neids * sizeof(uint32_t));
            d->neids = (uint32_t)src[i].neids;
        }
        d->cond_fid = UINT32_MAX;
        if (src[i].cond_field) {
            d->cond_field = src[i].cond_field;
            d->cond_fid = rs_intern_name(rs, d->cond_field, strlen(d->cond_field));
            size_t nv = 0;
            while (src[i].cond_values[nv])
                nv++;
            d->cond_values = rs_alloc(rs, nv * sizeof(char *));
            for (size_t j = 0; j < nv; j++)
                d->cond_values[j] = src[i].cond_values[j];
            d->ncond_values = (uint32_t)nv;
        }
        if (src[i].renames) {
            size_t nr = 0;
            while (src[i].renames[nr].from)
                nr++;
            d->ren_from = rs_alloc(rs, nr * sizeof(uint32_t));
            d->ren_to = rs_alloc(rs, nr * sizeof(uint32_t));
            d->ren_from_names = rs_alloc(rs, nr * sizeof(char *));
            d->ren_to_names = rs_alloc(rs, nr * sizeof(char *));
            for (size_t j = 0; j < nr; j++) {
                const ls_rename *rn = &src[i].renames[j];
                d->ren_from[j] = rs_intern_name(rs, rn->from, strlen(rn->from));
                d->ren_to[j] = rs_intern_name(rs, rn->to, strlen(rn->to));
                d->ren_from_names[j] = rn->from;
                d->ren_to_names[j] = rn->to;
            }
            d->nren = (uint32_t)nr;
        }
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Modifiers

typedef enum mod_id {
    M_CONTAINS,
    M_STARTSWITH,
    M_ENDSWITH,
    M_ALL,
    M_RE,
    M_I,
    M_M,
    M_S,
    M_CIDR,
    M_BASE64,
    M_BASE64OFFSET,
    M_WIDE,
    M_UTF16LE,
    M_UTF16BE,
    M_UTF16,
    M_WINDASH,
    M_CASED,
    M_EXISTS,
    M_FIELDREF,
    M_EXPAND,
    M_GT,
    M_GTE,
    M_LT,
    M_LTE,
    M_NEQ,
    M_MINUTE,
    M_HOUR,
    M_DAY,
    M_WEEK,
    M_MONTH,
    M_YEAR,
} mod_id;

static const struct {
    const char *name;
    size_t len; // strlen(name)
    mod_id id;
} mod_names[] = {
    { "contains", 8, M_CONTAINS },
    { "startswith", 10, M_STARTSWITH },
    { "endswith", 8, M_ENDSWITH },
    { "all", 3, M_ALL },
    { "re", 2, M_RE },
    { "i", 1, M_I },
    { "ignorecase", 10, M_I },
    { "m", 1, M_M },
    { "multiline", 9, M_M },
    { "s", 1, M_S },
    { "dotall", 6, M_S },
    { "cidr", 4, M_CIDR },
    { "base64", 6, M_BASE64 },
    { "base64offset", 12, M_BASE64OFFSET },
    { "wide", 4, M_WIDE },
    { "utf16le", 7, M_UTF16LE },
    { "utf16be", 7, M_UTF16BE },
    { "utf16", 5, M_UTF16 },
    { "windash", 7, M_WINDASH },
    { "cased", 5, M_CASED },
    { "exists", 6, M_EXISTS },
    { "fieldref", 8, M_FIELDREF },
    { "expand", 6, M_EXPAND },
    { "gt", 2, M_GT },
    { "gte", 3, M_GTE },
    { "lt", 2, M_LT },
    { "lte", 3, M_LTE },
    { "neq", 3, M_NEQ },
    { "minute", 6, M_MINUTE },
    { "hour", 4, M_HOUR },
    { "day", 3, M_DAY },
    { "week", 4, M_WEEK },
    { "month", 5, M_MONTH },
    { "year", 4, M_YEAR },
};

#define MAX_MODS 16

typedef enum match_type {
    MT_NONE,
    MT_CONTAINS,
    MT_STARTSWITH,
    MT_ENDSWITH,
    MT_RE,
    MT_CIDR,
    MT_GT,
    MT_GTE,
    MT_LT,
    MT_LTE,
    MT_EXISTS,
} match_type;

// The parsed modifier chain of one detection key.
typedef struct mods {
    mod_id xf[MAX_MODS]; // transforms in order
    size_t nxf;
    match_type mt;
    bool all, cased, re_i, re_m, re_s, fieldref, neq;
    time_part tpart;
} mods;

static bool is_encoding(mod_id m)
{
    return m == M_BASE64 || m == M_BASE64OFFSET || m == M_WIDE || m == M_UTF16LE ||
           m == M_UTF16BE || m == M_UTF16;
}

static const char *mt_name(match_type m)
{
    switch (m) {
    case MT_NONE:
        return "equals";
    case MT_CONTAINS:
        return "contains";
    case MT_STARTSWITH:
        return "startswith";
    case MT_ENDSWITH:
        return "endswith";
    case MT_RE:
        return "re";
    case MT_CIDR:
        return "cidr";
    case MT_GT:
        return "gt";
    case MT_GTE:
        return "gte";
    case MT_LT:
        return "lt";
    case MT_LTE:
        return "lte";
    case MT_EXISTS:
        return "exists";
    }
    return "?";
}

// Parses "Field|mod|mod" (key node k). Writes the field part to *field/*flen.
static bool parse_mods(const yn *k, const char **field, size_t *flen, mods *m, load_err *err)
{
    memset(m, 0, sizeof(*m));
    const char *s = k->s;
    const char *bar = memchr(s, '|', k->len);
    *field = s;
    *flen = bar ? (size_t)(bar - s) : k->len;
    if (!bar)
        return true;
    const char *p = bar + 1, *end = s + k->len;
    size_t count = 0;
    bool any_mod_before = false; // any modifier seen so far (for re/cidr/exists)
    for (;;) {
        const char *q = memchr(p, '|', (size_t)(end - p));
        size_t n = q ? (size_t)(q - p) : (size_t)(end - p);
        int found = -1;
        for (size_t i = 0; i < sizeof mod_names / sizeof mod_names[0]; i++)
            if (mod_names[i].len == n && memcmp(mod_names[i].name, p, n) == 0)
                found = (int)i;
        if (found < 0) {
            errf(err,
                 "unknown-modifier",
                 k,
                 "unknown modifier '%.*s' in '%.*s'",
                 (int)n,
                 p,
                 (int)k->len,
                 s);
            // The caret under the modifier itself, where the key is written as it reads.
            if (k->plain && err->col)
                for (const char *c = s; c < p; c++)
                    err->col += ((unsigned char)*c & 0xC0) != 0x80;
            return false;
        }
        if (++count > MAX_MODS)
            return errf(
                    err, "unsupported-modifier-combination", k, "too many modifiers in '%s'", s);
        mod_id id = mod_names[found].id;
        const char *name = mod_names[found].name;
        match_type want = MT_NONE;
        switch (id) {
        case M_CONTAINS:
            want = MT_CONTAINS;
            break;
        case M_STARTSWITH:
            want = MT_STARTSWITH;
            break;
        case M_ENDSWITH:
            want = MT_ENDSWITH;
            break;
        case M_GT:
            want = MT_GT;
            break;
        case M_GTE:
            want = MT_GTE;
            break;
        case M_LT:
            want = MT_LT;
            break;
        case M_LTE:
            want = MT_LTE;
            break;
        case M_RE:
        case M_CIDR:
        case M_EXISTS:
            if (any_mod_before)
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifier '%s' must come first in '%s' (it applies to the value as "
                            "written)",
                            name,
                            s);
            want = id == M_RE ? MT_RE : id == M_CIDR ? MT_CIDR : MT_EXISTS;
            break;
        case M_ALL:
            m->all = true;
            break;
        case M_CASED:
            m->cased = true;
            break;
        case M_I:
        case M_M:
        case M_S:
            if (m->mt != MT_RE)
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifier '%s' needs 're' before it in '%s'",
                            name,
                            s);
            if (id == M_I)
                m->re_i = true;
            else if (id == M_M)
                m->re_m = true;
            else
                m->re_s = true;
            break;
        case M_FIELDREF:
            m->fieldref = true;
            break;
        case M_NEQ:
            m->neq = true;
            break;
        case M_MINUTE:
        case M_HOUR:
        case M_DAY:
        case M_WEEK:
        case M_MONTH:
        case M_YEAR:
            if (m->tpart != TP_NONE)
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "more than one time modifier in '%s'",
                            s);
            m->tpart = id == M_MINUTE  ? TP_MINUTE
                       : id == M_HOUR  ? TP_HOUR
                       : id == M_DAY   ? TP_DAY
                       : id == M_WEEK  ? TP_WEEK
                       : id == M_MONTH ? TP_MONTH
                                       : TP_YEAR;
            break;
        case M_BASE64:
        case M_BASE64OFFSET:
        case M_WIDE:
        case M_UTF16LE:
        case M_UTF16BE:
        case M_UTF16:
        case M_WINDASH:
        case M_EXPAND:
            if (m->mt == MT_RE || m->mt == MT_CIDR || m->mt == MT_EXISTS || m->fieldref ||
                m->tpart || (m->mt >= MT_GT && m->mt <= MT_LTE))
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifier '%s' cannot follow '%s' in '%s'",
                            name,
                            m->fieldref ? "fieldref"
                            : m->tpart  ? "a time modifier"
                                        : mt_name(m->mt),
                            s);
            if (is_encoding(id) &&
                (m->mt == MT_CONTAINS || m->mt == MT_STARTSWITH || m->mt == MT_ENDSWITH))
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifier '%s' cannot follow '%s' in '%s' (it would encode the "
                            "wildcards; write '%s' after it)",
                            name,
                            mt_name(m->mt),
                            s,
                            mt_name(m->mt));
            m->xf[m->nxf++] = id;
            break;
        }
        if (want != MT_NONE) {
            if (m->mt == MT_EXISTS)
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifier 'exists' cannot be combined with '%s' in '%s'",
                            name,
                            s);
            bool re_anchor = m->mt == MT_RE &&
                             (want == MT_CONTAINS || want == MT_STARTSWITH || want == MT_ENDSWITH);
            if (re_anchor) {
                // re|startswith etc.: pySigma anchors the expression; handled at compile time via
                // the transform list (recorded as a pseudo transform).
                m->xf[m->nxf++] = want == MT_CONTAINS     ? M_CONTAINS
                                  : want == MT_STARTSWITH ? M_STARTSWITH
                                                          : M_ENDSWITH;
            } else if (m->mt != MT_NONE && m->mt != want) {
                return errf(err,
                            "unsupported-modifier-combination",
                            k,
                            "modifiers '%s' and '%s' cannot be combined in '%s'",
                            mt_name(m->mt),
                            name,
                            s);
            } else {
                m->mt = want;
            }
        }
        any_mod_before = true;
        if (!q)
            break;
        p = q + 1;
    }
    // Whole-chain checks.
    if (m->mt == MT_EXISTS && (m->all || m->cased || m->fieldref || m->neq || m->tpart))
        return errf(err,
                    "unsupported-modifier-combination",
                    k,
                    "modifier 'exists' cannot be combined with other modifiers in '%s'",
                    s);
    if (m->fieldref && (m->mt == MT_RE || m->mt == MT_CIDR || (m->mt >= MT_GT && m->mt <= MT_LTE)))
        return errf(err,
                    "unsupported-modifier-combination",
                    k,
                    "modifier 'fieldref' cannot be combined with '%s' in '%s'",
                    mt_name(m->mt),
                    s);
    if (m->fieldref && m->tpart)
        return errf(err,
                    "unsupported-modifier-combination",
                    k,
                    "modifier 'fieldref' cannot be combined with a time modifier in '%s'",
                    s);
    if (m->tpart && (m->mt == MT_CONTAINS || m->mt == MT_STARTSWITH || m->mt == MT_ENDSWITH ||
                     m->mt == MT_RE || m->mt == MT_CIDR))
        return errf(err,
                    "unsupported-modifier-combination",
                    k,
                    "a time modifier cannot be combined with '%s' in '%s'",
                    mt_name(m->mt),
                    s);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Values

// Text of a scalar as Sigma compares it: numbers in their canonical decimal form, booleans as
// true/false, strings as written.
static void scalar_text(const yn *v, sk_buf *out)
{
    sk_status st = SK_OK;
    if (v->kind == YK_INT) {
        const char *s = v->s;
        size_t n = v->len;
        bool neg = false;
        if (n && (*s == '+' || *s == '-')) {
            neg = *s == '-';
            s++;
            n--;
        }
        while (n > 1 && *s == '0') {
            s++;
            n--;
        }
        if (neg && !(n == 1 && *s == '0'))
            st = sk_buf_addc(out, '-');
        if (st == SK_OK)
            st = sk_buf_add(out, s, n);
    } else if (v->kind == YK_BOOL) {
        st = sk_buf_adds(out, v->bval ? "true" : "false");
    } else {
        st = sk_buf_add(out, v->s, v->len);
    }
    (void)st;
}

// The text scalar_text gives v, when it is a piece of v's own text or a constant (all but a
// negative integer, whose sign goes before the digits): no copy.
static bool scalar_text_view(const yn *v, const char **p, size_t *n)
{
    if (v->kind == YK_BOOL) {
        *p = v->bval ? "true" : "false";
        *n = v->bval ? 4 : 5;
        return true;
    }
    const char *s = v->s ? v->s : "";
    size_t len = v->len;
    if (v->kind == YK_INT) {
        if (len && (*s == '+' || *s == '-')) {
            bool neg = *s == '-';
            s++;
            len--;
            while (len > 1 && *s == '0') {
                s++;
                len--;
            }
            if (neg && !(len == 1 && *s == '0'))
                return false;
        }
        while (len > 1 && *s == '0') {
            s++;
            len--;
        }
    }
    *p = s;
    *n = len;
    return true;
}

// Working list of value variants: escaped Sigma text (glob) or literal bytes.
typedef struct variants {
    sk_strlist l;
    bool glob;
} variants;

// Bytes of the strings l[from..].
static size_t strlist_bytes_from(const sk_strlist *l, size_t from)
{
    size_t t = 0;
    for (size_t i = from; i < l->n; i++)
        t += l->len[i];
    return t;
}

static size_t strlist_bytes(const sk_strlist *l)
{
    return strlist_bytes_from(l, 0);
}

static const placeholder *find_ph(const compile_ctx *cx, const char *s, size_t n)
{
    for (size_t i = 0; i < cx->nph; i++)
        if (strlen(cx->ph[i].name) == n && memcmp(cx->ph[i].name, s, n) == 0)
            return &cx->ph[i];
    return NULL;
}

// The placeholder that starts at or after from in s[0..n): '%', a name of letters, digits and
// '_', '%', where the first '%' does not follow a backslash (as pySigma finds them). Sets *a, *b to
// its two '%'; false when there is none.
static bool next_placeholder(const char *s, size_t n, size_t from, size_t *a, size_t *b)
{
    for (size_t i = from; i < n; i++) {
        if (s[i] != '%' || (i > 0 && s[i - 1] == '\\'))
            continue;
        size_t j = i + 1;
        while (j < n && (isalnum((unsigned char)s[j]) || s[j] == '_'))
            j++;
        if (j > i + 1 && j < n && s[j] == '%') {
            *a = i;
            *b = j;
            return true;
        }
    }
    return false;
}

// Appends s[from..to) to t with each "\%" as "%" (the escape of a percent sign that is text).
// False when t is full.
static bool put_text(sk_buf *t, const char *s, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (s[i] == '\\' && i + 1 < to && s[i + 1] == '%')
            i++;
        if (sk_buf_addc(t, s[i]) != SK_OK)
            return false;
    }
    return true;
}

// Replaces every placeholder (next_placeholder) of each variant with each of its values
// (cartesian product), and "\%" with "%". The values are inserted as they are.
static bool expand_all(compile_ctx *cx, variants *vs, const yn *at, load_err *err)
{
    sk_strlist out, work; // work: strings whose text before work_from[k] is done
    sk_strlist_init(&out);
    sk_strlist_init(&work);
    size_t *work_from = NULL, work_cap = 0;
    sk_buf t;
    sk_buf_init(&t, SK_MAX_ITEM_VALUE_BYTES + 1);
    bool ok = true;
    for (size_t i = 0; i < vs->l.n && ok; i++) {
        sk_strlist_add(&work, vs->l.s[i], vs->l.len[i]);
        sk_xgrow((void **)&work_from, &work_cap, work.n, sizeof(size_t));
        work_from[work.n - 1] = 0;
        while (work.n && ok) {
            size_t last = work.n - 1;
            char *s = work.s[last];
            size_t n = work.len[last], from = work_from[last], a, b;
            work.s[last] = NULL;
            work.n--;
            sk_buf_reset(&t);
            bool fit = sk_buf_add(&t, s, from) == SK_OK; // t's limit: one item's values
            if (!next_placeholder(s, n, from, &a, &b)) {
                fit = fit && put_text(&t, s, from, n);
                if (fit)
                    sk_strlist_add(&out, t.p ? t.p : "", t.n);
                free(s);
            } else {
                const placeholder *ph = find_ph(cx, s + a + 1, b - a - 1);
                if (!ph) {
                    ok = errf(err,
                              "unresolved-placeholder",
                              at,
                              "unresolved placeholder '%.*s'%s",
                              (int)(b - a + 1),
                              s + a,
                              cx->nph ? " (not in the placeholder file)"
                                      : " (no placeholder file given)");
                    free(s);
                    break;
                }
                fit = fit && put_text(&t, s, from, a);
                size_t head = t.n;
                for (size_t j = 0; j < ph->values.n && fit; j++) {
                    t.n = head;
                    fit = sk_buf_add(&t, ph->values.s[j], ph->values.len[j]) == SK_OK;
                    size_t next = t.n;
                    fit = fit && sk_buf_add(&t, s + b + 1, n - b - 1) == SK_OK;
                    if (!fit)
                        break;
                    sk_strlist_add(&work, t.p, t.n);
                    sk_xgrow((void **)&work_from, &work_cap, work.n, sizeof(size_t));
                    work_from[work.n - 1] = next;
                }
                free(s);
            }
            if (out.n + work.n > SK_MAX_VALUES_PER_ITEM) {
                ok = errf(err,
                          "too-many-values",
                          at,
                          "placeholder expansion gives more than %u values",
                          (unsigned)SK_MAX_VALUES_PER_ITEM);
            } else if (!fit ||
                       strlist_bytes(&out) + strlist_bytes(&work) > SK_MAX_ITEM_VALUE_BYTES) {
                ok = errf(err,
                          "too-many-values",
                          at,
                          "placeholder expansion gives more than %u MiB of values",
                          (unsigned)(SK_MAX_ITEM_VALUE_BYTES >> 20));
            }
        }
    }
    sk_buf_fini(&t);
    free(work_from);
    sk_strlist_fini(&work);
    if (!ok) {
        sk_strlist_fini(&out);
        return false;
    }
    sk_strlist_fini(&vs->l);
    vs->l = out;
    return true;
}

static bool apply_transform(
        compile_ctx *cx, variants *vs, mod_id xf, const yn *at, const char *key, load_err *err)
{
    if (xf == M_EXPAND)
        return expand_all(cx, vs, at, err);
    sk_strlist out;
    sk_strlist_init(&out);
    sk_buf tmp;
    sk_buf_init(&tmp, SK_MAX_RULE_FILE_BYTES);
    bool ok = true;
    size_t out_bytes = 0, out_seen = 0; // bytes of out[0..out_seen)
    for (size_t i = 0; i < vs->l.n && ok; i++) {
        const char *s = vs->l.s[i];
        size_t n = vs->l.len[i];
        sk_status st = SK_OK;
        switch (xf) {
        case M_WINDASH:
            st = sk_vm_windash(s, n, &out);
            break;
        case M_WIDE:
        case M_UTF16LE:
        case M_UTF16BE:
        case M_UTF16: {
            sk_utf16_kind k = xf == M_UTF16BE ? SK_UTF16BE
                              : xf == M_UTF16 ? SK_UTF16BOM
                                              : SK_UTF16LE;
            st = vs->glob ? sk_vm_utf16_glob(s, n, k, &out) : sk_vm_utf16(s, n, k, &out);
            break;
        }
        case M_BASE64:
        case M_BASE64OFFSET: {
            const char *lit = s;
            size_t ln = n;
            if (vs->glob) {
                bool wild = false;
                sk_buf_reset(&tmp);
                st = sk_vm_unescape(s, n, &tmp, &wild);
                if (st == SK_OK && wild) {
                    ok = errf(err,
                              "unsupported-modifier-combination",
                              at,
                              "cannot apply '%s' to a value with wildcards in '%s'",
                              xf == M_BASE64 ? "base64" : "base64offset",
                              key);
                    break;
                }
                lit = sk_buf_str(&tmp);
                ln = tmp.n;
            }
            if (st == SK_OK)
                st = xf == M_BASE64 ? sk_vm_base64(lit, ln, &out)
                                    : sk_vm_base64offset(lit, ln, &out);
            break;
        }
        default:
            break;
        }
        if (ok && st == SK_ERR_LIMIT)
            ok = errf(err,
                      "too-many-values",
                      at,
                      "cannot apply modifiers of '%s' to this value (too many variants: windash "
                      "takes at most %d dashes, and all variants at most %u MiB)",
                      key,
                      SK_VM_WINDASH_MAX_DASHES,
                      (unsigned)(SK_MAX_ITEM_VALUE_BYTES >> 20));
        else if (ok && st != SK_OK)
            ok = errf(err,
                      "bad-value",
                      at,
                      "cannot apply modifiers of '%s' to this value (%s)",
                      key,
                      sk_status_str(st));
        if (ok && out.n > SK_MAX_VALUES_PER_ITEM)
            ok = errf(err,
                      "too-many-values",
                      at,
                      "modifiers of '%s' give more than %u values",
                      key,
                      (unsigned)SK_MAX_VALUES_PER_ITEM);
        if (ok && (out_bytes += strlist_bytes_from(&out, out_seen)) > SK_MAX_ITEM_VALUE_BYTES)
            ok = errf(err,
                      "too-many-values",
                      at,
                      "modifiers of '%s' give more than %u MiB of values",
                      key,
                      (unsigned)(SK_MAX_ITEM_VALUE_BYTES >> 20));
        out_seen = out.n;
    }
    sk_buf_fini(&tmp);
    if (!ok) {
        sk_strlist_fini(&out);
        return false;
    }
    if (xf == M_BASE64 || xf == M_BASE64OFFSET)
        vs->glob = false;
    sk_strlist_fini(&vs->l);
    vs->l = out;
    return true;
}

static sk_vm_kind vm_kind(match_type mt)
{
    switch (mt) {
    case MT_CONTAINS:
        return SK_VM_CONTAINS;
    case MT_STARTSWITH:
        return SK_VM_STARTSWITH;
    case MT_ENDSWITH:
        return SK_VM_ENDSWITH;
    case MT_RE:
        return SK_VM_REGEX;
    case MT_CIDR:
        return SK_VM_CIDR;
    case MT_GT:
        return SK_VM_GT;
    case MT_GTE:
        return SK_VM_GTE;
    case MT_LT:
        return SK_VM_LT;
    case MT_LTE:
        return SK_VM_LTE;
    case MT_NONE:
    case MT_EXISTS:
        break;
    }
    return SK_VM_EQUALS;
}

// Column of byte offset off inside scalar v (exact for single-line plain and quoted scalars).
static unsigned long col_in(const yn *v, size_t off)
{
    if (memchr(v->s, '\n', v->len))
        return v->col;
    return v->col + (v->plain ? 0 : 1) + (unsigned long)off;
}

// Compiles one value node (already a non-null scalar) into out.
static bool compile_value(compile_ctx *cx,
                          const mods *m,
                          match_type mt,
                          const yn *v,
                          const char *key,
                          cval *out,
                          load_err *err)
{
    variants vs;
    sk_strlist_init(&vs.l);
    vs.glob = mt != MT_RE && mt != MT_CIDR;
    bool ok = true;
    // The variants: pats[0..npats). Without transforms, the value's text itself where it can
    // (most values): four allocations and frees per value were a tenth of compiling SigmaHQ.
    char *one[1];
    size_t one_len[1];
    char *const *pats = one;
    const size_t *lens = one_len;
    size_t npats = 1;
    const char *view;
    if (m->nxf == 0 && scalar_text_view(v, &view, &one_len[0])) {
        one[0] = (char *)view; // only read (the list type is shared with the transforms)
    } else {
        sk_buf text;
        sk_buf_init(&text, SK_MAX_RULE_FILE_BYTES);
        scalar_text(v, &text);
        sk_strlist_add(&vs.l, sk_buf_str(&text), text.n);
        sk_buf_fini(&text);
        // re|startswith/endswith/contains pseudo transforms
        for (size_t i = 0; i < m->nxf && ok; i++) {
            if (mt == MT_RE)
                continue;
            ok = apply_transform(cx, &vs, m->xf[i], v, key, err);
        }
        if (!ok)
            goto out;
        pats = vs.l.s;
        lens = vs.l.len;
        npats = vs.l.n;
    }
    bool re_start = false, re_end = false;
    for (size_t i = 0; i < m->nxf && mt == MT_RE; i++) {
        if (m->xf[i] == M_STARTSWITH)
            re_start = true;
        else if (m->xf[i] == M_ENDSWITH)
            re_end = true;
    }
    out->eid = -1;
    if (mt == MT_NONE && m->nxf == 0 && npats == 1 && lens[0] > 0 && lens[0] <= 9) {
        int64_t e = 0;
        for (size_t i = 0; i < lens[0] && e >= 0; i++) {
            char ch = pats[0][i];
            e = ch >= '0' && ch <= '9' ? e * 10 + (ch - '0') : -1;
        }
        out->eid = e;
    }
    out->vms = rs_alloc(cx->rs, npats * sizeof(sk_vm *));
    out->cost = mt == MT_RE ? 2 : (mt == MT_CIDR || (mt >= MT_GT && mt <= MT_LTE)) ? 1 : 0;
    unsigned flags = 0;
    if (m->cased)
        flags |= SK_VM_CASED;
    if (vs.glob)
        flags |= SK_VM_WILDCARDS;
    if (mt == MT_RE) {
        flags = (m->re_i ? SK_VM_RE_I : 0) | (m->re_m ? SK_VM_RE_M : 0) |
                (m->re_s ? SK_VM_RE_S : 0);
    }
    for (size_t i = 0; i < npats && ok; i++) {
        const char *pat = pats[i];
        size_t pn = lens[i];
        sk_buf anch;
        sk_buf_init(&anch, SK_MAX_RULE_FILE_BYTES + 16);
        size_t shift = 0;
        if (mt == MT_RE && (re_start || re_end)) {
            sk_status st = sk_buf_adds(&anch, re_start ? "^(?:" : "(?:");
            if (st == SK_OK)
                st = sk_buf_add(&anch, pat, pn);
            if (st == SK_OK)
                st = sk_buf_adds(&anch, re_end ? ")$" : ")");
            if (st != SK_OK) {
                errf(err, "bad-regex", v, "regular expression in '%s' is too long", key);
                sk_buf_fini(&anch);
                ok = false;
                break;
            }
            shift = re_start ? 4 : 3;
            pat = sk_buf_str(&anch);
            pn = anch.n;
        }
        sk_vm *vm = NULL;
        sk_buf emsg;
        sk_buf_init(&emsg, 1024);
        size_t eoff = 0;
        sk_status st = sk_vm_compile(&vm, vm_kind(mt), pat, pn, flags, &emsg, &eoff);
        if (st != SK_OK) {
            if (mt == MT_RE) {
                size_t o = eoff >= shift ? eoff - shift : 0;
                if (o > v->len)
                    o = v->len;
                errf(err,
                     "bad-regex",
                     v,
                     "%s in '%s' (at offset %zu)",
                     emsg.n ? sk_buf_str(&emsg) : "invalid regular expression",
                     key,
                     o);
                err->col = col_in(v, o);
            } else {
                errf(err,
                     "bad-value",
                     v,
                     "bad value for '%s': %s",
                     key,
                     emsg.n ? sk_buf_str(&emsg) : sk_status_str(st));
            }
            ok = false;
        } else {
            keep_vm(cx, vm);
            out->vms[out->nvms++] = vm;
        }
        sk_buf_fini(&emsg);
        sk_buf_fini(&anch);
    }
    if (ok && !m->tpart &&
        (mt == MT_NONE || mt == MT_CONTAINS || mt == MT_STARTSWITH || mt == MT_ENDSWITH))
        pf_value_atoms(cx->rs, out, pats, lens, npats, vs.glob);
out:
    sk_strlist_fini(&vs.l);
    return ok;
}

static bool as_bool(const yn *v, bool *out)
{
    if (v->type != YN_SCALAR)
        return false;
    if (v->kind == YK_BOOL) {
        *out = v->bval;
        return true;
    }
    if (v->kind == YK_STR) {
        if (strcasecmp(v->s, "true") == 0 || strcasecmp(v->s, "yes") == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(v->s, "false") == 0 || strcasecmp(v->s, "no") == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

// Compiles `key: value` into an item.
static bool
compile_item(compile_ctx *cx, const yn *k, const yn *v, bool keyword, citem *it, load_err *err)
{
    sk_ruleset *rs = cx->rs;
    memset(it, 0, sizeof(*it));
    mods m;
    const char *field = "";
    size_t flen = 0;
    const char *key = "";
    if (k) {
        if (k->type != YN_SCALAR)
            return errf(err,
                        "bad-detection",
                        k,
                        "detection keys must be strings, not %s",
                        yn_type_name(k));
        key = k->s;
        if (!parse_mods(k, &field, &flen, &m, err))
            return false;
    } else {
        memset(&m, 0, sizeof(m));
    }
    it->key = rs_strndup(rs, key, strlen(key));
    if (flen == 0)
        keyword = true;
    if (keyword) {
        it->kind = IK_KEYWORD;
        it->fid = UINT32_MAX;
        if (m.mt == MT_EXISTS || m.fieldref || m.neq || m.tpart)
            return errf(err,
                        "unsupported-modifier-combination",
                        k,
                        "modifiers of '%s' need a field name",
                        key);
    } else {
        it->field = rs_strndup(rs, field, flen);
        it->fid = rs_intern_name(rs, field, flen);
        it->kind = IK_MATCH;
    }
    it->all = m.all;
    it->cased = m.cased;
    it->tpart = m.tpart;
    match_type mt = m.mt;
    if (keyword && mt == MT_NONE)
        mt = MT_CONTAINS; // keywords match anywhere in a field value

    // Value list
    const yn *const *vals;
    size_t nv;
    const yn *single[1];
    if (v->type == YN_SEQ) {
        vals = (const yn *const *)v->kids;
        nv = v->n;
        if (nv == 0)
            return errf(err, "bad-detection", v, "empty value list for '%s'", key);
    } else if (v->type == YN_SCALAR) {
        single[0] = v;
        vals = single;
        nv = 1;
    } else {
        return errf(err,
                    "bad-detection",
                    v,
                    "value of '%s' must be a string, a number, null or a "
                    "list of them, not %s",
                    key,
                    yn_type_name(v));
    }
    if (nv > SK_MAX_VALUES_PER_ITEM)
        return errf(err,
                    "too-many-values",
                    v,
                    "'%s' has %zu values (at most %u)",
                    key,
                    nv,
                    (unsigned)SK_MAX_VALUES_PER_ITEM);
    for (size_t i = 0; i < nv; i++)
        if (vals[i]->type != YN_SCALAR)
            return errf(err,
                        "bad-detection",
                        vals[i],
                        "values of '%s' must be strings, numbers or null, not %s",
                        key,
                        yn_type_name(vals[i]));

    if (mt == MT_EXISTS) {
        bool b;
        if (nv != 1 || !as_bool(vals[0], &b))
            return errf(err, "bad-value", v, "'%s' needs true or false", key);
        it->kind = IK_EXISTS;
        it->exists_val = b;
        return true;
    }
    if (m.fieldref) {
        it->kind = IK_FIELDREF;
        it->rcmp = mt == MT_CONTAINS     ? RC_CONTAINS
                   : mt == MT_STARTSWITH ? RC_STARTS
                   : mt == MT_ENDSWITH   ? RC_ENDS
                                         : RC_EQ;
        it->rneg = m.neq;
        it->ref_fids = rs_alloc(rs, nv * sizeof(uint32_t));
        it->ref_names = rs_alloc(rs, nv * sizeof(char *));
        for (size_t i = 0; i < nv; i++) {
            const yn *x = vals[i];
            if (x->kind == YK_NULL || x->len == 0 || memchr(x->s, '*', x->len) ||
                memchr(x->s, '?', x->len))
                return errf(err, "bad-value", x, "'%s' needs a field name without wildcards", key);
            it->ref_fids[i] = rs_intern_name(rs, x->s, x->len);
            it->ref_names[i] = rs_strndup(rs, x->s, x->len);
        }
        it->nrefs = (uint32_t)nv;
        return true;
    }
    if (m.neq)
        it->kind = IK_NEQ;
    it->vals = rs_alloc(rs, nv * sizeof(cval));
    size_t nvariants = 0; // predicates of the whole item, after windash/expand/base64*/utf16*
    for (size_t i = 0; i < nv; i++) {
        const yn *x = vals[i];
        if (x->kind == YK_NULL) {
            if (keyword || mt != MT_NONE || m.nxf || m.tpart)
                return errf(
                        err, "bad-value", x, "null cannot be used with the modifiers of '%s'", key);
            it->has_null = true;
            continue;
        }
        cval *cv = &it->vals[it->nvals];
        if (!compile_value(cx, &m, mt, x, key, cv, err))
            return false;
        // Each value is capped on its own by apply_transform; the item as a whole must be too, or
        // a list of windash values (5^6 variants each) compiles billions of predicates.
        nvariants += cv->nvms;
        if (nvariants > SK_MAX_VALUES_PER_ITEM)
            return errf(err,
                        "too-many-values",
                        v,
                        "modifiers of '%s' give more than %u values",
                        key,
                        (unsigned)SK_MAX_VALUES_PER_ITEM);
        if (cv->cost > it->cost)
            it->cost = cv->cost;
        it->nvals++;
    }
    if (it->all && it->has_null)
        return errf(err, "bad-value", v, "'%s' mixes null with the 'all' modifier", key);
    return true;
}

// Orders the items of an alternative cheap-first (keeping rule order among equals): AND is
// commutative and items have no side effects.
static int cmp_item_cost(const void *a, const void *b)
{
    const citem *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return 0;
}

static bool compile_map(compile_ctx *cx, const yn *map, calt *alt, load_err *err)
{
    if (map->n == 0)
        return errf(err, "bad-detection", map, "empty map in a selection");
    alt->items = rs_alloc(cx->rs, map->n * sizeof(citem));
    for (size_t i = 0; i < map->n; i++) {
        if (!compile_item(cx, map->kids[2 * i], map->kids[2 * i + 1], false, &alt->items[i], err))
            return false;
        alt->nitems++;
    }
    // Stable sort by cost: insertion sort (maps are small).
    for (size_t i = 1; i < alt->nitems; i++) {
        citem t = alt->items[i];
        size_t j = i;
        while (j > 0 && cmp_item_cost(&alt->items[j - 1], &t) > 0) {
            alt->items[j] = alt->items[j - 1];
            j--;
        }
        alt->items[j] = t;
    }
    return true;
}

static bool
compile_selection(compile_ctx *cx, const char *name, const yn *v, csel *sel, load_err *err)
{
    sk_ruleset *rs = cx->rs;
    sel->name = name;
    if (v->type == YN_MAP) {
        sel->alts = rs_alloc(rs, sizeof(calt));
        sel->nalts = 1;
        return compile_map(cx, v, &sel->alts[0], err);
    }
    if (v->type == YN_SCALAR) {
        if (v->kind == YK_NULL)
            return errf(err, "bad-detection", v, "selection '%s' is empty", name);
        sel->alts = rs_alloc(rs, sizeof(calt));
        sel->nalts = 1;
        sel->alts[0].items = rs_alloc(rs, sizeof(citem));
        sel->alts[0].nitems = 1;
        return compile_item(cx, NULL, v, true, &sel->alts[0].items[0], err);
    }
    // A list: maps are alternatives, plain values are keywords (one keyword item, OR).
    if (v->n == 0)
        return errf(err, "bad-detection", v, "selection '%s' is an empty list", name);
    if (v->n > SK_MAX_VALUES_PER_ITEM)
        return errf(err,
                    "too-many-values",
                    v,
                    "selection '%s' has %zu entries (at most %u)",
                    name,
                    v->n,
                    (unsigned)SK_MAX_VALUES_PER_ITEM);
    size_t nmaps = 0, nscal = 0;
    for (size_t i = 0; i < v->n; i++) {
        const yn *e = v->kids[i];
        if (e->type == YN_MAP)
            nmaps++;
        else if (e->type == YN_SCALAR && e->kind != YK_NULL)
            nscal++;
        else
            return errf(err,
                        "bad-detection",
                        e,
                        "entries of selection '%s' must be maps or keyword strings, not %s",
                        name,
                        yn_type_name(e));
    }
    sel->alts = rs_alloc(rs, (nmaps + (nscal ? 1 : 0)) * sizeof(calt));
    for (size_t i = 0; i < v->n; i++) {
        const yn *e = v->kids[i];
        if (e->type != YN_MAP)
            continue;
        if (!compile_map(cx, e, &sel->alts[sel->nalts], err))
            return false;
        sel->nalts++;
    }
    if (nscal) {
        // Build a synthetic sequence of just the scalars.
        yn seq;
        memset(&seq, 0, sizeof(seq));
        seq.type = YN_SEQ;
        seq.line = v->line;
        seq.col = v->col;
        const yn **kids = sk_xmalloc(nscal * sizeof(yn *));
        size_t j = 0;
        for (size_t i = 0; i < v->n; i++)
            if (v->kids[i]->type == YN_SCALAR)
                kids[j++] = v->kids[i];
        seq.kids = (yn **)kids;
        seq.n = nscal;
        calt *alt = &sel->alts[sel->nalts];
        alt->items = rs_alloc(rs, sizeof(citem));
        alt->nitems = 1;
        bool ok = compile_item(cx, NULL, &seq, true, &alt->items[0], err);
        free(kids);
        if (!ok)
            return false;
        sel->nalts++;
    }
    return true;
}

bool rule_compile_detection(compile_ctx *cx, sk_rule *r, const yn *det, load_err *err)
{
    sk_ruleset *rs = cx->rs;
    if (det->type != YN_MAP)
        return errf(
                err, "bad-detection", det, "'detection' must be a map, not %s", yn_type_name(det));
    const yn *cond = NULL;
    size_t nsel = 0;
    for (size_t i = 0; i < det->n; i++) {
        const yn *k = det->kids[2 * i];
        if (k->type != YN_SCALAR || k->kind == YK_NULL)
            return errf(err, "bad-detection", k, "selection names must be strings");
        if (strcmp(k->s, "condition") == 0)
            cond = det->kids[2 * i + 1];
        else if (strcmp(k->s, "timeframe") != 0)
            nsel++;
    }
    if (!cond)
        return errf(err, "missing-condition", det, "detection has no 'condition'");
    if (nsel == 0)
        return errf(err, "missing-selection", det, "detection defines no selection");
    r->sels = rs_alloc(rs, nsel * sizeof(csel));
    r->sel_names = rs_alloc(rs, nsel * sizeof(char *));
    for (size_t i = 0; i < det->n; i++) {
        const yn *k = det->kids[2 * i];
        if (strcmp(k->s, "condition") == 0 || strcmp(k->s, "timeframe") == 0)
            continue;
        for (uint32_t j = 0; j < r->nsels; j++)
            if (strcmp(r->sel_names[j], k->s) == 0)
                return errf(err, "bad-detection", k, "selection '%s' is defined twice", k->s);
        const char *name = rs_strndup(rs, k->s, k->len);
        r->sel_names[r->nsels] = name;
        const yn *v = det->kids[2 * i + 1];
        if (v->type == YN_SCALAR && v->kind == YK_NULL)
            return errf(err, "bad-detection", k, "selection '%s' is empty", name);
        if (!compile_selection(cx, name, det->kids[2 * i + 1], &r->sels[r->nsels], err))
            return false;
        r->nsels++;
    }
    // Condition: a string, or a list of strings (OR).
    const yn *const *conds;
    size_t nc;
    const yn *one[1];
    if (cond->type == YN_SEQ) {
        conds = (const yn *const *)cond->kids;
        nc = cond->n;
        if (nc == 0)
            return errf(err, "bad-condition", cond, "empty condition list");
    } else {
        one[0] = cond;
        conds = one;
        nc = 1;
    }
    cnode **roots = rs_alloc(rs, nc * sizeof(cnode *));
    for (size_t i = 0; i < nc; i++) {
        const yn *c = conds[i];
        if (c->type != YN_SCALAR || c->kind == YK_NULL)
            return errf(
                    err, "bad-condition", c, "condition must be a string, not %s", yn_type_name(c));
        cond_err ce;
        roots[i] = cond_parse(&rs->arena, c->s, c->len, r->sel_names, r->nsels, &ce);
        if (!roots[i]) {
            errf(err, ce.code, c, "%s", ce.msg);
            err->col = col_in(c, ce.off);
            return false;
        }
    }
    if (nc == 1) {
        r->cond = roots[0];
    } else {
        cnode * or = rs_alloc(rs, sizeof(cnode));
        or->type = CN_OR;
        or->kids = roots;
        or->nkids = (uint32_t)nc;
        r->cond = or ;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Event ids a rule's detection requires (for the index).
//
// An id set is either "any" or a finite list. A selection requires ids when each of its
// alternatives has an `EventID` item that is a plain equality on decimal numbers; AND intersects,
// OR and "1 of" unite, NOT gives "any". The detection still checks EventID itself, so the index
// only saves work and never changes a result.

#define EIDS_MAX 64

typedef struct eidset {
    bool any;
    uint32_t n;
    uint32_t v[EIDS_MAX];
} eidset;

static void set_add(eidset *s, uint32_t e)
{
    if (s->any)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i] == e)
            return;
    if (s->n == EIDS_MAX) {
        s->any = true;
        return;
    }
    s->v[s->n++] = e;
}

static void set_union(eidset *a, const eidset *b)
{
    if (a->any || b->any) {
        a->any = true;
        return;
    }
    for (uint32_t i = 0; i < b->n; i++)
        set_add(a, b->v[i]);
}

static void set_inter(eidset *a, const eidset *b)
{
    if (b->any)
        return;
    if (a->any) {
        *a = *b;
        return;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < a->n; i++)
        for (uint32_t j = 0; j < b->n; j++)
            if (a->v[i] == b->v[j]) {
                a->v[k++] = a->v[i];
                break;
            }
    a->n = k;
}

static void sel_eids(const sk_rule *r, uint32_t s, uint32_t eid_fid, eidset *out)
{
    const csel *sel = &r->sels[s];
    memset(out, 0, sizeof(*out));
    for (uint32_t a = 0; a < sel->nalts; a++) {
        const calt *alt = &sel->alts[a];
        eidset as = { .any = true };
        for (uint32_t i = 0; i < alt->nitems; i++) {
            const citem *it = &alt->items[i];
            if (it->kind != IK_MATCH || it->fid != eid_fid || it->has_null || it->tpart ||
                it->nvals == 0)
                continue;
            eidset is = { 0 };
            bool ok = true;
            for (uint32_t v = 0; v < it->nvals && ok; v++)
                ok = it->vals[v].eid >= 0;
            if (!ok)
                continue;
            if (it->all) {
                // every value must equal the id: only possible when all values are the same
                is.any = false;
                set_add(&is, (uint32_t)it->vals[0].eid);
                for (uint32_t v = 1; v < it->nvals; v++)
                    if (it->vals[v].eid != it->vals[0].eid)
                        is.n = 0;
            } else {
                for (uint32_t v = 0; v < it->nvals; v++)
                    set_add(&is, (uint32_t)it->vals[v].eid);
            }
            set_inter(&as, &is);
        }
        set_union(out, &as);
        if (out->any)
            return;
    }
}

static void cond_eids(const sk_rule *r, const cnode *c, uint32_t eid_fid, eidset *out)
{
    eidset k;
    switch (c->type) {
    case CN_SEL:
        sel_eids(r, c->sel, eid_fid, out);
        return;
    case CN_NOT:
        out->any = true;
        out->n = 0;
        return;
    case CN_AND:
        out->any = true;
        out->n = 0;
        for (uint32_t i = 0; i < c->nkids; i++) {
            cond_eids(r, c->kids[i], eid_fid, &k);
            set_inter(out, &k);
        }
        return;
    case CN_OR:
        memset(out, 0, sizeof(*out));
        for (uint32_t i = 0; i < c->nkids && !out->any; i++) {
            cond_eids(r, c->kids[i], eid_fid, &k);
            set_union(out, &k);
        }
        return;
    case CN_OF:
        if (c->count == 0 || c->count >= c->nsels) { // all of: every selection must hold
            out->any = true;
            out->n = 0;
            for (uint32_t i = 0; i < c->nsels; i++) {
                sel_eids(r, c->sels[i], eid_fid, &k);
                set_inter(out, &k);
            }
        } else {
            memset(out, 0, sizeof(*out));
            for (uint32_t i = 0; i < c->nsels && !out->any; i++) {
                sel_eids(r, c->sels[i], eid_fid, &k);
                set_union(out, &k);
            }
        }
        return;
    }
    out->any = true;
}

void rule_derive_eids(sk_ruleset *rs, sk_rule *r)
{
    eidset need = { .any = true };
    bool derived = false;
    for (uint32_t s = 0; s < r->nsources; s++) {
        csource *src = &r->sources[s];
        if (src->neids) {
            src->ieids = src->eids;
            src->nieids = src->neids;
            continue;
        }
        if (!derived) {
            cond_eids(r, r->cond, rs_intern_name(rs, "EventID", 7), &need);
            derived = true;
        }
        if (need.any)
            continue;
        src->ieids = rs_alloc(rs, (need.n ? need.n : 1) * sizeof(uint32_t));
        memcpy(src->ieids, need.v, need.n * sizeof(uint32_t));
        src->nieids = need.n;
        if (need.n == 0) {
            // The detection can never be true on any event id (contradictory EventID items): keep
            // the rule reachable through an impossible id rather than through "any".
            src->ieids[0] = UINT32_MAX;
            src->nieids = 1;
        }
    }
}
