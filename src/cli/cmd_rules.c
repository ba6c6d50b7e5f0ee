// `saker rules check|list|explain`: what a rule author needs to see before hunting. check prints
// the load report (each rule loaded or skipped with its located reason, totals by reason), list
// the loaded rules, explain the compiled form of a rule.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "cli_int.h"
#include "core/buf.h"
#include "core/mem.h"
#include "load.h"
#include "output/json.h"

// In `check`, errors (skipped rules) are printed from the report on stdout; warnings about rules
// that did load still go to stderr as usual.
static void check_diag(void *ctx, const sk_diag *d)
{
    sk_report *r = ctx;
    if (r->strict && d->severity >= SK_SEV_WARNING)
        r->fatal = true;
    // Problems of a rule are in the report itself; what is not about one rule (a path that cannot
    // be opened or read, the placeholder file) and warnings go to stderr.
    bool shown = d->severity == SK_SEV_WARNING ||
                 (d->severity == SK_SEV_ERROR &&
                  (strcmp(d->code, "io-error") == 0 || strcmp(d->code, "placeholder-file") == 0));
    if (!shown || (r->quiet && d->severity < SK_SEV_ERROR))
        return;
    sk_buf b;
    sk_buf_init(&b, 1u << 20);
    sk_diag_render(d, &b);
    fwrite(sk_buf_str(&b), 1, b.n, stderr);
    sk_buf_fini(&b);
}

// Line n (1-based) of a file, without its newline, into buf; false when unavailable.
static bool file_line(const char *path, unsigned long n, char *buf, size_t size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    unsigned long ln = 1;
    int c;
    size_t k = 0;
    bool ok = false;
    while ((c = fgetc(fp)) != EOF) {
        if (ln == n) {
            if (c == '\n') {
                ok = true;
                break;
            }
            if (k + 1 < size)
                buf[k++] = (char)c;
        } else if (c == '\n' && ++ln > n) {
            break;
        }
    }
    if (ln == n && c == EOF)
        ok = k > 0;
    fclose(fp);
    buf[k] = '\0';
    return ok;
}

static void json_str(sk_buf *b, const char *s, size_t n)
{
    if (sk_json_str(b, s, n) != SK_OK)
        b->full = true;
}

static void json_kv(sk_buf *b, const char *key, const char *v, bool comma)
{
    sk_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
    if (v)
        json_str(b, v, strlen(v));
    else
        sk_buf_puts(b, "null");
}

static int do_check(sk_ruleset *rs, const sk_cli_opts *o)
{
    size_t n = sk_ruleset_report_count(rs);
    sk_buf b;
    sk_buf_init(&b, (size_t)1 << 30);
    if (o->json) {
        sk_buf_puts(&b, "{\"rules\":[");
        for (size_t i = 0; i < n; i++) {
            const sk_load_entry *e = sk_ruleset_report_at(rs, i);
            sk_buf_puts(&b, i ? ",\n{" : "\n{");
            json_kv(&b, "file", e->file, false);
            sk_buf_printf(&b, ",\"line\":%lu,\"col\":%lu", e->line, e->col);
            json_kv(&b, "id", e->id, true);
            json_kv(&b, "title", e->title, true);
            sk_buf_printf(&b, ",\"loaded\":%s", e->loaded ? "true" : "false");
            json_kv(&b, "reason", e->code, true);
            json_kv(&b, "message", e->message, true);
            sk_buf_putc(&b, '}');
        }
        sk_buf_printf(&b,
                      "],\n\"loaded\":%zu,\"skipped\":%zu,\"reasons\":{",
                      sk_ruleset_loaded_count(rs),
                      sk_ruleset_skipped_count(rs));
        for (size_t i = 0; i < sk_ruleset_reason_count(rs); i++) {
            const char *code;
            size_t k;
            sk_ruleset_reason_at(rs, i, &code, &k);
            sk_buf_puts(&b, i ? "," : "");
            json_str(&b, code, strlen(code));
            sk_buf_printf(&b, ":%zu", k);
        }
        sk_buf_puts(&b, "}}\n");
    } else {
        for (size_t i = 0; i < n; i++) {
            const sk_load_entry *e = sk_ruleset_report_at(rs, i);
            if (e->loaded) {
                sk_text_escape(&b, e->file);
                sk_buf_printf(&b, ":%lu: loaded: ", e->line);
                sk_text_escape(&b, e->title ? e->title : "(untitled)");
                if (e->id) {
                    sk_buf_puts(&b, " [");
                    sk_text_escape(&b, e->id);
                    sk_buf_putc(&b, ']');
                }
                sk_buf_putc(&b, '\n');
                continue;
            }
            char src[1024];
            bool have = e->line && e->col && file_line(e->file, e->line, src, sizeof src);
            sk_diag d = { .severity = SK_SEV_ERROR,
                          .file = e->file,
                          .line = e->line,
                          .col = e->col,
                          .code = e->code,
                          .message = e->message,
                          .source_line = have ? src : NULL };
            sk_buf tmp;
            sk_buf_init(&tmp, 1u << 20);
            sk_diag_render(&d, &tmp);
            // "error:" reads as a tool failure here; in a report the rule was "skipped".
            const char *t = sk_buf_str(&tmp);
            const char *at = strstr(t, ": error: ");
            if (at) {
                sk_buf_put(&b, t, (size_t)(at - t));
                sk_buf_printf(&b, ": skipped: %s: ", e->code ? e->code : "error");
                sk_buf_puts(&b, at + 9);
            } else {
                sk_buf_puts(&b, t);
            }
            sk_buf_fini(&tmp);
        }
    }
    sk_cli_stdout(sk_buf_str(&b), b.n);
    sk_buf_fini(&b);
    if (!o->json) {
        sk_report r;
        sk_report_init(&r, false, false);
        r.fp = stdout;
        sk_cli_load_summary(rs, &r);
        sk_report_fini(&r);
    }
    if (sk_ruleset_loaded_count(rs) == 0)
        return SK_EXIT_FAILURE;
    return sk_ruleset_skipped_count(rs) ? 1 : 0;
}

static int do_list(sk_ruleset *rs, const sk_cli_opts *o)
{
    sk_buf b;
    sk_buf_init(&b, (size_t)1 << 30);
    size_t shown = 0;
    if (o->json)
        sk_buf_putc(&b, '[');
    for (size_t i = 0; i < sk_ruleset_count(rs); i++) {
        if (!sk_ruleset_enabled(rs, i))
            continue;
        const sk_rule *r = sk_ruleset_rule(rs, i);
        if (o->json) {
            sk_buf_puts(&b, shown ? ",\n{" : "\n{");
            json_kv(&b, "id", sk_rule_id(r), false);
            json_kv(&b, "title", sk_rule_title(r), true);
            json_kv(&b, "level", sk_level_str(sk_rule_level(r)), true);
            json_kv(&b, "status", sk_rule_status(r), true);
            json_kv(&b, "logsource", sk_rule_logsource(r), true);
            sk_buf_puts(&b, ",\"tags\":[");
            for (size_t t = 0; t < sk_rule_tag_count(r); t++) {
                const char *tag = sk_rule_tag_at(r, t);
                sk_buf_puts(&b, t ? "," : "");
                json_str(&b, tag, strlen(tag));
            }
            sk_buf_putc(&b, ']');
            json_kv(&b, "path", sk_rule_path(r), true);
            json_kv(&b, "language", sk_rule_language(r), true);
            sk_buf_putc(&b, '}');
        } else {
            // A rule pack is third-party input: its text is escaped for the terminal.
            sk_buf tmp;
            sk_buf_init(&tmp, 1u << 20);
            sk_buf_printf(&b, "%-36s  ", sk_text_shown(&tmp, sk_rule_id(r) ? sk_rule_id(r) : "-"));
            sk_buf_printf(&b, "%-13s  ", sk_level_str(sk_rule_level(r)));
            sk_buf_printf(&b,
                          "%-12s  ",
                          sk_text_shown(&tmp, sk_rule_status(r) ? sk_rule_status(r) : "-"));
            sk_text_escape(&b, sk_rule_title(r));
            sk_buf_printf(&b, "\n%-36s  ", "");
            sk_text_escape(&b, sk_rule_logsource(r));
            for (size_t t = 0; t < sk_rule_tag_count(r); t++) {
                sk_buf_puts(&b, t ? " " : "  ");
                sk_text_escape(&b, sk_rule_tag_at(r, t));
            }
            sk_buf_putc(&b, '\n');
            sk_buf_fini(&tmp);
        }
        shown++;
    }
    if (o->json)
        sk_buf_puts(&b, shown ? "\n]\n" : "]\n");
    sk_cli_stdout(sk_buf_str(&b), b.n);
    sk_buf_fini(&b);
    if (!o->json)
        fprintf(stderr, "saker: %zu rules listed\n", shown);
    return shown ? 0 : SK_EXIT_FAILURE;
}

static int do_explain(sk_ruleset *rs, const char *what, bool by_file)
{
    if (!what) // the caller checks that an id or file was named
        return SK_EXIT_FAILURE;
    sk_buf b;
    sk_buf_init(&b, (size_t)1 << 30);
    size_t shown = 0;
    for (size_t i = 0; i < sk_ruleset_count(rs); i++) {
        const sk_rule *r = sk_ruleset_rule(rs, i);
        if (!by_file && (!sk_rule_id(r) || strcmp(sk_rule_id(r), what) != 0))
            continue;
        if (by_file && (!sk_rule_path(r) || strcmp(sk_rule_path(r), what) != 0))
            continue; // only the named file's rules, not those of -r or --builtin beside it
        if (shown)
            sk_buf_putc(&b, '\n');
        // The explanation quotes the rule's own text (title, names, condition): each of its
        // lines is escaped for the terminal, as a third-party rule pack is untrusted input.
        sk_buf ex;
        sk_buf_init(&ex, (size_t)1 << 30);
        sk_rule_explain(r, &ex);
        const char *p = sk_buf_str(&ex);
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            char *line = sk_xstrndup(p, len);
            sk_text_escape(&b, line);
            free(line);
            if (!nl)
                break;
            sk_buf_putc(&b, '\n');
            p = nl + 1;
        }
        sk_buf_fini(&ex);
        shown++;
    }
    sk_cli_stdout(sk_buf_str(&b), b.n);
    sk_buf_fini(&b);
    if (!shown) {
        fprintf(stderr,
                "saker rules explain: no loaded rule %s '%s'\n",
                by_file ? "in" : "has the id",
                what);
        return SK_EXIT_FAILURE;
    }
    return 0;
}

int sk_cmd_rules(int argc, char **argv)
{
    sk_cli_opts o;
    const char **ops = NULL;
    size_t nops = 0;
    sk_ruleset *rs = NULL;
    sk_report rep;
    bool rep_init = false;
    int rc = sk_cli_parse(argc, argv, 2, SK_CMD_RULES, "rules", &o, &ops, &nops);
    if (rc)
        goto done;
    if (o.help || nops == 0) {
        if (!o.help) {
            fputs("saker rules: say what to do: check, list or explain (see 'saker rules "
                  "--help')\n",
                  stderr);
            rc = SK_EXIT_FAILURE;
            goto done;
        }
        sk_cli_usage(SK_CMD_RULES,
                     "rules",
                     "check|list [options] [PATH...] | explain ID|FILE [PATH...]",
                     "check    load the rules and report each one: loaded, or skipped with the\n"
                     "         located reason; totals by reason. Exit 0 all loaded, 1 some\n"
                     "         skipped, 2 none loaded.\n"
                     "list     list the loaded rules: id, level, status, title, logsource, tags.\n"
                     "explain  print the compiled form of the rule with this id (searched in -r\n"
                     "         paths, or the built-in pack), or of every rule in FILE.\n"
                     "PATH and -r name rule files or folders; without any, the built-in pack.");
        rc = 0;
        goto done;
    }
    const char *verb = ops[0];
    bool check = strcmp(verb, "check") == 0, list = strcmp(verb, "list") == 0,
         explain = strcmp(verb, "explain") == 0;
    if (!check && !list && !explain) {
        fprintf(stderr, "saker rules: unknown action '%s' (use check, list or explain)\n", verb);
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    // The rule filters select what list prints, and --json is for check and list: elsewhere
    // they would be taken and do nothing.
    const char *unused = !list && o.min_level ? "--min-level"
                         : !list && o.nstatuses ? "--status"
                         : !list && o.ntags     ? "--tag"
                         : !list && o.nrule_ids ? "--rule-id"
                         : explain && o.json    ? "--json"
                                                : NULL;
    if (unused) {
        fprintf(stderr, "saker rules %s: %s is for %s\n", verb, unused,
                strcmp(unused, "--json") == 0 ? "check and list" : "rules list (and hunt)");
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    const char *target = NULL;
    bool by_file = false;
    size_t first_path = 1;
    if (explain) {
        if (nops < 2) {
            fputs("saker rules explain: name a rule id or a rule file\n", stderr);
            rc = SK_EXIT_FAILURE;
            goto done;
        }
        target = ops[1];
        first_path = 2;
        struct stat sb;
        by_file = stat(target, &sb) == 0 && S_ISREG(sb.st_mode);
    }
    // Operands after the action are rule paths, like -r.
    for (size_t i = first_path; i < nops; i++) {
        o.rules = sk_xrealloc((void *)o.rules, (o.nrules + 1) * sizeof *o.rules);
        o.rules[o.nrules++] = ops[i];
    }
    if (by_file) {
        o.rules = sk_xrealloc((void *)o.rules, (o.nrules + 1) * sizeof *o.rules);
        o.rules[o.nrules++] = target;
    }
    sk_report_init(&rep, o.quiet, o.strict);
    rep_init = true;
    if (check)
        sk_diags_init(&rep.dl, check_diag, &rep);
    bool io_error;
    rs = sk_cli_load_rules(&o, &rep, &io_error);
    if (!rs) {
        rc = SK_EXIT_FAILURE;
        goto done;
    }
    // --strict: a skipped rule or a warning is fatal (exit 2), as for hunt; check still prints
    // the whole report first.
    bool strict_stop = o.strict && (sk_ruleset_skipped_count(rs) || io_error || rep.fatal);
    if (check) {
        rc = do_check(rs, &o);
        if (io_error && rc == 0)
            rc = 1;
        if (strict_stop) {
            fputs("saker rules check: --strict makes every skipped rule and warning fatal\n",
                  stderr);
            rc = SK_EXIT_FAILURE;
        }
    } else if (strict_stop) {
        if (!o.quiet && sk_ruleset_skipped_count(rs))
            sk_cli_load_summary(rs, &rep);
        fprintf(stderr,
                "saker rules %s: stopped: --strict makes every skipped rule and warning fatal\n",
                list ? "list" : "explain");
        rc = SK_EXIT_FAILURE;
    } else if (list) {
        if (!o.quiet && sk_ruleset_skipped_count(rs))
            sk_cli_load_summary(rs, &rep);
        if (sk_cli_filter_rules(rs, &o) == 0 && sk_ruleset_count(rs) > 0) {
            fputs("saker rules list: the rule filters select no rule\n", stderr);
            rc = SK_EXIT_FAILURE;
            goto done;
        }
        rc = do_list(rs, &o);
    } else {
        rc = do_explain(rs, target, by_file);
    }
done:
    sk_ruleset_free(rs);
    if (rep_init)
        sk_report_fini(&rep);
    free(ops);
    sk_cli_opts_fini(&o);
    return rc;
}
