#!/usr/bin/env python3
"""A sink that breaks the contract on purpose, for the conformance suite's own test: it says a flush
is done before it writes anything (and then never does)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sink  # noqa: E402
import sluice_connector as sluice  # noqa: E402


class BrokenSink(test_sink.TestSink):
    name = "broken-sink"

    def flush(self):
        self.pending = []  # acknowledged, never written


if __name__ == "__main__":
    sluice.run(BrokenSink())
