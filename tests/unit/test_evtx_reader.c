// The libevtx reader: opening, record iteration, damage handling and its exact diagnostics, on the
// shared corpus (../shared/corpus; tests skip, saying so, when it is absent).
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "input/evtx_xml.h"
#include "input/reader.h"

#define SKIP_WITHOUT_CORPUS(c)                                                     \
    do {                                                                           \
        if (!(c))                                                                  \
            cr_skip_test("../shared/corpus is absent: evtx corpus tests skipped"); \
    } while (0)

static const char *cpath(const char *corpus, const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", corpus, rel);
    return buf;
}

// Reads every event; returns SK_DONE (or the error that ended the reader).
typedef struct tally {
    unsigned long events;
    unsigned long recovered;
    unsigned long without_record_id;
    uint64_t first_id;
    uint64_t last_id;
} tally;

static sk_status drain(sk_reader *r, tally *t)
{
    const sk_event *ev;
    sk_status st;
    memset(t, 0, sizeof *t);
    while ((st = sk_reader_next(r, &ev)) == SK_OK) {
        if (t->events == 0)
            t->first_id = ev->record_id;
        t->last_id = ev->record_id;
        t->events++;
        if (ev->recovered)
            t->recovered++;
        if (!ev->has_record_id)
            t->without_record_id++;
        cr_expect_eq(ev->format, SK_FORMAT_EVTX);
        cr_expect_eq(ev->line, 0u);
    }
    return st;
}

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

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

Test(evtx_reader, missing_file_is_an_io_error)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_expect_eq(sk_reader_open_evtx(&r, "/nonexistent/dir/x.evtx", "x.evtx", NULL, &td.dl),
                 SK_ERR_IO);
    cr_expect_null(r);
    cr_expect_str_eq(td.text, "x.evtx: error: cannot open: No such file or directory\n");
    cr_expect_eq(td.dl.errors, 1u);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, directory_is_an_io_error)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_expect_eq(sk_reader_open_evtx(&r, "/tmp", NULL, NULL, &td.dl), SK_ERR_IO);
    cr_expect_null(r);
    cr_expect_str_eq(td.text, "/tmp: error: cannot open: Is a directory\n");
    SK_ASSERT_NO_LEAKS();
}

static unsigned count_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

Test(evtx_reader, not_evtx_is_a_format_error)
{
    char path[] = "/tmp/saker-evtx-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "{\"not\": \"evtx\"}\n", 16), 16);
    close(fd);
    unsigned fds = count_fds();
    for (int i = 0; i < 20; i++) {
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_reader *r = NULL;
        cr_expect_eq(sk_reader_open_evtx(&r, path, "t.evtx", NULL, &td.dl), SK_ERR_FORMAT);
        cr_expect_null(r);
        cr_expect_str_eq(td.text, "t.evtx: error: cannot open: unable to read file header\n");
    }
    cr_expect_eq(count_fds(), fds, "file descriptors leak on failed opens");
    // An empty file, and an empty memory image, the same.
    cr_assert_eq(truncate(path, 0), 0);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_expect_eq(sk_reader_open_evtx(&r, path, "e.evtx", NULL, &td.dl), SK_ERR_FORMAT);
    cr_expect_str_eq(td.text, "e.evtx: error: cannot open: unable to read file header\n");
    unlink(path);
    sk_test_diags_init(&td);
    // Images shorter than the file header never reach libbfio (whose memory range reads past
    // their end).
    static const char tiny[100] = "ElfFile";
    cr_expect_eq(sk_reader_open_evtx_memory(&r, "", 0, "m.evtx", NULL, &td.dl), SK_ERR_FORMAT);
    cr_expect_eq(sk_reader_open_evtx_memory(&r, tiny, sizeof tiny, "m.evtx", NULL, &td.dl),
                 SK_ERR_FORMAT);
    cr_expect_null(r);
    cr_expect_str_eq(td.text,
                     "m.evtx: error: cannot open: unable to read file header\n"
                     "m.evtx: error: cannot open: unable to read file header\n");
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, sysmon_file_every_record)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, "evtx-attack/sbousseaden/Execution/exec_sysmon_1_ftp.evtx", path, sizeof path);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, "ftp.evtx", NULL, &td.dl), SK_OK, "%s", td.text);

    const sk_event *ev;
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    cr_expect_str_eq(ev->file, "ftp.evtx");
    cr_expect_eq(ev->format, SK_FORMAT_EVTX);
    cr_expect_not(ev->recovered);
    cr_expect_eq(ev->record_id, 16511u);
    cr_expect_eq(ev->event_id, 1u);
    cr_expect_str_eq(ev->channel, "Microsoft-Windows-Sysmon/Operational");
    cr_expect_str_eq(ev->computer, "IEWIN7");
    cr_expect_str_eq(ev->provider, "Microsoft-Windows-Sysmon");
    cr_expect_str_eq(sk_event_get(ev, "TimeCreated"), "2019-05-12T17:20:01.9805740Z");
    cr_expect_str_eq(sk_event_get(ev, "Image"), "C:\\Windows\\System32\\cmd.exe");
    cr_expect_str_eq(sk_event_get(ev, "CommandLine"), "\"C:\\Windows\\system32\\cmd.exe\" ");
    cr_expect_str_eq(sk_event_get(ev, "RuleName"), "");
    cr_expect_eq(sk_event_nfields(ev), 36u);

    unsigned long n = 1;
    uint64_t last = ev->record_id;
    sk_status st;
    while ((st = sk_reader_next(r, &ev)) == SK_OK) {
        cr_expect_eq(ev->record_id, last + 1);
        last = ev->record_id;
        n++;
    }
    cr_expect_eq(st, SK_DONE);
    cr_expect_eq(sk_reader_next(r, &ev), SK_DONE, "SK_DONE again after the end");
    cr_expect_eq(n, 4u);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(s->events, 4u);
    cr_expect_eq(s->records_skipped, 0u);
    cr_expect_eq(s->bytes, 69632u);
    cr_expect_not(s->damaged);
    cr_expect_str_eq(td.text, "");
    sk_reader_close(r);
    sk_reader_close(NULL);
    SK_ASSERT_NO_LEAKS();
}

// Every Sysmon sample of EVTX-ATTACK-SAMPLES reads cleanly: no skip, no diagnostic.
static void walk(const char *dir, unsigned long *files, unsigned long *events)
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
        cr_assert_eq(sk_reader_open_evtx(&r, path, name, NULL, &td.dl), SK_OK, "%s", td.text);
        tally t;
        cr_expect_eq(drain(r, &t), SK_DONE);
        const sk_reader_stats *s = sk_reader_stats_get(r);
        cr_expect_gt(t.events, 0u, "%s", path);
        cr_expect_eq(s->records_skipped, 0u, "%s: %s", path, td.text);
        cr_expect_eq(t.without_record_id, 0u, "%s", path);
        cr_expect_str_eq(td.text, "", "%s", path);
        *events += t.events;
        (*files)++;
        sk_reader_close(r);
    }
    sk_test_free_files(paths, n);
}

Test(evtx_reader, evtx_attack_samples_read_cleanly, .timeout = 120)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char dir[4096];
    cpath(corpus, "evtx-attack/sbousseaden", dir, sizeof dir);
    unsigned long files = 0, events = 0;
    walk(dir, &files, &events);
    cr_expect_eq(files, 185u);
    cr_expect_eq(events, 1563u);
    SK_ASSERT_NO_LEAKS();
}

// Damaged and odd files (see MANIFEST.md): events + records_skipped equals the number of records
// libevtx reports (libevtx_file_get_number_of_records).
typedef struct damaged_case {
    char rel[160];
    unsigned long events;
    unsigned long skipped;
    bool damaged;
} damaged_case;

ParameterizedTestParameters(evtx_reader, damaged_files)
{
    static damaged_case cases[] = {
        { "broken/omerbenamram-evtx/2-vss_0-Microsoft-Windows-RemoteDesktopServices-RdpCoreTS"
          "%4Operational.evtx",
          1910,
          0,
          true },
        { "broken/omerbenamram-evtx/2-vss_0-Microsoft-Windows-TerminalServices-"
          "RemoteConnectionManager%4Operational.evtx",
          1774,
          0,
          true },
        { "broken/omerbenamram-evtx/2-vss_7-System.evtx", 1160, 0, true },
        { "broken/omerbenamram-evtx/Application_no_crc32.evtx", 17, 0, true },
        { "broken/omerbenamram-evtx/E_ShadowCopy6_windows_system32_winevt_logs_Microsoft-Windows-"
          "CAPI2%4Operational.evtx",
          436,
          23,
          true },
        { "broken/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2"
          "%4Operational.evtx",
          337,
          3,
          false },
        { "broken/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-Shell-Core"
          "%4Operational.evtx",
          1146,
          0,
          true },
        { "broken/omerbenamram-evtx/MSExchange_Management_wec.evtx", 0, 1, false },
        { "broken/omerbenamram-evtx/Microsoft-Windows-HelloForBusiness%4Operational.evtx",
          5,
          0,
          true },
        { "broken/omerbenamram-evtx/Microsoft-Windows-LanguagePackSetup%4Operational.evtx",
          16,
          0,
          true },
        { "broken/omerbenamram-evtx/post-Security.evtx", 126, 0, false },
        { "broken/omerbenamram-evtx/sample-with-zero-data-size-event.evtx", 335, 0, true },
        { "broken/omerbenamram-evtx/sample_with_a_bad_chunk_magic.evtx", 267, 0, true },
        { "broken/omerbenamram-evtx/security_bad_string_cache.evtx", 2261, 0, true },
        { "broken/omerbenamram-evtx/sysmon.evtx", 358, 0, true },
        { "broken/python-evtx/dns_log_malformed.evtx", 5, 0, false },
        { "broken/python-evtx/issue_38.evtx", 1, 0, false },
        { "broken/python-evtx/issue_39.evtx", 394, 0, false },
        { "broken/python-evtx/issue_43.evtx", 1730, 0, false },
        { "broken/inline-binxml/ID1116-1117-Defender threat detected.evtx", 0, 6, false },
        { "broken/inline-binxml/ID1149-RDP success logins to multiple hosts.evtx", 0, 11, false },
        { "broken/inline-binxml/ID2003-4950-Firewall disabled.evtx", 0, 6, false },
        { "broken/inline-binxml/ID4656-WS Management listener enumeration.evtx", 0, 29, false },
        { "broken/inline-binxml/ID800-4103-4104-Print spooler privilege escalation "
          "(CVE-2020-1048).evtx",
          0,
          10,
          false },
        { "broken/inline-binxml/ID800-4103-4104-WMI registration via PowerLurk.evtx",
          0,
          10,
          false },
        { "broken/inline-binxml/ID800-4103-Firewall disabled.evtx", 0, 10, false },
        { "baseline/omerbenamram-evtx/system.evtx", 1881, 0, true },
        { "baseline/omerbenamram-evtx/security.evtx", 2261, 0, false },
        { "baseline/python-evtx/system.evtx", 1601, 0, false },
    };
    return cr_make_param_array(damaged_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(damaged_case *c, evtx_reader, damaged_files, .timeout = 60)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, c->rel, path, sizeof path);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, c->rel, NULL, &td.dl), SK_OK, "%s", td.text);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(t.events, c->events, "%s: events", c->rel);
    cr_expect_eq(s->events, c->events, "%s: stats.events", c->rel);
    cr_expect_eq(s->records_skipped, c->skipped, "%s: skipped", c->rel);
    cr_expect_eq(s->damaged, c->damaged, "%s: damaged", c->rel);
    cr_expect_eq(t.recovered, 0u);
    // One warning per skipped record, plus one for a damaged file.
    cr_expect_eq(td.dl.warnings, c->skipped + (c->damaged ? 1u : 0u), "%s:\n%s", c->rel, td.text);
    cr_expect_eq(td.dl.errors, 0u);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_expect_eq(s->bytes, (uint64_t)sb.st_size);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, skipped_records_exact_diagnostics)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    tally t;
    cpath(corpus,
          "broken/omerbenamram-evtx/E_Windows_system32_winevt_logs_Microsoft-Windows-CAPI2"
          "%4Operational.evtx",
          path,
          sizeof path);
    cr_assert_eq(sk_reader_open_evtx(&r, path, "CAPI2.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_str_eq(td.text,
                     "CAPI2.evtx: record index 24: warning: cannot read record: invalid binary XML "
                     "sub token - unsupported type: 0x49; record skipped\n"
                     "CAPI2.evtx: record index 31: warning: cannot read record: invalid binary XML "
                     "sub token - unsupported type: 0x49; record skipped\n"
                     "CAPI2.evtx: record index 141: warning: cannot read record: invalid binary "
                     "XML sub token - unsupported type: 0x49; record skipped\n");
    sk_reader_close(r);

    sk_test_diags_init(&td);
    cpath(corpus, "broken/omerbenamram-evtx/MSExchange_Management_wec.evtx", path, sizeof path);
    cr_assert_eq(sk_reader_open_evtx(&r, path, "wec.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 0u);
    cr_expect_str_eq(td.text,
                     "wec.evtx: record index 0: warning: cannot read record: invalid "
                     "binary XML token - unsupported type: 0x05; record skipped\n");
    sk_reader_close(r);

    sk_test_diags_init(&td);
    cpath(corpus,
          "broken/omerbenamram-evtx/Microsoft-Windows-HelloForBusiness%4Operational.evtx",
          path,
          sizeof path);
    cr_assert_eq(sk_reader_open_evtx(&r, path, "hello.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 5u);
    cr_expect_str_eq(td.text,
                     "hello.evtx: warning: libevtx flags the file as corrupted (a chunk "
                     "failed its checks, or the header does not match the chunks); "
                     "reading the 5 records it found\n");
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

// Finds the event with EventRecordID id and returns a copy of field name's first value.
static char *value_of(const char *path, uint64_t id, const char *name)
{
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, NULL, NULL, &td.dl), SK_OK, "%s", td.text);
    const sk_event *ev;
    char *v = NULL;
    while (!v && sk_reader_next(r, &ev) == SK_OK) {
        if (ev->record_id == id) {
            const char *s = sk_event_get(ev, name);
            cr_assert_not_null(s, "record %llu has no %s", (unsigned long long)id, name);
            v = strdup(s);
        }
    }
    sk_reader_close(r);
    cr_assert_not_null(v, "no record %llu in %s", (unsigned long long)id, path);
    return v;
}

Test(evtx_reader, control_characters_and_crlf_in_values)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, "baseline/omerbenamram-evtx/security.evtx", path, sizeof path);
    // Record 55 (4739) holds raw U+0003 values: libevtx's XML is invalid there.
    char *v = value_of(path, 55, "MinPasswordAge");
    cr_expect_str_eq(v, "\x03");
    free(v);
    v = value_of(path, 55, "LockoutThreshold");
    cr_expect_str_eq(v, "\x03");
    free(v);
    // Record 17 (4672): Windows' CR LF TAB TAB TAB separators are kept.
    v = value_of(path, 17, "PrivilegeList");
    cr_expect_eq(strncmp(v, "SeAssignPrimaryTokenPrivilege\r\n\t\t\tSeTcbPrivilege\r\n", 50),
                 0,
                 "%s",
                 v);
    free(v);
    // A DNS name with U+0001 (python-evtx issue 37).
    cpath(corpus, "broken/python-evtx/dns_log_malformed.evtx", path, sizeof path);
    v = value_of(path, 101983, "QNAME");
    cr_expect_str_eq(v, "b._dns-sd._udp.@\xc2\xa6\x35\x01.");
    free(v);
    // HexInt64 rendering (python-evtx issue 38), unpadded as Windows prints it
    cpath(corpus, "broken/python-evtx/issue_38.evtx", path, sizeof path);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    const sk_event *ev;
    cr_assert_eq(sk_reader_open_evtx(&r, path, NULL, NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_reader_next(r, &ev), SK_OK);
    // (libevtx prints it as 0x000000000019d3af; Windows as 0x19d3af.)
    cr_expect_str_eq(sk_event_get(ev, "SubjectLogonId"), "0x19d3af");
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, log_cleared_userdata_keeps_record_channel)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, "baseline/omerbenamram-evtx/system.evtx", path, sizeof path);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, NULL, NULL, &td.dl), SK_OK);
    const sk_event *ev;
    unsigned cleared = 0;
    while (sk_reader_next(r, &ev) == SK_OK) {
        if (ev->event_id != 104)
            continue;
        cleared++;
        cr_expect_str_eq(ev->channel, "System");
        cr_expect_str_eq(sk_event_get(ev, "System.Channel"), "System");
        cr_expect_str_eq(sk_event_get(ev, "Channel"), "Microsoft-Windows-Sysmon/Operational");
        cr_expect_str_eq(sk_event_get(ev, "SubjectUserName"), "tony");
    }
    cr_expect_eq(cleared, 2u);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, recovered_records_on_request)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, "broken/python-evtx/issue_43.evtx", path, sizeof path);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    sk_reader_opts o = { .recovered = true };
    cr_assert_eq(sk_reader_open_evtx(&r, path, "issue_43.evtx", &o, &td.dl), SK_OK);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 1770u);
    cr_expect_eq(t.recovered, 40u);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(s->records_skipped, 0u);
    cr_expect_str_eq(td.text,
                     "issue_43.evtx: note: 31 of 71 recovered records could not be read "
                     "by libevtx\n");
    sk_reader_close(r);
    // Without the option they are not read.
    sk_test_diags_init(&td);
    cr_assert_eq(sk_reader_open_evtx(&r, path, "issue_43.evtx", NULL, &td.dl), SK_OK);
    cr_expect_eq(drain(r, &t), SK_DONE);
    cr_expect_eq(t.events, 1730u);
    cr_expect_eq(t.recovered, 0u);
    cr_expect_str_eq(td.text, "");
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, truncated_file_is_damaged_not_fatal)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char src[4096];
    cpath(corpus, "baseline/omerbenamram-evtx/security.evtx", src, sizeof src);
    size_t n;
    char *img = read_file(src, &n);
    char path[] = "/tmp/saker-evtx-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    // Header plus half of the first chunk.
    write_file(path, img, 4096 + 32768);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, "cut.evtx", NULL, &td.dl), SK_OK, "%s", td.text);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect(s->damaged);
    cr_expect_eq(t.events + s->records_skipped, 0u);
    cr_expect_str_eq(td.text,
                     "cut.evtx: warning: libevtx flags the file as corrupted (a chunk "
                     "failed its checks, or the header does not match the chunks); "
                     "reading the 0 records it found\n");
    sk_reader_close(r);
    unlink(path);
    free(img);
    SK_ASSERT_NO_LEAKS();
}

Test(evtx_reader, memory_image_reads_like_the_file)
{
    const char *corpus = sk_test_corpus();
    SKIP_WITHOUT_CORPUS(corpus);
    char path[4096];
    cpath(corpus, "baseline/omerbenamram-evtx/Security_short_selected.evtx", path, sizeof path);
    size_t n;
    char *img = read_file(path, &n);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *rf = NULL, *rm = NULL;
    cr_assert_eq(sk_reader_open_evtx(&rf, path, "f", NULL, &td.dl), SK_OK);
    cr_assert_eq(sk_reader_open_evtx_memory(&rm, img, n, "m", NULL, &td.dl), SK_OK);
    const sk_event *a, *b;
    unsigned long count = 0;
    for (;;) {
        sk_status sa = sk_reader_next(rf, &a);
        sk_status sb = sk_reader_next(rm, &b);
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
    cr_expect_eq(count, 7u);
    cr_expect_eq(sk_reader_stats_get(rm)->bytes, (uint64_t)n);
    cr_expect_str_eq(td.text, "");
    sk_reader_close(rf);
    sk_reader_close(rm);
    free(img);
    SK_ASSERT_NO_LEAKS();
}

// Files written by tools/evtx_write.c, when tests/fixtures/evtx holds some (they are made by
// another part of the project, so these tests skip while it is absent). The clean ones must read
// with no skip; damaged_* ones are checked below.
Test(evtx_reader, project_fixtures_read_cleanly)
{
    char dir[4096];
    sk_test_src("tests/fixtures/evtx", dir, sizeof dir);
    DIR *d = opendir(dir);
    if (!d)
        cr_skip_test("tests/fixtures/evtx does not exist yet");
    struct dirent *de;
    unsigned files = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".evtx") != 0 ||
            strncmp(de->d_name, "damaged", 7) == 0)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        sk_test_diags td;
        sk_test_diags_init(&td);
        sk_reader *r = NULL;
        cr_assert_eq(sk_reader_open_evtx(&r, path, de->d_name, NULL, &td.dl), SK_OK, "%s", td.text);
        tally t;
        cr_expect_eq(drain(r, &t), SK_DONE);
        cr_expect_gt(t.events, 0u, "%s", path);
        cr_expect_eq(sk_reader_stats_get(r)->records_skipped, 0u, "%s: %s", path, td.text);
        cr_expect_str_eq(td.text, "", "%s", path);
        sk_reader_close(r);
        files++;
    }
    closedir(d);
    if (files == 0)
        cr_skip_test("no evtx fixtures in tests/fixtures/evtx yet");
    SK_ASSERT_NO_LEAKS();
}

static const char *fixture(const char *name, char *buf, size_t n)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/evtx/%s", name);
    sk_test_src(rel, buf, n);
    if (access(buf, R_OK) != 0)
        return NULL;
    return buf;
}

Test(evtx_reader, fixture_control_characters)
{
    char path[4096];
    if (!fixture("control_chars.evtx", path, sizeof path))
        cr_skip_test("tests/fixtures/evtx/control_chars.evtx does not exist yet");
    char *v = value_of(path, 1, "CommandLine");
    cr_expect_str_eq(v,
                     "cmd.exe /c echo \x01start\x1b[31mred\x1b[0m\r\nsecond line\ttab & <tag> "
                     "\"quoted\" 'single'");
    free(v);
    v = value_of(path, 3, "RuleName");
    cr_expect_str_eq(v,
                     "\x07"
                     "bell");
    free(v);
    v = value_of(path, 3, "TargetFilename");
    cr_expect_str_eq(v,
                     "C:\\Users\\jos\xc3\xa9\\Desktop\\\xe3\x83\xac\xe3\x83\x9d\xe3\x83\xbc"
                     "\xe3\x83\x88\r.txt");
    free(v);
    // Record 2's emoji (U+1F600) is not checked: libevtx 20181227 decodes characters outside
    // the BMP wrongly (it yields U+1F201); the native decoder will not.
    v = value_of(path, 2, "Description");
    cr_expect_str_eq(v, "r\xc3\xa9sum\xc3\xa9");
    free(v);
    SK_ASSERT_NO_LEAKS();
}

typedef struct fixture_case {
    char name[64];
    unsigned long events;
    bool damaged;
} fixture_case;

ParameterizedTestParameters(evtx_reader, damaged_fixtures)
{
    // What libevtx makes of them (tests/fixtures/evtx/README.md): it loses the cut chunk of
    // the truncated file, and records 2 and 3 behind the lying size field without a word.
    static fixture_case cases[] = {
        { "damaged_base.evtx", 6, false },        { "damaged_truncated.evtx", 3, true },
        { "damaged_chunk_crc.evtx", 6, true },    { "damaged_record_size.evtx", 4, true },
        { "damaged_dirty_header.evtx", 6, true },
    };
    return cr_make_param_array(fixture_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(fixture_case *c, evtx_reader, damaged_fixtures)
{
    char path[4096];
    if (!fixture(c->name, path, sizeof path))
        cr_skip_test("tests/fixtures/evtx/%s does not exist yet", c->name);
    sk_test_diags td;
    sk_test_diags_init(&td);
    sk_reader *r = NULL;
    cr_assert_eq(sk_reader_open_evtx(&r, path, c->name, NULL, &td.dl), SK_OK, "%s", td.text);
    tally t;
    cr_expect_eq(drain(r, &t), SK_DONE);
    const sk_reader_stats *s = sk_reader_stats_get(r);
    cr_expect_eq(t.events, c->events, "%s", c->name);
    cr_expect_eq(s->records_skipped, 0u, "%s", c->name);
    cr_expect_eq(s->damaged, c->damaged, "%s", c->name);
    cr_expect_eq(td.dl.warnings, c->damaged ? 1u : 0u, "%s", td.text);
    sk_reader_close(r);
    SK_ASSERT_NO_LEAKS();
}
