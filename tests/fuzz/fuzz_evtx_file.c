// fuzz_evtx_file: bytes -> an evtx file image -> the libevtx reader (in memory) -> every event.
// libevtx parses the chunks at open; our side renders every record to XML and parses it
// (evtx_xml.c), so this reaches libevtx, libfwevt and our record handling together.
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "input/evtx_xml.h"
#include "input/reader.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    // Recovered (deleted) records or not: picked by the size's parity, so that one pass does
    // (libevtx allocates heavily; two passes per input halved the rate).
    sk_reader_opts opts = { .recovered = (size & 1u) != 0 };
    sk_reader *r = NULL;
    if (sk_reader_open_evtx_memory(&r, data, size, "fuzz.evtx", &opts, &diags) != SK_OK)
        return 0;
    const sk_event *ev;
    // A file image of size bytes holds at most one record per 24 bytes; the cap only guards
    // against a reader that never ends.
    for (size_t i = 0; i < size / 24 + 16 && sk_reader_next(r, &ev) == SK_OK; i++)
        fuzz_check_event(ev);
    sk_reader_close(r);
    return 0;
}
