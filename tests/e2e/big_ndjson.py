#!/usr/bin/env python3
"""Writes a large NDJSON file for the -j tests: the sample lines repeated to about 56 MiB, so that
a parallel scan splits it into parts of 16 MiB (src/cli/scan.c, ND_PART_BYTES), with what the cut
between two parts must not change placed on the cuts:
  - at 16 MiB a line ends exactly before the cut (the next line starts on it);
  - from 20 MiB a line longer than the reader's limit (16 MiB, SK_MAX_LINE_BYTES) runs past the
    32 MiB cut (reported once; the part after the cut reads on to its end and starts after it);
  - at 48 MiB an invalid line straddles the cut (reported once, with its line number);
and spread through the file: blank lines, CRLF line ends, invalid JSON, a JSON array line, and a
last line without a newline. Usage: big_ndjson.py OUT SAMPLE.ndjson..."""
import sys

PART = 16 << 20
out_path, samples = sys.argv[1], sys.argv[2:]
lines = [l for f in samples for l in open(f, "rb").read().splitlines() if l.strip()]
assert lines, "no sample lines"
buf = bytearray()
k = 0


def add(line, end=b"\n"):
    buf.extend(line + end)


def filler(upto):
    """Sample lines (and the odd damaged one) until fewer than 20000 bytes are left to upto."""
    global k
    while len(buf) + 20000 < upto:
        k += 1
        if k % 997 == 0:
            add(b"")  # blank
        elif k % 1499 == 0:
            add(b'{"event_id": 1, "broken": ')  # invalid JSON
        elif k % 2003 == 0:
            add(b"[1, 2, 3]")  # not an object
        elif k % 89 == 0:
            add(lines[k % len(lines)], b"\r\n")
        else:
            add(lines[k % len(lines)])


def pad_to(target):
    """A valid line that ends (newline included) exactly at byte target."""
    while target - len(buf) > 5000:
        add(lines[0])
    need = target - len(buf)
    if need < 40:  # too little room for a line: move on by one
        add(lines[0])
        need = target - len(buf)
        assert need >= 40, need
    add(b'{"event_id":1,"pad":"' + b"x" * (need - 24) + b'"}')
    assert len(buf) == target


filler(PART)
pad_to(PART)  # the next line starts on the cut
filler(PART + (4 << 20))
add(b'{"event_id":1,"long":"' + b"z" * ((16 << 20) + 4096) + b'"}')  # over-long, across 2 * PART
assert len(buf) > 2 * PART
filler(3 * PART)
pad_to(3 * PART - 100)
add(b'{"event_id":1,"straddles":"' + b"y" * 300 + b'",}')  # invalid, across the cut
filler(56 << 20)
add(lines[1], b"")  # the last line has no newline
open(out_path, "wb").write(buf)
