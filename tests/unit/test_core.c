// Unit tests for src/core: bounded buffer, arena, diagnostics rendering, UTF-16/UTF-8, time.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/diag.h"
#include "core/image.h"
#include "core/timefmt.h"
#include "core/utf.h"
#include "helpers.h"

Test(core, buf_refuses_to_grow_past_its_cap)
{
    sk_buf b;
    sk_buf_init(&b, 8);
    cr_assert_eq(sk_buf_adds(&b, "12345678"), SK_OK);
    cr_assert_eq(sk_buf_addc(&b, '9'), SK_ERR_LIMIT);
    cr_assert_str_eq(sk_buf_str(&b), "12345678");
    sk_buf_reset(&b);
    cr_assert_eq(sk_buf_addf(&b, "%d-%s", 42, "x"), SK_OK);
    cr_assert_str_eq(sk_buf_str(&b), "42-x");
    cr_assert_eq(sk_buf_addf(&b, "%s", "too long!"), SK_ERR_LIMIT);
    cr_assert_str_eq(sk_buf_str(&b), "42-x");
    char *s = sk_buf_take(&b);
    cr_assert_str_eq(s, "42-x");
    cr_assert_null(b.p);
    free(s);
    sk_buf_fini(&b);
}

Test(core, arena_keeps_strings_until_reset)
{
    sk_arena a;
    sk_arena_init(&a, 64);
    char *p = sk_arena_strndup(&a, "hello", 5);
    char *big = sk_arena_alloc(&a, 1000); // larger than a block
    memset(big, 'x', 1000);
    char *q = sk_arena_strndup(&a, "world", 3);
    cr_assert_str_eq(p, "hello");
    cr_assert_str_eq(q, "wor");
    sk_arena_reset(&a);
    char *r = sk_arena_strndup(&a, "again", 5);
    cr_assert_str_eq(r, "again");
    sk_arena_fini(&a);
}

Test(core, arena_huge_blocks_are_aligned_huge_pages)
{
    // A huge arena's blocks are whole 2 MiB units aligned to 2 MiB (what transparent huge pages
    // need), its header inside; an allocation larger than a block gets a block of its own.
    sk_arena a;
    sk_arena_init_huge(&a);
    cr_assert(a.huge);
    cr_assert_eq(a.block_size, SK_ARENA_HUGE);
    char *p = sk_arena_alloc(&a, 128); // a multiple of any max_align_t: no rounding
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)(SK_ARENA_HUGE - 1);
    cr_assert_lt((uintptr_t)p - base, 64u, "the first allocation follows the block header");
    memset(p, 'a', 128);
    // Filling the rest of the block: the next allocation starts a new aligned block.
    size_t room = SK_ARENA_HUGE - (size_t)((uintptr_t)p - base) - 128;
    char *fill = sk_arena_alloc(&a, room);
    memset(fill, 'b', room);
    cr_assert_eq(fill, p + 128, "the rest of the first block");
    char *q = sk_arena_alloc(&a, 64);
    cr_assert_eq(((uintptr_t)q & ~(uintptr_t)(SK_ARENA_HUGE - 1)) != base, true);
    cr_assert_lt((uintptr_t)q % SK_ARENA_HUGE, 64u);
    char *big = sk_arena_alloc(&a, 3 * SK_ARENA_HUGE); // 4 MiB blocks cannot hold it: 8 MiB
    memset(big, 'c', 3 * SK_ARENA_HUGE);
    cr_assert_lt((uintptr_t)big % SK_ARENA_HUGE, 64u);
    cr_assert_eq(p[127], 'a');
    cr_assert_eq(fill[room - 1], 'b');
    sk_arena_reset(&a); // keeps the biggest block
    char *r = sk_arena_strndup(&a, "again", 5);
    cr_assert_str_eq(r, "again");
    cr_assert_lt((uintptr_t)r % SK_ARENA_HUGE, 64u);
    sk_arena_fini(&a);
}

Test(core, diag_renders_gcc_style_with_caret)
{
    sk_diag d = { .severity = SK_SEV_ERROR,
                  .file = "rules/x.yml",
                  .line = 14,
                  .col = 9,
                  .code = "unknown-modifier",
                  .message = "unknown modifier 'containz'",
                  .source_line = "        CommandLine|containz: foo" };
    sk_buf b;
    sk_buf_init(&b, 4096);
    sk_diag_render(&d, &b);
    cr_assert_str_eq(sk_buf_str(&b), "rules/x.yml:14:9: error: unknown modifier 'containz'\n"
                                     "            CommandLine|containz: foo\n"
                                     "            ^\n");
    sk_buf_fini(&b);
}

Test(core, diag_source_line_is_escaped_and_the_caret_follows)
{
    // A rule file's line can hold what drives a terminal (ESC, BEL, C1, invalid UTF-8, bidi
    // controls): shown escaped, as the message is, with the caret still under column 8
    // (characters: the 'é' is one, the escapes as wide as shown, tabs kept).
    sk_diag d = { .severity = SK_SEV_ERROR,
                  .file = "a.toml",
                  .line = 6,
                  .col = 8,
                  .code = "x",
                  .message = "m",
                  .source_line = "\t\xC3\xA9\x1b]0;\x07\xC2\x9B\xFF\xE2\x80\xAEX and\r\n" };
    sk_buf b;
    sk_buf_init(&b, 4096);
    sk_diag_render(&d, &b);
    cr_assert_str_eq(sk_buf_str(&b),
                     "a.toml:6:8: error: m\n"
                     "    \t\xC3\xA9\\x1b]0;\\x07\\x9b\\xff\\u202eX and\n"
                     "    \t            ^\n");
    sk_buf_fini(&b);
}

Test(core, diag_renders_record_positions_and_escapes_control_characters)
{
    sk_diag d = { .severity = SK_SEV_WARNING,
                  .file = "Security.evtx",
                  .where = "record 4711",
                  .code = "x",
                  .message = "bad \x1b[31mvalue\n" };
    sk_buf b;
    sk_buf_init(&b, 4096);
    sk_diag_render(&d, &b);
    cr_assert_str_eq(sk_buf_str(&b),
                     "Security.evtx: record 4711: warning: bad \\x1b[31mvalue\\n\n");
    sk_buf_reset(&b);
    sk_diag d2 = { .severity = SK_SEV_WARNING, .file = "a.ndjson", .line = 5, .code = "x",
                   .message = "m" };
    sk_diag_render(&d2, &b);
    cr_assert_str_eq(sk_buf_str(&b), "a.ndjson:5: warning: m\n");
    sk_buf_fini(&b);
}

Test(core, diags_count_by_severity_and_call_back)
{
    sk_test_diags t;
    sk_test_diags_init(&t);
    sk_diag_emitf(&t.dl, SK_SEV_WARNING, "f", 2, 3, NULL, "c", "n=%d", 5);
    sk_diag_emitf(&t.dl, SK_SEV_ERROR, NULL, 0, 0, NULL, "c", "oops");
    cr_assert_eq(t.dl.warnings, 1);
    cr_assert_eq(t.dl.errors, 1);
    cr_assert_str_eq(t.text, "f:2:3: warning: n=5\nsaker: error: oops\n");
}

Test(core, utf16_round_trip_with_surrogates_and_lone_surrogates)
{
    const char *s = "A\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80"; // A é 日 😀
    sk_buf w, u;
    sk_buf_init(&w, 1024);
    sk_buf_init(&u, 1024);
    cr_assert_eq(sk_utf8_to_utf16le(&w, s, strlen(s)), SK_OK);
    cr_assert_eq(w.n, 10); // A, é, 日 one unit each; 😀 two
    cr_assert_eq(sk_utf16le_to_utf8(&u, (const uint8_t *)w.p, w.n / 2), SK_OK);
    cr_assert_str_eq(sk_buf_str(&u), s);
    sk_buf_reset(&u);
    const uint8_t lone[] = { 0x00, 0xD8, 0x41, 0x00 }; // high surrogate then 'A'
    cr_assert_eq(sk_utf16le_to_utf8(&u, lone, 2), SK_OK);
    cr_assert_str_eq(sk_buf_str(&u), "\xEF\xBF\xBD" "A");
    cr_assert(sk_utf8_valid(s, strlen(s)));
    cr_assert_not(sk_utf8_valid("\xC0\xAF", 2)); // overlong
    cr_assert_not(sk_utf8_valid("\xED\xA0\x80", 3)); // surrogate
    cr_assert(sk_utf8_valid("\xEF\xBF\xBD", 3)); // U+FFFD itself is valid
    sk_buf_fini(&w);
    sk_buf_fini(&u);
}

Test(core, time_formats_windows_style_and_parses_iso_forms)
{
    char out[29];
    uint64_t t = 0;
    cr_assert(sk_time_parse("2024-05-01T10:22:03.1234567Z", 28, &t));
    sk_time_format(t, out);
    cr_assert_str_eq(out, "2024-05-01T10:22:03.1234567Z");
    cr_assert(sk_time_parse("2020-10-05T20:43:58.351744800Z", 30, &t)); // libevtx: 9 digits
    sk_time_format(t, out);
    cr_assert_str_eq(out, "2020-10-05T20:43:58.3517448Z");
    cr_assert(sk_time_parse("2020-10-19 03:30:41.104", 23, &t));
    sk_time_format(t, out);
    cr_assert_str_eq(out, "2020-10-19T03:30:41.1040000Z");
    cr_assert(sk_time_parse("2020-10-19T05:30:41+02:00", 25, &t));
    sk_time_format(t, out);
    cr_assert_str_eq(out, "2020-10-19T03:30:41.0000000Z");
    cr_assert(sk_time_parse("1601-01-01T00:00:00Z", 20, &t));
    cr_assert_eq(t, 0);
    cr_assert_not(sk_time_parse("2020-13-01T00:00:00Z", 20, &t));
    cr_assert_not(sk_time_parse("yesterday", 9, &t));
    cr_assert_not(sk_time_parse("2020-10-19T03:30:41Zjunk", 24, &t));
    // Past year 9999 the four-digit form stops at its last instant, never a year modulo 10000.
    sk_time_format(0x7FFFFFFFFFFFFFFFull, out);
    cr_assert_str_eq(out, "9999-12-31T23:59:59.9999999Z");
    // Days the calendar does not have, seconds and offsets out of range: refused, not rolled
    // over into the next day or month.
    static const char *const bad[] = {
        "2024-04-31",           "2023-02-29",           "1900-02-29T00:00:00Z",
        "2024-05-01T09:12:60Z", "2024-05-01T10:00+25:00", "2024-05-01T10:00+01:60",
        "2024-06-31T00:00:00Z", "2024-05-01T24:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(sk_time_parse(bad[i], strlen(bad[i]), &t), "%s was accepted", bad[i]);
    static const char *const good[] = { "2024-02-29", "2000-02-29T12:00:00Z",
                                        "2016-12-31T23:59:60Z", "2024-05-01T10:00-14:00" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(sk_time_parse(good[i], strlen(good[i]), &t), "%s was refused", good[i]);
}

// ---- images (core/image.h): the compiled-rule cache's object copies

typedef struct img_node {
    const char *name;
    struct img_node *next;
    uint32_t *vals;
    uint32_t nvals;
} img_node;

// Writes a list of two nodes sharing one array, then relocates the image in a block of its own.
Test(core, image_round_trip_keeps_shared_objects_and_texts_once)
{
    uint32_t shared[3] = { 7, 8, 9 };
    char name_a[] = "same", name_b[] = "same"; // equal texts at two addresses
    img_node b = { .name = name_b, .next = NULL, .vals = shared, .nvals = 3 };
    img_node a = { .name = name_a, .next = &b, .vals = shared, .nvals = 3 };
    sk_img_w w;
    sk_img_w_init(&w);
    sk_img_off arr = sk_img_put_shared(&w, shared, sizeof shared);
    cr_assert_eq(sk_img_put_shared(&w, shared, sizeof shared), arr); // once per address
    sk_img_off ob = sk_img_put(&w, &b, sizeof b);
    SK_IMG_LINK(&w, ob, img_node, name, sk_img_str(&w, b.name));
    SK_IMG_LINK(&w, ob, img_node, next, 0);
    SK_IMG_LINK(&w, ob, img_node, vals, sk_img_ref(&w, b.vals));
    sk_img_off oa = sk_img_put(&w, &a, sizeof a);
    SK_IMG_LINK(&w, oa, img_node, name, sk_img_str(&w, a.name));
    SK_IMG_LINK(&w, oa, img_node, next, ob);
    SK_IMG_LINK(&w, oa, img_node, vals, sk_img_ref(&w, a.vals));
    cr_assert_not(w.failed);
    cr_assert_eq(oa % 8, 1, "objects are 8-byte aligned (positions are offset + 1)");
    cr_assert_eq(w.nrelocs, 6);

    size_t size = w.len;
    unsigned char *block = aligned_alloc(16, (size + 15) & ~(size_t)15);
    memcpy(block, w.buf, size);
    size_t nmap = sk_img_map_words(size);
    uint64_t *map = malloc(nmap * sizeof(uint64_t));
    memcpy(map, sk_img_map(&w), nmap * sizeof(uint64_t));
    sk_img_w_fini(&w);
    cr_assert(sk_img_relocate(block, size, map));
    const img_node *ra = (const img_node *)(block + oa - 1);
    cr_assert_str_eq(ra->name, "same");
    cr_assert_eq(ra->next->name, ra->name, "equal texts are stored once");
    cr_assert_null(ra->next->next);
    cr_assert_eq(ra->vals, ra->next->vals, "a shared object stays one object");
    cr_assert_eq(ra->vals[2], 9);
    cr_assert((unsigned char *)ra->vals >= block && (unsigned char *)ra->vals < block + size);
    free(map);
    free(block);
}

Test(core, image_refuses_pointers_outside_its_block)
{
    sk_img_w w;
    sk_img_w_init(&w);
    img_node n = { .name = "x" };
    sk_img_off o = sk_img_put(&w, &n, sizeof n);
    SK_IMG_LINK(&w, o, img_node, name, sk_img_str(&w, n.name));
    cr_assert_eq(sk_img_ref(&w, &n + 1), 0);
    cr_assert(w.failed, "a reference to an object never written fails the image");
    size_t size = w.len;
    unsigned char *block = aligned_alloc(16, (size + 15) & ~(size_t)15);
    memcpy(block, w.buf, size);
    uint64_t map[1];
    memcpy(map, sk_img_map(&w), sizeof map);
    sk_img_w_fini(&w);
    uint64_t far = size + 1; // a target past the end
    memcpy(block + o - 1 + offsetof(img_node, name), &far, sizeof far);
    cr_assert_not(sk_img_relocate(block, size, map));
    uint64_t bits = 1ull << 63; // a field past the end
    cr_assert_not(sk_img_relocate(block, 16, &bits));
    free(block);
}

Test(core, image_hash_sees_one_changed_byte_and_swapped_words)
{
    unsigned char a[100];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (unsigned char)i;
    uint64_t h = sk_img_hash(a, sizeof a, 1);
    for (size_t i = 0; i < sizeof a; i++) {
        a[i] ^= 0x10;
        cr_assert_neq(sk_img_hash(a, sizeof a, 1), h, "byte %zu", i);
        a[i] ^= 0x10;
    }
    cr_assert_neq(sk_img_hash(a, sizeof a, 2), h, "the seed counts");
    unsigned char t[8];
    memcpy(t, a, 8); // the words of lanes 0 and 1 swapped
    memcpy(a, a + 8, 8);
    memcpy(a + 8, t, 8);
    cr_assert_neq(sk_img_hash(a, sizeof a, 1), h);
}
