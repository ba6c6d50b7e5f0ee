// fuzz_yaml_fast: the fast YAML reader (src/rules/yaml_fast.c) against libyaml, its oracle. The
// input is one rule file. Whenever the fast reader accepts it, libyaml must read it without error
// into the same documents and trees (node types, scalar kinds and texts, lines, columns). A
// difference is a crash.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rules/rules_int.h"

static void differ(const char *what, const yn *n)
{
    fprintf(stderr,
            "fuzz: yaml_fast and libyaml differ: %s at %lu:%lu\n",
            what,
            n ? n->line : 0,
            n ? n->col : 0);
    abort();
}

static void same(const yn *a, const yn *b)
{
    if (!a || !b) {
        if (a != b)
            differ("node presence", a ? a : b);
        return;
    }
    if (a->type != b->type || a->line != b->line || a->col != b->col || a->n != b->n)
        differ("node", b);
    if (a->type == YN_SCALAR) {
        if (a->kind != b->kind || a->plain != b->plain || a->bval != b->bval || a->len != b->len ||
            memcmp(a->s, b->s, a->len) != 0)
            differ("scalar", b);
        return;
    }
    size_t kids = a->type == YN_MAP ? 2 * a->n : a->n;
    for (size_t i = 0; i < kids; i++)
        same(a->kids[i], b->kids[i]);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    // A heap copy of exactly size bytes, so that ASan sees any read past the end.
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    yfile fast;
    yfile_init(&fast);
    if (yfile_parse_fast(&fast, text, size)) {
        yfile lib;
        yfile_init(&lib);
        yfile_parse_libyaml(&lib, text, size);
        if (lib.ndocs != fast.ndocs)
            differ("document count", NULL);
        for (size_t d = 0; d < lib.ndocs; d++) {
            if (lib.docs[d].err_code)
                differ("libyaml refuses the document", NULL);
            if (lib.docs[d].line != fast.docs[d].line || lib.docs[d].col != fast.docs[d].col)
                differ("document position", NULL);
            same(fast.docs[d].root, lib.docs[d].root);
        }
        yfile_fini(&lib);
    } else if (fast.ndocs) {
        differ("documents kept after giving up", NULL);
    }
    yfile_fini(&fast);
    free(text);
    return 0;
}
