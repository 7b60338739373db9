import Foundation

/// Another session that holds a table's ACCESS EXCLUSIVE lock until it is released, so that a sink's
/// write waits; and the means to find that waiting backend and to end it.
public final class TableLocker {
    private let server: PostgresServer
    private let database: String
    private let process = Process()

    /// Starts a `psql` session (application name `locker`) that locks `table`, and waits until it holds
    /// the lock.
    public init(_ server: PostgresServer, database: String, table: String) throws {
        self.server = server
        self.database = database
        process.executableURL = URL(fileURLWithPath: server.binaries + "/psql")
        process.arguments = [
            "-X", "-q", "-h", server.socketDirectory, "-p", String(server.port), "-U", "postgres", "-d", database,
            "-c", "BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600); COMMIT",
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["PGAPPNAME": "locker"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let held = Self.waitFor(seconds: 10) {
            (try? server.psql(
                "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = '\(table)'::regclass",
                database: database)).flatMap { Int($0) }.map { $0 >= 1 } == true
        }
        guard held else {
            release()
            throw TestSupportError("the locker never took its lock on \(table)")
        }
    }

    /// Waits up to `seconds` until a session of the database waits for a lock; whether one did.
    public func waitForWaiter(seconds: Double = 30) -> Bool {
        Self.waitFor(seconds: seconds) {
            (try? server.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                database: database)).flatMap { Int($0) }.map { $0 >= 1 } == true
        }
    }

    /// Ends the sessions waiting for the lock (the sink's connection is lost in the middle of its write).
    public func terminateWaiters() throws {
        try server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                + "AND wait_event_type = 'Lock'", database: database)
    }

    /// Ends the locking session, releasing the lock; waits for its `psql` to exit.
    public func release() {
        _ = try? server.psql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'locker'",
            database: database)
        process.waitUntilExit()
    }

    private static func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return false
    }
}
