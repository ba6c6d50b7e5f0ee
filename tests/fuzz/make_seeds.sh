#!/usr/bin/env bash
# Assembles the seed corpora of the fuzz harnesses into DIR/<target>/ (a build folder: nothing
# made here is committed, and the third-party files of ../shared/corpus are only copied there).
#   tests/fuzz/make_seeds.sh DIR [CORPUS]      (CORPUS defaults to ../shared/corpus)
# Seeds: samples/, rules/, tests/fixtures/evtx/, tests/e2e/eql/, tests/cases/eql/ of this project;
# the damaged evtx files, NDJSON dumps and a slice of the SigmaHQ and Elastic rules of CORPUS when
# it is present (Elastic rules feed fuzz_toml whole and fuzz_eql with their queries); record XML is
# cut out of `evtxexport -f xml` output when evtxexport is installed. The committed regression
# inputs (tests/fuzz/corpus/<target>/) are added too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
out=${1:?usage: make_seeds.sh DIR [CORPUS]}
corpus=${2:-$src/../shared/corpus}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Longest evtx seed kept whole; longer files are cut to their header and first two chunks (a
# mutation of a 1 MiB image is slow and mostly changes chunks libevtx reads the same way).
evtx_cap=$((4096 + 2 * 65536))

n=0
put() { # put TARGET FILE [NAME]: copies FILE into the target's seeds (cut to evtx_cap for evtx)
    local t=$1 f=$2 name=${3:-$(basename "$2")}
    mkdir -p "$out/$t"
    name=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
    case $t in
    fuzz_evtx_file|fuzz_evtx_native) head -c "$evtx_cap" "$f" >"$out/$t/$name" ;;
    *) cp "$f" "$out/$t/$name" ;;
    esac
    n=$((n + 1))
}

evtx_files=$( { ls "$src"/samples/*.evtx "$src"/tests/fixtures/evtx/*.evtx
                [ -d "$corpus/broken" ] && find "$corpus/broken" -name '*.evtx'
                [ -d "$corpus/evtx-attack" ] && find "$corpus/evtx-attack" -name '*.evtx' | sort | head -20
                true # without CORPUS the tests above fail, and pipefail would end the script
              } 2>/dev/null | sort)
while IFS= read -r f; do
    [ -n "$f" ] || continue
    put fuzz_evtx_file "$f" "$(basename "$(dirname "$f")")_$(basename "$f")"
    put fuzz_evtx_native "$f" "$(basename "$(dirname "$f")")_$(basename "$f")"
done <<<"$evtx_files"

# Chunks for fuzz_evtx_chunk: a flags byte (0) and one 64 KiB chunk, the first two of each file.
mkdir -p "$out/fuzz_evtx_chunk"
while IFS= read -r f; do
    [ -n "$f" ] || continue
    for k in 0 1; do
        name=$(printf '%s_%s_%s' "$(basename "$(dirname "$f")")" "$(basename "$f" .evtx)" $k |
            tr -c 'A-Za-z0-9._-' '_')
        { printf '\000'; tail -c +$((4096 + k * 65536 + 1)) "$f" | head -c 65536 || true; } \
            >"$out/fuzz_evtx_chunk/$name"
        [ "$(wc -c <"$out/fuzz_evtx_chunk/$name")" -gt 512 ] || rm -f "$out/fuzz_evtx_chunk/$name"
    done
done <<<"$evtx_files"

# Record XML as libevtx renders it: one seed per distinct record shape (first 3 records of each file).
if command -v evtxexport >/dev/null 2>&1; then
    mkdir -p "$out/fuzz_evtx_xml"
    while IFS= read -r f; do
        [ -n "$f" ] || continue
        evtxexport -f xml "$f" 2>/dev/null | python3 -c '
import re, sys, os
text = sys.stdin.buffer.read()
base = sys.argv[2]
for i, m in enumerate(re.finditer(rb"<Event[ >].*?</Event>", text, re.S)):
    if i >= 3:
        break
    with open(os.path.join(sys.argv[1], "%s_%d.xml" % (base, i)), "wb") as o:
        o.write(m.group(0))
' "$out/fuzz_evtx_xml" "$(basename "$f" .evtx | tr -c 'A-Za-z0-9._-' '_')" || true
    done <<<"$evtx_files"
else
    echo "make_seeds.sh: evtxexport not found; fuzz_evtx_xml starts from its committed inputs only" >&2
fi

# NDJSON: the first byte of an input picks the chunk size (fuzz_ndjson.c); the seeds use a few.
ndjson_seed() { # ndjson_seed FILE NAME: 3 seeds with different chunk sizes, first 10 lines each
    local f=$1 name=$2 b
    mkdir -p "$out/fuzz_ndjson" "$out/fuzz_json_scan"
    head -n 3 "$f" | head -c 16384 | split -l 1 - "$out/fuzz_json_scan/${name}_" || true
    for b in '\000' '\006' '\037'; do
        { printf "$b"; head -n 10 "$f" | head -c 16384 || true; } >"$out/fuzz_ndjson/${name}_$(printf '%s' "$b" | tr -d '\\')"
        n=$((n + 1))
    done
}
for f in "$src"/samples/*.ndjson "$src"/tests/fixtures/evtx/*.json; do
    ndjson_seed "$f" "$(basename "$f")"
done
if [ -d "$corpus/ndjson" ]; then
    while IFS= read -r f; do
        ndjson_seed "$f" "$(basename "$(dirname "$f")")_$(basename "$f")"
    done < <(find "$corpus/ndjson" -name '*.json' -o -name '*.ndjson' | sort)
fi

# Rules: ours, and every 10th SigmaHQ Windows rule (about 240 files of all shapes).
for f in "$src"/rules/*.yml; do put fuzz_rule "$f"; put fuzz_yaml_fast "$f"; done
if [ -d "$corpus/sigma-rules" ]; then
    while IFS= read -r f; do
        put fuzz_rule "$f" "sigmahq_$(basename "$f")"
        put fuzz_yaml_fast "$f" "sigmahq_$(basename "$f")"
    done < <(find "$corpus/sigma-rules" -name '*.yml' | sort | awk 'NR % 10 == 1')
fi

# Elastic TOML rules (fuzz_toml) and their EQL queries (fuzz_eql): the project's e2e rule files and
# the `query:` / `toml:` entries of the EQL semantics corpus (tests/cases/eql/*.yml), then every
# 10th rule of CORPUS's Elastic detection rules. Queries are cut out with Python (tomllib, and
# PyYAML for the cases when it is installed).
elastic=$( { ls "$src"/tests/e2e/eql/*.toml 2>/dev/null || true
             if [ -d "$corpus/elastic-rules" ]; then
                 find "$corpus/elastic-rules" -name '*.toml' | sort | awk 'NR % 10 == 1'
             fi
           } | sort)
while IFS= read -r f; do
    [ -n "$f" ] || continue
    case $f in
    "$corpus"/*) put fuzz_toml "$f" "elastic_$(basename "$f")" ;;
    *) put fuzz_toml "$f" ;;
    esac
done <<<"$elastic"
mkdir -p "$out/fuzz_eql" "$out/fuzz_toml"
before=$(find "$out/fuzz_eql" "$out/fuzz_toml" -type f | wc -l)
printf '%s\n' "$elastic" | python3 -c '
import os, sys
out, cases = sys.argv[1], sys.argv[2:]
def put(target, name, data):
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    with open(os.path.join(out, target, name), "wb") as o:
        o.write(data.encode())
try:
    import tomllib
except ImportError:
    tomllib = None
    print("make_seeds.sh: no tomllib (Python < 3.11): no EQL seeds from TOML rules", file=sys.stderr)
for path in filter(None, sys.stdin.read().split("\n")) if tomllib else []:
    try:
        with open(path, "rb") as f:
            q = tomllib.load(f).get("rule", {}).get("query")
    except (OSError, ValueError):
        continue
    if isinstance(q, str):
        put("fuzz_eql", os.path.basename(path)[:-5] + ".eql", q)
try:
    import yaml
except ImportError:
    yaml = None
    print("make_seeds.sh: no PyYAML: no seeds from tests/cases/eql", file=sys.stderr)
for path in cases if yaml else []:
    with open(path, encoding="utf-8") as f:
        entries = yaml.safe_load(f) or []
    base = os.path.basename(path)[:-4]
    for i, e in enumerate(entries):
        if isinstance(e, dict) and isinstance(e.get("query"), str):
            put("fuzz_eql", "case_%s_%03d.eql" % (base, i), e["query"])
        if isinstance(e, dict) and isinstance(e.get("toml"), str):
            put("fuzz_toml", "case_%s_%03d.toml" % (base, i), e["toml"])
' "$out" "$src"/tests/cases/eql/*.yml || echo "make_seeds.sh: EQL seeds incomplete" >&2
n=$((n + $(find "$out/fuzz_eql" "$out/fuzz_toml" -type f | wc -l) - before))

# Committed regression inputs.
for d in "$here"/corpus/*/; do
    [ -d "$d" ] || continue
    t=$(basename "$d")
    for f in "$d"*; do
        [ -f "$f" ] && put "$t" "$f" "regress_$(basename "$f")"
    done
done
echo "make_seeds.sh: $n seeds in $out ($(ls "$out" | tr '\n' ' '))"
