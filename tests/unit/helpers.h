// Shared helpers for the Criterion unit tests.
#ifndef SK_TESTS_HELPERS_H
#define SK_TESTS_HELPERS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"

// A diagnostics sink that keeps the rendered text of every diagnostic (GCC style, one per line)
// and the codes, for exact assertions.
typedef struct sk_test_diags {
    sk_diags dl;
    char text[65536];
    size_t len;
} sk_test_diags;

void sk_test_diags_init(sk_test_diags *t);
// The corpus folder (../shared/corpus) or NULL when it is absent; tests then skip, saying so.
const char *sk_test_corpus(void);
// Full path of a file inside the source tree.
const char *sk_test_src(const char *rel, char *buf, size_t n);

// Appends (heap copies) the regular files under dir whose names end with suffix (NULL: all), at
// most max_depth folders deep (names that start with '.' left out), to *out (*n used, *cap
// allocated), each folder's in name order.
void sk_test_list_files(
        const char *dir, int max_depth, const char *suffix, char ***out, size_t *n, size_t *cap);
// Frees what sk_test_list_files made.
void sk_test_free_files(char **files, size_t n);
// s ends with suffix.
bool sk_test_has_suffix(const char *s, const char *suffix);

// Appends (heap copies) the event logs under dir, at most 8 folders deep, to *out (*n used, *cap
// allocated): *.evtx, and *.json inside a folder whose path has "/ndjson".
void sk_test_collect_logs(const char *dir, char ***out, size_t *n, size_t *cap);

// Calls LeakSanitizer when the test runs under ASan (Criterion ignores leaks in its workers).
void sk_test_no_leaks(void);
#define SK_ASSERT_NO_LEAKS() sk_test_no_leaks()

#endif
