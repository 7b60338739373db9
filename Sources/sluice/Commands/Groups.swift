import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `sluice groups …`
struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and describe consumer groups and reset their offsets.",
        discussion: """
            Examples:
              sluice groups list
              sluice groups describe orders-files
              sluice groups reset-offsets --group orders-files --topic orders --to-earliest
              sluice groups reset-offsets --group g --topic orders:0,1 --shift-by -100 --execute
            """,
        subcommands: [List.self, Describe.self, ResetOffsets.self]
    )

    struct List: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the consumer groups.",
            discussion: "Example:\n  sluice groups list"
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let broker = try global.openBroker(readOnly: true)
            for name in broker.groupNames() { print(name) }
        }
    }

    struct Describe: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a group's committed offsets, end offsets, lag and members per partition.",
            discussion: "Example:\n  sluice groups describe orders-files"
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The group.")
        var group: String

        func run() throws {
            let broker = try global.openBroker(readOnly: true)
            guard broker.groupNames().contains(group) else {
                throw CommandFailure.runtime("consumer group \"\(group)\" does not exist (it has no committed offsets)")
            }
            let description = try broker.describeGroup(group)
            let generation = description.generation.map { " generation \($0)" } ?? ""
            print(
                "Group \(group): \(description.state)\(generation), \(description.members.count) member(s), total lag \(description.totalLag)"
            )
            var table = Table(["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER"])
            for row in description.partitions {
                table.add([
                    row.topicPartition.topic, "\(row.topicPartition.partition)", row.committed.map(String.init) ?? "-",
                    "\(row.endOffset)", row.lag.map(String.init) ?? "-", row.member ?? "-",
                ])
            }
            print(table.render())
        }
    }

    struct ResetOffsets: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets; prints the plan, and applies it with --execute.",
            discussion: """
                The group must not be running. New offsets are kept between each partition's start \
                and end offsets. --to-datetime takes ISO 8601 (2026-11-21T10:30:00Z, \
                2026-11-21T10:30:00+02:00, 2026-11-21); a time without a zone is UTC.

                Examples:
                  sluice groups reset-offsets --group g --topic orders --to-earliest
                  sluice groups reset-offsets --group g --topic orders --to-datetime 2026-11-21 --execute
                  sluice groups reset-offsets --group g --topic orders:0,2 --to-offset 1000 --execute
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "The group.")
        var group: String

        @Option(help: "The topic, optionally with partitions: orders or orders:0,1,2.")
        var topic: String

        @Flag(help: "Move to each partition's first stored offset.")
        var toEarliest = false

        @Flag(help: "Move to each partition's end.")
        var toLatest = false

        @Option(parsing: .unconditional, help: "Move to this offset.")
        var toOffset: Int64?

        @Option(
            parsing: .unconditional,
            help: "Move by this many offsets (negative to go back) from the committed offset (the end without one).")
        var shiftBy: Int64?

        @Option(help: "Move to the first record at or after this time (ISO 8601).")
        var toDatetime: String?

        @Flag(help: "Apply the plan; without it the plan is only printed.")
        var execute = false

        func spec() throws -> OffsetResetSpec {
            var specs: [OffsetResetSpec] = []
            if toEarliest { specs.append(.toEarliest) }
            if toLatest { specs.append(.toLatest) }
            if let toOffset { specs.append(.toOffset(toOffset)) }
            if let shiftBy { specs.append(.shiftBy(shiftBy)) }
            if let toDatetime {
                guard let millis = ISO8601.parseMillis(toDatetime) else {
                    throw ValidationError(
                        "--to-datetime: \"\(toDatetime)\" is not an ISO 8601 date-time such as 2026-11-21T10:30:00Z")
                }
                specs.append(.toDatetime(millis))
            }
            guard specs.count == 1 else {
                throw ValidationError(
                    "give exactly one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime")
            }
            return specs[0]
        }

        func validate() throws {
            _ = try spec()
            _ = try topicAndPartitions()
        }

        func topicAndPartitions() throws -> (String, [Int32]?) {
            let usage = ValidationError("--topic takes NAME or NAME:P1,P2,…, not \"\(topic)\"")
            guard let colon = topic.firstIndex(of: ":") else {
                guard !topic.isEmpty else { throw usage }
                return (topic, nil)
            }
            let name = String(topic[..<colon])
            let items = topic[topic.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
            let partitions = items.compactMap { Int32($0) }.filter { $0 >= 0 }
            guard !name.isEmpty, !items.isEmpty, partitions.count == items.count else { throw usage }
            return (name, partitions)
        }

        func run() throws {
            let broker = try global.openBroker(readOnly: !execute)
            let (name, partitions) = try topicAndPartitions()
            let plan = try OffsetResetPlan.make(
                broker: broker, group: group, topic: name, partitions: partitions, spec: spec())
            var table = Table(["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"])
            for row in plan.rows {
                table.add([
                    group, row.topicPartition.topic, "\(row.topicPartition.partition)",
                    row.current.map(String.init) ?? "-",
                    "\(row.new)",
                ])
            }
            print(table.render())
            if execute {
                try plan.execute(broker: broker)
                try broker.close()
                print("Offsets of group \(group) reset.")
            } else {
                print("This is the plan only; add --execute to apply it.")
            }
        }
    }
}
