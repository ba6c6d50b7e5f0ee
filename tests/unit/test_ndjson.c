// Unit tests for the NDJSON reader (src/input/ndjson.c) and the JSON field mapping
// (src/event/fieldmap.c). Every input is read at chunk sizes 1, 2, 7, 4096 and whole, with and
// without a sniffed prefix, and all passes must give the same events and diagnostics (YARA's
// test_pass idea).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <ftw.h>
#include <strings.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/timefmt.h"
#include "event/fieldmap.h"
#include "helpers.h"
#include "input/input.h"
#include "input/reader.h"

// ------------------------------------------------------------------------------------------------
// Harness

typedef struct result {
    sk_buf dump; // "@line\n" then "[S:][H:]name=value\n" per field
    sk_test_diags td;
    sk_reader_stats stats;
    sk_status last; // the status that ended the loop
} result;

static void dump_event(sk_buf *out, const sk_event *ev)
{
    cr_assert(sk_buf_addf(out, "@%llu\n", (unsigned long long)ev->line) == SK_OK);
    cr_assert_eq(ev->format, SK_FORMAT_NDJSON);
    for (size_t i = 0; i < sk_event_nfields(ev); i++) {
        const sk_field *f = sk_event_field(ev, i);
        cr_assert_eq(strlen(f->name), f->name_len);
        cr_assert_eq(strlen(f->value), f->value_len);
        cr_assert(sk_buf_addf(out,
                              "%s%s%s=%s\n",
                              (f->flags & SK_FIELD_SYSTEM) ? "S:" : "",
                              (f->flags & SK_FIELD_HIDDEN) ? "H:" : "",
                              f->name,
                              f->value) == SK_OK);
    }
}

static FILE *file_of(const void *data, size_t n)
{
    FILE *fp = tmpfile();
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    rewind(fp);
    return fp;
}

// Reads data[0..n) as file "t.ndjson" with the given chunk size; the first prefix bytes are handed
// over as already sniffed.
static void run(result *res, const char *data, size_t n, size_t chunk, size_t prefix)
{
    sk_buf_init(&res->dump, 1u << 30);
    sk_test_diags_init(&res->td);
    if (prefix > n)
        prefix = n;
    FILE *fp = file_of(data + prefix, n - prefix);
    sk_reader_opts opts = { .chunk_size = chunk };
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, data, prefix, "t.ndjson", &opts, &res->td.dl),
                 SK_OK);
    const sk_event *ev;
    while ((res->last = sk_reader_next(r, &ev)) == SK_OK) {
        cr_assert_str_eq(ev->file, "t.ndjson");
        dump_event(&res->dump, ev);
    }
    cr_assert_eq(sk_reader_next(r, &ev), SK_DONE); // and stays ended
    res->stats = *sk_reader_stats_get(r);
    sk_reader_close(r);
}

static void result_fini(result *res)
{
    sk_buf_fini(&res->dump);
}

// Runs data through every chunk size and prefix length; the passes must agree. Leaves the
// first pass's result in *out (to be released with result_fini).
static void run_all(result *out, const char *data, size_t n)
{
    const size_t chunks[] = { 1, 2, 7, 4096, n ? n : 1 };
    const size_t prefixes[] = { 0, 5 };
    bool have = false;
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (size_t p = 0; p < 2; p++) {
            result r;
            run(&r, data, n, chunks[c], prefixes[p]);
            if (!have) {
                *out = r;
                have = true;
                continue;
            }
            cr_assert_str_eq(sk_buf_str(&r.dump),
                             sk_buf_str(&out->dump),
                             "chunk %zu prefix %zu: events differ",
                             chunks[c],
                             prefixes[p]);
            cr_assert_str_eq(r.td.text,
                             out->td.text,
                             "chunk %zu prefix %zu: diagnostics differ",
                             chunks[c],
                             prefixes[p]);
            cr_assert_eq(r.stats.events, out->stats.events);
            cr_assert_eq(r.stats.lines_skipped, out->stats.lines_skipped);
            cr_assert_eq(r.stats.bytes, n);
            cr_assert_eq(r.last, out->last);
            result_fini(&r);
        }
    }
}

// Exact check of events, diagnostics and skip count at every chunk size.
static void
check(const char *data, const char *want_events, const char *want_diags, unsigned long skipped)
{
    result res;
    run_all(&res, data, strlen(data));
    cr_expect_str_eq(sk_buf_str(&res.dump), want_events);
    cr_expect_str_eq(res.td.text, want_diags);
    cr_expect_eq(res.stats.lines_skipped, skipped);
    cr_expect_eq(res.last, SK_DONE);
    result_fini(&res);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Document dialects

// Format sniffing: JSON is a '{' or '[' (after a BOM and blanks) that JSON can continue, so
// that random data starting with a bracket is not read as an endless stream of invalid lines.
Test(ndjson, sniff_needs_json_after_the_bracket)
{
    static const struct {
        const char *head;
        size_t n;
        sk_format want;
    } cases[] = {
        { "{\"a\":1}", 7, SK_FORMAT_NDJSON },
        { "\xEF\xBB\xBF {\"x\"", 8, SK_FORMAT_NDJSON },
        { "{ \n\t\"ab", 7, SK_FORMAT_NDJSON },
        { "{}\n{}\n", 6, SK_FORMAT_NDJSON },
        { "[\n  {\"a", 7, SK_FORMAT_NDJSON },
        { "[]", 2, SK_FORMAT_NDJSON },
        { "[-1,2]", 6, SK_FORMAT_NDJSON },
        { "{      ", 7, SK_FORMAT_NDJSON }, // the head ends before it can tell
        { "[", 1, SK_FORMAT_NDJSON },
        { "{\x8f\x12\x00" "abcd", 8, SK_FORMAT_UNKNOWN }, // random bytes after '{'
        { "{a:1}", 5, SK_FORMAT_UNKNOWN },
        { "[x", 2, SK_FORMAT_UNKNOWN },
        { "{\0\0\0", 4, SK_FORMAT_UNKNOWN },
        // What the one-byte look past the bracket let through: random bytes after a good start
        { "[5\xb3\x07\x91zz\x02", 8, SK_FORMAT_UNKNOWN },
        { "[\"a\x01" "bcdef", 8, SK_FORMAT_UNKNOWN }, // a control character in a string
        { "{\"k\"\xfe\x10\x11", 7, SK_FORMAT_UNKNOWN },
        { "[tru\x9a", 5, SK_FORMAT_UNKNOWN },
        { "{\"EventID\": 1, \"", 16, SK_FORMAT_NDJSON },
        { "[{\"a\":\"\xc3\xa9\xc3", 10, SK_FORMAT_NDJSON }, // a character cut at the end
        { "{\"B\xfchne\": 1}", 12, SK_FORMAT_NDJSON }, // Latin-1: the reader says what it thinks
        { "{}{}\n{\"a\":[1,2]}", 16, SK_FORMAT_NDJSON },
        // A first line damaged early is still text: the file is read, the line skipped
        { "{\"a\": 1, broken ", 16, SK_FORMAT_NDJSON },
        { "[{\"x\":\xe2\x82\xac,,\t\"y", 14, SK_FORMAT_NDJSON },
        { "{\"x\": \xe2\x82 oops", 13, SK_FORMAT_UNKNOWN }, // not UTF-8, not JSON
        { "{ \"a\"\x7f", 6, SK_FORMAT_UNKNOWN },
        { "  hello", 7, SK_FORMAT_UNKNOWN },
        { "ElfFile", 8, SK_FORMAT_EVTX }, // with its NUL
        { "", 0, SK_FORMAT_UNKNOWN },
        // Blank lines only, so far: an empty dump, or JSON after them
        { "\n\n", 2, SK_FORMAT_NDJSON },
        { "\r\n \t\n\n\n\n\n\n\n\n\n\n\n\n", 16, SK_FORMAT_NDJSON },
        { "\xEF\xBB\xBF", 3, SK_FORMAT_NDJSON },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(sk_input_sniff((const unsigned char *)cases[i].head, cases[i].n),
                     cases[i].want,
                     "case %zu",
                     i);
}

Test(ndjson, sniff_does_not_take_random_bytes_for_json)
{
    // /dev/urandom as input must be refused, not read as an endless stream of invalid lines: of
    // 200,000 random heads (a fixed seed), none is taken for JSON. Looking one byte past the
    // bracket took 57 of them (and one read of /dev/urandom in 3,000 never ended).
    uint64_t x = 0x9E3779B97F4A7C15ull;
    unsigned json = 0;
    for (int k = 0; k < 200000; k++) {
        unsigned char head[16];
        for (size_t i = 0; i < sizeof head; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            head[i] = (unsigned char)(x >> 24);
        }
        json += sk_input_sniff(head, sizeof head) == SK_FORMAT_NDJSON;
    }
    cr_expect_eq(json, 0u);
}

Test(ndjson, winlogbeat7_document_gets_canonical_and_hidden_raw_fields)
{
    check("{\"@timestamp\":\"2024-05-01T10:22:03.123Z\",\"event\":{\"code\":\"1\"},"
          "\"winlog\":{\"channel\":\"Microsoft-Windows-Sysmon/"
          "Operational\",\"computer_name\":\"WS01\","
          "\"event_id\":1,\"record_id\":4711,\"provider_name\":\"Microsoft-Windows-Sysmon\","
          "\"event_data\":{\"Image\":\"C:\\\\Windows\\\\System32\\\\mshta.exe\",\"CommandLine\":"
          "\"mshta "
          "http://x\"},\"keywords\":[\"Audit Success\",\"Classic\"]},"
          "\"tags\":[\"a\",\"b\"],\"n\":null,\"ok\":true,\"f\":1.5e3}\n",
          "@1\n"
          "S:Provider_Name=Microsoft-Windows-Sysmon\n"
          "S:EventID=1\n"
          "S:Keywords=Audit Success\n"
          "S:Keywords=Classic\n"
          "S:TimeCreated=2024-05-01T10:22:03.1230000Z\n"
          "S:EventRecordID=4711\n"
          "S:Channel=Microsoft-Windows-Sysmon/Operational\n"
          "S:Computer=WS01\n"
          "Image=C:\\Windows\\System32\\mshta.exe\n"
          "CommandLine=mshta http://x\n"
          "tags=a\n"
          "tags=b\n"
          "ok=true\n"
          "f=1.5e3\n"
          "H:@timestamp=2024-05-01T10:22:03.123Z\n"
          "event.code=1\n"
          "H:winlog.channel=Microsoft-Windows-Sysmon/Operational\n"
          "H:winlog.computer_name=WS01\n"
          "H:winlog.event_id=1\n"
          "H:winlog.record_id=4711\n"
          "H:winlog.provider_name=Microsoft-Windows-Sysmon\n"
          "H:winlog.event_data.Image=C:\\Windows\\System32\\mshta.exe\n"
          "H:winlog.event_data.CommandLine=mshta http://x\n"
          "H:winlog.keywords=Audit Success\n"
          "H:winlog.keywords=Classic\n",
          "",
          0);
}

// The time of a converted TimeCreated is the one the mapping parsed, not parsed again from the
// text it wrote: it must be the time that text says, also where the text is clamped to its last
// (a time past year 9999 once a zone is applied).
Test(ndjson, converted_time_created_is_the_time_its_text_says)
{
    static const struct {
        const char *in;
        const char *text;
        const char *time; // the time sk_event_finish reads when not text's
    } cases[] = {
        { "{\"@timestamp\":\"2024-05-01 10:22:03.5+02:00\"}\n",
          "2024-05-01T08:22:03.5000000Z",
          NULL },
        { "{\"@timestamp\":\"9999-12-31T23:30:00-05:00\"}\n",
          "9999-12-31T23:59:59.9999999Z",
          NULL },
        { "{\"TimeCreated\":\"1600000000123\"}\n", "2020-09-13T12:26:40.1230000Z", NULL },
        { "{\"TimeCreated\":\"2024-05-01T10:22:03.1234567Z\",\"TimeCreated\":\"x\"}\n",
          "2024-05-01T10:22:03.1234567Z",
          NULL },
        // A System.TimeCreated key is the one read, though TimeCreated was converted
        { "{\"@timestamp\":\"2024-05-01T10:22:03Z\",\"System.TimeCreated\":\"2021-01-01\"}\n",
          "2024-05-01T10:22:03.0000000Z",
          "2021-01-01" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *fp = file_of(cases[i].in, strlen(cases[i].in));
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_reader *r;
        cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, "x.json", NULL, &td.dl), SK_OK);
        const sk_event *ev;
        cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
        cr_expect_str_eq(sk_event_get(ev, "TimeCreated"), cases[i].text, "case %zu", i);
        const char *t = cases[i].time ? cases[i].time : cases[i].text;
        uint64_t want;
        cr_assert(sk_time_parse(t, strlen(t), &want));
        cr_expect(ev->has_time, "case %zu", i);
        cr_expect_eq(ev->time, want, "case %zu", i);
        sk_reader_close(r);
    }
}

Test(ndjson, event_fields_are_predecoded)
{
    const char *in =
            "{\"winlog\":{\"event_id\":\"4688\",\"record_id\":\"12\",\"channel\":\"Security\","
            "\"computer_name\":\"DC1\",\"provider_name\":\"P\"},\"@timestamp\":\"2024-05-01T10:22:"
            "03Z\"}\n";
    FILE *fp = file_of(in, strlen(in));
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r;
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, "x.json", NULL, &td.dl), SK_OK);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect(ev->has_event_id);
    cr_expect_eq(ev->event_id, 4688);
    cr_expect(ev->has_record_id);
    cr_expect_eq(ev->record_id, 12);
    cr_expect(ev->has_time);
    cr_expect_eq(ev->time, 133590325230000000ULL);
    cr_expect_str_eq(ev->channel, "Security");
    cr_expect_str_eq(ev->computer, "DC1");
    cr_expect_str_eq(ev->provider, "P");
    cr_expect_str_eq(ev->file, "x.json");
    cr_expect_eq(ev->line, 1);
    cr_expect_eq(sk_reader_next(r, &ev), SK_DONE);
    cr_expect_eq(sk_reader_stats_get(r)->events, 1);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, winlogbeat6_document_and_param_items_answer_to_data)
{
    check("{\"event_id\":4688,\"log_name\":\"Security\",\"source_name\":\"Microsoft-Windows-"
          "Security-Auditing\","
          "\"computer_name\":\"DC1\",\"record_number\":\"99\",\"level\":\"Information\",\"task\":"
          "\"Process "
          "Creation\",\"version\":2,\"process_id\":4,\"thread_id\":8,\"user\":{\"identifier\":\"S-"
          "1-5-18\","
          "\"name\":\"SYSTEM\"},"
          "\"event_data\":{\"NewProcessName\":\"C:\\\\x.exe\",\"param2\":\"two\",\"param10\":"
          "\"ten\","
          "\"param1\":\"one\"},\"@timestamp\":\"2019-05-18T20:36:46.254Z\"}\n",
          "@1\n"
          "S:Provider_Name=Microsoft-Windows-Security-Auditing\n"
          "S:EventID=4688\n"
          "S:Version=2\n"
          "S:Level=Information\n"
          "S:Task=Process Creation\n"
          "S:TimeCreated=2019-05-18T20:36:46.2540000Z\n"
          "S:EventRecordID=99\n"
          "S:ProcessID=4\n"
          "S:ThreadID=8\n"
          "S:Channel=Security\n"
          "S:Computer=DC1\n"
          "S:UserID=S-1-5-18\n"
          "NewProcessName=C:\\x.exe\n"
          "param2=two\n"
          "param10=ten\n"
          "param1=one\n"
          "H:Data=one\n"
          "H:Data=two\n"
          "H:Data=ten\n"
          "H:event_id=4688\n"
          "H:log_name=Security\n"
          "H:source_name=Microsoft-Windows-Security-Auditing\n"
          "H:computer_name=DC1\n"
          "H:record_number=99\n"
          "H:level=Information\n"
          "H:task=Process Creation\n"
          "H:version=2\n"
          "H:process_id=4\n"
          "H:thread_id=8\n"
          "H:user.identifier=S-1-5-18\n"
          "user.name=SYSTEM\n"
          "H:event_data.NewProcessName=C:\\x.exe\n"
          "H:event_data.param2=two\n"
          "H:event_data.param10=ten\n"
          "H:event_data.param1=one\n"
          "H:@timestamp=2019-05-18T20:36:46.254Z\n",
          "",
          0);
}

Test(ndjson, ecs_processed_sysmon_document_maps_back_to_sysmon_names)
{
    check("{\"event\":{\"module\":\"sysmon\",\"code\":\"1\"},"
          "\"process\":{\"executable\":\"C:\\\\a.exe\",\"command_line\":\"a.exe /x\",\"pid\":12,"
          "\"hash\":{\"sha1\":\"ab12\",\"md5\":\"cd34\"},\"pe\":{\"imphash\":\"ef56\",\"company\":"
          "\"ECS Co\"},"
          "\"parent\":{\"executable\":\"C:\\\\p.exe\"}},"
          "\"user\":{\"domain\":\"DOM\",\"name\":\"bob\"},"
          "\"winlog\":{\"event_id\":\"1\",\"channel\":\"Microsoft-Windows-Sysmon/Operational\","
          "\"event_data\":{\"Company\":\"Data Co\"}}}\n",
          "@1\n"
          "S:EventID=1\n"
          "S:Channel=Microsoft-Windows-Sysmon/Operational\n"
          "Image=C:\\a.exe\n"
          "CommandLine=a.exe /x\n"
          "ProcessId=12\n"
          "ParentImage=C:\\p.exe\n"
          "Company=Data Co\n"
          "User=DOM\\bob\n"
          "Hashes=SHA1=AB12,MD5=CD34,IMPHASH=EF56\n"
          "event.module=sysmon\n"
          "event.code=1\n"
          "H:process.executable=C:\\a.exe\n"
          "H:process.command_line=a.exe /x\n"
          "H:process.pid=12\n"
          "H:process.hash.sha1=ab12\n"
          "H:process.hash.md5=cd34\n"
          "H:process.pe.imphash=ef56\n"
          "process.pe.company=ECS Co\n"
          "H:process.parent.executable=C:\\p.exe\n"
          "H:user.domain=DOM\n"
          "H:user.name=bob\n"
          "H:winlog.event_id=1\n"
          "H:winlog.channel=Microsoft-Windows-Sysmon/Operational\n"
          "H:winlog.event_data.Company=Data Co\n",
          "",
          0);
}

Test(ndjson, ecs_names_depend_on_the_sysmon_event)
{
    // file.path is ImageLoaded in event 7, TargetFilename in 11; process.executable is SourceImage
    // in 10; event 15 rebuilds Hash, not Hashes.
    check("{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":7},\"file\":{\"path\":\"C:"
          "\\\\x.dll\"}}\n"
          "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":11},\"file\":{\"path\":\"C:"
          "\\\\x.txt\"}}\n"
          "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":10},\"process\":{"
          "\"executable\":\"C:\\\\s.exe\"}}\n"
          "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":15},\"file\":{\"hash\":{"
          "\"sha256\":\"aa\"}}}\n",
          "@1\nS:EventID=7\nImageLoaded=C:\\x.dll\nevent.module=sysmon\nH:winlog.event_id=7\nH:"
          "file.path=C:\\x.dll\n"
          "@2\nS:EventID=11\nTargetFilename=C:\\x.txt\nevent.module=sysmon\nH:winlog.event_id="
          "11\nH:file.path=C:\\x.txt\n"
          "@3\nS:EventID=10\nSourceImage=C:\\s.exe\nevent.module=sysmon\nH:winlog.event_id=10\n"
          "H:process.executable=C:\\s.exe\n"
          "@4\nS:EventID=15\nHash=SHA256=AA\nevent.module=sysmon\nH:winlog.event_id=15\nH:file."
          "hash.sha256=aa\n",
          "",
          0);
}

Test(ndjson, elastic_sysmon_processing_is_undone_for_agent_documents_and_network_fields)
{
    // Elastic Agent's windows.sysmon_operational documents have no event.module: their dataset
    // turns the reverse ECS map on. In event 3, network.direction and network.type give back
    // Initiated, SourceIsIpv6 and DestinationIsIpv6, which the processing dropped.
    check("{\"event\":{\"dataset\":\"windows.sysmon_operational\"},\"winlog\":{\"event_id\":\"22\"},"
          "\"dns\":{\"question\":{\"name\":\"www.msn.com\"}},\"process\":{\"executable\":"
          "\"C:\\\\ie.exe\"}}\n"
          "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":3},\"network\":{"
          "\"direction\":\"ingress\",\"type\":\"ipv6\"}}\n"
          "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":3},\"network\":{"
          "\"direction\":\"egress\",\"type\":\"ipv4\"}}\n",
          "@1\nS:EventID=22\nQueryName=www.msn.com\nImage=C:\\ie.exe\nevent.dataset=windows.sysmon_operational\n"
          "H:winlog.event_id=22\nH:dns.question.name=www.msn.com\nH:process.executable=C:\\ie.exe\n"
          "@2\nS:EventID=3\nInitiated=false\nSourceIsIpv6=true\nDestinationIsIpv6=true\n"
          "event.module=sysmon\nH:winlog.event_id=3\nH:network.direction=ingress\nH:network.type=ipv6\n"
          "@3\nS:EventID=3\nInitiated=true\nSourceIsIpv6=false\nDestinationIsIpv6=false\n"
          "event.module=sysmon\nH:winlog.event_id=3\nH:network.direction=egress\nH:network.type=ipv4\n",
          "",
          0);
}

Test(ndjson, any_case_system_keys_give_way_to_exact_keys_and_sysmon_names)
{
    // Sysmon's ProcessId is not the record's ProcessID in another case; a key found in another
    // case (Event_ID, LOG_NAME) ranks below every exactly written one (EventID, Channel).
    check("{\"EventID\":1,\"Image\":\"C:\\\\x.exe\",\"ProcessId\":\"7256\",\"ProcessID\":\"4\"}\n"
          "{\"EventID\":4688,\"Event_ID\":1,\"Channel\":\"Security\",\"LOG_NAME\":\"Sysmon\"}\n",
          "@1\nS:EventID=1\nS:ProcessID=4\nImage=C:\\x.exe\nProcessId=7256\n"
          "@2\nS:EventID=4688\nS:Channel=Security\nEvent_ID=1\nLOG_NAME=Sysmon\n",
          "",
          0);
}

Test(ndjson, ecs_map_applies_only_to_elastic_sysmon_documents)
{
    check("{\"winlog\":{\"event_id\":4688},\"process\":{\"executable\":\"C:\\\\a.exe\"},\"user\":{"
          "\"name\":\"bob\"}}\n",
          "@1\nS:EventID=4688\nH:winlog.event_id=4688\nprocess.executable=C:\\a.exe\nuser.name="
          "bob\n",
          "",
          0);
}

Test(ndjson, flat_export_document_uses_top_level_keys)
{
    check("{\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Hostname\":\"WS\","
          "\"SourceName\":\"Microsoft-Windows-Sysmon\",\"Image\":\"C:\\\\a.exe\","
          "\"TimeCreated\":\"2020-10-19 03:30:41.104\",\"Version\":5,\"Message\":\"m\"}\n",
          "@1\n"
          "S:Provider_Name=Microsoft-Windows-Sysmon\n"
          "S:EventID=1\n"
          "S:Version=5\n"
          "S:TimeCreated=2020-10-19T03:30:41.1040000Z\n"
          "S:Channel=Microsoft-Windows-Sysmon/Operational\n"
          "S:Computer=WS\n"
          "Image=C:\\a.exe\n"
          "Message=m\n"
          "H:Hostname=WS\n"
          "H:SourceName=Microsoft-Windows-Sysmon\n",
          "",
          0);
}

Test(ndjson, flat_export_system_keys_in_any_case)
{
    // Exports that lower-case (or upper-case) their keys still give the event its id, channel and
    // computer, which the rule index needs; the raw keys stay reachable, hidden.
    check("{\"eventid\":1,\"CHANNEL\":\"Microsoft-Windows-Sysmon/Operational\",\"computer\":\"WS\","
          "\"image\":\"C:\\\\a.exe\"}\n",
          "@1\n"
          "S:EventID=1\n"
          "S:Channel=Microsoft-Windows-Sysmon/Operational\n"
          "S:Computer=WS\n"
          "image=C:\\a.exe\n"
          "H:eventid=1\n"
          "H:CHANNEL=Microsoft-Windows-Sysmon/Operational\n"
          "H:computer=WS\n",
          "",
          0);
}

Test(ndjson, exact_system_key_beats_another_case)
{
    // An exact alias wins over a key that only matches in another case, wherever it stands;
    // nested keys are never matched in another case.
    check("{\"EVENTID\":7,\"EventID\":1,\"x\":{\"channel\":\"nested\"}}\n",
          "@1\nS:EventID=1\nEVENTID=7\nx.channel=nested\n",
          "",
          0);
}

Test(ndjson, event_data_held_in_a_json_string_is_expanded)
{
    check("{\"Provider\":\"Microsoft-Windows-Sysmon\",\"EventID\":3,"
          "\"EventData\":\"{\\\"Image\\\":\\\"C:\\\\\\\\a.exe\\\",\\\"Port\\\":\\\"80\\\"}\"}\n"
          "{\"EventID\":4,\"EventData\":\"{not json\"}\n"
          "{\"EventID\":5,\"EventData\":\"[1]\"}\n",
          "@1\n"
          "S:Provider_Name=Microsoft-Windows-Sysmon\n"
          "S:EventID=3\n"
          "Image=C:\\a.exe\n"
          "Port=80\n"
          "H:Provider=Microsoft-Windows-Sysmon\n"
          "H:EventData={\"Image\":\"C:\\\\a.exe\",\"Port\":\"80\"}\n"
          "@2\nS:EventID=4\nEventData={not json\n"
          "@3\nS:EventID=5\nEventData=[1]\n",
          "",
          0);
}

// Values the fast scanner finds in the record's text stay there, ended by a NUL written over the
// byte after them (a quote, a comma, a bracket), and so do the strings it decoded (escapes), one
// after the other in its scratch: each must still read as itself alone, at every chunk size
// (records in the chunk or in the carry-over), next to escaped keys (decoded there too, not kept)
// and copies (booleans), and in records that yajl reads (a form feed between tokens: its pointers
// into the text are copied) or that were rebuilt as UTF-8 (the fixed copy is the reader's too).
// sk_fieldmap_hash reads the last bytes of a name in a word or two: the same hash as byte by
// byte, at every length (each name in a buffer of its own size: ASan sees any byte read past it).
Test(ndjson, fieldmap_hash_of_the_tail_is_the_bytes_hash)
{
    char buf[48];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (char)(x >> 24);
    }
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; off + n <= 40; n++) {
            char *p = malloc(n ? n : 1); // exactly n bytes, for ASan
            cr_assert_not_null(p);
            memcpy(p, buf + off, n);
            uint64_t h = 0x9E3779B97F4A7C15ull ^ n, w;
            size_t k = 0;
            for (; k + 8 <= n; k += 8) {
                memcpy(&w, p + k, 8);
                h = (h ^ w) * 0xFF51AFD7ED558CCDull;
                h ^= h >> 32;
            }
            w = 0;
            for (size_t i = k; i < n; i++)
                w |= (uint64_t)(unsigned char)p[i] << (8 * (i - k));
            h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
            h ^= h >> 29;
            cr_expect_eq(sk_fieldmap_hash(p, n), (uint32_t)h, "offset %zu length %zu", off, n);
            free(p);
        }
}

// Paths out of their last order are found in a cache keyed by their length and first and last
// eight bytes: paths alike in those (one cache slot) must still be told apart, in any order, also
// nested and as array items.
Test(ndjson, paths_alike_at_both_ends_are_not_confused)
{
    check("{\"abcdefghXijklmnop\":1,\"abcdefghYijklmnop\":2,\"o\":{\"abcdefghZijklmnop\":3}}\n"
          "{\"o\":{\"abcdefghZijklmnop\":4},\"abcdefghYijklmnop\":5,\"abcdefghXijklmnop\":6}\n"
          "{\"abcdefghYijklmnop\":[7,8],\"o\":{\"abcdefghXijklmnop\":9},\"abcdefghXijklmnop\":10}\n"
          "{\"abcdefghXijklmnop\":11,\"o\":{\"abcdefghZijklmnop\":12},\"abcdefghYijklmnop\":13}\n",
          // (top-level keys first, as the keys of a flat export)
          "@1\nabcdefghXijklmnop=1\nabcdefghYijklmnop=2\no.abcdefghZijklmnop=3\n"
          "@2\nabcdefghYijklmnop=5\nabcdefghXijklmnop=6\no.abcdefghZijklmnop=4\n"
          "@3\nabcdefghYijklmnop=7\nabcdefghYijklmnop=8\nabcdefghXijklmnop=10\n"
          "o.abcdefghXijklmnop=9\n"
          "@4\nabcdefghXijklmnop=11\nabcdefghYijklmnop=13\no.abcdefghZijklmnop=12\n",
          "",
          0);
}

Test(ndjson, values_left_in_the_record_text_end_where_they_end)
{
    check("{\"a\":\"x\",\"n\":12,\"b\":true,\"l\":[1,22,\"s\"],\"e\":\"p\\\\q\",\"z\":-3.5e2,"
          "\"f\\u0041\":\"\\u00e9\\t\",\"g\":[\"r\\\\s\",\"t\\/\"]}\n"
          "{\"a\":\"y\",\f\"n\":3}\n"
          "{\"a\":\"\xff\",\"n\":5}\n",
          "@1\na=x\nn=12\nb=true\nl=1\nl=22\nl=s\ne=p\\q\nz=-3.5e2\nfA=\xC3\xA9\t\ng=r\\s\ng=t/\n"
          "@2\na=y\nn=3\n"
          "@3\na=\xEF\xBF\xBD\nn=5\n",
          "",
          0);
    check("[{\"a\":\"w\",\"n\":0},\n{\"a\":\"v\"}]", "@1\na=w\nn=0\n@2\na=v\n", "", 0);
}

Test(ndjson, evtx_dump_pretty_printed_objects_are_read)
{
    check("{\n"
          "  \"Event\": {\n"
          "    \"System\": {\"EventID\": 1, \"Channel\": \"C\", \"TimeCreated\": {\"#attributes\": "
          "{\"SystemTime\": \"2025-11-27T07:40:10.165324Z\"}}},\n"
          "    \"EventData\": {\"Image\": \"a.exe\"}\n"
          "  }\n"
          "}\n"
          "{\n"
          "  \"Event\": {\"System\": {\"EventID\": 2}}\n"
          "}\n",
          "@1\n"
          "S:EventID=1\n"
          "S:TimeCreated=2025-11-27T07:40:10.1653240Z\n"
          "S:Channel=C\n"
          "Image=a.exe\n"
          "H:Event.System.EventID=1\n"
          "H:Event.System.Channel=C\n"
          "H:Event.System.TimeCreated.#attributes.SystemTime=2025-11-27T07:40:10.165324Z\n"
          "H:Event.EventData.Image=a.exe\n"
          "@7\n"
          "S:EventID=2\n"
          "H:Event.System.EventID=2\n",
          "",
          0);
}

Test(ndjson, evtx_dump_unnamed_data_items_answer_to_data)
{
    // evtx_dump writes unnamed <Data> items as "Data": {"#text": [...]}: they are Data, as in
    // evtx (one item: "#text" is a string). A named item's "#text" is left alone.
    check("{\"Event\":{\"System\":{\"EventID\":1033},\"EventData\":{\"Data\":{\"#text\":[\"a\","
          "\"1.3.3.7\"]},\"Binary\":\"00AA\"}}}\n"
          "{\"Event\":{\"System\":{\"EventID\":1033},\"EventData\":{\"Data\":{\"#text\":\"solo\"}}}}\n"
          "{\"Event\":{\"EventData\":{\"X\":{\"Y\":{\"#text\":\"deep\"}},\"#text\":\"t\"}}}\n",
          "@1\nS:EventID=1033\nData=a\nData=1.3.3.7\nBinary=00AA\nH:Event.System.EventID=1033\n"
          "H:Event.EventData.Data.#text=a\nH:Event.EventData.Data.#text=1.3.3.7\n"
          "H:Event.EventData.Binary=00AA\n"
          "@2\nS:EventID=1033\nData=solo\nH:Event.System.EventID=1033\n"
          "H:Event.EventData.Data.#text=solo\n"
          "@3\nX.Y.#text=deep\n#text=t\nH:Event.EventData.X.Y.#text=deep\nH:Event.EventData.#text=t\n",
          "",
          0);
}

// A document whose leaves have the same paths in the same order as an earlier one is mapped
// from what the earlier one gave (fieldmap.c's plans): the fields must be those it gets alone,
// whatever its values. Each pair is one shape with two sets of values, among them times that
// convert or not, Data items, a system name moved to System.<name> by event data, arrays, and
// shapes that are not planned (UserData elements, ECS documents whose module value decides).
Test(ndjson, documents_of_one_shape_map_as_they_do_alone)
{
    // Values longer than the names an earlier document made: they would overwrite those names.
#define LONG "0123456789012345678901234567890123456789012345678901234567890123456789"
    static const char *const pairs[][2] = {
        // The same paths in another order (as a dump through Elasticsearch has them).
        { "{\"event_id\":4688,\"log_name\":\"Security\",\"event_data\":{\"param2\":\"two\","
          "\"NewProcessName\":\"x\",\"param1\":\"one\"},\"Zed\":\"z\"}",
          "{\"Zed\":\"y\",\"event_data\":{\"param1\":\"p\",\"NewProcessName\":\"" LONG "\","
          "\"param2\":\"q\"},\"log_name\":\"S2\",\"event_id\":1}" },
        { "{\"EventID\":1,\"Image\":\"a\",\"Channel\":\"c\",\"Zed\":\"z\",\"Computer\":\"w\"}",
          "{\"Zed\":\"y\",\"Computer\":\"v\",\"Channel\":\"d\",\"Image\":\"b\",\"EventID\":2}" },
        // Where the order decides: two system keys of one rank, two Data items of one number.
        { "{\"EVENTID\":1,\"eventid\":2,\"X\":\"a\"}", "{\"eventid\":3,\"EVENTID\":4,\"X\":\"b\"}" },
        { "{\"event_data\":{\"param1\":\"a\",\"param01\":\"b\"}}",
          "{\"event_data\":{\"param01\":\"c\",\"param1\":\"d\"}}" },
        { "{\"event_id\":4688,\"log_name\":\"Security\",\"@timestamp\":\"2019-05-18T20:36:46.254Z\","
          "\"event_data\":{\"param2\":\"two\",\"NewProcessName\":\"C:\\\\x.exe\",\"param1\":"
          "\"one\"},\"user\":{\"name\":\"SYSTEM\"}}",
          "{\"event_id\":1,\"log_name\":\"Other\",\"@timestamp\":\"yesterday\","
          "\"event_data\":{\"param2\":\"\",\"NewProcessName\":\"b\",\"param1\":\"x\"},"
          "\"user\":{\"name\":\"\"}}" },
        { "{\"@timestamp\":1714558923123,\"Channel\":\"System\",\"EventID\":104,"
          "\"EventData\":\"{\\\"Channel\\\":\\\"Application\\\"}\"}",
          "{\"@timestamp\":17145589231,\"Channel\":\"Security\",\"EventID\":\"x\","
          "\"EventData\":\"{\\\"Channel\\\":\\\"Setup\\\"}\"}" },
        { "{\"winlog\":{\"event_id\":4,\"version\":3,\"channel\":\"c\",\"event_data\":{\"Version\":"
          "\"15.1\",\"State\":\"Started\"}},\"tags\":[\"a\",\"b\",\"c\"]}",
          "{\"winlog\":{\"event_id\":5,\"version\":\"x\",\"channel\":\"\",\"event_data\":{"
          "\"Version\":\"\",\"State\":\"Stopped\"}},\"tags\":[\"\",\"d\",\"e\"]}" },
        { "{\"winlog\":{\"event_id\":104,\"user_data\":{\"xml_name\":\"LogFileCleared\","
          "\"SubjectUserName\":\"bob\"}},\"TimeCreated\":\"1600000000.5\"}",
          "{\"winlog\":{\"event_id\":105,\"user_data\":{\"xml_name\":\"Other\","
          "\"SubjectUserName\":\"eve\"}},\"TimeCreated\":\"2024-05-01 10:00:00\"}" },
        { "{\"event\":{\"module\":\"sysmon\",\"code\":\"1\"},\"process\":{\"executable\":"
          "\"C:\\\\a.exe\"},\"user\":{\"name\":\"u\",\"domain\":\"D\"}}",
          "{\"event\":{\"module\":\"other\",\"code\":\"3\"},\"process\":{\"executable\":"
          "\"C:\\\\b.exe\"},\"user\":{\"name\":\"v\",\"domain\":\"E\"}}" },
        { "{\"Event\":{\"System\":{\"EventID\":80},\"UserData\":{\"W\":{\"Result\":{"
          "\"#attributes\":{\"value\":\"0\"},\"#text\":\"ok\"}}}}}",
          "{\"Event\":{\"System\":{\"EventID\":81},\"UserData\":{\"W\":{\"Result\":{"
          "\"#attributes\":{\"value\":\"" LONG "\"},\"#text\":\"" LONG "\"}}}}}" },
        { "{\"Event\":{\"System\":{\"EventID\":80},\"EventData\":{\"Image\":{\"#text\":"
          "\"t\"}}}}",
          "{\"Event\":{\"System\":{\"EventID\":81},\"EventData\":{\"Image\":{\"#text\":"
          "\"" LONG "\"}}}}" },
    };
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        for (size_t first = 0; first < 2; first++) {
            const char *a = pairs[k][first], *b = pairs[k][1 - first];
            sk_buf in;
            sk_buf_init(&in, 1u << 20);
            // a, b, b again: b after its shape's first document, and after itself.
            cr_assert(sk_buf_addf(&in, "%s\n%s\n%s\n", a, b, b) == SK_OK);
            result both, alone_a, alone_b;
            run(&both, sk_buf_str(&in), in.n, 4096, 0);
            sk_buf_reset(&in);
            cr_assert(sk_buf_addf(&in, "%s\n", a) == SK_OK);
            run(&alone_a, sk_buf_str(&in), in.n, 4096, 0);
            sk_buf_reset(&in);
            cr_assert(sk_buf_addf(&in, "%s\n", b) == SK_OK);
            run(&alone_b, sk_buf_str(&in), in.n, 4096, 0);
            // Expected: a alone, then b alone twice, renumbered as lines 1, 2 and 3.
            const char *fa = sk_buf_str(&alone_a.dump), *fb = sk_buf_str(&alone_b.dump);
            cr_assert(strncmp(fa, "@1\n", 3) == 0 && strncmp(fb, "@1\n", 3) == 0);
            sk_buf want;
            sk_buf_init(&want, 1u << 20);
            cr_assert(sk_buf_addf(&want, "%s@2\n%s@3\n%s", fa, fb + 3, fb + 3) == SK_OK);
            cr_expect_str_eq(sk_buf_str(&both.dump), sk_buf_str(&want), "pair %zu (first %zu)", k,
                             first);
            cr_expect_str_eq(both.td.text, "");
            sk_buf_fini(&want);
            sk_buf_fini(&in);
            result_fini(&both);
            result_fini(&alone_a);
            result_fini(&alone_b);
        }
    }
#undef LONG
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, a_system_key_renamed_for_event_data_leaves_it_the_name)
{
    // Azure WindowsEvent of a cleared log (System 104): the cleared Channel is event data, the
    // record's Channel is System.Channel, and Channel answers with the event data's alone.
    check("{\"Channel\":\"System\",\"EventID\":104,\"EventData\":\"{\\\"Channel\\\":"
          "\\\"Application\\\"}\",\"Type\":\"WindowsEvent\"}\n",
          "@1\nS:EventID=104\nS:System.Channel=System\nChannel=Application\nType=WindowsEvent\n"
          "H:EventData={\"Channel\":\"Application\"}\n",
          "",
          0);
}

Test(ndjson, evtx_dump_user_data_leaves_answer_to_their_names)
{
    // UserData holds one element whose leaves are the fields, as in evtx; the element's own
    // attributes (xmlns) are not fields.
    check("{\"Event\":{\"System\":{\"EventID\":5858},\"UserData\":{\"Op\":{\"#attributes\":{"
          "\"xmlns\":\"http://x\"},\"ClientMachine\":\"WS\",\"Operation\":\"Start\"}}}}\n",
          "@1\n"
          "S:EventID=5858\n"
          "ClientMachine=WS\n"
          "Operation=Start\n"
          "H:Event.System.EventID=5858\n"
          "Event.UserData.Op.#attributes.xmlns=http://x\n"
          "H:Event.UserData.Op.ClientMachine=WS\n"
          "H:Event.UserData.Op.Operation=Start\n",
          "",
          0);
}

Test(ndjson, evtx_dump_user_data_attributes_and_nested_leaves_get_evtx_names)
{
    // As the evtx readers name them: a leaf at any depth by its own name, an attribute as
    // <element>_<attribute> (CAPI2 keeps its data in attributes), "#text" as its element.
    check("{\"Event\":{\"System\":{\"EventID\":80},\"UserData\":{\"W\":{\"EventAuxInfo\":{"
          "\"#attributes\":{\"ProcessName\":\"Setup.exe\"}},\"Result\":{\"#attributes\":{"
          "\"value\":\"0\",\"xmlns:q\":\"urn:q\"},\"#text\":\"ok\"},\"Group\":{\"Item\":\"two\"}}}}}\n",
          "@1\n"
          "S:EventID=80\n"
          "EventAuxInfo_ProcessName=Setup.exe\n"
          "Result_value=0\n"
          "Result=ok\n"
          "Item=two\n"
          "H:Event.System.EventID=80\n"
          "H:Event.UserData.W.EventAuxInfo.#attributes.ProcessName=Setup.exe\n"
          "H:Event.UserData.W.Result.#attributes.value=0\n"
          "Event.UserData.W.Result.#attributes.xmlns:q=urn:q\n"
          "H:Event.UserData.W.Result.#text=ok\n"
          "H:Event.UserData.W.Group.Item=two\n",
          "",
          0);
}

Test(ndjson, evtx_dump_user_data_names_lose_their_namespace_prefix)
{
    // evtx_dump keeps "auto-ns3:foo"; the evtx readers name by local name.
    check("{\"Event\":{\"System\":{\"EventID\":1},\"UserData\":{\"W\":{\"Op\":{\"#attributes\":{"
          "\"auto-ns3:foo\":\"pfx\"}},\"q:Item\":\"one\",\"q:T\":{\"#attributes\":{\"a\":\"1\"},"
          "\"#text\":\"t\"}}}}}\n",
          "@1\n"
          "S:EventID=1\n"
          "Op_foo=pfx\n"
          "Item=one\n"
          "T_a=1\n"
          "T=t\n"
          "H:Event.System.EventID=1\n"
          "H:Event.UserData.W.Op.#attributes.auto-ns3:foo=pfx\n"
          "H:Event.UserData.W.q:Item=one\n"
          "H:Event.UserData.W.q:T.#attributes.a=1\n"
          "H:Event.UserData.W.q:T.#text=t\n",
          "",
          0);
}

Test(ndjson, velociraptor_parse_evtx_documents_are_mapped)
{
    // Velociraptor's parse_evtx(): System.EventID.Value, System.Provider.Name, System.Execution.*,
    // SystemTime in Unix seconds; EventData by name. Ten digits of seconds and a fraction make a
    // time; a bare 12345 does not.
    check("{\"System\":{\"Provider\":{\"Name\":\"P\"},\"EventID\":{\"Value\":4624},"
          "\"TimeCreated\":{\"SystemTime\":1600000000.123},\"EventRecordID\":7,\"Execution\":{"
          "\"ProcessID\":612},\"Channel\":\"Security\",\"Computer\":\"WS1\"},\"EventData\":{"
          "\"LogonType\":3}}\n"
          "{\"System\":{\"EventID\":{\"Value\":1},\"TimeCreated\":{\"SystemTime\":12345}}}\n",
          "@1\n"
          "S:Provider_Name=P\n"
          "S:EventID=4624\n"
          "S:TimeCreated=2020-09-13T12:26:40.1230000Z\n"
          "S:EventRecordID=7\n"
          "S:ProcessID=612\n"
          "S:Channel=Security\n"
          "S:Computer=WS1\n"
          "LogonType=3\n"
          "H:System.Provider.Name=P\n"
          "H:System.EventID.Value=4624\n"
          "H:System.TimeCreated.SystemTime=1600000000.123\n"
          "H:System.EventRecordID=7\n"
          "H:System.Execution.ProcessID=612\n"
          "H:System.Channel=Security\n"
          "H:System.Computer=WS1\n"
          "H:EventData.LogonType=3\n"
          "@2\n"
          "S:EventID=1\n"
          "S:TimeCreated=12345\n"
          "H:System.EventID.Value=1\n"
          "H:System.TimeCreated.SystemTime=12345\n",
          "",
          0);
}

Test(ndjson, json_array_document_yields_one_event_per_element)
{
    check("\xEF\xBB\xBF  [\n"
          "  {\"EventID\": 1, \"s\": \"a]}\\\"[{\"},\n"
          "  {\n"
          "    \"EventID\": 2\n"
          "  }, {\"EventID\": 3}\n"
          "]\n"
          "\n",
          "@2\nS:EventID=1\ns=a]}\"[{\n"
          "@3\nS:EventID=2\n"
          "@5\nS:EventID=3\n",
          "",
          0);
}

Test(ndjson, bad_array_elements_are_skipped_and_located)
{
    // An invalid element is located at the token that is not JSON ("tru").
    check("[{\"a\":1},\n"
          " 42, \"x\", {\"b\":}, [1],\n"
          " {\"c\":\n"
          "   tru}, {\"d\":4}]\n",
          "@1\na=1\n"
          "@4\nd=4\n",
          "t.ndjson:2:2: warning: JSON value is not an object; element skipped\n"
          "t.ndjson:2:6: warning: JSON value is not an object; element skipped\n"
          "t.ndjson:2:16: warning: invalid JSON (unallowed token at this point in JSON text); "
          "element skipped\n"
          "t.ndjson:2:19: warning: JSON value is not an object; element skipped\n"
          "t.ndjson:4:4: warning: invalid JSON (invalid string in json text); element skipped\n",
          5);
}

// A torn element (a cut or damaged export) costs only itself: it ends where a line feed falls
// inside one of its strings (JSON strings hold none), or where a container comes that JSON does not
// allow there (after a value or a ',' inside an object, after a value inside an array), which is
// the next element. Without this, the splitter never found the torn element's end and every
// element after it was lost as one bad element.
Test(ndjson, torn_elements_cost_only_themselves)
{
    check("[\n"
          "  {\"a\":1, \"s\":\"cut he\n"
          "  {\"b\":2},\n"
          "  {\"c\":3, \"d\":\n"
          "  {\"e\":4},\n"
          "  {\"f\":5, \"g\":6\n"
          "  {\"h\":7}, {\"i\": [1, {\"j\": 8}], \"k\": {\"l\": {}}}\n"
          "]\n",
          "@3\nb=2\n"
          "@7\nh=7\n"
          "@7\ni=1\ni.j=8\n",
          "t.ndjson:2:22: warning: invalid JSON (premature EOF); element skipped\n"
          "t.ndjson:6:3: warning: invalid JSON (premature EOF); element skipped\n"
          "t.ndjson:7:3: warning: invalid JSON (premature EOF); element skipped\n",
          3);
    // Pretty-printed objects one after another (evtx_dump): the same.
    check("{\n"
          "  \"a\": 1,\n"
          "  \"s\": \"cut\n"
          "{\n"
          "  \"b\": 2\n"
          "}\n"
          "{\n"
          "  \"c\": {\n"
          "    \"d\": [\n"
          "{\n"
          "  \"e\": 5\n"
          "}\n",
          "@4\nb=2\n",
          "t.ndjson:3:12: warning: invalid JSON (premature EOF); element skipped\n"
          "t.ndjson:13:1: warning: invalid JSON (premature EOF); element skipped\n",
          2);
}

Test(ndjson, unterminated_array_is_reported)
{
    check("[{\"a\":1},\n",
          "@1\na=1\n",
          "t.ndjson:2:1: warning: invalid JSON (premature EOF: the array is not closed)\n",
          0);
    check("[{\"a\":1},{\"b\"",
          "@1\na=1\n",
          "t.ndjson:1:14: warning: invalid JSON (premature EOF); element skipped\n",
          1);
}

Test(ndjson, text_after_the_array_is_read_as_lines)
{
    check("[{\"a\":1}] {\"b\":2}\n{\"c\":3}\n", "@1\na=1\n@1\nb=2\n@2\nc=3\n", "", 0);
    check("[] x\n",
          "",
          "t.ndjson:1:4: warning: invalid JSON (invalid char in json text); line skipped\n",
          1);
}

// ------------------------------------------------------------------------------------------------
// Priority and hidden raw paths

Test(ndjson, priority_event_data_then_user_data_then_system_then_ecs_then_top_level)
{
    check("{\"Image\":\"top\",\"event\":{\"module\":\"sysmon\"},\"process\":{\"executable\":"
          "\"ecs\"},"
          "\"event_data\":{\"Image\":\"wlb6\"},"
          "\"winlog\":{\"event_id\":4,\"version\":3,\"event_data\":{\"Image\":\"wlb7\",\"Version\":"
          "\"9.01\"},"
          "\"user_data\":{\"xml_name\":\"LogFileCleared\",\"Image\":\"ud\",\"SubjectUserName\":"
          "\"alice\"}},"
          "\"SubjectUserName\":\"flat\"}\n",
          "@1\n"
          "S:EventID=4\n"
          "S:System.Version=3\n"
          "Image=wlb7\n"
          "Version=9.01\n"
          "SubjectUserName=alice\n"
          "event.module=sysmon\n"
          "process.executable=ecs\n"
          "event_data.Image=wlb6\n"
          "H:winlog.event_id=4\n"
          "H:winlog.version=3\n"
          "H:winlog.event_data.Image=wlb7\n"
          "H:winlog.event_data.Version=9.01\n"
          "winlog.user_data.xml_name=LogFileCleared\n"
          "winlog.user_data.Image=ud\n"
          "H:winlog.user_data.SubjectUserName=alice\n",
          "",
          0);
}

Test(ndjson, system_alias_order_decides_between_sources)
{
    // winlog.channel beats log_name beats Channel; @timestamp beats TimeCreated. The losers whose
    // path is the canonical name itself (Channel, TimeCreated) are dropped.
    check("{\"Channel\":\"c3\",\"log_name\":\"c2\",\"winlog\":{\"channel\":\"c1\"},"
          "\"TimeCreated\":\"2020-01-01 00:00:00\",\"@timestamp\":\"2021-01-01T00:00:00Z\"}\n",
          "@1\n"
          "S:TimeCreated=2021-01-01T00:00:00.0000000Z\n"
          "S:Channel=c1\n"
          "log_name=c2\n"
          "H:winlog.channel=c1\n"
          "H:@timestamp=2021-01-01T00:00:00Z\n",
          "",
          0);
}

Test(ndjson, unparsable_time_is_kept_as_written)
{
    check("{\"EventTime\":\"yesterday\"}\n",
          "@1\nS:TimeCreated=yesterday\nH:EventTime=yesterday\n",
          "",
          0);
}

Test(ndjson, unix_seconds_and_milliseconds_are_times)
{
    // Seconds (9-10 digits, with a fraction) and Elasticsearch's epoch_millis (12-13 digits);
    // other numbers are kept as written.
    check("{\"@timestamp\":1714558923123}\n"
          "{\"@timestamp\":\"1714558923.5\"}\n"
          "{\"@timestamp\":17145589231234}\n"
          "{\"@timestamp\":17145589231}\n",
          "@1\nS:TimeCreated=2024-05-01T10:22:03.1230000Z\nH:@timestamp=1714558923123\n"
          "@2\nS:TimeCreated=2024-05-01T10:22:03.5000000Z\nH:@timestamp=1714558923.5\n"
          "@3\nS:TimeCreated=17145589231234\nH:@timestamp=17145589231234\n"
          "@4\nS:TimeCreated=17145589231\nH:@timestamp=17145589231\n",
          "",
          0);
}

Test(ndjson, hidden_raw_paths_stay_reachable)
{
    const char *in = "{\"winlog\":{\"event_id\":1,\"event_data\":{\"Image\":\"x.exe\"}}}\n";
    FILE *fp = file_of(in, strlen(in));
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r;
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, "t", NULL, &td.dl), SK_OK);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(sk_event_get(ev, "Image"), "x.exe");
    cr_expect_str_eq(sk_event_get(ev, "winlog.event_data.Image"), "x.exe");
    long i = sk_event_find(ev, "winlog.event_data.Image", 23, 0);
    cr_assert_geq(i, 0);
    cr_expect_eq(sk_event_field(ev, (size_t)i)->flags, SK_FIELD_HIDDEN);
    i = sk_event_find(ev, "Image", 5, 0);
    cr_expect_eq(sk_event_field(ev, (size_t)i)->flags, 0);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Damage and odd input

Test(ndjson, invalid_lines_are_reported_with_position_and_skipped)
{
    check("{\"a\":1}\n"
          "{\"a\":1,}\n"
          "[1,2]\n"
          "\"str\"\n"
          "42\n"
          "null\n"
          "{\"a\":\"x\n"
          "{\"a\":\"\xff\" 1}\n"
          "{} {}\n"
          "{\"b\":2}",
          "@1\na=1\n@10\nb=2\n",
          "t.ndjson:2:8: warning: invalid JSON (invalid object key (must be a string)); line "
          "skipped\n"
          "t.ndjson:3:1: warning: JSON value is not an object; line skipped\n"
          "t.ndjson:4:1: warning: JSON value is not an object; line skipped\n"
          "t.ndjson:5:1: warning: JSON value is not an object; line skipped\n"
          "t.ndjson:6:1: warning: JSON value is not an object; line skipped\n"
          "t.ndjson:7:8: warning: invalid JSON (premature EOF); line skipped\n"
          // still not JSON with U+FFFD for the byte: the first error, as written
          "t.ndjson:8:7: warning: invalid JSON (invalid bytes in UTF8 string); line skipped\n"
          "t.ndjson:9:4: warning: invalid JSON (trailing garbage); line skipped\n",
          8);
}

Test(ndjson, blank_lines_crlf_and_bom_are_fine)
{
    check("\xEF\xBB\xBF{\"a\":1}\r\n"
          "\r\n"
          "   \n"
          "\t{\"b\":\"x\"}  \r\n"
          "\n"
          "{\"c\":3}\r\n",
          "@1\na=1\n@4\nb=x\n@6\nc=3\n",
          "",
          0);
    check("", "", "", 0);
    check("\n\n  \n", "", "", 0);
    check("\xEF\xBB\xBF", "", "", 0);
    // A BOM at the start of a later line: a_bom_at_the_start_of_a_later_line_is_passed_over.
    // Part of a BOM is an invalid first line.
    check("\xEF\xBB{\"a\":1}\n{\"a\":2}\n",
          "@2\na=2\n",
          "t.ndjson:1:1: warning: invalid JSON (invalid char in json text); line skipped\n",
          1);
}

Test(ndjson, a_bom_at_the_start_of_a_later_line_is_passed_over)
{
    // Exports joined with cat: each one's BOM starts a line. Columns still count its bytes.
    check("{\"a\":1}\n\xEF\xBB\xBF{\"a\":2}\r\n\xEF\xBB\xBF\n  \xEF\xBB\xBF{\"a\":3,}\n",
          "@1\na=1\n@2\na=2\n",
          "t.ndjson:4:13: warning: invalid JSON (invalid object key (must be a string)); line "
          "skipped\n",
          1);
}

Test(ndjson, leading_whitespace_keeps_columns_right)
{
    check("  \n   {\"a\":1,}\n",
          "",
          "t.ndjson:2:11: warning: invalid JSON (invalid object key (must be a string)); line "
          "skipped\n",
          1);
}

Test(ndjson, nesting_is_capped_at_max_depth)
{
    sk_buf ok, deep;
    sk_buf_init(&ok, 1 << 20);
    sk_buf_init(&deep, 1 << 20);
    for (unsigned i = 0; i < SK_MAX_DEPTH; i++)
        cr_assert(sk_buf_adds(&ok, "{\"a\":") == SK_OK);
    cr_assert(sk_buf_adds(&ok, "1") == SK_OK);
    for (unsigned i = 0; i < SK_MAX_DEPTH; i++)
        cr_assert(sk_buf_addc(&ok, '}') == SK_OK);
    cr_assert(sk_buf_addc(&ok, '\n') == SK_OK);
    cr_assert(sk_buf_adds(&deep, "{\"x\":") == SK_OK);
    cr_assert(sk_buf_add(&deep, ok.p, ok.n) == SK_OK); // one level too many
    deep.p[deep.n - 1] = '}';
    cr_assert(sk_buf_adds(&deep, "\n") == SK_OK);

    result res;
    run_all(&res, ok.p, ok.n);
    cr_expect_eq(res.stats.events, 1);
    cr_expect_str_eq(res.td.text, "");
    const char *path = strchr(sk_buf_str(&res.dump), '\n') + 1; // "a.a.a...a=1"
    cr_expect_eq(strlen(path), SK_MAX_DEPTH * 2 - 1 + 3);
    result_fini(&res);

    char want[256];
    snprintf(want,
             sizeof want,
             "t.ndjson:1:%u: warning: invalid JSON (nesting deeper than %u levels); line skipped\n",
             5 * SK_MAX_DEPTH + 1,
             SK_MAX_DEPTH);
    check(deep.p, "", want, 1);
    // The same inside arrays, and in a value that is not an object.
    sk_buf_reset(&deep);
    cr_assert(sk_buf_adds(&deep, "{}\n") == SK_OK); // not an array document
    for (unsigned i = 0; i <= SK_MAX_DEPTH; i++)
        cr_assert(sk_buf_addc(&deep, '[') == SK_OK);
    cr_assert(sk_buf_addc(&deep, '\n') == SK_OK);
    snprintf(want,
             sizeof want,
             "t.ndjson:2:%u: warning: invalid JSON (nesting deeper than %u levels); line skipped\n",
             SK_MAX_DEPTH + 1,
             SK_MAX_DEPTH);
    check(deep.p, "@1\n", want, 1);
    sk_buf_fini(&ok);
    sk_buf_fini(&deep);
}

Test(ndjson, nul_escapes_cut_names_and_become_replacement_characters_in_values)
{
    // A value keeps the text after its NUL (cut, it would be hidden from every rule).
    check("{\"a\\u0000b\":\"x\\u0000y\",\"c\":\"\\u00e9\\ud83d\\ude00\"}\n",
          "@1\na=x\xEF\xBF\xBDy\nc=\xC3\xA9\xF0\x9F\x98\x80\n",
          "",
          0);
}

Test(ndjson, invalid_utf8_bytes_become_replacement_characters)
{
    // yajl refuses a record with invalid UTF-8 (other than overlong forms): it is read again with
    // each invalid byte as U+FFFD, in names too. A record that is still not JSON keeps the error
    // found in the text as written.
    check("{\"a\":\"\xC3\x28\"}\n"
          "{\"CommandLine\":\"cmd \xFF\xFE /c whoami\",\"k\xE9y\":\"\xC0\xAF\",\"x\":\"\xED\xA0\x80\"}\n"
          "{\"a\":\"x\xFF\" \"b\"}\n"
          "{\"a\":1 \xFF}\n",
          "@1\na=\xEF\xBF\xBD(\n"
          "@2\nCommandLine=cmd \xEF\xBF\xBD\xEF\xBF\xBD /c whoami\nk\xEF\xBF\xBDy=\xEF\xBF\xBD\xEF\xBF\xBD\n"
          "x=\xEF\xBF\xBD\n",
          "t.ndjson:3:8: warning: invalid JSON (invalid bytes in UTF8 string); line skipped\n"
          "t.ndjson:4:8: warning: invalid JSON (invalid char in json text); line skipped\n",
          2);
}

Test(ndjson, unpaired_surrogate_escapes_become_replacement_characters)
{
    // yajl read two high surrogates as U+10000 and a lone high one as '?'; a pair is its code
    // point, any other surrogate U+FFFD, in names and values.
    check("{\"a\\ud800\":\"x\\ud800\\ud800y\\ud800\",\"c\":\"\\udc00\\ud83d\\ude00\"}\n",
          "@1\na\xEF\xBF\xBD=x\xEF\xBF\xBD\xEF\xBF\xBDy\xEF\xBF\xBD\nc=\xEF\xBF\xBD\xF0\x9F\x98\x80\n",
          "",
          0);
}

Test(ndjson, unpaired_surrogates_are_replacement_characters_on_the_yajl_path_too)
{
    // Lines the fast scanner leaves to yajl (an overlong UTF-8 form, a form feed as whitespace)
    // decode surrogate escapes the same way.
    check("{\"Image\":\"a\\ud800b\",\"x\":\"\xC0\xAF\"}\n"
          "{\f\"Image\":\"a\\ud800\\ud800b\\ud83d\\ude00\"}\n",
          "@1\nImage=a\xEF\xBF\xBD"
          "b\nx=\xEF\xBF\xBD\xEF\xBF\xBD\n"
          "@2\nImage=a\xEF\xBF\xBD\xEF\xBF\xBD"
          "b\xF0\x9F\x98\x80\n",
          "",
          0);
}

// A line of n bytes: {"k":"xxxx...."}
static char *long_line(size_t n, const char *tail)
{
    size_t tl = strlen(tail);
    char *s = malloc(n + tl + 2);
    cr_assert_not_null(s);
    memcpy(s, "{\"k\":\"", 6);
    memset(s + 6, 'x', n - 8);
    memcpy(s + n - 2, "\"}", 2);
    s[n] = '\n';
    memcpy(s + n + 1, tail, tl + 1);
    return s;
}

static void check_big(const char *data,
                      size_t n,
                      size_t chunk,
                      unsigned long events,
                      const char *want_diags,
                      unsigned long skipped)
{
    result res;
    run(&res, data, n, chunk, 0);
    cr_expect_eq(res.stats.events, events, "chunk %zu", chunk);
    cr_expect_str_eq(res.td.text, want_diags, "chunk %zu", chunk);
    cr_expect_eq(res.stats.lines_skipped, skipped, "chunk %zu", chunk);
    cr_expect_eq(res.stats.bytes, n);
    result_fini(&res);
}

Test(ndjson, over_long_line_is_reported_and_skipped, .timeout = 240)
{
    char want[256], want_at[256];
    snprintf(want,
             sizeof want,
             "t.ndjson:2: warning: line longer than %u bytes; line skipped\n",
             SK_MAX_LINE_BYTES);
    snprintf(want_at,
             sizeof want_at,
             "t.ndjson:2: warning: value longer than %u bytes truncated\n",
             SK_MAX_VALUE_BYTES);
    // Exactly at the cap: read. One byte more: skipped, and reading goes on.
    char *at = long_line(SK_MAX_LINE_BYTES, "{\"b\":2}\n");
    char *over = long_line(SK_MAX_LINE_BYTES + 1, "{\"b\":2}\n");
    size_t n_at = strlen(at), n_over = strlen(over);
    const size_t chunks[] = { 7, 4096, 65536, SK_MAX_LINE_BYTES + 100 };
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        // a short line first so that the long one is line 2
        char *a = malloc(n_at + 9), *o = malloc(n_over + 9);
        memcpy(a, "{\"a\":1}\n", 8);
        memcpy(a + 8, at, n_at + 1);
        memcpy(o, "{\"a\":1}\n", 8);
        memcpy(o + 8, over, n_over + 1);
        check_big(a, n_at + 8, chunks[c], 3, want_at, 0);
        check_big(o, n_over + 8, chunks[c], 2, want, 1);
        free(a);
        free(o);
    }
    // Without a final newline.
    check_big(over,
              n_over - 9,
              4096,
              0,
              "t.ndjson:1: warning: line longer than 16777216 bytes; line skipped\n",
              1);
    free(at);
    free(over);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, over_long_array_element_is_skipped, .timeout = 240)
{
    char *over = long_line(SK_MAX_LINE_BYTES + 1, "");
    size_t n = strlen(over);
    char *doc = malloc(n + 32);
    memcpy(doc, "[\n{\"a\":1},\n", 11);
    memcpy(doc + 11, over, n - 1); // without its newline
    strcpy(doc + 10 + n, ",{\"b\":2}]\n");
    char want[256];
    snprintf(want,
             sizeof want,
             "t.ndjson:3: warning: element longer than %u bytes; element skipped\n",
             SK_MAX_LINE_BYTES);
    check_big(doc, strlen(doc), 4096, 2, want, 1);
    check_big(doc, strlen(doc), strlen(doc), 2, want, 1);
    free(doc);
    free(over);
    SK_ASSERT_NO_LEAKS();
}

// line is {"v":"..."} with a value over SK_MAX_VALUE_BYTES whose cut at that size falls inside
// a two- or three-byte character: one event, the value cut before that character, a warning.
static void expect_value_cut(const char *line)
{
    result res;
    run(&res, line, strlen(line), 65536, 0);
    cr_expect_eq(res.stats.events, 1);
    cr_expect_eq(res.stats.lines_skipped, 0);
    cr_expect_str_eq(res.td.text,
                     "t.ndjson:1: warning: value longer than 4194304 bytes truncated\n");
    cr_expect_eq(res.dump.n, strlen("@1\nv=\n") + SK_MAX_VALUE_BYTES - 1);
    result_fini(&res);
}

// A line with more invalid UTF-8 bytes than a third of the line cap (Latin-1 text, say) is
// rebuilt with U+FFFD for each, three bytes apiece, past the cap that the line itself is within:
// it is read, not skipped as invalid JSON.
Test(ndjson, line_of_many_invalid_bytes_is_repaired_not_skipped, .timeout = 120)
{
    size_t vn = SK_MAX_LINE_BYTES / 3 + 1000;
    char *line = malloc(vn + 32);
    cr_assert_not_null(line);
    strcpy(line, "{\"v\":\"");
    memset(line + 6, '\xE9', vn);
    strcpy(line + 6 + vn, "\"}\n");
    expect_value_cut(line);
    free(line);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, long_values_and_names_and_many_fields)
{
    // A value over SK_MAX_VALUE_BYTES is cut (on a UTF-8 boundary) with a warning.
    size_t vn = SK_MAX_VALUE_BYTES + 10;
    char *line = malloc(vn + 32);
    strcpy(line, "{\"v\":\"");
    memset(line + 6, 'y', vn);
    line[6 + SK_MAX_VALUE_BYTES - 1] = '\xC3';
    line[6 + SK_MAX_VALUE_BYTES] = '\xA9';
    strcpy(line + 6 + vn, "\"}\n");
    expect_value_cut(line);
    free(line);

    // A field name over 4096 bytes makes the line unusable (located at the name's start).
    char name[5000];
    memset(name, 'n', sizeof name);
    name[4097] = '\0';
    char buf[5200];
    snprintf(buf, sizeof buf, "{\"o\":{\"%s\":1}}\n{\"a\":1}\n", name + 2);
    check(buf,
          "@2\na=1\n",
          "t.ndjson:1:7: warning: field name longer than 4096 bytes; line skipped\n",
          1);

    // More leaves than SK_MAX_FIELDS: the first ones are kept, with a warning.
    sk_buf b;
    sk_buf_init(&b, 1 << 24);
    cr_assert(sk_buf_adds(&b, "{\"winlog\":{\"event_id\":1},\"a\":[") == SK_OK);
    for (unsigned i = 0; i < SK_MAX_FIELDS + 10; i++)
        cr_assert(sk_buf_addf(&b, "%s%u", i ? "," : "", i) == SK_OK);
    cr_assert(sk_buf_adds(&b, "]}\n") == SK_OK);
    result res;
    run(&res, b.p, b.n, 4096, 0);
    cr_expect_eq(res.stats.events, 1);
    cr_expect_str_eq(res.td.text,
                     "t.ndjson:1: warning: more than 4096 fields; the rest were dropped\n");
    cr_expect(strncmp(sk_buf_str(&res.dump), "@1\nS:EventID=1\na=0\na=1\n", 23) == 0);
    result_fini(&res);
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

// Reads data as one file and each of its lines as a file of its own: an event must not depend on
// the documents before it (the reader interns the paths it has seen, and the field mapping keeps
// what it found out about each from one document to the next).
static void expect_lines_independent(const char *data)
{
    result whole;
    run(&whole, data, strlen(data), 4096, 0);
    cr_expect_str_eq(whole.td.text, "");
    sk_buf alone;
    sk_buf_init(&alone, 1u << 30);
    unsigned long line = 1;
    for (const char *p = data; *p; line++) {
        size_t n = (size_t)(strchr(p, '\n') + 1 - p);
        result one;
        run(&one, p, n, 4096, 0);
        const char *d = sk_buf_str(&one.dump);
        cr_assert(strncmp(d, "@1\n", 3) == 0, "line %lu: %s", line, d);
        cr_assert(sk_buf_addf(&alone, "@%lu\n%s", line, d + 3) == SK_OK);
        result_fini(&one);
        p += n;
    }
    cr_expect_str_eq(sk_buf_str(&whole.dump), sk_buf_str(&alone));
    result_fini(&whole);
    sk_buf_fini(&alone);
}

Test(ndjson, events_do_not_depend_on_the_documents_before_them)
{
    // The same paths again and again, in other orders and other roles: a repeated key (two
    // leaves, not one array), objects in an array, a path that is an array of scalars in one
    // document and one value in the next, EventData as a JSON string and as an object, system
    // keys in other cases, Elastic's Sysmon names, evtx_dump's UserData.
    expect_lines_independent(
            "{\"event_id\":1,\"a\":1,\"a\":2,\"x\":[{\"a\":1},{\"a\":2}],\"event_data\":{\"Image\":"
            "\"x\"}}\n"
            "{\"x\":[{\"a\":3},{\"a\":4}],\"a\":[5,6],\"event_data\":{\"Image\":\"y\",\"Image\":"
            "\"z\"},\"event_id\":1}\n"
            "{\"a\":7,\"event_id\":[1,2],\"x\":{\"a\":8}}\n"
            "{\"EventData\":\"{\\\"CommandLine\\\":\\\"cmd /c x\\\",\\\"Image\\\":\\\"a\\\"}\","
            "\"EventID\":4688,\"Channel\":\"Security\"}\n"
            "{\"EventData\":{\"CommandLine\":\"cmd /c "
            "y\"},\"EventID\":4688,\"Channel\":\"Security\"}\n"
            "{\"EventData\":\"not json\",\"EVENTID\":\"4688\",\"Channel\":\"Security\"}\n"
            "{\"eventid\":\"1\",\"channel\":\"Sysmon\",\"CommandLine\":\"q\",\"ProcessId\":\"3\"}\n"
            "{\"EventID\":\"2\",\"eventid\":\"1\",\"CommandLine\":\"r\",\"ProcessID\":\"4\"}\n"
            "{\"EventID\":3,\"EventID\":4,\"CommandLine\":\"s\"}\n"
            "{\"event\":{\"module\":\"sysmon\"},\"winlog\":{\"event_id\":1},\"process\":{"
            "\"executable\":\"C:\\\\a.exe\",\"pid\":5},\"user\":{\"name\":\"bob\",\"domain\":\"D\"}"
            "}\n"
            "{\"winlog\":{\"event_id\":7},\"process\":{\"executable\":\"C:\\\\b.exe\"},\"event\":{"
            "\"module\":\"sysmon\"},\"file\":{\"path\":\"C:\\\\c.dll\"}}\n"
            "{\"winlog\":{\"event_id\":7},\"process\":{\"executable\":\"C:\\\\b.exe\"},\"file\":{"
            "\"path\":\"C:\\\\c.dll\"}}\n"
            "{\"winlog\":{\"user_data\":{\"xml_name\":\"EventXML\",\"Param1\":\"a\"}},\"event_id\":"
            "1}\n"
            "{\"UserData\":{\"E\":{\"#attributes\":{\"xmlns\":\"u\",\"A\":\"1\"},\"#text\":\"t\","
            "\"B\":\"2\"}},\"EventID\":1}\n"
            "{\"EventID\":1,\"UserData\":{\"E\":{\"#text\":\"t2\",\"#attributes\":{\"A\":\"3\"},"
            "\"B\":\"4\"}}}\n");
    SK_ASSERT_NO_LEAKS();
}

// Names of every length up to 40, at the top and one level down, each followed by the same
// name with one byte changed: the reader copies names and compares interned paths with word
// moves of its own (the path that followed the same one last time has the same length and differs
// in one byte only), and every name must come out whole and as written.
Test(ndjson, names_of_every_length_are_copied_whole_and_told_apart)
{
    sk_buf data, want;
    sk_buf_init(&data, 1u << 24);
    sk_buf_init(&want, 1u << 24);
    unsigned long line = 0;
    char name[48], other[48];
    for (size_t len = 1; len <= 40; len++) {
        for (size_t i = 0; i < len; i++)
            name[i] = (char)('a' + i % 26);
        name[len] = '\0';
        for (size_t at = 0; at < len; at++) {
            memcpy(other, name, len + 1);
            other[at] = 'Z';
            const char *const names[2] = { name, other };
            for (int k = 0; k < 2; k++) {
                cr_assert(sk_buf_addf(&data,
                                      "{\"p\":0,\"%s\":%d,\"o\":{\"%s\":\"v\"}}\n",
                                      names[k],
                                      k,
                                      names[k]) == SK_OK);
                cr_assert(sk_buf_addf(&want,
                                      "@%lu\np=0\n%s=%d\no.%s=v\n",
                                      ++line,
                                      names[k],
                                      k,
                                      names[k]) == SK_OK);
            }
        }
    }
    result res;
    run(&res, sk_buf_str(&data), data.n, 4096, 0);
    cr_assert_str_eq(res.td.text, "");
    cr_assert_str_eq(sk_buf_str(&res.dump), sk_buf_str(&want));
    result_fini(&res);
    sk_buf_fini(&data);
    sk_buf_fini(&want);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, invalid_json_is_located_at_the_byte_that_is_not_json)
{
    // The column is the token or byte where the text stops being JSON, whatever the error:
    // yajl's own offset is the token's last byte for some errors and its start for others.
    check("{\"a\":3]}\n"
          "{\"a\":1 \"bcdef\":2}\n"
          "{\"a\":[1 234]}\n"
          "{\"a\":1}  \"trailing\"\n"
          "{\"a\":\"abc\\u12x4\"}\n"
          "{\"a\":\"abc\xC3\x28xyz\" 1}\n"
          "{\"a\":\"a\\qb\"}\n"
          "{\"a\":\"x\\ny\xC3\"]}\n"
          "{\"a\":\"b\x01\"}\n"
          "{\"a\":}\n"
          "{\"a\":[1,2\n"
          "{\"a\":1\x0B,\"b\" 2}\n",
          "",
          "t.ndjson:1:7: warning: invalid JSON (after key and value, inside map, I expect ',' or "
          "'}'); line skipped\n"
          "t.ndjson:2:8: warning: invalid JSON (after key and value, inside map, I expect ',' or "
          "'}'); line skipped\n"
          "t.ndjson:3:9: warning: invalid JSON (after array element, I expect ',' or ']'); line "
          "skipped\n"
          "t.ndjson:4:10: warning: invalid JSON (trailing garbage); line skipped\n"
          "t.ndjson:5:14: warning: invalid JSON (invalid (non-hex) character occurs after '\\u' "
          "inside string); line skipped\n"
          "t.ndjson:6:10: warning: invalid JSON (invalid bytes in UTF8 string); line skipped\n"
          "t.ndjson:7:9: warning: invalid JSON (inside a string, '\\' occurs before a character "
          "which it may not); line skipped\n"
          "t.ndjson:8:11: warning: invalid JSON (invalid bytes in UTF8 string); line skipped\n"
          "t.ndjson:9:8: warning: invalid JSON (invalid character inside string); line skipped\n"
          "t.ndjson:10:6: warning: invalid JSON (unallowed token at this point in JSON text); line "
          "skipped\n"
          "t.ndjson:11:10: warning: invalid JSON (premature EOF); line skipped\n"
          // a vertical tab: yajl's whitespace, which the fast scanner leaves to it
          "t.ndjson:12:13: warning: invalid JSON (object key and value must be separated by a "
          "colon (':')); line skipped\n",
          12);
}

Test(ndjson, repeated_keys_are_separate_leaves_not_an_array)
{
    // A key written twice gives two leaves of the same path, which are not the items of one
    // array: the first system key wins (the second is dropped, or kept as data under its own
    // name when that is not the system name), where an array's items are all the field's values.
    check("{\"EventID\":3,\"EventID\":4,\"a\":1,\"a\":2,\"x\":[{\"a\":1},{\"a\":2}]}\n"
          "{\"event_id\":3,\"event_id\":4}\n"
          "{\"event_id\":[3,4]}\n",
          "@1\nS:EventID=3\na=1\na=2\nx.a=1\nx.a=2\n"
          "@2\nS:EventID=3\nH:event_id=3\nevent_id=4\n"
          "@3\nS:EventID=3\nS:EventID=4\nH:event_id=3\nH:event_id=4\n",
          "",
          0);
}

Test(ndjson, paths_past_the_interning_limits_are_mapped_alike)
{
    // More distinct paths than a reader interns (4096, 256 KiB), and paths longer than it
    // interns (256 bytes): the late ones are copied into each event, and mapped the same way.
    sk_buf b;
    sk_buf_init(&b, 1 << 24);
    for (unsigned d = 0; d < 4; d++) {
        cr_assert(sk_buf_addf(&b, "{\"event_id\":%u,\"event_data\":{", d) == SK_OK);
        for (unsigned i = 0; i < 1500; i++)
            cr_assert(sk_buf_addf(&b, "%s\"Key%u_%u\":\"v%u\"", i ? "," : "", d, i, i) == SK_OK);
        cr_assert(sk_buf_adds(&b, "}}\n") == SK_OK);
    }
    char lng[301];
    memset(lng, 'L', 300);
    lng[300] = '\0';
    for (unsigned d = 0; d < 2; d++)
        cr_assert(
                sk_buf_addf(&b,
                            "{\"event_data\":{\"%s\":\"%u\",\"Key0_1\":\"a\",\"Key3_1499\":\"b\"},"
                            "\"Key3_7\":\"c\",\"event_id\":9,\"%s\":{\"EventID\":1}}\n",
                            lng,
                            d,
                            lng) == SK_OK);
    expect_lines_independent(sk_buf_str(&b));
    sk_buf_fini(&b);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson, read_error_is_an_io_error)
{
    FILE *fp = fopen("/dev/null", "w"); // reading a write-only stream fails
    cr_assert_not_null(fp);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r;
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, "{\"a\":1}\n", 8, "w.json", NULL, &td.dl), SK_OK);
    const sk_event *ev;
    cr_expect_eq(sk_reader_next(r, &ev), SK_OK); // the prefix is read first
    cr_expect_eq(sk_reader_next(r, &ev), SK_ERR_IO);
    cr_expect_str_eq(td.text, "w.json: error: read error: Bad file descriptor\n");
    cr_expect_eq(sk_reader_next(r, &ev), SK_DONE);
    cr_expect(sk_reader_stats_get(r)->damaged);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// The ECS <-> Sysmon table

Test(fieldmap, ecs_sysmon_names_both_ways)
{
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("process.executable"), "Image");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("process.command_line"), "CommandLine");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("file.path"), "TargetFilename");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("registry.path"), "TargetObject");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("dns.question.name"), "QueryName");
    cr_expect_null(sk_fieldmap_ecs_to_sysmon("process.name"));
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon_eid("file.path", 7), "ImageLoaded");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon_eid("file.path", 11), "TargetFilename");
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon_eid("process.executable", 10), "SourceImage");
    cr_expect_null(sk_fieldmap_ecs_to_sysmon_eid("file.pe.company", 1));
    cr_expect_str_eq(sk_fieldmap_ecs_to_sysmon("file.pe.company"), "Company");

    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("Image"), "process.executable");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("ParentCommandLine"), "process.parent.command_line");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("TargetFilename"), "file.path");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("DestinationIp"), "destination.ip");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("Company"), "process.pe.company");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs_eid("Company", 7), "file.pe.company");
    cr_expect_str_eq(sk_fieldmap_sysmon_to_ecs("ImageLoaded"), "file.path");
    cr_expect_null(sk_fieldmap_sysmon_to_ecs_eid("ImageLoaded", 1));
    cr_expect_null(sk_fieldmap_sysmon_to_ecs("Hashes"));
}

// ------------------------------------------------------------------------------------------------
// Corpus

static char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
    long len = ftell(fp);
    rewind(fp);
    char *s = malloc((size_t)len + 1);
    cr_assert_eq(fread(s, 1, (size_t)len, fp), (size_t)len);
    s[len] = '\0';
    fclose(fp);
    *n = (size_t)len;
    return s;
}

// A JSON scalar as event text: strings as they are, numbers in their JSON form, booleans.
static const char *node_text(yajl_val v, char *buf, size_t n)
{
    if (YAJL_IS_STRING(v))
        return YAJL_GET_STRING(v);
    if (YAJL_IS_NUMBER(v))
        return YAJL_GET_NUMBER(v);
    if (YAJL_IS_TRUE(v))
        return "true";
    if (YAJL_IS_FALSE(v))
        return "false";
    snprintf(buf, n, "?");
    return NULL;
}

static yajl_val get(yajl_val doc, const char *a, const char *b, const char *c)
{
    const char *path[] = { a, b, c, NULL };
    return yajl_tree_get(doc, path, yajl_t_any);
}

// Checks ev against its Winlogbeat document, read independently with yajl's tree API.
static void expect_like_document(const sk_event *ev, yajl_val doc, const char *file)
{
    char tmp[64];
    static const struct {
        const char *field, *a, *b;
    } sys[] = {
        { "EventID", "winlog", "event_id" },
        { "Channel", "winlog", "channel" },
        { "Computer", "winlog", "computer_name" },
        { "EventRecordID", "winlog", "record_id" },
        { "Provider_Name", "winlog", "provider_name" },
        { "Provider_Guid", "winlog", "provider_guid" },
    };
    for (size_t k = 0; k < sizeof sys / sizeof sys[0]; k++) {
        yajl_val v = get(doc, sys[k].a, sys[k].b, NULL);
        if (!v)
            continue;
        const char *got = sk_event_get(ev, sys[k].field);
        if (!got) {
            char alt[64];
            snprintf(alt, sizeof alt, "System.%s", sys[k].field);
            got = sk_event_get(ev, alt);
        }
        cr_expect_str_eq(got ? got : "(absent)",
                         node_text(v, tmp, sizeof tmp),
                         "%s line %llu: %s",
                         file,
                         (unsigned long long)ev->line,
                         sys[k].field);
    }
    // Every event_data item under its own name.
    yajl_val ed = get(doc, "winlog", "event_data", NULL);
    for (size_t k = 0; ed && YAJL_IS_OBJECT(ed) && k < ed->u.object.len; k++) {
        const char *got = sk_event_get(ev, ed->u.object.keys[k]);
        cr_expect_str_eq(got ? got : "(absent)",
                         node_text(ed->u.object.values[k], tmp, sizeof tmp),
                         "%s line %llu: %s",
                         file,
                         (unsigned long long)ev->line,
                         ed->u.object.keys[k]);
    }
    // The fields Elastic's processing moved out of event_data come back under Sysmon's names.
    yajl_val eidv = get(doc, "winlog", "event_id", NULL);
    long eid = atol(node_text(eidv, tmp, sizeof tmp));
    static const struct {
        const char *field, *a, *b, *c;
        long only; // 0: any event
    } ecs[] = {
        { "Image", "process", "executable", NULL, 0 },
        { "CommandLine", "process", "command_line", NULL, 0 },
        { "ParentImage", "process", "parent", "executable", 0 },
        { "ParentCommandLine", "process", "parent", "command_line", 0 },
        { "ProcessId", "process", "pid", NULL, 0 },
        { "ProcessGuid", "process", "entity_id", NULL, 0 },
        { "TargetFilename", "file", "path", NULL, 11 },
        { "TargetFilename", "file", "path", NULL, 2 },
        { "ImageLoaded", "file", "path", NULL, 7 },
        { "TargetObject", "registry", "path", NULL, 13 },
        { "DestinationIp", "destination", "ip", NULL, 0 },
        { "DestinationPort", "destination", "port", NULL, 0 },
        { "SourceIp", "source", "ip", NULL, 0 },
        { "QueryName", "dns", "question", "name", 0 },
    };
    for (size_t k = 0; k < sizeof ecs / sizeof ecs[0]; k++) {
        yajl_val v = get(doc, ecs[k].a, ecs[k].b, ecs[k].c);
        if (!v || (ecs[k].only && ecs[k].only != eid) ||
            (eid == 10 && !strcmp(ecs[k].a, "process")) ||
            (ed && YAJL_IS_OBJECT(ed) && get(ed, ecs[k].field, NULL, NULL)))
            continue;
        const char *got = sk_event_get(ev, ecs[k].field);
        cr_expect_str_eq(got ? got : "(absent)",
                         node_text(v, tmp, sizeof tmp),
                         "%s line %llu: %s",
                         file,
                         (unsigned long long)ev->line,
                         ecs[k].field);
    }
}

static void
read_events(const char *path, sk_buf *dump, size_t chunk, yajl_val docs, const char *name)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r;
    sk_reader_opts opts = { .chunk_size = chunk };
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, name, &opts, &td.dl), SK_OK);
    const sk_event *ev;
    size_t i = 0;
    sk_status st;
    while ((st = sk_reader_next(r, &ev)) == SK_OK) {
        cr_assert(YAJL_IS_ARRAY(docs) && i < docs->u.array.len,
                  "%s: more events than documents",
                  name);
        expect_like_document(ev, docs->u.array.values[i], name);
        // Compared without the line numbers (the array spreads documents over many lines).
        sk_event copy = *ev;
        copy.line = 0;
        dump_event(dump, &copy);
        i++;
    }
    cr_expect_eq(st, SK_DONE);
    cr_expect_eq(
            i, docs->u.array.len, "%s: %zu events for %zu documents", name, i, docs->u.array.len);
    cr_expect_str_eq(td.text, "");
    cr_expect_eq(sk_reader_stats_get(r)->lines_skipped, 0);
    sk_reader_close(r);
}

Test(ndjson_corpus, winlogbeat_golden_files_match_their_documents)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent (set -Dcorpus=PATH to run the corpus tests)");
    static const char *const names[] = {
        "ingest-sysmon-12-processcreate.golden",
        "sysmon-11-registry.evtx.golden",
        "sysmon-12-processcreate.evtx.golden",
        "sysmon-9.01.evtx.golden",
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[4096], ndpath[4096], err[256];
        snprintf(path, sizeof path, "%s/ndjson/winlogbeat-golden/%s.json", corpus, names[k]);
        snprintf(ndpath, sizeof ndpath, "%s/ndjson/winlogbeat-golden/%s.ndjson", corpus, names[k]);
        size_t n;
        char *text = slurp(path, &n);
        yajl_val docs = yajl_tree_parse(text, err, sizeof err);
        cr_assert_not_null(docs, "%s: %s", path, err);
        sk_buf a, b;
        sk_buf_init(&a, 1 << 26);
        sk_buf_init(&b, 1 << 26);
        read_events(path, &a, 0, docs, names[k]);
        read_events(ndpath, &b, 0, docs, names[k]);
        cr_expect_str_eq(
                sk_buf_str(&a), sk_buf_str(&b), "%s: the array and NDJSON forms differ", names[k]);
        for (size_t chunk = 1; chunk <= 4096; chunk *= 64) { // 1, 64, 4096
            sk_buf c;
            sk_buf_init(&c, 1 << 26);
            read_events(path, &c, chunk, docs, names[k]);
            cr_expect_str_eq(
                    sk_buf_str(&a), sk_buf_str(&c), "%s: chunk %zu differs", names[k], chunk);
            sk_buf_fini(&c);
        }
        sk_buf_fini(&a);
        sk_buf_fini(&b);
        yajl_tree_free(docs);
        free(text);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson_corpus, ingest_processed_process_creation_values)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent (set -Dcorpus=PATH to run the corpus tests)");
    char path[4096];
    snprintf(path,
             sizeof path,
             "%s/ndjson/winlogbeat-golden/ingest-sysmon-12-processcreate.golden.ndjson",
             corpus);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp);
    sk_reader *r;
    sk_test_diags td;
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, "g", NULL, &td.dl), SK_OK);
    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    static const char *const want[][2] = {
        { "EventID", "1" },
        { "Channel", "Microsoft-Windows-Sysmon/Operational" },
        { "Computer", "vagrant" },
        { "EventRecordID", "20" },
        { "TimeCreated", "2020-10-27T20:00:14.3200000Z" },
        { "Image", "C:\\Windows\\System32\\notepad.exe" },
        { "CommandLine", "\"C:\\Windows\\system32\\notepad.exe\" " },
        { "ParentImage", "C:\\Windows\\explorer.exe" },
        { "ParentCommandLine", "C:\\Windows\\Explorer.EXE" },
        { "ProcessId", "3616" },
        { "ParentProcessId", "4212" },
        { "ProcessGuid", "{9F32B55F-7C4E-5F98-5803-000000000500}" },
        { "OriginalFileName", "NOTEPAD.EXE" },
        { "CurrentDirectory", "C:\\Users\\vagrant\\" },
        { "User", "VAGRANT\\vagrant" },
        { "Hashes", "SHA1=B6D237154F2E528F0B503B58B025862D66B02B73" },
        { "IntegrityLevel", "Medium" },
        { "UserID", "S-1-5-18" },
        { "ProcessID", "7144" },
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const char *got = sk_event_get(ev, want[k][0]);
        cr_expect_str_eq(got ? got : "(absent)", want[k][1], "%s", want[k][0]);
    }
    cr_expect_eq(ev->event_id, 1);
    cr_expect_eq(sk_reader_next(r, &ev), SK_DONE);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

// The corpus MANIFEST line of file rel: "...; N lines; ...; Sysmon EIDs 1:2 3:8 ... |".
static bool manifest_facts(
        const char *manifest, const char *rel, unsigned long *lines, char *eids, size_t eids_len)
{
    char key[512];
    snprintf(key, sizeof key, "| ndjson/otrf/%s |", rel);
    const char *p = strstr(manifest, key);
    if (!p)
        return false;
    const char *end = strchr(p, '\n');
    const char *l = strstr(p, " lines;");
    const char *e = strstr(p, "Sysmon EIDs ");
    if (!end || !l || !e || l > end || e > end)
        return false;
    while (l > p && l[-1] >= '0' && l[-1] <= '9')
        l--;
    *lines = strtoul(l, NULL, 10);
    e += 12;
    size_t n = strcspn(e, "|\n");
    while (n && e[n - 1] == ' ')
        n--;
    if (n >= eids_len)
        return false;
    memcpy(eids, e, n);
    eids[n] = '\0';
    return true;
}

Test(ndjson_corpus, otrf_files_read_without_skips)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent (set -Dcorpus=PATH to run the corpus tests)");
    static const char *const files[] = {
        "cmd_bitsadmin_download_psh_script.json",
        "cmd_psexec_lsa_secrets_dump.json",
        "cmd_sharpview_pcre_net.json",
        "covenant_com_wsman_automation.json",
        "covenant_sc_query_dcerpc_smb_svcctl.json",
        "covenant_sharpsc_query_dcerpc_smb_svcctl.json",
        "empire_enable_rdp.json",
        "mimikatz_CVE-2020-1472_Unauthenticated_NetrServerAuthenticate2.json",
        "psh_mavinject_dll_notepad.json",
        "sysmon_log4shell_cve2021_44228_java_serialized_object.json",
    };
    char path[4096];
    size_t mn;
    snprintf(path, sizeof path, "%s/MANIFEST.md", corpus);
    char *manifest = slurp(path, &mn);
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        unsigned long lines = 0;
        char want_eids[512], got_eids[512] = "";
        cr_assert(manifest_facts(manifest, files[k], &lines, want_eids, sizeof want_eids),
                  "MANIFEST.md has no facts for %s",
                  files[k]);
        snprintf(path, sizeof path, "%s/ndjson/otrf/%s", corpus, files[k]);
        FILE *fp = fopen(path, "rb");
        cr_assert_not_null(fp);
        sk_reader *r;
        sk_test_diags td;
        sk_test_diags_init(&td);
        cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, files[k], NULL, &td.dl), SK_OK);
        const sk_event *ev;
        sk_status st;
        unsigned long per_eid[256] = { 0 };
        while ((st = sk_reader_next(r, &ev)) == SK_OK) {
            cr_expect(ev->has_event_id,
                      "%s:%llu: no EventID",
                      files[k],
                      (unsigned long long)ev->line);
            cr_expect(ev->has_time,
                      "%s:%llu: no TimeCreated",
                      files[k],
                      (unsigned long long)ev->line);
            cr_expect_not_null(
                    ev->channel, "%s:%llu: no Channel", files[k], (unsigned long long)ev->line);
            cr_expect_not_null(
                    ev->computer, "%s:%llu: no Computer", files[k], (unsigned long long)ev->line);
            if (ev->channel && !strcasecmp(ev->channel, "Microsoft-Windows-Sysmon/Operational") &&
                ev->event_id < 256) {
                per_eid[ev->event_id]++;
                if (ev->event_id == 1) {
                    cr_expect_not_null(sk_event_get(ev, "Image"),
                                       "%s:%llu",
                                       files[k],
                                       (unsigned long long)ev->line);
                    cr_expect_not_null(sk_event_get(ev, "CommandLine"),
                                       "%s:%llu",
                                       files[k],
                                       (unsigned long long)ev->line);
                }
            }
        }
        cr_expect_eq(st, SK_DONE);
        const sk_reader_stats *s = sk_reader_stats_get(r);
        cr_expect_eq(s->lines_skipped,
                     0,
                     "%s: %llu lines skipped",
                     files[k],
                     (unsigned long long)s->lines_skipped);
        cr_expect_eq(s->events,
                     lines,
                     "%s: %llu events, MANIFEST says %lu lines",
                     files[k],
                     (unsigned long long)s->events,
                     lines);
        cr_expect_str_eq(td.text, "", "%s", files[k]);
        for (unsigned e = 0; e < 256; e++)
            if (per_eid[e]) {
                size_t len = strlen(got_eids);
                snprintf(got_eids + len,
                         sizeof got_eids - len,
                         "%s%u:%lu",
                         len ? " " : "",
                         e,
                         per_eid[e]);
            }
        cr_expect_str_eq(got_eids, want_eids, "%s: Sysmon events per EventID", files[k]);
        sk_reader_close(r);
    }
    free(manifest);
    SK_ASSERT_NO_LEAKS();
}

// evtx_dump's JSON (pretty-printed objects, one or more per file) in SigmaHQ's regression data.
static struct {
    unsigned long files, events, skipped, without_eid;
    char first_problem[512];
} regression;

static int visit_regression(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || n < 5 || strcmp(path + n - 5, ".json") != 0)
        return 0;
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "%s", path);
    sk_reader *r;
    sk_test_diags td;
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_ndjson(&r, fp, NULL, 0, path, NULL, &td.dl), SK_OK);
    const sk_event *ev;
    sk_status st2;
    while ((st2 = sk_reader_next(r, &ev)) == SK_OK) {
        regression.events++;
        if (!ev->has_event_id || !ev->channel || !ev->has_time)
            regression.without_eid++;
    }
    cr_expect_eq(st2, SK_DONE);
    regression.skipped += sk_reader_stats_get(r)->lines_skipped;
    if (td.len && !regression.first_problem[0])
        snprintf(regression.first_problem, sizeof regression.first_problem, "%.400s", td.text);
    regression.files++;
    sk_reader_close(r);
    return 0;
}

Test(ndjson_corpus, evtx_dump_json_of_the_sigma_regression_data)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent (set -Dcorpus=PATH to run the corpus tests)");
    char path[4096];
    snprintf(path, sizeof path, "%s/sigma-regression/regression_data", corpus);
    cr_assert_eq(nftw(path, visit_regression, 16, FTW_PHYS), 0);
    cr_expect_gt(regression.files, 100);
    cr_expect_geq(regression.events, regression.files);
    cr_expect_eq(regression.skipped, 0, "first problem: %s", regression.first_problem);
    cr_expect_str_eq(regression.first_problem, "");
    cr_expect_eq(regression.without_eid, 0);
    SK_ASSERT_NO_LEAKS();
}

// ------------------------------------------------------------------------------------------------
// Parts: a large file in line layout is read by several readers, each taking the lines that start
// in its byte range (src/cli/scan.c splits files so). Read as parts cut at any byte, the events
// (with their line numbers) and the diagnostics must be those of the whole file.

static void run_path(result *res, const char *path, const sk_reader_opts *opts)
{
    sk_buf_init(&res->dump, 1u << 30);
    sk_test_diags_init(&res->td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_input_open(&r, path, opts, &res->td.dl), SK_OK, "%s", res->td.text);
    const sk_event *ev;
    while ((res->last = sk_reader_next(r, &ev)) == SK_OK)
        dump_event(&res->dump, ev);
    res->stats = *sk_reader_stats_get(r);
    sk_reader_close(r);
}

static uint64_t newlines_before(const char *data, size_t end)
{
    uint64_t n = 0;
    for (size_t i = 0; i < end; i++)
        n += data[i] == '\n';
    return n;
}

// Reads path (holding data) as parts cut at cuts[0..ncuts) (ascending, inside the file); the parts'
// events and diagnostics, one after another, into *out.
static void run_parts(result *out,
                      const char *path,
                      const char *data,
                      const size_t *cuts,
                      size_t ncuts,
                      size_t chunk)
{
    sk_buf_init(&out->dump, 1u << 30);
    sk_test_diags_init(&out->td);
    memset(&out->stats, 0, sizeof out->stats);
    for (size_t k = 0; k <= ncuts; k++) {
        sk_reader_opts o = { .chunk_size = chunk };
        o.ndjson_first = k ? cuts[k - 1] : 0;
        o.ndjson_end = k < ncuts ? cuts[k] : 0;
        o.ndjson_newlines = k ? newlines_before(data, cuts[k - 1] - 1) : 0;
        result part;
        run_path(&part, path, &o);
        sk_buf_put(&out->dump, sk_buf_str(&part.dump), part.dump.n);
        cr_assert_lt(out->td.len + part.td.len, sizeof out->td.text);
        memcpy(out->td.text + out->td.len, part.td.text, part.td.len + 1);
        out->td.len += part.td.len;
        out->stats.events += part.stats.events;
        out->stats.lines_skipped += part.stats.lines_skipped;
        result_fini(&part);
    }
}

// Every cut into two parts, and many into three, at three chunk sizes.
static void expect_parts_equal(const char *data, size_t n, uint64_t events, uint64_t skipped)
{
    char path[] = "/tmp/saker-parts-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, data, n), (ssize_t)n);
    close(fd);
    result whole;
    run_path(&whole, path, NULL);
    cr_assert_eq(whole.stats.events, events);
    cr_assert_eq(whole.stats.lines_skipped, skipped);
    for (size_t chunk = 3; chunk <= 4096; chunk = chunk * 16 + 1) { // 3, 49, 785
        for (size_t c = 1; c < n; c++) {
            result parts;
            run_parts(&parts, path, data, &c, 1, chunk);
            cr_assert_str_eq(sk_buf_str(&parts.dump),
                             sk_buf_str(&whole.dump),
                             "cut at %zu, chunk %zu: events differ",
                             c,
                             chunk);
            cr_assert_str_eq(parts.td.text,
                             whole.td.text,
                             "cut at %zu, chunk %zu: diagnostics differ",
                             c,
                             chunk);
            cr_assert_eq(parts.stats.events, whole.stats.events);
            cr_assert_eq(parts.stats.lines_skipped, whole.stats.lines_skipped);
            result_fini(&parts);
        }
        // Three parts, the middle one inside a single line or holding several.
        for (size_t a = 1; a < n; a += 5) {
            for (size_t b = a + 1; b < n; b += 7) {
                size_t cuts[2] = { a, b };
                result parts;
                run_parts(&parts, path, data, cuts, 2, chunk);
                cr_assert_str_eq(sk_buf_str(&parts.dump),
                                 sk_buf_str(&whole.dump),
                                 "cuts at %zu and %zu, chunk %zu: events differ",
                                 a,
                                 b,
                                 chunk);
                cr_assert_str_eq(parts.td.text, whole.td.text);
                result_fini(&parts);
            }
        }
    }
    result_fini(&whole);
    unlink(path);
}

Test(ndjson_parts, any_cut_gives_the_events_of_the_whole_file)
{
    static const char data[] =
            "\xEF\xBB\xBF{\"event_id\":1,\"x\":\"a\"}\n"
            "\n"
            "{\"event_id\":2,\"x\":\"b\"}\r\n"
            "{\n" // not pretty-printing here: invalid
            "{\"event_id\":3,\"x\":\"c\"}\n"
            "   \n"
            "[1,2]\n" // not an object
            "{\"event_id\":4,\"x\":\"a much longer value that crosses more cuts\"}\n"
            "{\"event_id\":5,\"x\":}\n" // invalid
            "{\"event_id\":6}\n"
            "\n"
            "{\"event_id\":7,\"x\":\"last, without a newline\"}";
    expect_parts_equal(data, sizeof data - 1, 6, 3);
    // Blank lines first (the reader's start state counts them), and a file that ends in one.
    static const char blank_first[] = "\n \t\n\r\n{\"event_id\":1}\n{\"event_id\":2}\n\n";
    expect_parts_equal(blank_first, sizeof blank_first - 1, 2, 0);
    SK_ASSERT_NO_LEAKS();
}

Test(ndjson_parts, which_files_may_be_split)
{
#define SPLITTABLE(s) sk_ndjson_splittable((const unsigned char *)(s), sizeof(s) - 1)
    cr_expect(SPLITTABLE("{\"a\":1}\n{\"a\":2}\n"));
    cr_expect(SPLITTABLE("\xEF\xBB\xBF\n\n  {\"a\":1}\n"));
    cr_expect(SPLITTABLE("{ \"a\": 1 }"));
    cr_expect(!SPLITTABLE("[{\"a\":1}]\n"));      // a JSON array
    cr_expect(!SPLITTABLE("{\n  \"a\": 1\n}\n")); // pretty-printed objects
    cr_expect(!SPLITTABLE("{ \t\r\n\"a\": 1}\n"));
    cr_expect(!SPLITTABLE("{  ")); // cannot tell yet
    cr_expect(!SPLITTABLE("\n\n"));
    cr_expect(!SPLITTABLE("\x1f\x8b\x08")); // gzip
    cr_expect(!SPLITTABLE("ElfFile"));
#undef SPLITTABLE
}

// The corpus's NDJSON files (real Winlogbeat documents: long lines, escapes, CRLF in values), cut
// into two to five parts at pseudo-random bytes, lines straddling the cuts.
Test(ndjson_corpus, parts_at_random_cuts_give_the_events_of_the_whole_file, .timeout = 240)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent (set -Dcorpus=PATH to run the corpus tests)");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/ndjson/otrf", corpus);
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    sk_test_collect_logs(dir, &files, &nfiles, &cap);
    cr_assert_geq(nfiles, 10);
    uint64_t seed = 0x9E3779B97F4A7C15ull, events = 0, runs = 0;
    for (size_t k = 0; k < nfiles; k++) {
        size_t n;
        char *data = slurp(files[k], &n);
        cr_assert(sk_ndjson_splittable((const unsigned char *)data, n < 65536 ? n : 65536),
                  "%s",
                  files[k]);
        result whole;
        run_path(&whole, files[k], NULL);
        events += whole.stats.events;
        for (int round = 0; round < 8; round++) {
            size_t cuts[4], ncuts = 1 + (size_t)round % 4;
            for (size_t c = 0; c < ncuts; c++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                cuts[c] = 1 + (size_t)(seed >> 33) % (n - 1);
            }
            for (size_t a = 1; a < ncuts; a++) // ascending
                for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                    size_t t = cuts[b - 1];
                    cuts[b - 1] = cuts[b];
                    cuts[b] = t;
                }
            size_t m = 1; // no two alike
            for (size_t c = 1; c < ncuts; c++)
                if (cuts[c] != cuts[m - 1])
                    cuts[m++] = cuts[c];
            ncuts = m;
            runs++;
            result parts;
            run_parts(&parts, files[k], data, cuts, ncuts, 65536);
            cr_assert_str_eq(sk_buf_str(&parts.dump),
                             sk_buf_str(&whole.dump),
                             "%s, %zu cuts from %zu: events differ",
                             files[k],
                             ncuts,
                             cuts[0]);
            cr_assert_str_eq(parts.td.text, whole.td.text);
            result_fini(&parts);
        }
        result_fini(&whole);
        free(data);
        free(files[k]);
    }
    free(files);
    cr_expect_eq(events, 7220, "%llu events", (unsigned long long)events);
    cr_expect_eq(runs, 8 * nfiles);
    SK_ASSERT_NO_LEAKS();
}
