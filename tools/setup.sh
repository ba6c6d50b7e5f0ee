#!/usr/bin/env bash
# First command of the README: installs the packages, builds saker into build/, and runs it on
# samples/ with the built-in rules. Exit status 1 from saker means "hits found": that is the
# expected outcome on samples/, so it is reported as success here.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=release
fi
ninja -C build
echo "== saker hunt samples/ (the built-in rules over the bundled samples)"
set +e
./build/saker hunt -f table samples/
rc=$?
set -e
# 1 means "hits found", which is what the samples are for; 0 would mean the pack found nothing.
if [ "$rc" -ne 1 ]; then
  echo "setup: expected hits on samples/ (exit status 1), got exit status $rc" >&2
  exit 1
fi
echo "setup: OK: saker found the attacks in samples/ (binary: build/saker; try ./build/saker --help)"
