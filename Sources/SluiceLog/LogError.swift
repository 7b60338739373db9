/// An error from the partition log: corrupt data, offsets out of range, bad batches, failed I/O.
public struct LogError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case corrupt
            case invalidBatch
            case offsetOutOfRange
            case io
            case readOnly
            case closed
            case missing
        }

        private let base: Base

        /// Bytes on disk or in a fetched batch that fail their checks.
        public static let corrupt = Code(base: .corrupt)
        /// A batch handed to `append` that is not a valid v2 batch or is too large.
        public static let invalidBatch = Code(base: .invalidBatch)
        /// A read before the log start or past the log end.
        public static let offsetOutOfRange = Code(base: .offsetOutOfRange)
        /// A file operation failed.
        public static let io = Code(base: .io)
        /// A write to a log opened read-only.
        public static let readOnly = Code(base: .readOnly)
        /// A call on a log that was closed or deleted.
        public static let closed = Code(base: .closed)
        /// A partition folder, or its segments, that should be there and is not.
        public static let missing = Code(base: .missing)

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
