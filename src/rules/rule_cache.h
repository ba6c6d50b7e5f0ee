// The compiled-rule cache: a loaded ruleset kept on disk as one image, so that the next run with
// the same rules maps it back instead of reading, parsing and compiling every rule file again
// (loading the 2,400 SigmaHQ Windows rules is most of a short hunt).
//
// A cache file answers one load: the same saker build (its GNU build id) and libyaml and PCRE2
// versions, the same rule paths in the same order, the same built-in and placeholder options,
// and, for relative paths, the same working folder. It lists every rule file and folder the load
// read, with device, inode, size, modification and change times; a hit requires all of them
// unchanged (a folder's times change when an entry is added, removed or renamed). One changed
// within 2 s of the write, whose times could miss a change in the same timestamp tick, is
// compared by content too (a file's bytes, a folder's names). The diagnostics the load emitted
// are kept and emitted again, in order, so a cached run prints what a cold one prints. A load
// that could not read something, or that has EQL rules (not cached yet), is not kept. Any doubt
// (a damaged, foreign or stale file) means a cold load, which writes the file anew.
//
// Where: $SAKER_CACHE_DIR, else $XDG_CACHE_HOME/saker, else $HOME/.cache/saker; the 8 files used
// last are kept. Files are written to a temporary name and renamed, so a reader never sees half
// of one; only a regular file of the user's own that others cannot write is read.
#ifndef SK_RULES_RULE_CACHE_H
#define SK_RULES_RULE_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"
#include "ruleset.h"

typedef struct sk_rule_cache sk_rule_cache;

// What a load is: rule paths as given, in order; builtin: the built-in pack is loaded too (or
// alone, with no paths); placeholders: the placeholder file or NULL. dir: the cache folder (NULL:
// the default above). Returns NULL when there is no cache folder to use (no HOME).
sk_rule_cache *sk_rule_cache_new(const char *dir,
                                 const char *const *paths,
                                 size_t npaths,
                                 bool builtin,
                                 const char *placeholders);
void sk_rule_cache_free(sk_rule_cache *c);
// The ruleset of a cache hit, its diagnostics emitted into d; NULL on a miss.
sk_ruleset *sk_rule_cache_get(sk_rule_cache *c, sk_diags *d);
// For a cold load: the diagnostics to give the loader (each is kept, and passed on to d) and the
// list it records what it reads in (sk_load_opts.sources).
sk_diags *sk_rule_cache_recorder(sk_rule_cache *c, sk_diags *d);
sk_rule_sources *sk_rule_cache_sources(sk_rule_cache *c);
// Keeps rs, the result of the cold load, when it can be kept. Errors are silent: the cache only
// ever saves time.
void sk_rule_cache_put(sk_rule_cache *c, const sk_ruleset *rs);
// The cache file's path (for tests and --stats).
const char *sk_rule_cache_path(const sk_rule_cache *c);

#endif
