#!/usr/bin/env python3
"""Round-trip test of saker-evtx-write: write every description, read it back, compare.

Usage: test_writer_roundtrip.py --writer PATH [DESCRIPTION.json ...]

Without descriptions, every clean description listed by make_fixtures.py is used (fixtures and
samples). Each one is written with the writer, then read back by two independent readers:

- libevtx's `evtxexport -f xml`, whose XML is parsed here. libevtx escapes only & < > and passes
  control characters through raw, which makes its XML invalid, so C0 controls (and CR, which an
  XML parser would turn into LF) are mapped into the private use area before parsing and back
  afterwards. It prints 9 fractional digits of TimeCreated.
- python-evtx (`import Evtx`), walking its node tree directly instead of its XML, because its
  XML view drops control characters. If this interpreter lacks the module, the check is re-run
  under another interpreter that has it (the Debian package installs it for /usr/bin/python3),
  or reported as not done.

For every record: EventRecordID, EventID, Qualifiers, Version, Level, Task, Opcode, Keywords,
TimeCreated, ProcessID, ThreadID, Channel, Computer, Provider, UserID and every EventData
Name/value pair (or the UserData text values) must equal the description. Exit status: 0 pass,
1 fail, 77 skip (evtxexport is missing; Meson reports SKIP).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures  # noqa: E402
import make_ndjson  # noqa: E402

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
SKIP = 77

# C0 controls other than TAB and LF are not allowed in XML 1.0; CR would be normalised to LF.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f]")
_PUA = re.compile("[\ue000-\ue01f]")


def protect(text):
    return _CONTROL.sub(lambda m: chr(0xE000 + ord(m.group())), text)


def unprotect(text):
    return _PUA.sub(lambda m: chr(ord(m.group()) - 0xE000), text) if text else ""


class Failure(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Expected values

def filetime_text(time_s, digits):
    dt, frac = make_ndjson.parse_time(time_s)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "." + ("%07d" % frac + "00")[:digits] + "Z"


def libevtx_value(v):
    """How libevtx renders a data value of the description (None: do not compare)."""
    if not isinstance(v, dict):
        return make_ndjson.value_text(v)
    t, x = v.get("type"), v.get("value")
    if t in ("int8", "int16", "int32", "int64") and make_ndjson.parse_number(x, t) < 0:
        return None  # libevtx 20181227 renders negative signed integers wrongly
    if t == "hexint32":
        return "0x%08x" % make_ndjson.parse_number(x, t)
    if t == "hexint64":
        return "0x%016x" % make_ndjson.parse_number(x, t)
    if t == "filetime":
        return filetime_text(x, 9)
    if t in ("real32", "real64"):  # "%e" with a three-digit exponent: 1.500000e+000
        m, e = ("%.6e" % make_ndjson.real_value(x, t)).split("e")
        return "%se%s%03d" % (m, e[0], abs(int(e)))
    return make_ndjson.value_text(v)


def pyevtx_value(v):
    """How python-evtx's node API renders a data value (None: do not compare)."""
    if not isinstance(v, dict):
        return make_ndjson.value_text(v)
    t, x = v.get("type"), v.get("value")
    if t == "guid":
        return make_ndjson.value_text(v).lower()
    if t == "bool":
        return "True" if make_ndjson.value_text(v) == "true" else "False"
    if t in ("hexint32", "hexint64", "filetime", "binary", "real32", "real64"):
        return None  # rendered in python-evtx's own formats; libevtx checks these
    return libevtx_value(v)


def expected_pairs(e, render):
    """[(name, value)] for EventData, or the text leaves of UserData in document order."""
    if e["items"] is not None:
        return [(n, render(v)) for n, v in e["items"]]
    pairs = []

    def walk(name, body):
        if isinstance(body, dict):
            for k, child in body.items():
                if k.startswith("@") or k.startswith("_"):
                    continue
                for item in (child if isinstance(child, list) else [child]):
                    walk(k, item)
        else:
            pairs.append((name, render(body)))

    if e.get("user_data"):
        (root, body), = e["user_data"].items()
        walk(root, body)
    return pairs


def expected_system(e, time_digits):
    sysf = {
        "Provider": e["provider"],
        "EventID": str(e["event_id"]),
        "Qualifiers": str(e["qualifiers"]) if "qualifiers" in e else "",
        "Version": str(e["version"]),
        "Level": str(e["level"]),
        "Task": str(e["task"]),
        "Opcode": str(e["opcode"]),
        "Keywords": "0x%016x" % e["keywords"],
        "EventRecordID": str(e["record_id"]),
        "ProcessID": str(e["process_id"]),
        "ThreadID": str(e["thread_id"]),
        "Channel": e["channel"],
        "Computer": e["computer"],
        "UserID": e.get("user_id", ""),
    }
    if time_digits:
        sysf["TimeCreated"] = filetime_text(e["time"], time_digits)
    return sysf


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def mask_astral(text):
    """libevtx 20181227 decodes UTF-16 surrogate pairs wrongly (U+1F600 comes out as U+1F201),
    so its output is compared with characters outside the BMP masked; python-evtx checks them."""
    return _ASTRAL.sub("\ufffd", text) if text else text


def compare(where, got_sys, got_pairs, e, render, time_digits):
    want_sys = expected_system(e, time_digits)
    for k, want in want_sys.items():
        got = got_sys.get(k, "")
        if got != want:
            raise Failure("%s: %s is %r, expected %r" % (where, k, got, want))
    want_pairs = expected_pairs(e, render)
    if len(got_pairs) != len(want_pairs):
        raise Failure("%s: %d data items, expected %d" % (where, len(got_pairs), len(want_pairs)))
    for i, ((gn, gv), (wn, wv)) in enumerate(zip(got_pairs, want_pairs)):
        if gn != wn:
            raise Failure("%s: data item %d is named %r, expected %r" % (where, i, gn, wn))
        if wv is not None and render is libevtx_value:
            gv, wv = mask_astral(gv), mask_astral(wv)
        if wv is not None and gv != wv:
            raise Failure("%s: data item %d (%s) is %r, expected %r" % (where, i, wn, gv, wv))


# ----------------------------------------------------------------------------------------------
# libevtx

def libevtx_records(evtx_path):
    out = subprocess.run(["evtxexport", "-f", "xml", evtx_path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    if out.returncode != 0 or out.stderr.strip():
        raise Failure("evtxexport failed on %s: %s" % (evtx_path, out.stderr.decode(
            "utf-8", "replace").strip()))
    text = out.stdout.decode("utf-8")
    records = []
    for chunk in re.findall(r"<Event .*?</Event>", text, re.S):
        root = ET.fromstring(protect(chunk))
        system = root.find(NS + "System")
        got = {}
        for child in system:
            tag = child.tag[len(NS):]
            if tag == "Provider":
                got["Provider"] = child.get("Name", "")
            elif tag == "EventID":
                got["EventID"] = child.text or ""
                got["Qualifiers"] = child.get("Qualifiers", "")
            elif tag == "TimeCreated":
                got["TimeCreated"] = child.get("SystemTime", "")
            elif tag == "Execution":
                got["ProcessID"] = child.get("ProcessID", "")
                got["ThreadID"] = child.get("ThreadID", "")
            elif tag == "Security":
                got["UserID"] = child.get("UserID", "")
            else:
                got[tag] = unprotect(child.text)
        pairs = []
        event_data = root.find(NS + "EventData")
        user_data = root.find(NS + "UserData")
        if event_data is not None:
            for d in event_data:
                pairs.append((d.get("Name"), unprotect(d.text)))
        elif user_data is not None:
            def walk(el):
                kids = list(el)
                if not kids:
                    pairs.append((el.tag.split("}")[-1], unprotect(el.text)))
                for k in kids:
                    walk(k)
            for top in user_data:
                for k in top:
                    walk(k)
        records.append((got, pairs))
    return records


# ----------------------------------------------------------------------------------------------
# python-evtx

def pyevtx_records(evtx_path):
    import Evtx.Evtx as evtx
    import Evtx.Nodes as nodes

    records = []
    with evtx.Evtx(evtx_path) as log:
        for record in log.records():
            root = record.root()
            subs = root.substitutions()

            def text_of(node):
                out = []
                for c in node.children():
                    if isinstance(c, nodes.ValueNode):
                        out.append(c.children()[0].string())
                    elif isinstance(c, (nodes.NormalSubstitutionNode,
                                        nodes.ConditionalSubstitutionNode)):
                        out.append(subs[c.index()].string())
                return "".join(out)

            def attrs(node):
                a = {}
                for c in node.children():
                    if isinstance(c, nodes.AttributeNode):
                        a[c.attribute_name().string()] = text_of(c)
                return a

            def elements(node):
                return [c for c in node.children() if isinstance(c, nodes.OpenStartElementNode)]

            event = elements(root.template())[0]  # after the fragment header
            got, pairs = {}, []
            for section in elements(event):
                name = section.tag_name()
                if name == "System":
                    for child in elements(section):
                        tag, a = child.tag_name(), attrs(child)
                        if tag == "Provider":
                            got["Provider"] = a.get("Name", "")
                        elif tag == "EventID":
                            got["EventID"] = text_of(child)
                            got["Qualifiers"] = a.get("Qualifiers", "")
                        elif tag == "Execution":
                            got["ProcessID"] = a.get("ProcessID", "")
                            got["ThreadID"] = a.get("ThreadID", "")
                        elif tag == "Security":
                            got["UserID"] = a.get("UserID", "")
                        elif tag not in ("TimeCreated", "Correlation"):
                            got[tag] = text_of(child)
                elif name == "EventData":
                    for d in elements(section):
                        pairs.append((attrs(d).get("Name"), text_of(d)))
                elif name == "UserData":
                    def walk(el):
                        kids = elements(el)
                        if not kids:
                            pairs.append((el.tag_name(), text_of(el)))
                        for k in kids:
                            walk(k)
                    for top in elements(section):
                        for k in elements(top):
                            walk(k)
            if str(record.record_num()) != got.get("EventRecordID"):
                raise Failure("%s: record header id %d, EventRecordID %r" % (
                    evtx_path, record.record_num(), got.get("EventRecordID")))
            records.append((got, pairs))
    return records


def have_pyevtx():
    try:
        import Evtx.Evtx  # noqa: F401
        return True
    except ImportError:
        return False


def other_python_with_pyevtx():
    for interp in ("/usr/bin/python3", shutil.which("python3") or ""):
        if interp and os.path.realpath(interp) != os.path.realpath(sys.executable):
            r = subprocess.run([interp, "-c", "import Evtx.Evtx"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=False)
            if r.returncode == 0:
                return interp
    return None


# ----------------------------------------------------------------------------------------------

def check_file(evtx_path, desc_path, use_libevtx, use_pyevtx):
    _, events = make_ndjson.load_description(desc_path)
    name = os.path.basename(desc_path)
    readers = []
    if use_libevtx:
        readers.append(("evtxexport", libevtx_records, libevtx_value, 7))
    if use_pyevtx:
        readers.append(("python-evtx", pyevtx_records, pyevtx_value, 0))
    for reader, read, render, digits in readers:
        recs = read(evtx_path)
        if len(recs) != len(events):
            raise Failure("%s (%s): %d records read, %d described" % (
                name, reader, len(recs), len(events)))
        for i, ((got, pairs), e) in enumerate(zip(recs, events)):
            if reader == "evtxexport":
                got = dict(got)
                # 9 digits printed; the writer stores 7.
                if not got.get("TimeCreated", "").endswith("00Z"):
                    raise Failure("%s (%s): record %d: TimeCreated %r" % (
                        name, reader, i, got.get("TimeCreated")))
                got["TimeCreated"] = got["TimeCreated"][:-3] + "Z"
            compare("%s (%s): events[%d]" % (name, reader, i), got, pairs, e, render,
                    digits)
    return len(events)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--writer", required=True, help="path of saker-evtx-write")
    ap.add_argument("--pyevtx-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("descriptions", nargs="*")
    args = ap.parse_args(argv[1:])

    descs = args.descriptions or make_fixtures.clean_descriptions()
    if args.pyevtx_only:
        use_libevtx, use_pyevtx = False, True
    else:
        if shutil.which("evtxexport") is None:
            print("SKIP: evtxexport (libevtx-utils) is not installed")
            return SKIP
        use_libevtx, use_pyevtx = True, have_pyevtx()

    failures = 0
    with tempfile.TemporaryDirectory(prefix="saker-writer-") as tmp:
        for desc in descs:
            out = os.path.join(tmp, os.path.basename(desc)[:-5] + ".evtx")
            r = subprocess.run([args.writer, desc, out], stderr=subprocess.PIPE, check=False)
            if r.returncode != 0:
                print("FAIL %s: writer: %s" % (desc, r.stderr.decode("utf-8", "replace").strip()))
                failures += 1
                continue
            try:
                n = check_file(out, desc, use_libevtx, use_pyevtx)
                print("ok   %s: %d records" % (os.path.relpath(desc, make_fixtures.ROOT), n))
            except Failure as exc:
                print("FAIL %s" % exc)
                failures += 1

    if not args.pyevtx_only and not use_pyevtx:
        interp = other_python_with_pyevtx()
        if interp is None:
            print("note: python-evtx is not installed; only libevtx was checked")
        else:
            print("python-evtx checks under %s:" % interp)
            r = subprocess.run([interp, os.path.abspath(__file__), "--pyevtx-only",
                                "--writer", args.writer] + list(descs), check=False)
            if r.returncode != 0:
                failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
