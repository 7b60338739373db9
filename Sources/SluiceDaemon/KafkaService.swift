import Logging
import SluiceBroker
import SluiceCore
import SluiceKafkaWire
import SluiceKit
import SluiceRuntime

#if canImport(Glibc)
    import Glibc
#endif

extension PipelineObserver: BrokerProvider {}

/// The daemon's Kafka protocol listener, serving the running pipeline's broker.
enum KafkaService {
    /// Starts the listener the `kafka` section (or `--kafka-listen`) asks for; nil when neither does.
    static func start(
        _ section: KafkaSettings?, override: (host: String, port: Int)?, observer: PipelineObserver, logger: Logger
    ) throws -> (listener: KafkaListener, address: String)? {
        guard section != nil || override != nil else { return nil }
        var settings = section ?? KafkaSettings()
        let path = override == nil ? "kafka.listen" : "--kafka-listen"
        if let override {
            settings.host = override.host
            settings.port = override.port
        }
        let advertised =
            settings.advertisedHost ?? (["0.0.0.0", "::"].contains(settings.host) ? hostName() : settings.host)
        let handler = KafkaRequestHandler(
            settings: .init(
                advertisedHost: advertised, advertisedPort: Int32(settings.port),
                autoCreateTopics: settings.autoCreateTopics, defaultPartitions: settings.defaultPartitions),
            brokers: observer, logger: logger)
        let listener = KafkaListener(handler: handler, logger: logger)
        let address: String
        do {
            address = try listener.start(host: settings.host, port: settings.port)
        } catch {
            listener.stop()
            throw ConfigError([
                ConfigProblem(
                    path,
                    "cannot listen on \(settings.host):\(settings.port): \(ListenFailure.reason(error)); is another "
                        + "broker running?")
            ])
        }
        logger.notice("Kafka listener started", metadata: ["kafka": "\(address)", "advertised_host": "\(advertised)"])
        return (listener, address)
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
