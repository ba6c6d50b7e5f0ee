// The built-in rule pack, embedded at build time from rules/ by tools/embed_rules.py.
#ifndef SK_RULES_BUILTIN_H
#define SK_RULES_BUILTIN_H

#include <stddef.h>

typedef struct sk_builtin_rule {
    const char *path; // "rules/<file>.yml"
    const char *data; // file contents, NUL-terminated
    size_t size;      // bytes, without the NUL
} sk_builtin_rule;

// Terminated by an entry whose path is NULL.
extern const sk_builtin_rule sk_builtin_rules[];
extern const unsigned sk_builtin_rule_count;

#endif
