// Timestamps. saker keeps times as Windows FILETIME ticks (100 ns since 1601-01-01 UTC) and
// prints them as Windows renders them: UTC ISO-8601 with 7 fractional digits.
#ifndef SK_CORE_TIMEFMT_H
#define SK_CORE_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Ticks between 1601-01-01 and 1970-01-01.
#define SK_FILETIME_UNIX_EPOCH 116444736000000000ULL

// Writes "YYYY-MM-DDTHH:MM:SS.fffffffZ" (28 chars + NUL) into out (at least 29 bytes).
void sk_time_format(uint64_t filetime, char out[29]);
// Parses ISO-8601 / RFC 3339 ("2024-05-01T10:22:03.1234567Z", "...+02:00", no zone = UTC) and the
// space-separated form "2020-10-19 03:30:41.104". Fractions beyond 7 digits are truncated.
// Returns false (and leaves *out alone) when s is not such a time.
bool sk_time_parse(const char *s, size_t n, uint64_t *out);

#endif
