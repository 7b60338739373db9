import Foundation
import Glibc
import SluiceBroker
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// `delivery: "exactly_once"` of the PostgreSQL sink, through the binary: insert mode into a table
/// without a key, killed with SIGKILL again and again, with one task and with three (so that
/// rebalances happen between kills), and through a server restart; every row ends up in the table or in
/// the dead-letter topic, once. And a reset of the group's offsets is followed, not overridden.
@Suite(.serialized, .enabled(if: PostgresServer.shouldRun)) struct ExactlyOnceTests {
    /// Rows whose order_id is a multiple of this break the table's CHECK constraint: the sink
    /// dead-letters them.
    static let refusedEvery = 997

    /// A table without a key, every column as text but the id, with a CHECK some rows break.
    static func createTable(_ server: PostgresServer, _ database: String) throws {
        let columns = SampleOrders.header.split(separator: ",").map { name in
            name == "order_id" ? "order_id bigint" : "\"\(name)\" text"
        }
        try server.psql(
            "CREATE TABLE orders (\(columns.joined(separator: ", ")), CHECK (order_id % \(refusedEvery) <> 0))",
            database: database)
    }

    static func config(_ server: PostgresServer, _ database: String, tasks: Int) -> String {
        """
        {"topics": {"orders": {"partitions": 4}},
         "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"], "max_batch_rows": 5000}},
         "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "mode": "insert", "delivery": "exactly_once",
                          "connection": "\(server.connectionString(database: database))", "tasks": \(tasks),
                          "max_batch_records": 5000, "batch_wait_ms": 50, "retry_initial_ms": 100,
                          "session_timeout_ms": 3000}}}
        """
    }

    /// A database with the orders table, and a folder with `rows` sample orders and the config.
    static func prepare(_ server: PostgresServer, _ prefix: String, rows: Int, seed: UInt64, tasks: Int) throws
        -> (database: String, dir: TemporaryDirectory)
    {
        let database = try server.createDatabase(prefix)
        try createTable(server, database)
        let dir = TemporaryDirectory()
        try SampleOrders(rows: rows, seed: seed).write(to: dir.file("orders.csv"))
        try EndToEnd.write(config(server, database, tasks: tasks), to: "config.json", in: dir.path)
        return (database, dir)
    }

    /// Every good row once in the table, every refused one once in the sink's dead-letter topic.
    static func expectEveryRowOnce(
        _ server: PostgresServer, _ database: String, _ dir: TemporaryDirectory, rows: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let refused = rows / refusedEvery
        let good = rows - refused
        let counts = try server.psql(
            "SELECT count(*), count(DISTINCT order_id), sum(order_id) FROM orders", database: database)
        let goodSum = (1...rows).filter { $0 % refusedEvery != 0 }.reduce(0, +)
        #expect(counts == "\(good)|\(good)|\(goodSum)", "table: count, distinct, sum", sourceLocation: sourceLocation)
        let dead = try EndToEnd.records("pg.dlq", dataDirectory: dir.file("data"))
        let deadOffsets = Set(
            dead.map { entry in
                (entry.record.headerText("sluice.original.partition") ?? "?") + ":"
                    + (entry.record.headerText("sluice.original.offset") ?? "?")
            })
        var seen: [String: [String]] = [:]
        for (index, entry) in dead.enumerated() {
            let original =
                (entry.record.headerText("sluice.original.partition") ?? "?") + ":"
                + (entry.record.headerText("sluice.original.offset") ?? "?")
            seen[original, default: []].append("#\(index) at \(entry.record.headerText("sluice.failed_at") ?? "?")")
        }
        let repeated = seen.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        #expect(
            dead.count == refused, "dead letters, counting duplicates; repeated: \(repeated)",
            sourceLocation: sourceLocation)
        #expect(deadOffsets.count == refused, "distinct dead letters", sourceLocation: sourceLocation)
    }

    @Test(arguments: [1, 3])
    func insertKilledThirtyTimesLoadsEveryRowOnce(tasks: Int) throws {
        let server = try PostgresServer.shared()
        let rows = 700_000
        let (database, dir) = try Self.prepare(server, "exactly", rows: rows, seed: 31, tasks: tasks)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 30, seed: UInt64(41 + tasks), minMillis: 150, spreadMillis: 450)
        #expect(kills >= 30, "the run finished before it was killed 30 times")
        try EndToEnd.sluice(["run"], in: dir.path)
        try Self.expectEveryRowOnce(server, database, dir, rows: rows)
        // The broker's offsets were committed after the database's: lag shows nothing left.
        let lag = try EndToEnd.sluice(["groups", "describe", "pg"], in: dir.path)
        #expect(lag.stdout.contains("total lag 0"), "\(lag.stdout)")
    }

    @Test func aServerRestartInTheMiddleLoadsEveryRowOnce() throws {
        let server = try PostgresServer.dedicated()
        defer { server.stop() }
        let rows = 150_000
        let (database, dir) = try Self.prepare(server, "exactlyrestart", rows: rows, seed: 37, tasks: 2)
        let (process, out, err) = try SluiceBinary.start(["run"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        var loaded = "0"
        for _ in 0..<600 where loaded == "0" {
            Time.sleep(millis: 20)
            loaded = (try? server.psql("SELECT count(*) FROM orders", database: database)) ?? "0"
        }
        try server.restart(mode: "immediate")
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(process.terminationStatus == 0, "\(stderr)")
        try Self.expectEveryRowOnce(server, database, dir, rows: rows)
    }

    /// The sink's stored offsets say the topic is loaded; a reset of the group to the earliest offsets
    /// is newer, so the next run follows it and loads the topic again. The sink still holds its old
    /// offsets then, at or past the end of the batch it loads again: a connection lost in the middle of
    /// that batch must not make it look committed (a CI run on 2026-12-02 lost the reloaded rows so
    /// while another test restarted the server).
    @Test(arguments: [false, true])
    func aResetOfTheGroupIsFollowed(losingTheConnection: Bool) throws {
        let server = try PostgresServer.shared()
        let rows = 3_000
        let (database, dir) = try Self.prepare(server, "exactlyreset", rows: rows, seed: 43, tasks: 1)
        try EndToEnd.sluice(["run"], in: dir.path)
        let good = rows - rows / Self.refusedEvery
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(good)")
        let stored = try server.psql(
            "SELECT sum(next_offset) FROM sluice_offsets WHERE group_name = 'pg'", database: database)
        #expect(stored == "\(rows)")
        // Nothing new: a second run loads nothing.
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(good)")
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "pg", "--topic", "orders", "--to-earliest", "--execute"],
            in: dir.path)
        let again: String
        if losingTheConnection {
            let locker = try TableLocker(server, database: database, table: "orders")
            defer { locker.release() }
            let (process, out, err) = try SluiceBinary.start(["run"], in: dir.path)
            let collector = OutputCollector(out: out, err: err)
            #expect(locker.waitForWaiter(), "the sink never came to wait for the lock")
            try locker.terminateWaiters()
            locker.release()
            process.waitUntilExit()
            again = collector.finish().1
            #expect(process.terminationStatus == 0, "\(again)")
        } else {
            again = try EndToEnd.sluice(["run"], in: dir.path).stderr
        }
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(2 * good)", "\(again)")
        #expect(again.contains("following the reset"), "\(again)")
        #expect(try EndToEnd.records("pg.dlq", dataDirectory: dir.file("data")).count == 2 * (rows - good))
        // Once followed, the stored offsets are the truth again.
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(2 * good)")
    }

    /// Upserts and tombstones (written to the topic beforehand, as a producer would), loaded with
    /// exactly-once delivery through 30 kills: the table ends exactly as the records say.
    @Test func upsertsAndDeletesKilledThirtyTimesEndAsTheRecordsSay() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("exactlydeletes")
        let dir = TemporaryDirectory()
        let keys = 300_000
        do {
            let broker = try Broker(dataDirectory: dir.file("data"))
            _ = try broker.ensureTopic("accounts", config: TopicConfig(partitions: 4))
            let producer = try Producer(broker: broker, topic: "accounts")
            // Every key with v 1; then a tombstone for every third; then v 3 for every even one.
            let rounds: [(Int) -> String??] = [
                { id in #"{"id":\#(id),"v":1}"# },
                { id in id % 3 == 0 ? .some(nil) : nil },
                { id in id % 2 == 0 ? #"{"id":\#(id),"v":3}"# : nil },
            ]
            for round in rounds {
                var block = RecordBlock()
                for id in 1...keys {
                    guard let value = round(id) else { continue }
                    block.append(Record(key: Array("\(id)".utf8), value: value.map { Array($0.utf8) }, timestamp: 1))
                    if block.count == 5_000 {
                        _ = try producer.send(block)
                        block = RecordBlock()
                    }
                }
                if !block.isEmpty { _ = try producer.send(block) }
            }
            try broker.close()
        }
        try EndToEnd.write(
            """
            {"sinks": {"pg": {"type": "postgres", "topics": ["accounts"], "mode": "upsert", "key_columns": ["id"],
                              "delivery": "exactly_once", "connection": "\(server.connectionString(database: database))",
                              "tasks": 2, "max_batch_records": 4000, "batch_wait_ms": 20, "retry_initial_ms": 100}}}
            """, to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 30, seed: 47, minMillis: 150, spreadMillis: 300)
        #expect(kills >= 30, "the run finished before it was killed 30 times")
        try EndToEnd.sluice(["run"], in: dir.path)
        let kept = (1...keys).filter { $0 % 3 != 0 || $0 % 2 == 0 }
        let sum = kept.reduce(0) { $0 + ($1 % 2 == 0 ? 3 : 1) }
        #expect(
            try server.psql("SELECT count(*), count(DISTINCT id), sum(v::int) FROM accounts", database: database)
                == "\(kept.count)|\(kept.count)|\(sum)")
    }

    /// Offsets stored for another incarnation of the topic (a new data directory) are refused, never
    /// taken for this one's: the first 1,000 rows of the new topic would be skipped.
    @Test func offsetsOfAnotherTopicOfTheSameNameAreRefused() throws {
        let server = try PostgresServer.shared()
        let (database, dir) = try Self.prepare(server, "exactlyid", rows: 1_000, seed: 51, tasks: 1)
        try EndToEnd.sluice(["run"], in: dir.path)
        try FileSystem.removeTree(dir.file("data"))
        try SampleOrders(rows: 3_000, seed: 52).write(to: dir.file("orders.csv"))
        let refused = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        #expect(refused.stderr.contains("belong to another topic of that name"), "\(refused.stderr)")
        let again = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        #expect(again.stderr.contains("belong to another topic of that name"), "\(again.stderr)")
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "pg", "--topic", "orders", "--to-earliest", "--execute"],
            in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        let loaded = (1_000 - 1_000 / Self.refusedEvery) + (3_000 - 3_000 / Self.refusedEvery)
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(loaded)")
    }

    /// The sink holds every partition to its end while the group's offsets are gone: the run commits the
    /// group's offsets up to the sink's and ends, instead of waiting for a batch that never comes.
    @Test func aSinkAheadOfItsGroupStillEnds() throws {
        let server = try PostgresServer.shared()
        let (database, dir) = try Self.prepare(server, "exactlyahead", rows: 2_000, seed: 53, tasks: 1)
        try EndToEnd.sluice(["run"], in: dir.path)
        try EndToEnd.sluice(["groups", "delete", "pg"], in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        let lag = try EndToEnd.sluice(["groups", "describe", "pg"], in: dir.path)
        #expect(lag.stdout.contains("total lag 0"), "\(lag.stdout)")
        let good = 2_000 - 2_000 / Self.refusedEvery
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "\(good)")
        // An offset edited by hand to something that is no offset is refused, when there is something to
        // deliver (the file grew: the same generator gives the same first rows).
        try server.psql("UPDATE sluice_offsets SET next_offset = -5", database: database)
        try SampleOrders(rows: 2_500, seed: 53).write(to: dir.file("orders.csv"))
        let refused = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        #expect(refused.stderr.contains("not an offset"), "\(refused.stderr)")
    }
}
