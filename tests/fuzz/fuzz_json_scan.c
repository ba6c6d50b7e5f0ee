// fuzz_json_scan: the fast JSON scanner (src/input/json_scan.c) against yajl, its oracle. The
// input is one document. Whenever the scanner accepts it, yajl (configured as the NDJSON reader
// configures it) must accept it too and make the same callbacks with the same bytes; a string
// the scanner calls clean must be valid UTF-8 without NUL. A difference is a crash. yajl reads
// the document with each surrogate escape that is not half of a pair written as \ufffd, which
// is how the scanner decodes it (yajl's own decoding of those is wrong: json_scan.h).
//
// Each input is also tried with every callback refusing in turn (the scanner must then give up
// at that callback), which is the path the NDJSON reader takes when a name is too long. When the
// scanner refuses a document without giving up (it says where it stopped: the error position the
// NDJSON reader reports), yajl must refuse it too, and the position must be inside the text.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "core/utf.h"
#include "fuzz_common.h"
#include "input/json_scan.h"

typedef struct rec {
    unsigned char *p;
    size_t n, cap;
    long refuse_at; // the callback number that returns 0 (-1: none)
    long calls;
} rec;

static int put(rec *r, char kind, const void *s, size_t n)
{
    if (r->n + n + 1 + sizeof n > r->cap) {
        size_t cap = (r->n + n + 1 + sizeof n) * 2;
        unsigned char *p = realloc(r->p, cap);
        if (!p)
            abort();
        r->p = p;
        r->cap = cap;
    }
    r->p[r->n++] = (unsigned char)kind;
    memcpy(r->p + r->n, &n, sizeof n);
    r->n += sizeof n;
    if (n)
        memcpy(r->p + r->n, s, n);
    r->n += n;
    return r->calls++ != r->refuse_at;
}

static void check_clean(const char *s, size_t n, bool clean)
{
    if (clean && (memchr(s, 0, n) || !sk_utf8_valid(s, n))) {
        fprintf(stderr, "fuzz: json_scan called a string clean that is not\n");
        abort();
    }
}

static int y_null(void *c)
{
    return put(c, 'z', NULL, 0);
}
static int y_bool(void *c, int b)
{
    return put(c, b ? 't' : 'f', NULL, 0);
}
static int y_number(void *c, const char *s, size_t n)
{
    return put(c, '#', s, n);
}
static int y_string(void *c, const unsigned char *s, size_t n)
{
    return put(c, 's', s, n);
}
static int y_key(void *c, const unsigned char *s, size_t n)
{
    return put(c, 'k', s, n);
}
static int y_start_map(void *c)
{
    return put(c, '{', NULL, 0);
}
static int y_end_map(void *c)
{
    return put(c, '}', NULL, 0);
}
static int y_start_array(void *c)
{
    return put(c, '[', NULL, 0);
}
static int y_end_array(void *c)
{
    return put(c, ']', NULL, 0);
}
static int f_string(void *c, const char *s, size_t n, bool clean)
{
    check_clean(s, n, clean);
    return put(c, 's', s, n);
}
static int f_key(void *c, const char *s, size_t n, bool clean)
{
    check_clean(s, n, clean);
    return put(c, 'k', s, n);
}

static const yajl_callbacks ycb = {
    .yajl_null = y_null,
    .yajl_boolean = y_bool,
    .yajl_number = y_number,
    .yajl_string = y_string,
    .yajl_start_map = y_start_map,
    .yajl_map_key = y_key,
    .yajl_end_map = y_end_map,
    .yajl_start_array = y_start_array,
    .yajl_end_array = y_end_array,
};

static const sk_json_sax fcb = {
    .null = y_null,
    .boolean = y_bool,
    .number = y_number,
    .string = f_string,
    .start_map = y_start_map,
    .map_key = f_key,
    .end_map = y_end_map,
    .start_array = y_start_array,
    .end_array = y_end_array,
};

// Whether yajl accepts text[0..size) as the NDJSON reader reads it; its callbacks go to *y.
static bool yajl_accepts(const char *text, size_t size, rec *y)
{
    char *ytext = malloc(size ? size : 1);
    if (!ytext)
        abort();
    if (size)
        memcpy(ytext, text, size);
    sk_json_unpaired_to_fffd(ytext, size);
    yajl_handle h = yajl_alloc(&ycb, NULL, y);
    yajl_status st = yajl_parse(h, (const unsigned char *)ytext, size);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    yajl_free(h);
    free(ytext);
    return st == yajl_status_ok;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    // A heap copy of exactly size bytes, so that ASan sees any read past the end.
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    sk_json_scratch scratch = { 0 };
    rec f = { .refuse_at = -1 };
    size_t stop = 0;
    bool ok = sk_json_scan(&fcb, &f, text, size, &scratch, &stop);
    if (!ok && stop != SIZE_MAX) {
        rec y = { .refuse_at = -1 };
        if (stop > size) {
            fprintf(stderr, "fuzz: json_scan stopped at %zu, past the end (%zu)\n", stop, size);
            abort();
        }
        // yajl takes a document followed by the start of an unfinished token ('{"a":1} "'):
        // the text before the stop is then a whole document on its own.
        rec head = { .refuse_at = -1 };
        if (yajl_accepts(text, size, &y) && !yajl_accepts(text, stop, &head)) {
            fprintf(stderr, "fuzz: json_scan refused (at %zu) a document yajl accepts\n", stop);
            abort();
        }
        free(y.p);
        free(head.p);
    }
    if (ok) {
        rec y = { .refuse_at = -1 };
        if (!yajl_accepts(text, size, &y)) {
            fprintf(stderr, "fuzz: json_scan accepted a document yajl rejects\n");
            abort();
        }
        if (y.n != f.n || memcmp(y.p, f.p, f.n) != 0) {
            fprintf(stderr, "fuzz: json_scan and yajl made different callbacks\n");
            abort();
        }
        free(y.p);
        // A refusing callback makes the scanner give up, at whichever callback it is.
        for (long k = 0; k < f.calls && k < 64; k++) {
            rec g = { .refuse_at = k };
            if (sk_json_scan(&fcb, &g, text, size, &scratch, NULL) || g.calls != k + 1) {
                fprintf(stderr, "fuzz: json_scan went on after callback %ld refused\n", k);
                abort();
            }
            free(g.p);
        }
    }
    free(f.p);
    sk_json_scratch_free(&scratch);
    free(text);
    return 0;
}
