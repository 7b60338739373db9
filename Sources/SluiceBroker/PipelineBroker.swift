import SluiceCore
import SluiceLog

/// What the pipeline engine needs from a broker, so that sources, sinks, the commit protocol,
/// dead-lettering and the summary are the same code on the embedded `Broker` and on a Kafka cluster
/// (`SluiceKafkaClient`). Everything here is thread-safe.
public protocol PipelineBroker: AnyObject, Sendable {
    /// Moves when records are appended (and when a waiting reader is to look again).
    var appended: ChangeSignal { get }
    /// Moves when a group commits offsets.
    var committed: ChangeSignal { get }
    /// The topic's settings, nil when it does not exist.
    func topicConfig(_ topic: String) -> TopicConfig?
    /// An id of the topic's incarnation (a topic deleted and created again gets another), when the broker
    /// has one.
    func topicID(_ topic: String) -> String?
    func partitionCount(_ topic: String) throws -> Int32
    /// The first stored offset and the next offset of a partition.
    func offsets(_ tp: TopicPartition) throws -> (start: Int64, end: Int64)
    /// Each partition's end offset, for a source's checkpoint after its batch was acknowledged (the
    /// default asks `offsets` of each).
    func sourceEnds(_ topic: String) throws -> [Int64]
    /// Makes every append to `tp` durable, whatever its topic's flush policy.
    func flush(_ tp: TopicPartition) throws
    func committedOffsets(_ group: String) -> [TopicPartition: Int64]
    /// The highest offset the group ever committed per partition (resets back included).
    func committedHighWater(_ group: String) -> [TopicPartition: Int64]
    /// The group's position and lag on each partition of `topics`.
    func lag(group: String, topics: [String]) throws -> [Broker.GroupPartition]
    /// The most bytes that one of `groups` has not consumed in one partition of `topic`.
    func unconsumedBytes(topic: String, groups: [String]) throws -> Int64
    /// The checkpoint a source stored last.
    func sourceCheckpoint(_ source: String) -> [UInt8]?
    func storeSourceCheckpoint(_ source: String, _ checkpoint: [UInt8]) throws
    func createTopic(_ name: String, config: TopicConfig) throws
    /// Creates the topic with the default settings when it does not exist; true when it was created.
    @discardableResult
    func ensureTopic(_ name: String, config: TopicConfig) throws -> Bool
    /// Raises a topic's partition count (never lowers it).
    func setPartitionCount(_ name: String, to count: Int32, allowKeyRemap: Bool) throws
    /// Applies a topic's settings (its partition count aside).
    func setTopicConfig(_ name: String, _ config: TopicConfig) throws
    /// Stores what the source that writes the topic declares about its records (column types).
    func setTopicSchema(_ name: String, _ schema: JSONValue?) throws
    /// Whether records with keys were ever written to the topic.
    func isWrittenByKey(_ name: String) throws -> Bool
    /// The first offset of `tp` whose record's timestamp is at or after `timestamp` (the end when none).
    func offset(forTimestamp timestamp: Int64, in tp: TopicPartition) throws -> Int64
    /// Stores offsets for a group that has no live members (`groups reset-offsets`).
    func setCommittedOffsets(_ group: String, _ offsets: [TopicPartition: Int64]) throws
    /// The offsets `groups reset-offsets` set for the group per partition, when the broker keeps them.
    func committedResets(_ group: String) -> [TopicPartition: Int64]
    /// Calls `body` with the records of `tp` from `offset` on, a block at a time, until it returns false
    /// or the partition's end (as it was when the read started) is reached.
    func forEachBlock(_ tp: TopicPartition, from offset: Int64, _ body: (RecordBlock) throws -> Bool) throws
    /// A producer of records for `topic`. `source` names the source that writes through it, when one
    /// does: its records can then be found again by `headers(storedBy:)`.
    func makeProducer(topic: String, source: String?) throws -> any RecordSender
    /// A member of a consumer group.
    func makeConsumer(_ options: GroupConsumer.Options) throws -> any GroupReader
    /// The headers of the records `source` stored in `topics` at or after `ends` (each partition's end
    /// when the source's checkpoint was stored; from the log start without one), in the order they were
    /// stored per partition.
    func headers(storedBy source: String, after ends: [String: [Int64]], in topics: [String]) throws -> [[Header]]
    /// Makes everything written durable and lets go of the broker's resources.
    func close() throws
    /// Where several processes run the same config (on a Kafka cluster), the claim that lets one of
    /// them at a time run `source`; nil where the process is the only one (the embedded broker).
    func claim(source: String) throws -> (any SourceClaim)?
}

/// One process's claim on a source that several processes share: it holds while `isOwner`, passes to
/// another process when this one dies or releases it, and `epoch` moves each time it is gained.
public protocol SourceClaim: AnyObject, Sendable {
    var isOwner: Bool { get }
    var epoch: Int { get }
    func release()
}

/// Writes blocks of records to one topic.
public protocol RecordSender: AnyObject {
    var topic: String { get }
    /// The partition a record of `block` goes to.
    func partition(of block: RecordBlock, at index: Int) -> Int32
    /// Sends every record of `block` and returns, once they are stored (and acknowledged), where they went.
    @discardableResult
    func send(_ block: RecordBlock, now: Int64) throws -> [Producer.PartitionResult]
}

extension PipelineBroker {
    @discardableResult
    public func ensureTopic(_ name: String) throws -> Bool { try ensureTopic(name, config: TopicConfig()) }

    /// Each partition's end offset, for a source's checkpoint after its batch was acknowledged.
    public func sourceEnds(_ topic: String) throws -> [Int64] {
        try (0..<partitionCount(topic)).map { try offsets(TopicPartition(topic, $0)).end }
    }
}

extension RecordSender {
    @discardableResult
    public func send(_ block: RecordBlock) throws -> [Producer.PartitionResult] {
        try send(block, now: Time.nowMillis())
    }
}

/// A member of a consumer group, used by one thread.
public protocol GroupReader: AnyObject {
    /// Moves each time the member lost its membership and joined again.
    var membershipEpoch: Int { get }
    /// Called with partitions the member has gained and the offsets it will read them from, before
    /// records are read from them; `seek` in it moves where they are read from. An error it throws comes
    /// out of `poll`.
    var onPartitionsAssigned: (([TopicPartition: Int64]) throws -> Void)? { get set }
    /// Called with partitions the member must give up, before they are released.
    var onPartitionsRevoked: ((Set<TopicPartition>) throws -> Void)? { get set }
    /// Up to `maxRecords` records and about `maxBytes` bytes from owned partitions, waiting up to
    /// `timeoutMillis`; a wait ends early once `interrupted` holds and `appended` moves.
    func poll(maxRecords: Int, maxBytes: Int, timeoutMillis: Int, interrupted: () -> Bool) throws
        -> [PartitionRecords]
    /// Commits, durably, the offsets the group continues from.
    func commit(_ offsets: [TopicPartition: Int64]) throws
    func seek(_ tp: TopicPartition, to offset: Int64)
    func position(_ tp: TopicPartition) -> Int64?
    func owns(_ partitions: Set<TopicPartition>) -> Bool
    /// Tells the group the member is alive during a long piece of work.
    func heartbeat() throws
    func close()
}

extension GroupReader {
    public func poll(maxRecords: Int, maxBytes: Int, timeoutMillis: Int) throws -> [PartitionRecords] {
        try poll(maxRecords: maxRecords, maxBytes: maxBytes, timeoutMillis: timeoutMillis, interrupted: { false })
    }
}

extension Producer: RecordSender {}
extension GroupConsumer: GroupReader {}

extension Broker: PipelineBroker {
    /// One process owns a data directory, so it owns its sources.
    public func claim(source: String) throws -> (any SourceClaim)? { nil }

    public func offset(forTimestamp timestamp: Int64, in tp: TopicPartition) throws -> Int64 {
        try log(tp).offset(forTimestamp: timestamp)
    }

    public func forEachBlock(_ tp: TopicPartition, from offset: Int64, _ body: (RecordBlock) throws -> Bool) throws {
        let log = try log(tp)
        try log.forEachBlock(from: max(offset, log.startOffset), body)
    }

    public func makeProducer(topic: String, source: String?) throws -> any RecordSender {
        try Producer(broker: self, topic: topic, producerId: source.map(Self.producerId(forSource:)) ?? -1)
    }

    public func makeConsumer(_ options: GroupConsumer.Options) throws -> any GroupReader {
        try GroupConsumer(broker: self, options: options)
    }

    /// A stable producer id for a source name, written into its batches: FNV-1a of the name, kept positive.
    public static func producerId(forSource source: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("source:" + source).utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return Int64(bitPattern: hash & 0x7FFF_FFFF_FFFF_FFFF)
    }

    /// Found by the producer id in the stored batches' headers.
    public func headers(storedBy source: String, after ends: [String: [Int64]], in topics: [String]) throws
        -> [[Header]]
    {
        let producerId = Self.producerId(forSource: source)
        var result: [[Header]] = []
        for topic in topics {
            let count = try partitionCount(topic)
            for partition in 0..<count {
                let tp = TopicPartition(topic, partition)
                var offset = ends[topic].flatMap { Int(partition) < $0.count ? $0[Int(partition)] : nil } ?? 0
                let (start, end) = try offsets(tp)
                offset = max(offset, start)
                while offset < end {
                    let bytes = try read(tp, from: offset, maxBytes: 8 << 20)
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
