import ArgumentParser
import SluiceBroker
import SluiceCore

/// `sluice topics …`
struct Topics: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe, create, alter and delete topics.",
        discussion: """
            Examples:
              sluice topics list
              sluice topics create orders --partitions 4 --config retention_ms=86400000
              sluice topics describe orders
              sluice topics alter orders --partitions 8
              sluice topics delete orders
            """,
        subcommands: [List.self, Describe.self, Create.self, Alter.self, Delete.self]
    )

    struct List: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the topics.",
            discussion: "Example:\n  sluice topics list --data-dir data"
        )

        @OptionGroup var global: GlobalOptions

        @Flag(help: "Also list the broker's internal topics (those starting with __).")
        var includeInternal = false

        func run() throws {
            let broker = try global.openBroker(readOnly: true)
            for name in broker.topicNames(includeInternal: includeInternal) { print(name) }
        }
    }

    struct Describe: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show partitions, offsets, segments and settings of one topic or of all.",
            discussion: "Examples:\n  sluice topics describe\n  sluice topics describe orders"
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The topic; all topics when omitted.")
        var topic: String?

        func run() throws {
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
    }

    struct Create: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a topic.",
            discussion: """
                Settings (--config NAME=VALUE, repeatable):
                \(TopicSettingsHelp.text)

                Examples:
                  sluice topics create orders --partitions 4
                  sluice topics create events --config compression=gzip --config retention_ms=86400000
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The topic's name: letters, digits, '.', '_' and '-'.")
        var topic: String

        @Option(help: "The number of partitions.")
        var partitions: Int32 = 1

        @Option(name: .customLong("config"), help: "A topic setting as NAME=VALUE; repeatable.")
        var settings: [String] = []

        func run() throws {
            var config = TopicConfig(partitions: partitions)
            for (name, value) in try TopicSettingsHelp.parse(settings) { try config.set(name, value) }
            let broker = try global.openBroker(readOnly: false)
            try broker.createTopic(topic, config: config)
            print("Created topic \(topic) with \(partitions) partition\(partitions == 1 ? "" : "s").")
        }
    }

    struct Alter: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Raise a topic's partition count or change its settings.",
            discussion: """
                The partition count can be raised, never lowered. Keyed records written before the \
                change stay where they are; new ones go to toPositive(murmur2(key)) % new-count, so a key's \
                new records land on another partition than its older ones and a sink may apply them out of \
                order. For a topic written by key this is refused unless --allow-key-remap is given.

                Examples:
                  sluice topics alter orders --partitions 8
                  sluice topics alter events --partitions 8 --allow-key-remap
                  sluice topics alter orders --config retention_ms=3600000
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The topic.")
        var topic: String

        @Option(help: "The new partition count.")
        var partitions: Int32?

        @Flag(help: "Raise the partitions of a topic written by key, although keys then move to other partitions.")
        var allowKeyRemap = false

        @Option(name: .customLong("config"), help: "A topic setting as NAME=VALUE; repeatable.")
        var settings: [String] = []

        func validate() throws {
            if partitions == nil && settings.isEmpty { throw ValidationError("give --partitions or --config") }
        }

        func run() throws {
            let broker = try global.openBroker(readOnly: false)
            guard var config = broker.topicConfig(topic) else {
                throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist")
            }
            if !settings.isEmpty {
                for (name, value) in try TopicSettingsHelp.parse(settings) { try config.set(name, value) }
                try broker.setTopicConfig(topic, config)
                print("Updated the settings of topic \(topic).")
            }
            if let partitions {
                try broker.setPartitionCount(topic, to: partitions, allowKeyRemap: allowKeyRemap)
                print("Topic \(topic) now has \(partitions) partitions.")
            }
        }
    }

    struct Delete: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a topic, its data and the offsets committed on it.",
            discussion: "Example:\n  sluice topics delete orders"
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The topic.")
        var topic: String

        func run() throws {
            let broker = try global.openBroker(readOnly: false)
            try broker.deleteTopic(topic)
            print("Deleted topic \(topic).")
        }
    }
}

/// The `--config NAME=VALUE` syntax and the settings table in help texts.
enum TopicSettingsHelp {
    static var text: String {
        TopicConfig.settings.map { "  \($0.name) (default \($0.defaultValue)): \($0.meaning)" }.joined(separator: "\n")
    }

    static func parse(_ items: [String]) throws -> [(String, JSONValue)] {
        try items.map { item in
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CommandFailure.usage("--config takes NAME=VALUE, not \"\(item)\"")
            }
            let name = String(item[..<equals])
            return (name, TopicSetting.parseCommandLineValue(String(item[item.index(after: equals)...])))
        }
    }
}
