#!/usr/bin/env python3
"""Turn saker-evtx-write event descriptions into Winlogbeat 8 NDJSON.

Usage: make_ndjson.py DESCRIPTION.json OUTPUT.ndjson

Each event of the description (the JSON format documented in tools/README.md) becomes one line
shaped like the documents Winlogbeat 8 ships *without* Elastic's ingest pipelines: the raw
`winlog.*` fields, `event.code` as a string, `log.level`, `host.name` and a rendered `message`.
Winlogbeat's own lossiness is reproduced on purpose, so that readers are tested against what
they will really meet:

- empty values are dropped from `winlog.event_data` / `winlog.user_data`;
- unnamed <Data> items (and items named "Data") become `param1..N`, N being the item's position;
- a repeated name keeps its first value;
- CR LF becomes LF, and trailing newlines are removed;
- only rendered Level/Task/Opcode/Keywords are kept (`log.level`, `winlog.task`, ...);
- `winlog.version`, `winlog.process.pid`, ... are left out when zero, as Winlogbeat does.

The output is deterministic: `event.created` is the event time plus one second, not the clock.

This module is also imported by make_fixtures.py and test_writer_roundtrip.py for
`load_description()`, the one reading of the description format shared by the Python tools.
"""

import datetime
import json
import struct
import sys

# Defaults of the description format (see tools/evtx_write.c).
DEFAULTS = {
    "version": 0,
    "level": 4,
    "task": 0,
    "opcode": 0,
    "keywords": 0x8000000000000000,
    "process_id": 0,
    "thread_id": 0,
}

EVENT_KEYS = {
    "provider", "provider_guid", "event_id", "qualifiers", "version", "level", "task", "opcode",
    "keywords", "time", "record_id", "process_id", "thread_id", "channel", "computer", "user_id",
    "activity_id", "related_activity_id", "data", "user_data",
}

# Rendered task names Winlogbeat gets from the publisher metadata: Sysmon's by event id (its task
# numbers equal its event ids), the others by task number.
SYSMON_TASKS = {
    1: "Process Create (rule: ProcessCreate)",
    2: "File creation time changed (rule: FileCreateTime)",
    3: "Network connection detected (rule: NetworkConnect)",
    4: "Sysmon service state changed",
    5: "Process terminated (rule: ProcessTerminate)",
    7: "Image loaded (rule: ImageLoad)",
    8: "CreateRemoteThread detected (rule: CreateRemoteThread)",
    10: "Process accessed (rule: ProcessAccess)",
    11: "File created (rule: FileCreate)",
    12: "Registry object added or deleted (rule: RegistryEvent)",
    13: "Registry value set (rule: RegistryEvent)",
    22: "Dns query (rule: DnsQuery)",
    23: "File Delete archived (rule: FileDelete)",
    26: "File Delete logged (rule: FileDeleteDetected)",
}
TASK_NAMES = {
    ("Microsoft-Windows-Security-Auditing", 13312): "Process Creation",
    ("Microsoft-Windows-Eventlog", 104): "Log clear",
}


def task_name(provider, event_id, task):
    if provider == "Microsoft-Windows-Sysmon":
        return SYSMON_TASKS.get(event_id)
    return TASK_NAMES.get((provider, task))


# First line of the rendered message, by provider and event id.
MESSAGE_TITLES = {
    ("Microsoft-Windows-Sysmon", 1): "Process Create:",
    ("Microsoft-Windows-Sysmon", 3): "Network connection detected:",
    ("Microsoft-Windows-Sysmon", 4): "Sysmon service state changed:",
    ("Microsoft-Windows-Sysmon", 5): "Process terminated:",
    ("Microsoft-Windows-Sysmon", 7): "Image loaded:",
    ("Microsoft-Windows-Sysmon", 11): "File created:",
    ("Microsoft-Windows-Sysmon", 13): "Registry value set:",
    ("Microsoft-Windows-Sysmon", 22): "Dns query:",
    ("Microsoft-Windows-Sysmon", 23): "File Delete archived:",
    ("Microsoft-Windows-Sysmon", 26): "File Delete logged:",
    ("Microsoft-Windows-Security-Auditing", 4688): "A new process has been created.",
    ("Microsoft-Windows-Eventlog", 1102): "The audit log was cleared.",
    ("Microsoft-Windows-Eventlog", 104): "The System log file was cleared.",
}

LEVEL_NAMES = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information",
               5: "verbose"}
OPCODE_NAMES = {0: "Info", 1: "Start", 2: "Stop"}
# winevent's default keyword names (the bits Windows itself defines).
KEYWORD_NAMES = [
    (0x0010000000000000, "Audit Failure"),
    (0x0020000000000000, "Audit Success"),
    (0x0040000000000000, "Correlation Hint"),
    (0x0080000000000000, "Classic"),
]


class DescriptionError(Exception):
    pass


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise DescriptionError(
                'duplicate key "%s" (use the [[name, value], ...] form for repeated names)' % k)
        d[k] = v
    return d


def parse_number(v, what):
    """A JSON integer or a decimal / 0x-hex string, as the writer accepts it."""
    if isinstance(v, bool):
        raise DescriptionError("%s: expected a number" % what)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v, 16) if v.lower().startswith("0x") else int(v, 10)
        except ValueError:
            pass
    raise DescriptionError("%s: expected a number, got %r" % (what, v))


def parse_time(s):
    """The description's "2024-05-01T10:22:03.1234567Z" to (datetime without fraction, 100 ns)."""
    if not isinstance(s, str) or not s.endswith("Z"):
        raise DescriptionError("bad time %r" % (s,))
    main, _, frac = s[:-1].partition(".")
    dt = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S")
    if len(frac) > 7 or (frac and not frac.isdigit()):
        raise DescriptionError("bad time %r" % (s,))
    return dt, int((frac + "0000000")[:7]) if frac else 0


def value_text(v):
    """A data value as Windows renders it in the event XML (and Winlogbeat copies it): typed
    values as EvtRender prints them, null as empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return v
    t, x = v.get("type"), v.get("value")
    if t == "null":
        return ""
    if t == "string":
        return x if isinstance(x, str) else value_text(x)
    if t in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"):
        return str(parse_number(x, t))
    if t == "hexint32":
        return "0x%x" % parse_number(x, t)
    if t == "hexint64":
        return "0x%x" % parse_number(x, t)
    if t == "bool":
        return "true" if x in (True, "true", "1", 1) else "false"
    if t == "guid":
        g = x.strip("{}").upper()
        return "{%s}" % g
    if t == "filetime":
        dt, frac = parse_time(x)
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%07dZ" % frac
    if t == "sid":
        return "S" + x[1:]
    if t == "binary":
        return x.upper()
    if t in ("real32", "real64"):
        return real_text(real_value(x, t), t == "real32")
    raise DescriptionError("unknown value type %r" % (t,))


def real_value(x, t):
    """The value a real32/real64 of the description holds (a real32 rounded to a float)."""
    try:
        d = float(x)
    except (TypeError, ValueError):
        raise DescriptionError("bad %s %r" % (t, x))
    if t == "real32":
        d = struct.unpack("<f", struct.pack("<f", d))[0]
    return d


def real_text(d, single):
    """The shortest text that gives the real back (1.5, 0.1, 1e+300, 1e-07), as saker's evtx
    reader prints one; a real32 gets the digits a float holds."""
    for prec in range(1, 18):
        s = "%.*g" % (prec, d)
        back = float(s)
        if single:
            back = struct.unpack("<f", struct.pack("<f", back))[0]
        if back == d:
            return s
    return s


def load_description(path):
    """Reads a description and returns (document, events) where every event is a dict with the
    defaults applied, "record_id" filled in, "items" = [(name or None, raw value)] for <Data>
    and "user_data" as given."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f, object_pairs_hook=_no_duplicates)
    if not isinstance(doc, dict) or not isinstance(doc.get("events"), list):
        raise DescriptionError('%s: the top level must be an object with "events"' % path)
    out = []
    for i, ev in enumerate(doc["events"]):
        where = "%s: events[%d]" % (path, i)
        unknown = [k for k in ev if k not in EVENT_KEYS and not k.startswith("_")]
        if unknown:
            raise DescriptionError("%s: unknown key %r" % (where, unknown[0]))
        e = dict(DEFAULTS)
        e.update({k: v for k, v in ev.items() if not k.startswith("_") and v is not None})
        for k in ("event_id", "version", "level", "task", "opcode", "keywords", "process_id",
                  "thread_id", "qualifiers", "record_id"):
            if k in e:
                e[k] = parse_number(e[k], "%s.%s" % (where, k))
        e.setdefault("record_id", i + 1)
        data = ev.get("data")
        if isinstance(data, dict):
            e["items"] = list(data.items())
        elif isinstance(data, list):
            e["items"] = [(p[0], p[1]) for p in data]
        else:
            e["items"] = None
        out.append(e)
    return doc, out


def remove_windows_line_endings(s):
    return s.replace("\r\n", "\n").rstrip("\n")


def _add_pairs(pairs):
    """Winlogbeat's AddPairs: drop empty values, name unnamed items paramN, keep the first."""
    h = {}
    for i, (k, v) in enumerate(pairs):
        if v == "":
            continue
        if not k or k == "Data":
            k = "param%d" % (i + 1)
        if k not in h:
            h[k] = remove_windows_line_endings(v)
    return h


def _user_data_pairs(user_data):
    """The key/value pairs Winlogbeat takes from <UserData>: the children of its first element,
    each child's own character data as the value (nested elements give none)."""
    (root, body), = user_data.items()
    pairs = []
    if isinstance(body, dict):
        for k, v in body.items():
            if k.startswith("@") or k.startswith("_"):
                continue
            for item in (v if isinstance(v, list) else [v]):
                if isinstance(item, dict):
                    name = item.get("@Name", k)
                    pairs.append((name, ""))
                else:
                    pairs.append((k, value_text(item)))
    return root, pairs


def _ms(dt, frac100ns):
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (frac100ns // 10000)


def winlogbeat_doc(e):
    """One Winlogbeat 8 document (a dict) for a loaded event."""
    provider, eid = e["provider"], e["event_id"]
    dt, frac = parse_time(e["time"])
    items = [(n, value_text(v)) for n, v in (e["items"] or [])]
    task = task_name(provider, eid, e["task"])

    winlog = {
        "api": "wineventlog",
        "channel": e["channel"],
        "computer_name": e["computer"],
        "event_id": str(eid),
        "provider_name": provider,
        "record_id": e["record_id"],
    }
    if e.get("provider_guid"):
        winlog["provider_guid"] = e["provider_guid"]
    if task:
        winlog["task"] = task
    if e["opcode"] in OPCODE_NAMES:
        winlog["opcode"] = OPCODE_NAMES[e["opcode"]]
    if e["version"]:
        winlog["version"] = e["version"]
    keywords = [name for bit, name in KEYWORD_NAMES if e["keywords"] & bit]
    if keywords:
        winlog["keywords"] = keywords
    process = {}
    if e["process_id"]:
        process["pid"] = e["process_id"]
    if e["thread_id"]:
        process["thread"] = {"id": e["thread_id"]}
    if process:
        winlog["process"] = process
    if e.get("user_id"):
        winlog["user"] = {"identifier": e["user_id"]}
    if e.get("activity_id"):
        winlog["activity_id"] = e["activity_id"]
    if e.get("related_activity_id"):
        winlog["related_activity_id"] = e["related_activity_id"]
    if e["items"] is not None:
        event_data = _add_pairs(items)
        if event_data:
            winlog["event_data"] = event_data
    if e.get("user_data"):
        root, pairs = _user_data_pairs(e["user_data"])
        user_data = _add_pairs(pairs)
        user_data["xml_name"] = root
        winlog["user_data"] = user_data

    event = {
        "code": str(eid),
        "created": _ms(dt + datetime.timedelta(seconds=1), frac),
        "kind": "event",
        "provider": provider,
    }
    if task:
        event["action"] = task
    if e["keywords"] & 0x0010000000000000:
        event["outcome"] = "failure"
    elif e["keywords"] & 0x0020000000000000:
        event["outcome"] = "success"

    title = MESSAGE_TITLES.get((provider, eid), "Event %d" % eid)
    lines = [title] + ["%s: %s" % (n or "Data", v) for n, v in items]
    doc = {
        "@timestamp": _ms(dt, frac),
        "agent": {"type": "winlogbeat", "version": "8.13.4", "name": e["computer"]},
        "ecs": {"version": "8.0.0"},
        "event": event,
        "host": {"name": e["computer"]},
        "log": {"level": LEVEL_NAMES.get(e["level"], "information")},
        "message": remove_windows_line_endings("\n".join(lines)),
        "winlog": winlog,
    }
    return doc


def ndjson_text(description_path):
    _, events = load_description(description_path)
    lines = [json.dumps(winlogbeat_doc(e), ensure_ascii=False, sort_keys=True,
                        separators=(",", ":")) for e in events]
    return "".join(line + "\n" for line in lines)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: make_ndjson.py DESCRIPTION.json OUTPUT.ndjson\n")
        return 2
    try:
        text = ndjson_text(argv[1])
    except (OSError, ValueError, DescriptionError) as exc:
        sys.stderr.write("make_ndjson.py: %s: error: %s\n" % (argv[1], exc))
        return 1
    with open(argv[2], "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
