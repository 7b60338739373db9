import SluiceBroker
import SluiceCore
import SluiceKit

/// What a task whose sink stores its own offsets keeps between batches.
struct ExactlyOnceState {
    /// Per owned partition, the reset marker the sink's stored position follows.
    var resetMarkers: [TopicPartition: Int64] = [:]
    /// Records already in the dead-letter topic from attempts that were not committed (found there at
    /// assignment, or stored by an attempt that was retried): not dead-lettered again. Each with where
    /// its letter lies, at the latest, in each partition of the dead-letter topic: a position stored
    /// while letters for later records are pending keeps ends no further than those (`positions(after:)`),
    /// or a task that claims the partition next would scan past them and dead-letter the records again.
    var deadLettered: [TopicPartition: [Int64: [Int64]]] = [:]
    /// Per owned partition, what the sink holds as far as the task knows: what its claim read, then
    /// what each batch it committed stored. The next batch replaces exactly this (`stage`).
    var held: [TopicPartition: HeldPosition] = [:]
    /// Partitions whose group offset is behind the position the sink holds: committed to the broker
    /// before the next batch.
    var brokerBehind: [TopicPartition: Int64] = [:]
    /// Each topic's id when its partitions were assigned, stored with the positions.
    var topicIDs: [String: String] = [:]
    /// Per owned partition, the token of the task's claim in the sink's `DeadLetterFence`.
    var fenceTokens: [TopicPartition: UInt64] = [:]

    /// A batch up to `next` is committed: what it dead-lettered is behind the stored positions.
    mutating func committed(_ next: [TopicPartition: Int64]) {
        for (tp, offset) in next {
            held[tp] = HeldPosition(offset: offset, resetAt: resetMarkers[tp])
            deadLettered[tp] = deadLettered[tp]?.filter { $0.key >= offset }
            if deadLettered[tp]?.isEmpty == true { deadLettered[tp] = nil }
        }
    }
}

/// Orders the dead letters of one sink's tasks against their claims, within the process (one process
/// holds a data directory, so every writer of the dead-letter topic is here). A task that claims
/// partitions reads the dead-letter topic for the letters of earlier owners under the fence's lock,
/// and a task writes dead letters under it only while its claim is the latest: an earlier owner whose
/// transaction was lost (the database restarted) after its claim was checked can no longer add a
/// letter the new owner has not seen.
final class DeadLetterFence: Sendable {
    private let state = Locked<(next: UInt64, owners: [TopicPartition: UInt64])>((1, [:]))

    /// Makes a new claim of `partitions` the latest and runs `body` (the scan) before any other task
    /// can write dead letters; returns the claim's token.
    func claim(_ partitions: some Sequence<TopicPartition>, _ body: () throws -> Void) throws -> UInt64 {
        try state.withLock { state in
            let token = state.next
            state.next += 1
            for tp in partitions { state.owners[tp] = token }
            try body()
            return token
        }
    }

    /// Runs `body` (the scan of a rewind) while no task writes dead letters.
    func reading(_ body: () throws -> Void) throws {
        try state.withLock { _ in try body() }
    }

    /// Runs `body` (writing dead letters) if every partition's latest claim is the one in `tokens`;
    /// returns false without running it otherwise.
    func writing(_ partitions: Set<TopicPartition>, tokens: [TopicPartition: UInt64], _ body: () throws -> Void)
        throws -> Bool
    {
        try state.withLock { state in
            guard partitions.allSatisfy({ tp in tokens[tp] != nil && state.owners[tp] == tokens[tp] }) else {
                return false
            }
            try body()
            return true
        }
    }
}

/// What the positions a sink holds say of a batch whose delivery failed.
enum BatchOutcome {
    /// Its positions are stored: it was committed before the failure.
    case committed
    /// The sink holds what it held before the batch: deliver it again.
    case notCommitted
    /// The sink holds less than was committed to it: deliver again from these positions.
    case rewound([TopicPartition: StoredPosition])
    /// Someone else moved the positions (a task that claimed the partitions since): drop the batch.
    case movedByAnother
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
        _ sink: any OffsetStoringSink, starts: [TopicPartition: Int64], consumer: any GroupReader
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
        for tp in starts.keys { exactlyOnce.held[tp] = HeldPosition(stored[tp]) }
        let token = try deadLetterFence.claim(starts.keys) {
            try findDeadLetters(from: scanFrom, continuing: continuing)
        }
        for tp in starts.keys { exactlyOnce.fenceTokens[tp] = token }
    }

    /// Reads the partitions again from the positions the sink holds, and finds the dead letters stored
    /// after them.
    func rewindTo(_ positions: [TopicPartition: StoredPosition], consumer: any GroupReader) throws {
        var scanFrom: [Int32: Int64] = [:]
        for (tp, position) in positions.sorted(by: { $0.key < $1.key }) {
            consumer.seek(tp, to: position.offset)
            exactlyOnce.held[tp] = HeldPosition(position)
            exactlyOnce.deadLettered[tp] = nil
            for (partition, end) in position.deadLetterEnds.enumerated() {
                scanFrom[Int32(partition)] = min(scanFrom[Int32(partition)] ?? end, end)
            }
        }
        try deadLetterFence.reading { try findDeadLetters(from: scanFrom, continuing: positions.mapValues(\.offset)) }
    }

    /// What became of a batch ending at `next` whose delivery failed, by the positions the sink holds
    /// (read without claiming: the task may have lost the partitions meanwhile). A database that cannot
    /// be reached throws its transient error: the batch must not be written again before it is known
    /// not to be committed.
    func committedOutcome(_ sink: any OffsetStoringSink, next: [TopicPartition: Int64]) throws -> BatchOutcome {
        let stored = try sink.currentPositions(Set(next.keys))
        var lost: [TopicPartition: StoredPosition] = [:]
        var committed = true
        var untouched = true
        for (tp, end) in next {
            let now = HeldPosition(stored[tp])
            let known = exactlyOnce.held[tp] ?? HeldPosition(offset: nil, resetAt: nil)
            if now == HeldPosition(offset: end, resetAt: exactlyOnce.resetMarkers[tp]) {
                untouched = false
                continue
            }
            committed = false
            if now == known { continue }
            untouched = false
            if let position = stored[tp], let knownOffset = known.offset, position.offset < knownOffset {
                lost[tp] = position
            }
        }
        if !lost.isEmpty { return .rewound(lost) }
        if committed { return .committed }
        return untouched ? .notCommitted : .movedByAnother
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
                        "sink \"\(definition.name)\" could not read its stored offsets for \(elapsed / 1000) s: \(error.message)",
                        transient: true)
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
        guard !scanFrom.isEmpty, broker.topicConfig(topic) != nil else { return }
        let count = try broker.partitionCount(topic)
        for (partition, from) in scanFrom where partition < count {
            try broker.forEachBlock(TopicPartition(topic, partition), from: from) { block in
                for index in 0..<block.count {
                    guard let topicName = block.headerValue(index, named: SluiceHeader.originalTopic),
                        let partitionText = block.headerValue(index, named: SluiceHeader.originalPartition),
                        let offsetText = block.headerValue(index, named: SluiceHeader.originalOffset),
                        let original = Int32(String(decoding: partitionText, as: UTF8.self)),
                        let offset = Int64(String(decoding: offsetText, as: UTF8.self))
                    else { continue }
                    let tp = TopicPartition(String(decoding: topicName, as: UTF8.self), original)
                    guard let from = continuing[tp], offset >= from else { continue }
                    var lies = [Int64](repeating: .max, count: Int(count))
                    lies[Int(partition)] = block.entries[index].offset
                    exactlyOnce.deadLettered[tp, default: [:]][offset] = lies
                }
                return true
            }
        }
    }

    /// Dead-letters the failures not already in the dead-letter topic from an earlier attempt, while the
    /// task's claims are the latest; returns false (writing nothing) when another task claimed one of the
    /// partitions since.
    func deadLetterOnce(_ failures: [RecordFailure], _ batch: SinkBatch, _ producer: any RecordSender) throws -> Bool {
        let fresh = failures.filter { exactlyOnce.deadLettered[$0.topicPartition]?[$0.offset] == nil }
        guard !fresh.isEmpty else { return true }
        let before = try deadLetterEnds()
        let written = try deadLetterFence.writing(
            Set(fresh.map(\.topicPartition)), tokens: exactlyOnce.fenceTokens
        ) {
            try deadLetter(fresh, batch, producer)
        }
        guard written else { return false }
        for failure in fresh { exactlyOnce.deadLettered[failure.topicPartition, default: [:]][failure.offset] = before }
        return true
    }

    /// The end offset of each partition of the sink's dead-letter topic.
    func deadLetterEnds() throws -> [Int64] {
        let topic = definition.deadLetterTopic
        var ends: [Int64] = []
        if broker.topicConfig(topic) != nil {
            for partition in 0..<(try broker.partitionCount(topic)) {
                ends.append(try broker.offsets(TopicPartition(topic, partition)).end)
            }
        }
        return ends
    }

    /// The positions to store with a batch that ends at `next`: the dead-letter topic's ends now, or,
    /// per partition, where the first letter still pending for a record at or after `next` lies.
    func positions(after next: [TopicPartition: Int64]) throws -> [TopicPartition: StoredPosition] {
        let now = try deadLetterEnds()
        var result: [TopicPartition: StoredPosition] = [:]
        for (tp, offset) in next {
            var ends = now
            for (original, lies) in exactlyOnce.deadLettered[tp] ?? [:] where original >= offset {
                for (partition, lie) in lies.enumerated() where partition < ends.count {
                    ends[partition] = min(ends[partition], lie)
                }
            }
            result[tp] = StoredPosition(
                offset: offset, resetAt: exactlyOnce.resetMarkers[tp], deadLetterEnds: ends,
                topicID: exactlyOnce.topicIDs[tp.topic])
        }
        return result
    }
}
