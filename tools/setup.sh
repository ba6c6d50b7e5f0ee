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
echo "== saker dump samples/ (first 3 events)"
set +e
./build/saker dump samples/sysmon_t1218.evtx | head -n 3
echo "== saker dump --stats samples/"
./build/saker dump --stats samples/ > /dev/null
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "setup: saker exited with status $rc on samples/" >&2
  exit "$rc"
fi
echo "setup: OK (binary: build/saker)"
