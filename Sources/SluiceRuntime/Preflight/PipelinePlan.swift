import SluiceBroker
import SluiceCore

/// What a run of a checked configuration would do: where its data goes, what each source and sink
/// reads and writes, which topics exist and which it creates, and what the connectors' preflights
/// found. Made by `Preflight`; printed by `sluice validate` and `sluice run --dry-run`.
public struct PipelinePlan: Sendable {
    public var config: PipelineConfig
    public var dataDirectoryExists = false
    /// Topics already in the data directory (internal ones left out), with their partition counts.
    public var existingTopics: [String: Int32] = [:]
    /// One line per finding of the connectors' preflights (files found, tables that exist).
    public var notes: [String] = []

    public init(config: PipelineConfig) {
        self.config = config
    }

    /// The plan as lines of text.
    public func render() -> String {
        var lines = [
            "Data directory: \(config.dataDirectory)" + (dataDirectoryExists ? "" : " (created by the first run)")
        ]
        for source in config.sources {
            lines.append(
                "Source \(source.name) (\(source.type)) → topic \(source.topic), dead letters → \(source.deadLetterTopic)"
            )
        }
        for sink in config.sinks {
            lines.append(
                "Sink \(sink.name) (\(sink.type)) ← topic\(sink.topics.count == 1 ? "" : "s") "
                    + "\(sink.topics.joined(separator: ", ")), group \(sink.group), "
                    + "\(Self.plural(sink.tasks, "task")), dead letters → \(sink.deadLetterTopic)")
        }
        for name in config.allTopics { lines.append("Topic \(name): " + topicState(name)) }
        if !notes.isEmpty {
            lines.append("Checked:")
            lines += notes.map { "  " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    private func topicState(_ name: String) -> String {
        let declared = config.topics.first { $0.name == name }?.config.partitions
        switch (declared, existingTopics[name]) {
        case (let declared?, let existing?) where declared > existing:
            return "exists with \(Self.plural(Int(existing), "partition")); raised to \(declared)"
        case (_, let existing?):
            return "exists, \(Self.plural(Int(existing), "partition"))"
        case (let declared?, nil):
            return "created with \(Self.plural(Int(declared), "partition"))"
        case (nil, nil):
            return "created with defaults (1 partition)"
        }
    }

    static func plural(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }
}
