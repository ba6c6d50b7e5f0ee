// Located diagnostics. The library never prints: it hands each diagnostic to a callback that the
// CLI (or a test) supplies, as YARA's compiler callback does. Rendering is GCC style so editors and
// CI can parse it:
//   file:line:col: error: text        (rules, JSON lines)
//   file: record 4711: warning: text  (evtx records; "where" names the position)
#ifndef SK_CORE_DIAG_H
#define SK_CORE_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "status.h"

typedef enum sk_severity {
    SK_SEV_NOTE,
    SK_SEV_WARNING,
    SK_SEV_ERROR,
} sk_severity;

typedef struct sk_diag {
    sk_severity severity;
    const char *file;        // input or rule file; NULL for none
    unsigned long line;      // 1-based; 0 when unknown
    unsigned long col;       // 1-based; 0 when unknown
    const char *where;       // position other than line:col ("record 4711", "chunk 3"); or NULL
    const char *code;        // stable reason key for counting ("invalid-json", ...); never NULL
    const char *message;     // human text, no trailing newline
    const char *source_line; // the offending source line for a caret; or NULL
} sk_diag;

typedef void (*sk_diag_fn)(void *ctx, const sk_diag *d);

typedef struct sk_diags {
    sk_diag_fn fn;           // may be NULL: diagnostics are then only counted
    void *ctx;
    unsigned long errors;    // counts of emitted diagnostics by severity
    unsigned long warnings;
    unsigned long notes;
} sk_diags;

void sk_diags_init(sk_diags *dl, sk_diag_fn fn, void *ctx);
// Counts d and passes it to the callback. All pointers in d are borrowed for the call.
void sk_diag_emit(sk_diags *dl, const sk_diag *d);
// Builds a diagnostic from a format and emits it. line/col may be 0; where and source may be NULL.
void sk_diag_emitf(sk_diags *dl,
                   sk_severity sev,
                   const char *file,
                   unsigned long line,
                   unsigned long col,
                   const char *where,
                   const char *code,
                   const char *fmt,
                   ...) SK_PRINTF(8, 9);
// Appends the GCC-style rendering of d to out (one line, plus source line and caret when known,
// each ending in '\n'). Control characters in the message are shown escaped.
void sk_diag_render(const sk_diag *d, sk_buf *out);
const char *sk_severity_str(sk_severity sev);
// Appends s for a terminal: control characters (C0, DEL, C1) as \n, \r, \t or \xNN, bytes that
// are not UTF-8 as \xNN, and bidirectional formatting characters as \uNNNN, so that hostile text
// (event data, a third-party rule's title) cannot drive the terminal or reorder what it shows.
void sk_text_escape(sk_buf *out, const char *s);
// s escaped as above, in tmp (reset first); for printf-style output of one string.
const char *sk_text_shown(sk_buf *tmp, const char *s);
bool sk_text_is_bidi_control(uint32_t cp);
// The text of line `line` (1-based) of data[0..n), copied into buf (bn bytes, NUL-terminated, cut
// to fit) for a diagnostic's source_line; NULL when data is NULL or has no such line.
const char *sk_diag_line_text(const char *data, size_t n, unsigned long line, char *buf, size_t bn);

#endif
