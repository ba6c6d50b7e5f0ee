// Shared helpers for the Criterion unit tests.
#include "helpers.h"

#include <stdio.h>
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

static void collect_logs(const char *dir, char ***out, size_t *n, size_t *cap, int depth)
{
    if (depth > 8)
        return;
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        size_t l = strlen(de->d_name);
        if ((l > 5 && strcmp(de->d_name + l - 5, ".evtx") == 0) ||
            (l > 5 && strcmp(de->d_name + l - 5, ".json") == 0 && strstr(dir, "/ndjson"))) {
            sk_xgrow((void **)out, cap, *n + 1, sizeof(char *));
            (*out)[(*n)++] = sk_xstrdup(p);
        } else if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
            collect_logs(p, out, n, cap, depth + 1);
        }
    }
    closedir(dp);
}

void sk_test_collect_logs(const char *dir, char ***out, size_t *n, size_t *cap)
{
    collect_logs(dir, out, n, cap, 0);
}
