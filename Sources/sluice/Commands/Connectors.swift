import ArgumentParser
import SluiceCore
import SluiceKit
import SluiceRuntime

/// `sluice connectors …`
struct Connectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the connector types and describe their options.",
        discussion: "Examples:\n  sluice connectors list\n  sluice connectors describe csv",
        subcommands: [List.self, Describe.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the connector types.",
            discussion: "Example:\n  sluice connectors list"
        )

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
