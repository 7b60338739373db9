/// An error from the embedded broker: unknown or invalid topics, settings and groups, a data directory
/// in use, fenced consumers, and storage failures underneath.
public struct BrokerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case topicNotFound
            case topicExists
            case groupNotFound
            case invalidTopic
            case invalidConfig
            case invalidPartitions
            case directoryInUse
            case readOnly
            case unknownMember
            case staleGeneration
            case notOwner
            case offsetOutOfRange
            case storage
            case unavailable
        }

        private let base: Base

        public static let topicNotFound = Code(base: .topicNotFound)
        /// A Kafka cluster that cannot be reached, or did not answer in time.
        public static let unavailable = Code(base: .unavailable)
        public static let topicExists = Code(base: .topicExists)
        /// A consumer group without committed offsets or live members.
        public static let groupNotFound = Code(base: .groupNotFound)
        /// A topic name that is not allowed, or an internal topic that cannot be changed.
        public static let invalidTopic = Code(base: .invalidTopic)
        /// A topic setting with an unknown name or a bad value.
        public static let invalidConfig = Code(base: .invalidConfig)
        /// A partition count that is not a positive number, or lower than the current one.
        public static let invalidPartitions = Code(base: .invalidPartitions)
        /// Another process owns the data directory for writing.
        public static let directoryInUse = Code(base: .directoryInUse)
        /// A write through a broker opened read-only.
        public static let readOnly = Code(base: .readOnly)
        /// A consumer the group does not know (it left or was evicted); it must join again.
        public static let unknownMember = Code(base: .unknownMember)
        /// A commit carrying an older generation than the group's.
        public static let staleGeneration = Code(base: .staleGeneration)
        /// A commit for a partition the member does not own.
        public static let notOwner = Code(base: .notOwner)
        public static let offsetOutOfRange = Code(base: .offsetOutOfRange)
        /// The partition log or a metadata file failed.
        public static let storage = Code(base: .storage)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}
