import ArgumentParser
import Logging
import SluiceCore
import SluiceDaemon
import SluiceRuntime

/// Where a thin client finds the daemon: `--admin`, else the address the daemon keeps in its data
/// directory; and the token it sends.
struct AdminTarget: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The daemon's admin API: http://HOST:PORT or unix:/path (default: where the daemon on the data directory listens).",
            valueName: "address"))
    var admin: String?

    @Option(
        name: .customLong("config"),
        help: ArgumentHelp("The daemon's config file, for its data_dir.", valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("The daemon's data directory.", valueName: "dir"))
    var dataDirectory: String?

    @Option(help: ArgumentHelp("The environment variable that holds the admin token.", valueName: "name"))
    var tokenEnv = "SLUICE_ADMIN_TOKEN"

    func client() throws -> AdminClient {
        let token = ProcessEnvironment.current()[tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        if let admin { return AdminClient(address: admin, token: token) }
        do {
            return AdminClient(address: try AdminClient.address(dataDirectory: try directory()), token: token)
        } catch let error as AdminError {
            throw CommandFailure.runtime(error.description)
        }
    }

    /// The config file named, or `config.json` here when neither it nor a data directory is.
    var file: String? {
        configFile ?? (dataDirectory == nil && FileSystem.exists("config.json") ? "config.json" : nil)
    }

    /// The daemon's data directory.
    func directory() throws -> String {
        do {
            return try DataLocation(dataDirectory: dataDirectory, configFile: file).resolve().path
        } catch {
            // The file may be the broken config a reload is about to refuse: its data_dir (or the default
            // beside it) still finds the daemon.
            guard let file, dataDirectory == nil, let fallback = Self.dataDirectory(ofUnvalidated: file) else {
                throw error
            }
            return fallback
        }
    }

    /// The data_dir a config file names, read without validating the rest of it (default: `data` beside
    /// the file); nil when it cannot be told.
    static func dataDirectory(ofUnvalidated file: String) -> String? {
        // A file that is not there names no daemon: the error about the file says more than "no daemon".
        guard FileSystem.exists(file) else { return nil }
        let folder = FileSystem.parentDirectory(of: FileSystem.absolute(file))
        guard let bytes = try? FileSystem.readFile(file), case .object(let members)? = try? JSONValue.parse(bytes)
        else { return folder + "/data" }
        guard let value = members.first(where: { $0.0 == "data_dir" })?.1 else { return folder + "/data" }
        guard let text = value.stringValue, !text.isEmpty, !text.contains("${") else { return nil }
        return text.hasPrefix("/") ? text : folder + "/" + text
    }

    /// Sends the request and turns transport failures and error answers into messages.
    func send(_ method: String, _ path: String) throws -> (status: Int, json: JSONValue) {
        let client = try client()
        let answer: (status: Int, body: String)
        do {
            answer = try client.request(method, path)
        } catch let error as AdminError {
            throw CommandFailure.runtime(error.description)
        }
        guard let json = try? JSONValue.parse(Array(answer.body.utf8)) else {
            throw CommandFailure.runtime("the daemon answered \(answer.status): \(answer.body)")
        }
        if answer.status == 401 || answer.status == 403 {
            throw CommandFailure.runtime(
                (json["error"]?.stringValue ?? "the daemon refused the request") + " (set \(tokenEnv))")
        }
        return (answer.status, json)
    }
}

/// `sluice status`
struct Status: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a running daemon is doing: its sources, sinks, lag and config generation.",
        discussion: """
            Asks the daemon's admin API (GET /v1/status). The daemon is found through the data \
            directory of --config (default config.json) or --data-dir, where it keeps its address, or \
            given with --admin. --json prints the answer as it came.

            Examples:
              sluice status
              sluice status --config pipelines/orders.json
              sluice status --admin http://127.0.0.1:8090 --json
            """)

    @OptionGroup var target: AdminTarget

    @Flag(help: "Print the daemon's JSON answer as it is.")
    var json = false

    var logLevel: Logger.Level { .warning }

    func run() throws {
        let (_, answer) = try target.send("GET", "/v1/status")
        if json {
            print(answer.serialized())
            return
        }
        var lines = [
            "Daemon pid \(answer["pid"]?.integerValue ?? 0), \(answer["phase"]?.stringValue ?? "?"), config "
                + "\(answer["config"]?.stringValue ?? "?") (generation \(answer["generation"]?.integerValue ?? 0)), "
                + "up \(answer["uptime_seconds"]?.integerValue ?? 0) s"
        ]
        if case .array(let sources)? = answer["sources"], !sources.isEmpty {
            lines.append("Sources:")
            for source in sources {
                lines.append(
                    "  \(source["name"]?.stringValue ?? "?") → \(source["topic"]?.stringValue ?? "?"): "
                        + "\(source["state"]?.stringValue ?? "?"), \(source["rows_read"]?.integerValue ?? 0) rows read, "
                        + "\(source["dead_lettered"]?.integerValue ?? 0) dead-lettered")
            }
        }
        if case .array(let sinks)? = answer["sinks"], !sinks.isEmpty {
            lines.append("Sinks:")
            for sink in sinks {
                var line =
                    "  \(sink["name"]?.stringValue ?? "?"): \(sink["state"]?.stringValue ?? "?"), "
                    + "\(sink["written"]?.integerValue ?? 0) written, \(sink["dead_lettered"]?.integerValue ?? 0) "
                    + "dead-lettered, \(sink["retries"]?.integerValue ?? 0) retries, lag "
                    + "\(sink["lag_records"]?.integerValue ?? 0)"
                if let error = sink["error"]?.stringValue { line += " (\(error))" }
                lines.append(line)
            }
        }
        print(lines.joined(separator: "\n"))
    }
}

/// `sluice reload`
struct Reload: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a running daemon read its config file again, and wait for the result.",
        discussion: """
            Asks the daemon's admin API (POST /v1/reload), as SIGHUP does. A config that does not \
            validate is refused with its problems and the running pipeline goes on (exit 2); a changed \
            one replaces the running pipeline after a drain; an unchanged one changes nothing.

            Examples:
              sluice reload
              sluice reload --config pipelines/orders.json
            """)

    @OptionGroup var target: AdminTarget

    var logLevel: Logger.Level { .warning }

    func run() throws {
        let (status, answer) = try target.send("POST", "/v1/reload")
        let generation = answer["generation"]?.integerValue ?? 0
        switch answer["result"]?.stringValue {
        case "applied": print("Reloaded: the new config runs (generation \(generation)).")
        case "unchanged": print("The config file is unchanged; nothing was restarted (generation \(generation)).")
        case "refused":
            var problems: [String] = []
            if case .array(let items)? = answer["problems"] { problems = items.compactMap(\.stringValue) }
            throw CommandFailure(
                message: "reload refused; the running config goes on:\n"
                    + problems.map { "  " + $0 }.joined(separator: "\n"), exitCode: 2)
        default:
            throw CommandFailure.runtime(
                answer["error"]?.stringValue ?? "the daemon answered \(status): \(answer.serialized())")
        }
    }
}

/// `sluice pause SINK`
struct Pause: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pause a sink: it commits the batch in hand and stops, until resumed.",
        discussion: """
            Asks the daemon's admin API (POST /v1/sinks/SINK/pause); with no daemon running on the \
            data directory, it records the pause there for the next start and `sluice run`. The pause is kept in the data \
            directory (paused-sinks.json): the sink stays paused when the daemon restarts, and \
            `sluice run` on the same data directory leaves it out too. Its records wait in its topics, \
            and its group's offsets can be changed meanwhile: POST /v1/groups/GROUP/offsets while the \
            daemon runs, sluice groups reset-offsets when it does not.

            Examples:
              sluice pause pg
              sluice pause pg --config pipelines/orders.json
            """)

    @OptionGroup var arguments: SinkControl.Arguments

    var logLevel: Logger.Level { .warning }

    func run() throws {
        try SinkControl.send("pause", arguments)
    }
}

/// `sluice resume SINK`
struct Resume: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resume a paused sink: it goes on from its group's committed offsets.",
        discussion: """
            Asks the daemon's admin API (POST /v1/sinks/SINK/resume), or with no daemon running \
            changes the data directory directly: the sink leaves the paused ones kept there.

            Examples:
              sluice resume pg
              sluice resume pg --config pipelines/orders.json
            """)

    @OptionGroup var arguments: SinkControl.Arguments

    var logLevel: Logger.Level { .warning }

    func run() throws {
        try SinkControl.send("resume", arguments)
    }
}

/// What `pause` and `resume` share: the request, and the daemon's answer in a sentence.
enum SinkControl {
    struct Arguments: ParsableArguments {
        @OptionGroup var target: AdminTarget

        @Argument(help: "The sink's name in the config.")
        var sink: String
    }

    static func send(_ action: String, _ arguments: Arguments) throws {
        let (target, sink) = (arguments.target, arguments.sink)
        if target.admin == nil, case let directory = try target.directory(),
            (try? AdminClient.address(dataDirectory: directory)) == nil
        {
            // No daemon runs on the data directory: the paused set is changed there, for its next start
            // and for `sluice run`.
            if let file = target.file {
                let loader = ConfigLoader(
                    registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
                let names = try loader.load(path: file).sinks.map(\.name)
                guard names.contains(sink) else {
                    throw CommandFailure.usage(
                        "\(file) has no sink \"\(sink)\" (sinks: \(names.joined(separator: ", ")))")
                }
            }
            let changed = try PausedSinks.set(sink, paused: action == "pause", in: directory)
            let what =
                action == "pause" ? (changed ? "Paused" : "Already paused:") : (changed ? "Resumed" : "Not paused:")
            print(
                "\(what) sink \(sink). No daemon runs on \(directory); this holds for its next start and for "
                    + "`sluice run`.")
            return
        }
        let path = "/v1/sinks/" + (sink.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? sink)
        let (status, answer) = try target.send("POST", path + "/" + action)
        switch answer["result"]?.stringValue {
        case "pausing": print("Pausing sink \(sink): it commits the batch in hand and stops; it stays paused.")
        case "already paused": print("Sink \(sink) is already paused.")
        case "resuming": print("Resuming sink \(sink): it goes on from its group's committed offsets.")
        case "not paused": print("Sink \(sink) is not paused.")
        default:
            throw CommandFailure.runtime(
                answer["error"]?.stringValue ?? "the daemon answered \(status): \(answer.serialized())")
        }
    }
}
