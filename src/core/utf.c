// UTF-16LE <-> UTF-8 with replacement characters for anything invalid.
#include "utf.h"

#include <string.h>

size_t sk_utf8_encode(char b[4], uint32_t cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

sk_status sk_utf8_put(sk_buf *out, uint32_t cp)
{
    char b[4];
    size_t n = sk_utf8_encode(b, cp);
    return sk_buf_add(out, b, n);
}

sk_status sk_utf16le_to_utf8(sk_buf *out, const uint8_t *p, size_t nunits)
{
    for (size_t i = 0; i < nunits; i++) {
        uint32_t u = (uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8);
        uint32_t cp = u;
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (i + 1 < nunits) {
                uint32_t l = (uint32_t)p[2 * i + 2] | ((uint32_t)p[2 * i + 3] << 8);
                if (l >= 0xDC00 && l <= 0xDFFF) {
                    cp = 0x10000 + ((u - 0xD800) << 10) + (l - 0xDC00);
                    i++;
                } else {
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            cp = 0xFFFD;
        }
        sk_status st = sk_utf8_put(out, cp);
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}

size_t sk_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (n < len) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

bool sk_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        // ASCII runs eight bytes at a time (most event text is ASCII).
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = sk_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && !(k == 3 && (unsigned char)s[i] == 0xEF))
            return false;
        i += k;
    }
    return true;
}

sk_status sk_utf8_to_utf16le(sk_buf *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += sk_utf8_decode(s + i, n - i, &cp);
        unsigned char b[4];
        size_t k;
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            uint32_t hi = 0xD800 + (v >> 10), lo = 0xDC00 + (v & 0x3FF);
            b[0] = (unsigned char)hi;
            b[1] = (unsigned char)(hi >> 8);
            b[2] = (unsigned char)lo;
            b[3] = (unsigned char)(lo >> 8);
            k = 4;
        } else {
            b[0] = (unsigned char)cp;
            b[1] = (unsigned char)(cp >> 8);
            k = 2;
        }
        sk_status st = sk_buf_add(out, b, k);
        if (st != SK_OK)
            return st;
    }
    return SK_OK;
}
