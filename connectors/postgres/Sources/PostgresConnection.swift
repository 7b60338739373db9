import CLibPQ
import Glibc
import SluiceCore

/// One libpq connection (`PGconn`), freed when the object goes away, and the state machine that keeps
/// track of it. Every call blocks on the network and belongs on the sink task's own thread; not
/// thread-safe. Connection strings may hold passwords: they are given to libpq and never printed;
/// messages name the server by host, port, database and user only.
final class PostgresConnection {
    /// A connection string or URL; empty for libpq's `PG*` environment variables and defaults.
    let connectionString: String
    private var handle: OpaquePointer?
    private(set) var state = ConnectionState()

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

    /// Opens the connection. The corresponding C function is `PQconnectdb`.
    func connect() throws {
        if let handle { PQfinish(handle) }
        handle = nil
        let connection = PQconnectdb(connectionString)
        guard let connection, PQstatus(connection) == CONNECTION_OK else {
            let message = connection.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? "out of memory"
            if let connection { PQfinish(connection) }
            state.lost()
            throw connectionError(message)
        }
        handle = connection
        _ = PQsetClientEncoding(connection, "UTF8")
        // Notices ("table … does not exist, skipping") are not errors; libpq would print them to stderr.
        _ = PQsetNoticeProcessor(connection, { _, _ in }, nil)
        state.connected()
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

    // MARK: Statements

    /// Runs one statement; returns the rows of text it produced (for queries).
    /// The corresponding C functions are `PQexec` and `PQexecParams` (with parameters).
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        guard let handle else {
            throw PostgresError(sqlState: "", message: "not connected", context: nil, connectionLost: true)
        }
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = PQexec(handle, sql)
        } else {
            var copies = parameters.map { $0.map { strdup($0) } ?? nil }
            defer { for copy in copies { free(copy) } }
            result = copies.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress?.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                    values in
                    PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
                }
            }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw failure(result) }
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append(
                (0..<PQnfields(result)).map { column in
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                })
        }
        return rows
    }

    /// Runs `COPY … FROM STDIN` and sends `data` (text format rows) in one go.
    func copy(_ sql: String, _ data: UnsafeRawBufferPointer) throws {
        try beginCopy(sql)
        let sent = sendCopyData(data)
        try endCopy(abortWith: sent ? nil : "the client could not send the data")
    }

    /// Starts `COPY … FROM STDIN`; rows follow with `sendCopyData`, then `endCopy`.
    func beginCopy(_ sql: String) throws {
        guard let handle else {
            throw PostgresError(sqlState: "", message: "not connected", context: nil, connectionLost: true)
        }
        let start = PQexec(handle, sql)
        defer { PQclear(start) }
        if PQresultStatus(start) != PGRES_COPY_IN { throw failure(start) }
    }

    /// Sends COPY data; the server works on it while the caller prepares more. Returns false when the
    /// connection failed (the error comes from `endCopy`). The corresponding C function is `PQputCopyData`.
    func sendCopyData(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let handle, let base = data.baseAddress else { return handle != nil }
        var offset = 0
        let chunk = 1 << 20
        while offset < data.count {
            let count = min(chunk, data.count - offset)
            guard PQputCopyData(handle, base.assumingMemoryBound(to: CChar.self) + offset, Int32(count)) == 1 else {
                return false
            }
            offset += count
        }
        return true
    }

    /// Ends the COPY, or abandons it with `abortWith`, and throws what the server reported.
    /// The corresponding C functions are `PQputCopyEnd` and `PQgetResult`.
    func endCopy(abortWith reason: String? = nil) throws {
        guard let handle else {
            throw PostgresError(sqlState: "", message: "not connected", context: nil, connectionLost: true)
        }
        _ = PQputCopyEnd(handle, reason)
        var firstFailure: PostgresError?
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && firstFailure == nil { firstFailure = failure(result) }
            PQclear(result)
        }
        if let firstFailure { throw firstFailure }
        if PQstatus(handle) != CONNECTION_OK { throw failure(nil) }
    }

    /// The error of a failed result, and the state machine's view of it.
    private func failure(_ result: OpaquePointer?) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let result, let value = PQresultErrorField(result, Int32(code.asciiValue ?? 0)) else { return nil }
            return String(cString: value)
        }
        let lost = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        let message =
            field("M") ?? handle.flatMap { PQerrorMessage($0) }.map { String(cString: $0).trimmingSpaces() }
            ?? "unknown error"
        let error = PostgresError(
            sqlState: field("C") ?? "", message: message, detail: field("D"), context: field("W"), connectionLost: lost)
        if lost { state.lost() } else { state.statementFailed() }
        return error
    }

    /// Rolls back to a savepoint after a failed statement, leaving the transaction usable.
    func rollbackToSavepoint(_ name: String) throws {
        try execute("ROLLBACK TO SAVEPOINT \(name)")
        state.recoveredToSavepoint()
    }
}
