import ArgumentParser
import SluiceCore
import SluiceExec
import SluiceKit
import SluiceRuntime

/// `sluice connectors …`
struct Connectors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the connector types and describe their options.",
        discussion: """
            Examples:
              sluice connectors list
              sluice connectors describe csv
              sluice connectors test exec --command "python3 sink.py" --config t.json
              sluice connectors new my-sink --language python --role sink
            """,
        subcommands: [List.self, Describe.self, ConnectorTest.self, ConnectorNew.self]
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
            discussion: """
                Examples:
                  sluice connectors describe csv
                  sluice connectors describe exec --command "python3 my_sink.py"
                """
        )

        @Argument(help: "The connector type.")
        var type: String

        @Option(
            help: ArgumentHelp(
                "For an external connector (exec): its program and arguments, separated by spaces; the program is "
                    + "started to learn the options it declares.", valueName: "program args"))
        var command: String?

        @Flag(help: "Print the options as the Markdown table of the connector's README.")
        var markdown = false

        func run() throws {
            let registry = BuiltInConnectors.registry
            guard var spec = registry.spec(type: type) else {
                let known = registry.specs.map(\.type)
                let hint = Suggestion.closest(to: type, in: known).map { "did you mean \"\($0)\"? " } ?? ""
                throw CommandFailure.usage(
                    "unknown connector type \"\(type)\"; \(hint)known: \(known.joined(separator: ", "))")
            }
            if let command {
                guard type == "exec" else { throw CommandFailure.usage("--command is for external connectors (exec)") }
                let words = command.split(separator: " ").map(String.init)
                guard !words.isEmpty else { throw CommandFailure.usage("--command: name the program to start") }
                var found: ConnectorSpec?
                var problems: [String] = []
                for kind in [ConnectorSpec.Kind.source, .sink] {
                    switch ExecConnector.spec(kind, command: words, path: "--command") {
                    case .success(let resolved): found = resolved
                    case .failure(let problem): problems.append(problem.message)
                    }
                    if found != nil { break }
                }
                guard let found else { throw CommandFailure.runtime(problems.last ?? "cannot describe \(command)") }
                spec = found
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
