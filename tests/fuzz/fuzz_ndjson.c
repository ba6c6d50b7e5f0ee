// fuzz_ndjson: the first byte chooses how the stream is fed (its low 5 bits the fread chunk size,
// its high 3 bits how many bytes are handed over as the sniffing prefix); the remaining bytes are
// the NDJSON (or JSON array) stream, read through fmemopen + sk_reader_open_ndjson.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "input/reader.h"

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
    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    sk_reader_opts opts = { .chunk_size = chunk };
    sk_reader *r = NULL;
    if (sk_reader_open_ndjson(&r, fp, buf, plen, "fuzz.ndjson", &opts, &diags) != SK_OK) {
        fclose(fp);
        free(buf);
        return 0;
    }
    const sk_event *ev;
    while (sk_reader_next(r, &ev) == SK_OK)
        fuzz_check_event(ev);
    sk_reader_close(r); // closes fp
    free(buf);
    return 0;
}
