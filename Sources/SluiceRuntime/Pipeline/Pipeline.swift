import Logging
import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceKit

/// Runs a validated configuration to completion: opens the broker, creates the topics, starts every
/// sink task and every source on their own threads, waits for the sources to reach the end of their
/// input and then for every sink group to commit up to the end of every partition it reads, and
/// returns a summary. Blocks the calling thread; all file I/O happens on dedicated threads.
public struct Pipeline: Sendable {
    public let config: PipelineConfig
    public let registry: ConnectorRegistry
    public let logger: Logger
    /// The sinks paused when the pipeline was made (`PausedSinks`): they get no tasks.
    let paused: Set<String>

    public init(config: PipelineConfig, registry: ConnectorRegistry = BuiltInConnectors.registry, logger: Logger) {
        self.config = config
        self.registry = registry
        self.logger = logger
        paused = PausedSinks.load(config.dataDirectory)
    }

    /// Runs the pipeline. `progress` receives a line every `progressIntervalMillis`.
    public func run(progressIntervalMillis: Int = 5000, progress: (@Sendable (String) -> Void)? = nil) throws
        -> RunSummary
    {
        try execute(nil, progressIntervalMillis: progressIntervalMillis, progress: progress).summary
    }

    /// Runs the pipeline until asked to stop (see `Continuous`): the daemon's engine, the same as `run`'s
    /// but for the sources, which read again every poll interval, and for the end.
    public func runContinuously(_ continuous: Continuous) throws -> ContinuousOutcome {
        try execute(continuous, progressIntervalMillis: 5000, progress: nil)
    }

    private func execute(
        _ continuous: Continuous?, progressIntervalMillis: Int, progress: (@Sendable (String) -> Void)?
    ) throws -> ContinuousOutcome {
        try PausedSinks.check(config.dataDirectory)
        let broker = try openBroker()
        defer { try? broker.close() }
        try prepareTopics(broker)
        let startEnds = try endOffsets(broker)
        var startCommitted: [String: [TopicPartition: Int64]] = [:]
        for sink in config.sinks { startCommitted[sink.name] = broker.committedOffsets(sink.group) }
        let started = Time.monotonicNanos()

        let stop = RunStop(requestsToStop: continuous == nil ? 1 : 2)
        let tasks = PipelineTasks(self, broker: broker, stop: stop, continuous: continuous)
        let sourceTasks = makeSourceTasks(broker, stop, config.sources)
        // What can stop a run before it starts stops it before any sink touches its output.
        for task in sourceTasks {
            do {
                _ = try task.prepare()
            } catch {
                throw RuntimeError("source \"\(task.definition.name)\": \(Self.describe(error))")
            }
        }
        for task in try makeSinkTasks(broker, stop, config.sinks) { tasks.launch(task) }
        for task in sourceTasks { tasks.launch(task) }
        let observer = continuous?.observer
        observer?.attach(tasks.attachment())
        observer?.set(.running)
        defer {
            observer?.attach(nil)
            observer?.set(.stopped)
        }
        // Flushes on an interval and retention, for the embedded broker (a Kafka cluster does its own).
        let maintenance = (broker as? Broker).map { Maintenance(broker: $0, logger: logger) }
        let finished = ChangeSignal()
        // Ends what the sinks wait on (a statement, a connection) as soon as the run is asked to stop.
        let initial = finished.current
        let stopWatcher = WorkerThread(name: "stop-watcher") {
            var seen = initial
            while !stop.isRequested {
                let now = finished.wait(since: seen, timeoutMillis: 50)
                if now != seen { return }
                seen = now
            }
            for task in tasks.sinks { task.interrupt() }
            broker.appended.notify()
        }
        let reporter = progress.map { emit in
            ProgressReporter(intervalMillis: progressIntervalMillis) {
                emit(
                    ProgressLine.render(
                        tasks.sources.map { ($0.definition.name, $0.report) }, sinks: self.lagLine(broker, tasks.sinks))
                )
            }
        }
        defer {
            finished.notify()
            stopWatcher.join()
            reporter?.stop()
            maintenance?.stop()
        }

        var shutdown: ShutdownWatch?
        var failures: [String] = []
        // Whether every failure is one whose cause may pass (`RuntimeError.isTransient`).
        var transient = true
        if let continuous {
            // Until asked to drain, or a task ends (it failed: a continuous source never ends by itself).
            while !stop.isRequested && !continuous.shouldDrain()
                && !tasks.sourceThreads.contains(where: { $0.thread.isFinished }) && tasks.superviseSinks()
            {
                if let change = continuous.nextChange() {
                    do {
                        let applied = try tasks.apply(change)
                        change.finished(applied)
                        if !applied { break }
                        observer?.attach(tasks.attachment())
                    } catch {
                        change.finished(true)
                        transient = (error as? RuntimeError)?.isTransient == true
                        failures.append(Self.describe(error))
                        stop.request()
                        break
                    }
                }
                Time.sleep(millis: 100)
            }
            tasks.draining.withLock { $0 = true }
            observer?.set(.draining)
            broker.appended.notify()
            shutdown = ShutdownWatch(
                timeoutMillis: continuous.shutdownTimeoutMillis, threads: tasks.threads, stop: stop, broker: broker)
        }
        for (task, thread) in tasks.sourceThreads {
            if let error = thread.join() {
                stop.request()
                if (error as? RuntimeError)?.isInterruption == true { continue }
                transient = transient && (error as? RuntimeError)?.isTransient == true
                failures.append("source \"\(task.definition.name)\": \(Self.describe(error))")
            }
        }
        let pipeline = tasks.pipeline
        let sinkTasks = tasks.sinks
        for task in sinkTasks { task.inputFinished.withLock { $0 = true } }
        broker.appended.notify()
        if failures.isEmpty && continuous == nil {
            failures += waitForSinks(broker, sinkTasks, stop)
        }
        for task in sinkTasks { task.stopRequested.withLock { $0 = true } }
        broker.appended.notify()
        for (task, thread) in tasks.sinkThreads {
            if let error = thread.join() {
                if (error as? RuntimeError)?.isInterruption == true { continue }
                transient = transient && (error as? RuntimeError)?.isTransient == true
                failures.append(
                    Self.describe(error) + (error is RuntimeError ? "" : " (sink \"\(task.definition.name)\")"))
            }
        }
        let summarize = {
            try pipeline.summary(broker, tasks.allSources, tasks.allSinks, startEnds, startCommitted, started)
        }
        if let shutdown {
            let timedOut = shutdown.finish()
            let atOnce = timedOut || StopRequest.count >= 2
            if atOnce {
                for failure in failures { logger.info("while stopping", metadata: ["error": "\(failure)"]) }
            } else if !failures.isEmpty {
                throw RuntimeError(failures.joined(separator: "\n"), transient: transient)
            }
            return ContinuousOutcome(
                summary: try summarize(), stoppedAtOnce: atOnce, timedOut: timedOut,
                uncommitted: try pipeline.uncommitted(broker))
        }
        if StopRequest.isRequested {
            // What failed because of the stop (a statement cancelled) is not a failure of its own.
            for failure in failures { logger.info("while stopping", metadata: ["error": "\(failure)"]) }
            var interrupted = RuntimeError.interrupted
            interrupted.partialSummary = try? summarize()
            throw interrupted
        }
        guard failures.isEmpty else { throw RuntimeError(failures.joined(separator: "\n"), transient: transient) }
        _ = try (broker as? Broker)?.applyRetention()
        return ContinuousOutcome(summary: try summarize(), stoppedAtOnce: false, timedOut: false, uncommitted: [])
    }

    /// The broker the config names: the embedded one in the data directory, or a Kafka cluster.
    func openBroker() throws -> any PipelineBroker {
        switch config.broker {
        case .embedded:
            return try Broker(dataDirectory: config.dataDirectory, logger: logger)
        case .kafka(let settings):
            do {
                return try KafkaCluster(settings, logger: logger)
            } catch let error as BrokerError where error.code == .unavailable {
                // A cluster down may come back: the daemon starts the pipeline again after a backoff.
                throw RuntimeError(error.message, transient: true)
            } catch let error as BrokerError {
                throw ConfigError([ConfigProblem(error.message.hasPrefix("broker") ? "" : "broker", error.message)])
            }
        }
    }

    func makeSourceTasks(_ broker: any PipelineBroker, _ stop: RunStop, _ definitions: [SourceDefinition])
        -> [SourceTask]
    {
        definitions.map { definition in
            let unknown: SourceFactory = { _ in
                throw ConnectorError.fatal("config", "unknown source type \(definition.type)")
            }
            let factory = registry.sources[definition.type]?.make ?? unknown
            let task = SourceTask(definition: definition, broker: broker, factory: factory, stop: stop, logger: logger)
            task.sinkGroups.withLock { $0 = config.readers(of: definition.topic) }
            return task
        }
    }

    /// The tasks of the sinks of `definitions` that are not paused (`PausedSinks`).
    func makeSinkTasks(_ broker: any PipelineBroker, _ stop: RunStop, _ definitions: [SinkDefinition]) throws
        -> [SinkTask]
    {
        var tasks: [SinkTask] = []
        for definition in definitions {
            if paused.contains(definition.name) {
                logger.notice(
                    "the sink is paused; its records wait in its topics until `sluice resume` resumes it",
                    metadata: ["sink": "\(definition.name)"])
                continue
            }
            let unknown: SinkFactory = { _ in
                throw ConnectorError.fatal("config", "unknown sink type \(definition.type)")
            }
            let factory = registry.sinks[definition.type]?.make ?? unknown
            var schemas: [String: TopicSchema] = [:]
            for topic in definition.topics {
                if let json = broker.topicConfig(topic)?.schema, let schema = TopicSchema(json: json) {
                    schemas[topic] = schema
                }
            }
            let fence = DeadLetterFence()
            for index in 0..<definition.tasks {
                tasks.append(
                    SinkTask(
                        definition: definition, index: index, broker: broker, factory: factory, schemas: schemas,
                        stop: stop, deadLetterFence: fence, logger: logger))
            }
        }
        return tasks
    }

    /// Waits until every sink group has committed up to the end of every partition it reads, or a
    /// task fails, or a stop is requested. Returns the failures.
    private func waitForSinks(_ broker: any PipelineBroker, _ tasks: [SinkTask], _ stop: RunStop) -> [String] {
        while !stop.isRequested {
            let seen = broker.committed.current
            do {
                if try config.sinks.allSatisfy({ try paused.contains($0.name) || caughtUp($0, broker) }) { return [] }
            } catch {
                return ["cannot read the groups' progress: \(error)"]
            }
            if tasks.contains(where: { $0.failed.withLock { $0 } }) { return [] }
            broker.committed.wait(since: seen, timeoutMillis: 100)
        }
        return []
    }

    private func caughtUp(_ sink: SinkDefinition, _ broker: any PipelineBroker) throws -> Bool {
        let committed = broker.committedOffsets(sink.group)
        for topic in sink.topics {
            for partition in 0..<(try broker.partitionCount(topic)) {
                let tp = TopicPartition(topic, partition)
                let (start, end) = try broker.offsets(tp)
                if end > start && (committed[tp] ?? start) < end { return false }
            }
        }
        return true
    }

    /// What starting `config` would refuse about the topics `broker` holds (for a reload, before the
    /// running pipeline drains for it): a raised partition count of a topic written by key without
    /// `allow_key_remap`.
    public static func topicProblems(_ config: PipelineConfig, broker: any PipelineBroker) -> [ConfigProblem] {
        config.topics.compactMap { name, declared in
            guard let existing = broker.topicConfig(name), declared.partitions > existing.partitions,
                !config.keyRemapAllowed.contains(name), (try? broker.isWrittenByKey(name)) == true
            else { return nil }
            return ConfigProblem(
                "topics.\(name).partitions",
                "topic \"\(name)\" is written by key; raising its partitions from \(existing.partitions) to "
                    + "\(declared.partitions) would send each key's new records to another partition than its older "
                    + "ones. Set \"allow_key_remap\": true on the topic to raise it anyway, or move to a new topic")
        }
    }

    /// Creates the topics the file declares or uses, raises partition counts, applies settings, and
    /// stores what sources declare about their topics.
    func prepareTopics(_ broker: any PipelineBroker) throws {
        for (name, declared) in config.topics {
            if let existing = broker.topicConfig(name) {
                if declared.partitions > existing.partitions {
                    do {
                        try broker.setPartitionCount(
                            name, to: declared.partitions, allowKeyRemap: config.keyRemapAllowed.contains(name))
                    } catch let error as BrokerError where error.code == .invalidPartitions {
                        throw ConfigError([ConfigProblem("topics.\(name).partitions", error.message)])
                    }
                } else if declared.partitions < existing.partitions {
                    logger.warning(
                        "the topic has more partitions than the config asks for; partitions are never removed",
                        metadata: [
                            "topic": "\(name)", "partitions": "\(existing.partitions)",
                            "config": "\(declared.partitions)",
                        ])
                }
                if declared.overrides != existing.overrides { try broker.setTopicConfig(name, declared) }
            } else {
                // Created unless another process sharing the config (or the cluster) did it meanwhile.
                _ = try broker.ensureTopic(name, config: declared)
            }
        }
        let written = Set(
            config.sources.flatMap { [$0.topic, $0.deadLetterTopic] } + config.sinks.map(\.deadLetterTopic))
        for name in config.allTopics {
            if written.contains(name) || config.topics.contains(where: { $0.name == name }) {
                try broker.ensureTopic(name)
            } else if broker.topicConfig(name) == nil {
                let sink = config.sinks.first { $0.topics.contains(name) }?.name ?? "?"
                throw RuntimeError(
                    "sinks.\(sink).topics: topic \"\(name)\" does not exist and no source writes it; "
                        + "declare it under \"topics\" or fix the name")
            }
        }
        for source in config.sources {
            guard let spec = registry.sources[source.type]?.spec, let schema = spec.schema(source.options) else {
                continue
            }
            try broker.setTopicSchema(source.topic, schema.json)
        }
    }

    private func endOffsets(_ broker: any PipelineBroker) throws -> [String: [Int64]] {
        var ends: [String: [Int64]] = [:]
        for name in config.allTopics {
            ends[name] = try (0..<broker.partitionCount(name)).map { try broker.offsets(TopicPartition(name, $0)).end }
        }
        return ends
    }

    /// Each sink's lag, and when one of its tasks waits to retry, in how long and why.
    private func lagLine(_ broker: any PipelineBroker, _ tasks: [SinkTask]) -> String {
        config.sinks.compactMap { sink -> String? in
            guard let lag = try? broker.lag(group: sink.group, topics: sink.topics) else { return nil }
            let total = lag.reduce(Int64(0)) { $0 + ($1.lag ?? ($1.endOffset)) }
            var text = "\(sink.name): lag \(Format.count(Int(total)))"
            let waits = tasks.filter { $0.definition.name == sink.name }.compactMap { $0.retrying.withLock { $0 } }
            if let wait = waits.min(by: { $0.until < $1.until }) {
                let now = Time.monotonicNanos()
                let seconds = wait.until > now ? (wait.until - now + 999_999_999) / 1_000_000_000 : 0
                let reason = wait.reason.split(separator: "\n").first.map(String.init) ?? ""
                text += ", retrying in \(seconds) s (\(reason.count > 80 ? reason.prefix(77) + "..." : reason))"
            }
            return text
        }.joined(separator: " | ")
    }

    func summary(
        _ broker: any PipelineBroker,
        _ sources: [SourceTask],
        _ sinks: [SinkTask],
        _ startEnds: [String: [Int64]],
        _ startCommitted: [String: [TopicPartition: Int64]],
        _ started: UInt64
    ) throws -> RunSummary {
        let seconds = Double(Time.monotonicNanos() - started) / 1e9
        var topics: [RunSummary.TopicCounts] = []
        for name in config.allTopics {
            let partitions = try (0..<broker.partitionCount(name)).map { partition -> (Int64, Int64) in
                let (start, end) = try broker.offsets(TopicPartition(name, partition))
                let before = startEnds[name].flatMap { Int(partition) < $0.count ? $0[Int(partition)] : nil } ?? 0
                return (end - start, end - before)
            }
            topics.append(
                RunSummary.TopicCounts(name: name, records: partitions.map { $0.0 }, added: partitions.map { $0.1 }))
        }
        var sinkReports: [RunSummary.SinkReport] = []
        let lags = paused.isEmpty ? [] : try uncommitted(broker)
        for definition in config.sinks {
            let counters = sinks.filter { $0.definition.name == definition.name }.map { $0.counters.withLock { $0 } }
            var expected: Int64 = 0
            let before = startCommitted[definition.name] ?? [:]
            let after = broker.committedOffsets(definition.group)
            for topic in definition.topics {
                for partition in 0..<(try broker.partitionCount(topic)) {
                    let tp = TopicPartition(topic, partition)
                    let start = try before[tp] ?? broker.offsets(tp).start
                    expected += max(0, (after[tp] ?? start) - start)
                }
            }
            sinkReports.append(
                RunSummary.SinkReport(
                    name: definition.name,
                    tasks: definition.tasks,
                    consumed: counters.reduce(0) { $0 + $1.consumed },
                    written: counters.reduce(0) { $0 + $1.written },
                    deadLettered: counters.reduce(0) { $0 + $1.deadLettered },
                    retries: counters.reduce(0) { $0 + $1.retries },
                    commits: counters.reduce(0) { $0 + $1.commits },
                    committedAdvance: Int(expected),
                    seconds: seconds,
                    maxDeadLetterPercent: definition.maxDeadLetterPercent,
                    destination: counters.lazy.compactMap(\.destination).first,
                    writeCounts: counters.compactMap(\.writeCounts).reduce(nil) { ($0 ?? SinkWriteCounts()) + $1 },
                    pausedWithLag: paused.contains(definition.name)
                        ? lags.first { $0.sink == definition.name }?.records ?? 0 : nil
                ))
        }
        return RunSummary(
            sources: RunSummary.merged(sources.map(\.report)), sinks: sinkReports, topics: topics, seconds: seconds)
    }

    /// An error as a user reads it.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ConnectorError { return error.message }
        return "\(error)"
    }
}
