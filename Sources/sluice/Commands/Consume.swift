import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `sluice consume`
struct Consume: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a topic's records.",
        discussion: """
            Without --group it reads the data directory read-only (it works while another process \
            owns it) and starts every partition at its end, or where --from-beginning or --offset \
            says. With --group it joins that consumer group, starts at the group's committed offsets \
            and commits what it printed; that needs the data directory for writing.

            --offset (kcat's -o) takes beginning, end, an offset, -N for the last N records of \
            each partition, or, with --group, stored: the group's committed offsets, where a group \
            starts anyway; with --group, beginning and end say where a partition without a \
            committed offset starts. An offset outside a partition starts at its first record or \
            at its end.

            --format jsonl (the default) prints one object per record:
              {"topic":…,"partition":…,"offset":…,"timestamp":…,
               "key":…,"value":…,"headers":{…}}
            A value that is a JSON object or array is embedded as it is (on one line). Keys, \
            other values and \
            header values are strings when they are UTF-8, {"base64":"…"} otherwise, and null when \
            absent. --format value prints each value on a line of its own.

            Any other --format is a format string, as kcat's -f: %t topic, %p partition, %o offset, \
            %k key, %K key length (-1 when there is none), %s value, %S value length, %R value \
            length as 4 bytes big-endian, %T timestamp, %h headers (name=value,…), %% a percent \
            sign; \(TextEscapes.summary) are escapes. Nothing is added after a record: end the \
            string with \\n.

            Timestamps are milliseconds since the epoch; --timestamp-format iso8601 prints them \
            as 2026-11-21T10:30:00.123Z (UTC), in jsonl (as a string) and for %T.

            When the start at the end finds no new records, a hint on standard error says how many \
            are stored.

            Examples:
              sluice consume --topic orders --from-beginning
              sluice consume -t orders -p 2 -o -10 -f '%o %k %s\\n'
              sluice consume -t orders -o beginning -f value --max-messages 10
              sluice consume -t orders -o 500 -f '%T %h\\n' --timestamp-format iso8601
              sluice consume --topic orders --group audit --follow
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("t"), .long], help: "The topic to read.")
    var topic: String

    @Flag(help: "Start at the beginning of each partition (or of a group without commits).")
    var fromBeginning = false

    @Option(
        name: [.customShort("o"), .long], parsing: .unconditional,
        help: ArgumentHelp(
            "Where to start: beginning, end, stored, an offset, or -N for the last N.", valueName: "offset"),
        transform: { try parseArgument($0, ConsoleConsumer.StartOffset.init(parsing:)) })
    var offset: ConsoleConsumer.StartOffset?

    @Option(name: [.customShort("p"), .long], help: "Read only this partition (without --group).")
    var partition: Int32?

    @Option(help: "Consume as a member of this group and commit offsets.")
    var group: String?

    @Option(help: "Stop after this many records.")
    var maxMessages: Int?

    @Flag(help: "Keep waiting for new records instead of stopping at the end of the log.")
    var follow = false

    @Option(
        name: [.customShort("f"), .long],
        help: ArgumentHelp("jsonl (the default), value, or a format string such as '%k\\t%s\\n'.", valueName: "format"),
        transform: { try parseArgument($0, RecordFormat.init(parsing:)) })
    var format: RecordFormat = .jsonl

    @Option(help: "How to print timestamps: ms (since the epoch) or iso8601.")
    var timestampFormat: RecordPrinter.TimestampStyle = .ms

    func validate() throws {
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
        do {
            try consumer.checkOptions()
        } catch let error as RuntimeError {
            throw ValidationError(error.message)
        }
    }

    var consumer: ConsoleConsumer {
        var consumer = ConsoleConsumer(topic: topic)
        consumer.fromBeginning = fromBeginning
        consumer.offset = offset
        consumer.partition = partition
        consumer.group = group
        consumer.maxMessages = maxMessages
        consumer.follow = follow
        consumer.format = format
        consumer.timestampStyle = timestampFormat
        return consumer
    }

    func run() throws {
        let broker = try global.location.openPipelineBroker(readOnly: group == nil)
        let outcome = try consumer.run(broker: broker, output: BufferedOutput())
        if group != nil || !(broker is Broker) { try broker.close() }
        for note in outcome.notes { printToStandardError(note) }
    }
}

extension RecordPrinter.TimestampStyle: ExpressibleByArgument {}
