import SluiceBroker
import SluiceCore

/// A window on a running pipeline, for a daemon's status, readiness and metrics: the pipeline attaches
/// it while it runs, and any thread may ask it for a `PipelineStatus` at any time. Asking reads
/// counters under their locks and the broker's offsets; it never waits for a batch.
public final class PipelineObserver: Sendable {
    public enum Phase: String, Sendable {
        case starting, running, draining, stopped
    }

    /// What a running pipeline lends the observer.
    struct Attachment: Sendable {
        var status: @Sendable () -> PipelineStatus
        var files: @Sendable (String) -> [SourceFile]?
        var broker: any PipelineBroker
        /// Each sink group of the config, with its sink's name and topics.
        var sinkGroups: [String: (sink: String, topics: [String])]
        /// The sinks paused when the pipeline started.
        var paused: Set<String>
    }

    private let state = Locked<(phase: Phase, attached: Attachment?)>((.starting, nil))
    /// Held while the broker is lent out, so that the pipeline does not close it meanwhile.
    private let lending = Locked(())

    public init() {}

    public var phase: Phase { state.withLock { $0.phase } }

    func set(_ phase: Phase) {
        state.withLock { $0.phase = phase }
    }

    func attach(_ attachment: Attachment?) {
        lending.withLock { _ in state.withLock { $0.attached = attachment } }
    }

    /// The ledger of the running pipeline's source `name` (`StoredSourcePosition.ledger`); nil when no
    /// pipeline runs or it has no such source.
    public func files(of name: String) -> [SourceFile]? {
        state.withLock({ $0.attached })?.files(name)
    }

    /// What the pipeline is doing now; nil while none runs.
    public func status() -> PipelineStatus? {
        state.withLock({ $0.attached })?.status()
    }

    /// What a group is to the running pipeline: the sink that reads in it, and whether that sink is
    /// paused (nil sink: no sink of this config uses the group).
    public struct GroupUse: Sendable {
        public var sink: String?
        public var paused: Bool
        /// The sink's topics.
        public var topics: [String]
    }

    /// Runs `body` with the running pipeline's broker, while the pipeline cannot close it; nil when no
    /// pipeline runs. Blocks the pipeline's end meanwhile.
    public func withBroker<T>(_ body: (Broker) throws -> T) rethrows -> T? {
        try lending.withLock { _ in
            guard let attached = state.withLock({ $0.attached }), let broker = attached.broker as? Broker else {
                return nil
            }
            return try body(broker)
        }
    }

    /// Runs `body` with the running pipeline's broker and what `group` is to it, while the pipeline
    /// cannot close the broker; nil when no pipeline runs. Blocks the pipeline's end meanwhile: keep it
    /// short.
    public func withBroker<T>(group: String, _ body: (Broker, GroupUse) throws -> T) rethrows -> T? {
        try lending.withLock { _ in
            guard let attached = state.withLock({ $0.attached }), let broker = attached.broker as? Broker else {
                return nil
            }
            let use = attached.sinkGroups[group]
            return try body(
                broker,
                GroupUse(
                    sink: use?.sink, paused: use.map { attached.paused.contains($0.sink) } ?? false,
                    topics: use?.topics ?? []))
        }
    }
}

/// Every source and sink of a running pipeline, with its state and counts since it started.
public struct PipelineStatus: Sendable {
    public struct Source: Sendable {
        public var name: String
        public var topic: String
        /// reading, idle (waiting for the next poll), stopped or failed.
        public var state: String
        public var rowsRead: Int
        public var records: Int
        public var deadLettered: Int
        public var bytesRead: Int64
        public var filesHeldBack: Int
        public var error: String?
    }

    public struct Sink: Sendable {
        public var name: String
        public var group: String
        public var tasks: Int
        /// running, retrying (a transient failure; `error` says which), stopped or failed.
        public var state: String
        public var consumed: Int
        public var written: Int
        public var deadLettered: Int
        public var retries: Int
        public var commits: Int
        /// Records of its topics its group has not committed.
        public var lagRecords: Int64
        /// How long ago the oldest of them was appended, in seconds (0 without lag).
        public var lagSeconds: Double = 0
        public var error: String?
        /// How often the sink was started again after failing on a cause that may pass.
        public var restarts = 0
    }

    public var sources: [Source]
    public var sinks: [Sink]

    public func json() -> JSONValue {
        let sources = sources.map { source -> JSONValue in
            .object([
                ("name", .string(source.name)), ("topic", .string(source.topic)), ("state", .string(source.state)),
                ("rows_read", .number(String(source.rowsRead))), ("records", .number(String(source.records))),
                ("dead_lettered", .number(String(source.deadLettered))),
                ("bytes_read", .number(String(source.bytesRead))),
                ("files_held_back", .number(String(source.filesHeldBack))),
                ("error", source.error.map(JSONValue.string) ?? .null),
            ])
        }
        let sinks = sinks.map { sink -> JSONValue in
            .object([
                ("name", .string(sink.name)), ("group", .string(sink.group)), ("tasks", .number(String(sink.tasks))),
                ("state", .string(sink.state)), ("consumed", .number(String(sink.consumed))),
                ("written", .number(String(sink.written))), ("dead_lettered", .number(String(sink.deadLettered))),
                ("retries", .number(String(sink.retries))), ("commits", .number(String(sink.commits))),
                ("lag_records", .number(String(sink.lagRecords))),
                ("lag_seconds", .number(String((sink.lagSeconds * 1000).rounded() / 1000))),
                ("error", sink.error.map(JSONValue.string) ?? .null), ("restarts", .number(String(sink.restarts))),
            ])
        }
        return .object([("sources", .array(sources)), ("sinks", .array(sinks))])
    }
}

extension Pipeline {
    /// The status of the tasks of this pipeline, read from their counters and the broker.
    func status(
        _ broker: any PipelineBroker, _ sources: [SourceTask], _ sinks: [SinkTask], restarting: Set<String> = [],
        restarts: [String: Int] = [:], _ finished: () -> Set<String>
    ) -> PipelineStatus {
        let ended = finished()
        let sourceStates = sources.map { task -> PipelineStatus.Source in
            let report = task.report
            let state =
                ended.contains("source-\(task.definition.name)")
                ? "stopped" : task.reading.withLock { $0 } ? "reading" : "idle"
            return PipelineStatus.Source(
                name: task.definition.name, topic: task.definition.topic, state: state,
                rowsRead: report.progress.rowsRead, records: report.records, deadLettered: report.deadLetters,
                bytesRead: report.progress.bytesRead, filesHeldBack: report.progress.filesHeldBack)
        }
        let lag = (try? self.lag(broker, timestamps: true)) ?? []
        let now = Time.nowMillis()
        let sinkStates = config.sinks.map { definition -> PipelineStatus.Sink in
            let tasks = sinks.filter { $0.definition.name == definition.name }
            let counters = tasks.map { $0.counters.withLock { $0 } }
            let retrying = tasks.compactMap { $0.retrying.withLock { $0 } }.first
            let failed = tasks.contains { $0.failed.withLock { $0 } }
            let stopped = tasks.allSatisfy { ended.contains("sink-\($0.memberId)") }
            let state =
                paused.contains(definition.name)
                ? "paused"
                : restarting.contains(definition.name)
                    ? "restarting"
                    : failed ? "failed" : stopped ? "stopped" : retrying != nil ? "retrying" : "running"
            return PipelineStatus.Sink(
                name: definition.name, group: definition.group, tasks: definition.tasks,
                state: state,
                consumed: counters.reduce(0) { $0 + $1.consumed }, written: counters.reduce(0) { $0 + $1.written },
                deadLettered: counters.reduce(0) { $0 + $1.deadLettered },
                retries: counters.reduce(0) { $0 + $1.retries }, commits: counters.reduce(0) { $0 + $1.commits },
                lagRecords: lag.first { $0.sink == definition.name }?.records ?? 0,
                lagSeconds: lag.first { $0.sink == definition.name }?.oldestMillis.map {
                    max(0, Double(now - $0) / 1000)
                }
                    ?? 0,
                error: retrying?.reason, restarts: restarts[definition.name] ?? 0)
        }
        return PipelineStatus(sources: sourceStates, sinks: sinkStates)
    }
}
