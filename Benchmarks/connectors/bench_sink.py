#!/usr/bin/env python3
"""A sink for Benchmarks/connectors.sh: a trivial body per record (the per-record API), or per batch
with `batches: true`."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "connectors", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


class BenchSink(sluice.Sink):
    name = "bench-sink"
    summary = "Counts records for benchmarks"
    options = [sluice.Option("batches", "boolean", default=False, meaning="Use the batch API.")]

    def open(self, options, context):
        self.bytes = 0
        if options["batches"]:
            self.write_batch = self.count_batch

    def write(self, record):
        self.bytes += len(record.value)

    def count_batch(self, records):
        self.bytes += sum(len(r.value) for r in records)
        return []


if __name__ == "__main__":
    sluice.run(BenchSink())
