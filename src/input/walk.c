// Folder walks: recursive, names sorted bytewise so every run visits files in the same order,
// extension and glob filters, symlink-loop detection by (device, inode) of the folders on the
// current path.
#include "input.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/mem.h"

static const char *const default_exts[] = { "evtx", "json", "jsonl", "ndjson" };

typedef struct walker {
    const sk_walk_opts *opts;
    sk_walk_stats *stats;
    sk_diags *diags;
    sk_walk_fn fn;
    void *ctx;
    const char *root; // the folder given on the command line
    size_t root_len;
    dev_t devs[SK_MAX_WALK_DEPTH];
    ino_t inos[SK_MAX_WALK_DEPTH];
    unsigned depth;
} walker;

bool sk_walk_opens_name(const sk_walk_opts *o, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    // "x.json.gz" counts as "json" (compressed inputs are read transparently).
    char base[256];
    const char *ext = dot + 1;
    if (strcasecmp(ext, "gz") == 0) {
        size_t len = (size_t)(dot - name);
        if (len >= sizeof base)
            return false;
        memcpy(base, name, len);
        base[len] = '\0';
        const char *d2 = strrchr(base, '.');
        if (!d2)
            return false;
        ext = d2 + 1;
    }
    const char *const *exts = o && o->exts ? o->exts : default_exts;
    size_t n = o && o->exts ? o->nexts : sizeof default_exts / sizeof *default_exts;
    for (size_t i = 0; i < n; i++) {
        const char *e = exts[i];
        if (*e == '.')
            e++;
        if (strcasecmp(ext, e) == 0)
            return true;
    }
    return false;
}

// A path glob: '*' and '?' stop at '/', and "**/" matches any number of folders, none included
// ("Logs/**/*.evtx" is Logs/a.evtx and Logs/x/y/a.evtx; "**/a.evtx" is a.evtx at any depth).
// Glob and path are cut at '/' into segments; a "**" segment with more after it matches any
// number of path segments, any other segment one (fnmatch; "x**" is fnmatch's own "*"). Each
// (glob segment, path segment) pair is decided once (memo), so a path costs at most the product
// of the two segment counts, however many "**/" the glob has.
typedef struct segs {
    char *text; // the string, '/' replaced by NUL
    char **s;
    size_t n;
} segs;

static void segs_cut(segs *g, const char *str)
{
    g->text = sk_xstrdup(str);
    size_t n = 1;
    for (const char *p = str; *p; p++)
        n += *p == '/';
    g->s = sk_xmalloc(n * sizeof *g->s);
    g->n = 0;
    char *p = g->text;
    for (;;) {
        g->s[g->n++] = p;
        char *slash = strchr(p, '/');
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
    }
}

// memo[gi * (path->n + 1) + pi]: 0 not decided yet, 1 no match, 2 match.
static bool
segs_match(const segs *g, const segs *path, size_t gi, size_t pi, unsigned char *memo)
{
    unsigned char *m = &memo[gi * (path->n + 1) + pi];
    if (*m)
        return *m == 2;
    bool hit;
    if (gi == g->n)
        hit = pi == path->n;
    else if (gi + 1 < g->n && strcmp(g->s[gi], "**") == 0) // "**/": none or more folders
        hit = segs_match(g, path, gi + 1, pi, memo) ||
              (pi < path->n && segs_match(g, path, gi, pi + 1, memo));
    else
        hit = pi < path->n && fnmatch(g->s[gi], path->s[pi], 0) == 0 &&
              segs_match(g, path, gi + 1, pi + 1, memo);
    *m = hit ? 2 : 1;
    return hit;
}

static bool path_glob(const char *g, const char *path)
{
    segs gs, ps;
    segs_cut(&gs, g);
    segs_cut(&ps, path);
    unsigned char *memo = sk_xcalloc((gs.n + 1) * (ps.n + 1), 1);
    bool hit = segs_match(&gs, &ps, 0, 0, memo);
    free(memo);
    free(gs.text);
    free(gs.s);
    free(ps.text);
    free(ps.s);
    return hit;
}

// A glob with a '/' is matched against the path below the folder given (Logs/*.evtx), or the
// path as the walk has it (triage/Logs/*.evtx, with or without a leading "./"); one without,
// against the base name. As in .gitignore, a glob that ends in '/' matches folders only (sub/),
// and a trailing "/**" everything below a folder (Logs/**).
static bool glob_any(const walker *w, const char *const *globs, size_t n, const char *path,
                     const char *name, bool is_dir)
{
    const char *rel = path;
    if (w->root_len && strncmp(path, w->root, w->root_len) == 0) {
        rel = path + w->root_len;
        while (*rel == '/')
            rel++;
    }
    const char *walked = path;
    while (walked[0] == '.' && walked[1] == '/')
        for (walked += 2; *walked == '/';)
            walked++;
    for (size_t i = 0; i < n; i++) {
        const char *g = globs[i];
        size_t gl = strlen(g);
        char *own = NULL;
        if (gl > 1 && g[gl - 1] == '/') { // folders only
            if (!is_dir)
                continue;
            g = own = sk_xstrndup(g, gl - 1);
        } else if (gl >= 3 && strcmp(g + gl - 3, "/**") == 0) { // Logs/** is Logs/**/*
            own = sk_xmalloc(gl + 3);
            memcpy(own, g, gl);
            memcpy(own + gl, "/*", 3);
            g = own;
        }
        bool hit = !strchr(g, '/') ? fnmatch(g, name, 0) == 0
                                   : path_glob(g, rel) || path_glob(g, path) ||
                                             (walked != path && path_glob(g, walked));
        free(own);
        if (hit)
            return true;
    }
    return false;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static sk_status walk_dir(walker *w, const char *dir);

static sk_status visit(walker *w, const char *path, const char *name)
{
    struct stat sb;
    const sk_walk_opts *o = w->opts;
    if (stat(path, &sb) != 0) {
        int e = errno;
        struct stat lb;
        // A dangling symlink or a file gone since readdir: reported, unless it is a dangling
        // symlink whose name the walk would pass over anyway (triage collections are full of
        // dangling junctions such as "Application Data"). Anything else that cannot be read (a
        // folder without permission, an I/O error) is reported whatever its name.
        bool dangling =
                (e == ENOENT || e == ENOTDIR) && lstat(path, &lb) == 0 && S_ISLNK(lb.st_mode);
        if (dangling &&
            (!sk_walk_opens_name(o, name) ||
             (o && o->nexclude && glob_any(w, o->exclude, o->nexclude, path, name, false)) ||
             (o && o->ninclude && !glob_any(w, o->include, o->ninclude, path, name, false)))) {
            w->stats->passed_over++;
            return SK_OK;
        }
        sk_diag_emitf(w->diags, SK_SEV_WARNING, path, 0, 0, NULL, "unreadable",
                      "cannot read: %s; skipped", strerror(e));
        w->stats->unreadable++;
        return SK_OK;
    }
    if (o && o->nexclude &&
        glob_any(w, o->exclude, o->nexclude, path, name, S_ISDIR(sb.st_mode))) {
        if (!S_ISDIR(sb.st_mode))
            w->stats->passed_over++;
        return SK_OK;
    }
    if (S_ISDIR(sb.st_mode))
        return walk_dir(w, path);
    if (!S_ISREG(sb.st_mode) || !sk_walk_opens_name(w->opts, name) ||
        (o && o->skip_file && sb.st_dev == o->skip_dev && sb.st_ino == o->skip_ino) ||
        (o && o->ninclude && !glob_any(w, o->include, o->ninclude, path, name, false))) {
        w->stats->passed_over++;
        return SK_OK;
    }
    w->stats->files++;
    return w->fn(w->ctx, path, &sb, false);
}

static sk_status walk_dir(walker *w, const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        sk_diag_emitf(w->diags, SK_SEV_WARNING, dir, 0, 0, NULL, "unreadable",
                      "cannot read folder: %s; skipped", strerror(errno));
        w->stats->unreadable++;
        return SK_OK;
    }
    for (unsigned i = 0; i < w->depth; i++) {
        if (w->devs[i] == sb.st_dev && w->inos[i] == sb.st_ino) {
            // Its files are read through the parent folder: nothing is skipped, so a note (no
            // exit status 4, not fatal under --strict).
            sk_diag_emitf(w->diags, SK_SEV_NOTE, dir, 0, 0, NULL, "symlink-loop",
                          "folder loop (a link back to a parent folder); not followed, its files "
                          "are read through the folder it links to");
            return SK_OK;
        }
    }
    if (w->depth >= SK_MAX_WALK_DEPTH) {
        sk_diag_emitf(w->diags, SK_SEV_WARNING, dir, 0, 0, NULL, "too-deep",
                      "folders nested deeper than %u; not followed", SK_MAX_WALK_DEPTH);
        w->stats->unreadable++;
        return SK_OK;
    }
    DIR *d = opendir(dir);
    if (!d) {
        sk_diag_emitf(w->diags, SK_SEV_WARNING, dir, 0, 0, NULL, "unreadable",
                      "cannot read folder: %s; skipped", strerror(errno));
        w->stats->unreadable++;
        return SK_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        sk_xgrow((void **)&names, &cap, n + 1, sizeof *names);
        names[n++] = sk_xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) // qsort's base must not be NULL, even for 0 elements
        qsort(names, n, sizeof *names, cmp_names);

    w->devs[w->depth] = sb.st_dev;
    w->inos[w->depth] = sb.st_ino;
    w->depth++;
    sk_status st = SK_OK;
    size_t dl = strlen(dir);
    bool slash = dl > 0 && dir[dl - 1] == '/';
    for (size_t i = 0; i < n && st == SK_OK; i++) {
        sk_buf p;
        sk_buf_init(&p, 1u << 16);
        if (sk_buf_add(&p, dir, dl) == SK_OK && (slash || sk_buf_addc(&p, '/') == SK_OK) &&
            sk_buf_adds(&p, names[i]) == SK_OK)
            st = visit(w, sk_buf_str(&p), names[i]);
        sk_buf_fini(&p);
    }
    w->depth--;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

sk_status sk_walk(const char *path,
                  const sk_walk_opts *opts,
                  sk_walk_stats *stats,
                  sk_diags *diags,
                  sk_walk_fn fn,
                  void *ctx)
{
    walker w = { .opts = opts, .stats = stats, .diags = diags, .fn = fn, .ctx = ctx, .depth = 0 };
    if (strcmp(path, "-") == 0) {
        stats->files++;
        return fn(ctx, path, NULL, true);
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        sk_diag_emitf(diags, SK_SEV_ERROR, path, 0, 0, NULL, "open-failed", "cannot open: %s",
                      strerror(errno));
        stats->unreadable++;
        return SK_OK;
    }
    if (S_ISDIR(sb.st_mode)) {
        w.root = path;
        w.root_len = strlen(path);
        return walk_dir(&w, path);
    }
    stats->files++;
    return fn(ctx, path, &sb, true);
}
