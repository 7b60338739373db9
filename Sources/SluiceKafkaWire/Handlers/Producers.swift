import SluiceBroker
import SluiceCore
import SluiceLog

/// Idempotent producers: ids that never repeat (blocks reserved in a file of the data directory, fsynced
/// before any id of a block is handed out), and per partition the last batches of each producer, so that
/// a batch sent again gets its first offsets back instead of being stored twice, and a gap in sequence
/// numbers is refused.
final class ProducerStates: Sendable {
    /// What is remembered of one of a producer's batches.
    struct Batch {
        var firstSequence: Int32
        var lastSequence: Int32
        var baseOffset: Int64
    }

    struct Producer {
        var epoch: Int16
        /// The last few batches, oldest first (Kafka keeps five: a producer has at most five in flight).
        var batches: [Batch]
    }

    static let remembered = 5
    /// How far back the state of a partition is read from its log the first time it is used.
    static let rebuildRecords: Int64 = 100_000
    static let blockSize: Int64 = 1_000

    private struct IDs {
        var next: Int64 = 0
        var reservedUpTo: Int64 = 0
        var directory = ""
    }

    private let ids = Locked(IDs())
    /// Per partition, each producer's state, behind the partition's own lock.
    private let partitions = Locked<[TopicPartition: Locked<[Int64: Producer]?>]>([:])

    /// A new producer id, from the block reserved in `broker`'s data directory.
    func newProducerID(_ broker: Broker) throws -> Int64 {
        try ids.withLock { ids in
            let file = broker.dataDirectory + "/__kafka/producer-ids"
            if ids.directory != broker.dataDirectory {
                let stored = (try? FileSystem.readFile(file)).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
                ids = IDs(next: stored ?? 0, reservedUpTo: stored ?? 0, directory: broker.dataDirectory)
            }
            if ids.next >= ids.reservedUpTo {
                let upTo = ids.next + Self.blockSize
                try FileSystem.createDirectory(broker.dataDirectory + "/__kafka")
                try FileSystem.writeAtomically(file, Array(String(upTo).utf8), sync: true)
                ids.reservedUpTo = upTo
            }
            defer { ids.next += 1 }
            return ids.next
        }
    }

    /// Runs `append` for an idempotent batch unless it repeats one already stored (then its base offset
    /// comes back); refuses an old epoch or a gap in the sequence.
    func append(
        producerID: Int64, epoch: Int16, firstSequence: Int32, count: Int32, to tp: TopicPartition, broker: Broker,
        _ append: () throws -> Int64
    ) throws -> (KafkaError, Int64) {
        let lock = partitions.withLock { states in
            if let lock = states[tp] { return lock }
            let lock = Locked<[Int64: Producer]?>(nil)
            states[tp] = lock
            return lock
        }
        return try lock.withLock { state in
            if state == nil { state = Self.rebuild(tp, broker: broker) }
            let lastSequence = Int32(truncatingIfNeeded: Int64(firstSequence) + Int64(count) - 1)
            if let producer = state?[producerID] {
                if epoch < producer.epoch { return (.invalidProducerEpoch, -1) }
                if epoch == producer.epoch {
                    if let repeated = producer.batches.first(where: {
                        $0.firstSequence == firstSequence && $0.lastSequence == lastSequence
                    }) {
                        return (.none, repeated.baseOffset)
                    }
                    let expected = producer.batches.last.map { $0.lastSequence == Int32.max ? 0 : $0.lastSequence + 1 }
                    if let expected, firstSequence != expected { return (.outOfOrderSequenceNumber, -1) }
                } else if firstSequence != 0 {
                    return (.outOfOrderSequenceNumber, -1)  // a new epoch starts at 0
                }
            }
            let base = try append()
            var producer = state?[producerID] ?? Producer(epoch: epoch, batches: [])
            if producer.epoch != epoch { producer = Producer(epoch: epoch, batches: []) }
            producer.batches.append(Batch(firstSequence: firstSequence, lastSequence: lastSequence, baseOffset: base))
            if producer.batches.count > Self.remembered { producer.batches.removeFirst() }
            state?[producerID] = producer
            return (.none, base)
        }
    }

    /// The producers' last batches as the tail of the partition's log has them.
    private static func rebuild(_ tp: TopicPartition, broker: Broker) -> [Int64: Producer] {
        var producers: [Int64: Producer] = [:]
        guard let (start, end) = try? broker.offsets(tp) else { return producers }
        var offset = max(start, end - rebuildRecords)
        while offset < end {
            guard let bytes = try? broker.read(tp, from: offset, maxBytes: 1 << 20), !bytes.isEmpty else { break }
            var at = 0
            var next = offset
            while bytes.count - at >= RecordBatchHeader.size {
                let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: at) }
                guard header.totalSize > 0, at + header.totalSize <= bytes.count else { break }
                if header.producerId >= 0 && header.lastOffset >= offset {
                    var producer = producers[header.producerId] ?? Producer(epoch: header.producerEpoch, batches: [])
                    if producer.epoch != header.producerEpoch {
                        producer = Producer(epoch: header.producerEpoch, batches: [])
                    }
                    producer.batches.append(
                        Batch(
                            firstSequence: header.baseSequence,
                            lastSequence: Int32(
                                truncatingIfNeeded: Int64(header.baseSequence) + Int64(header.lastOffsetDelta)),
                            baseOffset: header.baseOffset))
                    if producer.batches.count > remembered { producer.batches.removeFirst() }
                    producers[header.producerId] = producer
                }
                next = max(next, header.nextOffset)
                at += header.totalSize
            }
            guard next > offset else { break }
            offset = next
        }
        return producers
    }
}

extension KafkaRequestHandler {
    /// InitProducerId v0–1: an id for an idempotent producer; transactional ids are refused.
    func initProducerID(_ body: inout WireReader, version: Int16) throws(WireError) -> [UInt8] {
        let transactionalID = try body.nullableString()
        _ = try body.int32()
        var code = KafkaError.none
        var id: Int64 = -1
        if transactionalID != nil {
            code = .transactionalIdAuthorizationFailed
            logger.warning(
                "a Kafka client asked for a transactional producer; transactions are not supported",
                metadata: ["transactional_id": "\(transactionalID ?? "")"])
        } else {
            let made: Int64?? = withBroker { broker in try? producers.newProducerID(broker) }
            switch made {
            case .some(.some(let value)): id = value
            case .some(.none): code = .kafkaStorageError
            case .none: code = .coordinatorNotAvailable
            }
        }
        var out = WireWriter()
        out.int32(0)
        out.int16(code.rawValue)
        out.int64(id)
        out.int16(id >= 0 ? 0 : -1)
        return out.bytes
    }
}
