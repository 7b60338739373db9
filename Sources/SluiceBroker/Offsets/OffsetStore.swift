import Logging
import SluiceCore
import SluiceLog

/// Committed offsets of consumer groups, kept durably in the internal topic `__consumer_offsets` the
/// way Kafka keeps them: each commit appends records keyed by group, topic and partition whose value
/// is the offset (a null value deletes it), and the latest record per key wins. On open the whole log
/// is read back; when it grows, the live entries are written anew and older segments deleted, which
/// is compaction for a log this small.
///
/// Thread-safe. A commit returns once it is on disk (the internal topic fsyncs every batch).
final class OffsetStore: @unchecked Sendable {
    struct Key: Hashable, Comparable {
        var group: String
        var tp: TopicPartition

        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.group, lhs.tp) < (rhs.group, rhs.tp) }
    }

    /// A committed offset: the next offset the group will consume, and when it was committed.
    struct Committed: Equatable {
        var offset: Int64
        var timestamp: Int64
    }

    /// Compact once the active segment passes this size.
    static let compactionBytes: Int64 = 4 << 20

    private let log: PartitionLog?
    private let logger: Logger
    private let entries: Locked<[Key: Committed]>

    init(log: PartitionLog?, logger: Logger) throws {
        self.log = log
        self.logger = logger
        var loaded: [Key: Committed] = [:]
        if let log {
            var offset = log.startOffset
            while true {
                let bytes = try log.read(from: offset, maxBytes: 4 << 20)
                if bytes.isEmpty { break }
                let block = try RecordBatchDecoder.decode(bytes, from: offset)
                for index in 0..<block.count {
                    guard let keyBytes = block.key(index), let key = Self.decodeKey(Array(keyBytes)) else { continue }
                    if let value = block.value(index), let committed = Self.decodeValue(Array(value)) {
                        loaded[key] = committed
                    } else {
                        loaded[key] = nil
                    }
                }
                guard let last = block.entries.last?.offset else { break }
                offset = last + 1
            }
        }
        entries = Locked(loaded)
    }

    static func encodeKey(_ key: Key) -> [UInt8] {
        let json = JSONValue.object([
            ("group", .string(key.group)), ("topic", .string(key.tp.topic)),
            ("partition", .number(String(key.tp.partition))),
        ])
        return Array(json.serialized().utf8)
    }

    static func decodeKey(_ bytes: [UInt8]) -> Key? {
        guard let json = try? JSONValue.parse(bytes), let group = json["group"]?.stringValue,
            let topic = json["topic"]?.stringValue, let partition = json["partition"]?.integerValue
        else { return nil }
        return Key(group: group, tp: TopicPartition(topic, Int32(truncatingIfNeeded: partition)))
    }

    static func encodeValue(_ committed: Committed) -> [UInt8] {
        let json = JSONValue.object([
            ("offset", .number(String(committed.offset))), ("commit_timestamp", .number(String(committed.timestamp))),
        ])
        return Array(json.serialized().utf8)
    }

    static func decodeValue(_ bytes: [UInt8]) -> Committed? {
        guard let json = try? JSONValue.parse(bytes), let offset = json["offset"]?.integerValue else { return nil }
        return Committed(offset: offset, timestamp: json["commit_timestamp"]?.integerValue ?? 0)
    }

    /// Stores `offsets` for `group` durably, in one batch; nil deletes an offset.
    func commit(group: String, offsets: [TopicPartition: Int64?], now: Int64 = Time.nowMillis()) throws {
        guard let log, !log.isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard !offsets.isEmpty else { return }
        try entries.withLock { entries in
            var builder = RecordBatchBuilder()
            for (tp, offset) in offsets.sorted(by: { $0.key < $1.key }) {
                let key = Key(group: group, tp: tp)
                builder.append(
                    Record(
                        key: Self.encodeKey(key),
                        value: offset.map { Self.encodeValue(Committed(offset: $0, timestamp: now)) },
                        timestamp: now
                    )
                )
            }
            var batch = try builder.build()
            do {
                _ = try log.append(&batch, now: now)
            } catch let error as LogError {
                throw BrokerError(.storage, "cannot store committed offsets of group \"\(group)\"", cause: error)
            }
            for (tp, offset) in offsets {
                entries[Key(group: group, tp: tp)] = offset.map { Committed(offset: $0, timestamp: now) }
            }
            try compactIfNeeded(entries, now: now)
        }
    }

    /// Rewrites the live entries into a fresh segment and deletes the older ones, once the log is large.
    private func compactIfNeeded(_ entries: [Key: Committed], now: Int64) throws {
        guard let log, let active = log.segmentInfos.last, active.sizeInBytes > Self.compactionBytes else { return }
        try log.rollActiveSegment()
        let snapshotStart = log.endOffset
        var builder = RecordBatchBuilder()
        for (key, committed) in entries.sorted(by: { $0.key < $1.key }) {
            builder.append(Record(key: Self.encodeKey(key), value: Self.encodeValue(committed), timestamp: now))
            if builder.sizeInBytes > 1 << 20 {
                var batch = try builder.build()
                _ = try log.append(&batch, now: now)
            }
        }
        if !builder.isEmpty {
            var batch = try builder.build()
            _ = try log.append(&batch, now: now)
        }
        try log.deleteSegments(endingAtOrBefore: snapshotStart)
        logger.debug("compacted committed offsets", metadata: ["entries": "\(entries.count)"])
    }

    /// The committed offsets of `group`.
    func offsets(group: String) -> [TopicPartition: Committed] {
        entries.withLock { entries in
            var result: [TopicPartition: Committed] = [:]
            for (key, value) in entries where key.group == group { result[key.tp] = value }
            return result
        }
    }

    /// Every group with at least one committed offset.
    func groups() -> [String] {
        entries.withLock { Set($0.keys.map(\.group)).sorted() }
    }

    /// For each topic, the lowest committed offset per partition over all groups that committed on it.
    func lowestCommitted(topic: String) -> [Int32: Int64] {
        entries.withLock { entries in
            var result: [Int32: Int64] = [:]
            for (key, value) in entries where key.tp.topic == topic {
                result[key.tp.partition] = min(result[key.tp.partition] ?? Int64.max, value.offset)
            }
            return result
        }
    }

    /// Deletes every offset committed on `topic`.
    func deleteOffsets(topic: String) throws {
        let keys = entries.withLock { $0.keys.filter { $0.tp.topic == topic } }
        for group in Set(keys.map(\.group)) {
            let tps = keys.filter { $0.group == group }.map(\.tp)
            try commit(group: group, offsets: Dictionary(uniqueKeysWithValues: tps.map { ($0, nil) }))
        }
    }
}
