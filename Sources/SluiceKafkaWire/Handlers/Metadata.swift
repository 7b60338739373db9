import SluiceBroker
import SluiceCore

extension KafkaRequestHandler {
    /// Metadata v0–8: this one broker, and every topic asked for (all of them for a null list, or an
    /// empty one in v0) with this broker leading each partition.
    func metadata(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let asked: [String]?
        if version == 0 {
            let names = try body.array { (r: inout WireReader) throws(WireError) in try r.string() }
            asked = names.isEmpty ? nil : names
        } else {
            asked = try body.arrayCount().map { count throws(WireError) in
                var names: [String] = []
                for _ in 0..<count { names.append(try body.string()) }
                return names
            }
        }
        let allowCreate = version >= 4 ? try body.bool() : true

        struct TopicAnswer {
            var name: String
            var error: KafkaError
            var partitions: Int32
        }
        let topics: [TopicAnswer] =
            withBroker { broker in
                let names = asked ?? broker.topicNames(includeInternal: false)
                return names.map { name in
                    if TopicName.problem(name) != nil {
                        return TopicAnswer(name: name, error: .invalidTopic, partitions: 0)
                    }
                    if TopicName.isInternal(name) {
                        return TopicAnswer(name: name, error: .topicAuthorizationFailed, partitions: 0)
                    }
                    if broker.topicConfig(name) == nil && !(allowCreate && autoCreate(name, in: broker)) {
                        return TopicAnswer(name: name, error: .unknownTopicOrPartition, partitions: 0)
                    }
                    let count = (try? broker.partitionCount(name)) ?? 0
                    return TopicAnswer(name: name, error: .none, partitions: count)
                }
            } ?? (asked ?? []).map { TopicAnswer(name: $0, error: .leaderNotAvailable, partitions: 0) }

        var out = WireWriter(capacity: 128 + topics.count * 64)
        if version >= 3 { out.int32(0) }
        out.array([Self.nodeID]) { out, node in
            out.int32(node)
            out.string(settings.advertisedHost)
            out.int32(advertisedPort)
            if version >= 1 { out.string(nil) }  // rack
        }
        if version >= 2 { out.string(settings.clusterID) }
        if version >= 1 { out.int32(Self.nodeID) }  // controller
        out.array(topics) { out, topic in
            out.int16(topic.error.rawValue)
            out.string(topic.name)
            if version >= 1 { out.bool(false) }  // is_internal
            out.array(0..<topic.partitions) { out, partition in
                out.int16(KafkaError.none.rawValue)
                out.int32(partition)
                out.int32(Self.nodeID)  // leader
                if version >= 7 { out.int32(0) }  // leader_epoch
                out.array([Self.nodeID]) { $0.int32($1) }  // replicas
                out.array([Self.nodeID]) { $0.int32($1) }  // in-sync replicas
                if version >= 5 { out.int32(0) }  // offline replicas: none
            }
            if version >= 8 { out.int32(Int32.min) }  // topic_authorized_operations: not asked
        }
        if version >= 8 { out.int32(Int32.min) }  // cluster_authorized_operations
        return out.bytes
    }

    /// FindCoordinator v0–2: this broker coordinates every group.
    func findCoordinator(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        _ = try body.string()
        if version >= 1 { _ = try body.int8() }
        let running = withBroker { _ in true } ?? false
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        out.int16((running ? KafkaError.none : .coordinatorNotAvailable).rawValue)
        if version >= 1 { out.string(running ? nil : "the daemon is between pipelines; try again") }
        out.int32(running ? Self.nodeID : -1)
        out.string(running ? settings.advertisedHost : "")
        out.int32(running ? advertisedPort : -1)
        return out.bytes
    }

    /// CreateTopics v0–4: each topic with its partition count (-1: the default) and its configs, in
    /// Kafka's names (`TopicConfig.apply(kafkaConfigs:)`); a replication factor other than 1 (or -1) is
    /// refused, since this broker keeps one copy.
    func createTopics(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        struct Creation {
            var name: String
            var partitions: Int32
            var replication: Int16
            var assigned: Bool
            var configs: [(name: String, value: String?)]
        }
        let creations = try body.array { (r: inout WireReader) throws(WireError) -> Creation in
            let name = try r.string()
            let partitions = try r.int32()
            let replication = try r.int16()
            let assignments = try r.array { (a: inout WireReader) throws(WireError) -> Int in
                _ = try a.int32()
                return try a.array { (b: inout WireReader) throws(WireError) in try b.int32() }.count
            }
            let configs = try r.array { (c: inout WireReader) throws(WireError) -> (name: String, value: String?) in
                (try c.string(), try c.nullableString())
            }
            return Creation(
                name: name, partitions: partitions, replication: replication, assigned: !assignments.isEmpty,
                configs: configs)
        }
        _ = try body.int32()  // timeout_ms
        let validateOnly = version >= 1 ? try body.bool() : false
        let results: [(String, KafkaError, String?)] = creations.map { creation in
            if let problem = TopicName.problem(creation.name) { return (creation.name, .invalidTopic, problem) }
            if TopicName.isInternal(creation.name) {
                return (creation.name, .invalidTopic, "topics starting with \"__\" belong to the broker")
            }
            if creation.replication != -1 && creation.replication != 1 {
                return (
                    creation.name, .invalidReplicationFactor,
                    "this broker keeps one copy of each partition: the replication factor must be 1"
                )
            }
            if creation.assigned {
                return (creation.name, .invalidRequest, "replica assignments are not supported")
            }
            let partitions = creation.partitions == -1 ? settings.defaultPartitions : creation.partitions
            guard partitions >= 1 && partitions <= 10_000 else {
                return (creation.name, .invalidPartitions, "the partition count must be from 1 to 10000")
            }
            let outcome: (KafkaError, String?)? = withBroker { broker in
                if broker.topicConfig(creation.name) != nil {
                    return (.topicAlreadyExists, "topic \"\(creation.name)\" already exists")
                }
                var config = TopicConfig(partitions: partitions)
                let withoutEffect: [String]
                do {
                    withoutEffect = try config.apply(kafkaConfigs: creation.configs)
                } catch {
                    return (
                        .invalidConfig, "topic \"\(creation.name)\": \((error as? BrokerError)?.message ?? "\(error)")"
                    )
                }
                if validateOnly { return (.none, nil) }
                do {
                    try broker.createTopic(creation.name, config: config)
                    let settings = config.overrides.keys.sorted().map { "\($0)=\(config.value(of: $0))" }
                    logger.notice(
                        "topic created by a Kafka client",
                        metadata: [
                            "topic": "\(creation.name)", "partitions": "\(partitions)",
                            "settings": "\(settings.joined(separator: ","))",
                            "not_applied": "\(withoutEffect.joined(separator: ","))",
                        ])
                    return (.none, nil)
                } catch {
                    return (Self.code(error), "\(error)")
                }
            }
            let (code, message) = outcome ?? (.notCoordinator, "the daemon is between pipelines; try again")
            return (creation.name, code, message)
        }
        var out = WireWriter()
        if version >= 2 { out.int32(0) }
        out.array(results) { out, result in
            out.string(result.0)
            out.int16(result.1.rawValue)
            if version >= 1 { out.string(result.2) }
        }
        return out.bytes
    }

    /// DeleteTopics v0–3.
    func deleteTopics(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let names = try body.array { (r: inout WireReader) throws(WireError) in try r.string() }
        _ = try body.int32()
        let results: [(String, KafkaError)] = names.map { name in
            let code: KafkaError? = withBroker { broker in
                do {
                    try broker.deleteTopic(name)
                    logger.notice("topic deleted by a Kafka client", metadata: ["topic": "\(name)"])
                    return .none
                } catch {
                    return Self.code(error)
                }
            }
            return (name, code ?? .notCoordinator)
        }
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        out.array(results) { out, result in
            out.string(result.0)
            out.int16(result.1.rawValue)
        }
        return out.bytes
    }
}
