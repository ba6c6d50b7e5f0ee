// Unit tests for the fast JSON scanner (src/input/json_scan.c): what it accepts and decodes, and
// what it leaves to yajl. That its verdicts and callbacks agree with yajl's on arbitrary input is
// the job of tests/fuzz/fuzz_json_scan.c (replayed in the fuzz-regress suite); here the point is
// that the common documents really take the fast path, with the exact decoded text.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "input/json_scan.h"

typedef struct trace {
    sk_buf out;
    int refuse_at; // callback number that returns 0 (-1: none)
    int calls;
} trace;

static int ev(trace *t, const char *fmt, const char *s, size_t n, bool clean)
{
    sk_buf_put(&t->out, fmt, strlen(fmt));
    if (s) {
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x20 || c == '|')
                sk_buf_printf(&t->out, "<%02x>", c);
            else
                sk_buf_putc(&t->out, (char)c);
        }
        sk_buf_puts(&t->out, clean ? "|" : "|dirty|");
    }
    return t->calls++ != t->refuse_at;
}

static int t_null(void *c)
{
    return ev(c, "null ", NULL, 0, false);
}
static int t_bool(void *c, int b)
{
    return ev(c, b ? "true " : "false ", NULL, 0, false);
}
static int t_number(void *c, const char *s, size_t n)
{
    return ev(c, "#", s, n, true);
}
static int t_string(void *c, const char *s, size_t n, bool clean)
{
    return ev(c, "s:", s, n, clean);
}
static int t_key(void *c, const char *s, size_t n, bool clean)
{
    return ev(c, "k:", s, n, clean);
}
static int t_start_map(void *c)
{
    return ev(c, "{ ", NULL, 0, false);
}
static int t_end_map(void *c)
{
    return ev(c, "} ", NULL, 0, false);
}
static int t_start_array(void *c)
{
    return ev(c, "[ ", NULL, 0, false);
}
static int t_end_array(void *c)
{
    return ev(c, "] ", NULL, 0, false);
}

static const sk_json_sax cbs = {
    .null = t_null,
    .boolean = t_bool,
    .number = t_number,
    .string = t_string,
    .start_map = t_start_map,
    .map_key = t_key,
    .end_map = t_end_map,
    .start_array = t_start_array,
    .end_array = t_end_array,
};

// Scans text; returns whether the scanner accepted it, and its callbacks in *out (static).
static bool scan(const char *text, size_t n, const char **out)
{
    static char last[4096];
    trace t = { .refuse_at = -1 };
    sk_buf_init(&t.out, 1u << 20);
    sk_json_scratch scratch = { 0 };
    bool ok = sk_json_scan(&cbs, &t, text, n, &scratch, NULL);
    snprintf(last, sizeof last, "%s", sk_buf_str(&t.out));
    sk_buf_fini(&t.out);
    sk_json_scratch_free(&scratch);
    *out = last;
    return ok;
}

#define ACCEPTS(text, expect)                                                     \
    do {                                                                          \
        const char *got_;                                                         \
        cr_assert(scan(text, sizeof(text) - 1, &got_), "not accepted: %s", text); \
        cr_assert_str_eq(got_, expect);                                           \
    } while (0)

#define DEFERS(text)                                                           \
    do {                                                                       \
        const char *got_;                                                      \
        cr_assert(!scan(text, sizeof(text) - 1, &got_), "accepted: %s", text); \
    } while (0)

Test(json_scan, winlogbeat_document)
{
    ACCEPTS("{\"winlog\":{\"event_id\":4104,\"event_data\":{\"ScriptBlockText\":"
            "\"$a = 1\\r\\n\\tWrite-Host \\\"x\\\" \\\\ y\"}},\"message\":\"caf\xc3\xa9\","
            "\"tags\":[\"a\",true,false,null,-1.5e3],\"empty\":{},\"none\":[]}",
            "{ k:winlog|{ k:event_id|#4104|k:event_data|{ k:ScriptBlockText|"
            "s:$a = 1<0d><0a><09>Write-Host \"x\" \\ y|} } k:message|s:caf\xc3\xa9|"
            "k:tags|[ s:a|true false null #-1.5e3|] k:empty|{ } k:none|[ ] } ");
}

Test(json_scan, long_strings_are_found_eight_bytes_at_a_time)
{
    // Specials at every offset of an 8-byte word, and a string that ends exactly at a word.
    for (size_t pad = 0; pad < 17; pad++) {
        char doc[256], want[256];
        char a[32];
        memset(a, 'x', pad);
        a[pad] = '\0';
        snprintf(doc, sizeof doc, "[\"%s\",\"%s\\n\",\"%s\xc3\xa9z\",\"%s\"]", a, a, a, a);
        snprintf(want, sizeof want, "[ s:%s|s:%s<0a>|s:%s\xc3\xa9z|s:%s|] ", a, a, a, a);
        const char *got;
        cr_assert(scan(doc, strlen(doc), &got), "pad %zu", pad);
        cr_assert_str_eq(got, want, "pad %zu", pad);
    }
}

// The bytes of s[0..n) as the trace shows them.
static void render(sk_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '|')
            sk_buf_printf(b, "<%02x>", c);
        else
            sk_buf_putc(b, (char)c);
    }
}

// Long strings: the block looked at inline, the 32-byte blocks (AVX2 CPUs), the 16-byte blocks
// (the json_scan_sse2 build, and the rest of a string on AVX2 CPUs) and the bytes at the end
// all meet each kind of special byte at every offset, in strings with and without escapes before
// it, and in strings that end at the end of the text.
Test(json_scan, long_strings_meet_specials_at_every_offset)
{
    static const char *const special[][2] = {
        // as written, as decoded
        { "", "" },
        { "\\n", "\n" },
        { "\\\\", "\\" },
        { "\\\"", "\"" },
        { "\\u00e9", "\xc3\xa9" },
        { "\xc3\xa9", "\xc3\xa9" },
        { "\\ud83d\\ude00", "\xf0\x9f\x98\x80" },
    };
    static const size_t posts[] = { 0, 1, 15, 16, 31, 33, 70 };
    char doc[512], want[1024], text[256], dec[256];
    for (size_t pre = 0; pre < 110; pre++) {
        for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) {
            for (size_t j = 0; j < sizeof posts / sizeof posts[0]; j++) {
                for (int lead = 0; lead < 2; lead++) { // a leading escape: the runs are copied
                    size_t post = posts[j];
                    snprintf(text,
                             sizeof text,
                             "%s%.*s%s%.*s",
                             lead ? "\\t" : "",
                             (int)pre,
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
                             "hijk"
                             "lmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                             special[k][0],
                             (int)post,
                             "0123456789.,;:-_=+*&^%$#@!~`'?<>(){}[]0123456789.,;:-_=+*&^%$#@!~`'?<"
                             ">");
                    snprintf(dec,
                             sizeof dec,
                             "%s%.*s%s%.*s",
                             lead ? "\t" : "",
                             (int)pre,
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
                             "hijk"
                             "lmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                             special[k][1],
                             (int)post,
                             "0123456789.,;:-_=+*&^%$#@!~`'?<>(){}[]0123456789.,;:-_=+*&^%$#@!~`'?<"
                             ">");
                    for (int bare = 0; bare < 2; bare++) { // bare: the string ends the text
                        snprintf(doc, sizeof doc, bare ? "\"%s\"" : "[\"%s\",1]", text);
                        sk_buf b;
                        sk_buf_init(&b, sizeof want);
                        sk_buf_puts(&b, bare ? "s:" : "[ s:");
                        render(&b, dec, strlen(dec));
                        sk_buf_puts(&b, bare ? "|" : "|#1|] ");
                        snprintf(want, sizeof want, "%s", sk_buf_str(&b));
                        sk_buf_fini(&b);
                        const char *got;
                        cr_assert(scan(doc, strlen(doc), &got), "%s", doc);
                        cr_assert_str_eq(got, want, "%s", doc);
                        // A control character, or a cut text, stops the scan where it is.
                        size_t at = strlen(doc) - (bare ? 1 : 4);
                        doc[at] = '\x01';
                        trace t = { .refuse_at = -1 };
                        sk_buf_init(&t.out, 1u << 20);
                        sk_json_scratch scratch = { 0 };
                        size_t stop = 0;
                        cr_assert_not(sk_json_scan(&cbs, &t, doc, strlen(doc), &scratch, &stop));
                        cr_assert_eq(stop, at, "%s", doc);
                        cr_assert_not(sk_json_scan(&cbs, &t, doc, at, &scratch, &stop));
                        cr_assert_eq(stop, at, "%s", doc);
                        sk_buf_fini(&t.out);
                        sk_json_scratch_free(&scratch);
                    }
                }
            }
        }
    }
}

Test(json_scan, escapes)
{
    ACCEPTS("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "[ s:\"\\/<08><0c><0a><0d><09>|] ");
    ACCEPTS("[\"\\u0041\\u00e9\\u20AC\\uffff\"]", "[ s:A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf|] ");
    // A NUL from \u0000 is passed on (as yajl does); the string is then not clean.
    ACCEPTS("{\"a\\u0000b\":\"x\\u0000\"}", "{ k:a<00>b|dirty|s:x<00>|dirty|} ");
}

Test(json_scan, numbers)
{
    ACCEPTS("[0,-0,12,1.25,-2e10,3E+2,4e-1,123456789012345678901234567890]",
            "[ #0|#-0|#12|#1.25|#-2e10|#3E+2|#4e-1|#123456789012345678901234567890|] ");
    DEFERS("[01]");
    DEFERS("[1.]");
    DEFERS("[-]");
    DEFERS("[1e]");
    DEFERS("[.5]");
    DEFERS("[+1]");
}

Test(json_scan, whitespace_and_scalars)
{
    ACCEPTS(" \t\r\n{ \"a\" : [ 1 , { } ] } \r\n", "{ k:a|[ #1|{ } ] } ");
    ACCEPTS("\"top\"", "s:top|");
    ACCEPTS("7", "#7|");
}

// Surrogate escapes: a pair is its code point; any other surrogate is U+FFFD (yajl made
// U+10000 of two high ones, '?' of a lone high one and CESU-8 of a lone low one).
Test(json_scan, surrogate_escapes)
{
    ACCEPTS("{\"a\":\"\\ud83d\\ude00\"}", "{ k:a|s:\xf0\x9f\x98\x80|} ");
    ACCEPTS("{\"a\":\"\\uD83D\\uDE00x\"}", "{ k:a|s:\xf0\x9f\x98\x80x|} ");
    ACCEPTS("{\"a\":\"\\ud800\\ud800\"}", "{ k:a|s:\xef\xbf\xbd\xef\xbf\xbd|} ");
    ACCEPTS("{\"a\":\"\\ud800\"}", "{ k:a|s:\xef\xbf\xbd|} ");
    ACCEPTS("{\"a\":\"\\ud800x\"}", "{ k:a|s:\xef\xbf\xbdx|} ");
    ACCEPTS("{\"a\":\"\\ud800\\n\"}", "{ k:a|s:\xef\xbf\xbd<0a>|} ");
    ACCEPTS("{\"a\":\"\\udc00\\ud800\"}", "{ k:a|s:\xef\xbf\xbd\xef\xbf\xbd|} ");
    ACCEPTS("{\"\\ud800\":1}", "{ k:\xef\xbf\xbd|#1|} ");
    DEFERS("{\"a\":\"\\ud800\\u12\"}"); // the escape after a high surrogate is still read
}

Test(json_scan, unpaired_surrogate_escapes_rewritten_for_yajl)
{
    char t[] = "[\"\\ud800\\ud800\",\"\\uD83D\\uDE00\",\"\\\\ud800\",\"\\udc00x\\ud8\"]";
    cr_assert(sk_json_unpaired_to_fffd(t, strlen(t)));
    cr_assert_str_eq(t, "[\"\\ufffd\\ufffd\",\"\\uD83D\\uDE00\",\"\\\\ud800\",\"\\ufffdx\\ud8\"]");
    char u[] = "{\"a\":\"\\u00e9\\n\"}";
    cr_assert_not(sk_json_unpaired_to_fffd(u, strlen(u)));
}

// Everything yajl may judge differently, or words an error for, is left to yajl.
Test(json_scan, defers)
{
    DEFERS("");
    DEFERS("  ");
    DEFERS("{\"a\":1}\v");        // whitespace yajl knows and this scanner does not
    DEFERS("{\"a\":1} x");        // trailing garbage
    DEFERS("{\"a\":1}{\"b\":2}"); // two values
    DEFERS("{\"a\":[1,]}");       // trailing comma
    DEFERS("{\"a\":1,}");
    DEFERS("{\"a\" 1}");
    DEFERS("{1:2}");
    DEFERS("{\"a\":\"\x01\"}");         // control character in a string
    DEFERS("{\"a\":\"abc");             // unterminated
    DEFERS("{\"a\":\"\\x\"}");          // unknown escape
    DEFERS("{\"a\":\"\\u12\"}");        // short \u
    DEFERS("{\"a\":\"\xc0\xaf\"}");     // overlong UTF-8
    DEFERS("{\"a\":\"\xed\xa0\x80\"}"); // encoded surrogate
    DEFERS("{\"a\":\"\xe2\x82\"}");     // cut sequence
    DEFERS("{\"a\":\"x\\n\xff\"}");     // invalid byte after an escape
    DEFERS("{\"a\":tru}");
    DEFERS("{\"a\":nul");
    DEFERS("{\"a\":\"\\");
    DEFERS("{\"a\":1");
    DEFERS("[1 2]");
    DEFERS("{\"a\":1]");
    DEFERS("/* c */ {}");
}

Test(json_scan, a_refusing_callback_stops_the_scan)
{
    const char doc[] = "{\"a\":[1,\"b\"],\"c\":{}}";
    for (int k = 0; k < 10; k++) {
        trace t = { .refuse_at = k };
        sk_buf_init(&t.out, 1u << 20);
        sk_json_scratch scratch = { 0 };
        cr_assert(!sk_json_scan(&cbs, &t, doc, sizeof doc - 1, &scratch, NULL), "refused at %d", k);
        cr_assert_eq(t.calls, k + 1);
        sk_buf_fini(&t.out);
        sk_json_scratch_free(&scratch);
    }
    trace t = { .refuse_at = 10 }; // there are exactly 10 callbacks
    sk_buf_init(&t.out, 1u << 20);
    sk_json_scratch scratch = { 0 };
    cr_assert(sk_json_scan(&cbs, &t, doc, sizeof doc - 1, &scratch, NULL));
    cr_assert_eq(t.calls, 10);
    sk_buf_fini(&t.out);
    sk_json_scratch_free(&scratch);
}

Test(json_scan, nesting_beyond_its_stack_is_left_to_yajl)
{
    size_t n = 2 * 2000;
    char *doc = malloc(n);
    cr_assert_not_null(doc);
    memset(doc, '[', n / 2);
    memset(doc + n / 2, ']', n / 2);
    const char *got;
    cr_assert(!scan(doc, n, &got));
    memset(doc, '[', 500);
    memset(doc + 500, ']', 500);
    cr_assert(scan(doc, 1000, &got));
    free(doc);
}

// A caller keeps decoded strings by moving used past them: after a reserve of used + len + 1
// bytes the scratch never moves during the scan, each kept string stays as it was decoded, and the
// next one is decoded after it (keys too, which this caller does not keep).
typedef struct keeper {
    sk_json_scratch *sc;
    const char *kept[8];
    size_t len[8];
    size_t n;
} keeper;

static int k_string(void *c, const char *s, size_t n, bool clean)
{
    keeper *k = c;
    sk_json_scratch *sc = k->sc;
    (void)clean;
    if (s >= sc->p && s < sc->p + sc->cap) {
        cr_assert_eq(s, sc->p + sc->used, "decoded after the kept ones");
        cr_assert_eq(s[n], '\0');
        sc->used += n + 1;
    }
    if (k->n < 8) {
        k->kept[k->n] = s;
        k->len[k->n++] = n;
    }
    return 1;
}

static int k_key(void *c, const char *s, size_t n, bool clean)
{
    (void)c, (void)s, (void)n, (void)clean;
    return 1;
}

static int k_other(void *c)
{
    (void)c;
    return 1;
}

static int k_bool(void *c, int b)
{
    (void)c, (void)b;
    return 1;
}

static int k_number(void *c, const char *s, size_t n)
{
    (void)c, (void)s, (void)n;
    return 1;
}

Test(json_scan, kept_strings_stay_where_they_were_decoded)
{
    static const sk_json_sax kcbs = {
        .null = k_other,
        .boolean = k_bool,
        .number = k_number,
        .string = k_string,
        .start_map = k_other,
        .map_key = k_key,
        .end_map = k_other,
        .start_array = k_other,
        .end_array = k_other,
    };
    // Escaped strings shrink the least with one escape each; the last one is as long as it can be.
    static const char doc[] =
            "{\"a\\n\":\"\\\\x\",\"b\":[\"\\u00e9\\t\",\"plain\",\"\\ud83d\\ude00\"],"
            "\"c\\\"\":\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\""
            "\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\\\"\"}";
    static const char *const want[] = {
        "\\x",
        "\xC3\xA9\t",
        "plain",
        "\xF0\x9F\x98\x80",
        "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\""
    };
    sk_json_scratch sc = { 0 };
    cr_assert(sk_json_scratch_reserve(&sc, 3)); // small: the reserve below must grow it
    sc.used = 2;                                // as if two bytes were kept before
    cr_assert(sk_json_scratch_reserve(&sc, sc.used + sizeof doc));
    const char *p = sc.p;
    keeper k = { .sc = &sc };
    cr_assert(sk_json_scan(&kcbs, &k, doc, sizeof doc - 1, &sc, NULL));
    cr_assert_eq(sc.p, p, "the scratch moved");
    cr_assert_eq(k.n, 5);
    for (size_t i = 0; i < 5; i++)
        cr_expect(k.len[i] == strlen(want[i]) && memcmp(k.kept[i], want[i], k.len[i]) == 0,
                  "string %zu",
                  i);
    sk_json_scratch_free(&sc);
}
