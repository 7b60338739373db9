import SluiceCore

/// The protocol between Sluice and an external connector, a program it starts and talks to over the
/// program's standard input and output (`connectors/PROTOCOL.md` is the whole of it).
///
/// The connector speaks first, with one line of JSON: its `hello`, which declares its protocol versions,
/// its role, its options and its framing. From then on both sides exchange messages in that framing:
/// `binary` frames (a little-endian `UInt32` length, a kind byte, the body), where control messages are
/// JSON objects and record batches are `RecordsFrame`s; or, for small scripts, `jsonl`, where every
/// message is one line of JSON, record batches included.
public enum ExternalProtocol {
    /// The versions this build speaks, oldest first.
    public static let versions = [1]
    /// The largest frame either side may send; a longer one is a protocol error.
    public static let maxFrameBytes = 64 << 20
    /// The header of a records frame's record that says where the record lies in the connector's
    /// stream after the position last stored (its ordinal from 0), so that after a crash the records
    /// stored past that position are not stored again.
    public static let ordinalHeader = "sluice.exec.ordinal"

    /// How messages travel after the hello line.
    public enum Framing: String, Sendable {
        case binary
        case jsonl
    }

    /// The kind byte of a binary frame.
    public enum FrameKind: UInt8, Sendable {
        /// A JSON object, UTF-8.
        case control = 1
        /// A batch of records (`RecordsFrame`).
        case records = 2
    }

    /// The classes a sink gives failed records, and a connector gives errors.
    public enum FailureClass: String, Sendable, CaseIterable {
        case record
        case transient
        case fatal

        public var kind: ConnectorError.Kind {
            switch self {
            case .record: return .record
            case .transient: return .transient
            case .fatal: return .fatal
            }
        }
    }
}

/// The other side broke the protocol (a malformed or unexpected message), or went away.
public struct ExternalProtocolError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// Whether the channel closed (end of file, broken pipe) rather than carrying a bad message.
    public let closed: Bool

    public init(_ message: String, closed: Bool = false) {
        self.message = message
        self.closed = closed
    }

    public var description: String { message }
}

/// One message received: a control object, or a batch of records.
public enum ExternalMessage: Sendable {
    case control(JSONValue)
    case records(RecordsFrame)

    /// The control message's `type`, nil for records.
    public var type: String? {
        if case .control(let value) = self { return value["type"]?.stringValue }
        return nil
    }
}

extension JSONValue {
    /// A control message: an object whose first member is its `type`.
    public static func message(_ type: String, _ members: [(key: String, value: JSONValue)] = []) -> JSONValue {
        .object([("type", .string(type))] + members)
    }

    /// An integer member, as protocol messages carry counts and offsets.
    public static func int(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }
}
