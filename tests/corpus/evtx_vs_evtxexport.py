#!/usr/bin/env python3
"""Corpus check: saker's evtx reader against libevtx's own exporter.

For every .evtx file under CORPUS, runs `evtxexport -f xml FILE` (libevtx-utils) and
`SAKER dump FILE`, and compares, record by record in file order:
  - the number of records,
  - EventRecordID (saker: source.record_id),
  - EventID (saker: event_id), Channel and Computer of <System> (saker: channel, computer),
  - TimeCreated/@SystemTime, which libevtx prints with 9 fractional digits and saker with
    Windows' 7 (saker: timestamp).

Files evtxexport cannot export cleanly (it stops at the first record libevtx cannot read and
exits non-zero) are not compared one to one; for those the check is that saker, which skips only
the unreadable records, still yields every record evtxexport printed before it gave up.

saker dump prints one JSON object per line:
  {"timestamp", "computer", "channel", "event_id",
   "source": {"file", "format": "evtx", "record_id": N, "recovered": false}, "fields": {...}}
and exits 0, or 4 when it skipped input (damaged files); anything else is a failure.

Usage: evtx_vs_evtxexport.py SAKER CORPUS [--evtxexport PATH] [--jobs N] [--verbose]
Exit status: 0 all agree, 1 some file disagrees, 2 usage error, 77 skipped (no corpus, or no
evtxexport), as Meson's test() expects.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys

SKIP = 77

RE_EVENT_START = re.compile(rb"^<Event[ >]", re.M)
RE_SYSTEM = re.compile(rb"<System>(.*?)</System>", re.S)
RE_RECORD_ID = re.compile(rb"<EventRecordID>(\d+)</EventRecordID>")
RE_EVENT_ID = re.compile(rb"<EventID(?: [^>]*)?>(\d+)</EventID>")
RE_CHANNEL = re.compile(rb"<Channel>(.*?)</Channel>", re.S)
RE_COMPUTER = re.compile(rb"<Computer>(.*?)</Computer>", re.S)
RE_TIME = re.compile(rb'<TimeCreated SystemTime="([^"]*)"')
RE_FRACTION = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z$")


def unescape(b):
    """libevtx escapes only & < > in text."""
    s = b.decode("utf-8", "replace")
    return s.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def seven_digits(t):
    """'2019-05-12T17:20:01.980574000Z' -> '2019-05-12T17:20:01.9805740Z' (as Windows prints)."""
    m = RE_FRACTION.match(t)
    if not m:
        return t
    return "%s.%sZ" % (m.group(1), (m.group(2) + "0000000")[:7])


def first(regex, text):
    m = regex.search(text)
    return m.group(1) if m else None


def evtxexport_records(tool, path):
    """(clean, records): records are dicts of the <System> values, in file order."""
    proc = subprocess.run([tool, "-f", "xml", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    out = proc.stdout
    starts = [m.start() for m in RE_EVENT_START.finditer(out)]
    records = []
    for i, s in enumerate(starts):
        chunk = out[s:starts[i + 1] if i + 1 < len(starts) else len(out)]
        system = first(RE_SYSTEM, chunk) or b""
        rid = first(RE_RECORD_ID, system)
        eid = first(RE_EVENT_ID, system)
        channel = first(RE_CHANNEL, system)
        computer = first(RE_COMPUTER, system)
        when = first(RE_TIME, system)
        records.append({
            "record_id": int(rid) if rid is not None else None,
            "event_id": int(eid) if eid is not None else None,
            "channel": unescape(channel) if channel is not None else None,
            "computer": unescape(computer) if computer is not None else None,
            "timestamp": seven_digits(when.decode("ascii", "replace")) if when else None,
        })
    return proc.returncode == 0, records


def saker_records(saker, path):
    """(problem or None, records) from `saker dump`."""
    proc = subprocess.run([saker, "dump", "--evtx-reader", "libevtx", path], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if proc.returncode not in (0, 4):
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return "saker dump exited %d%s" % (proc.returncode,
                                           (": " + err[-1]) if err else ""), []
    records = []
    for n, line in enumerate(proc.stdout.split(b"\n"), 1):
        if not line:
            continue
        try:
            obj = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            return "saker dump line %d is not valid UTF-8 JSON: %s" % (n, e), records
        src = obj.get("source") or {}
        if src.get("format") != "evtx":
            return "saker dump line %d: source.format is %r" % (n, src.get("format")), records
        if src.get("recovered"):
            continue  # only with --recovered; evtxexport's default mode has none either
        records.append({
            "record_id": src.get("record_id"),
            "event_id": obj.get("event_id"),
            "channel": obj.get("channel"),
            "computer": obj.get("computer"),
            "timestamp": obj.get("timestamp"),
        })
    return None, records


KEYS = ("record_id", "event_id", "channel", "computer", "timestamp")


def compare(saker, tool, path, rel):
    """Returns (kind, records, messages): kind is 'clean', 'partial' or 'failed'."""
    clean, ref = evtxexport_records(tool, path)
    problem, got = saker_records(saker, path)
    msgs = []
    if problem:
        msgs.append(problem)
    if clean:
        if len(got) != len(ref):
            msgs.append("records: saker %d, evtxexport %d" % (len(got), len(ref)))
        for i, (a, b) in enumerate(zip(got, ref)):
            diff = ["%s saker %r evtxexport %r" % (k, a[k], b[k]) for k in KEYS if a[k] != b[k]]
            if diff:
                msgs.append("record #%d (EventRecordID %s): %s" % (i, b["record_id"],
                                                                    "; ".join(diff)))
                if len(msgs) > 10:
                    msgs.append("...")
                    break
        kind = "clean"
    else:
        have = {r["record_id"] for r in got}
        missing = [r["record_id"] for r in ref if r["record_id"] not in have]
        if missing:
            msgs.append("evtxexport stopped early after %d records, and saker lacks %d of them "
                        "(first: %s)" % (len(ref), len(missing), missing[0]))
        kind = "partial"
    return (kind if not msgs else "failed"), rel, len(got), len(ref), msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("saker", help="path of the saker binary")
    ap.add_argument("corpus", help="corpus folder (../shared/corpus)")
    ap.add_argument("--evtxexport", default=shutil.which("evtxexport"),
                    help="path of libevtx's evtxexport (default: from PATH)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--verbose", action="store_true", help="print every file's figures")
    args = ap.parse_args()

    if not os.path.isdir(args.corpus):
        print("evtx_vs_evtxexport: corpus folder %s is absent; skipped" % args.corpus)
        return SKIP
    if not args.evtxexport or not os.access(args.evtxexport, os.X_OK):
        print("evtx_vs_evtxexport: evtxexport (libevtx-utils) not found; skipped")
        return SKIP
    if not os.access(args.saker, os.X_OK):
        print("evtx_vs_evtxexport: %s is not an executable" % args.saker, file=sys.stderr)
        return 2

    files = []
    for root, dirs, names in os.walk(args.corpus):
        dirs.sort()
        for name in sorted(names):
            if name.lower().endswith(".evtx"):
                path = os.path.join(root, name)
                files.append((path, os.path.relpath(path, args.corpus)))
    if not files:
        print("evtx_vs_evtxexport: no .evtx file under %s; skipped" % args.corpus)
        return SKIP

    counts = {"clean": 0, "partial": 0, "failed": 0}
    records_clean = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(compare, args.saker, args.evtxexport, p, r) for p, r in files]
        for fut in futures:
            kind, rel, ngot, nref, msgs = fut.result()
            counts[kind] += 1
            if kind == "clean":
                records_clean += nref
            if msgs:
                print("MISMATCH %s" % rel)
                for m in msgs:
                    print("    " + m)
            elif args.verbose:
                print("%-7s %s: saker %d, evtxexport %d" % (kind, rel, ngot, nref))

    print("evtx_vs_evtxexport: %d files: %d agree with evtxexport (%d records), %d that "
          "evtxexport cannot export fully are covered by saker, %d disagree"
          % (len(files), counts["clean"], records_clean, counts["partial"], counts["failed"]))
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
