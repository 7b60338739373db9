import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceDaemon
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
                letters (rows that could not be read) are not replayable: fix the row in its file. \
                While a daemon works on the data directory, the replay goes through its admin API \
                (POST /v1/dlq/replay), with the token in SLUICE_ADMIN_TOKEN.

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
            var filter = DeadLetterReplay.Filter()
            filter.errorClasses = Set(errorClasses)
            filter.partition = partition
            filter.fromOffset = fromOffset
            filter.toOffset = toOffset
            if let daemon = try runningDaemon() {
                // The daemon holds the data directory: it replays, through its admin API.
                print(try replay(through: daemon, filter).render())
                return
            }
            let broker = try global.openBroker(readOnly: !execute)
            let plan = try DeadLetterReplay.plan(broker: broker, topic: topic, filter: filter)
            let replayed = execute ? try plan.execute(broker: broker) : nil
            try broker.close()
            print(DeadLetterReplay.Report(plan, replayed: replayed).render())
        }

        /// The admin API of the daemon working on the data directory, if one runs.
        private func runningDaemon() throws -> AdminClient? {
            guard let directory = try? global.location.resolve().path,
                let address = try? AdminClient.address(dataDirectory: directory)
            else { return nil }
            let token = ProcessEnvironment.current()["SLUICE_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AdminClient(address: address, token: token)
        }

        private func replay(through daemon: AdminClient, _ filter: DeadLetterReplay.Filter) throws
            -> DeadLetterReplay.Report
        {
            var members: [(String, JSONValue)] = [("topic", .string(topic)), ("execute", .bool(execute))]
            if !filter.errorClasses.isEmpty {
                members.append(("error_classes", .array(filter.errorClasses.sorted().map(JSONValue.string))))
            }
            if let partition { members.append(("partition", .number(String(partition)))) }
            if let fromOffset { members.append(("from_offset", .number(String(fromOffset)))) }
            if let toOffset { members.append(("to_offset", .number(String(toOffset)))) }
            let answer: (status: Int, body: String)
            do {
                answer = try daemon.request(
                    "POST", "/v1/dlq/replay", body: Array(JSONValue.object(members).serialized().utf8))
            } catch let error as AdminError {
                throw CommandFailure.runtime(error.description)
            }
            let json = try? JSONValue.parse(Array(answer.body.utf8))
            guard answer.status == 200, let json, let report = DeadLetterReplay.Report(json: json) else {
                throw CommandFailure.runtime(
                    json?["error"]?.stringValue ?? "the daemon answered \(answer.status): \(answer.body)")
            }
            return report
        }
    }
}

extension DeadLetterReplay.Report {
    /// The report as `sluice dlq replay` prints it.
    public func render() -> String {
        var lines: [String] = []
        if rows.isEmpty {
            lines.append("Nothing to replay from \(deadLetterTopic).")
        } else {
            var table = Table(["TOPIC", "ERROR CLASS", "RECORDS"])
            for row in rows { table.add([row.topic, row.errorClass, "\(row.count)"]) }
            lines.append(table.render())
        }
        if alreadyReplayed > 0 || notReplayable > 0 {
            lines.append(
                "\(alreadyReplayed) already replayed; \(notReplayable) not replayable (a source's "
                    + "bad rows, or a topic that no longer exists).")
        }
        if let replayed {
            if replayed > 0 {
                let topics = Set(rows.map(\.topic)).sorted().joined(separator: ", ")
                lines.append(
                    "Replayed \(replayed) records into \(topics); every sink that reads it gets them again.")
            }
        } else if planned > 0 {
            lines.append("This is the plan only; add --execute to replay.")
        }
        return lines.joined(separator: "\n")
    }
}
