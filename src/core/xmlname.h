// XML names as the event readers see them: the evtx readers name elements and attributes by their
// local name, and neither they nor the evtx_dump JSON mapping take namespace declarations as data.
#ifndef SK_CORE_XMLNAME_H
#define SK_CORE_XMLNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

// The local part of the name s[0..*n) (after its last ':'); *n becomes its length.
static inline const char *sk_xml_local(const char *s, size_t *n)
{
    const char *c = memrchr(s, ':', *n);
    if (!c)
        return s;
    *n -= (size_t)(c + 1 - s);
    return c + 1;
}

// Whether the attribute name s[0..n) declares a namespace ("xmlns" or "xmlns:prefix").
static inline bool sk_xml_is_nsdecl(const char *s, size_t n)
{
    return (n == 5 && memcmp(s, "xmlns", 5) == 0) || (n > 6 && memcmp(s, "xmlns:", 6) == 0);
}

#endif
