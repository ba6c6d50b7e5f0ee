// Whole-line output with honest error reporting.
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLUSH_AT (64u * 1024u)

sk_status sk_out_open(sk_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    sk_buf_init(&o->pending, (size_t)1 << 40);
    if (!path || strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        o->name = "standard output";
    } else {
        o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (o->fd < 0) {
            o->error = errno;
            return SK_ERR_IO;
        }
        o->own_fd = true;
        o->name = path;
    }
    struct stat sb;
    if (fstat(o->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        o->regular = true;
        o->committed = lseek(o->fd, 0, SEEK_CUR);
        if (o->committed < 0)
            o->committed = 0;
    }
    return SK_OK;
}

// Writes p[0..n), whole lines, and empties pending (which p may be).
static sk_status write_out(sk_out *o, const char *p, size_t n)
{
    if (o->before_write && n)
        o->before_write(o->before_ctx);
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(o->fd, p + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE) {
                o->pipe_closed = true;
                sk_buf_reset(&o->pending);
                return SK_DONE;
            }
            o->error = errno;
            // Cut a regular file back to the last whole line written before this batch.
            if (o->regular && off > 0 && ftruncate(o->fd, o->committed) == 0)
                (void)lseek(o->fd, o->committed, SEEK_SET);
            sk_buf_reset(&o->pending);
            return SK_ERR_IO;
        }
        off += (size_t)w;
    }
    o->committed += (off_t)off;
    sk_buf_reset(&o->pending);
    return SK_OK;
}

sk_status sk_out_flush(sk_out *o)
{
    if (o->pipe_closed)
        return SK_DONE;
    if (o->error)
        return SK_ERR_IO;
    return write_out(o, o->pending.p, o->pending.n);
}

sk_status sk_out_line(sk_out *o, const char *p, size_t n)
{
    if (o->pipe_closed)
        return SK_DONE;
    if (o->error)
        return SK_ERR_IO;
    if (n >= FLUSH_AT) { // a large line is written from where it is, not copied first
        sk_status st = o->pending.n ? sk_out_flush(o) : SK_OK;
        return st == SK_OK ? write_out(o, p, n) : st;
    }
    if (sk_buf_add(&o->pending, p, n) != SK_OK)
        return SK_ERR_IO;
    if (o->line_buffered || o->pending.n >= FLUSH_AT)
        return sk_out_flush(o);
    return SK_OK;
}

sk_status sk_out_close(sk_out *o)
{
    sk_status st = SK_OK;
    if (!o->pipe_closed && !o->error)
        st = sk_out_flush(o);
    else if (o->pipe_closed)
        st = SK_DONE;
    else
        st = SK_ERR_IO;
    if (o->own_fd) {
        if (close(o->fd) != 0 && st == SK_OK) {
            o->error = errno;
            st = SK_ERR_IO;
        }
    }
    sk_buf_fini(&o->pending);
    return st;
}
