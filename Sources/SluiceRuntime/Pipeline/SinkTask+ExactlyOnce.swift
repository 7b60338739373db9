import SluiceBroker
import SluiceCore
import SluiceKit

/// What a task whose sink stores its own offsets keeps between batches.
struct ExactlyOnceState {
    /// Per owned partition, the reset marker the sink's stored position follows.
    var resetMarkers: [TopicPartition: Int64] = [:]
    /// Records already in the dead-letter topic from attempts that were not committed (found there at
    /// assignment, or stored by an attempt that was retried): not dead-lettered again.
    var deadLettered: [TopicPartition: Set<Int64>] = [:]
    /// Per owned partition, the position the sink holds as far as the task knows: where it continued
    /// from, then the end of each batch it committed.
    var committedPositions: [TopicPartition: Int64] = [:]
    /// Partitions whose group offset is behind the position the sink holds: committed to the broker
    /// before the next batch.
    var brokerBehind: [TopicPartition: Int64] = [:]
    /// Each topic's id when its partitions were assigned, stored with the positions.
    var topicIDs: [String: String] = [:]

    /// A batch up to `next` is committed: what it dead-lettered is behind the stored positions.
    mutating func committed(_ next: [TopicPartition: Int64]) {
        committedPositions.merge(next) { _, new in new }
        for (tp, offset) in next {
            deadLettered[tp] = deadLettered[tp]?.filter { $0 >= offset }
            if deadLettered[tp]?.isEmpty == true { deadLettered[tp] = nil }
        }
    }
}

/// What the positions a sink holds say of a batch whose delivery failed.
enum BatchOutcome {
    /// Its positions are stored: it was committed before the failure.
    case committed
    /// Nothing of it is stored: deliver it again.
    case notCommitted
    /// The sink holds less than was committed to it: deliver again from these positions.
    case rewound([TopicPartition: StoredPosition])
}

/// The sink's database lost commits: the batch in hand is dropped and its partitions read again from
/// `positions`.
struct Rewind: Error {
    var positions: [TopicPartition: StoredPosition]
}

extension SinkTask {
    /// Moves each assigned partition to where the sink's stored position says it continues, unless the
    /// group's offsets were reset after that position was stored (a reset is followed; the position
    /// stored with the next batch records that it was), and finds the dead letters that attempts after
    /// those positions left in the dead-letter topic.
    func continueFromStoredPositions(
        _ sink: any OffsetStoringSink, starts: [TopicPartition: Int64], consumer: GroupConsumer
    ) throws {
        let claimed = try readStoredPositions(sink, Set(starts.keys), deadLetterEnds: deadLetterEnds())
        let stored = claimed.positions
        let resets = broker.committedResets(definition.group)
        for topic in Set(starts.keys.map(\.topic)) { exactlyOnce.topicIDs[topic] = broker.topicID(topic) }
        var continuing: [TopicPartition: Int64] = [:]
        var scanFrom: [Int32: Int64] = [:]
        for (tp, start) in starts.sorted(by: { $0.key < $1.key }) {
            exactlyOnce.deadLettered[tp] = nil
            let reset = resets[tp]
            if stored[tp] == nil, let ends = claimed.unstoredDeadLetterEnds[tp] {
                // Claimed before and never stored: attempts since the first claim may have dead-lettered.
                for (partition, end) in ends.enumerated() {
                    scanFrom[Int32(partition)] = min(scanFrom[Int32(partition)] ?? end, end)
                }
            }
            guard let position = stored[tp], (reset ?? .min) <= (position.resetAt ?? .min) else {
                if let position = stored[tp] {
                    logger.notice(
                        "the group's offsets were reset after the sink stored its own; following the reset",
                        metadata: [
                            "sink": "\(definition.name)", "partition": "\(tp)", "stored": "\(position.offset)",
                            "from": "\(start)",
                        ])
                }
                exactlyOnce.resetMarkers[tp] = reset
                continuing[tp] = start
                continue
            }
            exactlyOnce.resetMarkers[tp] = position.resetAt
            let reload =
                "To load the topic into the sink again (rows it already holds are loaded again), run `sluice groups "
                + "reset-offsets --group \(definition.group) --topic \(tp.topic) --to-earliest --execute`, which the "
                + "sink then follows; or, if it belongs to another pipeline, give this sink another group"
            if let stored = position.topicID, stored != broker.topicID(tp.topic) {
                throw RuntimeError(
                    "sink \"\(definition.name)\" holds offsets for group \(definition.group) on \(tp) that belong to "
                        + "another topic of that name (the topic was deleted and made again, the data directory is a "
                        + "new one, or another pipeline uses the same group in this database). Nothing was delivered. "
                        + reload)
            }
            let (first, end) = try broker.offsets(tp)
            guard position.offset >= 0 else {
                throw RuntimeError(
                    "sink \"\(definition.name)\" holds offset \(position.offset) for \(tp): not an offset (edited by "
                        + "hand?). Nothing was delivered. " + reload)
            }
            guard position.offset <= end else {
                throw RuntimeError(
                    "sink \"\(definition.name)\" stored offset \(position.offset) for \(tp), past the partition's end "
                        + "\(end): the topic holds fewer records than were delivered (it was deleted and created again, "
                        + "or the data directory comes from an older backup). Nothing was delivered. " + reload)
            }
            var target = position.offset
            if target < first {
                logger.warning(
                    "the sink's stored offset is no longer stored in the topic (retention removed it); continuing from the first stored",
                    metadata: [
                        "sink": "\(definition.name)", "partition": "\(tp)", "stored": "\(target)", "from": "\(first)",
                    ])
                target = first
            }
            if target != start {
                consumer.seek(tp, to: target)
                // The group's offset catches up with the sink's before the next batch: without it, a
                // partition the sink holds to its end would never be committed, and the run never end.
                if target > start { exactlyOnce.brokerBehind[tp] = target }
            }
            continuing[tp] = target
            for (partition, end) in position.deadLetterEnds.enumerated() {
                scanFrom[Int32(partition)] = min(scanFrom[Int32(partition)] ?? end, end)
            }
        }
        exactlyOnce.committedPositions.merge(continuing) { _, new in new }
        try findDeadLetters(from: scanFrom, continuing: continuing)
    }

    /// Reads the partitions again from the positions the sink holds, and finds the dead letters stored
    /// after them.
    func rewindTo(_ positions: [TopicPartition: StoredPosition], consumer: GroupConsumer) throws {
        var scanFrom: [Int32: Int64] = [:]
        for (tp, position) in positions.sorted(by: { $0.key < $1.key }) {
            consumer.seek(tp, to: position.offset)
            exactlyOnce.committedPositions[tp] = position.offset
            exactlyOnce.deadLettered[tp] = nil
            for (partition, end) in position.deadLetterEnds.enumerated() {
                scanFrom[Int32(partition)] = min(scanFrom[Int32(partition)] ?? end, end)
            }
        }
        try findDeadLetters(from: scanFrom, continuing: positions.mapValues(\.offset))
    }

    /// What became of a batch ending at `next` whose delivery failed, by the positions the sink holds
    /// (read without claiming: the task may have lost the partitions meanwhile, which its next stage finds).
    func committedOutcome(_ sink: any OffsetStoringSink, next: [TopicPartition: Int64]) throws -> BatchOutcome {
        let stored: [TopicPartition: StoredPosition]
        do {
            stored = try sink.currentPositions(Set(next.keys))
        } catch let error as ConnectorError where error.kind == .transient {
            // Still unreachable: the write that follows fails the same way and waits again.
            return .notCommitted
        }
        var lost: [TopicPartition: StoredPosition] = [:]
        var committed = true
        for (tp, end) in next {
            let held = stored[tp]?.offset
            if let known = exactlyOnce.committedPositions[tp], let position = stored[tp], position.offset < known {
                lost[tp] = position
            }
            if (held ?? Int64.min) < end { committed = false }
        }
        if !lost.isEmpty { return .rewound(lost) }
        return committed ? .committed : .notCommitted
    }

    /// The sink's stored positions, retrying transient failures (the database restarting) with the
    /// sink's backoff until `retry_timeout_ms`.
    private func readStoredPositions(
        _ sink: any OffsetStoringSink, _ partitions: Set<TopicPartition>, deadLetterEnds: [Int64]
    ) throws -> ClaimedPositions {
        let started = Time.monotonicNanos()
        var attempt = 0
        while true {
            do {
                return try sink.storedPositions(partitions, deadLetterEnds: deadLetterEnds)
            } catch let error as ConnectorError where error.kind == .transient {
                sink.abort()
                let elapsed = Int((Time.monotonicNanos() - started) / 1_000_000)
                if stop.isRequested { throw RuntimeError.interrupted }
                guard elapsed < definition.retryTimeoutMs else {
                    throw RuntimeError(
                        "sink \"\(definition.name)\" could not read its stored offsets for \(elapsed / 1000) s: \(error.message)"
                    )
                }
                let delay = Backoff.delay(
                    attempt: attempt, initial: definition.retryInitialMs, max: definition.retryMaxMs)
                logger.warning(
                    "reading the sink's stored offsets failed; retrying",
                    metadata: ["sink": "\(definition.name)", "error": "\(error.message)", "retry_in_ms": "\(delay)"])
                var left = delay
                while left > 0 && !stop.isRequested {
                    Time.sleep(millis: min(left, 50))
                    left -= 50
                }
                attempt += 1
            } catch let error as ConnectorError {
                throw RuntimeError("sink \"\(definition.name)\": \(error.message)")
            }
        }
    }

    /// Reads the dead-letter topic from `scanFrom` (per partition) and notes the records of partitions
    /// the task continues at or before them: they were dead-lettered by an attempt that was not committed.
    private func findDeadLetters(from scanFrom: [Int32: Int64], continuing: [TopicPartition: Int64]) throws {
        let topic = definition.deadLetterTopic
        guard !scanFrom.isEmpty, broker.topicNames().contains(topic) else { return }
        let count = try broker.partitionCount(topic)
        for (partition, from) in scanFrom where partition < count {
            let log = try broker.log(TopicPartition(topic, partition))
            try log.forEachBlock(from: max(from, log.startOffset)) { block in
                for index in 0..<block.count {
                    guard let topicName = block.headerValue(index, named: SluiceHeader.originalTopic),
                        let partitionText = block.headerValue(index, named: SluiceHeader.originalPartition),
                        let offsetText = block.headerValue(index, named: SluiceHeader.originalOffset),
                        let original = Int32(String(decoding: partitionText, as: UTF8.self)),
                        let offset = Int64(String(decoding: offsetText, as: UTF8.self))
                    else { continue }
                    let tp = TopicPartition(String(decoding: topicName, as: UTF8.self), original)
                    guard let from = continuing[tp], offset >= from else { continue }
                    exactlyOnce.deadLettered[tp, default: []].insert(offset)
                }
                return true
            }
        }
    }

    /// Dead-letters the failures not already in the dead-letter topic from an earlier attempt.
    func deadLetterOnce(_ failures: [RecordFailure], _ batch: SinkBatch, _ producer: Producer) throws {
        let fresh = failures.filter { exactlyOnce.deadLettered[$0.topicPartition]?.contains($0.offset) != true }
        guard !fresh.isEmpty else { return }
        try deadLetter(fresh, batch, producer)
        for failure in fresh { exactlyOnce.deadLettered[failure.topicPartition, default: []].insert(failure.offset) }
    }

    /// The end offset of each partition of the sink's dead-letter topic.
    func deadLetterEnds() throws -> [Int64] {
        let topic = definition.deadLetterTopic
        var ends: [Int64] = []
        if broker.topicNames().contains(topic) {
            for partition in 0..<(try broker.partitionCount(topic)) {
                ends.append(try broker.offsets(TopicPartition(topic, partition)).end)
            }
        }
        return ends
    }

    /// The positions to store with a batch that ends at `next`.
    func positions(after next: [TopicPartition: Int64]) throws -> [TopicPartition: StoredPosition] {
        let ends = try deadLetterEnds()
        var result: [TopicPartition: StoredPosition] = [:]
        for (tp, offset) in next {
            result[tp] = StoredPosition(
                offset: offset, resetAt: exactlyOnce.resetMarkers[tp], deadLetterEnds: ends,
                topicID: exactlyOnce.topicIDs[tp.topic])
        }
        return result
    }
}
