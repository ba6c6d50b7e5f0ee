// The Sigma engine against its semantics corpus (tests/cases/sigma/*.yml) and against the SigmaHQ
// rules of the shared corpus.
//
// Corpus file format: a YAML list of cases.
//   - name: contains matches anywhere
//     rule: |                       # a whole rule, or `detection: |` (the body of `detection:`,
//       title: ...                  #   wrapped into a process_creation rule titled with the name)
//     event: {CommandLine: 'a b'}   # or events: [{...}, {...}]
//     match: true                   # or a list, one per event
//     matched:                      # optional: the expected match items of the (first) event
//       - {selection: sel, field: CommandLine, value: 'a b'}
//     placeholders: {name: [v1, v2]}  # optional: written to a placeholder file for |expand
//   - name: unknown modifier is an error
//     rule: |
//       ...
//     error: "unknown modifier 'containz' in 'CommandLine|containz'"   # exact message
//     code: unknown-modifier        # optional
//     line: 9
//     col: 9
// Event maps hold canonical field names. `channel` and `event_id` place the event (defaults:
// Microsoft-Windows-Sysmon/Operational and 1); Channel/EventID keys are system fields as well. A
// list value gives a repeated field (unnamed Data); null gives an empty value.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <unistd.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/mem.h"
#include "event/event.h"
#include "helpers.h"
#include "input/reader.h"
#include "rules/ruleset.h"

// ---------------------------------------------------------------------------------------------
// Small libyaml document helpers

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

static bool as_bool(yaml_node_t *n, bool *out)
{
    const char *s = scalar(n);
    if (!s)
        return false;
    if (strcmp(s, "true") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0)
        *out = false;
    else
        return false;
    return true;
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

// ---------------------------------------------------------------------------------------------
// Case runner

typedef struct hit_log {
    size_t hits;
    sk_buf items; // "sel|field|value\n" per item of the first hit
} hit_log;

static void
on_hit(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)r;
    (void)ev;
    hit_log *h = ctx;
    if (h->hits++ == 0)
        for (size_t i = 0; i < n; i++) {
            sk_status st = sk_buf_addf(&h->items,
                                       "%s|%s|%s\n",
                                       it[i].selection,
                                       it[i].field,
                                       it[i].value ? it[i].value : "<null>");
            (void)st;
        }
}

static void add_field(sk_event *ev, const char *name, const char *value, uint32_t flags)
{
    sk_status st = sk_event_add(ev, name, strlen(name), value, strlen(value), flags);
    cr_assert_eq(st, SK_OK);
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
            if (strcmp(k, "channel") == 0 || strcmp(k, "Channel") == 0) {
                k = "Channel";
                flags = SK_FIELD_SYSTEM;
                chan = true;
            } else if (strcmp(k, "event_id") == 0 || strcmp(k, "EventID") == 0) {
                k = "EventID";
                flags = SK_FIELD_SYSTEM;
                eid = true;
            } else if (strcmp(k, "Provider_Name") == 0 || strcmp(k, "Computer") == 0) {
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

static void diag_collect(void *ctx, const sk_diag *d)
{
    sk_buf *b = ctx;
    sk_diag_render(d, b);
}

#define COPIES 8

// Runs one case; returns true when it passed (failures are reported with cr_expect).
static bool run_case(yaml_document_t *d, yaml_node_t *c, const char *file, size_t idx)
{
    const char *name = scalar(map_get(d, c, "name"));
    char label[512];
    snprintf(label, sizeof label, "%s #%zu (%s)", file, idx, name ? name : "unnamed");
    const char *rule = scalar(map_get(d, c, "rule"));
    const char *det = scalar(map_get(d, c, "detection"));
    if (!rule && !det) {
        cr_expect(false, "%s: case has neither rule nor detection", label);
        return false;
    }
    sk_buf text;
    sk_buf_init(&text, 1u << 24);
    sk_status st = SK_OK;
    if (rule) {
        st = sk_buf_adds(&text, rule);
    } else {
        st = sk_buf_addf(&text,
                         "title: %s\nlogsource:\n  product: windows\n  category: process_creation\n"
                         "detection:\n",
                         name ? name : "case");
        for (const char *p = det; *p && st == SK_OK;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
            st = sk_buf_adds(&text, "  ");
            if (st == SK_OK)
                st = sk_buf_add(&text, p, n);
            p += n;
        }
    }
    cr_assert_eq(st, SK_OK);

    // Placeholder file
    char phpath[64] = "";
    yaml_node_t *ph = map_get(d, c, "placeholders");
    if (ph && ph->type == YAML_MAPPING_NODE) {
        snprintf(phpath, sizeof phpath, "/tmp/saker_ph_XXXXXX");
        int fd = mkstemp(phpath);
        cr_assert(fd >= 0);
        FILE *f = fdopen(fd, "w");
        for (yaml_node_pair_t *p = ph->data.mapping.pairs.start; p < ph->data.mapping.pairs.top;
             p++) {
            fprintf(f, "'%s':\n", scalar(node(d, p->key)));
            yaml_node_t *v = node(d, p->value);
            for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top;
                 i++) {
                const char *s = scalar(node(d, *i));
                fputs("  - '", f);
                for (; *s; s++) {
                    if (*s == '\'')
                        fputc('\'', f);
                    fputc(*s, f);
                }
                fputs("'\n", f);
            }
        }
        fclose(f);
    }

    sk_buf diags;
    sk_buf_init(&diags, 1u << 20);
    sk_diags dl;
    sk_diags_init(&dl, diag_collect, &diags);
    sk_load_opts opts = { .placeholder_file = phpath[0] ? phpath : NULL, .strict = false };
    sk_rule_loader *l = NULL;
    st = sk_rule_loader_new(&l, &opts, &dl);
    if (phpath[0])
        unlink(phpath);
    cr_assert_eq(st, SK_OK, "%s: loader: %s", label, sk_buf_str(&diags));
    // The rule is loaded COPIES times: with that many candidates the matcher engages its literal
    // prefilter, so every case also checks that the prefilter never hides a match.
    for (int k = 0; k < COPIES; k++) {
        st = sk_rule_loader_add_buffer(l, "case.yml", sk_buf_str(&text), text.n, &dl);
        cr_assert_eq(st, SK_OK);
    }
    sk_ruleset *rs = sk_rule_loader_finish(l);
    bool ok = true;

    const char *want_err = scalar(map_get(d, c, "error"));
    if (want_err) {
        const sk_load_entry *e = sk_ruleset_report_count(rs) ? sk_ruleset_report_at(rs, 0) : NULL;
        if (!e || e->loaded) {
            cr_expect(false, "%s: expected error \"%s\", but the rule loaded", label, want_err);
            ok = false;
        } else {
            if (strcmp(e->message, want_err) != 0) {
                cr_expect(false,
                          "%s: error message\n  got:  \"%s\"\n  want: \"%s\"",
                          label,
                          e->message,
                          want_err);
                ok = false;
            }
            const char *code = scalar(map_get(d, c, "code"));
            if (code && strcmp(code, e->code) != 0) {
                cr_expect(false, "%s: code got %s, want %s", label, e->code, code);
                ok = false;
            }
            const char *line = scalar(map_get(d, c, "line"));
            const char *col = scalar(map_get(d, c, "col"));
            if ((line && strtoul(line, NULL, 10) != e->line) ||
                (col && strtoul(col, NULL, 10) != e->col)) {
                cr_expect(false,
                          "%s: position got %lu:%lu, want %s:%s",
                          label,
                          e->line,
                          e->col,
                          line ? line : "?",
                          col ? col : "?");
                ok = false;
            }
            if (!strstr(sk_buf_str(&diags), want_err)) {
                cr_expect(false,
                          "%s: diagnostic does not carry the message: %s",
                          label,
                          sk_buf_str(&diags));
                ok = false;
            }
        }
        goto out;
    }
    if (sk_ruleset_count(rs) != COPIES) {
        cr_expect(false, "%s: rule did not load:\n%s", label, sk_buf_str(&diags));
        ok = false;
        goto out;
    }
    {
        yaml_node_t *ev1 = map_get(d, c, "event");
        yaml_node_t *evs = map_get(d, c, "events");
        yaml_node_t *match = map_get(d, c, "match");
        yaml_node_t *items[256];
        size_t nev = 0;
        if (ev1)
            items[nev++] = ev1;
        if (evs && evs->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *i = evs->data.sequence.items.start;
                 i < evs->data.sequence.items.top && nev < 256;
                 i++)
                items[nev++] = node(d, *i);
        if (nev == 0 || !match) {
            cr_expect(false, "%s: case needs event(s) and match", label);
            ok = false;
            goto out;
        }
        sk_matcher *m = sk_matcher_new(rs);
        sk_event ev;
        sk_event_init(&ev);
        for (size_t e = 0; e < nev; e++) {
            bool want;
            yaml_node_t *mn = match;
            if (match->type == YAML_SEQUENCE_NODE) {
                size_t cnt =
                        (size_t)(match->data.sequence.items.top - match->data.sequence.items.start);
                mn = e < cnt ? node(d, match->data.sequence.items.start[e]) : NULL;
            }
            if (!as_bool(mn, &want)) {
                cr_expect(false, "%s: match must be true/false (or a list of them)", label);
                ok = false;
                break;
            }
            build_event(d, items[e], &ev);
            hit_log h = { 0 };
            sk_buf_init(&h.items, 1u << 20);
            size_t hits = sk_matcher_run(m, &ev, on_hit, &h);
            if (hits != (want ? COPIES : 0)) {
                sk_buf ex;
                sk_buf_init(&ex, 1u << 20);
                sk_rule_explain(sk_ruleset_rule(rs, 0), &ex);
                cr_expect(false,
                          "%s: event %zu: got %s, want %s\n%s",
                          label,
                          e,
                          hits ? "match" : "no match",
                          want ? "match" : "no match",
                          sk_buf_str(&ex));
                sk_buf_fini(&ex);
                ok = false;
            }
            yaml_node_t *mi = map_get(d, c, "matched");
            if (e == 0 && mi && mi->type == YAML_SEQUENCE_NODE && hits) {
                sk_buf want_items;
                sk_buf_init(&want_items, 1u << 20);
                for (yaml_node_item_t *i = mi->data.sequence.items.start;
                     i < mi->data.sequence.items.top;
                     i++) {
                    yaml_node_t *x = node(d, *i);
                    yaml_node_t *vv = map_get(d, x, "value");
                    st = sk_buf_addf(&want_items,
                                     "%s|%s|%s\n",
                                     scalar(map_get(d, x, "selection")),
                                     scalar(map_get(d, x, "field")),
                                     !vv || is_null(vv) ? "<null>" : scalar(vv));
                    (void)st;
                }
                if (strcmp(sk_buf_str(&want_items), sk_buf_str(&h.items)) != 0) {
                    cr_expect(false,
                              "%s: matched items\n  got:\n%s  want:\n%s",
                              label,
                              sk_buf_str(&h.items),
                              sk_buf_str(&want_items));
                    ok = false;
                }
                sk_buf_fini(&want_items);
            }
            sk_buf_fini(&h.items);
        }
        sk_event_fini(&ev);
        sk_matcher_free(m);
    }
out:
    sk_ruleset_free(rs);
    sk_buf_fini(&diags);
    sk_buf_fini(&text);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(sigma, semantics_corpus)
{
    char dir[4096];
    sk_test_src("tests/cases/sigma", dir, sizeof dir);
    DIR *dp = opendir(dir);
    cr_assert_not_null(dp, "cannot open %s", dir);
    char *names[256];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(dp)) && nn < 256) {
        size_t l = strlen(de->d_name);
        if (l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0)
            names[nn++] = sk_xstrdup(de->d_name);
    }
    closedir(dp);
    qsort(names, nn, sizeof(char *), cmp_str);
    cr_assert(nn > 0, "no case files in %s", dir);
    size_t total = 0, failed = 0;
    for (size_t f = 0; f < nn; f++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        size_t n = 0;
        char *data = slurp(path, &n);
        cr_assert_not_null(data);
        yaml_parser_t p;
        yaml_document_t doc;
        cr_assert(yaml_parser_initialize(&p));
        yaml_parser_set_input_string(&p, (const unsigned char *)data, n);
        cr_assert(yaml_parser_load(&p, &doc),
                  "%s: YAML error: %s (line %zu)",
                  names[f],
                  p.problem ? p.problem : "?",
                  p.problem_mark.line + 1);
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        cr_assert(
                root && root->type == YAML_SEQUENCE_NODE, "%s: must be a list of cases", names[f]);
        size_t idx = 0;
        for (yaml_node_item_t *i = root->data.sequence.items.start;
             i < root->data.sequence.items.top;
             i++) {
            total++;
            if (!run_case(&doc, node(&doc, *i), names[f], ++idx))
                failed++;
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&p);
        free(data);
        free(names[f]);
    }
    cr_log_info("sigma semantics corpus: %zu cases, %zu failed", total, failed);
    fprintf(stderr, "sigma semantics corpus: %zu cases, %zu failed\n", total, failed);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// SigmaHQ corpus

Test(sigma, sigmahq_windows_rules_load)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; SigmaHQ load test skipped");
    char path[4096];
    snprintf(path, sizeof path, "%s/sigma-rules/rules/windows", corpus);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, path, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    size_t loaded = sk_ruleset_loaded_count(rs), skipped = sk_ruleset_skipped_count(rs);
    fprintf(stderr, "SigmaHQ rules/windows: %zu loaded, %zu skipped\n", loaded, skipped);
    for (size_t i = 0; i < sk_ruleset_reason_count(rs); i++) {
        const char *code;
        size_t count;
        sk_ruleset_reason_at(rs, i, &code, &count);
        fprintf(stderr, "  %-28s %zu\n", code, count);
    }
    cr_expect_eq(loaded + skipped, 2407, "rule documents: %zu", loaded + skipped);
    cr_expect_geq(loaded * 100,
                  (loaded + skipped) * 99,
                  "loaded %zu of %zu (< 99 %%)",
                  loaded,
                  loaded + skipped);
    for (size_t i = 0; i < sk_ruleset_report_count(rs); i++) {
        const sk_load_entry *e = sk_ruleset_report_at(rs, i);
        if (!e->loaded) {
            cr_expect(e->code && *e->code, "%s: skipped without a reason code", e->file);
            cr_expect(e->line > 0, "%s: skip not located", e->file);
        }
    }
    sk_ruleset_free(rs);
    SK_ASSERT_NO_LEAKS();
}

// ---------------------------------------------------------------------------------------------
// SigmaHQ regression data: each info.yml names a rule id, an evtx file and a match count.

typedef struct reg_count {
    size_t hits;
} reg_count;

static void
count_hit(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)r;
    (void)ev;
    (void)it;
    (void)n;
    ((reg_count *)ctx)->hits++;
}

// Minimal reader for the regression info.yml: rule id, evtx path and match_count.
static bool read_info(const char *path, char *id, size_t idn, char *evtx, size_t evn, long *count)
{
    size_t n;
    char *data = slurp(path, &n);
    if (!data)
        return false;
    yaml_parser_t p;
    yaml_document_t d;
    bool ok = false;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)data, n);
    if (yaml_parser_load(&p, &d)) {
        yaml_node_t *root = yaml_document_get_root_node(&d);
        // The rule: rule_metadata[0].id (the top-level id names the test itself).
        yaml_node_t *meta = map_get(&d, root, "rule_metadata");
        if (meta && meta->type == YAML_SEQUENCE_NODE &&
            meta->data.sequence.items.start < meta->data.sequence.items.top)
            meta = node(&d, meta->data.sequence.items.start[0]);
        const char *rid = scalar(map_get(&d, meta, "id"));
        yaml_node_t *rt = map_get(&d, root, "regression_tests_info");
        yaml_node_t *first = NULL;
        if (rt && rt->type == YAML_SEQUENCE_NODE &&
            rt->data.sequence.items.start < rt->data.sequence.items.top)
            first = node(&d, rt->data.sequence.items.start[0]);
        const char *file = scalar(map_get(&d, first, "path"));
        const char *mc = scalar(map_get(&d, first, "match_count"));
        const char *type = scalar(map_get(&d, first, "type"));
        if (rid && file && (!type || strcmp(type, "evtx") == 0)) {
            snprintf(id, idn, "%s", rid);
            // path is relative to the repository; keep the basename next to info.yml
            const char *base = strrchr(file, '/');
            base = base ? base + 1 : file;
            char dir[4096];
            snprintf(dir, sizeof dir, "%s", path);
            char *slash = strrchr(dir, '/');
            if (slash)
                *slash = '\0';
            snprintf(evtx, evn, "%s/%s", dir, base);
            *count = mc ? strtol(mc, NULL, 10) : 1; // no match_count: at least one hit
            ok = true;
        }
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&p);
    free(data);
    return ok;
}

Test(sigma, sigmahq_regression_data, .timeout = 600)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; regression test skipped");
    char rules[4096], reg[4096];
    snprintf(rules, sizeof rules, "%s/sigma-rules/rules", corpus);
    snprintf(reg, sizeof reg, "%s/sigma-regression/regression_data", corpus);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, rules, &dl), SK_OK);
    char more[4096];
    snprintf(more, sizeof more, "%s/sigma-rules/rules-emerging-threats", corpus);
    cr_assert_eq(sk_rule_loader_add_path(l, more, &dl), SK_OK);
    snprintf(more, sizeof more, "%s/sigma-rules/rules-threat-hunting", corpus);
    cr_assert_eq(sk_rule_loader_add_path(l, more, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    char **infos = NULL;
    size_t ninfo = 0, cap = 0;
    sk_test_list_files(reg, 8, "info.yml", &infos, &ninfo, &cap); // no other name ends so
    qsort(infos, ninfo, sizeof(char *), cmp_str);
    size_t pass = 0, fail = 0, missing = 0, unreadable = 0, not_evtx = 0, exact = 0;
    sk_matcher *m = sk_matcher_new(rs);
    for (size_t i = 0; i < ninfo; i++) {
        char id[256], evtx[8192];
        long want = 0;
        if (!read_info(infos[i], id, sizeof id, evtx, sizeof evtx, &want)) {
            not_evtx++;
            free(infos[i]);
            continue;
        }
        const sk_rule *r = sk_ruleset_find_id(rs, id);
        if (!r) {
            missing++;
            fprintf(stderr, "regression: rule %s not loaded (%s)\n", id, infos[i]);
            free(infos[i]);
            continue;
        }
        sk_reader *rd = NULL;
        sk_diags rdl;
        sk_diags_init(&rdl, NULL, NULL);
        reg_count rc = { 0 };
        if (sk_reader_open_evtx(&rd, evtx, evtx, NULL, &rdl) == SK_OK) {
            const sk_event *ev;
            while (sk_reader_next(rd, &ev) == SK_OK)
                sk_matcher_run_rule(m, r, ev, count_hit, &rc);
            sk_reader_close(rd);
        } else {
            unreadable++;
        }
        if ((long)rc.hits >= want) {
            pass++;
            exact += (long)rc.hits == want;
            if ((long)rc.hits != want)
                fprintf(stderr,
                        "regression: %s \"%s\": %zu hits (match_count %ld)\n",
                        id,
                        sk_rule_title(r),
                        rc.hits,
                        want);
        } else {
            fail++;
            fprintf(stderr,
                    "regression: %s \"%s\": %zu hits, want %ld (%s)\n",
                    id,
                    sk_rule_title(r),
                    rc.hits,
                    want,
                    evtx);
        }
        cr_expect_geq((long)rc.hits,
                      want,
                      "%s \"%s\": %zu hits < %ld",
                      id,
                      sk_rule_title(r),
                      rc.hits,
                      want);
        free(infos[i]);
    }
    free(infos);
    fprintf(stderr,
            "SigmaHQ regression: %zu tests, %zu pass (%zu with exactly match_count hits), %zu "
            "fail, %zu rule not loaded, %zu evtx unreadable, %zu not evtx tests\n",
            ninfo,
            pass,
            exact,
            fail,
            missing,
            unreadable,
            not_evtx);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
}

// ---------------------------------------------------------------------------------------------
// The (channel, event id) index and the literal prefilter only save work: running every rule on
// every event (sk_matcher_run_rule) must give exactly the hits of sk_matcher_run.

typedef struct hit_set {
    unsigned char *hit; // per rule
} hit_set;

static void
mark_hit(void *ctx, const sk_rule *r, const sk_event *ev, const sk_match_item *it, size_t n)
{
    (void)ev;
    (void)it;
    (void)n;
    ((hit_set *)ctx)->hit[sk_rule_index(r)] = 1;
}

Test(sigma, index_and_prefilter_never_change_results, .timeout = 600)
{
    const char *corpus = sk_test_corpus();
    if (!corpus)
        cr_skip_test("../shared/corpus is absent; differential test skipped");
    char path[4096];
    snprintf(path, sizeof path, "%s/sigma-rules/rules/windows", corpus);
    sk_diags dl;
    sk_diags_init(&dl, NULL, NULL);
    sk_rule_loader *l = NULL;
    cr_assert_eq(sk_rule_loader_new(&l, NULL, &dl), SK_OK);
    cr_assert_eq(sk_rule_loader_add_path(l, path, &dl), SK_OK);
    sk_ruleset *rs = sk_rule_loader_finish(l);
    size_t nr = sk_ruleset_count(rs);
    char **files = NULL;
    size_t nfiles = 0, cap = 0;
    snprintf(path, sizeof path, "%s/sigma-regression/regression_data", corpus);
    sk_test_collect_logs(path, &files, &nfiles, &cap);
    snprintf(path, sizeof path, "%s/evtx-attack", corpus);
    sk_test_collect_logs(path, &files, &nfiles, &cap);
    snprintf(path, sizeof path, "%s/ndjson", corpus);
    sk_test_collect_logs(path, &files, &nfiles, &cap);
    qsort(files, nfiles, sizeof(char *), cmp_str);
    sk_matcher *m = sk_matcher_new(rs);
    hit_set fast = { sk_xcalloc(nr + 1, 1) }, slow = { sk_xcalloc(nr + 1, 1) };
    size_t events = 0, hits = 0, diffs = 0;
    for (size_t f = 0; f < nfiles; f++) {
        sk_reader *rd = NULL;
        sk_diags rdl;
        sk_diags_init(&rdl, NULL, NULL);
        size_t fl = strlen(files[f]);
        bool json = fl > 5 && strcmp(files[f] + fl - 5, ".json") == 0;
        sk_status ost;
        if (json) {
            FILE *fp = fopen(files[f], "rb");
            cr_assert_not_null(fp);
            ost = sk_reader_open_ndjson(&rd, fp, NULL, 0, files[f], NULL, &rdl);
            if (ost != SK_OK)
                fclose(fp);
        } else {
            ost = sk_reader_open_evtx(&rd, files[f], files[f], NULL, &rdl);
        }
        if (ost == SK_OK) {
            const sk_event *ev;
            size_t in_file = 0;
            while (in_file++ < 3000 && sk_reader_next(rd, &ev) == SK_OK) {
                events++;
                memset(fast.hit, 0, nr);
                memset(slow.hit, 0, nr);
                hits += sk_matcher_run(m, ev, mark_hit, &fast);
                for (size_t i = 0; i < nr; i++)
                    sk_matcher_run_rule(m, sk_ruleset_rule(rs, i), ev, mark_hit, &slow);
                for (size_t i = 0; i < nr; i++)
                    if (fast.hit[i] != slow.hit[i]) {
                        diffs++;
                        cr_expect(false,
                                  "%s record %llu line %llu: rule \"%s\": indexed %d, full %d",
                                  files[f],
                                  (unsigned long long)ev->record_id,
                                  (unsigned long long)ev->line,
                                  sk_rule_title(sk_ruleset_rule(rs, i)),
                                  fast.hit[i],
                                  slow.hit[i]);
                    }
            }
            sk_reader_close(rd);
        }
        free(files[f]);
    }
    free(files);
    fprintf(stderr,
            "differential: %zu files, %zu events, %zu hits, %zu differences\n",
            nfiles,
            events,
            hits,
            diffs);
    free(fast.hit);
    free(slow.hit);
    sk_matcher_free(m);
    sk_ruleset_free(rs);
}
