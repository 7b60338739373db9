#if canImport(Glibc)
    import Glibc
#endif

/// An error raised by the shared vocabulary: system calls, compression and malformed bytes.
///
/// The code is a struct around a private enum, so codes can be added without breaking a caller's
/// `switch`; the message says what failed, with the values involved.
public struct CoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case io
            case compression
            case invalidData
        }

        private let base: Base

        /// A system call failed; `errno` says why.
        public static let io = Code(base: .io)
        /// zlib refused its input or failed.
        public static let compression = Code(base: .compression)
        /// Bytes that do not have the expected form (JSON, UTF-8, numbers).
        public static let invalidData = Code(base: .invalidData)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// The `errno` of a failed system call, when there was one.
    public let errno: Int32?

    public init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// A failed system call: `operation` on `path`, with the text of the current `errno`.
    public static func system(_ operation: String, path: String, errno code: Int32 = Glibc.errno) -> CoreError {
        let reason = String(cString: strerror(code))
        return CoreError(.io, "\(operation) \(path): \(reason)", errno: code)
    }

    public var description: String { message }
}
