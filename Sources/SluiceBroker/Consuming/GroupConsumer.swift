import Logging
import SluiceCore
import SluiceLog

/// A member of a consumer group: joins, polls batches of records from the partitions it owns, and
/// commits offsets, as a Kafka consumer does.
///
/// Used by one thread; `poll` blocks up to its timeout. Each poll heartbeats: the member learns which
/// partitions it gained (it starts them at the committed offset, or at `earliest`/`latest` without
/// one) and which it must give up (`onPartitionsRevoked` runs, then they are released). Between
/// polls a member still owns what it was asked to revoke, so it can commit the batch it is working
/// on; a commit refused for an old generation is retried in the newest generation.
public final class GroupConsumer {
    /// Where a member starts a partition that has no committed offset.
    public enum OffsetReset: String, Sendable, CaseIterable {
        case earliest
        case latest
    }

    public struct Options: Sendable {
        public var group: String
        public var topics: [String]
        public var strategy: AssignmentStrategy = .range
        public var autoOffsetReset: OffsetReset = .earliest
        /// How long the group waits for a sign of life; a background thread heartbeats every second or
        /// so (a third of this when shorter), so a long write does not cost the member its partitions.
        public var sessionTimeoutMs: Int64 = 45_000
        /// How long the group waits for the next poll, as Kafka's `max.poll.interval.ms`: a member stuck
        /// longer than this in one batch is evicted, and its batch is not committed.
        public var maxPollIntervalMs: Int64 = 300_000
        /// Stable member id; a random one when nil.
        public var memberId: String?
        /// The most records and bytes a read-ahead takes; nil: as many as the poll that starts it asked
        /// for. Set them to the largest poll a caller makes, so that a small poll (the rest of a batch)
        /// does not leave only a small read-ahead for the next one; a poll that takes less than was read
        /// ahead leaves the rest to be read again.
        public var fetchMaxRecords: Int?
        public var fetchMaxBytes: Int?

        public init(group: String, topics: [String]) {
            self.group = group
            self.topics = topics
        }
    }

    public let broker: Broker
    public let options: Options
    public let memberId: String
    public private(set) var generation: Int32 = 0
    /// The partitions this member owns now.
    public private(set) var assignment: Set<TopicPartition> = []
    /// Called with partitions the member has gained and the offsets it will read them from, before
    /// records are read from them. An error it throws comes out of `poll`.
    public var onPartitionsAssigned: (([TopicPartition: Int64]) throws -> Void)?
    /// Called with partitions the member must give up, before they are released. An error it throws
    /// comes out of `poll` (the partitions are released all the same).
    public var onPartitionsRevoked: ((Set<TopicPartition>) throws -> Void)?
    private var positions: [TopicPartition: Int64] = [:]
    private var pendingRevoke: Set<TopicPartition> = []
    private var pendingGain: Set<TopicPartition> = []
    private var cursor = 0
    private var closed = false
    private var prefetch: Locked<Prefetched>?
    /// The bytes a record took in the last read that found some, batch overhead included; 0 before.
    private var recordBytes = 0
    /// The thread read-aheads run on, started with the first.
    private var prefetcher: SerialWorker?
    /// How many times the member found it had been evicted and joined again.
    private var rejoins = 0
    private let heartbeatStop = ChangeSignal()
    private var heartbeatThread: WorkerThread?

    /// Joins the group and starts the background heartbeat.
    public init(broker: Broker, options: Options) throws {
        guard !options.group.isEmpty else { throw BrokerError(.invalidConfig, "a consumer group name cannot be empty") }
        self.broker = broker
        self.options = options
        memberId = options.memberId ?? "\(options.group)-\(UInt32.random(in: 0...UInt32.max))"
        try join()
        let (coordinator, group, member, stop) = (broker.coordinator, options.group, memberId, heartbeatStop)
        let interval = Int(max(10, min(1_000, options.sessionTimeoutMs / 3)))
        // Read before the thread starts: a close that comes before the thread runs must still end it.
        let initial = stop.current
        heartbeatThread = WorkerThread(name: "heartbeat-\(memberId)") {
            var seen = initial
            while true {
                let now = stop.wait(since: seen, timeoutMillis: interval)
                if now != seen { return }
                seen = now
                _ = coordinator.keepAlive(group: group, member: member)
            }
        }
    }

    deinit {
        close()
    }

    private func join() throws {
        var counts: [String: Int32] = [:]
        for topic in options.topics { counts[topic] = try broker.partitionCount(topic) }
        let view = broker.coordinator.join(
            group: options.group,
            member: memberId,
            topics: options.topics,
            strategy: options.strategy,
            sessionTimeoutMs: options.sessionTimeoutMs,
            maxPollIntervalMs: options.maxPollIntervalMs,
            partitionCounts: counts
        )
        apply(view)
    }

    private func apply(_ view: ConsumerGroupState.MemberView) {
        generation = view.generation
        assignment = view.owned
        pendingGain.formUnion(view.gained)
        pendingRevoke = view.revoke
    }

    /// Heartbeats and learns the current generation and ownership, without giving anything up.
    public func heartbeat() throws {
        guard let view = broker.coordinator.heartbeat(group: options.group, member: memberId) else {
            broker.logger.warning(
                "consumer was evicted from its group; joining again", metadata: ["group": "\(options.group)"])
            positions.removeAll()
            pendingGain.removeAll()
            discardPrefetch()
            let lost = assignment
            assignment = []
            rejoins += 1
            try join()
            if !lost.isEmpty { try onPartitionsRevoked?(lost) }
            return
        }
        apply(view)
    }

    /// Heartbeats, gives up revoked partitions and starts gained ones.
    private func rebalanceIfNeeded() throws {
        try heartbeat()
        if !pendingRevoke.isEmpty {
            let revoked = pendingRevoke
            pendingRevoke = []
            defer {
                broker.coordinator.release(group: options.group, member: memberId, partitions: revoked)
                for tp in revoked { positions[tp] = nil }
                assignment.subtract(revoked)
                pendingGain.subtract(revoked)
            }
            broker.logger.debug(
                "giving up partitions", metadata: ["member": "\(memberId)", "partitions": "\(revoked.sorted())"])
            try onPartitionsRevoked?(revoked)
        }
        if !pendingGain.isEmpty {
            let gained = pendingGain
            pendingGain = []
            let committed = broker.committedOffsets(options.group)
            var starts: [TopicPartition: Int64] = [:]
            for tp in gained {
                let start = try committed[tp] ?? resetOffset(tp)
                let end = try broker.offsets(tp).end
                if start > end {
                    // The log lost records the group had consumed and committed: new records would get
                    // their offsets, and a sink would take its own output from them for leftovers.
                    throw BrokerError(
                        .offsetOutOfRange,
                        "group \"\(options.group)\" committed offset \(start) on partition \(tp), but the "
                            + "partition ends at \(end): records the group had consumed are gone from "
                            + "\(broker.partitionDirectory(tp)). Nothing was read or changed. Restore the "
                            + "folder from a backup, or, to go on from what is there, set the group's offset with "
                            + "`sluice groups reset-offsets --group \(options.group) --topic \(tp.topic) --to-latest "
                            + "--execute`")
                }
                positions[tp] = start
                starts[tp] = start
            }
            broker.logger.debug("taking partitions", metadata: ["member": "\(memberId)", "starts": "\(starts)"])
            try onPartitionsAssigned?(starts)
        }
    }

    private func resetOffset(_ tp: TopicPartition) throws -> Int64 {
        let (start, end) = try broker.offsets(tp)
        return options.autoOffsetReset == .earliest ? start : end
    }

    /// The next offset this member will read from `tp`.
    public func position(_ tp: TopicPartition) -> Int64? {
        positions[tp]
    }

    /// Moves the read position of an owned partition.
    public func seek(_ tp: TopicPartition, to offset: Int64) {
        guard assignment.contains(tp) else { return }
        discardPrefetch()
        positions[tp] = offset
    }

    /// Returns up to `maxRecords` records and about `maxBytes` bytes from owned partitions, waiting up to
    /// `timeoutMillis` for some to arrive. Partitions take turns being read first. A wait also ends when
    /// `interrupted` holds once `broker.appended` moves, as Kafka's `wakeup()` ends a poll: another
    /// thread makes it hold, then notifies the signal.
    public func poll(
        maxRecords: Int,
        maxBytes: Int,
        timeoutMillis: Int,
        interrupted: () -> Bool = { false }
    ) throws -> [PartitionRecords] {
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        while true {
            let seen = broker.appended.current
            try rebalanceIfNeeded()
            // A read-ahead under way is waited for (it notifies `appended` when done), not read again.
            var fetched: [PartitionRecords] = []
            if let result = prefetch, result.withLock({ $0.done }) {
                fetched = try takePrefetched(maxRecords: maxRecords)
            }
            if fetched.isEmpty && prefetch == nil { fetched = try fetch(maxRecords: maxRecords, maxBytes: maxBytes) }
            if !fetched.isEmpty {
                startPrefetch(
                    maxRecords: max(maxRecords, options.fetchMaxRecords ?? 0),
                    maxBytes: max(maxBytes, options.fetchMaxBytes ?? 0))
                return fetched
            }
            let now = Time.monotonicNanos()
            guard now < deadline, !interrupted() else { return [] }
            let wait = min(Int((deadline - now) / 1_000_000) + 1, 1000)
            broker.appended.wait(since: seen, timeoutMillis: wait)
        }
    }

    /// What one read of the owned partitions found, and where each partition continues.
    struct Fetch: @unchecked Sendable {
        var records: [PartitionRecords] = []
        /// The position each read partition had when the read started, and where it continues.
        var from: [TopicPartition: Int64] = [:]
        var next: [TopicPartition: Int64] = [:]
        /// The bytes and records read, the records left out included, for `recordBytes`.
        var bytesRead = 0
        var recordsRead = 0
    }

    /// Reads from `plan` (partitions in turn, each from its position) up to the limits. Touches no state
    /// of the consumer, so that it can run on another thread; a read before a partition's start throws.
    /// `recordBytes` is what a record took in earlier reads (0 when unknown): a read limited by records
    /// reads about that many bytes per record, not the whole of `maxBytes` only to keep part of it.
    static func read(
        _ broker: Broker, _ plan: [(TopicPartition, Int64)], maxRecords: Int, maxBytes: Int, recordBytes: Int
    ) throws -> Fetch {
        var fetch = Fetch()
        var bytesLeft = maxBytes
        var recordsLeft = maxRecords
        // Each partition gets a fair share of a fetch, of its bytes as Kafka's max.partition.fetch.bytes
        // gives it and of its records: a batch then covers the same stretch of every partition instead
        // of a long run of one (a sink that sorts a batch by key then sees batches that barely overlap).
        // What one partition leaves of its share of records goes to those after it.
        let share = max(maxBytes / max(plan.count, 1), 64 << 10)
        for (k, (tp, position)) in plan.enumerated() {
            guard bytesLeft > 0 && recordsLeft > 0 else { break }
            let limit = (recordsLeft + plan.count - k - 1) / (plan.count - k)
            var bytes = min(bytesLeft, share)
            if recordBytes > 0 { bytes = min(bytes, limit * recordBytes + limit * recordBytes / 8 + (64 << 10)) }
            var block = try broker.readRecords(tp, from: position, maxBytes: bytes)
            fetch.bytesRead += block.bytes.count
            fetch.recordsRead += block.count
            // All of the batches read, control batches included, unless some records stay for later.
            var readUpTo = block.batchesEnd
            if block.count > limit {
                block.entries.removeLast(block.count - limit)
                readUpTo = nil
            }
            let chunk = PartitionRecords(topicPartition: tp, records: block, readUpTo: readUpTo)
            guard let next = chunk.nextOffset, next > position else { continue }
            fetch.from[tp] = position
            fetch.next[tp] = next
            bytesLeft -= block.bytes.count
            recordsLeft -= block.count
            fetch.records.append(chunk)
        }
        return fetch
    }

    /// Keeps what a record took in the reads of `fetch`, when they found any.
    private func learnRecordBytes(_ fetch: Fetch) {
        if fetch.recordsRead > 0 { recordBytes = max(1, fetch.bytesRead / fetch.recordsRead) }
    }

    /// The owned partitions in the order to read them this time (they take turns being first).
    private func plan() -> [(TopicPartition, Int64)] {
        let owned = assignment.sorted()
        guard !owned.isEmpty else { return [] }
        cursor = (cursor + 1) % owned.count
        return (0..<owned.count).compactMap { step in
            let tp = owned[(cursor + step) % owned.count]
            return positions[tp].map { (tp, $0) }
        }
    }

    private func fetch(maxRecords: Int, maxBytes: Int) throws -> [PartitionRecords] {
        while true {
            do {
                let fetch = try Self.read(
                    broker, plan(), maxRecords: maxRecords, maxBytes: maxBytes, recordBytes: recordBytes)
                learnRecordBytes(fetch)
                for (tp, next) in fetch.next { positions[tp] = next }
                return fetch.records
            } catch let error as BrokerError where error.code == .offsetOutOfRange {
                // A committed offset whose records retention deleted: start those partitions over.
                for (tp, position) in positions {
                    let start = try broker.offsets(tp).start
                    guard position < start else { continue }
                    let reset = try resetOffset(tp)
                    broker.logger.warning(
                        "committed offset is no longer stored; starting over",
                        metadata: ["partition": "\(tp)", "offset": "\(position)", "reset_to": "\(reset)"]
                    )
                    positions[tp] = reset
                }
            }
        }
    }

    // MARK: Prefetching

    /// What a read-ahead found, once it is done (nothing when it failed: the records are read again).
    struct Prefetched: Sendable {
        var done = false
        var fetch: Fetch?
    }

    /// Starts reading the next records on another thread while the caller works on these, as Kafka's
    /// fetcher does. The next `poll` uses them when nothing moved in between.
    private func startPrefetch(maxRecords: Int, maxBytes: Int) {
        discardPrefetch()
        let plan = plan()
        guard !plan.isEmpty else { return }
        let box = Locked(Prefetched())
        let broker = broker
        let transfer = Transfer(plan)
        let recordBytes = recordBytes
        let worker = prefetcher ?? SerialWorker(name: "prefetch-\(memberId)")
        prefetcher = worker
        worker.submit {
            defer {
                box.withLock { $0.done = true }
                broker.appended.notify()
            }
            // A read that fails leaves nothing: the records are read again by the poll.
            let fetch = try? Self.read(
                broker, transfer.value, maxRecords: maxRecords, maxBytes: maxBytes, recordBytes: recordBytes)
            box.withLock { $0.fetch = fetch }
        }
        prefetch = box
    }

    /// The prefetched records, when their partitions are still owned and still at the positions the
    /// prefetch started from; otherwise nothing (the records are read again).
    private func takePrefetched(maxRecords: Int) throws -> [PartitionRecords] {
        guard let box = prefetch else { return [] }
        prefetch = nil
        waitUntilDone(box)
        guard var fetch = box.withLock({ $0.fetch }) else { return [] }
        learnRecordBytes(fetch)
        for (tp, from) in fetch.from where positions[tp] != from || !assignment.contains(tp) { return [] }
        var left = maxRecords
        for i in fetch.records.indices {
            let tp = fetch.records[i].topicPartition
            if left <= 0 {
                fetch.records[i].records.entries.removeAll()
                fetch.records[i].readUpTo = nil
            } else if fetch.records[i].records.count > left {
                fetch.records[i].records.entries.removeLast(fetch.records[i].records.count - left)
                fetch.records[i].readUpTo = nil
            }
            left -= fetch.records[i].records.count
            if let next = fetch.records[i].nextOffset { positions[tp] = next }
        }
        return fetch.records.filter { $0.nextOffset != nil }
    }

    private func discardPrefetch() {
        if let box = prefetch { waitUntilDone(box) }
        prefetch = nil
    }

    /// Waits for a read-ahead to end (it notifies `appended` when it does).
    private func waitUntilDone(_ box: Locked<Prefetched>) {
        while true {
            let seen = broker.appended.current
            if box.withLock({ $0.done }) { return }
            broker.appended.wait(since: seen, timeoutMillis: 100)
        }
    }

    /// Moves each time the member learns it was evicted and joins again. A batch polled before it moved
    /// belongs to a membership that was fenced.
    public var membershipEpoch: Int { rejoins }

    /// Whether the member is still in its group and owns `partitions`: false once it was evicted (its
    /// session or poll interval ran out), even before it learns so on its next poll. A caller that has
    /// been busy with a batch checks this before making the batch durable.
    public func owns(_ partitions: Set<TopicPartition>) -> Bool {
        broker.coordinator.owns(group: options.group, member: memberId, partitions: partitions)
    }

    /// Commits `offsets` (the next offset to read, per partition) for this member. A commit refused
    /// because the group moved to a new generation is retried in the newest one for the partitions the
    /// member still owns; partitions it no longer owns throw `notOwner`. A member that was evicted is
    /// fenced: its commit throws `unknownMember`, even when it joins again and gets the partitions back,
    /// because another member may have delivered them in the meantime.
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        let rejoinsBefore = rejoins
        // Each refusal means the group moved on between the heartbeat and the commit (members joining or
        // leaving one after another, as at the start and end of a run); the next try is in the newest
        // generation. The bound only guards against a group that never settles.
        for attempt in 1... {
            do {
                try broker.coordinator.commit(
                    group: options.group, member: memberId, generation: generation, offsets: offsets)
                return
            } catch let error as BrokerError where error.code == .staleGeneration && attempt < 100 {
                try heartbeat()
                guard rejoins == rejoinsBefore else {
                    throw BrokerError(
                        .unknownMember,
                        "member \(memberId) was evicted from group \"\(options.group)\" before it committed; "
                            + "its batch is not committed and will be delivered again")
                }
            }
        }
    }

    /// Leaves the group; its partitions go to the other members at once.
    public func close() {
        guard !closed else { return }
        closed = true
        heartbeatStop.notify()
        heartbeatThread?.join()
        discardPrefetch()
        prefetcher?.stop()
        prefetcher = nil
        broker.coordinator.leave(group: options.group, member: memberId)
    }
}
