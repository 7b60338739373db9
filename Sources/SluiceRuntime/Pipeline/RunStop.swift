import SluiceCore

/// Whether a run should stop at once: the process was asked to (SIGINT or SIGTERM, `StopRequest`; a
/// continuous run drains on the first request and stops at once on the second), or the run gave up
/// because one of its tasks failed or its shutdown took too long. One per run, so that a run that
/// failed does not stop the next one in the same process (a daemon, or an application embedding
/// pipelines).
final class RunStop: Sendable {
    /// How many stop requests stop the run at once.
    let requestsToStop: Int
    private let failed = Locked(false)

    init(requestsToStop: Int = 1) {
        self.requestsToStop = requestsToStop
    }

    var isRequested: Bool { StopRequest.count >= requestsToStop || failed.withLock { $0 } }

    /// Stops this run only.
    func request() {
        failed.withLock { $0 = true }
    }
}
