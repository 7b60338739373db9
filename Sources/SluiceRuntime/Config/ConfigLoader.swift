import SluiceBroker
import SluiceCore
import SluiceExec
import SluiceKafkaClient
import SluiceKit

/// Reads a configuration file: parses the JSON, replaces `${NAME}` and `${NAME:-default}` from the
/// environment (`$$` is a literal `$`), checks every key and value against the declared options, and
/// returns the validated `PipelineConfig` or every problem found, each named by its path.
public struct ConfigLoader {
    public var registry: ConnectorRegistry
    public var environment: [String: String]

    public static let topLevelKeys = ["data_dir", "broker", "topics", "sources", "sinks", "daemon", "admin", "kafka"]

    public init(registry: ConnectorRegistry, environment: [String: String]) {
        self.registry = registry
        self.environment = environment
    }

    /// Loads the file at `path`. Relative paths inside it are taken from the file's folder. A pipe or
    /// FIFO (`sluice validate <(cat config.json)`), or `-` for standard input, is read to its end, and
    /// its relative paths are taken from the current folder: a pipe's folder (`/dev/fd`) is nobody's.
    public func load(path: String) throws -> PipelineConfig {
        let (config, problems) = try collect(path: path)
        guard problems.isEmpty else { throw ConfigError(file: config.file, problems) }
        return config
    }

    /// Loads a configuration held in memory; `file` names it in messages and anchors relative paths
    /// (unless `base` gives their folder).
    public func load(bytes: [UInt8], file: String? = nil, base: String? = nil) throws -> PipelineConfig {
        let (config, problems) = try collect(bytes: bytes, file: file, base: base)
        guard problems.isEmpty else { throw ConfigError(file: file, problems) }
        return config
    }

    /// As `load(path:)`, but returns the configuration with its problems instead of throwing them, so
    /// that a preflight can check the parts that have none. Throws only when there is nothing to check:
    /// no file, not JSON, an environment reference that cannot be replaced.
    func collect(path: String) throws -> (PipelineConfig, [ConfigProblem]) {
        let path = path == "-" ? "/dev/stdin" : path
        let kind = FileSystem.kind(path)
        switch kind {
        case .missing:
            throw ConfigError([ConfigProblem("", "config file \(path) does not exist")])
        case .regularFile, .fifo:
            break
        case let kind:
            throw ConfigError([ConfigProblem("", "config file \(path) is \(kind.phrase), not a file")])
        }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readInput(path)
        } catch {
            throw ConfigError([ConfigProblem("", "cannot read \(path): \(error)")])
        }
        let streamed = kind == .fifo || path.hasPrefix("/dev/") || path.hasPrefix("/proc/")
        var (config, problems) = try collect(bytes: bytes, file: path, base: streamed ? FileSystem.absolute(".") : nil)
        config.file = path
        return (config, problems)
    }

    /// As `load(bytes:file:base:)`, returning the problems; see `collect(path:)`.
    func collect(bytes: [UInt8], file: String?, base: String?) throws -> (PipelineConfig, [ConfigProblem]) {
        let json: JSONValue
        do {
            // Editors on some systems start UTF-8 files with a byte-order mark, which JSON does not allow.
            json = try JSONValue.parse(bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes)
        } catch let error as JSONSyntaxError {
            throw ConfigError(file: file, [ConfigProblem("", "not valid JSON: \(error)")])
        }
        let substitution = substitute(json)
        guard case .object(let members) = substitution.value else {
            throw ConfigError(file: file, [ConfigProblem("", "the configuration must be a JSON object")])
        }
        // Checks of values that came out of an unset variable would only repeat the problem.
        if !substitution.problems.isEmpty { throw ConfigError(file: file, substitution.problems) }
        let environment = substitution.fromEnvironment
        var problems = Self.repeatedKeys(in: json, path: "")
        let base = base ?? file.map { FileSystem.parentDirectory(of: $0) } ?? "."
        var config = PipelineConfig(file: file, dataDirectory: resolve("data", base: base), topics: [], sources: [])
        // Sources and sinks may name connectors installed in the data directory: it is needed first.
        if let text = members.last(where: { $0.key == "data_dir" })?.value.stringValue, !text.isEmpty {
            config.dataDirectory = resolve(text, base: base)
        }
        let installed = InstalledConnectors.folders(dataDirectory: config.dataDirectory, environment: self.environment)
        for (key, value) in members {
            switch key {
            case "data_dir":
                if let text = value.stringValue, !text.isEmpty {
                    config.dataDirectory = resolve(text, base: base)
                } else {
                    problems.append(ConfigProblem("data_dir", "expected a folder path as a string"))
                }
            case "topics":
                config.topics = loadTopics(
                    value, environment, keyRemapAllowed: &config.keyRemapAllowed, problems: &problems)
            case "sources":
                config.sources = loadSources(value, environment, base: base, installed: installed, problems: &problems)
            case "sinks":
                config.sinks = loadSinks(value, environment, base: base, installed: installed, problems: &problems)
            case "daemon": config.daemon = loadDaemon(value, problems: &problems)
            case "admin": config.admin = loadAdmin(value, problems: &problems)
            case "kafka": config.kafka = loadKafka(value, problems: &problems)
            case "broker": config.broker = loadBroker(value, problems: &problems)
            default:
                let hint = Suggestion.closest(to: key, in: Self.topLevelKeys).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(key, "unknown key\(hint) (allowed: \(Self.topLevelKeys.joined(separator: ", ")))"))
            }
        }
        problems += checkTopicUse(config)
        return (config, problems)
    }

    /// A key given twice in one object, anywhere in the file: JSON readers differ on which one counts.
    static func repeatedKeys(in value: JSONValue, path: String) -> [ConfigProblem] {
        switch value {
        case .object(let members):
            var seen: Set<String> = []
            var problems: [ConfigProblem] = []
            for (key, item) in members {
                let itemPath = path.isEmpty ? key : path + "." + key
                if !seen.insert(key).inserted { problems.append(ConfigProblem(itemPath, "given twice")) }
                problems += repeatedKeys(in: item, path: itemPath)
            }
            return problems
        case .array(let items):
            return items.enumerated().flatMap { repeatedKeys(in: $1, path: "\(path)[\($0)]") }
        default:
            return []
        }
    }

    /// For a type that names an installed external connector: adds its command to `fields` and returns
    /// true, or false after a problem (a damaged manifest, a connector of the other role, a `command` of
    /// its own); nil when no connector is installed under that name.
    private func installedConnector(
        _ type: String, _ kind: ConnectorSpec.Kind, in folders: [String],
        fields: inout [(key: String, value: JSONValue)], path: String, problems: inout [ConfigProblem]
    ) -> Bool? {
        switch InstalledConnectors.find(type, in: folders) {
        case nil: return nil
        case .failure(let problem)?:
            problems.append(ConfigProblem(path + ".type", problem.message))
            return false
        case .success(let manifest)?:
            guard manifest.role == kind else {
                problems.append(
                    ConfigProblem(
                        path + ".type",
                        "the installed connector \"\(type)\" is a \(manifest.role.rawValue), not a \(kind.rawValue)"))
                return false
            }
            guard !fields.contains(where: { $0.key == "command" }) else {
                problems.append(
                    ConfigProblem(
                        path + ".command", "an installed connector (\"\(type)\") runs its own command; remove this"))
                return false
            }
            fields.append(("command", .array(manifest.command.map { .string($0) })))
            return true
        }
    }

    /// Makes the file references of a connector's object absolute, from `base`: its `path`, and in a
    /// `command` (an external connector's program and arguments) a relative program path and the
    /// arguments that name files there. An external connector runs in `base` unless its
    /// `working_directory` says otherwise, so that relative paths in its own options mean what they
    /// mean here.
    private func resolveFiles(in fields: inout [(key: String, value: JSONValue)], base: String) {
        if fields.contains(where: { $0.key == "command" }), !fields.contains(where: { $0.key == "working_directory" }) {
            fields.append((key: "working_directory", value: .string(".")))
        }
        for index in fields.indices {
            switch (fields[index].key, fields[index].value) {
            case ("path", .string(let text)):
                fields[index].value = .string(resolve(text, base: base))
            case ("working_directory", .string(let text)):
                fields[index].value = .string(FileSystem.absolute(resolve(text, base: base)))
            case ("command", .array(let words)):
                fields[index].value = .array(
                    words.enumerated().map { i, word in
                        guard let text = word.stringValue, !text.isEmpty, !text.hasPrefix("/"), !text.hasPrefix("-")
                        else { return word }
                        let absolute = resolve(text, base: base)
                        let isFile = i == 0 ? text.contains("/") : FileSystem.kind(absolute) != .missing
                        return isFile ? .string(absolute) : word
                    })
            default: break
            }
        }
    }

    /// The spec to validate a connector's object with: its type's, or for a type whose options depend
    /// on the object (an external connector), the one `resolve` makes; nil with a problem when none can
    /// be made.
    private func concreteSpec(
        _ spec: ConnectorSpec, _ fields: [(key: String, value: JSONValue)], path: String,
        problems: inout [ConfigProblem]
    ) -> ConnectorSpec? {
        guard let resolveSpec = spec.resolve else { return spec }
        switch resolveSpec(fields, path) {
        case .success(let resolved):
            // A connector that declares one of the runtime's own options would never see it.
            let own = Set((CommonOptions.source + CommonOptions.sink).map(\.name))
            if let clash = resolved.options.first(where: { own.contains($0.name) }) {
                problems.append(
                    ConfigProblem(
                        path + ".command",
                        "the connector declares an option \"\(clash.name)\", which is Sluice's own; the connector must "
                            + "name it otherwise"))
                return nil
            }
            return resolved
        case .failure(let problem):
            problems.append(problem)
            return nil
        }
    }

    private func resolve(_ path: String, base: String) -> String {
        path.isEmpty ? path : FileSystem.normalized(path.hasPrefix("/") || base == "." ? path : base + "/" + path)
    }

    // MARK: Sections

    /// The `admin` section: the daemon's admin HTTP API.
    private func loadAdmin(_ value: JSONValue, problems: inout [ConfigProblem]) -> AdminSettings {
        var settings = AdminSettings()
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("admin", "expected an object of admin settings"))
            return settings
        }
        let names = ["listen", "token_env", "token_file", "read_token_env", "read_token_file"]
        for (key, item) in members {
            let path = "admin." + key
            switch key {
            case "listen":
                guard let text = item.stringValue, let listen = AdminSettings.listen(text) else {
                    problems.append(
                        ConfigProblem(
                            path, "expected \"HOST:PORT\" (such as \"127.0.0.1:8090\"), a unix socket path, or \"off\"")
                    )
                    continue
                }
                settings.listen = listen
            case "token_env", "read_token_env":
                guard let text = item.stringValue, !text.isEmpty else {
                    problems.append(ConfigProblem(path, "expected the name of an environment variable"))
                    continue
                }
                if key == "token_env" { settings.tokenEnvironment = text } else { settings.readTokenEnvironment = text }
            case "token_file", "read_token_file":
                guard let text = item.stringValue, !text.isEmpty else {
                    problems.append(ConfigProblem(path, "expected the path of a file that holds the token"))
                    continue
                }
                if key == "token_file" { settings.tokenFile = text } else { settings.readTokenFile = text }
            default:
                let hint = Suggestion.closest(to: key, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(path, "unknown admin setting\(hint) (allowed: \(names.joined(separator: ", ")))"))
            }
        }
        return settings
    }

    /// The `broker` section: the embedded broker (the default) or a Kafka cluster.
    private func loadBroker(_ value: JSONValue, problems: inout [ConfigProblem]) -> BrokerSettings {
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("broker", "expected an object such as {\"type\": \"embedded\"}"))
            return .embedded
        }
        let type = value["type"]?.stringValue ?? "embedded"
        let names = ["type", "bootstrap_servers", "properties", "replication_factor", "request_timeout_ms"]
        switch type {
        case "embedded":
            for (key, _) in members where key != "type" {
                problems.append(
                    ConfigProblem("broker.\(key)", "only a broker of \"type\": \"kafka\" takes \"\(key)\""))
            }
            return .embedded
        case "kafka":
            break
        default:
            problems.append(ConfigProblem("broker.type", "expected \"embedded\" or \"kafka\", found \"\(type)\""))
            return .embedded
        }
        var settings = KafkaClusterSettings(bootstrapServers: "")
        for (key, item) in members {
            let path = "broker." + key
            switch key {
            case "type": continue
            case "bootstrap_servers":
                guard let text = item.stringValue, text.contains(where: { $0 != " " }) else {
                    problems.append(ConfigProblem(path, "expected \"HOST:PORT[,HOST:PORT...]\" as a string"))
                    continue
                }
                settings.bootstrapServers = text
            case "properties":
                guard case .object(let properties) = item else {
                    problems.append(ConfigProblem(path, "expected an object of librdkafka settings (strings)"))
                    continue
                }
                for (name, property) in properties {
                    switch property {
                    case .string(let text): settings.properties[name] = text
                    case .number(let text): settings.properties[name] = text
                    case .bool(let flag): settings.properties[name] = flag ? "true" : "false"
                    default:
                        problems.append(ConfigProblem("\(path).\(name)", "expected a string, a number or a boolean"))
                    }
                }
            case "replication_factor":
                guard let number = item.integerValue, number == -1 || (1...32_767).contains(number) else {
                    problems.append(ConfigProblem(path, "expected a number of replicas (-1: the cluster's default)"))
                    continue
                }
                settings.replicationFactor = Int32(number)
            case "request_timeout_ms":
                guard let number = item.integerValue, (100...600_000).contains(number) else {
                    problems.append(ConfigProblem(path, "expected milliseconds from 100 to 600000"))
                    continue
                }
                settings.requestTimeoutMillis = Int32(number)
            default:
                let hint = Suggestion.closest(to: key, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(path, "unknown broker setting\(hint) (allowed: \(names.joined(separator: ", ")))"))
            }
        }
        if settings.bootstrapServers.isEmpty && value["bootstrap_servers"] == nil {
            problems.append(
                ConfigProblem(
                    "broker.bootstrap_servers", "a Kafka broker needs the cluster's addresses, such as \"kafka1:9092\"")
            )
        }
        for name in [
            "enable.idempotence", "acks", "request.required.acks", "group.id", "enable.auto.commit",
            "transactional.id",
        ]
        where settings.properties[name] != nil {
            problems.append(
                ConfigProblem(
                    "broker.properties.\(name)",
                    "set by Sluice for its delivery guarantees (idempotent producer, acks=all, commits after the "
                        + "durable write, no transactions); remove it"))
        }
        for name in ["bootstrap.servers", "metadata.broker.list"] where settings.properties[name] != nil {
            problems.append(
                ConfigProblem("broker.properties.\(name)", "the cluster's addresses go in broker.bootstrap_servers"))
        }
        return .kafka(settings)
    }

    /// The `kafka` section: the daemon's Kafka protocol listener.
    private func loadKafka(_ value: JSONValue, problems: inout [ConfigProblem]) -> KafkaSettings? {
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("kafka", "expected an object of Kafka listener settings"))
            return nil
        }
        var settings = KafkaSettings()
        let names = ["listen", "advertised_host", "auto_create_topics", "default_partitions"]
        for (key, item) in members {
            let path = "kafka." + key
            switch key {
            case "listen":
                guard let text = item.stringValue, let address = KafkaSettings.address(text) else {
                    problems.append(ConfigProblem(path, "expected \"HOST:PORT\", such as \"127.0.0.1:9092\""))
                    continue
                }
                settings.host = address.host
                settings.port = address.port
            case "advertised_host":
                guard let text = item.stringValue, !text.isEmpty, !text.contains(":") else {
                    problems.append(ConfigProblem(path, "expected the host name clients reach the daemon by"))
                    continue
                }
                settings.advertisedHost = text
            case "auto_create_topics":
                guard case .bool(let flag) = item else {
                    problems.append(ConfigProblem(path, "expected true or false"))
                    continue
                }
                settings.autoCreateTopics = flag
            case "default_partitions":
                guard let number = item.integerValue, (1...10_000).contains(number) else {
                    problems.append(ConfigProblem(path, "expected an integer from 1 to 10000"))
                    continue
                }
                settings.defaultPartitions = Int32(number)
            default:
                let hint = Suggestion.closest(to: key, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(path, "unknown kafka setting\(hint) (allowed: \(names.joined(separator: ", ")))"))
            }
        }
        return settings
    }

    /// The `daemon` section: settings `sluice daemon` reads and `sluice run` ignores.
    private func loadDaemon(_ value: JSONValue, problems: inout [ConfigProblem]) -> DaemonSettings {
        var settings = DaemonSettings()
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("daemon", "expected an object of daemon settings"))
            return settings
        }
        let limits: [(name: String, min: Int64, max: Int64)] = [
            ("poll_interval_ms", 10, 3_600_000), ("shutdown_timeout_ms", 0, 86_400_000),
        ]
        for (key, item) in members {
            let path = "daemon." + key
            guard let limit = limits.first(where: { $0.name == key }) else {
                let names = limits.map(\.name)
                let hint = Suggestion.closest(to: key, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(
                    ConfigProblem(path, "unknown daemon setting\(hint) (allowed: \(names.joined(separator: ", ")))"))
                continue
            }
            guard let number = item.integerValue ?? item.stringValue.flatMap({ Int64($0) }),
                number >= limit.min && number <= limit.max
            else {
                problems.append(ConfigProblem(path, "expected an integer from \(limit.min) to \(limit.max)"))
                continue
            }
            if key == "poll_interval_ms" { settings.pollIntervalMillis = Int(number) }
            if key == "shutdown_timeout_ms" { settings.shutdownTimeoutMillis = Int(number) }
        }
        return settings
    }

    private func loadTopics(
        _ value: JSONValue, _ environment: Set<String>, keyRemapAllowed: inout Set<String>,
        problems: inout [ConfigProblem]
    ) -> [(name: String, config: TopicConfig)] {
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("topics", "expected an object of topics by name"))
            return []
        }
        var topics: [(name: String, config: TopicConfig)] = []
        for (name, settings) in members {
            let path = "topics." + name
            if let problem = TopicName.problem(name) {
                problems.append(ConfigProblem(path, problem))
            } else if let reserved = TopicName.reservation(name) {
                problems.append(ConfigProblem(path, reserved))
            }
            guard case .object(let items) = settings else {
                problems.append(ConfigProblem(path, "expected an object of topic settings"))
                continue
            }
            var config = TopicConfig(partitions: 1)
            for (key, item) in items {
                let itemPath = path + "." + key
                if let problem = Self.quotedValue(item, for: key, fromEnvironment: environment.contains(itemPath)) {
                    problems.append(ConfigProblem(itemPath, problem))
                    continue
                }
                if key == "partitions" {
                    var count = item.integerValue
                    if count == nil, let text = item.stringValue { count = Int64(text) }
                    if let count, count >= 1, count <= Int64(TopicConfig.maxPartitions) {
                        config.partitions = Int32(count)
                    } else {
                        problems.append(
                            ConfigProblem(itemPath, "expected an integer from 1 to \(TopicConfig.maxPartitions)"))
                    }
                    continue
                }
                if key == "allow_key_remap" {
                    guard case .bool(let allowed) = item else {
                        problems.append(ConfigProblem(path + "." + key, "expected true or false"))
                        continue
                    }
                    if allowed { keyRemapAllowed.insert(name) }
                    continue
                }
                if TopicConfig.setting(named: key) == nil {
                    let names = ["partitions", "allow_key_remap"] + TopicConfig.settings.map(\.name)
                    let hint = Suggestion.closest(to: key, in: names).map { "; did you mean \"\($0)\"?" } ?? ""
                    problems.append(ConfigProblem(path + "." + key, "unknown topic setting\(hint)"))
                    continue
                }
                do {
                    try config.set(key, item)
                } catch let error as BrokerError {
                    problems.append(
                        ConfigProblem(path + "." + key, error.message.replacingPrefix("\(key): ", with: "")))
                } catch {
                    problems.append(ConfigProblem(path + "." + key, "\(error)"))
                }
            }
            topics.append((name, config))
        }
        return topics
    }

    private func loadSources(
        _ value: JSONValue, _ environment: Set<String>, base: String, installed: [String],
        problems: inout [ConfigProblem]
    ) -> [SourceDefinition] {
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("sources", "expected an object of sources by name"))
            return []
        }
        var sources: [SourceDefinition] = []
        for (name, item) in members {
            let path = "sources." + name
            guard case .object(var fields) = item else {
                problems.append(ConfigProblem(path, "expected an object with a \"type\""))
                continue
            }
            guard var type = item["type"]?.stringValue else {
                problems.append(ConfigProblem(path + ".type", "required: the connector type, such as \"csv\""))
                continue
            }
            if registry.sources[type] == nil {
                switch installedConnector(
                    type, .source, in: installed, fields: &fields, path: path, problems: &problems)
                {
                case true?: type = "exec"
                case false?: continue
                case nil: break
                }
            }
            guard let entry = registry.sources[type] else {
                let known = registry.sources.keys.sorted()
                let hint = Suggestion.closest(to: type, in: known).map { "did you mean \"\($0)\"? " } ?? ""
                problems.append(
                    ConfigProblem(
                        path + ".type",
                        "unknown source type \"\(type)\"; \(hint)known: \(known.joined(separator: ", "))"))
                continue
            }
            resolveFiles(in: &fields, base: base)
            if case .string(let folder)? = fields.last(where: { $0.key == "working_directory" })?.value,
                FileSystem.kind(folder) != .directory
            {
                problems.append(ConfigProblem(path + ".working_directory", "\(folder) is not a folder"))
            }
            guard let spec = concreteSpec(entry.spec, fields, path: path, problems: &problems) else { continue }
            let (options, found) = spec.validate(
                fields, path: path, common: CommonOptions.source, fromEnvironment: environment)
            problems += found
            let topic = options.string("topic") ?? name
            let deadLetterTopic = options.string("dead_letter_topic") ?? topic + ".dlq"
            for (key, topicName) in [("topic", topic), ("dead_letter_topic", deadLetterTopic)] {
                if let problem = TopicName.problem(topicName) {
                    problems.append(ConfigProblem(path + "." + key, problem))
                } else if let reserved = TopicName.reservation(topicName) {
                    problems.append(ConfigProblem(path + "." + key, reserved))
                }
            }
            sources.append(
                SourceDefinition(
                    name: name, type: type, topic: topic, deadLetterTopic: deadLetterTopic, options: options))
        }
        return sources
    }

    private func loadSinks(
        _ value: JSONValue, _ environment: Set<String>, base: String, installed: [String],
        problems: inout [ConfigProblem]
    ) -> [SinkDefinition] {
        guard case .object(let members) = value else {
            problems.append(ConfigProblem("sinks", "expected an object of sinks by name"))
            return []
        }
        var sinks: [SinkDefinition] = []
        var claimed: [String: String] = [:]
        for (name, item) in members {
            let path = "sinks." + name
            guard case .object(var fields) = item else {
                problems.append(ConfigProblem(path, "expected an object with a \"type\""))
                continue
            }
            guard var type = item["type"]?.stringValue else {
                problems.append(ConfigProblem(path + ".type", "required: the connector type, such as \"file\""))
                continue
            }
            if registry.sinks[type] == nil {
                switch installedConnector(type, .sink, in: installed, fields: &fields, path: path, problems: &problems)
                {
                case true?: type = "exec"
                case false?: continue
                case nil: break
                }
            }
            guard let entry = registry.sinks[type] else {
                let known = registry.sinks.keys.sorted()
                let hint = Suggestion.closest(to: type, in: known).map { "did you mean \"\($0)\"? " } ?? ""
                problems.append(
                    ConfigProblem(
                        path + ".type", "unknown sink type \"\(type)\"; \(hint)known: \(known.joined(separator: ", "))")
                )
                continue
            }
            resolveFiles(in: &fields, base: base)
            if case .string(let folder)? = fields.last(where: { $0.key == "working_directory" })?.value,
                FileSystem.kind(folder) != .directory
            {
                problems.append(ConfigProblem(path + ".working_directory", "\(folder) is not a folder"))
            }
            guard let spec = concreteSpec(entry.spec, fields, path: path, problems: &problems) else { continue }
            let (options, found) = spec.validate(
                fields, path: path, common: CommonOptions.sink, fromEnvironment: environment)
            problems += found
            for claim in spec.claims(options) {
                if let other = claimed[claim.resource] {
                    problems.append(
                        ConfigProblem(
                            path + "." + claim.option,
                            "sink \"\(other)\" writes \(claim.resource) too; give each sink its own"))
                } else {
                    claimed[claim.resource] = name
                }
            }
            let sink = SinkDefinition(name: name, type: type, options: options)
            if found.isEmpty && sink.topics.isEmpty {
                problems.append(ConfigProblem(path + ".topics", "name at least one topic"))
            }
            for (i, topic) in sink.topics.enumerated() {
                if let problem = TopicName.problem(topic) {
                    problems.append(ConfigProblem(path + ".topics[\(i)]", problem))
                }
            }
            if let problem = TopicName.problem(sink.deadLetterTopic) {
                problems.append(ConfigProblem(path + ".dead_letter_topic", problem))
            } else if let reserved = TopicName.reservation(sink.deadLetterTopic) {
                problems.append(ConfigProblem(path + ".dead_letter_topic", reserved))
            } else if sink.topics.contains(sink.deadLetterTopic) {
                problems.append(
                    ConfigProblem(path + ".dead_letter_topic", "must not be one of the topics the sink reads"))
            }
            sinks.append(sink)
        }
        return sinks
    }

    /// Why a topic setting written as a quoted number or boolean is a mistake, or nil when it is not one.
    /// A `${NAME}` reference (`fromEnvironment`) always makes a string, so it may stand for either.
    static func quotedValue(_ value: JSONValue, for key: String, fromEnvironment: Bool) -> String? {
        guard !fromEnvironment, case .string(let text) = value else { return nil }
        let kind: OptionSpec.ValueType
        if key == "partitions" {
            kind = .integer(min: 1, max: Int64(TopicConfig.maxPartitions))
        } else if key == "allow_key_remap" {
            kind = .boolean
        } else {
            switch TopicConfig.setting(named: key)?.kind {
            case .integer(let min, let max): kind = .integer(min: min, max: max)
            case .boolean: kind = .boolean
            default: return nil
            }
        }
        guard let unquoted = OptionSpec.unquoted(text, for: kind) else { return nil }
        return "expected \(kind == .boolean ? "true or false" : "an integer"), found the string \"\(text)\"; "
            + "write \(unquoted) without quotes"
    }

    private func checkTopicUse(_ config: PipelineConfig) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        for source in config.sources where source.topic == source.deadLetterTopic {
            problems.append(
                ConfigProblem("sources.\(source.name).dead_letter_topic", "must differ from the source's topic"))
        }
        // A file sink writing where a source reads would have its files read back as input, run after run.
        for sink in config.sinks where sink.type == "file" {
            guard let path = sink.options.string("path") else { continue }
            let folder = FileSystem.normalized(FileSystem.absolute(path))
            for source in config.sources {
                guard let input = source.options.string("path") else { continue }
                // A folder's every file is read (a file name or a pattern picks its own).
                let absolute = FileSystem.normalized(FileSystem.absolute(input))
                guard FileSystem.kind(absolute) == .directory || input.hasSuffix("/"), absolute == folder else {
                    continue
                }
                problems.append(
                    ConfigProblem(
                        "sinks.\(sink.name).path",
                        "\(folder) is where source \"\(source.name)\" reads its files (sources.\(source.name).path): "
                            + "the sink's files would be read back as input; write them to another folder"))
            }
        }
        return problems
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
