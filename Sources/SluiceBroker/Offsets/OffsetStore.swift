import Logging
import SluiceCore
import SluiceLog

/// Committed offsets of consumer groups, kept in the internal topic `__consumer_offsets` as Kafka keeps
/// them: records keyed by group, topic and partition (as small JSON objects, so `sluice consume` can
/// show them) whose value is the committed offset; a null value deletes it. Thread-safe; a commit
/// returns once it is on disk.
final class OffsetStore: @unchecked Sendable {
    struct Key: Hashable, Comparable {
        var group: String
        var tp: TopicPartition

        static func < (lhs: Key, rhs: Key) -> Bool { (lhs.group, lhs.tp) < (rhs.group, rhs.tp) }
    }

    /// A committed offset: the next offset the group will consume, and when it was committed; and the
    /// highest offset the group ever committed on the partition, which a reset does not lower (nil when
    /// unknown: commits stored before it was kept).
    struct Committed: Equatable {
        var offset: Int64
        var timestamp: Int64
        var highWater: Int64?
        /// When `sluice groups reset-offsets` last set the offset (nil: never), kept by later commits, so
        /// that a sink which stores its own offsets (exactly-once) can tell a reset it must follow from
        /// a commit that merely lags behind its own.
        var resetAt: Int64?

        init(offset: Int64, timestamp: Int64, highWater: Int64?, resetAt: Int64? = nil) {
            self.offset = offset
            self.timestamp = timestamp
            self.highWater = highWater
            self.resetAt = resetAt
        }

        /// A commit of `offset` after `previous` (nil for the first on the partition); a reset when
        /// `reset`.
        init(offset: Int64, timestamp: Int64, after previous: Committed?, reset: Bool = false) {
            self.offset = offset
            self.timestamp = timestamp
            resetAt = reset ? timestamp : previous?.resetAt
            guard let previous else {
                highWater = offset
                return
            }
            highWater = previous.highWater.map { max($0, offset) }
        }
    }

    private let store: CompactedStore
    private let entries: Locked<[Key: Committed]>
    /// Moves after every commit.
    let committed = ChangeSignal()

    /// Loads the committed offsets. An entry that does not decode is damage (its batch passed its CRC,
    /// so it was written wrong or edited): it throws, never reads as "no offset", which would deliver
    /// everything again.
    init(store: CompactedStore) throws {
        self.store = store
        var loaded: [Key: Committed] = [:]
        for (key, value) in store.all() {
            guard let decodedKey = Self.decodeKey(key), let committed = Self.decodeValue(value) else {
                throw BrokerError(
                    .storage,
                    "\(store.name) holds a committed offset that cannot be read (key \(String(decoding: key, as: UTF8.self)), "
                        + "value \(String(decoding: value, as: UTF8.self))); restore the folder from a backup, "
                        + "or set the group's offsets again with `sluice groups reset-offsets`")
            }
            loaded[decodedKey] = committed
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
        var members: [(String, JSONValue)] = [
            ("offset", .number(String(committed.offset))), ("commit_timestamp", .number(String(committed.timestamp))),
        ]
        if let highWater = committed.highWater { members.append(("high_water", .number(String(highWater)))) }
        if let resetAt = committed.resetAt { members.append(("reset_at", .number(String(resetAt)))) }
        let json = JSONValue.object(members)
        return Array(json.serialized().utf8)
    }

    static func decodeValue(_ bytes: [UInt8]) -> Committed? {
        guard let json = try? JSONValue.parse(bytes), let offset = json["offset"]?.integerValue else { return nil }
        return Committed(
            offset: offset, timestamp: json["commit_timestamp"]?.integerValue ?? 0,
            highWater: json["high_water"]?.integerValue, resetAt: json["reset_at"]?.integerValue)
    }

    /// Stores `offsets` for `group` durably, in one batch; nil deletes an offset. `reset` marks them as
    /// set by a reset (`Committed.resetAt`).
    func commit(
        group: String, offsets: [TopicPartition: Int64?], now: Int64 = Time.nowMillis(), reset: Bool = false
    ) throws {
        guard !offsets.isEmpty else { return }
        try entries.withLock { entries in
            var updated: [TopicPartition: Committed?] = [:]
            for (tp, offset) in offsets {
                let before = entries[Key(group: group, tp: tp)]
                // updateValue: assigning nil through a subscript would drop a deletion instead of keeping it.
                updated.updateValue(
                    offset.map { Committed(offset: $0, timestamp: now, after: before, reset: reset) }, forKey: tp)
            }
            let changes = updated.sorted(by: { $0.key < $1.key }).map { tp, committed in
                (key: Self.encodeKey(Key(group: group, tp: tp)), value: committed.map(Self.encodeValue))
            }
            try store.put(changes, now: now)
            for (tp, committed) in updated { entries[Key(group: group, tp: tp)] = committed }
        }
        committed.notify()
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

    /// For each partition of `topic`, the lowest committed offset over all groups that committed on it.
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
