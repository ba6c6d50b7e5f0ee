// Reader dispatch: the vtable calls shared by every input format.
#include "reader.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "reader_int.h"

void sk_reader_base_init(sk_reader *r,
                         const sk_reader_ops *ops,
                         const char *display,
                         const sk_reader_opts *opts,
                         sk_diags *diags)
{
    r->ops = ops;
    r->display = sk_xstrdup(display ? display : "-");
    r->diags = diags;
    if (opts)
        r->opts = *opts;
    else
        memset(&r->opts, 0, sizeof(r->opts));
    memset(&r->stats, 0, sizeof(r->stats));
}

void sk_reader_base_fini(sk_reader *r)
{
    free(r->display);
    r->display = NULL;
}

sk_status sk_reader_next(sk_reader *r, const sk_event **ev)
{
    sk_status st = r->ops->next(r, ev);
    if (st == SK_OK)
        r->stats.events++;
    return st;
}

const sk_reader_stats *sk_reader_stats_get(const sk_reader *r)
{
    return &r->stats;
}

void sk_reader_close(sk_reader *r)
{
    if (r)
        r->ops->close(r);
}
