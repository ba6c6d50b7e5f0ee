// The compiled-rule cache (see rule_cache.h).
//
// A cache file: a header, the key text (what the load was), the relocation list, then the body: an
// image (core/image.h) of a cache_root that points to the ruleset, the diagnostics and the sources.
// Reading it is one read(2) into one block, a relocation pass, a stat(2) per source, and the
// compilation of the regular expressions (PCRE2 code cannot be copied).
#include "rule_cache.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>
#include <fcntl.h>
#include <link.h>
#include <pcre2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/image.h"
#include "core/mem.h"
#include "rules_int.h"

#define MAGIC      "SAKERRC1"
#define KEEP_FILES 8
// A cache file larger than this is not read (the SigmaHQ Windows rules take about 20 MiB).
#define MAX_FILE_BYTES ((size_t)1 << 30)

typedef struct header {
    char magic[8];
    uint64_t size;     // of the whole file
    uint64_t checksum; // sk_img_hash of everything after the header
    uint64_t key_off;  // the key text (key_len bytes)
    uint64_t key_len;
    uint64_t map_off;  // the relocation map (sk_img_map_words(body_len) words)
    uint64_t body_off; // 16-byte aligned
    uint64_t body_len;
    uint64_t root; // sk_img_off of the cache_root in the body
} header;

typedef struct cache_root {
    sk_ruleset *rs;
    sk_diag *diags;
    size_t ndiags;
    sk_rule_source *sources;
    size_t nsources;
} cache_root;

struct sk_rule_cache {
    char *dir;
    char *path;
    sk_buf key;
    // A cold load's record.
    sk_diags rec;
    sk_diags *out;
    sk_diag *diags;
    size_t ndiags, capdiags;
    sk_rule_sources sources;
};

// ---------------------------------------------------------------------------------------------
// The key

static int build_id_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    sk_buf *out = data;
    // The first object is the executable.
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        size_t left = ph->p_memsz;
        while (left >= 12) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p, 4);
            memcpy(&descsz, p + 4, 4);
            memcpy(&type, p + 8, 4);
            size_t nlen = (namesz + 3u) & ~3u, dlen = (descsz + 3u) & ~3u;
            if (12 + nlen + dlen > left)
                break;
            if (type == NT_GNU_BUILD_ID && namesz == 4 && memcmp(p + 12, "GNU", 4) == 0 &&
                descsz > 0) {
                for (uint32_t k = 0; k < descsz; k++)
                    if (sk_buf_addf(out, "%02x", p[12 + nlen + k]) != SK_OK)
                        return 1;
                return 1;
            }
            p += 12 + nlen + dlen;
            left -= 12 + nlen + dlen;
        }
    }
    return 1; // the executable only
}

// The build's identity: its GNU build id; without one, the size and times of the executable
// (a rebuilt binary then differs).
static bool add_build_id(sk_buf *key)
{
    size_t before = key->n;
    if (sk_buf_adds(key, "build ") != SK_OK)
        return false;
    size_t at = key->n;
    dl_iterate_phdr(build_id_cb, key);
    if (key->n == at) {
        struct stat st;
        if (stat("/proc/self/exe", &st) != 0) {
            key->n = before;
            key->p[before] = '\0';
            return false;
        }
        if (sk_buf_addf(key,
                        "exe %llu %llu %lld.%09ld",
                        (unsigned long long)st.st_ino,
                        (unsigned long long)st.st_size,
                        (long long)st.st_mtim.tv_sec,
                        st.st_mtim.tv_nsec) != SK_OK)
            return false;
    }
    return sk_buf_adds(key, "\n") == SK_OK;
}

// The shared libraries whose behaviour the load depends on: libyaml parses the files that the
// fast reader leaves to it, PCRE2 decides which regexes compile. An upgrade of either may change
// the load of the same files, so it is a different load.
static bool add_library_versions(sk_buf *key)
{
    char pcre[64] = "";
    if (pcre2_config(PCRE2_CONFIG_VERSION, pcre) < 0)
        pcre[0] = '\0';
    return sk_buf_addf(key, "libyaml %s\npcre2 %s\n", yaml_get_version_string(), pcre) == SK_OK;
}

static char *default_dir(void)
{
    const char *env = getenv("SAKER_CACHE_DIR");
    if (env && *env && env[0] != '/') { // relative: to the folder saker starts in, made absolute
        char cwd[PATH_MAX];
        sk_buf b;
        sk_buf_init(&b, 2 * PATH_MAX);
        char *dir = getcwd(cwd, sizeof cwd) && sk_buf_addf(&b, "%s/%s", cwd, env) == SK_OK
                            ? sk_xstrndup(b.p, b.n)
                            : NULL;
        sk_buf_fini(&b);
        return dir;
    }
    if (env && *env)
        return sk_xstrdup(env);
    sk_buf b;
    sk_buf_init(&b, PATH_MAX + 64);
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    sk_status st;
    if (xdg && xdg[0] == '/')
        st = sk_buf_addf(&b, "%s/saker", xdg);
    else if (home && home[0] == '/')
        st = sk_buf_addf(&b, "%s/.cache/saker", home);
    else
        st = SK_ERR_IO;
    char *dir = st == SK_OK ? sk_xstrndup((const char *)b.p, b.n) : NULL;
    sk_buf_fini(&b);
    return dir;
}

sk_rule_cache *sk_rule_cache_new(const char *dir,
                                 const char *const *paths,
                                 size_t npaths,
                                 bool builtin,
                                 const char *placeholders)
{
    char *d = dir ? sk_xstrdup(dir) : default_dir();
    if (!d)
        return NULL;
    sk_rule_cache *c = sk_xcalloc(1, sizeof(*c));
    c->dir = d;
    sk_buf_init(&c->key, 1 << 20);
    bool relative = placeholders && placeholders[0] != '/';
    for (size_t i = 0; i < npaths; i++)
        relative |= paths[i][0] != '/';
    bool ok = sk_buf_adds(&c->key, "saker rule cache\n") == SK_OK && add_build_id(&c->key) &&
              add_library_versions(&c->key);
    if (ok && relative) {
        char cwd[PATH_MAX];
        ok = getcwd(cwd, sizeof cwd) && sk_buf_addf(&c->key, "cwd %s\n", cwd) == SK_OK;
    }
    ok = ok && sk_buf_addf(&c->key, "builtin %d\n", builtin ? 1 : 0) == SK_OK;
    if (ok && placeholders)
        ok = sk_buf_addf(&c->key, "placeholders %s\n", placeholders) == SK_OK;
    // A path with a newline cannot be told from two: its length goes first.
    for (size_t i = 0; ok && i < npaths; i++)
        ok = sk_buf_addf(&c->key, "rules %zu %s\n", strlen(paths[i]), paths[i]) == SK_OK;
    sk_buf p;
    sk_buf_init(&p, PATH_MAX + 64);
    ok = ok && sk_buf_addf(&p,
                           "%s/rules-%016llx.cache",
                           c->dir,
                           (unsigned long long)sk_img_hash(c->key.p, c->key.n, 0)) == SK_OK;
    if (!ok) {
        sk_buf_fini(&p);
        sk_rule_cache_free(c);
        return NULL;
    }
    c->path = sk_xstrndup((const char *)p.p, p.n);
    sk_buf_fini(&p);
    return c;
}

const char *sk_rule_cache_path(const sk_rule_cache *c)
{
    return c->path;
}

void sk_rule_cache_free(sk_rule_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndiags; i++) {
        free((char *)c->diags[i].file);
        free((char *)c->diags[i].where);
        free((char *)c->diags[i].code);
        free((char *)c->diags[i].message);
        free((char *)c->diags[i].source_line);
    }
    free(c->diags);
    sk_rule_sources_fini(&c->sources);
    sk_buf_fini(&c->key);
    free(c->path);
    free(c->dir);
    free(c);
}

// ---------------------------------------------------------------------------------------------
// Recording a cold load

static char *dup_or_null(const char *s)
{
    return s ? sk_xstrdup(s) : NULL;
}

static void record(void *ctx, const sk_diag *d)
{
    sk_rule_cache *c = ctx;
    sk_xgrow((void **)&c->diags, &c->capdiags, c->ndiags + 1, sizeof(sk_diag));
    // Field by field over zeros: the padding is written to the cache file too.
    sk_diag *k = &c->diags[c->ndiags++];
    memset(k, 0, sizeof *k);
    k->severity = d->severity;
    k->file = dup_or_null(d->file);
    k->line = d->line;
    k->col = d->col;
    k->where = dup_or_null(d->where);
    k->code = dup_or_null(d->code);
    k->message = dup_or_null(d->message);
    k->source_line = dup_or_null(d->source_line);
    sk_diag_emit(c->out, d);
}

sk_diags *sk_rule_cache_recorder(sk_rule_cache *c, sk_diags *d)
{
    c->out = d;
    sk_diags_init(&c->rec, record, c);
    return &c->rec;
}

sk_rule_sources *sk_rule_cache_sources(sk_rule_cache *c)
{
    return &c->sources;
}

// ---------------------------------------------------------------------------------------------
// Writing the image

typedef sk_img_w W;

static sk_img_off put_strs(W *w, const char *const *v, size_t n)
{
    sk_img_off o = sk_img_put(w, v, n * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        sk_img_link(w, o, i * sizeof(char *), sk_img_str(w, v[i]));
    return o;
}

static sk_img_off put_u32s(W *w, const uint32_t *v, size_t n)
{
    return sk_img_put(w, v, n * sizeof(uint32_t));
}

static sk_img_off put_cnode(W *w, const cnode *c)
{
    if (!c)
        return 0;
    sk_img_off o = sk_img_put(w, c, sizeof *c);
    SK_IMG_LINK(w, o, cnode, sels, put_u32s(w, c->sels, c->nsels));
    sk_img_off kids = sk_img_put(w, c->kids, c->nkids * sizeof(cnode *));
    SK_IMG_LINK(w, o, cnode, kids, kids);
    for (uint32_t i = 0; i < c->nkids; i++)
        sk_img_link(w, kids, i * sizeof(cnode *), put_cnode(w, c->kids[i]));
    SK_IMG_LINK(w, o, cnode, text, sk_img_str(w, c->text));
    return o;
}

static void put_cval(W *w, sk_img_off arr, uint32_t i, const cval *v)
{
    sk_img_off vms = sk_img_put(w, v->vms, v->nvms * sizeof(sk_vm *));
    SK_IMG_LINK_AT(w, arr, cval, i, vms, vms);
    for (uint32_t k = 0; k < v->nvms; k++) // every predicate is in rs->vms, written first
        sk_img_link(w, vms, k * sizeof(sk_vm *), sk_img_ref(w, v->vms[k]));
    sk_img_off atoms = sk_img_put(w, v->atoms, v->natoms * sizeof(char *));
    SK_IMG_LINK_AT(w, arr, cval, i, atoms, atoms);
    for (uint32_t k = 0; k < v->natoms; k++)
        sk_img_link(w, atoms, k * sizeof(char *), sk_img_text(w, v->atoms[k], v->alens[k]));
    SK_IMG_LINK_AT(w, arr, cval, i, alens, put_u32s(w, v->alens, v->natoms));
    SK_IMG_LINK_AT(w, arr, cval, i, pf_ids, put_u32s(w, v->pf_ids, v->pf_ids ? v->natoms : 0));
    SK_IMG_LINK_AT(w,
                   arr,
                   cval,
                   i,
                   pf_sure,
                   sk_img_put(w, v->pf_sure, v->pf_sure ? v->natoms * sizeof(bool) : 0));
}

static void put_item(W *w, sk_img_off arr, uint32_t i, const citem *it)
{
    SK_IMG_LINK_AT(w, arr, citem, i, key, sk_img_str(w, it->key));
    SK_IMG_LINK_AT(w, arr, citem, i, field, sk_img_str(w, it->field));
    sk_img_off vals = sk_img_put(w, it->vals, it->nvals * sizeof(cval));
    SK_IMG_LINK_AT(w, arr, citem, i, vals, vals);
    for (uint32_t k = 0; k < it->nvals; k++)
        put_cval(w, vals, k, &it->vals[k]);
    SK_IMG_LINK_AT(w, arr, citem, i, ref_fids, put_u32s(w, it->ref_fids, it->nrefs));
    SK_IMG_LINK_AT(w, arr, citem, i, ref_names, put_strs(w, it->ref_names, it->nrefs));
}

static void put_source(W *w, sk_img_off arr, uint32_t i, const csource *s)
{
    SK_IMG_LINK_AT(w, arr, csource, i, label, sk_img_str(w, s->label));
    SK_IMG_LINK_AT(w, arr, csource, i, chans, put_u32s(w, s->chans, s->nchans));
    SK_IMG_LINK_AT(w, arr, csource, i, chan_names, put_strs(w, s->chan_names, s->nchans));
    SK_IMG_LINK_AT(w, arr, csource, i, eids, put_u32s(w, s->eids, s->neids));
    SK_IMG_LINK_AT(w, arr, csource, i, ieids, put_u32s(w, s->ieids, s->nieids));
    SK_IMG_LINK_AT(w, arr, csource, i, cond_field, sk_img_str(w, s->cond_field));
    SK_IMG_LINK_AT(w, arr, csource, i, cond_values, put_strs(w, s->cond_values, s->ncond_values));
    SK_IMG_LINK_AT(w, arr, csource, i, ren_from, put_u32s(w, s->ren_from, s->nren));
    SK_IMG_LINK_AT(w, arr, csource, i, ren_to, put_u32s(w, s->ren_to, s->nren));
    SK_IMG_LINK_AT(w, arr, csource, i, ren_from_names, put_strs(w, s->ren_from_names, s->nren));
    SK_IMG_LINK_AT(w, arr, csource, i, ren_to_names, put_strs(w, s->ren_to_names, s->nren));
}

static sk_img_off put_rule(W *w, const sk_rule *r)
{
    if (r->eql || r->language) {
        sk_img_fail(w); // EQL rules are not cached
        return 0;
    }
    sk_img_off o = sk_img_put(w, r, sizeof *r);
    SK_IMG_LINK(w, o, sk_rule, id, sk_img_str(w, r->id));
    SK_IMG_LINK(w, o, sk_rule, title, sk_img_str(w, r->title));
    SK_IMG_LINK(w, o, sk_rule, status, sk_img_str(w, r->status));
    SK_IMG_LINK(w, o, sk_rule, description, sk_img_str(w, r->description));
    SK_IMG_LINK(w, o, sk_rule, author, sk_img_str(w, r->author));
    SK_IMG_LINK(w, o, sk_rule, date, sk_img_str(w, r->date));
    SK_IMG_LINK(w, o, sk_rule, path, sk_img_str(w, r->path));
    SK_IMG_LINK(w, o, sk_rule, level_text, sk_img_str(w, r->level_text));
    SK_IMG_LINK(w, o, sk_rule, logsource, sk_img_str(w, r->logsource));
    SK_IMG_LINK(w, o, sk_rule, tags, put_strs(w, r->tags, r->ntags));
    SK_IMG_LINK(w, o, sk_rule, refs, put_strs(w, r->refs, r->nrefs));
    SK_IMG_LINK(w, o, sk_rule, fps, put_strs(w, r->fps, r->nfps));
    SK_IMG_LINK(w, o, sk_rule, fields, put_strs(w, r->fields, r->nfields));
    sk_img_off srcs = sk_img_put(w, r->sources, r->nsources * sizeof(csource));
    SK_IMG_LINK(w, o, sk_rule, sources, srcs);
    for (uint32_t i = 0; i < r->nsources; i++)
        put_source(w, srcs, i, &r->sources[i]);
    sk_img_off sels = sk_img_put(w, r->sels, r->nsels * sizeof(csel));
    SK_IMG_LINK(w, o, sk_rule, sels, sels);
    for (uint32_t i = 0; i < r->nsels; i++) {
        const csel *s = &r->sels[i];
        SK_IMG_LINK_AT(w, sels, csel, i, name, sk_img_str(w, s->name));
        sk_img_off alts = sk_img_put(w, s->alts, s->nalts * sizeof(calt));
        SK_IMG_LINK_AT(w, sels, csel, i, alts, alts);
        for (uint32_t a = 0; a < s->nalts; a++) {
            const calt *al = &s->alts[a];
            sk_img_off items = sk_img_put(w, al->items, al->nitems * sizeof(citem));
            SK_IMG_LINK_AT(w, alts, calt, a, items, items);
            for (uint32_t k = 0; k < al->nitems; k++)
                put_item(w, items, k, &al->items[k]);
        }
    }
    SK_IMG_LINK(w, o, sk_rule, sel_names, put_strs(w, r->sel_names, r->nsels));
    SK_IMG_LINK(w, o, sk_rule, cond, put_cnode(w, r->cond));
    sk_img_off atoms = sk_img_put(w, r->atoms, r->natoms * sizeof(char *));
    SK_IMG_LINK(w, o, sk_rule, atoms, atoms);
    for (uint32_t k = 0; k < r->natoms; k++)
        sk_img_link(w, atoms, k * sizeof(char *), sk_img_text(w, r->atoms[k], r->atom_lens[k]));
    SK_IMG_LINK(w, o, sk_rule, atom_lens, put_u32s(w, r->atom_lens, r->natoms));
    SK_IMG_LINK(w, o, sk_rule, language, 0);
    SK_IMG_LINK(w, o, sk_rule, eql, 0);
    return o;
}

static sk_img_off put_ruleset(W *w, const sk_ruleset *rs)
{
    if (rs->eql) {
        sk_img_fail(w);
        return 0;
    }
    sk_img_off o = sk_img_put(w, rs, sizeof *rs);
    // The arena is made anew when the image is read; nothing may point into it but what is
    // written here.
    SK_IMG_LINK(w, o, sk_ruleset, image, 0);
    // Predicates first: the values point to them.
    sk_img_off vms = sk_img_put(w, rs->vms, rs->nvms * sizeof(sk_vm *));
    SK_IMG_LINK(w, o, sk_ruleset, vms, vms);
    for (size_t i = 0; i < rs->nvms; i++)
        sk_img_link(w, vms, i * sizeof(sk_vm *), sk_vm_image_put(w, rs->vms[i]));
    ((sk_ruleset *)sk_img_at(w, o))->capvms = rs->nvms;
    sk_img_off rules = sk_img_put(w, rs->rules, rs->nrules * sizeof(sk_rule *));
    SK_IMG_LINK(w, o, sk_ruleset, rules, rules);
    for (size_t i = 0; i < rs->nrules; i++)
        sk_img_link(w, rules, i * sizeof(sk_rule *), put_rule(w, rs->rules[i]));
    ((sk_ruleset *)sk_img_at(w, o))->caprules = rs->nrules;
    SK_IMG_LINK(w, o, sk_ruleset, enabled, sk_img_put(w, rs->enabled, rs->nrules * sizeof(bool)));
    sk_img_off rep = sk_img_put(w, rs->report, rs->nreport * sizeof(sk_load_entry));
    SK_IMG_LINK(w, o, sk_ruleset, report, rep);
    for (size_t i = 0; i < rs->nreport; i++) {
        const sk_load_entry *e = &rs->report[i];
        SK_IMG_LINK_AT(w, rep, sk_load_entry, i, file, sk_img_str(w, e->file));
        SK_IMG_LINK_AT(w, rep, sk_load_entry, i, title, sk_img_str(w, e->title));
        SK_IMG_LINK_AT(w, rep, sk_load_entry, i, id, sk_img_str(w, e->id));
        SK_IMG_LINK_AT(w, rep, sk_load_entry, i, code, sk_img_str(w, e->code));
        SK_IMG_LINK_AT(w, rep, sk_load_entry, i, message, sk_img_str(w, e->message));
    }
    ((sk_ruleset *)sk_img_at(w, o))->capreport = rs->nreport;
    SK_IMG_LINK(w, o, sk_ruleset, reason_codes, put_strs(w, rs->reason_codes, rs->nreasons));
    SK_IMG_LINK(w,
                o,
                sk_ruleset,
                reason_counts,
                sk_img_put(w, rs->reason_counts, rs->nreasons * sizeof(size_t)));
    SK_IMG_LINK(w, o, sk_ruleset, names, put_strs(w, (const char *const *)rs->names, rs->nnames));
    SK_IMG_LINK(w, o, sk_ruleset, name_lens, put_u32s(w, rs->name_lens, rs->nnames));
    SK_IMG_LINK(w, o, sk_ruleset, name_ci, put_u32s(w, rs->name_ci, rs->nnames));
    SK_IMG_LINK(
            w, o, sk_ruleset, names_tab.slots, put_u32s(w, rs->names_tab.slots, rs->names_tab.cap));
    SK_IMG_LINK(
            w, o, sk_ruleset, ci_names, put_strs(w, (const char *const *)rs->ci_names, rs->nci));
    SK_IMG_LINK(w, o, sk_ruleset, ci_lens, put_u32s(w, rs->ci_lens, rs->nci));
    SK_IMG_LINK(w, o, sk_ruleset, ci_tab.slots, put_u32s(w, rs->ci_tab.slots, rs->ci_tab.cap));
    ((sk_ruleset *)sk_img_at(w, o))->capnames = rs->nnames;
    ((sk_ruleset *)sk_img_at(w, o))->capci = rs->nci;
    // The index: its candidate lists before the prefilter, which finds them by address.
    sk_img_off chans = sk_img_put(w, rs->chans, rs->nchans * sizeof(rs_chan));
    SK_IMG_LINK(w, o, sk_ruleset, chans, chans);
    for (size_t c = 0; c < rs->nchans; c++) {
        const rs_chan *ch = &rs->chans[c];
        SK_IMG_LINK_AT(w, chans, rs_chan, c, name, sk_img_text(w, ch->name, ch->len));
        // (shared: the prefilter finds the lists by address)
        SK_IMG_LINK_AT(w,
                       chans,
                       rs_chan,
                       c,
                       any_rules,
                       sk_img_put_shared(w, ch->any_rules, ch->nany * sizeof(uint32_t)));
        sk_img_off eids = sk_img_put(w, ch->eids, ch->neids * sizeof(rs_index_eid));
        SK_IMG_LINK_AT(w, chans, rs_chan, c, eids, eids);
        for (uint32_t e = 0; e < ch->neids; e++)
            SK_IMG_LINK_AT(
                    w,
                    eids,
                    rs_index_eid,
                    e,
                    rules,
                    sk_img_put_shared(w, ch->eids[e].rules, ch->eids[e].n * sizeof(uint32_t)));
    }
    ((sk_ruleset *)sk_img_at(w, o))->capchans = rs->nchans;
    SK_IMG_LINK(
            w, o, sk_ruleset, chan_tab.slots, put_u32s(w, rs->chan_tab.slots, rs->chan_tab.cap));
    SK_IMG_LINK(w, o, sk_ruleset, id_tab.slots, put_u32s(w, rs->id_tab.slots, rs->id_tab.cap));
    SK_IMG_LINK(w,
                o,
                sk_ruleset,
                catch_all,
                sk_img_put_shared(w, rs->catch_all, rs->ncatch_all * sizeof(uint32_t)));
    SK_IMG_LINK(w, o, sk_ruleset, pf, pf_image_put(w, rs->pf));
    SK_IMG_LINK(w, o, sk_ruleset, eql, 0);
    return o;
}

static sk_img_off put_root(W *w, const sk_rule_cache *c, const sk_ruleset *rs)
{
    cache_root root = { .ndiags = c->ndiags, .nsources = c->sources.n };
    sk_img_off o = sk_img_put(w, &root, sizeof root);
    SK_IMG_LINK(w, o, cache_root, rs, put_ruleset(w, rs));
    sk_img_off diags = sk_img_put(w, c->diags, c->ndiags * sizeof(sk_diag));
    SK_IMG_LINK(w, o, cache_root, diags, diags);
    for (size_t i = 0; i < c->ndiags; i++) {
        const sk_diag *d = &c->diags[i];
        SK_IMG_LINK_AT(w, diags, sk_diag, i, file, sk_img_str(w, d->file));
        SK_IMG_LINK_AT(w, diags, sk_diag, i, where, sk_img_str(w, d->where));
        SK_IMG_LINK_AT(w, diags, sk_diag, i, code, sk_img_str(w, d->code));
        SK_IMG_LINK_AT(w, diags, sk_diag, i, message, sk_img_str(w, d->message));
        SK_IMG_LINK_AT(w, diags, sk_diag, i, source_line, sk_img_str(w, d->source_line));
    }
    sk_img_off srcs = sk_img_put(w, c->sources.v, c->sources.n * sizeof(sk_rule_source));
    SK_IMG_LINK(w, o, cache_root, sources, srcs);
    for (size_t i = 0; i < c->sources.n; i++)
        SK_IMG_LINK_AT(w, srcs, sk_rule_source, i, path, sk_img_str(w, c->sources.v[i].path));
    return o;
}

// The check of a file: its key, relocation map and body, each hashed with the hash so far.
static uint64_t checksum(const header *h, const void *key, const void *map, const void *body)
{
    uint64_t x = sk_img_hash(key, (size_t)h->key_len, h->size ^ h->root);
    x = sk_img_hash(map, sk_img_map_words((size_t)h->body_len) * sizeof(uint64_t), x);
    return sk_img_hash(body, (size_t)h->body_len, x);
}

static bool write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        b += k;
        n -= (size_t)k;
    }
    return true;
}

static int cmp_mtime(const void *a, const void *b)
{
    const struct timespec *x = &((const struct stat *)a)->st_mtim;
    const struct timespec *y = &((const struct stat *)b)->st_mtim;
    if (x->tv_sec != y->tv_sec)
        return x->tv_sec > y->tv_sec ? -1 : 1;
    return x->tv_nsec > y->tv_nsec ? -1 : x->tv_nsec < y->tv_nsec;
}

// A temporary file of a run that died before its rename (killed while writing) is removed once
// it is this old (a run writes its file in well under a second).
#define STALE_TEMP_SECONDS 3600

// Whether name is a cache file's temporary name ("rules-<hex>.cache.XXXXXX", sk_rule_cache_put).
static bool is_temp_name(const char *name, size_t len)
{
    return len >= 6 + 7 + 6 && strncmp(name, "rules-", 6) == 0 &&
           memcmp(name + len - 13, ".cache.", 7) == 0;
}

// Keeps the KEEP_FILES newest cache files of the folder (by modification time), and removes the
// temporary files that runs killed while writing left behind.
static void prune(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        now.tv_sec = 0;
    typedef struct entry {
        struct stat st; // first: cmp_mtime reads it
        char name[64];
    } entry;
    entry *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        struct stat ts;
        if (is_temp_name(de->d_name, len) &&
            fstatat(dirfd(d), de->d_name, &ts, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(ts.st_mode) &&
            ts.st_mtim.tv_sec < now.tv_sec - STALE_TEMP_SECONDS) {
            (void)unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (len >= sizeof v->name || strncmp(de->d_name, "rules-", 6) != 0 || len < 6 + 6 ||
            strcmp(de->d_name + len - 6, ".cache") != 0)
            continue;
        entry e;
        if (fstatat(dirfd(d), de->d_name, &e.st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(e.st.st_mode))
            continue;
        memcpy(e.name, de->d_name, len + 1);
        sk_xgrow((void **)&v, &cap, n + 1, sizeof(entry));
        v[n++] = e;
    }
    if (n > KEEP_FILES) {
        qsort(v, n, sizeof(entry), cmp_mtime);
        for (size_t i = KEEP_FILES; i < n; i++)
            (void)unlinkat(dirfd(d), v[i].name, 0);
    }
    free(v);
    closedir(d);
}

// Creates dir and its missing parents (mode 0700: rule paths and diagnostics are the user's).
static bool make_dirs(const char *dir)
{
    char *p = sk_xstrdup(dir);
    bool ok = true;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            ok = false;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return ok;
}

// How close to the cache write a change must be for a file's times to be unable to tell it: a
// file system's timestamp tick (FAT: 2 s; others a kernel tick, a few ms).
#define RACY_SECONDS 2

// Marks the sources whose times cannot tell a later change (changed within RACY_SECONDS of now:
// an edit in the same tick after the load read them keeps them all equal), as git's "racily
// clean" index entries: their content is checked on a hit. False when such a source's content is
// not known (then the load is not kept; the next one will be).
static bool mark_racy(sk_rule_sources *src)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0)
        return false;
    for (size_t i = 0; i < src->n; i++) {
        sk_rule_source *v = &src->v[i];
        long long t = v->mtime_s > v->ctime_s ? v->mtime_s : v->ctime_s;
        v->racy = t >= (long long)now.tv_sec - RACY_SECONDS;
        if (v->racy && !v->has_content)
            return false;
    }
    return true;
}

void sk_rule_cache_put(sk_rule_cache *c, const sk_ruleset *rs)
{
    if (!c || !rs || c->sources.unknown || !mark_racy(&c->sources))
        return;
    W w;
    sk_img_w_init(&w);
    sk_img_off root = put_root(&w, c, rs);
    if (w.failed || !root) {
        sk_img_w_fini(&w);
        return;
    }
    header h = { .key_len = c->key.n, .body_len = w.len, .root = root };
    memcpy(h.magic, MAGIC, sizeof h.magic);
    h.key_off = sizeof h;
    h.map_off = (h.key_off + h.key_len + 7) & ~(uint64_t)7;
    size_t map_len = sk_img_map_words(w.len) * sizeof(uint64_t);
    h.body_off = (h.map_off + map_len + 15) & ~(uint64_t)15;
    h.size = h.body_off + h.body_len;
    const uint64_t *map = sk_img_map(&w);
    h.checksum = checksum(&h, c->key.p, map, w.buf);
    static const unsigned char zeros[16];
    sk_buf tmp;
    sk_buf_init(&tmp, PATH_MAX + 64);
    int fd = -1;
    if (make_dirs(c->dir) && sk_buf_addf(&tmp, "%s.XXXXXX", c->path) == SK_OK &&
        sk_buf_add(&tmp, "", 1) == SK_OK)
        fd = mkostemp((char *)tmp.p, O_CLOEXEC);
    if (fd >= 0) {
        bool ok = write_all(fd, &h, sizeof h) && write_all(fd, c->key.p, c->key.n) &&
                  write_all(fd, zeros, (size_t)(h.map_off - h.key_off - h.key_len)) &&
                  write_all(fd, map, map_len) &&
                  write_all(fd, zeros, (size_t)(h.body_off - h.map_off - map_len)) &&
                  write_all(fd, w.buf, w.len);
        ok = close(fd) == 0 && ok;
        if (!ok || rename((char *)tmp.p, c->path) != 0)
            (void)unlink((char *)tmp.p);
        else
            prune(c->dir);
    }
    sk_buf_fini(&tmp);
    sk_img_w_fini(&w);
}

// ---------------------------------------------------------------------------------------------
// Reading it back

static bool stat_same(const struct stat *st, const sk_rule_source *s)
{
    return (bool)S_ISDIR(st->st_mode) == s->dir && (unsigned long long)st->st_dev == s->dev &&
           (unsigned long long)st->st_ino == s->ino &&
           (s->dir || (unsigned long long)st->st_size == s->size) &&
           (long long)st->st_mtim.tv_sec == s->mtime_s &&
           (long long)st->st_mtim.tv_nsec == s->mtime_ns &&
           (long long)st->st_ctim.tv_sec == s->ctime_s &&
           (long long)st->st_ctim.tv_nsec == s->ctime_ns;
}

// Whether every source is as it was. The files of a folder follow it in the list: each is looked
// up from the folder's descriptor, one path component instead of the whole path (the path walks
// were a fifth of a cached load).
// The content of a racy source as it is now (a file's bytes, a folder's listing) is what the
// load read.
static bool content_same(const sk_rule_source *v)
{
    uint64_t h;
    return v->dir                                       ? rs_hash_dir(v->path, &h)
           : rs_hash_file(v->path, (size_t)v->size, &h) ? h == v->content
                                                        : false;
}

static bool sources_same(const sk_rule_source *v, size_t n)
{
    int dfd = -1;
    const char *dir = NULL; // the folder dfd is open on
    size_t dlen = 0;
    bool same = true;
    for (size_t i = 0; same && i < n; i++) {
        const char *path = v[i].path, *slash = strrchr(path, '/');
        struct stat st;
        if (slash && slash > path && dir && (size_t)(slash - path) == dlen &&
            memcmp(path, dir, dlen) == 0)
            same = fstatat(dfd, slash + 1, &st, 0) == 0 && stat_same(&st, &v[i]);
        else
            same = stat(path, &st) == 0 && stat_same(&st, &v[i]);
        if (same && v[i].racy)
            same = content_same(&v[i]);
        if (same && v[i].dir) {
            if (dfd >= 0)
                close(dfd);
            dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            dir = dfd >= 0 ? path : NULL;
            dlen = dfd >= 0 ? strlen(path) : 0;
        }
    }
    if (dfd >= 0)
        close(dfd);
    return same;
}

// A block for an image of n bytes: aligned to 2 MiB and advised as huge pages (Linux), so that
// filling 20 MiB costs ten page faults instead of five thousand.
static unsigned char *alloc_image(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    void *p = NULL;
    if (n >= huge && posix_memalign(&p, huge, (n + huge - 1) & ~(huge - 1)) == 0) {
#ifdef MADV_HUGEPAGE
        (void)madvise(p, (n + huge - 1) & ~(huge - 1), MADV_HUGEPAGE);
#endif
        return p;
    }
    return sk_xmalloc(n);
}

// The file's bytes in one block (16-byte aligned at least), or NULL. Only a file of the user's
// own that no one else may write is read: the checks of a cache file find damage, not forgery
// (sk_img_hash is no MAC, and the image's contents are trusted), and SAKER_CACHE_DIR may name a
// shared folder.
static unsigned char *read_whole(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *p = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        (st.st_mode & (S_IWGRP | S_IWOTH)) == 0 && st.st_size >= (off_t)sizeof(header) &&
        (unsigned long long)st.st_size <= MAX_FILE_BYTES) {
        size_t n = (size_t)st.st_size, got = 0;
        p = alloc_image(n);
        while (got < n) {
            ssize_t k = read(fd, p + got, n - got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        if (got != n) {
            free(p);
            p = NULL;
        }
        *size = n;
    }
    close(fd);
    return p;
}

sk_ruleset *sk_rule_cache_get(sk_rule_cache *c, sk_diags *d)
{
    if (!c)
        return NULL;
    size_t size = 0;
    unsigned char *file = read_whole(c->path, &size);
    if (!file)
        return NULL;
    header h;
    memcpy(&h, file, sizeof h);
    bool ok = memcmp(h.magic, MAGIC, sizeof h.magic) == 0 && h.size == size &&
              h.key_off == sizeof h && h.key_len == c->key.n && h.key_off + h.key_len <= size &&
              memcmp(file + h.key_off, c->key.p, c->key.n) == 0 && h.map_off % 8 == 0 &&
              h.map_off >= h.key_off + h.key_len && h.body_off % 16 == 0 && h.body_off <= size &&
              h.body_len == size - h.body_off &&
              // (the map lies between the key and the body: body_off - map_off cannot wrap)
              h.map_off <= h.body_off &&
              h.body_off - h.map_off >= sk_img_map_words(h.body_len) * sizeof(uint64_t) &&
              h.root > 0 && h.root - 1 + sizeof(cache_root) <= h.body_len &&
              checksum(&h, file + h.key_off, file + h.map_off, file + h.body_off) == h.checksum &&
              sk_img_relocate(
                      file + h.body_off, (size_t)h.body_len, (const uint64_t *)(file + h.map_off));
    cache_root *root = ok ? (cache_root *)(file + h.body_off + h.root - 1) : NULL;
    ok = ok && sources_same(root->sources, root->nsources);
    ok = ok && root->rs;
    if (ok) {
        // The ruleset itself is taken out of the block (nothing in it points back to it), so
        // that what holds the ruleset holds the block by its start: a pointer into the middle
        // of a block does not keep it reachable for leak checkers (cmd_hunt keeps the ruleset
        // until exit instead of freeing it, and valgrind then reported the block as lost).
        sk_ruleset *rs = sk_xmalloc(sizeof *rs);
        memcpy(rs, root->rs, sizeof *rs);
        sk_arena_init_huge(&rs->arena);
        rs->image = file;
        pf_image_fix(rs->pf);
        for (size_t i = 0; i < rs->nvms; i++) {
            if (!sk_vm_image_fix(rs->vms[i])) {
                rs->nvms = i; // the ones fixed so far are released
                sk_ruleset_free(rs);
                return NULL;
            }
        }
        for (size_t i = 0; i < root->ndiags; i++)
            sk_diag_emit(d, &root->diags[i]);
        // Used now: pruning keeps the files used last, not the ones written last.
        (void)utimensat(AT_FDCWD, c->path, NULL, 0);
        return rs;
    }
    free(file);
    return NULL;
}
