import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceRuntime

/// `sluice groups …`
struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, describe and delete consumer groups and reset their offsets.",
        discussion: """
            Each command takes the group as its argument or, as kafka-consumer-groups takes it, \
            with --group.

            Examples:
              sluice groups list
              sluice groups describe orders-files
              sluice groups describe --all-groups --config pipeline.json
              sluice groups reset-offsets --group files --topic orders --to-earliest
              sluice groups reset-offsets --group g --topic orders:0,1 --shift-by -100
              sluice groups delete --group old-audit
            """,
        subcommands: [List.self, Describe.self, ResetOffsets.self, Delete.self]
    )

    struct List: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the consumer groups.",
            discussion: "Example:\n  sluice groups list"
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            if let cluster = try global.location.kafkaCluster() {
                for name in try cluster.groupNames() { print(name) }
                return
            }
            let broker = try global.openBroker(readOnly: true)
            for name in broker.groupNames() { print(name) }
        }
    }

    struct Describe: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a group's committed offsets, end offsets, lag and members per partition.",
            discussion: """
                Every partition of each topic the group has committed on or owns is shown. One without \
                a commit shows CURRENT-OFFSET "-" and counts in the lag from its first stored offset. \
                It works while a run holds the data directory, and shows the running group's members.

                Examples:
                  sluice groups describe orders-files
                  sluice groups describe --group orders-files --config pipeline.json
                  sluice groups describe --all-groups
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The groups.", valueName: "group"))
        var names: [String] = []

        @Option(name: .customLong("group"), help: "A group, as kafka-consumer-groups takes it; repeatable.")
        var groupOptions: [String] = []

        @Flag(help: "Describe every group.")
        var allGroups = false

        func validate() throws {
            try GroupSelection.check(names + groupOptions, allGroups: allGroups)
        }

        func run() throws {
            if let cluster = try global.location.kafkaCluster() {
                try describe(cluster)
                return
            }
            let broker = try global.openBroker(readOnly: true)
            // A group the config runs, or one with members now, exists before its first commit.
            let configured = global.location.configuredGroups()
            let present = Set(configured.keys).union(broker.groupsWithMembers())
            let named = (names + groupOptions).filter { !present.contains($0) }
            _ = try GroupSelection.groups(named, allGroups: false, broker: broker)
            let groups =
                allGroups
                ? Array(Set(broker.groupNames()).union(present)).sorted()
                : try GroupSelection.groups(names + groupOptions, allGroups: false, mustExist: false, broker: broker)
            for (index, group) in groups.enumerated() {
                if index > 0 { print("") }
                let description = try broker.describeGroup(group, topics: configured[group] ?? [])
                let generation = description.generation.map { " generation \($0)" } ?? ""
                print(
                    "Group \(group): \(description.state)\(generation), \(description.members.count) member(s), "
                        + "total lag \(description.totalLag)")
                var table = Table(["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER"])
                for row in description.partitions {
                    table.add([
                        row.topicPartition.topic, "\(row.topicPartition.partition)",
                        row.committed.map(String.init) ?? "-", "\(row.endOffset)", "\(row.lag ?? 0)", row.member ?? "-",
                    ])
                }
                print(table.render())
            }
        }

        /// A group on a Kafka cluster: its committed offsets against the partitions' ends (its members are
        /// the cluster's to show: kafka-consumer-groups --describe --members).
        private func describe(_ cluster: KafkaCluster) throws {
            guard !allGroups else {
                throw CommandFailure.usage("--all-groups works on a data directory; on a Kafka cluster name the groups")
            }
            let configured = global.location.configuredGroups()
            for (index, group) in (names + groupOptions).enumerated() {
                let committed = try cluster.listCommitted(group)
                let topics = Set(committed.keys.map(\.topic)).union(configured[group] ?? []).sorted()
                guard !topics.isEmpty else {
                    throw CommandFailure.runtime("group \"\(group)\" has committed no offsets on the Kafka cluster")
                }
                let rows = try cluster.lag(group: group, topics: topics)
                if index > 0 { print("") }
                print("Group \(group): on the Kafka cluster, total lag \(rows.reduce(0) { $0 + ($1.lag ?? 0) })")
                var table = Table(["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"])
                for row in rows {
                    table.add([
                        row.topicPartition.topic, "\(row.topicPartition.partition)",
                        row.committed.map(String.init) ?? "-", "\(row.endOffset)", "\(row.lag ?? 0)",
                    ])
                }
                print(table.render())
            }
        }
    }

    struct Delete: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete consumer groups: forget their committed offsets.",
            discussion: """
                A group that is running is refused: stop what consumes in it first. Deleting writes to \
                the data directory, so while another process (a run) holds it, it is refused too, with \
                the command to run again once that process has ended.

                Examples:
                  sluice groups delete old-audit
                  sluice groups delete --group old-audit --config pipeline.json
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: ArgumentHelp("The groups.", valueName: "group"))
        var names: [String] = []

        @Option(name: .customLong("group"), help: "A group, as kafka-consumer-groups takes it; repeatable.")
        var groupOptions: [String] = []

        func validate() throws {
            try GroupSelection.check(names + groupOptions, allGroups: false)
        }

        func run() throws {
            let groups = try GroupSelection.checkedIdle(names + groupOptions, global: global)
            let broker = try global.openBroker(readOnly: false)
            for group in groups {
                try broker.deleteGroup(group)
                print("Deleted consumer group \(group).")
            }
            try broker.close()
        }
    }
}

/// Which groups a command works on: those named (as arguments or with --group), or --all-groups.
enum GroupSelection {
    static func check(_ named: [String], allGroups: Bool) throws {
        if allGroups && !named.isEmpty { throw ValidationError("give groups or --all-groups, not both") }
        if !allGroups && named.isEmpty { throw ValidationError("give a group (or --group NAME, or --all-groups)") }
    }

    /// The groups, in the order named without repeats. Each must exist unless `mustExist` is false:
    /// as with kafka-consumer-groups, offsets may be reset for a group that has none yet.
    static func groups(_ named: [String], allGroups: Bool, mustExist: Bool = true, broker: Broker) throws -> [String] {
        let known = broker.groupNames()
        if allGroups { return known }
        var seen = Set<String>()
        let groups = named.filter { seen.insert($0).inserted }
        for group in groups where mustExist && !known.contains(group) {
            let hint = Suggestion.closest(to: group, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
            throw BrokerError(
                .groupNotFound, "consumer group \"\(group)\" does not exist (it has no committed offsets)\(hint)")
        }
        return groups
    }

    /// The groups, after checking, without writing, that each exists (see `groups`) and that none runs
    /// in the process that holds the data directory: changing a running group's offsets behind its back
    /// would be lost at its next commit, so such a change is refused with what to do instead.
    static func checkedIdle(
        _ named: [String], allGroups: Bool = false, mustExist: Bool = true, global: GlobalOptions
    ) throws -> [String] {
        let reader = try global.openBroker(readOnly: true)
        let groups = try groups(named, allGroups: allGroups, mustExist: mustExist, broker: reader)
        let holder = DirectoryLock.holder(ofDirectory: reader.dataDirectory)
        for group in groups {
            let members = try reader.describeGroup(group).members
            guard !members.isEmpty else { continue }
            throw CommandFailure.runtime(
                "group \(group) is running: its member\(members.count == 1 ? "" : "s") "
                    + "\(members.joined(separator: ", ")) consume\(members.count == 1 ? "s" : "") in "
                    + "\(holder?.description ?? "another process"), "
                    + "which holds \(reader.dataDirectory); a group's offsets change only while it is stopped. "
                    + "When that process has ended "
                    + "(\(holder.map { "`kill -INT \($0.pid)`" } ?? "Ctrl-C") stops Sluice cleanly), run again:\n  "
                    + SluiceMain.commandLine)
        }
        return groups
    }
}
