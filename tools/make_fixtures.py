#!/usr/bin/env python3
"""Regenerate saker's evtx fixtures and samples from the JSON descriptions committed beside them.

Usage:
  make_fixtures.py [--writer PATH]                 rewrite every output in the source tree
  make_fixtures.py --check [--writer PATH] [--outdir DIR] [--only ID]
                                                   regenerate into DIR and compare byte for byte
  make_fixtures.py --list                          print the output ids (one per line)

Outputs (see MANIFEST below): tests/fixtures/evtx/*.evtx from tests/fixtures/evtx/*.json, with
damaged variants made by the writer's damage options, and samples/*.evtx plus
samples/*.ndjson (Winlogbeat 8 form, by make_ndjson.py) from tools/samples/*.json. The writer is
deterministic, so --check is how the Meson suite `writer` proves the committed binaries are
exactly what the descriptions produce.

--writer defaults to the first saker-evtx-write found in build-writer/, build/ or any build*/
directory of the source tree.
"""

import argparse
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import make_ndjson  # noqa: E402

FIX = "tests/fixtures/evtx/"

# (output, description, writer arguments or "ndjson")
MANIFEST = [
    (FIX + "sysmon_clean.evtx", FIX + "sysmon_clean.json", []),
    (FIX + "multi_chunk.evtx", FIX + "multi_chunk.json", []),
    (FIX + "control_chars.evtx", FIX + "control_chars.json", []),
    (FIX + "sysmon_eid4_version.evtx", FIX + "sysmon_eid4_version.json", []),
    (FIX + "unnamed_data.evtx", FIX + "unnamed_data.json", []),
    (FIX + "security_4688.evtx", FIX + "security_4688.json", []),
    (FIX + "user_data.evtx", FIX + "user_data.json", []),
    (FIX + "typed_values.evtx", FIX + "typed_values.json", []),
    (FIX + "real_values.evtx", FIX + "real_values.json", []),
    (FIX + "damaged_base.evtx", FIX + "damaged_base.json", []),
    # Damaged variants of damaged_base (6 records, 3 per chunk, 2 chunks).
    # Cut inside chunk 1, in the middle of record 5: records 1-4 are whole.
    (FIX + "damaged_truncated.evtx", FIX + "damaged_base.json", ["--truncate", "TRUNCATE_AT"]),
    (FIX + "damaged_chunk_crc.evtx", FIX + "damaged_base.json", ["--corrupt-chunk-crc", "0"]),
    (FIX + "damaged_record_size.evtx", FIX + "damaged_base.json", ["--corrupt-record-size", "2"]),
    (FIX + "damaged_dirty_header.evtx", FIX + "damaged_base.json", ["--dirty-header"]),
    ("samples/sysmon_t1218.evtx", "tools/samples/sysmon_t1218.json", []),
    ("samples/sysmon_t1218.ndjson", "tools/samples/sysmon_t1218.json", "ndjson"),
    ("samples/benign.evtx", "tools/samples/benign.json", []),
    ("samples/benign.ndjson", "tools/samples/benign.json", "ndjson"),
]

# Where damaged_truncated.evtx is cut: 4096 (file header) + 65536 (chunk 0) + 5300 bytes of
# chunk 1, whose records are 4 (at 512, with the inline template), 5 (at 4595) and 6 (at 6061):
# the cut falls inside record 5, so records 1-4 are whole.
TRUNCATE_AT = 4096 + 65536 + 5300


def output_id(out):
    return os.path.basename(out).replace(".", "_")


def clean_descriptions():
    """Descriptions whose plain output must read back exactly (used by the round-trip test)."""
    seen = []
    for out, desc, args in MANIFEST:
        path = os.path.join(ROOT, desc)
        if args == [] and path not in seen:
            seen.append(path)
    return seen


def find_writer():
    names = ["build-writer"] + ["build"] + sorted(
        os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "build*")))
    for name in names:
        exe = os.path.join(ROOT, name, "tools", "saker-evtx-write")
        if os.access(exe, os.X_OK):
            return exe
    return None


def generate(writer, out_path, desc, args):
    """Writes one output; returns an error message or None."""
    src = os.path.join(ROOT, desc)
    if args == "ndjson":
        try:
            text = make_ndjson.ndjson_text(src)
        except (OSError, ValueError, make_ndjson.DescriptionError) as exc:
            return "%s: %s" % (desc, exc)
        with open(out_path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        return None
    args = [str(TRUNCATE_AT) if a == "TRUNCATE_AT" else a for a in args]
    r = subprocess.run([writer] + args + [src, out_path], stderr=subprocess.PIPE, check=False)
    if r.returncode != 0:
        return r.stderr.decode("utf-8", "replace").strip() or "writer failed"
    return None


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writer", help="path of saker-evtx-write")
    ap.add_argument("--check", action="store_true",
                    help="write into --outdir and compare with the committed files")
    ap.add_argument("--outdir", help="where --check writes (default: a temporary directory)")
    ap.add_argument("--only", action="append", help="only this output id (repeatable)")
    ap.add_argument("--list", action="store_true", help="print the output ids")
    args = ap.parse_args(argv[1:])

    if args.list:
        for out, _, _ in MANIFEST:
            print(output_id(out))
        return 0
    selected = [m for m in MANIFEST if not args.only or output_id(m[0]) in args.only]
    if args.only and len(selected) != len(args.only):
        sys.stderr.write("make_fixtures.py: error: unknown id in --only (see --list)\n")
        return 2
    writer = args.writer or find_writer()
    if writer is None and any(m[2] != "ndjson" for m in selected):
        sys.stderr.write("make_fixtures.py: error: saker-evtx-write not found; build it "
                         "(ninja -C build-writer tools/saker-evtx-write) or pass --writer\n")
        return 2

    outdir = args.outdir
    tmp = None
    if args.check and outdir is None:
        import tempfile
        tmp = tempfile.TemporaryDirectory(prefix="saker-fixtures-")
        outdir = tmp.name
    failures = 0
    for out, desc, wargs in selected:
        committed = os.path.join(ROOT, out)
        target = os.path.join(outdir, os.path.basename(out)) if args.check else committed
        os.makedirs(os.path.dirname(target), exist_ok=True)
        err = generate(writer, target, desc, wargs)
        if err:
            print("FAIL %s: %s" % (out, err))
            failures += 1
        elif args.check:
            try:
                with open(committed, "rb") as f:
                    want = f.read()
            except OSError as exc:
                print("FAIL %s: %s" % (out, exc))
                failures += 1
                continue
            with open(target, "rb") as f:
                got = f.read()
            if got != want:
                first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                             min(len(got), len(want)))
                print("FAIL %s: regenerated file differs from the committed one (sizes %d/%d, "
                      "first difference at byte %d); rerun tools/make_fixtures.py if the "
                      "description changed" % (out, len(got), len(want), first))
                failures += 1
            else:
                print("ok   %s (%d bytes, identical)" % (out, len(got)))
        else:
            print("wrote %s" % out)
    if tmp:
        tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
