import Logging
import SluiceBroker
import SluiceCore

/// The broker's housekeeping while a pipeline runs, on its own thread: fsyncs logs whose topics flush
/// on an interval, and applies retention once a minute.
final class Maintenance: @unchecked Sendable {
    private let stopped = Locked(false)
    private let signal = ChangeSignal()
    private var thread: WorkerThread?

    init(broker: Broker, logger: Logger, retentionIntervalMillis: Int = 60_000) {
        let stopped = stopped
        let signal = signal
        thread = WorkerThread(name: "maintenance") {
            var seen = signal.current
            var lastRetention = Time.monotonicNanos()
            while !stopped.withLock({ $0 }) {
                seen = signal.wait(since: seen, timeoutMillis: 100)
                do {
                    try broker.flushDueLogs()
                    if Time.monotonicNanos() - lastRetention > UInt64(retentionIntervalMillis) * 1_000_000 {
                        lastRetention = Time.monotonicNanos()
                        try broker.applyRetention()
                    }
                } catch {
                    logger.error("broker housekeeping failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        signal.notify()
        thread?.join()
    }
}
