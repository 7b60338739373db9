import SluiceBroker
import SluiceCore

/// One request as it came off the wire: its header, and a reader at the start of its body.
public struct KafkaRequest: Sendable {
    public var apiKey: Int16
    public var version: Int16
    public var correlationID: Int32
    public var clientID: String?
    /// The whole frame (without its length prefix); `bodyStart` is where the body begins.
    public var frame: [UInt8]
    public var bodyStart: Int
    /// The client's address, for DescribeGroups.
    public var clientHost = ""
    /// What the connection remembers between its fetches (nil outside a connection: nothing).
    public var fetches: FetchMemory?

    /// Reads the request header (v1, or v2 with tagged fields for flexible versions).
    public init(frame: [UInt8]) throws(WireError) {
        var reader = WireReader(frame)
        apiKey = try reader.int16()
        version = try reader.int16()
        correlationID = try reader.int32()
        clientID = try reader.nullableString()
        if let api = KafkaAPI(rawValue: apiKey), api.isFlexible(version) { try reader.skipTaggedFields() }
        self.frame = frame
        bodyStart = reader.position
    }

    public var body: WireReader { WireReader(frame, at: bodyStart) }
}

/// Partitions whose last fetch on a connection brought records: a fetch that then finds nothing new is
/// answered at once, empty, instead of waiting, so that a consumer that has caught up learns it (kcat
/// -e, librdkafka's partition EOF) without a long poll's wait; its next fetches wait as usual.
public final class FetchMemory: Sendable {
    let hadRecords = Locked<Set<TopicPartition>>([])
    public init() {}
}

/// What the broker needs from the daemon: its broker while a pipeline runs (nil between pipelines,
/// when requests are answered with a retriable error).
public protocol BrokerProvider: Sendable {
    func withBroker<T>(_ body: (Broker) throws -> T) rethrows -> T?
}

/// What a request comes to.
public enum KafkaOutcome: Sendable {
    /// A response body (the header is added by the connection).
    case reply([UInt8])
    /// No answer (a produce with acks=0).
    case noReply
    /// A fetch waiting for data: `attempt(final)` is called again when records are appended and at
    /// `deadline` (with final = true); it returns the body once it has one.
    case park(deadline: UInt64, attempt: @Sendable (_ final: Bool) -> [UInt8]?)
    /// An answer that comes later (a JoinGroup waiting for the other members): `register` is given the
    /// function to call with the body, once.
    case later(register: @Sendable (_ answer: @escaping @Sendable ([UInt8]) -> Void) -> Void)
    /// Close the connection (an unknown API, a malformed request), with the reason for the log.
    case close(String)
}

/// A provider with no broker: every request is answered as between two pipelines (for the fuzz
/// harness, and for tools that only want the codec).
public struct NoBroker: BrokerProvider {
    public init() {}

    public func withBroker<T>(_ body: (Broker) throws -> T) rethrows -> T? { nil }
}
