// A small, strict TOML 1.0 reader for rule files (Elastic's detection-rules TOML). Private to
// src/rules.
//
// It reads the whole document into a tree of values that keep their position (line and column of
// the value, and for strings the byte offset of their first content byte, so that a problem found
// later inside a string -- an EQL syntax error in `query` -- can be located in the file). Every
// value lives in the document's arena.
//
// Supported: tables, arrays of tables, dotted keys (bare and quoted), inline tables, basic,
// literal and multi-line strings with every TOML 1.0 escape, arrays (multi-line, trailing comma,
// comments), integers (decimal, 0x, 0o, 0b, underscores), floats (incl. inf/nan), booleans, and
// offset/local dates and times (kept as their text). Strict: duplicate keys, redefined tables,
// invalid escapes, control characters, invalid UTF-8, leading zeros, ... are errors. Bounded:
// nesting of arrays and inline tables is capped at SK_MAX_DEPTH, dotted keys at
// TOML_MAX_KEY_PARTS parts; the caller caps the input size (SK_MAX_RULE_FILE_BYTES).
#ifndef SK_RULES_TOML_INT_H
#define SK_RULES_TOML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

#define TOML_MAX_KEY_PARTS 64u

typedef enum tv_type {
    TV_STRING,
    TV_INT,
    TV_FLOAT,
    TV_BOOL,
    TV_DATETIME, // offset/local date-time, local date, local time: the text as written
    TV_ARRAY,
    TV_TABLE,
} tv_type;

typedef struct tv {
    tv_type type;
    uint8_t flags;      // private to toml.c (how a table or array was defined)
    bool literal;       // STRING: the content is the source bytes at src_off, unchanged
    unsigned long line; // 1-based position of the value (tables: their header or first key)
    unsigned long col;  // 1-based, in characters
    size_t src_off;     // STRING: offset of the first content byte in the document
    // STRING that is not literal: where its content runs verbatim, as pairs (content offset,
    // document offset), one at the start and one after each escape; nmap pairs.
    const size_t *map;
    size_t nmap;
    const char *s;      // STRING, DATETIME: NUL-terminated (a STRING may hold NULs, see len)
    size_t len;
    int64_t i;         // INT
    double d;          // FLOAT
    bool b;            // BOOL
    struct tv **items; // ARRAY: items; TABLE: values (in definition order)
    const char **keys; // TABLE: keys (NUL-terminated; may hold NULs, see klens)
    size_t *klens;
    size_t n, cap;
} tv;

typedef struct toml_slot toml_slot;

typedef struct toml_doc {
    sk_arena arena;
    tv *root; // a table; NULL before a successful parse
    // private: (table, key) -> value index
    toml_slot *slots;
    size_t nslots, capslots;
} toml_doc;

typedef struct toml_err {
    char msg[256];
    unsigned long line, col; // 1-based
} toml_err;

void toml_doc_init(toml_doc *d);
void toml_doc_fini(toml_doc *d);
// Parses data[0..n) (need not be NUL-terminated). On failure returns false, fills err (the first
// problem) and leaves d->root NULL. d must be freshly initialised.
bool toml_parse(toml_doc *d, const char *data, size_t n, toml_err *err);
// The value of key in table t, or NULL (also when t is not a table).
tv *toml_get(const toml_doc *d, const tv *t, const char *key);
// Follows a dotted path of plain keys ("rule.threat"); NULL when any part is missing.
tv *toml_path(const toml_doc *d, const tv *t, const char *path);
// "string", "integer", "float", "boolean", "date-time", "array", "table".
const char *toml_type_name(const tv *v);
// The file position of byte off of string s's content: exact for literal strings, the string's
// own position otherwise.
void toml_locate(const char *data,
                 size_t n,
                 const tv *s,
                 size_t off,
                 unsigned long *line,
                 unsigned long *col);

#endif
