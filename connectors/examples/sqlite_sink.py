#!/usr/bin/env python3
"""A Sluice sink that writes records into a SQLite table: upsert by key, exactly-once.

Each record's value is a JSON object whose members become columns (the table is made, and columns
added, as they appear); the `key` columns make the primary key, and a record with the same key
replaces the row before it (a record without a value deletes it). Exactly-once: the offset each
partition goes on from is stored in the same transaction as the rows (table `_sluice_offsets`), and
given back to Sluice when the task is assigned the partition, so a batch is never applied twice.

    "sinks": {"db": {"type": "exec", "command": ["python3", "connectors/examples/sqlite_sink.py"],
                     "topics": ["orders"], "database": "out/orders.db", "table": "orders",
                     "key": ["order_id"]}}
"""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sdk", "python"))
import sluice_connector as sluice  # noqa: E402


def quote(name):
    return '"' + name.replace('"', '""') + '"'


class SQLiteSink(sluice.Sink):
    name = "sqlite"
    summary = "Writes records into a SQLite table: upsert by key, exactly-once"
    options = [
        sluice.Option("database", "string", required=True, meaning="The SQLite file; made when missing."),
        sluice.Option("table", "string", required=True, meaning="The table; made when missing."),
        sluice.Option("key", "string_list", required=True,
                      meaning="The value's members that identify a row: the table's primary key."),
    ]

    def open(self, options, context):
        folder = os.path.dirname(os.path.abspath(options["database"]))
        if not os.path.isdir(folder):
            raise sluice.FatalError(f"database: the folder {folder} does not exist")
        self.db = sqlite3.connect(options["database"], isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.table = options["table"]
        self.key = options["key"]
        self.db.execute("CREATE TABLE IF NOT EXISTS _sluice_offsets "
                        "(topic TEXT, partition INTEGER, next_offset INTEGER, PRIMARY KEY (topic, partition))")
        keys = ", ".join(f"{quote(k)} TEXT" for k in self.key)
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {quote(self.table)} ({keys}, "
                        f"PRIMARY KEY ({', '.join(quote(k) for k in self.key)}))")
        self.columns = [row[1] for row in self.db.execute(f"PRAGMA table_info({quote(self.table)})")]
        self.statements = {}
        self.pending = {}  # (topic, partition) -> next offset, for this transaction
        self.open_transaction = False

    def assign(self, partitions):
        stored = {}
        for (topic, partition) in partitions:
            row = self.db.execute("SELECT next_offset FROM _sluice_offsets WHERE topic = ? AND partition = ?",
                                  (topic, partition)).fetchone()
            if row:
                stored[(topic, partition)] = row[0]
        return stored

    def begin(self):
        if not self.open_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.open_transaction = True

    def write_batch(self, records):
        self.begin()
        failures = []
        for record in records:
            try:
                self.write(record)
            except sluice.RecordError as error:
                failures.append((record, error))
            self.pending[(record.topic, record.partition)] = record.offset + 1
        return failures

    def write(self, record):
        if record.value is None:
            if record.key is None:
                raise sluice.RecordError("a record without a value (a delete) needs a key")
            values = json.loads(record.key) if record.key.startswith(b"{") else {self.key[0]: record.key.decode()}
            where = " AND ".join(f"{quote(k)} = ?" for k in self.key)
            self.db.execute(f"DELETE FROM {quote(self.table)} WHERE {where}", [str(values.get(k)) for k in self.key])
            return
        try:
            row = json.loads(record.value)
        except ValueError as error:
            raise sluice.RecordError(f"the value is not JSON: {error}")
        if type(row) is not dict:
            raise sluice.RecordError("the value is not a JSON object")
        missing = [k for k in self.key if row.get(k) is None]
        if missing:
            raise sluice.RecordError(f"the value lacks the key column {', '.join(missing)}")
        names = tuple(row)
        for name in names:
            if name not in self.columns:
                self.db.execute(f"ALTER TABLE {quote(self.table)} ADD COLUMN {quote(name)}")
                self.columns.append(name)
        statement = self.statements.get(names)
        if statement is None:
            updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n not in self.key)
            statement = (f"INSERT INTO {quote(self.table)} ({', '.join(map(quote, names))}) "
                         f"VALUES ({', '.join('?' for _ in names)}) "
                         f"ON CONFLICT ({', '.join(map(quote, self.key))}) DO "
                         + (f"UPDATE SET {updates}" if updates else "NOTHING"))
            self.statements[names] = statement
        self.db.execute(statement, [v if v is None or type(v) in (int, float, str) else json.dumps(v)
                                    for v in row.values()])

    def flush(self):
        if not self.open_transaction:
            return
        self.db.executemany(
            "INSERT INTO _sluice_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
            "ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            [(t, p, o) for (t, p), o in self.pending.items()])
        self.db.execute("COMMIT")
        self.open_transaction = False
        self.pending.clear()

    def abort(self):
        if self.open_transaction:
            self.db.execute("ROLLBACK")
            self.open_transaction = False
        self.pending.clear()

    def stop(self):
        self.abort()
        self.db.close()

    def read_back(self):
        """For `sluice connectors test`: the ids of the rows the table holds."""
        if "id" not in self.columns:
            return None
        return [int(row[0]) for row in self.db.execute(f'SELECT "id" FROM {quote(self.table)}') if row[0] is not None]


if __name__ == "__main__":
    sluice.run(SQLiteSink())
