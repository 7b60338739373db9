import Logging
import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceKit
import SluiceRuntime

/// Where a command finds its data directory, first match wins: `--data-dir DIR`; the `data_dir` of
/// `--config FILE`, resolved as `sluice run FILE` resolves it (relative to the file's folder); the
/// environment variable `SLUICE_DATA_DIR`; `./data`. So a command finds what a run wrote from any folder.
///
/// `--data-dir` and `--config` together must name the same directory: which one was meant cannot be
/// guessed, and a guess would read, or write, the wrong one.
struct DataLocation {
    static let environmentVariable = "SLUICE_DATA_DIR"

    var dataDirectory: String?
    var configFile: String?
    var bootstrapServer: String?
    var environment: [String: String] = ProcessEnvironment.current()

    init(dataDirectory: String?, configFile: String?) {
        self.dataDirectory = dataDirectory
        self.configFile = configFile
    }

    init(_ options: DataDirectoryOptions, configFile: String?) {
        dataDirectory = options.dataDirectory
        bootstrapServer = options.bootstrapServer
        self.configFile = configFile
    }

    /// The chosen directory, and how it was chosen, for messages.
    struct Resolved {
        var path: String
        var origin: String
    }

    func resolve() throws -> Resolved {
        let fromConfig = try configFile.map { (file: $0, path: try Self.dataDirectory(ofConfig: $0)) }
        if let dataDirectory {
            if let fromConfig, FileSystem.absolute(fromConfig.path) != FileSystem.absolute(dataDirectory) {
                throw CommandFailure.usage(
                    "--data-dir \(dataDirectory) and --config \(fromConfig.file) name different data directories "
                        + "(\(fromConfig.file) has data_dir \(fromConfig.path)); give one of them")
            }
            return Resolved(path: dataDirectory, origin: "--data-dir")
        }
        if let fromConfig { return Resolved(path: fromConfig.path, origin: "the data_dir of \(fromConfig.file)") }
        if let path = environment[Self.environmentVariable], !path.isEmpty {
            return Resolved(path: path, origin: "$\(Self.environmentVariable)")
        }
        return Resolved(path: "data", origin: "the default")
    }

    /// The data directory of a pipeline config, loaded and checked as `sluice run` loads it.
    static func dataDirectory(ofConfig file: String) throws -> String {
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        do {
            return try loader.load(path: file).dataDirectory
        } catch let error as ConfigError {
            let hint =
                TopicSettingsHelp.isSetting(file)
                ? "; topic settings (NAME=VALUE) go with `sluice topics create` and `sluice topics alter`"
                : "; fix it, or name the directory with --data-dir"
            throw CommandFailure.usage("--config \(file): cannot take the data directory from it\(hint)\n\(error)")
        }
    }

    /// The topics each sink group of `--config` reads (none without `--config`): a group the config
    /// runs exists for `groups describe` before its first commit.
    func configuredGroups() -> [String: [String]] {
        guard let configFile else { return [:] }
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        guard let config = try? loader.load(path: configFile) else { return [:] }
        var groups: [String: [String]] = [:]
        for sink in config.sinks { groups[sink.group, default: []] += sink.topics }
        return groups
    }

    /// Opens the broker for writing (taking the directory's lock) or read-only.
    func openBroker(readOnly: Bool) throws -> Broker {
        let resolved = try resolve()
        do {
            return try Broker(dataDirectory: resolved.path, readOnly: readOnly, logger: Logger(label: "sluice"))
        } catch let error as BrokerError where readOnly && !FileSystem.exists(resolved.path) {
            throw CommandFailure.runtime(
                "\(error.message) (\(resolved.origin), \(FileSystem.absolute(resolved.path))); name the directory "
                    + "that `sluice run` used with --config FILE (its config), --data-dir DIR or "
                    + "\(Self.environmentVariable)=DIR")
        }
    }

    /// The Kafka cluster the command works on, when it works on one: `--bootstrap-server HOST:PORT`, or
    /// the `broker` section of `--config`.
    func kafkaCluster() throws -> KafkaCluster? {
        var settings: KafkaClusterSettings?
        if let bootstrapServer {
            if dataDirectory != nil {
                throw CommandFailure.usage(
                    "--bootstrap-server and --data-dir name two brokers (a Kafka cluster and a data directory); give one"
                )
            }
            settings = KafkaClusterSettings(bootstrapServers: bootstrapServer)
        } else {
            settings = configKafkaSettings
        }
        guard let settings else { return nil }
        do {
            return try KafkaCluster(settings, logger: Logger(label: "sluice"))
        } catch let error as BrokerError {
            throw CommandFailure.runtime(
                error.message.replacingOccurrences(
                    of: "broker.bootstrap_servers: ", with: bootstrapServer != nil ? "--bootstrap-server: " : ""))
        }
    }

    /// Whether `--config` names a config whose broker is a Kafka cluster (false when it cannot be
    /// loaded: `resolve()` reports why).
    var configNamesKafkaCluster: Bool { configKafkaSettings != nil }

    private var configKafkaSettings: KafkaClusterSettings? {
        guard let configFile else { return nil }
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: ProcessEnvironment.current())
        guard case .kafka(let settings)? = try? loader.load(path: configFile).broker else { return nil }
        return settings
    }

    /// The broker a command that works on both reads and writes: the Kafka cluster, or the data directory.
    func openPipelineBroker(readOnly: Bool) throws -> any PipelineBroker {
        if let cluster = try kafkaCluster() { return cluster }
        return try openBroker(readOnly: readOnly)
    }

    /// The options that name this directory again, for a command printed for the user to run.
    var arguments: [String] {
        if let dataDirectory { return ["--data-dir", dataDirectory] }
        if let configFile { return ["--config", configFile] }
        return []
    }
}
