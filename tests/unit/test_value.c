// Unit tests for the compiled value predicates and the Sigma value transforms (src/match/value.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <pcre2.h>

#include "core/buf.h"
#include "helpers.h"
#include "match/value.h"

#define W  SK_VM_WILDCARDS
#define C  SK_VM_CASED
#define RI SK_VM_RE_I
#define RM SK_VM_RE_M
#define RS SK_VM_RE_S

// Lengths: -1 means strlen (patterns and values with NUL bytes give their length).
static bool
try_match(sk_vm_kind kind, unsigned flags, const char *pat, long pn, const char *val, long vn)
{
    size_t plen = pn < 0 ? strlen(pat) : (size_t)pn;
    size_t vlen = vn < 0 ? strlen(val) : (size_t)vn;
    sk_vm *vm = NULL;
    sk_buf err;
    sk_buf_init(&err, 1024);
    sk_status st = sk_vm_compile(&vm, kind, pat, plen, flags, &err, NULL);
    cr_assert_eq(st, SK_OK, "compile '%s': %s", pat, sk_buf_str(&err));
    sk_vm_scratch *s = sk_vm_scratch_new();
    bool r = sk_vm_match(vm, val, vlen, s);
    sk_vm_scratch_free(s);
    sk_vm_free(vm);
    sk_buf_fini(&err);
    return r;
}

// ---------------------------------------------------------------------------------------------
// the match table

struct mcase {
    int kind;
    unsigned flags;
    char pat[80];
    int patn; // -1: strlen
    char val[80];
    int valn; // -1: strlen
    bool want;
};

#define M(k, f, p, v, w)                                                                   \
    {                                                                                      \
        .kind = (k), .flags = (f), .pat = p, .patn = -1, .val = v, .valn = -1, .want = (w) \
    }
#define MN(k, f, p, pn, v, vn, w)                                                              \
    {                                                                                          \
        .kind = (k), .flags = (f), .pat = p, .patn = (pn), .val = v, .valn = (vn), .want = (w) \
    }

static struct mcase cases[] = {
    // literal strings, case-insensitive by default
    M(SK_VM_EQUALS, 0, "foo", "foo", true),
    M(SK_VM_EQUALS, 0, "foo", "FoO", true),
    M(SK_VM_EQUALS, C, "foo", "FoO", false),
    M(SK_VM_EQUALS, C, "FoO", "FoO", true),
    M(SK_VM_EQUALS, 0, "foo", "foo ", false),
    M(SK_VM_EQUALS, 0, "foo", "fo", false),
    M(SK_VM_EQUALS, 0, "a*b", "a*b", true), // without SK_VM_WILDCARDS '*' is literal
    M(SK_VM_EQUALS, 0, "a*b", "axb", false),
    M(SK_VM_EQUALS, 0, "a?b", "axb", false),
    M(SK_VM_EQUALS, 0, "a\\*b", "a\\*b", true), // and so is the backslash
    M(SK_VM_CONTAINS, 0, "mshta", "C:\\Windows\\MSHTA.exe", true),
    M(SK_VM_CONTAINS, C, "mshta", "C:\\Windows\\MSHTA.exe", false),
    M(SK_VM_CONTAINS, 0, "exe", "C:\\Windows\\MSHTA.ex", false),
    M(SK_VM_CONTAINS, 0, "aab", "aaaaaaab", true),
    M(SK_VM_CONTAINS, 0, "abcabd", "abcabcabd", true),
    M(SK_VM_CONTAINS, 0, "x", "X", true),
    M(SK_VM_CONTAINS, 0, "long pattern", "short", false),
    M(SK_VM_STARTSWITH, 0, "C:\\Windows\\", "c:\\windows\\system32\\cmd.exe", true),
    M(SK_VM_STARTSWITH, 0, "C:\\Windows\\", "d:\\windows\\system32\\cmd.exe", false),
    M(SK_VM_STARTSWITH, C, "C:\\Windows\\", "c:\\windows\\system32", false),
    M(SK_VM_ENDSWITH, 0, "\\mshta.exe", "C:\\x\\MSHTA.EXE", true),
    M(SK_VM_ENDSWITH, C, "\\mshta.exe", "C:\\x\\MSHTA.EXE", false),
    M(SK_VM_ENDSWITH, 0, "\\mshta.exe", "mshta.exe", false),
    // empty pattern and empty value
    M(SK_VM_EQUALS, 0, "", "", true),
    M(SK_VM_EQUALS, 0, "", "a", false),
    M(SK_VM_EQUALS, W, "", "", true),
    M(SK_VM_EQUALS, W, "", "a", false),
    M(SK_VM_CONTAINS, 0, "", "", true),
    M(SK_VM_CONTAINS, 0, "", "abc", true),
    M(SK_VM_STARTSWITH, 0, "", "", true),
    M(SK_VM_ENDSWITH, W, "", "abc", true),
    M(SK_VM_ENDSWITH, 0, "abc", "", false),
    M(SK_VM_CONTAINS, W, "a", "", false),
    M(SK_VM_EQUALS, W, "*", "", true),
    M(SK_VM_EQUALS, W, "*", "anything", true),
    M(SK_VM_EQUALS, W, "**", "anything", true),
    M(SK_VM_EQUALS, W, "*?*", "", false),
    M(SK_VM_EQUALS, W, "*?*", "x", true),
    // wildcards
    M(SK_VM_EQUALS, W, "*\\mshta.exe", "C:\\Windows\\System32\\MSHTA.exe", true),
    M(SK_VM_EQUALS, W, "*\\mshta.exe", "C:\\Windows\\System32\\mshta.exe.bak", false),
    M(SK_VM_EQUALS, W, "C:\\Windows\\\\*", "C:\\Windows\\x.exe", true),
    M(SK_VM_EQUALS, W, "*cmd*", "C:\\CMD.exe", true),
    M(SK_VM_EQUALS, W, "a*b*c", "abc", true),
    M(SK_VM_EQUALS, W, "a*b*c", "aXbXc", true),
    M(SK_VM_EQUALS, W, "a*b*c", "acb", false),
    M(SK_VM_EQUALS, W, "a*b*c", "abcab", false),
    M(SK_VM_EQUALS, W, "a*b*c", "abcabc", true),
    M(SK_VM_EQUALS, W, "a*", "a", true),
    M(SK_VM_EQUALS, W, "*a", "a", true),
    M(SK_VM_EQUALS, W, "a*a", "a", false), // the anchored segments may not overlap
    M(SK_VM_EQUALS, W, "a*a", "aa", true),
    M(SK_VM_EQUALS, W, "ab*ba", "aba", false),
    M(SK_VM_EQUALS, W, "ab*ba", "abba", true),
    M(SK_VM_CONTAINS, W, "a*b", "xxaYYbxx", true),
    M(SK_VM_CONTAINS, W, "a*b", "xxbYYaxx", false),
    M(SK_VM_STARTSWITH, W, "a*b", "aXbYY", true),
    M(SK_VM_STARTSWITH, W, "a*b", "XaXbYY", false),
    M(SK_VM_ENDSWITH, W, "a*b", "XXaYb", true),
    M(SK_VM_ENDSWITH, W, "a*b", "XXaYbZ", false),
    M(SK_VM_CONTAINS, W, "x*y*z", "__x_y_y_x_z__", true),
    M(SK_VM_CONTAINS, W, "x*y*z", "__x_z_y__", false),
    // '?' is one code point
    M(SK_VM_EQUALS, W, "a?c", "abc", true),
    M(SK_VM_EQUALS, W, "a?c", "ac", false),
    M(SK_VM_EQUALS, W, "a?c", "abbc", false),
    M(SK_VM_EQUALS,
      W,
      "a?c",
      "a\xC3\xA9"
      "c",
      true), // é
    M(SK_VM_EQUALS,
      W,
      "a?c",
      "a\xE2\x80\x93"
      "c",
      true), // en dash
    M(SK_VM_EQUALS,
      W,
      "a?c",
      "a\xF0\x9F\x98\x80"
      "c",
      true), // U+1F600
    M(SK_VM_EQUALS,
      W,
      "a??c",
      "a\xC3\xA9"
      "c",
      false),
    M(SK_VM_EQUALS, W, "??", "\xC3\xA9\xF0\x9F\x98\x80", true),
    M(SK_VM_EQUALS, W, "?", "", false),
    M(SK_VM_EQUALS,
      W,
      "a?b",
      "a\xFF"
      "b",
      true), // an invalid byte counts as one character
    M(SK_VM_ENDSWITH, W, "?.exe", "a.exe", true),
    M(SK_VM_ENDSWITH, W, "?.exe", ".exe", false),
    M(SK_VM_ENDSWITH, W, "?.exe", "x\xC3\xA9.exe", true),
    M(SK_VM_STARTSWITH, W, "cmd?", "cmd.exe", true),
    M(SK_VM_STARTSWITH, W, "cmd?", "cmd", false),
    M(SK_VM_CONTAINS, W, "?b?", "b", false),
    M(SK_VM_CONTAINS,
      W,
      "?b?",
      "\xC3\xA9"
      "b\xC3\xA9",
      true),
    M(SK_VM_EQUALS, W, "?*?", "\xC3\xA9", false),
    M(SK_VM_EQUALS, W, "?*?", "\xC3\xA9\xC3\xA9", true),
    M(SK_VM_EQUALS,
      W,
      "*?b",
      "\xC3\xA9"
      "b",
      true),
    M(SK_VM_EQUALS, W, "*?b", "b", false),
    M(SK_VM_EQUALS, W, "x*?b*y", "xby", false),
    M(SK_VM_EQUALS, W, "x*?b*y", "xaby", true),
    M(SK_VM_EQUALS,
      W,
      "x*?b*y",
      "x\xC3\xA9"
      "by",
      true),
    M(SK_VM_EQUALS, W, "x*b?c*y", "xbcbdcy", true),
    M(SK_VM_EQUALS, W, "x*b?c*y", "xbcby", false),
    // escapes (Sigma: \* \? \\ stand for the character; any other backslash is literal)
    M(SK_VM_EQUALS, W, "C:\\Windows\\*", "C:\\Windows\\x.exe", false), // \* is a literal star
    M(SK_VM_EQUALS, W, "C:\\Windows\\*", "C:\\Windows*", true),
    M(SK_VM_EQUALS, W, "a\\?b", "a?b", true),
    M(SK_VM_EQUALS, W, "a\\?b", "axb", false),
    M(SK_VM_EQUALS, W, "a\\\\b", "a\\b", true),
    M(SK_VM_EQUALS, W, "a\\\\b", "a\\\\b", false),
    M(SK_VM_EQUALS, W, "a\\\\*", "a\\xyz", true), // \\ then a wildcard
    M(SK_VM_EQUALS, W, "ab\\", "ab\\", true),     // trailing backslash
    M(SK_VM_EQUALS, W, "C:\\Windows\\System32", "c:\\windows\\system32", true),
    M(SK_VM_EQUALS, W, "\\\\\\*\\?", "\\*?", true),
    M(SK_VM_CONTAINS, W, "\\*", "a*b", true),
    M(SK_VM_CONTAINS, W, "\\*", "ab", false),
    M(SK_VM_ENDSWITH, W, "\\Temp\\\\", "C:\\TEMP\\", true),
    // case folding beyond ASCII
    M(SK_VM_EQUALS, 0, "\xC3\x84\xC3\x96\xC3\x9C", "\xC3\xA4\xC3\xB6\xC3\xBC", true), // ÄÖÜ äöü
    M(SK_VM_EQUALS, C, "\xC3\x84", "\xC3\xA4", false),
    M(SK_VM_CONTAINS,
      0,
      "stra\xC3\x9F"
      "e",
      "STRA\xC3\x9F"
      "E",
      true), // ß stays ß
    M(SK_VM_CONTAINS,
      0,
      "\xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91",
      "x\xCE\xB1\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xB1",
      true), // ΑΘΗΝΑ in αθηνα
    M(SK_VM_CONTAINS,
      0,
      "\xD0\x9F\xD0\xA0\xD0\x98",
      "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82",
      true), // ПРИ in привет
    M(SK_VM_STARTSWITH,
      0,
      "\xC3\x89"
      "COLE",
      "\xC3\xA9"
      "cole normale",
      true),
    M(SK_VM_ENDSWITH,
      0,
      "\xC3\x89"
      "COLE",
      "grande \xC3\xA9"
      "cole",
      true),
    M(SK_VM_ENDSWITH,
      0,
      "\xC3\x89"
      "COLE",
      "grande ecole",
      false),
    M(SK_VM_EQUALS, 0, "\xC5\xB8", "\xC3\xBF", true), // Ÿ ÿ
    M(SK_VM_EQUALS, 0, "\xC2\xB5", "\xCE\xBC", true), // micro sign, mu
    M(SK_VM_EQUALS, 0, "\xCF\x82", "\xCE\xA3", true), // final sigma, capital sigma
    M(SK_VM_EQUALS,
      0,
      "\xC4\x80"
      "b",
      "\xC4\x81"
      "B",
      true), // Ā ā
    M(SK_VM_CONTAINS,
      0,
      "\xD4\xB1\xD5\x80\xD5\x84\xD4\xB5\xD5\x96",
      "x\xD5\xA1\xD5\xB0\xD5\xB4\xD5\xA5\xD6\x86",
      true), // Armenian: ԱՀՄԵՖ in ահմեֆ, U+0531 to U+0556
    M(SK_VM_EQUALS, 0, "\xD5\xA1\xD5\x96", "\xD4\xB1\xD6\x86", true), // աՖ Աֆ
    M(SK_VM_EQUALS, 0, "\xD5\x86", "\xD5\xB6", true),                 // Ն ն: lead byte 0xD5
    M(SK_VM_EQUALS, 0, "\xD6\x87", "\xD5\xA5\xD6\x82", false), // ligature եւ: no simple fold
    M(SK_VM_EQUALS, C, "\xD4\xB1", "\xD5\xA1", false),
    M(SK_VM_EQUALS, 0, "\xC5\xBF", "s", false), // long s: not folded (length)
    M(SK_VM_EQUALS, 0, "\xC4\xB0", "i", false), // dotted I: no simple folding
    M(SK_VM_EQUALS,
      W,
      "*\xD0\x9F\xD0\xA0\xD0\x98\xD0\x92\xD0\x95\xD0\xA2?",
      "\xD0\xBE\xD0\xB9 \xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82!",
      true), // *ПРИВЕТ?
    M(SK_VM_EQUALS, W | C, "*\xD0\x9F?", "\xD0\xBF!", false),
    // embedded NUL bytes (UTF-16 patterns)
    MN(SK_VM_CONTAINS, 0, "a\0b\0", 4, "xxA\0B\0yy", 8, true),
    MN(SK_VM_CONTAINS, C, "a\0b\0", 4, "xxA\0B\0yy", 8, false),
    MN(SK_VM_CONTAINS, 0, "a\0b\0", 4, "xxa\0c\0yy", 8, false),
    MN(SK_VM_EQUALS, 0, "\0", 1, "\0", 1, true),
    MN(SK_VM_EQUALS, 0, "\0", 1, "", 0, false),
    MN(SK_VM_EQUALS, W, "*\0*", 3, "ab\0cd", 5, true),
    MN(SK_VM_EQUALS, W, "*\0*", 3, "abcd", 4, false),
    MN(SK_VM_ENDSWITH, 0, "\xE9\0", 2, "caf\0\xE9\0", 6, true),
    // regular expressions (unanchored search, case-sensitive unless i)
    M(SK_VM_REGEX, 0, "foo.*bar", "xxfooYbar", true),
    M(SK_VM_REGEX, 0, "foo.*bar", "FOO bar", false),
    M(SK_VM_REGEX, RI, "foo.*bar", "FOO bar", true),
    M(SK_VM_REGEX, 0, "^a$", "x\na", false),
    M(SK_VM_REGEX, RM, "^a$", "x\na", true),
    M(SK_VM_REGEX, 0, "a.b", "a\nb", false),
    M(SK_VM_REGEX, RS, "a.b", "a\nb", true),
    M(SK_VM_REGEX, 0, "^caf.$", "caf\xC3\xA9", true), // UTF mode: '.' is one code point
    M(SK_VM_REGEX,
      RI,
      "\xC3\x84"
      "b",
      "\xC3\xA4"
      "B",
      true),
    M(SK_VM_REGEX, 0, "caf", "caf\xFF", true), // invalid UTF-8 value: valid parts still match
    M(SK_VM_REGEX, 0, "caf.", "caf\xFF", false),
    M(SK_VM_REGEX, 0, "", "", true),
    M(SK_VM_REGEX, 0, "(?<x>a)(?<y>b)", "ab", true), // named groups with a one-pair ovector
    // Groups referred to by number capture (unnamed groups otherwise do not).
    M(SK_VM_REGEX, 0, "(\\w)\\1{3}", "x-aaaa-y", true),
    M(SK_VM_REGEX, 0, "(\\w)\\1{3}", "abababab", false),
    M(SK_VM_REGEX, 0, "(a)(?<x>b)\\1", "aba", true), // \1 is (a), not the first named group
    M(SK_VM_REGEX, 0, "(a)(?<x>b)\\1", "abb", false),
    M(SK_VM_REGEX, 0, "(a|b)\\g{-1}", "xbb", true),
    M(SK_VM_REGEX, 0, "(a|b)\\g1", "ab", false),
    M(SK_VM_REGEX, 0, "(ab)(?1)", "abab", true),
    M(SK_VM_REGEX, 0, "^(a)?(?(1)b|c)$", "c", true),
    M(SK_VM_REGEX, 0, "(?<c>\\w)\\k<c>", "xyyz", true),
    M(SK_VM_REGEX, 0, "(a)\\\\1", "a\\1", true), // an escaped backslash, then a 1
    M(SK_VM_REGEX, 0, "\\d{3}", "abc123", true),
    M(SK_VM_REGEX, 0, "\\d{3}", "abc12", false),
    MN(SK_VM_REGEX, 0, "a\\x00b", -1, "a\0b", 3, true),
    // cidr
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.1.2.3", true),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.0.0.0", true),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.255.255.255", true),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "11.0.0.1", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "9.255.255.255", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "::ffff:10.1.2.3", true), // IPv4-mapped
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "::ffff:11.1.2.3", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "fe80::1", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.1.2", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.1.2.3 ", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", " 10.1.2.3", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.1.2.3/8", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "localhost", false),
    M(SK_VM_CIDR, 0, "10.0.0.0/8", "10.1.2.256", false),
    M(SK_VM_CIDR, 0, "172.16.0.0/12", "172.31.255.255", true),
    M(SK_VM_CIDR, 0, "172.16.0.0/12", "172.32.0.0", false),
    M(SK_VM_CIDR, 0, "172.16.0.0/12", "172.15.255.255", false),
    M(SK_VM_CIDR, 0, "192.168.1.1/32", "192.168.1.1", true),
    M(SK_VM_CIDR, 0, "192.168.1.1/32", "192.168.1.2", false),
    M(SK_VM_CIDR, 0, "192.168.1.1", "192.168.1.1", true),
    M(SK_VM_CIDR, 0, "0.0.0.0/0", "1.2.3.4", true),
    M(SK_VM_CIDR, 0, "0.0.0.0/0", "::1", false),
    M(SK_VM_CIDR, 0, "::1/128", "::1", true),
    M(SK_VM_CIDR, 0, "::1/128", "0:0:0:0:0:0:0:1", true),
    M(SK_VM_CIDR, 0, "::1/128", "::2", false),
    M(SK_VM_CIDR, 0, "::1/128", "127.0.0.1", false),
    M(SK_VM_CIDR, 0, "fe80::/10", "fe80::1%eth0", true), // the zone is ignored
    M(SK_VM_CIDR, 0, "fe80::/10", "FEBF::1", true),
    M(SK_VM_CIDR, 0, "fe80::/10", "fec0::1", false),
    M(SK_VM_CIDR, 0, "2001:db8::/32", "2001:0db8:0000:0000:0000:0000:0000:0001", true),
    M(SK_VM_CIDR, 0, "2001:db8::/32", "2001:db9::1", false),
    M(SK_VM_CIDR, 0, "2001:db8:0:0:0:0:0:0/127", "2001:db8::1", true),
    M(SK_VM_CIDR, 0, "2001:db8:0:0:0:0:0:0/127", "2001:db8::2", false),
    M(SK_VM_CIDR, 0, "::ffff:0:0/96", "1.2.3.4", true),
    M(SK_VM_CIDR, 0, "::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true),
    M(SK_VM_CIDR, 0, "::ffff:10.0.0.0/104", "10.9.9.9", true),
    M(SK_VM_CIDR, 0, "::ffff:10.0.0.0/104", "11.9.9.9", false),
    M(SK_VM_CIDR, 0, "::/0", "2001:db8::1", true),
    M(SK_VM_CIDR, 0, "::/0", "garbage", false),
    // numbers
    M(SK_VM_GT, 0, "5", "6", true),
    M(SK_VM_GT, 0, "5", "5", false),
    M(SK_VM_GTE, 0, "5", "5", true),
    M(SK_VM_GTE, 0, "5", "4", false),
    M(SK_VM_LT, 0, "5", "4", true),
    M(SK_VM_LT, 0, "5", "-1", true),
    M(SK_VM_LT, 0, "5", "5", false),
    M(SK_VM_LTE, 0, "5", "5.0", true),
    M(SK_VM_LTE, 0, "5", "5.001", false),
    M(SK_VM_LT, 0, "0x10", "15", true),
    M(SK_VM_LT, 0, "0x10", "16", false),
    M(SK_VM_GT, 0, "15", "0x10", true),
    M(SK_VM_GTE, 0, "0x1410", "0x1410", true),
    M(SK_VM_GT, 0, "5000", "0x1410", true),
    M(SK_VM_GT, 0, "5136", "0X1410", false),
    M(SK_VM_LT, 0, "0", "-0x1", true),
    M(SK_VM_GT, 0, "-5", "-4", true),
    M(SK_VM_LT, 0, "-5", "-6", true),
    M(SK_VM_LTE, 0, "0", "-0", true),
    M(SK_VM_LT, 0, "0", "-0", false),
    M(SK_VM_GT, 0, "1.5", "2", true),
    M(SK_VM_LT, 0, "1.5", "1.49", true),
    M(SK_VM_GT, 0, "1e3", "1001", true),
    M(SK_VM_GT, 0, "1e3", "1000", false),
    M(SK_VM_GT, 0, "+7", "8", true),
    M(SK_VM_LT, 0, "0.5", ".25", true),
    M(SK_VM_GT, 0, "9223372036854775807", "9223372036854775808", true),
    M(SK_VM_LTE, 0, "0xFFFFFFFFFFFFFFFF", "18446744073709551615", true),
    M(SK_VM_LT, 0, "-9223372036854775808", "-18446744073709551615", true),
    M(SK_VM_GT, 0, "5", "abc", false),
    M(SK_VM_LT, 0, "5", "abc", false),
    M(SK_VM_GT, 0, "5", "", false),
    M(SK_VM_GT, 0, "5", " 6", false),
    M(SK_VM_GT, 0, "5", "6 ", false),
    M(SK_VM_GT, 0, "5", "0x", false),
    M(SK_VM_GT, 0, "5", "1e", false),
    M(SK_VM_GT, 0, "5", "inf", false),
};

ParameterizedTestParameters(value, match_table)
{
    return cr_make_param_array(struct mcase, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct mcase *c, value, match_table)
{
    bool got = try_match((sk_vm_kind)c->kind, c->flags, c->pat, c->patn, c->val, c->valn);
    cr_assert_eq(got,
                 c->want,
                 "kind %d flags %#x pattern '%s' value '%s': got %d",
                 c->kind,
                 c->flags,
                 c->pat,
                 c->val,
                 got);
    SK_ASSERT_NO_LEAKS();
}

// Every literal case behaves the same with SK_VM_WILDCARDS when the pattern has no '*', '?', '\'.
Test(value, literal_and_wildcard_forms_agree)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct mcase *c = &cases[i];
        if (c->kind > SK_VM_ENDSWITH || (c->flags & W) || c->patn >= 0)
            continue;
        if (strpbrk(c->pat, "*?\\"))
            continue;
        bool got = try_match((sk_vm_kind)c->kind, c->flags | W, c->pat, -1, c->val, c->valn);
        cr_assert_eq(got, c->want, "pattern '%s' value '%s'", c->pat, c->val);
    }
}

// ASCII folding of every byte pair, through the literal path (table) and the glob path (the
// value is folded eight bytes at a time into the scratch).
Test(value, ascii_folding_every_pair)
{
    sk_vm_scratch *s = sk_vm_scratch_new();
    for (int a = 1; a < 128; a++) {
        char lit[21], glob[22];
        memset(lit, a, 20);
        memset(glob, a, 21);
        glob[10] = '?';
        if (a == '*' || a == '?' || a == '\\')
            continue;
        sk_vm *vl = NULL, *vg = NULL;
        cr_assert_eq(sk_vm_compile(&vl, SK_VM_EQUALS, lit, 20, 0, NULL, NULL), SK_OK);
        cr_assert_eq(sk_vm_compile(&vg, SK_VM_EQUALS, glob, 21, W, NULL, NULL), SK_OK);
        for (int b = 1; b < 128; b++) {
            char v[21];
            memset(v, b, 21);
            int la = a >= 'A' && a <= 'Z' ? a + 32 : a, lb = b >= 'A' && b <= 'Z' ? b + 32 : b;
            bool want = la == lb;
            cr_assert_eq(sk_vm_match(vl, v, 20, s), want, "literal %d vs %d", a, b);
            v[10] = 'x';
            cr_assert_eq(sk_vm_match(vg, v, 21, s), want, "glob %d vs %d", a, b);
        }
        sk_vm_free(vl);
        sk_vm_free(vg);
    }
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

// Differential test: the linear glob matcher against a naive backtracking matcher over code
// points, on random small patterns and values.
typedef struct gitem {
    int type; // 0 literal, 1 '?', 2 '*'
    unsigned cp;
} gitem;

static unsigned ref_fold(unsigned cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp == 0xC9) // É
        return 0xE9;
    return cp;
}

static bool ref_match(const gitem *p, size_t np, const unsigned *v, size_t nv, bool ci)
{
    if (np == 0)
        return nv == 0;
    switch (p->type) {
    case 2:
        for (size_t k = 0; k <= nv; k++)
            if (ref_match(p + 1, np - 1, v + k, nv - k, ci))
                return true;
        return false;
    case 1:
        return nv > 0 && ref_match(p + 1, np - 1, v + 1, nv - 1, ci);
    default:
        if (nv == 0)
            return false;
        if (ci ? ref_fold(p->cp) != ref_fold(v[0]) : p->cp != v[0])
            return false;
        return ref_match(p + 1, np - 1, v + 1, nv - 1, ci);
    }
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

Test(value, glob_agrees_with_backtracking_reference)
{
    static const char *const ptoks[] = { "a", "b",   "A",   "\xC3\xA9", "\xC3\x89", "*",
                                         "?", "\\*", "\\?", "\\\\",     "\\a" };
    static const unsigned vcps[] = { 'a', 'b', 'A', 'B', 0xE9, 0xC9, '*', '?', '\\' };
    unsigned long seed = 12345;
    sk_vm_scratch *s = sk_vm_scratch_new();
    for (int iter = 0; iter < 20000; iter++) {
        char pat[64];
        size_t pn = 0;
        gitem items[32];
        size_t ni = 0;
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t plen = (seed >> 33) % 8;
        for (size_t i = 0; i < plen; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t t = (seed >> 33) % (sizeof ptoks / sizeof ptoks[0]);
            const char *tk = ptoks[t];
            memcpy(pat + pn, tk, strlen(tk));
            pn += strlen(tk);
            if (t == 5)
                items[ni++] = (gitem){ 2, 0 };
            else if (t == 6)
                items[ni++] = (gitem){ 1, 0 };
            else if (t == 7)
                items[ni++] = (gitem){ 0, '*' };
            else if (t == 8)
                items[ni++] = (gitem){ 0, '?' };
            else if (t == 9)
                items[ni++] = (gitem){ 0, '\\' };
            else if (t == 10) {
                items[ni++] = (gitem){ 0, '\\' };
                items[ni++] = (gitem){ 0, 'a' };
            } else if (t == 3)
                items[ni++] = (gitem){ 0, 0xE9 };
            else if (t == 4)
                items[ni++] = (gitem){ 0, 0xC9 };
            else
                items[ni++] = (gitem){ 0, (unsigned char)tk[0] };
        }
        char val[64];
        unsigned vc[16];
        size_t vn = 0;
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t vlen = (seed >> 33) % 9;
        for (size_t i = 0; i < vlen; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            vc[i] = vcps[(seed >> 33) % (sizeof vcps / sizeof vcps[0])];
            vn += put_utf8(val + vn, vc[i]);
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int kind = (int)((seed >> 33) % 4);
        bool ci = (seed >> 40) & 1;
        gitem full[40];
        size_t nf = 0;
        if (kind == SK_VM_CONTAINS || kind == SK_VM_ENDSWITH)
            full[nf++] = (gitem){ 2, 0 };
        memcpy(full + nf, items, ni * sizeof *items);
        nf += ni;
        if (kind == SK_VM_CONTAINS || kind == SK_VM_STARTSWITH)
            full[nf++] = (gitem){ 2, 0 };
        bool want = ref_match(full, nf, vc, vlen, ci);

        sk_vm *vm = NULL;
        cr_assert_eq(sk_vm_compile(&vm, (sk_vm_kind)kind, pat, pn, W | (ci ? 0 : C), NULL, NULL),
                     SK_OK);
        bool got = sk_vm_match(vm, val, vn, s);
        sk_vm_free(vm);
        cr_assert_eq(got,
                     want,
                     "kind %d ci %d pattern '%.*s' value '%.*s': got %d",
                     kind,
                     ci,
                     (int)pn,
                     pat,
                     (int)vn,
                     val,
                     got);
    }
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

// Case-insensitive "contains" of ASCII text takes the rare-byte search below 8 bytes and
// Horspool from 8: both against a naive search, with the pattern often planted in another case
// at the very start or end, on values long enough for many candidates.
static char lower_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static char other_case(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

static bool naive_contains_ci(const char *t, size_t n, const char *p, size_t m)
{
    for (size_t i = 0; i + m <= n; i++) {
        size_t j = 0;
        while (j < m && lower_ascii(t[i + j]) == lower_ascii(p[j]))
            j++;
        if (j == m)
            return true;
    }
    return m == 0;
}

Test(value, ascii_contains_agrees_with_naive_search)
{
    static const char alpha[] = "aAbBgGxX-\\ eE";
    unsigned long seed = 777;
    sk_vm_scratch *s = sk_vm_scratch_new();
    size_t found = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char t[320], p[24];
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t n = (seed >> 33) % 300, m = 1 + (seed >> 20) % 16;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            t[i] = alpha[(seed >> 33) % (sizeof alpha - 1)];
        }
        for (size_t i = 0; i < m; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            p[i] = alpha[(seed >> 33) % (sizeof alpha - 1)];
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        unsigned plant = (unsigned)(seed >> 33) % 4; // 0 none, 1 start, 2 end, 3 anywhere
        if (plant && m <= n) {
            size_t at = plant == 1 ? 0 : plant == 2 ? n - m : (size_t)(seed >> 40) % (n - m + 1);
            for (size_t i = 0; i < m; i++)
                t[at + i] = (seed >> (i % 32)) & 1 ? other_case(p[i]) : p[i];
        }
        bool want = naive_contains_ci(t, n, p, m);
        found += want;
        sk_vm *vm = NULL;
        cr_assert_eq(sk_vm_compile(&vm, SK_VM_CONTAINS, p, m, 0, NULL, NULL), SK_OK);
        bool got = sk_vm_match(vm, t, n, s);
        sk_vm_free(vm);
        cr_assert_eq(got, want, "pattern '%.*s' value '%.*s': got %d", (int)m, p, (int)n, t, got);
    }
    cr_assert_gt(found, 5000); // the planted cases, and chance
    cr_assert_lt(found, 19000);
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

// Arbitrary bytes (invalid UTF-8, NULs, lone continuation bytes) in patterns and values: no
// crash, no sanitizer report, and the literal forms agree with memcmp/memmem when cased.
Test(value, random_bytes_do_not_crash)
{
    static const unsigned char alphabet[] = { 'a',  'A',  '*',  '?',  '\\', 0,    0x80, 0xBF, 0xC3,
                                              0xA9, 0x89, 0xD0, 0xE2, 0xF0, 0xFF, '.',  '(' };
    unsigned long seed = 777;
    sk_vm_scratch *s = sk_vm_scratch_new();
    for (int iter = 0; iter < 20000; iter++) {
        char pat[16], val[24];
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t pn = (seed >> 33) % sizeof pat, vn = (seed >> 45) % sizeof val;
        for (size_t i = 0; i < pn; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            pat[i] = (char)alphabet[(seed >> 33) % sizeof alphabet];
        }
        for (size_t i = 0; i < vn; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            val[i] = (char)alphabet[(seed >> 33) % sizeof alphabet];
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int kind = (int)((seed >> 33) % 5);
        unsigned flags = (unsigned)(seed >> 40) & (W | C | RI | RM | RS);
        sk_vm *vm = NULL;
        sk_status st = sk_vm_compile(&vm, (sk_vm_kind)kind, pat, pn, flags, NULL, NULL);
        if (st != SK_OK) {
            cr_assert_eq(kind, SK_VM_REGEX);
            continue;
        }
        bool got = sk_vm_match(vm, val, vn, s);
        if (kind == SK_VM_EQUALS && (flags & C) && !(flags & W))
            cr_assert_eq(got, pn == vn && memcmp(pat, val, pn) == 0);
        if (kind == SK_VM_CONTAINS && (flags & C) && !(flags & W))
            cr_assert_eq(got, pn == 0 || (vn >= pn && memmem(val, vn, pat, pn) != NULL));
        sk_vm_free(vm);
    }
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// compile errors

struct ecase {
    int kind;
    unsigned flags;
    char pat[40];
    char msg[64]; // expected substring of the message
    long off;     // expected *erroff, -1: not checked
};

static struct ecase errors[] = {
    { SK_VM_REGEX, 0, "(ab", "missing closing parenthesis", 3 },
    { SK_VM_REGEX, 0, "a{2,1}", "numbers out of order", 5 },
    { SK_VM_REGEX, 0, "ab[c", "missing terminating ]", 4 },
    { SK_VM_REGEX, 0, "abc\xFF", "UTF-8 error", 3 },
    { SK_VM_REGEX, 0, "x**", "quantifier does not follow", 2 },
    { SK_VM_CIDR, 0, "10.0.0.0/33", "prefix length 33 exceeds 32", 9 },
    { SK_VM_CIDR, 0, "::/129", "exceeds 128", -1 },
    { SK_VM_CIDR, 0, "10.0.0.1/8", "host bits set", -1 },
    { SK_VM_CIDR, 0, "fe80::1/10", "host bits set", -1 },
    { SK_VM_CIDR, 0, "10.0.0.0/", "bad prefix length", 9 },
    { SK_VM_CIDR, 0, "10.0.0.0/8x", "bad prefix length", 10 },
    { SK_VM_CIDR, 0, "10.0.0.0/-8", "bad prefix length", 9 },
    { SK_VM_CIDR, 0, "10.0.0/8", "not an IPv4 or IPv6 address", 0 },
    { SK_VM_CIDR, 0, "foo", "not an IPv4 or IPv6 address", 0 },
    { SK_VM_CIDR, 0, "", "not an IPv4 or IPv6 address", 0 },
    { SK_VM_CIDR, 0, "fe80::%eth0/10", "not an IPv4 or IPv6 address", 0 },
    { SK_VM_GT, 0, "abc", "is not a number", 0 },
    { SK_VM_GTE, 0, "", "is not a number", 0 },
    { SK_VM_LT, 0, "0x", "is not a number", 0 },
    { SK_VM_LT, 0, "1e", "is not a number", 0 },
    { SK_VM_LTE, 0, "--1", "is not a number", 0 },
    { SK_VM_LTE, 0, "1.2.3", "is not a number", 0 },
    { SK_VM_LTE, 0, " 1", "is not a number", 0 },
    { SK_VM_LTE, 0, "0x12345678901234567", "is not a number", 0 },
};

ParameterizedTestParameters(value, compile_errors)
{
    return cr_make_param_array(struct ecase, errors, sizeof errors / sizeof errors[0]);
}

ParameterizedTest(struct ecase *c, value, compile_errors)
{
    sk_vm *vm = (sk_vm *)0x1;
    sk_buf err;
    sk_buf_init(&err, 1024);
    size_t off = 12345;
    sk_status st =
            sk_vm_compile(&vm, (sk_vm_kind)c->kind, c->pat, strlen(c->pat), c->flags, &err, &off);
    cr_assert_eq(st, SK_ERR_RULE_SYNTAX, "pattern '%s'", c->pat);
    cr_assert_eq(vm, (sk_vm *)0x1, "out written on failure");
    cr_assert(strstr(sk_buf_str(&err), c->msg),
              "pattern '%s': message '%s' lacks '%s'",
              c->pat,
              sk_buf_str(&err),
              c->msg);
    if (c->off >= 0)
        cr_assert_eq(off, (size_t)c->off, "pattern '%s': offset %zu", c->pat, off);
    sk_buf_fini(&err);
    SK_ASSERT_NO_LEAKS();
}

Test(value, compile_error_without_err_buffer)
{
    sk_vm *vm = NULL;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, "(", 1, 0, NULL, NULL), SK_ERR_RULE_SYNTAX);
    cr_assert_null(vm);
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, "(", 1, 0, NULL, NULL), SK_ERR_RULE_SYNTAX);
    SK_ASSERT_NO_LEAKS();
}

Test(value, regex_error_message_is_pcre2_text)
{
    sk_vm *vm = NULL;
    sk_buf err;
    sk_buf_init(&err, 1024);
    size_t off = 0;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, "foo(bar", 7, 0, &err, &off), SK_ERR_RULE_SYNTAX);
    cr_assert_str_eq(sk_buf_str(&err), "invalid regular expression: missing closing parenthesis");
    cr_assert_eq(off, 7);
    sk_buf_fini(&err);
}

// ---------------------------------------------------------------------------------------------
// speed: no exponential blow-up

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(value, many_stars_on_a_long_value_stay_linear, .timeout = 20)
{
    const size_t n = 100 * 1024;
    char *v = malloc(n + 1);
    memset(v, 'a', n);
    v[n] = '\0';
    sk_vm_scratch *s = sk_vm_scratch_new();
    static const struct {
        int kind;
        unsigned flags;
        const char *pat;
    } pats[] = {
        { SK_VM_EQUALS, W, "*a*a*a*a*a*b" },
        { SK_VM_CONTAINS, W, "a*a*a*a*a*b" },
        { SK_VM_EQUALS, W | C, "*a*a*a*a*a*b*" },
        { SK_VM_EQUALS, W, "*a?a*a?a*a?a*a?a*a?b*" },
        { SK_VM_EQUALS, W, "*?????????????????????????????????????????b" },
        { SK_VM_CONTAINS, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" },
        { SK_VM_CONTAINS, C, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab" },
        { SK_VM_EQUALS, W, "*\xC3\x84*a*a*b" },
    };
    double t0 = now();
    for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
        sk_vm *vm = NULL;
        cr_assert_eq(sk_vm_compile(&vm,
                                   (sk_vm_kind)pats[i].kind,
                                   pats[i].pat,
                                   strlen(pats[i].pat),
                                   pats[i].flags,
                                   NULL,
                                   NULL),
                     SK_OK);
        cr_assert_not(sk_vm_match(vm, v, n, s), "%s", pats[i].pat);
        v[n - 1] = 'b';
        if (i != 7)
            cr_assert(sk_vm_match(vm, v, n, s), "%s with a final b", pats[i].pat);
        v[n - 1] = 'a';
        sk_vm_free(vm);
    }
    double dt = now() - t0;
    cr_assert_lt(dt, 2.0, "took %.3f s", dt);
    sk_vm_scratch_free(s);
    free(v);
    SK_ASSERT_NO_LEAKS();
}

Test(value, catastrophic_regex_hits_the_match_limit, .timeout = 20)
{
    const size_t n = 5000;
    char *v = malloc(n + 2);
    memset(v, 'a', n);
    v[n] = '!';
    v[n + 1] = '\0';
    sk_vm *vm = NULL;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, "(a+)+$", 6, 0, NULL, NULL), SK_OK);
    sk_vm_scratch *s = sk_vm_scratch_new();
    cr_assert_eq(sk_vm_scratch_limit_hits(s), 0);
    double t0 = now();
    cr_assert_not(sk_vm_match(vm, v, n + 1, s));
    double dt = now() - t0;
    cr_assert_eq(sk_vm_scratch_limit_hits(s), 1);
    cr_assert_lt(dt, 2.0, "took %.3f s", dt);
    // The scratch stays usable, and normal values still match.
    cr_assert(sk_vm_match(vm, "aaa", 3, s));
    cr_assert_eq(sk_vm_scratch_limit_hits(s), 1);
    sk_vm_free(vm);
    sk_vm_scratch_free(s);
    free(v);
    SK_ASSERT_NO_LEAKS();
}

// Appends one of toks[0..nt), picked by the next step of the generator *seed, to buf at *n.
static void
append_pick(char *buf, size_t *n, const char *const *toks, size_t nt, unsigned long *seed)
{
    *seed = *seed * 6364136223846793005u + 1442695040888963407u;
    const char *t = toks[(*seed >> 33) % nt];
    memcpy(buf + *n, t, strlen(t));
    *n += strlen(t);
}

// A chain of literals joined by '.*' is decided without PCRE (src/match/value.c): random chains
// (escaped metacharacters, letters, a two-byte letter; flags i, s, m) on random values (newlines
// and carriage returns among them, and some that are not valid UTF-8, which go to PCRE) must
// agree with PCRE2 itself, compiled with the options saker uses and without its limits.
Test(value, regex_chain_agrees_with_pcre2)
{
    static const char *const toks[] = { "\\+", "a",   "A", "\xC3\xA9", "\\{", "`",
                                        "ab",  "\\.", " ", "\\\n",     "\\\t" };
    static const char *const vals[] = { "+",  "a",  "A", "\xC3\xA9", "{", "`",
                                        "\n", "\r", " ", ".",        "b" };
    static const unsigned fl[] = { 0, RI, RS, RM, RI | RS };
    unsigned long seed = 4242;
    sk_vm_scratch *s = sk_vm_scratch_new();
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    size_t chains = 0, hits = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char pat[128], val[128];
        size_t pn = 0, vn = 0;
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t links = 2 + (seed >> 33) % 3;
        for (size_t l = 0; l < links; l++) {
            if (l) {
                memcpy(pat + pn, ".*", 2);
                pn += 2;
            }
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t len = 1 + (seed >> 33) % 2;
            for (size_t i = 0; i < len; i++)
                append_pick(pat, &pn, toks, sizeof toks / sizeof toks[0], &seed);
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t vlen = (seed >> 33) % 40;
        for (size_t i = 0; i < vlen; i++)
            append_pick(val, &vn, vals, sizeof vals / sizeof vals[0], &seed);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        if ((seed >> 33) % 16 == 0 && vn)
            val[(seed >> 40) % vn] = (char)0xFF; // not UTF-8
        unsigned flags = fl[(seed >> 45) % (sizeof fl / sizeof fl[0])];
        uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NO_AUTO_CAPTURE |
                        (flags & RI ? PCRE2_CASELESS : 0) | (flags & RM ? PCRE2_MULTILINE : 0) |
                        (flags & RS ? PCRE2_DOTALL : 0);
        int code;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, pn, opts, &code, &off, NULL);
        cr_assert(re, "pcre2 '%.*s'", (int)pn, pat);
        bool want = pcre2_match(re, (PCRE2_SPTR)val, vn, 0, 0, md, NULL) >= 0;
        pcre2_code_free(re);
        sk_vm *vm = NULL;
        cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, pat, pn, flags, NULL, NULL), SK_OK);
        sk_buf d;
        sk_buf_init(&d, 1024);
        sk_vm_describe(vm, &d);
        chains += strstr(sk_buf_str(&d), "chain") != NULL;
        sk_buf_fini(&d);
        bool got = sk_vm_match(vm, val, vn, s);
        sk_vm_free(vm);
        hits += want;
        cr_assert_eq(got,
                     want,
                     "flags %u pattern '%.*s' value '%.*s': got %d",
                     flags,
                     (int)pn,
                     pat,
                     (int)vn,
                     val,
                     got);
    }
    cr_assert_eq(sk_vm_scratch_limit_hits(s), 0);
    cr_assert_gt(chains, 4000, "%zu chains", chains); // the fast path was taken
    cr_assert_gt(hits, 800, "%zu hits", hits);
    pcre2_match_data_free(md);
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

// SigmaHQ's "PowerShell Command Line Obfuscation": '\+.*\+ ... \+' (14 pluses) on a command line
// with 13 used to run PCRE into its match limit (an exponential search, a few milliseconds per
// value, and a limit hit); as a chain it is decided in one pass, and right.
Test(value, regex_chain_stays_linear, .timeout = 20)
{
    const char *pat = "\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+.*\\+";
    char v[4200];
    size_t n = 0;
    for (int k = 0; k < 13; k++) {
        memset(v + n, 'x', 300);
        n += 300;
        v[n++] = '+';
    }
    sk_vm *vm = NULL, *dot = NULL;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_REGEX, pat, strlen(pat), 0, NULL, NULL), SK_OK);
    cr_assert_eq(sk_vm_compile(&dot, SK_VM_REGEX, pat, strlen(pat), RS, NULL, NULL), SK_OK);
    sk_vm_scratch *s = sk_vm_scratch_new();
    cr_assert_not(sk_vm_match(vm, v, n, s)); // 13 pluses
    v[n++] = '\n';
    v[n++] = '+';
    cr_assert_not(sk_vm_match(vm, v, n, s)); // the 14th is on the next line
    cr_assert(sk_vm_match(dot, v, n, s));    // unless '.' crosses lines
    v[n - 2] = '+';
    cr_assert(sk_vm_match(vm, v, n, s)); // 15 on one line
    // A backslash and a line feed is a line feed in PCRE: not a chain, whose literals stay on
    // one line (found by QA: "cmd\<LF>.*whoami" missed "cmd<LF>/c whoami").
    cr_assert(try_match(SK_VM_REGEX, 0, "cmd\\\n.*whoami", -1, "cmd\n/c whoami", -1));
    cr_assert_eq(sk_vm_scratch_limit_hits(s), 0);
    sk_buf d;
    sk_buf_init(&d, 256);
    sk_vm_describe(vm, &d);
    cr_assert(strstr(sk_buf_str(&d), "chain of 14 literals"), "%s", sk_buf_str(&d));
    sk_buf_fini(&d);
    sk_vm_free(vm);
    sk_vm_free(dot);
    sk_vm_scratch_free(s);
    SK_ASSERT_NO_LEAKS();
}

Test(value, one_compiled_vm_many_scratches)
{
    sk_vm *vm = NULL;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_EQUALS, "*\xC3\x84?", 4, W, NULL, NULL), SK_OK);
    sk_vm_scratch *a = sk_vm_scratch_new(), *b = sk_vm_scratch_new();
    char big[4096];
    memset(big, 'x', sizeof big);
    memcpy(big + sizeof big - 3, "\xC3\xA4z", 3);
    cr_assert(sk_vm_match(vm, big, sizeof big, a));
    cr_assert(sk_vm_match(vm, "\xC3\xA4y", 3, b));
    cr_assert_not(sk_vm_match(vm, "ay", 2, a)); // the scratch keeps no state between values
    cr_assert(sk_vm_match(vm, "\xC3\x84y", 3, a));
    sk_vm_scratch_free(a);
    sk_vm_scratch_free(b);
    sk_vm_free(vm);
    sk_vm_free(NULL);
    sk_vm_scratch_free(NULL);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// describe

struct dcase {
    int kind;
    unsigned flags;
    char pat[40];
    int patn;
    char want[80];
};

static struct dcase describes[] = {
    { SK_VM_ENDSWITH, 0, "\\mshta.exe", -1, "endswith '\\\\mshta.exe' (case-insensitive)" },
    { SK_VM_CONTAINS, C, "foo", -1, "contains 'foo' (cased)" },
    { SK_VM_EQUALS, W, "*\\cmd.exe", -1, "equals '*\\\\cmd.exe' (case-insensitive, wildcards)" },
    { SK_VM_EQUALS, W, "*a*", -1, "equals '*a*' (case-insensitive, wildcards)" },
    { SK_VM_EQUALS, W, "\\*a\\?", -1, "equals '\\\\*a\\\\?' (case-insensitive)" }, // escaped
    { SK_VM_EQUALS, 0, "*a", -1, "equals '*a' (case-insensitive)" }, // no wildcards: a literal
    { SK_VM_EQUALS, W | C, "a*b?", -1, "equals 'a*b?' (cased, wildcards)" },
    { SK_VM_STARTSWITH, 0, "it's", -1, "startswith 'it\\'s' (case-insensitive)" },
    { SK_VM_CONTAINS, 0, "a\0b\n", 4, "contains 'a\\x00b\\x0A' (case-insensitive)" },
    { SK_VM_CONTAINS, 0, "\xC3\xA9\xFF", 3, "contains '\xC3\xA9\\xFF' (case-insensitive)" },
    { SK_VM_REGEX, 0, "foo.*", -1, "re 'foo.*'" },
    { SK_VM_REGEX, RI, "foo.*", -1, "re 'foo.*' (i)" },
    { SK_VM_REGEX, RI | RM | RS, "a", -1, "re 'a' (ims)" },
    { SK_VM_REGEX, 0, "\\+.*b\\{.*`", -1, "re '\\\\+.*b\\\\{.*`' (a chain of 3 literals)" },
    { SK_VM_REGEX, RI, "\\+.*\\{", -1, "re '\\\\+.*\\\\{' (i) (a chain of 2 literals)" },
    { SK_VM_REGEX, RI, "a.*b", -1, "re 'a.*b' (i)" }, // letters under i: left to PCRE
    { SK_VM_REGEX, 0, "a.*?b", -1, "re 'a.*?b'" },
    { SK_VM_REGEX, 0, "a.*\\d", -1, "re 'a.*\\\\d'" },
    { SK_VM_REGEX, 0, "a\\\n.*b", -1, "re 'a\\\\\\x0A.*b'" }, // an escaped line feed
    { SK_VM_CIDR, 0, "10.0.0.0/8", -1, "cidr 10.0.0.0/8" },
    { SK_VM_CIDR, 0, "fe80::/10", -1, "cidr fe80::/10" },
    { SK_VM_GTE, 0, "5", -1, "gte 5" },
    { SK_VM_LT, 0, "0x10", -1, "lt 0x10" },
};

ParameterizedTestParameters(value, describe)
{
    return cr_make_param_array(struct dcase, describes, sizeof describes / sizeof describes[0]);
}

ParameterizedTest(struct dcase *c, value, describe)
{
    sk_vm *vm = NULL;
    size_t n = c->patn < 0 ? strlen(c->pat) : (size_t)c->patn;
    cr_assert_eq(sk_vm_compile(&vm, (sk_vm_kind)c->kind, c->pat, n, c->flags, NULL, NULL), SK_OK);
    sk_buf b;
    sk_buf_init(&b, 1024);
    sk_vm_describe(vm, &b);
    cr_assert_str_eq(sk_buf_str(&b), c->want);
    sk_buf_fini(&b);
    sk_vm_free(vm);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// transforms

static void assert_list(const sk_strlist *l, const char *const *want, const size_t *wantn, size_t n)
{
    cr_assert_eq(l->n, n, "got %zu strings, want %zu", l->n, n);
    for (size_t i = 0; i < n; i++) {
        size_t wn = wantn ? wantn[i] : strlen(want[i]);
        cr_assert_eq(l->len[i], wn, "string %zu: length %zu, want %zu", i, l->len[i], wn);
        cr_assert(memcmp(l->s[i], want[i], wn) == 0,
                  "string %zu: '%s', want '%s'",
                  i,
                  l->s[i],
                  want[i]);
        cr_assert_eq(l->s[i][wn], '\0', "string %zu not NUL-terminated", i);
    }
}

#define DASHES(pre, post)                                                         \
    pre "-" post, pre "/" post, pre "\xE2\x80\x93" post, pre "\xE2\x80\x94" post, \
            pre "\xE2\x80\x95" post

Test(value, windash_variants)
{
    sk_strlist l;
    sk_strlist_init(&l);
    cr_assert_eq(sk_vm_windash("/c", 2, &l), SK_OK);
    static const char *const one[] = { DASHES("", "c") };
    assert_list(&l, one, NULL, 5);
    sk_strlist_fini(&l);

    cr_assert_eq(sk_vm_windash(" -enc ", 6, &l), SK_OK);
    static const char *const enc[] = { DASHES(" ", "enc ") };
    assert_list(&l, enc, NULL, 5);
    sk_strlist_fini(&l);

    // Two positions: the first varies slowest (pySigma's order).
    cr_assert_eq(sk_vm_windash("-a /b", 5, &l), SK_OK);
    static const char *const two[] = {
        DASHES("-a ", "b"),
        DASHES("/a ", "b"),
        DASHES("\xE2\x80\x93"
               "a ",
               "b"),
        DASHES("\xE2\x80\x94"
               "a ",
               "b"),
        DASHES("\xE2\x80\x95"
               "a ",
               "b"),
    };
    assert_list(&l, two, NULL, 25);
    sk_strlist_fini(&l);

    // Only a dash after a non-word character (or at the start) and before a word character.
    static const struct {
        const char *in;
        const char *pre, *post;
    } pos[] = {
        { "--x", "-", "x" },
        { "\"/c", "\"", "c" },
        { "*-foo", "*", "foo" },
        { "-1", "", "1" },
        { "x\t-y", "x\t", "y" },
        { "\\-z", "\\", "z" },
        { "-\xC3\xA9", "", "\xC3\xA9" },
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        cr_assert_eq(sk_vm_windash(pos[i].in, strlen(pos[i].in), &l), SK_OK);
        cr_assert_eq(l.n, 5, "%s", pos[i].in);
        static const char *const alt[] = {
            "-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"
        };
        for (size_t k = 0; k < 5; k++) {
            char want[64];
            snprintf(want, sizeof want, "%s%s%s", pos[i].pre, alt[k], pos[i].post);
            cr_assert_str_eq(l.s[k], want, "%s variant %zu", pos[i].in, k);
        }
        sk_strlist_fini(&l);
    }
    static const char *const none[] = { "a-b",        "x -", "-",
                                        "",           "a/b", "x --",
                                        "\xC3\xA9-x", "- x", "C:\\Windows\\System32" };
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        cr_assert_eq(sk_vm_windash(none[i], strlen(none[i]), &l), SK_OK);
        assert_list(&l, &none[i], NULL, 1);
        sk_strlist_fini(&l);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(value, windash_limit)
{
    sk_strlist l;
    sk_strlist_init(&l);
    const char *six = "-a -b -c -d -e -f";
    cr_assert_eq(sk_vm_windash(six, strlen(six), &l), SK_OK);
    cr_assert_eq(l.n, 15625);
    cr_assert_str_eq(l.s[0], six);
    cr_assert_str_eq(l.s[1], "-a -b -c -d -e /f");
    cr_assert_str_eq(l.s[15624],
                     "\xE2\x80\x95"
                     "a \xE2\x80\x95"
                     "b \xE2\x80\x95"
                     "c \xE2\x80\x95"
                     "d \xE2\x80\x95"
                     "e \xE2\x80\x95"
                     "f");
    sk_strlist_fini(&l);
    const char *seven = "-a -b -c -d -e -f -g";
    cr_assert_eq(sk_vm_windash(seven, strlen(seven), &l), SK_ERR_LIMIT);
    cr_assert_eq(l.n, 0);
    sk_strlist_fini(&l);
    SK_ASSERT_NO_LEAKS();
}

Test(value, base64)
{
    static const char *const in[] = { "", "a", "ab", "abc", "http://", "IEX (" };
    static const char *const out[] = { "", "YQ==", "YWI=", "YWJj", "aHR0cDovLw==", "SUVYICg=" };
    sk_strlist l;
    sk_strlist_init(&l);
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++)
        cr_assert_eq(sk_vm_base64(in[i], strlen(in[i]), &l), SK_OK);
    assert_list(&l, out, NULL, sizeof out / sizeof out[0]);
    sk_strlist_fini(&l);
    SK_ASSERT_NO_LEAKS();
}

Test(value, base64offset)
{
    // The SigmaHQ rules list these encodings next to the plain strings (e.g. 'aHR0cDovL',
    // 'h0dHA6Ly', 'odHRwOi8v' for http://).
    static const struct {
        const char *in;
        const char *out[3];
    } t[] = {
        { "http://", { "aHR0cDovL", "h0dHA6Ly", "odHRwOi8v" } },
        { "IEX", { "SUVY", "lFW", "JRV" } },
        { "a", { "Y", "", "h" } },
        { "ab", { "YW", "Fi", "hY" } },
        { "abcd", { "YWJjZ", "FiY2", "hYmNk" } },
        { "", { "", "", "" } },
    };
    sk_strlist l;
    sk_strlist_init(&l);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_assert_eq(sk_vm_base64offset(t[i].in, strlen(t[i].in), &l), SK_OK);
        assert_list(&l, t[i].out, NULL, 3);
        sk_strlist_fini(&l);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(value, wide_then_base64offset)
{
    // 'Invoke-' as UTF-16LE, the form SigmaHQ's PowerShell -EncodedCommand rules list.
    sk_strlist w, b;
    sk_strlist_init(&w);
    sk_strlist_init(&b);
    cr_assert_eq(sk_vm_utf16("Invoke-", 7, SK_UTF16LE, &w), SK_OK);
    cr_assert_eq(w.n, 1);
    cr_assert_eq(sk_vm_base64offset(w.s[0], w.len[0], &b), SK_OK);
    static const char *const want[] = { "SQBuAHYAbwBrAGUALQ",
                                        "kAbgB2AG8AawBlAC0A",
                                        "JAG4AdgBvAGsAZQAtA" };
    assert_list(&b, want, NULL, 3);
    sk_strlist_fini(&b);
    cr_assert_eq(sk_vm_base64(w.s[0], w.len[0], &b), SK_OK);
    static const char *const whole[] = { "SQBuAHYAbwBrAGUALQA=" };
    assert_list(&b, whole, NULL, 1);
    sk_strlist_fini(&b);
    sk_strlist_fini(&w);
    SK_ASSERT_NO_LEAKS();
}

Test(value, utf16_bytes)
{
    static const struct {
        const char *in;
        int kind;
        const char *out;
        size_t outn;
    } t[] = {
        { "Ab", SK_UTF16LE, "A\0b\0", 4 },
        { "Ab", SK_UTF16BE, "\0A\0b", 4 },
        { "Ab",
          SK_UTF16BOM,
          "\xFF\xFE"
          "A\0b\0",
          6 },
        { "", SK_UTF16LE, "", 0 },
        { "", SK_UTF16BOM, "\xFF\xFE", 2 },
        { "\xC3\xA9", SK_UTF16LE, "\xE9\0", 2 },
        { "\xE2\x82\xAC", SK_UTF16BE, "\x20\xAC", 2 },             // €
        { "\xF0\x9F\x98\x80", SK_UTF16LE, "\x3D\xD8\x00\xDE", 4 }, // U+1F600: surrogates
        { "\xF0\x9F\x98\x80", SK_UTF16BE, "\xD8\x3D\xDE\x00", 4 },
        { "a\xFF", SK_UTF16LE, "a\0\xFD\xFF", 4 }, // invalid byte -> U+FFFD
        { "*?\\", SK_UTF16LE, "*\0?\0\\\0", 6 },   // plain bytes: no escaping
    };
    sk_strlist l;
    sk_strlist_init(&l);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_assert_eq(sk_vm_utf16(t[i].in, strlen(t[i].in), (sk_utf16_kind)t[i].kind, &l), SK_OK);
        assert_list(&l, &t[i].out, &t[i].outn, 1);
        sk_strlist_fini(&l);
    }
    SK_ASSERT_NO_LEAKS();
}

Test(value, utf16_glob_keeps_wildcards)
{
    static const struct {
        const char *in;
        int kind;
        const char *out;
        size_t outn;
    } t[] = {
        { "*ab?", SK_UTF16LE, "*a\0b\0?", 6 },
        { "a\\*", SK_UTF16LE, "a\0\\*\0", 5 },         // literal star, escaped in the output
        { "C:\\x", SK_UTF16LE, "C\0:\0\\\\\0x\0", 9 }, // literal backslash
        { "\\\\*", SK_UTF16BE, "\0\\\\*", 4 },         // \\ then a wildcard
        { "*a", SK_UTF16BOM, "\xFF\xFE*a\0", 5 },
        { "\xE2\xA8\xAA", SK_UTF16LE, "\\*\\*", 4 }, // U+2A2A: both bytes are '*'
    };
    sk_strlist l;
    sk_strlist_init(&l);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        cr_assert_eq(sk_vm_utf16_glob(t[i].in, strlen(t[i].in), (sk_utf16_kind)t[i].kind, &l),
                     SK_OK);
        assert_list(&l, &t[i].out, &t[i].outn, 1);
        sk_strlist_fini(&l);
    }

    // Round trip: the glob form matches the UTF-16 bytes of a value.
    cr_assert_eq(sk_vm_utf16_glob("*cmd\\*.exe*", 11, SK_UTF16LE, &l), SK_OK);
    sk_vm *vm = NULL;
    cr_assert_eq(sk_vm_compile(&vm, SK_VM_EQUALS, l.s[0], l.len[0], W, NULL, NULL), SK_OK);
    sk_strlist v;
    sk_strlist_init(&v);
    cr_assert_eq(sk_vm_utf16("run CMD*.EXE now", 16, SK_UTF16LE, &v), SK_OK);
    cr_assert_eq(sk_vm_utf16("run cmdX.exe now", 16, SK_UTF16LE, &v), SK_OK);
    sk_vm_scratch *s = sk_vm_scratch_new();
    cr_assert(sk_vm_match(vm, v.s[0], v.len[0], s));
    cr_assert_not(sk_vm_match(vm, v.s[1], v.len[1], s));
    sk_vm_scratch_free(s);
    sk_vm_free(vm);
    sk_strlist_fini(&v);
    sk_strlist_fini(&l);
    SK_ASSERT_NO_LEAKS();
}

Test(value, unescape)
{
    sk_buf b;
    sk_buf_init(&b, 64);
    bool wild = true;
    const char *in = "a\\*b\\?c\\\\d\\e\\";
    cr_assert_eq(sk_vm_unescape(in, strlen(in), &b, &wild), SK_OK);
    cr_assert_str_eq(sk_buf_str(&b), "a*b?c\\d\\e\\");
    cr_assert_not(wild);
    sk_buf_reset(&b);
    cr_assert_eq(sk_vm_unescape("a*b", 3, &b, &wild), SK_OK);
    cr_assert_str_eq(sk_buf_str(&b), "a*b");
    cr_assert(wild);
    sk_buf_reset(&b);
    cr_assert_eq(sk_vm_unescape("x?", 2, &b, NULL), SK_OK);
    sk_buf_fini(&b);

    sk_buf small;
    sk_buf_init(&small, 4);
    cr_assert_eq(sk_buf_adds(&small, "ab"), SK_OK);
    cr_assert_eq(sk_vm_unescape("cdef", 4, &small, NULL), SK_ERR_LIMIT);
    cr_assert_str_eq(sk_buf_str(&small), "ab"); // nothing appended on failure
    sk_buf_fini(&small);
    SK_ASSERT_NO_LEAKS();
}

Test(value, strlist_keeps_lengths_and_nuls)
{
    sk_strlist l;
    sk_strlist_init(&l);
    for (int i = 0; i < 100; i++)
        sk_strlist_add(&l, "a\0b", 3);
    sk_strlist_add(&l, NULL, 0);
    cr_assert_eq(l.n, 101);
    cr_assert_eq(l.len[99], 3);
    cr_assert(memcmp(l.s[99], "a\0b", 4) == 0);
    cr_assert_eq(l.len[100], 0);
    cr_assert_str_eq(l.s[100], "");
    sk_strlist_fini(&l);
    cr_assert_eq(l.n, 0);
    sk_strlist_fini(&l);
    SK_ASSERT_NO_LEAKS();
}

// Folded values are remembered only while the caller vouches that an address and length stand
// for the same bytes (sk_vm_scratch_values), and only until the next such call.
Test(value, folded_values_are_remembered_only_when_vouched_for)
{
    sk_vm *glob = NULL, *cyr = NULL;
    cr_assert_eq(sk_vm_compile(&glob, SK_VM_EQUALS, "1?", 2, W, NULL, NULL), SK_OK);
    cr_assert_eq(sk_vm_compile(&cyr, SK_VM_CONTAINS, "ж", strlen("ж"), 0, NULL, NULL), SK_OK);
    sk_vm_scratch *s = sk_vm_scratch_new();
    char buf[8];
    memcpy(buf, "15", 3);
    cr_expect(sk_vm_match(glob, buf, 2, s));
    memcpy(buf, "21", 3); // same address and length, other bytes: nothing was remembered
    cr_expect(!sk_vm_match(glob, buf, 2, s));
    sk_vm_scratch_values(s);
    memcpy(buf, "15", 3);
    cr_expect(sk_vm_match(glob, buf, 2, s));
    cr_expect(sk_vm_match(glob, buf, 2, s)); // remembered
    sk_vm_scratch_values(s);
    memcpy(buf, "21", 3);
    cr_expect(!sk_vm_match(glob, buf, 2, s));
    sk_vm_scratch_forget(s); // from here on, nothing is remembered again
    memcpy(buf, "15", 3);
    cr_expect(sk_vm_match(glob, buf, 2, s));
    memcpy(buf, "21", 3);
    cr_expect(!sk_vm_match(glob, buf, 2, s));
    memcpy(buf, "\xd0\x96x", 4); // "Жx": folds to "жx"
    cr_expect(sk_vm_match(cyr, buf, 3, s));
    cr_expect(!sk_vm_match(cyr, "plain", 5, s)); // ASCII text cannot hold a Cyrillic letter
    memcpy(buf, "abc", 4); // same address and length, now ASCII: nothing was remembered
    cr_expect(!sk_vm_match(cyr, buf, 3, s));
    memcpy(buf, "\xd0\x96x", 4);
    cr_expect(sk_vm_match(cyr, buf, 3, s));
    sk_vm_scratch_values(s);
    memcpy(buf, "abc", 4);
    cr_expect(!sk_vm_match(cyr, buf, 3, s)); // ASCII, remembered
    sk_vm_scratch_values(s);
    memcpy(buf, "\xd0\x96x", 4);
    cr_expect(sk_vm_match(cyr, buf, 3, s));
    sk_vm_scratch_free(s);
    sk_vm_free(glob);
    sk_vm_free(cyr);
    SK_ASSERT_NO_LEAKS();
}

// A pattern whose backslashes escape nothing ('\' before anything but '*', '?', '\') has no
// wildcard: with SK_VM_WILDCARDS it compiles to the same literal test as without, also with
// letters that fold beyond ASCII.
Test(value, lone_backslashes_are_literal_with_wildcards)
{
    static const char *const pats[] = {
        "C:\\Windows\\System32\\",
        "\\",
        "x\\",
        "\\mshta.exe",
        "\xC3\x84"
        "Bc\\d",
        "\xC3\xA4"
        "bC\\D",
        // sixteen bytes at a time
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "ABCDEFGHIJKLMNO\xC3\x84qrstuvwxyz\\x",
    };
    static const char *const vals[] = {
        "c:\\windows\\system32\\",
        "C:\\WINDOWS\\SYSTEM32\\",
        "C:\\Windows\\System32",
        "\\",
        "",
        "X\\",
        "x",
        "C:\\x\\MSHTA.EXE",
        "\xC3\xA4"
        "bc\\d",
        "\xC3\x84"
        "BC\\D",
        "abc\\d",
        "c:\\program files (x86)\\microsoft\\edge\\application\\MSEDGE.EXE",
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe.old",
        "abcdefghijklmno\xC3\xA4QRSTUVWXYZ\\X",
        "abcdefghijklmno\xC3\x84QRSTUVWXYZ\\X",
    };
    for (int k = SK_VM_EQUALS; k <= SK_VM_ENDSWITH; k++)
        for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++)
            for (unsigned f = 0; f <= C; f += C)
                for (size_t v = 0; v < sizeof vals / sizeof vals[0]; v++) {
                    bool lit = try_match((sk_vm_kind)k, f, pats[p], -1, vals[v], -1);
                    bool glob = try_match((sk_vm_kind)k, f | W, pats[p], -1, vals[v], -1);
                    cr_assert_eq(
                            lit, glob, "kind %d flags %#x '%s' on '%s'", k, f, pats[p], vals[v]);
                }
    // and the escapes still escape
    cr_assert(try_match(SK_VM_EQUALS, W, "a\\*b", -1, "a*b", -1));
    cr_assert(!try_match(SK_VM_EQUALS, W, "a\\*b", -1, "axb", -1));
    cr_assert(try_match(SK_VM_EQUALS, W, "a\\\\b", -1, "a\\b", -1));
    cr_assert(try_match(SK_VM_EQUALS, W, "a\\?", -1, "A?", -1));
    // an escape across two blocks of sixteen bytes
    cr_assert(try_match(
            SK_VM_EQUALS, W, "0123456789abcde\\\\xyzxyzxyz", -1, "0123456789ABCDE\\XYZXYZXYZ", -1));
    cr_assert(!try_match(SK_VM_EQUALS,
                         W,
                         "0123456789abcde\\\\xyzxyzxyz",
                         -1,
                         "0123456789ABCDE\\\\XYZXYZXYZ",
                         -1));
    cr_assert(try_match(
            SK_VM_EQUALS, W, "0123456789abcdef\\*xyzxyzxyz", -1, "0123456789abcdef*xyzxyzxyz", -1));
    cr_assert(try_match(
            SK_VM_EQUALS, W, "0123456789abcdef*xyzxyzxyz", -1, "0123456789abcdefQxyzxyzxyz", -1));
    SK_ASSERT_NO_LEAKS();
}

// A predicate copied into an image (the compiled-rule cache) and read back matches as the
// compiled one: literals, globs, networks, numbers; a regex gets its PCRE2 code at its first match.
Test(value, image_copies_match_as_the_compiled_predicates)
{
    static const struct {
        sk_vm_kind kind;
        const char *pat;
        unsigned flags;
        const char *yes, *no;
    } icases[] = {
        { SK_VM_CONTAINS, "PowerShell", 0, "c:\\windows\\powershell.exe", "pwsh.exe" },
        { SK_VM_EQUALS, "a*b?c", SK_VM_WILDCARDS, "aXXbYc", "abc" },
        { SK_VM_REGEX, "^a\\d+b$", 0, "a123b", "a12xb" },
        { SK_VM_REGEX, "foo.*bar", SK_VM_RE_I, "xxfooYYbar", "barfoo" }, // a chain: no PCRE2
        { SK_VM_CIDR, "10.0.0.0/8", 0, "10.1.2.3", "11.0.0.1" },
        { SK_VM_GT, "4", 0, "5", "4" },
    };
    sk_vm_scratch *s = sk_vm_scratch_new();
    for (size_t i = 0; i < sizeof icases / sizeof icases[0]; i++) {
        sk_vm *vm = NULL;
        cr_assert_eq(sk_vm_compile(&vm,
                                   icases[i].kind,
                                   icases[i].pat,
                                   strlen(icases[i].pat),
                                   icases[i].flags,
                                   NULL,
                                   NULL),
                     SK_OK);
        sk_img_w w;
        sk_img_w_init(&w);
        sk_img_off o = sk_vm_image_put(&w, vm);
        cr_assert_not(w.failed);
        size_t size = w.len, nmap = sk_img_map_words(size);
        unsigned char *block = aligned_alloc(16, (size + 15) & ~(size_t)15);
        uint64_t *map = malloc(nmap * sizeof(uint64_t));
        memcpy(block, w.buf, size);
        memcpy(map, sk_img_map(&w), nmap * sizeof(uint64_t));
        sk_img_w_fini(&w);
        cr_assert(sk_img_relocate(block, size, map));
        sk_vm *copy = (sk_vm *)(void *)(block + o - 1);
        cr_assert(sk_vm_image_fix(copy));
        for (int twice = 0; twice < 2; twice++) { // the second time with the code made
            cr_assert(sk_vm_match(copy, icases[i].yes, strlen(icases[i].yes), s),
                      "%s",
                      icases[i].pat);
            cr_assert_not(
                    sk_vm_match(copy, icases[i].no, strlen(icases[i].no), s), "%s", icases[i].pat);
        }
        sk_buf a, b;
        sk_buf_init(&a, 4096);
        sk_buf_init(&b, 4096);
        sk_vm_describe(vm, &a);
        sk_vm_describe(copy, &b);
        cr_assert_str_eq(sk_buf_str(&b), sk_buf_str(&a));
        sk_buf_fini(&a);
        sk_buf_fini(&b);
        sk_vm_image_release(copy);
        free(map);
        free(block);
        sk_vm_free(vm);
    }
    sk_vm_scratch_free(s);
}
