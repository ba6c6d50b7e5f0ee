// The native evtx reader: file header, chunk slots, record walking and damage accounting. The
// BinXML of each record is decoded by binxml.c.
//
// File layout (libyal's "Windows XML Event Log (EVTX)" document): a 4096-byte file header
// ("ElfFile\0", chunk count at 42, flags at 120, CRC32 of bytes 0-119 at 124), then 64 KiB chunks.
// A chunk starts with a 512-byte header ("ElfChnk\0", first/last EventRecordID at 24/32, free
// space offset at 48, CRC32 of the records data 512..free space at 52, CRC32 of header bytes
// 0-119 and 128-511 at 124, then the string and template hash tables, which a reader does not
// need: names and templates are referenced by chunk offset). Records follow: "**\0\0", size,
// EventRecordID, written time, BinXML, and a copy of the size.
//
// The file header's chunk count is not trusted (a dirty header lags behind the chunks written):
// every 64 KiB slot up to the end of the file is looked at. Memory is one chunk buffer (none for
// in-memory images), the decoder's per-chunk caches and one event.
#include "evtx_native.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "binxml_int.h"
#include "core/limits.h"
#include "core/mem.h"
#include "reader_int.h"

#define FILE_HEADER_BYTES   4096u
#define CHUNK_HEADER_BYTES  512u
#define RECORD_HEADER_BYTES 24u
// Record header, a fragment header and one token, the trailing size copy.
#define RECORD_MIN_BYTES 32u
// EventRecordIDs one chunk can list: a record takes at least RECORD_MIN_BYTES.
#define MAX_CHUNK_RANGE 2048u
// Records one chunk can hold.
#define MAX_CHUNK_RECORDS (SK_EVTX_CHUNK_BYTES / RECORD_MIN_BYTES)
// File header flag: the file carries no CRC32s (seen on Windows 10 2004 and later).
#define FILE_FLAG_NO_CRC 0x4u

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

// ---------------------------------------------------------------------------------------------
// Chunks

struct sk_evtx_chunk {
    sk_binxml *bx;
    sk_event ev;
    const uint8_t *c;
    size_t n;
    uint64_t index;
    unsigned flags;
    const char *display;
    sk_diags *diags;
    size_t pos; // next record
    size_t end; // end of the records data
    bool done;
    // SK_EVTX_CHUNK_RECOVER: after the records, the chunk is carved for records that are not
    // its own, everywhere but in the byte ranges of its records (live[0..nlive), in offset
    // order: the walk only moves forward).
    bool carve;
    bool carving; // the records are done; pos walks the chunk for others
    size_t nlive;
    size_t klive; // carving: the first live range that ends after pos
    uint16_t live_lo[MAX_CHUNK_RECORDS];
    uint32_t live_hi[MAX_CHUNK_RECORDS];
    bool have_range; // the header's EventRecordID range is usable for accounting
    uint64_t first_id;
    uint64_t last_id;
    uint64_t nseen; // distinct ids of the range found
    uint8_t seen[MAX_CHUNK_RANGE / 8];
    sk_evtx_chunk_stats stats;
};

static void
chunk_diag(sk_evtx_chunk *c, bool record, uint64_t id, const char *code, const char *fmt, ...)
        SK_PRINTF(5, 6);

static void
chunk_diag(sk_evtx_chunk *c, bool record, uint64_t id, const char *code, const char *fmt, ...)
{
    char where[80];
    char msg[512];
    if (record)
        snprintf(where,
                 sizeof where,
                 "chunk %llu: record %llu",
                 (unsigned long long)c->index,
                 (unsigned long long)id);
    else
        snprintf(where, sizeof where, "chunk %llu", (unsigned long long)c->index);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sk_diag_emitf(c->diags, SK_SEV_WARNING, c->display, 0, 0, where, code, "%s", msg);
}

sk_evtx_chunk *sk_evtx_chunk_new(void)
{
    sk_evtx_chunk *c = sk_xcalloc(1, sizeof *c);
    c->bx = sk_binxml_new();
    sk_event_init(&c->ev);
    c->done = true;
    return c;
}

void sk_evtx_chunk_free(sk_evtx_chunk *c)
{
    if (!c)
        return;
    sk_binxml_free(c->bx);
    sk_event_fini(&c->ev);
    free(c);
}

const sk_evtx_chunk_stats *sk_evtx_chunk_stats_get(const sk_evtx_chunk *c)
{
    return &c->stats;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

// The first record signature ("**\0\0") in d[from, end), or NULL. By memchr for '*', which is
// rare in records and absent from zeroed space: glibc's memmem hashes byte pairs and compares at
// every "\0\0" of a chunk's zeroed free space, which made carving cost 35% of a file's read.
static const uint8_t *find_signature(const uint8_t *d, size_t from, size_t end)
{
    while (from + 4 <= end) {
        const uint8_t *p = memchr(d + from, '*', end - from - 3);
        if (!p)
            return NULL;
        if (p[1] == '*' && p[2] == 0 && p[3] == 0)
            return p;
        from = (size_t)(p - d) + 1;
    }
    return NULL;
}

// A complete record at p: signature, a size that fits before end, and its trailing copy.
static bool record_at(const uint8_t *d, size_t p, size_t end, uint32_t *size)
{
    if (p + RECORD_HEADER_BYTES > end || memcmp(d + p, "**\0\0", 4) != 0)
        return false;
    uint32_t sz = rd32(d + p + 4);
    if (sz < RECORD_MIN_BYTES || sz > end - p || rd32(d + p + sz - 4) != sz)
        return false;
    *size = sz;
    return true;
}

static bool in_range(const sk_evtx_chunk *c, uint64_t id)
{
    return c->have_range && id >= c->first_id && id <= c->last_id;
}

static bool seen(const sk_evtx_chunk *c, uint64_t id)
{
    uint64_t k = id - c->first_id;
    return (c->seen[k / 8] >> (k % 8)) & 1;
}

static void mark_seen(sk_evtx_chunk *c, uint64_t id)
{
    if (!in_range(c, id) || seen(c, id))
        return;
    uint64_t k = id - c->first_id;
    c->seen[k / 8] |= (uint8_t)(1u << (k % 8));
    c->nseen++;
}

// The next position at or after from where a record the walk can trust starts: complete, BinXML
// that opens with a fragment header, and (when the header's range is known) an EventRecordID of
// that range not read yet. Returns c->end when there is none.
static size_t resync(const sk_evtx_chunk *c, size_t from)
{
    const uint8_t *d = c->c;
    size_t q = from;
    while (q + RECORD_HEADER_BYTES <= c->end) {
        const uint8_t *hit = find_signature(d, q, c->end);
        if (!hit)
            break;
        q = (size_t)(hit - d);
        uint32_t sz;
        if (record_at(d, q, c->end, &sz) && d[q + 24] == 0x0f && d[q + 25] == 0x01 &&
            d[q + 26] == 0x01) {
            uint64_t id = rd64(d + q + 8);
            if (!c->have_range || (in_range(c, id) && !seen(c, id)))
                return q;
        }
        q++;
    }
    return c->end;
}

// Records of a chunk without a usable header, counted for the report: complete records found
// by signature.
static uint64_t count_records(const uint8_t *d, size_t n)
{
    uint64_t k = 0;
    size_t q = CHUNK_HEADER_BYTES < n ? CHUNK_HEADER_BYTES : n;
    while (q + RECORD_HEADER_BYTES <= n) {
        const uint8_t *hit = find_signature(d, q, n);
        if (!hit)
            break;
        q = (size_t)(hit - d);
        uint32_t sz;
        if (record_at(d, q, n, &sz) && d[q + 24] == 0x0f) {
            k++;
            q += sz;
        } else {
            q++;
        }
    }
    return k;
}

sk_status sk_evtx_chunk_begin(sk_evtx_chunk *c,
                              const uint8_t *data,
                              size_t n,
                              uint64_t index,
                              unsigned flags,
                              const char *display,
                              sk_diags *diags)
{
    memset(&c->stats, 0, sizeof c->stats);
    c->c = data;
    c->n = n > SK_EVTX_CHUNK_BYTES ? SK_EVTX_CHUNK_BYTES : n;
    n = c->n;
    c->index = index;
    c->flags = flags;
    c->display = display;
    c->diags = diags;
    c->done = true;
    c->have_range = false;
    c->nseen = 0;
    c->pos = c->end = 0;
    c->carve = (flags & SK_EVTX_CHUNK_RECOVER) != 0;
    c->carving = false;
    c->nlive = c->klive = 0;

    bool magic = n >= 8 && memcmp(data, "ElfChnk\0", 8) == 0;
    if (!magic) {
        // Unused space: zeroes, or stale data past the chunks the header counts.
        if ((flags & SK_EVTX_CHUNK_BEYOND_COUNT) || all_zero(data, n))
            return SK_DONE;
        uint64_t k = count_records(data, n);
        c->stats.records = c->stats.records_skipped = k;
        c->stats.damaged = true;
        chunk_diag(c,
                   false,
                   0,
                   "evtx-chunk-invalid",
                   "no chunk signature (damaged chunk header, %llu record%s found in it); chunk "
                   "skipped",
                   (unsigned long long)k,
                   k == 1 ? "" : "s");
        return SK_DONE;
    }
    if (n < CHUNK_HEADER_BYTES) {
        c->stats.damaged = true;
        chunk_diag(c,
                   false,
                   0,
                   "evtx-chunk-truncated",
                   "chunk is cut short by the end of the file (%zu of %u bytes, less than its "
                   "header); chunk skipped",
                   n,
                   SK_EVTX_CHUNK_BYTES);
        return SK_DONE;
    }
    bool check_crc = !(flags & SK_EVTX_CHUNK_NO_CRC);
    if (check_crc) {
        uint32_t want = rd32(data + 124);
        uint32_t got = (uint32_t)crc32(crc32(crc32(0L, Z_NULL, 0), data, 120), data + 128, 384);
        if (got != want) {
            c->stats.damaged = true;
            chunk_diag(c,
                       false,
                       0,
                       "evtx-chunk-crc",
                       "chunk header CRC mismatch; reading its records anyway");
        }
    }
    uint64_t first = rd64(data + 24), last = rd64(data + 32);
    uint32_t fso = rd32(data + 48);
    bool fso_ok = fso >= CHUNK_HEADER_BYTES && fso <= SK_EVTX_CHUNK_BYTES;
    c->end = n;
    if (!fso_ok) {
        c->stats.damaged = true;
        chunk_diag(c,
                   false,
                   0,
                   "evtx-chunk-invalid",
                   "free space offset %u is out of range; reading records up to the end of the "
                   "chunk",
                   (unsigned)fso);
    } else if (fso < n) {
        c->end = fso;
    }
    if (n < SK_EVTX_CHUNK_BYTES) {
        c->stats.damaged = true;
        chunk_diag(c,
                   false,
                   0,
                   "evtx-chunk-truncated",
                   "chunk is cut short by the end of the file (%zu of %u bytes); reading its "
                   "records anyway",
                   n,
                   SK_EVTX_CHUNK_BYTES);
    } else if (fso_ok && check_crc && rd32(data + 52) != crc(data + 512, fso - 512)) {
        c->stats.damaged = true;
        chunk_diag(c,
                   false,
                   0,
                   "evtx-chunk-crc",
                   "records data CRC mismatch; reading its records anyway");
    }
    // A chunk with records lists their EventRecordIDs; an empty one (free space right after the
    // header) lists nothing to account for.
    if (fso_ok && fso > CHUNK_HEADER_BYTES && last >= first && last - first < MAX_CHUNK_RANGE) {
        c->have_range = true;
        c->first_id = first;
        c->last_id = last;
        memset(c->seen, 0, (size_t)((last - first) / 8 + 1));
    }
    c->pos = CHUNK_HEADER_BYTES;
    c->done = false;
    sk_binxml_begin_chunk(c->bx, data, n);
    return SK_OK;
}

// End of the walk: the ids the header lists that were not found are skipped records.
static void chunk_finish(sk_evtx_chunk *c)
{
    c->done = true;
    if (!c->have_range)
        return;
    uint64_t expected = c->last_id - c->first_id + 1;
    if (c->nseen >= expected)
        return;
    uint64_t missing = expected - c->nseen, lo = 0, hi = 0;
    bool any = false;
    for (uint64_t k = 0; k < expected; k++) { // by offset: last_id may be UINT64_MAX
        uint64_t id = c->first_id + k;
        if (!seen(c, id)) {
            if (!any)
                lo = id;
            hi = id;
            any = true;
        }
    }
    c->stats.records += missing;
    c->stats.records_skipped += missing;
    c->stats.damaged = true;
    char ids[64];
    if (lo == hi)
        snprintf(ids, sizeof ids, "EventRecordID %llu", (unsigned long long)lo);
    else
        snprintf(ids,
                 sizeof ids,
                 "%s %llu-%llu",
                 hi - lo + 1 == missing ? "EventRecordID" : "among EventRecordID",
                 (unsigned long long)lo,
                 (unsigned long long)hi);
    chunk_diag(c,
               false,
               0,
               "evtx-records-missing",
               "%llu of the %llu records the chunk header lists (EventRecordID %llu-%llu) %s not "
               "in its data (%s); %s skipped",
               (unsigned long long)missing,
               (unsigned long long)expected,
               (unsigned long long)c->first_id,
               (unsigned long long)c->last_id,
               missing == 1 ? "is" : "are",
               ids,
               missing == 1 ? "record" : "records");
}

static void record_skipped(sk_evtx_chunk *c, uint64_t id)
{
    c->stats.records++;
    c->stats.records_skipped++;
    mark_seen(c, id);
}

// Bytes [from, to) hold one of the chunk's own records (or the header of a damaged one): the
// carving passes over them.
static void live_range(sk_evtx_chunk *c, size_t from, size_t to)
{
    if (!c->carve || c->nlive == MAX_CHUNK_RECORDS)
        return;
    c->live_lo[c->nlive] = (uint16_t)from;
    c->live_hi[c->nlive] = (uint32_t)to;
    c->nlive++;
}

// Reports a decoded record's truncated values and hands its event out.
static void record_event(sk_evtx_chunk *c, uint64_t id, bool recovered, const sk_event **out)
{
    const char *tname;
    size_t ntrunc = sk_binxml_truncated(c->bx, &tname);
    if (ntrunc)
        chunk_diag(c,
                   true,
                   id,
                   "evtx-value-truncated",
                   "%zu value(s) longer than %u bytes truncated (first: %s)",
                   ntrunc,
                   (unsigned)SK_MAX_VALUE_BYTES,
                   tname);
    c->ev.file = c->display;
    c->ev.format = SK_FORMAT_EVTX;
    c->ev.line = 0;
    c->ev.recovered = recovered;
    *out = &c->ev;
}

// The next record of another use of the chunk, outside its own records (SK_EVTX_CHUNK_RECOVER).
static sk_status carve_next(sk_evtx_chunk *c, const sk_event **out)
{
    const uint8_t *d = c->c;
    while (c->pos + RECORD_HEADER_BYTES <= c->n) {
        // Up to the next of the chunk's own records: carve there, then jump past it.
        while (c->klive < c->nlive && c->live_hi[c->klive] <= c->pos)
            c->klive++;
        size_t limit = c->n;
        if (c->klive < c->nlive) {
            if (c->live_lo[c->klive] <= c->pos) {
                c->pos = c->live_hi[c->klive];
                continue;
            }
            limit = c->live_lo[c->klive];
        }
        const uint8_t *hit = find_signature(d, c->pos, limit);
        if (!hit) {
            c->pos = limit; // the next live record, or the end
            continue;
        }
        size_t q = (size_t)(hit - d);
        uint32_t size;
        if (!record_at(d, q, limit, &size) || d[q + 24] != 0x0f || d[q + 25] != 0x01 ||
            d[q + 26] != 0x01) {
            c->pos = q + 1;
            continue;
        }
        c->pos = q + size;
        char err[256];
        sk_binxml_recovering(c->bx, true);
        sk_status st = sk_binxml_record(c->bx,
                                        q + RECORD_HEADER_BYTES,
                                        size - RECORD_HEADER_BYTES - 4,
                                        &c->ev,
                                        err,
                                        sizeof err);
        sk_binxml_recovering(c->bx, false);
        if (st != SK_OK) {
            c->stats.recovered_failed++;
            continue;
        }
        c->stats.recovered++;
        record_event(c, rd64(d + q + 8), true, out);
        return SK_OK;
    }
    c->done = true;
    c->carving = false;
    uint64_t failed = c->stats.recovered_failed, found = failed + c->stats.recovered;
    if (failed) {
        char where[40];
        snprintf(where, sizeof where, "chunk %llu", (unsigned long long)c->index);
        sk_diag_emitf(c->diags,
                      SK_SEV_NOTE,
                      c->display,
                      0,
                      0,
                      where,
                      "evtx-recovered-unreadable",
                      "%llu of the %llu recovered record%s found in it could not be decoded",
                      (unsigned long long)failed,
                      (unsigned long long)found,
                      found == 1 ? "" : "s");
    }
    return SK_DONE;
}

sk_status sk_evtx_chunk_next(sk_evtx_chunk *c, const sk_event **out)
{
    const uint8_t *d = c->c;
    for (;;) {
        if (c->carving)
            return carve_next(c, out);
        if (c->done)
            return SK_DONE;
        size_t p = c->pos;
        if (p + RECORD_HEADER_BYTES > c->end) {
            chunk_finish(c);
            if (c->carve) {
                c->carving = true;
                c->pos = CHUNK_HEADER_BYTES;
            }
            continue;
        }
        if (memcmp(d + p, "**\0\0", 4) != 0) {
            // Not a record: damaged or overwritten data. Its records are accounted for as
            // missing at the end; carry on with the next trustworthy one.
            c->pos = resync(c, p + 1);
            continue;
        }
        uint32_t size = rd32(d + p + 4);
        uint64_t id = rd64(d + p + 8);
        bool size_ok = size >= RECORD_MIN_BYTES && size <= c->end - p;
        if (!size_ok || rd32(d + p + size - 4) != size) {
            size_t q = resync(c, p + RECORD_HEADER_BYTES);
            c->stats.damaged = true;
            if (!size_ok && q - p >= RECORD_MIN_BYTES && rd32(d + q - 4) == q - p) {
                // Only the size field is damaged: the record ends where the next one starts,
                // and its trailing size copy says so.
                chunk_diag(c,
                           true,
                           id,
                           "evtx-record-size-recovered",
                           "size field says %u bytes; read with the %zu bytes its trailing size "
                           "copy gives",
                           (unsigned)size,
                           q - p);
                size = (uint32_t)(q - p);
            } else {
                if (size_ok)
                    chunk_diag(c,
                               true,
                               id,
                               "evtx-record-invalid",
                               "torn record (the size copy at its end does not match its size "
                               "of %u bytes); record skipped",
                               (unsigned)size);
                else if (size >= RECORD_MIN_BYTES && c->end == c->n && c->n < SK_EVTX_CHUNK_BYTES &&
                         p + size > c->n)
                    chunk_diag(c,
                               true,
                               id,
                               "evtx-record-invalid",
                               "record is cut short by the end of the file (%zu of its %u "
                               "bytes); record skipped",
                               c->n - p,
                               (unsigned)size);
                else
                    chunk_diag(c,
                               true,
                               id,
                               "evtx-record-invalid",
                               "damaged record header (size %u does not fit in the chunk's "
                               "records); record skipped",
                               (unsigned)size);
                record_skipped(c, id);
                // Only its header is known to be the record's: what follows may be records of
                // another use of the chunk, which the carving is to find.
                live_range(c, p, p + RECORD_HEADER_BYTES);
                c->pos = q;
                continue;
            }
        }
        live_range(c, p, p + size);
        c->pos = p + size;
        char err[256];
        sk_status st = sk_binxml_record(c->bx,
                                        p + RECORD_HEADER_BYTES,
                                        size - RECORD_HEADER_BYTES - 4,
                                        &c->ev,
                                        err,
                                        sizeof err);
        if (st != SK_OK) {
            chunk_diag(c,
                       true,
                       id,
                       st == SK_ERR_LIMIT ? "evtx-record-limit" : "evtx-binxml-invalid",
                       "%s; record skipped",
                       err);
            record_skipped(c, id);
            continue;
        }
        c->stats.records++;
        c->stats.events++;
        mark_seen(c, id);
        record_event(c, id, false, out);
        return SK_OK;
    }
}

sk_status sk_evtx_chunk_decode(sk_evtx_chunk *c,
                               const uint8_t *data,
                               size_t n,
                               uint64_t index,
                               unsigned flags,
                               const char *display,
                               sk_diags *diags,
                               sk_evtx_event_fn fn,
                               void *ctx)
{
    sk_status st = sk_evtx_chunk_begin(c, data, n, index, flags, display, diags);
    if (st == SK_DONE)
        return SK_OK;
    const sk_event *ev;
    while (sk_evtx_chunk_next(c, &ev) == SK_OK) {
        if (fn) {
            sk_status r = fn(ctx, ev);
            if (r != SK_OK)
                return r;
        }
    }
    return SK_OK;
}

// ---------------------------------------------------------------------------------------------
// The reader

typedef struct native_reader {
    sk_reader base;
    int fd;             // file mode; -1 for a memory image
    const uint8_t *mem; // memory mode
    uint64_t size;
    uint8_t *buf; // one chunk (file mode)
    uint64_t nslots;
    uint64_t slot; // next slot to start
    unsigned header_chunks;
    bool count_trusted;
    unsigned chunk_flags;
    sk_evtx_chunk *ck;
    bool in_chunk;
    bool done;
    uint64_t skipped_done; // records skipped in finished chunks
} native_reader;

static void native_close(sk_reader *base)
{
    native_reader *r = (native_reader *)base;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    sk_evtx_chunk_free(r->ck);
    sk_reader_base_fini(&r->base);
    free(r);
}

// Reads n bytes at off into p; false (errno set) on a read error or early end.
static bool read_at(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, p + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        if (k == 0) {
            errno = EIO;
            return false;
        }
        got += (size_t)k;
    }
    return true;
}

static void note_chunk_done(native_reader *r)
{
    const sk_evtx_chunk_stats *s = sk_evtx_chunk_stats_get(r->ck);
    r->skipped_done += s->records_skipped;
    if (s->damaged)
        r->base.stats.damaged = true;
    r->in_chunk = false;
}

static sk_status native_next(sk_reader *base, const sk_event **out)
{
    native_reader *r = (native_reader *)base;
    for (;;) {
        if (r->done)
            return SK_DONE;
        if (r->in_chunk) {
            sk_status st = sk_evtx_chunk_next(r->ck, out);
            const sk_evtx_chunk_stats *s = sk_evtx_chunk_stats_get(r->ck);
            r->base.stats.records_skipped = r->skipped_done + s->records_skipped;
            if (st == SK_OK)
                return SK_OK; // sk_reader_next counts the event
            note_chunk_done(r);
            continue;
        }
        if (r->slot >= r->nslots) {
            r->done = true;
            r->base.stats.records_skipped = r->skipped_done;
            return SK_DONE;
        }
        uint64_t i = r->slot++;
        uint64_t off = FILE_HEADER_BYTES + i * SK_EVTX_CHUNK_BYTES;
        size_t n =
                r->size - off < SK_EVTX_CHUNK_BYTES ? (size_t)(r->size - off) : SK_EVTX_CHUNK_BYTES;
        const uint8_t *data;
        if (r->mem) {
            data = r->mem + off;
        } else {
            if (!read_at(r->fd, r->buf, n, off)) {
                sk_diag_emitf(r->base.diags,
                              SK_SEV_ERROR,
                              r->base.display,
                              0,
                              0,
                              NULL,
                              "read-error",
                              "read error at offset %llu: %s",
                              (unsigned long long)off,
                              strerror(errno));
                r->done = true;
                r->base.stats.damaged = true;
                return SK_ERR_IO;
            }
            data = r->buf;
        }
        // Without a trustworthy header nothing says which slots are in use: a slot without a
        // chunk signature is then taken for unused space.
        unsigned flags = r->chunk_flags;
        if (!r->count_trusted || i >= r->header_chunks)
            flags |= SK_EVTX_CHUNK_BEYOND_COUNT;
        sk_status st =
                sk_evtx_chunk_begin(r->ck, data, n, i, flags, r->base.display, r->base.diags);
        r->in_chunk = true;
        if (st != SK_OK)
            note_chunk_done(r);
        r->base.stats.records_skipped = r->skipped_done;
    }
}

static const sk_reader_ops native_ops = {
    .name = "evtx (native)",
    .next = native_next,
    .close = native_close,
};

// Checks the file header (the first FILE_HEADER_BYTES of the file, or fewer when it is shorter).
static sk_status open_common(native_reader *r, const uint8_t *h, size_t hn)
{
    sk_diags *diags = r->base.diags;
    const char *display = r->base.display;
    if (hn < 8 || memcmp(h, "ElfFile\0", 8) != 0) {
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: not an evtx file (no ElfFile signature)");
        return SK_ERR_FORMAT;
    }
    if (hn < FILE_HEADER_BYTES) {
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      display,
                      0,
                      0,
                      NULL,
                      "open-failed",
                      "cannot open: unable to read file header (the file has %zu of its %u "
                      "bytes)",
                      hn,
                      FILE_HEADER_BYTES);
        return SK_ERR_FORMAT;
    }
    uint32_t fflags = rd32(h + 120);
    bool first_part = r->base.opts.chunk_first == 0; // file-level warnings belong to part one
    if (r->base.opts.recovered)
        r->chunk_flags |= SK_EVTX_CHUNK_RECOVER;
    r->header_chunks = rd16(h + 42);
    r->count_trusted = true;
    if (fflags & FILE_FLAG_NO_CRC) {
        r->chunk_flags |= SK_EVTX_CHUNK_NO_CRC;
    } else if (crc(h, 120) != rd32(h + 124)) {
        r->count_trusted = false;
        r->base.stats.damaged = first_part;
        if (first_part)
            sk_diag_emitf(diags,
                          SK_SEV_WARNING,
                          display,
                          0,
                          0,
                          NULL,
                          "evtx-header-crc",
                          "file header CRC mismatch; reading every chunk of the file");
    }
    r->nslots = (r->size - FILE_HEADER_BYTES + SK_EVTX_CHUNK_BYTES - 1) / SK_EVTX_CHUNK_BYTES;
    if (r->count_trusted && r->header_chunks > r->nslots && first_part) {
        r->base.stats.damaged = true;
        sk_diag_emitf(diags,
                      SK_SEV_WARNING,
                      display,
                      0,
                      0,
                      NULL,
                      "evtx-file-truncated",
                      "the file header lists %u chunk%s but the file holds %llu; the file is cut "
                      "short",
                      r->header_chunks,
                      r->header_chunks == 1 ? "" : "s",
                      (unsigned long long)r->nslots);
    }
    r->base.stats.bytes = r->size;
    // A part of the file (parallel scans): only its slots, and only its bytes in the counts.
    uint64_t first = r->base.opts.chunk_first, count = r->base.opts.chunk_count;
    if (first || count) {
        uint64_t end = count && first + count < r->nslots ? first + count : r->nslots;
        r->slot = first < end ? first : end;
        r->nslots = end;
        uint64_t lo = first_part ? 0 : FILE_HEADER_BYTES + r->slot * SK_EVTX_CHUNK_BYTES;
        uint64_t hi = FILE_HEADER_BYTES + end * SK_EVTX_CHUNK_BYTES;
        if (hi > r->size)
            hi = r->size;
        r->base.stats.bytes = hi > lo ? hi - lo : 0;
    }
    r->ck = sk_evtx_chunk_new();
    return SK_OK;
}

static native_reader *reader_new(const char *display, const sk_reader_opts *opts, sk_diags *diags)
{
    native_reader *r = sk_xcalloc(1, sizeof *r);
    sk_reader_base_init(&r->base, &native_ops, display, opts, diags);
    r->fd = -1;
    return r;
}

sk_status sk_reader_open_evtx_native(sk_reader **out,
                                     const char *path,
                                     const char *display,
                                     const sk_reader_opts *opts,
                                     sk_diags *diags)
{
    if (!display)
        display = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb = { 0 };
    int err = fd < 0 ? errno : fstat(fd, &sb) != 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : 0;
    if (err) {
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
    return sk_reader_open_evtx_native_fd(out, fd, (uint64_t)sb.st_size, display, opts, diags);
}

sk_status sk_reader_open_evtx_native_fd(sk_reader **out,
                                        int fd,
                                        uint64_t size,
                                        const char *display,
                                        const sk_reader_opts *opts,
                                        sk_diags *diags)
{
    native_reader *r = reader_new(display, opts, diags);
    r->fd = fd;
    r->size = size;
    uint8_t h[FILE_HEADER_BYTES];
    size_t hn = r->size < FILE_HEADER_BYTES ? (size_t)r->size : FILE_HEADER_BYTES;
    sk_status st = SK_OK;
    if (!read_at(fd, h, hn, 0)) {
        sk_diag_emitf(diags,
                      SK_SEV_ERROR,
                      r->base.display,
                      0,
                      0,
                      NULL,
                      "read-error",
                      "cannot open: read error: %s",
                      strerror(errno));
        st = SK_ERR_IO;
    } else {
        st = open_common(r, h, hn);
    }
    if (st != SK_OK) {
        native_close(&r->base);
        return st;
    }
    r->buf = sk_xmalloc(SK_EVTX_CHUNK_BYTES);
    *out = &r->base;
    return SK_OK;
}

sk_status sk_reader_open_evtx_native_memory(sk_reader **out,
                                            const void *data,
                                            size_t n,
                                            const char *display,
                                            const sk_reader_opts *opts,
                                            sk_diags *diags)
{
    native_reader *r = reader_new(display ? display : "-", opts, diags);
    r->mem = data;
    r->size = n;
    sk_status st = open_common(r, data, n < FILE_HEADER_BYTES ? n : FILE_HEADER_BYTES);
    if (st != SK_OK) {
        native_close(&r->base);
        return st;
    }
    *out = &r->base;
    return SK_OK;
}
