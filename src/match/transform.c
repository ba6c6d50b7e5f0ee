// Sigma value transforms (windash, base64, base64offset, wide/utf16*) and the string list they
// fill. Each follows pySigma's modifier of the same name (sigma/modifiers.py), which is what the
// SigmaHQ rules are tested against; where saker differs, the comment at the function says so.
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/mem.h"
#include "core/utf.h"
#include "value.h"

void sk_strlist_init(sk_strlist *l)
{
    l->s = NULL;
    l->len = NULL;
    l->n = 0;
    l->cap = 0;
}

void sk_strlist_fini(sk_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->len);
    sk_strlist_init(l);
}

void sk_strlist_add(sk_strlist *l, const char *s, size_t n)
{
    if (l->n == l->cap) {
        size_t cap = l->cap;
        sk_xgrow((void **)&l->s, &cap, l->n + 1, sizeof *l->s);
        l->len = sk_xrealloc(l->len, cap * sizeof *l->len);
        l->cap = cap;
    }
    l->s[l->n] = sk_xstrndup(n ? s : "", n);
    l->len[l->n] = n;
    l->n++;
}

// Takes the buffer's bytes into the list (the buffer is left empty).
static void add_buf(sk_strlist *l, sk_buf *b)
{
    sk_strlist_add(l, sk_buf_str(b), b->n);
    sk_buf_reset(b);
}

// ---------------------------------------------------------------------------------------------
// windash
//
// pySigma replaces every match of the Python regex \B[-/]\b in the (unescaped) string parts by
// each of "-", "/", U+2013, U+2014, U+2015 and expands the product, the first position varying
// slowest. \B before a dash means the previous character is not a word character (or there is
// none); \b after it means the next character is one. Applying the test to the escaped Sigma text
// gives the same positions, because '*', '?' and '\' are all non-word characters.

static const char *const windash_alt[SK_VM_WINDASH_CHOICES] = {
    "-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95",
};

// Python's \w for str patterns: isalnum() or '_'. Exact for ASCII and Latin-1; above U+00FF an
// approximation (letters and digits dominate; the common punctuation, symbol, space and
// combining-mark blocks are excluded).
static bool is_word_cp(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
               cp == '_';
    if (cp < 0x100)
        return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
               (cp >= 0xBC && cp <= 0xBE) || (cp >= 0xC0 && cp != 0xD7 && cp != 0xF7);
    if (cp >= 0x300 && cp <= 0x36F) // combining diacritical marks
        return false;
    if (cp >= 0x2000 && cp <= 0x2BFF) // punctuation, symbols, arrows, box drawing, ...
        return false;
    if ((cp >= 0x3000 && cp <= 0x3004) || (cp >= 0x3008 && cp <= 0x3020) || cp == 0x3030)
        return false;
    if ((cp >= 0xFE10 && cp <= 0xFE6F) || (cp >= 0xFF01 && cp <= 0xFF0F) ||
        (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF65) || (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xFFF0)
        return false;
    return true;
}

// The code point that ends right before s + i (s[0..i) is the text before it).
static uint32_t prev_cp(const char *s, size_t i)
{
    if (((unsigned char)s[i - 1] & 0xC0) != 0x80)
        return (unsigned char)s[i - 1] < 0x80 ? (unsigned char)s[i - 1] : 0xFFFD;
    for (size_t k = 2; k <= 4 && k <= i; k++) {
        unsigned char c = (unsigned char)s[i - k];
        if ((c & 0xC0) == 0x80)
            continue;
        uint32_t cp;
        if (sk_utf8_decode(s + i - k, k, &cp) == k)
            return cp;
        break;
    }
    uint32_t cp;
    (void)sk_utf8_decode(s + i - 1, 1, &cp);
    return cp;
}

sk_status sk_vm_windash(const char *s, size_t n, sk_strlist *out)
{
    size_t pos[SK_VM_WINDASH_MAX_DASHES];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '-' && s[i] != '/')
            continue;
        if (i > 0 && is_word_cp(prev_cp(s, i)))
            continue;
        uint32_t next;
        if (i + 1 >= n)
            continue;
        (void)sk_utf8_decode(s + i + 1, n - i - 1, &next);
        if (!is_word_cp(next))
            continue;
        if (k == SK_VM_WINDASH_MAX_DASHES)
            return SK_ERR_LIMIT;
        pos[k++] = i;
    }

    // Every variant is at most n + 2k bytes (an alternative takes up to 3 bytes for the dash).
    size_t nvar = 1;
    for (size_t j = 0; j < k; j++)
        nvar *= SK_VM_WINDASH_CHOICES;
    if (nvar * (n + 2 * k) > SK_MAX_ITEM_VALUE_BYTES)
        return SK_ERR_LIMIT;

    // Odometer over the k positions: digit 0 is the first position and varies slowest.
    unsigned digit[SK_VM_WINDASH_MAX_DASHES] = { 0 };
    sk_buf b;
    sk_buf_init(&b, n * 3 + 1);
    sk_status st = SK_OK;
    for (;;) {
        size_t from = 0;
        for (size_t j = 0; j < k; j++) {
            st = sk_buf_add(&b, s + from, pos[j] - from);
            if (st == SK_OK)
                st = sk_buf_adds(&b, windash_alt[digit[j]]);
            if (st != SK_OK)
                goto out;
            from = pos[j] + 1;
        }
        st = sk_buf_add(&b, s + from, n - from);
        if (st != SK_OK)
            goto out;
        add_buf(out, &b);
        size_t j = k;
        while (j > 0 && ++digit[j - 1] == SK_VM_WINDASH_CHOICES)
            digit[--j] = 0;
        if (j == 0)
            break;
    }
out:
    sk_buf_fini(&b);
    return st;
}

// ---------------------------------------------------------------------------------------------
// base64 and base64offset

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Appends the padded standard base64 encoding of pre[0..npre) followed by s[0..n) to b (pre is
// the few spaces base64offset shifts the value by).
static sk_status
b64_encode(sk_buf *b, const unsigned char *pre, size_t npre, const char *s, size_t n)
{
    size_t total = npre + n;
    size_t i = 0;
    while (i < total) {
        unsigned char q[3] = { 0, 0, 0 };
        size_t got = 0;
        for (; got < 3 && i < total; got++, i++)
            q[got] = i < npre ? pre[i] : (unsigned char)s[i - npre];
        char o[4] = {
            b64_alphabet[q[0] >> 2],
            b64_alphabet[((q[0] & 3) << 4) | (q[1] >> 4)],
            got > 1 ? b64_alphabet[((q[1] & 15) << 2) | (q[2] >> 6)] : '=',
            got > 2 ? b64_alphabet[q[2] & 63] : '=',
        };
        sk_status st = sk_buf_add(b, o, 4);
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}

static size_t b64_cap(size_t n)
{
    return (n + 2 + 2) / 3 * 4 + 8;
}

// pySigma's SigmaBase64Modifier is b64encode(value): the standard alphabet *with* '=' padding.
// So is this (the padding is kept; with |contains the value must then end the encoded block).
sk_status sk_vm_base64(const char *s, size_t n, sk_strlist *out)
{
    sk_buf b;
    sk_buf_init(&b, b64_cap(n));
    sk_status st = b64_encode(&b, NULL, 0, s, n);
    if (st == SK_OK)
        add_buf(out, &b);
    sk_buf_fini(&b);
    return st;
}

// pySigma's SigmaBase64OffsetModifier, for i in 0, 1, 2:
//   b64encode(i * b" " + value)[start[i] : end[(len(value) + i) % 3]]
// with start = (0, 2, 3) and end = (None, -3, -2): the characters that depend only on the value
// whatever precedes it. Python slices clamp, so a short value may give empty strings; they are
// kept, as pySigma keeps them.
sk_status sk_vm_base64offset(const char *s, size_t n, sk_strlist *out)
{
    static const unsigned char spaces[2] = { ' ', ' ' };
    static const size_t start[3] = { 0, 2, 3 };
    static const size_t cut[3] = { 0, 3, 2 };
    sk_buf b;
    sk_buf_init(&b, b64_cap(n + 2));
    sk_status st = SK_OK;
    for (size_t i = 0; i < 3; i++) {
        sk_buf_reset(&b);
        st = b64_encode(&b, spaces, i, s, n);
        if (st != SK_OK)
            goto out;
        size_t len = b.n;
        size_t end = len - cut[(n + i) % 3];
        size_t from = start[i] < end ? start[i] : end;
        sk_strlist_add(out, b.p + from, end - from);
    }
out:
    sk_buf_fini(&b);
    return st;
}

// ---------------------------------------------------------------------------------------------
// wide / utf16le / utf16be / utf16
//
// pySigma encodes each plain string part with Python's codecs and keeps the wildcards; for the
// BOM form it prepends U+FEFF, which its base64 modifiers turn into the bytes FF FE. saker writes
// the UTF-16 bytes directly (FF FE first for SK_UTF16BOM). pySigma refuses values its
// encode/decode round trip cannot carry (most non-ASCII text); saker encodes any text, invalid
// UTF-8 bytes becoming U+FFFD.

// Appends one UTF-16 code unit; with glob, bytes that are special in a Sigma pattern ('*', '?',
// '\') are escaped with a backslash so that they stay literal.
static sk_status put_unit(sk_buf *b, uint32_t u, sk_utf16_kind k, bool glob)
{
    unsigned char lo = (unsigned char)(u & 0xFF), hi = (unsigned char)(u >> 8);
    unsigned char two[2];
    if (k == SK_UTF16BE) {
        two[0] = hi;
        two[1] = lo;
    } else {
        two[0] = lo;
        two[1] = hi;
    }
    for (int i = 0; i < 2; i++) {
        if (glob && (two[i] == '*' || two[i] == '?' || two[i] == '\\')) {
            sk_status st = sk_buf_addc(b, '\\');
            if (st != SK_OK)
                return st;
        }
        sk_status st = sk_buf_addc(b, (char)two[i]);
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}

static sk_status put_cp(sk_buf *b, uint32_t cp, sk_utf16_kind k, bool glob)
{
    if (cp < 0x10000)
        return put_unit(b, cp, k, glob);
    cp -= 0x10000;
    sk_status st = put_unit(b, 0xD800 | (cp >> 10), k, glob);
    if (st != SK_OK)
        return st;
    return put_unit(b, 0xDC00 | (cp & 0x3FF), k, glob);
}

static sk_status utf16(const char *s, size_t n, sk_utf16_kind k, bool glob, sk_strlist *out)
{
    sk_buf b;
    // Each input byte yields at most two code-unit bytes, each at most doubled by an escape.
    sk_buf_init(&b, 4 * n + 8);
    sk_status st = SK_OK;
    if (k == SK_UTF16BOM) {
        st = sk_buf_add(&b, "\xFF\xFE", 2);
        if (st != SK_OK)
            goto out;
    }
    size_t i = 0;
    while (i < n) {
        if (glob && (s[i] == '*' || s[i] == '?')) {
            st = sk_buf_addc(&b, s[i]); // a wildcard stays one pattern character
            i++;
        } else if (glob && s[i] == '\\') {
            // Sigma escapes: \* \? \\ stand for the character; a lone backslash is itself.
            uint32_t cp = '\\';
            size_t used = 1;
            if (i + 1 < n && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
                cp = (unsigned char)s[i + 1];
                used = 2;
            }
            st = put_cp(&b, cp, k, true);
            i += used;
        } else {
            uint32_t cp;
            size_t used = sk_utf8_decode(s + i, n - i, &cp);
            st = put_cp(&b, cp, k, glob);
            i += used;
        }
        if (st != SK_OK)
            goto out;
    }
    add_buf(out, &b);
out:
    sk_buf_fini(&b);
    return st;
}

sk_status sk_vm_utf16(const char *s, size_t n, sk_utf16_kind k, sk_strlist *out)
{
    return utf16(s, n, k, false, out);
}

sk_status sk_vm_utf16_glob(const char *s, size_t n, sk_utf16_kind k, sk_strlist *out)
{
    return utf16(s, n, k, true, out);
}

sk_status sk_vm_unescape(const char *s, size_t n, sk_buf *out, bool *has_wildcards)
{
    size_t keep = out->n;
    bool wild = false;
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        size_t used = 1;
        if (c == '*' || c == '?') {
            wild = true;
        } else if (c == '\\' && i + 1 < n &&
                   (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            c = s[i + 1];
            used = 2;
        }
        sk_status st = sk_buf_addc(out, c);
        if (st != SK_OK) {
            out->n = keep; // nothing appended on failure
            if (out->p)
                out->p[keep] = '\0';
            return st;
        }
        i += used;
    }
    if (has_wildcards)
        *has_wildcards = wild;
    return SK_OK;
}
