import ArgumentParser
import Logging
import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceRuntime

/// `sluice topics …`
struct Topics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe, create, alter and delete topics.",
        discussion: """
            Each command takes the topic as its argument or, as kafka-topics takes it, with --topic.

            Examples:
              sluice topics list --config pipeline.json
              sluice topics create orders --partitions 4
              sluice topics describe --topic orders
              sluice topics alter orders --partitions 8
              sluice topics delete orders
            """,
        subcommands: [List.self, Describe.self, Create.self, Alter.self, Delete.self]
    )

    struct List: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the topics.",
            discussion: "Example:\n  sluice topics list --data-dir data"
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Also list the broker's internal topics (those starting with __).")
        var includeInternal = false

        func run() throws {
            if let cluster = try global.location.kafkaCluster() {
                for name in try cluster.topicNames(includeInternal: includeInternal) { print(name) }
                return
            }
            let broker = try global.openBroker(readOnly: true)
            for name in broker.topicNames(includeInternal: includeInternal) { print(name) }
        }
    }

    struct Describe: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show partitions, offsets, segments and settings of one topic or of all.",
            discussion: """
                Examples:
                  sluice topics describe
                  sluice topics describe orders
                  sluice topics describe --topic orders --config pipeline.json
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The topic; all topics when omitted.", valueName: "topic"))
        var name: String?

        @Option(name: .customLong("topic"), help: "The topic, as kafka-topics takes it.")
        var topicOption: String?

        func validate() throws {
            _ = try TopicOrGroup.name(name, topicOption, option: "topic")
        }

        func run() throws {
            let topic = try TopicOrGroup.name(name, topicOption, option: "topic")
            if let cluster = try global.location.kafkaCluster() {
                try describe(cluster, topic)
                return
            }
            let broker = try global.openBroker(readOnly: true)
            let names = topic.map { [$0] } ?? broker.topicNames(includeInternal: false)
            var first = true
            for name in names {
                guard let config = broker.topicConfig(name) else {
                    throw BrokerError(.topicNotFound, "topic \"\(name)\" does not exist")
                }
                if !first { print("") }
                first = false
                let settings = TopicConfig.settings.map { setting in
                    "\(setting.name)=\(config.value(of: setting.name))"
                        + (config.overrides[setting.name] != nil ? "*" : "")
                }
                print("Topic: \(name)\tPartitions: \(config.partitions)")
                print("Settings (* set for this topic): " + settings.joined(separator: " "))
                var table = Table(["PARTITION", "START-OFFSET", "END-OFFSET", "RECORDS", "SEGMENTS", "BYTES"])
                for partition in try broker.describeTopic(name) {
                    table.add([
                        "\(partition.partition)", "\(partition.startOffset)", "\(partition.endOffset)",
                        "\(partition.endOffset - partition.startOffset)", "\(partition.segments.count)",
                        "\(partition.sizeInBytes)",
                    ])
                }
                print(table.render())
            }
        }

        /// A Kafka cluster's topics: partitions and offsets (its settings are the cluster's, kafka-configs).
        private func describe(_ cluster: KafkaCluster, _ topic: String?) throws {
            let names = try topic.map { [$0] } ?? cluster.topicNames(includeInternal: false)
            for (index, name) in names.enumerated() {
                let count = try cluster.partitionCount(name)
                if index > 0 { print("") }
                print("Topic: \(name)\tPartitions: \(count)")
                var table = Table(["PARTITION", "START-OFFSET", "END-OFFSET", "RECORDS"])
                for partition in 0..<count {
                    let (start, end) = try cluster.offsets(TopicPartition(name, partition))
                    table.add(["\(partition)", "\(start)", "\(end)", "\(end - start)"])
                }
                print(table.render())
            }
        }
    }

    struct Create: ParsableCommand, TopicSettingCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a topic.",
            discussion: """
                Settings (--config NAME=VALUE, repeatable):
                \(TopicSettingsHelp.text)

                --config also takes a pipeline config file, whose data_dir is then used.

                Examples:
                  sluice topics create orders --partitions 4
                  sluice topics create --topic orders --partitions 4 --if-not-exists
                  sluice topics create events --config compression=gzip
                  sluice topics create events --config retention_ms=86400000
                """
        )

        @OptionGroup var options: TopicSettingOptions

        @Argument(help: ArgumentHelp("The topic's name: letters, digits, '.', '_' and '-'.", valueName: "topic"))
        var name: String?

        @Option(name: .customLong("topic"), help: "The topic's name, as kafka-topics takes it.")
        var topicOption: String?

        @Option(help: "The number of partitions.")
        var partitions: Int32 = 1

        @Flag(help: "Do nothing, and succeed, when the topic exists already.")
        var ifNotExists = false

        func validate() throws {
            _ = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics create")
        }

        func run() throws {
            let topic = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics create")
            var config = TopicConfig(partitions: partitions)
            for (name, value) in try TopicSettingsHelp.parse(options.settings) { try config.set(name, value) }
            let broker = try location.openPipelineBroker(readOnly: false)
            if broker is KafkaCluster,
                let local = config.overrides.keys.sorted().first(where: { TopicConfig.kafkaName(of: $0) == nil })
            {
                throw CommandFailure.usage(
                    "topic setting \(local) has no Kafka topic config; on a cluster, the cluster decides it")
            }
            if ifNotExists, let existing = broker.topicConfig(topic) {
                print("Topic \(topic) exists already (\(partitionsPhrase(existing.partitions))); nothing changed.")
                return
            }
            try broker.createTopic(topic, config: config)
            print("Created topic \(topic) with \(partitionsPhrase(partitions)).")
        }
    }

    struct Alter: ParsableCommand, TopicSettingCommand {
        static let configuration = CommandConfiguration(
            abstract: "Raise a topic's partition count or change its settings.",
            discussion: """
                The partition count can be raised, never lowered. Keyed records written before the \
                change stay where they are; new ones go to toPositive(murmur2(key)) % new-count, so a key's \
                new records land on another partition than its older ones and a sink may apply them out of \
                order. For a topic written by key this is refused unless --allow-key-remap is given.

                --config takes topic settings as for create, or a pipeline config file.

                Examples:
                  sluice topics alter orders --partitions 8
                  sluice topics alter events --partitions 8 --allow-key-remap
                  sluice topics alter --topic orders --config retention_ms=3600000
                """
        )

        @OptionGroup var options: TopicSettingOptions

        @Argument(help: ArgumentHelp("The topic.", valueName: "topic"))
        var name: String?

        @Option(name: .customLong("topic"), help: "The topic, as kafka-topics takes it.")
        var topicOption: String?

        @Option(help: "The new partition count.")
        var partitions: Int32?

        @Flag(help: "Raise the partitions of a topic written by key, although keys then move to other partitions.")
        var allowKeyRemap = false

        func validate() throws {
            _ = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics alter")
            if partitions == nil && options.settings.isEmpty { throw ValidationError("give --partitions or --config") }
        }

        func run() throws {
            let topic = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics alter")
            let broker = try location.openBroker(readOnly: false)
            guard var config = broker.topicConfig(topic) else {
                throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist")
            }
            if !options.settings.isEmpty {
                for (name, value) in try TopicSettingsHelp.parse(options.settings) { try config.set(name, value) }
                try broker.setTopicConfig(topic, config)
                print("Updated the settings of topic \(topic).")
            }
            if let partitions {
                try broker.setPartitionCount(topic, to: partitions, allowKeyRemap: allowKeyRemap)
                print("Topic \(topic) now has \(partitionsPhrase(partitions)).")
            }
        }
    }

    struct Delete: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a topic, its data and the offsets committed on it.",
            discussion: """
                A source that wrote to the topic keeps its stored position: its next run reads only \
                files that are new or grew. The command says so, with the `sluice sources reset` \
                that makes the source read its files again.

                Examples:
                  sluice topics delete orders
                  sluice topics delete --topic orders --config pipeline.json
                  sluice topics delete orders --if-exists
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The topic.", valueName: "topic"))
        var name: String?

        @Option(name: .customLong("topic"), help: "The topic, as kafka-topics takes it.")
        var topicOption: String?

        @Flag(help: "Do nothing, and succeed, when there is no such topic.")
        var ifExists = false

        func validate() throws {
            _ = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics delete")
        }

        func run() throws {
            let topic = try TopicOrGroup.required(name, topicOption, option: "topic", command: "topics delete")
            let broker = try global.openBroker(readOnly: false)
            if ifExists && broker.topicConfig(topic) == nil {
                print("There is no topic \(topic); nothing changed.")
                return
            }
            try broker.deleteTopic(topic)
            print("Deleted topic \(topic).")
            for source in broker.sourceNames()
            where StoredSourcePosition(broker.sourceCheckpoint(source)).topics.contains(topic) {
                let reset = ["sluice", "sources", "reset", source, "--execute"] + global.location.arguments
                printToStandardError(
                    """
                    note: source \(source) wrote to \(topic), and its stored position still skips the files it \
                    has read: its next run writes only new rows. To read every file again (rows its other \
                    topics hold already are skipped):
                      \(ShellWords.join(reset))
                    """)
            }
        }
    }

}

/// "1 partition", "4 partitions".
private func partitionsPhrase(_ count: Int32) -> String {
    "\(count) partition\(count == 1 ? "" : "s")"
}

/// The `--config NAME=VALUE` syntax and the settings table in help texts.
enum TopicSettingsHelp {
    static var text: String {
        TopicConfig.settings.map { "  \($0.name) (default \($0.defaultValue)): \($0.meaning)" }.joined(separator: "\n")
    }

    /// Whether a `--config` item is a topic setting (`NAME=VALUE`) rather than a config file's path.
    static func isSetting(_ item: String) -> Bool {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else { return false }
        return item[..<equals].unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || scalar == "."
        }
    }

    static func parse(_ items: [String]) throws -> [(String, JSONValue)] {
        try items.map { item in
            guard isSetting(item), let equals = item.firstIndex(of: "=") else {
                throw CommandFailure.usage("--config takes NAME=VALUE, not \"\(item)\"")
            }
            let name = String(item[..<equals])
            return (name, TopicSetting.parseCommandLineValue(String(item[item.index(after: equals)...])))
        }
    }
}

/// The options of `topics create` and `alter`: those of every command, but --config takes topic
/// settings as kafka-topics does (`--config retention_ms=3600000`, repeatable) as well as a pipeline
/// config file (an item that is not NAME=VALUE) whose data_dir to use.
struct TopicSettingOptions: ParsableArguments {
    @OptionGroup var directory: DataDirectoryOptions

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "A topic setting as NAME=VALUE, repeatable; or a pipeline config file, whose data_dir to use.",
            valueName: "setting-or-file"))
    var items: [String] = []

    var settings: [String] { items.filter(TopicSettingsHelp.isSetting) }
    var configFiles: [String] { items.filter { !TopicSettingsHelp.isSetting($0) } }

    var logLevel: Logger.Level { directory.log.logLevel }
    var location: DataLocation { DataLocation(directory, configFile: configFiles.first) }

    func validate() throws {
        guard configFiles.count <= 1 else {
            throw ValidationError(
                "--config names more than one config file (\(configFiles.joined(separator: ", "))); topic settings "
                    + "are NAME=VALUE")
        }
    }
}

/// `topics create` and `alter`, whose --config takes topic settings too.
protocol TopicSettingCommand: DataDirectoryCommand {
    var options: TopicSettingOptions { get }
}

extension TopicSettingCommand {
    var location: DataLocation { options.location }
    var logLevel: Logger.Level { options.logLevel }
    var logFormat: LogFormat { options.directory.log.format }
}

/// A topic or group given as the command's argument or, as the Kafka tools take it, as an option
/// (`--topic orders`, `--group orders-files`).
enum TopicOrGroup {
    /// The name given either way, nil when neither gave one; given both ways, it must be the same.
    static func name(_ argument: String?, _ option: String?, option name: String) throws -> String? {
        if let argument, let option, argument != option {
            throw ValidationError(
                "the \(name) is given twice, as \"\(argument)\" and as --\(name) \"\(option)\"; give it once")
        }
        return argument ?? option
    }

    /// The name given either way, which the command needs.
    static func required(_ argument: String?, _ option: String?, option name: String, command: String) throws -> String
    {
        guard let value = try self.name(argument, option, option: name) else {
            let upper = name.uppercased()
            throw ValidationError("give the \(name): sluice \(command) \(upper), or --\(name) \(upper)")
        }
        return value
    }
}
