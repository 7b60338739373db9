import ArgumentParser
import Logging
import SluiceCore
import SluiceExec
import SluiceKit
import SluiceKitTesting
import SluiceRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice connectors test`: runs a connector through the delivery contract and prints a report.
struct ConnectorTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Check that a connector keeps the delivery contract, also when it is killed.",
        discussion: """
            Runs the connector as Sluice would, with the options in --config (a JSON object of its options), \
            and prints each check: its declaration and option errors named by option; a source read to the \
            end, opened again at stored positions, and killed at random moments; a sink given batches, \
            redeliveries, revocations and kills, every record accounted for; for an external connector, \
            malformed protocol messages. Exits 0 when every check passes, 1 otherwise.

            A source needs input to read: point its options at some. A sink is given generated records \
            ({"id": N, "name": "record N", "amount": N.5}, keyed by id) on two partitions of the topic \
            "conformance".

            Examples:
              sluice connectors test exec --command "python3 my_source.py" \\
                --config options.json
              sluice connectors test csv --config csv-options.json
            """
    )

    @Argument(help: "The connector type: a built-in one, an installed one, or exec with --command.")
    var type: String

    @Option(
        help: ArgumentHelp("For exec: the program and its arguments, separated by spaces.", valueName: "program args"))
    var command: String?

    @Option(help: ArgumentHelp("A JSON file holding the connector's options.", valueName: "file"))
    var config: String?

    @Option(help: "How many times to kill the connector in each kill check.")
    var kills = 20

    @OptionGroup var directory: DataDirectoryOptions

    func run() throws {
        var logger = Logger(label: "sluice.connectors.test")
        logger.logLevel = .warning
        let registry = BuiltInConnectors.registry
        let found = try ConnectorLookup.find(
            type: type, command: command,
            dataDirectory: try DataLocation(directory, configFile: nil).resolve().path)
        let spec = found.spec
        let words = found.command ?? []
        let makeType = found.registryType
        var members: [(key: String, value: JSONValue)] = []
        // Relative paths in the options are taken from the options file's folder, as in a config file.
        var base = FileSystem.absolute(".")
        if let config {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(config) } catch {
                throw CommandFailure.usage("cannot read \(config): \(error)")
            }
            guard case .object(let given)? = try? JSONValue.parse(bytes) else {
                throw CommandFailure.usage("\(config): expected a JSON object of the connector's options")
            }
            members = given
            base = FileSystem.parentDirectory(of: FileSystem.absolute(config))
        }
        for index in members.indices {
            if members[index].key == "path", case .string(let text) = members[index].value, !text.hasPrefix("/") {
                members[index].value = .string(base + "/" + text)
            }
        }
        if found.command != nil {
            members.append(("command", .array(words.map { .string($0) })))
            if !members.contains(where: { $0.key == ExecConnector.workingDirectory.name }) {
                members.append((ExecConnector.workingDirectory.name, .string(base)))
            }
        }
        let (options, problems) = spec.validate(members, path: "config")
        guard problems.isEmpty else {
            throw CommandFailure.usage(
                "the options do not validate:\n" + problems.map { "  \($0.description)" }.joined(separator: "\n"))
        }

        var suite = ConformanceSuite(logger: logger)
        suite.kills = kills
        print(
            "Checking \(type == "exec" ? command ?? "" : type) (\(spec.kind.rawValue))"
        )
        suite.checkDeclaration(spec, given: members)
        if found.command != nil {
            suite.checkProtocol(command: words, role: spec.kind, probe: ExternalConnectors.probeMalformedMessages)
        }
        switch spec.kind {
        case .source:
            let make = registry.sources[makeType]?.make
            suite.checkSource(
                open: { checkpoint in
                    let context = SourceContext(
                        name: "conformance", options: options, logger: logger, checkpoint: checkpoint)
                    guard let make else { throw CommandFailure.usage("no source \(type)") }
                    return try make(context)
                },
                crash: { source in
                    (source as? ExecSource)?.killConnector()
                    (source as? any Source)?.close()
                })
        case .sink:
            let make = registry.sinks[makeType]?.make
            suite.checkSink(
                topic: "conformance",
                open: {
                    let context = SinkContext(
                        name: "conformance", task: 0, group: "conformance", options: options, topics: ["conformance"],
                        logger: logger)
                    guard let make else { throw CommandFailure.usage("no sink \(type)") }
                    return try make(context)
                },
                crash: { sink in (sink as? ExecSink)?.killConnector() })
        }
        for check in suite.checks {
            print("  \(check.skipped ? "–" : check.passed ? "✔" : "✘") \(check.name): \(check.detail)")
        }
        let passed = suite.checks.filter(\.passed).count
        print("\(passed) of \(suite.checks.count) checks passed.")
        if !suite.passed {
            throw CommandFailure.runtime("\(suite.checks.count - passed) of \(suite.checks.count) checks failed")
        }
    }
}
