import SluiceBroker
import SluiceCore
import SluiceKit

/// A configuration file after validation: what `sluice run` runs. Built by `ConfigLoader`; every
/// value in it has been checked, defaults applied and relative paths resolved.
public struct PipelineConfig: Sendable {
    public var file: String?
    public var dataDirectory: String
    /// Topics the file declares, in file order.
    public var topics: [(name: String, config: TopicConfig)]
    public var sources: [SourceDefinition]

    /// Every topic the pipeline writes or reads, declared or not, in a stable order.
    public var allTopics: [String] {
        var names = topics.map(\.name)
        for source in sources {
            for topic in [source.topic, source.deadLetterTopic] where !names.contains(topic) { names.append(topic) }
        }
        return names
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
}

/// The options every source takes, whatever its type; the runtime reads them.
public enum CommonOptions {
    public static let source: [OptionSpec] = [
        OptionSpec(
            "type", .string, required: true, "The connector type (see `sluice connectors list`).", example: "csv"),
        OptionSpec("topic", .string, "The topic records go to; the source's name when unset."),
        OptionSpec("dead_letter_topic", .string, "The topic bad input goes to; TOPIC.dlq when unset."),
    ]
}
