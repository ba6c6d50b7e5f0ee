// fuzz_evtx_native: bytes -> an evtx file image -> the native BinXML decoder (in memory) -> every
// event. Built only when src/input/evtx_native.h declares sk_reader_open_evtx_native_memory with
// the same shape as sk_reader_open_evtx_memory (tests/fuzz/meson.build probes it).
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "input/evtx_native.h"
#include "input/reader.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    for (int recovered = 0; recovered < 2; recovered++) {
        sk_reader_opts opts = { .recovered = recovered != 0 };
        sk_reader *r = NULL;
        if (sk_reader_open_evtx_native_memory(&r, data, size, "fuzz.evtx", &opts, &diags) != SK_OK)
            return 0;
        const sk_event *ev;
        for (size_t i = 0; i < size + 16 && sk_reader_next(r, &ev) == SK_OK; i++)
            fuzz_check_event(ev);
        sk_reader_close(r);
    }
    return 0;
}
