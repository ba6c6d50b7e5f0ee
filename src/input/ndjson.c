// The NDJSON reader: Winlogbeat (and other) JSON documents, one object per line, read in fread
// chunks with memchr('\n') and a bounded carry-over buffer for lines that straddle two chunks. An
// over-long line is reported and then discarded up to its newline, never buffered whole.
//
// Two more layouts are accepted, detected from the first bytes:
// - a JSON array document ("[ {...}, {...} ]", often pretty-printed over many lines): a small
//   splitter tracks strings and bracket depth to cut the array into its elements, and each element
//   is then handled exactly like a line (its position is the line and column where it starts);
// - pretty-printed objects one after another (evtx_dump output): recognised when the first
//   non-blank line is a lone "{", and cut by the same splitter.
//
// Each record is parsed into a list of leaves (dotted path, text value) whose strings go straight
// into the event arena: first by json_scan.c, which reads well-formed documents fast, and, when it
// gives up, by yajl's callback (SAX) API with the same callbacks, which decides and words the
// error (json_scan.h). Then event/fieldmap.c turns the leaves into the event (canonical names,
// hidden raw paths). A top-level "EventData" string that holds a JSON object (Azure's WindowsEvent
// table) is parsed in turn, its keys becoming event data.
//
// A bad record is reported (file:line:col, as GCC does), counted in stats.lines_skipped and
// skipped; reading goes on with the next one. Only a read error ends the stream early.
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/mem.h"
#include "core/utf.h"
#include "event/fieldmap.h"
#include "json_scan.h"
#include "reader.h"
#include "reader_int.h"

// A line that straddles two chunks is copied whole into the carry-over buffer, and a Winlogbeat
// dump's lines are kilobytes long (tens for PowerShell script blocks): at 64 KiB one line in
// every chunk was copied, a fifth of the bytes of a 3,000-line dump; at 256 KiB a twentieth.
#define DEFAULT_CHUNK (256u * 1024u)
// Longest dotted field name kept; a longer one makes the record unusable (it is skipped).
#define MAX_PATH_BYTES 4096u
// Paths interned per reader (SK_LEAF_INTERNED): at most SK_MAX_INTERNED_PATHS, of
// MAX_INTERNED_BYTES in all, each at most MAX_INTERNED_PATH long. Later new paths are copied into
// each event.
#define MAX_INTERNED_BYTES (256u * 1024u)
#define MAX_INTERNED_PATH  256u

#define NO_PATH UINT32_MAX

// Paths met out of their last order (a dump that went through Elasticsearch, or Winlogbeat 6's,
// has its keys in another order in each document) are found in a direct-mapped cache keyed by a
// few words of the path before the hash table: hashing the whole path and probing the table was
// most of the cost of such a leaf.
#define PATH_CACHE_LOG2 10u
#define PATH_CACHE      (1u << PATH_CACHE_LOG2)

// An interned path; its id is its index in r->paths.
typedef struct path_ref {
    const char *path;
    uint32_t len;
    uint32_t hash; // sk_fieldmap_hash
    uint32_t next; // the path that followed it in the last document where it was not the last
} path_ref;

enum mode {
    M_START,  // before the first significant byte: BOM, blank lines, then '[' or anything else
    M_LINE,   // one JSON value per line
    M_ARRAY,  // inside a top-level JSON array: elements cut by the splitter
    M_CONCAT, // pretty-printed values one after another: cut by the splitter
    M_DONE,
};

typedef struct frame {
    uint32_t base; // path length of the container itself
    bool is_map;
} frame;

// yajl callback state for one document.
typedef struct parse_state {
    struct ndjson_reader *r;
    uint32_t leaf_flags; // added to every leaf (SK_LEAF_SYNTHETIC for expanded strings)
    uint32_t path_len;
    unsigned depth;     // open containers
    unsigned map_depth; // open objects
    const char *snap;   // the current path, interned or copied into the event arena (shared by
                        // array items)
    uint32_t snap_len;
    uint32_t snap_id; // interned path id, NO_PATH: a copy
    // The record's text while the fast scanner reads it (in_len 0: none): a string or number whose
    // text lies in it is not copied (see add_leaf); nor is a string it decoded into keep (NULL:
    // copied).
    uintptr_t in_lo;
    size_t in_len;
    sk_json_scratch *keep;
    bool dirty; // path changed since snap was taken
    bool root_seen;
    bool not_object; // the root value is not an object (the rest is only validated)
    bool too_deep;
    bool name_too_long;
    bool too_many;  // more than SK_MAX_FIELDS leaves; the rest were dropped
    bool truncated; // a value was cut to SK_MAX_VALUE_BYTES
    frame stack[SK_MAX_DEPTH + 1];
    char path[MAX_PATH_BYTES + 1];
} parse_state;

typedef struct ndjson_reader {
    sk_reader base;
    FILE *fp;
    char *prefix; // bytes already read by format sniffing, served first
    size_t prefix_len;
    size_t prefix_pos;
    char *chunk;
    size_t chunk_size;
    const char *data; // current chunk (prefix or chunk buffer)
    size_t pos;
    size_t len;
    bool eof;
    bool fp_at_end;      // fread met the end of fp: no more to read
    uint64_t data_off;   // file offset of data[0]
    uint64_t next_off;   // file offset of the next byte fill reads
    uint64_t range_end;  // a part (ndjson_end): stop before a line that starts here; 0: none
    uint64_t line_start; // file offset where the current line starts (parts only)
    bool skip_partial;   // a part after the first: its first bytes end a line of the part before
    sk_buf carry;  // the current record when it straddles chunks (bounded by SK_MAX_LINE_BYTES)
    uint64_t line; // newlines consumed so far
    uint64_t col;  // bytes consumed since the last newline (splitter and start modes)
    enum mode mode;
    // M_START
    unsigned bom_have;
    bool bom_done;
    // M_LINE
    bool discard;     // skipping the rest of an over-long line
    bool seen_line;   // a non-blank line was handled
    uint64_t rec_col; // column where the current line's record starts (after an array: not 1)
    // M_ARRAY / M_CONCAT splitter
    bool in_elem;
    bool in_str;
    bool esc;
    bool scalar;    // the element is a bare scalar: it ends before whitespace or punctuation
    bool first;     // next byte is the element's first
    bool elem_long; // over-long element being skipped
    uint32_t edepth;
    // For telling a torn element from the next one: the last byte outside strings that is not
    // blank (a string's end counts as '"'), and per depth up to 64 whether the container there
    // is an object (bit d - 1 for depth d).
    unsigned char prev_sig;
    uint64_t obj_bits;
    uint64_t elem_line;
    uint64_t elem_col;
    size_t seg; // where the element's bytes in the current chunk start
    // parsing
    sk_event ev;
    sk_fieldmap *fm;
    sk_json_leaf *leaves;
    size_t nleaves;
    size_t leaves_cap;
    parse_state ps;
    sk_buf fix;              // a name or value rebuilt as UTF-8 (utf8_fix)
    sk_buf line_fix;         // a record with invalid UTF-8 rebuilt (parse_doc)
    sk_buf ytext;            // a record for yajl with unpaired surrogate escapes as \ufffd
    sk_json_scratch scratch; // strings decoded by the fast scanner: a record's values stay there
    sk_json_scratch sub_scratch; // and those of an expanded EventData string, which are copied
    char **nuls;                 // where the values left in the record's text end (add_leaf)
    size_t nnuls, nuls_cap;
    // Interned paths (SK_LEAF_INTERNED), by id, and a hash table of their ids (open addressing,
    // at most half full). Documents of one dump mostly repeat the previous one's paths in the
    // same order, so the path that followed last time is tried before the hash table.
    path_ref *paths;
    size_t npaths, paths_cap;
    uint32_t *path_slots; // ids, NO_PATH: free
    size_t slots_cap;     // power of two, or 0
    size_t path_bytes;
    uint32_t first_path;  // the first path of the last document
    uint32_t *path_cache; // [PATH_CACHE] ids by path_cache_slot, NO_PATH: none
    sk_arena path_text;
} ndjson_reader;

// ------------------------------------------------------------------------------------------------
// yajl callbacks: build the leaf list

static void path_changed(parse_state *ps)
{
    ps->dirty = true;
}

static int open_container(parse_state *ps, bool is_map)
{
    if (!ps->root_seen) {
        ps->root_seen = true;
        ps->not_object = !is_map;
    }
    if (ps->depth >= SK_MAX_DEPTH) {
        ps->too_deep = true;
        return 0;
    }
    ps->stack[ps->depth].base = ps->path_len;
    ps->stack[ps->depth].is_map = is_map;
    ps->depth++;
    if (is_map)
        ps->map_depth++;
    return 1;
}

static int close_container(parse_state *ps)
{
    ps->depth--;
    if (ps->stack[ps->depth].is_map)
        ps->map_depth--;
    if (ps->path_len != ps->stack[ps->depth].base) {
        ps->path_len = ps->stack[ps->depth].base;
        path_changed(ps);
    }
    return 1;
}

static int cb_start_map(void *ctx)
{
    return open_container(ctx, true);
}

static int cb_end_map(void *ctx)
{
    return close_container(ctx);
}

static int cb_start_array(void *ctx)
{
    return open_container(ctx, false);
}

static int cb_end_array(void *ctx)
{
    return close_container(ctx);
}

// yajl's string check is loose: it lets overlong forms (C0 AF), code points past U+10FFFF and
// encoded surrogates through, and it decodes an escaped lone low surrogate (\udc00) to its 3-byte
// CESU form, none of which is UTF-8 (found by fuzz_ndjson and the robustness tests). Names and
// values must be UTF-8 (event.h), so a string that is not is rebuilt in r->fix with U+FFFD for
// each invalid byte (one for an encoded surrogate). A value's NUL (from \u0000) becomes U+FFFD
// too: values hold no NUL (event.h), and cutting there would hide the rest of the text from every
// rule. Returns the text to use and updates *n.
static const char *utf8_repair(sk_buf *b, const char *s, size_t *n, bool nul_ok)
{
    if (sk_utf8_valid(s, *n) && (nul_ok || !memchr(s, 0, *n)))
        return s;
    sk_buf_reset(b);
    b->full = false;
    for (size_t i = 0; i < *n;) {
        const unsigned char *u = (const unsigned char *)s + i;
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, *n - i, &cp);
        if ((cp == 0xFFFD && !(k == 3 && u[0] == 0xEF)) || (cp == 0 && !nul_ok)) {
            if (u[0] == 0xED && *n - i >= 3 && u[1] >= 0xA0 && (u[2] & 0xC0) == 0x80)
                k = 3; // an encoded surrogate: one replacement character
            sk_buf_put(b, "\xEF\xBF\xBD", 3);
        } else {
            sk_buf_put(b, s + i, k);
        }
        i += k;
    }
    if (b->full) // past the buffer's cap: not rebuilt (a cut text would read as whole)
        return s;
    *n = b->n;
    return sk_buf_str(b);
}

static const char *utf8_fix(struct ndjson_reader *r, const char *s, size_t *n, bool nul_ok)
{
    return utf8_repair(&r->fix, s, n, nul_ok);
}

// Field names and paths are short (a dozen or two bytes): these two copy and compare them with a
// few word moves instead of a call to memcpy or memcmp, which showed for every name of every
// document. They read only s[0..n).
static inline uint64_t load8(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint32_t load4(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

static inline void copy_name(char *d, const char *s, size_t n)
{
    if (n >= 8) {
        size_t i = 0;
        for (; i + 8 < n; i += 8)
            memcpy(d + i, s + i, 8);
        memcpy(d + n - 8, s + n - 8, 8); // the last eight, overlapping the ones before
    } else if (n >= 4) {
        uint32_t a = load4(s), b = load4(s + n - 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}

static inline bool same_name(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (load8(a + i) != load8(b + i))
                return false;
        return load8(a + n - 8) == load8(b + n - 8);
    }
    if (n >= 4)
        return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

// clean: key is known to be valid UTF-8 without NUL (json_scan.h).
static int map_key(parse_state *ps, const char *key, size_t n, bool clean)
{
    if (ps->not_object)
        return 1;
    if (!clean) {
        const char *nul = memchr(key, 0, n); // names hold no NUL: cut there
        if (nul)
            n = (size_t)(nul - key);
        key = utf8_fix(ps->r, key, &n, true);
    }
    uint32_t base = ps->stack[ps->depth - 1].base;
    size_t need = base + (base ? 1 : 0) + n;
    if (need > MAX_PATH_BYTES) {
        ps->name_too_long = true;
        return 0;
    }
    char *p = ps->path + base;
    if (base)
        *p++ = '.';
    copy_name(p, key, n);
    ps->path_len = (uint32_t)need;
    path_changed(ps);
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t n)
{
    return map_key(ctx, (const char *)key, n, false);
}

static uint32_t *path_slot(ndjson_reader *r, const char *p, uint32_t n, uint32_t h)
{
    size_t mask = r->slots_cap - 1, i = h & mask;
    for (; r->path_slots[i] != NO_PATH; i = (i + 1) & mask) {
        const path_ref *e = &r->paths[r->path_slots[i]];
        if (e->hash == h && e->len == n && same_name(e->path, p, n))
            break;
    }
    return &r->path_slots[i];
}

// The path cache's slot for p[0..n): the top bits of products of its first and last eight bytes
// and its length (paths mostly differ in their last name).
static inline uint32_t path_cache_slot(const char *p, uint32_t n)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        a = load8(p);
        b = load8(p + n - 8);
    } else if (n >= 4) {
        a = load4(p);
        b = load4(p + n - 4);
    } else {
        for (uint32_t i = 0; i < n; i++)
            a |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    uint64_t h =
            (a * 0x9E3779B97F4A7C15ull) ^ (b * 0xC2B2AE3D27D4EB4Full) ^ (n * 0xFF51AFD7ED558CCDull);
    return (uint32_t)(h >> (64 - PATH_CACHE_LOG2));
}

// intern_path when p did not follow prev last time: found in the path cache or the table, or added.
static uint32_t intern_path_other(ndjson_reader *r, const char *p, uint32_t n, uint32_t prev)
{
    uint32_t *cached = &r->path_cache[path_cache_slot(p, n)];
    if (*cached != NO_PATH && r->paths[*cached].len == n &&
        same_name(r->paths[*cached].path, p, n)) {
        *(prev == NO_PATH ? &r->first_path : &r->paths[prev].next) = *cached;
        return *cached;
    }
    uint32_t h = sk_fieldmap_hash(p, n);
    uint32_t *slot = r->slots_cap ? path_slot(r, p, n, h) : NULL;
    if (!slot || *slot == NO_PATH) {
        if (r->npaths >= SK_MAX_INTERNED_PATHS || n > MAX_INTERNED_PATH ||
            r->path_bytes + n + 1 > MAX_INTERNED_BYTES)
            return NO_PATH;
        if (!slot || 2 * (r->npaths + 1) > r->slots_cap) {
            free(r->path_slots);
            r->slots_cap = r->slots_cap ? 2 * r->slots_cap : 64;
            r->path_slots = sk_xmalloc(r->slots_cap * sizeof(uint32_t));
            memset(r->path_slots, 0xFF, r->slots_cap * sizeof(uint32_t)); // NO_PATH
            for (uint32_t id = 0; id < r->npaths; id++)
                *path_slot(r, r->paths[id].path, r->paths[id].len, r->paths[id].hash) = id;
            slot = path_slot(r, p, n, h);
        }
        if (r->npaths == r->paths_cap)
            sk_xgrow((void **)&r->paths, &r->paths_cap, r->npaths + 1, sizeof(path_ref));
        r->paths[r->npaths] = (path_ref){ sk_arena_strndup(&r->path_text, p, n), n, h, NO_PATH };
        r->path_bytes += n + 1;
        *slot = (uint32_t)r->npaths++;
    }
    *(prev == NO_PATH ? &r->first_path : &r->paths[prev].next) = *slot;
    *cached = *slot;
    return *slot;
}

// The id of the interned path p[0..n), which lives as long as the reader: the one that followed
// prev (NO_PATH: the document's first path) last time when it is that path, else found (in the
// path cache or the table) or added. NO_PATH when the table has no room for a new path.
static inline uint32_t intern_path(ndjson_reader *r, const char *p, uint32_t n, uint32_t prev)
{
    uint32_t guess = prev == NO_PATH ? r->first_path : r->paths[prev].next;
    if (guess != NO_PATH && r->paths[guess].len == n && same_name(r->paths[guess].path, p, n))
        return guess;
    return intern_path_other(r, p, n, prev);
}

// is_string: v is a JSON string's decoded text, which may hold a NUL or need repairing as UTF-8,
// unless clean says it is known not to (json_scan.h).
static int add_leaf(parse_state *ps, const char *v, size_t n, bool is_string, bool clean)
{
    if (!ps->root_seen) {
        ps->root_seen = true;
        ps->not_object = true;
    }
    if (ps->not_object)
        return 1;
    struct ndjson_reader *r = ps->r;
    if (r->nleaves >= SK_MAX_FIELDS) {
        ps->too_many = true;
        return 1;
    }
    if (is_string && !clean)
        v = utf8_fix(r, v, &n, false);
    if (n > SK_MAX_VALUE_BYTES) {
        n = sk_utf8_cut(v, SK_MAX_VALUE_BYTES);
        ps->truncated = true;
    }
    // A value that lies in the record's text (a string without escapes, a number) stays there:
    // the byte after it (a closing quote, a comma, a bracket) becomes its NUL once the scan has
    // succeeded, and the text is the reader's own buffer, which holds still until the next record
    // is read, as the event arena does. Values of the first records of a dump took a copy each,
    // which was most of the cost of a leaf.
    // So does a string the scanner decoded (one with escapes: a message, a script block): the
    // scratch it is in holds it until the next record, when it was reserved for the whole record.
    const char *value;
    sk_json_scratch *sc = ps->keep;
    if (ps->in_len && (uintptr_t)v - ps->in_lo < ps->in_len &&
        (uintptr_t)(v + n) - ps->in_lo < ps->in_len) {
        if (r->nnuls == r->nuls_cap)
            sk_xgrow((void **)&r->nuls, &r->nuls_cap, r->nnuls + 1, sizeof(char *));
        r->nuls[r->nnuls++] = (char *)(uintptr_t)(v + n);
        value = v;
    } else if (is_string && sc &&
               (uintptr_t)v - (uintptr_t)(sc->p + sc->used) < sc->cap - sc->used) {
        // (only strings are decoded there; true and false are the program's own texts)
        char *kept = sc->p + ((uintptr_t)v - (uintptr_t)sc->p);
        kept[n] = '\0'; // there already unless the value was cut
        sc->used = (size_t)(kept - sc->p) + n + 1;
        value = kept;
    } else {
        value = sk_event_strdup(&r->ev, v, n);
    }
    if (ps->dirty || !ps->snap) {
        uint32_t id = intern_path(r, ps->path, ps->path_len, ps->snap_id);
        // Leaves next to each other share a path pointer only as items of one array: a path the
        // previous leaf also has (a repeated key, an array of objects) is copied instead.
        if (id != NO_PATH && r->nleaves > 0 && r->leaves[r->nleaves - 1].path == r->paths[id].path)
            id = NO_PATH;
        ps->snap =
                id != NO_PATH ? r->paths[id].path : sk_event_strdup(&r->ev, ps->path, ps->path_len);
        ps->snap_len = ps->path_len;
        ps->snap_id = id;
        ps->dirty = false;
    }
    if (r->nleaves == r->leaves_cap)
        sk_xgrow((void **)&r->leaves, &r->leaves_cap, r->nleaves + 1, sizeof(sk_json_leaf));
    sk_json_leaf *L = &r->leaves[r->nleaves++];
    L->path = ps->snap;
    L->path_len = ps->snap_len;
    L->value = value;
    L->value_len = (uint32_t)n;
    L->flags = ps->leaf_flags | (ps->snap_id != NO_PATH ? SK_LEAF_INTERNED : 0u);
    L->path_id = ps->snap_id;
    if (ps->map_depth == 1 && !(ps->leaf_flags & SK_LEAF_SYNTHETIC))
        L->flags |= SK_LEAF_TOP;
    return 1;
}

// JSON null: the field is absent (Sigma's `null` means absent or empty).
static int cb_null(void *ctx)
{
    parse_state *ps = ctx;
    if (!ps->root_seen) {
        ps->root_seen = true;
        ps->not_object = true;
    }
    return 1;
}

static int cb_boolean(void *ctx, int b)
{
    return b ? add_leaf(ctx, "true", 4, false, true) : add_leaf(ctx, "false", 5, false, true);
}

// Numbers keep their JSON text ("4688", "-9223372036854775808", "1.5e3").
static int cb_number(void *ctx, const char *s, size_t n)
{
    return add_leaf(ctx, s, n, false, true);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    return add_leaf(ctx, (const char *)s, n, true, false);
}

static int fast_string(void *ctx, const char *s, size_t n, bool clean)
{
    return add_leaf(ctx, s, n, true, clean);
}

static int fast_map_key(void *ctx, const char *s, size_t n, bool clean)
{
    return map_key(ctx, s, n, clean);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end_map,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end_array,
};

// The same callbacks for the fast scanner, which yajl checks (json_scan.h).
static const sk_json_sax fast_callbacks = {
    .null = cb_null,
    .boolean = cb_boolean,
    .number = cb_number,
    .string = fast_string,
    .start_map = cb_start_map,
    .map_key = fast_map_key,
    .end_map = cb_end_map,
    .start_array = cb_start_array,
    .end_array = cb_end_array,
};

// ------------------------------------------------------------------------------------------------
// One record

enum parse_result {
    P_OK,
    P_NOT_OBJECT,
    P_INVALID,
    P_NAME_TOO_LONG
};

// yajl's message without its "parse error: " / "lexical error: " prefix and final period.
static void short_reason(const char *msg, char *out, size_t outlen)
{
    const char *colon = strstr(msg, "error: ");
    if (colon)
        msg = colon + 7;
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '.'))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

static void parse_begin(ndjson_reader *r, const char *base, uint32_t leaf_flags)
{
    parse_state *ps = &r->ps;
    size_t blen = strlen(base);
    ps->r = r;
    ps->leaf_flags = leaf_flags;
    memcpy(ps->path, base, blen);
    ps->path_len = (uint32_t)blen;
    ps->depth = ps->map_depth = 0;
    ps->snap = NULL;
    ps->snap_id = NO_PATH;
    ps->snap_len = 0;
    ps->dirty = true;
    ps->root_seen = ps->not_object = ps->too_deep = ps->name_too_long = false;
}

// The leaves of a document so far, to undo a parse that is not kept.
typedef struct leaf_mark {
    size_t nleaves;
    bool too_many, truncated;
} leaf_mark;

static leaf_mark leaves_mark(const ndjson_reader *r)
{
    return (leaf_mark){ r->nleaves, r->ps.too_many, r->ps.truncated };
}

// Strings the undone leaves copied stay in the event arena until the next record; that is at most
// one record's worth.
static void leaves_undo(ndjson_reader *r, leaf_mark m)
{
    r->nleaves = m.nleaves;
    r->ps.too_many = m.too_many;
    r->ps.truncated = m.truncated;
}

// Parses text as one JSON document, appending its leaves under the path base (empty for a
// record). On P_INVALID, reason and *err_off (byte offset of the problem) are set.
// in_place: text is a record in a buffer of the reader's own, whose values may stay in it (see
// add_leaf).
static enum parse_result parse_text(ndjson_reader *r,
                                    const char *text,
                                    size_t len,
                                    const char *base,
                                    uint32_t leaf_flags,
                                    bool in_place,
                                    char *reason,
                                    size_t reason_len,
                                    size_t *err_off)
{
    parse_state *ps = &r->ps;
    enum parse_result res = P_OK;
    const leaf_mark mark = leaves_mark(r);
    parse_begin(r, base, leaf_flags);
    size_t stop;
    ps->in_lo = (uintptr_t)text;
    ps->in_len = in_place ? len : 0;
    r->nnuls = 0;
    sk_json_scratch *sc = in_place ? &r->scratch : &r->sub_scratch;
    sc->used = 0;
    ps->keep = in_place && sk_json_scratch_reserve(sc, len + 1) ? sc : NULL;
    bool ok = sk_json_scan(&fast_callbacks, ps, text, len, sc, &stop);
    ps->in_len = 0;
    ps->keep = NULL;
    if (ok) {
        // The scanner is done with the text: the values left in it end here.
        for (size_t i = 0; i < r->nnuls; i++)
            *r->nuls[i] = '\0';
        return ps->not_object ? P_NOT_OBJECT : P_OK;
    }
    // Not decided by the fast scanner: undo what its callbacks did and let yajl parse (and
    // word any error).
    leaves_undo(r, mark);
    parse_begin(r, base, leaf_flags);

    // yajl decodes "\ud800\ud800" to U+10000 and a lone high surrogate to '?': it reads a copy
    // with every unpaired surrogate escape as \ufffd, as the fast scanner decodes them (same
    // length, so error offsets hold).
    if (memmem(text, len, "\\u", 2)) {
        sk_buf_reset(&r->ytext);
        if (sk_buf_add(&r->ytext, text, len) == SK_OK &&
            sk_json_unpaired_to_fffd(r->ytext.p, r->ytext.n))
            text = r->ytext.p;
    }
    yajl_handle h = yajl_alloc(&callbacks, NULL, ps);
    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    bool at_end = false;
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at_end = true;
    }
    if (st == yajl_status_ok) {
        res = ps->not_object ? P_NOT_OBJECT : P_OK;
        goto out;
    }
    // Where the fast scanner stopped, unless it gave up: yajl's offset is the last byte of the
    // token for some errors, the token's start or one past it for others.
    size_t consumed = yajl_get_bytes_consumed(h);
    *err_off = stop <= len ? stop : at_end ? len : (consumed ? consumed - 1 : 0);
    if (ps->name_too_long) {
        res = P_NAME_TOO_LONG;
    } else if (ps->too_deep) {
        snprintf(reason, reason_len, "nesting deeper than %u levels", (unsigned)SK_MAX_DEPTH);
        res = P_INVALID;
    } else {
        unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
        short_reason((const char *)msg, reason, reason_len);
        yajl_free_error(h, msg);
        res = P_INVALID;
    }
out:
    yajl_free(h);
    return res;
}

// parse_text, and for a record that is not valid UTF-8 (which yajl refuses whole) a second try
// with each invalid byte as U+FFFD, as strings are read otherwise (an encoded surrogate is one
// U+FFFD). When that is still not JSON, the error found in the text as written stands.
static enum parse_result parse_doc(ndjson_reader *r,
                                   const char *text,
                                   size_t len,
                                   const char *base,
                                   uint32_t leaf_flags,
                                   bool in_place,
                                   char *reason,
                                   size_t reason_len,
                                   size_t *err_off)
{
    const leaf_mark mark = leaves_mark(r);
    enum parse_result res =
            parse_text(r, text, len, base, leaf_flags, in_place, reason, reason_len, err_off);
    if (res != P_INVALID || sk_utf8_valid(text, len))
        return res;
    size_t n = len;
    const char *fixed = utf8_repair(&r->line_fix, text, &n, true);
    if (fixed == text) // could not be rebuilt (line_fix holds 3 bytes per byte of a line)
        return res;
    leaves_undo(r, mark);
    char why[8];
    size_t off;
    // line_fix is the reader's too, and holds still until the next record.
    enum parse_result again =
            parse_text(r, fixed, n, base, leaf_flags, in_place, why, sizeof why, &off);
    if (again == P_OK || again == P_NOT_OBJECT)
        return again;
    leaves_undo(r, mark);
    return res;
}

// Line and column of byte off of a record that starts at (line, col).
static void
locate(const char *text, size_t off, uint64_t line, uint64_t col, uint64_t *l, uint64_t *c)
{
    const char *p = text, *end = text + off, *last = NULL, *nl;
    while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
        line++;
        last = nl;
        p = nl + 1;
    }
    *l = line;
    *c = last ? (uint64_t)(end - last) : col + off;
}

static void skip_record(ndjson_reader *r)
{
    r->base.stats.lines_skipped++;
}

static const char *unit_name(const ndjson_reader *r)
{
    return r->mode == M_LINE ? "line" : "element";
}

// A Azure Log Analytics "EventData" column holds the event data as a JSON object in a string.
static void expand_event_data(ndjson_reader *r)
{
    size_t n = r->nleaves;
    for (size_t i = 0; i < n; i++) {
        const sk_json_leaf *L = &r->leaves[i];
        if (!(L->flags & SK_LEAF_TOP) || L->path_len != 9 || memcmp(L->path, "EventData", 9) != 0)
            continue;
        const char *v = L->value;
        size_t vlen = L->value_len, k = 0;
        while (k < vlen && (v[k] == ' ' || v[k] == '\t' || v[k] == '\r' || v[k] == '\n'))
            k++;
        if (k == vlen || v[k] != '{')
            return;
        char reason[8];
        size_t off;
        // Its values are copied: the string they are cut from stays a field of its own.
        if (parse_doc(r,
                      v,
                      vlen,
                      "EventData",
                      SK_LEAF_SYNTHETIC,
                      false,
                      reason,
                      sizeof reason,
                      &off) == P_OK)
            r->leaves[i].flags |= SK_LEAF_EXPANDED;
        else
            r->nleaves = n; // not an object after all: keep the string as it is
        return;
    }
}

enum rec_result {
    R_NONE,
    R_EVENT,
    R_CONCAT
};

// Parses one record (a line or an array element) that starts at (line, col) and builds the event.
// own: text lies in a buffer of the reader (chunk, prefix or carry) that nothing reads again once
// the record is parsed, so the event's values may stay in it (add_leaf).
static enum rec_result
handle_record(ndjson_reader *r, const char *text, size_t len, uint64_t line, uint64_t col, bool own)
{
    sk_reader *b = &r->base;
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    // A UTF-8 BOM that starts a later line (files joined with cat): passed over like the first.
    if (r->mode == M_LINE && len - i >= 3 && memcmp(text + i, "\xEF\xBB\xBF", 3) == 0) {
        text += i + 3;
        len -= i + 3;
        col += i + 3;
        i = 0;
        while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
            i++;
    }
    if (i == len)
        return R_NONE; // blank
    while (len > i && text[len - 1] == '\r')
        len--;
    // A lone "{" as the first line: pretty-printed objects, not NDJSON.
    if (r->mode == M_LINE && !r->seen_line && text[i] == '{') {
        size_t k = i + 1;
        while (k < len && (text[k] == ' ' || text[k] == '\t'))
            k++;
        if (k == len) {
            r->elem_line = line;
            r->elem_col = col + i;
            return R_CONCAT;
        }
    }
    if (r->mode == M_LINE)
        r->seen_line = true;

    sk_event_reset(&r->ev);
    r->nleaves = 0;
    r->ps.too_many = r->ps.truncated = false;
    char reason[160];
    size_t off = 0;
    uint64_t el, ec;
    switch (parse_doc(r, text, len, "", 0, own, reason, sizeof reason, &off)) {
    case P_OK:
        break;
    case P_NOT_OBJECT:
        sk_diag_emitf(b->diags,
                      SK_SEV_WARNING,
                      b->display,
                      line,
                      col,
                      NULL,
                      "ndjson-not-object",
                      "JSON value is not an object; %s skipped",
                      unit_name(r));
        skip_record(r);
        return R_NONE;
    case P_INVALID:
        locate(text, off, line, col, &el, &ec);
        sk_diag_emitf(b->diags,
                      SK_SEV_WARNING,
                      b->display,
                      el,
                      ec,
                      NULL,
                      "ndjson-invalid",
                      "invalid JSON (%s); %s skipped",
                      reason,
                      unit_name(r));
        skip_record(r);
        return R_NONE;
    case P_NAME_TOO_LONG:
        locate(text, off, line, col, &el, &ec);
        sk_diag_emitf(b->diags,
                      SK_SEV_WARNING,
                      b->display,
                      el,
                      ec,
                      NULL,
                      "ndjson-too-long",
                      "field name longer than %u bytes; %s skipped",
                      MAX_PATH_BYTES,
                      unit_name(r));
        skip_record(r);
        return R_NONE;
    }
    bool too_many = r->ps.too_many, truncated = r->ps.truncated;
    expand_event_data(r);
    too_many |= r->ps.too_many;
    truncated |= r->ps.truncated;
    if (sk_fieldmap_apply(r->fm, r->leaves, r->nleaves, &r->ev) != SK_OK)
        too_many = true;
    if (too_many)
        sk_diag_emitf(b->diags,
                      SK_SEV_WARNING,
                      b->display,
                      line,
                      0,
                      NULL,
                      "ndjson-too-many-fields",
                      "more than %u fields; the rest were dropped",
                      SK_MAX_FIELDS);
    if (truncated)
        sk_diag_emitf(b->diags,
                      SK_SEV_WARNING,
                      b->display,
                      line,
                      0,
                      NULL,
                      "ndjson-value-truncated",
                      "value longer than %u bytes truncated",
                      SK_MAX_VALUE_BYTES);
    r->ev.file = b->display;
    r->ev.format = SK_FORMAT_NDJSON;
    r->ev.line = line;
    return R_EVENT;
}

static void report_too_long(ndjson_reader *r, uint64_t line)
{
    sk_reader *b = &r->base;
    sk_diag_emitf(b->diags,
                  SK_SEV_WARNING,
                  b->display,
                  line,
                  0,
                  NULL,
                  "ndjson-too-long",
                  "%s longer than %u bytes; %s skipped",
                  unit_name(r),
                  SK_MAX_LINE_BYTES,
                  unit_name(r));
    skip_record(r);
}

// ------------------------------------------------------------------------------------------------
// Input

static sk_status fill(ndjson_reader *r)
{
    size_t n;
    r->pos = r->len = 0;
    if (r->prefix_pos < r->prefix_len) {
        n = r->prefix_len - r->prefix_pos;
        if (n > r->chunk_size)
            n = r->chunk_size;
        r->data = r->prefix + r->prefix_pos;
        r->prefix_pos += n;
    } else {
        // After a short read that met the end, no further read(2) asks again: a small file is
        // one read and one that returns 0, not two.
        n = r->fp_at_end ? 0 : fread(r->chunk, 1, r->chunk_size, r->fp);
        r->fp_at_end = n < r->chunk_size && feof(r->fp);
        if (n == 0) {
            if (ferror(r->fp)) {
                int e = errno;
                sk_diag_emitf(r->base.diags,
                              SK_SEV_ERROR,
                              r->base.display,
                              0,
                              0,
                              NULL,
                              "io",
                              "read error: %s",
                              e ? strerror(e) : "unknown error");
                r->base.stats.damaged = true;
                r->mode = M_DONE;
                return SK_ERR_IO;
            }
            r->eof = true;
            return SK_OK;
        }
        r->data = r->chunk;
    }
    r->data_off = r->next_off;
    r->next_off += n;
    r->len = n;
    r->seg = 0;
    r->base.stats.bytes += n;
    return SK_OK;
}

static void enter_line_mode(ndjson_reader *r, uint64_t rec_col)
{
    r->mode = M_LINE;
    r->rec_col = rec_col;
    r->discard = false;
}

// M_START: skips a UTF-8 BOM and blank lines, then picks the layout.
static void scan_start(ndjson_reader *r)
{
    static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
    while (r->pos < r->len) {
        unsigned char c = (unsigned char)r->data[r->pos];
        if (!r->bom_done) {
            if (c == bom[r->bom_have]) {
                r->pos++;
                if (++r->bom_have == 3)
                    r->bom_done = true;
                continue;
            }
            r->bom_done = true;
            if (r->bom_have) { // part of a BOM: those bytes start the first line
                if (sk_buf_add(&r->carry, bom, r->bom_have) != SK_OK)
                    sk_buf_reset(&r->carry); // cannot happen: the buffer is empty
                enter_line_mode(r, 1);
                return;
            }
        }
        if (c == '\n') {
            r->line++;
            r->col = 0;
            r->line_start = r->data_off + r->pos + 1;
            sk_buf_reset(&r->carry);
        } else if (c == ' ' || c == '\t' || c == '\r') {
            // kept so that the columns of the first line stay right if it is a line
            if (sk_buf_addc(&r->carry, (char)c) != SK_OK)
                sk_buf_reset(&r->carry);
            r->col++;
        } else if (c == '[') {
            r->pos++;
            r->col++;
            sk_buf_reset(&r->carry);
            r->mode = M_ARRAY;
            r->in_elem = false;
            return;
        } else {
            enter_line_mode(r, 1);
            return;
        }
        r->pos++;
    }
}

// Switches to the splitter in the middle of a pretty-printed object whose "{" line was just read.
static void enter_concat_mode(ndjson_reader *r)
{
    r->mode = M_CONCAT;
    sk_buf_reset(&r->carry);
    if (sk_buf_add(&r->carry, "{\n", 2) != SK_OK)
        r->elem_long = true; // cannot happen: the buffer is empty
    r->in_elem = true;
    r->in_str = r->esc = r->scalar = r->first = r->elem_long = false;
    r->edepth = 1;
    r->prev_sig = '{';
    r->obj_bits = 1;
    r->seg = r->pos;
    r->col = 0;
}

// M_LINE: one record per line. Returns true when r->ev holds an event.
static bool scan_line(ndjson_reader *r)
{
    while (r->pos < r->len && r->mode == M_LINE) {
        const char *p = r->data + r->pos;
        size_t avail = r->len - r->pos;
        const char *nl = memchr(p, '\n', avail);
        if (r->skip_partial) { // the end of the line before the part: the part before reads it
            r->pos = nl ? r->pos + (size_t)(nl - p) + 1 : r->len;
            if (nl) {
                r->line++;
                r->line_start = r->data_off + r->pos;
                r->skip_partial = false;
            }
            continue;
        }
        if (r->range_end && r->line_start >= r->range_end) {
            r->mode = M_DONE; // a line that starts past the part: the next part's
            return false;
        }
        if (!nl) {
            if (!r->discard && sk_buf_add(&r->carry, p, avail) != SK_OK) {
                report_too_long(r, r->line + 1);
                sk_buf_reset(&r->carry);
                r->discard = true;
            }
            r->pos = r->len;
            return false;
        }
        size_t n = (size_t)(nl - p);
        uint64_t line = ++r->line, col = r->rec_col;
        r->pos += n + 1;
        r->line_start = r->data_off + r->pos;
        r->rec_col = 1;
        r->col = 0;
        if (r->discard) {
            r->discard = false;
            continue;
        }
        const char *text = p;
        size_t len = n;
        if (r->carry.n) {
            if (sk_buf_add(&r->carry, p, n) != SK_OK) {
                report_too_long(r, line);
                sk_buf_reset(&r->carry);
                continue;
            }
            text = r->carry.p;
            len = r->carry.n;
        } else if (n > SK_MAX_LINE_BYTES) {
            report_too_long(r, line);
            continue;
        }
        enum rec_result res = handle_record(r, text, len, line, col, true);
        sk_buf_reset(&r->carry);
        if (res == R_EVENT)
            return true;
        if (res == R_CONCAT)
            enter_concat_mode(r);
    }
    return false;
}

// Handles the element that ends at r->data[end) (r->seg is its start in this chunk).
static bool end_element(ndjson_reader *r, size_t end)
{
    const char *text = r->data + r->seg;
    size_t len = end - r->seg;
    bool got = false;
    r->in_elem = false;
    r->pos = end;
    if (r->elem_long)
        return false;
    if (r->carry.n) {
        if (sk_buf_add(&r->carry, text, len) != SK_OK) {
            report_too_long(r, r->elem_line);
            goto out;
        }
        text = r->carry.p;
        len = r->carry.n;
    } else if (len > SK_MAX_LINE_BYTES) {
        report_too_long(r, r->elem_line);
        goto out;
    }
    got = handle_record(r, text, len, r->elem_line, r->elem_col, true) == R_EVENT;
out:
    sk_buf_reset(&r->carry);
    return got;
}

static bool scalar_end(unsigned char c)
{
    switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case ',':
    case ']':
    case '}':
    case '[':
    case '{':
    case '"':
        return true;
    default:
        return false;
    }
}

// M_ARRAY / M_CONCAT: cuts values out of the stream by tracking strings and bracket depth; yajl
// validates each value afterwards. Returns true when r->ev holds an event.
static bool scan_elems(ndjson_reader *r)
{
    const unsigned char *d = (const unsigned char *)r->data;
    size_t i = r->pos, n = r->len;
    while (i < n) {
        unsigned char c = d[i];
        if (!r->in_elem) {
            if (c == '\n') {
                r->line++;
                r->col = 0;
                i++;
                continue;
            }
            if (c == ' ' || c == '\t' || c == '\r' || (c == ',' && r->mode == M_ARRAY)) {
                r->col++;
                i++;
                continue;
            }
            if (c == ']' && r->mode == M_ARRAY) { // end of the array: whatever follows is lines
                r->col++;
                r->pos = i + 1;
                enter_line_mode(r, r->col + 1);
                return false;
            }
            r->in_elem = true;
            r->elem_line = r->line + 1;
            r->elem_col = r->col + 1;
            r->seg = i;
            r->edepth = 0;
            r->prev_sig = 0;
            r->obj_bits = 0;
            r->in_str = r->esc = r->elem_long = false;
            r->first = true;
            r->scalar = !(c == '{' || c == '[' || c == '"');
        }
        bool end = false;
        if (r->in_str && c == '\n') {
            // A JSON string holds no raw line feed: the element was torn inside a string (a cut
            // or damaged export). It ends here, is reported as invalid, and the split goes on
            // with the next line, so the elements after it are not lost with it.
            if (end_element(r, i))
                return true;
            continue; // the line feed is looked at again, outside the element
        }
        if (r->in_str) {
            if (r->esc)
                r->esc = false;
            else if (c == '\\')
                r->esc = true;
            else if (c == '"') {
                r->in_str = false;
                r->prev_sig = '"';
                end = r->edepth == 0;
            }
        } else if (r->scalar) {
            if (!r->first && scalar_end(c)) {
                if (end_element(r, i))
                    return true;
                continue; // c is looked at again, outside the element
            }
        } else if (c == '"') {
            r->in_str = true;
        } else if (c == '{' || c == '[') {
            // Inside an object a container is only a value (after ':'), inside an array only an
            // item (after '[' or ','). Anywhere else the element was torn between two tokens and
            // this is the next element: the torn one ends before it, and it starts anew.
            uint32_t dep = r->edepth;
            bool in_obj = dep > 0 && dep <= 64 && (r->obj_bits >> (dep - 1) & 1);
            if (dep > 0 && dep <= 64 &&
                (in_obj ? r->prev_sig != ':' : r->prev_sig != '[' && r->prev_sig != ',')) {
                if (end_element(r, i))
                    return true;
                continue; // c starts the next element
            }
            if (dep < 64)
                r->obj_bits = (r->obj_bits & ~((uint64_t)1 << dep)) | ((uint64_t)(c == '{') << dep);
            r->edepth++;
            r->prev_sig = c;
        } else if (c == '}' || c == ']') {
            if (r->edepth > 0)
                r->edepth--;
            r->prev_sig = c;
            end = r->edepth == 0;
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            r->prev_sig = c;
        }
        r->first = false;
        if (c == '\n') {
            r->line++;
            r->col = 0;
        } else {
            r->col++;
        }
        i++;
        if (end) {
            if (end_element(r, i))
                return true;
            i = r->pos;
        }
    }
    if (r->in_elem && !r->elem_long && sk_buf_add(&r->carry, d + r->seg, n - r->seg) != SK_OK) {
        report_too_long(r, r->elem_line);
        sk_buf_reset(&r->carry);
        r->elem_long = true;
    }
    r->pos = n;
    return false;
}

// End of input: the last line without a newline, an unfinished element.
static bool finish(ndjson_reader *r)
{
    sk_reader *b = &r->base;
    bool got = false;
    switch (r->mode) {
    case M_START:
        if (!r->bom_done && r->bom_have) { // a file holding part of a BOM
            static const char bom[3] = { '\xEF', '\xBB', '\xBF' };
            enter_line_mode(r, 1);
            got = handle_record(r, bom, r->bom_have < 3 ? r->bom_have : 3, r->line + 1, 1, false) ==
                  R_EVENT;
        }
        break;
    case M_LINE:
        if (r->carry.n && !r->discard) {
            // At the end a lone "{" is a cut document, not the start of pretty-printed objects
            // (it was dropped without a word; found by tests/robust/truncation.py).
            r->seen_line = true;
            got = handle_record(r, r->carry.p, r->carry.n, r->line + 1, r->rec_col, true) ==
                  R_EVENT;
        }
        break;
    case M_ARRAY:
    case M_CONCAT:
        if (r->in_elem) {
            r->in_elem = false;
            if (!r->elem_long)
                got = handle_record(r,
                                    r->carry.p ? r->carry.p : "",
                                    r->carry.n,
                                    r->elem_line,
                                    r->elem_col,
                                    r->carry.p != NULL) == R_EVENT;
        } else if (r->mode == M_ARRAY) {
            r->base.stats.damaged = true; // a cut document: counted, so the exit status says so
            sk_diag_emitf(b->diags,
                          SK_SEV_WARNING,
                          b->display,
                          r->line + 1,
                          r->col + 1,
                          NULL,
                          "ndjson-invalid",
                          "invalid JSON (premature EOF: the array is not closed)");
        }
        break;
    case M_DONE:
        break;
    }
    sk_buf_reset(&r->carry);
    r->mode = M_DONE;
    return got;
}

static sk_status nd_next(sk_reader *base, const sk_event **out)
{
    ndjson_reader *r = (ndjson_reader *)base;
    for (;;) {
        if (r->mode == M_DONE)
            return SK_DONE;
        if (r->pos == r->len) {
            if (r->eof) {
                if (finish(r)) {
                    *out = &r->ev;
                    return SK_OK;
                }
                continue;
            }
            sk_status st = fill(r);
            if (st != SK_OK)
                return st;
            continue;
        }
        bool got = false;
        switch (r->mode) {
        case M_START:
            scan_start(r);
            break;
        case M_LINE:
            got = scan_line(r);
            break;
        case M_ARRAY:
        case M_CONCAT:
            got = scan_elems(r);
            break;
        case M_DONE:
            break;
        }
        if (got) {
            *out = &r->ev;
            return SK_OK;
        }
    }
}

static void nd_close(sk_reader *base)
{
    ndjson_reader *r = (ndjson_reader *)base;
    if (r->fp && r->fp != stdin)
        fclose(r->fp);
    free(r->prefix);
    free(r->chunk);
    sk_buf_fini(&r->carry);
    sk_buf_fini(&r->fix);
    sk_buf_fini(&r->line_fix);
    sk_buf_fini(&r->ytext);
    sk_json_scratch_free(&r->scratch);
    sk_json_scratch_free(&r->sub_scratch);
    free(r->nuls);
    sk_event_fini(&r->ev);
    sk_fieldmap_free(r->fm);
    free(r->leaves);
    free(r->paths);
    free(r->path_slots);
    free(r->path_cache);
    sk_arena_fini(&r->path_text);
    sk_reader_base_fini(base);
    free(r);
}

static const sk_reader_ops ndjson_ops = {
    .name = "ndjson",
    .next = nd_next,
    .close = nd_close,
};

sk_status sk_reader_open_ndjson(sk_reader **out,
                                FILE *fp,
                                const void *prefix,
                                size_t prefix_len,
                                const char *display,
                                const sk_reader_opts *opts,
                                sk_diags *diags)
{
    if (!fp) {
        sk_diag_emitf(
                diags, SK_SEV_ERROR, display ? display : "-", 0, 0, NULL, "io", "no input stream");
        return SK_ERR_IO;
    }
    ndjson_reader *r = sk_xcalloc(1, sizeof(*r));
    sk_reader_base_init(&r->base, &ndjson_ops, display, opts, diags);
    r->fp = fp;
    r->chunk_size = (opts && opts->chunk_size) ? opts->chunk_size : DEFAULT_CHUNK;
    r->chunk = sk_xmalloc(r->chunk_size);
    if (prefix_len) {
        r->prefix = sk_xmalloc(prefix_len);
        memcpy(r->prefix, prefix, prefix_len);
        r->prefix_len = prefix_len;
    }
    sk_buf_init(&r->carry, SK_MAX_LINE_BYTES);
    sk_buf_init(&r->fix, 3u * SK_MAX_LINE_BYTES);
    sk_buf_init(&r->line_fix, 3u * SK_MAX_LINE_BYTES);
    sk_buf_init(&r->ytext, SK_MAX_LINE_BYTES + 1);
    sk_event_init(&r->ev);
    r->ev.file = r->base.display;
    r->ev.format = SK_FORMAT_NDJSON;
    r->fm = sk_fieldmap_new();
    sk_arena_init(&r->path_text, 4096);
    r->first_path = NO_PATH;
    r->path_cache = sk_xmalloc(PATH_CACHE * sizeof(uint32_t));
    memset(r->path_cache, 0xFF, PATH_CACHE * sizeof(uint32_t)); // NO_PATH
    r->mode = M_START;
    r->rec_col = 1;
    if (opts && (opts->ndjson_first || opts->ndjson_end)) {
        // A part of a file in line layout (fp is at ndjson_first - 1, or at 0 for the first).
        r->range_end = opts->ndjson_end;
        if (opts->ndjson_first) {
            r->next_off = opts->ndjson_first - 1;
            r->line = opts->ndjson_newlines;
            r->skip_partial = true;
            r->seen_line = true; // a lone "{" line no longer means pretty-printed objects
            r->bom_done = true;
            enter_line_mode(r, 1);
        }
    }
    *out = &r->base;
    return SK_OK;
}

bool sk_ndjson_splittable(const unsigned char *head, size_t n)
{
    size_t i = 0;
    if (n >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF)
        i = 3;
    while (i < n && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (i == n || head[i] != '{')
        return false; // an array, or not JSON objects at all
    // The first line must hold more than a lone "{" (handle_record's test for pretty-printing).
    size_t k = i + 1;
    while (k < n && (head[k] == ' ' || head[k] == '\t' || head[k] == '\r'))
        k++;
    return k < n && head[k] != '\n';
}
