// fuzz_evtx_xml: bytes as one record's XML (libevtx's dialect) -> sk_evtx_xml_parse -> sk_event.
// Fast, and it targets our own preparation pass and field mapping rather than libevtx.
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "fuzz_common.h"
#include "input/evtx_xml.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    sk_evtx_xml *x = sk_evtx_xml_new();
    sk_event ev;
    sk_event_init(&ev);
    sk_buf err;
    sk_buf_init(&err, 4096);
    // Twice through the same parser: the second parse exercises XML_ParserReset and the reuse of
    // the event arena.
    for (int pass = 0; pass < 2; pass++) {
        sk_buf_reset(&err);
        if (sk_evtx_xml_parse(x, (const char *)data, size, &ev, &err) == SK_OK) {
            fuzz_check_event(&ev);
            const char *first = NULL;
            (void)sk_evtx_xml_truncated(x, &first);
        }
    }
    sk_buf_fini(&err);
    sk_event_fini(&ev);
    sk_evtx_xml_free(x);
    return 0;
}
