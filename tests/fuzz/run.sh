#!/usr/bin/env bash
# Runs one libFuzzer harness of a -Dfuzzing=true build for a while, from the seeds that
# make_seeds.sh assembles (once) plus what earlier runs found, with the harness's dictionary and
# max_len (fuzz_<target>.options, OSS-Fuzz format) and the LSan suppressions for libevtx.
#   tests/fuzz/run.sh BUILD-DIR TARGET SECONDS [JOBS] [more libFuzzer flags...]
# Crashers land in BUILD-DIR/fuzz-out/TARGET/; the growing corpus in BUILD-DIR/fuzz-work/TARGET/.
# The final libFuzzer statistics line (execs, cov, ...) is printed; exit status is libFuzzer's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: run.sh BUILD-DIR TARGET SECONDS [JOBS] [flags...]}" && pwd)
target=${2:?target}
secs=${3:?seconds}
jobs=${4:-1}
shift 4 2>/dev/null || shift $#
exe=$build/tests/fuzz/$target
[ -x "$exe" ] || { echo "run.sh: $exe not built (meson setup BUILD -Dfuzzing=true with CC=clang)" >&2; exit 2; }
# Seeds are assembled once per build folder (under a lock: several targets may start at once).
(
    flock 9
    if [ ! -d "$build/fuzz-seeds" ]; then
        rm -rf "$build/fuzz-seeds.tmp"
        "$here/make_seeds.sh" "$build/fuzz-seeds.tmp" >/dev/null
        mv "$build/fuzz-seeds.tmp" "$build/fuzz-seeds"
    fi
) 9>"$build/.fuzz-seeds.lock"
work=$build/fuzz-work/$target
out=$build/fuzz-out/$target
mkdir -p "$work" "$out"
flags=()
if [ -f "$here/$target.options" ]; then
    while IFS=' =' read -r k v; do
        case $k in
        '' | '#'* | '['*) ;;
        dict) flags+=("-dict=$here/$v") ;;
        *) flags+=("-$k=$v") ;;
        esac
    done <"$here/$target.options"
fi
seeds=()
[ -d "$build/fuzz-seeds/$target" ] && seeds+=("$build/fuzz-seeds/$target")
[ -d "$here/corpus/$target" ] && seeds+=("$here/corpus/$target")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=suppressions=$here/lsan.supp
log=$out/fuzz.log
rc=0
if [ "$jobs" -gt 1 ]; then
    "$exe" "${flags[@]}" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/" -jobs="$jobs" -workers="$jobs" \
        "$@" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    cat "$out"/../../fuzz-*.log 2>/dev/null >>"$log" || true
else
    # CPU time too: on a shared machine the wall-clock time says little about the work done.
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -f 'cpu: %U s user, %S s system' -o "$out/cpu.txt")
    rm -f "$out/cpu.txt"
    "${timer[@]}" "$exe" "${flags[@]}" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/" \
        "$@" "$work" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    cat "$out/cpu.txt" 2>/dev/null || true
fi
grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true
grep -E '^stat::number_of_executed_units' "$log" | tail -1 || true
if [ "$rc" -ne 0 ]; then
    grep -E 'ERROR|SUMMARY|Test unit written|deadly signal' "$log" | head -5 || true
fi
exit "$rc"
