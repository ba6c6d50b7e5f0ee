// Sigma rule loader: files and folders → YAML documents → compiled rules, with one load-report
// entry per rule document. Every problem is located (file:line:col from libyaml's marks), reported
// through sk_diags with a stable code, counted, and the rule is skipped: one bad rule never stops
// the others (Suricata's DetectLoadSigFile habit).
//
// Multi-document files follow the old Sigma collection convention: a document with
// `action: global` is merged into every following document of the file, `action: reset` drops it,
// and `action: repeat` repeats the previous rule with the document's keys merged over it. Merging
// is recursive for maps; for anything else the later document wins.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builtin.h"
#include "core/limits.h"
#include "core/mem.h"
#include "eql_int.h"
#include "rules_int.h"

// A rule file met in a folder walk, read and (for YAML) parsed by the read-ahead threads.
typedef struct pending_file {
    char *path;
    char *data;
    size_t n;
    int err; // errno of a failed read; 0 when read
    bool too_big;
    bool parsed; // yf holds data's documents
    bool done;   // read (and parsed): the compiler may take it
    yfile yf;
    struct stat sb; // the file when opened (st_mode 0: unknown)
} pending_file;

typedef struct file_id {
    dev_t dev;
    ino_t ino;
} file_id;

struct sk_rule_loader {
    sk_ruleset *rs;
    placeholder *ph;
    size_t nph, capph;
    bool strict;
    unsigned jobs;
    // Folder walks queue their rule files here; flush_pending() reads and parses them on
    // `jobs` threads and compiles them in queue order on the calling thread.
    pending_file *pend;
    size_t npend, cappend;
    bool pend_io_error; // a queued file could not be read (reported)
    // What the paths given so far reached, so that overlapping paths (-r rules -r rules/windows,
    // a symlink to a folder already walked) load each file once: the folders walked, and the
    // files given by name.
    file_id *dirs, *files;
    size_t ndirs, capdirs, nfiles, capfiles;
    sk_rule_sources *sources; // sk_load_opts.sources
};

void sk_rule_sources_fini(sk_rule_sources *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

// Records what the load read at path (sb from fstat of what was read; st_mode 0: fstat failed);
// returns its place in the list (SIZE_MAX: not recorded), for note_content.
static size_t note_source(sk_rule_loader *l, const char *path, const struct stat *sb)
{
    sk_rule_sources *s = l->sources;
    if (!s)
        return SIZE_MAX;
    if (!sb->st_mode) {
        s->unknown = true;
        return SIZE_MAX;
    }
    sk_xgrow((void **)&s->v, &s->cap, s->n + 1, sizeof(sk_rule_source));
    // Field by field over zeros: the compiled-rule cache writes the padding to a file.
    sk_rule_source *v = &s->v[s->n];
    memset(v, 0, sizeof *v);
    v->path = sk_xstrdup(path);
    v->dir = S_ISDIR(sb->st_mode);
    v->dev = (unsigned long long)sb->st_dev;
    v->ino = (unsigned long long)sb->st_ino;
    v->size = S_ISDIR(sb->st_mode) ? 0 : (unsigned long long)sb->st_size;
    v->mtime_s = (long long)sb->st_mtim.tv_sec;
    v->mtime_ns = (long long)sb->st_mtim.tv_nsec;
    v->ctime_s = (long long)sb->st_ctim.tv_sec;
    v->ctime_ns = (long long)sb->st_ctim.tv_nsec;
    return s->n++;
}

static void note_content(sk_rule_loader *l, size_t at, uint64_t hash)
{
    if (l->sources && at < l->sources->n) {
        l->sources->v[at].has_content = true;
        l->sources->v[at].content = hash;
    }
}

uint64_t rs_content_hash(const char *data, size_t n)
{
    return sk_img_hash(data, n, 0x5EED);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

bool rs_hash_dir(const char *path, uint64_t *out)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sk_xgrow((void **)&names, &cap, n + 1, sizeof(char *));
        names[n++] = sk_xstrdup(de->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_str);
    *out = rs_listing_hash(names, n, 0);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return true;
}

bool rs_hash_file(const char *path, size_t size, uint64_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char *p = sk_xmalloc(size + 1);
    size_t got = 0;
    bool ok = true;
    while (got < size + 1) { // one byte more: a file that grew differs
        ssize_t k = read(fd, p + got, size + 1 - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            ok = false;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    ok = ok && got == size;
    if (ok)
        *out = rs_content_hash(p, size);
    free(p);
    return ok;
}

uint64_t rs_listing_hash(char *const *names, size_t n, size_t skip)
{
    uint64_t h = n;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i] + skip;
        h = sk_img_hash(name, strlen(name) + 1, h); // with its NUL: names cannot run together
    }
    return h;
}

static bool id_in(const file_id *ids, size_t n, const struct stat *st)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i].dev == st->st_dev && ids[i].ino == st->st_ino)
            return true;
    return false;
}

static void id_add(file_id **ids, size_t *n, size_t *cap, const struct stat *st)
{
    sk_xgrow((void **)ids, cap, *n + 1, sizeof(file_id));
    (*ids)[(*n)++] = (file_id){ st->st_dev, st->st_ino };
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

typedef struct file_ctx {
    sk_rule_loader *l;
    const char *path;
    const char *data;
    size_t n;
    sk_diags *d;
    size_t entries;    // report entries made for this file
    bool id_inherited; // the rule being loaded has its id from an earlier document of the file
} file_ctx;

static void emit(file_ctx *fc,
                 sk_severity sev,
                 const char *code,
                 unsigned long line,
                 unsigned long col,
                 const char *msg)
{
    if (!fc->d)
        return;
    char src[1024];
    sk_diag dg = { .severity = sev,
                   .file = fc->path,
                   .line = line,
                   .col = col,
                   .where = NULL,
                   .code = code,
                   .message = msg,
                   .source_line = sk_diag_line_text(fc->data, fc->n, line, src, sizeof src) };
    sk_diag_emit(fc->d, &dg);
}

static void skip_rule(file_ctx *fc,
                      const char *title,
                      const char *id,
                      const char *code,
                      const char *msg,
                      unsigned long line,
                      unsigned long col)
{
    char full[800];
    if (title)
        snprintf(full, sizeof full, "%s (rule \"%s\")", msg, title);
    else
        snprintf(full, sizeof full, "%s", msg);
    emit(fc, SK_SEV_ERROR, code, line, col, full);
    sk_load_entry e = { .file = fc->path,
                        .title = title,
                        .id = id,
                        .loaded = false,
                        .code = code,
                        .message = msg,
                        .line = line,
                        .col = col };
    rs_add_report(fc->l->rs, &e);
    fc->entries++;
}

static void warn(file_ctx *fc,
                 const char *title,
                 const char *code,
                 unsigned long line,
                 unsigned long col,
                 const char *msg)
{
    char full[800];
    if (title)
        snprintf(full, sizeof full, "%s (rule \"%s\")", msg, title);
    else
        snprintf(full, sizeof full, "%s", msg);
    emit(fc, SK_SEV_WARNING, code, line, col, full);
}

// ---------------------------------------------------------------------------------------------
// Document merging (action: global / repeat)

static yn *merge(sk_arena *a, const yn *base, const yn *over)
{
    if (!base)
        return (yn *)over;
    if (!over)
        return (yn *)base;
    if (base->type != YN_MAP || over->type != YN_MAP)
        return (yn *)over;
    size_t cap = base->n + over->n;
    yn *m = sk_arena_alloc(a, sizeof(yn));
    memset(m, 0, sizeof(*m));
    m->type = YN_MAP;
    m->line = over->line;
    m->col = over->col;
    m->kids = sk_arena_alloc(a, (cap ? cap : 1) * 2 * sizeof(yn *));
    for (size_t i = 0; i < base->n; i++) {
        const yn *k = base->kids[2 * i];
        if (k->type == YN_SCALAR && strcmp(k->s, "action") == 0)
            continue;
        const yn *ov = k->type == YN_SCALAR ? yn_get(over, k->s) : NULL;
        m->kids[2 * m->n] = (yn *)k;
        m->kids[2 * m->n + 1] = merge(a, base->kids[2 * i + 1], ov);
        m->n++;
    }
    for (size_t i = 0; i < over->n; i++) {
        const yn *k = over->kids[2 * i];
        if (k->type == YN_SCALAR && (strcmp(k->s, "action") == 0 || yn_get(base, k->s)))
            continue;
        m->kids[2 * m->n] = (yn *)k;
        m->kids[2 * m->n + 1] = over->kids[2 * i + 1];
        m->n++;
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// One rule document

#define KNOWN(s)        \
    {                   \
        s, sizeof s - 1 \
    }

// The keys a rule may have; load_rule reads them by their index (enum known_key).
static const struct {
    const char *s;
    size_t len;
} known_keys[] = {
    KNOWN("title"),          KNOWN("id"),         KNOWN("name"),
    KNOWN("related"),        KNOWN("taxonomy"),   KNOWN("status"),
    KNOWN("description"),    KNOWN("license"),    KNOWN("author"),
    KNOWN("references"),     KNOWN("date"),       KNOWN("modified"),
    KNOWN("logsource"),      KNOWN("detection"),  KNOWN("fields"),
    KNOWN("falsepositives"), KNOWN("level"),      KNOWN("tags"),
    KNOWN("scope"),          KNOWN("simulation"), KNOWN("regression_tests_path"),
    KNOWN("action"),
};

enum known_key {
    KK_TITLE,
    KK_ID,
    KK_NAME,
    KK_RELATED,
    KK_TAXONOMY,
    KK_STATUS,
    KK_DESCRIPTION,
    KK_LICENSE,
    KK_AUTHOR,
    KK_REFERENCES,
    KK_DATE,
    KK_MODIFIED,
    KK_LOGSOURCE,
    KK_DETECTION,
    KK_FIELDS,
    KK_FALSEPOSITIVES,
    KK_LEVEL,
    KK_TAGS,
    KK_SCOPE,
    KK_SIMULATION,
    KK_REGRESSION_TESTS_PATH,
    KK_ACTION,
    KK_COUNT
};
_Static_assert(sizeof known_keys / sizeof known_keys[0] == KK_COUNT, "a name for each known key");

static bool is_known_key(const char *k)
{
    // The first byte first: a strcmp per known key and rule key was 2% of loading SigmaHQ.
    for (size_t i = 0; i < KK_COUNT; i++)
        if (known_keys[i].s[0] == k[0] && strcmp(known_keys[i].s, k) == 0)
            return true;
    return false;
}

// The value of each known key of map doc, as yn_get finds it (the first scalar key with that
// text), in one pass over doc instead of a yn_get per key read (twenty per rule).
static void known_values(const yn *doc, const yn *kv[KK_COUNT])
{
    for (size_t j = 0; j < KK_COUNT; j++)
        kv[j] = NULL;
    for (size_t i = 0; i < doc->n; i++) {
        const yn *k = doc->kids[2 * i];
        if (k->type != YN_SCALAR || k->len == 0)
            continue;
        for (size_t j = 0; j < KK_COUNT; j++) {
            if (known_keys[j].len == k->len && known_keys[j].s[0] == k->s[0] &&
                memcmp(known_keys[j].s, k->s, k->len) == 0) {
                if (!kv[j])
                    kv[j] = doc->kids[2 * i + 1];
                break;
            }
        }
    }
}

static const char *str_of(const yn *n)
{
    if (!n || n->type != YN_SCALAR || n->kind == YK_NULL)
        return NULL;
    return n->s;
}

// A string or a list of strings → array in the ruleset arena. False when it is something else.
static bool str_list(sk_ruleset *rs, const yn *n, const char ***out, size_t *cnt)
{
    *out = NULL;
    *cnt = 0;
    if (!n || (n->type == YN_SCALAR && n->kind == YK_NULL))
        return true;
    if (n->type == YN_SCALAR) {
        *out = rs_alloc(rs, sizeof(char *));
        (*out)[0] = rs_strndup(rs, n->s, n->len);
        *cnt = 1;
        return true;
    }
    if (n->type != YN_SEQ)
        return false;
    *out = rs_alloc(rs, n->n * sizeof(char *));
    for (size_t i = 0; i < n->n; i++) {
        const yn *e = n->kids[i];
        if (e->type != YN_SCALAR)
            return false;
        if (e->kind == YK_NULL)
            continue;
        (*out)[(*cnt)++] = rs_strndup(rs, e->s, e->len);
    }
    return true;
}

static void load_rule(file_ctx *fc, const yn *doc, unsigned long dline, unsigned long dcol)
{
    sk_ruleset *rs = fc->l->rs;
    const yn *kv[KK_COUNT];
    known_values(doc, kv);
    const char *title = str_of(kv[KK_TITLE]);
    const char *id = str_of(kv[KK_ID]);
    char msg[600];

    // Documents that are not detection rules.
    for (size_t i = 0; i < doc->n; i++) {
        const yn *k = doc->kids[2 * i];
        if (k->type != YN_SCALAR)
            continue;
        if (k->s[0] == 'c' && strcmp(k->s, "correlation") == 0) {
            skip_rule(fc,
                      title,
                      id,
                      "correlation-rule",
                      "correlation rules are not supported yet",
                      k->line,
                      k->col);
            return;
        }
        if (k->s[0] == 'f' && strcmp(k->s, "filter") == 0 && !kv[KK_DETECTION]) {
            skip_rule(fc,
                      title,
                      id,
                      "filter-rule",
                      "Sigma filter documents are not supported yet",
                      k->line,
                      k->col);
            return;
        }
    }
    const yn *tn = kv[KK_TITLE];
    if (!tn || !title) {
        skip_rule(fc,
                  NULL,
                  id,
                  "missing-title",
                  "rule has no 'title'",
                  tn ? tn->line : dline,
                  tn ? tn->col : dcol);
        return;
    }
    if (tn->type != YN_SCALAR) {
        skip_rule(fc, NULL, id, "bad-metadata", "'title' must be a string", tn->line, tn->col);
        return;
    }
    for (size_t i = 0; i < doc->n; i++) {
        const yn *k = doc->kids[2 * i];
        if (k->type != YN_SCALAR || k->kind == YK_NULL) {
            skip_rule(fc, title, id, "bad-metadata", "rule keys must be strings", k->line, k->col);
            return;
        }
        if (!is_known_key(k->s)) {
            snprintf(msg, sizeof msg, "unknown key '%.200s' ignored", k->s);
            warn(fc, title, "unknown-key", k->line, k->col, msg);
        }
    }
    // Scalar metadata must be scalars.
    static const enum known_key scalars[] = { KK_ID,     KK_STATUS,  KK_DESCRIPTION,
                                              KK_AUTHOR, KK_DATE,    KK_MODIFIED,
                                              KK_LEVEL,  KK_LICENSE, KK_NAME };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        const yn *v = kv[scalars[i]];
        if (v && v->type != YN_SCALAR) {
            snprintf(msg,
                     sizeof msg,
                     "'%s' must be a string, not %s",
                     known_keys[scalars[i]].s,
                     yn_type_name(v));
            skip_rule(fc, title, id, "bad-metadata", msg, v->line, v->col);
            return;
        }
    }
    sk_rule *r = rs_alloc(rs, sizeof(sk_rule));
    r->title = rs_strdup(rs, title);
    r->id = rs_strdup(rs, id);
    r->status = rs_strdup(rs, str_of(kv[KK_STATUS]));
    r->description = rs_strdup(rs, str_of(kv[KK_DESCRIPTION]));
    r->author = rs_strdup(rs, str_of(kv[KK_AUTHOR]));
    r->date = rs_strdup(rs, str_of(kv[KK_DATE]));
    r->path = rs_strdup(rs, fc->path);
    r->line = dline;
    const yn *lv = kv[KK_LEVEL];
    r->level_text = rs_strdup(rs, str_of(lv));
    r->level = SK_LEVEL_UNKNOWN;
    if (lv && r->level_text && !sk_level_parse(r->level_text, &r->level)) {
        snprintf(msg,
                 sizeof msg,
                 "unknown level '%.200s' (informational, low, medium, high or "
                 "critical)",
                 r->level_text);
        warn(fc, title, "bad-level", lv->line, lv->col, msg);
    }
    static const enum known_key lists[] = { KK_TAGS, KK_REFERENCES, KK_FALSEPOSITIVES, KK_FIELDS };
    const char ***dst[] = { &r->tags, &r->refs, &r->fps, &r->fields };
    size_t *cnt[] = { &r->ntags, &r->nrefs, &r->nfps, &r->nfields };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const yn *v = kv[lists[i]];
        if (!str_list(rs, v, dst[i], cnt[i])) {
            snprintf(msg, sizeof msg, "'%s' must be a list of strings", known_keys[lists[i]].s);
            skip_rule(fc, title, id, "bad-metadata", msg, v->line, v->col);
            return;
        }
    }

    const yn *det = kv[KK_DETECTION];
    if (!det) {
        skip_rule(fc, title, id, "missing-detection", "rule has no 'detection'", dline, dcol);
        return;
    }
    compile_ctx cx;
    memset(&cx, 0, sizeof(cx));
    cx.rs = rs;
    cx.ph = fc->l->ph;
    cx.nph = fc->l->nph;
    load_err err;
    memset(&err, 0, sizeof(err));
    bool ok = rule_compile_logsource(&cx, r, kv[KK_LOGSOURCE], doc, &err) &&
              rule_compile_detection(&cx, r, det, &err);
    if (!ok) {
        if (!err.line) {
            err.line = dline;
            err.col = dcol;
        }
        skip_rule(fc, title, id, err.code, err.msg, err.line, err.col);
        for (size_t i = 0; i < cx.nvms; i++)
            sk_vm_free(cx.vms[i]);
        free(cx.vms);
        return;
    }
    for (size_t i = 0; i < cx.nvms; i++)
        rs_add_vm(rs, cx.vms[i]);
    free(cx.vms);
    rule_derive_eids(rs, r);
    pf_rule_atoms(rs, r);
    const yn *tf = yn_get(det, "timeframe");
    if (tf)
        warn(fc,
             title,
             "ignored-timeframe",
             tf->line,
             tf->col,
             "'timeframe' has no effect without an aggregation; ignored");
    // The rules of a collection share the id of its global (or repeated) document: that is not a
    // clash with the rules of the same file.
    const sk_rule *same_id = id ? sk_ruleset_find_id(rs, id) : NULL;
    if (same_id && !(fc->id_inherited && strcmp(same_id->path, fc->path) == 0)) {
        const yn *in = kv[KK_ID];
        snprintf(msg, sizeof msg, "rule id '%.100s' is used by another rule too", id);
        warn(fc, title, "duplicate-id", in->line, in->col, msg);
    }
    rs_add_rule(rs, r);
    sk_load_entry e = { .file = fc->path,
                        .title = title,
                        .id = id,
                        .loaded = true,
                        .code = NULL,
                        .message = NULL,
                        .line = dline,
                        .col = dcol };
    rs_add_report(rs, &e);
    fc->entries++;
}

static void load_parsed(file_ctx *fc, yfile *yf)
{
    const yn *global = NULL;
    const yn *prev = NULL;
    for (size_t i = 0; i < yf->ndocs; i++) {
        ydoc *d = &yf->docs[i];
        if (d->err_code) {
            const char *title = d->root ? str_of(yn_get(d->root, "title")) : NULL;
            const char *id = d->root ? str_of(yn_get(d->root, "id")) : NULL;
            skip_rule(fc, title, id, d->err_code, d->err_msg, d->err_line, d->err_col);
            prev = NULL;
            continue;
        }
        const yn *root = d->root;
        if (!root || (root->type == YN_SCALAR && root->kind == YK_NULL))
            continue; // empty document (e.g. a trailing '---')
        if (root->type != YN_MAP) {
            char msg[200];
            snprintf(msg, sizeof msg, "a rule document must be a map, not %s", yn_type_name(root));
            skip_rule(fc, NULL, NULL, "not-a-rule", msg, root->line, root->col);
            continue;
        }
        const yn *action = yn_get(root, "action");
        const yn *doc = root;
        if (action) {
            const char *a = str_of(action);
            if (a && strcmp(a, "global") == 0) {
                global = merge(&yf->arena, global, root);
                continue;
            }
            if (a && strcmp(a, "reset") == 0) {
                global = NULL;
                prev = NULL;
                continue;
            }
            if (a && strcmp(a, "repeat") == 0) {
                if (!prev) {
                    skip_rule(fc,
                              str_of(yn_get(root, "title")),
                              str_of(yn_get(root, "id")),
                              "unsupported-action",
                              "'action: repeat' without a previous rule",
                              action->line,
                              action->col);
                    continue;
                }
                doc = merge(&yf->arena, prev, root);
            } else {
                char msg[300];
                snprintf(msg,
                         sizeof msg,
                         "unsupported action '%.100s' (global, reset and repeat are supported)",
                         a ? a : "");
                skip_rule(fc,
                          str_of(yn_get(root, "title")),
                          str_of(yn_get(root, "id")),
                          "unsupported-action",
                          msg,
                          action->line,
                          action->col);
                continue;
            }
        } else if (global) {
            doc = merge(&yf->arena, global, root);
        }
        prev = doc;
        fc->id_inherited = doc != root && !yn_get(root, "id");
        load_rule(fc, doc, root->line, root->col); // the rule starts at its first key
    }
    yfile_fini(yf);
}

static void load_data(file_ctx *fc)
{
    yfile yf;
    yfile_init(&yf);
    yfile_parse(&yf, fc->data, fc->n);
    load_parsed(fc, &yf);
}

static bool is_toml_name(const char *name)
{
    size_t nl = strlen(name);
    return nl > 5 && strcasecmp(name + nl - 5, ".toml") == 0;
}

// Loads the rules of data[0..n) (name: display path). yf, when not NULL, holds data's parsed YAML
// documents (taken over and freed).
static void load_buffer_yf(
        sk_rule_loader *l, const char *name, const char *data, size_t n, yfile *yf, sk_diags *d)
{
    file_ctx fc = { .l = l, .path = name, .data = data, .n = n, .d = d, .entries = 0 };
    if (n > SK_MAX_RULE_FILE_BYTES) {
        char msg[200];
        snprintf(msg,
                 sizeof msg,
                 "rule file is larger than %u bytes; skipped",
                 (unsigned)SK_MAX_RULE_FILE_BYTES);
        fc.data = NULL;
        skip_rule(&fc, NULL, NULL, "file-too-large", msg, 0, 0);
        return;
    }
    if (is_toml_name(name)) // [EQL dispatch] Elastic TOML rules
        fc.entries += eql_load_toml(l->rs, name, data, n, d);
    else if (yf)
        load_parsed(&fc, yf);
    else
        load_data(&fc);
    if (fc.entries == 0)
        warn(&fc, NULL, "no-rules", 0, 0, "file holds no rule");
}

static void
load_buffer(sk_rule_loader *l, const char *name, const char *data, size_t n, sk_diags *d)
{
    load_buffer_yf(l, name, data, n, NULL, d);
}

// ---------------------------------------------------------------------------------------------
// Files and folders

// *sb: the file as opened (before it is read: a change while it is read shows on the next check);
// st_mode 0 when that is not known.
static sk_status
read_file(const char *path, char **out, size_t *outn, bool *too_big, struct stat *sb_out)
{
    *too_big = false;
    sb_out->st_mode = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SK_ERR_IO;
    // Sized by the file (plus one byte to see its end), not a fixed 64 KiB per file. Plain read(2),
    // not stdio: no stream buffer to fill and copy, and no second fstat. A regular file that
    // fills less than the buffer has ended (a read of one is short only at its end), so it needs
    // no read that returns 0: 4 system calls per file of a 2,400-file rule folder instead of 6.
    struct stat sb;
    size_t cap = 4096, n = 0;
    bool regular = false;
    if (fstat(fd, &sb) == 0) {
        *sb_out = sb;
        if (S_ISREG(sb.st_mode) && sb.st_size >= 0 &&
            (unsigned long long)sb.st_size < SK_MAX_RULE_FILE_BYTES) {
            cap = (size_t)sb.st_size + 1;
            regular = true;
        }
    }
    char *buf = sk_xmalloc(cap);
    sk_status st = SK_OK;
    for (;;) {
        if (n == cap) {
            if (cap > SK_MAX_RULE_FILE_BYTES) {
                *too_big = true;
                break;
            }
            cap *= 2;
            buf = sk_xrealloc(buf, cap);
        }
        ssize_t got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = SK_ERR_IO;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (regular && n < cap)
            break;
    }
    int saved = errno;
    close(fd);
    errno = saved;
    if (st != SK_OK || *too_big) {
        free(buf);
        return st;
    }
    *out = buf;
    *outn = n;
    return SK_OK;
}

// A rule file or path that cannot be read: reported, and in the load report (an io-error skip),
// so that the summary and `rules check --json` show it.
static void io_failed(sk_rule_loader *l, const char *path, const char *what, int err, sk_diags *d)
{
    sk_diag_emitf(d, SK_SEV_ERROR, path, 0, 0, NULL, "io-error", "%s: %s", what, strerror(err));
    sk_load_entry e = { .file = path, .loaded = false, .code = "io-error", .message = what };
    rs_add_report(l->rs, &e);
}

// Compiles a rule file read by read_file (st, data, n, too_big: its results; yf: data's parsed
// documents or NULL); frees data.
static sk_status load_read_file(sk_rule_loader *l,
                                const char *path,
                                const struct stat *sb,
                                sk_status st,
                                int err,
                                char *data,
                                size_t n,
                                bool too_big,
                                yfile *yf,
                                sk_diags *d)
{
    size_t at = st == SK_OK || too_big ? note_source(l, path, sb) : SIZE_MAX;
    if (st == SK_OK && !too_big)
        note_content(l, at, rs_content_hash(data, n));
    if (too_big) {
        load_buffer(l, path, NULL, (size_t)SK_MAX_RULE_FILE_BYTES + 1, d);
        return SK_OK;
    }
    if (st != SK_OK) {
        io_failed(l, path, "cannot read rule file", err, d);
        return SK_ERR_IO;
    }
    load_buffer_yf(l, path, data, n, yf, d);
    free(data);
    return SK_OK;
}

static sk_status add_file(sk_rule_loader *l, const char *path, sk_diags *d)
{
    char *data = NULL;
    size_t n = 0;
    bool too_big = false;
    struct stat sb;
    sk_status st = read_file(path, &data, &n, &too_big, &sb);
    return load_read_file(l, path, &sb, st, errno, data, n, too_big, NULL, d);
}

// ---- read-ahead: rule files of folder walks are read and parsed on several threads

// Parsed files kept ahead of the compiler at most (bounds the memory the parse trees take).
#define READ_AHEAD 64

typedef struct read_ahead {
    pending_file *pend;
    size_t npend;
    size_t next;     // next file to claim
    size_t consumed; // files the compiler has taken
    pthread_mutex_t mu;
    pthread_cond_t cv;
} read_ahead;

static void read_one(pending_file *p)
{
    sk_status st = read_file(p->path, &p->data, &p->n, &p->too_big, &p->sb);
    p->err = st == SK_OK ? 0 : (errno ? errno : EIO);
    if (st == SK_OK && !p->too_big && p->n <= SK_MAX_RULE_FILE_BYTES && !is_toml_name(p->path)) {
        yfile_init(&p->yf);
        yfile_parse(&p->yf, p->data, p->n);
        p->parsed = true;
    }
}

// Claims the next file within the read-ahead window and reads it; false when there is none to
// claim now. Called with ra->mu held; drops it while reading.
static bool claim_and_read(read_ahead *ra)
{
    if (ra->next >= ra->npend || ra->next >= ra->consumed + READ_AHEAD)
        return false;
    pending_file *p = &ra->pend[ra->next++];
    pthread_mutex_unlock(&ra->mu);
    read_one(p);
    pthread_mutex_lock(&ra->mu);
    p->done = true;
    pthread_cond_broadcast(&ra->cv);
    return true;
}

static void *read_ahead_main(void *arg)
{
    read_ahead *ra = arg;
    pthread_mutex_lock(&ra->mu);
    while (ra->next < ra->npend) {
        if (!claim_and_read(ra))
            pthread_cond_wait(&ra->cv, &ra->mu);
    }
    pthread_mutex_unlock(&ra->mu);
    return NULL;
}

// Loads the queued rule files in queue order; returns SK_ERR_IO when one could not be read.
static sk_status flush_pending(sk_rule_loader *l, sk_diags *d)
{
    if (!l->npend)
        return SK_OK;
    read_ahead ra = { .pend = l->pend, .npend = l->npend };
    pthread_mutex_init(&ra.mu, NULL);
    pthread_cond_init(&ra.cv, NULL);
    unsigned nthreads = l->jobs > 1 ? l->jobs - 1 : 0;
    if (nthreads > l->npend)
        nthreads = (unsigned)l->npend;
    pthread_t *th = nthreads ? sk_xcalloc(nthreads, sizeof(pthread_t)) : NULL;
    unsigned started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, read_ahead_main, &ra) != 0)
            break; // fewer helpers: the compiling thread reads what they do not
    sk_status result = SK_OK;
    for (size_t i = 0; i < l->npend; i++) {
        pending_file *p = &l->pend[i];
        pthread_mutex_lock(&ra.mu);
        while (!p->done) {
            if (!claim_and_read(&ra))
                pthread_cond_wait(&ra.cv, &ra.mu);
        }
        pthread_mutex_unlock(&ra.mu);
        sk_status st = load_read_file(l,
                                      p->path,
                                      &p->sb,
                                      p->err ? SK_ERR_IO : SK_OK,
                                      p->err,
                                      p->data,
                                      p->n,
                                      p->too_big,
                                      p->parsed ? &p->yf : NULL,
                                      d);
        if (st != SK_OK)
            result = st;
        free(p->path);
        pthread_mutex_lock(&ra.mu);
        ra.consumed = i + 1;
        pthread_cond_broadcast(&ra.cv);
        pthread_mutex_unlock(&ra.mu);
    }
    for (unsigned t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    free(th);
    pthread_mutex_destroy(&ra.mu);
    pthread_cond_destroy(&ra.cv);
    l->npend = 0;
    if (result != SK_OK)
        l->pend_io_error = true;
    return result;
}

// A rule file of a folder walk: loaded now (one thread) or queued for flush_pending.
static sk_status walk_file(sk_rule_loader *l, const char *path, sk_diags *d)
{
    if (l->jobs <= 1)
        return add_file(l, path, d);
    sk_xgrow((void **)&l->pend, &l->cappend, l->npend + 1, sizeof(pending_file));
    l->pend[l->npend++] = (pending_file){ .path = sk_xstrdup(path) };
    return SK_OK;
}

// Rule files in folder walks: *.yml and *.yaml, except saker's rule test files (*.tests.yml,
// *.tests.yaml, run by `saker test`), which sit next to the rules they test; and *.toml (Elastic
// EQL rules) [EQL dispatch].
static bool is_rule_name(const char *name)
{
    size_t n = strlen(name);
    if ((n > 10 && strcasecmp(name + n - 10, ".tests.yml") == 0) ||
        (n > 11 && strcasecmp(name + n - 11, ".tests.yaml") == 0))
        return false;
    return (n > 4 && strcasecmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
           (n > 5 && strcasecmp(name + n - 5, ".toml") == 0);
}

// Folder entries ("<type byte><name>", see add_dir) in name order.
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

static sk_status add_dir(sk_rule_loader *l, const char *path, sk_diags *d, unsigned depth)
{
    if (depth > SK_MAX_WALK_DEPTH) {
        (void)flush_pending(l, d); // its diagnostics come first (walk order)
        sk_diag_emitf(d,
                      SK_SEV_WARNING,
                      path,
                      0,
                      0,
                      NULL,
                      "walk-depth",
                      "folder nesting deeper than %u; not entered",
                      (unsigned)SK_MAX_WALK_DEPTH);
        return SK_OK;
    }
    DIR *dir = opendir(path);
    struct stat ds;
    size_t noted = SIZE_MAX;
    if (dir && fstat(dirfd(dir), &ds) == 0) {
        if (id_in(l->dirs, l->ndirs, &ds)) { // walked already (another path, a symlink)
            // Not walked again, but the load depends on what this path names: a symlink to it
            // retargeted later means other rules (the compiled-rule cache must see that).
            uint64_t h;
            size_t at = note_source(l, path, &ds);
            if (at != SIZE_MAX && rs_hash_dir(path, &h))
                note_content(l, at, h);
            closedir(dir);
            return SK_OK;
        }
        id_add(&l->dirs, &l->ndirs, &l->capdirs, &ds);
        noted = note_source(l, path, &ds);
    } else if (dir && l->sources) {
        l->sources->unknown = true;
    }
    if (!dir) {
        (void)flush_pending(l, d);
        sk_diag_emitf(d,
                      SK_SEV_ERROR,
                      path,
                      0,
                      0,
                      NULL,
                      "io-error",
                      "cannot open folder: %s",
                      strerror(errno));
        return SK_ERR_IO;
    }
    // Each name is kept with its type byte in front ('d' folder, 'f' regular file, '?' unknown:
    // stat decides), so that the walk needs no stat for what readdir already told.
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char type = '?';
#ifdef DT_DIR
        if (de->d_type == DT_DIR)
            type = 'd';
        else if (de->d_type == DT_REG)
            type = 'f';
#endif
        size_t len = strlen(de->d_name);
        char *e = sk_xmalloc(len + 2);
        e[0] = type;
        memcpy(e + 1, de->d_name, len + 1);
        sk_xgrow((void **)&names, &cap, n + 1, sizeof(char *));
        names[n++] = e;
    }
    closedir(dir);
    if (n)
        qsort(names, n, sizeof(char *), cmp_name);
    note_content(l, noted, rs_listing_hash(names, n, 1));
    sk_status result = SK_OK;
    size_t plen = strlen(path);
    bool slash = plen && path[plen - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i] + 1;
        size_t len = plen + 1 + strlen(name) + 1;
        char *full = sk_xmalloc(len);
        snprintf(full, len, "%s%s%s", path, slash ? "" : "/", name);
        struct stat st;
        sk_status s = SK_OK;
        bool known = names[i][0] != '?';
        if (known)
            st.st_mode = names[i][0] == 'd' ? S_IFDIR : S_IFREG;
        if (!known && stat(full, &st) != 0) {
            // dangling symlink or race: ignore silently only if it is not a rule name
            if (is_rule_name(name)) {
                int err = errno;
                (void)flush_pending(l, d);
                io_failed(l, full, "cannot read rule file", err, d);
                s = SK_ERR_IO;
            } else if (l->sources) {
                // Passed over, but it may come to name a folder of rules without any change to
                // this one: the compiled-rule cache must not keep this load.
                l->sources->unknown = true;
            }
        } else if (S_ISDIR(st.st_mode)) {
            s = add_dir(l, full, d, depth + 1);
        } else if (S_ISREG(st.st_mode) && is_rule_name(name)) {
            // A file given by name before is not loaded again (stat only when there is one).
            struct stat fs;
            if (!l->nfiles || stat(full, &fs) != 0 || !id_in(l->files, l->nfiles, &fs))
                s = walk_file(l, full, d);
        }
        if (s != SK_OK)
            result = s;
        free(full);
        free(names[i]);
    }
    free(names);
    return result;
}

// ---------------------------------------------------------------------------------------------
// Placeholders

static sk_status load_placeholders(sk_rule_loader *l, const char *path, sk_diags *d)
{
    char *data = NULL;
    size_t n = 0;
    bool too_big = false;
    struct stat sb;
    sk_status st = read_file(path, &data, &n, &too_big, &sb);
    if (st == SK_OK && !too_big)
        note_content(l, note_source(l, path, &sb), rs_content_hash(data, n));
    if (st != SK_OK || too_big) {
        sk_diag_emitf(d,
                      SK_SEV_ERROR,
                      path,
                      0,
                      0,
                      NULL,
                      "placeholder-file",
                      "cannot read placeholder file%s",
                      too_big ? " (too large)" : "");
        return SK_ERR_IO;
    }
    yfile yf;
    yfile_init(&yf);
    yfile_parse(&yf, data, n);
    file_ctx fc = { .l = l, .path = path, .data = data, .n = n, .d = d };
    st = SK_OK;
    const yn *root = yf.ndocs ? yf.docs[0].root : NULL;
    if (yf.ndocs && yf.docs[0].err_code) {
        emit(&fc,
             SK_SEV_ERROR,
             "placeholder-file",
             yf.docs[0].err_line,
             yf.docs[0].err_col,
             yf.docs[0].err_msg);
        st = SK_ERR_RULE_SYNTAX;
    } else if (root && root->type != YN_MAP) {
        emit(&fc,
             SK_SEV_ERROR,
             "placeholder-file",
             root->line,
             root->col,
             "placeholder file must be a map of name: [values]");
        st = SK_ERR_RULE_SYNTAX;
    }
    for (size_t i = 0; st == SK_OK && root && i < root->n; i++) {
        const yn *k = root->kids[2 * i], *v = root->kids[2 * i + 1];
        if (k->type != YN_SCALAR || !k->len) {
            emit(&fc,
                 SK_SEV_ERROR,
                 "placeholder-file",
                 k->line,
                 k->col,
                 "placeholder names must be strings");
            st = SK_ERR_RULE_SYNTAX;
            break;
        }
        const char *name = k->s;
        size_t nl = k->len;
        if (nl >= 2 && name[0] == '%' && name[nl - 1] == '%') {
            name++;
            nl -= 2;
        }
        sk_xgrow((void **)&l->ph, &l->capph, l->nph + 1, sizeof(placeholder));
        placeholder *ph = &l->ph[l->nph++];
        ph->name = sk_xstrndup(name, nl);
        sk_strlist_init(&ph->values);
        const yn *const *vals = (const yn *const *)(v->type == YN_SEQ ? v->kids : NULL);
        size_t nv = v->type == YN_SEQ ? v->n : 1;
        for (size_t j = 0; j < nv; j++) {
            const yn *x = vals ? vals[j] : v;
            if (x->type != YN_SCALAR || x->kind == YK_NULL) {
                emit(&fc,
                     SK_SEV_ERROR,
                     "placeholder-file",
                     x->line,
                     x->col,
                     "placeholder values must be strings");
                st = SK_ERR_RULE_SYNTAX;
                break;
            }
            sk_strlist_add(&ph->values, x->s, x->len);
        }
        if (nv > SK_MAX_VALUES_PER_ITEM) {
            emit(&fc,
                 SK_SEV_ERROR,
                 "placeholder-file",
                 v->line,
                 v->col,
                 "too many placeholder values");
            st = SK_ERR_LIMIT;
        }
    }
    yfile_fini(&yf);
    free(data);
    return st;
}

// ---------------------------------------------------------------------------------------------
// Public API

void sk_rule_loader_free(sk_rule_loader *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nph; i++) {
        free(l->ph[i].name);
        sk_strlist_fini(&l->ph[i].values);
    }
    free(l->ph);
    for (size_t i = 0; i < l->npend; i++) { // queued but never flushed (not reached normally)
        free(l->pend[i].path);
        free(l->pend[i].data);
        if (l->pend[i].parsed)
            yfile_fini(&l->pend[i].yf);
    }
    free(l->pend);
    free(l->dirs);
    free(l->files);
    sk_ruleset_free(l->rs);
    free(l);
}

sk_status sk_rule_loader_new(sk_rule_loader **out, const sk_load_opts *opts, sk_diags *d)
{
    sk_rule_loader *l = sk_xcalloc(1, sizeof(*l));
    l->rs = rs_new();
    if (opts) {
        l->strict = opts->strict;
        l->jobs = opts->jobs;
        l->sources = opts->sources;
        if (opts->placeholder_file) {
            sk_status st = load_placeholders(l, opts->placeholder_file, d);
            if (st != SK_OK) {
                sk_rule_loader_free(l);
                return st;
            }
        }
    }
    *out = l;
    return SK_OK;
}

// Whether a folder walk loaded the file path already: its folder was walked and the walk takes
// its name.
static bool walked_before(const sk_rule_loader *l, const char *path)
{
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    if (!l->ndirs || name[0] == '.' || !is_rule_name(name))
        return false;
    char *dir =
            slash ? sk_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : sk_xstrdup(".");
    struct stat ds;
    bool walked = stat(dir, &ds) == 0 && id_in(l->dirs, l->ndirs, &ds);
    free(dir);
    return walked;
}

sk_status sk_rule_loader_add_path(sk_rule_loader *l, const char *path, sk_diags *d)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        io_failed(l, path, "cannot open", errno, d);
        return SK_ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        l->pend_io_error = false;
        sk_status s1 = add_dir(l, path, d, 0);
        (void)flush_pending(l, d);
        return s1 != SK_OK ? s1 : l->pend_io_error ? SK_ERR_IO : SK_OK;
    }
    // Given by name: once, and not when a folder walked before took it.
    if (id_in(l->files, l->nfiles, &st) || walked_before(l, path)) {
        uint64_t h; // (as for a folder walked already)
        size_t at = note_source(l, path, &st);
        if (at != SIZE_MAX && S_ISREG(st.st_mode) && rs_hash_file(path, (size_t)st.st_size, &h))
            note_content(l, at, h);
        return SK_OK;
    }
    id_add(&l->files, &l->nfiles, &l->capfiles, &st);
    return add_file(l, path, d);
}

sk_status sk_rule_loader_add_buffer(
        sk_rule_loader *l, const char *name, const char *data, size_t n, sk_diags *d)
{
    load_buffer(l, name ? name : "<buffer>", data, n, d);
    return SK_OK;
}

sk_status sk_rule_loader_add_builtin(sk_rule_loader *l, sk_diags *d)
{
    for (unsigned i = 0; i < sk_builtin_rule_count && sk_builtin_rules[i].path; i++) {
        const sk_builtin_rule *b = &sk_builtin_rules[i];
        sk_status st = sk_rule_loader_add_buffer(l, b->path, b->data, b->size, d);
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}

sk_ruleset *sk_rule_loader_finish(sk_rule_loader *l)
{
    sk_ruleset *rs = l->rs;
    l->rs = NULL;
    rs_build_index(rs);
    sk_rule_loader_free(l);
    return rs;
}
