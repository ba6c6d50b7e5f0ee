// Private to src/input: the reader vtable that each format implements.
#ifndef SK_INPUT_READER_INT_H
#define SK_INPUT_READER_INT_H

#include "reader.h"

typedef struct sk_reader_ops {
    const char *name;
    sk_status (*next)(sk_reader *r, const sk_event **ev);
    void (*close)(sk_reader *r); // frees implementation state and r itself
} sk_reader_ops;

// Every implementation embeds this as its first member.
struct sk_reader {
    const sk_reader_ops *ops;
    char *display;       // owned copy of the display name
    sk_diags *diags;     // borrowed
    sk_reader_opts opts;
    sk_reader_stats stats;
};

// Fills the base part (copies display). The implementation allocates the enclosing struct.
void sk_reader_base_init(sk_reader *r,
                         const sk_reader_ops *ops,
                         const char *display,
                         const sk_reader_opts *opts,
                         sk_diags *diags);
void sk_reader_base_fini(sk_reader *r);

#endif
