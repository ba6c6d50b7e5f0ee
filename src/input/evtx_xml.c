// Record XML -> sk_event, with one reused expat parser.
//
// Why a preparation pass. libevtx renders BinXML to text but escapes only & < > in values. The text
// then breaks XML 1.0 in ways real logs do hit:
//   - raw control characters (a Security 4739 value "\x03", DNS names with "\x01"): expat rejects
//     them ("not well-formed");
//   - CR LF line ends in values (4688 PrivilegeList, 4104 script blocks): expat would turn them
//     into LF, while Windows keeps CR LF;
//   - TAB/LF/CR inside attribute values: expat would normalise them to spaces;
//   - stray quotes in attribute values, '&' that starts no entity, invalid UTF-8.
// So before parsing, prepare() rewrites the text into well-formed XML that expat cannot alter, and
// unmark() undoes the rewriting in every value afterwards:
//   - control byte b (0x01-0x1F other than TAB and LF in content inside the root element; all of
//     them, TAB and LF included, in attribute values) becomes the private-use code point U+E000+b
//     (3 UTF-8 bytes), CR included; unmark() turns U+E000+b back into byte b. Text outside the
//     root element is left alone (a marker there would be junk to expat);
//   - a genuine U+E000..U+E020 in the input becomes U+E020 followed by itself, and unmark()
//     drops the U+E020, so the mapping is a bijection: no input character is taken for a marker;
//   - NUL, invalid UTF-8, U+FFFE and U+FFFF become U+FFFD (values never hold NUL);
//   - '&' that starts no predefined entity or valid character reference becomes "&amp;" (an
//     entity reference libevtx left as is reads as its literal text); a character reference to a
//     control character is handled like the raw character;
//   - in attribute values, '<' becomes "&lt;", and a quote not followed by white space, '/', '>'
//     or '?' becomes "&quot;"/"&apos;"; in content, '>' becomes "&gt;" (so "]]>" stays legal),
//     and so does a '<' that cannot start markup ("a < b").
// Comments, processing instructions and CDATA sections are copied with the same character mapping.
// The pass adds no line break, and removes only those in attribute values and lone CRs, so the
// line numbers in expat's messages are (nearly always) the input's. A DOCTYPE is refused outright
// (libevtx never writes one), which also closes the door on entity expansion; the billion-laughs
// limits are set anyway as a second line of defence.
#include "evtx_xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The installed libexpat is built with DTD support; its header declares the billion-laughs
// setters only when the application defines XML_DTD too.
#ifndef XML_DTD
#define XML_DTD 1
#endif
#include <expat.h>

#include "core/limits.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/utf.h"
#include "core/xmlname.h"

#define MARK_BASE 0xE000u // U+E000 + control byte
#define MARK_ESC  0xE020u // prefix of a genuine U+E000..U+E020
// Worst growth of prepare(): one quote byte becomes "&quot;".
#define PREP_MAX ((size_t)SK_MAX_XML_BYTES * 6u + 64u)
// Entity expansion limits (only reachable if DOCTYPE refusal were bypassed).
#define BL_MAX_AMPLIFICATION 16.0f
#define BL_THRESHOLD_BYTES   (64u * 1024u)

typedef enum section {
    SEC_NONE,
    SEC_SYSTEM,
    SEC_EVENTDATA,
    SEC_USERDATA,
    SEC_OTHER,
} section;

// A growable output array for prepare() (its size is bounded by 6 * SK_MAX_XML_BYTES).
typedef struct out {
    char *p;
    size_t n;
    size_t cap;
} out;

struct sk_evtx_xml {
    XML_Parser p;
    bool used;    // p has parsed a document: reset before the next one
    out prep;     // prepared XML of the current record
    sk_buf text;  // character data since the last start tag
    sk_buf val;   // a value with markers undone
    sk_buf fname; // a field name with markers undone
    sk_buf item;  // name of the current EventData item
    sk_buf qual;  // EventID's Qualifiers, emitted after EventID
    // State of the current parse.
    sk_event *ev;
    sk_status st;   // first failure; SK_OK while fine
    char msg[256];  // its reason
    unsigned depth; // element depth (root = 1)
    unsigned leaf;  // depth of the latest start tag: an element is a leaf when it ends at it
    section sec;    // section of the current depth-2 element
    int sys;        // index in sys_elems of the current System child, or -1
    bool has_qual;
    bool item_nested;  // the current EventData item holds elements
    bool leaf_attrs;   // the last UserData element started had attributes (fields of their own)
    size_t item_inner; // offset in prep of the item's content
    bool saw_root;
    size_t ntrunc;
    char trunc_name[128];
};

// ---------------------------------------------------------------------------------------------
// Preparation pass

static inline void out_need(out *o, size_t k)
{
    if (o->n + k > o->cap)
        sk_xgrow((void **)&o->p, &o->cap, o->n + k, 1);
}

static inline void out_add(out *o, const char *s, size_t n)
{
    out_need(o, n);
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

// Appends the UTF-8 form of a BMP code point >= U+0800 (all this pass writes).
static inline void out_cp3(out *o, uint32_t cp)
{
    out_need(o, 3);
    o->p[o->n++] = (char)(0xE0 | (cp >> 12));
    o->p[o->n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o->p[o->n++] = (char)(0x80 | (cp & 0x3F));
}

static inline bool starts(const char *s, size_t n, const char *lit, size_t k)
{
    return n >= k && memcmp(s, lit, k) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Writes code point cp (from a character reference) the way prepare() writes raw characters.
// Returns false when the reference can be left to expat as it is.
static bool put_refchar(out *o, uint32_t cp, bool attr)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
        cp == 0xFFFF) {
        out_cp3(o, 0xFFFD);
        return true;
    }
    if (cp < 0x20 && (attr || (cp != '\t' && cp != '\n'))) {
        out_cp3(o, MARK_BASE + cp);
        return true;
    }
    if (cp >= MARK_BASE && cp <= MARK_ESC) {
        out_cp3(o, MARK_ESC);
        out_cp3(o, cp);
        return true;
    }
    return false;
}

// s[0] is '&'. Writes a well-formed equivalent and returns the input bytes used.
static size_t put_amp(out *o, const char *s, size_t n, bool attr)
{
    static const struct {
        const char *s;
        size_t n;
    } named[] = { { "&amp;", 5 }, { "&lt;", 4 }, { "&gt;", 4 }, { "&quot;", 6 }, { "&apos;", 6 } };
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        if (starts(s, n, named[k].s, named[k].n)) {
            out_add(o, s, named[k].n);
            return named[k].n;
        }
    }
    if (n >= 4 && s[1] == '#') {
        size_t j = 2;
        unsigned base = 10;
        if (s[j] == 'x') {
            base = 16;
            j++;
        }
        uint32_t v = 0;
        size_t nd = 0;
        for (; j < n && nd <= 8; j++, nd++) {
            int d = hexval(s[j]);
            if (d < 0 || (unsigned)d >= base)
                break;
            v = v * base + (uint32_t)d;
        }
        if (nd >= 1 && nd <= 8 && j < n && s[j] == ';') {
            if (!put_refchar(o, v, attr))
                out_add(o, s, j + 1);
            return j + 1;
        }
    }
    out_add(o, "&amp;", 5);
    return 1;
}

// True when the text after a '<' can start markup: a name, '/', '!' or '?'.
static bool tag_follows(const char *s, size_t n)
{
    if (n == 0)
        return false;
    unsigned char c = (unsigned char)s[0];
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c == '/' ||
           c == '!' || c == '?' || c >= 0x80;
}

enum pstate {
    P_TEXT,
    P_TAG,
    P_ATTR,
    P_COMMENT,
    P_CDATA,
    P_PI,
};

static void prepare(out *o, const char *s, size_t n)
{
    enum pstate ps = P_TEXT;
    char quote = '"';
    size_t i = 0;
    // Element depth, so that text outside the root element (white space, or junk that expat
    // reports) is left alone: a marker there would itself be junk.
    long depth = 0;
    int tag_kind = 0; // of the tag being copied: 1 start tag, -1 end tag, 0 declaration
    o->n = 0;
    out_need(o, n + 1);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        switch (ps) {
        case P_TEXT:
            if (c == '<' && !tag_follows(s + i + 1, n - i - 1)) {
                out_add(o, "&lt;", 4); // "a < b" in a value libevtx did not escape
                i++;
                continue;
            }
            if (c == '<') {
                if (starts(s + i, n - i, "<!--", 4)) {
                    out_add(o, s + i, 4);
                    i += 4;
                    ps = P_COMMENT;
                } else if (starts(s + i, n - i, "<![CDATA[", 9)) {
                    out_add(o, s + i, 9);
                    i += 9;
                    ps = P_CDATA;
                } else if (starts(s + i, n - i, "<?", 2)) {
                    out_add(o, s + i, 2);
                    i += 2;
                    ps = P_PI;
                } else {
                    char nx = i + 1 < n ? s[i + 1] : '\0';
                    tag_kind = nx == '/' ? -1 : nx == '!' ? 0 : 1;
                    out_add(o, "<", 1);
                    i++;
                    ps = P_TAG;
                }
                continue;
            }
            if (c == '&') {
                i += put_amp(o, s + i, n - i, false);
                continue;
            }
            if (c == '>') {
                out_add(o, "&gt;", 4);
                i++;
                continue;
            }
            break;
        case P_TAG:
            if (c == '"' || c == '\'') {
                quote = (char)c;
                out_add(o, s + i, 1);
                i++;
                ps = P_ATTR;
                continue;
            }
            if (c == '>') {
                if (tag_kind > 0 && !(o->n > 0 && o->p[o->n - 1] == '/'))
                    depth++;
                else if (tag_kind < 0 && depth > 0)
                    depth--;
                out_add(o, ">", 1);
                i++;
                ps = P_TEXT;
                continue;
            }
            break;
        case P_ATTR:
            if (c == (unsigned char)quote) {
                char nx = i + 1 < n ? s[i + 1] : '>';
                if (nx == ' ' || nx == '\t' || nx == '\n' || nx == '\r' || nx == '/' || nx == '>' ||
                    nx == '?') {
                    out_add(o, s + i, 1);
                    ps = P_TAG;
                } else if (quote == '"') {
                    out_add(o, "&quot;", 6);
                } else {
                    out_add(o, "&apos;", 6);
                }
                i++;
                continue;
            }
            if (c == '<') {
                out_add(o, "&lt;", 4);
                i++;
                continue;
            }
            if (c == '&') {
                i += put_amp(o, s + i, n - i, true);
                continue;
            }
            if (c == '\t' || c == '\n') {
                out_cp3(o, MARK_BASE + c);
                i++;
                continue;
            }
            break;
        case P_COMMENT:
            if (starts(s + i, n - i, "-->", 3)) {
                out_add(o, s + i, 3);
                i += 3;
                ps = P_TEXT;
                continue;
            }
            break;
        case P_CDATA:
            if (starts(s + i, n - i, "]]>", 3)) {
                out_add(o, s + i, 3);
                i += 3;
                ps = P_TEXT;
                continue;
            }
            break;
        case P_PI:
            if (starts(s + i, n - i, "?>", 2)) {
                out_add(o, s + i, 2);
                i += 2;
                ps = P_TEXT;
                continue;
            }
            break;
        }
        // Any other character, in any state.
        if (c < 0x80) {
            if (c == 0)
                out_cp3(o, 0xFFFD);
            else if (c < 0x20 && c != '\t' && c != '\n' && ps != P_TAG &&
                     (ps != P_TEXT || depth > 0))
                out_cp3(o, MARK_BASE + c);
            else
                out_add(o, s + i, 1);
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, n - i, &cp);
        if ((cp == 0xFFFD && k == 1) || cp == 0xFFFE || cp == 0xFFFF) {
            out_cp3(o, 0xFFFD);
        } else if (cp >= MARK_BASE && cp <= MARK_ESC) {
            out_cp3(o, MARK_ESC);
            out_cp3(o, cp);
        } else {
            out_add(o, s + i, k);
        }
        i += k;
    }
    out_need(o, 1);
    o->p[o->n] = '\0';
}

// Appends s[0..n) to b with the markers of prepare() undone.
static sk_status unmark(sk_buf *b, const char *s, size_t n)
{
    sk_status st = SK_OK;
    const char *end = s + n;
    while (s < end && st == SK_OK) {
        const char *e = memchr(s, 0xEE, (size_t)(end - s));
        if (!e)
            return sk_buf_add(b, s, (size_t)(end - s));
        st = sk_buf_add(b, s, (size_t)(e - s));
        if (st != SK_OK)
            break;
        const unsigned char *u = (const unsigned char *)e;
        size_t left = (size_t)(end - e);
        if (left >= 3 && u[1] == 0x80 && u[2] >= 0x80 && u[2] <= 0xA0) {
            unsigned k = u[2] - 0x80u;
            if (k > 0 && k < 0x20) {
                st = sk_buf_addc(b, (char)k);
                s = e + 3;
                continue;
            }
            if (k == 0x20 && left >= 6 && u[3] == 0xEE && u[4] == 0x80 && u[5] >= 0x80 &&
                u[5] <= 0xA0) {
                st = sk_buf_add(b, e + 3, 3);
                s = e + 6;
                continue;
            }
            if (k == 0) { // never written by prepare(); keep values free of NUL
                st = sk_buf_add(b, "\xEF\xBF\xBD", 3);
                s = e + 3;
                continue;
            }
        }
        st = sk_buf_addc(b, (char)0xEE);
        s = e + 1;
    }
    return st;
}

// ---------------------------------------------------------------------------------------------
// Event building

typedef struct sys_attr {
    const char *attr;
    const char *field;
} sys_attr;

typedef struct sys_elem {
    const char *elem;
    const char *text_field; // field for the element's text, or NULL
    sys_attr attrs[3];      // fields from attributes (EventID's Qualifiers come after its text)
} sys_elem;

static const sys_elem sys_elems[] = {
    { "Provider",
      NULL,
      { { "Name", "Provider_Name" },
        { "Guid", "Provider_Guid" },
        { "EventSourceName", "EventSourceName" } } },
    { "EventID", "EventID", { { "Qualifiers", "Qualifiers" } } },
    { "Version", "Version", { { NULL, NULL } } },
    { "Level", "Level", { { NULL, NULL } } },
    { "Task", "Task", { { NULL, NULL } } },
    { "Opcode", "Opcode", { { NULL, NULL } } },
    { "Keywords", "Keywords", { { NULL, NULL } } },
    { "TimeCreated", NULL, { { "SystemTime", "TimeCreated" } } },
    { "EventRecordID", "EventRecordID", { { NULL, NULL } } },
    { "Correlation",
      NULL,
      { { "ActivityID", "ActivityID" }, { "RelatedActivityID", "RelatedActivityID" } } },
    { "Execution", NULL, { { "ProcessID", "ProcessID" }, { "ThreadID", "ThreadID" } } },
    { "Channel", "Channel", { { NULL, NULL } } },
    { "Computer", "Computer", { { NULL, NULL } } },
    { "Security", NULL, { { "UserID", "UserID" } } },
};
#define SYS_EVENTID 1

static void fail(sk_evtx_xml *x, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);

static void fail(sk_evtx_xml *x, sk_status st, const char *fmt, ...)
{
    if (x->st != SK_OK)
        return;
    x->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    XML_StopParser(x->p, XML_FALSE);
}

static const char *local_name(const char *name)
{
    size_t n = strlen(name);
    return sk_xml_local(name, &n);
}

static const char *attr_get(const XML_Char **atts, const char *name)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(atts[i], name) == 0)
            return atts[i + 1];
    return NULL;
}

// Cuts b to at most SK_MAX_VALUE_BYTES, at a UTF-8 character boundary; counts the cut.
static void truncate_value(sk_evtx_xml *x, sk_buf *b, const char *name)
{
    if (b->n <= SK_MAX_VALUE_BYTES)
        return;
    size_t cut = sk_utf8_cut(b->p, SK_MAX_VALUE_BYTES);
    b->n = cut;
    b->p[cut] = '\0';
    if (x->ntrunc++ == 0)
        snprintf(x->trunc_name, sizeof x->trunc_name, "%s", name);
}

// libevtx prints HexInt32/HexInt64 values zero-padded to 8/16 digits ("0x00001410",
// "0x00000000000003e7"); Windows, Winlogbeat and the rules written against them use no padding
// ("0x1410", "0x3e7"). libevtx's XML carries no value types, so a value that is exactly "0x" and
// 8 or 16 lowercase hex digits, the first of them 0, is taken for such a number and unpadded
// ("0x0" for zero). A string value of that exact shape would be changed too: the price of the
// missing types, which the native decoder will not pay.
static void unpad_hex(sk_buf *b)
{
    if ((b->n != 10 && b->n != 18) || b->p[0] != '0' || b->p[1] != 'x' || b->p[2] != '0')
        return;
    for (size_t i = 2; i < b->n; i++)
        if (!((b->p[i] >= '0' && b->p[i] <= '9') || (b->p[i] >= 'a' && b->p[i] <= 'f')))
            return;
    size_t z = 2;
    while (z + 1 < b->n && b->p[z] == '0')
        z++;
    memmove(b->p + 2, b->p + z, b->n - z + 1);
    b->n -= z - 2;
}

typedef enum field_kind {
    FK_SYSTEM,   // from <System>: SK_FIELD_SYSTEM
    FK_DATA,     // EventData/UserData text
    FK_DATA_XML, // EventData item holding elements: its inner XML, kept as it is
} field_kind;

// Adds a field; name and value are prepared text (markers are undone here).
static void add_field(sk_evtx_xml *x,
                      const char *name,
                      size_t name_len,
                      const char *value,
                      size_t value_len,
                      field_kind kind)
{
    bool system = kind == FK_SYSTEM;
    sk_buf_reset(&x->fname);
    sk_buf_reset(&x->val);
    if (unmark(&x->fname, name, name_len) != SK_OK || unmark(&x->val, value, value_len) != SK_OK) {
        fail(x, SK_ERR_LIMIT, "field too large");
        return;
    }
    truncate_value(x, &x->val, sk_buf_str(&x->fname));
    if (kind == FK_DATA || (system && strcmp(sk_buf_str(&x->fname), "Keywords") == 0))
        unpad_hex(&x->val);
    const char *v = sk_buf_str(&x->val);
    size_t vn = x->val.n;
    char when[29];
    uint64_t ft;
    if (system && strcmp(sk_buf_str(&x->fname), "TimeCreated") == 0 && sk_time_parse(v, vn, &ft)) {
        // libevtx prints 9 fractional digits; Windows renders 7.
        sk_time_format(ft, when);
        v = when;
        vn = strlen(when);
    }
    sk_status st = system ? sk_event_add(x->ev, x->fname.p, x->fname.n, v, vn, SK_FIELD_SYSTEM)
                          : sk_event_add_data(x->ev, x->fname.p, x->fname.n, v, vn);
    if (st != SK_OK)
        fail(x, SK_ERR_LIMIT, "more than %u fields", (unsigned)SK_MAX_FIELDS);
}

static void add_fieldz(sk_evtx_xml *x, const char *name, const char *value, field_kind kind)
{
    add_field(x, name, strlen(name), value, strlen(value), kind);
}

static void system_start(sk_evtx_xml *x, const char *ln, const XML_Char **atts)
{
    x->sys = -1;
    for (size_t i = 0; i < sizeof sys_elems / sizeof sys_elems[0]; i++) {
        if (strcmp(ln, sys_elems[i].elem) == 0) {
            x->sys = (int)i;
            break;
        }
    }
    if (x->sys < 0)
        return;
    const sys_elem *se = &sys_elems[x->sys];
    if (x->sys == SYS_EVENTID) {
        const char *q = attr_get(atts, "Qualifiers");
        x->has_qual = q != NULL;
        sk_buf_reset(&x->qual);
        if (q && sk_buf_adds(&x->qual, q) != SK_OK)
            fail(x, SK_ERR_LIMIT, "field too large");
        return;
    }
    for (size_t k = 0; k < 3 && se->attrs[k].attr; k++) {
        const char *v = attr_get(atts, se->attrs[k].attr);
        if (v)
            add_fieldz(x, se->attrs[k].field, v, FK_SYSTEM);
    }
}

static void system_end(sk_evtx_xml *x, bool leaf)
{
    if (x->sys < 0)
        return;
    const sys_elem *se = &sys_elems[x->sys];
    if (se->text_field && leaf)
        add_field(x,
                  se->text_field,
                  strlen(se->text_field),
                  sk_buf_str(&x->text),
                  x->text.n,
                  FK_SYSTEM);
    if (x->sys == SYS_EVENTID && x->has_qual)
        add_field(x, "Qualifiers", 10, sk_buf_str(&x->qual), x->qual.n, FK_SYSTEM);
    x->sys = -1;
}

// The attributes of an element below UserData, each a field <element>_<attribute> (as System's
// Provider Name is Provider_Name): CAPI2's <EventAuxInfo ProcessName="..."/> holds its data in
// attributes only. Namespace declarations are not data.
static void userdata_attrs(sk_evtx_xml *x, const char *ln, const XML_Char **atts)
{
    x->leaf_attrs = false;
    size_t lnn = strlen(ln);
    for (size_t i = 0; atts[i]; i += 2) {
        if (sk_xml_is_nsdecl(atts[i], strlen(atts[i])))
            continue;
        const char *an = local_name(atts[i]);
        sk_buf_reset(&x->item);
        if (sk_buf_add(&x->item, ln, lnn) != SK_OK || sk_buf_add(&x->item, "_", 1) != SK_OK ||
            sk_buf_adds(&x->item, an) != SK_OK) {
            fail(x, SK_ERR_LIMIT, "field name too long");
            return;
        }
        add_field(x, x->item.p, x->item.n, atts[i + 1], strlen(atts[i + 1]), FK_DATA);
        x->leaf_attrs = true;
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    sk_evtx_xml *x = ud;
    if (x->st != SK_OK)
        return;
    x->depth++;
    if (x->depth > SK_MAX_DEPTH) {
        fail(x, SK_ERR_LIMIT, "elements nested deeper than %u", (unsigned)SK_MAX_DEPTH);
        return;
    }
    x->leaf = x->depth;
    sk_buf_reset(&x->text);
    const char *ln = local_name(name);
    if (x->depth == 1) {
        x->saw_root = true;
        if (strcmp(ln, "Event") != 0)
            fail(x, SK_ERR_FORMAT, "root element is <%.64s>, not <Event>", name);
        return;
    }
    if (x->depth == 2) {
        if (strcmp(ln, "System") == 0)
            x->sec = SEC_SYSTEM;
        else if (strcmp(ln, "EventData") == 0)
            x->sec = SEC_EVENTDATA;
        else if (strcmp(ln, "UserData") == 0)
            x->sec = SEC_USERDATA;
        else
            x->sec = SEC_OTHER;
        return;
    }
    if (x->sec == SEC_SYSTEM && x->depth == 3) {
        system_start(x, ln, atts);
    } else if (x->sec == SEC_EVENTDATA && x->depth == 3) {
        const char *nm = attr_get(atts, "Name");
        if (!nm || !*nm)
            nm = ln;
        sk_buf_reset(&x->item);
        if (sk_buf_adds(&x->item, nm) != SK_OK)
            fail(x, SK_ERR_LIMIT, "field name too long");
        x->item_nested = false;
        XML_Index at = XML_GetCurrentByteIndex(x->p);
        int cnt = XML_GetCurrentByteCount(x->p);
        x->item_inner = at >= 0 && cnt >= 0 ? (size_t)at + (size_t)cnt : 0;
    } else if (x->sec == SEC_EVENTDATA) {
        x->item_nested = true;
    } else if (x->sec == SEC_USERDATA) {
        userdata_attrs(x, ln, atts);
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    sk_evtx_xml *x = ud;
    if (x->st != SK_OK)
        return;
    bool leaf = x->leaf == x->depth;
    if (x->depth == 3 && x->sec == SEC_SYSTEM) {
        system_end(x, leaf);
    } else if (x->depth == 3 && x->sec == SEC_EVENTDATA) {
        if (x->item_nested) {
            // A BinXML value rendered as elements: keep its inner XML text.
            XML_Index at = XML_GetCurrentByteIndex(x->p);
            size_t end = at >= 0 ? (size_t)at : 0;
            if (end < x->item_inner || end > x->prep.n)
                end = x->item_inner = 0;
            add_field(x,
                      x->item.p,
                      x->item.n,
                      x->prep.p + x->item_inner,
                      end - x->item_inner,
                      FK_DATA_XML);
        } else {
            add_field(x, x->item.p, x->item.n, sk_buf_str(&x->text), x->text.n, FK_DATA);
        }
    } else if (x->depth >= 3 && x->sec == SEC_USERDATA && leaf && !(x->leaf_attrs && !x->text.n)) {
        const char *ln = local_name(name);
        add_field(x, ln, strlen(ln), sk_buf_str(&x->text), x->text.n, FK_DATA);
    }
    if (x->depth == 2)
        x->sec = SEC_NONE;
    x->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    sk_evtx_xml *x = ud;
    if (x->st != SK_OK || x->depth < 3 || x->sec == SEC_OTHER || x->sec == SEC_NONE || len <= 0)
        return;
    if (sk_buf_add(&x->text, s, (size_t)len) != SK_OK)
        fail(x, SK_ERR_LIMIT, "value too large");
}

static void XMLCALL on_doctype(void *ud,
                               const XML_Char *name,
                               const XML_Char *sysid,
                               const XML_Char *pubid,
                               int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    fail(ud, SK_ERR_FORMAT, "DOCTYPE is not allowed in an event record");
}

// Handlers and limits; XML_ParserReset clears them, so this runs before every document.
static void configure(sk_evtx_xml *x)
{
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    (void)XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    (void)XML_SetBillionLaughsAttackProtectionMaximumAmplification(x->p, BL_MAX_AMPLIFICATION);
    (void)XML_SetBillionLaughsAttackProtectionActivationThreshold(x->p, BL_THRESHOLD_BYTES);
}

sk_evtx_xml *sk_evtx_xml_new(void)
{
    sk_evtx_xml *x = sk_xcalloc(1, sizeof *x);
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p) {
        fputs("saker: out of memory\n", stderr);
        abort();
    }
    sk_buf_init(&x->text, PREP_MAX);
    sk_buf_init(&x->val, PREP_MAX);
    sk_buf_init(&x->fname, PREP_MAX);
    sk_buf_init(&x->item, PREP_MAX);
    sk_buf_init(&x->qual, PREP_MAX);
    x->sys = -1;
    return x;
}

void sk_evtx_xml_free(sk_evtx_xml *x)
{
    if (!x)
        return;
    XML_ParserFree(x->p);
    free(x->prep.p);
    sk_buf_fini(&x->text);
    sk_buf_fini(&x->val);
    sk_buf_fini(&x->fname);
    sk_buf_fini(&x->item);
    sk_buf_fini(&x->qual);
    free(x);
}

size_t sk_evtx_xml_truncated(const sk_evtx_xml *x, const char **first_name)
{
    if (first_name)
        *first_name = x->ntrunc ? x->trunc_name : NULL;
    return x->ntrunc;
}

static void errmsg(sk_buf *err, const char *msg)
{
    // A full err buffer only shortens the message.
    if (err && sk_buf_adds(err, msg) != SK_OK)
        return;
}

sk_status sk_evtx_xml_parse(sk_evtx_xml *x, const char *xml, size_t n, sk_event *ev, sk_buf *err)
{
    sk_event_reset(ev);
    x->ntrunc = 0;
    x->trunc_name[0] = '\0';
    if (n > SK_MAX_XML_BYTES) {
        char m[128];
        snprintf(m,
                 sizeof m,
                 "record XML is %zu bytes, more than the limit of %u",
                 n,
                 (unsigned)SK_MAX_XML_BYTES);
        errmsg(err, m);
        return SK_ERR_LIMIT;
    }
    if (!xml)
        n = 0;
    prepare(&x->prep, xml ? xml : "", n);

    if (x->used && XML_ParserReset(x->p, "UTF-8") != XML_TRUE) {
        fputs("saker: out of memory\n", stderr);
        abort();
    }
    x->used = true;
    configure(x);
    x->ev = ev;
    x->st = SK_OK;
    x->msg[0] = '\0';
    x->depth = 0;
    x->leaf = 0;
    x->sec = SEC_NONE;
    x->sys = -1;
    x->has_qual = false;
    x->item_nested = false;
    x->item_inner = 0;
    x->saw_root = false;

    enum XML_Status xs = XML_Parse(x->p, x->prep.p, (int)x->prep.n, XML_TRUE);
    if (x->st == SK_OK && xs != XML_STATUS_OK) {
        snprintf(x->msg,
                 sizeof x->msg,
                 "%s (line %lu, column %lu)",
                 XML_ErrorString(XML_GetErrorCode(x->p)),
                 (unsigned long)XML_GetCurrentLineNumber(x->p),
                 (unsigned long)XML_GetCurrentColumnNumber(x->p) + 1);
        x->st = SK_ERR_FORMAT;
    }
    sk_status st = x->st;
    x->ev = NULL;
    if (st != SK_OK) {
        errmsg(err, x->msg);
        sk_event_reset(ev);
        return st;
    }
    sk_event_finish(ev);
    return SK_OK;
}
