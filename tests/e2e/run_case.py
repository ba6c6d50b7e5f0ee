#!/usr/bin/env python3
"""Runs one end-to-end case against the real saker binary and diffs its output.

A case is a folder tests/e2e/cases/NAME/ holding:
  args     the command line after 'saker' (shell words; @SRC@ = source root, @TMP@ = a fresh
           temporary folder, @CORPUS@ = ../shared/corpus); run with the source root as cwd
  shell    instead of args: a bash script (@SAKER@ = the binary), for pipes such as '| head -1';
           its exit status is compared
  stdin    optional: bytes fed to standard input (else nothing)
  stdin.path  optional: a file (relative to the source root) fed to standard input
  stdout   expected standard output (exact)
  stderr   expected standard error (exact, after masking figures that vary: times, rates)
  exit     expected exit status
  needs    optional: 'corpus' (skip with exit 77 when ../shared/corpus is absent);
           'no-valgrind' (skip in the valgrind job, SAKER_E2E_VALGRIND set, a case valgrind
           itself cannot run: it keeps its own files in TMPDIR, so a case that points TMPDIR at
           a missing folder stops it, and it needs its standard error)
  setup    optional: a shell snippet run first (cwd = @TMP@), e.g. to make a FIFO
  env      optional: KEY=VALUE lines added to the environment (COLUMNS=160, TZ=UTC and no
           NO_COLOR/CI by default)
The compiled-rule cache (SAKER_CACHE_DIR) is a fresh folder per case. When the run left a cache
file there, the case runs a second time (fresh @TMP@, setup again) with that cache, and both
runs must give the same output but for the summary's "(cached)": every case that loads rules
checks that a cached load behaves as the cold one. A case whose rules are in @TMP@ loads them
cold again (a fresh @TMP@ is another rule path, so another cache file). Not under valgrind (too
slow; the rule_cache_* cases run cached loads under it).
Usage: run_case.py SAKER SRCROOT CORPUS CASE_DIR [--update]
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

MASKS = [
    (re.compile(r"in \d+\.\d+ s \(\d+\.\d+ MB/s, \d+ events/s\)"), "in T s (R MB/s, R events/s)"),
    (re.compile(r"in \d+\.\d+ s\b"), "in T s"),
    (re.compile(r"saker-spool-\w+"), "saker-spool-X"),
]


def mask(text):
    for rx, rep in MASKS:
        text = rx.sub(rep, text)
    return text


def main():
    saker, src, corpus, case = sys.argv[1:5]
    saker, src, corpus = os.path.abspath(saker), os.path.abspath(src), os.path.abspath(corpus)
    update = "--update" in sys.argv[5:]
    name = os.path.basename(case.rstrip("/"))

    def read(fn, default=None):
        p = os.path.join(case, fn)
        if not os.path.exists(p):
            return default
        with open(p, "rb") as f:
            return f.read()

    needs = (read("needs", b"") or b"").decode().split()
    if "corpus" in needs and not os.path.isdir(corpus):
        print(f"SKIP {name}: ../shared/corpus is absent ({corpus})")
        return 77
    if "no-valgrind" in needs and os.environ.get("SAKER_E2E_VALGRIND"):
        print(f"SKIP {name}: valgrind cannot run this case (see 'needs')")
        return 77
    def run_once(cache):
        with tempfile.TemporaryDirectory(prefix="saker-e2e-") as tmp:
            subst = lambda s: (s.replace("@SRC@", src).replace("@TMP@", tmp)
                               .replace("@CORPUS@", corpus))
            setup = read("setup")
            if setup:
                subprocess.run(["sh", "-c", subst(setup.decode())], cwd=tmp, check=True)
            shell = read("shell")
            if shell is not None:
                cmd = ["bash", "-c", subst(shell.decode()).replace("@SAKER@", shlex.quote(saker))]
            else:
                cmd = [saker] + [subst(a) for a in shlex.split(read("args").decode())]
            stdin = read("stdin")
            spath = read("stdin.path")
            if spath is not None:
                with open(os.path.join(src, spath.decode().strip()), "rb") as f:
                    stdin = f.read()
            env = dict(os.environ)
            env.pop("NO_COLOR", None)
            env.pop("CI", None)
            env["COLUMNS"] = "160"
            env["TZ"] = "UTC"
            env["SAKER_CACHE_DIR"] = cache
            for line in (read("env", b"") or b"").decode().splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    env[k] = subst(v)
            env["LC_ALL"] = "C.UTF-8"
            p = subprocess.run(cmd, cwd=src, input=stdin if stdin is not None else b"",
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               timeout=300)
            def norm(b):
                return (b.decode("utf-8", "replace").replace(tmp, "@TMP@")
                        .replace(corpus, "@CORPUS@"))
            return {"stdout": norm(p.stdout), "stderr": mask(norm(p.stderr)),
                    "exit": f"{p.returncode}\n"}

    with tempfile.TemporaryDirectory(prefix="saker-e2e-cache-") as cache:
        got = run_once(cache)
        if not update and os.listdir(cache) and not os.environ.get("SAKER_E2E_VALGRIND"):
            again = run_once(cache)
            for k in got:
                # The summary says where the rules came from: the only difference allowed.
                if again[k].replace(" (cached)", "") != got[k].replace(" (cached)", ""):
                    print(f"--- {name}: {k} differs when the rules come from the cache")
                    print("cold load:\n" + got[k])
                    print("cached load:\n" + again[k])
                    return 1
        if update:
            for k, v in got.items():
                with open(os.path.join(case, k), "w", encoding="utf-8") as f:
                    f.write(v)
            print(f"updated {name}")
            return 0
        ok = True
        for k, v in got.items():
            want = read(k)
            want = want.decode("utf-8") if want is not None else None
            if want != v:
                ok = False
                print(f"--- {name}: {k} differs")
                print("expected:\n" + (want if want is not None else "<missing file>"))
                print("got:\n" + v)
        if ok:
            print(f"ok {name}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
