import ArgumentParser
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `sluice sources …`
struct SourcesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources",
        abstract: "List the sources' stored positions, or forget one so that its next run reads its files again.",
        discussion: """
            Examples:
              sluice sources list
              sluice sources files orders --config pipeline.json
              sluice sources reset orders --execute
            """,
        subcommands: [List.self, Files.self, Reset.self]
    )

    struct List: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the sources with a stored position and what it holds.",
            discussion: "Example:\n  sluice sources list"
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let broker = try global.openBroker(readOnly: true)
            var table = Table(["SOURCE", "FILES", "READ TO THE END"])
            for name in broker.sourceNames() where !name.hasPrefix("__") {
                let position = StoredSourcePosition(broker.sourceCheckpoint(name))
                table.add([name, "\(position.files.count)", "\(position.complete)"])
            }
            print(table.render())
        }
    }

    struct Files: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a source's files and where reading each stands: its ledger.",
            discussion: """
                Each file the source's stored position names: reading (more of it to read), waiting (read \
                but for a last row without its line break), done, gone (deleted or moved since, as \
                after_read does) or replaced (another file has its name now and is read from its start). \
                With --config, also the files its path matches that it has not read yet (new). READ is \
                bytes read and stored (of the inflated stream for gzip), LINE the line the next row \
                starts on. The daemon serves the same as GET /v1/sources/NAME/files.

                Examples:
                  sluice sources files orders --config pipeline.json
                  sluice sources files orders --json
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The source's name in the config.")
        var source: String

        @Flag(help: "Print JSON (one object with the files) instead of a table.")
        var json = false

        func run() throws {
            var pattern: String?
            var marker: String?
            if let file = global.configFile {
                let loader = ConfigLoader(
                    registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
                let config = try loader.load(path: file)
                guard let definition = config.sources.first(where: { $0.name == source }) else {
                    throw CommandFailure.usage("\(file) has no source \"\(source)\"")
                }
                pattern = definition.options.string("path")
                marker = definition.options.string("done_marker")
            }
            let broker = try global.openBroker(readOnly: true)
            let checkpoint = broker.sourceCheckpoint(source)
            guard checkpoint != nil || pattern != nil else {
                throw CommandFailure.runtime(
                    "source \"\(source)\" has no stored position (give --config to list the files it would read)")
            }
            let files = StoredSourcePosition(checkpoint).ledger(pattern: pattern, doneMarker: marker)
            if json {
                print(
                    JSONValue.object([("source", .string(source)), ("files", .array(files.map(\.json)))]).serialized())
                return
            }
            var table = Table(["PATH", "STATE", "READ", "LINE", "SIZE", "NOTE"])
            for file in files {
                table.add([
                    file.path, file.state.rawValue, "\(file.offset)", "\(file.line)", file.size.map { "\($0)" } ?? "-",
                    file.reason ?? "",
                ])
            }
            print(table.render())
        }
    }

    struct Reset: ParsableCommand, GlobalOptionsCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a source's stored position; its next run reads every file from the start.",
            discussion: """
                The next run reads every file again but stores only rows whose records its topics do not \
                hold already (it knows them by their sluice.source.file and line headers): after the \
                topic was deleted and created anew, everything is read into it again; otherwise a reset \
                costs a re-read and duplicates nothing. Without --execute it only says what it would do.

                Example:
                  sluice sources reset orders --execute
                """
        )

        @OptionGroup var global: GlobalOptions

        @Argument(help: "The source's name in the config.")
        var source: String

        @Flag(help: "Forget the position; without it nothing changes.")
        var execute = false

        func run() throws {
            let broker = try global.openBroker(readOnly: !execute)
            guard broker.sourceCheckpoint(source) != nil else {
                throw CommandFailure.runtime("source \"\(source)\" has no stored position")
            }
            guard execute else {
                print("Would forget the stored position of source \(source); add --execute to do it.")
                return
            }
            try broker.deleteSourceCheckpoint(source)
            try broker.close()
            print(
                "Forgot the stored position of source \(source); its next run reads every file again and stores "
                    + "the rows its topic does not already hold.")
        }
    }
}
