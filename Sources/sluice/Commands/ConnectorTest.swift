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

    @Argument(help: "The connector type: a built-in one, or exec with --command.")
    var type: String

    @Option(
        help: ArgumentHelp("For exec: the program and its arguments, separated by spaces.", valueName: "program args"))
    var command: String?

    @Option(help: ArgumentHelp("A JSON file holding the connector's options.", valueName: "file"))
    var config: String?

    @Option(help: "How many times to kill the connector in each kill check.")
    var kills = 20

    func run() throws {
        var logger = Logger(label: "sluice.connectors.test")
        logger.logLevel = .warning
        let registry = BuiltInConnectors.registry
        var spec: ConnectorSpec
        var words: [String] = []
        if type == "exec" {
            guard let command else { throw CommandFailure.usage("an exec connector needs --command") }
            words = command.split(separator: " ").map(String.init)
            var found: ConnectorSpec?
            var problem = ""
            for kind in [ConnectorSpec.Kind.source, .sink] where found == nil {
                switch ExecConnector.spec(kind, command: words, path: "--command") {
                case .success(let resolved): found = resolved
                case .failure(let failure): problem = failure.message
                }
            }
            guard let found else { throw CommandFailure.runtime(problem) }
            spec = found
        } else {
            guard let builtIn = registry.spec(type: type) else {
                throw CommandFailure.usage(
                    "unknown connector type \"\(type)\"; known: \(registry.specs.map(\.type).joined(separator: ", "))")
            }
            spec = builtIn
        }
        var members: [(key: String, value: JSONValue)] = []
        if let config {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readFile(config) } catch {
                throw CommandFailure.usage("cannot read \(config): \(error)")
            }
            guard case .object(let given)? = try? JSONValue.parse(bytes) else {
                throw CommandFailure.usage("\(config): expected a JSON object of the connector's options")
            }
            members = given
        }
        if type == "exec" { members.append(("command", .array(words.map { .string($0) }))) }
        let (options, problems) = spec.validate(members, path: "config")
        guard problems.isEmpty else {
            throw CommandFailure.usage(
                "the options do not validate:\n" + problems.map { "  \($0.description)" }.joined(separator: "\n"))
        }

        var suite = ConformanceSuite(logger: logger)
        suite.kills = kills
        print(
            "Checking \(type == "exec" ? "\(command ?? "") (\(spec.kind.rawValue))" : "\(type) (\(spec.kind.rawValue))")"
        )
        suite.checkDeclaration(spec, given: members)
        if type == "exec" {
            suite.checkProtocol(command: words, role: spec.kind, probe: ExternalConnectors.probeMalformedMessages)
        }
        switch spec.kind {
        case .source:
            let make = registry.sources[type]?.make
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
            let make = registry.sinks[type]?.make
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
