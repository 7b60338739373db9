import ArgumentParser
import SluiceBroker
import SluiceCore

/// `sluice sources …`
struct SourcesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sources",
        abstract: "List the sources' stored positions, or forget one so that its next run reads its files again.",
        discussion: """
            Examples:
              sluice sources list
              sluice sources reset orders --execute
            """,
        subcommands: [List.self, Reset.self]
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
            for name in broker.sourceNames() {
                let position = StoredSourcePosition(broker.sourceCheckpoint(name))
                table.add([name, "\(position.files)", "\(position.complete)"])
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

/// What the CLI reads of a source's stored checkpoint (written by the runtime's `SourceCheckpoint`): the
/// topics it wrote to, and the files its connector has read (for the CSV source). Unreadable parts
/// read as nothing.
struct StoredSourcePosition {
    var topics: [String] = []
    var files = 0
    var complete = 0

    init(_ checkpoint: [UInt8]?) {
        guard let checkpoint, let json = try? JSONValue.parse(checkpoint) else { return }
        if case .object(let partitions)? = json["partitions"] { topics = partitions.map(\.0).sorted() }
        if let connector = json["connector"]?.stringValue, let inner = try? JSONValue.parse(connector),
            case .array(let list)? = inner["files"]
        {
            files = list.count
            complete = list.filter { $0["complete"]?.boolValue == true }.count
        }
    }
}
