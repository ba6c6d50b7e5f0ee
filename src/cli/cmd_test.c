// `saker test PATH...`: regression tests for rules, for rule authors and CI.
//
// Two layouts are understood:
//  (a) saker's own: a file NAME.tests.yml next to the rule NAME.yml (format in rules/README.md and
//      saker.1): a list of cases, each with one or more events (YAML maps of the field names rules
//      see) or an evtx/NDJSON file, and the exact number of hits the rule must give on them.
//  (b) SigmaHQ's regression_data: folders holding info.yml (rule_metadata[].id,
//      regression_tests_info[].path and match_count) and the evtx file; the rules are loaded from
//      -r and found by id; a test passes when the rule matches at least match_count times.
// One line per test, a closing "N passed, N failed" line, optional JUnit XML. Exit status: 0 all
// passed, 1 some failed, 2 the tests could not be run.
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "cli_int.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/mem.h"
#include "core/utf.h"
#include "event/event.h"
#include "event/fieldmap.h"
#include "input/input.h"
#include "load.h"
#include "output/json.h"
#include "scan.h"

#define MAX_YAML_NODES 200000u

typedef struct tcase {
    char *suite;   // the test file (JUnit testsuite)
    char *name;
    bool passed;
    char *message; // why it failed or was skipped (NULL when passed)
    bool skipped;  // in trun.skips
    size_t seq;    // order of making, across cases and skips (JUnit lists them so)
} tcase;

typedef struct trun {
    sk_report *rep;
    const sk_cli_opts *o;
    sk_ruleset *sigma_rules; // rules from -r, for the regression layout (loaded on first need)
    bool sigma_loaded;
    tcase *cases;
    size_t ncases, cap;
    unsigned long errors;  // test files that could not be run at all
    unsigned long skipped; // declared tests that cannot be run here (not evtx, none declared)
    tcase *skips;          // those, for JUnit (message: why)
    size_t nskips, capskips;
    size_t seq; // cases and skips made so far
    bool json;  // --json: one JSON object per test on stdout, then a summary object
} trun;

// --json: {"type":"test","file":F,"name":N,"result":"pass"|"fail"|"skip","message":M|null}.
static void json_text(sk_buf *b, const char *s)
{
    if (sk_json_str(b, s, strlen(s)) != SK_OK)
        b->full = true; // names and messages are short: cannot happen
}

static void json_result(const char *suite, const char *name, const char *result, const char *msg)
{
    sk_buf b;
    sk_buf_init(&b, (size_t)1 << 24);
    sk_buf_puts(&b, "{\"type\":\"test\",\"file\":");
    json_text(&b, suite);
    sk_buf_puts(&b, ",\"name\":");
    json_text(&b, name);
    sk_buf_printf(&b, ",\"result\":\"%s\",\"message\":", result);
    if (msg)
        json_text(&b, msg);
    else
        sk_buf_puts(&b, "null");
    sk_buf_puts(&b, "}\n");
    sk_cli_stdout(sk_buf_str(&b), b.n);
    sk_buf_fini(&b);
    fflush(stdout);
}

// A declared test that is not run here: counted, and a skipped entry in JUnit.
static void add_skip(trun *t, const char *suite, const char *name, const char *why)
{
    t->skipped++;
    sk_xgrow((void **)&t->skips, &t->capskips, t->nskips + 1, sizeof *t->skips);
    t->skips[t->nskips++] =
            (tcase){ sk_xstrdup(suite), sk_xstrdup(name), false, sk_xstrdup(why), true, t->seq++ };
    if (t->json)
        json_result(suite, name, "skip", why);
}

// snprintf into name[cap] that cuts a long result at a character boundary and ends it in "…",
// instead of cutting a character in two.
static void test_name(char *name, size_t cap, const char *fmt, ...) SK_PRINTF(3, 4);
static void test_name(char *name, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(name, cap, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w < cap)
        return;
    size_t cut = sk_utf8_cut(name, cap - 4); // room for "…" and the NUL
    memcpy(name + cut, "\xE2\x80\xA6", 4);
}

static void add_case(trun *t, const char *suite, const char *name, bool passed, const char *msg)
{
    sk_xgrow((void **)&t->cases, &t->cap, t->ncases + 1, sizeof *t->cases);
    tcase *c = &t->cases[t->ncases++];
    c->suite = sk_xstrdup(suite);
    c->name = sk_xstrdup(name);
    c->passed = passed;
    c->message = msg ? sk_xstrdup(msg) : NULL;
    c->skipped = false;
    c->seq = t->seq++;
    if (t->json) {
        json_result(suite, name, passed ? "pass" : "fail", passed ? NULL : msg ? msg : "");
        return;
    }
    // Test files and rule packs are third-party input: their text is escaped for the terminal.
    sk_buf line;
    sk_buf_init(&line, 1u << 20);
    sk_buf_puts(&line, passed ? "PASS  " : "FAIL  ");
    sk_text_escape(&line, suite);
    sk_buf_puts(&line, ": ");
    sk_text_escape(&line, name);
    if (!passed) {
        sk_buf_puts(&line, ": ");
        sk_text_escape(&line, msg ? msg : "");
    }
    sk_buf_putc(&line, '\n');
    sk_cli_stdout(sk_buf_str(&line), line.n);
    sk_buf_fini(&line);
    fflush(stdout);
}

// A test file that cannot be run at all (already reported on stderr): it counts as an error (exit
// status 2) and is a failed entry too, so that the summary and a JUnit consumer see it.
static void file_error(trun *t, const char *path, const char *msg)
{
    t->errors++;
    add_case(t, path, "(test file)", false, msg);
}

// ---- YAML (libyaml document API; node counts bounded so aliases cannot blow up a walk)

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *m, const char *key)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strlen(key) == k->data.scalar.length &&
            memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
            return yaml_document_get_node(doc, p->value);
    }
    return NULL;
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool load_yaml(const char *path, yaml_document_t *doc, sk_report *rep)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        sk_diag_emitf(&rep->dl, SK_SEV_ERROR, path, 0, 0, NULL, "test-file", "cannot open: %s",
                      strerror(errno));
        return false;
    }
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, fp);
    bool ok = yaml_parser_load(&p, doc) != 0;
    if (!ok)
        sk_diag_emitf(&rep->dl, SK_SEV_ERROR, path, p.problem_mark.line + 1,
                      p.problem_mark.column + 1, NULL, "test-file", "YAML error: %s",
                      p.problem ? p.problem : "unknown");
    else if (!yaml_document_get_root_node(doc)) {
        sk_diag_emitf(&rep->dl, SK_SEV_ERROR, path, 0, 0, NULL, "test-file", "empty document");
        yaml_document_delete(doc);
        ok = false;
    }
    yaml_parser_delete(&p);
    fclose(fp);
    return ok;
}

// Adds the fields of YAML map m to ev: scalars as values, sequences as repeated fields, nested maps
// under dotted names. *budget bounds the nodes visited.
// The leaves of an inline test event: what the NDJSON reader gives for the same document as a
// JSON object, so that the fieldmap turns them into the event it would (rules/README.md: the
// events of a case are equivalent to flat NDJSON documents; system keys in any case, param1..N,
// nested maps as dotted paths). Paths and values live in the event's arena.
typedef struct leaves {
    sk_json_leaf *v;
    size_t n, cap;
} leaves;

static sk_status add_leaf(leaves *l, sk_event *ev, const char *path, size_t pn, const char *s,
                          size_t sn, uint32_t flags)
{
    if (l->n >= SK_MAX_FIELDS)
        return SK_ERR_LIMIT;
    sk_xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
    l->v[l->n++] = (sk_json_leaf){ .path = path,
                                   .path_len = (uint32_t)pn,
                                   .value = sk_event_strdup(ev, s, sn),
                                   .value_len = (uint32_t)sn,
                                   .flags = flags };
    return SK_OK;
}

// A YAML null (~, null, empty) is an absent field, as a JSON null is.
static bool yaml_null(const yaml_node_t *v)
{
    const char *s = (const char *)v->data.scalar.value;
    return v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (v->data.scalar.length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

static sk_status add_fields(leaves *l,
                            sk_event *ev,
                            yaml_document_t *doc,
                            yaml_node_t *m,
                            const char *prefix,
                            unsigned depth,
                            size_t *budget)
{
    if (depth > SK_MAX_DEPTH)
        return SK_ERR_LIMIT;
    uint32_t top = depth == 0 ? SK_LEAF_TOP : 0;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        if ((*budget)-- == 0)
            return SK_ERR_LIMIT;
        const char *k = scalar(yaml_document_get_node(doc, p->key));
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        if (!k || !v)
            return SK_ERR_FORMAT;
        char name[1024];
        int w = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", k);
        if (w < 0 || (size_t)w >= sizeof name)
            return SK_ERR_LIMIT; // a field path no event could carry
        const char *path = sk_event_strdup(ev, name, (size_t)w); // array items share it
        sk_status st = SK_OK;
        if (v->type == YAML_SCALAR_NODE) {
            if (!yaml_null(v))
                st = add_leaf(l, ev, path, (size_t)w, (const char *)v->data.scalar.value,
                              v->data.scalar.length, top);
        } else if (v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start;
                 st == SK_OK && it < v->data.sequence.items.top; it++) {
                yaml_node_t *x = yaml_document_get_node(doc, *it);
                if ((*budget)-- == 0)
                    return SK_ERR_LIMIT;
                if (x && x->type == YAML_SCALAR_NODE && !yaml_null(x))
                    st = add_leaf(l, ev, path, (size_t)w, (const char *)x->data.scalar.value,
                                  x->data.scalar.length, top);
            }
        } else {
            st = add_fields(l, ev, doc, v, name, depth + 1, budget);
        }
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}

typedef struct count_ctx {
    sk_matcher *m;
    const sk_rule *rule;
    unsigned long hits;
} count_ctx;

static void *count_worker(void *ctx)
{
    return ctx;
}

static sk_status count_event(void *ctx, const sk_event *ev, sk_scan_out *out)
{
    count_ctx *c = ctx;
    (void)out;
    if (sk_matcher_run_rule(c->m, c->rule, ev, NULL, NULL))
        c->hits++;
    return SK_OK;
}

// Runs rule over the events of a file; returns false (with msg) when the file cannot be read.
static bool count_file(trun *t,
                       sk_matcher *m,
                       const sk_rule *rule,
                       const char *path,
                       unsigned long *hits,
                       char *msg,
                       size_t msz)
{
    count_ctx c = { .m = m, .rule = rule, .hits = 0 };
    sk_scan scan;
    memset(&scan, 0, sizeof scan);
    scan.report = t->rep;
    scan.hooks = (sk_scan_hooks){ .worker_new = count_worker, .on_event = count_event, .ctx = &c };
    scan.jobs = 1;
    const char *paths[1] = { path };
    if (sk_scan_run(&scan, paths, 1) != SK_OK || scan.stats.files_read == 0) {
        snprintf(msg, msz, "cannot read %s", path);
        return false;
    }
    if (sk_scan_had_skips(&scan)) {
        snprintf(msg, msz, "%s was read only in part (see the warnings above)", path);
        *hits = c.hits;
        return false;
    }
    *hits = c.hits;
    return true;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? sk_xstrndup(path, (size_t)(slash - path)) : sk_xstrdup(".");
}

static char *join(const char *dir, const char *rel)
{
    if (rel[0] == '/')
        return sk_xstrdup(rel);
    sk_buf b;
    sk_buf_init(&b, 1u << 16);
    size_t n = strlen(dir);
    sk_buf_printf(&b, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", rel);
    return sk_buf_take(&b);
}

// ---- layout (a): NAME.tests.yml

static void run_saker_tests(trun *t, const char *path)
{
    yaml_document_t doc;
    if (!load_yaml(path, &doc, t->rep)) {
        file_error(t, path, "the test file cannot be read (see the error above)");
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    char *dir = dir_of(path);
    char *rule_path = NULL;
    sk_ruleset *rs = NULL;
    sk_matcher *m = NULL;
    const char *rule_rel = scalar(map_get(&doc, root, "rule"));
    if (rule_rel) {
        rule_path = join(dir, rule_rel);
    } else {
        size_t n = strlen(path);
        const char *suffix = n > 10 && strcmp(path + n - 10, ".tests.yml") == 0 ? ".tests.yml"
                                                                                 : ".tests.yaml";
        size_t sl = strlen(suffix);
        // NAME.tests.yml -> NAME.yml or NAME.yaml (Sigma), else NAME.toml (Elastic EQL); when
        // none is there, the Sigma name is reported missing.
        static const char *const exts[] = { ".yml", ".yaml", ".toml" };
        sk_buf b;
        sk_buf_init(&b, 1u << 16);
        size_t base = n > sl ? n - sl : n;
        for (size_t e = 0; e <= sizeof exts / sizeof exts[0]; e++) {
            sk_buf_reset(&b);
            sk_buf_put(&b, path, base);
            sk_buf_puts(&b, e < sizeof exts / sizeof exts[0] ? exts[e] : exts[0]);
            struct stat sb;
            if (stat(sk_buf_str(&b), &sb) == 0)
                break;
        }
        rule_path = sk_buf_take(&b);
    }
    yaml_node_t *tests = map_get(&doc, root, "tests");
    if (!tests || tests->type != YAML_SEQUENCE_NODE) {
        sk_diag_emitf(&t->rep->dl, SK_SEV_ERROR, path, root->start_mark.line + 1,
                      root->start_mark.column + 1, NULL, "test-file",
                      "a test file needs a 'tests:' list");
        file_error(t, path, "a test file needs a 'tests:' list");
        goto out;
    }
    sk_rule_loader *l = NULL;
    sk_load_opts lo = { .placeholder_file = t->o->placeholders };
    if (sk_rule_loader_new(&l, &lo, &t->rep->dl) != SK_OK) {
        file_error(t, path, "the rule loader cannot start (see the error above)");
        goto out;
    }
    if (sk_rule_loader_add_path(l, rule_path, &t->rep->dl) != SK_OK) {
        sk_rule_loader_free(l);
        char msg[1024];
        snprintf(msg, sizeof msg, "its rule %.900s cannot be read", rule_path);
        file_error(t, path, msg);
        goto out;
    }
    rs = sk_rule_loader_finish(l);
    if (sk_ruleset_count(rs) == 0) {
        add_case(t, path, "(rule loads)", false, "the rule did not load (see the error above)");
        goto out;
    }
    m = sk_matcher_new(rs);
    size_t idx = 0;
    for (yaml_node_item_t *it = tests->data.sequence.items.start; it < tests->data.sequence.items.top;
         it++, idx++) {
        yaml_node_t *tc = yaml_document_get_node(&doc, *it);
        char name[512], msg[1024];
        const char *nm = scalar(map_get(&doc, tc, "name"));
        if (nm)
            test_name(name, sizeof name, "%s", nm);
        else
            snprintf(name, sizeof name, "case %zu", idx + 1);
        const char *want_s = scalar(map_get(&doc, tc, "match"));
        char *end = NULL;
        long want = want_s ? strtol(want_s, &end, 10) : -1;
        if (!want_s || !*want_s || *end || want < 0) { // "match:" alone is no count either
            add_case(t, path, name, false, "the case needs 'match: N' (the exact number of hits)");
            continue;
        }
        unsigned long hits = 0;
        bool ok = true;
        yaml_node_t *one = map_get(&doc, tc, "event"), *many = map_get(&doc, tc, "events");
        yaml_node_t *file_n = map_get(&doc, tc, "file");
        const char *file = scalar(file_n);
        if ((one != NULL) + (many != NULL) + (file_n != NULL) > 1) {
            add_case(t, path, name, false,
                     "the case has more than one of 'event', 'events' and 'file' (give one)");
            continue;
        }
        if (many && many->type != YAML_SEQUENCE_NODE) {
            add_case(t, path, name, false, "'events' must be a list of events (maps of fields)");
            continue;
        }
        if (file_n && !file) {
            add_case(t, path, name, false, "'file' must be a path");
            continue;
        }
        if (file) {
            char *fp = join(dir, file);
            for (size_t r = 0; r < sk_ruleset_count(rs); r++) {
                unsigned long h = 0;
                ok = count_file(t, m, sk_ruleset_rule(rs, r), fp, &h, msg, sizeof msg);
                hits += h;
                if (!ok)
                    break;
            }
            free(fp);
        } else if (one || many) {
            yaml_node_t *list[1] = { one };
            yaml_node_item_t *items = NULL;
            size_t nitems = 0;
            if (many && many->type == YAML_SEQUENCE_NODE) {
                items = many->data.sequence.items.start;
                nitems = (size_t)(many->data.sequence.items.top - items);
            }
            size_t total = one ? 1 : nitems;
            sk_event ev;
            sk_event_init(&ev);
            leaves lv = { 0 };
            sk_fieldmap *fm = sk_fieldmap_new();
            for (size_t e = 0; e < total && ok; e++) {
                yaml_node_t *en = one ? list[0] : yaml_document_get_node(&doc, items[e]);
                if (!en || en->type != YAML_MAPPING_NODE) {
                    snprintf(msg, sizeof msg, "event %zu is not a map of fields", e + 1);
                    ok = false;
                    break;
                }
                sk_event_reset(&ev);
                ev.file = path;
                size_t budget = MAX_YAML_NODES;
                lv.n = 0;
                if (add_fields(&lv, &ev, &doc, en, "", 0, &budget) != SK_OK ||
                    sk_fieldmap_apply(fm, lv.v, lv.n, &ev) != SK_OK) {
                    snprintf(msg, sizeof msg, "event %zu is too large or malformed", e + 1);
                    ok = false;
                    break;
                }
                for (size_t r = 0; r < sk_ruleset_count(rs); r++)
                    if (sk_matcher_run_rule(m, sk_ruleset_rule(rs, r), &ev, NULL, NULL))
                        hits++;
            }
            sk_fieldmap_free(fm);
            free(lv.v);
            sk_event_fini(&ev);
        } else {
            snprintf(msg, sizeof msg, "the case needs 'event', 'events' or 'file'");
            ok = false;
        }
        if (ok && hits != (unsigned long)want) {
            snprintf(msg, sizeof msg, "expected %ld hit%s, got %lu", want, want == 1 ? "" : "s",
                     hits);
            ok = false;
        }
        add_case(t, path, name, ok, ok ? NULL : msg);
    }
out:
    sk_matcher_free(m);
    sk_ruleset_free(rs);
    free(rule_path);
    free(dir);
    yaml_document_delete(&doc);
}

// ---- layout (b): SigmaHQ regression_data/**/info.yml

static void run_sigma_info(trun *t, const char *path)
{
    if (!t->sigma_loaded) {
        t->sigma_loaded = true;
        if (t->o->nrules == 0) {
            sk_report_msg(t->rep, SK_SEV_ERROR,
                          "%s: SigmaHQ regression tests need the rules: give -r RULES_DIR", path);
        } else {
            bool io_error;
            t->sigma_rules = sk_cli_load_rules(t->o, t->rep, &io_error);
            if (t->sigma_rules)
                sk_cli_load_summary(t->sigma_rules, t->rep);
        }
    }
    if (!t->sigma_rules) {
        file_error(t, path, "no -r rule could be loaded");
        return;
    }
    yaml_document_t doc;
    if (!load_yaml(path, &doc, t->rep)) {
        file_error(t, path, "the test file cannot be read (see the error above)");
        return;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *meta = map_get(&doc, root, "rule_metadata");
    yaml_node_t *infos = map_get(&doc, root, "regression_tests_info");
    char *dir = dir_of(path);
    if (meta && meta->type == YAML_SEQUENCE_NODE && !infos) {
        // SigmaHQ comments out the tests of rules whose logs are not evtx (cisco .raw files).
        sk_diag_emitf(&t->rep->dl, SK_SEV_NOTE, path, 0, 0, NULL, "test-none",
                      "declares no regression tests; nothing to run");
        add_skip(t, path, "(regression tests)", "declares no regression tests");
        goto out;
    }
    if (!meta || meta->type != YAML_SEQUENCE_NODE || !infos ||
        infos->type != YAML_SEQUENCE_NODE) {
        sk_diag_emitf(&t->rep->dl, SK_SEV_ERROR, path, 0, 0, NULL, "test-file",
                      "not a SigmaHQ regression info.yml (needs rule_metadata and "
                      "regression_tests_info lists)");
        file_error(t, path, "not a SigmaHQ regression info.yml");
        goto out;
    }
    sk_matcher *m = sk_matcher_new(t->sigma_rules);
    for (yaml_node_item_t *mi = meta->data.sequence.items.start; mi < meta->data.sequence.items.top;
         mi++) {
        yaml_node_t *rm = yaml_document_get_node(&doc, *mi);
        const char *id = scalar(map_get(&doc, rm, "id"));
        const char *title = scalar(map_get(&doc, rm, "title"));
        const sk_rule *rule = id ? sk_ruleset_find_id(t->sigma_rules, id) : NULL;
        for (yaml_node_item_t *ii = infos->data.sequence.items.start;
             ii < infos->data.sequence.items.top; ii++) {
            yaml_node_t *info = yaml_document_get_node(&doc, *ii);
            const char *tname = scalar(map_get(&doc, info, "name"));
            const char *rel = scalar(map_get(&doc, info, "path"));
            const char *mc = scalar(map_get(&doc, info, "match_count"));
            const char *type = scalar(map_get(&doc, info, "type"));
            char name[768], msg[1024];
            test_name(name, sizeof name, "%s [%s] %s", title ? title : "(untitled)",
                      id ? id : "no id", tname ? tname : "");
            if (type && strcmp(type, "evtx") != 0) {
                sk_diag_emitf(&t->rep->dl, SK_SEV_NOTE, path, 0, 0, NULL, "test-type",
                              "test type '%s' is not supported (evtx only); not run", type);
                char why[160];
                snprintf(why, sizeof why, "test type '%.100s' is not supported (evtx only)", type);
                add_skip(t, path, name, why);
                continue;
            }
            // match_count: a count of at least 0 (absent: 1); anything else is a broken test.
            char *mc_end = NULL;
            long mcv = mc ? strtol(mc, &mc_end, 10) : 1;
            bool mc_ok = !mc || (*mc && !*mc_end && mcv >= 0);
            unsigned long want = mc_ok ? (unsigned long)mcv : 0;
            if (!mc_ok) {
                snprintf(msg, sizeof msg, "match_count '%.100s' is not a count of hits", mc);
                add_case(t, path, name, false, msg);
                continue;
            }
            if (!rule) {
                snprintf(msg, sizeof msg, "rule %s is not among the loaded -r rules",
                         id ? id : "(no id)");
                add_case(t, path, name, false, msg);
                continue;
            }
            // The path is relative to the folder holding regression_data/; fall back to the
            // file's base name beside info.yml.
            char *file = NULL;
            struct stat sb;
            if (rel) {
                const char *rd = strstr(path, "regression_data/");
                if (rd && strncmp(rel, "regression_data/", 16) == 0) {
                    sk_buf b;
                    sk_buf_init(&b, 1u << 16);
                    sk_buf_put(&b, path, (size_t)(rd - path));
                    sk_buf_puts(&b, rel);
                    file = sk_buf_take(&b);
                }
                if (!file || stat(file, &sb) != 0) {
                    free(file);
                    const char *base = strrchr(rel, '/');
                    file = join(dir, base ? base + 1 : rel);
                }
            }
            if (!file) {
                add_case(t, path, name, false, "the test names no evtx file (path)");
                continue;
            }
            unsigned long hits = 0;
            bool ok = count_file(t, m, rule, file, &hits, msg, sizeof msg);
            if (ok && hits < want) {
                snprintf(msg, sizeof msg, "expected at least %lu hit%s, got %lu", want,
                         want == 1 ? "" : "s", hits);
                ok = false;
            }
            add_case(t, path, name, ok, ok ? NULL : msg);
            free(file);
        }
    }
    sk_matcher_free(m);
out:
    free(dir);
    yaml_document_delete(&doc);
}

// ---- discovery

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void visit(trun *t, const char *path, unsigned depth)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot open: %s", strerror(errno));
        sk_diag_emitf(&t->rep->dl, SK_SEV_ERROR, path, 0, 0, NULL, "test-file", "%s", msg);
        file_error(t, path, msg);
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (strcmp(base, "info.yml") == 0 || strcmp(base, "info.yaml") == 0)
            run_sigma_info(t, path);
        else
            run_saker_tests(t, path);
        return;
    }
    if (depth >= SK_MAX_WALK_DEPTH)
        return;
    DIR *d = opendir(path);
    if (!d) {
        char msg[256];
        snprintf(msg, sizeof msg, "cannot read folder: %s", strerror(errno));
        sk_diag_emitf(&t->rep->dl, SK_SEV_ERROR, path, 0, 0, NULL, "test-file", "%s", msg);
        file_error(t, path, msg);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sk_xgrow((void **)&names, &cap, n + 1, sizeof *names);
        names[n++] = sk_xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) // qsort's base must not be NULL, even for 0 elements
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *p = join(path, names[i]);
        struct stat cb;
        if (stat(p, &cb) == 0 &&
            (S_ISDIR(cb.st_mode) || ends_with(names[i], ".tests.yml") ||
             ends_with(names[i], ".tests.yaml") || strcmp(names[i], "info.yml") == 0))
            visit(t, p, depth + 1);
        free(p);
        free(names[i]);
    }
    free(names);
}

// ---- JUnit XML

// Text for an XML 1.0 attribute or element. What XML 1.0 cannot hold (control characters,
// U+FFFE, U+FFFF, bytes that are not UTF-8) becomes U+FFFD, so the JUnit file always parses.
static void xml_escape(FILE *fp, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (c == '&')
                fputs("&amp;", fp);
            else if (c == '<')
                fputs("&lt;", fp);
            else if (c == '>')
                fputs("&gt;", fp);
            else if (c == '"')
                fputs("&quot;", fp);
            else if (c < 0x20 && c != '\t' && c != '\n')
                fputs("&#xfffd;", fp);
            else
                fputc(c, fp);
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, n - i, &cp);
        bool bad = (cp == 0xFFFD && !(k == 3 && memcmp(s + i, "\xEF\xBF\xBD", 3) == 0)) ||
                   cp == 0xFFFE || cp == 0xFFFF;
        if (bad)
            fputs("&#xfffd;", fp);
        else
            fwrite(s + i, 1, k, fp);
        i += k;
    }
}

// One <testsuite> per test file, in the order the cases came: cases[0..n), failed or passed (or,
// with skipped, skipped: message says why).
// One testsuite per test file, holding its cases run and skipped in the order they were made
// (a file's are made together).
static void junit_suites(FILE *fp, const trun *t)
{
    size_t n = t->ncases + t->nskips, a = 0, b = 0;
    const tcase **all = sk_xmalloc((n ? n : 1) * sizeof *all);
    for (size_t k = 0; k < n; k++)
        all[k] = b == t->nskips || (a < t->ncases && t->cases[a].seq < t->skips[b].seq)
                         ? &t->cases[a++]
                         : &t->skips[b++];
    size_t i = 0;
    while (i < n) {
        size_t j = i, f = 0, sk = 0;
        for (; j < n && strcmp(all[j]->suite, all[i]->suite) == 0; j++) {
            sk += all[j]->skipped;
            f += !all[j]->passed && !all[j]->skipped;
        }
        fputs("  <testsuite name=\"", fp);
        xml_escape(fp, all[i]->suite);
        fprintf(fp, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", j - i, f, sk);
        for (size_t k = i; k < j; k++) {
            const tcase *c = all[k];
            fputs("    <testcase classname=\"", fp);
            xml_escape(fp, c->suite);
            fputs("\" name=\"", fp);
            xml_escape(fp, c->name);
            if (c->passed && !c->skipped) {
                fputs("\"/>\n", fp);
            } else {
                fputs(c->skipped ? "\">\n      <skipped message=\""
                                 : "\">\n      <failure message=\"",
                      fp);
                xml_escape(fp, c->message);
                fputs("\"/>\n    </testcase>\n", fp);
            }
        }
        fputs("  </testsuite>\n", fp);
        i = j;
    }
    free(all);
}

// Why an existing --junit FILE must not be written, or NULL: it is written at the end, so a FILE
// the run reads would be replaced by the report of its own run. A FILE named like a test or a
// rule (.yml, .yaml, .toml) is refused wherever it is (a test file's rule is read beside it,
// without being named), and any other that a test or rule path names.
static const char *junit_refused(const char *file, const char *const *paths, size_t npaths,
                                 const sk_cli_opts *o)
{
    struct stat ob;
    if (stat(file, &ob) != 0 || !S_ISREG(ob.st_mode))
        return NULL;
    const char *dot = strrchr(file, '.');
    if (dot && (strcasecmp(dot, ".yml") == 0 || strcasecmp(dot, ".yaml") == 0 ||
                strcasecmp(dot, ".toml") == 0))
        return "has the name of a test or rule file";
    if (sk_cli_output_input(&ob, NULL, false, paths, npaths) ||
        sk_cli_output_input(&ob, NULL, false, o->rules, o->nrules))
        return "is also an input";
    return NULL;
}

static bool write_junit(const trun *t, const char *file)
{
    FILE *fp = fopen(file, "w");
    if (!fp)
        return false;
    size_t failures = 0;
    for (size_t i = 0; i < t->ncases; i++)
        failures += !t->cases[i].passed;
    fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(fp, "<testsuites name=\"saker\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n",
            t->ncases + t->nskips, failures, t->nskips);
    junit_suites(fp, t);
    fputs("</testsuites>\n", fp);
    return fclose(fp) == 0;
}

int sk_cmd_test(int argc, char **argv)
{
    sk_cli_opts o;
    const char **paths = NULL;
    size_t npaths = 0;
    int rc = sk_cli_parse(argc, argv, 2, SK_CMD_TEST, "test", &o, &paths, &npaths);
    if (rc)
        goto done_opts;
    if (o.help) {
        sk_cli_usage(SK_CMD_TEST, "test", "[options] PATH...",
                     "Run rule regression tests. PATH is a test file NAME.tests.yml (the rule is\n"
                     "NAME.yml beside it), a SigmaHQ regression info.yml (rules from -r, found by\n"
                     "id), or a folder searched for both. Prints one line per test and\n"
                     "'N passed, N failed' (--json: JSON Lines). Exit 0 all passed, 1 some\n"
                     "failed, 2 not runnable.");
        rc = 0;
        goto done_opts;
    }
    if (npaths == 0) {
        fputs("saker test: no test file or folder given (see 'saker test --help')\n", stderr);
        rc = SK_EXIT_FAILURE;
        goto done_opts;
    }
    const char *why = o.junit ? junit_refused(o.junit, paths, npaths, &o) : NULL;
    if (why) {
        fprintf(stderr, "saker test: the JUnit file '%s' %s; not overwriting it\n", o.junit, why);
        rc = SK_EXIT_FAILURE;
        goto done_opts;
    }
    sk_report rep;
    sk_report_init(&rep, o.quiet, o.strict);
    trun t = { .rep = &rep, .o = &o, .json = o.json };
    for (size_t i = 0; i < npaths; i++)
        visit(&t, paths[i], 0);
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < t.ncases; i++)
        t.cases[i].passed ? passed++ : failed++;
    if (t.json)
        printf("{\"type\":\"summary\",\"passed\":%zu,\"failed\":%zu,\"skipped\":%lu}\n",
               passed,
               failed,
               t.skipped);
    else if (t.skipped)
        printf("%zu passed, %zu failed, %lu skipped\n", passed, failed, t.skipped);
    else
        printf("%zu passed, %zu failed\n", passed, failed);
    if (o.junit && !write_junit(&t, o.junit)) {
        fprintf(stderr, "saker test: cannot write %s: %s\n", o.junit, strerror(errno));
        rc = SK_EXIT_FAILURE;
    } else if (t.ncases == 0 || (o.strict && (t.errors || rep.fatal))) {
        if (t.ncases == 0 && t.errors == 0)
            fputs("saker test: no tests found\n", stderr);
        else if (t.ncases == 0)
            fputs("saker test: the tests could not be run (see the errors above)\n", stderr);
        rc = SK_EXIT_FAILURE;
    } else if (t.errors) {
        rc = SK_EXIT_FAILURE;
    } else {
        rc = failed ? 1 : 0;
    }
    for (size_t i = 0; i < t.ncases; i++) {
        free(t.cases[i].suite);
        free(t.cases[i].name);
        free(t.cases[i].message);
    }
    free(t.cases);
    for (size_t i = 0; i < t.nskips; i++) {
        free(t.skips[i].suite);
        free(t.skips[i].name);
        free(t.skips[i].message);
    }
    free(t.skips);
    sk_ruleset_free(t.sigma_rules);
    sk_report_fini(&rep);
done_opts:
    free(paths);
    sk_cli_opts_fini(&o);
    return rc;
}
