#!/usr/bin/env python3
"""A source that breaks the contract on purpose, for the conformance suite's own test: its position
points one record before where its records end, so a resumed read repeats a record."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_source  # noqa: E402
import sluice_connector as sluice  # noqa: E402


class BrokenSource(test_source.TestSource):
    name = "broken-source"

    def position(self):
        return str(max(0, self.next - 1))


if __name__ == "__main__":
    sluice.run(BrokenSource())
