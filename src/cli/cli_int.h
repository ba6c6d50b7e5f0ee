// Private to src/cli: the parsed options shared by the subcommands, and exit statuses.
#ifndef SK_CLI_CLI_INT_H
#define SK_CLI_CLI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

// Exit statuses (DESIGN.md; documented in saker.1). SKIPPED is a bit added to CLEAN or HITS.
enum sk_exit {
    SK_EXIT_CLEAN = 0,   // finished, nothing matched
    SK_EXIT_HITS = 1,    // finished, at least one hit (at or above --fail-level)
    SK_EXIT_FAILURE = 2, // nothing useful done: usage, no rules, no input, output error, --strict
    SK_EXIT_SKIPPED = 4, // finished, but some input was skipped
};

typedef struct sk_cli_opts {
    const char **rules;
    size_t nrules;
    bool builtin;
    const char *placeholders;
    bool no_cache; // --no-cache
    const char *format;
    const char *output;
    const char *min_level;
    const char *fail_level;
    const char **statuses;
    size_t nstatuses;
    const char **tags;
    size_t ntags;
    const char **rule_ids;
    size_t nrule_ids;
    bool recovered;
    const char **exts;
    size_t nexts;
    const char **include;
    size_t ninclude;
    const char **exclude;
    size_t nexclude;
    const char *junit;
    unsigned jobs; // 0: one per CPU
    bool libevtx;  // --evtx-reader libevtx
    const char *sort;
    const char *timezone;
    const char *color;
    const char *progress;
    const char *from;
    const char *to;
    const char **channels;
    size_t nchannels;
    const char **event_ids;
    size_t nevent_ids;
    bool json;
    bool stats;
    bool strict;
    bool quiet;
    bool help;
} sk_cli_opts;

// Parses the options of subcommand cmd into o (argv[first..] after the subcommand word); the
// operands are returned in *operands (free with free()). Returns 0 or an exit status (2).
int sk_cli_parse(int argc,
                 char **argv,
                 int first,
                 unsigned cmd,
                 const char *cmd_name,
                 sk_cli_opts *o,
                 const char ***operands,
                 size_t *noperands);
void sk_cli_opts_fini(sk_cli_opts *o);
// Prints "Usage: ..." and the option list for cmd.
void sk_cli_usage(unsigned cmd, const char *cmd_name, const char *synopsis, const char *about);

// Parses --from/--to values; a date alone with end_of_day is the start of the next day.
bool sk_cli_parse_time(const char *v, bool end_of_day, uint64_t *out);

// --color WHEN for output on fd: always, never, or auto (a terminal, NO_COLOR unset or empty,
// TERM not "dumb").
bool sk_cli_want_color(const char *when, int fd);
struct sk_event_filter;
// Fills the event filter from --from/--to/--channel/--event-id; false (message printed, as a
// usage error of command cmd) when --from is not before --to.
bool sk_cli_scan_filter(const char *cmd, const sk_cli_opts *o, struct sk_event_filter *f);

struct sk_scan;
struct sk_report;
// A scan set up from the options shared by dump and hunt (reader, walk, filter, jobs); hooks and
// progress are the caller's.
void sk_cli_scan_setup(struct sk_scan *scan,
                       const sk_cli_opts *o,
                       struct sk_report *rep,
                       const struct sk_event_filter *filter);

struct stat;
// Whether the output file ob (a regular file) is one of the inputs: a path names it, '-' reads
// it as standard input, or (walked) a folder given holds it under a name the walk opens (out_real
// is its real path; NULL skips that check). Returns the input that matched as a note for the
// message ("" for a path, " (standard input)", " (in a folder given)"), or NULL.
const char *sk_cli_output_input(const struct stat *ob,
                                const char *out_real,
                                bool walked,
                                const char *const *paths,
                                size_t npaths);

struct sk_out;
// Opens the output of cmd ("hunt", "dump"): -o FILE, or standard output. Refuses a FILE that is
// also one of the inputs, a path or '-' (opening it would empty it before it is read), and
// standard output when it is a regular file that is an input (it would be written into and read
// back), and makes the scan's folder walks pass over the output. 0, or SK_EXIT_FAILURE with the
// message printed.
int sk_cli_open_output(struct sk_out *out,
                       const char *cmd,
                       const char *output,
                       const char *const *paths,
                       size_t npaths,
                       struct sk_scan *scan);

// The input operands of hunt and dump: at least one, and '-' at most once. 0, or
// SK_EXIT_FAILURE with the message printed.
int sk_cli_check_inputs(const char *cmd, const char *const *paths, size_t npaths);

// Writes p[0..n) to standard output through stdio, remembering why a write failed (stdio keeps
// only its error flag): sk_cli_main then tells a closed pipe (quiet) from a full disk (exit 2).
void sk_cli_stdout(const char *p, size_t n);

int sk_cmd_dump(int argc, char **argv);
int sk_cmd_hunt(int argc, char **argv);
int sk_cmd_rules(int argc, char **argv);
int sk_cmd_test(int argc, char **argv);
int sk_cmd_completion(int argc, char **argv);

#endif
