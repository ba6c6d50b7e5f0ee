// Hit sinks: jsonl, json and a plain table.
#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/timefmt.h"
#include "core/utf.h"
#include "json.h"

struct sk_sink {
    sk_sink_format fmt;
    sk_out *out;
    unsigned width;
    unsigned long hits;
    sk_buf line;
};

static sk_status str_or_null(sk_buf *b, const char *s)
{
    return s ? sk_json_str(b, s, strlen(s)) : sk_buf_adds(b, "null");
}

sk_status sk_json_hit(sk_buf *b,
                      const sk_rule *rule,
                      const sk_event *ev,
                      const sk_match_item *items,
                      size_t n)
{
    sk_status st = sk_buf_addc(b, '{');
    if (st == SK_OK)
        st = sk_json_event_head(b, ev);
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"rule\":{\"id\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_rule_id(rule));
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"title\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_rule_title(rule));
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"level\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_level_str(sk_rule_level(rule)));
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"status\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_rule_status(rule));
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"tags\":[");
    for (size_t i = 0; st == SK_OK && i < sk_rule_tag_count(rule); i++) {
        if (i)
            st = sk_buf_addc(b, ',');
        if (st == SK_OK)
            st = str_or_null(b, sk_rule_tag_at(rule, i));
    }
    if (st == SK_OK)
        st = sk_buf_adds(b, "],\"path\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_rule_path(rule));
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"language\":");
    if (st == SK_OK)
        st = str_or_null(b, sk_rule_language(rule));
    if (st == SK_OK)
        st = sk_buf_adds(b, "},");
    if (st == SK_OK)
        st = sk_json_event_source(b, ev);
    if (st == SK_OK)
        st = sk_buf_adds(b, ",\"matched\":[");
    for (size_t i = 0; st == SK_OK && i < n; i++) {
        st = sk_buf_adds(b, i ? ",{\"selection\":" : "{\"selection\":");
        if (st == SK_OK)
            st = str_or_null(b, items[i].selection);
        if (st == SK_OK)
            st = sk_buf_adds(b, ",\"field\":");
        if (st == SK_OK)
            st = str_or_null(b, items[i].field);
        if (st == SK_OK)
            st = sk_buf_adds(b, ",\"value\":");
        if (st == SK_OK)
            st = str_or_null(b, items[i].value);
        if (st == SK_OK)
            st = sk_buf_addc(b, '}');
    }
    if (st == SK_OK)
        st = sk_buf_adds(b, "],");
    if (st == SK_OK)
        st = sk_json_event_fields(b, ev);
    if (st == SK_OK)
        st = sk_buf_addc(b, '}');
    return st;
}

sk_sink *sk_sink_new(sk_sink_format fmt, sk_out *out, unsigned width)
{
    sk_sink *s = sk_xcalloc(1, sizeof *s);
    s->fmt = fmt;
    s->out = out;
    s->width = width ? width : 160;
    sk_buf_init(&s->line, (size_t)1 << 30);
    if (fmt == SK_SINK_JSONL)
        out->line_buffered = true;
    return s;
}

void sk_sink_free(sk_sink *s)
{
    if (!s)
        return;
    sk_buf_fini(&s->line);
    free(s);
}

// Appends at most max display columns of s (one column per code point) to b, with control
// characters shown as escapes so event text cannot drive the terminal; "…" marks a cut.
static sk_status add_cell(sk_buf *b, const char *s, size_t max)
{
    size_t cols = 0, i = 0, n = strlen(s);
    sk_status st = SK_OK;
    while (i < n && st == SK_OK) {
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, n - i, &cp);
        char esc[8] = { 0 };
        size_t w = 1;
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            snprintf(esc, sizeof esc, cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t"
                                                                                  : "\\x%02x",
                     (unsigned)cp);
            w = strlen(esc);
        }
        if (cols + w > max - 1 && (i + k < n || cols + w > max)) {
            st = sk_buf_adds(b, "\xE2\x80\xA6"); // …
            cols++;
            break;
        }
        st = esc[0] ? sk_buf_adds(b, esc) : sk_utf8_put(b, cp);
        cols += w;
        i += k;
    }
    while (st == SK_OK && cols < max) {
        st = sk_buf_addc(b, ' ');
        cols++;
    }
    return st;
}

// The most telling field of the event for the table's last column.
static const char *details(const sk_event *ev, const char **label)
{
    static const char *const keys[] = { "CommandLine", "TargetFilename", "TargetObject",
                                        "ImageLoaded", "QueryName", "DestinationIp",
                                        "ScriptBlockText", "Image", "NewProcessName" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *v = sk_event_get(ev, keys[i]);
        if (v && *v) {
            *label = keys[i];
            return v;
        }
    }
    *label = "";
    return "";
}

static sk_status table_hit(sk_sink *s, const sk_rule *rule, const sk_event *ev)
{
    sk_buf *b = &s->line;
    sk_status st = SK_OK;
    if (s->hits == 1) {
        st = add_cell(b, "Timestamp (UTC)", 24);
        if (st == SK_OK)
            st = sk_buf_addc(b, ' ');
        if (st == SK_OK)
            st = add_cell(b, "Computer", 16);
        if (st == SK_OK)
            st = sk_buf_addc(b, ' ');
        if (st == SK_OK)
            st = add_cell(b, "EventID", 7);
        if (st == SK_OK)
            st = sk_buf_addc(b, ' ');
        if (st == SK_OK)
            st = add_cell(b, "Level", 8);
        if (st == SK_OK)
            st = sk_buf_addc(b, ' ');
        if (st == SK_OK)
            st = add_cell(b, "Rule", 40);
        if (st == SK_OK)
            st = sk_buf_adds(b, " Details\n");
    }
    char ts[29] = "-";
    if (ev->has_time) {
        sk_time_format(ev->time, ts);
        ts[23] = '\0'; // milliseconds are enough on screen; JSON keeps all 7 digits
    }
    char eid[16] = "-";
    if (ev->has_event_id)
        snprintf(eid, sizeof eid, "%u", ev->event_id);
    const char *label;
    const char *det = details(ev, &label);
    if (st == SK_OK)
        st = add_cell(b, ts, 24);
    if (st == SK_OK)
        st = sk_buf_addc(b, ' ');
    if (st == SK_OK)
        st = add_cell(b, ev->computer ? ev->computer : "-", 16);
    if (st == SK_OK)
        st = sk_buf_addc(b, ' ');
    if (st == SK_OK)
        st = add_cell(b, eid, 7);
    if (st == SK_OK)
        st = sk_buf_addc(b, ' ');
    if (st == SK_OK)
        st = add_cell(b, sk_level_str(sk_rule_level(rule)), 8);
    if (st == SK_OK)
        st = sk_buf_addc(b, ' ');
    if (st == SK_OK)
        st = add_cell(b, sk_rule_title(rule), 40);
    if (st == SK_OK)
        st = sk_buf_addc(b, ' ');
    size_t used = 24 + 1 + 16 + 1 + 7 + 1 + 8 + 1 + 40 + 1;
    size_t room = s->width > used + 10 ? s->width - used : 10;
    char lab[64];
    snprintf(lab, sizeof lab, "%s%s", label, *label ? ": " : "");
    size_t ll = strlen(lab);
    if (st == SK_OK && ll < room) {
        st = sk_buf_adds(b, lab);
        room -= ll;
    }
    if (st == SK_OK)
        st = add_cell(b, det, room);
    // Trailing padding is noise on a terminal and in golden files.
    while (b->n && b->p[b->n - 1] == ' ')
        b->n--;
    if (st == SK_OK)
        st = sk_buf_addc(b, '\n');
    return st;
}

sk_status sk_sink_hit(sk_sink *s,
                      const sk_rule *rule,
                      const sk_event *ev,
                      const sk_match_item *items,
                      size_t n)
{
    sk_buf *b = &s->line;
    sk_buf_reset(b);
    s->hits++;
    sk_status st = SK_OK;
    switch (s->fmt) {
    case SK_SINK_JSONL:
        st = sk_json_hit(b, rule, ev, items, n);
        if (st == SK_OK)
            st = sk_buf_addc(b, '\n');
        break;
    case SK_SINK_JSON:
        st = sk_buf_adds(b, s->hits == 1 ? "[\n" : ",\n");
        if (st == SK_OK)
            st = sk_json_hit(b, rule, ev, items, n);
        break;
    case SK_SINK_TABLE:
        st = table_hit(s, rule, ev);
        break;
    }
    if (st != SK_OK)
        return SK_ERR_LIMIT;
    return sk_out_line(s->out, b->p, b->n);
}

sk_status sk_sink_end(sk_sink *s)
{
    if (s->fmt != SK_SINK_JSON)
        return sk_out_flush(s->out);
    const char *tail = s->hits ? "\n]\n" : "[]\n";
    sk_status st = sk_out_line(s->out, tail, strlen(tail));
    if (st == SK_OK)
        st = sk_out_flush(s->out);
    return st;
}
