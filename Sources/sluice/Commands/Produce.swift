import ArgumentParser
import Glibc
import SluiceCore
import SluiceRuntime

/// `sluice produce`
struct Produce: ParsableCommand, GlobalOptionsCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one record per line of standard input to a topic.",
        discussion: """
            A missing topic is created with the default settings, as Kafka does by default. With \
            --key-separator the text before the separator's first occurrence is the key; lines \
            without it have no key and are spread over the partitions batch by batch.

            Examples:
              echo hello | sluice produce --topic greetings
              printf 'k1|one\\nk2|two\\n' | sluice produce --topic orders --key-separator '|'
              sluice produce --topic events < events.jsonl
            """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "The topic to write to.")
    var topic: String

    @Option(help: "Split each line into key and value at the first occurrence of this text.")
    var keySeparator: String?

    func validate() throws {
        if keySeparator?.isEmpty == true { throw ValidationError("--key-separator cannot be empty") }
    }

    func run() throws {
        let broker = try global.openBroker(readOnly: false)
        let input = try SystemFile.open("/dev/stdin", .readOnly)
        let count = try ConsoleProducer(topic: topic, keySeparator: keySeparator).run(broker: broker, input: input)
        // The topic's retention applies after each produce, as it would in a running broker.
        try broker.applyRetention()
        try broker.close()
        printToStandardError("Produced \(count) record\(count == 1 ? "" : "s") to \(topic).")
    }
}
