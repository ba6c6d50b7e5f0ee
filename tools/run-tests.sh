#!/usr/bin/env bash
# Second command of the README, and what CI runs (.ci/run): installs the packages, builds from
# scratch, runs every test suite, then builds again with ASan+UBSan and runs the unit and
# end-to-end, robustness and fuzz-regression suites under the sanitizers, the threads under
# ThreadSanitizer, and the robustness jobs of tools/ci-extra.sh. Fails when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)
# The compiled-rule cache of every saker run below (meson's test setup sets its own): not $HOME.
SAKER_CACHE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/saker-test-cache.XXXXXX")
export SAKER_CACHE_DIR
trap 'rm -rf "$SAKER_CACHE_DIR"' EXIT

total_pass=0 total_fail=0 total_skip=0
count() { # reads meson's testlog.json: adds this run's pass/fail/skip counts to the totals
  local log=$1/meson-logs/testlog.json
  [ -f "$log" ] || return 0
  read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f)); total_skip=$((total_skip + s))
}

status=0
echo "== build (gcc, debugoptimized, werror)"
rm -rf build-test
meson setup build-test -Dwerror=true >/dev/null
ninja -C build-test -j "$jobs"
echo "== tests"
meson test -C build-test --print-errorlogs --num-processes "$jobs" || status=1
count build-test

echo "== build (gcc, ASan + UBSan)"
rm -rf build-asan
meson setup build-asan -Db_sanitize=address,undefined -Dwerror=true >/dev/null
ninja -C build-asan -j "$jobs"
echo "== tests under ASan + UBSan (unit, e2e, robust, fuzz-regress)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C build-asan --print-errorlogs --num-processes "$jobs" --suite unit --suite e2e --suite robust --suite fuzz-regress || status=1
count build-asan

echo "== threads under ThreadSanitizer (-j 1/2/7 give identical output, no data races)"
rm -rf build-tsan
meson setup build-tsan -Db_sanitize=thread -Dtests=false >/dev/null
ninja -C build-tsan -j "$jobs" saker
if JOBS_INPUTS="samples/sysmon_t1218.ndjson samples/benign.ndjson ../shared/corpus/ndjson/otrf" \
   TSAN_OPTIONS="halt_on_error=1" bash tests/e2e/jobs_equal.sh "$PWD/build-tsan/saker" "$PWD" ../shared/corpus; then
  total_pass=$((total_pass + 1))
else
  total_fail=$((total_fail + 1)); status=1
fi

echo "== robustness jobs: valgrind, gcc -fanalyzer, fuzz smoke, scan-build (tools/ci-extra.sh)"
if bash tools/ci-extra.sh; then
  total_pass=$((total_pass + 1))
else
  total_fail=$((total_fail + 1)); status=1
fi

echo
echo "${total_pass} passed, ${total_fail} failed, ${total_skip} skipped"
exit $status
