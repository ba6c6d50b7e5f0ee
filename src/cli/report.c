// CLI diagnostics sink.
#include "report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

static void count(sk_report *r, const char *code)
{
    for (size_t i = 0; i < r->nreasons; i++)
        if (strcmp(r->reasons[i].code, code) == 0) {
            r->reasons[i].n++;
            return;
        }
    sk_xgrow((void **)&r->reasons, &r->cap, r->nreasons + 1, sizeof *r->reasons);
    sk_reason_count *c = &r->reasons[r->nreasons++];
    snprintf(c->code, sizeof c->code, "%s", code);
    c->n = 1;
    c->base = 0;
}

static void emit(void *ctx, const sk_diag *d)
{
    sk_report *r = ctx;
    // The reasons that --stats lists for skipped input: a note (recovered records that could not
    // be decoded, a test file without tests) is none.
    if (d->severity != SK_SEV_NOTE)
        count(r, d->code);
    if (r->strict && d->severity >= SK_SEV_WARNING)
        r->fatal = true;
    if (r->quiet && d->severity < SK_SEV_ERROR)
        return;
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_diag_render(d, &b);
    fwrite(b.p ? b.p : "", 1, b.n, r->fp);
    sk_buf_fini(&b);
}

void sk_report_init(sk_report *r, bool quiet, bool strict)
{
    memset(r, 0, sizeof *r);
    r->fp = stderr;
    r->quiet = quiet;
    r->strict = strict;
    sk_diags_init(&r->dl, emit, r);
}

void sk_report_fini(sk_report *r)
{
    free(r->reasons);
    r->reasons = NULL;
}

void sk_report_mark(sk_report *r)
{
    for (size_t i = 0; i < r->nreasons; i++)
        r->reasons[i].base = r->reasons[i].n;
}

void sk_report_reasons(
        const sk_report *r, const char *prefix, bool since_mark, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->nreasons && len < n; i++) {
        if (prefix && strncmp(r->reasons[i].code, prefix, strlen(prefix)) != 0)
            continue;
        unsigned long c = r->reasons[i].n - (since_mark ? r->reasons[i].base : 0);
        if (c == 0)
            continue;
        int k = snprintf(out + len, n - len, "%s%s \xC3\x97%lu", len ? ", " : "",
                         r->reasons[i].code, c);
        if (k < 0)
            break;
        len += (size_t)k;
    }
}

void sk_report_msg(sk_report *r, sk_severity sev, const char *fmt, ...)
{
    if (r->strict && sev >= SK_SEV_WARNING) // "no log files found under ...": fatal too
        r->fatal = true;
    if (r->quiet && sev < SK_SEV_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(r->fp, "saker: %s: ", sk_severity_str(sev));
    vfprintf(r->fp, fmt, ap);
    fputc('\n', r->fp);
    va_end(ap);
}
