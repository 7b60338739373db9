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
              sluice connectors install connectors/examples/sqlite_sink.py
            """,
        subcommands: [List.self, Describe.self, ConnectorTest.self, ConnectorNew.self, Install.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the connector types.",
            discussion: "Example:\n  sluice connectors list"
        )

        @OptionGroup var global: GlobalOptions

        func run() throws {
            var table = Table(["TYPE", "KIND", "SUMMARY"])
            for spec in BuiltInConnectors.registry.specs { table.add([spec.type, spec.kind.rawValue, spec.summary]) }
            let folders = InstalledConnectors.folders(
                dataDirectory: try global.location.resolve().path, environment: ProcessEnvironment.current())
            for manifest in InstalledConnectors.all(in: folders) {
                table.add([
                    manifest.name, manifest.role.rawValue,
                    "\(manifest.summary) (installed: \(manifest.command.joined(separator: " ")))",
                ])
            }
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
                  sluice connectors describe sqlite --data-dir data
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

        @OptionGroup var global: GlobalOptions

        func run() throws {
            let spec = try ConnectorLookup.find(
                type: type, command: command, dataDirectory: try global.location.resolve().path
            ).spec
            if markdown {
                print(ConnectorHelp.markdownTable(spec))
                return
            }
            print("\(spec.type) (\(spec.kind.rawValue)): \(spec.summary)\n")
            print(ConnectorHelp.optionsTable(spec))
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install an external connector under a name, so that a config can say \"type\": NAME.",
            discussion: """
                PATH is a connector program: a Python script (run by python3), an executable, or a project folder \
                that `sluice connectors new` wrote (its connector.py, or its program built under .build). Sluice \
                starts it to learn its name, role and options, and writes a manifest in the data directory's \
                connectors folder. A config whose data_dir is that directory can then say "type": NAME. Sluice \
                also searches the folders in $SLUICE_CONNECTOR_PATH (separated by :) for manifests NAME.json, \
                for connectors shared between data directories.

                Examples:
                  sluice connectors install connectors/examples/sqlite_sink.py
                  sluice connectors install ./my-sink --name audit --data-dir data
                """
        )

        @Argument(help: "The connector program or project folder.")
        var path: String

        @Option(help: "The type name configs use (default: the name the connector declares).")
        var name: String?

        @OptionGroup var global: GlobalOptions

        func run() throws {
            guard let command = InstalledConnectors.command(for: path) else {
                throw CommandFailure.usage(
                    "\(path) is not a connector program: expected a .py script, an executable, or a project folder "
                        + "with connector.py or a program built under .build")
            }
            if let name, BuiltInConnectors.registry.spec(type: name) != nil {
                throw CommandFailure.usage("\"\(name)\" is a built-in connector type; choose another --name")
            }
            let directory = try global.location.resolve().path
            let manifest: InstalledConnectors.Manifest
            do {
                manifest = try InstalledConnectors.install(
                    command: command, name: name, folder: directory + "/connectors")
            } catch let error as ConnectorError {
                throw CommandFailure.runtime(error.message)
            }
            if BuiltInConnectors.registry.spec(type: manifest.name) != nil {
                try? FileSystem.removeFile(manifest.file)
                throw CommandFailure.usage(
                    "\"\(manifest.name)\" is a built-in connector type; choose another with --name")
            }
            print("Installed \(manifest.name) (\(manifest.role.rawValue)) in \(manifest.file):")
            print(
                "  \"type\": \"\(manifest.name)\" in a config with data_dir \(directory) runs \(command.joined(separator: " "))"
            )
        }
    }
}
