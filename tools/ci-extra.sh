#!/usr/bin/env bash
# Extra CI jobs for robustness (STYLE 3.8, 3.9), run after tools/run-tests.sh, which leaves the
# gcc build in build-test:
#   1. valgrind   the e2e and fuzz-regress suites with saker and the replay programs under
#                 memcheck (errors and definite leaks fail; tests/robust/valgrind.supp lists
#                 third-party frames only)
#   2. analyzer   a gcc -fanalyzer build: any -Wanalyzer-* finding fails
#   3. fuzz       a smoke run of every libFuzzer harness (SAKER_FUZZ_SECS each, default 30 s;
#                 clang builds them; skipped with a message when clang is missing)
#   4. scan-build clang's static analyzer over the library and tools: any bug it reports fails
#                 (skipped when scan-build is missing)
# Each job can be skipped: SAKER_CI_SKIP="valgrind fuzz" (names as above); SAKER_CI_BUILD names
# another gcc build folder for the valgrind job. About 8-10 minutes
# on 2 cores in all (valgrind ~4, analyzer ~1, fuzz ~4, scan-build ~2).
# Exit status: 0 when every job passed or was skipped, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
secs=${SAKER_FUZZ_SECS:-30}
bt=${SAKER_CI_BUILD:-build-test} # the gcc build that run-tests.sh made
skip=" ${SAKER_CI_SKIP:-} "
status=0
failed=()

want() { [[ "$skip" != *" $1 "* ]]; }
fail() { status=1; failed+=("$1"); }

# ------------------------------------------------------------------------------------------------
if want valgrind; then
    echo "== valgrind: e2e and fuzz-regress under memcheck"
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "valgrind is not installed (tools/packages.txt); job skipped"
    else
        if [ ! -x "$bt/saker" ]; then
            meson setup "$bt" -Dwerror=true >/dev/null
        fi
        ninja -C "$bt" -j "$jobs" >/dev/null
        # meson test --wrap would run valgrind on run_case.py (Python), not on saker, so the
        # wrapper swaps the saker argument of each e2e test for a script that runs saker under
        # valgrind, and runs the fuzz replay programs (the fuzz-regress tests) under it directly.
        vg=$root/$bt/valgrind
        mkdir -p "$vg"
        vgopts="--error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q"
        vgopts="$vgopts --suppressions=$root/tests/robust/valgrind.supp"
        printf '#!/bin/sh\nexec valgrind %s %s "$@"\n' "$vgopts" "$root/$bt/saker" \
            >"$vg/saker"
        cat >"$vg/wrap" <<EOF
#!/usr/bin/env bash
export SAKER_E2E_VALGRIND=1 # e2e cases that valgrind cannot run skip themselves (needs)
case "\$1" in
*/replay_*) exec valgrind $vgopts "\$@" ;;
esac
args=()
for a in "\$@"; do
    case "\$a" in
    *saker) [ "\$(realpath -m -- "\$a")" = "$root/$bt/saker" ] && a=$vg/saker ;;
    esac
    args+=("\$a")
done
exec "\${args[@]}"
EOF
        chmod +x "$vg/saker" "$vg/wrap"
        # jobs_equal (suites e2e and threads) reads the whole corpus nine times: too slow here;
        # the ThreadSanitizer job covers it.
        meson test -C "$bt" --suite e2e --suite fuzz-regress --no-suite threads --wrap="$vg/wrap" \
            --num-processes "$jobs" --timeout-multiplier 6 --print-errorlogs \
            || fail valgrind
    fi
fi

# ------------------------------------------------------------------------------------------------
if want analyzer; then
    echo "== gcc -fanalyzer"
    rm -rf build-analyzer
    meson setup build-analyzer -Dtests=false -Dwerror=false -Dc_args=-fanalyzer >/dev/null
    ninja -C build-analyzer -j "$jobs" >build-analyzer/analyzer.log 2>&1 || true
    if grep -q 'FAILED:' build-analyzer/analyzer.log; then
        grep -B2 -A20 'FAILED:' build-analyzer/analyzer.log | head -60
        fail analyzer
    elif grep -E 'warning: .*\[-Wanalyzer-' build-analyzer/analyzer.log; then
        echo "-fanalyzer findings above (full paths in build-analyzer/analyzer.log)"
        fail analyzer
    else
        echo "no -fanalyzer findings"
    fi
fi

# ------------------------------------------------------------------------------------------------
if want fuzz; then
    echo "== fuzz smoke: every harness for $secs s"
    if ! command -v clang >/dev/null 2>&1; then
        echo "clang is not installed: fuzz smoke run skipped"
    else
        rm -rf build-fuzz-ci
        CC=clang meson setup build-fuzz-ci -Dfuzzing=true -Dtests=false >/dev/null
        ninja -C build-fuzz-ci -j "$jobs"
        tests/fuzz/make_seeds.sh build-fuzz-ci/fuzz-seeds
        mapfile -t targets < <(find build-fuzz-ci/tests/fuzz -maxdepth 1 -type f -executable \
                                   -name 'fuzz_*' -printf '%f\n' | sort)
        # Two at a time (each harness is single-threaded).
        pids=() names=()
        for t in "${targets[@]}"; do
            tests/fuzz/run.sh build-fuzz-ci "$t" "$secs" >"build-fuzz-ci/$t.txt" 2>&1 &
            pids+=($!)
            names+=("$t")
            if [ "${#pids[@]}" -ge "$jobs" ]; then
                for i in "${!pids[@]}"; do
                    if wait "${pids[$i]}"; then r=ok; else r=FAILED; fail "fuzz ${names[$i]}"; fi
                    echo "${names[$i]}: $r: $(tr '\n' ' ' <"build-fuzz-ci/${names[$i]}.txt")"
                done
                pids=() names=()
            fi
        done
        for i in "${!pids[@]}"; do
            if wait "${pids[$i]}"; then r=ok; else r=FAILED; fail "fuzz ${names[$i]}"; fi
            echo "${names[$i]}: $r: $(tr '\n' ' ' <"build-fuzz-ci/${names[$i]}.txt")"
        done
        if ls build-fuzz-ci/fuzz-out/*/crash-* build-fuzz-ci/fuzz-out/*/leak-* \
            build-fuzz-ci/fuzz-out/*/timeout-* >/dev/null 2>&1; then
            echo "inputs that failed (add each under tests/fuzz/corpus/<target>/ once fixed):"
            ls -l build-fuzz-ci/fuzz-out/*/crash-* build-fuzz-ci/fuzz-out/*/leak-* \
                build-fuzz-ci/fuzz-out/*/timeout-* 2>/dev/null || true
        fi
    fi
fi

# ------------------------------------------------------------------------------------------------
if want scan-build; then
    echo "== clang scan-build"
    if ! command -v scan-build >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1; then
        echo "scan-build or clang is not installed: job skipped"
    else
        rm -rf build-scan
        CC=clang meson setup build-scan -Dtests=false >/dev/null
        sbrc=0
        ninja -C build-scan -j "$jobs" scan-build >build-scan/scan.log 2>&1 || sbrc=$?
        grep -E 'warning: ' build-scan/scan.log | sort -u || true
        if [ "$sbrc" -ne 0 ]; then
            grep -B2 -A20 -E 'FAILED:|error: ' build-scan/scan.log | head -60 || true
            echo "scan-build did not run to the end (status $sbrc; log in build-scan/scan.log)"
            fail scan-build
        elif grep -E 'scan-build: [0-9]+ bugs? found' build-scan/scan.log; then
            echo "scan-build findings above (reports in build-scan/meson-logs/scanbuild/)"
            fail scan-build
        elif ! grep -E 'scan-build: No bugs found' build-scan/scan.log; then
            echo "scan-build printed no summary (log in build-scan/scan.log)"
            fail scan-build
        fi
    fi
fi

echo
if [ "$status" -eq 0 ]; then
    echo "ci-extra: all jobs passed"
else
    echo "ci-extra: failed: ${failed[*]}"
fi
exit "$status"
