#!/usr/bin/env python3
"""A sink for Sluice's tests: appends each record's `id` to a file at flush (fsynced), and misbehaves
on request: record failures, a transient failure once, a fatal failure, a crash once, a reply that
names a record not in its batch, prints on standard output."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


class TestSink(sluice.Sink):
    name = "test-sink"
    summary = "Appends record ids to a file; misbehaves on request"
    options = [
        sluice.Option("out", "string", required=True, meaning="The file ids are appended to."),
        sluice.Option("fail_ids", "string_list", default=[], meaning="Ids that are record errors."),
        sluice.Option("transient_once", "string", meaning="A marker file: without it, fail once (transient)."),
        sluice.Option("crash_once", "string", meaning="A marker file: without it, exit in the middle of a batch."),
        sluice.Option("fatal_id", "integer", minimum=0, meaning="An id that is a fatal error."),
        sluice.Option("bad_reply", "boolean", default=False, meaning="Name a record not in the batch."),
        sluice.Option("noise", "boolean", default=False, meaning="Print on standard output."),
        sluice.Option("durable_each_batch", "boolean", default=False,
                      meaning="Write and fsync each batch before answering (and note each flush in OUT.flushes)."),
    ]

    def open(self, options, context):
        self.options = options
        self.pending = []
        self.fail = set(options["fail_ids"])
        self.durable_writes = options["durable_each_batch"]

    def write_batch(self, records):
        o = self.options
        if o["noise"]:
            print("noise on stdout", len(records))
            sys.stdout.write("more noise\n")
        if o.get("transient_once") and not os.path.exists(o["transient_once"]):
            open(o["transient_once"], "w").close()
            raise sluice.TransientError("the test's transient failure")
        failures = []
        for i, record in enumerate(records):
            value = json.loads(record.value)
            rid = str(value["id"])
            if o.get("crash_once") and i == len(records) // 2 and not os.path.exists(o["crash_once"]):
                open(o["crash_once"], "w").close()
                os._exit(9)
            if o.get("fatal_id") is not None and int(rid) == o["fatal_id"]:
                raise sluice.FatalError(f"id {rid} is fatal")
            if rid in self.fail:
                failures.append((record, sluice.RecordError(f"id {rid} is refused", code="test.refused")))
                continue
            self.pending.append(rid)
        if self.durable_writes:
            self.write_out()
        if o["bad_reply"] and records:
            ghost = sluice.Record(topic=records[0].topic, partition=records[0].partition, offset=10**12)
            failures.append((ghost, "a record that is not in the batch"))
        return failures

    def flush(self):
        if self.durable_writes:
            with open(self.options["out"] + ".flushes", "a") as f:
                f.write("flush\n")
        self.write_out()

    def write_out(self):
        with open(self.options["out"], "a") as f:
            for rid in self.pending:
                f.write(rid + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.pending = []

    def abort(self):
        self.pending = []

    def read_back(self):
        if not os.path.exists(self.options["out"]):
            return []
        with open(self.options["out"]) as f:
            return [int(line) for line in f if line.strip()]


if __name__ == "__main__":
    sluice.run(TestSink())
