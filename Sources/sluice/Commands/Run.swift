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

    @Flag(help: "Check what `validate --connect` checks, print the plan and exit: read, create and write nothing.")
    var dryRun = false

    @OptionGroup var log: LogOptions

    var logLevel: Logger.Level { log.logLevel }

    func run() throws {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        let plan = try Preflight(loader: loader, connect: dryRun, logger: Logger(label: "sluice")).check(path: config)
        if dryRun {
            print("Dry run of \(config): nothing was read or written.\n" + plan.render())
            return
        }
        let pipelineConfig = plan.config
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
