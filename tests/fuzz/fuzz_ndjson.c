// fuzz_ndjson: the first byte chooses how the stream is fed (its low 5 bits the fread chunk size,
// its high 3 bits how many bytes are handed over as the sniffing prefix); the remaining bytes are
// the NDJSON (or JSON array) stream, read through fmemopen + sk_reader_open_ndjson.
//
// When the stream is one a parallel scan may split (sk_ndjson_splittable), it is also read as two
// parts, cut at every byte of a short stream and at two bytes of a longer one, and the parts
// must give the same events (with their line numbers) and the same diagnostics as the whole.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "input/reader.h"

// A running digest of what a read gave: every event (line, names, values, flags) and diagnostic.
typedef struct digest {
    uint64_t h;
    uint64_t events, diags;
} digest;

static void mix(digest *d, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ b[i]) * 0x100000001B3ull;
    d->h = (d->h ^ n) * 0x100000001B3ull;
}

static void digest_diag(void *ctx, const sk_diag *dg)
{
    digest *d = ctx;
    unsigned long pos[2] = { dg->line, dg->col };
    mix(d, pos, sizeof pos);
    mix(d, dg->code, strlen(dg->code));
    mix(d, dg->message, strlen(dg->message));
    d->diags++;
}

static void digest_event(digest *d, const sk_event *ev)
{
    mix(d, &ev->line, sizeof ev->line);
    for (size_t i = 0; i < sk_event_nfields(ev); i++) {
        const sk_field *f = sk_event_field(ev, i);
        mix(d, f->name, f->name_len);
        mix(d, f->value, f->value_len);
        mix(d, &f->flags, sizeof f->flags);
    }
    d->events++;
}

// Reads buf[first - 1 ..) (or all of it) as the part [first, end) of a file; into d.
static void
read_part(const char *buf, size_t size, size_t first, size_t end, size_t chunk, digest *d)
{
    size_t from = first ? first - 1 : 0;
    FILE *fp = fmemopen((char *)buf + from, size - from, "r");
    if (!fp)
        abort();
    sk_diags diags;
    sk_diags_init(&diags, digest_diag, d);
    sk_reader_opts opts = { .chunk_size = chunk, .ndjson_first = first, .ndjson_end = end };
    for (size_t i = 0; i + 1 < first; i++)
        opts.ndjson_newlines += buf[i] == '\n';
    sk_reader *r = NULL;
    if (sk_reader_open_ndjson(&r, fp, NULL, 0, "fuzz.ndjson", &opts, &diags) != SK_OK)
        abort();
    const sk_event *ev;
    while (sk_reader_next(r, &ev) == SK_OK) {
        fuzz_check_event(ev);
        digest_event(d, ev);
    }
    sk_reader_close(r);
}

static const size_t chunk_sizes[32] = {
    1,   2,   3,   4,   5,   6,   7,   8,    9,    13,   16,   31,   32,   33,    63,    64,
    100, 127, 128, 255, 256, 511, 512, 1000, 1024, 4095, 4096, 4097, 8192, 16384, 65536, 0,
};

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = chunk_sizes[data[0] & 31u];
    size_t plen = (size_t)(data[0] >> 5);
    data++;
    size--;
    if (plen > size)
        plen = size;
    // A heap copy of exactly size bytes, so that ASan sees any read past the end of the stream.
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    FILE *fp = fmemopen(buf + plen, size - plen ? size - plen : 1, "r");
    if (!fp) {
        free(buf);
        return 0;
    }
    if (size - plen == 0)
        (void)fgetc(fp); // an empty stream: fmemopen wants a non-empty buffer
    digest whole = { 0xCBF29CE484222325ull, 0, 0 };
    sk_diags diags;
    sk_diags_init(&diags, digest_diag, &whole);
    sk_reader_opts opts = { .chunk_size = chunk };
    sk_reader *r = NULL;
    if (sk_reader_open_ndjson(&r, fp, buf, plen, "fuzz.ndjson", &opts, &diags) != SK_OK) {
        fclose(fp);
        free(buf);
        return 0;
    }
    const sk_event *ev;
    while (sk_reader_next(r, &ev) == SK_OK) {
        fuzz_check_event(ev);
        digest_event(&whole, ev);
    }
    sk_reader_close(r); // closes fp
    if (size >= 2 && sk_ndjson_splittable((const unsigned char *)buf, size)) {
        // Every cut of a short stream; of a longer one, two that a hash of it picks (each cut
        // reads the stream once more: more would slow the fuzzer down too much).
        digest h = { 0xCBF29CE484222325ull, 0, 0 };
        mix(&h, buf, size);
        size_t ncuts = size <= 96 ? size - 1 : 2;
        for (size_t k = 0; k < ncuts; k++) {
            size_t cut = size <= 96 ? 1 + k : 1 + (size_t)((h.h >> (k * 32)) % (size - 1));
            digest parts = { 0xCBF29CE484222325ull, 0, 0 };
            read_part(buf, size, 0, cut, chunk, &parts);
            read_part(buf, size, cut, 0, chunk, &parts);
            if (parts.h != whole.h || parts.events != whole.events || parts.diags != whole.diags) {
                fprintf(stderr,
                        "fuzz: cut at %zu: %llu events, %llu diagnostics; whole: %llu, %llu%s\n",
                        cut,
                        (unsigned long long)parts.events,
                        (unsigned long long)parts.diags,
                        (unsigned long long)whole.events,
                        (unsigned long long)whole.diags,
                        parts.h != whole.h ? " (contents differ)" : "");
                abort();
            }
        }
    }
    free(buf);
    return 0;
}
