#!/usr/bin/env python3
"""Truncated inputs, generated: every evtx file below is cut in the file header, at every chunk
boundary (and just after it, inside the chunk header, right after it) and inside records (at the
start, a few bytes in, half-way and one byte short of the end of the first records of each chunk
and of the last one), and an NDJSON file at every line boundary and inside lines; `saker dump`
reads each cut and must:
  - end normally (no signal, no sanitizer report, no timeout), with exit status 0 for the whole
    file, 2 when nothing could be read (a cut inside the 4 KiB file header) and 4 otherwise (the
    damage is reported on stderr, naming the file);
  - print only whole JSON lines, each for a record that lies entirely before the cut;
  - print at least every record of the chunks (evtx) or lines (NDJSON) that are complete.
Usage: truncation.py SAKER SRCROOT
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evtx_patch  # noqa: E402

EVTX = ["tests/fixtures/evtx/multi_chunk.evtx", "samples/sysmon_t1218.evtx",
        "tests/fixtures/evtx/user_data.evtx"]
NDJSON = "samples/benign.ndjson"


def readers(saker):
    """The evtx decoders to test: each that `--evtx-reader` offers (both read every cut)."""
    text = subprocess.run([saker, "dump", "--help"], stdout=subprocess.PIPE).stdout.decode()
    return [["--evtx-reader", r] for r in ("native", "libevtx")] if "--evtx-reader" in text else [[]]


def run(saker, path, extra=()):
    p = subprocess.run([saker, "dump", "-j", "1", "--progress", "never", *extra, path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def evtx_layout(data):
    """(chunk start, chunk end, [(record id, start, end)]) per chunk."""
    out = []
    for off in evtx_patch.chunks(data):
        recs = []
        for r in evtx_patch.records(data):
            if off <= r < off + evtx_patch.CHUNK:
                size = int.from_bytes(data[r + 4:r + 8], "little")
                rid = int.from_bytes(data[r + 8:r + 16], "little")
                recs.append((rid, r, r + size))
        out.append((off, off + evtx_patch.CHUNK, recs))
    return out


def evtx_cuts(data, layout):
    cuts = {0, 1, 7, 8, 100, 4095, len(data)}
    for start, end, recs in layout:
        cuts.update({start, start + 1, start + 511, start + 512, end - 1, end})
        picked = recs[:3] + recs[-1:]
        for _, a, b in picked:
            cuts.update({a, a + 4, (a + b) // 2, b - 1, b})
    return sorted(c for c in cuts if 0 <= c <= len(data))


def check(failures, what, rc, out, err, display, want_rc, allowed, required):
    def fail(msg):
        failures.append(f"{what}: {msg}\n  exit {rc}\n  stderr: {err.strip()[:600]}")
    if rc < 0:
        return fail(f"killed by signal {-rc}")
    if "Sanitizer" in err or "runtime error" in err:
        return fail("sanitizer report")
    if rc != want_rc:
        return fail(f"exit status {rc}, expected {want_rc}")
    if want_rc != 0 and display not in err:
        return fail("the damage is not reported on stderr")
    if out and not out.endswith("\n"):
        return fail("output does not end with a newline")
    got = set()
    for line in out.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            return fail(f"output line is not JSON: {line[:120]}")
        src = doc.get("source", {})
        got.add(src.get("record_id", src.get("line")))
    if not got <= allowed:
        return fail(f"records not wholly before the cut were printed: {sorted(got - allowed)[:10]}")
    if not required <= got:
        return fail(f"records of complete chunks or lines are missing: {sorted(required - got)[:10]}")


def main():
    saker, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    failures = []
    runs = 0
    with tempfile.TemporaryDirectory(prefix="saker-trunc-") as tmp:
        cut_path = os.path.join(tmp, "cut.evtx")
        for extra in readers(saker):
            for rel in EVTX:
                data = open(os.path.join(src, rel), "rb").read()
                layout = evtx_layout(data)
                for n in evtx_cuts(data, layout):
                    with open(cut_path, "wb") as f:
                        f.write(data[:n])
                    rc, out, err = run(saker, cut_path, extra)
                    runs += 1
                    allowed = {rid for _, _, recs in layout for rid, a, b in recs if b <= n}
                    required = {rid for s, e, recs in layout if e <= n for rid, _, _ in recs}
                    want = 0 if n == len(data) else 2 if n < 4096 else 4
                    check(failures, f"{rel} cut at {n} {' '.join(extra)}", rc, out, err,
                          cut_path, want, allowed, required)
        # NDJSON: line boundaries and mid-line cuts of the first 30 lines.
        data = open(os.path.join(src, NDJSON), "rb").read()
        ends = []  # offset just past each line's newline
        pos = 0
        while len(ends) < 30:
            nl = data.index(b"\n", pos)
            ends.append(nl + 1)
            pos = nl + 1
        cut_path = os.path.join(tmp, "cut.ndjson")
        cuts = set()
        prev = 0
        for e in ends:
            cuts.update({prev + 1, (prev + e) // 2, e - 1, e})
            prev = e
        for n in sorted(cuts):
            with open(cut_path, "wb") as f:
                f.write(data[:n])
            rc, out, err = run(saker, cut_path)
            runs += 1
            whole = sum(1 for e in ends if e <= n)  # lines with their newline
            # A line cut just before its newline is still whole JSON.
            last_whole = whole + (1 if (whole < len(ends) and n == ends[whole] - 1) else 0)
            mid = n not in ends and last_whole == whole
            allowed = set(range(1, last_whole + 1))
            check(failures, f"{NDJSON} cut at {n}", rc, out, err, cut_path, 4 if mid else 0,
                  allowed, allowed)
    for f in failures:
        print("FAIL " + f)
    print(f"{runs} truncated inputs read, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
