/// A failure reported by PostgreSQL or libpq: the SQLSTATE when the server gave one, its message, and
/// the context (for COPY it names the line of the data that failed).
struct PostgresError: Error, CustomStringConvertible, Sendable {
    /// Five characters such as `23505`; empty when the failure was the connection's.
    var sqlState: String
    var message: String
    var detail: String?
    var context: String?
    /// Whether the connection itself is gone.
    var connectionLost: Bool
    /// The constraint, table and column the server's error names, when it names them.
    var constraint: String?
    var table: String?
    var column: String?
    /// Why a connection attempt failed; nil for anything else.
    var connectFailure: ConnectFailure?
    /// Whether `interrupt()` ended the call, because the run is stopping.
    var interrupted = false

    /// The call ended because another thread interrupted it; the connection was dropped, so nothing of
    /// its transaction was committed.
    static let interrupted = PostgresError(
        sqlState: "", message: "interrupted: the run is stopping; nothing of this batch was committed",
        connectionLost: true, interrupted: true)

    var description: String {
        var text = sqlState.isEmpty ? message : "\(message) (SQLSTATE \(sqlState))"
        if let detail, !detail.isEmpty { text += "; \(detail)" }
        return text
    }

    /// The SQLSTATE class: its first two characters.
    var sqlClass: String { String(sqlState.prefix(2)) }

    /// How the sink should treat the failure (DESIGN.md's three kinds): a failed connection attempt as
    /// `ConnectFailure` sorts it; otherwise by SQLSTATE: connection failures (class 08 but a protocol
    /// violation, 08P01, which is fatal; or no state
    /// with the connection gone), shutdowns (57P01–57P03),
    /// serialization failures and deadlocks (40001, 40P01) and resource shortages (class 53) are
    /// transient; data exceptions (class 22) and integrity violations (class 23) belong to a record;
    /// the rest (permission denied 42501, other class 42 errors, authentication) is fatal.
    var kind: Kind {
        if let connectFailure { return connectFailure.isFatal ? .fatal : .transient }
        if connectionLost || sqlState.isEmpty { return .transient }
        // A protocol violation is a mistake in what the client sent: sending it again fails the same way.
        if sqlState == "08P01" { return .fatal }
        switch sqlClass {
        case "08", "53": return .transient
        case "22", "23": return .record
        default: break
        }
        switch sqlState {
        case "57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014": return .transient
        default: return .fatal
        }
    }

    enum Kind: Equatable {
        case transient
        case record
        case fatal
    }

    /// The column the error is about: the one the server names, or the one of the COPY line.
    var failedColumn: String? {
        if let column { return column }
        guard let context = copyContext, let range = context.firstRange(of: ", column ") else { return nil }
        let rest = context[range.upperBound...]
        return String(rest[..<(rest.firstRange(of: ": ")?.lowerBound ?? rest.endIndex)])
    }

    /// The 1-based line of the COPY data the error names (`COPY orders, line 17, column amount: …`).
    var copyLine: Int? {
        guard let context = copyContext, let range = context.firstRange(of: ", line ") else { return nil }
        let digits = context[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    /// The context's COPY line: the context is a stack, one line each, and the innermost can name a line
    /// of its own (`JSON data, line 1: {bad…` above `COPY orders, line 300, column doc: …`).
    private var copyContext: Substring? {
        context?.split(separator: "\n").first { $0.hasPrefix("COPY ") }
    }
}
