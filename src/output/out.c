// Whole-line output with honest error reporting.
#include "out.h"

#include <errno.h>
#include <string.h>

#include <fcntl.h>
#include <poll.h>
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
        // An O_APPEND descriptor (`saker ... >> results.jsonl`) writes at the end of the file
        // whatever its offset, which stays 0 until the first write: the offset would make
        // cut_back() empty the results of earlier runs. Our lines go after the file's end.
        int fl = fcntl(o->fd, F_GETFL);
        if (fl >= 0 && (fl & O_APPEND))
            o->committed = sb.st_size;
        else
            o->committed = lseek(o->fd, 0, SEEK_CUR);
        if (o->committed < 0)
            o->committed = 0;
    }
    return SK_OK;
}

// After a write of a batch failed part-way, having written its first `partial` bytes at
// o->committed: cuts the file back to the last whole line before the batch, so readers never see
// half a JSON line. Only when the file ends exactly at the end of those bytes, i.e. every byte
// from o->committed on is one saker wrote. The file is the user's, and data after our lines must
// never be destroyed: a file opened with `1<>` (written over from its start) has its old tail
// there, and one shared with another process (`>>` from two runs) may have its lines there. The
// half line then stays, the lesser harm. (Another writer could still append between fstat and
// ftruncate; on a disk that just refused our write that is unlikely, and no call closes that
// window.)
static void cut_back(sk_out *o, size_t partial)
{
    struct stat sb;
    if (fstat(o->fd, &sb) != 0 || sb.st_size != o->committed + (off_t)partial)
        return;
    if (ftruncate(o->fd, o->committed) == 0)
        (void)lseek(o->fd, o->committed, SEEK_SET);
}

static bool would_block(int e)
{
    // The same value on Linux; distinct on some systems, where both can be returned.
    return e == EAGAIN || e == EWOULDBLOCK;
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
            if (would_block(errno)) {
                // Standard output may be a non-blocking pipe or socket (O_NONBLOCK is a flag of
                // the open file, set by whoever shares it, e.g. a Node.js parent): the reader is
                // only slower than we are. Wait until it makes room; a reader that went away
                // makes poll(2) return too, and the next write(2) then says EPIPE.
                struct pollfd pfd = { .fd = o->fd, .events = POLLOUT };
                if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                    continue;
            }
            if (errno == EPIPE) {
                o->pipe_closed = true;
                sk_buf_reset(&o->pending);
                return SK_DONE;
            }
            o->error = errno;
            if (o->regular && off > 0)
                cut_back(o, off);
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
