// Status codes returned by every fallible saker function.
#ifndef SK_CORE_STATUS_H
#define SK_CORE_STATUS_H

#if defined(__GNUC__) || defined(__clang__)
#define SK_NODISCARD      __attribute__((warn_unused_result))
#define SK_PRINTF(fmt, a) __attribute__((format(printf, fmt, a)))
#else
#define SK_NODISCARD
#define SK_PRINTF(fmt, a)
#endif

typedef enum sk_status {
    SK_OK = 0,
    SK_DONE,                 // a reader or iterator has nothing more
    SK_ERR_IO,               // open/read/write failed
    SK_ERR_FORMAT,           // input is not of the expected format or is damaged
    SK_ERR_RULE_SYNTAX,      // a rule file is malformed
    SK_ERR_RULE_UNSUPPORTED, // a rule uses something saker does not support
    SK_ERR_LIMIT,            // an input-driven size exceeded a cap in limits.h
    SK_ERR_USAGE,            // bad arguments from the user
} sk_status;

// A short English name for a status ("I/O error", ...). Never NULL.
const char *sk_status_str(sk_status st);

#endif
