import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// `sluice run` into PostgreSQL, through the binary, against the private test server: the samples in
/// insert and upsert mode, a server restart in the middle of a run, and a run killed 20 times.
@Suite(.serialized, .enabled(if: PostgresServer.shouldRun)) struct PostgresPipelineTests {
    static let columns = SampleOrders.columnTypes.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")

    /// A config reading `file` keyed by order_id into `orders`, with a postgres sink on `database`.
    func config(_ server: PostgresServer, database: String, file: String, mode: String, extra: String = "") -> String {
        """
        {"topics": {"orders": {"partitions": 4}},
         "sources": {"orders": {"type": "csv", "path": "\(file)", "key": ["order_id"], "max_batch_rows": 5000,
                                "columns": {\(Self.columns)}}},
         "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "mode": "\(mode)",
                          "connection": "\(server.connectionString(database: database))",
                          "max_batch_records": 10000, "batch_wait_ms": 100, "retry_initial_ms": 200\(extra)}}}
        """
    }

    @Test(arguments: ["insert", "upsert"])
    func theSamplesLoadAndARerunChangesNothing(mode: String) throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("samples")
        let dir = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: EndToEnd.repositoryRoot + "/samples", toPath: dir.file("samples"))
        let sampleColumns =
            #""order_id": "int", "customer_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool""#
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 4}},
             "sources": {"orders": {"type": "csv", "path": "samples/orders-*.csv*", "key": ["order_id"],
                                    "columns": {\(sampleColumns)}}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "mode": "\(mode)",
                              "connection": "\(server.connectionString(database: database))"}}}
            """, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        let split = mode == "upsert" ? " (3,995 inserted, 0 updated)" : ""
        #expect(result.stdout.contains("pg → table public.orders: 3,995 written\(split), 0 dead-lettered"))
        // What the sink created is said at the default log level.
        let key = mode == "upsert" ? ", primary key order_id" : ""
        #expect(
            result.stderr.contains("notice created the table (11 columns\(key)) sink=pg table=public.orders"),
            "\(result.stderr)")
        let snapshot = "SELECT count(*), sum(order_id), sum(amount), count(DISTINCT customer_name) FROM orders"
        let first = try server.psql(snapshot, database: database)
        #expect(first.hasPrefix("3995|"))
        #expect(
            try server.psql(
                "SELECT data_type FROM information_schema.columns WHERE column_name = 'ordered_at'", database: database)
                == "timestamp with time zone")

        // Everything delivered again from a fresh broker: upsert leaves the table as it was.
        try FileSystem.removeTree(dir.file("data"))
        let again = try EndToEnd.sluice(["run", "--summary", "json"], in: dir.path)
        let summary = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any]
        let sink = (summary?["sinks"] as? [[String: Any]])?.first
        #expect(sink?["destination"] as? String == "table public.orders")
        #expect(sink?["written"] as? Int == 3995)
        let second = try server.psql(snapshot, database: database)
        if mode == "upsert" {
            #expect(sink?["inserted"] as? Int == 0)
            #expect(sink?["updated"] as? Int == 3995)
            #expect(second == first)
        } else {
            #expect(second.hasPrefix("7990|"))
        }
    }

    @Test(arguments: ["insert", "upsert"])
    func aServerRestartInTheMiddleLosesNothing(mode: String) throws {
        let server = try PostgresServer.dedicated()
        defer { server.stop() }
        let database = try server.createDatabase("restart")
        let dir = TemporaryDirectory()
        let rows = 150_000
        try SampleOrders(rows: rows, seed: 5).write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            config(server, database: database, file: "orders.csv", mode: mode), to: "config.json", in: dir.path)
        let (process, out, err) = try SluiceBinary.start(["run"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        var loaded = "0"
        for _ in 0..<600 where loaded == "0" {
            Time.sleep(millis: 20)
            loaded = (try? server.psql("SELECT count(*) FROM orders", database: database)) ?? "0"
        }
        try server.restart()
        process.waitUntilExit()
        let (stdout, stderr) = collector.finish()
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(!stdout.contains(" 0 retries"), "the restart should have cost at least one retry")
        let counts = try server.psql("SELECT count(*), count(DISTINCT order_id) FROM orders", database: database)
        if mode == "upsert" {
            #expect(counts == "\(rows)|\(rows)")
        } else {
            let parts = counts.split(separator: "|").compactMap { Int($0) }
            #expect(parts.count == 2 && parts[0] >= rows && parts[1] == rows, "no row lost: \(counts)")
        }
    }

    @Test func upsertKilledTwentyTimesEndsWithExactlyTheExpectedRows() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("kills")
        let dir = TemporaryDirectory()
        let rows = 1_000_000
        var generator = SampleOrders(rows: rows, seed: 17)
        generator.badEvery = 1013
        try generator.write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            config(server, database: database, file: "orders.csv", mode: "upsert"), to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 23, minMillis: 300, spreadMillis: 1500)
        #expect(kills >= 20, "the run finished before it was killed 20 times")
        try EndToEnd.sluice(["run"], in: dir.path)
        let good = (1...rows).filter { $0 % 1013 != 0 }
        let expected = "\(good.count)|\(good.count)|\(good.reduce(0, +))"
        #expect(
            try server.psql("SELECT count(*), count(DISTINCT order_id), sum(order_id) FROM orders", database: database)
                == expected)
        #expect(try EndToEnd.records("orders.dlq", dataDirectory: dir.file("data")).count == rows - good.count)
    }
}
