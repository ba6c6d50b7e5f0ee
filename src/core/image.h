// Images: a graph of C objects (structs, arrays, strings linked by pointers) copied into one
// position-independent block, for the compiled-rule cache (rules/rule_cache.c).
//
// Writing: each object is copied in as raw bytes (sk_img_put), padding included: objects written
// to an image must be made over zeros (calloc, memset), or stray bytes of the process reach the
// file. Then every pointer field of the copy is set with sk_img_link to the offset of the object
// it points to; the writer lists those fields.
// Objects that several others point to are written with sk_img_put_shared, once per address
// (compiled predicates stay one object), and sk_img_ref finds such an object that must have been
// written already (for pointers that are compared, not just followed). Texts are kept once by
// content. A pointer field that the writer forgets keeps its old value: writers must
// name every pointer field of every struct they copy (the cache tests compare cold and cached runs
// over the whole corpus, under ASan too).
//
// Reading: sk_img_relocate turns every listed field back into an address inside the block, after
// checking that each field and each target lies inside it.
#ifndef SK_CORE_IMAGE_H
#define SK_CORE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// A position in an image under construction: its byte offset plus one (0: NULL).
typedef uint64_t sk_img_off;

typedef struct sk_img_w {
    unsigned char *buf;
    size_t len, cap;
    uint64_t *map; // relocation map: a bit per 8-byte word of buf, set for pointer fields
    size_t nmap, capmap;
    size_t nrelocs;
    // Objects written so far by address: open addressing, key 0 = empty.
    uintptr_t *keys;
    uint32_t *offs; // positions and sizes: an image stays under 4 GiB (sk_img_put fails it)
    uint32_t *sizes;
    size_t mapcap, mapn;
    // Texts written so far by content: the hash's high half and the position (0 = empty).
    uint64_t *texts;
    size_t textcap, textn;
    bool failed; // a writer met what it cannot copy (sk_img_fail): the image must not be used
} sk_img_w;

void sk_img_w_init(sk_img_w *w);
void sk_img_w_fini(sk_img_w *w);
// Copies p[0..n) into the image (8-byte aligned); returns its position (0 for a NULL p). n 0 still
// copies one byte, so that every non-NULL pointer has a distinct target.
sk_img_off sk_img_put(sk_img_w *w, const void *p, size_t n);
// The same, but once per address: a second put of an address written with at least n bytes
// returns the first copy (objects that several others point to).
sk_img_off sk_img_put_shared(sk_img_w *w, const void *p, size_t n);
// A NUL-terminated string (its text and the NUL). Texts are not aligned, and equal texts are
// stored once (so a text's address tells nothing).
sk_img_off sk_img_str(sk_img_w *w, const char *s);
// A text of n bytes that may hold NULs and is followed by a NUL (s[n] == 0), copied with it.
sk_img_off sk_img_text(sk_img_w *w, const char *s, size_t n);
// Bytes read with a length (no NUL needed), stored as texts are.
sk_img_off sk_img_bytes(sk_img_w *w, const void *p, size_t n);
// The position of an object written before with sk_img_put_shared (p NULL: 0); a failure
// (sk_img_fail) when there is none.
sk_img_off sk_img_ref(sk_img_w *w, const void *p);
// Makes the pointer field at byte `at` of the object at position obj point to target (0: NULL).
void sk_img_link(sk_img_w *w, sk_img_off obj, size_t at, sk_img_off target);
// The address of the copy of the object at position obj, for writing scalar fields into it; valid
// until the next put.
void *sk_img_at(sk_img_w *w, sk_img_off obj);

void sk_img_fail(sk_img_w *w);

// Links a pointer field of a struct copy, by name: SK_IMG_LINK(w, off, csel, name, target).
#define SK_IMG_LINK(w, obj, type, field, target) \
    sk_img_link((w), (obj), offsetof(type, field), (target))
// The same for element i of an array of structs at position arr.
#define SK_IMG_LINK_AT(w, arr, type, i, field, target) \
    sk_img_link((w), (arr), (size_t)(i) * sizeof(type) + offsetof(type, field), (target))

// The relocation map of an image of size bytes: one bit per 8-byte word, set for pointer fields.
size_t sk_img_map_words(size_t size);
const uint64_t *sk_img_map(sk_img_w *w); // sk_img_map_words(w->len) words
// Turns the pointer fields that map marks in block[0..size) into addresses inside block. False
// when a field or a target lies outside the block (a damaged image: do not use it).
bool sk_img_relocate(unsigned char *block, size_t size, const uint64_t *map);

// 64-bit hash of data[0..n) (not cryptographic: it notices damage, it does not resist forgery).
uint64_t sk_img_hash(const void *data, size_t n, uint64_t seed);

#endif
