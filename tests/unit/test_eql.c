// Elastic EQL rules: the semantics corpus (tests/cases/eql/*.yml), the ECS view transforms, rule
// metadata from TOML, Elastic's "Unusual Executable File Creation by a System Critical Process"
// rule on hand-made events and on the samples (evtx and NDJSON alike), and the load figures over
// Elastic's Windows rules in the shared corpus.
//
// Corpus file format: a YAML list of cases.
//   - name: '== is case-sensitive'
//     query: 'process where ...'     # wrapped into a rule file (the query starts on line 11, col
//     1) toml: |                       # or a whole TOML rule file event: {Image: 'C:\x.exe'}    #
//     or events: [{...}, ...] match: true                   # or a list, one per event matched: #
//     optional: the match items of the (first) event, in order
//       - {field: process.name, value: x.exe}
//   - name: an error
//     query: ...
//     code: eql-syntax              # the skip reason
//     error: "exact message"        # optional
//     line: 11                      # optional
//     col: 3                        # optional
// Event maps hold canonical field names; `channel` and `event_id` place the event (defaults: the
// Sysmon channel and 1; null leaves the field out). A list value gives a repeated field; null an
// empty value.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/mem.h"
#include "event/ecs.h"
#include "event/event.h"
#include "event/fieldmap.h"
#include "helpers.h"
#include "input/reader.h"
#include "rules/ruleset.h"

#define CRIT_RULE \
    "elastic-rules/rules/windows/defense_evasion_system_critical_proc_abnormal_file_activity.toml"

// ---------------------------------------------------------------------------------------------
// Helpers

static yaml_node_t *node(yaml_document_t *d, int i)
{
    return i ? yaml_document_get_node(d, i) : NULL;
}

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return node(d, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*s || strcmp(s, "null") == 0 || strcmp(s, "~") == 0);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sk_buf b;
    sk_buf_init(&b, 64u << 20);
    char tmp[65536];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (sk_buf_add(&b, tmp, got) != SK_OK)
            break;
    fclose(f);
    *n = b.n;
    char *s = sk_buf_take(&b);
    return s ? s : sk_xstrdup("");
}

static void add_field(sk_event *ev, const char *name, const char *value, uint32_t flags)
{
    sk_status st = sk_event_add(ev, name, strlen(name), value, strlen(value), flags);
    cr_assert_eq(st, SK_OK);
}

// An event from alternating name/value pairs (NULL-terminated); Channel and EventID as given.
static void make_event(sk_event *ev, const char *channel, const char *eid, ...)
{
    sk_event_reset(ev);
    if (channel)
        add_field(ev, "Channel", channel, SK_FIELD_SYSTEM);
    if (eid)
        add_field(ev, "EventID", eid, SK_FIELD_SYSTEM);
    va_list ap;
    va_start(ap, eid);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (!k)
            break;
        const char *v = va_arg(ap, const char *);
        add_field(ev, k, v, 0);
    }
    va_end(ap);
    sk_event_finish(ev);
}

static void build_event(yaml_document_t *d, yaml_node_t *m, sk_event *ev)
{
    sk_event_reset(ev);
    bool chan = false, eid = false;
    if (m && m->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
             p++) {
            const char *k = scalar(node(d, p->key));
            yaml_node_t *v = node(d, p->value);
            uint32_t flags = 0;
            if (strcmp(k, "channel") == 0 || strcmp(k, "event_id") == 0) {
                bool is_chan = k[0] == 'c';
                chan |= is_chan;
                eid |= !is_chan;
                if (is_null(v))
                    continue;
                k = is_chan ? "Channel" : "EventID";
                flags = SK_FIELD_SYSTEM;
            } else if (strcmp(k, "Computer") == 0 || strcmp(k, "UserID") == 0) {
                flags = SK_FIELD_SYSTEM;
            }
            if (v->type == YAML_SEQUENCE_NODE) {
                for (yaml_node_item_t *i = v->data.sequence.items.start;
                     i < v->data.sequence.items.top;
                     i++) {
                    yaml_node_t *x = node(d, *i);
                    add_field(ev, k, is_null(x) ? "" : scalar(x), flags);
                }
            } else {
                add_field(ev, k, is_null(v) ? "" : scalar(v), flags);
            }
        }
    }
    if (!chan)
        add_field(ev, "Channel", "Microsoft-Windows-Sysmon/Operational", SK_FIELD_SYSTEM);
    if (!eid)
        add_field(ev, "EventID", "1", SK_FIELD_SYSTEM);
    sk_event_finish(ev);
}

typedef struct hit_log {
    size_t hits;
    sk_buf items; // "field|value\n" per item of the first hit
} hit_log;

static void
on_hit(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)r;
    (void)ev;
    hit_log *h = ctx;
    if (h->hits++ == 0)
        for (size_t i = 0; i < n; i++)
            sk_buf_printf(&h->items, "%s|%s\n", it[i].field, it[i].value ? it[i].value : "<null>");
}

static void diag_collect(void *ctx, const sk_diag *d)
{
    sk_diag_render(d, (sk_buf *)ctx);
}

// The rule file a `query:` case is wrapped into: the query starts on line 11, column 1.
static void wrap_query(sk_buf *b, const char *name, const char *query)
{
    sk_buf_printf(b,
                  "[metadata]\nmaturity = \"production\"\n\n[rule]\nname = \"%s\"\n"
                  "rule_id = \"00000000-0000-0000-0000-000000000001\"\nseverity = \"high\"\n"
                  "language = \"eql\"\ntype = \"eql\"\nquery = '''\n%s%s'''\n",
                  name,
                  query,
                  query[0] && query[strlen(query) - 1] == '\n' ? "" : "\n");
}

// Loads a rule file from memory; the ruleset (never NULL) and the rendered diagnostics.
static sk_ruleset *load_text(const char *name, const char *text, sk_buf *diags)
{
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, diags);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, name, text, strlen(text), &dl), SK_OK);
    return sk_rule_loader_finish(l);
}

// ---------------------------------------------------------------------------------------------
// The semantics corpus

static bool run_case(yaml_document_t *d, yaml_node_t *c, const char *file, size_t idx)
{
    const char *name = scalar(map_get(d, c, "name"));
    char label[512];
    snprintf(label, sizeof label, "%s #%zu (%s)", file, idx, name ? name : "unnamed");
    const char *query = scalar(map_get(d, c, "query"));
    const char *toml = scalar(map_get(d, c, "toml"));
    if (!query && !toml) {
        cr_expect(false, "%s: case has neither query nor toml", label);
        return false;
    }
    sk_buf text, diags;
    sk_buf_init(&text, 1u << 24);
    sk_buf_init(&diags, 1u << 20);
    if (query)
        wrap_query(&text, "case", query);
    else
        sk_buf_puts(&text, toml);
    sk_ruleset *rs = load_text("case.toml", sk_buf_str(&text), &diags);
    bool ok = true;
    const char *code = scalar(map_get(d, c, "code"));
    if (code) {
        const sk_load_entry *e = sk_ruleset_report_count(rs) ? sk_ruleset_report_at(rs, 0) : NULL;
        ok = e && !e->loaded && strcmp(e->code, code) == 0;
        cr_expect(ok,
                  "%s: expected a skip with code %s; got %s (%s)",
                  label,
                  code,
                  e ? (e->loaded ? "loaded" : e->code) : "nothing",
                  sk_buf_str(&diags));
        const char *msg = scalar(map_get(d, c, "error"));
        if (ok && msg) {
            ok = strcmp(e->message, msg) == 0;
            cr_expect(ok, "%s: message '%s', expected '%s'", label, e->message, msg);
        }
        const char *line = scalar(map_get(d, c, "line")), *col = scalar(map_get(d, c, "col"));
        if (ok && line) {
            ok = e->line == strtoul(line, NULL, 10);
            cr_expect(ok, "%s: line %lu, expected %s", label, e->line, line);
        }
        if (ok && col) {
            ok = e->col == strtoul(col, NULL, 10);
            cr_expect(ok, "%s: col %lu, expected %s", label, e->col, col);
        }
        // Every skip is reported located through the diagnostics too.
        if (ok) {
            ok = strstr(sk_buf_str(&diags), "case.toml:") && strstr(sk_buf_str(&diags), "error: ");
            cr_expect(ok, "%s: no located diagnostic: %s", label, sk_buf_str(&diags));
        }
        goto out;
    }
    if (sk_ruleset_count(rs) != 1) {
        cr_expect(false, "%s: rule did not load: %s", label, sk_buf_str(&diags));
        ok = false;
        goto out;
    }
    yaml_node_t *one = map_get(d, c, "event"), *many = map_get(d, c, "events");
    yaml_node_t *want = map_get(d, c, "match");
    size_t nev =
            many ? (size_t)(many->data.sequence.items.top - many->data.sequence.items.start) : 1;
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    for (size_t i = 0; i < nev; i++) {
        yaml_node_t *en = many ? node(d, many->data.sequence.items.start[i]) : one;
        build_event(d, en, &ev);
        const char *w = want && want->type == YAML_SEQUENCE_NODE
                                ? scalar(node(d, want->data.sequence.items.start[i]))
                                : scalar(want);
        bool expect = w && strcmp(w, "true") == 0;
        hit_log h = { 0 };
        sk_buf_init(&h.items, 1u << 16);
        // Twice, to exercise the per-event memo and the matcher's reuse.
        size_t got = sk_matcher_run(m, &ev, on_hit, &h);
        size_t got2 = sk_matcher_run(m, &ev, NULL, NULL);
        cr_expect_eq(got, got2, "%s: event %zu: second run differs", label, i + 1);
        if ((got == 1) != expect) {
            cr_expect(false,
                      "%s: event %zu: expected %s",
                      label,
                      i + 1,
                      expect ? "a match" : "no match");
            ok = false;
        }
        yaml_node_t *items = map_get(d, c, "matched");
        if (i == 0 && items && items->type == YAML_SEQUENCE_NODE) {
            sk_buf wantb;
            sk_buf_init(&wantb, 1u << 16);
            for (yaml_node_item_t *it = items->data.sequence.items.start;
                 it < items->data.sequence.items.top;
                 it++) {
                yaml_node_t *x = node(d, *it);
                sk_buf_printf(&wantb,
                              "%s|%s\n",
                              scalar(map_get(d, x, "field")),
                              scalar(map_get(d, x, "value")));
            }
            if (strcmp(sk_buf_str(&wantb), sk_buf_str(&h.items)) != 0) {
                cr_expect(false,
                          "%s: matched items\n%s\nexpected\n%s",
                          label,
                          sk_buf_str(&h.items),
                          sk_buf_str(&wantb));
                ok = false;
            }
            sk_buf_fini(&wantb);
        }
        sk_buf_fini(&h.items);
    }
    sk_event_fini(&ev);
    sk_matcher_free(m);
out:
    sk_ruleset_free(rs);
    sk_buf_fini(&text);
    sk_buf_fini(&diags);
    return ok;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(eql, semantics_corpus)
{
    char dir[4096];
    sk_test_src("tests/cases/eql", dir, sizeof dir);
    DIR *dp = opendir(dir);
    cr_assert(dp, "cannot open %s", dir);
    char *names[64];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && nn < 64) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0)
            names[nn++] = sk_xstrdup(de->d_name);
    }
    closedir(dp);
    qsort(names, nn, sizeof(char *), cmp_names);
    size_t total = 0, passed = 0;
    for (size_t f = 0; f < nn; f++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        size_t n;
        char *data = slurp(path, &n);
        cr_assert(data);
        yaml_parser_t p;
        yaml_document_t d;
        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *)data, n);
        cr_assert(yaml_parser_load(&p, &d), "%s: YAML error", names[f]);
        yaml_node_t *root = yaml_document_get_root_node(&d);
        cr_assert(root && root->type == YAML_SEQUENCE_NODE, "%s: not a list", names[f]);
        size_t idx = 0;
        for (yaml_node_item_t *it = root->data.sequence.items.start;
             it < root->data.sequence.items.top;
             it++) {
            total++;
            passed += run_case(&d, node(&d, *it), names[f], ++idx);
        }
        yaml_document_delete(&d);
        yaml_parser_delete(&p);
        free(data);
        free(names[f]);
    }
    cr_log_info("eql semantics corpus: %zu/%zu cases passed", passed, total);
    cr_expect_eq(passed, total);
    cr_expect_gt(total, 80);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// ECS view transforms

typedef struct collect_ctx {
    char out[1024];
    size_t n;
} collect_ctx;

static void collect_values(void *ctx, const char *p, size_t n, bool view)
{
    (void)view;
    collect_ctx *c = ctx;
    c->n += (size_t)snprintf(c->out + c->n, sizeof c->out - c->n, "[%.*s]", (int)n, p);
}

static const char *xf(sk_ecs_xf x, const char *in)
{
    static collect_ctx c;
    c.n = 0;
    c.out[0] = '\0';
    sk_ecs_rule r = { 0, (uint8_t)x, { 0 }, "S", NULL };
    sk_ecs_apply(&r, in, strlen(in), collect_values, &c);
    return c.out;
}

Test(eql, ecs_transforms)
{
    cr_expect_str_eq(xf(SK_ECS_ARGS, "a b"), "[a][b]");
    cr_expect_str_eq(xf(SK_ECS_ARGS, "  \"C:\\Program Files\\x.exe\"  -a\t\"\" "),
                     "[C:\\Program Files\\x.exe][-a][]");
    cr_expect_str_eq(xf(SK_ECS_ARGS, "a\\\\\\\"b c\\\\\"d e\"f"), "[a\\\"b][c\\d ef]");
    cr_expect_str_eq(xf(SK_ECS_ARGS, "\"a\"\"b\" c"), "[a\"b c]"); // Elastic's pre-2008 "" rule
    cr_expect_str_eq(xf(SK_ECS_ARGS, "x\\y\\"), "[x\\y\\]");
    cr_expect_str_eq(xf(SK_ECS_ARGS, ""), "");
    cr_expect_str_eq(xf(SK_ECS_ARGS_COUNT, "a \"b c\" d"), "[3]");
    cr_expect_str_eq(xf(SK_ECS_BASENAME, "C:\\a\\b.exe"), "[b.exe]");
    cr_expect_str_eq(xf(SK_ECS_BASENAME, "System"), "[System]");
    cr_expect_str_eq(xf(SK_ECS_BASENAME, "C:\\a\\"), "");
    cr_expect_str_eq(xf(SK_ECS_DIRNAME, "C:\\a\\b.exe"), "[C:\\a]");
    cr_expect_str_eq(xf(SK_ECS_EXTENSION, "C:\\a.d\\b.tar.GZ"), "[GZ]");
    cr_expect_str_eq(xf(SK_ECS_EXTENSION, "C:\\a.d\\b"), "");
    cr_expect_str_eq(xf(SK_ECS_EXTENSION, "C:\\a\\b."), "");
    cr_expect_str_eq(xf(SK_ECS_USER_NAME, "NT AUTHORITY\\SYSTEM"), "[SYSTEM]");
    cr_expect_str_eq(xf(SK_ECS_USER_DOMAIN, "NT AUTHORITY\\SYSTEM"), "[NT AUTHORITY]");
    cr_expect_str_eq(xf(SK_ECS_HASH_SHA256, "SHA1=AA,SHA256=BEEF,IMPHASH=00"), "[beef]");
    cr_expect_str_eq(xf(SK_ECS_HASH_IMPHASH, "SHA1=AA,SHA256=BEEF,IMPHASH=00"), "");
    cr_expect_str_eq(xf(SK_ECS_HASH_MD5, "SHA1=AA"), "");
    cr_expect_str_eq(xf(SK_ECS_REG_HIVE, "HKEY_LOCAL_MACHINE\\Software\\x"), "[HKLM]");
    cr_expect_str_eq(xf(SK_ECS_REG_HIVE, "\\REGISTRY\\MACHINE\\x"), "");
    cr_expect_str_eq(xf(SK_ECS_REG_KEY, "HKU\\S-1\\Run\\v"), "[S-1\\Run\\v]");
    cr_expect_str_eq(xf(SK_ECS_REG_VALUE, "HKU\\S-1\\Run\\v"), "[v]");
    cr_expect_str_eq(xf(SK_ECS_REG_DATA, "DWORD (0x0000001f)"), "[31]");
    cr_expect_str_eq(xf(SK_ECS_REG_DATA, "QWORD (0x00000001-0x00000002)"), "[4294967298]");
    cr_expect_str_eq(xf(SK_ECS_REG_DATA, "Binary Data"), "[Binary Data]");
    cr_expect_str_eq(xf(SK_ECS_REG_DATA_TYPE, "Binary Data"), "[REG_BINARY]");
    cr_expect_str_eq(xf(SK_ECS_TRUSTED, "Valid"), "[true]");
    cr_expect_str_eq(xf(SK_ECS_TRUSTED, "Expired"), "[false]");
    cr_expect_str_eq(xf(SK_ECS_LOGON_TYPE, "10"), "[RemoteInteractive]");
    cr_expect_str_eq(xf(SK_ECS_LOGON_TYPE, "99"), "");
    cr_expect_str_eq(xf(SK_ECS_HEX, "0x1A4"), "[420]");
    cr_expect_str_eq(xf(SK_ECS_NOT_DASH, "-"), "");
    cr_expect_str_eq(xf(SK_ECS_DIRECTION, "false"), "[ingress]");
    sk_ecs_def def;
    cr_expect(sk_ecs_lookup("winlog.event_data.Foo", &def));
    cr_expect_str_eq(def.rules[0].source, "Foo");
    cr_expect(!sk_ecs_lookup("process.Ext.api.name", &def));
}

// The ECS view's plain renames agree with the reverse map the NDJSON reader uses (fieldmap.c), so
// that a document processed by Elastic and the evtx record it came from answer alike.
Test(eql, ecs_view_agrees_with_the_reverse_map)
{
    static const char *const names[] = {
        "process.executable",
        "process.command_line",
        "process.parent.executable",
        "process.parent.command_line",
        "process.pid",
        "process.entity_id",
        "process.working_directory",
        "process.pe.original_file_name",
        "file.path",
        "file.name",
        "file.code_signature.subject_name",
        "registry.path",
        "source.ip",
        "source.port",
        "destination.ip",
        "destination.port",
        "destination.domain",
        "network.transport",
        "dns.question.name",
    };
    static const long eids[] = { 1,  2,  3,  5,  6,  7,  8,  9,  10, 11,
                                 12, 13, 14, 15, 17, 18, 20, 22, 23, 26 };
    size_t compared = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        sk_ecs_def def;
        cr_assert(sk_ecs_lookup(names[i], &def), "%s", names[i]);
        for (size_t k = 0; k < sizeof eids / sizeof eids[0]; k++) {
            const sk_ecs_rule *r = NULL;
            for (size_t j = 0; j < def.n && !r; j++)
                if (sk_ecs_rule_applies(&def.rules[j], SK_ECS_LOG_SYSMON, eids[k]))
                    r = &def.rules[j];
            const char *theirs = sk_fieldmap_ecs_to_sysmon_eid(names[i], eids[k]);
            if (!r || r->xf != SK_ECS_COPY || !theirs)
                continue;
            compared++;
            cr_expect_str_eq(r->source, theirs, "%s in event %ld", names[i], eids[k]);
        }
    }
    cr_expect_gt(compared, 60);
}

// ---------------------------------------------------------------------------------------------
// Metadata

static const char META_RULE[] =
        "[metadata]\ncreation_date = \"2020/08/19\"\nmaturity = \"development\"\n\n"
        "[rule]\nauthor = [\"Elastic\", \"Someone\"]\ndescription = \"\"\"\nD.\n\"\"\"\n"
        "false_positives = [\"Admins\"]\nlanguage = \"eql\"\nname = \"Meta\"\n"
        "references = [\"https://a.example\", \"https://b.example\"]\n"
        "rule_id = \"11111111-2222-3333-4444-555555555555\"\nseverity = \"medium\"\n"
        "tags = [\"OS: Windows\", \"Tactic: Execution\"]\ntype = \"eql\"\n"
        "query = '''\nprocess where process.name : \"x.exe\"\n'''\n\n"
        "[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n"
        "[[rule.threat.technique]]\nid = \"T1055\"\nname = \"Process Injection\"\n"
        "[[rule.threat.technique.subtechnique]]\nid = \"T1055.001\"\nname = \"DLL\"\n"
        "[rule.threat.tactic]\nid = \"TA0005\"\nname = \"Defense Evasion\"\n\n"
        "[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n"
        "[rule.threat.tactic]\nid = \"TA0004\"\nname = \"Privilege Escalation\"\n";

Test(eql, toml_metadata_maps_onto_rules)
{
    sk_buf diags;
    sk_buf_init(&diags, 1u << 20);
    sk_ruleset *rs = load_text("meta.toml", META_RULE, &diags);
    cr_assert_eq(sk_ruleset_count(rs), 1, "%s", sk_buf_str(&diags));
    const sk_rule *r = sk_ruleset_rule(rs, 0);
    cr_expect_str_eq(sk_rule_language(r), "eql");
    cr_expect_str_eq(sk_rule_title(r), "Meta");
    cr_expect_str_eq(sk_rule_id(r), "11111111-2222-3333-4444-555555555555");
    cr_expect_eq(sk_rule_level(r), SK_LEVEL_MEDIUM);
    cr_expect_str_eq(sk_rule_status(r), "experimental");
    cr_expect_str_eq(sk_rule_description(r), "D.\n");
    cr_expect_str_eq(sk_rule_author(r), "Elastic, Someone");
    cr_expect_str_eq(sk_rule_date(r), "2020/08/19");
    cr_expect_str_eq(sk_rule_logsource(r), "eql category:process");
    cr_expect_eq(sk_rule_reference_count(r), 2);
    cr_expect_str_eq(sk_rule_reference_at(r, 1), "https://b.example");
    cr_expect_eq(sk_rule_falsepositive_count(r), 1);
    cr_expect_eq(sk_rule_line(r), 5);
    const char *want[] = { "OS: Windows",  "Tactic: Execution", "attack.defense_evasion",
                           "attack.t1055", "attack.t1055.001",  "attack.privilege_escalation" };
    cr_assert_eq(sk_rule_tag_count(r), 6);
    for (size_t i = 0; i < 6; i++)
        cr_expect_str_eq(sk_rule_tag_at(r, i), want[i]);
    // Tag filters work on the ATT&CK tags as on Sigma's.
    const char *tags[] = { "attack.t1055" };
    sk_rule_filter f = { .tags = tags, .ntags = 1 };
    cr_expect_eq(sk_ruleset_filter(rs, &f), 1);
    sk_buf ex;
    sk_buf_init(&ex, 1u << 20);
    sk_rule_explain(r, &ex);
    cr_expect(strstr(sk_buf_str(&ex), "language: eql"), "%s", sk_buf_str(&ex));
    cr_expect(strstr(sk_buf_str(&ex), "category: process"), "%s", sk_buf_str(&ex));
    cr_expect(strstr(sk_buf_str(&ex), "process.name [:] any of 1:"), "%s", sk_buf_str(&ex));
    cr_expect(strstr(sk_buf_str(&ex), "process.name: sysmon 8,10: basename(SourceImage)"),
              "%s",
              sk_buf_str(&ex));
    sk_buf_fini(&ex);
    sk_buf_fini(&diags);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

Test(eql, toml_and_sigma_rules_share_a_ruleset)
{
    // A folder-style mix through buffers: a Sigma rule and an EQL rule, one report, one index.
    sk_buf diags;
    sk_buf_init(&diags, 1u << 20);
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, &diags);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    const char *sigma = "title: S\nlogsource: {product: windows, category: process_creation}\n"
                        "detection:\n  sel: {Image|endswith: '\\x.exe'}\n  condition: sel\n";
    cr_assert_eq(sk_rule_loader_add_buffer(l, "s.yml", sigma, strlen(sigma), &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_buffer(l, "e.toml", META_RULE, strlen(META_RULE), &dl), SK_OK);
    const char *bad = "[rule]\nname = \"B\"\nlanguage = \"kuery\"\ntype = \"query\"\n";
    cr_assert_eq(sk_rule_loader_add_buffer(l, "b.toml", bad, strlen(bad), &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_expect_eq(sk_ruleset_count(rs), 2);
    cr_expect_eq(sk_ruleset_skipped_count(rs), 1);
    const char *code;
    size_t count;
    sk_ruleset_reason_at(rs, 0, &code, &count);
    cr_expect_str_eq(code, "unsupported-language");
    cr_expect_str_eq(sk_rule_language(sk_ruleset_rule(rs, 0)), "sigma");
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    make_event(&ev, "Microsoft-Windows-Sysmon/Operational", "1", "Image", "C:\\x.exe", NULL);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 2);
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    sk_buf_fini(&diags);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// Elastic's critical-process rule

static sk_ruleset *load_corpus_rule(const char *corpus, const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", corpus, rel);
    sk_buf diags;
    sk_buf_init(&diags, 1u << 20);
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, &diags);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, path, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    cr_assert_eq(sk_ruleset_count(rs), 1, "%s", sk_buf_str(&diags));
    cr_expect_eq(diags.n, 0, "%s", sk_buf_str(&diags));
    sk_buf_fini(&diags);
    return rs;
}

typedef struct crit_case {
    const char *eid, *image, *target;
    bool match;
} crit_case;

Test(eql, critical_process_rule_on_events)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; the Elastic rule cannot be loaded");
    sk_ruleset *rs = load_corpus_rule(corpus, CRIT_RULE);
    const sk_rule *r = sk_ruleset_rule(rs, 0);
    cr_expect_str_eq(sk_rule_title(r),
                     "Unusual Executable File Creation by a System Critical Process");
    cr_expect_str_eq(sk_rule_id(r), "e94262f2-c1e9-4d3f-a907-aeab16712e1a");
    cr_expect_eq(sk_rule_level(r), SK_LEVEL_HIGH);
    cr_expect_str_eq(sk_rule_status(r), "stable");
    static const crit_case cases[] = {
        // a critical process writes an .exe or a .dll
        { "11", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\Temp\\evil.exe", true },
        { "11", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\System32\\mimilsa.DLL", true },
        { "11", "C:\\Windows\\System32\\winlogon.exe", "C:\\Users\\Public\\u.exe", true },
        { "11", "C:\\Windows\\System32\\LOGONUI.EXE", "C:\\x\\a.exe", true },
        { "11", "C:\\Windows\\System32\\smss.exe", "C:\\Windows\\System32\\other.exe", true },
        { "29", "C:\\Windows\\System32\\csrss.exe", "C:\\x\\a.exe", true },
        // deletions
        { "23", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\Temp\\old.exe", false },
        { "26", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\Temp\\old.dll", false },
        // other extensions
        { "11", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\Temp\\x.log", false },
        { "11", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\Temp\\x.exe.txt", false },
        { "11", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\Temp\\noext", false },
        // other processes
        { "11", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\Temp\\x.exe", false },
        { "11", "C:\\Program Files\\Google\\chrome.exe", "C:\\x\\setup.exe", false },
        { "11", "C:\\Windows\\System32\\lsass.exe.bak", "C:\\x\\a.exe", false },
        // the rule's own exceptions
        { "11", "C:\\Windows\\System32\\smss.exe", "C:\\Windows\\System32\\wpbbin.exe", false },
        { "11",
          "C:\\Windows\\System32\\smss.exe",
          "\\Device\\HarddiskVolume3\\Windows\\System32\\wpbbin.exe",
          false },
        { "11",
          "C:\\Windows\\System32\\lsass.exe",
          "D:\\Windows\\System32\\eac_usermode_1.dll",
          false },
        { "11",
          "C:\\Windows\\System32\\lsass.exe",
          "\\Device\\HarddiskVolume2\\Windows\\System32\\EAC_usermode_x.dll",
          false },
        // exceptions only for their own process
        { "11", "C:\\Windows\\System32\\lsass.exe", "C:\\Windows\\System32\\wpbbin.exe", true },
        // not a file event
        { "1", "C:\\Windows\\System32\\services.exe", "C:\\Windows\\Temp\\evil.exe", false },
    };
    sk_matcher *m = sk_matcher_new(rs);
    sk_event ev;
    sk_event_init(&ev);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const crit_case *c = &cases[i];
        make_event(&ev,
                   "Microsoft-Windows-Sysmon/Operational",
                   c->eid,
                   "Image",
                   c->image,
                   "TargetFilename",
                   c->target,
                   NULL);
        cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL),
                     c->match ? 1u : 0u,
                     "case %zu: %s writes %s (event %s)",
                     i,
                     c->image,
                     c->target,
                     c->eid);
    }
    // A document that went through Elastic's processing (ECS fields, no Sysmon names).
    sk_event_reset(&ev);
    add_field(&ev, "event.category", "file", 0);
    add_field(&ev, "event.type", "creation", 0);
    add_field(&ev, "host.os.type", "windows", 0);
    add_field(&ev, "process.name", "wininit.exe", 0);
    add_field(&ev, "file.extension", "dll", 0);
    add_field(&ev, "file.path", "C:\\x\\a.dll", 0);
    sk_event_finish(&ev);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 1);
    // ... on another operating system
    sk_event_reset(&ev);
    add_field(&ev, "event.category", "file", 0);
    add_field(&ev, "host.os.type", "linux", 0);
    add_field(&ev, "process.name", "wininit.exe", 0);
    add_field(&ev, "file.extension", "dll", 0);
    sk_event_finish(&ev);
    cr_expect_eq(sk_matcher_run(m, &ev, NULL, NULL), 0);
    sk_event_fini(&ev);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

typedef struct sample_hits {
    uint64_t ids[64];
    size_t n;
    bool ndjson;
} sample_hits;

static void
on_sample_hit(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)r;
    (void)it;
    (void)n;
    sample_hits *h = ctx;
    if (h->n < 64)
        h->ids[h->n++] = h->ndjson ? ev->line : ev->record_id;
}

static void scan_sample(sk_matcher *m, const char *file, bool ndjson, sample_hits *h)
{
    char path[4096];
    sk_test_src(file, path, sizeof path);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_reader *rd = NULL;
    FILE *fp = NULL; // taken by the NDJSON reader
    h->n = 0;
    h->ndjson = ndjson;
    if (ndjson) {
        fp = fopen(path, "rb");
        cr_assert(fp);
        cr_assert_eq(sk_reader_open_ndjson(&rd, fp, NULL, 0, path, NULL, &dl), SK_OK);
    } else {
        cr_assert_eq(sk_reader_open_evtx(&rd, path, path, NULL, &dl), SK_OK);
    }
    const sk_event *ev;
    while (sk_reader_next(rd, &ev) == SK_OK)
        sk_matcher_run(m, ev, on_sample_hit, h);
    sk_reader_close(rd);
}

Test(eql, critical_process_rule_on_samples)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; the Elastic rule cannot be loaded");
    sk_ruleset *rs = load_corpus_rule(corpus, CRIT_RULE);
    sk_matcher *m = sk_matcher_new(rs);
    sample_hits h;
    // Records 37-39: services.exe, lsass.exe and winlogon.exe write an .exe/.dll; 40-41 are
    // deletions by the same processes and stay silent, as does everything else.
    const char *files[] = { "samples/sysmon_t1218.evtx", "samples/sysmon_t1218.ndjson" };
    for (size_t f = 0; f < 2; f++) {
        scan_sample(m, files[f], f == 1, &h);
        cr_expect_eq(h.n, 3, "%s: %zu hits", files[f], h.n);
        for (size_t i = 0; i < h.n && i < 3; i++)
            cr_expect_eq(h.ids[i],
                         37 + i,
                         "%s: hit %zu is record %llu",
                         files[f],
                         i,
                         (unsigned long long)h.ids[i]);
    }
    const char *benign[] = { "samples/benign.evtx", "samples/benign.ndjson" };
    for (size_t f = 0; f < 2; f++) {
        scan_sample(m, benign[f], f == 1, &h);
        cr_expect_eq(h.n, 0, "%s: %zu hits", benign[f], h.n);
    }
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// The corpus: Elastic's Windows rules

Test(eql, elastic_windows_rules_load, .timeout = 120)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; the Elastic rules cannot be loaded");
    char path[4096];
    snprintf(path, sizeof path, "%s/elastic-rules/rules/windows", corpus);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, path, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    size_t files = sk_ruleset_report_count(rs), loaded = sk_ruleset_count(rs);
    // Single-event EQL rules: language and type eql, not a sequence or sample.
    size_t single = loaded, other = 0;
    sk_buf reasons;
    sk_buf_init(&reasons, 1u << 16);
    for (size_t i = 0; i < sk_ruleset_reason_count(rs); i++) {
        const char *code;
        size_t count;
        sk_ruleset_reason_at(rs, i, &code, &count);
        sk_buf_printf(&reasons, " %s x%zu", code, count);
        if (strcmp(code, "unsupported-language") == 0 ||
            strcmp(code, "unsupported-rule-type") == 0 || strcmp(code, "eql-sequence") == 0 ||
            strcmp(code, "eql-sample") == 0 || strcmp(code, "eql-join") == 0)
            other += count;
        else
            single += count; // a single-event EQL rule that did not load
    }
    // Every file is reported, loaded or with a reason.
    cr_expect_eq(loaded + sk_ruleset_skipped_count(rs), files);
    for (size_t i = 0; i < files; i++) {
        const sk_load_entry *e = sk_ruleset_report_at(rs, i);
        cr_expect(
                e->loaded || (e->code && e->message && e->line > 0), "%s: unlocated skip", e->file);
    }
    cr_log_info("elastic-rules/windows: %zu files; single-event EQL rules: %zu/%zu loaded "
                "(%.1f%%); other rules reported:%s",
                files,
                loaded,
                single,
                100.0 * (double)loaded / (double)(single ? single : 1),
                sk_buf_str(&reasons));
    printf("elastic-rules/windows: %zu files; single-event EQL %zu/%zu loaded; %zu other rules "
           "skipped with a reason:%s\n",
           files,
           loaded,
           single,
           other,
           sk_buf_str(&reasons));
    cr_expect_gt(single, 250);
    cr_expect_geq(loaded * 100,
                  single * 95,
                  "only %zu of %zu single-event EQL rules loaded",
                  loaded,
                  single);
    // Every loaded rule runs over the samples without trouble.
    sk_matcher *m = sk_matcher_new(rs);
    sample_hits h;
    scan_sample(m, "samples/sysmon_t1218.evtx", false, &h);
    cr_expect_gt(h.n, 0);
    sk_matcher_free(m);
    sk_buf_fini(&reasons);
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}
