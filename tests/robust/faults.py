#!/usr/bin/env python3
"""Fault injection: reads that fail part-way through an input file, a disk that fills up part-way
through the output, and a reader that closes the pipe early. The I/O faults come from the
LD_PRELOAD shim faultshim.c (built by tests/robust/meson.build), so no FUSE or root is needed.
Every case checks the exit status, the diagnostics, and that the output holds whole JSON lines
only (it ends with a newline and every line parses).
Usage: faults.py SAKER LIBFAULTSHIM SRCROOT
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

RULE = "tests/e2e/rules/any_process.yml"


def whole_lines(data, what, failures):
    """The number of lines of data, or None (and a failure) when it is not whole JSON lines."""
    if data and not data.endswith(b"\n"):
        failures.append(f"{what}: output does not end with a newline: ...{data[-80:]!r}")
        return None
    n = 0
    for line in data.splitlines():
        try:
            json.loads(line)
        except ValueError:
            failures.append(f"{what}: output line is not JSON: {line[:120]!r}")
            return None
        n += 1
    return n


def main():
    saker, shim, src = (os.path.abspath(a) for a in sys.argv[1:4])
    failures = []
    cases = 0

    def run(args, env_extra, stdin=None, **kw):
        env = dict(os.environ)
        env.update(env_extra)
        env["LD_PRELOAD"] = shim
        # Under ASan the shim precedes the sanitizer runtime in the library list; that is fine
        # here (the shim forwards to the next definition, ASan's interceptor).
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
        # libevtx leaks on its own error paths (a failed read at open): third-party frames only.
        env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(src, "tests/fuzz/lsan.supp")
        return subprocess.run([saker] + args, cwd=src, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=300, **kw)

    def expect(what, cond, p, detail=""):
        if not cond:
            failures.append(f"{what}: {detail}\n  exit {p.returncode}\n  stderr: "
                            f"{p.stderr.decode('utf-8', 'replace').strip()[:600]}")

    with tempfile.TemporaryDirectory(prefix="saker-faults-") as tmp:
        nd = os.path.join(tmp, "in.ndjson")
        shutil.copy(os.path.join(src, "samples/sysmon_t1218.ndjson"), nd)
        data = open(nd, "rb").read()

        # 1. NDJSON: the read fails after N bytes: the lines before it are read, the error is
        #    reported with the file name, the run ends with 4 (input skipped).
        for after in (0, 1, 20000, len(data) // 2):
            cases += 1
            what = f"ndjson read fails after {after} bytes"
            p = run(["dump", "-j", "1", nd],
                    {"SK_FAULT_READ_PATH": "/in.ndjson", "SK_FAULT_READ_AFTER": str(after)})
            n = whole_lines(p.stdout, what, failures)
            complete = data[:after].count(b"\n")
            err = p.stderr.decode()
            want_rc = 2 if after < 8 else 4  # nothing read at all (format sniffing failed): 2
            expect(what, p.returncode == want_rc, p, f"exit status, expected {want_rc}")
            expect(what, f"{nd}: error: " in err and "Input/output error" in err, p,
                   "the read error is not reported")
            if n is not None:
                expect(what, n <= complete and n >= complete - 1, p,
                       f"{n} events, {complete} complete lines before the fault")

        # 2. evtx: the read fails after N bytes. libevtx reads every chunk at open, so it loses
        #    the file; the native decoder reads chunk by chunk and keeps the chunks before the
        #    fault. Either way the error is reported with the file name, another input still
        #    gives its events, and the exit status is 5 (hits, input skipped).
        ev = os.path.join(tmp, "in.evtx")
        shutil.copy(os.path.join(src, "tests/fixtures/evtx/multi_chunk.evtx"), ev)
        help_text = subprocess.run([saker, "hunt", "--help"], stdout=subprocess.PIPE).stdout
        readers = [["--evtx-reader", r] for r in ("native", "libevtx")] \
            if b"--evtx-reader" in help_text else [[]]
        for extra in readers:
            base = ["hunt", "-j", "1", "-r", RULE, "-f", "jsonl"] + extra
            whole = whole_lines(subprocess.run([saker] + base + [ev], cwd=src,
                                               stdout=subprocess.PIPE,
                                               stderr=subprocess.DEVNULL).stdout, "evtx", failures)
            for after in (100, 4096 + 1000, 100000):
                cases += 1
                what = f"evtx read fails after {after} bytes {' '.join(extra)}"
                p = run(base + [ev, "tests/fixtures/evtx/sysmon_clean.evtx"],
                        {"SK_FAULT_READ_PATH": "/in.evtx", "SK_FAULT_READ_AFTER": str(after)})
                n = whole_lines(p.stdout, what, failures)
                err = p.stderr.decode()
                expect(what, p.returncode == 5, p, "exit status, expected 5 (hits, input skipped)")
                expect(what, f"{ev}: error: " in err and ("cannot open: " in err or
                                                         "Input/output error" in err), p,
                       "the read error is not reported")
                expect(what, n is not None and 1 <= n <= 1 + (whole or 0), p,
                       f"{n} hits: expected the 1 of sysmon_clean.evtx and at most {whole} more")

        # 3. Disk full part-way through the output (-o FILE): exit 2, one message, and the file
        #    holds whole lines only (cut back to the last whole line), however far it got.
        out = os.path.join(tmp, "out.jsonl")
        for cmd in (["dump", "-j", "1", "-o", out, "samples/sysmon_t1218.evtx"],
                    ["hunt", "-j", "1", "-r", RULE, "-f", "jsonl", "-o", out,
                     "samples/sysmon_t1218.evtx"]):
            size = len(subprocess.run([saker] + [a if a != out else "-" for a in cmd], cwd=src,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout)
            for after in (0, 1, 5000, size // 2, size - 1):
                cases += 1
                what = f"{cmd[0]}: the disk fills after {after} of {size} bytes"
                if os.path.exists(out):
                    os.unlink(out)
                p = run(cmd, {"SK_FAULT_WRITE_PATH": "/out.jsonl", "SK_FAULT_WRITE_AFTER": str(after)})
                got = open(out, "rb").read() if os.path.exists(out) else b""
                expect(what, p.returncode == 2, p, "exit status, expected 2")
                expect(what, f"cannot write to {out}: No space left on device" in p.stderr.decode(),
                       p, "the write error is not reported")
                expect(what, len(got) <= after, p, f"{len(got)} bytes in the file")
                whole_lines(got, what, failures)

        # 4. A closed pipe: the reader leaves after one line; saker ends quietly (no "Broken
        #    pipe", no error) with the status it had (0 for dump).
        for cmd, want in ((["dump", "-j", "1", "tests/fixtures/evtx/multi_chunk.evtx"], 0),
                          (["hunt", "-j", "1", "-r", RULE, "-f", "jsonl",
                            "tests/fixtures/evtx/multi_chunk.evtx"], 1)):
            cases += 1
            what = f"{cmd[0]} into a pipe closed after one line"
            proc = subprocess.Popen([saker] + cmd, cwd=src, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            first = proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read().decode()
            rc = proc.wait(timeout=120)
            if rc != want or "pipe" in err.lower() or "error" in err:
                failures.append(f"{what}: exit {rc} (expected {want}), stderr: {err.strip()[:300]}")
            try:
                json.loads(first)
            except ValueError:
                failures.append(f"{what}: the first line is not whole JSON: {first[:100]!r}")

    for f in failures:
        print("FAIL " + f)
    print(f"{cases} fault cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
