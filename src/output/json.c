// JSON text for output. Written by hand rather than with yajl_gen so that the hot path appends
// straight into one reused buffer and the key order is fixed by the code.
#include "json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_bytes.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/utf.h"

sk_status sk_json_str(sk_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sk_status st = sk_buf_addc(out, '"');
    size_t run = 0; // start of the pending run of bytes that need no escaping
    size_t i = 0;
    while (st == SK_OK && i < n) {
        i = (size_t)(sk_json_find_special(s + i, s + n) - s); // skips plain ASCII a block at a time
        if (i == n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t k = sk_utf8_decode(s + i, n - i, &cp);
            bool bad = cp == 0xFFFD && !(k == 3 && (unsigned char)s[i] == 0xEF);
            if (!bad && cp != 0x2028 && cp != 0x2029) {
                i += k;
                continue;
            }
            st = sk_buf_add(out, s + run, i - run);
            if (st == SK_OK)
                st = bad ? sk_buf_adds(out, "\xEF\xBF\xBD")
                         : sk_buf_adds(out, cp == 0x2028 ? "\\u2028" : "\\u2029");
            i += k;
            run = i;
            continue;
        }
        st = sk_buf_add(out, s + run, i - run);
        if (st != SK_OK)
            break;
        switch (c) {
        case '"':
            st = sk_buf_adds(out, "\\\"");
            break;
        case '\\':
            st = sk_buf_adds(out, "\\\\");
            break;
        case '\n':
            st = sk_buf_adds(out, "\\n");
            break;
        case '\r':
            st = sk_buf_adds(out, "\\r");
            break;
        case '\t':
            st = sk_buf_adds(out, "\\t");
            break;
        case '\b':
            st = sk_buf_adds(out, "\\b");
            break;
        case '\f':
            st = sk_buf_adds(out, "\\f");
            break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            st = sk_buf_add(out, u, 6);
        }
        }
        i++;
        run = i;
    }
    if (st == SK_OK)
        st = sk_buf_add(out, s + run, n - run);
    if (st == SK_OK)
        st = sk_buf_addc(out, '"');
    return st;
}

static sk_status str_or_null(sk_buf *out, const char *s)
{
    return s ? sk_json_str(out, s, strlen(s)) : sk_buf_adds(out, "null");
}

sk_status sk_json_event_head(sk_buf *out, const sk_event *ev)
{
    sk_status st = sk_buf_adds(out, "\"timestamp\":");
    if (st == SK_OK) {
        if (ev->has_time) {
            char ts[29];
            sk_time_format(ev->time, ts);
            st = sk_buf_addf(out, "\"%s\"", ts);
        } else {
            st = sk_buf_adds(out, "null");
        }
    }
    if (st == SK_OK)
        st = sk_buf_adds(out, ",\"computer\":");
    if (st == SK_OK)
        st = str_or_null(out, ev->computer);
    if (st == SK_OK)
        st = sk_buf_adds(out, ",\"channel\":");
    if (st == SK_OK)
        st = str_or_null(out, ev->channel);
    if (st == SK_OK)
        st = ev->has_event_id ? sk_buf_addf(out, ",\"event_id\":%u", ev->event_id)
                              : sk_buf_adds(out, ",\"event_id\":null");
    return st;
}

sk_status sk_json_event_source(sk_buf *out, const sk_event *ev)
{
    sk_status st = sk_buf_adds(out, "\"source\":{\"file\":");
    if (st == SK_OK)
        st = str_or_null(out, ev->file);
    if (st != SK_OK)
        return st;
    if (ev->format == SK_FORMAT_EVTX) {
        st = sk_buf_adds(out, ",\"format\":\"evtx\",\"record_id\":");
        if (st == SK_OK)
            st = ev->has_record_id ? sk_buf_addf(out, "%llu", (unsigned long long)ev->record_id)
                                   : sk_buf_adds(out, "null");
    } else {
        st = sk_buf_addf(out, ",\"format\":\"ndjson\",\"line\":%llu",
                         (unsigned long long)ev->line);
    }
    if (st == SK_OK)
        st = sk_buf_addf(out, ",\"recovered\":%s}", ev->recovered ? "true" : "false");
    return st;
}

#define NO_FIELD UINT32_MAX

static bool same_name(const sk_field *a, const sk_field *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static uint64_t name_hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

// next[i]: the next visible field after i with the same name (NO_FIELD: none); first[i]: whether
// i is the first visible field of its name. Through a hash table of the names, so an event of
// thousands of fields costs one pass, not a comparison of every pair.
static void link_names(const sk_event *ev, size_t n, uint32_t *next, bool *first)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t small_slot[128], small_last[64]; // most events: no allocation
    uint32_t *slot = cap <= 128 ? small_slot : sk_xmalloc(cap * sizeof *slot);
    uint32_t *last = n <= 64 ? small_last : sk_xmalloc(n * sizeof *last);
    for (size_t k = 0; k < cap; k++)
        slot[k] = NO_FIELD;
    for (size_t i = 0; i < n; i++) {
        next[i] = NO_FIELD;
        first[i] = false;
        const sk_field *f = sk_event_field(ev, i);
        if (f->flags & SK_FIELD_HIDDEN)
            continue;
        size_t k = (size_t)name_hash(f->name, f->name_len) & (cap - 1);
        while (slot[k] != NO_FIELD && !same_name(sk_event_field(ev, slot[k]), f))
            k = (k + 1) & (cap - 1);
        if (slot[k] == NO_FIELD) {
            slot[k] = (uint32_t)i;
            first[i] = true;
        } else {
            next[last[slot[k]]] = (uint32_t)i;
        }
        last[slot[k]] = (uint32_t)i; // the chain's tail, kept at its head's index
    }
    if (slot != small_slot)
        free(slot);
    if (last != small_last)
        free(last);
}

sk_status sk_json_event_fields(sk_buf *out, const sk_event *ev)
{
    sk_status st = sk_buf_adds(out, "\"fields\":{");
    bool firstf = true;
    size_t n = sk_event_nfields(ev);
    uint32_t small_next[64];
    bool small_first[64];
    uint32_t *next = n <= 64 ? small_next : sk_xmalloc(n * sizeof *next);
    bool *first = n <= 64 ? small_first : sk_xmalloc(n * sizeof *first);
    link_names(ev, n, next, first);
    // Each name once, at its first appearance, with the later values of the same name.
    for (size_t i = 0; i < n && st == SK_OK; i++) {
        if (!first[i])
            continue;
        const sk_field *f = sk_event_field(ev, i);
        if (!firstf)
            st = sk_buf_addc(out, ',');
        firstf = false;
        if (st == SK_OK)
            st = sk_json_str(out, f->name, f->name_len);
        if (st == SK_OK)
            st = sk_buf_addc(out, ':');
        if (st != SK_OK)
            break;
        if (next[i] == NO_FIELD) {
            st = sk_json_str(out, f->value, f->value_len);
            continue;
        }
        st = sk_buf_addc(out, '[');
        for (uint32_t j = (uint32_t)i; j != NO_FIELD && st == SK_OK; j = next[j]) {
            const sk_field *g = sk_event_field(ev, j);
            if (j != i)
                st = sk_buf_addc(out, ',');
            if (st == SK_OK)
                st = sk_json_str(out, g->value, g->value_len);
        }
        if (st == SK_OK)
            st = sk_buf_addc(out, ']');
    }
    if (next != small_next)
        free(next);
    if (first != small_first)
        free(first);
    if (st == SK_OK)
        st = sk_buf_addc(out, '}');
    return st;
}

sk_status sk_json_event(sk_buf *out, const sk_event *ev)
{
    sk_status st = sk_buf_addc(out, '{');
    if (st == SK_OK)
        st = sk_json_event_head(out, ev);
    if (st == SK_OK)
        st = sk_buf_addc(out, ',');
    if (st == SK_OK)
        st = sk_json_event_source(out, ev);
    if (st == SK_OK)
        st = sk_buf_addc(out, ',');
    if (st == SK_OK)
        st = sk_json_event_fields(out, ev);
    if (st == SK_OK)
        st = sk_buf_addc(out, '}');
    return st;
}
