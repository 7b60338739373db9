import Logging
import Metrics
import SluiceCore
import SluiceKit
import SluiceRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// What `sluice daemon` was asked for on its command line.
public struct DaemonOptions: Sendable {
    public var configPath: String
    public var pollIntervalMillis: Int?
    public var shutdownTimeoutMillis: Int?
    /// Overrides the config's `admin.listen`.
    public var adminListen: String?
    /// Overrides the config's `kafka.listen` (and turns the listener on without a `kafka` section).
    public var kafkaListen: String?
    /// The version the build info metric and the status report.
    public var version: String

    public init(
        configPath: String, pollIntervalMillis: Int? = nil, shutdownTimeoutMillis: Int? = nil,
        adminListen: String? = nil, kafkaListen: String? = nil, version: String
    ) {
        self.kafkaListen = kafkaListen
        self.configPath = configPath
        self.pollIntervalMillis = pollIntervalMillis
        self.shutdownTimeoutMillis = shutdownTimeoutMillis
        self.adminListen = adminListen
        self.version = version
    }
}

/// The long-running service: runs the pipeline continuously (`Pipeline.runContinuously`), replaces it
/// when a reload brings a changed config, serves the admin API beside it, and ends when asked to stop.
/// The pipeline runs on its own threads and the calling thread waits for it; the admin API runs on
/// SwiftNIO's.
public enum DaemonRunner {
    /// The file in the data directory that tells `sluice status` and `sluice reload` where the admin
    /// API of the daemon working on it listens.
    public static let addressFile = "daemon.json"

    /// Runs until stopped; returns how the last pipeline ended.
    public static func run(_ options: DaemonOptions, logger: Logger) throws -> Pipeline.ContinuousOutcome {
        StopRequest.installHandlers(daemon: true)
        var (plan, fileBytes) = try load(options.configPath, logger: logger)
        // Another process working on the data directory is found before anything here is bound or
        // written: its address file stays as it is.
        try FileSystem.createDirectory(plan.config.dataDirectory)
        _ = try DirectoryLock(directory: plan.config.dataDirectory)
        var admin = plan.config.admin
        if let text = options.adminListen {
            guard let listen = AdminSettings.listen(text) else {
                throw ConfigError([
                    ConfigProblem(
                        "--admin-listen", "expected HOST:PORT (such as 127.0.0.1:8090), a unix socket path, or off")
                ])
            }
            admin.listen = listen
        }
        let kafkaListen = try options.kafkaListen.map { text in
            guard let address = KafkaSettings.address(text) else {
                throw ConfigError([ConfigProblem("--kafka-listen", "expected HOST:PORT, such as 127.0.0.1:9092")])
            }
            return address
        }
        let token = try Self.token(admin.tokenEnvironment, file: admin.tokenFile, path: "admin.token_file")
        let readToken = try Self.token(
            admin.readTokenEnvironment, file: admin.readTokenFile, path: "admin.read_token_file")
        if !admin.isLocal && token == nil {
            throw ConfigError([
                ConfigProblem(
                    "admin.listen",
                    "the admin API would listen beyond this machine without a token; set the environment variable "
                        + "\(admin.tokenEnvironment) to a secret that clients send as Authorization: Bearer, or listen "
                        + "on 127.0.0.1")
            ])
        }
        let observer = PipelineObserver()
        let restarts = Locked(0)
        let controls = SinkControls()
        let reloads = Reloads(path: options.configPath, logger: logger)
        _ = DaemonMetrics.shared
        let server = AdminServer(
            settings: admin, tokens: AdminTokens(admin: token, read: readToken), observer: observer, reloads: reloads,
            restarts: restarts, controls: controls,
            version: options.version,
            configPath: options.configPath, logger: logger)
        var serving: AdminServer.Serving?
        var address = "off"
        if admin.listen != .off {
            do {
                (address, serving) = try waitFor { try await server.start() }
            } catch {
                throw ConfigError([
                    ConfigProblem(
                        options.adminListen == nil ? "admin.listen" : "--admin-listen",
                        "cannot listen on \(admin.listen.described): \(ListenFailure.reason(error)); is another daemon "
                            + "running? Choose another address, or \"off\"")
                ])
            }
        }
        defer {
            if let serving { _ = try? waitFor { await serving.stop() } }
        }
        let kafka = try KafkaService.start(
            plan.config.kafka, override: kafkaListen, observer: observer, logger: logger)
        defer { kafka?.listener.stop() }
        // Where `sluice status` and the other clients find the admin API: in the data directory that
        // runs (a reload may change it).
        let record = JSONValue.object(
            [("pid", .number(String(getpid()))), ("admin", .string(address))]
                + (kafka.map { [("kafka", JSONValue.string($0.address))] } ?? []))
        var addressPath: String?
        defer { addressPath.map { try? FileSystem.removeFile($0) } }

        // The config that runs, and the file's bytes it came from; a reload made while the pipeline runs
        // replaces it there.
        let current = Locked(Running(plan: plan, bytes: fileBytes))
        var failedInARow = 0
        // What the pipelines before this one did (a reload that drained and started it again).
        var earlier: RunSummary?
        // The generation "daemon running" was said for: a pipeline started again after a failure is not
        // announced again.
        var announced: Int?
        while true {
            (plan, fileBytes) = current.withLock { ($0.plan, $0.bytes) }
            controls.dataDirectory = plan.config.dataDirectory
            let path = plan.config.dataDirectory + "/" + addressFile
            if addressPath != path {
                addressPath.map { try? FileSystem.removeFile($0) }
                addressPath = path
                try? FileSystem.createDirectory(plan.config.dataDirectory)
                try? FileSystem.writeAtomically(path, Array(record.serialized().utf8), sync: false)
            }
            var settings = plan.config.daemon
            if let value = options.pollIntervalMillis { settings.pollIntervalMillis = value }
            if let value = options.shutdownTimeoutMillis { settings.shutdownTimeoutMillis = value }
            if announced != reloads.generation {
                announced = reloads.generation
                logger.notice(
                    "daemon running",
                    metadata: [
                        "config": "\(options.configPath)", "generation": "\(reloads.generation)", "pid": "\(getpid())",
                        "admin": "\(address)", "sources": "\(plan.config.sources.map(\.name).joined(separator: ","))",
                        "sinks": "\(plan.config.sinks.map(\.name).joined(separator: ","))",
                        "poll_interval_ms": "\(settings.pollIntervalMillis)",
                    ])
            }
            // Set when a change needs the pipeline to drain and start again.
            let startAgain = Locked(false)
            let continuous = Pipeline.Continuous(
                pollIntervalMillis: settings.pollIntervalMillis, shutdownTimeoutMillis: settings.shutdownTimeoutMillis,
                observer: observer,
                shouldDrain: { StopRequest.count > 0 || startAgain.withLock { $0 } },
                nextChange: {
                    Self.nextChange(
                        current: current, reloads: reloads, controls: controls, observer: observer,
                        startAgain: startAgain, logger: logger)
                })
            var outcome: Pipeline.ContinuousOutcome
            do {
                outcome = try Pipeline(config: plan.config, logger: logger).runContinuously(continuous)
                if let earlier { outcome.summary.add(earlier: earlier) }
                earlier = outcome.summary
                failedInARow = 0
            } catch let error as RuntimeError where error.isTransient && StopRequest.count > 0 {
                // The stop came while the pipeline failed on a cause that may pass (its cluster or database
                // down): it would have started again; stopped, it leaves the rest to the next start.
                return .stoppedWhileWaiting(earlier: earlier, reason: error.message)
            } catch let error as RuntimeError where error.isTransient && StopRequest.count == 0 {
                // A sink gave up after its retry timeout on a cause that may pass (a database down):
                // the daemon runs the pipeline again after a backoff, from the committed offsets.
                let delay = Backoff.delay(attempt: failedInARow, initial: 1000, max: 60_000)
                failedInARow += 1
                restarts.withLock { $0 += 1 }
                Counter(label: "sluice_pipeline_restarts_total").increment()
                logger.warning(
                    "the pipeline failed on a cause that may pass; restarting it",
                    metadata: [
                        "error": "\(error.message)", "restart_in_ms": "\(delay)",
                        "restarts": "\(restarts.withLock { $0 })",
                    ])
                var waited = 0
                let running = current.withLock { $0.bytes }
                while waited < delay && StopRequest.count == 0 && !reloads.check(running: running) {
                    Time.sleep(millis: 50)
                    waited += 50
                }
                if StopRequest.count > 0 { return .stoppedWhileWaiting(earlier: earlier, reason: error.message) }
                apply(reloads.takePending(), to: current, reloads: reloads, logger: logger)
                continue
            }
            if StopRequest.count == 0 && !outcome.stoppedAtOnce, let next = reloads.takePending() {
                apply(next, to: current, reloads: reloads, logger: logger)
                _ = controls.takeRestart()
                continue
            }
            if StopRequest.count == 0 && !outcome.stoppedAtOnce
                && (controls.takeRestart() != nil || startAgain.withLock { $0 })
            {
                logger.notice("the pipeline starts again")
                continue
            }
            return outcome
        }
    }

    struct Running: Sendable {
        var plan: PipelinePlan
        var bytes: [UInt8]
    }

    /// The change a reload or a sink control asks of the running pipeline, if any. A reload that
    /// changes the daemon's own settings (poll interval, shutdown timeout) drains the pipeline and
    /// starts it again instead.
    static func nextChange(
        current: Locked<Running>, reloads: Reloads, controls: SinkControls, observer: PipelineObserver,
        startAgain: Locked<Bool>, logger: Logger
    ) -> Pipeline.Change? {
        let running = current.withLock { $0 }
        if reloads.check(running: running.bytes), let next = reloads.peekPending() {
            let problems = observer.withBroker { Pipeline.topicProblems(next.plan.config, broker: $0) } ?? []
            guard problems.isEmpty else {
                reloads.refusePending(problems)
                return nil
            }
            if next.plan.config.daemon != running.plan.config.daemon {
                startAgain.withLock { $0 = true }
                return nil
            }
            return Pipeline.Change(config: next.plan.config) { whileRunning in
                guard whileRunning else {
                    startAgain.withLock { $0 = true }
                    return
                }
                apply(reloads.takePending(), to: current, reloads: reloads, logger: logger)
            }
        }
        if let sinks = controls.takeRestart() {
            return Pipeline.Change(config: running.plan.config, restartSinks: sinks) { whileRunning in
                if !whileRunning { startAgain.withLock { $0 = true } }
            }
        }
        return nil
    }

    /// Makes a reloaded config the current one and answers the reload.
    static func apply(
        _ next: (plan: PipelinePlan, bytes: [UInt8], sequence: Int)?, to current: Locked<Running>, reloads: Reloads,
        logger: Logger
    ) {
        guard let next else { return }
        let before = current.withLock { state in
            defer { state = Running(plan: next.plan, bytes: next.bytes) }
            return state.plan.config
        }
        if next.plan.config.admin != before.admin {
            logger.warning("the admin section changed; it takes effect when the daemon restarts")
        }
        if next.plan.config.kafka != before.kafka {
            logger.warning("the kafka section changed; it takes effect when the daemon restarts")
        }
        let generation = reloads.applied(next.sequence)
        logger.notice("config reloaded", metadata: ["generation": "\(generation)"])
    }

    /// A token from the environment variable `variable`, else from `file` (its first line); nil when
    /// neither holds one. A file that cannot be read is a config error at `path`.
    static func token(_ variable: String, file: String?, path: String) throws -> String? {
        if let value = ProcessEnvironment.current()[variable], !value.isEmpty { return value }
        guard let file else { return nil }
        do {
            let text = String(decoding: try FileSystem.readFile(file), as: UTF8.self)
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            guard !line.isEmpty else { throw AdminError("it is empty") }
            return line
        } catch {
            throw ConfigError([ConfigProblem(path, "cannot read the token from \(file): \(error)")])
        }
    }

    private static func load(_ path: String, logger: Logger) throws -> (PipelinePlan, [UInt8]) {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        let plan = try Preflight(loader: loader, connect: true, serverMayBeDown: true, continuous: true, logger: logger)
            .check(path: path)
        return (plan, (try? FileSystem.readFile(path)) ?? [])
    }

    /// Runs `body` on Swift's concurrency threads and waits for it on this one (not one of those).
    static func waitFor<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Locked<Result<T, any Error>?>(nil)
        let done = ChangeSignal()
        let initial = done.current
        Task {
            do {
                let value = try await body()
                result.withLock { $0 = .success(value) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
            done.notify()
        }
        var seen = initial
        while true {
            if let value = result.withLock({ $0 }) { return try value.get() }
            seen = done.wait(since: seen, timeoutMillis: 100)
        }
    }
}
