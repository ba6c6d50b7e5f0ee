#!/usr/bin/env python3
"""The table as a person sees it: saker runs in a real terminal (tmux) at 80 and 200 columns and
the captured screen is compared with golden text (tests/e2e/tmux/table_<W>.txt). Also checks
colour: --color auto colours on a terminal, and NO_COLOR turns it off.
Usage: tmux_table.py SAKER SRCROOT [--update]"""
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def screen(saker, src, width, env_extra, escapes=False):
    name = f"saker-test-{os.getpid()}-{width}"
    cmd = (f"cd {shlex.quote(src)} && env TZ=UTC {env_extra} {shlex.quote(saker)} hunt -q "
           f"-r tests/e2e/rules samples/sysmon_t1218.evtx; echo '[exit '$?']'; sleep 60")
    subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    for attempt in range(5):
        p = subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(width), "-y", "80",
                            "bash", "--norc", "-c", cmd], capture_output=True, text=True)
        if p.returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"tmux new-session failed: {p.stderr}")
    try:
        out = ""
        for _ in range(100):
            time.sleep(0.1)
            args = ["tmux", "capture-pane", "-p", "-t", name] + (["-e"] if escapes else [])
            p = subprocess.run(args, capture_output=True, text=True)
            if p.returncode != 0:  # the tmux server may still be starting
                continue
            out = p.stdout
            if "[exit " in out:
                break
        return "\n".join(l.rstrip() for l in out.rstrip("\n").splitlines()) + "\n"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def main():
    saker, src = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    update = "--update" in sys.argv
    if not shutil.which("tmux"):
        print("SKIP: tmux is not installed")
        return 77
    ok = True
    for width in (80, 200):
        got = screen(saker, src, width, "TERM=xterm-256color NO_COLOR=")
        gold = os.path.join(HERE, "tmux", f"table_{width}.txt")
        if update:
            os.makedirs(os.path.dirname(gold), exist_ok=True)
            open(gold, "w").write(got)
            continue
        want = open(gold).read()
        if got != want:
            ok = False
            print(f"--- table at {width} columns differs\nexpected:\n{want}\ngot:\n{got}")
        widest = max(len(l) for l in got.splitlines())
        if widest > width:
            ok = False
            print(f"a line is {widest} columns wide on a {width}-column terminal")
    coloured = screen(saker, src, 200, "TERM=xterm-256color NO_COLOR=", escapes=True)
    plain = screen(saker, src, 200, "TERM=xterm-256color NO_COLOR=1", escapes=True)
    if "\x1b[31m" not in coloured:
        ok = False
        print("--color auto did not colour the table on a terminal")
    if "\x1b[3" in plain:
        ok = False
        print("NO_COLOR=1 did not turn colour off")
    print("ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
