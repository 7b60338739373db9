import ArgumentParser
import Glibc
import Logging
import SluiceCore
import SluiceDaemon
import SluiceKit
import SluiceRuntime

/// `sluice daemon`
struct Daemon: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline config without end: deliver new files and rows as they arrive.",
        discussion: """
            Runs the same pipeline as `sluice run`, but does not stop at the end of the input: each \
            source reads again as soon as something changes in its folder (inotify), and every poll \
            interval anyway, so new files and rows appended to files already read reach the sinks \
            within a fraction of a second. A row is stored only once it \
            is complete: a last line without its line end, or a quoted field still open, waits for \
            the rest.

            SIGTERM or Ctrl-C drains: sources stop at a batch boundary with what they read stored, \
            each sink finishes and commits the batch in hand, and the daemon prints what it did and \
            exits 0. A second signal, or a drain longer than shutdown_timeout_ms, stops at once and \
            exits 4; what was written but not committed is counted per sink and delivered again on \
            the next start. Nothing is lost either way. SIGHUP reloads the config file: one that \
            does not validate is refused with its problems and the running pipeline goes on; a \
            changed one replaces it after a drain.

            The admin HTTP API listens on the config's admin.listen (default 127.0.0.1:8090; a unix \
            socket path or "off" also work): GET /livez, /readyz, /metrics (Prometheus text) and \
            /v1/status, /v1/sources/NAME/files, /v1/groups/GROUP/offsets; POST /v1/reload, \
            /v1/validate, /v1/sinks/NAME/pause|resume|restart and /v1/groups/GROUP/offsets. `sluice \
            status`, `reload`, `pause` and `resume` are its clients. Listening beyond this machine \
            needs a token, in SLUICE_ADMIN_TOKEN (or the variable admin.token_env names) or in the \
            file admin.token_file, which requests send as Authorization: Bearer; a read-only token \
            (SLUICE_ADMIN_READ_TOKEN, admin.read_token_env, admin.read_token_file) may only GET.

            With a "kafka" section ({"listen": "127.0.0.1:9092"}) or --kafka-listen, the daemon also \
            speaks the Kafka protocol: kcat, librdkafka and kafka-python clients produce to and fetch \
            from its topics (plaintext; see the README for what is supported).

            The config's "daemon" section sets poll_interval_ms (default 1000) and \
            shutdown_timeout_ms (default 30000); the options below override them.

            Exit codes: 0 drained and stopped, 1 runtime failure, 2 config error, 4 stopped at once \
            (second signal or shutdown timeout).

            Examples:
              sluice daemon pipeline.json
              sluice daemon --poll-interval-ms 1000 --log-level info
              sluice daemon pipeline.json --kafka-listen 127.0.0.1:9092
              kcat -b 127.0.0.1:9092 -L
              kill -TERM $(pgrep -f 'sluice daemon')   # drain, then exit 0
              kill -HUP $(pgrep -f 'sluice daemon')    # reload the config file
            """
    )

    @Argument(help: "The config file.")
    var config = "config.json"

    @Option(help: "How often sources look for new files and rows, in milliseconds (10 or more).")
    var pollIntervalMs: Int?

    @Option(help: "How long a drain may take before the daemon stops at once, in milliseconds.")
    var shutdownTimeoutMs: Int?

    @Option(
        help:
            "Where the admin HTTP API listens: HOST:PORT, a unix socket path, or off (default: the config's admin.listen, else 127.0.0.1:8090)."
    )
    var adminListen: String?

    @Option(
        help: ArgumentHelp(
            "Where the Kafka protocol listener listens (default: the config's kafka.listen; none without it).",
            valueName: "host:port"))
    var kafkaListen: String?

    @OptionGroup var log: LogOptions

    var logLevel: Logger.Level { log.logLevel }
    var logFormat: LogFormat { log.format }

    /// Exit code of a daemon that stopped before its drain ended.
    static let stoppedAtOnceCode: Int32 = 4

    func validate() throws {
        if let pollIntervalMs, pollIntervalMs < 10 {
            throw ValidationError("--poll-interval-ms must be 10 or more")
        }
        if let shutdownTimeoutMs, shutdownTimeoutMs < 0 {
            throw ValidationError("--shutdown-timeout-ms must be 0 or more")
        }
    }

    func run() throws {
        let outcome = try DaemonRunner.run(
            DaemonOptions(
                configPath: config, pollIntervalMillis: pollIntervalMs, shutdownTimeoutMillis: shutdownTimeoutMs,
                adminListen: adminListen, kafkaListen: kafkaListen, version: Version.release),
            logger: Logger(label: "sluice"))
        print(outcome.render())
        if outcome.stoppedAtOnce { throw CommandFailure(message: "", exitCode: Self.stoppedAtOnceCode) }
    }
}
