// EQL evaluator: runs a compiled query over the matcher's current event.
//
// The ECS view is computed lazily: the first time a rule reads a field during an event, the
// field's values are found (an event field of that exact name, else the first derivation rule that
// applies, see event/ecs.h) and memoised for the rest of the event, so a field that 200 rules read
// is derived once. Values are (pointer, length) views into the event or, when a transform builds
// new text (split arguments, a directory, a decimal number), copies in a per-event arena; function
// results live in a per-rule arena. Both arenas and the value array are reset, not freed, so the
// steady state allocates nothing.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/limits.h"
#include "core/mem.h"
#include "eql_int.h"

#define NONE UINT32_MAX

typedef struct eql_sv {
    const char *p; // NUL-terminated at p[n]
    uint32_t n;
} eql_sv;

// Text that function calls may build while one rule meets one event (concat).
#define EQL_TEXT_MAX ((size_t)16 << 20)

struct eql_scratch {
    size_t nslots;
    uint32_t *slot_gen; // [nslots]: memo valid when == gen
    eql_sv **slot_vals; // the values, in the per-event arena (stable while the event lasts)
    uint32_t *slot_count;
    eql_sv *vals; // scratch while one slot is resolved
    size_t nvals, capvals;
    sk_arena derived; // per event
    sk_arena temp;    // per rule evaluation
    size_t temp_text; // bytes of text built in temp (concat): at most EQL_TEXT_MAX
    const sk_event *ev;
    uint32_t ev_gen; // matcher generation of the current event
    uint32_t gen;    // our memo generation
    sk_ecs_log log;
    long eid;
};

eql_scratch *eql_scratch_new(const sk_ruleset *rs)
{
    eql_scratch *s = sk_xcalloc(1, sizeof(*s));
    s->nslots = rs->eql ? rs->eql->nslots : 0;
    size_t n = s->nslots ? s->nslots : 1;
    s->slot_gen = sk_xcalloc(n, sizeof(uint32_t));
    s->slot_vals = sk_xcalloc(n, sizeof(eql_sv *));
    s->slot_count = sk_xcalloc(n, sizeof(uint32_t));
    sk_arena_init(&s->derived, 16 * 1024);
    sk_arena_init(&s->temp, 16 * 1024);
    s->ev_gen = UINT32_MAX;
    return s;
}

void eql_scratch_free(eql_scratch *s)
{
    if (!s)
        return;
    free(s->slot_gen);
    free(s->slot_vals);
    free(s->slot_count);
    free(s->vals);
    sk_arena_fini(&s->derived);
    sk_arena_fini(&s->temp);
    free(s);
}

// Evaluation context for one rule over one event.
typedef struct ectx {
    sk_matcher *m;
    eql_scratch *s;
    const eql_tab *tab;
    sk_vm_scratch *vs;
} ectx;

// ---------------------------------------------------------------------------------------------
// The ECS view

static void push_val(eql_scratch *s, const char *p, size_t n)
{
    if (n > UINT32_MAX)
        return;
    sk_xgrow((void **)&s->vals, &s->capvals, s->nvals + 1, sizeof(eql_sv));
    s->vals[s->nvals].p = p;
    s->vals[s->nvals].n = (uint32_t)n;
    s->nvals++;
}

static void on_value(void *ctx, const char *p, size_t n, bool view)
{
    eql_scratch *s = ctx;
    if (!view)
        p = sk_arena_strndup(&s->derived, p, n);
    push_val(s, p, n);
}

// Elastic's Sysmon processing drops event data that is empty, "-" or the null GUID.
static bool empty_value(const sk_field *f)
{
    return f->value_len == 0 || (f->value_len == 1 && f->value[0] == '-') ||
           (f->value_len == 38 && strcmp(f->value, "{00000000-0000-0000-0000-000000000000}") == 0);
}

static void field_vals(ectx *x, uint32_t slot, const eql_sv **v, uint32_t *n)
{
    eql_scratch *s = x->s;
    if (s->slot_gen[slot] != s->gen) {
        const eql_slot *sl = &x->tab->slots[slot];
        const sk_event *ev = s->ev;
        s->nvals = 0;
        const size_t first = 0;
        mt_iter it;
        for (uint32_t k = mt_first(x->m, sl->fid, &it); k != NONE; k = mt_next(x->m, &it)) {
            const sk_field *f = sk_event_field(ev, k);
            push_val(s, f->value, f->value_len);
        }
        if (s->nvals == first) {
            for (uint32_t r = 0; r < sl->nrules; r++) {
                const sk_ecs_rule *rule = &sl->rules[r];
                if (!sk_ecs_rule_applies(rule, s->log, s->eid))
                    continue;
                if (sl->src_fids[r] == NONE) {
                    sk_ecs_apply_computed(rule, s->log, s->eid, on_value, s);
                    break;
                }
                bool found = false;
                for (uint32_t k = mt_first(x->m, sl->src_fids[r], &it); k != NONE;
                     k = mt_next(x->m, &it)) {
                    const sk_field *f = sk_event_field(ev, k);
                    if (empty_value(f))
                        continue;
                    found = true;
                    sk_ecs_apply(rule, f->value, f->value_len, on_value, s);
                }
                if (found)
                    break;
            }
        }
        s->slot_gen[slot] = s->gen;
        s->slot_count[slot] = (uint32_t)s->nvals;
        s->slot_vals[slot] = NULL;
        if (s->nvals) {
            s->slot_vals[slot] = sk_arena_alloc(&s->derived, s->nvals * sizeof(eql_sv));
            memcpy(s->slot_vals[slot], s->vals, s->nvals * sizeof(eql_sv));
        }
    }
    *v = s->slot_vals[slot];
    *n = s->slot_count[slot];
}

// ---------------------------------------------------------------------------------------------
// Values

typedef enum vt {
    V_NULL,
    V_BOOL,
    V_NUM,
    V_STR,
} vt;

typedef struct val {
    vt t;
    bool b;
    bool is_int;
    int64_t i;
    double d;
    const char *s;
    size_t n;
} val;

static val vnull(void)
{
    val v;
    memset(&v, 0, sizeof(v));
    return v;
}

static val vbool(bool b)
{
    val v = vnull();
    v.t = V_BOOL;
    v.b = b;
    return v;
}

static val vint(int64_t i)
{
    val v = vnull();
    v.t = V_NUM;
    v.is_int = true;
    v.i = i;
    v.d = (double)i;
    return v;
}

static val vdbl(double d)
{
    val v = vnull();
    v.t = V_NUM;
    v.d = d;
    return v;
}

static val vstr(const char *s, size_t n)
{
    val v = vnull();
    v.t = V_STR;
    v.s = s;
    v.n = n;
    return v;
}

size_t eql_num_text(double d, char *buf, size_t size)
{
    int k = 0;
    for (int prec = 1; prec <= 17; prec++) {
        k = snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    return k > 0 ? (size_t)k : 0;
}

// Parses a whole string as a number (decimal integer, float, or 0x hex); false when it is not one.
static bool parse_num(const char *s, size_t n, val *out)
{
    char buf[64];
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof buf || memchr(s, '\0', n)) // strtoll would stop at a NUL
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    const char *d = buf + (buf[0] == '+' || buf[0] == '-');
    if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
        errno = 0;
        unsigned long long u = strtoull(d + 2, &end, 16);
        if (*end || end == d + 2 || errno == ERANGE) // more than 64 bits: not a number
            return false;
        if (buf[0] == '-') { // down to INT64_MIN, without negating what does not fit
            if (u > (unsigned long long)INT64_MAX + 1)
                return false;
            *out = vint(u == (unsigned long long)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u);
        } else {
            *out = vint((int64_t)u); // 64-bit flags (Keywords 0x8000...) keep their bits
        }
        return true;
    }
    bool is_int = true;
    for (const char *q = d; *q; q++) {
        if (*q == '.' || *q == 'e' || *q == 'E')
            is_int = false;
        else if ((*q < '0' || *q > '9') && !((*q == '+' || *q == '-') && q > d))
            return false;
    }
    if (!*d)
        return false;
    if (is_int) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end)
            return false;
        if (errno != ERANGE) {
            *out = vint(v);
            return true;
        }
        // Past 64 bits: a float, which no 64-bit integer equals.
    }
    double v = strtod(buf, &end);
    if (*end)
        return false;
    *out = vdbl(v);
    return true;
}

// The text form of a value (in the per-rule arena when built).
static bool to_text(ectx *x, const val *v, const char **s, size_t *n)
{
    char buf[64];
    int k;
    switch (v->t) {
    case V_NULL:
        return false;
    case V_STR:
        *s = v->s;
        *n = v->n;
        return true;
    case V_BOOL:
        *s = v->b ? "true" : "false";
        *n = strlen(*s);
        return true;
    case V_NUM:
        if (v->is_int)
            k = snprintf(buf, sizeof buf, "%lld", (long long)v->i);
        else
            k = (int)eql_num_text(v->d, buf, sizeof buf);
        *s = sk_arena_strndup(&x->s->temp, buf, (size_t)k);
        *n = (size_t)k;
        return true;
    }
    return false;
}

static bool to_num(const val *v, val *out)
{
    if (v->t == V_NUM) {
        *out = *v;
        return true;
    }
    if (v->t == V_STR)
        return parse_num(v->s, v->n, out);
    return false;
}

// Case-insensitive (~) compares with the folding of ':' and 'in~' (ASCII and the two-byte
// range, see src/match/value.h), not ASCII alone: startsWith~(process.name, "ärger") is true of
// "Ärger.exe".
static bool bytes_eq(const char *a, const char *b, size_t n, bool ci)
{
    return ci ? sk_text_eq_ci(a, b, n) : memcmp(a, b, n) == 0;
}

// Equality of two values (null == null). ci: case-insensitive for strings.
static bool val_eq(const val *a, const val *b, bool ci)
{
    if (a->t == V_NULL || b->t == V_NULL)
        return a->t == b->t;
    if (a->t == V_STR && b->t == V_STR)
        return a->n == b->n && bytes_eq(a->s, b->s, a->n, ci);
    if (a->t == V_NUM || b->t == V_NUM) {
        val x, y;
        if (!to_num(a, &x) || !to_num(b, &y))
            return false;
        if (x.is_int && y.is_int)
            return x.i == y.i;
        return x.d == y.d;
    }
    if (a->t == V_BOOL || b->t == V_BOOL) {
        const val *o = a->t == V_BOOL ? b : a;
        bool bv = a->t == V_BOOL ? a->b : b->b;
        if (o->t == V_BOOL)
            return o->b == bv;
        if (o->t == V_STR)
            return (o->n == 4 && bytes_eq(o->s, "true", 4, true) && bv) ||
                   (o->n == 5 && bytes_eq(o->s, "false", 5, true) && !bv);
    }
    return false;
}

// Ordering: -1/0/1, or false when the values cannot be ordered (null, mixed types).
static bool val_order(const val *a, const val *b, int *out)
{
    if (a->t == V_NULL || b->t == V_NULL)
        return false;
    if (a->t == V_STR && b->t == V_STR) {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = memcmp(a->s, b->s, n);
        *out = c ? (c < 0 ? -1 : 1) : (a->n < b->n ? -1 : a->n > b->n);
        return true;
    }
    val x, y;
    if (!to_num(a, &x) || !to_num(b, &y))
        return false;
    if (x.is_int && y.is_int)
        *out = x.i < y.i ? -1 : x.i > y.i;
    else
        *out = x.d < y.d ? -1 : x.d > y.d;
    return true;
}

static bool cmp_holds(en_op op, const val *a, const val *b)
{
    int o;
    switch (op) {
    case OP_EQ:
        return val_eq(a, b, false);
    case OP_NE:
        return !val_eq(a, b, false);
    case OP_LT:
        return val_order(a, b, &o) && o < 0;
    case OP_LE:
        return val_order(a, b, &o) && o <= 0;
    case OP_GT:
        return val_order(a, b, &o) && o > 0;
    case OP_GE:
        return val_order(a, b, &o) && o >= 0;
    default:
        return false;
    }
}

// ---------------------------------------------------------------------------------------------
// Expressions

static val eval(ectx *x, const enode *e);
static bool eval_bool(ectx *x, const enode *e, eql_sv *hit);

// The values an operand stands for: all values of a field, or the one value of an expression.
// Returns the count; vals points to field views, or *one holds the single value.
static uint32_t operand_values(ectx *x, const enode *e, const eql_sv **vals, val *one)
{
    if (e->type == EN_FIELD) {
        uint32_t n;
        field_vals(x, e->slot, vals, &n);
        return n;
    }
    *vals = NULL;
    *one = eval(x, e);
    return one->t == V_NULL ? 0 : 1;
}

static val nth(const eql_sv *vals, const val *one, uint32_t i)
{
    return vals ? vstr(vals[i].p, vals[i].n) : *one;
}

// Character (code point) count and offsets for substring/indexOf/length.
static size_t u8_len(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static size_t u8_off(const char *s, size_t n, size_t chars)
{
    size_t i = 0, k = 0;
    while (i < n) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) {
            if (k == chars)
                return i;
            k++;
        }
        i++;
    }
    return n;
}

static bool str_arg(ectx *x, const enode *e, const char **s, size_t *n)
{
    val v = eval(x, e);
    return to_text(x, &v, s, n);
}

static bool int_arg(ectx *x, const enode *e, int64_t *out)
{
    val v = eval(x, e), num;
    if (!to_num(&v, &num))
        return false;
    if (!num.is_int && !(num.d > -9.2e18 && num.d < 9.2e18))
        return false;
    *out = num.is_int ? num.i : (int64_t)num.d;
    return true;
}

static bool
find_sub(const char *s, size_t n, const char *sub, size_t m, bool ci, size_t from, size_t *at)
{
    if (m > n)
        return false;
    for (size_t i = from; i + m <= n; i++)
        if (bytes_eq(s + i, sub, m, ci)) {
            *at = i;
            return true;
        }
    return false;
}

// String predicate on one source value.
static bool str_pred(en_fn fn, bool ci, const char *s, size_t n, const char *sub, size_t m)
{
    size_t at;
    switch (fn) {
    case FN_STARTSWITH:
        return m <= n && bytes_eq(s, sub, m, ci);
    case FN_ENDSWITH:
        return m <= n && bytes_eq(s + n - m, sub, m, ci);
    case FN_STRINGCONTAINS:
        return m > 0 && find_sub(s, n, sub, m, ci, 0, &at);
    default:
        return false;
    }
}

// Predicate functions (startsWith, endsWith, stringContains, wildcard, cidrMatch): true when any
// value of the first argument satisfies it. *null set when the result is null.
static bool eval_pred_func(ectx *x, const enode *e, eql_sv *hit, bool *null)
{
    *null = false;
    const eql_sv *vals;
    val one;
    uint32_t nv = operand_values(x, e->kids[0], &vals, &one);
    if (nv == 0) {
        *null = true;
        return false;
    }
    if (e->fn == FN_WILDCARD || e->fn == FN_CIDRMATCH) {
        for (uint32_t i = 1; i < e->nkids; i++)
            if (e->kids[i]->type == EN_NULL) {
                *null = true;
                return false;
            }
        for (uint32_t i = 0; i < nv; i++) {
            val v = nth(vals, &one, i);
            const char *s;
            size_t n;
            if (!to_text(x, &v, &s, &n))
                continue;
            for (uint32_t k = 0; k < e->nvms; k++)
                if (sk_vm_match(e->vms[k], s, n, x->vs)) {
                    if (hit && vals)
                        *hit = vals[i];
                    return true;
                }
        }
        return false;
    }
    const char *sub;
    size_t m;
    if (!str_arg(x, e->kids[1], &sub, &m)) {
        *null = true;
        return false;
    }
    for (uint32_t i = 0; i < nv; i++) {
        val v = nth(vals, &one, i);
        const char *s;
        size_t n;
        if (!to_text(x, &v, &s, &n))
            continue;
        if (str_pred(e->fn, e->ci, s, n, sub, m)) {
            if (hit && vals)
                *hit = vals[i];
            return true;
        }
    }
    return false;
}

static val arith(en_op op, const val *a, const val *b)
{
    val x, y;
    if (!to_num(a, &x) || !to_num(b, &y))
        return vnull();
    if (x.is_int && y.is_int) {
        int64_t r;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(x.i, y.i, &r))
                return vdbl((double)x.i + (double)y.i);
            return vint(r);
        case OP_SUB:
            if (__builtin_sub_overflow(x.i, y.i, &r))
                return vdbl((double)x.i - (double)y.i);
            return vint(r);
        case OP_MUL:
            if (__builtin_mul_overflow(x.i, y.i, &r))
                return vdbl((double)x.i * (double)y.i);
            return vint(r);
        case OP_DIV:
            if (y.i == 0 || (x.i == INT64_MIN && y.i == -1))
                return vnull();
            return vint(x.i / y.i);
        case OP_MOD:
            if (y.i == 0 || (x.i == INT64_MIN && y.i == -1))
                return vnull();
            return vint(x.i % y.i);
        default:
            return vnull();
        }
    }
    switch (op) {
    case OP_ADD:
        return vdbl(x.d + y.d);
    case OP_SUB:
        return vdbl(x.d - y.d);
    case OP_MUL:
        return vdbl(x.d * y.d);
    case OP_DIV:
        return y.d == 0 ? vnull() : vdbl(x.d / y.d);
    case OP_MOD:
        if (y.d == 0)
            return vnull();
        double q = x.d / y.d; // truncated quotient (no libm: fmod by hand)
        if (!(q > -9.2e18 && q < 9.2e18))
            return vnull();
        return vdbl(x.d - y.d * (double)(int64_t)q);
    default:
        return vnull();
    }
}

static val eval_func(ectx *x, const enode *e)
{
    const char *s, *t;
    size_t n, m;
    int64_t a, b;
    switch (e->fn) {
    case FN_STARTSWITH:
    case FN_ENDSWITH:
    case FN_STRINGCONTAINS:
    case FN_WILDCARD:
    case FN_CIDRMATCH: {
        bool null;
        bool r = eval_pred_func(x, e, NULL, &null);
        return null ? vnull() : vbool(r);
    }
    case FN_LENGTH:
        if (!str_arg(x, e->kids[0], &s, &n))
            return vnull();
        return vint((int64_t)u8_len(s, n));
    case FN_STRING:
        if (!str_arg(x, e->kids[0], &s, &n))
            return vnull();
        return vstr(s, n);
    case FN_CONCAT: {
        size_t total = 0;
        const char **parts = sk_arena_alloc(&x->s->temp, e->nkids * sizeof(char *));
        size_t *lens = sk_arena_alloc(&x->s->temp, e->nkids * sizeof(size_t));
        for (uint32_t i = 0; i < e->nkids; i++) {
            if (!str_arg(x, e->kids[i], &parts[i], &lens[i]))
                return vnull();
            total += lens[i];
        }
        // A value no event field could hold is no value: concat(f, f, ..., f) of a 4 MiB field
        // (or nested concats) would otherwise build gigabytes for one event.
        if (total > SK_MAX_VALUE_BYTES || x->s->temp_text + total > EQL_TEXT_MAX)
            return vnull();
        x->s->temp_text += total;
        char *o = sk_arena_alloc(&x->s->temp, total + 1);
        size_t k = 0;
        for (uint32_t i = 0; i < e->nkids; i++) {
            memcpy(o + k, parts[i], lens[i]);
            k += lens[i];
        }
        o[k] = '\0';
        return vstr(o, k);
    }
    case FN_SUBSTRING: {
        if (!str_arg(x, e->kids[0], &s, &n) || !int_arg(x, e->kids[1], &a))
            return vnull();
        int64_t len = (int64_t)u8_len(s, n);
        b = len;
        if (e->nkids > 2 && !int_arg(x, e->kids[2], &b))
            return vnull();
        // Python slicing: negative positions count from the end; out of range clamps.
        if (a < 0)
            a = a + len < 0 ? 0 : a + len;
        if (b < 0)
            b = b + len < 0 ? 0 : b + len;
        if (a > len)
            a = len;
        if (b > len)
            b = len;
        if (a >= b)
            return vstr("", 0);
        size_t from = u8_off(s, n, (size_t)a), to = u8_off(s, n, (size_t)b);
        return vstr(s + from, to - from);
    }
    case FN_INDEXOF: {
        if (!str_arg(x, e->kids[0], &s, &n) || !str_arg(x, e->kids[1], &t, &m))
            return vnull();
        a = 0;
        if (e->nkids > 2 && !int_arg(x, e->kids[2], &a))
            return vnull();
        if (a < 0)
            a = 0;
        int64_t len = (int64_t)u8_len(s, n);
        if (a > len)
            return vnull();
        size_t at;
        if (!find_sub(s, n, t, m, e->ci, u8_off(s, n, (size_t)a), &at))
            return vnull();
        return vint((int64_t)u8_len(s, at));
    }
    case FN_BETWEEN: {
        const char *l, *r;
        size_t ln, rn;
        if (!str_arg(x, e->kids[0], &s, &n) || !str_arg(x, e->kids[1], &l, &ln) ||
            !str_arg(x, e->kids[2], &r, &rn))
            return vnull();
        bool greedy = false;
        if (e->nkids > 3) {
            val g = eval(x, e->kids[3]);
            greedy = g.t == V_BOOL && g.b;
        }
        size_t at, end;
        if (!find_sub(s, n, l, ln, e->ci, 0, &at))
            return vstr("", 0);
        size_t from = at + ln;
        if (greedy) {
            bool found = false;
            for (size_t i = n >= rn ? n - rn + 1 : 0; i-- > from;)
                if (bytes_eq(s + i, r, rn, e->ci)) {
                    end = i;
                    found = true;
                    break;
                }
            if (!found)
                return vstr("", 0);
        } else if (!find_sub(s, n, r, rn, e->ci, from, &end)) {
            return vstr("", 0);
        }
        return vstr(s + from, end - from);
    }
    case FN_NUMBER: {
        val v = eval(x, e->kids[0]), out;
        if (v.t == V_NUM)
            return v;
        if (!to_text(x, &v, &s, &n))
            return vnull();
        int64_t base = 10;
        if (e->nkids > 1) {
            val bv = eval(x, e->kids[1]), bn;
            if (bv.t != V_NULL) {
                if (!to_num(&bv, &bn) || !bn.is_int || bn.i < 2 || bn.i > 36)
                    return vnull();
                base = bn.i;
            }
        }
        if (base == 10 || (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')))
            return parse_num(s, n, &out) ? out : vnull();
        char buf[72];
        if (n == 0 || n >= sizeof buf || memchr(s, '\0', n))
            return vnull();
        memcpy(buf, s, n);
        buf[n] = '\0';
        char *end;
        errno = 0;
        long long v2 = strtoll(buf, &end, (int)base);
        return *end || end == buf || errno == ERANGE ? vnull() : vint(v2);
    }
    case FN_ADD:
    case FN_SUBTRACT:
    case FN_MULTIPLY:
    case FN_DIVIDE:
    case FN_MODULO: {
        static const en_op ops[] = { [FN_ADD] = OP_ADD,
                                     [FN_SUBTRACT] = OP_SUB,
                                     [FN_MULTIPLY] = OP_MUL,
                                     [FN_DIVIDE] = OP_DIV,
                                     [FN_MODULO] = OP_MOD };
        val l = eval(x, e->kids[0]), r = eval(x, e->kids[1]);
        return arith(ops[e->fn], &l, &r);
    }
    case FN_NONE:
        break;
    }
    return vnull();
}

static val eval(ectx *x, const enode *e)
{
    switch (e->type) {
    case EN_NULL:
        return vnull();
    case EN_BOOL:
        return vbool(e->b);
    case EN_NUM:
        return e->is_int ? vint(e->i) : vdbl(e->d);
    case EN_STR:
        return vstr(e->s, e->len);
    case EN_FIELD: {
        const eql_sv *v;
        uint32_t n;
        field_vals(x, e->slot, &v, &n);
        return n ? vstr(v[0].p, v[0].n) : vnull();
    }
    case EN_FUNC:
        return eval_func(x, e);
    case EN_ARITH: {
        val a = eval(x, e->kids[0]), b = eval(x, e->kids[1]);
        return arith(e->op, &a, &b);
    }
    case EN_NEG: {
        val a = eval(x, e->kids[0]), z = vint(0);
        return arith(OP_SUB, &z, &a);
    }
    case EN_AND:
    case EN_OR:
    case EN_NOT:
    case EN_CMP:
    case EN_LOOKUP:
        return vbool(eval_bool(x, e, NULL));
    }
    return vnull();
}

static bool eval_cmp(ectx *x, const enode *e, eql_sv *hit)
{
    // Iterate the values of a field operand (any value may satisfy the comparison); != is the
    // negation of ==.
    int fside = e->kids[0]->type == EN_FIELD ? 0 : e->kids[1]->type == EN_FIELD ? 1 : -1;
    en_op op = e->op == OP_NE ? OP_EQ : e->op;
    bool r = false;
    if (fside < 0) {
        val a = eval(x, e->kids[0]), b = eval(x, e->kids[1]);
        // Without a field operand Elasticsearch evaluates a script, where a comparison with a
        // null (a function of a missing field) is null, which is false; `!= null` is IsNotNull.
        if (e->op == OP_NE && (a.t == V_NULL || b.t == V_NULL) &&
            e->kids[0]->type != EN_NULL && e->kids[1]->type != EN_NULL)
            return false;
        r = cmp_holds(op, &a, &b);
    } else {
        const eql_sv *vals;
        uint32_t nv;
        field_vals(x, e->kids[fside]->slot, &vals, &nv);
        val other = eval(x, e->kids[1 - fside]);
        if (nv == 0) {
            val nul = vnull();
            r = fside == 0 ? cmp_holds(op, &nul, &other) : cmp_holds(op, &other, &nul);
        }
        for (uint32_t i = 0; i < nv && !r; i++) {
            val v = vstr(vals[i].p, vals[i].n);
            r = fside == 0 ? cmp_holds(op, &v, &other) : cmp_holds(op, &other, &v);
            if (r && hit)
                *hit = vals[i];
        }
    }
    return e->op == OP_NE ? !r : r;
}

static bool eval_lookup(ectx *x, const enode *e, eql_sv *hit)
{
    const eql_sv *vals;
    val one;
    uint32_t nv = operand_values(x, e->kids[0], &vals, &one);
    bool found = false;
    for (uint32_t i = 0; i < nv && !found; i++) {
        val v = nth(vals, &one, i);
        const char *s;
        size_t n;
        if (!to_text(x, &v, &s, &n))
            continue;
        for (uint32_t k = 0; k < e->nvms && !found; k++)
            found = sk_vm_match(e->vms[k], s, n, x->vs);
        for (uint32_t k = 0; k < e->ndyn && !found; k++) {
            val d = eval(x, e->dyn[k]);
            found = val_eq(&v, &d, e->ci);
        }
        if (found && hit && vals)
            *hit = vals[i];
    }
    return e->neg ? !found : found;
}

static bool truthy(const val *v)
{
    if (v->t == V_BOOL)
        return v->b;
    if (v->t == V_STR)
        return v->n == 4 && bytes_eq(v->s, "true", 4, true);
    return false;
}

static bool eval_bool(ectx *x, const enode *e, eql_sv *hit)
{
    switch (e->type) {
    case EN_AND:
        for (uint32_t i = 0; i < e->nkids; i++)
            if (!eval_bool(x, e->kids[i], NULL))
                return false;
        return true;
    case EN_OR:
        for (uint32_t i = 0; i < e->nkids; i++)
            if (eval_bool(x, e->kids[i], NULL))
                return true;
        return false;
    case EN_NOT:
        return !eval_bool(x, e->kids[0], NULL);
    case EN_CMP:
        return eval_cmp(x, e, hit);
    case EN_LOOKUP:
        return eval_lookup(x, e, hit);
    case EN_FUNC:
        if (e->fn == FN_STARTSWITH || e->fn == FN_ENDSWITH || e->fn == FN_STRINGCONTAINS ||
            e->fn == FN_WILDCARD || e->fn == FN_CIDRMATCH) {
            bool null;
            return eval_pred_func(x, e, hit, &null);
        }
        break;
    default:
        break;
    }
    val v = eval(x, e);
    return truthy(&v);
}

// The field a leaf predicate is about (for match items): its first field operand.
static const enode *leaf_field(const enode *e)
{
    if (e->type == EN_FIELD)
        return e;
    if (e->type == EN_LOOKUP || e->type == EN_FUNC || e->type == EN_CMP)
        for (uint32_t i = 0; i < e->nkids; i++)
            if (e->kids[i]->type == EN_FIELD)
                return e->kids[i];
    return NULL;
}

// Match items: the field values that made the positive leaves true.
static void collect(ectx *x, const enode *e, unsigned depth)
{
    if (depth > 256)
        return;
    switch (e->type) {
    case EN_AND:
    case EN_OR:
        for (uint32_t i = 0; i < e->nkids; i++)
            if (e->type == EN_AND || eval_bool(x, e->kids[i], NULL))
                collect(x, e->kids[i], depth + 1);
        return;
    case EN_NOT:
        return;
    case EN_CMP:
    case EN_LOOKUP:
    case EN_FUNC: {
        if ((e->type == EN_LOOKUP && e->neg) || (e->type == EN_CMP && e->op == OP_NE))
            return;
        const enode *f = leaf_field(e);
        if (!f)
            return;
        eql_sv hit = { NULL, 0 };
        if (!eval_bool(x, e, &hit))
            return;
        if (!hit.p) { // the field is not the operand iterated ("a" in (f), startsWith("a", f)):
            const eql_sv *v; // functions and lists read its first value
            uint32_t nv;
            field_vals(x, f->slot, &v, &nv);
            if (nv)
                hit = v[0];
        }
        mt_items_push(x->m, "query", x->tab->slots[f->slot].name, hit.p);
        return;
    }
    default:
        return;
    }
}

// ---------------------------------------------------------------------------------------------
// Rules

static bool category_ok(ectx *x, const eql_query *q)
{
    const eql_sv *v;
    uint32_t n;
    field_vals(x, q->cat_slot, &v, &n);
    size_t cl = strlen(q->category);
    for (uint32_t i = 0; i < n; i++)
        if (v[i].n == cl && strncasecmp(v[i].p, q->category, cl) == 0)
            return true;
    if (strcmp(q->category, "dns") == 0) {
        field_vals(x, q->dq_slot, &v, &n);
        return n > 0;
    }
    return false;
}

bool eql_run_rule(sk_matcher *m, const sk_rule *r, sk_hit_fn fn, void *ctx)
{
    eql_scratch *s = mt_eql(m);
    const sk_event *ev = mt_event(m);
    if (!s || !ev)
        return false;
    const eql_query *q = r->eql;
    ectx x = { .m = m, .s = s, .tab = q->rs->eql, .vs = mt_vm_scratch(m) };
    uint32_t g = mt_event_gen(m);
    if (g != s->ev_gen || ev != s->ev) {
        s->ev_gen = g;
        s->ev = ev;
        if (++s->gen == 0) {
            memset(s->slot_gen, 0, (s->nslots ? s->nslots : 1) * sizeof(uint32_t));
            s->gen = 1;
        }
        s->nvals = 0;
        sk_arena_reset(&s->derived);
        s->log = sk_ecs_log_of(ev);
        s->eid = ev->has_event_id ? (long)ev->event_id : -1;
    }
    sk_arena_reset(&s->temp);
    s->temp_text = 0;
    if (q->category && !category_ok(&x, q))
        return false;
    if (!eval_bool(&x, q->root, NULL))
        return false;
    if (fn) {
        mt_items_reset(m);
        collect(&x, q->root, 0);
        size_t n;
        const sk_match_item *items = mt_items(m, &n);
        fn(ctx, r, ev, items, n);
    }
    return true;
}
