import ArgumentParser
import Logging
import SluiceBroker

/// Options every command that touches a data directory takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "The broker's data directory.")
    var dataDirectory = "data"

    @OptionGroup var log: LogOptions

    var logLevel: Logger.Level { log.logLevel }

    /// Opens the broker for writing (taking the directory's lock) or read-only.
    func openBroker(readOnly: Bool) throws -> Broker {
        try Broker(dataDirectory: dataDirectory, readOnly: readOnly, logger: Logger(label: "sluice"))
    }
}

/// A command whose log level the entry point sets up before running it.
protocol LoggingCommand {
    var logLevel: Logger.Level { get }
}

/// A command that has the global options.
protocol GlobalOptionsCommand: LoggingCommand {
    var global: GlobalOptions { get }
}

extension GlobalOptionsCommand {
    var logLevel: Logger.Level { global.logLevel }
}

/// Only the log level, for commands that take their data directory from a config file.
struct LogOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help: "Least severe log messages to print: trace, debug, info, notice, warning, error, critical."
    )
    var logLevelName = "notice"

    var logLevel: Logger.Level { Logger.Level(rawValue: logLevelName) ?? .notice }

    func validate() throws {
        guard Logger.Level(rawValue: logLevelName) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
