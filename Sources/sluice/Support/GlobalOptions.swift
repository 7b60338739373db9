import ArgumentParser
import Logging
import SluiceBroker

/// The options of every command that works on a data directory, but for the pipeline config (whose
/// `--config` the topic commands share with their settings): `--data-dir`, `--log-level`, and
/// `--bootstrap-server`, which Kafka users type by habit and which the embedded broker has no use for.
struct DataDirectoryOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "The broker's data directory (default: the data_dir of --config, else $SLUICE_DATA_DIR, else ./data).",
            valueName: "dir"))
    var dataDirectory: String?

    @Option(
        name: .customLong("bootstrap-server"),
        help: ArgumentHelp(
            "A Kafka cluster to work on instead of a data directory (topics list, describe and create; groups "
                + "list, describe and reset-offsets; produce; consume).", valueName: "host:port"))
    var bootstrapServer: String?

    @OptionGroup var log: LogOptions
}

/// Options every command that touches a data directory takes.
struct GlobalOptions: ParsableArguments {
    @OptionGroup var directory: DataDirectoryOptions

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("A pipeline config file: use the data_dir that `sluice run FILE` uses.", valueName: "file"))
    var configFile: String?

    var logLevel: Logger.Level { directory.log.logLevel }

    var location: DataLocation { DataLocation(directory, configFile: configFile) }

    /// Opens the broker for writing (taking the directory's lock) or read-only.
    func openBroker(readOnly: Bool) throws -> Broker {
        try location.openBroker(readOnly: readOnly)
    }
}

/// A command whose log level the entry point sets up before running it.
protocol LoggingCommand {
    var logLevel: Logger.Level { get }
    var logFormat: LogFormat { get }
}

extension LoggingCommand {
    var logFormat: LogFormat { .text }
}

/// A command that works on a data directory.
protocol DataDirectoryCommand: LoggingCommand {
    var location: DataLocation { get }
}

/// A command that works on a Kafka cluster too (`--bootstrap-server`, or a config whose broker is one).
protocol KafkaCapableCommand {}

/// A command that has the global options.
protocol GlobalOptionsCommand: DataDirectoryCommand {
    var global: GlobalOptions { get }
}

extension GlobalOptionsCommand {
    var logLevel: Logger.Level { global.logLevel }
    var logFormat: LogFormat { global.directory.log.format }
    var location: DataLocation { global.location }
}

/// Only the log level, for commands that take their data directory from a config file.
struct LogOptions: ParsableArguments {
    @Option(
        name: .customLong("log-level"),
        help: "Least severe log messages to print: trace, debug, info, notice, warning, error, critical."
    )
    var logLevelName = "notice"

    @Option(
        name: .customLong("log-format"),
        help: "How log lines look: text (for people) or json (one object per line, for log collectors).")
    var format: LogFormat = .text

    var logLevel: Logger.Level { Logger.Level(rawValue: logLevelName) ?? .notice }

    func validate() throws {
        guard Logger.Level(rawValue: logLevelName) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }
}

/// How log lines are written (`--log-format`).
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}
