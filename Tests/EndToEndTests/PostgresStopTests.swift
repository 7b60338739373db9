import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice run` stopped while its PostgreSQL sink waits on the server: it exits within a second,
/// says it was interrupted, commits nothing of the batch, and the next run loads every row once.
/// Needs the runtime to call `Sink.interrupt()` from its stop path (issue 9, item 9).
@Suite(.serialized, .enabled(if: PostgresServer.shouldRun)) struct PostgresStopTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func aRunStoppedWhileTheSinkWaitsForALockExitsAtOnceAndCommitsNothing(signal: Int32) throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("stop")
        try server.psql("CREATE TABLE orders (id bigint, name text)", database: database)
        let dir = TemporaryDirectory()
        let rows = 2000
        let csv = "id,name\n" + (1...rows).map { "\($0),n\($0)\n" }.joined()
        try csv.write(toFile: dir.file("orders.csv"), atomically: true, encoding: .utf8)
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 2}},
             "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["id"], "columns": {"id": "int"}}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "table": "orders",
                              "connection": "\(server.connectionString(database: database))"}}}
            """, to: "config.json", in: dir.path)

        // Another session holds the table until it is terminated.
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: server.binaries + "/psql")
        locker.arguments = [
            "-X", "-q", "-h", server.socketDirectory, "-p", String(server.port), "-U", "postgres", "-d", database,
            "-c", "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600); COMMIT",
        ]
        locker.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": "locker"]) { $1 }
        locker.standardOutput = FileHandle.nullDevice
        locker.standardError = FileHandle.nullDevice
        try locker.run()
        defer {
            _ = try? server.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'",
                database: database)
            locker.waitUntilExit()
        }
        let waiting =
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        var held = false
        for _ in 0..<500 where !held {
            held =
                (try? server.psql(
                    "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
                        + "AND relation = 'orders'::regclass", database: database)) == "1"
            if !held { Time.sleep(millis: 20) }
        }
        #expect(held, "the locker never took its lock")

        let (process, out, err) = try SluiceBinary.start(["run"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        var blocked = false
        for _ in 0..<1500 where !blocked {
            blocked = (try? server.psql(waiting, database: database)) == "1"
            if !blocked { Time.sleep(millis: 20) }
        }
        #expect(blocked, "the sink never came to wait for the lock")
        let started = Time.monotonicNanos()
        kill(process.processIdentifier, signal)
        var exited = false
        for _ in 0..<1000 where !exited {
            exited = !process.isRunning
            if !exited { Time.sleep(millis: 10) }
        }
        let seconds = Double(Time.monotonicNanos() - started) / 1e9
        if !exited {
            // Let the test end: release the lock so that the blocked write can finish.
            _ = try? server.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'",
                database: database)
        }
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(exited && seconds < 1.5, "sluice run exited \(seconds) s after the signal")
        #expect(process.terminationStatus == 128 + signal, "exit \(process.terminationStatus): \(stderr)")
        #expect(stderr.contains("interrupted"), "\(stderr)")
        _ = try? server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'",
            database: database)
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "0")

        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(
            try server.psql("SELECT count(*), count(DISTINCT id) FROM orders", database: database) == "\(rows)|\(rows)")
    }
}
