// Checks shared by the harnesses: what every reader promises about an event (event.h), turned into
// traps so that a broken promise is a crash the fuzzer keeps.
#ifndef SK_TESTS_FUZZ_COMMON_H
#define SK_TESTS_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/utf.h"
#include "event/event.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

// Says which promise broke (the only output a harness makes), then crashes.
static inline void fuzz_broken(const char *what, const sk_field *f)
{
    fprintf(stderr,
            "fuzz: broken promise: %s (field '%.*s', %u value bytes)\n",
            what,
            f ? (int)(f->name_len > 200 ? 200 : f->name_len) : 0,
            f ? f->name : "",
            f ? f->value_len : 0);
    abort();
}

// Names and values are NUL-terminated, hold no NUL inside, are valid UTF-8 and within the caps.
static inline void fuzz_check_event(const sk_event *ev)
{
    if (sk_event_nfields(ev) > SK_MAX_FIELDS)
        fuzz_broken("more than SK_MAX_FIELDS fields", NULL);
    for (size_t i = 0; i < sk_event_nfields(ev); i++) {
        const sk_field *f = sk_event_field(ev, i);
        if (f->name[f->name_len] != '\0' || f->value[f->value_len] != '\0')
            fuzz_broken("not NUL-terminated", f);
        if (memchr(f->name, '\0', f->name_len) || memchr(f->value, '\0', f->value_len))
            fuzz_broken("NUL inside a name or value", f);
        if (f->value_len > SK_MAX_VALUE_BYTES)
            fuzz_broken("value longer than SK_MAX_VALUE_BYTES", f);
        if (!sk_utf8_valid(f->name, f->name_len))
            fuzz_broken("name is not UTF-8", f);
        if (!sk_utf8_valid(f->value, f->value_len))
            fuzz_broken("value is not UTF-8", f);
    }
}

#endif
