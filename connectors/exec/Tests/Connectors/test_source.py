#!/usr/bin/env python3
"""A source for Sluice's tests: records {"id": N} for N from 0 to count - 1, keyed by N mod 10, every
`bad_every`-th a dead letter instead; the position is the next N. Misbehaves on request: exits once
in the middle (a marker file), prints on standard output."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


class TestSource(sluice.Source):
    name = "test-source"
    summary = "Counts; misbehaves on request"
    options = [
        sluice.Option("count", "integer", default=1000, minimum=0, meaning="How many records."),
        sluice.Option("bad_every", "integer", default=0, minimum=0, meaning="Every n-th is a dead letter (0: none)."),
        sluice.Option("crash_once", "string", meaning="A marker file: without it, exit halfway."),
        sluice.Option("noise", "boolean", default=False, meaning="Print on standard output."),
    ]

    def open(self, options, position):
        self.options = options
        self.next = int(position or 0)

    def records(self):
        o = self.options
        count, bad = o["count"], o["bad_every"]
        while self.next < count:
            n = self.next
            if o.get("crash_once") and n == count // 2 and not os.path.exists(o["crash_once"]):
                open(o["crash_once"], "w").close()
                os._exit(7)
            if o["noise"] and n % 1000 == 0:
                print("noise", n)
            self.next += 1
            if bad and n % bad == bad - 1:
                yield sluice.DeadLetter(f"bad {n}", f"record {n} is bad")
            else:
                yield str(n % 10), '{"id": %d}' % n

    def position(self):
        return str(self.next)


if __name__ == "__main__":
    sluice.run(TestSource())
