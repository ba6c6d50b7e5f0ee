// Elastic detection-rules TOML files -> sk_rules with language "eql".
//
// One file holds one rule: [metadata] (maturity, creation_date) and [rule] (rule_id, name,
// description, severity, language, type, query, tags, references, false_positives, author and
// [[rule.threat]] with its ATT&CK technique, sub-technique and tactic). Only `language = "eql"`
// with `type = "eql"` and a single-event query is loaded; every other rule is skipped with a
// located reason (unsupported-language, unsupported-rule-type, eql-sequence, eql-sample, ...), so
// nothing is dropped silently. The metadata maps onto Sigma's: title = name, id = rule_id, level
// = severity, status from maturity (production -> stable, development -> experimental,
// deprecated -> deprecated), tags = rule.tags plus attack.tNNNN[.NNN] and attack.<tactic name>.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strings.h>

#include "core/mem.h"
#include "eql_int.h"
#include "toml_int.h"

typedef struct lctx {
    sk_ruleset *rs;
    const char *path;
    const char *data;
    size_t n;
    sk_diags *d;
    toml_doc *doc;
    const char *title;
    const char *id;
} lctx;

static void emit(lctx *c,
                 sk_severity sev,
                 const char *code,
                 unsigned long line,
                 unsigned long col,
                 const char *msg)
{
    if (!c->d)
        return;
    char src[1024];
    char full[900];
    if (c->title)
        snprintf(full, sizeof full, "%s (rule \"%.200s\")", msg, c->title);
    else
        snprintf(full, sizeof full, "%s", msg);
    sk_diag dg = { .severity = sev,
                   .file = c->path,
                   .line = line,
                   .col = col,
                   .where = NULL,
                   .code = code,
                   .message = full,
                   .source_line = sk_diag_line_text(c->data, c->n, line, src, sizeof src) };
    sk_diag_emit(c->d, &dg);
}

static size_t
skip(lctx *c, const char *code, const char *msg, unsigned long line, unsigned long col)
{
    emit(c, SK_SEV_ERROR, code, line, col, msg);
    sk_load_entry e = { .file = c->path,
                        .title = c->title,
                        .id = c->id,
                        .loaded = false,
                        .code = code,
                        .message = msg,
                        .line = line,
                        .col = col };
    rs_add_report(c->rs, &e);
    return 1;
}

static const char *str_val(const tv *v)
{
    return v && v->type == TV_STRING && !memchr(v->s, '\0', v->len) ? v->s : NULL;
}

// Strings of a TOML array (or one string) into a ruleset array; non-strings are ignored.
static void str_array(lctx *c, const tv *v, const char ***out, size_t *cnt)
{
    *out = NULL;
    *cnt = 0;
    if (!v)
        return;
    if (v->type == TV_STRING) {
        if (!str_val(v))
            return;
        *out = rs_alloc(c->rs, sizeof(char *));
        (*out)[(*cnt)++] = rs_strdup(c->rs, v->s);
        return;
    }
    if (v->type != TV_ARRAY)
        return;
    *out = rs_alloc(c->rs, (v->n ? v->n : 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++)
        if (str_val(v->items[i]))
            (*out)[(*cnt)++] = rs_strdup(c->rs, v->items[i]->s);
}

typedef struct tagset {
    const char **v;
    size_t n, cap;
} tagset;

static void tag_add(lctx *c, tagset *t, const char *s)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcasecmp(t->v[i], s) == 0)
            return;
    sk_xgrow((void **)&t->v, &t->cap, t->n + 1, sizeof(char *));
    t->v[t->n++] = rs_strdup(c->rs, s);
}

// "attack.t1055.001" from "T1055.001"; "attack.defense_evasion" from "Defense Evasion".
static void attack_tag(lctx *c, tagset *t, const char *s, bool name)
{
    char buf[160];
    size_t k = (size_t)snprintf(buf, sizeof buf, "attack.");
    for (const char *p = s; *p && k + 1 < sizeof buf; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        if (name && (ch == ' ' || ch == '-'))
            ch = '_';
        buf[k++] = ch;
    }
    buf[k] = '\0';
    tag_add(c, t, buf);
}

static void threat_tags(lctx *c, const tv *rule, tagset *t)
{
    const tv *threats = toml_get(c->doc, rule, "threat");
    if (!threats || threats->type != TV_ARRAY)
        return;
    for (size_t i = 0; i < threats->n; i++) {
        const tv *th = threats->items[i];
        const tv *tactic = toml_get(c->doc, th, "tactic");
        const char *tn = str_val(toml_get(c->doc, tactic, "name"));
        if (tn)
            attack_tag(c, t, tn, true);
        const tv *techs = toml_get(c->doc, th, "technique");
        if (!techs || techs->type != TV_ARRAY)
            continue;
        for (size_t k = 0; k < techs->n; k++) {
            const tv *te = techs->items[k];
            const char *id = str_val(toml_get(c->doc, te, "id"));
            if (id)
                attack_tag(c, t, id, false);
            const tv *subs = toml_get(c->doc, te, "subtechnique");
            if (!subs || subs->type != TV_ARRAY)
                continue;
            for (size_t j = 0; j < subs->n; j++) {
                const char *sid = str_val(toml_get(c->doc, subs->items[j], "id"));
                if (sid)
                    attack_tag(c, t, sid, false);
            }
        }
    }
}

static const char *status_of(const char *maturity)
{
    if (!maturity)
        return NULL;
    if (strcasecmp(maturity, "production") == 0)
        return "stable";
    if (strcasecmp(maturity, "development") == 0)
        return "experimental";
    return maturity; // deprecated, ...
}

static size_t load(lctx *c)
{
    toml_err terr;
    char msg[600];
    if (!toml_parse(c->doc, c->data, c->n, &terr))
        return skip(c, "toml-syntax", terr.msg, terr.line, terr.col);
    const tv *root = c->doc->root;
    const tv *rule = toml_get(c->doc, root, "rule");
    const tv *meta = toml_get(c->doc, root, "metadata");
    if (!rule || rule->type != TV_TABLE)
        return skip(c, "not-a-rule", "the file has no [rule] table", 1, 1);
    const tv *name = toml_get(c->doc, rule, "name");
    const tv *rid = toml_get(c->doc, rule, "rule_id");
    c->title = str_val(name);
    c->id = str_val(rid);
    if (!c->title)
        return skip(c,
                    name ? "bad-metadata" : "missing-title",
                    name ? "'rule.name' must be a string" : "rule has no 'name'",
                    name ? name->line : rule->line,
                    name ? name->col : rule->col);
    const tv *lang = toml_get(c->doc, rule, "language");
    const tv *type = toml_get(c->doc, rule, "type");
    const char *ls = str_val(lang), *ts = str_val(type);
    if (lang && (!ls || strcmp(ls, "eql") != 0)) {
        snprintf(msg,
                 sizeof msg,
                 "rule language '%.60s' is not supported (only eql)",
                 ls ? ls : toml_type_name(lang));
        return skip(c, "unsupported-language", msg, lang->line, lang->col);
    }
    if (!ts || strcmp(ts, "eql") != 0) {
        if (!type)
            return skip(c,
                        "unsupported-rule-type",
                        "rule has no 'type' (only eql rules load)",
                        rule->line,
                        rule->col);
        snprintf(msg,
                 sizeof msg,
                 "rule type '%.60s' is not supported (only eql)",
                 ts ? ts : toml_type_name(type));
        return skip(c, "unsupported-rule-type", msg, type->line, type->col);
    }
    const tv *qv = toml_get(c->doc, rule, "query");
    if (!qv || qv->type != TV_STRING)
        return skip(c,
                    "missing-query",
                    qv ? "'rule.query' must be a string" : "rule has no 'query'",
                    qv ? qv->line : rule->line,
                    qv ? qv->col : rule->col);

    sk_ruleset *rs = c->rs;
    eql_err err;
    const char *category = NULL;
    enode *root_node = eql_parse(&rs->arena, qv->s, qv->len, &category, &err);
    if (!root_node) {
        unsigned long line, col;
        toml_locate(c->data, c->n, qv, err.off, &line, &col);
        return skip(c, err.code, err.msg, line, col);
    }
    eql_query *q = rs_alloc(rs, sizeof(eql_query));
    q->text = rs_strndup(rs, qv->s, qv->len);
    q->category = category;
    sk_vm **vms = NULL;
    size_t nvms = 0;
    if (!eql_compile(rs, q, root_node, &vms, &nvms, &err)) {
        for (size_t i = 0; i < nvms; i++)
            sk_vm_free(vms[i]);
        free(vms);
        unsigned long line, col;
        toml_locate(c->data, c->n, qv, err.off, &line, &col);
        return skip(c, err.code, err.msg, line, col);
    }
    for (size_t i = 0; i < nvms; i++)
        rs_add_vm(rs, vms[i]);
    free(vms);

    sk_rule *r = rs_alloc(rs, sizeof(sk_rule));
    r->language = "eql";
    r->eql = q;
    r->title = rs_strdup(rs, c->title);
    r->id = rs_strdup(rs, c->id);
    r->description = rs_strdup(rs, str_val(toml_get(c->doc, rule, "description")));
    r->status = rs_strdup(rs, status_of(str_val(toml_get(c->doc, meta, "maturity"))));
    r->date = rs_strdup(rs, str_val(toml_get(c->doc, meta, "creation_date")));
    r->path = rs_strdup(rs, c->path);
    r->line = rule->line;
    const tv *sev = toml_get(c->doc, rule, "severity");
    r->level_text = rs_strdup(rs, str_val(sev));
    r->level = SK_LEVEL_UNKNOWN;
    if (sev && (!r->level_text || !sk_level_parse(r->level_text, &r->level))) {
        snprintf(msg,
                 sizeof msg,
                 "unknown severity '%.60s' (low, medium, high or critical)",
                 r->level_text ? r->level_text : toml_type_name(sev));
        emit(c, SK_SEV_WARNING, "bad-level", sev->line, sev->col, msg);
    }
    const char **authors;
    size_t nauthors;
    str_array(c, toml_get(c->doc, rule, "author"), &authors, &nauthors);
    if (nauthors) {
        sk_buf b;
        sk_buf_init(&b, 1u << 16);
        for (size_t i = 0; i < nauthors; i++)
            sk_buf_printf(&b, "%s%s", i ? ", " : "", authors[i]);
        r->author = rs_strdup(rs, sk_buf_str(&b));
        sk_buf_fini(&b);
    }
    str_array(c, toml_get(c->doc, rule, "references"), &r->refs, &r->nrefs);
    str_array(c, toml_get(c->doc, rule, "false_positives"), &r->fps, &r->nfps);
    tagset tags = { 0 };
    const char **rtags;
    size_t nrtags;
    str_array(c, toml_get(c->doc, rule, "tags"), &rtags, &nrtags);
    for (size_t i = 0; i < nrtags; i++)
        tag_add(c, &tags, rtags[i]);
    threat_tags(c, rule, &tags);
    r->tags = rs_alloc(rs, (tags.n ? tags.n : 1) * sizeof(char *));
    if (tags.n)
        memcpy(r->tags, tags.v, tags.n * sizeof(char *));
    r->ntags = tags.n;
    free(tags.v);
    snprintf(msg, sizeof msg, "eql category:%s", category ? category : "any");
    r->logsource = rs_strdup(rs, msg);

    if (c->id && sk_ruleset_find_id(rs, c->id)) {
        snprintf(msg, sizeof msg, "rule id '%.100s' is used by another rule too", c->id);
        emit(c, SK_SEV_WARNING, "duplicate-id", rid->line, rid->col, msg);
    }
    rs_add_rule(rs, r);
    sk_load_entry e = { .file = c->path,
                        .title = c->title,
                        .id = c->id,
                        .loaded = true,
                        .line = rule->line,
                        .col = rule->col };
    rs_add_report(rs, &e);
    return 1;
}

size_t eql_load_toml(sk_ruleset *rs, const char *path, const char *data, size_t n, sk_diags *d)
{
    toml_doc doc;
    toml_doc_init(&doc);
    lctx c = {
        .rs = rs, .path = path, .data = data ? data : "", .n = data ? n : 0, .d = d, .doc = &doc
    };
    size_t k = load(&c);
    toml_doc_fini(&doc);
    return k;
}
