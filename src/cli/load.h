// Rule loading for the subcommands: -r paths (files or folders), --builtin, --placeholders, the
// load summary line, --strict, and hunt's rule filters.
#ifndef SK_CLI_LOAD_H
#define SK_CLI_LOAD_H

#include "cli_int.h"
#include "report.h"
#include "rules/ruleset.h"

// Loads the rules the options name (the built-in pack when there is no -r, or with --builtin).
// Returns NULL (after printing why) when loading could not even start (bad placeholder file).
// Skipped rules are reported through rep as they are met.
sk_ruleset *sk_cli_load_rules(const sk_cli_opts *o, sk_report *rep, bool *io_error);
// "loaded N/M rules; K skipped: reason ×n, ..." to stderr (unless quiet).
void sk_cli_load_summary(const sk_ruleset *rs, sk_report *rep);
// Applies --min-level/--tag/--rule-id/--status; returns the number of enabled rules.
size_t sk_cli_filter_rules(sk_ruleset *rs, const sk_cli_opts *o);

#endif
