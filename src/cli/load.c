// Rule loading shared by hunt, rules and test.
#include "load.h"

#include <stdio.h>
#include <string.h>

#include "rules/rule_cache.h"
#include "scan.h"

// Loads the rules from their files; with c, recording the load for the cache and keeping it when
// it read everything.
static sk_ruleset *load_cold(const sk_cli_opts *o, sk_report *rep, sk_rule_cache *c, bool *io_error)
{
    sk_load_opts lo = { .placeholder_file = o->placeholders,
                        .strict = o->strict,
                        .jobs = o->jobs ? o->jobs : sk_scan_default_jobs(),
                        .sources = c ? sk_rule_cache_sources(c) : NULL };
    sk_diags *d = c ? sk_rule_cache_recorder(c, &rep->dl) : &rep->dl;
    sk_rule_loader *l = NULL;
    *io_error = false;
    if (sk_rule_loader_new(&l, &lo, d) != SK_OK)
        return NULL;
    bool builtin = o->nrules == 0 || o->builtin;
    if (builtin && sk_rule_loader_add_builtin(l, d) != SK_OK)
        *io_error = true;
    for (size_t i = 0; i < o->nrules; i++)
        if (sk_rule_loader_add_path(l, o->rules[i], d) != SK_OK)
            *io_error = true;
    sk_ruleset *rs = sk_rule_loader_finish(l);
    if (c && !*io_error)
        sk_rule_cache_put(c, rs);
    return rs;
}

sk_ruleset *sk_cli_load_rules(const sk_cli_opts *o, sk_report *rep, bool *io_error)
{
    sk_rule_cache *c = o->no_cache ? NULL
                                   : sk_rule_cache_new(NULL,
                                                       o->rules,
                                                       o->nrules,
                                                       o->nrules == 0 || o->builtin,
                                                       o->placeholders);
    *io_error = false;
    sk_ruleset *rs = sk_rule_cache_get(c, &rep->dl);
    if (!rs)
        rs = load_cold(o, rep, c, io_error);
    sk_rule_cache_free(c);
    return rs;
}

void sk_cli_load_summary(const sk_ruleset *rs, sk_report *rep)
{
    size_t loaded = sk_ruleset_loaded_count(rs), skipped = sk_ruleset_skipped_count(rs);
    if (rep->quiet && skipped == 0)
        return;
    char reasons[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < sk_ruleset_reason_count(rs) && len < sizeof reasons; i++) {
        const char *code;
        size_t n;
        sk_ruleset_reason_at(rs, i, &code, &n);
        int k = snprintf(
                reasons + len, sizeof reasons - len, "%s%s \xC3\x97%zu", i ? ", " : "", code, n);
        if (k < 0)
            break;
        len += (size_t)k;
    }
    if (skipped)
        fprintf(rep->fp,
                "saker: loaded %zu/%zu rules; %zu skipped: %s\n",
                loaded,
                loaded + skipped,
                skipped,
                reasons);
    else
        fprintf(rep->fp, "saker: loaded %zu/%zu rules\n", loaded, loaded);
}

size_t sk_cli_filter_rules(sk_ruleset *rs, const sk_cli_opts *o)
{
    sk_rule_filter f = { .min_level = SK_LEVEL_UNKNOWN };
    if (o->min_level)
        (void)sk_level_parse(o->min_level, &f.min_level);
    f.tags = o->tags;
    f.ntags = o->ntags;
    f.ids = o->rule_ids;
    f.nids = o->nrule_ids;
    f.statuses = o->statuses;
    f.nstatuses = o->nstatuses;
    return sk_ruleset_filter(rs, &f);
}
