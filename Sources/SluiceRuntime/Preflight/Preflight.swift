import Logging
import SluiceBroker
import SluiceCore
import SluiceKit

/// The checks `sluice validate` makes, and `sluice run` makes before it starts: the config file's own
/// (`ConfigLoader`), then those against what is around it: the topics that already exist in the data
/// directory, and each connector's preflight (its input files and their headers, its output folder,
/// with `connect` its server and tables). Every problem is reported at once, each named by its path in
/// the file; a connector whose own options have problems is not asked for more.
///
/// Looks only: the data directory is opened read-only when it exists (never created or locked, so a
/// running pipeline may own it), and no connector writes anything. Blocking; call it from a thread of
/// its own, never from Swift's cooperative pool.
public struct Preflight {
    public var loader: ConfigLoader
    /// Whether connectors reach their servers (`validate --connect`, `run --dry-run`, `run`).
    public var connect: Bool
    /// Whether a server that cannot be reached now is only a note (`run`, whose sinks retry).
    public var serverMayBeDown: Bool
    /// Whether the pipeline is to run without end (`sluice daemon`); see `PreflightContext.continuous`.
    public var continuous: Bool
    public var logger: Logger

    public init(
        loader: ConfigLoader, connect: Bool = false, serverMayBeDown: Bool = false, continuous: Bool = false,
        logger: Logger
    ) {
        self.loader = loader
        self.connect = connect
        self.serverMayBeDown = serverMayBeDown
        self.continuous = continuous
        self.logger = logger
    }

    /// Loads the config file at `path` (see `ConfigLoader.load(path:)`) and checks it. Returns what a
    /// run would do, or throws a `ConfigError` with every problem of the file and of the checks.
    public func check(path: String) throws -> PipelinePlan {
        let (config, problems) = try loader.collect(path: path)
        return try check(config, known: problems)
    }

    /// Checks a configuration that `ConfigLoader` has validated.
    public func check(_ config: PipelineConfig) throws -> PipelinePlan {
        try check(config, known: [])
    }

    func check(_ config: PipelineConfig, known: [ConfigProblem]) throws -> PipelinePlan {
        var problems = known
        var plan = PipelinePlan(config: config)
        let dataDirectory = FileSystem.absolute(config.dataDirectory)
        var checkpoints: [String: [UInt8]] = [:]
        let existing = try existingTopics(dataDirectory, problems: &problems, checkpoints: &checkpoints)
        plan.existingTopics = existing.mapValues(\.partitions)
        plan.dataDirectoryExists = FileSystem.isDirectory(dataDirectory)
        if !known.contains(where: Self.dropsWriters) {
            problems += unwrittenTopics(config, existing: existing, dataDirectory: dataDirectory)
        }
        problems += sharedGroups(config)
        var schemas: [String: TopicSchema] = [:]
        for (name, topic) in existing {
            if let json = topic.schema, let schema = TopicSchema(json: json) { schemas[name] = schema }
        }
        for source in config.sources {
            if let schema = loader.registry.sources[source.type]?.spec.schema(source.options) {
                schemas[source.topic] = schema
            }
        }
        for connector in Self.connectors(config, loader.registry) {
            guard let spec = connector.spec, !known.contains(where: { connector.isBlocked(by: $0) }) else { continue }
            let result = spec.preflight(
                PreflightContext(
                    name: connector.name, options: connector.options, topics: connector.topics, schemas: schemas,
                    dataDirectory: dataDirectory, connect: connect, serverMayBeDown: serverMayBeDown,
                    checkpoint: checkpoints[connector.name], continuous: continuous,
                    logger: logger))
            problems += result.problems
            plan.notes += result.notes
        }
        guard problems.isEmpty else { throw ConfigError(file: config.file, problems) }
        return plan
    }

    /// A source or sink of the config, as its preflight sees it.
    private struct Connector {
        var path: String
        var name: String
        var spec: ConnectorSpec?
        var options: ConnectorOptions
        var topics: [String]
        /// The runtime's options of its kind, which its preflight does not read.
        var common: [OptionSpec]

        /// Whether a problem of the file is in what the preflight reads (anything of the connector but
        /// the runtime's options, its topics and type aside), so that it cannot be trusted to run:
        /// the connector's own options were not checked together, and an unknown one may be a typo.
        func isBlocked(by problem: ConfigProblem) -> Bool {
            guard Preflight.isUnder(problem.path, path) else { return false }
            let rest = problem.path.dropFirst(path.count)
            guard rest.hasPrefix(".") else { return true }
            let key = rest.dropFirst().prefix { $0 != "." && $0 != "[" }
            return key == "type" || key == "topics" || !common.contains { $0.name == key }
        }
    }

    private static func connectors(_ config: PipelineConfig, _ registry: ConnectorRegistry) -> [Connector] {
        config.sources.map {
            Connector(
                path: "sources.\($0.name)", name: $0.name, spec: registry.sources[$0.type]?.spec, options: $0.options,
                topics: [$0.topic], common: CommonOptions.source)
        }
            + config.sinks.map {
                Connector(
                    path: "sinks.\($0.name)", name: $0.name, spec: registry.sinks[$0.type]?.spec, options: $0.options,
                    topics: $0.topics, common: CommonOptions.sink)
            }
    }

    /// The topics of the data directory, read without taking its lock; none when it does not exist yet.
    /// The topics of the data directory, and the sources' stored checkpoints (the connectors' part).
    private func existingTopics(
        _ directory: String, problems: inout [ConfigProblem], checkpoints: inout [String: [UInt8]]
    ) throws -> [String: TopicConfig] {
        switch FileSystem.kind(directory) {
        case .missing:
            return [:]
        case .directory:
            break
        case let kind:
            problems.append(ConfigProblem("data_dir", "\(directory) is \(kind.phrase), not a folder"))
            return [:]
        }
        let broker = try Broker(dataDirectory: directory, readOnly: true, logger: logger)
        defer { try? broker.close() }
        var topics: [String: TopicConfig] = [:]
        for name in broker.topicNames(includeInternal: false) { topics[name] = broker.topicConfig(name) }
        for source in broker.sourceNames() {
            if let stored = broker.sourceCheckpoint(source).flatMap(SourceCheckpoint.init(decoding:)) {
                checkpoints[source] = stored.connector
            }
        }
        return topics
    }

    /// Two sinks in one group would split the records between them, each getting only part.
    private func sharedGroups(_ config: PipelineConfig) -> [ConfigProblem] {
        var first: [String: String] = [:]
        var problems: [ConfigProblem] = []
        for sink in config.sinks {
            if let other = first[sink.group] {
                problems.append(
                    ConfigProblem(
                        "sinks.\(sink.name).group",
                        "group \"\(sink.group)\" is also the group of sink \(other); sinks in one group split the "
                            + "records between them, so each would get only part: give each sink its own group"))
            } else {
                first[sink.group] = sink.name
            }
        }
        return problems
    }

    /// Topics a sink reads that do not exist and that nothing in the config writes or declares: the
    /// run would stop on them.
    private func unwrittenTopics(
        _ config: PipelineConfig, existing: [String: TopicConfig], dataDirectory: String
    ) -> [ConfigProblem] {
        let written = Set(
            config.sources.flatMap { [$0.topic, $0.deadLetterTopic] } + config.sinks.map(\.deadLetterTopic)
                + config.topics.map(\.name))
        let known = written.union(existing.keys).sorted()
        var problems: [ConfigProblem] = []
        for sink in config.sinks {
            for (index, topic) in sink.topics.enumerated() where !written.contains(topic) && existing[topic] == nil {
                let hint = Suggestion.closest(to: topic, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(
                        "sinks.\(sink.name).topics[\(index)]",
                        "topic \"\(topic)\" does not exist in \(dataDirectory) and nothing in the config writes it; "
                            + "declare it under \"topics\" or fix the name\(hint)"))
            }
        }
        return problems
    }

    /// Whether a problem of the file leaves a source or a declared topic out of the configuration, so
    /// that which topics get written is not known.
    static func dropsWriters(_ problem: ConfigProblem) -> Bool {
        let parts = problem.path.split(separator: ".", omittingEmptySubsequences: false)
        guard let section = parts.first, section == "sources" || section == "topics" else { return false }
        return parts.count <= 2 || (section == "sources" && parts.count == 3 && parts[2] == "type")
    }

    /// Whether `path` is `prefix` or inside it (`sources.orders.key` is inside `sources.orders`).
    static func isUnder(_ path: String, _ prefix: String) -> Bool {
        path == prefix || path.hasPrefix(prefix + ".") || path.hasPrefix(prefix + "[")
    }
}
