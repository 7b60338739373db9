import Logging
import SluiceCore

/// The append-only log of one partition: a folder of segments (see `SluiceLog.swift` for the format).
///
/// Thread-safe: appends, flushes and retention take the log's lock; reads take it only to find where
/// to read and then read without it, so readers do not wait for an fsync. Every call blocks on file
/// I/O and belongs on a dedicated thread. One process writes a log at a time (the broker's directory
/// lock sees to that); a read-only log may be opened while another process writes, and `refresh`
/// picks up what it appended since.
public final class PartitionLog: @unchecked Sendable {
    /// The result of an append: the offsets the batch's records received.
    public struct AppendResult: Sendable, Equatable {
        public var baseOffset: Int64
        public var lastOffset: Int64
    }

    /// A segment as `describe` shows it.
    public struct SegmentInfo: Sendable, Equatable {
        public var baseOffset: Int64
        public var nextOffset: Int64
        public var sizeInBytes: Int64
        public var maxTimestamp: Int64
    }

    struct State {
        var segments: [Segment]
        var config: LogConfig
        var unflushedSince: Int64?
        var closed = false
    }

    public let directory: String
    /// The log's name in messages, usually `topic-partition`.
    public let name: String
    public let isReadOnly: Bool
    let logger: Logger
    let state: Locked<State>

    init(directory: String, name: String, readOnly: Bool, logger: Logger, segments: [Segment], config: LogConfig) {
        self.directory = directory
        self.name = name
        isReadOnly = readOnly
        self.logger = logger
        state = Locked(State(segments: segments, config: config))
    }

    /// The first offset still stored.
    public var startOffset: Int64 {
        state.withLock { $0.segments[0].baseOffset }
    }

    /// The offset the next record will get: one past the last stored record.
    public var endOffset: Int64 {
        state.withLock { $0.segments[$0.segments.count - 1].nextOffset }
    }

    public var config: LogConfig {
        state.withLock { $0.config }
    }

    /// Changes the settings; they apply from the next append or retention pass.
    public func update(config: LogConfig) {
        state.withLock { $0.config = config }
    }

    /// Total bytes of all segments.
    public var sizeInBytes: Int64 {
        state.withLock { $0.segments.reduce(0) { $0 + $1.size } }
    }

    public var segmentInfos: [SegmentInfo] {
        state.withLock { state in
            state.segments.map {
                SegmentInfo(
                    baseOffset: $0.baseOffset, nextOffset: $0.nextOffset, sizeInBytes: $0.size,
                    maxTimestamp: $0.maxTimestamp)
            }
        }
    }

    /// Appends one whole v2 batch, setting its base offset to the log's end offset. Returns once the
    /// batch is written, and once it is on disk when the flush policy is `everyBatch`. Rolls the active
    /// segment first when it is full or old. The batch's CRC is checked (a stored batch that failed it
    /// would be cut on the next open, with every batch after it) unless `verifiedCRC` says its builder
    /// in this process has just computed it.
    public func append(_ batch: inout [UInt8], now: Int64 = Time.nowMillis(), verifiedCRC: Bool = false) throws
        -> AppendResult
    {
        guard !isReadOnly else { throw LogError(.readOnly, "\(name) is open read-only") }
        guard batch.count >= RecordBatchHeader.size else {
            throw LogError(.invalidBatch, "a batch of \(batch.count) bytes is shorter than a batch header")
        }
        var header = batch.withUnsafeBytes { RecordBatchHeader($0) }
        if !verifiedCRC && header.totalSize == batch.count {
            let crc = batch.withUnsafeBytes { RecordBatch.computeCRC($0, at: 0, totalSize: $0.count) }
            guard crc == header.crc else {
                throw LogError(.invalidBatch, "cannot append to \(name): the batch fails its CRC check")
            }
        }
        return try state.withLock { state in
            guard !state.closed else { throw LogError(.closed, "\(name) is closed") }
            if let problem = header.problem(maxBatchBytes: state.config.maxBatchBytes) {
                throw LogError(.invalidBatch, "cannot append to \(name): \(problem)")
            }
            guard header.totalSize == batch.count, header.recordCount > 0 else {
                throw LogError(.invalidBatch, "cannot append to \(name): the batch length does not match its header")
            }
            var active = state.segments[state.segments.count - 1]
            // Offsets end below Int64.max (the next offset must exist), as in Kafka.
            let (last, overflow) = active.nextOffset.addingReportingOverflow(Int64(header.lastOffsetDelta))
            guard !overflow, last < Int64.max else {
                throw LogError(
                    .invalidBatch,
                    "cannot append to \(name): its offsets would pass \(Int64.max), the largest a partition has")
            }
            // The indexes keep offsets relative to the segment's base in 32 bits.
            let farFromBase = active.size > 0 && last - active.baseOffset > Int64(Int32.max)
            let due = RollPolicy.shouldRoll(
                activeSize: active.size,
                rollTimestamp: active.rollTimestamp,
                batchSize: batch.count,
                batchTimestamp: header.maxTimestamp,
                now: now,
                segmentBytes: state.config.segmentBytes,
                segmentMs: state.config.segmentMs
            )
            if farFromBase || due { active = try roll(&state) }
            let baseOffset = active.nextOffset
            RecordBatch.setBaseOffset(baseOffset, in: &batch)
            header.baseOffset = baseOffset
            try batch.withUnsafeBytes {
                try active.append($0, header: header, indexIntervalBytes: state.config.indexIntervalBytes)
            }
            if state.config.flush == .everyBatch {
                try active.sync()
            } else if state.unflushedSince == nil {
                state.unflushedSince = now
            }
            return AppendResult(baseOffset: baseOffset, lastOffset: header.lastOffset)
        }
    }

    /// Closes the active segment and starts a new, empty one at the end offset.
    func roll(_ state: inout State) throws -> Segment {
        let old = state.segments[state.segments.count - 1]
        if state.config.flush != .os { try old.sync() }
        old.close()
        let segment = try Segment.create(directory: directory, baseOffset: old.nextOffset)
        if state.config.flush != .os { try FileSystem.syncDirectory(directory) }
        state.segments.append(segment)
        logger.debug("rolled segment", metadata: ["log": "\(name)", "base_offset": "\(old.nextOffset)"])
        return segment
    }

    /// Reads whole batches holding `offset` and what follows, up to about `maxBytes` (always at least
    /// one batch). The first batch may start before `offset`; decoders skip what comes before. Returns
    /// no bytes at the end of the log, and throws `offsetOutOfRange` before its start.
    public func read(from offset: Int64, maxBytes: Int) throws -> [UInt8] {
        let (segment, position, limit) = try state.withLock { state -> (Segment?, Int64, Int64) in
            guard !state.closed else { throw LogError(.closed, "\(name) is closed") }
            let start = state.segments[0].baseOffset
            let end = state.segments[state.segments.count - 1].nextOffset
            guard offset >= start else {
                throw LogError(.offsetOutOfRange, "offset \(offset) is before the start of \(name) (\(start))")
            }
            guard offset < end else { return (nil, 0, 0) }
            var index = Self.segmentIndex(for: offset, in: state.segments)
            while index < state.segments.count - 1 && state.segments[index].nextOffset <= offset { index += 1 }
            let segment = state.segments[index]
            return (segment, try segment.position(ofBatchContaining: offset), segment.size)
        }
        guard let segment else { return [] }
        return try segment.readBatches(at: position, maxBytes: maxBytes, limit: limit)
    }

    /// The index of the last segment whose base offset is at most `offset`.
    static func segmentIndex(for offset: Int64, in segments: [Segment]) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].baseOffset <= offset { low = mid + 1 } else { high = mid }
        }
        return max(0, low - 1)
    }

    /// The offset of the first record whose timestamp is at or after `timestamp`, or the end offset
    /// when there is none.
    public func offset(forTimestamp timestamp: Int64) throws -> Int64 {
        try firstRecord(atOrAfter: timestamp)?.offset ?? endOffset
    }

    /// The offset and timestamp of the first record whose timestamp is at least `timestamp`; nil when
    /// every record is older (Kafka's ListOffsets answers -1 then).
    public func firstRecord(atOrAfter timestamp: Int64) throws -> (offset: Int64, timestamp: Int64)? {
        let candidates = state.withLock { state in state.segments.filter { $0.maxTimestamp >= timestamp } }
        guard let segment = candidates.first else { return nil }
        var found: (offset: Int64, timestamp: Int64)?
        try forEachBlock(from: segment.index.offset(before: timestamp)) { block in
            found = block.entries.first { $0.timestamp >= timestamp }.map { ($0.offset, $0.timestamp) }
            return found == nil
        }
        return found
    }

    /// Decodes the records from `offset` to the end of the log, `maxBytes` of batches at a time, and
    /// hands each block to `body` until it returns false.
    public func forEachBlock(from offset: Int64, maxBytes: Int = 1 << 20, _ body: (RecordBlock) throws -> Bool) throws {
        var next = offset
        while true {
            let bytes = try read(from: next, maxBytes: maxBytes)
            guard !bytes.isEmpty else { return }
            let block = try RecordBatchDecoder.decode(bytes, from: next)
            // Batches without records a reader sees (control batches) are stepped over, not an end.
            guard let end = block.batchesEnd, end > next else { return }
            if !block.isEmpty, try !body(block) { return }
            next = end
        }
    }

    /// Every record from `offset` (the log start when nil) to the end of the log.
    public func records(from offset: Int64? = nil) throws -> [Record] {
        var records: [Record] = []
        try forEachBlock(from: offset ?? startOffset) { block in
            records += block.records
            return true
        }
        return records
    }

    /// Makes every append so far durable (whatever the flush policy).
    public func flush() throws {
        guard !isReadOnly else { return }
        try state.withLock { state in
            guard !state.closed, state.unflushedSince != nil else { return }
            try state.segments[state.segments.count - 1].sync()
            state.unflushedSince = nil
        }
    }

    /// Flushes when the policy is `interval` and the oldest unflushed append is due.
    public func flushIfDue(now: Int64) throws {
        let due = state.withLock { state -> Bool in
            guard case .interval(let millis) = state.config.flush, let since = state.unflushedSince else {
                return false
            }
            return now - since >= millis
        }
        if due { try flush() }
    }

    /// Flushes and closes the log; later calls throw `closed`.
    public func close() throws {
        try flush()
        state.withLock { state in
            for segment in state.segments { segment.close() }
            state.closed = true
        }
    }

    /// Closes the log and removes its folder.
    public func delete() throws {
        state.withLock { state in
            for segment in state.segments { segment.close() }
            state.closed = true
        }
        try FileSystem.removeTree(directory)
    }
}
