#!/usr/bin/env python3
"""Outputs checked by their real consumers: jq parses every jsonl line and the json document;
Python's csv module reads the CSV back to the same values as the JSON hits.
Usage: consumers.py SAKER SRCROOT"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys


def run(saker, src, *args):
    p = subprocess.run([saker] + list(args), cwd=src, capture_output=True)
    if p.returncode not in (1, 5):
        sys.exit(f"saker {' '.join(args)}: exit {p.returncode}: {p.stderr.decode()}")
    return p.stdout


def main():
    saker, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not shutil.which("jq"):
        print("SKIP: jq is not installed")
        return 77
    inputs = ["samples/", "tests/fixtures/evtx/control_chars.evtx"]
    rules = ["--builtin", "-r", "tests/e2e/rules"]
    jsonl = run(saker, src, "hunt", "-q", "-f", "jsonl", *rules, *inputs)
    lines = jsonl.decode("utf-8").splitlines()
    # jq must accept every line as one JSON value, and print as many values back.
    p = subprocess.run(["jq", "-c", "."], input=jsonl, capture_output=True, check=True)
    assert len(p.stdout.decode().splitlines()) == len(lines) > 50, "jq saw a different count"
    hits = [json.loads(l) for l in lines]
    for h in hits:
        assert list(h) == ["timestamp", "computer", "channel", "event_id", "rule", "source",
                           "matched", "fields"], list(h)
    doc = run(saker, src, "hunt", "-q", "-f", "json", *rules, *inputs)
    n = subprocess.run(["jq", "length"], input=doc, capture_output=True, check=True)
    assert int(n.stdout) == len(hits), (n.stdout, len(hits))
    assert json.loads(doc) == hits, "json document differs from the jsonl hits"
    raw = run(saker, src, "hunt", "-q", "-f", "csv", *rules, *inputs)
    assert raw.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert rows[0] == ["timestamp", "level", "rule_title", "rule_id", "computer", "channel",
                       "event_id", "file", "record", "details"], rows[0]
    assert len(rows) - 1 == len(hits)
    for row, h in zip(rows[1:], hits):
        src_ = h["source"]
        want = [h["timestamp"] or "", h["rule"]["level"], h["rule"]["title"], h["rule"]["id"],
                h["computer"] or "", h["channel"] or "", str(h["event_id"]), src_["file"],
                str(src_.get("record_id", src_.get("line")))]
        assert row[:9] == want, (row[:9], want)
        # details round-trip exactly, CR LF, quotes and control characters included
        cl = h["fields"].get("CommandLine")
        if cl:
            assert row[9].startswith("CommandLine: " + cl), (row[9], cl)
    dump = subprocess.run([saker, "dump", "samples/", "tests/fixtures/evtx/"], cwd=src,
                          capture_output=True)
    d = subprocess.run(["jq", "-c", ".fields | length"], input=dump.stdout, capture_output=True,
                       check=True)
    assert len(d.stdout.splitlines()) == len(dump.stdout.splitlines()) > 100
    print(f"ok: {len(hits)} hits parsed by jq (jsonl and json) and by Python's csv; "
          f"{len(dump.stdout.splitlines())} dump lines parsed by jq")
    return 0


if __name__ == "__main__":
    sys.exit(main())
