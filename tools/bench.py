#!/usr/bin/env python3
"""saker benchmark: throughput and peak memory of saker against reference tools, side by side.

Builds its inputs reproducibly with ../shared/corpus/benchmark/build_benchmark.sh (real evtx chunks
concatenated; OTRF Winlogbeat 6 and flat-export NDJSON), then times each command on the same input
in the same run and prints MB/s, events/s, peak RSS and the ratios. Not a test: figures only.

Usage: python3 tools/bench.py [--saker build-release/saker] [--work /tmp/saker-bench]
                              [--evtx-mib 128] [--rules DIR] [--runs 2] [--only dump|hunt] [--jobs 1]
Build the binary first: meson setup build-release --buildtype=release && ninja -C build-release
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.normpath(os.path.join(ROOT, "..", "shared", "corpus"))


def run(cmd, stdin=None):
    """Runs cmd with stdout to /dev/null; returns (seconds, peak RSS MiB, exit status, stderr)."""
    with open(os.devnull, "wb") as null:
        fin = open(stdin, "rb") if stdin else subprocess.DEVNULL
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=fin, stdout=null, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.monotonic() - t0
        if stdin:
            fin.close()
    return dt, ru.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), err.decode("utf-8", "replace")


def best(cmd, runs, stdin=None):
    res = [run(cmd, stdin) for _ in range(runs)]
    return min(res, key=lambda r: r[0])


def count_events(saker, path):
    p = subprocess.run([saker, "dump", "--stats", "-q", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"events: (\d+)", p.stderr)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--saker", default=os.path.join(ROOT, "build-release", "saker"))
    ap.add_argument("--work", default="/tmp/saker-bench")
    ap.add_argument("--evtx-mib", type=int, default=128)
    ap.add_argument("--rules", default=os.path.join(CORPUS, "sigma-rules", "rules", "windows"))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", choices=["dump", "hunt"], default=None)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    if not os.path.isdir(CORPUS):
        print(f"bench: {CORPUS} is absent; the benchmark builds its inputs from it")
        return 2
    evtx = os.path.join(a.work, "evtx", "big.evtx")
    wlb6 = os.path.join(a.work, "ndjson", "winlogbeat6.ndjson")
    stamp = os.path.join(a.work, f".built-{a.evtx_mib}")
    if not os.path.exists(stamp):
        shutil.rmtree(a.work, ignore_errors=True)
        os.makedirs(a.work)
        print(f"bench: building inputs in {a.work} (evtx {a.evtx_mib} MiB) ...", flush=True)
        subprocess.run(["bash", os.path.join(CORPUS, "benchmark", "build_benchmark.sh"), a.work,
                        str(a.evtx_mib)], check=True, stdout=subprocess.DEVNULL)
        open(stamp, "w").close()
    inputs = [("evtx", evtx), ("ndjson-wlb6", wlb6)]
    print(f"saker: {a.saker}; best of {a.runs} runs; stdout to /dev/null; -j {a.jobs}")
    print(f"{'input':<12} {'command':<36} {'seconds':>8} {'MB/s':>8} {'events/s':>10} {'RSS MiB':>8}")
    for kind, path in inputs:
        size = os.path.getsize(path) / 1e6
        n = count_events(a.saker, path)
        j = ["-j", str(a.jobs)]
        rows = []
        if a.only in (None, "dump"):
            rows.append(("saker dump", [a.saker, "dump", "-q"] + j + [path], None))
            if kind == "evtx":
                rows.append(("evtxexport -f xml", ["evtxexport", "-f", "xml", path], None))
            else:
                rows.append(("jq -c .", ["jq", "-c", "."], path))
        if a.only in (None, "hunt") and os.path.isdir(a.rules):
            rows.append(("saker hunt (SigmaHQ windows)",
                         [a.saker, "hunt", "-q", "-f", "jsonl"] + j + ["-r", a.rules, path], None))
            rows.append(("saker hunt (built-in pack)", [a.saker, "hunt", "-q", "-f", "jsonl"] + j + [path], None))
            if kind != "evtx":
                rows.append(("jq -c select(.event_id == 1)",
                             ["jq", "-c", "select(.event_id == 1)"], path))
        times = {}
        for name, cmd, stdin in rows:
            if shutil.which(cmd[0]) is None and not os.path.exists(cmd[0]):
                print(f"{kind:<12} {name:<36} (not installed)")
                continue
            dt, rss, rc, err = best(cmd, a.runs, stdin)
            times[name] = dt
            print(f"{kind:<12} {name:<36} {dt:8.2f} {size / dt:8.1f} {n / dt:10.0f} {rss:8.1f}"
                  + (f"  (exit {rc})" if rc not in (0, 1, 4, 5) else ""))
        ref = times.get("evtxexport -f xml") or times.get("jq -c select(.event_id == 1)") or times.get("jq -c .")
        for name, dt in times.items():
            if name.startswith("saker") and ref:
                print(f"{kind:<12}   {name} is {ref / dt:.1f}x the reference's throughput")
        print(f"{kind:<12} {size:.1f} MB, {n} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
