import SluiceBroker
import SluiceCore
import SluiceLog

/// What the runtime stores for a source after each batch: the connector's own checkpoint and, per
/// partition of the topics the source writes, the end offset at that moment. After a crash, the
/// records this source (its producer id) stored beyond those offsets are the ones it must not write
/// again.
struct SourceCheckpoint: Equatable {
    var producerId: Int64
    var connector: [UInt8]
    var partitionEnds: [String: [Int64]]
    /// The id of each topic's incarnation the ends belong to (empty in checkpoints from before ids).
    var topicIDs: [String: String] = [:]

    func encoded() -> [UInt8] {
        let ends = partitionEnds.keys.sorted().map { topic in
            (topic, JSONValue.array((partitionEnds[topic] ?? []).map { .number(String($0)) }))
        }
        let json = JSONValue.object([
            ("version", .number("1")), ("producer_id", .number(String(producerId))),
            ("partitions", .object(ends)), ("connector", .string(String(decoding: connector, as: UTF8.self))),
            (
                "topic_ids",
                .object(topicIDs.keys.sorted().compactMap { key in topicIDs[key].map { (key, .string($0)) } })
            ),
        ])
        return Array(json.serialized().utf8)
    }

    init(producerId: Int64, connector: [UInt8], partitionEnds: [String: [Int64]], topicIDs: [String: String] = [:]) {
        self.producerId = producerId
        self.connector = connector
        self.partitionEnds = partitionEnds
        self.topicIDs = topicIDs
    }

    init?(decoding bytes: [UInt8]) {
        guard let json = try? JSONValue.parse(bytes), let producerId = json["producer_id"]?.integerValue,
            let connector = json["connector"]?.stringValue, case .object(let partitions)? = json["partitions"]
        else { return nil }
        self.producerId = producerId
        self.connector = Array(connector.utf8)
        var ends: [String: [Int64]] = [:]
        for (topic, list) in partitions {
            guard case .array(let items) = list else { return nil }
            ends[topic] = items.compactMap(\.integerValue)
        }
        partitionEnds = ends
        if case .object(let ids)? = json["topic_ids"] {
            for (topic, id) in ids {
                guard let text = id.stringValue else { return nil }
                topicIDs[topic] = text
            }
        }
    }

    /// A stable producer id for a source name: FNV-1a of the name, kept positive.
    static func producerId(for source: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("source:" + source).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return Int64(bitPattern: hash & 0x7FFF_FFFF_FFFF_FFFF)
    }
}

extension SourceCheckpoint {
    /// The headers of the records that the producer `producerId` stored in `topics` at or after `ends`
    /// (each partition's end when a checkpoint was stored; from the log start without one), in the
    /// order they were stored per partition: what was stored after the last checkpoint, found by the
    /// producer id in the batches.
    static func headers(
        storedBy producerId: Int64, after ends: [String: [Int64]], in topics: [String], broker: Broker
    ) throws -> [[Header]] {
        var result: [[Header]] = []
        for topic in topics {
            let count = try broker.partitionCount(topic)
            for partition in 0..<count {
                let tp = TopicPartition(topic, partition)
                var offset = ends[topic].flatMap { Int(partition) < $0.count ? $0[Int(partition)] : nil } ?? 0
                let (start, end) = try broker.offsets(tp)
                offset = max(offset, start)
                while offset < end {
                    let bytes = try broker.read(tp, from: offset, maxBytes: 8 << 20)
                    guard !bytes.isEmpty else { break }
                    var next = offset
                    var position = 0
                    while position + RecordBatchHeader.size <= bytes.count {
                        let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: position) }
                        let size = header.totalSize
                        if header.producerId == producerId {
                            let block = try RecordBatchDecoder.decode(
                                Array(bytes[position..<(position + size)]), from: offset)
                            for index in 0..<block.count { result.append(block.record(index).headers) }
                        }
                        next = header.nextOffset
                        position += size
                    }
                    offset = max(next, offset + 1)
                }
            }
        }
        return result
    }
}
