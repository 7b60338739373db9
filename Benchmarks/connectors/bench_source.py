#!/usr/bin/env python3
"""A source for Benchmarks/connectors.sh: `count` records of `size` bytes, keyed, through the Python
SDK's per-record API (or its batch API with `batches: true`)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "connectors", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


class BenchSource(sluice.Source):
    name = "bench-source"
    summary = "Records for benchmarks"
    options = [
        sluice.Option("count", "integer", default=1000000, minimum=0, meaning="How many records."),
        sluice.Option("size", "integer", default=100, minimum=1, meaning="Bytes per value."),
        sluice.Option("batches", "boolean", default=False, meaning="Use the batch API."),
    ]

    def open(self, options, position):
        self.count, self.size, self.use_batches = options["count"], options["size"], options["batches"]
        self.next = int(position or 0)

    def records(self):
        value = b"x" * self.size
        keys = [b"k%d" % i for i in range(100)]
        for n in range(self.next, self.count):
            self.next = n + 1
            yield keys[n % 100], value

    def batches(self, max_records, max_bytes):
        if not self.use_batches:
            yield from super().batches(max_records, max_bytes)
            return
        value = b"x" * self.size
        keys = [b"k%d" % i for i in range(100)]
        while self.next < self.count:
            end = min(self.count, self.next + max_records)
            batch = [(keys[n % 100], value) for n in range(self.next, end)]
            self.next = end
            yield sluice.Batch(batch, str(end))

    def position(self):
        return str(self.next)


if __name__ == "__main__":
    sluice.run(BenchSource())
