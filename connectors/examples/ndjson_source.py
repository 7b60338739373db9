#!/usr/bin/env python3
"""A Sluice source that reads NDJSON files (one JSON object per line), in name order.

Each line becomes a record whose value is the line's JSON object, keyed by the `key` field when one is
named. A line that is not a JSON object goes to the dead-letter topic with the reason. The position is
the file and the byte offset after the last line read, so a restart goes on exactly where the last
stored batch ended; a line still being written (no line end yet) waits for the next pass.

    "sources": {"events": {"type": "exec", "command": ["python3", "connectors/examples/ndjson_source.py"],
                           "path": "in/events", "key": "user_id"}}
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


class NDJSONSource(sluice.Source):
    name = "ndjson"
    summary = "Reads NDJSON files (one JSON object per line), in name order, with exact positions"
    options = [
        sluice.Option("path", "string", required=True,
                      meaning="A file, a folder (its *.ndjson and *.jsonl files) or a glob pattern.",
                      example="in/events"),
        sluice.Option("key", "string", meaning="The field whose value keys each record; none by default."),
        sluice.Option("delete_after_read", "boolean", default=False,
                      meaning="Delete a file once every line of it is durable in Sluice."),
    ]

    def open(self, options, position):
        self.path = options["path"]
        self.key = options.get("key")
        self.delete = options.get("delete_after_read", False)
        start = json.loads(position) if position else {"file": "", "offset": 0}
        self.files = [f for f in self.matching() if os.path.basename(f) >= start["file"]]
        self.file_name = start["file"]
        self.offset = start["offset"]
        self.finished = []  # (position, path) of files read to their end, for delete_after_read

    def matching(self):
        if os.path.isdir(self.path):
            names = glob.glob(os.path.join(self.path, "*.ndjson")) + glob.glob(os.path.join(self.path, "*.jsonl"))
        elif any(c in self.path for c in "*?["):
            names = glob.glob(self.path)
        else:
            names = [self.path] if os.path.exists(self.path) else []
        return sorted(names, key=os.path.basename)

    def records(self):
        key_field = self.key
        loads = json.loads
        for path in self.files:
            name = os.path.basename(path)
            if name != self.file_name:
                self.file_name, self.offset = name, 0
            with open(path, "rb") as f:
                f.seek(self.offset)
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # still being written: the next pass reads it whole
                    self.offset += len(line)
                    text = line.rstrip(b"\r\n")
                    if not text.strip():
                        continue
                    try:
                        value = loads(text)
                    except ValueError as error:
                        yield sluice.DeadLetter(text, f"{name}: not JSON: {error}")
                        continue
                    if type(value) is not dict:
                        yield sluice.DeadLetter(text, f"{name}: a JSON {type(value).__name__}, not an object")
                        continue
                    if key_field is None:
                        yield None, text
                    else:
                        key = value.get(key_field)
                        yield (None if key is None else str(key)), text
                else:
                    if self.delete and self.offset == os.path.getsize(path):
                        self.finished.append((self.position(), path))

    def position(self):
        return json.dumps({"file": self.file_name, "offset": self.offset}, separators=(",", ":"))

    def acknowledged(self, position):
        done = json.loads(position)
        while self.finished:
            finished = json.loads(self.finished[0][0])
            if (finished["file"], finished["offset"]) > (done["file"], done["offset"]):
                break
            try:
                os.remove(self.finished.pop(0)[1])
            except FileNotFoundError:
                pass


if __name__ == "__main__":
    sluice.run(NDJSONSource())
