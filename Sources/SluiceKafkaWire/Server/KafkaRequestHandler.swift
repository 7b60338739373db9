import Logging
import SluiceBroker
import SluiceCore
import SluiceLog

/// Answers Kafka requests from the embedded broker. Called on the listener's worker threads, never on
/// an event loop: appends and reads block on the disk.
public final class KafkaRequestHandler: Sendable {
    public struct Settings: Sendable {
        /// The host and port Metadata and FindCoordinator tell clients to reach this broker by.
        public var advertisedHost: String
        public var advertisedPort: Int32
        public var autoCreateTopics: Bool
        public var defaultPartitions: Int32
        /// The cluster id in Metadata answers.
        public var clusterID: String
        /// How long a request waits for a pipeline that is starting before it is answered without one.
        public var brokerWaitMillis = 2_000

        public init(
            advertisedHost: String, advertisedPort: Int32, autoCreateTopics: Bool = true,
            defaultPartitions: Int32 = 1, clusterID: String = "sluice"
        ) {
            self.advertisedHost = advertisedHost
            self.advertisedPort = advertisedPort
            self.autoCreateTopics = autoCreateTopics
            self.defaultPartitions = defaultPartitions
            self.clusterID = clusterID
        }
    }

    /// The one node this broker is.
    static let nodeID: Int32 = 0

    let settings: Settings
    /// The port clients are told: the one bound, when the listener asked for any free one (port 0).
    private let boundPort: Locked<Int32?> = Locked(nil)
    var advertisedPort: Int32 { boundPort.withLock { $0 } ?? settings.advertisedPort }

    /// Called once the listener is bound: a listener on port 0 advertises the port it got.
    func bound(port: Int32) {
        if settings.advertisedPort == 0 { boundPort.withLock { $0 = port } }
    }
    let brokers: any BrokerProvider
    let logger: Logger
    let groups: KafkaGroups
    let producers = ProducerStates()

    /// The APIs answered; the others close the connection, as Kafka does for an unknown API.
    static let implemented: [KafkaAPI] = [
        .apiVersions, .metadata, .produce, .fetch, .listOffsets, .findCoordinator, .createTopics, .deleteTopics,
        .initProducerId, .joinGroup, .syncGroup, .heartbeat, .leaveGroup, .offsetCommit, .offsetFetch, .listGroups,
        .describeGroups,
    ]

    public init(settings: Settings, brokers: any BrokerProvider, logger: Logger) {
        self.settings = settings
        self.brokers = brokers
        self.logger = logger
        groups = KafkaGroups(brokers: brokers, logger: logger)
    }

    /// Answers one request.
    public func handle(_ request: KafkaRequest) -> KafkaOutcome {
        guard let api = KafkaAPI(rawValue: request.apiKey), Self.implemented.contains(api) else {
            return .close("unknown API key \(request.apiKey)")
        }
        if api == .apiVersions { return .reply(apiVersions(request)) }
        guard api.advertised.contains(request.version) else {
            return .close("\(api) version \(request.version) is not supported (\(api.advertised))")
        }
        do {
            var body = request.body
            switch api {
            case .metadata: return .reply(try metadata(&body, version: request.version))
            case .produce: return try produce(&body, version: request.version)
            case .fetch: return try fetch(&body, version: request.version, memory: request.fetches ?? FetchMemory())
            case .listOffsets: return .reply(try listOffsets(&body, version: request.version))
            case .findCoordinator: return .reply(try findCoordinator(&body, version: request.version))
            case .createTopics: return .reply(try createTopics(&body, version: request.version))
            case .deleteTopics: return .reply(try deleteTopics(&body, version: request.version))
            case .initProducerId: return .reply(try initProducerID(&body, version: request.version))
            case .joinGroup: return try joinGroup(&body, version: request.version, request: request)
            case .syncGroup: return try syncGroup(&body, version: request.version)
            case .heartbeat: return .reply(try heartbeat(&body, version: request.version))
            case .leaveGroup: return .reply(try leaveGroup(&body, version: request.version))
            case .offsetCommit: return .reply(try offsetCommit(&body, version: request.version))
            case .offsetFetch: return .reply(try offsetFetch(&body, version: request.version))
            case .listGroups: return .reply(try listGroups(&body, version: request.version))
            case .describeGroups: return .reply(try describeGroups(&body, version: request.version))
            default: return .close("\(api) is not served")
            }
        } catch {
            return .close("a malformed \(api) v\(request.version) request: \(error)")
        }
    }

    // MARK: ApiVersions

    /// ApiVersions v0–3. A version this broker does not know is answered in v0's form with
    /// UNSUPPORTED_VERSION and the list, so that the client can pick one (as Kafka does).
    func apiVersions(_ request: KafkaRequest) -> [UInt8] {
        var out = WireWriter()
        let version = request.version
        let known = KafkaAPI.apiVersions.advertised.contains(version)
        out.int16(known ? KafkaError.none.rawValue : KafkaError.unsupportedVersion.rawValue)
        let apis = Self.implemented.sorted { $0.rawValue < $1.rawValue }
        if known && version >= 3 {
            out.uvarint(UInt32(apis.count + 1))
            for api in apis {
                out.int16(api.rawValue)
                out.int16(api.advertised.lowerBound)
                out.int16(api.advertised.upperBound)
                out.noTaggedFields()
            }
            out.int32(0)  // throttle_time_ms
            out.noTaggedFields()
        } else {
            out.array(apis) { out, api in
                out.int16(api.rawValue)
                out.int16(api.advertised.lowerBound)
                out.int16(api.advertised.upperBound)
            }
            if known && version >= 1 { out.int32(0) }
        }
        return out.bytes
    }

    // MARK: Broker access

    /// Runs `body` with the broker; nil when no pipeline runs (the caller answers with a retriable error).
    /// A request that comes while a pipeline is starting (the daemon's first moments, a reload) waits for
    /// it up to `settings.brokerWaitMillis`, so that a client that connects at once sees the configured topics.
    func withBroker<T>(_ body: (Broker) throws -> T) rethrows -> T? {
        let deadline = Time.monotonicNanos() + UInt64(settings.brokerWaitMillis) * 1_000_000
        while true {
            if let result = try brokers.withBroker(body) { return result }
            if Time.monotonicNanos() >= deadline { return nil }
            Time.sleep(millis: 20)
        }
    }

    /// Kafka's code for a broker error.
    static func code(_ error: any Error) -> KafkaError {
        if let error = error as? BrokerError {
            switch error.code {
            case .topicNotFound: return .unknownTopicOrPartition
            case .invalidPartitions: return .unknownTopicOrPartition
            case .invalidTopic: return .invalidTopic
            case .topicExists: return .topicAlreadyExists
            case .offsetOutOfRange: return .offsetOutOfRange
            case .invalidConfig: return .invalidConfig
            default: return .kafkaStorageError
            }
        }
        if let error = error as? LogError {
            if error.code == .invalidBatch { return .corruptMessage }
            if error.code == .offsetOutOfRange { return .offsetOutOfRange }
            return .kafkaStorageError
        }
        return .unknown
    }

    /// Why a Kafka client may not read or write `topic`, one of the broker's own (`__consumer_offsets`
    /// and the like hold Sluice's state in Sluice's format).
    static func internalTopicMessage(_ topic: String) -> String {
        "topic \"\(topic)\" holds the broker's own state; Kafka clients cannot read or write it"
    }

    /// Creates `topic` when the settings allow it; whether it exists afterwards.
    func autoCreate(_ topic: String, in broker: Broker) -> Bool {
        if broker.topicConfig(topic) != nil { return true }
        guard settings.autoCreateTopics, TopicName.problem(topic) == nil, !TopicName.isInternal(topic) else {
            return false
        }
        do {
            _ = try broker.ensureTopic(topic, config: TopicConfig(partitions: settings.defaultPartitions))
            logger.notice("topic created for a Kafka client", metadata: ["topic": "\(topic)"])
            return true
        } catch {
            logger.warning(
                "cannot create a topic for a Kafka client", metadata: ["topic": "\(topic)", "error": "\(error)"])
            return false
        }
    }
}
