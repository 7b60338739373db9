import ArgumentParser
import Glibc
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `sluice produce`
struct Produce: ParsableCommand, GlobalOptionsCommand, KafkaCapableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one record per line of standard input to a topic.",
        discussion: """
            A missing topic is created with the default settings, as Kafka does by default. With \
            --key-separator the text before the separator's first occurrence is the key; lines \
            without it have no key. Keyed records go to the partition their key's hash picks, as in \
            Kafka, and records without a key are spread over the partitions batch by batch, unless \
            --partition names the one partition for all of them.

            --key-separator takes the escapes \(TextEscapes.summary), as kcat does, so '\\t' splits \
            at a tab and '\\x1f' at the unit separator. -H name=value adds a header to every record, \
            as kcat's -H; repeat it for more. -Z sends an empty value as no value at all, a \
            tombstone, as kcat's -Z: a PostgreSQL sink in upsert mode deletes the row of its key.

            Examples:
              echo hello | sluice produce --topic greetings
              printf 'k1|one\\nk2|two\\n' | sluice produce -t orders --key-separator '|'
              sluice produce -t orders --key-separator '\\t' < orders.tsv
              sluice produce -t events -p 0 -H source=import -H v=2 < events.jsonl
              printf 'k1|\\n' | sluice produce -t orders --key-separator '|' -Z
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.customShort("t"), .long], help: "The topic to write to.")
    var topic: String

    @Option(
        help: ArgumentHelp(
            "Split each line into key and value at the first occurrence of this text (escapes allowed).",
            valueName: "key-separator"),
        transform: { try parseArgument($0, TextEscapes.decode) })
    var keySeparator: [UInt8]?

    @Option(name: [.customShort("p"), .long], help: "Write every record to this partition, which must exist.")
    var partition: Int32?

    @Option(
        name: [.customShort("H"), .customLong("header")],
        help: ArgumentHelp("Add this header (name=value) to every record; repeatable.", valueName: "name=value"),
        transform: { try parseArgument($0, ConsoleProducer.parseHeader) })
    var headers: [Header] = []

    @Flag(name: [.customShort("Z"), .customLong("empty-as-null")], help: "Send an empty value as a tombstone.")
    var emptyAsNull = false

    func validate() throws {
        if keySeparator?.isEmpty == true { throw ValidationError("--key-separator cannot be empty") }
        if let partition, partition < 0 { throw ValidationError("--partition must be 0 or more") }
    }

    func run() throws {
        let broker = try global.location.openPipelineBroker(readOnly: false)
        let input = try SystemFile.open("/dev/stdin", .readOnly)
        var producer = ConsoleProducer(topic: topic, keySeparator: keySeparator)
        producer.partition = partition
        producer.headers = headers
        producer.emptyAsNull = emptyAsNull
        let outcome = try producer.run(broker: broker, input: input)
        // The topic's retention applies after each produce, as it would in a running broker.
        _ = try (broker as? Broker)?.applyRetention()
        try broker.close()
        let (count, target) = (outcome.sent, partition.map { "\(topic) partition \($0)" } ?? topic)
        printToStandardError("Produced \(count) record\(count == 1 ? "" : "s") to \(target).")
        for note in outcome.notes { printToStandardError(note) }
    }
}

/// Turns the runtime's parse error into an argument error, so that it is reported with the option and
/// the value and exits 2.
func parseArgument<Value>(_ text: String, _ parser: (String) throws -> Value) throws -> Value {
    do {
        return try parser(text)
    } catch let error as RuntimeError {
        throw ValidationError(error.message)
    }
}
