// Every size that comes from input is capped here (STYLE 3.4.6). Fuzzing builds use lower caps.
#ifndef SK_CORE_LIMITS_H
#define SK_CORE_LIMITS_H

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define SK_MAX_LINE_BYTES     (1u << 20)
#define SK_MAX_XML_BYTES      (1u << 20)
#define SK_MAX_FIELDS         1024u
#define SK_MAX_DEPTH          64u
#define SK_MAX_VALUES_PER_ITEM 4096u
#else
// One NDJSON line (a Winlogbeat document is a few KiB; 16 MiB is far beyond real data).
#define SK_MAX_LINE_BYTES     (16u << 20)
// One evtx record rendered as XML (records are < 64 KiB in a chunk; rendered XML stays well below this).
#define SK_MAX_XML_BYTES      (8u << 20)
// Fields of one event (Sysmon events have < 40; Security events < 100).
#define SK_MAX_FIELDS         4096u
// Nesting depth of JSON objects/arrays and XML elements.
#define SK_MAX_DEPTH          100u
// Values in one Sigma detection item (SigmaHQ's largest lists hold a few thousand).
#define SK_MAX_VALUES_PER_ITEM 100000u
#endif

// Bytes of one field value kept in an event (longer values are truncated with a warning).
#define SK_MAX_VALUE_BYTES (4u << 20)
// Bytes of the values of one Sigma detection item after its transforms (windash, expand, base64*,
// utf16*): a 20 KB value with six dashes would otherwise become 15,625 copies, 300 MB.
#define SK_MAX_ITEM_VALUE_BYTES (4u << 20)
// Bytes of a whole rule file.
#define SK_MAX_RULE_FILE_BYTES (8u << 20)
// Directory recursion depth in folder walks.
#define SK_MAX_WALK_DEPTH 256u

#endif
