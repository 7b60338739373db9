/// An error a connector raises, sorted into the three kinds the runtime acts on (DESIGN.md):
/// transient errors are retried with backoff, record errors send the record to a dead-letter topic,
/// fatal errors stop the pipeline with a message that says what to fix.
public struct ConnectorError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// Connection refused or lost, timeouts, deadlocks, a server shutting down: retry the batch.
        case transient
        /// One record cannot be delivered (malformed, does not convert, violates a constraint).
        case record
        /// Bad configuration, a missing table, permission denied: stop and tell the user.
        case fatal
    }

    public let kind: Kind
    /// A short, stable name of the error, as dead-letter headers carry it (`csv.field_count`).
    public let errorClass: String
    public let message: String

    public init(_ kind: Kind, _ errorClass: String, _ message: String) {
        self.kind = kind
        self.errorClass = errorClass
        self.message = message
    }

    public static func transient(_ errorClass: String, _ message: String) -> ConnectorError {
        ConnectorError(.transient, errorClass, message)
    }

    public static func record(_ errorClass: String, _ message: String) -> ConnectorError {
        ConnectorError(.record, errorClass, message)
    }

    public static func fatal(_ errorClass: String, _ message: String) -> ConnectorError {
        ConnectorError(.fatal, errorClass, message)
    }

    public var description: String { message }
}
