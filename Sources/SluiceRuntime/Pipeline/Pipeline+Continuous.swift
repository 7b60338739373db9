import SluiceBroker
import SluiceCore
import SluiceLog

extension Pipeline {
    /// How a continuous run (`sluice daemon`) goes on and how it ends.
    ///
    /// Sources read their input again every `pollIntervalMillis`, from where they stopped; sinks write
    /// what arrives. Once `shouldDrain` holds (it is asked every 100 ms on the calling thread, so it may
    /// read a file) the run drains: sources stop at a batch boundary, with what they read appended and
    /// durable; each sink task finishes and commits the batch in hand, then leaves. A second stop
    /// request (`StopRequest`), or `shutdownTimeoutMillis` without the drain ending, stops it at once:
    /// what was written but not committed is delivered again on the next start, nothing is lost.
    public struct Continuous: Sendable {
        public var pollIntervalMillis: Int
        public var shutdownTimeoutMillis: Int
        public var shouldDrain: @Sendable () -> Bool
        /// Asked every 100 ms on the calling thread, after `shouldDrain`: a change to make while the run
        /// goes on (a reload, a sink paused, resumed or restarted), if there is one.
        public var nextChange: @Sendable () -> Change?
        /// Attached while the run goes on, for status, readiness and metrics.
        public var observer: PipelineObserver?

        public init(
            pollIntervalMillis: Int, shutdownTimeoutMillis: Int, observer: PipelineObserver? = nil,
            shouldDrain: @escaping @Sendable () -> Bool, nextChange: @escaping @Sendable () -> Change? = { nil }
        ) {
            self.pollIntervalMillis = pollIntervalMillis
            self.shutdownTimeoutMillis = shutdownTimeoutMillis
            self.observer = observer
            self.shouldDrain = shouldDrain
            self.nextChange = nextChange
        }
    }

    /// How a run ended.
    public struct ContinuousOutcome: Sendable {
        public var summary: RunSummary
        /// Whether it stopped without finishing its drain: a second stop request, or the timeout.
        public var stoppedAtOnce: Bool
        /// Whether `shutdownTimeoutMillis` passed before the drain ended.
        public var timedOut: Bool
        /// Per sink, the records of its topics its group had not committed when the run ended: the next
        /// start delivers them.
        public var uncommitted: [(sink: String, records: Int64)]
        /// The failure that may pass the pipeline had met when the stop came (it would have started
        /// again), or nil.
        public var notRunning: String? = nil

        /// A stop that came while the pipeline failed, or waited to start again, on a cause that may pass
        /// (`reason`: a cluster or database down): what the earlier pipelines did; what was not committed
        /// is delivered by the next start, as after any stop.
        public static func stoppedWhileWaiting(earlier: RunSummary?, reason: String) -> ContinuousOutcome {
            ContinuousOutcome(
                summary: earlier ?? RunSummary(sources: [], sinks: [], topics: [], seconds: 0), stoppedAtOnce: false,
                timedOut: false, uncommitted: [], notRunning: reason)
        }

        static func records(_ count: Int64) -> String {
            Format.count(Int(count)) + (count == 1 ? " record" : " records")
        }

        /// How the run ended, what it did, and what it leaves for the next start.
        public func render() -> String {
            if let notRunning {
                return "Stopped while the pipeline was failing on a cause that may pass (\(notRunning)); the next "
                    + "start goes on from what was committed. While it ran, the daemon did:\n" + summary.render()
            }
            let how =
                timedOut
                ? "Stopped at once: the drain took longer than shutdown_timeout_ms."
                : stoppedAtOnce ? "Stopped at once (a second stop signal)." : "Drained and stopped."
            var text = how + " While it ran, the daemon did:\n" + summary.render()
            let paused = Set(summary.sinks.filter { $0.pausedWithLag != nil }.map(\.name))
            let waiting = uncommitted.filter { $0.records > 0 && !paused.contains($0.sink) }
            if !waiting.isEmpty {
                text += "\nNot committed yet, delivered again on the next start (nothing is lost):"
                for (sink, records) in waiting { text += "\n  \(sink): \(Self.records(records))" }
            }
            for (sink, records) in uncommitted where records > 0 && paused.contains(sink) {
                text +=
                    "\nPaused: \(sink) has \(Self.records(records)) waiting in its topics until "
                    + "`sluice resume \(sink)`."
            }
            if uncommitted.allSatisfy({ $0.records == 0 }) {
                text += "\nEvery sink committed everything its topics hold."
            }
            return text
        }
    }

    /// Per sink, the records its group has not committed.
    func uncommitted(_ broker: any PipelineBroker) throws -> [(sink: String, records: Int64)] {
        try lag(broker, timestamps: false).map { ($0.sink, $0.records) }
    }

    /// Per sink, the records of its topics its group has not committed and, with `timestamps`, the
    /// timestamp of the oldest of them (of its batch: one read per partition that lags).
    func lag(_ broker: any PipelineBroker, timestamps: Bool) throws -> [(
        sink: String, records: Int64, oldestMillis: Int64?
    )] {
        try config.sinks.map { sink in
            let committed = broker.committedOffsets(sink.group)
            var records: Int64 = 0
            var oldest: Int64?
            for topic in sink.topics {
                for partition in 0..<(try broker.partitionCount(topic)) {
                    let tp = TopicPartition(topic, partition)
                    let (start, end) = try broker.offsets(tp)
                    let from = max(committed[tp] ?? start, start)
                    records += max(0, end - from)
                    guard timestamps, from < end else { continue }
                    try broker.forEachBlock(tp, from: from) { block in
                        if let first = block.entries.first { oldest = min(oldest ?? first.timestamp, first.timestamp) }
                        return false
                    }
                }
            }
            return (sink.name, records, oldest)
        }
    }
}

/// Bounds a drain: once the timeout passes with a thread of the run still going, stops the run at
/// once (the sinks' blocking calls are interrupted).
final class ShutdownWatch: Sendable {
    private let timedOut = Locked(false)
    private let done = ChangeSignal()
    private let thread: WorkerThread

    init(timeoutMillis: Int, threads: [WorkerThread], stop: RunStop, broker: any PipelineBroker) {
        let (timedOut, done) = (timedOut, done)
        let initial = done.current
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        thread = WorkerThread(name: "shutdown-timeout") {
            var seen = initial
            while !threads.allSatisfy(\.isFinished) {
                let now = Time.monotonicNanos()
                if now >= deadline {
                    timedOut.withLock { $0 = true }
                    stop.request()
                    broker.appended.notify()
                    return
                }
                let next = done.wait(since: seen, timeoutMillis: min(50, Int((deadline - now) / 1_000_000) + 1))
                if next != seen { return }
                seen = next
            }
        }
    }

    /// Ends the watch; whether the timeout had passed.
    func finish() -> Bool {
        done.notify()
        thread.join()
        return timedOut.withLock { $0 }
    }
}
