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
    /// Where the last failed connection attempt went, for messages.
    private var lastTarget: String?
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

    /// Where the connection goes, without secrets: `user@host:port/database` (of the last attempt,
    /// when it failed).
    var target: String { handle.map(Self.describe) ?? lastTarget ?? "the PostgreSQL server" }

    /// `user@host:port/database` of a connection, made or failed.
    private static func describe(_ connection: OpaquePointer) -> String {
        func text(_ value: UnsafeMutablePointer<CChar>?) -> String { value.map { String(cString: $0) } ?? "" }
        return "\(text(PQuser(connection)))@\(text(PQhost(connection))):\(text(PQport(connection)))/"
            + text(PQdb(connection))
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
                lastTarget = Self.describe(connection)
                PQfinish(connection)
                state.lost()
                throw connectionError(
                    "timeout expired: no answer within \(limit ?? 0) s; connect_timeout in the connection sets how long "
                        + "to wait")
            }
        }
        guard polling == PGRES_POLLING_OK, PQsetnonblocking(connection, 1) == 0 else {
            let message = PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown error"
            let needsPassword = PQconnectionNeedsPassword(connection) == 1
            lastTarget = Self.describe(connection)
            PQfinish(connection)
            state.lost()
            throw connectionError(message, needsPassword: needsPassword)
        }
        handle = connection
        // Notices ("table … does not exist, skipping") are not errors; libpq would print them to stderr.
        _ = PQsetNoticeProcessor(connection, { _, _ in }, nil)
        state.connected()
        // A commit is the sink's promise that the rows are durable, after which their offsets move on.
        // With synchronous_commit off (a server's or a role's setting) a commit returns before its WAL
        // is written, and a server crash then loses rows whose offsets were committed; this session's
        // commits wait for the local WAL flush whatever the default (a stronger setting stays).
        _ = try execute(
            "SELECT set_config('synchronous_commit', 'local', false) WHERE current_setting('synchronous_commit') = 'off'"
        )
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
    /// The connection options libpq knows (`PQconndefaults`).
    static func knownOptions() -> [String] {
        guard let defaults = PQconndefaults() else { return [] }
        defer { PQconninfoFree(defaults) }
        var names: [String] = []
        var option = defaults
        while let keyword = option.pointee.keyword {
            names.append(String(cString: keyword))
            option += 1
        }
        return names
    }

    static func problem(in connectionString: String) -> String? {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &error) else {
            let message = error.map { String(cString: $0) } ?? ""
            if let error { PQfreemem(error) }
            // Only an unknown option's name is repeated: libpq's other messages may quote a value, and a
            // value may be a password.
            let prefix = "invalid connection option \""
            if message.hasPrefix(prefix), let end = message.dropFirst(prefix.count).firstIndex(of: "\"") {
                let name = String(message.dropFirst(prefix.count)[..<end])
                let hint = Suggestion.closest(to: name, in: knownOptions()).map { "; did you mean \"\($0)\"?" } ?? ""
                return "unknown connection option \"\(name)\"\(hint)"
            }
            return "not a connection string libpq can read: use key=value pairs (values with spaces in single "
                + "quotes) or a postgresql:// URL (with %, @, / and : in values percent-encoded)"
        }
        PQconninfoFree(options)
        return nil
    }

    /// The secrets in `connectionString` that messages must leave out: its password, as libpq reads it
    /// and, in a URL, as written (percent-encoded).
    static func secrets(in connectionString: String) -> [String] {
        var secrets: [String] = []
        if let options = PQconninfoParse(connectionString, nil) {
            var option = options
            while let keyword = option.pointee.keyword {
                if String(cString: keyword) == "password", let value = option.pointee.val {
                    secrets.append(String(cString: value))
                }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let scheme = connectionString.firstRange(of: "://") {
            let authority = connectionString[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                secrets.append(String(authority[authority.index(after: colon)..<at]))
            }
        }
        return secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// `text` with the connection string's password replaced by `***`.
    func redacted(_ text: String) -> String {
        var text = text
        for secret in Self.secrets(in: connectionString) { text = text.replacing(secret, with: "***") }
        return text
    }

    /// A failed connection attempt as an error: no SQLSTATE (libpq gives none for it), the cause read
    /// from the message (`ConnectFailure`), and the message without the password.
    func connectionError(_ raw: String, needsPassword: Bool = false) -> PostgresError {
        // libpq's hint goes on an indented second line, and each host tried has a line of its own.
        let message = redacted(raw.trimmingSpaces()).replacing("\n\t", with: " ").replacing("\n", with: "; ")
        var error = PostgresError(sqlState: "", message: message, connectionLost: true)
        error.connectFailure = ConnectFailure.classify(message, needsPassword: needsPassword)
        return error
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
