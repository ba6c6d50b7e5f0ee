// An LD_PRELOAD shim for the fault-injection tests (faults.py): makes reads of one named file
// fail after a number of bytes, or writes to one named file stop part-way with "No space left on
// device", without FUSE or root.
//   SK_FAULT_READ_PATH=suffix   SK_FAULT_READ_AFTER=N    read(2), pread(2) and fread(3) of a
//                                                        file whose path ends with suffix give
//                                                        EIO once N bytes of it were read
//   SK_FAULT_WRITE_PATH=suffix  SK_FAULT_WRITE_AFTER=N   write(2) to such a file is cut at N
//                                                        bytes in all, then fails with ENOSPC
// The path of a descriptor comes from /proc/self/fd. glibc's stdio reads through its internal
// read, so fread is wrapped too (the stream's error flag is set, as for a real read error).
// Meson builds with _FILE_OFFSET_BITS=64, which renames pread to pread64 in the headers; this
// shim defines both symbols itself (libraries may call either).
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef size_t (*fread_fn)(void *, size_t, size_t, FILE *);

static unsigned long long read_done, written;

// The next definition of name (libc's, or a sanitizer's interceptor). Through uintptr_t: ISO C has
// no conversion between object and function pointers.
static uintptr_t next_sym(const char *name)
{
    return (uintptr_t)dlsym(RTLD_NEXT, name);
}

static int fd_matches(int fd, const char *var)
{
    const char *suffix = getenv(var);
    if (!suffix || !*suffix || fd < 0)
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    size_t ls = strlen(suffix), lp = (size_t)n;
    return lp >= ls && strcmp(path + lp - ls, suffix) == 0;
}

static unsigned long long limit(const char *var)
{
    const char *v = getenv(var);
    return v ? strtoull(v, NULL, 0) : 0;
}

// How many of want bytes may still be read from fd: want when fd is not the target; 0 with errno
// EIO once the budget is spent.
static size_t read_budget(int fd, size_t want, int *fail)
{
    *fail = 0;
    if (!fd_matches(fd, "SK_FAULT_READ_PATH"))
        return want;
    unsigned long long after = limit("SK_FAULT_READ_AFTER");
    if (read_done >= after) {
        *fail = 1;
        return 0;
    }
    if (want > after - read_done)
        want = (size_t)(after - read_done);
    return want;
}

ssize_t read(int fd, void *buf, size_t count)
{
    static read_fn real;
    if (!real)
        real = (read_fn)next_sym("read");
    int fail;
    size_t n = read_budget(fd, count, &fail);
    if (fail) {
        errno = EIO;
        return -1;
    }
    ssize_t got = real(fd, buf, n);
    if (got > 0 && fd_matches(fd, "SK_FAULT_READ_PATH"))
        read_done += (unsigned long long)got;
    return got;
}

ssize_t pread(int fd, void *buf, size_t count, off_t off)
{
    static pread_fn real;
    if (!real)
        real = (pread_fn)next_sym("pread");
    int fail;
    size_t n = read_budget(fd, count, &fail);
    if (fail) {
        errno = EIO;
        return -1;
    }
    ssize_t got = real(fd, buf, n, off);
    if (got > 0 && fd_matches(fd, "SK_FAULT_READ_PATH"))
        read_done += (unsigned long long)got;
    return got;
}

ssize_t pread64(int fd, void *buf, size_t count, off_t off)
{
    return pread(fd, buf, count, off);
}

size_t fread(void *ptr, size_t size, size_t nmemb, FILE *fp)
{
    static fread_fn real;
    if (!real)
        real = (fread_fn)next_sym("fread");
    if (size == 0 || !fd_matches(fileno(fp), "SK_FAULT_READ_PATH"))
        return real(ptr, size, nmemb, fp);
    int fail;
    size_t bytes = read_budget(fileno(fp), size * nmemb, &fail);
    size_t items = bytes / size;
    if (fail || items == 0) {
        // A real read error: errno and the stream's error flag (glibc's _IO_ERR_SEEN).
        errno = EIO;
        fp->_flags |= 0x20;
        return 0;
    }
    size_t got = real(ptr, size, items, fp);
    read_done += (unsigned long long)(got * size);
    return got;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static write_fn real;
    if (!real)
        real = (write_fn)next_sym("write");
    if (!fd_matches(fd, "SK_FAULT_WRITE_PATH"))
        return real(fd, buf, count);
    unsigned long long after = limit("SK_FAULT_WRITE_AFTER");
    if (written >= after) {
        errno = ENOSPC;
        return -1;
    }
    if (count > after - written)
        count = (size_t)(after - written);
    ssize_t w = real(fd, buf, count);
    if (w > 0)
        written += (unsigned long long)w;
    return w;
}
