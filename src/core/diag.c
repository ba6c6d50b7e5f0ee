// Diagnostics: counting, formatting, GCC-style rendering with a caret line.
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

// Appends s with control characters escaped so hostile text cannot reach a terminal raw.
static void add_escaped(sk_buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        sk_status st;
        if (*p < 0x20 || *p == 0x7f) {
            if (*p == '\n')
                st = sk_buf_adds(out, "\\n");
            else if (*p == '\r')
                st = sk_buf_adds(out, "\\r");
            else if (*p == '\t')
                st = sk_buf_adds(out, "\\t");
            else
                st = sk_buf_addf(out, "\\x%02x", *p);
        } else {
            st = sk_buf_addc(out, (char)*p);
        }
        if (st != SK_OK)
            return;
    }
}

void sk_diag_render(const sk_diag *d, sk_buf *out)
{
    sk_status st = SK_OK;
    if (d->file) {
        add_escaped(out, d->file);
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
    add_escaped(out, d->message ? d->message : "");
    if (sk_buf_addc(out, '\n') != SK_OK)
        return;
    if (d->source_line && d->col) {
        // Source line (tabs kept so the caret lines up), then spaces/tabs up to the column.
        size_t len = strcspn(d->source_line, "\r\n");
        if (sk_buf_adds(out, "    ") != SK_OK || sk_buf_add(out, d->source_line, len) != SK_OK ||
            sk_buf_adds(out, "\n    ") != SK_OK)
            return;
        for (unsigned long i = 1; i < d->col && i <= len; i++)
            if (sk_buf_addc(out, d->source_line[i - 1] == '\t' ? '\t' : ' ') != SK_OK)
                return;
        sk_buf_puts(out, "^\n");
    }
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
