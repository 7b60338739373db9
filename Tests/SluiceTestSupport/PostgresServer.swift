import Foundation
import Glibc

/// A private PostgreSQL server for tests: `initdb` into a temporary folder, `postgres` on a private
/// Unix socket (no TCP), stopped when the test process exits. The binaries come from
/// `pg_config --bindir`. PostgreSQL refuses to run as root, so when the tests run as root the server
/// runs as the `postgres` account Debian's package creates, through `runuser`.
///
/// One server per test process, started on first use; each test takes its own database. With
/// CI=true a missing PostgreSQL is an error, never a skip.
public final class PostgresServer: @unchecked Sendable {
    public let binaries: String
    public let directory: String
    public let socketDirectory: String
    public let port: Int
    private let asUser: String?
    private static let counter = NSLock()
    nonisolated(unsafe) private static var databases = 0

    /// Whether PostgreSQL tests should run: the server binaries are there, or CI demands them.
    public static var shouldRun: Bool {
        ProcessInfo.processInfo.environment["CI"] == "true" || findBinaries() != nil
    }

    /// The shared server, started on first use.
    public static func shared() throws -> PostgresServer {
        try sharedServer.get()
    }

    private static let sharedServer: Result<PostgresServer, any Error> = Result { try PostgresServer() }

    /// A server of its own, for a test that restarts it (a restart of the shared one would fail the
    /// writes of every other test running at the time). The caller stops it.
    public static func dedicated() throws -> PostgresServer {
        counter.lock()
        dedicatedServers += 1
        let number = dedicatedServers
        counter.unlock()
        return try PostgresServer(port: 30_000 + Int(getpid() % 2_500) * 4 + (number - 1) % 4)
    }

    nonisolated(unsafe) private static var dedicatedServers = 0

    static func findBinaries() -> String? {
        guard let output = try? run("/bin/sh", ["-c", "pg_config --bindir"]), output.status == 0 else { return nil }
        let directory = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: directory + "/postgres") ? directory : nil
    }

    private init(port: Int = 40_000 + Int(getpid() % 20_000)) throws {
        guard let binaries = Self.findBinaries() else {
            throw TestSupportError(
                "PostgreSQL is not installed (pg_config --bindir finds no postgres); install postgresql")
        }
        self.binaries = binaries
        directory = TemporaryDirectory("sluice-pg").detach()
        socketDirectory = directory + "/socket"
        self.port = port
        asUser = geteuid() == 0 ? "postgres" : nil
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        try startWatchdog()
        if let asUser {
            let chown = try Self.run("/bin/chown", ["-R", asUser, directory])
            guard chown.status == 0 else { throw TestSupportError("chown \(directory) failed: \(chown.stderr)") }
        }
        let initdb = try command(
            "initdb",
            ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        guard initdb.status == 0 else { throw TestSupportError("initdb failed: \(initdb.stderr)\(initdb.stdout)") }
        try start()
    }

    /// Starts a detached shell that waits for this test process to end, however it ends, and then stops
    /// the server and removes its folder.
    private func startWatchdog() throws {
        let stop =
            (asUser.map { "/usr/sbin/runuser -u \($0) -- " } ?? "")
            + "\(binaries)/pg_ctl -D \(directory)/data -m immediate -w stop"
        let script =
            "while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done; \(stop) >/dev/null 2>&1; rm -rf \(directory)"
        let result = try Subprocess.run("/usr/bin/setsid", ["-f", "/bin/sh", "-c", script])
        guard result.status == 0 else { throw TestSupportError("cannot start the server's watchdog: \(result.stderr)") }
    }

    /// The server's settings: only the private socket, and no fsync (the tests stop and restart the server
    /// cleanly; they do not pull its power).
    private var options: String {
        "-c listen_addresses='' -k \(socketDirectory) -p \(port) -c fsync=off -c full_page_writes=off "
            + "-c synchronous_commit=off -c max_connections=50"
    }

    /// Starts the server and waits until it accepts connections.
    public func start() throws {
        let started = try command(
            "pg_ctl",
            ["-D", directory + "/data", "-l", directory + "/server.log", "-o", options, "-w", "-t", "60", "start"],
            detached: true)
        guard started.status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw TestSupportError("pg_ctl start failed: \(started.stderr)\n\(log)")
        }
    }

    /// Restarts the server (`pg_ctl restart -m fast`), as an operator would mid-run; `immediate` stops
    /// it as a crash would, and it recovers from its WAL on the way up.
    public func restart(mode: String = "fast") throws {
        let result = try command(
            "pg_ctl",
            ["-D", directory + "/data", "-l", directory + "/server.log", "-o", options, "-m", mode, "-w", "restart"],
            detached: true)
        guard result.status == 0 else { throw TestSupportError("pg_ctl restart failed: \(result.stderr)") }
    }

    /// Stops the server (`pg_ctl stop -m fast`) and keeps its folder: `start` brings it back.
    public func halt() throws {
        let result = try command("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "stop"])
        guard result.status == 0 else { throw TestSupportError("pg_ctl stop failed: \(result.stderr)") }
    }

    /// Stops the server at once and removes its folder.
    public func stop() {
        _ = try? command("pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A libpq connection string for `database`.
    public func connectionString(database: String) -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    /// Creates a fresh database and returns its name.
    public func createDatabase(_ prefix: String = "test") throws -> String {
        Self.counter.lock()
        Self.databases += 1
        let name = "\(prefix)_\(Self.databases)"
        Self.counter.unlock()
        _ = try psql("CREATE DATABASE \(name)", database: "postgres")
        return name
    }

    /// Runs SQL through `psql` and returns its unaligned, tuples-only output (`|` between columns).
    @discardableResult
    public func psql(_ sql: String, database: String) throws -> String {
        let result = try Self.run(
            binaries + "/psql",
            [
                "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", socketDirectory, "-p", String(port), "-U", "postgres",
                "-d", database,
                "-c", sql,
            ])
        guard result.status == 0 else { throw TestSupportError("psql failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .newlines)
    }

    /// Runs a server binary, as the `postgres` account when the tests run as root. `detached` sends its
    /// output to a file instead of a pipe: `pg_ctl start` leaves the server running with the pipe open.
    private func command(_ name: String, _ arguments: [String], detached: Bool = false) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let executable = asUser == nil ? binaries + "/" + name : "/usr/sbin/runuser"
        let fullArguments = asUser.map { ["-u", $0, "--", binaries + "/" + name] + arguments } ?? arguments
        return try Self.run(executable, fullArguments, outputFile: detached ? directory + "/pg_ctl.out" : nil)
    }

    static func run(_ executable: String, _ arguments: [String], outputFile: String? = nil) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let result = try Subprocess.run(executable, arguments)
        return (result.status, result.stdout, result.stderr)
    }
}

/// A failure of the test support itself, with what went wrong.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
