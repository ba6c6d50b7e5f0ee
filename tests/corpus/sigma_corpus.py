#!/usr/bin/env python3
"""Corpus checks of the Sigma engine against SigmaHQ's own rules and regression data.

Usage: sigma_corpus.py SAKER CORPUS (load|regression|crosshits)
  load        `saker rules check --json` on sigma-rules/rules/windows: at least 99 % load and every
              skip carries a reason code a rule author can act on.
  regression  `saker test` on sigma-regression/regression_data with the SigmaHQ rule folders: every
              test passes (the rule, found by id, matches at least match_count times).
  crosshits   every loaded rule over every regression evtx file: prints how many hits fall on files
              of other rules (a false-positive figure; reported, not asserted).
Exits 77 (skip) when the corpus is absent.
"""
import collections
import glob
import json
import os
import subprocess
import sys

KNOWN_REASONS = {
    "yaml-syntax", "not-a-rule", "missing-title", "missing-detection", "missing-condition",
    "missing-selection", "bad-condition", "bad-detection", "unknown-modifier",
    "unsupported-modifier-combination", "bad-value", "bad-regex", "unresolved-placeholder",
    "unsupported-logsource", "correlation-rule", "yaml-alias", "too-many-values",
    "file-too-large", "io-error", "unsupported-action",
}


def main():
    saker, corpus, what = sys.argv[1:4]
    if not os.path.isdir(corpus):
        print(f"SKIP: ../shared/corpus is absent ({corpus})")
        return 77
    rules = os.path.join(corpus, "sigma-rules")
    if what == "load":
        p = subprocess.run([saker, "rules", "check", "--json", os.path.join(rules, "rules", "windows")],
                           capture_output=True, text=True)
        rep = json.loads(p.stdout)
        loaded, skipped = rep["loaded"], rep["skipped"]
        total = loaded + skipped
        pct = 100.0 * loaded / total
        print(f"loaded {loaded}/{total} ({pct:.2f} %); skipped by reason: {rep['reasons']}")
        bad = [r for r in rep["rules"] if not r["loaded"] and
               (r["reason"] not in KNOWN_REASONS or not r["message"] or not r["line"])]
        for r in bad:
            print(f"skip without an actionable reason: {r}")
        ok = total >= 2400 and pct >= 99.0 and not bad and p.returncode in (0, 1)
        return 0 if ok else 1
    folders = [os.path.join(rules, d) for d in ("rules/windows", "rules-emerging-threats",
                                                "rules-threat-hunting", "rules-placeholder")]
    rargs = [a for f in folders if os.path.isdir(f) for a in ("-r", f)]
    reg = os.path.join(corpus, "sigma-regression", "regression_data")
    if what == "regression":
        p = subprocess.run([saker, "test", "-q"] + rargs + [reg], capture_output=True, text=True)
        lines = p.stdout.strip().splitlines()
        for l in lines:
            if l.startswith("FAIL"):
                print(l)
        print(lines[-1] if lines else "(no output)")
        passed = sum(1 for l in lines if l.startswith("PASS"))
        failed = sum(1 for l in lines if l.startswith("FAIL"))
        return 0 if p.returncode == 0 and failed == 0 and passed >= 130 else 1
    if what == "crosshits":
        owner = {}
        for info in glob.glob(os.path.join(reg, "**", "info.yml"), recursive=True):
            d = os.path.dirname(info)
            for ev in glob.glob(os.path.join(d, "*.evtx")):
                owner[os.path.abspath(ev)] = os.path.splitext(os.path.basename(ev))[0]
        p = subprocess.run([saker, "hunt", "-q", "-f", "jsonl"] + rargs + [reg],
                           capture_output=True, text=True)
        own = other = 0
        by_rule = collections.Counter()
        for line in p.stdout.splitlines():
            h = json.loads(line)
            f = os.path.abspath(h["source"]["file"])
            if owner.get(f) == h["rule"]["id"]:
                own += 1
            else:
                other += 1
                by_rule[h["rule"]["title"]] += 1
        print(f"{len(owner)} regression evtx files; hits on the file's own rule: {own}; "
              f"hits of other rules: {other} from {len(by_rule)} rules")
        for title, n in by_rule.most_common(15):
            print(f"  {n:5d}  {title}")
        return 0 if p.returncode in (0, 1) else 1
    print("usage: sigma_corpus.py SAKER CORPUS load|regression|crosshits")
    return 2


if __name__ == "__main__":
    sys.exit(main())
