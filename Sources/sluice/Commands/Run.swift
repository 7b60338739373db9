import ArgumentParser
import Logging
import SluiceCore
import SluiceKit
import SluiceRuntime

/// `sluice run`
struct Run: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline config to completion: read every source, then print a summary.",
        discussion: """
            Reads every source's input into its topic (bad rows into its dead-letter topic) while the \
            sinks write what arrives, waits until every sink group has committed everything, then \
            prints a summary and exits. A second run reads only what is new: files already read to \
            their end are skipped, files that grew are read from where they stopped. A run killed at \
            any moment and started again neither repeats nor loses a row.

            Progress goes to standard error: a line that updates in place on a terminal, a plain \
            line every few seconds otherwise. Exit codes: 0 success, 1 runtime failure, 2 config error, \
            3 dead-lettered records with --fail-on-dead-letters.

            Examples:
              sluice run
              sluice run pipelines/orders.json --log-level info
            """
    )

    @Argument(help: "The config file.")
    var config = "config.json"

    @Flag(help: "Exit with code 3 when any record was dead-lettered, by a source or a sink.")
    var failOnDeadLetters = false

    @OptionGroup var log: LogOptions

    var logLevel: Logger.Level { log.logLevel }

    func run() throws {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        let pipelineConfig = try loader.load(path: config)
        let pipeline = Pipeline(config: pipelineConfig, logger: Logger(label: "sluice"))
        let terminal = standardErrorIsTerminal
        defer { StatusLine.clear() }
        let summary = try pipeline.run(progressIntervalMillis: terminal ? 500 : 5000) { line in
            if terminal {
                StatusLine.show(line)
            } else {
                printToStandardError(line)
            }
        }
        StatusLine.clear()
        print(summary.render())
        if failOnDeadLetters && summary.deadLettered > 0 {
            throw CommandFailure(
                message: "\(summary.deadLettered) record(s) were dead-lettered (--fail-on-dead-letters)", exitCode: 3)
        }
    }
}

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

/// `sluice connectors …`
struct Connectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the connector types and describe their options.",
        discussion: "Examples:\n  sluice connectors list\n  sluice connectors describe csv",
        subcommands: [List.self, Describe.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the connector types.")

        func run() {
            var table = Table(["TYPE", "KIND", "SUMMARY"])
            for spec in BuiltInConnectors.registry.specs { table.add([spec.type, spec.kind.rawValue, spec.summary]) }
            print(table.render())
        }
    }

    struct Describe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a connector's options: name, type, default and meaning.",
            discussion: "Example:\n  sluice connectors describe csv"
        )

        @Argument(help: "The connector type.")
        var type: String

        @Flag(help: "Print the options as the Markdown table of the connector's README.")
        var markdown = false

        func run() throws {
            let registry = BuiltInConnectors.registry
            guard let spec = registry.spec(type: type) else {
                let known = registry.specs.map(\.type)
                let hint = Suggestion.closest(to: type, in: known).map { "did you mean \"\($0)\"? " } ?? ""
                throw CommandFailure.usage(
                    "unknown connector type \"\(type)\"; \(hint)known: \(known.joined(separator: ", "))")
            }
            if markdown {
                print(ConnectorHelp.markdownTable(spec))
                return
            }
            print("\(spec.type) (\(spec.kind.rawValue)): \(spec.summary)\n")
            print(ConnectorHelp.optionsTable(spec))
        }
    }
}
