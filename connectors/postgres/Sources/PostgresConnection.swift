import CLibPQ
import Glibc
import SluiceCore

/// One libpq connection (`PGconn`), freed when the object goes away, and the state machine that keeps
/// track of it. Every call blocks on the network and belongs on the sink task's own thread; not
/// thread-safe, except `interruption`, which another thread raises to end any wait at once (see
/// PostgresConnection+Statements.swift). Connection strings may hold passwords: they are given to libpq and never printed;
/// messages name the server by host, port, database and user only.
final class PostgresConnection {
    /// A connection string or URL; empty for libpq's `PG*` environment variables and defaults.
    let connectionString: String
    private(set) var handle: OpaquePointer?
    private(set) var state = ConnectionState()
    /// Raised by another thread to end whatever the connection waits for; see `Interruption`.
    let interruption = Interruption()
    /// Statements sent and bytes of COPY data handed to libpq on this object, for measuring the work
    /// a load does.
    private(set) var work = (statements: 0, copyBytes: 0)

    init(connectionString: String) {
        self.connectionString = connectionString
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Where the connection goes, without secrets: `user@host:port/database`.
    var target: String {
        guard let handle else { return "the PostgreSQL server" }
        func text(_ value: UnsafeMutablePointer<CChar>?) -> String { value.map { String(cString: $0) } ?? "" }
        return "\(text(PQuser(handle)))@\(text(PQhost(handle))):\(text(PQport(handle)))/\(text(PQdb(handle)))"
    }

    // MARK: Driving the state machine

    /// Makes sure a transaction is open, connecting first when needed.
    func ensureTransaction() throws {
        while true {
            switch state.beforeTransactionalWork() {
            case .proceed: return
            case .connect: try connect()
            case .begin:
                try execute("BEGIN")
                state.began()
            case .rollback: try rollback()
            }
        }
    }

    /// Makes sure no transaction is open, connecting first when needed.
    func ensureIdle() throws {
        while true {
            switch state.beforeStandaloneWork() {
            case .proceed: return
            case .connect: try connect()
            case .begin: return
            case .rollback: try rollback()
            }
        }
    }

    /// Opens the connection without blocking the thread: `poll` waits on its socket, so an interrupt
    /// ends the attempt at once, and it gives up after `connect_timeout`. The connection is then put in
    /// non-blocking mode, for the same reason. The corresponding C functions are
    /// `PQconnectStartParams`, `PQconnectPoll` and `PQsetnonblocking`.
    func connect() throws {
        close()
        if interruption.isRaised { throw PostgresError.interrupted }
        // The connection string is expanded in place of `dbname`; the encoding after it overrides it.
        let connection = Self.withCStrings(["dbname", "client_encoding"]) { keywords in
            Self.withCStrings([connectionString, "UTF8"]) { values in PQconnectStartParams(keywords, values, 1) }
        }
        guard let connection else {
            state.lost()
            throw connectionError("out of memory")
        }
        let limit = Self.connectTimeout(connection)
        let deadline = limit.map { Time.monotonicNanos() + UInt64($0) * 1_000_000_000 }
        var polling = PQstatus(connection) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING
        while polling == PGRES_POLLING_READING || polling == PGRES_POLLING_WRITING {
            let reading = polling == PGRES_POLLING_READING
            switch Self.wait(
                socket: PQsocket(connection), read: reading, write: !reading, until: deadline, interruption)
            {
            case .ready:
                polling = PQconnectPoll(connection)
            case .interrupted:
                PQfinish(connection)
                state.lost()
                throw PostgresError.interrupted
            case .timedOut:
                PQfinish(connection)
                state.lost()
                throw connectionError(
                    "timeout expired: no answer within \(limit ?? 0) s; connect_timeout in the connection sets how long "
                        + "to wait")
            }
        }
        guard polling == PGRES_POLLING_OK, PQsetnonblocking(connection, 1) == 0 else {
            let message = PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown error"
            PQfinish(connection)
            state.lost()
            throw connectionError(message)
        }
        handle = connection
        // Notices ("table … does not exist, skipping") are not errors; libpq would print them to stderr.
        _ = PQsetNoticeProcessor(connection, { _, _ in }, nil)
        state.connected()
    }

    /// How long a connection attempt may take, in seconds: `connect_timeout` as libpq reads it (from the
    /// connection string or `PGCONNECT_TIMEOUT`; 1 counts as 2, 0 or less as no limit), and
    /// `defaultConnectTimeout` when neither names one. The corresponding C function is `PQconninfo`.
    static func connectTimeout(_ connection: OpaquePointer) -> Int? {
        guard let options = PQconninfo(connection) else { return defaultConnectTimeout }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "connect_timeout", let value = option.pointee.val,
                let seconds = Int(String(cString: value).trimmingSpaces())
            {
                return seconds <= 0 ? nil : max(seconds, 2)
            }
            option += 1
        }
        return defaultConnectTimeout
    }

    /// Seconds a connection attempt may take when the connection does not say (libpq would wait for
    /// as long as the operating system does, minutes for a host that drops packets).
    static let defaultConnectTimeout = 30

    /// Calls `body` with `strings` as a NULL-terminated array of C strings.
    private static func withCStrings<Result>(
        _ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    ) -> Result {
        let copies = strings.map { strdup($0) } + [nil]
        defer { for copy in copies { free(copy) } }
        return copies.map { $0.map { UnsafePointer($0) } }.withUnsafeBufferPointer { buffer in
            body(buffer.baseAddress)
        }
    }

    /// Why `connectionString` is not one libpq can read, or nil when it can. libpq's own message may
    /// quote the password, so it is not passed on.
    static func problem(in connectionString: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &error) else {
            if let error { PQfreemem(error) }
            return "not a connection string libpq can read: use key=value pairs (values with spaces in single "
                + "quotes) or a postgresql:// URL (with %, @, / and : in values percent-encoded)"
        }
        PQconninfoFree(options)
        return nil
    }

    /// The password in `connectionString`, when it holds one, so that messages can leave it out.
    static func password(in connectionString: String) -> String? {
        guard let options = PQconninfoParse(connectionString, nil) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val {
                let password = String(cString: value)
                return password.isEmpty ? nil : password
            }
            option += 1
        }
        return nil
    }

    /// A failure to connect: authentication and unknown databases or roles are not worth retrying.
    func connectionError(_ raw: String) -> PostgresError {
        var message = raw.trimmingSpaces()
        if let password = Self.password(in: connectionString) { message = message.replacing(password, with: "***") }
        // libpq reports a refused connection as text; the SQLSTATE the server meant is inferred from it,
        // so that the hint fits: 28P01 a wrong password, 3D000 an unknown database, 28000 otherwise
        // refused, 42601 a connection option libpq rejects.
        let permanent: [(texts: [String], sqlState: String)] = [
            (["password authentication failed"], "28P01"), (["database", "does not exist"], "3D000"),
            (["does not exist"], "28000"), (["no pg_hba.conf entry"], "28000"), (["role"], "28000"),
            (["invalid"], "42601"),
        ]
        if let (_, sqlState) = permanent.first(where: { $0.texts.allSatisfy(message.contains) }) {
            return PostgresError(sqlState: sqlState, message: message, detail: nil, context: nil, connectionLost: false)
        }
        return PostgresError(sqlState: "08001", message: message, detail: nil, context: nil, connectionLost: true)
    }

    func commit() throws {
        guard state.phase == .inTransaction || state.phase == .failedTransaction else { return }
        do {
            try execute("COMMIT")
            state.finishedTransaction()
        } catch {
            if state.phase != .broken { state.finishedTransaction() }
            throw error
        }
    }

    func rollback() throws {
        guard state.phase == .inTransaction || state.phase == .failedTransaction else { return }
        try execute("ROLLBACK")
        state.finishedTransaction()
    }

    /// Rolls back whatever is open and keeps the connection when it is healthy, or drops it.
    func reset() {
        if state.phase == .inTransaction || state.phase == .failedTransaction {
            do { try rollback() } catch { close() }
        }
        if state.phase == .broken { close() }
    }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
        state.closed()
    }

    /// The error of a failed result (or of the connection, for nil), and the state machine's view of it.
    func failure(_ result: OpaquePointer?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue ?? 0)) else { return nil }
            return String(cString: value)
        }
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        let message =
            field("M") ?? handle.flatMap { PQerrorMessage($0) }.map { String(cString: $0).trimmingSpaces() }
            ?? "unknown error"
        let error = PostgresError(
            sqlState: field("C") ?? "", message: message, detail: field("D"), context: field("W"), connectionLost: lost,
            constraint: field("n"), table: field("t"), column: field("c"))
        if lost { state.lost() } else { state.statementFailed() }
        return error
    }

    /// Counts a statement sent (`statements`) or COPY data handed over (`copyBytes`).
    func count(statements: Int = 0, copyBytes: Int = 0) {
        work.statements += statements
        work.copyBytes += copyBytes
    }

    /// Rolls back to a savepoint after a failed statement, leaving the transaction usable.
    func rollbackToSavepoint(_ name: String) throws {
        try execute("ROLLBACK TO SAVEPOINT \(name)")
        state.recoveredToSavepoint()
    }
}
