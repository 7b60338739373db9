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
        let locker = try TableLocker(server, database: database, table: "orders")
        defer { locker.release() }
        let (process, out, err) = try SluiceBinary.start(["run"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        #expect(locker.waitForWaiter(), "the sink never came to wait for the lock")
        let started = Time.monotonicNanos()
        kill(process.processIdentifier, signal)
        var exited = false
        for _ in 0..<1000 where !exited {
            exited = !process.isRunning
            if !exited { Time.sleep(millis: 10) }
        }
        let seconds = Double(Time.monotonicNanos() - started) / 1e9
        // Let the test end if it did not: release the lock so that the blocked write can finish.
        if !exited { locker.release() }
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(exited && seconds < 1.5, "sluice run exited \(seconds) s after the signal")
        #expect(process.terminationStatus == 128 + signal, "exit \(process.terminationStatus): \(stderr)")
        #expect(stderr.contains("interrupted"), "\(stderr)")
        locker.release()
        #expect(try server.psql("SELECT count(*) FROM orders", database: database) == "0")

        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(
            try server.psql("SELECT count(*), count(DISTINCT id) FROM orders", database: database) == "\(rows)|\(rows)")
    }
}
