// fuzz_evtx_chunk: one chunk image for the native decoder's chunk level (sk_evtx_chunk_decode).
// The first byte picks the SK_EVTX_CHUNK_* flags (carving included); the rest is the chunk (cut
// to 64 KiB). The same decoder decodes it twice, as a parallel scan reuses one decoder for many
// chunks.
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "input/evtx_native.h"

static sk_status on_event(void *ctx, const sk_event *ev)
{
    (*(size_t *)ctx)++;
    fuzz_check_event(ev);
    return SK_OK;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags =
            data[0] & (SK_EVTX_CHUNK_BEYOND_COUNT | SK_EVTX_CHUNK_NO_CRC | SK_EVTX_CHUNK_RECOVER);
    data++;
    size--;
    if (size > SK_EVTX_CHUNK_BYTES)
        size = SK_EVTX_CHUNK_BYTES;
    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    sk_evtx_chunk *c = sk_evtx_chunk_new();
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        sk_status rc = sk_evtx_chunk_decode(
                c, data, size, (uint64_t)pass, flags, "fuzz.evtx", &diags, on_event, &n);
        (void)rc; // any status is fine; the checks are in on_event and below
        const sk_evtx_chunk_stats *st = sk_evtx_chunk_stats_get(c);
        // The documented accounting: events + recovered == the callbacks made (recovered ones only
        // with SK_EVTX_CHUNK_RECOVER); skipped == records - events.
        if (st->events + st->recovered != n || st->records_skipped + st->events != st->records ||
            (!(flags & SK_EVTX_CHUNK_RECOVER) && (st->recovered || st->recovered_failed)))
            fuzz_broken("chunk stats do not add up", NULL);
    }
    sk_evtx_chunk_free(c);
    return 0;
}
