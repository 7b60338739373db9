#!/usr/bin/env python3
"""Writes the wide CSV file of Benchmarks/postgres.sh: 40 columns (an id, integers, decimals,
timestamps, text with quotes, commas and line breaks, booleans, some empty fields), the same for the
same seed, and sequential: the first half of N rows is the file of N/2 rows.

Usage: wide-csv.py ROWS OUTPUT [SEED]
Columns: id, i1..i8 (integers), d1..d8 (decimals, 2 places), t1..t6 (ISO 8601 timestamps, UTC),
s1..s8 (text), b1..b6 (booleans), x1 (small integer), x2 (float), x3 (text). About 5% of the fields
other than id are empty.
"""
import csv
import random
import sys

WORDS = ["alpha", "beta", "gamma", "delta", "north", "south", "red", "blue", "parcel", "return",
         "gift", "door", "call", "office", "thanks", "wrap", "leave", "extra", "large", "small"]


def header():
    return (["id"] + [f"i{k}" for k in range(1, 9)] + [f"d{k}" for k in range(1, 9)]
            + [f"t{k}" for k in range(1, 7)] + [f"s{k}" for k in range(1, 9)]
            + [f"b{k}" for k in range(1, 7)] + ["x1", "x2", "x3"])


def text(rng):
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    roll = rng.random()
    if roll < 0.05:
        return f'{words}, "{rng.choice(WORDS)}", {rng.choice(WORDS)}'
    if roll < 0.08:
        return f"{words}\n{rng.choice(WORDS)}"
    if roll < 0.10:
        return f"{words}\t\\{rng.choice(WORDS)}"
    return words


def row(rng, ident):
    fields = [str(ident)]
    fields += [str(rng.randint(-10**9, 10**9)) for _ in range(8)]
    fields += [f"{rng.randint(0, 10**8) / 100:.2f}" for _ in range(8)]
    for _ in range(6):
        seconds = 1767225600 + rng.randint(0, 365 * 86400)
        days, rest = divmod(seconds, 86400)
        fields.append(timestamp(days, rest))
    fields += [text(rng) for _ in range(8)]
    fields += [rng.choice(["true", "false"]) for _ in range(6)]
    fields += [str(rng.randint(0, 30000)), repr(rng.random() * 1000), rng.choice(WORDS)]
    for k in range(1, len(fields)):
        if rng.random() < 0.05:
            fields[k] = ""
    return fields


def timestamp(days, rest):
    # Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y += m <= 2
    h, rest = divmod(rest, 3600)
    mi, s = divmod(rest, 60)
    return f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"


def main():
    rows, output = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    with open(output, "w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header())
        for ident in range(1, rows + 1):
            writer.writerow(row(rng, ident))


if __name__ == "__main__":
    main()
