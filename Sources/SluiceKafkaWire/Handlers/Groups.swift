import SluiceBroker
import SluiceCore

extension KafkaRequestHandler {
    /// JoinGroup v0–5; from v4 a member without an id is first given one with MEMBER_ID_REQUIRED.
    func joinGroup(_ body: inout WireReader, version: Int16, request: KafkaRequest) throws(WireError) -> KafkaOutcome {
        let group = try body.string()
        let session = try body.int32()
        let rebalance = version >= 1 ? try body.int32() : session
        let memberID = try body.string()
        if version >= 5 { _ = try body.nullableString() }  // group_instance_id: static membership is not offered
        let protocolType = try body.string()
        let protocols = try body.array { (r: inout WireReader) throws(WireError) -> (name: String, metadata: [UInt8]) in
            (try r.string(), Array(try r.bytesValue()))
        }
        let groups = self.groups
        return .later { send in
            groups.join(
                group: group, memberID: memberID, clientID: request.clientID ?? "", host: request.clientHost,
                sessionTimeoutMillis: Int(session), rebalanceTimeoutMillis: Int(rebalance), protocolType: protocolType,
                protocols: protocols, requireKnownMemberID: version >= 4
            ) { answer in
                var out = WireWriter()
                if version >= 2 { out.int32(0) }
                out.int16(answer.error.rawValue)
                out.int32(answer.generation)
                out.string(answer.protocolName)
                out.string(answer.leader)
                out.string(answer.memberID)
                out.array(answer.members) { out, member in
                    out.string(member.id)
                    if version >= 5 { out.string(member.instance) }
                    out.bytesValue(member.metadata)
                }
                send(out.bytes)
            }
        }
    }

    /// SyncGroup v0–3: the leader's assignments handed to every member.
    func syncGroup(_ body: inout WireReader, version: Int16) throws(WireError) -> KafkaOutcome {
        let group = try body.string()
        let generation = try body.int32()
        let memberID = try body.string()
        if version >= 3 { _ = try body.nullableString() }
        var assignments: [String: [UInt8]] = [:]
        let count = try body.arrayCount() ?? 0
        for _ in 0..<count {
            let member = try body.string()
            assignments[member] = Array(try body.bytesValue())
        }
        let groups = self.groups
        let given = assignments
        return .later { send in
            groups.sync(group: group, generation: generation, memberID: memberID, assignments: given) {
                error, assignment in
                var out = WireWriter()
                if version >= 1 { out.int32(0) }
                out.int16(error.rawValue)
                out.bytesValue(assignment)
                send(out.bytes)
            }
        }
    }

    /// Heartbeat v0–3.
    func heartbeat(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let group = try body.string()
        let generation = try body.int32()
        let memberID = try body.string()
        if version >= 3 { _ = try body.nullableString() }
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        out.int16(groups.heartbeat(group: group, generation: generation, memberID: memberID).rawValue)
        return out.bytes
    }

    /// LeaveGroup v0–3 (v3 leaves several members at once).
    func leaveGroup(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let group = try body.string()
        var members: [(String, String?)] = []
        if version >= 3 {
            members = try body.array { (r: inout WireReader) throws(WireError) -> (String, String?) in
                (try r.string(), try r.nullableString())
            }
        } else {
            members = [(try body.string(), nil)]
        }
        let results = groups.leave(group: group, memberIDs: members.map(\.0))
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        if version >= 3 {
            out.int16(KafkaError.none.rawValue)
            out.array(Array(zip(members, results))) { out, pair in
                out.string(pair.0.0)
                out.string(pair.0.1)
                out.int16(pair.1.rawValue)
            }
        } else {
            out.int16(results.first?.rawValue ?? KafkaError.unknownMemberID.rawValue)
        }
        return out.bytes
    }

    /// OffsetCommit v0–7: durable before it is answered; fenced by the group's generation.
    func offsetCommit(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let group = try body.string()
        let generation = version >= 1 ? try body.int32() : -1
        let memberID = version >= 1 ? try body.string() : ""
        if (2...4).contains(version) { _ = try body.int64() }  // retention_time_ms
        if version >= 7 { _ = try body.nullableString() }
        var topics: [(String, [(Int32, Int64)])] = []
        let topicCount = try body.arrayCount() ?? 0
        for _ in 0..<topicCount {
            let name = try body.string()
            var partitions: [(Int32, Int64)] = []
            let count = try body.arrayCount() ?? 0
            for _ in 0..<count {
                let partition = try body.int32()
                let offset = try body.int64()
                if version >= 6 { _ = try body.int32() }
                if version == 1 { _ = try body.int64() }
                _ = try body.nullableString()  // metadata: not kept
                partitions.append((partition, offset))
            }
            topics.append((name, partitions))
        }
        var code = groups.checkCommit(group: group, generation: generation, memberID: memberID)
        if group.isEmpty { code = .invalidGroupId }
        var perPartition: [TopicPartition: KafkaError] = [:]
        if code == .none {
            var offsets: [TopicPartition: Int64] = [:]
            let known: Void? = withBroker { broker in
                for (topic, partitions) in topics {
                    let count = (try? broker.partitionCount(topic)) ?? 0
                    for (partition, offset) in partitions {
                        let tp = TopicPartition(topic, partition)
                        if partition < 0 || partition >= count {
                            perPartition[tp] = .unknownTopicOrPartition
                        } else {
                            offsets[tp] = max(0, offset)
                        }
                    }
                }
                do {
                    try broker.commitExternal(group, offsets)
                } catch let error as BrokerError where error.code == .invalidConfig {
                    code = .inconsistentGroupProtocol
                } catch {
                    code = .kafkaStorageError
                }
            }
            if known == nil { code = .coordinatorNotAvailable }
        }
        var out = WireWriter()
        if version >= 3 { out.int32(0) }
        out.array(topics) { out, topic in
            out.string(topic.0)
            out.array(topic.1) { out, partition in
                out.int32(partition.0)
                let own = perPartition[TopicPartition(topic.0, partition.0)]
                out.int16((code != .none ? code : own ?? .none).rawValue)
            }
        }
        return out.bytes
    }

    /// OffsetFetch v0–5: the group's committed offsets (-1 where none), for the topics asked or all.
    func offsetFetch(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let group = try body.string()
        let asked: [(String, [Int32])]? = try body.arrayCount().map { count throws(WireError) in
            var topics: [(String, [Int32])] = []
            for _ in 0..<count {
                let name = try body.string()
                topics.append(
                    (
                        name,
                        try body.array(minimumItemSize: 4) { (r: inout WireReader) throws(WireError) in try r.int32() }
                    ))
            }
            return topics
        }
        let committed = withBroker { $0.committedOffsets(group) }
        var topics = asked ?? []
        if asked == nil, let committed {
            var byTopic: [String: [Int32]] = [:]
            for tp in committed.keys { byTopic[tp.topic, default: []].append(tp.partition) }
            topics = byTopic.sorted { $0.key < $1.key }.map { ($0.key, $0.value.sorted()) }
        }
        var out = WireWriter()
        if version >= 3 { out.int32(0) }
        out.array(topics) { out, topic in
            out.string(topic.0)
            out.array(topic.1) { out, partition in
                out.int32(partition)
                out.int64(committed?[TopicPartition(topic.0, partition)] ?? -1)
                if version >= 5 { out.int32(-1) }
                out.string("")
                out.int16(KafkaError.none.rawValue)
            }
        }
        if version >= 2 { out.int16((committed == nil ? KafkaError.coordinatorNotAvailable : .none).rawValue) }
        return out.bytes
    }

    /// ListGroups v0–2: Kafka clients' groups and Sluice's own (protocol type "sluice").
    func listGroups(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        var entries: [String: String] = [:]
        for name in withBroker({ $0.groupNames() }) ?? [] { entries[name] = "sluice" }
        for name in groups.names { entries[name] = groups.describe(name)?.protocolType ?? "consumer" }
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        out.int16(KafkaError.none.rawValue)
        out.array(entries.sorted { $0.key < $1.key }) { out, entry in
            out.string(entry.key)
            out.string(entry.value)
        }
        return out.bytes
    }

    /// DescribeGroups v0–4.
    func describeGroups(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let names = try body.array { (r: inout WireReader) throws(WireError) in try r.string() }
        if version >= 3 { _ = try body.bool() }
        var out = WireWriter()
        if version >= 1 { out.int32(0) }
        out.array(names) { out, name in
            let description = groups.describe(name)
            out.int16(KafkaError.none.rawValue)
            out.string(name)
            out.string(description?.phase.rawValue ?? "Dead")
            out.string(description?.protocolType ?? "")
            out.string(description?.protocolName ?? "")
            out.array(description?.members ?? []) { out, member in
                out.string(member.id)
                if version >= 4 { out.string(nil) }
                out.string(member.clientID)
                out.string(member.host)
                out.bytesValue(member.protocols.first { $0.name == description?.protocolName }?.metadata ?? [])
                out.bytesValue(member.assignment)
            }
            if version >= 3 { out.int32(Int32.min) }
        }
        return out.bytes
    }
}
