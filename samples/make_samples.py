"""Makes the sample orders in this folder, deterministically (fixed seed).

    python3 samples/make_samples.py

Writes orders-2026-01.csv, orders-2026-02.csv and orders-2026-03.csv.gz: a few thousand realistic
orders with unicode names, notes holding commas, quotes and line breaks, and a few bad rows of
different kinds (a missing field, a number that is not one, an impossible date, invalid UTF-8, an
extra field), so that a first run shows dead letters too. Made with Python 3.11.
"""
import csv
import gzip
import io
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
FIRST = ["José", "Zoë", "Anna", "Liam", "Mei", "Ольга", "Ahmed", "Søren", "Chloé", "Kenji", "Priya", "Lukas", "Ana", "Noah",
         "李", "Fatima", "Mateo", "Ingrid", "Olu", "Sven"]
LAST = ["García", "Müller", "Smith", "Nguyen", "Dubois", "Иванова", "Khan", "Jensen", "Rossi", "Tanaka", "Patel", "Weber",
        "Silva", "Brown", "雷", "Haddad", "López", "Berg", "Adeyemi", "Larsen"]
COUNTRIES = ["DE", "FR", "US", "GB", "ES", "JP", "IN", "BR", "DK", "NO", "CN", "NG"]
CURRENCY = {"DE": "EUR", "FR": "EUR", "ES": "EUR", "US": "USD", "GB": "GBP", "JP": "JPY", "IN": "INR", "BR": "BRL",
            "DK": "DKK", "NO": "NOK", "CN": "CNY", "NG": "NGN"}
STATUSES = ["new", "paid", "shipped", "delivered", "returned", "cancelled"]
NOTES = ["", "", "", "leave at the door", "gift wrap, please", 'call "before" delivery', "fragile: glass",
         "second floor, ring twice\nthe bell is broken", "deliver after 6 pm, not before", "Größe M bitte"]
HEADER = ["order_id", "customer_id", "customer_name", "country", "ordered_at", "amount", "currency", "quantity", "status",
          "note", "gift"]


def rows(rng, first_id, count, month):
    for i in range(count):
        country = rng.choice(COUNTRIES)
        customer = rng.randrange(1000, 1400)
        day = rng.randrange(1, 29)
        stamp = f"2026-{month:02d}-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"
        amount = f"{rng.randrange(100, 50000) / 100:.2f}"
        yield [str(first_id + i), str(customer), f"{rng.choice(FIRST)} {rng.choice(LAST)}", country, stamp, amount,
               CURRENCY[country], str(rng.randrange(1, 6)), rng.choice(STATUSES), rng.choice(NOTES),
               rng.choice(["true", "false", "false"])]


def render(table):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(table)
    return out.getvalue().encode("utf-8")


def main():
    rng = random.Random(2026)
    january = list(rows(rng, 100001, 1200, 1))
    january[417] = january[417][:9]                                # a missing field
    with open(os.path.join(HERE, "orders-2026-01.csv"), "wb") as f:
        f.write(render(january))

    february = list(rows(rng, 101201, 1300, 2))
    february[88][5] = "12,50"                                      # a decimal comma: not a number
    february[902][4] = "2026-02-30T10:00:00Z"                      # a day February does not have
    with open(os.path.join(HERE, "orders-2026-02.csv"), "wb") as f:
        f.write(render(february))

    march = list(rows(rng, 102501, 1500, 3))
    march[1200] = march[1200] + ["unexpected"]                     # an extra field
    march[640][2] = "Søren Müller"
    data = render(march)
    data = data.replace("Søren Müller".encode("utf-8"), "Søren Müller".encode("latin-1"), 1)  # invalid UTF-8
    with open(os.path.join(HERE, "orders-2026-03.csv.gz"), "wb") as f:
        f.write(gzip.compress(data, mtime=0))


if __name__ == "__main__":
    main()
