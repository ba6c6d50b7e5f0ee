// Output sinks: display widths of the table.
#include <string.h>

#include <criterion/criterion.h>

#include "output/sink.h"

static size_t width(const char *s)
{
    return sk_text_width(s, strlen(s));
}

// Terminals give East Asian wide characters and emoji two columns and combining marks none,
// whatever script they come from (the table's padding follows).
Test(sink, text_width_follows_the_terminals_widths)
{
    cr_expect_eq(width("PLAIN-HOST"), 10);
    cr_expect_eq(width("HOST\xF0\x9F\x9A\x80ROCKET"), 12, "U+1F680 ROCKET is wide");
    cr_expect_eq(width("HOST\xE2\x98\x95"
                       "COFFEE"),
                 12,
                 "U+2615 HOT BEVERAGE is wide");
    cr_expect_eq(width("e\xD6\x91\xD6\x91\xD6\x91HEBREW"), 7, "U+0591 is a combining mark");
    cr_expect_eq(
            width("\xE0\xB8\x81\xE0\xB8\xB1\xE0\xB8\x81THAI"), 6, "U+0E31 is a combining mark");
    cr_expect_eq(width("e\xCC\x81"), 1, "U+0301 is a combining mark");
    cr_expect_eq(width("\xE4\xB8\xAD\xE6\x96\x87"), 4, "CJK ideographs are wide");
    cr_expect_eq(width("a\xE2\x80\x8B"
                       "b"),
                 2,
                 "U+200B ZERO WIDTH SPACE");
    cr_expect_eq(width("\xC3\xA9t\xC3\xA9"), 3);
}
