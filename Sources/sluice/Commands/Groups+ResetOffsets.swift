import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceRuntime

extension Groups {
    /// `sluice groups reset-offsets`, with the options of `kafka-consumer-groups --reset-offsets`.
    struct ResetOffsets: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets; prints the plan, and applies it with --execute.",
            discussion: """
                The group must not be running. New offsets are kept between each partition's start \
                and end offsets. --to-datetime takes ISO 8601 (2026-11-21T10:30:00Z, \
                2026-11-21T10:30:00+02:00, 2026-11-21); a time without a zone is UTC. --by-duration \
                takes an ISO 8601 duration back from now (PT1H, PT30M, P1D, P1DT12H). --to-current \
                keeps the committed offsets (the end where there is none). --all-topics means the \
                topics the group has committed on. Without --execute (or with --dry-run) nothing changes.

                Examples:
                  sluice groups reset-offsets --group g --topic orders --to-earliest
                  sluice groups reset-offsets --group g --topic orders:0,2 \\
                      --to-offset 1000 --execute
                  sluice groups reset-offsets --group g --all-topics \\
                      --to-datetime 2026-11-21 --execute
                  sluice groups reset-offsets --all-groups --all-topics \\
                      --by-duration PT1H --dry-run
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(help: "The group; repeatable.")
        var group: [String] = []

        @Flag(help: "Every group.")
        var allGroups = false

        @Option(help: "The topic, optionally with partitions: orders or orders:0,1,2; repeatable.")
        var topic: [String] = []

        @Flag(help: "Every topic the group has committed offsets on.")
        var allTopics = false

        @Flag(help: "Move to each partition's first stored offset.")
        var toEarliest = false

        @Flag(help: "Move to each partition's end.")
        var toLatest = false

        @Flag(help: "Keep the committed offset (the end without one).")
        var toCurrent = false

        @Option(parsing: .unconditional, help: "Move to this offset.")
        var toOffset: Int64?

        @Option(
            parsing: .unconditional,
            help: "Move by this many offsets (negative to go back) from the committed offset (the end without one).")
        var shiftBy: Int64?

        @Option(help: "Move to the first record at or after this time (ISO 8601).")
        var toDatetime: String?

        @Option(help: "Move to the first record at most this long ago (ISO 8601 duration: PT1H, P1D).")
        var byDuration: String?

        @Flag(help: "Apply the plan; without it the plan is only printed.")
        var execute = false

        @Flag(help: "Only print the plan (the default), as kafka-consumer-groups says it.")
        var dryRun = false

        func spec() throws -> OffsetResetSpec {
            var specs: [OffsetResetSpec] = []
            if toEarliest { specs.append(.toEarliest) }
            if toLatest { specs.append(.toLatest) }
            if toCurrent { specs.append(.toCurrent) }
            if let toOffset { specs.append(.toOffset(toOffset)) }
            if let shiftBy { specs.append(.shiftBy(shiftBy)) }
            if let toDatetime {
                guard let millis = ISO8601.parseMillis(toDatetime) else {
                    throw ValidationError(
                        "--to-datetime: \"\(toDatetime)\" is not an ISO 8601 date-time such as 2026-11-21T10:30:00Z")
                }
                specs.append(.toDatetime(millis))
            }
            if let byDuration {
                guard let millis = ISO8601.parseDurationMillis(byDuration) else {
                    throw ValidationError(
                        "--by-duration: \"\(byDuration)\" is not an ISO 8601 duration such as PT1H, PT30M, P1D or "
                            + "P1DT12H")
                }
                specs.append(.byDuration(millis))
            }
            guard specs.count == 1 else {
                throw ValidationError(
                    "give exactly one of --to-earliest, --to-latest, --to-current, --to-offset, --shift-by, "
                        + "--to-datetime, --by-duration")
            }
            return specs[0]
        }

        func validate() throws {
            _ = try spec()
            _ = try targets()
            try GroupSelection.check(group, allGroups: allGroups)
            if execute && dryRun { throw ValidationError("--execute and --dry-run contradict each other; give one") }
        }

        /// The topics named with --topic; nil for --all-topics.
        func targets() throws -> [OffsetResetTarget]? {
            if allTopics && !topic.isEmpty { throw ValidationError("give --topic or --all-topics, not both") }
            if allTopics { return nil }
            guard !topic.isEmpty else { throw ValidationError("give --topic NAME (or --all-topics)") }
            return try topic.map { item in
                let usage = ValidationError("--topic takes NAME or NAME:P1,P2,…, not \"\(item)\"")
                guard let colon = item.firstIndex(of: ":") else {
                    guard !item.isEmpty else { throw usage }
                    return OffsetResetTarget(topic: item)
                }
                let name = String(item[..<colon])
                let items = item[item.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
                let partitions = items.compactMap { Int32($0) }.filter { $0 >= 0 }
                guard !name.isEmpty, !items.isEmpty, partitions.count == items.count else { throw usage }
                return OffsetResetTarget(topic: name, partitions: partitions)
            }
        }

        func run() throws {
            if let cluster = try global.location.kafkaCluster() {
                try reset(on: cluster)
                return
            }
            // Checked before the write lock is taken, so that a running group is named as such.
            let idle =
                execute
                ? try GroupSelection.checkedIdle(group, allGroups: allGroups, mustExist: false, global: global) : nil
            let broker = try global.openBroker(readOnly: !execute)
            let groups =
                try idle ?? GroupSelection.groups(group, allGroups: allGroups, mustExist: false, broker: broker)
            var plans: [OffsetResetPlan] = []
            for group in groups {
                let targets =
                    try targets()
                    ?? Set(broker.committedOffsets(group).keys.map(\.topic)).sorted()
                    .filter { broker.topicConfig($0) != nil }.map { OffsetResetTarget(topic: $0) }
                plans.append(try OffsetResetPlan.make(broker: broker, group: group, targets: targets, spec: spec()))
                if !execute, try !broker.describeGroup(group).members.isEmpty {
                    printToStandardError("note: group \(group) is running; --execute is refused until it stops")
                }
            }
            Self.printTable(plans)
            guard execute else {
                print("This is the plan only; add --execute to apply it.")
                return
            }
            for plan in plans { try plan.execute(broker: broker) }
            try broker.close()
            let names = plans.map(\.group)
            print("Offsets of group\(names.count == 1 ? "" : "s") \(names.joined(separator: ", ")) reset.")
        }

        /// The same on a Kafka cluster: the plan from the group's committed offsets and the partitions'
        /// offsets, applied with AlterConsumerGroupOffsets (which the cluster refuses while the group runs).
        private func reset(on cluster: KafkaCluster) throws {
            let groups = try allGroups ? cluster.groupNames() : group
            var plans: [OffsetResetPlan] = []
            for group in groups {
                let targets =
                    try targets()
                    ?? Set(try cluster.listCommitted(group).keys.map(\.topic)).sorted().map {
                        OffsetResetTarget(topic: $0)
                    }
                plans.append(try OffsetResetPlan.make(broker: cluster, group: group, targets: targets, spec: spec()))
            }
            Self.printTable(plans)
            guard execute else {
                print("This is the plan only; add --execute to apply it.")
                return
            }
            for plan in plans { try plan.execute(broker: cluster) }
            print("Offsets of group\(plans.count == 1 ? "" : "s") \(plans.map(\.group).joined(separator: ", ")) reset.")
        }

        static func printTable(_ plans: [OffsetResetPlan]) {
            var table = Table(["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"])
            for plan in plans {
                for row in plan.rows {
                    table.add([
                        plan.group, row.topicPartition.topic, "\(row.topicPartition.partition)",
                        row.current.map(String.init) ?? "-", "\(row.new)",
                    ])
                }
            }
            print(table.render())
        }
    }
}
