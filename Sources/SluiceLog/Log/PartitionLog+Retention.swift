import Logging
import SluiceCore

extension PartitionLog {
    /// What a retention pass did.
    public struct RetentionResult: Sendable, Equatable {
        public var deletedSegments: Int
        public var deletedBytes: Int64
        public var newStartOffset: Int64
        /// Records that a consumer group had not consumed and that were deleted anyway.
        public var unconsumedSkipped: Int64
        /// Segments kept only because a consumer group still needs them.
        public var heldBackByGroups: Int
    }

    /// Deletes closed segments that are past `retention_ms` or beyond `retention_bytes`, oldest first,
    /// rolling the active segment first when it too has expired. `keepFrom` is the lowest offset that
    /// a consumer group with commits on this log still needs; with `respectGroups` nothing from there
    /// on is deleted, and otherwise the records skipped are counted and logged.
    @discardableResult
    public func applyRetention(now: Int64 = Time.nowMillis(), keepFrom: Int64?, respectGroups: Bool) throws
        -> RetentionResult
    {
        guard !isReadOnly else { throw LogError(.readOnly, "\(name) is open read-only") }
        let (deleted, result) = try state.withLock { state -> ([Segment], RetentionResult) in
            guard !state.closed else { throw LogError(.closed, "\(name) is closed") }
            let plan = RetentionPlan.make(
                segments: state.segments.map {
                    .init(
                        baseOffset: $0.baseOffset, nextOffset: $0.nextOffset, size: $0.size,
                        maxTimestamp: $0.maxTimestamp)
                },
                retentionMs: state.config.retentionMs,
                retentionBytes: state.config.retentionBytes,
                now: now,
                keepFrom: keepFrom,
                respectGroups: respectGroups
            )
            if plan.rollActive { _ = try roll(&state) }
            let deleted = Array(state.segments.prefix(plan.deleteCount))
            state.segments.removeFirst(plan.deleteCount)
            let result = RetentionResult(
                deletedSegments: deleted.count,
                deletedBytes: deleted.reduce(0) { $0 + $1.size },
                newStartOffset: state.segments[0].baseOffset,
                unconsumedSkipped: plan.unconsumedSkipped,
                heldBackByGroups: plan.heldBackByGroups
            )
            return (deleted, result)
        }
        for segment in deleted { try segment.delete() }
        if result.deletedSegments > 0 {
            logger.info(
                "retention deleted segments",
                metadata: [
                    "log": "\(name)", "segments": "\(result.deletedSegments)", "bytes": "\(result.deletedBytes)",
                    "log_start_offset": "\(result.newStartOffset)",
                ]
            )
        }
        if result.unconsumedSkipped > 0 {
            logger.warning(
                "retention deleted records that a consumer group had not consumed",
                metadata: ["log": "\(name)", "records": "\(result.unconsumedSkipped)"]
            )
        }
        return result
    }
}

extension PartitionLog {
    /// Closes the active segment, when it holds anything, and starts a new one at the end offset.
    public func rollActiveSegment() throws {
        guard !isReadOnly else { throw LogError(.readOnly, "\(name) is open read-only") }
        try state.withLock { state in
            guard !state.closed else { throw LogError(.closed, "\(name) is closed") }
            if state.segments[state.segments.count - 1].size > 0 { _ = try roll(&state) }
        }
    }

    /// Deletes every closed segment that ends at or before `offset`, moving the log start offset.
    /// Returns how many segments went.
    @discardableResult
    public func deleteSegments(endingAtOrBefore offset: Int64) throws -> Int {
        guard !isReadOnly else { throw LogError(.readOnly, "\(name) is open read-only") }
        let deleted = try state.withLock { state -> [Segment] in
            guard !state.closed else { throw LogError(.closed, "\(name) is closed") }
            var count = 0
            while count < state.segments.count - 1 && state.segments[count].nextOffset <= offset { count += 1 }
            let deleted = Array(state.segments.prefix(count))
            state.segments.removeFirst(count)
            return deleted
        }
        for segment in deleted { try segment.delete() }
        return deleted.count
    }
}

extension PartitionLog {
    /// About how many bytes the log holds from `offset` to its end (whole batches, from the batch that
    /// holds `offset`).
    public func sizeInBytes(from offset: Int64) throws -> Int64 {
        let (segments, limits) = state.withLock { state in (state.segments, state.segments.map(\.size)) }
        var total: Int64 = 0
        for (segment, size) in zip(segments, limits) where segment.nextOffset > offset {
            if segment.baseOffset >= offset {
                total += size
            } else {
                total += size - (try segment.position(ofBatchContaining: offset))
            }
        }
        return total
    }
}
