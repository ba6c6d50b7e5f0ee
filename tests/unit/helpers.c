// Shared helpers for the Criterion unit tests.
#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define SK_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SK_HAVE_LSAN 1
#endif
#endif
#ifdef SK_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

static void collect(void *ctx, const sk_diag *d)
{
    sk_test_diags *t = ctx;
    sk_buf b;
    sk_buf_init(&b, 1 << 16);
    sk_diag_render(d, &b);
    size_t room = sizeof(t->text) - 1 - t->len;
    size_t n = b.n < room ? b.n : room;
    memcpy(t->text + t->len, sk_buf_str(&b), n);
    t->len += n;
    t->text[t->len] = '\0';
    sk_buf_fini(&b);
}

void sk_test_diags_init(sk_test_diags *t)
{
    t->len = 0;
    t->text[0] = '\0';
    sk_diags_init(&t->dl, collect, t);
}

const char *sk_test_corpus(void)
{
    struct stat st;
    if (stat(SK_TEST_CORPUS, &st) == 0 && S_ISDIR(st.st_mode))
        return SK_TEST_CORPUS;
    return NULL;
}

const char *sk_test_src(const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", SK_TEST_SRCDIR, rel);
    return buf;
}

void sk_test_no_leaks(void)
{
#ifdef SK_HAVE_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (see above)");
#endif
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sk_test_list_files(
        const char *dir, int max_depth, const char *suffix, char ***out, size_t *n, size_t *cap)
{
    if (max_depth < 0)
        return;
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    char **names = NULL;
    size_t nn = 0, ncap = 0;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        sk_xgrow((void **)&names, &ncap, nn + 1, sizeof(char *));
        names[nn++] = sk_xstrdup(de->d_name);
    }
    closedir(dp);
    qsort(names, nn, sizeof(char *), cmp_names);
    for (size_t i = 0; i < nn; i++) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(p, &sb) != 0) {
            free(names[i]);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            sk_test_list_files(p, max_depth - 1, suffix, out, n, cap);
        } else if (S_ISREG(sb.st_mode) && (!suffix || sk_test_has_suffix(names[i], suffix))) {
            sk_xgrow((void **)out, cap, *n + 1, sizeof(char *));
            (*out)[(*n)++] = sk_xstrdup(p);
        }
        free(names[i]);
    }
    free(names);
}

void sk_test_free_files(char **files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

bool sk_test_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void sk_test_collect_logs(const char *dir, char ***out, size_t *n, size_t *cap)
{
    char **all = NULL;
    size_t nall = 0, acap = 0;
    sk_test_list_files(dir, 8, NULL, &all, &nall, &acap);
    for (size_t i = 0; i < nall; i++) {
        const char *slash = strrchr(all[i], '/');
        bool ndjson = slash && memmem(all[i], (size_t)(slash - all[i]), "/ndjson", 7);
        if (sk_test_has_suffix(all[i], ".evtx") ||
            (ndjson && sk_test_has_suffix(all[i], ".json"))) {
            sk_xgrow((void **)out, cap, *n + 1, sizeof(char *));
            (*out)[(*n)++] = all[i];
        } else {
            free(all[i]);
        }
    }
    free(all);
}
