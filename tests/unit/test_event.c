// Unit tests for src/event and the event JSON of src/output.
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/limits.h"
#include "event/event.h"
#include "helpers.h"
#include "output/json.h"

#define ADD(ev, n, v, fl) cr_assert_eq(sk_event_add(ev, n, strlen(n), v, strlen(v), fl), SK_OK)

Test(event, system_name_collision_moves_the_system_value)
{
    sk_event ev;
    sk_event_init(&ev);
    ADD(&ev, "EventID", "4", SK_FIELD_SYSTEM);
    ADD(&ev, "Version", "3", SK_FIELD_SYSTEM);
    cr_assert_eq(sk_event_add_data(&ev, "Version", 7, "15.14", 5), SK_OK);
    sk_event_finish(&ev);
    cr_assert_str_eq(sk_event_get(&ev, "Version"), "15.14");
    cr_assert_str_eq(sk_event_get(&ev, "System.Version"), "3");
    cr_assert(ev.has_event_id);
    cr_assert_eq(ev.event_id, 4);
    sk_event_fini(&ev);
}

Test(event, finish_decodes_system_values)
{
    sk_event ev;
    sk_event_init(&ev);
    ADD(&ev, "EventID", "4688", SK_FIELD_SYSTEM);
    ADD(&ev, "EventRecordID", "18446744073709551615", SK_FIELD_SYSTEM);
    ADD(&ev, "TimeCreated", "2024-05-01T10:22:03.1234567Z", SK_FIELD_SYSTEM);
    ADD(&ev, "Channel", "Security", SK_FIELD_SYSTEM);
    ADD(&ev, "Computer", "WS01", SK_FIELD_SYSTEM);
    ADD(&ev, "Provider_Name", "Microsoft-Windows-Security-Auditing", SK_FIELD_SYSTEM);
    sk_event_finish(&ev);
    cr_assert_eq(ev.event_id, 4688);
    cr_assert_eq(ev.record_id, UINT64_MAX);
    cr_assert(ev.has_time);
    cr_assert_str_eq(ev.channel, "Security");
    cr_assert_str_eq(ev.computer, "WS01");
    cr_assert_str_eq(ev.provider, "Microsoft-Windows-Security-Auditing");
    sk_event_reset(&ev);
    ADD(&ev, "EventID", "notanumber", SK_FIELD_SYSTEM);
    ADD(&ev, "EventRecordID", "99999999999999999999", SK_FIELD_SYSTEM); // overflows
    sk_event_finish(&ev);
    cr_assert_not(ev.has_event_id);
    cr_assert_not(ev.has_record_id);
    cr_assert_null(ev.channel);
    sk_event_fini(&ev);
}

// Each system value comes from "System.X" when the event has it (wherever it is), else from the
// first "X"; names that only look alike are not read.
Test(event, finish_prefers_system_dot_names_and_first_occurrences)
{
    sk_event ev;
    sk_event_init(&ev);
    ADD(&ev, "Channel", "data channel", 0);
    ADD(&ev, "EventID", "7", 0);
    ADD(&ev, "EventID", "8", 0);
    ADD(&ev, "Computer", "first", 0);
    ADD(&ev, "Computer", "second", 0);
    ADD(&ev, "eventid", "9", 0);
    ADD(&ev, "EventIDs", "10", 0);
    ADD(&ev, "System.Provider", "not Provider_Name", 0);
    ADD(&ev, "Provider_Names", "no", 0);
    ADD(&ev, "System.System.Channel", "no", 0);
    ADD(&ev, "System.Channel", "system channel", 0);
    ADD(&ev, "System.Channel", "later", 0);
    ADD(&ev, "System.TimeCreated", "not a time", 0);
    ADD(&ev, "TimeCreated", "2024-05-01T10:22:03Z", 0);
    sk_event_finish(&ev);
    cr_assert_str_eq(ev.channel, "system channel");
    cr_assert(ev.has_event_id);
    cr_assert_eq(ev.event_id, 7);
    cr_assert_str_eq(ev.computer, "first");
    cr_assert_null(ev.provider);
    cr_assert(!ev.has_record_id);
    cr_assert(!ev.has_time); // System.TimeCreated wins, and does not parse
    sk_event_fini(&ev);
}

Test(event, field_limit_is_enforced)
{
    sk_event ev;
    sk_event_init(&ev);
    for (unsigned i = 0; i < SK_MAX_FIELDS; i++)
        cr_assert_eq(sk_event_add(&ev, "Data", 4, "x", 1, 0), SK_OK);
    cr_assert_eq(sk_event_add(&ev, "Data", 4, "x", 1, 0), SK_ERR_LIMIT);
    cr_assert_eq(sk_event_nfields(&ev), SK_MAX_FIELDS);
    sk_event_fini(&ev);
}

Test(event, json_groups_repeated_names_hides_hidden_fields_and_escapes)
{
    sk_event ev;
    sk_event_init(&ev);
    ADD(&ev, "EventID", "1", SK_FIELD_SYSTEM);
    ADD(&ev, "TimeCreated", "2024-05-01T10:22:03.1234567Z", SK_FIELD_SYSTEM);
    ADD(&ev, "Data", "first", 0);
    ADD(&ev, "CommandLine", "a \"b\" \\ \x1b[31m\n\t\x01", 0);
    ADD(&ev, "winlog.event_data.CommandLine", "hidden", SK_FIELD_HIDDEN);
    ADD(&ev, "Data", "second", 0);
    cr_assert_eq(sk_event_add(&ev, "Bad", 3, "\xff\xfe ok \xe2\x80\xa8", 9, 0), SK_OK);
    sk_event_finish(&ev);
    ev.file = "x.evtx";
    ev.format = SK_FORMAT_EVTX;
    sk_buf b;
    sk_buf_init(&b, 1 << 16);
    cr_assert_eq(sk_json_event(&b, &ev), SK_OK);
    cr_assert_str_eq(
            sk_buf_str(&b),
            "{\"timestamp\":\"2024-05-01T10:22:03.1234567Z\",\"computer\":null,\"channel\":null,"
            "\"event_id\":1,\"source\":{\"file\":\"x.evtx\",\"format\":\"evtx\",\"record_id\":null,"
            "\"recovered\":false},\"fields\":{\"EventID\":\"1\",\"TimeCreated\":\"2024-05-01T10:"
            "22:03.1234567Z\",\"Data\":[\"first\",\"second\"],\"CommandLine\":\"a \\\"b\\\" \\\\ "
            "\\u001b[31m\\n\\t\\u0001\",\"Bad\":\"\xEF\xBF\xBD\xEF\xBF\xBD ok \\u2028\"}}");
    sk_buf_fini(&b);
    sk_event_fini(&ev);
}

Test(event, json_groups_repeated_names_in_a_large_event)
{
    // 3000 fields: names F0..F999 three times each, interleaved, plus hidden copies between
    // them. Each name is printed once, at its first place, with its three values in order (the
    // grouping goes through a hash table past 64 fields, not a comparison of every pair).
    sk_event ev;
    sk_event_init(&ev);
    char name[16], value[16];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 1000; i++) {
            snprintf(name, sizeof name, "F%d", i);
            snprintf(value, sizeof value, "%d.%d", i, round);
            ADD(&ev, name, value, 0);
            if (i % 100 == 0)
                ADD(&ev, name, "hidden", SK_FIELD_HIDDEN);
        }
    sk_event_finish(&ev);
    sk_buf b, want;
    sk_buf_init(&b, 1 << 20);
    sk_buf_init(&want, 1 << 20);
    cr_assert_eq(sk_json_event_fields(&b, &ev), SK_OK);
    sk_buf_puts(&want, "\"fields\":{");
    for (int i = 0; i < 1000; i++)
        sk_buf_printf(&want, "%s\"F%d\":[\"%d.0\",\"%d.1\",\"%d.2\"]", i ? "," : "", i, i, i, i);
    sk_buf_putc(&want, '}');
    cr_assert_str_eq(sk_buf_str(&b), sk_buf_str(&want));
    sk_buf_fini(&b);
    sk_buf_fini(&want);
    sk_event_fini(&ev);
}

// sk_json_str skips plain ASCII a block at a time: each kind of byte that needs attention, at
// every offset around the block boundaries, is written as it is alone.
Test(event, json_strings_escape_at_every_offset)
{
    static const struct {
        const char *in, *out;
    } kinds[] = {
        { "\"", "\\\"" },
        { "\\", "\\\\" },
        { "\n", "\\n" },
        { "\t", "\\t" },
        { "\x01", "\\u0001" },
        { "\x1f", "\\u001f" },
        { "\xc3\xa9", "\xc3\xa9" },         // é passes as it is
        { "\xe2\x80\xa8", "\\u2028" },      // line separator: escaped for JavaScript
        { "\xff", "\xef\xbf\xbd" },         // invalid UTF-8: U+FFFD
        { "\xef\xbf\xbd", "\xef\xbf\xbd" }, // a real U+FFFD
        { "\x7f", "\x7f" },
    };
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (size_t off = 0; off < 40; off++) {
            for (size_t tail = 0; tail < 20; tail += 3) {
                char in[128], want[160];
                size_t il = strlen(kinds[k].in), ol = strlen(kinds[k].out);
                memset(in, 'a', off);
                memcpy(in + off, kinds[k].in, il);
                memset(in + off + il, 'z', tail);
                size_t n = off + il + tail;
                want[0] = '"';
                memset(want + 1, 'a', off);
                memcpy(want + 1 + off, kinds[k].out, ol);
                memset(want + 1 + off + ol, 'z', tail);
                want[1 + off + ol + tail] = '"';
                want[2 + off + ol + tail] = '\0';
                sk_buf_reset(&b);
                cr_assert_eq(sk_json_str(&b, in, n), SK_OK);
                cr_assert_str_eq(sk_buf_str(&b), want, "kind %zu at %zu, tail %zu", k, off, tail);
            }
        }
    }
    sk_buf_fini(&b);
}
