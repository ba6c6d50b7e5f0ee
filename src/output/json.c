// JSON text for output. Written by hand rather than with yajl_gen so that the hot path appends
// straight into one reused buffer and the key order is fixed by the code.
#include "json.h"

#include <stdbool.h>
#include <string.h>

#include "core/json_bytes.h"
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

sk_status sk_json_event_fields(sk_buf *out, const sk_event *ev)
{
    sk_status st = sk_buf_adds(out, "\"fields\":{");
    bool first = true;
    size_t n = sk_event_nfields(ev);
    for (size_t i = 0; i < n && st == SK_OK; i++) {
        const sk_field *f = sk_event_field(ev, i);
        if (f->flags & SK_FIELD_HIDDEN)
            continue;
        // Print each name once, at its first appearance, gathering later values of the same name.
        bool seen = false, repeated = false;
        for (size_t j = 0; j < i && !seen; j++) {
            const sk_field *g = sk_event_field(ev, j);
            seen = !(g->flags & SK_FIELD_HIDDEN) && g->name_len == f->name_len &&
                   memcmp(g->name, f->name, f->name_len) == 0;
        }
        if (seen)
            continue;
        for (size_t j = i + 1; j < n && !repeated; j++) {
            const sk_field *g = sk_event_field(ev, j);
            repeated = !(g->flags & SK_FIELD_HIDDEN) && g->name_len == f->name_len &&
                       memcmp(g->name, f->name, f->name_len) == 0;
        }
        if (!first)
            st = sk_buf_addc(out, ',');
        first = false;
        if (st == SK_OK)
            st = sk_json_str(out, f->name, f->name_len);
        if (st == SK_OK)
            st = sk_buf_addc(out, ':');
        if (st != SK_OK)
            break;
        if (!repeated) {
            st = sk_json_str(out, f->value, f->value_len);
            continue;
        }
        st = sk_buf_addc(out, '[');
        bool firstv = true;
        for (size_t j = i; j < n && st == SK_OK; j++) {
            const sk_field *g = sk_event_field(ev, j);
            if ((g->flags & SK_FIELD_HIDDEN) || g->name_len != f->name_len ||
                memcmp(g->name, f->name, f->name_len) != 0)
                continue;
            if (!firstv)
                st = sk_buf_addc(out, ',');
            firstv = false;
            if (st == SK_OK)
                st = sk_json_str(out, g->value, g->value_len);
        }
        if (st == SK_OK)
            st = sk_buf_addc(out, ']');
    }
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
