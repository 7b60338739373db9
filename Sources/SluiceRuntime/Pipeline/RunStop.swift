import SluiceCore

/// Whether a run should stop: the process was asked to (SIGINT or SIGTERM, `StopRequest`), or the run
/// gave up because one of its tasks failed. One per run, so that a run that failed does not stop the
/// next one in the same process (a daemon, or an application embedding pipelines).
final class RunStop: Sendable {
    private let failed = Locked(false)

    var isRequested: Bool { StopRequest.isRequested || failed.withLock { $0 } }

    /// Stops this run only.
    func request() {
        failed.withLock { $0 = true }
    }
}
