// BinXML -> sk_event, without XML.
//
// How a record is decoded. A record's event data is a BinXML token stream: normally a fragment
// header and a *template instance* (a reference to a template definition somewhere in the chunk,
// by chunk offset, followed by the record's substitution values), sometimes plain elements with
// literal values ("inline" BinXML, written by event forwarding and some providers). Templates are
// shared by every record of a chunk that has the same shape, so each one is parsed once per chunk
// into a flat array of ops (start tag, attribute, literal text already converted to UTF-8,
// substitution N, end tag, ...) and cached by its definition offset. Element and attribute names
// are chunk offsets too; each is decoded once per chunk (UTF-16 -> UTF-8) and classified (is it
// "System", "EventData", "Provider", an attribute "Name", ...) so the event builder compares small
// integers, never strings.
//
// Decoding a record is then: parse its value descriptors, run the template's ops, and for each
// substitution render the value (integers, GUIDs, SIDs, times, UTF-16 strings, ...) straight into
// the text of the element or attribute it belongs to. A value of type BinXml (0x21) holds another
// token stream (EventData and UserData are usually such values, themselves template instances);
// it is parsed into scratch ops and run in place, at the same element depth, so nested BinXML is
// no special case for the builder.
//
// The builder is a push-down state machine fed with start tag (name + attributes), character data
// and end tag, i.e. the events an XML parser would produce for the XML libevtx renders. It applies
// the same mapping as evtx_xml.c does on the libevtx side (see evtx_xml.h): System children and
// their attributes by a fixed table, one field per EventData child (its Name attribute, else its
// local name), every leaf below UserData, anything else ignored. An EventData item that holds
// elements gets its inner XML as value, rendered compactly the way libevtx prints nested BinXML.
//
// Values are rendered as libevtx renders them where that is how Windows renders them too:
// decimal integers, HexInt32/64 as "0x" and lower-case hex without padding (the libevtx reader
// unpads libevtx's "0x%08x"), GUIDs upper case in braces, SIDs, binary as upper-case hex,
// booleans true/false, TimeCreated with 7 fractional digits, other FILETIMEs with libevtx's 9,
// SYSTEMTIMEs with milliseconds, ANSI strings as Windows-1252, an array substitution that is an
// element's only content repeats the element per item, an optional substitution with a NULL value
// leaves its element or attribute out, and a string that is one line feed is empty.
//
// Deviations from the libevtx reader, on purpose (the differential test in
// tests/unit/test_evtx_native.c checks that they are the only ones):
//   - NON_BMP: UTF-16 surrogate pairs become the right code point, a lone surrogate becomes
//     U+FFFD (libevtx 20181227 turns U+1F600 into U+1F201 and lets a lone high surrogate swallow
//     the next character);
//   - NEGATIVE: negative Int8..Int64 values print as negative decimals (libevtx prints
//     -295007 for -2147188641);
//   - SIZET: SizeT values print in hex ("0x24c"), as Windows prints them and as libyal's format
//     notes say (they pair with HexInt32/64); libevtx prints them in decimal;
//   - HEXSTRING: string values that merely look like zero-padded hex (Sysmon 8's StartAddress,
//     "0x00060000") keep their padding; the libevtx reader cannot tell them from HexInt values;
//   - REAL: Real32/Real64 values print as the shortest text that gives them back (1.5); libevtx
//     prints them as "%e" with a three-digit exponent (1.500000e+000).
// HexInt values inside an EventData item's inner XML are unpadded too (none in the corpus).
//
// Safety. Every offset is checked against the chunk before it is read; a name or template that
// does not fit is an error for the record, never a read past the buffer. Template bodies may not
// contain template instances, and BinXML values nest strictly inside their record, so recursion
// is bounded; it is capped at SK_MAX_DEPTH anyway, as is element depth. A template that uses one
// substitution many times could make a small record expand enormously, so every record has a
// budget of executed ops and of rendered bytes (SK_MAX_XML_BYTES), past which it is refused
// (SK_ERR_LIMIT). Memory grows only with the chunk (caches, ops) and the event, never with a size
// field read from the input.
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binxml_int.h"
#include "core/arena.h"
#include "core/limits.h"
#include "core/mem.h"
#include "core/timefmt.h"
#include "core/utf.h"
#include "core/xmlname.h"

// --------------------------------------------------------------------------------------------
// Constants

// BinXML tokens (libyal's EVTX format documentation, "Token types"); 0x40 = "more data follows".
enum {
    TOK_EOF = 0x00,
    TOK_OPEN_START = 0x01,
    TOK_CLOSE_START = 0x02,
    TOK_CLOSE_EMPTY = 0x03,
    TOK_END_ELEMENT = 0x04,
    TOK_VALUE = 0x05,
    TOK_ATTRIBUTE = 0x06,
    TOK_CDATA = 0x07,
    TOK_CHARREF = 0x08,
    TOK_ENTITYREF = 0x09,
    TOK_PI_TARGET = 0x0a,
    TOK_PI_DATA = 0x0b,
    TOK_TEMPLATE_INSTANCE = 0x0c,
    TOK_NORMAL_SUBST = 0x0d,
    TOK_OPTIONAL_SUBST = 0x0e,
    TOK_FRAGMENT_HEADER = 0x0f,
    TOK_MORE = 0x40,
};

// Value types.
enum {
    VT_NULL = 0x00,
    VT_STRING = 0x01,
    VT_ANSI = 0x02,
    VT_INT8 = 0x03,
    VT_UINT8 = 0x04,
    VT_INT16 = 0x05,
    VT_UINT16 = 0x06,
    VT_INT32 = 0x07,
    VT_UINT32 = 0x08,
    VT_INT64 = 0x09,
    VT_UINT64 = 0x0a,
    VT_REAL32 = 0x0b,
    VT_REAL64 = 0x0c,
    VT_BOOL = 0x0d,
    VT_BINARY = 0x0e,
    VT_GUID = 0x0f,
    VT_SIZET = 0x10,
    VT_FILETIME = 0x11,
    VT_SYSTIME = 0x12,
    VT_SID = 0x13,
    VT_HEX32 = 0x14,
    VT_HEX64 = 0x15,
    VT_BINXML = 0x21,
    VT_ARRAY = 0x80,
};

// Ops of a compiled token stream.
enum {
    OP_START,     // start tag: a = name; t = 1 when the element's only content is one
                  // substitution (b: op offset of it, n: op offset of the end tag)
    OP_ATTR,      // attribute: a = name; its value ops follow
    OP_OPEN_END,  // '>' of a start tag: content follows
    OP_EMPTY_END, // '/>': the element ends here
    OP_END,       // end tag
    OP_TEXT,      // literal UTF-8 text s[0..n) (template literals, converted once per chunk)
    OP_TEXT16,    // literal UTF-16 text at chunk offset a, n units
    OP_CDATA16,   // CDATA section at chunk offset a, n units
    OP_CHARREF,   // character reference: id = code unit
    OP_ENTREF,    // entity reference: a = name
    OP_PI_TARGET, // processing instruction target: a = name
    OP_PI_DATA16, // processing instruction data at chunk offset a, n units
    OP_SUBST,     // normal substitution: id = value index, t = declared type
    OP_OSUBST,    // optional substitution: likewise
    OP_INSTANCE,  // template instance: a = template index, b = first value, n = value count
};

typedef struct op {
    uint8_t k;
    uint8_t t;
    uint16_t id;
    uint32_t a;
    uint32_t b;
    uint32_t n;
    const char *s;
} op;

// A substitution value: chunk offset, size and type.
typedef struct val {
    uint32_t off;
    uint16_t size;
    uint8_t type;
} val;

// Element names the builder acts on (by local name), and attribute names (by full name).
enum {
    EK_OTHER = 0,
    EK_EVENT,
    EK_SYSTEM,
    EK_EVENTDATA,
    EK_USERDATA,
    EK_SYS0, // + index in sys_elems
};

enum {
    AK_OTHER = 0,
    AK_NAME,
    AK_GUID,
    AK_EVENTSOURCENAME,
    AK_QUALIFIERS,
    AK_SYSTEMTIME,
    AK_ACTIVITYID,
    AK_RELATEDACTIVITYID,
    AK_PROCESSID,
    AK_THREADID,
    AK_USERID,
};

typedef struct sys_attr {
    uint8_t ak;
    const char *field;
} sys_attr;

typedef struct sys_elem {
    const char *elem;
    const char *text_field; // field for the element's text, or NULL
    sys_attr attrs[3];      // fields from attributes, in this order (not document order)
} sys_elem;

// The System children the libevtx reader maps (evtx_xml.c, sys_elems): same order, same fields.
static const sys_elem sys_elems[] = {
    { "Provider",
      NULL,
      { { AK_NAME, "Provider_Name" },
        { AK_GUID, "Provider_Guid" },
        { AK_EVENTSOURCENAME, "EventSourceName" } } },
    { "EventID", "EventID", { { AK_OTHER, NULL } } }, // Qualifiers: after the text
    { "Version", "Version", { { AK_OTHER, NULL } } },
    { "Level", "Level", { { AK_OTHER, NULL } } },
    { "Task", "Task", { { AK_OTHER, NULL } } },
    { "Opcode", "Opcode", { { AK_OTHER, NULL } } },
    { "Keywords", "Keywords", { { AK_OTHER, NULL } } },
    { "TimeCreated", NULL, { { AK_SYSTEMTIME, "TimeCreated" } } },
    { "EventRecordID", "EventRecordID", { { AK_OTHER, NULL } } },
    { "Correlation",
      NULL,
      { { AK_ACTIVITYID, "ActivityID" }, { AK_RELATEDACTIVITYID, "RelatedActivityID" } } },
    { "Execution", NULL, { { AK_PROCESSID, "ProcessID" }, { AK_THREADID, "ThreadID" } } },
    { "Channel", "Channel", { { AK_OTHER, NULL } } },
    { "Computer", "Computer", { { AK_OTHER, NULL } } },
    { "Security", NULL, { { AK_USERID, "UserID" } } },
};
#define NSYS            (sizeof sys_elems / sizeof sys_elems[0])
#define SYS_EVENTID     1
#define SYS_KEYWORDS    6
#define SYS_TIMECREATED 7

static const struct {
    const char *s;
    uint8_t ak;
} attr_names[] = {
    { "Name", AK_NAME },
    { "Guid", AK_GUID },
    { "EventSourceName", AK_EVENTSOURCENAME },
    { "Qualifiers", AK_QUALIFIERS },
    { "SystemTime", AK_SYSTEMTIME },
    { "ActivityID", AK_ACTIVITYID },
    { "RelatedActivityID", AK_RELATEDACTIVITYID },
    { "ProcessID", AK_PROCESSID },
    { "ThreadID", AK_THREADID },
    { "UserID", AK_USERID },
};

// Every record may execute this many ops, and render this many bytes of values and fields (the
// guards against a record that expands a template or a BinXML value over and over).
#define OPS_BUDGET  (1u << 20)
#define WORK_BUDGET ((uint64_t)SK_MAX_XML_BYTES)
// Most bytes one buffer may hold (a record's rendered text is far below this).
#define OBUF_MAX ((size_t)SK_MAX_XML_BYTES)
// Sections of the event (the depth-2 element being inside).
enum {
    SEC_NONE,
    SEC_SYSTEM,
    SEC_EVENTDATA,
    SEC_USERDATA,
    SEC_OTHER
};

// --------------------------------------------------------------------------------------------
// Small helpers

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

// A growable output buffer; its cap is enforced by ob_room (the decoder's sticky error).
typedef struct obuf {
    char *p;
    size_t n;
    size_t cap;
} obuf;

typedef struct name_ent {
    const char *s; // UTF-8, NUL-terminated, in the chunk arena
    const char *local;
    uint32_t len;
    uint32_t local_len;
    uint8_t ek;
    uint8_t ak;
    bool sysname; // equal to a system field name (the System.X collision rule may apply)
} name_ent;

typedef struct tmpl_ent {
    uint32_t first; // ops in tops
    uint32_t count;
    uint32_t guid4; // first 4 bytes of the GUID (the instance's template id must match)
    uint32_t size;  // bytes of the definition body
    sk_status st;   // SK_OK, or why the definition cannot be used
    const char *why;
} tmpl_ent;

// Open-addressing table from a chunk offset to an index; entries of older chunks are stale by
// generation, so starting a chunk clears nothing.
typedef struct slot {
    uint32_t off;
    uint32_t gen;
    uint32_t idx;
} slot;

typedef struct otab {
    slot *s;
    size_t size; // power of two
    size_t used; // entries of the current generation
} otab;

typedef struct attr {
    uint32_t name;
    uint32_t v0, v1; // value in abuf
    bool null_opt;   // held an optional substitution whose value was NULL
    bool time7;      // a FILETIME already printed with 7 digits (TimeCreated's SystemTime)
} attr;

// A template definition stored in the chunk (template_by_id).
typedef struct stored_def {
    uint32_t tid; // template id (first 4 bytes of its GUID)
    uint32_t off; // chunk offset of the definition
} stored_def;

struct sk_binxml {
    const uint8_t *c; // chunk
    size_t n;
    uint32_t gen;
    sk_arena arena; // names and template literals of the current chunk
    name_ent *names;
    size_t nnames, names_cap;
    otab ntab;
    tmpl_ent *tmpls;
    size_t ntmpls, tmpls_cap;
    otab ttab;
    op *tops; // ops of the chunk's templates
    size_t ntops, tops_cap;
    op *sops; // scratch ops of the current record (inline and nested BinXML)
    size_t nsops, sops_cap;
    val *vals; // substitution values of the current record
    size_t nvals, vals_cap;
    // Recovered records (sk_binxml_recovering): the template definitions stored in the chunk
    // (an instance followed by its own definition), by template id; found once per chunk, at the
    // first record that needs one.
    bool recovering;
    uint32_t defs_gen; // the chunk generation they were found for (0: none yet)
    stored_def *defs;
    size_t ndefs, defs_cap;

    // Per record.
    sk_event *ev;
    sk_status st;
    char msg[200];
    uint64_t budget;
    uint64_t work;
    unsigned level; // nesting of template instances / BinXML values
    size_t ntrunc;
    char trunc_name[128];

    // Builder.
    unsigned depth;
    unsigned leaf;
    int sec;
    int sys;
    bool saw_root;
    bool in_tag;     // between OP_START and OP_OPEN_END/OP_EMPTY_END
    bool want_attrs; // the pending tag's attribute values matter
    uint32_t tag_name;
    attr *atts;
    size_t natts, atts_cap;
    long cur_attr; // attribute being filled, or -1
    obuf abuf;     // attribute values of the pending tag
    obuf text;     // character data since the last start tag
    obuf item;     // name of the current EventData item
    obuf qual;     // EventID's Qualifiers
    bool has_qual;
    bool item_nested;
    bool leaf_attrs; // the last UserData element started had attributes (fields of their own)
    bool xml_on; // rendering the current item's inner XML into xml
    obuf xml;
    obuf vbuf;  // a value rendered on its own
    bool ov_on; // the substitution at template op ov_at renders ov_val (an array item)
    size_t ov_at;
    val ov_val;
    uint32_t stack[SK_MAX_DEPTH + 2]; // element names by depth
    bool empty_tag[SK_MAX_DEPTH + 2]; // ...and whether it was written as <x/>
};

static void fail(sk_binxml *x, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);

static void fail(sk_binxml *x, sk_status st, const char *fmt, ...)
{
    if (x->st != SK_OK)
        return;
    x->st = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
}

// Makes room for k more bytes plus a NUL; false (and the record fails) past OBUF_MAX.
static bool ob_grow(sk_binxml *x, obuf *o, size_t k)
{
    size_t need = o->n + k + 1;
    if (need > OBUF_MAX) {
        fail(x, SK_ERR_LIMIT, "record text larger than %u bytes", (unsigned)SK_MAX_XML_BYTES);
        return false;
    }
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < need)
            cap *= 2;
        o->p = sk_xrealloc(o->p, cap);
        o->cap = cap;
    }
    return true;
}

static inline bool ob_room(sk_binxml *x, obuf *o, size_t k)
{
    return o->n + k + 1 <= o->cap || ob_grow(x, o, k);
}

static inline void ob_add(sk_binxml *x, obuf *o, const char *s, size_t k)
{
    if (k == 0 || !ob_room(x, o, k))
        return;
    memcpy(o->p + o->n, s, k);
    o->n += k;
}

static inline void ob_addc(sk_binxml *x, obuf *o, char ch)
{
    if (!ob_room(x, o, 1))
        return;
    o->p[o->n++] = ch;
}

static inline void ob_adds(sk_binxml *x, obuf *o, const char *s)
{
    ob_add(x, o, s, strlen(s));
}

static inline const char *ob_str(obuf *o)
{
    if (!o->p)
        return "";
    o->p[o->n] = '\0'; // room for it is always kept
    return o->p;
}

static void ob_free(obuf *o)
{
    free(o->p);
    o->p = NULL;
    o->n = o->cap = 0;
}

// Appends the UTF-8 form of code point cp (surrogates and out-of-range become U+FFFD).
static inline void ob_cp(sk_binxml *x, obuf *o, uint32_t cp)
{
    if (!ob_room(x, o, 4))
        return;
    char *p = o->p + o->n;
    if (cp >= 0xD800 && (cp <= 0xDFFF || cp > 0x10FFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        p[0] = (char)cp;
        o->n += 1;
    } else if (cp < 0x800) {
        p[0] = (char)(0xC0 | (cp >> 6));
        p[1] = (char)(0x80 | (cp & 0x3F));
        o->n += 2;
    } else if (cp < 0x10000) {
        p[0] = (char)(0xE0 | (cp >> 12));
        p[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (char)(0x80 | (cp & 0x3F));
        o->n += 3;
    } else {
        p[0] = (char)(0xF0 | (cp >> 18));
        p[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        p[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        p[3] = (char)(0x80 | (cp & 0x3F));
        o->n += 4;
    }
}

// UTF-16LE -> UTF-8, stopping at the first NUL unit (values are C strings to Windows). Surrogate
// pairs are combined; lone surrogates become U+FFFD.
static void ob_utf16(sk_binxml *x, obuf *o, const uint8_t *p, size_t units)
{
    if (!ob_room(x, o, units * 3))
        return;
    char *w = o->p + o->n;
    for (size_t i = 0; i < units; i++) {
        uint32_t u = (uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8);
        if (u < 0x80) {
            if (u == 0)
                break;
            *w++ = (char)u;
        } else if (u < 0x800) {
            *w++ = (char)(0xC0 | (u >> 6));
            *w++ = (char)(0x80 | (u & 0x3F));
        } else {
            if (u >= 0xD800 && u <= 0xDFFF) {
                uint32_t l =
                        i + 1 < units ? (uint32_t)p[2 * i + 2] | ((uint32_t)p[2 * i + 3] << 8) : 0;
                if (u <= 0xDBFF && l >= 0xDC00 && l <= 0xDFFF) {
                    uint32_t cp = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
                    *w++ = (char)(0xF0 | (cp >> 18));
                    *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                    *w++ = (char)(0x80 | (cp & 0x3F));
                    i++;
                    continue;
                }
                u = 0xFFFD;
            }
            *w++ = (char)(0xE0 | (u >> 12));
            *w++ = (char)(0x80 | ((u >> 6) & 0x3F));
            *w++ = (char)(0x80 | (u & 0x3F));
        }
    }
    o->n = (size_t)(w - o->p);
}

// Windows-1252 bytes 0x80-0x9F (the rest is Latin-1); undefined ones map to the C1 control, as
// Windows' own conversion does.
static const uint16_t cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void ob_ansi(sk_binxml *x, obuf *o, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && p[i]; i++) {
        uint8_t b = p[i];
        if (b < 0x80)
            ob_addc(x, o, (char)b);
        else
            ob_cp(x, o, b < 0xA0 ? cp1252_hi[b - 0x80] : b);
    }
}

static void ob_u64(sk_binxml *x, obuf *o, uint64_t v)
{
    char b[24];
    int i = 24;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ob_add(x, o, b + i, (size_t)(24 - i));
}

static void ob_i64(sk_binxml *x, obuf *o, int64_t v)
{
    if (v < 0) {
        ob_addc(x, o, '-');
        ob_u64(x, o, (uint64_t)0 - (uint64_t)v);
    } else {
        ob_u64(x, o, (uint64_t)v);
    }
}

static void ob_hex(sk_binxml *x, obuf *o, uint64_t v)
{
    static const char hx[] = "0123456789abcdef";
    char b[20];
    int i = 20;
    do {
        b[--i] = hx[v & 15];
        v >>= 4;
    } while (v);
    b[--i] = 'x';
    b[--i] = '0';
    ob_add(x, o, b + i, (size_t)(20 - i));
}

static void ob_hexbytes(sk_binxml *x, obuf *o, const uint8_t *p, size_t n)
{
    static const char HX[] = "0123456789ABCDEF";
    if (!ob_room(x, o, 2 * n))
        return;
    char *w = o->p + o->n;
    for (size_t i = 0; i < n; i++) {
        *w++ = HX[p[i] >> 4];
        *w++ = HX[p[i] & 15];
    }
    o->n += 2 * n;
}

// "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}", upper case (as libevtx and Windows print GUIDs).
static void ob_guid(sk_binxml *x, obuf *o, const uint8_t *p)
{
    static const char HX[] = "0123456789ABCDEF";
    // Bytes in printing order: Data1..Data3 are little-endian, Data4 is a byte string.
    static const uint8_t order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    if (!ob_room(x, o, 38))
        return;
    char *w = o->p + o->n;
    *w++ = '{';
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *w++ = '-';
        *w++ = HX[p[order[i]] >> 4];
        *w++ = HX[p[order[i]] & 15];
    }
    *w++ = '}';
    o->n += 38;
}

// --------------------------------------------------------------------------------------------
// Offset tables, names and templates

static void otab_init(otab *t)
{
    t->size = 1024;
    t->used = 0;
    t->s = sk_xcalloc(t->size, sizeof(slot));
}

static inline size_t otab_hash(uint32_t off, size_t mask)
{
    return (size_t)((off * 2654435761u) >> 7) & mask;
}

// The index stored for off in the current generation, or -1.
static inline long otab_get(const otab *t, uint32_t gen, uint32_t off)
{
    size_t mask = t->size - 1;
    for (size_t h = otab_hash(off, mask);; h = (h + 1) & mask) {
        const slot *s = &t->s[h];
        if (s->gen != gen)
            return -1;
        if (s->off == off)
            return (long)s->idx;
    }
}

static void otab_put(otab *t, uint32_t gen, uint32_t off, uint32_t idx)
{
    if ((t->used + 1) * 2 > t->size) {
        slot *old = t->s;
        size_t osize = t->size;
        t->size *= 2;
        t->s = sk_xcalloc(t->size, sizeof(slot));
        for (size_t i = 0; i < osize; i++)
            if (old[i].gen == gen)
                for (size_t h = otab_hash(old[i].off, t->size - 1);; h = (h + 1) & (t->size - 1))
                    if (t->s[h].gen != gen) {
                        t->s[h] = old[i];
                        break;
                    }
        free(old);
    }
    size_t mask = t->size - 1;
    for (size_t h = otab_hash(off, mask);; h = (h + 1) & mask) {
        if (t->s[h].gen != gen) {
            t->s[h].off = off;
            t->s[h].gen = gen;
            t->s[h].idx = idx;
            t->used++;
            return;
        }
    }
}

// Whether a data item named s[0..n) could collide with a system field (the only names
// sk_event_add_data has to look at; every other item takes the cheaper sk_event_add).
static bool is_sys_field_name(const char *s, size_t n)
{
#define SYSNAME(lit)         \
    {                        \
        lit, sizeof(lit) - 1 \
    }
    static const struct {
        const char *s;
        size_t n;
    } names[] = {
        SYSNAME("Provider_Name"),   SYSNAME("Provider_Guid"),
        SYSNAME("EventSourceName"), SYSNAME("EventID"),
        SYSNAME("Qualifiers"),      SYSNAME("Version"),
        SYSNAME("Level"),           SYSNAME("Task"),
        SYSNAME("Opcode"),          SYSNAME("Keywords"),
        SYSNAME("TimeCreated"),     SYSNAME("EventRecordID"),
        SYSNAME("ActivityID"),      SYSNAME("RelatedActivityID"),
        SYSNAME("ProcessID"),       SYSNAME("ThreadID"),
        SYSNAME("Channel"),         SYSNAME("Computer"),
        SYSNAME("UserID"),
    };
#undef SYSNAME
    if (n > 7 && memcmp(s, "System.", 7) == 0)
        return true;
    if (n < 4 || n > 17)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].n == n && names[i].s[0] == s[0] && memcmp(names[i].s, s, n) == 0)
            return true;
    return false;
}

static void classify(name_ent *ne)
{
    size_t ln = ne->len;
    ne->local = sk_xml_local(ne->s, &ln);
    ne->local_len = (uint32_t)ln;
    ne->ek = EK_OTHER;
    ne->ak = AK_OTHER;
    const char *l = ne->local;
    if (strcmp(l, "Event") == 0)
        ne->ek = EK_EVENT;
    else if (strcmp(l, "System") == 0)
        ne->ek = EK_SYSTEM;
    else if (strcmp(l, "EventData") == 0)
        ne->ek = EK_EVENTDATA;
    else if (strcmp(l, "UserData") == 0)
        ne->ek = EK_USERDATA;
    else
        for (size_t i = 0; i < NSYS; i++)
            if (strcmp(l, sys_elems[i].elem) == 0) {
                ne->ek = (uint8_t)(EK_SYS0 + i);
                break;
            }
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
        if (strcmp(ne->s, attr_names[i].s) == 0) {
            ne->ak = attr_names[i].ak;
            break;
        }
    ne->sysname = is_sys_field_name(ne->local, ne->local_len);
}

// The name at chunk offset off (decoded once per chunk). Returns its index, or -1 after fail().
static long get_name(sk_binxml *x, uint32_t off)
{
    long i = otab_get(&x->ntab, x->gen, off);
    if (i >= 0)
        return i;
    // Layout: 4 bytes (next name in the hash chain), hash (2), characters (2), UTF-16 + NUL.
    if ((size_t)off + 8 > x->n) {
        fail(x, SK_ERR_FORMAT, "name offset %u outside the chunk", (unsigned)off);
        return -1;
    }
    size_t units = rd16(x->c + off + 6);
    if ((size_t)off + 8 + 2 * units > x->n) {
        fail(x, SK_ERR_FORMAT, "name at offset %u runs past the chunk", (unsigned)off);
        return -1;
    }
    if (x->recovering) {
        // A recovered record may name an offset that its chunk's present use has overwritten:
        // what is there must be a name, its hash (the low 16 bits of h = h * 65599 + unit over
        // its UTF-16 units) and terminating NUL intact. Else its elements and attributes would
        // get whatever names the new data spells (an EventData that is no longer one).
        uint32_t h = 0;
        for (size_t k = 0; k < units; k++)
            h = h * 65599u + rd16(x->c + off + 8 + 2 * k);
        if ((size_t)off + 10 + 2 * units > x->n || rd16(x->c + off + 8 + 2 * units) != 0 ||
            (h & 0xffffu) != rd16(x->c + off + 4)) {
            fail(x,
                 SK_ERR_FORMAT,
                 "no name at offset %u (overwritten: its hash or end does not match)",
                 (unsigned)off);
            return -1;
        }
    }
    obuf *t = &x->vbuf;
    t->n = 0;
    ob_utf16(x, t, x->c + off + 8, units);
    if (x->st != SK_OK)
        return -1;
    if (x->nnames == x->names_cap)
        sk_xgrow((void **)&x->names, &x->names_cap, x->nnames + 1, sizeof(name_ent));
    name_ent *ne = &x->names[x->nnames];
    ne->s = sk_arena_strndup(&x->arena, t->p ? t->p : "", t->n);
    ne->len = (uint32_t)t->n;
    classify(ne);
    otab_put(&x->ntab, x->gen, off, (uint32_t)x->nnames);
    return (long)x->nnames++;
}

// --------------------------------------------------------------------------------------------
// Parsing token streams into ops

typedef enum pmode {
    PM_TEMPLATE, // a template body: substitutions, no instances; ops go to tops
    PM_RECORD,   // a record's event data: instances, no substitutions; ops go to sops
    PM_NESTED,   // a BinXml value: like a record, element starts may lack the dependency id
} pmode;

static op *emit(sk_binxml *x, pmode m)
{
    if (m == PM_TEMPLATE) {
        if (x->ntops == x->tops_cap)
            sk_xgrow((void **)&x->tops, &x->tops_cap, x->ntops + 1, sizeof(op));
        op *o = &x->tops[x->ntops++];
        memset(o, 0, sizeof *o);
        return o;
    }
    if (x->nsops == x->sops_cap)
        sk_xgrow((void **)&x->sops, &x->sops_cap, x->nsops + 1, sizeof(op));
    op *o = &x->sops[x->nsops++];
    memset(o, 0, sizeof *o);
    return o;
}

// Reads a name reference at *pos (4-byte chunk offset); when the name is stored right there
// (its first use in the chunk), skips over it. Returns the name index or -1 after fail().
static long name_ref(sk_binxml *x, size_t *pos, size_t end)
{
    if (*pos + 4 > end) {
        fail(x, SK_ERR_FORMAT, "truncated name reference at offset %zu", *pos);
        return -1;
    }
    uint32_t off = rd32(x->c + *pos);
    *pos += 4;
    long idx = get_name(x, off);
    if (idx < 0)
        return -1;
    if (off == *pos) {
        size_t units = rd16(x->c + off + 6);
        size_t sz = 8 + 2 * units + 2;
        if (*pos + sz > end) {
            fail(x, SK_ERR_FORMAT, "name at offset %u runs past its element", (unsigned)off);
            return -1;
        }
        *pos += sz;
    }
    return idx;
}

// Whether a name structure can start at chunk offset off: inside the records area, with its
// characters and terminating NUL inside the chunk.
static bool name_plausible(const sk_binxml *x, size_t off)
{
    if (off < 512 || off + 8 > x->n)
        return false;
    size_t units = rd16(x->c + off + 6);
    size_t term = off + 8 + 2 * units;
    return units > 0 && term + 2 <= x->n && rd16(x->c + term) == 0;
}

// Whether an open-start-element token at p, read with its name offset at p+hdr (hdr is 5 without
// the dependency id, 7 with it), makes sense: the data size fits, and the name is stored right
// there or earlier in the chunk.
static bool element_layout_ok(const sk_binxml *x, size_t p, size_t hdr, size_t end)
{
    if (p + hdr + 4 > end)
        return false;
    size_t size = rd32(x->c + p + hdr - 4);
    if (size > end - (p + hdr))
        return false;
    size_t off = rd32(x->c + p + hdr);
    if (off == p + hdr + 4)
        return name_plausible(x, off) && off + 8 + 2 * (size_t)rd16(x->c + off + 6) + 2 <= end;
    return off < p && name_plausible(x, off);
}

// True when an open-start-element token at p has the 2-byte dependency id. Windows writes it in
// templates; libyal's format documentation says elements in BinXml values go without it, and
// template-less records written by event forwarding lack it too. The layout that reads as a valid
// element wins; when both do, templates keep the id and the others go without.
static bool has_dependency_id(sk_binxml *x, size_t p, size_t end, bool prefer)
{
    bool with = element_layout_ok(x, p, 7, end);
    bool without = element_layout_ok(x, p, 5, end);
    if (with != without)
        return with;
    return prefer;
}

static long get_template(sk_binxml *x, uint32_t def);

static sk_status parse(sk_binxml *x, size_t pos, size_t end, pmode m, size_t *out_end);

// A recovered record's template, when the offset its instance gives holds another one (the
// chunk was reused and the definition overwritten): the definition of template tid stored
// elsewhere in the chunk, by a record of the chunk's present or earlier use. Template ids are the
// first 4 bytes of the template's GUID. -1 when the chunk has none that compiles.
static long template_by_id(sk_binxml *x, uint32_t tid)
{
    if (x->defs_gen != x->gen) {
        x->defs_gen = x->gen;
        x->ndefs = 0;
        // Stored definitions: a 0x0c 0x01 instance whose definition offset is right behind it.
        for (size_t p = 0; p + 34 <= x->n;) {
            const uint8_t *h = memchr(x->c + p, 0x0c, x->n - 34 - p + 1);
            if (!h)
                break;
            p = (size_t)(h - x->c);
            uint32_t id = rd32(h + 2), def = rd32(h + 6);
            if (h[1] == 0x01 && def == p + 10 && rd32(h + 14) == id) {
                sk_xgrow((void **)&x->defs, &x->defs_cap, x->ndefs + 1, sizeof *x->defs);
                x->defs[x->ndefs++] = (stored_def){ id, def };
            }
            p++;
        }
    }
    for (size_t i = 0; i < x->ndefs; i++) {
        if (x->defs[i].tid != tid)
            continue;
        long ti = get_template(x, x->defs[i].off);
        if (ti >= 0 && x->tmpls[ti].st == SK_OK && x->tmpls[ti].guid4 == tid)
            return ti;
    }
    return -1;
}

// A template instance at pos (token 0x0c) in a record or BinXml value: emits OP_INSTANCE and
// records its values. *pos moves past the values.
static void parse_instance(sk_binxml *x, size_t *pos, size_t end, pmode m)
{
    size_t p = *pos;
    if (p + 10 > end) {
        fail(x, SK_ERR_FORMAT, "truncated template instance at offset %zu", p);
        return;
    }
    uint32_t tid = rd32(x->c + p + 2);
    uint32_t def = rd32(x->c + p + 6);
    p += 10;
    long ti;
    if (x->recovering && def != p) {
        // The definition the instance names may have been overwritten: another stored
        // definition of the same template will do (a definition stored here must be right).
        ti = (size_t)def + 24 <= x->n ? get_template(x, def) : -1;
        if (ti < 0 || x->tmpls[ti].st != SK_OK || x->tmpls[ti].guid4 != tid) {
            long alt = template_by_id(x, tid);
            if (alt >= 0)
                ti = alt;
            else if (ti < 0)
                ti = get_template(x, def); // reports why
        }
    } else {
        ti = get_template(x, def);
    }
    if (ti < 0)
        return;
    tmpl_ent *t = &x->tmpls[ti];
    if (t->st != SK_OK) {
        fail(x, t->st, "%s", t->why);
        return;
    }
    if (t->guid4 != tid) {
        fail(x,
             SK_ERR_FORMAT,
             "template instance at offset %zu names template 0x%08x, the definition at offset "
             "%u is 0x%08x",
             *pos,
             (unsigned)tid,
             (unsigned)def,
             (unsigned)t->guid4);
        return;
    }
    if (def == p) // the definition is stored here (first use in the chunk): skip it
        p += 24 + (size_t)t->size;
    if (p > end || p + 4 > end) {
        fail(x, SK_ERR_FORMAT, "truncated template values at offset %zu", p);
        return;
    }
    uint32_t count = rd32(x->c + p);
    p += 4;
    if (count > (end - p) / 4) {
        fail(x, SK_ERR_FORMAT, "template instance claims %u values", (unsigned)count);
        return;
    }
    size_t data = p + 4 * (size_t)count;
    size_t first = x->nvals;
    if (x->nvals + count > x->vals_cap)
        sk_xgrow((void **)&x->vals, &x->vals_cap, x->nvals + count, sizeof(val));
    for (uint32_t i = 0; i < count; i++) {
        val *v = &x->vals[x->nvals++];
        v->size = rd16(x->c + p + 4 * (size_t)i);
        v->type = x->c[p + 4 * (size_t)i + 2];
        v->off = (uint32_t)data;
        data += v->size;
        if (data > end) {
            fail(x, SK_ERR_FORMAT, "template value %u runs past the record", (unsigned)i);
            return;
        }
    }
    op *o = emit(x, m);
    o->k = OP_INSTANCE;
    o->a = (uint32_t)ti;
    o->b = (uint32_t)first;
    o->n = count;
    *pos = data;
}

// Parses a token stream at c[pos..end) into ops (tops for PM_TEMPLATE, sops otherwise). Stops
// after an end-of-stream token, or at end. *out_end (may be NULL) receives the position after it.
static sk_status parse(sk_binxml *x, size_t pos, size_t end, pmode m, size_t *out_end)
{
    const uint8_t *c = x->c;
    unsigned depth = 0;
    bool in_tag = false;
    bool in_attr = false;
    while (pos < end && x->st == SK_OK) {
        uint8_t tok = c[pos];
        op *o;
        long nm;
        switch (tok) {
        case TOK_EOF:
            pos++;
            goto done;
        case TOK_FRAGMENT_HEADER:
            if (pos + 4 > end)
                goto truncated;
            pos += 4;
            break;
        case TOK_OPEN_START:
        case TOK_OPEN_START | TOK_MORE: {
            if (in_tag) {
                fail(x, SK_ERR_FORMAT, "element start inside a start tag at offset %zu", pos);
                break;
            }
            size_t p = pos + 1;
            if (has_dependency_id(x, pos, end, m == PM_TEMPLATE))
                p += 2;
            p += 4; // data size
            nm = name_ref(x, &p, end);
            if (nm < 0)
                break;
            if (tok & TOK_MORE) {
                if (p + 4 > end)
                    goto truncated;
                p += 4; // attribute list size
            }
            o = emit(x, m);
            o->k = OP_START;
            o->a = (uint32_t)nm;
            in_tag = true;
            in_attr = false;
            pos = p;
            break;
        }
        case TOK_ATTRIBUTE:
        case TOK_ATTRIBUTE | TOK_MORE: {
            if (!in_tag) {
                fail(x, SK_ERR_FORMAT, "attribute outside a start tag at offset %zu", pos);
                break;
            }
            size_t p = pos + 1;
            nm = name_ref(x, &p, end);
            if (nm < 0)
                break;
            o = emit(x, m);
            o->k = OP_ATTR;
            o->a = (uint32_t)nm;
            in_attr = true;
            pos = p;
            break;
        }
        case TOK_CLOSE_START:
        case TOK_CLOSE_EMPTY:
            if (!in_tag) {
                fail(x, SK_ERR_FORMAT, "stray end of start tag at offset %zu", pos);
                break;
            }
            o = emit(x, m);
            o->k = tok == TOK_CLOSE_START ? OP_OPEN_END : OP_EMPTY_END;
            in_tag = in_attr = false;
            if (tok == TOK_CLOSE_START) {
                if (++depth > SK_MAX_DEPTH) {
                    fail(x, SK_ERR_LIMIT, "elements nested deeper than %u", (unsigned)SK_MAX_DEPTH);
                    break;
                }
            }
            pos++;
            break;
        case TOK_END_ELEMENT:
            if (in_tag || depth == 0) {
                fail(x, SK_ERR_FORMAT, "stray end tag at offset %zu", pos);
                break;
            }
            o = emit(x, m);
            o->k = OP_END;
            depth--;
            pos++;
            break;
        case TOK_VALUE:
        case TOK_VALUE | TOK_MORE: {
            if (in_tag && !in_attr)
                goto misplaced;
            if (pos + 4 > end)
                goto truncated;
            uint8_t vt = c[pos + 1];
            size_t units = rd16(c + pos + 2);
            if (pos + 4 + 2 * units > end)
                goto truncated;
            if (vt != VT_STRING) {
                fail(x,
                     SK_ERR_FORMAT,
                     "value token of type 0x%02x at offset %zu (only strings are defined)",
                     vt,
                     pos);
                break;
            }
            o = emit(x, m);
            if (m == PM_TEMPLATE) {
                // Template literals (Data Name="Image", Channel, ...) are converted once per
                // chunk.
                obuf *t = &x->vbuf;
                t->n = 0;
                ob_utf16(x, t, c + pos + 4, units);
                o->k = OP_TEXT;
                o->s = sk_arena_strndup(&x->arena, t->p ? t->p : "", t->n);
                o->n = (uint32_t)t->n;
            } else {
                o->k = OP_TEXT16;
                o->a = (uint32_t)(pos + 4);
                o->n = (uint32_t)units;
            }
            pos += 4 + 2 * units;
            break;
        }
        case TOK_CDATA:
        case TOK_CDATA | TOK_MORE:
        case TOK_PI_DATA: {
            if (in_tag)
                goto misplaced;
            if (pos + 3 > end)
                goto truncated;
            size_t units = rd16(c + pos + 1);
            if (pos + 3 + 2 * units > end)
                goto truncated;
            o = emit(x, m);
            o->k = tok == TOK_PI_DATA ? OP_PI_DATA16 : OP_CDATA16;
            o->a = (uint32_t)(pos + 3);
            o->n = (uint32_t)units;
            pos += 3 + 2 * units;
            break;
        }
        case TOK_CHARREF:
        case TOK_CHARREF | TOK_MORE:
            if (in_tag && !in_attr)
                goto misplaced;
            if (pos + 3 > end)
                goto truncated;
            o = emit(x, m);
            o->k = OP_CHARREF;
            o->id = rd16(c + pos + 1);
            pos += 3;
            break;
        case TOK_ENTITYREF:
        case TOK_ENTITYREF | TOK_MORE:
        case TOK_PI_TARGET: {
            if (in_tag && (tok == TOK_PI_TARGET || !in_attr))
                goto misplaced;
            size_t p = pos + 1;
            nm = name_ref(x, &p, end);
            if (nm < 0)
                break;
            o = emit(x, m);
            o->k = tok == TOK_PI_TARGET ? OP_PI_TARGET : OP_ENTREF;
            o->a = (uint32_t)nm;
            pos = p;
            break;
        }
        case TOK_TEMPLATE_INSTANCE:
            if (m == PM_TEMPLATE) {
                fail(x, SK_ERR_FORMAT, "template instance inside a template at offset %zu", pos);
                break;
            }
            if (in_tag)
                goto misplaced;
            parse_instance(x, &pos, end, m);
            break;
        case TOK_NORMAL_SUBST:
        case TOK_OPTIONAL_SUBST:
            if (m != PM_TEMPLATE) {
                fail(x, SK_ERR_FORMAT, "substitution outside a template at offset %zu", pos);
                break;
            }
            if (in_tag && !in_attr)
                goto misplaced;
            if (pos + 4 > end)
                goto truncated;
            o = emit(x, m);
            o->k = tok == TOK_NORMAL_SUBST ? OP_SUBST : OP_OSUBST;
            o->id = rd16(c + pos + 1);
            o->t = c[pos + 3];
            pos += 4;
            break;
        default:
            fail(x, SK_ERR_FORMAT, "unknown BinXML token 0x%02x at offset %zu", tok, pos);
            break;
        }
        continue;
    truncated:
        fail(x, SK_ERR_FORMAT, "truncated BinXML token 0x%02x at offset %zu", tok, pos);
        break;
    misplaced:
        fail(x, SK_ERR_FORMAT, "BinXML token 0x%02x inside a start tag at offset %zu", tok, pos);
        break;
    }
done:
    // Every stream (template body, record, BinXML value) holds whole elements.
    if (x->st == SK_OK && (in_tag || depth > 0))
        fail(x, SK_ERR_FORMAT, "BinXML ends inside an element (offset %zu)", pos);
    if (out_end)
        *out_end = pos;
    return x->st;
}

// Marks the elements of a compiled template whose whole content is one substitution:
//   <Data Name="X">%3</Data>
// libevtx (and Windows) repeat such an element for every item of an array value, and leave it
// out when the substitution is optional and its value is NULL.
static void mark_simple_elements(sk_binxml *x, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        if (x->tops[i].k != OP_START)
            continue;
        size_t j = i + 1;
        while (j < to && x->tops[j].k != OP_OPEN_END && x->tops[j].k != OP_EMPTY_END &&
               x->tops[j].k != OP_START)
            j++;
        if (j + 2 < to && x->tops[j].k == OP_OPEN_END &&
            (x->tops[j + 1].k == OP_SUBST || x->tops[j + 1].k == OP_OSUBST) &&
            x->tops[j + 2].k == OP_END) {
            x->tops[i].t = 1;
            x->tops[i].b = (uint32_t)(j + 1 - i);
            x->tops[i].n = (uint32_t)(j + 2 - i);
        }
    }
}

// The template whose definition is at chunk offset def: compiled on first use in the chunk.
// Returns its index (check ->st), or -1 after fail() when def is not a usable offset at all.
static long get_template(sk_binxml *x, uint32_t def)
{
    long i = otab_get(&x->ttab, x->gen, def);
    if (i >= 0)
        return i;
    // Layout: next definition offset (4), GUID (16), body size (4), body.
    if ((size_t)def + 24 > x->n) {
        fail(x, SK_ERR_FORMAT, "template offset %u outside the chunk", (unsigned)def);
        return -1;
    }
    if (x->ntmpls == x->tmpls_cap)
        sk_xgrow((void **)&x->tmpls, &x->tmpls_cap, x->ntmpls + 1, sizeof(tmpl_ent));
    uint32_t idx = (uint32_t)x->ntmpls++;
    tmpl_ent *t = &x->tmpls[idx];
    t->guid4 = rd32(x->c + def + 4);
    t->size = rd32(x->c + def + 20);
    t->first = (uint32_t)x->ntops;
    t->count = 0;
    t->st = SK_OK;
    t->why = NULL;
    otab_put(&x->ttab, x->gen, def, idx);
    size_t body = (size_t)def + 24;
    if (t->size > x->n - body) {
        t->st = SK_ERR_FORMAT;
        t->why = sk_arena_strndup(&x->arena, "template definition runs past the chunk", 39);
        return idx;
    }
    // A failure while compiling is a property of the template: remember it for its other uses.
    sk_status saved = x->st;
    char msg[sizeof x->msg];
    memcpy(msg, x->msg, sizeof msg);
    x->st = SK_OK;
    sk_status st = parse(x, body, body + t->size, PM_TEMPLATE, NULL);
    t = &x->tmpls[idx];
    if (st != SK_OK) {
        t->st = st;
        char why[sizeof x->msg];
        int k = snprintf(why, sizeof why, "template at offset %u: ", (unsigned)def);
        size_t used = k > 0 && (size_t)k < sizeof why ? (size_t)k : 0;
        size_t room = sizeof why - used - 1;
        size_t ml = strnlen(x->msg, room);
        memcpy(why + used, x->msg, ml);
        why[used + ml] = '\0';
        t->why = sk_arena_strndup(&x->arena, why, used + ml);
        x->ntops = t->first;
    } else {
        t->count = (uint32_t)(x->ntops - t->first);
        mark_simple_elements(x, t->first, x->ntops);
    }
    x->st = saved;
    memcpy(x->msg, msg, sizeof msg);
    return idx;
}

// --------------------------------------------------------------------------------------------
// The event builder

// Charges n bytes of rendering to the record; false (and the record fails) past WORK_BUDGET.
static bool charge(sk_binxml *x, size_t n)
{
    x->work += n;
    if (x->work <= WORK_BUDGET)
        return true;
    fail(x,
         SK_ERR_LIMIT,
         "record expands to more than %u bytes of text",
         (unsigned)SK_MAX_XML_BYTES);
    return false;
}

static void add_field(sk_binxml *x,
                      const char *name,
                      size_t nlen,
                      const char *v,
                      size_t vn,
                      bool system,
                      bool sysname)
{
    if (x->st != SK_OK || !charge(x, nlen + vn))
        return;
    if (vn > SK_MAX_VALUE_BYTES) {
        vn = sk_utf8_cut(v, SK_MAX_VALUE_BYTES);
        if (x->ntrunc++ == 0)
            snprintf(x->trunc_name, sizeof x->trunc_name, "%.*s", (int)nlen, name);
    }
    sk_status st;
    if (system)
        st = sk_event_add(x->ev, name, nlen, v, vn, SK_FIELD_SYSTEM);
    else if (sysname)
        st = sk_event_add_data(x->ev, name, nlen, v, vn);
    else
        st = sk_event_add(x->ev, name, nlen, v, vn, 0);
    if (st != SK_OK)
        fail(x, SK_ERR_LIMIT, "more than %u fields", (unsigned)SK_MAX_FIELDS);
}

// Windows prints Keywords without zero padding ("0x8000000000000000", "0x0"); a literal
// Keywords text written zero-padded is unpadded like the libevtx reader does.
static void unpad_hex(obuf *b)
{
    if ((b->n != 10 && b->n != 18) || b->p[0] != '0' || b->p[1] != 'x' || b->p[2] != '0')
        return;
    for (size_t i = 2; i < b->n; i++)
        if (!((b->p[i] >= '0' && b->p[i] <= '9') || (b->p[i] >= 'a' && b->p[i] <= 'f')))
            return;
    size_t z = 2;
    while (z + 1 < b->n && b->p[z] == '0')
        z++;
    memmove(b->p + 2, b->p + z, b->n - z);
    b->n -= z - 2;
}

static void add_system(sk_binxml *x, const char *field, const char *v, size_t vn)
{
    add_field(x, field, strlen(field), v, vn, true, false);
}

static const attr *find_attr(sk_binxml *x, uint8_t ak)
{
    for (size_t i = 0; i < x->natts; i++) {
        const attr *a = &x->atts[i];
        if (!a->null_opt && x->names[a->name].ak == ak)
            return a;
    }
    return NULL;
}

static void system_start(sk_binxml *x, const name_ent *ne)
{
    x->sys = ne->ek >= EK_SYS0 ? (int)(ne->ek - EK_SYS0) : -1;
    if (x->sys < 0)
        return;
    const char *ab = ob_str(&x->abuf);
    if (x->sys == SYS_EVENTID) {
        const attr *q = find_attr(x, AK_QUALIFIERS);
        x->has_qual = q != NULL;
        x->qual.n = 0;
        if (q)
            ob_add(x, &x->qual, ab + q->v0, q->v1 - q->v0);
        return;
    }
    const sys_elem *se = &sys_elems[x->sys];
    for (size_t k = 0; k < 3 && se->attrs[k].field; k++) {
        const attr *a = find_attr(x, se->attrs[k].ak);
        if (!a)
            continue;
        const char *v = ab + a->v0;
        size_t vn = a->v1 - a->v0;
        char when[29];
        uint64_t ft;
        if (x->sys == SYS_TIMECREATED && !(a->time7 && vn == 28) && sk_time_parse(v, vn, &ft)) {
            // 7 fractional digits, as Windows renders TimeCreated.
            sk_time_format(ft, when);
            v = when;
            vn = 28;
        }
        add_system(x, se->attrs[k].field, v, vn);
    }
}

static void system_end(sk_binxml *x, bool leaf)
{
    if (x->sys < 0)
        return;
    const sys_elem *se = &sys_elems[x->sys];
    if (se->text_field && leaf) {
        if (x->sys == SYS_KEYWORDS)
            unpad_hex(&x->text);
        add_system(x, se->text_field, ob_str(&x->text), x->text.n);
    }
    if (x->sys == SYS_EVENTID && x->has_qual)
        add_system(x, "Qualifiers", ob_str(&x->qual), x->qual.n);
    x->sys = -1;
}

// Appends s[0..n) to the item's inner XML with & < > escaped (and " in attribute values), as
// libevtx writes text.
static void xml_escape(sk_binxml *x, const char *s, size_t n, bool in_attr)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&' && s[j] != '<' && s[j] != '>' && !(in_attr && s[j] == '"'))
            j++;
        ob_add(x, &x->xml, s + i, j - i);
        if (j == n)
            break;
        switch (s[j]) {
        case '&':
            ob_add(x, &x->xml, "&amp;", 5);
            break;
        case '<':
            ob_add(x, &x->xml, "&lt;", 4);
            break;
        case '>':
            ob_add(x, &x->xml, "&gt;", 4);
            break;
        default:
            ob_add(x, &x->xml, "&quot;", 6);
            break;
        }
        i = j + 1;
    }
}

// Whether character data at the current position matters (System, EventData, UserData text).
static inline bool want_text(const sk_binxml *x)
{
    return x->depth >= 3 &&
           (x->sec == SEC_SYSTEM || x->sec == SEC_EVENTDATA || x->sec == SEC_USERDATA);
}

// The attributes of an element below UserData, each a field <element>_<attribute>, as the
// libevtx reader's userdata_attrs makes them.
static void userdata_attrs(sk_binxml *x, const name_ent *ne)
{
    x->leaf_attrs = false;
    const char *ab = ob_str(&x->abuf);
    for (size_t i = 0; i < x->natts && x->st == SK_OK; i++) {
        const attr *a = &x->atts[i];
        const name_ent *an = &x->names[a->name];
        if (a->null_opt || sk_xml_is_nsdecl(an->s, an->len))
            continue;
        x->item.n = 0;
        ob_add(x, &x->item, ne->local, ne->local_len);
        ob_addc(x, &x->item, '_');
        ob_add(x, &x->item, an->local, an->local_len);
        const char *nm = ob_str(&x->item);
        add_field(x, nm, x->item.n, ab + a->v0, a->v1 - a->v0, false,
                  is_sys_field_name(nm, x->item.n));
        x->leaf_attrs = true;
    }
}

// A start tag is complete (attributes known): the libevtx reader's on_start.
static void tag_start(sk_binxml *x, bool empty)
{
    x->in_tag = false;
    const name_ent *ne = &x->names[x->tag_name];
    // Text before a child element of an EventData item belongs to the item's inner XML.
    if (x->depth >= 3 && x->sec == SEC_EVENTDATA) {
        if (!x->xml_on) {
            x->xml_on = true;
            x->item_nested = true;
            x->xml.n = 0;
            xml_escape(x, ob_str(&x->text), x->text.n, false);
        }
        ob_addc(x, &x->xml, '<');
        ob_add(x, &x->xml, ne->s, ne->len);
        const char *ab = ob_str(&x->abuf);
        for (size_t i = 0; i < x->natts; i++) {
            const attr *a = &x->atts[i];
            if (a->null_opt)
                continue;
            const name_ent *an = &x->names[a->name];
            ob_addc(x, &x->xml, ' ');
            ob_add(x, &x->xml, an->s, an->len);
            ob_add(x, &x->xml, "=\"", 2);
            xml_escape(x, ab + a->v0, a->v1 - a->v0, true);
            ob_addc(x, &x->xml, '"');
        }
        ob_add(x, &x->xml, empty ? "/>" : ">", empty ? 2 : 1);
    }
    x->depth++;
    if (x->depth > SK_MAX_DEPTH) {
        fail(x, SK_ERR_LIMIT, "elements nested deeper than %u", (unsigned)SK_MAX_DEPTH);
        return;
    }
    x->stack[x->depth] = x->tag_name;
    x->empty_tag[x->depth] = empty;
    x->leaf = x->depth;
    x->text.n = 0;
    if (x->depth == 1) {
        if (x->saw_root) {
            fail(x, SK_ERR_FORMAT, "more than one root element");
            return;
        }
        x->saw_root = true;
        if (ne->ek != EK_EVENT)
            fail(x, SK_ERR_FORMAT, "root element is <%.64s>, not <Event>", ne->s);
        return;
    }
    if (x->depth == 2) {
        x->sec = ne->ek == EK_SYSTEM      ? SEC_SYSTEM
                 : ne->ek == EK_EVENTDATA ? SEC_EVENTDATA
                 : ne->ek == EK_USERDATA  ? SEC_USERDATA
                                          : SEC_OTHER;
        return;
    }
    if (x->depth == 3 && x->sec == SEC_SYSTEM) {
        system_start(x, ne);
    } else if (x->depth == 3 && x->sec == SEC_EVENTDATA) {
        x->item.n = 0;
        const attr *a = find_attr(x, AK_NAME);
        if (a && a->v1 > a->v0)
            ob_add(x, &x->item, ob_str(&x->abuf) + a->v0, a->v1 - a->v0);
        else
            ob_add(x, &x->item, ne->local, ne->local_len);
        x->item_nested = false;
        x->xml_on = false;
    } else if (x->depth >= 3 && x->sec == SEC_USERDATA) {
        userdata_attrs(x, ne);
    }
}

// The libevtx reader's on_end.
static void tag_end(sk_binxml *x)
{
    if (x->depth == 0) {
        fail(x, SK_ERR_FORMAT, "end tag without element");
        return;
    }
    bool leaf = x->leaf == x->depth;
    const name_ent *ne = &x->names[x->stack[x->depth]];
    if (x->depth == 3 && x->sec == SEC_SYSTEM) {
        system_end(x, leaf);
    } else if (x->depth == 3 && x->sec == SEC_EVENTDATA) {
        const char *nm = ob_str(&x->item);
        bool sysname = is_sys_field_name(nm, x->item.n);
        if (x->item_nested)
            add_field(x, nm, x->item.n, ob_str(&x->xml), x->xml.n, false, sysname);
        else
            add_field(x, nm, x->item.n, ob_str(&x->text), x->text.n, false, sysname);
        x->xml_on = false;
    } else if (x->depth >= 3 && x->sec == SEC_USERDATA && leaf && !(x->leaf_attrs && !x->text.n)) {
        add_field(x, ne->local, ne->local_len, ob_str(&x->text), x->text.n, false, ne->sysname);
    } else if (x->depth > 3 && x->sec == SEC_EVENTDATA && x->xml_on && !x->empty_tag[x->depth]) {
        ob_add(x, &x->xml, "</", 2);
        ob_add(x, &x->xml, ne->s, ne->len);
        ob_addc(x, &x->xml, '>');
    }
    if (x->depth == 2)
        x->sec = SEC_NONE;
    x->depth--;
}

// Character data s[0..n): into the pending attribute, or into the element's text (and the
// item's inner XML).
static void chars(sk_binxml *x, const char *s, size_t n)
{
    if (x->in_tag) {
        if (x->want_attrs && x->cur_attr >= 0)
            ob_add(x, &x->abuf, s, n);
        return;
    }
    if (!want_text(x))
        return;
    ob_add(x, &x->text, s, n);
    if (x->xml_on)
        xml_escape(x, s, n, false);
}

// Where a value can be rendered directly: the attribute buffer, the text buffer (no inner XML
// being built), or NULL (render into vbuf, then chars()). *skip: the value is not needed at all.
static obuf *direct(sk_binxml *x, bool *skip)
{
    *skip = false;
    if (x->in_tag) {
        if (x->want_attrs && x->cur_attr >= 0)
            return &x->abuf;
        *skip = true;
        return NULL;
    }
    if (!want_text(x)) {
        *skip = true;
        return NULL;
    }
    return x->xml_on ? NULL : &x->text;
}

// --------------------------------------------------------------------------------------------
// Values

static void exec(sk_binxml *x, bool scratch, size_t from, size_t to, size_t vfirst, size_t nvals);

static bool size_is(sk_binxml *x, const val *v, size_t want)
{
    if (v->size == want)
        return true;
    fail(x,
         SK_ERR_FORMAT,
         "value of type 0x%02x has %u bytes, not %zu",
         v->type,
         (unsigned)v->size,
         want);
    return false;
}

static void render_filetime(sk_binxml *x, obuf *o, uint64_t ft)
{
    if (ft >= SK_FILETIME_TEXT_END) {
        // Past year 9999 (a damaged or forged value): the raw ticks, not a year cut to four
        // digits (0x7FFFFFFFFFFFFFFF read as 0828-09-14).
        char h[24];
        snprintf(h, sizeof h, "0x%016llX", (unsigned long long)ft);
        ob_adds(x, o, h);
        return;
    }
    // libevtx prints 9 fractional digits for FILETIME values outside TimeCreated (the 100 ns
    // digits and "00"); the libevtx reader keeps them, so the native decoder does too.
    char t[29];
    sk_time_format(ft, t);
    ob_add(x, o, t, 27);
    ob_add(x, o, "00Z", 3);
}

static void render_sid(sk_binxml *x, obuf *o, const val *v, const uint8_t *p)
{
    if (v->size < 8 || v->size < 8 + 4 * (size_t)p[1]) {
        fail(x, SK_ERR_FORMAT, "SID value of %u bytes is incomplete", (unsigned)v->size);
        return;
    }
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++)
        auth = (auth << 8) | p[i];
    ob_add(x, o, "S-", 2);
    ob_u64(x, o, p[0]);
    ob_addc(x, o, '-');
    if (auth >> 32) {
        char b[24];
        snprintf(b, sizeof b, "0x%012llX", (unsigned long long)auth);
        ob_adds(x, o, b);
    } else {
        ob_u64(x, o, auth);
    }
    for (unsigned i = 0; i < p[1]; i++) {
        ob_addc(x, o, '-');
        ob_u64(x, o, rd32(p + 8 + 4 * (size_t)i));
    }
}

static void render_systime(sk_binxml *x, obuf *o, const uint8_t *p)
{
    // year, month, day of week, day, hour, minute, second, milliseconds; printed with the
    // milliseconds, as libevtx does. A damaged one (month 13, hour 25, 1000 ms) is not a time:
    // its eight words in hex, in libevtx's form for values it cannot print.
    char b[80];
    unsigned mon = rd16(p + 2), day = rd16(p + 6), hour = rd16(p + 8), min = rd16(p + 10),
             sec = rd16(p + 12), ms = rd16(p + 14);
    if (rd16(p) > 9999 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 59 || ms > 999) {
        snprintf(b,
                 sizeof b,
                 "(0x%04x 0x%04x 0x%04x 0x%04x 0x%04x 0x%04x 0x%04x 0x%04x)",
                 (unsigned)rd16(p),
                 mon,
                 (unsigned)rd16(p + 4),
                 day,
                 hour,
                 min,
                 sec,
                 ms);
        ob_adds(x, o, b);
        return;
    }
    snprintf(b,
             sizeof b,
             "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
             (unsigned)rd16(p),
             (unsigned)rd16(p + 2),
             (unsigned)rd16(p + 6),
             (unsigned)rd16(p + 8),
             (unsigned)rd16(p + 10),
             (unsigned)rd16(p + 12),
             (unsigned)rd16(p + 14));
    ob_adds(x, o, b);
}

// The shortest text that gives the value back (1.5, 0.1, 1e+300, 2.5e-10, 123456789.12345679),
// as python-evtx and the evtx crate print a real; a Real32 gets the digits a float holds (1e-07,
// not 1.0000000116860974e-07). libevtx prints "%e" with a three-digit exponent (1.500000e+000):
// deviation REAL.
static void render_real(sk_binxml *x, obuf *o, double d, bool single)
{
    char b[48];
    bool exact = false;
    for (int prec = 1; !exact && prec <= 17; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, d);
        exact = single ? strtof(b, NULL) == (float)d : strtod(b, NULL) == d;
    }
    ob_adds(x, o, b);
}

// Renders a scalar value of type t from p[0..size) into o.
static void render_scalar(sk_binxml *x, obuf *o, uint8_t t, const uint8_t *p, const val *v)
{
    switch (t) {
    case VT_NULL:
        break;
    case VT_STRING:
        // A string that is one line feed reads as empty, as libevtx renders it (libyal's format
        // notes say Event Viewer treats such a value as empty too).
        if (v->size >= 2 && p[0] == '\n' && p[1] == 0 && (v->size < 4 || rd16(p + 2) == 0))
            break;
        ob_utf16(x, o, p, v->size / 2);
        break;
    case VT_ANSI:
        ob_ansi(x, o, p, v->size);
        break;
    case VT_INT8:
        if (size_is(x, v, 1))
            ob_i64(x, o, (int8_t)p[0]);
        break;
    case VT_UINT8:
        if (size_is(x, v, 1))
            ob_u64(x, o, p[0]);
        break;
    case VT_INT16:
        if (size_is(x, v, 2))
            ob_i64(x, o, (int16_t)rd16(p));
        break;
    case VT_UINT16:
        if (size_is(x, v, 2))
            ob_u64(x, o, rd16(p));
        break;
    case VT_INT32:
        if (size_is(x, v, 4))
            ob_i64(x, o, (int32_t)rd32(p));
        break;
    case VT_UINT32:
        if (size_is(x, v, 4))
            ob_u64(x, o, rd32(p));
        break;
    case VT_INT64:
        if (size_is(x, v, 8))
            ob_i64(x, o, (int64_t)rd64(p));
        break;
    case VT_UINT64:
        if (size_is(x, v, 8))
            ob_u64(x, o, rd64(p));
        break;
    case VT_REAL32:
        if (size_is(x, v, 4)) {
            uint32_t u = rd32(p);
            float f;
            memcpy(&f, &u, 4);
            render_real(x, o, f, true);
        }
        break;
    case VT_REAL64:
        if (size_is(x, v, 8)) {
            uint64_t u = rd64(p);
            double d;
            memcpy(&d, &u, 8);
            render_real(x, o, d, false);
        }
        break;
    case VT_BOOL:
        if (v->size == 4 || v->size == 1 || v->size == 2 || v->size == 8) {
            bool b = false;
            for (size_t i = 0; i < v->size; i++)
                b |= p[i] != 0;
            ob_adds(x, o, b ? "true" : "false");
        } else {
            size_is(x, v, 4);
        }
        break;
    case VT_BINARY:
        ob_hexbytes(x, o, p, v->size);
        break;
    case VT_GUID:
        if (size_is(x, v, 16))
            ob_guid(x, o, p);
        break;
    case VT_SIZET:
        if (v->size == 4)
            ob_hex(x, o, rd32(p));
        else if (size_is(x, v, 8))
            ob_hex(x, o, rd64(p));
        break;
    case VT_FILETIME:
        if (size_is(x, v, 8))
            render_filetime(x, o, rd64(p));
        break;
    case VT_SYSTIME:
        if (size_is(x, v, 16))
            render_systime(x, o, p);
        break;
    case VT_SID:
        render_sid(x, o, v, p);
        break;
    case VT_HEX32:
        if (size_is(x, v, 4))
            ob_hex(x, o, rd32(p));
        break;
    case VT_HEX64:
        if (size_is(x, v, 8))
            ob_hex(x, o, rd64(p));
        break;
    default:
        fail(x, SK_ERR_FORMAT, "unsupported value type 0x%02x", t);
        break;
    }
}

// Element size of a fixed-size array type, or 0.
static size_t array_elem_size(uint8_t t)
{
    switch (t & 0x7f) {
    case VT_INT8:
    case VT_UINT8:
        return 1;
    case VT_INT16:
    case VT_UINT16:
        return 2;
    case VT_INT32:
    case VT_UINT32:
    case VT_REAL32:
    case VT_BOOL:
    case VT_HEX32:
        return 4;
    case VT_INT64:
    case VT_UINT64:
    case VT_REAL64:
    case VT_FILETIME:
    case VT_HEX64:
        return 8;
    case VT_GUID:
    case VT_SYSTIME:
        return 16;
    default:
        return 0;
    }
}

// Iterates over the items of array value v (*cur starts at 0): strings are separated by their
// NUL terminators, other types have a fixed size. False at the end (or after fail()).
static bool array_next(sk_binxml *x, const val *v, size_t *cur, val *item)
{
    uint8_t et = v->type & 0x7f;
    const uint8_t *p = x->c + v->off;
    size_t n = v->size;
    item->type = et;
    if (et == VT_STRING || et == VT_ANSI) {
        size_t unit = et == VT_STRING ? 2 : 1;
        n = n / unit * unit;
        if (*cur >= n)
            return false;
        size_t i = *cur;
        while (i < n && (unit == 2 ? rd16(p + i) : p[i]) != 0)
            i += unit;
        item->off = (uint32_t)(v->off + *cur);
        item->size = (uint16_t)(i - *cur);
        *cur = i + unit;
        return true;
    }
    if (et == VT_SID) { // each SID gives its own size: 8 bytes and 4 per sub-authority
        if (*cur >= n)
            return false;
        size_t sz = n - *cur >= 8 ? 8 + 4 * (size_t)p[*cur + 1] : 0;
        if (sz == 0 || sz > n - *cur) {
            fail(x, SK_ERR_FORMAT, "SID array item at byte %zu is incomplete", *cur);
            return false;
        }
        item->off = (uint32_t)(v->off + *cur);
        item->size = (uint16_t)sz;
        *cur += sz;
        return true;
    }
    size_t es = et == VT_SIZET ? (n % 8 == 0 ? 8 : 4) : array_elem_size(et);
    if (es == 0 || n % es != 0) {
        fail(x, SK_ERR_FORMAT, "unsupported array value type 0x%02x", v->type);
        return false;
    }
    if (*cur >= n)
        return false;
    item->off = (uint32_t)(v->off + *cur);
    item->size = (uint16_t)es;
    *cur += es;
    return true;
}

// Renders value v (any type but BinXml) into o. An array outside an element of its own (in an
// attribute, or next to other content) is rendered as its items joined by ", ".
static void render_value(sk_binxml *x, obuf *o, const val *v)
{
    if (!(v->type & VT_ARRAY)) {
        render_scalar(x, o, v->type, x->c + v->off, v);
        return;
    }
    size_t cur = 0, k = 0;
    val item;
    while (x->st == SK_OK && array_next(x, v, &cur, &item)) {
        if (k++)
            ob_add(x, o, ", ", 2);
        render_scalar(x, o, item.type, x->c + item.off, &item);
    }
}

static void subst_value(sk_binxml *x, const op *o, val v);

// A substitution: value index id of the current instance.
static void substitute(sk_binxml *x, const op *o, size_t vfirst, size_t nvals)
{
    if (o->id >= nvals) {
        // Windows writes a value for every substitution of a template; a missing one means the
        // template and the values do not belong together (a damaged or torn record).
        fail(x, SK_ERR_FORMAT, "substitution %u but only %zu values", (unsigned)o->id, nvals);
        return;
    }
    subst_value(x, o, x->vals[vfirst + o->id]);
}

// Renders substitution value v where op o stands.
static void subst_value(sk_binxml *x, const op *o, val v)
{
    if (v.type == VT_NULL) {
        if (o->k == OP_OSUBST && x->in_tag && x->cur_attr >= 0)
            x->atts[x->cur_attr].null_opt = true;
        return;
    }
    if (v.size == 0)
        return; // an empty value of any type is empty text
    if (!charge(x, v.size))
        return;
    if (v.type == VT_BINXML) {
        if (x->in_tag)
            return; // BinXML cannot be an attribute value; nothing to render
        if (++x->level > SK_MAX_DEPTH) {
            fail(x, SK_ERR_LIMIT, "BinXML values nested deeper than %u", (unsigned)SK_MAX_DEPTH);
            return;
        }
        size_t mark = x->nsops, vmark = x->nvals;
        if (parse(x, v.off, (size_t)v.off + v.size, PM_NESTED, NULL) == SK_OK)
            exec(x, true, mark, x->nsops, 0, 0);
        x->nsops = mark;
        x->nvals = vmark;
        x->level--;
        return;
    }
    bool skip;
    obuf *d = direct(x, &skip);
    if (skip)
        return;
    if (d == &x->abuf && v.type == VT_FILETIME && v.size == 8 && x->depth == 2 &&
        x->sec == SEC_SYSTEM && x->names[x->tag_name].ek == EK_SYS0 + SYS_TIMECREATED &&
        x->names[x->atts[x->cur_attr].name].ak == AK_SYSTEMTIME &&
        x->atts[x->cur_attr].v0 == x->abuf.n) {
        // TimeCreated's SystemTime: straight to the 7 digits Windows prints (past year 9999, the
        // raw ticks: the event then has no time, rather than a wrong one).
        uint64_t ft = rd64(x->c + v.off);
        if (ft < SK_FILETIME_TEXT_END) {
            char t[29];
            sk_time_format(ft, t);
            ob_add(x, d, t, 28);
            x->atts[x->cur_attr].time7 = true;
            return;
        }
    }
    if (d) {
        render_value(x, d, &v);
        return;
    }
    x->vbuf.n = 0;
    render_value(x, &x->vbuf, &v);
    chars(x, ob_str(&x->vbuf), x->vbuf.n);
}

// Text of a UTF-16 literal at chunk offset off (n units).
static void text16(sk_binxml *x, uint32_t off, uint32_t units)
{
    if (!charge(x, 2 * (size_t)units))
        return;
    bool skip;
    obuf *d = direct(x, &skip);
    if (skip)
        return;
    if (d) {
        ob_utf16(x, d, x->c + off, units);
        return;
    }
    x->vbuf.n = 0;
    ob_utf16(x, &x->vbuf, x->c + off, units);
    chars(x, ob_str(&x->vbuf), x->vbuf.n);
}

static void entity(sk_binxml *x, const name_ent *ne)
{
    static const struct {
        const char *name;
        const char *ch;
    } pre[] = { { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" }, { "apos", "'" } };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        if (strcmp(ne->s, pre[i].name) == 0) {
            chars(x, pre[i].ch, 1);
            return;
        }
    }
    // An entity Windows does not define reads as its literal text.
    x->vbuf.n = 0;
    ob_addc(x, &x->vbuf, '&');
    ob_add(x, &x->vbuf, ne->s, ne->len);
    ob_addc(x, &x->vbuf, ';');
    chars(x, ob_str(&x->vbuf), x->vbuf.n);
}

// --------------------------------------------------------------------------------------------
// Running ops

// Whether the attribute values of a start tag opening now matter.
static bool attrs_wanted(const sk_binxml *x)
{
    unsigned d = x->depth + 1;
    if (d == 3)
        return x->sec == SEC_SYSTEM || x->sec == SEC_EVENTDATA || x->sec == SEC_USERDATA;
    return d > 3 && (x->sec == SEC_EVENTDATA || x->sec == SEC_USERDATA);
}

// An element whose only content is substitution o->b (template ops at i): left out when the
// substitution is optional and its value NULL, run once per item when the value is an array
// (once, empty, for an empty array). Returns false when the element is to be run as usual.
static bool simple_element(sk_binxml *x, size_t i, const op *o, size_t vfirst, size_t nvals)
{
    op sub = x->tops[i + o->b];
    if (sub.id >= nvals)
        return false;
    val v = x->vals[vfirst + sub.id];
    if (v.type == VT_NULL)
        return sub.k == OP_OSUBST;
    if (!(v.type & VT_ARRAY) || v.type == (VT_ARRAY | VT_BINXML))
        return false;
    size_t cur = 0;
    val item;
    bool any = false;
    while (x->st == SK_OK && array_next(x, &v, &cur, &item)) {
        any = true;
        x->ov_on = true;
        x->ov_at = i + o->b;
        x->ov_val = item;
        exec(x, false, i, i + o->n + 1, vfirst, nvals);
    }
    if (!any && x->st == SK_OK) {
        x->ov_on = true;
        x->ov_at = i + o->b;
        x->ov_val = v;
        x->ov_val.size = 0;
        exec(x, false, i, i + o->n + 1, vfirst, nvals);
    }
    x->ov_on = false;
    return true;
}

// Runs ops [from, to) of tops (or sops when scratch) with values vals[vfirst .. +nvals).
static void exec(sk_binxml *x, bool scratch, size_t from, size_t to, size_t vfirst, size_t nvals)
{
    for (size_t i = from; i < to && x->st == SK_OK; i++) {
        // By value: running a nested value may compile templates and move both arrays.
        op o = scratch ? x->sops[i] : x->tops[i];
        if (++x->budget > OPS_BUDGET) {
            fail(x, SK_ERR_LIMIT, "BinXML expands to more than %u elements", OPS_BUDGET);
            return;
        }
        switch (o.k) {
        case OP_START:
            if (o.t && !scratch && !(x->ov_on && x->ov_at == i + o.b) &&
                simple_element(x, i, &o, vfirst, nvals)) {
                i += o.n; // the element was left out, or repeated for an array
                break;
            }
            if (x->in_tag) {
                fail(x, SK_ERR_FORMAT, "element start inside a start tag");
                return;
            }
            x->in_tag = true;
            x->tag_name = o.a;
            x->natts = 0;
            x->abuf.n = 0;
            x->cur_attr = -1;
            x->want_attrs = attrs_wanted(x);
            break;
        case OP_ATTR:
            if (!x->in_tag) {
                fail(x, SK_ERR_FORMAT, "attribute outside a start tag");
                return;
            }
            if (x->cur_attr >= 0)
                x->atts[x->cur_attr].v1 = (uint32_t)x->abuf.n;
            if (!x->want_attrs)
                break;
            if (x->natts == x->atts_cap)
                sk_xgrow((void **)&x->atts, &x->atts_cap, x->natts + 1, sizeof(attr));
            x->cur_attr = (long)x->natts;
            x->atts[x->natts].name = o.a;
            x->atts[x->natts].v0 = x->atts[x->natts].v1 = (uint32_t)x->abuf.n;
            x->atts[x->natts].null_opt = false;
            x->atts[x->natts].time7 = false;
            x->natts++;
            break;
        case OP_OPEN_END:
        case OP_EMPTY_END:
            if (!x->in_tag) {
                fail(x, SK_ERR_FORMAT, "end of start tag outside a start tag");
                return;
            }
            if (x->cur_attr >= 0) {
                attr *a = &x->atts[x->cur_attr];
                a->v1 = (uint32_t)x->abuf.n;
                // An optional substitution with no value drops its attribute, unless the
                // attribute got other text.
                if (a->null_opt && a->v1 > a->v0)
                    a->null_opt = false;
            }
            tag_start(x, o.k == OP_EMPTY_END);
            if (o.k == OP_EMPTY_END && x->st == SK_OK)
                tag_end(x);
            break;
        case OP_END:
            if (x->in_tag) {
                fail(x, SK_ERR_FORMAT, "end tag inside a start tag");
                return;
            }
            tag_end(x);
            break;
        case OP_TEXT:
            chars(x, o.s, o.n);
            break;
        case OP_TEXT16:
            text16(x, o.a, o.n);
            break;
        case OP_CDATA16:
            if (x->xml_on && !x->in_tag && want_text(x)) {
                x->vbuf.n = 0;
                ob_utf16(x, &x->vbuf, x->c + o.a, o.n);
                ob_add(x, &x->text, ob_str(&x->vbuf), x->vbuf.n);
                ob_add(x, &x->xml, "<![CDATA[", 9);
                ob_add(x, &x->xml, ob_str(&x->vbuf), x->vbuf.n);
                ob_add(x, &x->xml, "]]>", 3);
            } else {
                text16(x, o.a, o.n);
            }
            break;
        case OP_CHARREF:
            x->vbuf.n = 0;
            ob_cp(x, &x->vbuf, o.id);
            chars(x, ob_str(&x->vbuf), x->vbuf.n);
            break;
        case OP_ENTREF:
            entity(x, &x->names[o.a]);
            break;
        case OP_PI_TARGET:
            if (x->xml_on && want_text(x)) {
                ob_add(x, &x->xml, "<?", 2);
                ob_adds(x, &x->xml, x->names[o.a].s);
                // closed by the data that follows, or here when none does
                size_t nx = i + 1;
                const op *d = nx < to ? (scratch ? &x->sops[nx] : &x->tops[nx]) : NULL;
                if (!d || d->k != OP_PI_DATA16)
                    ob_add(x, &x->xml, "?>", 2);
            }
            break;
        case OP_PI_DATA16:
            if (x->xml_on && want_text(x)) {
                x->vbuf.n = 0;
                ob_utf16(x, &x->vbuf, x->c + o.a, o.n);
                ob_addc(x, &x->xml, ' ');
                ob_add(x, &x->xml, ob_str(&x->vbuf), x->vbuf.n);
                ob_add(x, &x->xml, "?>", 2);
            }
            break;
        case OP_SUBST:
        case OP_OSUBST:
            if (x->ov_on && !scratch && i == x->ov_at) {
                x->ov_on = false;
                subst_value(x, &o, x->ov_val);
            } else {
                substitute(x, &o, vfirst, nvals);
            }
            break;
        case OP_INSTANCE: {
            if (++x->level > SK_MAX_DEPTH) {
                fail(x,
                     SK_ERR_LIMIT,
                     "BinXML values nested deeper than %u",
                     (unsigned)SK_MAX_DEPTH);
                return;
            }
            const tmpl_ent *t = &x->tmpls[o.a];
            exec(x, false, t->first, (size_t)t->first + t->count, o.b, o.n);
            x->level--;
            break;
        }
        default:
            fail(x, SK_ERR_FORMAT, "internal: bad op %u", (unsigned)o.k);
            return;
        }
    }
}

// --------------------------------------------------------------------------------------------
// API

sk_binxml *sk_binxml_new(void)
{
    sk_binxml *x = sk_xcalloc(1, sizeof *x);
    sk_arena_init(&x->arena, 64 * 1024);
    otab_init(&x->ntab);
    otab_init(&x->ttab);
    x->sys = -1;
    return x;
}

void sk_binxml_free(sk_binxml *x)
{
    if (!x)
        return;
    sk_arena_fini(&x->arena);
    free(x->names);
    free(x->ntab.s);
    free(x->tmpls);
    free(x->ttab.s);
    free(x->tops);
    free(x->sops);
    free(x->vals);
    free(x->defs);
    free(x->atts);
    ob_free(&x->abuf);
    ob_free(&x->text);
    ob_free(&x->item);
    ob_free(&x->qual);
    ob_free(&x->xml);
    ob_free(&x->vbuf);
    free(x);
}

void sk_binxml_begin_chunk(sk_binxml *x, const uint8_t *chunk, size_t n)
{
    x->c = chunk;
    x->n = n;
    if (++x->gen == 0) {
        // After 2^32 chunks the generation wraps: clear the tables for real.
        memset(x->ntab.s, 0, x->ntab.size * sizeof(slot));
        memset(x->ttab.s, 0, x->ttab.size * sizeof(slot));
        x->gen = 1;
    }
    x->ntab.used = x->ttab.used = 0;
    sk_arena_reset(&x->arena);
    x->nnames = 0;
    x->ntmpls = 0;
    x->ntops = 0;
}

void sk_binxml_recovering(sk_binxml *x, bool on)
{
    x->recovering = on;
}

sk_status
sk_binxml_record(sk_binxml *x, size_t off, size_t len, sk_event *ev, char *err, size_t errn)
{
    sk_event_reset(ev);
    x->ev = ev;
    x->st = SK_OK;
    x->msg[0] = '\0';
    x->budget = 0;
    x->work = 0;
    x->level = 0;
    x->ntrunc = 0;
    x->trunc_name[0] = '\0';
    x->depth = 0;
    x->leaf = 0;
    x->sec = SEC_NONE;
    x->sys = -1;
    x->saw_root = false;
    x->in_tag = false;
    x->has_qual = false;
    x->item_nested = false;
    x->xml_on = false;
    x->ov_on = false;
    x->text.n = 0;
    x->nsops = 0;
    x->nvals = 0;
    if (off > x->n || len > x->n - off) {
        fail(x, SK_ERR_FORMAT, "record data outside the chunk");
    } else if (parse(x, off, off + len, PM_RECORD, NULL) == SK_OK) {
        exec(x, true, 0, x->nsops, 0, 0);
        if (x->st == SK_OK && x->in_tag)
            fail(x, SK_ERR_FORMAT, "BinXML ends inside a start tag");
        if (x->st == SK_OK && x->depth > 0)
            fail(x,
                 SK_ERR_FORMAT,
                 "BinXML ends inside element <%.64s>",
                 x->names[x->stack[x->depth]].s);
        if (x->st == SK_OK && !x->saw_root)
            fail(x, SK_ERR_FORMAT, "no element found");
    }
    x->ev = NULL;
    if (x->st != SK_OK) {
        if (err && errn)
            snprintf(err, errn, "%s", x->msg);
        sk_event_reset(ev);
        return x->st;
    }
    sk_event_finish(ev);
    return SK_OK;
}

size_t sk_binxml_truncated(const sk_binxml *x, const char **first_name)
{
    if (first_name)
        *first_name = x->ntrunc ? x->trunc_name : NULL;
    return x->ntrunc;
}
