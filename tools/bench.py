#!/usr/bin/env python3
"""saker benchmark: throughput and peak memory of saker against reference tools, side by side.

Builds its inputs reproducibly with ../shared/corpus/benchmark/build_benchmark.sh (real evtx chunks
concatenated; OTRF Winlogbeat 6 NDJSON) and tools/wlb6_to_wlb8.py (the same events in the
Winlogbeat 8 layout), then times each command on the same input in the same run (round-robin:
every command once per round) and prints MB/s, events/s, peak RSS, the ratios against the
reference tools (evtxexport -f xml; a jq select written for each NDJSON layout) and the speed-up
of -j 2 over -j 1 on each input (one large file: its parts are read in parallel), each ratio from
the best times and as the median of the ratios within each round. ndjson-wlb6x4 is the Winlogbeat
6 dump four times over, where the fixed cost of loading the rules weighs less. Two folders stand for triage
collections of many files: evtx-many (every corpus evtx file copied 8 times; no reference tool)
and ndjson-many (the Winlogbeat 6 events, one file each; jq reads them as arguments).
The hunts load their rules from the compiled-rule cache (a folder of the benchmark's own, filled
first), as every run after the first does; a --no-cache row shows a load from the files.
Not a test: figures only.

With --rss it measures peak memory instead: saker hunt with the SigmaHQ rules at the default -j on
a 512 MiB evtx file and an 800 MiB NDJSON file (both generated), against the 64 MiB budget.

Usage: python3 tools/bench.py [--saker build-release/saker] [--work /tmp/saker-bench]
                              [--evtx-mib 512] [--rules DIR] [--runs 2] [--only dump|hunt] [--jobs 1]
                              [--rss]
Build the binary first:
  meson setup build-release --buildtype=release -Dtests=false && ninja -C build-release
"""
import argparse
import os
import re
import shutil
import statistics
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


def count_events(saker, path):
    p = subprocess.run([saker, "dump", "--stats", "-q", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    m = re.search(r"events: (\d+)", p.stderr)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--saker", default=os.path.join(ROOT, "build-release", "saker"))
    ap.add_argument("--work", default="/tmp/saker-bench")
    ap.add_argument("--evtx-mib", type=int, default=512)
    ap.add_argument("--rules", default=os.path.join(CORPUS, "sigma-rules", "rules", "windows"))
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--only", choices=["dump", "hunt"], default=None)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--rss", action="store_true", help="peak RSS on 512 MiB evtx / 800 MiB NDJSON")
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
    wlb8 = os.path.join(a.work, "ndjson", "winlogbeat8.ndjson")
    if not os.path.exists(wlb8):
        subprocess.run([sys.executable, os.path.join(HERE, "wlb6_to_wlb8.py"), wlb6, wlb8 + ".tmp"],
                       check=True)
        os.rename(wlb8 + ".tmp", wlb8)
    # The compiled-rule cache: a folder of the benchmark's own, filled before the first timing (the
    # hunts then load their rules from it, as every run after the first does); the --no-cache
    # rows load them from their files, as a first run or a run after an edit does.
    os.environ["SAKER_CACHE_DIR"] = os.path.join(a.work, "rule-cache")
    for rules in ([a.rules] if os.path.isdir(a.rules) else []) + [None]:
        subprocess.run([a.saker, "rules", "list", "-q"] + (["-r", rules] if rules else []),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if a.rss:
        return rss_mode(a, wlb8)
    # The Winlogbeat 6 dump four times over: at 433 MB the fixed cost of loading the rules (about
    # 0.1 s for SigmaHQ's) weighs a quarter of what it does on the dump itself.
    wlb6x4 = os.path.join(a.work, "ndjson", "winlogbeat6x4.ndjson")
    if not os.path.exists(wlb6x4):
        # Copied in blocks: a child's peak RSS (wait4) starts from this process's peak when it
        # forks, so reading the dump whole here would show as 100+ MiB for every command after.
        with open(wlb6x4 + ".tmp", "wb") as o:
            for _ in range(4):
                with open(wlb6, "rb") as f:
                    shutil.copyfileobj(f, o, 1 << 20)
        os.rename(wlb6x4 + ".tmp", wlb6x4)
    inputs = [("evtx", evtx), ("ndjson-wlb6", wlb6), ("ndjson-wlb8", wlb8),
              ("ndjson-wlb6x4", wlb6x4)]
    many = os.path.join(a.work, "evtx", "many")
    if os.path.isdir(many):  # a triage collection: thousands of files of all sizes, no reference
        inputs.append(("evtx-many", many))
    nd_many = os.path.join(a.work, "ndjson", "many")
    if not os.path.isdir(nd_many):  # the Winlogbeat 6 events, one small file each
        os.makedirs(nd_many + ".tmp", exist_ok=True)
        with open(wlb6, "rb") as f:
            for i, line in enumerate(f):
                with open(os.path.join(nd_many + ".tmp", f"{i // 1000:02d}-{i:06d}.json"), "wb") as o:
                    o.write(line)
        os.rename(nd_many + ".tmp", nd_many)
    inputs.append(("ndjson-many", nd_many))
    selects = {"ndjson-wlb6": "select(.event_id == 1)",
               "ndjson-wlb6x4": "select(.event_id == 1)",
               "ndjson-wlb8": 'select(.winlog.event_id == "1")',
               "ndjson-many": "select(.event_id == 1)"}
    print(f"saker: {a.saker}; {a.runs} rounds, each command once per round; best time shown"
          f" (median last); stdout to /dev/null; -j {a.jobs}; rules from the compiled-rule cache"
          f" but for the --no-cache rows")
    print(f"{'input':<13} {'command':<36} {'seconds':>8} {'MB/s':>8} {'events/s':>10} {'RSS MiB':>8}"
          f" {'median':>8}")
    for kind, path in inputs:
        if os.path.isdir(path):
            size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)) / 1e6
        else:
            size = os.path.getsize(path) / 1e6
        n = count_events(a.saker, path)
        j = ["-j", str(a.jobs)]
        # jq reads a file on its standard input, a folder's files (in name order) as arguments
        jq_args = sorted(os.path.join(path, f) for f in os.listdir(path)) if os.path.isdir(path) else []
        jq_in = None if jq_args else path
        rows = []
        if a.only in (None, "dump"):
            rows.append(("saker dump", [a.saker, "dump", "-q"] + j + [path], None))
            if kind == "evtx":
                rows.append(("evtxexport -f xml", ["evtxexport", "-f", "xml", path], None))
            elif kind in selects:
                rows.append(("jq -c .", ["jq", "-c", "."] + jq_args, jq_in))
        if a.only in (None, "hunt") and os.path.isdir(a.rules):
            rows.append(("saker hunt (SigmaHQ windows)",
                         [a.saker, "hunt", "-q", "-f", "jsonl"] + j + ["-r", a.rules, path], None))
            rows.append(("saker hunt (SigmaHQ windows) --no-cache",
                         [a.saker, "hunt", "-q", "-f", "jsonl", "--no-cache"] + j +
                         ["-r", a.rules, path], None))
            rows.append(("saker hunt (built-in pack)", [a.saker, "hunt", "-q", "-f", "jsonl"] + j + [path], None))
            if kind in selects:
                rows.append((f"jq -c '{selects[kind]}'", ["jq", "-c", selects[kind]] + jq_args,
                             jq_in))
            if a.jobs == 1:
                rows.append(("saker hunt (SigmaHQ windows) -j 2",
                             [a.saker, "hunt", "-q", "-f", "jsonl", "-j", "2", "-r", a.rules, path],
                             None))
        # Round-robin: every command once per round, so that the VM's slow and fast phases fall
        # on all of them alike; each ratio is also taken within each round (the median of those
        # is printed next to the ratio of the best times).
        rows = [r for r in rows if shutil.which(r[1][0]) is not None or os.path.exists(r[1][0])]
        runs = {name: [] for name, _, _ in rows}
        for _ in range(a.runs):
            for name, cmd, stdin in rows:
                runs[name].append(run(cmd, stdin))
        times, per_round = {}, {}
        for name, _, _ in rows:
            res = runs[name]
            dt, rss, rc, err = min(res, key=lambda r: r[0])
            med = statistics.median(r[0] for r in res)
            times[name] = dt
            per_round[name] = [r[0] for r in res]
            print(f"{kind:<13} {name:<36} {dt:8.2f} {size / dt:8.1f} {n / dt:10.0f} {rss:8.1f}"
                  f" {med:8.2f}" + (f"  (exit {rc})" if rc not in (0, 1, 4, 5) else ""))

        def ratios(num, den):
            best_ratio = times[num] / times[den]
            med = statistics.median(x / y for x, y in zip(per_round[num], per_round[den]))
            return f"{best_ratio:.1f}x (best times; {med:.1f}x median of the rounds)"

        ref_name = next((k for k in times if k.startswith("evtxexport") or k.startswith("jq -c '")),
                        None) or ("jq -c ." if "jq -c ." in times else None)
        for name in times:
            if name.startswith("saker") and ref_name and not name.endswith("-j 2"):
                print(f"{kind:<13}   {name} is {ratios(ref_name, name)} the throughput of {ref_name}")
        j1, j2 = "saker hunt (SigmaHQ windows)", "saker hunt (SigmaHQ windows) -j 2"
        if j1 in times and j2 in times:
            print(f"{kind:<13}   saker hunt (SigmaHQ windows): -j 2 is {ratios(j1, j2)} -j 1")
            if ref_name and ref_name.startswith("jq -c '"):  # jq has one thread: for the record
                print(f"{kind:<13}   saker hunt (SigmaHQ windows) -j 2 is {ratios(ref_name, j2)}"
                      f" the throughput of {ref_name} (one thread)")
        files = f", {len(os.listdir(path))} files" if os.path.isdir(path) else ""
        print(f"{kind:<13} {size:.1f} MB, {n} events{files}")
    return 0


def rss_mode(a, wlb8):
    """Peak RSS of saker hunt (SigmaHQ rules, default -j) on a 512 MiB evtx and an 800 MiB NDJSON."""
    big_evtx = os.path.join(a.work, "evtx", "rss-512.evtx")
    big_nd = os.path.join(a.work, "ndjson", "rss-800.ndjson")
    if not os.path.exists(big_evtx):
        print("bench: building a 512 MiB evtx ...", flush=True)
        srcs = [os.path.join(CORPUS, d) for d in ("evtx-attack", "sigma-regression", "baseline",
                                                  os.path.join("broken", "python-evtx"))]
        subprocess.run([sys.executable, os.path.join(CORPUS, "benchmark", "evtx_concat.py"),
                        big_evtx + ".tmp", "--target-mib", "512", "--template-only"] + srcs,
                       check=True, stdout=subprocess.DEVNULL)
        os.rename(big_evtx + ".tmp", big_evtx)
    if not os.path.exists(big_nd):
        print("bench: building an 800 MiB NDJSON file (Winlogbeat 8 layout, repeated) ...", flush=True)
        # Streamed, not read whole: a child forked by a big process starts with its RSS, which
        # would show up in the child's peak RSS.
        with open(big_nd + ".tmp", "wb") as o:
            while o.tell() < 800 * 1024 * 1024:
                with open(wlb8, "rb") as i:
                    shutil.copyfileobj(i, o, 1 << 20)
        os.rename(big_nd + ".tmp", big_nd)
    print(f"saker: {a.saker}; hunt -r SigmaHQ windows, default -j ({os.cpu_count()} CPUs); budget 64 MiB")
    print(f"{'input':<13} {'MiB':>6} {'seconds':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
    # Each input twice: a first run, which loads the rules from their files and writes the
    # compiled-rule cache (its writer's memory adds to the loaded rules), and a run that reads it.
    cold = os.path.join(a.work, "rule-cache-rss")
    for kind, path in (("evtx", big_evtx), ("ndjson-wlb8", big_nd)):
        size = os.path.getsize(path)
        shutil.rmtree(cold, ignore_errors=True)
        for label in ("first run", "cached"):
            os.environ["SAKER_CACHE_DIR"] = cold
            dt, rss, rc, err = run([a.saker, "hunt", "-q", "-f", "jsonl", "-r", a.rules, path])
            print(f"{kind:<13} {size / 2**20:6.0f} {dt:8.2f} {size / 1e6 / dt:8.1f} {rss:13.1f}"
                  + ("  (under budget)" if rss < 64 else "  (OVER BUDGET)") + f"  {label}"
                  + (f"  (exit {rc})" if rc not in (0, 1, 4, 5) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
