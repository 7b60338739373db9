import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `sluice dlq …`
struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Work with dead-letter topics: replay letters into the topics they came from.",
        discussion: """
            Examples:
              sluice dlq replay --topic pg.dlq
              sluice dlq replay --topic pg.dlq --error-class record --execute
            """,
        subcommands: [Replay.self]
    )

    struct Replay: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Produce dead-lettered records again into the topics they came from, once the cause is fixed.",
            discussion: """
                Prints the plan: how many letters of the dead-letter topic go back to which topic, by \
                error class. With --execute it produces them, without the headers that say what failed \
                and with sluice.replayed_from (DLQ:PARTITION:OFFSET); every sink that reads the topic \
                gets them again. Each letter is replayed once: what was replayed is stored, so running \
                it again (or after a kill) replays only letters not replayed yet. A source's dead \
                letters (rows that could not be read) are not replayable: fix the row in its file.

                Examples:
                  sluice dlq replay --topic pg.dlq
                  sluice dlq replay -t pg.dlq --error-class record --from-offset 100 \\
                      --execute
                """
        )

        @OptionGroup var global: GlobalOptions

        @Option(name: [.customShort("t"), .long], help: "The dead-letter topic.")
        var topic: String

        @Option(name: .customLong("error-class"), help: "Only letters of this error class; repeatable.")
        var errorClasses: [String] = []

        @Option(help: "Only letters in this partition of the dead-letter topic.")
        var partition: Int32?

        @Option(name: .customLong("from-offset"), help: "Only letters at or after this offset.")
        var fromOffset: Int64?

        @Option(name: .customLong("to-offset"), help: "Only letters at or before this offset.")
        var toOffset: Int64?

        @Flag(help: "Replay; without it the plan is only printed.")
        var execute = false

        func validate() throws {
            if let fromOffset, let toOffset, fromOffset > toOffset {
                throw ValidationError("--from-offset \(fromOffset) is after --to-offset \(toOffset)")
            }
            if let partition, partition < 0 { throw ValidationError("--partition cannot be negative") }
        }

        func run() throws {
            let broker = try global.openBroker(readOnly: !execute)
            var filter = DeadLetterReplay.Filter()
            filter.errorClasses = Set(errorClasses)
            filter.partition = partition
            filter.fromOffset = fromOffset
            filter.toOffset = toOffset
            let plan = try DeadLetterReplay.plan(broker: broker, topic: topic, filter: filter)
            if plan.rows.isEmpty {
                print("Nothing to replay from \(topic).")
            } else {
                var table = Table(["TOPIC", "ERROR CLASS", "RECORDS"])
                for row in plan.rows { table.add([row.topic, row.errorClass, "\(row.count)"]) }
                print(table.render())
            }
            if plan.alreadyReplayed > 0 || plan.notReplayable > 0 {
                print(
                    "\(plan.alreadyReplayed) already replayed; \(plan.notReplayable) not replayable (a source's "
                        + "bad rows, or a topic that no longer exists).")
            }
            guard execute else {
                if plan.count > 0 { print("This is the plan only; add --execute to replay.") }
                return
            }
            let count = try plan.execute(broker: broker)
            try broker.close()
            if count > 0 {
                let topics = Set(plan.rows.map(\.topic)).sorted().joined(separator: ", ")
                print("Replayed \(count) records into \(topics); every sink that reads it gets them again.")
            }
        }
    }
}
