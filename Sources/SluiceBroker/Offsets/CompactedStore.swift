import Logging
import SluiceCore
import SluiceLog

/// A map from keys to values kept in a one-partition internal topic, the way Kafka keeps committed
/// offsets and Kafka Connect keeps source offsets: every `put` appends one batch of records (a null
/// value deletes its key) and the latest record per key wins. On open the whole log is read back.
/// When the active segment passes `compactionBytes`, the live entries are written anew into a fresh
/// segment and the older segments deleted: compaction for a log that stays small.
///
/// Thread-safe. A `put` returns once it is on disk (internal topics fsync every batch).
final class CompactedStore: @unchecked Sendable {
    /// Compact once the active segment passes this size.
    static let compactionBytes: Int64 = 4 << 20

    private let log: PartitionLog?
    private let logger: Logger
    private let entries: Locked<[[UInt8]: [UInt8]]>

    /// Loads the store from `log`; a nil log (a read-only broker on a directory without it) is empty.
    init(log: PartitionLog?, logger: Logger) throws {
        self.log = log
        self.logger = logger
        var loaded: [[UInt8]: [UInt8]] = [:]
        if let log {
            do {
                try log.forEachBlock(from: log.startOffset, maxBytes: 4 << 20) { block in
                    for index in 0..<block.count {
                        guard let key = block.key(index) else {
                            throw BrokerError(
                                .storage, "\(log.name): the record at offset \(block.entries[index].offset) has no key")
                        }
                        loaded[Array(key)] = block.value(index).map(Array.init)
                    }
                    return true
                }
            } catch let error as LogError {
                throw BrokerError(.storage, "cannot read \(log.name) in \(log.directory)", cause: error)
            }
        }
        entries = Locked(loaded)
    }

    /// The log's name, for messages.
    var name: String { log?.name ?? "(none)" }

    func get(_ key: [UInt8]) -> [UInt8]? {
        entries.withLock { $0[key] }
    }

    /// Every live entry.
    func all() -> [(key: [UInt8], value: [UInt8])] {
        entries.withLock { $0.map { ($0.key, $0.value) } }
    }

    /// Stores `changes` durably in one batch; a nil value deletes its key.
    func put(_ changes: [(key: [UInt8], value: [UInt8]?)], now: Int64 = Time.nowMillis()) throws {
        guard let log, !log.isReadOnly else { throw BrokerError(.readOnly, "the broker is open read-only") }
        guard !changes.isEmpty else { return }
        try entries.withLock { entries in
            var builder = RecordBatchBuilder()
            for change in changes { builder.append(Record(key: change.key, value: change.value, timestamp: now)) }
            var batch = try builder.build()
            do {
                _ = try log.append(&batch, now: now)
            } catch let error as LogError {
                throw BrokerError(.storage, "cannot store to \(log.name)", cause: error)
            }
            for change in changes { entries[change.key] = change.value }
            try compactIfNeeded(entries, now: now)
        }
    }

    /// Rewrites the live entries into a fresh segment and deletes the older ones, once the log is large.
    private func compactIfNeeded(_ entries: [[UInt8]: [UInt8]], now: Int64) throws {
        guard let log, let active = log.segmentInfos.last, active.sizeInBytes > Self.compactionBytes else { return }
        try log.rollActiveSegment()
        let snapshotStart = log.endOffset
        var builder = RecordBatchBuilder()
        for (key, value) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            builder.append(Record(key: key, value: value, timestamp: now))
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
        logger.debug("compacted", metadata: ["log": "\(log.name)", "entries": "\(entries.count)"])
    }
}
