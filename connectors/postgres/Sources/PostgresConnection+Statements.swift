import CLibPQ
import Glibc
import SluiceCore

/// Statements and COPY on a non-blocking connection: every wait for the server is a `poll` on the
/// connection's socket and on the interruption's pipe, so an interrupt ends it at once. Then the
/// running statement is cancelled (`PQcancel`), the connection is dropped, which rolls back whatever
/// its transaction held, and the call throws `PostgresError.interrupted`.
extension PostgresConnection {
    /// Runs one statement; returns the rows of text it produced (for queries).
    /// The corresponding C functions are `PQsendQuery` and `PQsendQueryParams` (with parameters).
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> [[String?]] {
        let handle = try liveHandle()
        let sent: Int32
        if parameters.isEmpty {
            sent = PQsendQuery(handle, sql)
        } else {
            var copies = parameters.map { $0.map { strdup($0) } ?? nil }
            defer { for copy in copies { free(copy) } }
            sent = copies.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress?.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) {
                    values in
                    PQsendQueryParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
                } ?? 0
            }
        }
        guard sent == 1 else { throw failure(nil) }
        count(statements: 1)
        try flushOutput(handle)
        var rows: [[String?]] = []
        // The first failure is read once the command is over, when libpq knows whether the connection
        // survived it (a server that terminates the session sends its error, then closes).
        var failed: OpaquePointer?
        defer { PQclear(failed) }
        while let result = try nextResult(handle) {
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
                if failed == nil { failed = result } else { PQclear(result) }
                continue
            }
            defer { PQclear(result) }
            rows = []
            for row in 0..<PQntuples(result) {
                rows.append(
                    (0..<PQnfields(result)).map { column in
                        PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                    })
            }
        }
        if let failed { throw failure(failed) }
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
        let handle = try liveHandle()
        guard PQsendQuery(handle, sql) == 1 else { throw failure(nil) }
        count(statements: 1)
        try flushOutput(handle)
        guard let start = try nextResult(handle) else { throw failure(nil) }
        defer { PQclear(start) }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            while let rest = try nextResult(handle) { PQclear(rest) }
            throw failure(start)
        }
    }

    /// Sends COPY data; the server works on it while the caller prepares more. Returns false when the
    /// connection failed or an interrupt came (the error comes from `endCopy`). The corresponding C
    /// function is `PQputCopyData`.
    func sendCopyData(_ data: UnsafeRawBufferPointer) -> Bool {
        guard let handle, !interruption.isRaised else { return false }
        guard let base = data.baseAddress else { return true }
        var offset = 0
        let chunk = 1 << 20
        while offset < data.count {
            let size = min(chunk, data.count - offset)
            switch PQputCopyData(handle, base.assumingMemoryBound(to: CChar.self) + offset, Int32(size)) {
            case 1:
                offset += size
                count(copyBytes: size)
            case 0: break
            default: return false
            }
            // libpq grows its buffer rather than refuse data: hand it all to the socket before more.
            do { try flushOutput(handle) } catch { return false }
        }
        return true
    }

    /// Ends the COPY, or abandons it with `abortWith`, and throws what the server reported.
    /// The corresponding C functions are `PQputCopyEnd` and `PQgetResult`.
    func endCopy(abortWith reason: String? = nil) throws {
        let handle = try liveHandle()
        while true {
            let ended = PQputCopyEnd(handle, reason)
            if ended == 1 { break }
            if ended < 0 { throw failure(nil) }
            try waitForSocket(handle, write: true)
            _ = PQconsumeInput(handle)
        }
        try flushOutput(handle)
        var failed: OpaquePointer?
        defer { PQclear(failed) }
        while let result = try nextResult(handle) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && failed == nil { failed = result } else { PQclear(result) }
        }
        if let failed { throw failure(failed) }
        if PQstatus(handle) != CONNECTION_OK { throw failure(nil) }
    }

    // MARK: Waiting

    /// The connection, when there is one and no interrupt came.
    private func liveHandle() throws -> OpaquePointer {
        if interruption.isRaised { throw abandon() }
        guard let handle else {
            throw PostgresError(sqlState: "", message: "not connected", context: nil, connectionLost: true)
        }
        return handle
    }

    /// The next result of the running command, once libpq has all of it; nil when the command is done.
    /// The corresponding C functions are `PQisBusy`, `PQconsumeInput` and `PQgetResult`.
    private func nextResult(_ handle: OpaquePointer) throws -> OpaquePointer? {
        while PQisBusy(handle) == 1 {
            try waitForSocket(handle, write: false)
            // On failure libpq records why, and `PQgetResult` returns it without waiting.
            if PQconsumeInput(handle) == 0 { break }
        }
        return PQgetResult(handle)
    }

    /// Hands everything libpq has queued to the socket. The corresponding C function is `PQflush`.
    private func flushOutput(_ handle: OpaquePointer) throws {
        while PQflush(handle) == 1 {
            try waitForSocket(handle, write: true)
            _ = PQconsumeInput(handle)
        }
    }

    /// Waits until the socket can be read (or written, with `write`); an interrupt abandons the
    /// connection and throws.
    private func waitForSocket(_ handle: OpaquePointer, write: Bool) throws {
        if Self.wait(socket: PQsocket(handle), read: true, write: write, until: nil, interruption) == .interrupted {
            throw abandon()
        }
    }

    /// Gives the connection up after an interrupt: cancels what runs on the server (the cancel object
    /// is made here, on the task's own thread, so no libpq object is shared between threads) and drops
    /// the connection, so that its transaction can never commit. The corresponding C functions are
    /// `PQgetCancel`, `PQcancel` and `PQfinish`.
    func abandon() -> PostgresError {
        if let handle, PQtransactionStatus(handle) == PQTRANS_ACTIVE, let cancel = PQgetCancel(handle) {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &message, Int32(message.count))
            PQfreeCancel(cancel)
        }
        close()
        return .interrupted
    }

    enum Wake: Equatable {
        case ready
        case interrupted
        case timedOut
    }

    /// Waits with `poll` until `socket` is ready, `deadline` (monotonic nanoseconds) passes, or the
    /// interruption is raised. A signal (EINTR) only restarts the wait.
    static func wait(socket: Int32, read: Bool, write: Bool, until deadline: UInt64?, _ interruption: Interruption)
        -> Wake
    {
        guard socket >= 0 else { return interruption.isRaised ? .interrupted : .ready }
        let events = Int16((read ? POLLIN : 0) | (write ? POLLOUT : 0))
        var descriptors = [
            pollfd(fd: socket, events: events, revents: 0),
            pollfd(fd: interruption.descriptor, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            if interruption.isRaised { return .interrupted }
            var timeout: Int32 = -1
            if let deadline {
                let now = Time.monotonicNanos()
                if now >= deadline { return .timedOut }
                timeout = Int32(min((deadline - now) / 1_000_000 + 1, 60_000))
            }
            // Without the pipe, look at the flag often enough to answer within a second.
            if interruption.descriptor < 0 { timeout = timeout < 0 ? 50 : min(timeout, 50) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), timeout)
            if ready < 0 && errno != EINTR && errno != EAGAIN { return .ready }
            if ready > 0 && descriptors[0].revents != 0 && !interruption.isRaised { return .ready }
        }
    }
}
