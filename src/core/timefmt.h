// Timestamps. saker keeps times as Windows FILETIME ticks (100 ns since 1601-01-01 UTC) and
// prints them as Windows renders them: UTC ISO-8601 with 7 fractional digits.
#ifndef SK_CORE_TIMEFMT_H
#define SK_CORE_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Ticks between 1601-01-01 and 1970-01-01.
#define SK_FILETIME_UNIX_EPOCH 116444736000000000ULL

// The first FILETIME past year 9999 (10000-01-01T00:00:00Z): the four-digit form cannot show it.
#define SK_FILETIME_TEXT_END 2650467744000000000ULL

// Writes "YYYY-MM-DDTHH:MM:SS.fffffffZ" (28 chars + NUL) into out (at least 29 bytes). filetime
// must be below SK_FILETIME_TEXT_END (a later one is written as 9999-12-31T23:59:59.9999999Z).
void sk_time_format(uint64_t filetime, char out[29]);
// Parses ISO-8601 / RFC 3339 ("2024-05-01T10:22:03.1234567Z", "...+02:00", no zone = UTC) and the
// space-separated form "2020-10-19 03:30:41.104". Fractions beyond 7 digits are truncated.
// Returns false (and leaves *out alone) when s is not such a time.
bool sk_time_parse(const char *s, size_t n, uint64_t *out);

#endif
