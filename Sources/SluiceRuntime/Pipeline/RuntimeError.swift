/// A failure while running a pipeline, with what to do about it.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
