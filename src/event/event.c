// The event model: an arena-backed ordered list of fields.
#include "event.h"

#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "core/timefmt.h"

void sk_event_init(sk_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    sk_arena_init(&ev->arena, 16384);
}

void sk_event_fini(sk_event *ev)
{
    sk_arena_fini(&ev->arena);
    free(ev->fields);
    ev->fields = NULL;
    ev->nfields = ev->cap = 0;
}

void sk_event_reset(sk_event *ev)
{
    sk_arena_reset(&ev->arena);
    ev->nfields = 0;
    ev->has_event_id = ev->has_record_id = ev->has_time = false;
    ev->event_id = 0;
    ev->record_id = 0;
    ev->time = 0;
    ev->channel = ev->computer = ev->provider = NULL;
    ev->time_text = NULL;
    ev->line = 0;
    ev->recovered = false;
}

char *sk_event_strdup(sk_event *ev, const char *p, size_t len)
{
    return sk_arena_strndup(&ev->arena, p, len);
}

sk_status sk_event_add(sk_event *ev,
                       const char *name,
                       size_t name_len,
                       const char *value,
                       size_t value_len,
                       uint32_t flags)
{
    if (ev->nfields >= SK_MAX_FIELDS)
        return SK_ERR_LIMIT;
    if (value_len > SK_MAX_VALUE_BYTES)
        return SK_ERR_LIMIT;
    sk_xgrow((void **)&ev->fields, &ev->cap, ev->nfields + 1, sizeof(sk_field));
    sk_field *f = &ev->fields[ev->nfields++];
    f->name = sk_arena_strndup(&ev->arena, name, name_len);
    f->name_len = (uint32_t)name_len;
    f->value = sk_arena_strndup(&ev->arena, value ? value : "", value ? value_len : 0);
    f->value_len = value ? (uint32_t)value_len : 0;
    f->flags = flags;
    return SK_OK;
}

sk_status sk_event_add_data(
        sk_event *ev, const char *name, size_t name_len, const char *value, size_t value_len)
{
    for (size_t i = 0; i < ev->nfields; i++) {
        sk_field *f = &ev->fields[i];
        if ((f->flags & SK_FIELD_SYSTEM) && f->name_len == name_len &&
            memcmp(f->name, name, name_len) == 0) {
            char *nn = sk_arena_alloc(&ev->arena, name_len + 8);
            memcpy(nn, "System.", 7);
            memcpy(nn + 7, name, name_len);
            nn[name_len + 7] = '\0';
            f->name = nn;
            f->name_len = (uint32_t)(name_len + 7);
        }
    }
    return sk_event_add(ev, name, name_len, value, value_len, 0);
}

long sk_event_find(const sk_event *ev, const char *name, size_t name_len, size_t from)
{
    for (size_t i = from; i < ev->nfields; i++) {
        const sk_field *f = &ev->fields[i];
        if (f->name_len == name_len && memcmp(f->name, name, name_len) == 0)
            return (long)i;
    }
    return -1;
}

const char *sk_event_get(const sk_event *ev, const char *name)
{
    long i = sk_event_find(ev, name, strlen(name), 0);
    return i < 0 ? NULL : ev->fields[i].value;
}

// The system fields sk_event_finish reads, each as "System.X" when present (a collision moved
// the system value there), else "X".
enum {
    SF_EVENT_ID,
    SF_RECORD_ID,
    SF_TIME,
    SF_CHANNEL,
    SF_COMPUTER,
    SF_PROVIDER,
    SF_N
};
static const struct {
    const char *name;
    size_t len;
} sys_names[SF_N] = {
    { "EventID", 7 }, { "EventRecordID", 13 }, { "TimeCreated", 11 },
    { "Channel", 7 }, { "Computer", 8 },       { "Provider_Name", 13 },
};

// The first letters of the names above and of "System.": C E P S T, as bits of c - 'C'.
#define SYS_FIRST (1u << 0 | 1u << 2 | 1u << 13 | 1u << 16 | 1u << 17)

_Static_assert(SK_EVENT_NSYS == 2 * SF_N, "a bare and a System. slot per name");

int sk_event_sys_slot(const char *name, size_t len)
{
    int base = 0;
    if (len > 7 && memcmp(name, "System.", 7) == 0) {
        name += 7;
        len -= 7;
        base = SF_N;
    }
    for (int k = 0; k < SF_N; k++)
        if (sys_names[k].len == len && memcmp(sys_names[k].name, name, len) == 0)
            return base + k;
    return -1;
}

// The system fields in one pass over the event (it took twelve: one per name and spelling). Most
// names of an event are none of them, and most of those fail on their length or first letter.
static void sysfields(const sk_event *ev, const sk_field *out[SF_N])
{
    const sk_field *bare[SF_N] = { 0 }, *prefixed[SF_N] = { 0 };
    for (size_t i = 0; i < ev->nfields; i++) {
        const sk_field *f = &ev->fields[i];
        const char *name = f->name;
        size_t len = f->name_len;
        unsigned c = (unsigned)(unsigned char)name[0] - 'C';
        if (len < 7 || len > 7 + 13 || c > 'T' - 'C' || !(SYS_FIRST >> c & 1))
            continue;
        const sk_field **slot = bare;
        if (len > 7 && memcmp(name, "System.", 7) == 0) {
            name += 7;
            len -= 7;
            slot = prefixed;
        }
        if (len < 7 || len > 13)
            continue;
        for (size_t k = 0; k < SF_N; k++)
            if (!slot[k] && sys_names[k].len == len && memcmp(sys_names[k].name, name, len) == 0)
                slot[k] = f;
    }
    for (size_t k = 0; k < SF_N; k++)
        out[k] = prefixed[k] ? prefixed[k] : bare[k];
}

static bool parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

void sk_event_set_time_text(sk_event *ev, const char *text, uint64_t ticks)
{
    ev->time_text = text;
    ev->time_ticks = ticks < SK_FILETIME_TEXT_END ? ticks : SK_FILETIME_TEXT_END - 1;
}

static void finish(sk_event *ev, const sk_field *const sf[SF_N])
{
    const sk_field *f;
    uint64_t v;
    if ((f = sf[SF_EVENT_ID]) && parse_u64(f->value, f->value_len, &v) && v <= UINT32_MAX) {
        ev->has_event_id = true;
        ev->event_id = (uint32_t)v;
    }
    if ((f = sf[SF_RECORD_ID]) && parse_u64(f->value, f->value_len, &v)) {
        ev->has_record_id = true;
        ev->record_id = v;
    }
    if ((f = sf[SF_TIME])) {
        // The JSON readers write TimeCreated from a time they parsed already.
        if (f->value == ev->time_text && f->value_len == 28) {
            ev->has_time = true;
            ev->time = ev->time_ticks;
        } else if (sk_time_parse(f->value, f->value_len, &v)) {
            ev->has_time = true;
            ev->time = v;
        }
    }
    if ((f = sf[SF_CHANNEL]))
        ev->channel = f->value;
    if ((f = sf[SF_COMPUTER]))
        ev->computer = f->value;
    if ((f = sf[SF_PROVIDER]))
        ev->provider = f->value;
}

void sk_event_finish(sk_event *ev)
{
    const sk_field *sf[SF_N];
    sysfields(ev, sf);
    finish(ev, sf);
}

void sk_event_finish_at(sk_event *ev, const int32_t at[SK_EVENT_NSYS])
{
    const sk_field *sf[SF_N];
    for (size_t k = 0; k < SF_N; k++) {
        int32_t i = at[SF_N + k] >= 0 ? at[SF_N + k] : at[k]; // "System.X" first, as sysfields
        sf[k] = i >= 0 ? &ev->fields[i] : NULL;
    }
    finish(ev, sf);
}
