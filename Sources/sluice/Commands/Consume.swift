import ArgumentParser
import SluiceCore
import SluiceRuntime

/// `sluice consume`
struct Consume: ParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a topic's records.",
        discussion: """
            Without --group it reads the data directory read-only (it works while another process \
            owns it) and starts every partition at its end, or at its beginning with \
            --from-beginning. With --group it joins that consumer group, starts at the group's \
            committed offsets and commits what it printed; that needs the data directory for writing.

            --format jsonl prints one object per record:
              {"topic":…,"partition":…,"offset":…,"timestamp":…,
               "key":…,"value":…,"headers":{…}}
            with key, value and header values as strings when they are UTF-8, {"base64":"…"} \
            otherwise, null when absent, and the timestamp in epoch milliseconds.

            Examples:
              sluice consume --topic orders --from-beginning
              sluice consume --topic orders --from-beginning --format value --max-messages 10
              sluice consume --topic orders --group audit --follow
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The topic to read.")
    var topic: String

    @Flag(help: "Start at the beginning of each partition (or of a group without commits).")
    var fromBeginning = false

    @Option(help: "Consume as a member of this group and commit offsets.")
    var group: String?

    @Option(help: "Stop after this many records.")
    var maxMessages: Int?

    @Flag(help: "Keep waiting for new records instead of stopping at the end of the log.")
    var follow = false

    @Option(help: "jsonl (an object per record) or value (the raw value per line).")
    var format: ConsoleConsumer.Format = .jsonl

    func validate() throws {
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
    }

    func run() throws {
        let broker = try global.openBroker(readOnly: group == nil)
        var consumer = ConsoleConsumer(topic: topic)
        consumer.fromBeginning = fromBeginning
        consumer.group = group
        consumer.maxMessages = maxMessages
        consumer.follow = follow
        consumer.format = format
        _ = try consumer.run(broker: broker, output: BufferedOutput())
        if group != nil { try broker.close() }
    }
}

extension ConsoleConsumer.Format: ExpressibleByArgument {}
