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
            prints a summary and exits. --dry-run checks what `sluice validate --connect` checks \
            and prints the plan, touching nothing. A second run reads only what is new: files already read to \
            their end are skipped, files that grew are read from where they stopped. A run killed at \
            any moment and started again neither repeats nor loses a row.

            Progress goes to standard error: a line that updates in place on a terminal, a plain \
            line every few seconds otherwise (--no-progress turns it off). The summary goes to \
            standard output, as text or, with --summary json, as one JSON object for scripts. \
            --quiet prints neither, nor notices such as a table created: only warnings and errors. \
            Exit codes: 0 success, 1 runtime failure, 2 config error, 3 dead-lettered records with \
            --fail-on-dead-letters, 128+N stopped by signal N (130 for Ctrl-C).

            Examples:
              sluice run
              sluice run pipelines/orders.json --log-level info
              sluice run --quiet --fail-on-dead-letters
              sluice run --summary json > summary.json
              sluice run --dry-run
            """
    )

    @Argument(help: "The config file.")
    var config = "config.json"

    @Flag(help: "Exit with code 3 when any record was dead-lettered, by a source or a sink.")
    var failOnDeadLetters = false

    @Flag(name: .shortAndLong, help: "Print no progress, no summary and no notices: only warnings and errors.")
    var quiet = false

    @Flag(help: "Print no progress line.")
    var noProgress = false

    @Option(help: "How to print the summary: text, json or none (none with --quiet).")
    var summary: SummaryFormat?

    enum SummaryFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json, none
    }

    @Flag(help: "Check what `validate --connect` checks, print the plan and exit: read, create and write nothing.")
    var dryRun = false

    @OptionGroup var log: LogOptions

    var logLevel: Logger.Level { quiet ? max(log.logLevel, .warning) : log.logLevel }
    var logFormat: LogFormat { log.format }

    func run() throws {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        // A run checks its servers too, so that a wrong password or a missing table stops it before it
        // reads anything; a server that does not answer yet is left to the sinks' retries.
        let plan = try Preflight(
            loader: loader, connect: true, serverMayBeDown: !dryRun, logger: Logger(label: "sluice")
        )
        .check(path: config)
        if dryRun {
            print("Dry run of \(config): nothing was read or written.\n" + plan.render())
            return
        }
        let pipelineConfig = plan.config
        let pipeline = Pipeline(config: pipelineConfig, logger: Logger(label: "sluice"))
        let terminal = standardErrorIsTerminal
        let showProgress = !quiet && !noProgress
        defer { StatusLine.clear() }
        let result: RunSummary
        do {
            let json = log.format == .json
            result = try pipeline.run(progressIntervalMillis: terminal && !json ? 500 : 5000) { line in
                guard showProgress else { return }
                if json {
                    printToStandardError(
                        ConsoleLogHandler.jsonLine(level: "notice", message: "progress", metadata: ["progress": line]))
                } else if terminal {
                    StatusLine.show(line)
                } else {
                    printToStandardError(line)
                }
            }
        } catch let error as RuntimeError where error.isInterruption {
            // What the run did before it was stopped, as a run that ends prints it.
            StatusLine.clear()
            if let partial = error.partialSummary { printSummary(partial, interrupted: true) }
            throw error
        }
        StatusLine.clear()
        printSummary(result, interrupted: false)
        if failOnDeadLetters && result.deadLettered > 0 {
            let count = result.deadLettered
            throw CommandFailure(
                message: "\(count) record\(count == 1 ? " was" : "s were") dead-lettered (--fail-on-dead-letters)",
                exitCode: 3)
        }
    }

    private func printSummary(_ result: RunSummary, interrupted: Bool) {
        switch summary ?? (quiet ? SummaryFormat.none : .text) {
        case .text: print((interrupted ? "Interrupted; before it stopped, this run did:\n" : "") + result.render())
        case .json:
            guard case .object(var members) = result.json() else { return }
            if interrupted { members.insert(("interrupted", .bool(true)), at: 0) }
            print(JSONValue.object(members).serialized())
        case .none: break
        }
    }
}
