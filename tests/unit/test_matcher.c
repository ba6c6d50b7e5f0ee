// The matcher's per-event work: field names mapped to rule name ids through the name memo (a
// matcher remembers the ids of the names it met), and the event's channel to its id (a matcher
// remembers the last one), compared with a fresh matcher that has met none.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "core/buf.h"
#include "core/diag.h"
#include "event/event.h"
#include "helpers.h"
#include "rules/ruleset.h"

// Rule field names of every length class of the memo's comparison (under 4, 4 to 7, 8 and more,
// a multiple of 8, up to 16 (whose first and last eight bytes are all of it) and 17 (whose ninth
// byte is in neither), its longest and one byte over, which the memo does not keep).
static const char *const names[] = {
    "A",
    "Ab",
    "Abc",
    "Abcd",
    "Abcde",
    "AbcdEfg",
    "AbcdEfgh",
    "AbcdEfghI",
    "AbCdEfGhIjKlMnO",
    "AbCdEfGhIjKlMnOp",
    "AbCdEfGhIjKlMnOpQ",
    "AbCdEfGhIjKlMnOpQrSt",
    "AbCdEfGhIjKlMnOpQrStUvWx",
    "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIjKlMn",
    "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIjKlMnO",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void diag_collect(void *ctx, const sk_diag *d)
{
    (void)ctx;
    (void)d;
}

static sk_ruleset *load_rules(void)
{
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    for (size_t i = 0; i < NNAMES; i++) {
        char rule[512], file[32];
        snprintf(rule,
                 sizeof rule,
                 "title: R%zu\nlogsource: {product: windows}\n"
                 "detection:\n  sel: {%s: 'v%zu'}\n  condition: sel\n",
                 i,
                 names[i],
                 i);
        snprintf(file, sizeof file, "r%zu.yml", i);
        cr_assert_eq(sk_rule_loader_add_buffer(l, file, rule, strlen(rule), &dl), SK_OK);
    }
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_assert_eq(sk_ruleset_count(rs), NNAMES);
    return rs;
}

// An event of one field (no channel: every rule is a candidate).
static void one_field(sk_event *ev, const char *name, const char *value)
{
    sk_event_reset(ev);
    cr_assert_eq(sk_event_add(ev, name, strlen(name), value, strlen(value), 0), SK_OK);
    sk_event_finish(ev);
}

// The hits of a matcher that has seen events before, and of a fresh one, which must agree.
static size_t hits(sk_matcher *m, const sk_ruleset *rs, const sk_event *ev)
{
    sk_matcher *fresh = sk_matcher_new(rs);
    size_t want = sk_matcher_run(fresh, ev, NULL, NULL);
    sk_matcher_free(fresh);
    size_t got = sk_matcher_run(m, ev, NULL, NULL);
    cr_expect_eq(got, want, "field %s", sk_event_field(ev, 0)->name);
    return got;
}

Test(matcher, name_memo_tells_names_apart_by_every_byte)
{
    sk_ruleset *rs = load_rules();
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    for (size_t i = 0; i < NNAMES; i++) {
        char value[16], name[64];
        snprintf(value, sizeof value, "v%zu", i);
        size_t n = strlen(names[i]);
        for (size_t at = 0; at < n; at++) {
            // The name itself (the memo keeps it), the name with byte `at` changed (in the middle
            // of a long name, it has the same memo slot), then the name again.
            one_field(&ev, names[i], value);
            cr_expect_eq(hits(m, rs, &ev), 1, "%s", names[i]);
            memcpy(name, names[i], n + 1);
            name[at] = '_'; // not a letter: no case-insensitive match either
            one_field(&ev, name, value);
            cr_expect_eq(hits(m, rs, &ev), 0, "%s", name);
            one_field(&ev, names[i], value);
            cr_expect_eq(hits(m, rs, &ev), 1, "%s again", names[i]);
        }
        // Longer and shorter by one byte: other names.
        memcpy(name, names[i], n);
        memcpy(name + n, "x", 2);
        one_field(&ev, name, value);
        cr_expect_eq(hits(m, rs, &ev), 0, "%s", name);
        if (n > 1) {
            name[n - 1] = '\0';
            one_field(&ev, name, value);
            hits(m, rs, &ev); // may be another rule's name: as a fresh matcher says
        }
    }
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// Events of one channel after another, of the same channel in other case (channels compare
// case-insensitively), empty, and too long to be remembered: the long-lived matcher finds the
// rules of each event's channel as a fresh one does.
Test(matcher, channel_memo_follows_the_channel)
{
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    const char *rules[] = {
        "title: Sysmon\nlogsource: {product: windows, service: sysmon}\n"
        "detection:\n  sel: {Image: x}\n  condition: sel\n",
        "title: Security\nlogsource: {product: windows, service: security}\n"
        "detection:\n  sel: {Image: x}\n  condition: sel\n",
        "title: Any\nlogsource: {product: windows}\n"
        "detection:\n  sel: {Image: x}\n  condition: sel\n",
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        cr_assert_eq(sk_rule_loader_add_buffer(l, "r.yml", rules[i], strlen(rules[i]), &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_assert_eq(sk_ruleset_count(rs), 3);
    static const struct {
        const char *channel;
        size_t want;
    } events[] = {
        { "Microsoft-Windows-Sysmon/Operational", 2 },
        { "Microsoft-Windows-Sysmon/Operational", 2 },
        { "Security", 2 },
        { "Microsoft-Windows-Sysmon/Operational", 2 },
        { "microsoft-windows-sysmon/operational", 2 },
        { "Security", 2 },
        { "Securitx", 1 },
        { "Security", 2 },
        { "", 1 },
        { "", 1 },
        { "Microsoft-Windows-Sysmon/Operational-and-a-name-longer-than-the-memo-keeps", 1 },
        { "Microsoft-Windows-Sysmon/Operational-and-a-name-longer-than-the-memo-keeps", 1 },
        { "Microsoft-Windows-Sysmon/Operational", 2 },
        { "Microsoft-Windows-Sysmon/Operationak", 1 },
        { "Security", 2 },
    };
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        const char *c = events[i].channel;
        sk_event_reset(&ev);
        cr_assert_eq(sk_event_add(&ev, "Channel", 7, c, strlen(c), SK_FIELD_SYSTEM), SK_OK);
        cr_assert_eq(sk_event_add(&ev, "Image", 5, "x", 1, 0), SK_OK);
        sk_event_finish(&ev);
        cr_expect_eq(hits(m, rs, &ev), events[i].want, "event %zu (%s)", i, c);
    }
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}
