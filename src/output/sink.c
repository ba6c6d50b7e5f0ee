// Hit sinks: table, jsonl, json and csv, with optional sorting through sk_sorter.
#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <locale.h>
#include <pthread.h>
#include <strings.h>
#include <wchar.h>

#include "core/mem.h"
#include "core/timefmt.h"
#include "core/utf.h"
#include "json.h"
#include "sorter.h"

struct sk_sink {
    sk_sink_opts o;
    sk_out *out;
    unsigned long hits;    // hits written (or queued)
    unsigned long emitted; // records written to out (after sorting)
    sk_buf line;
    sk_sorter *sorter;
    size_t *rank; // SK_SORT_RULE: rank of each rule (by index) in title order
    // table layout, computed once from the width
    bool show_computer, show_event;
    size_t w_time, w_computer, w_event, w_level, w_rule, w_details;
};

// ---------------------------------------------------------------------------------------------
// Text helpers

static sk_status str_or_null(sk_buf *b, const char *s)
{
    return s ? sk_json_str(b, s, strlen(s)) : sk_buf_adds(b, "null");
}

// A matched value: the field's value, cut after SK_MATCHED_VALUE_MAX bytes (at a character
// boundary, ending in "…"). The whole value is in "fields"; repeating a 15 MB script block once
// per matching selection made one hit line of hundreds of megabytes.
#define SK_MATCHED_VALUE_MAX 4096u
// Bytes of the CSV details column at most.
#define CSV_DETAILS_MAX ((size_t)1 << 20)

static sk_status matched_value(sk_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n <= SK_MATCHED_VALUE_MAX)
        return str_or_null(b, s);
    size_t cut = sk_utf8_cut(s, SK_MATCHED_VALUE_MAX);
    char *t = sk_xmalloc(cut + 4);
    memcpy(t, s, cut);
    memcpy(t + cut, "\xE2\x80\xA6", 3);
    t[cut + 3] = '\0';
    sk_status st = sk_json_str(b, t, cut + 3);
    free(t);
    return st;
}

// The C library's character widths (wcwidth), which terminals use too: those of the C.UTF-8
// locale, whatever locale the process runs in. NULL when it has none (then a small table).
static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

// Columns of one code point: 0 for combining marks, 2 for East Asian wide and emoji, else 1
// (also for code points the C library does not know).
static size_t cp_width(uint32_t cp)
{
    if (cp < 0x300)
        return 1;
    pthread_once(&utf8_once, utf8_locale_init);
    if (utf8_locale) {
        locale_t old = uselocale(utf8_locale);
        int w = wcwidth((wchar_t)cp);
        uselocale(old);
        return w >= 0 ? (size_t)w : 1;
    }
    if ((cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x200B && cp <= 0x200F) || cp == 0xFE0F)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x1F200 && cp <= 0x1F2FF) ||
        (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

size_t sk_text_width(const char *s, size_t n)
{
    size_t w = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        i += sk_utf8_decode(s + i, n - i, &cp);
        w += cp_width(cp);
    }
    return w;
}

// Appends s shown in exactly max columns: control characters (C0, DEL, C1) and bidirectional
// formatting characters are written as escapes so event text cannot drive the terminal or
// reorder what it shows; text that does not fit ends in "…"; short text is padded with spaces
// unless pad is false.
static void add_cell(sk_buf *b, const char *s, size_t max, bool pad)
{
    size_t cols = 0, i = 0, n = strlen(s);
    while (i < n) {
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, n - i, &cp);
        char esc[12] = { 0 };
        size_t w;
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) {
            if (cp == '\n')
                memcpy(esc, "\\n", 3);
            else if (cp == '\r')
                memcpy(esc, "\\r", 3);
            else if (cp == '\t')
                memcpy(esc, "\\t", 3);
            else
                snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
            w = strlen(esc);
        } else if (sk_text_is_bidi_control(cp)) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
            w = strlen(esc);
        } else {
            w = cp_width(cp);
        }
        // Keep one column for the ellipsis unless this is the last character and it fits.
        bool last = i + k >= n;
        if (cols + w > max || (!last && cols + w > max - 1)) {
            if (cols < max) {
                sk_buf_puts(b, "\xE2\x80\xA6");
                cols++;
            }
            break;
        }
        if (esc[0])
            sk_buf_puts(b, esc);
        else if (sk_utf8_put(b, cp) != SK_OK)
            b->full = true;
        cols += w;
        i += k;
    }
    while (pad && cols < max) {
        sk_buf_putc(b, ' ');
        cols++;
    }
}

void sk_channel_short(const char *ch, char *out, size_t n)
{
    if (!ch) {
        snprintf(out, n, "-");
        return;
    }
    const char *p = ch;
    if (strncmp(p, "Microsoft-Windows-", 18) == 0)
        p += 18;
    size_t len = strlen(p);
    if (len > 12 && strcmp(p + len - 12, "/Operational") == 0)
        len -= 12;
    snprintf(out, n, "%.*s", (int)len, p);
}

// The event's time as the table and CSV show it.
static void format_time(const sk_sink *s, const sk_event *ev, char *out, size_t n, bool iso)
{
    if (!ev->has_time) {
        snprintf(out, n, "-");
        return;
    }
    if (s->o.tz == SK_TZ_UTC) {
        char ts[29];
        sk_time_format(ev->time, ts);
        if (iso) {
            snprintf(out, n, "%s", ts);
        } else {
            ts[10] = ' ';
            ts[23] = '\0'; // milliseconds are enough on screen; JSON keeps all 7 digits
            snprintf(out, n, "%s", ts);
        }
        return;
    }
    uint64_t ticks = ev->time;
    time_t secs = (time_t)((int64_t)(ticks / 10000000ULL) -
                           (int64_t)(SK_FILETIME_UNIX_EPOCH / 10000000ULL));
    unsigned frac = (unsigned)(ticks % 10000000ULL);
    struct tm tm;
    if (!localtime_r(&secs, &tm)) {
        snprintf(out, n, "-");
        return;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    // ISO-8601 with 7 fractional digits (CSV), or milliseconds for the table.
    snprintf(out,
             n,
             iso ? "%04d-%02d-%02dT%02d:%02d:%02d.%07u%c%02ld:%02ld"
                 : "%04d-%02d-%02d %02d:%02d:%02d.%03u %c%02ld:%02ld",
             tm.tm_year + 1900,
             tm.tm_mon + 1,
             tm.tm_mday,
             tm.tm_hour,
             tm.tm_min,
             tm.tm_sec,
             iso ? frac : frac / 10000,
             sign,
             off / 60,
             off % 60);
}

// The fields that tell most about an event, in order of preference.
static const char *const detail_keys[] = {
    "CommandLine",    "ScriptBlockText", "TargetFilename",  "TargetObject",    "ImageLoaded",
    "QueryName",      "DestinationIp",   "PipeName",        "ServiceFileName", "Image",
    "NewProcessName", "TargetUserName",  "SubjectUserName",
};

static const char *first_detail(const sk_event *ev, const char **label)
{
    for (size_t i = 0; i < sizeof detail_keys / sizeof *detail_keys; i++) {
        const char *v = sk_event_get(ev, detail_keys[i]);
        if (v && *v) {
            *label = detail_keys[i];
            return v;
        }
    }
    *label = NULL;
    return "";
}

// ---------------------------------------------------------------------------------------------
// JSON

sk_status sk_json_hit(
        sk_buf *b, const sk_rule *rule, const sk_event *ev, const sk_match_item *items, size_t n)
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
            st = matched_value(b, items[i].value);
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

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180)

// A CSV cell. Text from the logs or the rules (text: true) that a spreadsheet would take for a
// formula (a cell that starts with =, +, -, @, a tab or a carriage return, and has more than that
// one character) gets a leading apostrophe, so that it is shown as text: a crafted event could
// otherwise put =HYPERLINK(...) or a DDE call into a cell an analyst opens (CSV injection).
static void csv_field_as(sk_buf *b, const char *s, bool comma, bool text)
{
    if (comma)
        sk_buf_putc(b, ',');
    if (!s)
        return;
    bool guard = text && s[0] && s[1] && strchr("=+-@\t\r", s[0]);
    if (!guard && strpbrk(s, ",\"\r\n") == NULL) {
        sk_buf_puts(b, s);
        return;
    }
    sk_buf_putc(b, '"');
    if (guard)
        sk_buf_putc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            sk_buf_putc(b, '"');
        sk_buf_putc(b, *p);
    }
    sk_buf_putc(b, '"');
}

static void csv_field(sk_buf *b, const char *s, bool comma)
{
    csv_field_as(b, s, comma, false);
}

static void csv_text(sk_buf *b, const char *s)
{
    csv_field_as(b, s, true, true);
}

static const char csv_header[] =
        "timestamp,level,rule_title,rule_id,computer,channel,event_id,file,record,details\r\n";

static void csv_hit(const sk_sink *s, sk_buf *b, const sk_rule *rule, const sk_event *ev)
{
    char ts[64], num[32], rec[32];
    format_time(s, ev, ts, sizeof ts, true);
    csv_field(b, ev->has_time ? ts : "", false);
    csv_field(b, sk_level_str(sk_rule_level(rule)), true);
    csv_text(b, sk_rule_title(rule));
    csv_text(b, sk_rule_id(rule));
    csv_text(b, ev->computer);
    csv_text(b, ev->channel);
    num[0] = rec[0] = '\0';
    if (ev->has_event_id)
        snprintf(num, sizeof num, "%u", ev->event_id);
    csv_field(b, num, true);
    csv_text(b, ev->file);
    if (ev->format == SK_FORMAT_EVTX && ev->has_record_id)
        snprintf(rec, sizeof rec, "%llu", (unsigned long long)ev->record_id);
    else if (ev->format == SK_FORMAT_NDJSON)
        snprintf(rec, sizeof rec, "%llu", (unsigned long long)ev->line);
    csv_field(b, rec, true);
    // details: up to four key fields as "Name: value" joined by " | ", in at most
    // CSV_DETAILS_MAX bytes: a value that does not fit is cut at a character boundary and ends
    // in "…" (the whole value is in the JSON output), and the fields after it are left out.
    sk_buf d;
    sk_buf_init(&d, CSV_DETAILS_MAX + 1);
    if (ev->recovered) // a deleted record (--recovered): said first, as the table says it
        sk_buf_puts(&d, "(recovered) ");
    unsigned shown = 0;
    for (size_t i = 0; i < sizeof detail_keys / sizeof *detail_keys && shown < 4; i++) {
        const char *v = sk_event_get(ev, detail_keys[i]);
        if (!v || !*v)
            continue;
        size_t head = (shown ? 3 : 0) + strlen(detail_keys[i]) + 2, n = strlen(v);
        if (d.n + head + 3 >= CSV_DETAILS_MAX)
            break;
        sk_buf_printf(&d, "%s%s: ", shown ? " | " : "", detail_keys[i]);
        size_t room = CSV_DETAILS_MAX - d.n;
        if (n <= room) {
            sk_buf_put(&d, v, n);
        } else {
            sk_buf_put(&d, v, sk_utf8_cut(v, room - 3));
            sk_buf_puts(&d, "\xE2\x80\xA6");
            shown = 4; // full
        }
        shown++;
    }
    csv_text(b, sk_buf_str(&d));
    sk_buf_fini(&d);
    sk_buf_puts(b, "\r\n");
}

// ---------------------------------------------------------------------------------------------
// Table

static const char *level_color(sk_level lv)
{
    switch (lv) {
    case SK_LEVEL_CRITICAL:
        return "\x1b[1;31m";
    case SK_LEVEL_HIGH:
        return "\x1b[31m";
    case SK_LEVEL_MEDIUM:
        return "\x1b[33m";
    case SK_LEVEL_LOW:
        return "\x1b[32m";
    default:
        return "";
    }
}

static const char *level_short(sk_level lv)
{
    switch (lv) {
    case SK_LEVEL_CRITICAL:
        return "crit";
    case SK_LEVEL_HIGH:
        return "high";
    case SK_LEVEL_MEDIUM:
        return "med";
    case SK_LEVEL_LOW:
        return "low";
    case SK_LEVEL_INFORMATIONAL:
        return "info";
    default:
        return "-";
    }
}

static void table_layout(sk_sink *s)
{
    size_t w = s->o.width ? s->o.width : 160;
    s->w_time = s->o.tz == SK_TZ_UTC ? 23 : 30;
    s->w_level = 4;
    s->show_event = w >= 100;
    s->show_computer = w >= 120;
    s->w_event = 14;
    s->w_computer = 15;
    size_t fixed = s->w_time + 1 + s->w_level + 1;
    if (s->show_event)
        fixed += s->w_event + 1;
    if (s->show_computer)
        fixed += s->w_computer + 1;
    size_t rem = w > fixed + 30 ? w - fixed : 30;
    size_t rule = rem * 45 / 100;
    if (rule > 50)
        rule = 50;
    if (rule < 16)
        rule = 16;
    s->w_rule = rule;
    s->w_details = rem > rule + 1 + 10 ? rem - rule - 1 : 10;
}

static void table_header(sk_sink *s, sk_buf *b)
{
    if (s->o.color)
        sk_buf_puts(b, "\x1b[1m");
    add_cell(b, s->o.tz == SK_TZ_UTC ? "Timestamp (UTC)" : "Timestamp", s->w_time, true);
    sk_buf_putc(b, ' ');
    if (s->show_computer) {
        add_cell(b, "Computer", s->w_computer, true);
        sk_buf_putc(b, ' ');
    }
    if (s->show_event) {
        add_cell(b, "Event", s->w_event, true);
        sk_buf_putc(b, ' ');
    }
    add_cell(b, "Lvl", s->w_level, true);
    sk_buf_putc(b, ' ');
    add_cell(b, "Rule", s->w_rule, true);
    sk_buf_putc(b, ' ');
    add_cell(b, "Details", s->w_details, false);
    if (s->o.color)
        sk_buf_puts(b, "\x1b[0m");
    sk_buf_putc(b, '\n');
}

static void table_hit(const sk_sink *s, sk_buf *b, const sk_rule *rule, const sk_event *ev)
{
    char ts[64];
    format_time(s, ev, ts, sizeof ts, false);
    add_cell(b, ts, s->w_time, true);
    sk_buf_putc(b, ' ');
    if (s->show_computer) {
        add_cell(b, ev->computer ? ev->computer : "-", s->w_computer, true);
        sk_buf_putc(b, ' ');
    }
    if (s->show_event) {
        char ch[64], evs[96];
        sk_channel_short(ev->channel, ch, sizeof ch);
        if (ev->has_event_id)
            snprintf(evs, sizeof evs, "%s/%u", ch, ev->event_id);
        else
            snprintf(evs, sizeof evs, "%s", ch);
        add_cell(b, evs, s->w_event, true);
        sk_buf_putc(b, ' ');
    }
    sk_level lv = sk_rule_level(rule);
    const char *col = s->o.color ? level_color(lv) : "";
    sk_buf_puts(b, col);
    add_cell(b, level_short(lv), s->w_level, !*col);
    if (*col) {
        sk_buf_puts(b, "\x1b[0m");
        for (size_t k = strlen(level_short(lv)); k < s->w_level; k++)
            sk_buf_putc(b, ' ');
    }
    sk_buf_putc(b, ' ');
    add_cell(b, sk_rule_title(rule), s->w_rule, true);
    sk_buf_putc(b, ' ');
    const char *label;
    const char *det = first_detail(ev, &label);
    char lab[64] = "";
    if (label)
        snprintf(lab, sizeof lab, "%s: ", label);
    size_t room = s->w_details;
    // A deleted record (--recovered) says so before its details.
    static const char rec_mark[] = "(recovered) ";
    if (ev->recovered && sizeof rec_mark - 1 + 4 < room) {
        if (s->o.color)
            sk_buf_puts(b, "\x1b[2m");
        sk_buf_puts(b, rec_mark);
        if (s->o.color)
            sk_buf_puts(b, "\x1b[0m");
        room -= sizeof rec_mark - 1;
    }
    size_t ll = strlen(lab);
    if (ll && ll + 4 < room) {
        if (s->o.color)
            sk_buf_puts(b, "\x1b[2m");
        sk_buf_puts(b, lab);
        if (s->o.color)
            sk_buf_puts(b, "\x1b[0m");
        room -= ll;
    }
    add_cell(b, det, room, false);
    // Trailing padding is noise on a terminal and in golden files.
    while (b->n && b->p[b->n - 1] == ' ')
        b->n--;
    if (b->p)
        b->p[b->n] = '\0';
    sk_buf_putc(b, '\n');
}

// ---------------------------------------------------------------------------------------------
// Sink

// Case-insensitive title order, then load order for equal titles.
static int cmp_title(const void *a, const void *b)
{
    const sk_rule *x = *(const sk_rule *const *)a, *y = *(const sk_rule *const *)b;
    int c = strcasecmp(sk_rule_title(x), sk_rule_title(y));
    if (c)
        return c;
    return sk_rule_index(x) < sk_rule_index(y) ? -1 : sk_rule_index(x) > sk_rule_index(y);
}

sk_sink *sk_sink_new(const sk_sink_opts *opts, sk_out *out)
{
    sk_sink *s = sk_xcalloc(1, sizeof *s);
    s->o = *opts;
    s->out = out;
    sk_buf_init(&s->line, (size_t)1 << 30);
    if (s->o.format == SK_SINK_JSONL && s->o.sort == SK_SORT_NONE)
        out->line_buffered = true;
    if (s->o.format != SK_SINK_TABLE)
        s->o.color = false;
    if (s->o.sort != SK_SORT_NONE)
        s->sorter = sk_sorter_new(0);
    if (s->o.sort == SK_SORT_RULE && s->o.rules) {
        size_t n = sk_ruleset_count(s->o.rules);
        const sk_rule **order = sk_xcalloc(n ? n : 1, sizeof *order);
        for (size_t i = 0; i < n; i++)
            order[i] = sk_ruleset_rule(s->o.rules, i);
        qsort(order, n, sizeof *order, cmp_title);
        s->rank = sk_xcalloc(n ? n : 1, sizeof *s->rank);
        for (size_t i = 0; i < n; i++)
            s->rank[sk_rule_index(order[i])] = i;
        free(order);
    }
    table_layout(s);
    return s;
}

void sk_sink_free(sk_sink *s)
{
    if (!s)
        return;
    sk_buf_fini(&s->line);
    sk_sorter_free(s->sorter);
    free(s->rank);
    free(s);
}

// Writes one formatted hit record (in final order), with what must come before it.
static sk_status emit(void *ctx, const char *data, size_t n)
{
    sk_sink *s = ctx;
    sk_status st = SK_OK;
    if (s->emitted == 0) {
        sk_buf head;
        sk_buf_init(&head, 1u << 16);
        if (s->o.format == SK_SINK_TABLE)
            table_header(s, &head);
        else if (s->o.format == SK_SINK_CSV)
            sk_buf_puts(&head, csv_header);
        else if (s->o.format == SK_SINK_JSON)
            sk_buf_puts(&head, "[\n");
        if (head.n)
            st = sk_out_line(s->out, head.p, head.n);
        sk_buf_fini(&head);
    } else if (s->o.format == SK_SINK_JSON) {
        st = sk_out_line(s->out, ",\n", 2);
    }
    s->emitted++;
    if (st == SK_OK)
        st = sk_out_line(s->out, data, n);
    return st;
}

sk_status sk_sink_render(const sk_sink *s,
                         sk_buf *b,
                         const sk_rule *rule,
                         const sk_event *ev,
                         const sk_match_item *items,
                         size_t n,
                         sk_sort_key *k)
{
    sk_buf_reset(b);
    b->full = false;
    switch (s->o.format) {
    case SK_SINK_JSONL:
        if (sk_json_hit(b, rule, ev, items, n) != SK_OK)
            b->full = true;
        sk_buf_putc(b, '\n');
        break;
    case SK_SINK_JSON:
        if (sk_json_hit(b, rule, ev, items, n) != SK_OK)
            b->full = true;
        break;
    case SK_SINK_CSV:
        csv_hit(s, b, rule, ev);
        break;
    case SK_SINK_TABLE:
        table_hit(s, b, rule, ev);
        break;
    }
    if (b->full)
        return SK_ERR_LIMIT;
    memset(k, 0, sizeof *k);
    uint64_t t = ev->has_time ? ev->time : UINT64_MAX;
    switch (s->o.sort) {
    case SK_SORT_TIME:
        k->k1 = t;
        break;
    case SK_SORT_LEVEL:
        k->k1 = (uint64_t)(SK_LEVEL_CRITICAL - sk_rule_level(rule));
        k->k2 = t;
        break;
    case SK_SORT_RULE:
        k->k1 = s->rank ? s->rank[sk_rule_index(rule)] : sk_rule_index(rule);
        k->k2 = t;
        break;
    case SK_SORT_NONE:
        break;
    }
    return SK_OK;
}

sk_status sk_sink_put(sk_sink *s, const sk_sort_key *key, const char *data, size_t n)
{
    uint64_t seq = s->hits++;
    if (!s->sorter)
        return emit(s, data, n);
    sk_sort_key k = *key;
    k.seq = seq;
    return sk_sorter_add(s->sorter, &k, data, n) == SK_OK ? SK_OK : SK_ERR_IO;
}

sk_status sk_sink_hit(
        sk_sink *s, const sk_rule *rule, const sk_event *ev, const sk_match_item *items, size_t n)
{
    sk_sort_key k;
    sk_status st = sk_sink_render(s, &s->line, rule, ev, items, n, &k);
    if (st != SK_OK)
        return st;
    return sk_sink_put(s, &k, s->line.p, s->line.n);
}

const char *sk_sink_error(const sk_sink *s)
{
    return s->sorter ? sk_sorter_error(s->sorter) : NULL;
}

sk_status sk_sink_end(sk_sink *s)
{
    sk_status st = SK_OK;
    if (s->sorter)
        st = sk_sorter_drain(s->sorter, emit, s);
    if (st != SK_OK)
        return st;
    if (s->o.format == SK_SINK_JSON) {
        const char *tail = s->emitted ? "\n]\n" : "[]\n";
        st = sk_out_line(s->out, tail, strlen(tail));
    } else if (s->o.format == SK_SINK_CSV && s->emitted == 0) {
        st = sk_out_line(s->out, csv_header, sizeof csv_header - 1);
    }
    if (st == SK_OK)
        st = sk_out_flush(s->out);
    return st;
}
