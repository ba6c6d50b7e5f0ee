#!/usr/bin/env bash
# -j N must not change the output: every format and dump, over many files (samples, fixtures, the
# damaged ones too, and the corpus when present), give byte-identical stdout and stderr (after
# masking the timing figures) for -j 1, -j 2 and -j 7.
set -euo pipefail
saker=$(realpath -- "$1") src=$2 corpus=$(realpath -m -- "$3") # meson passes them relative
[ -x "$saker" ] || { echo "jobs_equal: $1 is not an executable"; exit 1; }
cd "$src"
inputs=(samples/ tests/fixtures/evtx/)
[ -d "$corpus/evtx-attack" ] && inputs+=("$corpus/evtx-attack" "$corpus/ndjson/otrf" "$corpus/broken/omerbenamram-evtx")
# JOBS_INPUTS overrides the inputs (the ThreadSanitizer run passes NDJSON inputs, chosen when
# libevtx was the default reader: libevtx 20181227 reads past its chunk buffer, which TSan's
# allocator turns into a crash). The large evtx file at the end is read by the native reader, so
# its split across threads runs under TSan too.
if [ -n "${JOBS_INPUTS:-}" ]; then read -r -a inputs <<< "$JOBS_INPUTS"; fi
# The summary's "(cached)": the first run may load the rules from their files and write the
# compiled-rule cache that the later ones read.
mask() { sed -E -e 's/in [0-9.]+ s \([0-9.]+ MB\/s, [0-9]+ events\/s\)/in T s/' -e 's/ \(cached\)//'; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() { # name, args...
  local name=$1; shift
  for j in 1 2 7; do
    set +e
    "$saker" "$@" -j "$j" "${inputs[@]}" > "$tmp/$name.$j.out" 2> "$tmp/$name.$j.err.raw"
    echo "exit $?" >> "$tmp/$name.$j.out"
    set -e
    mask < "$tmp/$name.$j.err.raw" > "$tmp/$name.$j.err"
  done
  # A run that did not get to read its inputs (usage error, missing binary) proves nothing.
  case $(tail -n 1 "$tmp/$name.1.out") in
  "exit 0" | "exit 1" | "exit 4" | "exit 5") ;;
  *) echo "$name: saker $* ended with $(tail -n 1 "$tmp/$name.1.out"):"; head -5 "$tmp/$name.1.err"; exit 1 ;;
  esac
  [ "$(wc -l < "$tmp/$name.1.out")" -gt 1 ] || { echo "$name: no output"; exit 1; }
  for j in 2 7; do
    cmp -s "$tmp/$name.1.out" "$tmp/$name.$j.out" || { echo "$name: stdout of -j $j differs from -j 1"; diff "$tmp/$name.1.out" "$tmp/$name.$j.out" | head; exit 1; }
    cmp -s "$tmp/$name.1.err" "$tmp/$name.$j.err" || { echo "$name: stderr of -j $j differs from -j 1"; diff "$tmp/$name.1.err" "$tmp/$name.$j.err" | head; exit 1; }
  done
  echo "$name: identical for -j 1, 2, 7 ($(wc -l < "$tmp/$name.1.out") lines)"
}
run hunt_jsonl hunt --stats -f jsonl --builtin -r tests/e2e/rules
run hunt_table hunt -f table --color never --builtin -r tests/e2e/rules
run hunt_csv_sorted hunt -f csv --sort time --builtin -r tests/e2e/rules
run dump dump --stats
run dump_recovered dump --stats --recovered
# Rule folders are read and parsed on -j threads: the load report (bad rules included) and the
# hits keep their order.
rules=(-r tests/e2e/rules -r tests/e2e/bad_rules)
[ -d "$corpus/sigma-rules" ] && rules+=(-r "$corpus/sigma-rules/rules/windows" -r "$corpus/elastic-rules")
run hunt_rule_folders hunt --stats -f jsonl "${rules[@]}"

# What the walk reports (a missing path, a folder without logs) comes out between the warnings
# of the files around it: the walk runs beside the scan, a few files ahead.
mkdir -p "$tmp/nologs" && echo "not a log" > "$tmp/nologs/readme.txt"
printf '{"event_id": 1}\nnot JSON\n' > "$tmp/bad1.ndjson"
cp "$tmp/bad1.ndjson" "$tmp/bad2.ndjson"
inputs=(samples/sysmon_t1218.ndjson "$tmp/bad1.ndjson" "$tmp/missing.evtx" "$tmp/nologs" "$tmp/bad2.ndjson")
run walk_notes dump --stats
[ "$(grep -v '^saker: \(files\|events\|skipped\|read\)' "$tmp/walk_notes.1.err")" = "\
$tmp/bad1.ndjson:2:1: warning: invalid JSON (invalid string in json text); line skipped
$tmp/missing.evtx: error: cannot open: No such file or directory
saker: warning: no log files found under '$tmp/nologs' (1 files passed over)
$tmp/bad2.ndjson:2:1: warning: invalid JSON (invalid string in json text); line skipped" ] ||
  { echo "walk_notes: not in input order:"; cat "$tmp/walk_notes.1.err"; exit 1; }

# One large NDJSON file (56 MiB: four parts of at most 16 MiB at -j > 1), the samples repeated,
# with a line that ends just before the first cut, an over-long one across the second and an
# invalid one across the third: line numbers, warnings and counts must not depend on where the
# parts split.
python3 tests/e2e/big_ndjson.py "$tmp/big.ndjson" samples/*.ndjson
inputs=("$tmp/big.ndjson")
run big_ndjson_hunt hunt --stats -f jsonl --builtin -r tests/e2e/rules
run big_ndjson_dump dump --stats
grep -q "^$tmp/big.ndjson:[0-9]*:[0-9]*: warning: invalid JSON" "$tmp/big_ndjson_dump.1.err" ||
  { echo "big_ndjson_dump: no warning for the invalid lines:"; head -3 "$tmp/big_ndjson_dump.1.err"; exit 1; }
[ "$(grep -c "^$tmp/big.ndjson:[0-9]*: warning: line longer than" "$tmp/big_ndjson_dump.1.err")" = 1 ] ||
  { echo "big_ndjson_dump: the over-long line is not reported once:"; grep "longer" "$tmp/big_ndjson_dump.1.err"; exit 1; }
# The progress line counts the file once, whatever its parts (it said 3 files and 3 x the bytes).
"$saker" dump -q --progress always -j 2 "$tmp/big.ndjson" 2> "$tmp/progress" > /dev/null || [ $? = 4 ]
mb=$(python3 -c "import os, sys; print(f'{os.path.getsize(sys.argv[1]) / 1e6:.1f}')" "$tmp/big.ndjson")
grep -q "/1 files\] [0-9.]*/$mb MB" "$tmp/progress" ||
  { echo "big_ndjson: the progress line does not count one file of $mb MB:"; tr '\r' '\n' < "$tmp/progress" | head -3; exit 1; }
echo "big_ndjson: progress counts one file of $mb MB"
rm -f "$tmp/big.ndjson"

# One large evtx file (40 MiB, 640 chunks: three parts of at most 256 chunks at -j > 1), built from
# the corpus's real chunks, with a chunk whose CRC fails (part 1) and a record claiming a huge
# size (part 2): hits, events and the per-chunk accounting must not depend on where the parts split.
if [ -f "$corpus/benchmark/evtx_concat.py" ] && [ -d "$corpus/evtx-attack" ]; then
  python3 "$corpus/benchmark/evtx_concat.py" "$tmp/big0.evtx" --target-mib 40 --template-only \
    "$corpus/evtx-attack" > /dev/null
  # (record-size first: each patch makes the other CRCs valid again)
  python3 tests/robust/evtx_patch.py "$tmp/big0.evtx" "$tmp/big1.evtx" record-size 3000 0xFFFFFFF0
  python3 tests/robust/evtx_patch.py "$tmp/big1.evtx" "$tmp/big.evtx" chunk-crc 200
  rm -f "$tmp/big0.evtx" "$tmp/big1.evtx"
  inputs=("$tmp/big.evtx")
  run big_evtx_hunt hunt --stats -f jsonl --builtin -r tests/e2e/rules
  run big_evtx_dump dump --stats
  # Deleted records are carved chunk by chunk: the same ones whatever the parts.
  run big_evtx_recovered dump --stats --recovered
  grep -q "^saker: events: [0-9]* (evtx [0-9]*, ndjson 0); [1-9][0-9]* recovered$" "$tmp/big_evtx_recovered.1.err" ||
    { echo "big_evtx_recovered: no recovered events:"; cat "$tmp/big_evtx_recovered.1.err"; exit 1; }
  grep -q "damaged files (evtx-chunk-crc ×1, evtx-record-size-recovered ×1)" "$tmp/big_evtx_dump.1.err" ||
    { echo "big_evtx_dump: the damage is not accounted:"; cat "$tmp/big_evtx_dump.1.err"; exit 1; }
else
  echo "big evtx split across threads: skipped, ../shared/corpus (benchmark, evtx-attack) is absent"
fi
