// Format detection and opening of one input: regular files, FIFOs, standard input, and gzip
// compressed forms of each. evtx needs random access (libevtx reads by offset), so evtx arriving
// on a stream or inside gzip is spooled to an unlinked temporary file first.
#include "input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>
#include <zlib.h>

#include "core/mem.h"
#include "core/utf.h"
#include "evtx_native.h"
#include "reader_int.h"

#define SNIFF_BYTES 16

static bool is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The n bytes at p read as the start of JSON text (or of several, one after the other): yajl, fed
// them alone, finds nothing wrong (strings are not checked for UTF-8: a head may cut a character).
static bool json_start(const unsigned char *p, size_t n)
{
    yajl_handle h = yajl_alloc(NULL, NULL, NULL);
    if (!h)
        return true; // out of memory: cannot tell, as when the head ends first
    yajl_config(h, yajl_allow_multiple_values, 1);
    yajl_config(h, yajl_dont_validate_strings, 1);
    bool ok = yajl_parse(h, p, n) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

// The n bytes at p are text: valid UTF-8 (but for a character cut by the end) with no control
// character but tab, CR and LF.
static bool utf8_text(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7F)
            return false;
    size_t end = n; // before a character the end of the head cuts
    for (size_t k = 1; k <= 3 && k <= n && p[n - k] >= 0x80; k++) {
        unsigned char c = p[n - k];
        if ((c & 0xC0) == 0xC0) { // the last lead byte
            size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
            if (len > k)
                end = n - k;
            break;
        }
    }
    return sk_utf8_valid((const char *)p, end);
}

sk_format sk_input_sniff(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "ElfFile\0", 8) == 0)
        return SK_FORMAT_EVTX;
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    while (i < n && is_blank(p[i]))
        i++;
    if (i >= n) // blank so far: an empty dump, or JSON after blank lines (the reader tells)
        return n > 0 ? SK_FORMAT_NDJSON : SK_FORMAT_UNKNOWN;
    if (p[i] != '{' && p[i] != '[')
        return SK_FORMAT_UNKNOWN;
    // What follows the bracket must be able to continue JSON: a key or '}' after '{'; a value or
    // ']' after '['. And the whole head must be able to start JSON, or at least be text (a first
    // line damaged early is skipped and the lines after it read): random data (/dev/urandom
    // starts with '{' or '[' once in 128 reads) must not be read as an endless stream of invalid
    // lines. When the head ends first, it is JSON as far as it goes.
    size_t b = i;
    char open = (char)p[i++];
    while (i < n && is_blank(p[i]))
        i++;
    if (i == n)
        return SK_FORMAT_NDJSON;
    const char *next = open == '{' ? "\"}" : "{[]\"-0123456789tfn";
    if (!p[i] || !strchr(next, p[i]))
        return SK_FORMAT_UNKNOWN;
    return json_start(p + b, n - b) || utf8_text(p + b, n - b) ? SK_FORMAT_NDJSON
                                                                : SK_FORMAT_UNKNOWN;
}

// gzip streams seen through stdio, so the NDJSON reader needs no special case. zlib's inflate is
// used directly rather than gzread: gzread answers a damaged member (a bad CRC in its trailer, a
// corrupt block) with -1 and drops the bytes it decompressed in that call, and it takes a stream
// cut short for a clean end. Here every byte decompressed before the damage is passed on; the
// damage is reported (warning, with how far the data went) and marks the reader's file damaged;
// reading then ends as at end of file. Concatenated members are read one after the other, and
// bytes after the last member that do not start another are ignored (as gzip -d does).
typedef struct gz_src {
    int fd;
    z_stream z;
    bool in_eof;        // no more compressed bytes
    bool ended;         // a member just ended (Z_STREAM_END)
    bool done;          // nothing more will be returned
    bool damaged;       // ... because of damage (reported)
    uint64_t out_total; // decompressed bytes returned so far
    sk_diags *diags;
    char *display;
    sk_reader_stats *stats; // of the reader that reads it, once it is open; NULL before
    unsigned char in[1 << 17];
} gz_src;

static void gz_damage(gz_src *g, const char *what)
{
    sk_diag_emitf(g->diags,
                  SK_SEV_WARNING,
                  g->display,
                  0,
                  0,
                  NULL,
                  "gzip-damaged",
                  "gzip data %s after %llu decompressed bytes; what came before is read",
                  what,
                  (unsigned long long)g->out_total);
    if (g->stats)
        g->stats->damaged = true;
    g->done = g->damaged = true;
}

// At least want compressed bytes in z (fewer only at end of file or after a read error, which is
// reported); the bytes not yet used are kept.
static void gz_need(gz_src *g, size_t want)
{
    while (g->z.avail_in < want && !g->in_eof) {
        if (g->z.avail_in && g->z.next_in != g->in)
            memmove(g->in, g->z.next_in, g->z.avail_in);
        g->z.next_in = g->in;
        ssize_t k;
        do
            k = read(g->fd, g->in + g->z.avail_in, sizeof g->in - g->z.avail_in);
        while (k < 0 && errno == EINTR);
        if (k <= 0) {
            g->in_eof = true;
            if (k < 0)
                sk_diag_emitf(g->diags, SK_SEV_ERROR, g->display, 0, 0, NULL, "read-error",
                              "read error: %s", strerror(errno));
            return;
        }
        g->z.avail_in += (uInt)k;
    }
}

static ssize_t gz_read(void *cookie, char *buf, size_t size)
{
    gz_src *g = cookie;
    if (size > (1u << 30))
        size = 1u << 30;
    g->z.next_out = (Bytef *)buf;
    g->z.avail_out = (uInt)size;
    while (!g->done && g->z.avail_out == size) {
        if (g->ended) { // another member, or the end of the data
            gz_need(g, 2);
            if (g->z.avail_in < 2 || g->z.next_in[0] != 0x1f || g->z.next_in[1] != 0x8b) {
                g->done = true;
                break;
            }
            if (inflateReset(&g->z) != Z_OK) {
                gz_damage(g, "cannot be read");
                break;
            }
            g->ended = false;
        }
        if (g->z.avail_in == 0) {
            gz_need(g, 1);
            if (g->z.avail_in == 0) {
                gz_damage(g, "ends early (the file is cut short)");
                break;
            }
        }
        int rc = inflate(&g->z, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            g->ended = true;
        } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) {
            size_t got = size - g->z.avail_out;
            g->out_total += got;
            gz_damage(g, rc == Z_MEM_ERROR ? "cannot be decompressed (out of memory)"
                                           : "is damaged (a bad block or checksum)");
            return (ssize_t)got;
        }
    }
    size_t got = size - g->z.avail_out;
    g->out_total += got;
    return (ssize_t)got;
}

static int gz_close(void *cookie)
{
    gz_src *g = cookie;
    inflateEnd(&g->z);
    close(g->fd);
    free(g->display);
    free(g);
    return 0;
}

// A FILE that reads the gzip data of fd (taken), or NULL (fd closed).
static FILE *gz_open(int fd, const char *display, sk_diags *diags, gz_src **src)
{
    gz_src *g = calloc(1, sizeof *g);
    if (!g || inflateInit2(&g->z, 15 + 16) != Z_OK) {
        free(g);
        close(fd);
        return NULL;
    }
    g->fd = fd;
    g->diags = diags;
    g->display = sk_xstrdup(display);
    cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
    FILE *fp = fopencookie(g, "rb", io);
    if (!fp) {
        gz_close(g);
        return NULL;
    }
    *src = g;
    return fp;
}

// Reads up to want bytes (fewer only at end of input); returns bytes read or -1 on error.
static long read_full(FILE *fp, unsigned char *p, size_t want)
{
    size_t got = 0;
    while (got < want) {
        size_t k = fread(p + got, 1, want - got, fp);
        if (k == 0)
            return ferror(fp) ? -1 : (long)got;
        got += k;
    }
    return (long)got;
}

// Copies prefix + the rest of fp into an unlinked temp file; returns its /proc/self/fd path in
// path_out (the descriptor stays open in *fd_out and must be closed after the reader opened it).
static sk_status spool(FILE *fp,
                       const unsigned char *prefix,
                       size_t n,
                       const char *display,
                       sk_diags *diags,
                       int *fd_out,
                       char *path_out,
                       size_t path_size)
{
    const char *dir = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/saker-spool-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "spool-failed",
                      "cannot create a temporary file in %s to spool evtx input: %s",
                      dir && *dir ? dir : "/tmp", strerror(errno));
        return SK_ERR_IO;
    }
    unlink(tmpl);
    sk_status st = SK_OK;
    unsigned char *buf = sk_xmalloc(1 << 16);
    size_t k = n;
    const unsigned char *src = prefix;
    for (;;) {
        size_t off = 0;
        while (off < k) {
            ssize_t w = write(fd, src + off, k - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "spool-failed",
                              "cannot spool evtx input to a temporary file: %s", strerror(errno));
                st = SK_ERR_IO;
                goto out;
            }
            off += (size_t)w;
        }
        k = fread(buf, 1, 1 << 16, fp);
        if (k == 0) {
            if (ferror(fp)) {
                sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "read-error",
                              "read error: %s", strerror(errno));
                st = SK_ERR_IO;
            }
            break;
        }
        src = buf;
    }
out:
    free(buf);
    if (st != SK_OK) {
        close(fd);
        return st;
    }
    *fd_out = fd;
    snprintf(path_out, path_size, "/proc/self/fd/%d", fd);
    return SK_OK;
}

// Reads up to want bytes of fd (fewer only at its end); returns bytes read or -1 on error.
static long read_fd(int fd, unsigned char *p, size_t want)
{
    size_t got = 0;
    while (got < want) {
        ssize_t k = read(fd, p + got, want - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long)got;
}

// The stream of a regular file's descriptor fd (taken, closed on failure), at its current
// offset, or NULL. Unbuffered: its reader reads 64 KiB blocks straight into its own buffer, with
// no copy through stdio's and no fstat(2) to size one.
static FILE *file_stream(int fd)
{
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        close(fd);
        return NULL;
    }
    setvbuf(fp, NULL, _IONBF, 0);
    return fp;
}

sk_status sk_input_open(sk_reader **out,
                        const char *path,
                        const sk_reader_opts *opts,
                        sk_diags *diags)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *display = is_stdin ? "<stdin>" : path;
    FILE *fp = NULL;
    bool own_fp = false; // fp is ours to close (not stdin itself)
    // A regular file is opened once and read through this descriptor: its head with read(2), an
    // evtx file by the native reader, JSON through a stream made of it (file_stream). Anything
    // else given by name (a FIFO, a device) becomes a stream at once, as standard input is.
    int fd = -1;
    sk_status st = SK_OK;
    unsigned char head[SNIFF_BYTES] = { 0 };
    long n;
    bool seekable = false;
    gz_src *gz = NULL; // the gzip source under fp, when the input is gzip

    struct stat sb;
    if (is_stdin) {
        fp = stdin;
    } else {
        fd = open(opts && opts->reopen ? opts->reopen : path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &sb) != 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            sk_diag_emitf(diags, SK_SEV_ERROR, path, 0, 0, NULL, "open-failed", "cannot open: %s",
                          strerror(e));
            return SK_ERR_IO;
        }
        if (S_ISDIR(sb.st_mode)) {
            close(fd);
            sk_diag_emitf(diags, SK_SEV_ERROR, path, 0, 0, NULL, "open-failed",
                          "is a directory");
            return SK_ERR_IO;
        }
        if (opts && opts->part_end && (uint64_t)sb.st_size < opts->part_end) {
            close(fd);
            sk_diag_emitf(diags, SK_SEV_ERROR, path, 0, 0, NULL, "file-changed",
                          "is now %llu bytes, shorter than when it was split for reading; its "
                          "part from byte %llu to %llu is not read",
                          (unsigned long long)sb.st_size, (unsigned long long)opts->part_first,
                          (unsigned long long)opts->part_end);
            return SK_ERR_IO;
        }
        seekable = S_ISREG(sb.st_mode);
        if (!seekable) {
            int e = 0;
            fp = fdopen(fd, "rb");
            if (!fp) {
                e = errno;
                close(fd);
            }
            fd = -1;
            own_fp = fp != NULL;
            if (!fp) {
                sk_diag_emitf(diags, SK_SEV_ERROR, path, 0, 0, NULL, "open-failed",
                              "cannot open: %s", strerror(e));
                return SK_ERR_IO;
            }
        }
    }

    n = fd >= 0 ? read_fd(fd, head, sizeof head) : read_full(fp, head, sizeof head);
    if (n < 0) {
        sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "read-error", "read error: %s",
                      strerror(errno));
        st = SK_ERR_IO;
        goto out;
    }

    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
        // gzip: restart decompression from the beginning through zlib.
        int dupfd = -1;
        if (fd >= 0) {
            if (lseek(fd, 0, SEEK_SET) == 0) {
                dupfd = fd;
                fd = -1;
            }
        } else {
            // A stream cannot be re-read: spool the compressed bytes first.
            int sfd;
            char spath[64];
            st = spool(fp, head, (size_t)n, display, diags, &sfd, spath, sizeof spath);
            if (st != SK_OK)
                goto out;
            lseek(sfd, 0, SEEK_SET);
            dupfd = sfd;
        }
        if (dupfd < 0) {
            sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "open-failed",
                          "cannot open: %s", strerror(errno));
            st = SK_ERR_IO;
            goto out;
        }
        FILE *gfp = gz_open(dupfd, display, diags, &gz);
        if (!gfp) {
            sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "open-failed",
                          "cannot open gzip stream");
            st = SK_ERR_IO;
            goto out;
        }
        if (own_fp)
            fclose(fp);
        fp = gfp;
        own_fp = true;
        seekable = false;
        n = read_full(fp, head, sizeof head);
        if (n < 0) {
            sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "read-error",
                          "gzip data is damaged");
            st = SK_ERR_FORMAT;
            goto out;
        }
        if (gz->damaged && n == 0) {
            st = SK_ERR_FORMAT; // damaged from its first bytes: reported, nothing to read
            goto out;
        }
    }

    switch (sk_input_sniff(head, (size_t)n)) {
    case SK_FORMAT_EVTX: {
        bool lib = opts && opts->evtx_reader == SK_EVTX_READER_LIBEVTX;
        if (fd >= 0 && !lib) {
            st = sk_reader_open_evtx_native_fd(out, fd, (uint64_t)sb.st_size, display, opts,
                                               diags);
            fd = -1; // taken
        } else if (fd >= 0) {
            close(fd); // libevtx opens the file itself
            fd = -1;
            st = sk_reader_open_evtx(out, opts && opts->reopen ? opts->reopen : path, display,
                                     opts, diags);
        } else {
            int sfd;
            char spath[64];
            st = spool(fp, head, (size_t)n, display, diags, &sfd, spath, sizeof spath);
            if (st == SK_OK) {
                st = lib ? sk_reader_open_evtx(out, spath, display, opts, diags)
                         : sk_reader_open_evtx_native(out, spath, display, opts, diags);
                close(sfd);
            }
        }
        goto out;
    }
    case SK_FORMAT_NDJSON:
        if (opts && opts->ndjson_first) { // a part: its reader starts at ndjson_first - 1
            if (!seekable ||
                (fd >= 0 ? lseek(fd, (off_t)(opts->ndjson_first - 1), SEEK_SET) < 0
                         : fseeko(fp, (off_t)(opts->ndjson_first - 1), SEEK_SET) != 0)) {
                sk_diag_emitf(diags,
                              SK_SEV_ERROR,
                              display,
                              0,
                              0,
                              NULL,
                              "read-error",
                              "cannot seek to byte %llu: %s",
                              (unsigned long long)(opts->ndjson_first - 1),
                              seekable ? strerror(errno) : "not a regular file");
                st = SK_ERR_IO;
                goto out;
            }
            n = 0;
        }
        if (fd >= 0 && !(fp = file_stream(fd))) {
            fd = -1;
            goto no_stream;
        }
        fd = -1;
        st = sk_reader_open_ndjson(out, fp, head, (size_t)n, display, opts, diags);
        fp = NULL; // taken by the reader, even on failure
        if (st == SK_OK && gz) {
            gz->stats = &(*out)->stats; // damage found later marks the file damaged
            if (gz->damaged) // found while the head was read
                (*out)->stats.damaged = true;
        }
        goto out;
    case SK_FORMAT_UNKNOWN:
        break;
    }
    if (n == 0) {
        // An empty JSON dump holds no events; an empty file claiming to be evtx is damaged.
        size_t len = strlen(display);
        if (len >= 5 && strcasecmp(display + len - 5, ".evtx") == 0) {
            sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "not-evtx",
                          "empty file (no evtx file header); file skipped");
            st = SK_ERR_FORMAT;
            goto out;
        }
        if (fd >= 0 && !(fp = file_stream(fd))) {
            fd = -1;
            goto no_stream;
        }
        fd = -1;
        st = sk_reader_open_ndjson(out, fp, head, 0, display, opts, diags);
        fp = NULL;
        goto out;
    }
    sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "unknown-format",
                  "unrecognised format (neither evtx nor JSON); file skipped");
    st = SK_ERR_FORMAT;
    goto out;
no_stream:
    sk_diag_emitf(diags, SK_SEV_ERROR, display, 0, 0, NULL, "open-failed", "cannot open: %s",
                  strerror(errno));
    st = SK_ERR_IO;
out:
    if (fp && own_fp)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    return st;
}
