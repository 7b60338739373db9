import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceKit

/// A configuration file after validation: what `sluice run` runs. Built by `ConfigLoader`; every
/// value in it has been checked, defaults applied and relative paths resolved.
public struct PipelineConfig: Sendable {
    public var file: String?
    public var dataDirectory: String
    /// Topics the file declares, in file order.
    public var topics: [(name: String, config: TopicConfig)]
    /// Declared topics whose partitions may be raised although they are written by key.
    public var keyRemapAllowed: Set<String> = []
    public var sources: [SourceDefinition]
    public var sinks: [SinkDefinition] = []
    /// What `sluice daemon` reads from the `daemon` section.
    public var daemon = DaemonSettings()
    /// The daemon's admin HTTP API, from the `admin` section.
    public var admin = AdminSettings()
    /// The daemon's Kafka protocol listener, from the `kafka` section; nil (no listener) without one.
    public var kafka: KafkaSettings?
    /// Where topics live: the embedded broker in `dataDirectory` (the default) or a Kafka cluster.
    public var broker = BrokerSettings.embedded

    /// Every topic the pipeline writes or reads, declared or not, in a stable order.
    /// The groups of the sinks that read `topic`.
    func readers(of topic: String) -> [String] {
        sinks.filter { $0.topics.contains(topic) }.map(\.group)
    }

    public var allTopics: [String] {
        var names = topics.map(\.name)
        for source in sources {
            for topic in [source.topic, source.deadLetterTopic] where !names.contains(topic) { names.append(topic) }
        }
        for sink in sinks {
            for topic in sink.topics + [sink.deadLetterTopic] where !names.contains(topic) { names.append(topic) }
        }
        return names
    }
}

/// The `daemon` section of a configuration.
public struct DaemonSettings: Sendable, Equatable {
    /// How often sources look for new files and appended rows.
    public var pollIntervalMillis = 1000
    /// How long a drain may take before the daemon stops at once.
    public var shutdownTimeoutMillis = 30_000

    public init() {}
}

/// The `broker` section.
public enum BrokerSettings: Sendable, Equatable {
    case embedded
    case kafka(KafkaClusterSettings)
}

/// The `kafka` section: where the daemon listens for Kafka clients, the host it tells them to reach it
/// by, and whether a produce or metadata request for a missing topic creates it.
public struct KafkaSettings: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 9092
    /// The host in Metadata answers (default: the listen host, or this machine's name for 0.0.0.0).
    public var advertisedHost: String?
    /// Kafka's `auto.create.topics.enable`.
    public var autoCreateTopics = true
    /// The partitions of a topic created on first use (Kafka's `num.partitions`).
    public var defaultPartitions: Int32 = 1

    public init() {}

    /// Reads `127.0.0.1:9092` or `[::1]:9092`.
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard case .tcp(let host, let port)? = AdminSettings.listen(text) else { return nil }
        return (host, port)
    }
}

/// The `admin` section: where the daemon's admin HTTP API listens, and the token it asks for.
public struct AdminSettings: Sendable, Equatable {
    public enum Listen: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(String)
        case off
    }

    public var listen = Listen.tcp(host: "127.0.0.1", port: 8090)
    /// The environment variable holding the admin token that requests must bring (`Authorization:
    /// Bearer`); `tokenFile`, a file holding it, is read when the variable is unset. Never the command
    /// line, where other users of the machine see it.
    public var tokenEnvironment = "SLUICE_ADMIN_TOKEN"
    public var tokenFile: String?
    /// The same for a read-only token: it may GET (status, metrics, ledgers, offsets), not change.
    public var readTokenEnvironment = "SLUICE_ADMIN_READ_TOKEN"
    public var readTokenFile: String?

    public init() {}

    /// Reads `127.0.0.1:8090`, `[::1]:8090`, a socket path (with a `/`), or `off`.
    public static func listen(_ text: String) -> Listen? {
        if text == "off" { return .off }
        if text.contains("/") { return .unixSocket(text) }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return .tcp(host: host, port: port)
    }

    /// Whether only this machine can reach the listener.
    public var isLocal: Bool {
        switch listen {
        case .tcp(let host, _): return host == "127.0.0.1" || host == "::1" || host == "localhost"
        case .unixSocket, .off: return true
        }
    }
}

/// One sink of the pipeline: its topics, consumer group, tasks, batching and retries.
public struct SinkDefinition: Sendable {
    public var name: String
    public var type: String
    public var topics: [String]
    public var group: String
    public var tasks: Int
    public var maxBatchRecords: Int
    public var maxBatchBytes: Int
    public var batchWaitMs: Int
    public var retryInitialMs: Int
    public var retryMaxMs: Int
    public var retryTimeoutMs: Int
    public var deadLetterTopic: String
    /// Where a group without committed offsets starts: `earliest` or `latest`.
    public var startFrom: String
    public var sessionTimeoutMs: Int64
    public var maxPollIntervalMs: Int64
    /// The run fails when a task dead-letters more than this share of its records (100: never).
    public var maxDeadLetterPercent: Int
    /// The connector's own options, validated.
    public var options: ConnectorOptions

    init(name: String, type: String, options: ConnectorOptions) {
        self.name = name
        self.type = type
        self.options = options
        topics = options.stringList("topics") ?? []
        group = options.string("group") ?? name
        tasks = Int(options.integer("tasks") ?? 1)
        maxBatchRecords = Int(options.integer("max_batch_records") ?? 50_000)
        maxBatchBytes = Int(options.integer("max_batch_bytes") ?? Int64(16 << 20))
        batchWaitMs = Int(options.integer("batch_wait_ms") ?? 500)
        retryInitialMs = Int(options.integer("retry_initial_ms") ?? 100)
        retryMaxMs = Int(options.integer("retry_max_ms") ?? 10_000)
        retryTimeoutMs = Int(options.integer("retry_timeout_ms") ?? 300_000)
        deadLetterTopic = options.string("dead_letter_topic") ?? name + ".dlq"
        startFrom = options.string("start_from") ?? "earliest"
        sessionTimeoutMs = options.integer("session_timeout_ms") ?? 45_000
        maxPollIntervalMs = options.integer("max_poll_interval_ms") ?? 300_000
        maxDeadLetterPercent = Int(options.integer("max_dead_letter_percent") ?? 90)
    }
}

/// One source of the pipeline.
public struct SourceDefinition: Sendable {
    public var name: String
    public var type: String
    public var topic: String
    public var deadLetterTopic: String
    /// The connector's own options, validated.
    public var options: ConnectorOptions

    /// The lag at which the source pauses, when its topic's retention would otherwise delete records a
    /// sink has not consumed; nil when retention cannot (it respects groups, or has no size limit).
    func pauseThreshold(_ config: TopicConfig) -> Int64? {
        guard !config.retentionRespectsGroups, config.logConfig.retentionBytes >= 0 else { return nil }
        return options.integer("max_unconsumed_bytes") ?? config.logConfig.retentionBytes * 8 / 10
    }
}

/// The options every source takes, whatever its type; the runtime reads them.
public enum CommonOptions {
    public static let source: [OptionSpec] = [
        OptionSpec(
            "type", .string, required: true, "The connector type (see `sluice connectors list`).", example: "csv"),
        OptionSpec("topic", .string, "The topic records go to; the source's name when unset."),
        OptionSpec("dead_letter_topic", .string, "The topic bad input goes to; TOPIC.dlq when unset."),
        OptionSpec(
            "max_unconsumed_bytes", .integer(min: 1024, max: Int64.max),
            "When the topic's retention may delete records a sink has not consumed (retention_respects_groups "
                + "false with retention_bytes), pause reading while a sink lags by more than this in a partition; "
                + "80% of retention_bytes when unset."),
    ]

    public static let sink: [OptionSpec] = [
        OptionSpec(
            "type", .string, required: true, "The connector type (see `sluice connectors list`).", example: "file"),
        OptionSpec("topics", .stringList, required: true, "The topics to read.", example: "[\"orders\"]"),
        OptionSpec("group", .string, "The consumer group; the sink's name when unset."),
        OptionSpec(
            "tasks", .integer(min: 1, max: 256), default: .number("1"),
            "Consumers in the group, each on its own thread."),
        OptionSpec(
            "max_batch_records", .integer(min: 1, max: 10_000_000), default: .number("50000"),
            "Most records a task writes and commits at once."),
        OptionSpec(
            "max_batch_bytes", .integer(min: 1024, max: 1 << 30), default: .number(String(16 << 20)),
            "Most bytes a task reads for one batch."),
        OptionSpec(
            "batch_wait_ms", .integer(min: 0, max: 3_600_000), default: .number("500"),
            "How long a task waits for a batch to fill while records still arrive."),
        OptionSpec(
            "retry_initial_ms", .integer(min: 1, max: 3_600_000), default: .number("100"),
            "First wait before retrying a batch after a transient error; it doubles, with jitter."),
        OptionSpec(
            "retry_max_ms", .integer(min: 1, max: 3_600_000), default: .number("10000"), "Longest wait between retries."
        ),
        OptionSpec(
            "retry_timeout_ms", .integer(min: 0, max: 86_400_000), default: .number("300000"),
            "Give up (the run fails, nothing committed past what is durable) after retrying this long."),
        OptionSpec("dead_letter_topic", .string, "Where records the sink cannot deliver go; SINK.dlq when unset."),
        OptionSpec(
            "start_from", .choice(["earliest", "latest"]), default: .string("earliest"),
            "Where a group without committed offsets starts reading."),
        OptionSpec(
            "session_timeout_ms", .integer(min: 100, max: 3_600_000), default: .number("45000"),
            "A task that shows no sign of life for this long loses its partitions; tasks heartbeat in the "
                + "background, also while they write."),
        OptionSpec(
            "max_poll_interval_ms", .integer(min: 1_000, max: 86_400_000), default: .number("300000"),
            "A task stuck this long on one batch (a write that never returns) loses its partitions, and that "
                + "batch is not committed (as Kafka's max.poll.interval.ms)."),
        OptionSpec(
            "max_dead_letter_percent", .integer(min: 0, max: 100), default: .number("90"),
            "Stop the run when a task has dead-lettered more than this percentage of its records (counted from "
                + "its 100th record): a sink that rejects most records is misconfigured; 100 never stops."),
    ]
}
