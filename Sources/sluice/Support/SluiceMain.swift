import ArgumentParser
import Glibc
import Logging
import SluiceBroker
import SluiceCore
import SluiceKit
import SluiceLog
import SluiceRuntime

/// Runs the command line: parses, sets up logging, runs the command, and turns errors into messages
/// and exit codes: 0 success, 1 runtime failure, 2 usage or config error, 3 for
/// `run --fail-on-dead-letters` when records were dead-lettered, 4 for a daemon stopped before its
/// drain ended, and 128 + N for a command stopped by signal N (130 for Ctrl-C). `Sluice`'s help lists them; keep the two in step.
enum SluiceMain {
    static func run() {
        MallocArenas.useOne()
        let command: any ParsableCommand
        do {
            command = try Sluice.parseAsRoot()
        } catch {
            exitForParse(error)
        }
        let level = (command as? any LoggingCommand)?.logLevel ?? .warning
        let json = (command as? any LoggingCommand)?.logFormat == .json
        jsonLogs.withLock { $0 = json }
        LoggingSystem.bootstrap { label in ConsoleLogHandler(label: label, level: level, json: json) }
        if let location = (command as? any DataDirectoryCommand)?.location, location.bootstrapServer != nil,
            !(command is any KafkaCapableCommand)
        {
            printError(
                "--bootstrap-server: this command works on the embedded "
                    + "broker's data directory only (--data-dir, or the data_dir of --config); on a Kafka cluster, "
                    + "use Kafka's own tools. With --bootstrap-server: topics list, describe and create; groups "
                    + "list, describe and reset-offsets; produce; consume.")
            exit(2)
        }
        if let location = (command as? any DataDirectoryCommand)?.location, !(command is any KafkaCapableCommand),
            let file = location.configFile, location.configNamesKafkaCluster
        {
            printError(
                "--config \(file): its broker is a Kafka cluster (broker.type \"kafka\"), and this command works on "
                    + "the embedded broker's data directory only; on the cluster, use Kafka's own tools. With a Kafka "
                    + "config: topics list, describe and create; groups list, describe and reset-offsets; produce; "
                    + "consume.")
            exit(2)
        }
        StopRequest.installHandlers()
        do {
            var command = command
            try command.run()
            // What was printed must have reached its destination (`sluice topics list > /dev/full`).
            if fflush(nil) != 0 {
                if errno == EPIPE { exit(0) }
                printError("cannot write to standard output: \(String(cString: strerror(errno)))")
                exit(1)
            }
            exit(0)
        } catch let failure as CommandFailure {
            if !failure.message.isEmpty { printError(failure.message) }
            exit(failure.exitCode)
        } catch let error as BrokerError where error.code == .directoryInUse {
            // The message names the process that holds the directory and says to wait for it.
            printError(error.description + ":\n  " + commandLine)
            exit(1)
        } catch let error as BrokerError {
            printError(error.description)
            exit(usageCodes.contains(error.code) ? 2 : 1)
        } catch let error as ConfigError {
            printError(error.description)
            exit(2)
        } catch let error as RuntimeError {
            printError(error.message)
            exit(error.isInterruption ? 128 + (StopRequest.signalNumber ?? SIGINT) : 1)
        } catch let error as ConnectorError {
            printError(error.message)
            exit(error.kind == .fatal ? 1 : 1)
        } catch let error as LogError {
            printError(error.description)
            exit(1)
        } catch let error as CoreError where error.errno == EPIPE {
            // The reader of the output went away (`sluice consume | head`): as for any Unix filter,
            // that ends the command quietly.
            exit(0)
        } catch let error as CoreError {
            printError(error.description)
            exit(1)
        } catch {
            exitForParse(error)
        }
    }

    static let usageCodes: Set<BrokerError.Code> = [
        .invalidTopic, .invalidConfig, .invalidPartitions, .topicNotFound, .groupNotFound,
    ]

    /// This process's command line, as a shell would take it back.
    static var commandLine: String {
        ShellWords.join(["sluice"] + CommandLine.arguments.dropFirst())
    }

    /// Help and version exit 0; every argument error exits 2 with the usage, and a "did you mean" for
    /// a misspelled subcommand or option.
    static func exitForParse(_ error: any Error) -> Never {
        let code = Sluice.exitCode(for: error)
        let message = ParseErrorHint.adding(to: Sluice.fullMessage(for: error))
        if code == .success {
            print(message)
            if fflush(nil) != 0 && errno != EPIPE {
                printError("cannot write to standard output: \(String(cString: strerror(errno)))")
                exit(1)
            }
            exit(0)
        }
        printError(message)
        exit(2)
    }

    /// Whether log lines, and so the final error, are JSON objects (`--log-format json`).
    static let jsonLogs = Locked(false)

    static func printError(_ message: String) {
        if jsonLogs.withLock({ $0 }) {
            // The command's failure: its own text varies, so the event is fixed.
            printToStandardError(
                ConsoleLogHandler.jsonLine(level: "error", message: message, event: "command_failed", metadata: [:]))
            return
        }
        let text = message.hasPrefix("Error:") || message.hasPrefix("error:") ? message : "error: " + message
        printToStandardError(text)
    }
}

/// A failure that carries its own exit code and message.
struct CommandFailure: Error {
    var message: String
    var exitCode: Int32

    static func usage(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: 2) }
    static func runtime(_ message: String) -> CommandFailure { CommandFailure(message: message, exitCode: 1) }

}
