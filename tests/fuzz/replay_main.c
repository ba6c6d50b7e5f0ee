// Replays inputs through one harness without libFuzzer, so that a normal (gcc) build reruns every
// committed corpus input (meson test --suite fuzz-regress), as libFuzzer's own driver would.
//   replay_<target> PATH...   (a file, or a folder whose regular files are run in name order)
// Exits 0 when every input ran (a crash or a sanitizer report ends the process otherwise), 2 when
// a path cannot be read, 77 (skip) when no input was found.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(fp) || !buf;
    fclose(fp);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    // An exact-size copy, so that a read past the end shows under ASan or valgrind.
    unsigned char *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    (void)LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

// Names of a folder, NUL-separated in one buffer, and their offsets (sorted by name).
typedef struct names {
    char *pool;
    size_t used, cap;
    size_t *off;
    size_t n, ncap;
} names;

static const char *sort_pool; // qsort has no context argument

static int cmp_off(const void *a, const void *b)
{
    return strcmp(sort_pool + *(const size_t *)a, sort_pool + *(const size_t *)b);
}

static void names_add(names *nm, const char *s)
{
    size_t len = strlen(s) + 1;
    while (nm->used + len > nm->cap) {
        nm->cap *= 2;
        char *p = realloc(nm->pool, nm->cap);
        if (!p)
            abort();
        nm->pool = p;
    }
    if (nm->n == nm->ncap) {
        nm->ncap *= 2;
        size_t *o = realloc(nm->off, nm->ncap * sizeof *o);
        if (!o)
            abort();
        nm->off = o;
    }
    memcpy(nm->pool + nm->used, s, len);
    nm->off[nm->n++] = nm->used;
    nm->used += len;
}

// Runs the regular files of dir in name order; returns how many ran, or -1.
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    names nm = { .cap = 4096, .ncap = 64 };
    nm.pool = malloc(nm.cap);
    nm.off = malloc(nm.ncap * sizeof *nm.off);
    if (!nm.pool || !nm.off)
        abort();
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            names_add(&nm, e->d_name);
    closedir(d);
    if (nm.n > 1) {
        sort_pool = nm.pool;
        qsort(nm.off, nm.n, sizeof *nm.off, cmp_off);
    }
    long ran = 0;
    for (size_t i = 0; i < nm.n; i++) {
        const char *name = nm.pool + nm.off[i];
        size_t len = strlen(dir) + strlen(name) + 2;
        char *p = malloc(len);
        if (!p)
            abort();
        snprintf(p, len, "%s/%s", dir, name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(p) != 0)
                ran = -1;
            else if (ran >= 0)
                ran++;
        }
        free(p);
    }
    free(nm.pool);
    free(nm.off);
    return ran;
}

int main(int argc, char **argv)
{
    long total = 0;
    int status = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            status = 2;
            continue;
        }
        long ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : (run_file(argv[i]) == 0 ? 1 : -1);
        if (ran < 0)
            status = 2;
        else
            total += ran;
    }
    printf("replayed %ld inputs\n", total);
    if (status == 0 && total == 0)
        return 77;
    return status;
}
