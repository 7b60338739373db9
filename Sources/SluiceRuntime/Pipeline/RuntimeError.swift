/// A failure while running a pipeline, with what to do about it.
public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The run was asked to stop (a signal) and this task stopped where it was; not a failure of its own.
    public let isInterruption: Bool
    /// For an interrupted run, what it did before it stopped.
    public var partialSummary: RunSummary?
    /// The cause may pass (a database that kept refusing connections past `retry_timeout_ms`): the
    /// daemon runs the pipeline again after a backoff, where a run stops.
    public var isTransient = false

    public init(_ message: String, transient: Bool = false) {
        self.message = message
        isInterruption = false
        isTransient = transient
    }

    private init(interruption message: String) {
        self.message = message
        isInterruption = true
    }

    /// What a run that was asked to stop ends with.
    public static let interrupted = RuntimeError(
        interruption: "interrupted; run again to continue where this run stopped")

    public var description: String { message }
}
