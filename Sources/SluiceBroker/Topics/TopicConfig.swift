import SluiceCore
import SluiceLog

/// A topic's partition count and settings: defaults plus the overrides the user gave, which are what
/// the data directory stores (so that later defaults reach topics that did not override them).
public struct TopicConfig: Sendable, Equatable {
    public static let maxPartitions: Int32 = 10_000

    public static let settings: [TopicSetting] = [
        TopicSetting(
            name: "segment_bytes", kind: .integer(min: 1024, max: 1 << 40), defaultValue: "1073741824",
            meaning: "Roll to a new segment file when the active one would grow past this size."),
        TopicSetting(
            name: "segment_ms", kind: .integer(min: 1, max: Int64.max), defaultValue: "604800000",
            meaning: "Roll to a new segment file when the active one's first record is older than this."),
        TopicSetting(
            name: "retention_ms", kind: .integer(min: -1, max: Int64.max), defaultValue: "604800000",
            meaning: "Delete closed segments whose newest record is older than this; -1 keeps them forever."),
        TopicSetting(
            name: "retention_bytes", kind: .integer(min: -1, max: Int64.max), defaultValue: "-1",
            meaning: "Delete the oldest closed segments while a partition is larger than this; -1 sets no limit."),
        TopicSetting(
            name: "retention_respects_groups", kind: .boolean, defaultValue: "true",
            meaning: "Never delete records that a consumer group with commits on the topic has not consumed."),
        TopicSetting(
            name: "flush", kind: .choice(["batch", "interval", "os"]), defaultValue: "batch",
            meaning: "When appends reach the disk: fsync every batch, every flush_interval_ms, or when the OS decides."
        ),
        TopicSetting(
            name: "flush_interval_ms", kind: .integer(min: 1, max: Int64.max), defaultValue: "1000",
            meaning: "With flush \"interval\": the longest an append waits for its fsync."),
        TopicSetting(
            name: "compression", kind: .choice(["none", "gzip"]), defaultValue: "none",
            meaning: "Compression of stored record batches (Kafka's codec numbering)."),
        TopicSetting(
            name: "index_interval_bytes", kind: .integer(min: 0, max: 1 << 30), defaultValue: "4096",
            meaning: "Bytes of log between two entries of the sparse offset index."),
        TopicSetting(
            name: "max_message_bytes", kind: .integer(min: 1024, max: 1 << 30), defaultValue: "67108864",
            meaning: "The largest record batch the topic accepts."),
    ]

    public var partitions: Int32
    /// Settings that differ from the defaults, by name, validated.
    public private(set) var overrides: [String: JSONValue] = [:]
    /// What the sources that write the topic declared about its values (column types, key), for sinks.
    public var schema: JSONValue?

    public init(partitions: Int32 = 1) {
        self.partitions = partitions
    }

    /// A config with `overrides` checked against `settings`.
    public init(partitions: Int32, overrides: [String: JSONValue]) throws {
        self.partitions = partitions
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) { try set(name, value) }
    }

    public static func setting(named name: String) -> TopicSetting? {
        settings.first { $0.name == name }
    }

    /// Sets one setting, validating its name and value.
    public mutating func set(_ name: String, _ value: JSONValue) throws {
        guard let setting = Self.setting(named: name) else {
            let hint =
                Suggestion.closest(to: name, in: Self.settings.map(\.name)).map { "; did you mean \"\($0)\"?" } ?? ""
            throw BrokerError(.invalidConfig, "\(name): unknown topic setting\(hint)")
        }
        overrides[name] = try setting.validate(value, topic: "")
    }

    /// The effective value of a setting as text.
    public func value(of name: String) -> String {
        if let value = overrides[name] {
            if case .string(let text) = value { return text }
            return value.serialized()
        }
        return Self.setting(named: name)?.defaultValue ?? ""
    }

    private func integer(_ name: String) -> Int64 {
        Int64(value(of: name)) ?? 0
    }

    public var compression: BatchCompression {
        BatchCompression(name: value(of: "compression")) ?? .none
    }

    public var retentionRespectsGroups: Bool {
        value(of: "retention_respects_groups") == "true"
    }

    /// The storage settings for each partition log.
    public var logConfig: LogConfig {
        var config = LogConfig()
        config.segmentBytes = integer("segment_bytes")
        config.segmentMs = integer("segment_ms")
        config.retentionMs = integer("retention_ms")
        config.retentionBytes = integer("retention_bytes")
        config.indexIntervalBytes = Int(integer("index_interval_bytes"))
        config.maxBatchBytes = Int(integer("max_message_bytes"))
        switch value(of: "flush") {
        case "interval": config.flush = .interval(millis: integer("flush_interval_ms"))
        case "os": config.flush = .os
        default:
            config.flush =
                overrides["flush"] == nil && overrides["flush_interval_ms"] != nil
                ? .interval(millis: integer("flush_interval_ms")) : .everyBatch
        }
        return config
    }

    /// The config as stored in the data directory: partitions and overrides.
    public var json: JSONValue {
        .object(
            [("partitions", .number(String(partitions)))]
                + overrides.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) }
                + (schema.map { [("schema", $0)] } ?? [])
        )
    }

    /// Reads the stored form back.
    public init(json: JSONValue, topic: String) throws {
        guard case .object(let members) = json, let partitions = json["partitions"]?.integerValue,
            partitions >= 1, partitions <= Int64(Self.maxPartitions)
        else {
            throw BrokerError(.storage, "topic \(topic): stored metadata is malformed: \(json.serialized())")
        }
        self.partitions = Int32(partitions)
        for (name, value) in members where name != "partitions" && name != "schema" { try set(name, value) }
        schema = json["schema"]
    }
}
