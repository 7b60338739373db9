import ArgumentParser
import SluiceCore
import SluiceRuntime

/// `sluice validate`
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a config file without running it.",
        discussion: """
            Prints every problem with its path in the file (sources.orders.delimiter), or what the \
            config would run. Exit code 0 when valid, 2 otherwise.

            Examples:
              sluice validate
              sluice validate pipelines/orders.json
            """
    )

    @Argument(help: "The config file.")
    var config = "config.json"

    func run() throws {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        let loaded = try loader.load(path: config)
        print("\(config) is valid.")
        print("Data directory: \(loaded.dataDirectory)")
        for source in loaded.sources {
            print(
                "Source \(source.name) (\(source.type)) → topic \(source.topic), dead letters → \(source.deadLetterTopic)"
            )
        }
        for sink in loaded.sinks {
            print(
                "Sink \(sink.name) (\(sink.type)) ← topic\(sink.topics.count == 1 ? "" : "s") "
                    + "\(sink.topics.joined(separator: ", ")), group \(sink.group), \(sink.tasks) task\(sink.tasks == 1 ? "" : "s"), "
                    + "dead letters → \(sink.deadLetterTopic)")
        }
        let declared = Set(loaded.topics.map(\.name))
        for name in loaded.allTopics {
            let partitions = loaded.topics.first(where: { $0.name == name })?.config.partitions
            print(
                "Topic \(name): "
                    + (declared.contains(name) ? "\(partitions ?? 1) partition(s)" : "created with defaults if missing")
            )
        }
    }
}
