import Logging
import SluiceBroker
import SluiceCore
import SluiceKit

/// Runs a validated configuration to completion: opens the broker, creates the topics, runs every
/// source on its own threads to the end of its input, and returns a summary. Blocks the calling
/// thread; all file I/O happens on dedicated threads.
public struct Pipeline {
    public let config: PipelineConfig
    public let registry: ConnectorRegistry
    public let logger: Logger

    public init(config: PipelineConfig, registry: ConnectorRegistry = BuiltInConnectors.registry, logger: Logger) {
        self.config = config
        self.registry = registry
        self.logger = logger
    }

    /// Runs the pipeline. `progress` receives a line now and then (every `progressIntervalMillis`).
    public func run(progressIntervalMillis: Int = 5000, progress: (@Sendable (String) -> Void)? = nil) throws
        -> RunSummary
    {
        let broker = try Broker(dataDirectory: config.dataDirectory, logger: logger)
        defer { try? broker.close() }
        let startOffsets = try prepareTopics(broker)
        let tasks = config.sources.map { definition -> SourceTask in
            let unknown: SourceFactory = { _ in
                throw ConnectorError.fatal("config", "unknown source type \(definition.type)")
            }
            let factory = registry.sources[definition.type]?.make ?? unknown
            return SourceTask(definition: definition, broker: broker, factory: factory, logger: logger)
        }
        let started = Time.monotonicNanos()
        let threads = tasks.map { task in WorkerThread(name: "source-\(task.definition.name)") { try task.run() } }
        let reporter = progress.map { emit in
            ProgressReporter(intervalMillis: progressIntervalMillis) {
                emit(ProgressLine.render(tasks.map { ($0.definition.name, $0.report) }))
            }
        }
        var failures: [String] = []
        for (task, thread) in zip(tasks, threads) {
            if let error = thread.join() {
                failures.append("source \"\(task.definition.name)\": \(Self.describe(error))")
                StopRequest.request()
            }
        }
        reporter?.stop()
        guard failures.isEmpty else { throw RuntimeError(failures.joined(separator: "\n")) }
        let seconds = Double(Time.monotonicNanos() - started) / 1e9
        var topics: [RunSummary.TopicCounts] = []
        for name in config.allTopics {
            let partitions = try (0..<broker.partitionCount(name)).map { partition -> (Int64, Int64) in
                let (start, end) = try broker.offsets(TopicPartition(name, partition))
                return (end - start, end - (startOffsets[name]?[Int(partition)] ?? 0))
            }
            topics.append(
                RunSummary.TopicCounts(name: name, records: partitions.map { $0.0 }, added: partitions.map { $0.1 }))
        }
        return RunSummary(sources: tasks.map(\.report), topics: topics, seconds: seconds)
    }

    /// Creates the topics the file declares or uses, raises partition counts and applies settings;
    /// returns the end offsets before the run.
    private func prepareTopics(_ broker: Broker) throws -> [String: [Int64]] {
        for (name, declared) in config.topics {
            if let existing = broker.topicConfig(name) {
                if declared.partitions > existing.partitions {
                    try broker.setPartitionCount(name, to: declared.partitions)
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
                try broker.createTopic(name, config: declared)
            }
        }
        for name in config.allTopics { try broker.ensureTopic(name) }
        var ends: [String: [Int64]] = [:]
        for name in config.allTopics {
            ends[name] = try (0..<broker.partitionCount(name)).map { try broker.offsets(TopicPartition(name, $0)).end }
        }
        return ends
    }

    /// An error as a user reads it.
    static func describe(_ error: any Error) -> String {
        if let error = error as? ConnectorError { return error.message }
        return "\(error)"
    }
}
