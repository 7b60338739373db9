import SluiceBroker
import SluiceCore
import SluiceLog

extension KafkaRequestHandler {
    struct PartitionResult {
        var partition: Int32
        var error: KafkaError
        var baseOffset: Int64 = -1
        var logStartOffset: Int64 = -1
        var message: String?
    }

    /// Produce v3–8 (v0–2 are advertised and answered with an error per partition): each partition's
    /// record batches are checked and appended as they are, compression included; the answer comes once
    /// they are appended, durable as the topic's flush policy says. acks=0 gets no answer.
    func produce(_ body: inout WireReader, version: Int16) throws(WireError) -> KafkaOutcome {
        let transactionalID = version >= 3 ? try body.nullableString() : nil
        let acks = try body.int16()
        _ = try body.int32()  // timeout_ms
        var topics: [(String, [PartitionResult])] = []
        let topicCount = try body.arrayCount() ?? 0
        for _ in 0..<topicCount {
            let topic = try body.string()
            var results: [PartitionResult] = []
            let partitionCount = try body.arrayCount() ?? 0
            for _ in 0..<partitionCount {
                let partition = try body.int32()
                let records = try body.nullableBytes() ?? []
                if version < 3 {
                    results.append(
                        PartitionResult(
                            partition: partition, error: .unsupportedForMessageFormat,
                            message: "produce v\(version) carries message sets before v2; use Produce v3 or later"))
                } else if transactionalID != nil {
                    results.append(
                        PartitionResult(
                            partition: partition, error: .transactionalIdAuthorizationFailed,
                            message: "transactions are not supported"))
                } else if ![-1, 0, 1].contains(acks) {
                    results.append(PartitionResult(partition: partition, error: .invalidRequiredAcks))
                } else if TopicName.isInternal(topic) {
                    results.append(
                        PartitionResult(
                            partition: partition, error: .topicAuthorizationFailed,
                            message: Self.internalTopicMessage(topic)))
                } else {
                    results.append(append(records, to: TopicPartition(topic, partition)))
                }
            }
            topics.append((topic, results))
        }
        if acks == 0 { return .noReply }
        var out = WireWriter()
        out.array(topics) { out, entry in
            out.string(entry.0)
            out.array(entry.1) { out, result in
                out.int32(result.partition)
                out.int16(result.error.rawValue)
                out.int64(result.baseOffset)
                if version >= 2 { out.int64(-1) }  // log_append_time_ms: CreateTime
                if version >= 5 { out.int64(result.logStartOffset) }
                if version >= 8 {
                    out.array([Int32]()) { _, _ in }  // record_errors
                    out.string(result.message)
                }
            }
        }
        if version >= 1 { out.int32(0) }
        return .reply(out.bytes)
    }

    /// Checks and appends the batches in `records` to `tp`; the first one's base offset.
    func append(_ records: ArraySlice<UInt8>, to tp: TopicPartition) -> PartitionResult {
        var batches: [[UInt8]] = []
        var at = records.startIndex
        while at < records.endIndex {
            let left = records.endIndex - at
            guard left >= RecordBatchHeader.size else {
                return PartitionResult(
                    partition: tp.partition, error: .corruptMessage, message: "a record batch cut short")
            }
            let header = records.withUnsafeBytes { RecordBatchHeader($0, at: at - records.startIndex) }
            if let problem = header.problem(maxBatchBytes: Int(Int32.max)) {
                return PartitionResult(partition: tp.partition, error: .corruptMessage, message: problem)
            }
            guard header.totalSize <= left else {
                return PartitionResult(
                    partition: tp.partition, error: .corruptMessage,
                    message: "a batch of \(header.totalSize) bytes in \(left)")
            }
            if header.isTransactional || header.isControl {
                return PartitionResult(
                    partition: tp.partition, error: .transactionalIdAuthorizationFailed,
                    message: "transactional batches are not supported")
            }
            guard (0...4).contains(header.compressionCode) else {
                return PartitionResult(
                    partition: tp.partition, error: .unsupportedCompressionType,
                    message: "compression codec \(header.compressionCode) is not one of Kafka's")
            }
            let batch = Array(records[at..<at + header.totalSize])
            let crc = batch.withUnsafeBytes { RecordBatch.computeCRC($0, at: 0, totalSize: $0.count) }
            guard crc == header.crc else {
                return PartitionResult(
                    partition: tp.partition, error: .corruptMessage, message: "a record batch fails its CRC check")
            }
            // Every record is read (and a compressed batch decompressed) before anything is stored, as
            // Kafka does: a batch whose records do not match its header would stop every reader at it.
            do {
                let block = try RecordBatchDecoder.decode(batch, verifyCRC: false)
                guard block.count == Int(header.recordCount) else {
                    return PartitionResult(
                        partition: tp.partition, error: .corruptMessage,
                        message: "a record batch says \(header.recordCount) records and holds \(block.count)")
                }
            } catch {
                return PartitionResult(partition: tp.partition, error: .corruptMessage, message: "\(error)")
            }
            batches.append(batch)
            at += header.totalSize
        }
        guard !batches.isEmpty else {
            return PartitionResult(partition: tp.partition, error: .corruptMessage, message: "no record batch")
        }
        let outcome: PartitionResult? = withBroker { broker in
            guard autoCreate(tp.topic, in: broker), let config = broker.topicConfig(tp.topic) else {
                return PartitionResult(partition: tp.partition, error: .unknownTopicOrPartition)
            }
            let limit = config.logConfig.maxBatchBytes
            if let large = batches.first(where: { $0.count > limit }) {
                return PartitionResult(
                    partition: tp.partition, error: .messageTooLarge,
                    message: "a record batch of \(large.count) bytes is larger than the topic's max_message_bytes "
                        + "(\(limit))")
            }
            var base: Int64 = -1
            do {
                for index in batches.indices {
                    let header = batches[index].withUnsafeBytes { RecordBatchHeader($0) }
                    var first: Int64
                    if header.producerId >= 0 {
                        let (code, offset) = try producers.append(
                            producerID: header.producerId, epoch: header.producerEpoch,
                            firstSequence: header.baseSequence, count: header.lastOffsetDelta + 1, to: tp,
                            broker: broker
                        ) { try broker.append(&batches[index], to: tp, verifiedCRC: true).baseOffset }
                        guard code == .none else {
                            return PartitionResult(partition: tp.partition, error: code, baseOffset: -1)
                        }
                        first = offset
                    } else {
                        first = try broker.append(&batches[index], to: tp, verifiedCRC: true).baseOffset
                    }
                    if base < 0 { base = first }
                }
                let start = (try? broker.offsets(tp).start) ?? -1
                return PartitionResult(partition: tp.partition, error: .none, baseOffset: base, logStartOffset: start)
            } catch {
                return PartitionResult(partition: tp.partition, error: Self.code(error), message: "\(error)")
            }
        }
        return outcome ?? PartitionResult(partition: tp.partition, error: .notLeaderOrFollower)
    }
}
