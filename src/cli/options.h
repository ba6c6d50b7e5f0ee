// One option table drives parsing AND --help (curl's aliases[] idea): an option exists for a
// subcommand only if the table says so, and its help text is printed from the same entry.
#ifndef SK_CLI_OPTIONS_H
#define SK_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

// Subcommands, as bits so one table entry can serve several.
enum {
    SK_CMD_HUNT = 1u << 0,
    SK_CMD_DUMP = 1u << 1,
    SK_CMD_RULES = 1u << 2,
    SK_CMD_TEST = 1u << 3,
};

typedef enum sk_opt_id {
    OPT_HELP = 1,
    OPT_RULES,
    OPT_BUILTIN,
    OPT_FORMAT,
    OPT_OUTPUT,
    OPT_STATS,
    OPT_STRICT,
    OPT_QUIET,
    OPT_RECOVERED,
    OPT_EXT,
    OPT_INCLUDE,
    OPT_EXCLUDE,
    OPT_JSON,
    OPT_MIN_LEVEL,
    OPT_TAG,
    OPT_RULE_ID,
    OPT_STATUS,
    OPT_FAIL_LEVEL,
    OPT_PLACEHOLDERS,
    OPT_JUNIT,
    OPT_SORT,
    OPT_TIMEZONE,
    OPT_COLOR,
    OPT_PROGRESS,
    OPT_FROM,
    OPT_TO,
    OPT_CHANNEL,
    OPT_EVENT_ID,
    OPT_JOBS,
    OPT_EVTX_READER,
    OPT_NO_CACHE,
} sk_opt_id;

typedef struct sk_opt_def {
    sk_opt_id id;
    char short_name;     // 0 when none
    const char *long_name;
    const char *arg;     // argument name for --help, NULL for a flag
    unsigned cmds;       // SK_CMD_* bits
    bool repeatable;
    const char *help;
} sk_opt_def;

extern const sk_opt_def sk_opt_table[];
extern const size_t sk_opt_count;

// Called for each option found; returns NULL when accepted, else a message ("bad value ...").
typedef const char *(*sk_opt_apply_fn)(void *ctx, sk_opt_id id, const char *value);

// Parses argv[first..argc) for subcommand cmd (one SK_CMD_* bit) named cmd_name. Options and
// operands may be mixed; "--" ends options. Operands are collected (borrowed) into *operands.
// Returns 0 on success, or 2 after printing one line naming the problem and a hint to stderr.
int sk_opt_parse(int argc,
                 char **argv,
                 int first,
                 unsigned cmd,
                 const char *cmd_name,
                 sk_opt_apply_fn apply,
                 void *ctx,
                 const char ***operands,
                 size_t *noperands);

// Prints the options of cmd as --help lines to fp.
void sk_opt_print_help(void *fp, unsigned cmd);

#endif
