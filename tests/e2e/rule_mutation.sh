#!/usr/bin/env bash
# Every built-in rule's tests must catch broken logic: for each rule, a copy whose condition is
# negated ("not (...)") must make `saker test` fail, and a copy with its detection values altered
# must fail too. The unmodified pack must pass.
set -euo pipefail
saker=$1 src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cp -r "$src/rules" "$tmp/rules"
cp -r "$src/samples" "$tmp/samples"
"$saker" test "$tmp/rules" > /dev/null || { echo "the unmodified pack fails its tests"; exit 1; }
n=0
for rule in "$tmp"/rules/*.yml; do
  case "$rule" in *.tests.yml) continue;; esac
  name=$(basename "$rule" .yml)
  cp "$rule" "$tmp/orig.yml"
  # 1. negated condition
  python3 - "$rule" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
s2 = re.sub(r"^(\s*condition:\s*)(.+)$", lambda m: f"{m.group(1)}not ({m.group(2)})", s, count=1, flags=re.M)
assert s2 != s; open(p, "w").write(s2)
PY
  if "$saker" test "$tmp/rules/$name.tests.yml" > /dev/null 2>&1; then
    echo "$name: tests still pass with the condition negated"; exit 1
  fi
  cp "$tmp/orig.yml" "$rule"
  # 2. every quoted value in the detection altered (so no selection can match as before)
  python3 - "$rule" <<'PY'
import re, sys
p = sys.argv[1]; s = open(p).read()
head, sep, det = s.partition("\ndetection:")
det = re.sub(r"'([^']*)'", lambda m: "'" + m.group(1) + "_mutated_zz'", det)
open(p, "w").write(head + sep + det)
PY
  if "$saker" test "$tmp/rules/$name.tests.yml" > /dev/null 2>&1; then
    echo "$name: tests still pass with every detection value altered"; exit 1
  fi
  cp "$tmp/orig.yml" "$rule"
  n=$((n + 1))
done
echo "ok: the tests of all $n built-in rules fail when their logic is broken (negated or values altered)"
