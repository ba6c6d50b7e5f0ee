#!/usr/bin/env python3
"""Rewrite Winlogbeat 6 NDJSON documents in the Winlogbeat 8 raw layout (benchmark input).

Usage: wlb6_to_wlb8.py IN.ndjson OUT.ndjson

The benchmark (tools/bench.py) needs Winlogbeat 8 NDJSON "of similar content" to the Winlogbeat 6
dumps of ../shared/corpus/benchmark: the same events, reshaped the way Winlogbeat 8 ships them
without Elastic's ingest pipelines (the layout tools/make_ndjson.py writes for samples/):

    event_id (number)          -> winlog.event_id (string) and event.code (string)
    log_name                   -> winlog.channel
    computer_name              -> winlog.computer_name and host.name
    source_name, provider_guid -> winlog.provider_name, winlog.provider_guid, event.provider
    record_number              -> winlog.record_id (number)
    event_data, user_data      -> winlog.event_data, winlog.user_data
    level                      -> log.level (lower case)
    task, opcode, keywords     -> winlog.task, winlog.opcode, winlog.keywords
    process_id, thread_id      -> winlog.process.pid, winlog.process.thread.id
    user                       -> winlog.user
    @timestamp, message        -> kept

Lines that are not JSON objects are copied as they are. Deterministic: same input, same output.
"""

import json
import sys


def convert(d):
    w = {"api": "wineventlog"}
    out = {"@timestamp": d.get("@timestamp")}
    out["agent"] = {"type": "winlogbeat", "version": "8.13.4",
                    "name": d.get("computer_name") or (d.get("beat") or {}).get("name", "")}
    out["ecs"] = {"version": "8.0.0"}
    ev = {"kind": "event"}
    if "event_id" in d:
        w["event_id"] = str(d["event_id"])
        ev["code"] = str(d["event_id"])
    if "source_name" in d:
        w["provider_name"] = d["source_name"]
        ev["provider"] = d["source_name"]
    out["event"] = ev
    if "computer_name" in d:
        w["computer_name"] = d["computer_name"]
        out["host"] = {"name": d["computer_name"]}
    if "level" in d:
        out["log"] = {"level": str(d["level"]).lower()}
    if "message" in d:
        out["message"] = d["message"]
    for src, dst in (("log_name", "channel"), ("provider_guid", "provider_guid"),
                     ("task", "task"), ("opcode", "opcode"), ("keywords", "keywords"),
                     ("event_data", "event_data"), ("user_data", "user_data"),
                     ("user", "user"), ("activity_id", "activity_id"),
                     ("version", "version")):
        if src in d:
            w[dst] = d[src]
    if "record_number" in d:
        try:
            w["record_id"] = int(d["record_number"])
        except (TypeError, ValueError):
            w["record_id"] = d["record_number"]
    proc = {}
    if d.get("process_id"):
        proc["pid"] = d["process_id"]
    if d.get("thread_id"):
        proc["thread"] = {"id": d["thread_id"]}
    if proc:
        w["process"] = proc
    out["winlog"] = w
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as fin, open(sys.argv[2], "w", encoding="utf-8") as fout:
        for raw in fin:
            line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
            try:
                d = json.loads(line)
            except ValueError:
                d = None
            if not isinstance(d, dict):
                fout.write(line.encode("utf-8", "surrogateescape").decode("utf-8", "replace") + "\n")
                continue
            fout.write(json.dumps(convert(d), ensure_ascii=False, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
