// Diagnostics: counting, formatting, GCC-style rendering with a caret line.
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf.h"

const char *sk_status_str(sk_status st)
{
    switch (st) {
    case SK_OK:
        return "success";
    case SK_DONE:
        return "done";
    case SK_ERR_IO:
        return "I/O error";
    case SK_ERR_FORMAT:
        return "invalid format";
    case SK_ERR_RULE_SYNTAX:
        return "rule syntax error";
    case SK_ERR_RULE_UNSUPPORTED:
        return "unsupported rule feature";
    case SK_ERR_LIMIT:
        return "limit exceeded";
    case SK_ERR_USAGE:
        return "usage error";
    }
    return "unknown error";
}

const char *sk_severity_str(sk_severity sev)
{
    switch (sev) {
    case SK_SEV_NOTE:
        return "note";
    case SK_SEV_WARNING:
        return "warning";
    case SK_SEV_ERROR:
        return "error";
    }
    return "error";
}

void sk_diags_init(sk_diags *dl, sk_diag_fn fn, void *ctx)
{
    memset(dl, 0, sizeof(*dl));
    dl->fn = fn;
    dl->ctx = ctx;
}

void sk_diag_emit(sk_diags *dl, const sk_diag *d)
{
    if (!dl)
        return;
    switch (d->severity) {
    case SK_SEV_NOTE:
        dl->notes++;
        break;
    case SK_SEV_WARNING:
        dl->warnings++;
        break;
    case SK_SEV_ERROR:
        dl->errors++;
        break;
    }
    if (dl->fn)
        dl->fn(dl->ctx, d);
}

void sk_diag_emitf(sk_diags *dl,
                   sk_severity sev,
                   const char *file,
                   unsigned long line,
                   unsigned long col,
                   const char *where,
                   const char *code,
                   const char *fmt,
                   ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sk_diag d = { .severity = sev,
                  .file = file,
                  .line = line,
                  .col = col,
                  .where = where,
                  .code = code ? code : "error",
                  .message = msg,
                  .source_line = NULL };
    sk_diag_emit(dl, &d);
}

bool sk_text_is_bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

// Shows the character at s[0..n) as sk_text_escape does, into out (NULL: only measures). Sets
// *k to its length in bytes; returns the columns it takes (a character as it is takes one).
static size_t show_char(sk_buf *out, const char *s, size_t n, size_t *k, sk_status *st)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    *k = sk_utf8_decode(s, n, &cp);
    bool invalid = cp == 0xFFFD && !(*k == 3 && u[0] == 0xEF && u[1] == 0xBF && u[2] == 0xBD);
    char esc[8];
    if (cp == '\n')
        strcpy(esc, "\\n");
    else if (cp == '\r')
        strcpy(esc, "\\r");
    else if (cp == '\t')
        strcpy(esc, "\\t");
    else if (invalid)
        snprintf(esc, sizeof esc, "\\x%02x", u[0]); // a lone 0x9b is CSI to some terminals
    else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
        snprintf(esc, sizeof esc, "\\x%02x", (unsigned)cp);
    else if (sk_text_is_bidi_control(cp))
        snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
    else {
        if (out)
            *st = sk_buf_add(out, s, *k);
        return 1;
    }
    if (out)
        *st = sk_buf_adds(out, esc);
    return strlen(esc);
}

void sk_text_escape(sk_buf *out, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k;
        sk_status st = SK_OK;
        show_char(out, s + i, n - i, &k, &st);
        if (st != SK_OK)
            return;
        i += k;
    }
}

// The quoted source line of a diagnostic, shown as sk_text_escape shows text but with its tabs
// kept, then the caret under character col (1-based).
static void render_source(sk_buf *out, const char *line, size_t len, unsigned long col)
{
    if (sk_buf_adds(out, "    ") != SK_OK)
        return;
    for (size_t i = 0; i < len;) {
        size_t k = 1;
        sk_status st = SK_OK;
        if (line[i] == '\t')
            st = sk_buf_addc(out, '\t');
        else
            show_char(out, line + i, len - i, &k, &st);
        if (st != SK_OK)
            return;
        i += k;
    }
    if (sk_buf_adds(out, "\n    ") != SK_OK)
        return;
    unsigned long c = 1;
    for (size_t i = 0; i < len && c < col; c++) {
        size_t k = 1, w = 1;
        sk_status st = SK_OK;
        if (line[i] == '\t')
            st = sk_buf_addc(out, '\t');
        else
            for (w = show_char(NULL, line + i, len - i, &k, &st); w > 0 && st == SK_OK; w--)
                st = sk_buf_addc(out, ' ');
        if (st != SK_OK)
            return;
        i += k;
    }
    sk_buf_puts(out, "^\n");
}

const char *sk_text_shown(sk_buf *tmp, const char *s)
{
    sk_buf_reset(tmp);
    sk_text_escape(tmp, s ? s : "");
    return sk_buf_str(tmp);
}

void sk_diag_render(const sk_diag *d, sk_buf *out)
{
    sk_status st = SK_OK;
    if (d->file) {
        sk_text_escape(out, d->file);
        if (d->line && d->col)
            st = sk_buf_addf(out, ":%lu:%lu", d->line, d->col);
        else if (d->line)
            st = sk_buf_addf(out, ":%lu", d->line);
        if (st == SK_OK && d->where)
            st = sk_buf_addf(out, ": %s", d->where);
    } else {
        st = sk_buf_adds(out, "saker");
        if (st == SK_OK && d->where)
            st = sk_buf_addf(out, ": %s", d->where);
    }
    if (st == SK_OK)
        st = sk_buf_addf(out, ": %s: ", sk_severity_str(d->severity));
    if (st != SK_OK)
        return; // the buffer is full: a message without its location would mislead
    sk_text_escape(out, d->message ? d->message : "");
    if (sk_buf_addc(out, '\n') != SK_OK)
        return;
    if (d->source_line && d->col)
        render_source(out, d->source_line, strcspn(d->source_line, "\r\n"), d->col);
}

const char *sk_diag_line_text(const char *data, size_t n, unsigned long line, char *buf, size_t bn)
{
    if (!data || line == 0)
        return NULL;
    size_t i = 0;
    for (unsigned long l = 1; l < line; l++) {
        const char *nl = memchr(data + i, '\n', n - i);
        if (!nl)
            return NULL;
        i = (size_t)(nl - data) + 1;
    }
    size_t e = i;
    while (e < n && data[e] != '\n' && data[e] != '\r')
        e++;
    size_t len = e - i < bn - 1 ? e - i : bn - 1;
    memcpy(buf, data + i, len);
    buf[len] = '\0';
    return buf;
}
