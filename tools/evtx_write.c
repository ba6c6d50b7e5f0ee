// saker-evtx-write: writes Windows XML Event Log (.evtx) files from JSON event descriptions.
//
// It exists so that saker's fixtures and samples are made by the project itself, from descriptions
// committed next to them, and so that the readers are tested on files whose every byte is known.
// The output follows the layout Windows itself writes: a 4 KiB file header, 64 KiB chunks with
// their own string and template tables, and records whose Binary XML is one template instance
// (the template inline on its first use in a chunk, referenced by offset afterwards) followed by
// the typed substitution values.
//
// Usage: saker-evtx-write [options] INPUT.json OUTPUT.evtx      (INPUT may be "-" for stdin)
//
//   --truncate BYTES            cut the finished file to BYTES bytes
//   --corrupt-chunk-crc N       invert the event-records CRC32 of chunk N (0-based); the chunk
//                               header CRC is recomputed, so only the records CRC is wrong
//   --corrupt-record-size ID    make the size field of the record with identifier ID claim
//                               0x10000000 bytes (the trailing size copy and CRCs stay right
//                               for the data as written, so only the size field lies)
//   --dirty-header              set the dirty flag and make the file header describe one chunk
//                               less than the file holds (needs at least 2 chunks)
//
// Input format (UTF-8 JSON; keys starting with "_" are comments and ignored, except inside "data"
// where every key is a field name):
//
//   {"chunk_events": 100,                  optional: at most this many records per chunk
//    "events": [
//      {"provider": "Microsoft-Windows-Sysmon",                       required
//       "provider_guid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",    optional, literal text
//       "event_id": 1,                                                required, 0..65535
//       "qualifiers": 16384,                                          optional
//       "version": 5, "level": 4, "task": 1, "opcode": 0,             default 0, 4, 0, 0
//       "keywords": "0x8000000000000000",                             this is the default
//       "time": "2024-05-01T10:22:03.1234567Z",                       required, UTC, 0-7 digits
//       "record_id": 1,                                               default: 1-based index
//       "process_id": 123, "thread_id": 456,                          default 0
//       "channel": "Microsoft-Windows-Sysmon/Operational",            required
//       "computer": "WS01",                                           required
//       "user_id": "S-1-5-18",                                        optional SID
//       "activity_id": "{...}", "related_activity_id": "{...}",       optional GUIDs
//       "data": {"Image": "C:\\Windows\\System32\\mshta.exe", ...}    <EventData>, in order
//       "data": [["Image", "..."], [null, "unnamed value"], ...]      or ordered pairs
//       "user_data": {"LogFileCleared": {"@xmlns": "http://...",      <UserData> instead
//                                        "SubjectUserName": "bob"}}
//      }, ...]}
//
// Numbers may be JSON integers or strings ("0x1f" or "31"). A data value is a string (UTF-16
// string value), a number or boolean (written as its text), null (an empty string), or a
// typed value {"type": T, "value": V} with T one of string, int8, uint8, int16, uint16, int32,
// uint32, int64, uint64, hexint32, hexint64, real32, real64, bool, guid, filetime, sid, binary
// (V in hex) or null.
// In user_data, an object is an element: "@name" keys are its attributes (literal text), other
// keys its child elements; a string, number, boolean or null is an element's text (a
// substitution), and an array repeats the element. U+0000 cannot be represented in the input.
//
// The System element has Windows' shape and substitution slots: 0 Level, 1 Opcode, 2 Task,
// 3 EventID, 4 Qualifiers, 5 Keywords, 6 TimeCreated, 7 ActivityID, 8 ProcessID, 9 ThreadID,
// 10 EventRecordID, 11 Version, 12 UserID, 13 RelatedActivityID; EventData/UserData values
// follow from 14. Provider, Channel and Computer are literal text in the template, as Windows
// writes them, so one template is made per distinct shape: provider, GUID, event id, channel,
// computer, data names and value types. Output is deterministic: the same input gives the same
// bytes (template GUIDs are hashes of the shape).

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/types.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define PROG               "saker-evtx-write"
#define FILE_HEADER_SIZE   4096u
#define CHUNK_SIZE         65536u
#define CHUNK_HEADER_SIZE  512u
#define STRING_TABLE_OFF   128u
#define TEMPLATE_TABLE_OFF 384u
#define MAX_INPUT_BYTES    (64u * 1024u * 1024u)
#define MAX_DEPTH          32
#define MAX_JSON_DEPTH     64
#define MAX_CHUNKS         65535u
#define LYING_RECORD_SIZE  0x10000000u

// Value types of Binary XML substitutions.
enum {
    VT_NULL = 0x00,
    VT_STRING = 0x01,
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
    VT_FILETIME = 0x11,
    VT_SID = 0x13,
    VT_HEXINT32 = 0x14,
    VT_HEXINT64 = 0x15,
};

// Binary XML tokens.
enum {
    TOK_EOF = 0x00,
    TOK_OPEN_START = 0x01,
    TOK_CLOSE_START = 0x02,
    TOK_CLOSE_EMPTY = 0x03,
    TOK_END_ELEMENT = 0x04,
    TOK_VALUE = 0x05,
    TOK_ATTRIBUTE = 0x06,
    TOK_TEMPLATE_INSTANCE = 0x0c,
    TOK_NORMAL_SUB = 0x0d,
    TOK_OPTIONAL_SUB = 0x0e,
    TOK_FRAGMENT_HEADER = 0x0f,
    TOK_HAS_MORE = 0x40,
};

// System substitution slots, numbered as Windows numbers them.
enum {
    SLOT_LEVEL,
    SLOT_OPCODE,
    SLOT_TASK,
    SLOT_EVENT_ID,
    SLOT_QUALIFIERS,
    SLOT_KEYWORDS,
    SLOT_TIME_CREATED,
    SLOT_ACTIVITY_ID,
    SLOT_PROCESS_ID,
    SLOT_THREAD_ID,
    SLOT_RECORD_ID,
    SLOT_VERSION,
    SLOT_USER_ID,
    SLOT_RELATED_ACTIVITY_ID,
    SLOT_FIRST_DATA,
};

#define EVENT_NS "http://schemas.microsoft.com/win/2004/08/events/event"

// A growable byte buffer; allocation failure is fatal (inputs are capped, so it cannot be
// provoked by input).
typedef struct {
    uint8_t *p;
    size_t n, cap;
} bbuf;

// One substitution value: the type the template declares and the type and bytes actually stored
// (NullType for absent optional values).
typedef struct {
    uint8_t decl_type;
    uint8_t type;
    size_t off;
    size_t size;
} slot;

typedef struct {
    char *name;
    uint32_t off;
} name_ent;

typedef struct {
    char *key;
    uint32_t def_off;
} tmpl_ent;

// The chunk being filled. Records are encoded straight into buf; a record that does not fit is
// rolled back to the state saved before it (string and template tables included).
typedef struct {
    uint8_t *buf;
    uint32_t pos;      // write cursor while a record is encoded
    bool overflow;     // the record being encoded did not fit
    uint32_t free_off; // end of the last committed record
    uint32_t last_rec_off;
    uint64_t first_id, last_id;
    uint32_t nrec;
    name_ent *names;
    size_t nnames, names_cap;
    tmpl_ent *tmpls;
    size_t ntmpls, tmpls_cap;
} chunk;

// An event after validation: what the template needs and the substitution values.
typedef struct {
    size_t index;
    const char *provider, *provider_guid, *channel, *computer;
    uint64_t record_id;
    uint64_t time;
    yajl_val data;      // object or array, or NULL
    yajl_val user_data; // object, or NULL
} event;

typedef struct {
    const char *input_name;
    const char *output_name;
    // options
    bool have_truncate;
    uint64_t truncate_to;
    bool have_corrupt_crc;
    uint64_t corrupt_crc_chunk;
    bool have_corrupt_size;
    uint64_t corrupt_size_record;
    bool corrupt_size_done;
    bool dirty_header;
    // state
    uint64_t chunk_events; // 0: no limit
    FILE *out;
    chunk c;
    uint32_t nchunks;
    uint64_t *chunk_last_ids; // last record identifier of every written chunk
    uint64_t last_id;
    bool any_record;
    bbuf vals;   // substitution value bytes of the current event
    slot *slots; // substitution values of the current event
    size_t nslots, slots_cap;
    bbuf key;         // template shape key of the current event
    bbuf u16;         // scratch UTF-16 conversion
    size_t emit_slot; // next substitution id while a template is emitted
} writer;

// ---------------------------------------------------------------------------------------------
// Diagnostics and memory

static void error_at(const writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void error_at(const writer *w, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: %s: error: ", PROG, w->input_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        abort();
    }
    return q;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static void bb_reserve(bbuf *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->n) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        abort();
    }
    if (b->n + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void bb_put(bbuf *b, const void *d, size_t n)
{
    bb_reserve(b, n);
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void bb_str(bbuf *b, const char *s)
{
    bb_put(b, s, strlen(s));
}

static void bb_ch(bbuf *b, char ch)
{
    bb_put(b, &ch, 1);
}

static void le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// CRC-32 as in RFC 1952 (reflected polynomial 0xEDB88320), computed bitwise: the tool writes a
// few hundred KiB, so a table is not worth it.
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

// ---------------------------------------------------------------------------------------------
// Text conversions

// Appends the UTF-16LE form of a UTF-8 string to out; returns the number of code units, or -1
// for invalid UTF-8.
static long utf8_to_utf16(const char *s, bbuf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    long units = 0;
    while (*p) {
        uint32_t cp;
        int len;
        if (p[0] < 0x80) {
            cp = p[0];
            len = 1;
        } else if ((p[0] & 0xE0) == 0xC0) {
            cp = p[0] & 0x1Fu;
            len = 2;
        } else if ((p[0] & 0xF0) == 0xE0) {
            cp = p[0] & 0x0Fu;
            len = 3;
        } else if ((p[0] & 0xF8) == 0xF0) {
            cp = p[0] & 0x07u;
            len = 4;
        } else {
            return -1;
        }
        for (int i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return -1;
            cp = (cp << 6) | (p[i] & 0x3Fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return -1;
        p += len;
        uint8_t b[4];
        if (cp >= 0x10000) {
            cp -= 0x10000;
            le16(b, (uint16_t)(0xD800 + (cp >> 10)));
            le16(b + 2, (uint16_t)(0xDC00 + (cp & 0x3FF)));
            bb_put(out, b, 4);
            units += 2;
        } else {
            le16(b, (uint16_t)cp);
            bb_put(out, b, 2);
            units += 1;
        }
    }
    return units;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

// Parses a decimal or 0x-prefixed hexadecimal unsigned number that must not exceed max.
static bool parse_unsigned_text(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        int d = hexval((unsigned char)*s);
        if (d < 0 || d >= base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_signed_text(const char *s, int64_t min, int64_t max, int64_t *out)
{
    bool neg = false;
    uint64_t mag;
    if (*s == '-') {
        neg = true;
        s++;
    }
    if (!parse_unsigned_text(s, (uint64_t)INT64_MAX + 1u, &mag))
        return false;
    int64_t v;
    if (neg)
        v = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
    else if (mag > (uint64_t)INT64_MAX)
        return false;
    else
        v = (int64_t)mag;
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// "YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z" (UTC) to FILETIME: 100 ns intervals since 1601-01-01.
static bool parse_time(const char *s, uint64_t *out)
{
    unsigned v[6];
    static const char seps[6] = { '-', '-', 'T', ':', ':', '\0' };
    static const int widths[6] = { 4, 2, 2, 2, 2, 2 };
    const char *p = s;
    for (int f = 0; f < 6; f++) {
        v[f] = 0;
        for (int i = 0; i < widths[f]; i++) {
            if (*p < '0' || *p > '9')
                return false;
            v[f] = v[f] * 10 + (unsigned)(*p++ - '0');
        }
        if (seps[f] != '\0' && *p++ != seps[f])
            return false;
    }
    uint64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (++digits > 7)
                return false;
            frac = frac * 10 + (uint64_t)(*p++ - '0');
        }
        if (digits == 0)
            return false;
        for (; digits < 7; digits++)
            frac *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return false;
    static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    unsigned year = v[0], mon = v[1], day = v[2];
    if (year < 1601 || mon < 1 || mon > 12 || day < 1 || v[3] > 23 || v[4] > 59 || v[5] > 59)
        return false;
    unsigned dim = mdays[mon - 1] + (mon == 2 && is_leap(year) ? 1u : 0u);
    if (day > dim)
        return false;
    uint64_t days = 0;
    for (unsigned y = 1601; y < year; y++)
        days += is_leap(y) ? 366 : 365;
    for (unsigned m = 1; m < mon; m++)
        days += mdays[m - 1] + (m == 2 && is_leap(year) ? 1u : 0u);
    days += day - 1;
    uint64_t secs = days * 86400u + v[3] * 3600u + v[4] * 60u + v[5];
    *out = secs * 10000000u + frac;
    return true;
}

// "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" (braces optional) to the 16-byte little-endian form.
static bool parse_guid(const char *s, uint8_t out[16])
{
    size_t n = strlen(s);
    if (n == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        n = 36;
    }
    if (n != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
        return false;
    uint8_t raw[16];
    int k = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            continue;
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        raw[k++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    // Data1, Data2 and Data3 are stored little-endian, Data4 as is.
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    for (int i = 0; i < 16; i++)
        out[i] = raw[order[i]];
    return true;
}

// "S-R-A-S1-S2..." to the binary SID form; appends to out.
static bool parse_sid(const char *s, bbuf *out)
{
    if ((s[0] != 'S' && s[0] != 's') || s[1] != '-' || strstr(s, "--") != NULL)
        return false;
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s + 2);
    uint64_t parts[17];
    int np = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
        if (np == 17)
            return false;
        uint64_t max = np == 0 ? 255u : np == 1 ? 0xFFFFFFFFFFFFull : 0xFFFFFFFFu;
        if (!parse_unsigned_text(tok, max, &parts[np]))
            return false;
        np++;
    }
    if (np < 2 || s[strlen(s) - 1] == '-')
        return false;
    uint8_t b[8];
    b[0] = (uint8_t)parts[0];
    b[1] = (uint8_t)(np - 2);
    for (int i = 0; i < 6; i++)
        b[2 + i] = (uint8_t)(parts[1] >> (8 * (5 - i)));
    bb_put(out, b, 8);
    for (int i = 2; i < np; i++) {
        le32(b, (uint32_t)parts[i]);
        bb_put(out, b, 4);
    }
    return true;
}

// XML names we accept for user_data elements and attributes: ASCII letters, digits, '_', '-',
// '.', and ':' after the first character, which is a letter or '_'.
static bool valid_xml_name(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.' || *s == ':'))
            return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// JSON access

static yajl_val obj_get(yajl_val obj, const char *key)
{
    if (!YAJL_IS_OBJECT(obj))
        return NULL;
    for (size_t i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0)
            return obj->u.object.values[i];
    }
    return NULL;
}

// Unsigned number from a JSON integer or a decimal/hex string.
static bool
json_unsigned(const writer *w, yajl_val v, uint64_t max, const char *what, uint64_t *out)
{
    const char *text = NULL;
    if (YAJL_IS_NUMBER(v))
        text = YAJL_GET_NUMBER(v);
    else if (YAJL_IS_STRING(v))
        text = YAJL_GET_STRING(v);
    if (text == NULL || !parse_unsigned_text(text, max, out)) {
        error_at(w,
                 "%s: expected an unsigned number up to %" PRIu64 " (decimal or 0x hex)",
                 what,
                 max);
        return false;
    }
    return true;
}

static bool json_opt_unsigned(const writer *w,
                              yajl_val obj,
                              const char *key,
                              uint64_t max,
                              uint64_t dflt,
                              const char *where,
                              uint64_t *out)
{
    yajl_val v = obj_get(obj, key);
    if (v == NULL || YAJL_IS_NULL(v)) {
        *out = dflt;
        return true;
    }
    char what[96];
    snprintf(what, sizeof what, "%s.%s", where, key);
    return json_unsigned(w, v, max, what, out);
}

static bool json_string(const writer *w,
                        yajl_val obj,
                        const char *key,
                        bool required,
                        const char *where,
                        const char **out)
{
    yajl_val v = obj_get(obj, key);
    if (v == NULL || YAJL_IS_NULL(v)) {
        if (required) {
            error_at(w, "%s: missing \"%s\"", where, key);
            return false;
        }
        *out = NULL;
        return true;
    }
    if (!YAJL_IS_STRING(v)) {
        error_at(w, "%s.%s: expected a string", where, key);
        return false;
    }
    if (required && YAJL_GET_STRING(v)[0] == '\0') {
        error_at(w, "%s.%s: must not be empty", where, key);
        return false;
    }
    *out = YAJL_GET_STRING(v);
    return true;
}

// ---------------------------------------------------------------------------------------------
// Substitution values

static slot *slot_add(writer *w, uint8_t decl_type, uint8_t type, const void *data, size_t size)
{
    if (w->nslots == w->slots_cap) {
        w->slots_cap = w->slots_cap ? w->slots_cap * 2 : 64;
        w->slots = xrealloc(w->slots, w->slots_cap * sizeof *w->slots);
    }
    slot *s = &w->slots[w->nslots++];
    s->decl_type = decl_type;
    s->type = type;
    s->off = w->vals.n;
    s->size = size;
    bb_put(&w->vals, data, size);
    return s;
}

static void slot_uint(writer *w, uint8_t type, uint64_t v)
{
    uint8_t b[8];
    size_t n = type == VT_UINT8 || type == VT_INT8     ? 1
               : type == VT_UINT16 || type == VT_INT16 ? 2
               : type == VT_UINT32 || type == VT_INT32 || type == VT_HEXINT32 || type == VT_BOOL
                       ? 4
                       : 8;
    le64(b, v);
    slot_add(w, type, type, b, n);
}

static void slot_null(writer *w, uint8_t decl_type)
{
    slot_add(w, decl_type, VT_NULL, NULL, 0);
}

// A UTF-16 string value (no end-of-string character).
static bool slot_string(writer *w, const char *s, const char *what)
{
    w->u16.n = 0;
    long units = utf8_to_utf16(s, &w->u16);
    if (units < 0) {
        error_at(w, "%s: invalid UTF-8", what);
        return false;
    }
    if (w->u16.n > 65535) {
        error_at(
                w, "%s: value too long (%ld UTF-16 units; at most 32767 fit a value)", what, units);
        return false;
    }
    slot_add(w, VT_STRING, VT_STRING, w->u16.p, w->u16.n);
    return true;
}

static const struct {
    const char *name;
    uint8_t type;
} typed_names[] = {
    { "null", VT_NULL },     { "string", VT_STRING },     { "int8", VT_INT8 },
    { "uint8", VT_UINT8 },   { "int16", VT_INT16 },       { "uint16", VT_UINT16 },
    { "int32", VT_INT32 },   { "uint32", VT_UINT32 },     { "int64", VT_INT64 },
    { "uint64", VT_UINT64 }, { "hexint32", VT_HEXINT32 }, { "hexint64", VT_HEXINT64 },
    { "bool", VT_BOOL },     { "guid", VT_GUID },         { "filetime", VT_FILETIME },
    { "sid", VT_SID },       { "binary", VT_BINARY },     { "real32", VT_REAL32 },
    { "real64", VT_REAL64 },
};

// An empty data value. NullType is only valid behind an optional substitution (libevtx refuses it
// behind a normal one, and an optional one would drop the whole <Data> element), so an empty
// value is an empty string, as Windows writes one.
static void slot_empty(writer *w)
{
    slot_add(w, VT_STRING, VT_STRING, NULL, 0);
}

// A typed value {"type": T, "value": V}.
static bool slot_typed(writer *w, yajl_val v, const char *what)
{
    yajl_val t = obj_get(v, "type"), val = obj_get(v, "value");
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        if (strcmp(k, "type") != 0 && strcmp(k, "value") != 0 && k[0] != '_') {
            error_at(w, "%s: unknown key \"%s\" in a typed value (expected type, value)", what, k);
            return false;
        }
    }
    if (!YAJL_IS_STRING(t)) {
        error_at(w, "%s: a typed value needs \"type\" (string)", what);
        return false;
    }
    const char *tn = YAJL_GET_STRING(t);
    int type = -1;
    for (size_t i = 0; i < sizeof typed_names / sizeof typed_names[0]; i++) {
        if (strcmp(typed_names[i].name, tn) == 0)
            type = typed_names[i].type;
    }
    if (type < 0) {
        error_at(w, "%s: unknown value type \"%s\"", what, tn);
        return false;
    }
    if (type == VT_NULL) {
        slot_empty(w);
        return true;
    }
    const char *text = YAJL_IS_STRING(val)   ? YAJL_GET_STRING(val)
                       : YAJL_IS_NUMBER(val) ? YAJL_GET_NUMBER(val)
                       : YAJL_IS_TRUE(val)   ? "true"
                       : YAJL_IS_FALSE(val)  ? "false"
                                             : NULL;
    if (text == NULL) {
        error_at(w, "%s: a typed value needs \"value\" (string, number or boolean)", what);
        return false;
    }
    uint64_t u;
    int64_t sv;
    switch (type) {
    case VT_STRING:
        return slot_string(w, text, what);
    case VT_UINT8:
    case VT_UINT16:
    case VT_UINT32:
    case VT_UINT64:
    case VT_HEXINT32:
    case VT_HEXINT64: {
        uint64_t max = type == VT_UINT8                             ? UINT8_MAX
                       : type == VT_UINT16                          ? UINT16_MAX
                       : (type == VT_UINT32 || type == VT_HEXINT32) ? UINT32_MAX
                                                                    : UINT64_MAX;
        if (!parse_unsigned_text(text, max, &u)) {
            error_at(w, "%s: \"%s\" is not a valid %s", what, text, tn);
            return false;
        }
        slot_uint(w, (uint8_t)type, u);
        return true;
    }
    case VT_INT8:
    case VT_INT16:
    case VT_INT32:
    case VT_INT64: {
        int64_t min = type == VT_INT8    ? INT8_MIN
                      : type == VT_INT16 ? INT16_MIN
                      : type == VT_INT32 ? INT32_MIN
                                         : INT64_MIN;
        int64_t max = type == VT_INT8    ? INT8_MAX
                      : type == VT_INT16 ? INT16_MAX
                      : type == VT_INT32 ? INT32_MAX
                                         : INT64_MAX;
        if (!parse_signed_text(text, min, max, &sv)) {
            error_at(w, "%s: \"%s\" is not a valid %s", what, text, tn);
            return false;
        }
        slot_uint(w, (uint8_t)type, (uint64_t)sv);
        return true;
    }
    case VT_REAL32:
    case VT_REAL64: {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (end == text || *end || errno == ERANGE) {
            error_at(w, "%s: \"%s\" is not a valid %s", what, text, tn);
            return false;
        }
        uint8_t b[8];
        if (type == VT_REAL32) {
            float f = (float)d;
            uint32_t bits;
            memcpy(&bits, &f, 4);
            le32(b, bits);
            slot_add(w, VT_REAL32, VT_REAL32, b, 4);
        } else {
            uint64_t bits;
            memcpy(&bits, &d, 8);
            le64(b, bits);
            slot_add(w, VT_REAL64, VT_REAL64, b, 8);
        }
        return true;
    }
    case VT_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0)
            u = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0)
            u = 0;
        else {
            error_at(w, "%s: \"%s\" is not a valid bool", what, text);
            return false;
        }
        slot_uint(w, VT_BOOL, u);
        return true;
    case VT_GUID: {
        uint8_t g[16];
        if (!parse_guid(text, g)) {
            error_at(w, "%s: \"%s\" is not a valid GUID", what, text);
            return false;
        }
        slot_add(w, VT_GUID, VT_GUID, g, 16);
        return true;
    }
    case VT_FILETIME:
        if (!parse_time(text, &u)) {
            error_at(
                    w, "%s: \"%s\" is not a valid time (YYYY-MM-DDTHH:MM:SS.fffffffZ)", what, text);
            return false;
        }
        slot_uint(w, VT_FILETIME, u);
        return true;
    case VT_SID: {
        bbuf sid = { 0 };
        bool ok = parse_sid(text, &sid);
        if (ok)
            slot_add(w, VT_SID, VT_SID, sid.p, sid.n);
        else
            error_at(w, "%s: \"%s\" is not a valid SID", what, text);
        free(sid.p);
        return ok;
    }
    case VT_BINARY: {
        size_t n = strlen(text);
        if (n % 2 != 0 || n / 2 > 65535) {
            error_at(w,
                     "%s: binary value must be an even number of hex digits (at most 65535 "
                     "bytes)",
                     what);
            return false;
        }
        bbuf bin = { 0 };
        for (size_t i = 0; i < n; i += 2) {
            int hi = hexval((unsigned char)text[i]), lo = hexval((unsigned char)text[i + 1]);
            if (hi < 0 || lo < 0) {
                error_at(w, "%s: \"%s\" is not valid hex", what, text);
                free(bin.p);
                return false;
            }
            bb_ch(&bin, (char)(hi << 4 | lo));
        }
        slot_add(w, VT_BINARY, VT_BINARY, bin.p, bin.n);
        free(bin.p);
        return true;
    }
    default:
        return false;
    }
}

// Any data value: string, number, boolean, null or typed object.
static bool slot_value(writer *w, yajl_val v, const char *what)
{
    if (v == NULL || YAJL_IS_NULL(v)) {
        slot_empty(w);
        return true;
    }
    if (YAJL_IS_STRING(v))
        return slot_string(w, YAJL_GET_STRING(v), what);
    if (YAJL_IS_NUMBER(v))
        return slot_string(w, YAJL_GET_NUMBER(v), what);
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        return slot_string(w, YAJL_IS_TRUE(v) ? "true" : "false", what);
    if (YAJL_IS_OBJECT(v))
        return slot_typed(w, v, what);
    error_at(w,
             "%s: a value must be a string, number, boolean, null or {\"type\", \"value\"}",
             what);
    return false;
}

// ---------------------------------------------------------------------------------------------
// Event validation: fills the substitution values and the template shape key.

static void key_field(writer *w, const char *s)
{
    bb_str(&w->key, s ? s : "\x02");
    bb_ch(&w->key, '\x1f');
}

static bool collect_user_data(writer *w, const char *name, yajl_val v, int depth, const char *where)
{
    char what[512];
    if (depth > MAX_DEPTH) {
        error_at(w, "%s: user_data nested deeper than %d levels", where, MAX_DEPTH);
        return false;
    }
    if (!valid_xml_name(name)) {
        error_at(w, "%s: \"%s\" is not a usable XML element name", where, name);
        return false;
    }
    bb_ch(&w->key, '<');
    bb_str(&w->key, name);
    if (YAJL_IS_OBJECT(v)) {
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            yajl_val cv = v->u.object.values[i];
            snprintf(what, sizeof what, "%s.%s", where, k);
            if (k[0] == '@') {
                if (!valid_xml_name(k + 1)) {
                    error_at(w, "%s: \"%s\" is not a usable XML attribute name", what, k + 1);
                    return false;
                }
                if (!YAJL_IS_STRING(cv)) {
                    error_at(w, "%s: an attribute value must be a string", what);
                    return false;
                }
                bb_ch(&w->key, ' ');
                bb_str(&w->key, k);
                bb_ch(&w->key, '=');
                bb_str(&w->key, YAJL_GET_STRING(cv));
                bb_ch(&w->key, '\x1f');
            }
        }
        bb_ch(&w->key, '>');
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];
            yajl_val cv = v->u.object.values[i];
            if (k[0] == '@' || k[0] == '_')
                continue;
            snprintf(what, sizeof what, "%s.%s", where, k);
            if (YAJL_IS_ARRAY(cv)) {
                for (size_t j = 0; j < cv->u.array.len; j++) {
                    yajl_val item = cv->u.array.values[j];
                    if (YAJL_IS_ARRAY(item)) {
                        error_at(w, "%s[%zu]: arrays cannot nest", what, j);
                        return false;
                    }
                    if (!collect_user_data(w, k, item, depth + 1, what))
                        return false;
                }
            } else if (!collect_user_data(w, k, cv, depth + 1, what)) {
                return false;
            }
        }
    } else {
        bb_ch(&w->key, '>');
        if (YAJL_IS_ARRAY(v)) {
            error_at(w, "%s: an array is only allowed as the value of a child element", where);
            return false;
        }
        if (!slot_value(w, v, where))
            return false;
        char t[8];
        snprintf(t, sizeof t, "%02x", w->slots[w->nslots - 1].decl_type);
        bb_str(&w->key, t);
    }
    bb_str(&w->key, "</>");
    return true;
}

// An optional GUID system value (ActivityID, RelatedActivityID).
static bool slot_opt_guid(writer *w, const char *text, const char *where, const char *key)
{
    uint8_t g[16];
    if (text == NULL) {
        slot_null(w, VT_GUID);
        return true;
    }
    if (!parse_guid(text, g)) {
        error_at(w, "%s.%s: \"%s\" is not a GUID", where, key, text);
        return false;
    }
    slot_add(w, VT_GUID, VT_GUID, g, 16);
    return true;
}

static const char *const event_keys[] = {
    "provider",  "provider_guid", "event_id", "qualifiers", "version",     "level",
    "task",      "opcode",        "keywords", "time",       "record_id",   "process_id",
    "thread_id", "channel",       "computer", "user_id",    "activity_id", "related_activity_id",
    "data",      "user_data"
};

static bool collect_event(writer *w, yajl_val ev, size_t index, event *e)
{
    char where[64], what[600];
    snprintf(where, sizeof where, "events[%zu]", index);
    memset(e, 0, sizeof *e);
    e->index = index;
    w->vals.n = 0;
    w->nslots = 0;
    w->key.n = 0;

    if (!YAJL_IS_OBJECT(ev)) {
        error_at(w, "%s: expected an object", where);
        return false;
    }
    for (size_t i = 0; i < ev->u.object.len; i++) {
        const char *k = ev->u.object.keys[i];
        bool known = k[0] == '_';
        for (size_t j = 0; j < sizeof event_keys / sizeof event_keys[0] && !known; j++)
            known = strcmp(k, event_keys[j]) == 0;
        if (!known) {
            error_at(w, "%s: unknown key \"%s\"", where, k);
            return false;
        }
    }
    uint64_t event_id, qualifiers = 0, version, level, task, opcode, keywords, pid, tid;
    const char *time_s, *user_id, *activity, *related;
    bool have_qualifiers = obj_get(ev, "qualifiers") && !YAJL_IS_NULL(obj_get(ev, "qualifiers"));
    if (!json_string(w, ev, "provider", true, where, &e->provider) ||
        !json_string(w, ev, "provider_guid", false, where, &e->provider_guid) ||
        !json_string(w, ev, "channel", true, where, &e->channel) ||
        !json_string(w, ev, "computer", true, where, &e->computer) ||
        !json_string(w, ev, "time", true, where, &time_s) ||
        !json_string(w, ev, "user_id", false, where, &user_id) ||
        !json_string(w, ev, "activity_id", false, where, &activity) ||
        !json_string(w, ev, "related_activity_id", false, where, &related))
        return false;
    if (obj_get(ev, "event_id") == NULL || YAJL_IS_NULL(obj_get(ev, "event_id"))) {
        error_at(w, "%s: missing \"event_id\"", where);
        return false;
    }
    if (!json_opt_unsigned(w, ev, "event_id", UINT16_MAX, 0, where, &event_id) ||
        (have_qualifiers &&
         !json_opt_unsigned(w, ev, "qualifiers", UINT16_MAX, 0, where, &qualifiers)) ||
        !json_opt_unsigned(w, ev, "version", UINT8_MAX, 0, where, &version) ||
        !json_opt_unsigned(w, ev, "level", UINT8_MAX, 4, where, &level) ||
        !json_opt_unsigned(w, ev, "task", UINT16_MAX, 0, where, &task) ||
        !json_opt_unsigned(w, ev, "opcode", UINT8_MAX, 0, where, &opcode) ||
        !json_opt_unsigned(
                w, ev, "keywords", UINT64_MAX, 0x8000000000000000ull, where, &keywords) ||
        !json_opt_unsigned(
                w, ev, "record_id", UINT64_MAX, (uint64_t)index + 1, where, &e->record_id) ||
        !json_opt_unsigned(w, ev, "process_id", UINT32_MAX, 0, where, &pid) ||
        !json_opt_unsigned(w, ev, "thread_id", UINT32_MAX, 0, where, &tid))
        return false;
    if (!parse_time(time_s, &e->time)) {
        error_at(w,
                 "%s.time: \"%s\" is not a UTC time like 2024-05-01T10:22:03.1234567Z",
                 where,
                 time_s);
        return false;
    }
    if (e->provider_guid) {
        uint8_t g[16];
        if (!parse_guid(e->provider_guid, g)) {
            error_at(w, "%s.provider_guid: \"%s\" is not a GUID", where, e->provider_guid);
            return false;
        }
    }

    // System values, in slot order.
    slot_uint(w, VT_UINT8, level);
    slot_uint(w, VT_UINT8, opcode);
    slot_uint(w, VT_UINT16, task);
    slot_uint(w, VT_UINT16, event_id);
    if (have_qualifiers)
        slot_uint(w, VT_UINT16, qualifiers);
    else
        slot_null(w, VT_UINT16);
    slot_uint(w, VT_HEXINT64, keywords);
    slot_uint(w, VT_FILETIME, e->time);
    if (!slot_opt_guid(w, activity, where, "activity_id"))
        return false;
    slot_uint(w, VT_UINT32, pid);
    slot_uint(w, VT_UINT32, tid);
    slot_uint(w, VT_UINT64, e->record_id);
    slot_uint(w, VT_UINT8, version);
    if (user_id) {
        bbuf sid = { 0 };
        bool ok = parse_sid(user_id, &sid);
        if (ok)
            slot_add(w, VT_SID, VT_SID, sid.p, sid.n);
        else
            error_at(w, "%s.user_id: \"%s\" is not a SID", where, user_id);
        free(sid.p);
        if (!ok)
            return false;
    } else {
        slot_null(w, VT_SID);
    }
    if (!slot_opt_guid(w, related, where, "related_activity_id"))
        return false;

    // Shape key: everything the template is made of.
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, event_id);
    key_field(w, e->provider);
    key_field(w, e->provider_guid);
    key_field(w, num);
    key_field(w, e->channel);
    key_field(w, e->computer);

    e->data = obj_get(ev, "data");
    e->user_data = obj_get(ev, "user_data");
    if (YAJL_IS_NULL(e->data))
        e->data = NULL;
    if (YAJL_IS_NULL(e->user_data))
        e->user_data = NULL;
    if (e->data && e->user_data) {
        error_at(w, "%s: \"data\" and \"user_data\" cannot both be given", where);
        return false;
    }
    if (e->data && YAJL_IS_OBJECT(e->data)) {
        key_field(w, "D");
        for (size_t i = 0; i < e->data->u.object.len; i++) {
            const char *name = e->data->u.object.keys[i];
            snprintf(what, sizeof what, "%s.data.%s", where, name);
            if (!slot_value(w, e->data->u.object.values[i], what))
                return false;
            bb_str(&w->key, name);
            snprintf(num, sizeof num, "=%02x", w->slots[w->nslots - 1].decl_type);
            key_field(w, num);
        }
    } else if (e->data && YAJL_IS_ARRAY(e->data)) {
        key_field(w, "D");
        for (size_t i = 0; i < e->data->u.array.len; i++) {
            yajl_val pair = e->data->u.array.values[i];
            snprintf(what, sizeof what, "%s.data[%zu]", where, i);
            if (!YAJL_IS_ARRAY(pair) || pair->u.array.len != 2 ||
                !(YAJL_IS_STRING(pair->u.array.values[0]) ||
                  YAJL_IS_NULL(pair->u.array.values[0]))) {
                error_at(w, "%s: expected [name or null, value]", what);
                return false;
            }
            if (!slot_value(w, pair->u.array.values[1], what))
                return false;
            const char *name = YAJL_GET_STRING(pair->u.array.values[0]);
            bb_str(&w->key, name ? "N" : "U");
            bb_str(&w->key, name ? name : "");
            snprintf(num, sizeof num, "=%02x", w->slots[w->nslots - 1].decl_type);
            key_field(w, num);
        }
    } else if (e->data) {
        error_at(w, "%s.data: expected an object or an array of [name, value] pairs", where);
        return false;
    } else if (e->user_data) {
        key_field(w, "U");
        snprintf(what, sizeof what, "%s.user_data", where);
        if (!YAJL_IS_OBJECT(e->user_data) || e->user_data->u.object.len != 1) {
            error_at(w, "%s: expected an object with exactly one key (the root element)", what);
            return false;
        }
        if (!collect_user_data(
                    w, e->user_data->u.object.keys[0], e->user_data->u.object.values[0], 0, what))
            return false;
    } else {
        key_field(w, "-");
    }
    if (w->nslots > 65535) {
        error_at(w, "%s: too many values", where);
        return false;
    }
    bb_ch(&w->key, '\0');
    return true;
}

// ---------------------------------------------------------------------------------------------
// Binary XML encoding into the current chunk

static void put(chunk *c, const void *d, size_t n)
{
    // The last 4 bytes of a chunk are kept for the trailing size copy of the record.
    if (c->overflow || c->pos > CHUNK_SIZE - 4u || n > (size_t)(CHUNK_SIZE - 4u - c->pos)) {
        c->overflow = true;
        return;
    }
    memcpy(c->buf + c->pos, d, n);
    c->pos += (uint32_t)n;
}

static void put8(chunk *c, uint8_t v)
{
    put(c, &v, 1);
}

static void put16(chunk *c, uint16_t v)
{
    uint8_t b[2];
    le16(b, v);
    put(c, b, 2);
}

static void put32(chunk *c, uint32_t v)
{
    uint8_t b[4];
    le32(b, v);
    put(c, b, 4);
}

static void patch32(chunk *c, uint32_t off, uint32_t v)
{
    if (!c->overflow)
        le32(c->buf + off, v);
}

// The 16-bit name hash: h = h * 65599 + unit over the UTF-16 code units, low 16 bits kept.
static uint16_t name_hash(const uint8_t *u16, size_t units)
{
    uint32_t h = 0;
    for (size_t i = 0; i < units; i++)
        h = h * 65599u + (uint32_t)(u16[2 * i] | u16[2 * i + 1] << 8);
    return (uint16_t)h;
}

// A name reference: the offset of the name in the chunk, with the name itself stored right here
// (and entered in the chunk's string table) the first time the chunk uses it.
static bool put_name(writer *w, const char *name)
{
    chunk *c = &w->c;
    for (size_t i = 0; i < c->nnames; i++) {
        if (strcmp(c->names[i].name, name) == 0) {
            put32(c, c->names[i].off);
            return true;
        }
    }
    w->u16.n = 0;
    long units = utf8_to_utf16(name, &w->u16);
    if (units < 0 || units > 65535) {
        error_at(w, "name \"%s\" is not valid UTF-8 or too long", name);
        return false;
    }
    uint32_t here = c->pos + 4;
    uint16_t hash = name_hash(w->u16.p, (size_t)units);
    uint32_t bucket_off = STRING_TABLE_OFF + 4u * (hash % 64u);
    put32(c, here);
    put32(c, rd32(c->buf + bucket_off)); // next name in the same bucket
    put16(c, hash);
    put16(c, (uint16_t)units);
    put(c, w->u16.p, w->u16.n);
    put16(c, 0);
    if (c->overflow)
        return true;
    le32(c->buf + bucket_off, here);
    if (c->nnames == c->names_cap) {
        c->names_cap = c->names_cap ? c->names_cap * 2 : 64;
        c->names = xrealloc(c->names, c->names_cap * sizeof *c->names);
    }
    c->names[c->nnames].name = xstrdup(name);
    c->names[c->nnames].off = here;
    c->nnames++;
    return true;
}

static bool put_text(writer *w, const char *s)
{
    chunk *c = &w->c;
    w->u16.n = 0;
    long units = utf8_to_utf16(s, &w->u16);
    if (units < 0 || units > 65535) {
        error_at(w, "text \"%s\" is not valid UTF-8 or too long", s);
        return false;
    }
    put8(c, TOK_VALUE);
    put8(c, VT_STRING);
    put16(c, (uint16_t)units);
    put(c, w->u16.p, w->u16.n);
    return true;
}

// A substitution of the next value slot.
static void put_sub(writer *w, uint8_t token)
{
    chunk *c = &w->c;
    size_t id = w->emit_slot++;
    put8(c, token);
    put16(c, (uint16_t)id);
    put8(c, id < w->nslots ? w->slots[id].decl_type : VT_NULL);
}

static void put_sys_sub(writer *w, size_t id, uint8_t token)
{
    chunk *c = &w->c;
    put8(c, token);
    put16(c, (uint16_t)id);
    put8(c, w->slots[id].decl_type);
}

typedef struct {
    const char *name;
    const char *text; // literal text, or NULL for a system substitution
    int sub;          // system slot when text is NULL
} attr;

// Element start with its attributes; returns the start offset (for the size patch).
static bool el_open(writer *w, const char *name, const attr *attrs, size_t nattrs, uint32_t *start)
{
    chunk *c = &w->c;
    *start = c->pos;
    put8(c, nattrs ? TOK_OPEN_START | TOK_HAS_MORE : TOK_OPEN_START);
    put16(c, 0xFFFF); // dependency identifier: not set
    put32(c, 0);      // data size, patched by el_end
    if (!put_name(w, name))
        return false;
    if (nattrs) {
        uint32_t list = c->pos;
        put32(c, 0);
        for (size_t i = 0; i < nattrs; i++) {
            put8(c, i + 1 < nattrs ? TOK_ATTRIBUTE | TOK_HAS_MORE : TOK_ATTRIBUTE);
            if (!put_name(w, attrs[i].name))
                return false;
            if (attrs[i].text) {
                if (!put_text(w, attrs[i].text))
                    return false;
            } else {
                put_sys_sub(w, (size_t)attrs[i].sub, TOK_OPTIONAL_SUB);
            }
        }
        patch32(c, list, c->pos - (list + 4));
    }
    return true;
}

static void el_size(chunk *c, uint32_t start)
{
    patch32(c, start + 3, c->pos - (start + 7));
}

static void el_empty(writer *w, uint32_t start)
{
    put8(&w->c, TOK_CLOSE_EMPTY);
    el_size(&w->c, start);
}

static void el_end(writer *w, uint32_t start)
{
    put8(&w->c, TOK_END_ELEMENT);
    el_size(&w->c, start);
}

// <name attrs/>
static bool el_attrs_only(writer *w, const char *name, const attr *attrs, size_t nattrs)
{
    uint32_t s;
    if (!el_open(w, name, attrs, nattrs, &s))
        return false;
    el_empty(w, s);
    return true;
}

// <name attrs>%sub</name> for a system slot
static bool
el_sys(writer *w, const char *name, const attr *attrs, size_t nattrs, int sub, uint8_t token)
{
    uint32_t s;
    if (!el_open(w, name, attrs, nattrs, &s))
        return false;
    put8(&w->c, TOK_CLOSE_START);
    put_sys_sub(w, (size_t)sub, token);
    el_end(w, s);
    return true;
}

// <name>literal</name>
static bool el_literal(writer *w, const char *name, const char *text)
{
    uint32_t s;
    if (!el_open(w, name, NULL, 0, &s))
        return false;
    put8(&w->c, TOK_CLOSE_START);
    if (!put_text(w, text))
        return false;
    el_end(w, s);
    return true;
}

static bool emit_user_data(writer *w, const char *name, yajl_val v)
{
    chunk *c = &w->c;
    uint32_t s;
    if (!YAJL_IS_OBJECT(v)) {
        if (!el_open(w, name, NULL, 0, &s))
            return false;
        put8(c, TOK_CLOSE_START);
        put_sub(w, TOK_NORMAL_SUB);
        el_end(w, s);
        return true;
    }
    attr attrs[64];
    size_t nattrs = 0;
    memset(attrs, 0, sizeof attrs);
    bool children = false;
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        if (k[0] == '@') {
            if (nattrs == sizeof attrs / sizeof attrs[0]) {
                error_at(w, "user_data element <%s> has more than 64 attributes", name);
                return false;
            }
            attrs[nattrs].name = k + 1;
            attrs[nattrs].text = YAJL_GET_STRING(v->u.object.values[i]);
            attrs[nattrs].sub = 0;
            nattrs++;
        } else if (k[0] != '_') {
            yajl_val cv = v->u.object.values[i];
            if (!YAJL_IS_ARRAY(cv) || cv->u.array.len > 0)
                children = true;
        }
    }
    if (!el_open(w, name, attrs, nattrs, &s))
        return false;
    if (!children) {
        el_empty(w, s);
        return true;
    }
    put8(c, TOK_CLOSE_START);
    for (size_t i = 0; i < v->u.object.len; i++) {
        const char *k = v->u.object.keys[i];
        yajl_val cv = v->u.object.values[i];
        if (k[0] == '@' || k[0] == '_')
            continue;
        if (YAJL_IS_ARRAY(cv)) {
            for (size_t j = 0; j < cv->u.array.len; j++) {
                if (!emit_user_data(w, k, cv->u.array.values[j]))
                    return false;
            }
        } else if (!emit_user_data(w, k, cv)) {
            return false;
        }
    }
    el_end(w, s);
    return true;
}

// The template body: <Event> with System and EventData or UserData.
static bool emit_template_body(writer *w, const event *e)
{
    chunk *c = &w->c;
    uint32_t ev_s, sys_s, data_s;
    attr a[2];

    a[0] = (attr){ "xmlns", EVENT_NS, 0 };
    if (!el_open(w, "Event", a, 1, &ev_s))
        return false;
    put8(c, TOK_CLOSE_START);
    if (!el_open(w, "System", NULL, 0, &sys_s))
        return false;
    put8(c, TOK_CLOSE_START);

    a[0] = (attr){ "Name", e->provider, 0 };
    a[1] = (attr){ "Guid", e->provider_guid, 0 };
    if (!el_attrs_only(w, "Provider", a, e->provider_guid ? 2 : 1))
        return false;
    a[0] = (attr){ "Qualifiers", NULL, SLOT_QUALIFIERS };
    if (!el_sys(w, "EventID", a, 1, SLOT_EVENT_ID, TOK_NORMAL_SUB) ||
        !el_sys(w, "Version", NULL, 0, SLOT_VERSION, TOK_OPTIONAL_SUB) ||
        !el_sys(w, "Level", NULL, 0, SLOT_LEVEL, TOK_OPTIONAL_SUB) ||
        !el_sys(w, "Task", NULL, 0, SLOT_TASK, TOK_OPTIONAL_SUB) ||
        !el_sys(w, "Opcode", NULL, 0, SLOT_OPCODE, TOK_OPTIONAL_SUB) ||
        !el_sys(w, "Keywords", NULL, 0, SLOT_KEYWORDS, TOK_OPTIONAL_SUB))
        return false;
    a[0] = (attr){ "SystemTime", NULL, SLOT_TIME_CREATED };
    if (!el_attrs_only(w, "TimeCreated", a, 1) ||
        !el_sys(w, "EventRecordID", NULL, 0, SLOT_RECORD_ID, TOK_OPTIONAL_SUB))
        return false;
    a[0] = (attr){ "ActivityID", NULL, SLOT_ACTIVITY_ID };
    a[1] = (attr){ "RelatedActivityID", NULL, SLOT_RELATED_ACTIVITY_ID };
    if (!el_attrs_only(w, "Correlation", a, 2))
        return false;
    a[0] = (attr){ "ProcessID", NULL, SLOT_PROCESS_ID };
    a[1] = (attr){ "ThreadID", NULL, SLOT_THREAD_ID };
    if (!el_attrs_only(w, "Execution", a, 2) || !el_literal(w, "Channel", e->channel) ||
        !el_literal(w, "Computer", e->computer))
        return false;
    a[0] = (attr){ "UserID", NULL, SLOT_USER_ID };
    if (!el_attrs_only(w, "Security", a, 1))
        return false;
    el_end(w, sys_s);

    w->emit_slot = SLOT_FIRST_DATA;
    if (e->data) {
        bool object = YAJL_IS_OBJECT(e->data);
        size_t n = object ? e->data->u.object.len : e->data->u.array.len;
        if (!el_open(w, "EventData", NULL, 0, &data_s))
            return false;
        if (n == 0) {
            el_empty(w, data_s);
        } else {
            put8(c, TOK_CLOSE_START);
            for (size_t i = 0; i < n; i++) {
                const char *name =
                        object ? e->data->u.object.keys[i]
                               : YAJL_GET_STRING(e->data->u.array.values[i]->u.array.values[0]);
                uint32_t d;
                a[0] = (attr){ "Name", name, 0 };
                if (!el_open(w, "Data", a, name ? 1 : 0, &d))
                    return false;
                put8(c, TOK_CLOSE_START);
                put_sub(w, TOK_NORMAL_SUB);
                el_end(w, d);
            }
            el_end(w, data_s);
        }
    } else if (e->user_data) {
        if (!el_open(w, "UserData", NULL, 0, &data_s))
            return false;
        put8(c, TOK_CLOSE_START);
        if (!emit_user_data(w, e->user_data->u.object.keys[0], e->user_data->u.object.values[0]))
            return false;
        el_end(w, data_s);
    }
    el_end(w, ev_s);
    return true;
}

// 128-bit FNV-1a style hash of the shape key, used as the template GUID.
static void key_guid(const char *key, uint8_t out[16])
{
    uint64_t h1 = 0xcbf29ce484222325ull, h2 = 0x84222325cbf29ce4ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h1 = (h1 ^ *p) * 0x100000001b3ull;
        h2 = (h2 ^ (uint64_t)(*p + 0x5b)) * 0x100000001b3ull;
    }
    le64(out, h1);
    le64(out + 8, h2);
}

// Encodes one record at the chunk's free offset. Returns false on an input error; sets
// c->overflow (and returns true) when the record does not fit.
static bool encode_record(writer *w, const event *e)
{
    chunk *c = &w->c;
    uint32_t rec = c->free_off;
    uint8_t b[8];
    c->pos = rec;
    c->overflow = false;

    put(c, "**\0\0", 4);
    put32(c, 0); // size, patched below
    le64(b, e->record_id);
    put(c, b, 8);
    le64(b, e->time); // written time: the event's own time keeps the output reproducible
    put(c, b, 8);

    // Fragment header, then the template instance.
    put8(c, TOK_FRAGMENT_HEADER);
    put8(c, 1);
    put8(c, 1);
    put8(c, 0);

    const char *key = (const char *)w->key.p;
    uint8_t guid[16];
    key_guid(key, guid);
    uint32_t tid = rd32(guid);
    put8(c, TOK_TEMPLATE_INSTANCE);
    put8(c, 1);
    put32(c, tid);
    const tmpl_ent *found = NULL;
    for (size_t i = 0; i < c->ntmpls; i++) {
        if (strcmp(c->tmpls[i].key, key) == 0)
            found = &c->tmpls[i];
    }
    if (found) {
        put32(c, found->def_off);
    } else {
        uint32_t def = c->pos + 4;
        uint32_t bucket_off = TEMPLATE_TABLE_OFF + 4u * (tid % 32u);
        put32(c, def);
        put32(c, rd32(c->buf + bucket_off)); // next template in the same bucket
        put(c, guid, 16);
        uint32_t size_at = c->pos;
        put32(c, 0);
        uint32_t data_start = c->pos;
        put8(c, TOK_FRAGMENT_HEADER);
        put8(c, 1);
        put8(c, 1);
        put8(c, 0);
        if (!emit_template_body(w, e))
            return false;
        put8(c, TOK_EOF);
        patch32(c, size_at, c->pos - data_start);
        if (!c->overflow) {
            le32(c->buf + bucket_off, def);
            if (c->ntmpls == c->tmpls_cap) {
                c->tmpls_cap = c->tmpls_cap ? c->tmpls_cap * 2 : 16;
                c->tmpls = xrealloc(c->tmpls, c->tmpls_cap * sizeof *c->tmpls);
            }
            c->tmpls[c->ntmpls].key = xstrdup(key);
            c->tmpls[c->ntmpls].def_off = def;
            c->ntmpls++;
        }
    }

    // Template instance data: value count, descriptors, values.
    put32(c, (uint32_t)w->nslots);
    for (size_t i = 0; i < w->nslots; i++) {
        put16(c, (uint16_t)w->slots[i].size);
        put8(c, w->slots[i].type);
        put8(c, 0);
    }
    for (size_t i = 0; i < w->nslots; i++)
        put(c, w->vals.p + w->slots[i].off, w->slots[i].size);
    put8(c, TOK_EOF); // end of the record's document
    if (c->overflow)
        return true;

    uint32_t size = c->pos + 4 - rec;
    le32(c->buf + c->pos, size);
    c->pos += 4;
    le32(c->buf + rec + 4, size);
    if (w->have_corrupt_size && !w->corrupt_size_done && e->record_id == w->corrupt_size_record) {
        le32(c->buf + rec + 4, LYING_RECORD_SIZE);
        w->corrupt_size_done = true;
    }
    if (c->nrec == 0)
        c->first_id = e->record_id;
    c->last_id = e->record_id;
    c->nrec++;
    c->last_rec_off = rec;
    c->free_off = c->pos;
    return true;
}

// ---------------------------------------------------------------------------------------------
// Chunks and the file

static void chunk_reset(chunk *c)
{
    memset(c->buf, 0, CHUNK_SIZE);
    for (size_t i = 0; i < c->nnames; i++)
        free(c->names[i].name);
    for (size_t i = 0; i < c->ntmpls; i++)
        free(c->tmpls[i].key);
    c->nnames = c->ntmpls = 0;
    c->pos = c->free_off = CHUNK_HEADER_SIZE;
    c->last_rec_off = 0;
    c->nrec = 0;
    c->first_id = c->last_id = 0;
    c->overflow = false;
}

static void chunk_header_crc(uint8_t *buf)
{
    uint32_t crc = crc32_update(0, buf, 120);
    crc = crc32_update(crc, buf + 128, CHUNK_HEADER_SIZE - 128);
    le32(buf + 124, crc);
}

static bool chunk_flush(writer *w)
{
    chunk *c = &w->c;
    uint8_t *h = c->buf;
    if (c->nrec == 0)
        return true;
    if (w->nchunks == MAX_CHUNKS) {
        error_at(w, "more than %u chunks", MAX_CHUNKS);
        return false;
    }
    memcpy(h, "ElfChnk", 8);
    le64(h + 8, c->first_id);
    le64(h + 16, c->last_id);
    le64(h + 24, c->first_id);
    le64(h + 32, c->last_id);
    le32(h + 40, 128);
    le32(h + 44, c->last_rec_off);
    le32(h + 48, c->free_off);
    uint32_t data_crc = crc32_update(0, h + CHUNK_HEADER_SIZE, c->free_off - CHUNK_HEADER_SIZE);
    if (w->have_corrupt_crc && w->corrupt_crc_chunk == w->nchunks)
        data_crc = ~data_crc;
    le32(h + 52, data_crc);
    chunk_header_crc(h);
    if (fwrite(h, 1, CHUNK_SIZE, w->out) != CHUNK_SIZE) {
        fprintf(stderr, "%s: %s: error: cannot write: %s\n", PROG, w->output_name, strerror(errno));
        return false;
    }
    w->chunk_last_ids = xrealloc(w->chunk_last_ids, (w->nchunks + 1) * sizeof(uint64_t));
    w->chunk_last_ids[w->nchunks++] = c->last_id;
    chunk_reset(c);
    return true;
}

// Adds one event, starting a new chunk when it does not fit in the current one.
static bool add_event(writer *w, const event *e)
{
    chunk *c = &w->c;
    if (w->chunk_events && c->nrec >= w->chunk_events && !chunk_flush(w))
        return false;
    for (int attempt = 0; attempt < 2; attempt++) {
        // Everything a record can change outside its own bytes, saved for the roll-back.
        uint8_t tables[CHUNK_HEADER_SIZE - STRING_TABLE_OFF];
        size_t nnames = c->nnames, ntmpls = c->ntmpls;
        memcpy(tables, c->buf + STRING_TABLE_OFF, sizeof tables);
        if (!encode_record(w, e))
            return false;
        if (!c->overflow) {
            w->last_id = e->record_id;
            w->any_record = true;
            return true;
        }
        memcpy(c->buf + STRING_TABLE_OFF, tables, sizeof tables);
        for (size_t i = nnames; i < c->nnames; i++)
            free(c->names[i].name);
        for (size_t i = ntmpls; i < c->ntmpls; i++)
            free(c->tmpls[i].key);
        c->nnames = nnames;
        c->ntmpls = ntmpls;
        memset(c->buf + c->free_off, 0, CHUNK_SIZE - c->free_off);
        c->overflow = false;
        if (c->nrec == 0)
            break;
        if (!chunk_flush(w))
            return false;
    }
    error_at(w, "events[%zu]: the record does not fit in an empty 64 KiB chunk", e->index);
    return false;
}

static bool write_file_header(writer *w)
{
    uint8_t h[FILE_HEADER_SIZE];
    memset(h, 0, sizeof h);
    uint64_t nchunks = w->nchunks, next_id = w->any_record ? w->last_id + 1 : 1;
    uint32_t flags = 0;
    if (w->dirty_header) {
        // The header as it was before the last chunk was added, never flushed since.
        nchunks--;
        next_id = w->chunk_last_ids[nchunks - 1] + 1;
        flags |= 1;
    }
    memcpy(h, "ElfFile", 8);
    le64(h + 8, 0);
    le64(h + 16, nchunks ? nchunks - 1 : 0);
    le64(h + 24, next_id);
    le32(h + 32, 128);
    le16(h + 36, 1);
    le16(h + 38, 3);
    le16(h + 40, (uint16_t)FILE_HEADER_SIZE);
    le16(h + 42, (uint16_t)nchunks);
    le32(h + 120, flags);
    le32(h + 124, crc32_update(0, h, 120));
    if (fseek(w->out, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof h, w->out) != sizeof h) {
        fprintf(stderr, "%s: %s: error: cannot write: %s\n", PROG, w->output_name, strerror(errno));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------------------------------------
// Driver

static char *read_input(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: error: cannot open: %s\n", PROG, path, strerror(errno));
        return NULL;
    }
    bbuf b = { 0 };
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (b.n + n > MAX_INPUT_BYTES) {
            fprintf(stderr,
                    "%s: %s: error: input larger than %u MiB\n",
                    PROG,
                    path,
                    MAX_INPUT_BYTES >> 20);
            free(b.p);
            if (f != stdin)
                fclose(f);
            return NULL;
        }
        bb_put(&b, tmp, n);
    }
    bool bad = ferror(f) != 0;
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "%s: %s: error: cannot read\n", PROG, path);
        free(b.p);
        return NULL;
    }
    if (b.n > 0 && memchr(b.p, '\0', b.n) != NULL) {
        fprintf(stderr, "%s: %s: error: input contains a NUL byte\n", PROG, path);
        free(b.p);
        return NULL;
    }
    bb_ch(&b, '\0');
    return (char *)b.p;
}

// yajl builds (and frees) its tree recursively, so the nesting depth is checked on the text first.
static bool json_depth_ok(const char *p, int max)
{
    int depth = 0;
    bool in_string = false;
    for (; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                in_string = false;
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '[' || *p == '{') {
            if (++depth > max)
                return false;
        } else if (*p == ']' || *p == '}') {
            depth--;
        }
    }
    return true;
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: %s [options] INPUT.json OUTPUT.evtx\n"
            "Writes a Windows XML Event Log file from JSON event descriptions\n"
            "(format: see tools/README.md). INPUT may be '-' for stdin.\n"
            "\n"
            "Damage for reader tests (applied to the finished file):\n"
            "  --truncate BYTES          cut the file to BYTES bytes\n"
            "  --corrupt-chunk-crc N     invert the records CRC32 of chunk N (0-based)\n"
            "  --corrupt-record-size ID  make record ID's size field claim 0x%x bytes\n"
            "  --dirty-header            dirty flag, and a header chunk count one too small\n"
            "  -h, --help                show this help\n",
            PROG,
            LYING_RECORD_SIZE);
}

static bool option_number(const char *opt, const char *val, uint64_t *out)
{
    if (val == NULL || !parse_unsigned_text(val, UINT64_MAX, out)) {
        fprintf(stderr, "%s: error: %s needs a number\n", PROG, opt);
        return false;
    }
    return true;
}

static void writer_free(writer *w)
{
    if (w->c.buf) {
        chunk_reset(&w->c);
        free(w->c.buf);
    }
    free(w->c.names);
    free(w->c.tmpls);
    free(w->chunk_last_ids);
    free(w->vals.p);
    free(w->slots);
    free(w->key.p);
    free(w->u16.p);
}

static bool run(writer *w, yajl_val root)
{
    if (!YAJL_IS_OBJECT(root)) {
        error_at(w, "the top level must be an object with \"events\"");
        return false;
    }
    for (size_t i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        if (strcmp(k, "events") != 0 && strcmp(k, "chunk_events") != 0 && k[0] != '_') {
            error_at(w, "unknown top-level key \"%s\" (expected events, chunk_events)", k);
            return false;
        }
    }
    yajl_val events = obj_get(root, "events");
    if (!YAJL_IS_ARRAY(events)) {
        error_at(w, "\"events\" must be an array");
        return false;
    }
    if (!json_opt_unsigned(w, root, "chunk_events", UINT32_MAX, 0, "top level", &w->chunk_events))
        return false;

    static const uint8_t zero_header[FILE_HEADER_SIZE];
    if (fwrite(zero_header, 1, sizeof zero_header, w->out) != sizeof zero_header) {
        fprintf(stderr, "%s: %s: error: cannot write: %s\n", PROG, w->output_name, strerror(errno));
        return false;
    }
    w->c.buf = xmalloc(CHUNK_SIZE);
    chunk_reset(&w->c);
    for (size_t i = 0; i < events->u.array.len; i++) {
        event e;
        if (!collect_event(w, events->u.array.values[i], i, &e) || !add_event(w, &e))
            return false;
    }
    if (!chunk_flush(w))
        return false;

    if (w->have_corrupt_crc && w->corrupt_crc_chunk >= w->nchunks) {
        error_at(w,
                 "--corrupt-chunk-crc %" PRIu64 ": the file has only %u chunk(s)",
                 w->corrupt_crc_chunk,
                 w->nchunks);
        return false;
    }
    if (w->have_corrupt_size && !w->corrupt_size_done) {
        error_at(w,
                 "--corrupt-record-size %" PRIu64 ": no record has that identifier",
                 w->corrupt_size_record);
        return false;
    }
    if (w->dirty_header && w->nchunks < 2) {
        error_at(w, "--dirty-header needs at least 2 chunks (set \"chunk_events\")");
        return false;
    }
    if (!write_file_header(w))
        return false;
    if (fflush(w->out) != 0) {
        fprintf(stderr, "%s: %s: error: cannot write: %s\n", PROG, w->output_name, strerror(errno));
        return false;
    }
    if (w->have_truncate) {
        uint64_t size = FILE_HEADER_SIZE + (uint64_t)w->nchunks * CHUNK_SIZE;
        if (w->truncate_to > size) {
            error_at(w,
                     "--truncate %" PRIu64 ": the file is only %" PRIu64 " bytes",
                     w->truncate_to,
                     size);
            return false;
        }
        if (ftruncate(fileno(w->out), (off_t)w->truncate_to) != 0) {
            fprintf(stderr,
                    "%s: %s: error: cannot truncate: %s\n",
                    PROG,
                    w->output_name,
                    strerror(errno));
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    writer w;
    memset(&w, 0, sizeof w);
    const char *pos[2] = { NULL, NULL };
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--truncate") == 0) {
            if (!option_number(a, next, &w.truncate_to))
                return 2;
            w.have_truncate = true;
            i++;
        } else if (strcmp(a, "--corrupt-chunk-crc") == 0) {
            if (!option_number(a, next, &w.corrupt_crc_chunk))
                return 2;
            w.have_corrupt_crc = true;
            i++;
        } else if (strcmp(a, "--corrupt-record-size") == 0) {
            if (!option_number(a, next, &w.corrupt_size_record))
                return 2;
            w.have_corrupt_size = true;
            i++;
        } else if (strcmp(a, "--dirty-header") == 0) {
            w.dirty_header = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "%s: error: unknown option '%s' (see --help)\n", PROG, a);
            return 2;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "%s: error: too many arguments (see --help)\n", PROG);
            return 2;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    w.input_name = pos[0];
    w.output_name = pos[1];

    char *text = read_input(w.input_name);
    if (text == NULL)
        return 1;
    if (!json_depth_ok(text, MAX_JSON_DEPTH)) {
        error_at(&w, "JSON nested deeper than %d levels", MAX_JSON_DEPTH);
        free(text);
        return 1;
    }
    char errbuf[1024];
    errbuf[0] = '\0';
    yajl_val root = yajl_tree_parse(text, errbuf, sizeof errbuf);
    free(text);
    if (root == NULL) {
        // yajl's message spans lines; keep the first one.
        errbuf[strcspn(errbuf, "\n")] = '\0';
        error_at(&w, "invalid JSON: %s", errbuf[0] ? errbuf : "parse error");
        return 1;
    }
    w.out = fopen(w.output_name, "w+b");
    if (w.out == NULL) {
        fprintf(stderr, "%s: %s: error: cannot create: %s\n", PROG, w.output_name, strerror(errno));
        yajl_tree_free(root);
        return 1;
    }
    bool ok = run(&w, root);
    if (fclose(w.out) != 0 && ok) {
        fprintf(stderr, "%s: %s: error: cannot write: %s\n", PROG, w.output_name, strerror(errno));
        ok = false;
    }
    if (!ok)
        remove(w.output_name);
    yajl_tree_free(root);
    writer_free(&w);
    return ok ? 0 : 1;
}
