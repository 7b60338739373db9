import SluiceBroker
import SluiceCore
import SluiceLog

extension KafkaRequestHandler {
    struct FetchPartition: Sendable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var maxBytes: Int32
    }

    struct FetchRequest: Sendable {
        var version: Int16
        var maxWaitMillis: Int32
        var minBytes: Int32
        var maxBytes: Int32
        var partitions: [FetchPartition]
    }

    /// Fetch v4–11 (v0–3 are advertised and answered with an error per partition): whole stored batches
    /// from each partition's offset, as they lie on disk (never decoded). With fewer than `min_bytes`,
    /// the request waits for appends up to `max_wait_ms`.
    func fetch(_ body: inout WireReader, version: Int16, memory: FetchMemory) throws(WireError) -> KafkaOutcome {
        _ = try body.int32()  // replica_id
        let maxWait = try body.int32()
        let minBytes = try body.int32()
        let maxBytes = version >= 3 ? try body.int32() : Int32.max
        if version >= 4 { _ = try body.int8() }  // isolation_level
        if version >= 7 {
            _ = try body.int32()  // session_id: sessions are not offered (the answer's id is 0)
            _ = try body.int32()  // session_epoch
        }
        var partitions: [FetchPartition] = []
        let topicCount = try body.arrayCount() ?? 0
        for _ in 0..<topicCount {
            let topic = try body.string()
            let count = try body.arrayCount(minimumItemSize: 16) ?? 0
            for _ in 0..<count {
                let partition = try body.int32()
                if version >= 9 { _ = try body.int32() }  // current_leader_epoch
                let offset = try body.int64()
                if version >= 5 { _ = try body.int64() }  // log_start_offset (followers only)
                let partitionMax = try body.int32()
                partitions.append(
                    FetchPartition(topic: topic, partition: partition, offset: offset, maxBytes: partitionMax))
            }
        }
        let request = FetchRequest(
            version: version, maxWaitMillis: maxWait, minBytes: minBytes, maxBytes: maxBytes, partitions: partitions)
        if version < 4 || partitions.isEmpty || maxWait <= 0 {
            return .reply(fetchAnswer(request, final: true, memory: memory) ?? [])
        }
        if let answer = fetchAnswer(request, final: false, memory: memory) { return .reply(answer) }
        let caughtUp = memory.hadRecords.withLock { had in
            let asked = Set(partitions.map { TopicPartition($0.topic, $0.partition) })
            defer { had.subtract(asked) }
            return !had.isDisjoint(with: asked)
        }
        if caughtUp { return .reply(fetchAnswer(request, final: true, memory: memory) ?? []) }
        let deadline = Time.monotonicNanos() + UInt64(maxWait) * 1_000_000
        return .park(deadline: deadline) { [self] final in fetchAnswer(request, final: final, memory: memory) }
    }

    /// The answer to `request` from what is stored now; nil when it is not final and holds fewer than
    /// `min_bytes` of records.
    func fetchAnswer(_ request: FetchRequest, final: Bool, memory: FetchMemory) -> [UInt8]? {
        let version = request.version
        struct Answer {
            var error: KafkaError
            var highWatermark: Int64 = -1
            var logStart: Int64 = -1
            var records: [UInt8] = []
        }
        var budget = Int(request.maxBytes)
        var total = 0
        var answers: [Answer] = []
        answers.reserveCapacity(request.partitions.count)
        let running: Bool? = withBroker { broker in
            for wanted in request.partitions {
                if version < 4 {
                    answers.append(Answer(error: .unsupportedForMessageFormat))
                    continue
                }
                if TopicName.isInternal(wanted.topic) {
                    answers.append(Answer(error: .topicAuthorizationFailed))
                    continue
                }
                let tp = TopicPartition(wanted.topic, wanted.partition)
                do {
                    let (start, end) = try broker.offsets(tp)
                    var answer = Answer(error: .none, highWatermark: end, logStart: start)
                    if wanted.offset < start || wanted.offset > end {
                        answer.error = .offsetOutOfRange
                    } else if wanted.offset < end && budget > 0 {
                        // At least one batch for the first partition with data, as Kafka does, so that a
                        // batch larger than the limits still comes.
                        let limit =
                            total == 0 ? max(1, min(Int(wanted.maxBytes), budget)) : min(Int(wanted.maxBytes), budget)
                        if limit > 0 {
                            answer.records = try broker.read(tp, from: wanted.offset, maxBytes: limit)
                            if total > 0 && answer.records.count > budget { answer.records = [] }
                        }
                    }
                    budget -= answer.records.count
                    total += answer.records.count
                    answers.append(answer)
                } catch {
                    answers.append(Answer(error: Self.code(error)))
                }
            }
            return true
        }
        if running == nil {
            answers = request.partitions.map { _ in Answer(error: .notLeaderOrFollower) }
        } else if !final && total < max(1, Int(request.minBytes)) {
            return nil
        }
        if total > 0 {
            memory.hadRecords.withLock { had in
                for (index, answer) in answers.enumerated() where !answer.records.isEmpty {
                    had.insert(TopicPartition(request.partitions[index].topic, request.partitions[index].partition))
                }
            }
        }
        var out = WireWriter(capacity: 64 + total + request.partitions.count * 64)
        if version >= 1 { out.int32(0) }
        if version >= 7 {
            out.int16(KafkaError.none.rawValue)
            out.int32(0)  // session_id: no session
        }
        // Partitions grouped by topic, in the request's order.
        var index = 0
        var groups: [(String, Range<Int>)] = []
        while index < request.partitions.count {
            let topic = request.partitions[index].topic
            var end = index + 1
            while end < request.partitions.count && request.partitions[end].topic == topic { end += 1 }
            groups.append((topic, index..<end))
            index = end
        }
        out.array(groups) { out, group in
            out.string(group.0)
            out.array(group.1) { out, at in
                let answer = answers[at]
                out.int32(request.partitions[at].partition)
                out.int16(answer.error.rawValue)
                out.int64(answer.highWatermark)
                if version >= 4 {
                    out.int64(answer.highWatermark)  // last_stable_offset: no transactions
                }
                if version >= 5 { out.int64(answer.logStart) }
                if version >= 4 { out.int32(-1) }  // aborted_transactions: null
                if version >= 11 { out.int32(-1) }  // preferred_read_replica
                out.bytesValue(answer.records)
            }
        }
        return out.bytes
    }

    /// ListOffsets v0–5: the first offset (-2), the next offset (-1), or the first offset at or after a
    /// timestamp.
    func listOffsets(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        _ = try body.int32()  // replica_id
        if version >= 2 { _ = try body.int8() }
        struct Wanted {
            var partition: Int32
            var timestamp: Int64
        }
        let topics = try body.array { (r: inout WireReader) throws(WireError) -> (String, [Wanted]) in
            let name = try r.string()
            let partitions = try r.array { (p: inout WireReader) throws(WireError) -> Wanted in
                let partition = try p.int32()
                if version >= 4 { _ = try p.int32() }
                let timestamp = try p.int64()
                if version == 0 { _ = try p.int32() }
                return Wanted(partition: partition, timestamp: timestamp)
            }
            return (name, partitions)
        }
        var out = WireWriter()
        if version >= 2 { out.int32(0) }
        out.array(topics) { out, topic in
            out.string(topic.0)
            out.array(topic.1) { out, wanted in
                let tp = TopicPartition(topic.0, wanted.partition)
                var code = KafkaError.none
                var offset: Int64 = -1
                var timestamp: Int64 = -1
                let found: Void? = withBroker { broker in
                    if TopicName.isInternal(tp.topic) {
                        code = .topicAuthorizationFailed
                        return
                    }
                    do {
                        let (start, end) = try broker.offsets(tp)
                        switch wanted.timestamp {
                        case -1: offset = end
                        case -2: offset = start
                        default:
                            let found = try broker.log(tp).firstRecord(atOrAfter: wanted.timestamp)
                            (offset, timestamp) = found ?? (-1, -1)
                        }
                    } catch {
                        code = Self.code(error)
                    }
                }
                if found == nil { code = .notLeaderOrFollower }
                out.int32(wanted.partition)
                out.int16(code.rawValue)
                if version == 0 {
                    out.array(offset >= 0 ? [offset] : []) { $0.int64($1) }
                } else {
                    out.int64(timestamp)
                    out.int64(offset)
                    if version >= 4 { out.int32(0) }  // leader_epoch
                }
            }
        }
        return out.bytes
    }
}
