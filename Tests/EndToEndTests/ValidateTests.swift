import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice validate` catches what `sluice run` would stop on (issue 10, point 2), both exit 2 for it
/// naming the path in the file, and `sluice run --dry-run` checks as `validate --connect` does, prints
/// the plan and touches nothing.
@Suite struct ValidateTests {
    /// One mistake each: the config (with `in.csv` holding `id,name`) and what the error says.
    static let mistakes: [String: (config: String, expected: String)] = [
        "two sinks in one group": (
            #"{"sources": {"orders": {"type": "csv", "path": "in.csv", "topic": "t"}}, "sinks": {"a": {"type": "file", "topics": ["t"], "path": "a"}, "b": {"type": "file", "topics": ["t"], "path": "b", "group": "a"}}}"#,
            #"sinks.b.group: group "a" is also the group of sink a"#
        ),
        "a path that matches no file": (
            #"{"sources": {"orders": {"type": "csv", "path": "orders-*.csv"}}}"#,
            #"sources.orders.path: "orders-*.csv" matches no file"#
        ),
        "a key column not in the header": (
            #"{"sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["ids"]}}}"#,
            #"sources.orders.key: column "ids" is not in the header of DIR/in.csv (id, name); did you mean "id"?"#
        ),
        "a typed column not in the header": (
            #"{"sources": {"orders": {"type": "csv", "path": "in.csv", "columns": {"amount": "decimal"}}}}"#,
            #"sources.orders.columns.amount: column "amount" is not in the header of DIR/in.csv (id, name)"#
        ),
        "a sink topic nothing writes": (
            #"{"sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}"#,
            #"sinks.files.topics[0]: topic "orders" does not exist in DIR/data and nothing in the config writes it"#
        ),
        "upsert without key columns": (
            #"""
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "mode": "upsert",
                              "connection": "host=/nonexistent dbname=shop"}}}
            """#,
            #"sinks.pg.key_columns: mode upsert needs key columns, and topic "orders" carries none"#
        ),
        "an internal dead-letter topic": (
            #"""
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out",
                                 "dead_letter_topic": "__consumer_offsets"}}}
            """#,
            #"sinks.files.dead_letter_topic: topics starting with "__" belong to the broker"#
        ),
        "a file sink inside the data directory": (
            #"""
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "data/out"}}}
            """#,
            "sinks.files.path: DIR/data/out is inside the data directory DIR/data"
        ),
        "a file sink writing where a source reads": (
            #"""
            {"sources": {"orders": {"type": "csv", "path": "./"}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "."}}}
            """#,
            #"sinks.files.path: DIR is where source "orders" reads its files (sources.orders.path)"#
        ),
        "partitions as a string": (
            #"{"topics": {"orders": {"partitions": "4"}}, "sources": {"orders": {"type": "csv", "path": "in.csv"}}}"#,
            #"topics.orders.partitions: expected an integer, found the string "4"; write 4 without quotes"#
        ),
        "an unclosed environment reference": (
            #"{"sources": {"orders": {"type": "csv", "path": "${UNCLOSED"}}}"#,
            #"sources.orders.path: "${UNCLOSED" opens an environment reference that is never closed"#
        ),
    ]

    @Test(arguments: mistakes.keys.sorted())
    func validateAndRunBothExitTwoNamingThePath(mistake: String) throws {
        let dir = TemporaryDirectory()
        let (config, expected) = try #require(Self.mistakes[mistake])
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(config, to: "config.json", in: dir.path)
        let message = "config.json: " + expected.replacing("DIR", with: dir.path)
        for command in [["validate"], ["run"], ["run", "--dry-run"]] {
            let result = try EndToEnd.sluice(command + ["config.json"], in: dir.path, expect: 2)
            #expect(result.stderr.contains(message), "\(command): \(result.stderr)")
        }
        #expect(!FileSystem.exists(dir.file("data")), "nothing ran")
    }

    /// Every file under `folder` with its size and modification time.
    static func listing(_ folder: String) throws -> [String] {
        let manager = FileManager.default
        return try manager.subpathsOfDirectory(atPath: folder).sorted().map { name in
            let attributes = try manager.attributesOfItem(atPath: folder + "/" + name)
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name) \(attributes[.size] ?? 0) \(modified)"
        }
    }

    @Test func everyProblemIsOnALineOfItsOwn() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(
            #"""
            {"sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["ID"]},
                         "refunds": {"type": "csv", "path": "refunds.csv"}},
             "sinks": {"files": {"type": "file", "topics": ["orders", "customers"], "path": "data"}}}
            """#, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 4, "\(result.stderr)")
        for path in ["sinks.files.topics[1]", "sources.orders.key", "sources.refunds.path", "sinks.files.path"] {
            #expect(lines.contains { $0.contains("config.json: \(path): ") }, "\(path): \(result.stderr)")
        }
    }

    /// A dry run checks, prints the plan and exits 0, without creating the data directory or the
    /// sink's folder; after a real run it shows the topics that exist.
    @Test func aDryRunPrintsThePlanAndTouchesNothing() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(
            #"""
            {"topics": {"orders": {"partitions": 2}},
             "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}
            """#, to: "config.json", in: dir.path)
        let dry = try EndToEnd.sluice(["run", "--dry-run", "config.json"], in: dir.path)
        #expect(dry.stdout.contains("Dry run of config.json: nothing was read or written."))
        #expect(dry.stdout.contains("Topic orders: created with 2 partitions"))
        #expect(dry.stdout.contains("  source orders: 1 file matches in.csv"))
        #expect(dry.stdout.contains("  sink files: creates \(dir.file("out"))"))
        #expect(!FileSystem.exists(dir.file("data")) && !FileSystem.exists(dir.file("out")))
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        let before = try Self.listing(dir.file("data"))
        let again = try EndToEnd.sluice(["run", "--dry-run", "config.json"], in: dir.path)
        #expect(again.stdout.contains("Topic orders: exists, 2 partitions"))
        #expect(try Self.listing(dir.file("data")) == before, "the dry run changed the data directory")
        let validated = try EndToEnd.sluice(["validate", "config.json"], in: dir.path)
        #expect(validated.stdout.hasPrefix("config.json is valid.\n"))
    }

    /// A column added to the config and to the new files only: the files already read to their end
    /// are not read again, so their older header stops neither validate nor run.
    @Test func filesAlreadyReadKeepTheirOlderHeader() throws {
        let dir = TemporaryDirectory()
        try FileSystem.createDirectory(dir.file("in"))
        try EndToEnd.write("id,name\n1,a\n", to: "in/2026-01.csv", in: dir.path)
        let config = { (columns: String) in
            #"{"sources": {"orders": {"type": "csv", "path": "in/*.csv", "key": ["id"], "columns": {"#
                + columns + #"}}}}"#
        }
        try EndToEnd.write(config(#""id": "int""#), to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        try EndToEnd.write("id,name,region\n2,b,north\n", to: "in/2026-02.csv", in: dir.path)
        try EndToEnd.write(config(#""id": "int", "region": "string""#), to: "config.json", in: dir.path)
        try EndToEnd.sluice(["validate", "config.json"], in: dir.path)
        let run = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(run.stdout.contains("1 row read"), "\(run.stdout)")
        // A file that is not read to its end yet still has its header checked.
        try EndToEnd.write("id,name\n3,c\n", to: "in/2026-03.csv", in: dir.path)
        let refused = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains(#"column "region" is not in the header of"#), "\(refused.stderr)")
    }
}

/// `validate --connect` and `run --dry-run` against the private PostgreSQL server: a table that is
/// missing with auto_create off is found before a run; the password never shows.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct ValidateConnectTests {
    @Test func connectChecksTheTableAndNeverPrintsThePassword() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("validate")
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        let connection = server.connectionString(database: database) + " password=hunter2-secret"
        try EndToEnd.write(
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "table": "public.orders",
                              "auto_create": false, "connection": "\(connection)"}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["validate", "config.json"], in: dir.path)
        for command in [["validate", "--connect"], ["run", "--dry-run"]] {
            let result = try EndToEnd.sluice(command + ["config.json"], in: dir.path, expect: 2)
            #expect(result.stderr.contains("config.json: sinks.pg.table: table public.orders does not exist on "))
            #expect(!(result.stdout + result.stderr).contains("hunter2"))
        }
        try server.psql("CREATE TABLE orders (id text, name text)", database: database)
        let ready = try EndToEnd.sluice(["validate", "--connect", "config.json"], in: dir.path)
        #expect(ready.stdout.contains("sink pg: table public.orders exists on "), "\(ready.stdout)")
        #expect(!ready.stdout.contains("hunter2"))
        // A field mapped to a column the table lacks is the config's mistake: found before a run, and
        // a run stops on it instead of dead-lettering every record.
        try EndToEnd.write(
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "table": "public.orders",
                              "auto_create": false, "columns": {"name": "title"}, "connection": "\(connection)"}}}
            """, to: "config.json", in: dir.path)
        let mapped = try EndToEnd.sluice(["validate", "--connect", "config.json"], in: dir.path, expect: 2)
        #expect(
            mapped.stderr.contains(
                #"sinks.pg.columns.name: table public.orders has no column "title" (the column field "name" maps to)"#),
            "\(mapped.stderr)")
        let stopped = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
        #expect(stopped.stderr.contains(#"table public.orders has no column "title""#), "\(stopped.stderr)")
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "0")
        let wrongPort = connection.replacing("port=\(server.port)", with: "port=1")
        try EndToEnd.write(
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "connection": "\(wrongPort)"}}}
            """, to: "config.json", in: dir.path)
        let down = try EndToEnd.sluice(["validate", "--connect", "config.json"], in: dir.path, expect: 2)
        #expect(down.stderr.contains("config.json: sinks.pg.connection: cannot connect to "), "\(down.stderr)")
        #expect(!down.stderr.contains("hunter2"))
    }

    /// With exactly_once, --connect checks the offsets table too: a table of another shape is named, one
    /// that is missing is fine when the user may create it.
    @Test func connectChecksTheOffsetsTableOfExactlyOnce() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("validateoffsets")
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        try server.psql("CREATE TABLE orders (id text, name text)", database: database)
        let config = { (offsets: String) in
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "delivery": "exactly_once",
                              "offsets_table": "\(offsets)", "connection": "\(server.connectionString(database: database))"}}}
            """
        }
        try EndToEnd.write(config("sluice_offsets"), to: "config.json", in: dir.path)
        let fresh = try EndToEnd.sluice(["validate", "--connect", "config.json"], in: dir.path)
        #expect(fresh.stdout.contains("offsets table sluice_offsets does not exist; the run creates it"))
        try EndToEnd.write(config("public.orders"), to: "config.json", in: dir.path)
        let wrong = try EndToEnd.sluice(["validate", "--connect", "config.json"], in: dir.path, expect: 2)
        #expect(
            wrong.stderr.contains("sinks.pg.offsets_table: table public.orders is not an offsets table"),
            "\(wrong.stderr)")
        try EndToEnd.write(config(String(repeating: "o", count: 70)), to: "config.json", in: dir.path)
        let long = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(long.stderr.contains("sinks.pg.offsets_table: "), "\(long.stderr)")
    }

    /// `run` checks its PostgreSQL sinks before it reads anything: a database that does not exist stops
    /// it with exit 2 and nothing read; a server that does not answer is left to the sink's retries.
    @Test func runChecksItsServersBeforeReading() throws {
        let server = try PostgresServer.shared()
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        let config = { (connection: String) in
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "connection": "\(connection)",
                              "retry_initial_ms": 50, "retry_timeout_ms": 300}}}
            """
        }
        try EndToEnd.write(config(server.connectionString(database: "nosuch")), to: "config.json", in: dir.path)
        let missing = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
        #expect(missing.stderr.contains("sinks.pg.connection: cannot connect to "), "\(missing.stderr)")
        #expect(!FileSystem.exists(dir.file("data")), "nothing was read")
        let down = server.connectionString(database: "postgres").replacing("port=\(server.port)", with: "port=1")
        try EndToEnd.write(config(down), to: "config.json", in: dir.path)
        let retried = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 1)
        #expect(retried.stderr.contains("gave up after retrying"), "\(retried.stderr)")
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("data")).count == 1)
    }
}
