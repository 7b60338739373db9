import Metrics
import SluiceBroker
import SluiceCore
import SluiceKit

/// The source and sink tasks of a running pipeline, each on its own thread. A continuous run changes
/// some of them while the others go on (`apply`: a reload, a sink paused, resumed or restarted); tasks
/// that were stopped stay here for the summary's counts.
final class PipelineTasks: Sendable {
    private struct State: @unchecked Sendable {
        var pipeline: Pipeline
        var sources: [(task: SourceTask, thread: WorkerThread)] = []
        var sinks: [(task: SinkTask, thread: WorkerThread)] = []
        var stoppedSources: [SourceTask] = []
        var stoppedSinks: [SinkTask] = []
    }

    private let state: Locked<State>
    let broker: any PipelineBroker
    let stop: RunStop
    let continuous: Pipeline.Continuous?
    /// Set when the whole run drains.
    let draining = Locked(false)
    /// Sources in the middle of a pass, for the sinks' `inputFinished`.
    private let reading = Locked(0)
    /// Per sink, how often it was started again after failing on a cause that may pass.
    let sinkRestarts = Locked<[String: Int]>([:])
    /// Sinks that failed on a cause that may pass and wait to start again, with when (monotonic
    /// nanoseconds); and how many times in a row each sink failed, for its backoff.
    private let waiting = Locked<[String: UInt64]>([:])
    private let lastFailures = Locked<[String: Int]>([:])

    init(_ pipeline: Pipeline, broker: any PipelineBroker, stop: RunStop, continuous: Pipeline.Continuous?) {
        state = Locked(State(pipeline: pipeline))
        self.broker = broker
        self.stop = stop
        self.continuous = continuous
    }

    /// The pipeline whose config runs now.
    var pipeline: Pipeline { state.withLock { $0.pipeline } }
    var sources: [SourceTask] { state.withLock { $0.sources.map(\.task) } }
    var sinks: [SinkTask] { state.withLock { $0.sinks.map(\.task) } }
    var sourceThreads: [(task: SourceTask, thread: WorkerThread)] { state.withLock { $0.sources } }
    var sinkThreads: [(task: SinkTask, thread: WorkerThread)] { state.withLock { $0.sinks } }
    var threads: [WorkerThread] { state.withLock { $0.sources.map(\.thread) + $0.sinks.map(\.thread) } }

    /// Every source task of the run, those stopped on the way included, for the summary.
    var allSources: [SourceTask] { state.withLock { $0.stoppedSources + $0.sources.map(\.task) } }
    var allSinks: [SinkTask] { state.withLock { $0.stoppedSinks + $0.sinks.map(\.task) } }

    /// The names of the threads that ended.
    var finishedThreads: Set<String> { Set(threads.filter(\.isFinished).map(\.name)) }

    /// What an observer of the run sees of it now.
    func attachment() -> PipelineObserver.Attachment {
        let pipeline = pipeline
        let config = pipeline.config
        let patterns = Dictionary(
            config.sources.map { ($0.name, ($0.options.string("path"), $0.options.string("done_marker"))) },
            uniquingKeysWith: { first, _ in first })
        let broker = broker
        return PipelineObserver.Attachment(
            status: { [unowned self] in
                self.pipeline.status(
                    broker, sources, sinks, restarting: restartingSinks, restarts: sinkRestarts.withLock { $0 }
                ) { finishedThreads }
            },
            files: { name in
                guard let pattern = patterns[name] else { return nil }
                return StoredSourcePosition(broker.sourceCheckpoint(name)).ledger(
                    pattern: pattern.0, doneMarker: pattern.1)
            }, broker: broker,
            sinkGroups: Dictionary(
                config.sinks.map { ($0.group, (sink: $0.name, topics: $0.topics)) },
                uniquingKeysWith: { first, _ in first }),
            paused: pipeline.paused)
    }

    /// Starts the thread of a sink task.
    func launch(_ task: SinkTask) {
        task.continuous = continuous != nil
        if continuous != nil { task.inputFinished.withLock { $0 = reading.withLock { $0 } == 0 } }
        let thread = WorkerThread(name: "sink-\(task.memberId)") { try task.run() }
        state.withLock { $0.sinks.append((task, thread)) }
    }

    /// Starts the thread of a source task, which `prepare` has opened.
    func launch(_ task: SourceTask) {
        let (draining, stopping) = (draining, task.stopping)
        if let continuous {
            // Sinks wait for a batch to fill only while some source reads: a row appended to an idle
            // pipeline goes out at once.
            let (reading, broker) = (reading, broker)
            task.onReading = { [unowned self] started in
                let idle = reading.withLock { count in
                    count += started ? 1 : -1
                    return count == 0
                }
                for sink in sinks { sink.inputFinished.withLock { $0 = idle } }
                if idle { broker.appended.notify() }
            }
            let thread = WorkerThread(name: "source-\(task.definition.name)") {
                try task.runContinuously(
                    pollIntervalMillis: continuous.pollIntervalMillis,
                    draining: { draining.withLock { $0 } || stopping.withLock { $0 } })
            }
            state.withLock { $0.sources.append((task, thread)) }
        } else {
            let thread = WorkerThread(name: "source-\(task.definition.name)") { try task.run() }
            state.withLock { $0.sources.append((task, thread)) }
        }
    }

    /// The sinks waiting to start again after a failure.
    var restartingSinks: Set<String> { Set(waiting.withLock { $0.keys }) }

    /// In a continuous run, keeps the sinks going: a sink one of whose tasks failed on a cause that may
    /// pass (`RuntimeError.isTransient`: its database down past `retry_timeout_ms`) is stopped alone, its
    /// other tasks committing what they hold, and started again after a backoff (1 s, doubling to 60 s;
    /// from 1 s again once it has committed since), from its group's committed offsets, while every
    /// other source and sink goes on. Returns false when a task ended otherwise: the run then ends.
    func superviseSinks() -> Bool {
        let ended = state.withLock { $0.sinks.filter { $0.thread.isFinished } }
        var failed: [String: String] = [:]
        for (task, thread) in ended {
            guard let error = thread.error as? RuntimeError, error.isTransient else { return false }
            failed[task.definition.name] = error.message
        }
        let logger = pipeline.logger
        for (name, message) in failed.sorted(by: { $0.key < $1.key }) {
            let committed = sinks.contains { $0.definition.name == name && $0.counters.withLock { $0.commits } > 0 }
            for failure in stopTasks(sources: [], sinks: [name]) where !failure.contains(message) {
                logger.info("while stopping the sink", metadata: ["sink": "\(name)", "error": "\(failure)"])
            }
            let failures = committed ? 0 : lastFailures.withLock { $0[name] } ?? 0
            let delay = Backoff.delay(attempt: failures, initial: 1000, max: 60_000)
            waiting.withLock { $0[name] = Time.monotonicNanos() + UInt64(delay) * 1_000_000 }
            lastFailures.withLock { $0[name] = failures + 1 }
            let count = sinkRestarts.withLock { restarts in
                restarts[name, default: 0] += 1
                return restarts[name] ?? 0
            }
            Counter(label: "sluice_sink_restarts_total", dimensions: [("sink", name)]).increment()
            logger.warning(
                "the sink failed on a cause that may pass; restarting it",
                metadata: [
                    "sink": "\(name)", "error": "\(message)", "restart_in_ms": "\(delay)", "restarts": "\(count)",
                ])
        }
        let now = Time.monotonicNanos()
        let due = waiting.withLock { waiting in
            let due = Set(waiting.filter { $0.value <= now }.keys)
            for name in due { waiting[name] = nil }
            return due
        }
        guard !due.isEmpty else { return true }
        do {
            for task in try pipeline.makeSinkTasks(broker, stop, pipeline.config.sinks.filter { due.contains($0.name) })
            {
                launch(task)
            }
        } catch {
            logger.error("cannot start the sink again", metadata: ["error": "\(Pipeline.describe(error))"])
            return false
        }
        return true
    }

    /// Stops the sources and sinks named, while the rest go on: a source at a batch boundary with what it
    /// read appended and durable, a sink's tasks each once it has committed the batch in hand (they
    /// leave the group, whose other members take their partitions). Returns how those that failed
    /// failed.
    func stopTasks(sources: Set<String>, sinks: Set<String>) -> [String] {
        let (leaving, sinkLeaving) = state.withLock { state in
            let leaving = state.sources.filter { sources.contains($0.task.definition.name) }
            let sinkLeaving = state.sinks.filter { sinks.contains($0.task.definition.name) }
            return (leaving, sinkLeaving)
        }
        for (task, _) in leaving { task.stopping.withLock { $0 = true } }
        for (task, _) in sinkLeaving { task.stopRequested.withLock { $0 = true } }
        broker.appended.notify()
        var failures: [String] = []
        for (task, thread) in leaving {
            if let error = thread.join(), (error as? RuntimeError)?.isInterruption != true {
                failures.append("source \"\(task.definition.name)\": \(Pipeline.describe(error))")
            }
        }
        for (task, thread) in sinkLeaving {
            if let error = thread.join(), (error as? RuntimeError)?.isInterruption != true {
                failures.append("sink \"\(task.definition.name)\": \(Pipeline.describe(error))")
            }
        }
        state.withLock { state in
            state.sources.removeAll { sources.contains($0.task.definition.name) }
            state.sinks.removeAll { sinks.contains($0.task.definition.name) }
            state.stoppedSources += leaving.map(\.task)
            state.stoppedSinks += sinkLeaving.map(\.task)
        }
        return failures
    }

    /// Changes the running pipeline to `change.config` while it goes on: stops the sources and sinks
    /// whose definition changed or that are gone (and the sinks paused since, or to restart), then
    /// starts the new and changed ones and those resumed; the others keep running and keep their
    /// place. Returns false, having changed nothing, when only a new run can make the change: the data
    /// directory or the topics' declarations changed. Throws when a stopped task failed or a new one
    /// cannot start; the run then fails as it would have had that task failed.
    func apply(_ change: Pipeline.Change) throws -> Bool {
        let old = pipeline
        let next = Pipeline(config: change.config, registry: old.registry, logger: old.logger)
        guard next.config.dataDirectory == old.config.dataDirectory,
            next.config.topics.map(\.name) == old.config.topics.map(\.name),
            next.config.topics.map(\.config) == old.config.topics.map(\.config),
            next.config.keyRemapAllowed == old.config.keyRemapAllowed
        else { return false }
        let keptSources = Set(
            old.config.sources.filter { source in
                next.config.sources.contains {
                    $0.name == source.name && $0.type == source.type && $0.topic == source.topic
                        && $0.deadLetterTopic == source.deadLetterTopic && $0.options.sameValues(as: source.options)
                }
            }.map(\.name))
        let keptSinks = Set(
            old.config.sinks.filter { sink in
                !change.restartSinks.contains(sink.name)
                    && old.paused.contains(sink.name) == next.paused.contains(sink.name)
                    && next.config.sinks.contains {
                        $0.name == sink.name && $0.type == sink.type && $0.options.sameValues(as: sink.options)
                    }
            }.map(\.name))
        let stoppedSources = Set(old.config.sources.map(\.name)).subtracting(keptSources)
        let stoppedSinks = Set(old.config.sinks.map(\.name)).subtracting(keptSinks)
        old.logger.notice(
            "changing the running pipeline; what is not named keeps running",
            metadata: [
                "stopping_sources": "\(stoppedSources.sorted().joined(separator: ","))",
                "stopping_sinks": "\(stoppedSinks.sorted().joined(separator: ","))",
                "starting_sources":
                    "\(next.config.sources.map(\.name).filter { !keptSources.contains($0) }.joined(separator: ","))",
                "starting_sinks":
                    "\(next.config.sinks.map(\.name).filter { !keptSinks.contains($0) }.joined(separator: ","))",
            ])
        let failures = stopTasks(sources: stoppedSources, sinks: stoppedSinks)
        waiting.withLock { waiting in
            for name in stoppedSinks { waiting[name] = nil }
        }
        guard failures.isEmpty else { throw RuntimeError(failures.joined(separator: "\n"), transient: true) }
        try next.prepareTopics(broker)
        let newSources = next.makeSourceTasks(
            broker, stop, next.config.sources.filter { !keptSources.contains($0.name) })
        for task in newSources {
            do {
                _ = try task.prepare()
            } catch {
                throw RuntimeError("source \"\(task.definition.name)\": \(Pipeline.describe(error))")
            }
        }
        let newSinks = try next.makeSinkTasks(
            broker, stop, next.config.sinks.filter { !keptSinks.contains($0.name) })
        for task in sources where keptSources.contains(task.definition.name) {
            task.sinkGroups.withLock { $0 = next.config.readers(of: task.definition.topic) }
        }
        state.withLock { $0.pipeline = next }
        for task in newSinks { launch(task) }
        for task in newSources { launch(task) }
        return true
    }
}

extension Pipeline {
    /// A change to a continuous run while it goes on (`PipelineTasks.apply`).
    public struct Change: Sendable {
        /// The config to run from now on; the running one for a pause, a resume or a restart (the paused
        /// sinks are read again from the data directory).
        public var config: PipelineConfig
        /// Sinks to stop and start again even when their definition is unchanged.
        public var restartSinks: Set<String>
        /// Told whether the change was made while the run went on; when not, the run drains and ends,
        /// and the caller starts it again with the new config.
        public var finished: @Sendable (_ whileRunning: Bool) -> Void

        public init(
            config: PipelineConfig, restartSinks: Set<String> = [],
            finished: @escaping @Sendable (_ whileRunning: Bool) -> Void
        ) {
            self.config = config
            self.restartSinks = restartSinks
            self.finished = finished
        }
    }
}
