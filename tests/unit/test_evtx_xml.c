// Record XML (as libevtx renders it) -> sk_event: field mapping, libevtx's XML quirks, limits.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "core/limits.h"
#include "event/event.h"
#include "helpers.h"
#include "input/evtx_xml.h"

typedef struct want {
    const char *name;
    const char *value;
    bool sys;
} want;

static sk_evtx_xml *X;
static sk_event EV;
static sk_buf ERR;

static void begin(void)
{
    X = sk_evtx_xml_new();
    sk_event_init(&EV);
    sk_buf_init(&ERR, 4096);
}

static void end(void)
{
    sk_evtx_xml_free(X);
    sk_event_fini(&EV);
    sk_buf_fini(&ERR);
    X = NULL;
    SK_ASSERT_NO_LEAKS();
}

static sk_status parse(const char *xml)
{
    sk_buf_reset(&ERR);
    return sk_evtx_xml_parse(X, xml, strlen(xml), &EV, &ERR);
}

static void parse_ok(const char *xml)
{
    sk_status st = parse(xml);
    cr_assert_eq(st, SK_OK, "parse failed (%d): %s", st, sk_buf_str(&ERR));
}

// Every field, in order, with its value and system flag.
static void expect_fields(const want *w, size_t n)
{
    size_t have = sk_event_nfields(&EV);
    for (size_t i = 0; i < n && i < have; i++) {
        const sk_field *f = sk_event_field(&EV, i);
        cr_expect_str_eq(f->name, w[i].name, "field %zu name", i);
        cr_expect_str_eq(f->value, w[i].value, "field %zu (%s) value", i, w[i].name);
        cr_expect_eq(f->value_len, strlen(w[i].value), "field %zu (%s) length", i, w[i].name);
        cr_expect_eq(!!(f->flags & SK_FIELD_SYSTEM), w[i].sys, "field %zu (%s) flag", i, w[i].name);
    }
    cr_assert_eq(have, n, "%zu fields, expected %zu", have, n);
}

#define NWANT(a) (sizeof(a) / sizeof((a)[0]))

// A Sysmon EID 1 record exactly as libevtx renders it
// (evtx-attack/sbousseaden/Execution/exec_sysmon_1_ftp.evtx, record 16511).
static const char sysmon1[] =
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
        "  <System>\n"
        "    <Provider Name=\"Microsoft-Windows-Sysmon\" "
        "Guid=\"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}\"/>\n"
        "    <EventID>1</EventID>\n"
        "    <Version>5</Version>\n"
        "    <Level>4</Level>\n"
        "    <Task>1</Task>\n"
        "    <Opcode>0</Opcode>\n"
        "    <Keywords>0x8000000000000000</Keywords>\n"
        "    <TimeCreated SystemTime=\"2019-05-12T17:20:01.980574000Z\"/>\n"
        "    <EventRecordID>16511</EventRecordID>\n"
        "    <Correlation/>\n"
        "    <Execution ProcessID=\"2012\" ThreadID=\"300\"/>\n"
        "    <Channel>Microsoft-Windows-Sysmon/Operational</Channel>\n"
        "    <Computer>IEWIN7</Computer>\n"
        "    <Security UserID=\"S-1-5-18\"/>\n"
        "  </System>\n"
        "  <EventData>\n"
        "    <Data Name=\"RuleName\"/>\n"
        "    <Data Name=\"UtcTime\">2019-05-12 17:20:01.964</Data>\n"
        "    <Data Name=\"ProcessGuid\">{365ABB72-55C1-5CD8-0000-0010970D2F00}</Data>\n"
        "    <Data Name=\"ProcessId\">4092</Data>\n"
        "    <Data Name=\"Image\">C:\\Windows\\System32\\cmd.exe</Data>\n"
        "    <Data Name=\"FileVersion\">6.1.7601.17514 (win7sp1_rtm.101119-1850)</Data>\n"
        "    <Data Name=\"Description\">Windows Command Processor</Data>\n"
        "    <Data Name=\"Product\">Microsoft\xc2\xae Windows\xc2\xae Operating System</Data>\n"
        "    <Data Name=\"Company\">Microsoft Corporation</Data>\n"
        "    <Data Name=\"CommandLine\">\"C:\\Windows\\system32\\cmd.exe\" </Data>\n"
        "    <Data Name=\"CurrentDirectory\">C:\\Users\\IEUser\\</Data>\n"
        "    <Data Name=\"User\">IEWIN7\\IEUser</Data>\n"
        "    <Data Name=\"LogonGuid\">{365ABB72-4FB5-5CD8-0000-0020F2350100}</Data>\n"
        "    <Data Name=\"LogonId\">0x00000000000135f2</Data>\n"
        "    <Data Name=\"TerminalSessionId\">1</Data>\n"
        "    <Data Name=\"IntegrityLevel\">Medium</Data>\n"
        "    <Data Name=\"Hashes\">SHA1=EE8CBF12D87C4D388F09B4F69BED2E91682920B5,MD5="
        "AD7B9C14083B52BC532FBA5948342B98,SHA256="
        "17F746D82695FA9B35493B41859D39D786D32B23A9D2E00F4011DEC7A02402AE,IMPHASH="
        "CEEFB55F764020CC5C5F8F23349AB163</Data>\n"
        "    <Data Name=\"ParentProcessGuid\">{365ABB72-502E-5CD8-0000-00102A330700}</Data>\n"
        "    <Data Name=\"ParentProcessId\">3192</Data>\n"
        "    <Data Name=\"ParentImage\">C:\\Windows\\explorer.exe</Data>\n"
        "    <Data Name=\"ParentCommandLine\">C:\\Windows\\Explorer.EXE</Data>\n"
        "  </EventData>\n"
        "</Event>\n";

Test(evtx_xml, sysmon_eid1_every_field)
{
    begin();
    parse_ok(sysmon1);
    static const want w[] = {
        { "Provider_Name", "Microsoft-Windows-Sysmon", true },
        { "Provider_Guid", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true },
        { "EventID", "1", true },
        { "Version", "5", true },
        { "Level", "4", true },
        { "Task", "1", true },
        { "Opcode", "0", true },
        { "Keywords", "0x8000000000000000", true },
        { "TimeCreated", "2019-05-12T17:20:01.9805740Z", true },
        { "EventRecordID", "16511", true },
        { "ProcessID", "2012", true },
        { "ThreadID", "300", true },
        { "Channel", "Microsoft-Windows-Sysmon/Operational", true },
        { "Computer", "IEWIN7", true },
        { "UserID", "S-1-5-18", true },
        { "RuleName", "", false },
        { "UtcTime", "2019-05-12 17:20:01.964", false },
        { "ProcessGuid", "{365ABB72-55C1-5CD8-0000-0010970D2F00}", false },
        { "ProcessId", "4092", false },
        { "Image", "C:\\Windows\\System32\\cmd.exe", false },
        { "FileVersion", "6.1.7601.17514 (win7sp1_rtm.101119-1850)", false },
        { "Description", "Windows Command Processor", false },
        { "Product", "Microsoft\xc2\xae Windows\xc2\xae Operating System", false },
        { "Company", "Microsoft Corporation", false },
        { "CommandLine", "\"C:\\Windows\\system32\\cmd.exe\" ", false },
        { "CurrentDirectory", "C:\\Users\\IEUser\\", false },
        { "User", "IEWIN7\\IEUser", false },
        { "LogonGuid", "{365ABB72-4FB5-5CD8-0000-0020F2350100}", false },
        { "LogonId", "0x135f2", false },
        { "TerminalSessionId", "1", false },
        { "IntegrityLevel", "Medium", false },
        { "Hashes",
          "SHA1=EE8CBF12D87C4D388F09B4F69BED2E91682920B5,MD5=AD7B9C14083B52BC532FBA5948342B98,"
          "SHA256=17F746D82695FA9B35493B41859D39D786D32B23A9D2E00F4011DEC7A02402AE,IMPHASH="
          "CEEFB55F764020CC5C5F8F23349AB163",
          false },
        { "ParentProcessGuid", "{365ABB72-502E-5CD8-0000-00102A330700}", false },
        { "ParentProcessId", "3192", false },
        { "ParentImage", "C:\\Windows\\explorer.exe", false },
        { "ParentCommandLine", "C:\\Windows\\Explorer.EXE", false },
    };
    expect_fields(w, NWANT(w));
    // Pre-decoded values (sk_event_finish ran).
    cr_expect(EV.has_event_id);
    cr_expect_eq(EV.event_id, 1u);
    cr_expect(EV.has_record_id);
    cr_expect_eq(EV.record_id, 16511u);
    cr_expect(EV.has_time);
    cr_expect_eq(EV.time, 132021552019805740ull);
    cr_expect_str_eq(EV.channel, "Microsoft-Windows-Sysmon/Operational");
    cr_expect_str_eq(EV.computer, "IEWIN7");
    cr_expect_str_eq(EV.provider, "Microsoft-Windows-Sysmon");
    end();
}

Test(evtx_xml, optional_system_fields)
{
    begin();
    parse_ok("<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
             "  <System>\n"
             "    <Provider Name=\"Service Control Manager\" "
             "Guid=\"{555908d1-a6d7-4695-8e1e-26931d2012f4}\" "
             "EventSourceName=\"Service Control Manager\"/>\n"
             "    <EventID Qualifiers=\"16384\">7036</EventID>\n"
             "    <Version>0</Version>\n"
             "    <Level>4</Level>\n"
             "    <Task>0</Task>\n"
             "    <Opcode>0</Opcode>\n"
             "    <Keywords>0x8080000000000000</Keywords>\n"
             "    <TimeCreated SystemTime=\"2017-05-29T17:33:01.187500000Z\"/>\n"
             "    <EventRecordID>1</EventRecordID>\n"
             "    <Correlation ActivityID=\"{8B8726D7-FB32-0002-7C27-878B32FBD201}\" "
             "RelatedActivityID=\"{00000000-0000-0000-0000-000000000001}\"/>\n"
             "    <Execution ProcessID=\"592\" ThreadID=\"2284\" ProcessorID=\"1\"/>\n"
             "    <Channel>System</Channel>\n"
             "    <Computer>WIN-1</Computer>\n"
             "    <Security/>\n"
             "  </System>\n"
             "  <EventData>\n"
             "    <Data Name=\"param1\">Windows Update</Data>\n"
             "    <Binary>570075006100750073006500720076002F0034000000</Binary>\n"
             "  </EventData>\n"
             "  <RenderingInfo Culture=\"en-US\"><Message>ignored</Message></RenderingInfo>\n"
             "</Event>\n");
    static const want w[] = {
        { "Provider_Name", "Service Control Manager", true },
        { "Provider_Guid", "{555908d1-a6d7-4695-8e1e-26931d2012f4}", true },
        { "EventSourceName", "Service Control Manager", true },
        { "EventID", "7036", true },
        { "Qualifiers", "16384", true },
        { "Version", "0", true },
        { "Level", "4", true },
        { "Task", "0", true },
        { "Opcode", "0", true },
        { "Keywords", "0x8080000000000000", true },
        { "TimeCreated", "2017-05-29T17:33:01.1875000Z", true },
        { "EventRecordID", "1", true },
        { "ActivityID", "{8B8726D7-FB32-0002-7C27-878B32FBD201}", true },
        { "RelatedActivityID", "{00000000-0000-0000-0000-000000000001}", true },
        { "ProcessID", "592", true },
        { "ThreadID", "2284", true },
        { "Channel", "System", true },
        { "Computer", "WIN-1", true },
        { "param1", "Windows Update", false },
        { "Binary", "570075006100750073006500720076002F0034000000", false },
    };
    expect_fields(w, NWANT(w));
    cr_expect_eq(EV.event_id, 7036u);
    end();
}

Test(evtx_xml, time_created_has_seven_digits_or_stays_raw)
{
    begin();
    parse_ok("<Event><System><TimeCreated SystemTime=\"2020-10-05T20:43:58.351744800Z\"/>"
             "</System></Event>");
    static const want w1[] = { { "TimeCreated", "2020-10-05T20:43:58.3517448Z", true } };
    expect_fields(w1, NWANT(w1));
    cr_expect(EV.has_time);
    // A value that is no time is kept as it is (and not pre-decoded).
    parse_ok("<Event><System><TimeCreated SystemTime=\"not a time\"/></System></Event>");
    static const want w2[] = { { "TimeCreated", "not a time", true } };
    expect_fields(w2, NWANT(w2));
    cr_expect_not(EV.has_time);
    end();
}

Test(evtx_xml, hex_numbers_lose_libevtx_padding)
{
    begin();
    parse_ok("<Event><System><Keywords>0x0080000000000000</Keywords>"
             "<Execution ProcessID=\"0x00000004\"/></System><EventData>"
             "<Data Name=\"GrantedAccess\">0x00001410</Data>"
             "<Data Name=\"LogonId\">0x00000000000003e7</Data>"
             "<Data Name=\"Zero32\">0x00000000</Data>"
             "<Data Name=\"Zero64\">0x0000000000000000</Data>"
             "<Data Name=\"Full\">0x8000000000000000</Data>"
             "<Data Name=\"Short\">0x001fff</Data>"
             "<Data Name=\"Upper\">0x0000001A</Data>"
             "<Data Name=\"NineDigits\">0x000001410</Data>"
             "<Data Name=\"Details\">DWORD (0x00000001)</Data>"
             "<Data Name=\"Xml\"><v>0x00000001</v></Data>"
             "</EventData><UserData><X><Status>0x00000005</Status></X></UserData></Event>");
    static const want w[] = {
        { "Keywords", "0x80000000000000", true },
        { "ProcessID", "0x00000004", true },
        { "GrantedAccess", "0x1410", false },
        { "LogonId", "0x3e7", false },
        { "Zero32", "0x0", false },
        { "Zero64", "0x0", false },
        { "Full", "0x8000000000000000", false },
        { "Short", "0x001fff", false },
        { "Upper", "0x0000001A", false },
        { "NineDigits", "0x000001410", false },
        { "Details", "DWORD (0x00000001)", false },
        { "Xml", "<v>0x00000001</v>", false },
        { "Status", "0x5", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, sysmon_eid4_version_collision)
{
    begin();
    parse_ok("<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
             "  <System>\n"
             "    <Provider Name=\"Microsoft-Windows-Sysmon\" "
             "Guid=\"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}\"/>\n"
             "    <EventID>4</EventID>\n"
             "    <Version>3</Version>\n"
             "    <Channel>Microsoft-Windows-Sysmon/Operational</Channel>\n"
             "  </System>\n"
             "  <EventData>\n"
             "    <Data Name=\"UtcTime\">2019-03-18 16:57:21.880</Data>\n"
             "    <Data Name=\"State\">Started</Data>\n"
             "    <Data Name=\"Version\">10.1</Data>\n"
             "    <Data Name=\"SchemaVersion\">4.21</Data>\n"
             "  </EventData>\n"
             "</Event>\n");
    static const want w[] = {
        { "Provider_Name", "Microsoft-Windows-Sysmon", true },
        { "Provider_Guid", "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", true },
        { "EventID", "4", true },
        { "System.Version", "3", true },
        { "Channel", "Microsoft-Windows-Sysmon/Operational", true },
        { "UtcTime", "2019-03-18 16:57:21.880", false },
        { "State", "Started", false },
        { "Version", "10.1", false },
        { "SchemaVersion", "4.21", false },
    };
    expect_fields(w, NWANT(w));
    cr_expect_str_eq(sk_event_get(&EV, "Version"), "10.1");
    cr_expect_str_eq(sk_event_get(&EV, "System.Version"), "3");
    end();
}

Test(evtx_xml, unnamed_data_kept_in_order)
{
    begin();
    parse_ok("<Event><System><EventID>6009</EventID></System>\n"
             "  <EventData>\n"
             "    <Data>10.00.</Data>\n"
             "    <Data>15063</Data>\n"
             "    <Data/>\n"
             "    <Data></Data>\n"
             "    <Data Name=\"\">unnamed too</Data>\n"
             "    <Data>Multiprocessor Free</Data>\n"
             "  </EventData>\n"
             "</Event>");
    static const want w[] = {
        { "EventID", "6009", true },
        { "Data", "10.00.", false },
        { "Data", "15063", false },
        { "Data", "", false },
        { "Data", "", false },
        { "Data", "unnamed too", false },
        { "Data", "Multiprocessor Free", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

// UserData: every leaf by its local name; every attribute (namespace declarations aside) as
// <element>_<attribute>, before the element's text; an element with attributes and no text gives
// only its attributes (CAPI2's <EventAuxInfo ProcessName="..."/> used to read as empty).
Test(evtx_xml, userdata_flattened_to_leaves)
{
    begin();
    parse_ok("<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\n"
             "  <System>\n"
             "    <EventID>104</EventID>\n"
             "    <Channel>System</Channel>\n"
             "  </System>\n"
             "  <UserData>\n"
             "    <LogFileCleared xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/"
             "eventlog\">\n"
             "      <SubjectUserName>tony</SubjectUserName>\n"
             "      <Channel>Microsoft-Windows-Sysmon/Operational</Channel>\n"
             "      <BackupPath/>\n"
             "      <ns:Item xmlns:ns=\"urn:x\" ns:Attr=\"kept\">one</ns:Item>\n"
             "      <Group>\n"
             "        <Item>two</Item>\n"
             "        <Deeper><Item> three </Item></Deeper>\n"
             "      </Group>\n"
             "      <EventAuxInfo ProcessName=\"Setup.exe\"/>\n"
             "    </LogFileCleared>\n"
             "  </UserData>\n"
             "</Event>\n");
    static const want w[] = {
        { "EventID", "104", true },
        { "System.Channel", "System", true },
        { "SubjectUserName", "tony", false },
        { "Channel", "Microsoft-Windows-Sysmon/Operational", false },
        { "BackupPath", "", false },
        { "Item_Attr", "kept", false },
        { "Item", "one", false },
        { "Item", "two", false },
        { "Item", " three ", false },
        { "EventAuxInfo_ProcessName", "Setup.exe", false },
    };
    expect_fields(w, NWANT(w));
    // The record's channel is the System one (MANIFEST trap: EID 104 names the cleared log).
    cr_expect_str_eq(EV.channel, "System");
    end();
}

Test(evtx_xml, empty_userdata_leaf_wrapper)
{
    begin();
    parse_ok("<Event><System><EventID>1</EventID></System><UserData><Marker/></UserData></Event>");
    static const want w[] = { { "EventID", "1", true }, { "Marker", "", false } };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, control_characters_are_kept)
{
    begin();
    // libevtx does not escape control characters; expat alone would reject this record.
    parse_ok("<Event><System><Computer>PC\x01</Computer></System>"
             "<EventData>"
             "<Data Name=\"MinPasswordAge\">\x03</Data>"
             "<Data Name=\"QNAME\">b._dns-sd._udp.@\xc2\xa6\x35\x01.</Data>"
             "<Data Name=\"Esc\">\x1b[31mred\x1b[0m\x7f</Data>"
             "<Data Name=\"All\">\x02\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14"
             "\x15\x16\x17\x18\x19\x1a\x1c\x1d\x1e\x1f</Data>"
             "</EventData>"
             "<UserData><X><Leaf>\x01\x02</Leaf></X></UserData></Event>");
    static const want w[] = {
        { "Computer", "PC\x01", true },
        { "MinPasswordAge", "\x03", false },
        { "QNAME", "b._dns-sd._udp.@\xc2\xa6\x35\x01.", false },
        { "Esc", "\x1b[31mred\x1b[0m\x7f", false },
        { "All",
          "\x02\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
          "\x1c\x1d\x1e\x1f",
          false },
        { "Leaf", "\x01\x02", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, cr_lf_and_tab_are_kept)
{
    begin();
    // Security 4672 PrivilegeList as Windows writes it; a lone CR; CR/LF/TAB in attributes
    // (expat would normalise those to spaces).
    parse_ok("<Event>\r\n<System>\r\n<Provider Name=\"a\tb\r\nc\rd\ne\"/>\r\n</System>\r\n"
             "<EventData>\r\n"
             "<Data Name=\"PrivilegeList\">SeAssignPrimaryTokenPrivilege\r\n\t\t\tSeTcbPrivilege"
             "</Data>\r\n"
             "<Data Name=\"Lone\">a\rb\n\nc\r\r\n</Data>\r\n"
             "<Data Name=\"Edge\">\r\n</Data>\r\n"
             "</EventData>\r\n</Event>\r\n");
    static const want w[] = {
        { "Provider_Name", "a\tb\r\nc\rd\ne", true },
        { "PrivilegeList", "SeAssignPrimaryTokenPrivilege\r\n\t\t\tSeTcbPrivilege", false },
        { "Lone", "a\rb\n\nc\r\r\n", false },
        { "Edge", "\r\n", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, private_use_characters_round_trip)
{
    begin();
    // U+E000..U+E020 are the markers' own range: genuine ones must come out unchanged, also next
    // to control characters.
    parse_ok("<Event><EventData>"
             "<Data Name=\"P\">\xee\x80\x80|\xee\x80\x81\x01|\xee\x80\x9f|\xee\x80\xa0\xee\x80\x8d"
             "|\r\xee\x80\xa1|\xef\x80\x80</Data>"
             "<Data Name=\"\xee\x80\x8d\">v</Data>"
             "</EventData></Event>");
    static const want w[] = {
        { "P",
          "\xee\x80\x80|\xee\x80\x81\x01|\xee\x80\x9f|\xee\x80\xa0\xee\x80\x8d|\r\xee\x80\xa1|"
          "\xef\x80\x80",
          false },
        { "\xee\x80\x8d", "v", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, non_ascii_text)
{
    begin();
    parse_ok("<Event><System><Computer>\xd0\x9f\xd0\xba-\xe6\x97\xa5\xe6\x9c\xac</Computer>"
             "<Security UserID=\"S-1-5-21-\xc3\xa9\"/></System>"
             "<EventData><Data Name=\"\xc3\x9cser\">\xf0\x9f\x98\x80 caf\xc3\xa9 "
             "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d</Data></EventData>"
             "<UserData><\xc3\x9c><\xe5\x90\x8d>\xe5\x80\xa4</\xe5\x90\x8d></\xc3\x9c></UserData>"
             "</Event>");
    static const want w[] = {
        { "Computer", "\xd0\x9f\xd0\xba-\xe6\x97\xa5\xe6\x9c\xac", true },
        { "UserID", "S-1-5-21-\xc3\xa9", true },
        { "\xc3\x9cser", "\xf0\x9f\x98\x80 caf\xc3\xa9 \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", false },
        { "\xe5\x90\x8d", "\xe5\x80\xa4", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, invalid_utf8_and_nul_become_replacement_characters)
{
    begin();
    static const char xml[] = "<Event><EventData><Data Name=\"V\">a\xff"
                              "b\xc3(\0z\xef\xbf\xbe</Data></EventData></Event>";
    sk_buf_reset(&ERR);
    cr_assert_eq(
            sk_evtx_xml_parse(X, xml, sizeof xml - 1, &EV, &ERR), SK_OK, "%s", sk_buf_str(&ERR));
    static const want w[] = {
        { "V",
          "a\xef\xbf\xbd"
          "b\xef\xbf\xbd(\xef\xbf\xbdz\xef\xbf\xbd",
          false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, entities_and_character_references)
{
    begin();
    parse_ok("<Event><EventData>"
             "<Data Name=\"Escaped\">&lt;script&gt; &amp;amp; &quot;q&quot; &apos;</Data>"
             "<Data Name=\"Stray\">a & b &foo; &#; &#xZZ; &#123456789;</Data>"
             "<Data Name=\"Refs\">&#65;&#x42;&#1;&#xD;&#10;&#9;&#xE001;&#0;&#xD800;</Data>"
             "<Data Name=\"In&amp;Name &bar;\">x</Data>"
             "<Data Name=\"CDATA\"><![CDATA[a<b & c\x01\r\n]]></Data>"
             "<Data Name=\"Comment\">a<!-- gone\x01 -->b<?pi ignored?>c</Data>"
             "<Data Name=\"Lt\">1 < 2 <= 3 <<4 <</Data>"
             "</EventData></Event>");
    static const want w[] = {
        { "Escaped", "<script> &amp; \"q\" '", false },
        { "Stray", "a & b &foo; &#; &#xZZ; &#123456789;", false },
        { "Refs", "AB\x01\r\n\t\xee\x80\x81\xef\xbf\xbd\xef\xbf\xbd", false },
        { "In&Name &bar;", "x", false },
        { "CDATA", "a<b & c\x01\r\n", false },
        { "Comment", "abc", false },
        { "Lt", "1 < 2 <= 3 <<4 <", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, stray_quotes_and_lt_in_attributes)
{
    begin();
    parse_ok("<Event><System><Provider Name=\"say \"hi\"\" Guid='it's'/></System>"
             "<EventData><Data Name=\"a<b\">v</Data></EventData></Event>");
    static const want w[] = {
        { "Provider_Name", "say \"hi\"", true },
        { "Provider_Guid", "it's", true },
        { "a<b", "v", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

Test(evtx_xml, nested_binxml_value_kept_as_xml_text)
{
    begin();
    // LiveId 6116: an EvtXml substitution value that libevtx renders as unescaped elements.
    parse_ok("<Event><System><EventID>6116</EventID></System>\n"
             "  <EventData>\n"
             "    <Data Name=\"Value\"><S:Envelope><S:Header><wsa:Action wsu:Id=\"Action\" "
             "S:mustUnderstand=\"1\">*</wsa:Action></S:Header><S:Body/>"
             "<T>a &amp; b\x01</T></S:Envelope></Data>\n"
             "    <Data Name=\"After\">plain</Data>\n"
             "  </EventData>\n"
             "</Event>");
    static const want w[] = {
        { "EventID", "6116", true },
        { "Value",
          "<S:Envelope><S:Header><wsa:Action wsu:Id=\"Action\" S:mustUnderstand=\"1\">*"
          "</wsa:Action></S:Header><S:Body/><T>a &amp; b\x01</T></S:Envelope>",
          false },
        { "After", "plain", false },
    };
    expect_fields(w, NWANT(w));
    end();
}

static const char bomb[] = "<?xml version=\"1.0\"?>\n"
                           "<!DOCTYPE Event [\n"
                           "  <!ENTITY a \"aaaaaaaaaa\">\n"
                           "  <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
                           "  <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
                           "  <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
                           "  <!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
                           "  <!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
                           "  <!ENTITY g \"&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;\">\n"
                           "  <!ENTITY h \"&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;\">\n"
                           "  <!ENTITY i \"&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;\">\n"
                           "]>\n"
                           "<Event><EventData><Data Name=\"Bomb\">&i;</Data></EventData></Event>\n";

Test(evtx_xml, entity_bomb_fails_cleanly)
{
    begin();
    cr_assert_eq(parse(bomb), SK_ERR_FORMAT);
    cr_expect_str_eq(sk_buf_str(&ERR), "DOCTYPE is not allowed in an event record");
    cr_expect_eq(sk_event_nfields(&EV), 0u);
    // External entities are refused the same way, and the parser stays usable afterwards.
    cr_assert_eq(parse("<!DOCTYPE Event SYSTEM \"file:///etc/passwd\"><Event>&x;</Event>"),
                 SK_ERR_FORMAT);
    cr_expect_str_eq(sk_buf_str(&ERR), "DOCTYPE is not allowed in an event record");
    parse_ok(sysmon1);
    cr_expect_eq(sk_event_nfields(&EV), 36u);
    end();
}

// A record whose UserData nests `levels` elements in total (Event, UserData included).
static char *nested(unsigned levels)
{
    size_t cap = (size_t)levels * 16 + 64;
    char *s = malloc(cap);
    size_t n = 0;
    n += (size_t)snprintf(s + n, cap - n, "<Event><UserData>");
    for (unsigned i = 2; i < levels; i++)
        n += (size_t)snprintf(s + n, cap - n, "<e>");
    n += (size_t)snprintf(s + n, cap - n, "leaf");
    for (unsigned i = 2; i < levels; i++)
        n += (size_t)snprintf(s + n, cap - n, "</e>");
    snprintf(s + n, cap - n, "</UserData></Event>");
    return s;
}

Test(evtx_xml, depth_limit)
{
    begin();
    char *ok = nested(SK_MAX_DEPTH);
    parse_ok(ok);
    static const want w[] = { { "e", "leaf", false } };
    expect_fields(w, NWANT(w));
    free(ok);

    char *deep = nested(SK_MAX_DEPTH + 1);
    cr_expect_eq(parse(deep), SK_ERR_LIMIT);
    char msg[64];
    snprintf(msg, sizeof msg, "elements nested deeper than %u", (unsigned)SK_MAX_DEPTH);
    cr_expect_str_eq(sk_buf_str(&ERR), msg);
    cr_expect_eq(sk_event_nfields(&EV), 0u);
    free(deep);
    end();
}

Test(evtx_xml, over_long_xml)
{
    begin();
    size_t n = (size_t)SK_MAX_XML_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "<Event>", 7);
    memcpy(big + n - 8, "</Event>", 8);
    sk_buf_reset(&ERR);
    cr_expect_eq(sk_evtx_xml_parse(X, big, n, &EV, &ERR), SK_ERR_LIMIT);
    char msg[128];
    snprintf(msg,
             sizeof msg,
             "record XML is %zu bytes, more than the limit of %u",
             n,
             (unsigned)SK_MAX_XML_BYTES);
    cr_expect_str_eq(sk_buf_str(&ERR), msg);
    // One byte less is fine.
    memcpy(big + n - 9, "</Event>", 8);
    sk_buf_reset(&ERR);
    cr_expect_eq(sk_evtx_xml_parse(X, big, n - 1, &EV, &ERR), SK_OK, "%s", sk_buf_str(&ERR));
    free(big);
    end();
}

static char *many_fields(size_t count)
{
    size_t cap = count * 16 + 64;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "<Event><EventData>");
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(s + n, cap - n, "<Data>%zu</Data>", i % 10);
    snprintf(s + n, cap - n, "</EventData></Event>");
    return s;
}

Test(evtx_xml, field_limit)
{
    begin();
    char *ok = many_fields(SK_MAX_FIELDS);
    parse_ok(ok);
    cr_expect_eq(sk_event_nfields(&EV), (size_t)SK_MAX_FIELDS);
    free(ok);
    char *over = many_fields(SK_MAX_FIELDS + 1);
    cr_expect_eq(parse(over), SK_ERR_LIMIT);
    char msg[64];
    snprintf(msg, sizeof msg, "more than %u fields", (unsigned)SK_MAX_FIELDS);
    cr_expect_str_eq(sk_buf_str(&ERR), msg);
    free(over);
    end();
}

Test(evtx_xml, long_value_truncated_at_character_boundary)
{
    begin();
    // 3-byte characters so that the cut at SK_MAX_VALUE_BYTES falls inside one.
    size_t chars = SK_MAX_VALUE_BYTES / 3 + 10;
    size_t cap = chars * 3 + 128;
    char *s = malloc(cap);
    size_t n = (size_t)snprintf(s, cap, "<Event><EventData><Data Name=\"Big\">");
    for (size_t i = 0; i < chars; i++) {
        memcpy(s + n, "\xe2\x82\xac", 3);
        n += 3;
    }
    n += (size_t)snprintf(
            s + n, cap - n, "</Data><Data Name=\"Small\">x</Data></EventData></Event>");
    sk_buf_reset(&ERR);
    cr_assert_eq(sk_evtx_xml_parse(X, s, n, &EV, &ERR), SK_OK, "%s", sk_buf_str(&ERR));
    const char *first = NULL;
    cr_expect_eq(sk_evtx_xml_truncated(X, &first), 1u);
    cr_expect_str_eq(first, "Big");
    const sk_field *f = sk_event_field(&EV, 0);
    cr_expect_eq(f->value_len, (SK_MAX_VALUE_BYTES / 3) * 3);
    cr_expect_eq(strlen(f->value), f->value_len);
    cr_expect_str_eq(sk_event_get(&EV, "Small"), "x");
    free(s);
    // The count is per parse.
    parse_ok(sysmon1);
    cr_expect_eq(sk_evtx_xml_truncated(X, &first), 0u);
    cr_expect_null(first);
    end();
}

typedef struct bad_case {
    char xml[96];
    sk_status st;
    char err[96];
} bad_case;

ParameterizedTestParameters(evtx_xml, invalid_xml_exact_error)
{
    static bad_case cases[] = {
        { "<Event><System></Event>", SK_ERR_FORMAT, "mismatched tag (line 1, column 18)" },
        { "", SK_ERR_FORMAT, "no element found (line 1, column 1)" },
        { "<Event>\n  <System>\n", SK_ERR_FORMAT, "no element found (line 3, column 1)" },
        { "<Event/><Event/>", SK_ERR_FORMAT, "junk after document element (line 1, column 9)" },
        { "just text", SK_ERR_FORMAT, "syntax error (line 1, column 1)" },
        { "<Event><Data Name=x/></Event>",
          SK_ERR_FORMAT,
          "not well-formed (invalid token) (line 1, column 19)" },
        { "<Event><a></b></Event>", SK_ERR_FORMAT, "mismatched tag (line 1, column 13)" },
        { "<Record><System/></Record>", SK_ERR_FORMAT, "root element is <Record>, not <Event>" },
        { "<Event a=\"1\" a=\"2\"/>", SK_ERR_FORMAT, "duplicate attribute (line 1, column 14)" },
    };
    return cr_make_param_array(bad_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_case *c, evtx_xml, invalid_xml_exact_error)
{
    begin();
    cr_expect_eq(parse(c->xml), c->st, "for %s", c->xml);
    cr_expect_str_eq(sk_buf_str(&ERR), c->err, "for %s", c->xml);
    cr_expect_eq(sk_event_nfields(&EV), 0u);
    // The reused parser recovers for the next record.
    parse_ok(sysmon1);
    end();
}

Test(evtx_xml, null_err_buffer_is_allowed)
{
    begin();
    cr_expect_eq(sk_evtx_xml_parse(X, "<x", 2, &EV, NULL), SK_ERR_FORMAT);
    sk_evtx_xml_free(NULL);
    end();
}
