// The evtx reader on top of libevtx (+ libbfio for file access) and expat (evtx_xml.c).
//
// libevtx reads every chunk at open and keeps an index of the records; each record is then
// fetched by index, rendered to XML by libevtx into a buffer that only grows, and parsed into the
// reader's one sk_event. Damage is never fatal: a record libevtx cannot fetch or render, or whose
// XML does not parse, is reported ("file: record 4711: warning: ...; record skipped"), counted in
// stats.records_skipped, and the next record is read, so that
//   stats.events + stats.records_skipped == libevtx_file_get_number_of_records().
// Diagnostics name a record by its EventRecordID ("record 4711", from the record header) when
// libevtx could fetch it, otherwise by libevtx's 0-based index ("record index 89").
//
// With opts.recovered, libevtx's recovered records (carved from chunk slack) follow the live ones,
// marked ev->recovered. Most of those are fragments libevtx cannot decode (in the corpus, all of
// them for most clean files), so a failed recovered record is not a skip of the log's content: the
// failures are summed up in one note at the end, not counted in records_skipped.
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <libbfio.h>
#include <libevtx.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/limits.h"
#include "core/mem.h"
#include "evtx_xml.h"
#include "reader_int.h"

// Size of the evtx file header (the first chunk follows it).
#define EVTX_FILE_HEADER_BYTES 4096u

typedef struct evtx_reader {
    sk_reader base;
    libbfio_handle_t *bfio;
    libevtx_file_t *file;
    sk_evtx_xml *xml;
    uint8_t *xbuf; // rendered XML of the current record; only grows
    size_t xcap;
    sk_buf err;
    sk_event ev;
    int nrecords;
    int nrecovered;
    int index;         // next index in the current pass
    bool in_recovered; // the live records are done; reading recovered ones
    bool done;
    unsigned long recovered_failed;
} evtx_reader;

// libyal errors carry a chain of messages, outermost last ("libevtx_file_get_record_by_index:
// unable to retrieve record values: 0."); the innermost one says what is wrong ("invalid binary XML
// token - unsupported type: 0x05."). Writes that one, without its function prefix and final period.
static void yal_text(char *out, size_t n, const char *bt)
{
    size_t len = strcspn(bt, "\n");
    const char *s = bt;
    const char *colon = memchr(s, ':', len);
    if (colon && colon + 1 < s + len && colon[1] == ' ' &&
        memchr(s, ' ', (size_t)(colon - s)) == NULL) {
        len -= (size_t)(colon + 2 - s);
        s = colon + 2;
    }
    while (len > 0 && (s[len - 1] == '.' || s[len - 1] == ' ' || s[len - 1] == '\r'))
        len--;
    if (len == 0) {
        s = "unknown libevtx error";
        len = strlen(s);
    }
    snprintf(out, n, "%.*s", (int)len, s);
}

// Renders and frees *e (STYLE 3.5: libyal errors are always freed).
static void evtx_error_text(libevtx_error_t **e, char *out, size_t n)
{
    char bt[2048];
    bt[0] = '\0';
    if (*e && libevtx_error_backtrace_sprint(*e, bt, sizeof bt) < 0)
        (void)libevtx_error_sprint(*e, bt, sizeof bt);
    libevtx_error_free(e);
    yal_text(out, n, bt);
}

static void bfio_error_text(libbfio_error_t **e, char *out, size_t n)
{
    char bt[2048];
    bt[0] = '\0';
    if (*e && libbfio_error_backtrace_sprint(*e, bt, sizeof bt) < 0)
        (void)libbfio_error_sprint(*e, bt, sizeof bt);
    libbfio_error_free(e);
    yal_text(out, n, bt);
}

static void record_where(char *out, size_t n, bool recovered, bool have_id, uint64_t id, int index)
{
    if (have_id)
        snprintf(out, n, "%srecord %llu", recovered ? "recovered " : "", (unsigned long long)id);
    else
        snprintf(out, n, "%srecord index %d", recovered ? "recovered " : "", index);
}

static void record_skipped(evtx_reader *r,
                           bool recovered,
                           const char *where,
                           const char *code,
                           const char *fmt,
                           const char *text)
{
    if (recovered) {
        r->recovered_failed++;
        return;
    }
    r->base.stats.records_skipped++;
    sk_diag_emitf(r->base.diags, SK_SEV_WARNING, r->base.display, 0, 0, where, code, fmt, text);
}

// Renders record rec into r->xbuf. Returns the XML length (without NUL), or -1 after reporting.
static long render(evtx_reader *r, libevtx_record_t *rec, bool recovered, const char *where)
{
    libevtx_error_t *e = NULL;
    char text[512];
    size_t size = 0;
    if (libevtx_record_get_utf8_xml_string_size(rec, &size, &e) != 1 || size == 0) {
        evtx_error_text(&e, text, sizeof text);
        record_skipped(r,
                       recovered,
                       where,
                       "evtx-record-unreadable",
                       "cannot render XML: %s; record skipped",
                       text);
        return -1;
    }
    if (size - 1 > SK_MAX_XML_BYTES) {
        snprintf(text,
                 sizeof text,
                 "record XML is %zu bytes, more than the limit of %u",
                 size - 1,
                 (unsigned)SK_MAX_XML_BYTES);
        record_skipped(r, recovered, where, "evtx-record-limit", "%s; record skipped", text);
        return -1;
    }
    if (size > r->xcap)
        sk_xgrow((void **)&r->xbuf, &r->xcap, size, 1);
    if (libevtx_record_get_utf8_xml_string(rec, r->xbuf, size, &e) != 1) {
        evtx_error_text(&e, text, sizeof text);
        record_skipped(r,
                       recovered,
                       where,
                       "evtx-record-unreadable",
                       "cannot render XML: %s; record skipped",
                       text);
        return -1;
    }
    // size counts the terminating NUL; a value holding NUL would end the text early, and
    // expat then reports the truncated XML.
    return (long)strnlen((const char *)r->xbuf, size);
}

static sk_status evtx_next(sk_reader *base, const sk_event **out)
{
    evtx_reader *r = (evtx_reader *)base;
    for (;;) {
        if (r->done)
            return SK_DONE;
        if (!r->in_recovered && r->index >= r->nrecords) {
            r->in_recovered = true;
            r->index = 0;
        }
        if (r->in_recovered && r->index >= r->nrecovered) {
            r->done = true;
            if (r->recovered_failed)
                sk_diag_emitf(r->base.diags,
                              SK_SEV_NOTE,
                              r->base.display,
                              0,
                              0,
                              NULL,
                              "evtx-recovered-unreadable",
                              "%lu of %d recovered records could not be read by libevtx",
                              r->recovered_failed,
                              r->nrecovered);
            return SK_DONE;
        }
        bool recovered = r->in_recovered;
        int index = r->index++;
        libevtx_record_t *rec = NULL;
        libevtx_error_t *e = NULL;
        char where[64];
        char text[512];
        int rc = recovered ? libevtx_file_get_recovered_record_by_index(r->file, index, &rec, &e)
                           : libevtx_file_get_record_by_index(r->file, index, &rec, &e);
        if (rc != 1 || !rec) {
            evtx_error_text(&e, text, sizeof text);
            record_where(where, sizeof where, recovered, false, 0, index);
            record_skipped(r,
                           recovered,
                           where,
                           "evtx-record-unreadable",
                           "cannot read record: %s; record skipped",
                           text);
            continue;
        }
        uint64_t id = 0;
        bool have_id = libevtx_record_get_identifier(rec, &id, &e) == 1;
        if (!have_id)
            libevtx_error_free(&e);
        record_where(where, sizeof where, recovered, have_id, id, index);

        long len = render(r, rec, recovered, where);
        if (libevtx_record_free(&rec, &e) != 1)
            libevtx_error_free(&e);
        if (len < 0)
            continue;

        sk_buf_reset(&r->err);
        sk_status st =
                sk_evtx_xml_parse(r->xml, (const char *)r->xbuf, (size_t)len, &r->ev, &r->err);
        if (st != SK_OK) {
            if (st == SK_ERR_LIMIT)
                record_skipped(r,
                               recovered,
                               where,
                               "evtx-record-limit",
                               "%s; record skipped",
                               sk_buf_str(&r->err));
            else
                record_skipped(r,
                               recovered,
                               where,
                               "evtx-xml-invalid",
                               "invalid XML: %s; record skipped",
                               sk_buf_str(&r->err));
            continue;
        }
        const char *tname;
        size_t ntrunc = sk_evtx_xml_truncated(r->xml, &tname);
        if (ntrunc)
            sk_diag_emitf(r->base.diags,
                          SK_SEV_WARNING,
                          r->base.display,
                          0,
                          0,
                          where,
                          "evtx-value-truncated",
                          "%zu value(s) longer than %u bytes truncated (first: %s)",
                          ntrunc,
                          (unsigned)SK_MAX_VALUE_BYTES,
                          tname);
        r->ev.file = r->base.display;
        r->ev.format = SK_FORMAT_EVTX;
        r->ev.line = 0;
        r->ev.recovered = recovered;
        *out = &r->ev;
        return SK_OK;
    }
}

static void evtx_close(sk_reader *base)
{
    evtx_reader *r = (evtx_reader *)base;
    libevtx_error_t *e = NULL;
    libbfio_error_t *be = NULL;
    if (r->file) {
        if (libevtx_file_close(r->file, &e) != 0)
            libevtx_error_free(&e);
        if (libevtx_file_free(&r->file, &e) != 1)
            libevtx_error_free(&e);
    }
    if (r->bfio && libbfio_handle_free(&r->bfio, &be) != 1)
        libbfio_error_free(&be);
    sk_evtx_xml_free(r->xml);
    free(r->xbuf);
    sk_buf_fini(&r->err);
    sk_event_fini(&r->ev);
    sk_reader_base_fini(&r->base);
    free(r);
}

// Records that the valid chunk headers of the file list (last - first event record number + 1
// per chunk whose signature and header CRC32 hold), or -1 when the file cannot be read. libevtx
// silently drops every record of a chunk from the first one whose size field it cannot follow (a
// record claiming 0xFFFFFFF0 bytes hides the whole chunk), and a chunk cut short by truncation;
// comparing with this count is how such losses get reported and counted (robustness tests).
static int64_t listed_records(libbfio_handle_t *bfio, uint64_t size)
{
    uint8_t h[512];
    int64_t total = 0;
    for (uint64_t off = EVTX_FILE_HEADER_BYTES; off + sizeof h <= size; off += 65536u) {
        libbfio_error_t *be = NULL;
        if (libbfio_handle_seek_offset(bfio, (off64_t)off, SEEK_SET, &be) < 0 ||
            libbfio_handle_read_buffer(bfio, h, sizeof h, &be) != (ssize_t)sizeof h) {
            libbfio_error_free(&be);
            return -1;
        }
        if (memcmp(h, "ElfChnk", 8) != 0)
            continue;
        uint32_t want = (uint32_t)h[0x7C] | (uint32_t)h[0x7D] << 8 | (uint32_t)h[0x7E] << 16 |
                        (uint32_t)h[0x7F] << 24;
        uLong crc = crc32(crc32(crc32(0L, Z_NULL, 0), h, 0x78), h + 0x80, sizeof h - 0x80);
        if ((uint32_t)crc != want)
            continue;
        uint64_t first = 0, last = 0;
        for (int i = 7; i >= 0; i--) {
            first = first << 8 | h[8 + i];
            last = last << 8 | h[16 + i];
        }
        // A 64 KiB chunk holds at most 65024 / 24 records (the smallest record is 24 bytes, which
        // no real record is): anything else is not a count to trust.
        if (last >= first && last - first < 65024u / 24u)
            total += (int64_t)(last - first + 1);
    }
    return total;
}

static const sk_reader_ops evtx_ops = {
    .name = "evtx (libevtx)",
    .next = evtx_next,
    .close = evtx_close,
};

// Opens the evtx file behind *bfio (taken: freed by the reader, or here on failure).
static sk_status open_bfio(sk_reader **out,
                           libbfio_handle_t **bfio,
                           uint64_t size,
                           const char *display,
                           const sk_reader_opts *opts,
                           sk_diags *diags)
{
    sk_status st = SK_OK;
    libevtx_error_t *e = NULL;
    char text[512];
    evtx_reader *r = sk_xcalloc(1, sizeof *r);
    sk_reader_base_init(&r->base, &evtx_ops, display, opts, diags);
    sk_buf_init(&r->err, 4096);
    sk_event_init(&r->ev);
    r->bfio = *bfio;
    *bfio = NULL;

    if (libevtx_file_initialize(&r->file, &e) != 1) {
        evtx_error_text(&e, text, sizeof text);
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      text);
        st = SK_ERR_IO;
        goto out;
    }
    if (libevtx_file_open_file_io_handle(r->file, r->bfio, LIBEVTX_OPEN_READ, &e) != 1) {
        evtx_error_text(&e, text, sizeof text);
        // libevtx reads every chunk header at open and refuses the whole file for one it
        // cannot take (a free space offset out of range, say), where the native reader loses
        // at most that chunk: said, unless the file header itself is what failed.
        bool chunk = strstr(text, "file header") == NULL;
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s%s",
                      text,
                      chunk ? " (libevtx refuses the whole file; the native reader, the default, "
                              "reads past damaged chunks)"
                            : "");
        // A file handle libevtx opened but could not read from is closed by libevtx_file_free.
        st = SK_ERR_FORMAT;
        goto out;
    }
    if (libevtx_file_get_number_of_records(r->file, &r->nrecords, &e) != 1 || r->nrecords < 0) {
        evtx_error_text(&e, text, sizeof text);
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      text);
        st = SK_ERR_FORMAT;
        goto out;
    }
    if (r->base.opts.recovered &&
        (libevtx_file_get_number_of_recovered_records(r->file, &r->nrecovered, &e) != 1 ||
         r->nrecovered < 0)) {
        libevtx_error_free(&e);
        r->nrecovered = 0;
    }
    int corrupted = libevtx_file_is_corrupted(r->file, &e);
    if (corrupted < 0)
        libevtx_error_free(&e);
    if (corrupted == 1) {
        r->base.stats.damaged = true;
        sk_diag_emitf(diags,
                      SK_SEV_WARNING,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "evtx-damaged",
                      "libevtx flags the file as corrupted (a chunk failed its checks, or the "
                      "header does not match the chunks); reading the %d records it found",
                      r->nrecords);
    }
    // When libevtx did not flag the file, records it dropped would otherwise go unreported.
    int64_t listed = corrupted == 1 ? -1 : listed_records(r->bfio, size);
    if (listed > (int64_t)r->nrecords) {
        // An upper bound only (a dirty chunk's header may list records never written), so the
        // file counts as damaged rather than adding a guess to records_skipped.
        r->base.stats.damaged = true;
        sk_diag_emitf(diags,
                      SK_SEV_WARNING,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "evtx-records-lost",
                      "the chunk headers list %lld records but libevtx found %d; up to %lld "
                      "damaged or cut records lost",
                      (long long)listed,
                      r->nrecords,
                      (long long)(listed - r->nrecords));
    }
    r->base.stats.bytes = size;
    r->xml = sk_evtx_xml_new();
out:
    if (st != SK_OK) {
        evtx_close(&r->base);
        return st;
    }
    *out = &r->base;
    return SK_OK;
}

sk_status sk_reader_open_evtx(sk_reader **out,
                              const char *path,
                              const char *display,
                              const sk_reader_opts *opts,
                              sk_diags *diags)
{
    libbfio_handle_t *bfio = NULL;
    libbfio_error_t *be = NULL;
    char text[512];
    if (!display)
        display = path;

    // Plain I/O problems get the system's words, not libbfio's.
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      strerror(err));
        return SK_ERR_IO;
    }
    close(fd);
    if (S_ISDIR(sb.st_mode)) {
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      strerror(EISDIR));
        return SK_ERR_IO;
    }

    if (libbfio_file_initialize(&bfio, &be) != 1 ||
        libbfio_file_set_name(bfio, path, strlen(path) + 1, &be) != 1) {
        bfio_error_text(&be, text, sizeof text);
        if (bfio && libbfio_handle_free(&bfio, &be) != 1)
            libbfio_error_free(&be);
        sk_diag_emitf(
                diags, SK_SEV_ERROR, display, 0, 0, NULL, "open-failed", "cannot open: %s", text);
        return SK_ERR_IO;
    }
    return open_bfio(out, &bfio, (uint64_t)sb.st_size, display, opts, diags);
}

sk_status sk_reader_open_evtx_memory(sk_reader **out,
                                     const void *data,
                                     size_t n,
                                     const char *display,
                                     const sk_reader_opts *opts,
                                     sk_diags *diags)
{
    libbfio_handle_t *bfio = NULL;
    libbfio_error_t *be = NULL;
    char text[512];
    // libbfio 20170123 reads past the end of a memory range shorter than the 4 KiB evtx file
    // header (found by fuzzing); such an image cannot be an evtx file anyway. The message is the
    // one libevtx gives for a short file on disk.
    if (n < EVTX_FILE_HEADER_BYTES) {
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display ? display : "-",
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: unable to read file header");
        return SK_ERR_FORMAT;
    }
    // libbfio wants a non-const pointer; the handle is only ever opened for reading.
    if (libbfio_memory_range_initialize(&bfio, &be) != 1 ||
        libbfio_memory_range_set(bfio, (uint8_t *)(uintptr_t)data, n, &be) != 1) {
        bfio_error_text(&be, text, sizeof text);
        if (bfio && libbfio_handle_free(&bfio, &be) != 1)
            libbfio_error_free(&be);
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display ? display : "-",
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: %s",
                      text);
        return SK_ERR_IO;
    }
    return open_bfio(out, &bfio, (uint64_t)n, display, opts, diags);
}
