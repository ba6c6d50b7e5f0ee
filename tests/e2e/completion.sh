#!/usr/bin/env bash
# Shell completion scripts: both parse in their shell, and bash completes options and values from
# the same table the parser uses.
set -euo pipefail
saker=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$saker" completion bash > "$tmp/saker.bash"
bash -n "$tmp/saker.bash"
got=$(bash -c 'source "$1"; COMP_WORDS=(saker hunt --so); COMP_CWORD=2; _saker; echo "${COMPREPLY[*]}"' _ "$tmp/saker.bash")
[ "$got" = "--sort" ] || { echo "bash: '--so' completed to '$got'"; exit 1; }
got=$(bash -c 'source "$1"; COMP_WORDS=(saker hunt --format ""); COMP_CWORD=3; _saker; echo "${COMPREPLY[*]}"' _ "$tmp/saker.bash")
[ "$got" = "table jsonl json csv" ] || { echo "bash: --format values: '$got'"; exit 1; }
got=$(bash -c 'source "$1"; COMP_WORDS=(saker rules ""); COMP_CWORD=2; _saker; echo "${COMPREPLY[*]}"' _ "$tmp/saker.bash")
[ "$got" = "check list explain" ] || { echo "bash: rules actions: '$got'"; exit 1; }
"$saker" completion zsh > "$tmp/_saker"
if command -v zsh >/dev/null; then zsh -n "$tmp/_saker"; else echo "zsh not installed: zsh script not parsed"; fi
if "$saker" completion fish 2>/dev/null; then echo "fish should be refused"; exit 1; fi
# --help is help, as for every other subcommand
"$saker" completion --help | grep -q '^Usage: saker completion bash|zsh$' ||
    { echo "completion --help: no usage"; exit 1; }
echo ok
