// The native evtx reader (evtx_native.c + binxml.c): opening, the project's fixtures with exact
// values and diagnostics, hand-built chunks for the BinXML corners (entity and character
// references, CDATA, PI, nested BinXML with and without dependency ids, arrays, optional
// substitutions, every value type, limits, damage), the shared corpus with exact counts and
// damage accounting, and a differential test against the libevtx reader over every corpus file.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/limits.h"
#include "helpers.h"
#include "input/evtx_native.h"
#include "input/evtx_xml.h"
#include "input/reader.h"

#define SKIP_WITHOUT_CORPUS(c)                                                     \
    do {                                                                           \
        if (!(c))                                                                  \
            cr_skip_test("../shared/corpus is absent: evtx corpus tests skipped"); \
    } while (0)

static char *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    cr_assert_eq(fread(p, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return p;
}

static const char *fixture(const char *name, char *buf, size_t n)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/evtx/%s", name);
    return sk_test_src(rel, buf, n);
}

// The value of field name (its k-th occurrence) in ev, or NULL.
static const char *field(const sk_event *ev, const char *name, int k)
{
    long i = -1;
    do {
        i = sk_event_find(ev, name, strlen(name), (size_t)(i + 1));
    } while (i >= 0 && k-- > 0);
    return i < 0 ? NULL : sk_event_field(ev, (size_t)i)->value;
}

static unsigned count_field(const sk_event *ev, const char *name)
{
    unsigned k = 0;
    for (long i = -1; (i = sk_event_find(ev, name, strlen(name), (size_t)(i + 1))) >= 0;)
        k++;
    return k;
}

// ---------------------------------------------------------------------------------------------
// Opening

Test(evtx_native, open_errors)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_expect_eq(sk_reader_open_evtx_native(&r, "/nonexistent/x.evtx", "x.evtx", NULL, &td.dl),
                 SK_ERR_IO);
    cr_expect_eq(sk_reader_open_evtx_native(&r, "/tmp", NULL, NULL, &td.dl), SK_ERR_IO);
    cr_expect_null(r);
    cr_expect_str_eq(td.text,
                     "x.evtx: error: cannot open: No such file or directory\n"
                     "/tmp: error: cannot open: Is a directory\n");

    char path[] = "/tmp/saker-native-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "{\"not\": \"evtx\"}\n", 16), 16);
    close(fd);
    sk_test_diags_init(&td);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(sk_reader_open_evtx_native(&r, path, "j.evtx", NULL, &td.dl), SK_ERR_FORMAT);
    cr_assert_eq(truncate(path, 0), 0);
    cr_expect_eq(sk_reader_open_evtx_native(&r, path, "e.evtx", NULL, &td.dl), SK_ERR_FORMAT);
    unlink(path);
    static const char tiny[100] = "ElfFile";
    cr_expect_eq(sk_reader_open_evtx_native_memory(&r, "", 0, "m.evtx", NULL, &td.dl),
                 SK_ERR_FORMAT);
    cr_expect_eq(sk_reader_open_evtx_native_memory(&r, tiny, sizeof tiny, "m.evtx", NULL, &td.dl),
                 SK_ERR_FORMAT);
    cr_expect_null(r);
    cr_expect_str_eq(td.text,
                     "j.evtx: error: cannot open: not an evtx file (no ElfFile signature)\n"
                     "j.evtx: error: cannot open: not an evtx file (no ElfFile signature)\n"
                     "j.evtx: error: cannot open: not an evtx file (no ElfFile signature)\n"
                     "e.evtx: error: cannot open: not an evtx file (no ElfFile signature)\n"
                     "m.evtx: error: cannot open: not an evtx file (no ElfFile signature)\n"
                     "m.evtx: error: cannot open: unable to read file header (the file has 100 "
                     "of its 4096 bytes)\n");
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Project fixtures (tests/fixtures/evtx, written by tools/evtx_write.c from the .json next to
// them): exact values.

typedef struct tally {
    unsigned long events;
    uint64_t first_id, last_id;
    bool ordered; // EventRecordIDs strictly increasing
} tally;

static sk_status drain(sk_reader *r, tally *t)
{
    const sk_event *ev;
    sk_status st;
    memset(t, 0, sizeof *t);
    t->ordered = true;
    while ((st = sk_reader_next(r, &ev)) == SK_OK) {
        if (t->events == 0)
            t->first_id = ev->record_id;
        else if (ev->record_id <= t->last_id)
            t->ordered = false;
        t->last_id = ev->record_id;
        t->events++;
        cr_expect_eq(ev->format, SK_FORMAT_EVTX);
        cr_expect_not(ev->recovered);
        cr_expect(ev->has_record_id && ev->has_event_id && ev->has_time);
    }
    return st;
}

// Opens fixture name; the first event is returned in *ev.
static sk_reader *open_fixture(const char *name, sk_test_diags *td)
{
    char path[4096];
    fixture(name, path, sizeof path);
    sk_test_diags_init(td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx_native(&r, path, name, NULL, &td->dl), SK_OK, "%s", td->text);
    return r;
}

Test(evtx_native, fixture_sysmon_clean)
{
    sk_test_diags td;
    sk_reader *r = open_fixture("sysmon_clean.evtx", &td);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(ev->file, "sysmon_clean.evtx");
    cr_expect_eq(ev->record_id, 1u);
    cr_expect_eq(ev->event_id, 1u);
    cr_expect_str_eq(ev->channel, "Microsoft-Windows-Sysmon/Operational");
    cr_expect_str_eq(ev->provider, "Microsoft-Windows-Sysmon");
    cr_expect_str_eq(field(ev, "Provider_Guid", 0), "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}");
    cr_expect_str_eq(field(ev, "Keywords", 0), "0x8000000000000000");
    cr_expect_str_eq(field(ev, "UserID", 0), "S-1-5-18");
    const sk_field *f0 = sk_event_field(ev, 0);
    cr_expect_str_eq(f0->name, "Provider_Name");
    cr_expect_eq(f0->flags, (uint32_t)SK_FIELD_SYSTEM);
    tally t;
    unsigned long n = 1;
    while (sk_reader_next(r, &ev) == SK_OK)
        n++;
    cr_expect_eq(n, 3u);
    cr_expect_eq(sk_reader_next(r, &ev), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(s->events, 3u);
    cr_expect_eq(s->records_skipped, 0u);
    cr_expect_eq(s->bytes, 69632u);
    cr_expect_not(s->damaged);
    cr_expect_str_eq(td.text, "");
    sk_reader_close(r);
    (void)t;
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_native, fixture_typed_values)
{
    sk_test_diags td;
    sk_reader *r = open_fixture("typed_values.evtx", &td);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    static const char *const want[][2] = {
        { "TimeCreated", "2024-05-08T07:30:07.1371137Z" },
        { "ActivityID", "{3F1C2B4A-0D5E-4F60-8A7B-9C0D1E2F3A4B}" },
        { "ProcessID", "3052" },
        { "ThreadID", "4188" },
        { "ProcessGuid", "{8A6C1E2B-3A1C-6633-5C02-000000001E00}" },
        { "ProcessId", "7312" },
        { "Initiated", "true" },
        { "SourceIsIpv6", "false" },
        { "SourcePort", "49812" },
        { "Flags", "0x1f" },
        { "Mask", "0x8000000000000001" },
        { "Count8", "200" },
        { "Big", "18446744073709551615" },
        { "Signed", "42" },
        // FILETIME outside TimeCreated: 9 fractional digits, as libevtx prints it.
        { "When", "2024-05-08T07:30:07.135000000Z" },
        { "Sid", "S-1-5-21-3623811015-3361044348-30300820-1013" },
        { "Blob", "4D5A900003" },
        { "Nothing", "" },
        { "Number", "12345" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = field(ev, want[i][0], 0);
        cr_expect_not_null(v, "no %s", want[i][0]);
        if (v)
            cr_expect_str_eq(v, want[i][1], "%s", want[i][0]);
    }
    cr_expect_eq(ev->time, 133596270071371137ULL);
    cr_expect_eq(sk_event_nfields(ev), 39u);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_native, fixture_control_characters_and_non_bmp)
{
    sk_test_diags td;
    sk_reader *r = open_fixture("control_chars.evtx", &td);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(field(ev, "CommandLine", 0),
                     "cmd.exe /c echo \x01start\x1b[31mred\x1b[0m\r\nsecond line\ttab & <tag> "
                     "\"quoted\" 'single'");
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(field(ev, "Description", 0), "r\xc3\xa9sum\xc3\xa9");
    // U+1F600 from a surrogate pair (libevtx 20181227 yields U+1F201 here).
    cr_expect(strstr(field(ev, "CommandLine", 0), "--mood=\xf0\x9f\x98\x80 ") != NULL,
              "%s",
              field(ev, "CommandLine", 0));
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(field(ev, "RuleName", 0),
                     "\x07"
                     "bell");
    cr_expect_str_eq(field(ev, "TargetFilename", 0),
                     "C:\\Users\\jos\xc3\xa9\\Desktop\\\xe3\x83\xac\xe3\x83\x9d\xe3\x83\xbc"
                     "\xe3\x83\x88\r.txt");
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_native, fixture_unnamed_data_and_collisions)
{
    sk_test_diags td;
    sk_reader *r = open_fixture("unnamed_data.evtx", &td);
    const sk_event *ev;
    unsigned data = 0;
    while (sk_reader_next(r, &ev) == SK_OK)
        data += count_field(ev, "Data");
    cr_expect_gt(data, 3u);
    sk_reader_close(r);

    r = open_fixture("sysmon_eid4_version.evtx", &td);
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(field(ev, "Version", 0), "15.14");
    cr_expect_str_eq(field(ev, "System.Version", 0), "3");
    sk_reader_close(r);

    r = open_fixture("user_data.evtx", &td);
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_eq(ev->event_id, 1102u);
    cr_expect_not_null(field(ev, "SubjectUserName", 0));
    sk_reader_close(r);

    r = open_fixture("multi_chunk.evtx", &td);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 300u);
    cr_expect_eq(t.first_id, 1u);
    cr_expect_eq(t.last_id, 300u);
    cr_expect(t.ordered);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

typedef struct damage_case {
    char name[64];
    unsigned long events;
    unsigned long skipped;
    bool damaged;
    char diags[1024];
} damage_case;

ParameterizedTestParameters(evtx_native, damaged_fixtures)
{
    // A correct reader recovers more than libevtx does (tests/fixtures/evtx/README.md): all of
    // damaged_record_size (its record 2's trailing size copy repairs the lying size field, and
    // the walk goes on), and record 4 of damaged_truncated (the records of a cut chunk up to the
    // cut); record 5 is cut and record 6 is missing, both counted.
    static damage_case cases[] = {
        { "damaged_base.evtx", 6, 0, false, "" },
        { "damaged_dirty_header.evtx", 6, 0, false, "" },
        { "damaged_chunk_crc.evtx",
          6,
          0,
          true,
          "damaged_chunk_crc.evtx: chunk 0: warning: records data CRC mismatch; reading its "
          "records anyway\n" },
        { "damaged_record_size.evtx",
          6,
          0,
          true,
          "damaged_record_size.evtx: chunk 0: record 2: warning: size field says 268435456 "
          "bytes; read with the 1498 bytes its trailing size copy gives\n" },
        { "damaged_truncated.evtx",
          4,
          2,
          true,
          "damaged_truncated.evtx: chunk 1: warning: chunk is cut short by the end of the file "
          "(5300 of 65536 bytes); reading its records anyway\n"
          "damaged_truncated.evtx: chunk 1: record 5: warning: record is cut short by the end "
          "of the file (629 of its 1498 bytes); record skipped\n"
          "damaged_truncated.evtx: chunk 1: warning: 1 of the 3 records the chunk header lists "
          "(EventRecordID 4-6) is not in its data (EventRecordID 6); record skipped\n" },
    };
    return cr_make_param_array(damage_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(damage_case *c, evtx_native, damaged_fixtures)
{
    sk_test_diags td;
    sk_reader *r = open_fixture(c->name, &td);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(t.events, c->events, "%s", c->name);
    cr_expect_eq(s->records_skipped, c->skipped, "%s", c->name);
    cr_expect_eq(s->damaged, c->damaged, "%s", c->name);
    cr_expect(t.ordered);
    cr_expect_str_eq(td.text, c->diags);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

// The memory image and the file give the same events; the chunk API gives them too.
static sk_status count_cb(void *ctx, const sk_event *ev)
{
    unsigned long *n = ctx;
    (*n)++;
    return ev->record_id == 200 ? SK_ERR_LIMIT : SK_OK;
}

Test(evtx_native, memory_image_and_chunk_api)
{
    char path[4096];
    fixture("multi_chunk.evtx", path, sizeof path);
    size_t n;
    char *img = read_file(path, &n);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *rf = NULL, *rm = NULL;
    cr_assert_eq(sk_reader_open_evtx_native(&rf, path, "f", NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_reader_open_evtx_native_memory(&rm, img, n, "m", NULL, &td.dl), SK_OK);
    const sk_event *a, *b;
    unsigned long count = 0;
    for (;;) {
        sk_status sa = sk_reader_next(rf, &a), sb = sk_reader_next(rm, &b);
        cr_assert_eq(sa, sb);
        if (sa != SK_OK)
            break;
        count++;
        cr_assert_eq(sk_event_nfields(a), sk_event_nfields(b));
        for (size_t i = 0; i < sk_event_nfields(a); i++) {
            cr_expect_str_eq(sk_event_field(a, i)->name, sk_event_field(b, i)->name);
            cr_expect_str_eq(sk_event_field(a, i)->value, sk_event_field(b, i)->value);
        }
        cr_expect_str_eq(b->file, "m");
    }
    cr_expect_eq(count, 300u);
    cr_expect_eq(sk_reader_stats_get(rm)->bytes, (uint64_t)n);
    sk_reader_close(rf);
    sk_reader_close(rm);

    // Chunk 1 holds records 125-248; the callback stops at 200.
    sk_evtx_chunk *c = sk_evtx_chunk_new();
    unsigned long k = 0;
    const uint8_t *chunk1 = (const uint8_t *)img + 4096 + 65536;
    cr_expect_eq(sk_evtx_chunk_decode(c, chunk1, 65536, 1, 0, "c", &td.dl, count_cb, &k),
                 SK_ERR_LIMIT);
    cr_expect_eq(k, 76u);
    k = 0;
    cr_expect_eq(sk_evtx_chunk_decode(c, chunk1 + 65536, 65536, 2, 0, "c", &td.dl, count_cb, &k),
                 SK_OK);
    cr_expect_eq(k, 52u);
    const sk_evtx_chunk_stats *cs = sk_evtx_chunk_stats_get(c);
    cr_expect_eq(cs->records, 52u);
    cr_expect_eq(cs->events, 52u);
    cr_expect_eq(cs->records_skipped, 0u);
    const sk_event *ev;
    cr_expect_eq(sk_evtx_chunk_next(c, &ev), SK_DONE);
    // A zeroed slot is unused space.
    static uint8_t zero[65536];
    cr_expect_eq(sk_evtx_chunk_begin(c, zero, sizeof zero, 3, 0, "c", &td.dl), SK_DONE);
    cr_expect_eq(sk_evtx_chunk_stats_get(c)->records, 0u);
    sk_evtx_chunk_free(c);
    sk_evtx_chunk_free(NULL);
    cr_expect_str_eq(td.text, "");
    free(img);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Hand-built chunks: a small BinXML writer (layouts from libyal's EVTX documentation).

typedef struct cb {
    uint8_t d[65536];
    size_t n;
} cb;

static void u8(cb *c, unsigned v)
{
    cr_assert_lt(c->n, sizeof c->d);
    c->d[c->n++] = (uint8_t)v;
}

static void u16(cb *c, unsigned v)
{
    u8(c, v & 0xff);
    u8(c, (v >> 8) & 0xff);
}

static void u32(cb *c, uint32_t v)
{
    u16(c, v & 0xffff);
    u16(c, v >> 16);
}

static void u64(cb *c, uint64_t v)
{
    u32(c, (uint32_t)v);
    u32(c, (uint32_t)(v >> 32));
}

static void put32(cb *c, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        c->d[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void utf16(cb *c, const char *s)
{
    for (; *s; s++)
        u16(c, (unsigned char)*s);
}

// A name stored inline (first use): the offset points right behind itself. Its hash is the low
// 16 bits of h = h * 65599 + unit over its UTF-16 units (the native reader checks it in
// recovered records).
static void name(cb *c, const char *s)
{
    uint32_t h = 0;
    for (const char *k = s; *k; k++)
        h = h * 65599u + (unsigned char)*k;
    u32(c, (uint32_t)(c->n + 4));
    u32(c, 0);
    u16(c, h & 0xffffu);
    u16(c, (unsigned)strlen(s));
    utf16(c, s);
    u16(c, 0);
}

static void frag(cb *c)
{
    u8(c, 0x0f);
    u8(c, 1);
    u8(c, 1);
    u8(c, 0);
}

// Element start; depid: with the 2-byte dependency id (as in templates).
static void el(cb *c, const char *nm, bool attrs, bool depid)
{
    u8(c, attrs ? 0x41 : 0x01);
    if (depid)
        u16(c, 0xffff);
    u32(c, 0);
    name(c, nm);
    if (attrs)
        u32(c, 0);
}

static void attr(cb *c, const char *nm)
{
    u8(c, 0x06);
    name(c, nm);
}

static void text(cb *c, const char *s)
{
    u8(c, 0x05);
    u8(c, 0x01);
    u16(c, (unsigned)strlen(s));
    utf16(c, s);
}

static void gt(cb *c)
{
    u8(c, 0x02);
}

static void empty_end(cb *c)
{
    u8(c, 0x03);
}

static void end(cb *c)
{
    u8(c, 0x04);
}

static void subst(cb *c, unsigned id, unsigned type, bool optional)
{
    u8(c, optional ? 0x0e : 0x0d);
    u16(c, id);
    u8(c, type);
}

// <name>literal</name>
static void leaf(cb *c, const char *nm, const char *v, bool depid)
{
    el(c, nm, false, depid);
    gt(c);
    text(c, v);
    end(c);
}

static size_t rec_begin(cb *c, uint64_t id)
{
    size_t at = c->n;
    u8(c, '*');
    u8(c, '*');
    u16(c, 0);
    u32(c, 0);
    u64(c, id);
    u64(c, 133596270071371137ULL);
    return at;
}

static void rec_end(cb *c, size_t at)
{
    uint32_t size = (uint32_t)(c->n - at + 4);
    u32(c, size);
    put32(c, at + 4, size);
}

static void chunk_init(cb *c)
{
    memset(c, 0, sizeof *c);
    c->n = 512;
}

// Chunk header with the record range and CRCs; free space is where writing stopped.
static void chunk_finish(cb *c, uint64_t first, uint64_t last)
{
    memcpy(c->d, "ElfChnk", 8);
    cb h = { .n = 8 };
    u64(&h, first);
    u64(&h, last);
    u64(&h, first);
    u64(&h, last);
    u32(&h, 128);
    u32(&h, 512);
    u32(&h, (uint32_t)c->n);
    u32(&h, (uint32_t)crc32(0, c->d + 512, (uInt)(c->n - 512)));
    memcpy(c->d + 8, h.d + 8, h.n - 8);
    uint32_t hc = (uint32_t)crc32(crc32(0, c->d, 120), c->d + 128, 384);
    put32(c, 124, hc);
}

// System part of an inline record: Provider Name, EventID, Channel, EventRecordID.
static void inline_system(cb *c, bool depid, unsigned eid, uint64_t id)
{
    el(c, "System", false, depid);
    gt(c);
    el(c, "Provider", true, depid);
    attr(c, "Name");
    text(c, "Test-Provider");
    empty_end(c);
    char b[32];
    snprintf(b, sizeof b, "%u", eid);
    leaf(c, "EventID", b, depid);
    el(c, "TimeCreated", true, depid);
    attr(c, "SystemTime");
    text(c, "2024-05-08T07:30:07.137113700Z");
    empty_end(c);
    leaf(c, "Channel", "Test/Operational", depid);
    snprintf(b, sizeof b, "%llu", (unsigned long long)id);
    leaf(c, "EventRecordID", b, depid);
    end(c);
}

// A template-less record with only a System part (EventID 1); returns its offset.
static size_t inline_record(cb *c, uint64_t id)
{
    size_t at = rec_begin(c, id);
    frag(c);
    el(c, "Event", false, false);
    gt(c);
    inline_system(c, false, 1, id);
    end(c);
    u8(c, 0);
    rec_end(c, at);
    return at;
}

typedef struct decoded {
    sk_test_diags td;
    sk_evtx_chunk *ck;
    unsigned long events;
} decoded;

static void decode_begin(decoded *dc, cb *c)
{
    sk_test_diags_init(&dc->td);
    dc->ck = sk_evtx_chunk_new();
    cr_assert_eq(sk_evtx_chunk_begin(dc->ck, c->d, sizeof c->d, 0, 0, "t.evtx", &dc->td.dl),
                 SK_OK,
                 "%s",
                 dc->td.text);
}

static const sk_event *decode_next(decoded *dc)
{
    const sk_event *ev = NULL;
    cr_assert_eq(sk_evtx_chunk_next(dc->ck, &ev), SK_OK, "%s", dc->td.text);
    return ev;
}

// A template-less record (event forwarding writes these): structure without values, every
// content kind BinXML has. The element starts carry no dependency id, as such records do.
Test(evtx_native, inline_binxml_every_node_kind)
{
    static cb c;
    chunk_init(&c);
    size_t at = rec_begin(&c, 1);
    frag(&c);
    el(&c, "Event", true, false);
    attr(&c, "xmlns");
    text(&c, "http://schemas.microsoft.com/win/2004/08/events/event");
    gt(&c);
    inline_system(&c, false, 4104, 77);
    el(&c, "EventData", false, false);
    gt(&c);
    // entity references (predefined and not), character references, CDATA, a PI
    el(&c, "Data", true, false);
    attr(&c, "Name");
    text(&c, "Refs");
    gt(&c);
    text(&c, "a");
    u8(&c, 0x49);
    name(&c, "amp");
    u8(&c, 0x49);
    name(&c, "lt");
    u8(&c, 0x49);
    name(&c, "foo");
    u8(&c, 0x48);
    u16(&c, 0x263A);
    u8(&c, 0x48);
    u16(&c, 0x0D);
    u8(&c, 0x47);
    u16(&c, 3);
    utf16(&c, "<x>");
    u8(&c, 0x0a);
    name(&c, "target");
    u8(&c, 0x0b);
    u16(&c, 4);
    utf16(&c, "data");
    text(&c, "z");
    end(&c);
    // repeated same-name nodes, unnamed and an empty Name
    leaf(&c, "Data", "one", false);
    leaf(&c, "Data", "two", false);
    el(&c, "Data", true, false);
    attr(&c, "Name");
    text(&c, "");
    gt(&c);
    text(&c, "three");
    end(&c);
    // an item holding elements: its inner XML, compact, escaped
    el(&c, "Data", true, false);
    attr(&c, "Name");
    text(&c, "Xml");
    gt(&c);
    text(&c, "pre&");
    el(&c, "a", true, false);
    attr(&c, "k");
    text(&c, "v\"<");
    gt(&c);
    text(&c, "t<");
    end(&c);
    el(&c, "b", false, false);
    empty_end(&c);
    el(&c, "c", false, false);
    gt(&c);
    end(&c);
    u8(&c, 0x0a);
    name(&c, "pi");
    u8(&c, 0x0b);
    u16(&c, 1);
    utf16(&c, "d");
    end(&c);
    leaf(&c, "Binary", "00FF", false);
    end(&c); // EventData
    el(&c, "RenderingInfo", false, false);
    gt(&c);
    leaf(&c, "Message", "ignored", false);
    end(&c);
    end(&c); // Event
    u8(&c, 0x00);
    rec_end(&c, at);
    chunk_finish(&c, 1, 1);

    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev = decode_next(&dc);
    cr_expect_eq(ev->event_id, 4104u);
    cr_expect_eq(ev->record_id, 77u);
    cr_expect_str_eq(ev->provider, "Test-Provider");
    cr_expect_str_eq(field(ev, "Refs", 0), "a&<&foo;\xe2\x98\xba\r<x>z");
    cr_expect_str_eq(field(ev, "Data", 0), "one");
    cr_expect_str_eq(field(ev, "Data", 1), "two");
    cr_expect_str_eq(field(ev, "Data", 2), "three");
    cr_expect_str_eq(field(ev, "Xml", 0),
                     "pre&amp;<a k=\"v&quot;&lt;\">t&lt;</a><b/><c></c><?pi d?>");
    cr_expect_str_eq(field(ev, "Binary", 0), "00FF");
    cr_expect_null(field(ev, "Message", 0));
    cr_expect_str_eq(field(ev, "TimeCreated", 0), "2024-05-08T07:30:07.1371137Z");
    cr_expect_eq(sk_event_nfields(ev), 11u);
    const sk_event *none;
    cr_expect_eq(sk_evtx_chunk_next(dc.ck, &none), SK_DONE);
    cr_expect_str_eq(dc.td.text, "");
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// A template with one substitution per value type; the record's values.
typedef struct tv {
    const char *name;
    uint8_t type;
    uint8_t bytes[40];
    uint16_t size;
    bool optional;
} tv;

static void template_values(cb *c, uint64_t id, const tv *vals, size_t nv);

// Writes a record: template instance (definition inline) of
//   <Event><System><Provider Name="T"/><EventID>%0</EventID><TimeCreated SystemTime="%1"/>
//   <EventRecordID>%2</EventRecordID></System><EventData><Data Name="name_i">%(3+i)</Data>...
// and the values. Returns the record's offset.
static void template_record(cb *c, uint64_t id, const tv *vals, size_t nv, uint32_t tid)
{
    size_t at = rec_begin(c, id);
    frag(c);
    u8(c, 0x0c);
    u8(c, 1);
    u32(c, tid);
    u32(c, (uint32_t)(c->n + 4));
    u32(c, 0);
    u32(c, tid);
    for (int i = 0; i < 3; i++)
        u32(c, 0x11111111u * (uint32_t)(i + 1));
    size_t size_at = c->n;
    u32(c, 0);
    size_t body = c->n;
    frag(c);
    el(c, "Event", false, true);
    gt(c);
    el(c, "System", false, true);
    gt(c);
    el(c, "Provider", true, true);
    attr(c, "Name");
    text(c, "T");
    empty_end(c);
    el(c, "EventID", false, true);
    gt(c);
    subst(c, 0, 0x06, false);
    end(c);
    el(c, "TimeCreated", true, true);
    attr(c, "SystemTime");
    subst(c, 1, 0x11, true);
    empty_end(c);
    el(c, "EventRecordID", false, true);
    gt(c);
    subst(c, 2, 0x0a, false);
    end(c);
    end(c);
    el(c, "EventData", false, true);
    gt(c);
    for (size_t i = 0; i < nv; i++) {
        el(c, "Data", true, true);
        attr(c, "Name");
        text(c, vals[i].name);
        gt(c);
        subst(c, (unsigned)(3 + i), vals[i].type, vals[i].optional);
        end(c);
    }
    end(c);
    end(c);
    u8(c, 0x00);
    put32(c, size_at, (uint32_t)(c->n - body));
    template_values(c, id, vals, nv);
    rec_end(c, at);
}

// The substitution values of template_record's template.
static void template_values(cb *c, uint64_t id, const tv *vals, size_t nv)
{
    u32(c, (uint32_t)(3 + nv));
    u16(c, 2);
    u8(c, 0x06);
    u8(c, 0);
    u16(c, 8);
    u8(c, 0x11);
    u8(c, 0);
    u16(c, 8);
    u8(c, 0x0a);
    u8(c, 0);
    for (size_t i = 0; i < nv; i++) {
        u16(c, vals[i].size);
        u8(c, vals[i].type);
        u8(c, 0);
    }
    u16(c, 4688);
    u64(c, 133596270071371137ULL);
    u64(c, id);
    for (size_t i = 0; i < nv; i++)
        for (size_t k = 0; k < vals[i].size; k++)
            u8(c, vals[i].bytes[k]);
    u8(c, 0x00);
}

// A record that instantiates the template defined at chunk offset def (template_record writes
// its definition 38 bytes into the record), naming it tid.
static void template_use(cb *c, uint64_t id, uint32_t tid, uint32_t def, const tv *vals, size_t nv)
{
    size_t at = rec_begin(c, id);
    frag(c);
    u8(c, 0x0c);
    u8(c, 1);
    u32(c, tid);
    u32(c, def);
    template_values(c, id, vals, nv);
    rec_end(c, at);
}

Test(evtx_native, every_value_type)
{
    static const tv vals[] = {
        { "Int8", 0x03, { 0xfb }, 1, false },
        { "UInt8", 0x04, { 0xfb }, 1, false },
        { "Int16", 0x05, { 0xd4, 0xfe }, 2, false },
        { "UInt16", 0x06, { 0xd4, 0xfe }, 2, false },
        { "Int32", 0x07, { 0x5f, 0x80, 0x04, 0x80 }, 4, false },
        { "UInt32", 0x08, { 0x5f, 0x7d, 0x04, 0x80 }, 4, false },
        { "Int64", 0x09, { 0, 0, 0, 0, 0, 0, 0, 0x80 }, 8, false },
        { "UInt64", 0x0a, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8, false },
        { "Real32", 0x0b, { 0, 0, 0xc0, 0x3f }, 4, false },
        { "Real64", 0x0c, { 0, 0, 0, 0, 0, 0, 0x04, 0xc0 }, 8, false },
        // reals that six decimals would lose: huge, tiny, more digits than six
        { "Real64Big", 0x0c, { 0x9c, 0x75, 0x00, 0x88, 0x3c, 0xe4, 0x37, 0x7e }, 8, false },
        { "Real64Tiny", 0x0c, { 0x95, 0xd6, 0x26, 0xe8, 0x0b, 0x2e, 0xf1, 0x3d }, 8, false },
        { "Real64Long", 0x0c, { 0x75, 0x6b, 0x7e, 0x54, 0x34, 0x6f, 0x9d, 0x41 }, 8, false },
        { "Real32Tiny", 0x0b, { 0x95, 0xbf, 0xd6, 0x33 }, 4, false },
        { "BoolT", 0x0d, { 2, 0, 0, 0 }, 4, false },
        { "BoolF", 0x0d, { 0, 0, 0, 0 }, 4, false },
        { "Binary", 0x0e, { 0x4d, 0x5a, 0x00, 0xab }, 4, false },
        { "Guid",
          0x0f,
          { 0x2b, 0x1e, 0x6c, 0x8a, 0x1c, 0x3a, 0x33, 0x66, 0x5c, 0x02, 0, 0, 0, 0, 0x1e, 0 },
          16,
          false },
        { "SizeT4", 0x10, { 0x4c, 0x02, 0, 0 }, 4, false },
        { "SizeT8", 0x10, { 0xe7, 0x03, 0, 0, 0, 0, 0, 0 }, 8, false },
        { "FileTime", 0x11, { 0xf1, 0x82, 0xeb, 0x8c, 0x19, 0xa1, 0xda, 0x01 }, 8, false },
        // past year 9999: the raw ticks, not the year modulo 10000
        { "FileTimeMax", 0x11, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 8, false },
        { "SysTime",
          0x12,
          { 0xe3, 0x07, 3, 0, 6, 0, 9, 0, 7, 0, 23, 0, 5, 0, 0x2a, 0 },
          16,
          false },
        // damaged: month 13, day 40, 25:61:61, 1000 ms is no time; its words in hex
        { "SysTimeBad",
          0x12,
          { 0xe8, 0x07, 13, 0, 0, 0, 40, 0, 25, 0, 61, 0, 61, 0, 0xe8, 0x03 },
          16,
          false },
        { "Sid", 0x13, { 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0 }, 16, false },
        { "SidBigAuth", 0x13, { 1, 0, 1, 2, 3, 4, 5, 6 }, 8, false },
        { "Hex32", 0x14, { 0x1f, 0, 0, 0 }, 4, false },
        { "Hex64", 0x15, { 0, 0, 0, 0, 0, 0, 0, 0 }, 8, false },
        { "Utf16", 0x01, { 'h', 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8, 'x', 0, 0, 0 }, 12, false },
        { "Ansi", 0x02, { 'a', 0x80, 0xa6, 0x81, 0, 'z' }, 6, false },
        { "NewLine", 0x01, { '\n', 0 }, 2, false },
        { "Empty", 0x01, { 0 }, 0, false },
        { "NormalNull", 0x00, { 0 }, 0, false },
        { "OptNull", 0x00, { 0 }, 0, true },
        { "StrArr", 0x81, { 'a', 0, 0, 0, 0, 0, 'b', 0, 0, 0 }, 10, false },
        { "U16Arr", 0x86, { 1, 0, 2, 0, 3, 0 }, 6, false },
        // SIDs of their own sizes: S-1-5-18 (one sub-authority), S-1-5-32-544 (two)
        { "SidArr",
          0x93,
          { 1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0 },
          28,
          false },
        { "EmptyArr", 0x81, { 0 }, 0, true },
    };
    static cb c;
    chunk_init(&c);
    template_record(&c, 9, vals, sizeof vals / sizeof vals[0], 0xabcdef01);
    chunk_finish(&c, 9, 9);
    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev = decode_next(&dc);
    static const char *const want[][2] = {
        { "EventID", "4688" },
        { "TimeCreated", "2024-05-08T07:30:07.1371137Z" },
        { "EventRecordID", "9" },
        { "Int8", "-5" },
        { "UInt8", "251" },
        { "Int16", "-300" },
        { "UInt16", "65236" },
        { "Int32", "-2147188641" },
        { "UInt32", "2147777887" },
        { "Int64", "-9223372036854775808" },
        { "UInt64", "18446744073709551615" },
        { "Real32", "1.5" },
        { "Real64", "-2.5" },
        { "Real64Big", "1e+300" },
        { "Real64Tiny", "2.5e-10" },
        { "Real64Long", "123456789.12345679" },
        { "Real32Tiny", "1e-07" },
        { "BoolT", "true" },
        { "BoolF", "false" },
        { "Binary", "4D5A00AB" },
        { "Guid", "{8A6C1E2B-3A1C-6633-5C02-000000001E00}" },
        { "SizeT4", "0x24c" },
        { "SizeT8", "0x3e7" },
        { "FileTime", "2024-05-08T07:30:07.135000100Z" },
        { "FileTimeMax", "0x7FFFFFFFFFFFFFFF" },
        { "SysTime", "2019-03-09T07:23:05.042Z" },
        { "SysTimeBad", "(0x07e8 0x000d 0x0000 0x0028 0x0019 0x003d 0x003d 0x03e8)" },
        { "Sid", "S-1-5-32-544" },
        { "SidBigAuth", "S-1-0x010203040506" },
        { "Hex32", "0x1f" },
        { "Hex64", "0x0" },
        // a surrogate pair, then a lone high surrogate followed by 'x'
        { "Utf16", "h\xf0\x9f\x98\x80\xef\xbf\xbdx" },
        // Windows-1252: 0x80 is the euro sign, 0xA6 the broken bar, 0x81 is undefined (C1)
        { "Ansi", "a\xe2\x82\xac\xc2\xa6\xc2\x81" },
        { "NewLine", "" },
        { "Empty", "" },
        { "NormalNull", "" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *v = field(ev, want[i][0], 0);
        cr_expect_not_null(v, "no %s", want[i][0]);
        if (v)
            cr_expect_str_eq(v, want[i][1], "%s", want[i][0]);
    }
    // An optional substitution with a NULL value leaves its element out; an array repeats its
    // element once per item (an empty array: one empty element).
    cr_expect_null(field(ev, "OptNull", 0));
    cr_expect_eq(count_field(ev, "StrArr"), 3u);
    cr_expect_str_eq(field(ev, "StrArr", 0), "a");
    cr_expect_str_eq(field(ev, "StrArr", 1), "");
    cr_expect_str_eq(field(ev, "StrArr", 2), "b");
    cr_expect_eq(count_field(ev, "U16Arr"), 3u);
    cr_expect_str_eq(field(ev, "U16Arr", 2), "3");
    cr_expect_eq(count_field(ev, "EmptyArr"), 1u);
    cr_expect_eq(count_field(ev, "SidArr"), 2u);
    cr_expect_str_eq(field(ev, "SidArr", 0), "S-1-5-18");
    cr_expect_str_eq(field(ev, "SidArr", 1), "S-1-5-32-544");
    cr_expect_str_eq(dc.td.text, "");
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// One record per damage; each is reported with its EventRecordID and the next one still reads.
Test(evtx_native, binxml_errors_are_per_record)
{
    static cb c;
    chunk_init(&c);
    uint64_t id = 100;
    size_t at;
    // 100: unknown token
    at = rec_begin(&c, id++);
    frag(&c);
    el(&c, "Event", false, false);
    gt(&c);
    u8(&c, 0x1f);
    rec_end(&c, at);
    // 101: root is not Event
    at = rec_begin(&c, id++);
    frag(&c);
    leaf(&c, "Foo", "x", false);
    u8(&c, 0);
    rec_end(&c, at);
    // 102: two roots
    at = rec_begin(&c, id++);
    frag(&c);
    leaf(&c, "Event", "x", false);
    frag(&c);
    leaf(&c, "Event", "y", false);
    u8(&c, 0);
    rec_end(&c, at);
    // 103: unterminated element
    at = rec_begin(&c, id++);
    frag(&c);
    el(&c, "Event", false, false);
    gt(&c);
    u8(&c, 0);
    rec_end(&c, at);
    // 104: name offset outside the chunk
    at = rec_begin(&c, id++);
    frag(&c);
    u8(&c, 0x01);
    u32(&c, 0);
    u32(&c, 0x7fffffff);
    rec_end(&c, at);
    // 105: template offset outside the chunk
    at = rec_begin(&c, id++);
    frag(&c);
    u8(&c, 0x0c);
    u8(&c, 1);
    u32(&c, 1);
    u32(&c, 0xfffff0);
    rec_end(&c, at);
    // 106: fine
    at = rec_begin(&c, id++);
    frag(&c);
    el(&c, "Event", false, false);
    gt(&c);
    inline_system(&c, false, 1, 106);
    end(&c);
    u8(&c, 0);
    rec_end(&c, at);
    // 107: nesting deeper than SK_MAX_DEPTH
    at = rec_begin(&c, id++);
    frag(&c);
    for (unsigned i = 0; i <= SK_MAX_DEPTH; i++) {
        el(&c, "Event", false, false);
        gt(&c);
    }
    rec_end(&c, at);
    chunk_finish(&c, 100, 107);

    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev = decode_next(&dc);
    cr_expect_eq(ev->record_id, 106u);
    cr_expect_eq(sk_evtx_chunk_next(dc.ck, &ev), SK_DONE);
    const sk_evtx_chunk_stats *s = sk_evtx_chunk_stats_get(dc.ck);
    cr_expect_eq(s->records, 8u);
    cr_expect_eq(s->events, 1u);
    cr_expect_eq(s->records_skipped, 7u);
    cr_expect_not(s->damaged);
    // Record 100 is at 512, its BinXML at 536; after the fragment header, "Event" (29 bytes)
    // and '>', the bad token is at 570. Record 103 is built the same way and ends with EOF: the
    // stream ends 35 bytes into its BinXML.
    size_t r103 = 0;
    for (size_t p = 512; p < c.n; p += c.d[p + 4] | (size_t)c.d[p + 5] << 8)
        if (c.d[p + 8] == 103) {
            r103 = p;
            break;
        }
    char want[4096];
    snprintf(want,
             sizeof want,
             "t.evtx: chunk 0: record 100: warning: unknown BinXML token 0x1f at offset 570; "
             "record skipped\n"
             "t.evtx: chunk 0: record 101: warning: root element is <Foo>, not <Event>; record "
             "skipped\n"
             "t.evtx: chunk 0: record 102: warning: more than one root element; record skipped\n"
             "t.evtx: chunk 0: record 103: warning: BinXML ends inside an element (offset %zu); "
             "record skipped\n"
             "t.evtx: chunk 0: record 104: warning: name offset 2147483647 outside the chunk; "
             "record skipped\n"
             "t.evtx: chunk 0: record 105: warning: template offset 16777200 outside the chunk; "
             "record skipped\n"
             "t.evtx: chunk 0: record 107: warning: elements nested deeper than %u; record "
             "skipped\n",
             r103 + 24 + 35,
             (unsigned)SK_MAX_DEPTH);
    cr_expect_str_eq(dc.td.text, want);
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// A template that repeats a BinXML value many times, nested three deep, would expand to 200^3
// elements: refused with SK_ERR_LIMIT (evtx-record-limit), not expanded.
Test(evtx_native, expansion_is_bounded)
{
    static cb c;
    chunk_init(&c);
    size_t at = rec_begin(&c, 1);
    frag(&c);
    // Template T: <Event>%0 x 200</Event>, defined in the outermost instance; each level's one
    // value is BinXML holding the next instance of T; the innermost value is a text token.
    uint32_t def = 0;
    size_t size_at[3], vstart[3];
    for (int level = 0; level < 3; level++) {
        u8(&c, 0x0c);
        u8(&c, 1);
        u32(&c, 0x77777777);
        if (level == 0) {
            def = (uint32_t)(c.n + 4);
            u32(&c, def);
            u32(&c, 0);
            u32(&c, 0x77777777);
            u32(&c, 0);
            u32(&c, 0);
            u32(&c, 0);
            size_t tsize = c.n;
            u32(&c, 0);
            size_t body = c.n;
            frag(&c);
            el(&c, "Event", false, true);
            gt(&c);
            for (int k = 0; k < 200; k++)
                subst(&c, 0, 0x21, false);
            end(&c);
            u8(&c, 0);
            put32(&c, tsize, (uint32_t)(c.n - body));
        } else {
            u32(&c, def);
        }
        u32(&c, 1);
        size_at[level] = c.n;
        u16(&c, 0);
        u8(&c, 0x21);
        u8(&c, 0);
        vstart[level] = c.n;
    }
    text(&c, "leaf");
    for (int level = 0; level < 3; level++) {
        size_t vs = c.n - vstart[level];
        c.d[size_at[level]] = (uint8_t)vs;
        c.d[size_at[level] + 1] = (uint8_t)(vs >> 8);
    }
    u8(&c, 0);
    rec_end(&c, at);
    chunk_finish(&c, 1, 1);
    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev;
    cr_expect_eq(sk_evtx_chunk_next(dc.ck, &ev), SK_DONE);
    cr_expect(strstr(dc.td.text, "record 1: warning: BinXML expands to more than") != NULL ||
                      strstr(dc.td.text, "record 1: warning: record expands to more than") != NULL,
              "%s",
              dc.td.text);
    cr_expect_eq(sk_evtx_chunk_stats_get(dc.ck)->records_skipped, 1u);
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// Templates: a record that names a template whose definition does not carry the same id is
// refused (a torn chunk mixing generations); a substitution beyond the values is refused.
Test(evtx_native, template_consistency)
{
    static const tv one[] = { { "A", 0x01, { 'x', 0 }, 2, false } };
    static cb c;
    chunk_init(&c);
    template_record(&c, 1, one, 1, 0x12345678);
    // record 2: an instance of the template at the same definition offset, with another id
    size_t def = 512 + 24 + 4 + 10;
    size_t at = rec_begin(&c, 2);
    frag(&c);
    size_t inst2 = c.n;
    u8(&c, 0x0c);
    u8(&c, 1);
    u32(&c, 0x99999999);
    u32(&c, (uint32_t)def);
    u32(&c, 0);
    u8(&c, 0);
    rec_end(&c, at);
    // record 3: the right id, but only 3 values (the template uses 4)
    at = rec_begin(&c, 3);
    frag(&c);
    u8(&c, 0x0c);
    u8(&c, 1);
    u32(&c, 0x12345678);
    u32(&c, (uint32_t)def);
    u32(&c, 3);
    u16(&c, 2);
    u8(&c, 0x06);
    u8(&c, 0);
    u16(&c, 0);
    u8(&c, 0x00);
    u8(&c, 0);
    u16(&c, 8);
    u8(&c, 0x0a);
    u8(&c, 0);
    u16(&c, 7);
    u64(&c, 3);
    u8(&c, 0);
    rec_end(&c, at);
    chunk_finish(&c, 1, 3);
    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev = decode_next(&dc);
    cr_expect_str_eq(field(ev, "A", 0), "x");
    cr_expect_eq(sk_evtx_chunk_next(dc.ck, &ev), SK_DONE);
    char want[1024];
    snprintf(want,
             sizeof want,
             "t.evtx: chunk 0: record 2: warning: template instance at offset %zu names template "
             "0x99999999, the definition at offset %zu is 0x12345678; record skipped\n"
             "t.evtx: chunk 0: record 3: warning: substitution 3 but only 3 values; record "
             "skipped\n",
             inst2,
             def);
    cr_expect_str_eq(dc.td.text, want);
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// BinXML inside a substitution value (type 0x21): elements without the dependency id, and a
// nested template instance; UserData leaves come out of it.
Test(evtx_native, nested_binxml_values)
{
    static cb c;
    chunk_init(&c);
    size_t at = rec_begin(&c, 5);
    frag(&c);
    u8(&c, 0x0c);
    u8(&c, 1);
    u32(&c, 0x0badcafe);
    u32(&c, (uint32_t)(c.n + 4));
    u32(&c, 0);
    u32(&c, 0x0badcafe);
    u32(&c, 0);
    u32(&c, 0);
    u32(&c, 0);
    size_t size_at = c.n;
    u32(&c, 0);
    size_t body = c.n;
    frag(&c);
    el(&c, "Event", false, true);
    gt(&c);
    inline_system(&c, true, 104, 5);
    el(&c, "UserData", false, true);
    gt(&c);
    subst(&c, 0, 0x21, false);
    end(&c);
    end(&c);
    u8(&c, 0);
    put32(&c, size_at, (uint32_t)(c.n - body));
    u32(&c, 1);
    size_t vs_at = c.n;
    u16(&c, 0);
    u8(&c, 0x21);
    u8(&c, 0);
    size_t v0 = c.n;
    // <LogFileCleared xmlns:x="u"><x:SubjectUserName>tony</x:SubjectUserName><Channel>C2
    // </Channel><Empty/></LogFileCleared>, no dependency ids
    el(&c, "LogFileCleared", true, false);
    attr(&c, "xmlns:x");
    text(&c, "u");
    gt(&c);
    leaf(&c, "x:SubjectUserName", "tony", false);
    leaf(&c, "Channel", "Other/Channel", false);
    el(&c, "Empty", false, false);
    empty_end(&c);
    end(&c);
    c.d[vs_at] = (uint8_t)(c.n - v0);
    c.d[vs_at + 1] = (uint8_t)((c.n - v0) >> 8);
    u8(&c, 0);
    rec_end(&c, at);
    chunk_finish(&c, 5, 5);
    decoded dc;
    decode_begin(&dc, &c);
    const sk_event *ev = decode_next(&dc);
    cr_expect_eq(ev->event_id, 104u);
    cr_expect_str_eq(field(ev, "SubjectUserName", 0), "tony");
    cr_expect_str_eq(field(ev, "Empty", 0), "");
    // UserData's Channel collides with the system one: the record's own moves to System.Channel.
    cr_expect_str_eq(field(ev, "Channel", 0), "Other/Channel");
    cr_expect_str_eq(field(ev, "System.Channel", 0), "Test/Operational");
    cr_expect_str_eq(ev->channel, "Test/Operational");
    cr_expect_str_eq(dc.td.text, "");
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// Record-level damage inside a chunk: a lying size field (its trailing copy is right), a torn
// record, junk where a record should be; the walk resynchronises on the next valid record, and
// the ids the header lists but nobody holds are counted.
Test(evtx_native, record_walk_resynchronises)
{
    static cb c;
    chunk_init(&c);
    size_t size4 = 0;
    for (uint64_t id = 1; id <= 6; id++) {
        if (id == 5) {
            for (int k = 0; k < 50; k++)
                u8(&c, 0xAA);
            continue;
        }
        size_t at = inline_record(&c, id);
        if (id == 2)
            put32(&c, at + 4, 0x10000000);
        if (id == 4) {
            put32(&c, c.n - 4, 7);
            size4 = c.n - at;
        }
    }
    chunk_finish(&c, 1, 6);
    decoded dc;
    decode_begin(&dc, &c);
    unsigned long n = 0;
    const sk_event *ev;
    uint64_t ids[8];
    while (sk_evtx_chunk_next(dc.ck, &ev) == SK_OK)
        ids[n++] = ev->record_id;
    cr_expect_eq(n, 4u);
    cr_expect(ids[0] == 1 && ids[1] == 2 && ids[2] == 3 && ids[3] == 6);
    const sk_evtx_chunk_stats *s = sk_evtx_chunk_stats_get(dc.ck);
    cr_expect_eq(s->records, 6u);
    cr_expect_eq(s->records_skipped, 2u);
    cr_expect(s->damaged);
    char want[2048];
    snprintf(want,
             sizeof want,
             "t.evtx: chunk 0: record 2: warning: size field says 268435456 bytes; read with the "
             "%zu bytes its trailing size copy gives\n"
             "t.evtx: chunk 0: record 4: warning: torn record (the size copy at its end does not "
             "match its size of %zu bytes); record skipped\n"
             "t.evtx: chunk 0: warning: 1 of the 6 records the chunk header lists (EventRecordID "
             "1-6) is not in its data (EventRecordID 5); record skipped\n",
             size4,
             size4);
    cr_expect_str_eq(dc.td.text, want);
    sk_evtx_chunk_free(dc.ck);
    SK_ASSERT_NO_LEAKS();
}

// Deleted records (SK_EVTX_CHUNK_RECOVER). The chunk's own records 10-12 with damaged bytes and
// a record of another use (900) between 10 and 11, then in the free space records of the chunk's
// earlier use: 5 (stores its template), 6 (uses 5's template), 7 (names another template than
// the one at the offset it gives, and none of the chunk's: the definition was overwritten), 9, 13
// (see below) and a torn fragment.
Test(evtx_native, carving_recovers_deleted_records)
{
    static cb c;
    chunk_init(&c);
    static const tv val[] = { { "Item", 0x08, { 42, 0, 0, 0 }, 4, false } };
    for (uint64_t id = 10; id <= 12; id++) {
        inline_record(&c, id);
        if (id == 10) {
            for (int k = 0; k < 50; k++)
                u8(&c, 0xAA);
            template_record(&c, 900, val, 1, 0x90909090u);
        }
    }
    chunk_finish(&c, 10, 12);
    size_t at5 = c.n;
    template_record(&c, 5, val, 1, 0x05050505u);
    static const tv val6[] = { { "Item", 0x08, { 43, 0, 0, 0 }, 4, false } };
    template_use(&c, 6, 0x05050505u, (uint32_t)(at5 + 38), val6, 1);
    template_use(&c, 7, 0x07070707u, (uint32_t)(at5 + 38), val6, 1);
    // 9 names 5's template but gives an offset inside record 10, which holds none: 5's stored
    // definition is found by its id.
    static const tv val9[] = { { "Item", 0x08, { 44, 0, 0, 0 }, 4, false } };
    template_use(&c, 9, 0x05050505u, 600, val9, 1);
    // 13 stores its own template, but the hash of the template's first name ("Event") is
    // damaged: a name that is not one (as when a template's names were overwritten).
    size_t at13 = c.n;
    template_record(&c, 13, val, 1, 0x0d0d0d0du);
    c.d[at13 + 81] ^= 0xff;
    size_t torn = rec_begin(&c, 8);
    frag(&c);
    put32(&c, torn + 4, 400); // its end was overwritten: no size copy 400 bytes on

    for (int pass = 0; pass < 2; pass++) {
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_evtx_chunk *ck = sk_evtx_chunk_new();
        unsigned flags = pass ? SK_EVTX_CHUNK_RECOVER : 0;
        cr_assert_eq(sk_evtx_chunk_begin(ck, c.d, sizeof c.d, 0, flags, "t.evtx", &td.dl), SK_OK);
        const sk_event *ev;
        char got[256] = "";
        while (sk_evtx_chunk_next(ck, &ev) == SK_OK) {
            const char *item = field(ev, "Item", 0);
            snprintf(got + strlen(got),
                     sizeof got - strlen(got),
                     "%s%llu%s%s",
                     *got ? " " : "",
                     (unsigned long long)ev->record_id,
                     ev->recovered ? "r" : "",
                     item ? item : "");
        }
        const sk_evtx_chunk_stats *s = sk_evtx_chunk_stats_get(ck);
        // The chunk's own records are accounted for as always; recovered ones apart.
        cr_expect_eq(s->records, 3u);
        cr_expect_eq(s->events, 3u);
        cr_expect_eq(s->records_skipped, 0u);
        cr_expect(!s->damaged);
        if (pass) {
            cr_expect_str_eq(got, "10 11 12 900r42 5r42 6r43 9r44");
            cr_expect_eq(s->recovered, 4u);
            cr_expect_eq(s->recovered_failed, 2u);
            cr_expect_str_eq(td.text,
                             "t.evtx: chunk 0: note: 2 of the 6 recovered records found in it "
                             "could not be decoded\n");
        } else {
            cr_expect_str_eq(got, "10 11 12");
            cr_expect_eq(s->recovered, 0u);
            cr_expect_str_eq(td.text, "");
        }
        sk_evtx_chunk_free(ck);
    }
    SK_ASSERT_NO_LEAKS();
}

// File level: a file header that undercounts its chunks (dirty), a damaged chunk within the
// count, stale space past it, a file header CRC mismatch.
static void file_header(cb *f, uint16_t chunks, uint32_t flags, bool good_crc)
{
    memset(f->d, 0, 4096);
    memcpy(f->d, "ElfFile", 8);
    cb h = { .n = 8 };
    u64(&h, 0);
    u64(&h, chunks ? chunks - 1u : 0);
    u64(&h, 100);
    u32(&h, 128);
    u16(&h, 1);
    u16(&h, 3);
    u16(&h, 4096);
    u16(&h, chunks);
    memcpy(f->d + 8, h.d + 8, h.n - 8);
    put32(f, 120, flags);
    put32(f, 124, (uint32_t)crc32(0, f->d, 120) ^ (good_crc ? 0u : 1u));
}

static void simple_chunk(cb *c, uint64_t first, unsigned n)
{
    chunk_init(c);
    for (uint64_t id = first; id < first + n; id++)
        inline_record(c, id);
    chunk_finish(c, first, first + n - 1);
}

static char *image(cb *hdr, cb **chunks, size_t nchunks, size_t *n)
{
    *n = 4096 + nchunks * 65536;
    char *img = malloc(*n);
    memcpy(img, hdr->d, 4096);
    for (size_t i = 0; i < nchunks; i++)
        memcpy(img + 4096 + i * 65536, chunks[i]->d, 65536);
    return img;
}

Test(evtx_native, file_level_damage)
{
    static cb hdr, c0, c1, c2, c3;
    simple_chunk(&c0, 1, 3);
    simple_chunk(&c1, 4, 3);
    simple_chunk(&c2, 7, 2);
    simple_chunk(&c3, 9, 2);
    memset(c1.d, 0, 8); // chunk 1: signature gone, records intact
    memset(c3.d, 0, 8); // chunk 3: past the count: stale space
    cb *chunks[] = { &c0, &c1, &c2, &c3 };

    // Header counts 2 chunks: chunk 1 is damaged, chunk 2 (valid) is read, chunk 3 is unused.
    file_header(&hdr, 2, 1, true);
    size_t n;
    char *img = image(&hdr, chunks, 4, &n);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx_native_memory(&r, img, n, "d.evtx", NULL, &td.dl), SK_OK);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 5u);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(s->records_skipped, 3u);
    cr_expect(s->damaged);
    cr_expect_str_eq(td.text,
                     "d.evtx: chunk 1: warning: no chunk signature (damaged chunk header, 3 "
                     "records found in it); chunk skipped\n");
    sk_reader_close(r);
    free(img);

    // A bad file header CRC: the count is not trusted, every slot without a signature is
    // unused space. The header also claims more chunks than the file has.
    file_header(&hdr, 9, 0, false);
    img = image(&hdr, chunks, 4, &n);
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_evtx_native_memory(&r, img, n, "h.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 5u);
    s = sk_reader_stats_get(r);
    cr_expect_eq(s->records_skipped, 0u);
    cr_expect(s->damaged);
    cr_expect_str_eq(
            td.text,
            "h.evtx: warning: file header CRC mismatch; reading every chunk of the file\n");
    sk_reader_close(r);
    free(img);

    file_header(&hdr, 9, 0, true);
    img = image(&hdr, chunks, 1, &n);
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_evtx_native_memory(&r, img, n, "t.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 3u);
    cr_expect(sk_reader_stats_get(r)->damaged);
    cr_expect_str_eq(td.text,
                     "t.evtx: warning: the file header lists 9 chunks but the file holds 1; the "
                     "file is cut short\n");
    sk_reader_close(r);
    free(img);

    // Flag 0x4 (no CRC32s): damaged CRCs are not checked.
    put32(&c0, 52, 0);
    put32(&c0, 124, 0);
    file_header(&hdr, 1, 4, false);
    img = image(&hdr, chunks, 1, &n);
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_evtx_native_memory(&r, img, n, "n.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 3u);
    cr_expect_not(sk_reader_stats_get(r)->damaged);
    cr_expect_str_eq(td.text, "");
    sk_reader_close(r);
    free(img);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Corpus: exact counts (MANIFEST.md's notes give the records a correct reader reaches) and the
// damaged-file accounting.

typedef struct corpus_case {
    char rel[160];
    unsigned long events;
    unsigned long skipped;
    bool damaged;
    unsigned long warnings;
} corpus_case;

ParameterizedTestParameters(evtx_native, corpus_counts)
{
    // events + skipped = what the chunks hold: the records found in them, plus those their
    // headers list that are not there (overwritten by a newer generation of the chunk in a VSS
    // copy, zeroed, or never written). MANIFEST "records" vs these figures:
    //  - RdpCoreTS: 1912 records = 1910 events + 2 torn; 66 more ids listed but absent.
    //  - RemoteConnectionManager: libevtx 1774; the walk resynchronises after the torn record
    //    of chunk 1 and reads 21 more (1795); 1 torn, 99 listed ids absent.
    //  - CAPI2 (340, libevtx 337/24) and ShadowCopy6 CAPI2 (459, libevtx 436/89): all.
    //  - HelloForBusiness 6 = 5 + 1 torn (its tail is zeroed: evtx-rs decodes zeroes there);
    //    14 listed but never written. LanguagePackSetup 17 = 16 + 1 torn; 3 never written.
    //  - zero-data-size: libevtx stops at record 3 (size 0) and loses the rest of chunk 0;
    //    the walk resynchronises: 449 events + record 3.
    //  - bad chunk magic: 270 = 267 + 3 torn; resynchronising in chunk 7 reads 31 more (298);
    //    the two chunks without a header hold 15 + 67 records, skipped; 166 listed ids absent.
    static corpus_case cases[] = {
        { "broken/omerbenamram-evtx/2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS"
          "%4Operational.evtx",
          1910,
          68,
          true,
          6 },
        { "broken/omerbenamram-evtx/2-vss_0-Microsoft-Windows-TerminalServices-"
          "RemoteConnectionManager%4Operational.evtx",
          1795,
          100,
          true,
          5 },
        { "broken/omerbenamram-evtx/2-vss_7-System.evtx", 1160, 0, false, 0 },
        { "broken/omerbenamram-evtx/Application_no_crc32.evtx", 17, 0, false, 0 },
        { "broken/omerbenamram-evtx/E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-"
          "CAPI2%4Operational.evtx",
          459,
          0,
          false,
          0 },
        { "broken/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2"
          "%4Operational.evtx",
          340,
          0,
          false,
          0 },
        { "broken/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core"
          "%4Operational.evtx",
          1146,
          0,
          false,
          0 },
        { "broken/omerbenamram-evtx/MSExchange_Management_wec.evtx", 1, 0, false, 0 },
        { "broken/omerbenamram-evtx/Microsoft-Windows-HelloForBusiness%4Operational.evtx",
          5,
          15,
          true,
          3 },
        { "broken/omerbenamram-evtx/Microsoft-Windows-LanguagePackSetup%4Operational.evtx",
          16,
          4,
          true,
          3 },
        { "broken/omerbenamram-evtx/post-Security.evtx", 126, 0, false, 0 },
        { "broken/omerbenamram-evtx/sample-with-zero-data-size-event.evtx", 449, 1, true, 2 },
        { "broken/omerbenamram-evtx/sample_with_a_bad_chunk_magic.evtx", 298, 251, true, 11 },
        { "broken/omerbenamram-evtx/security_bad_string_cache.evtx", 2261, 0, true, 1 },
        { "broken/omerbenamram-evtx/sysmon.evtx", 358, 0, false, 0 },
        { "broken/python-evtx/dns_log_malformed.evtx", 5, 0, false, 0 },
        { "broken/python-evtx/issue_38.evtx", 1, 0, false, 0 },
        { "broken/python-evtx/issue_39.evtx", 394, 0, false, 0 },
        { "broken/python-evtx/issue_43.evtx", 1730, 0, false, 0 },
        { "broken/inline-binxml/ID1116-1117-Defender threat detected.evtx", 6, 0, false, 0 },
        { "broken/inline-binxml/ID1149-RDP success logins to multiple hosts.evtx",
          11,
          0,
          false,
          0 },
        { "broken/inline-binxml/ID2003-4950-Firewall disabled.evtx", 6, 0, false, 0 },
        { "broken/inline-binxml/ID4656-WS Management listener enumeration.evtx", 29, 0, false, 0 },
        { "broken/inline-binxml/ID800-4103-4104-Print spooler privilege escalation "
          "(CVE-2020-1048).evtx",
          10,
          0,
          false,
          0 },
        { "broken/inline-binxml/ID800-4103-4104-WMI registration via PowerLurk.evtx",
          10,
          0,
          false,
          0 },
        { "broken/inline-binxml/ID800-4103-Firewall disabled.evtx", 10, 0, false, 0 },
        { "baseline/omerbenamram-evtx/2-system-Microsoft-Windows-LiveId%4Operational.evtx",
          399,
          0,
          false,
          0 },
        { "baseline/omerbenamram-evtx/Security_short_selected.evtx", 7, 0, false, 0 },
        { "baseline/omerbenamram-evtx/Security_with_size_t.evtx", 636, 0, false, 0 },
        { "baseline/omerbenamram-evtx/new-user-security.evtx", 4, 0, false, 0 },
        { "baseline/omerbenamram-evtx/sample-with-irregular-bool-values.evtx", 3028, 0, false, 0 },
        { "baseline/omerbenamram-evtx/security.evtx", 2261, 0, false, 0 },
        { "baseline/omerbenamram-evtx/system.evtx", 1881, 0, false, 0 },
        { "baseline/python-evtx/system.evtx", 1601, 0, false, 0 },
    };
    return cr_make_param_array(corpus_case, cases, sizeof cases / sizeof cases[0]);
}

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

ParameterizedTest(corpus_case *c, evtx_native, corpus_counts, .timeout = 60)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", corpus, c->rel);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx_native(&r, path, c->rel, NULL, &td.dl), SK_OK, "%s", td.text);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(t.events, c->events, "%s: events", c->rel);
    cr_expect_eq(s->events, c->events);
    cr_expect_eq(s->records_skipped, c->skipped, "%s: skipped\n%s", c->rel, td.text);
    cr_expect_eq(s->damaged, c->damaged, "%s: damaged", c->rel);
    cr_expect_eq(td.dl.warnings, c->warnings, "%s:\n%s", c->rel, td.text);
    cr_expect_eq(td.dl.errors, 0u);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(s->bytes, (uint64_t)sb.st_size);
    sk_reader_close(r);

    // Accounting, chunk by chunk: each chunk's records = its events + its skips, they add up
    // to the file's figures, and a chunk holds at least the records its header lists.
    size_t n;
    char *img = read_file(path, &n);
    sk_evtx_chunk *ck = sk_evtx_chunk_new();
    sk_test_diags_init(&td);
    uint64_t events = 0, skipped = 0, records = 0;
    const uint8_t *h = (const uint8_t *)img;
    unsigned hdr_chunks = h[42] | h[43] << 8;
    unsigned base_flags = (h[120] & 4) ? SK_EVTX_CHUNK_NO_CRC : 0;
    for (size_t off = 4096; off < n; off += 65536) {
        size_t len = n - off < 65536 ? n - off : 65536;
        const uint8_t *d = (const uint8_t *)img + off;
        size_t idx = (off - 4096) / 65536;
        unsigned flags = base_flags | (idx >= hdr_chunks ? SK_EVTX_CHUNK_BEYOND_COUNT : 0);
        cr_assert_eq(sk_evtx_chunk_decode(ck, d, len, idx, flags, "x", &td.dl, NULL, NULL), SK_OK);
        const sk_evtx_chunk_stats *cs = sk_evtx_chunk_stats_get(ck);
        cr_expect_eq(cs->records, cs->events + cs->records_skipped);
        if (len >= 512 && memcmp(d, "ElfChnk", 8) == 0 && rd64(d + 32) >= rd64(d + 24) &&
            (d[48] | d[49] << 8) > 512)
            cr_expect_geq(cs->records,
                          rd64(d + 32) - rd64(d + 24) + 1,
                          "%s chunk %zu",
                          c->rel,
                          (off - 4096) / 65536);
        events += cs->events;
        skipped += cs->records_skipped;
        records += cs->records;
    }
    cr_expect_eq(events, c->events);
    cr_expect_eq(skipped, c->skipped);
    cr_expect_eq(records, c->events + c->skipped);
    sk_evtx_chunk_free(ck);
    free(img);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Differential test: every corpus .evtx file (and the fixtures) through both readers. For every
// record the libevtx reader reads, the native reader must give the same event: the same fields,
// names, values and order. The only differences allowed are the documented deviations, where
// the native decoder is right and libevtx is not:
//   NON_BMP    characters outside the BMP and lone surrogates (libevtx 20181227 mis-decodes
//              UTF-16 surrogates: U+1F600 becomes U+1F201, a lone high surrogate swallows the
//              next character): the values agree on every ASCII character;
//   NEGATIVE   negative Int8..Int64 values (libevtx prints -295007 for -2147188641);
//   SIZET      SizeT values: hexadecimal, as Windows prints them and libyal's format notes say
//              (they pair with HexInt32/64); libevtx prints them in decimal;
//   HEXSTRING  string values that only look like zero-padded hex ("0x00060000", Sysmon 8's
//              StartAddress is a string): the libevtx reader cannot tell them from HexInt and
//              strips the padding; the native decoder knows the type and keeps the string;
//   REAL       Real32/Real64 values: the shortest text that gives the value back (1.5), as
//              python-evtx prints them; libevtx prints "%e" with a three-digit exponent
//              (1.500000e+000), six decimals of the same value.
// The native reader reads more records than libevtx on damaged and inline-BinXML files; those
// are compared by the count tests above, not here.

typedef enum dev_class {
    DEV_NONE = -1,
    DEV_NON_BMP,
    DEV_NEGATIVE,
    DEV_SIZET,
    DEV_HEXSTRING,
    DEV_REAL,
    DEV_COUNT,
} dev_class;

static const char *const dev_names[] = { "NON_BMP", "NEGATIVE", "SIZET", "HEXSTRING", "REAL" };

static bool all_digits(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void ascii_only(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if ((unsigned char)*s < 0x80)
            out[k++] = *s;
    out[k] = '\0';
}

// libevtx's form of a real: -?D.DDDDDDe[+-]DDD, the same value as the native text to its six
// decimals.
static bool same_real(const char *lib, const char *nat)
{
    const char *p = lib + (*lib == '-');
    if (!(p[0] >= '0' && p[0] <= '9' && p[1] == '.'))
        return false;
    for (int i = 2; i < 8; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    if (p[8] != 'e' || (p[9] != '+' && p[9] != '-') || strlen(p + 10) != 3 || !all_digits(p + 10))
        return false;
    char *end;
    double a = strtod(lib, NULL), b = strtod(nat, &end);
    if (end == nat || *end)
        return false;
    double d = a - b < 0 ? b - a : a - b, m = a < 0 ? -a : a;
    return d <= m * 5e-7;
}

static dev_class classify(const char *lib, const char *nat)
{
    if (strstr(nat, "\xef\xbf\xbd") || strpbrk(nat, "\xf0\xf1\xf2\xf3\xf4")) {
        static char a[1 << 16], b[1 << 16];
        ascii_only(lib, a, sizeof a);
        ascii_only(nat, b, sizeof b);
        if (strcmp(a, b) == 0)
            return DEV_NON_BMP;
    }
    if (nat[0] == '-' && all_digits(nat) && all_digits(lib))
        return DEV_NEGATIVE;
    if (nat[0] == '0' && nat[1] == 'x' && all_digits(lib) &&
        strtoull(nat, NULL, 16) == strtoull(lib, NULL, 10))
        return DEV_SIZET;
    size_t n = strlen(nat);
    if ((n == 10 || n == 18) && strncmp(nat, "0x0", 3) == 0 && strncmp(lib, "0x", 2) == 0 &&
        strtoull(nat, NULL, 16) == strtoull(lib, NULL, 16) && strlen(lib) < n)
        return DEV_HEXSTRING;
    if (same_real(lib, nat))
        return DEV_REAL;
    return DEV_NONE;
}

typedef struct nev {
    uint64_t id;
    bool recovered;
    size_t n;
    char **names;
    char **values;
} nev;

typedef struct diffstats {
    unsigned long files;
    unsigned long lib_events;
    unsigned long compared_fields;
    unsigned long dev[DEV_COUNT];
    unsigned long failures;
    // --recovered: libevtx's recovered events, those the native reader gives too (as a recovered
    // event, or as a record of the chunk itself, which libevtx calls recovered after damage),
    // those libevtx decoded with a template or names that are not the record's (stale_copy),
    // and the native reader's recovered events.
    unsigned long lib_recovered;
    unsigned long recovered_same;
    unsigned long stale[3]; // by stale_kind
    unsigned long native_recovered;
} diffstats;

// The same fields, names and values, but for the documented deviations (counted in ds).
static bool same_fields(const nev *x, const sk_event *e, diffstats *ds)
{
    if (x->n != sk_event_nfields(e))
        return false;
    unsigned long dev[DEV_COUNT] = { 0 };
    for (size_t i = 0; i < x->n; i++) {
        const sk_field *f = sk_event_field(e, i);
        if (strcmp(f->name, x->names[i]) != 0)
            return false;
        if (strcmp(f->value, x->values[i]) == 0)
            continue;
        dev_class dc = classify(f->value, x->values[i]);
        if (dc == DEV_NONE)
            return false;
        dev[dc]++;
    }
    for (int i = 0; i < DEV_COUNT; i++)
        ds->dev[i] += dev[i];
    return true;
}

// Why the native reader may refuse a recovered record that libevtx reads: a copy of the record
// with EventRecordID id in the file image refers to a template or a name by a chunk offset that
// the chunk's present use has overwritten. libevtx decodes such a record with whatever is there
// now (field names and values that do not belong together, or an EventData that is no longer
// one and is left out); the native reader refuses it.
//   STALE_TEMPLATE  a template instance (the record's own, or one in a BinXML value such as its
//                   EventData) whose definition offset holds another template, or none that fits;
//   STALE_NAME      an element or attribute of a template stored in the record whose name offset
//                   holds no name.
typedef enum stale_kind { STALE_NONE, STALE_TEMPLATE, STALE_NAME } stale_kind;

static stale_kind stale_copy(const uint8_t *img, size_t n, uint64_t id)
{
    for (size_t q = 4096; q + 40 <= n; q++) {
        const uint8_t *hit = memmem(img + q, n - q, "**\0\0", 4);
        if (!hit)
            break;
        q = (size_t)(hit - img);
        if (q + 40 > n)
            continue;
        size_t chunk = q - (q - 4096) % 65536;
        size_t end = n - chunk < 65536 ? n - chunk : 65536;
        uint32_t size = rd32le(img + q + 4);
        if (size < 40 || size > chunk + end - q || rd32le(img + q + size - 4) != size)
            continue;
        // A copy of the record: its header says id, or (files whose record headers were
        // renumbered by the tool that exported them) its values hold id as a 64-bit integer.
        uint8_t key[8];
        for (int b = 0; b < 8; b++)
            key[b] = (uint8_t)(id >> (8 * b));
        if (rd64(img + q + 8) != id && !memmem(img + q + 24, size - 28, key, 8))
            continue;
        // Template instances (token 0x0c 0x01, template id, definition offset) anywhere in the
        // record whose offset lies in the chunk's records (a random "0c 01" in a value almost
        // never gives one) but holds another template, or none that fits.
        for (size_t k = q + 24; k + 10 <= q + size;) {
            const uint8_t *f = memmem(img + k, q + size - k, "\x0c\x01", 2);
            if (!f || (size_t)(f - img) + 10 > q + size)
                break;
            k = (size_t)(f - img);
            uint32_t tid = rd32le(img + k + 2), def = rd32le(img + k + 6);
            k++;
            if (def < 512 || def >= end)
                continue;
            if ((size_t)def + 24 > end || rd32le(img + chunk + def + 4) != tid ||
                rd32le(img + chunk + def + 20) > end - def - 24)
                return STALE_TEMPLATE;
        }
        // Element starts (token 0x01 or 0x41, dependency id 0xffff, size, name offset) and
        // attributes (0x06 or 0x46, name offset) anywhere in the record whose name offset lies
        // in the chunk's records but holds no name: its hash (low 16 bits of h * 65599 + unit)
        // or its terminating NUL does not match.
        for (size_t k = q + 24; k + 11 <= q + size; k++) {
            const uint8_t *b = img + k;
            uint32_t off;
            if ((b[0] == 0x01 || b[0] == 0x41) && b[1] == 0xff && b[2] == 0xff)
                off = rd32le(b + 7);
            else if (b[0] == 0x06 || b[0] == 0x46)
                off = rd32le(b + 1);
            else
                continue;
            if (off < 512 || (size_t)off + 10 > end)
                continue;
            const uint8_t *nm = img + chunk + off;
            size_t units = (size_t)(nm[6] | nm[7] << 8);
            if ((size_t)off + 10 + 2 * units > end)
                continue; // not a name reference at all (a random byte pattern)
            uint32_t h = 0;
            for (size_t u = 0; u < units; u++)
                h = h * 65599u + (uint32_t)(nm[8 + 2 * u] | nm[9 + 2 * u] << 8);
            if ((h & 0xffffu) != (uint32_t)(nm[4] | nm[5] << 8) ||
                nm[8 + 2 * units] != 0 || nm[9 + 2 * units] != 0)
                return STALE_NAME;
        }
    }
    return STALE_NONE;
}

static void compare_file(const char *path, diffstats *ds)
{
    sk_test_diags tl, tn;
    sk_test_diags_init(&tl);
    sk_test_diags_init(&tn);
    sk_reader *rl = NULL, *rn = NULL;
    // Both readers with their recovered records: libevtx's follow its live ones, the native
    // reader's follow each chunk's records.
    sk_reader_opts ro = { .recovered = true };
    if (sk_reader_open_evtx(&rl, path, path, &ro, &tl.dl) != SK_OK)
        return; // nothing libevtx reads, nothing to compare
    cr_assert_eq(sk_reader_open_evtx_native(&rn, path, path, &ro, &tn.dl), SK_OK, "%s", path);
    ds->files++;
    nev *nv = NULL;
    size_t nn = 0, cap = 0;
    const sk_event *e;
    while (sk_reader_next(rn, &e) == SK_OK) {
        if (nn == cap) {
            cap = cap ? 2 * cap : 256;
            nv = realloc(nv, cap * sizeof *nv);
        }
        nev *x = &nv[nn++];
        x->id = e->record_id;
        x->recovered = e->recovered;
        ds->native_recovered += e->recovered;
        x->n = sk_event_nfields(e);
        x->names = malloc((x->n + 1) * sizeof(char *));
        x->values = malloc((x->n + 1) * sizeof(char *));
        for (size_t i = 0; i < x->n; i++) {
            x->names[i] = strdup(sk_event_field(e, i)->name);
            x->values[i] = strdup(sk_event_field(e, i)->value);
        }
    }
    // Events come in the same order (chunks in file order, records in chunk order); the native
    // reader may hold more (records libevtx cannot read) in between.
    size_t j = 0;
    uint8_t *img = NULL;
    size_t imgn = 0;
    while (sk_reader_next(rl, &e) == SK_OK) {
        if (e->recovered) {
            ds->lib_recovered++;
            size_t k = 0;
            while (k < nn && (nv[k].id != e->record_id || !same_fields(&nv[k], e, ds)))
                k++;
            if (k < nn) {
                ds->recovered_same++;
                continue;
            }
            if (!img)
                img = (uint8_t *)read_file(path, &imgn);
            stale_kind sk = stale_copy(img, imgn, e->record_id);
            if (sk != STALE_NONE) {
                ds->stale[sk]++;
                continue;
            }
            if (ds->failures++ < 20)
                cr_expect_fail("%s: recovered record %llu read by libevtx is missing from the "
                               "native events",
                               path,
                               (unsigned long long)e->record_id);
            continue;
        }
        ds->lib_events++;
        size_t k = j;
        while (k < nn && (nv[k].recovered || nv[k].id != e->record_id))
            k++;
        if (k == nn) {
            if (ds->failures++ < 20)
                cr_expect_fail("%s: record %llu read by libevtx is missing from the native events",
                               path,
                               (unsigned long long)e->record_id);
            continue;
        }
        j = k + 1;
        nev *x = &nv[k];
        if (x->n != sk_event_nfields(e)) {
            if (ds->failures++ < 20)
                cr_expect_fail("%s: record %llu: %zu fields, libevtx %zu",
                               path,
                               (unsigned long long)e->record_id,
                               x->n,
                               sk_event_nfields(e));
            continue;
        }
        for (size_t i = 0; i < x->n; i++) {
            const sk_field *f = sk_event_field(e, i);
            ds->compared_fields++;
            if (strcmp(f->name, x->names[i]) != 0) {
                if (ds->failures++ < 20)
                    cr_expect_fail("%s: record %llu field %zu: name %s, libevtx %s",
                                   path,
                                   (unsigned long long)e->record_id,
                                   i,
                                   x->names[i],
                                   f->name);
                continue;
            }
            if (strcmp(f->value, x->values[i]) == 0)
                continue;
            dev_class dc = classify(f->value, x->values[i]);
            if (dc == DEV_NONE) {
                if (ds->failures++ < 20)
                    cr_expect_fail("%s: record %llu %s: [%.200s], libevtx [%.200s]",
                                   path,
                                   (unsigned long long)e->record_id,
                                   f->name,
                                   x->values[i],
                                   f->value);
            } else {
                ds->dev[dc]++;
            }
        }
    }
    for (size_t i = 0; i < nn; i++) {
        for (size_t k = 0; k < nv[i].n; k++) {
            free(nv[i].names[k]);
            free(nv[i].values[k]);
        }
        free(nv[i].names);
        free(nv[i].values);
    }
    free(nv);
    free(img);
    sk_reader_close(rl);
    sk_reader_close(rn);
}

static void walk_evtx(const char *dir, diffstats *ds)
{
    char **paths = NULL;
    size_t n = 0, cap = 0;
    sk_test_list_files(dir, 16, ".evtx", &paths, &n, &cap);
    cr_assert_gt(n, 0, "no evtx files under %s", dir);
    for (size_t i = 0; i < n; i++)
        compare_file(paths[i], ds);
    sk_test_free_files(paths, n);
}

Test(evtx_native, same_events_as_libevtx, .timeout = 900)
{
    diffstats ds;
    memset(&ds, 0, sizeof ds);
    char dir[4096];
    walk_evtx(sk_test_src("tests/fixtures/evtx", dir, sizeof dir), &ds);
    cr_expect_eq(ds.dev[DEV_NON_BMP], 1u, "the emoji of control_chars.evtx record 2");
    cr_expect_eq(ds.dev[DEV_REAL], 6u, "the six values of real_values.evtx");
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent: only the fixtures were compared");
    walk_evtx(corpus, &ds);
    cr_log_info("compared %lu files, %lu libevtx events, %lu fields; deviations: NON_BMP %lu, "
                "NEGATIVE %lu, SIZET %lu, HEXSTRING %lu, REAL %lu; recovered: libevtx %lu (%lu the same "
                "as native events, %lu STALE_TEMPLATE, %lu STALE_NAME), native %lu",
                ds.files,
                ds.lib_events,
                ds.compared_fields,
                ds.dev[DEV_NON_BMP],
                ds.dev[DEV_NEGATIVE],
                ds.dev[DEV_SIZET],
                ds.dev[DEV_HEXSTRING],
                ds.dev[DEV_REAL],
                ds.lib_recovered,
                ds.recovered_same,
                ds.stale[STALE_TEMPLATE],
                ds.stale[STALE_NAME],
                ds.native_recovered);
    cr_expect_eq(ds.failures, 0u, "%lu unexplained differences", ds.failures);
    cr_expect_gt(ds.lib_events, 20000u);
    // Recovered records: every one libevtx reads is a native event too, unless libevtx read it
    // with a template or names that are not its own; the native reader recovers more (it carves
    // the whole chunk around its records, libevtx only part of it).
    cr_expect_gt(ds.recovered_same, 700u);
    cr_expect_gt(ds.stale[STALE_TEMPLATE], 0u);
    cr_expect_gt(ds.stale[STALE_NAME], 0u);
    cr_expect_gt(ds.native_recovered, ds.lib_recovered);
    // Each documented deviation occurs in the corpus (so each is exercised, and a fix on either
    // side shows up here).
    for (int i = 0; i < DEV_COUNT; i++)
        cr_expect_gt(ds.dev[i], 0u, "%s", dev_names[i]);
    SK_ASSERT_NO_LEAKS();
}

// Every EVTX-ATTACK-SAMPLES file reads cleanly: no skip, no diagnostic.
static void walk_clean(const char *dir, unsigned long *files, unsigned long *events)
{
    char **paths = NULL;
    size_t n = 0, cap = 0;
    sk_test_list_files(dir, 16, ".evtx", &paths, &n, &cap);
    cr_assert_gt(n, 0, "no evtx files under %s", dir);
    for (size_t i = 0; i < n; i++) {
        const char *path = paths[i], *name = strrchr(path, '/') + 1;
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_reader *r = NULL;
        cr_assert_eq(sk_reader_open_evtx_native(&r, path, name, NULL, &td.dl), SK_OK);
        tally t;
        cr_expect_eq(drain(r, &t), SK_DONE);
        cr_expect_eq(sk_reader_stats_get(r)->records_skipped, 0u, "%s", path);
        cr_expect_str_eq(td.text, "", "%s", path);
        *events += t.events;
        (*files)++;
        sk_reader_close(r);
    }
    sk_test_free_files(paths, n);
}

Test(evtx_native, evtx_attack_samples_read_cleanly, .timeout = 120)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/evtx-attack/sbousseaden", corpus);
    unsigned long files = 0, events = 0;
    walk_clean(dir, &files, &events);
    cr_expect_eq(files, 185u);
    cr_expect_eq(events, 1563u);
    SK_ASSERT_NO_LEAKS();
}
