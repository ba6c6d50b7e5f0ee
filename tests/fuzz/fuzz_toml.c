// fuzz_toml: bytes as one TOML document -> the strict TOML reader (toml_parse, every value walked
// and looked up again by key), then the same bytes as an Elastic rule file through the rule loader
// (sk_rule_loader_add_buffer "fuzz.toml": metadata, EQL parse and compile), explain, and every
// loaded rule run against a fixed Sysmon file-creation event. Prints nothing, keeps no state.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/limits.h"
#include "rules/ruleset.h"
#include "rules/toml_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const toml_doc *d, const tv *v, unsigned depth)
{
    if (depth > SK_MAX_DEPTH + 2)
        __builtin_trap(); // the reader promises bounded nesting
    size_t sum = v->line + v->col;
    switch (v->type) {
    case TV_STRING:
    case TV_DATETIME:
        if (v->s[v->len] != '\0')
            __builtin_trap();
        sum += v->len;
        break;
    case TV_ARRAY:
        for (size_t i = 0; i < v->n; i++)
            sum += walk(d, v->items[i], depth + 1);
        break;
    case TV_TABLE:
        for (size_t i = 0; i < v->n; i++) {
            // Every key finds its own value again (unless it holds a NUL, which toml_get cannot
            // spell).
            if (!memchr(v->keys[i], '\0', v->klens[i]) && toml_get(d, v, v->keys[i]) != v->items[i])
                __builtin_trap();
            sum += walk(d, v->items[i], depth + 1);
        }
        break;
    case TV_INT:
    case TV_FLOAT:
    case TV_BOOL:
        break;
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    toml_doc d;
    toml_err err;
    toml_doc_init(&d);
    if (toml_parse(&d, (const char *)data, size, &err)) {
        if (!d.root || d.root->type != TV_TABLE)
            __builtin_trap();
        (void)walk(&d, d.root, 0);
        (void)toml_path(&d, d.root, "rule.threat");
    } else if (d.root || err.line == 0 || err.col == 0 || !err.msg[0]) {
        __builtin_trap(); // errors are always located
    }
    toml_doc_fini(&d);

    sk_diags diags;
    sk_diags_init(&diags, NULL, NULL);
    sk_rule_loader *l = NULL;
    if (sk_rule_loader_new(&l, NULL, &diags) != SK_OK)
        __builtin_trap();
    sk_status st = sk_rule_loader_add_buffer(l, "fuzz.toml", (const char *)data, size, &diags);
    (void)st; // bad rules are reported, not failed
    sk_ruleset *rs = sk_rule_loader_finish(l);
    if (sk_ruleset_report_count(rs) != 1)
        __builtin_trap(); // one file, one report entry
    sk_buf ex;
    sk_buf_init(&ex, 1u << 20);
    for (size_t i = 0; i < sk_ruleset_count(rs); i++)
        sk_rule_explain(sk_ruleset_rule(rs, i), &ex);
    sk_buf_fini(&ex);
    sk_event ev;
    sk_event_init(&ev);
    static const char *const f[][2] = {
        { "Channel", "Microsoft-Windows-Sysmon/Operational" },
        { "EventID", "11" },
        { "Image", "C:\\Windows\\System32\\lsass.exe" },
        { "TargetFilename", "C:\\Windows\\Temp\\evil.exe" },
        { "User", "NT AUTHORITY\\SYSTEM" },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (sk_event_add(&ev,
                         f[i][0],
                         strlen(f[i][0]),
                         f[i][1],
                         strlen(f[i][1]),
                         i < 2 ? SK_FIELD_SYSTEM : 0) != SK_OK)
            __builtin_trap();
    sk_event_finish(&ev);
    sk_matcher *m = sk_matcher_new(rs);
    (void)sk_matcher_run(m, &ev, NULL, NULL);
    sk_matcher_free(m);
    sk_event_fini(&ev);
    sk_ruleset_free(rs);
    return 0;
}
